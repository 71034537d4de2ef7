//! Defects that outside testing found in the first version (issue 10, section 3), one test
//! each, numbered as the issue numbers them. Each failed before its fix. The pause ones (16,
//! 17, and pause's halves of 4 and 13) live in `pause.rs`.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use sandbox_tests::{
    Pod, Run, StateRoot, assert_exit, inode_of, is_alive, is_mounted, json_of, require_root, run,
    run_with_timeout, sandbox, sandbox_bin, sandbox_command, signal_in_mask, unique_name,
    wait_until,
};

/// Runs `ip ARGS...`, panicking unless it succeeds.
fn ip(args: &[&str]) {
    let ip = run("ip", args);
    assert_exit!(ip, 0);
}

/// A network namespace made with `ip netns add`, deleted on drop.
struct IpNetns(String);

impl IpNetns {
    fn add(name: &str) -> IpNetns {
        ip(&["netns", "add", name]);
        IpNetns(name.to_owned())
    }

    fn path(&self) -> PathBuf {
        Path::new("/run/netns").join(&self.0)
    }
}

impl Drop for IpNetns {
    fn drop(&mut self) {
        let _ = run("ip", ["netns", "delete", &self.0]);
    }
}

/// Removes pod `name` from `root` with `sandbox rm --force` when dropped, so a test that fails
/// halfway leaves no pause running (for tests that work with a root of their own rather than a
/// [`Pod`]).
struct RemovedOnDrop {
    root: PathBuf,
    name: String,
}

impl Drop for RemovedOnDrop {
    fn drop(&mut self) {
        let _ = sandbox(&self.root, &["rm", "--force", &self.name]);
    }
}

/// A state root on a tmpfs of its own, small enough to fill; unmounted on drop.
struct SmallFs {
    mount_point: PathBuf,
}

impl SmallFs {
    fn new() -> SmallFs {
        let mount_point = std::env::temp_dir().join(unique_name("sandbox-smallfs"));
        std::fs::create_dir(&mount_point).unwrap();
        let mount = run(
            "mount",
            [
                "-t",
                "tmpfs",
                "-o",
                "size=2m,mode=0700",
                "tmpfs",
                mount_point.to_str().unwrap(),
            ],
        );
        assert_exit!(mount, 0);
        SmallFs { mount_point }
    }

    fn root(&self) -> PathBuf {
        self.mount_point.join("root")
    }

    /// Writes a file until the file system has no space left.
    fn fill(&self) {
        use std::io::Write;
        let mut filler = std::fs::File::create(self.mount_point.join("filler")).unwrap();
        let block = vec![0u8; 4096];
        while filler.write_all(&block).is_ok() {}
        let _ = filler.sync_all();
        assert!(
            std::fs::write(self.mount_point.join("probe"), b"x").is_err(),
            "the file system is not full"
        );
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.mount_point.join("filler"));
        let _ = nix::mount::umount2(&self.mount_point, nix::mount::MntFlags::MNT_DETACH);
        let _ = std::fs::remove_dir(&self.mount_point);
    }
}

/// `strace STRACE... sandbox --root ROOT ARGS...` (no -f: strace would wait for a pause).
pub(crate) fn traced_sandbox(root: &Path, strace: &[&str], args: &[&str]) -> Command {
    let mut cmd = Command::new("strace");
    cmd.arg("-qq")
        .args(strace)
        .arg(sandbox_bin())
        .arg("--root")
        .arg(root)
        .args(args);
    cmd.env_remove("SANDBOX_ROOT").env_remove("SANDBOX_PAUSE");
    if let Some(pause) = std::env::var_os("PAUSE_BIN") {
        cmd.env("SANDBOX_PAUSE", pause);
    }
    cmd
}

/// `sandbox ARGS...`, SIGKILLed by strace when it enters its `when`-th call of `syscall` (as a
/// crash or a kill of the CLI would at that point).
pub(crate) fn sandbox_killed_at(root: &Path, syscall: &str, when: usize, args: &[&str]) -> Run {
    let trace = format!("trace={syscall}");
    let inject = format!("inject={syscall}:signal=KILL:when={when}");
    let cmd = traced_sandbox(
        root,
        &["-o", "/dev/null", "-e", &trace, "-e", &inject],
        args,
    );
    run_with_timeout(cmd, b"", Duration::from_secs(60))
}

