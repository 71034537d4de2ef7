//! Every path under the state root, in one place. Names are validated before they become
//! path components ([`super::validate_name`]), so no path built here leaves its directory.
//!
//! ```text
//! <root>/                      0700, root-owned, no symlink in any component
//!   .locks/<pod>               flock(2) held by every command that changes <pod>
//!   .locks/.published-ports    held by a create that publishes ports, from its check to its record
//!   .locks/.networks           held while the built-in list is written and stale reservations released
//!   .cni/bridge.conflist       the built-in network (crate::network), written on its first use
//!   .cni/ipam/bridge/          host-local's reservations for it
//!   .images/                   unpacked OCI images, one directory per layer (crate::image)
//!   .runtimes/<runtime>/       an OCI runtime's own state (its --root)
//!   <pod>/                     0700
//!     state.json               the pod record (state::pod)
//!     pause.log                the holder's stderr
//!     cni.lock                 flock(2) held by its CNI ADD and DEL, and by their plugins
//!     ns/{ipc,uts,net[,pid]}   pins of the holder's namespaces
//!     execs/<pid>.json         one record per running `exec` (state::exec)
//!     shm/                     the pod's /dev/shm, a tmpfs (made for its first OCI container)
//!     etc/{hostname,hosts,resolv.conf}   bind-mounted into every OCI container of the pod
//!     containers/<c>/
//!       state.json             the container record (state::container)
//!       exit.json              written by the monitor when the container exits
//!       stdout.log stderr.log
//!       pre-stop.log           what its preStop hook wrote at its latest stop
//!       config.json            OCI containers: the bundle's runtime config (the bundle is <c>/)
//!       init.pid               the runtime's --pid-file
//!       rootfs/ upper/ work/   the overlay of the image's layers and its writable layer
//! ```

use std::path::{Path, PathBuf};

use crate::sys::namespace::NamespaceKind;

/// The image store, directly under the root (a name no pod can have).
pub(crate) const IMAGES_DIR: &str = ".images";
/// The OCI runtimes' state directories, directly under the root.
pub(crate) const RUNTIMES_DIR: &str = ".runtimes";
/// The name of every record file.
pub(crate) const STATE_FILE: &str = "state.json";
/// The directory of the locks, directly under the root.
pub(crate) const LOCKS_DIR: &str = ".locks";
/// The directory of the networks' files, directly under the root.
pub(crate) const NETWORK_DIR: &str = ".cni";
const EXIT_FILE: &str = "exit.json";

/// The paths of one pod.
#[derive(Clone, Debug)]
pub struct PodPaths {
    name: String,
    dir: PathBuf,
}

impl PodPaths {
    pub(crate) fn new(root: &Path, name: &str) -> PodPaths {
        PodPaths {
            name: name.to_owned(),
            dir: root.join(name),
        }
    }

    /// The pod's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `<root>/<pod>`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The pod record.
    pub fn state(&self) -> PathBuf {
        self.dir.join(STATE_FILE)
    }

    /// The lock its CNI ADD and DEL hold, and their plugins inherit.
    pub fn network_lock(&self) -> PathBuf {
        self.dir.join("cni.lock")
    }

    /// pause's stderr.
    pub fn pause_log(&self) -> PathBuf {
        self.dir.join("pause.log")
    }

    /// The directory of the pins.
    pub fn ns_dir(&self) -> PathBuf {
        self.dir.join("ns")
    }

    /// The pin of namespace `kind`.
    pub fn namespace(&self, kind: NamespaceKind) -> PathBuf {
        self.ns_dir().join(kind.proc_name())
    }

    /// The directory of the exec records.
    pub fn execs_dir(&self) -> PathBuf {
        self.dir.join("execs")
    }

    /// The record of the exec whose launcher is `pid`.
    pub fn exec(&self, pid: i32) -> PathBuf {
        self.execs_dir().join(format!("{pid}.json"))
    }

    /// The pod's `/dev/shm`: one tmpfs shared by its OCI containers.
    pub fn shm(&self) -> PathBuf {
        self.dir.join("shm")
    }

    /// The directory of the files bind-mounted into its OCI containers' `/etc`.
    pub fn etc_dir(&self) -> PathBuf {
        self.dir.join("etc")
    }

    /// The directory of the containers.
    pub fn containers_dir(&self) -> PathBuf {
        self.dir.join("containers")
    }

    /// The paths of container `name` (which must be valid).
    pub fn container(&self, name: &str) -> ContainerPaths {
        ContainerPaths {
            name: name.to_owned(),
            dir: self.containers_dir().join(name),
        }
    }
}

/// The paths of one container.
#[derive(Clone, Debug)]
pub struct ContainerPaths {
    name: String,
    dir: PathBuf,
}

impl ContainerPaths {
    /// The container's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `<root>/<pod>/containers/<name>`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The container record.
    pub fn state(&self) -> PathBuf {
        self.dir.join(STATE_FILE)
    }

    /// The exit record the monitor writes.
    pub fn exit(&self) -> PathBuf {
        self.dir.join(EXIT_FILE)
    }

    /// The container's stdout.
    pub fn stdout(&self) -> PathBuf {
        self.dir.join("stdout.log")
    }

    /// The container's stderr.
    pub fn stderr(&self) -> PathBuf {
        self.dir.join("stderr.log")
    }

    /// What the container's preStop hook wrote (stdout and stderr) at its latest stop.
    pub fn pre_stop_log(&self) -> PathBuf {
        self.dir.join("pre-stop.log")
    }

    /// The OCI runtime config of an OCI container; its directory is the bundle.
    pub fn config(&self) -> PathBuf {
        self.dir.join("config.json")
    }

    /// Where the OCI runtime writes the container's host PID.
    pub fn init_pid(&self) -> PathBuf {
        self.dir.join("init.pid")
    }

    /// The container's root file system (an overlay mount point for an image).
    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }

    /// The overlay's writable layer.
    pub fn upper(&self) -> PathBuf {
        self.dir.join("upper")
    }

    /// The overlay's work directory.
    pub fn work(&self) -> PathBuf {
        self.dir.join("work")
    }
}
