//! Timestamps as the service sends them.
//!
//! CCE writes times with Go's default format, `2022-12-16 13:40:20.75671 +0800 CST`, not RFC 3339.
//! Response fields keep the string exactly as sent; [`parse_go_time`] turns it into a
//! [`Timestamp`] when you need to compute with it.

use std::fmt;
use std::time::{Duration, SystemTime};

use jiff::fmt::strtime;
use jiff::fmt::temporal::Pieces;
use jiff::tz::{Offset, TimeZone};

/// A point in time read from the service, with the UTC offset it was written in.
///
/// Ordered by instant (then by offset). Read with [`jiff`]; [`Timestamp::to_zoned`] gives its
/// full calendar API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    instant: jiff::Timestamp,
    offset: Offset,
}

impl Timestamp {
    /// Seconds since 1970-01-01 00:00:00 UTC (rounded down: before 1970, the fraction in
    /// [`Timestamp::subsec_nanos`] counts forward from this second).
    pub fn unix_seconds(&self) -> i64 {
        let seconds = self.instant.as_second();
        if self.instant.subsec_nanosecond() < 0 {
            seconds - 1
        } else {
            seconds
        }
    }

    /// The fraction of the second, in nanoseconds.
    pub fn subsec_nanos(&self) -> u32 {
        self.instant.subsec_nanosecond().rem_euclid(1_000_000_000) as u32
    }

    /// The UTC offset the time was written with, in seconds east of UTC (`+0800` → 28800).
    pub fn offset_seconds(&self) -> i32 {
        self.offset.seconds()
    }

    /// The same instant as a [`SystemTime`] (the Unix epoch on a platform whose `SystemTime`
    /// cannot hold the date: on Windows, a date before 1601).
    pub fn to_system_time(&self) -> SystemTime {
        SystemTime::try_from(self.instant).unwrap_or(SystemTime::UNIX_EPOCH)
    }

    /// The same instant in the offset it was written with, as a [`jiff::ZonedDateTime`]
    /// (a fixed offset, no time zone rules), for calendar arithmetic and formatting.
    pub fn to_zoned(&self) -> jiff::ZonedDateTime {
        self.instant.to_zoned_datetime(TimeZone::fixed(self.offset))
    }

    /// Time from `earlier` to `self`, or `None` when `earlier` is later.
    pub fn duration_since(&self, earlier: &Timestamp) -> Option<Duration> {
        Duration::try_from(self.instant.duration_since(earlier.instant)).ok()
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

/// Go's default layout up to the offset; a zone name and a monotonic reading may follow.
const GO_LAYOUT: &str = "%Y-%m-%d %H:%M:%S%.f %z";

fn parse(s: &str) -> Option<Timestamp> {
    let mut words = s.split_whitespace();
    let first = words.next()?;
    if first.contains(['T', 't']) {
        // RFC 3339: one word, with `Z` or a numeric offset.
        if words.next().is_some() {
            return None;
        }
        return rfc3339(first);
    }
    let (time, offset) = (words.next()?, words.next()?);
    // What follows is Go's zone abbreviation (`CST`) and monotonic clock reading (`m=+0.1`).
    let parsed = strtime::parse(GO_LAYOUT, format!("{first} {time} {offset}")).ok()?;
    Some(Timestamp {
        instant: parsed.to_timestamp().ok()?,
        offset: parsed.offset()?,
    })
}

fn rfc3339(s: &str) -> Option<Timestamp> {
    let pieces = Pieces::parse(s).ok()?;
    // `Z` and `-00:00` ("UTC, local offset unknown") read as UTC.
    let offset = pieces.offset()?.to_numeric_offset();
    let civil = pieces.date().to_datetime(pieces.time()?);
    Some(Timestamp {
        instant: offset.to_timestamp(civil).ok()?,
        offset,
    })
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
        let offset = parse_go_time("2022-12-16T13:40:20.5+08:00").unwrap();
        assert_eq!(offset.unix_seconds(), 1_671_169_220);
        assert_eq!(offset.offset_seconds(), 8 * 3600);
    }

    #[test]
    fn before_1970_the_seconds_round_down_and_the_fraction_counts_forward() {
        let t = parse_go_time("1969-12-31 23:59:59.25 +0000 UTC").unwrap();
        assert_eq!((t.unix_seconds(), t.subsec_nanos()), (-1, 250_000_000));
        let epoch = parse_go_time("1970-01-01 00:00:00 +0000 UTC").unwrap();
        assert_eq!(epoch.duration_since(&t), Some(Duration::from_millis(750)));
        assert_eq!(t.duration_since(&epoch), None);
        assert_eq!(
            t.to_system_time(),
            SystemTime::UNIX_EPOCH - Duration::from_millis(750)
        );
    }

    #[test]
    fn to_zoned_keeps_the_written_offset() {
        let t = parse_go_time("2022-12-16 13:40:20.75671 +0800 CST").unwrap();
        assert_eq!(
            t.to_zoned().to_string(),
            "2022-12-16T13:40:20.75671+08:00[+08:00]"
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
            "2022-12-16T13:40:20",
            "2022-12-16T13:40:20Z extra",
            "2022-12-16 25:40:20 +0800",
            "2022-12-16 13:40:20.1234567891 +0800",
        ] {
            let err = parse_go_time(bad).unwrap_err();
            assert!(err.to_string().contains(bad), "{err}");
        }
    }
}
