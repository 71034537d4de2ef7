//! File system mounts that are not namespace pins: a container's overlay root and a pod's
//! `/dev/shm`. Every mount made here lives in the host's mount namespace at a path under the
//! state root, so that whoever finds the state can find (and unmount) the mount.

use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags};

use crate::error::{Context, Error, Result};

/// The longest option string `mount(2)` takes: one page, with its NUL.
const MAX_OPTIONS: usize = 4095;

/// Mounts an overlay at `target`: `lower` (top layer first, read-only), `upper` (writes go
/// there) and `work` (the overlay's scratch space, on the same file system as `upper`).
pub fn mount_overlay(target: &Path, lower: &[PathBuf], upper: &Path, work: &Path) -> Result<()> {
    let what = || format!("mounting an overlay at {}", target.display());
    let mut lowerdir = Vec::with_capacity(lower.len());
    for dir in lower {
        let dir = dir.to_str().filter(|d| !d.contains([':', ',', '\\']));
        lowerdir.push(dir.ok_or_else(|| Error::Io {
            what: what(),
            source: std::io::Error::other("a layer path contains ':', ',', '\\' or non-UTF-8"),
        })?);
    }
    let options = format!(
        "lowerdir={},upperdir={},workdir={}",
        lowerdir.join(":"),
        upper.display(),
        work.display()
    );
    if options.len() > MAX_OPTIONS {
        return Err(Error::Io {
            what: what(),
            source: std::io::Error::other(format!(
                "{} layers make {} bytes of mount options, more than the kernel's {MAX_OPTIONS}",
                lower.len(),
                options.len()
            )),
        });
    }
    nix::mount::mount(
        Some("overlay"),
        target,
        Some("overlay"),
        MsFlags::empty(),
        Some(options.as_str()),
    )
    .context(what)
}

/// Mounts a tmpfs at `target` that allows no devices, setuid or execution, with `options`
/// (`mode=1777,size=65536k`).
pub fn mount_tmpfs(target: &Path, source: &str, options: &str) -> Result<()> {
    nix::mount::mount(
        Some(source),
        target,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some(options),
    )
    .context(|| format!("mounting a tmpfs at {}", target.display()))
}

/// Unmounts whatever is mounted at `target` (lazily, so a process still inside cannot make it
/// fail); nothing mounted there, or no `target`, is fine.
pub fn unmount(target: &Path) -> Result<()> {
    loop {
        match nix::mount::umount2(target, MntFlags::MNT_DETACH | MntFlags::UMOUNT_NOFOLLOW) {
            // Mounts can be stacked (a command that died and one that retried): all go.
            Ok(()) => log::debug!("unmounted {}", target.display()),
            // EINVAL: not a mount point; ENOENT: not there.
            Err(Errno::EINVAL | Errno::ENOENT) => return Ok(()),
            Err(errno) => {
                return Err(errno).context(|| format!("unmounting {}", target.display()));
            }
        }
    }
}
