//! Harness for the black-box tests: finds the real binaries, insists on root, hands out unique
//! names and scratch directories, and waits on conditions with a deadline instead of sleeping.
//!
//! The binaries are found next to the test executable's directory (`target/<triple>/<profile>/`),
//! or at `PAUSE_BIN` / `SANDBOX_BIN` / `CRI_CLIENT_BIN`. `cargo test --workspace` does not build
//! other members' binaries, so the test command is
//! `cargo build --workspace && cargo test --workspace`.

#![allow(clippy::unwrap_used)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub mod images;
pub mod network;

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

/// The CRI client the image test drives containerd with (`tests/cri-client`): a binary of its
/// own, so that its gRPC stack is not built into the test binary.
pub fn cri_client_bin() -> PathBuf {
    find_binary("sandbox-cri-client", "CRI_CLIENT_BIN")
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

// ---- sandbox CLI fixtures (used by sandbox_lifecycle and sandbox_containers) ----

/// How long one `sandbox` command may take before the harness kills it and fails the test.
pub const SANDBOX_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs `cmd` to completion with `stdin` as its input, failing the test if it takes longer than
/// `timeout` or if its stdout/stderr stay open after it exited (a detached process of it, such
/// as a leaked `pause`, still holds them).
pub fn run_with_timeout(mut cmd: Command, stdin: &[u8], timeout: Duration) -> Run {
    use std::io::{Read, Write};
    use std::process::Stdio;
    use std::sync::mpsc;

    let deadline = Instant::now() + timeout;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {cmd:?}: {e}"));
    let mut input = child.stdin.take().unwrap();
    let stdin = stdin.to_vec();
    std::thread::spawn(move || {
        // A command that does not read its input closes the pipe: not an error.
        let _ = input.write_all(&stdin);
    });
    let collect = |mut pipe: Box<dyn Read + Send>| {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            let _ = tx.send(String::from_utf8_lossy(&bytes).into_owned());
        });
        rx
    };
    let stdout = collect(Box::new(child.stdout.take().unwrap()));
    let stderr = collect(Box::new(child.stderr.take().unwrap()));
    let mut status = None;
    wait_until(deadline.saturating_duration_since(Instant::now()), || {
        status = child.try_wait().unwrap();
        status.is_some()
    });
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("{cmd:?} did not finish within {timeout:?}");
    };
    let left = || deadline.saturating_duration_since(Instant::now()) + Duration::from_secs(1);
    let read = |rx: mpsc::Receiver<String>, name: &str| {
        rx.recv_timeout(left()).unwrap_or_else(|_| {
            panic!(
                "{cmd:?} exited ({status}) but its {name} stayed open: a process it left holds it"
            )
        })
    };
    Run {
        code: status.code(),
        stdout: read(stdout, "stdout"),
        stderr: read(stderr, "stderr"),
    }
}

/// A `sandbox --root ROOT` command. `PAUSE_BIN`, when set, is passed on as `SANDBOX_PAUSE`;
/// otherwise `sandbox` finds `pause` next to itself, as installed.
pub fn sandbox_command(root: &Path) -> Command {
    let mut cmd = Command::new(sandbox_bin());
    cmd.arg("--root").arg(root);
    cmd.env_remove("SANDBOX_ROOT").env_remove("SANDBOX_PAUSE");
    if let Some(pause) = std::env::var_os("PAUSE_BIN") {
        cmd.env("SANDBOX_PAUSE", pause);
    }
    cmd
}

/// Runs `sandbox --root ROOT ARGS...` to completion (see [`run_with_timeout`]).
pub fn sandbox(root: &Path, args: &[&str]) -> Run {
    let mut cmd = sandbox_command(root);
    cmd.args(args);
    run_with_timeout(cmd, b"", SANDBOX_TIMEOUT)
}

/// Parses a command's stdout as JSON, failing with its output when it is not.
pub fn json_of(run: &Run) -> serde_json::Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e})\n--- stdout ---\n{}\n--- stderr ---\n{}",
            run.stdout, run.stderr
        )
    })
}

/// The report of container `name` in a `stop --json` report; panics if there is none.
pub fn report_of(report: &serde_json::Value, name: &str) -> serde_json::Value {
    report["containers"]
        .as_array()
        .unwrap_or_else(|| panic!("no containers array in {report}"))
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no report of {name} in {report}"))
        .clone()
}

/// Mount points at `path` or below it, in this mount namespace.
pub fn mounts_under(path: &Path) -> Vec<String> {
    let path = path.to_string_lossy().into_owned();
    let below = format!("{}/", path.trim_end_matches('/'));
    mounts_containing(&path)
        .into_iter()
        .filter(|mount_point| *mount_point == path || mount_point.starts_with(&below))
        .collect()
}

/// One process as `/proc/PID/stat` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcInfo {
    /// PID in the host's PID namespace.
    pub pid: i32,
    /// Command name (`comm`).
    pub comm: String,
    /// State letter (`R`, `S`, `Z`, ...).
    pub state: char,
}

/// Every child of `parent` (zombies included), read from `/proc`.
pub fn children_of(parent: i32) -> Vec<ProcInfo> {
    let Ok(all) = procfs::process::all_processes() else {
        return Vec::new();
    };
    all.filter_map(Result::ok)
        .filter_map(|p| p.stat().ok())
        .filter(|s| s.ppid == parent)
        .map(|s| ProcInfo {
            pid: s.pid,
            comm: s.comm,
            state: s.state,
        })
        .collect()
}

/// The value of field `key` of `/proc/PID/status` (e.g. `NSpid`, `Uid`, `NoNewPrivs`), trimmed.
pub fn proc_status_field(pid: i32, key: &str) -> Option<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let prefix = format!("{key}:");
    status
        .lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .map(|value| value.trim().to_owned())
}

