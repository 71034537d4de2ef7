//! An OCI container's process: what `run` gives combined with what the image's config says, the
//! way Kubernetes combines a container spec with its image.
//!
//! - Command: `--entrypoint` replaces the image's Entrypoint, `-- CMD` its Cmd; an entrypoint
//!   given without a CMD drops the image's Cmd too (Kubernetes' `command` without `args`).
//! - Environment: the image's Env, then `--env` entries, later ones winning; PATH and HOME get
//!   defaults when neither sets them.
//! - Working directory: `--workdir`, else the image's WorkingDir, else `/`.
//! - User: `--user UID[:GID]`, else the image's User (`name`, `uid`, `name:group`, `uid:gid`),
//!   names looked up in the image's own `/etc/passwd` and `/etc/group`, read inside the root
//!   file system (`RESOLVE_IN_ROOT`: a symlink in the image cannot point at the host's files).
//! - Stop signal: `--stop-signal`, else the image's StopSignal, else SIGTERM.

use std::io::Read;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use nix::fcntl::{OFlag, OpenHow, ResolveFlag};

use crate::command::{CommandSpec, DEFAULT_PATH, User};
use crate::error::{Context, Error, Result};
use crate::image::ImageDefaults;

/// What `run` asked of an OCI container, and what its image says, before they are combined.
#[derive(Clone, Debug, Default)]
pub struct OciRequest {
    /// The image's reference, or the root file system's path: the name errors use.
    pub image_name: String,
    /// The image's config defaults; none for a root file system directory.
    pub image: Option<ImageDefaults>,
    /// The image's layer directories, top first (empty for a directory).
    pub layers: Vec<PathBuf>,
    /// Replaces the image's Entrypoint (`--entrypoint`, a manifest's `command`).
    pub entrypoint: Option<Vec<String>>,
    /// A manifest's `runAsUser`: the user when `run` gives none, its group looked up in the
    /// image's `/etc/passwd` (0 if it has none) unless `run_as_group` is given.
    pub run_as_user: Option<u32>,
    /// A manifest's `runAsGroup`: the group when `run` gives no user, whoever the user is.
    pub run_as_group: Option<u32>,
    /// `--stop-signal`.
    pub stop_signal: Option<i32>,
}

/// A container's root file system, open, for reading its files as the container will see them:
/// every path resolves inside it (`RESOLVE_IN_ROOT`), so a symlink in the image cannot point at
/// the host's files. Opened once per `run`.
pub struct RootDir {
    path: PathBuf,
    dir: std::fs::File,
}

impl RootDir {
    /// Opens the root file system at `path`.
    pub fn open(path: &Path) -> Result<RootDir> {
        let dir = std::fs::File::open(path)
            .context(|| format!("opening root file system {}", path.display()))?;
        Ok(RootDir {
            path: path.to_owned(),
            dir,
        })
    }

    /// Opens `path` (relative) inside the root with `flags`.
    fn open_inside(&self, path: &str, flags: OFlag) -> nix::Result<std::os::fd::OwnedFd> {
        let how = OpenHow::new()
            .flags(flags | OFlag::O_CLOEXEC)
            .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
        nix::fcntl::openat2(self.dir.as_fd(), path, how)
    }
}

