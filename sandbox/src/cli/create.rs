//! `sandbox create NAME [--hostname H] [--share-pid] [--memory SIZE] [--cpus N]
//! [--pids-limit N]` (and the global `--cgroup-parent PATH`).

use sandbox::{CreateOptions, Host, Result};

/// `create`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Pod name: 1-63 characters of [a-zA-Z0-9_.-], not starting with '-' or '.'. It is also
    /// the pod's hostname unless --hostname is given.
    pub name: String,
    /// Hostname inside the pod [default: the pod name].
    #[arg(long)]
    pub hostname: Option<String>,
    /// Give the pod its own PID namespace: containers see each other and pause is their PID 1.
    #[arg(long)]
    pub share_pid: bool,
    /// Limits of the whole pod (its cgroup, which its containers' are under).
    #[command(flatten)]
    pub limits: super::LimitArgs,
}

pub fn run(host: &Host, args: Args) -> Result<u8> {
    let status = host.create_pod(&CreateOptions {
        name: args.name,
        hostname: args.hostname,
        share_pid: args.share_pid,
        limits: args.limits.limits(),
        cgroup_parent: None,
    })?;
    println!("{}", status.name);
    Ok(0)
}
