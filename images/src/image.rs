//! The builder: turns a [`Definition`] into the blobs of one platform's OCI image (image-spec
//! v1.0): its layers (one gzip blob, one `diff_id` and one history entry each, in the
//! definition's order), its config and its manifest. Naming it (`index.json`) and gathering
//! several platforms under one image index is `index`'s job.
//!
//! Every document is an `oci-spec` type serialised as canonical JSON (see `canonical`), and the
//! only time that enters is the build's timestamp, so the manifest digest is a function of the
//! definition and `SOURCE_DATE_EPOCH` alone. The tag is only in `index.json`, so retagging never
//! changes the manifest digest.

use oci_spec::image::{
    Descriptor, HistoryBuilder, ImageConfigurationBuilder, ImageManifestBuilder, MediaType,
    PlatformBuilder, RootFsBuilder, SCHEMA_VERSION,
};

use crate::canonical;
use crate::definition::Definition;
use crate::digest::Blob;
use crate::error::{Error, Result};
use crate::layer;
use crate::timestamp;

/// One platform's image, built: what an index names and a node pulls.
#[derive(Debug, Clone)]
pub(crate) struct Image {
    /// Config, layer and manifest blobs, in that order (the layers lowest first).
    pub blobs: Vec<Blob>,
    /// The layers, lowest first, as the manifest lists them.
    pub layers: Vec<LayerSummary>,
    /// Descriptor of the manifest, with the platform it runs on (as an index lists it).
    pub manifest: Descriptor,
    /// Total size of the layer tars before compression.
    pub uncompressed_size: u64,
}

/// What the build summary says about one layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LayerSummary {
    /// Descriptor of the gzip blob.
    pub blob: Descriptor,
    /// Size of the tar before compression.
    pub uncompressed_size: u64,
}

impl Image {
    /// What a registry stores and a runtime pulls for this image: manifest, config and
    /// compressed layers, in bytes.
    pub(crate) fn compressed_size(&self) -> u64 {
        self.blobs.iter().map(Blob::size).sum()
    }
}

