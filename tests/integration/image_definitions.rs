//! Tests: images built from definition files by `images --definition` (the busybox test image of
//! `sandbox_tests::images`), with the real tools as oracles, as root:
//! - skopeo reads the config back as the definition gave it;
//! - umoci unpacks the layers, applying whiteouts and opaque directories as a runtime does, and
//!   builds a runtime spec from the config (resolving `User` through the image's `/etc/passwd`);
//! - the unpacked busybox runs its applets under `chroot`, users and modes included;
//! - the same definition gives the same digest, whatever the order of its entries;
//! - a bad definition fails with status 1 and names the file and the place.
//!
//! Every test builds into its own scratch directory, which is removed with what umoci unpacked.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

use sandbox_tests::images::{BUSYBOX_APPLETS, build_image, busybox_definition, images_bin};
use sandbox_tests::{Run, ScratchDir, assert_exit, require_root, run};
use serde_json::{Value, json};

/// Runs `skopeo ARGS...`, asserting success, and parses its JSON output.
fn skopeo_json(args: &[&str]) -> Value {
    let done = run("skopeo", args);
    assert_exit!(done, 0);
    serde_json::from_str(&done.stdout).unwrap()
}

/// `umoci unpack`s the image `tag` of the layout `layout` into the new bundle `bundle` and
/// returns the bundle's runtime spec (`config.json`).
fn umoci_unpack(layout: &Path, tag: &str, bundle: &Path) -> Value {
    let image = format!("{}:{tag}", layout.display());
    let unpacked = run(
        "umoci",
        ["unpack", "--image", &image, bundle.to_str().unwrap()],
    );
    assert_exit!(unpacked, 0);
    serde_json::from_slice(&fs::read(bundle.join("config.json")).unwrap()).unwrap()
}

/// Runs `script` with the rootfs's `/bin/sh` under `chroot`, with only `PATH` in the environment.
fn chroot_sh(rootfs: &Path, script: &str) -> Run {
    Command::new("chroot")
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .arg(rootfs)
        .args(["/bin/sh", "-c", script])
        .output()
        .unwrap()
        .into()
}

/// Paths under `dir` whose name starts with `.wh.`: whiteouts a reader failed to apply.
fn whiteout_files_under(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in fs::read_dir(&current).unwrap() {
            let entry = entry.unwrap();
            if entry.file_name().to_string_lossy().starts_with(".wh.") {
                found.push(entry.path().display().to_string());
            }
            if entry.file_type().unwrap().is_dir() {
                pending.push(entry.path());
            }
        }
    }
    found
}

/// Permission bits (with setuid, setgid and sticky) and owner of `path`, not following a link.
fn mode_and_owner(path: &Path) -> (u32, u32, u32) {
    let metadata = fs::symlink_metadata(path).unwrap();
    (metadata.mode() & 0o7777, metadata.uid(), metadata.gid())
}

#[test]
fn skopeo_reads_the_config_as_defined() {
    require_root();
    let dir = ScratchDir::new("image-def-config");
    let layout = dir.path().join("layout");
    let mut definition = busybox_definition();
    definition["config"]["User"] = json!("app");
    definition["config"]["StopSignal"] = json!("SIGQUIT");
    definition["config"]["WorkingDir"] = json!("/home/app");
    let reference = build_image(&definition, &layout, "config");
    assert_eq!(reference, format!("oci:{}:config", layout.display()));

    let config = skopeo_json(&["inspect", "--config", &reference]);
    assert_eq!(
        config["config"],
        json!({
            "Cmd": ["sh"],
            "Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "IMAGE_VAR=from-image"],
            "WorkingDir": "/home/app",
            "User": "app",
            "StopSignal": "SIGQUIT",
        }),
        "fields the definition leaves out (Entrypoint, Labels, ...) must be left out"
    );
    assert_eq!(config["architecture"], "amd64");
    assert_eq!(config["os"], "linux");
    assert_eq!(config["created"], "1970-01-01T00:00:00Z");
    assert_eq!(
        config["history"],
        json!([{
            "created": "1970-01-01T00:00:00Z",
            "created_by": "busybox-static's /bin/busybox, its applets, passwd and group",
        }])
    );
    let inspected = skopeo_json(&["inspect", &reference]);
    assert_eq!(
        inspected["Digest"],
        sandbox_tests::images::image_digest(&layout).as_str()
    );
    assert_eq!(inspected["Layers"].as_array().unwrap().len(), 1);
}

