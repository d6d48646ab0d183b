//! Timestamps as users write them and as Feast prints them.

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};

/// Parses a timestamp leniently, as Feast's CLI and server do (dateutil): RFC 3339, ISO 8601
/// with a space or `T` between date and time, with or without fractional seconds and zone
/// (`Z`, `+02:00`, `+0200`, `+02`), or a bare date (midnight). A naive time is UTC.
pub fn parse_timestamp(text: &str) -> Result<DateTime<Utc>, String> {
    let s = text.trim();
    let err = || {
        format!(
            "cannot read `{text}` as a timestamp; use ISO 8601, e.g. `2026-11-24T04:00:00Z`, `2026-11-24 04:00:00+02:00` or `2026-11-24`"
        )
    };
    if s.is_empty() {
        return Err(err());
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.to_utc());
    }
    let iso = s.replacen(' ', "T", 1);
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f%:z",
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%dT%H:%M:%S%.f%#z",
    ] {
        if let Ok(t) = DateTime::parse_from_str(&iso, fmt) {
            return Ok(t.to_utc());
        }
    }
    let naive = iso.strip_suffix('Z').unwrap_or(&iso);
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(naive, fmt) {
            return Ok(t.and_utc());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).ok_or_else(err)?.and_utc());
    }
    Err(err())
}

/// Formats a timestamp the way Python prints an aware datetime (`str(dt)`), which is how
/// Feast's CLI shows materialization windows: `2026-11-24 04:00:00+00:00`.
pub fn format_python(t: DateTime<Utc>) -> String {
    let frac = t.timestamp_subsec_micros();
    if frac == 0 {
        t.format("%Y-%m-%d %H:%M:%S+00:00").to_string()
    } else {
        format!("{}.{frac:06}+00:00", t.format("%Y-%m-%d %H:%M:%S"))
    }
}

/// RFC 3339 in UTC with `Z` and as many fractional digits as needed (0, 3, 6 or 9), which is
/// how Feast's server renders `event_timestamps`.
pub fn format_rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Microseconds since the epoch, the unit the online store keeps.
pub fn to_micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// The inverse of [`to_micros`]; out-of-range values clamp to the epoch rather than fail,
/// because they can only come from a damaged row.
pub fn from_micros(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn lenient_forms() {
        for (text, want) in [
            ("2021-04-12T07:00:00Z", "2021-04-12T07:00:00Z"),
            ("2021-04-12T07:00:00", "2021-04-12T07:00:00Z"),
            ("2021-04-12 07:00:00", "2021-04-12T07:00:00Z"),
            ("2021-04-12 09:00:00+02:00", "2021-04-12T07:00:00Z"),
            ("2021-04-12T09:00:00+0200", "2021-04-12T07:00:00Z"),
            ("2021-04-12 09:00:00+02", "2021-04-12T07:00:00Z"),
            ("2021-04-12T07:00:00.250Z", "2021-04-12T07:00:00.250Z"),
            ("2021-04-12 07:00:00.5", "2021-04-12T07:00:00.500Z"),
            ("2021-04-12T07:00", "2021-04-12T07:00:00Z"),
            ("2021-04-12", "2021-04-12T00:00:00Z"),
            ("  2021-04-12  ", "2021-04-12T00:00:00Z"),
        ] {
            assert_eq!(parse_timestamp(text), Ok(utc(want)), "{text}");
        }
    }

    #[test]
    fn bad_timestamps_are_explained() {
        for text in [
            "",
            "yesterday",
            "2021-13-01",
            "2021-04-12T25:00:00",
            "1618210800",
        ] {
            let e = parse_timestamp(text).unwrap_err();
            assert!(
                e.starts_with(&format!("cannot read `{text}` as a timestamp")),
                "{e}"
            );
        }
    }

    #[test]
    fn formats() {
        let t = utc("2026-11-24T04:00:00Z");
        assert_eq!(format_python(t), "2026-11-24 04:00:00+00:00");
        assert_eq!(
            format_python(utc("2026-11-24T04:00:00.5Z")),
            "2026-11-24 04:00:00.500000+00:00"
        );
        assert_eq!(format_rfc3339(t), "2026-11-24T04:00:00Z");
        assert_eq!(
            format_rfc3339(utc("2026-11-24T04:00:00.123Z")),
            "2026-11-24T04:00:00.123Z"
        );
        assert_eq!(
            format_rfc3339(utc("2026-11-24T04:00:00.123456Z")),
            "2026-11-24T04:00:00.123456Z"
        );
        assert_eq!(from_micros(to_micros(t)), t);
    }

    proptest::proptest! {
        #[test]
        fn rfc3339_output_parses_back(secs in -2_000_000_000i64..4_000_000_000, micros in 0u32..1_000_000) {
            let t = DateTime::from_timestamp(secs, micros * 1000).unwrap();
            proptest::prop_assert_eq!(parse_timestamp(&format_rfc3339(t)), Ok(t));
        }

        #[test]
        fn never_panics(s in ".{0,40}") {
            let _ = parse_timestamp(&s);
        }
    }
}