/// The container's command as it will run: `given` (the caller's) combined with the image's
/// defaults; `root` is the container's root file system, mounted.
pub fn resolve(given: &CommandSpec, request: &OciRequest, root: &RootDir) -> Result<CommandSpec> {
    let defaults = request.image.clone().unwrap_or_default();
    let invalid = |reason: String| Error::ImageConfig {
        image: request.image_name.clone(),
        reason,
    };
    let entrypoint = match &request.entrypoint {
        Some(entrypoint) => entrypoint.clone(),
        None => defaults.entrypoint.clone(),
    };
    let args = if !given.argv.is_empty() {
        given.argv.clone()
    } else if request.entrypoint.is_some() {
        Vec::new()
    } else {
        defaults.cmd.clone()
    };
    let argv: Vec<String> = entrypoint.into_iter().chain(args).collect();
    if argv.first().is_none_or(String::is_empty) {
        return Err(invalid(
            "it has no Entrypoint or Cmd: give the command after `--`".to_owned(),
        ));
    }

    let image_user = match request.run_as_user {
        Some(uid) => Some(uid.to_string()),
        None => defaults.user.clone().filter(|text| !text.is_empty()),
    };
    let (user, home) = match (given.user, image_user) {
        (Some(user), _) => (Some(user), home_of(root, user.uid)?),
        (None, Some(text)) => {
            let (mut user, home) = lookup_user(&text, root).map_err(invalid)?;
            user.gid = request.run_as_group.unwrap_or(user.gid);
            (Some(user), home)
        }
        (None, None) => {
            let user = request.run_as_group.map(|gid| User { uid: 0, gid });
            (user, home_of(root, 0)?)
        }
    };

    let mut env: Vec<(String, String)> = Vec::new();
    let mut set = |key: &str, value: &str| match env.iter_mut().find(|(k, _)| k == key) {
        Some(entry) => entry.1 = value.to_owned(),
        None => env.push((key.to_owned(), value.to_owned())),
    };
    for entry in &defaults.env {
        if let Some((key, value)) = entry.split_once('=') {
            set(key, value);
        }
    }
    for (key, value) in &given.env {
        set(key, value);
    }
    if !env.iter().any(|(key, _)| key == "PATH") {
        env.insert(0, ("PATH".to_owned(), DEFAULT_PATH.to_owned()));
    }
    if !env.iter().any(|(key, _)| key == "HOME") {
        let home = home.unwrap_or_else(|| match user {
            Some(user) if user.uid != 0 => "/".to_owned(),
            _ => "/root".to_owned(),
        });
        env.push(("HOME".to_owned(), home));
    }

    let workdir = given
        .workdir
        .clone()
        .or_else(|| defaults.working_dir.clone().filter(|dir| !dir.is_empty()))
        .map(|dir| {
            if dir.starts_with('/') {
                dir
            } else {
                format!("/{dir}")
            }
        });
    Ok(CommandSpec {
        argv,
        env,
        workdir,
        user,
        no_new_privs: given.no_new_privs,
        bounding_caps: Some(super::spec::capability_mask()),
    })
}

/// Looks for the command in the root file system as the runtime will (a path as given,
/// relative ones from the working directory, else each directory of its `PATH`), so that a
/// command that is not there or not executable fails with 127 or 126 like any container's,
/// before anything runs, rather than as a runtime error to interpret. `Err((code, reason))`.
pub fn find_command(
    root: &RootDir,
    command: &CommandSpec,
) -> std::result::Result<(), (u8, String)> {
    let program = command.argv.first().map(String::as_str).unwrap_or_default();
    let candidates: Vec<String> = if program.contains('/') {
        vec![if program.starts_with('/') {
            program.to_owned()
        } else {
            format!("{}/{program}", command.workdir())
        }]
    } else {
        let path = command
            .env
            .iter()
            .find(|(key, _)| key == "PATH")
            .map_or(DEFAULT_PATH, |(_, value)| value.as_str());
        path.split(':')
            .map(|dir| format!("{}/{program}", if dir.is_empty() { "." } else { dir }))
            .collect()
    };
    let mut denied = false;
    for candidate in candidates {
        match mode_in_root(root, candidate.trim_start_matches('/')) {
            Some(mode) if mode & libc::S_IFMT == libc::S_IFREG && mode & 0o111 != 0 => {
                return Ok(());
            }
            Some(_) => denied = true,
            None => {}
        }
    }
    if denied {
        Err((126, "cannot execute: permission denied".to_owned()))
    } else {
        Err((127, "command not found".to_owned()))
    }
}

/// The mode of `path` (relative) inside `root` as if it were `/`, symlinks resolved within it;
/// `None` if there is nothing there.
fn mode_in_root(root: &RootDir, path: &str) -> Option<u32> {
    let fd = root.open_inside(path, OFlag::O_PATH).ok()?;
    nix::sys::stat::fstat(&fd).ok().map(|stat| stat.st_mode)
}

/// The signal `stop` sends first: the caller's, the image's StopSignal, or SIGTERM.
pub fn stop_signal(request: &OciRequest) -> Result<i32> {
    if let Some(signal) = request.stop_signal {
        return Ok(signal);
    }
    match request
        .image
        .as_ref()
        .and_then(|image| image.stop_signal.as_deref())
    {
        Some(text) if !text.is_empty() => {
            crate::exit::parse_signal(text).map_err(|error| Error::ImageConfig {
                image: request.image_name.clone(),
                reason: format!("its StopSignal: {error}"),
            })
        }
        _ => Ok(libc::SIGTERM),
    }
}

