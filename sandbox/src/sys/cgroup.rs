//! Control groups through cgroupfs, on the three kinds of host:
//!
//! - **unified** (cgroup v2 only, at `/sys/fs/cgroup`): one tree; limits, membership,
//!   `cgroup.kill` and `cgroup.events` all live in it;
//! - **hybrid** (v1 controllers, plus a cgroup2 tree at `/sys/fs/cgroup/unified` that owns few or
//!   no controllers, like this project's test machine): a cgroup is a directory of the same path
//!   in every tree. Limits go to the v1 controller that has them; membership, `cgroup.kill` and
//!   `cgroup.events` use the cgroup2 tree, which has them whatever it owns (runc joins it too);
//! - **legacy** (v1 only): as hybrid, without the cgroup2 tree, so no `cgroup.kill` and no
//!   `cgroup.events`.
//!
//! A limit is written where its controller is: in the cgroup2 tree if that tree owns it
//! (`cgroup.controllers` of its root), else in the v1 hierarchy of that name. Why not a crate:
//! `cgroups-rs` and youki's `libcgroups` treat a hybrid host as v1 alone, and would leave
//! `cgroup.kill` and `cgroup.events` unused on exactly the hosts that need them (ARCHITECTURE.md).
//!
//! Traps handled here: a new v1 cpuset cgroup has empty `cpuset.cpus` and `cpuset.mems`, and
//! refuses every process (ENOSPC) until they are copied from its parent; on cgroup v2 a
//! controller must be enabled in the parent's `cgroup.subtree_control` before a child can use
//! it, and a cgroup that enables controllers for its children may hold no process itself (so a
//! pod's processes live in leaves below the pod's cgroup).
//!
//! The hierarchies come from mount information, so tests and other roots can pass their own.

use std::io::ErrorKind;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};

use crate::error::{Context, Error, Result};
use crate::limits::{CPU_PERIOD_US, Limits};

/// The controllers whose limits `sandbox` sets, by their names in both versions.
const LIMITED: [&str; 3] = ["memory", "cpu", "pids"];

/// One mounted cgroup v1 hierarchy.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Legacy {
    /// Where it is mounted.
    mount: PathBuf,
    /// Its controllers (`cpu`, `cpuacct`, ...), and `name=systemd` for a named hierarchy.
    controllers: Vec<String>,
}

/// What a cgroup and everything below it use, as the kernel counts it. A figure the host's
/// hierarchies do not keep is `None`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Usage {
    /// Memory in use now, in bytes (page cache included, as the kernel charges it).
    pub memory_bytes: Option<u64>,
    /// The most memory it has used, in bytes (`memory.peak`, Linux 5.19, or v1's
    /// `max_usage_in_bytes`).
    pub memory_peak_bytes: Option<u64>,
    /// CPU time used, in microseconds.
    pub cpu_usec: Option<u64>,
    /// Tasks (processes and threads) in it.
    pub pids: Option<u64>,
    /// Processes the OOM killer ended for going over its memory limit.
    pub oom_kills: u64,
}

/// Which kind of host this is (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// cgroup v2 only.
    Unified,
    /// v1 controllers and a cgroup2 tree.
    Hybrid,
    /// v1 only.
    Legacy,
}

/// The cgroup hierarchies mounted on the host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hierarchies {
    /// The cgroup2 tree, if one is mounted.
    unified: Option<PathBuf>,
    /// The controllers the cgroup2 tree owns (its root's `cgroup.controllers`), read once.
    unified_controllers: Vec<String>,
    /// The v1 hierarchies.
    legacy: Vec<Legacy>,
}

impl Hierarchies {
    /// The hierarchies this process sees (`/proc/self/mountinfo`).
    pub fn of_host() -> Result<Hierarchies> {
        let text = std::fs::read_to_string("/proc/self/mountinfo")
            .context(|| "reading /proc/self/mountinfo for the cgroup hierarchies")?;
        let mut hierarchies = Hierarchies::from_mountinfo(&text)?;
        if let Some(root) = &hierarchies.unified {
            let file = root.join("cgroup.controllers");
            let owned =
                std::fs::read_to_string(&file).context(|| format!("reading {}", file.display()))?;
            hierarchies.unified_controllers = owned.split_whitespace().map(str::to_owned).collect();
        }
        Ok(hierarchies)
    }

