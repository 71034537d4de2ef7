//! Safe wrappers around the system calls pause makes, one small function per call.
//!
//! Each wrapper holds exactly one `unsafe` call and turns the C convention (-1 and `errno`)
//! into a [`Result`]. Most go straight to the kernel through `syscall(2)`:
//! - signal masks and waits, because musl's `sigfillset`/`sigaddset` refuse signals 32–34 (it
//!   keeps them for its own threads), but pause must block and forward *every* signal;
//! - the rest (sigaction, wait4, pipe2, openat, fcntl, clock_gettime, the identity calls),
//!   because musl's wrappers add thread locks, a vDSO lookup or fallbacks for old kernels that
//!   a single-threaded PID 1 does not need, and that would make up a sixth of its size.
//!
//! musl stays for the start code, `fork` (which keeps musl's own thread record right in the
//! child) and the one-line calls.

use core::ffi::{CStr, c_char, c_int, c_long, c_uint, c_ulong};
use core::ptr;

use crate::text::Line;

/// An error number from a failed system call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Errno(pub c_int);

/// The result of a system call.
pub type Result<T> = core::result::Result<T, Errno>;

impl Errno {
    /// The calling thread's `errno`, right after a call reported -1.
    fn last() -> Errno {
        // SAFETY: musl's `__errno_location` takes no arguments and returns this thread's errno slot.
        let slot = unsafe { libc::__errno_location() };
        // SAFETY: the slot is valid, aligned and initialised for the life of the thread.
        Errno(unsafe { *slot })
    }
}

/// Maps the C convention "-1 means failure, see errno" to a `Result`.
fn check<T: PartialEq + From<i8>>(ret: T) -> Result<T> {
    if ret == T::from(-1) {
        Err(Errno::last())
    } else {
        Ok(ret)
    }
}

/// A NULL-terminated array of C strings that lives as long as the process: `argv` or `envp`.
/// As an iterator it yields the strings; what is left of it is still such an array, which
/// is how pause hands `CMD ARGS...` to `execve` without copying.
#[derive(Clone, Copy)]
pub struct CStrs(*const *const c_char);

impl CStrs {
    /// Wraps the array at `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a NULL-terminated array of pointers to NUL-terminated strings, and
    /// the array and strings must stay valid and unchanged for the rest of the process (true of
    /// the `argv` and `envp` the C runtime passes to `main`, which pause never modifies).
    pub unsafe fn new(ptr: *const *const c_char) -> CStrs {
        CStrs(ptr)
    }
}

impl Iterator for CStrs {
    type Item = &'static CStr;

    fn next(&mut self) -> Option<&'static CStr> {
        // SAFETY: `new`'s contract: we never step past the NULL terminator, so the slot is valid.
        let item = unsafe { *self.0 };
        if item.is_null() {
            return None;
        }
        self.0 = self.0.wrapping_add(1);
        // SAFETY: `new`'s contract: a non-NULL entry is a NUL-terminated string alive forever.
        Some(unsafe { CStr::from_ptr(item) })
    }
}

/// A set of signals in the kernel's layout: bit n-1 stands for signal n, signals 1 to 64.
#[derive(Clone, Copy)]
pub struct SigSet(u64);

impl SigSet {
    /// Every signal (the kernel ignores SIGKILL and SIGSTOP in a mask).
    pub const ALL: SigSet = SigSet(!0);
    /// No signal.
    pub const NONE: SigSet = SigSet(0);

    /// Just `signal` (1 to 64).
    pub const fn of(signal: c_int) -> SigSet {
        SigSet(1 << (signal - 1))
    }

    /// This set without `signal` (1 to 64).
    pub const fn without(self, signal: c_int) -> SigSet {
        SigSet(self.0 & !SigSet::of(signal).0)
    }
}

/// Size in bytes of the kernel's signal set, which the `rt_sig*` calls take as an argument.
const SIGSET_SIZE: c_long = 8;

/// Replaces the calling thread's signal mask.
pub fn set_signal_mask(set: SigSet) -> Result<()> {
    let new: *const u64 = &set.0;
    // SAFETY: `new` points to 8 readable bytes; the old-mask pointer is NULL (not wanted).
    let ret = unsafe {
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            c_long::from(libc::SIG_SETMASK),
            new,
            ptr::null_mut::<u64>(),
            SIGSET_SIZE,
        )
    };
    check(ret).map(drop)
}

