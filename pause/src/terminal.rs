//! The controlling terminal, and job control for CMD.
//!
//! CMD always leads a process group of its own (`setpgid(0, 0)` in the child, as tini and
//! catatonit do). What a terminal sends goes to its foreground process group: SIGINT on Ctrl-C,
//! SIGQUIT on Ctrl-\, SIGTSTP on Ctrl-Z, SIGWINCH, and SIGHUP when the session ends. In pause's
//! group, CMD would get each of them twice: from the terminal, and forwarded by pause. When
//! stdin is pause's controlling terminal and pause's group is in its foreground, the child also
//! makes its new group the foreground group (`TIOCSPGRP`); a pause in the background leaves the
//! terminal to whoever has it.
//!
//! In a group of its own, CMD alone stops on Ctrl-Z, and the shell that started pause would wait
//! for a job that never stops, before a terminal nobody reads. So when CMD stops (pause reaps
//! with `WUNTRACED` while it has a controlling terminal), pause sends SIGTSTP to its own group
//! and unblocks it for a moment: pause stops with its job, the shell sees the job stop and takes
//! the terminal back, as it does for any job. `fg` gives the terminal to pause's group and sends
//! SIGCONT: pause then gives the terminal to CMD's group and sends it SIGCONT (after `bg`, only
//! the SIGCONT; if CMD then reads the terminal, it stops again, and so does pause's job).
//!
//! Where nothing could continue pause, Ctrl-Z does nothing: if CMD had the terminal, pause sends
//! it SIGCONT at once. That is the case when the kernel discards the SIGTSTP because pause's
//! process group is orphaned (no shell in its session could resume it: pause leads its own
//! session, as in a container), and always for PID 1, which the kernel never stops; PID 1 does
//! not stop the rest of its group either (under `unshare --pid --fork`, that would stop the
//! job without CMD).
//!
//! A SIGCONT to pause while CMD runs does what `fg` does (a job started in the background and
//! brought to the foreground), and when CMD ends pause takes the terminal back for its group.
//!
//! A process group outside pause's PID namespace has the number 0 there: as PID 1 under
//! `unshare --fork`, pause's group (unshare's) and a shell's both read as 0, so pause takes a
//! foreground group of 0 for its own when it decides whether to hand the terminal to CMD.

use core::ffi::c_int;

use crate::exit::{self, Failure};
use crate::sys::{self, SigSet};

const STDIN: c_int = libc::STDIN_FILENO;

/// Pause's controlling terminal, on its stdin.
pub struct Terminal {
    /// Pause's own process group (0 if it is outside pause's PID namespace).
    own: libc::pid_t,
    /// Whether pause can stop: PID 1 cannot.
    can_stop: bool,
}

impl Terminal {
    /// `Some` when stdin is pause's controlling terminal.
    pub fn of_stdin() -> Option<Terminal> {
        sys::foreground_group(STDIN).ok().map(|_| Terminal {
            own: sys::getpgrp(),
            can_stop: sys::pid1().is_none(),
        })
    }

    /// Whether pause's group is the terminal's foreground group, which CMD then takes over.
    pub fn is_ours(&self) -> bool {
        self.in_foreground(self.own)
    }

    fn in_foreground(&self, group: libc::pid_t) -> bool {
        sys::foreground_group(STDIN) == Ok(group)
    }

    /// Gives the terminal to group `to` if group `from` has it. Every signal is blocked in
    /// pause, so SIGTTOU does not stop it; a refusal leaves the terminal where it is.
    fn hand_over(&self, from: libc::pid_t, to: libc::pid_t) {
        if self.in_foreground(from) {
            let _ = sys::set_foreground_group(STDIN, to);
        }
    }

    /// CMD (`command`, the leader of its group) has stopped: stop with it, then continue it.
    pub fn command_stopped(&self, command: libc::pid_t) {
        let had_terminal = self.in_foreground(command);
        // pause has the terminal and CMD, behind it, stopped on it (a job started in the
        // background and brought to the foreground): hand it over rather than stop.
        let behind = self.own != 0 && self.is_ours();
        if !behind && self.can_stop {
            stop_own_job();
        }
        let continued = matches!(
            sys::wait_signal(SigSet::of(libc::SIGCONT), Some(0)),
            Ok(Some(_))
        );
        if continued || behind {
            self.continue_command(command);
        } else if had_terminal {
            // pause did not stop, so nothing will continue it: undo the stop. The terminal
            // stays where it is (a shell above may have taken it back by now).
            let _ = sys::kill_group(command, libc::SIGCONT);
        }
    }

    /// Pause's job was continued: CMD's group gets the terminal if pause's group has it, and
    /// SIGCONT.
    pub fn continue_command(&self, command: libc::pid_t) {
        self.hand_over(self.own, command);
        let _ = sys::kill_group(command, libc::SIGCONT);
    }

    /// CMD has ended: the terminal goes back to pause's group if CMD's group had it.
    pub fn command_ended(&self, command: libc::pid_t) {
        if self.own != 0 {
            self.hand_over(command, self.own);
        }
    }
}

/// Stops pause with the rest of its process group, as the terminal would have stopped them had
/// CMD stayed in it: SIGTSTP to the group, then unblocked in pause for as long as it takes to be
/// delivered (pause stops there until continued, unless the kernel discards it). The SIGCONT
/// that continues pause stays pending: pause blocks it.
fn stop_own_job() {
    sys::kill_own_group(libc::SIGTSTP);
    let _ = sys::set_signal_mask(SigSet::ALL.without(libc::SIGTSTP));
    if let Err(errno) = sys::set_signal_mask(SigSet::ALL) {
        exit::fail(Failure::SignalSetup, errno);
    }
}
