//! `sandbox run / wait / logs / stop` with app containers (issue 4): what containers of one pod
//! share, Kubernetes-style stop with exact codes and bounded timings, and the container state
//! that `inspect` shows. Tools used inside containers come with Debian's essential and
//! `.ci/setup` packages: sh, bash (`/dev/tcp`), perl-base (a TCP listener), util-linux, coreutils.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use sandbox_tests::{
    Pod, assert_exit, host_pid, is_alive, json_of, leak_stderr_copy_into, ns_inode_of_pid,
    open_fds, proc_status_field, require_root, run, run_with_timeout, sandbox_command,
    signal_in_mask, wait_until,
};

/// `sandbox stop NAME -t SECS --json`: the containers of the parsed report and how long the
/// command took.
fn stop_json(pod: &Pod, timeout: &str) -> (Vec<serde_json::Value>, Duration) {
    let started = Instant::now();
    let stop = pod.sandbox(&["stop", pod.name(), "-t", timeout, "--json"]);
    let took = started.elapsed();
    assert_exit!(stop, 0);
    let report = json_of(&stop)["containers"]
        .as_array()
        .expect("an array of containers")
        .clone();
    (report, took)
}

/// The report line of one container.
fn report_of<'a>(report: &'a [serde_json::Value], name: &str) -> &'a serde_json::Value {
    report
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {report:?}"))
}

/// The PPid of a process: for a container, its monitor.
fn parent_of(pid: i32) -> i32 {
    proc_status_field(pid, "PPid").unwrap().parse().unwrap()
}

fn stdout_log(pod: &Pod, container: &str) -> PathBuf {
    pod.dir()
        .join("containers")
        .join(container)
        .join("stdout.log")
}

/// A port nobody listens on in the host's network namespace right now.
fn free_host_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether the network namespace of `pid` has a TCP socket listening on 127.0.0.1:`port`
/// (`/proc/PID/net/tcp` shows the namespace of PID, not ours).
fn listens_on_loopback(pid: i32, port: u16) -> bool {
    let wanted = format!("0100007F:{port:04X}");
    std::fs::read_to_string(format!("/proc/{pid}/net/tcp")).is_ok_and(|table| {
        table.lines().skip(1).any(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            fields.get(1) == Some(&wanted.as_str()) && fields.get(3) == Some(&"0A")
        })
    })
}

#[test]
fn containers_reach_each_other_over_loopback_but_the_host_cannot() {
    require_root();
    let pod = Pod::create(&[]);
    let port = free_host_port().to_string();
    let listener = pod.run(
        "server",
        &[],
        &[
            "perl",
            "-MIO::Socket::INET",
            "-e",
            "my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $ARGV[0], \
             Listen => 1, ReuseAddr => 1) or die qq(listen: $@\\n); \
             my $c = $s->accept or die qq(accept: $!\\n); print $c qq(hello over loopback\\n);",
            &port,
        ],
    );
    assert!(
        wait_until(Duration::from_secs(10), || listens_on_loopback(
            listener,
            port.parse().unwrap()
        )),
        "the server never listened: {:?}",
        pod.sandbox(&["logs", pod.name(), "server"])
    );
    // The host's loopback is another one: nothing listens there.
    let from_host = std::net::TcpStream::connect(("127.0.0.1", port.parse::<u16>().unwrap()));
    assert_eq!(
        from_host.map_err(|e| e.kind()).err(),
        Some(std::io::ErrorKind::ConnectionRefused),
        "the host reached the pod's loopback"
    );
    pod.run(
        "client",
        &[],
        &[
            "bash",
            "-c",
            "exec 3<>/dev/tcp/127.0.0.1/$0 && cat <&3",
            &port,
        ],
    );
    assert_exit!(pod.sandbox(&["wait", pod.name(), "client"]), 0);
    assert_exit!(pod.sandbox(&["wait", pod.name(), "server"]), 0);
    let got = pod.sandbox(&["logs", pod.name(), "client"]);
    assert_exit!(got, 0);
    assert_eq!(got.stdout, "hello over loopback\n");
}

