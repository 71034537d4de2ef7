//! `oci-archive:`: a tar of an OCI image layout (what `skopeo copy ... oci-archive:F` writes),
//! extracted into a private directory under the store's `tmp/` and read from there as a layout.
//!
//! A layout holds only directories and regular files, so any other entry (a symlink, a hard
//! link, a device) is refused, as are absolute paths and `..`: with no symlink ever written,
//! nothing extracted can lead outside the directory. The archive may be gzip-compressed (the
//! magic bytes say so), as containers/image's `archive.Untar` also accepts.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;

use super::unpack::relative_path;
use crate::error::{Context, Error, Result};

/// The first two bytes of a gzip stream.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Extracts the archive at `archive` into the existing, empty directory `dest`; errors name
/// `image`, the reference being pulled.
pub(crate) fn extract(archive: &Path, dest: &Path, image: &str) -> Result<()> {
    let invalid = |reason: String| Error::ImageInvalid {
        image: image.to_owned(),
        reason,
    };
    let reading = || format!("reading archive {} of image {image}", archive.display());
    let file = match crate::state::open_regular(archive) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(invalid(format!("{} does not exist", archive.display())));
        }
        Err(e) => return Err(e).context(reading),
    };
    let mut buffered = BufReader::new(file);
    let gzipped = buffered
        .fill_buf()
        .context(reading)?
        .starts_with(&GZIP_MAGIC);
    let reader: Box<dyn Read> = if gzipped {
        Box::new(MultiGzDecoder::new(buffered))
    } else {
        Box::new(buffered)
    };
    let mut tar = tar::Archive::new(reader);
    for entry in tar.entries().context(reading)? {
        let mut entry = entry.context(reading)?;
        let raw = entry.path().context(reading)?.into_owned();
        let path = match relative_path(&raw) {
            Ok(Some(path)) => path,
            Ok(None) => continue,
            Err(reason) => {
                return Err(invalid(format!(
                    "archive {}: entry {}: {reason}",
                    archive.display(),
                    raw.display()
                )));
            }
        };
        let target = dest.join(&path);
        let writing = || format!("extracting {} from {}", path.display(), archive.display());
        let kind = entry.header().entry_type();
        if kind.is_dir() {
            std::fs::create_dir_all(&target).context(writing)?;
        } else if kind.is_file() || kind == tar::EntryType::Continuous {
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).context(writing)?;
            }
            // A later entry of the same name replaces an earlier one, as tar does.
            match std::fs::remove_file(&target) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(e).context(writing);
                }
                _ => {}
            }
            let mut out = File::create_new(&target).context(writing)?;
            std::io::copy(&mut entry, &mut out).context(writing)?;
        } else if kind.is_pax_global_extensions() {
            continue;
        } else {
            return Err(invalid(format!(
                "archive {}: entry {} is a {kind:?}; an OCI archive holds only directories \
                 and regular files",
                archive.display(),
                path.display()
            )));
        }
    }
    Ok(())
}
