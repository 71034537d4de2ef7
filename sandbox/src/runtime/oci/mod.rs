//! The second runtime: an OCI container, created by an OCI runtime (runc or crun) from a
//! bundle in the container's directory, joined to the pod's pinned NET, IPC and UTS namespaces
//! (and PID with `--share-pid`), with a mount and PID namespace of its own, and watched by a
//! `pause` monitor that adopts its process.
//!
//! Start: the pod's shared files (`/dev/shm`, `/etc/hosts`, ...) → the root file system (an
//! overlay of the image's layers with a writable layer, or a directory) → the command resolved
//! against the image's config → `config.json` → the monitor, recorded before it runs:
//! `pause --exit-file F --sync-fd N --adopt PIDFILE -- RUNTIME --root R run --detach
//! --pid-file PIDFILE --bundle B ID`. The runtime starts the container's process and exits; the
//! process, orphaned, is adopted by the monitor (a child subreaper), which reports its host PID
//! on the sync pipe and records its exit like any other container's: runc and crun report no
//! exit codes.
//!
//! Release (rm): `RUNTIME delete --force ID` when the runtime still has state for it (which
//! also removes the cgroup the runtime made), then the root file system is unmounted; the
//! writable layer goes with the container's directory.

mod locate;
pub mod pod_files;
pub mod process;
pub mod rootfs;
pub mod spec;

use std::path::Path;
use std::process::Command;

use super::monitor::{self, MonitorSpawn};
use super::{Launch, Processes, Runtime};
use crate::error::{Context, Error, Result};
use crate::limits::Limits;
use crate::state::container::{ContainerRecord, ExitRecord, OciRecord};
use crate::state::pod::{CgroupRecord, RUNTIME_CGROUP};
use crate::state::{self, ContainerPaths};
pub use locate::{DEFAULT_RUNTIMES, locate};

/// How much of a runtime's stderr an error quotes.
const SAID_LIMIT: u64 = 2048;

/// An OCI container created by an OCI runtime and watched by a `pause` monitor.
#[derive(Clone, Copy, Debug)]
pub struct OciRuntime;

impl Runtime for OciRuntime {
    fn start(
        &self,
        launch: &Launch<'_>,
        record: &mut ContainerRecord,
        save: &dyn Fn(&ContainerRecord) -> Result<()>,
    ) -> Result<()> {
        let request = launch.oci.ok_or_else(|| Error::Io {
            what: format!("starting OCI container {:?}", record.name),
            source: std::io::Error::other("no image or root file system was given"),
        })?;
        let oci = record.oci.clone().ok_or_else(|| Error::Io {
            what: format!("starting OCI container {:?}", record.name),
            source: std::io::Error::other("its record has no OCI section"),
        })?;
        let paths = launch.paths;
        let pod_paths = launch.pod_paths;
        let address = launch.pod.network.as_ref().and_then(|n| n.first_address());
        pod_files::ensure(pod_paths, &launch.pod.hostname, address)?;
        let root = rootfs::prepare(paths, &oci.rootfs, &request.layers)?;
        let root_dir = process::RootDir::open(&root)?;
        record.command = process::resolve(&record.command, request, &root_dir)?;
        record.stop_signal = process::stop_signal(request)?;
        if let Err((exit_code, reason)) = process::find_command(&root_dir, &record.command) {
            return Err(Error::ExecFailed {
                container: record.name.clone(),
                command: record.command.argv.join(" "),
                reason,
                exit_code,
            });
        }
        // Saved with the monitor's record below, before anything runs.
        let config = spec::generate(&spec::Inputs {
            record,
            oci: &oci,
            root: &root,
            pod: launch.pod,
            pod_paths,
        })?;
        state::write_json(&paths.config(), &config)?;

        let pid_file = paths.init_pid().to_string_lossy().into_owned();
        let runtime_args = [
            oci.runtime.to_string_lossy().into_owned(),
            "--root".to_owned(),
            oci.runtime_root.to_string_lossy().into_owned(),
            "run".to_owned(),
            "--detach".to_owned(),
            "--pid-file".to_owned(),
            pid_file.clone(),
            "--bundle".to_owned(),
            paths.dir().to_string_lossy().into_owned(),
            oci.id.clone(),
        ];
        let args = |monitor_options: &[String]| {
            let mut args = monitor_options.to_vec();
            args.extend(["--adopt".to_owned(), pid_file.clone(), "--".to_owned()]);
            args.extend(runtime_args.iter().cloned());
            args
        };
        // The runtime and the monitor run in the pod's runtime cgroup; the runtime puts the
        // container in its own (`cgroupsPath`).
        let runtime_cgroup = launch.pod.cgroup.as_ref().map(|pod| CgroupRecord {
            path: pod.path.join(RUNTIME_CGROUP),
            limits: Limits::default(),
        });
        let how = MonitorSpawn {
            args: &args,
            env: runtime_environment(),
            join_pod: false,
            cwd: paths.dir().to_string_lossy().into_owned(),
            cgroup: runtime_cgroup.as_ref(),
        };
        let (monitor_pid, sync) = monitor::spawn_monitor(launch, record, save, how)?;
        match sync {
            Some((pid, 0)) => {
                monitor::record_main_process(record, pid);
                Ok(())
            }
            _ => {
                let code = monitor::reap(monitor_pid, &record.name)?;
                let said = state::head_of_log(&paths.stderr(), SAID_LIMIT);
                // pause's own failures (it could not adopt the process) name pause, not the
                // runtime, which then did its part.
                if said.lines().any(|line| line.starts_with("pause: ")) {
                    return Err(Error::MonitorDied {
                        container: record.name.clone(),
                        monitor_pid,
                        said: said.trim().to_owned(),
                    });
                }
                Err(Error::RuntimeFailed {
                    what: format!(
                        "starting container {:?} of sandbox {:?}",
                        record.name, launch.pod.name
                    ),
                    runtime: oci.runtime.clone(),
                    code,
                    said: said.trim().to_owned(),
                })
            }
        }
    }

