//! The host side of every operation: where state lives, which `pause` runs the pods, where
//! `ip netns` looks for network namespaces, and which boot this is.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::{Context, Error, Result};
use crate::state::Store;
use crate::sys::process;

/// Where `ip netns` keeps named network namespaces.
pub const DEFAULT_NETNS_DIR: &str = "/run/netns";

/// What every pod operation needs to know about the host.
#[derive(Debug)]
pub struct Host {
    pub(crate) store: Store,
    pub(crate) pause: PathBuf,
    pub(crate) netns_dir: PathBuf,
    pub(crate) boot_id: String,
}

impl Host {
    /// Opens the state root `root` and checks that `pause` is a usable static binary.
    pub fn new(root: impl AsRef<Path>, pause: PathBuf, netns_dir: PathBuf) -> Result<Host> {
        check_privileged()?;
        check_pause_binary(&pause)?;
        Ok(Host {
            store: Store::open(root)?,
            pause,
            netns_dir,
            boot_id: process::boot_id()?,
        })
    }

    /// The state root.
    pub fn store(&self) -> &Store {
        &self.store
    }
}

/// The `pause` binary to use: `explicit` if given, else the one next to the running executable
/// (so `target/release/` and an installed `/usr/local/bin` both work).
pub fn locate_pause(explicit: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(path) = explicit {
        return Ok(path);
    }
    let exe = std::env::current_exe().context(|| "finding the sandbox executable")?;
    Ok(exe.with_file_name("pause"))
}

/// Fails unless we hold CAP_SYS_ADMIN (creating, joining and pinning namespaces need it).
pub fn check_privileged() -> Result<()> {
    const CAP_SYS_ADMIN: u32 = 21;
    let status = std::fs::read_to_string("/proc/self/status")
        .context(|| "reading /proc/self/status for our capabilities")?;
    let effective = status
        .lines()
        .find_map(|line| line.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .unwrap_or(0);
    if effective & (1 << CAP_SYS_ADMIN) == 0 {
        return Err(Error::NotPrivileged);
    }
    Ok(())
}

/// Checks that `path` is an executable, statically linked ELF: the pod's PID 1 and every
/// monitor run it, and a dynamic one would depend on the host's libc staying put.
pub fn check_pause_binary(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let problem = |reason: &str| Error::PauseBinary {
        path: path.to_owned(),
        reason: reason.to_owned(),
    };
    let meta = std::fs::metadata(path).map_err(|e| {
        problem(&format!(
            "{e} (build it with `cargo build --workspace`, or pass --pause PATH / SANDBOX_PAUSE)"
        ))
    })?;
    if !meta.is_file() || meta.permissions().mode() & 0o111 == 0 {
        return Err(problem("not an executable file"));
    }
    let mut header = Vec::with_capacity(4096);
    std::fs::File::open(path)
        .and_then(|f| f.take(64 * 1024).read_to_end(&mut header))
        .map_err(|e| problem(&format!("reading it: {e}")))?;
    match elf_has_interpreter(&header) {
        None => Err(problem("not a 64-bit little-endian ELF executable")),
        Some(true) => Err(problem(
            "dynamically linked; pause must be static (it is built for x86_64-unknown-linux-musl)",
        )),
        Some(false) => Ok(()),
    }
}

/// Whether a 64-bit little-endian ELF image has a PT_INTERP program header (a dynamic loader);
/// `None` if `image` is not such an ELF or its program headers lie beyond `image`.
fn elf_has_interpreter(image: &[u8]) -> Option<bool> {
    const PT_INTERP: u32 = 3;
    let u16_at = |at: usize| Some(u16::from_le_bytes(image.get(at..at + 2)?.try_into().ok()?));
    let u32_at = |at: usize| Some(u32::from_le_bytes(image.get(at..at + 4)?.try_into().ok()?));
    let u64_at = |at: usize| Some(u64::from_le_bytes(image.get(at..at + 8)?.try_into().ok()?));
    // e_ident: magic, ELFCLASS64 (2), ELFDATA2LSB (1).
    if image.get(..6)? != b"\x7fELF\x02\x01" {
        return None;
    }
    let program_headers = usize::try_from(u64_at(0x20)?).ok()?; // e_phoff
    let entry_size = usize::from(u16_at(0x36)?); // e_phentsize
    let count = usize::from(u16_at(0x38)?); // e_phnum
    let mut has_interpreter = false;
    for index in 0..count {
        has_interpreter |= u32_at(program_headers + index * entry_size)? == PT_INTERP;
    }
    Some(has_interpreter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_binary_is_static_and_a_script_is_not_elf() {
        // Everything here is built for musl, including this test executable.
        let exe = std::env::current_exe().unwrap();
        let image = std::fs::read(&exe).unwrap();
        assert_eq!(elf_has_interpreter(&image), Some(false));
        assert_eq!(elf_has_interpreter(b"#!/bin/sh\n"), None);
        assert_eq!(elf_has_interpreter(b""), None);
    }

    #[test]
    fn a_dynamic_binary_is_refused() {
        let dynamic = Path::new("/bin/sh");
        let err = check_pause_binary(dynamic).unwrap_err().to_string();
        assert!(err.contains("dynamically linked"), "{err}");
        let missing = check_pause_binary(Path::new("/nonexistent/pause")).unwrap_err();
        assert!(missing.to_string().contains("cargo build"), "{missing}");
    }
}
