//! When a request is sent again, and how long to wait before it.
//!
//! Reads (GET) are retried on 429, 502, 503, 504 and on connection errors. Writes (POST, PUT,
//! PATCH, DELETE) are retried only when the request surely never reached the service: the
//! connection could not be established, or the API gateway says it did not pass the request on
//! (the table below). A write whose answer was lost is never re-sent (see
//! [`ErrorKind::OutcomeUnknown`](crate::ErrorKind::OutcomeUnknown)); nor is one the gateway
//! timed out on: the service may have acted on it.
//!
//! # The API gateway's errors, and what a write does after them
//!
//! Every request goes through Huawei Cloud's API gateway, which answers some errors itself,
//! with an `error_code` of `APIGW.xxxx` (the codes of the request-signing guide) or `APIG.xxxx`
//! (the codes of the API Gateway user guide). Its gateway response types name the three that
//! matter here: `THROTTLED` (429, the call count passed the traffic control threshold),
//! `BACKEND_UNAVAILABLE` (502, the backend could not be reached over the network) and
//! `BACKEND_TIMEOUT` (504, the exchange with the backend took longer than configured).
//!
//! | Status | Error code | Gateway's meaning | Reached the service? | A write is |
//! |---|---|---|---|---|
//! | 429 | `APIGW.0308`, `APIG.0308` (or the service's own) | throttled: the threshold was reached | no | retried |
//! | 502, 503 | `APIGW.0201`, `APIG.0201`, `APIGW.0202`, `APIG.0202` | backend unavailable: not reachable | no | retried |
//! | 504 | `APIGW.0201`, `APIG.0203` (or any other) | backend timeout: no answer in time | maybe | not retried: [`OutcomeUnknown`](crate::ErrorKind::OutcomeUnknown) |
//! | 502, 503 | anything else (an HTML page, a service code) | not the gateway's word | maybe | not retried |
//! | 4xx | `APIGW.01xx`, `03xx`, ... (no such API, authentication, access) | refused | no | not retried: the same request fails again |
//!
//! `APIGW.0201` is one code for several answers (400, 413, 414, 494, 502, 504): the status
//! tells them apart, so a code counts only with its status.
//!
//! Sources: "Error Codes", API Request Signing Guide,
//! <https://support.huaweicloud.com/intl/en-us/devg-apisign/api-sign-errorcode.html>;
//! "Error Codes", API Gateway User Guide,
//! <https://support.huaweicloud.com/intl/en-us/usermanual-apig/apig-ug-180530090.html>;
//! the gateway response types of the API Gateway API reference (`BACKEND_UNAVAILABLE`,
//! `BACKEND_TIMEOUT`, `THROTTLED`).
//!
//! Waits grow exponentially with full jitter (a random wait between zero and the cap), honour a
//! `Retry-After` header (seconds or an HTTP date, bounded by [`MAX_RETRY_AFTER`]), and stop at a
//! maximum number of attempts or a total time budget. No value from a server or a caller makes
//! this arithmetic overflow: it saturates.

use std::time::{Duration, SystemTime};

use http::StatusCode;
use http::header::{HeaderMap, RETRY_AFTER};

/// The longest `Retry-After` that is read as sent; a longer one (up to `u64::MAX` seconds, or a
/// date centuries ahead) counts as this long, which is past any sensible budget and so ends the
/// retries.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// How requests are retried. [`RetryConfig::default`] is 3 attempts within 60 seconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryConfig {
    max_attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    budget: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(20),
            budget: Duration::from_secs(60),
        }
    }
}

impl RetryConfig {
    /// No retries: every request is sent once.
    pub fn disabled() -> Self {
        RetryConfig {
            max_attempts: 1,
            ..RetryConfig::default()
        }
    }

    /// At most this many sends of one request, the first included (at least 1).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The cap of the first wait; it doubles with each retry up to [`RetryConfig::max_backoff`].
    pub fn initial_backoff(mut self, wait: Duration) -> Self {
        self.initial_backoff = wait;
        self
    }

    /// The largest backoff between two attempts. A `Retry-After` from the service is honoured
    /// as sent; the total [budget](RetryConfig::budget) bounds it (a longer one ends the retries).
    pub fn max_backoff(mut self, wait: Duration) -> Self {
        self.max_backoff = wait;
        self
    }

    /// The total time one call may spend, attempts and waits together, before it stops retrying.
    pub fn budget(mut self, budget: Duration) -> Self {
        self.budget = budget;
        self
    }

