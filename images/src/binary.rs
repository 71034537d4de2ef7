//! Where the `pause` binary to package comes from, and the check that it can run in an image:
//! it must be static, since the image has no dynamic loader, and its platform becomes the
//! image's. Reading the ELF headers is `sandbox::binary`'s job; the decisions are made here.
//!
//! Lookup order: `--pause PATH`; else the release build next to this executable
//! (`target/<triple>/release/pause`, the sibling of `.../release/images` or of `.../debug/images`).
//! When `images` runs under `cargo run` from this workspace (cargo sets `CARGO`), it first runs
//! `cargo build --release -p pause` there, which is a no-op when the binary is fresh and makes
//! `cargo run --release -p images -- --out DIR` work from a clean clone. Elsewhere it never
//! starts cargo, and a missing binary is an error that names the command to run.

use std::path::{Path, PathBuf};
use std::process::Command;

use sandbox::binary::Executable;

use crate::error::{Error, Result};

/// The command that builds the release `pause`.
const BUILD_PAUSE: &str = "cargo build --release -p pause";

/// The workspace this executable was built from, if it is still there.
fn workspace_root() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent()?;
    root.join("pause")
        .join("Cargo.toml")
        .is_file()
        .then(|| root.to_path_buf())
}

/// Path of the release `pause` for the target directory this executable lives in.
fn release_pause_path() -> Result<PathBuf> {
    let exe = std::env::current_exe().map_err(|source| Error::CurrentExe { source })?;
    let profile_dir = exe.parent().unwrap_or(Path::new("."));
    let release_dir = if profile_dir
        .file_name()
        .is_some_and(|name| name == "release")
    {
        profile_dir.to_path_buf()
    } else {
        // target/<triple>/debug/images → target/<triple>/release
        profile_dir
            .parent()
            .map_or_else(|| profile_dir.join("release"), |p| p.join("release"))
    };
    Ok(release_dir.join("pause"))
}

/// Finds the `pause` binary to package: `explicit` if given, else the release build (built
/// first when running under `cargo run` in the workspace).
pub(crate) fn locate_pause(explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(path) = explicit {
        return Ok(path.to_path_buf());
    }
    let path = release_pause_path()?;
    if let (Some(cargo), Some(root)) = (std::env::var_os("CARGO"), workspace_root()) {
        build_pause(Path::new(&cargo), &root)?;
    }
    if path.is_file() {
        Ok(path)
    } else {
        Err(Error::PauseMissing {
            path,
            command: BUILD_PAUSE.to_owned(),
        })
    }
}

/// Runs `cargo build --release -p pause` in the workspace `root`, so that the workspace's
/// `.cargo/config.toml` (the musl target) applies.
fn build_pause(cargo: &Path, root: &Path) -> Result<()> {
    eprintln!("images: running `{BUILD_PAUSE}` in {}", root.display());
    let status = Command::new(cargo)
        .args(["build", "--release", "-p", "pause"])
        .current_dir(root)
        .status()
        .map_err(|source| Error::SpawnCargo {
            command: BUILD_PAUSE.to_owned(),
            dir: root.to_path_buf(),
            source,
        })?;
    if status.success() {
        Ok(())
    } else {
        Err(Error::CargoFailed {
            command: BUILD_PAUSE.to_owned(),
            dir: root.to_path_buf(),
            status,
        })
    }
}

/// Reads the executable at `path` and checks that it is static, as an image without a libc
/// and a loader needs. Returns its bytes and what it is (its architecture among others).
pub(crate) fn load_static_executable(path: &Path) -> Result<(Vec<u8>, Executable)> {
    let bytes = std::fs::read(path).map_err(|source| Error::ReadFile {
        path: path.to_path_buf(),
        source,
    })?;
    let executable = sandbox::binary::inspect(&bytes).map_err(|source| Error::NotExecutable {
        path: path.to_path_buf(),
        source,
    })?;
    if let Some(interpreter) = executable.interpreter {
        // An image holds no loader: the kernel would fail the exec with ENOENT, which runtimes
        // report as a baffling "no such file or directory" about a file that is there.
        return Err(Error::DynamicExecutable {
            path: path.to_path_buf(),
            interpreter,
        });
    }
    Ok((bytes, executable))
}

#[cfg(test)]
mod tests {

    use super::*;

    #[test]
    fn this_static_test_executable_is_loaded() {
        // The workspace builds for musl, so the test executable itself is static.
        let exe = std::env::current_exe().unwrap();
        let (bytes, executable) = load_static_executable(&exe).unwrap();
        assert_eq!(bytes, std::fs::read(&exe).unwrap());
        assert_eq!(executable.architecture.oci_name(), "amd64");
    }

    #[test]
    fn what_cannot_run_in_an_empty_image_is_refused_with_the_reason() {
        let chain = |path: &str| {
            sandbox::error_chain(&load_static_executable(Path::new(path)).unwrap_err())
        };
        let dynamic = chain("/bin/sh");
        assert!(
            dynamic.starts_with(
                "checking /bin/sh: dynamically linked: it has a PT_INTERP program header naming /lib"
            ),
            "{dynamic}"
        );
        assert!(dynamic.ends_with("-linux-musl target"), "{dynamic}");
        let script = std::env::temp_dir().join(format!("images-script-{}", std::process::id()));
        std::fs::write(&script, "#!/bin/sh\n").unwrap();
        let not_elf = chain(script.to_str().unwrap());
        std::fs::remove_file(&script).unwrap();
        assert_eq!(
            not_elf,
            format!(
                "checking {}: not an ELF file (no \\x7fELF magic)",
                script.display()
            )
        );
        let missing = chain("/nonexistent/pause");
        assert!(
            missing.starts_with("reading /nonexistent/pause: No such file"),
            "{missing}"
        );
    }
}
