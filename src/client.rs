//! The client: configuration, the project id, and sending a request.
//!
//! The operations themselves are generated from the spec (`build.rs`) and run through
//! `src/call.rs`, which builds each request and hands it here:
//! - [`Shared::prepare`] sets `User-Agent`, `X-Project-Id` and the per-attempt timeout;
//! - [`Shared::authorize`] signs the fully built request (or sets `X-Auth-Token` for token
//!   credentials);
//! - [`Shared::send`] sends it, retrying as [`RetryConfig`] allows and signing every retry
//!   afresh, and buffers the answer so that nothing of it (status, request id, raw body) is lost
//!   when it cannot be decoded.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use tracing::Instrument;

use crate::credentials::{self, CredentialSource, Credentials, Env};
use crate::error::{Error, ErrorKind, ResponseTooLarge, ServiceError};
use crate::interceptor::{AfterAttempt, BeforeSigning, Interceptor};
use crate::region::{Region, check_endpoint};
use crate::retry::{self, RetryConfig};
use crate::signing::{self, KeyedSigningParams, SigningKey};

/// The default time to establish a connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The default time one attempt may take, from sending to the end of the answer.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// The default largest answer body read: 10 MiB, far above the largest documented answer (a
/// workflow list).
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 10 * 1024 * 1024;

const USER_AGENT: &str = concat!("cce-upgrade-rust/", env!("CARGO_PKG_VERSION"));
const X_PROJECT_ID: HeaderName = HeaderName::from_static("x-project-id");
const X_AUTH_TOKEN: HeaderName = HeaderName::from_static("x-auth-token");
const X_SDK_DATE: HeaderName = HeaderName::from_static("x-sdk-date");
const X_SECURITY_TOKEN: HeaderName = HeaderName::from_static("x-security-token");
const X_REQUEST_ID: &str = "x-request-id";

/// An answer read whole: what [`Shared::send`] returns for any status.
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

/// Why [`Shared::send`] has no answer to give.
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

/// A client for the CCE cluster-upgrade APIs. Cheap to clone; clones share connections and the
/// looked-up project id.
///
/// ```no_run
/// # async fn run() -> Result<(), cce_upgrade::Error> {
/// use cce_upgrade::{Client, types::CreateUpgradeWorkFlowRequestBody};
///
/// let client = Client::builder().region("cn-north-4").build()?; // credentials from the environment
/// let workflow = client
///     .create_upgrade_work_flow("my-cluster-id", &CreateUpgradeWorkFlowRequestBody::new("v1.29"))
///     .await?;
/// println!("workflow {:?} (request id {:?})", workflow.uid(), workflow.request_id());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
}

/// What clones of a client share: configuration, connections, the project id.
pub(crate) struct Shared {
    pub(crate) credentials: Credentials,
    /// The HMAC key of the SK, computed once (AK/SK credentials only).
    signing_key: Option<SigningKey>,
    credential_source: CredentialSource,
    region: Option<Region>,
    pub(crate) endpoint: String,
    iam_endpoint: Option<String>,
    project_id: tokio::sync::OnceCell<String>,
    /// One IAM lookup at a time; the last failure, for the callers that waited on it.
    lookup: tokio::sync::Mutex<Option<Error>>,
    /// How many lookups have ended, so a waiter can tell that one ended while it waited.
    lookups_ended: std::sync::atomic::AtomicU64,
    retry: RetryConfig,
    request_timeout: Duration,
    max_response_bytes: u64,
    http: reqwest::Client,
    /// What the application registered, run on every attempt.
    interceptors: Vec<Arc<dyn Interceptor>>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.shared;
        f.debug_struct("Client")
            .field("endpoint", &redact_userinfo(&s.endpoint))
            .field(
                "iam_endpoint",
                &s.iam_endpoint.as_deref().map(redact_userinfo),
            )
            .field("region", &s.region.as_ref().map(Region::as_str))
            .field("project_id", &s.project_id.get())
            .field("credentials", &s.credentials)
            .field("credential_source", &s.credential_source)
            .field("retry", &s.retry)
            .field("request_timeout", &s.request_timeout)
            .field("max_response_bytes", &s.max_response_bytes)
            .finish()
    }
}

impl Shared {
    /// Headers every request carries, and the per-attempt timeout.
    pub(crate) fn prepare(&self, request: &mut reqwest::Request) {
        let headers = request.headers_mut();
        headers.insert(header::USER_AGENT, HeaderValue::from_static(USER_AGENT));
        // The official SDKs send it on every request, also without a body.
        if !headers.contains_key(header::CONTENT_TYPE) {
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
        }
        if let Some(value) = self
            .project_id
            .get()
            .and_then(|id| HeaderValue::from_str(id).ok())
        {
            headers.insert(X_PROJECT_ID, value);
        }
        *request.timeout_mut() = Some(self.request_timeout);
    }

