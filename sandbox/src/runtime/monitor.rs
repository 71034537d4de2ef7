//! The first runtime: a process joined to the pod's namespaces, watched by `pause` itself in
//! init mode (`pause --exit-file F --sync-fd N -- CMD`), a static process of a few dozen KiB
//! that forks CMD into the pod's PID namespace (it joined the namespaces before exec, and
//! `setns(CLONE_NEWPID)` applies to its children), reaps it and writes `exit.json` atomically.
//! Nothing else stays running per container.
//!
//! Start: clone3 the monitor (new session, pod namespaces, logs on stdout/stderr, `--sync-fd`
//! kept open) → record it with its start time, then let it exec (the spawn handshake) → read
//! `"<pid> <errno>"` from the sync pipe (the monitor writes it once CMD's exec succeeded or
//! failed) → verify the PID is the monitor's child and record it with its start time. An exec
//! failure is 127 (not found) or 126 (not executable).

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use nix::errno::Errno;

use super::{Launch, Processes, Runtime};
use crate::error::{Context, Error, Result};
use crate::state::container::{ContainerRecord, ExitRecord};
use crate::state::pod::CgroupRecord;
use crate::state::{self, ContainerPaths};
use crate::sys::process::ProcessRecord;
use crate::sys::spawn::Spawn;

/// How much of a monitor's stderr an error quotes.
const SAID_LIMIT: u64 = 1024;

/// A process watched by a `pause` monitor.
#[derive(Clone, Copy, Debug)]
pub struct PauseMonitor;

impl Runtime for PauseMonitor {
    fn start(
        &self,
        launch: &Launch<'_>,
        record: &mut ContainerRecord,
        save: &dyn Fn(&ContainerRecord) -> Result<()>,
    ) -> Result<()> {
        let command = record.command.clone();
        // The monitor (40 kB) is born in the container's cgroup, and its command with it.
        let cgroup = record.cgroup.clone();
        let how = MonitorSpawn {
            args: &|monitor_options| command.pause_args(monitor_options),
            env: record.command.environment(&launch.pod.hostname),
            join_pod: true,
            cwd: record.command.workdir().to_owned(),
            cgroup: cgroup.as_ref(),
        };
        let (monitor_pid, sync) = spawn_monitor(launch, record, save, how)?;
        let Some((pid, errno)) = sync else {
            return Err(Error::MonitorDied {
                container: record.name.clone(),
                monitor_pid,
                said: state::head_of_log(&launch.paths.stderr(), SAID_LIMIT),
            });
        };
        if errno != 0 {
            // The monitor exits with 127 or 126 right away; its status is the verdict.
            let exit_code = match reap(monitor_pid, &record.name)? {
                code @ (126 | 127) => code as u8,
                _ => 126,
            };
            let reason = if exit_code == 127 {
                "command not found".to_owned()
            } else {
                format!("cannot execute: {}", Errno::from_raw(errno).desc())
            };
            return Err(Error::ExecFailed {
                container: record.name.clone(),
                command: record.command.argv.join(" "),
                reason,
                exit_code,
            });
        }
        record_main_process(record, pid);
        Ok(())
    }

    fn exit(&self, paths: &ContainerPaths) -> Result<Option<ExitRecord>> {
        state::read_json(&paths.exit())
    }

    fn processes(&self, record: &ContainerRecord, boot_id: &str) -> Processes {
        let monitor = record
            .monitor
            .clone()
            .filter(|monitor| monitor.is_alive(boot_id));
        // A `run` that died before recording the main process left it only as the monitor's
        // child, so it is looked up there.
        let main = match (&record.process, &monitor) {
            (Some(process), _) => Some(process.clone()),
            (None, Some(monitor)) if record.pid.is_none() => monitor.children().into_iter().next(),
            (None, _) => None,
        };
        Processes {
            main: main.filter(|process| process.is_alive(boot_id)),
            monitor,
        }
    }
}

/// How a monitor is started: its arguments, environment and place.
pub(crate) struct MonitorSpawn<'a> {
    /// pause's arguments, given its monitor options (`--exit-file`, `--sync-fd`).
    pub args: &'a dyn Fn(&[String]) -> Vec<String>,
    /// pause's environment (which CMD inherits).
    pub env: Vec<(String, String)>,
    /// Whether it joins the pod's namespaces (a process container), or stays in the host's
    /// (an OCI runtime joins them itself, from the runtime config).
    pub join_pod: bool,
    /// Its working directory.
    pub cwd: String,
    /// The cgroup it is born in (made first, with its limits), if any.
    pub cgroup: Option<&'a CgroupRecord>,
}

