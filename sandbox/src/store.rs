//! The state root: where pods live on disk, who may change them, and how files are written.
//!
//! ```text
//! <root>/                    mode 0700, owned by root, never a symlink
//!   .locks/<pod>             flock(2) held by every command that changes <pod>
//!   <pod>/                   mode 0700
//!     state.json             the pod record (see crate::pod)
//!     pause.log              pause's stderr
//!     ns/{ipc,uts,net[,pid]} pins (see crate::namespace)
//!     containers/<c>/        state.json, exit.json (written by the monitor), stdout.log, stderr.log
//! ```
//!
//! - Names are validated before any path is built from them, so no name can leave its directory.
//! - Every write is atomic: write a temporary file, fsync, rename. A reader sees the old or the
//!   new file, never half of one. Files are opened with `O_NOFOLLOW`.
//! - The lock lives outside the pod directory so that `rm` can remove the whole directory while
//!   holding it. A lock file can itself be removed by `rm`, so [`Store::lock_pod`] re-checks,
//!   after `flock` returns, that the path still names the file it locked.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Context, Error, Result};

/// The default state root.
pub const DEFAULT_ROOT: &str = "/run/sandbox";
const LOCKS_DIR: &str = ".locks";

/// Checks a pod or container name: 1–63 characters of `[a-zA-Z0-9_.-]`, not starting with `-`
/// or `.` (so it is never an option, a hidden file, `.` or `..`).
pub fn validate_name(what: &'static str, name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        Some("must not be empty")
    } else if name.len() > 63 {
        Some("must be at most 63 characters")
    } else if name.starts_with(['-', '.']) {
        Some("must not start with '-' or '.'")
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    {
        Some("may only contain letters, digits, '_', '.' and '-'")
    } else {
        None
    };
    match reason {
        None => Ok(()),
        Some(reason) => Err(Error::InvalidInput {
            what,
            value: name.to_owned(),
            reason: reason.to_owned(),
        }),
    }
}

/// The state root.
#[derive(Clone, Debug)]
pub struct Store {
    root: PathBuf,
}

/// An exclusive lock on one pod, released on drop.
#[derive(Debug)]
pub struct PodLock {
    _lock: Flock<File>,
    path: PathBuf,
}

impl PodLock {
    /// Removes the lock file (the pod is gone); the lock is released when `self` drops.
    pub fn remove_file(&self) {
        if let Err(e) = std::fs::remove_file(&self.path) {
            log::warn!("removing lock file {}: {e}", self.path.display());
        }
    }
}

impl Store {
    /// Opens the state root, creating it (mode 0700) if needed, and refuses one that is a
    /// symlink, not a directory, not owned by us, or writable by group or others.
    pub fn open(root: impl Into<PathBuf>) -> Result<Store> {
        let root = root.into();
        if !root.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&root)
                .context(|| format!("creating state root {}", root.display()))?;
        }
        check_private_dir(&root)?;
        let store = Store { root };
        store.create_private_dir(&store.root.join(LOCKS_DIR))?;
        Ok(store)
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory of pod `name` (which must be valid).
    pub fn pod_dir(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Takes the exclusive lock of pod `name`, waiting for other commands on the same pod.
    pub fn lock_pod(&self, name: &str) -> Result<PodLock> {
        self.lock_pod_with(name, FlockArg::LockExclusive)?
            .ok_or_else(|| Error::Os {
                what: format!("locking sandbox {name:?}"),
                source: nix::errno::Errno::EWOULDBLOCK,
            })
    }

    /// Takes the exclusive lock of pod `name` if nobody holds it; `None` if somebody does.
    pub fn try_lock_pod(&self, name: &str) -> Result<Option<PodLock>> {
        self.lock_pod_with(name, FlockArg::LockExclusiveNonblock)
    }

    fn lock_pod_with(&self, name: &str, how: FlockArg) -> Result<Option<PodLock>> {
        // Validated here, before the name becomes part of a path: exec, run and stop lock first.
        validate_name("sandbox name", name)?;
        let path = self.root.join(LOCKS_DIR).join(name);
        let what = || format!("locking sandbox {name:?} ({})", path.display());
        loop {
            let file = open_nofollow(
                OpenOptions::new().read(true).write(true).create(true),
                &path,
            )
            .context(what)?;
            let lock = match Flock::lock(file, how) {
                Ok(lock) => lock,
                Err((_, nix::errno::Errno::EWOULDBLOCK)) => return Ok(None),
                Err((_, errno)) => return Err(errno).context(what),
            };
            // If `rm` removed (and maybe someone recreated) the file while we waited, we hold a
            // lock nobody else will look at: try again on the current file.
            let locked = lock.metadata().context(what)?;
            match std::fs::symlink_metadata(&path) {
                Ok(current) if current.ino() == locked.ino() && current.dev() == locked.dev() => {
                    return Ok(Some(PodLock { _lock: lock, path }));
                }
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e).context(what),
            }
        }
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
            if validate_name("sandbox name", &name).is_ok()
                && entry.file_type().context(what)?.is_dir()
            {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    /// Creates a directory with mode 0700 (an existing one is checked instead).
    pub fn create_private_dir(&self, dir: &Path) -> Result<()> {
        match std::fs::DirBuilder::new().mode(0o700).create(dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => check_private_dir(dir),
            Err(e) => Err(e).context(|| format!("creating {}", dir.display())),
        }
    }
}

/// Refuses a directory that another user could tamper with.
fn check_private_dir(dir: &Path) -> Result<()> {
    let unsafe_path = |reason: &str| Error::UnsafePath {
        path: dir.to_owned(),
        reason: reason.to_owned(),
    };
    let meta = std::fs::symlink_metadata(dir).context(|| format!("checking {}", dir.display()))?;
    if meta.file_type().is_symlink() {
        return Err(unsafe_path("it is a symlink"));
    }
    if !meta.is_dir() {
        return Err(unsafe_path("it is not a directory"));
    }
    if meta.uid() != nix::unistd::geteuid().as_raw() {
        return Err(unsafe_path("it is owned by another user"));
    }
    if meta.permissions().mode() & 0o022 != 0 {
        return Err(unsafe_path(
            "it is writable by group or others (expected mode 0700)",
        ));
    }
    Ok(())
}

fn open_nofollow(options: &mut OpenOptions, path: &Path) -> std::io::Result<File> {
    options
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
}

/// Writes `value` as JSON to `path` atomically: `path.tmp`, fsync, rename.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(|e| Error::Io {
        what: format!("encoding {}", path.display()),
        source: e.into(),
    })?;
    bytes.push(b'\n');
    write_atomic(path, &bytes)
}

