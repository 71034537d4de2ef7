//! A layer: a definition layer's entries as a tar stream, compressed with gzip, both
//! reproducible.
//!
//! - Tar: POSIX ustar headers made by the `tar` crate (with GNU long-name records only for paths
//!   ustar cannot hold), every mtime the build's timestamp, owners as numbers with empty user and
//!   group names, no atime/ctime, no extended attributes.
//! - Order: sorted by path components, so every directory comes before what is inside it and a
//!   directory's subtree is contiguous. Within a directory an opaque marker (`.wh..wh..opq`)
//!   comes first, as Docker writes it: a reader that applies it when it meets it then never
//!   removes what the same layer adds to the directory.
//! - Whiteouts (image-spec `layer.md`): deleting `DIR/NAME` of a lower layer is the empty
//!   regular file `DIR/.wh.NAME`; hiding all of `DIR`'s lower contents is `DIR/.wh..wh..opq`.
//!   Both are 0644 and owned by 0:0.
//! - Parent directories the entries do not list are added with the mode and owner the lower
//!   layers of the image give them ([`LowerDirectories`]), or 0755, 0:0 where none does. A tar
//!   entry replaces the metadata of what is already there, so a layer that writes into
//!   `home/app` (or whiteouts a file in it, or makes it opaque) must not silently turn a lower
//!   layer's `home/app` (1000:1000) into root's.
//! - Gzip: no mtime (0), no file name, OS byte fixed to 255 ("unknown"), best compression. The
//!   compressed bytes then depend only on the tar bytes and the deflate implementation
//!   (`miniz_oxide`, pinned by `Cargo.lock`).
//!
//! The layer's `diff_id` (in the config) is the digest of the tar; the blob (in the manifest) is
//! the gzip stream.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::io::Write;

use flate2::{Compression, GzBuilder};
use oci_spec::image::{Digest, MediaType};
use tar::{EntryType, Header};

use crate::definition::{Entry, EntryKind, Owner};
use crate::digest::{Blob, sha256_digest};
use crate::error::{Error, Result};

/// Mode of the parent directories the layer adds for nested entries.
const DIRECTORY_MODE: u32 = 0o755;
/// Mode of whiteout and opaque markers.
const MARKER_MODE: u32 = 0o644;
/// Mode of every symbolic link: Linux ignores a link's own permissions and shows 0777.
const SYMLINK_MODE: u32 = 0o777;
/// Prefix of the name of a whiteout file, which deletes the lower layers' file of the rest of
/// the name.
pub(crate) const WHITEOUT_PREFIX: &str = ".wh.";
/// Name of the marker that makes its directory opaque.
pub(crate) const OPAQUE_MARKER: &str = ".wh..wh..opq";

/// A built layer.
#[derive(Debug, Clone)]
pub(crate) struct Layer {
    /// The compressed layer, as stored and referenced by the manifest.
    pub blob: Blob,
    /// Digest of the uncompressed tar: the config's `rootfs.diff_ids` entry.
    pub diff_id: Digest,
    /// Size of the uncompressed tar in bytes.
    pub uncompressed_size: u64,
}

/// Mode and owner of each directory the layers below the one being built leave in the image, by
/// path: what the layer writes for a parent directory it does not list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LowerDirectories(BTreeMap<String, (u32, Owner)>);

impl LowerDirectories {
    /// Mode and owner of the directory at `path`: the lower layers', else 0755, 0:0.
    fn get(&self, path: &str) -> (u32, Owner) {
        self.0
            .get(path)
            .copied()
            .unwrap_or((DIRECTORY_MODE, Owner::default()))
    }

    /// Applies a layer's `entries` on top, as a runtime unpacks it: whiteouts and opaque
    /// markers first (they remove only what lower layers have), then the entries themselves; a
    /// file or symlink replaces a directory and everything in it.
    pub(crate) fn apply(&mut self, entries: &[Entry]) {
        for entry in entries {
            match entry.kind {
                EntryKind::Whiteout => self.remove(&entry.path, true),
                EntryKind::Opaque => self.remove(&entry.path, false),
                _ => {}
            }
        }
        for entry in entries {
            match &entry.kind {
                EntryKind::Directory { mode, owner } => {
                    self.0.insert(entry.path.clone(), (*mode, *owner));
                }
                EntryKind::File { .. } | EntryKind::Symlink { .. } => {
                    self.remove(&entry.path, true);
                }
                EntryKind::Whiteout | EntryKind::Opaque => {}
            }
        }
    }

