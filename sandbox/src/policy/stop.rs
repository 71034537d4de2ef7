//! The termination policy, as the kubelet applies it, as a pure plan: run each running
//! container's preStop hook, send its stop signal (at once without a hook, when the hook ends
//! with one), give all of them one grace period (one deadline, not one per container; a hook's
//! time counts against it), SIGKILL whoever is left, and classify how each one ended.
//!
//! [`StopPlan`] makes no system call and reads no clock: the caller passes the time in
//! (`now`), carries out each [`Step`] (start hooks, wait on pidfds until a deadline, send stop
//! signals or SIGKILL) and tells the plan what it saw. So deadlines, the overshoot past them
//! and the report are unit tested without a host; `container::stop` is the driver that does the
//! system calls.
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
    /// It exited while its preStop hook ran, before its stop signal was sent.
    DuringHook,
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
            Ending::DuringHook => "exited during its preStop hook",
            Ending::Killed => "killed (SIGKILL after the grace period)",
            Ending::Unknown => "exit status unknown (its monitor died)",
        })
    }
}

/// The least time a container gets between its stop signal and SIGKILL after a preStop hook
/// ran: the kubelet's `minimumGracePeriodInSeconds`. A hook still running when the grace period
/// runs out gets its container's stop signal then, and this much more before the SIGKILL (the
/// kubelet's "one-off grace period extension of 2 seconds").
pub const MIN_GRACE_AFTER_HOOK: Duration = Duration::from_secs(2);

/// A container's preStop hook (Kubernetes' `lifecycle.preStop`): it runs before the container's
/// stop signal is sent, and its time counts against the grace period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PreStopHook {
    /// A command run inside the container (its namespaces, user and environment).
    Exec {
        /// The command and its arguments.
        command: Vec<String>,
    },
    /// A pause of this many seconds before the stop signal, with no process.
    Sleep {
        /// How long.
        seconds: u64,
    },
}

impl std::fmt::Display for PreStopHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PreStopHook::Exec { command } => {
                // As a shell would take it back: a word with anything but these in quotes.
                let plain = |c: char| c.is_ascii_alphanumeric() || "_./=:,@%+-".contains(c);
                let words: Vec<String> = command
                    .iter()
                    .map(|word| {
                        if !word.is_empty() && word.chars().all(plain) {
                            word.clone()
                        } else {
                            format!("'{}'", word.replace('\'', "'\\''"))
                        }
                    })
                    .collect();
                write!(f, "exec {}", words.join(" "))
            }
            PreStopHook::Sleep { seconds } => write!(f, "sleep {seconds}s"),
        }
    }
}

/// How a target's preStop hook ends, as far as the plan is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HookTimer {
    /// A process the driver runs and reports the end of ([`StopPlan::hook_ended`]).
    Process,
    /// A sleep of this long: it ends by itself.
    Sleep(Duration),
}

/// One container to stop, as the plan sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StopTarget {
    /// Whether it runs when the stop begins (one that has exited is only reported on).
    pub running: bool,
    /// Its preStop hook, if it has one.
    pub hook: Option<HookTimer>,
}

/// What the next move of a stop is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Send these targets their stop signal: their preStop hook ended, or the grace period ran
    /// out while it ran.
    Signal(Vec<usize>),
    /// Their time is up: send SIGKILL to these targets.
    Kill(Vec<usize>),
    /// Wait until `until` for any of these targets to exit, or any of these hooks to end.
    Wait {
        /// The deadline of this wait.
        until: Instant,
        /// Indexes of the targets still running.
        targets: Vec<usize>,
        /// Indexes of the targets whose hook process still runs.
        hooks: Vec<usize>,
    },
    /// Nothing is left to wait for (or the wait after SIGKILL ran out).
    Done,
}

#[derive(Clone, Copy, Debug)]
struct HookRun {
    /// When a sleep hook ends by itself.
    sleep_until: Option<Instant>,
    ended_at: Option<Instant>,
    /// The grace period ran out while it ran.
    overran: bool,
}

#[derive(Clone, Copy, Debug)]
struct Target {
    running: bool,
    hook: Option<HookRun>,
    /// When its stop signal was (or is to be, at the start) sent, and when its SIGKILL is due.
    signalled: Option<(Instant, Instant)>,
    /// When `stop` gives up waiting for it after its SIGKILL.
    killed: Option<Instant>,
    exited_at: Option<Instant>,
}

impl Target {
    fn waiting(&self, now: Instant) -> bool {
        self.running && self.exited_at.is_none() && self.killed.is_none_or(|give_up| now < give_up)
    }

