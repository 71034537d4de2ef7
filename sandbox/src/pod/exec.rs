//! `exec`: run a command in the foreground inside a pod's namespaces, or inside one of its
//! containers, through `pause`'s init mode (which forwards signals, reaps, and maps 126/127).
//!
//! lock → check the pod runs, open its pins (and, for an OCI container, the mount and PID
//! namespaces of its running process, and the `pause` binary, which the container's file system
//! does not have) → clone3 the launcher into them → record the session (`execs/<pid>.json`)
//! before it may run → unlock. The caller waits for the launcher and then ends the session
//! ([`ExecSession::finish`]); a caller killed before that leaves the record, so the session
//! stays named: `inspect` shows it and `stop` reports ending it.
//!
//! In a container, the command gets the container's environment, working directory and user
//! unless the caller gives its own, as `kubectl exec -c` does.
//!
//! Standard streams ([`ExecIo`]):
//! - without `-i` or `-t` the command reads `/dev/null` and has no terminal at all (a session
//!   of its own, as with kubectl);
//! - with `-i` it reads the caller's stdin as it is (and if that is the caller's terminal,
//!   pause makes the command its foreground job);
//! - with `-t` it gets a new pseudo-terminal, made from the container's own `/dev/ptmx` (seen
//!   through its process's `/proc/PID/root`) or the host's, sized before the command starts,
//!   owned by the command's user, as its controlling terminal in a session of its own, and the
//!   caller relays it. The session leader (the launcher) is outside a container's PID
//!   namespace, so inside it the terminal's session reads as 0 (`ps -o sid`), unlike under
//!   `runc exec -t`.

use std::fs::File;
use std::os::fd::AsFd;

use nix::sched::CloneFlags;

use super::{ExecIo, ExecSession};
use crate::command::CommandSpec;
use crate::container::Container;
use crate::error::{Context, Error, Result};
use crate::host::Host;
use crate::limits::Limits;
use crate::state;
use crate::state::container::RuntimeKind;
use crate::state::exec::{self, ExecRecord};
use crate::state::pod::{CgroupRecord, EXEC_CGROUP};
use crate::sys::namespace;
use crate::sys::process::ProcessRecord;
use crate::sys::pty::Pty;
use crate::sys::spawn::Spawn;

/// What a command in a container joins besides the pod's namespaces.
struct ContainerEntry {
    /// Its mount and PID namespaces, in join order (PID, then mount last: after it, paths
    /// name the container's files).
    namespaces: Vec<(File, CloneFlags)>,
    /// The `pause` binary, opened before joining the container's mount namespace.
    pause: File,
    /// Its root directory, seen from the host (`/proc/PID/root`): a terminal made from its
    /// `/dev/ptmx` is one of the container's own devpts, so the command's `tty` names it inside.
    root: File,
}

impl Host {
    /// Starts `command` inside the pod's namespaces, or inside `container`'s, with the
    /// standard streams `io` says; the caller waits for the launcher.
    pub fn exec(
        &self,
        pod: &str,
        container: Option<&str>,
        command: &CommandSpec,
        io: &ExecIo,
    ) -> Result<ExecSession> {
        command.validate()?;
        let paths = self.store.pod(pod)?;
        let _lock = self.store.lock_pod(pod)?;
        let record = state::pod::load(&paths)?;
        record.require_running(&self.boot_id)?;
        self.start_exec(paths, &record, container, command, io, None)
    }

