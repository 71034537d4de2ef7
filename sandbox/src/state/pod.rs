//! The pod record, `<pod>/state.json`, and the phases a pod goes through.
//!
//! ```text
//! creating ──► running ──► stopping ──► stopped
//! ```
//! `stopping` is written once a stop has ended the containers, together with what it reported
//! of each, so a stop killed after that is known as such; the next stop keeps those reports
//! and finishes. The reports of every stop, of the pod or of some of its containers, are kept
//! here, so that a later stop repeats them rather than calling a container "exited by itself".

use std::collections::BTreeMap;
use std::fs::File;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::file::{check_real_dir, read_json, write_json};
use super::layout::PodPaths;
use crate::error::{Error, Result};
use crate::limits::Limits;
use crate::network::{Conflist, PortMapping};
use crate::policy::stop::{ContainerReport, ExecReport, OthersReport};
use crate::sys::namespace::{self, JOIN_ORDER, NamespaceKind, Pins};
use crate::sys::process::ProcessRecord;

/// Where a pod is in its life, as recorded on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PodPhase {
    /// `create` is (or was, if it died) under way.
    Creating,
    /// Created; pause should be running.
    Running,
    /// `stop` is (or was, if it died) under way.
    Stopping,
    /// Stopped by `stop`; the namespaces stay pinned until `rm`.
    Stopped,
}

impl PodPhase {
    /// Whether a pod may go from `self` to `next`.
    pub fn can_become(self, next: PodPhase) -> bool {
        use PodPhase::*;
        matches!(
            (self, next),
            (Creating, Running) | (Running | Stopping, Stopping) | (Stopping, Stopped)
        )
    }

    /// The phase as it is written on disk.
    pub fn as_str(self) -> &'static str {
        match self {
            PodPhase::Creating => "creating",
            PodPhase::Running => "running",
            PodPhase::Stopping => "stopping",
            PodPhase::Stopped => "stopped",
        }
    }
}

/// What the stops of a pod and of its containers reported, kept so a later stop repeats it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StopRecord {
    /// Each container stopped, by name.
    #[serde(default)]
    pub containers: BTreeMap<String, ContainerReport>,
    /// `exec` sessions that were running when the pod stopped.
    #[serde(default)]
    pub execs: Vec<ExecReport>,
    /// The other processes that were left when the pod stopped.
    #[serde(default)]
    pub other_processes: OthersReport,
}

/// A cgroup of a pod or a container: its path in every hierarchy and its limits. A pod's is
/// `<parent>/pod-<name>-<root tag>`, with pause in its leaf [`PAUSE_CGROUP`] (on cgroup v2 a
/// cgroup that gives controllers to its children holds no process itself); a container's is
/// `<pod's>/ctr-<name>`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupRecord {
    /// Its path below every hierarchy's root.
    pub path: PathBuf,
    /// The limits set on it.
    #[serde(default)]
    pub limits: Limits,
}

/// The grace period of a pod that sets none: the kubelet's default (30 s).
pub const DEFAULT_GRACE_PERIOD: std::time::Duration = std::time::Duration::from_secs(30);

/// The name of pause's cgroup below the pod's. Containers' are `ctr-<name>`, so no container
/// name can take it.
pub const PAUSE_CGROUP: &str = "pause";
/// The name of the cgroup below the pod's where `exec` sessions into the pod (not into one of
/// its containers) run.
pub const EXEC_CGROUP: &str = "exec";
/// The name of the cgroup below the pod's where OCI runtimes run (and their monitors stay): not
/// a container's, so that a container's memory limit never counts runc's own memory.
pub const RUNTIME_CGROUP: &str = "runtime";

impl CgroupRecord {
    /// The cgroup of container `name` of the pod whose cgroup this is, with `limits`.
    pub fn container(&self, name: &str, limits: Limits) -> CgroupRecord {
        CgroupRecord {
            path: self.path.join(format!("ctr-{name}")),
            limits,
        }
    }
}

