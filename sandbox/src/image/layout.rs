//! Reading an OCI image layout (image-spec `image-layout.md`): `index.json`, the tag it maps to a
//! manifest, an image index nested under the tag (one manifest per platform), the manifest and
//! the image config. Every blob read is checked against its descriptor, size first (from
//! `fstat`, before reading), then sha256 while it streams; a file name is never trusted.
//!
//! Documents (indexes, manifests, configs) are read whole, up to 4 MiB each, the limit
//! containers/image applies to manifests and configs; layers are streamed by `layer`.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use oci_spec::image::{Descriptor, ImageConfiguration, ImageIndex, ImageManifest, MediaType};
use serde::de::DeserializeOwned;

use super::digest::{HashingReader, sha256_hex};
use super::platform::Platform;
use crate::error::{Context, Error, Result};

/// The largest index, manifest or config read.
const MAX_DOCUMENT_SIZE: u64 = 4 << 20;
/// The annotation that names an image in a layout: the `TAG` of `oci:DIR:TAG`.
const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";
/// Docker's image manifest, which skopeo can leave in an OCI layout; same JSON shape as OCI's.
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker's manifest list, the equivalent of an OCI image index.
const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker's image config, the equivalent of OCI's.
const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";

/// One OCI image layout directory, read on behalf of image reference `image` (which every
/// error names).
pub(crate) struct Layout<'a> {
    dir: &'a Path,
    /// What errors call the layout: its directory, or the archive it was extracted from.
    shown_as: &'a Path,
    image: &'a str,
}

/// The manifest a reference resolved to.
pub(crate) struct ResolvedManifest {
    /// The manifest's digest (`sha256:<hex>`): the image's identity in the store.
    pub digest: String,
    /// The manifest, verified against its digest.
    pub manifest: ImageManifest,
}

/// What a descriptor under a tag points at.
enum Target {
    Manifest,
    Index,
}

impl<'a> Layout<'a> {
    /// The layout in `dir`, read for reference `image`; errors call it `shown_as` (the
    /// directory itself, or the archive it was extracted from). No I/O.
    pub(crate) fn new(dir: &'a Path, shown_as: &'a Path, image: &'a str) -> Layout<'a> {
        Layout {
            dir,
            shown_as,
            image,
        }
    }

    /// An [`Error::ImageInvalid`] naming the image.
    pub(crate) fn invalid(&self, reason: impl Into<String>) -> Error {
        Error::ImageInvalid {
            image: self.image.to_owned(),
            reason: reason.into(),
        }
    }

    /// Finds the manifest of `tag` (or of the layout's only image, without a tag), going
    /// through a nested image index to the manifest for this host's platform, and reads it.
    pub(crate) fn resolve(&self, tag: Option<&str>) -> Result<ResolvedManifest> {
        let index = self.read_index()?;
        let descriptor = self.pick_tagged(&index, tag)?;
        let descriptor = match self.target(descriptor)? {
            Target::Manifest => descriptor.clone(),
            Target::Index => {
                let nested: ImageIndex = self.read_document(descriptor, "image index")?;
                let chosen = self.pick_platform(&nested, descriptor)?;
                match self.target(chosen)? {
                    Target::Manifest => chosen.clone(),
                    Target::Index => {
                        return Err(self.invalid(format!(
                            "image index {} names another image index ({}) for this platform; \
                             only one level of nesting is supported",
                            descriptor.digest(),
                            chosen.digest()
                        )));
                    }
                }
            }
        };
        let manifest: ImageManifest = self.read_document(&descriptor, "image manifest")?;
        Ok(ResolvedManifest {
            digest: descriptor.digest().to_string(),
            manifest,
        })
    }

    /// Reads the config `manifest` names and checks it: a container image config, for this
    /// host's platform, with one sha256 diff_id per layer of the manifest.
    pub(crate) fn config(&self, manifest: &ImageManifest) -> Result<ImageConfiguration> {
        let descriptor = manifest.config();
        match descriptor.media_type() {
            MediaType::ImageConfig => {}
            MediaType::Other(other) if other == DOCKER_CONFIG => {}
            other => {
                return Err(self.invalid(format!(
                    "config {} has media type {other}, not a container image config",
                    descriptor.digest()
                )));
            }
        }
        let config: ImageConfiguration = self.read_document(descriptor, "image config")?;
        let host = Platform::host();
        let (os, architecture) = (config.os().to_string(), config.architecture().to_string());
        if !host.matches(&os, &architecture) {
            return Err(self.invalid(format!(
                "it is for {os}/{architecture}; this host runs {host}"
            )));
        }
        let diff_ids = config.rootfs().diff_ids();
        if diff_ids.len() != manifest.layers().len() {
            return Err(self.invalid(format!(
                "the manifest has {} layer(s) but its config {} lists {} diff_id(s)",
                manifest.layers().len(),
                descriptor.digest(),
                diff_ids.len()
            )));
        }
        if let Some(bad) = diff_ids.iter().find(|id| sha256_hex(id).is_none()) {
            return Err(self.invalid(format!(
                "config {} has diff_id {bad:?}, not a sha256 digest",
                descriptor.digest()
            )));
        }
        Ok(config)
    }

    /// Opens the blob `descriptor` names, after checking that its digest is sha256, that it is
    /// a regular file and that its size is the descriptor's.
    pub(crate) fn open_blob(&self, descriptor: &Descriptor) -> Result<File> {
        let path = self.blob_path(descriptor)?;
        let digest = descriptor.digest();
        let file = match crate::state::open_regular(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(self.invalid(format!("blob {digest} is missing ({})", path.display())));
            }
            Err(e) => {
                return Err(e).context(|| {
                    format!(
                        "opening blob {digest} of image {} ({})",
                        self.image,
                        path.display()
                    )
                });
            }
        };
        let meta = file.metadata().context(|| {
            format!(
                "checking blob {digest} of image {} ({})",
                self.image,
                path.display()
            )
        })?;
        if !meta.is_file() {
            return Err(self.invalid(format!(
                "blob {digest} ({}) is not a regular file",
                path.display()
            )));
        }
        if meta.len() != descriptor.size() {
            return Err(self.invalid(format!(
                "blob {digest} is {} bytes; its descriptor says {} (corrupt or tampered)",
                meta.len(),
                descriptor.size()
            )));
        }
        Ok(file)
    }

