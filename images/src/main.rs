//! `images`: builds an OCI image and writes it as an OCI image layout (and optionally an
//! `oci-archive` tarball): by default the pod infrastructure image, one manifest per platform's
//! static `pause` binary under one image index, or with `--definition FILE` the image a JSON
//! definition file describes.
//!
//! The *definition* of an image (`definition`, read from a file by `definition_file`) is kept
//! apart from the *builder* that packages any definition (`layer` → `image` → `index` →
//! `layout`/`archive`, with `digest` and `canonical` for content addressing), so another image
//! is another definition, and another platform another `pause` (`binary`). See
//! `images/README.md`.

mod archive;
mod binary;
mod canonical;
mod cli;
mod definition;
mod definition_file;
mod digest;
mod error;
mod image;
mod index;
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
    let (layout, name, summary) = match &args.definition {
        Some(path) => definition_image(args, path)?,
        None => pause_image(args)?,
    };
    layout::write(&args.out, &layout)?;
    if let Some(archive_path) = &args.archive {
        archive::write(archive_path, &layout, args.source_date_epoch)?;
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
    for line in summary {
        println!("{line}");
    }
    Ok(())
}

/// The image's name: `--repository` and `--tag`, else the defaults given.
fn image_name(args: &Args, repository: &str, tag: &str) -> Result<name::ImageName> {
    name::ImageName::new(
        args.repository.as_deref().unwrap_or(repository),
        args.tag.as_deref().unwrap_or(tag),
    )
}

/// What a build prints after the image's name, one line each.
type Summary = Vec<String>;

/// The image of the definition file at `path`: one platform, named by `index.json` directly.
fn definition_image(
    args: &Args,
    path: &std::path::Path,
) -> Result<(index::LayoutContents, name::ImageName, Summary)> {
    let definition = definition_file::read(path)?;
    let name = image_name(args, &definition.repository, DEFINITION_TAG)?;
    let image = image::build(&definition, args.source_date_epoch)?;
    let mut summary = vec![
        format!("definition   {}", path.display()),
        format!("platform     {}", definition.platform),
        format!("manifest     {}", image.manifest.digest()),
        format!("size         {}", size_text(&image)),
    ];
    for (number, (layer, defined)) in image.layers.iter().zip(&definition.layers).enumerate() {
        summary.push(format!(
            "{:<13}{} ({} bytes): {}",
            format!("layer {}", number + 1),
            layer.blob.digest(),
            layer.blob.size(),
            defined.created_by
        ));
    }
    Ok((index::single_platform(image, &name)?, name, summary))
}

/// The pod infrastructure image: one manifest per platform's `pause`, under one image index.
fn pause_image(args: &Args) -> Result<(index::LayoutContents, name::ImageName, Summary)> {
    let name = image_name(args, definition::PAUSE_REPOSITORY, PAUSE_TAG)?;
    let wanted = (!args.platform.is_empty()).then_some(args.platform.as_slice());
    let mut images = Vec::new();
    let mut platform_lines = Vec::new();
    for binary in binary::pause_binaries(wanted, &args.pause)? {
        let platform = binary.platform.to_string();
        let pause_line = format!(
            "{:<13}pause {} ({} bytes)",
            "",
            binary.path.display(),
            binary.bytes.len()
        );
        let definition = definition::pause(binary.bytes, binary.platform);
        let image = image::build(&definition, args.source_date_epoch)?;
        platform_lines.push(format!(
            "{platform:<13}manifest {}",
            image.manifest.digest()
        ));
        platform_lines.push(pause_line);
        platform_lines.push(format!("{:<13}size {}", "", size_text(&image)));
        images.push(image);
    }
    let count = images.len();
    let layout = index::multi_platform(images, &name)?;
    let mut summary = vec![format!(
        "index        {} (the image's digest; {count} platform{})",
        layout.target.digest(),
        if count == 1 { "" } else { "s" }
    )];
    summary.extend(platform_lines);
    Ok((layout, name, summary))
}

/// What a node pulls for `image` and what it unpacks.
fn size_text(image: &image::Image) -> String {
    let (layers, tars) = match image.layers.len() {
        1 => ("gzip layer".to_owned(), "layer tar"),
        count => (format!("{count} gzip layers"), "layer tars"),
    };
    format!(
        "{} bytes compressed (manifest + config + {layers}), {} bytes uncompressed ({tars})",
        image.compressed_size(),
        image.uncompressed_size
    )
}
