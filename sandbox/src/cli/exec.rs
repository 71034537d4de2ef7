//! `sandbox exec POD [OPTIONS] -- CMD`: run CMD in the foreground inside the pod, passing on
//! the signals a user or a script sends, and exit with its code.

use sandbox::{Error, ExecSession, Host, Result};

/// `exec`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Pod name.
    pub name: String,
    /// Run the command inside this container: its mount and PID namespaces too, and its
    /// environment, working directory and user unless given here (like `kubectl exec -c`).
    #[arg(short, long, value_name = "C")]
    pub container: Option<String>,
    #[command(flatten)]
    pub process: super::Process,
}

/// The signals passed on to the command.
const FORWARDED: [i32; 8] = [
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGWINCH,
    libc::SIGCONT,
];

pub fn run(host: &Host, args: Args) -> Result<u8> {
    let command = args.process.into_spec()?;
    // Caught before the command starts: a signal arriving before the handlers were in place
    // would kill this CLI by its default action and orphan the command.
    let signals = signal_hook::iterator::Signals::new(FORWARDED).map_err(|e| Error::Io {
        what: "installing signal handlers to forward signals to exec".to_owned(),
        source: e,
    })?;
    let session = host.exec(&args.name, args.container.as_deref(), &command)?;
    let pid = session.launcher().pid();
    // Waited for without reaping, so that the PID stays the launcher's until its record is
    // gone (a new session could get it, and its record the same name).
    let code = wait_forwarding_signals(&session, signals);
    if let Err(error) = session.finish() {
        log::warn!("{}", sandbox::error_chain(&error));
    }
    reap(pid);
    code
}

/// Waits for the session's launcher (pause in init mode), passing on the signals a user or a
/// script sends us, and returns its exit code (128+n if it was killed by signal n).
fn wait_forwarding_signals(
    session: &ExecSession,
    mut signals: signal_hook::iterator::Signals,
) -> Result<u8> {
    let launcher = session.launcher();
    let pid = launcher.pid();
    std::thread::scope(|scope| {
        let handle = signals.handle();
        scope.spawn(move || {
            for signal in signals.forever() {
                if let Err(error) = launcher.send_signal(signal) {
                    log::warn!("{}", sandbox::error_chain(&error));
                }
            }
        });
        let code = wait_for(pid);
        handle.close();
        code
    })
}

/// Waits until the launcher `pid` has exited, leaving it a zombie (`WNOWAIT`), and returns its
/// exit code (128+n if signal n killed it).
fn wait_for(pid: i32) -> Result<u8> {
    use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
    loop {
        match waitid(
            Id::Pid(nix::unistd::Pid::from_raw(pid)),
            WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT,
        ) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(code as u8),
            Ok(WaitStatus::Signaled(_, signal, _)) => {
                return Ok(sandbox::exit::code_for_signal(signal as i32) as u8);
            }
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(errno) => {
                return Err(Error::Os {
                    what: format!("waiting for exec process {pid}"),
                    source: errno,
                });
            }
        }
    }
}

/// Reaps the launcher that [`wait_for`] left a zombie.
fn reap(pid: i32) {
    if let Err(errno) = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None) {
        log::warn!("reaping exec process {pid}: {errno}");
    }
}
