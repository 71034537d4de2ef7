//! Namespaces of a pod: their kinds, pinning them with bind mounts, joining them by the pinned
//! files, and their identity (the inode of the namespace file).
//!
//! Kernel facts relied on:
//! - A namespace lives while a process is in it *or* a file refers to it. Bind-mounting
//!   `/proc/PID/ns/KIND` onto an empty file ("pinning") keeps it alive after every process has
//!   left, and gives other tools (`ip netns`, `nsenter`, OCI runtimes) a stable path to join.
//! - Every namespace has a unique inode number on the nsfs filesystem (`st_ino` of
//!   `/proc/PID/ns/KIND`), which is how tests and [`open_pinned`] check identity.
//! - `setns(CLONE_NEWPID)` only moves the caller's *future children*; that is why a spawn joins
//!   in the child and `pause` forks the command.
//!
//! Pin: open `/proc/PID/ns/KIND` → check the holder is still alive through its pidfd (so the
//! PID was not recycled between spawn and open) → create an empty file → bind-mount
//! `/proc/self/fd/N` onto it. Unpin: `umount2(MNT_DETACH)` → unlink.
//!
//! Members: the processes in a pinned namespace are found by the inode of `/proc/PID/ns/KIND`,
//! whatever the state files say, which is how `rm` finds processes whose records were lost
//! ([`pinned_inode`], [`members`]).

use std::collections::BTreeMap;
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sched::CloneFlags;
use serde::{Deserialize, Serialize};

use crate::error::{Context, Error, Result};
use crate::sys::process::{PidFd, ProcessRecord};

/// The kinds of namespace a pod shares between its containers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NamespaceKind {
    /// System V IPC and POSIX message queues.
    Ipc,
    /// Hostname and NIS domain name.
    Uts,
    /// Network devices, addresses, ports (and so loopback between containers).
    Net,
    /// Process IDs: containers see each other and `pause` is their PID 1.
    Pid,
}

/// The order in which a process joins namespaces. No user or mount namespace is involved, so
/// the order only matters for PID, which comes last because it affects only later children.
pub const JOIN_ORDER: [NamespaceKind; 4] = [
    NamespaceKind::Ipc,
    NamespaceKind::Uts,
    NamespaceKind::Net,
    NamespaceKind::Pid,
];

impl NamespaceKind {
    /// The `clone`/`setns` flag of this kind.
    pub fn clone_flag(self) -> CloneFlags {
        match self {
            NamespaceKind::Ipc => CloneFlags::CLONE_NEWIPC,
            NamespaceKind::Uts => CloneFlags::CLONE_NEWUTS,
            NamespaceKind::Net => CloneFlags::CLONE_NEWNET,
            NamespaceKind::Pid => CloneFlags::CLONE_NEWPID,
        }
    }

    /// The name of this kind under `/proc/PID/ns/`.
    pub fn proc_name(self) -> &'static str {
        match self {
            NamespaceKind::Ipc => "ipc",
            NamespaceKind::Uts => "uts",
            NamespaceKind::Net => "net",
            NamespaceKind::Pid => "pid",
        }
    }

    /// The clone flags for a set of kinds.
    pub fn flags_of(kinds: &[NamespaceKind]) -> CloneFlags {
        kinds
            .iter()
            .fold(CloneFlags::empty(), |flags, kind| flags | kind.clone_flag())
    }
}

impl std::fmt::Display for NamespaceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.proc_name())
    }
}

/// A pinned namespace: where its bind mount is and which namespace it holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pin {
    /// The bind-mounted file.
    pub path: PathBuf,
    /// The namespace's inode number.
    pub inode: u64,
}

/// The pinned namespaces of a pod, by kind.
pub type Pins = BTreeMap<NamespaceKind, Pin>;

/// Pins namespace `kind` of the process behind `holder` at `target` (an empty file is created).
/// `pod` names the sandbox in errors.
pub fn pin(holder: &PidFd, kind: NamespaceKind, target: &Path, pod: &str) -> Result<Pin> {
    let what = || {
        format!(
            "pinning {kind} namespace of sandbox {pod:?} at {}",
            target.display()
        )
    };
    let source = format!("/proc/{}/ns/{}", holder.pid(), kind.proc_name());
    let namespace = File::open(&source).context(|| format!("{}: opening {source}", what()))?;
    // The PID may have been recycled if the holder died: then `namespace` is someone else's.
    if holder.has_exited()? {
        return Err(Error::PauseDied {
            pod: pod.to_owned(),
            said: String::new(),
        });
    }
    let inode = namespace.metadata().context(what)?.ino();
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o400)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(target)
        .context(|| format!("{}: creating the mount point", what()))?;
    let fd_path = format!("/proc/self/fd/{}", namespace.as_raw_fd());
    if let Err(errno) = mount(
        Some(fd_path.as_str()),
        target,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    ) {
        let _ = std::fs::remove_file(target);
        return Err(errno).context(what);
    }
    log::debug!(
        "pinned {kind} namespace (inode {inode}) of sandbox {pod:?} at {}",
        target.display()
    );
    Ok(Pin {
        path: target.to_owned(),
        inode,
    })
}

/// Opens namespace `name` (`mnt`, `pid`, ...) of the live process behind `process`, for
/// joining: `/proc/PID/ns/NAME`, then a check through the pidfd that the process had not exited
/// (so the PID was not recycled in between and the file is that process's).
pub fn open_of_process(process: &PidFd, name: &str) -> Result<File> {
    let path = PathBuf::from(format!("/proc/{}/ns/{name}", process.pid()));
    let file = File::open(&path).context(|| format!("opening {}", path.display()))?;
    if process.has_exited()? {
        return Err(Error::Io {
            what: format!("opening {}", path.display()),
            source: std::io::Error::other("the process exited"),
        });
    }
    Ok(file)
}

