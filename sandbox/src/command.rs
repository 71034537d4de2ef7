//! What to run inside a pod (for `exec` and `run`): the command, its environment, working
//! directory, user and no-new-privileges flag, validated up front and turned into the arguments
//! of `pause`'s init mode, which starts the command, switches user, maps 126/127 and reaps.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The PATH a command gets unless `--env PATH=...` says otherwise.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A numeric user and group to run as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// User id.
    pub uid: u32,
    /// Group id; the uid's number when not given.
    pub gid: u32,
}

impl std::str::FromStr for User {
    type Err = Error;

    /// Parses `UID` or `UID:GID` (numbers only: there is no image whose /etc/passwd to read).
    fn from_str(text: &str) -> Result<User> {
        let invalid = || Error::InvalidInput {
            what: "user",
            value: text.to_owned(),
            reason: "expected UID or UID:GID, as numbers (e.g. 1000 or 1000:1000)".to_owned(),
        };
        let number = |s: &str| {
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid());
            }
            match s.parse::<u32>() {
                // (uid_t)-1 means "leave unchanged" to setuid/setgid: never a user to run as.
                Ok(u32::MAX) => Err(Error::InvalidInput {
                    what: "user",
                    value: text.to_owned(),
                    reason: format!(
                        "{} is (uid_t)-1, which the kernel reads as \"unchanged\"; ids go up to {}",
                        u32::MAX,
                        u32::MAX - 1
                    ),
                }),
                Ok(id) => Ok(id),
                Err(_) => Err(invalid()),
            }
        };
        match text.split_once(':') {
            None => {
                let uid = number(text)?;
                Ok(User { uid, gid: uid })
            }
            Some((uid, gid)) => Ok(User {
                uid: number(uid)?,
                gid: number(gid)?,
            }),
        }
    }
}

impl std::fmt::Display for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.uid, self.gid)
    }
}

/// Parses one `--env` entry: `KEY=VALUE`, or `KEY` alone to pass on the caller's value of KEY
/// (skipped when the caller has none), as `docker run -e KEY` does.
pub fn parse_env(entry: &str) -> Result<Option<(String, String)>> {
    let (key, value) = match entry.split_once('=') {
        Some((key, value)) => (key, Some(value.to_owned())),
        None => (entry, None),
    };
    let valid_key = !key.is_empty()
        && !key.starts_with(|c: char| c.is_ascii_digit())
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !valid_key || entry.contains('\0') {
        return Err(Error::InvalidInput {
            what: "environment entry",
            value: entry.to_owned(),
            reason: "expected KEY=VALUE with KEY made of letters, digits and '_'".to_owned(),
        });
    }
    Ok(value
        .or_else(|| std::env::var(key).ok())
        .map(|value| (key.to_owned(), value)))
}

/// A command to run in a pod, with its process settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandSpec {
    /// Program and arguments; the program is searched in the command's PATH.
    pub argv: Vec<String>,
    /// Environment additions and overrides, in order.
    pub env: Vec<(String, String)>,
    /// Working directory; `/` when not given.
    pub workdir: Option<String>,
    /// User to switch to; root when not given.
    pub user: Option<User>,
    /// Set PR_SET_NO_NEW_PRIVS, so setuid binaries and file capabilities grant nothing.
    pub no_new_privs: bool,
    /// The capabilities left in the bounding set (bit n: capability n), so that no execve can
    /// grant others; all when not given. An OCI container's set, for `exec` into it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bounding_caps: Option<u64>,
}

impl CommandSpec {
    /// Refuses an empty command or a relative working directory.
    pub fn validate(&self) -> Result<()> {
        if self.argv.first().is_none_or(|program| program.is_empty()) {
            return Err(Error::InvalidInput {
                what: "command",
                value: String::new(),
                reason: "give the command after `--`".to_owned(),
            });
        }
        self.validate_settings()
    }

    /// Refuses a relative working directory or an empty program, but not a missing command
    /// (an image may give it).
    pub fn validate_settings(&self) -> Result<()> {
        if self.argv.first().is_some_and(|program| program.is_empty()) {
            return Err(Error::InvalidInput {
                what: "command",
                value: String::new(),
                reason: "the program must not be empty".to_owned(),
            });
        }
        if let Some(dir) = &self.workdir
            && !dir.starts_with('/')
        {
            return Err(Error::InvalidInput {
                what: "working directory",
                value: dir.clone(),
                reason: "must be an absolute path".to_owned(),
            });
        }
        Ok(())
    }

