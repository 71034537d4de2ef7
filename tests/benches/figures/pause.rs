//! pause's figures (issue 2): binary size, idle RSS and idle wake-ups as PID 1, time to reap
//! 10,000 orphans as PID 1, and SIGTERM-to-exit latency; the same workloads on tini, catatonit
//! and dumb-init where they are installed, run as Kubernetes runs its pause: PID 1 of a new
//! PID namespace (`unshare --pid --fork`).
//!
//! Peers that need a command get `sleep` (tini, dumb-init); catatonit has a pause mode (`-P`).
//! SIGTERM-to-exit is measured twice, because the two modes do different work: in hold mode
//! (pause vs catatonit -P) the init just exits; in init mode (`-- sleep`, vs every peer) it
//! forwards SIGTERM to its child, reaps it, and exits with its code.

use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::Signal;
use sandbox_tests::{PidNamespace, child_pids, comm_of, hand_orphans_to, wait_until};

use crate::{Row, Table, Target, median, millis, rss_kb};

/// The budget of issue 2.
const SIZE_BUDGET: f64 = 65536.0;
const RSS_BUDGET_KB: f64 = 100.0;
/// How many orphans one hand-over makes, and how many hand-overs per init (the median counts).
const ORPHANS: usize = 10_000;
const REAP_RUNS: usize = 15;
const SIGTERM_RUNS: usize = 21;
/// How long the idle inits are watched for wake-ups.
const IDLE_WINDOW: Duration = Duration::from_secs(6);

/// One init program as the benchmark runs it.
struct Init {
    /// For the table: `pause`, `tini-static -- sleep`, ...
    name: String,
    program: PathBuf,
    args: Vec<String>,
    /// Whether it runs a `sleep` child, which stays among its children.
    has_child: bool,
}

impl Init {
    fn new(name: &str, program: &Path, args: &[&str], has_child: bool) -> Init {
        Init {
            name: name.to_owned(),
            program: program.to_owned(),
            args: args.iter().map(|arg| (*arg).to_owned()).collect(),
            has_child,
        }
    }

    /// Starts it as PID 1 of a new PID namespace and waits until it is ready: it has taken
    /// over its signals and, if it has one, its `sleep` child runs.
    fn start(&self) -> PidNamespace {
        let namespace = PidNamespace::start(&self.program, &self.args);
        namespace.wait_signals_blocked();
        if self.has_child {
            let ready = wait_until(Duration::from_secs(10), || {
                child_pids(namespace.pid())
                    .iter()
                    .any(|&child| comm_of(child).as_deref() == Some("sleep"))
            });
            assert!(ready, "{}: its sleep never started", self.name);
        }
        namespace
    }
}

/// A peer program, if installed: the first of `names` found in PATH.
fn find_program(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    names.iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    })
}

/// Whether the ELF file at `path` asks for a dynamic loader (has a `PT_INTERP` header).
fn is_dynamic(path: &Path) -> bool {
    !sandbox::binary::inspect_file(path).unwrap().is_static()
}

/// Voluntary plus involuntary context switches of `pid`: each wake-up of a sleeping process
/// ends in one.
fn context_switches(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .filter_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.ends_with("ctxt_switches")
                .then(|| value.trim().parse::<u64>().unwrap())
        })
        .sum()
}

/// Time on the CPU of `pid` so far, from `/proc/PID/schedstat` (nanoseconds, not ticks).
fn cpu_time(pid: i32) -> Duration {
    let schedstat = std::fs::read_to_string(format!("/proc/{pid}/schedstat")).unwrap();
    Duration::from_nanos(
        schedstat
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap(),
    )
}

/// What one hand-over of `ORPHANS` zombies cost an init: the wall time until it had reaped
/// them all (the clock starts as their parent is told to exit), and its own CPU time.
#[derive(Clone, Copy)]
struct Reaping {
    wall: Duration,
    cpu: Duration,
}

fn time_reap(init: &Init, namespace: &PidNamespace) -> Reaping {
    let pid = namespace.pid();
    let left = usize::from(init.has_child);
    let cpu_before = cpu_time(pid);
    let handover = hand_orphans_to(pid, ORPHANS);
    // The orphan forked last is normally reaped last. Polling its /proc entry is cheap and,
    // unlike reading the init's list of children, takes no lock the init needs for reaping.
    let last = format!("/proc/{}", handover.last_orphan);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if !Path::new(&last).exists() && child_pids(pid).len() <= left {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} did not reap {ORPHANS} orphans in 30 s",
            init.name
        );
        std::thread::sleep(Duration::from_micros(100));
    }
    Reaping {
        wall: handover.at.elapsed(),
        cpu: cpu_time(pid) - cpu_before,
    }
}

