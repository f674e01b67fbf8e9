//! The one error type of the crate.
//!
//! Every failure is an [`Error`] with a [`kind`](Error::kind) to match on. Its `Display` is one
//! line a person can act on; [`std::error::Error::source`] keeps the chain. When the service
//! answered, [`Error::service_error`] has the four things support asks for: HTTP status,
//! `error_code`, `error_msg` and the `X-Request-Id`, plus the raw body.
//!
//! # Writes and "outcome unknown"
//!
//! A request that changes something (POST, PUT, PATCH) is never re-sent once it may have reached
//! the server. If the connection is lost or times out after such a request was sent, the error
//! kind is [`ErrorKind::OutcomeUnknown`]: the upgrade workflow may or may not have been created.
//! Reconcile by reading the state back — list the cluster's upgrade workflows
//! ([`Client::list_upgrade_work_flows`](crate::Client::list_upgrade_work_flows), or
//! [`Client::list_autopilot_upgrade_work_flows`](crate::Client::list_autopilot_upgrade_work_flows)
//! for an Autopilot cluster) or look at the cluster's version — before deciding to send it again.

use std::fmt;

use bytes::Bytes;
use http::StatusCode;

use crate::types::{PreCheckTask, UpgradeTask, UpgradeWorkFlow};
use crate::upgrade::{Failure, Step};

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What went wrong, broadly. New kinds may be added, so match with a wildcard arm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The service answered with an error status (see [`Error::service_error`]).
    Service,
    /// The API gateway rejected the credentials or the signature (HTTP 401, or 403 from the gateway).
    Authentication,
    /// The service kept answering 429 Too Many Requests until retries ran out.
    Throttled,
    /// No answer came within the configured time for a read; nothing was changed.
    TimedOut,
    /// The connection could not be established; the request was never sent.
    Connect,
    /// The server's TLS certificate is not trusted (unknown issuer, expired, wrong host name);
    /// nothing was sent, and the request was not tried again. If a private CA signs it, trust
    /// that CA with [`ClientBuilder::add_root_certificate`](crate::ClientBuilder::add_root_certificate).
    Certificate,
    /// A write was sent but its answer was lost (connection dropped, timed out), or the API
    /// gateway timed out waiting for the service (HTTP 504, kept in [`Error::service_error`]):
    /// it may have been acted on. It is not re-sent; reconcile by reading the state back.
    OutcomeUnknown,
    /// An argument failed a documented constraint; nothing was sent (see [`Error::field`]).
    InvalidInput,
    /// The service answered, but the body could not be read as the documented type.
    Decode,
    /// The client is not configured to make the call: no credentials, unknown region, ...
    Configuration,
    /// An upgrade task or workflow being waited on ended in failure (`Failed`, `Cancel`,
    /// `Pending`); [`Error::last_task`] or [`Error::last_workflow`] has its last state. For the
    /// upgrade driver, also a snapshot, post-check or node-pool sync that failed, and a task that
    /// said `Success` while the cluster's version did not reach the target
    /// ([`Error::upgrade_failure`] tells which).
    UpgradeFailed,
    /// The upgrade driver's pre-check did not pass: [`Error::upgrade_failure`] has the findings
    /// ([`crate::upgrade::Failure::PreCheckFailed`]).
    PreCheckFailed,
    /// The upgrade task is paused: it does not move until it is continued.
    UpgradePaused,
    /// The cluster cannot be upgraded now (its phase, an open workflow to another target, an
    /// upgrade of another version under way): nothing was sent. [`Error::upgrade_failure`] says
    /// why.
    Blocked,
    /// A waiter's deadline passed before the task or workflow ended; the last state is kept.
    WaitTimedOut,
    /// What a waiter follows is not there: the service answered `404` for the workflow.
    NotFound,
    /// The answer was larger than [`ClientBuilder::max_response_bytes`](crate::ClientBuilder::max_response_bytes)
    /// allows; it was not read to the end, and the request was not sent again.
    ResponseTooLarge,
}

/// The most of a body, or of the service's `error_msg`, that an error keeps.
pub const MAX_ERROR_SNIPPET: usize = 4096;
/// The most of a header value (such as `X-Request-Id`) or an `error_code` that an error keeps.
pub const MAX_ERROR_HEADER: usize = 256;

/// The error returned by every fallible operation of this crate.
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: ErrorKind,
    operation: Option<&'static str>,
    message: String,
    field: Option<String>,
    service: Option<ServiceError>,
    attempts: u32,
    last_state: Option<LastState>,
    /// The upgrade step that failed, for errors of the upgrade driver.
    step: Option<Step>,
    /// What stopped the upgrade driver, typed.
    failure: Option<Box<Failure>>,
    source: Option<BoxError>,
}

