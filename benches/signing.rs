//! How long signing takes for a typical request (the create-upgrade-workflow POST of the first
//! signing vector: JSON body, no query), next to the official Python signer.
//!
//! Run with `cargo bench --bench signing`. It prints, in one run:
//! - `sign`: the one-shot form, which derives the HMAC key of the SK on every call;
//! - `sign_with_key`: the same with a `SigningKey` built once, as a client holds it;
//! - the official Python signer (`huaweicloudsdkcore`, `Signer.sign`) on the same request, timed by
//!   a small script run with `python3`, when both are installed (`pip install huaweicloudsdkcore`).
//!
//! Each call signs an `http::Request` through the public API and applies the output to it, as a
//! caller does. A plain `main` (harness = false): requests are built before the timed section and
//! dropped after it, so the figures are for signing alone. Calls are timed in batches of `BATCH`
//! (one clock read per batch, not per call; small enough that the batch stays in cache, as for a
//! client signing one request at a time); the mean is the total time over all calls, the median is
//! the median of the batches' per-call means. The median is the figure to compare: the mean takes
//! in whatever else the machine was doing, so the load average is printed too.

use std::hint::black_box;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cce_upgrade::signing::{
    KeyedSigningParams, SignableRequest, SigningKey, SigningParams, parse_sdk_date, sign,
    sign_with_key,
};
use http::header::{HeaderName, HeaderValue};
use serde_json::Value;

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

    let uri: http::Uri = format!("https://{}{}", field("host"), field("path"))
        .parse()
        .expect("URI");
    let method = http::Method::from_bytes(field("method").as_bytes()).expect("method");
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
    let body = field("body").as_bytes().to_vec();
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
    // Each request is built as a caller builds one (a new request, headers inserted).
    let build = || {
        let mut request = http::Request::new(body.clone());
        *request.method_mut() = method.clone();
        *request.uri_mut() = uri.clone();
        for (name, value) in &headers {
            request.headers_mut().insert(name.clone(), value.clone());
        }
        request
    };
    let one_shot = |request: &mut http::Request<Vec<u8>>| {
        sign(&SignableRequest::from_request(request), black_box(&params))
            .expect("sign")
            .apply_to(request);
    };
    let kept_key = |request: &mut http::Request<Vec<u8>>| {
        sign_with_key(&SignableRequest::from_request(request), black_box(&keyed))
            .expect("sign")
            .apply_to(request);
    };

    // Check once that every form signs what the vector expects.
    for signer in [&one_shot as &dyn Fn(&mut http::Request<Vec<u8>>), &kept_key] {
        let mut request = build();
        signer(&mut request);
        assert_eq!(
            request.headers()["authorization"],
            expected("authorization"),
            "the bench request must sign as the vector"
        );
    }

    println!("signing {name} ({})", load_average());

    let build_time = {
        let started = Instant::now();
        let built: Vec<_> = (0..BATCH).map(|_| black_box(build())).collect();
        let elapsed = started.elapsed() / BATCH as u32;
        drop(built);
        elapsed
    };

    let one_shot = measure(build, |request| one_shot(black_box(request)));
    one_shot.print("sign (SK keyed per call)");
    let with_key = measure(build, |request| kept_key(black_box(request)));
    with_key.print("sign_with_key (SigningKey kept)");
    println!(
        "  keeping the key saves {:.0}% (medians; building the request, excluded: {:.2} µs)",
        (1.0 - with_key.median / one_shot.median) * 100.0,
        build_time.as_secs_f64() * 1e6,
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
