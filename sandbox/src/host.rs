//! The host side of every operation: where state lives, which `pause` runs the pods, where
//! `ip netns` looks for network namespaces, and which boot this is.

use std::path::{Path, PathBuf};

use crate::error::{Context, Error, Result};
use crate::network::CniPaths;
use crate::state::Store;
use crate::sys::cgroup::Hierarchies;
use crate::sys::process;

/// The cgroup under which pods get theirs when `create` is given no `--cgroup-parent`: at the
/// top of every hierarchy, like the kubelet's `kubepods`.
pub const DEFAULT_CGROUP_PARENT: &str = "sandbox";

/// Where `ip netns` keeps named network namespaces.
pub const DEFAULT_NETNS_DIR: &str = "/run/netns";

/// What every pod operation needs to know about the host.
#[derive(Debug)]
pub struct Host {
    pub(crate) store: Store,
    pub(crate) pause: PathBuf,
    pub(crate) netns_dir: PathBuf,
    pub(crate) boot_id: String,
    pub(crate) runtime: Option<PathBuf>,
    pub(crate) cgroup_parent: PathBuf,
    pub(crate) cni: CniPaths,
    cgroups: std::sync::OnceLock<Hierarchies>,
}

impl Host {
    /// Opens the state root `root` and checks that `pause` is a usable static binary.
    pub fn new(root: impl AsRef<Path>, pause: PathBuf, netns_dir: PathBuf) -> Result<Host> {
        check_privileged()?;
        check_pause_binary(&pause)?;
        Ok(Host {
            store: Store::open(root)?,
            pause,
            netns_dir,
            boot_id: process::boot_id()?,
            runtime: None,
            cgroup_parent: PathBuf::from(DEFAULT_CGROUP_PARENT),
            cni: CniPaths::default(),
            cgroups: std::sync::OnceLock::new(),
        })
    }

    /// Names the OCI runtime that runs image and root file system containers (a path, or a
    /// name looked up in PATH); without one, the first of runc and crun in PATH.
    pub fn with_runtime(mut self, runtime: Option<PathBuf>) -> Host {
        self.runtime = runtime;
        self
    }

    /// Sets the cgroup new pods' cgroups go under unless `create` names one (checked with
    /// `sys::cgroup::check_path`), and where `rm --force` looks for the cgroup of a pod whose
    /// record is unreadable; `None` keeps [`DEFAULT_CGROUP_PARENT`].
    pub fn with_cgroup_parent(mut self, parent: Option<PathBuf>) -> Host {
        if let Some(parent) = parent {
            self.cgroup_parent = parent;
        }
        self
    }

    /// Sets where network names and CNI plugins are looked up.
    pub fn with_cni(mut self, cni: CniPaths) -> Host {
        self.cni = cni;
        self
    }

    /// The host's cgroup hierarchies, read from its mount table the first time they are needed.
    pub(crate) fn cgroups(&self) -> Result<&Hierarchies> {
        if let Some(hierarchies) = self.cgroups.get() {
            return Ok(hierarchies);
        }
        let hierarchies = Hierarchies::of_host()?;
        Ok(self.cgroups.get_or_init(|| hierarchies))
    }

    /// The state root.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Where `ip netns` finds the network namespace of pod `name` (which must be valid).
    pub fn netns_path(&self, name: &str) -> PathBuf {
        self.netns_dir.join(name)
    }
}

/// The `pause` binary to use: `explicit` if given, else the one next to the running executable
/// (so `target/release/` and an installed `/usr/local/bin` both work).
pub fn locate_pause(explicit: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(path) = explicit {
        return Ok(path);
    }
    let exe = std::env::current_exe().context(|| "finding the sandbox executable")?;
    Ok(exe.with_file_name("pause"))
}

/// Fails unless we hold CAP_SYS_ADMIN (creating, joining and pinning namespaces need it).
pub fn check_privileged() -> Result<()> {
    const CAP_SYS_ADMIN: u32 = 21;
    let status = std::fs::read_to_string("/proc/self/status")
        .context(|| "reading /proc/self/status for our capabilities")?;
    let effective = status
        .lines()
        .find_map(|line| line.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .unwrap_or(0);
    if effective & (1 << CAP_SYS_ADMIN) == 0 {
        return Err(Error::NotPrivileged);
    }
    Ok(())
}

/// Checks that `path` is an executable, statically linked ELF: the pod's PID 1 and every
/// monitor run it, and a dynamic one would depend on the host's libc staying put.
pub fn check_pause_binary(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let problem = |reason: &str| Error::PauseBinary {
        path: path.to_owned(),
        reason: reason.to_owned(),
    };
    let meta = std::fs::metadata(path).map_err(|e| {
        problem(&format!(
            "{e} (build it with `cargo build --workspace`, or pass --pause PATH / SANDBOX_PAUSE)"
        ))
    })?;
    if !meta.is_file() || meta.permissions().mode() & 0o111 == 0 {
        return Err(problem("not an executable file"));
    }
    let executable =
        crate::binary::inspect_file(path).map_err(|e| problem(&crate::error_chain(&e)))?;
    if let Some(loader) = &executable.interpreter {
        return Err(problem(&format!(
            "dynamically linked (it asks for {}); pause must be static (it is built for a \
             *-linux-musl target)",
            loader.display()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dynamic_binary_is_refused() {
        let dynamic = Path::new("/bin/sh");
        let err = check_pause_binary(dynamic).unwrap_err().to_string();
        assert!(err.contains("dynamically linked"), "{err}");
        let missing = check_pause_binary(Path::new("/nonexistent/pause")).unwrap_err();
        assert!(missing.to_string().contains("cargo build"), "{missing}");
    }
}
