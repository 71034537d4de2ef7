//! `rm` of a pod, and the teardown it shares with the rollback of a failed `create` and the
//! recovery of an interrupted one: kill what the records name (containers, monitors, `exec`
//! sessions, pause), then whatever else is in its cgroup, CNI DEL (while the namespaces are
//! still pinned), unpin, remove the directory (state file last), remove the lock file.
//!
//! Only what is the pod's is touched: the pins under its directory, and `/run/netns/NAME` only
//! if it holds the pod's network namespace (same inode). A symlinked pod directory is refused,
//! even with `--force`: nothing under the state root is followed.

use crate::container::Container;
use crate::error::{Error, Result};
use crate::host::Host;
use crate::kill;
use crate::runtime::{self, oci};
use crate::state::pod::{PodPhase, PodRecord};
use crate::state::{self, PodPaths, exec};
use crate::sys::namespace::{self, JOIN_ORDER, NamespaceKind};
use crate::sys::process::ProcessRecord;

impl Host {
    /// Removes a pod: refuses a running one unless `force`, which kills everything first.
    pub fn remove_pod(&self, name: &str, force: bool) -> Result<()> {
        let paths = self.store.pod(name)?;
        let lock = self.store.lock_pod(name)?;
        let record = match state::pod::load(&paths) {
            Ok(record) => record,
            Err(Error::PodNotFound(_)) => {
                lock.remove_file();
                return Err(Error::PodNotFound(name.to_owned()));
            }
            Err(error @ Error::UnsafePath { .. }) => return Err(error),
            // A corrupt record: only --force may clean it up, from the layout's paths alone.
            Err(error) if force => {
                log::warn!(
                    "{}; removing the sandbox anyway (--force)",
                    crate::error_chain(&error)
                );
                state::pod::stand_in(name)
            }
            Err(error) => return Err(error),
        };
        if !force {
            let pause_running = matches!(record.phase, PodPhase::Running | PodPhase::Stopping)
                && record.pause_alive(&self.boot_id);
            let what = if pause_running {
                Some("is running")
            } else if Container::load_all(&paths, false)?
                .iter()
                .any(|c| c.may_be_running(&self.boot_id))
            {
                Some("has running containers")
            } else if !exec::running(&paths, &self.boot_id, false)?.is_empty() {
                Some("has running exec sessions")
            } else {
                None
            };
            if let Some(what) = what {
                return Err(Error::PodBusy {
                    pod: name.to_owned(),
                    what,
                });
            }
        }
        self.teardown(&paths, &record, force)?;
        lock.remove_file();
        Ok(())
    }

    /// If the pod was left half-created by a command that died, tear it down. The caller holds
    /// the pod's lock (so a `creating` record is nobody's).
    pub(crate) fn recover_orphaned_create(&self, paths: &PodPaths) -> Result<()> {
        let record = match state::pod::load(paths) {
            Ok(record) => record,
            Err(Error::PodNotFound(_)) => return Ok(()),
            Err(_) => return Ok(()), // a corrupt or unsafe pod is left for `rm`, which says why
        };
        if record.phase != PodPhase::Creating {
            return Ok(());
        }
        log::warn!(
            "sandbox {:?} was left half-created by a command that died; removing it",
            paths.name()
        );
        self.teardown(paths, &record, false)
    }

    /// Kills every process of the pod, detaches it from its network, unpins its namespaces and
    /// removes its state directory. Tolerates a partial pod (any step may never have happened).
    /// A DEL that fails stops it before the namespaces are unpinned, so that the next try can
    /// still DEL what the pod's interface holds, unless `force` (then it warns and goes on).
    pub(crate) fn teardown(&self, paths: &PodPaths, record: &PodRecord, force: bool) -> Result<()> {
        let name = paths.name();
        let mut named: Vec<ProcessRecord> = Vec::new();
        let containers = Container::load_all(paths, true)?;
        for container in &containers {
            let processes = container.processes(&self.boot_id);
            named.extend(processes.main.into_iter().chain(processes.monitor));
        }
        named.extend(
            exec::running(paths, &self.boot_id, false)?
                .into_iter()
                .map(|session| session.launcher),
        );
        named.extend(record.pause.clone());
        kill::kill_recorded(&named, &self.boot_id, || {
            format!("killing the processes of sandbox {name:?}")
        })?;
        // What is left of the pod is in its cgroup; a pod without one (a corrupt record stood
        // in for, or made before pods had cgroups) is scanned for by its namespaces.
        if record.cgroup.is_none() {
            self.kill_namespace_members(paths)?;
        }
        self.remove_pod_cgroup(paths, record)?;
        // What runtimes hold besides processes (runtime state, root file system mounts), then
        // the pod's /dev/shm: the directory cannot go while something is mounted in it.
        for container in &containers {
            runtime::of(container.record.runtime).release(&container.record, &container.paths)?;
        }
        oci::rootfs::release_all(paths)?;
        oci::pod_files::release(paths)?;
        match self.detach_network(paths, record) {
            Err(error) if force => log::warn!(
                "{}; removing the sandbox anyway (--force): what the network's plugins hold \
                 for it may be left",
                crate::error_chain(&error)
            ),
            detached => detached?,
        }
        self.unpin_netns(paths, record)?;
        for kind in JOIN_ORDER {
            namespace::unpin(&paths.namespace(kind))?;
        }
        state::remove_dir_last(paths.dir(), state::STATE_FILE)
    }