/// Builds the image `definition` describes, stamped with `epoch`.
pub(crate) fn build(definition: &Definition, epoch: u64) -> Result<Image> {
    let spec = |what| move |source| Error::Spec { what, source };
    let created = timestamp::rfc3339(epoch)?;
    let mut layers = Vec::with_capacity(definition.layers.len());
    let mut history = Vec::with_capacity(definition.layers.len());
    let mut lower = layer::LowerDirectories::default();
    for layer in &definition.layers {
        layers.push(layer::build(&layer.entries, epoch, &lower)?);
        lower.apply(&layer.entries);
        history.push(
            HistoryBuilder::default()
                .created(created.clone())
                .created_by(layer.created_by.clone())
                .build()
                .map_err(spec("history"))?,
        );
    }

    let rootfs = RootFsBuilder::default()
        .typ("layers")
        .diff_ids(
            layers
                .iter()
                .map(|layer| layer.diff_id.to_string())
                .collect::<Vec<_>>(),
        )
        .build()
        .map_err(spec("rootfs"))?;
    let platform = &definition.platform;
    let mut configuration = ImageConfigurationBuilder::default()
        .created(created)
        .architecture(platform.architecture.clone())
        .os(platform.os.clone())
        .config(definition.config.clone())
        .rootfs(rootfs)
        .history(history)
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
        .layers(
            layers
                .iter()
                .map(|layer| layer.blob.descriptor())
                .collect::<Vec<_>>(),
        )
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

    let summaries = layers
        .iter()
        .map(|layer| LayerSummary {
            blob: layer.blob.descriptor(),
            uncompressed_size: layer.uncompressed_size,
        })
        .collect();
    let uncompressed_size = layers.iter().map(|layer| layer.uncompressed_size).sum();
    let mut blobs = vec![config_blob];
    blobs.extend(layers.into_iter().map(|layer| layer.blob));
    blobs.push(manifest_blob);
    Ok(Image {
        blobs,
        layers: summaries,
        manifest: manifest_descriptor,
        uncompressed_size,
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
        build(
            &definition::pause(b"\x7fELF fixed bytes".to_vec(), Platform::linux_amd64()),
            0,
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
        assert_eq!(first.manifest, second.manifest);
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
    fn platform_variant_is_in_the_config_and_the_descriptor_only_when_known() {
        let arm = Platform {
            architecture: oci_spec::image::Arch::ARM,
            variant: Some("v7".to_owned()),
            ..Platform::linux_amd64()
        };
        let image = build(&definition::pause(b"x".to_vec(), arm), 0).unwrap();
        let config = json(&image.blobs[0].bytes);
        assert_eq!(config["architecture"], "arm");
        assert_eq!(config["variant"], "v7");
        let platform = image.manifest.platform().clone().unwrap();
        assert_eq!(platform.architecture().to_string(), "arm");
        assert_eq!(platform.variant().as_deref(), Some("v7"));

        let amd64 = fixture();
        assert!(json(&amd64.blobs[0].bytes).get("variant").is_none());
        let platform = amd64.manifest.platform().clone().unwrap();
        assert_eq!(platform.architecture().to_string(), "amd64");
        assert_eq!(platform.os().to_string(), "linux");
        assert_eq!(platform.variant(), &None);
        assert!(
            amd64.manifest.annotations().is_none(),
            "the tag is index.json's"
        );
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

    /// A definition file's image with three layers: files, then a whiteout and an opaque
    /// directory over them, then a symlink.
    fn layered() -> Image {
        let definition = serde_json::json!({
            "repository": "localhost/layered",
            "platform": "linux/amd64",
            "layers": [
                {"created_by": "base", "entries": [
                    {"path": "etc/motd", "type": "file", "contents": "hello\n"},
                    {"path": "var/cache/old", "type": "file", "contents": "old"},
                ]},
                {"created_by": "cleanup", "entries": [
                    {"path": "etc/motd", "type": "whiteout"},
                    {"path": "var/cache", "type": "opaque"},
                    {"path": "var/cache/new", "type": "file", "contents": "new"},
                ]},
                {"created_by": "link", "entries": [
                    {"path": "bin/sh", "type": "symlink", "target": "busybox"},
                ]},
            ],
            "config": {"Cmd": ["sh"], "Env": ["A=1"], "StopSignal": "SIGQUIT"},
        });
        let definition = crate::definition_file::from_json(
            &serde_json::to_vec(&definition).unwrap(),
            std::path::Path::new("layered.json"),
        )
        .unwrap();
        build(&definition, 0).unwrap()
    }

    /// Paths of the tar entries of gzip layer `blob`, in order.
    fn layer_paths(blob: &Blob) -> Vec<String> {
        let tar = flate2::read::GzDecoder::new(blob.bytes.as_slice());
        tar::Archive::new(tar)
            .entries()
            .unwrap()
            .map(|entry| entry.unwrap().path().unwrap().display().to_string())
            .collect()
    }

    #[test]
    fn same_definition_file_gives_the_same_manifest() {
        let (first, second) = (layered(), layered());
        assert_eq!(first.manifest.digest(), second.manifest.digest());
        assert_eq!(first.blobs, second.blobs);
    }

    #[test]
    fn each_layer_has_a_blob_a_diff_id_and_a_history_entry_in_order() {
        let image = layered();
        assert_eq!(image.blobs.len(), 5, "config, three layers, manifest");
        assert_eq!(image.layers.len(), 3);
        let config = json(&image.blobs[0].bytes);
        let manifest = json(&image.blobs[4].bytes);
        let created_by: Vec<&str> = config["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|entry| entry["created_by"].as_str().unwrap())
            .collect();
        assert_eq!(created_by, ["base", "cleanup", "link"]);
        let diff_ids = config["rootfs"]["diff_ids"].as_array().unwrap();
        let layers = manifest["layers"].as_array().unwrap();
        assert_eq!((diff_ids.len(), layers.len()), (3, 3));
        for (number, summary) in image.layers.iter().enumerate() {
            let blob = &image.blobs[number + 1];
            assert_eq!(layers[number]["digest"], blob.digest.to_string());
            assert_eq!(summary.blob.digest(), &blob.digest);
            let mut tar = Vec::new();
            std::io::Read::read_to_end(
                &mut flate2::read::GzDecoder::new(blob.bytes.as_slice()),
                &mut tar,
            )
            .unwrap();
            assert_eq!(
                diff_ids[number],
                crate::digest::sha256_digest(&tar).to_string()
            );
            assert_eq!(summary.uncompressed_size, tar.len() as u64);
        }
        assert_eq!(
            image.uncompressed_size,
            image
                .layers
                .iter()
                .map(|l| l.uncompressed_size)
                .sum::<u64>()
        );
    }

    #[test]
    fn whiteout_and_opaque_entries_become_marker_files() {
        let image = layered();
        assert_eq!(
            layer_paths(&image.blobs[1]),
            ["etc", "etc/motd", "var", "var/cache", "var/cache/old"]
        );
        assert_eq!(
            layer_paths(&image.blobs[2]),
            [
                "etc",
                "etc/.wh.motd",
                "var",
                "var/cache",
                "var/cache/.wh..wh..opq",
                "var/cache/new"
            ]
        );
    }

    #[test]
    fn config_has_the_defined_fields_and_no_others() {
        let config = json(&layered().blobs[0].bytes);
        assert_eq!(
            config["config"],
            serde_json::json!({"Cmd": ["sh"], "Env": ["A=1"], "StopSignal": "SIGQUIT"})
        );
    }
}
