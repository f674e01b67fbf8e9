//! AK/SK request signing: Huawei Cloud's `SDK-HMAC-SHA256`, byte for byte as the official SDKs
//! compute it.
//!
//! [`sign`] adds the headers the algorithm needs and an `Authorization` header to a built
//! [`reqwest::Request`]. It is a pure function of the request, the credentials and the time in
//! [`SigningParams`]: nothing reads the clock or the environment, so tests sign at fixed times.
//! [`sign_with_key`] does the same with a [`SigningKey`], the HMAC key schedule of the secret key
//! computed once: a client builds it once per credentials and keeps it next to them.
//!
//! # The algorithm
//!
//! 1. `X-Sdk-Date` is the signing time as `yyyyMMdd'T'HHmmss'Z'` in UTC ([`sdk_date`]); `Host` is
//!    the URL's `host[:port]`, the port only when it is not the scheme's default. Both are kept
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
//! was signed: [`sign`] therefore replaces the URL query with the canonical query (as the official
//! clients do) and trims header values that have surrounding white space.
//!
//! Every step is a small crate-private type whose `Display` is the text of the specification
//! (`CanonicalRequest`, `StringToSign`), tested one by one against vectors computed by the official
//! Python signer (`tests/data/signing_vectors.json`).
#![warn(missing_docs)]

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use jiff::civil::DateTime;
use jiff::tz::Offset;
use jiff::{SignedDuration, Timestamp};
use percent_encoding::percent_decode_str;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Request, Url};
use sha2::{Digest, Sha256};

/// The algorithm's name, first word of `Authorization` and first line of the string to sign.
const ALGORITHM: &str = "SDK-HMAC-SHA256";
/// The value of `X-Sdk-Content-Sha256` that stands in for the body hash.
const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// Hex SHA-256 of the empty string: the payload hash of a request without a body.
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

static X_SDK_DATE: HeaderName = HeaderName::from_static("x-sdk-date");
static X_SDK_CONTENT_SHA256: HeaderName = HeaderName::from_static("x-sdk-content-sha256");
static X_SECURITY_TOKEN: HeaderName = HeaderName::from_static("x-security-token");

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

