//! Image definitions: *what* goes into an image (files, entrypoint, user, platform), with no
//! knowledge of *how* it is packaged. The builder (`image`, `layer`, `layout`, `archive`) turns
//! any [`Definition`] into OCI blobs, so adding an image is adding a function here.

use oci_spec::image::{Arch, Os};

/// One regular file of an image's single layer. Files are owned by 0:0 (numeric, no names) and
/// get the build's fixed mtime; parent directories are added by the layer builder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct File {
    /// Path inside the image, relative (`pause` for `/pause`).
    pub path: String,
    /// Permission bits.
    pub mode: u32,
    /// Contents, byte for byte.
    pub contents: Vec<u8>,
}

/// Everything that decides an image's content. Same definition and timestamp, same digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Definition {
    /// The repository part of the image's name (`localhost/pause`); the tag is chosen per build.
    pub repository: String,
    /// CPU architecture the files are built for.
    pub architecture: Arch,
    /// Operating system the files are built for.
    pub os: Os,
    /// The files of the one layer.
    pub files: Vec<File>,
    /// `Entrypoint` of the image config.
    pub entrypoint: Vec<String>,
    /// `User` of the image config, numeric `uid:gid` so no `/etc/passwd` is needed.
    pub user: String,
    /// The history entry's `created_by`: how the layer was made.
    pub created_by: String,
}

/// Repository of the pause image. It starts with a registry host so that every tool derives the
/// same full name from it: a bare `pause:3.10` becomes `docker.io/library/pause:3.10` in
/// containerd and `localhost/pause:3.10` in podman.
pub(crate) const PAUSE_REPOSITORY: &str = "localhost/pause";

/// The pod infrastructure image: `/pause` alone, run as 65535:65535 like Kubernetes' pause image
/// (`registry.k8s.io/pause`, whose Dockerfile is `ADD pause /pause`, `USER 65535:65535`,
/// `ENTRYPOINT ["/pause"]`). `binary` must be a static x86-64 executable (see `elf`).
pub(crate) fn pause(binary: Vec<u8>) -> Definition {
    Definition {
        repository: PAUSE_REPOSITORY.to_owned(),
        architecture: Arch::Amd64,
        os: Os::Linux,
        files: vec![File {
            path: "pause".to_owned(),
            mode: 0o755,
            contents: binary,
        }],
        entrypoint: vec!["/pause".to_owned()],
        user: "65535:65535".to_owned(),
        created_by: "images: COPY pause /pause".to_owned(),
    }
}