/// Whether bit `signal` is set in `/proc/PID/status` field `field` (`SigCgt`: caught by a
/// handler, `SigIgn`: ignored): how a test knows a process has set up its signal handling.
pub fn signal_in_mask(pid: i32, field: &str, signal: i32) -> bool {
    proc_status_field(pid, field)
        .and_then(|mask| u64::from_str_radix(&mask, 16).ok())
        .is_some_and(|mask| mask & (1 << (signal - 1)) != 0)
}

/// A process in the host's namespaces, to compare a pod's against: the test process itself
/// (`/proc/1/ns/*` may be unreadable, e.g. when PID 1 is protected).
pub fn host_pid() -> i32 {
    std::process::id() as i32
}

/// The descriptor numbers `pid` has open, sorted.
pub fn open_fds(pid: i32) -> Vec<i32> {
    let mut fds: Vec<i32> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap_or_else(|e| panic!("listing /proc/{pid}/fd: {e}"))
        .map(|entry| {
            entry
                .unwrap()
                .file_name()
                .to_string_lossy()
                .parse()
                .unwrap()
        })
        .collect();
    fds.sort_unstable();
    fds
}

/// Makes `cmd`'s process start with a copy of its stderr at descriptor `fd`, *not*
/// close-on-exec: a descriptor that leaks into whatever that process runs unless it closes it.
/// (It is made in the child only, so the test process's other threads never inherit it.)
pub fn leak_stderr_copy_into(cmd: &mut Command, fd: i32) {
    use std::os::unix::process::CommandExt;
    fn dup_stderr_to(fd: i32) -> std::io::Result<()> {
        // SAFETY: dup2 is async-signal-safe and only creates descriptor `fd` in this process.
        match unsafe { libc::dup2(2, fd) } {
            -1 => Err(std::io::Error::last_os_error()),
            _ => Ok(()),
        }
    }
    // SAFETY: the hook runs between fork and exec and only calls dup2, which is
    // async-signal-safe; it allocates nothing and takes no lock.
    unsafe {
        cmd.pre_exec(move || dup_stderr_to(fd));
    }
}

/// A private state root for `sandbox --root`: a fresh 0700 directory under the temp dir. On drop
/// it unmounts whatever is still mounted below it (so one failing test leaks nothing into the
/// others), removes it, and then fails the test if anything had been left mounted.
pub struct StateRoot {
    path: PathBuf,
    host: Option<std::sync::Arc<network::ThrowawayHost>>,
}

impl StateRoot {
    /// Creates a new, empty state root.
    pub fn new() -> std::sync::Arc<StateRoot> {
        use std::os::unix::fs::DirBuilderExt;
        let path = std::env::temp_dir().join(unique_name("sandbox-root"));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .unwrap();
        std::sync::Arc::new(StateRoot { path, host: None })
    }

    /// A new, empty state root whose `sandbox` commands all run in the network namespace of
    /// `host` (which lives as long as the root does).
    pub fn in_host(host: &std::sync::Arc<network::ThrowawayHost>) -> std::sync::Arc<StateRoot> {
        let mut root = std::sync::Arc::into_inner(StateRoot::new()).unwrap();
        root.host = Some(std::sync::Arc::clone(host));
        std::sync::Arc::new(root)
    }

    /// `sandbox --root <this>`, in its throwaway host if it has one.
    pub fn command(&self) -> Command {
        let mut cmd = match &self.host {
            Some(host) => host.command(sandbox_bin()),
            None => Command::new(sandbox_bin()),
        };
        cmd.arg("--root").arg(&self.path);
        cmd.env_remove("SANDBOX_ROOT").env_remove("SANDBOX_PAUSE");
        // No network list of the host's: a test names its own (--cni-config-dir), or gets the
        // built-in one.
        cmd.env("SANDBOX_CNI_CONFIG_DIR", self.path.join(".no-cni-config"))
            .env_remove("SANDBOX_CNI_PATH");
        if let Some(pause) = std::env::var_os("PAUSE_BIN") {
            cmd.env("SANDBOX_PAUSE", pause);
        }
        cmd
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `sandbox --root <this> ARGS...` (in its throwaway host if it has one).
    pub fn sandbox(&self, args: &[&str]) -> Run {
        let mut cmd = self.command();
        cmd.args(args);
        run_with_timeout(cmd, b"", SANDBOX_TIMEOUT)
    }

    /// The pods' directories in the root, and anything else not named with a leading dot (the
    /// locks, the image store and the runtimes' state are; no pod name starts with one).
    pub fn entries(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.path)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| !name.starts_with('.'))
            .collect();
        names.sort();
        names
    }
}

impl Drop for StateRoot {
    fn drop(&mut self) {
        let leftover = mounts_under(&self.path);
        for mount_point in leftover.iter().rev() {
            let _ = nix::mount::umount2(mount_point.as_str(), nix::mount::MntFlags::MNT_DETACH);
        }
        let _ = std::fs::remove_dir_all(&self.path);
        if !std::thread::panicking() {
            assert!(
                leftover.is_empty(),
                "left mounted under {}: {leftover:?}",
                self.path.display()
            );
        }
    }
}

/// A pod created with `sandbox create` in a private state root. On drop: `sandbox rm --force`,
/// then checks (failing the test unless it is already failing) that its pause and containers
/// are gone and nothing of it is left mounted or on disk, cleaning up by hand what was.
pub struct Pod {
    name: String,
    root: std::sync::Arc<StateRoot>,
}

