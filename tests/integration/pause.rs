//! Tests: `pause`, the pod's PID 1 and a tiny init, driven as the real static binary.
//!
//! As PID 1 it runs in a new PID namespace (`unshare --pid --fork`, see `PidNamespace`); as a
//! plain child of the test it shows the not-PID-1 behaviour (subreaper, warning). Orphans are
//! handed over with `hand_orphans_to`. Descriptors are passed to pause with a `pre_exec` dup2.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use sandbox_tests::{
    PidNamespace, ScratchDir, assert_exit, child_pids, comm_of, hand_orphans_to, is_alive,
    open_fds, pause_bin, proc_status_field, require_root, run, run_with_timeout, wait_until,
    zombie_children,
};

/// How long anything that should be quick may take on a loaded machine.
const SOON: Duration = Duration::from_secs(10);

/// A `pause` command with stdin closed, stdout/stderr piped, and every signal at its default
/// disposition (see [`with_default_signals`]: else a test that traps SIGINT hangs when the test
/// binary was started in the background by a non-interactive shell).
fn pause_command(args: &[&str]) -> Command {
    let mut command = Command::new(pause_bin());
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    with_default_signals(&mut command);
    command
}

/// Makes each `fd` appear as descriptor `target` in the spawned process (without close-on-exec).
/// Every source is first copied above 100, so one `dup2` cannot overwrite another's source.
fn pass_fds(command: &mut Command, fds: &[(&OwnedFd, i32)]) {
    let pairs: Vec<(i32, i32)> = fds
        .iter()
        .map(|(fd, target)| (fd.as_raw_fd(), *target))
        .collect();
    // Runs between fork and exec: allocates nothing and calls only async-signal-safe functions.
    let dup_fds = move || {
        let mut high = [-1; 8];
        for (slot, (fd, _)) in high.iter_mut().zip(&pairs) {
            // SAFETY: fcntl takes integers; F_DUPFD_CLOEXEC only creates a descriptor.
            *slot = unsafe { libc::fcntl(*fd, libc::F_DUPFD_CLOEXEC, 100) };
            if *slot == -1 {
                return Err(std::io::Error::last_os_error());
            }
        }
        for (fd, (_, target)) in high.iter().zip(&pairs) {
            // SAFETY: dup2 takes integers; `target` is ours to replace in the new process.
            if unsafe { libc::dup2(*fd, *target) } == -1 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(())
    };
    // SAFETY: `dup_fds` is async-signal-safe, as pre_exec requires.
    unsafe { command.pre_exec(dup_fds) };
}

/// A pipe whose ends are close-on-exec in the test process: (read end, write end).
fn pipe() -> (OwnedFd, OwnedFd) {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap()
}

/// A spawned pause. If the test ends without having seen it exit (a failed assertion), it is
/// SIGKILLed together with its children, so no test leaves processes behind.
struct Spawned(Child);

impl Spawned {
    fn new(command: &mut Command) -> Spawned {
        Spawned(command.spawn().unwrap())
    }

    fn pid(&self) -> i32 {
        self.0.id() as i32
    }

    /// Waits for pause to exit within `timeout`; fails if it does not, showing what still runs
    /// and which signals each process ignores (an inherited SIG_IGN cannot be trapped).
    fn wait(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let mut status = None;
        wait_until(timeout, || {
            status = self.0.try_wait().unwrap();
            status.is_some()
        });
        status.unwrap_or_else(|| {
            let tree: Vec<String> = [self.pid()]
                .into_iter()
                .chain(descendants(self.pid()))
                .map(|pid| {
                    let field = |key| proc_status_field(pid, key).unwrap_or_default();
                    let (name, state, ignored) = (field("Name"), field("State"), field("SigIgn"));
                    format!("{pid} {name} ({state}, SigIgn {ignored})")
                })
                .collect();
            panic!("{} did not exit within {timeout:?}: {tree:?}", self.pid())
        })
    }

    /// Everything left on its stderr (read after it exited).
    fn stderr(&mut self) -> String {
        let mut stderr = String::new();
        self.0
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        stderr
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            // The process is alive and unwaited, so its PID and its descendants' are theirs.
            for descendant in descendants(self.pid()) {
                let _ = kill(Pid::from_raw(descendant), Signal::SIGKILL);
            }
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// The PIDs of `pid`'s children, their children and so on, parents first.
fn descendants(pid: i32) -> Vec<i32> {
    let mut all = child_pids(pid);
    let mut next = 0;
    while let Some(&parent) = all.get(next) {
        all.extend(child_pids(parent));
        next += 1;
    }
    all
}

/// Makes `command` start with every standard signal at its default disposition, as `sandbox`
/// and container runtimes start pause. An ignored disposition survives fork and execve, and the
/// test process has whatever its own starter ignored (a shell runs a background command with
/// SIGINT and SIGQUIT ignored; `nohup` ignores SIGHUP); a shell started with a signal ignored
/// cannot trap it, so a test that traps one would hang waiting for it.
fn with_default_signals(command: &mut Command) {
    fn reset() -> std::io::Result<()> {
        for signal in 1..32 {
            if signal != libc::SIGKILL && signal != libc::SIGSTOP {
                // SAFETY: signal() is async-signal-safe, and SIG_DFL installs no handler code.
                unsafe { libc::signal(signal, libc::SIG_DFL) };
            }
        }
        Ok(())
    }
    // SAFETY: `reset` only calls signal(), which is async-signal-safe, as pre_exec requires.
    unsafe { command.pre_exec(reset) };
}

fn signal(pid: i32, signal: Signal) {
    kill(Pid::from_raw(pid), signal).unwrap();
}

/// Field `key` of `/proc/PID/status`, trimmed.
fn status_field(pid: i32, key: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let value = status
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{key}:")));
    value
        .unwrap_or_else(|| panic!("no {key} in /proc/{pid}/status"))
        .trim()
        .to_owned()
}

/// utime + stime of `pid` in clock ticks, and its voluntary + involuntary context switches:
/// a process that never wakes up keeps both unchanged.
fn cpu_and_wakeups(pid: i32) -> (u64, u64) {
    let stat = procfs::process::Process::new(pid).unwrap().stat().unwrap();
    let switches: u64 = ["voluntary_ctxt_switches", "nonvoluntary_ctxt_switches"]
        .iter()
        .map(|key| status_field(pid, key).parse::<u64>().unwrap())
        .sum();
    (stat.utime + stat.stime, switches)
}

/// The one `<pid> <errno>` line pause writes on `--sync-fd`.
fn read_sync_line(read_end: OwnedFd) -> (i32, i32) {
    let mut line = String::new();
    std::fs::File::from(read_end)
        .read_to_string(&mut line)
        .unwrap();
    let (pid, errno) = line
        .strip_suffix('\n')
        .and_then(|line| line.split_once(' '))
        .unwrap_or_else(|| panic!("bad sync line {line:?}"));
    (pid.parse().unwrap(), errno.parse().unwrap())
}

/// Starts pause in init mode with `--sync-fd 3` and returns it with the PID of its child,
/// known to have exec'd.
fn spawn_init(args: &[&str], command: &[&str]) -> (Spawned, i32) {
    let (read_end, write_end) = pipe();
    let mut pause = pause_command(args);
    pause.args(["--sync-fd", "3", "--"]).args(command);
    pass_fds(&mut pause, &[(&write_end, 3)]);
    let child = Spawned::new(&mut pause);
    drop(write_end);
    let (pid, errno) = read_sync_line(read_end);
    assert_eq!(errno, 0, "exec of {command:?} failed");
    (child, pid)
}

// ---- hold mode ----

#[test]
fn hold_mode_as_pid1_reaps_thousands_of_orphans_at_once() {
    require_root();
    // Control: under a PID 1 that never waits, the same hand-over leaves every orphan a zombie
    // child of that PID 1, so the test below cannot pass by the orphans going elsewhere.
    let control = PidNamespace::start("sleep", ["100"]);
    hand_orphans_to(control.pid(), 100);
    assert_eq!(
        child_pids(control.pid()).len(),
        100,
        "the orphans did not land on PID 1"
    );
    drop(control);

    let pause = PidNamespace::start(pause_bin(), [""; 0]);
    pause.wait_signals_blocked();
    hand_orphans_to(pause.pid(), 3000);
    let reaped = wait_until(SOON, || child_pids(pause.pid()).is_empty());
    assert!(reaped, "{} children left", child_pids(pause.pid()).len());
    assert!(zombie_children(pause.pid()).is_empty());
    assert!(is_alive(pause.pid()));
}

#[test]
fn hold_mode_as_pid1_exits_0_on_sigterm_and_sigint_with_one_line() {
    require_root();
    for (sig, name) in [(Signal::SIGTERM, "SIGTERM"), (Signal::SIGINT, "SIGINT")] {
        let mut pause = PidNamespace::start(pause_bin(), [""; 0]);
        pause.wait_signals_blocked();
        pause.signal(sig);
        let run = pause.wait(SOON).expect("pause did not exit");
        assert_exit!(run, 0);
        assert_eq!(
            run.stderr,
            format!("pause: shutting down, got signal {name}\n")
        );
    }
}

#[test]
fn hold_mode_ignores_other_signals() {
    require_root();
    // Not PID 1, where the default action of these signals would kill it.
    let mut pause = Spawned::new(&mut pause_command(&[]));
    let pid = pause.pid();
    let mut warning = String::new();
    BufReader::new(pause.0.stderr.as_mut().unwrap())
        .read_line(&mut warning)
        .unwrap();
    for sig in [
        libc::SIGHUP,
        libc::SIGQUIT,
        libc::SIGUSR1,
        libc::SIGUSR2,
        libc::SIGPIPE,
        libc::SIGALRM,
        libc::SIGPWR,
        libc::SIGTSTP,
        // Signals 32-34 are reserved by the C libraries, but anyone can send them.
        32,
        34,
        64,
    ] {
        // SAFETY: kill takes plain integers; `pid` is our live, unwaited child.
        assert_eq!(unsafe { libc::kill(pid, sig) }, 0);
    }
    // Once nothing is pending any more, pause has taken every signal and is still there.
    let taken = wait_until(SOON, || {
        status_field(pid, "SigPnd") == "0000000000000000"
            && status_field(pid, "ShdPnd") == "0000000000000000"
    });
    assert!(taken, "signals still pending");
    assert!(is_alive(pid));
    assert_eq!(status_field(pid, "State").chars().next(), Some('S'));
    signal(pid, Signal::SIGTERM);
    assert_eq!(pause.wait(SOON).code(), Some(0));
}

#[test]
fn idle_pause_uses_no_cpu_and_never_wakes_up() {
    require_root();
    let hold = PidNamespace::start(pause_bin(), [""; 0]);
    let (mut init, init_child) = spawn_init(&[], &["sleep", "100"]);
    let pids = [hold.pid(), init.pid()];
    for pid in pids {
        let asleep = wait_until(SOON, || {
            std::fs::read_to_string(format!("/proc/{pid}/wchan"))
                .is_ok_and(|wchan| wchan.contains("sigtimedwait"))
        });
        assert!(asleep, "pause {pid} never went to sleep in rt_sigtimedwait");
    }
    let before = pids.map(cpu_and_wakeups);
    // The figure is about a span of time, so this test does wait for one.
    std::thread::sleep(Duration::from_secs(1));
    let after = pids.map(cpu_and_wakeups);
    for ((pid, before), after) in pids.iter().zip(before).zip(after) {
        assert_eq!(after.0 - before.0, 0, "pause {pid} used CPU while idle");
        assert_eq!(after.1 - before.1, 0, "pause {pid} woke up while idle");
    }
    assert_eq!(before[0].0, 0, "hold-mode pause used CPU at all");
    signal(init_child, Signal::SIGKILL);
    assert_eq!(init.wait(SOON).code(), Some(137));
}

#[test]
fn not_pid1_warns_once_and_reaps_orphans_of_its_subtree_as_subreaper() {
    require_root();
    let scratch = ScratchDir::new("pause-subreaper");
    let go = scratch.path().join("go");
    // The subshell becomes pause's child when sh execs pause. Once told to go, it starts 20
    // sleeps and exits: the sleeps are orphans of pause's subtree.
    let script = format!(
        "( while [ ! -e {go} ]; do sleep 0.01; done; for i in $(seq 20); do sleep 100 & done; exit 0 ) & exec {pause}",
        go = go.display(),
        pause = pause_bin().display(),
    );
    let mut pause = Spawned::new(
        Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped()),
    );
    let pid = pause.pid();
    let mut stderr = BufReader::new(pause.0.stderr.take().unwrap());
    let mut warning = String::new();
    stderr.read_line(&mut warning).unwrap();
    assert_eq!(
        warning,
        format!("pause: warning: not PID 1 (pid {pid}); reaping orphans as a child subreaper\n")
    );
    // The warning comes after PR_SET_CHILD_SUBREAPER, so the orphans now land on pause.
    std::fs::write(&go, "").unwrap();
    let mut orphans = Vec::new();
    let adopted = wait_until(SOON, || {
        orphans = child_pids(pid);
        orphans.len() == 20
            && orphans
                .iter()
                .all(|&o| comm_of(o).as_deref() == Some("sleep"))
    });
    assert!(adopted, "pause's children: {orphans:?}");
    for orphan in orphans {
        signal(orphan, Signal::SIGKILL);
    }
    assert!(
        wait_until(SOON, || child_pids(pid).is_empty()),
        "orphans not reaped"
    );
    signal(pid, Signal::SIGTERM);
    assert_eq!(pause.wait(SOON).code(), Some(0));
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    assert_eq!(
        rest, "pause: shutting down, got signal SIGTERM\n",
        "more than one warning"
    );
}

// ---- command line ----

#[test]
fn version_and_help() {
    require_root();
    for flag in ["-v", "--version"] {
        let run = run(pause_bin(), [flag]);
        assert_exit!(run, 0);
        assert_eq!(run.stdout, format!("pause {}\n", env!("CARGO_PKG_VERSION")));
    }
    for flag in ["-h", "--help"] {
        let run = run(pause_bin(), [flag]);
        assert_exit!(run, 0);
        assert!(run.stdout.starts_with("usage: pause"), "{}", run.stdout);
        assert!(run.stdout.contains("--grace SECS"), "{}", run.stdout);
    }
}

#[test]
fn unknown_arguments_exit_2_with_a_usage_line() {
    require_root();
    let cases: &[&[&str]] = &[
        &["--frobnicate"],
        &["sleep", "1"],
        &["--grace", "5"],
        &["--"],
        &["--grace"],
        &["--grace", "soon", "--", "true"],
        &["--remap-exit", "256", "--", "true"],
        &["--user", "nobody", "--", "true"],
        &["--sync-fd", "-1", "--", "true"],
    ];
    for args in cases {
        let run = run(pause_bin(), *args);
        assert_exit!(run, 2);
        assert!(
            run.stderr.contains("usage: pause"),
            "{args:?}: {}",
            run.stderr
        );
        assert!(run.stdout.is_empty());
    }
}

// ---- init mode ----

#[test]
fn init_mode_exits_with_the_commands_code() {
    require_root();
    let scratch = ScratchDir::new("pause-exit");
    let not_executable = scratch.path().join("not-executable");
    std::fs::write(&not_executable, "#!/bin/sh\n").unwrap();
    let not_executable = not_executable.to_str().unwrap();
    let cases: &[(&[&str], i32, &str)] = &[
        (&["true"], 0, ""),
        (&["sh", "-c", "exit 7"], 7, ""),
        (&["sh", "-c", "kill -TERM $$"], 143, ""),
        (&["sh", "-c", "kill -KILL $$"], 137, ""),
        (&[not_executable], 126, "permission denied"),
        (
            &["no-such-command-anywhere"],
            127,
            "pause: no-such-command-anywhere: not found\n",
        ),
        (&["/no/such/path"], 127, "pause: /no/such/path: not found\n"),
    ];
    for (command, code, stderr) in cases {
        let run = run(pause_bin(), ["--"].iter().chain(command.iter()));
        assert_exit!(run, *code);
        assert!(run.stderr.contains(stderr), "{command:?}: {}", run.stderr);
    }
}

#[test]
fn an_empty_command_name_is_not_found() {
    require_root();
    // execvp("") fails with ENOENT and tini exits 127; searching PATH for "" would try to
    // exec each directory itself and report EACCES (126).
    let (read_end, write_end) = pipe();
    let mut command = pause_command(&["--sync-fd", "3", "--", ""]);
    pass_fds(&mut command, &[(&write_end, 3)]);
    let mut pause = Spawned::new(&mut command);
    drop(write_end);
    let (_, errno) = read_sync_line(read_end);
    assert_eq!(pause.wait(SOON).code(), Some(127));
    assert_eq!(errno, libc::ENOENT);
    assert_eq!(pause.stderr(), "pause: : not found\n");
}

#[test]
fn init_mode_forwards_signals_to_the_command() {
    require_root();
    // The command traps each signal with its own exit code. `wait` on a background sleep lets
    // the shell run the trap at once; the sleep starts before the trap is set, so the trap
    // always has it to kill. pause starts with default dispositions (`pause_command`): a shell
    // cannot trap a signal that was ignored when it started, and pause passes dispositions on
    // untouched, as execve does.
    let cases = [
        (Signal::SIGTERM, "TERM", 42),
        (Signal::SIGUSR1, "USR1", 43),
        (Signal::SIGHUP, "HUP", 44),
        (Signal::SIGINT, "INT", 45),
        (Signal::SIGQUIT, "QUIT", 46),
        (Signal::SIGUSR2, "USR2", 47),
        (Signal::SIGWINCH, "WINCH", 48),
        (Signal::SIGCONT, "CONT", 49),
    ];
    for (sig, name, code) in cases {
        let script = format!(
            "sleep 100 & p=$!; trap 'kill $p; wait $p; exit {code}' {name}; echo ready; wait $p; exit 99"
        );
        let mut pause = Spawned::new(&mut pause_command(&["--", "sh", "-c", &script]));
        let mut ready = String::new();
        BufReader::new(pause.0.stdout.as_mut().unwrap())
            .read_line(&mut ready)
            .unwrap();
        assert_eq!(ready, "ready\n");
        signal(pause.pid(), sig);
        let status = pause.wait(SOON);
        assert_eq!(status.code(), Some(code), "{name}: {}", pause.stderr());
    }
}

#[test]
fn init_mode_as_pid1_reaps_orphans_and_keeps_its_command() {
    require_root();
    let pause = PidNamespace::start(pause_bin(), ["--", "sleep", "100"]);
    pause.wait_signals_blocked();
    let command = wait_until(SOON, || child_pids(pause.pid()).len() == 1);
    assert!(command);
    hand_orphans_to(pause.pid(), 1000);
    let reaped = wait_until(SOON, || child_pids(pause.pid()).len() == 1);
    assert!(reaped, "{} children left", child_pids(pause.pid()).len());
    assert!(zombie_children(pause.pid()).is_empty());
}

#[test]
fn the_command_gets_an_empty_signal_mask_and_only_stdio() {
    require_root();
    let extra = OwnedFd::from(std::fs::File::open("/dev/null").unwrap());
    let (read_end, write_end) = pipe();
    let mut command = pause_command(&["--sync-fd", "3", "--", "sleep", "100"]);
    pass_fds(&mut command, &[(&write_end, 3), (&extra, 7)]);
    let mut pause = Spawned::new(&mut command);
    drop(write_end);
    let (child, errno) = read_sync_line(read_end);
    assert_eq!(errno, 0);
    let pause_pid = pause.pid();
    assert!(
        open_fds(pause_pid).contains(&7),
        "the test did not pass fd 7 to pause"
    );
    assert_eq!(status_field(child, "SigBlk"), "0000000000000000");
    // Exec'd is not settled: the dynamic loader and setlocale still open (and close) files at
    // fd 3. Asleep, sleep has done with them.
    let asleep = wait_until(SOON, || {
        std::fs::read_to_string(format!("/proc/{child}/wchan"))
            .is_ok_and(|wchan| wchan.contains("nanosleep"))
    });
    assert!(asleep, "sleep {child} never went to sleep");
    assert_eq!(open_fds(child), [0, 1, 2]);
    signal(child, Signal::SIGKILL);
    assert_eq!(pause.wait(SOON).code(), Some(137));
}

#[test]
fn user_and_no_new_privs_apply_to_the_command() {
    require_root();
    let (mut pause, child) = spawn_init(
        &["--user", "65534:65533", "--no-new-privs"],
        &["sleep", "100"],
    );
    assert_eq!(status_field(child, "Uid"), "65534\t65534\t65534\t65534");
    assert_eq!(status_field(child, "Gid"), "65533\t65533\t65533\t65533");
    assert_eq!(status_field(child, "Groups"), "");
    assert_eq!(status_field(child, "NoNewPrivs"), "1");
    assert_eq!(status_field(pause.pid(), "NoNewPrivs"), "0");
    signal(child, Signal::SIGKILL);
    assert_eq!(pause.wait(SOON).code(), Some(137));

    // Without :GID the group is the user's number; without --no-new-privs the bit stays off.
    let (mut pause, child) = spawn_init(&["--user", "1000"], &["sleep", "100"]);
    assert_eq!(status_field(child, "Uid"), "1000\t1000\t1000\t1000");
    assert_eq!(status_field(child, "Gid"), "1000\t1000\t1000\t1000");
    assert_eq!(status_field(child, "NoNewPrivs"), "0");
    signal(child, Signal::SIGKILL);
    assert_eq!(pause.wait(SOON).code(), Some(137));
}

#[test]
fn remap_exit_reports_listed_codes_as_0() {
    require_root();
    let remaps = [
        "--remap-exit",
        "143",
        "--remap-exit",
        "7",
        "--remap-exit",
        "1",
        "--remap-exit",
        "2",
        "--remap-exit",
        "3",
        "--remap-exit",
        "4",
        "--remap-exit",
        "5",
        "--remap-exit",
        "6",
    ];
    let cases = [
        ("exit 7", 0),
        ("kill -TERM $$", 0),
        ("exit 6", 0),
        ("exit 8", 8),
        ("kill -KILL $$", 137),
    ];
    for (script, code) in cases {
        let command = ["--", "sh", "-c", script];
        let run = run(pause_bin(), remaps.iter().chain(&command));
        assert_exit!(run, code);
    }
}

#[test]
fn sync_fd_reports_the_pid_and_the_exec_result() {
    require_root();
    let (mut pause, child) = spawn_init(&[], &["sleep", "100"]);
    // The PID is pause's child, already running the command.
    let ppid = procfs::process::Process::new(child)
        .unwrap()
        .stat()
        .unwrap()
        .ppid;
    assert_eq!(ppid, pause.pid());
    assert_eq!(comm_of(child).as_deref(), Some("sleep"));
    signal(child, Signal::SIGTERM);
    assert_eq!(pause.wait(SOON).code(), Some(143));

    let scratch = ScratchDir::new("pause-sync");
    let not_executable = scratch.path().join("not-executable");
    std::fs::write(&not_executable, "").unwrap();
    let cases = [
        ("no-such-command-anywhere", libc::ENOENT, 127),
        (not_executable.to_str().unwrap(), libc::EACCES, 126),
    ];
    for (command, expected_errno, code) in cases {
        let (read_end, write_end) = pipe();
        let mut cmd = pause_command(&["--sync-fd", "3", "--", command]);
        pass_fds(&mut cmd, &[(&write_end, 3)]);
        let mut pause = Spawned::new(&mut cmd);
        drop(write_end);
        let (pid, errno) = read_sync_line(read_end);
        assert!(pid > 0);
        assert_eq!(errno, expected_errno, "{command}");
        assert_eq!(pause.wait(SOON).code(), Some(code));
    }
}

#[test]
fn sync_fd_without_a_reader_does_not_signal_the_command() {
    require_root();
    // Writing to a pipe nobody reads raises SIGPIPE at pause itself; blocked, it must not be
    // taken for a signal someone sent and forwarded (CMD would die with 141, or trap it: 3).
    let (read_end, write_end) = pipe();
    drop(read_end);
    let script = "trap 'exit 3' PIPE; sleep 0.3 & wait $!; exit 5";
    let mut command = pause_command(&["--sync-fd", "3", "--", "sh", "-c", script]);
    pass_fds(&mut command, &[(&write_end, 3)]);
    let mut pause = Spawned::new(&mut command);
    drop(write_end);
    let status = pause.wait(SOON);
    assert_eq!(status.code(), Some(5), "{}", pause.stderr());
}

#[test]
fn sync_fd_that_is_not_open_is_refused() {
    require_root();
    let run = run(pause_bin(), ["--sync-fd", "99", "--", "true"]);
    assert_exit!(run, 9);
    assert!(run.stderr.contains("bad file descriptor"), "{}", run.stderr);
}

#[test]
fn exit_file_records_the_end_of_the_command() {
    require_root();
    let scratch = ScratchDir::new("pause-exit-file");
    let path = scratch.path().join("exit.json");
    let path_arg = path.to_str().unwrap();
    // (options, command, exit_code, signal): the record keeps the real code, not the remapped one.
    type Case<'a> = (&'a [&'a str], &'a [&'a str], i64, Option<i64>);
    let cases: [Case; 4] = [
        (&[], &["sh", "-c", "exit 7"], 7, None),
        (&[], &["sh", "-c", "kill -TERM $$"], 143, Some(15)),
        (
            &["--remap-exit", "137"],
            &["sh", "-c", "kill -KILL $$"],
            137,
            Some(9),
        ),
        (&[], &["no-such-command-anywhere"], 127, None),
    ];
    for (options, command, code, sig) in cases {
        let _ = std::fs::remove_file(&path);
        let (read_end, write_end) = pipe();
        let mut cmd = pause_command(&["--exit-file", path_arg, "--sync-fd", "3"]);
        cmd.args(options).arg("--").args(command);
        pass_fds(&mut cmd, &[(&write_end, 3)]);
        let before = unix_ns();
        let mut pause = Spawned::new(&mut cmd);
        drop(write_end);
        let (pid, _) = read_sync_line(read_end);
        pause.wait(SOON);
        let after = unix_ns();

        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.ends_with("}\n") && text.lines().count() == 1,
            "{text:?}"
        );
        let record: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(record.as_object().unwrap().len(), 4, "{text}");
        assert_eq!(record["pid"], pid, "{text}");
        assert_eq!(record["exit_code"], code, "{text}");
        assert_eq!(record["signal"].as_i64(), sig, "{text}");
        let finished = record["finished_unix_ns"].as_u64().unwrap();
        assert!(
            (before..=after).contains(&finished),
            "{before} <= {finished} <= {after}"
        );
        assert!(!scratch.path().join("exit.json.tmp").exists());
        // Like every other state file: the record may say more than its owner wants shown.
        assert_eq!(mode_of(&path), 0o600, "mode of {}", path.display());
    }
}

#[test]
fn bounding_caps_leave_the_command_only_the_capabilities_named() {
    require_root();
    let seen = run(
        pause_bin(),
        [
            "--bounding-caps",
            "0x5fb",
            "--",
            "grep",
            "CapBnd",
            "/proc/self/status",
        ],
    );
    assert_exit!(seen, 0);
    assert_eq!(seen.stdout.trim(), "CapBnd:\t00000000000005fb");
    // Also for a user that is not root (the set is dropped before setuid takes CAP_SETPCAP).
    let user = run(
        pause_bin(),
        [
            "--bounding-caps",
            "0",
            "--user",
            "65534",
            "--",
            "grep",
            "CapBnd",
            "/proc/self/status",
        ],
    );
    assert_exit!(user, 0);
    assert_eq!(user.stdout.trim(), "CapBnd:\t0000000000000000");
    assert_exit!(
        run(pause_bin(), ["--bounding-caps", "xyz", "--", "true"]),
        2
    );
}

#[test]
fn adopt_watches_the_process_a_launcher_leaves_behind() {
    require_root();
    let scratch = ScratchDir::new("pause-adopt");
    let pid_file = scratch.path().join("pid");
    let exit_file = scratch.path().join("exit.json");
    // Launchers that start a process, write its PID and exit, as `runc run --detach
    // --pid-file` does. The process's own parent (`setsid -f`, which forks and exits without
    // waiting, like a runtime's intermediate) leaves it to pause, the child subreaper: a shell
    // would reap it itself. The launcher waits for the PID file, as a runtime has written it
    // before it exits. In the second and third, the process ends while the launcher still
    // runs: its status must not be lost.
    let wait_for_file = "while [ ! -s \"$1\" ]; do sleep 0.01; done";
    let cases = [
        (
            format!(
                "setsid -f sh -c 'echo $$ > \"$1\"; sleep 0.3; exit 7' x \"$1\"; {wait_for_file}"
            ),
            7,
        ),
        (
            format!(
                "setsid -f sh -c 'echo $$ > \"$1\"; exit 9' x \"$1\"; {wait_for_file}; sleep 0.2"
            ),
            9,
        ),
        (
            format!(
                "setsid -f sh -c 'echo $$ > \"$1\"; kill -TERM $$' x \"$1\"; {wait_for_file}; sleep 0.2"
            ),
            143,
        ),
    ];
    // pause --adopt PIDFILE with `sh -c LAUNCHER launcher PIDFILE` as CMD, its exit file
    // removed first; pause and the read end of its sync pipe.
    let start = |launcher: &str| {
        let _ = std::fs::remove_file(&exit_file);
        let _ = std::fs::remove_file(&pid_file);
        let (read_end, write_end) = pipe();
        let mut cmd = pause_command(&[
            "--exit-file",
            exit_file.to_str().unwrap(),
            "--sync-fd",
            "3",
            "--adopt",
            pid_file.to_str().unwrap(),
            "--",
            "sh",
            "-c",
            launcher,
            "launcher",
            pid_file.to_str().unwrap(),
        ]);
        pass_fds(&mut cmd, &[(&write_end, 3)]);
        (Spawned::new(&mut cmd), read_end)
    };
    for (launcher, code) in &cases {
        let code = *code;
        let (mut pause, read_end) = start(launcher);
        let (pid, errno) = read_sync_line(read_end);
        assert_eq!(errno, 0);
        let written: i32 = std::fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert_eq!(pid, written, "{launcher}");
        assert_eq!(pause.wait(SOON).code(), Some(code), "{launcher}");
        let record: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&exit_file).unwrap()).unwrap();
        assert_eq!(record["pid"], pid, "{launcher}");
        assert_eq!(record["exit_code"], code, "{launcher}");
    }

    // A launcher that fails: pause exits with its code, reporting nothing, recording nothing.
    let (mut pause, read_end) = start("echo cannot start >&2; exit 3");
    let mut line = String::new();
    std::fs::File::from(read_end)
        .read_to_string(&mut line)
        .unwrap();
    assert_eq!(line, "");
    assert_eq!(pause.wait(SOON).code(), Some(3));
    assert!(!exit_file.exists());

    // A PID file that names no child of pause (PID 1), or no PID at all: 18, with a reason.
    for contents in ["1", "x"] {
        std::fs::write(&pid_file, contents).unwrap();
        let run = run(
            pause_bin(),
            ["--adopt", pid_file.to_str().unwrap(), "--", "true"],
        );
        assert_exit!(run, 18);
        assert!(run.stderr.contains("--adopt"), "{}", run.stderr);
    }
}

#[test]
fn exit_file_is_written_when_the_file_system_has_filled_up() {
    require_root();
    let tmpfs = Tmpfs::mount("256k");
    let path = tmpfs.path().join("exit.json");
    let (read_end, write_end) = pipe();
    let mut cmd = pause_command(&["--exit-file", path.to_str().unwrap(), "--sync-fd", "3"]);
    cmd.args(["--", "sh", "-c", "read go; exit 42"])
        .stdin(Stdio::piped());
    pass_fds(&mut cmd, &[(&write_end, 3)]);
    let mut pause = Spawned::new(&mut cmd);
    drop(write_end);
    let (pid, errno) = read_sync_line(read_end);
    assert_eq!(errno, 0);

    // While CMD runs, something else (its own logs, another container) takes every block.
    fill_up(&tmpfs.path().join("filler"));
    let probe = std::fs::write(tmpfs.path().join("probe"), "x");
    assert_eq!(
        probe.map_err(|e| e.raw_os_error()),
        Err(Some(libc::ENOSPC)),
        "the file system is not full"
    );
    let mut go = pause.0.stdin.take().unwrap();
    go.write_all(b"go\n").unwrap();
    drop(go);
    let status = pause.wait(SOON);
    assert_eq!(status.code(), Some(42));

    let stderr = pause.stderr();
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("no exit file ({e}); pause said: {stderr}"));
    let record: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(record["pid"], pid, "{text}");
    assert_eq!(record["exit_code"], 42, "{text}");
    assert_eq!(record["signal"], serde_json::Value::Null, "{text}");
    assert_eq!(mode_of(&path), 0o600);
    assert_eq!(stderr, "");
    // Nothing but the record is left next to it.
    let mut names: Vec<String> = std::fs::read_dir(tmpfs.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["exit.json", "filler", "probe"]);
}

