//! Reaping: collecting ended children so they do not linger as zombies.
//!
//! A child that ends stays a zombie (holding its PID and exit status) until its parent waits
//! for it. Orphans are re-parented to PID 1 of their PID namespace, or to the nearest child
//! subreaper above them, which inherits the duty. The kernel sends one SIGCHLD per ended child,
//! but a standard signal is pending at most once, so one SIGCHLD may stand for thousands of
//! zombies (a whole process tree handed over at once): reap in a loop until none is left.

use core::ffi::c_int;

use crate::exit::{self, Failure};
use crate::sys::{self, Reaped};

/// What is left after reaping.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Children {
    /// Some children are still running.
    Running,
    /// There are no children at all.
    Gone,
}

/// Reaps every child that has ended, calling `on_exit(pid, wait_status)` for each, and stops
/// when the rest are still running or there are none. With `stops`, children that stopped are
/// reported too (`WIFSTOPPED(wait_status)`). A failure other than "no children" cannot happen
/// with valid arguments, and pause cannot do its job without waiting, so it is fatal.
pub fn reap_all(stops: bool, mut on_exit: impl FnMut(libc::pid_t, c_int)) -> Children {
    loop {
        match sys::reap_one(-1, stops) {
            Ok(Reaped::Child(pid, status)) => on_exit(pid, status),
            Ok(Reaped::Running) => return Children::Running,
            Ok(Reaped::NoChildren) => return Children::Gone,
            Err(errno) => exit::fail(Failure::Reap, errno),
        }
    }
}
