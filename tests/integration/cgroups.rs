//! Cgroups of pods and containers (issue 13), with real limits, as root: `create` and `run`
//! limits land in the files of their controllers (the cgroup2 tree where it owns the
//! controller, else v1: this test machine is a hybrid host), pause and the containers are born
//! in their cgroups, the kernel enforces the limits (OOM kill, fork refused, CPU throttled),
//! `inspect` and `stop` say `OOMKilled`, and `rm` leaves no cgroup behind.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sandbox_tests::images::{build_image, busybox_definition, crun_for_this_host};
use sandbox_tests::{
    Pod, ScratchDir, StateRoot, assert_exit, cgroup_roots, json_of, pod_cgroups, report_of,
    require_root, wait_until,
};

/// How long a container may take to hit its limit on a loaded machine.
const SOON: Duration = Duration::from_secs(30);

/// The file of `controller` for cgroup `path` (from the hierarchies' roots): `v2` in the
/// cgroup2 tree if that tree owns the controller, else `v1` in the controller's v1 hierarchy.
fn control_file(path: &str, controller: &str, v2: &str, v1: &str) -> PathBuf {
    let relative = path.trim_start_matches('/');
    for root in cgroup_roots() {
        let controllers = std::fs::read_to_string(root.join("cgroup.controllers"));
        if controllers.is_ok_and(|c| c.split_whitespace().any(|c| c == controller)) {
            return root.join(relative).join(v2);
        }
    }
    let root = cgroup_roots()
        .into_iter()
        .find(|root| root.join(relative).join(v1).exists() || root.ends_with(controller))
        .unwrap_or_else(|| panic!("no {controller} controller mounted"));
    root.join(relative).join(v1)
}

/// The file `file` of cgroup `path` in the cgroup2 tree, which holds every process of a pod
/// (placed there at birth) on hybrid and v2 hosts alike.
fn unified_file(path: &str, file: &str) -> PathBuf {
    let root = cgroup_roots()
        .into_iter()
        .find(|root| root.join("cgroup.controllers").exists())
        .expect("a cgroup2 tree");
    root.join(path.trim_start_matches('/')).join(file)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
        .trim()
        .to_owned()
}

/// The pod's cgroup path as `inspect` shows it.
fn pod_cgroup(pod: &Pod) -> String {
    pod.inspect()["cgroup"]["path"]
        .as_str()
        .unwrap_or_else(|| panic!("no cgroup in {}", pod.inspect()))
        .to_owned()
}

/// Waits until container `name` has exited; its `inspect` object.
fn exited(pod: &Pod, name: &str) -> serde_json::Value {
    assert!(
        wait_until(SOON, || pod.container(name)["state"] == "exited"),
        "container {name} did not exit: {}",
        pod.container(name)
    );
    pod.container(name)
}

#[test]
fn pod_limits_land_in_its_cgroup_pause_is_born_there_and_rm_removes_it() {
    require_root();
    let pod = Pod::create(&["--memory", "64m", "--cpus", "0.5", "--pids-limit", "20"]);
    let inspect = pod.inspect();
    let path = pod_cgroup(&pod);
    assert!(
        path.starts_with(&format!("/sandbox/pod-{}-", pod.name())),
        "{path}"
    );
    assert_eq!(
        inspect["cgroup"]["limits"],
        serde_json::json!({"memory_bytes": 67108864, "millicpus": 500, "pids": 20})
    );
    assert_eq!(
        read(&control_file(
            &path,
            "memory",
            "memory.max",
            "memory.limit_in_bytes"
        )),
        "67108864"
    );
    assert_eq!(
        read(&control_file(&path, "pids", "pids.max", "pids.max")),
        "20"
    );
    let cpu = read(&control_file(&path, "cpu", "cpu.max", "cpu.cfs_quota_us"));
    assert!(cpu == "50000 100000" || cpu == "50000", "{cpu}");

    // pause is in the pod's `pause` leaf in the cgroup2 tree and in the hierarchy of every
    // limited controller (the others it is not moved into: each v1 move costs an RCU grace
    // period).
    let pause = inspect["pid"].as_i64().unwrap();
    let membership = std::fs::read_to_string(format!("/proc/{pause}/cgroup")).unwrap();
    let limited = |line: &&str| {
        let controllers = line.split(':').nth(1).unwrap_or_default();
        controllers.is_empty()
            || controllers
                .split(',')
                .any(|c| ["memory", "cpu", "pids"].contains(&c))
    };
    let lines: Vec<&str> = membership.lines().filter(limited).collect();
    assert!(lines.len() >= 2, "{membership}");
    for line in lines {
        assert!(line.ends_with(&format!("{path}/pause")), "{line}");
    }

    let name = pod.name().to_owned();
    assert!(!pod_cgroups(&name, "sandbox").is_empty());
    assert_exit!(pod.sandbox(&["rm", "--force", &name]), 0);
    assert_eq!(pod_cgroups(&name, "sandbox"), Vec::<PathBuf>::new());
}

