//! Locks: `flock(2)` on a file. Per pod, `<root>/.locks/<pod>`, held by every command that
//! changes the pod, from its first read to its last write; per state root, a few more (see
//! `Store`); and per pod, its network's (`<pod>/cni.lock`), which CNI plugins inherit.
//!
//! The lock file lives outside the pod directory so that `rm` can remove the whole directory
//! while holding it, and `rm` then removes the lock file too. A waiter may therefore end up
//! holding a lock on a file that is no longer at the path: after `flock` returns it checks that
//! the path still names the file it locked, and tries again if not.
//!
//! Only `create` makes a lock file for a pod that does not exist yet; every other command
//! checks first that the pod does, so no command leaves a lock file for a pod that never was.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

use super::file::open_nofollow;
use crate::error::{Context, Error, Result};

/// An exclusive lock on a file (a pod's, or one of the state root's), released on drop.
#[derive(Debug)]
pub struct FileLock {
    _lock: Flock<File>,
    path: PathBuf,
}

impl FileLock {
    /// Takes the lock of pod `pod` at `path`, creating the file if needed and waiting for its
    /// holder.
    pub(crate) fn acquire(path: PathBuf, pod: &str) -> Result<FileLock> {
        FileLock::acquire_for(path, &format!("sandbox {pod:?}"))
    }

    /// Takes the lock at `path` that guards `guarded` (named in errors).
    pub(crate) fn acquire_for(path: PathBuf, guarded: &str) -> Result<FileLock> {
        let what = || format!("locking {guarded} ({})", path.display());
        loop {
            let file = open_nofollow(
                OpenOptions::new().read(true).write(true).create(true),
                &path,
            )
            .context(what)?;
            let lock = Flock::lock(file, FlockArg::LockExclusive)
                .map_err(|(_, errno)| errno)
                .context(what)?;
            // If `rm` removed (and maybe someone recreated) the file while we waited, we hold a
            // lock nobody else will look at: try again on the current file.
            let locked = lock.metadata().context(what)?;
            match std::fs::symlink_metadata(&path) {
                Ok(current) if current.ino() == locked.ino() && current.dev() == locked.dev() => {
                    return Ok(FileLock { _lock: lock, path });
                }
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e).context(what),
            }
        }
    }

    /// Takes the lock at `path` (which stays in place while the caller holds its pod's lock),
    /// creating the file if needed; waits for its holder at most `patience`, then fails
    /// with `Error::LockTimeout` naming `guarded`.
    pub(crate) fn acquire_within(
        path: PathBuf,
        guarded: &str,
        patience: std::time::Duration,
    ) -> Result<FileLock> {
        let what = || format!("locking {guarded} ({})", path.display());
        let deadline = std::time::Instant::now() + patience;
        let mut file = open_nofollow(
            OpenOptions::new().read(true).write(true).create(true),
            &path,
        )
        .context(what)?;
        loop {
            match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
                Ok(lock) => return Ok(FileLock { _lock: lock, path }),
                Err((back, Errno::EWOULDBLOCK)) if std::time::Instant::now() < deadline => {
                    file = back;
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err((_, Errno::EWOULDBLOCK)) => {
                    return Err(Error::LockTimeout {
                        guarded: guarded.to_owned(),
                        path,
                        waited: patience,
                    });
                }
                Err((_, errno)) => return Err(errno).context(what),
            }
        }
    }

    /// The locked file: a process that inherits a duplicate of it holds the lock too, until
    /// it exits (see `network::Attachment::hold`).
    pub fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        use std::os::fd::AsFd;
        self._lock.as_fd()
    }

    /// Removes the lock file (the pod is gone, or was never made); the lock is released when
    /// `self` drops.
    pub fn remove_file(&self) {
        if let Err(e) = std::fs::remove_file(&self.path) {
            log::warn!("removing lock file {}: {e}", self.path.display());
        }
    }
}

/// Whether some command holds the lock at `path` now (without creating the file, and without
/// keeping the lock).
pub(crate) fn is_held(path: &Path, pod: &str) -> Result<bool> {
    let file = match open_nofollow(OpenOptions::new().read(true), path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => {
            return Err(e)
                .context(|| format!("checking the lock of sandbox {pod:?} ({})", path.display()));
        }
    };
    // A shared probe: it fails against a command's exclusive lock, and two probes (two
    // `inspect`s) do not see each other.
    match Flock::lock(file, FlockArg::LockSharedNonblock) {
        Ok(_released_on_drop) => Ok(false),
        Err((_, Errno::EWOULDBLOCK)) => Ok(true),
        Err((_, errno)) => Err(errno)
            .context(|| format!("checking the lock of sandbox {pod:?} ({})", path.display())),
    }
}
