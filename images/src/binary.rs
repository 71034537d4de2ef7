//! Where the `pause` binaries to package come from, one per platform of the image, and the
//! check that each can run there: it must be static, since the image has no dynamic loader, and
//! built for that platform's architecture. Reading the ELF headers is `sandbox::binary`'s job;
//! the decisions are made here.
//!
//! A platform's binary is the `--pause [PLATFORM=]PATH` given for it; else the release build of
//! the platform's Rust target ([`buildable`]) next to this executable,
//! `target/<triple>/release/pause` (the target directory holds `<triple>/release/images` or
//! `<triple>/debug/images`). When `images` runs under `cargo run` from this workspace (cargo sets
//! `CARGO`), it first runs `cargo build --release -p pause --target ...` there for the targets it
//! needs, which is a no-op when they are fresh and makes `cargo run --release -p images -- --out
//! DIR` work from a clean clone. Elsewhere it never starts cargo, and a missing binary is an
//! error that names the command to run.

use std::path::{Path, PathBuf};
use std::process::Command;

use oci_spec::image::{Arch, Os};
use sandbox::binary::Executable;

use crate::definition::Platform;
use crate::error::{Error, Result};

/// The platforms `images` builds `pause` for, with the Rust target of each: the default
/// `--platform` list. Both targets' standard libraries come from rustup and their linkers from
/// Debian (`.ci/setup`). Which other platforms were weighed, and why they are not here, is in
/// images/README.md ("Platforms").
pub(crate) fn buildable() -> [(Platform, &'static str); 2] {
    let linux = |architecture| Platform {
        os: Os::Linux,
        architecture,
        variant: None,
    };
    [
        (linux(Arch::Amd64), "x86_64-unknown-linux-musl"),
        (linux(Arch::ARM64), "aarch64-unknown-linux-musl"),
    ]
}

/// A `pause` binary chosen by `--pause [PLATFORM=]PATH`: for the platform named, or, without a
/// name, for the platform its ELF header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PauseArg {
    /// The platform it must be for, if named.
    pub platform: Option<Platform>,
    /// Where it is.
    pub path: PathBuf,
}

impl PauseArg {
    /// Parses `PATH` or `PLATFORM=PATH`. A text whose part before the first `=` is not a
    /// platform is a path as a whole.
    pub(crate) fn parse(text: &str) -> std::result::Result<PauseArg, String> {
        if let Some((prefix, path)) = text.split_once('=')
            && let Ok(platform) = Platform::parse(prefix)
        {
            if path.is_empty() {
                return Err(format!("no path after {prefix}="));
            }
            return Ok(PauseArg {
                platform: Some(platform),
                path: PathBuf::from(path),
            });
        }
        Ok(PauseArg {
            platform: None,
            path: PathBuf::from(text),
        })
    }
}

/// One platform's `pause`: checked to be a static executable of that platform.
#[derive(Debug, Clone)]
pub(crate) struct PauseBinary {
    /// The platform it is for, read from its ELF header (the variant too, for 32-bit ARM).
    pub platform: Platform,
    /// Where it was read from.
    pub path: PathBuf,
    /// Its bytes, as they go into the image.
    pub bytes: Vec<u8>,
}

/// The `pause` of every platform the image is for, sorted by platform: `wanted` (`--platform`)
/// if given, else the platforms of the `explicit` binaries if any, else [`buildable`]'s.
pub(crate) fn pause_binaries(
    wanted: Option<&[Platform]>,
    explicit: &[PauseArg],
) -> Result<Vec<PauseBinary>> {
    let mut binaries: Vec<PauseBinary> = Vec::new();
    for arg in explicit {
        let binary = load_pause(&arg.path, arg.platform.as_ref())?;
        if let Some(other) = binaries.iter().find(|b| b.platform == binary.platform) {
            return Err(Error::TwoPauses {
                platform: binary.platform.to_string(),
                first: other.path.clone(),
                second: binary.path,
            });
        }
        if let Some(wanted) = wanted.filter(|wanted| !wanted.contains(&binary.platform)) {
            return Err(Error::PauseNotWanted {
                path: binary.path,
                platform: binary.platform.to_string(),
                wanted: list(wanted),
            });
        }
        binaries.push(binary);
    }

    let wanted: Vec<Platform> = match wanted {
        Some(wanted) => wanted.to_vec(),
        None if !binaries.is_empty() => Vec::new(),
        None => buildable()
            .into_iter()
            .map(|(platform, _)| platform)
            .collect(),
    };
    let mut missing: Vec<(Platform, &str)> = Vec::new();
    for platform in wanted {
        let known = |p: &Platform| *p == platform;
        if binaries.iter().any(|b| known(&b.platform)) || missing.iter().any(|(p, _)| known(p)) {
            continue;
        }
        let buildable = buildable();
        match buildable
            .iter()
            .find(|(buildable, _)| *buildable == platform)
        {
            Some((_, target)) => missing.push((platform, *target)),
            None => {
                let buildable: Vec<Platform> = buildable.into_iter().map(|(p, _)| p).collect();
                return Err(Error::NoPauseFor {
                    platform: platform.to_string(),
                    buildable: list(&buildable),
                });
            }
        }
    }
    if !missing.is_empty() {
        let targets: Vec<&str> = missing.iter().map(|(_, target)| *target).collect();
        let paths = locate_release_pauses(&targets)?;
        for ((platform, _), path) in missing.iter().zip(paths) {
            binaries.push(load_pause(&path, Some(platform))?);
        }
    }
    binaries.sort_by_key(|binary| binary.platform.to_string());
    Ok(binaries)
}

