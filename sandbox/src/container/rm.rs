//! `rm` of containers: remove exited containers so their names can be used again; with
//! `force`, stop running ones first (the stop policy with no grace period).

use std::time::Duration;

use super::Container;
use crate::error::{Error, Result};
use crate::host::Host;
use crate::kill;
use crate::policy::stop::Grace;
use crate::runtime;
use crate::state;

impl Host {
    /// Kills whatever still runs of a container (through verified pidfds) and removes its
    /// directory: the end of `rm`, and the rollback of a `run` that failed or died.
    pub(crate) fn discard_container(&self, container: &Container) -> Result<()> {
        let processes = container.processes(&self.boot_id);
        // A monitor still alive whose command was never reported (a `run` that died) may start
        // it any moment: what it started is swept by its session below. Only then: the PID of
        // a monitor that is gone may lead someone else's session by now.
        let sweep_session = container.record.pid.is_none() && processes.monitor.is_some();
        let records: Vec<_> = processes
            .main
            .into_iter()
            .chain(processes.monitor)
            .collect();
        let what = || format!("killing container {:?}", container.record.name);
        kill::kill_recorded(&records, &self.boot_id, what)?;
        // The monitor may have started the command just before being killed above, too late
        // to be found as its child; it leads a session of its own, which the command stays in.
        if let (true, Some(monitor)) = (sweep_session, &container.record.monitor) {
            kill::kill_recorded(&monitor.session_members(), &self.boot_id, what)?;
        }
        runtime::of(container.record.runtime).release(&container.record, &container.paths)?;
        // What its processes left behind in its cgroup (a daemon that double-forked away from
        // the monitor's session), and the cgroup itself.
        if let Some(cgroup) = &container.record.cgroup {
            let cgroup = self.cgroups()?.cgroup(&cgroup.path);
            kill::kill_cgroup_and_remove(&cgroup, || {
                format!(
                    "killing what is left in the cgroup of container {:?}",
                    container.record.name
                )
            })?;
        }
        state::remove_dir_last(container.paths.dir(), state::STATE_FILE)
    }

    /// Removes the named containers of a pod. A running one is refused unless `force`, which
    /// stops it first. Nothing is removed unless every name is a container of the pod.
    pub fn remove_containers(&self, pod: &str, names: &[String], force: bool) -> Result<()> {
        let paths = self.store.pod(pod)?;
        Container::validate_names(names)?;
        let _lock = self.store.lock_pod(pod)?;
        state::sweep_temporary_records(&paths);
        let mut record = state::pod::load(&paths)?;
        let containers = Container::load_named(&paths, names)?;
        let running: Vec<usize> = (0..containers.len())
            .filter(|&i| containers[i].may_be_running(&self.boot_id))
            .collect();
        if let Some(&first) = running.first() {
            if !force {
                return Err(Error::ContainerBusy {
                    pod: pod.to_owned(),
                    container: containers[first].record.name.clone(),
                });
            }
            self.stop_loaded(
                (&paths, &record),
                &containers,
                Grace::Given(Duration::ZERO),
                &record.stop.containers,
            )?;
        }
        for container in &containers {
            self.discard_container(container)?;
            record.stop.containers.remove(&container.record.name);
        }
        // Their reports go with them: a new container of the same name starts afresh.
        state::pod::save(&paths, &record)
    }
}
