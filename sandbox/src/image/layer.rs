//! One layer blob: its media type (a tar, plain or gzip), and one pass over it that unpacks it
//! while two hashes run, one over the blob (the manifest's digest for it) and one over the tar
//! it decompresses to (the config's diff_id for it). Nothing is trusted before both match;
//! the caller unpacks into a temporary directory and only moves it into place afterwards.
//!
//! When unpacking fails, the rest of the blob is still read and hashed: a corrupt or tampered
//! blob usually breaks gzip or tar first, and "has digest X" is the cause to report, not the
//! decoder's complaint.

use std::io::Read;
use std::path::Path;

use flate2::read::MultiGzDecoder;
use oci_spec::image::{Descriptor, MediaType};

use super::digest::HashingReader;
use super::layout::Layout;
use super::unpack;
use crate::error::{Context, Result};

/// Docker's gzip layer, which skopeo keeps when copying a Docker image into an OCI layout.
const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// How a layer's tar is compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Compression {
    /// A plain tar.
    None,
    /// A gzip stream (possibly several members) of a tar.
    Gzip,
}

/// The compression of a layer of media type `media_type`, or an error reason naming it when
/// the store cannot unpack it (zstd, non-distributable "foreign" layers, anything else).
pub(crate) fn compression(media_type: &MediaType) -> std::result::Result<Compression, String> {
    match media_type {
        MediaType::ImageLayer => Ok(Compression::None),
        MediaType::ImageLayerGzip => Ok(Compression::Gzip),
        MediaType::Other(other) if other == DOCKER_LAYER_GZIP => Ok(Compression::Gzip),
        other => Err(format!(
            "media type {other} is not supported; layers must be {}, {} or {DOCKER_LAYER_GZIP}",
            MediaType::ImageLayer,
            MediaType::ImageLayerGzip
        )),
    }
}

/// Unpacks the layer `descriptor` names, whose tar must hash to `diff_id`, into the empty
/// directory `dest`, reading the blob once. Returns the layer's size (bytes of its regular
/// files). On error `dest` holds a partial layer; the caller removes it.
pub(crate) fn unpack(
    layout: &Layout<'_>,
    image: &str,
    descriptor: &Descriptor,
    diff_id: &str,
    dest: &Path,
) -> Result<u64> {
    let digest = descriptor.digest().to_string();
    let compression = compression(descriptor.media_type())
        .map_err(|reason| layout.invalid(format!("layer {digest}: {reason}")))?;
    let file = layout.open_blob(descriptor)?;
    // One byte more than the descriptor says, so that a file that grows is caught.
    let mut blob = HashingReader::new(file.take(descriptor.size() + 1));
    let unpacked = {
        let decompressed: Box<dyn Read + '_> = match compression {
            Compression::None => Box::new(&mut blob),
            Compression::Gzip => Box::new(MultiGzDecoder::new(&mut blob)),
        };
        let mut tar = HashingReader::new(decompressed);
        unpack::unpack_layer(&mut tar, dest, image, &digest).and_then(|size| {
            tar.drain()
                .context(|| format!("reading the end of layer {digest} of image {image}"))?;
            Ok((size, tar.finish().0))
        })
    };
    // The blob first, whatever happened: if it is not what the manifest says, that is the
    // error to report, not what the decoder made of it.
    blob.drain()
        .context(|| format!("reading layer {digest} of image {image}"))?;
    let (actual, count) = blob.finish();
    layout.check_blob(descriptor, &actual, count)?;
    let (size, uncompressed) = unpacked?;
    if uncompressed != diff_id {
        return Err(layout.invalid(format!(
            "layer {digest} uncompresses to {uncompressed}, but the config's diff_id for it is \
             {diff_id} (corrupt or tampered)"
        )));
    }
    Ok(size)
}