/// The user an image's `User` names, and its home directory if `/etc/passwd` has one.
fn lookup_user(text: &str, root: &RootDir) -> std::result::Result<(User, Option<String>), String> {
    let read =
        |name: &str| read_in_root(root, name).map_err(|error| format!("reading {name}: {error}"));
    let (user_part, group_part) = match text.split_once(':') {
        Some((user, group)) => (user, Some(group)),
        None => (text, None),
    };
    let passwd = read("etc/passwd")?;
    let entry = passwd.as_deref().and_then(|passwd| {
        passwd_entries(passwd).find(|entry| match user_part.parse::<u32>() {
            Ok(uid) => entry.uid == uid,
            Err(_) => entry.name == user_part,
        })
    });
    let uid = match (user_part.parse::<u32>(), &entry) {
        (Ok(uid), _) => uid,
        (Err(_), Some(entry)) => entry.uid,
        (Err(_), None) => {
            return Err(format!(
                "its User {text:?}: no user {user_part:?} in the image's /etc/passwd"
            ));
        }
    };
    let gid = match group_part {
        None => entry.as_ref().map_or(0, |entry| entry.gid),
        Some(group) => match group.parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => {
                let groups = read("etc/group")?;
                groups
                    .as_deref()
                    .and_then(|groups| group_id(groups, group))
                    .ok_or_else(|| {
                        format!("its User {text:?}: no group {group:?} in the image's /etc/group")
                    })?
            }
        },
    };
    if uid == u32::MAX || gid == u32::MAX {
        return Err(format!("its User {text:?}: -1 is not an id to run as"));
    }
    Ok((User { uid, gid }, entry.map(|entry| entry.home)))
}

/// The home directory of `uid` in the root file system's `/etc/passwd`, if it names one.
fn home_of(root: &RootDir, uid: u32) -> Result<Option<String>> {
    let passwd = read_in_root(root, "etc/passwd")
        .context(|| format!("reading etc/passwd in {}", root.path.display()))?;
    Ok(passwd.as_deref().and_then(|passwd| {
        passwd_entries(passwd)
            .find(|entry| entry.uid == uid)
            .map(|entry| entry.home)
            .filter(|home| !home.is_empty())
    }))
}

/// One line of `/etc/passwd`.
struct PasswdEntry {
    name: String,
    uid: u32,
    gid: u32,
    home: String,
}

/// The well-formed entries of an `/etc/passwd` (`name:x:uid:gid:gecos:home:shell`).
fn passwd_entries(text: &str) -> impl Iterator<Item = PasswdEntry> + '_ {
    text.lines().filter_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        if fields.len() < 6 {
            return None;
        }
        Some(PasswdEntry {
            name: fields[0].to_owned(),
            uid: fields[2].parse().ok()?,
            gid: fields[3].parse().ok()?,
            home: fields[5].to_owned(),
        })
    })
}

/// The id of group `name` in an `/etc/group` (`name:x:gid:members`).
fn group_id(text: &str, name: &str) -> Option<u32> {
    text.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.len() >= 3 && fields[0] == name)
            .then(|| fields[2].parse().ok())
            .flatten()
    })
}