/// A pod's attachment to a CNI network, recorded before its ADD runs (so that whatever
/// happens next, a DEL can follow), with the network's list as it was then: DEL runs what ADD
/// ran, whatever has become of the file since.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NetworkRecord {
    /// The network's list, as read at `create`.
    pub config: serde_json::Value,
    /// The file it was read from.
    pub config_path: PathBuf,
    /// `CNI_CONTAINERID`: `<root tag>-<random>-<pod name>`, so a pod of the same name made
    /// later never passes for this one.
    pub container_id: String,
    /// The ports published to the pod.
    #[serde(default)]
    pub ports: Vec<PortMapping>,
    /// The result of the last plugin whose ADD returned, saved before the next one runs: what
    /// DEL gets as `prevResult`.
    #[serde(default)]
    pub result: Option<serde_json::Value>,
}

impl NetworkRecord {
    /// The network's name, as the recorded list has it.
    pub fn name(&self) -> &str {
        self.config["name"].as_str().unwrap_or_default()
    }

    /// The recorded list, checked again.
    pub fn conflist(&self) -> Result<Conflist> {
        Conflist::from_value(self.config.clone(), &self.config_path)
    }

    /// The pod's first address, once ADD has given it one.
    pub fn first_address(&self) -> Option<std::net::IpAddr> {
        let address = self.result.as_ref()?["ips"][0]["address"].as_str()?;
        address.split('/').next()?.parse().ok()
    }
}

/// The pod record.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PodRecord {
    /// Pod name.
    pub name: String,
    /// Hostname inside the pod.
    pub hostname: String,
    /// Whether the pod has its own PID namespace shared by its containers.
    pub share_pid: bool,
    /// Recorded phase; change it with [`PodRecord::set_phase`].
    pub phase: PodPhase,
    /// The pause process holding the namespaces, once started.
    pub pause: Option<ProcessRecord>,
    /// Pinned namespaces (the paths are shown; joins use the layout's paths and these inodes).
    pub namespaces: Pins,
    /// The `ip netns` pin of the net namespace, once claimed.
    pub netns_path: Option<PathBuf>,
    /// Its cgroup, recorded before it is made (so a teardown always finds it); `None` in the
    /// records of pods made before pods had cgroups.
    #[serde(default)]
    pub cgroup: Option<CgroupRecord>,
    /// Its network, if it has one besides loopback.
    #[serde(default)]
    pub network: Option<NetworkRecord>,
    /// The grace period `stop` gives its containers when not told one (Kubernetes'
    /// `terminationGracePeriodSeconds`); [`DEFAULT_GRACE_PERIOD`] when not set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_period_seconds: Option<u64>,
    /// When it was created (RFC 3339, UTC).
    pub created_at: String,
    /// When it was stopped.
    pub stopped_at: Option<String>,
    /// What its stops reported.
    #[serde(default)]
    pub stop: StopRecord,
}

impl StopRecord {
    /// Keeps these reports, replacing earlier ones of the same containers.
    pub fn remember(&mut self, reports: &[ContainerReport]) {
        for report in reports {
            self.containers.insert(report.name.clone(), report.clone());
        }
    }
}

impl PodRecord {
    /// The grace period `stop` gives its containers when not told one.
    pub fn grace_period(&self) -> std::time::Duration {
        self.grace_period_seconds
            .map_or(DEFAULT_GRACE_PERIOD, std::time::Duration::from_secs)
    }

    /// Moves the pod to phase `next`, refusing a transition the life cycle does not have.
    pub fn set_phase(&mut self, next: PodPhase) -> Result<()> {
        if !self.phase.can_become(next) {
            return Err(Error::Transition {
                what: format!("sandbox {:?}", self.name),
                from: self.phase.as_str(),
                to: next.as_str(),
            });
        }
        self.phase = next;
        Ok(())
    }

    /// Fails if the pod is only half-created: read under the lock, that is a `create` that
    /// died, and there is nothing to stop, only to remove.
    pub fn require_created(&self) -> Result<()> {
        if self.phase != PodPhase::Creating {
            return Ok(());
        }
        Err(Error::PodNotRunning {
            pod: self.name.clone(),
            state: "half-created (its create was interrupted; remove it with `sandbox rm`)"
                .to_owned(),
        })
    }

