//! Faults (issue 6), provoked for real: the CLI SIGKILLed during `create`, `run`, `stop` and
//! `rm` at every system call that changes state or waits on a child, and after a sweep of
//! delays; pause killed from outside; concurrent commands on one pod and on several; corrupt and
//! truncated state files; a recorded PID that now names another process.
//!
//! Leaks are found exactly, not by guessing at process names: every `sandbox` command of these
//! tests runs in a cgroup of its own (`sandbox_tests::Cgroup`), which every process it starts
//! inherits (holders, monitors, containers), so "nothing is left running" is "the cgroup is
//! empty", and "nothing runs that no state file names" is "every process in it is a pause,
//! monitor or container that `inspect` reports". Mounts come from `/proc/self/mountinfo`.

use std::collections::HashMap;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use sandbox_tests::{
    Run, SANDBOX_TIMEOUT, ScratchDir, Tracked, assert_exit, is_alive, json_of, require_root,
    run_with_timeout, wait_until,
};

// ---- the CLI killed at any point ----

/// The system calls at whose entry the CLI is killed (strace delivers the SIGKILL there, so the
/// call itself never happens): every call that changes something on disk, in the mount table or
/// in the process table, and every call that waits on another process (`read` of a pipe from a
/// child, `wait4`), because what a child does next may depend on whether its reader is still
/// alive. Between two of them the CLI only computes or reads files, so a kill
/// there leaves what a kill at the next one leaves: the sweep reaches every state a dead CLI can
/// leave behind. `open`/`openat` count only when they can create or write.
const KILL_AT: [&str; 17] = [
    "open",
    "openat",
    "mkdir",
    "write",
    "rename",
    "fsync",
    "mount",
    "umount2",
    "unlink",
    "unlinkat",
    "rmdir",
    "flock",
    "clone3",
    "pidfd_send_signal",
    "kill",
    "read",
    "wait4",
];

/// Kills after these delays, on top of the system-call sweep (a kill at a random point of a
/// system call, or before `sandbox` even runs).
const KILL_DELAYS_US: [u64; 7] = [0, 500, 1_000, 2_000, 5_000, 10_000, 20_000];

/// Where the CLI is SIGKILLed.
#[derive(Clone, Debug)]
enum KillPoint {
    /// At the entry of the `nth` call (from 1) of system call `name`.
    Syscall {
        name: String,
        nth: usize,
        call: String,
    },
    /// After this long.
    Delay(Duration),
}

impl std::fmt::Display for KillPoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KillPoint::Syscall { call, .. } => write!(f, "at {call}"),
            KillPoint::Delay(delay) => write!(f, "after {delay:?}"),
        }
    }
}

/// The kill points of a command from its strace (`-e trace=KILL_AT`).
fn kill_points(trace: &str) -> Vec<KillPoint> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    // `read`s of a file before the first clone3 cannot matter to a child; skip them.
    let mut children = false;
    let mut points = Vec::new();
    for line in trace.lines() {
        let Some((name, args)) = line.split_once('(') else {
            continue;
        };
        if !KILL_AT.contains(&name) {
            continue;
        }
        let nth = seen.entry(name).or_default();
        *nth += 1;
        children |= name == "clone3";
        let counts = match name {
            "open" | "openat" => ["O_CREAT", "O_WRONLY", "O_RDWR"]
                .iter()
                .any(|flag| args.contains(flag)),
            "read" => children,
            _ => true,
        };
        if counts {
            let call: String = line.chars().take(110).collect();
            points.push(KillPoint::Syscall {
                name: name.to_owned(),
                nth: *nth,
                call,
            });
        }
    }
    points
}

/// What one command under fault injection needs: how to prepare the pod before the command,
/// the command, the states `inspect` may show after the kill, and how the next command
/// finishes or redoes the job.
struct Scenario {
    command: &'static str,
    setup: fn(&Tracked, &str),
    args: fn(&str) -> Vec<String>,
    pod_states: &'static [&'static str],
    container_states: &'static [&'static str],
    recover: fn(&Tracked, &str, Option<&serde_json::Value>, &str),
}

