//! `exec -t`: a terminal of the command's own, driven through real terminals: the CLI runs in
//! a tmux pane (a private tmux server per test), keys are typed with `send-keys`, and what is on
//! the screen is read with `capture-pane` and tmux's own view of the terminal's modes.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sandbox_tests::{
    Pod, ScratchDir, StateRoot, assert_exit, run, sandbox_bin, unique_name, wait_until,
};

/// A tmux server of the test's own with one window running a shell command, killed on drop.
struct Tmux {
    socket: String,
    /// Holds the `sbx` script the command runs.
    _scripts: ScratchDir,
}

impl Tmux {
    /// Starts `sandbox --root ROOT ARGS` (ARGS as a shell would split them) in a window of
    /// `width` x `height`; when it ends, the window shows `EXIT=<its exit code>` and
    /// `MODE=cooked` (or `raw`, had it left the terminal raw), and stays.
    fn start(root: &StateRoot, width: u16, height: u16, args: &str) -> Tmux {
        let scripts = ScratchDir::new("tmux-bin");
        let sbx = write_sbx(scripts.path(), root.path());
        // After it: its exit code, and whether it left the terminal raw (no canonical mode).
        let command = format!(
            "'{}' {args}; echo EXIT=$?; \
             if stty -a | grep -q -- -icanon; then echo MODE=raw; else echo MODE=cooked; fi; \
             sleep 1000",
            sbx.display()
        );
        let tmux = Tmux {
            socket: unique_name("sbx-tmux"),
            _scripts: scripts,
        };
        let started = run(
            "tmux",
            [
                "-L",
                &tmux.socket,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-x",
                &width.to_string(),
                "-y",
                &height.to_string(),
                "-s",
                "t",
                &command,
            ],
        );
        assert_eq!(started.code, Some(0), "tmux: {started:?}");
        tmux
    }

    fn tmux(&self, args: &[&str]) -> String {
        let mut all = vec!["-L", &self.socket];
        all.extend_from_slice(args);
        let done = run("tmux", &all);
        assert_eq!(done.code, Some(0), "tmux {args:?}: {done:?}");
        done.stdout
    }

    /// Types `keys` (tmux key names: "Enter", "C-c", or literal text).
    fn send(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "t"];
        args.extend_from_slice(keys);
        self.tmux(&args);
    }

    /// What the pane shows now.
    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "t"])
    }

    /// A tmux format of the pane (`#{alternate_on}`, `#{pane_tty}`).
    fn show(&self, format: &str) -> String {
        self.tmux(&["display-message", "-p", "-t", "t", format])
            .trim()
            .to_owned()
    }

    /// Waits until the pane shows `needle`; panics with the screen if it never does.
    fn wait_for(&self, needle: &str) {
        let mut screen = String::new();
        let seen = wait_until(Duration::from_secs(30), || {
            screen = self.screen();
            screen.contains(needle)
        });
        assert!(seen, "never saw {needle:?} on the screen:\n{screen}");
    }

    /// Waits until a shell's prompt (a line ending with `#`, as root's) is on the screen, so
    /// that what is typed next is read by the shell, not echoed early by the terminal.
    fn wait_for_prompt(&self) {
        let mut screen = String::new();
        let seen = wait_until(Duration::from_secs(30), || {
            screen = self.screen();
            screen.lines().any(|line| line.trim_end().ends_with('#'))
        });
        assert!(seen, "no shell prompt on the screen:\n{screen}");
    }

    /// Waits until the pane's tmux format `format` reads `value`.
    fn wait_until_shows(&self, format: &str, value: &str) {
        let mut now = String::new();
        let seen = wait_until(Duration::from_secs(30), || {
            now = self.show(format);
            now == value
        });
        assert!(
            seen,
            "{format} is {now:?}, not {value:?}:\n{}",
            self.screen()
        );
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = run("tmux", ["-L", &self.socket, "kill-server"]);
    }
}

