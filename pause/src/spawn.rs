//! Starting CMD: fork, set the child up, exec, and learn in the parent whether the exec worked.
//!
//! The exec-status pipe: both ends are close-on-exec. A successful `execve` closes the child's
//! write end, so the parent reads end of file; a failed one leaves the child to write its
//! 4-byte errno first. Either way the parent learns the outcome before it reports on `--sync-fd`.
//!
//! Between `fork` and `execve` the child runs only async-signal-safe code: raw system calls
//! and stack buffers (pause has no allocator to call by mistake).

use core::ffi::{CStr, c_int};

use crate::cli::{Options, PATH_MAX};
use crate::exit::{self, CANNOT_EXECUTE, Failure, NOT_FOUND};
use crate::sys::{self, CStrs, Errno, Fd, Forked, SigSet};
use crate::text::{self, Line};

/// Where to look for CMD when the environment has no `PATH` (the usual default of init systems).
const DEFAULT_PATH: &[u8] = b"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Forks and execs `command` (CMD ARGS...) with pause's environment `envp`; returns the child's
/// PID once the exec is known to have succeeded or failed, after reporting it on `--sync-fd`.
/// The child leads a process group of its own, made the foreground group of the terminal on
/// stdin if `take_terminal`.
pub fn spawn(
    options: &Options,
    command: CStrs,
    envp: CStrs,
    take_terminal: bool,
) -> Result<libc::pid_t, (Failure, Errno)> {
    // With --adopt, CMD is only the launcher: the PID to report is the one it leaves behind.
    let sync_fd = options.sync_fd.filter(|_| options.adopt.is_none());
    let (status_read, status_write) =
        sys::pipe_cloexec().map_err(|errno| (Failure::Pipe, errno))?;
    match sys::fork() {
        Err(errno) => Err((Failure::Fork, errno)),
        Ok(Forked::Child) => {
            drop(status_read);
            become_command(options, command, envp, take_terminal, &status_write)
        }
        Ok(Forked::Parent(pid)) => {
            // Close our copy of the write end, or the read below would never see end of file.
            drop(status_write);
            let exec_errno = read_exec_status(&status_read);
            if let Some(fd) = sync_fd {
                report_sync(fd, pid, exec_errno);
            }
            Ok(pid)
        }
    }
}

/// 0 when the child's exec succeeded, else the errno it failed with.
fn read_exec_status(status_read: &Fd) -> c_int {
    let mut errno = [0u8; 4];
    match status_read.read(&mut errno) {
        // Writes of up to PIPE_BUF bytes are atomic: the 4 bytes come together or not at all.
        Ok(4) => c_int::from_ne_bytes(errno),
        Ok(_) => 0,
        Err(Errno(read_errno)) => read_errno,
    }
}

/// Writes `<pid> <errno>\n` to the sync descriptor and closes it. EPIPE and other write
/// errors are ignored: the reader may be gone (e.g. `sandbox run` was killed). Every signal is
/// blocked, so the SIGPIPE that such a write raises cannot kill pause, but it stays pending, and
/// the signal loop would forward it to CMD as if someone had sent it: it is taken off here.
pub fn report_sync(fd: c_int, pid: libc::pid_t, exec_errno: c_int) {
    let mut line = Line::<32>::new();
    line.push_i64(pid.into())
        .push(b" ")
        .push_i64(exec_errno.into());
    if let Err(Errno(libc::EPIPE)) = sys::write_all(fd, line.end()) {
        let _ = sys::wait_signal(SigSet::of(libc::SIGPIPE), Some(0));
    }
    sys::close(fd);
}

/// The child's side: undo what pause set up for itself, apply the options, exec. Never returns.
fn become_command(
    options: &Options,
    command: CStrs,
    envp: CStrs,
    take_terminal: bool,
    status_write: &Fd,
) -> ! {
    if let Err((failure, errno)) = prepare(options, take_terminal) {
        let _ = status_write.write_all(&errno.0.to_ne_bytes());
        exit::fail(failure, errno);
    }
    let errno = exec_command(command, envp);
    let _ = status_write.write_all(&errno.0.to_ne_bytes());
    let mut reason = Line::<64>::new();
    let code = if matches!(errno.0, libc::ENOENT | libc::ENOTDIR) {
        reason.push(b"not found");
        NOT_FOUND
    } else {
        text::push_description(&mut reason, errno);
        CANNOT_EXECUTE
    };
    let name = command.clone().next().map_or(&b""[..], CStr::to_bytes);
    text::say(&[name, b": ", reason.as_bytes()]);
    sys::exit(code)
}

