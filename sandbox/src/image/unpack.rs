//! Unpacking one layer tar into a directory of its own, entry by entry, so that nothing lands
//! outside it, with whiteouts converted for overlayfs (see `whiteout`).
//!
//! What the `tar` crate (0.4) guarantees, and what this module adds:
//! - `Entry::unpack_in` *silently skips* an entry with a `..` component, strips a leading `/`,
//!   and canonicalizes the entry's parent directory (following symlinks) to check that it lies
//!   inside the destination; a hard link's target is checked the same way. An absolute symlink
//!   in a parent is thereby resolved against the host's `/`, so whether an entry below it is
//!   refused depends on the host.
//! - Here, first: an absolute path or one with `..` is refused with an error naming the entry,
//!   not skipped. Every parent directory of an entry is walked with `lstat` and made (0755)
//!   where missing, and an entry below a symlink of its own layer is refused: docker, buildkit
//!   and umoci never write one, and where it should land is resolution policy (containerd
//!   resolves inside the root; tar-rs follows on the host). The layer directory is new and only
//!   this process (holding the store's lock) writes in it, so the walk cannot be raced; what
//!   `unpack_in` checks again afterwards is a second line of defence.
//! - Directories get their own mode, owner and mtime after every other entry, children first,
//!   as `Archive::unpack` does, so that a read-only directory does not stop its children and
//!   the mtime is not changed by them (the mtime is set here: the tar crate sets none on
//!   directories).
//! - The root entry (`./`) is ignored, as containerd ignores it: the layer directory keeps
//!   0755 root:root (the top layer's root becomes the container's `/`).
//! - Character and block devices are skipped (containers get `/dev` from the runtime; the tar
//!   crate would write them as empty regular files). FIFOs are made here with `mkfifo`, which
//!   the tar crate does not do either.
//! - xattrs (PAX `SCHILY.xattr.*`) are applied by the tar crate to regular files only. An entry
//!   that would set overlayfs's own (`trusted.overlay.*`: opaque, redirect, metacopy) is
//!   refused: those are the store's to write, and the kernel acts on them.
//! - `tar` 0.4.45 or later is required: earlier releases followed a symlink of the archive when
//!   setting a directory's mode and owner.

use std::collections::HashSet;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use nix::sys::stat::{Mode, UtimensatFlags, utimensat};
use nix::sys::time::TimeSpec;
use tar::{Entry, EntryType, Header};

use super::whiteout::{self, Whiteout};
use crate::error::{Context, Error, Result};

/// The mode of directories made because an entry needs them, and of the layer directory.
pub(crate) const DIR_MODE: u32 = 0o755;

/// Unpacks the tar stream `reader` (layer `layer` of image `image`, both named in errors) into
/// the empty directory `root`. Returns the layer's size: the bytes of its regular files. It
/// stops at the tar's end-of-archive blocks; the caller reads what follows.
pub(crate) fn unpack_layer<R: Read>(
    reader: R,
    root: &Path,
    image: &str,
    layer: &str,
) -> Result<u64> {
    let mut archive = tar::Archive::new(reader);
    archive.set_preserve_permissions(true);
    archive.set_preserve_ownerships(true);
    archive.set_unpack_xattrs(true);
    archive.set_preserve_mtime(true);
    archive.set_overwrite(true);
    let mut unpacker = Unpacker {
        root,
        image,
        layer,
        real_dirs: HashSet::new(),
        whiteouts: HashSet::new(),
        size: 0,
    };
    let reading = || format!("reading layer {layer} of image {image}");
    let mut dirs = Vec::new();
    for entry in archive.entries().context(reading)? {
        let mut entry = entry.context(reading)?;
        let raw = entry.path().context(reading)?.into_owned();
        let Some(path) = unpacker.checked(&raw)? else {
            continue;
        };
        refuse_overlay_xattrs(&mut entry, &path, image, layer)?;
        if let Some(whiteout) = path.file_name().and_then(whiteout::classify) {
            unpacker.whiteout(&path, whiteout, entry.header())?;
            continue;
        }
        let kind = entry.header().entry_type();
        if kind.is_dir() {
            unpacker.prepare_parents(&path)?;
            dirs.push((path, entry));
        } else if kind.is_character_special() || kind.is_block_special() {
            log::debug!(
                "skipping device node {} of layer {layer}: containers get /dev from the runtime",
                path.display()
            );
        } else if kind.is_pax_global_extensions() {
            continue;
        } else if kind.is_fifo() {
            unpacker.prepare_parents(&path)?;
            unpacker.make_fifo(&path, entry.header())?;
        } else {
            unpacker.prepare_parents(&path)?;
            unpacker.unpack(&path, &mut entry)?;
            if matches!(
                kind,
                EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse
            ) {
                unpacker.size += entry.size();
            }
        }
    }
    // Children before their parents (reverse order of the paths' bytes), as `Archive::unpack`.
    dirs.sort_by(|(a, _), (b, _)| b.as_os_str().as_bytes().cmp(a.as_os_str().as_bytes()));
    for (path, mut entry) in dirs {
        unpacker.unpack(&path, &mut entry)?;
        // The tar crate sets no mtime on directories.
        unpacker.set_mtime(&path, entry.header())?;
    }
    Ok(unpacker.size)
}

