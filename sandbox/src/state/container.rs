//! The container record, `containers/<c>/state.json`, the exit record its monitor writes,
//! `containers/<c>/exit.json`, and the phases a container goes through.
//!
//! ```text
//! creating ──► running
//! ```
//! `running` means started: whether it still runs is the exit record's and the monitor's to
//! say. What a `stop` reported of a container is kept in the pod's record (`state::pod`), one
//! write for all the containers a stop ends.

use serde::{Deserialize, Serialize};

use super::pod::CgroupRecord;
use crate::command::CommandSpec;
use crate::error::{Error, Result};
use crate::policy::stop::PreStopHook;
use crate::sys::process::ProcessRecord;

/// Where a container is in its life, as recorded on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContainerPhase {
    /// `run` is (or was, if it died) under way.
    Creating,
    /// Started; its exit is recorded in `exit.json` by the monitor.
    Running,
}

impl ContainerPhase {
    /// Whether a container may go from `self` to `next`.
    pub fn can_become(self, next: ContainerPhase) -> bool {
        use ContainerPhase::*;
        matches!((self, next), (Creating, Running))
    }

    /// The phase as it is written on disk.
    pub fn as_str(self) -> &'static str {
        match self {
            ContainerPhase::Creating => "creating",
            ContainerPhase::Running => "running",
        }
    }
}

/// How a container's process is started and watched (see `crate::runtime`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RuntimeKind {
    /// A process joined to the pod's namespaces, watched by `pause` as its monitor.
    #[default]
    PauseMonitor,
    /// An OCI container (its own root file system, mount and PID namespaces) created by an
    /// OCI runtime (runc, crun), its process watched by `pause` as its monitor.
    Oci,
}

/// Where an OCI container's root file system comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RootfsSource {
    /// An image of the store: an overlay of its layers and a writable layer of its own.
    Image {
        /// What it was run as: its canonical reference (`oci:/dir:tag`) or name
        /// (`docker.io/library/nginx:1.25`), or its digest.
        reference: String,
        /// Its manifest digest (the store's key).
        digest: String,
    },
    /// A directory of the host, used as it is.
    Directory {
        /// Its path, absolute and without symlinks.
        path: std::path::PathBuf,
    },
}

/// Which PID namespace an OCI container's process is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PidNamespace {
    /// Its own: its command is PID 1 there (Kubernetes' default).
    Own,
    /// The pod's (`--share-pid`): pause is PID 1.
    Pod,
}

/// What an OCI container is, beyond its command: enough for its runtime to find, stop and
/// delete it, and for `exec --container` to join it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OciRecord {
    /// The runtime program (runc, crun, or a wrapper taking their arguments).
    pub runtime: std::path::PathBuf,
    /// The runtime's state directory (its `--root`).
    pub runtime_root: std::path::PathBuf,
    /// The container's ID for the runtime.
    pub id: String,
    /// Where its root file system comes from.
    pub rootfs: RootfsSource,
    /// Whether its root file system is mounted read-only.
    pub read_only: bool,
    /// Its PID namespace.
    pub pid_namespace: PidNamespace,
}

/// The container record.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ContainerRecord {
    /// Container name.
    pub name: String,
    /// How it is run.
    #[serde(default)]
    pub runtime: RuntimeKind,
    /// The command and its settings (for an OCI container, as resolved against its image).
    pub command: CommandSpec,
    /// An OCI container's runtime, root file system and ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oci: Option<OciRecord>,
    /// Signal that `stop` sends first.
    pub stop_signal: i32,
    /// What `stop` runs before the stop signal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_stop: Option<PreStopHook>,
    /// Recorded phase; change it with [`ContainerRecord::set_phase`].
    pub phase: ContainerPhase,
    /// The monitor.
    pub monitor: Option<ProcessRecord>,
    /// The container's main process (None if it exited before it could be recorded).
    pub process: Option<ProcessRecord>,
    /// Host PID of the main process, as the monitor reported it.
    pub pid: Option<i32>,
    /// When the command was started (RFC 3339).
    pub started_at: Option<String>,
    /// Its cgroup, recorded before it is made; `None` in a pod made before pods had cgroups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup: Option<CgroupRecord>,
}

impl ContainerRecord {
    /// Moves the container to phase `next`, refusing a transition the life cycle does not have.
    pub fn set_phase(&mut self, next: ContainerPhase) -> Result<()> {
        if !self.phase.can_become(next) {
            return Err(Error::Transition {
                what: format!("container {:?}", self.name),
                from: self.phase.as_str(),
                to: next.as_str(),
            });
        }
        self.phase = next;
        Ok(())
    }
}

/// The exit record the monitor writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitRecord {
    /// Host PID of the process.
    pub pid: i32,
    /// Its status, or 128+n if killed by signal n.
    pub exit_code: i32,
    /// The signal that killed it.
    pub signal: Option<i32>,
    /// When the monitor reaped it (nanoseconds since the Unix epoch).
    pub finished_unix_ns: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_monitors_exit_record_parses() {
        let line =
            r#"{"pid":1234,"exit_code":143,"signal":15,"finished_unix_ns":1763900000123456789}"#;
        let exit: ExitRecord = serde_json::from_str(line).unwrap();
        assert_eq!(exit.exit_code, 143);
        assert_eq!(exit.signal, Some(15));
        let normal = r#"{"pid":1,"exit_code":0,"signal":null,"finished_unix_ns":0}"#;
        assert_eq!(
            serde_json::from_str::<ExitRecord>(normal).unwrap().signal,
            None
        );
    }

    #[test]
    fn phases_only_move_forward() {
        use ContainerPhase::*;
        assert!(Creating.can_become(Running));
        for (from, to) in [
            (Running, Creating),
            (Running, Running),
            (Creating, Creating),
        ] {
            assert!(!from.can_become(to), "{from:?} -> {to:?}");
        }
    }
}
