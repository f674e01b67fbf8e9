//! Time for the emulator: the clock the test controls, and the two text formats the service
//! speaks — `X-Sdk-Date` (`20240312T081500Z`) and Go's `time.Time.String()` timestamps
//! (`2024-03-12 08:15:00.123456 +0000 UTC`).
//!
//! Calendar arithmetic is jiff's.

use std::time::{SystemTime, UNIX_EPOCH};

/// Microseconds relative to the emulator's start (negative for back-dated fixtures).
pub(crate) type Micros = i64;

/// The emulator's clock: an offset from its start time that moves only when the test says
/// ([`Clock::advance`]), never with the machine's pace.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    origin_unix_micros: i64,
    now: Micros,
}

impl Clock {
    /// A clock whose offset 0 is the given wall-clock instant.
    pub(crate) fn at_unix_micros(origin_unix_micros: i64) -> Clock {
        Clock {
            origin_unix_micros,
            now: 0,
        }
    }

    /// The current offset from the start.
    pub(crate) fn now(&self) -> Micros {
        self.now
    }

    /// Moves the clock forward (saturating).
    pub(crate) fn advance(&mut self, by: Micros) {
        self.now = self.now.saturating_add(by.max(0));
    }

    /// The instant of an offset, in microseconds since the Unix epoch.
    pub(crate) fn unix_micros(&self, at: Micros) -> i64 {
        self.origin_unix_micros.saturating_add(at)
    }

    /// The Go-style timestamp of an offset.
    pub(crate) fn timestamp(&self, at: Micros) -> String {
        go_timestamp(self.origin_unix_micros.saturating_add(at))
    }

    /// The time `at` as the service writes a task's timestamps (`... +0800 CST`).
    pub(crate) fn task_timestamp(&self, at: Micros) -> String {
        go_timestamp_cst(self.origin_unix_micros.saturating_add(at))
    }
}

/// Microseconds since the Unix epoch, from the wall clock.
pub(crate) fn unix_micros_now() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_micros()).unwrap_or(i64::MAX),
    }
}

/// Seconds since the Unix epoch, from the wall clock.
pub(crate) fn unix_seconds_now() -> i64 {
    unix_micros_now().div_euclid(1_000_000)
}

/// Formats like Go's `time.Time.String()` in UTC: `2024-03-12 08:15:00.123456 +0000 UTC`.
///
/// As in Go, trailing zeros of the fraction are trimmed, and a zero fraction prints no dot.
/// Instants beyond what a date can hold are clamped to the representable range.
pub(crate) fn go_timestamp(unix_micros: i64) -> String {
    go_timestamp_in(unix_micros, 0, "+0000 UTC")
}

/// Formats like Go's `time.Time.String()` in China Standard Time, as the API documents'
/// examples for tasks do: `2024-03-12 16:15:00.123456 +0800 CST` (the same instant as
/// `2024-03-12 08:15:00.123456 +0000 UTC`).
pub(crate) fn go_timestamp_cst(unix_micros: i64) -> String {
    go_timestamp_in(unix_micros, 8 * 3_600, "+0800 CST")
}

