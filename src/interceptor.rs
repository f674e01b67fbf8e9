//! Interceptors: code an application attaches to every call a [`Client`](crate::Client) makes,
//! to add a header, record metrics or trace, without wrapping each operation.
//!
//! Register one with [`ClientBuilder::interceptor`](crate::ClientBuilder::interceptor); a client
//! runs its interceptors in the order they were registered, on every attempt of every request
//! (retries included, and the IAM project-id lookup):
//!
//! - [`Interceptor::before_signing`] sees the request just before it is signed and may add or
//!   change headers: what it leaves is what is signed and sent. The credential headers
//!   (`Authorization`, `X-Sdk-Date`, `X-Security-Token`, `X-Auth-Token`) are not there yet; the
//!   signer sets them afterwards, over what the interceptor set.
//! - [`Interceptor::after_attempt`] sees how the attempt ended: the status and headers of the
//!   answer or the transport error, how long it took, and whether the client will try again.
//!
//! Both run inline on the calling task: keep them short, and do not block in them.
//!
//! ```
//! use std::sync::atomic::{AtomicU32, Ordering};
//! use cce_upgrade::interceptor::{AfterAttempt, BeforeSigning, Interceptor};
//!
//! /// Tags every request and counts the attempts that got no answer.
//! #[derive(Default)]
//! struct Tagging {
//!     failures: AtomicU32,
//! }
//!
//! impl Interceptor for Tagging {
//!     fn before_signing(&self, request: &mut BeforeSigning<'_>) {
//!         request
//!             .headers_mut()
//!             .insert("x-trace-id", http::HeaderValue::from_static("abc123"));
//!     }
//!
//!     fn after_attempt(&self, attempt: &AfterAttempt<'_>) {
//!         if attempt.status().is_none() {
//!             self.failures.fetch_add(1, Ordering::Relaxed);
//!         }
//!     }
//! }
//!
//! let builder = cce_upgrade::Client::builder().interceptor(Tagging::default());
//! # drop(builder);
//! ```

use std::fmt;
use std::time::Duration;

use http::{HeaderMap, Method, StatusCode};

/// A hook on every attempt of every request a client sends. Both methods do nothing unless
/// implemented.
pub trait Interceptor: Send + Sync + 'static {
    /// Called before each attempt is signed; may add or change the request's headers.
    fn before_signing(&self, request: &mut BeforeSigning<'_>) {
        let _ = request;
    }

    /// Called after each attempt, answered or not.
    fn after_attempt(&self, attempt: &AfterAttempt<'_>) {
        let _ = attempt;
    }
}

/// A request about to be signed, as [`Interceptor::before_signing`] sees it.
pub struct BeforeSigning<'a> {
    pub(crate) operation: &'static str,
    pub(crate) attempt: u32,
    pub(crate) method: &'a Method,
    pub(crate) url: &'a str,
    pub(crate) headers: &'a mut HeaderMap,
}

impl BeforeSigning<'_> {
    /// The operation, e.g. `UpgradeCluster` (`KeystoneListProjects` for the project-id lookup).
    pub fn operation(&self) -> &'static str {
        self.operation
    }

    /// Which attempt this is, from 1.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The request's method.
    pub fn method(&self) -> &Method {
        self.method
    }

    /// The request's URL.
    pub fn url(&self) -> &str {
        self.url
    }

    /// The request's headers.
    pub fn headers(&self) -> &HeaderMap {
        self.headers
    }

    /// The request's headers, to add or change some: they are signed as they are left.
    pub fn headers_mut(&mut self) -> &mut HeaderMap {
        self.headers
    }
}

impl fmt::Debug for BeforeSigning<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BeforeSigning")
            .field("operation", &self.operation)
            .field("attempt", &self.attempt)
            .field("method", &self.method)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// How one attempt ended, as [`Interceptor::after_attempt`] sees it.
pub struct AfterAttempt<'a> {
    pub(crate) operation: &'static str,
    pub(crate) attempt: u32,
    pub(crate) method: &'a Method,
    pub(crate) url: &'a str,
    pub(crate) answer: Result<(StatusCode, &'a HeaderMap), &'a (dyn std::error::Error + 'static)>,
    pub(crate) duration: Duration,
    pub(crate) will_retry: bool,
}

impl AfterAttempt<'_> {
    /// The operation, e.g. `UpgradeCluster`.
    pub fn operation(&self) -> &'static str {
        self.operation
    }

    /// Which attempt this was, from 1.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The request's method.
    pub fn method(&self) -> &Method {
        self.method
    }

    /// The request's URL.
    pub fn url(&self) -> &str {
        self.url
    }

    /// The answer's status; `None` when no answer was read (see [`error`](Self::error)).
    pub fn status(&self) -> Option<StatusCode> {
        self.answer.as_ref().ok().map(|(status, _)| *status)
    }

    /// The answer's headers; `None` when no answer was read.
    pub fn response_headers(&self) -> Option<&HeaderMap> {
        self.answer.as_ref().ok().map(|(_, headers)| *headers)
    }

    /// Why no answer was read (a lost connection, a timeout, ...); `None` when one was.
    pub fn error(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.answer.as_ref().err().copied()
    }

    /// From sending the request to having read the answer (or given up on it).
    pub fn duration(&self) -> Duration {
        self.duration
    }

    /// Whether the client sends the request again after this attempt.
    pub fn will_retry(&self) -> bool {
        self.will_retry
    }
}

impl fmt::Debug for AfterAttempt<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AfterAttempt")
            .field("operation", &self.operation)
            .field("attempt", &self.attempt)
            .field("method", &self.method)
            .field("url", &self.url)
            .field("status", &self.status())
            .field("error", &self.error().map(ToString::to_string))
            .field("duration", &self.duration)
            .field("will_retry", &self.will_retry)
            .finish()
    }
}