/// Why a request could not be signed. The request is left unchanged when signing fails.
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
                "the request URL has no host; use an absolute http(s) URL such as \
                 https://cce.cn-north-4.myhuaweicloud.com/...",
            ),
            ErrorKind::BadSdkDate(value) => write!(
                f,
                "its X-Sdk-Date header {value:?} is not in the yyyyMMdd'T'HHmmss'Z' format \
                 (e.g. 20240312T081500Z); remove it to sign at the time given in SigningParams"
            ),
            ErrorKind::UnhashableBody => f.write_str(
                "the body is a stream, whose bytes cannot be hashed; give the body as bytes or a \
                 string, or send it with a Content-Type other than application/json (it is then \
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
///
/// It also keeps the last `X-Sdk-Date` and `Host` values it signed with, so that signatures in the
/// same second to the same endpoint share them instead of formatting and allocating them again.
/// They are a function of the time and the URL alone, so signatures do not depend on what was
/// signed before; when two threads sign with one key at once, one of them goes without.
pub struct SigningKey {
    mac: Hmac<Sha256>,
    /// `None` in the key [`sign`] makes for one signature, which would only fill it.
    headers: Option<Mutex<HeaderCache>>,
}

impl Clone for SigningKey {
    fn clone(&self) -> Self {
        Self {
            mac: self.mac.clone(),
            headers: self.headers.as_ref().map(|_| Mutex::default()),
        }
    }
}

/// Header values shared by a key's signatures.
#[derive(Default)]
struct HeaderCache {
    /// The second signed at last (seconds since 1970, clamped), its date and `X-Sdk-Date`.
    date: Option<(i64, SdkDate, HeaderValue)>,
    /// The host and port of the URL signed last, and its `Host`.
    host: Option<(Box<str>, Option<u16>, HeaderValue)>,
}

impl HeaderCache {
    /// The date of `time` and its `X-Sdk-Date` value, kept in `cache` if there is one.
    fn date(cache: Option<&mut Self>, time: SystemTime) -> (SdkDate, HeaderValue) {
        let seconds = SdkDate::seconds_of(time);
        if let Some(Self {
            date: Some((cached, date, value)),
            ..
        }) = cache.as_deref()
            && *cached == seconds
        {
            return (*date, value.clone());
        }
        let date = SdkDate::of_seconds(seconds);
        let value = HeaderValue::from_bytes(&date.0).expect("an X-Sdk-Date is ASCII");
        if let Some(cache) = cache {
            cache.date = Some((seconds, date, value.clone()));
        }
        (date, value)
    }

    /// The `Host` value of `host` and `port` (the port when it is not the scheme's default),
    /// kept in `cache` if there is one.
    fn host(
        cache: Option<&mut Self>,
        host: &str,
        port: Option<u16>,
    ) -> Result<HeaderValue, SigningError> {
        if let Some(Self {
            host: Some((cached_host, cached_port, value)),
            ..
        }) = cache.as_deref()
            && **cached_host == *host
            && *cached_port == port
        {
            return Ok(value.clone());
        }
        let value = match port {
            Some(port) => HeaderValue::try_from(format!("{host}:{port}")),
            None => HeaderValue::from_str(host),
        }
        .map_err(|_| SigningError::new(ErrorKind::NoHost))?;
        if let Some(cache) = cache {
            cache.host = Some((host.into(), port, value.clone()));
        }
        Ok(value)
    }
}

impl SigningKey {
    /// The signing key of the secret access key (SK) `secret_key`.
    ///
    /// # Errors
    /// When `secret_key` is empty.
    pub fn new(secret_key: &str) -> Result<Self, SigningError> {
        let mut key = Self::for_one_signature(secret_key)?;
        key.headers = Some(Mutex::default());
        Ok(key)
    }

    /// A key that keeps no header values, for [`sign`].
    fn for_one_signature(secret_key: &str) -> Result<Self, SigningError> {
        if secret_key.is_empty() {
            return Err(SigningError::new(ErrorKind::EmptySecretKey));
        }
        let mac = Hmac::<Sha256>::new_from_slice(secret_key.as_bytes())
            .expect("HMAC takes a key of any length");
        Ok(Self { mac, headers: None })
    }

    /// Runs `f` with the key's header cache, or none when it has none or another thread holds it.
    fn with_headers<R>(&self, f: impl FnOnce(Option<&mut HeaderCache>) -> R) -> R {
        match self.headers.as_ref().map(Mutex::try_lock) {
            Some(Ok(mut cache)) => f(Some(&mut cache)),
            _ => f(None),
        }
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

/// Signs `request` in place with AK/SK (`SDK-HMAC-SHA256`) at `params.time`.
///
/// The one-shot form of [`sign_with_key`]: it derives the [`SigningKey`] of `params.secret_key`
/// on every call. A caller that signs many requests with the same credentials should build the
/// key once and call [`sign_with_key`]; the result is the same.
///
/// Adds, before computing the signature:
/// - `X-Sdk-Date` at `params.time` ([`sdk_date`]), unless the request already has one, which is
///   then used (it must be in that format);
/// - `Host` as `host[:port]` of the URL (the port only when it is not the scheme's default),
///   unless the request already has one;
/// - `X-Security-Token` (marked sensitive) when `params.security_token` is given, so it is signed;
/// - `X-Sdk-Content-Sha256: UNSIGNED-PAYLOAD` when `Content-Type` is present and starts with
///   neither `application/json` nor `application/bson`.
///
/// Then it trims header values that have leading or trailing white space (they are signed
/// trimmed), replaces the URL query with the canonical query so that what is sent is exactly what
/// was signed (an empty query leaves no `?`), and sets `Authorization` (marked sensitive).
///
/// The URL query is read with form-urlencoding rules (`+` is a space), which is how
/// [`reqwest::RequestBuilder::query`] writes it.
///
/// # Errors
/// When the access or secret key is empty, the access key or security token cannot be a header
/// value, the URL has no host, an `X-Sdk-Date` already present is malformed, or the body is a
/// stream that must be hashed. The request is unchanged then.
pub fn sign(request: &mut Request, params: &SigningParams<'_>) -> Result<(), SigningError> {
    if params.access_key.is_empty() {
        return Err(SigningError::new(ErrorKind::EmptyAccessKey));
    }
    let signing_key = SigningKey::for_one_signature(params.secret_key)?;
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

/// Signs `request` in place as [`sign`] does, with a [`SigningKey`] built once beforehand.
///
/// # Errors
/// As [`sign`] (an empty secret key is refused earlier, by [`SigningKey::new`]). The request is
/// unchanged then.
pub fn sign_with_key(
    request: &mut Request,
    params: &KeyedSigningParams<'_>,
) -> Result<(), SigningError> {
    let date = add_signing_headers(
        request,
        params.access_key,
        params.signing_key,
        params.security_token,
        params.time,
    )?;
    let canonical = CanonicalRequest::new(request)?;
    let signature = StringToSign::new(date, &canonical).sign(params.signing_key);
    let authorization =
        authorization_value(params.access_key, canonical.signed_headers(), &signature)?;
    let query = canonical.into_query();
    set_wire_query(request.url_mut(), &query);
    request.headers_mut().insert(AUTHORIZATION, authorization);
    Ok(())
}

/// Step 1 and 2: checks everything that can fail, then adds `X-Sdk-Date`, `Host`,
/// `X-Security-Token` and `X-Sdk-Content-Sha256` as needed and trims header values. Returns the
/// date to sign with. Leaves the request untouched on error.
fn add_signing_headers(
    request: &mut Request,
    access_key: &str,
    key: &SigningKey,
    security_token: Option<&str>,
    time: SystemTime,
) -> Result<SdkDate, SigningError> {
    if access_key.is_empty() {
        return Err(SigningError::new(ErrorKind::EmptyAccessKey));
    }
    if !access_key.bytes().all(is_header_value_byte) {
        return Err(SigningError::new(ErrorKind::AccessKeyNotHeaderSafe));
    }
    let token = match security_token {
        Some(token) => {
            let mut value = HeaderValue::from_str(token)
                .map_err(|_| SigningError::new(ErrorKind::SecurityTokenNotHeaderSafe))?;
            value.set_sensitive(true);
            Some(value)
        }
        None => None,
    };
    let url = request.url();
    let Some(host) = url.host_str() else {
        return Err(SigningError::new(ErrorKind::NoHost));
    };
    // One pass over the headers rather than a lookup, which hashes the name, for each.
    let headers = request.headers();
    let (mut given_date, mut has_host, mut content_type, mut given_payload_hash) =
        (None, false, None, None);
    for (name, value) in headers {
        if name == HOST {
            has_host = true;
        } else if name == CONTENT_TYPE {
            content_type.get_or_insert(value);
        } else if name == X_SDK_DATE {
            given_date.get_or_insert(value);
        } else if name == X_SDK_CONTENT_SHA256 {
            given_payload_hash.get_or_insert(value);
        }
    }
    let given_date = given_date.map(SdkDate::from_header).transpose()?;
    let (date, date_header, host) = key.with_headers(|mut cache| {
        let (date, date_header) = match given_date {
            Some(date) => (date, None),
            None => {
                let (date, header) = HeaderCache::date(cache.as_deref_mut(), time);
                (date, Some(header))
            }
        };
        let host = if has_host {
            None
        } else {
            Some(HeaderCache::host(cache, host, url.port())?)
        };
        Ok((date, date_header, host))
    })?;
    let unsigned_payload = content_type.is_some_and(|content_type| {
        let content_type = content_type.as_bytes();
        !content_type.starts_with(b"application/json")
            && !content_type.starts_with(b"application/bson")
    });
    let streamed = request.body().is_some_and(|body| body.as_bytes().is_none());
    let given_payload_hash =
        given_payload_hash.is_some_and(|value| !trim_value(value.as_bytes()).is_empty());
    if streamed && !unsigned_payload && !given_payload_hash {
        return Err(SigningError::new(ErrorKind::UnhashableBody));
    }

    let headers = request.headers_mut();
    trim_header_values(headers);
    // Room for what is added here and for `Authorization`, so the map grows at most once.
    let added = [
        date_header.is_some(),
        host.is_some(),
        token.is_some(),
        unsigned_payload,
        true,
    ];
    headers.reserve(added.iter().filter(|&&added| added).count());
    if let Some(date_header) = date_header {
        headers.insert(X_SDK_DATE.clone(), date_header);
    }
    if let Some(host) = host {
        headers.insert(HOST, host);
    }
    if let Some(token) = token {
        headers.insert(X_SECURITY_TOKEN.clone(), token);
    }
    if unsigned_payload {
        headers.insert(
            X_SDK_CONTENT_SHA256.clone(),
            HeaderValue::from_static(UNSIGNED_PAYLOAD),
        );
    }
    Ok(date)
}

/// Replaces header values that have surrounding white space by their trimmed value, as the
/// official client sends them, keeping whether they are sensitive.
fn trim_header_values(headers: &mut HeaderMap) {
    for value in headers.values_mut() {
        let trimmed = trim_value(value.as_bytes());
        if trimmed.len() != value.len()
            && let Ok(mut new) = HeaderValue::from_bytes(trimmed)
        {
            new.set_sensitive(value.is_sensitive());
            *value = new;
        }
    }
}

/// Trims a header value as the official signer (Python's `str.strip`) does: Unicode white space
/// when the value is UTF-8, ASCII white space otherwise. For the bytes a header value can hold,
/// Rust's and Python's ideas of white space agree.
fn trim_value(value: &[u8]) -> &[u8] {
    match (value.first(), value.last()) {
        (Some(first), Some(last)) if first.is_ascii_graphic() && last.is_ascii_graphic() => value,
        _ => match std::str::from_utf8(value) {
            Ok(text) => text.trim().as_bytes(),
            Err(_) => value.trim_ascii(),
        },
    }
}

/// Whether `byte` may appear in a header value (what `HeaderValue::from_str` accepts).
fn is_header_value_byte(byte: u8) -> bool {
    byte == b'\t' || (byte >= b' ' && byte != 0x7f)
}

/// Sets the URL query to the canonical query, touching the URL only when it differs.
fn set_wire_query(url: &mut Url, canonical_query: &str) {
    if canonical_query.is_empty() {
        if url.query().is_some() {
            url.set_query(None);
        }
    } else if url.query() != Some(canonical_query) {
        url.set_query(Some(canonical_query));
    }
}

/// Step 6: `SDK-HMAC-SHA256 Access={AK}, SignedHeaders={names}, Signature={signature}`, written
/// straight into the header value's bytes and marked sensitive.
fn authorization_value(
    access_key: &str,
    signed_headers: SignedHeaders<'_, '_>,
    signature: &Signature,
) -> Result<HeaderValue, SigningError> {
    const PARTS: [&str; 3] = [" Access=", ", SignedHeaders=", ", Signature="];
    let len = ALGORITHM.len()
        + PARTS.iter().map(|part| part.len()).sum::<usize>()
        + access_key.len()
        + signed_headers.len()
        + signature.0.len();
    let mut value = Vec::with_capacity(len);
    value.put(ALGORITHM.as_bytes());
    value.put(PARTS[0].as_bytes());
    value.put(access_key.as_bytes());
    value.put(PARTS[1].as_bytes());
    signed_headers.write_to(&mut value);
    value.put(PARTS[2].as_bytes());
    value.put(&signature.0);
    let mut value = HeaderValue::try_from(value)
        .map_err(|_| SigningError::new(ErrorKind::AccessKeyNotHeaderSafe))?;
    value.set_sensitive(true);
    Ok(value)
}

/// Where the text of a step goes: the hash while signing, a buffer to print it.
trait Sink {
    fn put(&mut self, bytes: &[u8]);

    fn put_byte(&mut self, byte: u8) {
        self.put(&[byte]);
    }
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }

    fn put_byte(&mut self, byte: u8) {
        self.push(byte);
    }
}

/// A SHA-256 fed as the text is produced. The canonical request comes in many short pieces (a
/// `:`, a header name, a `\n`); they are gathered on the stack and handed to the hash a few
/// blocks at a time, which costs less than one hash update per piece.
struct HashSink {
    hash: Sha256,
    pending: [u8; 256],
    len: usize,
}

impl HashSink {
    fn new() -> Self {
        Self {
            hash: Sha256::new(),
            pending: [0; 256],
            len: 0,
        }
    }

    fn finish(mut self) -> [u8; 32] {
        self.hash.update(&self.pending[..self.len]);
        self.hash.finalize().into()
    }
}

impl Sink for HashSink {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        if self.len + bytes.len() > self.pending.len() {
            self.hash.update(&self.pending[..self.len]);
            self.len = 0;
            if bytes.len() > self.pending.len() {
                self.hash.update(bytes);
                return;
            }
        }
        self.pending[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    #[inline]
    fn put_byte(&mut self, byte: u8) {
        if self.len == self.pending.len() {
            self.hash.update(self.pending);
            self.len = 0;
        }
        self.pending[self.len] = byte;
        self.len += 1;
    }
}

/// A header as signed: its lower-case name and its trimmed value.
type SignedHeader<'a> = (&'a str, &'a [u8]);

/// How many signed headers are kept on the stack; a request with more uses the heap.
const INLINE_HEADERS: usize = 16;

/// Step 3: the canonical request, six lines joined by `\n`. `Display` prints exactly its text
/// (header values that are not UTF-8 shown lossily; the bytes hashed are the raw ones).
///
/// It holds the parts, borrowed from the request where it can, and writes the text where it is
/// needed ([`CanonicalRequest::write_to`]): into the hash when signing, into a string to print.
pub(crate) struct CanonicalRequest<'a> {
    method: &'a str,
    /// The URL path, percent-decoded when it has escapes; encoded as it is written.
    path: Cow<'a, str>,
    /// Whether every byte of `path` is unreserved or `/`, so it is written as it is.
    plain_path: bool,
    /// The canonical query, built once: it is also what goes on the wire.
    query: String,
    /// The signed headers sorted by name, values of a repeated name in the order given:
    /// `inline[..inline_len]` or, when there are more, `spilled`.
    inline: [SignedHeader<'a>; INLINE_HEADERS],
    inline_len: usize,
    spilled: Vec<SignedHeader<'a>>,
    payload_hash: PayloadHash<'a>,
}

impl<'a> CanonicalRequest<'a> {
    /// The canonical request of `request` as it stands (after the signing headers were added).
    pub(crate) fn new(request: &'a Request) -> Result<Self, SigningError> {
        let url = request.url();

        // Canonical URI: decode, then encode every byte but unreserved ones and `/` — the same as
        // splitting on `/` and encoding each segment. A `%2F` is therefore signed as `/`.
        // Most paths need neither: one look at the bytes tells.
        let path = url.path();
        let plain_path = unreserved_run::<true>(path.as_bytes()) == path.len();
        let path = if !plain_path && path.contains('%') {
            percent_decode_str(path).decode_utf8_lossy()
        } else {
            Cow::Borrowed(path)
        };

        let mut query = String::new();
        if let Some(wire) = url.query() {
            let mut pairs: Vec<(Cow<'_, str>, Cow<'_, str>)> =
                form_urlencoded::parse(wire.as_bytes()).collect();
            pairs.sort_unstable();
            let mut text = Vec::with_capacity(wire.len() + wire.len() / 2);
            for (i, (key, value)) in pairs.iter().enumerate() {
                if i > 0 {
                    text.push(b'&');
                }
                put_encoded::<false>(&mut text, key.as_bytes());
                text.push(b'=');
                put_encoded::<false>(&mut text, value.as_bytes());
            }
            query = String::from_utf8(text).expect("percent-encoded text is ASCII");
        }

        // Header names are lower case in a HeaderMap. A stable sort keeps the order of the values
        // of a repeated header, which are joined with `,`.
        let signed = request
            .headers()
            .iter()
            .map(|(name, value)| (name.as_str(), trim_value(value.as_bytes())))
            .filter(|(name, _)| !name.contains('_'));
        let mut inline = [("", &[][..]); INLINE_HEADERS];
        let mut inline_len = 0;
        let mut spilled = Vec::new();
        let mut given_payload_hash = None;
        for header in signed {
            if header.0 == X_SDK_CONTENT_SHA256.as_str() {
                given_payload_hash.get_or_insert(header.1);
            }
            if inline_len < INLINE_HEADERS {
                inline[inline_len] = header;
                inline_len += 1;
            } else {
                if spilled.is_empty() {
                    spilled.extend_from_slice(&inline);
                }
                spilled.push(header);
            }
        }
        let by_name = |a: &SignedHeader<'_>, b: &SignedHeader<'_>| a.0.cmp(b.0);
        if spilled.is_empty() {
            inline[..inline_len].sort_by(by_name);
        } else {
            spilled.sort_by(by_name);
        }

        let payload_hash = PayloadHash::new(request, given_payload_hash)?;
        Ok(Self {
            method: request.method().as_str(),
            path,
            plain_path,
            query,
            inline,
            inline_len,
            spilled,
            payload_hash,
        })
    }

    fn headers(&self) -> &[SignedHeader<'a>] {
        if self.spilled.is_empty() {
            &self.inline[..self.inline_len]
        } else {
            &self.spilled
        }
    }

    /// The signed header names joined by `;` (the fifth line).
    pub(crate) fn signed_headers(&self) -> SignedHeaders<'_, 'a> {
        SignedHeaders(self.headers())
    }

    /// The canonical query (the third line), which is also what goes on the wire.
    pub(crate) fn into_query(self) -> String {
        self.query
    }

    /// Writes the text, piece by piece, into `out`.
    fn write_to(&self, out: &mut impl Sink) {
        let method = self.method.as_bytes();
        if method.iter().any(u8::is_ascii_lowercase) {
            for byte in method {
                out.put_byte(byte.to_ascii_uppercase());
            }
        } else {
            out.put(method);
        }
        out.put_byte(b'\n');

        if self.plain_path {
            out.put(self.path.as_bytes());
        } else {
            put_encoded::<true>(out, self.path.as_bytes());
        }
        // Encoding leaves `/` and turns nothing else into one: the text ends with `/` when the
        // path does.
        if !self.path.ends_with('/') {
            out.put_byte(b'/');
        }
        out.put_byte(b'\n');

        out.put(self.query.as_bytes());
        out.put_byte(b'\n');

        let mut previous = None;
        for &(name, value) in self.headers() {
            if previous == Some(name) {
                out.put_byte(b',');
            } else {
                if previous.is_some() {
                    out.put_byte(b'\n');
                }
                out.put(name.as_bytes());
                out.put_byte(b':');
                previous = Some(name);
            }
            out.put(value);
        }
        if previous.is_some() {
            out.put_byte(b'\n');
        }
        out.put_byte(b'\n');

        self.signed_headers().write_to(out);
        out.put_byte(b'\n');

        out.put(self.payload_hash.as_bytes());
    }

    /// The text's bytes, as hashed.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut text = Vec::with_capacity(512);
        self.write_to(&mut text);
        text
    }

    /// The hex SHA-256 of the canonical request's bytes, hashed as they are written.
    fn hex_sha256(&self) -> [u8; 64] {
        let mut hash = HashSink::new();
        self.write_to(&mut hash);
        hex(&hash.finish())
    }
}

impl fmt::Display for CanonicalRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.to_bytes()))
    }
}

