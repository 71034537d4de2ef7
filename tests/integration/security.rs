//! Security (issue 6), provoked for real: a state root that another user could tamper with,
//! symlinks planted where sandbox writes or reads its state, names that try to leave the root,
//! what `pause` and a command inherit from the CLI (environment, supplementary groups), and a
//! CLI without the privilege it needs. Every `sandbox` command runs in a `Tracked` cgroup, so
//! whatever a test leaves running is found and killed.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use sandbox_tests::{
    Run, ScratchDir, Tracked, assert_exit, mounts_under, pause_bin, proc_status_field,
    require_root, run_with_timeout, sandbox_bin, unique_name,
};

const TIMEOUT: Duration = Duration::from_secs(30);

/// Names what is in `dir`, sorted.
fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// `sandbox --root ROOT ARGS...` outside any fixture (for roots that sandbox must refuse).
fn sandbox_at(root: &Path, args: &[&str]) -> Run {
    let mut cmd = Command::new(sandbox_bin());
    cmd.arg("--root").arg(root).args(args);
    cmd.env_remove("SANDBOX_ROOT")
        .env("SANDBOX_PAUSE", pause_bin());
    run_with_timeout(cmd, b"", TIMEOUT)
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn a_state_root_that_is_a_symlink_or_open_to_others_is_refused_and_left_alone() {
    require_root();
    let scratch = ScratchDir::new("unsafe-root");
    let real = scratch.path().join("real");
    std::fs::create_dir(&real).unwrap();
    set_mode(&real, 0o700);
    let link = scratch.path().join("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let name = unique_name("unsafe");

    let mut cases: Vec<(&Path, u32, u32, &str)> = vec![(&link, 0o700, 0, "symlink")];
    for mode in [0o777, 0o770, 0o720, 0o702, 0o1777] {
        cases.push((&real, mode, 0, "writable by group or others"));
    }
    cases.push((&real, 0o700, 65534, "owned by another user"));
    for (root, mode, owner, reason) in cases {
        set_mode(&real, mode);
        std::os::unix::fs::chown(&real, Some(owner), Some(owner)).unwrap();
        for args in [vec!["create", name.as_str()], vec!["ps"]] {
            let refused = sandbox_at(root, &args);
            let context = format!("root {} mode {mode:o} owner {owner}", root.display());
            assert_exit!(refused, 125);
            assert_eq!(refused.stderr.lines().count(), 1, "{context}: {refused:?}");
            assert!(
                refused.stderr.contains(reason)
                    && refused.stderr.contains(&root.display().to_string()),
                "{context}: {}",
                refused.stderr
            );
            assert_eq!(
                names_in(&real),
                Vec::<String>::new(),
                "{context}: wrote into it"
            );
            assert!(!Path::new("/run/netns").join(&name).exists());
        }
    }
    std::os::unix::fs::chown(&real, Some(0), Some(0)).unwrap();
    set_mode(&real, 0o700);

    // A root that does not exist yet is made private, parents included, whatever the umask.
    let fresh = scratch.path().join("a/b/root");
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "umask 000; exec \"$@\"", "sh"])
        .arg(sandbox_bin())
        .arg("--root")
        .arg(&fresh)
        .arg("ps");
    assert_exit!(run_with_timeout(cmd, b"", TIMEOUT), 0);
    for dir in [fresh.as_path(), &fresh.join(".locks")] {
        let meta = std::fs::symlink_metadata(dir).unwrap();
        assert_eq!(meta.mode() & 0o7777, 0o700, "{}", dir.display());
        assert_eq!(meta.uid(), 0, "{}", dir.display());
    }
}

