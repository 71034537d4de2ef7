//! The termination policy, as the kubelet applies it: send each running container its stop
//! signal, give the whole pod one grace period (one deadline, not one per container), SIGKILL
//! whoever is left, and report how each one ended and with which code.
//!
//! Waiting is event-driven: each container is waited for through a pidfd on its monitor (which
//! exits right after recording the exit), or on the container itself if its monitor is gone.
//! The kernel wakes `poll` the moment one exits, so a cooperative pod stops in milliseconds and
//! a stubborn one overshoots its grace period by no more than scheduling noise.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::container::{self, StopTarget};
use crate::error::Result;
use crate::exit;
use crate::host::Host;
use crate::pod::PodRecord;
use crate::process::{self, PidFd};

/// How long SIGKILLed processes get to disappear before `stop` gives up on them.
const KILL_TIMEOUT: Duration = Duration::from_secs(10);

/// How a container's run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ending {
    /// It had exited before `stop` began.
    Exited,
    /// It exited after its stop signal, within the grace period.
    StopSignal,
    /// It was SIGKILLed when the grace period ran out.
    Killed,
    /// Its monitor died, so its exit status is unknown.
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

/// One line of `stop`'s report.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StopReport {
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
}

/// Stops every container of `pod` within one grace period and reports each exit.
pub(crate) fn stop_containers(
    host: &Host,
    pod: &PodRecord,
    grace: Duration,
) -> Result<Vec<StopReport>> {
    let targets = container::stop_targets(host, pod)?;
    let started = Instant::now();
    let deadline = started + grace;
    let mut endings: Vec<Option<(Ending, Duration)>> = vec![None; targets.len()];

    for (target, ending) in targets.iter().zip(endings.iter_mut()) {
        match (&target.process, watched(target)) {
            (_, None) => *ending = Some((Ending::Exited, Duration::ZERO)),
            (Some(process), Some(_)) => {
                log::debug!(
                    "container {:?}: sending {}",
                    target.name,
                    exit::signal_name(target.stop_signal)
                );
                process.send_signal(target.stop_signal)?;
            }
            // The main process is gone, the monitor is about to record it.
            (None, Some(_)) => {}
        }
    }

    wait_for(
        &targets,
        &mut endings,
        deadline,
        Ending::StopSignal,
        started,
    )?;

    let survivors: Vec<usize> = (0..targets.len())
        .filter(|&i| endings[i].is_none())
        .collect();
    for &i in &survivors {
        log::debug!(
            "container {:?}: grace period over, sending SIGKILL",
            targets[i].name
        );
        if let Some(process) = &targets[i].process {
            process.send_signal(libc::SIGKILL)?;
        }
    }
    if !survivors.is_empty() {
        wait_for(
            &targets,
            &mut endings,
            Instant::now() + KILL_TIMEOUT,
            Ending::Killed,
            started,
        )?;
    }

    targets
        .iter()
        .zip(endings)
        .map(|(target, ending)| {
            let (mut ending, elapsed) = ending.unwrap_or((Ending::Unknown, started.elapsed()));
            let exit = target.exit_record()?;
            if exit.is_none() {
                ending = Ending::Unknown;
            }
            Ok(StopReport {
                name: target.name.clone(),
                exit_code: exit.map(|e| e.exit_code),
                signal: exit.and_then(|e| e.signal).map(exit::signal_name),
                ended: ending,
                stop_signal: exit::signal_name(target.stop_signal),
                elapsed_ms: elapsed.as_secs_f64() * 1000.0,
            })
        })
        .collect()
}

/// The pidfd that tells when a container is done: its monitor's (exits after recording the
/// exit), else its own; `None` if neither is running.
fn watched(target: &StopTarget) -> Option<&PidFd> {
    if target.exited_before {
        return None;
    }
    target.monitor.as_ref().or(target.process.as_ref())
}

/// Waits until every container without an ending has exited or `deadline` passes, marking each
/// exit with `ending` and the time since `started`.
fn wait_for(
    targets: &[StopTarget],
    endings: &mut [Option<(Ending, Duration)>],
    deadline: Instant,
    ending: Ending,
    started: Instant,
) -> Result<()> {
    loop {
        let pending: Vec<(usize, &PidFd)> = (0..targets.len())
            .filter(|&i| endings[i].is_none())
            .filter_map(|i| watched(&targets[i]).map(|pidfd| (i, pidfd)))
            .collect();
        let now = Instant::now();
        if pending.is_empty() || now >= deadline {
            return Ok(());
        }
        let pidfds: Vec<&PidFd> = pending.iter().map(|(_, p)| *p).collect();
        for index in process::wait_any(&pidfds, Some(deadline - now))? {
            endings[pending[index].0] = Some((ending, started.elapsed()));
        }
    }
}