/// The fifth line of the canonical request, also part of `Authorization`: the signed header names
/// joined by `;`, each once.
#[derive(Clone, Copy)]
pub(crate) struct SignedHeaders<'r, 'a>(&'r [SignedHeader<'a>]);

impl SignedHeaders<'_, '_> {
    fn write_to(self, out: &mut impl Sink) {
        let mut previous = None;
        for &(name, _) in self.0 {
            if previous != Some(name) {
                if previous.is_some() {
                    out.put_byte(b';');
                }
                out.put(name.as_bytes());
                previous = Some(name);
            }
        }
    }

    /// The length of the text.
    fn len(self) -> usize {
        let mut len = 0;
        let mut previous = None;
        for &(name, _) in self.0 {
            if previous != Some(name) {
                len += name.len() + usize::from(previous.is_some());
                previous = Some(name);
            }
        }
        len
    }
}

impl fmt::Display for SignedHeaders<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = Vec::with_capacity(self.len());
        self.write_to(&mut text);
        f.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?)
    }
}

/// Writes `bytes` percent-encoded with upper-case hex, leaving RFC 3986 "unreserved" bytes
/// (`A-Z a-z 0-9 - _ . ~`), and `/` when `SLASH`, as they are.
fn put_encoded<const SLASH: bool>(out: &mut impl Sink, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut rest = bytes;
    loop {
        let run = unreserved_run::<SLASH>(rest);
        out.put(&rest[..run]);
        let Some((&byte, tail)) = rest[run..].split_first() else {
            return;
        };
        out.put(&[
            b'%',
            DIGITS[usize::from(byte >> 4)],
            DIGITS[usize::from(byte & 0xf)],
        ]);
        rest = tail;
    }
}

