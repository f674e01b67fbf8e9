//! AK/SK request signing: Huawei Cloud's `SDK-HMAC-SHA256`, byte for byte as the official SDKs
//! compute it.
//!
//! [`sign`] reads a request as `http` types ([`SignableRequest`]: method, URI, headers, body)
//! and returns what to add to it ([`SigningOutput`]: the headers, and the query to send). It is a
//! pure function of the request, the credentials and the time in [`SigningParams`]: nothing reads
//! the clock or the environment, so tests sign at fixed times. [`sign_with_key`] does the same
//! with a [`SigningKey`], the HMAC key schedule of the secret key computed once: a client builds
//! it once per credentials and keeps it next to them. Nothing here depends on an HTTP client.
//!
//! # The algorithm
//!
//! 1. `X-Sdk-Date` is the signing time as `yyyyMMdd'T'HHmmss'Z'` in UTC ([`sdk_date`]); `Host` is
//!    the URI's `host[:port]`, the port only when it is not the scheme's default. Both are kept
//!    when the request already has them. Temporary credentials add `X-Security-Token`.
//! 2. When `Content-Type` is present and starts with neither `application/json` nor
//!    `application/bson`, `X-Sdk-Content-Sha256: UNSIGNED-PAYLOAD` is added, and that value stands
//!    in for the body hash (the official signer still uses the empty-string hash when the body is
//!    empty).
//! 3. The *canonical request* is six lines joined by `\n`: the method in upper case; the canonical
//!    URI (the path percent-decoded, then every byte but `A-Z a-z 0-9 - _ . ~` and `/`
//!    percent-encoded, always ending in `/`); the canonical query (pairs sorted by decoded key then
//!    value, both sides encoded like the path but with `/` escaped too, `k=v` joined by `&`); the
//!    canonical headers (every header whose name has no `_`, lower-cased, value trimmed, sorted,
//!    each `name:value\n`); the signed header names joined by `;`; and the hex SHA-256 of the body.
//! 4. The *string to sign* is `SDK-HMAC-SHA256\n{X-Sdk-Date}\n{hex SHA-256 of the canonical
//!    request}`.
//! 5. The signature is the hex HMAC-SHA256 of the string to sign, keyed with the secret key, and
//!    `Authorization: SDK-HMAC-SHA256 Access={AK}, SignedHeaders={names}, Signature={signature}`.
//!
//! The server recomputes all of this from what it receives, so what goes on the wire must be what
//! was signed: the output therefore carries the canonical query to send in place of the URI's (as
//! the official clients send it) and the trimmed values of headers that have surrounding white
//! space.
//!
//! Steps 3 to 5 are small crate-private types whose `Display` is the text of the specification
//! (`CanonicalRequest`, `StringToSign`), shared with the emulator's verifier and tested one by one
//! against vectors computed by the official Python signer (`tests/data/signing_vectors.json`).
#![warn(missing_docs)]

pub(crate) mod canonical;

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use hmac::Hmac;
use http::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderMap, HeaderName, HeaderValue};
use http::uri::PathAndQuery;
use http::{Method, Uri};
use jiff::civil::DateTime;
use jiff::tz::Offset;
use jiff::{SignedDuration, Timestamp};
use percent_encoding::percent_decode_str;
use sha2::Sha256;

use canonical::{
    ALGORITHM, CanonicalRequest, PayloadHash, SignedHeaderList, StringToSign, UNSIGNED_PAYLOAD,
    canonical_query, hmac_key, trim_value,
};

static X_SDK_DATE: HeaderName = HeaderName::from_static("x-sdk-date");
static X_SDK_CONTENT_SHA256: HeaderName = HeaderName::from_static("x-sdk-content-sha256");
static X_SECURITY_TOKEN: HeaderName = HeaderName::from_static("x-security-token");
static HOST_NAME: HeaderName = HOST;
static AUTHORIZATION_NAME: HeaderName = AUTHORIZATION;
static UNSIGNED_PAYLOAD_VALUE: HeaderValue = HeaderValue::from_static(UNSIGNED_PAYLOAD);

/// What a signature is made with: the credentials and the time to sign at.
///
/// `Debug` prints the access key but redacts the secret key and the security token.
#[derive(Clone, Copy)]
pub struct SigningParams<'a> {
    /// The access key id (AK). It is not secret: it goes into `Authorization` in clear.
    pub access_key: &'a str,
    /// The secret access key (SK) that keys the HMAC. It never leaves the process.
    pub secret_key: &'a str,
    /// The security token of temporary credentials: sent, and signed, as `X-Security-Token`.
    pub security_token: Option<&'a str>,
    /// The time to sign at, written to `X-Sdk-Date` unless the request already carries one.
    /// The API gateway rejects signatures more than 15 minutes from its clock, so sign each try
    /// of a request afresh.
    pub time: SystemTime,
}

/// Prints `** redacted **` in place of a secret.
struct Redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("** redacted **")
    }
}

impl fmt::Debug for SigningParams<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningParams")
            .field("access_key", &self.access_key)
            .field("secret_key", &Redacted)
            .field("security_token", &self.security_token.map(|_| Redacted))
            .field("time", &format_args!("{}", sdk_date(self.time)))
            .finish()
    }
}

/// Why a request could not be signed.
#[derive(Debug)]
pub struct SigningError {
    kind: ErrorKind,
}

#[derive(Debug)]
enum ErrorKind {
    EmptyAccessKey,
    EmptySecretKey,
    AccessKeyNotHeaderSafe,
    SecurityTokenNotHeaderSafe,
    NoHost,
    BadSdkDate(String),
    UnhashableBody,
}

impl SigningError {
    fn new(kind: ErrorKind) -> Self {
        Self { kind }
    }
}

impl fmt::Display for SigningError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("cannot sign the request: ")?;
        match &self.kind {
            ErrorKind::EmptyAccessKey => f.write_str("the access key (AK) is empty"),
            ErrorKind::EmptySecretKey => f.write_str("the secret key (SK) is empty"),
            ErrorKind::AccessKeyNotHeaderSafe => f.write_str(
                "the access key (AK) contains control characters, which cannot go into the \
                 Authorization header; check how it was read",
            ),
            ErrorKind::SecurityTokenNotHeaderSafe => f.write_str(
                "the security token contains control characters, which cannot go into the \
                 X-Security-Token header; check how it was read",
            ),
            ErrorKind::NoHost => f.write_str(
                "the request URI has no host; use an absolute http(s) URI such as \
                 https://cce.cn-north-4.myhuaweicloud.com/...",
            ),
            ErrorKind::BadSdkDate(value) => write!(
                f,
                "its X-Sdk-Date header {value:?} is not in the yyyyMMdd'T'HHmmss'Z' format \
                 (e.g. 20240312T081500Z); remove it to sign at the time given in SigningParams"
            ),
            ErrorKind::UnhashableBody => f.write_str(
                "the body is a stream, whose bytes cannot be hashed; give the body as bytes, \
                 or send it with a Content-Type other than application/json (it is then \
                 signed as X-Sdk-Content-Sha256: UNSIGNED-PAYLOAD)",
            ),
        }
    }
}

impl std::error::Error for SigningError {}

/// The secret key made ready to sign with: the HMAC-SHA256 key schedule (the key padded and
/// hashed with the inner and outer pads) computed once, then cloned for every signature.
///
/// Build it once per credentials and keep it next to them ([`sign_with_key`]); [`sign`] builds
/// one per call. `Debug` prints no part of the key.
#[derive(Clone)]
pub struct SigningKey {
    mac: Hmac<Sha256>,
}

