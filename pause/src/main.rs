//! `pause`: the PID 1 of a pod, and a tiny init for one command.
//!
//! **Hold mode** (`pause`): holds the pod's namespaces open by existing. It reaps every child
//! that ends (orphans of the whole PID namespace land on it), exits 0 with one line on stderr
//! on SIGINT or SIGTERM, and ignores every other signal.
//!
//! **Init mode** (`pause [OPTIONS] -- CMD [ARGS...]`): a drop-in for tini or catatonit. It runs
//! CMD as its child, forwards every signal it gets (except SIGCHLD) to it, reaps all zombies,
//! and exits with CMD's status, or 128+n when CMD died of signal n. Options add what the peers
//! lack: `--grace` (stop the rest of the namespace gracefully), `--remap-exit`, `--user`,
//! `--no-new-privs`, `--exit-file` (CMD's end as JSON), `--sync-fd` (CMD's PID and exec
//! result) and `--adopt` (watch the process a launcher such as an OCI runtime left behind). See `pause --help` and the modules for each.
//!
//! # Kernel facts pause relies on
//!
//! - Orphans are re-parented to PID 1 of their PID namespace, or to the nearest ancestor that
//!   made itself a *child subreaper* (`PR_SET_CHILD_SUBREAPER`); they stay zombies until it
//!   waits for them. When PID 1 of a namespace exits, the kernel SIGKILLs the whole namespace.
//! - PID 1 gets no default action for a signal it has no handler for (such signals are
//!   dropped), but a *blocked* signal is never dropped: it is queued, and `sigwaitinfo` takes it.
//!   So pause blocks every signal and waits for them; it installs no handler at all.
//! - A standard signal is pending at most once: one SIGCHLD may stand for many ended children.
//! - SIGCHLD set to SIG_IGN makes the kernel reap children itself and lose their statuses;
//!   an ignored disposition survives `execve`, so pause resets it to SIG_DFL.
//! - The signal mask survives `fork` and `execve`: the child unblocks everything before exec.
//! - `kill(-1, sig)` from PID 1 of a namespace reaches every other process in it.
//! - `close_range(3, ~0U, CLOSE_RANGE_CLOEXEC)` (Linux 5.11) marks every inherited descriptor
//!   close-on-exec in one call.
//! - A terminal sends SIGINT, SIGQUIT, SIGTSTP and SIGWINCH to its foreground process group;
//!   `tcsetpgrp` from outside that group stops the caller with SIGTTOU unless it blocks or
//!   ignores it. The kernel stops neither PID 1 nor an orphaned process group on SIGTSTP. See
//!   [`terminal`] for what pause makes of this.
//!
//! # System calls, in order
//!
//! Both modes: `rt_sigprocmask(SIG_SETMASK, all)`, `rt_sigaction(SIGCHLD, SIG_DFL)`, `getpid`;
//! when not PID 1, `prctl(PR_SET_CHILD_SUBREAPER)` (and, in hold mode only, one warning line).
//!
//! Hold mode then loops on `rt_sigtimedwait(all, no timeout)`: SIGCHLD → `wait4(-1, WNOHANG)`
//! until 0 or ECHILD; SIGINT/SIGTERM → `write(2)`, `exit_group(0)`.
//!
//! Init mode (steps in braces depend on an option): {`fcntl(N, F_GETFD)`},
//! {`openat(DIR, O_TMPFILE)`, `write`, `fsync`: the exit file's space}, `ioctl(0, TIOCGPGRP)`,
//! `getpgid(0)`, `pipe2(O_CLOEXEC)`, `fork`. The child: `setpgid(0, 0)`, {if pause's group is the
//! terminal's foreground group: `ioctl(0, TIOCSPGRP)`}, `rt_sigprocmask(SIG_SETMASK, none)`,
//! {`prctl(PR_SET_NO_NEW_PRIVS)`}, {`prctl(PR_CAPBSET_DROP)` per dropped capability},
//! {`setgroups(0, NULL)`, `setgid`, `setuid`},
//! `close_range(3, ~0U, CLOSE_RANGE_CLOEXEC)`, `execve` per `PATH` entry; on failure `write` of
//! the errno to the pipe, one line on stderr, `exit_group(126 or 127)`. The parent: `close`
//! (write end), `read` (EOF or errno), {`write(N)`, on EPIPE `rt_sigtimedwait(SIGPIPE, 0)` to
//! drop the SIGPIPE it raised, `close(N)`}, then loops on `rt_sigtimedwait`: a signal →
//! `kill(child, sig)`; SIGCHLD → `wait4(-1, WNOHANG)` until 0 or ECHILD (with a terminal also
//! `WUNTRACED`; when CMD stopped: `kill(0, SIGTSTP)`, `rt_sigprocmask` twice, {`ioctl(0,
//! TIOCSPGRP)`}, `kill(-CMD, SIGCONT)`). When the child has ended: {`pwrite`, `ftruncate`,
//! `fsync`, `linkat(PATH.tmp)`, `rename`}; {as PID 1 with `--grace`: `kill(-1, SIGTERM)`,
//! `rt_sigtimedwait` with the time left, `kill(-1, SIGKILL)`}; `exit_group(code)`.
//!
//! # Exit codes
//!
//! | code | meaning |
//! |---|---|
//! | 0 | hold mode stopped by SIGINT/SIGTERM; `--version`; `--help`; a `--remap-exit` code |
//! | s, 128+n | init mode: CMD exited with s, or was killed by signal n |
//! | 126 | CMD found but not executable (EACCES, ENOEXEC, ...) |
//! | 127 | CMD not found |
//! | 2 | usage error |
//! | 3 | blocking signals or resetting SIGCHLD failed |
//! | 4 | `PR_SET_CHILD_SUBREAPER` failed |
//! | 5 | waiting for signals failed |
//! | 6 | `waitpid` failed with other than ECHILD |
//! | 7 | creating the exec status pipe failed |
//! | 8 | `fork` failed |
//! | 9 | the `--sync-fd` descriptor is not open |
//! | 10–15 | in the child before exec: unblocking signals, no_new_privs, setgroups, setgid, setuid, close_range |
//! | 16 | reserving the space of the `--exit-file` failed (CMD was not started) |
//! | 17 | in the child before exec: `setpgid` |
//! | 18 | `--adopt`: the PID file is unreadable or malformed, or names no child of pause |
//! | 19 | in the child before exec: `PR_CAPBSET_DROP` (`--bounding-caps`) |
//!
//! Each failure prints one line naming the step and the errno. In init mode codes other than
//! 2–9 and 16 can also be CMD's own; `--exit-file` and `--sync-fd` tell them apart.
//!
//! # Size
//!
//! pause runs once per pod and once per container for as long as they live, so it is
//! `#![no_std]` on the `libc` crate (musl, linked statically): no allocator, no formatting
//! machinery, no unwinding. Every system call sits in a small safe wrapper in [`sys`].

