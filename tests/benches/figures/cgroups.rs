//! Cgroups (issue 13): `stop` and `rm` of one pod cost O(pod), not O(host), now that they find
//! the pod's processes in its cgroup instead of scanning `/proc`; and what limits add to
//! `create`.
//!
//! - Each round times `sandbox stop` and `sandbox rm` of a pod with one container (`sleep`)
//!   twice: with 50 unrelated processes added to the host, and with 2,000 (`sleep`s started by
//!   the benchmark and killed after the round). Target: the 2,000 figure at most 1.2x the 50.
//! - `create --memory 64m --cpus 1 --pids-limit 100` against `create` in the same rounds: what
//!   writing the limits costs (every pod has its cgroup either way). Target: at most +1.5 ms.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::lab::Lab;
use crate::{Row, Table, Target, interleave, median, millis, millis_each, progress, time};

const ROUNDS: usize = 11;
const CREATE_ROUNDS: usize = 21;
const FEW: usize = 50;
const MANY: usize = 2000;

pub fn run(table: &mut Table) {
    let lab = Lab::open();
    stop_and_rm(table, &lab);
    create(table, &lab);
    let left = lab.leftovers();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// `count` sleeping processes, unrelated to any pod.
fn bystanders(count: usize) -> Vec<Child> {
    (0..count)
        .map(|_| {
            Command::new("sleep")
                .arg("1000")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect()
}

fn end(mut children: Vec<Child>) {
    for child in &mut children {
        let _ = child.kill();
    }
    for child in &mut children {
        let _ = child.wait();
    }
}

/// Times `stop` and then `rm` of a new pod with one container.
fn time_stop_and_rm(lab: &Lab) -> (Duration, Duration) {
    let pod = lab.create();
    lab.sandbox(&["run", &pod, "--name", "app", "--", "sleep", "1000"]);
    let stop = time(&mut lab.command(&["stop", &pod, "-t", "10"]));
    let rm = time(&mut lab.command(&["rm", &pod]));
    (stop, rm)
}

fn stop_and_rm(table: &mut Table, lab: &Lab) {
    progress(&format!(
        "cgroups: stop and rm with {FEW} and with {MANY} other processes on the host, {ROUNDS} rounds"
    ));
    let host = std::fs::read_dir("/proc")
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        })
        .count();
    let (mut few, mut many) = (Vec::new(), Vec::new());
    for round in 0..=ROUNDS {
        crate::check_interrupted();
        let sample = |count| {
            let others = bystanders(count);
            let sample = time_stop_and_rm(lab);
            end(others);
            sample
        };
        let (a, b) = if round % 2 == 0 {
            let a = sample(FEW);
            (a, sample(MANY))
        } else {
            let b = sample(MANY);
            (sample(FEW), b)
        };
        if round > 0 {
            few.push(a);
            many.push(b);
        }
    }
    let note = format!("{host} processes on the host besides");
    for (figure, pick) in [
        ("sandbox stop, 1 container", 0),
        ("sandbox rm of the stopped pod", 1),
    ] {
        let of = |samples: &[(Duration, Duration)]| -> Vec<Duration> {
            samples
                .iter()
                .map(|s| if pick == 0 { s.0 } else { s.1 })
                .collect()
        };
        let (many, few) = (of(&many), of(&few));
        table.add(
            Row::new(
                format!("{figure}, {MANY} other processes"),
                millis(median(many.clone())),
                "ms",
            )
            .peer(
                format!("the same, {FEW} other processes"),
                millis(median(few.clone())),
            )
            .target(Target::RatioAtMost(1.2))
            .samples(&millis_each(&many), Some(&millis_each(&few)))
            .note(note.clone()),
        );
    }
}

fn create(table: &mut Table, lab: &Lab) {
    progress(&format!(
        "cgroups: create with and without limits, {CREATE_ROUNDS} rounds"
    ));
    let samples = interleave(
        CREATE_ROUNDS,
        &mut [
            &mut || {
                let name = lab.name("limits");
                let args = [
                    "create",
                    &name,
                    "--memory",
                    "64m",
                    "--cpus",
                    "1",
                    "--pids-limit",
                    "100",
                ];
                let took = lab.sandbox(&args);
                lab.sandbox(&["rm", "--force", &name]);
                took
            },
            &mut || {
                let name = lab.name("plain");
                let took = lab.sandbox(&["create", &name]);
                lab.sandbox(&["rm", "--force", &name]);
                took
            },
        ],
    );
    let with = millis(median(samples[0].clone()));
    let without = millis(median(samples[1].clone()));
    table.add(
        Row::new(
            "sandbox create: what --memory --cpus --pids-limit add",
            with - without,
            "ms",
        )
        .target(Target::AtMost(1.5))
        .note(format!(
            "{with:.2} ms with, {without:.2} ms without (a cgroup either way)"
        )),
    );
}
