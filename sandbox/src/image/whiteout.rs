//! Whiteouts: how a layer deletes what the layers below it have, converted from the form OCI
//! layers carry (AUFS's, image-spec `layer.md`) to the form overlayfs reads, as containerd's
//! overlay snapshotter converts them:
//!
//! | in the layer tar | in the unpacked layer |
//! |---|---|
//! | `DIR/.wh.NAME` (an empty file) | `DIR/NAME`: a character device 0:0 (`mknod`, needs `CAP_MKNOD`) |
//! | `DIR/.wh..wh..opq` | `DIR` with xattr `trusted.overlay.opaque` = `y` (`lsetxattr`, needs `CAP_SYS_ADMIN`) |
//! | `DIR/.wh..wh.OTHER` | nothing: AUFS's own metadata (hard-link directory and the like) |
//!
//! The `.wh.` entries themselves are never written. A whiteout hides only what lower layers
//! have: an entry of the same layer at the same path wins over it (image-spec), whichever comes
//! first in the tar.

use std::ffi::{CString, OsStr};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::errno::Errno;
use nix::sys::stat::{Mode, SFlag, mknod};

/// The prefix of every whiteout name.
const PREFIX: &[u8] = b".wh.";
/// The prefix of AUFS's metadata names, also the opaque marker's.
const META_PREFIX: &[u8] = b".wh..wh.";
/// The opaque marker.
const OPAQUE: &[u8] = b".wh..wh..opq";
/// The xattr overlayfs reads to hide the lower layers' contents of a directory.
const OPAQUE_XATTR: &std::ffi::CStr = c"trusted.overlay.opaque";

/// What a tar entry's file name means, when it is a whiteout.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Whiteout<'a> {
    /// `.wh..wh..opq`: the directory holding it hides what lower layers have in it.
    Opaque,
    /// `.wh.NAME`: NAME, next to the marker, is deleted.
    Name(&'a OsStr),
    /// `.wh..wh.OTHER`: AUFS metadata, ignored.
    Meta,
    /// `.wh.`, `.wh..`, `.wh...`: names nothing a directory can hold.
    Malformed,
}

/// Classifies the last component of a tar entry's path; `None` if it is no whiteout.
pub(crate) fn classify(file_name: &OsStr) -> Option<Whiteout<'_>> {
    let bytes = file_name.as_bytes();
    let name = bytes.strip_prefix(PREFIX)?;
    Some(if bytes == OPAQUE {
        Whiteout::Opaque
    } else if bytes.starts_with(META_PREFIX) {
        Whiteout::Meta
    } else if matches!(name, b"" | b"." | b"..") {
        Whiteout::Malformed
    } else {
        Whiteout::Name(OsStr::from_bytes(name))
    })
}

/// Creates the overlayfs whiteout at `path` (a character device 0:0, mode 0, as containerd
/// makes them), owned by `uid`:`gid` as the tar entry was. `path` must not exist; its parent
/// must be a real directory of the layer.
pub(crate) fn make_whiteout(path: &Path, uid: u32, gid: u32) -> io::Result<()> {
    mknod(path, SFlag::S_IFCHR, Mode::empty(), 0)?;
    std::os::unix::fs::lchown(path, Some(uid), Some(gid))
}

/// Marks the directory `dir` opaque for overlayfs (`trusted.overlay.opaque` = `y`), without
/// following a symlink at `dir`.
pub(crate) fn make_opaque(dir: &Path) -> io::Result<()> {
    let path = CString::new(dir.as_os_str().as_bytes())?;
    let value = b"y";
    // SAFETY: `path` and the name are NUL-terminated strings that outlive the call, and `value`
    // is a buffer of exactly the length passed; lsetxattr only reads them.
    let res = unsafe {
        libc::lsetxattr(
            path.as_ptr(),
            OPAQUE_XATTR.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    Errno::result(res).map(drop).map_err(io::Error::from)
}

/// The value of xattr `name` of `path` (not following a symlink), for tests.
#[cfg(test)]
pub(crate) fn xattr(path: &Path, name: &std::ffi::CStr) -> Option<Vec<u8>> {
    let path = CString::new(path.as_os_str().as_bytes()).unwrap();
    let mut buf = vec![0u8; 256];
    // SAFETY: NUL-terminated strings and a buffer of the length passed, all outliving the call.
    let res = unsafe {
        libc::lgetxattr(
            path.as_ptr(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    let len = usize::try_from(res).ok()?;
    buf.truncate(len);
    Some(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_classified_as_containerd_does() {
        let os = |s: &str| OsStr::new(s).to_owned();
        assert_eq!(classify(&os("a")), None);
        assert_eq!(classify(&os(".wh")), None);
        assert_eq!(classify(&os("x.wh.a")), None);
        assert_eq!(
            classify(&os(".wh.a")),
            Some(Whiteout::Name(OsStr::new("a")))
        );
        assert_eq!(
            classify(&os(".wh..hidden")),
            Some(Whiteout::Name(OsStr::new(".hidden")))
        );
        assert_eq!(classify(&os(".wh..wh..opq")), Some(Whiteout::Opaque));
        assert_eq!(classify(&os(".wh..wh.plnk")), Some(Whiteout::Meta));
        for bad in [".wh.", ".wh..", ".wh..."] {
            assert_eq!(classify(&os(bad)), Some(Whiteout::Malformed), "{bad}");
        }
    }
}
