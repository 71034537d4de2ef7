//! Pseudo-terminals: a new one from a given `ptmx` (the host's `/dev/ptmx`, or a container's,
//! so that the terminal is one of the container's own devpts), window sizes, and raw mode for
//! the caller's terminal, undone on drop.
//!
//! The slave is opened from the master (`TIOCGPTPEER`, Linux 4.13), never by its path: a
//! container's devpts is not mounted where the caller could look the path up, and a path
//! lookup could be raced.

use std::fs::{File, OpenOptions};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use nix::errno::Errno;
use nix::pty::Winsize;
use nix::sys::termios::{self, SetArg, Termios};

use crate::error::{Context, Result};

/// A new pseudo-terminal: its master, and its slave for the process that gets it.
#[derive(Debug)]
pub struct Pty {
    /// The side the caller reads the terminal's output from and writes its input to.
    pub master: File,
    /// The terminal itself.
    pub slave: OwnedFd,
}

impl Pty {
    /// Opens a new pseudo-terminal from `ptmx`, of window size `size` if given (set before any
    /// process has it, so a program's first frame is drawn at that size).
    pub fn open(ptmx: &Path, size: Option<Winsize>) -> Result<Pty> {
        let what = || format!("opening a pseudo-terminal from {}", ptmx.display());
        let master = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOCTTY | libc::O_CLOEXEC)
            .open(ptmx)
            .context(what)?;
        let fd = master.as_raw_fd();
        let unlock: libc::c_int = 0;
        // SAFETY: TIOCSPTLCK reads one int through the pointer, which points to a live local.
        Errno::result(unsafe { libc::ioctl(fd, libc::TIOCSPTLCK, &unlock) }).context(what)?;
        // SAFETY: TIOCGPTPEER takes open flags by value and returns a new descriptor (or -1);
        // no memory is passed.
        let slave = Errno::result(unsafe {
            libc::ioctl(
                fd,
                libc::TIOCGPTPEER,
                libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
            )
        })
        .context(what)?;
        // SAFETY: the ioctl just returned this descriptor, which nothing else owns.
        let slave = unsafe { OwnedFd::from_raw_fd(slave) };
        if let Some(size) = size {
            set_window_size(master.as_fd(), size).map_err(|e| e.within(&what()))?;
        }
        Ok(Pty { master, slave })
    }
}

/// The window size of the terminal on `fd`; `None` if it is no terminal.
pub fn window_size(fd: BorrowedFd<'_>) -> Option<Winsize> {
    let mut size = Winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one `struct winsize` through the pointer, which points to a
    // live local of that layout (nix's `Winsize` is `libc::winsize`).
    let got = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, &mut size) };
    (got == 0).then_some(size)
}

/// Sets the window size of the terminal on `fd` (a master: the kernel then sends SIGWINCH to
/// the terminal's foreground process group).
pub fn set_window_size(fd: BorrowedFd<'_>, size: Winsize) -> Result<()> {
    // SAFETY: TIOCSWINSZ reads one `struct winsize` through the pointer, which points to a
    // live value of that layout.
    Errno::result(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &size) })
        .map(drop)
        .context(|| "setting a terminal's window size")
}

/// The caller's terminal in raw mode (no line editing, no echo, no signals from keys: every
/// byte goes through as typed), restored as it was on drop.
#[derive(Debug)]
pub struct RawMode {
    terminal: File,
    saved: Termios,
}

impl RawMode {
    /// Puts the terminal on `fd` in raw mode.
    pub fn enter(fd: BorrowedFd<'_>) -> Result<RawMode> {
        let what = || "putting the terminal in raw mode";
        let terminal = File::from(fd.try_clone_to_owned().context(what)?);
        let saved = termios::tcgetattr(&terminal).context(what)?;
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        termios::tcsetattr(&terminal, SetArg::TCSADRAIN, &raw).context(what)?;
        Ok(RawMode { terminal, saved })
    }

    /// Restores the terminal now (also done on drop).
    pub fn restore(&self) {
        if let Err(errno) = termios::tcsetattr(&self.terminal, SetArg::TCSADRAIN, &self.saved) {
            log::warn!("restoring the terminal's mode: {errno}");
        }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        self.restore();
    }
}

/// Whether `fd` is a terminal.
pub fn is_terminal(fd: BorrowedFd<'_>) -> bool {
    nix::unistd::isatty(fd).unwrap_or(false)
}
