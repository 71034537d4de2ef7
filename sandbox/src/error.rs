//! The one error type of the library. Each variant names what failed and on which object; the
//! kernel's or the OS's reason travels as `#[source]`, so `main` prints the whole chain once,
//! joined by `": "` (`pinning net namespace of sandbox "web" at /run/sandbox/web/ns/net: EBUSY`).

use std::path::PathBuf;

use nix::errno::Errno;

/// Everything that can go wrong in a sandbox operation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A pod or container name, hostname, signal, user or environment entry was refused.
    #[error("invalid {what} {value:?}: {reason}")]
    InvalidInput {
        /// What kind of input ("sandbox name", "signal", ...).
        what: &'static str,
        /// The input as given.
        value: String,
        /// Why it was refused.
        reason: String,
    },
    /// `sandbox` lacks the privilege to create or join namespaces.
    #[error(
        "sandbox needs root (CAP_SYS_ADMIN) to create, join and pin namespaces: run it as root"
    )]
    NotPrivileged,
    /// A Pod manifest `play` cannot run: it does not parse, does not fit the Pod schema, or
    /// holds invalid values. Every problem is named by its line and column or its field path.
    #[error("{file}: {}", problem_list(problems))]
    Manifest {
        /// The manifest's file (`-`: stdin).
        file: String,
        /// What is wrong, one line each, starting with where.
        problems: Vec<String>,
    },
    /// A Pod manifest sets fields `play` does not support.
    #[error(
        "{file}: {} not supported (--ignore-unsupported runs it without them):\n  {}",
        if fields.len() == 1 { "a field it sets is" } else { "fields it sets are" },
        fields.join("\n  ")
    )]
    ManifestUnsupported {
        /// The manifest's file.
        file: String,
        /// Each field, `PATH: not supported` (or why its value is not).
        fields: Vec<String>,
    },
    /// An init container of a pod `play` made did not exit 0; the pods are removed.
    #[error(
        "init container {container:?} of sandbox {pod:?} exited with code {exit_code}{}",
        said_suffix(said)
    )]
    InitContainerFailed {
        /// Pod name.
        pod: String,
        /// Container name.
        container: String,
        /// Its exit code.
        exit_code: i32,
        /// The end of what it wrote.
        said: String,
    },
    /// The pod name is taken.
    #[error("sandbox {0:?} already exists")]
    PodExists(String),
    /// No pod of that name.
    #[error("sandbox {0:?} does not exist")]
    PodNotFound(String),
    /// The pod must be running for this operation.
    #[error("sandbox {pod:?} is {state}, not running")]
    PodNotRunning {
        /// Pod name.
        pod: String,
        /// Its current state.
        state: String,
    },
    /// `rm` of a pod that still runs something, without `--force`.
    #[error("sandbox {pod:?} {what}: stop it first, or remove it with --force")]
    PodBusy {
        /// Pod name.
        pod: String,
        /// "is running" or "has running containers".
        what: &'static str,
    },
    /// The container name is taken in this pod.
    #[error("container {container:?} already exists in sandbox {pod:?}")]
    ContainerExists {
        /// Pod name.
        pod: String,
        /// Container name.
        container: String,
    },
    /// No container of that name in this pod.
    #[error("container {container:?} does not exist in sandbox {pod:?}")]
    ContainerNotFound {
        /// Pod name.
        pod: String,
        /// Container name.
        container: String,
    },
    /// The container's command could not be executed (not found: 127, not executable: 126).
    #[error("starting container {container:?}: {command:?}: {reason}")]
    ExecFailed {
        /// Container name.
        container: String,
        /// The command as given.
        command: String,
        /// Why, e.g. "command not found".
        reason: String,
        /// The exit code to report (126 or 127).
        exit_code: u8,
    },
    /// A state file exists but cannot be understood.
    #[error("corrupt state file {path}")]
    CorruptState {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        #[source]
        source: serde_json::Error,
    },
    /// The state root or a file in it is unsafe to use.
    #[error("refusing to use {path}: {reason}")]
    UnsafePath {
        /// The path.
        path: PathBuf,
        /// Why it is unsafe.
        reason: String,
    },
    /// The `pause` binary is missing or unusable.
    #[error("pause binary {path}: {reason}")]
    PauseBinary {
        /// Where it was looked for.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The container cannot be removed while it runs.
    #[error(
        "container {container:?} of sandbox {pod:?} is running: stop it first, or remove it with --force"
    )]
    ContainerBusy {
        /// Pod name.
        pod: String,
        /// Container name.
        container: String,
    },
    /// `pause` exited before the pod was set up; `said` is what it wrote on stderr.
    #[error("pause of sandbox {pod:?} exited at once{}", said_suffix(said))]
    PauseDied {
        /// Pod name.
        pod: String,
        /// pause's stderr, trimmed (empty if it said nothing).
        said: String,
    },
    /// A network configuration list that cannot be used.
    #[error("network configuration {path}: {reason}")]
    NetworkConfig {
        /// The list's file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// No network of that name. ("bridge" is `network::BUILTIN_NAME`, which `pod::network`
    /// supplies when no list has its name.)
    #[error(
        "no network {name:?}: no .conflist in {} has that name{}; --network takes a name, a path \
         to a .conflist, or \"bridge\" (built in)",
        config_dir.display(),
        unreadable_suffix(unreadable)
    )]
    NetworkNotFound {
        /// The name asked for.
        name: String,
        /// Where it was looked for.
        config_dir: PathBuf,
        /// The lists there that could not be read, with why.
        unreadable: Vec<String>,
    },
    /// A plugin a network needs is not installed.
    #[error(
        "CNI plugin {plugin:?} of network {network:?} is not in {} (install \
         containernetworking-plugins, or name its directory with --cni-plugin-dir)",
        std::env::join_paths(dirs).map(|p| p.to_string_lossy().into_owned()).unwrap_or_default()
    )]
    CniPluginMissing {
        /// The network.
        network: String,
        /// The plugin's type.
        plugin: String,
        /// Where it was looked for.
        dirs: Vec<PathBuf>,
    },
    /// A CNI plugin failed; `message` is its own (`msg: details`), `code` its error code.
    #[error(
        "CNI {verb} of network {network:?} failed in plugin {plugin:?}: {message}{}",
        code.map(|code| format!(" (CNI error code {code})")).unwrap_or_default()
    )]
    CniPlugin {
        /// The network.
        network: String,
        /// The plugin's type.
        plugin: String,
        /// "ADD" or "DEL".
        verb: &'static str,
        /// The CNI error code it returned, if it printed an error object.
        code: Option<u64>,
        /// What it said.
        message: String,
    },
    /// DEL of a pod's network failed: what it reserved may still be held. The pod is kept
    /// (with its namespace pinned, which a later DEL needs).
    #[error(
        "detaching sandbox {pod:?} from network {network:?} (the sandbox is kept, so that \
         `sandbox rm` can try again; `sandbox rm --force` removes it anyway)"
    )]
    NetworkDetach {
        /// Pod name.
        pod: String,
        /// The network.
        network: String,
        /// The plugin's failure.
        #[source]
        source: Box<Error>,
    },
    /// A lock was not free within the time its holders should need.
    #[error(
        "{guarded} is still locked after {} s ({}): processes an earlier command started \
         still hold it; try again once they are done",
        waited.as_secs(),
        path.display()
    )]
    LockTimeout {
        /// What the lock guards.
        guarded: String,
        /// The lock file.
        path: PathBuf,
        /// How long we waited.
        waited: std::time::Duration,
    },
    /// ADD of a pod's network failed (then its rollback ran DEL).
    #[error("attaching sandbox {pod:?} to network {network:?}")]
    NetworkAttach {
        /// Pod name.
        pod: String,
        /// The network.
        network: String,
        /// What failed.
        #[source]
        source: Box<Error>,
    },
    /// `--publish` of a host port another pod has published.
    #[error("host port {port} ({mapping}) is already published by sandbox {pod:?}")]
    PortInUse {
        /// The host side of the mapping (`[HOST_IP:]PORT/PROTOCOL`).
        port: String,
        /// The mapping as given.
        mapping: String,
        /// The pod that has it.
        pod: String,
    },
    /// `--publish` on a network with no plugin that publishes ports.
    #[error(
        "network {network:?} cannot publish ports: none of its plugins has the portMappings \
         capability (add the portmap plugin to its list)"
    )]
    NoPortPlugin {
        /// The network.
        network: String,
    },
    /// A container's monitor ended before it reported whether the command started.
    #[error(
        "starting container {container:?}: its monitor (pid {monitor_pid}) ended without reporting the command's start{}",
        said_suffix(said)
    )]
    MonitorDied {
        /// Container name.
        container: String,
        /// The monitor's PID.
        monitor_pid: i32,
        /// What it wrote on stderr, trimmed.
        said: String,
    },
    /// The container must be running for this operation.
    #[error("container {container:?} of sandbox {pod:?} is not running")]
    ContainerNotRunning {
        /// Pod name.
        pod: String,
        /// Container name.
        container: String,
    },
    /// No OCI runtime to run an image or root file system with.
    #[error(
        "no OCI runtime: looked for {looked_for} (PATH={path}); install runc or crun, or name one with --runtime"
    )]
    RuntimeNotFound {
        /// What was looked for.
        looked_for: String,
        /// The PATH searched.
        path: String,
    },
    /// The OCI runtime failed to create, start or delete a container.
    #[error("{what}: {} exited with {code}{}", runtime.display(), said_suffix(said))]
    RuntimeFailed {
        /// What the runtime was asked to do, to which container and pod.
        what: String,
        /// The runtime program.
        runtime: PathBuf,
        /// Its exit code.
        code: i32,
        /// What it wrote on stderr, trimmed.
        said: String,
    },
    /// `rmi` of an image a container uses.
    #[error("image {image} is used by {}: remove {} first", containers.join(", "), if containers.len() == 1 { "it" } else { "them" })]
    ImageInUse {
        /// The image as named.
        image: String,
        /// The containers that use it, as `POD/CONTAINER`.
        containers: Vec<String>,
    },
    /// An image's config cannot give a container what it needs.
    #[error("image {image}: {reason}")]
    ImageConfig {
        /// The image's reference (or the root file system's path).
        image: String,
        /// What is wrong.
        reason: String,
    },
    /// A container's monitor died without recording how the container ended.
    #[error(
        "container {container:?} of sandbox {pod:?}: its monitor (pid {monitor_pid}) died without recording an exit status"
    )]
    ExitUnknown {
        /// Pod name.
        pod: String,
        /// Container name.
        container: String,
        /// The monitor's PID.
        monitor_pid: i32,
    },
    /// Processes were sent SIGKILL and were still there when the wait ran out.
    #[error("{what}: {} still running {}s after SIGKILL", pid_list(pids), timeout.as_secs())]
    Survived {
        /// What was being killed.
        what: String,
        /// The PIDs still running.
        pids: Vec<i32>,
        /// How long they were waited for.
        timeout: std::time::Duration,
    },
    /// A record was asked to move to a phase its life cycle does not allow (a bug, or a
    /// record changed behind our back).
    #[error("{what} cannot go from {from} to {to}")]
    Transition {
        /// The object.
        what: String,
        /// Its recorded phase.
        from: &'static str,
        /// The phase asked for.
        to: &'static str,
    },
    /// An image reference, an image layout, one of its blobs, or the image's platform was
    /// refused: `image` is the reference (or digest) as the user gave it, `reason` says what is
    /// wrong with what.
    #[error("image {image}: {reason}")]
    ImageInvalid {
        /// The image reference or digest.
        image: String,
        /// What is wrong, naming the blob, tag, layer or entry.
        reason: String,
    },
    /// No image in the image store matches a reference or digest.
    #[error("image {image} is not in the image store")]
    ImageNotFound {
        /// The reference or digest as given, or the name made canonical.
        image: String,
    },
    /// A container asked for an image by a name that no image in the store has: nothing is
    /// pulled for a name, so the hint says how to load one.
    #[error(
        "image {name:?} is not in the store: load it with `sandbox load oci-archive:FILE --name {given}`"
    )]
    ImageNotLoaded {
        /// The name made canonical (`docker.io/library/nginx:1.25`).
        name: String,
        /// The name as given (`nginx:1.25`).
        given: String,
    },
    /// The host lacks what an operation needs (a cgroup controller, a cgroup file system).
    #[error("{what} is not possible on this host: {reason}")]
    Unsupported {
        /// What was asked for.
        what: String,
        /// What the host lacks.
        reason: String,
    },
    /// A system call failed while doing `what`.
    #[error("{what}")]
    Os {
        /// The operation and its object.
        what: String,
        /// The kernel's answer.
        #[source]
        source: Errno,
    },
    /// An I/O operation failed while doing `what`.
    #[error("{what}")]
    Io {
        /// The operation and its object.
        what: String,
        /// The OS's answer.
        #[source]
        source: std::io::Error,
    },
}

