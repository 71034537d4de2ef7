//! App containers: processes joined to a pod's namespaces, each watched by a monitor.
//!
//! The monitor is `pause` itself in init mode (`pause --exit-file F --sync-fd N -- CMD`): a
//! static process of a few dozen KiB that forks CMD into the pod's PID namespace (it joined the
//! namespaces before exec, and `setns(CLONE_NEWPID)` applies to its children), reaps it and
//! writes `exit.json` atomically. Nothing else stays running per container.
//!
//! `run`: lock → record `creating` → clone3 the monitor (new session, pod namespaces, logs on
//! stdout/stderr, `--sync-fd` kept open) → record it with its start time, then let it exec
//! (see `spawn.rs`) → read `"<pid> <errno>"` from the sync pipe (the monitor writes it once
//! CMD's exec succeeded or failed) → verify the PID is the monitor's child and record it with
//! its start time → record `running`. An exec failure is reported with 127 (not found) or 126
//! (not executable) and leaves nothing behind.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use serde::{Deserialize, Serialize};

use crate::command::CommandSpec;
use crate::error::{Context, Error, Result};
use crate::exit;
use crate::host::Host;
use crate::pod::{PodRecord, now_rfc3339};
use crate::process::{self, ProcessRecord};
use crate::spawn::Spawn;
use crate::store::{self, validate_name};

/// The directory of a pod that holds its containers.
pub(crate) const CONTAINERS_DIR: &str = "containers";
const STATE_FILE: &str = "state.json";
const EXIT_FILE: &str = "exit.json";
const STDOUT_LOG: &str = "stdout.log";
const STDERR_LOG: &str = "stderr.log";

/// Where a container is in its life, as recorded on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContainerPhase {
    /// `run` is (or was, if it died) under way.
    Creating,
    /// Started; its exit is recorded in `exit.json` by the monitor.
    Started,
}

/// The container record, `containers/<name>/state.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ContainerRecord {
    /// Container name.
    pub name: String,
    /// The command and its settings.
    pub command: CommandSpec,
    /// Signal that `stop` sends first.
    pub stop_signal: i32,
    /// Recorded phase.
    pub phase: ContainerPhase,
    /// The monitor (pause in init mode).
    pub monitor: Option<ProcessRecord>,
    /// The container's main process (None if it exited before it could be recorded).
    pub process: Option<ProcessRecord>,
    /// Host PID of the main process, as the monitor reported it.
    pub pid: Option<i32>,
    /// When the command was started (RFC 3339).
    pub started_at: Option<String>,
}

/// The exit record the monitor writes, `containers/<name>/exit.json`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitRecord {
    /// Host PID of the process.
    pub pid: i32,
    /// Its status, or 128+n if killed by signal n.
    pub exit_code: i32,
    /// The signal that killed it.
    pub signal: Option<i32>,
    /// When the monitor reaped it (nanoseconds since the Unix epoch).
    pub finished_unix_ns: u64,
}

/// What `inspect` shows of a container.
#[derive(Clone, Debug, Serialize)]
pub struct ContainerStatus {
    /// Container name.
    pub name: String,
    /// `running`, `exited`, `creating`, `failed` (a `run` of it was interrupted), or `unknown`
    /// (its monitor died without recording an exit).
    pub state: String,
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
}

/// Options of `run`.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Container name.
    pub name: String,
    /// The command and its settings.
    pub command: CommandSpec,
    /// Signal that `stop` sends first (default SIGTERM).
    pub stop_signal: i32,
}

/// Opens (creating) a log file for appending, mode 0600, not following symlinks.
pub(crate) fn open_log(path: &Path) -> Result<File> {
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .context(|| format!("opening log file {}", path.display()))
}

fn container_dir(host: &Host, pod: &str, name: &str) -> PathBuf {
    host.store.pod_dir(pod).join(CONTAINERS_DIR).join(name)
}

/// A container's record and exit record, as read from disk.
struct Loaded {
    dir: PathBuf,
    record: ContainerRecord,
    exit: Option<ExitRecord>,
}

