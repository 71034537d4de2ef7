//! Containers of a pod: one file per verb (`run`, `wait`, `logs`, `stop`, `rm`), and here what
//! they share: a container as read from disk and its status.
//!
//! A container's process is started and watched by the runtime its record names (see
//! `crate::runtime`); the verbs here only decide, record and report.

mod logs;
mod rm;
mod run;
pub(crate) mod stop;
mod wait;

use serde::{Deserialize, Serialize};

use crate::command::CommandSpec;
use crate::error::{Context, Error, Result};
use crate::exit;
use crate::host::Host;
use crate::runtime::{self, Processes};
use crate::state::container::{ContainerPhase, ContainerRecord, ExitRecord, OciRecord};
use crate::state::pod::CgroupRecord;
use crate::state::{self, ContainerPaths, PodPaths, validate_name};

/// Options of `run`.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Container name.
    pub name: String,
    /// The command and its settings; for an OCI container, what overrides its image's config
    /// (the command may then be empty).
    pub command: CommandSpec,
    /// Signal that `stop` sends first (default: the image's StopSignal, else SIGTERM).
    pub stop_signal: Option<i32>,
    /// What `stop` runs before the stop signal (Kubernetes' `lifecycle.preStop`).
    pub pre_stop: Option<crate::policy::stop::PreStopHook>,
    /// What makes it an OCI container (its own root file system, mount and PID namespaces);
    /// none for a process of the host joined to the pod's namespaces.
    pub oci: Option<OciOptions>,
    /// Its limits (its cgroup's, below the pod's).
    pub limits: crate::limits::Limits,
}

/// The options of an OCI container.
#[derive(Clone, Debug)]
pub struct OciOptions {
    /// Where its root file system comes from.
    pub rootfs: RootfsOption,
    /// Replaces the image's Entrypoint (and drops its Cmd when the command is empty).
    pub entrypoint: Option<Vec<String>>,
    /// The user when the command gives none (a manifest's `runAsUser`), with the group of
    /// that UID in the image's `/etc/passwd` unless `run_as_group` is given.
    pub run_as_user: Option<u32>,
    /// The group when the command gives no user (a manifest's `runAsGroup`).
    pub run_as_group: Option<u32>,
    /// Mount the root file system read-only.
    pub read_only: bool,
}

/// Where an OCI container's root file system comes from, as `run` was told.
#[derive(Clone, Debug)]
pub enum RootfsOption {
    /// An image as [`crate::image::ImageQuery`] reads it: a reference (`oci:DIR[:TAG]`,
    /// `oci-archive:FILE[:TAG]`), pulled; or a digest or a name (`nginx:1.25`) of an image in
    /// the store.
    Image(String),
    /// A directory of the host.
    Directory(std::path::PathBuf),
}

/// A cgroup, of a pod or a container, as `inspect` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupStatus {
    /// Its path in every hierarchy, from the hierarchy's root (`/sandbox/pod-web-1a2b3c4d`).
    pub path: String,
    /// The limits set on it.
    pub limits: crate::limits::Limits,
    /// What it and everything below it use now; `None` when not read (`ps`), or once it is
    /// gone or unreadable.
    pub usage: Option<crate::sys::cgroup::Usage>,
}

/// The reason of a container the kernel's OOM killer ended, as Kubernetes names it.
pub const OOM_KILLED: &str = "OOMKilled";

/// What a container is doing, as `inspect` shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContainerState {
    /// `run` is under way.
    Creating,
    /// Its command runs.
    Running,
    /// Its command exited; the exit code is known.
    Exited,
    /// A `run` of it was interrupted; a new `run` of the name replaces it.
    Failed,
    /// Its monitor died without recording an exit status.
    Unknown,
}

