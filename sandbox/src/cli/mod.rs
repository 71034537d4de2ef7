//! The command line: one file per subcommand, each with its clap arguments (whose `///`
//! comments are its `--help`) and a `run` that calls the library and prints the result.

mod create;
mod docs;
mod exec;
mod gc;
mod images;
mod inspect;
mod load;
pub mod logger;
mod logs;
mod play;
mod port_forward;
mod ps;
mod rm;
mod rmi;
mod run;
mod stats;
mod stop;
mod wait;

use std::io::Write;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use sandbox::{Error, Host, Result};

/// Kubernetes-style pod sandboxes on a Linux host: namespaces held by pause, app containers
/// joined to them, and a graceful stop with exit codes 128+n.
///
/// Every failure of sandbox itself exits 125; `exec`, `run` and `wait` otherwise exit with the
/// command's code (126: not executable, 127: not found, 128+n: killed by signal n).
#[derive(Debug, Parser)]
#[command(name = "sandbox", version, max_term_width = 100)]
pub struct Cli {
    /// Directory that holds pod state (created with mode 0700; no symlink in its path).
    #[arg(long, global = true, env = "SANDBOX_ROOT", default_value = sandbox::state::DEFAULT_ROOT)]
    pub root: PathBuf,

    /// The static pause binary [default: `pause` next to this executable].
    #[arg(long, global = true, env = "SANDBOX_PAUSE")]
    pub pause: Option<PathBuf>,

    /// The OCI runtime that runs image and root file system containers: a path, or a name in
    /// PATH [default: runc, else crun].
    #[arg(long, global = true, env = "SANDBOX_RUNTIME", value_name = "PATH")]
    pub runtime: Option<PathBuf>,

    /// Cgroup that new pods' cgroups (pod-NAME-TAG) go under, as a path from the root of every
    /// cgroup hierarchy, such as kubepods/burstable; made if missing. `rm --force` of a pod
    /// whose record is unreadable looks for its cgroup there [default: sandbox]
    #[arg(
        long,
        global = true,
        env = "SANDBOX_CGROUP_PARENT",
        value_name = "PATH",
        value_parser = sandbox::sys::cgroup::check_path
    )]
    pub cgroup_parent: Option<PathBuf>,

    /// Directory where `--network NAME` looks for CNI network configuration lists
    /// (`*.conflist`, by their "name")
    #[arg(
        long,
        global = true,
        env = "SANDBOX_CNI_CONFIG_DIR",
        value_name = "DIR",
        default_value = sandbox::network::DEFAULT_CONFIG_DIR
    )]
    pub cni_config_dir: PathBuf,

    /// Where CNI plugins are looked up: directories separated by ':' (Debian's
    /// containernetworking-plugins puts them in /usr/lib/cni)
    #[arg(
        long,
        global = true,
        env = "SANDBOX_CNI_PATH",
        value_name = "DIRS",
        default_value = sandbox::network::DEFAULT_PLUGIN_PATH
    )]
    pub cni_plugin_dir: std::ffi::OsString,

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
    /// pinned under the state root and at /run/netns/NAME; on a CNI network with --network.
    Create(create::Args),
    /// Print one pod as a JSON object.
    Inspect(inspect::Args),
    /// List pods.
    Ps(ps::Args),
    /// Show pods' CPU, memory and process use, refreshed every second (like podman pod stats
    /// and kubectl top).
    Stats(stats::Args),
    /// Run a command in the foreground inside a pod's namespaces; exit with its code.
    Exec(exec::Args),
    /// Start a container: a detached command joined to the pod's namespaces, or an OCI
    /// container from an image or a root file system (--image, --rootfs).
    Run(run::Args),
    /// Wait until a container exits; exit with its exit code.
    Wait(wait::Args),
    /// Print a container's stdout and stderr.
    Logs(logs::Args),
    /// Stop a pod (each container's stop signal, one grace period, SIGKILL, then pause), or
    /// only some of its containers.
    Stop(stop::Args),
    /// Remove a pod (detach it from its network, unmount its namespaces, delete its state), or
    /// some of its exited containers.
    Rm(rm::Args),
    /// Pull an image (oci:DIR, oci-archive:FILE) into the store and give it names (nginx:1.25)
    /// that `run --image` finds without pulling.
    Load(load::Args),
    /// List the images unpacked in the store: names, references, and the containers using each.
    Images(images::Args),
    /// Take names from images, or remove images no container uses.
    Rmi(rmi::Args),
    /// Run the pods of a Kubernetes manifest (v1 Pods), or stop and remove them (--down), the
    /// way the kubelet does: init containers first, preStop hooks and the pod's grace period
    /// at stop.
    Play(play::Args),
    /// Forward local ports to ports of a pod (TCP, into its network namespace, no network
    /// needed), as kubectl port-forward does.
    PortForward(port_forward::Args),
    /// Print a completion script for bash, zsh, fish, elvish or PowerShell.
    Completions(docs::CompletionsArgs),
    /// Print the man page sandbox(1), or write it and one per subcommand into a directory.
    Man(docs::ManArgs),
    /// Release the addresses CNI networks (the built-in one and the lists in
    /// --cni-config-dir) still reserve for pods of this state root that are gone, with a CNI
    /// DEL (which also removes the firewall and portmap rules of the address). `create` does it
    /// for its own network.
    Gc(gc::Args),
}