/// Refuses an entry whose PAX extensions set an xattr of overlayfs's own.
fn refuse_overlay_xattrs<R: Read>(
    entry: &mut Entry<'_, R>,
    path: &Path,
    image: &str,
    layer: &str,
) -> Result<()> {
    const OVERLAY_XATTR: &str = "SCHILY.xattr.trusted.overlay.";
    let reading = || format!("reading layer {layer} of image {image}");
    let Some(extensions) = entry.pax_extensions().context(reading)? else {
        return Ok(());
    };
    for extension in extensions {
        let extension = extension.context(reading)?;
        if let Ok(key) = extension.key()
            && key.starts_with(OVERLAY_XATTR)
        {
            return Err(Error::ImageInvalid {
                image: image.to_owned(),
                reason: format!(
                    "layer {layer}: entry {} sets {}, an xattr overlayfs acts on",
                    path.display(),
                    &key["SCHILY.xattr.".len()..]
                ),
            });
        }
    }
    Ok(())
}

/// The path of a tar entry as relative normal components; `Ok(None)` for the root entry
/// (`.`, `./`). `Err` says why the path is refused: it is absolute or has a `..`.
pub(crate) fn relative_path(raw: &Path) -> std::result::Result<Option<PathBuf>, &'static str> {
    let mut path = PathBuf::new();
    for component in raw.components() {
        match component {
            Component::Normal(part) => path.push(part),
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return Err("the path is absolute"),
            Component::ParentDir => return Err("the path has a '..' component"),
        }
    }
    Ok((!path.as_os_str().is_empty()).then_some(path))
}

/// The state of one layer's unpacking.
struct Unpacker<'a> {
    root: &'a Path,
    image: &'a str,
    layer: &'a str,
    /// Relative paths known to be real directories (not symlinks) of the layer.
    real_dirs: HashSet<PathBuf>,
    /// Relative paths of the whiteouts made, which an entry of the same layer replaces.
    whiteouts: HashSet<PathBuf>,
    /// Bytes of regular files so far.
    size: u64,
}

