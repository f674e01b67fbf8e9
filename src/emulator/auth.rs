//! The API gateway's side of SDK-HMAC-SHA256: recompute the signature from what arrived on the
//! wire and accept or refuse the request, with the gateway's `APIGW.0301` messages.
//!
//! The canonical request, the string to sign and the signature are the crate's own
//! (`crate::signing::canonical`), the steps its signer takes too; what is the verifier's alone is
//! what a server checks around them: the parsed [`Authorization`] header, the signed-header set
//! (`host` and `x-sdk-date` among them), the date window and the temporary-key rules. The
//! official signer's vectors check both sides against the reference.
//!
//! What the verifier reads from the wire:
//! - the **path** is percent-decoded, split on `/`, and each segment re-encoded with only
//!   `A-Z a-z 0-9 - _ . ~` left as is; the result always ends with `/`;
//! - the **query** is split into `key=value` pairs that are percent-decoded, where **`+` stays a
//!   literal plus** (it does *not* mean space). The official clients send the canonical query on
//!   the wire (`%20` for a space, `%2B` for a plus), so this reads their requests exactly; a client
//!   that form-encodes a space as `+` but signs a space is refused here, as the real gateway
//!   refuses it. The decoded pairs are sorted by (key, value), re-encoded and joined with `&`;
//! - the **headers** named in `SignedHeaders`, in that order, lower-cased names and trimmed
//!   values (the values of a repeated header joined with `,`); `host` and `x-sdk-date` must be
//!   among them;
//! - the hex SHA-256 of the **body** (of the empty string when there is none), or
//!   `UNSIGNED-PAYLOAD` when `X-Sdk-Content-Sha256` says so and there is a body.
//!
//! When the signature does not match, the message shows the canonical request the server
//! computed, as the real gateway does — except for the value of a signed `X-Security-Token`,
//! which is shown as `** redacted **` so that no credential is echoed back.
//!
//! `X-Sdk-Date` must be within 15 minutes of the server clock; a temporary access key is only
//! valid with its `X-Security-Token`, which must be signed; an `X-Auth-Token` request carries no
//! signature and is checked against the emulator's IAM token.

use std::borrow::Cow;
use std::fmt;

use super::clock;
use crate::signing::canonical::{
    ALGORITHM, CanonicalRequest, PayloadHash, SignedHeaderList, StringToSign, UNSIGNED_PAYLOAD,
    canonical_query, hmac_key, trim_value,
};
use hyper::HeaderMap;
use percent_encoding::percent_decode_str;

/// How far `X-Sdk-Date` may be from the server clock, either way.
pub(crate) const MAX_SKEW_SECONDS: i64 = 15 * 60;

/// The gateway's error code for every authentication failure.
pub(crate) const ERROR_CODE: &str = "APIGW.0301";

/// The credentials one emulator accepts.
pub(crate) struct Keys {
    pub(crate) access_key: String,
    pub(crate) secret_key: String,
    pub(crate) temporary_access_key: String,
    pub(crate) temporary_secret_key: String,
    pub(crate) security_token: String,
    pub(crate) auth_token: String,
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keys")
            .field("access_key", &self.access_key)
            .field("secret_key", &"** redacted **")
            .field("temporary_access_key", &self.temporary_access_key)
            .field("temporary_secret_key", &"** redacted **")
            .field("security_token", &"** redacted **")
            .field("auth_token", &"** redacted **")
            .finish()
    }
}

/// Who a request was authenticated as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Principal {
    /// Signed with the permanent AK/SK.
    AccessKey,
    /// Signed with the temporary AK/SK and its security token.
    TemporaryAccessKey,
    /// Carried the IAM token in `X-Auth-Token`.
    Token,
}

/// Why a request was refused; answered as HTTP 401 `APIGW.0301`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AuthError {
    detail: String,
}

impl AuthError {
    fn new(detail: impl Into<String>) -> AuthError {
        AuthError {
            detail: detail.into(),
        }
    }