impl Pod {
    /// Creates a pod with `sandbox create NAME EXTRA...` in a new private root; panics on failure.
    pub fn create(extra: &[&str]) -> Pod {
        Pod::create_in(&StateRoot::new(), extra)
    }

    /// Creates a pod with a unique name in `root`; panics on failure.
    pub fn create_in(root: &std::sync::Arc<StateRoot>, extra: &[&str]) -> Pod {
        let name = unique_name("sbx");
        let mut args = vec!["create", name.as_str()];
        args.extend_from_slice(extra);
        let created = root.sandbox(&args);
        let pod = Pod {
            name,
            root: std::sync::Arc::clone(root),
        };
        assert_exit!(created, 0);
        pod
    }

    /// A pod something else made in `root` (`sandbox play`): checked and removed on drop as
    /// one [`Pod::create`] made.
    pub fn adopt(root: &std::sync::Arc<StateRoot>, name: &str) -> Pod {
        Pod {
            name: name.to_owned(),
            root: std::sync::Arc::clone(root),
        }
    }

    /// The pod's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its state root.
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// Its state directory.
    pub fn dir(&self) -> PathBuf {
        self.root.path().join(&self.name)
    }

    /// Its `ip netns` pin.
    pub fn netns_path(&self) -> PathBuf {
        Path::new("/run/netns").join(&self.name)
    }

    /// Runs `sandbox --root ROOT ARGS...` (the pod's name is not added).
    pub fn sandbox(&self, args: &[&str]) -> Run {
        self.root.sandbox(args)
    }

    /// `sandbox inspect NAME`, parsed; panics unless it succeeds.
    pub fn inspect(&self) -> serde_json::Value {
        let run = self.sandbox(&["inspect", &self.name]);
        assert_exit!(run, 0);
        json_of(&run)
    }

    /// The host PID of its pause.
    pub fn pid(&self) -> i32 {
        let inspect = self.inspect();
        inspect["pid"]
            .as_i64()
            .unwrap_or_else(|| panic!("no pid in {inspect}")) as i32
    }

    /// The inode of its pinned namespace `kind`, as `inspect` reports it.
    pub fn ns_inode(&self, kind: &str) -> u64 {
        let inspect = self.inspect();
        inspect["namespaces"][kind]["inode"]
            .as_u64()
            .unwrap_or_else(|| panic!("no {kind} namespace in {inspect}"))
    }

    /// `sandbox exec NAME -- COMMAND...`.
    pub fn exec(&self, command: &[&str]) -> Run {
        self.exec_with(&[], command)
    }

    /// `sandbox exec NAME OPTIONS... -- COMMAND...`.
    pub fn exec_with(&self, options: &[&str], command: &[&str]) -> Run {
        let mut args = vec!["exec", self.name.as_str()];
        args.extend_from_slice(options);
        args.push("--");
        args.extend_from_slice(command);
        self.sandbox(&args)
    }

    /// `sandbox run NAME --name CONTAINER OPTIONS... -- COMMAND...`, unchecked.
    pub fn try_run(&self, container: &str, options: &[&str], command: &[&str]) -> Run {
        let mut args = vec!["run", self.name.as_str(), "--name", container];
        args.extend_from_slice(options);
        args.push("--");
        args.extend_from_slice(command);
        self.sandbox(&args)
    }

    /// Starts a container (see [`Pod::try_run`]); panics unless it starts. Returns its host PID.
    pub fn run(&self, container: &str, options: &[&str], command: &[&str]) -> i32 {
        let run = self.try_run(container, options, command);
        assert_exit!(run, 0);
        self.container(container)["pid"]
            .as_i64()
            .unwrap_or_else(|| panic!("container {container} has no pid")) as i32
    }

    /// The `inspect` object of one container; panics if there is none.
    pub fn container(&self, container: &str) -> serde_json::Value {
        let inspect = self.inspect();
        inspect["containers"]
            .as_array()
            .unwrap_or_else(|| panic!("no containers array in {inspect}"))
            .iter()
            .find(|c| c["name"] == container)
            .unwrap_or_else(|| panic!("no container {container} in {inspect}"))
            .clone()
    }

    /// The names of the pod's containers, as `inspect` lists them.
    pub fn container_names(&self) -> Vec<String> {
        self.inspect()["containers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_owned())
            .collect()
    }

    /// The names of the container directories on disk.
    pub fn container_dirs(&self) -> Vec<String> {
        let mut names: Vec<String> = match std::fs::read_dir(self.dir().join("containers")) {
            Ok(entries) => entries
                .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
                .collect(),
            Err(_) => Vec::new(),
        };
        names.sort();
        names
    }
}

impl Drop for Pod {
    fn drop(&mut self) {
        let mut pids = Vec::new();
        let inspect = self.sandbox(&["inspect", &self.name]);
        if inspect.code == Some(0)
            && let Ok(value) = serde_json::from_str::<serde_json::Value>(&inspect.stdout)
        {
            pids.extend(value["pid"].as_i64());
            if let Some(containers) = value["containers"].as_array() {
                pids.extend(containers.iter().filter_map(|c| c["pid"].as_i64()));
            }
        }
        let removed = self.sandbox(&["rm", "--force", &self.name]);
        let mut problems = Vec::new();
        // `rm` of a pod a test already removed fails with "does not exist": fine.
        if removed.code != Some(0) && !removed.stderr.contains("does not exist") {
            problems.push(format!("rm --force failed: {removed:?}"));
        }
        for pid in pids.into_iter().map(|pid| pid as i32) {
            if !wait_until(Duration::from_secs(5), || !is_alive(pid)) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
                problems.push(format!("process {pid} survived rm --force"));
            }
        }
        let netns = self.netns_path();
        let mut leftover = mounts_under(&self.dir());
        if is_mounted(&netns) {
            leftover.push(netns.to_string_lossy().into_owned());
        }
        for mount_point in leftover.iter().rev() {
            let _ = nix::mount::umount2(mount_point.as_str(), nix::mount::MntFlags::MNT_DETACH);
        }
        if !leftover.is_empty() {
            problems.push(format!("left mounted: {leftover:?}"));
        }
        if netns.exists() {
            let _ = std::fs::remove_file(&netns);
            problems.push(format!("{} left behind", netns.display()));
        }
        if self.dir().exists() {
            let _ = std::fs::remove_dir_all(self.dir());
            problems.push(format!("{} left behind", self.dir().display()));
        }
        let cgroups = pod_cgroups(&self.name, "sandbox");
        for cgroup in &cgroups {
            for dir in cgroup_tree(cgroup).into_iter().rev() {
                let _ = std::fs::remove_dir(dir);
            }
        }
        if !cgroups.is_empty() {
            problems.push(format!("cgroups left: {cgroups:?}"));
        }
        if !problems.is_empty() && !std::thread::panicking() {
            panic!("pod {} was not cleaned up: {problems:#?}", self.name);
        }
    }
}