/// How many leading bytes of `bytes` stay as they are. Paths are long and mostly unreserved, so
/// this looks at 16 bytes at a time with no branch per byte (vector compares), then byte by byte.
#[inline]
fn unreserved_run<const SLASH: bool>(bytes: &[u8]) -> usize {
    let mut run = 0;
    for chunk in bytes.chunks_exact(16) {
        if !chunk
            .iter()
            .fold(true, |all, &byte| all & is_unreserved::<SLASH>(byte))
        {
            break;
        }
        run += 16;
    }
    run + bytes[run..]
        .iter()
        .position(|&byte| !is_unreserved::<SLASH>(byte))
        .unwrap_or(bytes.len() - run)
}

/// `A-Z a-z 0-9 - _ . ~`, and `/` when `SLASH`; written without short-circuits so that a chunk
/// of bytes is tested at once.
#[inline]
fn is_unreserved<const SLASH: bool>(byte: u8) -> bool {
    let letter = (byte | 0x20).wrapping_sub(b'a') < 26;
    let digit = byte.wrapping_sub(b'0') < 10;
    let mark = (byte == b'-') | (byte == b'_') | (byte == b'.') | (byte == b'~');
    letter | digit | mark | (SLASH & (byte == b'/'))
}

/// The last line of the canonical request.
enum PayloadHash<'a> {
    /// Hex SHA-256 of the body's bytes.
    Computed([u8; 64]),
    /// Text known without hashing: the `X-Sdk-Content-Sha256` value (e.g. `UNSIGNED-PAYLOAD`),
    /// or the hash of the empty string when there is no body.
    Known(&'a [u8]),
}

