//! Pods: one file per verb (`create`, `inspect`/`list`, `exec`, `stop`, `rm`), and here what
//! they share: the options of `create` and what `inspect` shows.
//!
//! A pod is a set of namespaces held by `pause` and pinned; its containers are managed by
//! `crate::container`, whose verbs the pod verbs use (a pod's stop stops its containers first).

mod create;
mod exec;
mod inspect;
mod network;
mod port_forward;
mod rm;
mod stats;
mod stop;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub(crate) use self::create::validate_hostname;
pub use self::network::{NETWORK_LOCK_PATIENCE, Released};
pub use self::port_forward::PodDialer;
pub use self::stats::PodStats;
pub use crate::command::ExecIo;
use crate::container::{CgroupStatus, ContainerStatus};
use crate::limits::Limits;
use crate::network::{NetworkStatus, PortMapping};
pub use crate::state::exec::ExecSession;
use crate::sys::namespace::{NamespaceKind, Pin};

/// Options of `create`.
#[derive(Clone, Debug, Default)]
pub struct CreateOptions {
    /// Pod name.
    pub name: String,
    /// Hostname; the pod name when not given.
    pub hostname: Option<String>,
    /// Give the pod a PID namespace of its own, with pause as PID 1.
    pub share_pid: bool,
    /// Limits of the pod as a whole (its cgroup's).
    pub limits: Limits,
    /// The cgroup (a path below every hierarchy's root) the pod's goes under; the host's
    /// (`Host::with_cgroup_parent`, `sandbox` by default) when not given.
    pub cgroup_parent: Option<PathBuf>,
    /// The CNI network: a name in the config directory, a path to a list, or `bridge` (built
    /// in); `None` or `none`: loopback only.
    pub network: Option<String>,
    /// Host ports published to the pod (through its network's portmap plugin).
    pub publish: Vec<PortMapping>,
    /// The grace period `stop` gives when not told one (Kubernetes'
    /// `terminationGracePeriodSeconds`); 30 s when not given.
    pub grace_period_seconds: Option<u64>,
}

/// What a pod is doing, as `inspect` shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PodState {
    /// `create` is under way.
    Creating,
    /// pause holds the namespaces.
    Running,
    /// `stop` is under way.
    Stopping,
    /// Stopped by `stop`; the namespaces stay pinned until `rm`.
    Stopped,
    /// pause died without `stop`.
    Exited,
    /// A `create` (or `rm`) of it was interrupted; `rm` removes what was left.
    Failed,
    /// Its state cannot be read.
    Unknown,
}

impl PodState {
    /// The state as `inspect` and `ps` show it.
    pub fn as_str(self) -> &'static str {
        match self {
            PodState::Creating => "creating",
            PodState::Running => "running",
            PodState::Stopping => "stopping",
            PodState::Stopped => "stopped",
            PodState::Exited => "exited",
            PodState::Failed => "failed",
            PodState::Unknown => "unknown",
        }
    }
}

/// An `exec` session running in a pod.
#[derive(Clone, Debug, Serialize)]
pub struct ExecStatus {
    /// Host PID of the session (its launcher, `pause` in init mode).
    pub pid: i32,
    /// The command line.
    pub command: Vec<String>,
    /// When it started (RFC 3339).
    pub started_at: String,
}

/// What `inspect` and `ps --json` show of a pod.
#[derive(Clone, Debug, Serialize)]
pub struct PodStatus {
    /// Pod name.
    pub name: String,
    /// What it is doing.
    pub state: PodState,
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
    /// The grace period `stop` gives when not told one, in seconds.
    pub grace_period_seconds: u64,
    /// Pinned namespaces: kind → path and inode.
    pub namespaces: BTreeMap<NamespaceKind, Pin>,
    /// Path usable with `ip netns exec`.
    pub netns: Option<PathBuf>,
    /// Why the pod is not in the state it was left in, if so.
    pub reason: Option<String>,
    /// The pod's containers.
    pub containers: Vec<ContainerStatus>,
    /// The `exec` sessions running in it.
    pub execs: Vec<ExecStatus>,
    /// Its cgroup: where, and the limits on it.
    pub cgroup: Option<CgroupStatus>,
    /// Its CNI network (null: loopback only).
    pub network: Option<NetworkStatus>,
}

impl PodStatus {
    fn unreadable(name: &str, error: &crate::Error) -> PodStatus {
        PodStatus {
            name: name.to_owned(),
            state: PodState::Unknown,
            pid: None,
            hostname: String::new(),
            created_at: String::new(),
            stopped_at: None,
            share_pid: false,
            grace_period_seconds: 0,
            namespaces: BTreeMap::new(),
            netns: None,
            reason: Some(crate::error_chain(error)),
            containers: Vec::new(),
            cgroup: None,
            network: None,
            execs: Vec::new(),
        }
    }
}
