//! The `oci-archive` tarball: the image layout of `layout`, as one uncompressed tar (what
//! skopeo's and podman's `oci-archive:` transport and `ctr images import` read).
//!
//! It is made from the image in memory, not from the layout directory, so stray files in the
//! directory never leak into it. Entries are sorted by path, directories are 0755 and files
//! 0644, owned by 0:0 numerically, and stamped with the build's timestamp: the archive is as
//! reproducible as the blobs it holds.

use std::path::Path;

use tar::{EntryType, Header};

use crate::error::{Error, Result};
use crate::index::LayoutContents;
use crate::layout::write_atomically;

/// Writes `image` as an `oci-archive` tarball at `path`, with every mtime `epoch`.
pub(crate) fn write(path: &Path, image: &LayoutContents, epoch: u64) -> Result<()> {
    let bytes = tar_layout(image, epoch).map_err(|(entry, source)| Error::ArchiveEntry {
        entry,
        path: path.to_owned(),
        source,
    })?;
    write_atomically(path, &bytes).map_err(|source| Error::WriteFile {
        path: path.to_owned(),
        source,
    })
}

/// The archive's bytes; an error names the entry being added.
fn tar_layout(
    image: &LayoutContents,
    epoch: u64,
) -> std::result::Result<Vec<u8>, (String, std::io::Error)> {
    let mut entries: Vec<(String, Option<&[u8]>)> = vec![
        ("blobs".to_owned(), None),
        ("blobs/sha256".to_owned(), None),
        ("index.json".to_owned(), Some(&image.index_json)),
        ("oci-layout".to_owned(), Some(&image.oci_layout)),
    ];
    for blob in &image.blobs {
        entries.push((format!("blobs/sha256/{}", blob.hex()), Some(&blob.bytes)));
    }
    entries.sort_by(|(a, _), (b, _)| a.cmp(b));

    let mut builder = tar::Builder::new(Vec::new());
    for (path, contents) in &entries {
        let mut header = Header::new_ustar();
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(epoch);
        let data: &[u8] = match contents {
            None => {
                header.set_entry_type(EntryType::Directory);
                header.set_mode(0o755);
                &[]
            }
            Some(bytes) => {
                header.set_entry_type(EntryType::Regular);
                header.set_mode(0o644);
                bytes
            }
        };
        header.set_size(data.len() as u64);
        builder
            .append_data(&mut header, path, data)
            .map_err(|e| (path.clone(), e))?;
    }
    builder
        .into_inner()
        .map_err(|e| ("the end-of-archive marker".to_owned(), e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definition::{self, Platform};
    use crate::{image, index, name::ImageName};

    fn image() -> LayoutContents {
        let name = ImageName::new("localhost/pause", "t").unwrap();
        let built = image::build(
            &definition::pause(b"x".to_vec(), Platform::linux_amd64()),
            0,
        )
        .unwrap();
        index::multi_platform(vec![built], &name).unwrap()
    }

    #[test]
    fn archive_is_reproducible_and_holds_the_layout() {
        let image = image();
        let bytes = tar_layout(&image, 7).unwrap();
        assert_eq!(bytes, tar_layout(&image, 7).unwrap());
        let mut archive = tar::Archive::new(bytes.as_slice());
        let mut paths = Vec::new();
        for entry in archive.entries().unwrap() {
            let entry = entry.unwrap();
            assert_eq!(entry.header().mtime().unwrap(), 7);
            assert_eq!(entry.header().uid().unwrap(), 0);
            paths.push(entry.path().unwrap().display().to_string());
        }
        let mut expected = vec!["blobs".to_owned(), "blobs/sha256".to_owned()];
        let mut blobs: Vec<_> = image
            .blobs
            .iter()
            .map(|b| format!("blobs/sha256/{}", b.hex()))
            .collect();
        blobs.sort();
        expected.extend(blobs);
        expected.extend(["index.json".to_owned(), "oci-layout".to_owned()]);
        assert_eq!(paths, expected);
    }
}
