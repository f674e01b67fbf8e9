//! How long signing takes for a typical request (the create-upgrade-workflow POST of the first
//! signing vector: JSON body, no query), next to its floor and to the official Python signer.
//!
//! Run with `cargo bench --bench signing`. It prints, in one run:
//! - `sign`: the one-shot form, which derives the HMAC key of the SK on every call;
//! - `sign_with_key`: the same with a `SigningKey` built once, as a client holds it;
//! - the floor: the bare work any signer must do on the same input (SHA-256 of the body, SHA-256
//!   of the canonical request, the HMAC of the string to sign, hex), with the HMAC key derived per
//!   call and once;
//! - the official Python signer (`huaweicloudsdkcore`, `Signer.sign`) on the same request, timed by
//!   a small script run with `python3`, when both are installed (`pip install huaweicloudsdkcore`).
//!
//! A plain `main` (harness = false): requests are built before the timed section and dropped
//! after it, so the figures are for signing alone. Calls are timed in batches of `BATCH` (one
//! clock read per batch, not per call; small enough that the batch stays in cache, as for a client
//! signing one request at a time); the mean is the total time over all calls, the median is the
//! median of the batches' per-call means. The median is the figure to compare: the mean takes in
//! whatever else the machine was doing, so the load average is printed too.

use std::hint::black_box;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cce_upgrade::signing::{
    KeyedSigningParams, SigningKey, SigningParams, parse_sdk_date, sign, sign_with_key,
};
use hmac::{Hmac, Mac};
use reqwest::header::{HeaderName, HeaderValue};
use reqwest::{Body, Method, Request, Url};
use serde_json::Value;
use sha2::{Digest, Sha256};

const VECTORS: &str = include_str!("../tests/data/signing_vectors.json");
const BATCH: usize = 100;
const BATCHES: usize = 2_000;
const WARM_UP: usize = 20_000;

fn main() {
    let root: Value = serde_json::from_str(VECTORS).expect("vectors JSON");
    let vector = &root["vectors"][0];
    let field = |name: &str| vector[name].as_str().expect("string field");
    let expected = |name: &str| vector["expected"][name].as_str().expect("expected field");
    let name = field("name");

    let url = Url::parse(&format!("https://{}{}", field("host"), field("path"))).expect("URL");
    let method = Method::from_bytes(field("method").as_bytes()).expect("method");
    let headers: Vec<(HeaderName, HeaderValue)> = vector["headers"]
        .as_object()
        .expect("headers")
        .iter()
        .map(|(header, value)| {
            (
                HeaderName::from_bytes(header.as_bytes()).expect("header name"),
                HeaderValue::from_str(value.as_str().expect("value")).expect("header value"),
            )
        })
        .collect();
    let body = bytes::Bytes::from(field("body").to_owned());
    let params = SigningParams {
        access_key: field("ak"),
        secret_key: field("sk"),
        security_token: None,
        time: parse_sdk_date(field("sdk_date")).expect("date"),
    };
    let signing_key = SigningKey::new(params.secret_key).expect("signing key");
    let keyed = KeyedSigningParams {
        access_key: params.access_key,
        signing_key: &signing_key,
        security_token: None,
        time: params.time,
    };
    // Each request is built as the client builds one (a new `Request`, headers inserted), not
    // cloned: a cloned `HeaderMap` has no room left, so the headers the signer adds would grow it,
    // which the client's requests (and its retries, which drop `Authorization` and `X-Sdk-Date`
    // from a clone before signing it again) do not pay.
    let clone = || {
        let mut request = Request::new(method.clone(), url.clone());
        for (name, value) in &headers {
            request.headers_mut().insert(name.clone(), value.clone());
        }
        *request.body_mut() = Some(Body::from(body.clone()));
        request
    };

    // Check once that every form signs what the vector expects.
    for signer in [
        &(|request: &mut Request| sign(request, &params)) as &dyn Fn(&mut Request) -> _,
        &|request: &mut Request| sign_with_key(request, &keyed),
    ] {
        let mut request = clone();
        signer(&mut request).expect("sign");
        assert_eq!(
            request.headers()["authorization"],
            expected("authorization"),
            "the bench request must sign as the vector"
        );
    }
    let floor_input = FloorInput {
        body: field("body").as_bytes(),
        canonical_request: expected("canonical_request").as_bytes(),
        date: field("sdk_date").as_bytes(),
        secret_key: params.secret_key.as_bytes(),
    };
    assert_eq!(
        &floor(&floor_input, &new_mac(floor_input.secret_key)),
        expected("signature").as_bytes(),
        "the floor must compute the vector's signature"
    );

    println!("signing {name} ({})", load_average());

    let clone_time = {
        let started = Instant::now();
        let clones: Vec<Request> = (0..BATCH).map(|_| black_box(clone())).collect();
        let elapsed = started.elapsed() / BATCH as u32;
        drop(clones);
        elapsed
    };

    let one_shot = measure(clone, |request| {
        sign(black_box(request), black_box(&params)).expect("sign");
    });
    one_shot.print("sign (SK keyed per call)");
    let with_key = measure(clone, |request| {
        sign_with_key(black_box(request), black_box(&keyed)).expect("sign");
    });
    with_key.print("sign_with_key (SigningKey kept)");

    let floor_per_call = measure(
        || (),
        |()| {
            let mac = new_mac(black_box(floor_input.secret_key));
            black_box(floor(black_box(&floor_input), &mac));
        },
    );
    floor_per_call.print("floor, HMAC keyed per call");
    let prepared_mac = new_mac(floor_input.secret_key);
    let floor_keyed = measure(
        || (),
        |()| {
            black_box(floor(black_box(&floor_input), black_box(&prepared_mac)));
        },
    );
    floor_keyed.print("floor, HMAC key kept");
    println!(
        "  sign / its floor: {:.2}x; sign_with_key / its floor: {:.2}x \
         (medians; building the request, excluded: {:.2} µs)",
        one_shot.median / floor_per_call.median,
        with_key.median / floor_keyed.median,
        clone_time.as_secs_f64() * 1e6,
    );

    match official_signer(vector) {
        Ok(official) => {
            official.print("official Python signer (huaweicloudsdkcore)");
            println!(
                "  official / sign_with_key: {:.0}x (medians), {:.0}x (means)",
                official.median / with_key.median,
                official.mean / with_key.mean,
            );
        }
        Err(why) => println!("  official Python signer: skipped, {why}"),
    }
}

