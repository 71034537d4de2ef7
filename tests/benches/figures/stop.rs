//! `sandbox stop` (issue 4): the kubelet's stop, timed from outside as a user sees it (the CLI
//! from spawn to exit, so its own start-up and the stop of pause are included).
//!
//! - 10 cooperative containers (`sleep`, which dies of the default SIGTERM action) with a 30 s
//!   grace period: target under 50 ms in all. Next to it, the stop of a pod without containers,
//!   in the same rounds: what the CLI and pause cost alone.
//! - 10 stubborn containers (`trap '' TERM` and `exec sleep`: the ignored signal survives exec)
//!   with a 0.5 s grace period: the overshoot of `stop` past 0.5 s, target under 20 ms.
//! - The RSS of the monitor each container has (a `pause`), target at most 512 KiB.
//!
//! Each stop's JSON report is checked (exit 143 and `stop-signal`, or 137 and `killed`), so the
//! figures time the workload they name.

use std::time::Duration;

use crate::lab::Lab;
use crate::{
    Row, Table, Target, interleave, median, millis, millis_each, progress, rss_kb, time_output,
};

const CONTAINERS: usize = 10;
const COOPERATIVE_ROUNDS: usize = 11;
const STUBBORN_ROUNDS: usize = 7;
const GRACE: Duration = Duration::from_millis(500);
const MONITOR_BUDGET_KB: f64 = 512.0;

pub fn run(table: &mut Table) {
    let lab = Lab::open();
    cooperative(table, &lab);
    stubborn(table, &lab);
    let left = lab.leftovers();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// A new pod with `CONTAINERS` containers running `command`; returns its name.
fn pod_with(lab: &Lab, command: &[&str]) -> String {
    let pod = lab.create();
    for i in 0..CONTAINERS {
        let name = format!("c{i}");
        let mut args = vec!["run", pod.as_str(), "--name", name.as_str(), "--"];
        args.extend_from_slice(command);
        lab.sandbox(&args);
    }
    pod
}

/// Times `sandbox stop POD -t GRACE --json`, checks that the report lists `containers`
/// containers, each ended as `ended` with `exit_code`, and removes the pod.
fn time_stop(
    lab: &Lab,
    pod: &str,
    grace: &str,
    containers: usize,
    (ended, exit_code): (&str, i64),
) -> Duration {
    let (took, report) = time_output(&mut lab.command(&["stop", pod, "-t", grace, "--json"]));
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    let report = report["containers"].as_array().unwrap();
    assert_eq!(report.len(), containers, "{report:?}");
    for container in report {
        assert!(
            container["ended"] == ended && container["exit_code"] == exit_code,
            "expected {ended} and {exit_code}: {container}"
        );
    }
    lab.sandbox(&["rm", pod]);
    took
}

/// VmRSS of the monitors of `pod`'s containers (the parent of each container's process).
fn monitor_rss(lab: &Lab, pod: &str) -> Vec<f64> {
    let inspect = lab.inspect(pod);
    inspect["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|container| {
            let pid = container["pid"].as_i64().unwrap() as i32;
            let stat = procfs::process::Process::new(pid).unwrap().stat().unwrap();
            let comm = sandbox_tests::comm_of(stat.ppid);
            assert_eq!(comm.as_deref(), Some("pause"), "the monitor of {container}");
            rss_kb(stat.ppid)
        })
        .collect()
}

fn cooperative(table: &mut Table, lab: &Lab) {
    progress(&format!(
        "stop of {CONTAINERS} cooperative containers, -t 30, {COOPERATIVE_ROUNDS} rounds"
    ));
    let mut monitors = Vec::new();
    let samples = interleave(
        COOPERATIVE_ROUNDS,
        &mut [
            &mut || {
                let pod = pod_with(lab, &["sleep", "1000"]);
                monitors.extend(monitor_rss(lab, &pod));
                time_stop(lab, &pod, "30", CONTAINERS, ("stop-signal", 143))
            },
            &mut || {
                let pod = lab.create();
                time_stop(lab, &pod, "30", 0, ("", 0))
            },
        ],
    );
    table.add(
        Row::new(
            "sandbox stop, 10 cooperative containers, -t 30",
            millis(median(samples[0].clone())),
            "ms",
        )
        .target(Target::AtMost(50.0))
        .samples(&millis_each(&samples[0]), None),
    );
    table.add(Row::new(
        "sandbox stop, pod without containers",
        millis(median(samples[1].clone())),
        "ms",
    ));
    table.add(
        Row::new("monitor RSS per container", median(monitors), "kB")
            .target(Target::AtMost(MONITOR_BUDGET_KB)),
    );
}

fn stubborn(table: &mut Table, lab: &Lab) {
    progress(&format!(
        "stop of {CONTAINERS} stubborn containers, -t 0.5, {STUBBORN_ROUNDS} rounds"
    ));
    let stubborn = ["sh", "-c", "trap '' TERM; exec sleep 1000"];
    let samples = interleave(
        STUBBORN_ROUNDS,
        &mut [&mut || {
            let pod = pod_with(lab, &stubborn);
            time_stop(lab, &pod, "0.5", CONTAINERS, ("killed", 137))
        }],
    );
    let overshoots: Vec<f64> = samples[0]
        .iter()
        .map(|took| millis(took.saturating_sub(GRACE)))
        .collect();
    table.add(
        Row::new(
            "sandbox stop overshoot past -t 0.5, 10 stubborn containers",
            median(overshoots.clone()),
            "ms",
        )
        .target(Target::AtMost(20.0))
        .samples(&overshoots, None),
    );
}
