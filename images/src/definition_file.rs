//! A definition file, the JSON that `images --definition FILE` builds: read, checked and turned
//! into a [`Definition`]. The format is documented, with an example, in `images/README.md`.
//!
//! Checking happens in two passes, so that every refusal says what is wrong and where:
//! - serde reads the JSON into the `Raw*` types below, which deny unknown fields; its errors carry
//!   the line and column;
//! - the conversion then checks what serde cannot: paths (relative, no `.`, `..` or empty
//!   components, no `.wh.` names, no duplicates within a layer, nothing inside a listed file),
//!   which fields each entry type takes, the platform, the repository and the config. Its errors
//!   name the place by JSON path and the entry by its path (`layers[0].entries[2] "bin/sh"`).
//!
//! A file entry's `source` is read whole, and only its bytes count: not its mode, owner, mtime or
//! name. A relative `source` is relative to the definition file's directory, so a definition
//! builds the same image from whatever directory `images` is run in.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use oci_spec::image::Config;
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use crate::definition::{Definition, Entry, EntryKind, Layer, Owner, Platform};
use crate::error::{Error, Result};
use crate::layer::WHITEOUT_PREFIX;
use crate::name;

/// Mode of a file entry that gives none.
const DEFAULT_FILE_MODE: u32 = 0o644;
/// Mode of a directory entry that gives none.
const DEFAULT_DIRECTORY_MODE: u32 = 0o755;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDefinition {
    /// `localhost/busybox`: a registry host, then the path.
    repository: String,
    /// `os/architecture[/variant]`; the host's when missing.
    platform: Option<String>,
    /// Lowest first.
    layers: Vec<RawLayer>,
    /// The runtime config; empty when missing.
    #[serde(default)]
    config: RawConfig,
}

/// One layer.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLayer {
    /// The history entry.
    created_by: String,
    /// What the layer holds.
    entries: Vec<RawEntry>,
}

/// One entry. Which of the optional fields an entry may have depends on its type, which serde
/// cannot express with one flat object and good errors, so the conversion checks it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    /// Relative path inside the image.
    path: String,
    /// What the entry is.
    #[serde(rename = "type")]
    kind: RawKind,
    /// file: a host path to copy the bytes of.
    source: Option<PathBuf>,
    /// file: the bytes, as UTF-8 text.
    contents: Option<String>,
    /// symlink: where it points.
    target: Option<String>,
    /// file, dir: permission bits, as an octal string.
    mode: Option<Mode>,
    /// file, dir, symlink: owner's user ID.
    uid: Option<u32>,
    /// file, dir, symlink: owner's group ID.
    gid: Option<u32>,
}

/// The `type` of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum RawKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink,
    /// Deletes a lower layer's entry.
    Whiteout,
    /// Hides a lower layer's directory contents.
    Opaque,
}

impl fmt::Display for RawKind {
    /// The name the file uses, with its article (`a dir`, `an opaque`), so errors quote what the
    /// user wrote.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RawKind::File => "a file",
            RawKind::Dir => "a dir",
            RawKind::Symlink => "a symlink",
            RawKind::Whiteout => "a whiteout",
            RawKind::Opaque => "an opaque",
        })
    }
}

/// The image config's runtime fields, spelt as in the OCI image config. Fields left out are
/// left out of the image.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
struct RawConfig {
    /// `User`.
    user: Option<String>,
    /// `Env`, each `NAME=VALUE`.
    env: Option<Vec<String>>,
    /// `Entrypoint`.
    entrypoint: Option<Vec<String>>,
    /// `Cmd`.
    cmd: Option<Vec<String>>,
    /// `WorkingDir`, absolute.
    working_dir: Option<String>,
    /// `Labels`.
    labels: Option<BTreeMap<String, String>>,
    /// `StopSignal`.
    stop_signal: Option<String>,
}

/// Permission bits written as an octal string of 3 or 4 digits (`"0755"`, `"1777"`, `"644"`).
/// A JSON number is refused: `755` would be read as decimal by every other tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Mode(u32);

impl<'de> Deserialize<'de> for Mode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Mode, D::Error> {
        /// Accepts a string of octal digits only.
        struct ModeVisitor;

