//! `logs`: copy a container's stdout and stderr logs, and with `follow` keep copying what it
//! writes until it exits (woken by inotify and the monitor's pidfd: no polling tick).

use std::fs::File;
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;

use nix::errno::Errno;

use super::Container;
use crate::error::{Context, Result};
use crate::host::Host;
use crate::state;

impl Host {
    /// Copies the container's stdout log to `out` and stderr log to `err`; with `follow`, keeps
    /// copying what it writes until it exits.
    pub fn container_logs(
        &self,
        pod: &str,
        name: &str,
        follow: bool,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> Result<()> {
        let pod_paths = self.store.pod(pod)?;
        state::pod::load(&pod_paths)?;
        let container = Container::load(&pod_paths, name)?;
        let open = |path: std::path::PathBuf| {
            std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                .open(&path)
                .context(|| format!("opening {}", path.display()))
        };
        let mut stdout_log = open(container.paths.stdout())?;
        let mut stderr_log = open(container.paths.stderr())?;
        let mut copy_new = || -> Result<()> {
            copy_appended(&mut stdout_log, out)?;
            copy_appended(&mut stderr_log, err)
        };
        copy_new()?;
        let monitor = match (
            &container.record.monitor,
            follow && container.exit.is_none(),
        ) {
            (Some(monitor), true) => monitor.open(&self.boot_id)?,
            _ => None,
        };
        let Some(monitor) = monitor else {
            return Ok(());
        };
        let inotify = nix::sys::inotify::Inotify::init(
            nix::sys::inotify::InitFlags::IN_CLOEXEC | nix::sys::inotify::InitFlags::IN_NONBLOCK,
        )
        .context(|| "creating an inotify instance to follow logs")?;
        for log in [container.paths.stdout(), container.paths.stderr()] {
            inotify
                .add_watch(&log, nix::sys::inotify::AddWatchFlags::IN_MODIFY)
                .context(|| format!("watching {}", log.display()))?;
        }
        loop {
            let mut fds = [
                nix::poll::PollFd::new(inotify.as_fd(), nix::poll::PollFlags::POLLIN),
                nix::poll::PollFd::new(monitor.as_fd(), nix::poll::PollFlags::POLLIN),
            ];
            match nix::poll::poll(&mut fds, nix::poll::PollTimeout::NONE) {
                Ok(_) | Err(Errno::EINTR) => {}
                Err(errno) => return Err(errno).context(|| "following container logs"),
            }
            let exited = fds[1].revents().is_some_and(|r| !r.is_empty());
            while inotify.read_events().is_ok_and(|events| !events.is_empty()) {}
            copy_new()?;
            if exited {
                return Ok(());
            }
        }
    }
}

/// Copies what was appended to `log` since the last call into `sink`.
fn copy_appended(log: &mut File, sink: &mut dyn Write) -> Result<()> {
    std::io::copy(log, sink).context(|| "copying container logs")?;
    sink.flush().context(|| "writing container logs")
}
