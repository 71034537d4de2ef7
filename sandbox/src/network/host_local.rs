//! host-local's reservations on disk: one file per reserved address, named by the address,
//! under `<dataDir>/<network name>`, holding the container ID and the interface.

use std::net::IpAddr;
use std::path::Path;

use serde_json::{Value, json};

use super::{Conflist, INTERFACE};
use crate::error::{Context, Result};

/// An address host-local keeps reserved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reservation {
    /// The reserved address.
    pub ip: IpAddr,
    /// Whose it is.
    pub container_id: String,
    /// For which of its interfaces.
    pub ifname: String,
}

impl Reservation {
    /// Whether the reservation is still on disk, for the same container (it may have been
    /// released, and its address reserved again for another, since it was read).
    pub fn still_held(&self, conflist: &Conflist) -> Result<bool> {
        for dir in conflist.host_local_dirs() {
            if let Some(held) = read(&dir, self.ip)? {
                return Ok(held.container_id == self.container_id);
            }
        }
        Ok(false)
    }

    /// The result a DEL of this reservation passes on when its pod is gone: its address, so
    /// the plugins that clean up by address (firewall) find their rules.
    pub fn as_result(&self, conflist: &Conflist) -> Value {
        let prefix = if self.ip.is_ipv4() { 32 } else { 128 };
        json!({
            "cniVersion": conflist.version(),
            "ips": [{ "address": format!("{}/{prefix}", self.ip) }],
        })
    }
}

/// The addresses the host-local plugins of `conflist` hold reserved, by address.
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
            // Its other files: `lock`, `last_reserved_ip.N`.
            let Some(ip) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
                continue;
            };
            found.extend(read(&dir, ip)?);
        }
    }
    found.sort_by_key(|r| r.ip);
    Ok(found)
}

/// The reservation of `ip` in `dir`, if there is one.
fn read(dir: &Path, ip: IpAddr) -> Result<Option<Reservation>> {
    let path = dir.join(ip.to_string());
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).context(|| format!("reading {}", path.display())),
    };
    let mut lines = text.lines().map(str::trim);
    Ok(Some(Reservation {
        ip,
        container_id: lines.next().unwrap_or_default().to_owned(),
        ifname: lines.next().unwrap_or(INTERFACE).to_owned(),
    }))
}
