//! `sandbox rm POD [CONTAINER...] [--force]`.

use sandbox::{Host, Result};

/// `rm`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Pod name.
    pub name: String,
    /// Remove only these containers (they must have exited, unless --force), so their names
    /// can be used again; the pod stays.
    pub containers: Vec<String>,
    /// Remove running ones too: a pod's processes are killed first; containers are stopped
    /// first (their stop signal, then SIGKILL at once).
    #[arg(short, long)]
    pub force: bool,
}

pub fn run(host: &Host, args: Args) -> Result<u8> {
    if args.containers.is_empty() {
        host.remove_pod(&args.name, args.force)?;
    } else {
        host.remove_containers(&args.name, &args.containers, args.force)?;
    }
    Ok(0)
}