/// The files in `dir` and below whose names end in `.tmp`.
fn temporary_files(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        if entry.file_type().unwrap().is_dir() {
            found.extend(temporary_files(&path));
        } else if path.to_string_lossy().ends_with(".tmp") {
            found.push(path.display().to_string());
        }
    }
    found
}

// ---- 1: rm touches only the pod's own netns pin ----

#[test]
fn d01_rm_leaves_a_netns_pin_that_is_not_the_pods_alone() {
    require_root();
    // `ip netns delete NAME; ip netns add NAME`: the path names another namespace now.
    let pod = Pod::create(&[]);
    let ours = pod.ns_inode("net");
    ip(&["netns", "delete", pod.name()]);
    let foreign = IpNetns::add(pod.name());
    let theirs = inode_of(foreign.path());
    assert_ne!(theirs, ours);
    let rm = pod.sandbox(&["rm", "--force", pod.name()]);
    assert_exit!(rm, 0);
    assert!(rm.stderr.contains("leaving /run/netns/"), "{rm:?}");
    assert!(is_mounted(foreign.path()), "the foreign pin was unmounted");
    assert_eq!(inode_of(foreign.path()), theirs);

    // A forged record naming another pin.
    let pod = Pod::create(&[]);
    let other = IpNetns::add(&unique_name("foreign"));
    let other_inode = inode_of(other.path());
    let state = pod.dir().join("state.json");
    let mut record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    record["netns_path"] = other.path().display().to_string().into();
    std::fs::write(&state, record.to_string()).unwrap();
    let rm = pod.sandbox(&["rm", "--force", pod.name()]);
    assert_exit!(rm, 0);
    assert!(
        is_mounted(other.path()),
        "rm -f unmounted a pin it did not make"
    );
    assert_eq!(inode_of(other.path()), other_inode);
    assert!(!pod.netns_path().exists(), "the pod's own pin was left");
}

// ---- 2: a symlinked pod directory is never followed ----

#[test]
fn d02_a_pod_directory_that_is_a_symlink_is_refused_and_its_target_untouched() {
    require_root();
    let root = StateRoot::new();
    assert_exit!(root.sandbox(&["ps"]), 0);
    let target = std::env::temp_dir().join(unique_name("sandbox-target"));
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("precious"), b"keep me").unwrap();
    std::fs::write(target.join("state.json"), b"{}").unwrap();
    let link = root.path().join("evil");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    for args in [
        &["rm", "--force", "evil"][..],
        &["rm", "evil"],
        &["inspect", "evil"],
        &["stop", "evil"],
    ] {
        let refused = root.sandbox(args);
        assert_exit!(refused, 125);
        assert!(refused.stderr.contains("symlink"), "{args:?}: {refused:?}");
    }
    assert_eq!(
        std::fs::read(target.join("precious")).unwrap(),
        b"keep me",
        "rm emptied the symlink's target"
    );
    std::fs::remove_file(&link).unwrap();
    std::fs::remove_dir_all(&target).unwrap();
}

// ---- 3: a stop interrupted after its report keeps the report ----

#[test]
fn d03_a_stop_killed_after_stopping_the_containers_keeps_their_report() {
    require_root();
    let pod = Pod::create(&[]);
    pod.run("app", &[], &["sleep", "1000"]);
    // The first signal stop sends is the container's SIGTERM, the second pause's SIGTERM:
    // killed there, the containers are stopped and reported, pause is not.
    let killed = sandbox_killed_at(
        pod.root(),
        "pidfd_send_signal",
        2,
        &["stop", pod.name(), "-t", "5"],
    );
    assert_eq!(killed.code, None, "stop was not killed: {killed:?}");
    let again = pod.sandbox(&["stop", pod.name(), "--json"]);
    assert_exit!(again, 0);
    let report = json_of(&again);
    let app = &report["containers"][0];
    assert_eq!(app["ended"], "stop-signal", "{report}");
    assert_eq!(app["exit_code"], 143, "{report}");
    assert_eq!(pod.inspect()["state"], "stopped");
}

