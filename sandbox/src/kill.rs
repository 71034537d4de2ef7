//! How processes are killed outright: SIGKILL through a verified pidfd, wait on the pidfds
//! until they are gone, and fail, naming them, if any is still there after [`KILL_WAIT`]. `rm`,
//! the rollback of a failed create or run, and the end of a pod's leftovers come here. The stop
//! plan sends its own SIGKILL at the deadline (it reports how each container ended instead of
//! failing), and pause gets SIGTERM first.

use crate::error::{Error, Result};
use crate::policy::stop::KILL_WAIT;
use crate::sys::cgroup::Cgroup;
use crate::sys::process::{self, PidFd, ProcessRecord};

/// Sends SIGKILL to each of `pidfds` and waits until every one has exited. `what` names the
/// group in the error ("killing the containers of sandbox \"web\"").
pub fn kill_and_wait(pidfds: &[PidFd], what: impl FnOnce() -> String) -> Result<()> {
    for pidfd in pidfds {
        pidfd.send_signal(libc::SIGKILL)?;
    }
    let all: Vec<&PidFd> = pidfds.iter().collect();
    let survivors = process::wait_all(&all, KILL_WAIT)?;
    if survivors.is_empty() {
        return Ok(());
    }
    Err(Error::Survived {
        what: what(),
        pids: survivors.iter().map(|p| p.pid()).collect(),
        timeout: KILL_WAIT,
    })
}

/// Opens a verified pidfd on each recorded process that is still the one recorded (a record
/// of a process that exited, or whose PID now names another process, is skipped), then
/// [`kill_and_wait`]s them. Returns how many were killed.
pub fn kill_recorded(
    records: &[ProcessRecord],
    boot_id: &str,
    what: impl FnOnce() -> String,
) -> Result<usize> {
    let mut pidfds = Vec::new();
    for record in records {
        if let Some(pidfd) = record.open(boot_id)? {
            pidfds.push(pidfd);
        }
    }
    kill_and_wait(&pidfds, what)?;
    Ok(pidfds.len())
}

/// Kills everything left in `cgroup` and below it, all at once so that nothing forks away
/// (`cgroup.kill`, or freeze-kill-thaw), and waits for `cgroup.events` to say it is empty. A
/// cgroup that is empty or gone is left as it is. `what` names it in the error.
pub fn kill_cgroup(cgroup: &Cgroup<'_>, what: impl FnOnce() -> String) -> Result<()> {
    if cgroup.processes()?.is_empty() {
        return Ok(());
    }
    cgroup.kill()?;
    if cgroup.wait_empty(KILL_WAIT)? {
        return Ok(());
    }
    Err(Error::Survived {
        what: what(),
        pids: cgroup.processes()?,
        timeout: KILL_WAIT,
    })
}

/// [`kill_cgroup`], then removes it.
pub fn kill_cgroup_and_remove(cgroup: &Cgroup<'_>, what: impl FnOnce() -> String) -> Result<()> {
    kill_cgroup(cgroup, what)?;
    cgroup.remove()
}
