//! Pods: create, inspect, list, exec into, stop and remove.
//!
//! `create`: lock → mkdir → record `creating` → clone3 `pause` into new IPC, UTS, NET (and PID)
//! namespaces, setting the hostname and bringing `lo` up in the child → record pause's PID and
//! start time (before the child may exec: see `spawn.rs`) → pin each namespace under `ns/` and
//! the net namespace at `/run/netns/NAME` → record `running`. Any failure tears down what was
//! done, in reverse. A record left in `creating` by a killed CLI is found by the next command
//! that takes the pod's lock (the creator held it throughout, so a `creating` record seen under
//! the lock is orphaned) and torn down the same way.
//!
//! `stop`: containers first (see [`crate::stop`]), then SIGTERM to pause through a verified
//! pidfd; the pins stay until `rm`. `rm`: kill what its records name, then whatever else is in
//! its pinned namespaces (found by `/proc/PID/ns`, see [`namespace::members`]), unpin, remove
//! the directory, remove the lock file.

use std::collections::BTreeMap;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::command::CommandSpec;
use crate::container::{self, ContainerStatus};
use crate::error::{Context, Error, Result};
use crate::host::Host;
use crate::namespace::{self, JOIN_ORDER, NamespaceKind, Pin, Pins};
use crate::process::{self, PidFd, ProcessRecord};
use crate::spawn::Spawn;
use crate::stop::{self, StopReport};
use crate::store::{self, PodLock, validate_name};

const STATE_FILE: &str = "state.json";
/// What `stop` reported for each container, kept so a later `stop` reports the same.
const STOP_REPORT_FILE: &str = "stop.json";
/// How long pause gets to exit after SIGTERM before it is killed.
const PAUSE_STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// Where a pod is in its life, as recorded on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// `create` is (or was, if it died) under way.
    Creating,
    /// Created; pause should be running.
    Running,
    /// Stopped by `stop`; the namespaces stay pinned until `rm`.
    Stopped,
}

/// The pod record, `<root>/<pod>/state.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PodRecord {
    /// Pod name.
    pub name: String,
    /// Hostname inside the pod.
    pub hostname: String,
    /// Whether the pod has its own PID namespace shared by its containers.
    pub share_pid: bool,
    /// Recorded phase.
    pub phase: Phase,
    /// The pause process holding the namespaces, once started.
    pub pause: Option<ProcessRecord>,
    /// Pinned namespaces.
    pub namespaces: Pins,
    /// The `ip netns` pin of the net namespace, once claimed.
    pub netns_path: Option<PathBuf>,
    /// When it was created (RFC 3339, UTC).
    pub created_at: String,
    /// When it was stopped.
    pub stopped_at: Option<String>,
}

/// What `inspect` and `ps --json` show of a pod.
#[derive(Clone, Debug, Serialize)]
pub struct PodStatus {
    /// Pod name.
    pub name: String,
    /// `running`, `stopped`, `exited` (pause died unexpectedly), `creating`, or `failed` (a
    /// create was interrupted).
    pub state: String,
    /// Host PID of pause.
    pub pid: Option<i32>,
    /// Hostname inside the pod.
    pub hostname: String,
    /// Creation time (RFC 3339).
    pub created_at: String,
    /// Stop time (RFC 3339), if stopped.
    pub stopped_at: Option<String>,
    /// Whether the pod shares a PID namespace.
    pub share_pid: bool,
    /// Pinned namespaces: kind → path and inode.
    pub namespaces: BTreeMap<NamespaceKind, Pin>,
    /// Path usable with `ip netns exec`.
    pub netns: Option<PathBuf>,
    /// Why the pod is not in the state it was left in, if so.
    pub reason: Option<String>,
    /// The pod's containers.
    pub containers: Vec<ContainerStatus>,
}

/// Options of `create`.
#[derive(Clone, Debug, Default)]
pub struct CreateOptions {
    /// Pod name.
    pub name: String,
    /// Hostname; the pod name when not given.
    pub hostname: Option<String>,
    /// Give the pod a PID namespace of its own, with pause as PID 1.
    pub share_pid: bool,
}

