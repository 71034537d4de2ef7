//! Every path under the state root, in one place. Names are validated before they become
//! path components ([`super::validate_name`]), so no path built here leaves its directory.
//!
//! ```text
//! <root>/                      0700, root-owned, no symlink in any component
//!   .locks/<pod>               flock(2) held by every command that changes <pod>
//!   <pod>/                     0700
//!     state.json               the pod record (state::pod)
//!     pause.log                the holder's stderr
//!     ns/{ipc,uts,net[,pid]}   pins of the holder's namespaces
//!     execs/<pid>.json         one record per running `exec` (state::exec)
//!     containers/<c>/
//!       state.json             the container record (state::container)
//!       exit.json              written by the monitor when the container exits
//!       stdout.log stderr.log
//! ```

use std::path::{Path, PathBuf};

use crate::sys::namespace::NamespaceKind;

/// The name of every record file.
pub(crate) const STATE_FILE: &str = "state.json";
/// The directory of the locks, directly under the root.
pub(crate) const LOCKS_DIR: &str = ".locks";
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
}