    /// The gateway's `error_msg`.
    pub(crate) fn error_msg(&self) -> String {
        format!("Incorrect IAM authentication information: {}", self.detail)
    }
}

/// A request as it arrived: what the verifier reads.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WireRequest<'a> {
    /// The method, e.g. `POST`.
    pub(crate) method: &'a str,
    /// The request target as on the wire: `path?query`.
    pub(crate) path_and_query: &'a str,
    /// All request headers.
    pub(crate) headers: &'a HeaderMap,
    /// The body bytes.
    pub(crate) body: &'a [u8],
}

impl WireRequest<'_> {
    fn path(&self) -> &str {
        self.path_and_query
            .split_once('?')
            .map_or(self.path_and_query, |(p, _)| p)
    }

    fn query(&self) -> &str {
        self.path_and_query.split_once('?').map_or("", |(_, q)| q)
    }

    /// A header's value as text (values of repeated headers joined with `,`), if present.
    fn header(&self, name: &str) -> Option<String> {
        let mut values = self.headers.get_all(name).iter().peekable();
        values.peek()?;
        let joined: Vec<String> = values
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        Some(joined.join(","))
    }
}

/// The parsed `Authorization: SDK-HMAC-SHA256 Access=.., SignedHeaders=.., Signature=..` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Authorization {
    pub(crate) access_key: String,
    pub(crate) signed_headers: Vec<String>,
    pub(crate) signature: String,
}

impl Authorization {
    /// Parses the header value; the error says what is wrong.
    pub(crate) fn parse(value: &str) -> Result<Authorization, String> {
        let rest = value
            .strip_prefix(ALGORITHM)
            .filter(|r| r.starts_with(' '))
            .ok_or_else(|| format!("it must start with {ALGORITHM:?}"))?;
        let (mut access, mut signed, mut signature) = (None, None, None);
        for part in rest.split(',') {
            let part = part.trim();
            let (key, val) = part
                .split_once('=')
                .ok_or_else(|| format!("{part:?} is not key=value"))?;
            let slot = match key.trim() {
                "Access" => &mut access,
                "SignedHeaders" => &mut signed,
                "Signature" => &mut signature,
                other => return Err(format!("unknown field {other:?}")),
            };
            *slot = Some(val.trim().to_string());
        }
        let access_key = access
            .filter(|a| !a.is_empty())
            .ok_or("Access is missing")?;
        let signed = signed
            .filter(|s| !s.is_empty())
            .ok_or("SignedHeaders is missing")?;
        let signature = signature
            .filter(|s| !s.is_empty())
            .ok_or("Signature is missing")?;
        if signature.len() != 64 || !signature.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err("Signature must be 64 hex digits".into());
        }
        Ok(Authorization {
            access_key,
            signed_headers: signed.split(';').map(str::to_ascii_lowercase).collect(),
            signature,
        })
    }
}

impl fmt::Display for Authorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{ALGORITHM} Access={}, SignedHeaders={}, Signature={}",
            self.access_key,
            self.signed_headers.join(";"),
            self.signature
        )
    }
}

/// The canonical request the server recomputes from what arrived, over the headers named in
/// `signed_headers` (lower case): a signed header that is absent counts as empty (the signature
/// then fails to match).
pub(crate) fn canonical_request<'a>(
    req: &WireRequest<'a>,
    signed_headers: &'a [String],
) -> CanonicalRequest<'a> {
    let mut headers = SignedHeaderList::new();
    for name in signed_headers {
        let before = headers.len();
        headers.extend(
            req.headers
                .get_all(name.as_str())
                .iter()
                .map(|value| (name.as_str(), trim_value(value.as_bytes()))),
        );
        if headers.len() == before {
            headers.push((name.as_str(), b""));
        }
    }
    let unsigned = req
        .headers
        .get("x-sdk-content-sha256")
        .is_some_and(|value| trim_value(value.as_bytes()) == UNSIGNED_PAYLOAD.as_bytes());
    let payload_hash = if unsigned && !req.body.is_empty() {
        PayloadHash::Known(UNSIGNED_PAYLOAD.as_bytes())
    } else {
        PayloadHash::of(req.body)
    };
    CanonicalRequest::new(
        req.method,
        Cow::Owned(percent_decode_str(req.path()).collect()),
        Cow::Owned(wire_canonical_query(req.query())),
        headers,
        payload_hash,
    )
}

