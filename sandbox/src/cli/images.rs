//! `sandbox images [--json]`: the images unpacked in the store under the state root, with their
//! names and references.

use sandbox::images::ImageSummary;
use sandbox::{Host, Result};

/// `images`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print a JSON array: names, references, digest, size (bytes) and the containers using
    /// each.
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
    let list = |items: &[String]| match items {
        [] => "<none>".to_owned(),
        _ => items.join(", "),
    };
    let names = |image: &ImageSummary| list(&image.names);
    let reference = |image: &ImageSummary| list(&image.references);
    let column = |cell: &dyn Fn(&ImageSummary) -> String, header: &str| {
        images
            .iter()
            .map(|i| cell(i).len())
            .max()
            .unwrap_or(0)
            .max(header.len())
    };
    let name_width = column(&names, "NAMES");
    let width = column(&reference, "REFERENCE");
    println!(
        "{:name_width$}  {:width$}  {:19}  {:>10}  CONTAINERS",
        "NAMES", "REFERENCE", "DIGEST", "SIZE"
    );
    for image in images {
        let digest = image
            .digest
            .strip_prefix("sha256:")
            .unwrap_or(&image.digest);
        println!(
            "{:name_width$}  {:width$}  {:19}  {:>10}  {}",
            names(image),
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
