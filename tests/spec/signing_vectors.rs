//! Signs every vector of `tests/data/signing_vectors.json` and `signing_vectors_extra.json`
//! (computed by the official Huawei Cloud Python signer) through the public API alone (an
//! `http::Request` in, the headers and query to send out), and checks what would go on the wire.

use cce_upgrade::signing::{SignableRequest, SigningParams, parse_sdk_date, sign};
use http::header::{HeaderName, HeaderValue};
use reqwest::Url;
use serde_json::Value;

const VECTORS: &str = include_str!("../data/signing_vectors.json");
const EXTRA_VECTORS: &str = include_str!("../data/signing_vectors_extra.json");

fn text<'a>(value: &'a Value, field: &str) -> &'a str {
    value[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} is not a string in {value}"))
}

/// Builds the vector's request as a caller would: the query form-encoded (as
/// `RequestBuilder::query` does), the security token left to the signer.
fn request(vector: &Value) -> http::Request<Vec<u8>> {
    let mut url = Url::parse(&format!(
        "https://{}{}",
        text(vector, "host"),
        text(vector, "path")
    ))
    .expect("vector URL");
    let query = vector["query"].as_array().expect("query pairs");
    if !query.is_empty() {
        let mut pairs = url.query_pairs_mut();
        for pair in query {
            pairs.append_pair(
                pair[0].as_str().expect("key"),
                pair[1].as_str().expect("value"),
            );
        }
    }
    let mut request = http::Request::builder()
        .method(text(vector, "method"))
        .uri(url.as_str())
        .body(
            vector["body"]
                .as_str()
                .unwrap_or_default()
                .as_bytes()
                .to_vec(),
        )
        .expect("vector request");
    for (name, value) in vector["headers"].as_object().expect("headers") {
        if !name.eq_ignore_ascii_case("x-security-token") {
            request.headers_mut().append(
                HeaderName::from_bytes(name.as_bytes()).expect("header name"),
                HeaderValue::from_str(value.as_str().expect("header value")).expect("header value"),
            );
        }
    }
    request
}

fn security_token(vector: &Value) -> Option<&str> {
    vector["headers"]
        .as_object()
        .expect("headers")
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("x-security-token"))
        .and_then(|(_, value)| value.as_str())
}

/// Signs one vector; returns what differs from the official signer, if anything.
fn check(vector: &Value) -> Vec<String> {
    let expected = &vector["expected"];
    let mut request = request(vector);
    let params = SigningParams {
        access_key: text(vector, "ak"),
        secret_key: text(vector, "sk"),
        security_token: security_token(vector),
        time: parse_sdk_date(text(vector, "sdk_date")).expect("vector date"),
    };
    match sign(&SignableRequest::from_request(&request), &params) {
        Ok(output) => output.apply_to(&mut request),
        Err(error) => return vec![error.to_string()],
    }

    let mut problems = Vec::new();
    let mut compare = |what: &str, actual: Option<&str>, expected: Option<&str>| {
        if actual != expected {
            problems.push(format!("{what}: got {actual:?}, expected {expected:?}"));
        }
    };
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .map(|value| value.to_str().expect("ASCII header"))
    };
    // What the signer added, or else what the caller gave.
    let expected_header = |name: &str| {
        let find = |headers: &Value| {
            headers
                .as_object()
                .expect("headers")
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(name))
                .and_then(|(_, value)| value.as_str().map(str::to_owned))
        };
        find(&expected["added_headers"]).or_else(|| find(&vector["headers"]))
    };
    compare(
        "Authorization",
        header("authorization"),
        expected["authorization"].as_str(),
    );
    for name in ["X-Sdk-Date", "Host", "X-Sdk-Content-Sha256"] {
        compare(name, header(name), expected_header(name).as_deref());
    }
    let wire_uri = request.uri().path_and_query().map(|pq| pq.as_str());
    compare("wire URI", wire_uri, expected["wire_uri"].as_str());
    let sensitive = request
        .headers()
        .get("authorization")
        .is_some_and(HeaderValue::is_sensitive);
    if !sensitive {
        problems.push("Authorization is not marked sensitive".to_owned());
    }
    problems
}

/// Checks every vector of a vectors file; returns how many there were.
fn check_all(json: &str) -> usize {
    let root: Value = serde_json::from_str(json).expect("vectors JSON");
    let vectors = root["vectors"].as_array().expect("vectors");
    let failures: Vec<String> = vectors
        .iter()
        .flat_map(|vector| {
            check(vector)
                .into_iter()
                .map(move |problem| format!("{}: {problem}", text(vector, "name")))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} mismatch(es) with the official signer:\n{}",
        failures.len(),
        failures.join("\n")
    );
    vectors.len()
}

#[test]
fn official_signer_vectors() {
    assert_eq!(check_all(VECTORS), 90, "all the official vectors are there");
}

#[test]
fn official_signer_extra_vectors() {
    assert!(check_all(EXTRA_VECTORS) > 0, "the extra vectors are there");
}