    /// Signs attempt `attempt` of the request as it is now, at the current time (or sets the IAM
    /// token), after the interceptors have seen it.
    pub(crate) fn authorize(
        &self,
        request: &mut reqwest::Request,
        operation: &'static str,
        attempt: u32,
    ) -> Result<(), signing::SigningError> {
        for name in [
            header::AUTHORIZATION,
            X_SDK_DATE,
            X_SECURITY_TOKEN,
            X_AUTH_TOKEN,
        ] {
            request.headers_mut().remove(name);
        }
        if !self.interceptors.is_empty() {
            let url = request.url().as_str().to_owned();
            let method = request.method().clone();
            let mut before = BeforeSigning {
                operation,
                attempt,
                method: &method,
                url: &url,
                headers: request.headers_mut(),
            };
            for interceptor in &self.interceptors {
                interceptor.before_signing(&mut before);
            }
        }
        match (self.credentials.signing_parts(), &self.signing_key) {
            (Ok((access_key, secret_key, security_token)), signing_key) => {
                // No kept key: the SK is empty, and making one says so.
                let made;
                let signing_key = match signing_key {
                    Some(signing_key) => signing_key,
                    None => {
                        made = SigningKey::new(secret_key)?;
                        &made
                    }
                };
                signing::sign_reqwest(
                    request,
                    &KeyedSigningParams {
                        access_key,
                        signing_key,
                        security_token,
                        time: SystemTime::now(),
                    },
                )
            }
            (Err(token), _) => {
                // A token that is not a valid header value cannot be sent; the gateway answers 401.
                let mut value =
                    HeaderValue::from_str(token).unwrap_or(HeaderValue::from_static(""));
                value.set_sensitive(true);
                request.headers_mut().insert(X_AUTH_TOKEN, value);
                Ok(())
            }
        }
    }

