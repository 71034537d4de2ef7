//! `sandbox images [--json]`: the images unpacked in the store under the state root.

use sandbox::images::ImageSummary;
use sandbox::{Host, Result};

/// `images`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print a JSON array: references, digest, size (bytes) and the containers using each.
    #[arg(long)]
    pub json: bool,
}

pub fn run(host: &Host, args: Args) -> Result<u8> {
    let images = host.images()?;
    if args.json {
        super::print_json(&images)?;
    } else {
        print_table(&images);
    }
    Ok(0)
}

fn print_table(images: &[ImageSummary]) {
    let reference = |image: &ImageSummary| image.references.join(", ");
    let width = images
        .iter()
        .map(|i| reference(i).len())
        .max()
        .unwrap_or(0)
        .max(9);
    println!(
        "{:width$}  {:19}  {:>10}  CONTAINERS",
        "REFERENCE", "DIGEST", "SIZE"
    );
    for image in images {
        let digest = image
            .digest
            .strip_prefix("sha256:")
            .unwrap_or(&image.digest);
        println!(
            "{:width$}  {:19}  {:>10}  {}",
            reference(image),
            format!("sha256:{}", &digest[..digest.len().min(12)]),
            human_size(image.size),
            image.containers.join(", "),
        );
    }
}

/// Bytes in the largest decimal unit that keeps the number at 1 or more (`1.9 MB`), as podman
/// shows image sizes.
fn human_size(bytes: u64) -> String {
    super::scaled(bytes, 1000.0, &["B", "kB", "MB", "GB"], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_podmans() {
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(1_982_256), "2.0 MB");
        assert_eq!(human_size(3_500_000_000), "3.5 GB");
    }
}