/// What `inspect` shows of a container.
#[derive(Clone, Debug, Serialize)]
pub struct ContainerStatus {
    /// Container name.
    pub name: String,
    /// What it is doing.
    pub state: ContainerState,
    /// Host PID of its main process.
    pub pid: Option<i32>,
    /// Exit code (status, or 128+n); null while running.
    pub exit_code: Option<i32>,
    /// Name of the signal that killed it, e.g. "SIGKILL".
    pub signal: Option<String>,
    /// Start time (RFC 3339).
    pub started_at: Option<String>,
    /// End time (RFC 3339).
    pub finished_at: Option<String>,
    /// The command line.
    pub command: Vec<String>,
    /// The signal `stop` sends first.
    pub stop_signal: String,
    /// Why the state is not what one would expect, if so.
    pub reason: Option<String>,
    /// Its cgroup: where, its limits and what it uses now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cgroup: Option<CgroupStatus>,
    /// An OCI container's runtime, ID, root file system (image reference and digest, or
    /// directory) and PID namespace; absent for a process container.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oci: Option<OciRecord>,
}

/// A container as read from disk: its paths, its record and its exit record.
pub(crate) struct Container {
    pub paths: ContainerPaths,
    pub record: ContainerRecord,
    pub exit: Option<ExitRecord>,
}

impl Container {
    /// Reads container `name` of a pod; [`Error::ContainerNotFound`] if it has no record.
    pub fn load(pod: &PodPaths, name: &str) -> Result<Container> {
        validate_name("container name", name)?;
        let paths = pod.container(name);
        let record: ContainerRecord =
            state::read_json(&paths.state())?.ok_or_else(|| Error::ContainerNotFound {
                pod: pod.name().to_owned(),
                container: name.to_owned(),
            })?;
        let exit = runtime::of(record.runtime).exit(&paths)?;
        Ok(Container {
            paths,
            record,
            exit,
        })
    }

    /// Checks container names given on the command line, before anything is locked.
    pub fn validate_names(names: &[String]) -> Result<()> {
        names
            .iter()
            .try_for_each(|name| validate_name("container name", name))
    }

    /// Reads the named containers of a pod, each once, sorted by name; the first name that is
    /// no container of the pod is an error.
    pub fn load_named(pod: &PodPaths, names: &[String]) -> Result<Vec<Container>> {
        let mut unique = names.to_vec();
        unique.sort();
        unique.dedup();
        unique
            .iter()
            .map(|name| Container::load(pod, name))
            .collect()
    }

    /// Reads every container of a pod, sorted by name. A corrupt record is an error, or with
    /// `lenient` (teardown) a warning.
    pub fn load_all(pod: &PodPaths, lenient: bool) -> Result<Vec<Container>> {
        let dir = pod.containers_dir();
        let what = || format!("listing containers in {}", dir.display());
        if !state::is_real_dir(&dir)? {
            return Ok(Vec::new());
        }
        let entries = std::fs::read_dir(&dir).context(what)?;
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.context(what)?;
            if let Some(name) = entry.file_name().to_str()
                && validate_name("container name", name).is_ok()
            {
                names.push(name.to_owned());
            }
        }
        names.sort();
        let mut loaded = Vec::new();
        for name in names {
            match Container::load(pod, &name) {
                Ok(container) => loaded.push(container),
                // A directory without a record: `run` died before writing it; nothing runs.
                Err(Error::ContainerNotFound { .. }) => {}
                Err(error) if lenient => log::warn!(
                    "skipping container {name:?} of sandbox {:?}: {}; its processes, if any, \
                     cannot be identified safely and are left alone",
                    pod.name(),
                    crate::error_chain(&error)
                ),
                Err(error) => return Err(error),
            }
        }
        Ok(loaded)
    }

    /// Its processes that may still be running, by its runtime (none once it has exited).
    pub fn processes(&self, boot_id: &str) -> Processes {
        if self.exit.is_some() {
            return Processes::default();
        }
        runtime::of(self.record.runtime).processes(&self.record, boot_id)
    }

    /// Whether the container's main process or its monitor may still be running.
    pub fn may_be_running(&self, boot_id: &str) -> bool {
        let processes = self.processes(boot_id);
        processes.main.is_some() || processes.monitor.is_some()
    }

    /// Its status; `abandoned`: the pod's lock is free, so a `creating` record was left by a
    /// `run` that died (it holds the lock from the record's first write to its last).
    pub fn status(&self, boot_id: &str, abandoned: bool) -> ContainerStatus {
        let monitor_alive = self
            .record
            .monitor
            .as_ref()
            .is_some_and(|m| m.is_alive(boot_id));
        let (state, reason) = match (&self.exit, self.record.phase) {
            (Some(_), _) => (ContainerState::Exited, None),
            (None, ContainerPhase::Creating) if abandoned => (
                ContainerState::Failed,
                Some(format!(
                    "its run was interrupted; `sandbox run` with the name {:?} replaces it",
                    self.record.name
                )),
            ),
            (None, ContainerPhase::Creating) => (ContainerState::Creating, None),
            (None, _) if monitor_alive => (ContainerState::Running, None),
            (None, _) => (
                ContainerState::Unknown,
                Some(format!(
                    "its monitor (pid {}) died without recording an exit status",
                    self.record.monitor.as_ref().map_or(0, |m| m.pid)
                )),
            ),
        };
        ContainerStatus {
            name: self.record.name.clone(),
            state,
            pid: self.record.pid,
            exit_code: self.exit.map(|e| e.exit_code),
            signal: self.exit.and_then(|e| e.signal).map(exit::signal_name),
            started_at: self.record.started_at.clone(),
            finished_at: self.exit.map(|e| {
                let at =
                    std::time::UNIX_EPOCH + std::time::Duration::from_nanos(e.finished_unix_ns);
                humantime::format_rfc3339_micros(at).to_string()
            }),
            command: self.record.command.argv.clone(),
            stop_signal: exit::signal_name(self.record.stop_signal),
            reason,
            cgroup: None,
            oci: self.record.oci.clone(),
        }
    }
}

