//! Kubernetes-style pod sandboxes on a Linux host, without Kubernetes.
//!
//! A pod is a set of namespaces (IPC, UTS, NET, and optionally PID) held open by a `pause`
//! process and pinned with bind mounts, so that other tools can join them. App containers are
//! processes joined to those namespaces, each watched by a monitor (`pause` in init mode) that
//! records its exit. Stopping a pod follows the kubelet: stop signal, one grace period, SIGKILL,
//! exit codes 128+n.
//!
//! Every capability is a method of [`Host`]; the `sandbox` binary is a thin CLI over them.
//! See ARCHITECTURE.md for the syscall sequence of each operation.

#![warn(missing_docs)]

pub mod binary;
pub mod command;
pub mod container;
pub mod error;
pub mod exit;
pub mod host;
pub mod namespace;
pub mod pod;
pub mod process;
mod spawn;
pub mod stop;
pub mod store;

pub use command::{CommandSpec, User};
pub use container::{ContainerStatus, ExitRecord, RunOptions};
pub use error::{Error, Result};
pub use host::Host;
pub use pod::{CreateOptions, PodStatus};
pub use stop::{Ending, StopReport};

/// An error and its sources, joined by `": "`: how every error reaches the user, once.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
