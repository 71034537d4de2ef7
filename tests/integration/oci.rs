//! OCI containers in pods: images and root file systems run by the real runc and crun, joined
//! to the pod's namespaces, with their own mount and PID namespaces.
//!
//! The test images are built offline from Debian's busybox-static with the project's own
//! `images` tool (`sandbox_tests::images`). crun 1.8.1 refuses hosts with hybrid cgroups whose
//! v2 mount owns a controller (this test machine is one); there it runs through a wrapper that
//! gives it a private mount namespace without `/sys/fs/cgroup/unified`, as the README tells users.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sandbox_tests::images::{build_image, busybox_definition, crun_for_this_host};
use sandbox_tests::{
    Pod, ScratchDir, StateRoot, assert_exit, is_mounted, json_of, mounts_under, wait_until,
};

/// An OCI runtime the tests run containers with.
struct Runtime {
    name: &'static str,
    path: PathBuf,
    _wrapper_dir: Option<ScratchDir>,
}

impl Runtime {
    fn runc() -> Runtime {
        Runtime {
            name: "runc",
            path: PathBuf::from("/usr/sbin/runc"),
            _wrapper_dir: None,
        }
    }

    /// crun, wrapped on hybrid cgroup hosts (see the module doc).
    fn crun() -> Runtime {
        let dir = ScratchDir::new("crun-wrapper");
        let path = crun_for_this_host(dir.path());
        Runtime {
            name: "crun",
            path,
            _wrapper_dir: Some(dir),
        }
    }

    fn both() -> [Runtime; 2] {
        [Runtime::runc(), Runtime::crun()]
    }

    fn arg(&self) -> &str {
        self.path.to_str().unwrap()
    }
}

/// A busybox image built for one test: its layout directory and reference.
struct TestImage {
    dir: ScratchDir,
    reference: String,
}

impl TestImage {
    fn busybox() -> TestImage {
        TestImage::with(|_| {})
    }

    /// The busybox image with its definition changed by `edit` first.
    fn with(edit: impl FnOnce(&mut serde_json::Value)) -> TestImage {
        let mut definition = busybox_definition();
        edit(&mut definition);
        let dir = ScratchDir::new("oci-image");
        let reference = build_image(&definition, &dir.path().join("layout"), "test");
        TestImage { dir, reference }
    }

    fn layout(&self) -> PathBuf {
        self.dir.path().join("layout")
    }
}

/// `sandbox run POD --name NAME --runtime R --image REF EXTRA... -- COMMAND...`.
fn run_image(
    pod: &Pod,
    runtime: &Runtime,
    name: &str,
    image: &str,
    extra: &[&str],
    command: &[&str],
) -> sandbox_tests::Run {
    let mut options = vec!["--runtime", runtime.arg(), "--image", image];
    options.extend_from_slice(extra);
    pod.try_run(name, &options, command)
}

/// Starts container `app` of `image` running `sleep 300` under `runtime` in `pod`; panics
/// unless it starts.
fn run_sleeper(pod: &Pod, runtime: &Runtime, image: &TestImage) {
    assert_exit!(
        run_image(
            pod,
            runtime,
            "app",
            &image.reference,
            &[],
            &["sleep", "300"]
        ),
        0
    );
}

/// The arguments of `sandbox run` for container `app` of `image` running `sleep 300` under
/// `runtime` in `pod`.
fn sleeper_args<'a>(pod: &'a Pod, runtime: &'a Runtime, image: &'a TestImage) -> Vec<&'a str> {
    vec![
        "run",
        pod.name(),
        "--name",
        "app",
        "--runtime",
        runtime.arg(),
        "--image",
        &image.reference,
        "--",
        "sleep",
        "300",
    ]
}

/// A new pod (`create` with `pod_options`) with a container `app` of a new busybox image
/// running `sleep 300` under `runtime`, its command running; its host PID.
fn pod_with_sleeper(runtime: &Runtime, pod_options: &[&str]) -> (TestImage, Pod, i32) {
    let image = TestImage::busybox();
    let pod = Pod::create(pod_options);
    assert_exit!(
        run_image(
            &pod,
            runtime,
            "app",
            &image.reference,
            &[],
            &["sleep", "300"]
        ),
        0
    );
    let pid = wait_for_command(&pod, "app", "sleep");
    (image, pod, pid)
}

/// `sandbox exec POD -c CONTAINER -- COMMAND...`.
fn exec_in(pod: &Pod, container: &str, command: &[&str]) -> sandbox_tests::Run {
    pod.exec_with(&["-c", container], command)
}