/// Formats the instant as the wall time `offset_seconds` east of UTC, then `zone`.
fn go_timestamp_in(unix_micros: i64, offset_seconds: i64, zone: &str) -> String {
    let unix_micros = unix_micros.saturating_add(offset_seconds.saturating_mul(1_000_000));
    let at = jiff::Timestamp::from_microsecond(unix_micros).unwrap_or(if unix_micros < 0 {
        jiff::Timestamp::MIN
    } else {
        jiff::Timestamp::MAX
    });
    let mut out = at.strftime("%Y-%m-%d %H:%M:%S").to_string();
    let micros = unix_micros.rem_euclid(1_000_000);
    if micros != 0 {
        let frac = format!("{micros:06}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    out.push(' ');
    out.push_str(zone);
    out
}

/// Formats an `X-Sdk-Date` value: `yyyyMMdd'T'HHmmss'Z'` in UTC (the signer's own format).
pub(crate) fn sdk_date(unix_seconds: i64) -> String {
    String::from_utf8(crate::signing::sdk_date_bytes(unix_seconds).to_vec())
        .expect("an X-Sdk-Date is ASCII")
}

/// Parses an `X-Sdk-Date` value strictly (`20240312T081500Z`) into Unix seconds, as the signer
/// reads one.
pub(crate) fn parse_sdk_date(text: &str) -> Option<i64> {
    crate::signing::unix_seconds_of_sdk_date(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_timestamps_trim_the_fraction_like_go() {
        // 2024-03-12 08:15:00 UTC
        let base = 1_710_231_300_i64 * 1_000_000;
        assert_eq!(
            go_timestamp(base + 123_456),
            "2024-03-12 08:15:00.123456 +0000 UTC"
        );
        assert_eq!(
            go_timestamp(base + 756_710),
            "2024-03-12 08:15:00.75671 +0000 UTC"
        );
        assert_eq!(
            go_timestamp(base + 500_000),
            "2024-03-12 08:15:00.5 +0000 UTC"
        );
        assert_eq!(go_timestamp(base), "2024-03-12 08:15:00 +0000 UTC");
        assert_eq!(go_timestamp(0), "1970-01-01 00:00:00 +0000 UTC");
        assert_eq!(go_timestamp(-1), "1969-12-31 23:59:59.999999 +0000 UTC");
    }

    #[test]
    fn task_timestamps_are_the_same_instant_in_cst() {
        // 2024-03-12 20:15:00.5 UTC is the next day in China.
        let base = (1_710_231_300_i64 + 12 * 3_600) * 1_000_000 + 500_000;
        assert_eq!(go_timestamp(base), "2024-03-12 20:15:00.5 +0000 UTC");
        assert_eq!(go_timestamp_cst(base), "2024-03-13 04:15:00.5 +0800 CST");
        let utc = crate::parse_go_time(&go_timestamp(base)).expect("UTC parses");
        let cst = crate::parse_go_time(&go_timestamp_cst(base)).expect("CST parses");
        assert_eq!(
            (utc.unix_seconds(), utc.subsec_nanos()),
            (cst.unix_seconds(), cst.subsec_nanos())
        );
    }

    #[test]
    fn sdk_dates_round_trip() {
        assert_eq!(parse_sdk_date("20240312T081500Z"), Some(1_710_231_300));
        assert_eq!(sdk_date(1_710_231_300), "20240312T081500Z");
        assert_eq!(parse_sdk_date("19700101T000000Z"), Some(0));
        assert_eq!(
            parse_sdk_date("20240229T235959Z").map(sdk_date).as_deref(),
            Some("20240229T235959Z")
        );
        assert_eq!(
            parse_sdk_date("20991231T235959Z").map(sdk_date).as_deref(),
            Some("20991231T235959Z")
        );
        for day in [-700_000_i64, -1, 0, 1, 11_016, 19_794, 47_481, 2_900_000] {
            let secs = day * 86_400 + 3_723;
            assert_eq!(parse_sdk_date(&sdk_date(secs)), Some(secs), "day {day}");
        }
    }

    #[test]
    fn malformed_sdk_dates_are_refused() {
        for bad in [
            "",
            "20240312T081500",
            "20240312 081500Z",
            "2024-03-12T08:15:00Z",
            "20240230T081500Z",
            "20230229T081500Z",
            "20241312T081500Z",
            "20240312T241500Z",
            "20240312T086000Z",
            "2024031aT081500Z",
            "+0240312T081500Z",
            "20240312t081500z",
        ] {
            assert_eq!(parse_sdk_date(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn clock_offsets_map_to_wall_time() {
        let clock = Clock::at_unix_micros(1_710_231_300 * 1_000_000);
        assert_eq!(clock.timestamp(0), "2024-03-12 08:15:00 +0000 UTC");
        assert_eq!(clock.timestamp(-1_000_000), "2024-03-12 08:14:59 +0000 UTC");
        assert_eq!(clock.now(), 0);
        let mut clock = clock;
        clock.advance(90_000_000);
        clock.advance(-5);
        assert_eq!(clock.now(), 90_000_000);
        assert_eq!(
            clock.timestamp(clock.now()),
            "2024-03-12 08:16:30 +0000 UTC"
        );
    }
}
