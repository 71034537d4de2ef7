//! `stop` of containers: the driver of [`StopPlan`]. It opens verified pidfds, starts the
//! preStop hooks (`exec` sessions in the containers), sends the stop signals and SIGKILLs the
//! plan asks for, waits on the pidfds (containers' and hooks') until the plan's deadlines, and
//! reports how each container and its hook ended. The reports are kept in the pod's record, one write for
//! all of them, so a later stop repeats them. A record that cannot be written (a full file
//! system) costs a warning, never the stop.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use std::os::fd::AsFd;
use std::path::PathBuf;

use super::{Container, OOM_KILLED};
use crate::command::{CommandSpec, ExecIo};
use crate::error::Result;
use crate::exit;
use crate::host::Host;
use crate::kill;
use crate::policy::stop::{
    ContainerReport, Ending, Grace, HookOutcome, HookReport, HookTimer, OthersReport, PreStopHook,
    Step, StopPlan, StopReport, StopTarget,
};
use crate::runtime;
use crate::state::container::PidNamespace;
use crate::state::exec::ExecSession;
use crate::state::pod::PodRecord;
use crate::state::{self, PodPaths};
use crate::sys::process::{self, PidFd, ProcessRecord};

/// How much of what a failed preStop hook wrote its report quotes (its first lines).
const HOOK_OUTPUT_QUOTED: u64 = 512;

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

/// A preStop hook process: an `exec` session in the container, writing to its `pre-stop.log`.
struct HookProcess {
    session: ExecSession,
    log: PathBuf,
}

/// How a hook process ended.
struct HookEnd {
    /// Its exit code (128+n if killed by signal n).
    exit_code: i32,
    /// Whether `stop` had to kill it (it outlived its container).
    killed: bool,
    /// The first lines of what it wrote.
    said: Option<String>,
}

impl Host {
    /// Stops the given containers of pod `pod` (whose lock the caller holds, and records the
    /// reports): preStop hooks, stop signals, one grace period for all of them, SIGKILL. A
    /// container that an earlier stop reported on (in `reported`) keeps that report.
    pub(crate) fn stop_loaded(
        &self,
        pod: (&PodPaths, &PodRecord),
        containers: &[Container],
        grace: Grace,
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
            targets.iter().map(|t| StopTarget {
                running: t.watched().is_some(),
                // Only a container whose process is known can run a hook inside it.
                hook: containers[t.index]
                    .record
                    .pre_stop
                    .as_ref()
                    .filter(|_| t.process.is_some())
                    .map(|hook| match hook {
                        PreStopHook::Exec { .. } => HookTimer::Process,
                        PreStopHook::Sleep { seconds } => {
                            HookTimer::Sleep(Duration::from_secs(*seconds))
                        }
                    }),
            }),
            grace,
            Instant::now(),
        );
        let signal = |t: usize| {
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
        };
        // Those without a hook first: starting the hooks takes time of their grace period.
        plan.to_signal().into_iter().for_each(signal);
        let mut hooks: Vec<Option<HookProcess>> = targets.iter().map(|_| None).collect();
        let mut hook_failures: Vec<Option<String>> = targets.iter().map(|_| None).collect();
        for t in plan.to_hook() {
            let container = &containers[targets[t].index];
            let Some(PreStopHook::Exec { command }) = &container.record.pre_stop else {
                continue;
            };
            match self.start_hook(pod, container, command) {
                Ok(hook) => hooks[t] = Some(hook),
                Err(error) => {
                    let message = crate::error_chain(&error);
                    log::warn!(
                        "container {:?}: its preStop hook could not start: {message}",
                        container.record.name
                    );
                    hook_failures[t] = Some(message);
                    plan.hook_ended(t, Instant::now());
                }
            }
        }
        let mut drive = || -> Result<()> {
            loop {
                match plan.next(Instant::now()) {
                    Step::Done => break,
                    Step::Signal(ready) => ready.into_iter().for_each(signal),
                    Step::Kill(survivors) => {
                        for t in survivors {
                            log::debug!(
                                "container {:?}: grace period over, sending SIGKILL",
                                containers[targets[t].index].record.name
                            );
                            // A main process already gone has a monitor about to record it.
                            if let Some(process) = &targets[t].process
                                && let Err(error) = process.send_signal(libc::SIGKILL)
                            {
                                log::warn!("{}", crate::error_chain(&error));
                            }
                        }
                    }
                    Step::Wait {
                        until,
                        targets: waiting,
                        hooks: hooked,
                    } => {
                        // What is waited on: the containers, then the hook processes.
                        let mut watched: Vec<(bool, usize, &PidFd)> = waiting
                            .iter()
                            .filter_map(|&t| targets[t].watched().map(|pidfd| (false, t, pidfd)))
                            .collect();
                        watched.extend(hooked.iter().filter_map(|&t| {
                            hooks[t]
                                .as_ref()
                                .map(|hook| (true, t, hook.session.launcher()))
                        }));
                        let pidfds: Vec<&PidFd> =
                            watched.iter().map(|(_, _, pidfd)| *pidfd).collect();
                        let left = until.saturating_duration_since(Instant::now());
                        for ended in process::wait_any(&pidfds, Some(left))? {
                            let (is_hook, t, _) = watched[ended];
                            if is_hook {
                                plan.hook_ended(t, Instant::now());
                            } else {
                                plan.saw_exit(t, Instant::now());
                            }
                        }
                    }
                }
            }
            Ok(())
        };
        let driven = drive();
        // Every hook is ended and reaped, whatever happened: none outlives the stop.
        let ended: Vec<Option<HookEnd>> = hooks
            .into_iter()
            .enumerate()
            .map(|(t, hook)| hook.map(|hook| self.end_hook(&containers[targets[t].index], hook)))
            .collect();
        driven?;

