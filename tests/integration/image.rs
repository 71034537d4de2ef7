//! Tests: the pod infrastructure image built by `images` (issue 5).
//!
//! - **Reproducible**: two builds in different directories, from copies of `pause` with different
//!   paths and mtimes, a wall-clock second apart, give byte-identical blobs, index and archive,
//!   for both platforms (linux/amd64 and linux/arm64). The golden manifest and index digests are
//!   asserted for a fixed 129-byte executable (see [`GOLDEN_FIXTURE_MANIFEST`] for why not for
//!   the real `pause`).
//! - **Accepted by the real tools**, as Debian 12 packages them (`.ci/setup`): skopeo,
//!   umoci + runc, umoci + crun, podman (pod infra container), containerd (`ctr`), and containerd's
//!   CRI plugin driven over gRPC as the kubelet drives it, with our image as `sandbox_image`.
//!   Every tool keeps its state in a scratch directory and every fixture undoes what it started
//!   in `Drop` (kill by PID, unmount, remove). No test pulls from a registry.
//!
//! Facts about this host that shape the tests (measured, see `images/README.md`):
//! - cgroups are hybrid (v1 controllers, plus a v2 mount at `/sys/fs/cgroup/unified` that owns
//!   `hugetlb`). crun refuses that ("cgroups in hybrid mode not supported, drop all controllers
//!   from cgroupv2"), so crun runs in a private mount namespace without the v2 mount, which is
//!   exactly how crun sees a pure cgroup v1 host; runc and podman (told to use runc) work as is.
//! - root lacks `CAP_SYS_RESOURCE`, so podman's default rlimits (nofile 1048576) cannot be set and
//!   containerd must not lower the sandbox's `oom_score_adj` (`restrict_oom_score_adj`).
//! - there is no CNI network to use and no reason to touch the host's: the podman pod and the
//!   CRI sandbox use no network (`netns = "none"`) and the node's network respectively.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::ptrace;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use sandbox_tests::{
    Run, ScratchDir, arm64_pause_bin, assert_exit, cri_client_bin, is_alive, mounts_containing,
    pause_bin, require_root, run, run_with_timeout, unique_name, wait_until,
};
use serde_json::Value;

/// Manifest digest of the image `images` builds around [`exit0_elf`] with the default
/// `SOURCE_DATE_EPOCH` (0), and the digest of its image index, which lists that manifest alone
/// (the pause image is an index whatever the number of platforms). They pin the builder's whole output format (JSON fields and their
/// canonical order, tar headers, gzip settings, the deflate implementation) end to end through
/// the CLI.
///
/// It is asserted for a fixed executable rather than for `pause`, because the digest of the real
/// image changes with every byte of `pause` (and with the compiler that builds it), which would
/// make this test fail on every change to `pause` for reasons that have nothing to do with the
/// builder. The real image is covered by [`build_is_byte_identical_across_directories_and_times`].
///
/// To update it after a deliberate change to the builder's output: run
/// `cargo test -p sandbox-tests --test integration image::golden`, check that the change is
/// intended, and paste the digests the failure prints.
const GOLDEN_FIXTURE_MANIFEST: &str =
    "sha256:c53fa49d7a3c6938ce7f717d2bc9b4e044e65e171c20365bc1451f40bac0b4f7";
/// See [`GOLDEN_FIXTURE_MANIFEST`].
const GOLDEN_FIXTURE_INDEX: &str =
    "sha256:290b88f830034e2a5444e8fd2f6431026fe207959480951b15a7ed73b09be220";

/// `pause -v` prints this: `pause` and the tests share the workspace version.
const PAUSE_VERSION_LINE: &str = concat!("pause ", env!("CARGO_PKG_VERSION"));

/// How long a TERM may take to end pause, per the issue.
const STOP_BOUND: Duration = Duration::from_secs(1);

// ---------------------------------------------------------------------------------------------
// Building
// ---------------------------------------------------------------------------------------------

/// The `images` binary under test: next to the other workspace binaries, or at `IMAGES_BIN`.
fn images_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("IMAGES_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().unwrap();
    // target/<triple>/<profile>/deps/integration-<hash>
    let path = exe.parent().and_then(Path::parent).unwrap().join("images");
    assert!(
        path.is_file(),
        "{} not found: build it first with `cargo build --workspace` (or set IMAGES_BIN)",
        path.display()
    );
    path
}

/// `images` with a clean environment for reproducibility: no `SOURCE_DATE_EPOCH` unless a test
/// sets it, and no `CARGO` (which would make `images` try to build `pause`).
fn images_command() -> Command {
    let mut command = Command::new(images_bin());
    command.env_remove("SOURCE_DATE_EPOCH").env_remove("CARGO");
    command
}

/// The pause image built by `images` into a scratch directory, for linux/amd64 and linux/arm64.
pub(crate) struct Built {
    pub(crate) dir: ScratchDir,
    pub(crate) layout: PathBuf,
    archive: PathBuf,
    pub(crate) tag: String,
    /// `localhost/pause:<tag>`: the name every tool should give it.
    reference: String,
    /// The image's digest: its image index's.
    pub(crate) digest: String,
    /// The packaged amd64 executable, to recognise it in `/proc/<pid>/exe`.
    pause: Vec<u8>,
    /// What `images` printed.
    pub(crate) stdout: String,
}

impl Built {
    /// `oci:<layout>:<tag>` for skopeo.
    pub(crate) fn oci(&self) -> String {
        format!("oci:{}:{}", self.layout.display(), self.tag)
    }

    /// A signature policy for skopeo that accepts anything, in the scratch directory, so the
    /// tests never depend on the host's `/etc/containers/policy.json`.
    pub(crate) fn policy(&self) -> String {
        let policy = self.dir.path().join("policy.json");
        fs::write(
            &policy,
            r#"{"default":[{"type":"insecureAcceptAnything"}]}"#,
        )
        .unwrap();
        policy.display().to_string()
    }

    /// `skopeo copy` of one platform's image out of the index (`architecture`'s, or the
    /// host's) into the layout `name` of the scratch directory, under the same tag; returns
    /// the layout.
    pub(crate) fn copy_platform(&self, architecture: Option<&str>, name: &str) -> PathBuf {
        let layout = self.dir.path().join(name);
        let mut args = vec!["--policy".to_owned(), self.policy()];
        if let Some(architecture) = architecture {
            args.extend(
                ["--override-arch", architecture, "--override-os", "linux"].map(String::from),
            );
        }
        args.extend([
            "copy".to_owned(),
            self.oci(),
            format!("oci:{}:{}", layout.display(), self.tag),
        ]);
        let copied = run("skopeo", &args);
        assert_exit!(copied, 0);
        layout
    }
}

