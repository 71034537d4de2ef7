//! The command line: `pause`, `pause -v`, `pause -h`, or `pause [OPTIONS] -- CMD [ARGS...]`.
//!
//! Parsing is pure: it takes the arguments after `argv[0]` and hands back what to do, with
//! the rest of the arguments (CMD and its ARGS) left as they are for `execve`.

use core::ffi::{CStr, c_int};

/// `pause --version` output.
pub const VERSION: &str = concat!("pause ", env!("CARGO_PKG_VERSION"), "\n");

/// `pause --help` output.
pub const HELP: &str = "\
usage: pause                            hold mode: reap orphans, exit 0 on SIGINT/SIGTERM
       pause [OPTIONS] -- CMD [ARGS...]  init mode: run CMD, forward signals, reap, exit as CMD
       pause -v|--version | -h|--help
options (init mode):
  --grace SECS        as PID 1, when CMD ends or on SIGTERM: SIGTERM every process left,
                      SIGKILL the rest after SECS (no-op when pause is not PID 1)
  --remap-exit CODE   report exit code CODE as 0 (repeatable)
  --user UID[:GID]    run CMD as UID:GID (GID defaults to UID), with no supplementary groups
  --no-new-privs      set no_new_privs for CMD
  --bounding-caps HEX keep only these capabilities (bit n: capability n) in CMD's bounding set
  --exit-file PATH    when CMD ends, write {\"pid\",\"exit_code\",\"signal\",\"finished_unix_ns\"}
                      to PATH atomically, mode 0600; its space is reserved before CMD
                      starts, so a file system that fills up meanwhile cannot lose it
  --sync-fd N         once CMD is exec'd (or failed), write \"<pid> <errno>\\n\" to fd N, close it
  --adopt PIDFILE     CMD is a launcher (an OCI runtime's run --detach --pid-file PIDFILE):
                      once it exits 0, watch the process it wrote to PIDFILE instead (--sync-fd
                      and --exit-file then name that process); if it fails, exit as it did
CMD leads its own process group, the terminal's foreground one if pause's was; when CMD
stops (Ctrl-Z), pause stops with it, and fg/bg continue both (as PID 1, Ctrl-Z does nothing)
exit: CMD's status, 128+n if killed by signal n, 126 not executable, 127 not found,
      2 usage, 3-17 pause's own failures
";

/// The synopsis printed after a usage error.
pub const USAGE: &str = "usage: pause [-h|--help] [-v|--version] [OPTIONS] -- CMD [ARGS...]\n";

/// The longest path the kernel accepts, with its NUL.
pub const PATH_MAX: usize = libc::PATH_MAX as usize;

/// How many `--remap-exit` codes pause keeps.
pub const MAX_REMAPS: usize = 16;

/// What the command line asks for. `A` is the rest of the arguments, starting at CMD.
pub enum Command<A> {
    /// No arguments: hold the namespaces and reap.
    Hold,
    /// `-v`/`--version`.
    Version,
    /// `-h`/`--help`.
    Help,
    /// Run CMD (the first item of `command`) as init.
    Init {
        /// The options before `--`.
        options: Options<'static>,
        /// CMD and its ARGS.
        command: A,
    },
}

/// A user to run CMD as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct User {
    /// The user ID.
    pub uid: u32,
    /// The group ID (defaults to the user ID).
    pub gid: u32,
}

/// The options of init mode.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Options<'a> {
    /// `--grace SECS`.
    pub grace_secs: Option<u32>,
    remaps: [u8; MAX_REMAPS],
    remap_count: usize,
    /// `--user UID[:GID]`.
    pub user: Option<User>,
    /// `--no-new-privs`.
    pub no_new_privs: bool,
    /// `--bounding-caps HEX`.
    pub bounding_caps: Option<u64>,
    /// `--exit-file PATH`.
    pub exit_file: Option<&'a CStr>,
    /// `--sync-fd N`.
    pub sync_fd: Option<c_int>,
    /// `--adopt PIDFILE`.
    pub adopt: Option<&'a CStr>,
}

impl Options<'_> {
    /// The exit code pause reports for `code`: 0 if `--remap-exit` named it.
    pub fn remap(&self, code: c_int) -> c_int {
        let remapped = self.remaps[..self.remap_count]
            .iter()
            .any(|&listed| c_int::from(listed) == code);
        if remapped { 0 } else { code }
    }
}

