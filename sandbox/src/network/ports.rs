//! Published ports: `--publish [HOST_IP:]HOST_PORT:POD_PORT[/tcp|/udp]`, passed to the plugins
//! that ask for the `portMappings` capability (portmap) in CNI's own shape.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A transport protocol of a published port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// TCP (the default).
    Tcp,
    /// UDP.
    Udp,
}

/// A host port forwarded to a port of the pod, as the `portMappings` capability spells it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortMapping {
    /// The port on the host.
    pub host_port: u16,
    /// The port in the pod.
    pub container_port: u16,
    /// TCP or UDP.
    pub protocol: Protocol,
    /// The host address it is published on; every address when absent.
    #[serde(rename = "hostIP", default, skip_serializing_if = "Option::is_none")]
    pub host_ip: Option<IpAddr>,
}

impl PortMapping {
    /// Parses `[HOST_IP:]HOST_PORT:POD_PORT[/tcp|/udp]`; an IPv6 address goes in brackets
    /// (`[::1]:8080:80`).
    pub fn parse(spec: &str) -> Result<PortMapping> {
        let invalid = |reason: &str| Error::InvalidInput {
            what: "published port",
            value: spec.to_owned(),
            reason: reason.to_owned(),
        };
        let (ports, protocol) = match spec.rsplit_once('/') {
            Some((ports, "tcp")) => (ports, Protocol::Tcp),
            Some((ports, "udp")) => (ports, Protocol::Udp),
            Some(_) => return Err(invalid("the protocol must be tcp or udp")),
            None => (spec, Protocol::Tcp),
        };
        let (host, container) = ports
            .rsplit_once(':')
            .ok_or_else(|| invalid("expected [HOST_IP:]HOST_PORT:POD_PORT[/tcp|/udp]"))?;
        let (host_ip, host_port) = match host.rsplit_once(':') {
            None => (None, host),
            Some((ip, port)) => {
                let ip = ip
                    .strip_prefix('[')
                    .and_then(|ip| ip.strip_suffix(']'))
                    .unwrap_or(ip);
                let ip = ip
                    .parse::<IpAddr>()
                    .map_err(|_| invalid(&format!("{ip:?} is not an IP address")))?;
                (Some(ip), port)
            }
        };
        let port = |text: &str, which: &str| {
            text.parse::<u16>()
                .ok()
                .filter(|&port| port != 0)
                .ok_or_else(|| invalid(&format!("the {which} port must be 1-65535")))
        };
        Ok(PortMapping {
            host_port: port(host_port, "host")?,
            container_port: port(container, "pod")?,
            protocol,
            host_ip,
        })
    }

    /// Whether this and `other` claim the same host port: same protocol and port, and the
    /// same address or one of them on every address.
    pub fn clashes_with(&self, other: &PortMapping) -> bool {
        self.protocol == other.protocol
            && self.host_port == other.host_port
            && match (self.host_ip, other.host_ip) {
                (Some(a), Some(b)) => a == b || a.is_unspecified() || b.is_unspecified(),
                _ => true,
            }
    }
}

impl PortMapping {
    /// The host side alone: `[HOST_IP:]HOST_PORT/PROTOCOL`.
    pub fn host_side(&self) -> String {
        format!(
            "{}{}/{}",
            self.host_ip_prefix(),
            self.host_port,
            self.protocol.as_str()
        )
    }

    /// `HOST_IP:` (`[HOST_IP]:` for IPv6), or nothing for every address.
    fn host_ip_prefix(&self) -> String {
        match self.host_ip {
            Some(IpAddr::V6(ip)) => format!("[{ip}]:"),
            Some(ip) => format!("{ip}:"),
            None => String::new(),
        }
    }
}

impl Protocol {
    /// As `--publish` and iptables spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

impl std::fmt::Display for PortMapping {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}{}:{}/{}",
            self.host_ip_prefix(),
            self.host_port,
            self.container_port,
            self.protocol.as_str()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_ports_parse_as_docker_writes_them() {
        let plain = PortMapping::parse("8080:80").unwrap();
        assert_eq!((plain.host_port, plain.container_port), (8080, 80));
        assert_eq!((plain.protocol, plain.host_ip), (Protocol::Tcp, None));
        let udp = PortMapping::parse("127.0.0.1:53:5353/udp").unwrap();
        assert_eq!(udp.protocol, Protocol::Udp);
        assert_eq!(udp.host_ip, Some("127.0.0.1".parse().unwrap()));
        let v6 = PortMapping::parse("[::1]:8443:443").unwrap();
        assert_eq!(v6.host_ip, Some("::1".parse().unwrap()));
        assert_eq!(v6.to_string(), "[::1]:8443:443/tcp");
        assert_eq!(v6.host_side(), "[::1]:8443/tcp");
        assert_eq!(udp.host_side(), "127.0.0.1:53/udp");
        for bad in [
            "80",
            "0:80",
            "8080:70000",
            "8080:80/sctp",
            "nope:1:2",
            "a:b",
        ] {
            assert!(PortMapping::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn ports_clash_on_the_same_port_and_protocol_and_an_overlapping_address() {
        let any = PortMapping::parse("8080:80").unwrap();
        let local = PortMapping::parse("127.0.0.1:8080:81").unwrap();
        let other = PortMapping::parse("10.0.0.1:8080:81").unwrap();
        assert!(any.clashes_with(&local));
        assert!(!local.clashes_with(&other));
        assert!(!any.clashes_with(&PortMapping::parse("8080:80/udp").unwrap()));
        assert!(!any.clashes_with(&PortMapping::parse("8081:80").unwrap()));
    }

    #[test]
    fn port_mappings_serialise_as_the_capability_wants() {
        let json = serde_json::to_value(PortMapping::parse("127.0.0.1:8080:80").unwrap()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"hostPort": 8080, "containerPort": 80, "protocol": "tcp", "hostIP": "127.0.0.1"})
        );
    }
}
