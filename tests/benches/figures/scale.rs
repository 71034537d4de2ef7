//! Scale (issue 7): create `SANDBOX_BENCH_PODS` pods (default 1,000) one after the other, `ps`
//! them, stop and remove them all; the time of each step in all and per pod, whether `create`
//! slows down as pods pile up, and what an idle pod costs the host while it runs:
//!
//! - the RSS of every process the pod keeps running (its `pause`: the benchmark's cgroup holds
//!   every process the pods started, so anything else would be counted), target at most 512 KiB;
//! - the processes per pod (1: `pause`);
//! - for completeness, the kernel's side, which no RSS shows (namespaces, mounts, the process's
//!   stack and page tables): the rise of `SUnreclaim + KernelStack + PageTables + Percpu` in
//!   `/proc/meminfo` over the creates, divided by the pods. That is a host-wide figure: whatever
//!   else runs on the host moves it too.
//!
//! Afterwards nothing may be left: no process, mount, `/run/netns` pin, state or lock file.

use std::time::{Duration, Instant};

use crate::lab::Lab;
use crate::{Row, Table, Target, check_interrupted, median, millis, progress, rss_kb};

const PS_RUNS: usize = 5;
const POD_BUDGET_KB: f64 = 512.0;

/// How many pods: `SANDBOX_BENCH_PODS`, default 1,000.
fn pod_count() -> usize {
    match std::env::var("SANDBOX_BENCH_PODS") {
        Ok(count) => count
            .parse()
            .ok()
            .filter(|&n| n > 0)
            .unwrap_or_else(|| panic!("SANDBOX_BENCH_PODS={count:?}: not a positive number")),
        Err(_) => 1000,
    }
}

/// Kernel memory that namespaces, mounts and processes take, from `/proc/meminfo`, in kB.
fn kernel_memory_kb() -> f64 {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
    meminfo
        .lines()
        .filter_map(|line| {
            let (key, value) = line.split_once(':')?;
            ["SUnreclaim", "KernelStack", "PageTables", "Percpu"]
                .contains(&key)
                .then(|| {
                    value
                        .trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<f64>()
                        .unwrap()
                })
        })
        .sum()
}

/// Median time of `sandbox ps`, in ms.
fn time_ps(lab: &Lab) -> f64 {
    let runs = (0..PS_RUNS).map(|_| lab.sandbox(&["ps"])).collect();
    millis(median(runs))
}

/// Runs `step` on every pod, with progress; returns the time of each.
fn each(pods: &[String], what: &str, mut step: impl FnMut(&str) -> Duration) -> Vec<Duration> {
    let started = Instant::now();
    let mut times = Vec::with_capacity(pods.len());
    for (i, pod) in pods.iter().enumerate() {
        check_interrupted();
        times.push(step(pod));
        if (i + 1) % 250 == 0 || i + 1 == pods.len() {
            progress(&format!(
                "{what} {}/{} pods ({:.1} s)",
                i + 1,
                pods.len(),
                started.elapsed().as_secs_f64()
            ));
        }
    }
    times
}

fn total(times: &[Duration]) -> Duration {
    times.iter().sum()
}

pub fn run(table: &mut Table) {
    let count = pod_count();
    let lab = Lab::open();
    // The first and last tenth of the creates, at most 100, for the slow-down.
    let window = (count / 10).clamp(1, 100);
    let names: Vec<String> = (0..count).map(|_| lab.name("bench")).collect();

    let kernel_before = kernel_memory_kb();
    let mut ps_early = None;
    let mut created = 0;
    let creates = each(&names, "created", |pod| {
        let took = lab.sandbox(&["create", pod]);
        created += 1;
        if created == 100 && count > 100 {
            ps_early = Some(time_ps(&lab));
        }
        took
    });
    let kernel_after = kernel_memory_kb();
    let ps = time_ps(&lab);

    let processes = lab.processes();
    let rss: f64 = processes.iter().map(|&pid| rss_kb(pid)).sum();
    let not_pause: Vec<String> = processes
        .iter()
        .filter(|&&pid| sandbox_tests::comm_of(pid).as_deref() != Some("pause"))
        .map(|&pid| sandbox_tests::describe(pid))
        .collect();

    let stops = each(&names, "stopped", |pod| {
        lab.sandbox(&["stop", pod, "-t", "30"])
    });
    let rms = each(&names, "removed", |pod| lab.sandbox(&["rm", pod]));
    let left = lab.leftovers();

    let n = count as f64;
    let per_pod = |times: &[Duration]| millis(total(times)) / n;
    let all = total(&creates) + total(&stops) + total(&rms);
    table.add(Row::new(
        format!("scale: create + stop + rm of {count} pods, total"),
        all.as_secs_f64(),
        "s",
    ));
    table.add(Row::new(
        "scale: create, per pod (mean)",
        per_pod(&creates),
        "ms",
    ));
    table.add(
        Row::new(
            format!("scale: create, last {window} of {count} (median)"),
            millis(median(creates[count - window..].to_vec())),
            "ms",
        )
        .peer(
            format!("first {window} (median)"),
            millis(median(creates[..window].to_vec())),
        ),
    );
    table.add(Row::new(
        "scale: stop, per pod (mean)",
        per_pod(&stops),
        "ms",
    ));
    table.add(Row::new("scale: rm, per pod (mean)", per_pod(&rms), "ms"));
    let ps_row = Row::new(format!("scale: sandbox ps at {count} pods"), ps, "ms");
    table.add(match ps_early {
        Some(early) => ps_row.peer("ps at 100 pods", early),
        None => ps_row,
    });
    let note = if not_pause.is_empty() {
        String::new()
    } else {
        format!("not pause: {not_pause:?}")
    };
    table.add(
        Row::new(
            "processes kept running per idle pod",
            processes.len() as f64 / n,
            "",
        )
        .target(Target::AtMost(1.0))
        .note(note),
    );
    table.add(
        Row::new(
            "host memory per idle pod: RSS of its processes",
            rss / n,
            "kB",
        )
        .target(Target::AtMost(POD_BUDGET_KB)),
    );
    table.add(
        Row::new(
            "host memory per idle pod, kernel included",
            (kernel_after - kernel_before + rss) / n,
            "kB",
        )
        .note(format!(
            "RSS + rise of SUnreclaim+KernelStack+PageTables+Percpu over {count} creates (host-wide)"
        )),
    );
    table.add(
        Row::new(
            format!("left behind after rm of {count} pods"),
            left.len() as f64,
            "",
        )
        .target(Target::AtMost(0.0))
        .note(left.first().cloned().unwrap_or_default()),
    );
}
