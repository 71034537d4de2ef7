//! Which OCI runtime runs a pod's OCI containers: the one named (`--runtime`, a path or a name
//! in PATH), else runc, else crun. It is recorded absolute with each container, so `rm` uses
//! the same one from any working directory.

use std::path::{Path, PathBuf};

use crate::error::{Context, Error, Result};

/// The runtimes looked for in PATH when none is named, in order.
pub const DEFAULT_RUNTIMES: [&str; 2] = ["runc", "crun"];

/// The OCI runtime to use: `explicit` (a path, or a name looked up in PATH), else the first of
/// [`DEFAULT_RUNTIMES`] in PATH. Refused with the places looked at when there is none.
pub fn locate(explicit: Option<&Path>) -> Result<PathBuf> {
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    let search = |name: &Path| -> Option<PathBuf> {
        if name.components().count() > 1 || name.is_absolute() {
            return is_executable(name).then(|| name.to_owned());
        }
        std::env::split_paths(&path_var)
            .map(|dir| dir.join(name))
            .find(|candidate| is_executable(candidate))
    };
    let found = match explicit {
        Some(name) => search(name),
        None => DEFAULT_RUNTIMES
            .iter()
            .find_map(|name| search(Path::new(name))),
    };
    let found = found.ok_or_else(|| Error::RuntimeNotFound {
        looked_for: match explicit {
            Some(name) => name.display().to_string(),
            None => DEFAULT_RUNTIMES.join(" or "),
        },
        path: path_var.to_string_lossy().into_owned(),
    })?;
    // Recorded absolute, so that `rm` finds the same runtime from any working directory.
    std::path::absolute(&found).context(|| format!("making {} absolute", found.display()))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_runtime_names_what_was_looked_for() {
        let error = locate(Some(Path::new("/nonexistent/runtime"))).unwrap_err();
        assert!(
            error.to_string().contains("/nonexistent/runtime"),
            "{error}"
        );
    }

    #[test]
    fn a_name_is_looked_up_in_path_and_recorded_absolute() {
        let found = locate(Some(Path::new("sh"))).unwrap();
        assert!(
            found.is_absolute() && found.ends_with("sh"),
            "{}",
            found.display()
        );
    }
}
