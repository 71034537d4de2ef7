//! One integration binary for the whole project, one module per concept (ripgrep's layout).
//! Every test drives the real binaries as root; see `sandbox_tests` for the harness.

#![allow(clippy::unwrap_used)]

mod cgroups;
mod cli_docs;
mod control;
mod faults;
mod image;
mod image_definitions;
mod image_names;
mod image_store;
mod manifests;
mod multiarch;
mod network;
mod oci;
mod pause;
mod port_forward;
mod regressions;
mod sandbox_containers;
mod sandbox_lifecycle;
mod security;
mod terminal;
