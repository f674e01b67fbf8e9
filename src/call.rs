//! The one call path every operation takes.
//!
//! `build.rs` emits, for each operation of the spec, a method on [`Client`] and an
//! [`Operation`]: its id, HTTP method, path template, the checks of its path parameters and
//! body, and what its answer is. The method hands that description and its arguments to
//! [`Client::execute`], which checks the input, fills in the project id, builds, signs and sends
//! the request (retrying as the method allows), and [`Answer`] decodes what came back. Nothing
//! here is about one operation.

use std::time::Instant;

use bytes::Bytes;
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap, HeaderValue};
use serde::de::DeserializeOwned;
use tracing::Instrument;

use crate::checks::{self, Check, Rule};
use crate::client::Client;
use crate::credentials::Credentials;
use crate::error::{Error, ServiceError};
use crate::response::Response;
use crate::retry;
use crate::transport::bounded;

/// One operation of the spec, as `build.rs` describes it.
#[derive(Debug)]
pub(crate) struct Operation<'a> {
    /// The spec's `operationId`.
    pub(crate) id: &'static str,
    pub(crate) method: reqwest::Method,
    /// The path template, with `{project_id}` and the other path parameters in braces.
    pub(crate) path: &'a str,
    /// The path parameters other than `project_id`, in path order, with their checks.
    pub(crate) params: &'static [(&'static str, &'static [Check])],
    /// The query parameters that have checks (an `enum`, ...), with them.
    pub(crate) query: &'static [(&'static str, &'static [Check])],
    /// The checks of the request body, when it has one.
    pub(crate) body: Option<&'static [Rule]>,
    /// The operation's own server (the spec's operation-level `servers`), when it is not the
    /// CCE endpoint: `https://iam.{region}.myhuaweicloud.com` is the client's IAM endpoint.
    pub(crate) server: Option<&'static str>,
}

/// What the caller passes: path parameter values (in `Operation::params` order), query pairs,
/// and the body as JSON.
pub(crate) struct Input<'a> {
    pub(crate) params: &'a [&'a str],
    pub(crate) query: Vec<(&'a str, String)>,
    pub(crate) body: Option<Result<serde_json::Value, serde_json::Error>>,
}

/// A successful (2xx) answer, not yet decoded.
pub(crate) struct Answer<'a> {
    operation: &'static str,
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
    attempts: u32,
    /// The request's secrets (node passwords), redacted from any error with the credentials'.
    secrets: Vec<String>,
    credentials: &'a Credentials,
}

impl Client {
    /// Checks the input, sends the request and returns a 2xx answer; any other outcome is an
    /// [`Error`] naming the operation.
    pub(crate) async fn execute(
        &self,
        op: &Operation<'_>,
        input: Input<'_>,
    ) -> Result<Answer<'_>, Error> {
        let Prepared {
            path: url_path,
            body,
            secrets,
        } = prepare(op, &input).map_err(|e| e.with_operation(op.id))?;
        let shared = self.shared();
        let endpoint = shared
            .endpoint_of(op.server)
            .map_err(|e| e.with_operation(op.id))?;
        // An operation of another service (IAM) is not in a project; the project id lookup
        // is one of them.
        let path = if op.server.is_some() {
            url_path
        } else {
            let project_id = self
                .project_id()
                .await
                .map_err(|e| e.with_operation(op.id))?;
            url_path.replace("{project_id}", &encode_segment(project_id))
        };
        let mut url = reqwest::Url::parse(&format!("{endpoint}{path}"))
            .map_err(|e| Error::configuration(format!("bad endpoint {endpoint}: {e}")))
            .map_err(|e| e.with_operation(op.id))?;
        if !input.query.is_empty() {
            url.query_pairs_mut().extend_pairs(&input.query);
        }
        let mut request = reqwest::Request::new(op.method.clone(), url);
        if let Some(body) = body {
            request.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            *request.body_mut() = Some(body.into());
        }
        shared.prepare(&mut request);
        shared
            .authorize(&mut request, op.id, 1)
            .map_err(|e| Error::configuration(format!("cannot sign the request: {e}")))
            .map_err(|e| e.with_operation(op.id))?;

