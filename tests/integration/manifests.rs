//! Tests: Kubernetes Pod manifests (`sandbox play`, `play --down`) run and stopped the way the
//! kubelet does: preStop hooks inside the grace period (and its 2 s extension),
//! `shareProcessNamespace` with pause stopped last, init containers before the app, `command`
//! and `args` against the image's Entrypoint and Cmd; unsupported fields and malformed files
//! refused with nothing made.
//!
//! Every manifest runs the busybox test image (`sandbox_tests::images`), loaded into the
//! test's state root under a name, as a manifest names an image.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sandbox_tests::images::{build_image, busybox_definition};
use sandbox_tests::{Pod, Run, ScratchDir, StateRoot, assert_exit, json_of, report_of};

/// The name the test image is loaded under.
const IMAGE: &str = "busybox:test";

/// A state root with the busybox image loaded as [`IMAGE`] (and the image's Entrypoint and
/// Cmd changed by `edit`), and a directory for the manifests.
struct Bench {
    root: Arc<StateRoot>,
    dir: ScratchDir,
}

impl Bench {
    fn new() -> Bench {
        Bench::with_image(|_| {})
    }

    fn with_image(edit: impl FnOnce(&mut serde_json::Value)) -> Bench {
        let mut definition = busybox_definition();
        edit(&mut definition);
        let dir = ScratchDir::new("manifests");
        let reference = build_image(&definition, &dir.path().join("layout"), "test");
        let root = StateRoot::new();
        assert_exit!(root.sandbox(&["load", &reference, "--name", IMAGE]), 0);
        Bench { root, dir }
    }

    /// Writes `yaml` to a file and runs `sandbox play EXTRA... FILE`.
    fn play(&self, yaml: &str, extra: &[&str]) -> Run {
        let file = self.dir.path().join("pod.yaml");
        std::fs::write(&file, yaml).unwrap();
        let mut args = vec!["play"];
        args.extend_from_slice(extra);
        args.push(file.to_str().unwrap());
        self.root.sandbox(&args)
    }

    /// Plays `yaml`, which must succeed; the pods it printed, removed and checked on drop.
    fn up(&self, yaml: &str) -> Vec<Pod> {
        let run = self.play(yaml, &[]);
        assert_exit!(run, 0);
        run.stdout
            .lines()
            .map(|name| Pod::adopt(&self.root, name))
            .collect()
    }

    /// Plays a manifest of one Pod named PREFIX-UNIQUE whose `spec:` is `spec` (YAML, its lines
    /// indented by two); the pod, removed and checked on drop.
    fn up_one(&self, prefix: &str, spec: &str) -> Pod {
        let name = sandbox_tests::unique_name(prefix);
        let mut pods = self.up(&format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}}}\nspec:\n{spec}"
        ));
        assert_eq!(pods.len(), 1);
        pods.remove(0)
    }

    /// Asserts that the root holds no pod (nothing was made, or all was removed again).
    fn assert_empty(&self) {
        assert_eq!(self.root.entries(), Vec::<String>::new(), "pods were left");
        let ps = self.root.sandbox(&["ps", "--json"]);
        assert_exit!(ps, 0);
        assert_eq!(json_of(&ps), serde_json::json!([]));
    }
}

/// A `sandbox stop --json` of `pod` with no `-t` (the pod's own grace period), timed.
fn stop(pod: &Pod) -> (serde_json::Value, Duration) {
    let started = Instant::now();
    let run = pod.sandbox(&["stop", "--json", pod.name()]);
    let took = started.elapsed();
    assert_exit!(run, 0);
    (json_of(&run), took)
}

/// The output of `sandbox logs POD CONTAINER`.
fn logs(pod: &Pod, container: &str) -> String {
    let run = pod.sandbox(&["logs", pod.name(), container]);
    assert_exit!(run, 0);
    run.stdout
}

fn millis(report: &serde_json::Value) -> f64 {
    report["elapsed_ms"].as_f64().unwrap()
}

