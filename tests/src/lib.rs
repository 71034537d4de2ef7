//! Harness for the black-box tests: finds the real binaries, insists on root, hands out unique
//! names and scratch directories, and waits on conditions with a deadline instead of sleeping.
//!
//! The binaries are found next to the test executable's directory (`target/<triple>/<profile>/`),
//! or at `PAUSE_BIN` / `SANDBOX_BIN`. `cargo test --workspace` does not build other members'
//! binaries, so the test command is `cargo build --workspace && cargo test --workspace`.

#![allow(clippy::unwrap_used)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Panics unless the tests run as root: they create real namespaces, mounts and processes.
/// A skipped test cannot fail, so a missing privilege is a failure, not a skip.
pub fn require_root() {
    if !nix::unistd::geteuid().is_root() {
        panic!("needs root: run as root (CI does)");
    }
}

/// The directory that holds the workspace's binaries for the profile the tests were built with.
fn target_profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/<triple>/<profile>/deps/integration-<hash>
    exe.parent().and_then(Path::parent).unwrap().to_path_buf()
}

fn find_binary(name: &str, env: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(env) {
        return PathBuf::from(path);
    }
    let path = target_profile_dir().join(name);
    if !path.is_file() {
        panic!(
            "{} not found: build it first with `cargo build --workspace` (or set {env})",
            path.display()
        );
    }
    path
}

/// The `pause` binary under test.
pub fn pause_bin() -> PathBuf {
    find_binary("pause", "PAUSE_BIN")
}

/// The `sandbox` binary under test.
pub fn sandbox_bin() -> PathBuf {
    find_binary("sandbox", "SANDBOX_BIN")
}

static NEXT_ID: AtomicUsize = AtomicUsize::new(0);

/// A name no other test of this run uses: `<prefix>-<pid>-<n>`.
pub fn unique_name(prefix: &str) -> String {
    let n = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{n}", std::process::id())
}

/// A scratch directory under the system temp dir, removed (best effort) on drop.
pub struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    /// Creates a new, empty, uniquely named directory.
    pub fn new(prefix: &str) -> ScratchDir {
        let path = std::env::temp_dir().join(unique_name(prefix));
        std::fs::create_dir_all(&path).unwrap();
        ScratchDir { path }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Polls `condition` until it returns true or `timeout` passes; returns whether it held.
/// Use it instead of fixed sleeps: the condition is checked every millisecond.
pub fn wait_until(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Whether a process with this PID exists and is not a zombie.
pub fn is_alive(pid: i32) -> bool {
    match procfs::process::Process::new(pid).and_then(|p| p.stat()) {
        Ok(stat) => stat.state != 'Z' && stat.state != 'X',
        Err(_) => false,
    }
}

/// PIDs of the zombie (`Z`) children of `parent`, read from `/proc`.
pub fn zombie_children(parent: i32) -> Vec<i32> {
    let Ok(all) = procfs::process::all_processes() else {
        return Vec::new();
    };
    all.filter_map(Result::ok)
        .filter_map(|p| p.stat().ok())
        .filter(|s| s.ppid == parent && s.state == 'Z')
        .map(|s| s.pid)
        .collect()
}

/// The inode of `/proc/<pid>/ns/<kind>` (the namespace's identity).
pub fn ns_inode_of_pid(pid: i32, kind: &str) -> u64 {
    inode_of(format!("/proc/{pid}/ns/{kind}"))
}

/// The inode of a path, following symlinks (`/proc/*/ns/*` and bind-mounted pins).
pub fn inode_of(path: impl AsRef<Path>) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path.as_ref())
        .unwrap_or_else(|e| panic!("stat {}: {e}", path.as_ref().display()))
        .ino()
}

/// Whether `path` is a mount point in this mount namespace (per `/proc/self/mountinfo`).
pub fn is_mounted(path: impl AsRef<Path>) -> bool {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let wanted = path.as_ref().to_string_lossy();
    mountinfo
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .any(|mount_point| mount_point == wanted)
}

/// Mount points in this mount namespace that contain `needle`.
pub fn mounts_containing(needle: &str) -> Vec<String> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    mountinfo
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .filter(|mount_point| mount_point.contains(needle))
        .map(str::to_owned)
        .collect()
}

/// The result of running a command to completion.
#[derive(Debug)]
pub struct Run {
    /// Exit code; `None` when the process died of a signal.
    pub code: Option<i32>,
    /// Captured standard output.
    pub stdout: String,
    /// Captured standard error.
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(output: Output) -> Run {
        Run {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// Runs `program args...` to completion, capturing its output.
pub fn run<I, S>(program: impl AsRef<OsStr>, args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    Command::new(program.as_ref())
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {:?}: {e}", program.as_ref()))
        .into()
}

/// Asserts that a [`Run`] exited with `code`, printing its output when it did not.
#[macro_export]
macro_rules! assert_exit {
    ($run:expr, $code:expr) => {{
        let run = &$run;
        assert_eq!(
            run.code,
            Some($code),
            "wrong exit code\n--- stdout ---\n{}\n--- stderr ---\n{}",
            run.stdout,
            run.stderr
        );
    }};
}