/// Runs `scenario` once under strace to find its kill points, then once per kill point and
/// delay, each time checking what the next commands see, removing the pod and checking that
/// nothing was left. Returns the number of runs in which the CLI was really killed.
fn inject_faults(scenario: &Scenario) -> usize {
    require_root();
    let tracked = Tracked::new();
    let name = tracked.pod_name();
    let scratch = ScratchDir::new("strace");
    let trace_file = scratch.path().join("trace");

    (scenario.setup)(&tracked, &name);
    let mut reference = Command::new("strace");
    reference.arg("-o").arg(&trace_file).args([
        "-qq",
        "-e",
        &format!("trace={}", KILL_AT.join(",")),
        "--",
    ]);
    let reference = run_traced(&tracked, reference, &(scenario.args)(&name));
    assert_exit!(reference, 0);
    tracked.remove_and_check(&name, "after the reference run");
    let points = kill_points(&std::fs::read_to_string(&trace_file).unwrap());
    assert!(points.len() > 5, "too few kill points: {points:?}");

    let delays = KILL_DELAYS_US.map(|us| KillPoint::Delay(Duration::from_micros(us)));
    let (mut killed, mut killed_at_calls) = (0, 0);
    let mut missed = Vec::new();
    for point in points.iter().chain(delays.iter()) {
        let context = format!("sandbox {} killed {point}", scenario.command);
        (scenario.setup)(&tracked, &name);
        let args = (scenario.args)(&name);
        let at_call = matches!(point, KillPoint::Syscall { .. });
        if run_killed(&tracked, &args, point) {
            killed += 1;
            killed_at_calls += usize::from(at_call);
        } else if at_call {
            missed.push(point.to_string());
        }
        let after = check_consistent(
            &tracked,
            &name,
            scenario.pod_states,
            scenario.container_states,
            &context,
        );
        (scenario.recover)(&tracked, &name, after.as_ref(), &context);
        tracked.remove_and_check(&name, &context);
    }
    // A few calls depend on timing (whether a SIGKILLed monitor wrote exit.json before it
    // died decides how many files rm unlinks), so a point may not come again; most must.
    assert!(
        missed.len() * 10 <= points.len(),
        "sandbox {}: these kill points were never reached (the runs took another path than the \
         reference run): {missed:#?}",
        scenario.command
    );
    println!(
        "fault injection: sandbox {}: {killed} SIGKILLs ({killed_at_calls} at system calls that \
         change state or wait on a child, {} after delays of 0-20 ms); nothing was left behind",
        scenario.command,
        killed - killed_at_calls
    );
    killed
}

fn create_share_pid(name: &str) -> Vec<String> {
    ["create", name, "--share-pid"].map(str::to_owned).to_vec()
}

fn no_setup(_: &Tracked, _: &str) {}

fn setup_pod(tracked: &Tracked, name: &str) {
    assert_exit!(tracked.sandbox(&["create", name]), 0);
}

fn setup_pod_with_containers(tracked: &Tracked, name: &str) {
    setup_pod(tracked, name);
    let sleeper = ["run", name, "--name", "c1", "--", "sleep", "1000"];
    assert_exit!(tracked.sandbox(&sleeper), 0);
    let interrupted = [
        "run",
        name,
        "--name",
        "c2",
        "--stop-signal",
        "INT",
        "--",
        "sleep",
        "1000",
    ];
    assert_exit!(tracked.sandbox(&interrupted), 0);
}

#[test]
fn create_killed_at_any_point_is_rolled_back_or_completed_and_leaves_nothing() {
    inject_faults(&Scenario {
        command: "create --share-pid",
        setup: no_setup,
        args: create_share_pid,
        pod_states: &["running", "failed"],
        container_states: &[],
        recover: |tracked, name, after, context| {
            // The name can be used again at once: a half-created pod is rolled back by the
            // next create; a complete one is there.
            let again = tracked.sandbox(&["create", name, "--share-pid"]);
            let was_running = after.is_some_and(|pod| pod["state"] == "running");
            assert_name_reusable(&again, was_running, context);
            let pod = tracked.inspect(name, context);
            assert_eq!(pod["state"], "running", "{context}: {pod}");
            tracked.check_only_named_processes(name, context);
        },
    });
}