/// Starts `init`, sends it SIGTERM and times until it has exited, seen through a pidfd (which
/// becomes readable the moment the process exits).
fn time_sigterm(init: &Init) -> Duration {
    let namespace = init.start();
    // SAFETY: pidfd_open takes a PID and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, namespace.pid(), 0) };
    assert!(fd >= 0, "pidfd_open: {}", std::io::Error::last_os_error());
    // SAFETY: `fd` is a new descriptor that nothing else owns.
    let pidfd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let start = Instant::now();
    namespace.signal(Signal::SIGTERM);
    let mut fds = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
    let ready = poll(&mut fds, PollTimeout::from(5000u16)).unwrap();
    let elapsed = start.elapsed();
    assert_eq!(ready, 1, "{} did not exit on SIGTERM within 5 s", init.name);
    elapsed
}

/// The order of `count` inits in round `round`: forward in even rounds, backward in odd ones,
/// so that no init is always the one measured first or right after the same other one.
fn round_order(count: usize, round: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..count).collect();
    if round % 2 == 1 {
        order.reverse();
    }
    order
}

/// Runs each of `inits` `runs` times, interleaved in alternating order (so drifts of the
/// machine hit all alike), and returns the samples per init, in milliseconds.
fn interleaved_samples(
    inits: &[Init],
    runs: usize,
    mut measure: impl FnMut(usize) -> Duration,
) -> Vec<Vec<f64>> {
    let mut samples = vec![Vec::new(); inits.len()];
    for round in 0..runs {
        crate::check_interrupted();
        for i in round_order(inits.len(), round) {
            samples[i].push(millis(measure(i)));
        }
    }
    samples
}