    /// Sends a prepared, signed request; retries as configured; returns the buffered answer.
    pub(crate) async fn send(
        &self,
        request: reqwest::Request,
        operation: &'static str,
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
                        let _ = self.authorize(&mut copy, operation, attempt);
                    }
                    copy
                }
                None => original.take().expect("present"),
            };
            let can_retry = original.is_some() && attempt < self.retry.attempts();
            let method = request.method().clone();
            let url = (!self.interceptors.is_empty()).then(|| request.url().as_str().to_owned());
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
                    tracing::debug!(operation, attempt, latency_ms, never_sent, error = %e, "no answer");
                    (can_retry && (never_sent || !write))
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
                tokio::time::sleep(wait).await;
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
        if e.is_connect() {
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

    /// The project id: configured, or looked up in IAM once. Concurrent callers share one lookup
    /// and its outcome, success or failure; a call after a failed lookup tries again.
    async fn project_id(&self) -> Result<&str, Error> {
        use std::sync::atomic::Ordering;
        if let Some(id) = self.project_id.get() {
            return Ok(id);
        }
        let seen = self.lookups_ended.load(Ordering::SeqCst);
        let mut last_failure = self.lookup.lock().await;
        if let Some(id) = self.project_id.get() {
            return Ok(id);
        }
        if let Some(e) = last_failure
            .as_ref()
            .filter(|_| self.lookups_ended.load(Ordering::SeqCst) != seen)
        {
            return Err(e.duplicate());
        }
        // If this future is dropped mid-lookup, the lock is released and the next waiter looks up.
        let result = self.lookup_project_id().await;
        self.lookups_ended.fetch_add(1, Ordering::SeqCst);
        match result {
            Ok(id) => {
                *last_failure = None;
                Ok(self.project_id.get_or_init(|| async { id }).await)
            }
            Err(e) => {
                *last_failure = Some(e.duplicate());
                Err(e)
            }
        }
    }

    /// Looks the project id up in IAM: `GET /v3/projects?name={region}`, signed the same way.
    async fn lookup_project_id(&self) -> Result<String, Error> {
        let (Some(region), Some(iam)) = (&self.region, &self.iam_endpoint) else {
            return Err(Error::configuration(
                "no project id: set it with Client::builder().project_id(..) or \
                 HUAWEICLOUD_SDK_PROJECT_ID, or set a region so it can be looked up in IAM",
            ));
        };
        const OPERATION: &str = "KeystoneListProjects";
        let url = reqwest::Url::parse_with_params(
            &format!("{iam}/v3/projects"),
            [("name", region.as_str())],
        )
        .map_err(|e| Error::configuration(format!("bad IAM endpoint {iam}: {e}")))?;
        let mut request = reqwest::Request::new(reqwest::Method::GET, url);
        self.prepare(&mut request);
        self.authorize(&mut request, OPERATION, 1)
            .map_err(|e| Error::configuration(format!("IAM project id lookup: {e}")))?;
        let span = tracing::info_span!("cce_upgrade", operation = OPERATION);
        let record = match self.send(request, OPERATION).instrument(span).await {
            Ok(answer) => answer,
            Err(e) => {
                let attempts = e.attempts();
                return Err(self
                    .send_error(e, false)
                    .with_operation(OPERATION)
                    .with_attempts(attempts));
            }
        };
        let error = |e: Error| e.with_operation(OPERATION).with_attempts(record.attempts);
        let status = record.status;
        if !status.is_success() {
            let service =
                ServiceError::from_parts(status, record.request_id(), record.body.clone())
                    .with_location(record.location.clone());
            return Err(error(Error::service(service, &self.credentials.secrets())));
        }
        #[derive(serde::Deserialize)]
        struct Projects {
            #[serde(default, deserialize_with = "crate::model::null_as_default")]
            projects: Vec<Project>,
        }
        #[derive(serde::Deserialize)]
        struct Project {
            id: String,
            #[serde(default)]
            name: Option<String>,
        }
        let projects: Projects = serde_json::from_slice(&record.body).map_err(|e| {
            error(Error::decode(
                status,
                record.request_id(),
                &record.body,
                e,
                &self.credentials.secrets(),
            ))
        })?;
        match projects.projects.as_slice() {
            [one] => {
                tracing::debug!(project_id = %one.id, region = %region, "project id looked up in IAM");
                Ok(one.id.clone())
            }
            [] => Err(error(Error::configuration(format!(
                "IAM has no project named `{region}` for these credentials: check the region, or set \
                 the project id (Client::builder().project_id(..) or HUAWEICLOUD_SDK_PROJECT_ID)"
            )))),
            several => Err(error(Error::configuration(format!(
                "IAM has {} projects named `{region}` ({}): set the one to use with \
                 Client::builder().project_id(..) or HUAWEICLOUD_SDK_PROJECT_ID",
                several.len(),
                several
                    .iter()
                    .map(|p| format!("{} ({})", p.id, p.name.as_deref().unwrap_or("?")))
                    .collect::<Vec<_>>()
                    .join(", ")
            )))),
        }
    }
}

/// The URL with any `user:password@` replaced, for Debug output (a builder holds what the
/// caller gave, before it is checked).
fn redact_userinfo(url: &str) -> std::borrow::Cow<'_, str> {
    if let Some(scheme_end) = url.find("://") {
        let rest = &url[scheme_end + 3..];
        let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
        if let Some(at) = authority.rfind('@') {
            return format!(
                "{}://** redacted **@{}",
                &url[..scheme_end],
                &rest[at + 1..]
            )
            .into();
        }
    }
    url.into()
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

impl Client {
    /// Starts configuring a client.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }

    /// The CCE endpoint requests go to.
    pub fn endpoint(&self) -> &str {
        &self.shared().endpoint
    }

    /// The configured region, if any.
    pub fn region(&self) -> Option<&Region> {
        self.shared().region.as_ref()
    }

    /// Where the credentials came from.
    pub fn credential_source(&self) -> &CredentialSource {
        &self.shared().credential_source
    }

    /// The project id: the configured one, or the one IAM has for the region (looked up once,
    /// on first use, then remembered).
    pub async fn project_id(&self) -> Result<&str, Error> {
        self.shared().project_id().await
    }
}

