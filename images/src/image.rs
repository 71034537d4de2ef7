//! The builder: turns a [`Definition`] into the blobs and index of an OCI image
//! (image-spec v1.0): one layer, its config, a manifest, and an index naming the manifest.
//!
//! Every document is an `oci-spec` type serialised as canonical JSON (see `canonical`), and the
//! only time that enters is the build's timestamp, so the manifest digest is a function of the
//! definition and `SOURCE_DATE_EPOCH` alone. The tag is only in `index.json`, so retagging never
//! changes the manifest digest.

use std::collections::HashMap;

use oci_spec::image::{
    ConfigBuilder, Descriptor, HistoryBuilder, ImageConfigurationBuilder, ImageIndexBuilder,
    ImageManifestBuilder, MediaType, OciLayoutBuilder, PlatformBuilder, RootFsBuilder,
    SCHEMA_VERSION,
};

use crate::canonical;
use crate::definition::Definition;
use crate::digest::Blob;
use crate::error::{Error, Result};
use crate::layer;
use crate::name::ImageName;
use crate::timestamp;

/// Annotation with the image's name within its layout (the `TAG` of `oci:DIR:TAG`).
pub(crate) const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";
/// containerd's annotation with the image's full name; `ctr images import` and `podman load`
/// prefer it to the ref name, which they would otherwise prefix with odd defaults.
pub(crate) const ANNOTATION_CONTAINERD_NAME: &str = "io.containerd.image.name";
/// The version of the image layout written to `oci-layout`.
const IMAGE_LAYOUT_VERSION: &str = "1.0.0";

/// A built image, ready to be written as a layout or an archive.
#[derive(Debug, Clone)]
pub(crate) struct Image {
    /// Config, layer and manifest blobs, in that order.
    pub blobs: Vec<Blob>,
    /// Descriptor of the manifest, as `index.json` lists it (with annotations and platform).
    pub manifest: Descriptor,
    /// The `index.json` bytes.
    pub index: Vec<u8>,
    /// The `oci-layout` bytes.
    pub oci_layout: Vec<u8>,
    /// Total size of the layer tars before compression.
    pub uncompressed_size: u64,
}

impl Image {
    /// What a registry stores and a runtime pulls for this image: manifest, config and
    /// compressed layers, in bytes.
    pub(crate) fn compressed_size(&self) -> u64 {
        self.blobs.iter().map(Blob::size).sum()
    }
}