/// Writes `bytes` to `path` atomically: `path.tmp`, fsync, rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = PathBuf::from(tmp_name);
    let what = || format!("writing {}", path.display());
    let mut file = open_nofollow(
        OpenOptions::new().write(true).create(true).truncate(true),
        &tmp,
    )
    .context(what)?;
    file.write_all(bytes).context(what)?;
    file.sync_all().context(what)?;
    std::fs::rename(&tmp, path).context(what)
}

/// Reads JSON from `path` without following a symlink; `Ok(None)` if it does not exist. A file
/// that exists but does not parse is [`Error::CorruptState`], naming the file.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    let file = match open_nofollow(OpenOptions::new().read(true), path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).context(|| format!("reading {}", path.display())),
    };
    serde_json::from_reader(std::io::BufReader::new(file))
        .map(Some)
        .map_err(|source| Error::CorruptState {
            path: path.to_owned(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_good_names() {
        for name in ["web", "a", "db-1", "my_pod.v2", "A9", &"x".repeat(63)] {
            validate_name("sandbox name", name).unwrap();
        }
    }

    #[test]
    fn refuses_bad_names() {
        for name in [
            "",
            "../x",
            "a/b",
            "..",
            ".",
            ".hidden",
            "-rf",
            "a b",
            "a\0b",
            "é",
            &"x".repeat(64),
        ] {
            assert!(
                validate_name("sandbox name", name).is_err(),
                "{name:?} accepted"
            );
        }
    }

    fn scratch() -> PathBuf {
        std::env::temp_dir().join(format!(
            "sandbox-store-test-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ))
    }

    #[test]
    fn json_round_trips_atomically_and_corruption_names_the_file() {
        let root = scratch();
        let store = Store::open(&root).unwrap();
        let path = store.root().join("x.json");
        assert!(read_json::<Vec<u32>>(&path).unwrap().is_none());
        write_json(&path, &vec![1u32, 2, 3]).unwrap();
        assert_eq!(read_json::<Vec<u32>>(&path).unwrap(), Some(vec![1, 2, 3]));
        assert!(!root.join("x.json.tmp").exists());
        std::fs::write(&path, b"[1, 2").unwrap();
        let err = read_json::<Vec<u32>>(&path).unwrap_err();
        assert!(err.to_string().contains("x.json"), "{err}");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn refuses_a_symlinked_or_open_root() {
        let real = scratch();
        std::fs::create_dir_all(&real).unwrap();
        let link = real.with_extension("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        assert!(Store::open(&link).is_err());
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(Store::open(&real).is_err());
        std::fs::remove_file(&link).unwrap();
        std::fs::remove_dir_all(&real).unwrap();
    }

    #[test]
    fn root_is_created_private() {
        let root = scratch();
        Store::open(&root).unwrap();
        let mode = std::fs::metadata(&root).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        std::fs::remove_dir_all(&root).unwrap();
    }

    proptest::proptest! {
        // Whatever a user types, validation never panics, and an accepted name is one path
        // component that stays inside its directory.
        #[test]
        fn accepted_names_stay_inside_the_root(name in ".{0,80}") {
            if validate_name("sandbox name", &name).is_ok() {
                let path = Path::new("/root-dir").join(&name);
                proptest::prop_assert_eq!(path.parent(), Some(Path::new("/root-dir")));
                proptest::prop_assert!(name != "." && name != ".." && !name.starts_with('-'));
            }
        }

        #[test]
        fn state_files_of_any_bytes_never_panic(bytes in proptest::collection::vec(0u8.., 0..256)) {
            let root = scratch();
            std::fs::create_dir_all(&root).unwrap();
            let path = root.join("state.json");
            std::fs::write(&path, &bytes).unwrap();
            let _ = read_json::<crate::pod::PodRecord>(&path);
            let _ = read_json::<crate::container::ContainerRecord>(&path);
            let _ = read_json::<crate::container::ExitRecord>(&path);
            std::fs::remove_dir_all(&root).unwrap();
        }
    }
}