#[test]
fn containers_share_sysv_ipc_and_the_hostname_but_the_host_does_not() {
    require_root();
    let pod = Pod::create(&["--hostname", "shared-host"]);
    pod.run("maker", &[], &["ipcmk", "-Q"]);
    assert_exit!(pod.sandbox(&["wait", pod.name(), "maker"]), 0);
    let made = pod.sandbox(&["logs", pod.name(), "maker"]);
    let id = made
        .stdout
        .trim()
        .rsplit(' ')
        .next()
        .unwrap_or_else(|| panic!("ipcmk printed {made:?}"))
        .to_owned();
    pod.run("lister", &[], &["ipcs", "-q"]);
    assert_exit!(pod.sandbox(&["wait", pod.name(), "lister"]), 0);
    let listed = pod.sandbox(&["logs", pod.name(), "lister"]).stdout;
    let key = listed
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .find(|fields| fields.get(1) == Some(&id.as_str()) && fields[0].starts_with("0x"))
        .unwrap_or_else(|| panic!("queue {id} not seen by another container:\n{listed}"))[0]
        .to_owned();
    let host = run("ipcs", ["-q"]);
    assert_exit!(host, 0);
    assert!(
        !host.stdout.contains(&key),
        "the host sees the pod's queue {key}"
    );

    pod.run("namer", &[], &["uname", "-n"]);
    assert_exit!(pod.sandbox(&["wait", pod.name(), "namer"]), 0);
    assert_eq!(
        pod.sandbox(&["logs", pod.name(), "namer"]).stdout,
        "shared-host\n"
    );
    assert_ne!(run("uname", ["-n"]).stdout, "shared-host\n");
}

#[test]
fn a_container_joins_every_namespace_of_the_pod_under_a_pause_monitor() {
    require_root();
    let pod = Pod::create(&[]);
    let pid = pod.run("sleeper", &[], &["sleep", "1000"]);
    for kind in ["ipc", "net", "uts"] {
        assert_eq!(ns_inode_of_pid(pid, kind), pod.ns_inode(kind), "{kind}");
    }
    // Without --share-pid it stays in the host's PID namespace; no mount namespace is involved.
    for kind in ["pid", "mnt"] {
        assert_eq!(
            ns_inode_of_pid(pid, kind),
            ns_inode_of_pid(host_pid(), kind),
            "{kind}"
        );
    }
    assert_eq!(proc_status_field(pid, "NSpid").unwrap(), pid.to_string());
    let monitor = parent_of(pid);
    let comm = std::fs::read_to_string(format!("/proc/{monitor}/comm")).unwrap();
    assert_eq!(
        comm.trim(),
        "pause",
        "the container's parent is its monitor"
    );
}

#[test]
fn share_pid_containers_see_each_other_in_the_pods_pid_namespace() {
    require_root();
    let pod = Pod::create(&["--share-pid"]);
    let pid_ns = pod.ns_inode("pid");
    let a = pod.run("a", &[], &["sleep", "1000"]);
    let b = pod.run("b", &[], &["sleep", "1000"]);
    let mut in_pod = Vec::new();
    for pid in [a, b] {
        assert_eq!(ns_inode_of_pid(pid, "pid"), pid_ns);
        let nspid = proc_status_field(pid, "NSpid").unwrap();
        let levels: Vec<&str> = nspid.split_whitespace().collect();
        assert_eq!(levels.len(), 2, "NSpid of {pid}: {nspid}");
        assert_eq!(levels[0], pid.to_string());
        in_pod.push(levels[1].to_owned());
    }
    // A third container signals both by their PIDs in the pod: they are visible to it.
    let script = format!(
        "kill -0 {} && kill -0 {} && echo seen",
        in_pod[0], in_pod[1]
    );
    pod.run("looker", &[], &["sh", "-c", &script]);
    assert_exit!(pod.sandbox(&["wait", pod.name(), "looker"]), 0);
    assert_eq!(
        pod.sandbox(&["logs", pod.name(), "looker"]).stdout,
        "seen\n"
    );
}

