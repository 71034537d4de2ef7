//! `sandbox logs POD CONTAINER [-f]`.

use sandbox::{Host, Result};

/// `logs`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Pod name.
    pub pod: String,
    /// Container name.
    pub name: String,
    /// Keep printing what the container writes until it exits.
    #[arg(short, long)]
    pub follow: bool,
}

pub fn run(host: &Host, args: Args) -> Result<u8> {
    host.container_logs(
        &args.pod,
        &args.name,
        args.follow,
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    )?;
    Ok(0)
}
