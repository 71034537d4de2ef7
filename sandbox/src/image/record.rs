//! What the store records: one file per image (`images/<hex>.json`, [`Image`]) and one per
//! unpacked layer (`layers/<hex>.json`, [`LayerRecord`]), both written atomically
//! (`state::write_json`).

use std::path::Path;

use oci_spec::image::ImageConfiguration;
use serde::{Deserialize, Serialize};

use super::digest::sha256_hex;
use crate::error::{Error, Result};

/// The image as stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Image {
    /// The manifest's digest (`sha256:<hex>`): the image's identity.
    pub digest: String,
    /// The canonical references it was pulled as, sorted, without duplicates. A pull adds one;
    /// a pull that finds the same reference naming another image takes it from this one.
    pub references: Vec<String>,
    /// The canonical names it was given (`docker.io/library/busybox:latest`, see
    /// [`super::ImageName`]), sorted, without duplicates. A name is on one image at most:
    /// giving it to another takes it from this one. Missing in records written before images
    /// had names.
    #[serde(default)]
    pub names: Vec<String>,
    /// What the runtime needs from the image config.
    pub config: ImageDefaults,
    /// The layers' diff_ids (sha256 of the uncompressed tars), bottom layer first.
    pub layers: Vec<String>,
    /// The sum of the layers' sizes (bytes of their regular files).
    pub size: u64,
    /// The CPU architecture (OCI/Go name) the image is for.
    pub architecture: String,
    /// The OS the image is for.
    pub os: String,
    /// When it was first pulled under its newest reference (RFC 3339): a pull under a
    /// reference it already has writes nothing. For an image loaded under names (and no
    /// reference), when it was first stored.
    pub pulled_at: String,
}

/// The defaults an image sets for a container's process (the `config` of the image config).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct ImageDefaults {
    /// `Entrypoint`.
    pub entrypoint: Vec<String>,
    /// `Cmd`: the arguments after the entrypoint, or the command without one.
    pub cmd: Vec<String>,
    /// `Env`, as `NAME=value`.
    pub env: Vec<String>,
    /// `WorkingDir`, if set and not empty.
    pub working_dir: Option<String>,
    /// `User` (`user`, `uid`, `user:group`, `uid:gid`, ...), if set and not empty.
    pub user: Option<String>,
    /// `StopSignal` (`SIGTERM`, `15`, ...), if set.
    pub stop_signal: Option<String>,
}

impl ImageDefaults {
    /// The defaults `config` sets.
    pub(crate) fn of(config: &ImageConfiguration) -> ImageDefaults {
        let Some(config) = config.config() else {
            return ImageDefaults::default();
        };
        let non_empty = |value: &Option<String>| value.clone().filter(|v| !v.is_empty());
        ImageDefaults {
            entrypoint: config.entrypoint().clone().unwrap_or_default(),
            cmd: config.cmd().clone().unwrap_or_default(),
            env: config.env().clone().unwrap_or_default(),
            working_dir: non_empty(config.working_dir()),
            user: non_empty(config.user()),
            stop_signal: non_empty(config.stop_signal()),
        }
    }
}

impl Image {
    /// Checks a record read from `path`, expected to be image `digest`: its digest and its
    /// layers are sha256 digests (they become path components).
    pub(crate) fn check(&self, path: &Path, digest: &str) -> Result<()> {
        let corrupt = |reason: String| Error::ImageInvalid {
            image: digest.to_owned(),
            reason: format!("its record {} is corrupt: {reason}", path.display()),
        };
        if self.digest != digest {
            return Err(corrupt(format!("it says it is {}", self.digest)));
        }
        if let Some(bad) = self.layers.iter().find(|l| sha256_hex(l).is_none()) {
            return Err(corrupt(format!("layer {bad:?} is not a sha256 digest")));
        }
        Ok(())
    }

    /// Adds `reference`, keeping the list sorted and free of duplicates.
    pub(crate) fn add_reference(&mut self, reference: &str) {
        self.references.push(reference.to_owned());
        self.references.sort();
        self.references.dedup();
    }

    /// Adds `name` (canonical), keeping the list sorted and free of duplicates.
    pub(crate) fn add_name(&mut self, name: &str) {
        self.names.push(name.to_owned());
        self.names.sort();
        self.names.dedup();
    }

    /// Removes `name`; whether it was there.
    pub(crate) fn remove_name(&mut self, name: &str) -> bool {
        let before = self.names.len();
        self.names.retain(|n| n != name);
        self.names.len() != before
    }

    /// How the image is listed first: its first name, else its first reference.
    pub(crate) fn label(&self) -> Option<&String> {
        self.names.first().or(self.references.first())
    }
}

/// The record of one unpacked layer, written after its directory is in place.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct LayerRecord {
    /// sha256 of the uncompressed tar.
    pub diff_id: String,
    /// Bytes of its regular files.
    pub size: u64,
    /// When it was unpacked (RFC 3339).
    pub unpacked_at: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_stay_sorted_and_unique() {
        let mut image = Image {
            digest: String::new(),
            references: vec![],
            names: vec![],
            config: ImageDefaults::default(),
            layers: vec![],
            size: 0,
            architecture: String::new(),
            os: String::new(),
            pulled_at: String::new(),
        };
        for r in ["oci:/b", "oci:/a:v1", "oci:/b", "oci-archive:/z"] {
            image.add_reference(r);
        }
        assert_eq!(image.references, ["oci-archive:/z", "oci:/a:v1", "oci:/b"]);
        for name in ["quay.io/b:1", "docker.io/library/a:latest", "quay.io/b:1"] {
            image.add_name(name);
        }
        assert_eq!(image.names, ["docker.io/library/a:latest", "quay.io/b:1"]);
        assert!(image.remove_name("quay.io/b:1") && !image.remove_name("quay.io/b:1"));
        assert_eq!(
            image.label().map(String::as_str),
            Some("docker.io/library/a:latest")
        );
    }

    #[test]
    fn a_record_from_before_names_reads_with_none() {
        let old = r#"{"digest": "sha256:00", "references": ["oci:/a"], "config": {},
            "layers": [], "size": 1, "architecture": "amd64", "os": "linux",
            "pulled_at": "2024-01-01T00:00:00Z"}"#;
        let image: Image = serde_json::from_str(old).unwrap();
        assert!(image.names.is_empty());
        assert_eq!(image.label().map(String::as_str), Some("oci:/a"));
    }
}