/// The runtime's state directory under the pod's root: empty once its containers are removed.
fn runtime_state(root: &Path, runtime: &Runtime) -> Vec<String> {
    match std::fs::read_dir(root.join(".runtimes").join(runtime.name)) {
        Ok(entries) => entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Waits until container `name`'s process runs `comm`: the runtime returns once it has started
/// the container, a moment before its own process (runc's init, a Go program) execs the command.
fn wait_for_command(pod: &Pod, name: &str, comm: &str) -> i32 {
    let pid = pod.container(name)["pid"].as_i64().unwrap() as i32;
    assert!(
        wait_until(Duration::from_secs(10), || {
            sandbox_tests::comm_of(pid).as_deref() == Some(comm)
        }),
        "container {name} (pid {pid}) never ran {comm}"
    );
    pid
}

/// What a container wrote on stdout.
fn logs(pod: &Pod, container: &str) -> String {
    let run = pod.sandbox(&["logs", pod.name(), container]);
    assert_exit!(run, 0);
    run.stdout
}

/// What a container wrote on stderr.
fn error_logs(pod: &Pod, container: &str) -> String {
    let run = pod.sandbox(&["logs", pod.name(), container]);
    assert_exit!(run, 0);
    run.stderr
}

#[test]
fn the_command_is_pid_1_of_its_own_namespace_and_sees_only_its_container() {
    sandbox_tests::require_root();
    for runtime in Runtime::both() {
        let image = TestImage::busybox();
        let pod = Pod::create(&[]);
        let started = run_image(
            &pod,
            &runtime,
            "app",
            &image.reference,
            &[],
            &["sleep", "300"],
        );
        assert_exit!(started, 0);
        let seen = exec_in(
            &pod,
            "app",
            &[
                "sh",
                "-c",
                "tr '\\0' ' ' < /proc/1/cmdline; echo; ps -o pid,comm",
            ],
        );
        assert_exit!(seen, 0);
        let mut lines = seen.stdout.lines();
        assert_eq!(
            lines.next(),
            Some("sleep 300 "),
            "{}: {}",
            runtime.name,
            seen.stdout
        );
        let processes: Vec<&str> = lines.skip(1).collect();
        // sleep, the exec'd sh and its ps: nothing of the host, not even the launcher.
        assert!(processes.len() <= 3, "{}: {processes:?}", runtime.name);
        assert!(
            processes.iter().all(|line| !line.contains("pause")),
            "{processes:?}"
        );
        // The pod's NET namespace is the container's, its mount namespace is its own.
        let pid = pod.container("app")["pid"].as_i64().unwrap() as i32;
        assert_eq!(
            sandbox_tests::ns_inode_of_pid(pid, "net"),
            pod.ns_inode("net")
        );
        assert_ne!(
            sandbox_tests::ns_inode_of_pid(pid, "mnt"),
            sandbox_tests::ns_inode_of_pid(std::process::id() as i32, "mnt")
        );
    }
}

#[test]
fn with_share_pid_pause_is_pid_1_and_ps_shows_only_the_pod() {
    sandbox_tests::require_root();
    let runtime = Runtime::runc();
    let image = TestImage::busybox();
    let pod = Pod::create(&["--share-pid"]);
    assert_exit!(
        run_image(
            &pod,
            &runtime,
            "a",
            &image.reference,
            &[],
            &["sleep", "301"]
        ),
        0
    );
    assert_exit!(
        run_image(
            &pod,
            &runtime,
            "b",
            &image.reference,
            &[],
            &["sleep", "302"]
        ),
        0
    );
    wait_for_command(&pod, "a", "sleep");
    wait_for_command(&pod, "b", "sleep");
    let seen = exec_in(
        &pod,
        "b",
        &[
            "sh",
            "-c",
            "tr '\\0' ' ' < /proc/1/cmdline; echo; ps -o args",
        ],
    );
    assert_exit!(seen, 0);
    assert!(seen.stdout.starts_with("pause"), "{}", seen.stdout);
    assert!(seen.stdout.contains("sleep 301"), "{}", seen.stdout);
    assert!(seen.stdout.contains("sleep 302"), "{}", seen.stdout);
    // pause, two sleeps, the exec'd sh and ps: a handful, never the host's hundreds.
    assert!(seen.stdout.lines().count() <= 7, "{}", seen.stdout);
}

#[test]
fn containers_share_dev_shm_and_loopback_but_not_their_files() {
    sandbox_tests::require_root();
    let runtime = Runtime::runc();
    let image = TestImage::busybox();
    let pod = Pod::create(&[]);
    let hostname_before = pod.exec(&["hostname"]);
    let server = "echo shared > /dev/shm/note; echo private > /tmp/mine; \
                  echo pong > /tmp/reply; nc -l -p 7777 < /tmp/reply; sleep 300";
    assert_exit!(
        run_image(
            &pod,
            &runtime,
            "server",
            &image.reference,
            &[],
            &["sh", "-c", server]
        ),
        0
    );
    let client = "for i in $(seq 100); do [ -e /dev/shm/note ] && break; sleep 0.1; done; \
                  cat /dev/shm/note; if [ -e /tmp/mine ]; then echo visible; else echo not-visible; fi; \
                  for i in $(seq 100); do nc 127.0.0.1 7777 && exit 0; sleep 0.1; done; exit 1";
    assert_exit!(
        run_image(
            &pod,
            &runtime,
            "client",
            &image.reference,
            &[],
            &["sh", "-c", client]
        ),
        0
    );
    assert_exit!(pod.sandbox(&["wait", pod.name(), "client"]), 0);
    assert_eq!(logs(&pod, "client"), "shared\nnot-visible\npong\n");
    // Joining the pod's UTS namespace renamed nothing.
    assert_eq!(pod.exec(&["hostname"]).stdout, hostname_before.stdout);
    assert_eq!(
        exec_in(&pod, "server", &["hostname"]).stdout,
        hostname_before.stdout
    );
    // The pod's files: its hostname, localhost and the host's resolver configuration.
    let etc = |file: &str| exec_in(&pod, "server", &["cat", file]).stdout;
    assert_eq!(etc("/etc/hostname"), hostname_before.stdout);
    let hosts = etc("/etc/hosts");
    assert!(hosts.contains("127.0.0.1\tlocalhost"), "{hosts}");
    assert!(
        hosts.contains(&format!("\t{}", hostname_before.stdout.trim())),
        "{hosts}"
    );
    assert_eq!(
        etc("/etc/resolv.conf"),
        std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default()
    );
    // Both containers' runtime configs are the same but for their root file systems and
    // cgroups: what goes into config.json is decided by the container alone, in a fixed order.
    let config = |name: &str| {
        let path = pod.dir().join("containers").join(name).join("config.json");
        let text = std::fs::read_to_string(path).unwrap();
        text.replace(&format!("containers/{name}/rootfs"), "containers/C/rootfs")
            .replace(&format!("/ctr-{name}\""), "/ctr-C\"")
    };
    let (server, client) = (config("server"), config("client"));
    let args = |text: &str| {
        serde_json::from_str::<serde_json::Value>(text).unwrap()["process"]["args"].clone()
    };
    assert_ne!(args(&server), args(&client));
    let without_args = |text: &str| {
        let mut value: serde_json::Value = serde_json::from_str(text).unwrap();
        value["process"]["args"] = serde_json::Value::Null;
        value.to_string()
    };
    assert_eq!(without_args(&server), without_args(&client));
}

#[test]
fn exit_codes_reach_wait_and_a_pid_1_deaf_to_term_is_killed_at_the_deadline() {
    sandbox_tests::require_root();
    for runtime in Runtime::both() {
        let image = TestImage::busybox();
        let pod = Pod::create(&[]);
        assert_exit!(
            run_image(
                &pod,
                &runtime,
                "seven",
                &image.reference,
                &[],
                &["sh", "-c", "exit 7"]
            ),
            0
        );
        assert_exit!(pod.sandbox(&["wait", pod.name(), "seven"]), 7);

        // sleep as PID 1 has no SIGTERM handler: the kernel drops the signal. What it started
        // dies with it.
        let deaf_script = "sleep 1000 & exec sleep 300";
        assert_exit!(
            run_image(
                &pod,
                &runtime,
                "deaf",
                &image.reference,
                &[],
                &["sh", "-c", deaf_script]
            ),
            0
        );
        let trapping = "trap 'exit 0' TERM; echo ready; sleep 300 & wait";
        assert_exit!(
            run_image(
                &pod,
                &runtime,
                "polite",
                &image.reference,
                &[],
                &["sh", "-c", trapping]
            ),
            0
        );
        // The runtime returns before its own process has become the command (runc's init is
        // a Go program that catches SIGTERM itself): wait until each command runs.
        assert!(wait_until(Duration::from_secs(10), || logs(&pod, "polite")
            == "ready\n"));
        let deaf_pid = wait_for_command(&pod, "deaf", "sleep");
        let left_behind: Vec<i32> = sandbox_tests::child_pids(deaf_pid);
        assert_eq!(left_behind.len(), 1, "{}", runtime.name);
        let stopped = pod.sandbox(&["stop", pod.name(), "deaf", "polite", "-t", "1", "--json"]);
        assert_exit!(stopped, 0);
        let report = json_of(&stopped);
        let of = |name: &str| sandbox_tests::report_of(&report, name);
        let deaf = of("deaf");
        assert_eq!(deaf["exit_code"], 137, "{}: {report}", runtime.name);
        assert!(wait_until(Duration::from_secs(10), || {
            left_behind.iter().all(|&pid| !sandbox_tests::is_alive(pid))
        }));
        assert_eq!(deaf["ended"], "killed");
        assert!(deaf["elapsed_ms"].as_f64().unwrap() >= 900.0, "{report}");
        assert!(
            deaf["note"]
                .as_str()
                .unwrap()
                .contains("does not handle SIGTERM"),
            "{report}"
        );
        let polite = of("polite");
        assert_eq!(polite["exit_code"], 0, "{}: {report}", runtime.name);
        assert!(polite.get("note").is_none(), "{report}");
    }
}

#[test]
fn the_images_env_workdir_user_and_stop_signal_apply_unless_given() {
    sandbox_tests::require_root();
    let runtime = Runtime::runc();
    let image = TestImage::with(|definition| {
        let config = &mut definition["config"];
        config["User"] = "app".into();
        config["WorkingDir"] = "/home/app".into();
        config["StopSignal"] = "SIGQUIT".into();
    });
    let pod = Pod::create(&[]);
    let show = "id -u; id -g; pwd; echo \"$IMAGE_VAR $GIVEN $HOME\"; sleep 300";
    assert_exit!(
        run_image(
            &pod,
            &runtime,
            "defaults",
            &image.reference,
            &["--env", "GIVEN=given"],
            &["sh", "-c", show]
        ),
        0
    );
    assert!(wait_until(Duration::from_secs(10), || logs(
        &pod, "defaults"
    )
    .lines()
    .count()
        >= 4));
    assert_eq!(
        logs(&pod, "defaults"),
        "1000\n1000\n/home/app\nfrom-image given /home/app\n"
    );
    assert_eq!(pod.container("defaults")["stop_signal"], "SIGQUIT");
    // exec -c runs as the container's user, in its directory, with its environment.
    let seen = exec_in(
        &pod,
        "defaults",
        &["sh", "-c", "id -u; pwd; echo $IMAGE_VAR"],
    );
    assert_eq!(seen.stdout, "1000\n/home/app\nfrom-image\n");

    assert_exit!(
        run_image(
            &pod,
            &runtime,
            "overridden",
            &image.reference,
            &[
                "--user",
                "0:0",
                "--workdir",
                "/tmp",
                "--env",
                "IMAGE_VAR=given",
                "--stop-signal",
                "SIGINT"
            ],
            &["sh", "-c", "id -u; pwd; echo $IMAGE_VAR"]
        ),
        0
    );
    assert_exit!(pod.sandbox(&["wait", pod.name(), "overridden"]), 0);
    assert_eq!(logs(&pod, "overridden"), "0\n/tmp\ngiven\n");
    assert_eq!(pod.container("overridden")["stop_signal"], "SIGINT");

    // Without a command, the image's Cmd (sh) runs: with no stdin it exits 0 at once.
    assert_exit!(
        run_image(&pod, &runtime, "cmd", &image.reference, &[], &[]),
        0
    );
    assert_exit!(pod.sandbox(&["wait", pod.name(), "cmd"]), 0);
    assert_eq!(pod.container("cmd")["command"], serde_json::json!(["sh"]));
}

#[test]
fn exec_into_a_container_lands_in_its_mount_namespace() {
    sandbox_tests::require_root();
    let runtime = Runtime::runc();
    let (image, pod, pid) = pod_with_sleeper(&runtime, &[]);
    let seen = exec_in(&pod, "app", &["readlink", "/proc/self/ns/mnt"]);
    assert_exit!(seen, 0);
    assert_eq!(
        seen.stdout.trim(),
        format!("mnt:[{}]", sandbox_tests::ns_inode_of_pid(pid, "mnt"))
    );
    // No more capabilities than the container has (CRI-O's nine), whatever exec may run: a
    // setuid program the container planted in its writable layer gains nothing.
    let bounding = |text: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix("CapBnd:"))
            .map(|mask| mask.trim().to_owned())
            .unwrap()
    };
    let container_caps = bounding(&std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap());
    assert_eq!(container_caps, "00000000000005fb");
    let exec_caps = exec_in(&pod, "app", &["cat", "/proc/self/status"]);
    assert_eq!(bounding(&exec_caps.stdout), container_caps);
    // The image's files, not the host's.
    let passwd = exec_in(&pod, "app", &["cat", "/etc/passwd"]);
    assert!(passwd.stdout.contains("app:x:1000:1000"), "{passwd:?}");
    // Without -c, exec stays in the host's file system, joined to the pod.
    let host_view = pod.exec(&["readlink", "/proc/self/ns/mnt"]);
    assert_ne!(host_view.stdout, seen.stdout);
    // A command that is not in the image: 127, as for any exec.
    assert_exit!(exec_in(&pod, "app", &["no-such-command"]), 127);
    // A container that exited cannot be entered.
    assert_exit!(
        run_image(&pod, &runtime, "done", &image.reference, &[], &["true"]),
        0
    );
    assert_exit!(pod.sandbox(&["wait", pod.name(), "done"]), 0);
    let refused = exec_in(&pod, "done", &["true"]);
    assert_exit!(refused, 125);
    assert!(refused.stderr.contains("not running"), "{refused:?}");
}