/// Runs the parsed command line; the exit code on success.
pub fn run(cli: Cli) -> Result<u8> {
    // Made only for the subcommands that act on the host: what only documents the command line
    // needs no root, no pause and no state root.
    let host = || -> Result<Host> {
        let pause = sandbox::host::locate_pause(cli.pause.clone())?;
        Ok(Host::new(
            cli.root.clone(),
            pause,
            sandbox::host::DEFAULT_NETNS_DIR.into(),
        )?
        .with_runtime(cli.runtime.clone())
        .with_cgroup_parent(cli.cgroup_parent.clone())
        .with_cni(sandbox::network::CniPaths::new(
            cli.cni_config_dir.clone(),
            &cli.cni_plugin_dir,
        )))
    };
    match cli.command {
        Command::Create(args) => create::run(&host()?, args),
        Command::Inspect(args) => inspect::run(&host()?, args),
        Command::Ps(args) => ps::run(&host()?, args),
        Command::Stats(args) => stats::run(&host()?, args),
        Command::Exec(args) => exec::run(&host()?, args),
        Command::Run(args) => run::run(&host()?, args),
        Command::Wait(args) => wait::run(&host()?, args),
        Command::Logs(args) => logs::run(&host()?, args),
        Command::Stop(args) => stop::run(&host()?, args),
        Command::Rm(args) => rm::run(&host()?, args),
        Command::Load(args) => load::run(&host()?, args),
        Command::Images(args) => images::run(&host()?, args),
        Command::Rmi(args) => rmi::run(&host()?, args),
        Command::Gc(args) => gc::run(&host()?, args),
        Command::Play(args) => play::run(&host()?, args),
        Command::PortForward(args) => port_forward::run(&host()?, args),
        Command::Completions(args) => docs::completions(&args),
        Command::Man(args) => docs::man(&args),
    }
}

/// Resource limits, of a pod (`create`) or of a container (`run`): its cgroup's.
#[derive(Debug, Default, clap::Args)]
pub struct LimitArgs {
    /// Memory limit: bytes with k, m or g (binary, as with docker) or Ki, Mi, Gi; at least 6m.
    /// A container that goes over it is killed by the kernel (137, reason OOMKilled)
    #[arg(long, value_name = "SIZE", value_parser = sandbox::limits::parse_memory)]
    pub memory: Option<u64>,
    /// CPU limit, in CPUs (1.5 is a CFS quota of 150 ms per 100 ms period) or millicores (1500m)
    #[arg(long, value_name = "N", value_parser = sandbox::limits::parse_cpus)]
    pub cpus: Option<u64>,
    /// Most processes and threads at once
    #[arg(long, value_name = "N", value_parser = sandbox::limits::parse_pids)]
    pub pids_limit: Option<u64>,
}

