//! The transport: sending a request and reading its answer, under the one call path
//! (`src/call.rs` builds and signs a request, the client's `Shared::send` hands it here).
//!
//! [`Transport::send`] sends it, retrying as [`RetryConfig`] allows and having every retry signed
//! afresh, reads the answer up to the size cap, notes where a redirect pointed (redirects are not
//! followed), runs the interceptors after each attempt, and buffers the answer so that nothing of
//! it (status, request id, raw body) is lost when it cannot be decoded.
//! [`Transport::send_error`] says what a request that got no readable answer means: nothing sent,
//! outcome unknown, timed out, unreadable.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap};

use crate::error::{Error, ErrorKind, ResponseTooLarge};
use crate::interceptor::{AfterAttempt, Interceptor};
use crate::retry::{self, RetryConfig};

const X_REQUEST_ID: &str = "x-request-id";

/// How a client sends: its HTTP connections, retries, limits and interceptors.
pub(crate) struct Transport {
    pub(crate) http: reqwest::Client,
    pub(crate) retry: RetryConfig,
    pub(crate) request_timeout: Duration,
    pub(crate) max_response_bytes: u64,
    /// What the application registered, run on every attempt.
    pub(crate) interceptors: Vec<Arc<dyn Interceptor>>,
    /// How many attempts may be in flight at once (`ClientBuilder::max_concurrent_requests`).
    pub(crate) max_concurrent: usize,
    /// One per attempt in flight, from sending to the end of the answer's body.
    pub(crate) permits: tokio::sync::Semaphore,
    /// The CCE endpoint, named in errors when the failed URL is unknown.
    pub(crate) endpoint: String,
    /// What the waits between attempts wait on.
    pub(crate) clock: Arc<dyn crate::clock::Clock>,
}

/// An answer read whole: what [`Transport::send`] returns for any status.
pub(crate) struct Buffered {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    /// How many times the request was sent.
    pub(crate) attempts: u32,
    /// Where a 3xx answer pointed (sanitized), which is not followed.
    pub(crate) location: Option<String>,
}

impl Buffered {
    pub(crate) fn request_id(&self) -> Option<String> {
        request_id_of(&self.headers).map(str::to_owned)
    }
}

/// Why [`Transport::send`] has no answer to give.
pub(crate) enum SendError {
    /// No answer: connection, timeout, malformed HTTP.
    Transport {
        error: reqwest::Error,
        attempts: u32,
    },
    /// An answer over the size limit, not read to the end.
    TooLarge {
        too_large: ResponseTooLarge,
        attempts: u32,
    },
}

impl SendError {
    pub(crate) fn attempts(&self) -> u32 {
        match self {
            SendError::Transport { attempts, .. } | SendError::TooLarge { attempts, .. } => {
                *attempts
            }
        }
    }
}