/// Why the command line was refused. The `&CStr` is the argument at fault.
#[derive(Debug, PartialEq, Eq)]
pub enum UsageError<'a> {
    /// Not an option pause knows.
    UnknownOption(&'a CStr),
    /// The option needs a value and none followed.
    MissingValue(&'static str),
    /// The option's value is not valid.
    BadValue(&'static str, &'a CStr),
    /// Options but no `-- CMD`.
    MissingCommand,
    /// More `--remap-exit` than pause keeps.
    TooManyRemaps,
}

/// Parses the arguments after `argv[0]`.
pub fn parse<A>(mut args: A) -> Result<Command<A>, UsageError<'static>>
where
    A: Iterator<Item = &'static CStr> + Clone,
{
    let mut options = Options::default();
    let mut any = false;
    while let Some(arg) = args.next() {
        any = true;
        match arg.to_bytes() {
            b"-v" | b"--version" => return Ok(Command::Version),
            b"-h" | b"--help" => return Ok(Command::Help),
            b"--" => {
                if args.clone().next().is_none() {
                    return Err(UsageError::MissingCommand);
                }
                return Ok(Command::Init {
                    options,
                    command: args,
                });
            }
            b"--grace" => {
                let value = value_of("--grace", &mut args)?;
                let secs =
                    parse_u32(value.to_bytes()).ok_or(UsageError::BadValue("--grace", value))?;
                options.grace_secs = Some(secs);
            }
            b"--remap-exit" => {
                let value = value_of("--remap-exit", &mut args)?;
                let code = parse_u32(value.to_bytes())
                    .and_then(|code| u8::try_from(code).ok())
                    .ok_or(UsageError::BadValue("--remap-exit", value))?;
                let slot = options
                    .remaps
                    .get_mut(options.remap_count)
                    .ok_or(UsageError::TooManyRemaps)?;
                *slot = code;
                options.remap_count += 1;
            }
            b"--user" => {
                let value = value_of("--user", &mut args)?;
                let user =
                    parse_user(value.to_bytes()).ok_or(UsageError::BadValue("--user", value))?;
                options.user = Some(user);
            }
            b"--no-new-privs" => options.no_new_privs = true,
            b"--bounding-caps" => {
                let value = value_of("--bounding-caps", &mut args)?;
                let mask = parse_hex_u64(value.to_bytes())
                    .ok_or(UsageError::BadValue("--bounding-caps", value))?;
                options.bounding_caps = Some(mask);
            }
            b"--exit-file" => {
                let value = value_of("--exit-file", &mut args)?;
                // Room for ".tmp" and the NUL: the temporary file is built on the stack.
                let len = value.to_bytes().len();
                if len == 0 || len + ".tmp".len() >= PATH_MAX {
                    return Err(UsageError::BadValue("--exit-file", value));
                }
                options.exit_file = Some(value);
            }
            b"--sync-fd" => {
                let value = value_of("--sync-fd", &mut args)?;
                let fd = parse_u32(value.to_bytes())
                    .and_then(|fd| c_int::try_from(fd).ok())
                    .ok_or(UsageError::BadValue("--sync-fd", value))?;
                options.sync_fd = Some(fd);
            }
            b"--adopt" => {
                let value = value_of("--adopt", &mut args)?;
                if value.is_empty() {
                    return Err(UsageError::BadValue("--adopt", value));
                }
                options.adopt = Some(value);
            }
            _ => return Err(UsageError::UnknownOption(arg)),
        }
    }
    if any {
        Err(UsageError::MissingCommand)
    } else {
        Ok(Command::Hold)
    }
}

fn value_of<A>(option: &'static str, args: &mut A) -> Result<&'static CStr, UsageError<'static>>
where
    A: Iterator<Item = &'static CStr>,
{
    args.next().ok_or(UsageError::MissingValue(option))
}

/// A decimal u32: digits only, no sign, no overflow.
fn parse_u32(digits: &[u8]) -> Option<u32> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u32, |n, &d| {
        let digit = char::from(d).to_digit(10)?;
        n.checked_mul(10)?.checked_add(digit)
    })
}

/// Hexadecimal digits (an optional `0x`), at most 16 of them.
fn parse_hex_u64(text: &[u8]) -> Option<u64> {
    let digits = text.strip_prefix(b"0x").unwrap_or(text);
    if digits.is_empty() || digits.len() > 16 {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &d| {
        let digit = char::from(d).to_digit(16)?;
        Some((n << 4) | u64::from(digit))
    })
}