/// Everything between fork and exec, in this order: a process group of its own and, if asked,
/// the terminal (while every signal is still blocked, so SIGTTOU cannot stop a child that is
/// not yet in the foreground; a terminal that refuses leaves CMD in the background, which is no
/// reason not to run it); then the signal mask (the child must not inherit pause's, and a mask
/// survives execve); no_new_privs; the bounding set; then groups, gid, uid, since after setuid the child may no
/// longer change its groups; last, descriptors.
fn prepare(options: &Options, take_terminal: bool) -> Result<(), (Failure, Errno)> {
    sys::set_own_process_group().map_err(|errno| (Failure::SetPgid, errno))?;
    if take_terminal {
        let _ = sys::set_foreground_group(libc::STDIN_FILENO, sys::getpid());
    }
    sys::set_signal_mask(SigSet::NONE).map_err(|errno| (Failure::ChildSignalMask, errno))?;
    if options.no_new_privs {
        sys::set_no_new_privs().map_err(|errno| (Failure::NoNewPrivs, errno))?;
    }
    // Before the user changes: dropping needs CAP_SETPCAP, which setuid takes away.
    if let Some(keep) = options.bounding_caps {
        sys::limit_bounding_set(keep).map_err(|errno| (Failure::BoundingSet, errno))?;
    }
    if let Some(user) = options.user {
        sys::drop_supplementary_groups().map_err(|errno| (Failure::SetGroups, errno))?;
        sys::set_gid(user.gid).map_err(|errno| (Failure::SetGid, errno))?;
        sys::set_uid(user.uid).map_err(|errno| (Failure::SetUid, errno))?;
    }
    // Close-on-exec rather than close: the exec-status pipe must stay open until the exec.
    sys::set_cloexec_from(3).map_err(|errno| (Failure::CloseRange, errno))
}

/// Execs CMD: as given when it contains a '/', else from each directory of `PATH` in turn,
/// as `execvp` does (an empty entry means the current directory). Returns why it failed:
/// EACCES if some candidate was found but not executable, ENOENT if none was found, or the
/// first other error. An empty CMD names no file (ENOENT, as with `execvp`): searched for, it
/// would make each `PATH` entry a candidate, and a directory is "not executable".
fn exec_command(command: CStrs, envp: CStrs) -> Errno {
    let Some(cmd) = command.clone().next().filter(|cmd| !cmd.is_empty()) else {
        return Errno(libc::ENOENT);
    };
    if cmd.to_bytes().contains(&b'/') {
        return sys::execve(cmd, command, envp);
    }
    let path = env_value(envp, b"PATH").unwrap_or(DEFAULT_PATH);
    let mut denied = false;
    for dir in path.split(|&b| b == b':') {
        let mut candidate = Line::<PATH_MAX>::new();
        if !dir.is_empty() {
            candidate.push(dir).push(b"/");
        }
        candidate.push(cmd.to_bytes()).push(b"\0");
        if candidate.is_truncated() {
            continue;
        }
        let Ok(candidate) = CStr::from_bytes_with_nul(candidate.as_bytes()) else {
            continue;
        };
        match sys::execve(candidate, command, envp) {
            Errno(libc::ENOENT | libc::ENOTDIR) => {}
            Errno(libc::EACCES) => denied = true,
            other => return other,
        }
    }
    Errno(if denied { libc::EACCES } else { libc::ENOENT })
}

/// The value of `name` in the environment, if set.
fn env_value(envp: CStrs, name: &[u8]) -> Option<&'static [u8]> {
    envp.map(CStr::to_bytes).find_map(|entry| {
        entry
            .strip_prefix(name)
            .and_then(|rest| rest.strip_prefix(b"="))
    })
}
