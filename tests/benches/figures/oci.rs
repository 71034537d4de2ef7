//! OCI containers (issue 11): `sandbox run --image` of a cached busybox image until it returns
//! (the runtime's `run --detach` has started the container; its process execs the command a
//! moment later, on both sides), against the runtime alone doing the same work in the same
//! rounds, and against podman;
//! the first run of an image (pull and unpack) against `umoci unpack`; the monitor's memory.
//!
//! - "The runtime alone": `RUNTIME run --detach` of a bundle whose `config.json` is the one
//!   `sandbox` generated for a container of the same pod (so it joins the same pinned
//!   namespaces and binds the same pod files) and whose root is `umoci unpack`'s rootfs of the
//!   same image; deleted afterwards, untimed. Target: `sandbox` at most 1.2x of it. With crun,
//!   both sides run through the same wrapper (crun refuses this host's hybrid cgroups).
//! - podman: `podman run --detach --pod P IMAGE sleep`, the image pulled from the same OCI
//!   layout beforehand. Target: `sandbox` at least 5x faster.
//! - First run: `rmi`, then `run --image` (resolve, verify, unpack the layers, mount, start);
//!   what it adds to a cached run of the same round (the pull: verify and unpack) against
//!   `umoci unpack` of the same image. Target: at most 1x.
//!
//! Every detached command runs with stdin, stdout and stderr on `/dev/null` (a detached runtime
//! hands its stdio to the container, which would hold a captured pipe open).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use sandbox_tests::ScratchDir;
use sandbox_tests::images::{build_image, busybox_definition, crun_for_this_host};

use crate::lab::Lab;
use crate::podman::Podman;
use crate::{Row, Table, Target, interleave, median, millis, progress, rss_kb, time_detached};

const ROUNDS: usize = 21;

fn median_ms(samples: &[Duration]) -> f64 {
    millis(median(samples.to_vec()))
}

/// An OCI runtime as both sides run it: a program, and its own state directory for the peer.
struct Runtime {
    name: &'static str,
    program: PathBuf,
    root: PathBuf,
}

impl Runtime {
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.arg("--root").arg(&self.root).args(args);
        cmd
    }
}

pub fn run(table: &mut Table) {
    let lab = Lab::open();
    let scratch = ScratchDir::new("bench-oci");
    let layout = scratch.path().join("layout");
    let image = build_image(&busybox_definition(), &layout, "bench");
    let pod = lab.create();
    let runtimes = [
        Runtime {
            name: "runc",
            program: PathBuf::from("/usr/sbin/runc"),
            root: scratch.path().join("runc-state"),
        },
        Runtime {
            name: "crun",
            program: crun_for_this_host(scratch.path()),
            root: scratch.path().join("crun-state"),
        },
    ];
    let bundle = bundle_like_sandboxs(&lab, &pod, &image, &layout, scratch.path());
    for runtime in &runtimes {
        against_runtime(table, &lab, &pod, &image, &bundle, runtime);
    }
    first_run(table, &lab, &pod, &image, &layout, scratch.path());
    monitor_and_podman(table, &lab, &pod, &image, &layout, &runtimes);
    lab.sandbox(&["rm", "--force", &pod]);
    lab.sandbox(&["rmi", &image]);
    let left = lab.leftovers();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// A bundle for the runtime alone: `umoci unpack`'s rootfs of the image, and the config.json
/// `sandbox` generates for a container of `pod`, pointed at that rootfs.
fn bundle_like_sandboxs(lab: &Lab, pod: &str, image: &str, layout: &Path, dir: &Path) -> PathBuf {
    let bundle = dir.join("bundle");
    let unpacked = Command::new("umoci")
        .args(["unpack", "--image", &format!("{}:bench", layout.display())])
        .arg(&bundle)
        .output()
        .unwrap();
    assert!(unpacked.status.success(), "umoci unpack: {unpacked:?}");
    lab.sandbox(&[
        "run", pod, "--name", "model", "--image", image, "--", "sleep", "1000",
    ]);
    let generated = lab.root().join(pod).join("containers/model/config.json");
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(generated).unwrap()).unwrap();
    config["root"]["path"] = bundle.join("rootfs").display().to_string().into();
    std::fs::write(bundle.join("config.json"), config.to_string()).unwrap();
    lab.sandbox(&["rm", "--force", pod, "model"]);
    bundle
}