    /// The hierarchies a `/proc/PID/mountinfo` text names: every `cgroup2` mount's first, and
    /// each `cgroup` mount of a hierarchy's root (with no controller known to be owned by the
    /// cgroup2 tree: [`Hierarchies::of_host`] reads that). Mounts of a part of a hierarchy (a container's
    /// view) are not used.
    pub fn from_mountinfo(text: &str) -> Result<Hierarchies> {
        let mut unified = None;
        let mut legacy: Vec<Legacy> = Vec::new();
        for line in text.lines() {
            // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER
            let Some((before, after)) = line.split_once(" - ") else {
                continue;
            };
            let fields: Vec<&str> = before.split(' ').collect();
            let after: Vec<&str> = after.split(' ').collect();
            let (Some(&root), Some(&mount), Some(&fstype)) =
                (fields.get(3), fields.get(4), after.first())
            else {
                continue;
            };
            if root != "/" {
                continue;
            }
            let mount = PathBuf::from(unescape_mountinfo(mount));
            match fstype {
                "cgroup2" if unified.is_none() => unified = Some(mount),
                "cgroup" => {
                    let controllers: Vec<String> = after
                        .get(2)
                        .unwrap_or(&"")
                        .split(',')
                        .filter(|option| {
                            !matches!(*option, "rw" | "ro") && !option.starts_with("clone_children")
                        })
                        .map(str::to_owned)
                        .collect();
                    let known = legacy.iter().any(|l| l.controllers == controllers);
                    if !controllers.is_empty() && !known {
                        legacy.push(Legacy { mount, controllers });
                    }
                }
                _ => {}
            }
        }
        if unified.is_none() && legacy.is_empty() {
            return Err(Error::Unsupported {
                what: "cgroups".to_owned(),
                reason: "no cgroup file system is mounted (neither cgroup2 nor cgroup v1)"
                    .to_owned(),
            });
        }
        Ok(Hierarchies {
            unified,
            unified_controllers: Vec::new(),
            legacy,
        })
    }

    /// Which kind of host this is.
    pub fn mode(&self) -> Mode {
        match (&self.unified, self.legacy.is_empty()) {
            (Some(_), true) => Mode::Unified,
            (Some(_), false) => Mode::Hybrid,
            (None, _) => Mode::Legacy,
        }
    }

    /// The cgroup at `path` (relative to every hierarchy's root; see [`check_path`]).
    pub fn cgroup(&self, path: &Path) -> Cgroup<'_> {
        Cgroup {
            hierarchies: self,
            path: path.to_path_buf(),
        }
    }

    /// Whether the cgroup2 tree owns `controller` (its root's `cgroup.controllers` lists it).
    fn unified_owns(&self, controller: &str) -> bool {
        self.unified_controllers.iter().any(|c| c == controller)
    }

    /// The v1 hierarchy that tracks membership where there is no cgroup2 tree: the freezer's
    /// (its freeze-kill-thaw is the only race-free kill there), else the first.
    fn membership_legacy(&self) -> Option<&Legacy> {
        self.legacy_of("freezer").or(self.legacy.first())
    }

    /// The v1 hierarchy of `controller`, if one is mounted.
    fn legacy_of(&self, controller: &str) -> Option<&Legacy> {
        self.legacy
            .iter()
            .find(|l| l.controllers.iter().any(|c| c == controller))
    }

    /// Every tree's root: the cgroup2 tree first, then each v1 hierarchy.
    fn roots(&self) -> impl Iterator<Item = &Path> {
        self.unified
            .iter()
            .map(PathBuf::as_path)
            .chain(self.legacy.iter().map(|l| l.mount.as_path()))
    }
}

/// Checks a cgroup path given by a user (`--cgroup-parent`): relative to the hierarchies'
/// roots (a leading `/` is allowed and means the same), made of names, at most 16 of them.
pub fn check_path(text: &str) -> std::result::Result<PathBuf, String> {
    let relative = text.trim_start_matches('/');
    let path = Path::new(relative);
    let names: Vec<&str> = relative.split('/').collect();
    if relative.is_empty() || names.len() > 16 {
        return Err(
            "expected a path of 1 to 16 cgroup names, such as sandbox or kubepods/burstable".into(),
        );
    }
    for name in &names {
        let bad = name.is_empty()
            || *name == "."
            || *name == ".."
            || name.starts_with("cgroup.")
            || name.len() > 200
            || name.chars().any(|c| c.is_control());
        if bad {
            return Err(format!(
                "{name:?} is not a cgroup name (no empty, '.' or '..' part, no 'cgroup.' prefix)"
            ));
        }
    }
    debug_assert!(path.components().all(|c| matches!(c, Component::Normal(_))));
    Ok(path.to_path_buf())
}

