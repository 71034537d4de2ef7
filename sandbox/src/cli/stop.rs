//! `sandbox stop POD [CONTAINER...] [-t SECS] [--json]`: stop a pod, or some of its
//! containers, and print what happened to each process.

use std::time::Duration;

use sandbox::{Host, Result, StopReport};

/// `stop`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Pod name.
    pub name: String,
    /// Stop only these containers (with the same policy); the pod and its other containers
    /// keep running.
    pub containers: Vec<String>,
    /// Grace period in seconds, one for all the containers stopped: from the start of the stop
    /// (preStop hooks count against it) to SIGKILL. Given, it is exact (0: SIGKILL at once, no
    /// hooks; a container whose hook ran still gets 2 s after its stop signal) [default: the
    /// pod's, from `create --grace-period` or its manifest's terminationGracePeriodSeconds,
    /// else 30, applied as the kubelet does: at least 1 s, and at least 2 s from any stop
    /// signal to SIGKILL]
    #[arg(
        short = 't',
        long = "timeout",
        value_name = "SECS",
        value_parser = super::parse_grace,
        allow_negative_numbers = true
    )]
    pub timeout: Option<Duration>,
    /// Print the report as a JSON object: containers, execs, other_processes.
    #[arg(long)]
    pub json: bool,
}

pub fn run(host: &Host, args: Args) -> Result<u8> {
    let report = if args.containers.is_empty() {
        host.stop_pod(&args.name, args.timeout)?
    } else {
        host.stop_containers(&args.name, &args.containers, args.timeout)?
    };
    if args.json {
        super::print_json(&report)?;
    } else {
        print_report(&report);
    }
    Ok(0)
}

/// Prints a stop report: each container (its preStop hook, then how it ended), the `exec`
/// sessions and other processes ended.
pub fn print_report(report: &StopReport) {
    let name_width = report
        .containers
        .iter()
        .map(|r| r.name.len())
        .max()
        .unwrap_or(0);
    for container in &report.containers {
        if let Some(hook) = &container.pre_stop {
            let code = hook
                .exit_code
                .map(|code| format!(", exit {code}"))
                .unwrap_or_default();
            println!(
                "{:name_width$}  preStop {}: {}{code}  {:9.1} ms",
                container.name, hook.hook, hook.outcome, hook.elapsed_ms
            );
            if let Some(message) = &hook.message {
                println!("{:name_width$}  ({message})", "");
            }
        }
        let code = container
            .exit_code
            .map_or("?".to_owned(), |code| code.to_string());
        let signal = container
            .signal
            .as_deref()
            .map(|s| format!(" ({s})"))
            .unwrap_or_default();
        println!(
            "{:name_width$}  exit {code:>3}{signal:10}  {:42}  {:9.1} ms",
            container.name,
            container.ended.to_string(),
            container.elapsed_ms,
        );
        if let Some(reason) = &container.reason {
            println!(
                "{:name_width$}  ({reason}: the kernel's OOM killer ended it)",
                ""
            );
        }
        if let Some(note) = &container.note {
            println!("{:name_width$}  ({note})", "");
        }
    }
    for exec in &report.execs {
        println!(
            "exec session {} ({}): ended with {}",
            exec.pid,
            exec.command.join(" "),
            exec.signal
        );
    }
    let others = &report.other_processes;
    if let Some(signal) = &others.signal {
        let noun = if others.count == 1 {
            "process"
        } else {
            "processes"
        };
        println!(
            "{} other {noun} left in the pod (orphans: no container or exec session): ended with {signal}",
            others.count
        );
    }
}
