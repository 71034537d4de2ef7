//! Pod manifests (issue 15): `sandbox play` + `play --down` of a two-container manifest
//! against `podman kube play` + `kube down` of the same manifest and image, interleaved in the
//! same rounds (target: sandbox at least 5x faster); then what each does with the parts of a
//! manifest that decide a shutdown, on the same three manifests, once each:
//!
//! - a preStop hook that writes a file and sleeps 1 s, and an app whose TERM trap prints it;
//! - a preStop hook that sleeps 5 s with `terminationGracePeriodSeconds: 3`, and an app that
//!   ignores TERM (PID 1 without a handler);
//! - `shareProcessNamespace: true` with an app whose TERM trap exits 0.
//!
//! Each is stopped the way each tool stops a pod (`sandbox stop` with the pod's own grace
//! period, `podman pod stop`), timed, and the app's exit code and log are read. The behaviour
//! table is printed and written to `target/bench/manifests.md`.
//!
//! podman runs with its state in a scratch directory (see `podman.rs`); the image is the
//! busybox test image, pulled into podman's store and loaded into ours under the same name.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use sandbox_tests::images::{build_image, busybox_definition};
use sandbox_tests::{ScratchDir, unique_name};

use crate::lab::Lab;
use crate::podman::Podman;
use crate::{Row, Table, Target, interleave, median, millis, millis_each, progress, time_output};

/// podman's kube down varies from 0.3 s to several seconds: enough rounds for a stable median.
const ROUNDS: usize = 9;
/// The name both tools know the image by.
const IMAGE: &str = "localhost/sandbox-bench-busybox:1";

/// An app that exits at once on TERM (a shell waiting on a child, so its trap runs at once).
const QUICK_APP: &str = r#"["sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"]"#;

fn two_containers(name: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}}}\nspec:\n  containers:\n  \
         - {{name: app, image: {IMAGE}, command: {QUICK_APP}}}\n  \
         - {{name: side, image: {IMAGE}, command: {QUICK_APP}}}\n"
    )
}

/// A scenario of the behaviour table: a manifest (with `NAME` for the pod's name) and what it
/// tests.
struct Scenario {
    what: &'static str,
    manifest: &'static str,
}

const SCENARIOS: [Scenario; 3] = [
    Scenario {
        what: "preStop writes a file and sleeps 1 s; the TERM trap prints the file, exits 0",
        manifest: r#"
apiVersion: v1
kind: Pod
metadata: {name: NAME}
spec:
  containers:
  - name: app
    image: IMAGE
    command: ["sh", "-c"]
    args:
    - |
      trap 'echo "hook wrote: $(cat /dev/shm/hook)"; exit 0' TERM; while true; do sleep 0.1; done
    lifecycle:
      preStop:
        exec: {command: ["sh", "-c", "echo yes > /dev/shm/hook; sleep 1"]}
"#,
    },
    Scenario {
        what: "preStop sleeps 5 s, terminationGracePeriodSeconds 3, the app ignores TERM",
        manifest: r#"
apiVersion: v1
kind: Pod
metadata: {name: NAME}
spec:
  terminationGracePeriodSeconds: 3
  containers:
  - name: app
    image: IMAGE
    command: ["sleep", "1000"]
    lifecycle:
      preStop:
        exec: {command: ["sleep", "5"]}
"#,
    },
    Scenario {
        what: "shareProcessNamespace: true; the TERM trap exits 0",
        manifest: r#"
apiVersion: v1
kind: Pod
metadata: {name: NAME}
spec:
  shareProcessNamespace: true
  containers:
  - name: app
    image: IMAGE
    command: ["sh", "-c", "trap 'echo got TERM; exit 0' TERM; while true; do sleep 0.1; done"]
"#,
    },
];

/// What a tool did with a scenario: the app's exit code, how long the stop took, and the app's
/// last log line.
struct Outcome {
    exit_code: String,
    stop: Duration,
    said: String,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {} after {:.2} s; log: {}",
            self.exit_code,
            self.stop.as_secs_f64(),
            if self.said.is_empty() {
                "(nothing)"
            } else {
                &self.said
            }
        )
    }
}

pub fn run(table: &mut Table) {
    let lab = Lab::open();
    let scratch = ScratchDir::new("bench-manifest");
    let layout = scratch.path().join("layout");
    let reference = build_image(&busybox_definition(), &layout, "bench");
    lab.sandbox(&["load", &reference, "--name", IMAGE]);
    let podman = Podman::new();
    match against_podman(table, &lab, &podman, &layout, scratch.path()) {
        Ok(behaviour) => {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench");
            let file = dir.join("manifests.md");
            progress(&format!("behaviour on the same manifests:\n{behaviour}"));
            if let Err(e) =
                std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&file, &behaviour))
            {
                progress(&format!("writing {}: {e}", file.display()));
            }
        }
        Err(why) => table.add(
            Row::new("sandbox play + play --down (2 containers)", 0.0, "ms")
                .note(format!("podman: {why}")),
        ),
    }
    lab.sandbox(&["rmi", IMAGE]);
    let left = lab.leftovers();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// The figure and the behaviour table (Markdown), or why podman could not run.