#[test]
fn a_prestop_hook_runs_before_the_stop_signal_in_a_pod_whose_containers_share_net_and_shm() {
    sandbox_tests::require_root();
    let bench = Bench::new();
    let pods = bench.up(&format!(
        r#"
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  labels: {{app: shutdown-test}}
spec:
  containers:
  - name: app
    image: {IMAGE}
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c"]
    args:
    - |
      trap 'echo "TERM after: $(cat /dev/shm/hook)"; exit 0' TERM; echo up; while true; do sleep 0.1; done
    lifecycle:
      preStop:
        exec:
          command: ["sh", "-c", "cat /dev/shm/from-side > /dev/shm/hook; sleep 1"]
  - name: side
    image: {IMAGE}
    command: ["sh", "-c", "echo written by side > /dev/shm/from-side; trap 'exit 0' TERM; while true; do sleep 0.1; done"]
"#,
        name = sandbox_tests::unique_name("hook")
    ));
    let pod = &pods[0];
    assert!(sandbox_tests::wait_until(Duration::from_secs(10), || {
        logs(pod, "app").contains("up")
            && std::fs::metadata(pod.dir().join("shm/from-side")).is_ok()
    }));
    // Both containers are in the pod's network namespace.
    let pod_net = pod.ns_inode("net");
    for container in ["app", "side"] {
        let pid = pod.container(container)["pid"].as_i64().unwrap() as i32;
        assert_eq!(sandbox_tests::ns_inode_of_pid(pid, "net"), pod_net);
    }

    let (report, took) = stop(pod);
    let app = report_of(&report, "app");
    assert_eq!(app["exit_code"], 0, "{report}");
    assert_eq!(app["ended"], "stop-signal", "{report}");
    assert_eq!(app["pre_stop"]["outcome"], "completed", "{report}");
    assert_eq!(app["pre_stop"]["exit_code"], 0, "{report}");
    // The hook's second came before the stop signal, and the stop waited for both.
    assert!(
        app["pre_stop"]["elapsed_ms"].as_f64().unwrap() >= 1000.0,
        "{report}"
    );
    assert!(millis(&app) >= 1000.0, "{report}");
    assert!(took >= Duration::from_secs(1), "stop took {took:?}");
    // The TERM trap read what the hook wrote, which the hook read from the other container.
    assert!(
        logs(pod, "app").contains("TERM after: written by side"),
        "{}",
        logs(pod, "app")
    );
    let side = report_of(&report, "side");
    assert_eq!(side["exit_code"], 0, "{report}");
    assert!(side.get("pre_stop").is_none(), "{report}");
}

#[test]
fn a_hook_that_outlives_the_grace_period_gets_two_seconds_then_sigkill() {
    sandbox_tests::require_root();
    let bench = Bench::new();
    // PID 1 of its own PID namespace without a TERM handler: only SIGKILL ends it.
    let pod = &bench.up_one(
        "grace",
        &format!(
            r#"  terminationGracePeriodSeconds: 3
  containers:
  - name: exec-hook
    image: {IMAGE}
    command: ["sleep", "1000"]
    lifecycle: {{preStop: {{exec: {{command: ["sleep", "5"]}}}}}}
  - name: sleep-hook
    image: {IMAGE}
    command: ["sleep", "1000"]
    lifecycle: {{preStop: {{sleep: {{seconds: 2}}}}}}
"#
        ),
    );
    assert_eq!(pod.inspect()["grace_period_seconds"], 3);
    // No -t: the grace period is the manifest's, 3 s. The exec hook outlives it: its stop
    // signal at 3 s, SIGKILL 2 s later. The sleep ends at 2 s: its stop signal then, and
    // SIGKILL not at 3 s but 2 s after that signal.
    let (report, took) = stop(pod);
    for (name, outcome, kill_at) in [
        ("exec-hook", "overran", 5000.0),
        ("sleep-hook", "completed", 4000.0),
    ] {
        let container = report_of(&report, name);
        assert_eq!(container["exit_code"], 137, "{report}");
        assert_eq!(container["ended"], "killed", "{report}");
        assert_eq!(container["pre_stop"]["outcome"], outcome, "{report}");
        // Slack for a loaded machine above only.
        let at = millis(&container);
        assert!(
            (kill_at - 100.0..kill_at + 4000.0).contains(&at),
            "{name} ended at {at} ms: {report}"
        );
    }
    let sleep = &report_of(&report, "sleep-hook")["pre_stop"];
    assert!(sleep["elapsed_ms"].as_f64().unwrap() >= 1900.0, "{report}");
    assert!(took >= Duration::from_millis(4900), "stop took {took:?}");
}

