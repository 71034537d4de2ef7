//! Latency of `sandbox create`, `exec` and `run` (issues 3 and 4), each next to the kernel floor
//! of the same work measured in the same rounds:
//!
//! - `create` against `unshare --net --ipc --uts --fork true` (new namespaces, one process that
//!   execs and exits; target: at most 2x) and against `ip netns add` (one new network namespace,
//!   pinned). `rm` is timed apart, so `create + rm` is compared with `ip netns add + del` too.
//! - `exec POD -- true` against `nsenter --net=PIN --ipc=PIN --uts=PIN true` on the same pins.
//! - `run POD --name C -- sleep` (until the CLI returns: the command has been exec'd) against
//!   the same `nsenter` floor; `run` does more (a detached monitor, state on disk), so this
//!   ratio has no target and says what that costs.

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::lab::Lab;
use crate::{Row, Table, Target, interleave, median, millis, millis_each, progress, time};

const ROUNDS: usize = 61;

pub fn run(table: &mut Table) {
    let lab = Lab::open();
    create(table, &lab);
    exec(table, &lab);
    run_latency(table, &lab);
    let left = lab.leftovers();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// Median in milliseconds.
fn median_ms(samples: &[Duration]) -> f64 {
    millis(median(samples.to_vec()))
}

fn create(table: &mut Table, lab: &Lab) {
    progress(&format!("create vs unshare and ip netns, {ROUNDS} rounds"));
    let mut rm_times = Vec::new();
    let mut ip_del_times = Vec::new();
    let samples = interleave(
        ROUNDS,
        &mut [
            &mut || {
                let name = lab.name("bench");
                let created = lab.sandbox(&["create", &name]);
                // Outside the figure of `create`, but kept for `create + rm`.
                rm_times.push(lab.sandbox(&["rm", "--force", &name]));
                created
            },
            &mut || {
                time(Command::new("unshare").args(["--net", "--ipc", "--uts", "--fork", "true"]))
            },
            &mut || {
                let name = lab.name("bench-ip");
                let added = time(Command::new("ip").args(["netns", "add", &name]));
                ip_del_times.push(time(Command::new("ip").args(["netns", "del", &name])));
                added
            },
            &mut || state_write(lab.root()),
        ],
    );
    let [create, unshare, ip_add, write] = [&samples[0], &samples[1], &samples[2], &samples[3]];
    let floor = "unshare --net --ipc --uts --fork true";
    table.add(
        Row::new("sandbox create", median_ms(create), "ms")
            .peer(floor, median_ms(unshare))
            .target(Target::RatioAtMost(2.0))
            .samples(&millis_each(create), Some(&millis_each(unshare))),
    );
    table.add(
        Row::new("sandbox create", median_ms(create), "ms").peer("ip netns add", median_ms(ip_add)),
    );
    // The warm-up round is not in `samples`: skip its rm and del too.
    let sum = |a: &[Duration], b: &[Duration]| -> Vec<Duration> {
        a.iter().zip(&b[1..]).map(|(a, b)| *a + *b).collect()
    };
    table.add(
        Row::new(
            "context: a 300 B write + fsync + rename in the root",
            median_ms(write),
            "ms",
        )
        .note(format!(
            "in-process; the root's file system is {}",
            fs_type(lab.root())
        )),
    );
    table.add(
        Row::new(
            "sandbox create + rm --force",
            median_ms(&sum(create, &rm_times)),
            "ms",
        )
        .peer("ip netns add + del", median_ms(&sum(ip_add, &ip_del_times))),
    );
}

/// What one durable state write costs in `root`, done in-process as `sandbox` does its own
/// (temporary file, fsync, rename): the part of `create` that depends on the root's file system
/// rather than on the kernel's namespaces.
fn state_write(root: &Path) -> Duration {
    let temporary = root.join(".bench-write.tmp");
    let start = Instant::now();
    let mut file = std::fs::File::create(&temporary).unwrap();
    file.write_all(&[b'x'; 300]).unwrap();
    file.sync_all().unwrap();
    std::fs::rename(&temporary, root.join(".bench-write")).unwrap();
    let took = start.elapsed();
    std::fs::remove_file(root.join(".bench-write")).unwrap();
    took
}

/// The file system type of the mount that holds `path`, from `/proc/self/mountinfo`.
fn fs_type(path: &Path) -> String {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    mountinfo
        .lines()
        .filter_map(|line| {
            let (mount, fs) = line.split_once(" - ")?;
            let point = mount.split(' ').nth(4)?;
            let kind = fs.split(' ').next()?;
            path.starts_with(point)
                .then(|| (point.len(), kind.to_owned()))
        })
        .max()
        .map_or_else(|| "unknown".to_owned(), |(_, fs)| fs)
}

/// `nsenter` into the pinned namespaces of `pod`, running `command`.
fn nsenter(lab: &Lab, pod: &str, command: &[&str]) -> Command {
    let inspect = lab.inspect(pod);
    let mut cmd = Command::new("nsenter");
    for kind in ["net", "ipc", "uts"] {
        let path = inspect["namespaces"][kind]["path"].as_str().unwrap();
        cmd.arg(format!("--{kind}={path}"));
    }
    cmd.args(command);
    cmd
}

fn exec(table: &mut Table, lab: &Lab) {
    progress(&format!("exec vs nsenter, {ROUNDS} rounds"));
    let pod = lab.create();
    let mut floor = nsenter(lab, &pod, &["true"]);
    let samples = interleave(
        ROUNDS,
        &mut [
            &mut || lab.sandbox(&["exec", &pod, "--", "true"]),
            &mut || time(&mut floor),
        ],
    );
    table.add(
        Row::new("sandbox exec POD -- true", median_ms(&samples[0]), "ms")
            .peer("nsenter --net --ipc --uts true", median_ms(&samples[1])),
    );
    lab.sandbox(&["rm", "--force", &pod]);
}

fn run_latency(table: &mut Table, lab: &Lab) {
    progress(&format!("run vs nsenter, {ROUNDS} rounds"));
    let floor_pod = lab.create();
    let mut floor = nsenter(lab, &floor_pod, &["true"]);
    let samples = interleave(
        ROUNDS,
        &mut [
            &mut || {
                // A fresh pod each round, so each `run` is a pod's first container; the
                // create and rm around it are not timed.
                let pod = lab.create();
                let took = lab.sandbox(&["run", &pod, "--name", "app", "--", "sleep", "1000"]);
                lab.sandbox(&["rm", "--force", &pod]);
                took
            },
            &mut || time(&mut floor),
        ],
    );
    table.add(
        Row::new(
            "sandbox run POD -- sleep (until exec'd)",
            median_ms(&samples[0]),
            "ms",
        )
        .peer("nsenter --net --ipc --uts true", median_ms(&samples[1])),
    );
    lab.sandbox(&["rm", "--force", &floor_pod]);
}