/// Per-call times of a measured operation, in seconds.
struct Figures {
    mean: f64,
    median: f64,
    iterations: usize,
}

impl Figures {
    fn print(&self, what: &str) {
        println!(
            "  {what:<44} median {:>6.3} µs, mean {:>6.3} µs over {} calls",
            self.median * 1e6,
            self.mean * 1e6,
            self.iterations,
        );
    }
}

/// Times `op` on inputs made by `make` outside the timed section, in batches (see the module
/// docs), after a warm-up.
fn measure<T>(mut make: impl FnMut() -> T, mut op: impl FnMut(&mut T)) -> Figures {
    for _ in 0..WARM_UP {
        let mut input = make();
        op(&mut input);
        black_box(&input);
    }
    let mut per_call = Vec::with_capacity(BATCHES);
    let mut total = Duration::ZERO;
    for _ in 0..BATCHES {
        let mut inputs: Vec<T> = (0..BATCH).map(|_| make()).collect();
        let started = Instant::now();
        for input in &mut inputs {
            op(input);
        }
        let elapsed = started.elapsed();
        black_box(&inputs);
        drop(inputs);
        total += elapsed;
        per_call.push(elapsed.as_secs_f64() / BATCH as f64);
    }
    per_call.sort_by(f64::total_cmp);
    let iterations = BATCH * BATCHES;
    Figures {
        mean: total.as_secs_f64() / iterations as f64,
        median: per_call[BATCHES / 2],
        iterations,
    }
}

/// What the floor works on: the body, the canonical request's text (as the vector gives it), the
/// date and the SK.
struct FloorInput<'a> {
    body: &'a [u8],
    canonical_request: &'a [u8],
    date: &'a [u8],
    secret_key: &'a [u8],
}

fn new_mac(secret_key: &[u8]) -> Hmac<Sha256> {
    Hmac::new_from_slice(secret_key).expect("HMAC takes any key")
}

/// The bare work of a signature: the two SHA-256 and the HMAC, each in hex as the algorithm uses
/// it, with nothing else (no request, no headers, no canonical form to build).
fn floor(input: &FloorInput<'_>, mac: &Hmac<Sha256>) -> [u8; 64] {
    black_box(hex(&Sha256::digest(input.body).into()));
    let canonical_hash = hex(&Sha256::digest(input.canonical_request).into());
    let mut mac = mac.clone();
    mac.update(b"SDK-HMAC-SHA256\n");
    mac.update(input.date);
    mac.update(b"\n");
    mac.update(&canonical_hash);
    hex(&mac.finalize().into_bytes().into())
}

