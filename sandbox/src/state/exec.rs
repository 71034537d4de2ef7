//! Records of running `exec` sessions, `<pod>/execs/<pid>.json`: one per session, written
//! before its launcher may run (the spawn handshake), removed by the CLI when it ends. A CLI
//! killed meanwhile leaves the record, so the session is never running unnamed: `inspect`
//! shows it, and `stop` names it in its report when it ends it.
//!
//! The directory is made by the first `exec` of a pod and removed by a `stop` that finds no
//! session left: every `inspect` and `ps` looks for sessions, and a directory that is not there
//! costs one failed `open`, where an empty one costs a listing. It is made and removed under
//! the pod's lock only; a session's end removes only its own record, without the lock.

use serde::{Deserialize, Serialize};

use super::file::{
    check_real_dir, create_private_dir, read_json, remove_if_present, write_new_json,
};
use super::layout::PodPaths;
use crate::error::{Context, Result};
use crate::sys::process::{PidFd, ProcessRecord};

/// One `exec` session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecRecord {
    /// The launcher (`pause` in init mode), which runs the command as its child.
    pub launcher: ProcessRecord,
    /// The command line.
    pub command: Vec<String>,
    /// When it started (RFC 3339).
    pub started_at: String,
}

/// Writes the record of a session (the caller holds the pod's lock), before its launcher may
/// run: a reader that finds it half-written skips it, and a writer killed halfway never lets
/// the launcher run.
pub fn save(paths: &PodPaths, record: &ExecRecord) -> Result<()> {
    create_private_dir(&paths.execs_dir())?;
    // A record of the same PID is a session that ended without its CLI: the PID is ours now.
    let path = paths.exec(record.launcher.pid);
    remove_if_present(&path)?;
    write_new_json(&path, record)
}

/// Removes the record of the session whose launcher is `pid`.
pub fn remove(paths: &PodPaths, pid: i32) -> Result<()> {
    remove_if_present(&paths.exec(pid))
}

/// Removes `dir` if it is empty; one that is not, or is gone already, is fine.
fn remove_dir_if_empty(dir: &std::path::Path) -> Result<()> {
    match std::fs::remove_dir(dir) {
        Err(e)
            if !matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::DirectoryNotEmpty
            ) =>
        {
            Err(e).context(|| format!("removing {}", dir.display()))
        }
        _ => Ok(()),
    }
}

/// The sessions of a pod whose launcher is still running, by PID. With `prune` (the caller
/// holds the pod's lock), the records of sessions that ended are removed.
pub fn running(paths: &PodPaths, boot_id: &str, prune: bool) -> Result<Vec<ExecRecord>> {
    let dir = paths.execs_dir();
    let what = || format!("listing exec sessions in {}", dir.display());
    match std::fs::symlink_metadata(&dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        _ => {
            check_real_dir(&dir)?;
        }
    }
    let entries = std::fs::read_dir(&dir).context(what)?;
    let mut sessions = Vec::new();
    for entry in entries {
        let entry = entry.context(what)?;
        let name = entry.file_name();
        let pid = name
            .to_str()
            .and_then(|n| n.strip_suffix(".json"))
            .and_then(|n| n.parse::<i32>().ok());
        let record = match pid {
            Some(_) => read_json::<ExecRecord>(&entry.path()),
            None => Ok(None), // the temporary file of a write that was killed
        };
        match (pid, record) {
            (Some(pid), Ok(Some(record)))
                if record.launcher.pid == pid && record.launcher.is_alive(boot_id) =>
            {
                sessions.push(record)
            }
            _ if prune => remove_if_present(&entry.path())?,
            _ => {}
        }
    }
    if prune && sessions.is_empty() {
        remove_dir_if_empty(&dir)?;
    }
    sessions.sort_by_key(|s| s.launcher.pid);
    Ok(sessions)
}

/// A running `exec` session: its launcher, the record that names it, and with `-t` the master
/// of its terminal.
#[derive(Debug)]
pub struct ExecSession {
    pub(crate) launcher: PidFd,
    pub(crate) paths: PodPaths,
    pub(crate) terminal: Option<std::fs::File>,
}

impl ExecSession {
    /// The launcher's pidfd (the command runs as its child).
    pub fn launcher(&self) -> &PidFd {
        &self.launcher
    }

    /// The master side of the session's terminal, once (`ExecIo::terminal`): what the command
    /// writes is read from it, what it should read is written to it.
    pub fn take_terminal(&mut self) -> Option<std::fs::File> {
        self.terminal.take()
    }

    /// Removes the session's record, once the launcher has been waited for (a pod removed
    /// meanwhile took it with it).
    pub fn finish(self) -> Result<()> {
        remove(&self.paths, self.launcher.pid())
    }
}
