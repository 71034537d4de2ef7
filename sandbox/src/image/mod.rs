//! A local store of OCI images: turns an image reference (`oci:DIR[:TAG]`,
//! `oci-archive:FILE[:TAG]`) into verified, content-addressed layers, unpacked once each and
//! ready to be stacked by overlayfs ([`ImageStore::layer_dirs`] gives the `lowerdir` order), and
//! finds them again by reference, digest or name (`nginx:1.25`, as a Pod manifest writes it).
//!
//! One concept per file:
//!
//! | file | concept |
//! |---|---|
//! | `reference` | the reference syntax (skopeo's) and its canonical form |
//! | `name` | image names (Docker's reference grammar), normalized as the kubelet does |
//! | `query` | how a user's text names a stored image: reference, digest or name |
//! | `layout` | reading an OCI image layout: tag → (nested index →) manifest → config, every blob verified |
//! | `platform` | the host's OS/architecture in OCI names, and matching images against it |
//! | `digest` | sha256 digests, and a reader that hashes what streams through it |
//! | `layer` | one layer blob: media type, one pass that decompresses, hashes twice and unpacks |
//! | `unpack` | one layer tar into a directory: path safety, devices, FIFOs, directory metadata |
//! | `whiteout` | OCI whiteouts (`.wh.*`) converted to overlayfs's (char device 0:0, opaque xattr) |
//! | `archive` | `oci-archive:` extracted into the store's `tmp/` |
//! | `record` | the image and layer records |
//! | `lock` | the store's `flock` |
//! | `store` | the store: layout on disk, pull, list, get, resolve, tag, untag, remove |
//!
//! Everything read is checked: blob sizes and sha256 digests against their descriptors, the
//! uncompressed layers against the config's diff_ids, the platform against the host. A pull
//! that fails leaves nothing in the store but complete layers. Unpacking needs root (file
//! owners, `mknod` of whiteouts, `trusted.*` xattrs).

mod archive;
mod digest;
mod layer;
mod layout;
mod lock;
mod name;
mod platform;
mod query;
mod record;
mod reference;
mod store;
mod unpack;
mod whiteout;

#[cfg(test)]
mod fixture;

pub use lock::ImageLock;
pub use name::{ImageName, MAX_REPOSITORY_LEN};
pub use query::{ImageQuery, has_transport};
pub use record::{Image, ImageDefaults};
pub use reference::{ImageReference, Transport};
pub use store::{ImageStore, MIN_DIGEST_PREFIX};
