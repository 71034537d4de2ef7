//! The builder's one error type. Each variant names the action that failed and the object it
//! failed on; the underlying cause is the `#[source]`, never repeated in the message, so `main`
//! can print the chain once, joined by `": "`.

use std::path::PathBuf;
use std::process::ExitStatus;

/// Everything that can make a build fail.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// The path of the running executable is unknown, so `pause` cannot be looked up next to it.
    #[error("finding the path of the images executable")]
    CurrentExe {
        #[source]
        source: std::io::Error,
    },

    /// The `pause` binary is not where it was looked for, and could not be built.
    #[error("pause binary not found at {}: build it with `{command}` or pass --pause PATH", path.display())]
    PauseMissing { path: PathBuf, command: String },

    /// Cargo could not be started to build `pause`.
    /// `--pause PLATFORM=PATH`, or the release build for PLATFORM, is built for another one.
    #[error(
        "checking {}: it is a {built_for} executable, not a {platform} one",
        path.display()
    )]
    WrongArchitecture {
        path: PathBuf,
        built_for: String,
        platform: String,
    },

    /// Two `--pause` binaries are for the same platform.
    #[error(
        "two pause binaries for {platform}: {} and {}; give one per platform",
        first.display(),
        second.display()
    )]
    TwoPauses {
        platform: String,
        first: PathBuf,
        second: PathBuf,
    },

    /// A `--pause` binary is for a platform that `--platform` leaves out.
    #[error(
        "--pause {} is a {platform} executable, and --platform lists only {wanted}",
        path.display()
    )]
    PauseNotWanted {
        path: PathBuf,
        platform: String,
        wanted: String,
    },

    /// `--platform` names a platform that `images` cannot build pause for, and no `--pause`
    /// gives one.
    #[error(
        "no pause for {platform}: images builds pause for {buildable}; pass --pause \
         {platform}=PATH for another platform"
    )]
    NoPauseFor { platform: String, buildable: String },

    #[error("starting `{command}` in {}", dir.display())]
    SpawnCargo {
        command: String,
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// Cargo ran but failed to build `pause`.
    #[error("building pause with `{command}` in {} failed ({status})", dir.display())]
    CargoFailed {
        command: String,
        dir: PathBuf,
        status: ExitStatus,
    },

    /// A file to package could not be read.
    #[error("reading {}", path.display())]
    ReadFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A file to package is not an ELF executable for an architecture images can name.
    #[error("checking {}", path.display())]
    NotExecutable {
        path: PathBuf,
        #[source]
        source: sandbox::binary::ParseError,
    },

    /// A file to package needs a dynamic loader, which the image does not have.
    #[error(
        "checking {}: dynamically linked: it has a PT_INTERP program header naming {}, and the \
         image has no dynamic loader; build it for a *-linux-musl target",
        path.display(),
        interpreter.display()
    )]
    DynamicExecutable { path: PathBuf, interpreter: PathBuf },

    /// The definition file could not be read.
    #[error("definition {}: reading it", path.display())]
    ReadDefinition {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The definition file is not a definition: malformed JSON, an unknown field or a value of
    /// the wrong type. The source says what and where (line and column).
    #[error("definition {}", path.display())]
    ParseDefinition {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },

    /// The definition is well-formed JSON but describes no image that can be built; `problem`
    /// says what and where (`layers[0].entries[2] "bin/sh": ...`).
    #[error("definition {}: {problem}", path.display())]
    InvalidDefinition { path: PathBuf, problem: String },

    /// A file entry's `source` could not be read.
    #[error("definition {}: {location}: reading source {}", path.display(), source_path.display())]
    ReadSource {
        path: PathBuf,
        location: String,
        source_path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// `SOURCE_DATE_EPOCH` is past the last second RFC 3339 can write.
    #[error(
        "SOURCE_DATE_EPOCH {epoch} is after 9999-12-31T23:59:59Z ({max}), the last second an RFC \
         3339 `created` field can hold"
    )]
    EpochOutOfRange { epoch: u64, max: u64 },

    /// The tag or repository would give an image name that tools reject.
    #[error("invalid {what} {value:?}: {rule}")]
    InvalidName {
        what: &'static str,
        value: String,
        rule: &'static str,
    },

    /// `oci-spec` refused to build one of the image's documents.
    #[error("building the image {what}")]
    Spec {
        what: &'static str,
        #[source]
        source: oci_spec::OciSpecError,
    },

    /// A document could not be serialised as JSON.
    #[error("serialising the {what} as canonical JSON")]
    Json {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },

    /// A layer entry could not be added to the layer's tar stream.
    #[error("adding {path} to the layer tar")]
    LayerEntry {
        path: String,
        #[source]
        source: std::io::Error,
    },

    /// The layer could not be compressed.
    #[error("compressing the layer with gzip")]
    Compress {
        #[source]
        source: std::io::Error,
    },

    /// A directory of the output could not be created.
    #[error("creating directory {}", path.display())]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A blob could not be written into the layout.
    #[error("writing blob {digest} to {}", dir.display())]
    WriteBlob {
        digest: String,
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A file of the layout (`oci-layout`, `index.json`) or the archive could not be written.
    #[error("writing {}", path.display())]
    WriteFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// An entry could not be added to the `oci-archive` tarball.
    #[error("adding {entry} to the archive {}", path.display())]
    ArchiveEntry {
        entry: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The builder's result type.
pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;