#[test]
fn bad_references_and_images_fail_with_125_and_leave_nothing() {
    sandbox_tests::require_root();
    let runtime = Runtime::runc();
    let image = TestImage::busybox();
    let arm = TestImage::with(|definition| definition["platform"] = "linux/arm64".into());
    let corrupt = TestImage::busybox();
    // Flip a byte in the layer blob (the largest file).
    let blobs = corrupt.layout().join("blobs/sha256");
    let layer = std::fs::read_dir(&blobs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap();
    let mut bytes = std::fs::read(&layer).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&layer, bytes).unwrap();

    let pod = Pod::create(&[]);
    let missing_tag = format!("oci:{}:nope", image.layout().display());
    let cases: [(&str, &str); 6] = [
        ("docker://busybox", "oci:"),
        ("oci:/nonexistent/layout:test", "/nonexistent/layout"),
        (&missing_tag, "nope"),
        (&corrupt.reference, "sha256:"),
        (&arm.reference, "arm64"),
        ("oci-archive:/nonexistent.tar", "/nonexistent.tar"),
    ];
    for (reference, named) in cases {
        let refused = run_image(&pod, &runtime, "bad", reference, &[], &["true"]);
        assert_exit!(refused, 125);
        assert!(
            refused.stderr.contains(named),
            "{reference}: {}",
            refused.stderr
        );
        assert_eq!(pod.container_dirs(), Vec::<String>::new(), "{reference}");
        assert_eq!(
            runtime_state(pod.root(), &runtime),
            Vec::<String>::new(),
            "{reference}"
        );
        let containers = pod.dir().join("containers");
        assert_eq!(
            mounts_under(&containers),
            Vec::<String>::new(),
            "{reference}"
        );
    }
    let images = pod.sandbox(&["images", "--json"]);
    assert_eq!(json_of(&images), serde_json::json!([]));

    // No runtime: the one named, or runc and crun in PATH.
    let named = pod.try_run(
        "none",
        &[
            "--runtime",
            "/nonexistent/runc",
            "--image",
            &image.reference,
        ],
        &["true"],
    );
    assert_exit!(named, 125);
    assert!(named.stderr.contains("/nonexistent/runc"), "{named:?}");
    let mut bare = sandbox_tests::sandbox_command(pod.root());
    bare.env("PATH", "/nonexistent")
        .env_remove("SANDBOX_RUNTIME")
        .args([
            "run",
            pod.name(),
            "--name",
            "none",
            "--image",
            &image.reference,
            "--",
            "true",
        ]);
    let unnamed: sandbox_tests::Run = bare.output().unwrap().into();
    assert_exit!(unnamed, 125);
    assert!(unnamed.stderr.contains("runc or crun"), "{unnamed:?}");
    assert_eq!(pod.container_dirs(), Vec::<String>::new());

    // A command the image does not have, or cannot execute: 127 and 126, as for any container.
    for (command, code) in [("no-such-command", 127), ("/etc/passwd", 126)] {
        let refused = run_image(&pod, &runtime, "cmd", &image.reference, &[], &[command]);
        assert_exit!(refused, code);
        assert!(refused.stderr.contains(command), "{refused:?}");
        assert_eq!(pod.container_dirs(), Vec::<String>::new(), "{command}");
        assert_eq!(runtime_state(pod.root(), &runtime), Vec::<String>::new());
    }
}