    /// The configured maximum number of attempts.
    pub fn attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The configured total time budget.
    pub fn total_budget(&self) -> Duration {
        self.budget
    }

    /// The wait before attempt `next` (2 for the first retry): `Retry-After` if the service sent
    /// one, else a random duration up to `initial_backoff * 2^(next-2)`, capped by `max_backoff`.
    pub(crate) fn delay(&self, next: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(wait) = retry_after {
            return wait;
        }
        let exp = next.saturating_sub(2).min(30);
        let cap = self
            .initial_backoff
            .saturating_mul(1 << exp)
            .min(self.max_backoff);
        // Full jitter: uniform in [0, cap], in nanoseconds (a cap beyond u64 nanoseconds, 584
        // years, is that long).
        let cap_nanos = u64::try_from(cap.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(fastrand::u64(..=cap_nanos))
    }

    /// Whether a retry that waits `wait` after `elapsed` of the call still ends within the
    /// budget. Saturates: a huge `Retry-After` simply does not fit.
    pub(crate) fn fits_budget(&self, elapsed: Duration, wait: Duration) -> bool {
        elapsed.saturating_add(wait) < self.budget
    }
}

/// Whether a request with this method changes something and so must not be sent twice.
pub(crate) fn is_write(method: &reqwest::Method) -> bool {
    !matches!(
        *method,
        reqwest::Method::GET | reqwest::Method::HEAD | reqwest::Method::OPTIONS
    )
}

/// The gateway codes that, with a 502 or 503, say the backend could not be reached (see [the
/// table](self#the-api-gateways-errors-and-what-a-write-does-after-them)).
const BACKEND_UNAVAILABLE: &[&str] = &["APIGW.0201", "APIG.0201", "APIGW.0202", "APIG.0202"];

/// Whether an answer with this status may be retried for this kind of request: any of 429,
/// 502, 503, 504 for a read; for a write, only an answer that says the request never reached
/// the service (throttled, or the gateway found the backend unavailable).
pub(crate) fn retryable_status(status: StatusCode, write: bool, body: &[u8]) -> bool {
    match status.as_u16() {
        429 => true,
        502..=504 if !write => true,
        502 | 503 => {
            let (code, _, _) = crate::error::decode_error_body(body);
            code.is_some_and(|c| BACKEND_UNAVAILABLE.contains(&c.trim()))
        }
        _ => false,
    }
}

/// Whether an answer with this status to a write leaves its outcome unknown: a gateway timeout
/// (504) means the service may have acted on the request without answering in time.
pub(crate) fn outcome_unknown_status(status: StatusCode, write: bool) -> bool {
    write && status == StatusCode::GATEWAY_TIMEOUT
}

/// The `Retry-After` header: delay-seconds, or an HTTP date (a date in the past is no wait),
/// bounded by [`MAX_RETRY_AFTER`]. Anything else is ignored: backoff applies then.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    retry_after_at(headers, SystemTime::now())
}

