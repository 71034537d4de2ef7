//! `stop` of containers: the driver of [`StopPlan`]. It opens verified pidfds, sends the stop
//! signals and SIGKILLs the plan asks for, waits on the pidfds until the plan's deadlines, and
//! reports how each container ended. The reports are kept in the pod's record, one write for
//! all of them, so a later stop repeats them. A record that cannot be written (a full file
//! system) costs a warning, never the stop.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::{Container, OOM_KILLED};
use crate::error::Result;
use crate::exit;
use crate::host::Host;
use crate::policy::stop::{ContainerReport, Ending, OthersReport, Step, StopPlan, StopReport};
use crate::runtime;
use crate::state;
use crate::state::container::PidNamespace;
use crate::sys::process::{self, PidFd};

/// One container being stopped: pidfds on its main process and on its monitor.
struct Target {
    index: usize,
    process: Option<PidFd>,
    monitor: Option<PidFd>,
    /// Its main process is PID 1 of its own PID namespace and has no handler for the stop
    /// signal, so the kernel drops it: only the SIGKILL at the deadline can end it.
    deaf_pid1: bool,
}

impl Target {
    /// The pidfd that tells when the container is done: its monitor's (which exits after
    /// recording the exit), else its own.
    fn watched(&self) -> Option<&PidFd> {
        self.monitor.as_ref().or(self.process.as_ref())
    }
}

impl Host {
    /// Stops the given containers of a pod, with one grace period for all of them, and returns
    /// their reports; the caller holds the pod's lock and records the reports. A container
    /// that an earlier stop reported on (in `reported`) keeps that report.
    pub(crate) fn stop_loaded(
        &self,
        containers: &[Container],
        grace: Duration,
        reported: &BTreeMap<String, ContainerReport>,
    ) -> Result<Vec<ContainerReport>> {
        // A report is kept only for a container that is not running: one of the same name
        // started since (after an interrupted `rm` or `run`) is stopped afresh.
        let mut reports: Vec<Option<ContainerReport>> = containers
            .iter()
            .map(|c| {
                reported
                    .get(&c.record.name)
                    .filter(|_| !c.may_be_running(&self.boot_id))
                    .cloned()
            })
            .collect();
        let mut targets = Vec::new();
        for (index, container) in containers.iter().enumerate() {
            if reports[index].is_some() {
                continue;
            }
            let processes = container.processes(&self.boot_id);
            let open = |p: Option<&crate::sys::process::ProcessRecord>| match p {
                Some(p) => p.open(&self.boot_id),
                None => Ok(None),
            };
            let own_pid_namespace = container
                .record
                .oci
                .as_ref()
                .is_some_and(|oci| oci.pid_namespace == PidNamespace::Own);
            let process = open(processes.main.as_ref())?;
            let deaf_pid1 = own_pid_namespace
                && container.record.stop_signal != libc::SIGKILL
                && process.as_ref().is_some_and(|p| {
                    process::takes_signal(p.pid(), container.record.stop_signal) == Some(false)
                });
            targets.push(Target {
                index,
                process,
                monitor: open(processes.monitor.as_ref())?,
                deaf_pid1,
            });
        }

        let mut plan = StopPlan::new(
            targets.iter().map(|t| t.watched().is_some()),
            grace,
            Instant::now(),
        );
        for t in plan.to_signal() {
            let container = &containers[targets[t].index];
            if let Some(process) = &targets[t].process {
                log::debug!(
                    "container {:?}: sending {}",
                    container.record.name,
                    exit::signal_name(container.record.stop_signal)
                );
                if let Err(error) = process.send_signal(container.record.stop_signal) {
                    // The deadline's SIGKILL still comes; the stop goes on.
                    log::warn!("{}", crate::error_chain(&error));
                }
            }
        }
        loop {
            match plan.next(Instant::now()) {
                Step::Done => break,
                Step::Kill(survivors) => {
                    for t in survivors {
                        log::debug!(
                            "container {:?}: grace period over, sending SIGKILL",
                            containers[targets[t].index].record.name
                        );
                        // A main process already gone has a monitor about to record it.
                        if let Some(process) = &targets[t].process {
                            if let Err(error) = process.send_signal(libc::SIGKILL) {
                                log::warn!("{}", crate::error_chain(&error));
                            }
                        }
                    }
                }
                Step::Wait {
                    until,
                    targets: waiting,
                } => {
                    let pidfds: Vec<&PidFd> = waiting
                        .iter()
                        .filter_map(|&t| targets[t].watched())
                        .collect();
                    let left = until.saturating_duration_since(Instant::now());
                    for exited in process::wait_any(&pidfds, Some(left))? {
                        plan.saw_exit(waiting[exited], Instant::now());
                    }
                }
            }
        }

        let now = Instant::now();
        for (t, target) in targets.iter().enumerate() {
            let container = &containers[target.index];
            let exit = runtime::of(container.record.runtime).exit(&container.paths)?;
            let (ended, elapsed) = plan.ending(t, exit.map(|e| e.signal), now);
            reports[target.index] = Some(ContainerReport {
                name: container.record.name.clone(),
                exit_code: exit.map(|e| e.exit_code),
                signal: exit.and_then(|e| e.signal).map(exit::signal_name),
                ended,
                stop_signal: exit::signal_name(container.record.stop_signal),
                elapsed_ms: elapsed.as_secs_f64() * 1000.0,
                // Only a SIGKILL at the deadline needs explaining: a PID 1 that ended after the
                // stop signal took it, whatever its masks said.
                note: (target.deaf_pid1 && ended == Ending::Killed).then(|| {
                    format!(
                        "its PID 1 does not handle {}, so the kernel dropped it",
                        exit::signal_name(container.record.stop_signal)
                    )
                }),
                reason: self.oom_killed(container).then(|| OOM_KILLED.to_owned()),
            });
        }
        Ok(reports.into_iter().flatten().collect())
    }

    /// Stops the named containers of a pod (`sandbox stop POD CONTAINER...`) with the pod's
    /// policy: each one's stop signal, one grace period for all, SIGKILL, report.
    pub fn stop_containers(
        &self,
        pod: &str,
        names: &[String],
        grace: Duration,
    ) -> Result<StopReport> {
        let paths = self.store.pod(pod)?;
        Container::validate_names(names)?;
        let _lock = self.store.lock_pod(pod)?;
        state::sweep_temporary_records(&paths);
        let mut record = state::pod::load(&paths)?;
        record.require_created()?;
        let containers = Container::load_named(&paths, names)?;
        let containers = self.stop_loaded(&containers, grace, &record.stop.containers)?;
        record.stop.remember(&containers);
        state::pod::save_or_warn(&paths, &record);
        Ok(StopReport {
            pod: pod.to_owned(),
            containers,
            execs: Vec::new(),
            other_processes: OthersReport::default(),
        })
    }
}