#[test]
fn stop_gives_0_143_and_137_within_one_grace_period() {
    require_root();
    let pod = Pod::create(&[]);
    let polite = pod.run(
        "polite",
        &[],
        &[
            "sh",
            "-c",
            "trap 'kill $! 2>/dev/null; exit 0' TERM; sleep 1000 & wait",
        ],
    );
    pod.run("plain", &[], &["sleep", "1000"]);
    let stubborn = pod.run(
        "stubborn",
        &[],
        &["sh", "-c", "trap '' TERM; while :; do sleep 0.1; done"],
    );
    assert!(wait_until(Duration::from_secs(5), || signal_in_mask(
        polite,
        "SigCgt",
        libc::SIGTERM
    )));
    assert!(wait_until(Duration::from_secs(5), || signal_in_mask(
        stubborn,
        "SigIgn",
        libc::SIGTERM
    )));

    let (report, took) = stop_json(&pod, "1");
    assert_eq!(report.len(), 3, "{report:?}");
    assert!(
        took >= Duration::from_secs(1),
        "stop took {took:?}, less than the grace period"
    );
    assert!(
        took < Duration::from_millis(2500),
        "stop took {took:?}: far more than the 1 s grace period"
    );
    let polite = report_of(&report, "polite");
    assert_eq!(polite["exit_code"], 0);
    assert_eq!(polite["signal"], serde_json::Value::Null);
    assert_eq!(polite["ended"], "stop-signal");
    assert_eq!(polite["stop_signal"], "SIGTERM");
    let plain = report_of(&report, "plain");
    assert_eq!(plain["exit_code"], 143);
    assert_eq!(plain["signal"], "SIGTERM");
    assert_eq!(plain["ended"], "stop-signal");
    for quick in [polite, plain] {
        let ms = quick["elapsed_ms"].as_f64().unwrap();
        assert!(ms < 500.0, "{} took {ms} ms to stop", quick["name"]);
    }
    let stubborn = report_of(&report, "stubborn");
    assert_eq!(stubborn["exit_code"], 137);
    assert_eq!(stubborn["signal"], "SIGKILL");
    assert_eq!(stubborn["ended"], "killed");
    let ms = stubborn["elapsed_ms"].as_f64().unwrap();
    assert!(
        (1000.0..2000.0).contains(&ms),
        "stubborn was killed after {ms} ms, grace 1000 ms"
    );
    // The exits are recorded for inspect too.
    for (name, code) in [("polite", 0), ("plain", 143), ("stubborn", 137)] {
        let container = pod.container(name);
        assert_eq!(container["state"], "exited", "{container}");
        assert_eq!(container["exit_code"], code, "{container}");
    }
}

#[test]
fn cooperative_containers_stop_without_waiting_for_a_polling_tick() {
    require_root();
    let pod = Pod::create(&["--share-pid"]);
    let names: Vec<String> = (0..5).map(|i| format!("c{i}")).collect();
    let pids: Vec<i32> = names
        .iter()
        .map(|name| pod.run(name, &[], &["sleep", "1000"]))
        .collect();
    let (report, took) = stop_json(&pod, "30");
    assert!(
        took < Duration::from_secs(1),
        "stopping 5 cooperative containers took {took:?}"
    );
    assert_eq!(report.len(), 5);
    for entry in &report {
        assert_eq!(entry["exit_code"], 143, "{entry}");
        assert_eq!(entry["ended"], "stop-signal", "{entry}");
        assert!(entry["elapsed_ms"].as_f64().unwrap() < 500.0, "{entry}");
    }
    for pid in pids {
        assert!(!is_alive(pid), "container {pid} survived stop");
    }
}

