//! The termination policy, as the kubelet applies it, as a pure plan: send each running
//! container its stop signal, give all of them one grace period (one deadline, not one per
//! container), SIGKILL whoever is left, and classify how each one ended.
//!
//! [`StopPlan`] makes no system call and reads no clock: the caller passes the time in
//! (`now`), carries out each [`Step`] (wait on pidfds until a deadline, or send SIGKILL) and
//! tells the plan what it saw. So deadlines, the overshoot past them and the report are unit
//! tested without a host; `container::stop` is the driver that does the system calls.
//!
//! How a container ended is decided from its exit record, not from the moment it was seen to
//! exit: one that died of its stop signal is `stop-signal` even if that was seen after the
//! deadline (with `-t 0` the SIGKILL follows the stop signal at once), and `killed` means the
//! SIGKILL that `stop` sent is what ended it.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// How long processes sent SIGKILL get to disappear before the plan gives up on them.
pub const KILL_WAIT: Duration = Duration::from_secs(10);

/// How a container's run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ending {
    /// It had exited before `stop` began.
    Exited,
    /// It exited after its stop signal (within the grace period, or of the stop signal itself).
    StopSignal,
    /// The SIGKILL sent when the grace period ran out ended it.
    Killed,
    /// Its exit status is unknown (its monitor died without recording one).
    Unknown,
}

impl std::fmt::Display for Ending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Ending::Exited => "exited by itself",
            Ending::StopSignal => "stopped by its stop signal",
            Ending::Killed => "killed (SIGKILL after the grace period)",
            Ending::Unknown => "exit status unknown (its monitor died)",
        })
    }
}

/// What the next move of a stop is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Wait until `until` for any of these targets to exit.
    Wait {
        /// The deadline of this wait.
        until: Instant,
        /// Indexes of the targets still running.
        targets: Vec<usize>,
    },
    /// The grace period is over: send SIGKILL to these targets.
    Kill(Vec<usize>),
    /// Nothing is left to wait for (or the wait after SIGKILL ran out).
    Done,
}

#[derive(Clone, Copy, Debug)]
struct Target {
    running: bool,
    exited_at: Option<Instant>,
    killed: bool,
}

/// The stop of a set of containers, from the stop signal to the report.
#[derive(Clone, Debug)]
pub struct StopPlan {
    started: Instant,
    grace_deadline: Instant,
    kill_deadline: Option<Instant>,
    targets: Vec<Target>,
}

impl StopPlan {
    /// A stop that begins at `now` with grace period `grace`, over targets that are running
    /// (`true`) or had already exited (`false`).
    pub fn new(running: impl IntoIterator<Item = bool>, grace: Duration, now: Instant) -> Self {
        StopPlan {
            started: now,
            // The CLI bounds the grace period; a deadline past what Instant holds is "never".
            grace_deadline: now
                .checked_add(grace)
                .unwrap_or(now + Duration::from_secs(u64::from(u32::MAX))),
            kill_deadline: None,
            targets: running
                .into_iter()
                .map(|running| Target {
                    running,
                    exited_at: None,
                    killed: false,
                })
                .collect(),
        }
    }

    /// The targets to send their stop signal first: the running ones.
    pub fn to_signal(&self) -> Vec<usize> {
        (0..self.targets.len())
            .filter(|&i| self.targets[i].running)
            .collect()
    }

    fn waiting(&self) -> Vec<usize> {
        (0..self.targets.len())
            .filter(|&i| self.targets[i].running && self.targets[i].exited_at.is_none())
            .collect()
    }

    /// The next move at time `now`.
    pub fn next(&mut self, now: Instant) -> Step {
        let waiting = self.waiting();
        if waiting.is_empty() {
            return Step::Done;
        }
        match self.kill_deadline {
            None if now < self.grace_deadline => Step::Wait {
                until: self.grace_deadline,
                targets: waiting,
            },
            None => {
                self.kill_deadline = Some(now + KILL_WAIT);
                for &i in &waiting {
                    self.targets[i].killed = true;
                }
                Step::Kill(waiting)
            }
            Some(deadline) if now < deadline => Step::Wait {
                until: deadline,
                targets: waiting,
            },
            Some(_) => Step::Done,
        }
    }

    /// Target `index` was seen to exit at `now`.
    pub fn saw_exit(&mut self, index: usize, now: Instant) {
        if let Some(target) = self.targets.get_mut(index) {
            target.exited_at.get_or_insert(now);
        }
    }

    /// How target `index` ended and when, from the stop's start: `exit_signal` is what its exit
    /// record says (`None`: there is no record; `Some(None)`: it exited with a status;
    /// `Some(Some(n))`: signal n killed it); `now` is the time of the report.
    pub fn ending(
        &self,
        index: usize,
        exit_signal: Option<Option<i32>>,
        now: Instant,
    ) -> (Ending, Duration) {
        let Some(target) = self.targets.get(index) else {
            return (Ending::Unknown, Duration::ZERO);
        };
        if !target.running {
            let ending = if exit_signal.is_some() {
                Ending::Exited
            } else {
                Ending::Unknown
            };
            return (ending, Duration::ZERO);
        }
        let elapsed = target.exited_at.unwrap_or(now) - self.started;
        let ending = match exit_signal {
            None => Ending::Unknown,
            Some(Some(libc::SIGKILL)) if target.killed => Ending::Killed,
            Some(_) => Ending::StopSignal,
        };
        (ending, elapsed)
    }
}