fn load(host: &Host, pod: &str, name: &str) -> Result<Loaded> {
    validate_name("container name", name)?;
    let dir = container_dir(host, pod, name);
    let record: ContainerRecord =
        store::read_json(&dir.join(STATE_FILE))?.ok_or_else(|| Error::ContainerNotFound {
            pod: pod.to_owned(),
            container: name.to_owned(),
        })?;
    let exit = store::read_json(&dir.join(EXIT_FILE))?;
    Ok(Loaded { dir, record, exit })
}

/// Loads every container of a pod. A corrupt record is an error, or with `lenient` (teardown)
/// a warning.
fn load_all(host: &Host, pod: &str, lenient: bool) -> Result<Vec<Loaded>> {
    let dir = host.store.pod_dir(pod).join(CONTAINERS_DIR);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).context(|| format!("listing containers in {}", dir.display())),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.context(|| format!("listing containers in {}", dir.display()))?;
        if let Some(name) = entry.file_name().to_str() {
            if validate_name("container name", name).is_ok() {
                names.push(name.to_owned());
            }
        }
    }
    names.sort();
    let mut loaded = Vec::new();
    for name in names {
        match load(host, pod, &name) {
            Ok(container) => loaded.push(container),
            // A directory without a record: `run` died before writing it; nothing runs.
            Err(Error::ContainerNotFound { .. }) => {}
            Err(error) if lenient => log::warn!(
                "skipping container {name:?} of sandbox {pod:?}: {}; its processes, if any, \
                 cannot be identified safely and are left alone",
                crate::error_chain(&error)
            ),
            Err(error) => return Err(error),
        }
    }
    Ok(loaded)
}

impl Loaded {
    /// Its status; `abandoned`: the pod's lock is free, so a `creating` record was left by a
    /// `run` that died (it holds the lock from the record's first write to its last).
    fn status(&self, boot_id: &str, abandoned: bool) -> ContainerStatus {
        let monitor_alive = self
            .record
            .monitor
            .as_ref()
            .is_some_and(|m| m.is_alive(boot_id));
        let (state, reason) = match (&self.exit, self.record.phase) {
            (Some(_), _) => ("exited", None),
            (None, ContainerPhase::Creating) if abandoned => (
                "failed",
                Some(format!(
                    "its run was interrupted; `sandbox run` with the name {:?} replaces it",
                    self.record.name
                )),
            ),
            (None, ContainerPhase::Creating) => ("creating", None),
            (None, ContainerPhase::Started) if monitor_alive => ("running", None),
            (None, ContainerPhase::Started) => (
                "unknown",
                Some(format!(
                    "its monitor (pid {}) died without recording an exit status",
                    self.record.monitor.as_ref().map_or(0, |m| m.pid)
                )),
            ),
        };
        ContainerStatus {
            name: self.record.name.clone(),
            state: state.to_owned(),
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
        }
    }

    /// Whether the container's main process or its monitor may still be running.
    fn may_be_running(&self, boot_id: &str) -> bool {
        let alive = |p: &Option<ProcessRecord>| p.as_ref().is_some_and(|p| p.is_alive(boot_id));
        self.exit.is_none() && (alive(&self.record.monitor) || alive(&self.main_process(boot_id)))
    }

    /// The main process and the monitor, where known.
    fn processes(&self, boot_id: &str) -> Vec<ProcessRecord> {
        self.main_process(boot_id)
            .into_iter()
            .chain(self.record.monitor.clone())
            .collect()
    }

    /// The container's main process. A `run` that died before recording it left it only as
    /// the monitor's child, so it is looked up there.
    fn main_process(&self, boot_id: &str) -> Option<ProcessRecord> {
        if self.record.process.is_some() || self.exit.is_some() {
            return self.record.process.clone();
        }
        let monitor = self
            .record
            .monitor
            .as_ref()
            .filter(|m| m.is_alive(boot_id))?;
        monitor.children().into_iter().next()
    }
}

/// The statuses of all containers of a pod.
pub(crate) fn statuses(host: &Host, pod: &PodRecord) -> Result<Vec<ContainerStatus>> {
    let containers = load_all(host, &pod.name, false)?;
    let creating = containers
        .iter()
        .any(|c| c.exit.is_none() && c.record.phase == ContainerPhase::Creating);
    let abandoned = creating && host.store.try_lock_pod(&pod.name)?.is_some();
    Ok(containers
        .iter()
        .map(|c| c.status(&host.boot_id, abandoned))
        .collect())
}

