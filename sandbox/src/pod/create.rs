//! `create`: find the network (its list and plugins) → lock → [claim the published ports] →
//! mkdir → record `creating`, naming the pod's cgroup and network attachment → make the cgroup
//! (`<parent>/pod-<name>-<tag>` in every hierarchy, with its limits, and its `pause` leaf) →
//! clone3 `pause` into new IPC, UTS, NET (and PID) namespaces and into the leaf's cgroup2
//! directory (`CLONE_INTO_CGROUP`), setting the hostname and bringing `lo` up in the child →
//! record pause's PID and start time and move it into the leaf in every v1 hierarchy (before
//! the child may exec: the spawn handshake) → pin each namespace under `ns/` and the net
//! namespace at `/run/netns/NAME` → CNI ADD, saving the result after every plugin (see
//! `pod::network`) → record `running`.
//!
//! Any failure tears down what was done, in reverse, and removes the lock file. If pause itself
//! died, the error says what it wrote on stderr. A record left in `creating` by a killed CLI
//! is found by the next command that takes the pod's lock (the creator held it throughout, so
//! a `creating` record seen under the lock is orphaned) and torn down the same way.

use std::os::fd::AsFd;
use std::path::Path;

use super::{CreateOptions, PodStatus};
use crate::error::{Context, Error, Result};
use crate::host::Host;
use crate::state::pod::{
    CgroupRecord, NetworkRecord, PAUSE_CGROUP, PodPhase, PodRecord, StopRecord,
};
use crate::state::{self, PodPaths};
use crate::sys::namespace::{self, NamespaceKind, Pins};
use crate::sys::process::{self, PidFd, ProcessRecord};
use crate::sys::spawn::Spawn;

/// How much of pause's stderr an error quotes.
const SAID_LIMIT: u64 = 1024;
/// How long a failed create waits for a pause that may be exiting, to tell which failed.
const PAUSE_DEATH_WAIT: std::time::Duration = std::time::Duration::from_millis(500);

impl Host {
    /// Creates and starts a pod.
    pub fn create_pod(&self, options: &CreateOptions) -> Result<PodStatus> {
        let name = options.name.as_str();
        let paths = self.store.pod(name)?;
        let hostname = match &options.hostname {
            Some(hostname) => validate_hostname(hostname, false).map(|()| hostname.clone())?,
            None => validate_hostname(name, true).map(|()| name.to_owned())?,
        };
        let network = self.plan_network(name, options.network.as_deref(), &options.publish)?;
        let lock = self.store.lock_new_pod(name)?;
        let created = self.recover_orphaned_create(&paths).and_then(|()| {
            if std::fs::symlink_metadata(paths.dir()).is_ok() {
                return Err(Error::PodExists(name.to_owned()));
            }
            let netns_path = self.netns_path(name);
            if std::fs::symlink_metadata(&netns_path).is_ok() {
                return Err(Error::UnsafePath {
                    path: netns_path,
                    reason: format!(
                        "a network namespace named {name:?} already exists (ip netns); choose another name"
                    ),
                });
            }
            self.create_new_pod(&paths, hostname, options, network)
        });
        match created {
            // Read back under the lock: a concurrent `rm` cannot make a create that succeeded
            // look failed.
            Ok(()) => self.pod_status(name, false),
            Err(error) => {
                // Only a pod that is there keeps its lock file.
                if std::fs::symlink_metadata(paths.dir()).is_err() {
                    lock.remove_file();
                }
                Err(error)
            }
        }
    }

    /// The path of the cgroup of pod `name` under `parent`. The state root's tag keeps two
    /// roots' pods of the same name apart.
    pub(crate) fn pod_cgroup_path(&self, parent: &Path, name: &str) -> std::path::PathBuf {
        parent.join(format!("pod-{name}-{}", self.store.tag()))
    }

    /// Makes the pod directory and starts the pod; tears everything down if that fails.
    fn create_new_pod(
        &self,
        paths: &PodPaths,
        hostname: String,
        options: &CreateOptions,
        network: Option<NetworkRecord>,
    ) -> Result<()> {
        // Held from the check to the record that claims the ports, which the next check reads.
        let ports_lock = match &network {
            Some(network) if !network.ports.is_empty() => {
                let ports_lock = self.store.lock_published_ports()?;
                self.check_ports_free(paths.name(), &network.ports)?;
                Some(ports_lock)
            }
            _ => None,
        };
        state::create_private_dir(paths.dir())?;
        let parent = options
            .cgroup_parent
            .as_deref()
            .unwrap_or(&self.cgroup_parent);
        let mut record = PodRecord {
            name: paths.name().to_owned(),
            hostname,
            share_pid: options.share_pid,
            phase: PodPhase::Creating,
            pause: None,
            namespaces: Pins::new(),
            netns_path: None,
            cgroup: Some(CgroupRecord {
                path: self.pod_cgroup_path(parent, paths.name()),
                limits: options.limits,
            }),
            network,
            grace_period_seconds: options.grace_period_seconds,
            created_at: state::now_rfc3339(),
            stopped_at: None,
            stop: StopRecord::default(),
        };
        let started = state::pod::save(paths, &record).and_then(|()| {
            drop(ports_lock);
            self.start_pod(paths, &mut record)
        });
        let Err(error) = started else {
            return Ok(());
        };
        if let Err(teardown) = self.teardown(paths, &record, false) {
            log::warn!(
                "rolling back sandbox {:?} after a failed create: {}; what is left of it is \
                 kept, half-created: `sandbox rm --force {}` removes it",
                record.name,
                crate::error_chain(&teardown),
                record.name
            );
        }
        Err(error)
    }

