//! Kubernetes-style pod sandboxes on a Linux host, without Kubernetes.
//!
//! A pod is a set of namespaces (IPC, UTS, NET, and optionally PID) held open by a `pause`
//! process and pinned with bind mounts, so that other tools can join them. App containers are
//! processes joined to those namespaces, or OCI containers (an image or a directory as their
//! root, their own mount and PID namespaces) that runc or crun joins to them; each is started
//! and watched by a runtime that records its exit through a `pause` monitor. Stopping a pod
//! follows the kubelet: stop signal, one grace period, SIGKILL, exit codes 128+n.
//!
//! The layers, each importing only the ones below it:
//!
//! | layer | modules |
//! |---|---|
//! | verbs, one file each | [`pod`] (create, inspect, stats, exec, stop, rm, and when a pod's network is attached and detached), [`container`] (run, wait, logs, stop, rm), [`images`] (load, images, rmi), [`play`] (a manifest's pods up and down) |
//! | manifests | [`manifest`] (Kubernetes Pods read, checked field by field, and translated) |
//! | how a container runs | [`runtime`] (the `Runtime` seam; [`runtime::monitor`] for processes, [`runtime::oci`] for OCI containers) |
//! | networks | [`network`] (CNI lists, plugin execution, ADD/DEL chains, host-local reservations) |
//! | images | [`image`] (references, verified layouts, unpacked layers, the store) |
//! | ending processes | [`kill`] (SIGKILL through verified pidfds, wait, name the survivors) |
//! | records on disk | [`state`] (root, layout, locks, atomic JSON, phases) |
//! | pure decisions | [`policy`] (the stop plan and its report types, with the clock passed in) |
//! | kernel primitives | [`sys`] (spawn, process identity and pidfds, namespaces, mounts, cgroups, pseudo-terminals) |
//! | values | [`command`], [`exit`], [`error`], [`binary`] (what an executable is), [`limits`] |
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
pub mod image;
pub mod images;
pub mod kill;
pub mod limits;
pub mod manifest;
pub mod network;
pub mod play;
pub mod pod;
pub mod policy;
pub mod runtime;
pub mod state;
pub mod sys;

pub use command::{CommandSpec, User};
pub use container::{ContainerState, ContainerStatus, RunOptions};
pub use error::{Error, Result};
pub use host::Host;
pub use pod::{CreateOptions, ExecIo, ExecSession, PodState, PodStats, PodStatus};
pub use policy::stop::{ContainerReport, Ending, StopReport};
pub use state::container::ExitRecord;

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