#[test]
fn a_shared_pid_namespace_keeps_pause_until_the_apps_have_run_their_term_trap() {
    sandbox_tests::require_root();
    let bench = Bench::new();
    let pod = &bench.up_one(
        "shared",
        &format!(
            r#"  shareProcessNamespace: true
  containers:
  - name: app
    image: {IMAGE}
    command: ["sh", "-c", "trap 'echo got TERM; exit 0' TERM; echo up; while true; do sleep 0.1; done"]
  - name: peer
    image: {IMAGE}
    command: ["sleep", "1000"]
"#
        ),
    );
    assert!(pod.inspect()["share_pid"].as_bool().unwrap());
    assert!(sandbox_tests::wait_until(Duration::from_secs(10), || {
        logs(pod, "app").contains("up")
    }));
    // The containers see each other: one PID namespace, pause its PID 1.
    let ps = pod.sandbox(&["exec", "-c", "app", pod.name(), "--", "ps", "-o", "comm"]);
    assert_exit!(ps, 0);
    assert!(
        ps.stdout.contains("pause") && ps.stdout.contains("sleep"),
        "{}",
        ps.stdout
    );

    let (report, _) = stop(pod);
    let app = report_of(&report, "app");
    assert_eq!(app["exit_code"], 0, "{report}");
    assert_eq!(app["ended"], "stop-signal", "{report}");
    assert!(logs(pod, "app").contains("got TERM"));
    // Not PID 1 any more, sleep dies of TERM.
    assert_eq!(report_of(&report, "peer")["exit_code"], 143, "{report}");
}

#[test]
fn command_and_args_replace_the_images_entrypoint_and_cmd_as_kubernetes_documents() {
    sandbox_tests::require_root();
    let bench = Bench::with_image(|definition| {
        definition["config"]["Entrypoint"] = serde_json::json!(["echo", "entrypoint"]);
        definition["config"]["Cmd"] = serde_json::json!(["cmd"]);
    });
    let pod = &bench.up_one(
        "cmd",
        &format!(
            r#"  containers:
  - {{name: neither, image: {IMAGE}}}
  - {{name: args, image: {IMAGE}, args: ["given", "args"]}}
  - {{name: command, image: {IMAGE}, command: ["echo", "command"]}}
  - {{name: both, image: {IMAGE}, command: ["echo"], args: ["both", "given"]}}
  - name: settings
    image: {IMAGE}
    command: ["sh", "-c", "echo $GREETING $(pwd) $(id -u):$(id -g)"]
    env: [{{name: GREETING, value: hello}}]
    workingDir: /tmp
    securityContext: {{runAsUser: 1000, runAsGroup: 1234}}
"#
        ),
    );
    for (container, said) in [
        ("neither", "entrypoint cmd\n"),
        ("args", "entrypoint given args\n"),
        ("command", "command\n"),
        ("both", "both given\n"),
        ("settings", "hello /tmp 1000:1234\n"),
    ] {
        let waited = pod.sandbox(&["wait", pod.name(), container]);
        assert_exit!(waited, 0);
        assert_eq!(logs(pod, container), said, "container {container}");
    }
}

#[test]
fn init_containers_run_in_order_before_the_app_and_their_output_is_in_logs() {
    sandbox_tests::require_root();
    let bench = Bench::new();
    let pod = &bench.up_one(
        "init",
        &format!(
            r#"  initContainers:
  - {{name: first, image: {IMAGE}, command: ["sh", "-c", "echo first ran; echo 1 > /dev/shm/order"]}}
  - {{name: second, image: {IMAGE}, command: ["sh", "-c", "echo second ran; echo 2 >> /dev/shm/order"]}}
  containers:
  - {{name: app, image: {IMAGE}, command: ["sh", "-c", "cat /dev/shm/order; sleep 1000"]}}
"#
        ),
    );
    assert_eq!(logs(pod, "first"), "first ran\n");
    assert_eq!(logs(pod, "second"), "second ran\n");
    assert!(sandbox_tests::wait_until(Duration::from_secs(10), || {
        logs(pod, "app") == "1\n2\n"
    }));
    assert_eq!(pod.container("first")["exit_code"], 0);
    assert_eq!(pod.container("app")["state"], "running");
}

#[test]
fn a_failing_init_container_fails_the_play_with_its_code_and_output_and_leaves_no_pod() {
    sandbox_tests::require_root();
    let bench = Bench::new();
    // Two pods: the first is made and started, then removed again when the second fails.
    let run = bench.play(
        &format!(
            r#"
apiVersion: v1
kind: Pod
metadata: {{name: {first}}}
spec:
  containers: [{{name: app, image: {IMAGE}, command: ["sleep", "1000"]}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: {second}}}
spec:
  initContainers:
  - {{name: migrate, image: {IMAGE}, command: ["sh", "-c", "echo schema is locked >&2; exit 3"]}}
  containers: [{{name: app, image: {IMAGE}}}]
"#,
            first = sandbox_tests::unique_name("ok"),
            second = sandbox_tests::unique_name("fail"),
        ),
        &[],
    );
    assert_exit!(run, 125);
    assert!(
        run.stderr.contains("init container \"migrate\"")
            && run.stderr.contains("exited with code 3")
            && run.stderr.contains("schema is locked"),
        "{}",
        run.stderr
    );
    bench.assert_empty();
}