/// Reads `path` (relative) inside `root` as if `root` were `/`: symlinks resolve within it.
/// `None` if there is no such file.
fn read_in_root(root: &RootDir, path: &str) -> std::io::Result<Option<String>> {
    // O_NONBLOCK: a FIFO planted at the path must not hang `run` (and the pod's lock).
    let flags = OFlag::O_RDONLY | OFlag::O_NOCTTY | OFlag::O_NONBLOCK;
    let fd = match root.open_inside(path, flags) {
        Ok(fd) => fd,
        Err(nix::errno::Errno::ENOENT | nix::errno::Errno::ENOTDIR) => return Ok(None),
        Err(errno) => return Err(errno.into()),
    };
    let file = std::fs::File::from(fd);
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let mut text = String::new();
    // A passwd file of more than 1 MiB is not one to trust.
    file.take(1 << 20).read_to_string(&mut text)?;
    Ok(Some(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root_with(passwd: &str, group: &str) -> tempdir::Dir {
        let dir = tempdir::Dir::new();
        std::fs::create_dir(dir.path().join("etc")).unwrap();
        std::fs::write(dir.path().join("etc/passwd"), passwd).unwrap();
        std::fs::write(dir.path().join("etc/group"), group).unwrap();
        dir
    }

    mod tempdir {
        /// A scratch directory removed on drop.
        pub struct Dir(std::path::PathBuf);
        impl Dir {
            pub fn new() -> Dir {
                let path = crate::state::scratch("process-test");
                std::fs::create_dir_all(&path).unwrap();
                Dir(path)
            }
            pub fn path(&self) -> &std::path::Path {
                &self.0
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    fn open(dir: &tempdir::Dir) -> RootDir {
        RootDir::open(dir.path()).unwrap()
    }

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n";
    const GROUP: &str = "root:x:0:\napp:x:1001:\nstaff:x:50:app\n";

    fn image(entrypoint: &[&str], cmd: &[&str]) -> OciRequest {
        OciRequest {
            image_name: "oci:/img:1".to_owned(),
            image: Some(ImageDefaults {
                entrypoint: entrypoint.iter().map(|s| s.to_string()).collect(),
                cmd: cmd.iter().map(|s| s.to_string()).collect(),
                env: vec!["PATH=/bin".into(), "A=image".into(), "B=image".into()],
                working_dir: Some("/srv".into()),
                user: Some("app".into()),
                stop_signal: Some("SIGQUIT".into()),
            }),
            ..OciRequest::default()
        }
    }

    fn argv(given: &[&str], request: &OciRequest, root: &Path) -> Vec<String> {
        let root = RootDir::open(root).unwrap();
        let given = CommandSpec {
            argv: given.iter().map(|s| s.to_string()).collect(),
            ..CommandSpec::default()
        };
        resolve(&given, request, &root).unwrap().argv
    }

    #[test]
    fn commands_combine_as_in_kubernetes() {
        let root = root_with(PASSWD, GROUP);
        let request = image(&["/entry"], &["serve", "--port=80"]);
        assert_eq!(
            argv(&[], &request, root.path()),
            ["/entry", "serve", "--port=80"]
        );
        assert_eq!(argv(&["debug"], &request, root.path()), ["/entry", "debug"]);
        let overridden = OciRequest {
            entrypoint: Some(vec!["/bin/sh".into()]),
            ..request.clone()
        };
        // A command without arguments drops the image's Cmd.
        assert_eq!(argv(&[], &overridden, root.path()), ["/bin/sh"]);
        assert_eq!(
            argv(&["-c", "true"], &overridden, root.path()),
            ["/bin/sh", "-c", "true"]
        );
        let empty = image(&[], &[]);
        let given = CommandSpec::default();
        let error = resolve(&given, &empty, &open(&root)).unwrap_err();
        assert!(error.to_string().contains("oci:/img:1"), "{error}");
    }

    #[test]
    fn environment_workdir_and_user_come_from_the_image_unless_given() {
        let root = root_with(PASSWD, GROUP);
        let request = image(&[], &["sh"]);
        let given = CommandSpec {
            env: vec![("B".into(), "given".into()), ("C".into(), "given".into())],
            ..CommandSpec::default()
        };
        let spec = resolve(&given, &request, &open(&root)).unwrap();
        assert_eq!(
            spec.env,
            [
                ("PATH".into(), "/bin".into()),
                ("A".into(), "image".into()),
                ("B".into(), "given".into()),
                ("C".into(), "given".into()),
                ("HOME".into(), "/home/app".into()),
            ]
        );
        assert_eq!(spec.workdir.as_deref(), Some("/srv"));
        assert_eq!(
            spec.user,
            Some(User {
                uid: 1000,
                gid: 1001
            })
        );
        assert_eq!(stop_signal(&request).unwrap(), libc::SIGQUIT);
        let mine = CommandSpec {
            workdir: Some("/tmp".into()),
            user: Some(User { uid: 5, gid: 6 }),
            ..CommandSpec::default()
        };
        let spec = resolve(&mine, &request, &open(&root)).unwrap();
        assert_eq!(spec.workdir.as_deref(), Some("/tmp"));
        assert_eq!(spec.user, Some(User { uid: 5, gid: 6 }));
        assert!(spec.env.contains(&("HOME".into(), "/".into())));
    }

    #[test]
    fn commands_are_found_in_the_root_as_the_runtime_would() {
        use std::os::unix::fs::PermissionsExt;
        let root = root_with(PASSWD, GROUP);
        std::fs::create_dir_all(root.path().join("bin")).unwrap();
        std::fs::write(root.path().join("bin/tool"), "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(
            root.path().join("bin/tool"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        std::os::unix::fs::symlink("tool", root.path().join("bin/alias")).unwrap();
        std::fs::write(root.path().join("bin/data"), "").unwrap();
        let command = |argv: &str| CommandSpec {
            argv: vec![argv.to_owned()],
            env: vec![("PATH".into(), "/usr/bin:/bin".into())],
            ..CommandSpec::default()
        };
        for found in ["tool", "alias", "/bin/tool", "../bin/tool"] {
            assert_eq!(
                find_command(&open(&root), &command(found)),
                Ok(()),
                "{found}"
            );
        }
        assert_eq!(
            find_command(&open(&root), &command("nope")).unwrap_err().0,
            127
        );
        assert_eq!(
            find_command(&open(&root), &command("data")).unwrap_err().0,
            126
        );
        assert_eq!(
            find_command(&open(&root), &command("/bin")).unwrap_err().0,
            126
        );
        // The host's /bin/sh is not the image's.
        assert_eq!(
            find_command(&open(&root), &command("sh")).unwrap_err().0,
            127
        );
    }

    #[test]
    fn run_as_user_and_group_apply_as_in_kubernetes() {
        let root = root_with(PASSWD, GROUP);
        let user =
            |run_as_user: Option<u32>, run_as_group: Option<u32>, image_user: Option<&str>| {
                let mut request = image(&[], &["sh"]);
                if let Some(defaults) = &mut request.image {
                    defaults.user = image_user.map(str::to_owned);
                }
                request.run_as_user = run_as_user;
                request.run_as_group = run_as_group;
                resolve(&CommandSpec::default(), &request, &open(&root))
                    .unwrap()
                    .user
            };
        // A UID's group comes from the image's /etc/passwd, else 0.
        assert_eq!(
            user(Some(1000), None, None),
            Some(User {
                uid: 1000,
                gid: 1001
            })
        );
        assert_eq!(
            user(Some(4242), None, Some("app")),
            Some(User { uid: 4242, gid: 0 })
        );
        assert_eq!(
            user(Some(4242), Some(7), None),
            Some(User { uid: 4242, gid: 7 })
        );
        // A group alone changes the image's user's group, or root's.
        assert_eq!(
            user(None, Some(7), Some("app")),
            Some(User { uid: 1000, gid: 7 })
        );
        assert_eq!(user(None, Some(7), None), Some(User { uid: 0, gid: 7 }));
        assert_eq!(user(None, None, None), None);
    }

    #[test]
    fn image_users_are_looked_up_in_the_image() {
        let root = root_with(PASSWD, GROUP);
        let user = |text: &str| lookup_user(text, &open(&root)).map(|(user, _)| user);
        assert_eq!(
            user("app"),
            Ok(User {
                uid: 1000,
                gid: 1001
            })
        );
        assert_eq!(user("app:staff"), Ok(User { uid: 1000, gid: 50 }));
        assert_eq!(
            user("1000"),
            Ok(User {
                uid: 1000,
                gid: 1001
            })
        );
        assert_eq!(user("4242"), Ok(User { uid: 4242, gid: 0 }));
        assert_eq!(user("7:8"), Ok(User { uid: 7, gid: 8 }));
        assert!(user("nobody").unwrap_err().contains("/etc/passwd"));
        assert!(user("app:wheel").unwrap_err().contains("/etc/group"));
    }

    #[test]
    fn image_files_are_read_inside_the_root() {
        let root = root_with(PASSWD, GROUP);
        // An image whose passwd points at a host file reads the image's own path instead.
        let outside_dir = crate::state::scratch("outside-passwd");
        let outside = outside_dir.join("passwd");
        std::fs::write(&outside, "evil:x:0:0::/:/bin/sh\n").unwrap();
        std::fs::remove_file(root.path().join("etc/passwd")).unwrap();
        std::os::unix::fs::symlink(&outside, root.path().join("etc/passwd")).unwrap();
        assert!(lookup_user("evil", &open(&root)).is_err());
        std::fs::remove_dir_all(&outside_dir).unwrap();
        // A FIFO there is refused at once rather than waited on.
        std::fs::remove_file(root.path().join("etc/passwd")).unwrap();
        nix::unistd::mkfifo(
            &root.path().join("etc/passwd"),
            nix::sys::stat::Mode::from_bits_truncate(0o644),
        )
        .unwrap();
        let refused = lookup_user("app", &open(&root)).unwrap_err();
        assert!(refused.contains("not a regular file"), "{refused}");
    }
}