#[test]
fn bad_limits_are_refused_with_125_and_nothing_is_created() {
    require_root();
    let root = StateRoot::new();
    for (args, message) in [
        (&["--memory", "1m"][..], "below the minimum of 6 MiB"),
        (&["--memory", "lots"][..], "expected a number of bytes"),
        (&["--cpus", "0"][..], "at least 0.01 CPU"),
        (&["--cpus", "1,5"][..], "expected a number of CPUs"),
        (&["--pids-limit", "0"][..], "expected a positive number"),
        (&["--cgroup-parent", "a/../b"][..], "is not a cgroup name"),
    ] {
        let mut command = vec!["create", "refused"];
        command.extend_from_slice(args);
        let refused = root.sandbox(&command);
        assert_exit!(refused, 125);
        assert!(
            refused.stderr.contains(message),
            "{args:?}: {}",
            refused.stderr
        );
        assert!(!root.path().join("refused").exists());
        assert_eq!(pod_cgroups("refused", "sandbox"), Vec::<PathBuf>::new());
    }
}

#[test]
fn a_container_over_its_memory_limit_is_oom_killed_and_reported_so() {
    require_root();
    let pod = Pod::create(&[]);
    // `tail` keeps every byte of a file without newlines: /dev/zero grows it without end.
    let pid = pod.run("hog", &["--memory", "32m"], &["tail", "/dev/zero"]);
    assert!(pid > 0);
    let hog = exited(&pod, "hog");
    assert_eq!(hog["exit_code"], 137, "{hog}");
    assert_eq!(hog["signal"], "SIGKILL", "{hog}");
    assert_eq!(hog["reason"], "OOMKilled", "{hog}");
    let limit = control_file(
        &format!("{}/ctr-hog", pod_cgroup(&pod)),
        "memory",
        "memory.max",
        "memory.limit_in_bytes",
    );
    assert_eq!(read(&limit), "33554432");

    // A container that exits on its own is not called OOM-killed, and the stop report says
    // what inspect says.
    pod.run("fine", &["--memory", "32m"], &["true"]);
    assert_eq!(exited(&pod, "fine")["reason"], serde_json::Value::Null);
    let stopped = pod.sandbox(&["stop", pod.name(), "--json"]);
    assert_exit!(stopped, 0);
    let report = json_of(&stopped);
    assert_eq!(report_of(&report, "hog")["reason"], "OOMKilled", "{report}");
    assert!(
        report_of(&report, "fine").get("reason").is_none(),
        "{report}"
    );
    let text = pod.sandbox(&["stop", pod.name()]);
    assert!(text.stdout.contains("OOMKilled"), "{}", text.stdout);
}

#[test]
fn an_image_container_gets_its_limits_from_the_runtime_in_the_pods_cgroup() {
    require_root();
    let dir = ScratchDir::new("cgroup-image");
    let image = build_image(&busybox_definition(), &dir.path().join("layout"), "t");
    let crun = crun_for_this_host(dir.path());
    for runtime in [PathBuf::from("/usr/sbin/runc"), crun] {
        let runtime = runtime.to_str().unwrap();
        let pod = Pod::create(&["--memory", "256m"]);
        pod.run(
            "limited",
            &[
                "--runtime",
                runtime,
                "--image",
                &image,
                "--cpus",
                "0.25",
                "--pids-limit",
                "9",
            ],
            &["sleep", "300"],
        );
        pod.run(
            "hog",
            &["--runtime", runtime, "--image", &image, "--memory", "32m"],
            &["tail", "/dev/zero"],
        );
        let path = pod_cgroup(&pod);
        let limited = format!("{path}/ctr-limited");
        assert_eq!(
            read(&control_file(&limited, "pids", "pids.max", "pids.max")),
            "9",
            "{runtime}"
        );
        let cpu = read(&control_file(
            &limited,
            "cpu",
            "cpu.max",
            "cpu.cfs_quota_us",
        ));
        assert!(cpu == "25000 100000" || cpu == "25000", "{runtime}: {cpu}");
        // The container's process is in its cgroup in every hierarchy that has limits; runc
        // and the monitor are not (they are in `runtime`).
        let pid = pod.container("limited")["pid"].as_i64().unwrap();
        let membership = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
        assert!(
            membership
                .lines()
                .filter(|line| !line.starts_with("0::") || !line.contains("/runtime"))
                .all(|line| line.ends_with(&limited)),
            "{runtime}: {membership}"
        );
        let hog = exited(&pod, "hog");
        assert_eq!(hog["exit_code"], 137, "{runtime}: {hog}");
        assert_eq!(hog["reason"], "OOMKilled", "{runtime}: {hog}");
    }
}