    fn hook_running(&self) -> bool {
        self.hook.is_some_and(|hook| hook.ended_at.is_none())
    }
}

/// The grace period of a stop, and where it comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grace {
    /// The pod's own (Kubernetes' `terminationGracePeriodSeconds`), applied as the kubelet
    /// does: at least 1 s, and never less than [`MIN_GRACE_AFTER_HOOK`] between a container's
    /// stop signal and its SIGKILL.
    Pods(Duration),
    /// Given for this stop (`stop -t`; `rm --force` gives none): exactly this long, as `docker
    /// stop -t` and `podman stop -t` take it; only a container whose preStop hook ran gets the
    /// 2 s after its stop signal, and with none at all hooks are skipped.
    Given(Duration),
}

/// The stop of a set of containers, from the preStop hooks to the report.
///
/// A container without a hook gets its stop signal at once and SIGKILL when the grace period
/// ends: one deadline for all of them, not one each. A container with a hook gets its stop
/// signal when the hook ends, and SIGKILL at the grace period's end or [`MIN_GRACE_AFTER_HOOK`]
/// after its stop signal, whichever is later (the kubelet's `killContainer`); see [`Grace`] for
/// the rest.
#[derive(Clone, Debug)]
pub struct StopPlan {
    started: Instant,
    grace_deadline: Instant,
    targets: Vec<Target>,
}

impl StopPlan {
    /// A stop that begins at `now` with grace period `grace`.
    pub fn new(targets: impl IntoIterator<Item = StopTarget>, grace: Grace, now: Instant) -> Self {
        let (grace, minimum_for_all) = match grace {
            Grace::Pods(grace) => (grace.max(Duration::from_secs(1)), true),
            Grace::Given(grace) => (grace, false),
        };
        // The CLI bounds the grace period; a deadline past what Instant holds is "never".
        let grace_deadline = now
            .checked_add(grace)
            .unwrap_or(now + Duration::from_secs(u64::from(u32::MAX)));
        let kill_at = if minimum_for_all {
            grace_deadline.max(now + MIN_GRACE_AFTER_HOOK)
        } else {
            grace_deadline
        };
        let targets = targets
            .into_iter()
            .map(|target| {
                let hook = target.hook.filter(|_| target.running && !grace.is_zero());
                Target {
                    running: target.running,
                    hook: hook.map(|timer| HookRun {
                        sleep_until: match timer {
                            HookTimer::Process => None,
                            HookTimer::Sleep(length) => {
                                Some(now.checked_add(length).unwrap_or(grace_deadline))
                            }
                        },
                        ended_at: None,
                        overran: false,
                    }),
                    signalled: (target.running && hook.is_none()).then_some((now, kill_at)),
                    killed: None,
                    exited_at: None,
                }
            })
            .collect();
        StopPlan {
            started: now,
            grace_deadline,
            targets,
        }
    }

    /// The targets whose hook process to start first.
    pub fn to_hook(&self) -> Vec<usize> {
        (0..self.targets.len())
            .filter(|&i| {
                self.targets[i]
                    .hook
                    .is_some_and(|hook| hook.sleep_until.is_none())
            })
            .collect()
    }

    /// The targets to send their stop signal first: the running ones without a hook.
    pub fn to_signal(&self) -> Vec<usize> {
        (0..self.targets.len())
            .filter(|&i| self.targets[i].signalled.is_some())
            .collect()
    }

