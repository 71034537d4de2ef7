//! `images`: builds an OCI image and writes it as an OCI image layout (and optionally an
//! `oci-archive` tarball): by default the pod infrastructure image, which holds the static
//! `pause` binary, or with `--definition FILE` the image a JSON definition file describes.
//!
//! The *definition* of an image (`definition`, read from a file by `definition_file`) is kept
//! apart from the *builder* that packages any definition (`layer` → `image` →
//! `layout`/`archive`, with `digest` and `canonical` for content addressing), so another image
//! is another definition. See `images/README.md`.

mod archive;
mod binary;
mod canonical;
mod cli;
mod definition;
mod definition_file;
mod digest;
mod error;
mod image;
mod layer;
mod layout;
mod name;
mod timestamp;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::Args;
use crate::error::Result;

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("images: error: {}", sandbox::error_chain(&error));
            ExitCode::FAILURE
        }
    }
}

/// Tag of the pause image when `--tag` is not given: the pause version (the workspace's).
const PAUSE_TAG: &str = env!("CARGO_PKG_VERSION");
/// Tag of a definition's image when `--tag` is not given.
const DEFINITION_TAG: &str = "latest";

fn run(args: &Args) -> Result<()> {
    let (definition, name, input) = match &args.definition {
        Some(path) => {
            let definition = definition_file::read(path)?;
            let repository = args.repository.as_deref().unwrap_or(&definition.repository);
            let name =
                name::ImageName::new(repository, args.tag.as_deref().unwrap_or(DEFINITION_TAG))?;
            (definition, name, format!("definition   {}", path.display()))
        }
        None => {
            let repository = args
                .repository
                .as_deref()
                .unwrap_or(definition::PAUSE_REPOSITORY);
            let name = name::ImageName::new(repository, args.tag.as_deref().unwrap_or(PAUSE_TAG))?;
            let pause_path = binary::locate_pause(args.pause.as_deref())?;
            let (pause, executable) = binary::load_static_executable(&pause_path)?;
            let input = format!(
                "pause        {} ({} bytes)",
                pause_path.display(),
                pause.len()
            );
            let platform = definition::Platform::linux(&executable);
            (definition::pause(pause, platform), name, input)
        }
    };
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
    println!("{input}");
    println!("platform     {}", definition.platform);
    println!("manifest     {}", image.manifest.digest());
    let (layers, tars) = match image.layers.len() {
        1 => ("gzip layer".to_owned(), "layer tar"),
        count => (format!("{count} gzip layers"), "layer tars"),
    };
    println!(
        "size         {} bytes compressed (manifest + config + {layers}), {} bytes uncompressed \
         ({tars})",
        image.compressed_size(),
        image.uncompressed_size
    );
    // The pause image's summary has stayed the same since it was first published.
    if args.definition.is_some() {
        for (number, (layer, defined)) in image.layers.iter().zip(&definition.layers).enumerate() {
            println!(
                "{:<13}{} ({} bytes): {}",
                format!("layer {}", number + 1),
                layer.blob.digest(),
                layer.blob.size(),
                defined.created_by
            );
        }
    }
    Ok(())
}
