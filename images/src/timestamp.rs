//! The build's one timestamp. Every mtime in the layer and the archive, and the `created` fields
//! of the config, come from it, and it comes from `SOURCE_DATE_EPOCH`
//! (<https://reproducible-builds.org/specs/source-date-epoch/>), default 0 (1970-01-01): the
//! wall clock never enters an image, so builds at different times give the same bytes.
//!
//! `humantime` writes the RFC 3339 form. Its whole-second format is exactly what the configs
//! have always held (`1970-01-01T00:00:00Z`: UTC, `Z`, no fraction), so digests stay the same.

use std::time::{Duration, SystemTime};

use crate::error::{Error, Result};

/// The last second RFC 3339 can write, 9999-12-31T23:59:59Z: its years have four digits.
pub(crate) const MAX_EPOCH: u64 = 253_402_300_799;

/// RFC 3339 UTC (`1970-01-01T00:00:00Z`) of `epoch` seconds, as OCI `created` fields want.
pub(crate) fn rfc3339(epoch: u64) -> Result<String> {
    let time = Some(epoch)
        .filter(|&epoch| epoch <= MAX_EPOCH)
        .and_then(|epoch| SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(epoch)))
        .ok_or(Error::EpochOutOfRange {
            epoch,
            max: MAX_EPOCH,
        })?;
    // Within MAX_EPOCH humantime's Display never fails, so `to_string` cannot panic.
    Ok(humantime::format_rfc3339_seconds(time).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339(0).unwrap(), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400).unwrap(), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000).unwrap(), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(4_107_542_399).unwrap(), "2100-02-28T23:59:59Z");
        assert_eq!(rfc3339(4_107_542_400).unwrap(), "2100-03-01T00:00:00Z");
        assert_eq!(rfc3339(MAX_EPOCH).unwrap(), "9999-12-31T23:59:59Z");
    }

    #[test]
    fn refuses_epochs_past_year_9999() {
        let error = rfc3339(MAX_EPOCH + 1).unwrap_err();
        assert_eq!(
            error.to_string(),
            "SOURCE_DATE_EPOCH 253402300800 is after 9999-12-31T23:59:59Z (253402300799), the last \
             second an RFC 3339 `created` field can hold"
        );
        assert!(rfc3339(u64::MAX).is_err());
    }
}