/// The current time as RFC 3339 UTC with microseconds.
pub(crate) fn now_rfc3339() -> String {
    humantime::format_rfc3339_micros(std::time::SystemTime::now()).to_string()
}

/// Checks a hostname: 1–64 characters, labels of letters, digits and '-' separated by dots.
fn validate_hostname(hostname: &str) -> Result<()> {
    let ok = !hostname.is_empty()
        && hostname.len() <= 64
        && hostname.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidInput {
            what: "hostname",
            value: hostname.to_owned(),
            reason:
                "expected 1-64 characters: letters, digits, '-' and '_' in dot-separated labels"
                    .to_owned(),
        })
    }
}

impl Host {
    pub(crate) fn pod_state_path(&self, name: &str) -> PathBuf {
        self.store.pod_dir(name).join(STATE_FILE)
    }

    /// Reads a pod's record; [`Error::PodNotFound`] if there is none. A directory without a
    /// state file is a `create` that died before writing it or an `rm` that died after removing
    /// it (the file is written first and removed last): it reads as a record in `creating`, so
    /// commands report it as interrupted and `rm` or the next `create` finish it off.
    pub(crate) fn load_pod(&self, name: &str) -> Result<PodRecord> {
        validate_name("sandbox name", name)?;
        let dir = self.store.pod_dir(name);
        match store::read_json(&dir.join(STATE_FILE))? {
            Some(record) => Ok(record),
            None if dir.is_dir() => Ok(self.orphan_record(name)),
            None => Err(Error::PodNotFound(name.to_owned())),
        }
    }

    fn save_pod(&self, record: &PodRecord) -> Result<()> {
        store::write_json(&self.pod_state_path(&record.name), record)
    }

    /// Whether pause of this pod is alive.
    fn pause_alive(&self, record: &PodRecord) -> bool {
        record
            .pause
            .as_ref()
            .is_some_and(|p| p.is_alive(&self.boot_id))
    }

    /// Creates and starts a pod.
    pub fn create_pod(&self, options: &CreateOptions) -> Result<PodStatus> {
        validate_name("sandbox name", &options.name)?;
        let hostname = options
            .hostname
            .clone()
            .unwrap_or_else(|| options.name.clone());
        validate_hostname(&hostname)?;
        let name = options.name.as_str();
        let lock = self.store.lock_pod(name)?;
        self.recover_orphaned_create(name, &lock)?;
        let dir = self.store.pod_dir(name);
        if dir.exists() {
            return Err(Error::PodExists(name.to_owned()));
        }
        let netns_path = self.netns_dir.join(name);
        if netns_path.exists() {
            return Err(Error::UnsafePath {
                path: netns_path,
                reason: format!(
                    "a network namespace named {name:?} already exists (ip netns); choose another name"
                ),
            });
        }
        self.store.create_private_dir(&dir)?;
        let mut record = PodRecord {
            name: name.to_owned(),
            hostname,
            share_pid: options.share_pid,
            phase: Phase::Creating,
            pause: None,
            namespaces: Pins::new(),
            netns_path: None,
            created_at: now_rfc3339(),
            stopped_at: None,
        };
        let started = self
            .save_pod(&record)
            .and_then(|()| self.start_pod(&mut record));
        if let Err(error) = started {
            if let Err(teardown) = self.teardown(&record) {
                log::warn!("rolling back sandbox {name:?} after a failed create: {teardown}");
            }
            return Err(error);
        }
        drop(lock);
        self.inspect_pod(name)
    }

