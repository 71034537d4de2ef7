//! The platform an image must be built for: this host's OS and CPU architecture, named as OCI
//! (and Go's `GOOS`/`GOARCH`) name them, since image indexes and configs use those names.

use std::fmt;

/// An OS and architecture pair, as in an image index's `platform` or an image config.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Platform {
    /// `GOOS`: always `linux` for the images the store accepts.
    pub os: &'static str,
    /// `GOARCH`.
    pub architecture: &'static str,
}

impl Platform {
    /// The platform of this host: the OS and the Go name of the architecture the binary was
    /// built for (a 32-bit build on a 64-bit kernel asks for 32-bit images, as its syscalls do).
    pub(crate) fn host() -> Platform {
        Platform {
            os: std::env::consts::OS,
            architecture: goarch(std::env::consts::ARCH),
        }
    }

    /// Whether an image for `os`/`architecture` (OCI names) runs here.
    pub(crate) fn matches(&self, os: &str, architecture: &str) -> bool {
        self.os == os && self.architecture == architecture
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)
    }
}

/// Go's name for Rust's architecture `arch`; names they share pass through.
fn goarch(arch: &'static str) -> &'static str {
    match arch {
        "x86_64" => "amd64",
        "x86" => "386",
        "aarch64" => "arm64",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        "powerpc64" => "ppc64",
        "loongarch64" => "loong64",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn architectures_get_their_go_names() {
        assert_eq!(goarch("x86_64"), "amd64");
        assert_eq!(goarch("aarch64"), "arm64");
        assert_eq!(goarch("arm"), "arm");
        assert_eq!(goarch("s390x"), "s390x");
        assert_eq!(goarch("riscv64"), "riscv64");
        let host = Platform::host();
        assert_eq!(host.os, "linux");
        assert!(host.matches("linux", host.architecture));
        assert!(!host.matches("windows", host.architecture));
    }
}
