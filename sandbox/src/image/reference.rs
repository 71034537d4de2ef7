//! Image references in skopeo's syntax, for the two transports the store reads: `oci:DIR[:TAG]`
//! (an OCI image layout directory) and `oci-archive:FILE[:TAG]` (a tar of one).
//!
//! The text after the transport is split at its *first* `:`, as containers/image does on Linux
//! (`oci:/a:b:c` is directory `/a`, tag `b:c`), so a path can never hold a colon. A relative
//! path is made absolute against the working directory and lexically cleaned (`.`, repeated and
//! trailing slashes go; `..` stays, since a lexical `..` is wrong across a symlink): the
//! canonical form [`ImageReference`] displays is what the store records and matches.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::{Context, Error, Result};

/// What the user is told when a reference is not one of ours.
pub(super) const SUPPORTED: &str = "supported references are oci:DIR[:TAG] (an OCI image layout directory) \
                         and oci-archive:FILE[:TAG] (a tar of one)";

/// Where an image is read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// An OCI image layout directory (`oci:`).
    OciLayout,
    /// A tar archive of an OCI image layout (`oci-archive:`).
    OciArchive,
}

impl Transport {
    /// The transport's name, as written before the first `:` of a reference.
    pub fn name(self) -> &'static str {
        match self {
            Transport::OciLayout => "oci",
            Transport::OciArchive => "oci-archive",
        }
    }
}

/// A parsed image reference: transport, absolute path, optional tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageReference {
    /// Layout directory or archive.
    pub transport: Transport,
    /// The directory (`oci:`) or archive file (`oci-archive:`), absolute and lexically clean.
    pub path: PathBuf,
    /// The image's name within the layout (`org.opencontainers.image.ref.name`), if given.
    pub tag: Option<String>,
}

impl ImageReference {
    /// Parses `text`. Refuses an unknown or missing transport, an empty path, a path that
    /// becomes one with a colon once made absolute, and a tag that containers/image would
    /// refuse; each error names `text` and, for a transport, lists the supported ones.
    pub fn parse(text: &str) -> Result<ImageReference> {
        let invalid = |reason: String| Error::ImageInvalid {
            image: text.to_owned(),
            reason,
        };
        let (transport, rest) = match text.split_once(':') {
            Some(("oci", rest)) => (Transport::OciLayout, rest),
            Some(("oci-archive", rest)) => (Transport::OciArchive, rest),
            Some((other, _)) => {
                return Err(invalid(format!(
                    "unsupported transport {other:?}; {SUPPORTED}"
                )));
            }
            None => return Err(invalid(format!("no transport; {SUPPORTED}"))),
        };
        let (path, tag) = match rest.split_once(':') {
            Some((path, tag)) => (path, Some(tag)),
            None => (rest, None),
        };
        if path.is_empty() {
            let what = match transport {
                Transport::OciLayout => "oci:DIR[:TAG]",
                Transport::OciArchive => "oci-archive:FILE[:TAG]",
            };
            return Err(invalid(format!("the path is empty; write {what}")));
        }
        // containers/image reads `oci:DIR:` as no tag.
        let tag = tag.filter(|tag| !tag.is_empty());
        if let Some(tag) = tag
            && !is_valid_tag(tag)
        {
            return Err(invalid(format!(
                "invalid tag {tag:?}: a tag is letters and digits joined by one of \
                     '-._:@+' (or \"--\"), in groups separated by '/'"
            )));
        }
        let path = absolute(Path::new(path))?;
        if path.to_string_lossy().contains(':') {
            return Err(invalid(format!(
                "the path {} contains a colon, which a reference cannot hold",
                path.display()
            )));
        }
        Ok(ImageReference {
            transport,
            path,
            tag: tag.map(str::to_owned),
        })
    }
}

impl fmt::Display for ImageReference {
    /// The canonical form: `oci:/abs/dir:tag`, `oci-archive:/abs/file`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.transport.name(), self.path.display())?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        Ok(())
    }
}

/// `path` made absolute against the working directory, without `.` components, repeated or
/// trailing slashes.
fn absolute(path: &Path) -> Result<PathBuf> {
    let absolute = if path.is_absolute() {
        path.to_owned()
    } else {
        std::env::current_dir()
            .context(|| "finding the working directory to make an image path absolute")?
            .join(path)
    };
    Ok(absolute.components().collect())
}

