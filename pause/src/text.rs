//! Text without an allocator: a fixed-size line buffer with a decimal formatter, the
//! descriptions of the error numbers pause can meet, and one-line messages on stderr.
//!
//! Every message pause prints is built in full first and written with one `write(2)`, so
//! lines from pause and its child never interleave mid-line.

use crate::sys::{self, Errno};

/// A line of at most `N` bytes on the stack. Pushing past the end truncates and sets a flag,
/// which callers that need the exact bytes (paths) check.
pub struct Line<const N: usize> {
    bytes: [u8; N],
    len: usize,
    truncated: bool,
}

impl<const N: usize> Line<N> {
    /// An empty line.
    pub const fn new() -> Self {
        Line {
            bytes: [0; N],
            len: 0,
            truncated: false,
        }
    }

    /// Appends `bytes`, keeping what fits.
    pub fn push(&mut self, bytes: &[u8]) -> &mut Self {
        if !append(&mut self.bytes, &mut self.len, bytes) {
            self.truncated = true;
        }
        self
    }

    /// Appends `n` in decimal.
    pub fn push_u64(&mut self, n: u64) -> &mut Self {
        let mut digits = [0u8; 20];
        self.push(decimal(n, &mut digits))
    }

    /// Appends `n` in decimal, with a minus sign when negative.
    pub fn push_i64(&mut self, n: i64) -> &mut Self {
        if n < 0 {
            self.push(b"-");
        }
        self.push_u64(n.unsigned_abs())
    }

    /// Whether something did not fit.
    pub fn is_truncated(&self) -> bool {
        self.truncated
    }

    /// The bytes so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// Ends the line with `\n`, overwriting the last byte if the line is full, so a message
    /// that was cut short still ends its line.
    pub fn end(&mut self) -> &[u8] {
        if self.len == N {
            self.len -= 1;
        }
        self.push(b"\n");
        self.as_bytes()
    }
}

/// Copies what fits of `bytes` to `buf` after its first `*len` bytes; false if not all did.
/// (Not a method of `Line`, and never inlined, so one copy of the code serves every size.)
#[inline(never)]
fn append(buf: &mut [u8], len: &mut usize, bytes: &[u8]) -> bool {
    let free = buf.get_mut(*len..).unwrap_or_default();
    let n = bytes.len().min(free.len());
    free[..n].copy_from_slice(&bytes[..n]);
    *len += n;
    n == bytes.len()
}

/// Writes `n` in decimal at the end of `digits` (u64::MAX has 20) and returns those bytes.
fn decimal(mut n: u64, digits: &mut [u8; 20]) -> &[u8] {
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &digits[start..]
}

/// The name and a lowercase description of an error number, for the errors pause can meet.
fn describe(errno: Errno) -> Option<(&'static str, &'static str)> {
    Some(match errno.0 {
        libc::EPERM => ("EPERM", "operation not permitted"),
        libc::ENOENT => ("ENOENT", "no such file or directory"),
        libc::ESRCH => ("ESRCH", "no such process"),
        libc::EINTR => ("EINTR", "interrupted system call"),
        libc::EIO => ("EIO", "input/output error"),
        libc::E2BIG => ("E2BIG", "argument list too long"),
        libc::ENOEXEC => ("ENOEXEC", "exec format error"),
        libc::EBADF => ("EBADF", "bad file descriptor"),
        libc::ECHILD => ("ECHILD", "no child processes"),
        libc::EAGAIN => ("EAGAIN", "resource temporarily unavailable"),
        libc::ENOMEM => ("ENOMEM", "out of memory"),
        libc::EACCES => ("EACCES", "permission denied"),
        libc::EFAULT => ("EFAULT", "bad address"),
        libc::EEXIST => ("EEXIST", "file exists"),
        libc::ENOTDIR => ("ENOTDIR", "not a directory"),
        libc::EISDIR => ("EISDIR", "is a directory"),
        libc::EINVAL => ("EINVAL", "invalid argument"),
        libc::ENFILE => ("ENFILE", "too many open files in system"),
        libc::EMFILE => ("EMFILE", "too many open files"),
        libc::ETXTBSY => ("ETXTBSY", "text file busy"),
        libc::ENOSPC => ("ENOSPC", "no space left on device"),
        libc::EROFS => ("EROFS", "read-only file system"),
        libc::EPIPE => ("EPIPE", "broken pipe"),
        libc::ENAMETOOLONG => ("ENAMETOOLONG", "file name too long"),
        libc::ENOSYS => ("ENOSYS", "function not implemented"),
        libc::ELOOP => ("ELOOP", "too many levels of symbolic links"),
        libc::ELIBBAD => ("ELIBBAD", "accessing a corrupted shared library"),
        libc::EDQUOT => ("EDQUOT", "disk quota exceeded"),
        _ => return None,
    })
}

/// Appends the description of `errno`: `permission denied`, or `errno 95` for one pause does
/// not know by name.
pub fn push_description<const N: usize>(line: &mut Line<N>, errno: Errno) {
    match describe(errno) {
        Some((_, text)) => line.push(text.as_bytes()),
        None => line.push(b"errno ").push_i64(errno.0.into()),
    };
}

/// Appends the description and the name of `errno`: `permission denied (EACCES)`.
pub fn push_errno<const N: usize>(line: &mut Line<N>, errno: Errno) {
    push_description(line, errno);
    if let Some((name, _)) = describe(errno) {
        line.push(b" (").push(name.as_bytes()).push(b")");
    }
}

/// Writes `parts` as one line on stderr: `pause: <parts...>\n`. A failure to write is ignored:
/// stderr is where pause would report it.
pub fn say(parts: &[&[u8]]) {
    let mut line = Line::<1024>::new();
    line.push(b"pause: ");
    for part in parts {
        line.push(part);
    }
    let _ = sys::write_all(libc::STDERR_FILENO, line.end());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_integers() {
        let mut line = Line::<64>::new();
        line.push_u64(0)
            .push(b" ")
            .push_u64(u64::MAX)
            .push(b" ")
            .push_i64(-42);
        assert_eq!(line.as_bytes(), b"0 18446744073709551615 -42");
        assert!(!line.is_truncated());
    }

    #[test]
    fn truncates_and_still_ends_the_line() {
        let mut line = Line::<4>::new();
        line.push(b"abcdef");
        assert!(line.is_truncated());
        assert_eq!(line.end(), b"abc\n");
    }

    #[test]
    fn describes_errnos() {
        let mut line = Line::<64>::new();
        push_errno(&mut line, Errno(libc::EACCES));
        assert_eq!(line.as_bytes(), b"permission denied (EACCES)");
        let mut line = Line::<64>::new();
        push_errno(&mut line, Errno(4095));
        assert_eq!(line.as_bytes(), b"errno 4095");
    }
}