fn against_runtime(
    table: &mut Table,
    lab: &Lab,
    pod: &str,
    image: &str,
    bundle: &Path,
    runtime: &Runtime,
) {
    progress(&format!(
        "run --image vs {} run --detach of the same bundle, {ROUNDS} rounds",
        runtime.name
    ));
    let program = runtime.program.to_str().unwrap();
    let mut round = 0;
    let mut peer_round = 0;
    let samples = interleave(
        ROUNDS,
        &mut [
            &mut || {
                round += 1;
                let name = format!("{}{round}", runtime.name);
                lab.time_image_run(pod, &name, Some(program), image)
            },
            &mut || {
                peer_round += 1;
                let id = format!("bench-{}-{peer_round}", std::process::id());
                let took = time_detached(&mut runtime.command(&[
                    "run",
                    "--detach",
                    "--bundle",
                    bundle.to_str().unwrap(),
                    &id,
                ]));
                time_detached(&mut runtime.command(&["delete", "--force", &id]));
                took
            },
        ],
    );
    table.add(
        Row::new(
            format!(
                "sandbox run --image (cached busybox, {}) until started",
                runtime.name
            ),
            median_ms(&samples[0]),
            "ms",
        )
        .peer(
            format!("{} run --detach, same bundle and pod", runtime.name),
            median_ms(&samples[1]),
        )
        .target(Target::RatioAtMost(1.2))
        .samples(
            &crate::millis_each(&samples[0]),
            Some(&crate::millis_each(&samples[1])),
        ),
    );
}

fn first_run(table: &mut Table, lab: &Lab, pod: &str, image: &str, layout: &Path, dir: &Path) {
    progress(&format!(
        "first run vs cached run vs umoci unpack, {ROUNDS} rounds"
    ));
    let mut round = 0;
    let mut cached_round = 0;
    let mut peer_round = 0;
    let samples = interleave(
        ROUNDS,
        &mut [
            &mut || {
                round += 1;
                let name = format!("first{round}");
                lab.sandbox(&["rmi", image]);
                lab.time_image_run(pod, &name, None, image)
            },
            &mut || {
                cached_round += 1;
                let name = format!("cached{cached_round}");
                lab.time_image_run(pod, &name, None, image)
            },
            &mut || {
                peer_round += 1;
                let target = dir.join(format!("umoci-{peer_round}"));
                let took = time_detached(
                    Command::new("umoci")
                        .args(["unpack", "--image", &format!("{}:bench", layout.display())])
                        .arg(&target),
                );
                std::fs::remove_dir_all(&target).unwrap();
                took
            },
        ],
    );
    // What the first run adds to a cached one in the same round: reading, verifying and
    // unpacking the image.
    let unpack: Vec<Duration> = samples[0]
        .iter()
        .zip(&samples[1])
        .map(|(first, cached)| first.saturating_sub(*cached))
        .collect();
    table.add(
        Row::new(
            "sandbox run --image: first run minus cached run (verify + unpack)",
            median_ms(&unpack),
            "ms",
        )
        .peer("umoci unpack", median_ms(&samples[2]))
        .target(Target::RatioAtMost(1.0))
        .samples(
            &crate::millis_each(&unpack),
            Some(&crate::millis_each(&samples[2])),
        ),
    );
    table.add(
        Row::new(
            "sandbox run --image, first run (verify + unpack + start)",
            median_ms(&samples[0]),
            "ms",
        )
        .peer("umoci unpack (unpack only)", median_ms(&samples[2])),
    );
}

fn monitor_and_podman(
    table: &mut Table,
    lab: &Lab,
    pod: &str,
    image: &str,
    layout: &Path,
    runtimes: &[Runtime],
) {
    lab.sandbox(&[
        "run", pod, "--name", "rss", "--image", image, "--", "sleep", "1000",
    ]);
    let container = lab.inspect(pod)["containers"][0]["pid"].as_i64().unwrap() as i32;
    let monitor = procfs::process::Process::new(container)
        .unwrap()
        .stat()
        .unwrap()
        .ppid;
    let monitor_rss = rss_kb(monitor);
    lab.sandbox(&["rm", "--force", pod, "rss"]);

    let podman = Podman::new();
    let ours: Vec<&str> = runtimes
        .iter()
        .map(|runtime| runtime.program.to_str().unwrap())
        .collect();
    match podman.container_run(lab, pod, image, layout, ROUNDS, &ours) {
        Ok(runs) => {
            for (runtime, samples) in runtimes.iter().zip(&runs.ours) {
                let note = if runtime.name == "runc" {
                    "both with runc"
                } else {
                    "podman with runc: crun refuses this host's hybrid cgroups under podman"
                };
                table.add(
                    Row::new(
                        format!(
                            "sandbox run --image (cached busybox, {}) until started",
                            runtime.name
                        ),
                        median_ms(samples),
                        "ms",
                    )
                    .peer("podman run --detach --pod", median_ms(&runs.theirs))
                    .target(Target::TimesFaster(5.0))
                    .note(note),
                );
            }
            table.add(
                Row::new(
                    "RSS of an image container's monitor (pause)",
                    monitor_rss,
                    "kB",
                )
                .peer("podman: conmon", runs.conmon_kb)
                .target(Target::AtMost(512.0)),
            );
        }
        Err(why) => {
            progress(&why);
            table.add(
                Row::new(
                    "RSS of an image container's monitor (pause)",
                    monitor_rss,
                    "kB",
                )
                .target(Target::AtMost(512.0))
                .note(format!("no podman figure: {why}")),
            );
        }
    }
}
