//! Image names: `sandbox load REF --name NAME` gives an image of the store a name, normalized as
//! the kubelet does (`busybox:1.36` is `docker.io/library/busybox:1.36`), which `run --image`,
//! `images` and `rmi` take. Each test image is the busybox test image with an `/etc/os-release`
//! of its own, so what a container's process reads tells which image it runs.

use sandbox_tests::images::{build_image, busybox_definition};
use sandbox_tests::{Pod, Run, ScratchDir, assert_exit, json_of, run};
use serde_json::{Value, json};

/// runc: these tests are about which image runs, not which runtime runs it.
const RUNC: &str = "/usr/sbin/runc";

/// A busybox image whose `/etc/os-release` says `ID=<id>`, as a layout and an archive of it
/// (what `skopeo copy docker://... oci-archive:FILE` writes).
struct MarkedImage {
    _dir: ScratchDir,
    /// `oci-archive:FILE:test`.
    archive: String,
}

impl MarkedImage {
    fn new(id: &str) -> MarkedImage {
        let mut definition = busybox_definition();
        definition["layers"][0]["entries"]
            .as_array_mut()
            .unwrap()
            .push(
                json!({"path": "etc/os-release", "type": "file", "contents": format!("ID={id}\n")}),
            );
        let dir = ScratchDir::new("named-image");
        let layout = dir.path().join("layout");
        build_image(&definition, &layout, "test");
        let archive = dir.path().join("image.tar");
        let layout_arg = layout.display().to_string();
        let archive_arg = archive.display().to_string();
        assert_exit!(run("tar", ["-C", &layout_arg, "-cf", &archive_arg, "."]), 0);
        MarkedImage {
            _dir: dir,
            archive: format!("oci-archive:{archive_arg}:test"),
        }
    }
}

/// `sandbox load ARCHIVE --name NAME...`, which must succeed.
fn load(pod: &Pod, image: &MarkedImage, names: &[&str]) -> Run {
    let mut args = vec!["load", image.archive.as_str()];
    for name in names {
        args.extend(["--name", name]);
    }
    let loaded = pod.sandbox(&args);
    assert_exit!(loaded, 0);
    loaded
}

/// Runs container `name` of `image` (a name) in `pod`, reading `/etc/os-release`; once it has
/// exited, what it printed.
fn os_release(pod: &Pod, name: &str, image: &str) -> String {
    assert_exit!(
        pod.try_run(
            name,
            &["--runtime", RUNC, "--image", image],
            &["cat", "/etc/os-release"]
        ),
        0
    );
    assert_exit!(pod.sandbox(&["wait", pod.name(), name]), 0);
    let logs = pod.sandbox(&["logs", pod.name(), name]);
    assert_exit!(logs, 0);
    logs.stdout
}

/// `images --json`.
fn images(pod: &Pod) -> Value {
    let listed = pod.sandbox(&["images", "--json"]);
    assert_exit!(listed, 0);
    json_of(&listed)
}

/// The `images --json` entry of the image with `name`.
fn image_named(pod: &Pod, name: &str) -> Value {
    let listed = images(pod);
    listed
        .as_array()
        .unwrap()
        .iter()
        .find(|image| image["names"].as_array().unwrap().contains(&json!(name)))
        .unwrap_or_else(|| panic!("no image named {name} in {listed}"))
        .clone()
}

#[test]
fn a_loaded_name_runs_its_image_in_short_and_full_spelling() {
    sandbox_tests::require_root();
    let image = MarkedImage::new("named-one");
    let pod = Pod::create(&[]);
    let loaded = load(&pod, &image, &["busybox:1.36"]);
    assert_eq!(loaded.stdout, "docker.io/library/busybox:1.36\n");

    for (container, spelling) in [
        ("short", "busybox:1.36"),
        ("full", "docker.io/library/busybox:1.36"),
        ("library", "library/busybox:1.36"),
    ] {
        assert_eq!(
            os_release(&pod, container, spelling),
            "ID=named-one\n",
            "{spelling}"
        );
        // The record names the image by its canonical name.
        assert_eq!(
            pod.container(container)["oci"]["rootfs"]["image"]["reference"],
            "docker.io/library/busybox:1.36",
            "{spelling}"
        );
    }
    let entry = image_named(&pod, "docker.io/library/busybox:1.36");
    assert_eq!(entry["names"], json!(["docker.io/library/busybox:1.36"]));
    // A load with names keeps no file name, as podman load.
    assert_eq!(entry["references"], json!([]));
    let users: Vec<String> = ["full", "library", "short"]
        .iter()
        .map(|c| format!("{}/{c}", pod.name()))
        .collect();
    assert_eq!(entry["containers"], json!(users));
    // The table has the name too.
    let table = pod.sandbox(&["images"]);
    assert_exit!(table, 0);
    assert!(
        table.stdout.starts_with("NAMES")
            && table.stdout.contains("docker.io/library/busybox:1.36"),
        "{}",
        table.stdout
    );
    // Without a name, load prints the digest; --json the image.
    let again = pod.sandbox(&["load", &image.archive, "--json"]);
    assert_exit!(again, 0);
    let again = json_of(&again);
    assert_eq!(again["digest"], entry["digest"]);
    assert_eq!(again["names"], entry["names"]);
}

