//! The project's figures, each against its floor or its peers, measured in one run.
//!
//! Run as root, after building the release binaries it measures (it finds them next to itself
//! in `target/<triple>/release/`, as the tests find theirs):
//!
//! ```text
//! cargo build --release --workspace && cargo bench -p sandbox-tests [-- SECTION...]
//! ```
//!
//! Sections: `pause`, `image` (the multi-platform pause image: per-architecture sizes, build
//! time), `latency` (create, exec, run), `terminal` (what `exec -t` adds, a keystroke's echo),
//! `stop`, `podman`, `oci` (image containers
//! against runc, crun, umoci and podman), `cgroups` (stop and rm against the host's process
//! count, what limits add to create), `network` (a pod on the built-in bridge network against
//! its plugins run directly and against podman), `scale` (`SANDBOX_BENCH_PODS`
//! pods, default 1,000); all of them without arguments. Each section adds rows to the [`Table`],
//! which prints them as they come and writes them all to `target/bench/figures.json` (so that a
//! later run can be compared) and `target/bench/figures.md` (the README's table) at the end
//! (`figures-SECTION….json` and `.md` when only some sections ran).
//! These machines are noisy: times are medians of several runs, and a floor or a peer runs the
//! same workload in the same run, interleaved with ours, so that the ratio means something where
//! the absolute time alone would not. Progress goes to stderr.
//!
//! Everything the sandbox sections start lives in a private state root and a cgroup of the
//! benchmark's own ([`lab::Lab`]), and is removed on the way out, also after a failure or a
//! first Ctrl-C (a second one ends the benchmark at once).

#![allow(clippy::unwrap_used)]

mod cgroups;
mod forward;
mod image;
mod lab;
mod latency;
mod manifest;
mod measure;
mod network;
mod oci;
mod pause;
mod podman;
mod scale;
mod stop;
mod table;
mod terminal;

use std::time::Instant;

pub use measure::{
    check_interrupted, interleave, median, millis, millis_each, progress, release_binary, rss_kb,
    time, time_detached, time_output,
};
pub use table::{Row, Table, Target};

/// A section: measures one subject and adds its rows.
type Section = fn(&mut Table);

/// The sections, in the order they run.
const SECTIONS: [(&str, Section); 12] = [
    ("pause", pause::run),
    ("image", image::run),
    ("latency", latency::run),
    ("terminal", terminal::run),
    ("stop", stop::run),
    ("podman", podman::run),
    ("oci", oci::run),
    ("cgroups", cgroups::run),
    ("network", network::run),
    ("manifest", manifest::run),
    ("forward", forward::run),
    ("scale", scale::run),
];

fn main() {
    sandbox_tests::require_root();
    let chosen: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with('-'))
        .collect();
    if let Some(unknown) = chosen
        .iter()
        .find(|arg| !SECTIONS.iter().any(|(name, _)| name == arg))
    {
        panic!(
            "unknown section {unknown:?}: choose among {:?}",
            SECTIONS.map(|(name, _)| name)
        );
    }
    // Before anything runs: the figures must describe the sources as they are.
    release_binary("pause", "pause/src");
    release_binary("sandbox", "sandbox/src");
    measure::catch_interrupts();
    let started = Instant::now();
    let mut table = Table::new();
    for (name, section) in SECTIONS {
        if chosen.is_empty() || chosen.iter().any(|arg| arg == name) {
            progress(&format!("--- {name} ---"));
            section(&mut table);
        }
    }
    // A run of some sections only does not overwrite the figures of a whole run.
    let stem = if chosen.is_empty() {
        "figures".to_owned()
    } else {
        format!("figures-{}", chosen.join("-"))
    };
    let (json, markdown) = table.write(&stem);
    println!("\nwritten to {} and {}", json.display(), markdown.display());
    progress(&format!("done in {:.0} s", started.elapsed().as_secs_f64()));
}
