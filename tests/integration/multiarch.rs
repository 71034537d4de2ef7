//! Tests: the pod infrastructure image for more than one platform (issue 17). The image's
//! index lists linux/amd64 and linux/arm64; skopeo picks either, umoci unpacks the arm64 one,
//! and its `pause`, run by `qemu-aarch64-static`, does what the amd64 one does as a pod's PID 1.
//!
//! The arm64 world of these tests: new user, mount and PID namespaces whose own `binfmt_misc`
//! (one per user namespace since Linux 6.7) hands arm64 ELF files to qemu, registered with the
//! `F` flag so qemu is opened once, at registration. The arm64 `pause` is PID 1 there, and the
//! command it starts is an arm64 program too (`tests/fixtures/foreign-child.c`, cross-compiled
//! by the test with Debian's `aarch64-linux-gnu-gcc`), so nothing of the host's architecture
//! runs under it. The host's own `binfmt_misc` is never touched.
//!
//! qemu 7.2 (Debian 12) does not emulate `PR_SET_CHILD_SUBREAPER`, so pause run under it as
//! anything but PID 1 fails (exit 4); a pod's pause is PID 1, which is what is tested.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use crate::image::build_image;
use nix::sys::signal::Signal;
use sandbox::binary::{Architecture, inspect_file};
use sandbox_tests::images::blob_json;
use sandbox_tests::{
    PidNamespace, Pod, arm64_pause_bin, assert_exit, child_pids, pause_bin, require_root, run,
    takes_its_signals, wait_until,
};
use serde_json::Value;

/// How long a step may take under qemu on a loaded 2-core machine.
const SOON: Duration = Duration::from_secs(20);

/// Debian's `binfmt_misc` registration of `qemu-aarch64` (`/usr/lib/binfmt.d/qemu-aarch64.conf`:
/// the ELF header of an AArch64 executable, static or PIE), with the static qemu as interpreter
/// and only the `F` flag.
const QEMU_AARCH64: &str = concat!(
    r":qemu-aarch64:M::",
    r"\x7f\x45\x4c\x46\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00:",
    r"\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff:",
    r"/usr/bin/qemu-aarch64-static:F"
);

/// Mounts the user namespace's own `binfmt_misc`, registers qemu in it, and becomes `"$@"`.
const ENTER_ARM64: &str = "mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc \
    && printf %s \"$QEMU_AARCH64\" > /proc/sys/fs/binfmt_misc/register \
    && exec \"$@\"";

/// The arm64 `pause` with `args`, as PID 1 of an arm64 world (see the module docs), its stdin
/// a pipe; returns once it runs.
fn start_arm64_pause(args: &[&Path]) -> PidNamespace {
    require_root();
    assert!(
        Path::new("/usr/bin/qemu-aarch64-static").is_file(),
        "qemu-aarch64-static not found: install qemu-user-static (.ci/setup does)"
    );
    let mut unshare = Command::new("unshare");
    unshare
        .args([
            "--user",
            "--map-root-user",
            "--mount",
            "--propagation",
            "private",
        ])
        .args([
            "--pid",
            "--fork",
            "--kill-child",
            "--",
            "sh",
            "-c",
            ENTER_ARM64,
            "sh",
        ])
        .arg(arm64_pause_bin())
        .args(args)
        .env("QEMU_AARCH64", QEMU_AARCH64)
        .stdin(Stdio::piped());
    PidNamespace::spawn(unshare)
}

/// Waits until the emulated pause waits for signals in `rt_sigtimedwait`. Its masks tell
/// nothing here ([`sandbox_tests::takes_its_signals`] reads them): they are qemu's own, which
/// blocks signals at times while the guest has not yet taken them over, and a signal sent then
/// meets the guest's default action.
fn wait_until_in_sigtimedwait(pause: &PidNamespace) {
    let wchan = format!("/proc/{}/wchan", pause.pid());
    let waiting = wait_until(SOON, || {
        fs::read_to_string(&wchan).is_ok_and(|wchan| wchan.contains("sigtimedwait"))
    });
    assert!(waiting, "the arm64 pause never waited for signals");
}

