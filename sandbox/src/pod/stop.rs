//! `stop` of a pod, the kubelet's way: stop every container with one plan (stop signal, one
//! grace period, SIGKILL; see `crate::policy::stop`) → record `stopping` with their reports →
//! SIGKILL what is left in the pod's network namespace (running `exec` sessions, orphans of
//! containers), named in the report → SIGTERM pause → record `stopped` with the whole report.
//! The pins stay until `rm`.
//!
//! A stop of a stopped pod repeats the recorded report. A stop killed after its containers left
//! `stopping` and their reports; the next stop keeps those and finishes. Failing to write a
//! record (a full file system) costs a warning, never the stop itself.

use std::time::Duration;

use crate::container::Container;
use crate::error::Result;
use crate::exit;
use crate::host::Host;
use crate::kill;
use crate::policy::stop::{ExecReport, Grace, OthersReport, StopReport};
use crate::state::exec;
use crate::state::pod::PAUSE_CGROUP;
use crate::state::pod::{PodPhase, PodRecord};
use crate::state::{self, PodPaths};
use crate::sys::namespace::{self, NamespaceKind};
use crate::sys::process::{self, ProcessRecord};

/// How long pause gets to exit after SIGTERM before it is killed.
const PAUSE_STOP_TIMEOUT: Duration = Duration::from_secs(5);

impl Host {
    /// Stops a pod: its containers (preStop hooks, stop signals, one grace period for all,
    /// then SIGKILL), whatever else runs in it, then pause. Stopping a stopped pod reports the
    /// same again. The grace period is the pod's own when `grace` is not given.
    pub fn stop_pod(&self, name: &str, grace: Option<Duration>) -> Result<StopReport> {
        let paths = self.store.pod(name)?;
        let _lock = self.store.lock_pod(name)?;
        state::sweep_temporary_records(&paths);
        let mut record = state::pod::load(&paths)?;
        // A container whose record cannot be read stops the stop before anything is signalled,
        // naming the file: it could only be SIGKILLed as an unknown process, without its stop
        // signal and grace period; `rm --force` removes such a pod.
        let containers = Container::load_all(&paths, false)?;
        record.require_created()?;
        if record.phase == PodPhase::Stopped {
            return Ok(StopReport {
                pod: name.to_owned(),
                containers: containers
                    .iter()
                    .filter_map(|c| record.stop.containers.get(&c.record.name).cloned())
                    .collect(),
                execs: record.stop.execs,
                other_processes: record.stop.other_processes,
            });
        }
        let grace = grace.map_or(Grace::Pods(record.grace_period()), Grace::Given);
        let reports = self.stop_loaded(
            (&paths, &record),
            &containers,
            grace,
            &record.stop.containers,
        )?;
        record.stop.remember(&reports);
        // Recorded before anything else is ended: a stop killed from here on leaves these
        // reports to the next one.
        record.set_phase(PodPhase::Stopping)?;
        state::pod::save_or_warn(&paths, &record);
        let (execs, other_processes) = self.end_leftovers(&paths, &record)?;
        self.stop_pause(&record)?;
        record.stop.execs = execs.clone();
        record.stop.other_processes = other_processes.clone();
        record.stopped_at = Some(state::now_rfc3339());
        record.set_phase(PodPhase::Stopped)?;
        state::pod::save_or_warn(&paths, &record);
        Ok(StopReport {
            pod: name.to_owned(),
            containers: reports,
            execs,
            other_processes,
        })
    }

    /// SIGKILLs every process of the pod but pause, once its containers have stopped: `exec`
    /// sessions (named in the report, with their commands) and processes no record names
    /// (orphans of containers, counted). They are what is left in the pod's cgroup outside
    /// pause's leaf, killed leaf by leaf all at once (`cgroup.kill`), so nothing forks away;
    /// a pod without a cgroup (made before pods had them) is scanned for in `/proc` by its
    /// network namespace instead.
    fn end_leftovers(
        &self,
        paths: &PodPaths,
        record: &PodRecord,
    ) -> Result<(Vec<ExecReport>, OthersReport)> {
        let sessions = exec::running(paths, &self.boot_id, false)?;
        let mut execs = Vec::new();
        let mut others = 0;
        let is_pause = |p: &ProcessRecord| record.pause.as_ref() == Some(p);
        let mut classify = |members: &[ProcessRecord]| {
            for member in members {
                if let Some(session) = sessions.iter().find(|s| &s.launcher == member) {
                    execs.push(ExecReport {
                        pid: member.pid,
                        command: session.command.clone(),
                        started_at: session.started_at.clone(),
                        signal: exit::signal_name(libc::SIGKILL),
                    });
                } else if !sessions
                    .iter()
                    .any(|s| member.parent_pid() == Some(s.launcher.pid))
                {
                    // An exec session's command is part of the session, not another process.
                    others += 1;
                }
            }
        };
        let what = || format!("killing what was left in sandbox {:?}", record.name);
        if let Some(cgroup) = &record.cgroup {
            let pod = self.cgroups()?.cgroup(&cgroup.path);
            let members: Vec<ProcessRecord> = pod
                .processes()?
                .into_iter()
                .filter_map(|pid| ProcessRecord::of(pid, &self.boot_id))
                .filter(|member| !is_pause(member))
                .collect();
            classify(&members);
            for leaf in pod.children()? {
                if !leaf.path().ends_with(PAUSE_CGROUP) {
                    kill::kill_cgroup(&leaf, what)?;
                }
            }
        } else if let Some(net) = namespace::pinned_inode(&paths.namespace(NamespaceKind::Net))? {
            loop {
                let members: Vec<ProcessRecord> =
                    namespace::members(NamespaceKind::Net, net, &self.boot_id)
                        .into_iter()
                        .filter(|member| !is_pause(member))
                        .collect();
                if members.is_empty() {
                    break;
                }
                classify(&members);
                kill::kill_recorded(&members, &self.boot_id, what)?;
            }
        }
        // Every session has ended: the records go, with those of sessions that ended before.
        if let Err(error) = exec::running(paths, &self.boot_id, true) {
            log::warn!("{}", crate::error_chain(&error));
        }
        let other_processes = OthersReport {
            count: others,
            signal: (others > 0).then(|| exit::signal_name(libc::SIGKILL)),
        };
        Ok((execs, other_processes))
    }

    /// SIGTERM to pause (it exits 0 on it), SIGKILL if it is still there after a while.
    fn stop_pause(&self, record: &PodRecord) -> Result<()> {
        let Some(pause) = &record.pause else {
            return Ok(());
        };
        let Some(pidfd) = pause.open(&self.boot_id)? else {
            return Ok(());
        };
        pidfd.send_signal(libc::SIGTERM)?;
        if process::wait_all(&[&pidfd], PAUSE_STOP_TIMEOUT)?.is_empty() {
            return Ok(());
        }
        log::warn!(
            "sandbox {:?}: pause ignored SIGTERM for {PAUSE_STOP_TIMEOUT:?}; killing it",
            record.name
        );
        kill::kill_and_wait(&[pidfd], || {
            format!("killing pause of sandbox {:?}", record.name)
        })
    }
}