/// Whether any container of the pod may still be running.
pub(crate) fn any_running(host: &Host, pod: &PodRecord) -> Result<bool> {
    Ok(load_all(host, &pod.name, false)?
        .iter()
        .any(|c| c.may_be_running(&host.boot_id)))
}

/// SIGKILLs every container process and monitor of a pod and waits for them to go.
pub(crate) fn kill_all(host: &Host, pod: &str) -> Result<()> {
    let mut pidfds = Vec::new();
    for container in load_all(host, pod, true)? {
        for process in container.processes(&host.boot_id) {
            if let Some(pidfd) = process.open(&host.boot_id)? {
                pidfd.send_signal(libc::SIGKILL)?;
                pidfds.push(pidfd);
            }
        }
    }
    let pidfds: Vec<_> = pidfds.iter().collect();
    let survivors = process::wait_all(&pidfds, std::time::Duration::from_secs(10))?;
    if let Some(survivor) = survivors.first() {
        return Err(Error::Os {
            what: format!(
                "killing the containers of sandbox {pod:?}: process {} survived SIGKILL for 10s",
                survivor.pid()
            ),
            source: Errno::ETIMEDOUT,
        });
    }
    Ok(())
}

/// What `stop` needs of one container.
pub(crate) struct StopTarget {
    pub name: String,
    pub stop_signal: i32,
    pub exited_before: bool,
    pub process: Option<process::PidFd>,
    pub monitor: Option<process::PidFd>,
    dir: PathBuf,
}

impl StopTarget {
    /// The exit the monitor recorded, once it has.
    pub fn exit_record(&self) -> Result<Option<ExitRecord>> {
        store::read_json(&self.dir.join(EXIT_FILE))
    }
}

/// Opens verified pidfds on every container of a pod, for `stop`.
pub(crate) fn stop_targets(host: &Host, pod: &PodRecord) -> Result<Vec<StopTarget>> {
    load_all(host, &pod.name, false)?
        .into_iter()
        .map(|c| {
            let open = |p: &Option<ProcessRecord>| match p {
                Some(p) if c.exit.is_none() => p.open(&host.boot_id),
                _ => Ok(None),
            };
            Ok(StopTarget {
                process: open(&c.main_process(&host.boot_id))?,
                monitor: open(&c.record.monitor)?,
                exited_before: c.exit.is_some(),
                name: c.record.name.clone(),
                stop_signal: c.record.stop_signal,
                dir: c.dir,
            })
        })
        .collect()
}

