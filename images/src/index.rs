//! What a layout names, and how: the `index.json` that names one descriptor under the image's
//! tag, and, for the pod infrastructure image, the image index that gathers one manifest per
//! platform under that one name (as `registry.k8s.io/pause` is one index for five platforms).
//!
//! ```text
//! one platform (a definition's image)     several platforms (the pause image)
//!
//! index.json ── manifest (linux/amd64)    index.json ── image index ─┬─ manifest (linux/amd64)
//!                                                                    └─ manifest (linux/arm64)
//! ```
//!
//! The tag and the full name are annotations of the descriptor in `index.json` only. Neither
//! the image index nor the manifests hold them, so retagging changes no digest, and the index
//! digest (the multi-platform image's digest, the one a registry would serve under the tag) is
//! a function of its manifests alone. The manifests are listed sorted by platform, so the order
//! of `--platform` does not change it either.

use std::collections::HashMap;

use oci_spec::image::{Descriptor, ImageIndexBuilder, MediaType, OciLayoutBuilder, SCHEMA_VERSION};

use crate::canonical;
use crate::digest::Blob;
use crate::error::{Error, Result};
use crate::image::Image;
use crate::name::ImageName;

/// Annotation with the image's name within its layout (the `TAG` of `oci:DIR:TAG`).
pub(crate) const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";
/// containerd's annotation with the image's full name; `ctr images import` and `podman load`
/// prefer it to the ref name, which they would otherwise prefix with odd defaults.
pub(crate) const ANNOTATION_CONTAINERD_NAME: &str = "io.containerd.image.name";
/// The version of the image layout written to `oci-layout`.
const IMAGE_LAYOUT_VERSION: &str = "1.0.0";

/// Everything a layout directory or an `oci-archive` holds.
#[derive(Debug, Clone)]
pub(crate) struct LayoutContents {
    /// Every blob: each platform's config, layers and manifest, then the image index, if any.
    pub blobs: Vec<Blob>,
    /// What `index.json` names under the tag: the manifest of a one-platform image, or the
    /// image index of a multi-platform one. Its digest is the image's digest.
    pub target: Descriptor,
    /// The `index.json` bytes.
    pub index_json: Vec<u8>,
    /// The `oci-layout` bytes.
    pub oci_layout: Vec<u8>,
}

/// A layout whose `index.json` names `image`'s manifest itself under `name`.
pub(crate) fn single_platform(image: Image, name: &ImageName) -> Result<LayoutContents> {
    contents(image.blobs, image.manifest, name)
}

/// A layout whose `index.json` names, under `name`, an image index of the manifests of
/// `images` (one per platform, each with its platform in the index).
pub(crate) fn multi_platform(images: Vec<Image>, name: &ImageName) -> Result<LayoutContents> {
    let mut manifests: Vec<Descriptor> =
        images.iter().map(|image| image.manifest.clone()).collect();
    manifests.sort_by_key(platform_key);
    let index = ImageIndexBuilder::default()
        .schema_version(SCHEMA_VERSION)
        .media_type(MediaType::ImageIndex)
        .manifests(manifests)
        .build()
        .map_err(|source| Error::Spec {
            what: "image index",
            source,
        })?;
    let index_blob = Blob::new(
        MediaType::ImageIndex,
        canonical::to_vec(&index, "image index")?,
    );
    let target = index_blob.descriptor();
    let mut blobs: Vec<Blob> = images.into_iter().flat_map(|image| image.blobs).collect();
    blobs.push(index_blob);
    contents(blobs, target, name)
}

/// `os/architecture/variant` of a manifest descriptor, to sort by.
fn platform_key(descriptor: &Descriptor) -> String {
    descriptor
        .platform()
        .as_ref()
        .map_or_else(String::new, |platform| {
            format!(
                "{}/{}/{}",
                platform.os(),
                platform.architecture(),
                platform.variant().as_deref().unwrap_or_default()
            )
        })
}

/// The layout of `blobs` whose `index.json` names `target` under `name`.
fn contents(blobs: Vec<Blob>, target: Descriptor, name: &ImageName) -> Result<LayoutContents> {
    let spec = |what| move |source| Error::Spec { what, source };
    let mut named = target.clone();
    named.set_annotations(Some(HashMap::from([
        (ANNOTATION_REF_NAME.to_owned(), name.tag().to_owned()),
        (ANNOTATION_CONTAINERD_NAME.to_owned(), name.reference()),
    ])));
    let index_json = ImageIndexBuilder::default()
        .schema_version(SCHEMA_VERSION)
        .media_type(MediaType::ImageIndex)
        .manifests(vec![named])
        .build()
        .map_err(spec("index.json"))?;
    let oci_layout = OciLayoutBuilder::default()
        .image_layout_version(IMAGE_LAYOUT_VERSION)
        .build()
        .map_err(spec("oci-layout"))?;
    Ok(LayoutContents {
        blobs,
        target,
        index_json: canonical::to_vec(&index_json, "index.json")?,
        oci_layout: canonical::to_vec(&oci_layout, "oci-layout")?,
    })
}