    /// Starts pause in new namespaces and pins them; updates `record` as it goes.
    fn start_pod(&self, record: &mut PodRecord) -> Result<()> {
        let dir = self.store.pod_dir(&record.name);
        self.store.create_private_dir(&dir.join("ns"))?;
        self.store
            .create_private_dir(&dir.join(container::CONTAINERS_DIR))?;
        let mut kinds = vec![NamespaceKind::Ipc, NamespaceKind::Uts, NamespaceKind::Net];
        if record.share_pid {
            kinds.push(NamespaceKind::Pid);
        }
        let dev_null = open_dev_null()?;
        let pause_log = container::open_log(&dir.join("pause.log"))?;
        let pause = Spawn::new(&self.pause, std::iter::empty::<&str>(), &[])?
            .new_namespaces(NamespaceKind::flags_of(&kinds))
            .hostname(&record.hostname)?
            .loopback_up()
            .new_session()
            .cwd("/")?
            .stdio([
                Some(dev_null.as_fd()),
                Some(dev_null.as_fd()),
                Some(pause_log.as_fd()),
            ])
            // Recorded before it may run, so a successor finds and kills it if we die from here
            // on; if we die before, it exits without running.
            .spawn_recorded(|pause| {
                let pid = pause.pid();
                let log = dir.join("pause.log");
                record.pause =
                    Some(
                        ProcessRecord::of(pid, &self.boot_id).ok_or_else(|| Error::Os {
                            what: format!("pid {pid} exited at once (see {})", log.display()),
                            source: nix::errno::Errno::ESRCH,
                        })?,
                    );
                self.save_pod(record)
            })
            .map_err(|e| {
                with_context(e, &format!("starting pause for sandbox {:?}", record.name))
            })?;
        let pid = pause.pid();
        log::debug!("sandbox {:?}: pause is pid {pid}", record.name);
        for kind in kinds {
            let pin = namespace::pin(
                &pause,
                kind,
                &dir.join("ns").join(kind.proc_name()),
                &record.name,
            )?;
            record.namespaces.insert(kind, pin);
        }
        namespace::ensure_shared_mount(&self.netns_dir)?;
        let netns_path = self.netns_dir.join(&record.name);
        record.netns_path = Some(netns_path.clone());
        self.save_pod(record)?;
        if let Err(error) = namespace::pin(&pause, NamespaceKind::Net, &netns_path, &record.name) {
            // Whatever is at the path now is not ours (pin removes its own half-made file): the
            // rollback must not unmount it, e.g. an `ip netns add` of the same name meanwhile.
            record.netns_path = None;
            return Err(error);
        }
        record.phase = Phase::Running;
        self.save_pod(record)
    }

    /// If `name` was left half-created by a command that died, tear it down. Must hold its lock.
    fn recover_orphaned_create(&self, name: &str, _lock: &PodLock) -> Result<()> {
        let dir = self.store.pod_dir(name);
        if !dir.exists() {
            return Ok(());
        }
        let record: Option<PodRecord> = match store::read_json(&dir.join(STATE_FILE)) {
            Ok(record) => record,
            Err(_) => return Ok(()), // a corrupt pod is left for `rm --force`
        };
        match record {
            Some(record) if record.phase == Phase::Creating => {
                log::warn!(
                    "sandbox {name:?} was left half-created by a command that died; removing it"
                );
                self.teardown(&record)
            }
            // The directory exists but the record was never written: the creator died between.
            None => self.teardown(&self.orphan_record(name)),
            Some(_) => Ok(()),
        }
    }

    /// Kills every process of the pod, unpins its namespaces and removes its state directory.
    /// Tolerates a partial pod (any step may never have happened).
    fn teardown(&self, record: &PodRecord) -> Result<()> {
        let dir = self.store.pod_dir(&record.name);
        container::kill_all(self, &record.name)?;
        if let Some(pause) = &record.pause {
            if let Some(pidfd) = pause.open(&self.boot_id)? {
                pidfd.send_signal(libc::SIGKILL)?;
                process::wait_all(&[&pidfd], PAUSE_STOP_TIMEOUT)?;
            }
        }
        self.kill_namespace_members(&record.name, &JOIN_ORDER)?;
        for kind in JOIN_ORDER {
            namespace::unpin(&dir.join("ns").join(kind.proc_name()))?;
        }
        if let Some(netns_path) = &record.netns_path {
            namespace::unpin(netns_path)?;
        }
        remove_pod_dir(&dir)
    }