        let now = Instant::now();
        for (t, target) in targets.iter().enumerate() {
            let container = &containers[target.index];
            let pre_stop = plan.hook_run(t, now).map(|(elapsed, overran)| {
                let end = ended[t].as_ref();
                // A sleep still running, or a hook process that had to be killed, ended with
                // its container.
                let interrupted = end.map_or(plan.hook_running(t), |end| end.killed);
                let outcome = match end.map(|end| end.exit_code) {
                    _ if overran => HookOutcome::Overran,
                    _ if interrupted => HookOutcome::Interrupted,
                    Some(0) => HookOutcome::Completed,
                    None if hook_failures[t].is_none() => HookOutcome::Completed,
                    _ => HookOutcome::Failed,
                };
                HookReport {
                    hook: container
                        .record
                        .pre_stop
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default(),
                    outcome,
                    exit_code: end.map(|end| end.exit_code),
                    elapsed_ms: elapsed.as_secs_f64() * 1000.0,
                    message: hook_failures[t].take().or_else(|| {
                        end.and_then(|end| end.said.clone())
                            .filter(|_| outcome != HookOutcome::Completed)
                    }),
                }
            });
            // An exit record that cannot be read is reported as unknown: the stop goes on.
            let exit = runtime::of(container.record.runtime)
                .exit(&container.paths)
                .unwrap_or_else(|error| {
                    log::warn!("{}", crate::error_chain(&error));
                    None
                });
            let (ended, elapsed) = plan.ending(t, exit.map(|e| e.signal), now);
            reports[target.index] = Some(ContainerReport {
                name: container.record.name.clone(),
                exit_code: exit.map(|e| e.exit_code),
                signal: exit.and_then(|e| e.signal).map(exit::signal_name),
                ended,
                stop_signal: exit::signal_name(container.record.stop_signal),
                elapsed_ms: elapsed.as_secs_f64() * 1000.0,
                pre_stop,
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

    /// Starts `command` as `container`'s preStop hook: an `exec` session in it (its namespaces,
    /// user and environment, its cgroup), writing to its `pre-stop.log`.
    fn start_hook(
        &self,
        (paths, record): (&PodPaths, &PodRecord),
        container: &Container,
        command: &[String],
    ) -> Result<HookProcess> {
        let log = container.paths.pre_stop_log();
        let output = state::open_log_truncated(&log)?;
        let spec = CommandSpec {
            argv: command.to_vec(),
            ..CommandSpec::default()
        };
        let session = self.start_exec(
            paths.clone(),
            record,
            Some(&container.record.name),
            &spec,
            &ExecIo::default(),
            Some(output.as_fd()),
        )?;
        Ok(HookProcess { session, log })
    }

    /// Ends a hook process once the stop is done: what it started in its session is killed
    /// (a hook may leave a process in the background), and so is the hook itself if it still
    /// runs (its container ended first, or was killed while it ran); then it is reaped and its
    /// record removed.
    fn end_hook(&self, container: &Container, hook: HookProcess) -> HookEnd {
        let launcher = hook.session.launcher();
        let what = || {
            format!(
                "ending the preStop hook of container {:?}",
                container.record.name
            )
        };
        let killed = matches!(launcher.has_exited(), Ok(false));
        // Its session is known by the launcher's PID while the launcher is not reaped.
        if let Some(leader) = ProcessRecord::of_unreaped_child(launcher.pid(), &self.boot_id) {
            let members = leader.session_members();
            if let Err(error) = kill::kill_recorded(&members, &self.boot_id, what) {
                log::warn!("{}", crate::error_chain(&error));
            }
        }
        if killed && let Err(error) = launcher.send_signal(libc::SIGKILL) {
            log::warn!("{}", crate::error_chain(&error));
        }
        let exit_code = process::reap(launcher.pid(), what).unwrap_or_else(|error| {
            log::warn!("{}", crate::error_chain(&error));
            125
        });
        if let Err(error) = hook.session.finish() {
            log::warn!("{}", crate::error_chain(&error));
        }
        let said = state::head_of_log(&hook.log, HOOK_OUTPUT_QUOTED);
        HookEnd {
            exit_code,
            killed,
            said: (!said.is_empty()).then_some(said),
        }
    }

    /// Stops the named containers of a pod (`sandbox stop POD CONTAINER...`) with the pod's
    /// policy: preStop hooks, each one's stop signal, one grace period for all (the pod's
    /// when `grace` is not given), SIGKILL, report.
    pub fn stop_containers(
        &self,
        pod: &str,
        names: &[String],
        grace: Option<Duration>,
    ) -> Result<StopReport> {
        let paths = self.store.pod(pod)?;
        Container::validate_names(names)?;
        let _lock = self.store.lock_pod(pod)?;
        state::sweep_temporary_records(&paths);
        let mut record = state::pod::load(&paths)?;
        record.require_created()?;
        let containers = Container::load_named(&paths, names)?;
        let grace = grace.map_or(Grace::Pods(record.grace_period()), Grace::Given);
        let containers = self.stop_loaded(
            (&paths, &record),
            &containers,
            grace,
            &record.stop.containers,
        )?;
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
