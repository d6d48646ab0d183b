//! The clock that feature data is read against, and its test-only shift.
//!
//! Every "now" that decides which feature rows exist or win goes through [`now`]: the demo data
//! `init` generates, the default windows of `materialize --disable-event-timestamp` and
//! `materialize-incremental`, the `created` stamp of pushed rows, ttl checks. Setting
//! `EDGEFEAT_CLOCK_SHIFT` (for example `+1y`, `+5y`, `-30d`, `+12h`) moves that clock, so the
//! whole test suite can be run as if it were another day (`scripts/test --clock-shift +5y`).
//!
//! Only feature time moves. Token expiry, certificate validity and the host-kv key ttl keep the
//! real clock: they are checked against peers (an identity provider, Redis) that do not move.
//! A process-wide shift rather than `faketime`: libfaketime's `LD_PRELOAD` breaks programs the
//! tests start (redis-server, rustc; both link jemalloc, which calls the clock while libfaketime
//! initialises), and a shift that only edgefeat and its tests read needs nothing installed.

use std::sync::OnceLock;

use chrono::{DateTime, Months, TimeDelta, Utc};

/// The environment variable that shifts feature time.
pub const CLOCK_SHIFT_ENV: &str = "EDGEFEAT_CLOCK_SHIFT";

/// A shift of the clock: whole calendar months (years are 12 of them) or a fixed duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockShift {
    /// Calendar months, forward when positive: `+1y` is the same day and hour next year.
    Months(i32),
    /// A fixed duration (days, hours, minutes, seconds).
    Delta(TimeDelta),
}

impl ClockShift {
    /// No shift at all.
    pub const NONE: ClockShift = ClockShift::Delta(TimeDelta::zero());

    /// Parses `[+|-]N<unit>` with unit `y` (years), `mo` (months), `d`, `h`, `m` or `s`.
    pub fn parse(text: &str) -> Result<ClockShift, String> {
        let bad = || {
            format!(
                "{CLOCK_SHIFT_ENV}={text:?}: expected a signed amount and a unit, such as +1y, +5y, -30d, +12h (units: y, mo, d, h, m, s)"
            )
        };
        let t = text.trim();
        let (sign, rest) = match t.strip_prefix('-') {
            Some(r) => (-1i64, r),
            None => (1, t.strip_prefix('+').unwrap_or(t)),
        };
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let amount: i64 = rest[..digits].parse().map_err(|_| bad())?;
        let amount = sign * amount;
        let months = |n: i64| i32::try_from(n).map(ClockShift::Months).map_err(|_| bad());
        let delta = |d: Option<TimeDelta>| d.map(ClockShift::Delta).ok_or_else(bad);
        match &rest[digits..] {
            "y" => months(amount.checked_mul(12).ok_or_else(bad)?),
            "mo" => months(amount),
            "d" => delta(TimeDelta::try_days(amount)),
            "h" => delta(TimeDelta::try_hours(amount)),
            "m" => delta(TimeDelta::try_minutes(amount)),
            "s" => delta(TimeDelta::try_seconds(amount)),
            _ => Err(bad()),
        }
    }

    /// `t` moved by this shift; `None` past chrono's range.
    pub fn apply(self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            ClockShift::Months(n) if n >= 0 => t.checked_add_months(Months::new(n.unsigned_abs())),
            ClockShift::Months(n) => t.checked_sub_months(Months::new(n.unsigned_abs())),
            ClockShift::Delta(d) => t.checked_add_signed(d),
        }
    }
}

/// The shift in force, read once from [`CLOCK_SHIFT_ENV`].
///
/// An unset or empty variable is no shift; a malformed one is an error, which the CLI reports
/// before it does anything (see [`check_clock_shift`]), so a typo never runs unshifted unnoticed.
pub fn clock_shift() -> Result<ClockShift, String> {
    static SHIFT: OnceLock<Result<ClockShift, String>> = OnceLock::new();
    SHIFT
        .get_or_init(|| match std::env::var(CLOCK_SHIFT_ENV) {
            Ok(v) if !v.trim().is_empty() => ClockShift::parse(&v),
            _ => Ok(ClockShift::NONE),
        })
        .clone()
}

/// Refuses a malformed [`CLOCK_SHIFT_ENV`]; returns the shift when one is set.
pub fn check_clock_shift() -> Result<Option<ClockShift>, String> {
    clock_shift().map(|s| (s != ClockShift::NONE).then_some(s))
}

/// Now, on the feature-time clock: the real time moved by [`clock_shift`].
pub fn now() -> DateTime<Utc> {
    let real = Utc::now();
    match clock_shift() {
        Ok(shift) => shift.apply(real).unwrap_or(real),
        Err(_) => real,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn shifts_parse_with_their_units() {
        assert_eq!(ClockShift::parse("+1y"), Ok(ClockShift::Months(12)));
        assert_eq!(ClockShift::parse("5y"), Ok(ClockShift::Months(60)));
        assert_eq!(ClockShift::parse("-3mo"), Ok(ClockShift::Months(-3)));
        assert_eq!(
            ClockShift::parse("-30d"),
            Ok(ClockShift::Delta(TimeDelta::days(-30)))
        );
        assert_eq!(
            ClockShift::parse(" +12h "),
            Ok(ClockShift::Delta(TimeDelta::hours(12)))
        );
        for bad in [
            "",
            "+",
            "1",
            "y",
            "+1w",
            "+1.5y",
            "++1y",
            "+99999999999999999999d",
        ] {
            let e = ClockShift::parse(bad).unwrap_err();
            assert!(
                e.contains("EDGEFEAT_CLOCK_SHIFT") && e.contains("+5y"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn years_are_calendar_years() {
        let t = Utc.with_ymd_and_hms(2026, 12, 1, 22, 30, 0).unwrap();
        let plus = |s: &str| ClockShift::parse(s).unwrap().apply(t).unwrap();
        assert_eq!(
            plus("+1y"),
            Utc.with_ymd_and_hms(2027, 12, 1, 22, 30, 0).unwrap()
        );
        assert_eq!(
            plus("+5y"),
            Utc.with_ymd_and_hms(2031, 12, 1, 22, 30, 0).unwrap()
        );
        assert_eq!(
            plus("-1y"),
            Utc.with_ymd_and_hms(2025, 12, 1, 22, 30, 0).unwrap()
        );
        assert_eq!(
            plus("+2d"),
            Utc.with_ymd_and_hms(2026, 12, 3, 22, 30, 0).unwrap()
        );
        // Past the end of a shorter month, chrono clamps to its last day.
        let leap = Utc.with_ymd_and_hms(2028, 2, 29, 0, 0, 0).unwrap();
        assert_eq!(
            ClockShift::Months(12).apply(leap).unwrap(),
            Utc.with_ymd_and_hms(2029, 2, 28, 0, 0, 0).unwrap()
        );
    }
}