    /// SIGKILLs every process still in one of the pod's pinned namespaces and waits for them:
    /// those no record names any more (a corrupt or lost state file, a recycled PID in one) or
    /// never named (orphans of a container), which would otherwise outlive the pod unseen.
    fn kill_namespace_members(&self, name: &str, kinds: &[NamespaceKind]) -> Result<()> {
        let ns_dir = self.store.pod_dir(name).join("ns");
        let mut pidfds = Vec::new();
        for &kind in kinds {
            let Some(inode) = namespace::pinned_inode(&ns_dir.join(kind.proc_name()))? else {
                continue;
            };
            for member in namespace::members(kind, inode, &self.boot_id) {
                if let Some(pidfd) = member.open(&self.boot_id)? {
                    log::debug!(
                        "sandbox {name:?}: killing pid {} in its {kind} namespace",
                        member.pid
                    );
                    pidfd.send_signal(libc::SIGKILL)?;
                    pidfds.push(pidfd);
                }
            }
        }
        let pidfds: Vec<&PidFd> = pidfds.iter().collect();
        if let Some(survivor) = process::wait_all(&pidfds, PAUSE_STOP_TIMEOUT)?.first() {
            return Err(Error::Os {
                what: format!(
                    "killing the processes in the namespaces of sandbox {name:?}: pid {} survived SIGKILL",
                    survivor.pid()
                ),
                source: nix::errno::Errno::ETIMEDOUT,
            });
        }
        Ok(())
    }

    /// A pod's status for `inspect`.
    pub fn inspect_pod(&self, name: &str) -> Result<PodStatus> {
        let record = self.load_pod(name)?;
        let containers = container::statuses(self, &record)?;
        let (state, reason) = match record.phase {
            // The creator holds the lock throughout; a free lock means it died.
            Phase::Creating if self.store.try_lock_pod(name)?.is_some() => (
                "failed",
                Some(if self.pod_state_path(name).exists() {
                    format!("its create was interrupted; `sandbox rm {name}` removes what was left")
                } else {
                    format!(
                        "a create or rm of it was interrupted (it has no state file); \
                         `sandbox rm {name}` removes what was left"
                    )
                }),
            ),
            Phase::Creating => ("creating", None),
            Phase::Stopped => ("stopped", None),
            Phase::Running if self.pause_alive(&record) => ("running", None),
            Phase::Running => (
                "exited",
                Some(format!(
                    "pause (pid {}) exited without `sandbox stop`",
                    record.pause.as_ref().map_or(0, |p| p.pid)
                )),
            ),
        };
        Ok(PodStatus {
            name: record.name.clone(),
            state: state.to_owned(),
            pid: record.pause.as_ref().map(|p| p.pid),
            hostname: record.hostname.clone(),
            created_at: record.created_at.clone(),
            stopped_at: record.stopped_at.clone(),
            share_pid: record.share_pid,
            namespaces: record.namespaces.clone(),
            netns: record.netns_path.clone(),
            reason,
            containers,
        })
    }

    /// Every pod's status, sorted by name. A pod whose state cannot be read is listed with
    /// state `unknown` and the error as its reason, so one bad pod does not hide the others.
    pub fn list_pods(&self) -> Result<Vec<PodStatus>> {
        let mut pods = Vec::new();
        for name in self.store.pod_names()? {
            match self.inspect_pod(&name) {
                Ok(status) => pods.push(status),
                Err(Error::PodNotFound(_)) => {} // removed while we listed
                Err(error) => pods.push(PodStatus::unreadable(&name, &error)),
            }
        }
        Ok(pods)
    }

    /// Opens the pod's pinned namespaces in join order, after checking that the pod is running.
    pub(crate) fn open_namespaces(
        &self,
        record: &PodRecord,
    ) -> Result<Vec<(std::fs::File, NamespaceKind)>> {
        self.require_running(record)?;
        JOIN_ORDER
            .into_iter()
            .filter_map(|kind| record.namespaces.get(&kind).map(|pin| (kind, pin)))
            .map(|(kind, pin)| namespace::open_pinned(kind, pin).map(|file| (file, kind)))
            .collect()
    }