impl SigningKey {
    /// The signing key of the secret access key (SK) `secret_key`.
    ///
    /// # Errors
    /// When `secret_key` is empty.
    pub fn new(secret_key: &str) -> Result<Self, SigningError> {
        if secret_key.is_empty() {
            return Err(SigningError::new(ErrorKind::EmptySecretKey));
        }
        Ok(Self {
            mac: hmac_key(secret_key.as_bytes()),
        })
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SigningKey").field(&Redacted).finish()
    }
}

/// What [`sign_with_key`] signs with: [`SigningParams`] with the secret key already made into a
/// [`SigningKey`].
///
/// `Debug` prints the access key but redacts the signing key and the security token.
#[derive(Clone, Copy)]
pub struct KeyedSigningParams<'a> {
    /// The access key id (AK). It is not secret: it goes into `Authorization` in clear.
    pub access_key: &'a str,
    /// The key of the secret access key (SK), built once with [`SigningKey::new`].
    pub signing_key: &'a SigningKey,
    /// The security token of temporary credentials: sent, and signed, as `X-Security-Token`.
    pub security_token: Option<&'a str>,
    /// The time to sign at, written to `X-Sdk-Date` unless the request already carries one.
    /// Sign each try of a request afresh.
    pub time: SystemTime,
}

impl fmt::Debug for KeyedSigningParams<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedSigningParams")
            .field("access_key", &self.access_key)
            .field("signing_key", &Redacted)
            .field("security_token", &self.security_token.map(|_| Redacted))
            .field("time", &format_args!("{}", sdk_date(self.time)))
            .finish()
    }
}

/// The body of a request to sign.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub enum SignableBody<'a> {
    /// The body's bytes (empty for a request without a body): they are hashed.
    Bytes(&'a [u8]),
    /// A body whose bytes are not at hand (a stream). It can be signed only when its hash is not
    /// needed: a `Content-Type` other than JSON or BSON (signed as `UNSIGNED-PAYLOAD`), or an
    /// `X-Sdk-Content-Sha256` header the request already carries.
    Stream,
}

/// A request to sign, read through `http` types: its method, URI, headers and body.
///
/// The URI must be absolute (`https://host/path?query`); its query is read with
/// form-urlencoding rules (`+` is a space), as URL builders write it.
#[derive(Clone, Copy, Debug)]
pub struct SignableRequest<'a> {
    method: &'a str,
    host: Option<&'a str>,
    port: Option<u16>,
    path: &'a str,
    query: Option<&'a str>,
    headers: &'a HeaderMap,
    body: SignableBody<'a>,
}

impl<'a> SignableRequest<'a> {
    /// The request of `method` to `uri` with `headers` and `body`.
    pub fn new(
        method: &'a Method,
        uri: &'a Uri,
        headers: &'a HeaderMap,
        body: SignableBody<'a>,
    ) -> Self {
        let default_port = match uri.scheme_str() {
            Some("https") => Some(443),
            Some("http") => Some(80),
            _ => None,
        };
        // Most authorities are a bare host name: then they are the host, without a port.
        let (host, port) = match uri.authority().map(|authority| authority.as_str()) {
            Some(authority) if !authority.bytes().any(|b| matches!(b, b'@' | b':' | b'[')) => {
                (Some(authority), None)
            }
            _ => (uri.host(), uri.port_u16()),
        };
        Self {
            method: method.as_str(),
            host,
            port: port.filter(|&port| Some(port) != default_port),
            path: uri.path(),
            query: uri.query(),
            headers,
            body,
        }
    }

    /// An [`http::Request`] whose body is its bytes (empty for none).
    pub fn from_request<B: AsRef<[u8]>>(request: &'a http::Request<B>) -> Self {
        Self::new(
            request.method(),
            request.uri(),
            request.headers(),
            SignableBody::Bytes(request.body().as_ref()),
        )
    }

    /// The request as its parts: `port` only when it is not the scheme's default.
    pub(crate) fn from_parts(
        method: &'a str,
        host: Option<&'a str>,
        port: Option<u16>,
        path: &'a str,
        query: Option<&'a str>,
        headers: &'a HeaderMap,
        body: SignableBody<'a>,
    ) -> Self {
        Self {
            method,
            host,
            port,
            path,
            query,
            headers,
            body,
        }
    }
}

/// What signing adds to a request: the headers to set and the query to send.
///
/// Send the request with every header of [`headers`](Self::headers) set (a name listed more than
/// once has several values: they replace the request's values of that name) and with
/// [`query`](Self::query) as its URI query: the server recomputes the signature from what
/// arrives, so it must be what was signed. [`apply_to`](Self::apply_to) does both to an
/// [`http::Request`]. `Debug` redacts the values of `Authorization` and `X-Security-Token`.
pub struct SigningOutput {
    /// The headers the signer adds, held in place (no list to allocate).
    added: AddedHeaders,
    authorization: HeaderValue,
    /// The trimmed values of the request's headers that had surrounding white space, by name;
    /// usually none.
    trimmed: Vec<(HeaderName, HeaderValue)>,
    query: String,
}

impl SigningOutput {
    /// The headers to set: `X-Sdk-Date`, `Host`, `X-Security-Token` and `X-Sdk-Content-Sha256`
    /// as needed, `Authorization` (marked sensitive, as the security token is), and the trimmed
    /// values of the request's headers that had surrounding white space.
    pub fn headers(&self) -> impl Iterator<Item = (&HeaderName, &HeaderValue)> {
        self.pairs()
    }

    fn pairs(&self) -> impl Iterator<Item = (&HeaderName, &HeaderValue)> + Clone {
        self.added
            .values()
            .chain([(&AUTHORIZATION_NAME, &self.authorization)])
            .chain(self.trimmed.iter().map(|(name, value)| (name, value)))
    }

    /// The query to send, the canonical query (`None` when the request has no query: send none).
    pub fn query(&self) -> Option<&str> {
        Some(self.query.as_str()).filter(|query| !query.is_empty())
    }

    /// Sets the headers and the query on `request`.
    pub fn apply_to<B>(self, request: &mut http::Request<B>) {
        let Self {
            added,
            authorization,
            trimmed,
            query,
        } = self;
        insert_headers(added, authorization, trimmed, request.headers_mut());
        let query = Some(query.as_str()).filter(|query| !query.is_empty());
        let uri = request.uri_mut();
        if uri.query() != query {
            // In a buffer of exactly its length, which `Bytes` takes over without allocating.
            let path = uri.path();
            let mut path_and_query =
                Vec::with_capacity(path.len() + query.map_or(0, |query| query.len() + 1));
            path_and_query.extend_from_slice(path.as_bytes());
            if let Some(query) = query {
                path_and_query.push(b'?');
                path_and_query.extend_from_slice(query.as_bytes());
            }
            let mut parts = std::mem::take(uri).into_parts();
            parts.path_and_query = Some(
                PathAndQuery::from_maybe_shared(Bytes::from(path_and_query))
                    .expect("a path and a canonical query form a valid path and query"),
            );
            *uri = Uri::from_parts(parts).expect("only the query changed");
        }
    }

    /// Sets the headers in `headers`, replacing the values of the names it lists (for a request
    /// of another type than [`http::Request`]; set its query to [`query`](Self::query) too).
    pub fn apply_to_headers(self, headers: &mut HeaderMap) {
        let Self {
            added,
            authorization,
            trimmed,
            query: _,
        } = self;
        insert_headers(added, authorization, trimmed, headers);
    }
}

