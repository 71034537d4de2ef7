//! The table of figures: one row per figure, with its peer or floor, the ratio, the target and
//! whether it is met; printed as rows come, then written as JSON (for comparing runs) and as
//! Markdown (for the README).

use std::path::PathBuf;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::json;

/// What a figure should be, to count as met.
#[derive(Clone, Copy, Debug)]
pub enum Target {
    /// At most this value, in the row's unit.
    AtMost(f64),
    /// At most this many times the peer's value.
    RatioAtMost(f64),
    /// The peer's value at least this many times ours (for times: this many times faster).
    TimesFaster(f64),
}

impl Target {
    fn describe(self, unit: &str) -> String {
        match self {
            Target::AtMost(limit) => format!("<= {} {unit}", number(limit)),
            Target::RatioAtMost(ratio) => format!("<= {ratio}x peer"),
            Target::TimesFaster(times) => format!(">= {times}x faster"),
        }
    }
}

/// One line of the table: a figure of ours, optionally a peer's (or a floor's) value for the
/// same workload, optionally a target, and optionally a note (what a reader must know to read
/// it right, or why a peer is missing).
#[derive(Debug)]
pub struct Row {
    figure: String,
    value: f64,
    unit: &'static str,
    peer: Option<(String, f64)>,
    target: Option<Target>,
    note: Option<String>,
    /// Relative standard error of what the target judges (the value, or the ratio), when the
    /// samples behind the medians are known.
    error: Option<f64>,
}

/// How a row fares against its target.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Verdict {
    Met,
    Missed,
    /// Closer to the target than twice the standard error of the medians (~95%): this run
    /// cannot tell; another run may say either.
    Tie,
}

