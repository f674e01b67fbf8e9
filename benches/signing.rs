//! How long `signing::sign` takes for a typical request: the create-upgrade-workflow POST of the
//! first signing vector (JSON body, no query).
//!
//! Run with `cargo bench --bench signing`. A plain `main` (harness = false): requests are cloned
//! before the timed section and dropped after it, so the figures are for `sign` alone. Calls are
//! timed in batches of `BATCH` (one clock read per batch, not per call; small enough that the
//! batch stays in cache, as for a client signing one request at a time); the mean is the total
//! time over all calls, the median is the median of the batches' per-call means.

use std::hint::black_box;
use std::time::{Duration, Instant};

use cce_upgrade::signing::{SigningParams, parse_sdk_date, sign};
use reqwest::header::{HeaderName, HeaderValue};
use reqwest::{Body, Method, Request, Url};
use serde_json::Value;

const VECTORS: &str = include_str!("../tests/data/signing_vectors.json");
const BATCH: usize = 100;
const BATCHES: usize = 2_000;
const WARM_UP: usize = 20_000;

fn main() {
    let root: Value = serde_json::from_str(VECTORS).expect("vectors JSON");
    let vector = &root["vectors"][0];
    let field = |name: &str| vector[name].as_str().expect("string field");
    let name = field("name");

    let url = Url::parse(&format!("https://{}{}", field("host"), field("path"))).expect("URL");
    let method = Method::from_bytes(field("method").as_bytes()).expect("method");
    let mut template = Request::new(method, url);
    for (header, value) in vector["headers"].as_object().expect("headers") {
        template.headers_mut().insert(
            HeaderName::from_bytes(header.as_bytes()).expect("header name"),
            HeaderValue::from_str(value.as_str().expect("value")).expect("header value"),
        );
    }
    *template.body_mut() = Some(Body::from(field("body").to_owned()));
    let params = SigningParams {
        access_key: field("ak"),
        secret_key: field("sk"),
        security_token: None,
        time: parse_sdk_date(field("sdk_date")).expect("date"),
    };
    let clone = || template.try_clone().expect("a buffered body clones");

    // Check once that the bench signs what the vector expects.
    let mut request = clone();
    sign(&mut request, &params).expect("sign");
    assert_eq!(
        request.headers()["authorization"],
        vector["expected"]["authorization"]
            .as_str()
            .expect("authorization"),
        "the bench request must sign as the vector"
    );

    for _ in 0..WARM_UP {
        let mut request = clone();
        sign(black_box(&mut request), black_box(&params)).expect("sign");
        black_box(&request);
    }

    // Clone cost, for reference (not part of the figures below).
    let started = Instant::now();
    let clones: Vec<Request> = (0..BATCH).map(|_| black_box(clone())).collect();
    let clone_time = started.elapsed() / BATCH as u32;
    drop(clones);

    let mut per_call = Vec::with_capacity(BATCHES);
    let mut total = Duration::ZERO;
    for _ in 0..BATCHES {
        let mut requests: Vec<Request> = (0..BATCH).map(|_| clone()).collect();
        let started = Instant::now();
        for request in &mut requests {
            sign(black_box(request), black_box(&params)).expect("sign");
        }
        let elapsed = started.elapsed();
        black_box(&requests);
        drop(requests);
        total += elapsed;
        per_call.push(elapsed.as_secs_f64() / BATCH as f64);
    }
    per_call.sort_by(f64::total_cmp);
    let iterations = BATCH * BATCHES;
    let mean = total.as_secs_f64() / iterations as f64;
    let median = per_call[BATCHES / 2];
    println!(
        "sign({name}): mean {:.2} µs, median {:.2} µs over {iterations} iterations \
         (batches of {BATCH}; request clone, excluded: {:.2} µs)",
        mean * 1e6,
        median * 1e6,
        clone_time.as_secs_f64() * 1e6,
    );
}