    /// The next move at time `now`.
    pub fn next(&mut self, now: Instant) -> Step {
        let grace_deadline = self.grace_deadline;
        let mut signal = Vec::new();
        for (i, target) in self.targets.iter_mut().enumerate() {
            if target.signalled.is_some() || target.exited_at.is_some() {
                continue;
            }
            let Some(hook) = &mut target.hook else {
                continue;
            };
            if let Some(until) = hook.sleep_until.filter(|&until| now >= until) {
                hook.ended_at.get_or_insert(until);
            }
            if hook.ended_at.is_none() && now < grace_deadline {
                continue;
            }
            hook.overran = hook.ended_at.is_none();
            target.signalled = Some((now, grace_deadline.max(now + MIN_GRACE_AFTER_HOOK)));
            signal.push(i);
        }
        if !signal.is_empty() {
            return Step::Signal(signal);
        }

        let mut kill = Vec::new();
        for (i, target) in self.targets.iter_mut().enumerate() {
            if let Some((_, kill_at)) = target.signalled
                && target.exited_at.is_none()
                && target.killed.is_none()
                && now >= kill_at
            {
                target.killed = Some(now + KILL_WAIT);
                kill.push(i);
            }
        }
        if !kill.is_empty() {
            return Step::Kill(kill);
        }

        let waiting: Vec<usize> = (0..self.targets.len())
            .filter(|&i| self.targets[i].waiting(now))
            .collect();
        if waiting.is_empty() {
            return Step::Done;
        }
        let until = waiting
            .iter()
            .map(|&i| {
                let target = &self.targets[i];
                match (target.killed, target.signalled, &target.hook) {
                    (Some(give_up), _, _) => give_up,
                    (None, Some((_, kill_at)), _) => kill_at,
                    (None, None, Some(hook)) => hook
                        .sleep_until
                        .map_or(grace_deadline, |until| until.min(grace_deadline)),
                    (None, None, None) => grace_deadline,
                }
            })
            .min()
            .unwrap_or(grace_deadline);
        let hooks = waiting
            .iter()
            .copied()
            .filter(|&i| {
                let target = &self.targets[i];
                target.hook_running() && target.hook.is_some_and(|h| h.sleep_until.is_none())
            })
            .collect();
        Step::Wait {
            until,
            targets: waiting,
            hooks,
        }
    }

    /// Target `index` was seen to exit at `now`.
    pub fn saw_exit(&mut self, index: usize, now: Instant) {
        if let Some(target) = self.targets.get_mut(index) {
            target.exited_at.get_or_insert(now);
        }
    }

    /// The hook process of target `index` was seen to end at `now`.
    pub fn hook_ended(&mut self, index: usize, now: Instant) {
        if let Some(hook) = self.targets.get_mut(index).and_then(|t| t.hook.as_mut()) {
            hook.ended_at.get_or_insert(now);
        }
    }

    /// Whether target `index` ran a hook that has not ended (the driver ends it, once the
    /// stop is done).
    pub fn hook_running(&self, index: usize) -> bool {
        self.targets.get(index).is_some_and(Target::hook_running)
    }

    /// How target `index`'s hook went, if it ran one: its time from the stop's start until it
    /// ended (or until `now`), and whether the grace period ran out while it ran.
    pub fn hook_run(&self, index: usize, now: Instant) -> Option<(Duration, bool)> {
        let hook = self.targets.get(index)?.hook?;
        let end = hook.ended_at.unwrap_or(now);
        Some((end.saturating_duration_since(self.started), hook.overran))
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
            Some(Some(libc::SIGKILL)) if target.killed.is_some() => Ending::Killed,
            // Ended during its hook, before any stop signal: by itself, or by the hook.
            Some(_) if target.signalled.is_none() => Ending::DuringHook,
            Some(_) => Ending::StopSignal,
        };
        (ending, elapsed)
    }
}

/// How a preStop hook went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HookOutcome {
    /// It ended within the grace period: exit status 0, or the sleep was over.
    Completed,
    /// It ended within the grace period with another status, or could not be started.
    Failed,
    /// The grace period ran out while it ran: the stop signal was sent then, with
    /// [`MIN_GRACE_AFTER_HOOK`] more before SIGKILL.
    Overran,
    /// Its container ended while it ran, and `stop` ended it.
    Interrupted,
}

impl std::fmt::Display for HookOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            HookOutcome::Completed => "completed",
            HookOutcome::Failed => "failed",
            HookOutcome::Overran => "still running when the grace period ran out",
            HookOutcome::Interrupted => "ended with its container",
        })
    }
}