#[test]
fn stop_signal_is_chosen_by_name_or_number() {
    require_root();
    let pod = Pod::create(&[]);
    let quitter = pod.run(
        "quitter",
        &["--stop-signal", "QUIT"],
        &[
            "sh",
            "-c",
            "trap 'kill $! 2>/dev/null; exit 42' QUIT; sleep 1000 & wait",
        ],
    );
    pod.run("usr1", &["--stop-signal", "10"], &["sleep", "1000"]);
    assert_eq!(pod.container("quitter")["stop_signal"], "SIGQUIT");
    assert_eq!(pod.container("usr1")["stop_signal"], "SIGUSR1");
    assert!(wait_until(Duration::from_secs(5), || signal_in_mask(
        quitter,
        "SigCgt",
        libc::SIGQUIT
    )));
    for bad in ["SIGFOO", "0", "65", ""] {
        let refused = pod.try_run("bad", &["--stop-signal", bad], &["true"]);
        assert_exit!(refused, 125);
        assert!(refused.stderr.contains("signal"), "{}", refused.stderr);
    }
    assert_eq!(pod.container_dirs(), ["quitter", "usr1"]);

    let (report, took) = stop_json(&pod, "10");
    assert!(took < Duration::from_secs(5), "stop took {took:?}");
    let quitter = report_of(&report, "quitter");
    assert_eq!(quitter["exit_code"], 42, "only SIGQUIT makes it exit 42");
    assert_eq!(quitter["ended"], "stop-signal");
    assert_eq!(quitter["stop_signal"], "SIGQUIT");
    let usr1 = report_of(&report, "usr1");
    assert_eq!(usr1["exit_code"], 128 + libc::SIGUSR1);
    assert_eq!(usr1["signal"], "SIGUSR1");
    assert_eq!(usr1["ended"], "stop-signal");
}

#[test]
fn wait_and_stop_report_the_code_of_a_container_that_exited_by_itself() {
    require_root();
    let pod = Pod::create(&[]);
    pod.run("three", &[], &["sh", "-c", "exit 3"]);
    pod.run("killed", &[], &["sh", "-c", "kill -KILL $$"]);
    pod.run("later", &[], &["sh", "-c", "sleep 0.3; exit 5"]);
    // wait blocks until the exit, then exits with the code (also when it is long recorded).
    assert_exit!(pod.sandbox(&["wait", pod.name(), "later"]), 5);
    assert_exit!(pod.sandbox(&["wait", pod.name(), "three"]), 3);
    assert_exit!(pod.sandbox(&["wait", pod.name(), "killed"]), 137);
    assert_exit!(pod.sandbox(&["wait", pod.name(), "three"]), 3);
    let missing = pod.sandbox(&["wait", pod.name(), "nobody"]);
    assert_exit!(missing, 125);
    assert!(
        missing.stderr.contains("does not exist"),
        "{}",
        missing.stderr
    );

    let three = pod.container("three");
    assert_eq!(three["state"], "exited");
    assert_eq!(three["exit_code"], 3);
    assert_eq!(three["signal"], serde_json::Value::Null);
    let killed = pod.container("killed");
    assert_eq!(killed["exit_code"], 137);
    assert_eq!(killed["signal"], "SIGKILL");

    let (report, took) = stop_json(&pod, "30");
    assert!(took < Duration::from_secs(1), "stop took {took:?}");
    for (name, code) in [("three", 3), ("killed", 137), ("later", 5)] {
        let entry = report_of(&report, name);
        assert_eq!(entry["exit_code"], code, "{entry}");
        assert_eq!(entry["ended"], "exited", "{entry}");
    }
    // Stopping the stopped pod reports the same, as a table: name, "exit", code, how it ended.
    let again = pod.sandbox(&["stop", pod.name()]);
    assert_exit!(again, 0);
    let lines: Vec<&str> = again.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", again.stdout);
    for (name, code) in [("three", "3"), ("killed", "137"), ("later", "5")] {
        let line = lines
            .iter()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no line for {name}: {}", again.stdout));
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(fields[1..3], ["exit", code], "{line}");
        assert!(line.contains("exited by itself"), "{line}");
    }
}