/// Builds the pause image of the workspace's amd64 and arm64 `pause` with a tag unique to this
/// test run.
pub(crate) fn build_image() -> Built {
    let pause = pause_bin();
    let dir = ScratchDir::new("image");
    let tag = unique_name("t");
    let layout = dir.path().join("layout");
    let archive = dir.path().join("pause.tar");
    let built: Run = images_command()
        .arg("--out")
        .arg(&layout)
        .arg("--archive")
        .arg(&archive)
        .args(["--tag", &tag, "--pause"])
        .arg(&pause)
        .arg("--pause")
        .arg(format!("linux/arm64={}", arm64_pause_bin().display()))
        .output()
        .unwrap()
        .into();
    assert_exit!(built, 0);
    let digest = sandbox_tests::images::image_digest(&layout);
    assert!(
        built.stdout.contains(&format!("index        {digest} ")),
        "images did not print the index digest {digest}:\n{}",
        built.stdout
    );
    Built {
        reference: format!("localhost/pause:{tag}"),
        pause: fs::read(&pause).unwrap(),
        dir,
        layout,
        archive,
        tag,
        digest,
        stdout: built.stdout,
    }
}

/// A 129-byte static x86-64 executable that exits 0: an ELF header, one `PT_LOAD` program header
/// mapping the file at 0x400000, and `mov eax, 60; xor edi, edi; syscall`. Fixed bytes, made
/// by no compiler, for the golden digest.
fn exit0_elf() -> Vec<u8> {
    const BASE: u64 = 0x40_0000;
    const HEADERS: u64 = 64 + 56;
    const CODE: [u8; 9] = [0xb8, 0x3c, 0, 0, 0, 0x31, 0xff, 0x0f, 0x05];
    let size = HEADERS + CODE.len() as u64;
    let mut elf = Vec::new();
    elf.extend(b"\x7fELF");
    elf.extend([2, 1, 1, 0]); // 64-bit, little-endian, ELF version 1, System V ABI
    elf.extend([0; 8]);
    elf.extend(2u16.to_le_bytes()); // ET_EXEC
    elf.extend(62u16.to_le_bytes()); // EM_X86_64
    elf.extend(1u32.to_le_bytes()); // EV_CURRENT
    elf.extend((BASE + HEADERS).to_le_bytes()); // e_entry: the code after the headers
    elf.extend(64u64.to_le_bytes()); // e_phoff
    elf.extend(0u64.to_le_bytes()); // e_shoff: no sections
    elf.extend(0u32.to_le_bytes()); // e_flags
    for half in [64u16, 56, 1, 0, 0, 0] {
        // e_ehsize, e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx
        elf.extend(half.to_le_bytes());
    }
    elf.extend(1u32.to_le_bytes()); // PT_LOAD
    elf.extend(5u32.to_le_bytes()); // PF_R | PF_X
    for word in [0, BASE, BASE, size, size, 0x1000] {
        // p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_align
        elf.extend(word.to_le_bytes());
    }
    elf.extend(CODE);
    assert_eq!(elf.len() as u64, size);
    elf
}

