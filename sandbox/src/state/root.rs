//! The state root: where it is, who may use it, and the pods in it.
//!
//! The root is made absolute before anything is recorded (pins and paths in state files stay
//! valid from any working directory), must not have a symlink in any component (a symlink
//! anywhere in the path lets whoever can change it move the root), and must be a directory
//! owned by us that nobody else can write to.

use std::os::unix::fs::DirBuilderExt;
use std::path::{Component, Path, PathBuf};

use super::file::{check_private_dir, create_private_dir, is_real_dir, tmp_path};
use super::layout::{LOCKS_DIR, NETWORK_DIR, PodPaths};
use super::lock::{self, FileLock};
use super::validate_name;
use crate::error::{Context, Error, Result};

/// The default state root.
pub const DEFAULT_ROOT: &str = "/run/sandbox";

/// The state root.
#[derive(Clone, Debug)]
pub struct Store {
    root: PathBuf,
}

/// See [`Store::tag`].
pub fn root_tag(root: &Path) -> String {
    use sha2::Digest;
    let hash = sha2::Sha256::digest(root.as_os_str().as_encoded_bytes());
    hash[..4].iter().map(|byte| format!("{byte:02x}")).collect()
}

impl Store {
    /// Opens the state root, creating it (mode 0700) if needed. Refuses a root with a symlink
    /// in its path, or one that is not a directory, not owned by us, or writable by others.
    pub fn open(root: impl AsRef<Path>) -> Result<Store> {
        let root = resolve_root(root.as_ref())?;
        if !root.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&root)
                .context(|| format!("creating state root {}", root.display()))?;
        }
        check_private_dir(&root)?;
        create_private_dir(&root.join(LOCKS_DIR))?;
        Ok(Store { root })
    }

    /// The image store's directory.
    pub fn images_dir(&self) -> PathBuf {
        self.root.join(super::layout::IMAGES_DIR)
    }

    /// The state directory (`--root`) of OCI runtime `name`.
    pub fn runtime_dir(&self, name: &str) -> PathBuf {
        self.root.join(super::layout::RUNTIMES_DIR).join(name)
    }

    /// The root directory (absolute).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// 8 hex digits of the root's path hashed: what host-wide names derived from a pod's
    /// (runtime container IDs, cgroups) add, so that two state roots never share one.
    pub fn tag(&self) -> String {
        root_tag(&self.root)
    }

    /// The paths of pod `name`, after checking the name.
    pub fn pod(&self, name: &str) -> Result<PodPaths> {
        validate_name("sandbox name", name)?;
        Ok(PodPaths::new(&self.root, name))
    }

    fn lock_path(&self, name: &str) -> PathBuf {
        self.root.join(LOCKS_DIR).join(name)
    }

    /// Takes the lock of a pod that is about to be created (the lock file is created if
    /// needed). A create that fails removes it again ([`FileLock::remove_file`]).
    pub fn lock_new_pod(&self, name: &str) -> Result<FileLock> {
        validate_name("sandbox name", name)?;
        FileLock::acquire(self.lock_path(name), name)
    }

    /// Takes the lock every `create` that publishes ports holds from checking that no other pod
    /// has them to recording them.
    pub fn lock_published_ports(&self) -> Result<FileLock> {
        // No pod name starts with a dot, so this file is no pod's lock.
        FileLock::acquire_for(self.lock_path(".published-ports"), "the published ports")
    }

    /// Takes the lock held while the built-in network's list is written and while stale
    /// address reservations are released.
    pub fn lock_networks(&self) -> Result<FileLock> {
        FileLock::acquire_for(self.lock_path(".networks"), "the networks")
    }

    /// The directory of the state root's networking files: the built-in network's list and
    /// its address reservations.
    pub fn network_dir(&self) -> PathBuf {
        self.root.join(NETWORK_DIR)
    }

    /// Takes the lock of an existing pod, waiting for other commands on it.
    /// [`Error::PodNotFound`] if there is no such pod, before or after the wait (an `rm` may
    /// have removed it meanwhile); no lock file is left behind for a pod that does not exist.
    pub fn lock_pod(&self, name: &str) -> Result<FileLock> {
        let paths = self.pod(name)?;
        let lock_path = self.lock_path(name);
        if std::fs::symlink_metadata(paths.dir()).is_err() {
            // No pod. A lock file without one is what an `rm` killed between removing the
            // directory and the lock file left: finish its job; never make a new one.
            if std::fs::symlink_metadata(&lock_path).is_ok() {
                let lock = FileLock::acquire(lock_path, name)?;
                if std::fs::symlink_metadata(paths.dir()).is_err() {
                    lock.remove_file();
                }
            }
            return Err(Error::PodNotFound(name.to_owned()));
        }
        let lock = FileLock::acquire(lock_path, name)?;
        if std::fs::symlink_metadata(paths.dir()).is_err() {
            lock.remove_file();
            return Err(Error::PodNotFound(name.to_owned()));
        }
        Ok(lock)
    }

    /// Whether a command holds the lock of pod `name` now.
    pub fn is_locked(&self, name: &str) -> Result<bool> {
        validate_name("sandbox name", name)?;
        lock::is_held(&self.lock_path(name), name)
    }

    /// Names of all pods, sorted.
    pub fn pod_names(&self) -> Result<Vec<String>> {
        let what = || format!("listing sandboxes in {}", self.root.display());
        let mut names = Vec::new();
        for entry in std::fs::read_dir(&self.root).context(what)? {
            let entry = entry.context(what)?;
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            // A symlink is listed too (its type is the link's own), so that `inspect` and
            // `rm` can refuse it by name instead of hiding it.
            let file_type = entry.file_type().context(what)?;
            if validate_name("sandbox name", &name).is_ok()
                && (file_type.is_dir() || file_type.is_symlink())
            {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }
}

/// Removes the temporary files of record writes that a killed command left (between creating
/// the file and renaming it); only commands holding the lock write records, so under the lock
/// such a file is nobody's. The monitor's own temporary file is left alone: it writes without
/// the lock. Called under the lock by the commands that write records.
pub(crate) fn sweep_temporary_records(paths: &PodPaths) {
    let mut leftovers = vec![tmp_path(&paths.state())];
    let containers = paths.containers_dir();
    let entries = match is_real_dir(&containers) {
        Ok(true) => std::fs::read_dir(&containers).ok(),
        _ => None,
    };
    if let Some(entries) = entries {
        leftovers.extend(entries.filter_map(|entry| {
            let name = entry.ok()?.file_name();
            let name = name.to_str()?;
            validate_name("container name", name).ok()?;
            Some(tmp_path(&paths.container(name).state()))
        }));
    }
    for leftover in leftovers {
        match std::fs::remove_file(&leftover) {
            Ok(()) => log::debug!(
                "removed {}, left by a command that died",
                leftover.display()
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => log::warn!("removing {}: {e}", leftover.display()),
        }
    }
}

/// `root` made absolute and free of `.` and `..`, after checking that no component of it that
/// exists is a symlink.
fn resolve_root(root: &Path) -> Result<PathBuf> {
    let absolute = if root.is_absolute() {
        root.to_owned()
    } else {
        std::env::current_dir()
            .context(|| "finding the working directory to make --root absolute")?
            .join(root)
    };
    let mut resolved = PathBuf::from("/");
    let mut exists = true;
    for component in absolute.components() {
        match component {
            Component::Normal(name) => resolved.push(name),
            // No component so far is a symlink, so `..` is the parent we walked through.
            Component::ParentDir => {
                resolved.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => continue,
        }
        if !exists {
            continue;
        }
        match std::fs::symlink_metadata(&resolved) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = std::fs::read_link(&resolved)
                    .map(|t| t.display().to_string())
                    .unwrap_or_else(|e| format!("unreadable: {e}"));
                return Err(Error::UnsafePath {
                    path: root.to_owned(),
                    reason: format!(
                        "{} is a symlink (to {target}); give the state root as a path without symlinks",
                        resolved.display()
                    ),
                });
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => exists = false,
            Err(e) => return Err(e).context(|| format!("checking {}", resolved.display())),
        }
    }
    Ok(resolved)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::state::file::scratch;

    #[test]
    fn a_symlink_anywhere_in_the_root_is_refused() {
        let real = scratch("root");
        let link = real.with_extension("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        for root in [
            link.clone(),
            link.join(""),
            link.join("sub"),
            link.join("a/b"),
        ] {
            let err = Store::open(&root).unwrap_err().to_string();
            assert!(err.contains("is a symlink"), "{}: {err}", root.display());
        }
        assert!(!real.join("sub").exists());
        std::fs::remove_file(&link).unwrap();
        std::fs::remove_dir_all(&real).unwrap();
    }

    #[test]
    fn an_open_root_is_refused_and_a_new_one_is_private() {
        let real = scratch("root");
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(Store::open(&real).is_err());
        let new = real.join("new");
        Store::open(&new).unwrap();
        let mode = std::fs::metadata(&new).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        std::fs::remove_dir_all(&real).unwrap();
    }

    #[test]
    fn roots_are_made_absolute_and_lexically_clean() {
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(resolve_root(Path::new("a/./b")).unwrap(), cwd.join("a/b"));
        assert_eq!(
            resolve_root(Path::new("/tmp/x/../y/")).unwrap(),
            Path::new("/tmp/y")
        );
    }
}
