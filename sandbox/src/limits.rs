//! Resource limits of a pod or a container, as `--memory`, `--cpus` and `--pids-limit` give
//! them and as records keep them; `sys::cgroup` writes them to the kernel.
//!
//! - Memory: bytes, with docker's binary suffixes `k`, `m`, `g` (either case: `32m` and `32M`
//!   are 32 MiB, as with `docker run -m`) or Kubernetes' `Ki`, `Mi`, `Gi` (the same values). At
//!   least 6 MiB, docker's floor: below that even a shell is killed as it starts.
//! - CPUs: a decimal number of CPUs (`1.5`) or Kubernetes' millicores (`1500m`), at least 0.01;
//!   it becomes a CFS quota of that many periods of [`CPU_PERIOD_US`] (`--cpus 1.5`: 150 ms per
//!   100 ms), as the kubelet sets it.
//! - PIDs: a positive number of tasks.

use serde::{Deserialize, Serialize};

/// The CFS period the kubelet and docker use, in microseconds.
pub const CPU_PERIOD_US: u64 = 100_000;
/// The smallest memory limit accepted.
pub const MIN_MEMORY_BYTES: u64 = 6 << 20;
/// The smallest CPU limit, in millicores: a quota of 1 ms per period, the kernel's minimum.
pub const MIN_MILLICPUS: u64 = 10;

/// Limits of a pod or a container; `None` is no limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Memory, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<u64>,
    /// CPU, in thousandths of a CPU (`1500` for `--cpus 1.5`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub millicpus: Option<u64>,
    /// Number of tasks (processes and threads).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pids: Option<u64>,
}

impl Limits {
    /// Whether no limit is set.
    pub fn is_empty(&self) -> bool {
        *self == Limits::default()
    }

    /// Each limit of `self`, else of `outer`: which kinds of limit apply to a cgroup below
    /// another (a container's below its pod's), for deciding which controllers a process
    /// must be in.
    pub fn within(&self, outer: &Limits) -> Limits {
        Limits {
            memory_bytes: self.memory_bytes.or(outer.memory_bytes),
            millicpus: self.millicpus.or(outer.millicpus),
            pids: self.pids.or(outer.pids),
        }
    }

    /// The CFS quota per [`CPU_PERIOD_US`], in microseconds.
    pub fn cpu_quota_us(&self) -> Option<u64> {
        self.millicpus
            .map(|millis| millis.saturating_mul(CPU_PERIOD_US) / 1000)
    }
}

/// Parses a memory size (see the module docs) into bytes.
pub fn parse_memory(text: &str) -> Result<u64, String> {
    let (digits, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, ""),
    };
    let shift = match unit {
        "" | "b" | "B" => 0,
        "k" | "K" | "Ki" | "kb" | "KB" => 10,
        "m" | "M" | "Mi" | "mb" | "MB" => 20,
        "g" | "G" | "Gi" | "gb" | "GB" => 30,
        _ => {
            return Err(format!(
                "unknown unit {unit:?}: expected a number of bytes with k, m or g (or Ki, Mi, \
                 Gi), such as 64m"
            ));
        }
    };
    let number: u64 = digits
        .parse()
        .map_err(|_| "expected a number of bytes with k, m or g (or Ki, Mi, Gi), such as 64m")?;
    let bytes = number
        .checked_mul(1 << shift)
        .ok_or_else(|| format!("{text} is more memory than a machine can have"))?;
    if bytes < MIN_MEMORY_BYTES {
        return Err(format!("{bytes} bytes is below the minimum of 6 MiB (6m)"));
    }
    Ok(bytes)
}

