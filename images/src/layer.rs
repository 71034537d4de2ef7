//! A layer: the definition's files as a tar stream, compressed with gzip, both reproducible.
//!
//! - Tar: POSIX ustar headers made by the `tar` crate, entries sorted by path (parents before
//!   children), every mtime the build's timestamp, owner 0:0 as numbers with empty user and
//!   group names, no atime/ctime, no extended attributes.
//! - Gzip: no mtime (0), no file name, OS byte fixed to 255 ("unknown"), best compression. The
//!   compressed bytes then depend only on the tar bytes and the deflate implementation
//!   (`miniz_oxide`, pinned by `Cargo.lock`).
//!
//! The layer's `diff_id` (in the config) is the digest of the tar; the blob (in the manifest) is
//! the gzip stream.

use std::collections::BTreeSet;
use std::io::Write;

use flate2::{Compression, GzBuilder};
use oci_spec::image::{Digest, MediaType};
use tar::{EntryType, Header};

use crate::definition::File;
use crate::digest::{Blob, sha256_digest};
use crate::error::{Error, Result};

/// Mode of the parent directories the layer adds for nested files.
const DIRECTORY_MODE: u32 = 0o755;

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

/// Packs `files` into a gzip-compressed tar layer whose every mtime is `epoch`.
pub(crate) fn build(files: &[File], epoch: u64) -> Result<Layer> {
    let tar = tar_files(files, epoch)?;
    let diff_id = sha256_digest(&tar);
    let uncompressed_size = tar.len() as u64;
    let gzip = compress(&tar)?;
    Ok(Layer {
        blob: Blob::new(MediaType::ImageLayerGzip, gzip),
        diff_id,
        uncompressed_size,
    })
}

/// One tar entry before it is written: directories come from the files' parents.
enum Entry<'a> {
    Directory,
    File(&'a File),
}

/// The uncompressed tar stream of `files` plus their parent directories, sorted by path.
pub(crate) fn tar_files(files: &[File], epoch: u64) -> Result<Vec<u8>> {
    let mut entries: Vec<(String, Entry<'_>)> = parent_directories(files)
        .into_iter()
        .map(|dir| (dir, Entry::Directory))
        .chain(
            files
                .iter()
                .map(|file| (file.path.clone(), Entry::File(file))),
        )
        .collect();
    // Plain string order puts every path after its prefix, so parents precede children.
    entries.sort_by(|(a, _), (b, _)| a.cmp(b));

    let mut builder = tar::Builder::new(Vec::new());
    for (path, entry) in &entries {
        let mut header = Header::new_ustar();
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(epoch);
        let data: &[u8] = match entry {
            Entry::Directory => {
                header.set_entry_type(EntryType::Directory);
                header.set_mode(DIRECTORY_MODE);
                &[]
            }
            Entry::File(file) => {
                header.set_entry_type(EntryType::Regular);
                header.set_mode(file.mode);
                &file.contents
            }
        };
        header.set_size(data.len() as u64);
        builder
            .append_data(&mut header, path, data)
            .map_err(|source| Error::LayerEntry {
                path: path.clone(),
                source,
            })?;
    }
    builder.into_inner().map_err(|source| Error::LayerEntry {
        path: "the end-of-archive marker".to_owned(),
        source,
    })
}

/// Every proper ancestor directory of the files (`a/b/c` gives `a` and `a/b`), once each.
fn parent_directories(files: &[File]) -> BTreeSet<String> {
    let mut directories = BTreeSet::new();
    for file in files {
        let mut end = 0;
        while let Some(slash) = file.path[end..].find('/') {
            end += slash;
            directories.insert(file.path[..end].to_owned());
            end += 1;
        }
    }
    directories
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

    fn file(path: &str, contents: &[u8]) -> File {
        File {
            path: path.to_owned(),
            mode: 0o755,
            contents: contents.to_vec(),
        }
    }

    #[test]
    fn same_files_give_the_same_bytes() {
        let files = [file("pause", b"\x7fELF binary")];
        let first = build(&files, 0).unwrap();
        let second = build(&files, 0).unwrap();
        assert_eq!(first.blob, second.blob);
        assert_eq!(first.diff_id, second.diff_id);
    }

    #[test]
    fn entries_are_sorted_owned_by_root_and_stamped_with_the_epoch() {
        let files = [file("z", b"1"), file("a/b/c", b"22"), file("a/a", b"")];
        let tar = tar_files(&files, 1_700_000_000).unwrap();
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
            tar_files(&forward, 0).unwrap(),
            tar_files(&backward, 0).unwrap()
        );
    }

    #[test]
    fn gzip_header_has_no_time_name_or_host() {
        let layer = build(&[file("pause", b"x")], 5).unwrap();
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
            build(&files, 0).unwrap().diff_id,
            build(&files, 1).unwrap().diff_id
        );
    }
}