    /// Starts an `exec` session in a pod whose lock the caller holds: what [`Host::exec`] does
    /// once it has the lock. With `output`, the command writes its stdout and stderr there and
    /// reads `/dev/null`, in a session of its own (a preStop hook's).
    pub(crate) fn start_exec(
        &self,
        paths: state::PodPaths,
        record: &crate::state::pod::PodRecord,
        container: Option<&str>,
        command: &CommandSpec,
        io: &ExecIo,
        output: Option<std::os::fd::BorrowedFd<'_>>,
    ) -> Result<ExecSession> {
        let pod = record.name.as_str();
        let namespaces = record.open_namespaces(&paths)?;
        // The session is born in the container's cgroup (as `RUNTIME exec` puts it), or in
        // the pod's `exec` leaf: under the pod's cgroup either way, so its limits count it and
        // a teardown ends it.
        let pod_limits = record.cgroup.as_ref().map(|c| c.limits).unwrap_or_default();
        let (command, view, cgroup) = match container {
            Some(name) => self.enter_container(&paths, name, command)?,
            None => (
                command.clone(),
                None,
                record.cgroup.as_ref().map(|c| CgroupRecord {
                    path: c.path.join(EXEC_CGROUP),
                    limits: Limits::default(),
                }),
            ),
        };
        let cgroup = match &cgroup {
            Some(place) => {
                let cgroup = self.cgroups()?.cgroup(&place.path);
                let limits = place.limits.within(&pod_limits);
                cgroup.create(&limits)?;
                Some((cgroup, limits))
            }
            None => None,
        };
        let unified = match &cgroup {
            Some((cgroup, _)) => cgroup.open_unified()?,
            None => None,
        };
        let mut join: Vec<_> = namespaces
            .iter()
            .map(|(file, kind)| (file.as_fd(), kind.clone_flag()))
            .collect();
        if let Some(view) = &view {
            // The container's PID namespace replaces the pod's (they are one with --share-pid).
            join.retain(|(_, flag)| *flag != CloneFlags::CLONE_NEWPID);
            join.extend(
                view.namespaces
                    .iter()
                    .map(|(file, flag)| (file.as_fd(), *flag)),
            );
        }
        // The record is written before the launcher may run; a launcher that then fails a step
        // (a working directory that is not there) must not leave it behind.
        let recorded = std::cell::Cell::new(None);
        let mut spawn = Spawn::new(
            &self.pause,
            command.pause_args(&[]),
            &command.environment(&record.hostname),
        )?
        .join(join)
        .cwd(command.workdir())?;
        if let Some(view) = &view {
            spawn = spawn.exec_from(view.pause.as_fd());
        }
        if let Some(unified) = &unified {
            spawn = spawn.into_cgroup(unified.as_fd());
        }
        let place = || match container {
            Some(name) => format!("exec in container {name:?} of sandbox {pod:?}"),
            None => format!("exec in sandbox {pod:?}"),
        };
        let pty = match (io.terminal, &view) {
            (false, _) => None,
            (true, Some(view)) => Some(Pty::open(
                view.root.as_fd(),
                "the container's root",
                io.window,
            )),
            (true, None) => {
                let host_root = File::open("/").context(|| "opening /")?;
                Some(Pty::open(host_root.as_fd(), "", io.window))
            }
        }
        .transpose()
        .map_err(|error| error.within(&place()))?;
        if let (Some(pty), Some(user)) = (&pty, command.user) {
            // Its user's, as runc and crun give it: a command that reopens its tty can.
            nix::unistd::fchown(&pty.slave, Some(user.uid.into()), Some(user.gid.into()))
                .context(|| format!("giving the terminal to {user}"))
                .map_err(|error| error.within(&place()))?;
        }
        let dev_null = match (&pty, io.interactive) {
            (None, false) => Some(File::open("/dev/null").context(|| "opening /dev/null")?),
            _ => None,
        };
        if let (Some(output), Some(dev_null)) = (output, &dev_null) {
            spawn = spawn
                .stdio([Some(dev_null.as_fd()), Some(output), Some(output)])
                .new_session();
        } else if let Some(pty) = &pty {
            let slave = Some(pty.slave.as_fd());
            spawn = spawn.stdio([slave, slave, slave]).controlling_terminal();
        } else if let Some(dev_null) = &dev_null {
            // No terminal at all, as with kubectl: a session of its own, so it cannot open
            // /dev/tty (and be stopped reading it in the background), and a Ctrl-C typed at
            // ours reaches only us, which pass it on once.
            spawn = spawn
                .stdio([Some(dev_null.as_fd()), None, None])
                .new_session();
        }
        let launcher = spawn
            .spawn_recorded(|launcher| {
                let pid = launcher.pid();
                let launcher = ProcessRecord::of(pid, &self.boot_id).ok_or_else(|| Error::Io {
                    what: format!("recording exec process {pid}"),
                    source: std::io::Error::other("it exited before it could be recorded"),
                })?;
                exec::save(
                    &paths,
                    &ExecRecord {
                        launcher,
                        command: command.argv.clone(),
                        started_at: state::now_rfc3339(),
                    },
                )?;
                recorded.set(Some(pid));
                match &cgroup {
                    Some((cgroup, limits)) => cgroup.attach_legacy(pid, limits),
                    None => Ok(()),
                }
            })
            .map_err(|error| {
                if let Some(pid) = recorded.get()
                    && let Err(cleanup) = exec::remove(&paths, pid)
                {
                    log::warn!("{}", crate::error_chain(&cleanup));
                }
                error.within(&place())
            })?;
        // The command holds the terminal now; the master reads end-of-file (EIO) once it and
        // whatever it started have let go of it.
        Ok(ExecSession {
            launcher,
            paths,
            terminal: pty.map(|pty| pty.master),
        })
    }