/// The kernel's `struct sigaction` (not libc's, which differs in layout).
#[repr(C)]
struct KernelSigaction {
    handler: libc::sighandler_t,
    flags: c_ulong,
    restorer: usize,
    mask: u64,
}

/// Puts SIGCHLD back to its default action. An inherited SIG_IGN would make the kernel reap
/// children by itself and throw their exit statuses away.
pub fn default_sigchld() -> Result<()> {
    let default = KernelSigaction {
        handler: libc::SIG_DFL,
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    let action: *const KernelSigaction = &default;
    // SAFETY: `action` points to a valid kernel sigaction; SIG_DFL needs no handler code or
    // restorer; the old-action pointer is NULL (not wanted).
    let ret = unsafe {
        libc::syscall(
            libc::SYS_rt_sigaction,
            c_long::from(libc::SIGCHLD),
            action,
            ptr::null_mut::<KernelSigaction>(),
            SIGSET_SIZE,
        )
    };
    check(ret).map(drop)
}

/// Waits for one signal of `set` (which must be blocked) and returns its number, or `None`
/// once the monotonic clock reaches `deadline_ns`. Without a deadline it sleeps until a signal
/// comes: no timer, no wake-up.
pub fn wait_signal(set: SigSet, deadline_ns: Option<u64>) -> Result<Option<c_int>> {
    let wanted: *const u64 = &set.0;
    loop {
        let timeout = deadline_ns.map(|deadline| {
            let left = deadline.saturating_sub(monotonic_ns());
            libc::timespec {
                tv_sec: (left / NANOS_PER_SEC) as _,
                tv_nsec: (left % NANOS_PER_SEC) as _,
            }
        });
        let timeout_ptr = timeout
            .as_ref()
            .map_or(ptr::null(), |t| t as *const libc::timespec);
        // SAFETY: `wanted` points to 8 readable bytes; the siginfo pointer may be NULL (the
        // signal number is the return value); the timeout is NULL or a live timespec.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_rt_sigtimedwait,
                wanted,
                ptr::null_mut::<libc::siginfo_t>(),
                timeout_ptr,
                SIGSET_SIZE,
            )
        };
        match check(ret) {
            Ok(signal) => return Ok(Some(signal as c_int)),
            Err(Errno(libc::EAGAIN)) => return Ok(None),
            // A stop/continue or a tracer can interrupt the wait; that is not an event.
            Err(Errno(libc::EINTR)) => continue,
            Err(errno) => return Err(errno),
        }
    }
}

/// What one non-blocking `waitpid(-1)` found.
pub enum Reaped {
    /// A child ended; its zombie is gone. The status is the raw wait status.
    Child(libc::pid_t, c_int),
    /// Children remain, none of them has ended yet.
    Running,
    /// No children at all.
    NoChildren,
}

/// Reaps one ended child if there is one, without blocking: child `pid`, or any child when
/// `pid` is -1. With `stops`, a child that has stopped is reported too (once per stop,
/// `WUNTRACED`); it stays a child.
pub fn reap_one(pid: libc::pid_t, stops: bool) -> Result<Reaped> {
    let flags = if stops {
        libc::WNOHANG | libc::WUNTRACED
    } else {
        libc::WNOHANG
    };
    let mut status: c_int = 0;
    let status_ptr: *mut c_int = &mut status;
    // SAFETY: `status_ptr` points to an int the kernel may write; the rusage pointer is NULL.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_wait4,
            c_long::from(pid),
            status_ptr,
            c_long::from(flags),
            ptr::null_mut::<libc::rusage>(),
        )
    };
    match check(ret) {
        Ok(0) => Ok(Reaped::Running),
        Ok(pid) => Ok(Reaped::Child(pid as libc::pid_t, status)),
        Err(Errno(libc::ECHILD)) => Ok(Reaped::NoChildren),
        Err(errno) => Err(errno),
    }
}

/// `waitid(idtype, id, WEXITED | WNOHANG | WNOWAIT | extra)`: the PID of a child that matches
/// and has ended (0 if none has yet), its status left in place for a later wait.
fn peek(idtype: libc::idtype_t, id: libc::pid_t, extra: c_int) -> Result<libc::pid_t> {
    // SAFETY: siginfo_t is a plain C struct for which all-zero is a valid value.
    let mut info: libc::siginfo_t = unsafe { core::mem::zeroed() };
    let info_ptr: *mut libc::siginfo_t = &mut info;
    let flags = libc::WEXITED | libc::WNOHANG | libc::WNOWAIT | extra;
    // SAFETY: `info_ptr` points to a siginfo_t the kernel may write; the rusage pointer is NULL.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_waitid,
            c_long::from(idtype),
            c_long::from(id),
            info_ptr,
            c_long::from(flags),
            ptr::null_mut::<libc::rusage>(),
        )
    };
    check(ret)?;
    // SAFETY: waitid filled `info` for a child (si_pid is set) or left it zeroed (0: none).
    Ok(unsafe { info.si_pid() })
}