#[test]
fn unknown_and_invalid_names_fail_with_125_and_leave_nothing() {
    sandbox_tests::require_root();
    let pod = Pod::create(&[]);
    let unknown = pod.try_run("web", &["--runtime", RUNC, "--image", "nginx:1.25"], &[]);
    assert_exit!(unknown, 125);
    assert!(
        unknown.stderr.contains(
            "image \"docker.io/library/nginx:1.25\" is not in the store: load it with \
             `sandbox load oci-archive:FILE --name nginx:1.25`"
        ),
        "{}",
        unknown.stderr
    );
    assert_eq!(pod.container_dirs(), Vec::<String>::new());
    assert_eq!(pod.container_names(), Vec::<String>::new());

    for (name, reason) in [
        ("Nginx:1", "must be lowercase"),
        ("a//b", "empty component"),
        ("busybox:-1", "invalid tag"),
        ("busybox@sha256:0000", "digest"),
        ("oci:/tmp/x", "not a name"),
    ] {
        let refused = pod.try_run("bad", &["--runtime", RUNC, "--image", name], &[]);
        assert_exit!(refused, 125);
        // `oci:` is a reference for --image (its path does not exist); a name for --name.
        if !name.starts_with("oci:") {
            assert!(
                refused
                    .stderr
                    .contains(&format!("invalid image name {name:?}"))
                    && refused.stderr.contains(reason),
                "{name}: {}",
                refused.stderr
            );
        }
        assert_eq!(pod.container_dirs(), Vec::<String>::new(), "{name}");
        let refused = pod.sandbox(&["load", "oci:/nonexistent/layout", "--name", name]);
        assert_exit!(refused, 125);
        assert!(
            refused
                .stderr
                .contains(&format!("invalid image name {name:?}"))
                && refused.stderr.contains(reason),
            "{name}: {}",
            refused.stderr
        );
    }
    let too_long = "a".repeat(300);
    let refused = pod.sandbox(&["load", "oci:/nonexistent/layout", "--name", &too_long]);
    assert_exit!(refused, 125);
    assert!(refused.stderr.contains("at most 255"), "{}", refused.stderr);
    // A load whose pull fails names nothing.
    let failed = pod.sandbox(&["load", "oci:/nonexistent/layout", "--name", "app"]);
    assert_exit!(failed, 125);
    assert!(
        failed.stderr.contains("/nonexistent/layout"),
        "{}",
        failed.stderr
    );
    assert_eq!(images(&pod), json!([]));
    // rmi of a name nobody has.
    let missing = pod.sandbox(&["rmi", "app"]);
    assert_exit!(missing, 125);
    assert!(
        missing.stderr.contains("docker.io/library/app:latest"),
        "{}",
        missing.stderr
    );
}

#[test]
fn a_name_moves_to_the_image_loaded_last_and_rmi_untags_or_removes() {
    sandbox_tests::require_root();
    let first = MarkedImage::new("first");
    let second = MarkedImage::new("second");
    let pod = Pod::create(&[]);
    load(&pod, &first, &["app", "app:stable"]);
    assert_eq!(os_release(&pod, "before", "app"), "ID=first\n");
    assert_exit!(pod.sandbox(&["rm", pod.name(), "before"]), 0);
    load(&pod, &second, &["app"]);
    let first_entry = image_named(&pod, "docker.io/library/app:stable");
    assert_eq!(
        first_entry["names"],
        json!(["docker.io/library/app:stable"])
    );
    let second_entry = image_named(&pod, "docker.io/library/app:latest");
    assert_eq!(
        second_entry["names"],
        json!(["docker.io/library/app:latest"])
    );
    assert_ne!(first_entry["digest"], second_entry["digest"]);
    assert_eq!(os_release(&pod, "after", "app:latest"), "ID=second\n");

    // The last name of an image without references: the image goes.
    let removed = pod.sandbox(&["rmi", "app:stable"]);
    assert_exit!(removed, 0);
    assert_eq!(
        removed.stdout,
        format!(
            "Untagged: docker.io/library/app:stable\n{}\n",
            first_entry["digest"].as_str().unwrap()
        )
    );
    assert_eq!(images(&pod).as_array().unwrap().len(), 1);

    // One name of two: only the name goes, even while a container uses the image.
    load(&pod, &second, &["app:v2"]);
    let untagged = pod.sandbox(&["rmi", "app"]);
    assert_exit!(untagged, 0);
    assert_eq!(untagged.stdout, "Untagged: docker.io/library/app:latest\n");
    let entry = image_named(&pod, "docker.io/library/app:v2");
    assert_eq!(entry["names"], json!(["docker.io/library/app:v2"]));
    assert_eq!(
        entry["containers"],
        json!([format!("{}/after", pod.name())])
    );
    // The last name of an image a container uses: refused, as any rmi of it.
    let refused = pod.sandbox(&["rmi", "app:v2"]);
    assert_exit!(refused, 125);
    assert!(
        refused.stderr.contains("app:v2") && refused.stderr.contains("after"),
        "{}",
        refused.stderr
    );
    assert_exit!(pod.sandbox(&["rm", pod.name(), "after"]), 0);
    assert_exit!(pod.sandbox(&["rmi", "app:v2"]), 0);
    assert_eq!(images(&pod), json!([]));
    let layers = pod.root().join(".images/layers");
    assert_eq!(std::fs::read_dir(&layers).unwrap().count(), 0);
}
