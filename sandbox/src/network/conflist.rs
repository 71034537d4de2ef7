//! Network configuration lists (`.conflist`): finding one by name or path, checking it, the
//! built-in `bridge`, and each plugin's configuration as it is executed (the list's name and
//! version, `prevResult`, and `runtimeConfig` for the capabilities the plugin asks for).

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use super::ports::PortMapping;
use crate::error::{Context, Error, Result};

/// The CNI versions whose lists are run: those where DEL gets the ADD result (`prevResult`)
/// and results have the same shape.
pub const SUPPORTED_VERSIONS: &[&str] = &["0.4.0", "1.0.0"];

/// The name of the built-in network, used when no list in the config directory has that name.
pub const BUILTIN_NAME: &str = "bridge";

/// Where host-local keeps its reservations when a list does not say (`ipam.dataDir`).
const HOST_LOCAL_DEFAULT_DIR: &str = "/var/lib/cni/networks";

/// A checked network configuration list.
#[derive(Clone, Debug)]
pub struct Conflist {
    name: String,
    version: String,
    source: PathBuf,
    raw: Map<String, Value>,
    plugins: Vec<Map<String, Value>>,
}

impl Conflist {
    /// Parses and checks the list in `bytes`, read from `source`.
    pub fn parse(bytes: &[u8], source: &Path) -> Result<Conflist> {
        let value: Value = serde_json::from_slice(bytes).map_err(|e| Error::NetworkConfig {
            path: source.to_owned(),
            reason: format!("not JSON: {e}"),
        })?;
        Conflist::from_value(value, source)
    }

