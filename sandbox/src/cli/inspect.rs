//! `sandbox inspect POD`.

use sandbox::{Host, Result};

/// `inspect`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Pod name.
    pub name: String,
}

pub fn run(host: &Host, args: Args) -> Result<u8> {
    super::print_json(&host.inspect_pod(&args.name)?)?;
    Ok(0)
}
