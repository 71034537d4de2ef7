//! Command-line arguments (clap types only; help text comes from the doc comments).

use std::path::PathBuf;

use clap::Parser;

/// Builds an OCI image reproducibly: the pod infrastructure image holding the static `pause`
/// binary, or the image a definition file describes. The same inputs and SOURCE_DATE_EPOCH give
/// the same blobs and manifest digest, byte for byte.
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

    /// Build the image this JSON definition describes (layers of files, directories, symlinks
    /// and whiteouts, and a runtime config; see images/README.md) instead of the pause image
    #[arg(long, value_name = "FILE.json", conflicts_with = "pause")]
    pub definition: Option<PathBuf>,

    /// Tag of the image: its org.opencontainers.image.ref.name (so `oci:DIR:TAG` finds it)
    /// [default: the pause version for the pause image, `latest` for a definition]
    #[arg(long)]
    pub tag: Option<String>,

    /// Repository, with a registry host; the image's full name (io.containerd.image.name, the
    /// name podman and ctr import it under) is REPOSITORY:TAG [default: localhost/pause, or the
    /// definition's `repository`]
    #[arg(long)]
    pub repository: Option<String>,

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
    fn defaults_are_left_to_the_kind_of_image() {
        let args = Args::try_parse_from(["images", "--out", "dir"]).unwrap();
        assert!(args.tag.is_none() && args.repository.is_none());
        assert!(args.archive.is_none() && args.pause.is_none() && args.definition.is_none());
    }

    #[test]
    fn a_definition_excludes_pause() {
        let both = [
            "images",
            "--out",
            "d",
            "--definition",
            "f.json",
            "--pause",
            "p",
        ];
        assert!(Args::try_parse_from(both).is_err());
        let args =
            Args::try_parse_from(["images", "--out", "d", "--definition", "f.json"]).unwrap();
        assert_eq!(args.definition.unwrap(), PathBuf::from("f.json"));
    }
}