/// Whether `pid` is a child of this process (running, or a zombie not yet reaped).
pub fn is_child(pid: libc::pid_t) -> bool {
    pid > 0 && peek(libc::P_PID, pid, libc::WSTOPPED).is_ok()
}

/// Whether a child has ended, without reaping it: `Reaped::Child` carries its PID (and a
/// status of 0: the status stays with the zombie for a later wait).
pub fn peek_children() -> Result<Reaped> {
    match peek(libc::P_ALL, 0, 0) {
        Ok(0) => Ok(Reaped::Running),
        Ok(pid) => Ok(Reaped::Child(pid, 0)),
        Err(Errno(libc::ECHILD)) => Ok(Reaped::NoChildren),
        Err(errno) => Err(errno),
    }
}

/// This process's PID as its own PID namespace sees it.
pub fn getpid() -> libc::pid_t {
    // SAFETY: getpid takes no arguments and cannot fail.
    unsafe { libc::getpid() }
}

/// This process's process group.
pub fn getpgrp() -> libc::pid_t {
    // SAFETY: getpgid(0) takes an integer and cannot fail for the calling process.
    unsafe { libc::syscall(libc::SYS_getpgid, c_long::from(0u8)) as libc::pid_t }
}

/// Makes the calling process the leader of a new process group (`setpgid(0, 0)`).
pub fn set_own_process_group() -> Result<()> {
    let zero = c_long::from(0u8);
    // SAFETY: setpgid takes integers and touches no memory.
    check(unsafe { libc::syscall(libc::SYS_setpgid, zero, zero) }).map(drop)
}

/// The foreground process group of the terminal on `fd`. ENOTTY unless it is the caller's
/// controlling terminal.
pub fn foreground_group(fd: c_int) -> Result<libc::pid_t> {
    let mut group: libc::pid_t = 0;
    let group_ptr: *mut libc::pid_t = &mut group;
    let request = c_long::from(libc::TIOCGPGRP);
    // SAFETY: TIOCGPGRP writes one pid_t to `group_ptr`, which points to one.
    check(unsafe { libc::syscall(libc::SYS_ioctl, c_long::from(fd), request, group_ptr) })?;
    Ok(group)
}

/// Makes `group` the foreground process group of the terminal on `fd` (`tcsetpgrp`). A caller
/// outside the foreground group must have SIGTTOU blocked or ignored, or it is stopped.
pub fn set_foreground_group(fd: c_int, group: libc::pid_t) -> Result<()> {
    let group_ptr: *const libc::pid_t = &group;
    let request = c_long::from(libc::TIOCSPGRP);
    // SAFETY: TIOCSPGRP reads one pid_t from `group_ptr`, which points to one.
    check(unsafe { libc::syscall(libc::SYS_ioctl, c_long::from(fd), request, group_ptr) }).map(drop)
}

/// Sends `signal` to every process of process group `group` (which must be above 1: -1 would
/// mean every process).
pub fn kill_group(group: libc::pid_t, signal: c_int) -> Result<()> {
    if group <= 1 {
        return Err(Errno(libc::EINVAL));
    }
    // SAFETY: kill takes plain integers; -group is below -1, so it names one process group.
    check(unsafe { libc::kill(-group, signal) }).map(drop)
}

/// Sends `signal` to every process of the caller's own process group, the caller included.
pub fn kill_own_group(signal: c_int) {
    // SAFETY: kill takes plain integers; 0 means the caller's process group. It cannot fail:
    // the caller is in the group and may signal itself.
    let _ = unsafe { libc::kill(0, signal) };
}

/// Proof that this process is PID 1 of its PID namespace: the only licence for [`kill_all`].
pub struct Pid1(());

/// `Some` when this process is PID 1 of its PID namespace.
pub fn pid1() -> Option<Pid1> {
    (getpid() == 1).then_some(Pid1(()))
}

