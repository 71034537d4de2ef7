//! The `Runtime` seam: how a container's process is started and watched. A pod verb never
//! starts or watches a container's process itself; it asks the runtime named in the
//! container's record.
//!
//! There are two: [`monitor::PauseMonitor`], a process joined to the pod's namespaces and
//! watched by `pause` as its monitor, and [`oci::OciRuntime`], an OCI container created by runc
//! or crun from a bundle, whose process the same monitor adopts and watches. `stop`, `wait` and
//! `rm` work the same for both, through the questions below.

pub mod monitor;
pub mod oci;

use std::fs::File;

use crate::error::Result;
use crate::host::Host;
use crate::state::container::{ContainerRecord, ExitRecord, RuntimeKind};
use crate::state::pod::PodRecord;
use crate::state::{ContainerPaths, PodPaths};
use crate::sys::namespace::NamespaceKind;
use crate::sys::process::ProcessRecord;

/// What a runtime gets to start a container.
pub struct Launch<'a> {
    /// The host.
    pub host: &'a Host,
    /// The pod, running.
    pub pod: &'a PodRecord,
    /// The pod's paths.
    pub pod_paths: &'a PodPaths,
    /// Where the container's files go.
    pub paths: &'a ContainerPaths,
    /// The pod's namespaces, opened for joining, in join order.
    pub namespaces: &'a [(File, NamespaceKind)],
    /// For an OCI container: its image's defaults and what `run` asked for.
    pub oci: Option<&'a oci::process::OciRequest>,
}

/// The processes of a container as its runtime knows them.
#[derive(Clone, Debug, Default)]
pub struct Processes {
    /// The container's main process (the one its stop signal goes to).
    pub main: Option<ProcessRecord>,
    /// The process that records its exit; it exits right after doing so, so its pidfd tells
    /// when the exit record is there.
    pub monitor: Option<ProcessRecord>,
}

/// How a container's process is started and watched.
pub trait Runtime {
    /// Starts the container's process in the pod; returns once its command runs (or failed to
    /// start: 126, 127). Each process is written to `record` and saved with `save` before it
    /// may run, so a CLI killed at any point leaves no process that no record names.
    fn start(
        &self,
        launch: &Launch<'_>,
        record: &mut ContainerRecord,
        save: &dyn Fn(&ContainerRecord) -> Result<()>,
    ) -> Result<()>;

    /// How the container exited, once it has.
    fn exit(&self, paths: &ContainerPaths) -> Result<Option<ExitRecord>>;

    /// Its processes that may still be running.
    fn processes(&self, record: &ContainerRecord, boot_id: &str) -> Processes;

    /// Frees what the runtime holds for the container besides its processes (the runtime's
    /// state, mounts), once they are gone: part of `rm`, and of undoing a failed `run`.
    fn release(&self, _record: &ContainerRecord, _paths: &ContainerPaths) -> Result<()> {
        Ok(())
    }
}

/// The runtime a record names.
pub fn of(kind: RuntimeKind) -> &'static dyn Runtime {
    match kind {
        RuntimeKind::PauseMonitor => &monitor::PauseMonitor,
        RuntimeKind::Oci => &oci::OciRuntime,
    }
}
