//! Pseudo-terminals: a new one from a given `ptmx` (the host's `/dev/ptmx`, or a container's,
//! so that the terminal is one of the container's own devpts), window sizes, and raw mode for
//! the caller's terminal, undone on drop.
//!
//! The slave is opened from the master (`TIOCGPTPEER`, Linux 4.13), never by its path: a
//! container's devpts is not mounted where the caller could look the path up, and a path
//! lookup could be raced.

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use nix::errno::Errno;
use nix::pty::Winsize;
use nix::sys::termios::{self, SetArg, Termios};

use crate::error::{Context, Error, Result};

/// A new pseudo-terminal: its master, and its slave for the process that gets it.
#[derive(Debug)]
pub struct Pty {
    /// The side the caller reads the terminal's output from and writes its input to.
    pub master: File,
    /// The terminal itself.
    pub slave: OwnedFd,
}

impl Pty {
    /// Opens a new pseudo-terminal from `dev/ptmx` under `root` (the host's `/`, or a
    /// container's root seen through `/proc/PID/root`), of window size `size` if given (set
    /// before any process has it, so a program's first frame is drawn at that size).
    ///
    /// The path resolves inside `root` (`RESOLVE_IN_ROOT`: a container's symlink cannot lead to
    /// the host's files), the open cannot block (`O_NONBLOCK`: a serial port put there would
    /// hang us), and what it opened must be the pseudo-terminal multiplexer (character device
    /// 5:2) before any ioctl reaches it.
    pub fn open(root: BorrowedFd<'_>, root_name: &str, size: Option<Winsize>) -> Result<Pty> {
        use nix::fcntl::{OFlag, OpenHow, ResolveFlag};
        let what = || format!("opening a pseudo-terminal from {root_name}/dev/ptmx");
        let how = OpenHow::new()
            .flags(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC)
            .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
        let master = File::from(nix::fcntl::openat2(root, "dev/ptmx", how).context(what)?);
        let meta = master.metadata().context(what)?;
        use std::os::unix::fs::{FileTypeExt, MetadataExt};
        if !meta.file_type().is_char_device() || meta.rdev() != libc::makedev(5, 2) {
            return Err(Error::Io {
                what: what(),
                source: std::io::Error::other("it is not the pseudo-terminal multiplexer (5:2)"),
            });
        }
        nix::fcntl::fcntl(&master, nix::fcntl::FcntlArg::F_SETFL(OFlag::O_RDWR)).context(what)?;
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
        .context(|| "setting the window size of the command's terminal")
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
        let what = || "putting our terminal (stdin) in raw mode";
        let terminal = File::from(fd.try_clone_to_owned().context(what)?);
        let saved = termios::tcgetattr(&terminal).context(what)?;
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        termios::tcsetattr(&terminal, SetArg::TCSADRAIN, &raw).context(what)?;
        Ok(RawMode { terminal, saved })
    }

    /// Restores the terminal now (also done on drop). A terminal that hung up (EIO) has no
    /// mode left to restore.
    pub fn restore(&self) {
        match termios::tcsetattr(&self.terminal, SetArg::TCSANOW, &self.saved) {
            Ok(()) | Err(Errno::EIO) => {}
            Err(errno) => log::warn!("restoring our terminal's mode: {errno}"),
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