    fn exit(&self, paths: &ContainerPaths) -> Result<Option<ExitRecord>> {
        super::monitor::PauseMonitor.exit(paths)
    }

    fn processes(&self, record: &ContainerRecord, boot_id: &str) -> Processes {
        super::monitor::PauseMonitor.processes(record, boot_id)
    }

    fn release(&self, record: &ContainerRecord, paths: &ContainerPaths) -> Result<()> {
        if let Some(oci) = &record.oci {
            // Its processes are gone by now. A runtime that cannot delete (moved by an upgrade,
            // a wrapper removed) must not keep the container, or its pod, from being removed:
            // its state directory goes by hand, and the mounts are undone all the same.
            if let Err(error) = delete(oci) {
                let state = oci.runtime_root.join(&oci.id);
                log::warn!(
                    "{}; removing its state {} by hand (a cgroup it made may be left)",
                    crate::error_chain(&error),
                    state.display()
                );
                match std::fs::remove_dir_all(&state) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        log::warn!("removing {}: {e}", state.display());
                    }
                    _ => {}
                }
            }
        }
        rootfs::release(paths)
    }
}

/// The environment a runtime runs in: the caller's PATH (runc looks up helpers in it), nothing
/// else of the caller's.
fn runtime_environment() -> Vec<(String, String)> {
    let path = std::env::var("PATH").unwrap_or_else(|_| crate::command::DEFAULT_PATH.to_owned());
    vec![("PATH".to_owned(), path)]
}

/// The container's ID for its runtime: `POD+CONTAINER+ROOT`, where ROOT is 8 hex digits of the
/// state root's path hashed. Names never contain `+`, so no two containers of a root share an
/// ID; and runc and crun name the container's cgroup after its ID (`/ID` in every hierarchy),
/// so two state roots with the same pod and container names must not share one either.
pub fn container_id(state_root: &Path, pod: &str, container: &str) -> String {
    let tag = crate::state::root_tag(state_root);
    format!("{pod}+{container}+{tag}")
}

/// `RUNTIME delete --force ID`, if the runtime has state for the container: it kills whatever
/// is left of it and removes the runtime's state and the cgroup the runtime made.
pub fn delete(oci: &OciRecord) -> Result<()> {
    let state = oci.runtime_root.join(&oci.id);
    if !state.exists() {
        return Ok(());
    }
    let output = Command::new(&oci.runtime)
        .arg("--root")
        .arg(&oci.runtime_root)
        .args(["delete", "--force", &oci.id])
        .env_clear()
        .envs(runtime_environment())
        .stdin(std::process::Stdio::null())
        .output()
        .context(|| {
            format!(
                "running {} to delete container {}",
                oci.runtime.display(),
                oci.id
            )
        })?;
    if output.status.success() || !state.exists() {
        return Ok(());
    }
    Err(Error::RuntimeFailed {
        what: format!(
            "deleting container {} (runtime state {})",
            oci.id,
            state.display()
        ),
        runtime: oci.runtime.clone(),
        code: output.status.code().unwrap_or(125),
        said: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_of_different_containers_differ() {
        let root = Path::new("/run/sandbox");
        assert_ne!(
            container_id(root, "a_b", "c"),
            container_id(root, "a", "b_c")
        );
        assert_ne!(
            container_id(root, "a.b", "c"),
            container_id(root, "a", "b.c")
        );
        assert_ne!(
            container_id(root, "web", "nginx"),
            container_id(Path::new("/tmp/other-root"), "web", "nginx")
        );
        let id = container_id(root, "web", "nginx");
        assert!(
            id.starts_with("web+nginx+") && id.len() == "web+nginx+".len() + 8,
            "{id}"
        );
    }
}