    pub(crate) fn require_running(&self, record: &PodRecord) -> Result<()> {
        if record.phase == Phase::Running && self.pause_alive(record) {
            return Ok(());
        }
        let state = match record.phase {
            Phase::Creating => "being created",
            Phase::Stopped => "stopped",
            Phase::Running => "exited (pause died)",
        };
        Err(Error::PodNotRunning {
            pod: record.name.clone(),
            state: state.to_owned(),
        })
    }

    /// Starts `command` in the foreground inside the pod's namespaces, through pause's init
    /// mode (which forwards signals, reaps, and maps 126/127). The caller waits for the child.
    pub fn exec(&self, pod: &str, command: &CommandSpec) -> Result<PidFd> {
        command.validate()?;
        let lock = self.store.lock_pod(pod)?;
        let record = self.load_pod(pod)?;
        let namespaces = self.open_namespaces(&record)?;
        let join = namespaces
            .iter()
            .map(|(file, kind)| (file.as_fd(), kind.clone_flag()))
            .collect();
        let child = Spawn::new(
            &self.pause,
            command.pause_args(&[]),
            &command.environment(&record.hostname),
        )?
        .join(join)
        .cwd(command.workdir())?
        .spawn()
        .map_err(|e| with_context(e, &format!("exec in sandbox {pod:?}")))?;
        drop(lock);
        Ok(child)
    }

    /// Stops a pod: its containers (stop signal, one grace period for all, then SIGKILL), then
    /// pause. Stopping a stopped pod reports the recorded exits again.
    pub fn stop_pod(&self, name: &str, grace: Duration) -> Result<Vec<StopReport>> {
        let _lock = self.store.lock_pod(name)?;
        let mut record = self.load_pod(name)?;
        if record.phase == Phase::Creating {
            return Err(Error::PodNotRunning {
                pod: name.to_owned(),
                // We hold the lock, so its creator died: nothing to stop, only to remove.
                state: "half-created (its create was interrupted; remove it with `sandbox rm`)"
                    .to_owned(),
            });
        }
        // A stopped pod reports what its stop found; run again, the policy would only see
        // containers that had all "exited by itself".
        let report_path = self.store.pod_dir(name).join(STOP_REPORT_FILE);
        if record.phase == Phase::Stopped {
            if let Some(reports) = store::read_json(&report_path)? {
                return Ok(reports);
            }
        }
        let reports = stop::stop_containers(self, &record, grace)?;
        store::write_json(&report_path, &reports)?;
        if let Some(pause) = &record.pause {
            if let Some(pidfd) = pause.open(&self.boot_id)? {
                pidfd.send_signal(libc::SIGTERM)?;
                if !process::wait_all(&[&pidfd], PAUSE_STOP_TIMEOUT)?.is_empty() {
                    log::warn!(
                        "sandbox {name:?}: pause ignored SIGTERM for {PAUSE_STOP_TIMEOUT:?}; killing it"
                    );
                    pidfd.send_signal(libc::SIGKILL)?;
                    process::wait_all(&[&pidfd], PAUSE_STOP_TIMEOUT)?;
                }
            }
        }
        // What is left are processes no record names: children a container left behind when
        // it exited (without --share-pid nobody else ends them) and exec'd commands. Every
        // process of the pod has joined its network namespace, so one scan finds them all.
        self.kill_namespace_members(name, &[NamespaceKind::Net])?;
        if record.phase != Phase::Stopped {
            record.phase = Phase::Stopped;
            record.stopped_at = Some(now_rfc3339());
            self.save_pod(&record)?;
        }
        Ok(reports)
    }

