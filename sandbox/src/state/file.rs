//! Files under the state root: private directories, atomic JSON, logs. Nothing here follows a
//! symlink: files are opened `O_NOFOLLOW`, and a directory is checked with `lstat` before it is
//! listed or emptied (a listing follows a symlinked directory, and emptying it would empty its
//! target).
//!
//! Writes are atomic and not synced: write `NAME.tmp`, rename it over `NAME`. A reader sees the
//! old or the new file, never half of one, whenever the writer is killed. No fsync: every
//! record describes processes that die with the machine, and after a reboot every record is
//! dead by its boot id anyway; an fsync cost a third of `create` and bought nothing a reader
//! could use (see ARCHITECTURE.md, "State on disk").

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Context, Error, Result};

/// The suffix of the temporary file of an atomic write.
pub(crate) const TMP_SUFFIX: &str = ".tmp";

pub(crate) fn open_nofollow(options: &mut OpenOptions, path: &Path) -> std::io::Result<File> {
    options
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
}

/// Opens `path` for reading if it is a regular file, and refuses anything else without
/// blocking on it: a FIFO an image or a layout put there would hang the opener (and the locks
/// it holds) until someone writes to it.
pub(crate) fn open_regular(path: &Path) -> std::io::Result<File> {
    // O_NONBLOCK makes the open of a FIFO return at once; it changes nothing for a file.
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_NOCTTY)
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    Ok(file)
}

/// The temporary file an atomic write of `path` goes through.
pub(crate) fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(TMP_SUFFIX);
    PathBuf::from(name)
}

/// Writes `value` as JSON to `path` atomically (see the module doc).
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(|e| Error::Io {
        what: format!("encoding {}", path.display()),
        source: e.into(),
    })?;
    bytes.push(b'\n');
    let tmp = tmp_path(path);
    let what = || format!("writing {}", path.display());
    let written = open_nofollow(
        OpenOptions::new().write(true).create(true).truncate(true),
        &tmp,
    )
    .and_then(|mut file| file.write_all(&bytes))
    .and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        // A full file system leaves a partial temporary file: never leave it behind.
        let _ = std::fs::remove_file(&tmp);
    }
    written.context(what)
}

/// Writes `value` as JSON to a new file at `path` (it must not exist), without the temporary
/// file and rename of [`write_json`]: for records that nobody acts on until their writer says
/// so (an exec session's, written before its launcher may run), where a reader that finds a
/// partial file may skip it.
pub fn write_new_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(|e| Error::Io {
        what: format!("encoding {}", path.display()),
        source: e.into(),
    })?;
    bytes.push(b'\n');
    open_nofollow(OpenOptions::new().write(true).create_new(true), path)
        .and_then(|mut file| file.write_all(&bytes))
        .context(|| format!("writing {}", path.display()))
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

/// Removes `path` if it exists; a file that is already gone is fine.
pub(crate) fn remove_if_present(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).context(|| format!("removing {}", path.display()))
        }
        _ => Ok(()),
    }
}

/// Opens (creating) a log file for appending, mode 0600, not following symlinks.
pub fn open_log(path: &Path) -> Result<File> {
    open_nofollow(OpenOptions::new().append(true).create(true), path)
        .context(|| format!("opening log file {}", path.display()))
}

/// Opens (creating, or emptying) a log file for writing, mode 0600, not following symlinks.
pub(crate) fn open_log_truncated(path: &Path) -> Result<File> {
    open_nofollow(
        OpenOptions::new().write(true).truncate(true).create(true),
        path,
    )
    .context(|| format!("opening log file {}", path.display()))
}

/// The last lines of a log (what the last `limit` bytes hold), joined by "; ": what a command
/// that failed said last.
pub(crate) fn tail_of_log(path: &Path, limit: u64) -> String {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut file) = open_nofollow(OpenOptions::new().read(true), path) else {
        return String::new();
    };
    let length = file.metadata().map(|m| m.len()).unwrap_or(0);
    if file
        .seek(SeekFrom::Start(length.saturating_sub(limit)))
        .is_err()
    {
        return String::new();
    }
    let mut text = Vec::new();
    let _ = file.take(limit).read_to_end(&mut text);
    let text = String::from_utf8_lossy(&text);
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    // The first line of a cut log is a piece of one.
    if length > limit {
        lines.next();
    }
    lines.collect::<Vec<_>>().join("; ")
}