#[test]
fn logs_show_stdout_and_stderr_and_follow_ends_with_the_container() {
    require_root();
    let pod = Pod::create(&[]);
    pod.run(
        "both",
        &[],
        &["sh", "-c", "echo out-line; echo err-line >&2"],
    );
    assert_exit!(pod.sandbox(&["wait", pod.name(), "both"]), 0);
    let logs = pod.sandbox(&["logs", pod.name(), "both"]);
    assert_exit!(logs, 0);
    assert_eq!(logs.stdout, "out-line\n");
    assert_eq!(logs.stderr, "err-line\n");

    pod.run(
        "slow",
        &[],
        &[
            "sh",
            "-c",
            "echo first; sleep 0.3; echo second >&2; sleep 0.3; echo third",
        ],
    );
    let followed = pod.sandbox(&["logs", "--follow", pod.name(), "slow"]);
    assert_exit!(followed, 0);
    assert_eq!(followed.stdout, "first\nthird\n");
    assert_eq!(followed.stderr, "second\n");
    // It returned because the container ended, not earlier.
    assert_eq!(pod.container("slow")["state"], "exited");
    // Following an exited container returns at once.
    let again = pod.sandbox(&["logs", "-f", pod.name(), "slow"]);
    assert_exit!(again, 0);
    assert_eq!(again.stdout, "first\nthird\n");
    assert_exit!(pod.sandbox(&["logs", pod.name(), "nobody"]), 125);
}

#[test]
fn env_workdir_user_and_no_new_privileges_apply_to_containers() {
    require_root();
    let pod = Pod::create(&[]);
    let pid = pod.run(
        "who",
        &[
            "--env",
            "GREETING=hi there",
            "--env",
            "PATH=/usr/bin:/bin",
            "--workdir",
            "/tmp",
            "--user",
            "1000:2000",
        ],
        &[
            "sh",
            "-c",
            "echo \"$GREETING\"; echo \"$PATH\"; pwd; id -u; id -g; id -G; exec sleep 1000",
        ],
    );
    let log = stdout_log(&pod, "who");
    assert!(
        wait_until(Duration::from_secs(5), || std::fs::read_to_string(&log)
            .is_ok_and(|text| text.lines().count() == 6)),
        "{:?}",
        std::fs::read_to_string(&log)
    );
    let lines: Vec<String> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        lines,
        ["hi there", "/usr/bin:/bin", "/tmp", "1000", "2000", "2000"]
    );
    assert_eq!(
        proc_status_field(pid, "Uid").unwrap(),
        "1000\t1000\t1000\t1000"
    );
    assert_eq!(
        proc_status_field(pid, "Gid").unwrap(),
        "2000\t2000\t2000\t2000"
    );
    assert_eq!(proc_status_field(pid, "Groups").unwrap(), "");
    assert_eq!(proc_status_field(pid, "NoNewPrivs").unwrap(), "0");
    assert_eq!(
        std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap(),
        PathBuf::from("/tmp")
    );

    let nnp = pod.run("nnp", &["--no-new-privileges"], &["sleep", "1000"]);
    assert_eq!(proc_status_field(nnp, "NoNewPrivs").unwrap(), "1");
    assert_eq!(proc_status_field(nnp, "Uid").unwrap(), "0\t0\t0\t0");
}