    /// Starts pause in new namespaces, pins them and attaches the pod to its network; updates
    /// `record` as it goes.
    fn start_pod(&self, paths: &PodPaths, record: &mut PodRecord) -> Result<()> {
        state::create_private_dir(&paths.ns_dir())?;
        state::create_private_dir(&paths.containers_dir())?;
        let mut kinds = vec![NamespaceKind::Ipc, NamespaceKind::Uts, NamespaceKind::Net];
        if record.share_pid {
            kinds.push(NamespaceKind::Pid);
        }
        let dev_null = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/null")
            .context(|| "opening /dev/null")?;
        let pause_log = state::open_log(&paths.pause_log())?;
        // Made once the record names it: a teardown removes it whatever happens from here on.
        let pause_cgroup = match &record.cgroup {
            Some(cgroup) => {
                let pod = self.cgroups()?.cgroup(&cgroup.path);
                pod.create(&cgroup.limits)?;
                pod.set_limits(&cgroup.limits)?;
                let leaf = pod.child(PAUSE_CGROUP);
                leaf.create(&cgroup.limits)?;
                Some(leaf)
            }
            None => None,
        };
        let unified = match &pause_cgroup {
            Some(leaf) => leaf.open_unified()?,
            None => None,
        };
        let mut spawn = Spawn::new(&self.pause, std::iter::empty::<&str>(), &[])?;
        if let Some(unified) = &unified {
            spawn = spawn.into_cgroup(unified.as_fd());
        }
        let pause = spawn
            .new_namespaces(NamespaceKind::flags_of(&kinds))
            .hostname(&record.hostname)?
            .loopback_up()
            .new_session()
            .cwd("/")?
            .stdio([
                Some(dev_null.as_fd()),
                Some(dev_null.as_fd()),
                Some(pause_log.as_fd()),
            ])
            // Recorded before it may run, so a successor finds and kills it if we die from here
            // on; if we die before, it exits without running.
            .spawn_recorded(|pause| {
                record.pause = ProcessRecord::of(pause.pid(), &self.boot_id);
                state::pod::save(paths, record)?;
                match (&pause_cgroup, &record.cgroup) {
                    (Some(leaf), Some(cgroup)) => leaf.attach_legacy(pause.pid(), &cgroup.limits),
                    _ => Ok(()),
                }
            })
            .map_err(|e| e.within(&format!("starting pause for sandbox {:?}", record.name)))?;
        log::debug!("sandbox {:?}: pause is pid {}", record.name, pause.pid());
        self.pin_namespaces(paths, record, &pause, &kinds).map_err(
            |error| match process::wait_any(&[&pause], Some(PAUSE_DEATH_WAIT)) {
                // A pause that died at once is the cause, whatever step noticed it (opening its
                // namespaces may fail while it exits): say what it said.
                Ok(exited) if !exited.is_empty() => Error::PauseDied {
                    pod: record.name.clone(),
                    said: state::head_of_log(&paths.pause_log(), SAID_LIMIT),
                },
                _ => error,
            },
        )?;
        self.attach_network(paths, record)?;
        record.set_phase(PodPhase::Running)?;
        state::pod::save(paths, record)
    }

    /// Pins the namespaces of a running pause.
    fn pin_namespaces(
        &self,
        paths: &PodPaths,
        record: &mut PodRecord,
        pause: &PidFd,
        kinds: &[NamespaceKind],
    ) -> Result<()> {
        for &kind in kinds {
            let pin = namespace::pin(pause, kind, &paths.namespace(kind), &record.name)?;
            record.namespaces.insert(kind, pin);
        }
        namespace::ensure_shared_mount(&self.netns_dir)?;
        let netns_path = self.netns_path(&record.name);
        record.netns_path = Some(netns_path.clone());
        state::pod::save(paths, record)?;
        if let Err(error) = namespace::pin(pause, NamespaceKind::Net, &netns_path, &record.name) {
            // Whatever is at the path now is not ours (pin removes its own half-made file): the
            // rollback must not unmount it, e.g. an `ip netns add` of the same name meanwhile.
            record.netns_path = None;
            return Err(error);
        }
        Ok(())
    }
}

/// Checks a hostname: 1–64 characters, labels of letters, digits, '-' and '_' separated by
/// dots. `from_name`: it was not given, and the pod name stands in for it.
pub(crate) fn validate_hostname(hostname: &str, from_name: bool) -> Result<()> {
    let ok = !hostname.is_empty()
        && hostname.len() <= 64
        && hostname.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if ok {
        return Ok(());
    }
    let rule = "expected 1-64 characters: letters, digits, '-' and '_' in dot-separated labels";
    if from_name {
        Err(Error::InvalidInput {
            what: "sandbox name",
            value: hostname.to_owned(),
            reason: format!(
                "it is also the pod's hostname unless --hostname is given, and as a hostname it \
                 is invalid ({rule}, no label starting or ending with '-'); pass --hostname NAME"
            ),
        })
    } else {
        Err(Error::InvalidInput {
            what: "hostname",
            value: hostname.to_owned(),
            reason: rule.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostnames() {
        for good in ["web", "web-1", "a.b.c", "x_y", &"a".repeat(64)] {
            validate_hostname(good, false).unwrap();
        }
        for bad in ["", "-a", "a-", "a..b", "a b", "a/b", &"a".repeat(65)] {
            assert!(validate_hostname(bad, false).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn a_pod_name_that_is_no_hostname_says_so_and_what_to_do() {
        let err = validate_hostname("web-", true).unwrap_err().to_string();
        assert!(err.starts_with("invalid sandbox name \"web-\""), "{err}");
        assert!(err.contains("--hostname"), "{err}");
    }
}
