//! `run`: start a container in a running pod.
//!
//! lock → check the pod runs and open its pinned namespaces → record `creating` → the
//! runtime starts the process (recording each process before it may run) → record `running`.
//! A failure removes what was made (processes by verified pidfd, then the directory), after
//! the error has taken what the container said, so its reason is never lost with its logs.

use super::{Container, ContainerStatus, RunOptions};
use crate::error::{Error, Result};
use crate::host::Host;
use crate::runtime::{self, Launch};
use crate::state::container::{ContainerPhase, ContainerRecord, RuntimeKind};
use crate::state::{self, validate_name};

impl Host {
    /// Starts a container in a running pod. Returns once its command has been exec'd.
    pub fn run_container(&self, pod: &str, options: &RunOptions) -> Result<ContainerStatus> {
        validate_name("container name", &options.name)?;
        options.command.validate()?;
        let pod_paths = self.store.pod(pod)?;
        let _lock = self.store.lock_pod(pod)?;
        state::sweep_temporary_records(&pod_paths);
        let pod_record = state::pod::load(&pod_paths)?;
        pod_record.require_running(&self.boot_id)?;
        let namespaces = pod_record.open_namespaces(&pod_paths)?;
        let paths = pod_paths.container(&options.name);
        match Container::load(&pod_paths, &options.name) {
            Ok(existing) if existing.record.phase != ContainerPhase::Creating => {
                return Err(Error::ContainerExists {
                    pod: pod.to_owned(),
                    container: options.name.clone(),
                });
            }
            Ok(existing) => {
                log::warn!(
                    "container {:?} was left half-started by a command that died; replacing it",
                    options.name
                );
                self.discard_container(&existing)?;
            }
            // A directory without a record: a `run` that died before writing it.
            Err(Error::ContainerNotFound { .. }) => {
                state::remove_dir_last(paths.dir(), state::STATE_FILE)?;
            }
            Err(error) => return Err(error),
        }
        state::create_private_dir(&pod_paths.containers_dir())?;
        state::create_private_dir(paths.dir())?;
        let mut record = ContainerRecord {
            name: options.name.clone(),
            runtime: RuntimeKind::PauseMonitor,
            command: options.command.clone(),
            stop_signal: options.stop_signal,
            phase: ContainerPhase::Creating,
            monitor: None,
            process: None,
            pid: None,
            started_at: None,
        };
        let save = |record: &ContainerRecord| state::write_json(&paths.state(), record);
        let launch = Launch {
            host: self,
            pod: &pod_record,
            paths: &paths,
            namespaces: &namespaces,
        };
        let started = save(&record)
            .and_then(|()| runtime::of(record.runtime).start(&launch, &mut record, &save))
            .and_then(|()| {
                record.started_at = Some(state::now_rfc3339());
                record.set_phase(ContainerPhase::Running)?;
                save(&record)
            });
        if let Err(error) = started {
            let half_made = Container {
                paths,
                record,
                exit: None,
            };
            if let Err(cleanup) = self.discard_container(&half_made) {
                log::warn!(
                    "cleaning up container {:?} after a failed run: {}",
                    options.name,
                    crate::error_chain(&cleanup)
                );
            }
            return Err(error);
        }
        Ok(Container::load(&pod_paths, &options.name)?.status(&self.boot_id, false))
    }
}
