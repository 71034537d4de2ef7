//! The multi-platform pod infrastructure image (issue 17): each platform's `pause` against
//! static init binaries of the same architecture, each platform's image as a node pulls it
//! against Kubernetes' `registry.k8s.io/pause:3.10`, and the time `images` takes to build the
//! two-platform index against a one-platform build in the same rounds.
//!
//! - Peers of the binary, per architecture: Debian 12's `tini-static` and `catatonit` (static,
//!   like pause). The amd64 ones are the host's (`.ci/setup`); the arm64 ones are downloaded
//!   once from the Debian archive with a private apt state (no change to the host's apt
//!   configuration) into `target/bench/peers/arm64/`.
//! - Kubernetes' image: containerd counts an image's size from the index down, for the
//!   platform it pulls (`core/images/image.go`, `Image.Size`), and `crictl images` shows that
//!   count: 320,368 B for `registry.k8s.io/pause:3.10` on amd64 nodes (published in many node
//!   listings, see images/README.md). No published figure for its arm64 image was found; that
//!   row has no peer. Ours is counted the same way: index + manifest + config + layer.
//! - Build time: `images --out DIR` with both `pause` binaries given, against the same with the
//!   amd64 one alone, interleaved. Target: at most 2x (each platform is one more build).

use std::path::{Path, PathBuf};
use std::process::Command;

use sandbox_tests::{ScratchDir, arm64_pause_bin};
use serde_json::Value;

use crate::{Row, Table, Target, interleave, median, millis, millis_each, progress, time};

/// The budget of issue 2, for each architecture's pause (issue 17).
const SIZE_BUDGET: f64 = 65536.0;
/// `registry.k8s.io/pause:3.10` on amd64 as containerd 1.6 reports it (`crictl images`:
/// 320kB): see the module docs.
const KUBERNETES_PAUSE_AMD64_PULLED: f64 = 320_368.0;
const ROUNDS: usize = 21;

pub fn run(table: &mut Table) {
    let images = crate::release_binary("images", "images/src");
    let amd64 = crate::release_binary("pause", "pause/src");
    let arm64 = arm64_pause_bin();

    progress("image: binary sizes");
    let size = |path: &Path| std::fs::metadata(path).unwrap().len() as f64;
    let arm64_peers = arm64_peers();
    for (name, path) in [
        ("tini-static", "usr/bin/tini-static"),
        ("catatonit", "usr/bin/catatonit"),
    ] {
        table.add(
            Row::new("pause binary size, linux/arm64", size(&arm64), "B")
                .peer(
                    format!("{name} (Debian 12, arm64)"),
                    size(&arm64_peers.join(path)),
                )
                .target(Target::AtMost(SIZE_BUDGET)),
        );
    }

    progress("image: build and pulled sizes");
    let scratch = ScratchDir::new("bench-image");
    let build = |out: &str, pauses: &[String]| {
        let mut command = Command::new(&images);
        command
            .env_remove("CARGO")
            .env_remove("SOURCE_DATE_EPOCH")
            .arg("--out")
            .arg(scratch.path().join(out));
        for pause in pauses {
            command.arg("--pause").arg(pause);
        }
        time(&mut command)
    };
    let both = [
        amd64.display().to_string(),
        format!("linux/arm64={}", arm64.display()),
    ];
    let amd64_only = [amd64.display().to_string()];
    let samples = interleave(
        ROUNDS,
        &mut [&mut || build("both", &both), &mut || {
            build("amd64", &amd64_only)
        }],
    );

    let layout = scratch.path().join("both");
    for architecture in ["amd64", "arm64"] {
        let pulled = pulled_size(&layout, architecture);
        let row = Row::new(
            format!("pause image as pulled, linux/{architecture}"),
            pulled,
            "B",
        );
        table.add(match architecture {
            "amd64" => row
                .peer(
                    "registry.k8s.io/pause:3.10 (published)",
                    KUBERNETES_PAUSE_AMD64_PULLED,
                )
                .note("index + manifest + config + layer, as containerd counts"),
            _ => row.note("no published size of pause:3.10's arm64 image was found"),
        });
    }

    table.add(
        Row::new(
            "images build, linux/amd64 + linux/arm64",
            millis(median(samples[0].clone())),
            "ms",
        )
        .peer(
            "the same, linux/amd64 only",
            millis(median(samples[1].clone())),
        )
        .target(Target::RatioAtMost(2.0))
        .samples(&millis_each(&samples[0]), Some(&millis_each(&samples[1]))),
    );
}

/// What a node of `architecture` pulls of the image in `layout`: the index `index.json` names,
/// that platform's manifest, its config and its layers, in bytes.
fn pulled_size(layout: &Path, architecture: &str) -> f64 {
    let blob = |digest: &str| -> Value {
        let path = layout
            .join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:"));
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    };
    let top: Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let index = &top["manifests"][0];
    let listed = blob(index["digest"].as_str().unwrap());
    let manifest = listed["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["platform"]["architecture"] == architecture)
        .unwrap();
    let contents = blob(manifest["digest"].as_str().unwrap());
    let descriptors = [index, manifest, &contents["config"]]
        .into_iter()
        .chain(contents["layers"].as_array().unwrap());
    descriptors
        .map(|descriptor| descriptor["size"].as_u64().unwrap())
        .sum::<u64>() as f64
}

/// Debian 12's arm64 `tini` and `catatonit` packages, unpacked under `target/bench/peers/arm64`
/// (downloaded the first time, with an apt state of their own).
fn arm64_peers() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench/peers/arm64");
    if dir.join("usr/bin/tini-static").is_file() && dir.join("usr/bin/catatonit").is_file() {
        return dir;
    }
    progress("image: downloading Debian's arm64 tini and catatonit");
    let apt = dir.join("apt");
    for sub in ["state/lists/partial", "cache/archives/partial"] {
        std::fs::create_dir_all(apt.join(sub)).unwrap();
    }
    std::fs::write(apt.join("state/status"), "").unwrap();
    let apt_get = |args: &[&str]| {
        let options = [
            format!("Dir::State={}", apt.join("state").display()),
            format!("Dir::State::status={}", apt.join("state/status").display()),
            format!("Dir::Cache={}", apt.join("cache").display()),
            "APT::Architecture=arm64".to_owned(),
            "APT::Architectures::=arm64".to_owned(),
        ];
        let mut command = Command::new("apt-get");
        command.arg("-q");
        for option in &options {
            command.args(["-o", option]);
        }
        time(command.args(args).current_dir(&apt));
    };
    apt_get(&["update"]);
    apt_get(&["download", "tini", "catatonit"]);
    for entry in std::fs::read_dir(&apt).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|extension| extension == "deb") {
            let extracted = Command::new("dpkg-deb")
                .arg("-x")
                .arg(&path)
                .arg(&dir)
                .status()
                .unwrap();
            assert!(extracted.success(), "dpkg-deb -x {}", path.display());
        }
    }
    dir
}
