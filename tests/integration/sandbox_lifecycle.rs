//! `sandbox create / inspect / ps / exec / stop / rm` against real namespaces, mounts and
//! processes (issue 3). Every test has its own state root and a unique pod name, because
//! `/run/netns/NAME` is global; the `Pod` fixture removes the pod and checks that nothing is left.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use sandbox_tests::{
    Pod, StateRoot, assert_exit, children_of, host_pid, inode_of, is_alive, is_mounted, json_of,
    leak_stderr_copy_into, mounts_under, ns_inode_of_pid, proc_status_field, require_root, run,
    run_with_timeout, sandbox_command, signal_in_mask, unique_name, wait_until, zombie_children,
};

const SHARED_KINDS: [&str; 3] = ["ipc", "net", "uts"];

/// The `readlink /proc/PID/ns/KIND` text of a namespace inode: `net:[4026532008]`.
fn ns_link(kind: &str, inode: u64) -> String {
    format!("{kind}:[{inode}]")
}

#[test]
fn create_makes_new_namespaces_pinned_by_inode_and_reported_by_inspect() {
    require_root();
    let pod = Pod::create(&[]);
    let inspect = pod.inspect();
    let pid = pod.pid();
    assert!(is_alive(pid), "pause (pid {pid}) is not running");
    let namespaces = inspect["namespaces"].as_object().unwrap();
    let mut kinds: Vec<&str> = namespaces.keys().map(String::as_str).collect();
    kinds.sort_unstable();
    assert_eq!(kinds, SHARED_KINDS, "without --share-pid: {inspect}");

    for kind in SHARED_KINDS {
        let pin = &namespaces[kind];
        let path = Path::new(pin["path"].as_str().unwrap());
        let reported = pin["inode"].as_u64().unwrap();
        assert!(
            path.starts_with(pod.dir()),
            "{kind} pin {path:?} is outside the pod's state directory"
        );
        assert!(is_mounted(path), "{kind} pin {path:?} is not a mount point");
        assert_eq!(
            ns_inode_of_pid(pid, kind),
            reported,
            "{kind}: pause vs inspect"
        );
        assert_eq!(inode_of(path), reported, "{kind}: pin vs inspect");
        assert_ne!(
            ns_inode_of_pid(host_pid(), kind),
            reported,
            "{kind}: the host's own"
        );
        // exec joins exactly these namespaces (through the pins).
        let seen = pod.exec(&["readlink", &format!("/proc/self/ns/{kind}")]);
        assert_exit!(seen, 0);
        assert_eq!(
            seen.stdout.trim(),
            ns_link(kind, reported),
            "{kind} seen by exec"
        );
    }
    // Without --share-pid the pod has no PID namespace of its own.
    assert_eq!(
        ns_inode_of_pid(pid, "pid"),
        ns_inode_of_pid(host_pid(), "pid"),
        "pause got a PID namespace without --share-pid"
    );
    // The net namespace is also pinned where `ip netns` looks.
    assert!(is_mounted(pod.netns_path()));
    assert_eq!(inode_of(pod.netns_path()), pod.ns_inode("net"));
}

#[test]
fn inspect_reports_every_documented_field() {
    require_root();
    let pod = Pod::create(&["--share-pid"]);
    let inspect = pod.inspect();
    assert_eq!(inspect["name"], pod.name());
    assert_eq!(inspect["state"], "running");
    assert_eq!(inspect["hostname"], pod.name());
    assert_eq!(inspect["containers"], serde_json::json!([]));
    let pid = inspect["pid"].as_i64().expect("pid is an integer") as i32;
    // The holder is pause: its process name and argv[0].
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_eq!(comm.trim(), "pause");
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    assert_eq!(cmdline, b"pause\0", "the holder runs with no arguments");
    let created_at = inspect["created_at"].as_str().unwrap();
    assert!(
        created_at.len() >= 20
            && created_at.as_bytes()[4] == b'-'
            && created_at.contains('T')
            && created_at.ends_with('Z'),
        "created_at is not RFC 3339 UTC: {created_at}"
    );
    let namespaces = inspect["namespaces"].as_object().unwrap();
    let mut kinds: Vec<&str> = namespaces.keys().map(String::as_str).collect();
    kinds.sort_unstable();
    assert_eq!(kinds, ["ipc", "net", "pid", "uts"]);
    for (kind, pin) in namespaces {
        assert!(pin["path"].is_string(), "{kind}: {pin}");
        assert!(pin["inode"].is_u64(), "{kind}: {pin}");
    }
}

