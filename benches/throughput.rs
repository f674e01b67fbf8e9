//! Requests per second and per-call cost of `ShowUpgradeClusterTask` against the local emulator,
//! the SDK next to a bare `reqwest::Client`, and the SDK's own CPU cost measured without the
//! network.
//!
//! Run with `cargo bench --bench throughput` (with `THROUGHPUT_QUICK=1`, a tenth of the calls
//! and batches: a quick check that it runs, with noisier figures). A plain `main` (harness =
//! false) on a hand-built tokio multi-thread runtime (2 workers); all traffic goes to the
//! emulator on 127.0.0.1, and the task shown is a real upgrade task, run to its end first
//! (CreateUpgradeWorkFlow, UpgradeCluster, shown until it succeeds). It prints one table:
//!
//! - **network**: each client at concurrency 1 (`C1_REQUESTS` calls, in `C1_ROUNDS` interleaved
//!   rounds so that load on the machine falls on all clients alike; per-call latency mean, p50,
//!   p99) and at concurrency 64 (64 tasks in flight on one client, `C64_REQUESTS` calls in
//!   `C64_ROUNDS` interleaved rounds).
//!   - `sdk`: `Client::show_upgrade_cluster_task` (AK/SK signed, body decoded to `UpgradeTask`);
//!   - `bare, as generated`: what the SDK does without its plumbing: the request built as the
//!     generated code builds it, the SDK's headers and timeout, signed, sent, body read and
//!     decoded to `UpgradeTask`;
//!   - `bare, signed`: the same GET with the same headers from a request built once and cloned
//!     per call, signed with `cce_upgrade::signing::sign`, sent, body read (not decoded);
//!   - `bare, token`: the same with the emulator's IAM token in `X-Auth-Token`: no signing.
//!
//!   Differences at c=1 are given as the mean over all calls and as the median of the per-round
//!   differences (robust to load that drifts during the run). `sdk - bare, token` is everything
//!   the SDK adds per call, but note that the emulator verifies signatures on the same cores, so
//!   that difference also holds the server's verification; `sdk - bare, signed` has the same
//!   server work on both sides.
//! - **in isolation**: (a) `signing::sign` on a prepared show-task request, (b)
//!   `serde_json::from_slice::<UpgradeTask>` of the body the emulator sends, (c) building the
//!   request as the generated code does (`format!` of the URL with its ids percent-encoded, then
//!   `.get(url).header(..).headers(..).build()`); each timed in batches with `black_box`, mean and
//!   median of the batches, in µs per op; and their sum, against the 5 µs target. These are
//!   hot-loop figures: in a real call the same code runs with caches the network stack and the
//!   server have just used, and costs more.
//!
//! The server (the emulator) runs on the same runtime and cores as the clients, so the network
//! figures are for client and server together; the machine's load average is printed alongside.
//! The SDK is given the bare calls' `reqwest::Client` (built as the SDK builds its default one),
//! so that at c=1 all clients use the same pooled connection: with one connection each, where
//! tokio happens to place each connection's tasks moves the c=1 latency by more than the SDK's
//! own cost, and the comparison would measure that instead.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use cce_upgrade::Client;
use cce_upgrade::emulator::{Emulator, EmulatorConfig};
use cce_upgrade::signing::{SignableBody, SignableRequest, SigningError, SigningParams, sign};
use cce_upgrade::types::{
    CreateUpgradeWorkFlowRequestBody, UpgradeClusterRequestBody, UpgradeTask, UpgradeTaskPhase,
};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Request, StatusCode};

/// Calls per client at concurrency 1, split over `C1_ROUNDS` interleaved rounds.
const C1_REQUESTS: usize = 2_000;
const C1_ROUNDS: usize = 20;
/// Calls per client at concurrency `CONCURRENCY`, split over `C64_ROUNDS` interleaved rounds.
const C64_REQUESTS: usize = 20_000;
const C64_ROUNDS: usize = 4;
const CONCURRENCY: usize = 64;
/// Calls per client before measuring (at c=1, then at c=64 to open the connections).
const WARM_UP: usize = 300;
/// Isolated costs: iterations are timed in batches (one clock read per batch).
const BATCH: usize = 100;
/// Isolated costs: how many batches each.
const BATCHES: usize = 400;
/// The SDK's own cost per call, at most.
const TARGET_US: f64 = 5.0;