/// What a container's preStop hook did, in `stop`'s report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HookReport {
    /// The hook (`exec CMD...` or `sleep Ns`).
    pub hook: String,
    /// How it went.
    pub outcome: HookOutcome,
    /// An exec hook's exit code (status, or 128+n); null for a sleep, or one that never ran.
    pub exit_code: Option<i32>,
    /// Milliseconds from the start of `stop` until it ended (or until the stop ended).
    pub elapsed_ms: f64,
    /// What went wrong, when something did: why it could not start, or the first lines of
    /// what it wrote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
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
    /// What its preStop hook did, if it has one and it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_stop: Option<HookReport>,
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

    fn plain(running: &[bool]) -> Vec<StopTarget> {
        running
            .iter()
            .map(|&running| StopTarget {
                running,
                hook: None,
            })
            .collect()
    }

    #[test]
    fn one_deadline_for_all_then_sigkill_for_the_survivors() {
        let t0 = Instant::now();
        let mut plan = StopPlan::new(plain(&[true, true, false]), Grace::Given(30 * SECOND), t0);
        assert_eq!(plan.to_signal(), [0, 1]);
        let until = t0 + 30 * SECOND;
        assert_eq!(
            plan.next(t0),
            Step::Wait {
                until,
                targets: vec![0, 1],
                hooks: vec![],
            }
        );
        plan.saw_exit(0, t0 + 2 * SECOND);
        // The deadline is the stop's, not renewed per container.
        assert_eq!(
            plan.next(t0 + 2 * SECOND),
            Step::Wait {
                until,
                targets: vec![1],
                hooks: vec![],
            }
        );
        let late = until + Duration::from_millis(3);
        assert_eq!(plan.next(late), Step::Kill(vec![1]));
        assert_eq!(
            plan.next(late),
            Step::Wait {
                until: late + KILL_WAIT,
                targets: vec![1],
                hooks: vec![],
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
        let mut plan = StopPlan::new(plain(&[true]), Grace::Given(Duration::ZERO), t0);
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
        let mut plan = StopPlan::new(plain(&[true]), Grace::Given(10 * SECOND), t0);
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
        let mut plan = StopPlan::new(plain(&[true, false]), Grace::Given(SECOND), t0);
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
        let mut plan = StopPlan::new(plain(&[false, false]), Grace::Given(SECOND), t0);
        assert!(plan.to_signal().is_empty());
        assert_eq!(plan.next(t0), Step::Done);
    }

    #[test]
    fn a_huge_grace_period_does_not_overflow() {
        let t0 = Instant::now();
        let mut plan = StopPlan::new(
            plain(&[true]),
            Grace::Given(Duration::from_secs(u64::MAX)),
            t0,
        );
        assert!(matches!(plan.next(t0), Step::Wait { .. }));
    }

    fn hooked(timer: HookTimer) -> StopTarget {
        StopTarget {
            running: true,
            hook: Some(timer),
        }
    }

    #[test]
    fn hooks_display_as_one_would_type_them() {
        let exec = PreStopHook::Exec {
            command: vec!["sh".into(), "-c".into(), "echo it's > /f; sleep 1".into()],
        };
        assert_eq!(
            exec.to_string(),
            r#"exec sh -c 'echo it'\''s > /f; sleep 1'"#
        );
        assert_eq!(PreStopHook::Sleep { seconds: 5 }.to_string(), "sleep 5s");
        let globs = PreStopHook::Exec {
            command: vec!["rm".into(), "*.tmp".into(), "~/x".into(), "a\\b".into()],
        };
        assert_eq!(globs.to_string(), r"exec rm '*.tmp' '~/x' 'a\b'");
    }

    #[test]
    fn a_hook_that_ends_in_time_gets_the_stop_signal_then_and_the_rest_of_the_grace() {
        let t0 = Instant::now();
        let targets = [hooked(HookTimer::Process), plain(&[true])[0]];
        let mut plan = StopPlan::new(targets, Grace::Given(30 * SECOND), t0);
        assert_eq!(plan.to_hook(), [0]);
        assert_eq!(plan.to_signal(), [1]);
        let until = t0 + 30 * SECOND;
        assert_eq!(
            plan.next(t0),
            Step::Wait {
                until,
                targets: vec![0, 1],
                hooks: vec![0],
            }
        );
        plan.hook_ended(0, t0 + SECOND);
        assert_eq!(plan.next(t0 + SECOND), Step::Signal(vec![0]));
        // The deadline is still the grace period's: the hook's time counted against it.
        assert!(matches!(plan.next(t0 + SECOND), Step::Wait { until: u, .. } if u == until));
        plan.saw_exit(0, t0 + 2 * SECOND);
        plan.saw_exit(1, t0 + 2 * SECOND);
        assert_eq!(plan.next(t0 + 2 * SECOND), Step::Done);
        assert_eq!(plan.hook_run(0, t0 + 3 * SECOND), Some((SECOND, false)));
        assert_eq!(plan.hook_run(1, t0), None);
        assert_eq!(
            plan.ending(0, Some(None), t0 + 3 * SECOND),
            (Ending::StopSignal, 2 * SECOND)
        );
    }

    #[test]
    fn a_hook_that_outlives_the_grace_period_gets_two_seconds_more_then_sigkill() {
        let t0 = Instant::now();
        let mut plan = StopPlan::new(
            [hooked(HookTimer::Sleep(5 * SECOND))],
            Grace::Given(3 * SECOND),
            t0,
        );
        // A sleep is the plan's own timer: no process to start.
        assert!(plan.to_hook().is_empty());
        assert!(plan.to_signal().is_empty());
        assert_eq!(
            plan.next(t0),
            Step::Wait {
                until: t0 + 3 * SECOND,
                targets: vec![0],
                hooks: vec![],
            }
        );
        let grace_end = t0 + 3 * SECOND;
        assert_eq!(plan.next(grace_end), Step::Signal(vec![0]));
        assert_eq!(
            plan.next(grace_end),
            Step::Wait {
                until: grace_end + MIN_GRACE_AFTER_HOOK,
                targets: vec![0],
                hooks: vec![],
            }
        );
        assert_eq!(
            plan.next(grace_end + MIN_GRACE_AFTER_HOOK),
            Step::Kill(vec![0])
        );
        plan.saw_exit(0, t0 + 5 * SECOND);
        assert_eq!(plan.next(t0 + 5 * SECOND), Step::Done);
        assert_eq!(plan.hook_run(0, t0 + 5 * SECOND), Some((5 * SECOND, true)));
        assert_eq!(
            plan.ending(0, Some(Some(libc::SIGKILL)), t0 + 6 * SECOND),
            (Ending::Killed, 5 * SECOND)
        );
    }

    #[test]
    fn a_hook_ending_just_before_the_deadline_leaves_the_minimum_window() {
        let t0 = Instant::now();
        let mut plan = StopPlan::new([hooked(HookTimer::Process)], Grace::Given(3 * SECOND), t0);
        let late = t0 + 2900 * Duration::from_millis(1);
        plan.hook_ended(0, late);
        assert_eq!(plan.next(late), Step::Signal(vec![0]));
        assert!(
            matches!(plan.next(late), Step::Wait { until, .. } if until == late + MIN_GRACE_AFTER_HOOK)
        );
    }

    #[test]
    fn the_pods_own_grace_period_is_at_least_one_second_and_two_after_any_stop_signal() {
        let t0 = Instant::now();
        let targets = [plain(&[true])[0], hooked(HookTimer::Process)];
        // terminationGracePeriodSeconds: 0 still runs the hook, for up to 1 s.
        let mut plan = StopPlan::new(targets, Grace::Pods(Duration::ZERO), t0);
        assert_eq!(plan.to_signal(), [0]);
        assert_eq!(plan.to_hook(), [1]);
        assert!(matches!(plan.next(t0), Step::Wait { until, .. } if until == t0 + SECOND));
        assert_eq!(plan.next(t0 + SECOND), Step::Signal(vec![1]));
        // The container without a hook: SIGKILL 2 s after its stop signal, not at 1 s.
        assert!(
            matches!(plan.next(t0 + SECOND), Step::Wait { until, .. } if until == t0 + 2 * SECOND)
        );
        assert_eq!(plan.next(t0 + 2 * SECOND), Step::Kill(vec![0]));
        assert_eq!(plan.next(t0 + 3 * SECOND), Step::Kill(vec![1]));

        // A given -t 1 is exact.
        let mut given = StopPlan::new(plain(&[true]), Grace::Given(SECOND), t0);
        assert_eq!(given.next(t0 + SECOND), Step::Kill(vec![0]));
    }

    #[test]
    fn a_short_sleep_hook_ends_by_itself_and_no_grace_skips_hooks() {
        let t0 = Instant::now();
        let mut plan = StopPlan::new(
            [hooked(HookTimer::Sleep(SECOND))],
            Grace::Given(30 * SECOND),
            t0,
        );
        assert!(matches!(plan.next(t0), Step::Wait { until, .. } if until == t0 + SECOND));
        assert_eq!(plan.next(t0 + SECOND), Step::Signal(vec![0]));
        assert_eq!(plan.hook_run(0, t0 + 9 * SECOND), Some((SECOND, false)));

        let mut now = StopPlan::new(
            [hooked(HookTimer::Process)],
            Grace::Given(Duration::ZERO),
            t0,
        );
        assert!(now.to_hook().is_empty());
        assert_eq!(now.to_signal(), [0]);
        assert_eq!(now.next(t0), Step::Kill(vec![0]));
        assert_eq!(now.hook_run(0, t0), None);
    }

    #[test]
    fn a_container_that_exits_during_its_hook_is_not_signalled() {
        let t0 = Instant::now();
        let mut plan = StopPlan::new([hooked(HookTimer::Process)], Grace::Given(30 * SECOND), t0);
        plan.saw_exit(0, t0 + SECOND);
        assert_eq!(plan.next(t0 + SECOND), Step::Done);
        assert!(plan.hook_running(0));
        assert_eq!(
            plan.ending(0, Some(None), t0 + SECOND).0,
            Ending::DuringHook
        );
    }
}