#[test]
fn a_second_run_of_an_image_unpacks_nothing_and_rmi_waits_for_its_containers() {
    sandbox_tests::require_root();
    let runtime = Runtime::runc();
    let image = TestImage::busybox();
    let pod = Pod::create(&[]);
    assert_exit!(
        run_image(
            &pod,
            &runtime,
            "first",
            &image.reference,
            &[],
            &["sleep", "300"]
        ),
        0
    );
    let layers = pod.root().join(".images/layers");
    let inodes = || {
        let mut found: Vec<(String, u64)> = std::fs::read_dir(&layers)
            .unwrap()
            .map(|e| e.unwrap())
            .map(|e| {
                use std::os::unix::fs::MetadataExt;
                (
                    e.file_name().to_string_lossy().into_owned(),
                    e.metadata().unwrap().ino(),
                )
            })
            .collect();
        found.sort();
        found
    };
    let before = inodes();
    assert!(!before.is_empty());
    assert_exit!(
        run_image(
            &pod,
            &runtime,
            "second",
            &image.reference,
            &[],
            &["sleep", "300"]
        ),
        0
    );
    assert_eq!(inodes(), before, "the second run unpacked again");

    let listed = json_of(&pod.sandbox(&["images", "--json"]));
    let entry = &listed[0];
    assert_eq!(
        entry["containers"],
        serde_json::json!([
            format!("{}/first", pod.name()),
            format!("{}/second", pod.name())
        ])
    );
    assert!(entry["size"].as_u64().unwrap() > 1_000_000, "{listed}");
    let digest = entry["digest"].as_str().unwrap().to_owned();
    let refused = pod.sandbox(&["rmi", &image.reference]);
    assert_exit!(refused, 125);
    assert!(refused.stderr.contains("first"), "{refused:?}");
    assert_exit!(
        pod.sandbox(&["rm", "--force", pod.name(), "first", "second"]),
        0
    );
    assert_exit!(pod.sandbox(&["rmi", &digest]), 0);
    assert_eq!(
        json_of(&pod.sandbox(&["images", "--json"])),
        serde_json::json!([])
    );
    assert_eq!(std::fs::read_dir(&layers).unwrap().count(), 0);
    assert!(runtime_state(pod.root(), &runtime).is_empty());
}