// ---- PID namespaces and orphans (used by the pause tests and the figures benchmark) ----

/// Whether process `pid` has taken over its signals the way pause does: it blocks them
/// (`SigBlk` is not 0), or it sleeps in `rt_sigtimedwait` (which clears `SigBlk` for the wait,
/// keeping the mask in the kernel's `real_blocked`). From then on a signal sent to it is queued,
/// not dropped; a PID 1 drops the signals it neither handles nor blocks, so signalling it any
/// earlier would race with its start.
pub fn takes_its_signals(pid: i32) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let mask = status.lines().find_map(|line| line.strip_prefix("SigBlk:"));
    let wchan = std::fs::read_to_string(format!("/proc/{pid}/wchan")).unwrap_or_default();
    mask.is_some_and(|mask| !mask.trim().trim_start_matches('0').is_empty())
        || wchan.contains("sigtimedwait")
}

/// PIDs of the children of `pid` (zombies included), from `/proc/PID/task/PID/children`.
/// Cheap even with thousands of processes on the host, unlike a scan of `/proc`: use it to poll.
/// Empty when `pid` is gone.
pub fn child_pids(pid: i32) -> Vec<i32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .map(|child| child.parse().unwrap())
        .collect()
}

/// The command name of `pid` (`/proc/PID/comm`), or `None` if it is gone.
pub fn comm_of(pid: i32) -> Option<String> {
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    Some(comm.trim_end().to_owned())
}

/// A program running as PID 1 of a new PID namespace, started with
/// `unshare --pid --fork --kill-child PROGRAM ARGS...` and seen from the host. Its stdout and
/// stderr are pipes. On drop, `unshare` is SIGKILLed; `--kill-child` makes the kernel SIGKILL
/// the init with it, and the death of a PID namespace's init kills the whole namespace.
pub struct PidNamespace {
    unshare: std::process::Child,
    stdin: Option<std::process::ChildStdin>,
    stdout: std::io::BufReader<std::process::ChildStdout>,
    init: i32,
}

impl PidNamespace {
    /// Starts `program args...` as PID 1 of a new PID namespace, and returns once it runs
    /// (its PID is known and it has exec'd, so it no longer looks like `unshare`).
    pub fn start<S: AsRef<OsStr>>(
        program: impl AsRef<OsStr>,
        args: impl IntoIterator<Item = S>,
    ) -> PidNamespace {
        let mut unshare = Command::new("unshare");
        unshare
            .args(["--pid", "--fork", "--kill-child"])
            .arg(program.as_ref())
            .args(args)
            .stdin(std::process::Stdio::null());
        PidNamespace::spawn(unshare)
    }

    /// Starts `unshare`, a command line of `unshare --pid --fork --kill-child ...` with more
    /// namespaces or a program that sets them up and then execs the init, as [`start`] does.
    /// Its stdin is what `unshare` sets (a pipe: [`PidNamespace::close_stdin`]); stdout and
    /// stderr become pipes.
    ///
    /// [`start`]: PidNamespace::start
    pub fn spawn(mut unshare: Command) -> PidNamespace {
        let mut unshare = unshare
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("running unshare: {e}"));
        let stdout = std::io::BufReader::new(unshare.stdout.take().unwrap());
        let unshare_pid = unshare.id() as i32;
        let mut init = None;
        let started = wait_until(Duration::from_secs(10), || {
            init = child_pids(unshare_pid)
                .first()
                .copied()
                .filter(|&pid| comm_of(pid).is_some_and(|comm| comm != "unshare"));
            init.is_some()
        });
        let namespace = PidNamespace {
            stdin: unshare.stdin.take(),
            unshare,
            stdout,
            init: init.unwrap_or(0),
        };
        assert!(started, "the init of a new PID namespace did not start");
        namespace
    }

    /// Closes the init's stdin, when it is a pipe: its readers (the init's children too) see
    /// the end of file.
    pub fn close_stdin(&mut self) {
        drop(self.stdin.take());
    }

    /// The init's PID on the host.
    pub fn pid(&self) -> i32 {
        self.init
    }

    /// Waits until the init has taken over its signals ([`takes_its_signals`]).
    pub fn wait_signals_blocked(&self) {
        let pid = self.init;
        let blocked = wait_until(Duration::from_secs(10), || takes_its_signals(pid));
        assert!(blocked, "init {pid} never took over its signals");
    }

    /// Sends `signal` to the init.
    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.init), signal).unwrap();
    }

    /// Reads one line of the init's stdout (blocking).
    pub fn read_stdout_line(&mut self) -> String {
        let mut line = String::new();
        std::io::BufRead::read_line(&mut self.stdout, &mut line).unwrap();
        line
    }

    /// Waits up to `timeout` for the init to exit and returns how it did (`unshare` exits
    /// with its init's status); `None` on timeout.
    pub fn wait(&mut self, timeout: Duration) -> Option<Run> {
        let mut status = None;
        wait_until(timeout, || {
            status = self.unshare.try_wait().unwrap();
            status.is_some()
        });
        let status = status?;
        let mut stdout = String::new();
        std::io::Read::read_to_string(&mut self.stdout, &mut stdout).unwrap();
        let mut stderr = String::new();
        if let Some(mut pipe) = self.unshare.stderr.take() {
            std::io::Read::read_to_string(&mut pipe, &mut stderr).unwrap();
        }
        Some(Run {
            code: status.code(),
            stdout,
            stderr,
        })
    }
}

