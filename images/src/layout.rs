//! The OCI image layout on disk (image-spec `image-layout.md`):
//!
//! ```text
//! DIR/oci-layout          {"imageLayoutVersion":"1.0.0"}
//! DIR/index.json          names the image under its tag: its manifest, or its image index
//! DIR/blobs/sha256/<hex>  configs, layers, manifests and the image index, named by digest
//! ```
//!
//! Blobs go first and `index.json` last, each written to a temporary file and renamed into
//! place, so a reader never sees an index that points at a missing or partial blob. An existing
//! `index.json` is replaced: a layout written here holds one image.

use std::fs;
use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};
use crate::index::LayoutContents;

/// Writes `image` as an OCI image layout in `dir`, creating it if needed.
pub(crate) fn write(dir: &Path, image: &LayoutContents) -> Result<()> {
    let blobs = dir.join("blobs").join("sha256");
    fs::create_dir_all(&blobs).map_err(|source| Error::CreateDir {
        path: blobs.clone(),
        source,
    })?;
    for blob in &image.blobs {
        write_atomically(&blobs.join(blob.hex()), &blob.bytes).map_err(|source| {
            Error::WriteBlob {
                digest: blob.digest.to_string(),
                dir: blobs.clone(),
                source,
            }
        })?;
    }
    for (name, bytes) in [
        ("oci-layout", &image.oci_layout),
        ("index.json", &image.index_json),
    ] {
        let path = dir.join(name);
        write_atomically(&path, bytes).map_err(|source| Error::WriteFile { path, source })?;
    }
    Ok(())
}

/// Writes `bytes` to `path` through a temporary file in the same directory, flushed to disk
/// before it is renamed over `path`: the file is either the old one or the complete new one.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let file_name = path.file_name().unwrap_or_default().to_string_lossy();
    let temporary = path.with_file_name(format!(".{file_name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut file = fs::File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temporary, path)
    })();
    if result.is_err() {
        // Best effort: the error that matters is the one returned.
        let _ = fs::remove_file(&temporary);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definition::{self, Platform};
    use crate::{image, index, name::ImageName};

    #[test]
    fn writes_blobs_named_by_digest_and_the_index() {
        let dir = std::env::temp_dir().join(format!("images-layout-test-{}", std::process::id()));
        let name = ImageName::new("localhost/pause", "t").unwrap();
        let built = image::build(
            &definition::pause(b"x".to_vec(), Platform::linux_amd64()),
            0,
        )
        .unwrap();
        let image = index::multi_platform(vec![built], &name).unwrap();
        write(&dir, &image).unwrap();
        for blob in &image.blobs {
            let stored = fs::read(dir.join("blobs/sha256").join(blob.hex())).unwrap();
            assert_eq!(stored, blob.bytes);
        }
        assert_eq!(fs::read(dir.join("index.json")).unwrap(), image.index_json);
        assert_eq!(
            fs::read_to_string(dir.join("oci-layout")).unwrap(),
            r#"{"imageLayoutVersion":"1.0.0"}"#
        );
        let leftovers: Vec<_> = fs::read_dir(dir.join("blobs/sha256"))
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
            .collect();
        assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
