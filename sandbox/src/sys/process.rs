//! Process identity that survives PID reuse. A PID alone names whichever process holds it now
//! (`pid_max` is 32768 on many hosts, so PIDs come round quickly); a [`ProcessRecord`] also keeps
//! the process's start time (field 22 of `/proc/PID/stat`) and the boot id, and a process is
//! only signalled through a pidfd opened *and then verified* against that record, so a
//! recycled PID is never hit.
//!
//! Order: `pidfd_open(pid)` → re-read `/proc/PID/stat` and compare the start time → use the
//! pidfd. If the PID was recycled between the two steps, the start time differs (the new process
//! started later), so a verified pidfd always refers to the recorded process.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use serde::{Deserialize, Serialize};

use crate::error::{Context, Result};

const BOOT_ID_PATH: &str = "/proc/sys/kernel/random/boot_id";

/// A process named by PID, start time and boot: what state files store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessRecord {
    /// PID in the host's PID namespace.
    pub pid: i32,
    /// Start time in clock ticks after boot (`/proc/PID/stat` field 22).
    pub start_time: u64,
    /// `/proc/sys/kernel/random/boot_id` when the record was made.
    pub boot_id: String,
}

/// The current boot's id, so records from before a reboot are known dead.
pub fn boot_id() -> Result<String> {
    std::fs::read_to_string(BOOT_ID_PATH)
        .map(|id| id.trim().to_owned())
        .context(|| format!("reading the boot id from {BOOT_ID_PATH}"))
}

/// `/proc/PID/stat` of a live (not zombie) process: (start time, parent PID).
fn stat_of(pid: i32) -> Option<(u64, i32)> {
    let stat = procfs::process::Process::new(pid).ok()?.stat().ok()?;
    if matches!(stat.state, 'Z' | 'X' | 'x') {
        return None;
    }
    Some((stat.starttime, stat.ppid))
}

/// Whether process `pid` takes `signal`: it has a handler for it (`SigCgt`), blocks it
/// (`SigBlk`, as a `signalfd` reader does), or waits for signals in `rt_sigtimedwait` (as
/// `pause` does: during the wait the kernel shows the waited signals unblocked and keeps the
/// real mask aside); `None` if that cannot be read. PID 1 of a PID namespace gets only such
/// signals from outside (and SIGKILL): the kernel drops the others, and never drops a blocked
/// one, since a handler may be set before it is unblocked.
pub fn takes_signal(pid: i32, signal: i32) -> Option<bool> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let mask = |field: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(field))
            .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
    };
    let taken = mask("SigCgt:")? | mask("SigBlk:")?;
    let bit = u32::try_from(signal).ok()?.checked_sub(1)?;
    if taken.checked_shr(bit).is_some_and(|m| m & 1 == 1) {
        return Some(true);
    }
    // `/proc/PID/syscall` starts with the number of the system call the process is blocked in.
    let syscall = std::fs::read_to_string(format!("/proc/{pid}/syscall")).ok()?;
    let waiting = syscall.split(' ').next() == Some(&libc::SYS_rt_sigtimedwait.to_string());
    Some(waiting)
}

impl ProcessRecord {
    /// Records the live process `pid`; `None` if it has already exited.
    pub fn of(pid: i32, boot_id: &str) -> Option<ProcessRecord> {
        let (start_time, _) = stat_of(pid)?;
        Some(ProcessRecord {
            pid,
            start_time,
            boot_id: boot_id.to_owned(),
        })
    }

    /// Records our child `pid`, alive or a zombie: until we reap it, its PID cannot name
    /// another process (what is left of a session whose leader has exited is found by it).
    pub fn of_unreaped_child(pid: i32, boot_id: &str) -> Option<ProcessRecord> {
        let stat = procfs::process::Process::new(pid).ok()?.stat().ok()?;
        Some(ProcessRecord {
            pid,
            start_time: stat.starttime,
            boot_id: boot_id.to_owned(),
        })
    }

    /// Records `pid` only if it is alive and a child of `parent` (how a container process is
    /// tied to its monitor, which reported the PID).
    pub fn of_child(pid: i32, parent: &ProcessRecord) -> Option<ProcessRecord> {
        let (start_time, ppid) = stat_of(pid)?;
        (ppid == parent.pid && start_time >= parent.start_time).then(|| ProcessRecord {
            pid,
            start_time,
            boot_id: parent.boot_id.clone(),
        })
    }