        let write = retry::is_write(request.method());
        let span = tracing::info_span!(
            "cce_upgrade",
            operation = op.id,
            attempts = tracing::field::Empty,
            status = tracing::field::Empty,
            request_id = tracing::field::Empty,
            latency_ms = tracing::field::Empty,
        );
        let started = Instant::now();
        let sent = shared.send(request, op.id).instrument(span.clone()).await;
        span.record("latency_ms", started.elapsed().as_millis() as u64);
        let result = match sent {
            Err(e) => {
                let attempts = e.attempts();
                span.record("attempts", attempts);
                Err(shared.send_error(e, write).with_attempts(attempts))
            }
            Ok(answer) => {
                span.record("attempts", answer.attempts);
                span.record("status", answer.status.as_u16());
                if let Some(id) = answer
                    .headers
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                {
                    // A server may send any length: the log keeps a bounded piece.
                    span.record("request_id", bounded(id));
                }
                if answer.status.is_success() {
                    Ok(Answer {
                        operation: op.id,
                        status: answer.status,
                        headers: answer.headers,
                        body: answer.body,
                        attempts: answer.attempts,
                        secrets,
                        credentials: &shared.credentials,
                    })
                } else {
                    // Any other status, a 3xx included: redirects are never followed.
                    let mut all_secrets = shared.credentials.secrets();
                    all_secrets.extend(secrets.iter().map(String::as_str));
                    let attempts = answer.attempts;
                    let request_id = answer.request_id();
                    let service = ServiceError::from_parts(answer.status, request_id, answer.body)
                        .with_location(answer.location);
                    let e = Error::service(service, &all_secrets).with_attempts(attempts);
                    if retry::outcome_unknown_status(answer.status, write) {
                        Err(e.into_outcome_unknown())
                    } else {
                        Err(e)
                    }
                }
            }
        };
        match result {
            Ok(answer) => {
                span.in_scope(|| tracing::info!(status = answer.status.as_u16(), "done"));
                Ok(answer)
            }
            Err(e) => {
                let e = e.with_operation(op.id);
                span.in_scope(|| tracing::warn!(error = %e, "failed"));
                Err(e)
            }
        }
    }
}

/// The id a raw call's errors and log lines carry.
const RAW: &str = "raw call";

impl Client {
    /// Calls an operation the spec does not have yet, through the same call path as every
    /// generated method: the project id is filled in, the request is signed, sent with the
    /// client's timeouts, retries (a write is never sent twice), answer size cap and redaction
    /// of secrets from errors.
    ///
    /// `path` is the path template, e.g. `/api/v3/projects/{project_id}/clusters`: `{project_id}`
    /// is replaced by the client's project id, and the rest is sent as given (percent-encode an
    /// id yourself). The answer is the JSON body; an empty body is `Value::Null`. Any 2xx is
    /// success; anything else is an [`Error`] with the service's status, code and request id.
    ///
    /// ```no_run
    /// # async fn run(client: &cce_upgrade::Client) -> Result<(), cce_upgrade::Error> {
    /// let clusters = client
    ///     .call_raw(
    ///         cce_upgrade::Method::GET,
    ///         "/api/v3/projects/{project_id}/clusters",
    ///         &[("detail", "true")],
    ///         None,
    ///     )
    ///     .await?;
    /// println!("{}", clusters.into_inner());
    /// # Ok(()) }
    /// ```
    pub async fn call_raw(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&serde_json::Value>,
    ) -> Result<Response<serde_json::Value>, Error> {
        check_raw_path(path).map_err(|e| e.with_operation(RAW))?;
        let op = Operation {
            id: RAW,
            method,
            path,
            params: &[],
            query: &[],
            body: None,
            server: None,
        };
        let input = Input {
            params: &[],
            query: query.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
            body: body.map(|b| Ok(b.clone())),
        };
        self.execute(&op, input).await?.json_or_null()
    }
}

/// A raw call's path: absolute, without query or fragment, with no placeholder but
/// `{project_id}`.
fn check_raw_path(path: &str) -> Result<(), Error> {
    let fix = "give an absolute path such as `/api/v3/projects/{project_id}/clusters`";
    if !path.starts_with('/') {
        return Err(Error::invalid_input(
            "path",
            format!("does not start with `/`: {fix}"),
        ));
    }
    if let Some(c) = path
        .chars()
        .find(|c| matches!(c, '?' | '#') || c.is_whitespace() || c.is_control())
    {
        return Err(Error::invalid_input(
            "path",
            format!("holds {c:?}: pass the query as pairs, and percent-encode the rest"),
        ));
    }
    let rest = path.replace("{project_id}", "");
    if rest.contains(['{', '}']) {
        return Err(Error::invalid_input(
            "path",
            "has a placeholder other than `{project_id}`: fill it in (percent-encoded)",
        ));
    }
    Ok(())
}

