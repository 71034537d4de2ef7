//! Exit codes and signals, as a shell and the kubelet report them: a process that exited with
//! status `s` has code `s`; one killed by signal `n` has code `128 + n` (SIGTERM 143, SIGKILL
//! 137). Pure functions, no I/O.

use nix::sys::signal::Signal;

use crate::error::{Error, Result};

/// The exit code of a process killed by signal `signal`.
pub fn code_for_signal(signal: i32) -> i32 {
    128 + signal
}

/// The highest signal number the kernel delivers (SIGRTMAX on Linux).
const SIGNAL_MAX: i32 = 64;
/// The first real-time signal as the kernel numbers it (libc reserves a few above it).
const SIGNAL_RTMIN: i32 = 32;

/// The conventional name of a signal number: `SIGTERM`, or `SIGRTMIN+3` for real-time ones.
pub fn signal_name(signal: i32) -> String {
    match Signal::try_from(signal) {
        Ok(known) => known.as_str().to_owned(),
        Err(_) if (SIGNAL_RTMIN..=SIGNAL_MAX).contains(&signal) => {
            format!("SIGRTMIN+{}", signal - SIGNAL_RTMIN)
        }
        Err(_) => format!("SIG{signal}"),
    }
}

/// Parses a signal given as a name (`SIGQUIT`, `QUIT`, `sigquit`) or a number (`3`).
pub fn parse_signal(text: &str) -> Result<i32> {
    let invalid = |reason: &str| Error::InvalidInput {
        what: "signal",
        value: text.to_owned(),
        reason: reason.to_owned(),
    };
    if let Ok(number) = text.parse::<i32>() {
        if (1..=SIGNAL_MAX).contains(&number) {
            return Ok(number);
        }
        return Err(invalid("signal numbers go from 1 to 64"));
    }
    let upper = text.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    name.parse::<Signal>()
        .map(|signal| signal as i32)
        .map_err(|_| invalid("not a signal name such as SIGTERM, TERM or 15"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_map_to_128_plus_n() {
        assert_eq!(code_for_signal(libc::SIGTERM), 143);
        assert_eq!(code_for_signal(libc::SIGKILL), 137);
        assert_eq!(code_for_signal(libc::SIGINT), 130);
    }

    #[test]
    fn signal_names() {
        assert_eq!(signal_name(15), "SIGTERM");
        assert_eq!(signal_name(9), "SIGKILL");
        assert_eq!(signal_name(34), "SIGRTMIN+2");
        assert_eq!(signal_name(99), "SIG99");
    }

    #[test]
    fn parses_names_short_names_and_numbers() {
        assert_eq!(parse_signal("SIGQUIT").unwrap(), libc::SIGQUIT);
        assert_eq!(parse_signal("QUIT").unwrap(), libc::SIGQUIT);
        assert_eq!(parse_signal("sigterm").unwrap(), libc::SIGTERM);
        assert_eq!(parse_signal("10").unwrap(), 10);
        assert_eq!(parse_signal("64").unwrap(), 64);
    }

    #[test]
    fn refuses_non_signals() {
        for bad in ["", "0", "65", "-1", "SIGFOO", "TERM ", "9x"] {
            assert!(parse_signal(bad).is_err(), "{bad:?} was accepted");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_signal_text_parses_or_errs_and_numbers_stay_in_range(text in ".{0,20}") {
            if let Ok(signal) = parse_signal(&text) {
                proptest::prop_assert!((1..=SIGNAL_MAX).contains(&signal));
            }
        }

        #[test]
        fn every_signal_name_parses_back(signal in 1..=31i32) {
            if let Ok(known) = Signal::try_from(signal) {
                proptest::prop_assert_eq!(parse_signal(known.as_str()).unwrap(), signal);
            }
        }
    }
}
