//! `sandbox exec [-i] [-t] POD [OPTIONS] -- CMD`: run CMD in the foreground inside the pod,
//! passing on the signals a user or a script sends, and exit with its code.
//!
//! With `-t` CMD gets a terminal of its own (see `pod::exec`); this side relays it: the
//! caller's terminal goes raw (so Ctrl-C, Ctrl-Z, Ctrl-\ are bytes that the pod's terminal
//! turns into signals for CMD's foreground group, once), keys go to the terminal's master, its
//! output comes back, and a window change (SIGWINCH) becomes the terminal's new size. The
//! caller's terminal is restored on every way out that leaves us running.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd};

use sandbox::sys::pty::{self, RawMode};
use sandbox::{Error, ExecIo, ExecSession, Host, Result};

/// `exec`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Pass stdin on to the command. Without it the command reads nothing (/dev/null), or with
    /// -t its terminal, to which nothing is typed.
    #[arg(short, long)]
    pub interactive: bool,
    /// Give the command a terminal of its own (a new pseudo-terminal, sized like ours), and put
    /// ours in raw mode while it runs. With -i, stdin must be a terminal.
    #[arg(short, long)]
    pub tty: bool,
    /// Pod name.
    pub name: String,
    /// Run the command inside this container: its mount and PID namespaces too, and its
    /// environment, working directory and user unless given here (like `kubectl exec -c`).
    #[arg(short, long, value_name = "C")]
    pub container: Option<String>,
    #[command(flatten)]
    pub process: super::Process,
}

/// The signals passed on to the command (with -t, SIGWINCH resizes its terminal instead).
const FORWARDED: [i32; 8] = [
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGWINCH,
    libc::SIGCONT,
];

pub fn run(host: &Host, args: Args) -> Result<u8> {
    let command = args.process.into_spec()?;
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let stdin_is_terminal = pty::is_terminal(stdin.as_fd());
    if args.tty && args.interactive && !stdin_is_terminal {
        return Err(Error::InvalidInput {
            what: "option",
            value: "--tty".to_owned(),
            reason: "the input device is not a TTY: with -i, -t needs a terminal on stdin \
                     (leave out -t to pipe into the command)"
                .to_owned(),
        });
    }
    // Caught before anything else: a signal arriving before the handlers were in place would
    // kill this CLI by its default action and orphan the command, and a window change between
    // reading our size and catching SIGWINCH would be lost.
    let signals = signal_hook::iterator::Signals::new(FORWARDED).map_err(|e| Error::Io {
        what: "installing signal handlers to forward signals to exec".to_owned(),
        source: e,
    })?;
    let io = ExecIo {
        interactive: args.interactive,
        terminal: args.tty,
        window: args
            .tty
            .then(|| pty::window_size(stdin.as_fd()).or_else(|| pty::window_size(stdout.as_fd())))
            .flatten(),
    };
    // Raw before the command starts: what is typed meanwhile is the command's, not echoed here.
    let raw = match args.tty && args.interactive {
        true => Some(RawMode::enter(stdin.as_fd())?),
        false => None,
    };
    let mut session = host.exec(&args.name, args.container.as_deref(), &command, &io)?;
    let pid = session.launcher().pid();
    // Waited for without reaping, so that the PID stays the launcher's until its record is
    // gone (a new session could get it, and its record the same name).
    let code = match session.take_terminal() {
        Some(master) => relay_terminal(&session, master, signals, args.interactive),
        None => wait_forwarding_signals(&session, None, signals),
    };
    drop(raw);
    if let Err(error) = session.finish() {
        log::warn!("{}", sandbox::error_chain(&error));
    }
    reap(pid);
    // A session a stop ended was killed (137): say so, once the stop is done.
    if code.as_ref().is_ok_and(|code| *code >= 128) && host.pod_was_stopped(&args.name) {
        let _ = writeln!(
            std::io::stderr(),
            "sandbox: sandbox {:?} was stopped, and this session with it",
            args.name
        );
    }
    code
}