/// A request checked and ready to be built: the path with its parameters filled in (but for the
/// project id), the body to send and the secrets it carries.
struct Prepared {
    path: String,
    body: Option<Vec<u8>>,
    secrets: Vec<String>,
}

/// Checks the path parameters and the body.
fn prepare(op: &Operation<'_>, input: &Input<'_>) -> Result<Prepared, Error> {
    debug_assert_eq!(op.params.len(), input.params.len());
    let mut path = op.path.to_owned();
    let mut named = Vec::with_capacity(op.params.len());
    for ((name, checks), value) in op.params.iter().zip(input.params) {
        checks::check_param(name, checks, value)?;
        path = path.replace(&format!("{{{name}}}"), &encode_segment(value));
        named.push((*name, *value));
    }
    for (name, value) in &input.query {
        if let Some((name, checks)) = op.query.iter().find(|(n, _)| n == name) {
            checks::check_query(name, checks, value)?;
        }
    }
    let (body, secrets) = match (&input.body, op.body) {
        (Some(Ok(json)), rules) => {
            let mut json = json.clone();
            let secrets = match rules {
                Some(rules) => checks::check_body(rules, &mut json, &named)?,
                None => Vec::new(),
            };
            let bytes = serde_json::to_vec(&json)
                .map_err(|e| Error::invalid_input("body", format!("cannot be serialized: {e}")))?;
            (Some(bytes), secrets)
        }
        (Some(Err(e)), _) => {
            return Err(Error::invalid_input(
                "body",
                format!("cannot be serialized: {e}"),
            ));
        }
        (None, _) => (None, Vec::new()),
    };
    Ok(Prepared {
        path,
        body,
        secrets,
    })
}

/// Percent-encodes one path segment: everything but the unreserved characters, so an id can
/// never become another path (`\` is `%5C`, `?` is `%3F`).
pub(crate) fn encode_segment(value: &str) -> String {
    const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(value, SEGMENT).to_string()
}

impl Answer<'_> {
    fn decode_error(&self, cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Error {
        let request_id = self
            .headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut secrets = self.credentials.secrets();
        secrets.extend(self.secrets.iter().map(String::as_str));
        Error::decode(self.status, request_id, &self.body, cause, &secrets)
            .with_operation(self.operation)
            .with_attempts(self.attempts)
    }

    fn log_failure(&self, e: &Error) {
        tracing::warn!(operation = self.operation, error = %e, "failed");
    }

    fn finish<T>(self, value: T) -> Response<T> {
        Response::new(value, self.status, self.headers, self.attempts)
    }

    fn is_empty(&self) -> bool {
        self.body.iter().all(u8::is_ascii_whitespace)
    }

    /// A JSON answer of the documented schema; an empty body is an error.
    pub(crate) fn json<T: DeserializeOwned>(self) -> Result<Response<T>, Error> {
        if self.is_empty() {
            let e = self.decode_error(
                "the answer is empty, but the API documents a JSON body for this operation",
            );
            self.log_failure(&e);
            return Err(e);
        }
        self.decode(|body| serde_json::from_slice(body))
    }

    /// A JSON answer that may also come empty (`x-empty-body`): empty reads as `{}`.
    pub(crate) fn json_or_empty<T: DeserializeOwned>(self) -> Result<Response<T>, Error> {
        if self.is_empty() {
            return self.decode(|_| serde_json::from_slice(b"{}"));
        }
        self.decode(|body| serde_json::from_slice(body))
    }

    /// Any JSON answer, as it came; an empty body is `null`.
    pub(crate) fn json_or_null(self) -> Result<Response<serde_json::Value>, Error> {
        if self.is_empty() {
            return Ok(self.finish(serde_json::Value::Null));
        }
        self.decode(|body| serde_json::from_slice(body))
    }

    /// A plain-text answer.
    pub(crate) fn text(self) -> Result<Response<String>, Error> {
        self.decode(|body| {
            std::str::from_utf8(body)
                .map(str::to_owned)
                .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)
        })
    }

    /// An answer documented without a body: whatever came is ignored.
    pub(crate) fn empty(self) -> Result<Response<()>, Error> {
        Ok(self.finish(()))
    }

    fn decode<T, E>(self, f: impl FnOnce(&[u8]) -> Result<T, E>) -> Result<Response<T>, Error>
    where
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        match f(&self.body) {
            Ok(value) => Ok(self.finish(value)),
            Err(cause) => {
                let e = self.decode_error(cause);
                self.log_failure(&e);
                Err(e)
            }
        }
    }
}