#[test]
fn hostname_defaults_to_the_pod_name_and_can_be_chosen() {
    require_root();
    let host_name = run("uname", ["-n"]).stdout;
    let root = StateRoot::new();
    let plain = Pod::create_in(&root, &[]);
    let named = Pod::create_in(&root, &["--hostname", "web-1.example"]);

    let seen = plain.exec(&["uname", "-n"]);
    assert_exit!(seen, 0);
    assert_eq!(seen.stdout.trim(), plain.name());
    assert_eq!(plain.inspect()["hostname"], plain.name());

    let seen = named.exec(&["cat", "/proc/sys/kernel/hostname"]);
    assert_exit!(seen, 0);
    assert_eq!(seen.stdout.trim(), "web-1.example");
    assert_eq!(named.inspect()["hostname"], "web-1.example");

    assert_eq!(
        run("uname", ["-n"]).stdout,
        host_name,
        "the host's hostname changed"
    );
}

#[test]
fn loopback_is_up_and_ip_netns_exec_joins_the_same_network_namespace() {
    require_root();
    let pod = Pod::create(&[]);
    let links = pod.exec(&["ip", "-o", "link", "show"]);
    assert_exit!(links, 0);
    let lines: Vec<&str> = links.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "a new net namespace has only lo: {lines:?}");
    assert!(
        lines[0].contains(": lo: <LOOPBACK,UP,LOWER_UP>"),
        "lo is not up: {}",
        lines[0]
    );

    let net = pod.ns_inode("net");
    let listed = run("ip", ["netns", "list"]);
    assert_exit!(listed, 0);
    assert!(
        listed
            .stdout
            .lines()
            .any(|l| l.split_whitespace().next() == Some(pod.name())),
        "ip netns list does not show {}: {}",
        pod.name(),
        listed.stdout
    );
    let joined = run(
        "ip",
        ["netns", "exec", pod.name(), "readlink", "/proc/self/ns/net"],
    );
    assert_exit!(joined, 0);
    assert_eq!(joined.stdout.trim(), ns_link("net", net));
    let lo = run(
        "ip",
        [
            "netns",
            "exec",
            pod.name(),
            "ip",
            "-o",
            "link",
            "show",
            "lo",
        ],
    );
    assert_exit!(lo, 0);
    assert!(
        lo.stdout.contains("<LOOPBACK,UP,LOWER_UP>"),
        "{}",
        lo.stdout
    );
}

#[test]
fn share_pid_makes_pause_pid_1_of_a_new_pid_namespace() {
    require_root();
    let pod = Pod::create(&["--share-pid"]);
    let pid = pod.pid();
    let pid_ns = pod.ns_inode("pid");
    assert_eq!(ns_inode_of_pid(pid, "pid"), pid_ns);
    assert_eq!(inode_of(pod.dir().join("ns/pid")), pid_ns);
    assert_ne!(ns_inode_of_pid(host_pid(), "pid"), pid_ns);
    assert_eq!(
        proc_status_field(pid, "NSpid").unwrap(),
        format!("{pid}\t1"),
        "pause is not PID 1 of the pod"
    );
    // A command run by exec is in that namespace, under pause.
    let seen = pod.exec(&["sh", "-c", "readlink /proc/self/ns/pid; echo $$"]);
    assert_exit!(seen, 0);
    let mut lines = seen.stdout.lines();
    assert_eq!(lines.next(), Some(ns_link("pid", pid_ns).as_str()));
    let pid_in_pod: i32 = lines.next().unwrap().parse().unwrap();
    assert!(
        pid_in_pod > 1,
        "exec's shell is pid {pid_in_pod} in the pod"
    );
}