impl Drop for PidNamespace {
    fn drop(&mut self) {
        // `unshare` is our child, so its PID cannot have been reused while we hold it unwaited;
        // killing it (not the init by PID) is what makes this safe after the init exited.
        let _ = self.unshare.kill();
        let _ = self.unshare.wait();
    }
}

/// Serialises the in-process forks of the harness (nix's `FORK_MTX` idea): a forked child of
/// this multi-threaded process runs only async-signal-safe calls, and one fork at a time keeps
/// their process counts predictable.
static FORK_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A hand-over of orphans to a namespace's init (see [`hand_orphans_to`]).
#[derive(Clone, Copy, Debug)]
pub struct Handover {
    /// When the orphans' parent was told to exit: the clock for timing the reaping.
    pub at: Instant,
    /// Host PID of the orphan forked last. Orphans are re-parented in the order they were forked
    /// and `waitpid(-1)` takes the first zombie in that order, so this is normally the last one
    /// reaped; `/proc/<pid>` vanishing is a check that does not take the tasklist lock that
    /// reading a reaper's list of children takes (and that the reaper needs too).
    pub last_orphan: i32,
}

/// Hands `count` orphans at once to the reaper of `init`'s PID namespace (`init` must be its
/// PID 1): a leader process inside the namespace forks `count` children that exit at once,
/// then exits itself, and the kernel re-parents its `count` zombies to the init in one go
/// (as when a pod's process tree dies). Fails the test if the orphans could not be made.
///
/// The leader must live *inside* the namespace: the kernel re-parents orphans to the reaper of
/// the exiting parent's own PID namespace, so a parent that merely entered it with `setns` would
/// hand them to the host's init instead. Hence three levels: a helper here does `setns`,
/// forks the leader (its first child inside), and waits for it.
pub fn hand_orphans_to(init: i32, count: usize) -> Handover {
    use nix::unistd::{ForkResult, fork};
    use std::os::fd::{AsFd, AsRawFd};

    let namespace = std::fs::File::open(format!("/proc/{init}/ns/pid")).unwrap();
    let (ready_read, ready_write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
    let (go_read, go_write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
    let guard = FORK_LOCK
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // SAFETY: the child runs only async-signal-safe calls (setns, fork, read, write, close,
    // waitpid, _exit; no allocation, no locks) and ends with `_exit`, never returning here.
    let helper = match unsafe { fork() }.unwrap() {
        ForkResult::Child => {
            let pipes = OrphanPipes {
                ready: ready_write.as_fd(),
                go: go_read.as_fd(),
                go_write: go_write.as_raw_fd(),
            };
            orphan_helper(namespace.as_fd(), pipes, count)
        }
        ForkResult::Parent { child } => child,
    };
    drop(guard);
    drop(ready_write);
    drop(go_read);
    let mut byte = [0u8; 1];
    let ready = nix::unistd::read(&ready_read, &mut byte).unwrap();
    assert_eq!(
        ready, 1,
        "the orphan helper failed before forking the orphans"
    );
    // The leader waits for `go`: its children are still its own, listed in fork order.
    let leader = child_pids(helper.as_raw());
    let last_orphan = leader
        .first()
        .and_then(|&leader| child_pids(leader).last().copied());
    let at = Instant::now();
    drop(go_write);
    let status = nix::sys::wait::waitpid(helper, None).unwrap();
    assert_eq!(
        status,
        nix::sys::wait::WaitStatus::Exited(helper, 0),
        "the orphan helper failed (exit codes: 2 setns, 3 fork of an orphan, 4 fork of the leader)"
    );
    Handover {
        at,
        last_orphan: last_orphan.unwrap(),
    }
}

/// The pipes between [`hand_orphans_to`] and the leader: the leader reports `ready` once the
/// orphans exist, then exits when `go` reaches end of file.
struct OrphanPipes<'a> {
    ready: std::os::fd::BorrowedFd<'a>,
    go: std::os::fd::BorrowedFd<'a>,
    /// The write end of `go`, which the forked processes must close, or `go` never ends.
    go_write: i32,
}

/// The forked helper of [`hand_orphans_to`]. Async-signal-safe calls only; never returns.
fn orphan_helper(namespace: std::os::fd::BorrowedFd, pipes: OrphanPipes, count: usize) -> ! {
    use nix::unistd::{ForkResult, fork};

    fn _exit(code: i32) -> ! {
        // SAFETY: _exit ends the process without running the harness's exit handlers, which a
        // forked child of a multi-threaded process must not run.
        unsafe { libc::_exit(code) }
    }

    // SAFETY: the descriptor is this process's copy, which nothing else here uses.
    unsafe { libc::close(pipes.go_write) };
    // setns(CLONE_NEWPID) moves this process's future children into the namespace.
    if nix::sched::setns(namespace, nix::sched::CloneFlags::CLONE_NEWPID).is_err() {
        _exit(2);
    }
    // SAFETY: this process is single-threaded (a fork of the harness) and the leader, too,
    // runs only async-signal-safe calls.
    match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            for _ in 0..count {
                // SAFETY: as above; the orphan-to-be only exits.
                match unsafe { fork() } {
                    Ok(ForkResult::Child) => _exit(0),
                    Ok(ForkResult::Parent { .. }) => {}
                    Err(_) => _exit(3),
                }
            }
            let _ = nix::unistd::write(pipes.ready, &[1]);
            let mut byte = [0u8; 1];
            let _ = nix::unistd::read(pipes.go, &mut byte);
            _exit(0)
        }
        Ok(ForkResult::Parent { child }) => match nix::sys::wait::waitpid(child, None) {
            Ok(nix::sys::wait::WaitStatus::Exited(_, code)) => _exit(code),
            _ => _exit(4),
        },
        Err(_) => _exit(4),
    }
}