    /// Checks what was read of the blob `descriptor` names: `count` bytes hashing to `digest`.
    pub(crate) fn check_blob(
        &self,
        descriptor: &Descriptor,
        digest: &str,
        count: u64,
    ) -> Result<()> {
        let expected = descriptor.digest();
        if count != descriptor.size() {
            return Err(self.invalid(format!(
                "blob {expected} gave {count} bytes; its descriptor says {} (corrupt or tampered)",
                descriptor.size()
            )));
        }
        if digest != expected.as_ref() {
            return Err(self.invalid(format!(
                "blob {expected} has digest {digest} (corrupt or tampered)"
            )));
        }
        Ok(())
    }

    /// `blobs/sha256/<hex>` for a sha256 descriptor; other algorithms are refused.
    fn blob_path(&self, descriptor: &Descriptor) -> Result<PathBuf> {
        // oci-spec has checked a sha256 value for 64 lowercase hex digits while parsing, so it is
        // one safe path component; other algorithms are refused before any path is built.
        match descriptor.as_digest_sha256() {
            Some(hex) => Ok(self.dir.join("blobs/sha256").join(hex)),
            None => Err(self.invalid(format!(
                "blob {} uses digest algorithm {}; only sha256 is supported",
                descriptor.digest(),
                descriptor.digest().algorithm()
            ))),
        }
    }

    /// Reads and parses the JSON document `descriptor` names (`what` says which kind), verified.
    fn read_document<T: DeserializeOwned>(&self, descriptor: &Descriptor, what: &str) -> Result<T> {
        let digest = descriptor.digest();
        if descriptor.size() > MAX_DOCUMENT_SIZE {
            return Err(self.invalid(format!(
                "{what} {digest} is {} bytes, more than the {MAX_DOCUMENT_SIZE} allowed",
                descriptor.size()
            )));
        }
        let file = self.open_blob(descriptor)?;
        // One byte more than the descriptor says, so that a file that grew is caught.
        let mut reader = HashingReader::new(file.take(descriptor.size() + 1));
        let mut bytes = Vec::new();
        reader
            .read_to_end(&mut bytes)
            .context(|| format!("reading {what} {digest} of image {}", self.image))?;
        let (actual, count) = reader.finish();
        self.check_blob(descriptor, &actual, count)?;
        serde_json::from_slice(&bytes)
            .map_err(|e| self.invalid(format!("{what} {digest} is not valid: {e}")))
    }