impl Host {
    /// A cgroup as `inspect` shows it, with what it uses now if `with_usage`.
    pub(crate) fn cgroup_status(&self, cgroup: &CgroupRecord, with_usage: bool) -> CgroupStatus {
        let usage = if with_usage {
            match self.cgroups().and_then(|h| h.cgroup(&cgroup.path).usage()) {
                Ok(usage) => Some(usage),
                Err(error) => {
                    log::debug!("{}", crate::error_chain(&error));
                    None
                }
            }
        } else {
            None
        };
        CgroupStatus {
            path: format!("/{}", cgroup.path.display()),
            limits: cgroup.limits,
            usage: usage.filter(|u| u.cpu_usec.is_some() || u.memory_bytes.is_some()),
        }
    }

    /// The statuses of all containers of a pod.
    pub(crate) fn container_statuses(
        &self,
        pod: &PodPaths,
        with_usage: bool,
    ) -> Result<Vec<ContainerStatus>> {
        let containers = Container::load_all(pod, false)?;
        let creating = containers
            .iter()
            .any(|c| c.exit.is_none() && c.record.phase == ContainerPhase::Creating);
        let abandoned = creating && !self.store.is_locked(pod.name())?;
        Ok(containers
            .iter()
            .map(|c| self.container_status(c, abandoned, with_usage))
            .collect())
    }

    /// A container's status, with `reason: OOMKilled` when the kernel's OOM killer ended it, and
    /// what its cgroup uses if `with_usage`.
    pub(crate) fn container_status(
        &self,
        container: &Container,
        abandoned: bool,
        with_usage: bool,
    ) -> ContainerStatus {
        let mut status = container.status(&self.boot_id, abandoned);
        if status.reason.is_none() && self.oom_killed(container) {
            status.reason = Some(OOM_KILLED.to_owned());
        }
        status.cgroup = container
            .record
            .cgroup
            .as_ref()
            .map(|cgroup| self.cgroup_status(cgroup, with_usage));
        status
    }

    /// Whether the container died of SIGKILL and its cgroup counted an OOM kill: the kernel
    /// killed it for going over its memory limit (as the kubelet decides `OOMKilled`).
    pub(crate) fn oom_killed(&self, container: &Container) -> bool {
        let killed = container
            .exit
            .is_some_and(|e| e.signal == Some(libc::SIGKILL));
        let Some(cgroup) = container.record.cgroup.as_ref().filter(|_| killed) else {
            return false;
        };
        match self
            .cgroups()
            .and_then(|h| h.cgroup(&cgroup.path).oom_kills())
        {
            Ok(count) => count > 0,
            Err(error) => {
                log::debug!(
                    "reading the OOM kills of {:?}: {}",
                    container.record.name,
                    crate::error_chain(&error)
                );
                false
            }
        }
    }
}
