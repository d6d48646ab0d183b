//! Durations such as a view's `ttl`, written `1d`, `2h30m`, `90s` or a number of seconds.

/// Why a duration could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid duration `{text}`: {reason}; write a number with a unit, e.g. `1d`, `12h`, `2h30m`, `90s` (units w, d, h, m, s; `0` means forever)"
)]
pub struct DurationError {
    /// The text that was parsed.
    pub text: String,
    /// What is wrong.
    pub reason: String,
}

/// Parses a duration into whole seconds. A bare number is seconds.
pub fn parse_duration(text: &str) -> Result<u64, DurationError> {
    let err = |reason: &str| DurationError {
        text: text.to_string(),
        reason: reason.to_string(),
    };
    let s = text.trim();
    if s.is_empty() {
        return Err(err("it is empty"));
    }
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(secs);
    }
    let mut total: u64 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(err("expected a number before each unit"));
        }
        let n: u64 = rest[..digits]
            .parse()
            .map_err(|_| err("the number is too large"))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = rest[..unit_len].trim();
        let scale = match unit {
            "w" => 7 * 86_400,
            "d" => 86_400,
            "h" => 3_600,
            "m" => 60,
            "s" => 1,
            "" => return Err(err("a unit is missing after the last number")),
            _ => return Err(err(&format!("unknown unit `{unit}`"))),
        };
        total = n
            .checked_mul(scale)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| err("it is too long"))?;
        rest = &rest[unit_len..];
    }
    Ok(total)
}

/// Formats whole seconds the way [`parse_duration`] reads them, largest units first.
pub fn format_duration(secs: u64) -> String {
    if secs == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    let mut rest = secs;
    for (unit, scale) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if rest >= scale {
            out.push_str(&format!("{}{unit}", rest / scale));
            rest %= scale;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_combinations() {
        for (text, secs) in [
            ("1d", 86_400),
            ("2h", 7_200),
            ("30m", 1_800),
            ("45s", 45),
            ("1w", 604_800),
            ("2h30m", 9_000),
            ("1d 12h", 129_600),
            ("0", 0),
            ("3600", 3_600),
        ] {
            assert_eq!(parse_duration(text), Ok(secs), "{text}");
        }
    }

    #[test]
    fn bad_durations_are_explained() {
        assert_eq!(
            parse_duration("1 day").unwrap_err().reason,
            "unknown unit `day`"
        );
        assert_eq!(
            parse_duration("h").unwrap_err().reason,
            "expected a number before each unit"
        );
        assert_eq!(
            parse_duration("1d2").unwrap_err().reason,
            "a unit is missing after the last number"
        );
        assert_eq!(parse_duration("").unwrap_err().reason, "it is empty");
        assert_eq!(
            parse_duration("-1d").unwrap_err().to_string(),
            "invalid duration `-1d`: expected a number before each unit; write a number with a unit, e.g. `1d`, `12h`, `2h30m`, `90s` (units w, d, h, m, s; `0` means forever)"
        );
    }

    proptest::proptest! {
        #[test]
        fn format_then_parse_round_trips(secs in 0u64..10_000_000_000) {
            proptest::prop_assert_eq!(parse_duration(&format_duration(secs)), Ok(secs));
        }
    }
}
