//! The image store's lock: `flock(2)` (exclusive) on `<store>/lock`, held by every command that
//! changes the store (pull, tag, untag, remove) from its first read to its last write. Readers (`list`,
//! `get`, `resolve`) take no lock: every record is replaced atomically by a rename.
//!
//! The lock file is never removed, so unlike a pod's lock (`state::lock`) a waiter need not
//! check that the file it locked is still the one at the path. The descriptor is opened
//! `O_CLOEXEC`, so no child of the holder keeps the lock after the holder ends.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

use crate::error::{Context, Result};

/// An exclusive lock on one image store, released on drop.
#[derive(Debug)]
pub struct ImageLock {
    _lock: Flock<File>,
    dir: PathBuf,
}

impl ImageLock {
    /// Takes the lock at `<dir>/lock`, creating the file (0600) if needed and waiting for the
    /// holder.
    pub(crate) fn acquire(dir: &Path) -> Result<ImageLock> {
        let path = dir.join("lock");
        let what = || format!("locking the image store ({})", path.display());
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&path)
            .context(what)?;
        let lock = Flock::lock(file, FlockArg::LockExclusive)
            .map_err(|(_, errno)| errno)
            .context(what)?;
        Ok(ImageLock {
            _lock: lock,
            dir: dir.to_owned(),
        })
    }

    /// The store directory this lock belongs to.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }
}