impl<'a> PayloadHash<'a> {
    /// As the official signer: an absent or empty body hashes as the empty string even under
    /// `X-Sdk-Content-Sha256`; otherwise that header's value wins over the body hash.
    /// `given` is the request's `X-Sdk-Content-Sha256`, trimmed, if it has one.
    fn new(request: &'a Request, given: Option<&'a [u8]>) -> Result<Self, SigningError> {
        let given = given.filter(|given| !given.is_empty());
        match request.body().map(|body| body.as_bytes()) {
            None | Some(Some([])) => Ok(Self::Known(EMPTY_SHA256.as_bytes())),
            Some(body) => match (given, body) {
                (Some(given), _) => Ok(Self::Known(given)),
                (None, Some(bytes)) => Ok(Self::Computed(hex(&Sha256::digest(bytes).into()))),
                (None, None) => Err(SigningError::new(ErrorKind::UnhashableBody)),
            },
        }
    }

    fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Computed(hex) => hex,
            Self::Known(given) => given,
        }
    }
}

/// Step 4: `SDK-HMAC-SHA256\n{X-Sdk-Date}\n{hex SHA-256 of the canonical request}`. `Display`
/// prints exactly that text.
pub(crate) struct StringToSign {
    date: SdkDate,
    canonical_request_hash: [u8; 64],
}

