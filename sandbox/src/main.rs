//! `sandbox`: parses the command line, calls the library, prints the result. Every failure of
//! sandbox itself prints one line, the error chain, and exits 125.

mod cli;
mod logger;

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use sandbox::{CommandSpec, Error, Host, Result, error_chain};

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return if error.use_stderr() {
                ExitCode::from(125)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    logger::init(match cli.verbose {
        0 => log::LevelFilter::Warn,
        1 => log::LevelFilter::Debug,
        _ => log::LevelFilter::Trace,
    });
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("sandbox: {}", error_chain(&error));
            ExitCode::from(error.exit_code())
        }
    }
}

fn run(cli: Cli) -> Result<u8> {
    let pause = sandbox::host::locate_pause(cli.pause)?;
    let host = Host::new(cli.root, pause, sandbox::host::DEFAULT_NETNS_DIR.into())?;
    match cli.command {
        Command::Create(args) => {
            let status = host.create_pod(&sandbox::CreateOptions {
                name: args.name,
                hostname: args.hostname,
                share_pid: args.share_pid,
            })?;
            println!("{}", status.name);
            Ok(0)
        }
        Command::Inspect(args) => {
            print_json(&host.inspect_pod(&args.name)?)?;
            Ok(0)
        }
        Command::Ps(args) => {
            let pods = host.list_pods()?;
            if args.json {
                print_json(&pods)?;
            } else {
                print_pod_table(&pods);
            }
            Ok(0)
        }
        Command::Exec(args) => {
            let command = command_spec(args.process)?;
            // Caught before the command starts: a signal arriving before the handlers were in
            // place would kill this CLI by its default action and orphan the command.
            let signals = forwarded_signals()?;
            let child = host.exec(&args.name, &command)?;
            wait_forwarding_signals(child, signals)
        }
        Command::Run(args) => {
            let stop_signal = sandbox::exit::parse_signal(&args.stop_signal)?;
            let status = host.run_container(
                &args.pod,
                &sandbox::RunOptions {
                    name: args.name,
                    command: command_spec(args.process)?,
                    stop_signal,
                },
            )?;
            println!("{}", status.name);
            Ok(0)
        }
        Command::Wait(args) => {
            let exit = host.wait_container(&args.pod, &args.name)?;
            Ok(exit.exit_code.clamp(0, 255) as u8)
        }
        Command::Logs(args) => {
            host.container_logs(
                &args.container.pod,
                &args.container.name,
                args.follow,
                &mut std::io::stdout().lock(),
                &mut std::io::stderr().lock(),
            )?;
            Ok(0)
        }
        Command::Stop(args) => {
            if !args.timeout.is_finite() || args.timeout < 0.0 {
                return Err(Error::InvalidInput {
                    what: "timeout",
                    value: args.timeout.to_string(),
                    reason: "must be a number of seconds, 0 or more".to_owned(),
                });
            }
            let reports = host.stop_pod(&args.name, Duration::from_secs_f64(args.timeout))?;
            if args.json {
                print_json(&reports)?;
            } else {
                print_stop_reports(&reports);
            }
            Ok(0)
        }
        Command::Rm(args) => {
            host.remove_pod(&args.name, args.force)?;
            Ok(0)
        }
    }
}

fn command_spec(process: cli::Process) -> Result<CommandSpec> {
    let mut env = Vec::new();
    for entry in &process.env {
        env.extend(sandbox::command::parse_env(entry)?);
    }
    Ok(CommandSpec {
        argv: process.command,
        env,
        workdir: process.workdir,
        user: process.user.as_deref().map(str::parse).transpose()?,
        no_new_privs: process.no_new_privileges,
    })
}

/// Catches the signals `exec` passes on to its command; those that arrive before the command
/// runs are kept and passed on once it does.
fn forwarded_signals() -> Result<signal_hook::iterator::Signals> {
    use signal_hook::consts::signal::*;
    let forwarded = [
        SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT,
    ];
    signal_hook::iterator::Signals::new(forwarded).map_err(|e| Error::Io {
        what: "installing signal handlers to forward signals to exec".to_owned(),
        source: e,
    })
}

/// Waits for an `exec` child (pause in init mode), passing on the signals a user or a script
/// sends us, and returns its exit code (128+n if it was killed by signal n).
fn wait_forwarding_signals(
    child: sandbox::process::PidFd,
    mut signals: signal_hook::iterator::Signals,
) -> Result<u8> {
    let pid = child.pid();
    let child = std::sync::Arc::new(child);
    let forwarder = std::sync::Arc::clone(&child);
    std::thread::spawn(move || {
        for signal in signals.forever() {
            if let Err(error) = forwarder.send_signal(signal) {
                log::warn!("{}", error_chain(&error));
            }
        }
    });
    loop {
        match nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None) {
            Ok(nix::sys::wait::WaitStatus::Exited(_, code)) => return Ok(code as u8),
            Ok(nix::sys::wait::WaitStatus::Signaled(_, signal, _)) => {
                return Ok(sandbox::exit::code_for_signal(signal as i32) as u8);
            }
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(errno) => {
                return Err(Error::Os {
                    what: format!("waiting for exec process {pid}"),
                    source: errno,
                });
            }
        }
    }
}

fn print_json<T: serde::Serialize>(value: &T) -> Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)
        .map_err(std::io::Error::from)
        .and_then(|()| writeln!(out))
        .map_err(|source| Error::Io {
            what: "writing JSON to stdout".to_owned(),
            source,
        })
}

fn print_pod_table(pods: &[sandbox::PodStatus]) {
    let name_width = pods.iter().map(|p| p.name.len()).max().unwrap_or(0).max(4);
    println!(
        "{:name_width$}  {:8}  {:>7}  {:>10}  CREATED",
        "NAME", "STATE", "PID", "CONTAINERS"
    );
    for pod in pods {
        let running = pod
            .containers
            .iter()
            .filter(|c| c.state == "running")
            .count();
        println!(
            "{:name_width$}  {:8}  {:>7}  {:>10}  {}",
            pod.name,
            pod.state,
            pod.pid.map_or("-".to_owned(), |pid| pid.to_string()),
            format!("{running}/{}", pod.containers.len()),
            pod.created_at,
        );
    }
}

fn print_stop_reports(reports: &[sandbox::StopReport]) {
    let name_width = reports.iter().map(|r| r.name.len()).max().unwrap_or(0);
    for report in reports {
        let code = report
            .exit_code
            .map_or("?".to_owned(), |code| code.to_string());
        let signal = report
            .signal
            .as_deref()
            .map(|s| format!(" ({s})"))
            .unwrap_or_default();
        println!(
            "{:name_width$}  exit {code:>3}{signal:10}  {:42}  {:9.1} ms",
            report.name,
            report.ended.to_string(),
            report.elapsed_ms,
        );
    }
}
