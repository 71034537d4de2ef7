//! `wait`: block until a container has exited and return its exit record. Event-driven: waits
//! on a pidfd of the monitor, which exits right after writing the record.

use super::Container;
use crate::error::{Error, Result};
use crate::host::Host;
use crate::runtime;
use crate::state;
use crate::state::container::ExitRecord;
use crate::sys::process;

impl Host {
    /// Blocks until the container has exited and returns its exit record.
    pub fn wait_container(&self, pod: &str, name: &str) -> Result<ExitRecord> {
        let pod_paths = self.store.pod(pod)?;
        state::pod::load(&pod_paths)?;
        let container = Container::load(&pod_paths, name)?;
        if let Some(exit) = container.exit {
            return Ok(exit);
        }
        let monitor = match &container.record.monitor {
            Some(monitor) => monitor.open(&self.boot_id)?,
            None => None,
        };
        if let Some(monitor) = &monitor {
            process::wait_any(&[monitor], None)?;
        }
        runtime::of(container.record.runtime)
            .exit(&container.paths)?
            .ok_or_else(|| Error::ExitUnknown {
                pod: pod.to_owned(),
                container: name.to_owned(),
                monitor_pid: container.record.monitor.as_ref().map_or(0, |m| m.pid),
            })
    }
}
