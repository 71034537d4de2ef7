//! A pod's network, as `create` and `rm` use it:
//!
//! - `create` resolves the network first (a bad list or a missing plugin fails with nothing
//!   made), claims the published ports under the state root's ports lock, and records the
//!   attachment (its list, its container ID, its ports) with the pod before any plugin runs;
//! - once the namespaces are pinned, ADD runs; the result is saved after every plugin, and the
//!   pod counts as created only after the last;
//! - `rm` (and the rollback of a failed or killed `create`) runs DEL with the saved result
//!   before the namespaces are unpinned;
//! - reservations of pods that are gone are released (garbage collection).
//!
//! ADD and DEL run under the pod's network lock (`<pod>/cni.lock`), which every plugin
//! inherits: a plugin left running by a killed command keeps the next ADD or DEL of the pod
//! waiting until it is done (for at most [`NETWORK_LOCK_PATIENCE`]), so the two never overlap.

use std::io::Read;
use std::net::IpAddr;
use std::time::Duration;

use crate::error::{Context, Error, Result};
use crate::host::Host;
use crate::network::{self, Attachment, Conflist, NetworkStatus, PortMapping, Reservation};
use crate::state::pod::{NetworkRecord, PodRecord};
use crate::state::{self, FileLock, PodPaths};
use crate::sys::namespace::{self, NamespaceKind};

/// How long an ADD or DEL waits for the plugins an earlier command left running on the pod
/// (each is killed by its own command after `PLUGIN_TIMEOUT`; a killed command's run on).
pub const NETWORK_LOCK_PATIENCE: Duration = Duration::from_secs(60);

/// A reservation released by the garbage collection.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Released {
    /// The network.
    pub network: String,
    /// The address.
    pub ip: IpAddr,
    /// The pod it was reserved for (gone, or made again since).
    pub pod: String,
}

