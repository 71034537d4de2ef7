//! The `--exit-file`: how CMD ended, `{"pid":..,"exit_code":..,"signal":..,"finished_unix_ns":..}`
//! on one line, written so that a full file system cannot lose it.
//!
//! The space is taken before CMD starts: an unnamed file (`O_TMPFILE`, mode 0600) in the exit
//! file's directory gets a record's worth of bytes and is synced, so its block is allocated, and
//! pause keeps it open. When CMD has ended, the record overwrites those bytes (a `pwrite` into an
//! allocated block needs no new one), the file is cut to the record's length and synced, linked
//! in as `PATH.tmp` and renamed over `PATH`: a reader sees the whole record or none, and the last
//! two steps add a directory entry but no data. While CMD runs there is no name next to `PATH`,
//! and a pause killed before the end leaves nothing behind (an unnamed file goes with its last
//! descriptor).
//!
//! A file system without `O_TMPFILE` (tmpfs, ext4, xfs and btrfs have it) refuses the
//! reservation, and pause exits before starting CMD rather than run it with no way to record
//! its end.

use core::ffi::{CStr, c_int};

use crate::cli::PATH_MAX;
use crate::exit::{ExitStatus, Failure};
use crate::sys::{self, Errno, Fd};
use crate::text::{self, Line};

/// The longest record: three i32 at their longest, a u64 and the punctuation take 105 bytes.
const RECORD_MAX: usize = 128;

/// The exit file of a running CMD: its space, reserved.
pub struct ExitFile<'a> {
    path: &'a CStr,
    file: Fd,
}

impl<'a> ExitFile<'a> {
    /// Reserves the space for the record of `path`; on failure says why and exits.
    pub fn reserve(path: &'a CStr) -> ExitFile<'a> {
        match reserve_space(path) {
            Ok(file) => ExitFile { path, file },
            Err(errno) => {
                report(b"reserving exit file ", path, errno, b"");
                sys::exit(Failure::ExitFile as c_int)
            }
        }
    }

    /// Writes the record of CMD (`pid`) that ended with `status`. A failure is reported on
    /// stderr with the record itself, which is then its only copy besides pause's exit code.
    pub fn write(self, pid: libc::pid_t, status: ExitStatus) {
        let mut record = Line::<RECORD_MAX>::new();
        record
            .push(b"{\"pid\":")
            .push_i64(pid.into())
            .push(b",\"exit_code\":")
            .push_i64(status.code.into())
            .push(b",\"signal\":");
        match status.signal {
            Some(signal) => record.push_i64(signal.into()),
            None => record.push(b"null"),
        };
        record
            .push(b",\"finished_unix_ns\":")
            .push_u64(sys::realtime_ns())
            .push(b"}\n");
        let mut tmp = Line::<PATH_MAX>::new();
        tmp.push(self.path.to_bytes()).push(b".tmp\0");
        // The parser keeps PATH short enough for ".tmp" and the NUL, and a C string has no NUL
        // inside, so this cannot fail; if it somehow did, report it like any other failure.
        let written = CStr::from_bytes_with_nul(tmp.as_bytes())
            .map_err(|_| Errno(libc::ENAMETOOLONG))
            .and_then(|tmp| {
                self.file.write_at_start(record.as_bytes())?;
                self.file.truncate(record.as_bytes().len())?;
                self.file.sync()?;
                self.file.link(tmp)?;
                sys::rename(tmp, self.path)
            });
        if let Err(errno) = written {
            // Without its newline: `say` ends the line.
            let line = record.as_bytes();
            let line = line.strip_suffix(b"\n").unwrap_or(line);
            report(b"writing exit file ", self.path, errno, line);
        }
    }
}

/// An unnamed file in the directory of `path`, holding `RECORD_MAX` synced bytes.
fn reserve_space(path: &CStr) -> sys::Result<Fd> {
    let mut dir = Line::<PATH_MAX>::new();
    dir.push(parent_dir(path.to_bytes())).push(b"\0");
    let dir = CStr::from_bytes_with_nul(dir.as_bytes()).map_err(|_| Errno(libc::ENAMETOOLONG))?;
    let file = sys::create_unnamed(dir)?;
    file.write_all(&[b'\n'; RECORD_MAX])?;
    file.sync()?;
    Ok(file)
}

/// The directory of the file at `path`: `.` for a bare name, `/` for a file in the root.
fn parent_dir(path: &[u8]) -> &[u8] {
    match path.iter().rposition(|&b| b == b'/') {
        Some(0) => b"/",
        Some(slash) => &path[..slash],
        None => b".",
    }
}

/// `pause: <what><path>: <errno>[: <record>]` on stderr.
fn report(what: &[u8], path: &CStr, errno: Errno, record: &[u8]) {
    let mut reason = Line::<64>::new();
    text::push_errno(&mut reason, errno);
    let separator: &[u8] = if record.is_empty() { b"" } else { b": " };
    text::say(&[
        what,
        path.to_bytes(),
        b": ",
        reason.as_bytes(),
        separator,
        record,
    ]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unnamed_file_goes_in_the_exit_files_directory() {
        assert_eq!(
            parent_dir(b"/run/sandbox/p/containers/c/exit.json"),
            b"/run/sandbox/p/containers/c"
        );
        assert_eq!(parent_dir(b"exit.json"), b".");
        assert_eq!(parent_dir(b"/exit.json"), b"/");
        assert_eq!(parent_dir(b"state/exit.json"), b"state");
    }
}
