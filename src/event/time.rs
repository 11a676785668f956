//! RFC 3339 timestamps as microseconds since the Unix epoch.
//!
//! Event time is parsed once at decode time and kept both as an integer (for windows,
//! archive partitions and ordering) and as the producer's original text (so a re-encoded
//! event says exactly what the producer said).

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Serialize, Serializer};

/// An event-time instant: microseconds since 1970-01-01T00:00:00Z plus the original text.
#[derive(Clone, PartialEq, Eq)]
pub struct Timestamp {
    micros: i64,
    text: Box<str>,
}

impl Timestamp {
    /// Parses an RFC 3339 date-time (`2026-11-22T10:15:30.123Z`, `...+02:00`).
    ///
    /// # Errors
    /// Returns [`TimestampError`] when the text is not an RFC 3339 date-time.
    pub fn parse(text: &str) -> Result<Self, TimestampError> {
        let micros = parse_rfc3339_micros(text).ok_or(TimestampError)?;
        Ok(Self { micros, text: text.into() })
    }

    /// A timestamp from microseconds since the epoch, rendered as UTC with microseconds.
    pub fn from_micros(micros: i64) -> Self {
        Self { micros, text: format_rfc3339_micros(micros).into() }
    }

    /// The current wall-clock time.
    pub fn now() -> Self {
        Self::from_micros(now_micros())
    }

    /// Microseconds since the Unix epoch.
    pub fn micros(&self) -> i64 {
        self.micros
    }

    /// The text this timestamp was parsed from (or rendered as).
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

/// The text is not an RFC 3339 date-time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not an RFC 3339 date-time (expected e.g. 2026-11-22T10:15:30Z)")]
pub struct TimestampError;

/// Wall-clock microseconds since the Unix epoch.
pub fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn digits(bytes: &[u8], at: usize, n: usize) -> Option<i64> {
    let slice = bytes.get(at..at + n)?;
    let mut value = 0i64;
    for &b in slice {
        if !b.is_ascii_digit() {
            return None;
        }
        value = value * 10 + i64::from(b - b'0');
    }
    Some(value)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month, day) of a count of days since 1970-01-01.
pub(crate) fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn parse_rfc3339_micros(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 20 {
        return None;
    }
    let year = digits(b, 0, 4)?;
    let month = digits(b, 5, 2)?;
    let day = digits(b, 8, 2)?;
    let hour = digits(b, 11, 2)?;
    let minute = digits(b, 14, 2)?;
    let second = digits(b, 17, 2)?;
    if b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    // RFC 3339 allows second 60 (leap second); it is folded into the next minute.
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut at = 19;
    let mut micros = 0i64;
    if b.get(at) == Some(&b'.') {
        at += 1;
        let start = at;
        while at < b.len() && b[at].is_ascii_digit() {
            if at - start < 6 {
                micros = micros * 10 + i64::from(b[at] - b'0');
            }
            at += 1;
        }
        let n = at - start;
        if n == 0 {
            return None;
        }
        for _ in n..6 {
            micros *= 10;
        }
    }
    let offset_secs = match b.get(at)? {
        b'Z' | b'z' if at + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if at + 6 == b.len() && b[at + 3] == b':' => {
            let oh = digits(b, at + 1, 2)?;
            let om = digits(b, at + 4, 2)?;
            if oh > 23 || om > 59 {
                return None;
            }
            let secs = oh * 3600 + om * 60;
            if *sign == b'+' { secs } else { -secs }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_secs;
    secs.checked_mul(1_000_000)?.checked_add(micros)
}

/// Renders microseconds since the epoch as `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
pub fn format_rfc3339_micros(micros: i64) -> String {
    let secs = micros.div_euclid(1_000_000);
    let frac = micros.rem_euclid(1_000_000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{frac:06}Z",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_utc_and_offsets_to_the_same_instant() {
        let a = Timestamp::parse("2026-11-22T10:15:30Z").unwrap();
        let b = Timestamp::parse("2026-11-22T12:15:30+02:00").unwrap();
        let c = Timestamp::parse("2026-11-22T05:45:30-04:30").unwrap();
        assert_eq!(a.micros(), b.micros());
        assert_eq!(a.micros(), c.micros());
        assert_eq!(a.micros(), 1_795_342_530_000_000);
    }

    #[test]
    fn keeps_fraction_to_microseconds() {
        let t = Timestamp::parse("1970-01-01T00:00:01.5Z").unwrap();
        assert_eq!(t.micros(), 1_500_000);
        let t = Timestamp::parse("1970-01-01T00:00:00.123456789Z").unwrap();
        assert_eq!(t.micros(), 123_456);
    }

    #[test]
    fn rejects_malformed_dates() {
        for bad in [
            "",
            "2026-11-22",
            "2026-13-01T00:00:00Z",
            "2026-02-30T00:00:00Z",
            "2025-02-29T00:00:00Z",
            "2026-11-22T24:00:00Z",
            "2026-11-22T10:15:30",
            "2026-11-22T10:15:30.Z",
            "2026-11-22T10:15:30+0200",
            "2026-11-22T10:15:30Zjunk",
            "２026-11-22T10:15:30Z",
        ] {
            assert!(Timestamp::parse(bad).is_err(), "accepted {bad:?}");
        }
        assert!(Timestamp::parse("2024-02-29T00:00:00Z").is_ok());
    }

    #[test]
    fn format_and_parse_round_trip() {
        for micros in
            [0, 1, -1, 1_795_342_530_123_456, -62_135_596_800_000_000, 253_402_300_799_999_999]
        {
            let text = format_rfc3339_micros(micros);
            assert_eq!(Timestamp::parse(&text).unwrap().micros(), micros, "{text}");
        }
    }
}
