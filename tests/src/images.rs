//! Test images, built offline by the project's own `images` tool from definition files (the
//! format is in `images/README.md`). The base is a busybox image made from Debian's
//! `busybox-static` (`.ci/setup` installs it); a test takes [`busybox_definition`], changes what
//! it needs (the config's `User`, `StopSignal`, `WorkingDir`, another layer, ...) and builds it
//! with [`build_image`] into its own scratch directory.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::Run;

/// Where Debian's `busybox-static` installs its static busybox, the one binary of the image.
pub const BUSYBOX: &str = "/bin/busybox";

/// The applets the busybox image links in `/bin` (each a symlink to `busybox`): what the tests
/// run in containers. Shell builtins (`trap`, `exec`, ...) need no link.
pub const BUSYBOX_APPLETS: &[&str] = &[
    "[", "ash", "cat", "chmod", "cp", "cut", "date", "echo", "env", "false", "grep", "head",
    "hostname", "id", "kill", "ln", "ls", "mkdir", "mount", "mv", "nc", "printf", "ps", "pwd",
    "readlink", "rm", "sed", "seq", "sh", "sleep", "sort", "stat", "tail", "tee", "test",
    "timeout", "touch", "tr", "true", "umount", "uname", "wc", "whoami",
];

/// The `images` binary under test: next to the other workspace binaries, or at `IMAGES_BIN`.
pub fn images_bin() -> PathBuf {
    crate::find_binary("images", "IMAGES_BIN")
}

/// The definition of the busybox test image: one layer with the static `/bin/busybox`, its
/// applets as symlinks in `/bin` ([`BUSYBOX_APPLETS`]), `/etc/passwd` and `/etc/group` with
/// root (0) and `app` (1000, home `/home/app`), and the directories a container expects: `tmp`
/// (1777), `home/app` (1000:1000), `proc`, `sys`, `dev` and `root` (0700). Its config runs `sh`
/// in `/` with `PATH` and `IMAGE_VAR=from-image` set, as root (no `User`).
///
/// Panics unless [`BUSYBOX`] is a static executable: a dynamically linked busybox (Debian's
/// `busybox` package) would fail in the image with a baffling "no such file or directory".
pub fn busybox_definition() -> Value {
    assert_static_executable(Path::new(BUSYBOX));
    let mut entries = vec![
        json!({"path": "bin/busybox", "type": "file", "source": BUSYBOX, "mode": "0755"}),
        json!({"path": "etc/passwd", "type": "file",
               "contents": "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"}),
        json!({"path": "etc/group", "type": "file", "contents": "root:x:0:\napp:x:1000:\n"}),
        json!({"path": "tmp", "type": "dir", "mode": "1777"}),
        json!({"path": "home/app", "type": "dir", "uid": 1000, "gid": 1000}),
        json!({"path": "proc", "type": "dir"}),
        json!({"path": "sys", "type": "dir"}),
        json!({"path": "dev", "type": "dir"}),
        json!({"path": "root", "type": "dir", "mode": "0700"}),
    ];
    entries.extend(BUSYBOX_APPLETS.iter().map(
        |applet| json!({"path": format!("bin/{applet}"), "type": "symlink", "target": "busybox"}),
    ));
    json!({
        "repository": "localhost/busybox",
        "layers": [{
            "created_by": "busybox-static's /bin/busybox, its applets, passwd and group",
            "entries": entries,
        }],
        "config": {
            "Cmd": ["sh"],
            "Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "IMAGE_VAR=from-image"],
            "WorkingDir": "/",
        },
    })
}

/// Builds `definition` with `images --definition F --out OUT --tag TAG` and
/// `SOURCE_DATE_EPOCH=0`, where F is `OUT.definition.json` (next to `out`, so the test's scratch
/// directory holds and removes both). Panics with the tool's output unless it succeeds. Returns
/// the image's reference for skopeo, `oci:OUT:TAG` (umoci takes `OUT:TAG`).
pub fn build_image(definition: &Value, out: &Path, tag: &str) -> String {
    let mut file = out.as_os_str().to_owned();
    file.push(".definition.json");
    let file = PathBuf::from(file);
    std::fs::write(&file, serde_json::to_vec_pretty(definition).unwrap())
        .unwrap_or_else(|e| panic!("writing {}: {e}", file.display()));
    let built: Run = Command::new(images_bin())
        .env("SOURCE_DATE_EPOCH", "0")
        // Under `cargo`, `images` would build pause; a definition needs no pause, but be sure.
        .env_remove("CARGO")
        .arg("--definition")
        .arg(&file)
        .arg("--out")
        .arg(out)
        .args(["--tag", tag])
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", images_bin().display()))
        .into();
    assert!(
        built.code == Some(0),
        "images --definition {} failed ({:?})\n--- stdout ---\n{}\n--- stderr ---\n{}",
        file.display(),
        built.code,
        built.stdout,
        built.stderr
    );
    format!("oci:{}:{tag}", out.display())
}

/// Panics unless `path` is a static ELF executable (no `PT_INTERP` program header).
fn assert_static_executable(path: &Path) {
    let executable = sandbox::binary::inspect_file(path).unwrap_or_else(|e| {
        panic!(
            "{}: install Debian's busybox-static (.ci/setup does)",
            sandbox::error_chain(&e)
        )
    });
    assert!(
        executable.is_static(),
        "{} is dynamically linked: the test images need Debian's busybox-static, not busybox",
        path.display()
    );
}

/// The digest that `<layout>/index.json` names first: the image's digest, which is its
/// manifest's, or for a multi-platform image (the pause image) its image index's.
pub fn image_digest(layout: &Path) -> String {
    let index: Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    index["manifests"][0]["digest"].as_str().unwrap().to_owned()
}

/// The JSON blob `digest` (an index, a manifest or a config) of the image layout `layout`.
pub fn blob_json(layout: &Path, digest: &str) -> Value {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    let path = layout.join("blobs/sha256").join(hex);
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

/// Every file under `dir`, by path relative to it, with its bytes.
pub fn files_under(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut files = std::collections::BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let relative = path.strip_prefix(dir).unwrap().display().to_string();
                files.insert(relative, std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

/// An OCI runtime as the tests and the benchmark run it: crun 1.8.1 refuses hosts with hybrid
/// cgroups whose v2 mount owns a controller (this test machine is one), so there it runs
/// through a wrapper, written into `dir`, that gives it a private mount namespace without
/// `/sys/fs/cgroup/unified`, as the README tells users to do. Elsewhere: `/usr/bin/crun`.
pub fn crun_for_this_host(dir: &Path) -> PathBuf {
    if !crate::is_mounted("/sys/fs/cgroup/unified") {
        return PathBuf::from("/usr/bin/crun");
    }
    let path = dir.join("crun");
    std::fs::write(
        &path,
        "#!/bin/sh\n\
         # crun 1.8.1 refuses hybrid cgroup hosts: hide the v2 mount from it.\n\
         exec unshare --mount --propagation private sh -c \
         'umount /sys/fs/cgroup/unified && exec /usr/bin/crun \"$@\"' crun \"$@\"\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}