#[test]
fn a_container_inherits_only_stdin_stdout_and_stderr() {
    require_root();
    let pod = Pod::create(&[]);
    const LEAKED: i32 = 42;
    let mut cmd = sandbox_command(pod.root());
    cmd.args(["run", pod.name(), "--name", "fds", "--", "sleep", "1000"]);
    // A copy of the stderr pipe: if it reached a monitor or the container, this very run would
    // also fail, as its stderr would stay open.
    leak_stderr_copy_into(&mut cmd, LEAKED);
    assert_exit!(run_with_timeout(cmd, b"", Duration::from_secs(30)), 0);
    let pid = pod.container("fds")["pid"].as_i64().unwrap() as i32;
    assert_eq!(open_fds(pid), [0, 1, 2]);
    let target = |fd: i32| std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).unwrap();
    assert_eq!(target(0), PathBuf::from("/dev/null"));
    assert_eq!(target(1), stdout_log(&pod, "fds"));
    assert_eq!(
        target(2),
        stdout_log(&pod, "fds").with_file_name("stderr.log")
    );
    let monitor = parent_of(pid);
    assert!(
        !open_fds(monitor).contains(&LEAKED),
        "the monitor kept the CLI's descriptor"
    );
}

#[test]
fn failed_runs_exit_125_126_or_127_and_leave_no_container() {
    require_root();
    let pod = Pod::create(&[]);
    let pid = pod.run("good", &[], &["sleep", "1000"]);
    let not_executable = pod.root().join("not-executable");
    std::fs::write(&not_executable, "echo hi\n").unwrap();

    let missing = pod.try_run("missing", &[], &["sandbox-test-no-such-command"]);
    assert_exit!(missing, 127);
    assert!(missing.stderr.contains("not found"), "{}", missing.stderr);
    assert_exit!(pod.try_run("missing2", &[], &["/nonexistent/command"]), 127);
    let denied = pod.try_run("denied", &[], &[not_executable.to_str().unwrap()]);
    assert_exit!(denied, 126);
    assert_exit!(pod.try_run("dir", &[], &["/"]), 126);
    let duplicate = pod.try_run("good", &[], &["true"]);
    assert_exit!(duplicate, 125);
    assert!(
        duplicate.stderr.contains("already exists"),
        "{}",
        duplicate.stderr
    );
    for bad in ["../x", "a/b", "", ".x", &"c".repeat(64)] {
        let refused = pod.try_run(bad, &[], &["true"]);
        assert_exit!(refused, 125);
        assert!(
            refused.stderr.contains("invalid container name"),
            "{}",
            refused.stderr
        );
    }
    assert_exit!(
        pod.try_run("relative", &["--workdir", "tmp"], &["true"]),
        125
    );
    assert_exit!(pod.try_run("user", &["--user", "root"], &["true"]), 125);
    // Only the good one exists, untouched.
    assert_eq!(pod.container_dirs(), ["good"]);
    assert_eq!(pod.container_names(), ["good"]);
    assert_eq!(pod.container("good")["pid"], pid);
    assert_eq!(pod.container("good")["state"], "running");
    assert!(is_alive(pid));

    assert_exit!(pod.sandbox(&["stop", pod.name(), "-t", "5"]), 0);
    let late = pod.try_run("late", &[], &["true"]);
    assert_exit!(late, 125);
    assert!(late.stderr.contains("stopped"), "{}", late.stderr);
    assert_eq!(pod.container_dirs(), ["good"]);
}