#[test]
fn unsupported_fields_are_listed_and_refused_unless_ignored() {
    sandbox_tests::require_root();
    let bench = Bench::new();
    let name = sandbox_tests::unique_name("unsup");
    let yaml = format!(
        r#"
apiVersion: v1
kind: Pod
metadata: {{name: {name}, annotations: {{owner: team}}}}
spec:
  restartPolicy: Never
  volumes: [{{name: data, emptyDir: {{}}}}]
  containers:
  - name: app
    image: {IMAGE}
    command: ["sleep", "1000"]
    resources: {{}}
    livenessProbe: {{httpGet: {{path: /, port: 80}}}}
"#
    );
    let refused = bench.play(&yaml, &[]);
    assert_exit!(refused, 125);
    let lines: Vec<&str> = refused.stderr.lines().skip(1).map(str::trim).collect();
    assert_eq!(
        lines,
        [
            "spec.containers[0].livenessProbe: not supported",
            "spec.volumes: not supported"
        ],
        "{}",
        refused.stderr
    );
    bench.assert_empty();

    let ignored = bench.play(&yaml, &["--ignore-unsupported"]);
    assert_exit!(ignored, 0);
    assert!(
        ignored.stderr.contains("warning: ")
            && ignored
                .stderr
                .contains("spec.volumes: not supported; ignored"),
        "{}",
        ignored.stderr
    );
    let pod = Pod::adopt(&bench.root, &name);
    assert_eq!(pod.container("app")["state"], "running");
}

#[test]
fn malformed_or_invalid_manifests_give_125_with_where_and_make_nothing() {
    sandbox_tests::require_root();
    let bench = Bench::new();
    let pod = |spec: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: {}}}\nspec:\n{spec}",
            sandbox_tests::unique_name("bad")
        )
    };
    for (yaml, says) in [
        (
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: [x\n".to_owned(),
            "line 4",
        ),
        (
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n".to_owned(),
            "kind: apps/v1 Deployment is not supported",
        ),
        (
            pod(&format!(
                "  containers: [{{name: app, image: {IMAGE}, ports: [{{containerPort: http}}]}}]\n"
            )),
            "spec.containers[0].ports[0].containerPort: invalid type",
        ),
        (
            pod(&format!(
                "  containers: [{{name: app, image: {IMAGE}, comand: [sh]}}]\n"
            )),
            "spec.containers[0].comand: unknown field",
        ),
        (
            pod(&format!(
                "  containers: [{{name: app, image: {IMAGE}}}, {{name: app, image: {IMAGE}}}]\n"
            )),
            "spec.containers[1].name: \"app\" is the name of another container",
        ),
        (
            pod(&format!(
                "  containers: [{{name: app, image: {IMAGE}, ports: [{{containerPort: 80, hostPort: 8080}}]}}]\n"
            )),
            "a host port needs a pod network",
        ),
        (
            pod("  containers: [{name: app, image: \"nginx:1.25\"}]\n"),
            "image \"docker.io/library/nginx:1.25\" is not in the store: load it with",
        ),
    ] {
        let run = bench.play(&yaml, &[]);
        assert_exit!(run, 125);
        assert!(
            run.stderr.contains(says),
            "expected {says:?} in: {}",
            run.stderr
        );
        bench.assert_empty();
    }
}

