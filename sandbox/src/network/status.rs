//! What `inspect` shows of a pod's network, read from its last ADD result.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{INTERFACE, PortMapping};

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
    /// The status of an attachment to network `name` (from the list at `config`) whose last
    /// ADD result is `result` (none yet: no address).
    pub fn new(
        name: &str,
        config: &Path,
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
            name: name.to_owned(),
            config: config.to_owned(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_status_shows_the_pods_interface_not_the_hosts() {
        let result = json!({
            "cniVersion": "1.0.0",
            "interfaces": [
                {"name": "sandbox0", "mac": "aa:aa:aa:aa:aa:aa"},
                {"name": "veth1", "mac": "bb:bb:bb:bb:bb:bb"},
                {"name": "eth0", "mac": "cc:cc:cc:cc:cc:cc", "sandbox": "/run/netns/p"}
            ],
            "ips": [{"interface": 2, "address": "10.89.0.2/24", "gateway": "10.89.0.1"}]
        });
        let status = NetworkStatus::new("bridge", Path::new("/x/b"), &[], Some(&result));
        assert_eq!(status.ips, ["10.89.0.2/24"]);
        assert_eq!(status.first_ip(), Some("10.89.0.2"));
        assert_eq!(status.gateway.as_deref(), Some("10.89.0.1"));
        assert_eq!(status.mac.as_deref(), Some("cc:cc:cc:cc:cc:cc"));
        let none = NetworkStatus::new("bridge", Path::new("/x/b"), &[], None);
        assert!(none.ips.is_empty() && none.mac.is_none());
    }
}