    /// Empties and removes the pod's cgroup. Whatever is still in it (a process that left the
    /// pod's namespaces but not its cgroup) is killed all at once first (`cgroup.kill`). A
    /// record that names no cgroup (a corrupt one stood in for, or one from before pods had
    /// cgroups) means the place new pods get theirs (`--cgroup-parent`).
    fn remove_pod_cgroup(&self, paths: &PodPaths, record: &PodRecord) -> Result<()> {
        let path = match &record.cgroup {
            Some(cgroup) => cgroup.path.clone(),
            None => self.pod_cgroup_path(&self.cgroup_parent, paths.name()),
        };
        let cgroup = self.cgroups()?.cgroup(&path);
        kill::kill_cgroup_and_remove(&cgroup, || {
            format!(
                "killing what is left in the cgroup of sandbox {:?}",
                paths.name()
            )
        })
    }

    /// SIGKILLs every process still in one of the pod's pinned namespaces: those no record
    /// names any more (a corrupt or lost state file, a recycled PID in one) or never named
    /// (orphans of a container), which would otherwise outlive the pod unseen.
    fn kill_namespace_members(&self, paths: &PodPaths) -> Result<()> {
        let mut members = Vec::new();
        for kind in JOIN_ORDER {
            if let Some(inode) = namespace::pinned_inode(&paths.namespace(kind))? {
                members.extend(namespace::members(kind, inode, &self.boot_id));
            }
        }
        members.sort_by_key(|m| m.pid);
        members.dedup();
        kill::kill_recorded(&members, &self.boot_id, || {
            format!(
                "killing the processes in the namespaces of sandbox {:?}",
                paths.name()
            )
        })
        .map(drop)
    }

    /// Unpins `/run/netns/NAME` if, and only if, it holds this pod's network namespace.
    /// Anything else there (a namespace `ip netns add` made after ours was deleted, or a path
    /// a forged record names) is left alone, with a warning that says so.
    fn unpin_netns(&self, paths: &PodPaths, record: &PodRecord) -> Result<()> {
        let path = self.netns_path(paths.name());
        if let Some(recorded) = record.netns_path.as_ref().filter(|p| **p != path) {
            log::warn!(
                "sandbox {:?}: leaving {} alone: its record names it as the pod's netns pin, \
                 but that is {}",
                paths.name(),
                recorded.display(),
                path.display()
            );
        }
        let ours = match namespace::pinned_inode(&paths.namespace(NamespaceKind::Net))? {
            Some(inode) => Some(inode),
            None => record
                .namespaces
                .get(&NamespaceKind::Net)
                .map(|pin| pin.inode),
        };
        match namespace::pinned_inode(&path)? {
            Some(inode) if Some(inode) == ours => namespace::unpin(&path),
            Some(inode) => {
                log::warn!(
                    "sandbox {:?}: leaving {} alone: it holds another network namespace \
                     (inode {inode}, the pod's is {})",
                    paths.name(),
                    path.display(),
                    ours.map_or("unknown".to_owned(), |i| i.to_string())
                );
                Ok(())
            }
            // No namespace mounted there: the empty file of a pin this pod began and never
            // finished, if its record claimed the path; else not ours to remove.
            None if record.netns_path.as_ref() == Some(&path) => namespace::unpin(&path),
            None => Ok(()),
        }
    }
}