fn retry_after_at(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let wait = match value.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => {
            let at = httpdate::parse_http_date(value).ok()?;
            at.duration_since(now).unwrap_or(Duration::ZERO)
        }
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_full_jitter_under_a_growing_cap() {
        let cfg = RetryConfig::default()
            .initial_backoff(Duration::from_millis(100))
            .max_backoff(Duration::from_secs(1));
        for _ in 0..200 {
            assert!(cfg.delay(2, None) <= Duration::from_millis(100));
            assert!(cfg.delay(4, None) <= Duration::from_millis(400));
            assert!(cfg.delay(20, None) <= Duration::from_secs(1));
        }
        let spread: std::collections::HashSet<_> = (0..50).map(|_| cfg.delay(3, None)).collect();
        assert!(spread.len() > 10, "jitter should spread the waits");
        assert_eq!(
            cfg.delay(2, Some(Duration::from_millis(700))),
            Duration::from_millis(700)
        );
        // Retry-After is honoured as sent, even above max_backoff.
        assert_eq!(
            cfg.delay(2, Some(Duration::from_secs(30))),
            Duration::from_secs(30)
        );
    }

    #[test]
    fn writes_are_retried_only_when_surely_not_accepted() {
        let gw = br#"{"error_code":"APIGW.0201","error_msg":"busy"}"#;
        let unavailable = br#"{"error_code":"APIG.0202","error_msg":"Backend unavailable"}"#;
        let timeout = br#"{"error_code":"APIG.0203","error_msg":"Backend timeout"}"#;
        let other_gw = br#"{"error_code":"APIGW.0103","error_msg":"The backend does not exist"}"#;
        let backend = br#"{"error_code":"CCE.01500001","error_msg":"busy"}"#;
        let throttled = br#"{"error_code":"APIG.0308","error_msg":"throttled"}"#;
        assert!(retryable_status(StatusCode::TOO_MANY_REQUESTS, true, b""));
        assert!(retryable_status(
            StatusCode::TOO_MANY_REQUESTS,
            true,
            throttled
        ));
        assert!(retryable_status(StatusCode::SERVICE_UNAVAILABLE, true, gw));
        assert!(retryable_status(StatusCode::BAD_GATEWAY, true, gw));
        assert!(retryable_status(StatusCode::BAD_GATEWAY, true, unavailable));
        for not_passed_on_proof in [&backend[..], other_gw, timeout, b"<html>", b""] {
            for status in [StatusCode::BAD_GATEWAY, StatusCode::SERVICE_UNAVAILABLE] {
                assert!(!retryable_status(status, true, not_passed_on_proof));
            }
        }
        // A gateway timeout: the service may have acted. Whatever the code.
        for body in [&gw[..], timeout, unavailable, b""] {
            assert!(!retryable_status(StatusCode::GATEWAY_TIMEOUT, true, body));
            assert!(retryable_status(StatusCode::GATEWAY_TIMEOUT, false, body));
        }
        assert!(outcome_unknown_status(StatusCode::GATEWAY_TIMEOUT, true));
        assert!(!outcome_unknown_status(StatusCode::GATEWAY_TIMEOUT, false));
        assert!(!outcome_unknown_status(StatusCode::BAD_GATEWAY, true));
        for s in [429, 502, 503, 504] {
            assert!(
                retryable_status(StatusCode::from_u16(s).unwrap(), false, b""),
                "{s}"
            );
        }
        for s in [400, 401, 403, 404, 500] {
            assert!(
                !retryable_status(StatusCode::from_u16(s).unwrap(), false, b""),
                "{s}"
            );
        }
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date_bounded() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        let read = |value: &str| {
            let mut h = HeaderMap::new();
            h.insert(RETRY_AFTER, value.parse().unwrap());
            retry_after_at(&h, now)
        };
        assert_eq!(retry_after_at(&HeaderMap::new(), now), None);
        assert_eq!(read("3"), Some(Duration::from_secs(3)));
        assert_eq!(read(" 0 "), Some(Duration::ZERO));
        assert_eq!(read("18446744073709551615"), Some(MAX_RETRY_AFTER));
        assert_eq!(
            read("99999999999999999999999"),
            None,
            "not a u64, not a date"
        );
        assert_eq!(read("-1"), None);
        assert_eq!(
            read("Wed, 21 Oct 2015 07:28:07 GMT"),
            Some(Duration::from_secs(7))
        );
        // The obsolete forms HTTP still allows.
        assert_eq!(
            read("Wednesday, 21-Oct-15 07:28:07 GMT"),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            read("Wed Oct 21 07:28:07 2015"),
            Some(Duration::from_secs(7))
        );
        assert_eq!(read("Wed, 21 Oct 2015 07:27:00 GMT"), Some(Duration::ZERO));
        assert_eq!(read("Fri, 31 Dec 9999 23:59:59 GMT"), Some(MAX_RETRY_AFTER));
        assert_eq!(read("tomorrow"), None);
    }

    #[test]
    fn no_configuration_or_answer_overflows() {
        let huge = RetryConfig::default()
            .initial_backoff(Duration::MAX)
            .max_backoff(Duration::MAX)
            .budget(Duration::MAX);
        for next in [0, 1, 2, 3, 40, u32::MAX] {
            let _ = huge.delay(next, None);
            assert_eq!(
                huge.delay(next, Some(Duration::MAX)),
                Duration::MAX,
                "a caller's Retry-After passes through"
            );
        }
        assert!(!huge.fits_budget(Duration::MAX, Duration::MAX));
        let cfg = RetryConfig::default();
        assert!(!cfg.fits_budget(Duration::from_secs(1), Duration::MAX));
        assert!(cfg.fits_budget(Duration::from_secs(1), Duration::from_secs(1)));
        assert!(!cfg.fits_budget(Duration::from_secs(59), Duration::from_secs(1)));
    }
}
