//! An OCI container's runtime config (`config.json`), generated with `oci-spec` and made
//! deterministic: the same container gives the same bytes.
//!
//! What CRI-O puts there for a pod member, and why:
//! - namespaces: NET, IPC and UTS are the pod's, joined by their pinned paths; PID is the pod's
//!   with `--share-pid` (pause is PID 1), else new (the command is PID 1, as in Kubernetes);
//!   mount is always new. The cgroup namespace is the host's (hybrid v1 hosts have none to give).
//! - hostname: the pod's. The UTS namespace is the pod's, so any other name would rename the
//!   whole pod (umoci's default config does exactly that).
//! - mounts: `/proc`, `/dev` (a tmpfs where the runtime makes the default devices), `/dev/pts`,
//!   `/dev/mqueue`, `/sys` read-only; `/dev/shm` and `/etc/{hostname,hosts,resolv.conf}` are
//!   binds of the pod's (`pod_files`).
//! - process: the resolved command, environment, working directory and user; CRI-O's default
//!   capabilities; no terminal (stdout and stderr are the container's logs).
//! - linux: masked and read-only `/proc` paths as every runtime's default spec has them, and a
//!   device cgroup that denies all but what the runtime allows by default.

use std::path::{Path, PathBuf};

use oci_spec::runtime::{
    Capability, LinuxBuilder, LinuxCapabilitiesBuilder, LinuxCpuBuilder, LinuxDeviceCgroupBuilder,
    LinuxMemoryBuilder, LinuxNamespaceBuilder, LinuxNamespaceType, LinuxPidsBuilder,
    LinuxResourcesBuilder, Mount, MountBuilder, ProcessBuilder, RootBuilder, SpecBuilder,
    UserBuilder,
};

use super::pod_files;
use crate::error::{Error, Result};
use crate::limits::CPU_PERIOD_US;
use crate::state::PodPaths;
use crate::state::container::{ContainerRecord, OciRecord, PidNamespace};
use crate::state::pod::PodRecord;
use crate::sys::namespace::NamespaceKind;

/// The OCI runtime spec version written.
const OCI_VERSION: &str = "1.0.2";

/// CRI-O's default capabilities (`crio.conf` `default_capabilities`), the set a Kubernetes
/// container gets unless its security context says otherwise, with their numbers
/// (`linux/capability.h`).
const CAPABILITIES: [(Capability, u8); 9] = [
    (Capability::Chown, 0),
    (Capability::DacOverride, 1),
    (Capability::Fowner, 3),
    (Capability::Fsetid, 4),
    (Capability::Kill, 5),
    (Capability::Setgid, 6),
    (Capability::Setuid, 7),
    (Capability::Setpcap, 8),
    (Capability::NetBindService, 10),
];

/// The container's capabilities as a bounding-set mask (bit n: capability n), what an `exec`
/// into it keeps (`pause --bounding-caps`).
pub fn capability_mask() -> u64 {
    CAPABILITIES
        .iter()
        .fold(0, |mask, (_, number)| mask | (1u64 << number))
}

/// What the config is made of.
pub struct Inputs<'a> {
    /// The container, its command resolved.
    pub record: &'a ContainerRecord,
    /// Its OCI section.
    pub oci: &'a OciRecord,
    /// Its root file system, ready.
    pub root: &'a Path,
    /// Its pod.
    pub pod: &'a PodRecord,
    /// Its pod's paths (pins and shared files).
    pub pod_paths: &'a PodPaths,
}

/// The container's `config.json`, as a JSON value whose every list and map is in a fixed order.
pub fn generate(inputs: &Inputs<'_>) -> Result<serde_json::Value> {
    let spec = build(inputs).map_err(|error| Error::Io {
        what: format!(
            "generating the runtime config of container {:?}",
            inputs.record.name
        ),
        source: std::io::Error::other(error.to_string()),
    })?;
    let mut value = serde_json::to_value(&spec).map_err(|error| Error::Io {
        what: format!(
            "serializing the runtime config of container {:?}",
            inputs.record.name
        ),
        source: error.into(),
    })?;
    // Capability sets are hash sets in oci-spec; JSON objects are sorted maps in serde_json.
    if let Some(sets) = value.pointer_mut("/process/capabilities") {
        for set in sets
            .as_object_mut()
            .into_iter()
            .flat_map(|sets| sets.values_mut())
        {
            if let Some(list) = set.as_array_mut() {
                list.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
            }
        }
    }
    Ok(value)
}

