//! The client: configuration, credentials and the project id.
//!
//! The operations themselves are generated from the spec (`build.rs`) and run through
//! `src/call.rs`, which builds each request and hands it here:
//! - [`Shared::prepare`] sets `User-Agent`, `X-Project-Id` and the per-attempt timeout;
//! - [`Shared::authorize`] signs the fully built request (or sets `X-Auth-Token` for token
//!   credentials);
//! - [`Shared::send`] hands it to the transport (`src/transport.rs`), which sends it, retrying
//!   as [`RetryConfig`] allows and having every retry signed afresh here.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use reqwest::header::{self, HeaderName, HeaderValue};

use crate::clock::{Clock, SystemClock};
use crate::credentials::{self, CredentialSource, Credentials, Env};
use crate::error::Error;
use crate::interceptor::{BeforeSigning, Interceptor};
use crate::region::{Region, check_endpoint};
use crate::retry::RetryConfig;
use crate::signing::{self, KeyedSigningParams, SigningKey};
use crate::transport::{Buffered, SendError, Transport};

/// The default time to establish a connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The default time one attempt may take, from sending to the end of the answer.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// The default largest answer body read: 10 MiB, far above the largest documented answer (a
/// workflow list).
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 10 * 1024 * 1024;
/// The default number of requests a client (with its clones) has in flight at once: 32.
pub const DEFAULT_MAX_CONCURRENT_REQUESTS: usize = 32;