impl StringToSign {
    pub(crate) fn new(date: SdkDate, canonical_request: &CanonicalRequest) -> Self {
        Self {
            date,
            canonical_request_hash: canonical_request.hex_sha256(),
        }
    }

    /// Step 5: hex HMAC-SHA256 of the string to sign, keyed with the secret key.
    pub(crate) fn sign(&self, key: &SigningKey) -> Signature {
        let mut mac = key.mac.clone();
        mac.update(&self.to_bytes());
        Signature(hex(&mac.finalize().into_bytes().into()))
    }

    /// The text, on the stack: it has a fixed length.
    fn to_bytes(&self) -> [u8; STRING_TO_SIGN_LEN] {
        let mut text = [b'\n'; STRING_TO_SIGN_LEN];
        let (algorithm, rest) = text.split_at_mut(ALGORITHM.len());
        algorithm.copy_from_slice(ALGORITHM.as_bytes());
        rest[1..17].copy_from_slice(&self.date.0);
        rest[18..].copy_from_slice(&self.canonical_request_hash);
        text
    }
}

/// `SDK-HMAC-SHA256\n`, 16 bytes of date, `\n`, 64 hex digits.
const STRING_TO_SIGN_LEN: usize = ALGORITHM.len() + 1 + 16 + 1 + 64;

