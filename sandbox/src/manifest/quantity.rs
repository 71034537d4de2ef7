//! Kubernetes resource quantities (`64Mi`, `1G`, `500m`, `0.5`, `1e3`), as `resources.limits`
//! gives them: a decimal number and a suffix, either binary (`Ki` … `Ei`), decimal (`m`, `k`,
//! `M` … `E`) or an exponent (`e3`, `E-2`). Kubernetes rounds a quantity up to the unit it is
//! used in (a byte of memory, a millicore of CPU), and so does this.

/// The value of `text` in units of 1/`per_unit` (1 for bytes, 1000 for millicores), rounded up.
fn scaled(text: &str, per_unit: u128) -> Result<u128, String> {
    const EXPECTED: &str = "expected a Kubernetes quantity such as 64Mi, 1G, 500m or 0.5";
    let unsigned = text.strip_prefix('+').unwrap_or(text);
    let number_end = unsigned
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(unsigned.len());
    let (number, suffix) = unsigned.split_at(number_end);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if fraction.contains('.') {
        return Err(EXPECTED.to_owned());
    }
    if whole.is_empty() && fraction.is_empty() {
        return Err(if text.starts_with('-') {
            "must not be negative".to_owned()
        } else {
            EXPECTED.to_owned()
        });
    }
    let digits = format!("{whole}{fraction}");
    let mut mantissa: u128 = digits.parse().map_err(|_| "too large".to_owned())?;
    // value = mantissa * 2^binary * 10^decimal
    let mut decimal = -i32::try_from(fraction.len()).map_err(|_| EXPECTED.to_owned())?;
    let binary = match suffix {
        "Ki" => 10,
        "Mi" => 20,
        "Gi" => 30,
        "Ti" => 40,
        "Pi" => 50,
        "Ei" => 60,
        _ => 0,
    };
    decimal += match suffix {
        "" | "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei" => 0,
        "m" => -3,
        "k" => 3,
        "M" => 6,
        "G" => 9,
        "T" => 12,
        "P" => 15,
        "E" => 18,
        exponent if exponent.starts_with(['e', 'E']) => exponent[1..]
            .parse::<i32>()
            .ok()
            .filter(|e| e.abs() <= 40)
            .ok_or_else(|| EXPECTED.to_owned())?,
        _ => return Err(format!("unknown suffix {suffix:?}: {EXPECTED}")),
    };
    let too_large = || "too large".to_owned();
    mantissa = mantissa
        .checked_mul(per_unit)
        .and_then(|m| m.checked_mul(1 << binary))
        .ok_or_else(too_large)?;
    let ten = |power: i32| {
        10u128
            .checked_pow(power.unsigned_abs())
            .ok_or_else(too_large)
    };
    if decimal >= 0 {
        mantissa.checked_mul(ten(decimal)?).ok_or_else(too_large)
    } else {
        Ok(mantissa.div_ceil(ten(decimal)?))
    }
}

/// A memory quantity in bytes.
pub fn bytes(text: &str) -> Result<u64, String> {
    scaled(text, 1).and_then(|v| u64::try_from(v).map_err(|_| "too large".to_owned()))
}

/// A CPU quantity in millicores.
pub fn millicpus(text: &str) -> Result<u64, String> {
    scaled(text, 1000).and_then(|v| u64::try_from(v).map_err(|_| "too large".to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_quantities_in_bytes() {
        assert_eq!(bytes("64Mi"), Ok(64 << 20));
        assert_eq!(bytes("1Gi"), Ok(1 << 30));
        assert_eq!(bytes("1G"), Ok(1_000_000_000));
        assert_eq!(bytes("128974848"), Ok(128_974_848));
        assert_eq!(bytes("129e6"), Ok(129_000_000));
        assert_eq!(bytes("123M"), Ok(123_000_000));
        assert_eq!(bytes("1.5Gi"), Ok(3 << 29));
        // Kubernetes rounds up to a whole byte.
        assert_eq!(bytes("1500m"), Ok(2));
        assert_eq!(bytes("+1k"), Ok(1000));
        for bad in [
            "",
            "Mi",
            "-1Mi",
            "64MB",
            "1.2.3",
            "1e",
            "ten",
            "99999999999999999999Ei",
        ] {
            assert!(bytes(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn cpu_quantities_in_millicores() {
        assert_eq!(millicpus("500m"), Ok(500));
        assert_eq!(millicpus("0.5"), Ok(500));
        assert_eq!(millicpus("2"), Ok(2000));
        assert_eq!(millicpus("1.25"), Ok(1250));
        // Rounded up to a millicore.
        assert_eq!(millicpus("0.0001"), Ok(1));
        assert_eq!(millicpus("100e-3"), Ok(100));
        assert!(millicpus("-1").is_err());
    }

    proptest::proptest! {
        #[test]
        fn any_text_gives_a_value_or_a_reason(text in ".{0,24}") {
            let _ = bytes(&text);
            let _ = millicpus(&text);
        }
    }
}
