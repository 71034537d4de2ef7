//! `run`: start a container in a running pod.
//!
//! [image reference: pull it under the image store's lock alone, so that an unpack never holds
//! the pod's] → lock → check the pod runs and open its pinned namespaces → for an OCI
//! container, find the runtime and check the image is still in the store, or for an image
//! name or digest look it up (nothing is pulled for those), under the store's lock, held until
//! the container's record names the image, so `rmi` cannot remove it in between → record
//! `creating` → the runtime starts the process (recording each process before it may run) →
//! record `running`.
//! A failure removes what was made (processes by verified pidfd, the runtime's state and mounts,
//! then the directory), after the error has taken what the container said, so its reason is
//! never lost with its logs.

use super::{Container, ContainerStatus, OciOptions, RootfsOption, RunOptions};
use crate::error::{Error, Result};
use crate::host::Host;
use crate::image::{Image, ImageLock, ImageQuery, ImageReference, ImageStore};
use crate::runtime::oci::{self, process::OciRequest};
use crate::runtime::{self, Launch};
use crate::state::container::{
    ContainerPhase, ContainerRecord, OciRecord, PidNamespace, RootfsSource, RuntimeKind,
};
use crate::state::pod::PodRecord;
use crate::state::{self, validate_name};

impl Host {
    /// Starts a container in a running pod. Returns once its command has been exec'd.
    ///
    /// An image ([`RootfsOption::Image`]) is read as [`ImageQuery`] reads it: a reference
    /// (`oci:`, `oci-archive:`) is pulled; a digest or a name (`nginx:1.25`) is only looked up
    /// in the store, and a name no image has is [`Error::ImageNotLoaded`]. The container's
    /// record names the image by its canonical reference or name, or by its digest.
    pub fn run_container(&self, pod: &str, options: &RunOptions) -> Result<ContainerStatus> {
        validate_name("container name", &options.name)?;
        match options.oci {
            None => options.command.validate()?,
            Some(_) => options.command.validate_settings()?,
        }
        let pod_paths = self.store.pod(pod)?;
        // Pulled before the pod's lock is taken: a first run's unpack (seconds for a large
        // image) must not keep the pod's other commands waiting. Under the lock, the image is
        // only checked to still be there (an `rmi` may have come in between).
        let pulled = match &options.oci {
            Some(OciOptions {
                rootfs: RootfsOption::Image(text),
                ..
            }) => match ImageQuery::parse(text)? {
                ImageQuery::Reference(reference) => {
                    // Not for a pod that is missing or stopped (checked again under its lock).
                    state::pod::load(&pod_paths)?.require_running(&self.boot_id)?;
                    Some(self.pull_image(reference)?)
                }
                ImageQuery::Digest(_) | ImageQuery::Name(_) => None,
            },
            _ => None,
        };
        let _lock = self.store.lock_pod(pod)?;
        state::sweep_temporary_records(&pod_paths);
        let pod_record = state::pod::load(&pod_paths)?;
        pod_record.require_running(&self.boot_id)?;
        let namespaces = pod_record.open_namespaces(&pod_paths)?;
        let paths = pod_paths.container(&options.name);
        match Container::load(&pod_paths, &options.name) {
            Ok(existing) if existing.record.phase != ContainerPhase::Creating => {
                return Err(Error::ContainerExists {
                    pod: pod.to_owned(),
                    container: options.name.clone(),
                });
            }
            Ok(existing) => {
                log::warn!(
                    "container {:?} was left half-started by a command that died; replacing it",
                    options.name
                );
                self.discard_container(&existing)?;
            }
            // A directory without a record: a `run` that died before writing it.
            Err(Error::ContainerNotFound { .. }) => {
                state::remove_dir_last(paths.dir(), state::STATE_FILE)?;
            }
            Err(error) => return Err(error),
        }
        // Held until the record names the image (its first save), then released.
        let mut image_lock = None;
        let (oci_record, request) = match &options.oci {
            None => (None, None),
            Some(oci_options) => {
                let (record, request) = self.prepare_oci(
                    &pod_record,
                    options,
                    oci_options,
                    pulled.as_ref(),
                    &mut image_lock,
                )?;
                (Some(record), Some(request))
            }
        };
        state::create_private_dir(&pod_paths.containers_dir())?;
        state::create_private_dir(paths.dir())?;
        let mut record = ContainerRecord {
            name: options.name.clone(),
            runtime: match oci_record {
                Some(_) => RuntimeKind::Oci,
                None => RuntimeKind::PauseMonitor,
            },
            command: options.command.clone(),
            oci: oci_record,
            stop_signal: options.stop_signal.unwrap_or(libc::SIGTERM),
            pre_stop: options.pre_stop.clone(),
            phase: ContainerPhase::Creating,
            monitor: None,
            process: None,
            pid: None,
            started_at: None,
            cgroup: match &pod_record.cgroup {
                Some(pod_cgroup) => Some(pod_cgroup.container(&options.name, options.limits)),
                None if options.limits.is_empty() => None,
                None => {
                    return Err(Error::Unsupported {
                        what: format!("limits for container {:?}", options.name),
                        reason: format!(
                            "sandbox {pod:?} has no cgroup (it was created before pods had \
                             cgroups); create it again"
                        ),
                    });
                }
            },
        };
        let save = |record: &ContainerRecord| state::write_json(&paths.state(), record);
        let launch = Launch {
            host: self,
            pod: &pod_record,
            pod_paths: &pod_paths,
            paths: &paths,
            namespaces: &namespaces,
            oci: request.as_ref(),
        };
        let started = save(&record)
            .and_then(|()| {
                drop(image_lock.take());
                runtime::of(record.runtime).start(&launch, &mut record, &save)
            })
            .and_then(|()| {
                record.started_at = Some(state::now_rfc3339());
                record.set_phase(ContainerPhase::Running)?;
                save(&record)
            });
        if let Err(error) = started {
            let half_made = Container {
                paths,
                record,
                exit: None,
            };
            if let Err(cleanup) = self.discard_container(&half_made) {
                log::warn!(
                    "cleaning up container {:?} after a failed run: {}",
                    options.name,
                    crate::error_chain(&cleanup)
                );
            }
            return Err(error);
        }
        Ok(self.container_status(&Container::load(&pod_paths, &options.name)?, false, false))
    }

