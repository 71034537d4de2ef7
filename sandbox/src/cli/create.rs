//! `sandbox create NAME [--hostname H] [--share-pid] [--memory SIZE] [--cpus N]
//! [--pids-limit N] [--cgroup-parent PATH]`.

use std::path::PathBuf;

use sandbox::limits::{self, Limits};
use sandbox::sys::cgroup;
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
    /// Memory limit of the whole pod: bytes with k, m or g (binary, as with docker) or Ki, Mi,
    /// Gi; at least 6m
    #[arg(long, value_name = "SIZE", value_parser = limits::parse_memory)]
    pub memory: Option<u64>,
    /// CPU limit of the whole pod, in CPUs (1.5 is a CFS quota of 150 ms per 100 ms period) or
    /// millicores (1500m)
    #[arg(long, value_name = "N", value_parser = limits::parse_cpus)]
    pub cpus: Option<u64>,
    /// Most processes and threads the pod may have at once
    #[arg(long, value_name = "N", value_parser = limits::parse_pids)]
    pub pids_limit: Option<u64>,
    /// Cgroup to put the pod's cgroup (pod-NAME-TAG) under, as a path from the root of every
    /// cgroup hierarchy, such as kubepods/burstable; made if missing [default: sandbox]
    #[arg(long, value_name = "PATH", value_parser = cgroup::check_path)]
    pub cgroup_parent: Option<PathBuf>,
}

pub fn run(host: &Host, args: Args) -> Result<u8> {
    let status = host.create_pod(&CreateOptions {
        name: args.name,
        hostname: args.hostname,
        share_pid: args.share_pid,
        limits: Limits {
            memory_bytes: args.memory,
            millicpus: args.cpus,
            pids: args.pids_limit,
        },
        cgroup_parent: args.cgroup_parent,
    })?;
    println!("{}", status.name);
    Ok(0)
}