    /// The command's environment: PATH, HOSTNAME, HOME and TERM (when the caller has one),
    /// then the `--env` entries, later ones winning.
    pub fn environment(&self, hostname: &str) -> Vec<(String, String)> {
        let home = match self.user {
            Some(user) if user.uid != 0 => "/",
            _ => "/root",
        };
        let mut env = BTreeMap::from([
            ("PATH".to_owned(), DEFAULT_PATH.to_owned()),
            ("HOSTNAME".to_owned(), hostname.to_owned()),
            ("HOME".to_owned(), home.to_owned()),
        ]);
        if let Ok(term) = std::env::var("TERM") {
            env.insert("TERM".to_owned(), term);
        }
        for (key, value) in &self.env {
            env.insert(key.clone(), value.clone());
        }
        env.into_iter().collect()
    }

    /// `pause`'s init-mode arguments: its options, then `--`, then the command.
    pub fn pause_args(&self, monitor_options: &[String]) -> Vec<String> {
        let mut args = monitor_options.to_vec();
        if let Some(user) = self.user {
            args.extend(["--user".to_owned(), user.to_string()]);
        }
        if self.no_new_privs {
            args.push("--no-new-privs".to_owned());
        }
        if let Some(keep) = self.bounding_caps {
            args.extend(["--bounding-caps".to_owned(), format!("{keep:#x}")]);
        }
        args.push("--".to_owned());
        args.extend(self.argv.iter().cloned());
        args
    }

    /// The working directory to start in.
    pub fn workdir(&self) -> &str {
        self.workdir.as_deref().unwrap_or("/")
    }
}

/// What an `exec` session's command gets as its standard streams.
#[derive(Clone, Copy, Debug, Default)]
pub struct ExecIo {
    /// Pass the caller's stdin on (`-i`); else the command reads `/dev/null`.
    pub interactive: bool,
    /// Give the command a new pseudo-terminal of its own (`-t`): its controlling terminal, and
    /// its stdin, stdout and stderr; the caller relays it ([`crate::state::exec::ExecSession::take_terminal`]).
    pub terminal: bool,
    /// The terminal's window size, set before the command starts.
    pub window: Option<nix::pty::Winsize>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users() {
        assert_eq!(
            "1000".parse::<User>().unwrap(),
            User {
                uid: 1000,
                gid: 1000
            }
        );
        assert_eq!("0:5".parse::<User>().unwrap(), User { uid: 0, gid: 5 });
        for bad in [
            "",
            ":",
            "1000:",
            ":1",
            "root",
            "-1",
            "1:2:3",
            "99999999999",
            " 1",
            "4294967295",
            "0:4294967295",
        ] {
            assert!(bad.parse::<User>().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn env_entries() {
        assert_eq!(
            parse_env("A=b=c").unwrap(),
            Some(("A".to_owned(), "b=c".to_owned()))
        );
        assert_eq!(
            parse_env("EMPTY=").unwrap(),
            Some(("EMPTY".to_owned(), String::new()))
        );
        assert_eq!(parse_env("SANDBOX_SURELY_UNSET_VARIABLE").unwrap(), None);
        for bad in ["=x", "1A=x", "A-B=x", "", "A B=c"] {
            assert!(parse_env(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn env_overrides_defaults_and_pause_args_put_options_first() {
        let spec = CommandSpec {
            argv: vec!["sh".into(), "-c".into(), "true".into()],
            env: vec![("PATH".into(), "/bin".into()), ("X".into(), "1".into())],
            user: Some(User { uid: 7, gid: 8 }),
            no_new_privs: true,
            ..CommandSpec::default()
        };
        spec.validate().unwrap();
        let env = spec.environment("web");
        assert!(env.contains(&("PATH".into(), "/bin".into())));
        assert!(env.contains(&("HOSTNAME".into(), "web".into())));
        assert!(env.contains(&("HOME".into(), "/".into())));
        assert_eq!(
            spec.pause_args(&["--exit-file".into(), "/x".into()]),
            [
                "--exit-file",
                "/x",
                "--user",
                "7:8",
                "--no-new-privs",
                "--",
                "sh",
                "-c",
                "true"
            ]
        );
    }

    #[test]
    fn refuses_empty_commands_and_relative_workdirs() {
        assert!(CommandSpec::default().validate().is_err());
        let relative = CommandSpec {
            argv: vec!["true".into()],
            workdir: Some("tmp".into()),
            ..CommandSpec::default()
        };
        assert!(relative.validate().is_err());
    }

    proptest::proptest! {
        #[test]
        fn users_round_trip(uid in 0..u32::MAX, gid in 0..u32::MAX) {
            let user = User { uid, gid };
            proptest::prop_assert_eq!(user.to_string().parse::<User>().unwrap(), user);
        }

        #[test]
        fn any_user_or_env_text_never_panics(text in ".{0,40}") {
            let _ = text.parse::<User>();
            if let Ok(Some((key, _))) = parse_env(&text) {
                proptest::prop_assert!(!key.is_empty() && !key.contains('='));
            }
        }
    }
}