#![cfg_attr(not(test), no_std)]
#![cfg_attr(not(test), no_main)]
// The unit tests cover the pure parts; the entry point and the modes are not built for them.
#![cfg_attr(test, allow(dead_code, unused_imports))]

mod adopt;
mod cli;
mod exit;
mod exit_file;
mod hold;
mod init;
mod reap;
mod spawn;
mod sys;
mod terminal;
mod text;

use core::ffi::{c_char, c_int};

use cli::{Command, UsageError};
use exit::Failure;
use sys::CStrs;

// The `libc` crate leaves linking the C library to `std` (its default `std` feature, which the
// other workspace members switch on for everyone), so a `no_std` binary names musl's libc.a
// itself. musl targets link statically by default (crt-static).
#[cfg(not(test))]
#[link(name = "c", kind = "static", modifiers = "-bundle")]
unsafe extern "C" {}

/// The C entry point: musl's start code calls it with the arguments and the environment.
#[cfg(not(test))]
#[unsafe(no_mangle)]
extern "C" fn main(_argc: c_int, argv: *const *const c_char, envp: *const *const c_char) -> c_int {
    // SAFETY: the C runtime passes NULL-terminated argv and envp arrays that live as long as
    // the process, and pause never changes them.
    let mut args = unsafe { CStrs::new(argv) };
    // SAFETY: as above.
    let envp = unsafe { CStrs::new(envp) };
    args.next(); // argv[0]
    match cli::parse(args) {
        Ok(Command::Version) => print(cli::VERSION),
        Ok(Command::Help) => print(cli::HELP),
        Ok(Command::Hold) => {
            take_over_signals();
            if sys::pid1().is_none() {
                become_subreaper();
                warn_not_pid1();
            }
            hold::run()
        }
        Ok(Command::Init { options, command }) => {
            if options.sync_fd.is_some_and(|fd| !sys::is_open(fd)) {
                exit::fail(Failure::SyncFd, sys::Errno(libc::EBADF));
            }
            take_over_signals();
            let pid1 = sys::pid1();
            if pid1.is_none() {
                // Silently: as a per-container monitor, not being PID 1 is the normal case.
                become_subreaper();
            }
            init::run(&options, command, envp, pid1)
        }
        Err(error) => usage_error(&error),
    }
}