    /// Forgets everything below `path`, and `path` itself if `itself`.
    fn remove(&mut self, path: &str, itself: bool) {
        let below = format!("{path}/");
        self.0
            .retain(|known, _| !(known.starts_with(&below) || (itself && known == path)));
    }
}

/// Packs `entries` into a gzip-compressed tar layer whose every mtime is `epoch`, on top of
/// layers that leave the directories `lower`.
pub(crate) fn build(entries: &[Entry], epoch: u64, lower: &LowerDirectories) -> Result<Layer> {
    let tar = tar_entries(entries, epoch, lower)?;
    let diff_id = sha256_digest(&tar);
    let uncompressed_size = tar.len() as u64;
    let gzip = compress(&tar)?;
    Ok(Layer {
        blob: Blob::new(MediaType::ImageLayerGzip, gzip),
        diff_id,
        uncompressed_size,
    })
}

/// One tar record before it is written.
enum Record<'a> {
    /// A directory, listed or added as a parent.
    Directory { mode: u32, owner: Owner },
    /// A regular file: an entry's, or an empty whiteout or opaque marker.
    File {
        mode: u32,
        owner: Owner,
        contents: &'a [u8],
    },
    /// A symbolic link.
    Symlink { target: &'a str, owner: Owner },
}

/// The uncompressed tar stream of `entries` plus their unlisted parent directories (as `lower`
/// has them), in the order the module documentation gives. The entries must have distinct tar
/// paths, and no entry may sit inside a listed non-directory (`definition_file` checks both).
pub(crate) fn tar_entries(
    entries: &[Entry],
    epoch: u64,
    lower: &LowerDirectories,
) -> Result<Vec<u8>> {
    let records = records(entries, lower);
    let mut builder = tar::Builder::new(Vec::new());
    for (path, record) in &records {
        let mut header = Header::new_ustar();
        header.set_mtime(epoch);
        header.set_size(0);
        let (owner, mode) = match record {
            Record::Directory { mode, owner } => {
                header.set_entry_type(EntryType::Directory);
                (owner, *mode)
            }
            Record::File { mode, owner, .. } => {
                header.set_entry_type(EntryType::Regular);
                (owner, *mode)
            }
            Record::Symlink { owner, .. } => {
                header.set_entry_type(EntryType::Symlink);
                (owner, SYMLINK_MODE)
            }
        };
        header.set_uid(u64::from(owner.uid));
        header.set_gid(u64::from(owner.gid));
        header.set_mode(mode);
        let appended = match record {
            Record::Symlink { target, .. } => builder.append_link(&mut header, path, target),
            Record::File { contents, .. } => {
                header.set_size(contents.len() as u64);
                builder.append_data(&mut header, path, *contents)
            }
            Record::Directory { .. } => builder.append_data(&mut header, path, std::io::empty()),
        };
        appended.map_err(|source| Error::LayerEntry {
            path: path.clone(),
            source,
        })?;
    }
    builder.into_inner().map_err(|source| Error::LayerEntry {
        path: "the end-of-archive marker".to_owned(),
        source,
    })
}