#[test]
fn pids_limit_refuses_forks_and_cpus_throttle() {
    require_root();
    let pod = Pod::create(&[]);
    // The monitor (pause) and sh are 2 of the 5: three sleeps start, the fourth cannot.
    pod.run(
        "forky",
        &["--pids-limit", "5"],
        &["sh", "-c", "for i in 1 2 3 4; do sleep 300 & done; wait"],
    );
    assert!(
        wait_until(SOON, || {
            let logs = pod.sandbox(&["logs", pod.name(), "forky"]);
            logs.stdout.contains("fork") || logs.stderr.contains("fork")
        }),
        "no fork was refused: {:?}",
        pod.sandbox(&["logs", pod.name(), "forky"])
    );
    // The kernel counted the refusals, and the container never had more than 5 tasks (sh may
    // have given up after the refusal, so fewer may be left).
    let forky = format!("{}/ctr-forky", pod_cgroup(&pod));
    let events = read(&control_file(&forky, "pids", "pids.events", "pids.events"));
    let refused: u64 = events
        .lines()
        .find_map(|line| line.strip_prefix("max "))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(refused >= 1, "{events}");
    let current = read(&control_file(
        &forky,
        "pids",
        "pids.current",
        "pids.current",
    ));
    assert!(current.parse::<u64>().unwrap() <= 5, "{current} tasks");

    pod.run(
        "spin",
        &["--cpus", "0.1"],
        &["sh", "-c", "while :; do :; done"],
    );
    let stat = control_file(
        &format!("{}/ctr-spin", pod_cgroup(&pod)),
        "cpu",
        "cpu.stat",
        "cpu.stat",
    );
    let throttled = || {
        read(&stat)
            .lines()
            .find_map(|line| line.strip_prefix("nr_throttled "))
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0)
    };
    assert!(
        wait_until(SOON, || throttled() > 0),
        "never throttled: {}",
        read(&stat)
    );
}

#[test]
fn rm_of_a_container_kills_a_daemon_that_left_its_session() {
    require_root();
    let pod = Pod::create(&[]);
    // setsid -f: a daemon in a session of its own, no child of the monitor any more.
    pod.run(
        "daemonizer",
        &[],
        &["sh", "-c", "setsid -f sleep 300; sleep 300"],
    );
    let cgroup = format!("{}/ctr-daemonizer", pod_cgroup(&pod));
    let procs = unified_file(&cgroup, "cgroup.procs");
    assert!(
        wait_until(SOON, || read(&procs).lines().count() == 4),
        "monitor, sh, sleep and the daemon: {}",
        read(&procs)
    );
    let daemon: Vec<i32> = read(&procs).lines().map(|p| p.parse().unwrap()).collect();
    assert_exit!(pod.sandbox(&["rm", "--force", pod.name(), "daemonizer"]), 0);
    for pid in daemon {
        assert!(
            wait_until(SOON, || !sandbox_tests::is_alive(pid)),
            "{pid} survived rm"
        );
    }
    assert!(
        !procs.parent().unwrap().exists(),
        "the container's cgroup is left"
    );
}