        impl Visitor<'_> for ModeVisitor {
            type Value = Mode;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#"a mode as an octal string of 3 or 4 digits, such as "0755""#)
            }

            fn visit_str<E: de::Error>(self, text: &str) -> std::result::Result<Mode, E> {
                let digits = (3..=4).contains(&text.len())
                    && text.bytes().all(|byte| (b'0'..=b'7').contains(&byte));
                digits
                    .then(|| u32::from_str_radix(text, 8).ok())
                    .flatten()
                    .map(Mode)
                    .ok_or_else(|| E::invalid_value(de::Unexpected::Str(text), &self))
            }
        }

        deserializer.deserialize_str(ModeVisitor)
    }
}

/// Reads and checks the definition file at `path`.
pub(crate) fn read(path: &Path) -> Result<Definition> {
    let bytes = std::fs::read(path).map_err(|source| Error::ReadDefinition {
        path: path.to_owned(),
        source,
    })?;
    from_json(&bytes, path)
}

/// Checks the definition `bytes` that were read from `path`: `path` names the file in errors,
/// and relative `source` paths are relative to its directory.
pub(crate) fn from_json(bytes: &[u8], path: &Path) -> Result<Definition> {
    let raw: RawDefinition =
        serde_json::from_slice(bytes).map_err(|source| Error::ParseDefinition {
            path: path.to_owned(),
            source,
        })?;
    let invalid = |problem: String| Error::InvalidDefinition {
        path: path.to_owned(),
        problem,
    };
    name::check_repository(&raw.repository).map_err(|error| invalid(error.to_string()))?;
    let platform = match &raw.platform {
        None => Platform::host(),
        Some(text) => Platform::parse(text)
            .map_err(|problem| invalid(format!("platform {text:?}: {problem}")))?,
    };
    if raw.layers.is_empty() {
        return Err(invalid(
            "layers: an image needs at least one layer".to_owned(),
        ));
    }
    let sources = path.parent().unwrap_or(Path::new(""));
    let layers = raw
        .layers
        .into_iter()
        .enumerate()
        .map(|(index, layer)| convert_layer(index, layer, sources, path))
        .collect::<Result<Vec<_>>>()?;
    let config = convert_config(raw.config).map_err(invalid)?;
    Ok(Definition {
        repository: raw.repository,
        platform,
        layers,
        config,
    })
}

/// Checks layer `index` and reads its sources (relative ones from `sources`); `path` is the
/// definition's, for errors.
fn convert_layer(index: usize, raw: RawLayer, sources: &Path, path: &Path) -> Result<Layer> {
    let invalid = |problem: String| Error::InvalidDefinition {
        path: path.to_owned(),
        problem,
    };
    if raw.entries.is_empty() {
        return Err(invalid(format!(
            "layers[{index}].entries: a layer needs at least one entry"
        )));
    }
    let location = |entry: usize| {
        format!(
            "layers[{index}].entries[{entry}] {:?}",
            raw.entries[entry].path
        )
    };

    // Each path once, except that a directory can be both listed and made opaque.
    let mut listed: HashMap<&str, (usize, RawKind)> = HashMap::new();
    for (number, entry) in raw.entries.iter().enumerate() {
        check_path(&entry.path)
            .map_err(|problem| invalid(format!("{}: {problem}", location(number))))?;
        if let Some(&(first, kind)) = listed.get(entry.path.as_str()) {
            let pair = [kind, entry.kind];
            if pair != [RawKind::Dir, RawKind::Opaque] && pair != [RawKind::Opaque, RawKind::Dir] {
                return Err(invalid(format!(
                    "{}: path already listed as entries[{first}] ({kind}); a path appears once \
                     per layer, except a dir that is also opaque",
                    location(number)
                )));
            }
        }
        listed.insert(&entry.path, (number, entry.kind));
    }
    // Nothing inside what is not a directory in this layer.
    for (number, entry) in raw.entries.iter().enumerate() {
        for (slash, _) in entry.path.match_indices('/') {
            let ancestor = &entry.path[..slash];
            if let Some(&(outer, kind)) = listed.get(ancestor)
                && !matches!(kind, RawKind::Dir | RawKind::Opaque)
            {
                return Err(invalid(format!(
                    "{}: inside entries[{outer}] {ancestor:?}, which is {kind}, not a dir",
                    location(number)
                )));
            }
        }
    }

    let mut entries = Vec::with_capacity(raw.entries.len());
    for (number, entry) in raw.entries.iter().enumerate() {
        let kind = convert_entry(entry, sources).map_err(|failure| match failure {
            EntryFailure::Invalid(problem) => invalid(format!("{}: {problem}", location(number))),
            EntryFailure::Source(source_path, source) => Error::ReadSource {
                path: path.to_owned(),
                location: location(number),
                source_path,
                source,
            },
        })?;
        entries.push(Entry {
            path: entry.path.clone(),
            kind,
        });
    }
    Ok(Layer {
        created_by: raw.created_by,
        entries,
    })
}