/// The canonical query of a raw query string (`+` is a literal plus, see the module docs).
pub(crate) fn wire_canonical_query(raw_query: &str) -> String {
    canonical_query(
        raw_query
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                (
                    Cow::Owned(percent_decode_str(k).collect()),
                    Cow::Owned(percent_decode_str(v).collect()),
                )
            })
            .collect(),
    )
}

/// Decides whether `req` is authenticated at server time `now_unix` (seconds).
pub(crate) fn verify(
    keys: &Keys,
    req: &WireRequest<'_>,
    now_unix: i64,
) -> Result<Principal, AuthError> {
    let Some(authorization) = req.header("authorization") else {
        return match req.header("x-auth-token") {
            Some(token) if token.trim() == keys.auth_token => Ok(Principal::Token),
            Some(_) => Err(AuthError::new(
                "the X-Auth-Token is invalid or has expired; get a new IAM token",
            )),
            None => Err(AuthError::new(
                "no credentials: the request has neither an Authorization header (AK/SK \
                 signature) nor an X-Auth-Token header",
            )),
        };
    };
    let auth = Authorization::parse(authorization.trim()).map_err(|why| {
        AuthError::new(format!(
            "malformed Authorization header ({why}); expected \
             \"{ALGORITHM} Access=<AK>, SignedHeaders=<a;b;c>, Signature=<hex>\""
        ))
    })?;
    let (principal, secret_key) = if auth.access_key == keys.access_key {
        (Principal::AccessKey, &keys.secret_key)
    } else if auth.access_key == keys.temporary_access_key {
        (Principal::TemporaryAccessKey, &keys.temporary_secret_key)
    } else {
        return Err(AuthError::new(format!(
            "the access key {} does not exist (get secretkey from iam fail)",
            auth.access_key
        )));
    };
    let signs = |name: &str| {
        auth.signed_headers
            .iter()
            .any(|h| h.eq_ignore_ascii_case(name))
    };
    if !signs("host") || !signs("x-sdk-date") {
        return Err(AuthError::new(format!(
            "SignedHeaders {:?} must include host and x-sdk-date",
            auth.signed_headers.join(";")
        )));
    }
    let Some(sdk_date) = req.header("x-sdk-date").map(|d| d.trim().to_string()) else {
        return Err(AuthError::new("the X-Sdk-Date header is missing"));
    };
    let Some(signed_at) = clock::parse_sdk_date(&sdk_date) else {
        return Err(AuthError::new(format!(
            "X-Sdk-Date {sdk_date:?} is malformed: expected yyyyMMdd'T'HHmmss'Z' in UTC"
        )));
    };
    let skew = signed_at - now_unix;
    if skew.abs() > MAX_SKEW_SECONDS {
        return Err(AuthError::new(format!(
            "signature expired: X-Sdk-Date {sdk_date} is {} s {} the server time {} (at most {} s \
             allowed); sign every request, and every retry, with the current time",
            skew.abs(),
            if skew < 0 { "behind" } else { "ahead of" },
            clock::sdk_date(now_unix),
            MAX_SKEW_SECONDS
        )));
    }
    if principal == Principal::TemporaryAccessKey {
        let token_ok = req
            .header("x-security-token")
            .is_some_and(|t| t.trim() == keys.security_token);
        if !token_ok || !signs("x-security-token") {
            return Err(AuthError::new(format!(
                "the access key {} is temporary: send its security token in X-Security-Token \
                 and include x-security-token in SignedHeaders",
                auth.access_key
            )));
        }
    }
    let canonical = canonical_request(req, &auth.signed_headers);
    let expected = decode_hex(&auth.signature).unwrap_or_default();
    let string_to_sign = StringToSign::new(sdk_date.as_bytes(), &canonical);
    if !string_to_sign.verify(&hmac_key(secret_key.as_bytes()), &expected) {
        return Err(AuthError::new(format!(
            "verify aksk signature fail, canonicalRequest: {}",
            canonical.redacting("x-security-token")
        )));
    }
    Ok(principal)
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    let digit = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    text.as_bytes()
        .chunks(2)
        .map(|pair| match pair {
            [hi, lo] => Some(digit(*hi)? << 4 | digit(*lo)?),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signing::canonical::{EMPTY_SHA256, hex};
    use hyper::header::{HeaderName, HeaderValue};
    use serde_json::Value;
    use sha2::{Digest, Sha256};

    const VECTORS: &str = include_str!("../../tests/data/signing_vectors.json");

    struct Vector {
        name: String,
        method: String,
        wire_uri: String,
        headers: HeaderMap,
        body: Vec<u8>,
        keys: Keys,
        now: i64,
        expected: Value,
    }

    fn keys(ak: &str, sk: &str) -> Keys {
        Keys {
            access_key: ak.into(),
            secret_key: sk.into(),
            temporary_access_key: "TEMPORARYAK000000000".into(),
            temporary_secret_key: "temporary-secret".into(),
            security_token: "token".into(),
            auth_token: "MIIiamtoken".into(),
        }
    }

    fn vectors() -> Vec<Vector> {
        let doc: Value = serde_json::from_str(VECTORS).expect("vectors parse");
        let list = doc["vectors"].as_array().expect("vectors array");
        assert_eq!(list.len(), 90, "the official signer's 90 vectors");
        list.iter()
            .map(|v| {
                let expected = v["expected"].clone();
                let mut headers = HeaderMap::new();
                let mut add = |name: &str, value: &str| {
                    headers.append(
                        HeaderName::from_bytes(name.as_bytes()).expect("header name"),
                        HeaderValue::from_bytes(value.as_bytes()).expect("header value"),
                    );
                };
                for (name, value) in v["headers"].as_object().expect("headers") {
                    add(name, value.as_str().expect("header value is text"));
                }
                for (name, value) in expected["added_headers"].as_object().expect("added") {
                    add(name, value.as_str().expect("added header value is text"));
                }
                add(
                    "Authorization",
                    expected["authorization"].as_str().expect("authorization"),
                );
                let str_of = |key: &str| v[key].as_str().expect(key).to_string();
                Vector {
                    name: str_of("name"),
                    method: str_of("method"),
                    wire_uri: expected["wire_uri"].as_str().expect("wire_uri").into(),
                    headers,
                    body: v["body"].as_str().unwrap_or("").as_bytes().to_vec(),
                    keys: keys(&str_of("ak"), &str_of("sk")),
                    now: clock::parse_sdk_date(&str_of("sdk_date")).expect("sdk_date"),
                    expected,
                }
            })
            .collect()
    }

    impl Vector {
        fn wire(&self) -> WireRequest<'_> {
            WireRequest {
                method: &self.method,
                path_and_query: &self.wire_uri,
                headers: &self.headers,
                body: &self.body,
            }
        }

        fn authorization(&self) -> Authorization {
            Authorization::parse(self.expected["authorization"].as_str().unwrap()).unwrap()
        }
    }

    #[test]
    fn every_vector_is_accepted_with_the_official_canonical_request() {
        for v in vectors() {
            let auth = v.authorization();
            let canonical = canonical_request(&v.wire(), &auth.signed_headers);
            assert_eq!(
                canonical.to_string(),
                v.expected["canonical_request"].as_str().unwrap(),
                "canonical request of {}",
                v.name
            );
            let sdk_date = v.headers["x-sdk-date"].to_str().unwrap();
            let sts = StringToSign::new(sdk_date.as_bytes(), &canonical);
            assert_eq!(
                sts.to_string(),
                v.expected["string_to_sign"].as_str().unwrap(),
                "string to sign of {}",
                v.name
            );
            assert_eq!(
                sts.sign(&hmac_key(v.keys.secret_key.as_bytes())).as_str(),
                v.expected["signature"].as_str().unwrap(),
                "signature of {}",
                v.name
            );
            assert_eq!(
                auth.to_string(),
                v.expected["authorization"].as_str().unwrap(),
                "authorization of {}",
                v.name
            );
            assert_eq!(
                verify(&v.keys, &v.wire(), v.now),
                Ok(Principal::AccessKey),
                "{} must be accepted",
                v.name
            );
        }
    }

    fn assert_signature_mismatch(result: Result<Principal, AuthError>, what: &str) {
        let err = result.expect_err(what);
        assert!(
            err.error_msg()
                .starts_with("Incorrect IAM authentication information: verify aksk signature fail, canonicalRequest: "),
            "{what}: {}",
            err.error_msg()
        );
    }

    #[test]
    fn flipping_one_byte_of_body_path_query_or_signed_header_is_refused() {
        for mut v in vectors() {
            let name = v.name.clone();
            if !v.body.is_empty()
                && v.expected["canonical_request"]
                    .as_str()
                    .unwrap()
                    .ends_with(std::str::from_utf8(&hex(&Sha256::digest(&v.body).into())).unwrap())
            {
                v.body[0] ^= 0x01;
                assert_signature_mismatch(
                    verify(&v.keys, &v.wire(), v.now),
                    &format!("{name}: body"),
                );
                v.body[0] ^= 0x01;
            }

            let original_uri = v.wire_uri.clone();
            v.wire_uri.insert(1, 'x');
            assert_signature_mismatch(verify(&v.keys, &v.wire(), v.now), &format!("{name}: path"));
            v.wire_uri = original_uri.clone();

            v.wire_uri.push_str(if original_uri.contains('?') {
                "&zz=1"
            } else {
                "?zz=1"
            });
            assert_signature_mismatch(verify(&v.keys, &v.wire(), v.now), &format!("{name}: query"));
            v.wire_uri = original_uri;

            let host = v.headers["host"].to_str().unwrap().to_string();
            v.headers
                .insert("host", HeaderValue::from_str(&format!("{host}x")).unwrap());
            assert_signature_mismatch(verify(&v.keys, &v.wire(), v.now), &format!("{name}: host"));
            v.headers
                .insert("host", HeaderValue::from_str(&host).unwrap());

            assert_eq!(
                verify(&v.keys, &v.wire(), v.now),
                Ok(Principal::AccessKey),
                "{name} restored"
            );
        }
    }

    #[test]
    fn the_mismatch_message_carries_the_server_canonical_request() {
        let mut v = vectors().remove(0);
        v.wire_uri.push_str("?limit=1");
        let err = verify(&v.keys, &v.wire(), v.now).unwrap_err();
        let canonical =
            v.expected["canonical_request"]
                .as_str()
                .unwrap()
                .replacen("\n\n", "\nlimit=1\n", 1);
        assert_eq!(
            err.error_msg(),
            format!(
                "Incorrect IAM authentication information: verify aksk signature fail, canonicalRequest: {canonical}"
            )
        );
    }

    #[test]
    fn dates_more_than_fifteen_minutes_off_are_expired() {
        let v = vectors().remove(0);
        assert!(verify(&v.keys, &v.wire(), v.now + MAX_SKEW_SECONDS).is_ok());
        assert!(verify(&v.keys, &v.wire(), v.now - MAX_SKEW_SECONDS).is_ok());
        for now in [
            v.now + MAX_SKEW_SECONDS + 1,
            v.now - MAX_SKEW_SECONDS - 1,
            v.now + 86_400,
        ] {
            let msg = verify(&v.keys, &v.wire(), now).unwrap_err().error_msg();
            assert!(msg.contains("signature expired"), "{msg}");
        }
    }

    #[test]
    fn unknown_access_key_and_malformed_headers_are_refused() {
        let mut v = vectors().remove(0);
        v.keys.access_key = "SOMEOTHERAK000000000".into();
        let msg = verify(&v.keys, &v.wire(), v.now).unwrap_err().error_msg();
        assert!(msg.contains("does not exist"), "{msg}");

        let v = vectors().remove(0);
        let good = v.expected["authorization"].as_str().unwrap().to_string();
        let malformed = [
            "Basic dXNlcjpwYXNz".to_string(),
            good.replace("SDK-HMAC-SHA256 ", "SDK-HMAC-SHA256,"),
            good.replace("Access=", "Acces="),
            good.replace(", Signature=", ", Sig="),
            good.replace("SignedHeaders=content-type;host;x-sdk-date, ", ""),
            good[..good.len() - 1].to_string(),
            format!("{}z", &good[..good.len() - 1]),
        ];
        for bad in malformed {
            let mut headers = v.headers.clone();
            headers.insert("authorization", HeaderValue::from_str(&bad).unwrap());
            let req = WireRequest {
                headers: &headers,
                ..v.wire()
            };
            let msg = verify(&v.keys, &req, v.now).unwrap_err().error_msg();
            assert!(
                msg.contains("malformed Authorization header"),
                "{bad}: {msg}"
            );
        }
    }

    #[test]
    fn host_and_date_must_be_signed_and_the_date_well_formed() {
        let v = vectors().remove(0);
        let good = v.expected["authorization"].as_str().unwrap().to_string();
        for signed in ["content-type;x-sdk-date", "content-type;host"] {
            let mut headers = v.headers.clone();
            let bad = good.replace("content-type;host;x-sdk-date", signed);
            headers.insert("authorization", HeaderValue::from_str(&bad).unwrap());
            let req = WireRequest {
                headers: &headers,
                ..v.wire()
            };
            let msg = verify(&v.keys, &req, v.now).unwrap_err().error_msg();
            assert!(msg.contains("must include host and x-sdk-date"), "{msg}");
        }
        let mut headers = v.headers.clone();
        headers.remove("x-sdk-date");
        let req = WireRequest {
            headers: &headers,
            ..v.wire()
        };
        let msg = verify(&v.keys, &req, v.now).unwrap_err().error_msg();
        assert!(msg.contains("X-Sdk-Date header is missing"), "{msg}");
        headers.insert(
            "x-sdk-date",
            HeaderValue::from_static("2024-03-12T08:15:00Z"),
        );
        let req = WireRequest {
            headers: &headers,
            ..v.wire()
        };
        let msg = verify(&v.keys, &req, v.now).unwrap_err().error_msg();
        assert!(msg.contains("is malformed"), "{msg}");
    }

    #[test]
    fn temporary_keys_need_their_signed_security_token() {
        let v = vectors()
            .into_iter()
            .find(|v| v.name == "security_token")
            .unwrap();
        let token = v.headers["x-security-token"].to_str().unwrap().to_string();
        let mut keys = keys("PERMANENTAK000000000", "unused");
        keys.temporary_access_key = v.keys.access_key.clone();
        keys.temporary_secret_key = v.keys.secret_key.clone();
        keys.security_token = token.clone();
        assert_eq!(
            verify(&keys, &v.wire(), v.now),
            Ok(Principal::TemporaryAccessKey)
        );

        keys.security_token = format!("{token}x");
        let msg = verify(&keys, &v.wire(), v.now).unwrap_err().error_msg();
        assert!(msg.contains("is temporary"), "{msg}");

        // A wrong signature: the message shows the canonical request, but not the token.
        keys.security_token = token.clone();
        keys.temporary_secret_key = "another-secret".into();
        let msg = verify(&keys, &v.wire(), v.now).unwrap_err().error_msg();
        assert!(
            msg.contains("verify aksk signature fail") && !msg.contains(&token),
            "{msg}"
        );
        assert!(msg.contains("\nx-security-token:** redacted **\n"), "{msg}");
        keys.temporary_secret_key = v.keys.secret_key.clone();

        // The right token, sent but not signed.
        keys.security_token = token;
        let good = v.expected["authorization"].as_str().unwrap();
        let unsigned = good.replace(";x-security-token", "");
        let mut headers = v.headers.clone();
        headers.insert("authorization", HeaderValue::from_str(&unsigned).unwrap());
        let req = WireRequest {
            headers: &headers,
            ..v.wire()
        };
        let msg = verify(&keys, &req, v.now).unwrap_err().error_msg();
        assert!(msg.contains("is temporary"), "{msg}");
    }

    #[test]
    fn iam_tokens_need_no_signature() {
        let keys = keys("AK", "SK");
        let verdict = |token: Option<&'static str>| {
            let mut headers = HeaderMap::new();
            if let Some(token) = token {
                headers.insert("x-auth-token", HeaderValue::from_static(token));
            }
            let req = WireRequest {
                method: "GET",
                path_and_query: "/v3/projects?name=cn-north-4",
                headers: &headers,
                body: b"",
            };
            verify(&keys, &req, 0).map_err(|e| e.error_msg())
        };
        let msg = verdict(None).unwrap_err();
        assert!(msg.contains("no credentials"), "{msg}");
        assert_eq!(verdict(Some("MIIiamtoken")), Ok(Principal::Token));
        let msg = verdict(Some("MIIwrong")).unwrap_err();
        assert!(msg.contains("X-Auth-Token is invalid"), "{msg}");
    }

    #[test]
    fn canonical_uri_and_query_follow_the_spec() {
        let uri = |path: &str| {
            let headers = HeaderMap::new();
            let req = WireRequest {
                method: "GET",
                path_and_query: path,
                headers: &headers,
                body: b"",
            };
            let text = canonical_request(&req, &[]).to_string();
            text.lines().nth(1).unwrap().to_owned()
        };
        assert_eq!(uri("/"), "/");
        assert_eq!(uri("/a/b"), "/a/b/");
        assert_eq!(uri("/a/b/"), "/a/b/");
        assert_eq!(uri("/a%2Fb"), "/a/b/");
        assert_eq!(uri("/a b+c"), "/a%20b%2Bc/");
        assert_eq!(uri("/%e4%b8%ad"), "/%E4%B8%AD/");
        assert_eq!(wire_canonical_query(""), "");
        assert_eq!(wire_canonical_query("b=2&a=1&a=0"), "a=0&a=1&b=2");
        assert_eq!(wire_canonical_query("e&x="), "e=&x=");
        // `+` is a literal plus, `%20` a space.
        assert_eq!(wire_canonical_query("q=a+b"), "q=a%2Bb");
        assert_eq!(wire_canonical_query("q=a%20b"), "q=a%20b");
    }

    #[test]
    fn a_bodiless_request_hashes_the_empty_string_even_when_unsigned() {
        // As the official signer: the client signs the empty-string hash when there is no body,
        // whatever X-Sdk-Content-Sha256 says.
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-sdk-content-sha256",
            HeaderValue::from_static("UNSIGNED-PAYLOAD"),
        );
        let req = WireRequest {
            method: "GET",
            path_and_query: "/",
            headers: &headers,
            body: b"",
        };
        let text = canonical_request(&req, &["x-sdk-content-sha256".to_owned()]).to_string();
        assert!(text.ends_with(&format!("\n{EMPTY_SHA256}")), "{text}");
        let req = WireRequest { body: b"x", ..req };
        let text = canonical_request(&req, &["x-sdk-content-sha256".to_owned()]).to_string();
        assert!(text.ends_with("\nUNSIGNED-PAYLOAD"), "{text}");
    }
}