impl LimitArgs {
    /// The limits given.
    pub fn limits(&self) -> sandbox::limits::Limits {
        sandbox::limits::Limits {
            memory_bytes: self.memory,
            millicpus: self.cpus,
            pids: self.pids_limit,
        }
    }
}

/// `value` in the largest of `units` (each `step` times the one before) that keeps the number
/// at 1 or more, one decimal past the first unit: `1.9 MB` (sizes, decimal, as `podman images`)
/// or `32.0MiB` (memory, binary, as `podman stats`).
pub fn scaled(value: u64, step: f64, units: &[&str], separator: &str) -> String {
    let mut size = value as f64;
    let mut unit = 0;
    while size >= step && unit + 1 < units.len() {
        size /= step;
        unit += 1;
    }
    if unit == 0 {
        format!("{value}{separator}{}", units[0])
    } else {
        format!("{size:.1}{separator}{}", units[unit])
    }
}

/// How a command runs inside a pod (shared by `exec` and `run`).
#[derive(Debug, clap::Args)]
pub struct Process {
    /// Set an environment variable (KEY=VALUE, or KEY to pass on this shell's value).
    #[arg(short, long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Working directory (absolute) [default: the image's WorkingDir (for exec -c: the
    /// container's), else /].
    #[arg(short = 'w', long)]
    pub workdir: Option<String>,
    /// Run as UID[:GID] (numbers; GID defaults to UID); supplementary groups are dropped
    /// [default: the image's User (for exec -c: the container's), else root].
    #[arg(short, long, value_name = "UID[:GID]")]
    pub user: Option<String>,
    /// Set no_new_privs: setuid binaries and file capabilities grant nothing.
    #[arg(long)]
    pub no_new_privileges: bool,
    /// The command and its arguments, after `--` (for an image: its Cmd by default).
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

impl Process {
    /// The command, checked: every entry and the user are validated here, once.
    fn into_spec(self) -> Result<sandbox::CommandSpec> {
        let mut env = Vec::new();
        for entry in &self.env {
            env.extend(sandbox::command::parse_env(entry)?);
        }
        Ok(sandbox::CommandSpec {
            argv: self.command,
            env,
            workdir: self.workdir,
            user: self.user.as_deref().map(str::parse).transpose()?,
            no_new_privs: self.no_new_privileges,
            bounding_caps: None,
        })
    }
}

/// Parses a grace period in seconds: a finite number, 0 or more, at most `u32::MAX`.
fn parse_grace(text: &str) -> std::result::Result<std::time::Duration, String> {
    let seconds: f64 = text
        .trim()
        .parse()
        .map_err(|_| "expected a number of seconds, such as 30 or 0.5".to_owned())?;
    if !seconds.is_finite() || seconds < 0.0 {
        return Err("must be a number of seconds, 0 or more".to_owned());
    }
    if seconds > f64::from(u32::MAX) {
        return Err(format!("must be at most {} seconds", u32::MAX));
    }
    Ok(std::time::Duration::from_secs_f64(seconds))
}

/// Prints `value` as pretty JSON on stdout.
fn print_json<T: serde::Serialize>(value: &T) -> Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)
        .map_err(std::io::Error::from)
        .and_then(|()| writeln!(out))
        .map_err(|source| Error::Io {
            what: "writing JSON to stdout".to_owned(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grace_periods_are_bounded_numbers() {
        assert_eq!(parse_grace("30"), Ok(std::time::Duration::from_secs(30)));
        assert_eq!(
            parse_grace("0.5"),
            Ok(std::time::Duration::from_millis(500))
        );
        assert_eq!(parse_grace("0"), Ok(std::time::Duration::ZERO));
        for bad in [
            "-1",
            "1e20",
            "18446744073709551616",
            "inf",
            "NaN",
            "",
            "x",
            "-0.5",
        ] {
            assert!(parse_grace(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn a_negative_timeout_is_a_value_not_a_name() {
        let error = Cli::try_parse_from(["sandbox", "stop", "-t", "-1", "web"]).unwrap_err();
        let text = error.to_string();
        assert!(text.contains("0 or more"), "{text}");
        assert!(!text.contains("tip"), "{text}");
    }
}