#[test]
fn pod_and_container_directories_are_private_and_files_not_writable_by_others() {
    require_root();
    let tracked = Tracked::new();
    let name = tracked.pod_name();
    // With umask 000 every mode below is what sandbox asked for, not what the umask left.
    let run = |args: &[&str]| {
        let mut sh = Command::new("sh");
        sh.args(["-c", "umask 000; exec \"$@\"", "sh"]);
        run_with_timeout(tracked.wrapped(sh, args), b"", TIMEOUT)
    };
    assert_exit!(run(&["create", &name]), 0);
    assert_exit!(
        run(&["run", &name, "--name", "c", "--", "sh", "-c", "echo hi"]),
        0
    );
    assert_exit!(tracked.sandbox(&["wait", &name, "c"]), 0);
    assert_exit!(run(&["stop", &name]), 0);

    let root = tracked.root.path();
    let pod = root.join(&name);
    for dir in [
        root.to_path_buf(),
        root.join(".locks"),
        pod.clone(),
        pod.join("ns"),
        pod.join("containers"),
        pod.join("containers/c"),
    ] {
        let meta = std::fs::symlink_metadata(&dir).unwrap();
        assert!(meta.is_dir(), "{}", dir.display());
        assert_eq!(meta.mode() & 0o7777, 0o700, "{}", dir.display());
        assert_eq!(meta.uid(), 0, "{}", dir.display());
    }
    let mut files = vec![root.join(".locks").join(&name)];
    for file in ["state.json", "pause.log"] {
        files.push(pod.join(file));
    }
    for file in ["state.json", "exit.json", "stdout.log", "stderr.log"] {
        files.push(pod.join("containers/c").join(file));
    }
    for file in files {
        let meta =
            std::fs::symlink_metadata(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert!(meta.is_file(), "{}", file.display());
        assert_eq!(
            meta.mode() & 0o022,
            0,
            "{} is writable by others",
            file.display()
        );
        assert_eq!(meta.uid(), 0, "{}", file.display());
    }
    tracked.remove_and_check(&name, "private modes");
}

/// A file outside the root that a planted symlink points at; it must come out untouched.
struct Bait {
    _scratch: ScratchDir,
    path: std::path::PathBuf,
    content: String,
}

impl Bait {
    fn new(content: &str) -> Bait {
        let scratch = ScratchDir::new("bait");
        let path = scratch.path().join("bait");
        std::fs::write(&path, content).unwrap();
        set_mode(&path, 0o644);
        Bait {
            _scratch: scratch,
            path,
            content: content.to_owned(),
        }
    }

    /// Replaces `at` by a symlink to the bait.
    fn plant(&self, at: &Path) {
        let _ = std::fs::remove_file(at);
        std::os::unix::fs::symlink(&self.path, at).unwrap();
    }

    fn assert_untouched(&self, context: &str) {
        let meta = std::fs::symlink_metadata(&self.path).unwrap();
        assert!(meta.is_file(), "{context}: the bait was replaced");
        assert_eq!(meta.mode() & 0o7777, 0o644, "{context}: its mode changed");
        assert_eq!(
            std::fs::read_to_string(&self.path).unwrap(),
            self.content,
            "{context}: it was written through the symlink"
        );
        assert_eq!(
            names_in(self.path.parent().unwrap()),
            ["bait"],
            "{context}: something was created beside it"
        );
    }
}

/// A pod with a running container `c`, in `tracked`.
fn pod_with_container(tracked: &Tracked) -> String {
    let name = tracked.pod_name();
    assert_exit!(tracked.sandbox(&["create", &name]), 0);
    assert_exit!(
        tracked.sandbox(&["run", &name, "--name", "c", "--", "sleep", "1000"]),
        0
    );
    name
}

fn assert_refused_naming(run: &Run, path: &Path, context: &str) {
    assert_exit!(*run, 125);
    assert_eq!(run.stderr.lines().count(), 1, "{context}: {run:?}");
    assert!(
        run.stderr.contains(&path.display().to_string()),
        "{context}: does not name {}: {}",
        path.display(),
        run.stderr
    );
}

#[test]
fn symlinks_planted_at_state_files_are_never_followed() {
    require_root();
    let tracked = Tracked::new();

    // The pod record: a symlink to a copy of it would be read as genuine if followed.
    let name = pod_with_container(&tracked);
    let state = tracked.root.path().join(&name).join("state.json");
    let bait = Bait::new(&std::fs::read_to_string(&state).unwrap());
    bait.plant(&state);
    let context = "state.json is a symlink";
    assert_refused_naming(&tracked.sandbox(&["inspect", &name]), &state, context);
    assert_refused_naming(&tracked.sandbox(&["stop", &name]), &state, context);
    tracked.remove_and_check(&name, context);
    bait.assert_untouched(context);

    // An exit record that would make a running container look exited with code 42.
    let name = pod_with_container(&tracked);
    let exit = tracked
        .root
        .path()
        .join(&name)
        .join("containers/c/exit.json");
    let bait = Bait::new(r#"{"pid":1,"exit_code":42,"signal":null,"finished_unix_ns":0}"#);
    bait.plant(&exit);
    let context = "exit.json is a symlink";
    let inspect = tracked.sandbox(&["inspect", &name]);
    assert_refused_naming(&inspect, &exit, context);
    assert!(!inspect.stdout.contains("42"), "{context}: {inspect:?}");
    assert_refused_naming(&tracked.sandbox(&["wait", &name, "c"]), &exit, context);
    tracked.remove_and_check(&name, context);
    bait.assert_untouched(context);

    // The temporary files of atomic writes: sandbox's (of the pod's and the containers'
    // state.json) and the monitor's (exit.json.tmp, when the container ends).
    // The command that takes the pod's lock removes sandbox's temporary files (a killed
    // writer leaves them), so links planted there are removed, never followed.
    let name = pod_with_container(&tracked);
    let pod = tracked.root.path().join(&name);
    let bait = Bait::new("precious\n");
    for tmp in [
        "state.json.tmp",
        "containers/c/state.json.tmp",
        "containers/c/exit.json.tmp",
    ] {
        bait.plant(&pod.join(tmp));
    }
    let context = "*.tmp are symlinks";
    let stop = tracked.sandbox(&["stop", &name, "-t", "5"]);
    assert_exit!(stop, 0);
    for tmp in ["state.json.tmp", "containers/c/state.json.tmp"] {
        let left = std::fs::symlink_metadata(pod.join(tmp)).is_ok();
        assert!(!left, "{context}: {tmp} was left: {stop:?}");
    }
    bait.assert_untouched(context);
    // The monitor could not record the exit either, and says so rather than write through.
    let container = tracked.inspect(&name, context)["containers"][0].clone();
    assert_eq!(container["state"], "unknown", "{context}: {container}");
    tracked.remove_and_check(&name, context);
    bait.assert_untouched(context);

    // The lock file, which every command opens for writing, creating it if needed.
    let name = tracked.pod_name();
    let lock = tracked.root.path().join(".locks").join(&name);
    let bait = Bait::new("precious\n");
    bait.plant(&lock);
    let context = "the lock file is a symlink";
    assert_refused_naming(&tracked.sandbox(&["create", &name]), &lock, context);
    assert!(!tracked.root.path().join(&name).exists(), "{context}");
    bait.assert_untouched(context);
    std::fs::remove_file(&lock).unwrap();

    // A dangling symlink at /run/netns/NAME: the pin must not create its target.
    let name = tracked.pod_name();
    let netns = Path::new("/run/netns").join(&name);
    let scratch = ScratchDir::new("netns-bait");
    let target = scratch.path().join("created-through-the-link");
    std::os::unix::fs::symlink(&target, &netns).unwrap();
    let create = tracked.sandbox(&["create", &name]);
    let _ = std::fs::remove_file(&netns);
    assert_exit!(create, 125);
    assert!(
        !target.exists(),
        "the netns pin was created through a symlink"
    );
    assert_eq!(names_in(scratch.path()), Vec::<String>::new());
    // (rm also removes the lock file that the refused create left.)
    tracked.remove_and_check(&name, "dangling /run/netns symlink");
}

#[test]
fn names_that_leave_the_root_are_refused_before_any_path_is_built() {
    require_root();
    let tracked = Tracked::new();
    let pod = tracked.pod_name();
    assert_exit!(tracked.sandbox(&["create", &pod]), 0);
    let scratch = ScratchDir::new("traversal");
    let trace = scratch.path().join("trace");
    // Every name carries this marker: if a path were ever built from one, strace would show
    // the marker in a file system call.
    let marker = unique_name("escape");
    let bad_pods = [
        format!("../{marker}"),
        format!("../../{marker}"),
        format!("a/{marker}"),
        format!("{marker}/.."),
    ];
    let bad_containers = [
        format!("../../{marker}"),
        format!("../{marker}"),
        format!("x/{marker}"),
    ];
    let mut commands: Vec<Vec<&str>> = Vec::new();
    for bad in &bad_pods {
        commands.extend([
            vec!["create", bad.as_str()],
            vec!["inspect", bad],
            vec!["exec", bad, "--", "true"],
            vec!["run", bad, "--name", "c", "--", "true"],
            vec!["stop", bad],
            vec!["rm", "--force", bad],
            vec!["wait", bad, "c"],
            vec!["logs", bad, "c"],
        ]);
    }
    for bad in &bad_containers {
        commands.extend([
            vec!["run", pod.as_str(), "--name", bad, "--", "true"],
            vec!["wait", &pod, bad],
            vec!["logs", &pod, bad],
        ]);
    }
    for args in commands {
        let mut strace = Command::new("strace");
        strace.arg("-f").arg("-qq").arg("-o").arg(&trace);
        strace.args(["-e", "trace=%file", "--"]);
        let refused = run_with_timeout(tracked.wrapped(strace, &args), b"", TIMEOUT);
        assert_exit!(refused, 125);
        assert!(
            refused.stderr.contains("invalid"),
            "sandbox {args:?}: {refused:?}"
        );
        let calls = std::fs::read_to_string(&trace).unwrap();
        let built: Vec<&str> = calls
            .lines()
            .filter(|l| l.contains(&marker) && !l.contains("execve("))
            .collect();
        assert!(
            built.is_empty(),
            "sandbox {args:?} built paths from a bad name: {built:#?}"
        );
    }
    let root_parent = tracked.root.path().parent().unwrap();
    assert!(!root_parent.join(&marker).exists());
    assert_eq!(
        names_in(&tracked.root.path().join(&pod).join("containers")),
        Vec::<String>::new()
    );
    tracked.remove_and_check(&pod, "traversal");
}

/// The environment of `pid`, as `KEY=VALUE` entries.
fn environ_of(pid: i32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/environ"))
        .unwrap()
        .split(|&b| b == 0)
        .filter(|entry| !entry.is_empty())
        .map(|entry| String::from_utf8_lossy(entry).into_owned())
        .collect()
}

#[test]
fn pause_gets_an_empty_environment_and_commands_only_theirs() {
    require_root();
    let tracked = Tracked::new();
    let name = tracked.pod_name();
    let secret = "SANDBOX_TEST_SECRET=hunter2";
    let with_secret = |args: &[&str]| {
        let mut cmd = tracked.command(args);
        cmd.env("SANDBOX_TEST_SECRET", "hunter2");
        run_with_timeout(cmd, b"", TIMEOUT)
    };
    assert_exit!(with_secret(&["create", &name]), 0);
    assert_exit!(
        with_secret(&["run", &name, "--name", "c", "--", "sleep", "1000"]),
        0
    );
    let pod = tracked.inspect(&name, "");
    let pause = pod["pid"].as_i64().unwrap() as i32;
    assert_eq!(
        environ_of(pause),
        Vec::<String>::new(),
        "the holder's environment"
    );
    let container = pod["containers"][0]["pid"].as_i64().unwrap() as i32;
    let monitor = procfs::process::Process::new(container)
        .unwrap()
        .stat()
        .unwrap()
        .ppid;
    for pid in [monitor, container] {
        let env = environ_of(pid);
        assert!(
            !env.iter().any(|e| e == secret),
            "pid {pid} got the CLI's {secret}: {env:?}"
        );
    }
    let exec = with_secret(&["exec", &name, "--", "env"]);
    assert_exit!(exec, 0);
    assert!(!exec.stdout.contains(secret), "{exec:?}");
    tracked.remove_and_check(&name, "environment");
}

#[test]
fn user_drops_the_supplementary_groups_of_the_cli() {
    require_root();
    let tracked = Tracked::new();
    let name = tracked.pod_name();
    assert_exit!(tracked.sandbox(&["create", &name]), 0);
    // The CLI runs with supplementary groups, as a root shell often does.
    let with_groups = |args: &[&str]| {
        let mut setpriv = Command::new("setpriv");
        setpriv.args(["--groups", "4,24,27", "--"]);
        run_with_timeout(tracked.wrapped(setpriv, args), b"", TIMEOUT)
    };
    // Without --user the command keeps them: the check below can see groups at all.
    let kept = with_groups(&["exec", &name, "--", "grep", "^Groups:", "/proc/self/status"]);
    assert_exit!(kept, 0);
    assert_eq!(
        kept.stdout.split_whitespace().collect::<Vec<_>>(),
        ["Groups:", "4", "24", "27"]
    );

    let exec = with_groups(&[
        "exec",
        &name,
        "--user",
        "1000:2000",
        "--",
        "grep",
        "^Groups:",
        "/proc/self/status",
    ]);
    assert_exit!(exec, 0);
    assert_eq!(
        exec.stdout.trim(),
        "Groups:",
        "exec --user kept groups: {exec:?}"
    );
    assert_exit!(
        with_groups(&[
            "run",
            &name,
            "--name",
            "c",
            "--user",
            "1000:2000",
            "--",
            "sleep",
            "1000"
        ]),
        0
    );
    let pid = tracked.inspect(&name, "")["containers"][0]["pid"]
        .as_i64()
        .unwrap() as i32;
    assert_eq!(proc_status_field(pid, "Groups").unwrap(), "");
    assert_eq!(
        proc_status_field(pid, "Uid").unwrap(),
        "1000\t1000\t1000\t1000"
    );
    tracked.remove_and_check(&name, "groups");
}

#[test]
fn without_root_or_cap_sys_admin_every_command_fails_at_once_and_creates_nothing() {
    require_root();
    let scratch = ScratchDir::new("unprivileged");
    // Anyone may create the root here, so only sandbox's own check can keep it from existing.
    set_mode(scratch.path(), 0o1777);
    let root = scratch.path().join("root");
    let name = unique_name("unpriv");
    let commands: [&[&str]; 9] = [
        &["create", &name],
        &["inspect", &name],
        &["ps"],
        &["exec", &name, "--", "true"],
        &["run", &name, "--name", "c", "--", "true"],
        &["wait", &name, "c"],
        &["logs", &name, "c"],
        &["stop", &name],
        &["rm", "--force", &name],
    ];
    let as_nobody: &[&str] = &["--reuid=65534", "--regid=65534", "--clear-groups"];
    let without_cap: &[&str] = &["--inh-caps=-sys_admin", "--bounding-set=-sys_admin"];
    for (who, setpriv_args) in [
        ("nobody", as_nobody),
        ("root without CAP_SYS_ADMIN", without_cap),
    ] {
        for args in commands {
            let mut cmd = Command::new("setpriv");
            cmd.args(setpriv_args)
                .arg("--")
                .arg(sandbox_bin())
                .arg("--root")
                .arg(&root);
            cmd.args(args)
                .env_remove("SANDBOX_ROOT")
                .env("SANDBOX_PAUSE", pause_bin());
            let started = Instant::now();
            let refused = run_with_timeout(cmd, b"", TIMEOUT);
            let took = started.elapsed();
            let context = format!("{who}: sandbox {args:?}");
            assert_exit!(refused, 125);
            assert_eq!(refused.stderr.lines().count(), 1, "{context}: {refused:?}");
            assert!(
                refused.stderr.contains("needs root") && refused.stderr.contains("CAP_SYS_ADMIN"),
                "{context}: {}",
                refused.stderr
            );
            assert!(took < Duration::from_secs(5), "{context}: took {took:?}");
            assert!(!root.exists(), "{context}: created {}", root.display());
            assert!(!Path::new("/run/netns").join(&name).exists(), "{context}");
        }
    }
    assert_eq!(names_in(scratch.path()), Vec::<String>::new());
    assert_eq!(mounts_under(scratch.path()), Vec::<String>::new());
}
