//! `sandbox ps [--json]`.

use sandbox::{ContainerState, Host, PodStatus, Result};

/// `ps`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print a JSON array of the same objects as `inspect`, without what the cgroups use
    /// (`usage` is null: `inspect` or `stats` read it).
    #[arg(long)]
    pub json: bool,
}

pub fn run(host: &Host, args: Args) -> Result<u8> {
    let pods = host.list_pods()?;
    if args.json {
        super::print_json(&pods)?;
    } else {
        print_table(&pods);
    }
    Ok(0)
}

fn print_table(pods: &[PodStatus]) {
    let name_width = pods.iter().map(|p| p.name.len()).max().unwrap_or(0).max(4);
    println!(
        "{:name_width$}  {:8}  {:>7}  {:>10}  {:15}  CREATED",
        "NAME", "STATE", "PID", "CONTAINERS", "IP"
    );
    for pod in pods {
        let running = pod
            .containers
            .iter()
            .filter(|c| c.state == ContainerState::Running)
            .count();
        let ip = pod
            .network
            .as_ref()
            .and_then(|n| n.first_ip())
            .unwrap_or("-");
        println!(
            "{:name_width$}  {:8}  {:>7}  {:>10}  {ip:15}  {}",
            pod.name,
            pod.state.as_str(),
            pod.pid.map_or("-".to_owned(), |pid| pid.to_string()),
            format!("{running}/{}", pod.containers.len()),
            pod.created_at,
        );
    }
}
