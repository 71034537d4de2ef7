//! `play`: a Kubernetes manifest's pods up, and down again (`play --down`), as `podman kube
//! play` and `kube down` do, and as the kubelet runs and ends them.
//!
//! Up, all or nothing: every image is pulled (or found by name in the store) before any pod is
//! made, so a
//! bad image fails first; then pod by pod: `create` (with the manifest's grace period, which
//! the pod keeps for every later `stop`), each init container run and waited for in order
//! (one that exits other than 0 fails the play with its code and what it wrote), then the
//! containers. A failure removes every pod this play made (`rm --force`), in reverse.
//!
//! Down: every pod of the manifest is stopped at once (each with its own grace period and
//! preStop hooks, one thread each), then removed; one that cannot be stopped (left half-made by
//! a `play` that was killed) is removed with `rm --force`.
//!
//! A `play` that is killed part-way leaves the pods it made so far, which `play --down` removes.

use crate::container::{RootfsOption, RunOptions};
use crate::error::{Error, Result};
use crate::host::Host;
use crate::manifest::PodPlan;
use crate::pod::PodStatus;
use crate::policy::stop::StopReport;
use crate::state;

/// How much of what a failed init container wrote its error quotes (its last lines).
const INIT_OUTPUT_QUOTED: u64 = 1024;

impl Host {
    /// Creates every pod of a manifest and starts its containers: all of them, or none (what
    /// was made is removed again if any step fails). Returns their statuses.
    pub fn play(&self, pods: &[PodPlan]) -> Result<Vec<PodStatus>> {
        for plan in pods {
            let paths = self.store.pod(&plan.create.name)?;
            if std::fs::symlink_metadata(paths.dir()).is_ok() {
                return Err(Error::PodExists(plan.create.name.clone()));
            }
        }
        let mut images: Vec<&str> = pods
            .iter()
            .flat_map(|plan| plan.init_containers.iter().chain(&plan.containers))
            .filter_map(|run| match run.oci.as_ref().map(|oci| &oci.rootfs) {
                Some(RootfsOption::Image(image)) => Some(image.as_str()),
                _ => None,
            })
            .collect();
        images.sort_unstable();
        images.dedup();
        for image in images {
            self.ensure_image(image)?;
        }

        let mut made: Vec<&str> = Vec::new();
        for plan in pods {
            let name = plan.create.name.as_str();
            let played = self.create_pod(&plan.create).and_then(|_| {
                made.push(name);
                self.start_containers(name, plan)
            });
            if let Err(error) = played {
                for pod in made.iter().rev() {
                    if let Err(cleanup) = self.remove_pod(pod, true) {
                        log::warn!(
                            "removing sandbox {pod:?} after a failed play: {}",
                            crate::error_chain(&cleanup)
                        );
                    }
                }
                return Err(error);
            }
        }
        pods.iter()
            .map(|plan| self.inspect_pod(&plan.create.name))
            .collect()
    }

    /// Runs a new pod's init containers to completion, in order, then starts its containers.
    fn start_containers(&self, pod: &str, plan: &PodPlan) -> Result<()> {
        for init in &plan.init_containers {
            self.run_container(pod, init)?;
            let exit = self.wait_container(pod, &init.name)?;
            if exit.exit_code != 0 {
                return Err(self.init_failure(pod, init, exit.exit_code));
            }
        }
        for container in &plan.containers {
            self.run_container(pod, container)?;
        }
        Ok(())
    }

    /// The error of an init container that exited with `exit_code`, quoting the end of what
    /// it wrote (stderr, else stdout).
    fn init_failure(&self, pod: &str, init: &RunOptions, exit_code: i32) -> Error {
        let said = self
            .store
            .pod(pod)
            .map(|paths| {
                let paths = paths.container(&init.name);
                let stderr = state::tail_of_log(&paths.stderr(), INIT_OUTPUT_QUOTED);
                if stderr.is_empty() {
                    state::tail_of_log(&paths.stdout(), INIT_OUTPUT_QUOTED)
                } else {
                    stderr
                }
            })
            .unwrap_or_default();
        Error::InitContainerFailed {
            pod: pod.to_owned(),
            container: init.name.clone(),
            exit_code,
            said,
        }
    }

    /// Stops the named pods at once, each with its own grace period, and removes them. Returns
    /// each pod's stop report, or why it could not be stopped or removed.
    pub fn play_down(&self, pods: &[String]) -> Vec<(String, Result<StopReport>)> {
        std::thread::scope(|scope| {
            let downs: Vec<_> = pods
                .iter()
                .map(|name| {
                    scope.spawn(move || match self.stop_pod(name, None) {
                        Ok(report) => self.remove_pod(name, false).map(|()| report),
                        Err(error @ Error::PodNotFound(_)) => Err(error),
                        // A pod that cannot be stopped (a create killed part-way, a record
                        // that cannot be read) is what --down is for: it goes anyway.
                        Err(error) => {
                            log::warn!(
                                "{}; removing sandbox {name:?} with rm --force",
                                crate::error_chain(&error)
                            );
                            self.remove_pod(name, true).map(|()| StopReport {
                                pod: name.clone(),
                                containers: Vec::new(),
                                execs: Vec::new(),
                                other_processes: Default::default(),
                            })
                        }
                    })
                })
                .collect();
            pods.iter()
                .cloned()
                .zip(downs)
                .map(|(name, down)| {
                    let result = down.join().unwrap_or_else(|_| {
                        Err(Error::Io {
                            what: format!("stopping sandbox {name:?}"),
                            source: std::io::Error::other("the thread stopping it panicked"),
                        })
                    });
                    (name, result)
                })
                .collect()
        })
    }
}
