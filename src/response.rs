//! What a successful call returns.

use std::fmt;

use http::StatusCode;
use http::header::HeaderMap;

/// A successful answer: the decoded body (also reachable through `Deref`), with the status,
/// headers and the `X-Request-Id` to quote to support.
pub struct Response<T> {
    inner: T,
    status: StatusCode,
    headers: HeaderMap,
    attempts: u32,
}

impl<T> Response<T> {
    pub(crate) fn new(inner: T, status: StatusCode, headers: HeaderMap, attempts: u32) -> Self {
        Response {
            inner,
            status,
            headers,
            attempts,
        }
    }

    /// The decoded body.
    pub fn into_inner(self) -> T {
        self.inner
    }

    /// The same answer with its body mapped by `f` (status, headers and attempts kept).
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Response<U> {
        Response {
            inner: f(self.inner),
            status: self.status,
            headers: self.headers,
            attempts: self.attempts,
        }
    }

    /// The HTTP status (e.g. 201 for a created workflow).
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The response headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The `X-Request-Id` the service gave this answer.
    pub fn request_id(&self) -> Option<&str> {
        self.headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
    }

    /// How many times the request was sent before this answer (1 without retries).
    pub fn attempts(&self) -> u32 {
        self.attempts
    }
}

impl<T> std::ops::Deref for Response<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T: fmt::Debug> fmt::Debug for Response<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("request_id", &self.request_id())
            .field("attempts", &self.attempts)
            .field("body", &self.inner)
            .finish()
    }
}