enum LastState {
    Task(Box<UpgradeTask>),
    WorkFlow(Box<UpgradeWorkFlow>),
    PreCheck(Box<PreCheckTask>),
}

/// What the service said when it answered with an error.
#[derive(Clone, PartialEq, Eq)]
pub struct ServiceError {
    status: StatusCode,
    error_code: Option<String>,
    error_msg: Option<String>,
    request_id: Option<String>,
    location: Option<String>,
    body: Bytes,
}

impl ServiceError {
    /// Builds one from a raw answer: decodes the error body in any of the shapes the service uses
    /// (`{error_code, error_msg}`, `{errorCode, errorMsg}`, `{code, message}`,
    /// `{"error": {"code", "message"}}`); a body that is not JSON (an HTML 502 page) keeps only
    /// status and request id. The request id comes from `X-Request-Id`, else from the body.
    pub(crate) fn from_parts(status: StatusCode, request_id: Option<String>, body: Bytes) -> Self {
        let (error_code, error_msg, body_request_id) = decode_error_body(&body);
        ServiceError {
            status,
            error_code,
            error_msg,
            request_id: request_id.or(body_request_id),
            location: None,
            body,
        }
    }

    /// For a 3xx answer: where it pointed (already stripped of userinfo, query and fragment).
    pub(crate) fn with_location(mut self, location: Option<String>) -> Self {
        self.location = location;
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The service's error code, e.g. `CCE.01400001` or `APIGW.0301`.
    pub fn error_code(&self) -> Option<&str> {
        self.error_code.as_deref()
    }

    /// The service's error message.
    pub fn error_msg(&self) -> Option<&str> {
        self.error_msg.as_deref()
    }

    /// The `X-Request-Id` of the answer: quote it to Huawei Cloud support.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    /// For a redirect (3xx), which is never followed: where it pointed, without userinfo, query
    /// or fragment.
    pub fn location(&self) -> Option<&str> {
        self.location.as_deref()
    }

    /// The start of the body, as text: at most [`MAX_ERROR_SNIPPET`] bytes, with every secret
    /// the request carried replaced by `** redacted **`.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// Bounds every part to its maximum length and redacts the secrets from all of them.
    fn bound_and_redact(&mut self, secrets: &[&str]) {
        let clean = Redactor::new(secrets);
        let bound = |text: &mut Option<String>, max| {
            if let Some(t) = text {
                *t = clean.bounded(t, max);
            }
        };
        bound(&mut self.error_code, MAX_ERROR_HEADER);
        bound(&mut self.error_msg, MAX_ERROR_SNIPPET);
        bound(&mut self.request_id, MAX_ERROR_HEADER);
        bound(&mut self.location, MAX_ERROR_HEADER);
        // One lossy view of the first bytes; the full body is never copied.
        let window = &self.body[..self.body.len().min(MAX_ERROR_SNIPPET + clean.longest)];
        let snippet = clean.bounded(&String::from_utf8_lossy(window), MAX_ERROR_SNIPPET);
        self.body = Bytes::from(snippet);
    }
}

impl fmt::Debug for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceError")
            .field("status", &self.status)
            .field("error_code", &self.error_code)
            .field("error_msg", &self.error_msg)
            .field("request_id", &self.request_id)
            .field("location", &self.location)
            .field("body", &snippet(&self.body))
            .finish()
    }
}

/// Decodes `(error_code, error_msg, request_id)` from an error body of any known shape.
pub(crate) fn decode_error_body(body: &[u8]) -> (Option<String>, Option<String>, Option<String>) {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(body)
    else {
        return (None, None, None);
    };
    fn text(v: Option<&serde_json::Value>) -> Option<String> {
        match v? {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }
    let pick = |map: &serde_json::Map<String, serde_json::Value>, keys: &[&str]| {
        keys.iter().find_map(|k| text(map.get(*k)))
    };
    let nested = map.get("error").and_then(serde_json::Value::as_object);
    let code = pick(&map, &["error_code", "errorCode"])
        .or_else(|| nested.and_then(|n| pick(n, &["code", "error_code", "errorCode"])))
        .or_else(|| pick(&map, &["code"]));
    let msg = pick(&map, &["error_msg", "errorMsg", "errorMessage"])
        .or_else(|| nested.and_then(|n| pick(n, &["message", "error_msg", "errorMsg"])))
        .or_else(|| pick(&map, &["message", "msg"]));
    let request_id = pick(&map, &["request_id", "requestId"])
        .or_else(|| nested.and_then(|n| pick(n, &["request_id", "requestId"])));
    (code, msg, request_id)
}

/// At most 512 bytes of a body, as text, for messages.
pub(crate) fn snippet(body: &[u8]) -> String {
    const MAX: usize = 512;
    let text = String::from_utf8_lossy(&body[..body.len().min(MAX)]);
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if body.len() > MAX {
        format!("{text}…")
    } else {
        text
    }
}

/// The text with line breaks and other control characters escaped (`\n`), for a one-line Display.
fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' | '\r' | '\t' => out.extend(c.escape_default()),
            c if c.is_control() => out.extend(c.escape_unicode()),
            c => out.push(c),
        }
    }
    out
}

