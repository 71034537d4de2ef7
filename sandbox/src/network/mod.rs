//! Pod networking through CNI plugins, as libcni runs them: ADD runs a list's plugins in
//! order, each getting the result so far as `prevResult`; DEL runs them in reverse, each
//! getting the last ADD result; that result is kept with the pod (`PodRecord::network`), saved
//! after every plugin, so a DEL always has what ADD returned, even after a killed `create`.
//!
//! This module knows lists, plugins and results; when they run is the pod verbs' business
//! (`pod::network`): ADD once the namespaces are pinned, DEL before they are unpinned (the
//! bridge plugin finds what to un-masquerade on the pod's live interface).

mod conflist;
mod host_local;
mod plugin;
mod ports;
mod status;

use std::ffi::OsStr;
use std::os::fd::BorrowedFd;
use std::path::{Path, PathBuf};

use serde_json::Value;

pub use self::conflist::{
    BUILTIN_FILE, BUILTIN_NAME, Conflist, SUPPORTED_VERSIONS, builtin, conflist_files, find,
};
pub use self::host_local::{Reservation, reservations};
use self::plugin::Verb;
pub use self::ports::{PortMapping, Protocol};
pub use self::status::NetworkStatus;
use crate::error::{Error, Result};

/// The interface a pod's network gives it.
pub const INTERFACE: &str = "eth0";

/// The default of [`CniPaths::config_dir`].
pub const DEFAULT_CONFIG_DIR: &str = "/etc/cni/net.d";
/// The default plugin search path: Debian's directory, then the upstream's.
pub const DEFAULT_PLUGIN_PATH: &str = "/usr/lib/cni:/opt/cni/bin";

/// Where network lists and CNI plugins are looked up.
#[derive(Clone, Debug)]
pub struct CniPaths {
    /// Where network names are looked up (`*.conflist`).
    pub config_dir: PathBuf,
    /// Where plugins are looked up, in order; absolute paths only.
    pub plugin_dirs: Vec<PathBuf>,
}

impl CniPaths {
    /// The paths of `config_dir` and of a search path of plugin directories separated by ':'
    /// (as `CNI_PATH`). Empty and relative entries are left out: they would run plugins
    /// from whatever the working directory is.
    pub fn new(config_dir: PathBuf, plugin_path: &OsStr) -> CniPaths {
        let plugin_dirs = std::env::split_paths(plugin_path)
            .filter(|dir| {
                let absolute = dir.is_absolute();
                if !absolute && !dir.as_os_str().is_empty() {
                    log::warn!(
                        "ignoring CNI plugin directory {}: not an absolute path",
                        dir.display()
                    );
                }
                absolute
            })
            .collect();
        CniPaths {
            config_dir,
            plugin_dirs,
        }
    }
}

impl Default for CniPaths {
    fn default() -> CniPaths {
        CniPaths::new(
            PathBuf::from(DEFAULT_CONFIG_DIR),
            OsStr::new(DEFAULT_PLUGIN_PATH),
        )
    }
}

impl Conflist {
    /// Fails unless every plugin of the list is in `plugin_dirs`.
    pub fn check_plugins(&self, plugin_dirs: &[PathBuf]) -> Result<()> {
        executables(self, plugin_dirs).map(drop)
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
    /// A lock each plugin holds while it runs, and any process it leaves (see
    /// `plugin::Call::hold`).
    pub hold: Option<BorrowedFd<'a>>,
}

impl Attachment<'_> {
    /// Runs ADD through the list; `progress` gets the result after each plugin (to save it
    /// before the next one runs). Every plugin is found before the first runs, so a missing
    /// one fails with nothing done. On failure nothing is undone here: the caller DELs with
    /// the last result `progress` got.
    pub fn add(&self, mut progress: impl FnMut(&Value) -> Result<()>) -> Result<Value> {
        let executables = executables(self.conflist, self.plugin_dirs)?;
        let call = self.call(Verb::Add);
        let mut result: Option<Value> = None;
        for (index, (kind, executable)) in executables.iter().enumerate() {
            let config = self
                .conflist
                .plugin_config(index, result.as_ref(), self.ports);
            let added = plugin::execute(&call, kind, executable, &config)?;
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
    /// failure is returned, the others logged.
    pub fn del(&self, prev_result: Option<&Value>) -> Result<()> {
        let executables = executables(self.conflist, self.plugin_dirs)?;
        let call = self.call(Verb::Del);
        let mut first_error = None;
        for (index, (kind, executable)) in executables.iter().enumerate().rev() {
            let config = self.conflist.plugin_config(index, prev_result, self.ports);
            if let Err(error) = plugin::execute(&call, kind, executable, &config) {
                if first_error.is_some() {
                    log::warn!("{}", crate::error_chain(&error));
                }
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
}

/// The executable of each plugin of `conflist`, in order.
fn executables<'l>(
    conflist: &'l Conflist,
    plugin_dirs: &[PathBuf],
) -> Result<Vec<(&'l str, PathBuf)>> {
    conflist
        .plugin_types()
        .into_iter()
        .map(|kind| match plugin::find(kind, plugin_dirs) {
            Some(path) => Ok((kind, path)),
            None => Err(Error::CniPluginMissing {
                network: conflist.name().to_owned(),
                plugin: kind.to_owned(),
                dirs: plugin_dirs.to_vec(),
            }),
        })
        .collect()
}
