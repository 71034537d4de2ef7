//! `sandbox wait POD CONTAINER`: block until the container exits; exit with its code.

use sandbox::{Host, Result};

/// `wait`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Pod name.
    pub pod: String,
    /// Container name.
    pub name: String,
}

pub fn run(host: &Host, args: Args) -> Result<u8> {
    let exit = host.wait_container(&args.pod, &args.name)?;
    Ok(exit.exit_code.clamp(0, 255) as u8)
}
