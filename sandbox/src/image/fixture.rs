//! Test fixtures: OCI image layouts built on the fly (tar, gzip and sha256 in process, no
//! external tools), and the checks the store's tests share.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::digest::sha256_of;
use super::platform::Platform;

/// Panics unless the tests run as root: unpacking sets owners, makes whiteout devices and
/// writes `trusted.*` xattrs. A skipped test cannot fail.
pub(crate) fn require_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "needs root: run as root (CI does)"
    );
}

/// A new scratch directory.
pub(crate) fn scratch(tag: &str) -> PathBuf {
    crate::state::scratch(tag)
}

/// Builds a layer tar entry by entry.
pub(crate) struct Tar {
    builder: tar::Builder<Vec<u8>>,
}

impl Tar {
    /// An empty tar.
    pub(crate) fn new() -> Tar {
        Tar {
            builder: tar::Builder::new(Vec::new()),
        }
    }

    fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_mode(mode);
        header.set_size(size);
        header.set_mtime(1_000_000);
        header.set_uid(0);
        header.set_gid(0);
        header
    }

    /// Appends an entry whose name bytes are written as they are (the tar crate's own
    /// `set_path` refuses `..` and absolute paths, which hostile layers have).
    fn append(mut self, mut header: tar::Header, name: &[u8], data: &[u8]) -> Tar {
        let field = &mut header.as_old_mut().name;
        assert!(name.len() < field.len(), "name too long for the fixture");
        field[..name.len()].copy_from_slice(name);
        header.set_cksum();
        self.builder.append(&header, data).unwrap();
        self
    }

    /// A directory.
    pub(crate) fn dir(self, path: &str, mode: u32) -> Tar {
        let header = Tar::header(tar::EntryType::Directory, mode, 0);
        self.append(header, path.as_bytes(), &[])
    }

    /// A regular file owned by root.
    pub(crate) fn file(self, path: &str, data: &[u8], mode: u32) -> Tar {
        self.file_owned(path, data, mode, 0, 0)
    }

    /// A regular file owned by `uid`:`gid`.
    pub(crate) fn file_owned(self, path: &str, data: &[u8], mode: u32, uid: u64, gid: u64) -> Tar {
        let mut header = Tar::header(tar::EntryType::Regular, mode, data.len() as u64);
        header.set_uid(uid);
        header.set_gid(gid);
        self.append(header, path.as_bytes(), data)
    }

    /// A symlink to `target`.
    pub(crate) fn symlink(self, path: &str, target: &str) -> Tar {
        let mut header = Tar::header(tar::EntryType::Symlink, 0o777, 0);
        header.set_link_name(target).unwrap();
        self.append(header, path.as_bytes(), &[])
    }

    /// A hard link to `target` (a path in the tar).
    pub(crate) fn hardlink(self, path: &str, target: &str) -> Tar {
        let mut header = Tar::header(tar::EntryType::Link, 0o644, 0);
        header.set_link_name(target).unwrap();
        self.append(header, path.as_bytes(), &[])
    }

    /// A node of `kind` (FIFO, character or block device).
    pub(crate) fn node(self, path: &str, kind: tar::EntryType, mode: u32) -> Tar {
        let header = Tar::header(kind, mode, 0);
        self.append(header, path.as_bytes(), &[])
    }

    /// A PAX extended header that sets xattr `key` to `value` on the entry that follows.
    pub(crate) fn xattr(self, key: &str, value: &str) -> Tar {
        let body = format!(" SCHILY.xattr.{key}={value}\n");
        // The record's length counts its own digits.
        let mut length = body.len() + 1;
        while format!("{length}{body}").len() != length {
            length += 1;
        }
        let record = format!("{length}{body}");
        let header = Tar::header(tar::EntryType::XHeader, 0o644, record.len() as u64);
        self.append(header, b"PaxHeader", record.as_bytes())
    }

    /// The tar's bytes (with the end-of-archive blocks).
    pub(crate) fn build(self) -> Vec<u8> {
        self.builder.into_inner().unwrap()
    }
}

/// gzip of `bytes`.
pub(crate) fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// One layer as a layout stores it.
#[derive(Clone)]
pub(crate) struct Layer {
    /// The uncompressed tar (its sha256 is the diff_id).
    pub tar: Vec<u8>,
    /// The blob.
    pub blob: Vec<u8>,
    /// The blob's media type.
    pub media_type: String,
}