/// Writes to a new file at `path` until the file system refuses with ENOSPC.
fn fill_up(path: &std::path::Path) {
    let mut filler = std::fs::File::create_new(path).unwrap();
    let chunk = vec![b'x'; 64 * 1024];
    loop {
        match filler.write(&chunk) {
            Ok(0) => panic!("a write of {} bytes wrote nothing", chunk.len()),
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => return,
            Err(e) => panic!("filling {}: {e}", path.display()),
        }
    }
}

fn mode_of(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

/// A tmpfs of a given size mounted on a scratch directory (so it can really fill up), unmounted
/// when dropped, before the directory is removed.
struct Tmpfs {
    dir: ScratchDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        let dir = ScratchDir::new("pause-tmpfs");
        let options = format!("size={size},mode=0700");
        nix::mount::mount(
            Some("tmpfs"),
            dir.path(),
            Some("tmpfs"),
            nix::mount::MsFlags::MS_NOSUID | nix::mount::MsFlags::MS_NODEV,
            Some(options.as_str()),
        )
        .unwrap_or_else(|e| panic!("mounting a tmpfs on {}: {e}", dir.path().display()));
        Tmpfs { dir }
    }

    fn path(&self) -> &std::path::Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(self.dir.path(), nix::mount::MntFlags::MNT_DETACH);
    }
}

