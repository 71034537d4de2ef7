//! Against podman (issue 7): the lifecycle of an empty pod, `podman pod create` + `pod start` +
//! `pod stop` + `pod rm` against `sandbox create` + `stop` + `rm`, interleaved in the same
//! rounds (target: sandbox at least 20x faster), and the memory each keeps running: per pod
//! (podman: the infra container's `catatonit` and its `conmon`; ours: `pause`) and per container
//! (podman: a `conmon`, one per container; ours: the monitor, a `pause`).
//!
//! podman 4.3 as Debian packages it, run as root with everything of its own in a scratch
//! directory, as the image test runs it (`tests/integration/image.rs`): `vfs` storage, run root,
//! tmp dir, events log and network config through `CONTAINERS_STORAGE_CONF` and
//! `CONTAINERS_CONF`, so the host's podman state is never read or written. The configuration
//! this host needs: `runtime = "runc"` (crun refuses the hybrid cgroups), `cgroup_manager =
//! "cgroupfs"`, `events_logger = "file"`, and `default_ulimits` no higher than the current
//! limits (root lacks CAP_SYS_RESOURCE, so podman's default nofile of 1048576 fails). Pods get
//! `--network none`, a network namespace with only loopback, like a sandbox pod's. The infra
//! image is the one podman builds locally from the host's catatonit on first use (no
//! registry); that build happens in the untimed warm-up round.
//!
//! If podman is missing or cannot run, the row says why.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use sandbox_tests::{ScratchDir, mounts_containing, unique_name};

use crate::lab::Lab;
use crate::{Row, Table, Target, check_interrupted, interleave, median, millis, progress, rss_kb};

/// podman's own times vary most: enough rounds to judge 20x within a few percent.
const ROUNDS: usize = 21;
const LIFECYCLE: &str = "sandbox create + stop + rm (pod lifecycle)";

/// podman with its state in a scratch directory, and the cgroup parent of its pods. On drop:
/// every pod and container removed, any conmon or container still running killed, mounts under
/// the directory undone, the cgroup parent removed from every hierarchy, and the host
/// directories podman makes outside its state (`/run/containers`, `/run/runc`) removed if
/// they were not there before and are empty.
pub(crate) struct Podman {
    dir: ScratchDir,
    cgroup_parent: String,
    host_dirs: Vec<PathBuf>,
}

/// What [`Podman::container_run`] measured: the samples of each of ours, podman's, and the
/// RSS of a container's conmon in kB.
pub(crate) struct ContainerRuns {
    pub ours: Vec<Vec<Duration>>,
    pub theirs: Vec<Duration>,
    pub conmon_kb: f64,
}

impl Podman {
    pub(crate) fn new() -> Podman {
        let dir = ScratchDir::new("bench-podman");
        sandbox_tests::write_private_podman_config(dir.path());
        let host_dirs = ["/run/containers/networks", "/run/containers", "/run/runc"]
            .into_iter()
            .map(PathBuf::from)
            .filter(|dir| !dir.exists())
            .collect();
        Podman {
            dir,
            cgroup_parent: unique_name("bench-podman"),
            host_dirs,
        }
    }

    pub(crate) fn command<S: AsRef<str>>(&self, args: &[S]) -> Command {
        let mut cmd = Command::new("podman");
        cmd.env("CONTAINERS_CONF", self.dir.path().join("containers.conf"))
            .env(
                "CONTAINERS_STORAGE_CONF",
                self.dir.path().join("storage.conf"),
            )
            .args(args.iter().map(AsRef::as_ref));
        cmd
    }