/// After a killed command, trying the same name again must either find it taken (it had
/// completed: 125 "already exists") or succeed (it had been rolled back or is rolled back now).
fn assert_name_reusable(again: &Run, was_running: bool, context: &str) {
    if was_running {
        assert_exit!(*again, 125);
        assert!(
            again.stderr.contains("already exists"),
            "{context}: {again:?}"
        );
    } else {
        assert!(again.code == Some(0), "{context}: again: {again:?}");
    }
}

#[test]
fn run_killed_at_any_point_leaves_a_container_that_can_be_started_again() {
    inject_faults(&Scenario {
        command: "run",
        setup: setup_pod,
        args: |name| {
            ["run", name, "--name", "c", "--", "sleep", "1000"]
                .map(str::to_owned)
                .to_vec()
        },
        pod_states: &["running"],
        container_states: &["running", "failed"],
        recover: |tracked, name, after, context| {
            let was_running = after
                .and_then(|pod| pod["containers"].as_array())
                .is_some_and(|cs| cs.iter().any(|c| c["state"] == "running"));
            let again = tracked.sandbox(&["run", name, "--name", "c", "--", "sleep", "1000"]);
            assert_name_reusable(&again, was_running, context);
            let pod = tracked.inspect(name, context);
            let containers = pod["containers"].as_array().unwrap();
            assert_eq!(containers.len(), 1, "{context}: {pod}");
            assert_eq!(containers[0]["state"], "running", "{context}: {pod}");
            tracked.check_only_named_processes(name, context);
        },
    });
}

#[test]
fn stop_killed_at_any_point_can_be_finished_by_the_next_stop() {
    inject_faults(&Scenario {
        command: "stop",
        setup: setup_pod_with_containers,
        args: |name| ["stop", name, "-t", "5"].map(str::to_owned).to_vec(),
        pod_states: &["running", "exited", "stopped"],
        container_states: &["running", "exited"],
        recover: |tracked, name, _after, context| {
            let again = tracked.sandbox(&["stop", name, "-t", "5", "--json"]);
            assert!(again.code == Some(0), "{context}: stop again: {again:?}");
            let pod = tracked.inspect(name, context);
            assert_eq!(pod["state"], "stopped", "{context}: {pod}");
            for container in pod["containers"].as_array().unwrap() {
                assert_eq!(container["state"], "exited", "{context}: {pod}");
                assert!(container["exit_code"].is_i64(), "{context}: {pod}");
            }
            assert!(
                tracked.cgroup.wait_empty(Duration::from_secs(10)),
                "{context}: still running after stop: {:?}",
                tracked.cgroup.pids()
            );
            let removed = tracked.sandbox(&["rm", name]);
            assert!(removed.code == Some(0), "{context}: rm: {removed:?}");
        },
    });
}

#[test]
fn rm_killed_at_any_point_can_be_finished_by_the_next_rm() {
    inject_faults(&Scenario {
        command: "rm --force",
        setup: setup_pod_with_containers,
        args: |name| ["rm", "--force", name].map(str::to_owned).to_vec(),
        pod_states: &["running", "exited", "failed"],
        container_states: &["running", "exited", "unknown"],
        recover: |_, _, _, _| {},
    });
}

// ---- pause killed from outside ----

fn kill(pid: i32) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
}