/// The tar records of `entries` and of their unlisted parents, by tar path, in tar order.
fn records<'a>(entries: &'a [Entry], lower: &LowerDirectories) -> Vec<(String, Record<'a>)> {
    let mut records: BTreeMap<TarPath, Record<'_>> = BTreeMap::new();
    let marker = || Record::File {
        mode: MARKER_MODE,
        owner: Owner::default(),
        contents: &[],
    };
    for entry in entries {
        let (path, record) = match &entry.kind {
            EntryKind::File {
                mode,
                owner,
                contents,
            } => (
                entry.path.clone(),
                Record::File {
                    mode: *mode,
                    owner: *owner,
                    contents,
                },
            ),
            EntryKind::Directory { mode, owner } => (
                entry.path.clone(),
                Record::Directory {
                    mode: *mode,
                    owner: *owner,
                },
            ),
            EntryKind::Symlink { target, owner } => (
                entry.path.clone(),
                Record::Symlink {
                    target,
                    owner: *owner,
                },
            ),
            EntryKind::Whiteout => (whiteout_path(&entry.path), marker()),
            EntryKind::Opaque => (format!("{}/{OPAQUE_MARKER}", entry.path), marker()),
        };
        records.insert(TarPath(path), record);
    }
    let parents: Vec<String> = records.keys().flat_map(|path| ancestors(&path.0)).collect();
    for parent in parents {
        let (mode, owner) = lower.get(&parent);
        records
            .entry(TarPath(parent))
            .or_insert(Record::Directory { mode, owner });
    }
    records
        .into_iter()
        .map(|(path, record)| (path.0, record))
        .collect()
}

/// The tar path of the whiteout that deletes `path`: `.wh.NAME` in `path`'s parent.
pub(crate) fn whiteout_path(path: &str) -> String {
    match path.rsplit_once('/') {
        Some((parent, name)) => format!("{parent}/{WHITEOUT_PREFIX}{name}"),
        None => format!("{WHITEOUT_PREFIX}{path}"),
    }
}

/// Every proper ancestor of `path` (`a/b/c` gives `a` and `a/b`).
fn ancestors(path: &str) -> impl Iterator<Item = String> + '_ {
    path.match_indices('/')
        .map(move |(slash, _)| path[..slash].to_owned())
}

/// A tar path ordered component by component, with an opaque marker before its siblings:
/// parents precede children, a subtree is contiguous, and the order is the same on every host.
#[derive(Debug, PartialEq, Eq)]
struct TarPath(String);

impl Ord for TarPath {
    fn cmp(&self, other: &TarPath) -> Ordering {
        let key = |component| (component != OPAQUE_MARKER, component);
        self.0.split('/').map(key).cmp(other.0.split('/').map(key))
    }
}