fn unix_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

// ---- the controlling terminal ----

/// A pseudo-terminal. The program under test runs in a new session with the slave side as its
/// controlling terminal and stdio; the test types on the master side and reads what appears.
struct Pty {
    master: nix::pty::PtyMaster,
    slave: std::path::PathBuf,
    shown: Vec<u8>,
    consumed: usize,
}

impl Pty {
    fn open() -> Pty {
        use nix::fcntl::OFlag;
        // Close-on-exec, so what other tests start meanwhile never holds the terminal open.
        let flags = OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC;
        let master = nix::pty::posix_openpt(flags).unwrap();
        nix::pty::grantpt(&master).unwrap();
        nix::pty::unlockpt(&master).unwrap();
        let slave = nix::pty::ptsname_r(&master).unwrap().into();
        Pty {
            master,
            slave,
            shown: Vec::new(),
            consumed: 0,
        }
    }

    /// Makes `command` a session leader with this terminal as its controlling terminal and
    /// stdio, and default signal dispositions.
    fn attach(&self, command: &mut Command) {
        use std::os::unix::fs::OpenOptionsExt;
        let open = || {
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .custom_flags(libc::O_NOCTTY)
                .open(&self.slave)
                .unwrap()
        };
        command.stdin(open()).stdout(open()).stderr(open());
        fn become_session_leader() -> std::io::Result<()> {
            // SAFETY: setsid takes no arguments and is async-signal-safe.
            if unsafe { libc::setsid() } == -1 {
                return Err(std::io::Error::last_os_error());
            }
            // SAFETY: TIOCSCTTY takes an integer; fd 0 is the terminal (stdin, set above).
            if unsafe { libc::ioctl(0, libc::TIOCSCTTY, 0) } == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        }
        // SAFETY: setsid and ioctl are async-signal-safe, as pre_exec requires.
        unsafe { command.pre_exec(become_session_leader) };
        with_default_signals(command);
    }

