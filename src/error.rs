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
//! ([`Client::list_autopilot_upgrade_work_flows`](crate::Client::list_autopilot_upgrade_work_flows))
//! or look at the cluster's version — before deciding to send it again.

use std::fmt;

use bytes::Bytes;
use reqwest::StatusCode;

use crate::types::{UpgradeTask, UpgradeWorkFlow};

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
    /// A write was sent but its answer was lost (connection dropped, timed out): it may have been
    /// acted on. It is not re-sent; reconcile by reading the state back.
    OutcomeUnknown,
    /// An argument failed a documented constraint; nothing was sent (see [`Error::field`]).
    InvalidInput,
    /// The service answered, but the body could not be read as the documented type.
    Decode,
    /// The client is not configured to make the call: no credentials, unknown region, ...
    Configuration,
    /// An upgrade task or workflow being waited on ended in failure (`Failed`, `Cancel`,
    /// `Pending`); [`Error::last_task`] or [`Error::last_workflow`] has its last state.
    UpgradeFailed,
    /// A waiter's deadline passed before the task or workflow ended; the last state is kept.
    WaitTimedOut,
    /// What a waiter follows is not there: the service's list has no workflow with that id.
    NotFound,
}

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
    source: Option<BoxError>,
}

enum LastState {
    Task(Box<UpgradeTask>),
    WorkFlow(Box<UpgradeWorkFlow>),
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

    /// The raw body, as received.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    fn redact(&mut self, secrets: &[&str]) {
        if let Some(msg) = &mut self.error_msg {
            *msg = redact_text(msg, secrets);
        }
        let text = String::from_utf8_lossy(&self.body);
        let clean = redact_text(&text, secrets);
        if clean != text {
            self.body = Bytes::from(clean);
        }
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

/// Replaces every secret, and any `x-security-token:` line a gateway echoes back, with a marker.
pub(crate) fn redact_text(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_owned();
    for secret in secrets.iter().filter(|s| s.len() >= 4) {
        if out.contains(secret) {
            out = out.replace(secret, "** redacted **");
        }
    }
    if let Some(at) = out.to_ascii_lowercase().find("x-security-token:") {
        let start = at + "x-security-token:".len();
        let end = out[start..]
            .find(['\n', '\\', '"'])
            .map_or(out.len(), |e| start + e);
        out.replace_range(start..end, "** redacted **");
    }
    out
}

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

    pub(crate) fn configuration(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Configuration, message)
    }

    pub(crate) fn service(mut service: ServiceError, secrets: &[&str]) -> Self {
        service.redact(secrets);
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

    pub(crate) fn decode(
        status: StatusCode,
        request_id: Option<String>,
        body: &[u8],
        cause: impl Into<BoxError>,
    ) -> Self {
        let cause = cause.into();
        let id = request_id
            .as_deref()
            .map(|id| format!(", request id {id}"))
            .unwrap_or_default();
        let mut e = Error::new(
            ErrorKind::Decode,
            format!(
                "could not decode the HTTP {status} response ({cause}{id}); body: `{}`",
                snippet(body)
            ),
        );
        e.inner.service = Some(ServiceError {
            status,
            error_code: None,
            error_msg: None,
            request_id,
            location: None,
            body: Bytes::copy_from_slice(body),
        });
        e.inner.source = Some(cause);
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

    pub(crate) fn not_found(message: String) -> Self {
        Error::new(ErrorKind::NotFound, message)
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
}