    /// Pulls an image into the store (unpacked once per layer).
    pub(crate) fn pull_image(&self, reference: ImageReference) -> Result<(ImageReference, Image)> {
        let images = ImageStore::new(self.store.images_dir());
        let lock = images.lock()?;
        let image = images.pull(&lock, &reference)?;
        Ok((reference, image))
    }

    /// Makes sure image `text` is in the store, as `run` would find it: pulls a reference,
    /// looks up a name or a digest (a name no image has is [`Error::ImageNotLoaded`]).
    pub(crate) fn ensure_image(&self, text: &str) -> Result<()> {
        match ImageQuery::parse(text)? {
            ImageQuery::Reference(reference) => self.pull_image(reference).map(drop),
            query => {
                let images = ImageStore::new(self.store.images_dir());
                find_stored(&images, &query, text).map(drop)
            }
        }
    }

    /// Finds the OCI runtime and the root file system of an OCI container. For an image,
    /// `image_lock` keeps it in the store until the caller's record names it: one given by
    /// reference (`pulled` before the pod's lock was taken) is pulled again if an `rmi` removed
    /// it meanwhile; one given by name or digest is looked up under that lock (gone is gone).
    /// Nothing of the container exists yet.
    fn prepare_oci(
        &self,
        pod: &PodRecord,
        options: &RunOptions,
        oci_options: &OciOptions,
        pulled: Option<&(ImageReference, Image)>,
        image_lock: &mut Option<ImageLock>,
    ) -> Result<(OciRecord, OciRequest)> {
        let runtime = oci::locate(self.runtime.as_deref())?;
        let runtime_name = runtime
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_else(|| "runtime".to_owned());
        let runtime_root = self.store.runtime_dir(&runtime_name);
        if let Some(parent) = runtime_root.parent() {
            state::create_private_dir(parent)?;
        }
        state::create_private_dir(&runtime_root)?;
        let mut request = OciRequest {
            entrypoint: oci_options.entrypoint.clone(),
            run_as_user: oci_options.run_as_user,
            run_as_group: oci_options.run_as_group,
            stop_signal: options.stop_signal,
            ..OciRequest::default()
        };
        let rootfs = match &oci_options.rootfs {
            RootfsOption::Image(text) => {
                let images = ImageStore::new(self.store.images_dir());
                let (source, image, lock) = match ImageQuery::parse(text)? {
                    ImageQuery::Reference(reference) => {
                        let (reference, pulled) = match pulled {
                            Some(pulled) => pulled.clone(),
                            None => self.pull_image(reference)?,
                        };
                        let lock = images.lock()?;
                        // Under the store's lock, an image whose record is there has all its
                        // layers (rmi removes the record first).
                        let image = match images.get(&pulled.digest)? {
                            Some(image) => image,
                            None => images.pull(&lock, &reference)?,
                        };
                        (reference.to_string(), image, lock)
                    }
                    query => {
                        let lock = images.lock()?;
                        let image = find_stored(&images, &query, text)?;
                        let source = match &query {
                            ImageQuery::Name(name) => name.to_string(),
                            _ => image.digest.clone(),
                        };
                        (source, image, lock)
                    }
                };
                *image_lock = Some(lock);
                request.image_name = source.clone();
                request.layers = images.layer_dirs(&image);
                request.image = Some(image.config.clone());
                RootfsSource::Image {
                    reference: source,
                    digest: image.digest,
                }
            }
            RootfsOption::Directory(dir) => {
                let path = oci::rootfs::canonical_directory(dir)?;
                request.image_name = path.display().to_string();
                RootfsSource::Directory { path }
            }
        };
        let record = OciRecord {
            runtime,
            runtime_root,
            id: oci::container_id(self.store.root(), &pod.name, &options.name),
            rootfs,
            read_only: oci_options.read_only,
            pid_namespace: if pod.share_pid {
                PidNamespace::Pod
            } else {
                PidNamespace::Own
            },
        };
        // State a runtime kept of an earlier container of the same name (its `rm` was killed
        // between deleting the directory and the runtime's state) would make `run` fail.
        oci::delete(&record)?;
        Ok((record, request))
    }
}

/// The stored image a name or digest (`query`, read from `text`) names.
fn find_stored(images: &ImageStore, query: &ImageQuery, text: &str) -> Result<Image> {
    images.find(query).map_err(|error| match (error, query) {
        (Error::ImageNotFound { .. }, ImageQuery::Name(name)) => Error::ImageNotLoaded {
            name: name.to_string(),
            given: text.to_owned(),
        },
        (error, _) => error,
    })
}
