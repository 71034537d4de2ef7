//! `--adopt PIDFILE`: CMD is a launcher, not the process to watch. An OCI runtime's
//! `run --detach --pid-file PIDFILE ID` starts the container's process, writes its PID to
//! PIDFILE and exits; the process is then an orphan, and pause, as the child subreaper above
//! it, becomes its parent. That process is the one pause watches from then on: `--sync-fd`
//! reports its PID, `--exit-file` records its end, and pause exits as it did.
//!
//! While the launcher runs, pause waits for it alone (`wait4(launcher)`): a container process
//! that ends before the launcher has exited stays a zombie, its status kept for the main loop,
//! rather than being reaped as an anonymous orphan. A launcher that fails makes pause exit
//! with its code, reporting nothing on `--sync-fd` (the launcher said why on stderr).
//!
//! The launcher's exit is not the end of the hand-over: crun forks twice, and its last
//! intermediate process writes PIDFILE and exits after crun itself has. Until the process
//! named in PIDFILE is pause's child, pause reaps the orphaned intermediates as they end (each
//! end is a SIGCHLD) and reads PIDFILE again, for at most [`HANDOVER_SECS`]. An ended child is
//! reaped only once it is known not to be the adopted one: the process cannot be pause's child
//! before PIDFILE names it, since whoever writes PIDFILE is its parent or its launcher.

use core::ffi::CStr;

use crate::exit::{self, ExitStatus, Failure};
use crate::sys::{self, Errno, Reaped, SigSet};

/// How long the launcher's intermediate processes may take to hand the process over after
/// the launcher has exited.
const HANDOVER_SECS: u32 = 30;

/// Waits for the launcher to end and returns the PID it left in `pid_file`, a child of pause
/// by now. Signals that arrive meanwhile are passed on to the launcher.
pub fn wait_for_launcher(launcher: libc::pid_t, pid_file: &CStr) -> libc::pid_t {
    loop {
        match sys::reap_one(launcher, false) {
            Ok(Reaped::Child(_, wait_status)) => {
                let status = ExitStatus::from_wait_status(wait_status);
                if status.code != 0 {
                    sys::exit(status.code);
                }
                break;
            }
            Ok(Reaped::Running) => {}
            Ok(Reaped::NoChildren) => exit::fail(Failure::Reap, Errno(libc::ECHILD)),
            Err(errno) => exit::fail(Failure::Reap, errno),
        }
        match sys::wait_signal(SigSet::ALL, None) {
            Ok(Some(libc::SIGCHLD)) | Ok(None) => {}
            // ESRCH: the launcher ended and its SIGCHLD is on the way.
            Ok(Some(signal)) => {
                let _ = sys::kill(launcher, signal);
            }
            Err(errno) => exit::fail(Failure::WaitSignal, errno),
        }
    }
    let deadline_ns = sys::monotonic_ns() + sys::secs_to_ns(HANDOVER_SECS);
    loop {
        let named = read_pid(pid_file);
        // Only a process pause can wait for is one whose end it can record.
        if let Ok(pid) = named
            && sys::is_child(pid)
        {
            return pid;
        }
        loop {
            match sys::peek_children() {
                Ok(Reaped::Child(ended, _)) if Ok(ended) == named => return ended,
                Ok(Reaped::Child(ended, _)) => {
                    // PIDFILE may have been written since it was read: once a process has been
                    // handed to pause, whoever writes PIDFILE has written it.
                    if read_pid(pid_file) == Ok(ended) {
                        return ended;
                    }
                    // An intermediate process of the launcher's.
                    let _ = sys::reap_one(ended, false);
                }
                Ok(Reaped::Running) => break,
                // Nothing left that could still hand the process over.
                Ok(Reaped::NoChildren) => {
                    exit::fail(Failure::Adopt, named.err().unwrap_or(Errno(libc::ECHILD)))
                }
                Err(errno) => exit::fail(Failure::Reap, errno),
            }
        }
        match sys::wait_signal(SigSet::of(libc::SIGCHLD), Some(deadline_ns)) {
            Ok(Some(_)) => {}
            Ok(None) => exit::fail(Failure::Adopt, Errno(libc::ETIMEDOUT)),
            Err(errno) => exit::fail(Failure::WaitSignal, errno),
        }
    }
}

/// The PID in `path`: decimal digits, optionally followed by a newline (runc writes none, crun
/// none, conmon one). Anything else is EINVAL.
fn read_pid(path: &CStr) -> Result<libc::pid_t, Errno> {
    let file = sys::open_read(path)?;
    let mut buf = [0u8; 16];
    let mut len = 0;
    loop {
        let n = file.read(&mut buf[len..])?;
        if n == 0 {
            break;
        }
        len += n;
        if len == buf.len() {
            return Err(Errno(libc::EINVAL));
        }
    }
    parse_pid(&buf[..len]).ok_or(Errno(libc::EINVAL))
}

/// A PID above 0 in decimal, with at most one trailing newline.
fn parse_pid(text: &[u8]) -> Option<libc::pid_t> {
    let digits = text.strip_suffix(b"\n").unwrap_or(text);
    if digits.is_empty() || digits.len() > 10 {
        return None;
    }
    let pid = digits.iter().try_fold(0i64, |n, &d| {
        let digit = char::from(d).to_digit(10)?;
        Some(n * 10 + i64::from(digit))
    })?;
    libc::pid_t::try_from(pid).ok().filter(|&pid| pid > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid_files_parse_strictly() {
        assert_eq!(parse_pid(b"1234"), Some(1234));
        assert_eq!(parse_pid(b"1234\n"), Some(1234));
        for bad in [
            &b""[..],
            b"\n",
            b"0",
            b"-5",
            b"12 ",
            b"12\n\n",
            b"x",
            b"99999999999",
        ] {
            assert_eq!(parse_pid(bad), None, "{bad:?}");
        }
    }
}