#[cfg(test)]
mod tests {
    use oci_spec::image::Arch;
    use serde_json::Value;

    use super::*;
    use crate::definition::{self, Platform};
    use crate::image;

    fn json(bytes: &[u8]) -> Value {
        serde_json::from_slice(bytes).unwrap()
    }

    fn pause_image(architecture: Arch, bytes: &[u8]) -> Image {
        let platform = Platform {
            architecture,
            ..Platform::linux_amd64()
        };
        image::build(&definition::pause(bytes.to_vec(), platform), 0).unwrap()
    }

    fn name() -> ImageName {
        ImageName::new("localhost/pause", "0.1.0").unwrap()
    }

    #[test]
    fn index_json_names_a_single_platform_manifest_both_ways() {
        let image = pause_image(Arch::Amd64, b"x");
        let manifest = image.manifest.clone();
        let layout = single_platform(image, &name()).unwrap();
        assert_eq!(layout.target, manifest);
        let index = json(&layout.index_json);
        assert_eq!(
            index["mediaType"],
            "application/vnd.oci.image.index.v1+json"
        );
        let named = &index["manifests"][0];
        assert_eq!(named["annotations"][ANNOTATION_REF_NAME], "0.1.0");
        assert_eq!(
            named["annotations"][ANNOTATION_CONTAINERD_NAME],
            "localhost/pause:0.1.0"
        );
        assert_eq!(
            named["mediaType"],
            "application/vnd.oci.image.manifest.v1+json"
        );
        assert_eq!(named["platform"]["architecture"], "amd64");
        assert_eq!(named["digest"], manifest.digest().to_string());
        assert_eq!(layout.blobs.len(), 3, "config, layer, manifest");
    }

    #[test]
    fn a_multi_platform_index_lists_each_manifest_with_its_platform() {
        let amd64 = pause_image(Arch::Amd64, b"x86-64 pause");
        let arm64 = pause_image(Arch::ARM64, b"aarch64 pause");
        let manifests = [amd64.manifest.clone(), arm64.manifest.clone()];
        let layout = multi_platform(vec![arm64, amd64], &name()).unwrap();

        let named = &json(&layout.index_json)["manifests"];
        assert_eq!(named.as_array().unwrap().len(), 1);
        assert_eq!(
            named[0]["mediaType"],
            "application/vnd.oci.image.index.v1+json"
        );
        assert_eq!(named[0]["digest"], layout.target.digest().to_string());
        assert_eq!(named[0]["annotations"][ANNOTATION_REF_NAME], "0.1.0");
        assert!(named[0].get("platform").is_none(), "an index runs anywhere");

        let index_blob = layout.blobs.last().unwrap();
        assert_eq!(&index_blob.digest, layout.target.digest());
        let index = json(&index_blob.bytes);
        assert_eq!(index["schemaVersion"], 2);
        let listed = index["manifests"].as_array().unwrap();
        // Sorted by platform, whatever the order of the images given.
        for (entry, manifest) in listed.iter().zip(&manifests) {
            assert_eq!(entry["digest"], manifest.digest().to_string());
            assert_eq!(
                entry["mediaType"],
                "application/vnd.oci.image.manifest.v1+json"
            );
            assert!(
                entry.get("annotations").is_none(),
                "the tag is index.json's alone"
            );
        }
        let architectures: Vec<&str> = listed
            .iter()
            .map(|entry| entry["platform"]["architecture"].as_str().unwrap())
            .collect();
        assert_eq!(architectures, ["amd64", "arm64"]);
        assert_eq!(
            layout.blobs.len(),
            7,
            "two configs, layers and manifests, one index"
        );
    }

    #[test]
    fn the_index_digest_depends_on_the_manifests_alone() {
        let build = |order: [Arch; 2], tag: &str| {
            let images = order
                .into_iter()
                .map(|arch| pause_image(arch.clone(), arch.to_string().as_bytes()))
                .collect();
            let name = ImageName::new("localhost/other", tag).unwrap();
            multi_platform(images, &name).unwrap().target
        };
        let first = build([Arch::Amd64, Arch::ARM64], "1");
        assert_eq!(build([Arch::ARM64, Arch::Amd64], "2"), first);
        assert_eq!(build([Arch::Amd64, Arch::ARM64], "1"), first);
    }
}