impl PartialOrd for TarPath {
    fn partial_cmp(&self, other: &TarPath) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Gzip of `bytes` with a header that carries no time, name or host OS.
fn compress(bytes: &[u8]) -> Result<Vec<u8>> {
    let mut encoder = GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(Vec::new(), Compression::best());
    encoder
        .write_all(bytes)
        .map_err(|source| Error::Compress { source })?;
    encoder
        .finish()
        .map_err(|source| Error::Compress { source })
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn file(path: &str, contents: &[u8]) -> Entry {
        Entry {
            path: path.to_owned(),
            kind: EntryKind::File {
                mode: 0o755,
                owner: Owner::default(),
                contents: contents.to_vec(),
            },
        }
    }

    fn entry(path: &str, kind: EntryKind) -> Entry {
        Entry {
            path: path.to_owned(),
            kind,
        }
    }

    /// Path, type, mode, uid, gid, link target and size of every record of `tar`.
    fn listing(tar: &[u8]) -> Vec<(String, EntryType, u32, u64, u64, String, u64)> {
        let mut archive = tar::Archive::new(tar);
        archive
            .entries()
            .unwrap()
            .map(|entry| {
                let entry = entry.unwrap();
                let header = entry.header();
                (
                    entry.path().unwrap().display().to_string(),
                    header.entry_type(),
                    header.mode().unwrap(),
                    header.uid().unwrap(),
                    header.gid().unwrap(),
                    entry
                        .link_name()
                        .unwrap()
                        .map(|target| target.display().to_string())
                        .unwrap_or_default(),
                    header.size().unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn same_files_give_the_same_bytes() {
        let files = [file("pause", b"\x7fELF binary")];
        let first = build(&files, 0, &LowerDirectories::default()).unwrap();
        let second = build(&files, 0, &LowerDirectories::default()).unwrap();
        assert_eq!(first.blob, second.blob);
        assert_eq!(first.diff_id, second.diff_id);
    }

    #[test]
    fn entries_are_sorted_owned_by_root_and_stamped_with_the_epoch() {
        let files = [file("z", b"1"), file("a/b/c", b"22"), file("a/a", b"")];
        let tar = tar_entries(&files, 1_700_000_000, &LowerDirectories::default()).unwrap();
        let mut archive = tar::Archive::new(tar.as_slice());
        let mut seen = Vec::new();
        for entry in archive.entries().unwrap() {
            let entry = entry.unwrap();
            let header = entry.header();
            assert_eq!(header.uid().unwrap(), 0);
            assert_eq!(header.gid().unwrap(), 0);
            assert_eq!(header.username().unwrap(), Some(""));
            assert_eq!(header.groupname().unwrap(), Some(""));
            assert_eq!(header.mtime().unwrap(), 1_700_000_000);
            assert!(header.as_ustar().is_some(), "not a ustar header");
            seen.push((
                entry.path().unwrap().display().to_string(),
                header.entry_type(),
                header.mode().unwrap(),
            ));
        }
        assert_eq!(
            seen,
            [
                ("a".to_owned(), EntryType::Directory, 0o755),
                ("a/a".to_owned(), EntryType::Regular, 0o755),
                ("a/b".to_owned(), EntryType::Directory, 0o755),
                ("a/b/c".to_owned(), EntryType::Regular, 0o755),
                ("z".to_owned(), EntryType::Regular, 0o755),
            ]
        );
    }

    #[test]
    fn input_order_does_not_matter() {
        let forward = [file("a", b"1"), file("b", b"2")];
        let backward = [file("b", b"2"), file("a", b"1")];
        assert_eq!(
            tar_entries(&forward, 0, &LowerDirectories::default()).unwrap(),
            tar_entries(&backward, 0, &LowerDirectories::default()).unwrap()
        );
    }

    #[test]
    fn directories_symlinks_and_owners_are_as_listed() {
        let owner = Owner {
            uid: 1000,
            gid: 1001,
        };
        let entries = [
            entry(
                "tmp",
                EntryKind::Directory {
                    mode: 0o1777,
                    owner: Owner::default(),
                },
            ),
            entry("home/app", EntryKind::Directory { mode: 0o750, owner }),
            entry(
                "bin/sh",
                EntryKind::Symlink {
                    target: "busybox".to_owned(),
                    owner: Owner::default(),
                },
            ),
            entry(
                "home/app/.profile",
                EntryKind::File {
                    mode: 0o4711,
                    owner,
                    contents: b"x".to_vec(),
                },
            ),
        ];
        let d = EntryType::Directory;
        let no_link = String::new;
        assert_eq!(
            listing(&tar_entries(&entries, 0, &LowerDirectories::default()).unwrap()),
            [
                ("bin".to_owned(), d, 0o755, 0, 0, no_link(), 0),
                (
                    "bin/sh".to_owned(),
                    EntryType::Symlink,
                    0o777,
                    0,
                    0,
                    "busybox".to_owned(),
                    0
                ),
                ("home".to_owned(), d, 0o755, 0, 0, no_link(), 0),
                ("home/app".to_owned(), d, 0o750, 1000, 1001, no_link(), 0),
                (
                    "home/app/.profile".to_owned(),
                    EntryType::Regular,
                    0o4711,
                    1000,
                    1001,
                    no_link(),
                    1
                ),
                ("tmp".to_owned(), d, 0o1777, 0, 0, no_link(), 0),
            ]
        );
    }

    #[test]
    fn whiteouts_and_opaque_markers_are_empty_files_named_by_the_spec() {
        let entries = [
            entry("etc/motd", EntryKind::Whiteout),
            entry("top", EntryKind::Whiteout),
            entry("var/cache", EntryKind::Opaque),
            // Sorts before `.wh..wh..opq` by plain byte order ('-' < '.'), yet comes after it.
            file("var/cache/-new", b"n"),
            entry(
                "var/cache",
                EntryKind::Directory {
                    mode: 0o700,
                    owner: Owner::default(),
                },
            ),
        ];
        let paths: Vec<(String, EntryType, u32, u64)> =
            listing(&tar_entries(&entries, 0, &LowerDirectories::default()).unwrap())
                .into_iter()
                .map(|(path, kind, mode, _, _, _, size)| (path, kind, mode, size))
                .collect();
        let (d, r) = (EntryType::Directory, EntryType::Regular);
        assert_eq!(
            paths,
            [
                (".wh.top".to_owned(), r, 0o644, 0),
                ("etc".to_owned(), d, 0o755, 0),
                ("etc/.wh.motd".to_owned(), r, 0o644, 0),
                ("var".to_owned(), d, 0o755, 0),
                ("var/cache".to_owned(), d, 0o700, 0),
                ("var/cache/.wh..wh..opq".to_owned(), r, 0o644, 0),
                ("var/cache/-new".to_owned(), r, 0o755, 1),
            ]
        );
    }

    #[test]
    fn unlisted_parents_keep_what_lower_layers_made_them() {
        let app = Owner {
            uid: 1000,
            gid: 1000,
        };
        let mut lower = LowerDirectories::default();
        lower.apply(&[
            entry(
                "home/app",
                EntryKind::Directory {
                    mode: 0o700,
                    owner: app,
                },
            ),
            entry(
                "home/app/cache",
                EntryKind::Directory {
                    mode: 0o750,
                    owner: app,
                },
            ),
            entry(
                "gone",
                EntryKind::Directory {
                    mode: 0o700,
                    owner: app,
                },
            ),
            entry(
                "replaced",
                EntryKind::Directory {
                    mode: 0o700,
                    owner: app,
                },
            ),
        ]);
        // A later layer: a whiteout and a file remove directories, an opaque keeps the
        // directory itself but not what lower layers have in it.
        lower.apply(&[
            entry("gone", EntryKind::Whiteout),
            file("replaced", b""),
            entry("home/app", EntryKind::Opaque),
        ]);
        let entries = [
            file("home/app/cache/x", b""),
            file("gone/x", b""),
            file("replaced/x", b""),
        ];
        let directories: Vec<(String, u32, u64)> =
            listing(&tar_entries(&entries, 0, &lower).unwrap())
                .into_iter()
                .filter(|record| record.1 == EntryType::Directory)
                .map(|(path, _, mode, uid, ..)| (path, mode, uid))
                .collect();
        assert_eq!(
            directories,
            [
                ("gone".to_owned(), 0o755, 0),
                ("home".to_owned(), 0o755, 0),
                ("home/app".to_owned(), 0o700, 1000),
                ("home/app/cache".to_owned(), 0o755, 0),
                ("replaced".to_owned(), 0o755, 0),
            ]
        );
    }

    #[test]
    fn a_subtree_is_contiguous() {
        // Plain string order would put `a-b` between `a` and `a/c`.
        let entries = [file("a-b", b""), file("a/c", b"")];
        let paths: Vec<String> =
            listing(&tar_entries(&entries, 0, &LowerDirectories::default()).unwrap())
                .into_iter()
                .map(|record| record.0)
                .collect();
        assert_eq!(paths, ["a", "a/c", "a-b"]);
    }

    #[test]
    fn gzip_header_has_no_time_name_or_host() {
        let layer = build(&[file("pause", b"x")], 5, &LowerDirectories::default()).unwrap();
        let gzip = &layer.blob.bytes;
        assert_eq!(
            &gzip[..4],
            [0x1f, 0x8b, 8, 0],
            "magic, deflate, no FNAME/FEXTRA flags"
        );
        assert_eq!(&gzip[4..8], [0, 0, 0, 0], "mtime");
        assert_eq!(gzip[9], 255, "OS byte");
        let mut tar = Vec::new();
        flate2::read::GzDecoder::new(gzip.as_slice())
            .read_to_end(&mut tar)
            .unwrap();
        assert_eq!(sha256_digest(&tar), layer.diff_id);
        assert_eq!(tar.len() as u64, layer.uncompressed_size);
    }

    #[test]
    fn epoch_changes_the_layer() {
        let files = [file("pause", b"x")];
        assert_ne!(
            build(&files, 0, &LowerDirectories::default())
                .unwrap()
                .diff_id,
            build(&files, 1, &LowerDirectories::default())
                .unwrap()
                .diff_id
        );
    }
}