/// Sends `signal` to one process.
pub fn kill(pid: libc::pid_t, signal: c_int) -> Result<()> {
    // SAFETY: kill takes plain integers; `pid` is a positive PID, never 0 or -1.
    check(unsafe { libc::kill(pid, signal) }).map(drop)
}

/// Sends `signal` to every other process of the PID namespace (`kill(-1)` as its PID 1).
/// Outside a new PID namespace `kill(-1)` would hit every process of the host that we may
/// signal, so it takes the [`Pid1`] proof. ESRCH (nobody left) is not an error.
pub fn kill_all(_: &Pid1, signal: c_int) {
    // SAFETY: kill takes plain integers. pause is PID 1 (the proof), so -1 means its namespace.
    let _ = unsafe { libc::kill(-1, signal) };
}

/// Marks this process a child subreaper: orphans of its subtree are re-parented to it, not to
/// PID 1 of the namespace, so it can reap them.
pub fn set_child_subreaper() -> Result<()> {
    // SAFETY: PR_SET_CHILD_SUBREAPER takes one integer argument.
    check(unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, c_ulong::from(1u8)) }).map(drop)
}

/// Sets `no_new_privs`: execve can no longer grant privileges (setuid bits, file capabilities).
pub fn set_no_new_privs() -> Result<()> {
    let (on, unused) = (c_ulong::from(1u8), c_ulong::from(0u8));
    // SAFETY: PR_SET_NO_NEW_PRIVS takes the value 1 and requires the other arguments to be 0.
    check(unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, on, unused, unused, unused) }).map(drop)
}

/// Drops from the capability bounding set every capability whose bit is clear in `keep` (bit
/// n is capability n): after that no execve, of a setuid program or as root, can grant them.
/// Stops at the first capability the kernel does not know (EINVAL).
pub fn limit_bounding_set(keep: u64) -> Result<()> {
    let unused = c_ulong::from(0u8);
    for cap in 0..64u8 {
        if keep & (1u64 << cap) != 0 {
            continue;
        }
        // SAFETY: PR_CAPBSET_DROP takes a capability number and requires no pointer.
        let ret = unsafe {
            libc::prctl(
                libc::PR_CAPBSET_DROP,
                c_ulong::from(cap),
                unused,
                unused,
                unused,
            )
        };
        match check(ret) {
            Ok(_) => {}
            Err(Errno(libc::EINVAL)) => return Ok(()),
            Err(errno) => return Err(errno),
        }
    }
    Ok(())
}

// The three identity calls below use the raw system call. It changes only the calling thread,
// which is all there is in the forked child, and it skips musl's broadcast to every thread
// (`__synccall`), which the child does not need.

/// Drops all supplementary groups (`setgroups(0, NULL)`).
pub fn drop_supplementary_groups() -> Result<()> {
    // SAFETY: a count of 0 with a NULL list reads no memory.
    let ret =
        unsafe { libc::syscall(libc::SYS_setgroups, 0 as c_long, ptr::null::<libc::gid_t>()) };
    check(ret).map(drop)
}

/// Sets the real, effective and saved group ID.
pub fn set_gid(gid: u32) -> Result<()> {
    // SAFETY: setgid takes one integer.
    check(unsafe { libc::syscall(libc::SYS_setgid, c_long::from(gid)) }).map(drop)
}

/// Sets the real, effective and saved user ID.
pub fn set_uid(uid: u32) -> Result<()> {
    // SAFETY: setuid takes one integer.
    check(unsafe { libc::syscall(libc::SYS_setuid, c_long::from(uid)) }).map(drop)
}

/// Marks every descriptor from `first` up close-on-exec (`close_range`, Linux 5.11). Marking
/// rather than closing keeps the exec-status pipe usable until the exec itself.
pub fn set_cloexec_from(first: c_uint) -> Result<()> {
    let flags = c_long::from(libc::CLOSE_RANGE_CLOEXEC);
    // SAFETY: close_range takes integers only and touches no memory.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            c_long::from(first),
            c_long::from(c_uint::MAX),
            flags,
        )
    };
    check(ret).map(drop)
}

/// Whether `fd` is an open descriptor.
pub fn is_open(fd: c_int) -> bool {
    // SAFETY: F_GETFD takes no third argument and only reads the descriptor's flags.
    unsafe {
        libc::syscall(
            libc::SYS_fcntl,
            c_long::from(fd),
            c_long::from(libc::F_GETFD),
        ) != -1
    }
}