/// Relays the session's terminal until its command is done: our stdin to the terminal (with
/// `-i`, on a thread of its own, which may stay blocked in a read when we are done), the
/// terminal's output to our stdout; then the launcher's exit code.
fn relay_terminal(
    session: &ExecSession,
    master: File,
    signals: signal_hook::iterator::Signals,
    interactive: bool,
) -> Result<u8> {
    if interactive && let Err(error) = spawn_key_relay(&master) {
        // Without its keys the session is of no use: end it, and say why.
        log::warn!("{}; ending the session", sandbox::error_chain(&error));
        let _ = session.launcher().send_signal(libc::SIGKILL);
    }
    std::thread::scope(|scope| {
        let relay = std::thread::Builder::new()
            .name("output".to_owned())
            .spawn_scoped(scope, || copy_output(session, &master));
        if let Err(error) = &relay {
            log::warn!("starting the terminal's output relay: {error}; ending the session");
            let _ = session.launcher().send_signal(libc::SIGKILL);
        }
        let code = wait_forwarding_signals(session, Some(master.as_fd()), signals);
        if let Ok(relay) = relay
            && let Ok(Err(error)) = relay.join()
        {
            log::warn!("{}", sandbox::error_chain(&error));
        }
        code
    })
}

/// Copies our stdin to the terminal's master, on a thread of its own (which may stay blocked in
/// a read once the session is over: the process ends with it).
fn spawn_key_relay(master: &File) -> Result<()> {
    let mut keys = master.try_clone().map_err(|e| Error::Io {
        what: "duplicating the terminal's master".to_owned(),
        source: e,
    })?;
    std::thread::Builder::new()
        .name("keys".to_owned())
        .spawn(move || {
            let mut stdin = std::io::stdin().lock();
            let mut buffer = [0u8; 4096];
            loop {
                match stdin.read(&mut buffer) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if keys.write_all(&buffer[..n]).is_err() {
                            break;
                        }
                    }
                }
            }
        })
        .map(drop)
        .map_err(|e| Error::Io {
            what: "starting the key relay".to_owned(),
            source: e,
        })
}

/// Copies what the terminal's master gives to our stdout until it reads end-of-file (EIO: the
/// command and all it started have let go of the terminal), or for [`DRAIN_AFTER_EXIT`] after
/// the launcher exited. A stdout that fails sends the session leader SIGHUP, and what comes
/// after is read and dropped.
fn copy_output(session: &ExecSession, master: &File) -> Result<()> {
    let mut screen = ScreenModes::default();
    let copied = copy_output_watching(session, master, &mut screen);
    // A command killed in a full-screen program (a stop, a SIGKILL) left the terminal as it
    // drew it: undo what its output switched on and never off.
    let undo = screen.undo();
    if !undo.is_empty() {
        let mut stdout = std::io::stdout().lock();
        let _ = stdout
            .write_all(undo.as_bytes())
            .and_then(|()| stdout.flush());
    }
    copied
}

/// The terminal modes a command's output switched, that a command that dies must not leave
/// behind: the alternate screen (vi, top, less), a hidden cursor, mouse reporting, bracketed
/// paste, application cursor keys and keypad.
#[derive(Debug, Default)]
struct ScreenModes {
    on: [bool; MODES.len()],
    /// The end of the previous chunk, so that a sequence split between two reads is seen.
    tail: Vec<u8>,
}

/// A mode: the sequences that switch it on and off, and the one that switches it off again.
struct Mode {
    on: &'static [&'static [u8]],
    off: &'static [&'static [u8]],
    undo: &'static str,
}