    /// Turns the terminal's echo off: what shows up is what the programs write, not what the
    /// test types.
    fn no_echo(&self) {
        use nix::sys::termios::{LocalFlags, SetArg, tcgetattr, tcsetattr};
        // Mode changes through the master side apply to the terminal (the slave side).
        let mut modes = tcgetattr(&self.master).unwrap();
        modes.local_flags.remove(LocalFlags::ECHO);
        tcsetattr(&self.master, SetArg::TCSANOW, &modes).unwrap();
    }

    /// Types `keys` on the terminal.
    fn type_keys(&self, keys: &str) {
        let written = nix::unistd::write(&self.master, keys.as_bytes()).unwrap();
        assert_eq!(written, keys.len());
    }

    /// Waits until the terminal shows `text` after what earlier calls consumed, and consumes
    /// up to its end.
    fn expect(&mut self, text: &str) {
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        use std::os::fd::AsFd;
        let deadline = Instant::now() + SOON;
        loop {
            let unread = &self.shown[self.consumed..];
            if let Some(at) = unread
                .windows(text.len())
                .position(|window| window == text.as_bytes())
            {
                self.consumed += at + text.len();
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the terminal did not show {text:?} within {SOON:?}; it showed {:?}",
                String::from_utf8_lossy(&self.shown)
            );
            let mut fds = [PollFd::new(self.master.as_fd(), PollFlags::POLLIN)];
            if poll(&mut fds, PollTimeout::from(50u16)).unwrap() == 0 {
                continue;
            }
            let mut buf = [0u8; 4096];
            match nix::unistd::read(&self.master, &mut buf) {
                Ok(n) => self.shown.extend_from_slice(&buf[..n]),
                // Nobody has the slave side open (any more): nothing more will come.
                Err(nix::errno::Errno::EIO) => std::thread::sleep(Duration::from_millis(10)),
                Err(e) => panic!("reading the terminal: {e}"),
            }
        }
    }
}