#[test]
fn pause_reaps_orphans_of_exec_and_of_containers_in_a_shared_pid_pod() {
    require_root();
    let pod = Pod::create(&["--share-pid"]);
    let pause = pod.pid();
    let sleepers = || {
        children_of(pause)
            .into_iter()
            .filter(|c| c.comm == "sleep")
            .count()
    };
    // The shell exits at once, orphaning its three children: the pod's PID 1 inherits them.
    let orphaning = pod.exec(&[
        "sh",
        "-c",
        "for i in 1 2 3; do sleep 1 </dev/null >/dev/null 2>&1 & done; exit 0",
    ]);
    assert_exit!(orphaning, 0);
    assert!(
        wait_until(Duration::from_secs(5), || sleepers() == 3),
        "pause did not inherit the orphans: {:?}",
        children_of(pause)
    );
    let container = pod.try_run(
        "orphaner",
        &[],
        &["sh", "-c", "sleep 1 </dev/null >/dev/null 2>&1 & exit 0"],
    );
    assert_exit!(container, 0);
    assert_exit!(pod.sandbox(&["wait", pod.name(), "orphaner"]), 0);
    // Once they exit, pause reaps them: no zombie, no child left at all.
    assert!(
        wait_until(Duration::from_secs(10), || children_of(pause).is_empty()),
        "pause did not reap its orphans: {:?}",
        children_of(pause)
    );
    assert_eq!(zombie_children(pause), Vec::<i32>::new());
    assert!(is_alive(pause));
}

#[test]
fn exec_exits_with_the_commands_code() {
    require_root();
    let pod = Pod::create(&[]);
    let not_executable = pod.root().join("not-executable");
    std::fs::write(&not_executable, "echo hi\n").unwrap();
    let not_executable = not_executable.to_str().unwrap();
    let cases: [(&[&str], i32); 9] = [
        (&["true"], 0),
        (&["sh", "-c", "exit 7"], 7),
        (&["sh", "-c", "kill -TERM $$"], 143),
        (&["sh", "-c", "kill -KILL $$"], 137),
        (&[not_executable], 126),
        (&["/"], 126),
        (&["/nonexistent/command"], 127),
        (&["sandbox-test-no-such-command"], 127),
        (&["sh", "-c", "exit 255"], 255),
    ];
    for (command, code) in cases {
        let run = pod.exec(command);
        assert_eq!(
            run.code,
            Some(code),
            "sandbox exec -- {command:?}\n{}",
            run.stderr
        );
    }
}