const REDACTED: &str = "** redacted **";

/// Scrubs the secrets a request carried out of text an answer brought back.
struct Redactor<'a> {
    /// Non-empty secrets, longest first, so that a secret containing another is replaced whole.
    secrets: Vec<&'a str>,
    longest: usize,
}

impl<'a> Redactor<'a> {
    fn new(secrets: &[&'a str]) -> Self {
        let mut secrets: Vec<&str> = secrets.iter().copied().filter(|s| !s.is_empty()).collect();
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        let longest = secrets.first().map_or(0, |s| s.len());
        Redactor { secrets, longest }
    }

    fn contains_secret(&self, text: &str) -> bool {
        self.secrets.iter().any(|s| text.contains(s))
    }

    /// The text cut to about `max` bytes (a secret that starts before the cut is taken whole,
    /// so no part of one survives), with every secret and any `x-security-token:` value that a
    /// gateway echoes replaced by `** redacted **`, and `…` where it was cut.
    fn bounded(&self, text: &str, max: usize) -> String {
        let mut cut = floor_char_boundary(text, max);
        let cut_extended = |cut: usize| {
            self.secrets
                .iter()
                .filter_map(|s| {
                    let from = cut.saturating_sub(s.len() - 1);
                    let from = floor_char_boundary(text, from);
                    text[from..floor_char_boundary(text, cut + s.len())]
                        .match_indices(s)
                        .map(|(at, _)| from + at + s.len())
                        .find(|&end| end > cut)
                })
                .max()
        };
        while let Some(end) = cut_extended(cut) {
            cut = end;
        }
        let mut out = text[..cut].to_owned();
        for secret in &self.secrets {
            if out.contains(secret) {
                out = out.replace(secret, REDACTED);
            }
        }
        redact_token_lines(&mut out);
        if cut < text.len() {
            out.push('…');
        }
        out
    }
}

/// The largest char boundary of `text` at or below `at`.
fn floor_char_boundary(text: &str, at: usize) -> usize {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// Replaces the value of every `x-security-token:` line a gateway echoes in a canonical request.
fn redact_token_lines(out: &mut String) {
    const NAME: &str = "x-security-token:";
    let mut from = 0;
    while let Some(at) = out.as_bytes()[from..]
        .windows(NAME.len())
        .position(|w| w.eq_ignore_ascii_case(NAME.as_bytes()))
    {
        let start = from + at + NAME.len();
        let end = out[start..]
            .find(['\n', '\\', '"'])
            .map_or(out.len(), |e| start + e);
        out.replace_range(start..end, REDACTED);
        from = start + REDACTED.len();
    }
}

/// The secrets a request carried replaced in any text: a test helper and the core of redaction.
#[cfg(test)]
pub(crate) fn redact_text(text: &str, secrets: &[&str]) -> String {
    Redactor::new(secrets).bounded(text, usize::MAX)
}

/// A cause whose text held a secret: only its redacted text is kept.
#[derive(Debug)]
struct RedactedCause(String);

impl fmt::Display for RedactedCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RedactedCause {}

/// The cause as is, unless its text or its chain's shows a secret: then one error with the
/// redacted text of the whole chain.
fn redact_cause(cause: BoxError, clean: &Redactor<'_>) -> BoxError {
    let mut chain = Vec::new();
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(&*cause);
    while let Some(e) = next {
        chain.push(e.to_string());
        next = e.source();
    }
    if chain.iter().any(|t| clean.contains_secret(t)) {
        let text = clean.bounded(&chain.join(": "), MAX_ERROR_SNIPPET);
        Box::new(RedactedCause(text))
    } else {
        cause
    }
}

/// An answer over the size limit, as the body of the answer handed on (reading it fails with
/// this) and as the record of the call.
#[derive(Clone, Debug)]
pub(crate) struct ResponseTooLarge {
    pub(crate) status: StatusCode,
    pub(crate) request_id: Option<String>,
    pub(crate) limit: u64,
    /// The `Content-Length` it announced, when that was over the limit (nothing was read then).
    pub(crate) declared: Option<u64>,
}

impl fmt::Display for ResponseTooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.declared {
            Some(length) => write!(
                f,
                "its Content-Length of {length} bytes is over the limit of {} bytes, so it was not read",
                self.limit
            )?,
            None => write!(
                f,
                "its body grew past the limit of {} bytes, so reading stopped there",
                self.limit
            )?,
        }
        f.write_str(
            "; it was not sent again. If the answer is legitimate, raise \
             ClientBuilder::max_response_bytes",
        )
    }
}