/// `/proc/PID/stat` of a live process.
fn stat_of(pid: i32) -> procfs::process::Stat {
    procfs::process::Process::new(pid).unwrap().stat().unwrap()
}

/// Waits for a child of `parent` named `comm` and returns its PID.
fn child_named(parent: i32, comm: &str) -> i32 {
    let mut found = None;
    let appeared = wait_until(SOON, || {
        found = child_pids(parent)
            .into_iter()
            .find(|&child| comm_of(child).as_deref() == Some(comm));
        found.is_some()
    });
    assert!(
        appeared,
        "no child {comm} of {parent}: {:?}",
        child_pids(parent)
    );
    found.unwrap_or_default()
}

/// Fails unless `command` (pause's CMD) leads a process group of its own, not pause's, and that
/// group is the terminal's foreground group, so what the terminal sends reaches CMD alone.
fn assert_command_owns_the_terminal(pause: i32, command: i32) {
    let (pause, command) = (stat_of(pause), stat_of(command));
    assert_eq!(
        command.pgrp, command.pid,
        "CMD does not lead a process group"
    );
    assert_ne!(command.pgrp, pause.pgrp, "CMD is in pause's process group");
    assert_eq!(
        command.tpgid, command.pgrp,
        "the terminal's foreground group is not CMD's"
    );
}