/// `UID` or `UID:GID`, numeric. -1 (u32::MAX) is refused: to the kernel it means "unchanged".
fn parse_user(value: &[u8]) -> Option<User> {
    let (uid, gid) = match value.iter().position(|&b| b == b':') {
        Some(colon) => (&value[..colon], Some(&value[colon + 1..])),
        None => (value, None),
    };
    let uid = parse_u32(uid).filter(|&id| id != u32::MAX)?;
    let gid = match gid {
        Some(gid) => parse_u32(gid).filter(|&id| id != u32::MAX)?,
        None => uid,
    };
    Some(User { uid, gid })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_args(
        args: &'static [&'static CStr],
    ) -> Result<Command<impl Iterator<Item = &'static CStr> + Clone>, UsageError<'static>> {
        parse(args.iter().copied())
    }

    fn init_options(args: &'static [&'static CStr]) -> (Options<'static>, Vec<&'static CStr>) {
        match parse_args(args) {
            Ok(Command::Init { options, command }) => (options, command.collect()),
            _ => panic!("not init mode: {args:?}"),
        }
    }

    #[test]
    fn no_arguments_is_hold_mode() {
        assert!(matches!(parse_args(&[]), Ok(Command::Hold)));
    }

    #[test]
    fn version_and_help() {
        assert!(matches!(parse_args(&[c"-v"]), Ok(Command::Version)));
        assert!(matches!(parse_args(&[c"--version"]), Ok(Command::Version)));
        assert!(matches!(parse_args(&[c"-h"]), Ok(Command::Help)));
        assert!(matches!(parse_args(&[c"--help"]), Ok(Command::Help)));
    }

    #[test]
    fn init_mode_keeps_the_command_intact() {
        let (options, command) = init_options(&[c"--", c"sh", c"-c", c"--grace"]);
        assert_eq!(options, Options::default());
        assert_eq!(command, [c"sh", c"-c", c"--grace"]);
    }

    #[test]
    fn all_options() {
        let (options, command) = init_options(&[
            c"--grace",
            c"5",
            c"--remap-exit",
            c"143",
            c"--remap-exit",
            c"7",
            c"--user",
            c"1000:100",
            c"--no-new-privs",
            c"--bounding-caps",
            c"0x20c1",
            c"--exit-file",
            c"/run/x/exit.json",
            c"--sync-fd",
            c"3",
            c"--adopt",
            c"/run/x/pid",
            c"--",
            c"true",
        ]);
        assert_eq!(options.grace_secs, Some(5));
        assert_eq!(
            options.user,
            Some(User {
                uid: 1000,
                gid: 100
            })
        );
        assert!(options.no_new_privs);
        assert_eq!(options.bounding_caps, Some(0x20c1));
        assert_eq!(options.exit_file, Some(c"/run/x/exit.json"));
        assert_eq!(options.sync_fd, Some(3));
        assert_eq!(options.adopt, Some(c"/run/x/pid"));
        assert_eq!(
            (options.remap(143), options.remap(7), options.remap(1)),
            (0, 0, 1)
        );
        assert_eq!(command, [c"true"]);
    }

    #[test]
    fn user_gid_defaults_to_uid() {
        let (options, _) = init_options(&[c"--user", c"65534", c"--", c"id"]);
        assert_eq!(
            options.user,
            Some(User {
                uid: 65534,
                gid: 65534
            })
        );
    }

    #[test]
    fn sixteen_remaps_fit_and_the_seventeenth_does_not() {
        const SIXTEEN: [&CStr; 34] = {
            let mut args = [c"--remap-exit"; 34];
            args[33] = c"true";
            let mut i = 1;
            while i < 32 {
                args[i] = c"1";
                i += 2;
            }
            args[32] = c"--";
            args
        };
        assert!(matches!(parse_args(&SIXTEEN), Ok(Command::Init { .. })));
        const SEVENTEEN: [&CStr; 36] = {
            let mut args = [c"1"; 36];
            let mut i = 0;
            while i < 34 {
                args[i] = c"--remap-exit";
                i += 2;
            }
            args[34] = c"--";
            args[35] = c"true";
            args
        };
        assert!(matches!(
            parse_args(&SEVENTEEN),
            Err(UsageError::TooManyRemaps)
        ));
    }

    #[test]
    fn refusals() {
        let cases: [(&'static [&'static CStr], UsageError<'static>); 10] = [
            (
                &[c"--frobnicate"],
                UsageError::UnknownOption(c"--frobnicate"),
            ),
            (&[c"sleep", c"1"], UsageError::UnknownOption(c"sleep")),
            (&[c"--no-new-privs"], UsageError::MissingCommand),
            (&[c"--"], UsageError::MissingCommand),
            (&[c"--grace"], UsageError::MissingValue("--grace")),
            (
                &[c"--grace", c"-1", c"--", c"x"],
                UsageError::BadValue("--grace", c"-1"),
            ),
            (
                &[c"--remap-exit", c"256", c"--", c"x"],
                UsageError::BadValue("--remap-exit", c"256"),
            ),
            (
                &[c"--user", c"bob", c"--", c"x"],
                UsageError::BadValue("--user", c"bob"),
            ),
            (
                &[c"--user", c"1:", c"--", c"x"],
                UsageError::BadValue("--user", c"1:"),
            ),
            (
                &[c"--sync-fd", c"99999999999", c"--", c"x"],
                UsageError::BadValue("--sync-fd", c"99999999999"),
            ),
        ];
        for (args, expected) in cases {
            match parse_args(args) {
                Err(error) => assert_eq!(error, expected, "{args:?}"),
                Ok(_) => panic!("accepted {args:?}"),
            }
        }
    }
}