/// Configures a [`Client`]; [`ClientBuilder::build`] checks it and names what is missing.
///
/// ```no_run
/// # fn run() -> Result<(), cce_upgrade::Error> {
/// use std::time::Duration;
/// use cce_upgrade::{Client, Credentials, RetryConfig};
///
/// let client = Client::builder()
///     .region("cn-north-4")
///     .credentials(Credentials::new("AK...", "SK..."))
///     .project_id("0b7e0d7c5f8a4a2d9e3c1b2a4d5e6f70")
///     .request_timeout(Duration::from_secs(30))
///     .retry(RetryConfig::default().max_attempts(5))
///     .build()?;
/// # Ok(()) }
/// ```
#[derive(Default)]
pub struct ClientBuilder {
    region: Option<Region>,
    endpoint: Option<String>,
    iam_endpoint: Option<String>,
    credentials: Option<Credentials>,
    project_id: Option<String>,
    env: Option<Env>,
    http: Option<reqwest::Client>,
    connect_timeout: Option<Duration>,
    request_timeout: Option<Duration>,
    max_response_bytes: Option<u64>,
    allow_plain_http: bool,
    retry: Option<RetryConfig>,
    interceptors: Vec<Arc<dyn Interceptor>>,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("region", &self.region)
            .field("endpoint", &self.endpoint.as_deref().map(redact_userinfo))
            .field(
                "iam_endpoint",
                &self.iam_endpoint.as_deref().map(redact_userinfo),
            )
            .field("credentials", &self.credentials)
            .field("project_id", &self.project_id)
            .field("retry", &self.retry)
            .field("interceptors", &self.interceptors.len())
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// Adds an [`Interceptor`]: it sees every attempt of every request before it is signed (and
    /// may add or change headers, which are then signed) and after it ends (for metrics or
    /// tracing). Interceptors run in the order they were added.
    pub fn interceptor(mut self, interceptor: impl Interceptor) -> Self {
        self.interceptors.push(Arc::new(interceptor));
        self
    }

    /// The region, e.g. `cn-north-4`: gives the endpoint (unless one is set) and the IAM project.
    pub fn region(mut self, region: impl Into<Region>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// An explicit CCE endpoint (`http://` or `https://`), e.g. a local emulator's. Wins over
    /// the region's endpoint and its environment override.
    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(url.into());
        self
    }

    /// An explicit IAM endpoint for the project id lookup (default
    /// `HUAWEICLOUD_SDK_IAM_ENDPOINT`, else `https://iam.{region}.myhuaweicloud.com`).
    pub fn iam_endpoint(mut self, url: impl Into<String>) -> Self {
        self.iam_endpoint = Some(url.into());
        self
    }

    /// Credentials to use instead of the default chain (environment, then profile file).
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// The project id; without it, the credential source's, else an IAM lookup by region.
    pub fn project_id(mut self, project_id: impl Into<String>) -> Self {
        self.project_id = Some(project_id.into());
        self
    }

    /// The environment to read credentials and overrides from (default: the process's).
    pub fn env(mut self, env: Env) -> Self {
        self.env = Some(env);
        self
    }

