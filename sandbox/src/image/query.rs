//! How a user's text names an image of the store (`run --image`, `rmi`): read in a fixed order,
//! so that one text never means two things.
//!
//! 1. It starts with a transport (`oci:`, `oci-archive:`): a reference, pulled by `run`.
//! 2. It starts with `sha256:`, or it is 12 to 64 lowercase hex digits and nothing else: a
//!    digest or a prefix of one (docker reads an image ID first too). A name made only of hex
//!    digits is written with its tag (`abcdef012345:latest`).
//! 3. Anything else is an image name ([`ImageName`]), normalized.

use super::digest::is_lower_hex;
use super::name::ImageName;
use super::reference::{ImageReference, Transport};
use super::store::MIN_DIGEST_PREFIX;
use crate::error::Result;

/// What a text names (see the module doc).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageQuery {
    /// `oci:DIR[:TAG]` or `oci-archive:FILE[:TAG]`.
    Reference(ImageReference),
    /// A digest (`sha256:<hex>`) or a prefix of one, as given.
    Digest(String),
    /// An image name, normalized.
    Name(ImageName),
}

impl ImageQuery {
    /// Reads `text`; a reference or a name that does not parse is refused with its reason.
    pub fn parse(text: &str) -> Result<ImageQuery> {
        if has_transport(text) {
            return ImageReference::parse(text).map(ImageQuery::Reference);
        }
        let bare_hex = is_lower_hex(text) && (MIN_DIGEST_PREFIX..=64).contains(&text.len());
        if text.starts_with("sha256:") || bare_hex {
            return Ok(ImageQuery::Digest(text.to_owned()));
        }
        ImageName::parse(text).map(ImageQuery::Name)
    }
}

/// Whether `text` starts with the name of a transport the store reads, and a `:`.
pub fn has_transport(text: &str) -> bool {
    [Transport::OciLayout, Transport::OciArchive]
        .iter()
        .any(|t| {
            text.strip_prefix(t.name())
                .is_some_and(|rest| rest.starts_with(':'))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_then_digests_then_names() {
        assert!(matches!(
            ImageQuery::parse("oci:/a:v1"),
            Ok(ImageQuery::Reference(_))
        ));
        assert!(matches!(
            ImageQuery::parse("oci-archive:/a.tar"),
            Ok(ImageQuery::Reference(_))
        ));
        for digest in ["sha256:abc", "0123456789ab", &"f".repeat(64)] {
            assert_eq!(
                ImageQuery::parse(digest).unwrap(),
                ImageQuery::Digest(digest.to_owned())
            );
        }
        for (text, name) in [
            ("busybox", "docker.io/library/busybox:latest"),
            ("0123456789a", "docker.io/library/0123456789a:latest"),
            (
                "0123456789ab:latest",
                "docker.io/library/0123456789ab:latest",
            ),
            ("oci", "docker.io/library/oci:latest"),
        ] {
            match ImageQuery::parse(text).unwrap() {
                ImageQuery::Name(parsed) => assert_eq!(parsed.to_string(), name),
                other => panic!("{text}: {other:?}"),
            }
        }
        // A bad reference is not read as a name.
        let error = ImageQuery::parse("oci:").unwrap_err().to_string();
        assert!(error.contains("the path is empty"), "{error}");
        let error = ImageQuery::parse("docker://busybox")
            .unwrap_err()
            .to_string();
        assert!(error.contains("oci-archive:FILE[:TAG]"), "{error}");
    }
}
