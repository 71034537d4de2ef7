//! The image store: layers unpacked once per diff_id, and one record per image, under one
//! directory (`<state root>/.images`):
//!
//! ```text
//! <dir>/                       0700
//!   lock                       flock(2), exclusive for pull, tag, untag and remove (`lock`)
//!   layers/<hex>/              one unpacked layer; <hex> of its diff_id
//!   layers/<hex>.json          {diff_id, size, unpacked_at}, written after the directory
//!   images/<hex>.json          an image record (`Image`); <hex> of its manifest digest
//!   tmp/                       work in progress; all of it is stale when the lock is taken
//! ```
//!
//! A pull resolves the reference (index.json, a nested index, the manifest), and if the image's
//! record and every one of its layers are there, only adds the reference: no layer blob is
//! read. Otherwise it checks the config and every layer descriptor, unpacks each missing layer
//! into its own directory under `tmp/` and verifies it (blob digest and diff_id); only when all
//! are verified does it `rename` each into `layers/` and write its layer record, and last the
//! image record. So a pull that fails leaves nothing in the store, and one killed at any point
//! leaves entries in `tmp/` (swept by the next lock) and complete layers, which a later pull
//! uses. A layer directory without its record (a pull killed between the two) is unpacked
//! again, since its size is not known.
//!
//! Names (`docker.io/library/busybox:latest`, [`ImageName`]) live in the image records: `tag`
//! gives an image names, each taken first from the image that had it (one atomic record write
//! each, so a name is on one image at most, even after a crash), and `untag` takes one away.
//! `load` is a pull that gives names instead of recording the reference, in the image record's
//! last write, so a load that fails names nothing.
//!
//! A removal deletes the image record, then every layer that no remaining record names (so
//! layers a failed pull left behind go too): each layer directory is first renamed into `tmp/`,
//! so it disappears at once, then its record is removed, then the directory.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::archive;
use super::digest::{is_lower_hex, sha256_hex};
use super::layer;
use super::layout::Layout;
use super::lock::ImageLock;
use super::name::ImageName;
use super::query::ImageQuery;
use super::record::{Image, ImageDefaults, LayerRecord};
use super::reference::{ImageReference, Transport};
use super::unpack::make_dir;
use crate::error::{Context, Error, Result};
use crate::state::{create_private_dir, is_real_dir, now_rfc3339, read_json, write_json};

/// The shortest hex prefix of a digest that [`ImageStore::resolve`] accepts.
pub const MIN_DIGEST_PREFIX: usize = 12;

/// Tells the temporary entries of one process apart.
static NEXT_TMP: AtomicU64 = AtomicU64::new(0);

/// A local store of unpacked OCI images (see the module doc for the layout).
#[derive(Clone, Debug)]
pub struct ImageStore {
    dir: PathBuf,
}