/// Blocks every signal (they are taken with `sigwaitinfo`, never delivered) and makes sure the
/// kernel keeps ended children around for pause to reap.
fn take_over_signals() {
    if let Err(errno) = sys::set_signal_mask(sys::SigSet::ALL).and_then(|()| sys::default_sigchld())
    {
        exit::fail(Failure::SignalSetup, errno);
    }
}

fn become_subreaper() {
    if let Err(errno) = sys::set_child_subreaper() {
        exit::fail(Failure::Subreaper, errno);
    }
}

/// One line, after becoming a subreaper, so a reader of the line can rely on it.
fn warn_not_pid1() {
    let mut pid = text::Line::<16>::new();
    pid.push_i64(sys::getpid().into());
    text::say(&[
        b"warning: not PID 1 (pid ",
        pid.as_bytes(),
        b"); reaping orphans as a child subreaper",
    ]);
}

/// Writes `text` on stdout and exits 0.
fn print(text: &str) -> c_int {
    let _ = sys::write_all(libc::STDOUT_FILENO, text.as_bytes());
    0
}

/// Names the fault and prints the synopsis on stderr; exit code 2.
fn usage_error(error: &UsageError) -> c_int {
    match error {
        UsageError::UnknownOption(arg) => text::say(&[b"unknown argument: ", arg.to_bytes()]),
        UsageError::MissingValue(option) => text::say(&[option.as_bytes(), b" needs a value"]),
        UsageError::BadValue(option, value) => text::say(&[
            b"invalid value for ",
            option.as_bytes(),
            b": ",
            value.to_bytes(),
        ]),
        UsageError::MissingCommand => text::say(&[b"missing -- CMD"]),
        UsageError::TooManyRemaps => text::say(&[b"too many --remap-exit"]),
    }
    let _ = sys::write_all(libc::STDERR_FILENO, cli::USAGE.as_bytes());
    Failure::Usage as c_int
}

/// A panic cannot be reported without the formatting machinery pause leaves out; abort.
#[cfg(not(test))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    // SAFETY: abort takes no arguments and does not return.
    unsafe { libc::abort() }
}

/// Never called: pause is built with `panic = "abort"`, but the precompiled `core` still names
/// the unwinder's personality routine in its unwind tables, which a non-LTO build must resolve.
#[cfg(not(test))]
#[unsafe(no_mangle)]
extern "C" fn rust_eh_personality() {}