#[test]
fn play_down_stops_every_pod_with_its_own_grace_period_at_once_and_removes_them() {
    sandbox_tests::require_root();
    let bench = Bench::new();
    let (a, b) = (
        sandbox_tests::unique_name("down"),
        sandbox_tests::unique_name("down"),
    );
    // Neither container handles TERM as PID 1: each pod's grace period decides its stop.
    let yaml = format!(
        r#"
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Pod
  metadata: {{name: {a}}}
  spec:
    terminationGracePeriodSeconds: 3
    containers: [{{name: app, image: {IMAGE}, command: ["sleep", "1000"]}}]
- apiVersion: v1
  kind: Pod
  metadata: {{name: {b}}}
  spec:
    terminationGracePeriodSeconds: 4
    containers: [{{name: app, image: {IMAGE}, command: ["sleep", "1000"]}}]
"#
    );
    let pods = bench.up(&yaml);
    assert_eq!(pods.len(), 2);
    let started = Instant::now();
    let down = bench.play(&yaml, &["--down", "--json"]);
    let took = started.elapsed();
    assert_exit!(down, 0);
    let reports = json_of(&down);
    for (pod, grace) in [(&a, 3000.0), (&b, 4000.0)] {
        let report = reports
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["pod"] == pod.as_str())
            .unwrap_or_else(|| panic!("no report of {pod}: {reports}"));
        let app = report_of(report, "app");
        assert_eq!(app["exit_code"], 137, "{report}");
        let at = millis(&app);
        assert!(
            (grace - 100.0..grace + 4000.0).contains(&at),
            "{pod}: {at} ms"
        );
    }
    // At once: the longer grace period, not the sum.
    assert!(
        took < Duration::from_millis(4900),
        "play --down took {took:?}"
    );
    drop(pods);
    bench.assert_empty();
    // Again: the pods are gone, which is an error naming them.
    let again = bench.play(&yaml, &["--down"]);
    assert_exit!(again, 125);
    assert!(
        again
            .stderr
            .contains(&format!("sandbox {a:?} does not exist")),
        "{}",
        again.stderr
    );
}

#[test]
fn a_manifest_is_read_from_stdin() {
    sandbox_tests::require_root();
    let bench = Bench::new();
    let name = sandbox_tests::unique_name("stdin");
    let yaml = format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}}}\nspec:\n  containers: [{{name: app, image: {IMAGE}, command: [sleep, '1000']}}]\n"
    );
    let mut cmd = bench.root.command();
    cmd.args(["play", "-"]);
    let run = sandbox_tests::run_with_timeout(cmd, yaml.as_bytes(), sandbox_tests::SANDBOX_TIMEOUT);
    assert_exit!(run, 0);
    assert_eq!(run.stdout, format!("{name}\n"));
    let _pod = Pod::adopt(&bench.root, &name);
    assert!(Path::new(&bench.root.path().join(&name)).is_dir());
}

#[test]
fn a_stop_killed_during_a_prestop_hook_is_finished_by_the_next_stop() {
    sandbox_tests::require_root();
    let bench = Bench::new();
    let pod = &bench.up_one(
        "killed",
        &format!(
            r#"  terminationGracePeriodSeconds: 30
  containers:
  - name: app
    image: {IMAGE}
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"]
    lifecycle: {{preStop: {{exec: {{command: ["sleep", "2"]}}}}}}
"#
        ),
    );
    let mut first = bench.root.command();
    first.args(["stop", pod.name()]);
    let mut first = first
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Killed once its hook runs: the hook is an exec session the pod's record names.
    assert!(sandbox_tests::wait_until(Duration::from_secs(10), || {
        pod.inspect()["execs"]
            .as_array()
            .is_some_and(|e| !e.is_empty())
    }));
    first.kill().unwrap();
    first.wait().unwrap();
    assert_eq!(pod.container("app")["state"], "running");

    let (report, _) = stop(pod);
    let app = report_of(&report, "app");
    assert_eq!(app["exit_code"], 0, "{report}");
    assert_eq!(app["pre_stop"]["outcome"], "completed", "{report}");
    assert_eq!(pod.inspect()["state"], "stopped");
    // The first stop's hook is gone with the pod's processes.
    assert_eq!(pod.inspect()["execs"], serde_json::json!([]));
}

#[test]
fn a_play_killed_while_an_init_container_runs_leaves_what_play_down_removes() {
    sandbox_tests::require_root();
    let bench = Bench::new();
    let name = sandbox_tests::unique_name("killed");
    let yaml = format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}}}\nspec:\n  restartPolicy: Never\n  \
         initContainers: [{{name: slow, image: {IMAGE}, command: [sleep, '1000']}}]\n  \
         containers: [{{name: app, image: {IMAGE}, command: [sleep, '1000']}}]\n"
    );
    let file = bench.dir.path().join("killed.yaml");
    std::fs::write(&file, &yaml).unwrap();
    let mut play = bench.root.command();
    play.arg("play").arg(&file);
    let mut play = play
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pod = Pod::adopt(&bench.root, &name);
    assert!(sandbox_tests::wait_until(Duration::from_secs(20), || {
        let inspect = pod.sandbox(&["inspect", &name]);
        inspect.code == Some(0) && json_of(&inspect)["containers"][0]["state"] == "running"
    }));
    play.kill().unwrap();
    play.wait().unwrap();

    let down = bench.play(&yaml, &["--down"]);
    assert_exit!(down, 0);
    assert!(down.stdout.contains("slow"), "{}", down.stdout);
    drop(pod);
    bench.assert_empty();
}