/// Builds the image `definition` describes, stamped with `epoch` and named `name`.
pub(crate) fn build(definition: &Definition, epoch: u64, name: &ImageName) -> Result<Image> {
    let spec = |what| move |source| Error::Spec { what, source };
    let created = timestamp::rfc3339(epoch)?;
    let layer = layer::build(&definition.files, epoch)?;

    let config = ConfigBuilder::default()
        .user(definition.user.clone())
        .entrypoint(definition.entrypoint.clone())
        .build()
        .map_err(spec("runtime config"))?;
    let rootfs = RootFsBuilder::default()
        .typ("layers")
        .diff_ids(vec![layer.diff_id.to_string()])
        .build()
        .map_err(spec("rootfs"))?;
    let history = HistoryBuilder::default()
        .created(created.clone())
        .created_by(definition.created_by.clone())
        .build()
        .map_err(spec("history"))?;
    let platform = &definition.platform;
    let mut configuration = ImageConfigurationBuilder::default()
        .created(created)
        .architecture(platform.architecture.clone())
        .os(platform.os.clone())
        .config(config)
        .rootfs(rootfs)
        .history(vec![history])
        .build()
        .map_err(spec("config"))?;
    configuration.set_variant(platform.variant.clone());
    let config_blob = Blob::new(
        MediaType::ImageConfig,
        canonical::to_vec(&configuration, "image config")?,
    );

    let manifest = ImageManifestBuilder::default()
        .schema_version(SCHEMA_VERSION)
        .media_type(MediaType::ImageManifest)
        .config(config_blob.descriptor())
        .layers(vec![layer.blob.descriptor()])
        .build()
        .map_err(spec("manifest"))?;
    let manifest_blob = Blob::new(
        MediaType::ImageManifest,
        canonical::to_vec(&manifest, "image manifest")?,
    );

    let mut manifest_descriptor = manifest_blob.descriptor();
    let mut index_platform = PlatformBuilder::default()
        .architecture(platform.architecture.clone())
        .os(platform.os.clone())
        .build()
        .map_err(spec("platform"))?;
    index_platform.set_variant(platform.variant.clone());
    manifest_descriptor.set_platform(Some(index_platform));
    manifest_descriptor.set_annotations(Some(HashMap::from([
        (ANNOTATION_REF_NAME.to_owned(), name.tag().to_owned()),
        (ANNOTATION_CONTAINERD_NAME.to_owned(), name.reference()),
    ])));
    let index = ImageIndexBuilder::default()
        .schema_version(SCHEMA_VERSION)
        .media_type(MediaType::ImageIndex)
        .manifests(vec![manifest_descriptor.clone()])
        .build()
        .map_err(spec("index"))?;
    let oci_layout = OciLayoutBuilder::default()
        .image_layout_version(IMAGE_LAYOUT_VERSION)
        .build()
        .map_err(spec("oci-layout"))?;

    Ok(Image {
        blobs: vec![config_blob, layer.blob, manifest_blob],
        manifest: manifest_descriptor,
        index: canonical::to_vec(&index, "image index")?,
        oci_layout: canonical::to_vec(&oci_layout, "oci-layout")?,
        uncompressed_size: layer.uncompressed_size,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::definition::{self, Platform};

    /// Manifest digest of the pause definition around the fixed bytes below, at epoch 0. It
    /// changes only when the builder's output format changes (JSON fields, tar or gzip
    /// settings, the deflate implementation): update it deliberately, never to make a flaky
    /// test pass.
    const GOLDEN_MANIFEST_DIGEST: &str =
        "sha256:d4aa179f255b5cf3521d80f509c6d6b5ea0e146a25826696f90be339e399f46f";

    fn fixture() -> Image {
        let name = ImageName::new("localhost/pause", "0.1.0").unwrap();
        build(
            &definition::pause(b"\x7fELF fixed bytes".to_vec(), Platform::linux_amd64()),
            0,
            &name,
        )
        .unwrap()
    }

    fn json(bytes: &[u8]) -> Value {
        serde_json::from_slice(bytes).unwrap()
    }

    #[test]
    fn same_definition_gives_the_same_bytes() {
        let (first, second) = (fixture(), fixture());
        assert_eq!(first.blobs, second.blobs);
        assert_eq!(first.index, second.index);
    }

    #[test]
    fn golden_manifest_digest() {
        assert_eq!(
            fixture().manifest.digest().to_string(),
            GOLDEN_MANIFEST_DIGEST,
            "the builder's output changed; if on purpose, update GOLDEN_MANIFEST_DIGEST"
        );
    }

    #[test]
    fn config_has_the_definition_fields() {
        let image = fixture();
        let config = json(&image.blobs[0].bytes);
        assert_eq!(config["architecture"], "amd64");
        assert_eq!(config["os"], "linux");
        assert_eq!(config["created"], "1970-01-01T00:00:00Z");
        assert_eq!(config["config"]["User"], "65535:65535");
        assert_eq!(
            config["config"]["Entrypoint"],
            serde_json::json!(["/pause"])
        );
        assert_eq!(config["rootfs"]["type"], "layers");
        assert_eq!(
            config["history"][0]["created_by"],
            "images: COPY pause /pause"
        );
    }

    #[test]
    fn platform_variant_is_in_the_config_and_the_index_only_when_known() {
        let name = ImageName::new("localhost/pause", "0.1.0").unwrap();
        let arm = Platform {
            architecture: oci_spec::image::Arch::ARM,
            variant: Some("v7".to_owned()),
            ..Platform::linux_amd64()
        };
        let image = build(&definition::pause(b"x".to_vec(), arm), 0, &name).unwrap();
        let config = json(&image.blobs[0].bytes);
        assert_eq!(config["architecture"], "arm");
        assert_eq!(config["variant"], "v7");
        let platform = &json(&image.index)["manifests"][0]["platform"];
        assert_eq!(platform["architecture"], "arm");
        assert_eq!(platform["variant"], "v7");

        let amd64 = fixture();
        assert!(json(&amd64.blobs[0].bytes).get("variant").is_none());
        assert!(
            json(&amd64.index)["manifests"][0]["platform"]
                .get("variant")
                .is_none()
        );
    }

    #[test]
    fn index_names_the_image_both_ways() {
        let image = fixture();
        let index = json(&image.index);
        let annotations = &index["manifests"][0]["annotations"];
        assert_eq!(annotations[ANNOTATION_REF_NAME], "0.1.0");
        assert_eq!(
            annotations[ANNOTATION_CONTAINERD_NAME],
            "localhost/pause:0.1.0"
        );
        assert_eq!(index["manifests"][0]["platform"]["architecture"], "amd64");
        assert_eq!(
            index["manifests"][0]["digest"],
            image.manifest.digest().to_string()
        );
    }

    #[test]
    fn tag_does_not_change_the_manifest() {
        let other = ImageName::new("localhost/other", "9").unwrap();
        let retagged = build(
            &definition::pause(b"\x7fELF fixed bytes".to_vec(), Platform::linux_amd64()),
            0,
            &other,
        );
        assert_eq!(retagged.unwrap().blobs, fixture().blobs);
    }

    #[test]
    fn manifest_points_at_config_and_layer() {
        let image = fixture();
        let manifest = json(&image.blobs[2].bytes);
        assert_eq!(manifest["schemaVersion"], 2);
        assert_eq!(
            manifest["config"]["digest"],
            image.blobs[0].digest.to_string()
        );
        assert_eq!(
            manifest["layers"][0]["mediaType"],
            "application/vnd.oci.image.layer.v1.tar+gzip"
        );
        assert_eq!(
            manifest["layers"][0]["digest"],
            image.blobs[1].digest.to_string()
        );
        assert_eq!(
            image.compressed_size(),
            image
                .blobs
                .iter()
                .map(|b| b.bytes.len() as u64)
                .sum::<u64>()
        );
    }
}
