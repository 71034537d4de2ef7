//! `rm` of containers: remove exited containers so their names can be used again; with
//! `force`, stop running ones first (the stop policy with no grace period).

use std::time::Duration;

use super::Container;
use crate::error::{Error, Result};
use crate::host::Host;
use crate::kill;
use crate::state;

impl Host {
    /// Kills whatever still runs of a container (through verified pidfds) and removes its
    /// directory: the end of `rm`, and the rollback of a `run` that failed or died.
    pub(crate) fn discard_container(&self, container: &Container) -> Result<()> {
        let processes = container.processes(&self.boot_id);
        let records: Vec<_> = processes
            .main
            .into_iter()
            .chain(processes.monitor)
            .collect();
        let what = || format!("killing container {:?}", container.record.name);
        kill::kill_recorded(&records, &self.boot_id, what)?;
        // A `run` that died before recording the main process: its monitor may have started
        // it just before being killed above, too late to be found as its child. The monitor
        // leads a session of its own, which what it started stays in.
        if let (None, Some(monitor)) = (&container.record.process, &container.record.monitor) {
            kill::kill_recorded(&monitor.session_members(), &self.boot_id, what)?;
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
            self.stop_loaded(&containers, Duration::ZERO, &record.stop.containers)?;
        }
        for container in &containers {
            self.discard_container(container)?;
            record.stop.containers.remove(&container.record.name);
        }
        // Their reports go with them: a new container of the same name starts afresh.
        state::pod::save(&paths, &record)
    }
}