fn hex(digest: &[u8; 32]) -> [u8; 64] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0; 64];
    for (pair, byte) in out.chunks_exact_mut(2).zip(digest) {
        pair[0] = DIGITS[usize::from(byte >> 4)];
        pair[1] = DIGITS[usize::from(byte & 0xf)];
    }
    out
}

/// The load average, for the record: figures taken on a busy machine are worth less.
fn load_average() -> String {
    match std::fs::read_to_string("/proc/loadavg") {
        Ok(text) => {
            let figures: Vec<&str> = text.split_whitespace().take(3).collect();
            format!(
                "load average {} on {} cores",
                figures.join(" "),
                std::thread::available_parallelism().map_or(0, |n| n.get())
            )
        }
        Err(_) => "load average unknown".to_owned(),
    }
}

/// Runs [`OFFICIAL_SIGNER`] with `python3` on the vector; its figures, or why not.
fn official_signer(vector: &Value) -> Result<Figures, String> {
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(OFFICIAL_SIGNER)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("python3 cannot be run ({e})"))?;
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(vector.to_string().as_bytes())
        .map_err(|e| format!("cannot write to python3: {e}"))?;
    let output = child
        .wait_with_output()
        .map_err(|e| format!("python3 failed: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if output.status.code() == Some(MISSING) {
        return Err(format!(
            "huaweicloudsdkcore is not installed (pip install huaweicloudsdkcore): {}",
            stdout.trim()
        ));
    }
    if !output.status.success() {
        return Err(format!(
            "the timing script failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let figures: Value = serde_json::from_str(stdout.trim())
        .map_err(|e| format!("unreadable output {stdout:?}: {e}"))?;
    let seconds = |name: &str| figures[name].as_f64().map(|ns| ns * 1e-9);
    Ok(Figures {
        mean: seconds("mean_ns").ok_or("no mean")?,
        median: seconds("median_ns").ok_or("no median")?,
        iterations: figures["iterations"].as_u64().ok_or("no count")? as usize,
    })
}

/// The exit status of [`OFFICIAL_SIGNER`] when the package is missing.
const MISSING: i32 = 3;

/// Times the official signer (`huaweicloudsdkcore.signer.signer.Signer.sign`) on the vector read
/// from stdin: checks once, at the vector's date, that it signs as the vector expects, then times
/// it as the official client calls it (no `X-Sdk-Date` given: it reads the clock and formats the
/// date itself, as `sign` formats the time it is given). Prints JSON figures in nanoseconds.
const OFFICIAL_SIGNER: &str = r#"
import json, statistics, sys, time
try:
    from huaweicloudsdkcore.sdk_request import SdkRequest
    from huaweicloudsdkcore.signer.signer import Signer
except ImportError as error:
    print(error)
    sys.exit(3)

vector = json.load(sys.stdin)

class Credentials:
    ak = vector["ak"]
    sk = vector["sk"]

signer = Signer(Credentials())

def request(dated):
    headers = dict(vector["headers"])
    if dated:
        headers["X-Sdk-Date"] = vector["sdk_date"]
    return SdkRequest(method=vector["method"], schema="https", host=vector["host"],
                      resource_path=vector["path"],
                      query_params=[tuple(pair) for pair in vector["query"]],
                      header_params=headers, body=vector["body"])

signed = signer.sign(request(True))
assert signed.header_params["Authorization"] == vector["expected"]["authorization"], \
    signed.header_params["Authorization"]

BATCH, BATCHES, WARM_UP = 100, 100, 2000
for r in [request(False) for _ in range(WARM_UP)]:
    signer.sign(r)
per_call, total = [], 0
for _ in range(BATCHES):
    batch = [request(False) for _ in range(BATCH)]
    started = time.perf_counter_ns()
    for r in batch:
        signer.sign(r)
    elapsed = time.perf_counter_ns() - started
    total += elapsed
    per_call.append(elapsed / BATCH)
print(json.dumps({"median_ns": statistics.median(per_call),
                  "mean_ns": total / (BATCH * BATCHES),
                  "iterations": BATCH * BATCHES}))
"#;