// ---- sandbox commands tracked in a cgroup (used by the faults and security tests) ----

/// A cgroup (v2) for the processes of one test. A command put in it with [`Cgroup::enter`]
/// stays in it with every process it starts, whatever they do (double forks, setsid, other
/// namespaces): only root can move a process out. On drop, everything in it is killed.
pub struct Cgroup {
    path: PathBuf,
    name: String,
}

impl Cgroup {
    /// A new, empty cgroup under the host's cgroup2 mount (with a `cli` leaf for the commands).
    // No `Default`: making one changes the host (a new cgroup).
    #[allow(clippy::new_without_default)]
    pub fn new() -> Cgroup {
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let mount = mountinfo
            .lines()
            .find_map(|line| {
                let (mount, fs) = line.split_once(" - ")?;
                if fs.split(' ').next()? != "cgroup2" {
                    return None;
                }
                Some(PathBuf::from(mount.split(' ').nth(4)?))
            })
            .expect("a cgroup2 file system mounted somewhere (for tracking processes)");
        let name = unique_name("sandbox-test");
        let path = mount.join(&name);
        // The commands run in its `cli` leaf, the pods' cgroups go beside it: on cgroup v2 a
        // cgroup that hands controllers to its children may hold no process itself.
        for dir in [path.clone(), path.join("cli")] {
            std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
        }
        Cgroup { path, name }
    }

    /// Its path from the root of the hierarchy: what `SANDBOX_CGROUP_PARENT` takes, so that the
    /// pods' cgroups, and with them every process of the pods, are below it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Makes `cmd` start in this cgroup (it moves itself there before exec).
    pub fn enter(&self, cmd: &mut Command) {
        use std::os::unix::ffi::OsStrExt;
        use std::os::unix::process::CommandExt;
        let procs = std::ffi::CString::new(
            self.path
                .join("cli")
                .join("cgroup.procs")
                .as_os_str()
                .as_bytes(),
        )
        .unwrap();
        fn join(procs: &std::ffi::CString) -> std::io::Result<()> {
            // SAFETY: open(2) on a NUL-terminated path; async-signal-safe.
            let fd = unsafe { libc::open(procs.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) };
            if fd < 0 {
                return Err(std::io::Error::last_os_error());
            }
            // SAFETY: writes one byte from a static buffer to the descriptor opened above.
            let written = unsafe { libc::write(fd, b"0".as_ptr().cast(), 1) };
            let error = std::io::Error::last_os_error();
            // SAFETY: closes the descriptor opened above, which nothing else uses.
            unsafe { libc::close(fd) };
            if written == 1 { Ok(()) } else { Err(error) }
        }
        // SAFETY: the hook runs between fork and exec and only calls open, write and close,
        // which are async-signal-safe; it allocates nothing and takes no lock.
        unsafe {
            cmd.pre_exec(move || join(&procs));
        }
    }

    /// The processes in it.
    pub fn pids(&self) -> Vec<i32> {
        let mut pids = Vec::new();
        for dir in cgroup_tree(&self.path) {
            pids.extend(
                std::fs::read_to_string(dir.join("cgroup.procs"))
                    .unwrap_or_default()
                    .lines()
                    .map(|pid| pid.parse::<i32>().unwrap()),
            );
        }
        pids
    }

    /// Waits until no process is left in it.
    pub fn wait_empty(&self, timeout: Duration) -> bool {
        wait_until(timeout, || self.pids().is_empty())
    }

    /// SIGKILLs everything in it.
    pub fn kill_all(&self) {
        let _ = std::fs::write(self.path.join("cgroup.kill"), "1");
        self.wait_empty(Duration::from_secs(10));
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        self.kill_all();
        // The pods' cgroups below it (and their twins in the v1 hierarchies) are sandbox's to
        // remove; whatever a failed test left goes too, deepest first.
        for root in cgroup_roots() {
            for dir in cgroup_tree(&root.join(&self.name)).into_iter().rev() {
                let _ = std::fs::remove_dir(dir);
            }
        }
    }
}

/// The root of every cgroup hierarchy mounted (cgroup2 and v1).
pub fn cgroup_roots() -> Vec<PathBuf> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    mountinfo
        .lines()
        .filter_map(|line| {
            let (mount, fs) = line.split_once(" - ")?;
            let fields: Vec<&str> = mount.split(' ').collect();
            let is_cgroup = matches!(fs.split(' ').next()?, "cgroup" | "cgroup2");
            let mount = PathBuf::from(fields.get(4)?);
            (is_cgroup && fields.get(3) == Some(&"/")).then_some(mount)
        })
        .collect()
}