/// How `fork` returned.
pub enum Forked {
    /// In the new child.
    Child,
    /// In the parent, with the child's PID.
    Parent(libc::pid_t),
}

/// Forks. pause never starts a thread, so the child is a complete copy; it runs only
/// async-signal-safe code (pause has no allocator at all) until it execs or exits.
pub fn fork() -> Result<Forked> {
    // SAFETY: single-threaded process, see above.
    let pid = check(unsafe { libc::fork() })?;
    Ok(if pid == 0 {
        Forked::Child
    } else {
        Forked::Parent(pid)
    })
}

/// Replaces the process image with `path`. It returns only on failure, with the reason.
pub fn execve(path: &CStr, argv: CStrs, envp: CStrs) -> Errno {
    // SAFETY: `path` is NUL-terminated; `argv` and `envp` are NULL-terminated arrays of strings
    // that live for the whole process (the `CStrs` contract).
    unsafe { libc::execve(path.as_ptr(), argv.0, envp.0) };
    Errno::last()
}

/// Ends the process at once with `code`. pause never buffers output, so nothing is lost.
pub fn exit(code: c_int) -> ! {
    // SAFETY: _exit takes an integer and does not return.
    unsafe { libc::_exit(code) }
}

/// An owned file descriptor, closed on drop.
pub struct Fd(c_int);

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: `Fd` owns the descriptor, so nothing else closes or reuses it.
        unsafe { libc::close(self.0) };
    }
}

impl Fd {
    /// Reads once into `buf`; 0 means end of file.
    pub fn read(&self, buf: &mut [u8]) -> Result<usize> {
        // SAFETY: `buf` is valid for `buf.len()` bytes of writes.
        let n = check(unsafe { libc::read(self.0, buf.as_mut_ptr().cast(), buf.len()) })?;
        Ok(n as usize)
    }

    /// Writes all of `bytes`.
    pub fn write_all(&self, bytes: &[u8]) -> Result<()> {
        write_all(self.0, bytes)
    }

    /// Flushes the file's data and metadata to disk.
    pub fn sync(&self) -> Result<()> {
        // SAFETY: fsync takes a descriptor and touches no memory.
        check(unsafe { libc::fsync(self.0) }).map(drop)
    }

    /// Writes all of `bytes` at the start of the file (`pwrite`), whatever its offset.
    pub fn write_at_start(&self, mut bytes: &[u8]) -> Result<()> {
        let mut offset: c_long = 0;
        while !bytes.is_empty() {
            // SAFETY: `bytes` is valid for `bytes.len()` bytes of reads.
            let ret = unsafe {
                libc::syscall(
                    libc::SYS_pwrite64,
                    c_long::from(self.0),
                    bytes.as_ptr(),
                    bytes.len(),
                    offset,
                )
            };
            let n = check(ret)?;
            bytes = bytes.get(n as usize..).unwrap_or_default();
            offset += n;
        }
        Ok(())
    }

    /// Cuts (or extends) the file to `len` bytes.
    pub fn truncate(&self, len: usize) -> Result<()> {
        // SAFETY: ftruncate takes integers and touches no memory.
        let ret = unsafe { libc::syscall(libc::SYS_ftruncate, c_long::from(self.0), len) };
        check(ret).map(drop)
    }

    /// Gives the file a name: `path`, which must not exist. `linkat(AT_EMPTY_PATH)` may need
    /// CAP_DAC_READ_SEARCH (older kernels ask it of every caller) and answers ENOENT without
    /// it; then the link is made through `/proc/self/fd/N`, as open(2) shows for `O_TMPFILE`.
    pub fn link(&self, path: &CStr) -> Result<()> {
        let at = c_long::from(libc::AT_FDCWD);
        let empty = c"";
        // SAFETY: both paths are NUL-terminated; the descriptor is open.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_linkat,
                c_long::from(self.0),
                empty.as_ptr(),
                at,
                path.as_ptr(),
                c_long::from(libc::AT_EMPTY_PATH),
            )
        };
        match check(ret) {
            Err(Errno(libc::ENOENT)) => {}
            other => return other.map(drop),
        }
        let mut proc_fd = Line::<32>::new();
        proc_fd
            .push(b"/proc/self/fd/")
            .push_i64(self.0.into())
            .push(b"\0");
        let proc_fd =
            CStr::from_bytes_with_nul(proc_fd.as_bytes()).map_err(|_| Errno(libc::EINVAL))?;
        // SAFETY: both paths are NUL-terminated.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_linkat,
                at,
                proc_fd.as_ptr(),
                at,
                path.as_ptr(),
                c_long::from(libc::AT_SYMLINK_FOLLOW),
            )
        };
        check(ret).map(drop)
    }
}