/// How many calls and batches to run: the constants above, or a tenth of them with
/// `THROUGHPUT_QUICK=1`.
#[derive(Clone, Copy, Debug)]
struct Counts {
    c1: usize,
    c64: usize,
    warm_up: usize,
    batches: usize,
}

impl Counts {
    fn from_env() -> Counts {
        let quick = std::env::var("THROUGHPUT_QUICK").is_ok_and(|v| !v.is_empty() && v != "0");
        let divisor = if quick { 10 } else { 1 };
        Counts {
            c1: C1_REQUESTS / divisor,
            c64: C64_REQUESTS / divisor,
            warm_up: WARM_UP / divisor,
            batches: BATCHES / divisor,
        }
    }
}

/// What every client sends, as the SDK sends it after its `pre` hook (minus the signature).
const USER_AGENT: &str = concat!("cce-upgrade-rust/", env!("CARGO_PKG_VERSION"));

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Sdk,
    BareGenerated,
    BareSigned,
    BareToken,
}

impl Mode {
    const ALL: [Mode; 4] = [
        Mode::Sdk,
        Mode::BareGenerated,
        Mode::BareSigned,
        Mode::BareToken,
    ];

    fn label(self) -> &'static str {
        match self {
            Mode::Sdk => "sdk",
            Mode::BareGenerated => "bare, as generated",
            Mode::BareSigned => "bare, signed",
            Mode::BareToken => "bare, token",
        }
    }
}

/// Everything a call needs; shared by all tasks.
struct Ctx {
    sdk: Client,
    http: reqwest::Client,
    endpoint: String,
    project: String,
    cluster: String,
    task: String,
    access_key: String,
    secret_key: String,
    /// The show-task GET with the SDK's headers, unsigned (cloned and signed per call).
    unsigned: Request,
    /// The same GET with `X-Auth-Token` instead of a signature.
    with_token: Request,
}

impl Ctx {
    async fn call(&self, mode: Mode) {
        match mode {
            Mode::Sdk => {
                let task = self
                    .sdk
                    .show_upgrade_cluster_task(&self.cluster, &self.task)
                    .await
                    .expect("ShowUpgradeClusterTask");
                black_box(&task);
            }
            Mode::BareGenerated => {
                let mut request = build_like_generated(
                    &self.http,
                    &self.endpoint,
                    &self.project,
                    &self.cluster,
                    &self.task,
                );
                // What the SDK's `pre` hook adds before signing.
                let headers = request.headers_mut();
                headers.remove("api-version");
                headers.insert(header::USER_AGENT, HeaderValue::from_static(USER_AGENT));
                headers.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                headers.insert(
                    HeaderName::from_static("x-project-id"),
                    HeaderValue::from_str(&self.project).expect("project id"),
                );
                *request.timeout_mut() = Some(cce_upgrade::DEFAULT_REQUEST_TIMEOUT);
                self.sign(&mut request);
                let body = self.send(request).await;
                black_box(serde_json::from_slice::<UpgradeTask>(&body).expect("an UpgradeTask"));
            }
            Mode::BareSigned => {
                let mut request = self.unsigned.try_clone().expect("no body");
                self.sign(&mut request);
                black_box(self.send(request).await);
            }
            Mode::BareToken => {
                let request = self.with_token.try_clone().expect("no body");
                black_box(self.send(request).await);
            }
        }
    }

    fn sign(&self, request: &mut Request) {
        let params = SigningParams {
            access_key: &self.access_key,
            secret_key: &self.secret_key,
            security_token: None,
            time: SystemTime::now(),
        };
        sign_reqwest(request, &params).expect("sign");
    }