/// The platforms, comma-separated.
fn list(platforms: &[Platform]) -> String {
    platforms
        .iter()
        .map(Platform::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The workspace this executable was built from, if it is still there.
fn workspace_root() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent()?;
    root.join("pause")
        .join("Cargo.toml")
        .is_file()
        .then(|| root.to_path_buf())
}

/// The cargo target directory this executable lives in: `<dir>/<triple>/<profile>/images`.
fn target_dir() -> Result<PathBuf> {
    let exe = std::env::current_exe().map_err(|source| Error::CurrentExe { source })?;
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .and_then(Path::parent)
        .unwrap_or(Path::new("."));
    Ok(dir.to_path_buf())
}

/// The command that builds the release `pause` for `targets`.
fn build_command(targets: &[&str]) -> String {
    let mut command = "cargo build --release -p pause".to_owned();
    for target in targets {
        command.push_str(" --target ");
        command.push_str(target);
    }
    command
}

/// The release `pause` of each of `targets` (built first when running under `cargo run` in the
/// workspace), in that order.
fn locate_release_pauses(targets: &[&str]) -> Result<Vec<PathBuf>> {
    let dir = target_dir()?;
    if let (Some(cargo), Some(root)) = (std::env::var_os("CARGO"), workspace_root()) {
        build_pauses(Path::new(&cargo), &root, targets)?;
    }
    targets
        .iter()
        .map(|target| {
            let path = dir.join(target).join("release").join("pause");
            if path.is_file() {
                Ok(path)
            } else {
                Err(Error::PauseMissing {
                    path,
                    command: build_command(&[target]),
                })
            }
        })
        .collect()
}

/// Runs `cargo build --release -p pause --target ...` in the workspace `root`, so that the
/// workspace's `.cargo/config.toml` (the linkers) applies.
fn build_pauses(cargo: &Path, root: &Path, targets: &[&str]) -> Result<()> {
    let command = build_command(targets);
    eprintln!("images: running `{command}` in {}", root.display());
    let mut cargo = Command::new(cargo);
    cargo.args(["build", "--release", "-p", "pause"]);
    for target in targets {
        cargo.args(["--target", target]);
    }
    let status = cargo
        .current_dir(root)
        .status()
        .map_err(|source| Error::SpawnCargo {
            command: command.clone(),
            dir: root.to_path_buf(),
            source,
        })?;
    if status.success() {
        Ok(())
    } else {
        Err(Error::CargoFailed {
            command,
            dir: root.to_path_buf(),
            status,
        })
    }
}

/// Loads the `pause` at `path`: a static executable (see [`load_static_executable`]) whose
/// architecture is `platform`'s, when one is named.
fn load_pause(path: &Path, platform: Option<&Platform>) -> Result<PauseBinary> {
    let (bytes, executable) = load_static_executable(path)?;
    let built_for = Platform::linux(&executable);
    if let Some(platform) = platform.filter(|platform| **platform != built_for) {
        return Err(Error::WrongArchitecture {
            path: path.to_path_buf(),
            built_for: built_for.to_string(),
            platform: platform.to_string(),
        });
    }
    Ok(PauseBinary {
        platform: built_for,
        path: path.to_path_buf(),
        bytes,
    })
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

    /// This test executable: a static amd64 one (the workspace builds for musl).
    fn amd64_exe(platform: Option<&str>) -> PauseArg {
        PauseArg {
            platform: platform.map(|p| Platform::parse(p).unwrap()),
            path: std::env::current_exe().unwrap(),
        }
    }

    fn platforms(names: &[&str]) -> Vec<Platform> {
        names
            .iter()
            .map(|name| Platform::parse(name).unwrap())
            .collect()
    }

    #[test]
    fn given_binaries_decide_the_platforms_when_none_are_named() {
        let binaries = pause_binaries(None, &[amd64_exe(None)]).unwrap();
        assert_eq!(binaries.len(), 1);
        assert_eq!(binaries[0].platform.to_string(), "linux/amd64");
        let named = pause_binaries(
            Some(&platforms(&["linux/amd64"])),
            &[amd64_exe(Some("linux/amd64"))],
        );
        assert_eq!(named.unwrap()[0].path, std::env::current_exe().unwrap());
    }

    #[test]
    fn a_binary_must_be_of_its_platform_and_alone_on_it() {
        let chain = |wanted: Option<&[Platform]>, given: &[PauseArg]| {
            crate::error::Error::to_string(&pause_binaries(wanted, given).unwrap_err())
        };
        let exe = std::env::current_exe().unwrap().display().to_string();
        assert_eq!(
            chain(None, &[amd64_exe(Some("linux/arm64"))]),
            format!("checking {exe}: it is a linux/amd64 executable, not a linux/arm64 one")
        );
        assert_eq!(
            chain(None, &[amd64_exe(None), amd64_exe(Some("linux/amd64"))]),
            format!("two pause binaries for linux/amd64: {exe} and {exe}; give one per platform")
        );
        assert_eq!(
            chain(Some(&platforms(&["linux/arm64"])), &[amd64_exe(None)]),
            format!(
                "--pause {exe} is a linux/amd64 executable, and --platform lists only linux/arm64"
            )
        );
        assert_eq!(
            chain(
                Some(&platforms(&["linux/riscv64", "linux/amd64"])),
                &[amd64_exe(None)]
            ),
            "no pause for linux/riscv64: images builds pause for linux/amd64, linux/arm64; pass \
             --pause linux/riscv64=PATH for another platform"
        );
    }

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