/// Writes all of `bytes` to `fd`, which the caller keeps open.
pub fn write_all(fd: c_int, mut bytes: &[u8]) -> Result<()> {
    while !bytes.is_empty() {
        // SAFETY: `bytes` is valid for `bytes.len()` bytes of reads.
        let n = check(unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) })?;
        bytes = bytes.get(n as usize..).unwrap_or_default();
    }
    Ok(())
}

/// Closes a descriptor that pause was handed on the command line.
pub fn close(fd: c_int) {
    // SAFETY: close takes an integer; the caller gives up the descriptor.
    unsafe { libc::close(fd) };
}

/// A pipe whose two ends are close-on-exec: (read end, write end).
pub fn pipe_cloexec() -> Result<(Fd, Fd)> {
    let mut fds: [c_int; 2] = [-1; 2];
    let fds_ptr = fds.as_mut_ptr();
    // SAFETY: `fds_ptr` has room for the two descriptors the kernel writes.
    check(unsafe { libc::syscall(libc::SYS_pipe2, fds_ptr, c_long::from(libc::O_CLOEXEC)) })?;
    Ok((Fd(fds[0]), Fd(fds[1])))
}

/// Opens `path` for reading.
pub fn open_read(path: &CStr) -> Result<Fd> {
    let flags = libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NOCTTY;
    // SAFETY: `path` is NUL-terminated; without O_CREAT openat ignores the mode argument.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_openat,
            c_long::from(libc::AT_FDCWD),
            path.as_ptr(),
            c_long::from(flags),
            0 as c_long,
        )
    };
    check(ret).map(|fd| Fd(fd as c_int))
}

/// Creates a file without a name in directory `dir` (`O_TMPFILE`), mode 0600, for writing.
/// It disappears with its last descriptor unless [`Fd::link`] gives it a name.
pub fn create_unnamed(dir: &CStr) -> Result<Fd> {
    let flags = libc::O_TMPFILE | libc::O_WRONLY | libc::O_CLOEXEC;
    let mode: c_long = 0o600;
    // SAFETY: `dir` is NUL-terminated; with O_TMPFILE openat reads the mode argument.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_openat,
            c_long::from(libc::AT_FDCWD),
            dir.as_ptr(),
            c_long::from(flags),
            mode,
        )
    };
    check(ret).map(|fd| Fd(fd as c_int))
}

/// Renames `from` to `to`, replacing `to` atomically.
pub fn rename(from: &CStr, to: &CStr) -> Result<()> {
    // SAFETY: both paths are NUL-terminated.
    check(unsafe { libc::rename(from.as_ptr(), to.as_ptr()) }).map(drop)
}

const NANOS_PER_SEC: u64 = 1_000_000_000;

fn clock_ns(clock: libc::clockid_t) -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    let now_ptr: *mut libc::timespec = &mut now;
    // SAFETY: `now_ptr` points to a timespec to write; both clocks pause reads exist on every
    // Linux, so the call cannot fail. (The system call, not the vDSO: pause reads the clock a
    // handful of times in its life.)
    unsafe { libc::syscall(libc::SYS_clock_gettime, c_long::from(clock), now_ptr) };
    (now.tv_sec as u64) * NANOS_PER_SEC + now.tv_nsec as u64
}

/// Nanoseconds on the monotonic clock, for deadlines.
pub fn monotonic_ns() -> u64 {
    clock_ns(libc::CLOCK_MONOTONIC)
}

/// Nanoseconds since the Unix epoch (CLOCK_REALTIME), for the exit file.
pub fn realtime_ns() -> u64 {
    clock_ns(libc::CLOCK_REALTIME)
}

/// Converts whole seconds to nanoseconds.
pub fn secs_to_ns(secs: u32) -> u64 {
    u64::from(secs) * NANOS_PER_SEC
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_without_one_signal() {
        let all_but_tstp = SigSet::ALL.without(libc::SIGTSTP);
        assert_eq!(all_but_tstp.0, !(1u64 << (libc::SIGTSTP - 1)));
        assert_eq!(SigSet::of(libc::SIGCONT).without(libc::SIGCONT).0, 0);
    }
}