impl std::error::Error for ResponseTooLarge {}

impl Error {
    fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            inner: Box::new(Inner {
                kind,
                operation: None,
                message: message.into(),
                field: None,
                service: None,
                attempts: 0,
                last_state: None,
                step: None,
                failure: None,
                source: None,
            }),
        }
    }

    pub(crate) fn invalid_input(field: impl Into<String>, why: impl fmt::Display) -> Self {
        let field = field.into();
        let mut e = Error::new(ErrorKind::InvalidInput, format!("invalid {field}: {why}"));
        e.inner.field = Some(field);
        e
    }

    /// A write's error answer that leaves its outcome unknown (a gateway timeout): the service
    /// error is kept, the kind says the write may have been acted on.
    pub(crate) fn into_outcome_unknown(mut self) -> Self {
        self.inner.kind = ErrorKind::OutcomeUnknown;
        self.inner.message.push_str(
            "; the gateway timed out waiting for the service, which may have acted on the \
             request, so it was not sent again: read the state back (e.g. list the cluster's \
             upgrade workflows or tasks) to see whether it took effect",
        );
        self
    }

    pub(crate) fn configuration(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Configuration, message)
    }

    /// The error for an answer with an error status. Every part is bounded and every string of
    /// `secrets` (credentials, and the node passwords the request carried) is redacted from all
    /// that the error keeps or prints.
    pub(crate) fn service(mut service: ServiceError, secrets: &[&str]) -> Self {
        service.bound_and_redact(secrets);
        let status = service.status;
        let kind = match status.as_u16() {
            401 => ErrorKind::Authentication,
            403 if service.error_code().is_some_and(|c| c.starts_with("APIGW")) => {
                ErrorKind::Authentication
            }
            429 => ErrorKind::Throttled,
            _ => ErrorKind::Service,
        };
        let mut message = format!("HTTP {status}");
        if status.is_redirection() {
            message.push_str(&format!(
                ": redirected to {}; the API never redirects, so it was not followed \
                 (check the endpoint)",
                one_line(service.location.as_deref().unwrap_or("an unknown place"))
            ));
        }
        // Display is one line: a gateway message may echo a multi-line canonical request.
        let (code, msg) = (
            service.error_code.as_deref().map(one_line),
            service.error_msg.as_deref().map(one_line),
        );
        match (code, msg) {
            (Some(code), Some(msg)) => message.push_str(&format!(": {code}: {msg}")),
            (Some(code), None) => message.push_str(&format!(": {code}")),
            (None, Some(msg)) => message.push_str(&format!(": {msg}")),
            (None, None) if !service.body.is_empty() => {
                message.push_str(&format!(": {}", snippet(&service.body)))
            }
            (None, None) => {}
        }
        if let Some(id) = &service.request_id {
            message.push_str(&format!(" (request id {id})"));
        }
        if kind == ErrorKind::Authentication {
            let expired = service.error_msg.as_deref().is_some_and(|m| {
                let m = m.to_ascii_lowercase();
                // Only the gateway's own words: the canonical request it echoes after a signature
                // mismatch always has an `x-sdk-date` line. An expired token is not a clock issue,
                // nor is a missing or malformed X-Sdk-Date header.
                let said = m.split("canonicalrequest").next().unwrap_or_default();
                said.contains("expired") && !said.contains("token")
            });
            if expired {
                message.push_str(
                    " — the signature's time is off: check this machine's clock (NTP); \
                     the gateway allows 15 minutes",
                );
            } else {
                message.push_str(" — check the AK/SK (or token) and the project id");
            }
        }
        let mut e = Error::new(kind, message);
        e.inner.service = Some(service);
        e
    }

    /// The error for an answer that could not be decoded. As [`Error::service`], it keeps a
    /// bounded snippet of the body and redacts `secrets` from everything, the cause included.
    pub(crate) fn decode(
        status: StatusCode,
        request_id: Option<String>,
        body: &[u8],
        cause: impl Into<BoxError>,
        secrets: &[&str],
    ) -> Self {
        let clean = Redactor::new(secrets);
        let cause = redact_cause(cause.into(), &clean);
        let mut service = ServiceError {
            status,
            error_code: None,
            error_msg: None,
            request_id,
            location: None,
            body: Bytes::copy_from_slice(
                &body[..body.len().min(MAX_ERROR_SNIPPET + clean.longest)],
            ),
        };
        service.bound_and_redact(secrets);
        let id = service
            .request_id
            .as_deref()
            .map(|id| format!(", request id {id}"))
            .unwrap_or_default();
        let mut e = Error::new(
            ErrorKind::Decode,
            format!(
                "could not decode the HTTP {status} response ({}{id}); body: `{}`",
                one_line(&clean.bounded(&cause.to_string(), 512)),
                snippet(&service.body)
            ),
        );
        e.inner.service = Some(service);
        e.inner.source = Some(cause);
        e
    }

    /// The error for an answer over the size limit; it keeps status and request id.
    pub(crate) fn response_too_large(too_large: &ResponseTooLarge) -> Self {
        let mut service = ServiceError {
            status: too_large.status,
            error_code: None,
            error_msg: None,
            request_id: too_large.request_id.clone(),
            location: None,
            body: Bytes::new(),
        };
        service.bound_and_redact(&[]);
        let id = service
            .request_id
            .as_deref()
            .map(|id| format!(", request id {id}"))
            .unwrap_or_default();
        let mut e = Error::new(
            ErrorKind::ResponseTooLarge,
            format!("the HTTP {} answer{id}: {too_large}", too_large.status),
        );
        e.inner.service = Some(service);
        e
    }

    pub(crate) fn transport(
        kind: ErrorKind,
        message: impl Into<String>,
        cause: impl Into<BoxError>,
    ) -> Self {
        let mut e = Error::new(kind, message);
        e.inner.source = Some(cause.into());
        e
    }

    pub(crate) fn upgrade_failed_task(task: UpgradeTask, message: String) -> Self {
        let mut e = Error::new(ErrorKind::UpgradeFailed, message);
        e.inner.last_state = Some(LastState::Task(Box::new(task)));
        e
    }

    pub(crate) fn upgrade_failed_workflow(workflow: UpgradeWorkFlow, message: String) -> Self {
        let mut e = Error::new(ErrorKind::UpgradeFailed, message);
        e.inner.last_state = Some(LastState::WorkFlow(Box::new(workflow)));
        e
    }

    pub(crate) fn upgrade_paused_task(task: UpgradeTask, message: String) -> Self {
        let mut e = Error::new(ErrorKind::UpgradePaused, message);
        e.inner.last_state = Some(LastState::Task(Box::new(task)));
        e
    }

    /// What stopped the upgrade driver at `step`: the message names the step and says what to
    /// do.
    pub(crate) fn upgrade_stopped(
        kind: ErrorKind,
        step: Step,
        failure: Failure,
        message: String,
    ) -> Self {
        let mut e = Error::new(kind, format!("{step}: {message}"));
        e.inner.step = Some(step);
        e.inner.failure = Some(Box::new(failure));
        if let Some(field) = e.failure_field() {
            e.inner.field = Some(field.to_owned());
        }
        e
    }

    fn failure_field(&self) -> Option<&'static str> {
        match self.inner.failure.as_deref() {
            Some(Failure::TargetNotAllowed { .. }) => Some("to"),
            _ => None,
        }
    }

    /// The step of the upgrade this error happened in (kept when one is set already).
    pub(crate) fn with_step(mut self, step: Step) -> Self {
        self.inner.step.get_or_insert(step);
        self
    }

    pub(crate) fn with_last_task_state(mut self, task: UpgradeTask) -> Self {
        self.inner.last_state = Some(LastState::Task(Box::new(task)));
        self
    }

    pub(crate) fn with_last_pre_check(mut self, task: PreCheckTask) -> Self {
        self.inner.last_state = Some(LastState::PreCheck(Box::new(task)));
        self
    }

    /// This error (a `404`) as [`ErrorKind::NotFound`]: `message` first, then what it said; the
    /// service's answer (status, code, request id), the operation and the attempts are kept.
    pub(crate) fn into_not_found(mut self, message: String) -> Self {
        self.inner.kind = ErrorKind::NotFound;
        self.inner.message = format!("{message}: {}", self.inner.message);
        self
    }

    pub(crate) fn wait_timed_out(message: String) -> Self {
        Error::new(ErrorKind::WaitTimedOut, message)
    }

    pub(crate) fn with_last_task(mut self, task: Option<UpgradeTask>) -> Self {
        if let Some(task) = task {
            self.inner.last_state = Some(LastState::Task(Box::new(task)));
        }
        self
    }

    pub(crate) fn with_last_workflow(mut self, workflow: Option<UpgradeWorkFlow>) -> Self {
        if let Some(workflow) = workflow {
            self.inner.last_state = Some(LastState::WorkFlow(Box::new(workflow)));
        }
        self
    }

    pub(crate) fn with_operation(mut self, operation: &'static str) -> Self {
        self.inner.operation.get_or_insert(operation);
        self
    }

    pub(crate) fn with_attempts(mut self, attempts: u32) -> Self {
        self.inner.attempts = attempts;
        self
    }

    /// A copy to hand to each caller that shared one attempt (the project id lookup): the same
    /// kind, message, service error and attempts; the cause is kept as its text.
    pub(crate) fn duplicate(&self) -> Error {
        let i = &self.inner;
        Error {
            inner: Box::new(Inner {
                kind: i.kind,
                operation: i.operation,
                message: i.message.clone(),
                field: i.field.clone(),
                service: i.service.clone(),
                attempts: i.attempts,
                last_state: None,
                step: None,
                failure: None,
                source: i.source.as_ref().map(|s| {
                    let mut text = s.to_string();
                    let mut next = s.source();
                    while let Some(cause) = next {
                        text.push_str(&format!(": {cause}"));
                        next = cause.source();
                    }
                    Box::new(RedactedCause(text)) as BoxError
                }),
            }),
        }
    }

    /// What went wrong, broadly.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// The operation that failed (its `operationId`, e.g. `CreateUpgradeWorkFlow`), if any.
    pub fn operation(&self) -> Option<&'static str> {
        self.inner.operation
    }

    /// What the service answered, when it answered (also for undecodable answers).
    pub fn service_error(&self) -> Option<&ServiceError> {
        self.inner.service.as_ref()
    }

    /// The HTTP status of the answer, when there was one.
    pub fn status(&self) -> Option<StatusCode> {
        self.inner.service.as_ref().map(ServiceError::status)
    }

    /// The `X-Request-Id` of the answer, when there was one.
    pub fn request_id(&self) -> Option<&str> {
        self.inner
            .service
            .as_ref()
            .and_then(ServiceError::request_id)
    }

    /// For [`ErrorKind::InvalidInput`]: the field that failed, e.g. `spec.maxUnavailable`.
    pub fn field(&self) -> Option<&str> {
        self.inner.field.as_deref()
    }

    /// How many times the request was sent (0 when it never was).
    pub fn attempts(&self) -> u32 {
        self.inner.attempts
    }

    /// The last state of the upgrade task a waiter followed, for [`ErrorKind::UpgradeFailed`] and
    /// [`ErrorKind::WaitTimedOut`].
    pub fn last_task(&self) -> Option<&UpgradeTask> {
        match &self.inner.last_state {
            Some(LastState::Task(t)) => Some(t),
            _ => None,
        }
    }

    /// The last state of the workflow a waiter followed.
    pub fn last_workflow(&self) -> Option<&UpgradeWorkFlow> {
        match &self.inner.last_state {
            Some(LastState::WorkFlow(w)) => Some(w),
            _ => None,
        }
    }

    /// The last state of the pre-check an upgrade ran, when the pre-check stopped it: its
    /// findings are in `status`.
    pub fn last_pre_check(&self) -> Option<&PreCheckTask> {
        match &self.inner.last_state {
            Some(LastState::PreCheck(t)) => Some(t),
            _ => None,
        }
    }

    /// For errors of the upgrade driver ([`Client::upgrade`](crate::Client::upgrade)): the step
    /// it stopped in. Always set for the driver's errors, also for a call that failed.
    pub fn step(&self) -> Option<&Step> {
        self.inner.step.as_ref()
    }

    /// For errors of the upgrade driver: what stopped it, typed (a failed pre-check with its
    /// findings, a failed or paused task, a blocked cluster, ...). `None` when a call failed
    /// (see [`Error::kind`], [`Error::request_id`]).
    pub fn upgrade_failure(&self) -> Option<&Failure> {
        self.inner.failure.as_deref()
    }

    /// Whether the request may have been acted on although no answer came back.
    pub fn is_outcome_unknown(&self) -> bool {
        self.inner.kind == ErrorKind::OutcomeUnknown
    }

    /// Whether trying again later could help (throttling, timeouts, 5xx, connection trouble).
    pub fn is_transient(&self) -> bool {
        match self.inner.kind {
            ErrorKind::Throttled | ErrorKind::TimedOut | ErrorKind::Connect => true,
            ErrorKind::Service => self.status().is_some_and(|s| s.is_server_error()),
            _ => false,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(op) = self.inner.operation {
            write!(f, "{op}: ")?;
        }
        f.write_str(&self.inner.message)?;
        if self.inner.attempts > 1 {
            write!(f, " (after {} attempts)", self.inner.attempts)?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.inner.kind)
            .field("operation", &self.inner.operation)
            .field("message", &self.inner.message);
        if let Some(field) = &self.inner.field {
            d.field("field", field);
        }
        if let Some(service) = &self.inner.service {
            d.field("service", service);
        }
        if self.inner.attempts > 0 {
            d.field("attempts", &self.inner.attempts);
        }
        if let Some(step) = &self.inner.step {
            d.field("step", step);
        }
        if let Some(failure) = &self.inner.failure {
            d.field("failure", failure);
        }
        if let Some(source) = &self.inner.source {
            d.field("source", &source.to_string());
        }
        d.finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner
            .source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_every_error_body_shape() {
        let cases = [
            (
                r#"{"error_code":"CCE.01400001","error_msg":"bad"}"#,
                Some("CCE.01400001"),
                Some("bad"),
            ),
            (
                r#"{"errorCode":"CCE.02","errorMsg":"worse"}"#,
                Some("CCE.02"),
                Some("worse"),
            ),
            (
                r#"{"code":"APIGW.0308","message":"throttled"}"#,
                Some("APIGW.0308"),
                Some("throttled"),
            ),
            (
                r#"{"error":{"code":"IAM.0001","message":"nested"}}"#,
                Some("IAM.0001"),
                Some("nested"),
            ),
            (
                r#"{"code":400,"errorCode":"CCE.03","errorMessage":"mixed"}"#,
                Some("CCE.03"),
                Some("mixed"),
            ),
            ("<html><body>502 Bad Gateway</body></html>", None, None),
            ("", None, None),
        ];
        for (body, code, msg) in cases {
            let (c, m, _) = decode_error_body(body.as_bytes());
            assert_eq!((c.as_deref(), m.as_deref()), (code, msg), "{body}");
        }
    }

    #[test]
    fn html_502_keeps_status_and_request_id() {
        let body = Bytes::from_static(b"<html><head><title>502 Bad Gateway</title></head></html>");
        let e = Error::service(
            ServiceError::from_parts(StatusCode::BAD_GATEWAY, Some("abc123".into()), body),
            &[],
        );
        assert_eq!(e.kind(), ErrorKind::Service);
        assert_eq!(e.status(), Some(StatusCode::BAD_GATEWAY));
        assert_eq!(e.request_id(), Some("abc123"));
        let line = e.to_string();
        assert!(
            line.contains("502") && line.contains("abc123") && line.contains("Bad Gateway"),
            "{line}"
        );
        assert!(!line.contains('\n'));
    }

    #[test]
    fn auth_errors_hint_at_the_clock_when_expired_and_redact_tokens() {
        let body = br#"{"error_code":"APIGW.0301","error_msg":"Incorrect IAM authentication information: signature expired, canonicalRequest: GET\n/\n\nx-security-token:TOKENVALUE123\n"}"#;
        let e = Error::service(
            ServiceError::from_parts(StatusCode::UNAUTHORIZED, None, Bytes::from_static(body)),
            &["TOKENVALUE123"],
        );
        assert_eq!(e.kind(), ErrorKind::Authentication);
        assert!(e.to_string().contains("clock"), "{e}");
        assert!(!format!("{e} {e:?}").contains("TOKENVALUE123"));
        assert!(
            !String::from_utf8_lossy(e.service_error().unwrap().body()).contains("TOKENVALUE123")
        );
    }

    #[test]
    fn redaction_covers_echoed_security_token_lines() {
        let text = "canonicalRequest: GET\nx-security-token:abcdef\nx-sdk-date:1";
        let clean = redact_text(text, &[]);
        assert_eq!(
            clean,
            "canonicalRequest: GET\nx-security-token:** redacted **\nx-sdk-date:1"
        );
    }

    /// Everything an error shows or hands out, for the leak checks.
    fn everything(e: &Error) -> String {
        let mut all = format!("{e}\n{e:?}\n{e:#?}\n");
        if let Some(s) = e.service_error() {
            all.push_str(&format!(
                "{:?} {:?} {:?} {:?} {}\n",
                s.error_code(),
                s.error_msg(),
                s.request_id(),
                s.location(),
                String::from_utf8_lossy(s.body())
            ));
        }
        let mut source = std::error::Error::source(e);
        while let Some(cause) = source {
            all.push_str(&format!("{cause} {cause:?}\n"));
            source = cause.source();
        }
        all
    }

    #[test]
    fn a_secret_the_server_echoes_is_never_shown() {
        let password = "Node-Pa55word!";
        let token = "tok3n";
        // A body that repeats the request in every field, the password straddling the 4 KiB cut.
        let pad = "x".repeat(MAX_ERROR_SNIPPET - 5);
        let body = format!(
            r#"{{"error_code":"{password}","error_msg":"bad body: {{\"userPassword\":\"{password}\"}} {token}","request_id":"{password}","pad":"{pad}{password}{password}"}}"#
        );
        let e = Error::service(
            ServiceError::from_parts(StatusCode::BAD_REQUEST, None, Bytes::from(body.clone())),
            &["", password, token],
        );
        let all = everything(&e);
        assert!(!all.contains(password), "{all}");
        assert!(!all.contains("Pa55"), "no part of it either: {all}");
        assert!(!all.contains(token), "short secrets too: {all}");
        assert!(all.contains("** redacted **"));
        // The empty "secret" redacts nothing.
        assert!(e.to_string().contains("bad body"), "{e}");
        assert!(e.service_error().unwrap().body().len() <= MAX_ERROR_SNIPPET + 3 + 64);

        // A decode error: the body snippet and the cause (serde echoes the value) are redacted.
        let cause = serde_json::from_str::<u32>(&format!("\"{password}\"")).unwrap_err();
        assert!(
            cause.to_string().contains(password),
            "the cause does echo it"
        );
        let e = Error::decode(
            StatusCode::OK,
            Some(format!("id-{password}")),
            body.as_bytes(),
            cause,
            &[password],
        );
        let all = everything(&e);
        assert!(!all.contains(password), "{all}");
        assert!(
            std::error::Error::source(&e).is_some(),
            "the cause is kept, redacted"
        );
    }

    #[test]
    fn errors_keep_only_bounded_snippets() {
        let huge_msg = "m".repeat(1 << 20);
        let body = format!(
            r#"{{"error_code":"{}","error_msg":"{huge_msg}"}}"#,
            "C".repeat(1 << 16)
        );
        let id = "r".repeat(64 * 1024);
        let e = Error::service(
            ServiceError::from_parts(StatusCode::BAD_REQUEST, Some(id), Bytes::from(body)),
            &[],
        );
        let s = e.service_error().unwrap();
        assert!(s.request_id().unwrap().len() <= MAX_ERROR_HEADER + 3);
        assert!(s.error_code().unwrap().len() <= MAX_ERROR_HEADER + 3);
        assert!(s.error_msg().unwrap().len() <= MAX_ERROR_SNIPPET + 3);
        assert!(s.body().len() <= MAX_ERROR_SNIPPET + 3);
        assert!(
            e.to_string().len() < 2 * MAX_ERROR_SNIPPET,
            "{}",
            e.to_string().len()
        );
        assert!(format!("{e:?}").len() < 4 * MAX_ERROR_SNIPPET);
        let e = Error::decode(
            StatusCode::OK,
            Some("r".repeat(64 * 1024)),
            "b".repeat(1 << 20).as_bytes(),
            "bad",
            &[],
        );
        assert!(e.request_id().unwrap().len() <= MAX_ERROR_HEADER + 3);
        assert!(e.service_error().unwrap().body().len() <= MAX_ERROR_SNIPPET + 3);
        assert!(e.to_string().len() < 2 * MAX_ERROR_SNIPPET);
    }

    #[test]
    fn the_cut_never_leaves_part_of_a_secret() {
        let clean = Redactor::new(&["abcdef", "cdefgh"]);
        for at in 0..12 {
            let text = format!("{}abcdefgh-tail", "-".repeat(at));
            for max in 0..text.len() + 2 {
                let out = clean.bounded(&text, max);
                for part in ["abc", "def", "efgh", "cdef"] {
                    assert!(!out.contains(part), "{max} {text:?} -> {out:?}");
                }
            }
        }
        // Multi-byte text is cut on a char boundary.
        assert_eq!(Redactor::new(&[]).bounded("ééé", 3), "é…");
    }
}
