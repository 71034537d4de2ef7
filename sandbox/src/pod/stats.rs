//! `stats`: what pods use, from their cgroups (as `podman pod stats` and `kubectl top` show
//! it): one read of each pod's cgroup files, with the limits its record keeps. The CLI turns
//! two samples into a CPU percentage.

use std::time::Instant;

use serde::Serialize;

use super::PodState;
use crate::error::{Error, Result};
use crate::host::Host;
use crate::limits::Limits;
use crate::sys::cgroup::Usage;

/// One pod's use at one moment.
#[derive(Clone, Debug, Serialize)]
pub struct PodStats {
    /// Pod name.
    pub name: String,
    /// What the pod is doing.
    pub state: PodState,
    /// The limits of its cgroup.
    pub limits: Limits,
    /// What its cgroup and everything below it use; all `None` for a pod without a cgroup.
    pub usage: Usage,
    /// When it was read.
    #[serde(skip)]
    pub sampled_at: Instant,
}

impl Host {
    /// What the named pods use (every pod when `names` is empty), sorted by name; a name that
    /// is no pod is an error.
    pub fn pod_stats(&self, names: &[String]) -> Result<Vec<PodStats>> {
        let every_pod = names.is_empty();
        let names = if every_pod {
            self.store.pod_names()?
        } else {
            let mut names = names.to_vec();
            names.sort();
            names.dedup();
            names
        };
        let mut stats = Vec::with_capacity(names.len());
        for name in names {
            let status = match self.inspect_pod(&name) {
                Ok(status) => status,
                // Removed while we listed every pod: not an error.
                Err(Error::PodNotFound(_)) if every_pod => continue,
                Err(error) => return Err(error),
            };
            let (limits, usage) = match status.cgroup {
                Some(cgroup) => (cgroup.limits, cgroup.usage.unwrap_or_default()),
                None => (Limits::default(), Usage::default()),
            };
            stats.push(PodStats {
                name,
                state: status.state,
                limits,
                usage,
                sampled_at: Instant::now(),
            });
        }
        Ok(stats)
    }
}
