//! Init mode (`pause [OPTIONS] -- CMD [ARGS...]`): run CMD as the one main child, pass every
//! signal on to it, reap everything, and exit as CMD did.
//!
//! The end of the main child is recorded at once (the `--exit-file`), then:
//! - without `--grace` (or when pause is not PID 1), pause exits as tini does; as PID 1 its
//!   exit makes the kernel SIGKILL what is left of the PID namespace;
//! - with `--grace SECS` as PID 1, pause sends SIGTERM to every process left (`kill(-1)`),
//!   keeps reaping, and at the deadline sends SIGKILL to the rest; it exits when none is left.
//!   A SIGTERM to pause starts the same drain while CMD still runs: the broadcast is also the
//!   forward to CMD, so CMD gets SIGTERM once, not twice.

use crate::adopt;
use crate::cli::Options;
use crate::exit::{self, ExitStatus, Failure};
use crate::exit_file::ExitFile;
use crate::reap::{self, Children};
use crate::spawn;
use crate::sys::{self, CStrs, Pid1, SigSet};
use crate::terminal::Terminal;

/// Where the end of the pod is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// The main child runs, or has ended and nothing else needs waiting for.
    Running,
    /// Everyone got SIGTERM; SIGKILL follows at this monotonic time.
    Draining { deadline_ns: u64 },
    /// Everyone got SIGKILL; only reaping is left.
    Killed,
}

/// Runs `command` and supervises it until pause exits. `pid1` is the proof that pause is PID 1
/// of its namespace, without which `--grace` has no one else to stop.
pub fn run(options: &Options, command: CStrs, envp: CStrs, pid1: Option<Pid1>) -> ! {
    // Before CMD starts: once it runs, its end must find the space to be recorded.
    let mut exit_file = options.exit_file.map(ExitFile::reserve);
    let terminal = Terminal::of_stdin();
    let take_terminal = terminal.as_ref().is_some_and(Terminal::is_ours);
    let launched = spawn::spawn(options, command, envp, take_terminal)
        .unwrap_or_else(|(failure, errno)| exit::fail(failure, errno));
    let main_pid = match options.adopt {
        Some(pid_file) => {
            let adopted = adopt::wait_for_launcher(launched, pid_file);
            if let Some(fd) = options.sync_fd {
                spawn::report_sync(fd, adopted, 0);
            }
            adopted
        }
        None => launched,
    };
    let grace = pid1.zip(options.grace_secs);
    let mut main_status: Option<ExitStatus> = None;
    let mut phase = Phase::Running;
    // An adopted process may have ended before its launcher did; the SIGCHLD that said so
    // was taken while waiting for the launcher, so the first pass reaps without waiting.
    let mut reap_first = options.adopt.is_some();
    loop {
        let deadline_ns = match phase {
            Phase::Draining { deadline_ns } => Some(deadline_ns),
            Phase::Running | Phase::Killed => None,
        };
        let signal = if core::mem::take(&mut reap_first) {
            Some(libc::SIGCHLD)
        } else {
            sys::wait_signal(SigSet::ALL, deadline_ns)
                .unwrap_or_else(|errno| exit::fail(Failure::WaitSignal, errno))
        };
        match (signal, &grace) {
            (Some(libc::SIGCHLD), _) => {}
            (None, Some((pid1, _))) => {
                // The grace period is over.
                sys::kill_all(pid1, libc::SIGKILL);
                phase = Phase::Killed;
                continue;
            }
            (Some(libc::SIGTERM), Some((pid1, secs)))
                if phase == Phase::Running && main_status.is_none() =>
            {
                phase = drain(pid1, *secs);
                continue;
            }
            (Some(signal), _) => {
                match (main_status, &terminal) {
                    (Some(_), _) => {}
                    (None, Some(terminal)) if signal == libc::SIGCONT => {
                        terminal.continue_command(main_pid);
                    }
                    // ESRCH: the child ended and its SIGCHLD is still on the way; nothing to do.
                    (None, _) => {
                        let _ = sys::kill(main_pid, signal);
                    }
                }
                continue;
            }
            (None, None) => continue,
        }
        let mut main_stopped = false;
        let children = reap::reap_all(terminal.is_some(), |pid, wait_status| {
            if pid != main_pid {
                return;
            }
            if libc::WIFSTOPPED(wait_status) {
                main_stopped = true;
                return;
            }
            let status = ExitStatus::from_wait_status(wait_status);
            main_status = Some(status);
            if let Some(file) = exit_file.take() {
                file.write(pid, status);
            }
            if let Some(terminal) = &terminal {
                terminal.command_ended(pid);
            }
        });
        let Some(status) = main_status else {
            if let (true, Some(terminal)) = (main_stopped, &terminal) {
                terminal.command_stopped(main_pid);
            }
            continue;
        };
        match (&grace, children, phase) {
            (Some((pid1, secs)), Children::Running, Phase::Running) => phase = drain(pid1, *secs),
            (Some(_), Children::Running, Phase::Draining { .. } | Phase::Killed) => {}
            (None, _, _) | (_, Children::Gone, _) => sys::exit(options.remap(status.code)),
        }
    }
}

/// Sends SIGTERM to every other process of the namespace and returns the draining phase.
fn drain(pid1: &Pid1, grace_secs: u32) -> Phase {
    sys::kill_all(pid1, libc::SIGTERM);
    Phase::Draining {
        deadline_ns: sys::monotonic_ns() + sys::secs_to_ns(grace_secs),
    }
}