    /// Removes a pod: refuses a running one unless `force`, which kills everything first.
    pub fn remove_pod(&self, name: &str, force: bool) -> Result<()> {
        validate_name("sandbox name", name)?;
        let lock = self.store.lock_pod(name)?;
        let record = match self.load_pod(name) {
            Ok(record) => record,
            Err(Error::PodNotFound(_)) => {
                lock.remove_file();
                return Err(Error::PodNotFound(name.to_owned()));
            }
            // A corrupt record: only --force may clean it up, from the paths alone.
            Err(error) if force => {
                log::warn!("{error}; removing the sandbox anyway (--force)");
                self.orphan_record(name)
            }
            Err(error) => return Err(error),
        };
        if !force {
            let pause_running = record.phase == Phase::Running && self.pause_alive(&record);
            let what = if pause_running {
                Some("is running")
            } else if container::any_running(self, &record)? {
                Some("has running containers")
            } else {
                None
            };
            if let Some(what) = what {
                return Err(Error::PodBusy {
                    pod: name.to_owned(),
                    what,
                });
            }
        }
        self.teardown(&record)?;
        lock.remove_file();
        Ok(())
    }
}

impl Host {
    /// A stand-in record for a pod directory whose state file is missing or unreadable:
    /// teardown then works from the well-known paths alone, and removes the `ip netns` pin only
    /// if it is really ours, i.e. holds the net namespace pinned in the pod directory.
    fn orphan_record(&self, name: &str) -> PodRecord {
        let our_net = self.store.pod_dir(name).join("ns").join("net");
        let netns_path = self.netns_dir.join(name);
        let netns_is_ours = matches!(
            (namespace::inode_of(&our_net), namespace::inode_of(&netns_path)),
            (Ok(ours), Ok(theirs)) if ours == theirs
        );
        PodRecord {
            name: name.to_owned(),
            hostname: name.to_owned(),
            share_pid: false,
            phase: Phase::Creating,
            pause: None,
            namespaces: Pins::new(),
            netns_path: netns_is_ours.then_some(netns_path),
            created_at: String::new(),
            stopped_at: None,
        }
    }
}

impl PodStatus {
    fn unreadable(name: &str, error: &Error) -> PodStatus {
        PodStatus {
            name: name.to_owned(),
            state: "unknown".to_owned(),
            pid: None,
            hostname: String::new(),
            created_at: String::new(),
            stopped_at: None,
            share_pid: false,
            namespaces: BTreeMap::new(),
            netns: None,
            reason: Some(crate::error_chain(error)),
            containers: Vec::new(),
        }
    }
}

/// Removes a pod directory with its state file last, so a command killed halfway leaves a
/// directory that still says what it was (and the next `rm` finishes the job).
fn remove_pod_dir(dir: &std::path::Path) -> Result<()> {
    let what = || format!("removing {}", dir.display());
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).context(what),
    };
    for entry in entries {
        let entry = entry.context(what)?;
        if entry.file_name() == STATE_FILE {
            continue;
        }
        let path = entry.path();
        let removed = if entry.file_type().context(what)?.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        removed.context(|| format!("removing {}", path.display()))?;
    }
    match std::fs::remove_file(dir.join(STATE_FILE)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e).context(what),
        _ => {}
    }
    std::fs::remove_dir(dir).context(what)
}

/// Prefixes the description of an OS error with the operation it was part of.
fn with_context(error: Error, prefix: &str) -> Error {
    match error {
        Error::Os { what, source } => Error::Os {
            what: format!("{prefix}: {what}"),
            source,
        },
        other => other,
    }
}

fn open_dev_null() -> Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .context(|| "opening /dev/null")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostnames() {
        for good in ["web", "web-1", "a.b.c", "x_y", &"a".repeat(64)] {
            validate_hostname(good).unwrap();
        }
        for bad in ["", "-a", "a-", "a..b", "a b", "a/b", &"a".repeat(65)] {
            assert!(validate_hostname(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn phases_serialise_lowercase() {
        assert_eq!(
            serde_json::to_string(&Phase::Running).unwrap(),
            "\"running\""
        );
        let back: Phase = serde_json::from_str("\"stopped\"").unwrap();
        assert_eq!(back, Phase::Stopped);
    }
}
