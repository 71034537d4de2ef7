//! Networking (issue 12): a pod on the built-in `bridge` network, `create --network bridge` +
//! `rm --force`, against
//!
//! - the floor: the same workload done by hand the way a CNI tool does it: a named network
//!   namespace (`ip netns add`), the same list's plugins (bridge with host-local, portmap,
//!   firewall) executed directly, ADD in order and DEL in reverse with the ADD result, then
//!   `ip netns del`. Target: at most 1.1x: what `sandbox` adds (pause, its other namespaces,
//!   pins, cgroup, the saved results) is a few ms next to the plugins' iptables work.
//! - podman: `pod create --network bridge` + `pod start` + `pod rm --force` (netavark).
//!   Target: sandbox at least 2x faster.
//!
//! Everything runs in a throwaway network namespace the section's thread enters first (setns
//! applies to the calling thread, and every command it starts inherits it): bridges, veths and
//! rules land there and go with it. The three are interleaved in the same rounds.

use std::io::Write;
use std::os::fd::AsFd;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sandbox_tests::network::ThrowawayHost;
use serde_json::{Value, json};

use crate::lab::Lab;
use crate::podman::Podman;
use crate::{Row, Table, Target, interleave, median, millis, millis_each, progress};

const ROUNDS: usize = 15;

pub fn run(table: &mut Table) {
    let host = ThrowawayHost::new();
    let inside = Inside::enter(host.path());
    let lab = Lab::open();
    let podman = Podman::new();
    // The first create writes the built-in list; warm-up for all three.
    let warm = lab.name("net-warm");
    lab.sandbox(&["create", &warm, "--network", "bridge"]);
    lab.sandbox(&["rm", "--force", &warm]);
    let list: Value =
        serde_json::from_slice(&std::fs::read(lab.root().join(".cni/bridge.conflist")).unwrap())
            .unwrap();
    let podman_failure = podman.bridge_pod_lifecycle().err();
    floor_round(&list, "warm");

    progress(&format!(
        "network: create --network bridge + rm, the plugins directly, podman; {ROUNDS} rounds"
    ));
    let mut round = 0;
    let samples = interleave(
        ROUNDS,
        &mut [
            &mut || {
                let name = lab.name("net");
                lab.sandbox(&["create", &name, "--network", "bridge"])
                    + lab.sandbox(&["rm", "--force", &name])
            },
            &mut || {
                round += 1;
                floor_round(&list, &round.to_string())
            },
            &mut || {
                if podman_failure.is_some() {
                    return Duration::ZERO;
                }
                podman.bridge_pod_lifecycle().unwrap()
            },
        ],
    );
    let [ours, floor, theirs] = [0, 1, 2].map(|i| samples[i].clone());
    table.add(
        Row::new(
            "sandbox create --network bridge + rm",
            millis(median(ours.clone())),
            "ms",
        )
        .peer(
            "ip netns add, its plugins' ADD + DEL run directly, ip netns del",
            millis(median(floor.clone())),
        )
        .target(Target::RatioAtMost(1.1))
        .samples(&millis_each(&ours), Some(&millis_each(&floor)))
        .note("in a throwaway network namespace; iptables-nft does most of the work"),
    );
    let row = Row::new(
        "sandbox create --network bridge + rm (vs podman)",
        millis(median(ours.clone())),
        "ms",
    );
    table.add(match podman_failure {
        Some(why) => row.note(format!("podman could not run: {why}")),
        None => row
            .peer(
                "podman pod create --network bridge + start + rm -f",
                millis(median(theirs.clone())),
            )
            .target(Target::TimesFaster(2.0))
            .samples(&millis_each(&ours), Some(&millis_each(&theirs))),
    });
    drop(podman);
    let left = lab.leftovers();
    assert!(left.is_empty(), "left behind: {left:?}");
    drop(lab);
    drop(inside);
}

/// The calling thread in another network namespace until dropped.
pub(crate) struct Inside {
    home: std::fs::File,
}

impl Inside {
    pub(crate) fn enter(netns: &Path) -> Inside {
        let home = std::fs::File::open("/proc/thread-self/ns/net").unwrap();
        let target = std::fs::File::open(netns).unwrap();
        nix::sched::setns(target.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
        Inside { home }
    }
}

impl Drop for Inside {
    fn drop(&mut self) {
        nix::sched::setns(self.home.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
    }
}

/// One round of the floor: a network namespace, ADD and DEL of `list` for it, the namespace
/// deleted.
fn floor_round(list: &Value, round: &str) -> Duration {
    let netns = format!("bench-cni-{}-{round}", std::process::id());
    let path = Path::new("/run/netns").join(&netns);
    let id = format!("bench-floor-{}-{round}", std::process::id());
    let start = Instant::now();
    assert!(ip(&["netns", "add", &netns]));
    let result = chain(list, "ADD", &id, &path, None);
    chain(list, "DEL", &id, &path, Some(&result));
    assert!(ip(&["netns", "delete", &netns]));
    start.elapsed()
}

fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs `list`'s plugins for `verb` as a CNI tool does (ADD in order, each given the result so
/// far; DEL in reverse, each given `result`); the last ADD result.
fn chain(list: &Value, verb: &str, id: &str, netns: &Path, result: Option<&Value>) -> Value {
    let plugins = list["plugins"].as_array().unwrap();
    let order: Vec<usize> = match verb {
        "ADD" => (0..plugins.len()).collect(),
        _ => (0..plugins.len()).rev().collect(),
    };
    let mut prev = result.cloned();
    for index in order {
        let mut config = plugins[index].clone();
        config["name"] = list["name"].clone();
        config["cniVersion"] = list["cniVersion"].clone();
        if let Some(prev) = &prev {
            config["prevResult"] = prev.clone();
        }
        if config["capabilities"]["portMappings"] == json!(true) {
            config["runtimeConfig"] = json!({"portMappings": []});
        }
        let kind = config["type"].as_str().unwrap().to_owned();
        let mut child = Command::new(Path::new("/usr/lib/cni").join(&kind))
            .env("CNI_COMMAND", verb)
            .env("CNI_CONTAINERID", id)
            .env("CNI_NETNS", netns)
            .env("CNI_IFNAME", "eth0")
            .env("CNI_PATH", "/usr/lib/cni")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(&serde_json::to_vec(&config).unwrap())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "{kind} {verb}: {}",
            String::from_utf8_lossy(&output.stdout)
        );
        if verb == "ADD" {
            prev = Some(serde_json::from_slice(&output.stdout).unwrap());
        }
    }
    prev.unwrap_or(Value::Null)
}