fn unreadable_suffix(unreadable: &[String]) -> String {
    if unreadable.is_empty() {
        return String::new();
    }
    format!(" (unreadable: {})", unreadable.join("; "))
}

fn said_suffix(said: &str) -> String {
    if said.is_empty() {
        String::new()
    } else {
        format!("; it said: {said}")
    }
}

fn problem_list(problems: &[String]) -> String {
    match problems {
        [one] => one.clone(),
        _ => format!("{} problems:\n  {}", problems.len(), problems.join("\n  ")),
    }
}

fn pid_list(pids: &[i32]) -> String {
    let list: Vec<String> = pids.iter().map(i32::to_string).collect();
    match pids {
        [_] => format!("pid {}", list.join("")),
        _ => format!("pids {}", list.join(", ")),
    }
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Attaches "what was being done, to what" to an `Errno` or `io::Error`.
pub trait Context<T> {
    /// Wraps the error with a description built only when it fails.
    fn context<S: Into<String>>(self, what: impl FnOnce() -> S) -> Result<T>;
}

impl<T> Context<T> for std::result::Result<T, Errno> {
    fn context<S: Into<String>>(self, what: impl FnOnce() -> S) -> Result<T> {
        self.map_err(|source| Error::Os {
            what: what().into(),
            source,
        })
    }
}

impl<T> Context<T> for std::result::Result<T, std::io::Error> {
    fn context<S: Into<String>>(self, what: impl FnOnce() -> S) -> Result<T> {
        self.map_err(|source| Error::Io {
            what: what().into(),
            source,
        })
    }
}

impl Error {
    /// Prefixes the description of an OS error with the operation it was part of; other
    /// errors already name their object and are returned as they are.
    pub fn within(self, operation: &str) -> Error {
        match self {
            Error::Os { what, source } => Error::Os {
                what: format!("{operation}: {what}"),
                source,
            },
            other => other,
        }
    }

    /// The exit code the CLI reports for this error: 126/127 when a container's command could
    /// not be run, 125 for every failure of `sandbox` itself (as podman and docker do).
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::ExecFailed { exit_code, .. } => *exit_code,
            _ => 125,
        }
    }
}
