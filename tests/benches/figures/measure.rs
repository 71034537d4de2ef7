//! How the figures are taken: every command is timed the same way (spawn to exit, output
//! captured), measurements are interleaved round by round after a warm-up round, and a figure
//! is the median of its rounds. Also the checks that make a run trustworthy: release binaries
//! no older than their sources, and a first Ctrl-C turned into a clean-up.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

/// One line on stderr, so a user sees the benchmark working.
pub fn progress(message: &str) {
    eprintln!("bench: {message}");
}

/// Set by the first SIGINT or SIGTERM.
static INTERRUPTED: OnceLock<Arc<AtomicBool>> = OnceLock::new();

/// Turns the first SIGINT or SIGTERM into a flag that [`check_interrupted`] turns into a panic,
/// so the Drop guards clean up; a second one ends the process at once (exit 130).
pub fn catch_interrupts() {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let flag = INTERRUPTED.get_or_init(|| Arc::new(AtomicBool::new(false)));
    for signal in [SIGINT, SIGTERM] {
        // Registered first, so it sees the flag as the previous signal left it.
        signal_hook::flag::register_conditional_shutdown(signal, 130, Arc::clone(flag)).unwrap();
        signal_hook::flag::register(signal, Arc::clone(flag)).unwrap();
    }
}

/// Panics (which runs the cleanup of every guard alive) once the user asked to stop.
pub fn check_interrupted() {
    if INTERRUPTED
        .get()
        .is_some_and(|flag| flag.load(Ordering::Relaxed))
    {
        panic!("interrupted: cleaning up");
    }
}

/// The release binary `name` next to the benchmark (or at `PAUSE_BIN` / `SANDBOX_BIN`), refusing
/// a missing one or one older than its sources (`source_dir`, relative to the workspace): the
/// figures would describe some other program.
pub fn release_binary(name: &str, source_dir: &str) -> PathBuf {
    let hint = "build it with `cargo build --release --workspace` first";
    let env = format!("{}_BIN", name.to_uppercase());
    let path = match std::env::var_os(&env) {
        Some(path) => PathBuf::from(path),
        // The bench runs as target/<triple>/release/deps/figures-<hash>.
        None => std::env::current_exe()
            .unwrap()
            .ancestors()
            .nth(2)
            .unwrap()
            .join(name),
    };
    let built = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .unwrap_or_else(|e| panic!("{}: {e}: {hint}", path.display()));
    let sources = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(source_dir);
    let newest_source = std::fs::read_dir(&sources)
        .unwrap()
        .map(|entry| entry.unwrap().metadata().unwrap().modified().unwrap())
        .max()
        .unwrap_or(SystemTime::UNIX_EPOCH);
    assert!(
        built >= newest_source,
        "{} is older than its sources in {source_dir}: {hint}",
        path.display()
    );
    path
}

/// Runs `cmd` to completion (stdin empty, output captured) and returns how long it took, from
/// spawn to exit; panics with its output unless it succeeds. Every timed command, ours, the
/// floors' and the peers', goes through here, so they all pay the same spawn and wait.
pub fn time(cmd: &mut Command) -> Duration {
    time_output(cmd).0
}

/// [`time`] for a command that starts something detached: a detached OCI runtime hands its
/// stdio to the container, which would hold a captured pipe open, so stdin, stdout and stderr
/// are `/dev/null` (for both sides of a comparison: the same spawn and wait).
pub fn time_detached(cmd: &mut Command) -> Duration {
    check_interrupted();
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let start = Instant::now();
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    let took = start.elapsed();
    check_interrupted();
    assert!(status.success(), "{cmd:?} failed ({status})");
    took
}

/// [`time`], also returning what the command printed on stdout.
pub fn time_output(cmd: &mut Command) -> (Duration, String) {
    cmd.stdin(Stdio::null());
    let start = Instant::now();
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    let took = start.elapsed();
    // A Ctrl-C reaches the command too: say why it failed.
    check_interrupted();
    assert!(
        output.status.success(),
        "{cmd:?} failed ({})\n--- stdout ---\n{}\n--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (took, String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Runs every measurement of `measures` once per round, for one untimed warm-up round and then
/// `rounds` rounds, in alternating order (so a drift of the machine, or whatever the previous
/// command left in the caches, hits them all alike); returns the samples of each.
pub fn interleave<T>(rounds: usize, measures: &mut [&mut dyn FnMut() -> T]) -> Vec<Vec<T>> {
    let mut samples: Vec<Vec<T>> = measures.iter().map(|_| Vec::new()).collect();
    for round in 0..=rounds {
        check_interrupted();
        let mut order: Vec<usize> = (0..measures.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for i in order {
            let sample = measures[i]();
            if round > 0 {
                samples[i].push(sample);
            }
        }
    }
    samples
}

/// The median of `samples` (the upper one of the middle two for an even count).
pub fn median<T: Copy + PartialOrd>(mut samples: Vec<T>) -> T {
    samples.sort_unstable_by(|a, b| a.partial_cmp(b).unwrap());
    samples[samples.len() / 2]
}

/// Samples in milliseconds, for [`crate::Row::samples`].
pub fn millis_each(samples: &[Duration]) -> Vec<f64> {
    samples.iter().copied().map(millis).collect()
}

/// Milliseconds, for the table.
pub fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

/// `VmRSS` of `pid`, in kB.
pub fn rss_kb(pid: i32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let rss = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .unwrap_or_else(|| panic!("no VmRSS for process {pid}"));
    rss.trim().trim_end_matches("kB").trim().parse().unwrap()
}
