//! `sandbox gc [--json]`.

use sandbox::{Host, Result};

/// `gc`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print a JSON array of what was released: {network, ip, pod}.
    #[arg(long)]
    pub json: bool,
}

pub fn run(host: &Host, args: Args) -> Result<u8> {
    let released = host.collect_network_garbage()?;
    if args.json {
        super::print_json(&released)?;
    } else {
        for r in &released {
            println!(
                "released {} of network {:?} (sandbox {:?} is gone)",
                r.ip, r.network, r.pod
            );
        }
    }
    Ok(0)
}
