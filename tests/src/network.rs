//! A throwaway "host" for network tests: a network namespace of the test's own in which the
//! `sandbox` CLI runs, so that the bridges, veths, iptables rules and sysctls the CNI plugins
//! make land there and go with it. Nothing here touches the real host's network.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use crate::{Run, run, unique_name};

/// The throwaway host's own address, on its loopback (from a documentation network: routed
/// nowhere).
pub const HOST_ADDRESS: &str = "198.51.100.1";

/// A network namespace made with `ip netns add`, with loopback up and [`HOST_ADDRESS`] on it;
/// deleted on drop (with everything the plugins made in it).
pub struct ThrowawayHost {
    name: String,
    path: PathBuf,
}

impl ThrowawayHost {
    /// Makes one.
    pub fn new() -> Arc<ThrowawayHost> {
        crate::require_root();
        let name = unique_name("sbx-thost");
        let host = ThrowawayHost {
            path: Path::new("/run/netns").join(&name),
            name,
        };
        for args in [
            vec!["netns", "add", &host.name],
            vec!["-n", &host.name, "link", "set", "lo", "up"],
            vec![
                "-n",
                &host.name,
                "addr",
                "add",
                "198.51.100.1/32",
                "dev",
                "lo",
            ],
        ] {
            let made = run("ip", &args);
            assert_eq!(made.code, Some(0), "ip {args:?}: {made:?}");
        }
        Arc::new(host)
    }

    /// Its `ip netns` path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `program` to be run in this host's network namespace (and nothing else of it:
    /// `nsenter --net`, which execs `program` in place, so its PID is the program's).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new("nsenter");
        command.arg(format!("--net={}", self.path.display()));
        command.arg(program);
        command
    }

    /// Runs `program ARGS...` here to completion.
    pub fn run(&self, program: &str, args: &[&str]) -> Run {
        let mut command = self.command(program);
        command.args(args);
        crate::run_with_timeout(command, b"", std::time::Duration::from_secs(60))
    }

    /// What a pod could have left here: the links, every iptables rule and chain (without
    /// counters), and the reservation files of `ipam_dirs`.
    pub fn snapshot(&self, ipam_dirs: &[&Path]) -> Snapshot {
        let links = run("ip", ["-n", &self.name, "-o", "link", "show"]);
        assert_eq!(links.code, Some(0), "{links:?}");
        let mut links: Vec<String> = links
            .stdout
            .lines()
            .filter_map(|line| line.split(':').nth(1))
            .map(|name| name.trim().split('@').next().unwrap_or("").to_owned())
            .collect();
        links.sort();
        let rules = self.run("iptables-save", &[]);
        assert_eq!(rules.code, Some(0), "{rules:?}");
        let mut rules: Vec<String> = rules
            .stdout
            .lines()
            .filter(|line| !line.starts_with('#'))
            .map(|line| match line.strip_prefix(':') {
                // ":CHAIN POLICY [packets:bytes]": the counters change with traffic.
                Some(chain) => chain.split(" [").next().unwrap_or(chain).to_owned(),
                None => line.to_owned(),
            })
            .collect();
        rules.sort();
        let mut reservations = Vec::new();
        for dir in ipam_dirs {
            if let Ok(entries) = std::fs::read_dir(dir) {
                reservations.extend(
                    entries
                        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                        .filter(|name| name.parse::<std::net::IpAddr>().is_ok()),
                );
            }
        }
        reservations.sort();
        Snapshot {
            links,
            rules,
            reservations,
        }
    }
}

impl Drop for ThrowawayHost {
    fn drop(&mut self) {
        let deleted = run("ip", ["netns", "delete", &self.name]);
        if deleted.code != Some(0) && !std::thread::panicking() {
            panic!("deleting throwaway host {}: {deleted:?}", self.name);
        }
    }
}

/// What [`ThrowawayHost::snapshot`] saw.
#[derive(Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// Link names.
    pub links: Vec<String>,
    /// iptables-save's lines, sorted, counters dropped.
    pub rules: Vec<String>,
    /// Reserved addresses.
    pub reservations: Vec<String>,
}

impl Snapshot {
    /// Panics with the differences unless `self` equals `baseline`.
    pub fn assert_same_as(&self, baseline: &Snapshot, after: &str) {
        let diff = |now: &[String], then: &[String]| {
            let added: Vec<&String> = now.iter().filter(|l| !then.contains(l)).collect();
            let removed: Vec<&String> = then.iter().filter(|l| !now.contains(l)).collect();
            format!("added {added:#?}, removed {removed:#?}")
        };
        assert!(
            self == baseline,
            "after {after} the host is not as it was:\nlinks: {}\nrules: {}\nreservations: {}",
            diff(&self.links, &baseline.links),
            diff(&self.rules, &baseline.rules),
            diff(&self.reservations, &baseline.reservations),
        );
    }
}
