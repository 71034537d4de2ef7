//! Pod networking through CNI plugins, as libcni runs them: ADD runs a list's plugins in
//! order, each getting the result so far as `prevResult`; DEL runs them in reverse, each
//! getting the last ADD result; that result is kept with the pod (`PodRecord::network`), saved
//! after every plugin, so a DEL always has what ADD returned, even after a killed `create`.
//!
//! This module knows lists, plugins and results; when they run is the pod verbs' business
//! (`pod::network`): ADD once the namespaces are pinned, DEL before they are unpinned (the
//! bridge plugin finds what to un-masquerade on the pod's live interface).

mod conflist;
mod plugin;
mod ports;

use std::net::IpAddr;
use std::os::fd::BorrowedFd;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use self::conflist::{
    BUILTIN_NAME, Conflist, SUPPORTED_VERSIONS, builtin, conflist_files, find,
};
pub use self::plugin::Verb;
pub use self::ports::{PortMapping, Protocol};
use crate::error::{Context, Error, Result};

/// The interface a pod's network gives it.
pub const INTERFACE: &str = "eth0";

/// Where CNI's files are: the lists, the plugins, and the built-in network's own.
#[derive(Clone, Debug)]
pub struct CniPaths {
    /// Where network names are looked up (`*.conflist`).
    pub config_dir: PathBuf,
    /// Where plugins are looked up, in order.
    pub plugin_dirs: Vec<PathBuf>,
}

/// The default of [`CniPaths::config_dir`].
pub const DEFAULT_CONFIG_DIR: &str = "/etc/cni/net.d";
/// The default of [`CniPaths::plugin_dirs`]: Debian's, then the upstream's.
pub const DEFAULT_PLUGIN_PATH: &str = "/usr/lib/cni:/opt/cni/bin";

impl Default for CniPaths {
    fn default() -> CniPaths {
        CniPaths {
            config_dir: PathBuf::from(DEFAULT_CONFIG_DIR),
            plugin_dirs: std::env::split_paths(DEFAULT_PLUGIN_PATH).collect(),
        }
    }
}

/// One container's attachment to one network: what every plugin call of it shares.
#[derive(Clone, Copy, Debug)]
pub struct Attachment<'a> {
    /// The network.
    pub conflist: &'a Conflist,
    /// `CNI_CONTAINERID`: unique per pod, and the same for its ADD and DEL.
    pub container_id: &'a str,
    /// The pod's network namespace; `None` once it is gone.
    pub netns: Option<&'a Path>,
    /// Ports to publish.
    pub ports: &'a [PortMapping],
    /// Where the plugins are.
    pub plugin_dirs: &'a [PathBuf],
    /// A lock each plugin holds while it runs (see `plugin::Call::hold`).
    pub hold: Option<BorrowedFd<'a>>,
}

