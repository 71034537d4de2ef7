//! Image definitions: *what* goes into an image (layers of entries, the runtime config, the
//! platform), with no knowledge of *how* it is packaged. The builder (`image`, `layer`, `layout`,
//! `archive`) turns any [`Definition`] into OCI blobs. A definition comes from code (the pause
//! image, [`pause`]) or from a JSON file (`definition_file`).

use std::fmt;

use oci_spec::image::{Arch, Config, Os};
use sandbox::binary::Executable;

/// Who owns an entry, by number: layers carry no user or group names, so the image's own
/// `/etc/passwd` (if any) decides what the numbers mean.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Owner {
    /// User ID.
    pub uid: u32,
    /// Group ID.
    pub gid: u32,
}

/// What one entry of a layer is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EntryKind {
    /// A regular file.
    File {
        /// Permission bits (with setuid, setgid and sticky).
        mode: u32,
        /// Owner.
        owner: Owner,
        /// Contents, byte for byte.
        contents: Vec<u8>,
    },
    /// A directory.
    Directory {
        /// Permission bits (with setuid, setgid and sticky).
        mode: u32,
        /// Owner.
        owner: Owner,
    },
    /// A symbolic link (mode 0777, as the kernel shows every symlink).
    Symlink {
        /// What the link points at, as written (relative or absolute).
        target: String,
        /// Owner.
        owner: Owner,
    },
    /// Deletes what a lower layer has at this path: the tar entry `.wh.NAME` in its parent.
    Whiteout,
    /// Hides what lower layers have inside this directory (the directory itself stays): the tar
    /// entry `.wh..wh..opq` inside it.
    Opaque,
}

/// One entry of a layer: a path and what is there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// Path inside the image, relative (`bin/sh` for `/bin/sh`), with no `.`, `..` or empty
    /// components.
    pub path: String,
    /// What the entry is.
    pub kind: EntryKind,
}

/// One layer: its entries, and how it was made (its history entry). Parent directories of the
/// entries that the layer does not list are added by the layer builder, with the mode and owner
/// the lower layers give them (0755, 0:0 when none does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Layer {
    /// The history entry's `created_by`.
    pub created_by: String,
    /// The entries, in any order: the builder sorts them.
    pub entries: Vec<Entry>,
}

/// Everything that decides an image's content. Same definition and timestamp, same digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Definition {
    /// The repository part of the image's name (`localhost/pause`); the tag is chosen per build.
    pub repository: String,
    /// Where the files run: the config's and the index's `os`, `architecture` and `variant`.
    pub platform: Platform,
    /// The layers, lowest first.
    pub layers: Vec<Layer>,
    /// The runtime config (`Entrypoint`, `Cmd`, `Env`, `User`, ...) of the image config; fields
    /// left `None` are left out of the JSON.
    pub config: Config,
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

    /// Parses `linux/ARCH[/VARIANT]`, ARCH a GOARCH name that `oci-spec` knows (`amd64`,
    /// `arm64`, `arm/v7`, ...), as `--platform` options and definition files write it.
    pub(crate) fn parse(text: &str) -> Result<Platform, String> {
        let parts: Vec<&str> = text.split('/').collect();
        let (os, architecture, variant) = match parts[..] {
            [os, architecture] => (os, architecture, None),
            [os, architecture, variant] if !variant.is_empty() => (os, architecture, Some(variant)),
            _ => return Err("expected OS/ARCHITECTURE or OS/ARCHITECTURE/VARIANT".to_owned()),
        };
        if os != "linux" {
            return Err(format!(
                "images builds Linux images only (Linux whiteouts, numeric owners): the OS must \
                 be \"linux\", not {os:?}"
            ));
        }
        let arch = Arch::from(architecture);
        // Unknown names become `Other`, and a name `oci-spec` maps to another (it reads `armbe`
        // as `arm64be`) would be written differently from how it was given: both are refused.
        if matches!(arch, Arch::Other(_)) || arch.to_string() != architecture {
            return Err(format!(
                "unknown architecture {architecture:?}: use a GOARCH name such as amd64, arm64, \
                 arm, 386, ppc64le, riscv64 or s390x"
            ));
        }
        Ok(Platform {
            os: Os::Linux,
            architecture: arch,
            variant: variant.map(str::to_owned),
        })
    }

    /// Linux on the architecture `images` itself was built for (its GOARCH name, as `oci-spec`
    /// translates Rust's): the platform of a definition file that names none, since the files
    /// it packages are usually the host's own.
    pub(crate) fn host() -> Platform {
        Platform {
            os: Os::Linux,
            architecture: Arch::default(),
            variant: None,
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
    let mut config = Config::default();
    config.set_entrypoint(Some(vec!["/pause".to_owned()]));
    config.set_user(Some("65535:65535".to_owned()));
    Definition {
        repository: PAUSE_REPOSITORY.to_owned(),
        platform,
        layers: vec![Layer {
            created_by: "images: COPY pause /pause".to_owned(),
            entries: vec![Entry {
                path: "pause".to_owned(),
                kind: EntryKind::File {
                    mode: 0o755,
                    owner: Owner::default(),
                    contents: binary,
                },
            }],
        }],
        config,
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

    #[test]
    fn host_platform_is_the_one_images_is_built_for() {
        // The workspace builds for x86_64-unknown-linux-musl.
        assert_eq!(Platform::host(), Platform::linux_amd64());
    }
}