/// The test command for arm64 (`tests/fixtures/foreign-child.c`), compiled once per test run
/// into the target directory.
fn arm64_child() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/foreign-child.c");
        // Next to the test executable (target/<triple>/<profile>/deps/), replaced by each run.
        let exe = std::env::current_exe().unwrap();
        let binary = exe.with_file_name("foreign-child-aarch64");
        let compiled = run(
            "aarch64-linux-gnu-gcc",
            [
                "-static",
                "-Os",
                "-Wall",
                "-Werror",
                "-o",
                binary.to_str().unwrap(),
                source.to_str().unwrap(),
            ],
        );
        assert!(
            compiled.code == Some(0),
            "compiling the arm64 test command failed (.ci/setup installs gcc-aarch64-linux-gnu \
             and libc6-dev-arm64-cross):\n{}",
            compiled.stderr
        );
        assert_eq!(
            inspect_file(&binary).unwrap().architecture,
            Architecture::Arm64
        );
        binary
    })
}

#[test]
fn the_arm64_pause_holds_as_pid_1_and_exits_0_on_sigterm_and_sigint() {
    for (signal, name) in [(Signal::SIGTERM, "SIGTERM"), (Signal::SIGINT, "SIGINT")] {
        let mut pause = start_arm64_pause(&[]);
        wait_until_in_sigtimedwait(&pause);
        pause.signal(signal);
        let ended = pause.wait(SOON).expect("the arm64 pause did not exit");
        assert_exit!(ended, 0);
        assert_eq!(
            ended.stderr,
            format!("pause: shutting down, got signal {name}\n")
        );
    }
}

#[test]
fn the_arm64_pause_in_init_mode_exits_with_its_arm64_commands_code() {
    let child = arm64_child();
    let mut pause = start_arm64_pause(&[Path::new("--"), child, Path::new("exit"), Path::new("7")]);
    assert_exit!(pause.wait(SOON).expect("the arm64 pause did not exit"), 7);
}

#[test]
fn the_arm64_pause_reaps_orphans_and_forwards_sigterm() {
    const ORPHANS: usize = 20;
    let count = ORPHANS.to_string();
    let args = [
        Path::new("--"),
        arm64_child(),
        Path::new("orphans"),
        Path::new(&count),
    ];
    let mut pause = start_arm64_pause(&args);
    assert_eq!(pause.read_stdout_line(), format!("orphaned {ORPHANS}\n"));
    // Every orphan is pause's child now: the hand-over happened, and they wait for stdin.
    let children = child_pids(pause.pid());
    assert_eq!(children.len(), ORPHANS + 1, "the command and the orphans");

    // End of file ends the orphans: pause must reap all of them and keep its command.
    pause.close_stdin();
    let reaped = wait_until(SOON, || child_pids(pause.pid()).len() == 1);
    assert!(reaped, "{} children left", child_pids(pause.pid()).len());
    let command = child_pids(pause.pid())[0];
    let state = fs::read_to_string(format!("/proc/{command}/stat")).unwrap();
    assert!(
        state
            .split(") ")
            .nth(1)
            .is_some_and(|s| !s.starts_with('Z')),
        "the command has exited: {state}"
    );

    wait_until_in_sigtimedwait(&pause);
    pause.signal(Signal::SIGTERM);
    let ended = pause.wait(SOON).expect("the arm64 pause did not exit");
    // SIGTERM reached the command and ended it: 128 + 15.
    assert_exit!(ended, 143);
}

// ---------------------------------------------------------------------------------------------
// The image, through skopeo, umoci and sandbox
// ---------------------------------------------------------------------------------------------

/// The digest of the `architecture` manifest of the image index in `layout`.
fn manifest_of(layout: &Path, architecture: &str) -> String {
    let index = blob_json(layout, &sandbox_tests::images::image_digest(layout));
    let manifests = index["manifests"].as_array().unwrap();
    let manifest = manifests
        .iter()
        .find(|m| m["platform"]["architecture"] == architecture)
        .unwrap_or_else(|| panic!("no {architecture} manifest in {index}"));
    manifest["digest"].as_str().unwrap().to_owned()
}