/// The PID of a process whose command line `matches` (test commands use durations no other
/// test does, such as `sleep 4321`).
/// A new pod in a new root, and a 100x30 terminal running `sandbox exec -it POD -- COMMAND`.
fn session_in_new_pod(command: &str) -> (Arc<StateRoot>, Pod, Tmux) {
    let root = StateRoot::new();
    let pod = Pod::create_in(&root, &[]);
    let tmux = Tmux::start(
        &root,
        100,
        30,
        &format!("exec -it {} -- {command}", pod.name()),
    );
    (root, pod, tmux)
}

fn process_running(matches: impl Fn(&[String]) -> bool) -> Option<i32> {
    procfs::process::all_processes()
        .unwrap()
        .flatten()
        .find(|p| p.cmdline().is_ok_and(|args| matches(&args)))
        .map(|p| p.pid)
}

/// `DIR/sbx`: `sandbox --root ROOT "$@"`, with the pause under test.
fn write_sbx(dir: &Path, root: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let pause = std::env::var("PAUSE_BIN")
        .map(|pause| format!("export SANDBOX_PAUSE='{pause}'\n"))
        .unwrap_or_default();
    let script = format!(
        "#!/bin/sh\nunset SANDBOX_ROOT\n{pause}exec '{}' --root '{}' \"$@\"\n",
        sandbox_bin().display(),
        root.display()
    );
    let path = dir.join("sbx");
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[test]
fn exec_t_gives_a_terminal_of_its_own_sized_like_ours_and_following_a_resize() {
    let root = StateRoot::new();
    let pod = Pod::create_in(&root, &[]);
    let tmux = Tmux::start(&root, 132, 42, &format!("exec -it {} -- sh", pod.name()));
    tmux.wait_for_prompt();
    tmux.send(&["echo size=$(stty size) tty=$(tty) term=[$TERM]", "Enter"]);
    tmux.wait_for("size=42 132 ");
    let screen = tmux.screen();
    let line = screen
        .lines()
        .find(|l| l.starts_with("size="))
        .unwrap()
        .to_owned();
    let tty = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("tty="))
        .unwrap();
    assert!(tty.starts_with("/dev/pts/"), "{line}");
    assert_ne!(
        tty,
        tmux.show("#{pane_tty}"),
        "the command got the caller's own terminal"
    );
    assert!(
        line.contains("term=[") && !line.contains("term=[]"),
        "no TERM: {line}"
    );

    tmux.tmux(&["resize-window", "-t", "t", "-x", "100", "-y", "30"]);
    tmux.wait_until_shows("#{window_width}x#{window_height}", "100x30");
    // The shell sees the new size once sandbox has passed it on (SIGWINCH, TIOCSWINSZ).
    tmux.send(&[
        "clear; while [ \"$(stty size)\" = '42 132' ]; do sleep 0.1; done; echo resized=$(stty size)",
        "Enter",
    ]);
    tmux.wait_for("resized=30 100");
    tmux.send(&["exit", "Enter"]);
    tmux.wait_for("EXIT=0");
    tmux.wait_for("MODE=cooked");
}

#[test]
fn keys_pass_unchanged_ctrl_c_interrupts_once_and_the_exit_code_comes_back() {
    // busybox's shell, which has line editing (Debian's sh has none).
    let (_root, _pod, tmux) = session_in_new_pod("busybox sh");
    tmux.wait_for_prompt();
    tmux.send(&["trap 'echo got-INT' INT; echo ready", "Enter"]);
    tmux.wait_for("ready");
    // Ctrl-C: a byte the pod's terminal turns into one SIGINT for the foreground job, which
    // ends `sleep`; the shell survives.
    tmux.send(&["sleep 4321; echo after-$((1+1))", "Enter"]);
    let sleeping = || process_running(|args| args == ["sleep", "4321"]).is_some();
    assert!(
        wait_until(Duration::from_secs(30), sleeping),
        "sleep never ran"
    );
    tmux.send(&["C-c"]);
    // Needles only the commands' output can make (not their echoed command lines).
    tmux.wait_for("after-2");
    tmux.send(&["echo still-$((2+3))", "Enter"]);
    tmux.wait_for("still-5");
    let screen = tmux.screen();
    let interrupts = screen.lines().filter(|l| l.ends_with("got-INT")).count();
    assert_eq!(interrupts, 1, "{screen}");
    assert!(wait_until(Duration::from_secs(30), || !sleeping()));
    // Ctrl-P is no detach key: the shell's line editor gets it (the previous command).
    tmux.send(&["echo recalled-$((40+2))", "Enter"]);
    tmux.wait_for("recalled-42\n");
    tmux.send(&["C-p", "Enter"]);
    let seen = wait_until(Duration::from_secs(20), || {
        tmux.screen()
            .lines()
            .filter(|l| *l == "recalled-42")
            .count()
            >= 2
    });
    assert!(seen, "Ctrl-P did not recall:\n{}", tmux.screen());
    tmux.send(&["exit 5", "Enter"]);
    tmux.wait_for("EXIT=5");
    tmux.wait_for("MODE=cooked");
}

