//! An OCI container's root file system: an overlay of its image's layers (shared, read-only)
//! with a writable layer of its own (`upper/`, removed with the container), mounted at
//! `rootfs/` in the container's directory; or a directory of the host, used as it is.

use std::path::{Path, PathBuf};

use crate::error::{Context, Error, Result};
use crate::state::container::RootfsSource;
use crate::state::{self, ContainerPaths, PodPaths};
use crate::sys::mount;

/// Makes the container's root file system ready and returns its path: the overlay is mounted
/// at `rootfs/` over `layers` (top first) for an image, or the directory is checked.
pub fn prepare(
    paths: &ContainerPaths,
    source: &RootfsSource,
    layers: &[PathBuf],
) -> Result<PathBuf> {
    match source {
        RootfsSource::Directory { path } => {
            check_directory(path)?;
            Ok(path.clone())
        }
        RootfsSource::Image { .. } => {
            for dir in [paths.rootfs(), paths.upper(), paths.work()] {
                state::create_private_dir(&dir)?;
            }
            // The writable layer is the root directory's own: 0755 like any `/`.
            set_mode(&paths.upper(), 0o755)?;
            set_mode(&paths.rootfs(), 0o755)?;
            mount::mount_overlay(&paths.rootfs(), layers, &paths.upper(), &paths.work())?;
            Ok(paths.rootfs())
        }
    }
}

/// Unmounts the overlay, if it is mounted; the directories go with the container's.
pub fn release(paths: &ContainerPaths) -> Result<()> {
    mount::unmount(&paths.rootfs())
}

/// Unmounts the overlay of every container directory of `pod`, whether or not its record can
/// be read (a corrupt one is skipped by teardown, but its mount must not keep the pod's
/// directory from going).
pub fn release_all(pod: &PodPaths) -> Result<()> {
    let dir = pod.containers_dir();
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).context(|| format!("listing {}", dir.display())),
    };
    for entry in entries {
        let entry = entry.context(|| format!("listing {}", dir.display()))?;
        if let Some(name) = entry.file_name().to_str()
            && state::validate_name("container name", name).is_ok()
        {
            release(&pod.container(name))?;
        }
    }
    Ok(())
}

/// A root file system directory given by `--rootfs`, made absolute with every symlink
/// resolved (runc refuses a symlinked root), and refused if it is not a directory or is the
/// host's own root.
pub fn canonical_directory(given: &Path) -> Result<PathBuf> {
    let invalid = |reason: &str| Error::InvalidInput {
        what: "root file system",
        value: given.display().to_string(),
        reason: reason.to_owned(),
    };
    let path = std::fs::canonicalize(given).map_err(|e| invalid(&e.to_string()))?;
    if path == Path::new("/") {
        return Err(invalid("the host's own root cannot be a container's"));
    }
    check_directory(&path).map_err(|_| invalid("not a directory"))?;
    Ok(path)
}

fn check_directory(path: &Path) -> Result<()> {
    let meta = std::fs::metadata(path).context(|| format!("reading {}", path.display()))?;
    if !meta.is_dir() {
        return Err(Error::InvalidInput {
            what: "root file system",
            value: path.display().to_string(),
            reason: "not a directory".to_owned(),
        });
    }
    Ok(())
}

fn set_mode(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .context(|| format!("setting the mode of {}", path.display()))
}