/// The relative standard error of the median of `samples`: 1.2533 σ / √n, with σ estimated
/// robustly as IQR / 1.349; `None` for fewer than 5 samples or a median of 0.
fn relative_error(samples: &[f64]) -> Option<f64> {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable_by(|a, b| a.partial_cmp(b).unwrap());
    let n = sorted.len();
    let median = *sorted.get(n / 2)?;
    if n < 5 || median == 0.0 {
        return None;
    }
    let sigma = (sorted[3 * n / 4] - sorted[n / 4]) / 1.349;
    Some(1.2533 * sigma / (n as f64).sqrt() / median)
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
            note: None,
            error: None,
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

    /// A remark printed with the row.
    pub fn note(mut self, note: impl Into<String>) -> Row {
        self.note = Some(note.into());
        self
    }

    /// The samples behind our median and the peer's (in the row's unit), so that a figure
    /// closer to its target than the noise of the medians is called a tie, not met or missed.
    pub fn samples(mut self, ours: &[f64], peer: Option<&[f64]>) -> Row {
        self.error = match peer {
            None => relative_error(ours),
            Some(peer) => relative_error(ours)
                .zip(relative_error(peer))
                .map(|(a, b)| a.hypot(b)),
        };
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
            Target::TimesFaster(times) => self.ratio().map(|ratio| ratio * times <= 1.0),
        }
    }

    /// The judged quantity (value or ratio) and the limit it is held to, for the noise check.
    fn judged(&self) -> Option<(f64, f64)> {
        match self.target? {
            Target::AtMost(limit) => Some((self.value, limit)),
            Target::RatioAtMost(limit) => Some((self.ratio()?, limit)),
            Target::TimesFaster(times) => Some((self.ratio()?, 1.0 / times)),
        }
    }

    /// [`Row::met`], or a tie when the samples are known and the judged quantity lies within
    /// twice its standard error of the limit.
    fn verdict(&self) -> Option<Verdict> {
        let met = self.met()?;
        let within_noise = match (self.judged(), self.error) {
            (Some((judged, limit)), Some(error)) if limit > 0.0 => {
                (judged / limit - 1.0).abs() <= 2.0 * error
            }
            _ => false,
        };
        Some(match (within_noise, met) {
            (true, _) => Verdict::Tie,
            (false, true) => Verdict::Met,
            (false, false) => Verdict::Missed,
        })
    }

    /// The cells of the table, in [`HEADER`] order, with `-` for what the row lacks.
    fn cells(&self) -> [String; 9] {
        let dash = || "-".to_owned();
        [
            self.figure.clone(),
            number(self.value),
            self.unit.to_owned(),
            self.peer
                .as_ref()
                .map_or_else(dash, |(name, _)| name.clone()),
            self.peer
                .as_ref()
                .map_or_else(dash, |(_, value)| number(*value)),
            self.ratio().map_or_else(dash, |ratio| {
                if ratio < 0.095 {
                    format!("{ratio:.3}")
                } else {
                    format!("{ratio:.2}")
                }
            }),
            self.target
                .map_or_else(dash, |target| target.describe(self.unit)),
            match self.verdict() {
                Some(Verdict::Met) => "yes".to_owned(),
                Some(Verdict::Missed) => "NO".to_owned(),
                Some(Verdict::Tie) => "tie".to_owned(),
                None => dash(),
            },
            self.full_note(),
        ]
    }

    /// The note, after "N.Nx faster" when the target is about speed (which the ratio, ours over
    /// the peer's as in every row, shows less plainly) and the noise of the judged quantity
    /// (twice its relative standard error) when the samples are known.
    fn full_note(&self) -> String {
        let speed = match (self.target, self.ratio()) {
            (Some(Target::TimesFaster(_)), Some(ratio)) if ratio > 0.0 => {
                Some(format!("{:.1}x faster", 1.0 / ratio))
            }
            _ => None,
        };
        let noise = self
            .error
            .map(|error| format!("noise ±{:.0}%", 200.0 * error));
        speed
            .into_iter()
            .chain(noise)
            .chain(self.note.clone())
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// The figures of one run.
pub struct Table {
    rows: Vec<Row>,
}

const HEADER: [&str; 9] = [
    "figure",
    "value",
    "unit",
    "peer or floor",
    "peer value",
    "ratio",
    "target",
    "met",
    "note",
];

impl Table {
    /// An empty table; prints the header.
    pub(crate) fn new() -> Table {
        print_line(&HEADER.map(str::to_owned));
        Table { rows: Vec::new() }
    }

    /// Prints `row` and keeps it for the files.
    pub fn add(&mut self, row: Row) {
        print_line(&row.cells());
        self.rows.push(row);
    }

    /// Writes the rows, the date and the machine to `target/bench/STEM.json`, and the table as
    /// Markdown (for the README) to `target/bench/STEM.md`; returns both paths.
    pub(crate) fn write(&self, stem: &str) -> (PathBuf, PathBuf) {
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
                    "met": row.verdict().and_then(|verdict| match verdict {
                        Verdict::Met => Some(true),
                        Verdict::Missed => Some(false),
                        Verdict::Tie => None,
                    }),
                    "tie": row.verdict() == Some(Verdict::Tie),
                    "noise": row.error.map(|error| 2.0 * error),
                    "note": row.note,
                })
            })
            .collect();
        let machine = machine();
        let document = json!({
            "unix_time": SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs(),
            "machine": machine,
            "rows": rows,
        });
        // The bench runs as target/<triple>/release/deps/figures-<hash>.
        let exe = std::env::current_exe().unwrap();
        let dir = exe.ancestors().nth(4).unwrap().join("bench");
        std::fs::create_dir_all(&dir).unwrap();
        let json_path = dir.join(format!("{stem}.json"));
        std::fs::write(
            &json_path,
            serde_json::to_string_pretty(&document).unwrap() + "\n",
        )
        .unwrap();
        let markdown_path = dir.join(format!("{stem}.md"));
        std::fs::write(&markdown_path, self.markdown(&machine)).unwrap();
        (json_path, markdown_path)
    }

    /// The table in Markdown, under a line with the date and the machine.
    fn markdown(&self, machine: &serde_json::Value) -> String {
        let date = Command::new("date")
            .args(["-u", "+%Y-%m-%d"])
            .output()
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
            .unwrap_or_default();
        let mut text = format!(
            "{date}, {} vCPU ({}), {} GiB, kernel {}, {}:\n\n",
            machine["cpus"],
            machine["cpu"].as_str().unwrap_or("?"),
            machine["memory_gib"]
                .as_f64()
                .map_or_else(|| "?".to_owned(), |gib| format!("{gib:.0}")),
            machine["kernel"].as_str().unwrap_or("?"),
            machine["os"].as_str().unwrap_or("?"),
        );
        text += "| figure | ours | peer or floor | peer | ours/peer | target | met? | note |\n";
        text += "|---|--:|---|--:|--:|---|---|---|\n";
        for row in &self.rows {
            let [
                figure,
                value,
                unit,
                peer,
                peer_value,
                ratio,
                target,
                met,
                note,
            ] = row.cells();
            let with_unit = |value: String| match value.as_str() {
                "-" => value,
                _ => format!("{value} {unit}"),
            };
            let met = if met == "NO" {
                "**no**".to_owned()
            } else {
                met
            };
            text += &format!(
                "| {figure} | {} | {peer} | {} | {ratio} | {target} | {met} | {note} |\n",
                with_unit(value.clone()),
                with_unit(peer_value),
            );
        }
        text
    }
}

fn print_line(cells: &[String; 9]) {
    let [
        figure,
        value,
        unit,
        peer,
        peer_value,
        ratio,
        target,
        met,
        note,
    ] = cells;
    println!(
        "{figure:<50} {value:>10} {unit:<5} {peer:<36} {peer_value:>10} {ratio:>6}  {target:<16} {met:<4} {note}"
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

/// Kernel, distribution, CPU model and count, memory: what a reader needs to compare two runs.
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
    let gib = mem_kb
        .and_then(|kb| kb.trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| (kb / 1024.0 / 1024.0).round());
    let os_release = read("/etc/os-release");
    let os = os_release
        .lines()
        .find_map(|line| line.strip_prefix("PRETTY_NAME="))
        .map(|name| name.trim_matches('"'));
    json!({
        "kernel": read("/proc/sys/kernel/osrelease").trim(),
        "os": os,
        "cpu": model,
        "cpus": std::thread::available_parallelism().map(usize::from).ok(),
        "memory": mem_kb,
        "memory_gib": gib,
    })
}