/// The first lines of a log, at most `limit` bytes, joined by "; ": what a process that died
/// at once said (an error comes first; a usage text after it adds little).
pub(crate) fn head_of_log(path: &Path, limit: u64) -> String {
    use std::io::Read;
    const LINES: usize = 3;
    let Ok(file) = open_nofollow(OpenOptions::new().read(true), path) else {
        return String::new();
    };
    let mut text = Vec::new();
    let _ = file.take(limit).read_to_end(&mut text);
    let text = String::from_utf8_lossy(&text);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let mut said = lines[..lines.len().min(LINES)].join("; ");
    if lines.len() > LINES {
        said.push_str("; ...");
    }
    said
}

/// Creates a directory with mode 0700; an existing one is checked instead.
pub(crate) fn create_private_dir(dir: &Path) -> Result<()> {
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => check_private_dir(dir),
        Err(e) => Err(e).context(|| format!("creating {}", dir.display())),
    }
}

/// Refuses a directory that is a symlink, or that another user could tamper with.
pub(crate) fn check_private_dir(dir: &Path) -> Result<()> {
    let meta = check_real_dir(dir)?;
    let unsafe_path = |reason: &str| Error::UnsafePath {
        path: dir.to_owned(),
        reason: reason.to_owned(),
    };
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

/// Checks, without following it, that `dir` is a directory and not a symlink to one.
pub(crate) fn check_real_dir(dir: &Path) -> Result<std::fs::Metadata> {
    let meta = std::fs::symlink_metadata(dir).context(|| format!("checking {}", dir.display()))?;
    if meta.file_type().is_symlink() {
        return Err(Error::UnsafePath {
            path: dir.to_owned(),
            reason: "it is a symlink; nothing under the state root is followed".to_owned(),
        });
    }
    if !meta.is_dir() {
        return Err(Error::UnsafePath {
            path: dir.to_owned(),
            reason: "it is not a directory".to_owned(),
        });
    }
    Ok(meta)
}

/// Whether `dir` exists: `false` if it does not, `true` if it is a real directory, and an
/// error if it is a symlink or not a directory (nothing under the root is followed).
pub(crate) fn is_real_dir(dir: &Path) -> Result<bool> {
    match std::fs::symlink_metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        _ => check_real_dir(dir).map(|_| true),
    }
}

/// Removes a directory and everything in it, with the file named `last` removed last (so a
/// command killed halfway leaves a directory that still says what it was). Never follows a
/// symlink: `dir` itself must be a real directory, and entries are removed, not followed.
pub(crate) fn remove_dir_last(dir: &Path, last: &str) -> Result<()> {
    let what = || format!("removing {}", dir.display());
    match std::fs::symlink_metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        _ => {
            check_real_dir(dir)?;
        }
    }
    for entry in std::fs::read_dir(dir).context(what)? {
        let entry = entry.context(what)?;
        if entry.file_name() == last {
            continue;
        }
        let path = entry.path();
        // `file_type` is the entry's own type: a symlink is removed as a file.
        let removed = if entry.file_type().context(what)?.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        removed.context(|| format!("removing {}", path.display()))?;
    }
    remove_if_present(&dir.join(last))?;
    std::fs::remove_dir(dir).context(what)
}

/// A new directory under the temporary directory, for unit tests.
#[cfg(test)]
pub(crate) fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "sandbox-{tag}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trips_atomically_and_corruption_names_the_file() {
        let root = scratch("file");
        let path = root.join("x.json");
        assert!(read_json::<Vec<u32>>(&path).unwrap().is_none());
        write_json(&path, &vec![1u32, 2, 3]).unwrap();
        assert_eq!(read_json::<Vec<u32>>(&path).unwrap(), Some(vec![1, 2, 3]));
        assert!(!root.join("x.json.tmp").exists());
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::write(&path, b"[1, 2").unwrap();
        let err = read_json::<Vec<u32>>(&path).unwrap_err();
        assert!(err.to_string().contains("x.json"), "{err}");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_symlinked_directory_is_neither_listed_nor_emptied() {
        let root = scratch("file");
        let target = root.join("target");
        std::fs::create_dir(&target).unwrap();
        std::fs::write(target.join("precious"), b"x").unwrap();
        let link = root.join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let err = remove_dir_last(&link, "state.json").unwrap_err();
        assert!(err.to_string().contains("symlink"), "{err}");
        assert!(target.join("precious").exists());
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn the_last_file_goes_last_and_links_inside_are_removed_not_followed() {
        let root = scratch("file");
        let outside = root.join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::fs::write(outside.join("keep"), b"x").unwrap();
        let dir = root.join("pod");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("state.json"), b"{}").unwrap();
        std::os::unix::fs::symlink(&outside, dir.join("containers")).unwrap();
        remove_dir_last(&dir, "state.json").unwrap();
        assert!(!dir.exists());
        assert!(outside.join("keep").exists());
        std::fs::remove_dir_all(&root).unwrap();
    }
}