impl Unpacker<'_> {
    /// An [`Error::ImageInvalid`] about entry `path`.
    fn invalid(&self, path: &Path, reason: impl std::fmt::Display) -> Error {
        Error::ImageInvalid {
            image: self.image.to_owned(),
            reason: format!("layer {}: entry {}: {reason}", self.layer, path.display()),
        }
    }

    /// The description of an I/O failure on entry `path`.
    fn doing(&self, path: &Path) -> String {
        format!(
            "unpacking {} of layer {} of image {} into {}",
            path.display(),
            self.layer,
            self.image,
            self.root.display()
        )
    }

    /// [`relative_path`], as an error naming the entry.
    fn checked(&self, raw: &Path) -> Result<Option<PathBuf>> {
        relative_path(raw).map_err(|reason| self.invalid(raw, reason))
    }

    /// Makes sure every parent of `path` is a real directory of the layer: made (0755) where
    /// missing, a whiteout of this layer replaced by one; a symlink or another file is refused.
    fn prepare_parents(&mut self, path: &Path) -> Result<()> {
        let Some(parent) = path.parent() else {
            return Ok(());
        };
        let mut dir = PathBuf::new();
        for component in parent.components() {
            dir.push(component);
            if self.real_dirs.contains(&dir) {
                continue;
            }
            let full = self.root.join(&dir);
            match std::fs::symlink_metadata(&full) {
                Ok(meta) if meta.is_dir() => {}
                Ok(meta) if meta.file_type().is_symlink() => {
                    return Err(self.invalid(
                        path,
                        format!(
                            "{} is a symlink of this layer, and entries below one are refused",
                            dir.display()
                        ),
                    ));
                }
                Ok(_) if self.whiteouts.remove(&dir) => {
                    std::fs::remove_file(&full).context(|| self.doing(&dir))?;
                    make_dir(&full).context(|| self.doing(&dir))?;
                }
                Ok(_) => {
                    return Err(self.invalid(path, format!("{} is not a directory", dir.display())));
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    make_dir(&full).context(|| self.doing(&dir))?;
                }
                Err(e) => return Err(e).context(|| self.doing(&dir)),
            }
            self.real_dirs.insert(dir.clone());
        }
        Ok(())
    }

    /// Removes the whiteout at `path` that this layer made, if any: an entry of the same layer
    /// wins over its whiteout.
    fn clear_whiteout(&mut self, path: &Path) -> Result<()> {
        if self.whiteouts.remove(path) {
            std::fs::remove_file(self.root.join(path)).context(|| self.doing(path))?;
        }
        Ok(())
    }

    /// Writes a file, link, symlink or directory entry through the tar crate.
    fn unpack<R: Read>(&mut self, path: &Path, entry: &mut Entry<'_, R>) -> Result<()> {
        self.clear_whiteout(path)?;
        match entry.unpack_in(self.root) {
            Ok(true) => Ok(()),
            // Cannot happen after `relative_path`, but a skipped entry must not pass silently.
            Ok(false) => Err(self.invalid(path, "the tar reader refused its path")),
            Err(e) => Err(e).context(|| self.doing(path)),
        }
    }

    /// Converts the whiteout entry `path` (see `whiteout`).
    fn whiteout(&mut self, path: &Path, whiteout: Whiteout<'_>, header: &Header) -> Result<()> {
        let parent = path.parent().unwrap_or(Path::new(""));
        match whiteout {
            Whiteout::Opaque => {
                self.prepare_parents(path)?;
                whiteout::make_opaque(&self.root.join(parent)).context(|| {
                    format!("marking {} opaque: {}", parent.display(), self.doing(path))
                })
            }
            Whiteout::Name(name) => {
                self.prepare_parents(path)?;
                let target = parent.join(name);
                let full = self.root.join(&target);
                match std::fs::symlink_metadata(&full) {
                    Ok(_) => {
                        log::debug!(
                            "whiteout {} of layer {} ignored: the layer itself has {}",
                            path.display(),
                            self.layer,
                            target.display()
                        );
                        Ok(())
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        let (uid, gid) = self.owner(path, header)?;
                        whiteout::make_whiteout(&full, uid, gid).context(|| {
                            format!("making whiteout {}: {}", target.display(), self.doing(path))
                        })?;
                        self.whiteouts.insert(target);
                        Ok(())
                    }
                    Err(e) => Err(e).context(|| self.doing(path)),
                }
            }
            Whiteout::Meta => {
                log::debug!(
                    "skipping AUFS metadata {} of layer {}",
                    path.display(),
                    self.layer
                );
                Ok(())
            }
            Whiteout::Malformed => Err(self.invalid(path, "a whiteout that names no file")),
        }
    }

    /// Makes the FIFO entry `path` with the entry's owner, mode and mtime.
    fn make_fifo(&mut self, path: &Path, header: &Header) -> Result<()> {
        self.clear_whiteout(path)?;
        let full = self.root.join(path);
        let doing = || self.doing(path);
        match std::fs::symlink_metadata(&full) {
            Ok(meta) if meta.is_dir() => {
                return Err(self.invalid(path, "a FIFO where the layer has a directory"));
            }
            // Later entries replace earlier ones, as the tar crate's overwrite does.
            Ok(_) => std::fs::remove_file(&full).context(doing)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).context(doing),
        }
        let (uid, gid) = self.owner(path, header)?;
        let mode = header.mode().context(doing)? & 0o7777;
        nix::unistd::mkfifo(&full, Mode::S_IRUSR | Mode::S_IWUSR).context(doing)?;
        std::os::unix::fs::lchown(&full, Some(uid), Some(gid)).context(doing)?;
        // After chown, which clears set-id bits; a FIFO is not a symlink, so chmod may follow.
        std::fs::set_permissions(&full, std::fs::Permissions::from_mode(mode)).context(doing)?;
        self.set_mtime(path, header)
    }

    /// Sets the access and modification times of `path` (not following a symlink) to the
    /// entry's mtime.
    fn set_mtime(&self, path: &Path, header: &Header) -> Result<()> {
        let doing = || self.doing(path);
        let mtime = header.mtime().context(doing)?;
        let mtime = TimeSpec::new(i64::try_from(mtime).unwrap_or(i64::MAX), 0);
        utimensat(
            nix::fcntl::AT_FDCWD,
            &self.root.join(path),
            &mtime,
            &mtime,
            UtimensatFlags::NoFollowSymlink,
        )
        .context(doing)
    }

    /// The owner an entry records, as IDs this kernel takes.
    fn owner(&self, path: &Path, header: &Header) -> Result<(u32, u32)> {
        let uid = header.uid().context(|| self.doing(path))?;
        let gid = header.gid().context(|| self.doing(path))?;
        match (u32::try_from(uid), u32::try_from(gid)) {
            (Ok(uid), Ok(gid)) => Ok((uid, gid)),
            _ => Err(self.invalid(path, format!("owner {uid}:{gid} is out of range"))),
        }
    }
}

