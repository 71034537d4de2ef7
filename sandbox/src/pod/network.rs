//! A pod's network, as `create` and `rm` use it:
//!
//! - `create` resolves the network first (a bad list or a missing plugin fails with nothing
//!   made), claims the published ports under a host-wide lock, and records the attachment
//!   (its list, its container ID, its ports) with the pod before any plugin runs;
//! - once the namespaces are pinned, ADD runs; the result is saved after every plugin, and the
//!   pod counts as created only after the last;
//! - `rm` (and the rollback of a failed or killed `create`) runs DEL with the saved result
//!   before the namespaces are unpinned;
//! - reservations of pods that no longer exist are released (garbage collection).
//!
//! Each plugin holds the pod's lock while it runs, so a plugin left running by a killed
//! command keeps the next command off the pod until it is done.

use std::io::Read;

use crate::error::{Context, Error, Result};
use crate::host::Host;
use crate::network::{self, Attachment, Conflist, NetworkStatus, PortMapping, Reservation};
use crate::state::pod::{NetworkRecord, PodRecord};
use crate::state::{self, PodLock, PodPaths};
use crate::sys::namespace::{self, NamespaceKind};

/// A reservation released by the garbage collection.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Released {
    /// The network.
    pub network: String,
    /// The address.
    pub ip: std::net::IpAddr,
    /// The pod it was reserved for (gone).
    pub pod: String,
}

impl Host {
    /// Resolves `create --network NET --publish ...` into the record of an attachment not yet
    /// made; `None` for `none`.
    pub(crate) fn plan_network(
        &self,
        pod: &str,
        network: Option<&str>,
        ports: &[PortMapping],
    ) -> Result<Option<NetworkRecord>> {
        let Some(spec) = network.filter(|spec| *spec != "none") else {
            if let Some(port) = ports.first() {
                return Err(Error::InvalidInput {
                    what: "published port",
                    value: port.to_string(),
                    reason: "the pod has no network to publish it on (--network none); give it \
                             one, such as --network bridge"
                        .to_owned(),
                });
            }
            return Ok(None);
        };
        let conflist = network::find(spec, &self.cni.config_dir, &self.store.network_dir())?;
        if !ports.is_empty() && !conflist.takes_ports() {
            return Err(Error::NoPortPlugin {
                network: conflist.name().to_owned(),
            });
        }
        // Every plugin there before anything is made.
        Attachment {
            conflist: &conflist,
            container_id: "",
            netns: None,
            ports,
            plugin_dirs: &self.cni.plugin_dirs,
            hold: None,
        }
        .check_plugins()?;
        Ok(Some(NetworkRecord {
            config: conflist.to_value(),
            config_path: conflist.source().to_owned(),
            container_id: format!("{}-{}-{pod}", self.store.tag(), random_hex()?),
            ports: ports.to_vec(),
            result: None,
            added: 0,
        }))
    }

    /// Fails if another pod has published one of `ports` (it keeps them until `rm`, stopped
    /// or not). The caller holds `Store::lock_published_ports` until it has recorded them.
    pub(crate) fn check_ports_free(&self, pod: &str, ports: &[PortMapping]) -> Result<()> {
        for name in self.store.pod_names()? {
            if name == pod {
                continue;
            }
            let Ok(record) = state::pod::load(&self.store.pod(&name)?) else {
                continue;
            };
            let Some(theirs) = record.network.as_ref().map(|n| &n.ports) else {
                continue;
            };
            if let Some(port) = ports
                .iter()
                .find(|port| theirs.iter().any(|their| port.clashes_with(their)))
            {
                return Err(Error::PortInUse {
                    port: port.to_string(),
                    pod: name,
                });
            }
        }
        Ok(())
    }

    /// Runs ADD for the pod's recorded attachment, saving the result after every plugin.
    pub(crate) fn attach_network(
        &self,
        paths: &PodPaths,
        record: &mut PodRecord,
        lock: &PodLock,
    ) -> Result<()> {
        let Some(network) = record.network.clone() else {
            return Ok(());
        };
        let conflist = network.conflist()?;
        self.release_stale_reservations(&conflist, Staleness::PodGone);
        let netns = paths.namespace(NamespaceKind::Net);
        let attachment = Attachment {
            conflist: &conflist,
            container_id: &network.container_id,
            netns: Some(&netns),
            ports: &network.ports,
            plugin_dirs: &self.cni.plugin_dirs,
            hold: Some(lock.as_fd()),
        };
        let mut progress = network.clone();
        attachment.add(|result| {
            progress.result = Some(result.clone());
            progress.added += 1;
            record.network = Some(progress.clone());
            state::pod::save(paths, record)
        })?;
        log::debug!(
            "sandbox {:?}: attached to network {:?}",
            record.name,
            conflist.name()
        );
        Ok(())
    }

    /// Runs DEL for the pod's attachment, if it has one, while its network namespace is still
    /// pinned (the bridge plugin un-masquerades the addresses it finds on the pod's interface).
    pub(crate) fn detach_network(
        &self,
        paths: &PodPaths,
        record: &PodRecord,
        lock: &PodLock,
    ) -> Result<()> {
        let Some(network) = &record.network else {
            return Ok(());
        };
        let conflist = network.conflist()?;
        let pin = paths.namespace(NamespaceKind::Net);
        let netns = namespace::pinned_inode(&pin)?.map(|_| pin.as_path());
        Attachment {
            conflist: &conflist,
            container_id: &network.container_id,
            netns,
            ports: &network.ports,
            plugin_dirs: &self.cni.plugin_dirs,
            hold: Some(lock.as_fd()),
        }
        .del(network.result.as_ref())
        .map_err(|error| Error::NetworkDetach {
            pod: record.name.clone(),
            network: conflist.name().to_owned(),
            source: Box::new(error),
        })
    }

