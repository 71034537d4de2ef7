//! `sandbox stats [POD...] [--json] [--no-stream]`: a table of what pods use, refreshed every
//! second until interrupted, like `podman pod stats`. CPU % is the CPU time the pod used over
//! the wall-clock time between two readings (100% is one CPU), so even `--no-stream` reads
//! twice, a second apart, as `docker stats --no-stream` does.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sandbox::{Host, PodStats, Result};
use serde::Serialize;

/// `stats`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Pods to show [default: every pod].
    pub pods: Vec<String>,
    /// Print a JSON array per reading instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Print one reading and exit.
    #[arg(long)]
    pub no_stream: bool,
}

/// How often the figures are read.
const INTERVAL: Duration = Duration::from_secs(1);

/// One pod's line.
#[derive(Debug, Serialize)]
struct Line {
    pod: String,
    state: &'static str,
    /// CPU time used over the interval, in percent of one CPU.
    cpu_percent: Option<f64>,
    cpu_usec: Option<u64>,
    memory_bytes: Option<u64>,
    memory_limit_bytes: Option<u64>,
    memory_percent: Option<f64>,
    memory_peak_bytes: Option<u64>,
    pids: Option<u64>,
    pids_limit: Option<u64>,
    oom_kills: u64,
}

pub fn run(host: &Host, args: Args) -> Result<u8> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [libc::SIGINT, libc::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop)).map_err(|source| {
            sandbox::Error::Io {
                what: "handling SIGINT and SIGTERM to end `stats`".to_owned(),
                source,
            }
        })?;
    }
    let clear = !args.json && !args.no_stream && std::io::stdout().is_terminal();
    let mut before = host.pod_stats(&args.pods)?;
    loop {
        std::thread::sleep(INTERVAL);
        if stop.load(Ordering::Relaxed) {
            return Ok(0);
        }
        let now = host.pod_stats(&args.pods)?;
        let lines: Vec<Line> = now.iter().map(|pod| line(pod, &before)).collect();
        if args.json {
            super::print_json(&lines)?;
        } else {
            if clear {
                print!("\x1b[2J\x1b[H");
            }
            print_table(&lines);
        }
        if args.no_stream || stop.load(Ordering::Relaxed) {
            return Ok(0);
        }
        before = now;
    }
}

fn line(pod: &PodStats, before: &[PodStats]) -> Line {
    let earlier = before.iter().find(|b| b.name == pod.name);
    let cpu_percent = earlier.and_then(|earlier| {
        let used = pod.usage.cpu_usec?.checked_sub(earlier.usage.cpu_usec?)?;
        let wall = pod
            .sampled_at
            .duration_since(earlier.sampled_at)
            .as_micros();
        (wall > 0).then(|| used as f64 * 100.0 / wall as f64)
    });
    let memory_percent = pod
        .usage
        .memory_bytes
        .zip(pod.limits.memory_bytes)
        .map(|(used, limit)| used as f64 * 100.0 / limit as f64);
    Line {
        pod: pod.name.clone(),
        state: pod.state.as_str(),
        cpu_percent,
        cpu_usec: pod.usage.cpu_usec,
        memory_bytes: pod.usage.memory_bytes,
        memory_limit_bytes: pod.limits.memory_bytes,
        memory_percent,
        memory_peak_bytes: pod.usage.memory_peak_bytes,
        pids: pod.usage.pids,
        pids_limit: pod.limits.pids,
        oom_kills: pod.usage.oom_kills,
    }
}

fn print_table(lines: &[Line]) {
    let width = lines.iter().map(|l| l.pod.len()).max().unwrap_or(0).max(3);
    println!(
        "{:width$}  {:8}  {:>7}  {:>21}  {:>6}  {:>5}",
        "POD", "STATE", "CPU %", "MEM USAGE / LIMIT", "MEM %", "PIDS"
    );
    let or_dash = |value: Option<String>| value.unwrap_or_else(|| "-".to_owned());
    for line in lines {
        let memory = format!(
            "{} / {}",
            or_dash(line.memory_bytes.map(bytes)),
            line.memory_limit_bytes.map_or("-".to_owned(), bytes)
        );
        println!(
            "{:width$}  {:8}  {:>7}  {:>21}  {:>6}  {:>5}",
            line.pod,
            line.state,
            or_dash(line.cpu_percent.map(|p| format!("{p:.2}%"))),
            memory,
            or_dash(line.memory_percent.map(|p| format!("{p:.2}%"))),
            or_dash(line.pids.map(|p| p.to_string())),
        );
    }
}

/// Bytes with a binary unit (`32.0MiB`), as podman prints memory.
fn bytes(value: u64) -> String {
    super::scaled(value, 1024.0, &["B", "KiB", "MiB", "GiB", "TiB"], "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_podmans() {
        assert_eq!(bytes(512), "512B");
        assert_eq!(bytes(33_554_432), "32.0MiB");
        assert_eq!(bytes(1_610_612_736), "1.5GiB");
    }
}