#[test]
fn a_rootfs_directory_is_used_as_it_is_and_read_only_means_it() {
    sandbox_tests::require_root();
    let runtime = Runtime::runc();
    let image = TestImage::busybox();
    let bundle = ScratchDir::new("oci-bundle");
    let unpacked = sandbox_tests::run(
        "umoci",
        [
            "unpack",
            "--image",
            &format!("{}:test", image.layout().display()),
            bundle.path().join("b").to_str().unwrap(),
        ],
    );
    assert_exit!(unpacked, 0);
    let rootfs = bundle.path().join("b/rootfs");
    let pod = Pod::create(&[]);
    let rootfs_arg = rootfs.to_str().unwrap();
    assert_exit!(
        pod.try_run(
            "writer",
            &["--runtime", runtime.arg(), "--rootfs", rootfs_arg],
            &["sh", "-c", "echo written > /tmp/by-container"]
        ),
        0
    );
    assert_exit!(pod.sandbox(&["wait", pod.name(), "writer"]), 0);
    assert_eq!(
        std::fs::read_to_string(rootfs.join("tmp/by-container")).unwrap(),
        "written\n"
    );
    assert_exit!(
        pod.try_run(
            "reader",
            &[
                "--runtime",
                runtime.arg(),
                "--rootfs",
                rootfs_arg,
                "--read-only"
            ],
            &["sh", "-c", "touch /tmp/nope"]
        ),
        0
    );
    assert_exit!(pod.sandbox(&["wait", pod.name(), "reader"]), 1);
    assert!(error_logs(&pod, "reader").contains("Read-only file system"));
    assert!(!rootfs.join("tmp/nope").exists());
    // The host's root is never a container's.
    let refused = pod.try_run(
        "root",
        &["--runtime", runtime.arg(), "--rootfs", "/"],
        &["true"],
    );
    assert_exit!(refused, 125);
    assert_exit!(pod.sandbox(&["rm", pod.name(), "writer", "reader"]), 0);
    assert!(
        rootfs.join("bin/busybox").exists(),
        "rm must not touch the rootfs"
    );
}