impl ImageStore {
    /// The store in `dir` (absolute; made by [`ImageStore::lock`]). No I/O.
    pub fn new(dir: PathBuf) -> ImageStore {
        ImageStore { dir }
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Makes the store's directories (0700) if needed, takes its lock (waiting for the holder)
    /// and removes whatever a killed pull or removal left in `tmp/`.
    pub fn lock(&self) -> Result<ImageLock> {
        create_private_dir(&self.dir)?;
        for dir in [self.layers_dir(), self.images_dir(), self.tmp_dir()] {
            create_private_dir(&dir)?;
        }
        let lock = ImageLock::acquire(&self.dir)?;
        let tmp = self.tmp_dir();
        let what = || format!("sweeping {}", tmp.display());
        for entry in std::fs::read_dir(&tmp).context(what)? {
            let path = entry.context(what)?.path();
            remove_any(&path).context(|| format!("removing stale {}", path.display()))?;
            log::debug!(
                "removed {}, left by a pull or removal that died",
                path.display()
            );
        }
        Ok(lock)
    }

    /// Pulls `reference` into the store (see the module doc), recording the reference, and
    /// returns its record.
    pub fn pull(&self, lock: &ImageLock, reference: &ImageReference) -> Result<Image> {
        self.pull_as(lock, reference, &Naming::Reference)
    }

    /// Pulls `reference` into the store and gives the image `names` ([`ImageStore::tag`]),
    /// without recording the reference, as `podman load` keeps no file name: the names are
    /// what the image is known by. The names are given in the pull's last write, so a pull
    /// that fails gives none. With no names, this is [`ImageStore::pull`].
    pub fn load(
        &self,
        lock: &ImageLock,
        reference: &ImageReference,
        names: &[ImageName],
    ) -> Result<Image> {
        if names.is_empty() {
            return self.pull(lock, reference);
        }
        let names: Vec<String> = names.iter().map(ImageName::to_string).collect();
        self.pull_as(lock, reference, &Naming::Names(&names))
    }

    /// Pulls `reference`, naming the image as `naming` says.
    fn pull_as(
        &self,
        lock: &ImageLock,
        reference: &ImageReference,
        naming: &Naming<'_>,
    ) -> Result<Image> {
        self.check_lock(lock);
        let name = reference.to_string();
        let tag = reference.tag.as_deref();
        match reference.transport {
            Transport::OciLayout => {
                let layout = Layout::new(&reference.path, &reference.path, &name);
                self.pull_layout(&layout, &name, tag, naming)
            }
            Transport::OciArchive => {
                let extracted = TmpDir::create(self.tmp_entry("archive"))?;
                archive::extract(&reference.path, extracted.path(), &name)?;
                let layout = Layout::new(extracted.path(), &reference.path, &name);
                self.pull_layout(&layout, &name, tag, naming)
            }
        }
    }

    /// Every image in the store, sorted by first name, else first reference (then digest). A
    /// store that does not exist is empty.
    pub fn list(&self) -> Result<Vec<Image>> {
        let dir = self.images_dir();
        if !is_real_dir(&dir)? {
            return Ok(Vec::new());
        }
        let what = || format!("listing images in {}", dir.display());
        let mut images = Vec::new();
        for entry in std::fs::read_dir(&dir).context(what)? {
            let name = entry.context(what)?.file_name();
            let Some(hex) = name.to_str().and_then(|n| n.strip_suffix(".json")) else {
                continue;
            };
            if hex.len() != 64 || !is_lower_hex(hex) {
                continue;
            }
            // A record removed since the listing is simply gone.
            if let Some(image) = self.read_image(hex)? {
                images.push(image);
            }
        }
        images.sort_by(|a, b| (a.label(), &a.digest).cmp(&(b.label(), &b.digest)));
        Ok(images)
    }

    /// The image with manifest digest `digest` (`sha256:<hex>`), if the store has it.
    pub fn get(&self, digest: &str) -> Result<Option<Image>> {
        let hex = sha256_hex(digest).ok_or_else(|| Error::ImageInvalid {
            image: digest.to_owned(),
            reason: "not an image digest: expected sha256: and 64 lowercase hex digits".to_owned(),
        })?;
        self.read_image(hex)
    }

    /// Finds an image by a reference (parsed and made canonical first, then matched exactly),
    /// by its full digest, by a hex prefix of its digest of at least 12 digits (`sha256:`
    /// optional), or by a name (parsed and normalized first), read in that order
    /// ([`ImageQuery`]). [`Error::ImageNotFound`] when nothing matches; a prefix that matches
    /// several images is [`Error::ImageInvalid`], naming them.
    pub fn resolve(&self, reference_or_digest: &str) -> Result<Image> {
        self.find(&ImageQuery::parse(reference_or_digest)?)
    }

    /// Finds the image `query` names (see [`ImageStore::resolve`]).
    pub fn find(&self, query: &ImageQuery) -> Result<Image> {
        match query {
            ImageQuery::Reference(reference) => {
                let canonical = reference.to_string();
                // Two records hold a reference only if a pull died between writing the new
                // one and taking the reference from the old: the newer pull is the one that
                // counts.
                self.list()?
                    .into_iter()
                    .filter(|image| image.references.contains(&canonical))
                    .max_by(|a, b| a.pulled_at.cmp(&b.pulled_at))
                    .ok_or(Error::ImageNotFound { image: canonical })
            }
            ImageQuery::Name(name) => self.named(name)?.ok_or_else(|| Error::ImageNotFound {
                image: name.to_string(),
            }),
            ImageQuery::Digest(input) => self.find_digest(input),
        }
    }

    /// The image that holds `name`, if any.
    pub fn named(&self, name: &ImageName) -> Result<Option<Image>> {
        let canonical = name.to_string();
        // `tag` takes a name from its holder before giving it, so at most one record has it.
        Ok(self
            .list()?
            .into_iter()
            .find(|image| image.names.contains(&canonical)))
    }

    /// Gives `image` every one of `names`, taking each from the image that had it (as
    /// `docker tag` and `podman load` do). Each name is first taken from its old holder, then
    /// given to `image` in one atomic write of its record: a command killed in between leaves
    /// the name on no image, never on two. Returns the record as written.
    /// [`Error::ImageNotFound`] if the store has no record of `image`.
    pub fn tag(&self, lock: &ImageLock, image: &Image, names: &[ImageName]) -> Result<Image> {
        self.check_lock(lock);
        let not_found = || Error::ImageNotFound {
            image: image.digest.clone(),
        };
        let hex = sha256_hex(&image.digest).ok_or_else(not_found)?;
        let image = self.read_image(hex)?.ok_or_else(not_found)?;
        let names: Vec<String> = names.iter().map(ImageName::to_string).collect();
        self.give_names(image, &names)
    }

    /// Takes each of `names` (canonical) from any other image that has it, then writes
    /// `image`'s record with them added (see [`ImageStore::tag`]).
    fn give_names(&self, mut image: Image, names: &[String]) -> Result<Image> {
        for mut other in self.list()? {
            if other.digest == image.digest {
                continue;
            }
            let mut taken = false;
            for name in names {
                taken |= other.remove_name(name);
            }
            if taken {
                log::debug!("names {names:?} taken from {}", other.digest);
                self.write_image(&other)?;
            }
        }
        for name in names {
            image.add_name(name);
        }
        // Written even when it had every name: a new image's record is this write.
        self.write_image(&image)?;
        Ok(image)
    }

    /// Takes `name` from the image that has it; [`Error::ImageNotFound`] if none has.
    /// Returns that image's record as written.
    pub fn untag(&self, lock: &ImageLock, name: &ImageName) -> Result<Image> {
        self.check_lock(lock);
        let mut image = self.named(name)?.ok_or_else(|| Error::ImageNotFound {
            image: name.to_string(),
        })?;
        image.remove_name(&name.to_string());
        self.write_image(&image)?;
        Ok(image)
    }

    /// The image with the full digest, or the unique digest prefix, `input` (`sha256:`
    /// optional).
    fn find_digest(&self, input: &str) -> Result<Image> {
        let not_found = || Error::ImageNotFound {
            image: input.to_owned(),
        };
        let hex = input.strip_prefix("sha256:").unwrap_or(input);
        if !is_lower_hex(hex) || hex.len() < MIN_DIGEST_PREFIX || hex.len() > 64 {
            return Err(not_found());
        }
        if hex.len() == 64 {
            return self.read_image(hex)?.ok_or_else(not_found);
        }
        let mut matches: Vec<Image> = self
            .list()?
            .into_iter()
            .filter(|image| sha256_hex(&image.digest).is_some_and(|h| h.starts_with(hex)))
            .collect();
        match matches.len() {
            0 => Err(not_found()),
            1 => Ok(matches.remove(0)),
            _ => Err(Error::ImageInvalid {
                image: input.to_owned(),
                reason: format!(
                    "the digest prefix matches {} images: {}",
                    matches.len(),
                    matches
                        .iter()
                        .map(|i| i.digest.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }),
        }
    }

    /// Writes `image`'s record (atomically).
    fn write_image(&self, image: &Image) -> Result<()> {
        let hex = sha256_hex(&image.digest).ok_or_else(|| Error::ImageInvalid {
            image: image.digest.clone(),
            reason: "not a sha256 digest".to_owned(),
        })?;
        write_json(&self.image_record(hex), image)
    }

    /// Removes `image`'s record, then every layer that no remaining image uses (see the module
    /// doc). [`Error::ImageNotFound`] if the store has no record of it.
    pub fn remove(&self, lock: &ImageLock, image: &Image) -> Result<()> {
        self.check_lock(lock);
        let hex = sha256_hex(&image.digest).ok_or_else(|| Error::ImageNotFound {
            image: image.digest.clone(),
        })?;
        if self.read_image(hex)?.is_none() {
            return Err(Error::ImageNotFound {
                image: image.digest.clone(),
            });
        }
        let record = self.image_record(hex);
        std::fs::remove_file(&record).context(|| {
            format!(
                "removing the record of image {} ({})",
                image.digest,
                record.display()
            )
        })?;
        self.remove_unused_layers()
    }

    /// The image's layer directories in overlayfs `lowerdir` order: top layer first. A layer
    /// the image lists twice appears once, at its topmost place: overlayfs refuses a repeated
    /// lower directory, and the topmost copy rewrites every path the layer touches anyway.
    pub fn layer_dirs(&self, image: &Image) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = Vec::with_capacity(image.layers.len());
        for diff_id in image.layers.iter().rev() {
            let dir = self.layer_dir(diff_id.strip_prefix("sha256:").unwrap_or(diff_id));
            if !dirs.contains(&dir) {
                dirs.push(dir);
            }
        }
        dirs
    }

    /// Resolves `name` (`tag`) in `layout` and stores what is missing of it.
    fn pull_layout(
        &self,
        layout: &Layout<'_>,
        name: &str,
        tag: Option<&str>,
        naming: &Naming<'_>,
    ) -> Result<Image> {
        let resolved = layout.resolve(tag)?;
        let hex = sha256_hex(&resolved.digest)
            .ok_or_else(|| layout.invalid(format!("manifest {} is not sha256", resolved.digest)))?;
        if let Some(image) = self.read_image(hex)?
            && image.layers.iter().all(|diff_id| self.has_layer(diff_id))
        {
            log::debug!("image {name} ({}) is already in the store", image.digest);
            return match naming {
                // Pulled as `name` before: nothing to write (no other image can hold
                // `name`, record_pull took it from them then). The cost of every cached
                // `run`.
                Naming::Reference if image.references.iter().any(|r| r == name) => Ok(image),
                Naming::Reference => self.record_pull(image, hex, name),
                Naming::Names(names) => self.give_names(image, names),
            };
        }
        let config = layout.config(&resolved.manifest)?;
        let descriptors = resolved.manifest.layers();
        // Every layer is checked before any is unpacked, so that a layer the store cannot read
        // costs no work.
        for descriptor in descriptors {
            layer::compression(descriptor.media_type()).map_err(|reason| {
                layout.invalid(format!("layer {}: {reason}", descriptor.digest()))
            })?;
            if descriptor.as_digest_sha256().is_none() {
                return Err(layout.invalid(format!(
                    "layer {} is not addressed by sha256; only sha256 is supported",
                    descriptor.digest()
                )));
            }
        }
        let diff_ids = config.rootfs().diff_ids();
        // All missing layers are unpacked and verified before any is moved into place, so a
        // pull that fails leaves nothing but what its `TmpDir`s remove.
        let mut sizes = Vec::with_capacity(diff_ids.len());
        let mut unpacked = Vec::new();
        for (descriptor, diff_id) in descriptors.iter().zip(diff_ids) {
            let hex = sha256_hex(diff_id).ok_or_else(|| {
                layout.invalid(format!("diff_id {diff_id:?} is not a sha256 digest"))
            })?;
            if let Some(size) = self.layer_size(hex)? {
                sizes.push(size);
            } else if let Some((_, _, size)) = unpacked.iter().find(|(h, _, _)| *h == hex) {
                // The same layer twice in one image.
                sizes.push(*size);
            } else {
                let dir = TmpDir::create(self.tmp_entry(&format!("layer-{hex}")))?;
                log::debug!(
                    "unpacking layer {} ({diff_id}) of {name} into {}",
                    descriptor.digest(),
                    dir.path().display()
                );
                let size = layer::unpack(layout, name, descriptor, diff_id, dir.path())?;
                sizes.push(size);
                unpacked.push((hex, dir, size));
            }
        }
        for (hex, dir, size) in unpacked {
            self.install_layer(hex, &dir, size)?;
        }
        let image = Image {
            digest: resolved.digest.clone(),
            references: Vec::new(),
            names: Vec::new(),
            config: ImageDefaults::of(&config),
            layers: diff_ids.clone(),
            size: sizes.iter().sum(),
            architecture: config.architecture().to_string(),
            os: config.os().to_string(),
            pulled_at: String::new(),
        };
        match naming {
            Naming::Reference => self.record_pull(image, hex, name),
            Naming::Names(names) => self.give_names(
                Image {
                    pulled_at: now_rfc3339(),
                    ..image
                },
                names,
            ),
        }
    }

    /// Writes `image` (digest `sha256:<hex>`) with reference `name` added and the pull's time,
    /// then takes `name` from any other image that had it (a tag moved).
    fn record_pull(&self, mut image: Image, hex: &str, name: &str) -> Result<Image> {
        image.add_reference(name);
        image.pulled_at = now_rfc3339();
        write_json(&self.image_record(hex), &image)?;
        for mut other in self.list()? {
            let Some(other_hex) = sha256_hex(&other.digest) else {
                continue;
            };
            if other_hex != hex && other.references.iter().any(|r| r == name) {
                other.references.retain(|r| r != name);
                log::debug!(
                    "reference {name} moved from {} to {}",
                    other.digest,
                    image.digest
                );
                write_json(&self.image_record(other_hex), &other)?;
            }
        }
        Ok(image)
    }

    /// The size of layer `sha256:<hex>` if it is unpacked (its directory and record are there).
    fn layer_size(&self, hex: &str) -> Result<Option<u64>> {
        let Some(record) = read_json::<LayerRecord>(&self.layer_record(hex))? else {
            return Ok(None);
        };
        Ok(is_real_dir(&self.layer_dir(hex))?.then_some(record.size))
    }

    /// Moves the verified layer `sha256:<hex>` from `unpacked` into place and records it.
    fn install_layer(&self, hex: &str, unpacked: &TmpDir, size: u64) -> Result<()> {
        let dir = self.layer_dir(hex);
        if std::fs::symlink_metadata(&dir).is_ok() {
            // Renamed into place by a pull that died before writing the record: complete, but
            // of unknown size; the new copy replaces it.
            let stale = TmpDir::adopt(self.tmp_entry("stale"));
            std::fs::rename(&dir, stale.path())
                .context(|| format!("moving {} away", dir.display()))?;
        }
        std::fs::rename(unpacked.path(), &dir)
            .context(|| format!("moving layer sha256:{hex} into place at {}", dir.display()))?;
        write_json(
            &self.layer_record(hex),
            &LayerRecord {
                diff_id: format!("sha256:{hex}"),
                size,
                unpacked_at: now_rfc3339(),
            },
        )
    }

    /// Removes every layer (directory, record, leftover temporary record) that no image uses.
    fn remove_unused_layers(&self) -> Result<()> {
        let used: HashSet<String> = self
            .list()?
            .iter()
            .flat_map(|image| image.layers.iter())
            .filter_map(|diff_id| sha256_hex(diff_id).map(str::to_owned))
            .collect();
        let layers = self.layers_dir();
        let what = || format!("listing layers in {}", layers.display());
        let mut unused = HashSet::new();
        for entry in std::fs::read_dir(&layers).context(what)? {
            let name = entry.context(what)?.file_name();
            let Some(name) = name.to_str() else { continue };
            let hex = name.split('.').next().unwrap_or(name);
            if hex.len() == 64 && is_lower_hex(hex) && !used.contains(hex) {
                unused.insert(hex.to_owned());
            }
        }
        for hex in unused {
            let dir = self.layer_dir(&hex);
            if std::fs::symlink_metadata(&dir).is_ok() {
                // Out of `layers/` at once; the slow removal happens in `tmp/`, where the next
                // lock finishes it if this process dies.
                let doomed = TmpDir::adopt(self.tmp_entry(&format!("remove-{hex}")));
                std::fs::rename(&dir, doomed.path())
                    .context(|| format!("moving unused layer {} away", dir.display()))?;
                remove_any(&self.layer_record(&hex))
                    .context(|| format!("removing the record of layer sha256:{hex}"))?;
                remove_any(doomed.path())
                    .context(|| format!("removing unused layer sha256:{hex}"))?;
            } else {
                remove_any(&self.layer_record(&hex))
                    .context(|| format!("removing the record of layer sha256:{hex}"))?;
            }
            let mut tmp_record = self.layer_record(&hex).into_os_string();
            tmp_record.push(".tmp");
            remove_any(Path::new(&tmp_record))
                .context(|| format!("removing {}", Path::new(&tmp_record).display()))?;
            log::debug!("removed unused layer sha256:{hex}");
        }
        Ok(())
    }

    /// Reads and checks the record of image `<hex>`; `None` if there is none.
    fn read_image(&self, hex: &str) -> Result<Option<Image>> {
        let path = self.image_record(hex);
        let Some(image) = read_json::<Image>(&path)? else {
            return Ok(None);
        };
        image.check(&path, &format!("sha256:{hex}"))?;
        Ok(Some(image))
    }

    /// Whether layer `diff_id` is unpacked: its directory and its record are there.
    fn has_layer(&self, diff_id: &str) -> bool {
        sha256_hex(diff_id).is_some_and(|hex| matches!(self.layer_size(hex), Ok(Some(_))))
    }

    /// A lock of another store is a bug of the caller.
    fn check_lock(&self, lock: &ImageLock) {
        assert_eq!(
            lock.dir(),
            self.dir,
            "the image store at {} was given the lock of another store",
            self.dir.display()
        );
    }

    fn layers_dir(&self) -> PathBuf {
        self.dir.join("layers")
    }

    fn images_dir(&self) -> PathBuf {
        self.dir.join("images")
    }

    fn tmp_dir(&self) -> PathBuf {
        self.dir.join("tmp")
    }

    fn layer_dir(&self, hex: &str) -> PathBuf {
        self.layers_dir().join(hex)
    }

    fn layer_record(&self, hex: &str) -> PathBuf {
        self.layers_dir().join(format!("{hex}.json"))
    }

    fn image_record(&self, hex: &str) -> PathBuf {
        self.images_dir().join(format!("{hex}.json"))
    }

    /// A new name under `tmp/`, starting with `what`.
    fn tmp_entry(&self, what: &str) -> PathBuf {
        let n = NEXT_TMP.fetch_add(1, Ordering::Relaxed);
        self.tmp_dir()
            .join(format!("{what}-{}-{n}", std::process::id()))
    }
}

/// How a pull names the image it stores.
enum Naming<'a> {
    /// By the reference pulled (`run --image REF`).
    Reference,
    /// By these names, canonical (`load --name`).
    Names(&'a [String]),
}

/// A directory under `tmp/`, removed with everything in it when dropped (a pull that fails
/// leaves nothing), unless it was renamed away first.
struct TmpDir {
    path: PathBuf,
}

impl TmpDir {
    /// Makes the directory (0755: it may become a layer, whose root is a container's `/`).
    fn create(path: PathBuf) -> Result<TmpDir> {
        make_dir(&path).context(|| format!("creating {}", path.display()))?;
        Ok(TmpDir { path })
    }

    /// Takes charge of `path`, which something is about to be renamed to.
    fn adopt(path: PathBuf) -> TmpDir {
        TmpDir { path }
    }

    fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TmpDir {
    fn drop(&mut self) {
        if let Err(e) = remove_any(&self.path) {
            log::warn!(
                "removing {}: {e}; the next lock of the image store removes it",
                self.path.display()
            );
        }
    }
}

/// Removes `path` whatever it is, with `rm -rf` semantics: a directory with everything in it
/// (symlinks are removed, never followed), anything else as a file. A missing path is fine.
fn remove_any(path: &Path) -> std::io::Result<()> {
    let removed = match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(e) => Err(e),
    };
    match removed {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};

    use serde_json::json;

    use super::*;
    use crate::image::fixture::{
        Layer, LayoutDir, Tar, config, host_arch, names_in, require_root, scratch, tagged,
        with_platform,
    };
    use crate::image::whiteout::xattr;

    /// A layout and a store in one scratch directory, removed on drop.
    struct Env {
        root: PathBuf,
        layout: LayoutDir,
        store: ImageStore,
    }

    impl Env {
        fn new() -> Env {
            require_root();
            let root = scratch("image");
            Env {
                layout: LayoutDir::new(root.join("layout")),
                store: ImageStore::new(root.join("store")),
                root,
            }
        }

        fn pull(&self, text: &str) -> Result<Image> {
            let lock = self.store.lock()?;
            self.store.pull(&lock, &ImageReference::parse(text)?)
        }

        /// Pulls and returns the error's text, after checking it is `ImageInvalid`.
        fn refused(&self, text: &str) -> String {
            match self.pull(text) {
                Err(e @ Error::ImageInvalid { .. }) => e.to_string(),
                other => panic!("{text}: expected ImageInvalid, got {other:?}"),
            }
        }

        /// The store holds no image, no layer, and nothing in `tmp/`.
        fn assert_empty(&self) {
            for sub in ["layers", "images", "tmp"] {
                assert_eq!(
                    names_in(&self.store.dir().join(sub)),
                    Vec::<String>::new(),
                    "{sub}/"
                );
            }
        }
    }

    impl Drop for Env {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }

    fn other_arch() -> &'static str {
        if host_arch() == "arm64" {
            "amd64"
        } else {
            "arm64"
        }
    }

    fn layer_of(files: &[(&str, &str)]) -> Layer {
        let mut tar = Tar::new();
        for (path, data) in files {
            tar = tar.file(path, data.as_bytes(), 0o644);
        }
        Layer::gzip(tar.build())
    }

    #[test]
    fn the_only_image_is_pulled_without_a_tag_with_its_defaults() {
        let env = Env::new();
        let layer = Layer::gzip(
            Tar::new()
                .dir("srv", 0o750)
                .file("srv/hello", b"hello\n", 0o640)
                .build(),
        );
        let manifest = env.layout.image(std::slice::from_ref(&layer));
        env.layout.index(std::slice::from_ref(&manifest));
        let image = env.pull(&env.layout.reference(None)).unwrap();
        assert_eq!(image.digest, manifest["digest"]);
        assert_eq!(image.references, [env.layout.reference(None)]);
        assert_eq!(image.layers, [layer.diff_id()]);
        assert_eq!(image.size, 6);
        assert_eq!(
            (image.os.as_str(), image.architecture.as_str()),
            ("linux", host_arch())
        );
        assert_eq!(
            image.config,
            ImageDefaults {
                entrypoint: vec!["/bin/sh".into(), "-c".into()],
                cmd: vec!["echo hi".into()],
                env: vec!["PATH=/usr/bin:/bin".into()],
                working_dir: Some("/srv".into()),
                user: None,
                stop_signal: Some("SIGINT".into()),
            }
        );
        let dirs = env.store.layer_dirs(&image);
        assert_eq!(
            dirs,
            [env.store.dir().join("layers").join(&layer.diff_id()[7..])]
        );
        let file = dirs[0].join("srv/hello");
        assert_eq!(std::fs::read(&file).unwrap(), b"hello\n");
        assert_eq!(
            file.metadata().unwrap().permissions().mode() & 0o7777,
            0o640
        );
        let srv = dirs[0].join("srv").metadata().unwrap();
        assert_eq!(srv.permissions().mode() & 0o7777, 0o750);
        // The layer's root is the container's `/`: 0755 root, not the store's 0700.
        assert_eq!(
            dirs[0].metadata().unwrap().permissions().mode() & 0o7777,
            0o755
        );
        assert_eq!(
            env.store.get(&image.digest).unwrap().unwrap().digest,
            image.digest
        );
        assert_eq!(env.store.list().unwrap().len(), 1);
        assert_eq!(names_in(&env.store.dir().join("tmp")), Vec::<String>::new());
        let mode = env.store.dir().metadata().unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }

    #[test]
    fn several_images_need_a_tag_and_a_missing_tag_lists_the_tags() {
        let env = Env::new();
        let v1 = env.layout.image(&[layer_of(&[("v", "1")])]);
        let v2 = env.layout.image(&[layer_of(&[("v", "2")])]);
        env.layout.index(&[tagged(&v1, "v1"), tagged(&v2, "v2")]);
        let err = env.refused(&env.layout.reference(None));
        assert!(
            err.contains(&format!("2 images in {}", env.layout.dir.display()))
                && err.contains(":TAG")
                && err.contains("tags: v1, v2"),
            "{err}"
        );
        let err = env.refused(&env.layout.reference(Some("v3")));
        assert!(
            err.contains("no image tagged \"v3\"") && err.contains("tags: v1, v2"),
            "{err}"
        );
        env.assert_empty();
        let image = env.pull(&env.layout.reference(Some("v2"))).unwrap();
        assert_eq!(image.digest, v2["digest"]);
    }

    #[test]
    fn a_nested_index_gives_the_manifest_for_this_host() {
        let env = Env::new();
        let layer = layer_of(&[("f", "x")]);
        let ours = env.layout.image(std::slice::from_ref(&layer));
        let foreign = env.layout.image_with_config(
            std::slice::from_ref(&layer),
            &config(other_arch(), &[layer.diff_id()]),
        );
        let nested = |manifests: Vec<serde_json::Value>| {
            let index = json!({"schemaVersion": 2, "manifests": manifests});
            env.layout.blob(
                &serde_json::to_vec(&index).unwrap(),
                "application/vnd.oci.image.index.v1+json",
            )
        };
        let both = nested(vec![
            with_platform(&foreign, "linux", other_arch()),
            with_platform(&ours, "linux", host_arch()),
        ]);
        let only_foreign = nested(vec![with_platform(&foreign, "linux", other_arch())]);
        env.layout
            .index(&[tagged(&both, "multi"), tagged(&only_foreign, "foreign")]);
        let image = env.pull(&env.layout.reference(Some("multi"))).unwrap();
        assert_eq!(image.digest, ours["digest"]);
        let err = env.refused(&env.layout.reference(Some("foreign")));
        let expected = format!(
            "no linux/{} image in image index {}; it has: linux/{}",
            host_arch(),
            only_foreign["digest"].as_str().unwrap(),
            other_arch()
        );
        assert!(err.contains(&expected), "{err}");
    }

    #[test]
    fn an_image_for_another_architecture_is_refused() {
        let env = Env::new();
        let layer = layer_of(&[("f", "x")]);
        let manifest = env.layout.image_with_config(
            std::slice::from_ref(&layer),
            &config(other_arch(), &[layer.diff_id()]),
        );
        env.layout.index(&[manifest]);
        let err = env.refused(&env.layout.reference(None));
        let expected = format!(
            "image {}: it is for linux/{}; this host runs linux/{}",
            env.layout.reference(None),
            other_arch(),
            host_arch()
        );
        assert_eq!(err, expected);
        env.assert_empty();
    }

    #[test]
    fn a_corrupt_blob_is_refused_and_leaves_nothing() {
        let env = Env::new();
        let good = layer_of(&[("a", "first layer")]);
        let bad = layer_of(&[("b", &"second layer ".repeat(100))]);
        let manifest = env.layout.image(&[good, bad.clone()]);
        env.layout.index(&[manifest]);
        // Flip one byte in the middle of the second layer's gzip stream (same size).
        let path = env
            .layout
            .blob_path(&crate::image::digest::sha256_of(&bad.blob));
        let mut bytes = std::fs::read(&path).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();
        let err = env.refused(&env.layout.reference(None));
        let digest = crate::image::digest::sha256_of(&bad.blob);
        let actual = crate::image::digest::sha256_of(&bytes);
        assert!(
            err.contains(&format!(
                "blob {digest} has digest {actual} (corrupt or tampered)"
            )),
            "{err}"
        );
        env.assert_empty();
        // A blob of the wrong size is refused before it is read.
        bytes.push(0);
        std::fs::write(&path, &bytes).unwrap();
        let err = env.refused(&env.layout.reference(None));
        assert!(err.contains("its descriptor says"), "{err}");
        env.assert_empty();
    }

    #[test]
    fn a_corrupt_manifest_is_refused() {
        let env = Env::new();
        let manifest = env.layout.image(&[layer_of(&[("a", "x")])]);
        env.layout.index(std::slice::from_ref(&manifest));
        let path = env.layout.blob_path(manifest["digest"].as_str().unwrap());
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("\"layers\"", "\"layerz\"");
        std::fs::write(&path, text).unwrap();
        let err = env.refused(&env.layout.reference(None));
        assert!(err.contains("(corrupt or tampered)"), "{err}");
        env.assert_empty();
    }

    #[test]
    fn a_diff_id_mismatch_is_refused() {
        let env = Env::new();
        let layer = layer_of(&[("a", "x")]);
        let wrong = crate::image::digest::sha256_of(b"something else");
        let manifest = env.layout.image_with_config(
            std::slice::from_ref(&layer),
            &config(host_arch(), std::slice::from_ref(&wrong)),
        );
        env.layout.index(&[manifest]);
        let err = env.refused(&env.layout.reference(None));
        assert!(
            err.contains(&format!(
                "uncompresses to {}, but the config's diff_id for it is {wrong}",
                layer.diff_id()
            )),
            "{err}"
        );
        env.assert_empty();
        // As many diff_ids as layers.
        let manifest = env
            .layout
            .image_with_config(std::slice::from_ref(&layer), &config(host_arch(), &[]));
        env.layout.index(&[manifest]);
        let err = env.refused(&env.layout.reference(None));
        assert!(
            err.contains("the manifest has 1 layer(s) but its config"),
            "{err}"
        );
    }

    #[test]
    fn unsupported_media_types_and_digests_are_refused() {
        let env = Env::new();
        for media_type in [
            "application/vnd.oci.image.layer.v1.tar+zstd",
            "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
            "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
        ] {
            let mut layer = layer_of(&[("a", "x")]);
            layer.media_type = media_type.to_owned();
            let manifest = env.layout.image(&[layer_of(&[("ok", "1")]), layer]);
            env.layout.index(&[manifest]);
            let err = env.refused(&env.layout.reference(None));
            assert!(
                err.contains(&format!("media type {media_type} is not supported")),
                "{err}"
            );
            env.assert_empty();
        }
        let mut manifest = env.layout.image(&[layer_of(&[("a", "x")])]);
        manifest["digest"] = json!(format!("sha512:{}", "ab".repeat(64)));
        env.layout.index(&[manifest]);
        let err = env.refused(&env.layout.reference(None));
        assert!(err.contains("only sha256 is supported"), "{err}");
    }

    #[test]
    fn a_layer_listed_twice_is_one_lower_directory_at_its_topmost_place() {
        let env = Env::new();
        let repeated = layer_of(&[("a", "x")]);
        let middle = layer_of(&[("b", "y")]);
        env.layout
            .index(&[env.layout.image(&[repeated.clone(), middle, repeated])]);
        let image = env.pull(&env.layout.reference(None)).unwrap();
        let dirs = env.store.layer_dirs(&image);
        assert_eq!(dirs.len(), 2, "{dirs:?}");
        assert!(dirs[0].join("a").exists() && dirs[1].join("b").exists());
    }

    #[test]
    fn docker_and_plain_layers_are_read() {
        let env = Env::new();
        let mut docker = layer_of(&[("a", "gzip")]);
        docker.media_type = "application/vnd.docker.image.rootfs.diff.tar.gzip".to_owned();
        let plain = Layer::plain(Tar::new().file("b", b"plain", 0o600).build());
        env.layout.index(&[env.layout.image(&[docker, plain])]);
        let image = env.pull(&env.layout.reference(None)).unwrap();
        let dirs = env.store.layer_dirs(&image);
        assert_eq!(std::fs::read(dirs[0].join("b")).unwrap(), b"plain");
        assert_eq!(std::fs::read(dirs[1].join("a")).unwrap(), b"gzip");
        assert_eq!(image.size, 9);
    }

    #[test]
    fn whiteouts_become_overlayfs_whiteouts() {
        let env = Env::new();
        let lower = Layer::gzip(
            Tar::new()
                .file("a", b"deleted above", 0o644)
                .dir("d", 0o755)
                .file("d/x", b"hidden above", 0o644)
                .build(),
        );
        let upper = Layer::gzip(
            Tar::new()
                .file(".wh.a", b"", 0o644)
                .dir("d", 0o755)
                .file("d/.wh..wh..opq", b"", 0o644)
                .file("d/y", b"new", 0o644)
                .file("e/.wh..wh.plnk", b"", 0o644)
                .build(),
        );
        env.layout.index(&[env.layout.image(&[lower, upper])]);
        let image = env.pull(&env.layout.reference(None)).unwrap();
        let dirs = env.store.layer_dirs(&image);
        let top = &dirs[0];
        let a = std::fs::symlink_metadata(top.join("a")).unwrap();
        assert!(a.file_type().is_char_device(), "{a:?}");
        assert_eq!(a.rdev(), 0);
        assert_eq!(
            xattr(&top.join("d"), c"trusted.overlay.opaque").as_deref(),
            Some(&b"y"[..])
        );
        assert_eq!(std::fs::read(top.join("d/y")).unwrap(), b"new");
        // AUFS metadata is not written (nor the directory it alone needed).
        assert_eq!(names_in(top), ["a", "d"]);
        assert_eq!(names_in(&top.join("d")), ["y"]);
        // The lower layer is untouched.
        assert_eq!(std::fs::read(dirs[1].join("a")).unwrap(), b"deleted above");
        assert_eq!(xattr(&dirs[1].join("d"), c"trusted.overlay.opaque"), None);
    }

    #[test]
    fn a_whiteout_loses_to_an_entry_of_its_own_layer() {
        let env = Env::new();
        let layer = Layer::gzip(
            Tar::new()
                .file(".wh.a", b"", 0o644)
                .file("a", b"kept", 0o644)
                .file("b", b"kept too", 0o644)
                .file(".wh.b", b"", 0o644)
                .file(".wh.c", b"", 0o644)
                .dir("c", 0o700)
                .build(),
        );
        env.layout.index(&[env.layout.image(&[layer])]);
        let image = env.pull(&env.layout.reference(None)).unwrap();
        let top = &env.store.layer_dirs(&image)[0];
        assert_eq!(std::fs::read(top.join("a")).unwrap(), b"kept");
        assert_eq!(std::fs::read(top.join("b")).unwrap(), b"kept too");
        assert!(top.join("c").symlink_metadata().unwrap().is_dir());
    }

    /// (inode, mtime) of each of the image's layer directories.
    fn identities(store: &ImageStore, image: &Image) -> Vec<(u64, i64)> {
        store
            .layer_dirs(image)
            .iter()
            .map(|d| {
                let meta = d.symlink_metadata().unwrap();
                (meta.ino(), meta.mtime_nsec() + meta.mtime() * 1_000_000_000)
            })
            .collect()
    }

    #[test]
    fn a_second_pull_and_a_shared_layer_unpack_nothing() {
        let env = Env::new();
        let shared = layer_of(&[("shared", "1")]);
        let own = layer_of(&[("own", "2")]);
        let other = layer_of(&[("other", "3")]);
        let first = env.layout.image(&[shared.clone(), own.clone()]);
        let second = env.layout.image(&[shared.clone(), other.clone()]);
        env.layout
            .index(&[tagged(&first, "first"), tagged(&second, "second")]);
        let image = env.pull(&env.layout.reference(Some("first"))).unwrap();
        let before = identities(&env.store, &image);
        // Without its layer blobs, the layout can only be pulled from what the store has.
        for layer in [&shared, &own] {
            let digest = crate::image::digest::sha256_of(&layer.blob);
            std::fs::remove_file(env.layout.blob_path(&digest)).unwrap();
        }
        let again = env.pull(&env.layout.reference(Some("first"))).unwrap();
        assert_eq!(again.digest, image.digest);
        assert_eq!(again.layers, image.layers);
        assert_eq!(again.size, image.size);
        assert_eq!(identities(&env.store, &again), before);
        // The second image needs its own layer; the shared one is not read (its blob is gone).
        let second_image = env.pull(&env.layout.reference(Some("second"))).unwrap();
        let shared_dir = env.store.layer_dirs(&second_image)[1].clone();
        assert_eq!(shared_dir, env.store.layer_dirs(&image)[1]);
        assert_eq!(identities(&env.store, &second_image)[1], before[1]);
        assert_eq!(names_in(&env.store.dir().join("layers")).len(), 6);
    }

    #[test]
    fn an_oci_archive_is_pulled_and_leaves_no_tmp() {
        let env = Env::new();
        let layer = layer_of(&[("from-archive", "yes")]);
        let manifest = env.layout.image(&[layer]);
        env.layout.index(&[tagged(&manifest, "v1")]);
        for gzipped in [false, true] {
            let archive = env.root.join(format!("image-{gzipped}.tar"));
            let mut builder = tar::Builder::new(Vec::new());
            builder.append_dir_all(".", &env.layout.dir).unwrap();
            let mut bytes = builder.into_inner().unwrap();
            if gzipped {
                bytes = crate::image::fixture::gzip(&bytes);
            }
            std::fs::write(&archive, bytes).unwrap();
            let reference = format!("oci-archive:{}:v1", archive.display());
            let image = env.pull(&reference).unwrap();
            assert_eq!(image.digest, manifest["digest"]);
            assert!(
                image.references.contains(&reference),
                "{:?}",
                image.references
            );
            assert_eq!(names_in(&env.store.dir().join("tmp")), Vec::<String>::new());
        }
        // A failing pull removes its extraction too.
        let archive = env.root.join("image-true.tar");
        let err = env.refused(&format!("oci-archive:{}:v2", archive.display()));
        let expected = format!("no image tagged \"v2\" in {} (tags: v1)", archive.display());
        assert!(err.contains(&expected), "{err}");
        assert_eq!(names_in(&env.store.dir().join("tmp")), Vec::<String>::new());
        let err = env.refused(&format!(
            "oci-archive:{}",
            env.root.join("missing.tar").display()
        ));
        assert!(err.contains("does not exist"), "{err}");
    }

    #[test]
    fn remove_keeps_layers_shared_with_another_image() {
        let env = Env::new();
        let shared = layer_of(&[("shared", "1")]);
        let only_a = layer_of(&[("a", "2")]);
        let only_b = layer_of(&[("b", "3")]);
        let a = env.layout.image(&[shared.clone(), only_a.clone()]);
        let b = env.layout.image(&[shared.clone(), only_b.clone()]);
        env.layout.index(&[tagged(&a, "a"), tagged(&b, "b")]);
        let image_a = env.pull(&env.layout.reference(Some("a"))).unwrap();
        let image_b = env.pull(&env.layout.reference(Some("b"))).unwrap();
        let hex = |layer: &Layer| layer.diff_id()[7..].to_owned();
        let lock = env.store.lock().unwrap();
        env.store.remove(&lock, &image_a).unwrap();
        let mut expected = vec![
            hex(&shared),
            format!("{}.json", hex(&shared)),
            hex(&only_b),
            format!("{}.json", hex(&only_b)),
        ];
        expected.sort();
        assert_eq!(names_in(&env.store.dir().join("layers")), expected);
        let listed: Vec<String> = env
            .store
            .list()
            .unwrap()
            .into_iter()
            .map(|i| i.digest)
            .collect();
        assert_eq!(listed, [image_b.digest.as_str()]);
        assert!(matches!(
            env.store.remove(&lock, &image_a),
            Err(Error::ImageNotFound { .. })
        ));
        env.store.remove(&lock, &image_b).unwrap();
        drop(lock);
        env.assert_empty();
    }

    #[test]
    fn resolve_takes_references_digests_and_unique_prefixes() {
        let env = Env::new();
        let manifest = env.layout.image(&[layer_of(&[("a", "x")])]);
        env.layout.index(&[tagged(&manifest, "v1")]);
        let image = env.pull(&env.layout.reference(Some("v1"))).unwrap();
        let digest = image.digest.as_str();
        let messy = format!("oci:{}/./:v1", env.layout.dir.display());
        for found in [
            messy.as_str(),
            digest,
            &digest[7..],
            &digest[..19],
            &digest[7..19],
        ] {
            assert_eq!(env.store.resolve(found).unwrap().digest, digest, "{found}");
        }
        let not_found = [
            &digest[7..18],
            "busybox",
            "oci:/elsewhere:v1",
            &env.layout.reference(Some("v2")),
            "sha256:0000000000000000",
        ];
        for missing in not_found {
            assert!(
                matches!(env.store.resolve(missing), Err(Error::ImageNotFound { .. })),
                "{missing}"
            );
        }
        // Not a transport the store reads, nor a name: refused, saying what is.
        let err = env.store.resolve("docker://x").unwrap_err().to_string();
        assert!(err.contains("oci-archive:FILE[:TAG]"), "{err}");
        assert!(matches!(
            env.store.resolve("oci:"),
            Err(Error::ImageInvalid { .. })
        ));
        // Two records whose digests share 12 digits, written by hand.
        for last in ["1", "2"] {
            let mut twin = image.clone();
            twin.digest = format!("sha256:{}{last}", "a".repeat(63));
            twin.references = vec![format!("oci:/twin{last}")];
            write_json(&env.store.image_record(&twin.digest[7..]), &twin).unwrap();
        }
        let err = env.store.resolve(&"a".repeat(12)).unwrap_err().to_string();
        assert!(
            err.contains("matches 2 images")
                && err.contains(&format!("sha256:{}1", "a".repeat(63)))
                && err.contains(&format!("sha256:{}2", "a".repeat(63))),
            "{err}"
        );
        let first: Vec<String> = env
            .store
            .list()
            .unwrap()
            .iter()
            .map(|i| i.references[0].clone())
            .collect();
        assert_eq!(
            first,
            [
                env.layout.reference(Some("v1")),
                "oci:/twin1".into(),
                "oci:/twin2".into()
            ]
        );
    }

    #[test]
    fn a_tag_that_moves_is_taken_from_the_old_image() {
        let env = Env::new();
        let old = env.layout.image(&[layer_of(&[("v", "old")])]);
        let new = env.layout.image(&[layer_of(&[("v", "new")])]);
        let reference = env.layout.reference(Some("latest"));
        env.layout.index(&[tagged(&old, "latest")]);
        let old_image = env.pull(&reference).unwrap();
        env.layout.index(&[tagged(&new, "latest")]);
        let new_image = env.pull(&reference).unwrap();
        assert_eq!(
            env.store.resolve(&reference).unwrap().digest,
            new_image.digest
        );
        let old_now = env.store.get(&old_image.digest).unwrap().unwrap();
        assert_eq!(old_now.references, Vec::<String>::new());
    }

    #[test]
    fn names_resolve_in_any_spelling_move_between_images_and_untag() {
        let env = Env::new();
        let one = env.layout.image(&[layer_of(&[("v", "1")])]);
        let two = env.layout.image(&[layer_of(&[("v", "2")])]);
        env.layout
            .index(&[tagged(&one, "one"), tagged(&two, "two")]);
        let name = |text: &str| ImageName::parse(text).unwrap();
        let first = env.pull(&env.layout.reference(Some("one"))).unwrap();
        let second = env.pull(&env.layout.reference(Some("two"))).unwrap();
        // One lock for the rest (a second `lock` in this process would wait for it).
        let lock = env.store.lock().unwrap();
        let first = env
            .store
            .tag(&lock, &first, &[name("busybox"), name("quay.io/a/b:1")])
            .unwrap();
        assert_eq!(
            first.names,
            ["docker.io/library/busybox:latest", "quay.io/a/b:1"]
        );
        for spelling in [
            "busybox",
            "busybox:latest",
            "library/busybox",
            "docker.io/library/busybox:latest",
            "quay.io/a/b:1",
        ] {
            assert_eq!(
                env.store.resolve(spelling).unwrap().digest,
                first.digest,
                "{spelling}"
            );
        }
        // Another image under the same name takes it; the other name stays.
        env.store.tag(&lock, &second, &[name("busybox")]).unwrap();
        assert_eq!(env.store.resolve("busybox").unwrap().digest, second.digest);
        let first_now = env.store.get(&first.digest).unwrap().unwrap();
        assert_eq!(first_now.names, ["quay.io/a/b:1"]);
        // Tagging again changes nothing; listing goes by first name.
        env.store.tag(&lock, &second, &[name("busybox")]).unwrap();
        let listed: Vec<String> = env
            .store
            .list()
            .unwrap()
            .iter()
            .map(|i| i.digest.clone())
            .collect();
        assert_eq!(listed, [second.digest.clone(), first.digest.clone()]);
        // untag takes one name; a name nobody has is not found.
        let untagged = env.store.untag(&lock, &name("quay.io/a/b:1")).unwrap();
        assert_eq!(untagged.digest, first.digest);
        assert!(untagged.names.is_empty());
        for missing in ["quay.io/a/b:1", "busybox:2"] {
            let err = env.store.resolve(missing).unwrap_err();
            assert!(matches!(err, Error::ImageNotFound { .. }), "{err}");
            assert!(env.store.untag(&lock, &name(missing)).is_err());
        }
        assert!(
            env.store
                .resolve("busybox:2")
                .unwrap_err()
                .to_string()
                .contains("docker.io/library/busybox:2")
        );
        // An image the store no longer has cannot be named.
        env.store.remove(&lock, &first).unwrap();
        assert!(matches!(
            env.store.tag(&lock, &first, &[name("x")]),
            Err(Error::ImageNotFound { .. })
        ));
        assert!(env.store.resolve("x").is_err());
    }

    #[test]
    fn load_names_without_the_reference_and_a_failed_load_names_nothing() {
        let env = Env::new();
        let one = env.layout.image(&[layer_of(&[("v", "1")])]);
        let two = env.layout.image(&[layer_of(&[("v", "2")])]);
        env.layout
            .index(&[tagged(&one, "one"), tagged(&two, "two")]);
        let name = ImageName::parse("app:1").unwrap();
        let reference = |tag| ImageReference::parse(&env.layout.reference(Some(tag))).unwrap();
        let lock = env.store.lock().unwrap();
        let first = env
            .store
            .load(&lock, &reference("one"), std::slice::from_ref(&name))
            .unwrap();
        assert_eq!(first.names, ["docker.io/library/app:1"]);
        assert!(first.references.is_empty(), "{first:?}");
        assert!(!first.pulled_at.is_empty());
        assert_eq!(
            env.store.get(&first.digest).unwrap().unwrap().names,
            first.names
        );
        // A load that fails (no such tag) takes the name from no one.
        let err = env
            .store
            .load(&lock, &reference("three"), std::slice::from_ref(&name))
            .unwrap_err();
        assert!(err.to_string().contains("three"), "{err}");
        assert_eq!(env.store.resolve("app:1").unwrap().digest, first.digest);
        // A load of another image under the name moves it; a load without names is a pull.
        let second = env
            .store
            .load(&lock, &reference("two"), std::slice::from_ref(&name))
            .unwrap();
        assert_eq!(env.store.resolve("app:1").unwrap().digest, second.digest);
        assert!(
            env.store
                .get(&first.digest)
                .unwrap()
                .unwrap()
                .names
                .is_empty()
        );
        let pulled = env.store.load(&lock, &reference("two"), &[]).unwrap();
        assert_eq!(pulled.references, [env.layout.reference(Some("two"))]);
        assert_eq!(pulled.names, ["docker.io/library/app:1"]);
    }

    #[test]
    fn an_empty_or_missing_store_lists_nothing_and_gets_nothing() {
        let env = Env::new();
        assert!(env.store.list().unwrap().is_empty());
        let digest = format!("sha256:{}", "0".repeat(64));
        assert!(env.store.get(&digest).unwrap().is_none());
        assert!(env.store.get("sha256:../x").is_err());
    }

    #[test]
    fn the_lock_sweeps_tmp() {
        let env = Env::new();
        drop(env.store.lock().unwrap());
        let stale = env.store.dir().join("tmp/layer-x-1-0");
        std::fs::create_dir_all(stale.join("sub")).unwrap();
        nix::sys::stat::mknod(
            &stale.join("sub/wh"),
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::empty(),
            0,
        )
        .unwrap();
        std::fs::write(env.store.dir().join("tmp/file"), b"x").unwrap();
        let _lock = env.store.lock().unwrap();
        assert_eq!(names_in(&env.store.dir().join("tmp")), Vec::<String>::new());
    }
}
