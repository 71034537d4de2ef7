//! Command-line arguments (clap types only; help text comes from the doc comments).

use std::path::PathBuf;

use clap::Parser;

use crate::definition::PAUSE_REPOSITORY;

/// Builds the pod infrastructure OCI image holding the static `pause` binary, reproducibly:
/// the same pause and SOURCE_DATE_EPOCH give the same blobs and manifest digest, byte for byte.
#[derive(Debug, Parser)]
#[command(name = "images", version)]
pub(crate) struct Args {
    /// Directory to write the OCI image layout to (created if missing; its index.json is
    /// replaced)
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,

    /// Also write the image as an oci-archive tarball to this file
    #[arg(long, value_name = "FILE.tar")]
    pub archive: Option<PathBuf>,

    /// Tag of the image: its org.opencontainers.image.ref.name (so `oci:DIR:TAG` finds it)
    #[arg(long, default_value = env!("CARGO_PKG_VERSION"))]
    pub tag: String,

    /// Repository, with a registry host; the image's full name (io.containerd.image.name, the
    /// name podman and ctr import it under) is REPOSITORY:TAG
    #[arg(long, default_value = PAUSE_REPOSITORY)]
    pub repository: String,

    /// The static pause binary to package (default: `pause` in the release directory next to
    /// this program, built first when run by `cargo run`)
    #[arg(long, value_name = "PATH")]
    pub pause: Option<PathBuf>,

    /// Timestamp of every file, of the config and of the history entry, in seconds since 1970
    #[arg(
        long,
        env = "SOURCE_DATE_EPOCH",
        default_value_t = 0,
        value_name = "SECONDS"
    )]
    pub source_date_epoch: u64,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn cli_is_consistent() {
        Args::command().debug_assert();
    }

    #[test]
    fn defaults_name_the_image_after_the_pause_version() {
        let args = Args::try_parse_from(["images", "--out", "dir"]).unwrap();
        assert_eq!(args.tag, env!("CARGO_PKG_VERSION"));
        assert_eq!(args.repository, "localhost/pause");
        assert!(args.archive.is_none() && args.pause.is_none());
    }
}