/// Starts a container's monitor: clone3 it (new session, logs on stdout/stderr, `--sync-fd`
/// kept open) → record it with its start time before it may run → read its sync line.
/// Returns the monitor's PID and the line's `(pid, errno)`, `None` if it ended without one.
pub(crate) fn spawn_monitor(
    launch: &Launch<'_>,
    record: &mut ContainerRecord,
    save: &dyn Fn(&ContainerRecord) -> Result<()>,
    how: MonitorSpawn<'_>,
) -> Result<(i32, Option<(i32, i32)>)> {
    let paths = launch.paths;
    let stdout = state::open_log(&paths.stdout())?;
    let stderr = state::open_log(&paths.stderr())?;
    let dev_null = File::open("/dev/null").context(|| "opening /dev/null")?;
    let (sync_read, sync_write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .context(|| "creating the monitor's sync pipe")?;
    let monitor_options = [
        "--exit-file".to_owned(),
        paths.exit().to_string_lossy().into_owned(),
        "--sync-fd".to_owned(),
        sync_write.as_raw_fd().to_string(),
    ];
    let join = if how.join_pod {
        launch
            .namespaces
            .iter()
            .map(|(file, kind)| (file.as_fd(), kind.clone_flag()))
            .collect()
    } else {
        Vec::new()
    };
    let boot_id = &launch.host.boot_id;
    let cgroup = match how.cgroup {
        Some(place) => {
            let cgroup = launch.host.cgroups()?.cgroup(&place.path);
            let pod_limits = launch
                .pod
                .cgroup
                .as_ref()
                .map(|c| c.limits)
                .unwrap_or_default();
            let limits = place.limits.within(&pod_limits);
            cgroup.create(&limits)?;
            cgroup.set_limits(&place.limits)?;
            Some((cgroup, limits))
        }
        None => None,
    };
    let unified = match &cgroup {
        Some((cgroup, _)) => cgroup.open_unified()?,
        None => None,
    };
    let mut spawn = Spawn::new(&launch.host.pause, (how.args)(&monitor_options), &how.env)?;
    if let Some(unified) = &unified {
        spawn = spawn.into_cgroup(unified.as_fd());
    }
    let monitor = spawn
        .join(join)
        .new_session()
        .cwd(&how.cwd)?
        .stdio([
            Some(dev_null.as_fd()),
            Some(stdout.as_fd()),
            Some(stderr.as_fd()),
        ])
        .pass_fd(sync_write.as_fd())
        // Recorded before it may run (and start CMD), so a successor finds and kills it if we
        // die from here on; if we die before, it exits without running.
        .spawn_recorded(|monitor| {
            record.monitor = ProcessRecord::of(monitor.pid(), boot_id);
            save(record)?;
            match &cgroup {
                Some((cgroup, limits)) => cgroup.attach_legacy(monitor.pid(), limits),
                None => Ok(()),
            }
        })
        .map_err(|e| {
            e.within(&format!(
                "starting the monitor of container {:?}",
                record.name
            ))
        })?;
    drop(sync_write);
    let monitor_pid = monitor.pid();
    Ok((monitor_pid, read_sync(sync_read, monitor_pid)?))
}

/// Records the container's main process, reported by its monitor as `pid`, with its start
/// time, once it is verified to be the monitor's child.
pub(crate) fn record_main_process(record: &mut ContainerRecord, pid: i32) {
    record.pid = Some(pid);
    record.process = record
        .monitor
        .as_ref()
        .and_then(|monitor| ProcessRecord::of_child(pid, monitor));
    log::debug!(
        "container {:?} started: pid {pid}, monitor pid {:?}",
        record.name,
        record.monitor.as_ref().map(|m| m.pid)
    );
}

/// Reaps a monitor that ended before its container ran; its exit code.
pub(crate) fn reap(monitor_pid: i32, container: &str) -> Result<i32> {
    crate::sys::process::reap(monitor_pid, || {
        format!("waiting for the monitor of container {container:?}")
    })
}

/// Reads the monitor's `"<pid> <errno>\n"` line; `None` if it ended without writing one.
fn read_sync(pipe: OwnedFd, monitor_pid: i32) -> Result<Option<(i32, i32)>> {
    let mut line = String::new();
    File::from(pipe)
        .read_to_string(&mut line)
        .context(|| format!("reading the sync pipe of monitor {monitor_pid}"))?;
    Ok(parse_sync_line(&line))
}

/// Parses the monitor's `"<pid> <errno>\n"`: exactly two decimal fields, a PID above 0 and an
/// errno of 0 or more. Anything else is `None` (a PID of 0 or below would name a process group
/// or every process, were it ever used as a PID).
fn parse_sync_line(line: &str) -> Option<(i32, i32)> {
    let mut fields = line.split_whitespace();
    let pid = fields.next()?.parse::<i32>().ok().filter(|&pid| pid > 0)?;
    let errno = fields
        .next()?
        .parse::<i32>()
        .ok()
        .filter(|&errno| errno >= 0)?;
    fields.next().is_none().then_some((pid, errno))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_monitors_sync_line_parses_strictly() {
        assert_eq!(parse_sync_line("1234 0\n"), Some((1234, 0)));
        assert_eq!(parse_sync_line("1234 2"), Some((1234, 2)));
        // Accepted before the parser got its property test: a PID of 0 or below, a negative
        // errno, a third field.
        for bad in ["-1 0\n", "0 0", "12 -5", "12 0 7", "", "12", "x 0", "12 y"] {
            assert_eq!(parse_sync_line(bad), None, "{bad:?}");
        }
    }

    proptest::proptest! {
        // Whatever a monitor writes, parsing never panics and never yields a PID that is not
        // one process; what pause writes always parses back.
        #[test]
        fn sync_lines_of_any_text_never_panic(line in ".{0,40}") {
            if let Some((pid, errno)) = parse_sync_line(&line) {
                proptest::prop_assert!(pid > 0 && errno >= 0);
            }
        }

        #[test]
        fn sync_lines_round_trip(pid in 1i32.., errno in 0i32..4096) {
            proptest::prop_assert_eq!(
                parse_sync_line(&format!("{pid} {errno}\n")),
                Some((pid, errno))
            );
        }
    }
}