    /// The live children of the recorded process, found by scanning `/proc` (the kernel's
    /// `children` file needs CONFIG_PROC_CHILDREN, which many kernels lack).
    pub fn children(&self) -> Vec<ProcessRecord> {
        self.later_processes(|stat| stat.ppid == self.pid)
    }

    /// The PID of the recorded process's parent, while it runs.
    pub fn parent_pid(&self) -> Option<i32> {
        stat_of(self.pid)
            .filter(|(start, _)| *start == self.start_time)
            .map(|(_, parent)| parent)
    }

    /// The live processes of the session the recorded process leads (its descendants that did
    /// not start a session of their own), itself excluded; found by scanning `/proc`, so it
    /// works after the leader has died. Only processes started after the leader count (a PID
    /// number reused as a session id later is not its session).
    pub fn session_members(&self) -> Vec<ProcessRecord> {
        self.later_processes(|stat| stat.session == self.pid && stat.pid != self.pid)
    }

    /// The live processes that `keep` accepts among those started no earlier than the
    /// recorded one (a later process cannot be an earlier one's parent or session leader).
    fn later_processes(&self, keep: impl Fn(&procfs::process::Stat) -> bool) -> Vec<ProcessRecord> {
        let Ok(all) = procfs::process::all_processes() else {
            return Vec::new();
        };
        all.filter_map(|p| p.ok())
            .filter_map(|p| p.stat().ok())
            .filter(|stat| stat.starttime >= self.start_time && keep(stat))
            .filter(|stat| !matches!(stat.state, 'Z' | 'X' | 'x'))
            .map(|stat| ProcessRecord {
                pid: stat.pid,
                start_time: stat.starttime,
                boot_id: self.boot_id.clone(),
            })
            .collect()
    }

    /// Whether the recorded process is still running (same boot, same start time, not a zombie).
    pub fn is_alive(&self, boot_id: &str) -> bool {
        self.boot_id == boot_id
            && stat_of(self.pid).is_some_and(|(start, _)| start == self.start_time)
    }

    /// Opens a pidfd for the recorded process; `None` if it is gone (or the PID now names
    /// another process).
    pub fn open(&self, boot_id: &str) -> Result<Option<PidFd>> {
        if self.boot_id != boot_id {
            return Ok(None);
        }
        let pidfd = match PidFd::open(self.pid) {
            Ok(pidfd) => pidfd,
            Err(Errno::ESRCH) => return Ok(None),
            Err(errno) => {
                return Err(errno).context(|| format!("opening a pidfd for process {}", self.pid));
            }
        };
        // Verify after opening: see the module doc.
        Ok(self.is_alive(boot_id).then_some(pidfd))
    }
}

/// A pidfd: a handle on one process that can never refer to another one.
#[derive(Debug)]
pub struct PidFd {
    fd: OwnedFd,
    pid: i32,
}

impl PidFd {
    /// `pidfd_open(2)` for `pid`.
    pub fn open(pid: i32) -> std::result::Result<PidFd, Errno> {
        // SAFETY: pidfd_open takes a PID and flags and returns a new descriptor or -1.
        let raw = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        let raw = Errno::result(raw)?;
        // SAFETY: the kernel just returned this descriptor to us; nothing else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(raw as i32) };
        Ok(PidFd { fd, pid })
    }

    /// Wraps a pidfd the kernel returned for `pid` (from `clone3(CLONE_PIDFD)`).
    pub(crate) fn from_owned(fd: OwnedFd, pid: i32) -> PidFd {
        PidFd { fd, pid }
    }

    /// The PID this pidfd refers to.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Sends `signal`; a process that already exited is not an error (`ESRCH` is success, as
    /// the signal's purpose, ending the process, is met).
    pub fn send_signal(&self, signal: i32) -> Result<()> {
        // SAFETY: pidfd_send_signal takes a pidfd we own, a signal number, a null siginfo
        // (the kernel fills in a SI_USER one) and flags.
        let res = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                self.fd.as_raw_fd(),
                signal,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            )
        };
        match Errno::result(res) {
            Ok(_) | Err(Errno::ESRCH) => Ok(()),
            Err(errno) => Err(errno).context(|| {
                format!(
                    "sending {} to process {}",
                    crate::exit::signal_name(signal),
                    self.pid
                )
            }),
        }
    }

    /// Whether the process has exited (the pidfd is readable).
    pub fn has_exited(&self) -> Result<bool> {
        Ok(!wait_any(&[self], Some(Duration::ZERO))?.is_empty())
    }
}