impl Attachment<'_> {
    /// Runs ADD through the list; `progress` gets the result after each plugin (to save it
    /// before the next one runs). Every plugin is found before the first runs, so a missing
    /// one fails with nothing done. On failure nothing is undone here: the caller DELs with
    /// the last result `progress` got.
    pub fn add(&self, mut progress: impl FnMut(&Value) -> Result<()>) -> Result<Value> {
        let executables = self.executables()?;
        let call = self.call(Verb::Add);
        let mut result: Option<Value> = None;
        for (index, (kind, executable)) in executables.iter().enumerate() {
            let config = self
                .conflist
                .plugin_config(index, result.as_ref(), self.ports);
            let added = plugin::execute(&call, kind, executable, &config)?.ok_or_else(|| {
                Error::CniPlugin {
                    network: self.conflist.name().to_owned(),
                    plugin: (*kind).to_owned(),
                    verb: "ADD",
                    code: None,
                    message: "it printed no result".to_owned(),
                }
            })?;
            progress(&added)?;
            result = Some(added);
        }
        result.ok_or_else(|| Error::NetworkConfig {
            path: self.conflist.source().to_owned(),
            reason: "it lists no plugin".to_owned(),
        })
    }

    /// Runs DEL through the list in reverse, giving each plugin `prev_result` (the last ADD
    /// result). Every plugin runs even if one fails (each releases its own things); the first
    /// failure is returned.
    pub fn del(&self, prev_result: Option<&Value>) -> Result<()> {
        let executables = self.executables()?;
        let call = self.call(Verb::Del);
        let mut first_error = None;
        for (index, (kind, executable)) in executables.iter().enumerate().rev() {
            let config = self.conflist.plugin_config(index, prev_result, self.ports);
            if let Err(error) = plugin::execute(&call, kind, executable, &config) {
                log::debug!("{}", crate::error_chain(&error));
                first_error.get_or_insert(error);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    fn call(&self, verb: Verb) -> plugin::Call<'_> {
        plugin::Call {
            verb,
            network: self.conflist.name(),
            container_id: self.container_id,
            netns: self.netns,
            ifname: INTERFACE,
            plugin_dirs: self.plugin_dirs,
            hold: self.hold,
        }
    }

    /// Fails unless every plugin of the list is installed.
    pub fn check_plugins(&self) -> Result<()> {
        self.executables().map(drop)
    }

    fn executables(&self) -> Result<Vec<(&str, PathBuf)>> {
        self.conflist
            .plugin_types()
            .into_iter()
            .map(|kind| match plugin::find(kind, self.plugin_dirs) {
                Some(path) => Ok((kind, path)),
                None => Err(Error::CniPluginMissing {
                    network: self.conflist.name().to_owned(),
                    plugin: kind.to_owned(),
                    dirs: self.plugin_dirs.to_vec(),
                }),
            })
            .collect()
    }
}

/// What `inspect` shows of a pod's network.
#[derive(Clone, Debug, Serialize)]
pub struct NetworkStatus {
    /// The network's name.
    pub name: String,
    /// The list it was attached with.
    pub config: PathBuf,
    /// The pod's interface.
    pub interface: String,
    /// Its addresses, with prefix length (`10.89.0.2/24`).
    pub ips: Vec<String>,
    /// The gateway of its first address.
    pub gateway: Option<String>,
    /// Its MAC address.
    pub mac: Option<String>,
    /// The ports published to it.
    pub ports: Vec<PortMapping>,
}

/// The part of a CNI result `inspect` shows (the rest is kept as it came).
#[derive(Debug, Default, Deserialize)]
struct ResultView {
    #[serde(default)]
    interfaces: Vec<InterfaceView>,
    #[serde(default)]
    ips: Vec<IpView>,
}

#[derive(Debug, Deserialize)]
struct InterfaceView {
    name: String,
    #[serde(default)]
    mac: Option<String>,
    #[serde(default)]
    sandbox: Option<String>,
}

#[derive(Debug, Deserialize)]
struct IpView {
    address: String,
    #[serde(default)]
    gateway: Option<String>,
}

impl NetworkStatus {
    /// The status of an attachment whose last ADD result is `result` (none yet: no address).
    pub fn new(
        conflist: &Conflist,
        ports: &[PortMapping],
        result: Option<&Value>,
    ) -> NetworkStatus {
        let view: ResultView = result
            .and_then(|result| serde_json::from_value(result.clone()).ok())
            .unwrap_or_default();
        let mac = view
            .interfaces
            .iter()
            .find(|i| i.name == INTERFACE && i.sandbox.as_deref().is_some_and(|s| !s.is_empty()))
            .and_then(|i| i.mac.clone());
        NetworkStatus {
            name: conflist.name().to_owned(),
            config: conflist.source().to_owned(),
            interface: INTERFACE.to_owned(),
            gateway: view.ips.first().and_then(|ip| ip.gateway.clone()),
            ips: view.ips.into_iter().map(|ip| ip.address).collect(),
            mac,
            ports: ports.to_vec(),
        }
    }

    /// The first address, without its prefix length (what `ps` shows).
    pub fn first_ip(&self) -> Option<&str> {
        self.ips
            .first()
            .map(|ip| ip.split('/').next().unwrap_or(ip))
    }
}

/// An address host-local keeps reserved: a file named by the address under the list's data
/// directory, holding the container ID and the interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reservation {
    /// The reserved address.
    pub ip: IpAddr,
    /// Whose it is.
    pub container_id: String,
    /// For which of its interfaces.
    pub ifname: String,
}

/// The addresses the host-local plugins of `conflist` hold reserved.
pub fn reservations(conflist: &Conflist) -> Result<Vec<Reservation>> {
    let mut found = Vec::new();
    for dir in conflist.host_local_dirs() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).context(|| format!("listing {}", dir.display())),
        };
        for entry in entries {
            let entry = entry.context(|| format!("listing {}", dir.display()))?;
            let Some(ip) = entry
                .file_name()
                .to_str()
                .and_then(|name| name.parse::<IpAddr>().ok())
            else {
                continue; // its lock and last_reserved_ip.N files
            };
            let text = match std::fs::read_to_string(entry.path()) {
                Ok(text) => text,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e).context(|| format!("reading {}", entry.path().display())),
            };
            let mut lines = text.lines().map(str::trim);
            found.push(Reservation {
                ip,
                container_id: lines.next().unwrap_or_default().to_owned(),
                ifname: lines.next().unwrap_or(INTERFACE).to_owned(),
            });
        }
    }
    found.sort_by_key(|r| r.ip);
    Ok(found)
}

/// The result a DEL of a reservation whose pod is gone passes on: its address, so the
/// plugins that clean up by address (firewall) find their rules.
pub fn result_of_reservation(conflist: &Conflist, reservation: &Reservation) -> Value {
    let prefix = if reservation.ip.is_ipv4() { 32 } else { 128 };
    serde_json::json!({
        "cniVersion": conflist.to_value()["cniVersion"],
        "ips": [{ "address": format!("{}/{prefix}", reservation.ip) }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_status_shows_the_pods_interface_not_the_hosts() {
        let list = Conflist::from_value(builtin(Path::new("/x")), Path::new("/x/b")).unwrap();
        let result = json!({
            "cniVersion": "1.0.0",
            "interfaces": [
                {"name": "sandbox0", "mac": "aa:aa:aa:aa:aa:aa"},
                {"name": "veth1", "mac": "bb:bb:bb:bb:bb:bb"},
                {"name": "eth0", "mac": "cc:cc:cc:cc:cc:cc", "sandbox": "/run/netns/p"}
            ],
            "ips": [{"interface": 2, "address": "10.89.0.2/24", "gateway": "10.89.0.1"}]
        });
        let status = NetworkStatus::new(&list, &[], Some(&result));
        assert_eq!(status.ips, ["10.89.0.2/24"]);
        assert_eq!(status.first_ip(), Some("10.89.0.2"));
        assert_eq!(status.gateway.as_deref(), Some("10.89.0.1"));
        assert_eq!(status.mac.as_deref(), Some("cc:cc:cc:cc:cc:cc"));
        let none = NetworkStatus::new(&list, &[], None);
        assert!(none.ips.is_empty() && none.mac.is_none());
    }
}
