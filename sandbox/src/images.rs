//! The image verbs: `load` pulls an image into the store under the state root and gives it
//! names; `images` lists what the store holds, and which containers use each image; `rmi` takes
//! a name away or removes an image no container uses. The store itself (pull, unpack, verify,
//! names) is [`crate::image`].

use serde::Serialize;

use crate::container::Container;
use crate::error::{Error, Result};
use crate::host::Host;
use crate::image::{Image, ImageName, ImageQuery, ImageReference, ImageStore};
use crate::state::container::RootfsSource;

/// What `images` shows of one image.
#[derive(Clone, Debug, Serialize)]
pub struct ImageSummary {
    /// Its names, canonical (`docker.io/library/busybox:latest`).
    pub names: Vec<String>,
    /// The references it was pulled as.
    pub references: Vec<String>,
    /// Its manifest digest.
    pub digest: String,
    /// Bytes of its unpacked layers.
    pub size: u64,
    /// The containers that use it, as `POD/CONTAINER`.
    pub containers: Vec<String>,
}

/// What `rmi` did.
#[derive(Clone, Debug)]
pub enum ImageRemoval {
    /// The name was taken away; the image stays under its other names or references.
    Untagged {
        /// The name, canonical.
        name: String,
        /// The image, as it is now.
        image: Image,
    },
    /// The image was removed, with its names and the layers no other image uses.
    Removed(Image),
}

impl Host {
    /// The store's images, with the containers that use each.
    pub fn images(&self) -> Result<Vec<ImageSummary>> {
        let store = ImageStore::new(self.store.images_dir());
        let users = self.image_users(false)?;
        Ok(store
            .list()?
            .into_iter()
            .map(|image| summary(image, &users))
            .collect())
    }

    /// Pulls `reference` into the store (under its lock, verified, each layer unpacked once,
    /// as `run --image` does) and gives the image every one of `names`, taking each from the
    /// image that had it ([`ImageStore::load`]: with names, `reference` is not recorded, so
    /// `rmi NAME` of an image loaded under one name removes it). A pull that fails gives no
    /// name.
    pub fn load_image(
        &self,
        reference: &ImageReference,
        names: &[ImageName],
    ) -> Result<ImageSummary> {
        let store = ImageStore::new(self.store.images_dir());
        let lock = store.lock()?;
        let image = store.load(&lock, reference, names)?;
        drop(lock);
        Ok(summary(image, &self.image_users(false)?))
    }

    /// Removes an image by reference, digest, a unique digest prefix or name, with the layers
    /// no other image shares; refused while a container uses it. By a name, when the image
    /// has other names or references, only that name is taken away (as `podman rmi` does).
    pub fn remove_image(&self, name: &str) -> Result<ImageRemoval> {
        let store = ImageStore::new(self.store.images_dir());
        let query = ImageQuery::parse(name)?;
        // Held across the check and the removal: a `run` records its image under this lock.
        let lock = store.lock()?;
        let image = store.find(&query)?;
        if let ImageQuery::Name(image_name) = &query
            && (image.names.len() > 1 || !image.references.is_empty())
        {
            let image = store.untag(&lock, image_name)?;
            return Ok(ImageRemoval::Untagged {
                name: image_name.to_string(),
                image,
            });
        }
        let users: Vec<String> = self
            .image_users(true)?
            .into_iter()
            .filter(|(digest, _)| *digest == image.digest)
            .map(|(_, container)| container)
            .collect();
        if !users.is_empty() {
            return Err(Error::ImageInUse {
                image: name.to_owned(),
                containers: users,
            });
        }
        store.remove(&lock, &image)?;
        Ok(ImageRemoval::Removed(image))
    }

    /// Every container of every pod that runs an image: `(digest, "POD/CONTAINER")`. With
    /// `strict` (`rmi`), a container record that cannot be read is an error: it may be a
    /// container whose overlay still uses the image.
    fn image_users(&self, strict: bool) -> Result<Vec<(String, String)>> {
        let mut users = Vec::new();
        for pod in self.store.pod_names()? {
            let paths = self.store.pod(&pod)?;
            for container in Container::load_all(&paths, !strict)? {
                if let Some(RootfsSource::Image { digest, .. }) =
                    container.record.oci.as_ref().map(|oci| &oci.rootfs)
                {
                    users.push((digest.clone(), format!("{pod}/{}", container.record.name)));
                }
            }
        }
        Ok(users)
    }
}

/// What `images` shows of `image`, with its users among `users` (`(digest, container)`).
fn summary(image: Image, users: &[(String, String)]) -> ImageSummary {
    ImageSummary {
        containers: users
            .iter()
            .filter(|(digest, _)| *digest == image.digest)
            .map(|(_, container)| container.clone())
            .collect(),
        names: image.names,
        references: image.references,
        digest: image.digest,
        size: image.size,
    }
}
