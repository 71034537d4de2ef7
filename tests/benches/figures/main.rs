//! The project's figures, each against its floor or its peers, measured in one run.
//!
//! Run as root, after building the release binaries it measures (it finds them next to itself
//! in `target/<triple>/release/`, as the tests find theirs):
//!
//! ```text
//! cargo build --release --workspace && cargo bench -p sandbox-tests
//! ```
//!
//! Each module measures one program and adds rows to the [`Table`], which prints them as they
//! come and writes them all to `target/bench/figures.json` at the end, so that a later run can
//! be compared. These machines are noisy: times are medians of several runs, and a peer runs
//! the same workload in the same run, interleaved with ours, so that the ratio means something
//! where the absolute time alone would not.

#![allow(clippy::unwrap_used)]

mod pause;

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;

fn main() {
    sandbox_tests::require_root();
    let mut table = Table::new();
    pause::run(&mut table);
    let path = table.write_json();
    println!("\nwritten to {}", path.display());
}

/// What a figure should be, to count as met.
#[derive(Clone, Copy, Debug)]
pub enum Target {
    /// At most this value, in the row's unit.
    AtMost(f64),
    /// At most this many times the peer's value.
    RatioAtMost(f64),
}

impl Target {
    fn describe(self, unit: &str) -> String {
        match self {
            Target::AtMost(limit) => format!("<= {} {unit}", number(limit)),
            Target::RatioAtMost(ratio) => format!("<= {ratio}x peer"),
        }
    }
}

/// One line of the table: a figure of ours, optionally a peer's (or a floor's) value for the
/// same workload, and optionally a target.
#[derive(Debug)]
pub struct Row {
    figure: String,
    value: f64,
    unit: &'static str,
    peer: Option<(String, f64)>,
    target: Option<Target>,
}

impl Row {
    /// Our `value` for `figure`, in `unit`.
    pub fn new(figure: impl Into<String>, value: f64, unit: &'static str) -> Row {
        Row {
            figure: figure.into(),
            value,
            unit,
            peer: None,
            target: None,
        }
    }

    /// The same figure for a peer (or a floor) named `name`, measured in the same run.
    pub fn peer(mut self, name: impl Into<String>, value: f64) -> Row {
        self.peer = Some((name.into(), value));
        self
    }

    /// What the figure should be.
    pub fn target(mut self, target: Target) -> Row {
        self.target = Some(target);
        self
    }

    /// Ours divided by the peer's, when there is a peer with a non-zero value.
    fn ratio(&self) -> Option<f64> {
        self.peer
            .as_ref()
            .filter(|(_, peer)| *peer > 0.0)
            .map(|(_, peer)| self.value / peer)
    }

    /// Whether the target is met; `None` without a target (or a ratio to judge it by).
    fn met(&self) -> Option<bool> {
        match self.target? {
            Target::AtMost(limit) => Some(self.value <= limit),
            Target::RatioAtMost(limit) => match (self.ratio(), &self.peer) {
                (Some(ratio), _) => Some(ratio <= limit),
                // A peer at 0 is beaten only by 0.
                (None, Some(_)) => Some(self.value == 0.0),
                (None, None) => None,
            },
        }
    }
}

/// The figures of one run.
pub struct Table {
    rows: Vec<Row>,
}

const HEADER: [&str; 8] = [
    "figure",
    "value",
    "unit",
    "peer",
    "peer value",
    "ratio",
    "target",
    "met",
];

impl Table {
    fn new() -> Table {
        print_line(&HEADER.map(str::to_owned));
        Table { rows: Vec::new() }
    }

    /// Prints `row` and keeps it for the JSON file.
    pub fn add(&mut self, row: Row) {
        let dash = || "-".to_owned();
        print_line(&[
            row.figure.clone(),
            number(row.value),
            row.unit.to_owned(),
            row.peer
                .as_ref()
                .map_or_else(dash, |(name, _)| name.clone()),
            row.peer
                .as_ref()
                .map_or_else(dash, |(_, value)| number(*value)),
            row.ratio().map_or_else(dash, |ratio| format!("{ratio:.2}")),
            row.target
                .map_or_else(dash, |target| target.describe(row.unit)),
            match row.met() {
                Some(true) => "yes".to_owned(),
                Some(false) => "NO".to_owned(),
                None => dash(),
            },
        ]);
        self.rows.push(row);
    }

    /// Writes the rows, the date and the machine to `target/bench/figures.json`; returns the path.
    fn write_json(&self) -> PathBuf {
        let rows: Vec<_> = self
            .rows
            .iter()
            .map(|row| {
                json!({
                    "figure": row.figure,
                    "value": row.value,
                    "unit": row.unit,
                    "peer": row.peer.as_ref().map(|(name, _)| name),
                    "peer_value": row.peer.as_ref().map(|(_, value)| value),
                    "ratio": row.ratio(),
                    "target": row.target.map(|target| target.describe(row.unit)),
                    "met": row.met(),
                })
            })
            .collect();
        let document = json!({
            "unix_time": SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs(),
            "machine": machine(),
            "rows": rows,
        });
        // The bench runs as target/<triple>/release/deps/figures-<hash>.
        let exe = std::env::current_exe().unwrap();
        let dir = exe.ancestors().nth(4).unwrap().join("bench");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("figures.json");
        std::fs::write(
            &path,
            serde_json::to_string_pretty(&document).unwrap() + "\n",
        )
        .unwrap();
        path
    }
}

fn print_line(cells: &[String; 8]) {
    let [figure, value, unit, peer, peer_value, ratio, target, met] = cells;
    println!(
        "{figure:<44} {value:>10} {unit:<5} {peer:<22} {peer_value:>10} {ratio:>6}  {target:<16} {met}"
    );
}

/// A figure with as many decimals as its size deserves.
fn number(value: f64) -> String {
    if value == value.trunc() || value.abs() >= 100.0 {
        format!("{value:.0}")
    } else if value.abs() >= 1.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.3}")
    }
}

/// Kernel, CPU model and count, memory: what a reader needs to compare two runs.
fn machine() -> serde_json::Value {
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    let cpuinfo = read("/proc/cpuinfo");
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .and_then(|rest| rest.split(':').nth(1))
        .map(str::trim);
    let meminfo = read("/proc/meminfo");
    let mem_kb = meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .map(str::trim);
    json!({
        "kernel": read("/proc/sys/kernel/osrelease").trim(),
        "cpu": model,
        "cpus": std::thread::available_parallelism().map(usize::from).ok(),
        "memory": mem_kb,
    })
}

/// The median of `samples` (the upper one of the middle two for an even count).
pub fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

/// Milliseconds, for the table.
pub fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}