/// Measures everything and adds the rows.
pub fn run(table: &mut Table) {
    let pause = crate::release_binary("pause", "pause/src");
    let sleep = ["--", "sleep", "100000"];
    let tini = find_program(&["tini-static", "tini"]);
    let catatonit = find_program(&["catatonit"]);
    let dumb_init = find_program(&["dumb-init"]);
    let file_name = |path: &Path| path.file_name().unwrap().to_string_lossy().into_owned();

    // Kubernetes-style: each holds the namespace with as little as it can.
    let mut holders = vec![Init::new("pause", &pause, &[], false)];
    if let Some(tini) = &tini {
        holders.push(Init::new(
            &format!("{} -- sleep", file_name(tini)),
            tini,
            &sleep,
            true,
        ));
    }
    if let Some(catatonit) = &catatonit {
        holders.push(Init::new("catatonit -P", catatonit, &["-P"], false));
    }
    if let Some(dumb_init) = &dumb_init {
        holders.push(Init::new("dumb-init sleep", dumb_init, &sleep[1..], true));
    }

    // Size. A dynamically linked peer also needs its C library, which its size leaves out.
    let sizes: Vec<f64> = holders
        .iter()
        .map(|init| std::fs::metadata(&init.program).unwrap().len() as f64)
        .collect();
    let size_names: Vec<Init> = holders
        .iter()
        .map(|init| {
            let mut name = file_name(&init.program);
            if is_dynamic(&init.program) {
                name.push_str(" (dynamic)");
            }
            Init::new(&name, &init.program, &[], false)
        })
        .collect();
    add_compared(
        table,
        "pause binary size",
        "B",
        &size_names,
        &sizes,
        None,
        Target::AtMost(SIZE_BUDGET),
    );

    // Idle: all inits at once, so the window is spent only once.
    let running: Vec<PidNamespace> = holders.iter().map(Init::start).collect();
    let rss: Vec<f64> = running.iter().map(|ns| rss_kb(ns.pid())).collect();
    let before: Vec<u64> = running
        .iter()
        .map(|ns| context_switches(ns.pid()))
        .collect();
    std::thread::sleep(IDLE_WINDOW);
    let per_minute = 60.0 / IDLE_WINDOW.as_secs_f64();
    let wakeups: Vec<f64> = running
        .iter()
        .zip(&before)
        .map(|(ns, before)| (context_switches(ns.pid()) - before) as f64 * per_minute)
        .collect();
    add_compared(
        table,
        "pause idle RSS as PID 1",
        "kB",
        &holders,
        &rss,
        None,
        Target::AtMost(RSS_BUDGET_KB),
    );
    add_compared(
        table,
        "pause idle wake-ups as PID 1",
        "/min",
        &holders,
        &wakeups,
        None,
        Target::AtMost(0.0),
    );

    // Reaping, on the same running inits, in alternating order: in a fixed order pause always
    // came first in a round, right after the last peer's 10,000 exits, and the verdicts flipped
    // from run to run.
    let mut reaping = vec![Vec::new(); holders.len()];
    for round in 0..REAP_RUNS {
        crate::check_interrupted();
        for i in round_order(holders.len(), round) {
            reaping[i].push(time_reap(&holders[i], &running[i]));
        }
    }
    let wall: Vec<Vec<f64>> = reaping
        .iter()
        .map(|runs| runs.iter().map(|r| millis(r.wall)).collect())
        .collect();
    let cpu: Vec<Vec<f64>> = reaping
        .iter()
        .map(|runs| runs.iter().map(|r| millis(r.cpu)).collect())
        .collect();
    let medians = |samples: &[Vec<f64>]| -> Vec<f64> {
        samples.iter().map(|runs| median(runs.clone())).collect()
    };
    add_compared(
        table,
        "pause reap 10,000 orphans as PID 1",
        "ms",
        &holders,
        &medians(&wall),
        Some(&wall),
        Target::RatioAtMost(1.0),
    );
    add_compared(
        table,
        "pause CPU time reaping them",
        "ms",
        &holders,
        &medians(&cpu),
        Some(&cpu),
        Target::RatioAtMost(1.0),
    );
    drop(running);

    // SIGTERM to exit, hold mode: the ones that exit themselves.
    let hold: Vec<Init> = holders.into_iter().filter(|init| !init.has_child).collect();
    let times = interleaved_samples(&hold, SIGTERM_RUNS, |i| time_sigterm(&hold[i]));
    add_compared(
        table,
        "pause SIGTERM to exit, hold mode",
        "ms",
        &hold,
        &medians(&times),
        Some(&times),
        Target::RatioAtMost(1.0),
    );

    // SIGTERM to exit, init mode: forward to `sleep`, reap it, exit 143.
    let mut forwarders = vec![Init::new("pause -- sleep", &pause, &sleep, true)];
    if let Some(tini) = &tini {
        forwarders.push(Init::new(
            &format!("{} -- sleep", file_name(tini)),
            tini,
            &sleep,
            true,
        ));
    }
    if let Some(catatonit) = &catatonit {
        forwarders.push(Init::new("catatonit -- sleep", catatonit, &sleep, true));
    }
    if let Some(dumb_init) = &dumb_init {
        forwarders.push(Init::new("dumb-init sleep", dumb_init, &sleep[1..], true));
    }
    let times = interleaved_samples(&forwarders, SIGTERM_RUNS, |i| time_sigterm(&forwarders[i]));
    add_compared(
        table,
        "pause SIGTERM to exit, init mode",
        "ms",
        &forwarders,
        &medians(&times),
        Some(&times),
        Target::RatioAtMost(1.0),
    );
}

/// Adds one row for `figure` per peer (`inits[1..]`), or a lone row when there is none.
/// `values[0]` is pause's; `samples`, when given, are the runs behind each value (which tell a
/// difference from noise: see [`Row::samples`]).
fn add_compared(
    table: &mut Table,
    figure: &str,
    unit: &'static str,
    inits: &[Init],
    values: &[f64],
    samples: Option<&[Vec<f64>]>,
    target: Target,
) {
    let ours = Row::new(figure, values[0], unit);
    if inits.len() == 1 {
        let lone = match target {
            Target::RatioAtMost(_) | Target::TimesFaster(_) => ours,
            Target::AtMost(_) => ours.target(target),
        };
        table.add(lone);
        return;
    }
    for (i, (peer, value)) in inits.iter().zip(values).enumerate().skip(1) {
        let row = Row::new(figure, values[0], unit)
            .peer(&peer.name, *value)
            .target(target);
        table.add(match samples {
            Some(samples) => row.samples(&samples[0], Some(&samples[i])),
            None => row,
        });
    }
}