/// `dir` and the cgroups below it, parents before children; empty if `dir` is not there.
pub fn cgroup_tree(dir: &Path) -> Vec<PathBuf> {
    let mut tree = Vec::new();
    if !dir.is_dir() {
        return tree;
    }
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        if let Ok(entries) = std::fs::read_dir(&dir) {
            pending.extend(
                entries
                    .filter_map(|e| e.ok())
                    .map(|e| e.path())
                    .filter(|p| p.is_dir()),
            );
        }
        tree.push(dir);
    }
    tree
}

/// The cgroup directories of pod `pod` (`pod-POD-TAG` under the default parent `sandbox`, or
/// under `parent`) in every hierarchy: what `rm` must have removed.
pub fn pod_cgroups(pod: &str, parent: &str) -> Vec<PathBuf> {
    let prefix = format!("pod-{pod}-");
    let mut found = Vec::new();
    for root in cgroup_roots() {
        let Ok(entries) = std::fs::read_dir(root.join(parent)) else {
            continue;
        };
        found.extend(
            entries
                .filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
                .map(|e| e.path()),
        );
    }
    found
}

/// A private state root whose `sandbox` commands all run in one [`Cgroup`]. On drop, each pod
/// it named is removed with `rm --force`, everything left in the cgroup is killed and every
/// `/run/netns` pin of its pods is unmounted, so a failing test leaks nothing.
pub struct Tracked {
    /// The state root (`--root`).
    pub root: std::sync::Arc<StateRoot>,
    /// Where its commands and every process they start run.
    pub cgroup: Cgroup,
    names: std::sync::Mutex<Vec<String>>,
}