#[test]
fn umoci_unpacks_busybox_whose_applets_and_users_work_under_chroot() {
    require_root();
    let dir = ScratchDir::new("image-def-busybox");
    let layout = dir.path().join("layout");
    let bundle = dir.path().join("bundle");
    let mut definition = busybox_definition();
    definition["config"]["User"] = json!("app");
    build_image(&definition, &layout, "busybox");

    // umoci turns the config into a runtime spec, resolving `app` through the image's passwd.
    let spec = umoci_unpack(&layout, "busybox", &bundle);
    let process = &spec["process"];
    assert_eq!(process["args"], json!(["sh"]));
    assert_eq!(process["cwd"], "/");
    assert_eq!(
        (&process["user"]["uid"], &process["user"]["gid"]),
        (&json!(1000), &json!(1000))
    );
    let env: Vec<&str> = process["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(env.contains(&"IMAGE_VAR=from-image"), "{env:?}");

    let rootfs = bundle.join("rootfs");
    assert_eq!(mode_and_owner(&rootfs.join("tmp")), (0o1777, 0, 0));
    assert_eq!(
        mode_and_owner(&rootfs.join("home/app")),
        (0o755, 1000, 1000)
    );
    assert_eq!(mode_and_owner(&rootfs.join("root")), (0o700, 0, 0));
    assert_eq!(mode_and_owner(&rootfs.join("bin/busybox")), (0o755, 0, 0));
    for applet in BUSYBOX_APPLETS {
        assert_eq!(
            fs::read_link(rootfs.join("bin").join(applet)).unwrap(),
            Path::new("busybox"),
            "/bin/{applet}"
        );
    }

    let script = "set -e
        id app
        id -un
        grep -c : /etc/passwd
        echo hello world | tr a-z A-Z | cut -d' ' -f2
        seq 1 5 | head -n 4 | tail -n 1
        stat -c '%a %u:%g %n' /tmp /home/app /root
        touch /tmp/made && ls /tmp && rm /tmp/made
        cat /etc/hostname 2>/dev/null || echo no hostname file
        printf '%s\\n' ok";
    let ran = chroot_sh(&rootfs, script);
    assert_exit!(ran, 0);
    assert_eq!(
        ran.stdout,
        "uid=1000(app) gid=1000(app) groups=1000(app)\n\
         root\n\
         2\n\
         WORLD\n\
         4\n\
         1777 0:0 /tmp\n\
         755 1000:1000 /home/app\n\
         700 0:0 /root\n\
         made\n\
         no hostname file\n\
         ok\n",
        "stderr: {}",
        ran.stderr
    );
}

#[test]
fn a_later_layer_whiteouts_a_file_and_makes_a_directory_opaque() {
    require_root();
    let dir = ScratchDir::new("image-def-layers");
    let layout = dir.path().join("layout");
    let bundle = dir.path().join("bundle");
    let mut definition = busybox_definition();
    let base = definition["layers"][0]["entries"].as_array_mut().unwrap();
    base.extend([
        json!({"path": "etc/motd", "type": "file", "contents": "welcome\n"}),
        json!({"path": "var/cache/old/data", "type": "file", "contents": "old\n"}),
        json!({"path": "var/cache/stale", "type": "file", "contents": "stale\n"}),
    ]);
    definition["layers"].as_array_mut().unwrap().push(json!({
        "created_by": "clean up",
        "entries": [
            {"path": "etc/motd", "type": "whiteout"},
            {"path": "var/cache", "type": "opaque"},
            {"path": "var/cache/new", "type": "file", "contents": "new\n"},
            // In a directory of the lower layer that this layer does not list: it must stay
            // 1000:1000.
            {"path": "home/app/.profile", "type": "file", "contents": "", "uid": 1000},
        ],
    }));
    let reference = build_image(&definition, &layout, "layers");

    let inspected = skopeo_json(&["inspect", &reference]);
    assert_eq!(inspected["Layers"].as_array().unwrap().len(), 2);
    let config = skopeo_json(&["inspect", "--config", &reference]);
    assert_eq!(config["rootfs"]["diff_ids"].as_array().unwrap().len(), 2);
    assert_eq!(config["history"][1]["created_by"], "clean up");

    umoci_unpack(&layout, "layers", &bundle);
    let rootfs = bundle.join("rootfs");
    assert!(
        !rootfs.join("etc/motd").exists(),
        "the whiteout left etc/motd"
    );
    assert!(
        rootfs.join("etc/passwd").is_file(),
        "the whiteout took more than etc/motd"
    );
    let mut cache: Vec<String> = fs::read_dir(rootfs.join("var/cache"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    cache.sort();
    assert_eq!(cache, ["new"], "the opaque var/cache kept lower contents");
    assert_eq!(fs::read(rootfs.join("var/cache/new")).unwrap(), b"new\n");
    assert_eq!(whiteout_files_under(&rootfs), Vec::<String>::new());
    assert_eq!(
        mode_and_owner(&rootfs.join("home/app")),
        (0o755, 1000, 1000)
    );
    assert_eq!(
        mode_and_owner(&rootfs.join("home/app/.profile")),
        (0o644, 1000, 0)
    );

    let ran = chroot_sh(
        &rootfs,
        "cat /etc/motd 2>/dev/null || echo gone; ls /var/cache",
    );
    assert_exit!(ran, 0);
    assert_eq!(ran.stdout, "gone\nnew\n");
}

#[test]
fn the_same_definition_gives_the_same_digest_whatever_its_entry_order() {
    require_root();
    let dir = ScratchDir::new("image-def-repro");
    let definition = busybox_definition();
    let mut reversed = definition.clone();
    reversed["layers"][0]["entries"]
        .as_array_mut()
        .unwrap()
        .reverse();
    let mut layouts = Vec::new();
    for (number, definition) in [&definition, &definition, &reversed]
        .into_iter()
        .enumerate()
    {
        let layout = dir.path().join(format!("build-{number}")).join("layout");
        fs::create_dir_all(layout.parent().unwrap()).unwrap();
        build_image(definition, &layout, &format!("tag-{number}"));
        layouts.push(layout);
    }
    let first = sandbox_tests::images::files_under(&layouts[0]);
    for layout in &layouts[1..] {
        assert_eq!(
            sandbox_tests::images::image_digest(layout),
            sandbox_tests::images::image_digest(&layouts[0])
        );
        let other = sandbox_tests::images::files_under(layout);
        assert_eq!(
            first.keys().collect::<Vec<_>>(),
            other.keys().collect::<Vec<_>>()
        );
        for (path, bytes) in &first {
            // index.json names the tag, which differs on purpose; the blobs must not.
            if path != "index.json" {
                assert!(
                    &other[path] == bytes,
                    "{path} differs in {}",
                    layout.display()
                );
            }
        }
    }
}

#[test]
fn a_bad_definition_fails_with_status_1_naming_the_file_and_the_place() {
    require_root();
    let dir = ScratchDir::new("image-def-bad");
    let layout = dir.path().join("layout");
    let file = dir.path().join("bad.json");
    let mut definition = busybox_definition();
    definition["layers"][0]["entries"][1]["path"] = json!("etc/../passwd");
    fs::write(&file, serde_json::to_vec(&definition).unwrap()).unwrap();
    let refused: Run = Command::new(images_bin())
        .arg("--definition")
        .arg(&file)
        .arg("--out")
        .arg(&layout)
        .output()
        .unwrap()
        .into();
    assert_exit!(refused, 1);
    assert_eq!(
        refused.stderr,
        format!(
            "images: error: definition {}: layers[0].entries[1] \"etc/../passwd\": path has a \
             \"..\" component\n",
            file.display()
        )
    );
    assert!(
        !layout.exists(),
        "a refused build wrote {}",
        layout.display()
    );
}
