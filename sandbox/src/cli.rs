//! The command line: clap types only. Each subcommand is one struct whose `///` comments are
//! its `--help`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Kubernetes-style pod sandboxes on a Linux host: namespaces held by pause, app containers
/// joined to them, and a graceful stop with exit codes 128+n.
///
/// Every failure of sandbox itself exits 125; `exec`, `run` and `wait` otherwise exit with the
/// command's code (126: not executable, 127: not found, 128+n: killed by signal n).
#[derive(Debug, Parser)]
#[command(name = "sandbox", version, max_term_width = 100)]
pub struct Cli {
    /// Directory that holds pod state (created with mode 0700).
    #[arg(long, global = true, env = "SANDBOX_ROOT", default_value = sandbox::store::DEFAULT_ROOT)]
    pub root: PathBuf,

    /// The static pause binary [default: `pause` next to this executable].
    #[arg(long, global = true, env = "SANDBOX_PAUSE")]
    pub pause: Option<PathBuf>,

    /// Log what is done to the kernel on stderr (-v: debug, -vv: trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a pod: new IPC, UTS and NET namespaces (and PID with --share-pid), held by pause,
    /// pinned under the state root and at /run/netns/NAME.
    Create(Create),
    /// Print one pod as a JSON object.
    Inspect(PodName),
    /// List pods.
    Ps(Ps),
    /// Run a command in the foreground inside a pod's namespaces; exit with its code.
    Exec(Exec),
    /// Start a container: a detached command joined to the pod's namespaces.
    Run(Run),
    /// Wait until a container exits; exit with its exit code.
    Wait(ContainerName),
    /// Print a container's stdout and stderr.
    Logs(Logs),
    /// Stop a pod: each container's stop signal, one grace period, SIGKILL, then pause.
    Stop(Stop),
    /// Remove a pod: unmount its namespaces and delete its state.
    Rm(Rm),
}

/// `create`.
#[derive(Debug, Args)]
pub struct Create {
    /// Pod name: 1-63 characters of [a-zA-Z0-9_.-], not starting with '-' or '.'.
    pub name: String,
    /// Hostname inside the pod [default: the pod name].
    #[arg(long)]
    pub hostname: Option<String>,
    /// Give the pod its own PID namespace: containers see each other and pause is their PID 1.
    #[arg(long)]
    pub share_pid: bool,
}

/// A subcommand that takes only a pod name.
#[derive(Debug, Args)]
pub struct PodName {
    /// Pod name.
    pub name: String,
}

/// `ps`.
#[derive(Debug, Args)]
pub struct Ps {
    /// Print a JSON array of the same objects as `inspect`.
    #[arg(long)]
    pub json: bool,
}

/// How a command runs inside a pod (shared by `exec` and `run`).
#[derive(Debug, Args)]
pub struct Process {
    /// Set an environment variable (KEY=VALUE, or KEY to pass on this shell's value).
    #[arg(short, long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Working directory (absolute) [default: /].
    #[arg(short = 'w', long)]
    pub workdir: Option<String>,
    /// Run as UID[:GID] (numbers; GID defaults to UID); supplementary groups are dropped.
    #[arg(short, long, value_name = "UID[:GID]")]
    pub user: Option<String>,
    /// Set no_new_privs: setuid binaries and file capabilities grant nothing.
    #[arg(long)]
    pub no_new_privileges: bool,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// `exec`.
#[derive(Debug, Args)]
pub struct Exec {
    /// Pod name.
    pub name: String,
    #[command(flatten)]
    pub process: Process,
}

/// `run`.
#[derive(Debug, Args)]
pub struct Run {
    /// Pod name.
    pub pod: String,
    /// Container name (same rules as pod names).
    #[arg(long = "name")]
    pub name: String,
    /// Signal `stop` sends first: a name (SIGQUIT, QUIT) or a number.
    #[arg(long, default_value = "SIGTERM")]
    pub stop_signal: String,
    #[command(flatten)]
    pub process: Process,
}

/// A subcommand that names one container.
#[derive(Debug, Args)]
pub struct ContainerName {
    /// Pod name.
    pub pod: String,
    /// Container name.
    pub name: String,
}

/// `logs`.
#[derive(Debug, Args)]
pub struct Logs {
    #[command(flatten)]
    pub container: ContainerName,
    /// Keep printing what the container writes until it exits.
    #[arg(short, long)]
    pub follow: bool,
}

/// `stop`.
#[derive(Debug, Args)]
pub struct Stop {
    /// Pod name.
    pub name: String,
    /// Grace period in seconds between the stop signal and SIGKILL, for the whole pod.
    #[arg(
        short = 't',
        long = "timeout",
        default_value_t = 30.0,
        value_name = "SECS"
    )]
    pub timeout: f64,
    /// Print the report as a JSON array.
    #[arg(long)]
    pub json: bool,
}

/// `rm`.
#[derive(Debug, Args)]
pub struct Rm {
    /// Pod name.
    pub name: String,
    /// Remove a running pod too, killing its containers and pause first.
    #[arg(short, long)]
    pub force: bool,
}