#[test]
fn a_pod_whose_pause_was_killed_says_why_reports_its_containers_and_is_removed() {
    require_root();
    let tracked = Tracked::new();

    // Shared PID namespace: pause is its PID 1, so its death kills the containers too.
    let shared = tracked.pod_name();
    assert_exit!(tracked.sandbox(&["create", &shared, "--share-pid"]), 0);
    assert_exit!(
        tracked.sandbox(&["run", &shared, "--name", "c", "--", "sleep", "1000"]),
        0
    );
    let pod = tracked.inspect(&shared, "");
    let (pause, container) = (pid_of(&pod), pid_of(&pod["containers"][0]));
    kill(pause);
    assert!(wait_until(Duration::from_secs(10), || !is_alive(pause)
        && !is_alive(container)));
    let mut pod = tracked.inspect(&shared, "");
    assert!(
        wait_until(Duration::from_secs(10), || {
            pod = tracked.inspect(&shared, "");
            pod["containers"][0]["state"] == "exited"
        }),
        "{pod}"
    );
    assert_eq!(pod["state"], "exited", "{pod}");
    let reason = pod["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("pause") && reason.contains(&pause.to_string()),
        "{pod}"
    );
    assert_eq!(pod["containers"][0]["exit_code"], 137, "{pod}");
    assert_eq!(pod["containers"][0]["signal"], "SIGKILL", "{pod}");
    for refused in [
        tracked.sandbox(&["exec", &shared, "--", "true"]),
        tracked.sandbox(&["run", &shared, "--name", "d", "--", "true"]),
    ] {
        assert_exit!(refused, 125);
        assert!(refused.stderr.contains("exited"), "{refused:?}");
    }
    assert_exit!(tracked.sandbox(&["rm", &shared]), 0);
    tracked.check_nothing_left(&shared, "rm of a shared-PID pod whose pause was killed");

    // Own PID namespaces: the container outlives pause, and says so.
    let separate = tracked.pod_name();
    assert_exit!(tracked.sandbox(&["create", &separate]), 0);
    assert_exit!(
        tracked.sandbox(&["run", &separate, "--name", "c", "--", "sleep", "1000"]),
        0
    );
    let pod = tracked.inspect(&separate, "");
    let (pause, container) = (pid_of(&pod), pid_of(&pod["containers"][0]));
    kill(pause);
    assert!(wait_until(Duration::from_secs(10), || !is_alive(pause)));
    let pod = tracked.inspect(&separate, "");
    assert_eq!(pod["state"], "exited", "{pod}");
    assert!(
        pod["reason"].as_str().is_some_and(|r| r.contains("pause")),
        "{pod}"
    );
    assert_eq!(pod["containers"][0]["state"], "running", "{pod}");
    assert!(is_alive(container));
    // A pod with a live container is not removed without --force, and nothing changes.
    let refused = tracked.sandbox(&["rm", &separate]);
    assert_exit!(refused, 125);
    assert_eq!(refused.stderr.lines().count(), 1, "{refused:?}");
    assert!(is_alive(container));
    assert_exit!(tracked.sandbox(&["rm", "--force", &separate]), 0);
    tracked.check_nothing_left(&separate, "rm --force of a pod whose pause was killed");
}

fn pid_of(value: &serde_json::Value) -> i32 {
    value["pid"]
        .as_i64()
        .unwrap_or_else(|| panic!("no pid in {value}")) as i32
}

// ---- concurrency ----

#[test]
fn concurrent_creates_of_one_name_make_exactly_one_pod() {
    require_root();
    const N: usize = 16;
    let tracked = Arc::new(Tracked::new());
    let name = tracked.pod_name();
    let barrier = Arc::new(Barrier::new(N));
    let threads: Vec<_> = (0..N)
        .map(|_| {
            let (tracked, name, barrier) = (tracked.clone(), name.clone(), barrier.clone());
            std::thread::spawn(move || {
                let cmd = tracked.command(&["create", &name]);
                barrier.wait();
                run_with_timeout(cmd, b"", SANDBOX_TIMEOUT)
            })
        })
        .collect();
    let runs: Vec<Run> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let won = runs.iter().filter(|r| r.code == Some(0)).count();
    assert_eq!(won, 1, "{runs:#?}");
    for lost in runs.iter().filter(|r| r.code != Some(0)) {
        assert_exit!(*lost, 125);
        assert!(lost.stderr.contains("already exists"), "{lost:?}");
        assert_eq!(lost.stderr.lines().count(), 1, "{lost:?}");
    }
    assert_eq!(tracked.inspect(&name, "")["state"], "running");
    tracked.check_only_named_processes(&name, "concurrent creates");
    tracked.remove_and_check(&name, "concurrent creates");
}

/// Every `*.json` file below `dir` parses.
fn assert_state_files_parse(dir: &Path, context: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() && !path.is_symlink() {
            assert_state_files_parse(&path, context);
        } else if path.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            serde_json::from_str::<serde_json::Value>(&text).unwrap_or_else(|e| {
                panic!(
                    "{context}: {} does not parse ({e}): {text:?}",
                    path.display()
                )
            });
        }
    }
}