    async fn send(&self, request: Request) -> bytes::Bytes {
        let response = self.http.execute(request).await.expect("bare GET");
        assert_eq!(response.status(), StatusCode::OK, "bare GET status");
        response.bytes().await.expect("bare GET body")
    }
}

/// The show-task request as the generated `show_upgrade_cluster_task` builds it (the
/// `to_string` copies included: that is what the generated code does).
#[allow(clippy::unnecessary_to_owned)]
fn build_like_generated(
    http: &reqwest::Client,
    endpoint: &str,
    project: &str,
    cluster: &str,
    task: &str,
) -> Request {
    let url = format!(
        "{}/api/v3/projects/{}/clusters/{}/operation/upgrade/tasks/{}",
        endpoint,
        utf8_percent_encode(&project.to_string(), NON_ALPHANUMERIC),
        utf8_percent_encode(&cluster.to_string(), NON_ALPHANUMERIC),
        utf8_percent_encode(&task.to_string(), NON_ALPHANUMERIC),
    );
    let mut header_map = HeaderMap::with_capacity(1);
    header_map.append(
        HeaderName::from_static("api-version"),
        HeaderValue::from_static("v3"),
    );
    http.get(url)
        .header(header::ACCEPT, HeaderValue::from_static("application/json"))
        .headers(header_map)
        .build()
        .expect("request")
}

/// Per-call latencies at concurrency 1, the time they took in all, and each round's mean.
#[derive(Default)]
struct Serial {
    latencies: Vec<Duration>,
    elapsed: Duration,
    round_means_us: Vec<f64>,
}

async fn serial(ctx: &Ctx, mode: Mode, calls: usize, into: &mut Serial) {
    let started = Instant::now();
    for _ in 0..calls {
        let t = Instant::now();
        ctx.call(mode).await;
        into.latencies.push(t.elapsed());
    }
    let elapsed = started.elapsed();
    into.elapsed += elapsed;
    into.round_means_us.push(micros(elapsed) / calls as f64);
}

/// `calls` calls by `concurrency` tasks sharing one client; returns the wall time.
async fn concurrent(ctx: &Arc<Ctx>, mode: Mode, calls: usize, concurrency: usize) -> Duration {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (ctx, next) = (Arc::clone(ctx), Arc::clone(&next));
        tasks.spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < calls {
                ctx.call(mode).await;
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("a bench task panicked");
    }
    started.elapsed()
}

struct Network {
    serial: Vec<(Mode, Serial)>,
    parallel: Vec<(Mode, Duration)>,
    body: bytes::Bytes,
    unsigned: Request,
    access_key: String,
    secret_key: String,
    project: String,
    cluster: String,
    task: String,
    endpoint: String,
    requests_served: usize,
}

