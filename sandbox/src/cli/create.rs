//! `sandbox create NAME [--hostname H] [--share-pid] [--network NET] [--publish SPEC]...
//! [--memory SIZE] [--cpus N] [--pids-limit N]` (and the global `--cgroup-parent PATH`,
//! `--cni-config-dir DIR`, `--cni-plugin-dir DIRS`).

use sandbox::network::PortMapping;
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
    /// The pod's network besides loopback, through CNI plugins: the name of a network
    /// configuration list in --cni-config-dir, a path to one (a .conflist, CNI 1.0.0 or
    /// 0.4.0), `bridge` (built in unless a list there has that name: a bridge sandbox0 with
    /// addresses from 10.89.0.0/24, written to ROOT/.cni/bridge.conflist), or `none`
    /// (loopback only). `rm` detaches the pod.
    #[arg(long, value_name = "NET", default_value = "none")]
    pub network: String,
    /// Publish a host port to a port of the pod: [HOST_IP:]HOST_PORT:POD_PORT[/tcp|/udp]
    /// (through the network's portmap plugin). Repeatable; a port another pod has published
    /// is refused.
    #[arg(long, short = 'p', value_name = "SPEC", value_parser = PortMapping::parse)]
    pub publish: Vec<PortMapping>,
    /// Grace period `stop` gives the pod's containers when not given -t, in seconds (like
    /// Kubernetes' terminationGracePeriodSeconds) [default: 30]
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(..=u64::from(u32::MAX)))]
    pub grace_period: Option<u64>,
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
        network: Some(args.network),
        publish: args.publish,
        grace_period_seconds: args.grace_period,
    })?;
    println!("{}", status.name);
    Ok(0)
}