/// Why an entry cannot be built.
enum EntryFailure {
    /// Its fields do not fit its type.
    Invalid(String),
    /// Its `source` (resolved) could not be read.
    Source(PathBuf, std::io::Error),
}

/// The entry `raw` describes, with its fields checked against its type and its source read.
fn convert_entry(raw: &RawEntry, sources: &Path) -> std::result::Result<EntryKind, EntryFailure> {
    let kind = raw.kind;
    let given = [
        ("source", raw.source.is_some()),
        ("contents", raw.contents.is_some()),
        ("target", raw.target.is_some()),
        ("mode", raw.mode.is_some()),
        ("uid", raw.uid.is_some()),
        ("gid", raw.gid.is_some()),
    ];
    let takes: &[&str] = match kind {
        RawKind::File => &["source", "contents", "mode", "uid", "gid"],
        RawKind::Dir => &["mode", "uid", "gid"],
        RawKind::Symlink => &["target", "uid", "gid"],
        RawKind::Whiteout | RawKind::Opaque => &[],
    };
    if let Some((field, _)) = given
        .iter()
        .find(|(field, is)| *is && !takes.contains(field))
    {
        return Err(EntryFailure::Invalid(format!(
            "{kind} takes no {field:?} (it takes {})",
            if takes.is_empty() {
                "only \"path\"".to_owned()
            } else {
                takes
                    .iter()
                    .map(|field| format!("{field:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        )));
    }
    let owner = Owner {
        uid: raw.uid.unwrap_or(0),
        gid: raw.gid.unwrap_or(0),
    };
    Ok(match kind {
        RawKind::File => {
            let contents = match (&raw.source, &raw.contents) {
                (Some(source), None) => {
                    let source = sources.join(source);
                    std::fs::read(&source).map_err(|error| EntryFailure::Source(source, error))?
                }
                (None, Some(contents)) => contents.clone().into_bytes(),
                (Some(_), Some(_)) => {
                    return Err(EntryFailure::Invalid(
                        "a file takes \"source\" or \"contents\", not both".to_owned(),
                    ));
                }
                (None, None) => {
                    return Err(EntryFailure::Invalid(
                        "a file needs \"source\" (a host path) or \"contents\" (text)".to_owned(),
                    ));
                }
            };
            EntryKind::File {
                mode: raw.mode.map_or(DEFAULT_FILE_MODE, |mode| mode.0),
                owner,
                contents,
            }
        }
        RawKind::Dir => EntryKind::Directory {
            mode: raw.mode.map_or(DEFAULT_DIRECTORY_MODE, |mode| mode.0),
            owner,
        },
        RawKind::Symlink => match &raw.target {
            Some(target) if !target.is_empty() && !target.contains('\0') => EntryKind::Symlink {
                target: target.clone(),
                owner,
            },
            Some(_) => {
                return Err(EntryFailure::Invalid(
                    "\"target\" must be a non-empty path without NUL bytes".to_owned(),
                ));
            }
            None => {
                return Err(EntryFailure::Invalid(
                    "a symlink needs \"target\"".to_owned(),
                ));
            }
        },
        RawKind::Whiteout => EntryKind::Whiteout,
        RawKind::Opaque => EntryKind::Opaque,
    })
}

/// Checks that `path` names a place inside the image the same way on every reader: relative,
/// made of plain names, and not a whiteout's name.
fn check_path(path: &str) -> std::result::Result<(), String> {
    if path.is_empty() {
        return Err("path is empty".to_owned());
    }
    if path.starts_with('/') {
        return Err(
            "path is absolute: paths are relative to the image's root (\"bin/sh\" for /bin/sh)"
                .to_owned(),
        );
    }
    if path.contains('\0') {
        return Err("path contains a NUL byte".to_owned());
    }
    for component in path.split('/') {
        match component {
            "" => return Err("path has an empty component (a doubled or trailing '/')".to_owned()),
            "." => return Err("path has a \".\" component".to_owned()),
            ".." => return Err("path has a \"..\" component".to_owned()),
            name if name.starts_with(WHITEOUT_PREFIX) => {
                return Err(format!(
                    "{name:?}: names starting with {WHITEOUT_PREFIX:?} are whiteouts in a layer; \
                     use \"type\": \"whiteout\" or \"opaque\""
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// The OCI runtime config of `raw`, with `Env` and `WorkingDir` checked.
fn convert_config(raw: RawConfig) -> std::result::Result<Config, String> {
    for (number, variable) in raw.env.iter().flatten().enumerate() {
        if variable
            .split_once('=')
            .is_none_or(|(name, _)| name.is_empty())
        {
            return Err(format!("config.Env[{number}] {variable:?}: not NAME=VALUE"));
        }
    }
    if let Some(dir) = &raw.working_dir
        && !dir.starts_with('/')
    {
        return Err(format!(
            "config.WorkingDir {dir:?}: not an absolute path (runtimes need one)"
        ));
    }
    let mut config = Config::default();
    config.set_user(raw.user);
    config.set_env(raw.env);
    config.set_entrypoint(raw.entrypoint);
    config.set_cmd(raw.cmd);
    config.set_working_dir(raw.working_dir);
    config.set_labels(raw.labels.map(|labels| labels.into_iter().collect()));
    config.set_stop_signal(raw.stop_signal);
    Ok(config)
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use serde_json::{Value, json};

    use super::*;

    /// The README's example, with its `source` replaced by `contents` where no file is needed.
    fn example() -> Value {
        json!({
            "repository": "localhost/busybox",
            "platform": "linux/amd64",
            "layers": [{
                "created_by": "busybox and applets",
                "entries": [
                    {"path": "bin/busybox", "type": "file", "contents": "\u{7f}ELF",
                     "mode": "0755"},
                    {"path": "etc/passwd", "type": "file",
                     "contents": "root:x:0:0:root:/root:/bin/sh\n"},
                    {"path": "bin/sh", "type": "symlink", "target": "busybox"},
                    {"path": "tmp", "type": "dir", "mode": "1777"},
                    {"path": "home/app", "type": "dir", "uid": 1000, "gid": 1000},
                    {"path": "etc/motd", "type": "whiteout"},
                    {"path": "var/cache", "type": "opaque"}
                ]
            }],
            "config": {
                "Entrypoint": [], "Cmd": ["sh"], "Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
                "WorkingDir": "/", "User": "app", "StopSignal": "SIGQUIT", "Labels": {}
            }
        })
    }

    fn parse(definition: &Value) -> Result<Definition> {
        from_json(
            &serde_json::to_vec(definition).unwrap(),
            Path::new("/defs/image.json"),
        )
    }

    /// The error as `main` prints it: the whole chain, joined by ": ".
    fn refusal(definition: &Value) -> String {
        sandbox::error_chain(&parse(definition).unwrap_err())
    }

    #[test]
    fn the_example_is_read_with_its_defaults() {
        let definition = parse(&example()).unwrap();
        assert_eq!(definition.repository, "localhost/busybox");
        assert_eq!(definition.platform, Platform::linux_amd64());
        assert_eq!(definition.layers.len(), 1);
        let layer = &definition.layers[0];
        assert_eq!(layer.created_by, "busybox and applets");
        let root = Owner::default();
        let kinds: Vec<(&str, &EntryKind)> = layer
            .entries
            .iter()
            .map(|entry| (entry.path.as_str(), &entry.kind))
            .collect();
        assert_eq!(
            kinds,
            [
                (
                    "bin/busybox",
                    &EntryKind::File {
                        mode: 0o755,
                        owner: root,
                        contents: b"\x7fELF".to_vec()
                    }
                ),
                (
                    "etc/passwd",
                    &EntryKind::File {
                        mode: 0o644,
                        owner: root,
                        contents: b"root:x:0:0:root:/root:/bin/sh\n".to_vec()
                    }
                ),
                (
                    "bin/sh",
                    &EntryKind::Symlink {
                        target: "busybox".to_owned(),
                        owner: root
                    }
                ),
                (
                    "tmp",
                    &EntryKind::Directory {
                        mode: 0o1777,
                        owner: root
                    }
                ),
                (
                    "home/app",
                    &EntryKind::Directory {
                        mode: 0o755,
                        owner: Owner {
                            uid: 1000,
                            gid: 1000
                        }
                    }
                ),
                ("etc/motd", &EntryKind::Whiteout),
                ("var/cache", &EntryKind::Opaque),
            ]
        );
        let config = &definition.config;
        assert_eq!(config.entrypoint().as_deref(), Some(&[][..]));
        assert_eq!(config.cmd().as_deref(), Some(&["sh".to_owned()][..]));
        assert_eq!(config.working_dir().as_deref(), Some("/"));
        assert_eq!(config.user().as_deref(), Some("app"));
        assert_eq!(config.stop_signal().as_deref(), Some("SIGQUIT"));
        assert_eq!(config.labels().as_ref().map(HashMap::len), Some(0));
        assert!(config.exposed_ports().is_none() && config.volumes().is_none());
    }

    #[test]
    fn the_readme_example_is_a_valid_definition() {
        let readme = include_str!("../README.md");
        let start = readme
            .find("### Format\n\n```json\n")
            .expect("README has a ### Format section with a JSON example")
            + "### Format\n\n```json\n".len();
        let length = readme[start..].find("```").unwrap();
        let mut definition: Value = serde_json::from_str(&readme[start..start + length]).unwrap();
        // The example copies /bin/busybox, which a unit test must not depend on.
        let entries = definition["layers"][0]["entries"].as_array_mut().unwrap();
        entries[0].as_object_mut().unwrap().remove("source");
        entries[0]["contents"] = json!("");
        let definition = parse(&definition).unwrap();
        assert_eq!(definition.layers.len(), 2);
        assert_eq!(definition.layers[1].entries[1].kind, EntryKind::Opaque);
    }

    #[test]
    fn platform_and_config_are_optional() {
        let mut definition = example();
        let object = definition.as_object_mut().unwrap();
        object.remove("platform");
        object.remove("config");
        let definition = parse(&definition).unwrap();
        assert_eq!(definition.platform, Platform::host());
        assert_eq!(definition.config, Config::default());
    }

    #[test]
    fn a_platform_can_name_a_variant() {
        let mut definition = example();
        definition["platform"] = json!("linux/arm/v7");
        let platform = parse(&definition).unwrap().platform;
        assert_eq!(platform.to_string(), "linux/arm/v7");
        assert_eq!(platform.architecture, oci_spec::image::Arch::ARM);
    }

    #[test]
    fn sources_are_read_relative_to_the_definition() {
        let dir = std::env::temp_dir().join(format!("images-definition-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("files")).unwrap();
        std::fs::write(dir.join("files/hello"), b"hello\n").unwrap();
        let mut definition = example();
        definition["layers"][0]["entries"] = json!([
            {"path": "hello", "type": "file", "source": "files/hello"},
            {"path": "absolute", "type": "file", "source": dir.join("files/hello")},
        ]);
        let file = dir.join("image.json");
        std::fs::write(&file, serde_json::to_vec(&definition).unwrap()).unwrap();
        let read = read(&file);
        std::fs::remove_dir_all(&dir).unwrap();
        for entry in &read.unwrap().layers[0].entries {
            let EntryKind::File { contents, .. } = &entry.kind else {
                panic!("{entry:?}");
            };
            assert_eq!(contents, b"hello\n", "{}", entry.path);
        }
    }

    #[test]
    fn a_directory_can_be_listed_and_made_opaque_in_one_layer() {
        let mut definition = example();
        definition["layers"][0]["entries"] = json!([
            {"path": "var/cache", "type": "opaque"},
            {"path": "var/cache", "type": "dir", "mode": "0700"},
            {"path": "var/cache/new", "type": "file", "contents": ""},
        ]);
        assert_eq!(parse(&definition).unwrap().layers[0].entries.len(), 3);
    }

    /// `example()` with entry 0 of layer 0 replaced by `entry`.
    fn with_entry(entry: Value) -> Value {
        let mut definition = example();
        definition["layers"][0]["entries"][0] = entry;
        definition
    }

    #[test]
    fn each_bad_definition_is_refused_naming_what_and_where() {
        let prefix = "definition /defs/image.json: ";
        let e0 = "layers[0].entries[0]";
        let mut cases: Vec<(Value, String)> = vec![
            (
                json!({"repository": "localhost/x"}),
                "missing field `layers`".to_owned(),
            ),
            (
                json!({"repository": "localhost/x", "layers": [], "extra": 1}),
                "unknown field `extra`".to_owned(),
            ),
            (
                json!({"repository": "localhost/x", "layers": []}),
                "layers: an image needs at least one layer".to_owned(),
            ),
            (
                json!({"repository": "localhost/x", "layers": [{"created_by": "", "entries": []}]}),
                "layers[0].entries: a layer needs at least one entry".to_owned(),
            ),
            (
                json!({"repository": "busybox", "layers": []}),
                "invalid repository \"busybox\": it must start with a registry host".to_owned(),
            ),
            (
                with_entry(json!({"path": "a", "type": "file", "contents": "", "owner": 0})),
                "unknown field `owner`".to_owned(),
            ),
            (
                with_entry(json!({"path": "a", "type": "fifo"})),
                "unknown variant `fifo`, expected one of `file`, `dir`, `symlink`, `whiteout`, \
                 `opaque`"
                    .to_owned(),
            ),
            (
                with_entry(json!({"path": "a", "type": "dir", "mode": 755})),
                "invalid type: integer `755`, expected a mode as an octal string of 3 or 4 \
                 digits, such as \"0755\""
                    .to_owned(),
            ),
            (
                with_entry(json!({"path": "a", "type": "dir", "mode": "0789"})),
                "invalid value: string \"0789\", expected a mode".to_owned(),
            ),
            (
                with_entry(json!({"path": "a", "type": "dir", "mode": "17777"})),
                "invalid value: string \"17777\"".to_owned(),
            ),
            (
                with_entry(json!({"path": "a", "type": "dir", "uid": -1})),
                "invalid value: integer `-1`, expected u32".to_owned(),
            ),
            (
                with_entry(json!({"path": "/bin/x", "type": "dir"})),
                format!("{e0} \"/bin/x\": path is absolute"),
            ),
            (
                with_entry(json!({"path": "a/../b", "type": "dir"})),
                format!("{e0} \"a/../b\": path has a \"..\" component"),
            ),
            (
                with_entry(json!({"path": "a/./b", "type": "dir"})),
                format!("{e0} \"a/./b\": path has a \".\" component"),
            ),
            (
                with_entry(json!({"path": "a//b", "type": "dir"})),
                format!("{e0} \"a//b\": path has an empty component"),
            ),
            (
                with_entry(json!({"path": "a/", "type": "dir"})),
                format!("{e0} \"a/\": path has an empty component"),
            ),
            (
                with_entry(json!({"path": "", "type": "dir"})),
                format!("{e0} \"\": path is empty"),
            ),
            (
                with_entry(json!({"path": "etc/.wh.motd", "type": "file", "contents": ""})),
                format!("{e0} \"etc/.wh.motd\": \".wh.motd\": names starting with \".wh.\""),
            ),
            (
                with_entry(json!({"path": "a", "type": "file"})),
                format!("{e0} \"a\": a file needs \"source\" (a host path) or \"contents\""),
            ),
            (
                with_entry(json!({"path": "a", "type": "file", "contents": "", "source": "/x"})),
                format!("{e0} \"a\": a file takes \"source\" or \"contents\", not both"),
            ),
            (
                with_entry(json!({"path": "a", "type": "symlink", "target": "b", "mode": "0777"})),
                format!(
                    "{e0} \"a\": a symlink takes no \"mode\" (it takes \"target\", \"uid\", \
                     \"gid\")"
                ),
            ),
            (
                with_entry(json!({"path": "a", "type": "symlink"})),
                format!("{e0} \"a\": a symlink needs \"target\""),
            ),
            (
                with_entry(json!({"path": "a", "type": "symlink", "target": ""})),
                format!("{e0} \"a\": \"target\" must be a non-empty path"),
            ),
            (
                with_entry(json!({"path": "a", "type": "dir", "contents": "x"})),
                format!("{e0} \"a\": a dir takes no \"contents\""),
            ),
            (
                with_entry(json!({"path": "a", "type": "whiteout", "uid": 0})),
                format!("{e0} \"a\": a whiteout takes no \"uid\" (it takes only \"path\")"),
            ),
            (
                with_entry(json!({"path": "a", "type": "opaque", "mode": "0755"})),
                format!("{e0} \"a\": an opaque takes no \"mode\""),
            ),
            (
                with_entry(json!({"path": "etc/passwd", "type": "dir"})),
                "layers[0].entries[1] \"etc/passwd\": path already listed as entries[0] (a dir)"
                    .to_owned(),
            ),
            (
                with_entry(json!({"path": "etc/motd/x", "type": "dir"})),
                format!(
                    "{e0} \"etc/motd/x\": inside entries[5] \"etc/motd\", which is a whiteout, \
                     not a dir"
                ),
            ),
            (
                with_entry(json!({"path": "a", "type": "file", "source": "/nonexistent/x"})),
                format!("{e0} \"a\": reading source /nonexistent/x: No such file or directory"),
            ),
        ];
        let mut bad_config = |field: &str, value: Value, expected: &str| {
            let mut definition = example();
            definition["config"][field] = value;
            cases.push((definition, expected.to_owned()));
        };
        bad_config("Cmnd", json!(["sh"]), "unknown field `Cmnd`");
        bad_config(
            "Env",
            json!(["A=1", "B"]),
            "config.Env[1] \"B\": not NAME=VALUE",
        );
        bad_config("Env", json!(["=1"]), "config.Env[0] \"=1\": not NAME=VALUE");
        bad_config(
            "WorkingDir",
            json!("app"),
            "config.WorkingDir \"app\": not an absolute path",
        );
        bad_config(
            "Cmd",
            json!("sh"),
            "invalid type: string \"sh\", expected a sequence",
        );
        for (platform, expected) in [
            (
                "linux",
                "expected OS/ARCHITECTURE or OS/ARCHITECTURE/VARIANT",
            ),
            (
                "linux/arm/",
                "expected OS/ARCHITECTURE or OS/ARCHITECTURE/VARIANT",
            ),
            (
                "windows/amd64",
                "images builds Linux images only (Linux whiteouts, numeric owners): the OS must \
                 be \"linux\", not \"windows\"",
            ),
            ("linux/amd46", "unknown architecture \"amd46\""),
            ("linux/armbe", "unknown architecture \"armbe\""),
        ] {
            let mut definition = example();
            definition["platform"] = json!(platform);
            cases.push((definition, format!("platform {platform:?}: {expected}")));
        }

        for (definition, expected) in cases {
            let refusal = refusal(&definition);
            assert!(
                refusal.starts_with(prefix) && refusal.contains(&expected),
                "expected {expected:?} in\n{refusal}\nfor {definition}"
            );
        }
    }

    #[test]
    fn json_errors_say_where() {
        let error = from_json(
            b"{\"repository\": \"localhost/x\",\n \"layer\": []}",
            Path::new("d"),
        )
        .unwrap_err();
        let cause = error.source().unwrap().to_string();
        assert_eq!(error.to_string(), "definition d");
        assert!(cause.contains("unknown field `layer`"), "{cause}");
        assert!(cause.ends_with("at line 2 column 8"), "{cause}");
    }
}