// ---- 4: a full state file system does not keep a pod running ----

#[test]
fn d04_stop_stops_a_pod_on_a_full_state_file_system_and_keeps_the_exit_code() {
    require_root();
    let fs = SmallFs::new();
    let root = fs.root();
    let sandbox = |args: &[&str]| sandbox(&root, args);
    let name = unique_name("full");
    let _cleanup = RemovedOnDrop {
        root: root.clone(),
        name: name.clone(),
    };
    assert_exit!(sandbox(&["create", &name]), 0);
    assert_exit!(
        sandbox(&["run", &name, "--name", "app", "--", "sleep", "1000"]),
        0
    );
    let inspect = json_of(&sandbox(&["inspect", &name]));
    let pause = inspect["pid"].as_i64().unwrap() as i32;
    let app = inspect["containers"][0]["pid"].as_i64().unwrap() as i32;
    fs.fill();
    let stop = sandbox(&["stop", &name, "-t", "5", "--json"]);
    assert_exit!(stop, 0);
    assert!(stop.stderr.contains("No space left"), "{stop:?}");
    assert!(wait_until(Duration::from_secs(5), || !is_alive(pause)
        && !is_alive(app)));
    let report = json_of(&stop);
    assert_eq!(report["containers"][0]["exit_code"], 143, "{report}");
    std::fs::remove_file(fs.mount_point.join("filler")).unwrap();
    let waited = sandbox(&["wait", &name, "app"]);
    assert_exit!(waited, 143);
    assert_exit!(sandbox(&["rm", &name]), 0);
}

// ---- 5: no lock file for a pod that does not exist ----