impl fmt::Display for StringToSign {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(std::str::from_utf8(&self.to_bytes()).map_err(|_| fmt::Error)?)
    }
}

/// A signature: 64 lower-case hex digits.
pub(crate) struct Signature([u8; 64]);

impl Signature {
    #[cfg(test)]
    pub(crate) fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("hex digits are ASCII")
    }
}

/// Lower-case hex of a SHA-256 digest, computed without a table lookup so that the compiler
/// turns it into vector operations.
fn hex(digest: &[u8; 32]) -> [u8; 64] {
    // `n + 6 >> 4` is 1 from 10 up: the letters start 39 after `'0' + 10`.
    let digit = |n: u8| n + b'0' + ((n + 6) >> 4) * 39;
    let mut out = [0; 64];
    for (pair, byte) in out.chunks_exact_mut(2).zip(digest) {
        pair[0] = digit(byte >> 4);
        pair[1] = digit(byte & 0xf);
    }
    out
}

/// The `X-Sdk-Date` form of `time`: UTC, `%Y%m%dT%H%M%SZ` (e.g. `20240312T081500Z`), fractions of
/// a second dropped. Times outside the years 0001 to 9999 are clamped to that range.
pub fn sdk_date(time: SystemTime) -> String {
    SdkDate::at(time).as_str().to_owned()
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

/// An `X-Sdk-Date` value, checked: 16 ASCII bytes `yyyyMMdd'T'HHmmss'Z'`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SdkDate([u8; 16]);

impl SdkDate {
    /// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z in seconds since 1970.
    const RANGE: (i64, i64) = (-62_135_596_800, 253_402_300_799);

    /// The date of `time`, clamped to the years 0001 to 9999.
    pub(crate) fn at(time: SystemTime) -> Self {
        Self::of_seconds(Self::seconds_of(time))
    }

    /// `time` in whole seconds since 1970, clamped to the years 0001 to 9999.
    fn seconds_of(time: SystemTime) -> i64 {
        match time.duration_since(UNIX_EPOCH) {
            Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
            Err(before) => {
                let before = before.duration();
                let whole = i64::try_from(before.as_secs()).unwrap_or(i64::MAX);
                // Round towards the past, as dropping the fraction does after 1970.
                -whole - i64::from(before.subsec_nanos() > 0)
            }
        }
        .clamp(Self::RANGE.0, Self::RANGE.1)
    }

    /// The date `seconds` after 1970, which [`SdkDate::seconds_of`] has clamped.
    fn of_seconds(seconds: i64) -> Self {
        // A jiff `Timestamp` converts to civil fields directly, but stops short of 9999-12-31 (it
        // leaves room for any offset); civil arithmetic, slower, covers the rest of the clamp
        // above and cannot fail within it.
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
        Self(out)
    }

    /// `text` when it is a valid `X-Sdk-Date`.
    pub(crate) fn parse(text: &[u8]) -> Option<Self> {
        unix_seconds_of_sdk_date(text)?;
        text.try_into().ok().map(Self)
    }

    /// The date of an `X-Sdk-Date` header the request already has (trimmed), or why not.
    fn from_header(value: &HeaderValue) -> Result<Self, SigningError> {
        Self::parse(trim_value(value.as_bytes())).ok_or_else(|| {
            SigningError::new(ErrorKind::BadSdkDate(
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            ))
        })
    }

    pub(crate) fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("an X-Sdk-Date is ASCII")
    }
}