/// `\040` and friends in mountinfo paths.
fn unescape_mountinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            let code: String = chars.clone().take(3).collect();
            if let Ok(byte) = u8::from_str_radix(&code, 8) {
                out.push(char::from(byte));
                chars.nth(2);
                continue;
            }
        }
        out.push(c);
    }
    out
}

/// A cgroup: a directory of the same relative path in every hierarchy.
#[derive(Clone, Debug)]
pub struct Cgroup<'h> {
    hierarchies: &'h Hierarchies,
    path: PathBuf,
}

impl Cgroup<'_> {
    /// Its path, relative to each hierarchy's root.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its directory in the cgroup2 tree, if there is one.
    pub fn unified_dir(&self) -> Option<PathBuf> {
        self.hierarchies
            .unified
            .as_ref()
            .map(|root| root.join(&self.path))
    }

    /// The cgroups right below it, by the tree that tracks membership (the cgroup2 tree, else
    /// the v1 freezer); none if it does not exist.
    pub fn children(&self) -> Result<Vec<Self>> {
        let root = match (
            &self.hierarchies.unified,
            self.hierarchies.membership_legacy(),
        ) {
            (Some(unified), _) => unified,
            (None, Some(legacy)) => &legacy.mount,
            (None, None) => return Ok(Vec::new()),
        };
        Ok(subdirectories(&root.join(&self.path))?
            .into_iter()
            .filter_map(|dir| {
                let name = dir.file_name()?.to_str()?.to_owned();
                Some(self.child(&name))
            })
            .collect())
    }

    /// A child of it.
    pub fn child(&self, name: &str) -> Self {
        Cgroup {
            hierarchies: self.hierarchies,
            path: self.path.join(name),
        }
    }

    /// Makes it, and its missing ancestors, in the cgroup2 tree and in the v1 hierarchies that
    /// enforce `limits` (this cgroup's and its ancestors', see [`Cgroup::attach_legacy`]): a
    /// cgroup in a v1 hierarchy that none of its processes join would only cost `mkdir`s. On
    /// the cgroup2 tree it enables the limited controllers the tree owns for every new level's
    /// children; new v1 cpuset cgroups get `cpuset.cpus` and `cpuset.mems` from their parent.
    pub fn create(&self, limits: &Limits) -> Result<()> {
        let roots: Vec<&Path> = self
            .hierarchies
            .unified
            .iter()
            .map(PathBuf::as_path)
            .chain(
                self.legacy_for(limits)
                    .into_iter()
                    .map(|l| l.mount.as_path()),
            )
            .collect();
        // On a hybrid host the cgroup2 tree owns none of them: nothing to enable.
        let enables = LIMITED.iter().any(|c| self.hierarchies.unified_owns(c));
        for root in roots {
            let enable_here = enables && Some(root) == self.hierarchies.unified.as_deref();
            let is_cpuset = self
                .hierarchies
                .legacy_of("cpuset")
                .is_some_and(|l| l.mount == root);
            let mut dir = root.to_path_buf();
            for name in self.path.iter() {
                if enable_here {
                    enable_controllers(&dir)?;
                }
                let parent = dir.clone();
                dir.push(name);
                match std::fs::create_dir(&dir) {
                    Ok(()) => {
                        if is_cpuset {
                            for file in ["cpuset.cpus", "cpuset.mems"] {
                                copy_if_empty(&parent.join(file), &dir.join(file))?;
                            }
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
                    Err(e) => {
                        return Err(e).context(|| format!("creating cgroup {}", dir.display()));
                    }
                }
            }
        }
        Ok(())
    }

    /// Writes `limits` where each controller is (see the module docs); a limit left `None`
    /// is left as it is (unlimited in a new cgroup).
    pub fn set_limits(&self, limits: &Limits) -> Result<()> {
        let h = self.hierarchies;
        if let Some(bytes) = limits.memory_bytes {
            if h.unified_owns("memory") {
                self.write_unified("memory.max", &bytes.to_string())?;
                // Without swap, the limit means what it says (as the kubelet sets it).
                self.write_unified_if_present("memory.swap.max", "0")?;
            } else {
                self.write_legacy("memory", "memory.limit_in_bytes", &bytes.to_string())?;
            }
        }
        if let Some(quota) = limits.cpu_quota_us() {
            if h.unified_owns("cpu") {
                self.write_unified("cpu.max", &format!("{quota} {CPU_PERIOD_US}"))?;
            } else {
                self.write_legacy("cpu", "cpu.cfs_period_us", &CPU_PERIOD_US.to_string())?;
                self.write_legacy("cpu", "cpu.cfs_quota_us", &quota.to_string())?;
            }
        }
        if let Some(pids) = limits.pids {
            if h.unified_owns("pids") {
                self.write_unified("pids.max", &pids.to_string())?;
            } else {
                self.write_legacy("pids", "pids.max", &pids.to_string())?;
            }
        }
        Ok(())
    }

    /// Opens its cgroup2 directory, for `clone3(CLONE_INTO_CGROUP)`.
    pub fn open_unified(&self) -> Result<Option<OwnedFd>> {
        let Some(dir) = self.unified_dir() else {
            return Ok(None);
        };
        let file = std::fs::File::open(&dir)
            .context(|| format!("opening cgroup {} to start a process in it", dir.display()))?;
        Ok(Some(OwnedFd::from(file)))
    }

    /// Moves process `pid` into it in the v1 hierarchies that enforce `limits` (the cgroup2 tree
    /// is left to `CLONE_INTO_CGROUP`, or to [`Cgroup::attach`]): the memory one for a memory
    /// limit, and so on; `limits` are those of this cgroup and its ancestors. Only those: each
    /// v1 migration waits for an RCU grace period of the kernel's (8 ms on the test machine, a
    /// 2-CPU VM), while the cgroup2 tree already gives membership, `cgroup.kill`,
    /// `cgroup.events` and CPU time at birth, for free.
    pub fn attach_legacy(&self, pid: i32, limits: &Limits) -> Result<()> {
        for legacy in self.legacy_for(limits) {
            let procs = legacy.mount.join(&self.path).join("cgroup.procs");
            std::fs::write(&procs, pid.to_string())
                .context(|| format!("moving process {pid} into {}", procs.display()))?;
        }
        Ok(())
    }

    /// The v1 hierarchies that enforce `limits` (those of controllers the cgroup2 tree does not
    /// own), and on a host without a cgroup2 tree the one that tracks membership, which every
    /// process joins.
    fn legacy_for(&self, limits: &Limits) -> Vec<&Legacy> {
        let needed = [
            ("memory", limits.memory_bytes.is_some()),
            ("cpu", limits.millicpus.is_some()),
            ("pids", limits.pids.is_some()),
        ];
        let mut hierarchies: Vec<&Legacy> = Vec::new();
        if self.hierarchies.unified.is_none() {
            hierarchies.extend(self.hierarchies.membership_legacy());
        }
        for (controller, needed) in needed {
            if !needed || self.hierarchies.unified_owns(controller) {
                continue;
            }
            if let Some(legacy) = self.hierarchies.legacy_of(controller)
                && !hierarchies.iter().any(|h| h.mount == legacy.mount)
            {
                hierarchies.push(legacy);
            }
        }
        hierarchies
    }

    /// Moves process `pid` into it in every hierarchy where it was made.
    pub fn attach(&self, pid: i32) -> Result<()> {
        for root in self.hierarchies.roots() {
            let dir = root.join(&self.path);
            if !dir.is_dir() {
                continue;
            }
            let procs = dir.join("cgroup.procs");
            std::fs::write(&procs, pid.to_string())
                .context(|| format!("moving process {pid} into {}", procs.display()))?;
        }
        Ok(())
    }

    /// The processes in it and below it, from the tree that tracks membership (the cgroup2
    /// tree, else the v1 freezer); empty if it does not exist.
    pub fn processes(&self) -> Result<Vec<i32>> {
        let root = match (
            &self.hierarchies.unified,
            self.hierarchies.membership_legacy(),
        ) {
            (Some(unified), _) => unified.clone(),
            (None, Some(legacy)) => legacy.mount.clone(),
            (None, None) => return Ok(Vec::new()),
        };
        let mut pids = Vec::new();
        let mut pending = vec![root.join(&self.path)];
        while let Some(dir) = pending.pop() {
            let procs = match std::fs::read_to_string(dir.join("cgroup.procs")) {
                Ok(procs) => procs,
                Err(e) if e.kind() == ErrorKind::NotFound => continue,
                Err(e) => {
                    return Err(e).context(|| format!("reading {}/cgroup.procs", dir.display()));
                }
            };
            pids.extend(procs.lines().filter_map(|line| line.parse::<i32>().ok()));
            pending.extend(subdirectories(&dir)?);
        }
        pids.sort_unstable();
        Ok(pids)
    }

    /// Kills everything in it and below it so that no process can fork away: at once with
    /// `cgroup.kill` (Linux 5.14, cgroup2 tree), else by freezing it in the v1 freezer,
    /// SIGKILLing every member and thawing it. `false` when the host has neither.
    pub fn kill(&self) -> Result<bool> {
        if let Some(dir) = self.unified_dir() {
            let kill = dir.join("cgroup.kill");
            match std::fs::write(&kill, "1") {
                Ok(()) => return Ok(true),
                // Gone: nothing left to kill.
                Err(e) if e.kind() == ErrorKind::NotFound && !dir.exists() => return Ok(true),
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(e)
                        .context(|| format!("killing the processes of {}", kill.display()));
                }
            }
        }
        self.freeze_and_kill()
    }

    /// The v1 way to kill a cgroup's processes without a race: freeze it (a frozen process
    /// cannot fork), SIGKILL each member (delivered once thawed), thaw it.
    fn freeze_and_kill(&self) -> Result<bool> {
        let Some(freezer) = self.hierarchies.legacy_of("freezer") else {
            return Ok(false);
        };
        let state = freezer.mount.join(&self.path).join("freezer.state");
        if !state.exists() {
            return Ok(true);
        }
        write_control(&state, "FROZEN")?;
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let now = std::fs::read_to_string(&state)
                .context(|| format!("reading {}", state.display()))?;
            if now.trim() == "FROZEN" || Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let mut pids = Vec::new();
        let mut pending = vec![freezer.mount.join(&self.path)];
        while let Some(dir) = pending.pop() {
            let procs = std::fs::read_to_string(dir.join("cgroup.procs"))
                .context(|| format!("reading {}/cgroup.procs", dir.display()))?;
            pids.extend(procs.lines().filter_map(|line| line.parse::<i32>().ok()));
            pending.extend(subdirectories(&dir)?);
        }
        for pid in pids {
            // A member that is gone already is fine.
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        write_control(&state, "THAWED")?;
        Ok(true)
    }

    /// Waits up to `timeout` until nothing is left in it or below it, woken by `cgroup.events`
    /// (`populated 0`); `true` once it is empty (or gone). Without a cgroup2 tree, it checks
    /// [`Cgroup::processes`] every 10 ms instead.
    pub fn wait_empty(&self, timeout: Duration) -> Result<bool> {
        let deadline = Instant::now() + timeout;
        let Some(dir) = self.unified_dir() else {
            loop {
                if self.processes()?.is_empty() {
                    return Ok(true);
                }
                if Instant::now() >= deadline {
                    return Ok(false);
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        };
        let events = dir.join("cgroup.events");
        let inotify = Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK)
            .context(|| "creating an inotify instance to watch a cgroup")?;
        match inotify.add_watch(&events, AddWatchFlags::IN_MODIFY) {
            Ok(_) => {}
            Err(nix::errno::Errno::ENOENT) => return Ok(true),
            Err(e) => return Err(e).context(|| format!("watching {}", events.display())),
        }
        loop {
            match std::fs::read_to_string(&events) {
                Ok(text) if text.lines().any(|line| line == "populated 0") => return Ok(true),
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::NotFound => return Ok(true),
                Err(e) => return Err(e).context(|| format!("reading {}", events.display())),
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            let millis = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
            let mut fds = [PollFd::new(inotify.as_fd(), PollFlags::POLLIN)];
            poll(&mut fds, PollTimeout::from(millis))
                .context(|| format!("waiting for {} to change", events.display()))?;
            // Drain the events; the file is read again at the top.
            while let Ok(read) = inotify.read_events() {
                if read.is_empty() {
                    break;
                }
            }
        }
    }

    /// What it uses now (see [`Usage`]); all `None` (and 0) for a cgroup that is not there.
    pub fn usage(&self) -> Result<Usage> {
        let h = self.hierarchies;
        let number = |path: Option<PathBuf>| -> Result<Option<u64>> {
            let Some(path) = path else {
                return Ok(None);
            };
            match std::fs::read_to_string(&path) {
                Ok(text) => Ok(text.trim().parse().ok()),
                Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e).context(|| format!("reading {}", path.display())),
            }
        };
        let v1 = |controller: &str, file: &str| {
            h.legacy_of(controller)
                .map(|legacy| legacy.mount.join(&self.path).join(file))
        };
        let v2 = |file: &str| self.unified_dir().map(|dir| dir.join(file));
        // A v1 hierarchy holds the cgroup's processes only where a limit put them (see
        // `attach_legacy`, and runtimes join them all): a count of 0 there means "not tracked".
        let tracked = |value: Option<u64>| value.filter(|value| *value > 0);
        let (memory, peak) = if h.unified_owns("memory") {
            (number(v2("memory.current"))?, number(v2("memory.peak"))?)
        } else {
            let memory = tracked(number(v1("memory", "memory.usage_in_bytes"))?);
            let peak = number(v1("memory", "memory.max_usage_in_bytes"))?;
            (memory, peak.filter(|_| memory.is_some()))
        };
        let pids = if h.unified_owns("pids") {
            number(v2("pids.current"))?
        } else {
            match tracked(number(v1("pids", "pids.current"))?) {
                Some(pids) => Some(pids),
                None if h.unified.is_some() => Some(self.processes()?.len() as u64),
                None => None,
            }
        };
        // cpu.stat's usage_usec is in every cgroup2 directory, whoever owns `cpu`; v1 cpuacct
        // counts where a runtime put the processes there (crun on a hybrid host leaves their
        // cgroup2 membership in the pod's runtime leaf).
        let cpu_stat = match v2("cpu.stat") {
            Some(path) => match std::fs::read_to_string(&path) {
                Ok(text) => text
                    .lines()
                    .find_map(|line| line.strip_prefix("usage_usec "))
                    .and_then(|usec| usec.trim().parse().ok()),
                Err(e) if e.kind() == ErrorKind::NotFound => None,
                Err(e) => return Err(e).context(|| format!("reading {}", path.display())),
            },
            None => None,
        };
        let cpuacct = tracked(number(v1("cpuacct", "cpuacct.usage"))?).map(|ns| ns / 1000);
        let cpu_usec = cpuacct.or(cpu_stat);
        Ok(Usage {
            memory_bytes: memory,
            memory_peak_bytes: peak,
            cpu_usec,
            pids,
            oom_kills: self.oom_kills()?,
        })
    }

    /// How many times the kernel's OOM killer killed a process in it for going over its memory
    /// limit (`oom_kill` of `memory.events`, or of v1's `memory.oom_control`); 0 when it or the
    /// counter is not there.
    pub fn oom_kills(&self) -> Result<u64> {
        let file = if self.hierarchies.unified_owns("memory") {
            self.unified_dir().map(|dir| dir.join("memory.events"))
        } else {
            self.hierarchies
                .legacy_of("memory")
                .map(|legacy| legacy.mount.join(&self.path).join("memory.oom_control"))
        };
        let Some(file) = file else {
            return Ok(0);
        };
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e).context(|| format!("reading {}", file.display())),
        };
        Ok(text
            .lines()
            .find_map(|line| line.strip_prefix("oom_kill "))
            .and_then(|count| count.trim().parse().ok())
            .unwrap_or(0))
    }

    /// Removes it (and the cgroups below it, deepest first) from every hierarchy; a cgroup
    /// that is not there is fine. It must hold no process: the kernel refuses (EBUSY).
    pub fn remove(&self) -> Result<()> {
        for root in self.hierarchies.roots() {
            remove_tree(&root.join(&self.path))?;
        }
        Ok(())
    }

    fn write_unified(&self, file: &str, value: &str) -> Result<()> {
        let Some(dir) = self.unified_dir() else {
            return Ok(());
        };
        write_control(&dir.join(file), value)
    }

    fn write_unified_if_present(&self, file: &str, value: &str) -> Result<()> {
        match self.unified_dir().map(|dir| dir.join(file)) {
            Some(path) if path.exists() => write_control(&path, value),
            _ => Ok(()),
        }
    }

    fn write_legacy(&self, controller: &str, file: &str, value: &str) -> Result<()> {
        let Some(legacy) = self.hierarchies.legacy_of(controller) else {
            return Err(Error::Unsupported {
                what: format!("a {controller} limit"),
                reason: format!("the host has no {controller} cgroup controller mounted"),
            });
        };
        write_control(&legacy.mount.join(&self.path).join(file), value)
    }
}

