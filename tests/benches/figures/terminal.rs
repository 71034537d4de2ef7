//! `exec -t` (issue 14):
//!
//! - `exec -t POD -- true` against `exec POD -- true` in the same rounds: what the terminal
//!   (a new pseudo-terminal, the session and its controlling terminal, the relay) adds. Target:
//!   at most +1 ms.
//! - A keystroke's echo through the relay: the benchmark is the caller's terminal (a pty whose
//!   slave is `exec -it POD -- cat`'s controlling terminal), writes one byte and times until
//!   its echo comes back, through our raw terminal, the relay, the pod's terminal (which
//!   echoes) and the relay again. Target: median at most 1 ms. The floor is one pty's own echo.

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::lab::Lab;
use crate::{Row, Table, Target, interleave, median, millis, millis_each, progress};

const ROUNDS: usize = 41;
const KEYSTROKES: usize = 300;

pub fn run(table: &mut Table) {
    let lab = Lab::open();
    let pod = lab.create();
    setup_cost(table, &lab, &pod);
    echo(table, &lab, &pod);
    lab.sandbox(&["rm", "--force", &pod]);
    let left = lab.leftovers();
    assert!(left.is_empty(), "left behind: {left:?}");
}

fn setup_cost(table: &mut Table, lab: &Lab, pod: &str) {
    progress(&format!("exec -t vs exec, {ROUNDS} rounds"));
    let samples = interleave(
        ROUNDS,
        &mut [
            &mut || lab.sandbox(&["exec", "-t", pod, "--", "true"]),
            &mut || lab.sandbox(&["exec", pod, "--", "true"]),
        ],
    );
    let with = millis(median(samples[0].clone()));
    let without = millis(median(samples[1].clone()));
    table.add(
        Row::new(
            "sandbox exec -t POD -- true: what the terminal adds",
            with - without,
            "ms",
        )
        .target(Target::AtMost(1.0))
        .note(format!("{with:.2} ms with -t, {without:.2} ms without")),
    );
}

/// Makes the pty's slave the controlling terminal of the process about to exec.
fn take_the_terminal() -> std::io::Result<()> {
    nix::unistd::setsid()?;
    // SAFETY: TIOCSCTTY on stdin takes an integer argument; no memory is passed.
    if unsafe { libc::ioctl(0, libc::TIOCSCTTY, 0) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Writes one byte to `master` and times until it comes back.
fn round_trip(master: &mut File, byte: u8) -> Duration {
    let start = Instant::now();
    master.write_all(&[byte]).unwrap();
    let mut got = [0u8; 1];
    loop {
        master.read_exact(&mut got).unwrap();
        if got[0] == byte {
            return start.elapsed();
        }
    }
}

fn echo(table: &mut Table, lab: &Lab, pod: &str) {
    progress(&format!(
        "keystroke echo through exec -it, {KEYSTROKES} keystrokes"
    ));
    let pty = nix::pty::openpty(None, None).unwrap();
    // Raw from the start, as exec -it will make it: no echo of our own, so every echo that
    // comes back came through the relay and the pod's terminal.
    let mut raw = nix::sys::termios::tcgetattr(&pty.slave).unwrap();
    nix::sys::termios::cfmakeraw(&mut raw);
    nix::sys::termios::tcsetattr(&pty.slave, nix::sys::termios::SetArg::TCSANOW, &raw).unwrap();
    let mut cmd = lab.command(&["exec", "-it", pod, "--", "cat"]);
    cmd.stdin(Stdio::from(pty.slave.try_clone().unwrap()))
        .stdout(Stdio::from(pty.slave.try_clone().unwrap()))
        .stderr(Stdio::from(pty.slave.try_clone().unwrap()));
    // SAFETY: the hook only makes async-signal-safe system calls and allocates nothing.
    unsafe { cmd.pre_exec(take_the_terminal) };
    let mut child = cmd.spawn().unwrap();
    drop(pty.slave);
    let mut master = File::from(pty.master);
    // The first echo says the relay and cat's terminal are up (a marker no keystroke uses).
    round_trip(&mut master, b'#');
    let ours: Vec<Duration> = (0..KEYSTROKES)
        .map(|i| round_trip(&mut master, b'a' + (i % 26) as u8))
        .collect();
    // End of line, then end of file: cat exits, and so does exec.
    master.write_all(b"\n\x04").unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "exec -it -- cat ended with {status}");

    // The floor: one pseudo-terminal echoing, no relay.
    let bare = nix::pty::openpty(None, None).unwrap();
    let _slave = File::from(bare.slave);
    let mut bare_master = File::from(bare.master);
    let floor: Vec<Duration> = (0..KEYSTROKES)
        .map(|i| round_trip(&mut bare_master, b'a' + (i % 26) as u8))
        .collect();
    table.add(
        Row::new(
            "keystroke echo round trip through exec -it (median)",
            millis(median(ours.clone())),
            "ms",
        )
        .peer(
            "one pseudo-terminal's own echo",
            millis(median(floor.clone())),
        )
        .target(Target::AtMost(1.0))
        .samples(&millis_each(&ours), Some(&millis_each(&floor))),
    );
}