/// Sets the headers of a [`SigningOutput`], taken apart (the output is not moved whole again).
#[inline]
fn insert_headers(
    added: AddedHeaders,
    authorization: HeaderValue,
    trimmed: Vec<(HeaderName, HeaderValue)>,
    headers: &mut HeaderMap,
) {
    headers.reserve(added.count() + 1 + trimmed.len());
    added.insert_into(headers);
    headers.insert(AUTHORIZATION, authorization);
    let mut previous: Option<HeaderName> = None;
    for (name, value) in trimmed {
        if previous.as_ref() == Some(&name) {
            headers.append(name, value);
        } else {
            headers.insert(name.clone(), value);
            previous = Some(name);
        }
    }
}

impl fmt::Debug for SigningOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers = self.pairs().map(|(name, value)| {
            let value: &dyn fmt::Debug = if value.is_sensitive() {
                &Redacted
            } else {
                value
            };
            (name, value)
        });
        f.debug_struct("SigningOutput")
            .field("headers", &f_map(headers))
            .field("query", &self.query())
            .finish()
    }
}

/// A `Debug` map of pairs.
fn f_map<'a>(
    pairs: impl Iterator<Item = (&'a HeaderName, &'a dyn fmt::Debug)> + Clone,
) -> impl fmt::Debug {
    struct Map<I>(I);
    impl<'a, I: Iterator<Item = (&'a HeaderName, &'a dyn fmt::Debug)> + Clone> fmt::Debug for Map<I> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_map().entries(self.0.clone()).finish()
        }
    }
    Map(pairs)
}

/// Signs `request` with AK/SK (`SDK-HMAC-SHA256`) at `params.time`: returns the headers to set
/// and the query to send.
///
/// The one-shot form of [`sign_with_key`]: it derives the [`SigningKey`] of `params.secret_key`
/// on every call. A caller that signs many requests with the same credentials should build the
/// key once and call [`sign_with_key`]; the result is the same.
///
/// Adds:
/// - `X-Sdk-Date` at `params.time` ([`sdk_date`]), unless the request already has one, which is
///   then used (it must be in that format);
/// - `Host` as `host[:port]` of the URI (the port only when it is not the scheme's default),
///   unless the request already has one;
/// - `X-Security-Token` (marked sensitive) when `params.security_token` is given, so it is signed;
/// - `X-Sdk-Content-Sha256: UNSIGNED-PAYLOAD` when `Content-Type` is present and starts with
///   neither `application/json` nor `application/bson`;
/// - `Authorization` (marked sensitive).
///
/// # Errors
/// When the access or secret key is empty, the access key or security token cannot be a header
/// value, the URI has no host, an `X-Sdk-Date` already present is malformed, or the body is a
/// stream that must be hashed.
pub fn sign(
    request: &SignableRequest<'_>,
    params: &SigningParams<'_>,
) -> Result<SigningOutput, SigningError> {
    if params.access_key.is_empty() {
        return Err(SigningError::new(ErrorKind::EmptyAccessKey));
    }
    let signing_key = SigningKey::new(params.secret_key)?;
    sign_with_key(
        request,
        &KeyedSigningParams {
            access_key: params.access_key,
            signing_key: &signing_key,
            security_token: params.security_token,
            time: params.time,
        },
    )
}

/// Signs `request` as [`sign`] does, with a [`SigningKey`] built once beforehand.
///
/// # Errors
/// As [`sign`] (an empty secret key is refused earlier, by [`SigningKey::new`]).
pub fn sign_with_key(
    request: &SignableRequest<'_>,
    params: &KeyedSigningParams<'_>,
) -> Result<SigningOutput, SigningError> {
    let added = AddedHeaders::new(
        request,
        params.access_key,
        params.security_token,
        params.time,
    )?;
    let mut canonical = added.canonical_request(request)?;
    let signature = StringToSign::new(&added.date, &canonical).sign(&params.signing_key.mac);
    let authorization = authorization_value(params.access_key, &canonical, signature.as_str())?;
    let query = canonical.take_query();
    let mut trimmed = Vec::new();
    if added.untrimmed {
        trimmed = trimmed_values(request.headers);
        trimmed.retain(|(name, _)| {
            *name != AUTHORIZATION && !added.values().any(|(added, _)| added == name)
        });
    }
    Ok(SigningOutput {
        added,
        authorization,
        trimmed,
        query,
    })
}

/// Signs a `reqwest` request in place, as the client does on every attempt.
pub(crate) fn sign_reqwest(
    request: &mut reqwest::Request,
    params: &KeyedSigningParams<'_>,
) -> Result<(), SigningError> {
    let output = sign_with_key(&signable_reqwest(request), params)?;
    let url = request.url_mut();
    let query = output.query();
    if url.query() != query {
        url.set_query(query);
    }
    output.apply_to_headers(request.headers_mut());
    Ok(())
}

/// A `reqwest` request as a [`SignableRequest`], read straight from its URL.
fn signable_reqwest(request: &reqwest::Request) -> SignableRequest<'_> {
    let url = request.url();
    let body = match request.body().map(reqwest::Body::as_bytes) {
        None => SignableBody::Bytes(&[]),
        Some(Some(bytes)) => SignableBody::Bytes(bytes),
        Some(None) => SignableBody::Stream,
    };
    SignableRequest::from_parts(
        request.method().as_str(),
        url.host_str(),
        url.port(),
        url.path(),
        url.query(),
        request.headers(),
        body,
    )
}

/// Steps 1 and 2: the headers the signer adds, and the date it signs with.
struct AddedHeaders {
    /// The `X-Sdk-Date` value signed with, given or added.
    date: [u8; 16],
    date_header: Option<HeaderValue>,
    host: Option<HeaderValue>,
    security_token: Option<HeaderValue>,
    unsigned_payload: bool,
    /// Whether a header of the request has a value with surrounding white space.
    untrimmed: bool,
}

impl AddedHeaders {
    /// Checks everything that can fail and makes the headers to add.
    fn new(
        request: &SignableRequest<'_>,
        access_key: &str,
        security_token: Option<&str>,
        time: SystemTime,
    ) -> Result<Self, SigningError> {
        if access_key.is_empty() {
            return Err(SigningError::new(ErrorKind::EmptyAccessKey));
        }
        // What `HeaderValue::from_str` accepts, checked without making a value.
        // (A fold over every byte, without an early exit, compiles to vector code.)
        if !access_key.bytes().fold(true, |ok, byte| {
            ok & ((byte == b'\t') | ((byte >= b' ') & (byte != 0x7f)))
        }) {
            return Err(SigningError::new(ErrorKind::AccessKeyNotHeaderSafe));
        }
        let security_token = security_token
            .map(|token| {
                let mut value = HeaderValue::from_str(token)
                    .map_err(|_| SigningError::new(ErrorKind::SecurityTokenNotHeaderSafe))?;
                value.set_sensitive(true);
                Ok(value)
            })
            .transpose()?;
        let Some(host) = request.host.filter(|host| !host.is_empty()) else {
            return Err(SigningError::new(ErrorKind::NoHost));
        };
        // One pass over the headers rather than a lookup, which hashes the name, for each.
        let (mut given_date, mut has_host, mut content_type, mut given_payload_hash) =
            (None, false, None, false);
        let mut untrimmed = false;
        for (name, value) in request.headers {
            untrimmed |= trim_value(value.as_bytes()).len() != value.len();
            if name == HOST {
                has_host = true;
            } else if name == CONTENT_TYPE {
                content_type.get_or_insert(value);
            } else if name == X_SDK_DATE {
                given_date.get_or_insert(value);
            } else if name == X_SDK_CONTENT_SHA256 && !given_payload_hash {
                given_payload_hash = !trim_value(value.as_bytes()).is_empty();
            }
        }
        let (date, date_header) = match given_date {
            Some(given) => {
                let trimmed = trim_value(given.as_bytes());
                let date = trimmed
                    .try_into()
                    .ok()
                    .filter(|date: &[u8; 16]| unix_seconds_of_sdk_date(date).is_some())
                    .ok_or_else(|| {
                        SigningError::new(ErrorKind::BadSdkDate(
                            String::from_utf8_lossy(given.as_bytes()).into_owned(),
                        ))
                    })?;
                (date, None)
            }
            None => {
                let date = sdk_date_bytes(unix_seconds_of(time));
                let header = HeaderValue::from_bytes(&date).expect("an X-Sdk-Date is ASCII");
                (date, Some(header))
            }
        };
        let host = if has_host {
            None
        } else {
            let value = match request.port {
                Some(port) => HeaderValue::try_from(host_and_port(host, port)),
                None => HeaderValue::from_str(host),
            };
            Some(value.map_err(|_| SigningError::new(ErrorKind::NoHost))?)
        };
        let unsigned_payload = content_type.is_some_and(|content_type| {
            let content_type = content_type.as_bytes();
            !content_type.starts_with(b"application/json")
                && !content_type.starts_with(b"application/bson")
        });
        if matches!(request.body, SignableBody::Stream) && !unsigned_payload && !given_payload_hash
        {
            return Err(SigningError::new(ErrorKind::UnhashableBody));
        }
        Ok(Self {
            date,
            date_header,
            host,
            security_token,
            unsigned_payload,
            untrimmed,
        })
    }