#[test]
fn vi_draws_and_quits_and_a_stop_under_it_leaves_the_terminal_as_it_was() {
    let root = StateRoot::new();
    let pod = Pod::create_in(&root, &[]);
    let file = ScratchDir::new("vi");
    let text = file.path().join("notes.txt");
    std::fs::write(&text, "hello from the pod\n").unwrap();
    let vi = format!("exec -it {} -- busybox vi {}", pod.name(), text.display());

    let tmux = Tmux::start(&root, 100, 30, &vi);
    tmux.wait_for("hello from the pod");
    tmux.wait_until_shows("#{alternate_on}", "1");
    tmux.send(&[":q", "Enter"]);
    tmux.wait_for("EXIT=0");
    assert_eq!(tmux.show("#{alternate_on}"), "0");
    drop(tmux);

    // The pod stopped under vi: the session ends with it (137), and the terminal leaves vi's
    // alternate screen and shows its cursor, though vi could not.
    let tmux = Tmux::start(&root, 100, 30, &vi);
    tmux.wait_for("hello from the pod");
    tmux.wait_until_shows("#{alternate_on}", "1");
    assert_exit!(pod.sandbox(&["stop", pod.name(), "-t", "1"]), 0);
    tmux.wait_for("EXIT=137");
    tmux.wait_for("MODE=cooked");
    assert_eq!(tmux.show("#{alternate_on} #{cursor_flag}"), "0 1");
    let screen = tmux.screen();
    assert!(
        screen.contains(&format!("sandbox {:?} was stopped", pod.name())),
        "{screen}"
    );
}

#[test]
fn a_sigterm_to_sandbox_reaches_the_command_and_the_terminal_is_restored() {
    let (_root, _pod, tmux) = session_in_new_pod("sleep 4323");
    let cli = || {
        process_running(|args| {
            args.iter().any(|a| a == "exec") && args.last().is_some_and(|a| a == "4323")
        })
    };
    let mut pid = None;
    assert!(wait_until(Duration::from_secs(30), || {
        pid = cli();
        pid.is_some()
    }));
    // The command runs once the launcher is pause (not sandbox's child before exec).
    let sleeping = || process_running(|args| args == ["sleep", "4323"]).is_some();
    assert!(wait_until(Duration::from_secs(30), sleeping));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid.unwrap()),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    tmux.wait_for("EXIT=143");
    tmux.wait_for("MODE=cooked");
    assert!(!sleeping());
}

#[test]
fn a_terminal_that_hangs_up_ends_the_session_and_leaves_no_record() {
    let (_root, pod, tmux) = session_in_new_pod("sh");
    tmux.wait_for_prompt();
    assert_eq!(pod.inspect()["execs"].as_array().unwrap().len(), 1);
    // The caller's terminal goes away (as when an ssh connection drops).
    drop(tmux);
    let ended = wait_until(Duration::from_secs(30), || {
        pod.inspect()["execs"].as_array().unwrap().is_empty()
    });
    assert!(
        ended,
        "the session outlived its terminal: {:#}",
        pod.inspect()
    );
}

