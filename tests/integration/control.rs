//! Control of single containers and of `exec` sessions (issue 10, section 2): `stop POD C...`
//! and `rm POD C...` with the pod's policy, and `exec` sessions that `inspect` shows and `stop`
//! names, even when their CLI was killed.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use sandbox_tests::{
    Pod, assert_exit, comm_of, is_alive, json_of, require_root, sandbox_command, wait_until,
};

#[test]
fn stop_and_rm_act_on_the_named_containers_only() {
    require_root();
    let pod = Pod::create(&[]);
    pod.run("a", &[], &["sleep", "1000"]);
    let b = pod.run("b", &[], &["sleep", "1000"]);

    let stop = pod.sandbox(&["stop", pod.name(), "a", "-t", "5", "--json"]);
    assert_exit!(stop, 0);
    let report = json_of(&stop);
    assert_eq!(
        report["containers"].as_array().unwrap().len(),
        1,
        "{report}"
    );
    assert_eq!(report["containers"][0]["name"], "a", "{report}");
    assert_eq!(report["containers"][0]["ended"], "stop-signal", "{report}");
    assert_eq!(report["containers"][0]["exit_code"], 143, "{report}");
    assert_eq!(pod.container("b")["state"], "running");
    assert_eq!(pod.inspect()["state"], "running");
    // A second stop repeats the report of the first.
    let again = json_of(&pod.sandbox(&["stop", pod.name(), "a", "--json"]));
    assert_eq!(again["containers"], report["containers"]);

    let busy = pod.sandbox(&["rm", pod.name(), "b"]);
    assert_exit!(busy, 125);
    assert!(
        busy.stderr.contains("\"b\"") && busy.stderr.contains("--force"),
        "{busy:?}"
    );
    let missing = pod.sandbox(&["rm", pod.name(), "a", "nosuch"]);
    assert_exit!(missing, 125);
    assert!(
        missing.stderr.contains("\"nosuch\" does not exist"),
        "{missing:?}"
    );
    assert_eq!(
        pod.container_names(),
        ["a", "b"],
        "a failed rm removed something"
    );

    assert_exit!(pod.sandbox(&["rm", pod.name(), "a"]), 0);
    assert_eq!(pod.container_names(), ["b"]);
    assert_eq!(pod.container_dirs(), ["b"]);
    // The name can be used again.
    pod.run("a", &[], &["sleep", "1000"]);
    assert_exit!(pod.sandbox(&["rm", "--force", pod.name(), "b"]), 0);
    assert!(wait_until(Duration::from_secs(5), || !is_alive(b)));
    assert_eq!(pod.container_names(), ["a"]);
    assert_exit!(pod.sandbox(&["stop", pod.name(), "nosuch"]), 125);
}

/// `sandbox exec POD -- CMD...` started in the background.
fn exec_in_background(pod: &Pod, command: &[&str]) -> Child {
    let mut cmd: Command = sandbox_command(pod.root());
    cmd.args(["exec", pod.name(), "--"])
        .args(command)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd.spawn().unwrap()
}

/// The last argument of each running exec session's command, sorted.
fn exec_commands(pod: &Pod) -> Vec<String> {
    let mut commands: Vec<String> = pod.inspect()["execs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            e["command"].as_array().unwrap()[1]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    commands.sort();
    commands
}

#[test]
fn exec_sessions_are_shown_by_inspect_and_named_by_stop_even_when_their_cli_was_killed() {
    require_root();
    let pod = Pod::create(&[]);
    pod.run("app", &[], &["sleep", "1000"]);
    // A session whose launcher fails before it runs leaves no record behind.
    let failed = pod.exec_with(&["--workdir", "/nonexistent"], &["true"]);
    assert_exit!(failed, 125);
    assert!(failed.stderr.contains("/nonexistent"), "{failed:?}");
    let records = std::fs::read_dir(pod.dir().join("execs")).map_or(0, |d| d.count());
    assert_eq!(records, 0, "a failed exec left its record");
    let mut attached = exec_in_background(&pod, &["sleep", "1001"]);
    let mut orphaned = exec_in_background(&pod, &["sleep", "1002"]);
    // Recorded before they may run: wait until both launchers have become pause.
    let launchers_run = || {
        let execs = pod.inspect()["execs"].as_array().unwrap().clone();
        execs.len() == 2
            && execs
                .iter()
                .all(|e| comm_of(e["pid"].as_i64().unwrap() as i32).as_deref() == Some("pause"))
    };
    assert!(wait_until(Duration::from_secs(10), launchers_run));
    // The CLI of one session dies; its session goes on, and is still named.
    orphaned.kill().unwrap();
    orphaned.wait().unwrap();
    let sessions = pod.inspect()["execs"].clone();
    assert_eq!(exec_commands(&pod), ["1001", "1002"], "{sessions}");
    for session in sessions.as_array().unwrap() {
        assert!(
            is_alive(session["pid"].as_i64().unwrap() as i32),
            "{session}"
        );
        assert!(session["started_at"].is_string(), "{session}");
    }

    let stop = pod.sandbox(&["stop", pod.name(), "-t", "5", "--json"]);
    assert_exit!(stop, 0);
    let report = json_of(&stop);
    let execs = report["execs"].as_array().unwrap();
    assert_eq!(execs.len(), 2, "{report}");
    for exec in execs {
        assert_eq!(exec["signal"], "SIGKILL", "{report}");
        assert_eq!(exec["command"][0], "sleep", "{report}");
    }
    // Their commands were part of the sessions, not other processes.
    assert_eq!(report["other_processes"]["count"], 0, "{report}");
    let text = pod.sandbox(&["stop", pod.name()]);
    assert!(
        text.stdout.contains("exec session") && text.stdout.contains("sleep 1001"),
        "{text:?}"
    );
    // The attached CLI reports its command's death by SIGKILL.
    assert_eq!(attached.wait().unwrap().code(), Some(137));
    assert_eq!(pod.inspect()["execs"], serde_json::json!([]));
}
