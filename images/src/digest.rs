//! Content addressing: a blob is some bytes, their media type and their SHA-256 digest, and a
//! descriptor is how another document points at it.

use oci_spec::image::{Descriptor, Digest, MediaType, Sha256Digest};
use sha2::{Digest as _, Sha256};

/// Lower-case hex SHA-256 of `bytes`.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// `sha256:<hex>` of `bytes`, as OCI documents write digests.
pub(crate) fn sha256_digest(bytes: &[u8]) -> Digest {
    let hex = sha256_hex(bytes);
    // A 64-digit lower-case hex string is by construction a valid SHA-256 digest.
    let digest: Sha256Digest = hex.parse().expect("sha256 hex is a valid Sha256Digest");
    digest.into()
}

/// Content stored under `blobs/sha256/` of a layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Blob {
    /// What the bytes are (config, layer, manifest).
    pub media_type: MediaType,
    /// The bytes, exactly as stored.
    pub bytes: Vec<u8>,
    /// `sha256:<hex>` of `bytes`.
    pub digest: Digest,
}

impl Blob {
    /// Addresses `bytes` by their digest.
    pub(crate) fn new(media_type: MediaType, bytes: Vec<u8>) -> Blob {
        let digest = sha256_digest(&bytes);
        Blob {
            media_type,
            bytes,
            digest,
        }
    }

    /// The hex part of the digest: the blob's file name under `blobs/sha256/`.
    pub(crate) fn hex(&self) -> &str {
        self.digest.digest()
    }

    /// Size in bytes.
    pub(crate) fn size(&self) -> u64 {
        self.bytes.len() as u64
    }

    /// A descriptor pointing at this blob.
    pub(crate) fn descriptor(&self) -> Descriptor {
        Descriptor::new(self.media_type.clone(), self.size(), self.digest.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_of_empty_input_is_the_well_known_one() {
        assert_eq!(
            sha256_digest(b"").to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn blob_descriptor_carries_type_size_and_digest() {
        let blob = Blob::new(MediaType::ImageConfig, b"{}".to_vec());
        let descriptor = blob.descriptor();
        assert_eq!(descriptor.size(), 2);
        assert_eq!(
            descriptor.digest().to_string(),
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
        assert_eq!(blob.hex().len(), 64);
    }
}