async fn network(counts: Counts) -> Network {
    let emulator = Emulator::start_with(EmulatorConfig::fast())
        .await
        .expect("emulator");
    // One HTTP client for the SDK and the bare calls, configured as the SDK's default one: at
    // c=1 every client then sends on the same pooled connection, so all of them meet the same
    // connection tasks on the same workers (with a connection each, where tokio happens to
    // place those tasks moves the c=1 figures by more than the SDK's own cost).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .connect_timeout(cce_upgrade::DEFAULT_CONNECT_TIMEOUT)
        .build()
        .expect("HTTP client");
    let sdk = emulator
        .client_builder()
        .http_client(http.clone())
        .build()
        .expect("SDK client");
    let cluster = emulator.cluster_id().to_owned();
    let task = real_upgrade_task(&sdk, &cluster).await;

    let endpoint = emulator.endpoint();
    let project = emulator.project_id().to_owned();
    let url = format!(
        "{endpoint}/api/v3/projects/{project}/clusters/{cluster}/operation/upgrade/tasks/{task}"
    );
    let unsigned = http
        .get(&url)
        .header(header::ACCEPT, "application/json")
        .header(header::USER_AGENT, USER_AGENT)
        .header(header::CONTENT_TYPE, "application/json")
        .header("x-project-id", &project)
        .build()
        .expect("request");
    let mut with_token = unsigned.try_clone().expect("no body");
    let mut token = HeaderValue::from_str(emulator.auth_token()).expect("token");
    token.set_sensitive(true);
    with_token
        .headers_mut()
        .insert(HeaderName::from_static("x-auth-token"), token);

    let ctx = Arc::new(Ctx {
        sdk,
        http,
        endpoint: endpoint.clone(),
        project: project.clone(),
        cluster: cluster.clone(),
        task: task.clone(),
        access_key: emulator.access_key().to_owned(),
        secret_key: emulator.secret_key().to_owned(),
        unsigned: unsigned.try_clone().expect("no body"),
        with_token,
    });

    // The body the emulator sends for this task (for the decode bench), and a check that the
    // SDK decodes it to the task asked for.
    let body = {
        let response = ctx
            .http
            .execute(ctx.with_token.try_clone().expect("no body"))
            .await
            .expect("GET");
        assert_eq!(response.status(), StatusCode::OK);
        response.bytes().await.expect("body")
    };
    let shown = ctx
        .sdk
        .show_upgrade_cluster_task(&cluster, &task)
        .await
        .expect("show");
    assert_eq!(
        shown.metadata.as_ref().and_then(|m| m.uid.as_deref()),
        Some(task.as_str())
    );

    for mode in Mode::ALL {
        serial(&ctx, mode, counts.warm_up, &mut Serial::default()).await;
    }
    let mut serial_results: Vec<(Mode, Serial)> =
        Mode::ALL.iter().map(|&m| (m, Serial::default())).collect();
    for _ in 0..C1_ROUNDS {
        for (mode, into) in &mut serial_results {
            serial(&ctx, *mode, counts.c1 / C1_ROUNDS, into).await;
        }
    }

    for mode in Mode::ALL {
        concurrent(&ctx, mode, counts.warm_up * 4, CONCURRENCY).await;
    }
    let mut parallel: Vec<(Mode, Duration)> =
        Mode::ALL.iter().map(|&m| (m, Duration::ZERO)).collect();
    for _ in 0..C64_ROUNDS {
        for (mode, elapsed) in &mut parallel {
            *elapsed += concurrent(&ctx, *mode, counts.c64 / C64_ROUNDS, CONCURRENCY).await;
        }
    }

    let requests_served = emulator.requests().len();
    let access_key = ctx.access_key.clone();
    let secret_key = ctx.secret_key.clone();
    drop(ctx);
    emulator.shutdown().await;
    Network {
        serial: serial_results,
        parallel,
        body,
        unsigned,
        access_key,
        secret_key,
        project,
        cluster,
        task,
        endpoint,
        requests_served,
    }
}

/// Runs an upgrade of `cluster` the way the service expects (the emulator runs nothing by
/// itself): CreateUpgradeWorkFlow, UpgradeCluster, then the task shown until it succeeds (each
/// read moves it a step). Returns the task's id; showing it from then on always gives the same
/// answer.
async fn real_upgrade_task(sdk: &Client, cluster: &str) -> String {
    const TARGET: &str = "v1.29.10-r0";
    sdk.create_upgrade_work_flow(cluster, &CreateUpgradeWorkFlowRequestBody::new(TARGET))
        .await
        .expect("CreateUpgradeWorkFlow");
    let started = sdk
        .upgrade_cluster(cluster, &UpgradeClusterRequestBody::new(TARGET))
        .await
        .expect("UpgradeCluster");
    let task = started
        .metadata
        .as_ref()
        .and_then(|m| m.uid.clone())
        .expect("UpgradeCluster names its task");
    for _ in 0..100 {
        let shown = sdk
            .show_upgrade_cluster_task(cluster, &task)
            .await
            .expect("ShowUpgradeClusterTask");
        match shown.phase() {
            Some(UpgradeTaskPhase::Success) => return task,
            Some(phase) if phase.is_terminal() => panic!("the upgrade task ended {phase:?}"),
            _ => {}
        }
    }
    panic!("the upgrade task {task} did not end in 100 reads");
}

