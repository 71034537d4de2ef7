//! Hold mode (`pause` with no arguments): the pod's PID 1. It does nothing but wait for
//! signals: it reaps on SIGCHLD, exits 0 on SIGINT or SIGTERM, and ignores every other signal.
//!
//! Waiting is a blocking `rt_sigtimedwait` without a timeout, so an idle pause never wakes up.

use core::ffi::c_int;

use crate::exit::{self, Failure};
use crate::reap;
use crate::sys::{self, SigSet};
use crate::text;

/// Waits for signals until SIGINT or SIGTERM, then exits 0.
pub fn run() -> ! {
    loop {
        let signal = sys::wait_signal(SigSet::ALL, None)
            .unwrap_or_else(|errno| exit::fail(Failure::WaitSignal, errno));
        match signal {
            Some(libc::SIGCHLD) => {
                // Nobody asks for the statuses of a pod's orphans; they only need to go.
                reap::reap_all(false, |_, _| {});
            }
            Some(signal @ (libc::SIGINT | libc::SIGTERM)) => shut_down(signal),
            // Anything else (HUP, USR1, ...) would kill a process without a handler, but the
            // pod's PID 1 must outlive it: it was dequeued, and that is all.
            _ => {}
        }
    }
}

/// Says why on stderr (as Kubernetes' pause does) and exits 0: a requested stop is a success.
fn shut_down(signal: c_int) -> ! {
    let name: &[u8] = if signal == libc::SIGTERM {
        b"SIGTERM"
    } else {
        b"SIGINT"
    };
    text::say(&[b"shutting down, got signal ", name]);
    sys::exit(0)
}