    /// Whether pod `pod` has been stopped: what ended an `exec` session whose launcher was
    /// killed. Waits for a stop under way (it holds the pod's lock), which may end a session
    /// before it records the pod as stopping.
    pub fn pod_was_stopped(&self, pod: &str) -> bool {
        let Ok(paths) = self.store.pod(pod) else {
            return false;
        };
        let Ok(_lock) = self.store.lock_pod(pod) else {
            return false;
        };
        state::pod::load(&paths).is_ok_and(|record| {
            matches!(
                record.phase,
                crate::state::pod::PodPhase::Stopping | crate::state::pod::PodPhase::Stopped
            )
        })
    }

    /// The command as it runs in container `name` (its settings under the caller's), for an
    /// OCI container the namespaces to join and the `pause` to run, and its cgroup.
    fn enter_container(
        &self,
        pod: &state::PodPaths,
        name: &str,
        given: &CommandSpec,
    ) -> Result<(CommandSpec, Option<ContainerEntry>, Option<CgroupRecord>)> {
        let container = Container::load(pod, name)?;
        let not_running = || Error::ContainerNotRunning {
            pod: pod.name().to_owned(),
            container: name.to_owned(),
        };
        let main = container
            .processes(&self.boot_id)
            .main
            .ok_or_else(not_running)?;
        let own = &container.record.command;
        let mut env = own.env.clone();
        env.extend(given.env.iter().cloned());
        let command = CommandSpec {
            argv: given.argv.clone(),
            env,
            workdir: given.workdir.clone().or_else(|| own.workdir.clone()),
            user: given.user.or(own.user),
            no_new_privs: given.no_new_privs || own.no_new_privs,
            // Never more than the container has: a program it planted (a setuid binary in its
            // writable layer) must gain nothing by being run from here.
            bounding_caps: own.bounding_caps,
        };
        let cgroup = container.record.cgroup.clone();
        if container.record.runtime != RuntimeKind::Oci {
            // A process container's namespaces are the pod's.
            return Ok((command, None, cgroup));
        }
        let process = main.open(&self.boot_id)?.ok_or_else(not_running)?;
        // A container that exits meanwhile is not running, whatever the open said.
        let open = |name: &str| {
            namespace::open_of_process(&process, name).map_err(|error| match process.has_exited() {
                Ok(true) => not_running(),
                _ => error,
            })
        };
        let namespaces = vec![
            (open("pid")?, CloneFlags::CLONE_NEWPID),
            (open("mnt")?, CloneFlags::CLONE_NEWNS),
        ];
        let root = crate::sys::process::open_root(&process).map_err(|error| {
            match process.has_exited() {
                Ok(true) => not_running(),
                _ => error,
            }
        })?;
        let pause =
            File::open(&self.pause).context(|| format!("opening {}", self.pause.display()))?;
        Ok((
            command,
            Some(ContainerEntry {
                namespaces,
                pause,
                root,
            }),
            cgroup,
        ))
    }
}