const MODES: [Mode; 6] = [
    Mode {
        on: &[b"\x1b[?1049h", b"\x1b[?1047h", b"\x1b[?47h"],
        off: &[b"\x1b[?1049l", b"\x1b[?1047l", b"\x1b[?47l"],
        undo: "\x1b[?1049l",
    },
    Mode {
        on: &[b"\x1b[?25l"],
        off: &[b"\x1b[?25h"],
        undo: "\x1b[?25h",
    },
    Mode {
        on: &[
            b"\x1b[?1000h",
            b"\x1b[?1002h",
            b"\x1b[?1003h",
            b"\x1b[?1006h",
        ],
        off: &[
            b"\x1b[?1000l",
            b"\x1b[?1002l",
            b"\x1b[?1003l",
            b"\x1b[?1006l",
        ],
        undo: "\x1b[?1006l\x1b[?1003l\x1b[?1002l\x1b[?1000l",
    },
    Mode {
        on: &[b"\x1b[?2004h"],
        off: &[b"\x1b[?2004l"],
        undo: "\x1b[?2004l",
    },
    Mode {
        on: &[b"\x1b[?1h"],
        off: &[b"\x1b[?1l"],
        undo: "\x1b[?1l",
    },
    Mode {
        on: &[b"\x1b="],
        off: &[b"\x1b>"],
        undo: "\x1b>",
    },
];

impl ScreenModes {
    /// Notes the mode switches in `chunk`, the next piece of output.
    fn see(&mut self, chunk: &[u8]) {
        let mut text = std::mem::take(&mut self.tail);
        text.extend_from_slice(chunk);
        let last = |needles: &[&[u8]]| {
            needles
                .iter()
                .filter_map(|needle| {
                    text.windows(needle.len())
                        .rposition(|window| window == *needle)
                })
                .max()
        };
        for (on, mode) in self.on.iter_mut().zip(&MODES) {
            match (last(mode.on), last(mode.off)) {
                (Some(switched_on), Some(switched_off)) => *on = switched_on > switched_off,
                (Some(_), None) => *on = true,
                (None, Some(_)) => *on = false,
                (None, None) => {}
            }
        }
        let keep = text.len().saturating_sub(7);
        self.tail = text.split_off(keep);
    }

    /// The sequences that switch back what is still on.
    fn undo(&self) -> String {
        self.on
            .iter()
            .zip(&MODES)
            .filter(|(on, _)| **on)
            .map(|(_, mode)| mode.undo)
            .collect()
    }
}

fn copy_output_watching(
    session: &ExecSession,
    master: &File,
    screen: &mut ScreenModes,
) -> Result<()> {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let mut stdout = std::io::stdout().lock();
    let mut buffer = [0u8; 16384];
    // Once the launcher is gone, what its leftovers still write is read for a moment only.
    let mut drain_until: Option<std::time::Instant> = None;
    let mut broken: Option<std::io::Error> = None;
    loop {
        let mut fds = [
            PollFd::new(master.as_fd(), PollFlags::POLLIN),
            PollFd::new(session.launcher().as_fd(), PollFlags::POLLIN),
        ];
        let timeout = match drain_until {
            Some(deadline) => {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                PollTimeout::try_from(left).unwrap_or(PollTimeout::ZERO)
            }
            None => PollTimeout::NONE,
        };
        match poll(&mut fds, timeout) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(errno) => {
                return Err(Error::Os {
                    what: "waiting for the terminal's output".to_owned(),
                    source: errno,
                });
            }
        }
        let master_events = fds[0].revents().unwrap_or(PollFlags::empty());
        if fds[1].revents().is_some_and(|r| !r.is_empty()) && drain_until.is_none() {
            drain_until = Some(std::time::Instant::now() + DRAIN_AFTER_EXIT);
        }
        if master_events.intersects(PollFlags::POLLERR | PollFlags::POLLNVAL) {
            break;
        }
        if !master_events.intersects(PollFlags::POLLIN | PollFlags::POLLHUP) {
            if drain_until.is_some_and(|deadline| std::time::Instant::now() >= deadline) {
                break;
            }
            continue;
        }
        let n = match (&*master).read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            // EIO: the slave side is closed by every process that had it.
            Err(e) if e.raw_os_error() == Some(libc::EIO) => break,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(Error::Io {
                    what: "reading the terminal's output".to_owned(),
                    source: e,
                });
            }
        };
        if broken.is_some() {
            continue; // read and dropped, so the command never blocks writing
        }
        screen.see(&buffer[..n]);
        if let Err(e) = stdout.write_all(&buffer[..n]).and_then(|()| stdout.flush()) {
            // Nowhere to show it: the session leader gets SIGHUP, as from a closed terminal.
            let _ = session.launcher().send_signal(libc::SIGHUP);
            broken = Some(e);
        }
    }
    match broken {
        Some(e) => Err(Error::Io {
            what: "writing the terminal's output to stdout".to_owned(),
            source: e,
        }),
        None => Ok(()),
    }
}

