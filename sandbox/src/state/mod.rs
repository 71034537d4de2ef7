//! The state layer, the only owner of the disk layout: the root, the paths under it, the
//! per-pod locks, atomic JSON, and the records of pods, containers and `exec` sessions, whose
//! phases are enums that only move along allowed transitions. Nothing above this layer builds
//! a path under the root or writes a file in it by hand.

mod file;
mod layout;
mod lock;
mod root;

pub mod container;
pub mod exec;
pub mod pod;

pub(crate) use file::{
    create_private_dir, head_of_log, is_real_dir, open_log, open_log_truncated, open_regular,
    read_json, remove_dir_last, tail_of_log, write_json,
};
pub(crate) use layout::STATE_FILE;
pub use layout::{ContainerPaths, PodPaths};
pub use lock::FileLock;
pub(crate) use root::sweep_temporary_records;
pub use root::{DEFAULT_ROOT, Store, root_tag};

#[cfg(test)]
pub(crate) use file::scratch;

use crate::error::{Error, Result};

/// Checks a pod or container name: 1–63 characters of `[a-zA-Z0-9_.-]`, not starting with `-`
/// or `.` (so it is never an option, a hidden file, `.` or `..`).
pub fn validate_name(what: &'static str, name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        Some("must not be empty")
    } else if name.len() > 63 {
        Some("must be at most 63 characters")
    } else if name.starts_with(['-', '.']) {
        Some("must not start with '-' or '.'")
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    {
        Some("may only contain letters, digits, '_', '.' and '-'")
    } else {
        None
    };
    match reason {
        None => Ok(()),
        Some(reason) => Err(Error::InvalidInput {
            what,
            value: name.to_owned(),
            reason: reason.to_owned(),
        }),
    }
}

/// The current time as RFC 3339 UTC with microseconds, as records store it.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_micros(std::time::SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn accepts_good_names() {
        for name in ["web", "a", "db-1", "my_pod.v2", "A9", &"x".repeat(63)] {
            validate_name("sandbox name", name).unwrap();
        }
    }

    #[test]
    fn refuses_bad_names() {
        for name in [
            "",
            "../x",
            "a/b",
            "..",
            ".",
            ".hidden",
            "-rf",
            "a b",
            "a\0b",
            "é",
            &"x".repeat(64),
        ] {
            assert!(
                validate_name("sandbox name", name).is_err(),
                "{name:?} accepted"
            );
        }
    }

    proptest::proptest! {
        // Whatever a user types, validation never panics, and an accepted name is one path
        // component that stays inside its directory.
        #[test]
        fn accepted_names_stay_inside_the_root(name in ".{0,80}") {
            if validate_name("sandbox name", &name).is_ok() {
                let path = Path::new("/root-dir").join(&name);
                proptest::prop_assert_eq!(path.parent(), Some(Path::new("/root-dir")));
                proptest::prop_assert!(name != "." && name != ".." && !name.starts_with('-'));
            }
        }

        #[test]
        fn state_files_of_any_bytes_never_panic(bytes in proptest::collection::vec(0u8.., 0..256)) {
            let root = scratch("state");
            let path = root.join("state.json");
            std::fs::write(&path, &bytes).unwrap();
            let _ = read_json::<pod::PodRecord>(&path);
            let _ = read_json::<container::ContainerRecord>(&path);
            let _ = read_json::<container::ExitRecord>(&path);
            let _ = read_json::<exec::ExecRecord>(&path);
            std::fs::remove_dir_all(&root).unwrap();
        }
    }
}
