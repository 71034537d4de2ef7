//! `inspect` and `ps`: a pod's status, derived from its record and the live processes. The
//! recorded phase says what was done; the state shown also asks whether pause is alive and
//! whether a command holds the pod's lock (a `creating` or `stopping` record under a free lock
//! was left by a command that died).

use super::{ExecStatus, PodState, PodStatus};
use crate::error::{Error, Result};
use crate::host::Host;
use crate::state::pod::PodPhase;
use crate::state::{self, exec};

impl Host {
    /// A pod's status for `inspect`, with what its cgroups use.
    pub fn inspect_pod(&self, name: &str) -> Result<PodStatus> {
        self.pod_status(name, true)
    }

    /// A pod's status; `with_usage`: read what its cgroups use (a few files per cgroup, which
    /// `ps` of a thousand pods, or `create`'s answer, does without).
    pub(crate) fn pod_status(&self, name: &str, with_usage: bool) -> Result<PodStatus> {
        let paths = self.store.pod(name)?;
        let record = state::pod::load(&paths)?;
        let containers = self.container_statuses(&paths, with_usage)?;
        let execs = exec::running(&paths, &self.boot_id, false)?
            .into_iter()
            .map(|session| ExecStatus {
                pid: session.launcher.pid,
                command: session.command,
                started_at: session.started_at,
            })
            .collect();
        let pause_alive = record.pause_alive(&self.boot_id);
        let busy = || self.store.is_locked(name);
        let (state, reason) = match record.phase {
            PodPhase::Creating if !busy()? => (
                PodState::Failed,
                Some(if paths.state().exists() {
                    format!("its create was interrupted; `sandbox rm {name}` removes what was left")
                } else {
                    format!(
                        "a create or rm of it was interrupted (it has no state file); \
                         `sandbox rm {name}` removes what was left"
                    )
                }),
            ),
            PodPhase::Creating => (PodState::Creating, None),
            PodPhase::Stopping if !busy()? => (
                if pause_alive {
                    PodState::Running
                } else {
                    PodState::Exited
                },
                Some(format!(
                    "a stop of it was interrupted; `sandbox stop {name}` finishes it"
                )),
            ),
            PodPhase::Stopping => (PodState::Stopping, None),
            PodPhase::Stopped => (PodState::Stopped, None),
            PodPhase::Running if pause_alive => (PodState::Running, None),
            PodPhase::Running => (
                PodState::Exited,
                Some(format!(
                    "pause (pid {}) exited without `sandbox stop`",
                    record.pause.as_ref().map_or(0, |p| p.pid)
                )),
            ),
        };
        Ok(PodStatus {
            name: record.name.clone(),
            state,
            pid: record.pause.as_ref().map(|p| p.pid),
            hostname: record.hostname.clone(),
            created_at: record.created_at.clone(),
            stopped_at: record.stopped_at.clone(),
            share_pid: record.share_pid,
            grace_period_seconds: record.grace_period().as_secs(),
            namespaces: record.namespaces.clone(),
            netns: record.netns_path.clone(),
            reason,
            containers,
            execs,
            cgroup: record
                .cgroup
                .as_ref()
                .map(|cgroup| self.cgroup_status(cgroup, with_usage)),
            network: self.network_status(&record),
        })
    }

    /// Every pod's status, sorted by name. A pod whose state cannot be read is listed with
    /// state `unknown` and the error as its reason, so one bad pod does not hide the others.
    pub fn list_pods(&self) -> Result<Vec<PodStatus>> {
        let mut pods = Vec::new();
        for name in self.store.pod_names()? {
            match self.pod_status(&name, false) {
                Ok(status) => pods.push(status),
                Err(Error::PodNotFound(_)) => {} // removed while we listed
                Err(error) => pods.push(PodStatus::unreadable(&name, &error)),
            }
        }
        Ok(pods)
    }
}