impl Layer {
    /// A gzip layer of `tar`.
    pub(crate) fn gzip(tar: Vec<u8>) -> Layer {
        Layer {
            blob: gzip(&tar),
            tar,
            media_type: "application/vnd.oci.image.layer.v1.tar+gzip".to_owned(),
        }
    }

    /// An uncompressed layer.
    pub(crate) fn plain(tar: Vec<u8>) -> Layer {
        Layer {
            blob: tar.clone(),
            tar,
            media_type: "application/vnd.oci.image.layer.v1.tar".to_owned(),
        }
    }

    /// The diff_id.
    pub(crate) fn diff_id(&self) -> String {
        sha256_of(&self.tar)
    }
}

/// This host's architecture, as images name it.
pub(crate) fn host_arch() -> &'static str {
    Platform::host().architecture
}

/// An image config for `architecture` with these diff_ids.
pub(crate) fn config(architecture: &str, diff_ids: &[String]) -> Value {
    json!({
        "architecture": architecture,
        "os": "linux",
        "config": {
            "Entrypoint": ["/bin/sh", "-c"],
            "Cmd": ["echo hi"],
            "Env": ["PATH=/usr/bin:/bin"],
            "WorkingDir": "/srv",
            "User": "",
            "StopSignal": "SIGINT"
        },
        "rootfs": {"type": "layers", "diff_ids": diff_ids}
    })
}

/// An OCI image layout directory being written.
pub(crate) struct LayoutDir {
    /// The layout's directory.
    pub dir: PathBuf,
}

impl LayoutDir {
    /// An empty layout at `dir`.
    pub(crate) fn new(dir: PathBuf) -> LayoutDir {
        std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
        std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        LayoutDir { dir }
    }

    /// Writes a blob; returns a descriptor of `media_type` for it.
    pub(crate) fn blob(&self, bytes: &[u8], media_type: &str) -> Value {
        let digest = sha256_of(bytes);
        std::fs::write(self.blob_path(&digest), bytes).unwrap();
        json!({"mediaType": media_type, "digest": digest, "size": bytes.len()})
    }

    /// Where the blob `digest` is.
    pub(crate) fn blob_path(&self, digest: &str) -> PathBuf {
        self.dir
            .join("blobs/sha256")
            .join(digest.strip_prefix("sha256:").unwrap())
    }

    /// Writes the layers, `config` and a manifest naming them; returns the manifest's
    /// descriptor.
    pub(crate) fn image_with_config(&self, layers: &[Layer], config: &Value) -> Value {
        let config = self.blob(
            &serde_json::to_vec(config).unwrap(),
            "application/vnd.oci.image.config.v1+json",
        );
        let layers: Vec<Value> = layers
            .iter()
            .map(|layer| self.blob(&layer.blob, &layer.media_type))
            .collect();
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": config,
            "layers": layers,
        });
        self.blob(
            &serde_json::to_vec(&manifest).unwrap(),
            "application/vnd.oci.image.manifest.v1+json",
        )
    }

    /// Writes an image of `layers` for this host; returns the manifest's descriptor.
    pub(crate) fn image(&self, layers: &[Layer]) -> Value {
        let diff_ids: Vec<String> = layers.iter().map(Layer::diff_id).collect();
        self.image_with_config(layers, &config(host_arch(), &diff_ids))
    }

    /// Writes `index.json` listing `manifests`.
    pub(crate) fn index(&self, manifests: &[Value]) {
        let index = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": manifests,
        });
        std::fs::write(
            self.dir.join("index.json"),
            serde_json::to_vec(&index).unwrap(),
        )
        .unwrap();
    }

    /// The reference `oci:<dir>[:tag]`.
    pub(crate) fn reference(&self, tag: Option<&str>) -> String {
        match tag {
            Some(tag) => format!("oci:{}:{tag}", self.dir.display()),
            None => format!("oci:{}", self.dir.display()),
        }
    }
}

/// `descriptor` with the tag annotation.
pub(crate) fn tagged(descriptor: &Value, tag: &str) -> Value {
    let mut descriptor = descriptor.clone();
    descriptor["annotations"] = json!({"org.opencontainers.image.ref.name": tag});
    descriptor
}

/// `descriptor` with a platform.
pub(crate) fn with_platform(descriptor: &Value, os: &str, architecture: &str) -> Value {
    let mut descriptor = descriptor.clone();
    descriptor["platform"] = json!({"os": os, "architecture": architecture});
    descriptor
}

/// The names in `dir`, sorted (empty if it does not exist).
pub(crate) fn names_in(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}