#[test]
fn rm_deletes_the_runtime_state_and_the_writable_layer() {
    sandbox_tests::require_root();
    for runtime in Runtime::both() {
        let image = TestImage::busybox();
        let root = StateRoot::new();
        let pod = Pod::create_in(&root, &[]);
        run_sleeper(&pod, &runtime, &image);
        let dir = pod.dir().join("containers/app");
        assert!(is_mounted(dir.join("rootfs")));
        assert_eq!(
            runtime_state(pod.root(), &runtime).len(),
            1,
            "{}",
            runtime.name
        );
        // The runtime config is kept for inspection, with the pod's hostname.
        let config: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap())
                .unwrap();
        assert_eq!(config["hostname"], pod.name());
        assert_exit!(pod.sandbox(&["rm", "--force", pod.name(), "app"]), 0);
        assert!(!dir.exists());
        assert!(
            runtime_state(pod.root(), &runtime).is_empty(),
            "{}",
            runtime.name
        );
        assert!(
            mounts_under(pod.root())
                .iter()
                .all(|m| !m.contains("containers"))
        );
    }
}

#[test]
fn the_monitor_of_an_image_container_stays_small() {
    sandbox_tests::require_root();
    let runtime = Runtime::runc();
    let (_image, _pod, pid) = pod_with_sleeper(&runtime, &[]);
    let monitor: i32 = sandbox_tests::proc_status_field(pid, "PPid")
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(sandbox_tests::comm_of(monitor).as_deref(), Some("pause"));
    let rss_kb: u64 = sandbox_tests::proc_status_field(monitor, "VmRSS")
        .unwrap()
        .trim_end_matches(" kB")
        .trim()
        .parse()
        .unwrap();
    assert!(rss_kb <= 512, "monitor RSS {rss_kb} kB");
}