/// Waits until pause has taken every signal sent to it (and so forwarded what it forwards).
fn wait_signals_taken(pid: i32) {
    let idle = wait_until(SOON, || {
        status_field(pid, "SigPnd") == "0000000000000000"
            && status_field(pid, "ShdPnd") == "0000000000000000"
            && std::fs::read_to_string(format!("/proc/{pid}/wchan"))
                .is_ok_and(|wchan| wchan.contains("sigtimedwait"))
    });
    assert!(idle, "pause {pid} still has signals to take");
}

/// How pause runs on the terminal: as a plain process, or as PID 1 of a new PID namespace
/// (under `unshare --fork`, in unshare's process group).
#[derive(Clone, Copy, Debug)]
enum Role {
    Plain,
    Pid1,
}

impl Role {
    const ALL: [Role; 2] = [Role::Plain, Role::Pid1];

    /// The command line that runs `pause ARGS...` in this role.
    fn argv(self, args: &[&str]) -> Vec<String> {
        let pause = pause_bin().to_string_lossy().into_owned();
        let mut argv = match self {
            Role::Plain => vec![pause],
            Role::Pid1 => ["unshare", "--pid", "--fork", "--kill-child", &pause]
                .map(str::to_owned)
                .to_vec(),
        };
        argv.extend(args.iter().map(|arg| (*arg).to_owned()));
        argv
    }