    /// The headers to add, in the order: `X-Sdk-Date`, `Host`, `X-Security-Token`,
    /// `X-Sdk-Content-Sha256`.
    fn added(&self) -> impl Iterator<Item = (&HeaderName, &[u8])> {
        const UNSIGNED: &[u8] = UNSIGNED_PAYLOAD.as_bytes();
        [
            (
                &X_SDK_DATE,
                self.date_header.as_ref().map(HeaderValue::as_bytes),
            ),
            (&HOST, self.host.as_ref().map(HeaderValue::as_bytes)),
            (
                &X_SECURITY_TOKEN,
                self.security_token.as_ref().map(HeaderValue::as_bytes),
            ),
            (
                &X_SDK_CONTENT_SHA256,
                self.unsigned_payload.then_some(UNSIGNED),
            ),
        ]
        .into_iter()
        .filter_map(|(name, value)| Some((name, value?)))
    }

    /// Step 3: the canonical request of `request` with these headers added.
    fn canonical_request<'a>(
        &'a self,
        request: &SignableRequest<'a>,
    ) -> Result<CanonicalRequest<'a>, SigningError> {
        // Canonical URI: decode, then encode every byte but unreserved ones and `/` (in
        // `CanonicalRequest`). A `%2F` is therefore signed as `/`. As the official signer, an
        // escape that is not UTF-8 decodes as U+FFFD.
        let path: Cow<'a, [u8]> = if !request.path.contains('%') {
            Cow::Borrowed(request.path.as_bytes())
        } else {
            match percent_decode_str(request.path).decode_utf8_lossy() {
                Cow::Borrowed(path) => Cow::Borrowed(path.as_bytes()),
                Cow::Owned(path) => Cow::Owned(path.into_bytes()),
            }
        };
        let query = request
            .query
            .map(|query| {
                canonical_query(
                    form_urlencoded::parse(query.as_bytes())
                        .map(|(key, value)| (cow_bytes(key), cow_bytes(value)))
                        .collect(),
                )
            })
            .unwrap_or_default();

        // The request's headers but those the added ones replace, then the added ones, sorted
        // by name; a stable sort keeps the order of the values of a repeated header.
        let replaced = |name: &HeaderName| {
            (self.security_token.is_some() && *name == X_SECURITY_TOKEN)
                || (self.unsigned_payload && *name == X_SDK_CONTENT_SHA256)
        };
        let mut headers = SignedHeaderList::new();
        for (name, value) in request.headers {
            if !replaced(name) && !name.as_str().contains('_') {
                headers.push((name.as_str(), trim_value(value.as_bytes())));
            }
        }
        for (name, value) in self.added() {
            headers.push((name.as_str(), value));
        }
        headers.as_mut_slice().sort_by(|a, b| a.0.cmp(b.0));

        let given_payload_hash = headers
            .as_slice()
            .iter()
            .find(|(name, _)| *name == X_SDK_CONTENT_SHA256.as_str())
            .map(|&(_, value)| value)
            .filter(|value| !value.is_empty());
        // As the official signer: an empty body hashes as the empty string even under
        // `X-Sdk-Content-Sha256`; otherwise that header's value wins over the body hash.
        let payload_hash = match (request.body, given_payload_hash) {
            (SignableBody::Bytes(body), None) => PayloadHash::of(body),
            (SignableBody::Bytes([]), Some(_)) => PayloadHash::of(&[]),
            (_, Some(given)) => PayloadHash::Known(given),
            (SignableBody::Stream, None) => {
                return Err(SigningError::new(ErrorKind::UnhashableBody));
            }
        };
        Ok(CanonicalRequest::new(
            request.method,
            path,
            Cow::Owned(query),
            headers,
            payload_hash,
        ))
    }

    /// The headers to add as name and value, in the order of [`added`](Self::added).
    fn values(&self) -> impl Iterator<Item = (&HeaderName, &HeaderValue)> + Clone {
        [
            (&X_SDK_DATE, self.date_header.as_ref()),
            (&HOST_NAME, self.host.as_ref()),
            (&X_SECURITY_TOKEN, self.security_token.as_ref()),
            (
                &X_SDK_CONTENT_SHA256,
                self.unsigned_payload.then_some(&UNSIGNED_PAYLOAD_VALUE),
            ),
        ]
        .into_iter()
        .filter_map(|(name, value)| Some((name, value?)))
    }

    /// How many headers there are to add.
    fn count(&self) -> usize {
        usize::from(self.date_header.is_some())
            + usize::from(self.host.is_some())
            + usize::from(self.security_token.is_some())
            + usize::from(self.unsigned_payload)
    }

    /// Sets the headers in `headers`, replacing the values of their names.
    fn insert_into(self, headers: &mut HeaderMap) {
        if let Some(date) = self.date_header {
            headers.insert(X_SDK_DATE.clone(), date);
        }
        if let Some(host) = self.host {
            headers.insert(HOST, host);
        }
        if let Some(token) = self.security_token {
            headers.insert(X_SECURITY_TOKEN.clone(), token);
        }
        if self.unsigned_payload {
            headers.insert(
                X_SDK_CONTENT_SHA256.clone(),
                HeaderValue::from_static(UNSIGNED_PAYLOAD),
            );
        }
    }
}

