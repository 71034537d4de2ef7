//! Tests: the image store (`sandbox::image`) against a real oracle, umoci (Debian 12's).
//!
//! umoci builds a two-layer image around Debian's busybox-static: the second layer deletes a
//! file and a directory, so it carries whiteouts as umoci writes them, and changes a mode, an
//! owner and a file's contents. The store pulls it; overlayfs stacks the store's layers
//! (read-only, lower directories only, as `layer_dirs` orders them); and the tree seen through
//! the mount must equal the rootfs `umoci unpack` makes: paths, types, modes, owners, symlink
//! targets, and the sha256 of every file's contents. The store drives through the library: it
//! has no CLI yet.

use std::collections::BTreeMap;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sys::stat::Mode;
use sandbox::image::{ImageReference, ImageStore};
use sandbox_tests::{ScratchDir, assert_exit, require_root, run};
use sha2::{Digest, Sha256};

/// Fails (never skips) when a tool the oracle needs is missing.
fn require_tools() {
    let umoci = std::process::Command::new("umoci")
        .arg("--version")
        .output();
    assert!(
        umoci.is_ok_and(|o| o.status.success()),
        "needs umoci: apt-get install umoci (CI's .ci/setup does)"
    );
    assert!(
        Path::new("/bin/busybox").is_file(),
        "needs /bin/busybox: apt-get install busybox-static"
    );
}

/// An overlayfs mount, unmounted on drop.
struct Overlay {
    target: PathBuf,
}

impl Overlay {
    fn mount(lower: &[PathBuf], target: &Path) -> Overlay {
        std::fs::create_dir_all(target).unwrap();
        let lowerdir: Vec<String> = lower.iter().map(|d| d.display().to_string()).collect();
        let options = format!("lowerdir={}", lowerdir.join(":"));
        mount(
            Some("overlay"),
            target,
            Some("overlay"),
            MsFlags::MS_RDONLY,
            Some(options.as_str()),
        )
        .unwrap_or_else(|e| panic!("mounting overlay ({options}) on {}: {e}", target.display()));
        Overlay {
            target: target.to_owned(),
        }
    }
}

impl Drop for Overlay {
    fn drop(&mut self) {
        let _ = umount2(&self.target, MntFlags::MNT_DETACH);
    }
}

/// What is compared of each path.
#[derive(Debug, PartialEq, Eq)]
struct Node {
    kind: &'static str,
    /// Permission and set-id bits, in octal (0 for a symlink).
    mode: String,
    uid: u32,
    gid: u32,
    /// A file's sha256, a symlink's target, a device's numbers.
    detail: String,
}

/// Every path under `root` (itself as ""), without following symlinks.
fn tree(root: &Path) -> BTreeMap<PathBuf, Node> {
    fn walk(root: &Path, rel: &Path, nodes: &mut BTreeMap<PathBuf, Node>) {
        let path = root.join(rel);
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let file_type = meta.file_type();
        let (kind, detail) = if file_type.is_dir() {
            ("dir", String::new())
        } else if file_type.is_symlink() {
            (
                "symlink",
                std::fs::read_link(&path).unwrap().display().to_string(),
            )
        } else if file_type.is_file() {
            let digest = Sha256::digest(std::fs::read(&path).unwrap());
            ("file", format!("{digest:x}"))
        } else if file_type.is_fifo() {
            ("fifo", String::new())
        } else if file_type.is_char_device() {
            ("char", format!("{:x}", meta.rdev()))
        } else {
            ("other", String::new())
        };
        let mode = if file_type.is_symlink() {
            0
        } else {
            meta.permissions().mode() & 0o7777
        };
        let mode = format!("{mode:04o}");
        nodes.insert(
            rel.to_owned(),
            Node {
                kind,
                mode,
                uid: meta.uid(),
                gid: meta.gid(),
                detail,
            },
        );
        if file_type.is_dir() {
            for entry in std::fs::read_dir(&path).unwrap() {
                walk(root, &rel.join(entry.unwrap().file_name()), nodes);
            }
        }
    }
    let mut nodes = BTreeMap::new();
    walk(root, Path::new(""), &mut nodes);
    nodes
}

/// The differences between two trees, one line each.
fn differences(ours: &BTreeMap<PathBuf, Node>, oracle: &BTreeMap<PathBuf, Node>) -> Vec<String> {
    let mut lines = Vec::new();
    for (path, node) in oracle {
        match ours.get(path) {
            None => lines.push(format!("missing: {} {node:?}", path.display())),
            Some(mine) if mine != node => lines.push(format!(
                "differs: {}: ours {mine:?}, umoci {node:?}",
                path.display()
            )),
            Some(_) => {}
        }
    }
    for (path, node) in ours {
        if !oracle.contains_key(path) {
            lines.push(format!("extra: {} {node:?}", path.display()));
        }
    }
    lines
}

fn umoci(args: &[&str]) {
    assert_exit!(run("umoci", args), 0);
}