#[test]
fn d05_commands_on_missing_pods_and_failed_creates_leave_no_lock_file() {
    require_root();
    let root = StateRoot::new();
    let name = unique_name("missing");
    for args in [
        &["stop", &name][..],
        &["stop", &name, "c"],
        &["exec", &name, "--", "true"],
        &["run", &name, "--name", "c", "--", "true"],
        &["rm", &name],
        &["rm", &name, "c"],
        &["rm", "--force", &name],
        &["inspect", &name],
        &["wait", &name, "c"],
        &["logs", &name, "c"],
    ] {
        let refused = root.sandbox(args);
        assert_exit!(refused, 125);
        assert!(
            refused.stderr.contains("does not exist"),
            "{args:?}: {refused:?}"
        );
    }
    // A create that fails: the name is taken by `ip netns`.
    let taken = IpNetns::add(&name);
    let refused = root.sandbox(&["create", taken.0.as_str()]);
    assert_exit!(refused, 125);
    let locks: Vec<_> = std::fs::read_dir(root.path().join(".locks"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(locks.is_empty(), "lock files left: {locks:?}");
}

// ---- 6: -t 0 reports a death by the stop signal as such ----

#[test]
fn d06_stop_t0_reports_a_container_that_died_of_sigterm_as_stopped_by_it() {
    require_root();
    let pod = Pod::create(&[]);
    // The default action of SIGTERM: the kernel fixes the exit at SIGTERM as it is sent,
    // before the SIGKILL that -t 0 sends right after it.
    pod.run("polite", &[], &["sleep", "1000"]);
    pod.run(
        "stubborn",
        &[],
        &["sh", "-c", "trap '' TERM; while :; do sleep 1; done"],
    );
    let stubborn = pod.container("stubborn")["pid"].as_i64().unwrap() as i32;
    assert!(wait_until(Duration::from_secs(10), || signal_in_mask(
        stubborn,
        "SigIgn",
        libc::SIGTERM
    )));
    let stop = pod.sandbox(&["stop", pod.name(), "-t", "0", "--json"]);
    assert_exit!(stop, 0);
    let report = json_of(&stop);
    let of = |name: &str| sandbox_tests::report_of(&report, name);
    assert_eq!(of("polite")["exit_code"], 143, "{report}");
    assert_eq!(of("polite")["ended"], "stop-signal", "{report}");
    assert_eq!(of("stubborn")["exit_code"], 137, "{report}");
    assert_eq!(of("stubborn")["ended"], "killed", "{report}");
}

// ---- 7: a relative --root is made absolute ----

#[test]
fn d07_a_relative_root_works_from_any_directory() {
    require_root();
    let base = StateRoot::new();
    let name = unique_name("rel");
    let _cleanup = RemovedOnDrop {
        root: base.path().join("relative-root"),
        name: name.clone(),
    };
    let mut create = sandbox_command(Path::new("relative-root"));
    create.current_dir(base.path()).args(["create", &name]);
    assert_exit!(run_with_timeout(create, b"", Duration::from_secs(60)), 0);
    let root = base.path().join("relative-root");
    let inspect = json_of(&sandbox(&root, &["inspect", &name]));
    for (kind, pin) in inspect["namespaces"].as_object().unwrap() {
        let path = pin["path"].as_str().unwrap();
        assert!(path.starts_with(root.to_str().unwrap()), "{kind}: {path}");
    }
    // From another directory, with the absolute root: joining works.
    assert_exit!(sandbox(&root, &["exec", &name, "--", "true"]), 0);
    assert_exit!(sandbox(&root, &["rm", "--force", &name]), 0);
}

// ---- 8: every bad timeout is 125 with a message ----

#[test]
fn d08_bad_timeouts_are_refused_with_a_message_never_a_panic() {
    require_root();
    let pod = Pod::create(&[]);
    for bad in [
        "1e20",
        "18446744073709551616",
        "-1",
        "inf",
        "NaN",
        "abc",
        "",
    ] {
        let stop = pod.sandbox(&["stop", pod.name(), "-t", bad]);
        assert_exit!(stop, 125);
        assert!(stop.stderr.contains("--timeout"), "{bad}: {stop:?}");
        assert!(!stop.stderr.contains("tip:"), "{bad}: {stop:?}");
        assert!(!stop.stderr.contains("panicked"), "{bad}: {stop:?}");
    }
    assert_eq!(pod.inspect()["state"], "running");
}

// ---- 9: --user is validated once, and a failed run keeps its reason ----

#[test]
fn d09_uid_minus_one_is_refused_and_a_failed_run_says_what_its_monitor_said() {
    require_root();
    let pod = Pod::create(&[]);
    for user in ["4294967295", "0:4294967295"] {
        let run = pod.try_run("c", &["--user", user], &["true"]);
        assert_exit!(run, 125);
        assert!(run.stderr.contains("(uid_t)-1"), "{run:?}");
        let exec = pod.exec_with(&["--user", user], &["true"]);
        assert_exit!(exec, 125);
    }
    assert!(pod.container_dirs().is_empty());
    // A monitor that fails before it reports (here: a static binary that is no pause): the
    // error quotes what it said, although the rollback removed its log.
    let not_pause = sandbox_bin();
    let mut cmd = sandbox_command(pod.root());
    cmd.env("SANDBOX_PAUSE", &not_pause)
        .args(["run", pod.name(), "--name", "c", "--", "true"]);
    let run = run_with_timeout(cmd, b"", Duration::from_secs(60));
    assert_exit!(run, 125);
    assert!(run.stderr.contains("it said: error:"), "{run:?}");
    assert_eq!(run.stderr.lines().count(), 1, "{run:?}");
    assert!(pod.container_dirs().is_empty());
}

// ---- 10: no symlink in any component of the root ----

#[test]
fn d10_a_root_below_a_symlink_is_refused() {
    require_root();
    let real = StateRoot::new();
    let link = std::env::temp_dir().join(unique_name("sandbox-link"));
    std::os::unix::fs::symlink(real.path(), &link).unwrap();
    for root in [link.join(""), link.join("sub"), link.join("a/b")] {
        let refused = sandbox(&root, &["ps"]);
        assert_exit!(refused, 125);
        assert!(refused.stderr.contains("is a symlink"), "{refused:?}");
    }
    assert_eq!(real.entries(), Vec::<String>::new());
    std::fs::remove_file(&link).unwrap();
}

// ---- 13: no temporary record is left by a killed command ----

#[test]
fn d13_a_killed_stop_leaves_no_temporary_file_once_the_next_stop_is_done() {
    require_root();
    let pod = Pod::create(&[]);
    pod.run("app", &[], &["sleep", "1000"]);
    // Killed at its first rename: its record is written to state.json.tmp and not renamed.
    let killed = sandbox_killed_at(pod.root(), "rename", 1, &["stop", pod.name(), "-t", "5"]);
    assert_eq!(killed.code, None, "stop was not killed: {killed:?}");
    assert!(
        pod.dir().join("state.json.tmp").exists(),
        "nothing to clean up: {:?}",
        temporary_files(&pod.dir())
    );
    assert_exit!(pod.sandbox(&["stop", pod.name(), "-t", "5"]), 0);
    assert_eq!(temporary_files(&pod.dir()), Vec::<String>::new());
    for file in ["state.json", "containers/app/state.json"] {
        let mode = std::fs::metadata(pod.dir().join(file)).unwrap().mode();
        assert_eq!(mode & 0o777, 0o600, "{file}");
    }
}

// ---- 14: clap's tips and the hostname a name stands in for ----

#[test]
fn d14_a_name_that_is_no_hostname_says_so_and_negative_numbers_are_values() {
    require_root();
    let root = StateRoot::new();
    let name = format!("{}-", unique_name("host"));
    let _cleanup = RemovedOnDrop {
        root: root.path().to_owned(),
        name: name.clone(),
    };
    let refused = root.sandbox(&["create", &name]);
    assert_exit!(refused, 125);
    assert!(refused.stderr.contains("--hostname"), "{refused:?}");
    assert_exit!(root.sandbox(&["create", &name, "--hostname", "web"]), 0);
    let stop = root.sandbox(&["stop", &name, "-t", "-1"]);
    assert_exit!(stop, 125);
    assert!(stop.stderr.contains("0 or more"), "{stop:?}");
    assert!(!stop.stderr.contains("tip:"), "{stop:?}");
    assert_exit!(root.sandbox(&["rm", "--force", &name]), 0);
}

// ---- 15: a pause that dies at once is reported with what it said ----

#[test]
fn d15_a_pause_that_dies_at_once_is_reported_with_what_it_said() {
    require_root();
    let root = StateRoot::new();
    let name = unique_name("dies");
    let _cleanup = RemovedOnDrop {
        root: root.path().to_owned(),
        name: name.clone(),
    };
    // A static binary that is no pause: it prints a usage error and exits. Each mount of a pin
    // is slowed down by a second, so that it has exited by the time the second namespace is opened.
    let delayed = [
        "-o",
        "/dev/null",
        "-e",
        "trace=mount",
        "-e",
        "inject=mount:delay_enter=1000000",
    ];
    let mut cmd = traced_sandbox(root.path(), &delayed, &["create", &name]);
    cmd.env("SANDBOX_PAUSE", sandbox_bin());
    let create = run_with_timeout(cmd, b"", Duration::from_secs(60));
    assert_exit!(create, 125);
    // What it said begins with the first line of `sandbox`'s own help.
    assert!(
        create
            .stderr
            .contains("exited at once; it said: Kubernetes-style pod sandboxes"),
        "{create:?}"
    );
    assert!(!create.stderr.contains("/proc/"), "{create:?}");
    assert_eq!(create.stderr.lines().count(), 1, "{create:?}");
    assert_eq!(root.entries(), Vec::<String>::new());
    assert!(!Path::new("/run/netns").join(&name).exists());
}

// ---- 18: state writes are not synced (measured; see ARCHITECTURE.md) ----

#[test]
fn d18_state_writes_make_no_fsync() {
    require_root();
    let root = StateRoot::new();
    let name = unique_name("sync");
    let _cleanup = RemovedOnDrop {
        root: root.path().to_owned(),
        name: name.clone(),
    };
    let count_syncs = [
        "-c",
        "-U",
        "name,calls",
        "-e",
        "trace=fsync,fdatasync,sync_file_range,syncfs",
    ];
    let cmd = traced_sandbox(root.path(), &count_syncs, &["create", &name]);
    let traced = run_with_timeout(cmd, b"", Duration::from_secs(60));
    assert_exit!(traced, 0);
    assert!(
        !traced.stderr.contains("sync"),
        "create synced: {}",
        traced.stderr
    );
    assert_exit!(root.sandbox(&["rm", "--force", &name]), 0);
}

// ---- 11: a Ctrl-C typed at a terminal reaches an exec'd command once ----

/// In a child before exec: a session of its own, whose controlling terminal is the one on
/// stdin (as a login shell has it).
fn take_the_terminal() -> std::io::Result<()> {
    nix::unistd::setsid()?;
    // SAFETY: TIOCSCTTY on stdin takes an integer argument; no memory is passed.
    if unsafe { libc::ioctl(0, libc::TIOCSCTTY, 0) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[test]
fn d11_a_ctrl_c_typed_at_the_terminal_reaches_an_exec_command_once() {
    use std::io::{Read, Write};
    use std::os::unix::process::CommandExt;

    require_root();
    let pod = Pod::create(&[]);
    let pty = nix::pty::openpty(None, None).unwrap();
    // The command says which process group it is in and which one has the terminal: its own,
    // or else the terminal's Ctrl-C reaches sandbox and pause too, which forward it again.
    // Then it counts the SIGINTs it gets, in busy loops of builtins (a shell runs a trap
    // between two commands; waiting on an external command would merge repeated signals).
    let script = "set -- $(ps -o pgid=,tpgid= -p $$); echo \"groups pid=$$ pgid=$1 tpgid=$2\"; \
                  n=0; trap 'n=$((n+1))' INT; echo ready; \
                  while [ $n -eq 0 ]; do :; done; \
                  i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; echo \"total $n\"";
    let mut cmd = sandbox_command(pod.root());
    cmd.args(["exec", "-i", pod.name(), "--", "sh", "-c", script])
        .stdin(pty.slave.try_clone().unwrap())
        .stdout(pty.slave.try_clone().unwrap())
        .stderr(pty.slave.try_clone().unwrap());
    // SAFETY: the hook only makes async-signal-safe system calls and allocates nothing.
    unsafe { cmd.pre_exec(take_the_terminal) };
    let mut child = cmd.spawn().unwrap();
    drop(pty.slave);
    let mut master = std::fs::File::from(pty.master);
    let mut seen = String::new();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let mut reader = master.try_clone().unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0
                || tx
                    .send(String::from_utf8_lossy(&buf[..n]).into_owned())
                    .is_err()
            {
                break;
            }
        }
    });
    let pump = |seen: &mut String| {
        while let Ok(chunk) = rx.try_recv() {
            seen.push_str(&chunk);
        }
    };
    assert!(
        wait_until(Duration::from_secs(20), || {
            pump(&mut seen);
            seen.contains("ready")
        }),
        "no ready: {seen:?}"
    );
    let groups = seen
        .lines()
        .find_map(|line| line.trim().strip_prefix("groups "))
        .unwrap_or_else(|| panic!("no groups line: {seen:?}"))
        .to_owned();
    let ids: Vec<&str> = groups
        .split_whitespace()
        .map(|field| field.split('=').nth(1).unwrap())
        .collect();
    assert!(
        ids[0] == ids[1] && ids[1] == ids[2],
        "the command is not the terminal's foreground group of its own: {groups}"
    );
    master.write_all(b"\x03").unwrap();
    assert!(
        wait_until(Duration::from_secs(20), || {
            pump(&mut seen);
            seen.contains("total")
        }),
        "no total: {seen:?}"
    );
    assert!(seen.contains("total 1"), "SIGINT count: {seen:?}");
    assert_eq!(child.wait().unwrap().code(), Some(0), "{seen:?}");
}
