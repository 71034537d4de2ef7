//! `sandbox rmi IMAGE...`: remove images from the store.

use sandbox::{Host, Result};

/// `rmi`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Images, each by reference (`oci:DIR:TAG`), digest (`sha256:...`) or a unique digest
    /// prefix of 12 or more hex digits. An image a container uses is refused: `rm` it first.
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

pub fn run(host: &Host, args: Args) -> Result<u8> {
    for name in &args.images {
        let image = host.remove_image(name)?;
        println!("{}", image.digest);
    }
    Ok(0)
}
