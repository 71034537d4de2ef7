//! Exit codes: how a child's wait status becomes a code (s, or 128+n), and the codes pause
//! uses for its own failures. The table is in the crate documentation.

use core::ffi::c_int;

use crate::sys::{self, Errno};
use crate::text::{self, Line};

/// How a process ended, as the shell and container runtimes report it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExitStatus {
    /// The exit status s, or 128+n when the process was killed by signal n.
    pub code: c_int,
    /// n when the process was killed by signal n.
    pub signal: Option<c_int>,
}

impl ExitStatus {
    /// Maps the raw wait status of a process that ended (not one that stopped).
    pub fn from_wait_status(status: c_int) -> ExitStatus {
        if libc::WIFSIGNALED(status) {
            let signal = libc::WTERMSIG(status);
            ExitStatus {
                code: 128 + signal,
                signal: Some(signal),
            }
        } else {
            ExitStatus {
                code: libc::WEXITSTATUS(status),
                signal: None,
            }
        }
    }
}

/// Exit code when CMD was found but could not be executed (EACCES, ENOEXEC, ...).
pub const CANNOT_EXECUTE: c_int = 126;
/// Exit code when CMD was not found.
pub const NOT_FOUND: c_int = 127;

/// A step whose failure ends pause. The discriminant is pause's exit code; the steps from
/// `ChildSignalMask` on run in the forked child, whose exit code pause then passes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// Bad command line.
    Usage = 2,
    /// Blocking all signals, or restoring SIGCHLD's default action.
    SignalSetup = 3,
    /// PR_SET_CHILD_SUBREAPER.
    Subreaper = 4,
    /// rt_sigtimedwait.
    WaitSignal = 5,
    /// waitpid failed with something other than ECHILD.
    Reap = 6,
    /// Creating the exec-status pipe.
    Pipe = 7,
    /// fork.
    Fork = 8,
    /// The descriptor given to --sync-fd is not open.
    SyncFd = 9,
    /// Reserving the space of the --exit-file (before CMD starts).
    ExitFile = 16,
    /// setpgid(0, 0) in the child: CMD leads a process group of its own.
    SetPgid = 17,
    /// Reading the PID the launcher left in --adopt's file, or it names no child of pause.
    Adopt = 18,
    /// PR_CAPBSET_DROP in the child (--bounding-caps).
    BoundingSet = 19,
    /// Unblocking all signals in the child.
    ChildSignalMask = 10,
    /// PR_SET_NO_NEW_PRIVS in the child.
    NoNewPrivs = 11,
    /// setgroups(0, NULL) in the child.
    SetGroups = 12,
    /// setgid in the child.
    SetGid = 13,
    /// setuid in the child.
    SetUid = 14,
    /// close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) in the child.
    CloseRange = 15,
}

impl Failure {
    /// What pause was doing, for the message.
    fn what(self) -> &'static str {
        match self {
            Failure::Usage => "usage",
            Failure::SignalSetup => "blocking signals",
            Failure::Subreaper => "becoming a child subreaper",
            Failure::WaitSignal => "waiting for signals",
            Failure::Reap => "reaping children",
            Failure::Pipe => "creating the exec status pipe",
            Failure::Fork => "forking CMD",
            Failure::SyncFd => "--sync-fd",
            Failure::ExitFile => "reserving the exit file",
            Failure::SetPgid => "putting CMD in a process group of its own",
            Failure::Adopt => "adopting the process named in the --adopt file",
            Failure::BoundingSet => "dropping capabilities from the bounding set",
            Failure::ChildSignalMask => "unblocking signals for CMD",
            Failure::NoNewPrivs => "setting no_new_privs",
            Failure::SetGroups => "dropping supplementary groups",
            Failure::SetGid => "setgid",
            Failure::SetUid => "setuid",
            Failure::CloseRange => "marking inherited descriptors close-on-exec",
        }
    }
}

/// Prints `pause: <what>: <errno>` on stderr and exits with the failure's code.
pub fn fail(failure: Failure, errno: Errno) -> ! {
    let mut reason = Line::<64>::new();
    text::push_errno(&mut reason, errno);
    text::say(&[failure.what().as_bytes(), b": ", reason.as_bytes()]);
    sys::exit(failure as c_int)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_status_is_s() {
        // Wait status layout: exit code in bits 8..16.
        let status = ExitStatus::from_wait_status(7 << 8);
        assert_eq!(
            status,
            ExitStatus {
                code: 7,
                signal: None
            }
        );
    }

    #[test]
    fn death_by_signal_is_128_plus_n() {
        let term = ExitStatus::from_wait_status(libc::SIGTERM);
        assert_eq!(
            term,
            ExitStatus {
                code: 143,
                signal: Some(15)
            }
        );
        // A core dump sets bit 7; the code stays 128+n.
        let segv = ExitStatus::from_wait_status(libc::SIGSEGV | 0x80);
        assert_eq!(
            segv,
            ExitStatus {
                code: 139,
                signal: Some(11)
            }
        );
    }
}