#[test]
fn a_run_killed_at_any_step_leaves_nothing_that_rm_cannot_find() {
    sandbox_tests::require_root();
    let runtime = Runtime::runc();
    let image = TestImage::busybox();
    // Each step of an image run that makes something: the pod's /dev/shm and the overlay
    // (mount), a layer moved into the store (rename), the monitor (clone3).
    let points: [(&str, usize); 8] = [
        ("flock", 2),
        ("mount", 1),
        ("mount", 2),
        ("rename", 1),
        ("rename", 2),
        ("rename", 3),
        ("pipe2", 1),
        ("clone3", 1),
    ];
    for (syscall, when) in points {
        let root = StateRoot::new();
        let pod = Pod::create_in(&root, &[]);
        let started = Instant::now();
        let killed = crate::regressions::sandbox_killed_at(
            pod.root(),
            syscall,
            when,
            &sleeper_args(&pod, &runtime, &image),
        );
        assert_ne!(
            killed.code,
            Some(0),
            "{syscall}#{when} was not reached: {killed:?}"
        );
        // A new run of the name replaces whatever was half made.
        run_sleeper(&pod, &runtime, &image);
        assert_exit!(pod.sandbox(&["rm", "--force", pod.name()]), 0);
        assert!(
            mounts_under(pod.root()).is_empty(),
            "{syscall}#{when}: {:?}",
            mounts_under(pod.root())
        );
        assert!(
            runtime_state(pod.root(), &runtime).is_empty(),
            "{syscall}#{when}"
        );
        let tmp = pod.root().join(".images/tmp");
        assert!(
            std::fs::read_dir(&tmp).map_or(true, |mut d| d.next().is_none()),
            "{syscall}#{when}: unpacking leftovers in {}",
            tmp.display()
        );
        assert!(started.elapsed() < Duration::from_secs(60));
    }
}