impl Host {
    /// Starts a container in a running pod. Returns once its command has been exec'd.
    pub fn run_container(&self, pod: &str, options: &RunOptions) -> Result<ContainerStatus> {
        validate_name("container name", &options.name)?;
        options.command.validate()?;
        let _lock = self.store.lock_pod(pod)?;
        let pod_record = self.load_pod(pod)?;
        let namespaces = self.open_namespaces(&pod_record)?;
        let dir = container_dir(self, pod, &options.name);
        if let Ok(existing) = load(self, pod, &options.name) {
            if existing.record.phase != ContainerPhase::Creating {
                return Err(Error::ContainerExists {
                    pod: pod.to_owned(),
                    container: options.name.clone(),
                });
            }
            log::warn!(
                "container {:?} was left half-started by a command that died; replacing it",
                options.name
            );
            remove_container_dir(self, &existing)?;
        } else if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .context(|| format!("removing stale {}", dir.display()))?;
        }
        self.store.create_private_dir(&dir)?;
        let mut record = ContainerRecord {
            name: options.name.clone(),
            command: options.command.clone(),
            stop_signal: options.stop_signal,
            phase: ContainerPhase::Creating,
            monitor: None,
            process: None,
            pid: None,
            started_at: None,
        };
        let started = store::write_json(&dir.join(STATE_FILE), &record)
            .and_then(|()| self.start_container(&pod_record, &namespaces, &dir, &mut record));
        match started {
            Ok(()) => Ok(load(self, pod, &options.name)?.status(&self.boot_id, false)),
            Err(error) => {
                let loaded = Loaded {
                    dir,
                    record,
                    exit: None,
                };
                if let Err(cleanup) = remove_container_dir(self, &loaded) {
                    log::warn!(
                        "cleaning up container {:?} after a failed run: {cleanup}",
                        options.name
                    );
                }
                Err(error)
            }
        }
    }

    fn start_container(
        &self,
        pod: &PodRecord,
        namespaces: &[(File, crate::namespace::NamespaceKind)],
        dir: &Path,
        record: &mut ContainerRecord,
    ) -> Result<()> {
        let stdout = open_log(&dir.join(STDOUT_LOG))?;
        let stderr = open_log(&dir.join(STDERR_LOG))?;
        let dev_null = File::open("/dev/null").context(|| "opening /dev/null")?;
        let (sync_read, sync_write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .context(|| "creating the monitor's sync pipe")?;
        let exit_file = dir.join(EXIT_FILE);
        let monitor_options = [
            "--exit-file".to_owned(),
            exit_file.to_string_lossy().into_owned(),
            "--sync-fd".to_owned(),
            std::os::fd::AsRawFd::as_raw_fd(&sync_write).to_string(),
        ];
        let join = namespaces
            .iter()
            .map(|(file, kind)| (file.as_fd(), kind.clone_flag()))
            .collect();
        let monitor = Spawn::new(
            &self.pause,
            record.command.pause_args(&monitor_options),
            &record.command.environment(&pod.hostname),
        )?
        .join(join)
        .new_session()
        .cwd(record.command.workdir())?
        .stdio([
            Some(dev_null.as_fd()),
            Some(stdout.as_fd()),
            Some(stderr.as_fd()),
        ])
        .pass_fd(sync_write.as_fd())
        // Recorded before it may run (and start CMD), so a successor finds and kills it if we
        // die from here on; if we die before, it exits without running.
        .spawn_recorded(|monitor| {
            record.monitor = ProcessRecord::of(monitor.pid(), &self.boot_id);
            store::write_json(&dir.join(STATE_FILE), record)
        })
        .map_err(|e| match e {
            Error::Os { what, source } => Error::Os {
                what: format!(
                    "starting the monitor of container {:?}: {what}",
                    record.name
                ),
                source,
            },
            other => other,
        })?;
        drop(sync_write);
        let monitor_pid = monitor.pid();
        let (pid, errno) = read_sync(sync_read, monitor_pid)?;
        if errno != 0 {
            // The monitor exits with 127 or 126 right away; its status is the verdict.
            let status = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(monitor_pid), None)
                .context(|| format!("waiting for the monitor of container {:?}", record.name))?;
            let exit_code = match status {
                nix::sys::wait::WaitStatus::Exited(_, code @ (126 | 127)) => code as u8,
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
        record.pid = Some(pid);
        record.process = record
            .monitor
            .as_ref()
            .and_then(|monitor| ProcessRecord::of_child(pid, monitor));
        record.started_at = Some(now_rfc3339());
        record.phase = ContainerPhase::Started;
        store::write_json(&dir.join(STATE_FILE), record)?;
        log::debug!(
            "container {:?} started: pid {pid}, monitor pid {monitor_pid}",
            record.name
        );
        Ok(())
    }

    /// Blocks until the container has exited and returns its exit record. Event-driven: waits
    /// on a pidfd of the monitor, which exits right after writing the record.
    pub fn wait_container(&self, pod: &str, name: &str) -> Result<ExitRecord> {
        self.load_pod(pod)?;
        let container = load(self, pod, name)?;
        if let Some(exit) = container.exit {
            return Ok(exit);
        }
        let monitor = match &container.record.monitor {
            Some(monitor) => monitor.open(&self.boot_id)?,
            None => None,
        };
        if let Some(monitor) = monitor {
            process::wait_any(&[&monitor], None)?;
        }
        store::read_json(&container.dir.join(EXIT_FILE))?.ok_or_else(|| Error::Os {
            what: format!(
                "waiting for container {name:?} of sandbox {pod:?}: its monitor died without recording an exit status"
            ),
            source: Errno::ECHILD,
        })
    }

    /// Copies the container's stdout log to `out` and stderr log to `err`; with `follow`, keeps
    /// copying what it writes until it exits (woken by inotify and the monitor's pidfd).
    pub fn container_logs(
        &self,
        pod: &str,
        name: &str,
        follow: bool,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> Result<()> {
        self.load_pod(pod)?;
        let container = load(self, pod, name)?;
        let open = |log: &str| {
            let path = container.dir.join(log);
            std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                .open(&path)
                .context(|| format!("opening {}", path.display()))
        };
        let mut stdout_log = open(STDOUT_LOG)?;
        let mut stderr_log = open(STDERR_LOG)?;
        let mut copy_new = || -> Result<()> {
            copy_appended(&mut stdout_log, out)?;
            copy_appended(&mut stderr_log, err)
        };
        copy_new()?;
        let monitor = match (
            &container.record.monitor,
            follow && container.exit.is_none(),
        ) {
            (Some(monitor), true) => monitor.open(&self.boot_id)?,
            _ => None,
        };
        let Some(monitor) = monitor else {
            return Ok(());
        };
        let inotify = nix::sys::inotify::Inotify::init(
            nix::sys::inotify::InitFlags::IN_CLOEXEC | nix::sys::inotify::InitFlags::IN_NONBLOCK,
        )
        .context(|| "creating an inotify instance to follow logs")?;
        for log in [STDOUT_LOG, STDERR_LOG] {
            inotify
                .add_watch(
                    &container.dir.join(log),
                    nix::sys::inotify::AddWatchFlags::IN_MODIFY,
                )
                .context(|| format!("watching {}", container.dir.join(log).display()))?;
        }
        loop {
            let mut fds = [
                nix::poll::PollFd::new(inotify.as_fd(), nix::poll::PollFlags::POLLIN),
                nix::poll::PollFd::new(monitor.as_fd(), nix::poll::PollFlags::POLLIN),
            ];
            match nix::poll::poll(&mut fds, nix::poll::PollTimeout::NONE) {
                Ok(_) | Err(Errno::EINTR) => {}
                Err(errno) => return Err(errno).context(|| "following container logs"),
            }
            let exited = fds[1].revents().is_some_and(|r| !r.is_empty());
            while inotify.read_events().is_ok_and(|events| !events.is_empty()) {}
            copy_new()?;
            if exited {
                return Ok(());
            }
        }
    }
}

/// Copies what was appended to `log` since the last call into `sink`.
fn copy_appended(log: &mut File, sink: &mut dyn Write) -> Result<()> {
    std::io::copy(log, sink).context(|| "copying container logs")?;
    sink.flush().context(|| "writing container logs")
}

/// Reads the monitor's `"<pid> <errno>\n"` line.
fn read_sync(pipe: std::os::fd::OwnedFd, monitor_pid: i32) -> Result<(i32, i32)> {
    let mut line = String::new();
    File::from(pipe)
        .read_to_string(&mut line)
        .context(|| format!("reading the sync pipe of monitor {monitor_pid}"))?;
    parse_sync_line(&line).ok_or_else(|| Error::Os {
        what: format!(
            "starting a container: its monitor (pid {monitor_pid}) ended without reporting the command's start (got {line:?})"
        ),
        source: Errno::EPIPE,
    })
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

fn remove_container_dir(host: &Host, container: &Loaded) -> Result<()> {
    for process in container.processes(&host.boot_id) {
        if let Some(pidfd) = process.open(&host.boot_id)? {
            pidfd.send_signal(libc::SIGKILL)?;
            process::wait_all(&[&pidfd], std::time::Duration::from_secs(10))?;
        }
    }
    std::fs::remove_dir_all(&container.dir)
        .context(|| format!("removing {}", container.dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_monitors_exit_record_parses() {
        let line =
            r#"{"pid":1234,"exit_code":143,"signal":15,"finished_unix_ns":1763900000123456789}"#;
        let exit: ExitRecord = serde_json::from_str(line).unwrap();
        assert_eq!(exit.exit_code, 143);
        assert_eq!(exit.signal, Some(15));
        let normal = r#"{"pid":1,"exit_code":0,"signal":null,"finished_unix_ns":0}"#;
        assert_eq!(
            serde_json::from_str::<ExitRecord>(normal).unwrap().signal,
            None
        );
    }

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
