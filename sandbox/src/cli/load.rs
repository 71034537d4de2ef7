//! `sandbox load REF [--name NAME]... [--json]`: pull an image into the store and name it.

use sandbox::image::{ImageName, ImageReference};
use sandbox::{Host, Result};

/// `load`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
The image is pulled as `run --image REF` pulls it: under the store's lock, every blob \
verified, each layer unpacked once. Each NAME is normalized as the kubelet does (busybox is \
docker.io/library/busybox:latest, busybox:1.36 is docker.io/library/busybox:1.36) and taken \
from the image that had it, so `run --image NAME` and a Pod manifest's `image: NAME` find this \
image without pulling. A pull that fails gives no name. With --name, REF is not kept as a reference (as podman \
load keeps no file name), so `rmi NAME` of the image's last name removes it.

An image from a registry, copied on a machine that can reach it:
  skopeo copy docker://nginx:1.25 oci-archive:nginx.tar
  sandbox load oci-archive:nginx.tar --name nginx:1.25
  sandbox run web --name nginx --image nginx:1.25")]
pub struct Args {
    /// The image: `oci:DIR[:TAG]` (an OCI image layout, as skopeo and umoci write it) or
    /// `oci-archive:FILE[:TAG]`.
    #[arg(value_name = "REF")]
    pub reference: String,
    /// Give the image this name (`nginx:1.25`, `quay.io/x/y:1`, `localhost:5000/a:b`);
    /// repeatable.
    #[arg(long = "name", value_name = "NAME")]
    pub names: Vec<String>,
    /// Print the image as `images --json` shows it (names, references, digest, size,
    /// containers) instead of its names.
    #[arg(long)]
    pub json: bool,
}

pub fn run(host: &Host, args: Args) -> Result<u8> {
    // Every name is checked before anything is pulled.
    let names = args
        .names
        .iter()
        .map(|name| ImageName::parse(name))
        .collect::<Result<Vec<_>>>()?;
    let reference = ImageReference::parse(&args.reference)?;
    let image = host.load_image(&reference, &names)?;
    if args.json {
        super::print_json(&image)?;
    } else if names.is_empty() {
        println!("{}", image.digest);
    } else {
        for name in &names {
            println!("{name}");
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::super::{Cli, Command};

    #[test]
    fn names_repeat_and_the_reference_is_one_argument() {
        let cli = Cli::try_parse_from([
            "sandbox",
            "load",
            "oci-archive:/x.tar",
            "--name",
            "a",
            "--name",
            "quay.io/b:1",
            "--json",
        ])
        .unwrap();
        let Command::Load(args) = cli.command else {
            panic!("{:?}", cli.command);
        };
        assert_eq!(args.reference, "oci-archive:/x.tar");
        assert_eq!(args.names, ["a", "quay.io/b:1"]);
        assert!(args.json);
        assert!(Cli::try_parse_from(["sandbox", "load"]).is_err());
    }
}