impl AsFd for PidFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Reaps child `pid` (waiting for it to end); its exit code: its status, or 128+n if signal n
/// killed it.
pub fn reap(pid: i32, what: impl FnOnce() -> String) -> Result<i32> {
    use nix::sys::wait::WaitStatus;
    loop {
        match nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(code),
            Ok(WaitStatus::Signaled(_, signal, _)) => {
                return Ok(crate::exit::code_for_signal(signal as i32));
            }
            Ok(_) | Err(Errno::EINTR) => continue,
            Err(errno) => {
                return Err(crate::error::Error::Os {
                    what: what(),
                    source: errno,
                });
            }
        }
    }
}

/// Opens the root directory of `process` as it sees it (`/proc/PID/root`, `O_PATH`), checking
/// after the open that the PID was still its.
pub fn open_root(process: &PidFd) -> Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = format!("/proc/{}/root", process.pid());
    let what = || format!("opening {path}");
    let root = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(&path)
        .context(what)?;
    if process.has_exited()? {
        return Err(crate::error::Error::Io {
            what: what(),
            source: std::io::Error::other("the process exited"),
        });
    }
    Ok(root)
}

/// Waits until at least one of `pidfds` has exited, or `timeout` passes (`None`: forever).
/// Returns the indexes of those that have exited (empty on timeout). Event-driven: the kernel
/// wakes us the moment a process exits, there is no polling tick.
pub fn wait_any(pidfds: &[&PidFd], timeout: Option<Duration>) -> Result<Vec<usize>> {
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        let mut fds: Vec<PollFd> = pidfds
            .iter()
            .map(|p| PollFd::new(p.as_fd(), PollFlags::POLLIN))
            .collect();
        let remaining = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let poll_timeout = match remaining {
            None => PollTimeout::NONE,
            // Round up so a wait never ends a fraction of a millisecond early.
            Some(left) => {
                PollTimeout::try_from(left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32)
                    .unwrap_or(PollTimeout::MAX)
            }
        };
        match poll(&mut fds, poll_timeout) {
            Ok(_) => {}
            Err(Errno::EINTR) => continue,
            Err(errno) => {
                return Err(errno).context(|| "waiting for processes to exit (poll on pidfds)");
            }
        }
        let exited: Vec<usize> = fds
            .iter()
            .enumerate()
            .filter(|(_, fd)| fd.revents().is_some_and(|r| !r.is_empty()))
            .map(|(i, _)| i)
            .collect();
        if !exited.is_empty() || deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(exited);
        }
    }
}

/// Waits until every one of `pidfds` has exited or `timeout` passes; returns those still running.
pub fn wait_all<'a>(pidfds: &[&'a PidFd], timeout: Duration) -> Result<Vec<&'a PidFd>> {
    let deadline = Instant::now() + timeout;
    let mut running: Vec<&PidFd> = pidfds.to_vec();
    while !running.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        let exited = wait_any(&running, Some(left))?;
        if exited.is_empty() {
            break;
        }
        running = running
            .into_iter()
            .enumerate()
            .filter(|(i, _)| !exited.contains(i))
            .map(|(_, p)| p)
            .collect();
    }
    Ok(running)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_of_ourselves_is_alive_and_a_changed_start_time_is_not() {
        let boot = boot_id().unwrap();
        let me = ProcessRecord::of(std::process::id() as i32, &boot).unwrap();
        assert!(me.is_alive(&boot));
        let recycled = ProcessRecord {
            start_time: me.start_time + 1,
            ..me.clone()
        };
        assert!(!recycled.is_alive(&boot));
        assert!(recycled.open(&boot).unwrap().is_none());
        let other_boot = ProcessRecord {
            boot_id: "another-boot".into(),
            ..me
        };
        assert!(!other_boot.is_alive(&boot));
    }
}