impl Transport {
    /// Sends a prepared, signed request; retries as configured, signing every retry afresh with
    /// `sign` (given the attempt number); returns the buffered answer.
    pub(crate) async fn send(
        &self,
        request: reqwest::Request,
        operation: &'static str,
        sign: impl Fn(&mut reqwest::Request, u32),
    ) -> Result<Buffered, SendError> {
        let write = retry::is_write(request.method());
        let started = Instant::now();
        let mut original = Some(request);
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let Some(template) = original.as_ref() else {
                unreachable!("kept until the last attempt")
            };
            // A request whose body is a stream cannot be cloned: it is sent once.
            let request = match template.try_clone() {
                Some(mut copy) => {
                    if attempt > 1 {
                        sign(&mut copy, attempt);
                    }
                    copy
                }
                None => original.take().expect("present"),
            };
            let can_retry = original.is_some() && attempt < self.retry.attempts();
            let method = request.method().clone();
            let url = (!self.interceptors.is_empty()).then(|| request.url().as_str().to_owned());
            // Never closed: the semaphore lives as long as the transport.
            let permit = self.permits.acquire().await;
            let sent_at = Instant::now();
            let answer = match self.http.execute(request).await {
                Ok(mut response) => {
                    let status = response.status();
                    let headers = std::mem::take(response.headers_mut());
                    match read_capped(&mut response, self.max_response_bytes).await {
                        Ok(Ok(body)) => Ok((status, headers, body)),
                        // Over the limit: not read further, not sent again.
                        Ok(Err(declared)) => {
                            if let Some(url) = &url {
                                self.after_attempt(AfterAttempt {
                                    operation,
                                    attempt,
                                    method: &method,
                                    url,
                                    answer: Ok((status, &headers)),
                                    duration: sent_at.elapsed(),
                                    will_retry: false,
                                });
                            }
                            let too_large = ResponseTooLarge {
                                status,
                                request_id: request_id_of(&headers).map(str::to_owned),
                                limit: self.max_response_bytes,
                                declared,
                            };
                            tracing::warn!(
                                operation,
                                attempt,
                                status = status.as_u16(),
                                "{too_large}"
                            );
                            return Err(SendError::TooLarge {
                                too_large,
                                attempts: attempt,
                            });
                        }
                        Err(e) => Err(e),
                    }
                }
                Err(e) => Err(e),
            };
            drop(permit);
            let duration = sent_at.elapsed();
            let latency_ms = duration.as_millis() as u64;
            let wait = match &answer {
                Ok((status, headers, body)) => {
                    let request_id = bounded(request_id_of(headers).unwrap_or(""));
                    tracing::debug!(
                        operation,
                        attempt,
                        status = status.as_u16(),
                        request_id,
                        latency_ms,
                        "answer"
                    );
                    (can_retry && retry::retryable_status(*status, write, body))
                        .then(|| self.retry.delay(attempt + 1, retry::retry_after(headers)))
                }
                Err(e) => {
                    // Only a failed connect proves the request never left; anything later may
                    // have reached the service, so a write is not sent again.
                    let never_sent = e.is_connect();
                    // A certificate the client does not trust will not be trusted next time.
                    let certificate = crate::tls::certificate_problem(e).is_some();
                    tracing::debug!(operation, attempt, latency_ms, never_sent, error = %e, "no answer");
                    (can_retry && !certificate && (never_sent || !write))
                        .then(|| self.retry.delay(attempt + 1, None))
                }
            };
            let wait = wait.filter(|w| self.retry.fits_budget(started.elapsed(), *w));
            if let Some(url) = &url {
                self.after_attempt(AfterAttempt {
                    operation,
                    attempt,
                    method: &method,
                    url,
                    answer: match &answer {
                        Ok((status, headers, _)) => Ok((*status, headers)),
                        Err(e) => Err(e),
                    },
                    duration,
                    will_retry: wait.is_some(),
                });
            }
            if let Some(wait) = wait {
                let reason = match &answer {
                    Ok((status, headers, _)) => {
                        format!(
                            "HTTP {status}, request id {}",
                            bounded(request_id_of(headers).unwrap_or("-"))
                        )
                    }
                    Err(e) => e.to_string(),
                };
                tracing::info!(
                    operation,
                    attempt,
                    wait_ms = wait.as_millis() as u64,
                    reason,
                    "retrying"
                );
                self.clock.sleep(wait).await;
                continue;
            }
            let (status, headers, body) = answer.map_err(|error| SendError::Transport {
                error,
                attempts: attempt,
            })?;
            // The request is kept until the last attempt (a body that is a stream is sent once
            // and not kept: then a redirect's target is not resolved).
            let location = original
                .as_ref()
                .filter(|_| status.is_redirection())
                .map(|request| redirect_target(request.url(), &headers));
            return Ok(Buffered {
                status,
                headers,
                body,
                attempts: attempt,
                location,
            });
        }
    }

    /// Shows how an attempt ended to the interceptors.
    fn after_attempt(&self, attempt: AfterAttempt<'_>) {
        for interceptor in &self.interceptors {
            interceptor.after_attempt(&attempt);
        }
    }

    /// The error for a request that got no readable answer.
    pub(crate) fn send_error(&self, e: SendError, write: bool) -> Error {
        match e {
            SendError::TooLarge { too_large, .. } => Error::response_too_large(&too_large),
            SendError::Transport { error, .. } => self.transport_error(error, write),
        }
    }

    fn transport_error(&self, e: reqwest::Error, write: bool) -> Error {
        if let Some(too_large) = find_cause::<ResponseTooLarge>(&e) {
            return Error::response_too_large(too_large);
        }
        // The server the request went to: the CCE endpoint, or IAM for the project id lookup.
        let server = e.url().map_or_else(
            || self.endpoint.clone(),
            |u| u.origin().ascii_serialization(),
        );
        // The server answered, but not with HTTP this client can read: that is no lost
        // connection.
        let unreadable = find_cause::<hyper::Error>(&e)
            .filter(|h| h.is_parse())
            .map(|h| {
                // `is_parse_too_large` needs hyper's server feature; its message says the same.
                if h.to_string().contains("too large") {
                    "the answer's headers were too large"
                } else {
                    "the answer was malformed (not valid HTTP)"
                }
            });
        if let Some(why) = crate::tls::certificate_problem(&e) {
            Error::transport(
                ErrorKind::Certificate,
                format!(
                    "the TLS certificate of {server} is not trusted: {why}; nothing was sent. If \
                     a private CA signs it, trust that CA with \
                     ClientBuilder::add_root_certificate"
                ),
                e,
            )
        } else if e.is_connect() {
            Error::transport(
                ErrorKind::Connect,
                format!("could not connect to {server}; nothing was sent"),
                e,
            )
        } else if write {
            Error::transport(
                ErrorKind::OutcomeUnknown,
                format!(
                    "the request was sent but its answer was lost ({}); it may have been acted on, so \
                     it was not sent again: list the cluster's upgrade workflows to see whether it took effect",
                    if let Some(what) = unreadable {
                        what
                    } else if e.is_timeout() {
                        "timed out"
                    } else {
                        "connection lost"
                    },
                ),
                e,
            )
        } else if let Some(what) = unreadable {
            Error::transport(ErrorKind::Decode, format!("{what}, from {server}"), e)
        } else if e.is_timeout() {
            Error::transport(
                ErrorKind::TimedOut,
                format!("no answer within {:?}", self.request_timeout),
                e,
            )
        } else {
            Error::transport(
                ErrorKind::Connect,
                format!("the connection to {server} failed"),
                e,
            )
        }
    }
}