/// Seconds since 1970 of an `X-Sdk-Date`, `None` when it is malformed or names no real date.
fn unix_seconds_of_sdk_date(bytes: &[u8]) -> Option<i64> {
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
    use reqwest::{Body, Method};
    use serde_json::Value;

    /// 90 vectors computed by the official Python signer (`shared/signing/vectors.json`).
    const VECTORS: &str = include_str!("../tests/data/signing_vectors.json");
    /// More from the same signer: cluster ids with spaces, `+`, `%`, `/` and non-ASCII characters
    /// in path and query, malformed escapes, Content-Type corner cases.
    const EXTRA_VECTORS: &str = include_str!("../tests/data/signing_vectors_extra.json");

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

        /// The date to sign with and the request after steps 1 and 2, ready for step 3.
        fn prepared(&self) -> (SdkDate, Request) {
            let mut request = self.request();
            let params = self.params();
            let date = add_signing_headers(
                &mut request,
                params.access_key,
                &SigningKey::new(params.secret_key).expect("vector SK"),
                params.security_token,
                params.time,
            )
            .unwrap_or_else(|e| panic!("{}: {e}", self.name));
            (date, request)
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
            let (_, request) = v.prepared();
            let canonical = CanonicalRequest::new(&request).expect("canonical request");
            same(
                "canonical request",
                &canonical.to_string(),
                v.expected("canonical_request"),
            )
        });
    }

    #[test]
    fn signed_headers_match_every_vector() {
        for_each_vector(|v| {
            let (_, request) = v.prepared();
            let canonical = CanonicalRequest::new(&request).expect("canonical request");
            same(
                "signed headers",
                &canonical.signed_headers().to_string(),
                v.expected("signed_headers"),
            )
        });
    }

    #[test]
    fn string_to_sign_matches_every_vector() {
        for_each_vector(|v| {
            let (date, request) = v.prepared();
            let canonical = CanonicalRequest::new(&request).expect("canonical request");
            let string_to_sign = StringToSign::new(date, &canonical);
            same(
                "string to sign",
                &string_to_sign.to_string(),
                v.expected("string_to_sign"),
            )
        });
    }

    #[test]
    fn signature_matches_every_vector() {
        for_each_vector(|v| {
            // From the expected string to sign, so this checks the HMAC step alone.
            let expected = v.expected("string_to_sign");
            let mut lines = expected.split('\n');
            assert_eq!(lines.next(), Some(ALGORITHM));
            let date = lines
                .next()
                .and_then(|date| SdkDate::parse(date.as_bytes()))
                .expect("date line");
            let hash: [u8; 64] = lines
                .next()
                .and_then(|hash| hash.as_bytes().try_into().ok())
                .expect("hash line");
            let string_to_sign = StringToSign {
                date,
                canonical_request_hash: hash,
            };
            same("string to sign", &string_to_sign.to_string(), expected)?;
            same(
                "signature",
                string_to_sign
                    .sign(&SigningKey::new(&v.sk).expect("signing key"))
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
            sign_with_key(
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
                return Err("sign_with_key and sign differ".into());
            }
            Ok(())
        });
    }

    #[test]
    fn a_kept_signing_key_signs_each_time_and_host_afresh() {
        // The key keeps the last `X-Sdk-Date` and `Host`: signing at other seconds and to other
        // endpoints with one key, back and forth, must sign as a new key does each time.
        let key = SigningKey::new(params().secret_key).unwrap();
        let at = |text| parse_sdk_date(text).unwrap();
        let (earlier, later) = (at("20240312T081500Z"), at("20240312T081501Z"));
        for (url, time) in [
            ("https://cce.example.com/v3", earlier),
            (
                "https://cce.example.com/v3",
                earlier + Duration::from_millis(999),
            ),
            ("https://cce.example.com/v3", later),
            ("https://cce.example.com:8443/v3", later),
            ("https://cce.example.org:8443/v3", later),
            ("https://cce.example.com/v3", earlier),
            ("http://cce.example.com:443/v3", earlier),
        ] {
            let mut kept = get(url);
            sign_with_key(
                &mut kept,
                &KeyedSigningParams {
                    access_key: params().access_key,
                    signing_key: &key,
                    security_token: None,
                    time,
                },
            )
            .unwrap();
            let mut fresh = get(url);
            sign(&mut fresh, &SigningParams { time, ..params() }).unwrap();
            assert_eq!(kept.headers(), fresh.headers(), "{url} at {time:?}");
            assert_eq!(kept.headers()["x-sdk-date"], sdk_date(time).as_str());
        }
        // A clone starts with nothing kept and signs the same.
        let clone = key.clone();
        let mut request = get("https://cce.example.com/v3");
        let params = KeyedSigningParams {
            access_key: params().access_key,
            signing_key: &clone,
            security_token: None,
            time: later,
        };
        sign_with_key(&mut request, &params).unwrap();
        assert_eq!(request.headers()["x-sdk-date"], "20240312T081501Z");
        assert_eq!(request.headers()[HOST], "cce.example.com");
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
        let canonical = CanonicalRequest::new(&request).unwrap();
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
        let canonical = CanonicalRequest::new(&request).unwrap().to_string();
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
        let canonical = CanonicalRequest::new(&request).unwrap().to_string();
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
        let canonical = CanonicalRequest::new(&request).unwrap().to_string();
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
        let canonical = CanonicalRequest::new(&request).unwrap().to_string();
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
