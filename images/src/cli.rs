//! Command-line arguments (clap types only; help text comes from the doc comments).

use std::path::PathBuf;

use clap::Parser;

use crate::binary::PauseArg;
use crate::definition::Platform;

/// Builds an OCI image reproducibly: the pod infrastructure image holding the static `pause`
/// binary, one manifest per platform under one image index (linux/amd64 and linux/arm64), or the
/// image a definition file describes. The same inputs and SOURCE_DATE_EPOCH give the same blobs
/// and digests, byte for byte.
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
    #[arg(long, value_name = "FILE.json", conflicts_with_all = ["pause", "platform"])]
    pub definition: Option<PathBuf>,

    /// Platforms of the pause image, comma-separated or repeated (linux/amd64, linux/arm64)
    /// [default: the platforms of the --pause binaries if any are given, else linux/amd64 and
    /// linux/arm64]
    #[arg(
        long,
        value_name = "OS/ARCH",
        value_delimiter = ',',
        value_parser = Platform::parse
    )]
    pub platform: Vec<Platform>,

    /// Tag of the image: its org.opencontainers.image.ref.name (so `oci:DIR:TAG` finds it)
    /// [default: the pause version for the pause image, `latest` for a definition]
    #[arg(long)]
    pub tag: Option<String>,

    /// Repository, with a registry host; the image's full name (io.containerd.image.name, the
    /// name podman and ctr import it under) is REPOSITORY:TAG [default: localhost/pause, or the
    /// definition's `repository`]
    #[arg(long)]
    pub repository: Option<String>,

    /// A static pause binary to package, for the platform its ELF header names, or for PLATFORM,
    /// which it must then be built for; repeat it for each platform [default: the release build
    /// of each platform's Rust target in the target directory next to this program
    /// (target/aarch64-unknown-linux-musl/release/pause for linux/arm64), built first when run by
    /// `cargo run`]
    #[arg(long, value_name = "[PLATFORM=]PATH", value_parser = PauseArg::parse)]
    pub pause: Vec<PauseArg>,

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
        assert!(args.archive.is_none() && args.pause.is_empty() && args.definition.is_none());
        assert!(args.platform.is_empty());
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
        let platform = [
            "images",
            "--out",
            "d",
            "--definition",
            "f.json",
            "--platform",
            "linux/arm64",
        ];
        assert!(Args::try_parse_from(platform).is_err());
        let args =
            Args::try_parse_from(["images", "--out", "d", "--definition", "f.json"]).unwrap();
        assert_eq!(args.definition.unwrap(), PathBuf::from("f.json"));
    }

    #[test]
    fn platforms_are_a_comma_separated_or_repeated_list() {
        let args = Args::try_parse_from([
            "images",
            "--out",
            "d",
            "--platform",
            "linux/amd64,linux/arm64",
            "--platform=linux/arm/v7",
        ])
        .unwrap();
        let platforms: Vec<String> = args.platform.iter().map(Platform::to_string).collect();
        assert_eq!(platforms, ["linux/amd64", "linux/arm64", "linux/arm/v7"]);
        let error = Args::try_parse_from(["images", "--out", "d", "--platform", "linux/vax"])
            .unwrap_err()
            .to_string();
        assert!(error.contains("unknown architecture \"vax\""), "{error}");
    }

    #[test]
    fn a_pause_may_name_its_platform() {
        let args = Args::try_parse_from([
            "images",
            "--out",
            "d",
            "--pause",
            "linux/arm64=target/arm/pause",
            "--pause",
            "/tmp/x=y/pause",
            "--pause",
            "plain",
        ])
        .unwrap();
        let arm64 = &args.pause[0];
        assert_eq!(arm64.platform.as_ref().unwrap().to_string(), "linux/arm64");
        assert_eq!(arm64.path, PathBuf::from("target/arm/pause"));
        // A prefix that is not a platform leaves the whole text a path.
        assert_eq!(args.pause[1].platform, None);
        assert_eq!(args.pause[1].path, PathBuf::from("/tmp/x=y/pause"));
        assert_eq!(args.pause[2].path, PathBuf::from("plain"));
        assert!(Args::try_parse_from(["images", "--out", "d", "--pause", "linux/arm64="]).is_err());
    }
}