/// Writes `bytes` as an executable file.
fn write_executable(path: &Path, bytes: &[u8]) {
    use std::os::unix::fs::PermissionsExt;
    fs::write(path, bytes).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn build_is_byte_identical_across_directories_and_times() {
    let work = ScratchDir::new("image-repro");
    let pauses = [
        ("amd64", fs::read(pause_bin()).unwrap()),
        ("arm64", fs::read(arm64_pause_bin()).unwrap()),
    ];
    let mut outputs = Vec::new();
    for (n, subdir) in ["first", "second/nested/deeper"].iter().enumerate() {
        let cwd = work.path().join(subdir);
        fs::create_dir_all(&cwd).unwrap();
        let mut command = images_command();
        command
            .current_dir(&cwd)
            .env("TZ", if n == 0 { "UTC" } else { "Asia/Kolkata" })
            .args(["--out", "layout", "--archive", "image.tar"]);
        // Different paths and mtimes of the inputs: their metadata must not leak into the image.
        for (architecture, bytes) in &pauses {
            let input = cwd.join(format!("pause-{architecture}-copy-{n}"));
            write_executable(&input, bytes);
            let mtime =
                std::time::UNIX_EPOCH + Duration::from_secs(1_000_000_000 + n as u64 * 86_400);
            fs::File::options()
                .write(true)
                .open(&input)
                .unwrap()
                .set_modified(mtime)
                .unwrap();
            command.arg("--pause").arg(&input);
        }
        if n == 1 {
            // Not a wait for a condition: the point is that the wall clock has moved on by a
            // whole second (the granularity of tar and gzip timestamps) between the builds.
            std::thread::sleep(Duration::from_millis(1100));
        }
        let built: Run = command.output().unwrap().into();
        assert_exit!(built, 0);
        outputs.push((
            sandbox_tests::images::files_under(&cwd.join("layout")),
            fs::read(cwd.join("image.tar")).unwrap(),
            built.stdout,
        ));
    }
    let (first, second) = (&outputs[0], &outputs[1]);
    assert_eq!(
        first.0.keys().collect::<Vec<_>>(),
        second.0.keys().collect::<Vec<_>>(),
        "the two layouts hold different files"
    );
    for (path, bytes) in &first.0 {
        assert!(
            &second.0[path] == bytes,
            "{path} differs between the builds"
        );
    }
    assert!(first.1 == second.1, "the oci-archive tarballs differ");
    assert_eq!(
        first.0.len(),
        9,
        "oci-layout, index.json, and seven blobs: the image index, and a manifest, a config and \
         a layer per platform"
    );
    // The index digest and each platform's manifest digest, as printed, are the same too.
    let digests = |stdout: &str| -> Vec<String> {
        stdout
            .lines()
            .filter(|line| line.starts_with("index ") || line.contains("  manifest "))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(digests(&first.2).len(), 3, "{}", first.2);
    assert_eq!(digests(&first.2), digests(&second.2));
}

#[test]
fn golden_digests_of_a_fixed_executable() {
    let work = ScratchDir::new("image-golden");
    let fixture = work.path().join("exit0");
    write_executable(&fixture, &exit0_elf());
    // The fixture is a real static executable, so `images` accepts it for the right reason.
    assert_exit!(run(&fixture, [] as [&str; 0]), 0);
    let layout = work.path().join("layout");
    let built: Run = images_command()
        .arg("--out")
        .arg(&layout)
        .arg("--pause")
        .arg(&fixture)
        .output()
        .unwrap()
        .into();
    assert_exit!(built, 0);
    let digest = sandbox_tests::images::image_digest(&layout);
    let index = sandbox_tests::images::blob_json(&layout, &digest);
    let manifest = index["manifests"][0]["digest"].as_str().unwrap();
    assert_eq!(
        (digest.as_str(), manifest),
        (GOLDEN_FIXTURE_INDEX, GOLDEN_FIXTURE_MANIFEST),
        "the builder's output changed (index {digest}, manifest {manifest}); if the change is \
         deliberate, set GOLDEN_FIXTURE_INDEX and GOLDEN_FIXTURE_MANIFEST in \
         tests/integration/image.rs to them"
    );
}

#[test]
fn source_date_epoch_stamps_every_timestamp() {
    let work = ScratchDir::new("image-epoch");
    let layout = work.path().join("layout");
    let archive = work.path().join("image.tar");
    let built: Run = images_command()
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .arg("--out")
        .arg(&layout)
        .arg("--archive")
        .arg(&archive)
        .arg("--pause")
        .arg(pause_bin())
        .output()
        .unwrap()
        .into();
    assert_exit!(built, 0);
    let stamp = "2023-11-14 22:13:20";
    let listing = |args: &[&str]| {
        let listed: Run = Command::new("tar")
            .env("TZ", "UTC")
            .args(["--list", "--verbose", "--full-time", "--numeric-owner"])
            .args(args)
            .output()
            .unwrap()
            .into();
        assert_exit!(listed, 0);
        listed.stdout
    };
    let archive_listing = listing(&["-f", archive.to_str().unwrap()]);
    for line in archive_listing.lines() {
        assert!(line.contains(stamp) && line.contains(" 0/0 "), "{line}");
    }
    let blobs = sandbox_tests::images::files_under(&layout);
    let mut saw_layer = false;
    for (path, bytes) in &blobs {
        if bytes.starts_with(&[0x1f, 0x8b]) {
            saw_layer = true;
            let layer = listing(&["-z", "-f", layout.join(path).to_str().unwrap()]);
            assert!(
                layer.trim().starts_with("-rwxr-xr-x 0/0") && layer.contains(stamp),
                "{layer}"
            );
            assert!(layer.trim().ends_with(" pause"), "{layer}");
        } else if let Ok(json) = serde_json::from_slice::<Value>(bytes)
            && json.get("rootfs").is_some()
        {
            assert_eq!(json["created"], "2023-11-14T22:13:20Z");
            assert_eq!(json["history"][0]["created"], "2023-11-14T22:13:20Z");
        }
    }
    assert!(saw_layer, "no gzip layer among {:?}", blobs.keys());
}

#[test]
fn refuses_a_pause_that_cannot_run_in_an_empty_image_or_on_its_platform() {
    let work = ScratchDir::new("image-refuse");
    let layout = work.path().join("layout");
    let amd64 = pause_bin().display().to_string();
    let arm64 = arm64_pause_bin().display().to_string();
    let as_arm64 = format!("linux/arm64={amd64}");
    let cases: [(&[&str], String); 6] = [
        (
            &["--pause", "/bin/sh"],
            "checking /bin/sh: dynamically linked: it has a PT_INTERP program header".to_owned(),
        ),
        (
            &["--pause", "/nonexistent/pause"],
            "reading /nonexistent/pause: No such file or directory".to_owned(),
        ),
        // A binary of the wrong architecture for the platform it is given for.
        (
            &["--pause", &as_arm64],
            format!("checking {amd64}: it is a linux/amd64 executable, not a linux/arm64 one"),
        ),
        (
            &["--pause", &amd64, "--pause", &amd64],
            format!("two pause binaries for linux/amd64: {amd64} and {amd64}"),
        ),
        (
            &["--platform", "linux/amd64", "--pause", &arm64],
            format!(
                "--pause {arm64} is a linux/arm64 executable, and --platform lists only linux/amd64"
            ),
        ),
        (
            &["--platform", "linux/riscv64"],
            "no pause for linux/riscv64: images builds pause for linux/amd64, linux/arm64; pass \
             --pause linux/riscv64=PATH for another platform"
                .to_owned(),
        ),
    ];
    for (args, expected) in cases {
        let refused: Run = images_command()
            .arg("--out")
            .arg(&layout)
            .args(args)
            .output()
            .unwrap()
            .into();
        assert_exit!(refused, 1);
        assert!(
            refused.stderr.contains(&expected),
            "{args:?}: stderr lacks {expected:?}:\n{}",
            refused.stderr
        );
        assert!(
            !layout.exists(),
            "a refused build wrote {}",
            layout.display()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Process checks shared by the runtime tests
// ---------------------------------------------------------------------------------------------

/// The lines of `/proc/<pid>/status` that start with `key:`, split into fields.
fn status_fields(pid: i32, key: &str) -> Vec<String> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{key}:")))
        .unwrap_or_else(|| panic!("no {key} in /proc/{pid}/status"))
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// Asserts that `pid` runs our `pause` (the very bytes packaged), as PID 1 of its PID
/// namespace, with the given uid (real, effective, saved, fs).
fn assert_is_our_pause(pid: i32, image: &Built, uid: Option<&str>) {
    // A runtime reports the container running once its init has been told to start, which can
    // be before that init's execve of /pause is done (runc returns when the init has written its
    // exec fifo, then the init execs): until then /proc/<pid>/exe is still the runtime.
    let runs_pause = || fs::read(format!("/proc/{pid}/exe")).is_ok_and(|exe| exe == image.pause);
    if !wait_until(Duration::from_secs(5), runs_pause) {
        let exe = fs::read_link(format!("/proc/{pid}/exe"))
            .unwrap_or_else(|e| panic!("reading /proc/{pid}/exe (has pause exited?): {e}"));
        panic!(
            "process {pid} does not run the packaged pause but {}",
            exe.display()
        );
    }
    let nspid = status_fields(pid, "NSpid");
    assert_eq!(
        nspid.last().map(String::as_str),
        Some("1"),
        "pause is not PID 1 of its container (NSpid {nspid:?})"
    );
    if let Some(uid) = uid {
        assert_eq!(status_fields(pid, "Uid"), [uid; 4], "uids of pause");
        assert_eq!(status_fields(pid, "Gid"), [uid; 4], "gids of pause");
    }
}

/// Learns how a process ends without being its parent. A detached container's init is the
/// child of whatever reaper adopted it once `runc run --detach` exited, so its exit status is
/// not ours to `wait` for; but a ptrace tracer is told of the tracee's exit, status included,
/// before the real parent is (ptrace(2), "the tracer is notified of tracee death"). `PTRACE_SEIZE`
/// does not stop the tracee, and the stops it can still cause are resumed at once. The watch
/// must be used from the thread that attached.
struct ExitWatch {
    pid: Pid,
}

impl ExitWatch {
    fn attach(pid: i32) -> ExitWatch {
        let pid = Pid::from_raw(pid);
        ptrace::seize(pid, ptrace::Options::empty())
            .unwrap_or_else(|e| panic!("PTRACE_SEIZE of pause ({pid}): {e}"));
        ExitWatch { pid }
    }

    /// The exit code (or 128+n for a signal), or `None` if it lives on past `timeout`.
    fn wait(&self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        let flags = WaitPidFlag::WNOHANG | WaitPidFlag::__WALL;
        while Instant::now() < deadline {
            match waitpid(self.pid, Some(flags)).unwrap() {
                WaitStatus::Exited(_, code) => return Some(code),
                WaitStatus::Signaled(_, signal, _) => return Some(128 + signal as i32),
                WaitStatus::Stopped(_, signal) => ptrace::cont(self.pid, signal).unwrap(),
                WaitStatus::PtraceEvent(..) | WaitStatus::PtraceSyscall(_) => {
                    ptrace::cont(self.pid, None).unwrap()
                }
                _ => std::thread::sleep(Duration::from_millis(1)),
            }
        }
        None
    }
}

/// Runs `command` with stdout and stderr in files under `dir` rather than pipes: a detaching
/// command leaves its stdio to the container it starts, and `output()` would then wait for the
/// container to end.
fn run_detaching(command: &mut Command, dir: &Path) -> Run {
    let name = unique_name("out");
    let (stdout, stderr) = (
        dir.join(format!("{name}.stdout")),
        dir.join(format!("{name}.stderr")),
    );
    let status = command
        .stdin(Stdio::null())
        .stdout(fs::File::create(&stdout).unwrap())
        .stderr(fs::File::create(&stderr).unwrap())
        .status()
        .unwrap_or_else(|e| panic!("running {command:?}: {e}"));
    Run {
        code: status.code(),
        stdout: fs::read_to_string(stdout).unwrap(),
        stderr: fs::read_to_string(stderr).unwrap(),
    }
}

/// Parses a command's stdout as JSON, showing it on failure.
fn stdout_json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("{e} in output:\n{}\n{}", run.stdout, run.stderr))
}

/// Unmounts (lazily, deepest first) every mount point under `dir`: cleanup after tools that
/// mount inside their state directories.
fn unmount_all_under(dir: &Path) {
    let mut mounts = mounts_containing(&dir.display().to_string());
    mounts.sort_by_key(|m| std::cmp::Reverse(m.len()));
    for mount in mounts {
        let _ = nix::mount::umount2(mount.as_str(), nix::mount::MntFlags::MNT_DETACH);
    }
}

/// PIDs of the processes whose command line contains `needle` (never this test process).
fn pids_with_cmdline(needle: &str) -> Vec<i32> {
    let me = std::process::id() as i32;
    procfs::process::all_processes()
        .unwrap()
        .filter_map(Result::ok)
        .filter(|p| p.pid != me)
        .filter(|p| {
            p.cmdline()
                .map(|args| args.join(" ").contains(needle))
                .unwrap_or(false)
        })
        .map(|p| p.pid)
        .collect()
}

/// A cgroup parent named for one test, removed from every hierarchy on drop. Runtimes delete a
/// container's own cgroup but leave the parents they made (containerd's per-namespace one,
/// podman's `libpod_parent/conmon`); giving each test its own parent lets it remove exactly
/// what it caused.
struct CgroupParent {
    name: String,
}

impl CgroupParent {
    fn new(prefix: &str) -> CgroupParent {
        CgroupParent {
            name: unique_name(prefix),
        }
    }

    /// As an absolute cgroup path (`/name`).
    fn path(&self) -> String {
        format!("/{}", self.name)
    }
}

impl Drop for CgroupParent {
    fn drop(&mut self) {
        // v1 hierarchies are /sys/fs/cgroup/<controller>/, v2 is /sys/fs/cgroup itself or
        // /sys/fs/cgroup/unified on a hybrid host.
        let mut roots = vec![PathBuf::from("/sys/fs/cgroup")];
        if let Ok(entries) = fs::read_dir("/sys/fs/cgroup") {
            roots.extend(entries.filter_map(Result::ok).map(|e| e.path()));
        }
        for root in roots {
            let mut dirs = Vec::new();
            let mut pending = vec![root.join(&self.name)];
            while let Some(dir) = pending.pop() {
                let Ok(entries) = fs::read_dir(&dir) else {
                    continue;
                };
                pending.extend(
                    entries
                        .filter_map(Result::ok)
                        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                        .map(|e| e.path()),
                );
                dirs.push(dir);
            }
            // Children first; a cgroup with processes refuses rmdir, and then it stays.
            for dir in dirs.iter().rev() {
                let _ = fs::remove_dir(dir);
            }
        }
    }
}

/// Directories a tool creates outside the state directory it was given (`/run/containerd/s`,
/// `/run/runc`), innermost first. Those that did not exist before the first fixture of this
/// test process needed them are removed, if empty, when the last such fixture ends: tests run
/// in parallel, and `remove_dir` leaves a directory that anything else still uses.
struct HostDirs {
    dirs: Vec<PathBuf>,
}

/// Per directory: how many live fixtures use it, and whether it was missing before the first.
static HOST_DIRS: std::sync::Mutex<BTreeMap<PathBuf, (usize, bool)>> =
    std::sync::Mutex::new(BTreeMap::new());

impl HostDirs {
    fn note(dirs: &[&str]) -> HostDirs {
        let mut users = HOST_DIRS.lock().unwrap_or_else(|e| e.into_inner());
        let dirs: Vec<PathBuf> = dirs.iter().map(PathBuf::from).collect();
        for dir in &dirs {
            let missing = !dir.exists();
            users.entry(dir.clone()).or_insert((0, missing)).0 += 1;
        }
        HostDirs { dirs }
    }
}

impl Drop for HostDirs {
    fn drop(&mut self) {
        let mut users = HOST_DIRS.lock().unwrap_or_else(|e| e.into_inner());
        for dir in &self.dirs {
            let Some((count, missing)) = users.get_mut(dir) else {
                continue;
            };
            *count -= 1;
            if *count == 0 {
                if *missing {
                    let _ = fs::remove_dir(dir);
                }
                users.remove(dir);
            }
        }
    }
}

/// SIGKILLs `pid` and its direct children: a runtime's monitor (conmon, shim) and the container
/// it holds. Used only when a fixture is dropped with them still running.
fn kill_with_children(pid: i32) {
    let children: Vec<i32> = procfs::process::all_processes()
        .unwrap()
        .filter_map(Result::ok)
        .filter_map(|p| p.stat().ok())
        .filter(|s| s.ppid == pid)
        .map(|s| s.pid)
        .collect();
    for victim in children.into_iter().chain([pid]) {
        let _ = kill(Pid::from_raw(victim), Signal::SIGKILL);
    }
}

// ---------------------------------------------------------------------------------------------
// skopeo
// ---------------------------------------------------------------------------------------------

#[test]
fn skopeo_inspects_and_copies_the_layout() {
    require_root();
    let image = build_image();
    let dir = image.dir.path();
    let policy = image.policy();
    let skopeo = |args: &[&str]| -> Run {
        let done = run("skopeo", args);
        assert_exit!(done, 0);
        done
    };

    let inspected = stdout_json(&skopeo(&["inspect", &image.oci()]));
    assert_eq!(inspected["Digest"], image.digest.as_str());
    assert_eq!(inspected["Architecture"], "amd64");
    assert_eq!(inspected["Os"], "linux");
    assert_eq!(inspected["Layers"].as_array().unwrap().len(), 1);

    let config = stdout_json(&skopeo(&["inspect", "--config", &image.oci()]));
    assert_eq!(config["config"]["User"], "65535:65535");
    assert_eq!(
        config["config"]["Entrypoint"],
        serde_json::json!(["/pause"])
    );
    assert_eq!(config["architecture"], "amd64");
    assert_eq!(config["os"], "linux");
    assert_eq!(config["history"].as_array().unwrap().len(), 1);

    // Our own archive, and skopeo's copies to both archive formats.
    let ours = format!("oci-archive:{}:{}", image.archive.display(), image.tag);
    let oci_copy = format!(
        "oci-archive:{}:{}",
        dir.join("copy-oci.tar").display(),
        image.tag
    );
    let docker_copy = format!(
        "docker-archive:{}:{}",
        dir.join("copy-docker.tar").display(),
        image.reference
    );
    let policy = policy.as_str();
    // `--all` keeps the index and both platforms; a docker-archive holds one platform's image,
    // the host's.
    skopeo(&["--policy", policy, "copy", "--all", &image.oci(), &oci_copy]);
    skopeo(&["--policy", policy, "copy", &image.oci(), &docker_copy]);
    for (source, keeps_digest) in [(&ours, true), (&oci_copy, true), (&docker_copy, false)] {
        let inspected = stdout_json(&skopeo(&["inspect", source]));
        if keeps_digest {
            assert_eq!(inspected["Digest"], image.digest.as_str(), "{source}");
        }
        assert_eq!(inspected["Architecture"], "amd64", "{source}");
        let config = stdout_json(&skopeo(&["inspect", "--config", source]));
        assert_eq!(config["config"]["User"], "65535:65535", "{source}");
        assert_eq!(
            config["config"]["Entrypoint"],
            serde_json::json!(["/pause"]),
            "{source}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// umoci + runc / crun
// ---------------------------------------------------------------------------------------------

/// An OCI runtime CLI with its state in a scratch directory (`--root`).
struct OciRuntime {
    name: &'static str,
    program: &'static str,
    prefix: Vec<String>,
}

impl OciRuntime {
    fn runc(root: &Path) -> OciRuntime {
        OciRuntime {
            name: "runc",
            program: "runc",
            prefix: vec!["--root".into(), root.display().to_string()],
        }
    }

    /// crun refuses hybrid cgroup hosts whose v2 hierarchy owns a controller. On such a host
    /// it runs in a private mount namespace without `/sys/fs/cgroup/unified`, where it sees the
    /// legacy v1 layout it supports; the mount namespace is the command's own and ends with it.
    fn crun(root: &Path) -> OciRuntime {
        let root = root.display().to_string();
        if sandbox_tests::is_mounted("/sys/fs/cgroup/unified") {
            let script = "umount /sys/fs/cgroup/unified && exec crun \"$@\"";
            OciRuntime {
                name: "crun",
                program: "unshare",
                prefix: [
                    "--mount",
                    "--propagation",
                    "private",
                    "sh",
                    "-c",
                    script,
                    "crun",
                ]
                .map(String::from)
                .into_iter()
                .chain(["--root".to_owned(), root])
                .collect(),
            }
        } else {
            OciRuntime {
                name: "crun",
                program: "crun",
                prefix: vec!["--root".into(), root],
            }
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(self.program);
        command.args(&self.prefix).args(args);
        command
    }

    fn run(&self, args: &[&str]) -> Run {
        self.command(args).output().unwrap().into()
    }
}

/// A container started by an [`OciRuntime`]; force-deleted on drop if still there.
struct OciContainer<'a> {
    runtime: &'a OciRuntime,
    id: String,
}

impl Drop for OciContainer<'_> {
    fn drop(&mut self) {
        let _ = self.runtime.run(&["delete", "--force", &self.id]);
    }
}

/// umoci unpacks the image into a bundle, `runtime` runs it detached, and pause must be PID 1
/// as 65535 and end with status 0 within a second of a TERM.
fn run_unpacked_bundle(make_runtime: fn(&Path) -> OciRuntime) {
    require_root();
    let image = build_image();
    let dir = image.dir.path();
    let runtime = make_runtime(&dir.join("runtime-state"));
    // umoci 0.4.7 has no platform choice and calls a tag that leads to two manifests
    // ambiguous: skopeo copies the host's platform's image out of the index first.
    let host_layout = image.copy_platform(None, "host-platform");
    let bundle = dir.join("bundle");
    let unpacked = run(
        "umoci",
        [
            "unpack",
            "--image",
            &format!("{}:{}", host_layout.display(), image.tag),
            bundle.to_str().unwrap(),
        ],
    );
    assert_exit!(unpacked, 0);
    // umoci's spec asks for a terminal; a detached run would then need a console socket.
    let config_path = bundle.join("config.json");
    let mut config: Value = serde_json::from_slice(&fs::read(&config_path).unwrap()).unwrap();
    assert_eq!(config["process"]["args"], serde_json::json!(["/pause"]));
    assert_eq!(config["process"]["user"]["uid"], 65535);
    config["process"]["terminal"] = Value::Bool(false);
    fs::write(&config_path, serde_json::to_vec(&config).unwrap()).unwrap();

    let container = OciContainer {
        runtime: &runtime,
        id: unique_name(&format!("image-{}", runtime.name)),
    };
    let started = run_detaching(
        &mut runtime.command(&[
            "run",
            "--detach",
            "--bundle",
            bundle.to_str().unwrap(),
            &container.id,
        ]),
        dir,
    );
    assert_exit!(started, 0);
    let state = stdout_json(&runtime.run(&["state", &container.id]));
    assert_eq!(state["status"], "running", "{state}");
    let pid = state["pid"].as_i64().unwrap() as i32;
    assert_is_our_pause(pid, &image, Some("65535"));

    let watch = ExitWatch::attach(pid);
    let term_sent = Instant::now();
    assert_exit!(runtime.run(&["kill", &container.id, "TERM"]), 0);
    let status = watch.wait(Duration::from_secs(5));
    let took = term_sent.elapsed();
    assert_eq!(
        status,
        Some(0),
        "{} container's pause after TERM",
        runtime.name
    );
    assert!(took < STOP_BOUND, "pause took {took:?} to end after TERM");
    assert!(wait_until(Duration::from_secs(5), || {
        stdout_json(&runtime.run(&["state", &container.id]))["status"] == "stopped"
    }));
    assert_exit!(runtime.run(&["delete", &container.id]), 0);
}

#[test]
fn runc_runs_the_umoci_bundle_with_pause_as_pid_1() {
    run_unpacked_bundle(OciRuntime::runc);
}

#[test]
fn crun_runs_the_umoci_bundle_with_pause_as_pid_1() {
    run_unpacked_bundle(OciRuntime::crun);
}

// ---------------------------------------------------------------------------------------------
// podman
// ---------------------------------------------------------------------------------------------

/// podman with private storage, run root, tmp dir, network config and events log in a scratch
/// directory, through a `containers.conf` and `storage.conf` of its own: the host's podman
/// state is never read or written.
struct Podman {
    dir: ScratchDir,
    /// Parent of the containers' and conmon's cgroups (`--cgroup-parent`).
    cgroup: CgroupParent,
    /// podman 4.3 creates netavark's run directory even when no container has a network, and
    /// runs runc with its default state root.
    _host_dirs: HostDirs,
}

impl Podman {
    fn new() -> Podman {
        let dir = ScratchDir::new("image-podman");
        sandbox_tests::write_private_podman_config(dir.path());
        Podman {
            dir,
            cgroup: CgroupParent::new("image-podman"),
            _host_dirs: HostDirs::note(&[
                "/run/containers/networks",
                "/run/containers",
                "/run/runc",
            ]),
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new("podman");
        command
            .env("CONTAINERS_CONF", self.dir.path().join("containers.conf"))
            .env(
                "CONTAINERS_STORAGE_CONF",
                self.dir.path().join("storage.conf"),
            )
            .args(args);
        command
    }

    /// Runs podman to completion and asserts it succeeded.
    fn ok(&self, args: &[&str]) -> Run {
        let done: Run = self.command(args).output().unwrap().into();
        assert_eq!(
            done.code,
            Some(0),
            "podman {args:?} failed\n--- stdout ---\n{}\n--- stderr ---\n{}",
            done.stdout,
            done.stderr
        );
        done
    }

    /// `podman inspect --format FORMAT NAME`, trimmed.
    fn inspect(&self, name: &str, format: &str) -> String {
        self.ok(&["inspect", "--format", format, name])
            .stdout
            .trim()
            .to_owned()
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = self.command(&["pod", "rm", "--force", "--all"]).output();
        let _ = self.command(&["rm", "--force", "--all"]).output();
        // conmon (and its container) outlive podman; they name our directory on their command line.
        for pid in pids_with_cmdline(&self.dir.path().display().to_string()) {
            kill_with_children(pid);
        }
        unmount_all_under(self.dir.path());
    }
}

#[test]
fn podman_loads_the_archive_and_runs_it_as_a_pod_infra_container() {
    require_root();
    let image = build_image();
    let podman = Podman::new();

    let loaded = podman.ok(&["load", "--input", image.archive.to_str().unwrap()]);
    assert!(
        loaded
            .stdout
            .contains(&format!("Loaded image: {}", image.reference)),
        "podman named the image otherwise:\n{}",
        loaded.stdout
    );
    // podman keeps the host's platform of the index, under the index's digest.
    let loaded = podman.ok(&[
        "image",
        "inspect",
        "--format",
        "{{.Architecture}} {{.Digest}}",
        &image.reference,
    ]);
    assert_eq!(loaded.stdout.trim(), format!("amd64 {}", image.digest));

    let parent = podman.cgroup.path();
    let version = podman.ok(&[
        "run",
        "--rm",
        "--cgroup-parent",
        &parent,
        &image.reference,
        "-v",
    ]);
    assert_eq!(
        version.stdout.trim(),
        PAUSE_VERSION_LINE,
        "`pause -v` in the container"
    );

    // A plain container honours the image's User.
    let name = unique_name("image-podman-ctr");
    podman.ok(&[
        "run",
        "--detach",
        "--cgroup-parent",
        &parent,
        "--name",
        &name,
        &image.reference,
    ]);
    let pid: i32 = podman.inspect(&name, "{{.State.Pid}}").parse().unwrap();
    assert_is_our_pause(pid, &image, Some("65535"));
    let term_sent = Instant::now();
    podman.ok(&["stop", "--time", "10", &name]);
    let took = term_sent.elapsed();
    assert_eq!(podman.inspect(&name, "{{.State.ExitCode}}"), "0");
    assert!(took < Duration::from_secs(3), "podman stop took {took:?}");
    podman.ok(&["rm", &name]);

    // The pod's infra container. podman does not apply the image's User to infra containers
    // (it runs them as root), so only the binary and PID 1 are checked here.
    let pod = unique_name("image-pod");
    podman.ok(&[
        "pod",
        "create",
        "--cgroup-parent",
        &parent,
        "--infra-image",
        &image.reference,
        "--name",
        &pod,
    ]);
    podman.ok(&["pod", "start", &pod]);
    let state = podman.ok(&["pod", "inspect", "--format", "{{.State}}", &pod]);
    assert_eq!(state.stdout.trim(), "Running");
    let infra = podman.ok(&["pod", "inspect", "--format", "{{.InfraContainerID}}", &pod]);
    let infra = infra.stdout.trim().to_owned();
    assert_eq!(podman.inspect(&infra, "{{.ImageName}}"), image.reference);
    let pid: i32 = podman.inspect(&infra, "{{.State.Pid}}").parse().unwrap();
    assert_is_our_pause(pid, &image, None);
    podman.ok(&["pod", "stop", &pod]);
    assert_eq!(podman.inspect(&infra, "{{.State.ExitCode}}"), "0");
    assert!(!is_alive(pid));
    podman.ok(&["pod", "rm", &pod]);
    let gone: Run = podman
        .command(&["pod", "exists", &pod])
        .output()
        .unwrap()
        .into();
    assert_exit!(gone, 1);
}

// ---------------------------------------------------------------------------------------------
// containerd: ctr and the CRI plugin
// ---------------------------------------------------------------------------------------------

/// A containerd daemon started by the test, with its root, state, sockets and runc state in a
/// scratch directory. Dropping it stops the daemon (TERM, then KILL), kills any shim it left
/// (with its container) and unmounts what it mounted.
struct Containerd {
    daemon: Child,
    dir: ScratchDir,
    /// The containerd namespace `ctr` works in: `k8s.io` for the CRI, else one of the test's.
    namespace: String,
    /// Parent of the containers' cgroups: containerd puts a task of namespace `ns` in `/ns/<id>`.
    cgroup: CgroupParent,
    /// containerd 1.6 puts shim sockets in `/run/containerd/s` whatever its state directory.
    _host_dirs: HostDirs,
}

impl Containerd {
    /// Starts containerd; with `sandbox_image`, its CRI plugin uses that image for pod
    /// sandboxes, otherwise the CRI plugin is disabled.
    fn start(sandbox_image: Option<&str>) -> Containerd {
        let dir = ScratchDir::new("image-containerd");
        let root = dir.path().display().to_string();
        // Top-level keys first: in TOML they must come before the first table.
        let disabled = match sandbox_image {
            None => "disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n",
            Some(_) => "",
        };
        let mut config = format!(
            "version = 2\n\
             root = \"{root}/root\"\n\
             state = \"{root}/state\"\n\
             {disabled}\
             [grpc]\n  address = \"{root}/containerd.sock\"\n\
             [ttrpc]\n  address = \"{root}/containerd.sock.ttrpc\"\n\
             [plugins.\"io.containerd.internal.v1.opt\"]\n  path = \"{root}/opt\"\n"
        );
        if let Some(image) = sandbox_image {
            config.push_str(&format!(
                "[plugins.\"io.containerd.grpc.v1.cri\"]\n\
                 sandbox_image = \"{image}\"\n\
                 # root here lacks CAP_SYS_RESOURCE: never lower oom_score_adj below ours\n\
                 restrict_oom_score_adj = true\n\
                 stream_server_address = \"127.0.0.1\"\n\
                 stream_server_port = \"0\"\n\
                 [plugins.\"io.containerd.grpc.v1.cri\".cni]\n\
                 bin_dir = \"{root}/cni/bin\"\n\
                 conf_dir = \"{root}/cni/conf\"\n\
                 [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]\n\
                 runtime_type = \"io.containerd.runc.v2\"\n\
                 [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options]\n\
                 Root = \"{root}/runc\"\n"
            ));
        }
        let config_path = dir.path().join("config.toml");
        fs::write(&config_path, config).unwrap();
        let log = fs::File::create(dir.path().join("containerd.log")).unwrap();
        let host_dirs = HostDirs::note(&["/run/containerd/s", "/run/containerd"]);
        let daemon = Command::new("containerd")
            .arg("--config")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting containerd: {e}"));
        let cgroup = CgroupParent::new("image-containerd");
        let namespace = match sandbox_image {
            Some(_) => "k8s.io".to_owned(),
            None => cgroup.name.clone(),
        };
        let containerd = Containerd {
            daemon,
            dir,
            namespace,
            cgroup,
            _host_dirs: host_dirs,
        };
        let ready = wait_until(Duration::from_secs(30), || {
            containerd.ctr(&["version"]).code == Some(0)
        });
        assert!(ready, "containerd did not come up:\n{}", containerd.log());
        containerd
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("containerd.sock")
    }

    fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("containerd.log")).unwrap_or_default()
    }

    /// `ctr --address SOCKET args...`.
    fn ctr_command(&self, args: &[&str]) -> Command {
        let mut command = Command::new("ctr");
        command
            .arg("--address")
            .arg(self.socket())
            .args(["--namespace", &self.namespace])
            .args(args);
        command
    }

    fn ctr(&self, args: &[&str]) -> Run {
        self.ctr_command(args).output().unwrap().into()
    }

    /// Runs ctr and asserts it succeeded, showing the daemon's log if not.
    fn ctr_ok(&self, args: &[&str]) -> Run {
        let done = self.ctr(args);
        assert_eq!(
            done.code,
            Some(0),
            "ctr {args:?} failed\n--- stdout ---\n{}\n--- stderr ---\n{}\n--- containerd log ---\n{}",
            done.stdout,
            done.stderr,
            self.log()
        );
        done
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        // A shim exits by itself shortly after its container is deleted, removing its socket
        // from /run/containerd/s; killing it would leave the socket behind. Shims name our
        // socket on their command line.
        let socket = self.socket().display().to_string();
        let shims = || pids_with_cmdline(&socket);
        wait_until(Duration::from_secs(5), || shims().is_empty());
        let pid = Pid::from_raw(self.daemon.id() as i32);
        let _ = kill(pid, Signal::SIGTERM);
        let stopped = wait_until(Duration::from_secs(10), || {
            matches!(self.daemon.try_wait(), Ok(Some(_)))
        });
        if !stopped {
            let _ = self.daemon.kill();
            let _ = self.daemon.wait();
        }
        // Shims still running (a test failed with its container up) outlive the daemon by design.
        for shim in shims() {
            kill_with_children(shim);
        }
        unmount_all_under(self.dir.path());
    }
}

#[test]
fn containerd_imports_the_archive_and_ctr_runs_it() {
    require_root();
    let image = build_image();
    let containerd = Containerd::start(None);
    let fifo_dir = containerd.dir.path().join("fifo");
    let runc_root = containerd.dir.path().join("runc");
    let io_dirs = [
        "--fifo-dir",
        fifo_dir.to_str().unwrap(),
        "--runc-root",
        runc_root.to_str().unwrap(),
    ];

    let imported = containerd.ctr_ok(&["images", "import", image.archive.to_str().unwrap()]);
    assert!(
        imported
            .stdout
            .contains(&format!("unpacking {} (", image.reference)),
        "ctr named the image otherwise:\n{}",
        imported.stdout
    );
    let listed = containerd.ctr_ok(&["images", "list", "--quiet"]);
    assert!(
        listed.stdout.lines().any(|l| l == image.reference),
        "{}",
        listed.stdout
    );
    // The name stands for the whole index; `ctr run` below picks the host's platform from it.
    let listed = containerd.ctr_ok(&["images", "list"]);
    let line = listed
        .stdout
        .lines()
        .find(|line| line.starts_with(&format!("{} ", image.reference)))
        .unwrap_or_else(|| panic!("{} not listed:\n{}", image.reference, listed.stdout));
    assert!(
        line.contains(" application/vnd.oci.image.index.v1+json ") && line.contains(&image.digest),
        "{line}"
    );

    let id = unique_name("image-ctr-v");
    let mut args = vec!["run", "--rm"];
    args.extend(io_dirs);
    args.extend([image.reference.as_str(), &id, "/pause", "-v"]);
    let version = containerd.ctr_ok(&args);
    assert_eq!(
        version.stdout.trim(),
        PAUSE_VERSION_LINE,
        "`pause -v` in the container"
    );

    // The image's own entrypoint and user; `ctr run` exits with the task's status.
    let id = unique_name("image-ctr");
    let mut args = vec!["run", "--rm"];
    args.extend(io_dirs);
    args.extend([image.reference.as_str(), &id]);
    let output = containerd.dir.path().join("ctr-run.out");
    let mut running = containerd
        .ctr_command(&args)
        .stdin(Stdio::null())
        .stdout(fs::File::create(&output).unwrap())
        .stderr(fs::File::create(&output).unwrap())
        .spawn()
        .unwrap();
    let mut pid = None;
    let found = wait_until(Duration::from_secs(20), || {
        let tasks = containerd.ctr(&["tasks", "list"]).stdout;
        pid = tasks
            .lines()
            .map(|line| line.split_whitespace().collect::<Vec<_>>())
            .find(|fields| {
                fields.first() == Some(&id.as_str()) && fields.get(2) == Some(&"RUNNING")
            })
            .and_then(|fields| fields[1].parse::<i32>().ok());
        pid.is_some()
    });
    if !found {
        let _ = running.kill();
        panic!(
            "task {id} never ran: {}\n{}",
            fs::read_to_string(&output).unwrap_or_default(),
            containerd.log()
        );
    }
    let pid = pid.unwrap();
    assert_is_our_pause(pid, &image, Some("65535"));
    let term_sent = Instant::now();
    containerd.ctr_ok(&["tasks", "kill", "--signal", "SIGTERM", &id]);
    let mut status = None;
    wait_until(Duration::from_secs(10), || {
        status = running.try_wait().unwrap();
        status.is_some()
    });
    let took = term_sent.elapsed();
    let Some(status) = status else {
        let _ = running.kill();
        panic!("ctr run did not end after TERM");
    };
    assert_eq!(
        status.code(),
        Some(0),
        "ctr run: {}",
        fs::read_to_string(&output).unwrap_or_default()
    );
    assert!(
        took < STOP_BOUND + Duration::from_secs(1),
        "ctr run took {took:?} to end"
    );
    let containers = containerd.ctr_ok(&["containers", "list", "--quiet"]);
    assert!(!containers.stdout.contains(&id), "--rm left {id}");
}

/// containerd's CRI plugin, called as the kubelet calls it through `sandbox-cri-client`
/// (`tests/cri-client`): one CRI call per run, its answer one JSON line on stdout. The client is
/// a binary of its own so that its gRPC stack (tonic, tokio, k8s-cri) is not built into this one.
struct Cri<'a> {
    /// The client binary, from [`cri_client_bin`].
    client: PathBuf,
    containerd: &'a Containerd,
}

/// How long one CRI call may take, starting the client included.
const CRI_CALL_TIMEOUT: Duration = Duration::from_secs(60);

impl Cri<'_> {
    /// Makes one call, `sandbox-cri-client --socket SOCKET ARGS...`, and returns its answer,
    /// which says whether the call succeeded (`ok`) and if not, why (`error`: `code`, `message`).
    fn call(&self, args: &[&str]) -> Value {
        let mut command = Command::new(&self.client);
        command
            .arg("--socket")
            .arg(self.containerd.socket())
            .args(args);
        let done = run_with_timeout(command, b"", CRI_CALL_TIMEOUT);
        let answer: Value = serde_json::from_str(done.stdout.trim()).unwrap_or_else(|e| {
            panic!("sandbox-cri-client {args:?} did not answer with one JSON line ({e}): {done:?}")
        });
        let expected_code = if answer["ok"] == true { 0 } else { 1 };
        assert_eq!(
            done.code,
            Some(expected_code),
            "sandbox-cri-client {args:?}: the exit status disagrees with the answer: {done:?}"
        );
        answer
    }

    /// Makes one call that must succeed, and returns its answer; shows containerd's log if not.
    fn call_ok(&self, args: &[&str]) -> Value {
        let answer = self.call(args);
        assert!(
            answer["ok"] == true,
            "CRI call {args:?} failed: {}\n--- containerd log ---\n{}",
            answer["error"],
            self.containerd.log()
        );
        answer
    }
}

#[test]
fn containerd_cri_runs_it_as_the_pod_sandbox_image() {
    require_root();
    // Before anything is started: a missing client fails the test at once, with the hint.
    let client = cri_client_bin();
    let image = build_image();
    let containerd = Containerd::start(Some(&image.reference));
    // The CRI plugin's images live in containerd's k8s.io namespace, where `ctr` works here.
    let imported = containerd.ctr_ok(&["images", "import", image.archive.to_str().unwrap()]);
    assert!(
        imported.stdout.contains(&image.reference),
        "{}",
        imported.stdout
    );
    let logs = containerd.dir.path().join("pod-logs");
    fs::create_dir_all(&logs).unwrap();
    let cri = Cri {
        client,
        containerd: &containerd,
    };

    let version = cri.call_ok(&["version"]);
    assert_eq!(version["runtime_name"], "containerd", "{version}");

    // The kubelet would pull a missing sandbox image; ours must already be there, so no
    // registry is ever asked. The CRI image store learns of imports through events, so the
    // client asks again until it knows the image or 20 s have passed.
    let status = cri.call_ok(&["image-status", &image.reference, "--wait", "20"]);
    let found = &status["image"];
    assert!(!found.is_null(), "the CRI never saw {}", image.reference);
    assert!(
        found["repo_tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|tag| tag == image.reference.as_str()),
        "{}",
        found["repo_tags"]
    );
    eprintln!("CRI reports the image's size as {} bytes", found["size"]);

    let name = unique_name("image-cri");
    let uid = unique_name("uid");
    let cgroup_parent = containerd.cgroup.path();
    let started = cri.call_ok(&[
        "run-pod-sandbox",
        "--name",
        &name,
        "--uid",
        &uid,
        "--namespace",
        "default",
        "--log-directory",
        logs.to_str().unwrap(),
        "--cgroup-parent",
        &cgroup_parent,
        // The node's network, and so its UTS namespace (no CNI, no hostname); a PID and IPC
        // namespace of the pod's own.
        "--network",
        "node",
        "--pid",
        "pod",
        "--ipc",
        "pod",
    ]);
    eprintln!("RunPodSandbox took {} ms", started["took_ms"]);
    let sandbox = started["pod_sandbox_id"].as_str().unwrap().to_owned();

    let status = cri.call_ok(&["pod-sandbox-status", &sandbox, "--verbose"]);
    assert_eq!(status["state"], "SANDBOX_READY", "{status}");
    let info: Value = serde_json::from_str(status["info"]["info"].as_str().unwrap()).unwrap();
    assert_eq!(info["image"], image.reference.as_str(), "sandbox image");
    let pid = info["pid"].as_i64().unwrap() as i32;
    assert_is_our_pause(pid, &image, Some("65535"));

    let stopped = cri.call_ok(&["stop-pod-sandbox", &sandbox]);
    eprintln!("StopPodSandbox took {} ms", stopped["took_ms"]);
    assert!(!is_alive(pid), "pause still runs after StopPodSandbox");
    let status = cri.call_ok(&["pod-sandbox-status", &sandbox]);
    assert_eq!(status["state"], "SANDBOX_NOTREADY", "{status}");

    cri.call_ok(&["remove-pod-sandbox", &sandbox]);
    let gone = cri.call(&["pod-sandbox-status", &sandbox]);
    assert_eq!(gone["ok"], false, "{gone}");
    assert_eq!(gone["error"]["code"], "NotFound", "{gone}");
}