impl Tracked {
    /// A new private root and cgroup.
    // No `Default`: making one changes the host (a new cgroup).
    #[allow(clippy::new_without_default)]
    pub fn new() -> Tracked {
        Tracked {
            root: StateRoot::new(),
            cgroup: Cgroup::new(),
            names: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// A unique pod name, cleaned up on drop.
    pub fn pod_name(&self) -> String {
        let name = unique_name("flt");
        self.names.lock().unwrap().push(name.clone());
        name
    }

    /// `sandbox --root ROOT ARGS...`, in the cgroup, which is also the parent of the pods'
    /// cgroups (`SANDBOX_CGROUP_PARENT`): every process of the pods is below it.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = sandbox_command(self.root.path());
        cmd.args(args)
            .env("SANDBOX_CGROUP_PARENT", self.cgroup.name());
        self.cgroup.enter(&mut cmd);
        cmd
    }

    /// Runs `sandbox --root ROOT ARGS...` in the cgroup to completion.
    pub fn sandbox(&self, args: &[&str]) -> Run {
        run_with_timeout(self.command(args), b"", SANDBOX_TIMEOUT)
    }

    /// `inspect NAME`, which must succeed.
    pub fn inspect(&self, name: &str, context: &str) -> serde_json::Value {
        let run = self.sandbox(&["inspect", name]);
        assert!(run.code == Some(0), "{context}: inspect: {run:?}");
        json_of(&run)
    }

    /// `WRAPPER... sandbox --root ROOT ARGS...` in the cgroup, where the wrapper (`strace`,
    /// `setpriv`, `sh -c`) runs the command that ends its own arguments.
    pub fn wrapped(&self, mut wrapper: Command, args: &[&str]) -> Command {
        wrapper
            .arg(sandbox_bin())
            .arg("--root")
            .arg(self.root.path());
        wrapper.args(args);
        wrapper
            .env_remove("SANDBOX_ROOT")
            .env_remove("SANDBOX_PAUSE");
        wrapper.env("SANDBOX_PAUSE", pause_bin());
        self.cgroup.enter(&mut wrapper);
        wrapper
    }

    /// Fails unless every process in the cgroup is named by the pod's state: its pause, a
    /// container, or a container's monitor (its parent, a pause).
    pub fn check_only_named_processes(&self, name: &str, context: &str) {
        let pod = self.inspect(name, context);
        let mut named: Vec<i32> = pod["pid"].as_i64().map(|p| p as i32).into_iter().collect();
        for container in pod["containers"].as_array().unwrap() {
            if let Some(pid) = container["pid"].as_i64() {
                let pid = pid as i32;
                named.push(pid);
                if let Ok(stat) = procfs::process::Process::new(pid).and_then(|p| p.stat()) {
                    named.push(stat.ppid);
                }
            }
        }
        let unnamed: Vec<i32> = self
            .cgroup
            .pids()
            .into_iter()
            .filter(|pid| !named.contains(pid) && is_alive(*pid))
            .collect();
        assert!(
            unnamed.is_empty(),
            "{context}: processes that no state file names: {:?} (named: {named:?}, pod: {pod})",
            unnamed.iter().map(|pid| describe(*pid)).collect::<Vec<_>>()
        );
    }

    /// `rm --force NAME` (which may find nothing to remove), then [`Tracked::check_nothing_left`].
    pub fn remove_and_check(&self, name: &str, context: &str) {
        let removed = self.sandbox(&["rm", "--force", name]);
        assert!(
            removed.code == Some(0)
                || (removed.code == Some(125) && removed.stderr.contains("does not exist")),
            "{context}: rm --force: {removed:?}"
        );
        self.check_nothing_left(name, context);
    }

    /// Fails, after cleaning up, unless nothing of pod `name` is left: no process in the
    /// cgroup, no mount under the root or at `/run/netns/NAME`, no file in the root.
    pub fn check_nothing_left(&self, name: &str, context: &str) {
        let mut problems = Vec::new();
        if !self.cgroup.wait_empty(Duration::from_secs(10)) {
            let left: Vec<String> = self.cgroup.pids().into_iter().map(describe).collect();
            problems.push(format!("processes left: {left:?}"));
            self.cgroup.kill_all();
        }
        let mounts = mounts_under(self.root.path());
        if !mounts.is_empty() {
            problems.push(format!("left mounted: {mounts:?}"));
        }
        let cgroups = pod_cgroups(name, self.cgroup.name());
        if !cgroups.is_empty() {
            problems.push(format!("cgroups left: {cgroups:?}"));
        }
        let netns = Path::new("/run/netns").join(name);
        if is_mounted(&netns) || netns.exists() {
            problems.push(format!("{} left", netns.display()));
            let _ = nix::mount::umount2(&netns, nix::mount::MntFlags::MNT_DETACH);
            let _ = std::fs::remove_file(&netns);
        }
        let entries = self.root.entries();
        if !entries.is_empty() {
            problems.push(format!("left in the root: {entries:?}"));
        }
        let locks: Vec<String> = std::fs::read_dir(self.root.path().join(".locks"))
            .map(|dir| {
                dir.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        if !locks.is_empty() {
            problems.push(format!("lock files left: {locks:?}"));
        }
        if !problems.is_empty() {
            for mount in mounts.iter().rev() {
                let _ = nix::mount::umount2(mount.as_str(), nix::mount::MntFlags::MNT_DETACH);
            }
            for entry in entries {
                let _ = std::fs::remove_dir_all(self.root.path().join(entry));
            }
            panic!("{context}: pod {name} was not cleaned up: {problems:#?}");
        }
    }
}

/// `PID cmdline`, for messages.
pub fn describe(pid: i32) -> String {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
    format!("{pid} {}", cmdline.trim())
}

impl Drop for Tracked {
    fn drop(&mut self) {
        let names = std::mem::take(&mut *self.names.lock().unwrap_or_else(|e| e.into_inner()));
        for name in &names {
            let _ = self.sandbox(&["rm", "--force", name]);
        }
        self.cgroup.kill_all();
        for name in &names {
            let netns = Path::new("/run/netns").join(name);
            let _ = nix::mount::umount2(&netns, nix::mount::MntFlags::MNT_DETACH);
            let _ = std::fs::remove_file(&netns);
        }
    }
}

/// Writes a `storage.conf` and a `containers.conf` into `dir` that let podman 4.3 run as root on
/// these hosts without touching the host's podman state: private vfs storage under `dir`, runc
/// (crun refuses the hybrid cgroup setup), cgroupfs, file events, no network, and ulimits low
/// enough for a root that lacks CAP_SYS_RESOURCE (podman's defaults fail with EPERM, and it
/// lowers its own RLIMIT_NPROC before starting conmon). Point `CONTAINERS_STORAGE_CONF` and
/// `CONTAINERS_CONF` at them.
pub fn write_private_podman_config(dir: &Path) {
    let root = dir.display().to_string();
    std::fs::write(
        dir.join("storage.conf"),
        format!(
            "[storage]\n\
             driver = \"vfs\"\n\
             graphroot = \"{root}/storage\"\n\
             runroot = \"{root}/run\"\n"
        ),
    )
    .unwrap();
    let limits = procfs::process::Process::myself()
        .unwrap()
        .limits()
        .unwrap();
    let ulimit = |name: &str, limit: &procfs::process::Limit| {
        let value = match limit.soft_limit {
            procfs::process::LimitValue::Unlimited => 1024,
            procfs::process::LimitValue::Value(n) => n.min(1024),
        };
        format!("\"{name}={value}:{value}\"")
    };
    std::fs::write(
        dir.join("containers.conf"),
        format!(
            "[containers]\n\
             default_ulimits = [{}, {}]\n\
             netns = \"none\"\n\
             [engine]\n\
             runtime = \"runc\"\n\
             cgroup_manager = \"cgroupfs\"\n\
             events_logger = \"file\"\n\
             events_logfile_path = \"{root}/events.log\"\n\
             tmp_dir = \"{root}/tmp\"\n\
             [network]\n\
             network_config_dir = \"{root}/networks\"\n",
            ulimit("nofile", &limits.max_open_files),
            ulimit("nproc", &limits.max_processes),
        ),
    )
    .unwrap();
}

/// The arm64 `pause` (the second platform of the pod infrastructure image), or `PAUSE_ARM64_BIN`:
/// the release build for `aarch64-unknown-linux-musl`, which `cargo build --workspace` does not
/// make. The first call runs `cargo build --release -p pause --target aarch64-unknown-linux-musl`
/// in the workspace (a no-op when it is fresh; `.ci/setup` installs the target and the linker).
pub fn arm64_pause_bin() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    if let Some(path) = std::env::var_os("PAUSE_ARM64_BIN") {
        return PathBuf::from(path);
    }
    BUILT
        .get_or_init(|| {
            const TARGET: &str = "aarch64-unknown-linux-musl";
            let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let built: Run = Command::new(cargo)
                .args(["build", "--release", "-p", "pause", "--target", TARGET])
                .current_dir(workspace)
                .output()
                .unwrap()
                .into();
            assert!(
                built.code == Some(0),
                "building the arm64 pause failed (run .ci/setup for the target and the \
                 linker):\n{}",
                built.stderr
            );
            // target/<host triple>/<profile>/ → target/<TARGET>/release/pause
            let target_dir = target_profile_dir()
                .parent()
                .unwrap()
                .parent()
                .unwrap()
                .to_path_buf();
            target_dir.join(TARGET).join("release").join("pause")
        })
        .clone()
}
