//! `images`: builds the pod infrastructure image, an OCI image holding the static `pause`
//! binary, and writes it as an OCI image layout (and optionally an `oci-archive` tarball).
//!
//! The *definition* of an image (`definition`) is kept apart from the *builder* that packages
//! any definition (`layer` → `image` → `layout`/`archive`, with `digest` and `canonical` for
//! content addressing), so another image is another definition. See `images/README.md`.

mod archive;
mod binary;
mod canonical;
mod cli;
mod definition;
mod digest;
mod error;
mod image;
mod layer;
mod layout;
mod name;
mod timestamp;

use std::error::Error as _;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::Args;
use crate::error::Result;

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let mut message = error.to_string();
            let mut source = error.source();
            while let Some(cause) = source {
                message.push_str(": ");
                message.push_str(&cause.to_string());
                source = cause.source();
            }
            eprintln!("images: error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<()> {
    let name = name::ImageName::new(&args.repository, &args.tag)?;
    let pause_path = binary::locate_pause(args.pause.as_deref())?;
    let (pause, executable) = binary::load_static_executable(&pause_path)?;
    let pause_size = pause.len();
    let platform = definition::Platform::linux(&executable);
    let definition = definition::pause(pause, platform);
    let image = image::build(&definition, args.source_date_epoch, &name)?;

    layout::write(&args.out, &image)?;
    if let Some(archive_path) = &args.archive {
        archive::write(archive_path, &image, args.source_date_epoch)?;
    }

    println!(
        "image        {} (oci:{}:{})",
        name.reference(),
        args.out.display(),
        name.tag()
    );
    if let Some(archive_path) = &args.archive {
        println!("archive      oci-archive:{}", archive_path.display());
    }
    println!("pause        {} ({pause_size} bytes)", pause_path.display());
    println!("platform     {}", definition.platform);
    println!("manifest     {}", image.manifest.digest());
    println!(
        "size         {} bytes compressed (manifest + config + gzip layer), {} bytes uncompressed \
         (layer tar)",
        image.compressed_size(),
        image.uncompressed_size
    );
    Ok(())
}
