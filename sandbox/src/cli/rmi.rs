//! `sandbox rmi IMAGE...`: take names from images, or remove images from the store.

use sandbox::images::ImageRemoval;
use sandbox::{Host, Result};

/// `rmi`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Images, each by reference (`oci:DIR:TAG`), digest (`sha256:...`), a unique digest
    /// prefix of 12 or more hex digits, or name (`nginx:1.25`). A name of an image that has
    /// other names or references is only taken away (`Untagged: NAME`); otherwise the image is
    /// removed (its digest is printed). An image a container uses is refused: `rm` it first.
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

pub fn run(host: &Host, args: Args) -> Result<u8> {
    for name in &args.images {
        match host.remove_image(name)? {
            ImageRemoval::Untagged { name, .. } => println!("Untagged: {name}"),
            ImageRemoval::Removed(image) => {
                for name in &image.names {
                    println!("Untagged: {name}");
                }
                println!("{}", image.digest);
            }
        }
    }
    Ok(0)
}
