//! `exec`: run a command in the foreground inside a pod's namespaces, through `pause`'s init
//! mode (which forwards signals, reaps, and maps 126/127).
//!
//! lock → check the pod runs, open its pins → clone3 the launcher into them → record the
//! session (`execs/<pid>.json`) before it may run → unlock. The caller waits for the launcher
//! and then ends the session ([`ExecSession::finish`]); a caller killed before that leaves the
//! record, so the session stays named: `inspect` shows it and `stop` reports ending it.

use std::os::fd::AsFd;

use super::ExecSession;
use crate::command::CommandSpec;
use crate::error::{Error, Result};
use crate::host::Host;
use crate::state;
use crate::state::exec::{self, ExecRecord};
use crate::sys::process::ProcessRecord;
use crate::sys::spawn::Spawn;

impl Host {
    /// Starts `command` inside the pod's namespaces; the caller waits for the launcher.
    pub fn exec(&self, pod: &str, command: &CommandSpec) -> Result<ExecSession> {
        command.validate()?;
        let paths = self.store.pod(pod)?;
        let _lock = self.store.lock_pod(pod)?;
        let record = state::pod::load(&paths)?;
        record.require_running(&self.boot_id)?;
        let namespaces = record.open_namespaces(&paths)?;
        let join = namespaces
            .iter()
            .map(|(file, kind)| (file.as_fd(), kind.clone_flag()))
            .collect();
        // The record is written before the launcher may run; a launcher that then fails a step
        // (a working directory that is not there) must not leave it behind.
        let recorded = std::cell::Cell::new(None);
        let launcher = Spawn::new(
            &self.pause,
            command.pause_args(&[]),
            &command.environment(&record.hostname),
        )?
        .join(join)
        .cwd(command.workdir())?
        .spawn_recorded(|launcher| {
            let pid = launcher.pid();
            let launcher = ProcessRecord::of(pid, &self.boot_id).ok_or_else(|| Error::Io {
                what: format!("recording exec process {pid}"),
                source: std::io::Error::other("it exited before it could be recorded"),
            })?;
            exec::save(
                &paths,
                &ExecRecord {
                    launcher,
                    command: command.argv.clone(),
                    started_at: state::now_rfc3339(),
                },
            )?;
            recorded.set(Some(pid));
            Ok(())
        })
        .map_err(|error| {
            if let Some(pid) = recorded.get() {
                if let Err(cleanup) = exec::remove(&paths, pid) {
                    log::warn!("{}", crate::error_chain(&cleanup));
                }
            }
            error.within(&format!("exec in sandbox {pod:?}"))
        })?;
        Ok(ExecSession { launcher, paths })
    }
}