#[test]
fn without_i_or_t_the_command_has_no_terminal_and_a_typed_ctrl_c_reaches_it_once() {
    let root = StateRoot::new();
    let pod = Pod::create_in(&root, &[]);
    let scripts = ScratchDir::new("no-tty");
    let script = scripts.path().join("count.sh");
    std::fs::write(
        &script,
        "if (: </dev/tty) 2>/dev/null; then echo has-a-tty; else echo no-tty; fi\n\
         n=0; trap 'n=$((n+1))' INT; echo ready\n\
         while [ $n -eq 0 ]; do :; done\n\
         i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; echo total=$n\n",
    )
    .unwrap();
    let tmux = Tmux::start(
        &root,
        100,
        30,
        &format!("exec {} -- sh {}", pod.name(), script.display()),
    );
    tmux.wait_for("ready");
    // Typed at the terminal sandbox runs in: the kernel signals sandbox's process group
    // only (the command is in a session of its own), and sandbox passes it on once.
    tmux.send(&["C-c"]);
    tmux.wait_for("total=");
    let screen = tmux.screen();
    assert!(screen.contains("no-tty"), "{screen}");
    assert!(screen.contains("total=1\n"), "{screen}");
    tmux.wait_for("EXIT=0");
}

#[test]
fn without_a_terminal_i_pipes_it_is_refused_and_t_alone_still_runs() {
    let root = StateRoot::new();
    let pod = Pod::create_in(&root, &[]);
    let refused = pod.sandbox(&["exec", "-it", pod.name(), "--", "cat"]);
    assert_exit!(refused, 125);
    assert!(
        refused.stderr.contains("the input device is not a TTY"),
        "{refused:?}"
    );
    // -t without -i needs no input: the command's terminal output comes back (with its \r\n).
    let alone = pod.sandbox(&["exec", "-t", pod.name(), "--", "sh", "-c", "tty; exit 3"]);
    assert_exit!(alone, 3);
    assert!(alone.stdout.starts_with("/dev/pts/"), "{alone:?}");
    assert!(alone.stdout.ends_with("\r\n"), "{alone:?}");
    // The terminal belongs to the command's user, who can open it again.
    let owner = pod.sandbox(&[
        "exec",
        "-t",
        "--user",
        "1000:1000",
        pod.name(),
        "--",
        "sh",
        "-c",
        "stat -c %u:%g $(tty) && : <$(tty)",
    ]);
    assert_exit!(owner, 0);
    assert_eq!(owner.stdout, "1000:1000\r\n", "{owner:?}");
}

#[test]
fn an_oci_containers_terminal_is_one_of_its_own_devpts_and_a_stop_ends_its_session() {
    let root = StateRoot::new();
    let pod = Pod::create_in(&root, &[]);
    let image_dir = ScratchDir::new("tty-image");
    let image = sandbox_tests::images::build_image(
        &sandbox_tests::images::busybox_definition(),
        &image_dir.path().join("layout"),
        "test",
    );
    assert_exit!(
        pod.try_run(
            "box",
            &["--runtime", "/usr/sbin/runc", "--image", &image],
            &["sleep", "1000"]
        ),
        0
    );
    let tty = pod.sandbox(&[
        "exec",
        "-t",
        pod.name(),
        "-c",
        "box",
        "--",
        "busybox",
        "tty",
    ]);
    assert_exit!(tty, 0);
    // The container's devpts has its own numbering: its first terminal, seen as such inside.
    assert_eq!(tty.stdout, "/dev/pts/0\r\n", "{tty:?}");

    // A stop ends a session in the container (its PID namespace goes with its PID 1) before it
    // records the pod as stopping; the session still says what ended it.
    let tmux = Tmux::start(
        &root,
        100,
        30,
        &format!("exec -it {} -c box -- sh", pod.name()),
    );
    tmux.wait_for_prompt();
    assert_exit!(pod.sandbox(&["stop", pod.name(), "-t", "1"]), 0);
    tmux.wait_for("EXIT=137");
    tmux.wait_for("MODE=cooked");
    tmux.wait_for(&format!("sandbox {:?} was stopped", pod.name()));
}