fn against_podman(
    table: &mut Table,
    lab: &Lab,
    podman: &Podman,
    layout: &Path,
    dir: &Path,
) -> Result<String, String> {
    let (_, id) = podman.try_time(&[
        "pull",
        "--quiet",
        &format!("oci:{}:bench", layout.display()),
    ])?;
    podman.try_time(&["tag", &id, IMAGE])?;
    let write = |name: &str, text: &str| {
        let file = dir.join(format!("{name}.yaml"));
        std::fs::write(&file, text).unwrap();
        file.display().to_string()
    };

    progress(&format!(
        "play + play --down vs podman kube play + kube down, {ROUNDS} rounds"
    ));
    let mut failure = None;
    let mut ours = || {
        let file = write("ours", &two_containers(&lab.name("play")));
        time_output(&mut lab.command(&["play", &file])).0
            + time_output(&mut lab.command(&["play", "--down", &file])).0
    };
    let mut theirs = || {
        let file = write("theirs", &two_containers(&unique_name("bench-kube")));
        let up = podman.try_time(&["kube", "play", "--network", "none", &file]);
        let down = podman.try_time(&["kube", "down", &file]);
        match (up, down) {
            (Ok((up, _)), Ok((down, _))) => up + down,
            (Err(why), _) | (_, Err(why)) => {
                failure.get_or_insert(why);
                Duration::ZERO
            }
        }
    };
    let samples = interleave(ROUNDS, &mut [&mut ours, &mut theirs]);
    if let Some(why) = failure {
        return Err(why);
    }
    let [ours, theirs] = [&samples[0], &samples[1]].map(|s| millis(median(s.clone())));
    table.add(
        Row::new("sandbox play + play --down (2 containers)", ours, "ms")
            .peer("podman kube play + kube down", theirs)
            .target(Target::TimesFaster(5.0))
            .samples(&millis_each(&samples[0]), Some(&millis_each(&samples[1]))),
    );

    let mut markdown = String::from(
        "| manifest | sandbox (`stop`, the pod's grace period) | podman 4.3.1 (`pod stop`) |\n|---|---|---|\n",
    );
    for scenario in &SCENARIOS {
        progress(&format!("behaviour: {}", scenario.what));
        let manifest = scenario.manifest.replace("IMAGE", IMAGE);
        let name = lab.name("kube");
        let ours = sandbox_outcome(lab, &write("ours", &manifest.replace("NAME", &name)), &name);
        let name = unique_name("bench-kube");
        let theirs = podman_outcome(
            podman,
            &write("theirs", &manifest.replace("NAME", &name)),
            &name,
        )?;
        writeln!(markdown, "| {} | {ours} | {theirs} |", scenario.what).unwrap();
    }
    Ok(markdown)
}

/// Plays `file` (pod `pod`), lets the app start, stops the pod with its own grace period, and
/// removes it.
fn sandbox_outcome(lab: &Lab, file: &str, pod: &str) -> Outcome {
    time_output(&mut lab.command(&["play", file]));
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    let (_, report) = time_output(&mut lab.command(&["stop", "--json", pod]));
    let stop = started.elapsed();
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    let (_, log) = time_output(&mut lab.command(&["logs", pod, "app"]));
    lab.sandbox(&["rm", pod]);
    Outcome {
        exit_code: report["containers"][0]["exit_code"].to_string(),
        stop,
        said: log.lines().last().unwrap_or_default().trim().to_owned(),
    }
}

/// The same with podman: `kube play`, `pod stop`, the app container's exit code and log,
/// `kube down`.
fn podman_outcome(podman: &Podman, file: &str, pod: &str) -> Result<Outcome, String> {
    podman.try_time(&["kube", "play", "--network", "none", file])?;
    std::thread::sleep(Duration::from_millis(500));
    let (stop, _) = podman.try_time(&["pod", "stop", pod])?;
    let app = format!("{pod}-app");
    let (_, exit_code) = podman.try_time(&["inspect", "--format", "{{.State.ExitCode}}", &app])?;
    let log = podman
        .command(&["logs", &app])
        .output()
        .map_err(|e| format!("podman logs: {e}"))?;
    podman.try_time(&["kube", "down", file])?;
    Ok(Outcome {
        exit_code,
        stop,
        said: String::from_utf8_lossy(&log.stdout)
            .lines()
            .last()
            .unwrap_or_default()
            .trim()
            .to_owned(),
    })
}