#[test]
fn concurrent_run_stop_and_rm_on_one_pod_are_serialised_and_never_corrupt_state() {
    require_root();
    let tracked = Arc::new(Tracked::new());
    for round in 0..3 {
        let context = format!("round {round}");
        let name = tracked.pod_name();
        assert_exit!(tracked.sandbox(&["create", &name]), 0);
        let mut commands: Vec<Vec<String>> = (0..6)
            .map(|i| {
                [
                    "run",
                    &name,
                    "--name",
                    &format!("c{i}"),
                    "--",
                    "sleep",
                    "1000",
                ]
                .map(str::to_owned)
                .to_vec()
            })
            .collect();
        commands.push(vec!["stop".into(), name.clone(), "-t".into(), "2".into()]);
        commands.push(vec!["stop".into(), name.clone(), "-t".into(), "2".into()]);
        commands.push(vec!["rm".into(), name.clone()]);
        commands.push(vec!["inspect".into(), name.clone()]);
        commands.push(vec!["ps".into(), "--json".into()]);
        commands.push(vec![
            "exec".into(),
            name.clone(),
            "--".into(),
            "true".into(),
        ]);
        if round == 2 {
            commands.push(vec!["rm".into(), "--force".into(), name.clone()]);
        }
        // Rotate so each round starts the commands in another order.
        let len = commands.len();
        commands.rotate_left(round * 4 % len);
        let barrier = Arc::new(Barrier::new(commands.len()));
        let threads: Vec<_> = commands
            .into_iter()
            .map(|args| {
                let (tracked, barrier) = (tracked.clone(), barrier.clone());
                std::thread::spawn(move || {
                    let args: Vec<&str> = args.iter().map(String::as_str).collect();
                    let cmd = tracked.command(&args);
                    barrier.wait();
                    (args.join(" "), run_with_timeout(cmd, b"", SANDBOX_TIMEOUT))
                })
            })
            .collect();
        for thread in threads {
            let (args, run) = thread.join().unwrap();
            match run.code {
                Some(0) => {}
                // A concurrent stop or rm --force ends a running exec session with SIGKILL (its
                // report names it): the exec then exits as its command did, 128+9.
                Some(137) if args.starts_with("exec ") => {}
                Some(125) => {
                    assert_eq!(
                        run.stderr.lines().count(),
                        1,
                        "{context}: sandbox {args}: {run:?}"
                    );
                    assert!(
                        run.stderr.starts_with("sandbox: "),
                        "{context}: sandbox {args}: {run:?}"
                    );
                }
                _ => panic!("{context}: sandbox {args} ended badly: {run:?}"),
            }
            assert!(!run.stderr.contains("panicked"), "{context}: {run:?}");
        }
        assert_state_files_parse(&tracked.root.path().join(&name), &context);
        let inspect = tracked.sandbox(&["inspect", &name]);
        match inspect.code {
            Some(0) => {
                json_of(&inspect);
            }
            _ => assert!(
                inspect.stderr.contains("does not exist"),
                "{context}: {inspect:?}"
            ),
        }
        let listed = tracked.sandbox(&["ps", "--json"]);
        assert_exit!(listed, 0);
        json_of(&listed);
        tracked.remove_and_check(&name, &context);
    }
}