    /// Reads `index.json`.
    fn read_index(&self) -> Result<ImageIndex> {
        let path = self.dir.join("index.json");
        let file = match crate::state::open_regular(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(self.invalid(format!(
                    "{} is not an OCI image layout (it has no index.json)",
                    self.shown_as.display()
                )));
            }
            Err(e) => return Err(e).context(|| format!("opening {}", path.display())),
        };
        let mut bytes = Vec::new();
        file.take(MAX_DOCUMENT_SIZE + 1)
            .read_to_end(&mut bytes)
            .context(|| format!("reading {}", path.display()))?;
        if bytes.len() as u64 > MAX_DOCUMENT_SIZE {
            return Err(self.invalid(format!(
                "{} is larger than {MAX_DOCUMENT_SIZE} bytes",
                path.display()
            )));
        }
        serde_json::from_slice(&bytes).map_err(|e| {
            self.invalid(format!(
                "{} is not a valid image index: {e}",
                path.display()
            ))
        })
    }

    /// The descriptor tagged `tag` in `index`, or its only descriptor when no tag is given.
    fn pick_tagged<'i>(&self, index: &'i ImageIndex, tag: Option<&str>) -> Result<&'i Descriptor> {
        let manifests = index.manifests();
        let tags: Vec<&str> = manifests.iter().filter_map(ref_name).collect();
        let untagged = manifests.len() - tags.len();
        let dir = self.shown_as.display();
        match tag {
            None => match manifests.as_slice() {
                [only] => Ok(only),
                [] => Err(self.invalid(format!("no image in {dir}"))),
                many => Err(self.invalid(format!(
                    "{} images in {dir}; name one with :TAG ({})",
                    many.len(),
                    list_tags(&tags, untagged)
                ))),
            },
            // containers/image takes the first match too.
            Some(tag) => manifests
                .iter()
                .find(|m| ref_name(m) == Some(tag))
                .ok_or_else(|| {
                    self.invalid(format!(
                        "no image tagged {tag:?} in {dir} ({})",
                        list_tags(&tags, untagged)
                    ))
                }),
        }
    }

    /// The manifest for this host in the nested image index `nested` (read from `descriptor`).
    fn pick_platform<'i>(
        &self,
        nested: &'i ImageIndex,
        descriptor: &Descriptor,
    ) -> Result<&'i Descriptor> {
        let host = Platform::host();
        let platform_of = |m: &Descriptor| {
            m.platform()
                .as_ref()
                .map(|p| (p.os().to_string(), p.architecture().to_string()))
        };
        if let Some(found) = nested
            .manifests()
            .iter()
            .find(|m| platform_of(m).is_some_and(|(os, arch)| host.matches(&os, &arch)))
        {
            return Ok(found);
        }
        let listed: Vec<String> = nested
            .manifests()
            .iter()
            .map(|m| match platform_of(m) {
                Some((os, arch)) => format!("{os}/{arch}"),
                None => "(no platform)".to_owned(),
            })
            .collect();
        let listed = if listed.is_empty() {
            "it lists no manifest".to_owned()
        } else {
            format!("it has: {}", listed.join(", "))
        };
        Err(self.invalid(format!(
            "no {host} image in image index {}; {listed}",
            descriptor.digest()
        )))
    }

    /// Whether `descriptor` names a manifest or an index; anything else is refused.
    fn target(&self, descriptor: &Descriptor) -> Result<Target> {
        match descriptor.media_type() {
            MediaType::ImageManifest => Ok(Target::Manifest),
            MediaType::ImageIndex => Ok(Target::Index),
            MediaType::Other(other) if other == DOCKER_MANIFEST => Ok(Target::Manifest),
            MediaType::Other(other) if other == DOCKER_MANIFEST_LIST => Ok(Target::Index),
            other => Err(self.invalid(format!(
                "{} has media type {other}, not an image manifest or index",
                descriptor.digest()
            ))),
        }
    }
}

/// The tag of a descriptor in `index.json`.
fn ref_name(descriptor: &Descriptor) -> Option<&str> {
    descriptor
        .annotations()
        .as_ref()?
        .get(ANNOTATION_REF_NAME)
        .map(String::as_str)
}

/// "tags: a, b", with the untagged images counted, for errors that ask for a tag.
fn list_tags(tags: &[&str], untagged: usize) -> String {
    let mut text = if tags.is_empty() {
        "it has no tags".to_owned()
    } else {
        format!("tags: {}", tags.join(", "))
    };
    if untagged > 0 && !tags.is_empty() {
        text.push_str(&format!(", and {untagged} untagged"));
    }
    text
}
