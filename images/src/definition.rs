//! Image definitions: *what* goes into an image (files, entrypoint, user, platform), with no
//! knowledge of *how* it is packaged. The builder (`image`, `layer`, `layout`, `archive`) turns
//! any [`Definition`] into OCI blobs, so adding an image is adding a function here.

use std::fmt;

use oci_spec::image::{Arch, Os};
use sandbox::binary::Executable;

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
    /// Where the files run: the config's and the index's `os`, `architecture` and `variant`.
    pub platform: Platform,
    /// The files of the one layer.
    pub files: Vec<File>,
    /// `Entrypoint` of the image config.
    pub entrypoint: Vec<String>,
    /// `User` of the image config, numeric `uid:gid` so no `/etc/passwd` is needed.
    pub user: String,
    /// The history entry's `created_by`: how the layer was made.
    pub created_by: String,
}

/// The platform an image's files are built for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Platform {
    /// Operating system.
    pub os: Os,
    /// CPU architecture, by its GOARCH name (`amd64`, `arm64`, ...).
    pub architecture: Arch,
    /// Architecture variant (`v7` of `arm/v7`), where the binary records one.
    pub variant: Option<String>,
}

impl Platform {
    /// Linux on the architecture `executable` is built for: an image holding it runs where the
    /// binary itself runs, so the binary decides, never a constant.
    pub(crate) fn linux(executable: &Executable) -> Platform {
        Platform {
            os: Os::Linux,
            architecture: Arch::from(executable.architecture.oci_name()),
            variant: executable.variant.map(str::to_owned),
        }
    }

    /// `linux/amd64`, the platform of the tests' fixed bytes.
    #[cfg(test)]
    pub(crate) fn linux_amd64() -> Platform {
        Platform {
            os: Os::Linux,
            architecture: Arch::Amd64,
            variant: None,
        }
    }
}

impl fmt::Display for Platform {
    /// `os/architecture[/variant]`, as `--platform` options and containerd write it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(variant) = &self.variant {
            write!(f, "/{variant}")?;
        }
        Ok(())
    }
}

/// Repository of the pause image. It starts with a registry host so that every tool derives the
/// same full name from it: a bare `pause:3.10` becomes `docker.io/library/pause:3.10` in
/// containerd and `localhost/pause:3.10` in podman.
pub(crate) const PAUSE_REPOSITORY: &str = "localhost/pause";

/// The pod infrastructure image: `/pause` alone, run as 65535:65535 like Kubernetes' pause image
/// (`registry.k8s.io/pause`, whose Dockerfile is `ADD pause /pause`, `USER 65535:65535`,
/// `ENTRYPOINT ["/pause"]`). `binary` must be a static executable (see `binary`), built for
/// `platform`.
pub(crate) fn pause(binary: Vec<u8>, platform: Platform) -> Definition {
    Definition {
        repository: PAUSE_REPOSITORY.to_owned(),
        platform,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_is_written_as_tools_write_it() {
        assert_eq!(Platform::linux_amd64().to_string(), "linux/amd64");
        let arm = Platform {
            os: Os::Linux,
            architecture: Arch::ARM,
            variant: Some("v7".to_owned()),
        };
        assert_eq!(arm.to_string(), "linux/arm/v7");
    }

    #[test]
    fn platform_comes_from_the_binary() {
        // The workspace builds for x86_64-unknown-linux-musl, this test executable included.
        let exe = std::env::current_exe().unwrap();
        let executable = sandbox::binary::inspect_file(&exe).unwrap();
        assert_eq!(Platform::linux(&executable), Platform::linux_amd64());
    }
}