/// The system call `pid` is blocked in (`/proc/PID/syscall`, first field), if any.
fn blocked_in_syscall(pid: u32) -> Option<i64> {
    std::fs::read_to_string(format!("/proc/{pid}/syscall"))
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[test]
fn a_locked_pod_blocks_only_its_own_commands() {
    require_root();
    let tracked = Tracked::new();
    let (locked, free) = (tracked.pod_name(), tracked.pod_name());
    assert_exit!(tracked.sandbox(&["create", &locked]), 0);
    assert_exit!(tracked.sandbox(&["create", &free]), 0);

    // Hold the locked pod's lock as a command would.
    let lock_path = tracked.root.path().join(".locks").join(&locked);
    let lock = nix::fcntl::Flock::lock(
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&lock_path)
            .unwrap(),
        nix::fcntl::FlockArg::LockExclusive,
    )
    .unwrap();
    let mut waiting = tracked
        .command(&["run", &locked, "--name", "late", "--", "sleep", "1000"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(
        wait_until(Duration::from_secs(10), || blocked_in_syscall(waiting.id())
            == Some(libc::SYS_flock)),
        "run on the locked pod never waited in flock"
    );

    // Meanwhile every command on the other pod, and the read-only ones on any pod, go through.
    let started = Instant::now();
    assert_exit!(tracked.sandbox(&["exec", &free, "--", "true"]), 0);
    assert_exit!(
        tracked.sandbox(&["run", &free, "--name", "c", "--", "sleep", "1000"]),
        0
    );
    assert_exit!(tracked.sandbox(&["stop", &free, "-t", "1"]), 0);
    assert_exit!(tracked.sandbox(&["rm", &free]), 0);
    assert_exit!(tracked.sandbox(&["inspect", &locked]), 0);
    assert_exit!(tracked.sandbox(&["ps"]), 0);
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(10),
        "commands on another pod took {took:?}"
    );
    assert!(
        waiting.try_wait().unwrap().is_none(),
        "run did not wait for the lock"
    );
    assert_eq!(blocked_in_syscall(waiting.id()), Some(libc::SYS_flock));

    drop(lock);
    let mut status = None;
    assert!(
        wait_until(Duration::from_secs(10), || {
            status = waiting.try_wait().unwrap();
            status.is_some()
        }),
        "run did not go on once the lock was released"
    );
    assert_eq!(status.unwrap().code(), Some(0));
    assert_eq!(
        tracked.inspect(&locked, "")["containers"][0]["state"],
        "running"
    );
    tracked.remove_and_check(&locked, "lock test");
    tracked.check_nothing_left(&free, "lock test");
}

// ---- corrupt state files ----

/// A copy of `text` cut in the middle.
fn truncated(text: &str) -> String {
    text[..text.len() / 2].to_owned()
}

/// Makes a pod with a running container `c` and an exited one `done`, and damages `file` (of
/// the pod, or of container `owner`); then every command that reads it fails with one clear line
/// naming it, `ps` lists the pod as unknown, and `rm --force` still removes everything.
fn check_damaged(file: &str, owner: Option<&str>, damage: fn(&str) -> String) {
    let tracked = Tracked::new();
    let name = tracked.pod_name();
    assert_exit!(tracked.sandbox(&["create", &name]), 0);
    assert_exit!(
        tracked.sandbox(&["run", &name, "--name", "c", "--", "sleep", "1000"]),
        0
    );
    assert_exit!(
        tracked.sandbox(&["run", &name, "--name", "done", "--", "true"]),
        0
    );
    let dir = tracked.root.path().join(&name);
    let exit_file = dir.join("containers/done/exit.json");
    assert!(wait_until(Duration::from_secs(10), || exit_file.exists()));
    let path = dir.join(file);
    let original = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, damage(&original)).unwrap();
    let context = format!("{file} damaged to {:?}", damage(&original));

    let mut commands: Vec<Vec<&str>> = vec![vec!["inspect", &name], vec!["stop", &name, "-t", "1"]];
    match owner {
        None => commands.extend([
            vec!["rm", &name],
            vec!["run", &name, "--name", "d", "--", "true"],
            vec!["exec", &name, "--", "true"],
            vec!["wait", &name, "c"],
            vec!["logs", &name, "c"],
        ]),
        Some(container) => commands.extend([
            vec!["wait", &name, container],
            vec!["logs", &name, container],
        ]),
    }
    for args in commands {
        let run = tracked.sandbox(&args);
        assert_exit!(run, 125);
        assert_eq!(
            run.stderr.lines().count(),
            1,
            "{context}: sandbox {args:?}: {run:?}"
        );
        assert!(
            run.stderr.contains(&path.display().to_string()),
            "{context}: sandbox {args:?} does not name {}: {}",
            path.display(),
            run.stderr
        );
    }
    // rm of a pod whose pause runs is refused before any container is read.
    let refused = tracked.sandbox(&["rm", &name]);
    assert_exit!(refused, 125);
    assert_eq!(refused.stderr.lines().count(), 1, "{context}: {refused:?}");
    let listed = tracked.sandbox(&["ps", "--json"]);
    assert_exit!(listed, 0);
    let listed = json_of(&listed);
    let entry = &listed.as_array().unwrap()[0];
    assert_eq!(entry["state"], "unknown", "{context}: {listed}");
    assert!(
        entry["reason"]
            .as_str()
            .is_some_and(|r| r.contains(&path.display().to_string())),
        "{context}: {listed}"
    );

    let removed = tracked.sandbox(&["rm", "--force", &name]);
    assert!(
        removed.code == Some(0),
        "{context}: rm --force: {removed:?}"
    );
    tracked.check_nothing_left(&name, &context);
}