/// Whether containers/image accepts `tag` as an image name in a layout (its `refRegexp`):
/// components of letters and digits joined by one of `-._:@+` or by `--`, the components
/// grouped by `/`.
fn is_valid_tag(tag: &str) -> bool {
    tag.split('/').all(|group| {
        let bytes = group.as_bytes();
        let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
            return false;
        };
        if !first.is_ascii_alphanumeric() || !last.is_ascii_alphanumeric() {
            return false;
        }
        // Every run of non-alphanumerics is one separator.
        group
            .split(|c: char| c.is_ascii_alphanumeric())
            .filter(|run| !run.is_empty())
            .all(|run| run == "--" || (run.len() == 1 && "-._:@+".contains(run)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> (Transport, String, Option<String>) {
        let reference = ImageReference::parse(text).unwrap();
        (
            reference.transport,
            reference.path.display().to_string(),
            reference.tag,
        )
    }

    #[test]
    fn splits_at_the_first_colon_after_the_transport() {
        use Transport::*;
        let own = |s: &str| Some(s.to_owned());
        assert_eq!(parsed("oci:/a"), (OciLayout, "/a".into(), None));
        assert_eq!(parsed("oci:/a:v1"), (OciLayout, "/a".into(), own("v1")));
        assert_eq!(parsed("oci:/a:b:c"), (OciLayout, "/a".into(), own("b:c")));
        assert_eq!(parsed("oci:/a:"), (OciLayout, "/a".into(), None));
        assert_eq!(
            parsed("oci-archive:/x/img.tar:latest"),
            (OciArchive, "/x/img.tar".into(), own("latest"))
        );
        assert_eq!(
            parsed("oci:/a//b/./c/:reg.io/ns/name:1.0"),
            (OciLayout, "/a/b/c".into(), own("reg.io/ns/name:1.0"))
        );
    }

    #[test]
    fn relative_paths_become_absolute_and_display_canonically() {
        let cwd = std::env::current_dir().unwrap();
        let reference = ImageReference::parse("oci:./img/:v1").unwrap();
        assert_eq!(reference.path, cwd.join("img"));
        assert_eq!(
            reference.to_string(),
            format!("oci:{}:v1", cwd.join("img").display())
        );
        // The canonical form parses back to itself.
        let again = ImageReference::parse(&reference.to_string()).unwrap();
        assert_eq!(again, reference);
        assert_eq!(
            ImageReference::parse("oci-archive:/a.tar")
                .unwrap()
                .to_string(),
            "oci-archive:/a.tar"
        );
    }

    #[test]
    fn refuses_other_transports_empty_paths_and_bad_tags_naming_the_reference() {
        for text in ["docker://busybox", "busybox", "docker-archive:/x.tar", ""] {
            let err = ImageReference::parse(text).unwrap_err().to_string();
            assert!(err.starts_with(&format!("image {text}: ")), "{err}");
            assert!(
                err.contains("oci:DIR[:TAG]") && err.contains("oci-archive:FILE[:TAG]"),
                "{err}"
            );
        }
        for text in ["oci:", "oci::v1", "oci-archive:"] {
            let err = ImageReference::parse(text).unwrap_err().to_string();
            assert!(err.contains("the path is empty"), "{text}: {err}");
        }
        for text in [
            "oci:/a:-v1",
            "oci:/a:v1-",
            "oci:/a:a__b",
            "oci:/a:a//b",
            "oci:/a:é",
        ] {
            let err = ImageReference::parse(text).unwrap_err().to_string();
            assert!(err.contains("invalid tag"), "{text}: {err}");
        }
    }

    #[test]
    fn tags_follow_containers_image() {
        for tag in [
            "v1", "1.0", "a-b", "a--b", "a_b", "a:b", "a@b", "a+b", "x/y/z", "A9",
        ] {
            assert!(is_valid_tag(tag), "{tag}");
        }
        for tag in ["", "-a", "a-", "a---b", "a..b", "a/", "/a", "a b", "a\nb"] {
            assert!(!is_valid_tag(tag), "{tag}");
        }
    }
}