#[test]
fn rm_of_a_pod_unmounts_a_container_whose_record_is_corrupt() {
    sandbox_tests::require_root();
    let runtime = Runtime::runc();
    let (_image, pod, pid) = pod_with_sleeper(&runtime, &[]);
    let id = pod.container("app")["oci"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let dir = pod.dir().join("containers/app");
    std::fs::write(dir.join("state.json"), "{ not json").unwrap();
    // The record names nothing any more; the overlay is still found by its place, the
    // container's process by the pod's network namespace.
    assert_exit!(pod.sandbox(&["rm", "--force", pod.name()]), 0);
    assert!(!is_mounted(dir.join("rootfs")));
    assert!(!pod.dir().exists());
    assert!(wait_until(Duration::from_secs(10), || {
        !sandbox_tests::is_alive(pid)
    }));
    // Without its record nothing says which runtime made it: its cgroup goes by hand here.
    remove_cgroup(&id);
}

#[test]
fn rm_goes_on_when_the_runtime_is_gone() {
    sandbox_tests::require_root();
    let image = TestImage::busybox();
    let wrapper_dir = ScratchDir::new("vanishing-runtime");
    let wrapper = wrapper_dir.path().join("gone-runc");
    std::fs::write(&wrapper, "#!/bin/sh\nexec /usr/sbin/runc \"$@\"\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let runtime = Runtime {
        name: "gone-runc",
        path: wrapper.clone(),
        _wrapper_dir: None,
    };
    let pod = Pod::create(&[]);
    run_sleeper(&pod, &runtime, &image);
    assert_eq!(runtime_state(pod.root(), &runtime).len(), 1);
    let id = pod.container("app")["oci"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // An upgrade moved the runtime away: rm must still remove the container and the pod.
    std::fs::remove_file(&wrapper).unwrap();
    let removed = pod.sandbox(&["rm", "--force", pod.name(), "app"]);
    assert_exit!(removed, 0);
    assert!(removed.stderr.contains("by hand"), "{removed:?}");
    assert!(runtime_state(pod.root(), &runtime).is_empty());
    assert!(mounts_under(&pod.dir().join("containers")).is_empty());
    // What no runtime could delete: the cgroup runc made, empty now, removed here.
    remove_cgroup(&id);
}

/// Removes the (empty) cgroup `name` a runtime made, from every hierarchy.
fn remove_cgroup(name: &str) {
    for hierarchy in std::fs::read_dir("/sys/fs/cgroup").unwrap() {
        let _ = std::fs::remove_dir(hierarchy.unwrap().path().join(name));
    }
}

#[test]
fn a_run_killed_while_the_runtime_works_and_an_rm_killed_halfway_leave_nothing() {
    sandbox_tests::require_root();
    let image = TestImage::busybox();
    for real in Runtime::both() {
        // The runtime says when it starts, then takes its time: the CLI is killed meanwhile,
        // after the monitor was recorded and before it reported the container.
        let dir = ScratchDir::new("slow-runtime");
        let marker = dir.path().join("started");
        let wrapper = dir.path().join("slow");
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\ntouch {}\nsleep 0.3\nexec {} \"$@\"\n",
                marker.display(),
                real.arg()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
        let slow = Runtime {
            name: "slow",
            path: wrapper,
            _wrapper_dir: None,
        };
        let pod = Pod::create(&[]);
        let mut cli = sandbox_tests::sandbox_command(pod.root())
            .args([
                "run",
                pod.name(),
                "--name",
                "app",
                "--runtime",
                slow.arg(),
                "--image",
                &image.reference,
                "--",
                "sleep",
                "300",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        assert!(wait_until(Duration::from_secs(30), || marker.exists()));
        cli.kill().unwrap();
        cli.wait().unwrap();
        // The runtime goes on and starts the container, which the record names through its
        // monitor; rm finds and ends all of it.
        let pid_file = pod.dir().join("containers/app/init.pid");
        assert!(wait_until(Duration::from_secs(30), || {
            std::fs::read_to_string(&pid_file)
                .ok()
                .and_then(|pid| pid.trim().parse::<i32>().ok())
                .is_some_and(|pid| sandbox_tests::comm_of(pid).as_deref() == Some("sleep"))
        }));
        assert_eq!(runtime_state(pod.root(), &slow).len(), 1);
        assert_exit!(pod.sandbox(&["rm", "--force", pod.name(), "app"]), 0);
        assert!(runtime_state(pod.root(), &slow).is_empty(), "{}", real.name);
        assert_eq!(
            mounts_under(&pod.dir().join("containers")),
            Vec::<String>::new()
        );
        assert!(pod.container_dirs().is_empty(), "{}", real.name);
    }

    // rm killed at each unmount: the next rm finishes the job.
    let runtime = Runtime::runc();
    for when in 1..=3 {
        let root = StateRoot::new();
        let pod = Pod::create_in(&root, &[]);
        run_sleeper(&pod, &runtime, &image);
        let killed = crate::regressions::sandbox_killed_at(
            pod.root(),
            "umount2",
            when,
            &["rm", "--force", pod.name()],
        );
        assert_ne!(killed.code, Some(0), "umount2#{when} was not reached");
        assert_exit!(pod.sandbox(&["rm", "--force", pod.name()]), 0);
        assert!(mounts_under(pod.root()).is_empty(), "umount2#{when}");
        assert!(
            runtime_state(pod.root(), &runtime).is_empty(),
            "umount2#{when}"
        );
    }
}

#[test]
fn an_image_removed_between_the_pull_and_the_pods_lock_is_pulled_again() {
    sandbox_tests::require_root();
    let runtime = Runtime::runc();
    let image = TestImage::busybox();
    let pod = Pod::create(&[]);
    // The run pulls (the store's lock, flock #1), then waits 5 s before taking the pod's lock
    // (flock #2): an rmi fits in between.
    let mut traced = crate::regressions::traced_sandbox(
        pod.root(),
        &[
            "-o",
            "/dev/null",
            "-e",
            "trace=flock",
            "-e",
            "inject=flock:delay_enter=5000000:when=2",
        ],
        &sleeper_args(&pod, &runtime, &image),
    );
    let running = traced
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let listed = || json_of(&pod.sandbox(&["images", "--json"]));
    assert!(wait_until(Duration::from_secs(30), || listed()
        .as_array()
        .is_some_and(|images| images.len() == 1)));
    assert_exit!(pod.sandbox(&["rmi", &image.reference]), 0);
    let finished = running.wait_with_output().unwrap();
    assert!(
        finished.status.success(),
        "{}",
        String::from_utf8_lossy(&finished.stderr)
    );
    wait_for_command(&pod, "app", "sleep");
    assert_eq!(
        listed()[0]["containers"],
        serde_json::json!([format!("{}/app", pod.name())])
    );
}
