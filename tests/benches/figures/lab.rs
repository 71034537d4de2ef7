//! Where the sandbox figures run: a private state root (never `/run/sandbox`), unique pod names,
//! and a cgroup (v2) of the benchmark's own that holds every process a `sandbox` command starts,
//! however it detaches (setsid, double fork, other namespaces): only root moves a process out.
//!
//! The benchmark process moves *itself* into the cgroup once, when the lab opens, and its
//! children are born there. Moving each command on its own (the harness's `Cgroup::enter`)
//! would cost a cgroup migration per command, measured at ~0.8 ms here, inside the timed region
//! of ours and not of the floors'. On drop the lab removes every pod it named that is still
//! there (`rm --force`), moves the benchmark back, kills whatever is left in the cgroup, unmounts
//! any `/run/netns` pin of its names, and then fails loudly if it had to clean up anything that
//! `sandbox` should have removed itself.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use sandbox_tests::{
    StateRoot, cgroup_roots, cgroup_tree, describe, is_mounted, mounts_under, sandbox_command,
    unique_name, wait_until,
};

use crate::{progress, time};

/// A private root, a cgroup the benchmark is in, and the names it handed out.
pub struct Lab {
    root: Arc<StateRoot>,
    cgroup: PathBuf,
    /// `cgroup.procs` of the cgroup the benchmark came from.
    home: PathBuf,
    names: RefCell<Vec<String>>,
}

/// The cgroup2 mount (`/sys/fs/cgroup/unified` on this hybrid host).
fn cgroup2_mount() -> PathBuf {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    mountinfo
        .lines()
        .find_map(|line| {
            let (mount, fs) = line.split_once(" - ")?;
            let mount_point = mount.split(' ').nth(4)?;
            (fs.split(' ').next()? == "cgroup2").then(|| PathBuf::from(mount_point))
        })
        .expect("a cgroup2 file system mounted somewhere (for tracking processes)")
}

/// Moves the calling process (all its threads) into the cgroup whose `cgroup.procs` is `procs`.
fn move_self(procs: &Path) {
    std::fs::write(procs, "0").unwrap_or_else(|e| panic!("joining {}: {e}", procs.display()));
}

impl Lab {
    /// A new root and cgroup, with the benchmark in it.
    pub fn open() -> Lab {
        let mount = cgroup2_mount();
        let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
        let home = own
            .lines()
            .find_map(|line| line.strip_prefix("0::"))
            .expect("a cgroup2 line in /proc/self/cgroup");
        let home = mount
            .join(home.trim_start_matches('/'))
            .join("cgroup.procs");
        // Every state write of `sandbox` ends in an fsync, which also waits for whatever else
        // is dirty in the file system's journal (a build just written, the previous section's
        // pods): start each section from a clean cache, so its first rounds do not pay for that.
        nix::unistd::sync();
        // The benchmark (and the commands it starts) runs in the `bench` leaf and the pods'
        // cgroups go beside it (SANDBOX_CGROUP_PARENT): on cgroup v2 a cgroup that hands
        // controllers to its children may hold no process itself.
        let cgroup = mount.join(unique_name("sandbox-bench"));
        std::fs::create_dir_all(cgroup.join("bench")).unwrap();
        move_self(&cgroup.join("bench").join("cgroup.procs"));
        Lab {
            root: StateRoot::new(),
            cgroup,
            home,
            names: RefCell::new(Vec::new()),
        }
    }

    /// The state root.
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// A unique name (for a pod, or an `ip netns` pin), cleaned up on drop.
    pub fn name(&self, prefix: &str) -> String {
        let name = unique_name(prefix);
        self.names.borrow_mut().push(name.clone());
        name
    }