#[test]
fn sandbox_runs_the_hosts_platform_of_the_pause_image_and_stops_it_cleanly() {
    require_root();
    let built = build_image();
    let layout = &built.layout;
    let pod = Pod::create(&[]);
    let image = built.oci();
    assert_exit!(pod.try_run("infra", &["--image", &image], &[]), 0);
    let container = pod.container("infra");
    assert_eq!(
        container["oci"]["rootfs"]["image"]["digest"],
        manifest_of(layout, "amd64").as_str(),
        "{container}"
    );

    // Once runc's init has become pause and pause waits for signals, TERM is taken: pause is
    // PID 1 of the container's PID namespace, and takes signals with sigtimedwait, not with
    // handlers (while it waits, /proc shows them neither caught nor blocked).
    let pid = container["pid"].as_i64().unwrap() as i32;
    let pause = fs::read(pause_bin()).unwrap();
    let ready = wait_until(SOON, || {
        takes_its_signals(pid) && fs::read(format!("/proc/{pid}/exe")).is_ok_and(|e| e == pause)
    });
    assert!(
        ready,
        "the container's PID 1 never became pause waiting for signals"
    );

    let stopped = pod.sandbox(&["stop", pod.name(), "-t", "10", "--json"]);
    assert_exit!(stopped, 0);
    let report: Value = serde_json::from_str(&stopped.stdout).unwrap();
    let infra = sandbox_tests::report_of(&report, "infra");
    assert_eq!(infra["exit_code"], 0, "{report}");
    assert_eq!(infra["ended"], "stop-signal", "{report}");
    assert!(
        infra.get("note").is_none(),
        "a PID 1 that waits for SIGTERM takes it: {report}"
    );
}

#[test]
fn skopeo_picks_each_platform_and_umoci_unpacks_the_arm64_pause() {
    require_root();
    let built = build_image();
    let (dir, layout, image) = (built.dir.path(), &built.layout, built.oci());

    let arm64 = arm64_pause_bin();
    let raw = run("skopeo", ["inspect", "--raw", image.as_str()]);
    assert_exit!(raw, 0);
    let index: Value = serde_json::from_str(&raw.stdout).unwrap();
    assert_eq!(
        index["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );
    let platforms: Vec<String> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| format!("{}/{}", m["platform"]["os"], m["platform"]["architecture"]))
        .collect();
    assert_eq!(platforms, [r#""linux"/"amd64""#, r#""linux"/"arm64""#]);
    let manifest_of = |architecture: &str| manifest_of(layout, architecture);
    for (architecture, manifest) in [
        ("amd64", manifest_of("amd64")),
        ("arm64", manifest_of("arm64")),
    ] {
        assert!(
            built
                .stdout
                .contains(&format!("linux/{architecture}  manifest {manifest}")),
            "images did not print the {architecture} manifest:\n{}",
            built.stdout
        );
    }

    let copy = built.copy_platform(Some("arm64"), "arm64");
    assert_eq!(
        sandbox_tests::images::image_digest(&copy),
        manifest_of("arm64"),
        "skopeo copied another manifest than the arm64 one"
    );
    let config = run(
        "skopeo",
        [
            "inspect",
            "--config",
            &format!("oci:{}:{}", copy.display(), built.tag),
        ],
    );
    assert_exit!(config, 0);
    let config: Value = serde_json::from_str(&config.stdout).unwrap();
    assert_eq!(config["architecture"], "arm64");
    assert_eq!(
        config["config"]["Entrypoint"],
        serde_json::json!(["/pause"])
    );
    assert_eq!(config["config"]["User"], "65535:65535");

    let bundle = dir.join("bundle");
    let unpacked = run(
        "umoci",
        [
            "unpack",
            "--image",
            &format!("{}:{}", copy.display(), built.tag),
            bundle.to_str().unwrap(),
        ],
    );
    assert_exit!(unpacked, 0);
    let unpacked_pause = bundle.join("rootfs/pause");
    let executable = inspect_file(&unpacked_pause).unwrap();
    assert_eq!(executable.architecture, Architecture::Arm64);
    assert!(executable.is_static(), "{executable:?}");
    assert_eq!(
        fs::read(&unpacked_pause).unwrap(),
        fs::read(&arm64).unwrap(),
        "the unpacked /pause is not the arm64 pause the tests run under qemu"
    );

    // Without an override, skopeo picks the host's platform.
    let host = run("skopeo", ["inspect", image.as_str()]);
    assert_exit!(host, 0);
    let host: Value = serde_json::from_str(&host.stdout).unwrap();
    assert_eq!(host["Architecture"], "amd64");
}