    /// pause's PID, given the PID of what `argv` started.
    fn pause_pid(self, started: i32) -> i32 {
        match self {
            Role::Plain => started,
            Role::Pid1 => child_named(started, "pause"),
        }
    }
}

#[test]
fn ctrl_c_and_ctrl_backslash_reach_the_command_once_in_its_own_foreground_group() {
    require_root();
    // Were CMD in pause's process group, the terminal would signal both, and pause would
    // forward its copy: CMD would get each signal twice (or once, if the two coalesce).
    let script = "i=0; q=0; \
        trap 'i=$((i+1)); echo int $i' INT; trap 'q=$((q+1)); echo quit $q' QUIT; \
        trap 'echo ints=$i quits=$q; exit 0' USR1; \
        echo ready; while :; do sleep 1 & wait $!; done";
    for role in Role::ALL {
        let mut pty = Pty::open();
        let argv = role.argv(&["--", "sh", "-c", script]);
        let mut command = Command::new(&argv[0]);
        command.args(&argv[1..]);
        pty.attach(&mut command);
        let mut started = Spawned::new(&mut command);
        pty.expect("ready");
        let pause = role.pause_pid(started.pid());
        let sh = child_named(pause, "sh");
        assert_command_owns_the_terminal(pause, sh);

        pty.type_keys("\x03");
        pty.expect("int 1");
        pty.type_keys("\x1c");
        pty.expect("quit 1");
        // A copy forwarded by pause would be on its way to sh by now.
        wait_signals_taken(pause);
        signal(sh, Signal::SIGUSR1);
        pty.expect("ints=");
        pty.expect("\n");
        let counts = String::from_utf8_lossy(&pty.shown).into_owned();
        assert!(
            counts.contains("ints=1 quits=1\r\n"),
            "{role:?}: CMD did not get each signal once: {counts:?}"
        );
        assert_eq!(started.wait(SOON).code(), Some(0), "{role:?}");
    }
}

#[test]
fn ctrl_z_stops_pause_with_its_command_and_fg_resumes_both() {
    require_root();
    // An interactive bash is the job-control shell, as on a real terminal. Its job is pause (or
    // unshare, with pause as PID 1 in the job's process group); CMD, cat, has its own group.
    // Ctrl-Z stops cat, and bash can only see its job stop if pause stops too. PID 1 cannot
    // stop: there Ctrl-Z does nothing (pause continues cat at once).
    for role in Role::ALL {
        let mut pty = Pty::open();
        let mut command = Command::new("bash");
        command
            .args(["--norc", "--noprofile", "-i"])
            .env("PS1", "PROMPT> ")
            .env("TERM", "dumb")
            .env_remove("PROMPT_COMMAND")
            .env("HISTFILE", "/dev/null");
        pty.attach(&mut command);
        let mut bash = Spawned::new(&mut command);
        pty.expect("PROMPT> ");
        // Only what cat writes shows up, not an echo of what the test types for it.
        pty.type_keys("stty -echo\n");
        pty.expect("PROMPT> ");
        pty.type_keys(&format!("{} -- cat\n", role.argv(&[]).join(" ")));
        let job = child_named(
            bash.pid(),
            if let Role::Plain = role {
                "pause"
            } else {
                "unshare"
            },
        );
        let pause = role.pause_pid(job);
        let cat = child_named(pause, "cat");
        let handed_over = wait_until(SOON, || stat_of(cat).tpgid == cat);
        assert!(handed_over, "{role:?}: cat never got the terminal");
        assert_command_owns_the_terminal(pause, cat);
        pty.type_keys("ping1\n");
        pty.expect("ping1");

        pty.type_keys("\x1a");
        if let Role::Plain = role {
            pty.expect("Stopped");
            pty.expect("PROMPT> ");
            let stopped = wait_until(SOON, || {
                stat_of(cat).state == 'T' && stat_of(pause).state == 'T'
            });
            assert!(
                stopped,
                "cat {:?}, pause {:?}",
                stat_of(cat),
                stat_of(pause)
            );
            assert_eq!(
                stat_of(cat).tpgid,
                bash.pid(),
                "bash did not get the terminal back"
            );

            // In the background cat reads the terminal, so the kernel stops it (SIGTTIN), and
            // pause stops its job again.
            pty.type_keys("bg\n");
            pty.expect("PROMPT> ");
            let stopped_again = wait_until(SOON, || {
                stat_of(cat).state == 'T' && stat_of(pause).state == 'T'
            });
            assert!(stopped_again, "after bg: cat {:?}", stat_of(cat));
            pty.type_keys("jobs\n");
            pty.expect("Stopped");
            pty.expect("PROMPT> ");

            pty.type_keys("fg\n");
            let resumed = wait_until(SOON, || {
                let cat = stat_of(cat);
                cat.state != 'T' && cat.tpgid == cat.pgrp
            });
            assert!(resumed, "cat {:?} after fg", stat_of(cat));
        }
        pty.type_keys("ping2\n");
        pty.expect("ping2");
        assert_eq!(stat_of(cat).tpgid, cat, "{role:?}: cat lost the terminal");
        // End of file for cat: it exits 0, and so does its job.
        pty.type_keys("\x04");
        pty.expect("PROMPT> ");
        pty.type_keys("echo code=$?\n");
        pty.expect("code=0");
        pty.type_keys("exit\n");
        assert_eq!(bash.wait(SOON).code(), Some(0), "{role:?}");
    }
}