/// Writes `value` to the control file `path`.
fn write_control(path: &Path, value: &str) -> Result<()> {
    std::fs::write(path, value).context(|| format!("writing {value:?} to {}", path.display()))
}

/// Copies a v1 cpuset file from a parent cgroup into a new child whose file is still empty.
fn copy_if_empty(from: &Path, to: &Path) -> Result<()> {
    let current = std::fs::read_to_string(to).context(|| format!("reading {}", to.display()))?;
    if !current.trim().is_empty() {
        return Ok(());
    }
    let value = std::fs::read_to_string(from).context(|| format!("reading {}", from.display()))?;
    write_control(to, value.trim())
}

/// Enables, for the children of cgroup2 directory `dir`, the limited controllers it has.
fn enable_controllers(dir: &Path) -> Result<()> {
    let available = std::fs::read_to_string(dir.join("cgroup.controllers"))
        .context(|| format!("reading {}/cgroup.controllers", dir.display()))?;
    let enabled = std::fs::read_to_string(dir.join("cgroup.subtree_control"))
        .context(|| format!("reading {}/cgroup.subtree_control", dir.display()))?;
    let wanted: Vec<String> = LIMITED
        .iter()
        .filter(|c| available.split_whitespace().any(|a| a == **c))
        .filter(|c| !enabled.split_whitespace().any(|e| e == **c))
        .map(|c| format!("+{c}"))
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    write_control(&dir.join("cgroup.subtree_control"), &wanted.join(" "))
}