/// Parses a number of CPUs (see the module docs) into millicores.
pub fn parse_cpus(text: &str) -> Result<u64, String> {
    const EXPECTED: &str = "expected a number of CPUs such as 0.5, 1.5 or 2 (or millicores: 500m)";
    let millis = if let Some(millis) = text.strip_suffix('m') {
        millis.parse::<u64>().map_err(|_| EXPECTED.to_owned())?
    } else {
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        if (whole.is_empty() && fraction.is_empty())
            || !whole.bytes().all(|b| b.is_ascii_digit())
            || !fraction.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(EXPECTED.to_owned());
        }
        if fraction.len() > 3 {
            return Err("at most three decimals: a thousandth of a CPU is the finest step".into());
        }
        let whole: u64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| EXPECTED.to_owned())?
        };
        let fraction: u64 = format!("{fraction:0<3}")
            .parse()
            .map_err(|_| EXPECTED.to_owned())?;
        whole
            .checked_mul(1000)
            .and_then(|millis| millis.checked_add(fraction))
            .ok_or_else(|| EXPECTED.to_owned())?
    };
    if millis < MIN_MILLICPUS {
        return Err("at least 0.01 CPU (10m): the kernel's smallest quota is 1 ms".to_owned());
    }
    Ok(millis)
}

/// Parses a number of tasks.
pub fn parse_pids(text: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(0) | Err(_) => Err("expected a positive number of processes".to_owned()),
        Ok(pids) => Ok(pids),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_takes_docker_and_kubernetes_units() {
        for (text, bytes) in [
            ("32m", 32 << 20),
            ("32M", 32 << 20),
            ("32Mi", 32 << 20),
            ("1g", 1 << 30),
            ("2Gi", 2 << 30),
            ("8192k", 8 << 20),
            ("8192Ki", 8 << 20),
            ("67108864", 64 << 20),
            ("67108864b", 64 << 20),
        ] {
            assert_eq!(parse_memory(text), Ok(bytes), "{text}");
        }
    }

    #[test]
    fn bad_memory_sizes_say_why() {
        for (text, problem) in [
            ("", "expected a number"),
            ("m", "expected a number"),
            ("1.5g", "unknown unit \".5g\""),
            ("32T", "unknown unit \"T\""),
            ("-1m", "unknown unit \"-1m\""),
            ("1m", "below the minimum of 6 MiB"),
            ("99999999999999999999g", "expected a number"),
            ("9999999999999g", "more memory than a machine can have"),
        ] {
            let error = parse_memory(text).unwrap_err();
            assert!(error.contains(problem), "{text:?}: {error}");
        }
    }

    #[test]
    fn cpus_become_millicores_and_a_quota() {
        for (text, millis) in [
            ("1.5", 1500),
            ("0.5", 500),
            (".25", 250),
            ("2", 2000),
            ("2.", 2000),
            ("0.01", 10),
            ("500m", 500),
        ] {
            assert_eq!(parse_cpus(text), Ok(millis), "{text}");
        }
        let limits = Limits {
            millicpus: Some(1500),
            ..Limits::default()
        };
        assert_eq!(limits.cpu_quota_us(), Some(150_000));
    }

    #[test]
    fn bad_cpus_say_why() {
        for (text, problem) in [
            ("", "expected a number of CPUs"),
            (".", "expected a number of CPUs"),
            ("1,5", "expected a number of CPUs"),
            ("-1", "expected a number of CPUs"),
            ("0.0001", "at most three decimals"),
            ("0", "at least 0.01 CPU"),
            ("5m", "at least 0.01 CPU"),
        ] {
            let error = parse_cpus(text).unwrap_err();
            assert!(error.contains(problem), "{text:?}: {error}");
        }
    }

    #[test]
    fn pids_are_positive() {
        assert_eq!(parse_pids("5"), Ok(5));
        assert!(parse_pids("0").is_err());
        assert!(parse_pids("-1").is_err());
        assert!(parse_pids("many").is_err());
    }

    #[test]
    fn records_keep_only_what_is_set() {
        let limits = Limits {
            memory_bytes: Some(32 << 20),
            ..Limits::default()
        };
        let json = serde_json::to_string(&limits).unwrap();
        assert_eq!(json, r#"{"memory_bytes":33554432}"#);
        assert_eq!(serde_json::from_str::<Limits>(&json).unwrap(), limits);
        assert!(serde_json::from_str::<Limits>("{}").unwrap().is_empty());
    }
}