    /// `sandbox --root ROOT ARGS...`, not yet run, putting pods' cgroups in the lab's.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = sandbox_command(self.root());
        let name = self.cgroup.file_name().unwrap_or_default();
        cmd.args(args).env("SANDBOX_CGROUP_PARENT", name);
        cmd
    }

    /// Runs `sandbox ARGS...`, which must succeed, and returns how long it took.
    pub fn sandbox(&self, args: &[&str]) -> Duration {
        time(&mut self.command(args))
    }

    /// `sandbox run POD --name NAME [--runtime RUNTIME] --image IMAGE -- sleep 1000`, timed
    /// until it returns; then the container is removed, untimed.
    pub fn time_image_run(
        &self,
        pod: &str,
        name: &str,
        runtime: Option<&str>,
        image: &str,
    ) -> Duration {
        let mut args = vec!["run", pod, "--name", name];
        if let Some(runtime) = runtime {
            args.extend(["--runtime", runtime]);
        }
        args.extend(["--image", image, "--", "sleep", "1000"]);
        let took = crate::time_detached(&mut self.command(&args));
        self.sandbox(&["rm", "--force", pod, name]);
        took
    }

    /// `sandbox create` of a new pod; returns its name.
    pub fn create(&self) -> String {
        let name = self.name("bench");
        self.sandbox(&["create", &name]);
        name
    }

    /// `sandbox inspect NAME`, parsed.
    pub fn inspect(&self, name: &str) -> serde_json::Value {
        let output = self.command(&["inspect", name]).output().unwrap();
        assert!(output.status.success(), "inspect {name}: {output:?}");
        serde_json::from_slice(&output.stdout).unwrap()
    }

    /// The processes in the cgroup and below it other than the benchmark itself.
    pub fn processes(&self) -> Vec<i32> {
        let me = std::process::id() as i32;
        cgroup_tree(&self.cgroup)
            .iter()
            .flat_map(|dir| {
                std::fs::read_to_string(dir.join("cgroup.procs"))
                    .unwrap_or_default()
                    .lines()
                    .map(|pid| pid.parse::<i32>().unwrap())
                    .collect::<Vec<_>>()
            })
            .filter(|&pid| pid != me)
            .collect()
    }

    /// What is left of the lab's pods: processes in the cgroup (after a grace for those on
    /// their way out), mounts under the root, `/run/netns` pins of its names, entries in the
    /// root and lock files; one line each, empty when nothing is left.
    pub fn leftovers(&self) -> Vec<String> {
        let mut left = Vec::new();
        wait_until(Duration::from_secs(5), || self.processes().is_empty());
        left.extend(
            self.processes()
                .into_iter()
                .map(|pid| format!("process {}", describe(pid))),
        );
        left.extend(
            mounts_under(self.root())
                .into_iter()
                .map(|mount| format!("mount {mount}")),
        );
        for name in self.names.borrow().iter() {
            let netns = Path::new("/run/netns").join(name);
            if is_mounted(&netns) || netns.exists() {
                left.push(format!("{}", netns.display()));
            }
        }
        left.extend(
            self.root
                .entries()
                .into_iter()
                .map(|e| format!("{e} in the root")),
        );
        // What containers leave in the runtimes' state and the image store once removed.
        for dir in [
            ".runtimes/runc",
            ".runtimes/crun",
            ".images/layers",
            ".images/images",
        ] {
            if let Ok(entries) = std::fs::read_dir(self.root().join(dir)) {
                left.extend(
                    entries.map(|e| format!("{dir}/{}", e.unwrap().file_name().to_string_lossy())),
                );
            }
        }
        // Pods' cgroups (beside the benchmark's own `bench` leaf), in any hierarchy.
        let name = self.cgroup.file_name().unwrap_or_default().to_owned();
        for root in cgroup_roots() {
            if let Ok(entries) = std::fs::read_dir(root.join(&name)) {
                left.extend(
                    entries
                        .filter_map(|e| e.ok())
                        .filter(|e| e.path().is_dir() && e.file_name() != "bench")
                        .map(|e| format!("cgroup {}", e.path().display())),
                );
            }
        }
        // Pods' lock files (the state root's own, named with a leading dot, stay).
        if let Ok(locks) = std::fs::read_dir(self.root().join(".locks")) {
            left.extend(
                locks
                    .map(|lock| lock.unwrap().file_name().to_string_lossy().into_owned())
                    .filter(|name| !name.starts_with('.'))
                    .map(|name| format!("lock {name}")),
            );
        }
        left
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Only the pods still there: `rm --force` of a thousand removed pods costs seconds.
        let names = self.names.take();
        let present: Vec<&String> = names
            .iter()
            .filter(|name| self.root().join(name).exists())
            .collect();
        if !present.is_empty() {
            progress(&format!("cleanup: rm --force of {} pods", present.len()));
        }
        for name in &present {
            let _ = self.command(&["rm", "--force", name]).output();
        }
        self.names.replace(names);
        let left = self.leftovers();
        // Out of the cgroup, then kill everything in it, then remove it.
        move_self(&self.home);
        let _ = std::fs::write(self.cgroup.join("cgroup.kill"), "1");
        wait_until(Duration::from_secs(10), || self.processes().is_empty());
        // The lab's cgroup in every hierarchy (the pods' made it in the v1 ones too).
        let name = self.cgroup.file_name().unwrap_or_default().to_owned();
        for root in cgroup_roots() {
            for dir in cgroup_tree(&root.join(&name)).into_iter().rev() {
                let _ = std::fs::remove_dir(dir);
            }
        }
        for name in self.names.borrow().iter() {
            let netns = Path::new("/run/netns").join(name);
            let _ = nix::mount::umount2(&netns, nix::mount::MntFlags::MNT_DETACH);
            let _ = std::fs::remove_file(&netns);
        }
        // The root's own drop unmounts and removes what is left under it.
        if !left.is_empty() {
            let message = format!("the benchmark's pods left behind: {left:#?}");
            if std::thread::panicking() {
                progress(&message);
            } else {
                panic!("{message}");
            }
        }
    }
}
