//! Injected faults: what the network and the gateway do to a client on a bad day.
//!
//! [`Emulator::inject`](super::Emulator::inject) queues a [`Fault`] for the next `count`
//! requests. Faults apply to any route, before routing, in the order they were injected; each
//! request consumes one.

use std::collections::VecDeque;
use std::time::Duration;

/// A fault to play on the next requests instead of (or around) the normal answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Answer with this HTTP status and a gateway-style JSON error body, without acting on the
    /// request. `429` gives `APIGW.0308` (throttled), `503` gives `APIGW.0201` (service
    /// unavailable); with `retry_after`, the answer carries `Retry-After: N` (seconds).
    Status {
        /// The HTTP status code, e.g. 429 or 503.
        status: u16,
        /// The `Retry-After` value in seconds, if any.
        retry_after: Option<u64>,
    },
    /// Wait this long, then act and answer normally: a slow answer, or with a long delay a
    /// silent server. Shutting the emulator down cuts the wait short.
    Delay(Duration),
    /// Act on the request (a create really creates), then close the connection without writing
    /// any response byte: the client sees a connection error and cannot know it worked.
    DropAfterAction,
    /// Act on the request, then answer `200` with an empty body: a success the client cannot
    /// read (e.g. no task id for an upgrade it started).
    EmptyOkAfterAction,
    /// Do not act; answer `502 Bad Gateway` with `Content-Type: text/html` and an nginx-style
    /// HTML page, as a load balancer in front of the gateway does.
    HtmlBadGateway,
}

impl Fault {
    /// The gateway's `error_code` and `error_msg` for a status fault.
    pub(crate) fn gateway_error(status: u16) -> (&'static str, String) {
        match status {
            429 => (
                "APIGW.0308",
                "The throttling threshold has been reached: policy user over ratelimit, limit:20, \
                 time:1 second"
                    .to_string(),
            ),
            503 => (
                "APIGW.0201",
                "Service unavailable: the backend is temporarily unavailable, try again later"
                    .to_string(),
            ),
            502 => ("APIGW.0202", "Backend unavailable".to_string()),
            504 => ("APIGW.0203", "Backend timeout".to_string()),
            500 => ("APIGW.0103", "The backend server is abnormal".to_string()),
            other => (
                "APIGW.0000",
                format!(
                    "Injected fault: HTTP {other} {}",
                    hyper::StatusCode::from_u16(other)
                        .ok()
                        .and_then(|s| s.canonical_reason())
                        .unwrap_or("")
                ),
            ),
        }
    }
}

/// The nginx-style page of [`Fault::HtmlBadGateway`].
pub(crate) const BAD_GATEWAY_HTML: &str = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n\
<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";

/// Faults waiting for requests, in injection order.
#[derive(Debug, Default)]
pub(crate) struct FaultQueue {
    pending: VecDeque<(Fault, usize)>,
}

impl FaultQueue {
    /// Queues `fault` for the next `count` requests (after those already queued).
    pub(crate) fn push(&mut self, fault: Fault, count: usize) {
        if count > 0 {
            self.pending.push_back((fault, count));
        }
    }

    /// The fault for the request at hand, if any, consuming one of its count.
    pub(crate) fn take(&mut self) -> Option<Fault> {
        let (fault, left) = self.pending.front_mut()?;
        let fault = fault.clone();
        *left -= 1;
        if *left == 0 {
            self.pending.pop_front();
        }
        Some(fault)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_are_consumed_in_order() {
        let mut q = FaultQueue::default();
        assert_eq!(q.take(), None);
        let s503 = Fault::Status {
            status: 503,
            retry_after: Some(1),
        };
        q.push(s503.clone(), 2);
        q.push(Fault::HtmlBadGateway, 0);
        q.push(Fault::DropAfterAction, 1);
        assert_eq!(q.take(), Some(s503.clone()));
        assert_eq!(q.take(), Some(s503));
        assert_eq!(q.take(), Some(Fault::DropAfterAction));
        assert_eq!(q.take(), None);
    }

    #[test]
    fn gateway_errors_name_the_gateway_codes() {
        assert_eq!(Fault::gateway_error(429).0, "APIGW.0308");
        assert_eq!(Fault::gateway_error(503).0, "APIGW.0201");
        assert!(Fault::gateway_error(418).1.contains("418"));
    }
}