fn build(
    inputs: &Inputs<'_>,
) -> std::result::Result<oci_spec::runtime::Spec, oci_spec::OciSpecError> {
    let command = &inputs.record.command;
    let mut env: Vec<String> = vec![format!("HOSTNAME={}", inputs.pod.hostname)];
    env.extend(
        command
            .env
            .iter()
            .filter(|(key, _)| key != "HOSTNAME")
            .map(|(key, value)| format!("{key}={value}")),
    );
    let user = command.user.unwrap_or(crate::User { uid: 0, gid: 0 });
    let capabilities: oci_spec::runtime::Capabilities =
        CAPABILITIES.into_iter().map(|(cap, _)| cap).collect();
    let process = ProcessBuilder::default()
        .terminal(false)
        .args(command.argv.clone())
        .env(env)
        .cwd(command.workdir())
        .user(UserBuilder::default().uid(user.uid).gid(user.gid).build()?)
        .capabilities(
            LinuxCapabilitiesBuilder::default()
                .bounding(capabilities.clone())
                .effective(capabilities.clone())
                .permitted(capabilities)
                // oci-spec's defaults put caps there that are in no other set (EPERM).
                .inheritable(oci_spec::runtime::Capabilities::new())
                .ambient(oci_spec::runtime::Capabilities::new())
                .build()?,
        )
        // Inherited from the runtime, as CRI-O does, rather than oci-spec's 1024 open files.
        .rlimits(Vec::new())
        .no_new_privileges(command.no_new_privs)
        .build()?;

    let pin = |kind: NamespaceKind| inputs.pod_paths.namespace(kind);
    let mut namespaces = vec![
        LinuxNamespaceBuilder::default()
            .typ(LinuxNamespaceType::Network)
            .path(pin(NamespaceKind::Net))
            .build()?,
        LinuxNamespaceBuilder::default()
            .typ(LinuxNamespaceType::Ipc)
            .path(pin(NamespaceKind::Ipc))
            .build()?,
        LinuxNamespaceBuilder::default()
            .typ(LinuxNamespaceType::Uts)
            .path(pin(NamespaceKind::Uts))
            .build()?,
        LinuxNamespaceBuilder::default()
            .typ(LinuxNamespaceType::Mount)
            .build()?,
    ];
    namespaces.push(match inputs.oci.pid_namespace {
        PidNamespace::Pod => LinuxNamespaceBuilder::default()
            .typ(LinuxNamespaceType::Pid)
            .path(pin(NamespaceKind::Pid))
            .build()?,
        PidNamespace::Own => LinuxNamespaceBuilder::default()
            .typ(LinuxNamespaceType::Pid)
            .build()?,
    });
    let mut resources = LinuxResourcesBuilder::default().devices(vec![
        LinuxDeviceCgroupBuilder::default()
            .allow(false)
            .access("rwm")
            .build()?,
    ]);
    let limits = inputs
        .record
        .cgroup
        .as_ref()
        .map(|cgroup| cgroup.limits)
        .unwrap_or_default();
    if let Some(bytes) = limits.memory_bytes {
        let bytes = i64::try_from(bytes).unwrap_or(i64::MAX);
        // Without swap, the limit means what it says (swap = memory + 0).
        resources = resources.memory(
            LinuxMemoryBuilder::default()
                .limit(bytes)
                .swap(bytes)
                .build()?,
        );
    }
    if let Some(quota) = limits.cpu_quota_us() {
        resources = resources.cpu(
            LinuxCpuBuilder::default()
                .quota(i64::try_from(quota).unwrap_or(i64::MAX))
                .period(CPU_PERIOD_US)
                .build()?,
        );
    }
    if let Some(pids) = limits.pids {
        resources = resources.pids(
            LinuxPidsBuilder::default()
                .limit(i64::try_from(pids).unwrap_or(i64::MAX))
                .build()?,
        );
    }
    let mut linux = LinuxBuilder::default()
        .namespaces(namespaces)
        .resources(resources.build()?)
        .masked_paths(oci_spec::runtime::get_default_maskedpaths())
        .readonly_paths(oci_spec::runtime::get_default_readonly_paths());
    if let Some(cgroup) = &inputs.record.cgroup {
        // Absolute: from the root of every hierarchy, below the pod's cgroup.
        linux = linux.cgroups_path(Path::new("/").join(&cgroup.path));
    }
    let linux = linux.build()?;

    SpecBuilder::default()
        .version(OCI_VERSION)
        .root(
            RootBuilder::default()
                .path(inputs.root)
                .readonly(inputs.oci.read_only)
                .build()?,
        )
        .hostname(inputs.pod.hostname.clone())
        .process(process)
        .mounts(mounts(inputs)?)
        .linux(linux)
        .build()
}

fn mounts(inputs: &Inputs<'_>) -> std::result::Result<Vec<Mount>, oci_spec::OciSpecError> {
    let kernel = |destination: &str, typ: &str, source: &str, options: &[&str]| {
        MountBuilder::default()
            .destination(destination)
            .typ(typ)
            .source(source)
            .options(options.iter().map(|o| o.to_string()).collect::<Vec<_>>())
            .build()
    };
    let bind = |destination: &str, source: PathBuf, options: &[&str]| {
        MountBuilder::default()
            .destination(destination)
            .typ("bind")
            .source(source)
            .options(options.iter().map(|o| o.to_string()).collect::<Vec<_>>())
            .build()
    };
    let mut mounts = vec![
        kernel("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"])?,
        kernel(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        )?,
        kernel(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        )?,
        kernel(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        )?,
        kernel(
            "/sys",
            "sysfs",
            "sysfs",
            &["nosuid", "noexec", "nodev", "ro"],
        )?,
        bind(
            "/dev/shm",
            inputs.pod_paths.shm(),
            &["rbind", "nosuid", "nodev", "noexec"],
        )?,
    ];
    let file_options: &[&str] = if inputs.oci.read_only {
        &["bind", "nosuid", "nodev", "noexec", "ro"]
    } else {
        &["bind", "nosuid", "nodev", "noexec"]
    };
    for (destination, source) in pod_files::etc_files(inputs.pod_paths) {
        mounts.push(bind(destination, source, file_options)?);
    }
    Ok(mounts)
}