/// Where a redirect pointed, for the error message: the `Location` resolved against the request
/// URL, without userinfo, query or fragment (they may carry secrets), at most 256 characters.
fn redirect_target(url: &reqwest::Url, headers: &HeaderMap) -> String {
    let Some(location) = headers.get(header::LOCATION) else {
        return "nowhere (no Location header)".to_owned();
    };
    let Some(mut target) = location.to_str().ok().and_then(|l| url.join(l).ok()) else {
        return "an unreadable Location".to_owned();
    };
    let _ = target.set_username("");
    let _ = target.set_password(None);
    target.set_query(None);
    target.set_fragment(None);
    let mut target = target.to_string();
    if target.len() > 256 {
        let mut end = 256;
        while !target.is_char_boundary(end) {
            end -= 1;
        }
        target.truncate(end);
        target.push('…');
    }
    target
}

/// Reads the body up to `limit` bytes: `Ok(Err(declared))` when it is over, without reading it
/// when its `Content-Length` says so (`declared`), else stopping at the limit.
async fn read_capped(
    response: &mut reqwest::Response,
    limit: u64,
) -> reqwest::Result<Result<Bytes, Option<u64>>> {
    if let Some(length) = response.content_length().filter(|&l| l > limit) {
        return Ok(Err(Some(length)));
    }
    let expected = response.content_length().unwrap_or(0).min(limit);
    let mut body = bytes::BytesMut::with_capacity(usize::try_from(expected).unwrap_or(0));
    while let Some(chunk) = response.chunk().await? {
        if (body.len() + chunk.len()) as u64 > limit {
            return Ok(Err(None));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Ok(body.freeze()))
}

/// The first error of type `T` in the chain of `e`.
fn find_cause<'a, T: std::error::Error + 'static>(
    e: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    let mut next = Some(e);
    while let Some(e) = next {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        next = e.source();
    }
    None
}

/// At most 256 bytes of a header value, for log lines.
pub(crate) fn bounded(value: &str) -> &str {
    let mut end = value.len().min(256);
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    &value[..end]
}

fn request_id_of(headers: &HeaderMap) -> Option<&str> {
    headers.get(X_REQUEST_ID).and_then(|v| v.to_str().ok())
}