/// The subdirectories of `dir` (child cgroups).
fn subdirectories(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).context(|| format!("listing cgroup {}", dir.display())),
    };
    let mut dirs = Vec::new();
    for entry in entries {
        let entry = entry.context(|| format!("listing cgroup {}", dir.display()))?;
        let kind = entry
            .file_type()
            .context(|| format!("reading the type of {}", entry.path().display()))?;
        if kind.is_dir() {
            dirs.push(entry.path());
        }
    }
    Ok(dirs)
}

/// Removes cgroup directory `dir` and the cgroups below it, deepest first.
fn remove_tree(dir: &Path) -> Result<()> {
    for child in subdirectories(dir)? {
        remove_tree(&child)?;
    }
    match std::fs::remove_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).context(|| format!("removing cgroup {}", dir.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime shared:9 - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
90 41 0:38 /some/container /mnt/view rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn a_hybrid_host_has_both_kinds_of_tree() {
        let h = Hierarchies::from_mountinfo(HYBRID).unwrap();
        assert_eq!(h.mode(), Mode::Hybrid);
        assert_eq!(
            h.unified.as_deref(),
            Some(Path::new("/sys/fs/cgroup/unified"))
        );
        let names: Vec<&str> = h.legacy.iter().map(|l| l.controllers[0].as_str()).collect();
        assert_eq!(names, ["cpu", "cpuset", "memory", "name=systemd"]);
        assert_eq!(
            h.legacy_of("memory").unwrap().mount,
            Path::new("/sys/fs/cgroup/memory")
        );
        let cgroup = h.cgroup(Path::new("sandbox/pod-a"));
        assert_eq!(
            cgroup.child("pause").unified_dir().unwrap(),
            Path::new("/sys/fs/cgroup/unified/sandbox/pod-a/pause")
        );
    }

    #[test]
    fn unified_and_legacy_hosts() {
        let unified = "25 1 0:22 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n";
        assert_eq!(
            Hierarchies::from_mountinfo(unified).unwrap().mode(),
            Mode::Unified
        );
        let legacy = "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n";
        let h = Hierarchies::from_mountinfo(legacy).unwrap();
        assert_eq!(h.mode(), Mode::Legacy);
        assert_eq!(h.legacy[0].controllers, ["cpu", "cpuacct"]);
        assert_eq!(
            h.legacy_of("cpuacct").unwrap().mount,
            Path::new("/sys/fs/cgroup/cpu,cpuacct")
        );
        let none = Hierarchies::from_mountinfo("31 23 0:28 / /tmp rw - tmpfs tmpfs rw\n");
        assert!(matches!(none, Err(Error::Unsupported { .. })));
    }

    #[test]
    fn escaped_mount_points_are_read_back() {
        assert_eq!(unescape_mountinfo(r"/mnt/a\040b"), "/mnt/a b");
        assert_eq!(unescape_mountinfo(r"/plain"), "/plain");
    }

    #[test]
    fn user_paths_are_names_below_the_roots() {
        assert_eq!(check_path("sandbox"), Ok(PathBuf::from("sandbox")));
        assert_eq!(
            check_path("/kubepods/burstable"),
            Ok(PathBuf::from("kubepods/burstable"))
        );
        assert_eq!(
            check_path("system.slice/sandbox.slice"),
            Ok(PathBuf::from("system.slice/sandbox.slice"))
        );
        for bad in [
            "",
            "/",
            "a//b",
            "a/../b",
            "./a",
            "a/cgroup.procs",
            "a/\u{7}",
        ] {
            assert!(check_path(bad).is_err(), "{bad:?}");
        }
    }

    /// A real cgroup under a parent named for this test, in every hierarchy of this host (as
    /// root): limits land in the files of their controllers, a process moved in is listed,
    /// `cgroup.kill` ends it and `cgroup.events` says so, and removal leaves nothing.
    #[test]
    fn a_real_cgroup_limits_holds_kills_and_goes() {
        assert!(
            nix::unistd::geteuid().is_root(),
            "needs root: run as root (CI does)"
        );
        let hierarchies = Hierarchies::of_host().unwrap();
        let parent = hierarchies.cgroup(Path::new(&format!("sandbox-unit-{}", std::process::id())));
        let cgroup = parent.child("pod").child("leaf");
        let limits = Limits {
            memory_bytes: Some(64 << 20),
            millicpus: Some(500),
            pids: Some(7),
        };
        cgroup.create(&limits).unwrap();
        cgroup.create(&limits).unwrap(); // again: nothing to do
        cgroup.set_limits(&limits).unwrap();
        let read = |controller: &str, v2: &str, v1: &str| {
            let path = if hierarchies.unified_owns(controller) {
                cgroup.unified_dir().unwrap().join(v2)
            } else {
                hierarchies
                    .legacy_of(controller)
                    .unwrap()
                    .mount
                    .join(cgroup.path())
                    .join(v1)
            };
            std::fs::read_to_string(path).unwrap().trim().to_owned()
        };
        assert_eq!(
            read("memory", "memory.max", "memory.limit_in_bytes"),
            "67108864"
        );
        assert_eq!(read("pids", "pids.max", "pids.max"), "7");
        let cpu = read("cpu", "cpu.max", "cpu.cfs_quota_us");
        assert!(cpu == "50000 100000" || cpu == "50000", "{cpu}");

        let mut child = std::process::Command::new("sleep")
            .arg("100")
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        cgroup.attach(pid).unwrap();
        assert_eq!(parent.processes().unwrap(), [pid]);
        // In the cgroup2 tree and in the hierarchy of each limited controller, and only there.
        let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
        let expected = format!("/{}", cgroup.path().display());
        for line in own.lines() {
            let controllers = line.split(':').nth(1).unwrap_or_default();
            let limited = controllers.is_empty()
                || controllers
                    .split(',')
                    .any(|c| LIMITED.contains(&c) && !hierarchies.unified_owns(c));
            assert_eq!(line.ends_with(&expected), limited, "{line} (of {own})");
        }
        assert!(parent.kill().unwrap(), "this host has cgroup.kill");
        assert!(parent.wait_empty(Duration::from_secs(10)).unwrap());
        let status = child.wait().unwrap();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(9)
        );
        parent.remove().unwrap();
        for root in hierarchies.roots() {
            assert!(
                !root.join(parent.path()).exists(),
                "{} left",
                root.display()
            );
        }
        parent.remove().unwrap(); // again: nothing to do
    }

    /// The v1 fallback, on this host's freezer hierarchy: a frozen cgroup's members are killed
    /// once thawed.
    #[test]
    fn the_freezer_kills_without_a_cgroup2_tree() {
        assert!(
            nix::unistd::geteuid().is_root(),
            "needs root: run as root (CI does)"
        );
        let host = Hierarchies::of_host().unwrap();
        if host.legacy_of("freezer").is_none() {
            return; // a cgroup v2 host: cgroup.kill is the only way, tested above
        }
        let legacy_only = Hierarchies {
            unified: None,
            unified_controllers: Vec::new(),
            legacy: host.legacy.clone(),
        };
        let cgroup = legacy_only.cgroup(Path::new(&format!(
            "sandbox-freezer-{}",
            std::process::id()
        )));
        cgroup.create(&Limits::default()).unwrap();
        let mut child = std::process::Command::new("sleep")
            .arg("100")
            .spawn()
            .unwrap();
        cgroup.attach(child.id() as i32).unwrap();
        assert_eq!(cgroup.processes().unwrap(), [child.id() as i32]);
        assert!(cgroup.kill().unwrap());
        let status = child.wait().unwrap();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(9)
        );
        assert!(cgroup.wait_empty(Duration::from_secs(10)).unwrap());
        cgroup.remove().unwrap();
    }
}