    /// What `inspect` shows of a pod's network.
    pub(crate) fn network_status(&self, record: &PodRecord) -> Option<NetworkStatus> {
        let network = record.network.as_ref()?;
        let conflist = network.conflist().ok()?;
        Some(NetworkStatus::new(
            &conflist,
            &network.ports,
            network.result.as_ref(),
        ))
    }

    /// Releases the reservations `conflist`'s host-local plugins hold for pods of this state
    /// root that are gone (a state root lost with a reboot, `rm --force` after a DEL that
    /// failed), by a DEL without a network namespace. Logs and goes on on failure: it is
    /// housekeeping for the command that runs it.
    fn release_stale_reservations(
        &self,
        conflist: &Conflist,
        staleness: Staleness,
    ) -> Vec<Released> {
        let stale = match self.stale_reservations(conflist, staleness) {
            Ok(stale) => stale,
            Err(error) => {
                log::warn!(
                    "looking for stale reservations of network {:?}: {}",
                    conflist.name(),
                    crate::error_chain(&error)
                );
                return Vec::new();
            }
        };
        let mut released = Vec::new();
        for (reservation, pod) in stale {
            let deleted = Attachment {
                conflist,
                container_id: &reservation.container_id,
                netns: None,
                ports: &[],
                plugin_dirs: &self.cni.plugin_dirs,
                hold: None,
            }
            .del(Some(&network::result_of_reservation(
                conflist,
                &reservation,
            )));
            match deleted {
                Ok(()) => {
                    log::info!(
                        "released {} of network {:?}, reserved for sandbox {pod:?}, which is gone",
                        reservation.ip,
                        conflist.name()
                    );
                    released.push(Released {
                        network: conflist.name().to_owned(),
                        ip: reservation.ip,
                        pod,
                    });
                }
                Err(error) => log::warn!(
                    "releasing {} of network {:?}: {}",
                    reservation.ip,
                    conflist.name(),
                    crate::error_chain(&error)
                ),
            }
        }
        released
    }

    /// The reservations of `conflist` made by this state root (their container ID starts with
    /// its tag) that are stale by `staleness`; with the pod's name. A pod whose record cannot
    /// be read keeps its reservations.
    fn stale_reservations(
        &self,
        conflist: &Conflist,
        staleness: Staleness,
    ) -> Result<Vec<(Reservation, String)>> {
        let prefix = format!("{}-", self.store.tag());
        let mut stale = Vec::new();
        for reservation in network::reservations(conflist)? {
            let Some(pod) = reservation
                .container_id
                .strip_prefix(&prefix)
                .and_then(|rest| rest.split_once('-'))
                .map(|(_, pod)| pod.to_owned())
            else {
                continue;
            };
            let Ok(paths) = self.store.pod(&pod) else {
                continue;
            };
            let live = match staleness {
                Staleness::PodGone => std::fs::symlink_metadata(paths.dir()).is_ok(),
                Staleness::Thorough => match state::pod::load(&paths) {
                    Ok(record) => record
                        .network
                        .is_some_and(|n| n.container_id == reservation.container_id),
                    Err(Error::PodNotFound(_)) => false,
                    Err(_) => true,
                },
            };
            if !live {
                stale.push((reservation, pod));
            }
        }
        Ok(stale)
    }

    /// Releases stale reservations in every network this host knows of: the built-in one and
    /// every list in the config directory (`sandbox gc`).
    pub fn collect_all_network_garbage(&self) -> Result<Vec<Released>> {
        let mut lists = Vec::new();
        for path in network::conflist_files(&self.cni.config_dir)? {
            match std::fs::read(&path)
                .context(|| format!("reading {}", path.display()))
                .and_then(|bytes| Conflist::parse(&bytes, &path))
            {
                Ok(conflist) => lists.push(conflist),
                Err(error) => log::warn!("skipping {}", crate::error_chain(&error)),
            }
        }
        let builtin = self.store.network_dir().join("bridge.conflist");
        if builtin.exists() && !lists.iter().any(|l| l.name() == network::BUILTIN_NAME) {
            lists.push(network::find(
                network::BUILTIN_NAME,
                &self.cni.config_dir,
                &self.store.network_dir(),
            )?);
        }
        Ok(lists
            .iter()
            .flat_map(|conflist| self.release_stale_reservations(conflist, Staleness::Thorough))
            .collect())
    }
}

/// Which reservations count as stale.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Staleness {
    /// Those whose pod directory is gone: one `stat` per reservation, cheap enough for every
    /// `create`.
    PodGone,
    /// Also those whose pod exists under another attachment (made again under the same name
    /// after its predecessor's reservation leaked): every pod record read, for `sandbox gc`.
    Thorough,
}

/// Eight random hex digits.
fn random_hex() -> Result<String> {
    let mut bytes = [0u8; 4];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut file| file.read_exact(&mut bytes))
        .context(|| "reading /dev/urandom")?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}
