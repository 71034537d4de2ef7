//! The image verbs: `images` lists what the store under the state root holds, and which
//! containers use each image; `rmi` removes an image no container uses. The store itself (pull,
//! unpack, verify) is [`crate::image`].

use serde::Serialize;

use crate::container::Container;
use crate::error::{Error, Result};
use crate::host::Host;
use crate::image::{Image, ImageStore};
use crate::state::container::RootfsSource;

/// What `images` shows of one image.
#[derive(Clone, Debug, Serialize)]
pub struct ImageSummary {
    /// The references it was pulled as.
    pub references: Vec<String>,
    /// Its manifest digest.
    pub digest: String,
    /// Bytes of its unpacked layers.
    pub size: u64,
    /// The containers that use it, as `POD/CONTAINER`.
    pub containers: Vec<String>,
}

impl Host {
    /// The store's images, with the containers that use each.
    pub fn images(&self) -> Result<Vec<ImageSummary>> {
        let store = ImageStore::new(self.store.images_dir());
        let users = self.image_users(false)?;
        Ok(store
            .list()?
            .into_iter()
            .map(|image| ImageSummary {
                containers: users
                    .iter()
                    .filter(|(digest, _)| *digest == image.digest)
                    .map(|(_, container)| container.clone())
                    .collect(),
                references: image.references,
                digest: image.digest,
                size: image.size,
            })
            .collect())
    }

    /// Removes an image (by reference, digest, or a unique digest prefix) and the layers no
    /// other image shares; refused while a container uses it. Returns what was removed.
    pub fn remove_image(&self, name: &str) -> Result<Image> {
        let store = ImageStore::new(self.store.images_dir());
        // Held across the check and the removal: a `run` records its image under this lock.
        let lock = store.lock()?;
        let image = store.resolve(name)?;
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
        Ok(image)
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