    /// Whether the pause of this pod is alive.
    pub fn pause_alive(&self, boot_id: &str) -> bool {
        self.pause.as_ref().is_some_and(|p| p.is_alive(boot_id))
    }

    /// Fails unless the pod is running (recorded so, and its pause alive).
    pub fn require_running(&self, boot_id: &str) -> Result<()> {
        if self.phase == PodPhase::Running && self.pause_alive(boot_id) {
            return Ok(());
        }
        let state = match self.phase {
            PodPhase::Creating => "being created",
            PodPhase::Running => "exited (pause died)",
            PodPhase::Stopping => "being stopped",
            PodPhase::Stopped => "stopped",
        };
        Err(Error::PodNotRunning {
            pod: self.name.clone(),
            state: state.to_owned(),
        })
    }

    /// Opens the pod's pinned namespaces in join order, for a process to join them. The
    /// paths come from the layout, never from the record; the record gives the inodes they
    /// must have.
    pub fn open_namespaces(&self, paths: &PodPaths) -> Result<Vec<(File, NamespaceKind)>> {
        JOIN_ORDER
            .into_iter()
            .filter_map(|kind| self.namespaces.get(&kind).map(|pin| (kind, pin.inode)))
            .map(|(kind, inode)| {
                namespace::open_pinned(kind, &paths.namespace(kind), inode).map(|f| (f, kind))
            })
            .collect()
    }
}

/// Reads a pod's record; [`Error::PodNotFound`] if there is no such pod. The pod directory must
/// be a real directory (never a symlink). A directory without a state file is a `create` that
/// died before writing it or an `rm` that died after removing it (the file is written first
/// and removed last): it reads as a stand-in record in `creating`, so commands report it as
/// interrupted and `rm` or the next `create` finish it off.
pub fn load(paths: &PodPaths) -> Result<PodRecord> {
    check_real_dir(paths.dir()).map_err(|error| match error {
        Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            Error::PodNotFound(paths.name().to_owned())
        }
        other => other,
    })?;
    Ok(read_json(&paths.state())?.unwrap_or_else(|| stand_in(paths.name())))
}

/// Writes a pod's record.
pub fn save(paths: &PodPaths, record: &PodRecord) -> Result<()> {
    write_json(&paths.state(), record)
}

/// Writes a pod's record during a stop, which goes on when that fails (the processes matter
/// more than the record), with a warning that says so.
pub fn save_or_warn(paths: &PodPaths, record: &PodRecord) {
    if let Err(error) = save(paths, record) {
        log::warn!(
            "sandbox {:?}: the stop goes on, but could not be recorded: {}",
            record.name,
            crate::error_chain(&error)
        );
    }
}

/// A record for a pod directory whose state file is missing or unreadable: teardown then
/// works from the layout's paths alone.
pub fn stand_in(name: &str) -> PodRecord {
    PodRecord {
        name: name.to_owned(),
        hostname: name.to_owned(),
        share_pid: false,
        phase: PodPhase::Creating,
        pause: None,
        namespaces: Pins::new(),
        netns_path: None,
        cgroup: None,
        network: None,
        grace_period_seconds: None,
        created_at: String::new(),
        stopped_at: None,
        stop: StopRecord::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_only_move_forward() {
        use PodPhase::*;
        assert!(Creating.can_become(Running));
        assert!(Running.can_become(Stopping));
        assert!(Stopping.can_become(Stopping)); // an interrupted stop, resumed
        assert!(Stopping.can_become(Stopped));
        for (from, to) in [
            (Creating, Stopped),
            (Running, Stopped),
            (Stopped, Running),
            (Stopped, Stopping),
            (Running, Creating),
        ] {
            assert!(!from.can_become(to), "{from:?} -> {to:?}");
        }
    }

    #[test]
    fn phases_serialise_lowercase() {
        assert_eq!(
            serde_json::to_string(&PodPhase::Stopping).unwrap(),
            "\"stopping\""
        );
        let back: PodPhase = serde_json::from_str("\"stopped\"").unwrap();
        assert_eq!(back, PodPhase::Stopped);
    }
}
