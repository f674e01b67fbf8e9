//! Timestamps as the service sends them.
//!
//! CCE writes times with Go's default format, `2022-12-16 13:40:20.75671 +0800 CST`, not RFC 3339.
//! Response fields keep the string exactly as sent; [`parse_go_time`] turns it into a
//! [`Timestamp`] when you need to compute with it.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A point in time read from the service, with the UTC offset it was written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    unix_seconds: i64,
    nanos: u32,
    offset_seconds: i32,
}

impl Timestamp {
    /// Seconds since 1970-01-01 00:00:00 UTC.
    pub fn unix_seconds(&self) -> i64 {
        self.unix_seconds
    }

    /// The fraction of the second, in nanoseconds.
    pub fn subsec_nanos(&self) -> u32 {
        self.nanos
    }

    /// The UTC offset the time was written with, in seconds east of UTC (`+0800` → 28800).
    pub fn offset_seconds(&self) -> i32 {
        self.offset_seconds
    }

    /// The same instant as a [`SystemTime`].
    pub fn to_system_time(&self) -> SystemTime {
        if self.unix_seconds >= 0 {
            UNIX_EPOCH + Duration::new(self.unix_seconds as u64, self.nanos)
        } else {
            UNIX_EPOCH - Duration::from_secs(self.unix_seconds.unsigned_abs())
                + Duration::from_nanos(u64::from(self.nanos))
        }
    }

    /// Time from `earlier` to `self`, or `None` when `earlier` is later.
    pub fn duration_since(&self, earlier: &Timestamp) -> Option<Duration> {
        self.to_system_time()
            .duration_since(earlier.to_system_time())
            .ok()
    }
}

/// Why a timestamp could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseTimestampError {
    input: String,
}

impl fmt::Display for ParseTimestampError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` is not a timestamp like `2022-12-16 13:40:20.75671 +0800 CST` or RFC 3339",
            self.input
        )
    }
}

impl std::error::Error for ParseTimestampError {}

/// Parses a timestamp in the service's format.
///
/// Accepts Go's default format (`2022-12-16 13:40:20.75671 +0800 CST`, the zone name and a
/// trailing monotonic clock reading `m=+0.1` are optional) and RFC 3339
/// (`2022-12-16T05:40:20.75671Z`).
///
/// ```
/// let t = cce_upgrade::parse_go_time("2022-12-16 13:40:20.75671 +0800 CST").unwrap();
/// assert_eq!(t.unix_seconds(), 1_671_169_220);
/// assert_eq!(t.subsec_nanos(), 756_710_000);
/// assert_eq!(t.offset_seconds(), 8 * 3600);
/// ```
pub fn parse_go_time(input: &str) -> Result<Timestamp, ParseTimestampError> {
    parse(input.trim()).ok_or_else(|| ParseTimestampError {
        input: input.to_owned(),
    })
}

fn parse(s: &str) -> Option<Timestamp> {
    let b = s.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    if b[10] != b' ' && b[10] != b'T' {
        return None;
    }
    let year = digits(&b[0..4])? as i64;
    let month = digits(&b[5..7])?;
    let day = digits(&b[8..10])?;
    let hour = digits(&b[11..13])?;
    let minute = digits(&b[14..16])?;
    let second = digits(&b[17..19])?;
    if !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut rest = &s[19..];
    let mut nanos = 0u32;
    if let Some(fraction) = rest.strip_prefix('.') {
        let end = fraction
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(fraction.len());
        if end == 0 || end > 9 {
            return None;
        }
        nanos = fraction[..end].parse::<u32>().ok()? * 10u32.pow(9 - end as u32);
        rest = &fraction[end..];
    }
    let rest = rest.trim_start();
    let offset_seconds = if rest.starts_with('Z') {
        0
    } else {
        let sign = match rest.as_bytes().first()? {
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        let zone = rest[1..].replace(':', "");
        let zone = zone.get(..4)?;
        let hours = digits(&zone.as_bytes()[..2])? as i32;
        let minutes = digits(&zone.as_bytes()[2..4])? as i32;
        if hours > 23 || minutes > 59 {
            return None;
        }
        sign * (hours * 3600 + minutes * 60)
    };
    let local = days_from_civil(year, month, day) * 86_400
        + i64::from(hour) * 3600
        + i64::from(minute) * 60
        + i64::from(second);
    Some(Timestamp {
        unix_seconds: local - i64::from(offset_seconds),
        nanos,
        offset_seconds,
    })
}

fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
    })
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_documented_examples() {
        let a = parse_go_time("2022-12-16 13:40:20.75671 +0800 CST").unwrap();
        let b = parse_go_time("2022-12-16 13:40:20.756712 +0800 CST").unwrap();
        assert_eq!(a.unix_seconds(), 1_671_169_220);
        assert_eq!(b.subsec_nanos(), 756_712_000);
        assert!(b > a);
        let utc = parse_go_time("2023-11-24 08:39:15.894417 +0000 UTC").unwrap();
        assert_eq!(utc.unix_seconds(), 1_700_815_155);
        assert_eq!(utc.offset_seconds(), 0);
    }

    #[test]
    fn reads_rfc3339_and_go_variants() {
        let rfc = parse_go_time("2022-12-16T05:40:20.75671Z").unwrap();
        let go = parse_go_time("2022-12-16 13:40:20.75671 +0800 CST m=+0.000123").unwrap();
        assert_eq!(rfc.to_system_time(), go.to_system_time());
        let neg = parse_go_time("2024-02-29 00:00:00 -0130").unwrap();
        assert_eq!(neg.offset_seconds(), -5400);
        assert_eq!(
            parse_go_time("1970-01-01 00:00:00 +0000 UTC")
                .unwrap()
                .unix_seconds(),
            0
        );
    }

    #[test]
    fn rejects_what_is_not_a_timestamp() {
        for bad in [
            "",
            "yesterday",
            "2022-13-01 00:00:00 +0000",
            "2023-02-29 00:00:00 +0000",
            "2022-12-16 13:40:20",
            "2022-12-16 13:40:20.+0800",
            "2022-12-16 13:40:20 0800",
        ] {
            let err = parse_go_time(bad).unwrap_err();
            assert!(err.to_string().contains(bad), "{err}");
        }
    }
}