#[test]
fn ctrl_z_does_not_hang_the_terminal_when_nothing_can_resume_pause() {
    require_root();
    // pause leads (or, as PID 1, is in) a session of its own: no job-control shell above it
    // could ever send SIGCONT. Its process group is orphaned, so the kernel does not stop it on
    // SIGTSTP (nor PID 1 ever); pause then gives the terminal back to cat and continues it.
    for role in Role::ALL {
        let mut pty = Pty::open();
        pty.no_echo();
        let argv = role.argv(&["--", "cat"]);
        let mut command = Command::new(&argv[0]);
        command.args(&argv[1..]);
        pty.attach(&mut command);
        let mut started = Spawned::new(&mut command);
        let pause = role.pause_pid(started.pid());
        let cat = child_named(pause, "cat");
        let handed_over = wait_until(SOON, || stat_of(cat).tpgid == cat);
        assert!(handed_over, "{role:?}: cat never got the terminal");
        pty.type_keys("ping1\n");
        pty.expect("ping1");
        pty.type_keys("\x1a");
        pty.type_keys("ping2\n");
        pty.expect("ping2");
        let cat_stat = stat_of(cat);
        assert_ne!(cat_stat.state, 'T', "{role:?}");
        assert_eq!(cat_stat.tpgid, cat, "{role:?}");
        pty.type_keys("\x04");
        assert_eq!(started.wait(SOON).code(), Some(0), "{role:?}");
    }
}

// ---- --grace (PID 1 only) ----

/// The shell snippet of a process that ignores SIGTERM (an ignored signal stays ignored
/// across exec) and one that does not, both in the background. It goes on only once the
/// stubborn one ignores SIGTERM, which it says by creating `marker`: a SIGTERM sent before
/// that (a shell that exits at once makes pause send it at once) would end both. (`/proc` is
/// the host's, so the script cannot look there with the PIDs of its own namespace.)
fn stubborn_and_meek(marker: &std::path::Path) -> String {
    let marker = marker.display();
    format!(
        "(trap '' TERM; : >{marker}; exec sleep 100) & (exec sleep 100) & \
         while [ ! -e {marker} ]; do sleep 0.01; done;"
    )
}

#[test]
fn grace_sigkills_what_ignores_sigterm_at_the_deadline_and_keeps_the_code() {
    require_root();
    let scratch = ScratchDir::new("pause-grace");
    let exit_file = scratch.path().join("exit.json");
    let script = format!(
        "{} exit 3",
        stubborn_and_meek(&scratch.path().join("stubborn"))
    );
    let start = Instant::now();
    let mut pause = PidNamespace::start(
        pause_bin(),
        [
            "--grace",
            "1",
            "--exit-file",
            exit_file.to_str().unwrap(),
            "--",
            "sh",
            "-c",
            &script,
        ],
    );
    // The exit file comes first, while the grace period runs: SIGTERM removed the meek
    // sleep, the stubborn one is still there.
    assert!(wait_until(SOON, || exit_file.exists()), "no exit file");
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&exit_file).unwrap()).unwrap();
    assert_eq!(record["exit_code"], 3);
    assert!(
        wait_until(SOON, || child_pids(pause.pid()).len() == 1),
        "{:?}",
        child_pids(pause.pid())
    );
    assert!(
        start.elapsed() < Duration::from_millis(900),
        "too slow to test the deadline"
    );
    assert!(is_alive(pause.pid()), "pause left before the deadline");

    let run = pause.wait(SOON).expect("pause did not exit");
    let elapsed = start.elapsed();
    assert_exit!(run, 3);
    assert!(
        elapsed >= Duration::from_secs(1),
        "exited after {elapsed:?}, before the deadline"
    );
    assert!(elapsed < Duration::from_secs(4), "exited after {elapsed:?}");
}

#[test]
fn grace_ends_early_when_everything_exits_on_sigterm() {
    require_root();
    // The whole namespace is gone within milliseconds, too soon for `PidNamespace::start` to
    // be sure to see its init: run unshare to the end instead.
    let start = Instant::now();
    let mut unshare = Command::new("unshare");
    unshare
        .args(["--pid", "--fork", "--kill-child"])
        .arg(pause_bin())
        .args([
            "--grace",
            "30",
            "--",
            "sh",
            "-c",
            "sleep 100 & sleep 100 & exit 5",
        ]);
    let run = run_with_timeout(unshare, b"", SOON);
    assert_exit!(run, 5);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "took {:?}",
        start.elapsed()
    );
}

#[test]
fn grace_on_sigterm_stops_everyone_and_keeps_the_commands_code() {
    require_root();
    let scratch = ScratchDir::new("pause-grace-term");
    let script = format!(
        "trap 'exit 9' TERM; {} echo ready; while :; do sleep 100 & wait $!; done",
        stubborn_and_meek(&scratch.path().join("stubborn"))
    );
    let mut pause = PidNamespace::start(pause_bin(), ["--grace", "1", "--", "sh", "-c", &script]);
    assert_eq!(pause.read_stdout_line(), "ready\n");
    pause.wait_signals_blocked();
    let start = Instant::now();
    pause.signal(Signal::SIGTERM);
    let run = pause.wait(SOON).expect("pause did not exit");
    let elapsed = start.elapsed();
    assert_exit!(run, 9);
    assert!(
        elapsed >= Duration::from_millis(950),
        "the stubborn sleep was not waited for: {elapsed:?}"
    );
    assert!(elapsed < Duration::from_secs(4), "took {elapsed:?}");
}

#[test]
fn grace_is_a_no_op_when_not_pid1() {
    require_root();
    // pause must neither wait for the background sleep nor signal it (kill(-1) outside a
    // PID namespace would hit the whole host).
    let start = Instant::now();
    let run = run(
        pause_bin(),
        [
            "--grace",
            "30",
            "--",
            "sh",
            "-c",
            "sleep 100 >/dev/null 2>&1 & echo $!; exit 4",
        ],
    );
    let sleeper: i32 = run.stdout.trim().parse().unwrap();
    let alive = is_alive(sleeper);
    signal(sleeper, Signal::SIGKILL);
    assert_exit!(run, 4);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "took {:?}",
        start.elapsed()
    );
    assert!(alive, "the background sleep was signalled");
}