/// How long the relay goes on reading after the launcher exited (what the command wrote last,
/// or processes it left that still hold the terminal).
const DRAIN_AFTER_EXIT: std::time::Duration = std::time::Duration::from_millis(100);

/// Waits for the session's launcher (pause in init mode), passing on the signals a user or a
/// script sends us (SIGWINCH resizes `terminal` instead, if the command has one), and returns
/// its exit code (128+n if it was killed by signal n).
fn wait_forwarding_signals(
    session: &ExecSession,
    terminal: Option<BorrowedFd<'_>>,
    mut signals: signal_hook::iterator::Signals,
) -> Result<u8> {
    let launcher = session.launcher();
    let pid = launcher.pid();
    std::thread::scope(|scope| {
        let handle = signals.handle();
        scope.spawn(move || {
            for signal in signals.forever() {
                if let (libc::SIGWINCH, Some(terminal)) = (signal, terminal) {
                    resize(terminal);
                    continue;
                }
                if let Err(error) = launcher.send_signal(signal) {
                    log::warn!("{}", sandbox::error_chain(&error));
                }
            }
        });
        let code = wait_for(pid);
        handle.close();
        code
    })
}

/// Gives the command's terminal the size of ours.
fn resize(terminal: BorrowedFd<'_>) {
    let ours = pty::window_size(std::io::stdin().as_fd())
        .or_else(|| pty::window_size(std::io::stdout().as_fd()));
    if let Some(size) = ours
        && let Err(error) = pty::set_window_size(terminal, size)
    {
        log::warn!("{}", sandbox::error_chain(&error));
    }
}

/// Waits until the launcher `pid` has exited, leaving it a zombie (`WNOWAIT`), and returns its
/// exit code (128+n if signal n killed it).
fn wait_for(pid: i32) -> Result<u8> {
    use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
    loop {
        match waitid(
            Id::Pid(nix::unistd::Pid::from_raw(pid)),
            WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT,
        ) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(code as u8),
            Ok(WaitStatus::Signaled(_, signal, _)) => {
                return Ok(sandbox::exit::code_for_signal(signal as i32) as u8);
            }
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(errno) => {
                return Err(Error::Os {
                    what: format!("waiting for exec process {pid}"),
                    source: errno,
                });
            }
        }
    }
}

/// Reaps the launcher that [`wait_for`] left a zombie.
fn reap(pid: i32) {
    if let Err(errno) = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None) {
        log::warn!("reaping exec process {pid}: {errno}");
    }
}

#[cfg(test)]
mod tests {
    use super::ScreenModes;

    #[test]
    fn what_a_full_screen_program_left_on_is_undone() {
        let mut screen = ScreenModes::default();
        screen.see(b"\x1b[?1049h\x1b[?25lhello");
        assert_eq!(screen.undo(), "\x1b[?1049l\x1b[?25h");
        screen.see(b"\x1b[?25h");
        assert_eq!(screen.undo(), "\x1b[?1049l");
        // Split between two reads.
        screen.see(b"bye\x1b[?10");
        screen.see(b"49l");
        assert_eq!(screen.undo(), "");
        let mut plain = ScreenModes::default();
        plain.see(b"just text\r\n");
        assert_eq!(plain.undo(), "");
        let mut less = ScreenModes::default();
        less.see(b"\x1b[?1h\x1b=\x1b[?2004hpage");
        assert_eq!(less.undo(), "\x1b[?2004l\x1b[?1l\x1b>");
    }
}