    /// Checks a list already parsed (one a pod's record kept).
    pub fn from_value(value: Value, source: &Path) -> Result<Conflist> {
        let invalid = |reason: String| Error::NetworkConfig {
            path: source.to_owned(),
            reason,
        };
        let Value::Object(raw) = value else {
            return Err(invalid("not a JSON object".to_owned()));
        };
        let name = match raw.get("name") {
            Some(Value::String(name)) if valid_network_name(name) => name.clone(),
            Some(Value::String(name)) => {
                return Err(invalid(format!(
                    "\"name\" {name:?} is not a network name (letters, digits, '_', '.', '-', \
                     starting with a letter or digit)"
                )));
            }
            _ => return Err(invalid("\"name\" is missing or not a string".to_owned())),
        };
        let version = match raw.get("cniVersion") {
            Some(Value::String(version)) if SUPPORTED_VERSIONS.contains(&version.as_str()) => {
                version.clone()
            }
            Some(Value::String(version)) => {
                return Err(invalid(format!(
                    "\"cniVersion\" {version:?} is not supported: lists of CNI {} are",
                    SUPPORTED_VERSIONS.join(" and ")
                )));
            }
            _ => {
                return Err(invalid(
                    "\"cniVersion\" is missing or not a string".to_owned(),
                ));
            }
        };
        let plugins = match raw.get("plugins") {
            Some(Value::Array(plugins)) if !plugins.is_empty() => plugins,
            _ => {
                return Err(invalid(
                    "\"plugins\" is missing or empty (a .conflist lists its plugins; a \
                     single-plugin .conf is not read)"
                        .to_owned(),
                ));
            }
        };
        let plugins = plugins
            .iter()
            .enumerate()
            .map(|(index, plugin)| match plugin {
                Value::Object(plugin) => match plugin.get("type") {
                    Some(Value::String(kind)) if valid_plugin_type(kind) => Ok(plugin.clone()),
                    _ => Err(invalid(format!(
                        "plugins[{index}]: \"type\" is missing or not a plugin's file name"
                    ))),
                },
                _ => Err(invalid(format!("plugins[{index}] is not an object"))),
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Conflist {
            name,
            version,
            source: source.to_owned(),
            raw,
            plugins,
        })
    }

    /// The network's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its CNI version.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The file it was read from.
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// The whole list, as read.
    pub fn to_value(&self) -> Value {
        Value::Object(self.raw.clone())
    }

    /// The plugins' types (their executables' names), in order.
    pub fn plugin_types(&self) -> Vec<&str> {
        self.plugins
            .iter()
            .map(|plugin| plugin["type"].as_str().unwrap_or_default())
            .collect()
    }

    /// Whether a plugin of the list takes published ports (the `portMappings` capability).
    pub fn takes_ports(&self) -> bool {
        self.plugins
            .iter()
            .any(|plugin| has_capability(plugin, "portMappings"))
    }

    /// The configuration plugin `index` gets on stdin: its own object with the list's name and
    /// version, the result so far as `prevResult`, and `runtimeConfig.portMappings` if it asks
    /// for that capability (as libcni injects it).
    pub fn plugin_config(
        &self,
        index: usize,
        prev_result: Option<&Value>,
        ports: &[PortMapping],
    ) -> Value {
        let mut config = self.plugins[index].clone();
        config.insert("name".to_owned(), json!(self.name));
        config.insert("cniVersion".to_owned(), json!(self.version));
        if let Some(prev) = prev_result {
            config.insert("prevResult".to_owned(), prev.clone());
        }
        if has_capability(&self.plugins[index], "portMappings") {
            config.insert("runtimeConfig".to_owned(), json!({ "portMappings": ports }));
        }
        Value::Object(config)
    }

    /// The directories where host-local plugins of this list keep its reservations
    /// (`<dataDir>/<network name>`), one file per address.
    pub fn host_local_dirs(&self) -> Vec<PathBuf> {
        self.plugins
            .iter()
            .filter_map(|plugin| plugin.get("ipam"))
            .filter(|ipam| ipam["type"] == "host-local")
            .map(|ipam| {
                let data_dir = ipam["dataDir"].as_str().unwrap_or(HOST_LOCAL_DEFAULT_DIR);
                Path::new(data_dir).join(&self.name)
            })
            .collect()
    }
}

/// Finds the network `spec`: a path to a `.conflist` if it has a '/' (recorded absolute), else
/// the list named so in `config_dir` (its `*.conflist` files in name order, as libcni looks);
/// [`Error::NetworkNotFound`] if none is (the caller may then supply [`builtin`]).
pub fn find(spec: &str, config_dir: &Path) -> Result<Conflist> {
    if spec.contains('/') {
        let path = std::path::absolute(spec)
            .context(|| format!("finding network configuration {spec}"))?;
        let bytes = std::fs::read(&path)
            .context(|| format!("reading network configuration {}", path.display()))?;
        return Conflist::parse(&bytes, &path);
    }
    let mut unreadable = Vec::new();
    for path in conflist_files(config_dir)? {
        let found = std::fs::read(&path)
            .context(|| format!("reading {}", path.display()))
            .and_then(|bytes| Conflist::parse(&bytes, &path));
        match found {
            Ok(conflist) if conflist.name == spec => return Ok(conflist),
            Ok(_) => {}
            Err(error) => unreadable.push(crate::error_chain(&error)),
        }
    }
    Err(Error::NetworkNotFound {
        name: spec.to_owned(),
        config_dir: config_dir.to_owned(),
        unreadable,
    })
}

/// The `*.conflist` files of `dir`, sorted; none if it does not exist.
pub fn conflist_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).context(|| format!("listing {}", dir.display())),
    };
    let mut files = Vec::new();
    for entry in entries {
        let path = entry
            .context(|| format!("listing {}", dir.display()))?
            .path();
        if path.extension().is_some_and(|ext| ext == "conflist") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// The name of the built-in network's file in its directory.
pub const BUILTIN_FILE: &str = "bridge.conflist";

/// The built-in network of a state root whose networking files are in `dir`: a bridge
/// `sandbox0` that is the pods' gateway and masquerades their traffic, host-local addresses
/// from 10.89.0.0/24 kept under `dir`, published ports (portmap) and forwarding allowed
/// (firewall).
pub fn builtin(dir: &Path) -> Value {
    json!({
        "cniVersion": "1.0.0",
        "name": BUILTIN_NAME,
        "plugins": [
            {
                "type": "bridge",
                "bridge": "sandbox0",
                "isGateway": true,
                "ipMasq": true,
                "hairpinMode": true,
                "ipam": {
                    "type": "host-local",
                    "dataDir": dir.join("ipam"),
                    "ranges": [[{ "subnet": "10.89.0.0/24" }]],
                    "routes": [{ "dst": "0.0.0.0/0" }]
                }
            },
            { "type": "portmap", "capabilities": { "portMappings": true }, "snat": true },
            { "type": "firewall", "backend": "iptables" }
        ]
    })
}

fn has_capability(plugin: &Map<String, Value>, capability: &str) -> bool {
    plugin
        .get("capabilities")
        .and_then(|capabilities| capabilities.get(capability))
        == Some(&Value::Bool(true))
}

/// A network name as libcni accepts it.
fn valid_network_name(name: &str) -> bool {
    name.bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// A plugin type names a file in a plugin directory, never a path.
fn valid_plugin_type(kind: &str) -> bool {
    !kind.is_empty() && !kind.contains('/') && kind != "." && kind != ".."
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(value: Value) -> Result<Conflist> {
        Conflist::from_value(value, Path::new("t.conflist"))
    }

    #[test]
    fn the_builtin_network_is_a_valid_list_with_ports() {
        let list = parse(builtin(Path::new("/run/sandbox/.cni"))).unwrap();
        assert_eq!(list.plugin_types(), ["bridge", "portmap", "firewall"]);
        assert!(list.takes_ports());
        assert_eq!(
            list.host_local_dirs(),
            [PathBuf::from("/run/sandbox/.cni/ipam/bridge")]
        );
    }

    #[test]
    fn a_plugin_gets_the_list_name_version_previous_result_and_its_capabilities() {
        let list = parse(builtin(Path::new("/x"))).unwrap();
        let ports = [PortMapping::parse("8080:80").unwrap()];
        let prev = json!({"ips": []});
        let bridge = list.plugin_config(0, None, &ports);
        assert_eq!(bridge["name"], "bridge");
        assert_eq!(bridge["cniVersion"], "1.0.0");
        assert!(bridge.get("prevResult").is_none() && bridge.get("runtimeConfig").is_none());
        let portmap = list.plugin_config(1, Some(&prev), &ports);
        assert_eq!(portmap["prevResult"], prev);
        assert_eq!(
            portmap["runtimeConfig"]["portMappings"][0]["hostPort"],
            8080
        );
    }

    #[test]
    fn bad_lists_are_refused_with_the_reason() {
        let cases = [
            (json!([]), "not a JSON object"),
            (
                json!({"cniVersion": "1.0.0", "plugins": [{"type": "x"}]}),
                "\"name\"",
            ),
            (
                json!({"name": "n", "cniVersion": "0.2.0", "plugins": [{"type": "x"}]}),
                "not supported",
            ),
            (
                json!({"name": "n", "cniVersion": "1.0.0", "plugins": []}),
                "\"plugins\"",
            ),
            (
                json!({"name": "n", "cniVersion": "1.0.0", "plugins": [{"type": "../x"}]}),
                "plugins[0]",
            ),
            (
                json!({"name": "-n", "cniVersion": "1.0.0", "plugins": [{"type": "x"}]}),
                "network name",
            ),
        ];
        for (value, expected) in cases {
            let error = parse(value.clone()).unwrap_err().to_string();
            assert!(error.contains(expected), "{value}: {error}");
            assert!(error.contains("t.conflist"), "{error}");
        }
    }
}
