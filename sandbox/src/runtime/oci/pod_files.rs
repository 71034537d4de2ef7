//! What a pod's OCI containers share besides namespaces, made once per pod (for its first OCI
//! container) and bind-mounted into each: `/dev/shm`, one tmpfs for the pod as Kubernetes gives
//! it through the pause container's IPC namespace (POSIX shared memory lives in that tmpfs, not
//! in the IPC namespace), and `/etc/hostname`, `/etc/hosts` and `/etc/resolv.conf`.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use crate::error::{Context, Result};
use crate::state::{self, PodPaths};
use crate::sys::mount;

/// Size and mode of a pod's `/dev/shm`, as CRI-O and the kubelet default to.
const SHM_OPTIONS: &str = "mode=1777,size=65536k";

/// The files bind-mounted into each OCI container, by their path inside it.
pub fn etc_files(pod: &PodPaths) -> [(&'static str, PathBuf); 3] {
    let dir = pod.etc_dir();
    [
        ("/etc/hostname", dir.join("hostname")),
        ("/etc/hosts", dir.join("hosts")),
        ("/etc/resolv.conf", dir.join("resolv.conf")),
    ]
}

/// Makes the pod's `/dev/shm` and `/etc` files if they are not there yet; the caller holds the
/// pod's lock.
/// `address`: the pod's own (from its network), which its hostname names.
pub fn ensure(pod: &PodPaths, hostname: &str, address: Option<IpAddr>) -> Result<()> {
    let shm = pod.shm();
    if !is_mount_point(&shm)? {
        state::create_private_dir(&shm)?;
        mount::mount_tmpfs(&shm, &format!("shm-{}", pod.name()), SHM_OPTIONS)?;
    }
    state::create_private_dir(&pod.etc_dir())?;
    let [(_, hostname_file), (_, hosts_file), (_, resolv_file)] = etc_files(pod);
    write_once(&hostname_file, || Ok(format!("{hostname}\n").into_bytes()))?;
    write_once(&hosts_file, || Ok(hosts(hostname, address).into_bytes()))?;
    write_once(&resolv_file, || match std::fs::read("/etc/resolv.conf") {
        Ok(bytes) => Ok(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e).context(|| "reading the host's /etc/resolv.conf"),
    })
}

/// Unmounts the pod's `/dev/shm`; the files go with the pod's directory.
pub fn release(pod: &PodPaths) -> Result<()> {
    mount::unmount(&pod.shm())
}

/// The pod's `/etc/hosts`: localhost, and the pod's hostname on its address (on 127.0.1.1 when
/// it has none, as Debian maps a host without one).
fn hosts(hostname: &str, address: Option<IpAddr>) -> String {
    let address = address.map_or("127.0.1.1".to_owned(), |ip| ip.to_string());
    format!(
        "# sandbox-managed hosts file.\n\
         127.0.0.1\tlocalhost\n\
         ::1\tlocalhost ip6-localhost ip6-loopback\n\
         {address}\t{hostname}\n"
    )
}

/// Writes `path` unless it exists (the pod's second container reads nothing): atomically,
/// readable by the container's user (0644).
fn write_once(path: &Path, contents: impl FnOnce() -> Result<Vec<u8>>) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if path.exists() {
        return Ok(());
    }
    let contents = contents()?;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, contents)
        .and_then(|()| std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o644)))
        .and_then(|()| std::fs::rename(&tmp, path))
        .context(|| format!("writing {}", path.display()))
}

/// Whether `path` is a mount point: it exists and its device differs from its parent's.
fn is_mount_point(path: &Path) -> Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let parent = path.parent().unwrap_or(Path::new("/"));
    let dev = |p: &Path| {
        std::fs::symlink_metadata(p)
            .map(|meta| meta.dev())
            .context(|| format!("reading {}", p.display()))
    };
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        _ => Ok(dev(path)? != dev(parent)?),
    }
}