#[test]
fn exec_forwards_a_termination_signal_to_the_command() {
    require_root();
    let pod = Pod::create(&["--share-pid"]);
    let mut cli = sandbox_command(pod.root())
        .args(["exec", pod.name(), "--", "sleep", "1000"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let cli_pid = cli.id() as i32;
    // Signal once the CLI forwards TERM and the command runs (under the exec launcher).
    let sleeping = || {
        children_of(cli_pid)
            .iter()
            .flat_map(|launcher| children_of(launcher.pid))
            .any(|c| c.comm == "sleep")
    };
    let ready = wait_until(Duration::from_secs(10), || {
        signal_in_mask(cli_pid, "SigCgt", libc::SIGTERM) && sleeping()
    });
    if !ready {
        let _ = cli.kill();
    }
    assert!(
        ready,
        "exec never started sleep with TERM forwarding in place"
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(cli_pid),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let mut status = None;
    let ended = wait_until(Duration::from_secs(10), || {
        status = cli.try_wait().unwrap();
        status.is_some()
    });
    if !ended {
        let _ = cli.kill();
        let _ = cli.wait();
    }
    assert!(ended, "sandbox exec did not end after SIGTERM");
    assert_eq!(
        status.unwrap().code(),
        Some(143),
        "the command's 128+SIGTERM"
    );
    assert!(
        wait_until(Duration::from_secs(5), || children_of(pod.pid()).is_empty()),
        "something of exec is left in the pod: {:?}",
        children_of(pod.pid())
    );
}

#[test]
fn exec_i_passes_stdin_through_and_without_i_the_command_reads_nothing() {
    require_root();
    let pod = Pod::create(&[]);
    let exec = |options: &[&str]| {
        let mut cmd = sandbox_command(pod.root());
        cmd.arg("exec").args(options).args([
            pod.name(),
            "--",
            "sh",
            "-c",
            "cat; echo to-stderr >&2",
        ]);
        run_with_timeout(cmd, b"line one\nline two\n", Duration::from_secs(30))
    };
    let piped = exec(&["-i"]);
    assert_exit!(piped, 0);
    assert_eq!(piped.stdout, "line one\nline two\n");
    assert!(piped.stderr.contains("to-stderr"), "{}", piped.stderr);
    // As with kubectl: without -i, stdin is /dev/null (cat ends at once).
    let closed = exec(&[]);
    assert_exit!(closed, 0);
    assert_eq!(closed.stdout, "");
    assert!(closed.stderr.contains("to-stderr"), "{}", closed.stderr);
}

#[test]
fn exec_applies_env_workdir_and_user() {
    require_root();
    let pod = Pod::create(&["--hostname", "exec-env"]);
    let run = pod.exec_with(
        &[
            "--env",
            "GREETING=hello world",
            "--workdir",
            "/tmp",
            "--user",
            "1000:2000",
        ],
        &[
            "sh",
            "-c",
            "echo \"$GREETING\"; echo \"$HOSTNAME\"; pwd; id -u; id -g; id -G",
        ],
    );
    assert_exit!(run, 0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(
        lines,
        ["hello world", "exec-env", "/tmp", "1000", "2000", "2000"]
    );
}

#[test]
fn exec_leaks_no_descriptor_into_the_command() {
    require_root();
    let pod = Pod::create(&[]);
    const LEAKED: i32 = 42;
    let list = "ls /proc/$$/fd";
    // The check works: without sandbox, the shell does see the descriptor.
    let mut cmd = std::process::Command::new("sh");
    cmd.args(["-c", list]);
    leak_stderr_copy_into(&mut cmd, LEAKED);
    let baseline = run_with_timeout(cmd, b"", Duration::from_secs(10));
    assert_exit!(baseline, 0);
    assert!(baseline.stdout.split_whitespace().any(|fd| fd == "42"));

    let mut cmd = sandbox_command(pod.root());
    cmd.args(["exec", pod.name(), "--", "sh", "-c", list]);
    leak_stderr_copy_into(&mut cmd, LEAKED);
    let inside = run_with_timeout(cmd, b"", Duration::from_secs(30));
    assert_exit!(inside, 0);
    let fds: Vec<&str> = inside.stdout.split_whitespace().collect();
    assert_eq!(fds, ["0", "1", "2"], "descriptors of exec's command");
}

#[test]
fn stop_then_rm_leave_no_process_and_no_mount() {
    require_root();
    let pod = Pod::create(&["--share-pid"]);
    let pid = pod.pid();
    let pins: Vec<String> = pod.inspect()["namespaces"]
        .as_object()
        .unwrap()
        .values()
        .map(|pin| pin["path"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(pins.len(), 4);

    assert_exit!(pod.sandbox(&["stop", pod.name()]), 0);
    assert!(!is_alive(pid), "pause (pid {pid}) survived stop");
    let inspect = pod.inspect();
    assert_eq!(inspect["state"], "stopped");
    // The namespaces stay pinned until rm.
    for pin in &pins {
        assert!(is_mounted(pin), "{pin} was unmounted by stop");
    }
    assert!(is_mounted(pod.netns_path()));

    // Stopping again succeeds; exec and run into a stopped pod are refused.
    assert_exit!(pod.sandbox(&["stop", pod.name()]), 0);
    let exec = pod.exec(&["true"]);
    assert_exit!(exec, 125);
    assert!(exec.stderr.contains("stopped"), "{}", exec.stderr);

    assert_exit!(pod.sandbox(&["rm", pod.name()]), 0);
    assert_eq!(mounts_under(pod.root()), Vec::<String>::new());
    assert!(!is_mounted(pod.netns_path()));
    assert!(!pod.netns_path().exists(), "{:?} left", pod.netns_path());
    assert!(!pod.dir().exists(), "{:?} left", pod.dir());
    let gone = pod.sandbox(&["inspect", pod.name()]);
    assert_exit!(gone, 125);
    assert!(gone.stderr.contains("does not exist"), "{}", gone.stderr);
    let listed = pod.sandbox(&["ps", "--json"]);
    assert_exit!(listed, 0);
    assert_eq!(json_of(&listed), serde_json::json!([]));
}

#[test]
fn rm_refuses_a_running_pod_unless_forced() {
    require_root();
    let pod = Pod::create(&[]);
    let pid = pod.pid();
    let container = pod.run("sleeper", &[], &["sleep", "1000"]);

    let refused = pod.sandbox(&["rm", pod.name()]);
    assert_exit!(refused, 125);
    assert!(refused.stderr.contains("running"), "{}", refused.stderr);
    assert_eq!(refused.stderr.lines().count(), 1, "{}", refused.stderr);
    assert_eq!(pod.inspect()["state"], "running");
    assert!(is_alive(pid) && is_alive(container));
    assert!(is_mounted(pod.netns_path()));

    assert_exit!(pod.sandbox(&["rm", "--force", pod.name()]), 0);
    assert!(wait_until(Duration::from_secs(5), || !is_alive(pid)
        && !is_alive(container)));
    assert_eq!(mounts_under(pod.root()), Vec::<String>::new());
    assert!(!is_mounted(pod.netns_path()) && !pod.netns_path().exists());
    assert!(!pod.dir().exists());
}

#[test]
fn a_pod_whose_pause_died_is_shown_as_exited_and_can_be_removed() {
    require_root();
    let pod = Pod::create(&[]);
    let pid = pod.pid();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    assert!(wait_until(Duration::from_secs(5), || !is_alive(pid)));
    let inspect = pod.inspect();
    assert_eq!(inspect["state"], "exited", "{inspect}");
    assert_exit!(pod.exec(&["true"]), 125);
    assert_exit!(pod.sandbox(&["rm", pod.name()]), 0);
    assert_eq!(mounts_under(pod.root()), Vec::<String>::new());
    assert!(!is_mounted(pod.netns_path()));
}

#[test]
fn bad_names_are_refused_by_every_command_and_leave_nothing() {
    require_root();
    let root = StateRoot::new();
    let too_long = "x".repeat(64);
    let bad = [
        "../x",
        "a/b",
        "",
        "-x",
        ".x",
        "..",
        "a b",
        too_long.as_str(),
    ];
    for name in bad {
        // A name starting with '-' needs `--` to reach sandbox as a name at all.
        let commands: Vec<Vec<&str>> = if name.starts_with('-') {
            vec![
                vec!["create", "--", name],
                vec!["inspect", "--", name],
                vec!["stop", "--", name],
                vec!["rm", "--force", "--", name],
                vec!["wait", "--", name, "c"],
                vec!["logs", "--", name, "c"],
            ]
        } else {
            vec![
                vec!["create", name],
                vec!["inspect", name],
                vec!["exec", name, "--", "true"],
                vec!["run", name, "--name", "c", "--", "true"],
                vec!["stop", name],
                vec!["rm", "--force", name],
                vec!["wait", name, "c"],
                vec!["logs", name, "c"],
            ]
        };
        for args in commands {
            let run = root.sandbox(&args);
            assert_exit!(run, 125);
            assert!(
                run.stderr.contains("invalid sandbox name"),
                "sandbox {args:?}: {}",
                run.stderr
            );
            assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
        }
    }
    // Without `--`, a leading dash is an unknown option: refused as well.
    assert_exit!(root.sandbox(&["create", "-x"]), 125);
    assert_exit!(root.sandbox(&["exec", "-x", "--", "true"]), 125);
    // Exactly 63 characters is fine (checked without creating: inspect says it does not exist).
    let longest = "y".repeat(63);
    let run = root.sandbox(&["inspect", &longest]);
    assert_exit!(run, 125);
    assert!(run.stderr.contains("does not exist"), "{}", run.stderr);
    // Nothing was created, in the root (no pod directory, no stray lock file) or beside it.
    assert_eq!(root.entries(), Vec::<String>::new());
    let locks: Vec<_> = std::fs::read_dir(root.path().join(".locks"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        locks.iter().all(|name| name.to_string_lossy() == longest),
        "lock files made for bad names: {locks:?}"
    );
    assert!(!root.path().parent().unwrap().join("x").exists());
    assert_eq!(mounts_under(root.path()), Vec::<String>::new());
}

#[test]
fn a_bad_hostname_is_refused_and_leaves_nothing() {
    require_root();
    let root = StateRoot::new();
    let name = unique_name("sbx");
    for hostname in ["a b", "-a", "a..b", &"h".repeat(65)] {
        let run = root.sandbox(&["create", &name, &format!("--hostname={hostname}")]);
        assert_exit!(run, 125);
        assert!(run.stderr.contains("invalid hostname"), "{}", run.stderr);
    }
    assert_eq!(root.entries(), Vec::<String>::new());
    assert!(!Path::new("/run/netns").join(&name).exists());
}

#[test]
fn duplicate_create_is_refused_and_the_first_pod_survives() {
    require_root();
    let pod = Pod::create(&[]);
    let pid = pod.pid();
    let net = pod.ns_inode("net");
    let again = pod.sandbox(&["create", pod.name()]);
    assert_exit!(again, 125);
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
    assert_eq!(pod.pid(), pid);
    assert!(is_alive(pid));
    assert_eq!(pod.ns_inode("net"), net);
    assert_eq!(inode_of(pod.netns_path()), net);
    assert_exit!(pod.exec(&["true"]), 0);

    // The same name in another root still collides with the global /run/netns/NAME.
    let other = StateRoot::new();
    let clash = other.sandbox(&["create", pod.name()]);
    assert_exit!(clash, 125);
    assert!(clash.stderr.contains("already exists"), "{}", clash.stderr);
    assert_eq!(other.entries(), Vec::<String>::new());
    assert_eq!(
        inode_of(pod.netns_path()),
        net,
        "the other root took the pin"
    );
}

#[test]
fn every_command_on_a_missing_pod_fails_with_125() {
    require_root();
    let root = StateRoot::new();
    let name = unique_name("missing");
    let commands: [Vec<&str>; 8] = [
        vec!["inspect", &name],
        vec!["exec", &name, "--", "true"],
        vec!["run", &name, "--name", "c", "--", "true"],
        vec!["wait", &name, "c"],
        vec!["logs", &name, "c"],
        vec!["stop", &name],
        vec!["rm", &name],
        vec!["rm", "--force", &name],
    ];
    for args in commands {
        let run = root.sandbox(&args);
        assert_exit!(run, 125);
        assert!(
            run.stderr.contains("does not exist"),
            "sandbox {args:?}: {}",
            run.stderr
        );
    }
    assert_eq!(root.entries(), Vec::<String>::new());
}

#[test]
fn a_missing_or_unusable_pause_is_a_clear_error_and_create_leaves_nothing() {
    require_root();
    let root = StateRoot::new();
    let name = unique_name("sbx");
    let not_executable = root.path().join("pause-not-executable");
    std::fs::write(&not_executable, b"\x7fELF").unwrap();
    let cases = [
        ("/nonexistent/pause", "/nonexistent/pause"),
        ("/bin/sh", "static"),
        (not_executable.to_str().unwrap(), "not an executable"),
    ];
    for (pause, expected) in cases {
        let run = root.sandbox(&["--pause", pause, "create", &name]);
        assert_exit!(run, 125);
        assert!(
            run.stderr.contains("pause") && run.stderr.contains(expected),
            "--pause {pause}: {}",
            run.stderr
        );
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    }
    std::fs::remove_file(&not_executable).unwrap();
    // An ELF header without program headers passes the static check, but execve refuses it
    // (ENOEXEC): create fails after it made the pod's directory and must roll it back.
    let unloadable = root.path().join("pause-unloadable");
    let mut elf = vec![0u8; 64];
    elf[..7].copy_from_slice(b"\x7fELF\x02\x01\x01");
    elf[0x10] = 2; // e_type: ET_EXEC
    elf[0x12] = 0x3e; // e_machine: x86-64
    elf[0x14] = 1; // e_version
    elf[0x20] = 64; // e_phoff
    elf[0x34] = 64; // e_ehsize
    elf[0x36] = 56; // e_phentsize; e_phnum stays 0
    std::fs::write(&unloadable, &elf).unwrap();
    std::fs::set_permissions(&unloadable, std::fs::Permissions::from_mode(0o755)).unwrap();
    let run = root.sandbox(&["--pause", unloadable.to_str().unwrap(), "create", &name]);
    assert_exit!(run, 125);
    assert!(run.stderr.contains("pause-unloadable"), "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    std::fs::remove_file(&unloadable).unwrap();
    assert_eq!(root.entries(), Vec::<String>::new());
    assert_eq!(mounts_under(root.path()), Vec::<String>::new());
    let netns = Path::new("/run/netns").join(&name);
    assert!(!is_mounted(&netns) && !netns.exists());
    // The name is free again.
    let pod_run = root.sandbox(&["create", &name]);
    assert_exit!(pod_run, 0);
    assert_exit!(root.sandbox(&["rm", "--force", &name]), 0);
    assert!(!netns.exists());
}

#[test]
fn ps_prints_a_table_and_a_json_array_of_inspect_objects() {
    require_root();
    let root = StateRoot::new();
    let empty = root.sandbox(&["ps"]);
    assert_exit!(empty, 0);
    assert_eq!(empty.stdout.lines().count(), 1, "{}", empty.stdout);
    let empty = root.sandbox(&["ps", "--json"]);
    assert_exit!(empty, 0);
    assert_eq!(json_of(&empty), serde_json::json!([]));

    let running = Pod::create_in(&root, &[]);
    let stopped = Pod::create_in(&root, &["--share-pid"]);
    running.run("c1", &[], &["sleep", "1000"]);
    assert_exit!(stopped.sandbox(&["stop", stopped.name()]), 0);

    let table = root.sandbox(&["ps"]);
    assert_exit!(table, 0);
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", table.stdout);
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        ["NAME", "STATE", "PID", "CONTAINERS", "IP", "CREATED"]
    );
    let row = |pod: &Pod| -> Vec<String> {
        lines
            .iter()
            .find(|l| l.split_whitespace().next() == Some(pod.name()))
            .unwrap_or_else(|| panic!("no row for {}: {}", pod.name(), table.stdout))
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    };
    let r = row(&running);
    assert_eq!(r[1], "running");
    assert_eq!(r[2], running.pid().to_string());
    assert_eq!(r[3], "1/1");
    assert_eq!(r[4], "-"); // no network (network.rs tests the address)
    assert_eq!(r[5], running.inspect()["created_at"].as_str().unwrap());
    assert_eq!(row(&stopped)[1], "stopped");

    let listed = root.sandbox(&["ps", "--json"]);
    assert_exit!(listed, 0);
    let listed = json_of(&listed);
    let array = listed.as_array().expect("ps --json prints an array");
    assert_eq!(array.len(), 2);
    // The same objects as inspect, but for what the cgroups use, which ps does not read.
    let without_usage = |mut pod: serde_json::Value| {
        pod["cgroup"]["usage"] = serde_json::Value::Null;
        for container in pod["containers"].as_array_mut().unwrap() {
            container["cgroup"]["usage"] = serde_json::Value::Null;
        }
        pod
    };
    for pod in [&running, &stopped] {
        let entry = array.iter().find(|p| p["name"] == pod.name()).unwrap();
        assert_eq!(
            *entry,
            without_usage(pod.inspect()),
            "ps --json entry of {}",
            pod.name()
        );
    }
}