#[test]
fn a_corrupt_or_truncated_pod_state_file_is_named_and_rm_force_cleans_up() {
    require_root();
    check_damaged("state.json", None, |_| "{ not json".to_owned());
    check_damaged("state.json", None, truncated);
    check_damaged("state.json", None, |_| String::new());
    check_damaged("state.json", None, |_| "{\"name\": 42}".to_owned());
}

#[test]
fn a_corrupt_or_truncated_container_state_file_is_named_and_rm_force_cleans_up() {
    require_root();
    check_damaged("containers/c/state.json", Some("c"), truncated);
    check_damaged("containers/c/state.json", Some("c"), |_| {
        "\0\0\0".to_owned()
    });
    check_damaged("containers/done/exit.json", Some("done"), truncated);
}

// ---- PID reuse ----

/// Rewrites the JSON file at `path` with `edit`.
fn edit_json(path: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let mut value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    edit(&mut value);
    std::fs::write(path, serde_json::to_vec_pretty(&value).unwrap()).unwrap();
}

#[test]
fn a_recycled_pid_in_a_state_file_is_never_signalled() {
    require_root();
    let tracked = Tracked::new();
    let name = tracked.pod_name();
    assert_exit!(tracked.sandbox(&["create", &name]), 0);
    assert_exit!(
        tracked.sandbox(&["run", &name, "--name", "c", "--", "sleep", "1000"]),
        0
    );
    // Bystanders: processes of ours, not of the pod, whose PIDs the records will name, as if
    // the pod's processes had died and the kernel had handed their PIDs on. A recycled PID
    // always belongs to a process that started later (the PID space had to wrap first), so
    // the bystanders are started once the clock (in ticks, as in /proc/PID/stat) has moved
    // past the pod's processes.
    let dir = tracked.root.path().join(&name);
    let latest = [
        &dir.join("state.json"),
        &dir.join("containers/c/state.json"),
    ]
    .iter()
    .map(|path| std::fs::read_to_string(path).unwrap())
    .flat_map(|text| {
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        ["pause", "monitor", "process"]
            .into_iter()
            .filter_map(|key| value[key]["start_time"].as_u64())
            .collect::<Vec<_>>()
    })
    .max()
    .unwrap();
    let mut bystanders = Bystanders(Vec::new());
    while bystanders.0.len() < 3 {
        let child = Command::new("sleep").arg("1000").spawn().unwrap();
        let started = procfs::process::Process::new(child.id() as i32)
            .and_then(|p| p.stat())
            .map(|s| s.starttime)
            .unwrap();
        bystanders.0.push(child);
        if started <= latest {
            let mut early = bystanders.0.pop().unwrap();
            early.kill().unwrap();
            early.wait().unwrap();
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    let pids: Vec<i32> = bystanders.0.iter().map(|c| c.id() as i32).collect();
    // The start times stay those of the pod's own processes.
    edit_json(&dir.join("state.json"), |pod| {
        pod["pause"]["pid"] = pids[0].into()
    });
    edit_json(&dir.join("containers/c/state.json"), |c| {
        c["monitor"]["pid"] = pids[1].into();
        c["process"]["pid"] = pids[2].into();
        c["pid"] = pids[2].into();
    });

    let pod = tracked.inspect(&name, "");
    assert_eq!(
        pod["state"], "exited",
        "a recycled pause PID counts as alive: {pod}"
    );
    assert_eq!(pod["containers"][0]["state"], "unknown", "{pod}");
    let stopped = tracked.sandbox(&["stop", &name, "-t", "1"]);
    assert_exit!(stopped, 0);
    for (pid, bystander) in pids.iter().zip(bystanders.0.iter_mut()) {
        assert!(
            bystander.try_wait().unwrap().is_none() && is_alive(*pid),
            "stop signalled process {pid}, which only had a recycled PID"
        );
    }
    let removed = tracked.sandbox(&["rm", "--force", &name]);
    assert_exit!(removed, 0);
    for (pid, bystander) in pids.iter().zip(bystanders.0.iter_mut()) {
        assert!(
            bystander.try_wait().unwrap().is_none() && is_alive(*pid),
            "rm --force signalled process {pid}, which only had a recycled PID"
        );
    }
    // The pod's real processes were found by their namespaces, not by the stale PIDs.
    tracked.check_nothing_left(&name, "rm --force with recycled PIDs");
}

/// Processes the test started itself, killed on drop (they are our children, so their PIDs
/// cannot be recycled before we wait for them).
struct Bystanders(Vec<std::process::Child>);

impl Drop for Bystanders {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

// ---- running the CLI under fault injection ----

fn run_traced(tracked: &Tracked, strace: Command, args: &[String]) -> Run {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run_with_timeout(tracked.wrapped(strace, &args), b"", SANDBOX_TIMEOUT)
}

/// Runs `sandbox ARGS...` and SIGKILLs it at `point`; whether it was killed (it may
/// have finished first when `point` is a delay).
fn run_killed(tracked: &Tracked, args: &[String], point: &KillPoint) -> bool {
    let mut cmd = match point {
        KillPoint::Syscall { name, nth, .. } => {
            let mut strace = Command::new("strace");
            strace.args([
                "-o",
                "/dev/null",
                "-qq",
                "-e",
                &format!("trace={name}"),
                "-e",
                &format!("inject={name}:signal=KILL:when={nth}"),
                "--",
            ]);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            tracked.wrapped(strace, &args)
        }
        KillPoint::Delay(_) => {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            tracked.command(&args)
        }
    };
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    if let KillPoint::Delay(delay) = point {
        std::thread::sleep(*delay);
        let _ = child.kill();
    }
    let deadline = Instant::now() + SANDBOX_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("sandbox {args:?} under fault injection {point} did not end");
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    status.signal() == Some(libc::SIGKILL)
}

/// What the next commands see after a kill: `inspect` works (with a state in `pod_states`,
/// its containers in `container_states`) or says the pod does not exist, and `ps` works.
/// Returns the pod's `inspect` object, if it exists.
fn check_consistent(
    tracked: &Tracked,
    name: &str,
    pod_states: &[&str],
    container_states: &[&str],
    context: &str,
) -> Option<serde_json::Value> {
    let listed = tracked.sandbox(&["ps", "--json"]);
    assert!(listed.code == Some(0), "{context}: ps: {listed:?}");
    json_of(&listed);
    // A pod or container shows `creating` while the pod's lock is held: a child that the killed
    // CLI had forked (and not yet let exec) holds a copy of the lock until it sees the CLI gone
    // and exits. After that, nothing is `creating` any more: nobody is.
    let mut run = tracked.sandbox(&["inspect", name]);
    wait_until(Duration::from_secs(10), || {
        run = tracked.sandbox(&["inspect", name]);
        if run.code != Some(0) {
            return true;
        }
        let pod = json_of(&run);
        let creating = |v: &serde_json::Value| v["state"] == "creating";
        !creating(&pod) && !pod["containers"].as_array().unwrap().iter().any(creating)
    });
    if run.code != Some(0) {
        assert!(
            run.code == Some(125) && run.stderr.contains("does not exist"),
            "{context}: inspect: {run:?}"
        );
        return None;
    }
    let pod = json_of(&run);
    let state = pod["state"].as_str().unwrap_or_default();
    assert!(
        pod_states.contains(&state),
        "{context}: pod state {state}: {pod}"
    );
    for container in pod["containers"].as_array().unwrap() {
        let state = container["state"].as_str().unwrap_or_default();
        assert!(
            container_states.contains(&state),
            "{context}: container state {state}: {pod}"
        );
    }
    Some(pod)
}