/// Mean and median (of the batches' per-op means) in µs of `op`, run `batches * BATCH` times;
/// `setup` makes each batch's inputs outside the timed section.
fn per_op<I, O>(
    batches: usize,
    mut setup: impl FnMut() -> I,
    mut op: impl FnMut(&mut I) -> O,
) -> (f64, f64) {
    // Warm up.
    for _ in 0..(batches / 10).max(1) {
        let mut input = setup();
        for _ in 0..BATCH {
            black_box(op(black_box(&mut input)));
        }
    }
    let mut per_batch = Vec::with_capacity(batches);
    let mut total = Duration::ZERO;
    for _ in 0..batches {
        let mut input = setup();
        let started = Instant::now();
        for _ in 0..BATCH {
            black_box(op(black_box(&mut input)));
        }
        let elapsed = started.elapsed();
        drop(black_box(input));
        total += elapsed;
        per_batch.push(elapsed.as_secs_f64() / BATCH as f64);
    }
    per_batch.sort_by(f64::total_cmp);
    let mean = total.as_secs_f64() / (batches * BATCH) as f64;
    (mean * 1e6, per_batch[batches / 2] * 1e6)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".to_owned())
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn main() {
    let started = Instant::now();
    let counts = Counts::from_env();
    let load_before = load_average();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    // Run on a worker (not on the main thread, which would add a thread hop to every call).
    let net = runtime
        .block_on(async { tokio::spawn(network(counts)).await })
        .expect("network part");
    let load_after_network = load_average();

    // --- In isolation ---------------------------------------------------------------------
    let params = SigningParams {
        access_key: &net.access_key,
        secret_key: &net.secret_key,
        security_token: None,
        time: SystemTime::now(),
    };
    let template = &net.unsigned;
    let (sign_mean, sign_median) = per_op(
        counts.batches,
        || {
            (0..BATCH)
                .map(|_| template.try_clone().expect("no body"))
                .collect::<Vec<Request>>()
        },
        {
            let mut i = 0;
            move |requests: &mut Vec<Request>| {
                let request = &mut requests[i % BATCH];
                i += 1;
                sign_reqwest(request, black_box(&params)).expect("sign");
            }
        },
    );
    let body = &net.body;
    let (decode_mean, decode_median) = per_op(
        counts.batches,
        || (),
        |_| serde_json::from_slice::<UpgradeTask>(black_box(body)).expect("an UpgradeTask"),
    );
    let http = reqwest::Client::new();
    let (endpoint, project, cluster, task) = (&net.endpoint, &net.project, &net.cluster, &net.task);
    let (build_mean, build_median) = per_op(
        counts.batches,
        || (),
        |_| build_like_generated(&http, black_box(endpoint), project, cluster, task),
    );
    let isolated_sum = sign_mean + decode_mean + build_mean;

    // --- Report -----------------------------------------------------------------------------
    let serial_of = |mode: Mode| &net.serial.iter().find(|(m, _)| *m == mode).expect("mode").1;
    let mean_us_of =
        |s: &Serial| micros(s.latencies.iter().sum::<Duration>()) / s.latencies.len() as f64;
    let mean_us = |mode: Mode| mean_us_of(serial_of(mode));
    println!();
    println!(
        "ShowUpgradeClusterTask vs emulator on 127.0.0.1 ({} cores, tokio multi-thread with 2 workers shared with the server)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!("load average before: {load_before}; after the network part: {load_after_network}");
    println!();
    println!(
        "{:<20} {:>10} {:>9} {:>9} {:>9} {:>11}",
        "client", "c=1 req/s", "mean µs", "p50 µs", "p99 µs", "c=64 req/s"
    );
    for (mode, s) in &net.serial {
        let mut sorted = s.latencies.clone();
        sorted.sort();
        let pct =
            |p: f64| micros(sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]);
        let parallel = net
            .parallel
            .iter()
            .find(|(m, _)| m == mode)
            .expect("mode")
            .1;
        println!(
            "{:<20} {:>10.0} {:>9.1} {:>9.1} {:>9.1} {:>11.0}",
            mode.label(),
            s.latencies.len() as f64 / s.elapsed.as_secs_f64(),
            mean_us(*mode),
            pct(0.5),
            pct(0.99),
            counts.c64 as f64 / parallel.as_secs_f64(),
        );
    }
    println!(
        "({} calls per client at c=1 in {C1_ROUNDS} interleaved rounds, {} at \
         c={CONCURRENCY} in {C64_ROUNDS}; {} requests served in all)",
        counts.c1, counts.c64, net.requests_served
    );
    println!();
    // Mean over all calls, and the median of the per-round differences.
    let difference = |a: Mode, b: Mode| {
        let (a, b) = (serial_of(a), serial_of(b));
        let mut per_round: Vec<f64> = a
            .round_means_us
            .iter()
            .zip(&b.round_means_us)
            .map(|(x, y)| x - y)
            .collect();
        per_round.sort_by(f64::total_cmp);
        (
            mean_us_of(a) - mean_us_of(b),
            per_round[per_round.len() / 2],
        )
    };
    println!("SDK own cost per call at c=1          mean diff  median of rounds");
    for (b, what) in [
        (
            Mode::BareToken,
            "everything the SDK adds, signing (and the emulator's verifying) included",
        ),
        (
            Mode::BareSigned,
            "the same server work on both sides: all but signing",
        ),
        (
            Mode::BareGenerated,
            "the SDK's plumbing alone: hooks, retry loop, records, span",
        ),
    ] {
        let (mean, median) = difference(Mode::Sdk, b);
        println!(
            "  sdk - {:<20} {mean:>9.1} µs {median:>11.1} µs   {what}",
            b.label()
        );
    }
    let (mean, median) = difference(Mode::BareSigned, Mode::BareToken);
    println!(
        "  bare, signed - token       {mean:>9.1} µs {median:>11.1} µs   signing + the emulator verifying, both on these cores"
    );
    println!();
    println!("SDK own cost in isolation ({BATCH}-op batches)   mean µs/op  median µs/op");
    println!("  (a) sign show-task request              {sign_mean:>10.2}  {sign_median:>12.2}");
    println!(
        "  (b) decode UpgradeTask ({:>4} B)          {decode_mean:>10.2}  {decode_median:>12.2}",
        body.len()
    );
    println!("  (c) build request (URL + headers)       {build_mean:>10.2}  {build_median:>12.2}");
    println!("  sum (a)+(b)+(c)                         {isolated_sum:>10.2}");
    let (end_to_end, _) = difference(Mode::Sdk, Mode::BareToken);
    let verdict = |us: f64| if us <= TARGET_US { "MET" } else { "NOT MET" };
    println!(
        "target <= {TARGET_US} µs per call: isolated sum {} ({isolated_sum:.2} µs); \
         end to end (sdk - bare, token, mean) {} ({end_to_end:.1} µs)",
        verdict(isolated_sum),
        verdict(end_to_end),
    );
    println!("total run time {:.1} s", started.elapsed().as_secs_f64());
}

/// Signs a `reqwest` request through the public signing API (`http` types), as a `reqwest` user
/// does: its URL read as a URI, the output's headers and query set on it.
fn sign_reqwest(request: &mut Request, params: &SigningParams<'_>) -> Result<(), SigningError> {
    let uri: http::Uri = request.url().as_str().parse().expect("a URL is a URI");
    let body = match request.body().map(reqwest::Body::as_bytes) {
        None => SignableBody::Bytes(&[]),
        Some(Some(bytes)) => SignableBody::Bytes(bytes),
        Some(None) => SignableBody::Stream,
    };
    let signable = SignableRequest::new(request.method(), &uri, request.headers(), body);
    let output = sign(&signable, params)?;
    request.url_mut().set_query(output.query());
    output.apply_to_headers(request.headers_mut());
    Ok(())
}