    /// Runs `podman ARGS...`; how long it took, or why it failed.
    pub(crate) fn try_time<S: AsRef<str>>(&self, args: &[S]) -> Result<(Duration, String), String> {
        check_interrupted();
        let mut cmd = self.command(args);
        let args: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
        cmd.stdin(std::process::Stdio::null());
        let start = Instant::now();
        let output = cmd
            .output()
            .map_err(|e| format!("podman {}: {e}", args.join(" ")))?;
        let took = start.elapsed();
        check_interrupted();
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let last = stderr.lines().rev().find(|l| !l.trim().is_empty());
            return Err(format!(
                "`podman {}` failed ({}): {}",
                args.join(" "),
                output.status,
                last.unwrap_or("no message")
            ));
        }
        Ok((
            took,
            String::from_utf8_lossy(&output.stdout).trim().to_owned(),
        ))
    }

    /// `pod create` of pod `name` with only loopback (`--network none`, like a sandbox pod's),
    /// under the benchmark's cgroup parent; how long it took.
    fn create_pod(&self, name: &str) -> Result<Duration, String> {
        self.create_pod_on(name, "none")
    }

    /// `pod create --network NETWORK` of pod `name`, under the benchmark's cgroup parent.
    fn create_pod_on(&self, name: &str, network: &str) -> Result<Duration, String> {
        let parent = format!("/{}", self.cgroup_parent);
        let create = [
            "pod",
            "create",
            "--name",
            name,
            "--network",
            network,
            "--cgroup-parent",
            &parent,
        ];
        Ok(self.try_time(&create)?.0)
    }

    /// `pod create --network bridge` + `pod start` + `pod rm --force` of a new pod: the time
    /// of the three (podman attaches the infra container through netavark at start).
    pub(crate) fn bridge_pod_lifecycle(&self) -> Result<Duration, String> {
        if !installed("podman") {
            return Err("podman is not installed (`.ci/setup` installs it)".to_owned());
        }
        let name = unique_name("bench-podman-net");
        Ok(self.create_pod_on(&name, "bridge")?
            + self.try_time(&["pod", "start", &name])?.0
            + self.try_time(&["pod", "rm", "--force", &name])?.0)
    }

    /// `pod create` + `pod start` + `pod stop` + `pod rm` of a new pod: the time of each step.
    fn lifecycle(&self) -> Result<[Duration; 4], String> {
        let name = unique_name("bench-podman");
        Ok([
            self.create_pod(&name)?,
            self.try_time(&["pod", "start", &name])?.0,
            self.try_time(&["pod", "stop", &name])?.0,
            self.try_time(&["pod", "rm", &name])?.0,
        ])
    }

    /// `podman run --detach --pod` of the image in the OCI layout at `layout` (pulled first,
    /// untimed), interleaved with `sandbox run --runtime R --image` of it in `pod` for each
    /// runtime `R` of `ours`, `rounds` rounds.
    pub(crate) fn container_run(
        &self,
        lab: &Lab,
        pod: &str,
        image: &str,
        layout: &Path,
        rounds: usize,
        ours: &[&str],
    ) -> Result<ContainerRuns, String> {
        if !installed("podman") {
            return Err("podman is not installed (`.ci/setup` installs it)".to_owned());
        }
        let source = format!("oci:{}:bench", layout.display());
        let (_, id) = self.try_time(&["pull", "--quiet", &source])?;
        let podman_pod = unique_name("bench-podman");
        self.create_pod(&podman_pod)?;
        self.try_time(&["pod", "start", &podman_pod])?;
        progress(&format!("run --image vs podman run --pod, {rounds} rounds"));
        // `podman run` of a container `name` running `sleep 1000` in the pod.
        let sleeper = |name: &str| -> Vec<String> {
            [
                "run",
                "--detach",
                "--pod",
                &podman_pod,
                "--name",
                name,
                &id,
                "sleep",
                "1000",
            ]
            .map(str::to_owned)
            .to_vec()
        };
        let mut round = 0;
        let mut failure = None;
        let mut measures: Vec<Box<dyn FnMut() -> Duration>> = ours
            .iter()
            .enumerate()
            .map(|(which, runtime)| {
                let mut round = 0;
                Box::new(move || {
                    round += 1;
                    let name = format!("vs-podman-{which}-{round}");
                    lab.time_image_run(pod, &name, Some(runtime), image)
                }) as Box<dyn FnMut() -> Duration>
            })
            .collect();
        let mut theirs = || {
            round += 1;
            let name = format!("bench-{}-{round}", std::process::id());
            match self.try_time(&sleeper(&name)) {
                Ok((took, _)) => {
                    let _ = self.try_time(&["rm", "--force", "--time", "0", &name]);
                    took
                }
                Err(why) => {
                    failure.get_or_insert(why);
                    Duration::ZERO
                }
            }
        };
        let mut all: Vec<&mut dyn FnMut() -> Duration> = measures
            .iter_mut()
            .map(|m| m.as_mut() as &mut dyn FnMut() -> Duration)
            .collect();
        all.push(&mut theirs);
        let mut samples = interleave(rounds, &mut all);
        drop(all);
        if let Some(why) = failure {
            return Err(why);
        }
        let name = unique_name("bench-podman-rss");
        self.try_time(&sleeper(&name))?;
        let (_, conmon) = self.try_time(&["inspect", "--format", "{{.State.ConmonPid}}", &name])?;
        let conmon = rss_kb(
            conmon
                .parse()
                .map_err(|e| format!("conmon pid {conmon:?}: {e}"))?,
        );
        self.try_time(&["pod", "rm", "--force", &podman_pod])?;
        let theirs = samples.pop().unwrap_or_default();
        Ok(ContainerRuns {
            ours: samples,
            theirs,
            conmon_kb: conmon,
        })
    }

    /// Starts a pod and returns the RSS of its infra container's process and of its conmon, in
    /// kB; the pod is removed afterwards.
    fn infra_rss(&self) -> Result<(f64, f64), String> {
        let name = unique_name("bench-podman");
        self.create_pod(&name)?;
        self.try_time(&["pod", "start", &name])?;
        let (_, infra) =
            self.try_time(&["pod", "inspect", "--format", "{{.InfraContainerID}}", &name])?;
        let (_, pids) = self.try_time(&[
            "inspect",
            "--format",
            "{{.State.Pid}} {{.State.ConmonPid}}",
            &infra,
        ])?;
        let pids: Vec<i32> = pids
            .split_whitespace()
            .map(|pid| pid.parse().unwrap())
            .collect();
        let rss = (rss_kb(pids[0]), rss_kb(pids[1]));
        self.try_time(&["pod", "rm", "--force", &name])?;
        Ok(rss)
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = self.command(&["pod", "rm", "--force", "--all"]).output();
        let _ = self.command(&["rm", "--force", "--all"]).output();
        // conmon and the containers it holds outlive podman; they name our directory.
        let needle = self.dir.path().display().to_string();
        let me = std::process::id() as i32;
        for process in procfs::process::all_processes().unwrap().flatten() {
            let names_us = process
                .cmdline()
                .is_ok_and(|args| args.join(" ").contains(&needle));
            if process.pid != me && names_us {
                progress(&format!(
                    "cleanup: killing {}",
                    sandbox_tests::describe(process.pid)
                ));
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(process.pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
        let mut mounts = mounts_containing(&needle);
        mounts.sort_by_key(|mount| std::cmp::Reverse(mount.len()));
        for mount in mounts {
            let _ = nix::mount::umount2(mount.as_str(), nix::mount::MntFlags::MNT_DETACH);
        }
        remove_cgroup_everywhere(&self.cgroup_parent);
        for dir in &self.host_dirs {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// Removes the cgroup `name` (and what podman made below it) from every hierarchy: v1
/// controllers under `/sys/fs/cgroup/<controller>`, v2 at `/sys/fs/cgroup/unified` here.
fn remove_cgroup_everywhere(name: &str) {
    let Ok(hierarchies) = std::fs::read_dir("/sys/fs/cgroup") else {
        return;
    };
    for hierarchy in hierarchies.flatten() {
        let mut dirs = Vec::new();
        let mut pending = vec![hierarchy.path().join(name)];
        while let Some(dir) = pending.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            pending.extend(
                entries
                    .flatten()
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                    .map(|e| e.path()),
            );
            dirs.push(dir);
        }
        for dir in dirs.iter().rev() {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

fn installed(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| Path::new(&dir).join(program).is_file())
    })
}

/// `sandbox create` + `stop` + `rm` of a new pod: the time of each step.
fn sandbox_lifecycle(lab: &Lab) -> [Duration; 3] {
    let name = lab.name("bench");
    [
        lab.sandbox(&["create", &name]),
        lab.sandbox(&["stop", &name]),
        lab.sandbox(&["rm", &name]),
    ]
}

pub fn run(table: &mut Table) {
    let lab = Lab::open();
    let podman = installed("podman").then(Podman::new);
    let measured = match &podman {
        Some(podman) => measure(table, &lab, podman),
        None => Err("podman is not installed (`.ci/setup` installs it)".to_owned()),
    };
    if let Err(why) = measured {
        progress(&why);
        let ours = median(
            (0..ROUNDS)
                .map(|_| sandbox_lifecycle(&lab).iter().sum())
                .collect(),
        );
        table.add(
            Row::new(LIFECYCLE, millis(ours), "ms")
                .target(Target::TimesFaster(20.0))
                .note(format!("no podman figure: {why}")),
        );
    }
    drop(podman);
    let left = lab.leftovers();
    assert!(left.is_empty(), "left behind: {left:?}");
}

fn measure(table: &mut Table, lab: &Lab, podman: &Podman) -> Result<(), String> {
    progress("podman: a first pod, for which podman builds its infra image (not timed)");
    podman.lifecycle()?;
    progress(&format!("podman pod lifecycle vs sandbox, {ROUNDS} rounds"));
    let mut samples = interleave(
        ROUNDS,
        &mut [
            &mut || podman.lifecycle().map(|steps| steps.to_vec()),
            &mut || Ok::<_, String>(sandbox_lifecycle(lab).to_vec()),
        ],
    );
    let ours: Vec<Vec<Duration>> = samples
        .pop()
        .unwrap()
        .into_iter()
        .collect::<Result<_, _>>()?;
    let theirs: Vec<Vec<Duration>> = samples
        .pop()
        .unwrap()
        .into_iter()
        .collect::<Result<_, _>>()?;
    let totals = |runs: &[Vec<Duration>]| -> Vec<f64> {
        runs.iter().map(|run| millis(run.iter().sum())).collect()
    };
    // Per step and in all, each a median over the rounds.
    let step = |runs: &[Vec<Duration>], steps: std::ops::Range<usize>| -> f64 {
        millis(median(
            runs.iter()
                .map(|run| run[steps.clone()].iter().sum())
                .collect(),
        ))
    };
    table.add(
        Row::new(LIFECYCLE, step(&ours, 0..3), "ms")
            .peer("podman pod create + start + stop + rm", step(&theirs, 0..4))
            .target(Target::TimesFaster(20.0))
            .samples(&totals(&ours), Some(&totals(&theirs))),
    );
    table.add(
        Row::new("sandbox create", step(&ours, 0..1), "ms")
            .peer("podman pod create + start", step(&theirs, 0..2)),
    );
    table.add(
        Row::new("sandbox stop", step(&ours, 1..2), "ms")
            .peer("podman pod stop", step(&theirs, 2..3)),
    );
    table.add(
        Row::new("sandbox rm", step(&ours, 2..3), "ms").peer("podman pod rm", step(&theirs, 3..4)),
    );

    // Memory: one idle pod of each, and one container's monitor.
    let (catatonit, conmon) = podman.infra_rss()?;
    let pod = lab.create();
    lab.sandbox(&["run", &pod, "--name", "app", "--", "sleep", "1000"]);
    let inspect = lab.inspect(&pod);
    let pause = rss_kb(inspect["pid"].as_i64().unwrap() as i32);
    let container = inspect["containers"][0]["pid"].as_i64().unwrap() as i32;
    let monitor = procfs::process::Process::new(container)
        .unwrap()
        .stat()
        .unwrap()
        .ppid;
    let monitor = rss_kb(monitor);
    lab.sandbox(&["rm", "--force", &pod]);
    table.add(
        Row::new("RSS kept running per idle pod (pause)", pause, "kB")
            .peer("podman: infra catatonit + conmon", catatonit + conmon),
    );
    table.add(
        Row::new("RSS of a container's monitor (pause)", monitor, "kB")
            .peer("podman: conmon", conmon),
    );
    Ok(())
}