#[test]
fn a_container_whose_monitor_died_is_unknown_and_stop_still_stops_it() {
    require_root();
    let pod = Pod::create(&[]);
    let pid = pod.run("orphan", &[], &["sleep", "1000"]);
    let monitor = parent_of(pid);
    let comm = std::fs::read_to_string(format!("/proc/{monitor}/comm")).unwrap();
    assert_eq!(
        comm.trim(),
        "pause",
        "the parent of {pid} is not its monitor"
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(monitor),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    assert!(wait_until(Duration::from_secs(5), || !is_alive(monitor)));
    assert!(is_alive(pid), "killing the monitor killed the container");
    let container = pod.container("orphan");
    assert_eq!(container["state"], "unknown", "{container}");
    assert_eq!(container["exit_code"], serde_json::Value::Null);

    let (report, took) = stop_json(&pod, "10");
    assert!(took < Duration::from_secs(5), "stop took {took:?}");
    let entry = report_of(&report, "orphan");
    assert_eq!(entry["ended"], "unknown", "{entry}");
    assert!(
        wait_until(Duration::from_secs(5), || !is_alive(pid)),
        "stop did not stop the container whose monitor died"
    );
}

#[test]
fn inspect_shows_each_containers_fields_while_running_and_after_exit() {
    require_root();
    let pod = Pod::create(&[]);
    let pid = pod.run("web", &[], &["sleep", "1000"]);
    let running = pod.container("web");
    for key in [
        "name",
        "pid",
        "state",
        "exit_code",
        "signal",
        "started_at",
        "finished_at",
        "command",
    ] {
        assert!(running.get(key).is_some(), "no {key} in {running}");
    }
    assert_eq!(running["state"], "running");
    assert_eq!(running["exit_code"], serde_json::Value::Null);
    assert_eq!(running["signal"], serde_json::Value::Null);
    assert_eq!(running["finished_at"], serde_json::Value::Null);
    assert_eq!(running["command"], serde_json::json!(["sleep", "1000"]));
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_eq!(comm.trim(), "sleep");
    let started_at = running["started_at"].as_str().unwrap().to_owned();
    assert!(
        started_at.ends_with('Z') && started_at.contains('T'),
        "{started_at}"
    );

    assert_exit!(pod.sandbox(&["stop", pod.name()]), 0);
    let exited = pod.container("web");
    assert_eq!(exited["state"], "exited");
    assert_eq!(exited["pid"], pid);
    assert_eq!(exited["exit_code"], 143);
    assert_eq!(exited["signal"], "SIGTERM");
    let finished_at = exited["finished_at"].as_str().unwrap();
    assert!(
        finished_at >= started_at.as_str(),
        "{finished_at} < {started_at}"
    );
}

#[test]
fn stop_ends_the_orphans_a_container_left_behind() {
    require_root();
    // Without --share-pid nobody else ends a container's orphans: stop must find them.
    let pod = Pod::create(&[]);
    let net = pod.ns_inode("net");
    pod.run(
        "parent",
        &[],
        &["sh", "-c", "sleep 1000 & sleep 1001 & exit 3"],
    );
    assert_exit!(pod.sandbox(&["wait", pod.name(), "parent"]), 3);
    let in_pod = || -> Vec<i32> {
        procfs::process::all_processes()
            .unwrap()
            .filter_map(Result::ok)
            .filter(|p| {
                std::fs::metadata(format!("/proc/{}/ns/net", p.pid))
                    .is_ok_and(|m| std::os::unix::fs::MetadataExt::ino(&m) == net)
            })
            .filter(|p| p.stat().is_ok_and(|s| s.state != 'Z'))
            .map(|p| p.pid)
            .collect()
    };
    let pause = pod.pid();
    let orphans: Vec<i32> = in_pod().into_iter().filter(|&pid| pid != pause).collect();
    assert_eq!(
        orphans.len(),
        2,
        "the two sleeps should outlive their parent: {orphans:?}"
    );

    assert_exit!(pod.sandbox(&["stop", pod.name(), "-t", "5"]), 0);
    assert!(
        wait_until(Duration::from_secs(5), || in_pod().is_empty()),
        "processes left in the stopped pod's network namespace: {:?}",
        in_pod()
    );
    let report = pod.sandbox(&["stop", pod.name(), "--json"]);
    let report = json_of(&report);
    assert_eq!(report["containers"][0]["exit_code"], 3, "{report}");
    // The orphans were no container, and the report says what became of them.
    assert_eq!(report["other_processes"]["count"], 2, "{report}");
    assert_eq!(report["other_processes"]["signal"], "SIGKILL", "{report}");
}