/// Makes directory `path` with mode 0755 whatever the umask.
pub(crate) fn make_dir(path: &Path) -> std::io::Result<()> {
    std::fs::create_dir(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(DIR_MODE))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};

    use super::*;
    use crate::image::fixture::{Tar, names_in, require_root, scratch};

    /// A scratch directory with an empty `layer/` to unpack into and an `outside/` that
    /// nothing may touch.
    struct Dirs {
        root: PathBuf,
    }

    impl Dirs {
        fn new() -> Dirs {
            require_root();
            let root = scratch("unpack");
            std::fs::create_dir(root.join("layer")).unwrap();
            std::fs::create_dir(root.join("outside")).unwrap();
            Dirs { root }
        }

        fn layer(&self) -> PathBuf {
            self.root.join("layer")
        }

        fn outside(&self) -> PathBuf {
            self.root.join("outside")
        }

        fn unpack(&self, tar: Vec<u8>) -> Result<u64> {
            unpack_layer(&tar[..], &self.layer(), "oci:/test", "sha256:layer")
        }

        /// Unpacking fails with `ImageInvalid` or `Io` mentioning `needle`, and nothing is
        /// written outside the layer.
        fn refused(&self, tar: Vec<u8>, needle: &str) {
            let err = self.unpack(tar).unwrap_err();
            let text = crate::error_chain(&err);
            assert!(text.contains(needle), "{text}");
            assert_eq!(names_in(&self.outside()), Vec::<String>::new());
            assert!(!self.root.join("evil").exists());
        }
    }

    impl Drop for Dirs {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }

    #[test]
    fn overlayfs_xattrs_from_a_layer_are_refused_and_others_kept() {
        let dirs = Dirs::new();
        let kept = Tar::new()
            .xattr("user.note", "hello")
            .file("a", b"x", 0o644)
            .build();
        dirs.unpack(kept).unwrap();
        let value = xattr_of(&dirs.layer().join("a"), "user.note");
        assert_eq!(value.as_deref(), Some(&b"hello"[..]));
        let dirs = Dirs::new();
        let hostile = Tar::new()
            .xattr("trusted.overlay.redirect", "/etc")
            .file("b", b"y", 0o644)
            .build();
        dirs.refused(hostile, "trusted.overlay.redirect");
    }

    /// The value of xattr `name` of `path`, if it has one.
    fn xattr_of(path: &Path, name: &str) -> Option<Vec<u8>> {
        let path = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
        let name = std::ffi::CString::new(name).unwrap();
        let mut buf = [0u8; 64];
        // SAFETY: both strings are NUL-terminated and `buf` is valid for its length.
        let len = unsafe {
            libc::lgetxattr(
                path.as_ptr(),
                name.as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
            )
        };
        (len >= 0).then(|| buf[..len as usize].to_vec())
    }

    #[test]
    fn absolute_and_dotdot_paths_are_refused_and_the_root_entry_is_none() {
        assert_eq!(relative_path(Path::new("./")), Ok(None));
        assert_eq!(relative_path(Path::new(".")), Ok(None));
        assert_eq!(
            relative_path(Path::new("./a//b/./c/")),
            Ok(Some(PathBuf::from("a/b/c")))
        );
        assert!(relative_path(Path::new("/etc/passwd")).is_err());
        assert!(relative_path(Path::new("a/../../b")).is_err());
        assert!(relative_path(Path::new("..")).is_err());
    }

    #[test]
    fn hostile_paths_are_refused_with_an_error() {
        let dirs = Dirs::new();
        let outside = dirs.outside();
        dirs.refused(Tar::new().file("../evil", b"x", 0o644).build(), "'..'");
        dirs.refused(
            Tar::new().file("a/../../evil", b"x", 0o644).build(),
            "entry a/../../evil: the path has a '..' component",
        );
        let absolute = format!("{}/evil", outside.display());
        dirs.refused(
            Tar::new().file(&absolute, b"x", 0o644).build(),
            "the path is absolute",
        );
        // Through a symlink of the layer, absolute or relative, even one that stays inside.
        dirs.refused(
            Tar::new()
                .symlink("out", &outside.display().to_string())
                .file("out/evil", b"x", 0o644)
                .build(),
            "out is a symlink of this layer",
        );
        dirs.refused(
            Tar::new()
                .symlink("rel", "../outside")
                .file("rel/evil", b"x", 0o644)
                .build(),
            "rel is a symlink of this layer",
        );
        dirs.refused(
            Tar::new()
                .dir("in", 0o755)
                .symlink("link", "in")
                .file("link/x", b"x", 0o644)
                .build(),
            "link is a symlink of this layer",
        );
        // A hard link to a file outside is the tar crate's to refuse.
        std::fs::write(outside.join("target"), b"secret").unwrap();
        let err = dirs
            .unpack(
                Tar::new()
                    .hardlink("h", &format!("{}/target", outside.display()))
                    .build(),
            )
            .unwrap_err();
        assert!(crate::error_chain(&err).contains("outside"), "{err}");
        assert_eq!(outside.join("target").metadata().unwrap().nlink(), 1);
        // Whiteouts through a symlink, and ones that name nothing.
        std::fs::remove_file(outside.join("target")).unwrap();
        dirs.refused(
            Tar::new()
                .symlink("w", &outside.display().to_string())
                .file("w/.wh.evil", b"", 0o644)
                .build(),
            "w is a symlink of this layer",
        );
        dirs.refused(
            Tar::new().file("d/.wh..", b"", 0o644).build(),
            "a whiteout that names no file",
        );
    }

    #[test]
    fn entries_keep_their_metadata_devices_are_skipped_and_fifos_made() {
        let dirs = Dirs::new();
        let tar = Tar::new()
            .dir("./", 0o700)
            .dir("ro", 0o555)
            .file_owned("ro/suid", b"#!/bin/sh\n", 0o4755, 1234, 5678)
            .file("ro/implicit/deep", b"12345", 0o600)
            .hardlink("ro/hard", "ro/suid")
            .symlink("ro/sym", "/nowhere/at/all")
            .node("dev/null", tar::EntryType::Char, 0o666)
            .node("dev/sda", tar::EntryType::Block, 0o660)
            .node("run/fifo", tar::EntryType::Fifo, 0o620)
            .build();
        let size = dirs.unpack(tar).unwrap();
        assert_eq!(size, 10 + 5);
        let layer = dirs.layer();
        let meta = |p: &str| std::fs::symlink_metadata(layer.join(p)).unwrap();
        // The root entry is ignored: the layer directory keeps its own mode.
        assert_eq!(meta("").mode() & 0o7777, 0o755);
        assert_eq!(meta("ro").mode() & 0o7777, 0o555);
        assert_eq!(meta("ro/implicit").mode() & 0o7777, 0o755);
        let suid = meta("ro/suid");
        assert_eq!(
            (suid.mode() & 0o7777, suid.uid(), suid.gid()),
            (0o4755, 1234, 5678)
        );
        assert_eq!(suid.mtime(), 1_000_000);
        assert_eq!(meta("ro/hard").ino(), suid.ino());
        assert_eq!(
            std::fs::read_link(layer.join("ro/sym")).unwrap(),
            Path::new("/nowhere/at/all")
        );
        assert_eq!(names_in(&layer.join("dev")), Vec::<String>::new());
        let fifo = meta("run/fifo");
        assert!(fifo.file_type().is_fifo());
        assert_eq!((fifo.mode() & 0o7777, fifo.mtime()), (0o620, 1_000_000));
        // Directories get their mtime after their children are written.
        assert_eq!(meta("ro").mtime(), 1_000_000);
    }
}