/// One container in `stop`'s report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContainerReport {
    /// Container name.
    pub name: String,
    /// Exit code (status, or 128+n); null when unknown.
    pub exit_code: Option<i32>,
    /// Name of the signal that killed it, if one did.
    pub signal: Option<String>,
    /// How it ended.
    pub ended: Ending,
    /// The signal `stop` sent first.
    pub stop_signal: String,
    /// Milliseconds from the start of `stop` until it was seen to exit (0 if it had already).
    pub elapsed_ms: f64,
    /// What explains the ending, when something does ("its PID 1 does not handle SIGTERM").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Why it ended, as Kubernetes names it: `OOMKilled` when the kernel's OOM killer ended it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// An `exec` session that was still running when its pod stopped.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExecReport {
    /// Host PID of the session (its launcher, `pause` in init mode).
    pub pid: i32,
    /// The command line.
    pub command: Vec<String>,
    /// When it started (RFC 3339).
    pub started_at: String,
    /// The signal `stop` ended it with.
    pub signal: String,
}

/// The pod's processes that were neither a container, a monitor, pause nor an `exec`
/// session (orphans a container left behind, children of a killed `exec`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OthersReport {
    /// How many there were.
    pub count: usize,
    /// The signal `stop` ended them with; null when there were none.
    pub signal: Option<String>,
}

/// What `stop` did, and to whom.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StopReport {
    /// Pod name.
    pub pod: String,
    /// Each container stopped, by name.
    pub containers: Vec<ContainerReport>,
    /// `exec` sessions that were running (a pod stop only).
    pub execs: Vec<ExecReport>,
    /// The pod's other processes (a pod stop only).
    pub other_processes: OthersReport,
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn one_deadline_for_all_then_sigkill_for_the_survivors() {
        let t0 = Instant::now();
        let mut plan = StopPlan::new([true, true, false], 30 * SECOND, t0);
        assert_eq!(plan.to_signal(), [0, 1]);
        let until = t0 + 30 * SECOND;
        assert_eq!(
            plan.next(t0),
            Step::Wait {
                until,
                targets: vec![0, 1]
            }
        );
        plan.saw_exit(0, t0 + 2 * SECOND);
        // The deadline is the stop's, not renewed per container.
        assert_eq!(
            plan.next(t0 + 2 * SECOND),
            Step::Wait {
                until,
                targets: vec![1]
            }
        );
        let late = until + Duration::from_millis(3);
        assert_eq!(plan.next(late), Step::Kill(vec![1]));
        assert_eq!(
            plan.next(late),
            Step::Wait {
                until: late + KILL_WAIT,
                targets: vec![1]
            }
        );
        plan.saw_exit(1, late + Duration::from_millis(1));
        assert_eq!(plan.next(late + Duration::from_millis(1)), Step::Done);

        let now = late + SECOND;
        assert_eq!(
            plan.ending(0, Some(Some(libc::SIGTERM)), now),
            (Ending::StopSignal, 2 * SECOND)
        );
        let (ending, elapsed) = plan.ending(1, Some(Some(libc::SIGKILL)), now);
        assert_eq!(ending, Ending::Killed);
        // The overshoot past the grace period is what the driver took to notice, not more.
        assert_eq!(elapsed, 30 * SECOND + Duration::from_millis(4));
        assert_eq!(
            plan.ending(2, Some(None), now),
            (Ending::Exited, Duration::ZERO)
        );
    }

    #[test]
    fn a_zero_grace_kills_at_once_but_a_death_by_the_stop_signal_is_reported_as_such() {
        let t0 = Instant::now();
        let mut plan = StopPlan::new([true], Duration::ZERO, t0);
        assert_eq!(plan.next(t0), Step::Kill(vec![0]));
        plan.saw_exit(0, t0 + Duration::from_millis(1));
        assert_eq!(
            plan.ending(0, Some(Some(libc::SIGTERM)), t0).0,
            Ending::StopSignal
        );
        assert_eq!(plan.ending(0, Some(None), t0).0, Ending::StopSignal);
        assert_eq!(
            plan.ending(0, Some(Some(libc::SIGKILL)), t0).0,
            Ending::Killed
        );
    }

    #[test]
    fn a_sigkill_that_stop_did_not_send_is_not_reported_as_stops() {
        let t0 = Instant::now();
        let mut plan = StopPlan::new([true], 10 * SECOND, t0);
        plan.saw_exit(0, t0 + SECOND);
        assert_eq!(plan.next(t0 + SECOND), Step::Done);
        assert_eq!(
            plan.ending(0, Some(Some(libc::SIGKILL)), t0).0,
            Ending::StopSignal
        );
    }

    #[test]
    fn no_exit_record_is_unknown_and_survivors_of_sigkill_end_the_wait() {
        let t0 = Instant::now();
        let mut plan = StopPlan::new([true, false], SECOND, t0);
        assert_eq!(plan.next(t0 + SECOND), Step::Kill(vec![0]));
        assert_eq!(plan.next(t0 + SECOND + KILL_WAIT), Step::Done);
        let now = t0 + 2 * SECOND + KILL_WAIT;
        assert_eq!(
            plan.ending(0, None, now),
            (Ending::Unknown, SECOND + KILL_WAIT + SECOND)
        );
        assert_eq!(plan.ending(1, None, now).0, Ending::Unknown);
    }

    #[test]
    fn a_stop_with_nothing_running_is_done_at_once() {
        let t0 = Instant::now();
        let mut plan = StopPlan::new([false, false], SECOND, t0);
        assert!(plan.to_signal().is_empty());
        assert_eq!(plan.next(t0), Step::Done);
    }

    #[test]
    fn a_huge_grace_period_does_not_overflow() {
        let t0 = Instant::now();
        let mut plan = StopPlan::new([true], Duration::from_secs(u64::MAX), t0);
        assert!(matches!(plan.next(t0), Step::Wait { .. }));
    }
}