#[test]
fn stop_kills_what_left_its_container_and_an_exec_session_through_the_cgroup() {
    require_root();
    let pod = Pod::create(&[]);
    // setsid -f: a daemon in a session of its own, which outlives its container's command.
    pod.run(
        "daemonizer",
        &[],
        &["sh", "-c", "setsid -f sleep 300; exec sleep 300"],
    );
    let cgroup = format!("{}/ctr-daemonizer", pod_cgroup(&pod));
    let procs = unified_file(&cgroup, "cgroup.procs");
    assert!(
        wait_until(SOON, || read(&procs).lines().count() == 3),
        "monitor, sleep and the daemon: {}",
        read(&procs)
    );
    let members: Vec<i32> = read(&procs).lines().map(|p| p.parse().unwrap()).collect();

    // An exec session, left running: it is in the pod's `exec` cgroup.
    let mut session = sandbox_tests::sandbox_command(pod.root());
    session
        .args(["exec", pod.name(), "--", "sleep", "300"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut session = session.spawn().unwrap();
    let exec_procs = unified_file(&format!("{}/exec", pod_cgroup(&pod)), "cgroup.procs");
    assert!(
        wait_until(SOON, || std::fs::read_to_string(&exec_procs)
            .is_ok_and(|p| p.lines().count() == 2)),
        "the session's launcher and its sleep are not in the exec cgroup"
    );

    let stopped = pod.sandbox(&["stop", pod.name(), "-t", "10", "--json"]);
    assert_exit!(stopped, 0);
    let report = json_of(&stopped);
    assert_eq!(
        report_of(&report, "daemonizer")["exit_code"],
        143,
        "{report}"
    );
    assert_eq!(
        report["other_processes"]["count"], 1,
        "the daemon: {report}"
    );
    assert_eq!(report["other_processes"]["signal"], "SIGKILL", "{report}");
    assert_eq!(
        report["execs"][0]["command"],
        serde_json::json!(["sleep", "300"])
    );
    for pid in members {
        assert!(
            wait_until(SOON, || !sandbox_tests::is_alive(pid)),
            "{pid} survived stop"
        );
    }
    let status = session.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(137),
        "the exec session ended with SIGKILL"
    );
}

#[test]
fn stats_and_inspect_show_what_the_cgroups_use() {
    require_root();
    let pod = Pod::create(&["--memory", "128m", "--pids-limit", "50"]);
    pod.run(
        "spin",
        &["--cpus", "0.5"],
        &["sh", "-c", "while :; do :; done"],
    );
    let stats = pod.sandbox(&["stats", "--no-stream", "--json", pod.name()]);
    assert_exit!(stats, 0);
    let stats = json_of(&stats);
    let line = &stats[0];
    assert_eq!(line["pod"], pod.name(), "{stats}");
    assert_eq!(line["memory_limit_bytes"], 134217728, "{stats}");
    assert_eq!(line["pids_limit"], 50, "{stats}");
    assert!(line["memory_bytes"].as_u64().unwrap() > 0, "{stats}");
    assert!(
        line["pids"].as_u64().unwrap() >= 3,
        "pause, monitor and sh: {stats}"
    );
    // Busy, but never more than its quota of half a CPU (with slack for the reading's timing).
    let cpu = line["cpu_percent"].as_f64().unwrap();
    assert!(cpu > 0.0 && cpu < 65.0, "{stats}");

    let spin = pod.container("spin");
    let usage = &spin["cgroup"]["usage"];
    assert!(usage["cpu_usec"].as_u64().unwrap() > 0, "{spin}");
    assert!(usage["pids"].as_u64().unwrap() >= 2, "{spin}");
    assert_eq!(usage["oom_kills"], 0, "{spin}");
    assert!(
        pod.inspect()["cgroup"]["usage"]["memory_peak_bytes"]
            .as_u64()
            .unwrap()
            > 0
    );

    let missing = pod.sandbox(&["stats", "--no-stream", "no-such-pod"]);
    assert_exit!(missing, 125);
    assert!(
        missing.stderr.contains("\"no-such-pod\" does not exist"),
        "{}",
        missing.stderr
    );
}

#[test]
fn pids_limit_5_makes_the_sixth_process_of_an_image_container_fail() {
    require_root();
    let dir = ScratchDir::new("cgroup-pids");
    let image = build_image(&busybox_definition(), &dir.path().join("layout"), "t");
    let pod = Pod::create(&[]);
    // sh is PID 1 of the container and its sleeps are the 2nd to 6th processes: four start,
    // the fifth sleep (the 6th process) cannot, and busybox sh gives up (exit 2).
    pod.run(
        "forky",
        &["--image", &image, "--pids-limit", "5"],
        &[
            "sh",
            "-c",
            "for i in 1 2 3 4 5; do sleep 300 & echo started $i; done; sleep 300",
        ],
    );
    let forky = exited(&pod, "forky");
    assert_eq!(forky["exit_code"], 2, "{forky}");
    let logs = pod.sandbox(&["logs", pod.name(), "forky"]);
    let said = format!("{}{}", logs.stdout, logs.stderr);
    assert!(said.contains("started 4\n"), "{said}");
    assert!(!said.contains("started 5"), "{said}");
    assert!(said.contains("can't fork"), "{said}");
    let events = read(&control_file(
        &format!("{}/ctr-forky", pod_cgroup(&pod)),
        "pids",
        "pids.events",
        "pids.events",
    ));
    assert_eq!(events, "max 1", "the kernel refused one fork");
}

/// This host is hybrid; a cgroup v2-only host is what a mount namespace without the v1
/// hierarchies shows: its cgroup2 tree owns none of the limited controllers, so pods get their
/// cgroups there (placement, `cgroup.kill`, removal) and a limit is refused, naming what the
/// host lacks, with nothing left behind.
#[test]
fn a_host_with_only_a_cgroup2_tree_places_kills_and_refuses_limits_it_cannot_set() {
    require_root();
    let root = StateRoot::new();
    let sandbox = sandbox_tests::sandbox_bin();
    let script = r#"
        grep " - cgroup cgroup " /proc/self/mountinfo | cut -d" " -f5 | while read -r m; do
            umount "$m" || exit 99
        done
        s() { "$SANDBOX" --root "$ROOT" "$@"; }
        s create v2only || exit 1
        s run v2only --name c -- sleep 300 || exit 2
        pid=$(s inspect v2only | sed -n 's/^  "pid": \([0-9]*\),$/\1/p')
        echo "pause: $(grep '^0::' /proc/$pid/cgroup)"
        s create v2limits --memory 64m
        echo "limits: $?"
        [ -e "$ROOT/v2limits" ] && echo "v2limits left"
        s stop v2only -t 1 >/dev/null || exit 3
        s rm v2only || exit 4
        echo done
    "#;
    let ran: sandbox_tests::Run = std::process::Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", script])
        .env("SANDBOX", &sandbox)
        .env("ROOT", root.path())
        .env_remove("SANDBOX_CGROUP_PARENT")
        .output()
        .unwrap()
        .into();
    assert_exit!(ran, 0);
    assert!(
        ran.stdout.ends_with("limits: 125\ndone\n"),
        "{}",
        ran.stdout
    );
    assert!(
        ran.stderr.contains("a memory limit is not possible on this host: the host has no memory cgroup controller mounted"),
        "{}",
        ran.stderr
    );
    assert_eq!(pod_cgroups("v2only", "sandbox"), Vec::<PathBuf>::new());
    assert_eq!(pod_cgroups("v2limits", "sandbox"), Vec::<PathBuf>::new());
}

#[test]
fn stats_streams_a_reading_every_second_until_interrupted() {
    require_root();
    let pod = Pod::create(&["--memory", "64m"]);
    let mut stats = sandbox_tests::sandbox_command(pod.root());
    stats
        .args(["stats", "--json", pod.name()])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut stats = stats.spawn().unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stats.stdout.take().unwrap()));
    // Each reading is a pretty-printed JSON array: read two whole ones.
    let mut readings = Vec::new();
    let mut text = String::new();
    while readings.len() < 2 {
        let line = lines.next().expect("stats ended early").unwrap();
        text.push_str(&line);
        text.push('\n');
        if line == "]" {
            readings.push(serde_json::from_str::<serde_json::Value>(&text).unwrap());
            text.clear();
        }
    }
    for reading in &readings {
        assert_eq!(reading[0]["pod"], pod.name(), "{reading}");
        assert_eq!(reading[0]["memory_limit_bytes"], 67108864, "{reading}");
    }
    // The second reading's CPU time is not before the first's.
    let cpu = |reading: &serde_json::Value| reading[0]["cpu_usec"].as_u64().unwrap();
    assert!(cpu(&readings[1]) >= cpu(&readings[0]));

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(stats.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    assert!(
        wait_until(SOON, || stats.try_wait().unwrap().is_some()),
        "stats did not end on SIGINT"
    );
    assert_eq!(stats.wait().unwrap().code(), Some(0));
}