/// The first layer's tree: busybox, links, owners, set-id bits, a FIFO, private and sticky
/// directories, and what the second layer deletes or changes.
fn fill_first_layer(rootfs: &Path) {
    let path = |p: &str| rootfs.join(p);
    let dir = |p: &str, mode: u32| {
        std::fs::create_dir_all(path(p)).unwrap();
        std::fs::set_permissions(path(p), std::fs::Permissions::from_mode(mode)).unwrap();
    };
    let file = |p: &str, data: &[u8], mode: u32| {
        std::fs::write(path(p), data).unwrap();
        std::fs::set_permissions(path(p), std::fs::Permissions::from_mode(mode)).unwrap();
    };
    dir("bin", 0o755);
    std::fs::copy("/bin/busybox", path("bin/busybox")).unwrap();
    std::os::unix::fs::symlink("busybox", path("bin/sh")).unwrap();
    std::os::unix::fs::symlink("/bin/busybox", path("bin/ls")).unwrap();
    dir("etc/gone/sub", 0o755);
    dir("etc/keep", 0o755);
    file("etc/hello", b"hello\n", 0o644);
    std::os::unix::fs::chown(path("etc/hello"), Some(1000), Some(1000)).unwrap();
    std::fs::hard_link(path("etc/hello"), path("etc/hard")).unwrap();
    file("etc/suid", b"#!/bin/sh\n", 0o4755);
    file("etc/delete-me", b"deleted in layer 2\n", 0o644);
    file("etc/gone/sub/f", b"deleted with its directory\n", 0o644);
    file("etc/keep/a", b"kept\n", 0o644);
    dir("private", 0o700);
    file("private/secret", b"s\n", 0o600);
    dir("tmp", 0o1777);
    dir("run", 0o755);
    nix::unistd::mkfifo(&path("run/fifo"), Mode::from_bits_truncate(0o640)).unwrap();
    dir("home/user", 0o750);
    std::os::unix::fs::chown(path("home/user"), Some(1000), Some(1000)).unwrap();
    dir("changes", 0o755);
    file("changes/mode", b"mode\n", 0o644);
    file("changes/content", b"old\n", 0o644);
}

/// The second layer: deletions (whiteouts), a new file, a new mode, owner and contents.
fn change_in_second_layer(rootfs: &Path) {
    let path = |p: &str| rootfs.join(p);
    std::fs::remove_file(path("etc/delete-me")).unwrap();
    std::fs::remove_dir_all(path("etc/gone")).unwrap();
    std::fs::write(path("etc/new"), b"new in layer 2\n").unwrap();
    std::fs::set_permissions(path("changes/mode"), std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(path("changes/content"), b"new contents\n").unwrap();
    std::os::unix::fs::lchown(path("etc/keep/a"), Some(3), Some(3)).unwrap();
}

#[test]
fn overlay_of_pulled_layers_equals_umocis_unpack() {
    require_root();
    require_tools();
    let scratch = ScratchDir::new("image-store");
    let dir = |p: &str| scratch.path().join(p);
    let layout = dir("layout");
    let image = format!("{}:bb", layout.display());
    umoci(&["init", "--layout", layout.to_str().unwrap()]);
    umoci(&["new", "--image", &image]);
    umoci(&["unpack", "--image", &image, dir("b0").to_str().unwrap()]);
    fill_first_layer(&dir("b0/rootfs"));
    umoci(&["repack", "--image", &image, dir("b0").to_str().unwrap()]);
    umoci(&["unpack", "--image", &image, dir("b1").to_str().unwrap()]);
    change_in_second_layer(&dir("b1/rootfs"));
    umoci(&["repack", "--image", &image, dir("b1").to_str().unwrap()]);
    umoci(&["unpack", "--image", &image, dir("oracle").to_str().unwrap()]);

    let store = ImageStore::new(dir("store"));
    let lock = store.lock().unwrap();
    let pulled = store
        .pull(
            &lock,
            &ImageReference::parse(&format!("oci:{image}")).unwrap(),
        )
        .unwrap();
    drop(lock);
    let layers = store.layer_dirs(&pulled);
    assert_eq!(layers.len(), 2, "{pulled:?}");
    // umoci's deletions arrived as overlayfs whiteouts in the top layer.
    for deleted in ["etc/delete-me", "etc/gone"] {
        let meta = std::fs::symlink_metadata(layers[0].join(deleted)).unwrap();
        assert!(
            meta.file_type().is_char_device() && meta.rdev() == 0,
            "{deleted} in the top layer is not a whiteout: {meta:?}"
        );
    }
    assert_eq!(
        std::fs::read(layers[1].join("etc/gone/sub/f")).unwrap(),
        b"deleted with its directory\n"
    );

    let merged = dir("merged");
    let overlay = Overlay::mount(&layers, &merged);
    let ours = tree(&overlay.target);
    let oracle = tree(&dir("oracle/rootfs"));
    assert!(oracle.contains_key(Path::new("bin/busybox")) && oracle.len() > 20);
    let differences = differences(&ours, &oracle);
    assert!(
        differences.is_empty(),
        "the overlay of the store's layers differs from umoci's rootfs:\n{}",
        differences.join("\n")
    );
    drop(overlay);
}