/// Unmounts and removes a pin; a pin that is already gone (or was never mounted) is fine.
pub fn unpin(path: &Path) -> Result<()> {
    match umount2(path, MntFlags::MNT_DETACH | MntFlags::UMOUNT_NOFOLLOW) {
        Ok(()) => log::debug!("unmounted {}", path.display()),
        // EINVAL: not a mount point (a pin interrupted before its mount); ENOENT: gone already.
        Err(Errno::EINVAL | Errno::ENOENT) => {}
        Err(errno) => return Err(errno).context(|| format!("unmounting {}", path.display())),
    }
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).context(|| format!("removing {}", path.display()))
        }
        _ => Ok(()),
    }
}

/// Opens the namespace pinned at `path` for joining, after checking that it still is a
/// namespace (nsfs) and the very one that was pinned (`inode`). Never joins through
/// `/proc/PID`: a dead or recycled holder would silently break that.
pub fn open_pinned(kind: NamespaceKind, path: &Path, inode: u64) -> Result<File> {
    let what = || format!("opening pinned {kind} namespace {}", path.display());
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .context(what)?;
    let fs = nix::sys::statfs::fstatfs(file.as_fd()).context(what)?;
    if fs.filesystem_type() != nix::sys::statfs::NSFS_MAGIC {
        return Err(Error::UnsafePath {
            path: path.to_owned(),
            reason: format!("not a pinned {kind} namespace (not mounted on nsfs)"),
        });
    }
    let found = file.metadata().context(what)?.ino();
    if found != inode {
        return Err(Error::UnsafePath {
            path: path.to_owned(),
            reason: format!(
                "holds {kind} namespace inode {found}, but the sandbox pinned inode {inode}"
            ),
        });
    }
    Ok(file)
}

/// Makes `dir` a shared mount point (bind-mounting it onto itself first if it is not a mount
/// point), as `ip netns add` does for `/run/netns`. Shared propagation makes an unmount of a pin
/// reach the copies that other mount namespaces (such as `ip netns exec`'s) made of it, so a
/// removed namespace is really freed.
pub fn ensure_shared_mount(dir: &Path) -> Result<()> {
    let what = || format!("making {} a shared mount", dir.display());
    std::fs::create_dir_all(dir).context(|| format!("creating {}", dir.display()))?;
    let make_shared = || {
        mount(
            None::<&str>,
            dir,
            None::<&str>,
            MsFlags::MS_SHARED | MsFlags::MS_REC,
            None::<&str>,
        )
    };
    match make_shared() {
        Ok(()) => return Ok(()),
        Err(Errno::EINVAL) => {} // not a mount point yet
        Err(errno) => return Err(errno).context(what),
    }
    mount(
        Some(dir),
        dir,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .context(what)?;
    make_shared().context(what)
}

/// The inode of the namespace pinned at `path`; `None` if there is no pin there (no file, or a
/// file that is not mounted on nsfs: a pin interrupted before its mount).
pub fn pinned_inode(path: &Path) -> Result<Option<u64>> {
    let what = || format!("reading the pinned namespace {}", path.display());
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
    {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).context(what),
    };
    if nix::sys::statfs::fstatfs(file.as_fd())
        .context(what)?
        .filesystem_type()
        != nix::sys::statfs::NSFS_MAGIC
    {
        return Ok(None);
    }
    Ok(Some(file.metadata().context(what)?.ino()))
}

/// The live processes in namespace `inode` of kind `kind` (by `/proc/PID/ns/KIND`). Each is
/// recorded (PID and start time) and *then* checked again, so a PID recycled after the check
/// yields a record whose start time no longer matches, which [`ProcessRecord::open`] refuses.
pub fn members(kind: NamespaceKind, inode: u64, boot_id: &str) -> Vec<ProcessRecord> {
    let Ok(all) = procfs::process::all_processes() else {
        return Vec::new();
    };
    let in_namespace = |pid: i32| {
        std::fs::metadata(format!("/proc/{pid}/ns/{}", kind.proc_name()))
            .is_ok_and(|m| m.ino() == inode)
    };
    all.filter_map(|p| p.ok())
        .map(|p| p.pid())
        .filter(|&pid| in_namespace(pid))
        .filter_map(|pid| ProcessRecord::of(pid, boot_id))
        .filter(|p| in_namespace(p.pid))
        .collect()
}

/// The inode of a namespace file (`/proc/PID/ns/KIND` or a pin).
pub fn inode_of(path: &Path) -> Result<u64> {
    std::fs::metadata(path)
        .map(|m| m.ino())
        .context(|| format!("reading the namespace inode of {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid_is_joined_last() {
        assert_eq!(JOIN_ORDER.last(), Some(&NamespaceKind::Pid));
    }

    #[test]
    fn kinds_serialise_as_proc_names() {
        for kind in JOIN_ORDER {
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.proc_name()));
        }
    }

    #[test]
    fn flags_combine() {
        let flags = NamespaceKind::flags_of(&[NamespaceKind::Net, NamespaceKind::Uts]);
        assert_eq!(flags, CloneFlags::CLONE_NEWNET | CloneFlags::CLONE_NEWUTS);
    }
}