/// Which reservations count as stale.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Staleness {
    /// Those whose pod directory is gone: one `stat` each, cheap enough for every `create`.
    PodGone,
    /// Those, and those of an earlier pod of a live pod's name (another container ID): every
    /// such pod's record read, for `sandbox gc`.
    PodGoneOrReplaced,
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
        if let Some((index, port)) = ports.iter().enumerate().find(|(index, port)| {
            ports[..*index]
                .iter()
                .any(|earlier| port.clashes_with(earlier))
        }) {
            return Err(Error::InvalidInput {
                what: "published port",
                value: port.to_string(),
                reason: format!(
                    "host port {} is published twice (also by --publish {})",
                    port.host_side(),
                    ports[..index]
                        .iter()
                        .find(|earlier| port.clashes_with(earlier))
                        .map_or(String::new(), ToString::to_string)
                ),
            });
        }
        let conflist = self.find_network(spec)?;
        if !ports.is_empty() && !conflist.takes_ports() {
            return Err(Error::NoPortPlugin {
                network: conflist.name().to_owned(),
            });
        }
        conflist.check_plugins(&self.cni.plugin_dirs)?;
        Ok(Some(NetworkRecord {
            config: conflist.to_value(),
            config_path: conflist.source().to_owned(),
            container_id: format!("{}-{}-{pod}", self.store.tag(), random_hex()?),
            ports: ports.to_vec(),
            result: None,
        }))
    }

    /// The network `spec` names (see `network::find`), or the built-in one for its name,
    /// written to the state root's network directory (under its networks lock) if it is not
    /// there as this version writes it.
    fn find_network(&self, spec: &str) -> Result<Conflist> {
        match network::find(spec, &self.cni.config_dir) {
            Err(Error::NetworkNotFound { .. }) if spec == network::BUILTIN_NAME => {}
            found => return found,
        }
        let dir = self.store.network_dir();
        let path = dir.join(network::BUILTIN_FILE);
        let value = network::builtin(&dir);
        let current = || -> Option<serde_json::Value> {
            serde_json::from_slice(&std::fs::read(&path).ok()?).ok()
        };
        if current().as_ref() != Some(&value) {
            let _lock = self.store.lock_networks()?;
            if current().as_ref() != Some(&value) {
                state::create_private_dir(&dir)?;
                state::write_json(&path, &value)?;
            }
        }
        Conflist::from_value(value, &path)
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
                    port: port.host_side(),
                    mapping: port.to_string(),
                    pod: name,
                });
            }
        }
        Ok(())
    }

    /// Runs ADD for the pod's recorded attachment, saving the result after every plugin.
    pub(crate) fn attach_network(&self, paths: &PodPaths, record: &mut PodRecord) -> Result<()> {
        let Some(network) = record.network.clone() else {
            return Ok(());
        };
        let mut attach = || -> Result<()> {
            let conflist = network.conflist()?;
            self.release_stale_reservations(&conflist, Staleness::PodGone);
            let lock = self.lock_pod_network(paths)?;
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
                record.network = Some(progress.clone());
                state::pod::save(paths, record)
            })?;
            Ok(())
        };
        attach().map_err(|error| Error::NetworkAttach {
            pod: paths.name().to_owned(),
            network: network.name().to_owned(),
            source: Box::new(error),
        })
    }

    /// Runs DEL for the pod's attachment, if it has one, while its network namespace is still
    /// pinned (the bridge plugin un-masquerades the addresses it finds on the pod's interface).
    pub(crate) fn detach_network(&self, paths: &PodPaths, record: &PodRecord) -> Result<()> {
        let Some(network) = &record.network else {
            return Ok(());
        };
        let detach = || -> Result<()> {
            let conflist = network.conflist()?;
            let lock = self.lock_pod_network(paths)?;
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
        };
        detach().map_err(|error| Error::NetworkDetach {
            pod: record.name.clone(),
            network: network.name().to_owned(),
            source: Box::new(error),
        })
    }

    /// Takes the pod's network lock (its plugins inherit it), waiting for plugins a killed
    /// command left running.
    fn lock_pod_network(&self, paths: &PodPaths) -> Result<FileLock> {
        FileLock::acquire_within(
            paths.network_lock(),
            &format!("the network of sandbox {:?}", paths.name()),
            NETWORK_LOCK_PATIENCE,
        )
    }

    /// What `inspect` shows of a pod's network.
    pub(crate) fn network_status(&self, record: &PodRecord) -> Option<NetworkStatus> {
        let network = record.network.as_ref()?;
        Some(NetworkStatus::new(
            network.name(),
            &network.config_path,
            &network.ports,
            network.result.as_ref(),
        ))
    }

    /// Releases stale reservations in every network this host knows of: every list in the
    /// config directory and the built-in one (`sandbox gc`). Fails, after trying them all, if
    /// one could not be released.
    pub fn collect_network_garbage(&self) -> Result<Vec<Released>> {
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
        let builtin = self.store.network_dir().join(network::BUILTIN_FILE);
        if builtin.exists() {
            let bytes =
                std::fs::read(&builtin).context(|| format!("reading {}", builtin.display()))?;
            lists.push(Conflist::parse(&bytes, &builtin)?);
        }
        let mut released = Vec::new();
        let mut failed = 0;
        for conflist in &lists {
            let (done, failures) =
                self.release_stale_reservations(conflist, Staleness::PodGoneOrReplaced);
            released.extend(done);
            failed += failures;
        }
        if failed > 0 {
            return Err(Error::Io {
                what: format!("releasing {failed} stale network reservations (see the warnings)"),
                source: std::io::Error::other("a CNI plugin failed"),
            });
        }
        Ok(released)
    }

    /// Releases the reservations `conflist`'s host-local plugins hold for pods of this state
    /// root that are stale by `staleness` (a state root lost with a reboot, `rm --force` after
    /// a DEL that failed), by a DEL without a network namespace, under the state root's
    /// networks lock. Each is read again just before its DEL: a reservation released since
    /// (by its pod's own `rm`) may name its address for another pod by now, whose firewall
    /// rules a DEL by that address would remove. Logs failures and goes on: it is housekeeping
    /// for the command that runs it. What was released, and how many failed.
    fn release_stale_reservations(
        &self,
        conflist: &Conflist,
        staleness: Staleness,
    ) -> (Vec<Released>, usize) {
        let mut released = Vec::new();
        let mut failed = 0;
        let warn = |error: &Error| {
            log::warn!(
                "releasing stale reservations of network {:?}: {}",
                conflist.name(),
                crate::error_chain(error)
            );
        };
        let stale = match self.stale_reservations(conflist, staleness) {
            Ok(stale) if stale.is_empty() => return (released, failed),
            Ok(stale) => stale,
            Err(error) => {
                warn(&error);
                return (released, 1);
            }
        };
        let _lock = match self.store.lock_networks() {
            Ok(lock) => lock,
            Err(error) => {
                warn(&error);
                return (released, 1);
            }
        };
        for (reservation, pod) in stale {
            let released_now = reservation.still_held(conflist).and_then(|held| {
                if !held {
                    return Ok(false);
                }
                Attachment {
                    conflist,
                    container_id: &reservation.container_id,
                    netns: None,
                    ports: &[],
                    plugin_dirs: &self.cni.plugin_dirs,
                    hold: None,
                }
                .del(Some(&reservation.as_result(conflist)))
                .map(|()| true)
            });
            match released_now {
                Ok(true) => {
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
                Ok(false) => {}
                Err(error) => {
                    warn(&error);
                    failed += 1;
                }
            }
        }
        (released, failed)
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
                Staleness::PodGoneOrReplaced => match state::pod::load(&paths) {
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
}

/// Eight random hex digits.
fn random_hex() -> Result<String> {
    let mut bytes = [0u8; 4];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut file| file.read_exact(&mut bytes))
        .context(|| "reading /dev/urandom")?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}