    /// Your own `reqwest::Client` (proxies, TLS roots, ...). The connect timeout is then yours;
    /// the per-attempt timeout is still set on each request.
    ///
    /// It must not follow redirects: build it with
    /// `.redirect(reqwest::redirect::Policy::none())`. The API never redirects; a client that
    /// follows one sends the signature or `X-Auth-Token`, the security token and a write's body
    /// (node passwords included) to wherever the redirect points, and may send a write again.
    /// The default client follows none and reports a 3xx answer as an error naming its target.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// The time to establish a connection (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// The time one attempt may take, from sending to the last byte of the answer (default 60 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = Some(timeout);
        self
    }

    /// The largest answer body read (default [`DEFAULT_MAX_RESPONSE_BYTES`], 10 MiB). A larger
    /// answer is an [`ErrorKind::ResponseTooLarge`] error, not sent again: one whose
    /// `Content-Length` is over the limit is not read at all, any other stops being read there.
    pub fn max_response_bytes(mut self, limit: u64) -> Self {
        self.max_response_bytes = Some(limit);
        self
    }

    /// Allows plain `http://` endpoints (CCE and IAM) to hosts other than this machine (default
    /// off: `http://` only to 127.0.0.0/8, `::1` or `localhost`). Requests are then sent
    /// unencrypted; the signature still protects them from change, not from being read.
    pub fn allow_plain_http(mut self, allow: bool) -> Self {
        self.allow_plain_http = allow;
        self
    }

    /// How to retry ([`RetryConfig::disabled`] turns retries off).
    pub fn retry(mut self, retry: RetryConfig) -> Self {
        self.retry = Some(retry);
        self
    }

    /// Checks the configuration and builds the client. Fails, naming what to set, when there is
    /// neither a region nor an endpoint, no credentials anywhere, or an endpoint that is not an
    /// `http(s)://` URL.
    pub fn build(self) -> Result<Client, Error> {
        let env = self.env.unwrap_or_default();
        let plain = self.allow_plain_http;
        if let Some(region) = &self.region {
            region.check()?;
        }
        let endpoint = match (&self.endpoint, &self.region) {
            (Some(url), _) => check_endpoint(url, plain)
                .map_err(|why| Error::configuration(format!("endpoint {url:?}: {why}")))?,
            (None, Some(region)) => region.cce_endpoint_with(&env, plain)?,
            (None, None) => {
                return Err(Error::configuration(
                    "no region or endpoint: call .region(\"cn-north-4\") (or .endpoint(\"https://...\"))",
                ));
            }
        };
        let (credentials, source_project, credential_source) = match self.credentials {
            Some(c) => {
                c.validate("the credentials given in code")?;
                (c, None, CredentialSource::Explicit)
            }
            None => {
                let found = credentials::default_chain(&env)?;
                (found.credentials, found.project_id, found.source)
            }
        };
        let project_id = self
            .project_id
            .or(source_project)
            .filter(|p| !p.trim().is_empty());
        let iam_endpoint = match (&self.iam_endpoint, &self.region) {
            (Some(url), _) => Some(
                check_endpoint(url, plain)
                    .map_err(|why| Error::configuration(format!("IAM endpoint {url:?}: {why}")))?,
            ),
            (None, Some(region)) => Some(region.iam_endpoint_with(&env, plain)?),
            (None, None) => None,
        };
        if project_id.is_none() && (self.region.is_none() || iam_endpoint.is_none()) {
            return Err(Error::configuration(
                "no project id: set .project_id(..) or HUAWEICLOUD_SDK_PROJECT_ID, or set a region so \
                 it can be looked up in IAM",
            ));
        }
        let http = match self.http {
            Some(http) => http,
            None => default_http_client(self.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT))?,
        };
        let cell = tokio::sync::OnceCell::new();
        if let Some(id) = project_id {
            let _ = cell.set(id);
        }
        // An empty SK has no key: signing then fails with the signer's own message.
        let signing_key = credentials
            .signing_parts()
            .ok()
            .and_then(|(_, secret_key, _)| SigningKey::new(secret_key).ok());
        let shared = Arc::new(Shared {
            signing_key,
            credentials,
            credential_source,
            region: self.region,
            endpoint,
            iam_endpoint,
            project_id: cell,
            lookup: tokio::sync::Mutex::new(None),
            lookups_ended: std::sync::atomic::AtomicU64::new(0),
            retry: self.retry.unwrap_or_default(),
            request_timeout: self.request_timeout.unwrap_or(DEFAULT_REQUEST_TIMEOUT),
            max_response_bytes: self
                .max_response_bytes
                .unwrap_or(DEFAULT_MAX_RESPONSE_BYTES),
            http,
            interceptors: self.interceptors,
        });
        Ok(Client { shared })
    }
}

fn default_http_client(connect_timeout: Duration) -> Result<reqwest::Client, Error> {
    // reqwest is built without a bundled crypto provider; use ring unless the process already
    // installed one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        // The API never redirects; following one would hand credentials and bodies to its target.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| Error::configuration(format!("cannot build the HTTP client: {e}")))
}

#[cfg(feature = "emulator")]
impl crate::emulator::Emulator {
    /// A client builder pointed at this emulator: its endpoint (also for IAM), region, AK/SK
    /// and project id. Override any of them before `build()`.
    pub fn client_builder(&self) -> ClientBuilder {
        Client::builder()
            .region(Region::new(self.region().to_owned()))
            .endpoint(self.endpoint())
            .iam_endpoint(self.endpoint())
            .credentials(Credentials::new(self.access_key(), self.secret_key()))
            .project_id(self.project_id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_userinfo_of_an_endpoint() {
        let builder = Client::builder()
            .endpoint("https://user:PASSWORD123@cce.example.com/x")
            .iam_endpoint("http://PASSWORD123@127.0.0.1:1");
        let shown = format!("{builder:?} {builder:#?}");
        assert!(!shown.contains("PASSWORD123"), "{shown}");
        assert!(
            shown.contains("https://** redacted **@cce.example.com/x"),
            "{shown}"
        );
        assert_eq!(
            redact_userinfo("https://cce.example.com/a@b"),
            "https://cce.example.com/a@b"
        );
        assert_eq!(redact_userinfo("not a url @ all"), "not a url @ all");
        let client = Client::builder()
            .endpoint("https://cce.example.com")
            .credentials(Credentials::new("AK", "SK-SECRET"))
            .project_id("p")
            .build()
            .unwrap();
        let shown = format!("{client:?}");
        assert!(shown.contains("https://cce.example.com") && !shown.contains("SK-SECRET"));
    }
}