/// `host:port` in a buffer of exactly its length, which a `HeaderValue` then takes over without
/// a copy (`format!` leaves spare capacity, and `Bytes` allocates again to keep track of it).
fn host_and_port(host: &str, port: u16) -> Vec<u8> {
    let mut digits = [0; 5];
    let mut start = digits.len();
    let mut rest = port;
    loop {
        start -= 1;
        digits[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    let port = &digits[start..];
    let mut value = Vec::with_capacity(host.len() + 1 + port.len());
    value.extend_from_slice(host.as_bytes());
    value.push(b':');
    value.extend_from_slice(port);
    value
}

fn cow_bytes(text: Cow<'_, str>) -> Cow<'_, [u8]> {
    match text {
        Cow::Borrowed(text) => Cow::Borrowed(text.as_bytes()),
        Cow::Owned(text) => Cow::Owned(text.into_bytes()),
    }
}

/// The trimmed values of the headers that have a value with surrounding white space (every value
/// of such a name, in order), keeping whether they are sensitive.
fn trimmed_values(headers: &HeaderMap) -> Vec<(HeaderName, HeaderValue)> {
    let needs_trim = |value: &HeaderValue| trim_value(value.as_bytes()).len() != value.len();
    let mut out = Vec::new();
    if !headers.values().any(needs_trim) {
        return out;
    }
    for name in headers.keys() {
        let values = headers.get_all(name);
        if values.iter().any(needs_trim) {
            for value in values {
                let mut trimmed = HeaderValue::from_bytes(trim_value(value.as_bytes()))
                    .unwrap_or_else(|_| value.clone());
                trimmed.set_sensitive(value.is_sensitive());
                out.push((name.clone(), trimmed));
            }
        }
    }
    out
}

/// Step 6: `SDK-HMAC-SHA256 Access={AK}, SignedHeaders={names}, Signature={signature}`, marked
/// sensitive.
fn authorization_value(
    access_key: &str,
    canonical: &CanonicalRequest<'_>,
    signature: &str,
) -> Result<HeaderValue, SigningError> {
    const PARTS: &str = " Access=, SignedHeaders=, Signature=";
    let signed_headers = canonical.signed_headers();
    let mut value = Vec::with_capacity(
        ALGORITHM.len() + PARTS.len() + access_key.len() + signed_headers.len() + signature.len(),
    );
    value.extend_from_slice(ALGORITHM.as_bytes());
    value.extend_from_slice(b" Access=");
    value.extend_from_slice(access_key.as_bytes());
    value.extend_from_slice(b", SignedHeaders=");
    signed_headers.write_to(&mut value);
    value.extend_from_slice(b", Signature=");
    value.extend_from_slice(signature.as_bytes());
    let mut value = HeaderValue::try_from(value)
        .map_err(|_| SigningError::new(ErrorKind::AccessKeyNotHeaderSafe))?;
    value.set_sensitive(true);
    Ok(value)
}

/// The `X-Sdk-Date` form of `time`: UTC, `%Y%m%dT%H%M%SZ` (e.g. `20240312T081500Z`), fractions of
/// a second dropped. Times outside the years 0001 to 9999 are clamped to that range.
pub fn sdk_date(time: SystemTime) -> String {
    let date = sdk_date_bytes(unix_seconds_of(time));
    String::from_utf8(date.to_vec()).expect("an X-Sdk-Date is ASCII")
}

/// Reads an `X-Sdk-Date` (`yyyyMMdd'T'HHmmss'Z'`, UTC, years 0001 to 9999) back into a time, as a
/// server that verifies signatures must; `None` when `s` is not exactly in that form or names no
/// real date.
pub fn parse_sdk_date(s: &str) -> Option<SystemTime> {
    let seconds = unix_seconds_of_sdk_date(s.as_bytes())?;
    let magnitude = Duration::from_secs(seconds.unsigned_abs());
    if seconds >= 0 {
        UNIX_EPOCH.checked_add(magnitude)
    } else {
        UNIX_EPOCH.checked_sub(magnitude)
    }
}

/// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z in seconds since 1970.
const SDK_DATE_RANGE: (i64, i64) = (-62_135_596_800, 253_402_300_799);

/// `time` in whole seconds since 1970 (rounded towards the past).
fn unix_seconds_of(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => {
            let before = before.duration();
            let whole = i64::try_from(before.as_secs()).unwrap_or(i64::MAX);
            -whole - i64::from(before.subsec_nanos() > 0)
        }
    }
}

/// The `X-Sdk-Date` of `seconds` since 1970, clamped to the years 0001 to 9999.
pub(crate) fn sdk_date_bytes(seconds: i64) -> [u8; 16] {
    let seconds = seconds.clamp(SDK_DATE_RANGE.0, SDK_DATE_RANGE.1);
    // A jiff `Timestamp` converts to civil fields directly, but stops short of 9999-12-31 (it
    // leaves room for any offset); civil arithmetic covers the rest of the clamp above.
    let civil = match Timestamp::from_second(seconds) {
        Ok(timestamp) => Offset::UTC.to_datetime(timestamp),
        Err(_) => UNIX_EPOCH_UTC
            .checked_add(SignedDuration::from_secs(seconds))
            .unwrap_or(DateTime::MAX),
    };
    let mut out = *b"00000000T000000Z";
    let mut put = |range: Range<usize>, n: i16| {
        let mut n = n.unsigned_abs();
        for slot in out[range].iter_mut().rev() {
            *slot = b'0' + (n % 10) as u8;
            n /= 10;
        }
    };
    put(0..4, civil.year());
    put(4..6, civil.month().into());
    put(6..8, civil.day().into());
    put(9..11, civil.hour().into());
    put(11..13, civil.minute().into());
    put(13..15, civil.second().into());
    out
}

/// Seconds since 1970 of an `X-Sdk-Date`, `None` when it is malformed or names no real date.
pub(crate) fn unix_seconds_of_sdk_date(bytes: &[u8]) -> Option<i64> {
    if bytes.len() != 16 || bytes[8] != b'T' || bytes[15] != b'Z' {
        return None;
    }
    let number = |range: Range<usize>| {
        bytes[range].iter().try_fold(0u32, |n, &b| {
            b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0'))
        })
    };
    let (year, month, day) = (number(0..4)?, number(4..6)?, number(6..8)?);
    let (hour, minute, second) = (number(9..11)?, number(11..13)?, number(13..15)?);
    if year == 0 {
        return None;
    }
    let civil = DateTime::new(
        i16::try_from(year).ok()?,
        i8::try_from(month).ok()?,
        i8::try_from(day).ok()?,
        i8::try_from(hour).ok()?,
        i8::try_from(minute).ok()?,
        i8::try_from(second).ok()?,
        0,
    )
    .ok()?;
    Some(civil.duration_since(UNIX_EPOCH_UTC).as_secs())
}

/// 1970-01-01T00:00:00 UTC as a civil date and time.
const UNIX_EPOCH_UTC: DateTime = DateTime::constant(1970, 1, 1, 0, 0, 0, 0);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signing::canonical::EMPTY_SHA256;
    use reqwest::{Body, Method, Request, Url};
    use serde_json::Value;

    /// 90 vectors computed by the official Python signer (`shared/signing/vectors.json`).
    const VECTORS: &str = include_str!("../../tests/data/signing_vectors.json");
    /// More from the same signer: cluster ids with spaces, `+`, `%`, `/` and non-ASCII characters
    /// in path and query, malformed escapes, Content-Type corner cases.
    const EXTRA_VECTORS: &str = include_str!("../../tests/data/signing_vectors_extra.json");

    /// One case of `tests/data/signing_vectors.json` (format in `shared/signing/README.md`).
    struct Vector {
        name: String,
        method: String,
        host: String,
        path: String,
        query: Vec<(String, String)>,
        headers: Vec<(String, String)>,
        body: Option<String>,
        ak: String,
        sk: String,
        sdk_date: String,
        expected: Value,
    }

    impl Vector {
        fn expected(&self, field: &str) -> &str {
            self.expected[field]
                .as_str()
                .unwrap_or_else(|| panic!("{}: no expected.{field}", self.name))
        }

        /// The request as a caller builds it: the query form-encoded (as `.query()` does), the
        /// security token left to the signer.
        fn request(&self) -> Request {
            let mut url = Url::parse(&format!("https://{}{}", self.host, self.path))
                .unwrap_or_else(|e| panic!("{}: bad URL: {e}", self.name));
            if !self.query.is_empty() {
                let mut pairs = url.query_pairs_mut();
                for (key, value) in &self.query {
                    pairs.append_pair(key, value);
                }
            }
            let method = Method::from_bytes(self.method.as_bytes()).expect("method");
            let mut request = Request::new(method, url);
            for (name, value) in &self.headers {
                if !name.eq_ignore_ascii_case("x-security-token") {
                    request.headers_mut().append(
                        HeaderName::from_bytes(name.as_bytes()).expect("header name"),
                        HeaderValue::from_str(value).expect("header value"),
                    );
                }
            }
            if let Some(body) = &self.body {
                *request.body_mut() = Some(Body::from(body.clone()));
            }
            request
        }

        fn token(&self) -> Option<&str> {
            self.headers
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case("x-security-token"))
                .map(|(_, value)| value.as_str())
        }

        fn params(&self) -> SigningParams<'_> {
            SigningParams {
                access_key: &self.ak,
                secret_key: &self.sk,
                security_token: self.token(),
                time: parse_sdk_date(&self.sdk_date).expect("vector date"),
            }
        }

        /// Runs `f` on the request's canonical request and the date it is signed at.
        fn with_canonical<R>(&self, f: impl FnOnce(&[u8], &CanonicalRequest<'_>) -> R) -> R {
            let request = self.request();
            let signable = signable_reqwest(&request);
            let params = self.params();
            let added = AddedHeaders::new(
                &signable,
                params.access_key,
                params.security_token,
                params.time,
            )
            .unwrap_or_else(|e| panic!("{}: {e}", self.name));
            let canonical = added
                .canonical_request(&signable)
                .unwrap_or_else(|e| panic!("{}: {e}", self.name));
            f(&added.date, &canonical)
        }

        fn signed(&self) -> Request {
            let mut request = self.request();
            sign(&mut request, &self.params()).unwrap_or_else(|e| panic!("{}: {e}", self.name));
            request
        }
    }

    fn strings(value: &Value) -> Vec<(String, String)> {
        match value {
            Value::Array(pairs) => pairs
                .iter()
                .map(|pair| (str_at(&pair[0]), str_at(&pair[1])))
                .collect(),
            Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), str_at(v))).collect(),
            _ => panic!("expected pairs, got {value}"),
        }
    }

    fn str_at(value: &Value) -> String {
        value.as_str().expect("a string").to_owned()
    }

    fn vectors_from(json: &str) -> Vec<Vector> {
        let root: Value = serde_json::from_str(json).expect("vectors JSON");
        root["vectors"]
            .as_array()
            .expect("vectors")
            .iter()
            .map(|v| Vector {
                name: str_at(&v["name"]),
                method: str_at(&v["method"]),
                host: str_at(&v["host"]),
                path: str_at(&v["path"]),
                query: strings(&v["query"]),
                headers: strings(&v["headers"]),
                body: v["body"].as_str().map(str::to_owned),
                ak: str_at(&v["ak"]),
                sk: str_at(&v["sk"]),
                sdk_date: str_at(&v["sdk_date"]),
                expected: v["expected"].clone(),
            })
            .collect()
    }

    fn vectors() -> Vec<Vector> {
        let mut vectors = vectors_from(VECTORS);
        assert_eq!(vectors.len(), 90, "all the official vectors are there");
        let extra = vectors_from(EXTRA_VECTORS);
        assert!(!extra.is_empty(), "the extra vectors are there");
        vectors.extend(extra);
        vectors
    }

    /// Runs `check` on every vector and fails listing every vector that did not pass.
    fn for_each_vector(check: impl Fn(&Vector) -> Result<(), String>) {
        let failures: Vec<String> = vectors()
            .iter()
            .filter_map(|vector| check(vector).err().map(|e| format!("{}: {e}", vector.name)))
            .collect();
        assert!(
            failures.is_empty(),
            "{} vector(s) failed:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }

    fn same(what: &str, actual: &str, expected: &str) -> Result<(), String> {
        if actual == expected {
            Ok(())
        } else {
            Err(format!(
                "{what} differs\n  actual:   {actual:?}\n  expected: {expected:?}"
            ))
        }
    }

    fn wire_uri(request: &Request) -> String {
        let url = request.url();
        match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        }
    }

    #[test]
    fn canonical_request_matches_every_vector() {
        for_each_vector(|v| {
            v.with_canonical(|_, canonical| {
                same(
                    "canonical request",
                    &canonical.to_string(),
                    v.expected("canonical_request"),
                )
            })
        });
    }

    #[test]
    fn signed_headers_match_every_vector() {
        for_each_vector(|v| {
            v.with_canonical(|_, canonical| {
                same(
                    "signed headers",
                    &canonical.signed_headers().to_string(),
                    v.expected("signed_headers"),
                )
            })
        });
    }

    #[test]
    fn string_to_sign_matches_every_vector() {
        for_each_vector(|v| {
            v.with_canonical(|date, canonical| {
                same(
                    "string to sign",
                    &StringToSign::new(date, canonical).to_string(),
                    v.expected("string_to_sign"),
                )
            })
        });
    }

    #[test]
    fn signature_matches_every_vector() {
        for_each_vector(|v| {
            // From the expected string to sign, so this checks the HMAC step alone.
            let expected = v.expected("string_to_sign");
            let mut lines = expected.split('\n');
            assert_eq!(lines.next(), Some(ALGORITHM));
            let date = lines.next().expect("date line").as_bytes();
            let hash: [u8; 64] = lines
                .next()
                .and_then(|hash| hash.as_bytes().try_into().ok())
                .expect("hash line");
            let string_to_sign = StringToSign::of_hash(date, hash);
            same("string to sign", &string_to_sign.to_string(), expected)?;
            same(
                "signature",
                string_to_sign
                    .sign(&SigningKey::new(&v.sk).expect("signing key").mac)
                    .as_str(),
                v.expected("signature"),
            )
        });
    }

    #[test]
    fn authorization_matches_every_vector() {
        for_each_vector(|v| {
            let request = v.signed();
            let authorization = request
                .headers()
                .get(AUTHORIZATION)
                .ok_or("no Authorization")?;
            if !authorization.is_sensitive() {
                return Err("Authorization is not marked sensitive".into());
            }
            same(
                "Authorization",
                authorization.to_str().map_err(|e| e.to_string())?,
                v.expected("authorization"),
            )
        });
    }

    #[test]
    fn wire_uri_matches_every_vector() {
        for_each_vector(|v| same("wire URI", &wire_uri(&v.signed()), v.expected("wire_uri")));
    }

    #[test]
    fn added_headers_match_every_vector() {
        for_each_vector(|v| {
            let request = v.signed();
            let headers = request.headers();
            let mut added: Vec<(String, String)> = Vec::new();
            for (name, value) in headers {
                let given = v
                    .headers
                    .iter()
                    .any(|(given, _)| given.eq_ignore_ascii_case(name.as_str()));
                if !given && name != AUTHORIZATION {
                    let value = value.to_str().map_err(|e| format!("{name}: {e}"))?;
                    added.push((name.as_str().to_owned(), value.to_owned()));
                }
            }
            let mut expected: Vec<(String, String)> = strings(&v.expected["added_headers"])
                .into_iter()
                .map(|(name, value)| (name.to_ascii_lowercase(), value))
                .collect();
            added.sort();
            expected.sort();
            if added != expected {
                return Err(format!("added headers {added:?}, expected {expected:?}"));
            }
            if let Some(token) = headers.get(&X_SECURITY_TOKEN)
                && !token.is_sensitive()
            {
                return Err("X-Security-Token is not marked sensitive".into());
            }
            Ok(())
        });
    }

    #[test]
    fn signing_is_a_pure_function_of_request_credentials_and_time() {
        let vector = &vectors()[0];
        let first = vector.signed();
        let second = vector.signed();
        assert_eq!(first.headers(), second.headers());
        assert_eq!(first.url(), second.url());
    }

    #[test]
    fn a_kept_signing_key_signs_as_the_one_shot_form() {
        for_each_vector(|v| {
            let params = v.params();
            let key = SigningKey::new(params.secret_key).map_err(|e| e.to_string())?;
            let mut request = v.request();
            sign_reqwest(
                &mut request,
                &KeyedSigningParams {
                    access_key: params.access_key,
                    signing_key: &key,
                    security_token: params.security_token,
                    time: params.time,
                },
            )
            .map_err(|e| e.to_string())?;
            let one_shot = v.signed();
            if request.headers() != one_shot.headers() || request.url() != one_shot.url() {
                return Err("a kept key and the one-shot form sign differently".into());
            }
            Ok(())
        });
    }

    #[test]
    fn signing_key_refuses_an_empty_secret_and_debug_redacts_it() {
        let error = SigningKey::new("").unwrap_err();
        assert!(
            error.to_string().contains("secret key (SK) is empty"),
            "{error}"
        );
        let secret = "exampleSecretKey0123456789abcdefghijklmno";
        let key = SigningKey::new(secret).unwrap();
        assert_eq!(format!("{key:?}"), "SigningKey(** redacted **)");
        let params = KeyedSigningParams {
            access_key: "HPUAEXAMPLEAK0000001",
            signing_key: &key,
            security_token: Some("gQpjbi1ub3J0aC00token"),
            time: parse_sdk_date("20240312T081500Z").unwrap(),
        };
        assert_eq!(
            format!("{params:?}"),
            "KeyedSigningParams { access_key: \"HPUAEXAMPLEAK0000001\", signing_key: \
             ** redacted **, security_token: Some(** redacted **), time: 20240312T081500Z }"
        );
        assert!(!format!("{params:#?}").contains("gQpjbi1ub3J0aC00token"));
    }

    #[test]
    fn signing_params_debug_redacts_secrets() {
        let params = SigningParams {
            access_key: "HPUAEXAMPLEAK0000001",
            secret_key: "exampleSecretKey0123456789abcdefghijklmno",
            security_token: Some("gQpjbi1ub3J0aC00token"),
            time: parse_sdk_date("20240312T081500Z").unwrap(),
        };
        let debug = format!("{params:?}");
        assert_eq!(
            debug,
            "SigningParams { access_key: \"HPUAEXAMPLEAK0000001\", secret_key: ** redacted **, \
             security_token: Some(** redacted **), time: 20240312T081500Z }"
        );
        assert!(!debug.contains(params.secret_key));
        assert!(!format!("{params:#?}").contains("gQpjbi1ub3J0aC00token"));
        let without_token = SigningParams {
            security_token: None,
            ..params
        };
        assert!(format!("{without_token:?}").contains("security_token: None"));
    }

    #[test]
    fn host_and_port_writes_every_port_exactly() {
        for port in [0, 1, 9, 10, 99, 100, 443, 8080, 9999, 10000, 65535] {
            let value = host_and_port("example.com", port);
            assert_eq!(value, format!("example.com:{port}").as_bytes());
            assert_eq!(value.capacity(), value.len(), "port {port}");
        }
    }

    #[test]
    fn sdk_date_known_instants() {
        let at = |seconds: i64| {
            if seconds >= 0 {
                UNIX_EPOCH + Duration::from_secs(seconds.unsigned_abs())
            } else {
                UNIX_EPOCH - Duration::from_secs(seconds.unsigned_abs())
            }
        };
        // Epoch seconds from Python's calendar.timegm.
        for (seconds, text) in [
            (0, "19700101T000000Z"),
            (-1, "19691231T235959Z"),
            (951_782_400, "20000229T000000Z"),
            (1_709_251_199, "20240229T235959Z"),
            (1_710_231_300, "20240312T081500Z"),
            (253_402_300_799, "99991231T235959Z"),
            (-62_135_596_800, "00010101T000000Z"),
        ] {
            assert_eq!(sdk_date(at(seconds)), text, "{seconds}");
            assert_eq!(parse_sdk_date(text), Some(at(seconds)), "{text}");
        }
        // Fractions of a second are dropped, towards the past also before 1970.
        assert_eq!(
            sdk_date(UNIX_EPOCH + Duration::from_millis(999)),
            "19700101T000000Z"
        );
        assert_eq!(
            sdk_date(UNIX_EPOCH - Duration::from_millis(1)),
            "19691231T235959Z"
        );
        // Out of the years 0001 to 9999: clamped, so the result still parses.
        assert_eq!(
            sdk_date(UNIX_EPOCH + Duration::from_secs(300_000_000_000)),
            "99991231T235959Z"
        );
        assert_eq!(
            sdk_date(UNIX_EPOCH - Duration::from_secs(70_000_000_000)),
            "00010101T000000Z"
        );
    }

    #[test]
    fn sdk_date_round_trips_over_the_calendar() {
        // Every day from 1601 to 2401 (covering 1900, 2000 and 2100), at a varying time of day.
        let days_since_1970 = |year| {
            let midnight = DateTime::new(year, 1, 1, 0, 0, 0, 0).unwrap();
            midnight.duration_since(UNIX_EPOCH_UTC).as_secs() / 86_400
        };
        let mut day = days_since_1970(1601);
        assert_eq!(day, -134_774);
        while day < days_since_1970(2401) {
            let seconds = day * 86_400 + (day.rem_euclid(86_400) * 7919).rem_euclid(86_400);
            let time = if seconds >= 0 {
                UNIX_EPOCH + Duration::from_secs(seconds.unsigned_abs())
            } else {
                UNIX_EPOCH - Duration::from_secs(seconds.unsigned_abs())
            };
            let text = sdk_date(time);
            assert_eq!(parse_sdk_date(&text), Some(time), "{text}");
            day += 1;
        }
    }

    #[test]
    fn parse_sdk_date_rejects_malformed_dates() {
        for bad in [
            "",
            "20240312T081500",
            "20240312T081500Z ",
            "20240312t081500Z",
            "20240312T081500z",
            "2024-03-12T08:15:00Z",
            "2024031 T081500Z",
            "+0240312T081500Z",
            "20230229T000000Z",
            "21000229T000000Z",
            "20240230T000000Z",
            "20240431T000000Z",
            "20241301T000000Z",
            "20240001T000000Z",
            "20240100T000000Z",
            "20240101T240000Z",
            "20240101T006000Z",
            "20240101T000060Z",
            "00000101T000000Z",
            "２0240101T000000Z",
        ] {
            assert_eq!(parse_sdk_date(bad), None, "{bad:?}");
        }
        assert!(parse_sdk_date("20000229T000000Z").is_some());
        assert!(parse_sdk_date("24000229T000000Z").is_some());
    }

    /// Signs a `reqwest` request through the public API: [`sign`] on its `http` parts, the
    /// output applied.
    fn sign(request: &mut Request, params: &SigningParams<'_>) -> Result<(), SigningError> {
        let output = super::sign(&signable_reqwest(request), params)?;
        let query = output.query().map(str::to_owned);
        request.url_mut().set_query(query.as_deref());
        output.apply_to_headers(request.headers_mut());
        Ok(())
    }

    /// The canonical request of a signed request, as a verifier recomputes it (without
    /// `Authorization`).
    fn canonical_of(request: &Request) -> CanonicalText {
        let mut headers = request.headers().clone();
        headers.remove(AUTHORIZATION);
        let signable = SignableRequest {
            headers: &headers,
            ..signable_reqwest(request)
        };
        let added = AddedHeaders::new(&signable, "AK", None, UNIX_EPOCH).expect("signable");
        let canonical = added.canonical_request(&signable).expect("canonical");
        CanonicalText(canonical.to_bytes())
    }

    /// A canonical request's bytes, and its text.
    struct CanonicalText(Vec<u8>);

    impl CanonicalText {
        fn to_bytes(&self) -> Vec<u8> {
            self.0.clone()
        }
    }

    impl fmt::Display for CanonicalText {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(&String::from_utf8_lossy(&self.0))
        }
    }

    fn params() -> SigningParams<'static> {
        SigningParams {
            access_key: "HPUAEXAMPLEAK0000001",
            secret_key: "exampleSecretKey0123456789abcdefghijklmno",
            security_token: None,
            time: parse_sdk_date("20240312T081500Z").unwrap(),
        }
    }

    fn get(url: &str) -> Request {
        Request::new(Method::GET, Url::parse(url).unwrap())
    }

    #[test]
    fn non_utf8_header_value_is_signed_as_raw_bytes_without_panicking() {
        let mut request = get("https://cce.cn-north-4.myhuaweicloud.com/api/v3/projects");
        let raw = HeaderValue::from_bytes(b"\xffa\xfe ").unwrap();
        request.headers_mut().insert("x-binary", raw);
        sign(&mut request, &params()).unwrap();
        assert!(request.headers().contains_key(AUTHORIZATION));
        assert_eq!(request.headers()["x-binary"].as_bytes(), b"\xffa\xfe");
        let canonical = canonical_of(&request);
        assert!(canonical.to_bytes().windows(4).any(|w| w == b":\xffa\xfe"));
        assert!(
            canonical
                .to_string()
                .contains("x-binary:\u{fffd}a\u{fffd}\n")
        );
    }

    #[test]
    fn existing_date_and_host_are_kept_and_signed() {
        let mut request = get("https://cce.cn-north-4.myhuaweicloud.com/v3?b=2&a=1");
        let headers = request.headers_mut();
        headers.insert("x-sdk-date", HeaderValue::from_static("20991231T235959Z"));
        headers.insert(HOST, HeaderValue::from_static("example.com"));
        sign(&mut request, &params()).unwrap();
        assert_eq!(request.headers()["x-sdk-date"], "20991231T235959Z");
        assert_eq!(request.headers()[HOST], "example.com");
        let canonical = canonical_of(&request).to_string();
        assert!(canonical.contains("\nhost:example.com\nx-sdk-date:20991231T235959Z\n"));
        assert_eq!(request.url().query(), Some("a=1&b=2"));
    }

    #[test]
    fn malformed_existing_date_is_an_error_and_leaves_the_request_alone() {
        let mut request = get("https://cce.cn-north-4.myhuaweicloud.com/v3?b=2&a=1");
        request
            .headers_mut()
            .insert("x-sdk-date", HeaderValue::from_static("2024-03-12 08:15"));
        let before = request.headers().clone();
        let error = sign(&mut request, &params()).unwrap_err();
        assert!(error.to_string().contains("X-Sdk-Date"), "{error}");
        assert_eq!(request.headers(), &before);
        assert_eq!(request.url().query(), Some("b=2&a=1"));
    }

    #[test]
    fn default_port_is_left_out_of_host_and_others_kept() {
        for (url, host) in [
            ("https://cce.example.com:443/", "cce.example.com"),
            ("http://cce.example.com:80/", "cce.example.com"),
            ("http://127.0.0.1:8443/", "127.0.0.1:8443"),
            ("https://[::1]:9443/", "[::1]:9443"),
        ] {
            let mut request = get(url);
            sign(&mut request, &params()).unwrap();
            assert_eq!(request.headers()[HOST], host, "{url}");
        }
    }

    #[test]
    fn url_without_host_is_an_error() {
        let mut request = get("data:text/plain,hello");
        let error = sign(&mut request, &params()).unwrap_err();
        assert!(error.to_string().contains("no host"), "{error}");
        assert!(request.headers().is_empty());
    }

    #[test]
    fn empty_keys_are_errors() {
        for params in [
            SigningParams {
                access_key: "",
                ..params()
            },
            SigningParams {
                secret_key: "",
                ..params()
            },
        ] {
            let mut request = get("https://cce.example.com/");
            let error = sign(&mut request, &params).unwrap_err();
            assert!(error.to_string().contains("is empty"), "{error}");
        }
    }

    #[test]
    fn stream_body_cannot_be_hashed_unless_unsigned() {
        let mut request = Request::new(
            Method::POST,
            Url::parse("https://cce.example.com/upload").unwrap(),
        );
        request
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        *request.body_mut() = Some(Body::wrap(String::from("{}")));
        let error = sign(&mut request, &params()).unwrap_err();
        assert!(error.to_string().contains("stream"), "{error}");
        assert!(!request.headers().contains_key(AUTHORIZATION));

        request.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        sign(&mut request, &params()).unwrap();
        assert_eq!(request.headers()["x-sdk-content-sha256"], UNSIGNED_PAYLOAD);
        let canonical = canonical_of(&request).to_string();
        assert!(canonical.ends_with("\nUNSIGNED-PAYLOAD"), "{canonical}");
    }

    #[test]
    fn empty_body_hashes_as_empty_even_when_unsigned() {
        // The official signer checks for an empty body before it looks at X-Sdk-Content-Sha256.
        let mut request = get("https://cce.example.com/upload");
        request.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        sign(&mut request, &params()).unwrap();
        assert_eq!(request.headers()["x-sdk-content-sha256"], UNSIGNED_PAYLOAD);
        let canonical = canonical_of(&request).to_string();
        assert!(
            canonical.ends_with(&format!("\n{EMPTY_SHA256}")),
            "{canonical}"
        );
    }

    #[test]
    fn security_token_is_added_signed_and_sensitive() {
        let mut request = get("https://cce.example.com/");
        let params = SigningParams {
            security_token: Some("token-value"),
            ..params()
        };
        sign(&mut request, &params).unwrap();
        let token = &request.headers()["x-security-token"];
        assert_eq!(token, "token-value");
        assert!(token.is_sensitive());
        let authorization = request.headers()[AUTHORIZATION].to_str().unwrap();
        assert!(
            authorization.contains("SignedHeaders=host;x-sdk-date;x-security-token,"),
            "{authorization}"
        );
    }

    #[test]
    fn repeated_headers_are_joined_with_commas_and_values_trimmed_on_the_wire() {
        let mut request = get("https://cce.example.com/");
        let headers = request.headers_mut();
        headers.append("x-multi", HeaderValue::from_static(" b "));
        headers.append("x-multi", HeaderValue::from_static("a"));
        headers.append("x-nbsp", HeaderValue::from_str("\u{a0}v\u{3000}").unwrap());
        sign(&mut request, &params()).unwrap();
        let canonical = canonical_of(&request).to_string();
        assert!(
            canonical.contains("\nx-multi:b,a\nx-nbsp:v\n"),
            "{canonical}"
        );
        let wire: Vec<_> = request.headers().get_all("x-multi").iter().collect();
        assert_eq!(wire, ["b", "a"]);
        assert_eq!(request.headers()["x-nbsp"], "v");
    }

    #[test]
    fn wire_query_is_the_canonical_query() {
        let mut request = get("https://cce.example.com/p?b=x+y&a=%2B&c&empty=&a=%7E");
        sign(&mut request, &params()).unwrap();
        assert_eq!(request.url().query(), Some("a=%2B&a=~&b=x%20y&c=&empty="));
        let mut request = get("https://cce.example.com/p?");
        sign(&mut request, &params()).unwrap();
        assert_eq!(request.url().as_str(), "https://cce.example.com/p");
    }

    #[test]
    fn signing_error_is_an_error_with_a_message() {
        let error: Box<dyn std::error::Error> = Box::new(SigningError::new(ErrorKind::NoHost));
        assert!(error.to_string().starts_with("cannot sign the request: "));
    }
}