const USER_AGENT: &str = concat!("cce-upgrade-rust/", env!("CARGO_PKG_VERSION"));
const X_PROJECT_ID: HeaderName = HeaderName::from_static("x-project-id");
const X_AUTH_TOKEN: HeaderName = HeaderName::from_static("x-auth-token");
const X_SDK_DATE: HeaderName = HeaderName::from_static("x-sdk-date");
const X_SECURITY_TOKEN: HeaderName = HeaderName::from_static("x-security-token");

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
    /// Sending, retries, limits and interceptors.
    transport: Transport,
    /// Time for waiting between retries, for the waiters and for the upgrade driver.
    pub(crate) clock: Arc<dyn Clock>,
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
            .field("retry", &s.transport.retry)
            .field("request_timeout", &s.transport.request_timeout)
            .field("max_response_bytes", &s.transport.max_response_bytes)
            .field("max_concurrent_requests", &s.transport.max_concurrent)
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
        *request.timeout_mut() = Some(self.transport.request_timeout);
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
        if !self.transport.interceptors.is_empty() {
            let url = request.url().as_str().to_owned();
            let method = request.method().clone();
            let mut before = BeforeSigning {
                operation,
                attempt,
                method: &method,
                url: &url,
                headers: request.headers_mut(),
            };
            for interceptor in &self.transport.interceptors {
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

    /// Sends a prepared, signed request through the transport, which has every retry signed
    /// afresh here; returns the buffered answer.
    pub(crate) async fn send(
        &self,
        request: reqwest::Request,
        operation: &'static str,
    ) -> Result<Buffered, SendError> {
        let sign = |request: &mut reqwest::Request, attempt| {
            let _ = self.authorize(request, operation, attempt);
        };
        self.transport.send(request, operation, sign).await
    }

    /// The error for a request that got no readable answer.
    pub(crate) fn send_error(&self, e: SendError, write: bool) -> Error {
        self.transport.send_error(e, write)
    }

    /// The endpoint an operation is sent to: the CCE endpoint, or for an operation with its
    /// own server (the spec's operation-level `servers`) that server: IAM's is the client's IAM
    /// endpoint (configured, from the environment, or the region's).
    pub(crate) fn endpoint_of(
        &self,
        server: Option<&'static str>,
    ) -> Result<std::borrow::Cow<'_, str>, Error> {
        let Some(server) = server else {
            return Ok(self.endpoint.as_str().into());
        };
        if server.starts_with("https://iam.") {
            return self.iam_endpoint.as_deref().map(Into::into).ok_or_else(|| {
                Error::configuration(
                    "no IAM endpoint: set a region (or ClientBuilder::iam_endpoint(..))",
                )
            });
        }
        match &self.region {
            Some(region) => Ok(server.replace("{region}", region.as_str()).into()),
            None => Err(Error::configuration(format!(
                "{server} needs a region: call .region(\"cn-north-4\")"
            ))),
        }
    }

    /// The project id: configured, or looked up in IAM once (with `client`). Concurrent callers
    /// share one lookup and its outcome, success or failure; a call after a failed lookup tries
    /// again.
    async fn project_id(&self, client: &Client) -> Result<&str, Error> {
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
        let result = client.lookup_project_id().await;
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
}

impl Client {
    /// Looks the project id up in IAM: the spec's `KeystoneListProjects` with the region's
    /// name, through the one call path (boxed: that path may come back here for a project id,
    /// though an IAM operation never does).
    fn lookup_project_id(
        &self,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<String, Error>> + Send + '_>>
    {
        Box::pin(self.lookup_project_id_now())
    }

    async fn lookup_project_id_now(&self) -> Result<String, Error> {
        const OPERATION: &str = "KeystoneListProjects";
        let shared = self.shared();
        let (Some(region), Some(_)) = (&shared.region, &shared.iam_endpoint) else {
            return Err(Error::configuration(
                "no project id: set it with Client::builder().project_id(..) or \
                 HUAWEICLOUD_SDK_PROJECT_ID, or set a region so it can be looked up in IAM",
            ));
        };
        let query = crate::types::KeystoneListProjectsQuery::default().name(region.as_str());
        let answer = self.keystone_list_projects(&query).await?;
        let attempts = answer.attempts();
        let error = |e: Error| e.with_operation(OPERATION).with_attempts(attempts);
        let projects = &answer.projects;
        match projects.as_slice() {
            [one] => match one.id.as_deref() {
                Some(id) if !id.is_empty() => {
                    crate::checks::check_project_id(id, &format!("the IAM answer for {region}"))
                        .map_err(|e| {
                            error(Error::configuration(format!(
                                "{e}; set the project id (Client::builder().project_id(..) or \
                                 HUAWEICLOUD_SDK_PROJECT_ID)"
                            )))
                        })?;
                    tracing::debug!(project_id = %id, region = %region, "project id looked up in IAM");
                    Ok(id.to_owned())
                }
                _ => Err(error(Error::configuration(format!(
                    "IAM answered a project named `{region}` without an id: set the project id \
                     (Client::builder().project_id(..) or HUAWEICLOUD_SDK_PROJECT_ID)"
                )))),
            },
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
                    .map(|p| format!(
                        "{} ({})",
                        p.id.as_deref().unwrap_or("?"),
                        p.name.as_deref().unwrap_or("?")
                    ))
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

    /// The clock this client waits on ([`ClientBuilder::clock`]).
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.shared().clock
    }

    /// The project id: the configured one, or the one IAM has for the region (looked up once,
    /// on first use, then remembered).
    pub async fn project_id(&self) -> Result<&str, Error> {
        self.shared().project_id(self).await
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
    max_concurrent_requests: Option<usize>,
    allow_plain_http: bool,
    retry: Option<RetryConfig>,
    clock: Option<Arc<dyn Clock>>,
    root_certificates: Vec<crate::tls::Certificate>,
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

    /// Your own `reqwest::Client` (proxies, TLS roots, ...). The connect timeout and TLS are then
    /// yours (give it a crypto provider: this crate installs none process-wide); the per-attempt
    /// timeout is still set on each request.
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
    /// answer is an [`ErrorKind::ResponseTooLarge`](crate::ErrorKind::ResponseTooLarge) error, not sent again: one whose
    /// `Content-Length` is over the limit is not read at all, any other stops being read there.
    pub fn max_response_bytes(mut self, limit: u64) -> Self {
        self.max_response_bytes = Some(limit);
        self
    }

    /// How many requests this client and its clones have in flight at once (default
    /// [`DEFAULT_MAX_CONCURRENT_REQUESTS`], 32); more wait their turn, in order. It bounds the
    /// connections (each costs memory here and a slot at the API gateway) when many upgrades
    /// share a client, as a [fleet](crate::fleet)'s do; one upgrade never comes near it. Its
    /// idle connections are capped at the same number. Must be at least 1.
    pub fn max_concurrent_requests(mut self, limit: usize) -> Self {
        self.max_concurrent_requests = Some(limit);
        self
    }

    /// Allows plain `http://` endpoints (CCE and IAM) to hosts other than this machine (default
    /// off: `http://` only to 127.0.0.0/8, `::1` or `localhost`). Requests are then sent
    /// unencrypted; the signature still protects them from change, not from being read.
    pub fn allow_plain_http(mut self, allow: bool) -> Self {
        self.allow_plain_http = allow;
        self
    }

    /// Trusts `certificate` (a CA, e.g. a private one or a corporate proxy's) besides the
    /// platform's roots, which stay trusted. Call it again to add more. Not with
    /// [`http_client`](ClientBuilder::http_client): set the roots on that client instead.
    pub fn add_root_certificate(mut self, certificate: crate::tls::Certificate) -> Self {
        self.root_certificates.push(certificate);
        self
    }

    /// How to retry ([`RetryConfig::disabled`] turns retries off).
    pub fn retry(mut self, retry: RetryConfig) -> Self {
        self.retry = Some(retry);
        self
    }

    /// The clock to wait on between retries, in the waiters and in the upgrade driver (the
    /// machine's, [`SystemClock`], by default). See [`crate::clock`].
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
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
        if let Some(id) = &self.project_id {
            crate::checks::check_project_id(id, "Client::builder().project_id(..)")?;
        }
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
        let max_concurrent = self
            .max_concurrent_requests
            .unwrap_or(DEFAULT_MAX_CONCURRENT_REQUESTS);
        if max_concurrent == 0 {
            return Err(Error::configuration(
                "max_concurrent_requests(0) would never send anything: give it at least 1",
            ));
        }
        let http = match self.http {
            Some(_) if !self.root_certificates.is_empty() => {
                return Err(Error::configuration(
                    "add_root_certificate(..) and http_client(..) together: the roots would be \
                     ignored; add them to your reqwest client (or leave http_client out)",
                ));
            }
            Some(http) => http,
            None => default_http_client(
                self.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT),
                &self.root_certificates,
                max_concurrent,
            )?,
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
        let clock: Arc<dyn Clock> = self.clock.unwrap_or_else(|| Arc::new(SystemClock::new()));
        let shared = Arc::new(Shared {
            signing_key,
            credentials,
            credential_source,
            region: self.region,
            endpoint: endpoint.clone(),
            iam_endpoint,
            project_id: cell,
            lookup: tokio::sync::Mutex::new(None),
            lookups_ended: std::sync::atomic::AtomicU64::new(0),
            transport: Transport {
                http,
                retry: self.retry.unwrap_or_default(),
                request_timeout: self.request_timeout.unwrap_or(DEFAULT_REQUEST_TIMEOUT),
                max_response_bytes: self
                    .max_response_bytes
                    .unwrap_or(DEFAULT_MAX_RESPONSE_BYTES),
                interceptors: self.interceptors,
                max_concurrent,
                permits: tokio::sync::Semaphore::new(max_concurrent),
                clock: clock.clone(),
                endpoint,
            },
            clock,
        });
        Ok(Client { shared })
    }
}

fn default_http_client(
    connect_timeout: Duration,
    roots: &[crate::tls::Certificate],
    max_idle: usize,
) -> Result<reqwest::Client, Error> {
    // This client's own TLS configuration: the process's default provider is left alone.
    reqwest::Client::builder()
        .tls_backend_preconfigured(crate::tls::client_config(roots)?)
        .connect_timeout(connect_timeout)
        .pool_max_idle_per_host(max_idle)
        // The API never redirects; following one would hand credentials and bodies to its target.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| Error::configuration(format!("cannot build the HTTP client: {e}")))
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
