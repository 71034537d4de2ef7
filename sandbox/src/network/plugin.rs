//! Executing one CNI plugin: the `CNI_*` environment, its configuration on stdin, its result
//! (or its error object, `{code, msg, details}`) on stdout.

use std::io::Write;
use std::os::fd::BorrowedFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Deserialize;
use serde_json::Value;

use crate::error::{Context, Error, Result};
use crate::sys::process::PidFd;

/// How long a plugin may run before it is killed (libcni's callers give ADD and DEL a
/// deadline too; the plugins here take well under a second).
pub const PLUGIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// A CNI operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    /// Attach the container to the network.
    Add,
    /// Detach it, releasing what ADD took.
    Del,
}

impl Verb {
    /// `CNI_COMMAND`'s value.
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Add => "ADD",
            Verb::Del => "DEL",
        }
    }
}

/// What is the same for every plugin of one operation.
#[derive(Clone, Copy, Debug)]
pub struct Call<'a> {
    /// ADD or DEL.
    pub verb: Verb,
    /// The network's name, for errors.
    pub network: &'a str,
    /// `CNI_CONTAINERID`.
    pub container_id: &'a str,
    /// `CNI_NETNS`; empty when the namespace is gone (DEL only).
    pub netns: Option<&'a Path>,
    /// `CNI_IFNAME`.
    pub ifname: &'a str,
    /// Where plugins are looked up (`CNI_PATH`).
    pub plugin_dirs: &'a [PathBuf],
    /// A lock the plugin holds as long as it runs, and any process it leaves (it inherits a
    /// duplicate): the pod's network lock, so that a plugin left running by a killed command
    /// keeps the next ADD or DEL of the pod waiting until it is done.
    pub hold: Option<BorrowedFd<'a>>,
}

/// The error object a failing plugin prints.
#[derive(Debug, Default, Deserialize)]
struct PluginError {
    #[serde(default)]
    code: Option<u64>,
    #[serde(default)]
    msg: String,
    #[serde(default)]
    details: String,
}

/// The executable of plugin `kind`: the first in `dirs` (absolute directories, see
/// `CniPaths::new`).
pub fn find(kind: &str, dirs: &[PathBuf]) -> Option<PathBuf> {
    dirs.iter().map(|dir| dir.join(kind)).find(|path| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

/// Runs plugin `kind` (found beforehand at `executable`) with `config`: ADD's result (a plugin
/// that prints none has failed), or `Value::Null` for DEL (whose output libcni ignores too).
pub fn execute(call: &Call, kind: &str, executable: &Path, config: &Value) -> Result<Value> {
    let what = || {
        format!(
            "running CNI plugin {} ({} of network {:?})",
            executable.display(),
            call.verb.as_str(),
            call.network
        )
    };
    let input = serde_json::to_vec(config).map_err(|e| Error::Io {
        what: what(),
        source: e.into(),
    })?;
    let cni_path = std::env::join_paths(call.plugin_dirs).map_err(|e| Error::Io {
        what: what(),
        source: std::io::Error::other(e),
    })?;
    let mut command = Command::new(executable);
    command
        .env("CNI_COMMAND", call.verb.as_str())
        .env("CNI_CONTAINERID", call.container_id)
        .env(
            "CNI_NETNS",
            call.netns.map(Path::as_os_str).unwrap_or_default(),
        )
        .env("CNI_IFNAME", call.ifname)
        .env("CNI_PATH", cni_path)
        .env_remove("CNI_ARGS")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // dup(2) leaves out FD_CLOEXEC, so the plugin inherits the copy; ours closes after spawn.
    let held = match call.hold {
        Some(fd) => Some(nix::unistd::dup(fd).context(what)?),
        None => None,
    };
    let mut child = command.spawn().context(what)?;
    drop(held);
    // Our unreaped child: the PID is its own until we wait, so the pidfd is of the plugin.
    let pidfd = PidFd::open(child.id() as i32).context(what)?;
    let stdin = child.stdin.take();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        if let Some(mut stdin) = stdin {
            // A plugin that exits without reading all of it is judged by its answer.
            let _ = stdin.write_all(&input);
        }
        let _ = sender.send(child.wait_with_output());
    });
    let failed = |code: Option<u64>, message: String| Error::CniPlugin {
        network: call.network.to_owned(),
        plugin: kind.to_owned(),
        verb: call.verb.as_str(),
        code,
        message,
    };
    let output = match receiver.recv_timeout(PLUGIN_TIMEOUT) {
        Ok(output) => output.context(what)?,
        Err(_) => {
            pidfd.send_signal(libc::SIGKILL)?;
            let waited = PLUGIN_TIMEOUT.as_secs();
            return Err(failed(
                None,
                format!("it did not finish within {waited} s, and was killed"),
            ));
        }
    };
    if output.status.success() {
        // DEL prints nothing that matters (libcni ignores its output).
        if call.verb == Verb::Del {
            return Ok(Value::Null);
        }
        if output.stdout.iter().all(u8::is_ascii_whitespace) {
            return Err(failed(None, "it printed no result".to_owned()));
        }
        return serde_json::from_slice(&output.stdout)
            .map_err(|e| failed(None, format!("its result is not JSON: {e}")));
    }
    let error: PluginError = serde_json::from_slice(&output.stdout).unwrap_or_default();
    let mut message = error.msg;
    if !error.details.is_empty() {
        message = format!("{message}: {}", error.details);
    }
    if message.is_empty() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        message = match stderr.trim() {
            "" => format!("it failed ({}) and said nothing", output.status),
            said => format!("{said} ({})", output.status),
        };
    }
    Err(failed(error.code, message))
}
