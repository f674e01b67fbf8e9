//! Retries and failures under injected faults: what is retried (reads; writes only when surely
//! not accepted), how often, how long it waits, and what the caller gets when it gives up.

use std::time::{Duration, Instant};

use cce_upgrade::emulator::{Fault, ReceivedRequest};
use cce_upgrade::signing::parse_sdk_date;
use cce_upgrade::types::CreateUpgradeWorkFlowRequestBody;
use cce_upgrade::{Client, Credentials, ErrorKind, RetryConfig};

use crate::common;
use common::{TARGET, client_with_retry, closed_port, quick_retry, start};

fn status(code: u16) -> Fault {
    Fault::Status {
        status: code,
        retry_after: None,
    }
}

fn body() -> CreateUpgradeWorkFlowRequestBody {
    CreateUpgradeWorkFlowRequestBody::new(TARGET)
}

/// Every attempt is a complete, individually valid request for the same thing.
fn assert_same_valid_request(requests: &[ReceivedRequest]) {
    let first = &requests[0];
    for req in requests {
        assert!(
            req.authenticated,
            "every attempt carries a valid signature: {req:?}"
        );
        assert!(
            req.header("authorization")
                .is_some_and(|a| a.starts_with("SDK-HMAC-SHA256 "))
        );
        assert!(req.header("x-sdk-date").is_some());
        assert_eq!(
            (&req.method, &req.uri, &req.body),
            (&first.method, &first.uri, &first.body)
        );
    }
}

#[tokio::test]
async fn a_read_survives_two_503s_in_a_row() {
    let emulator = start().await;
    let client = client_with_retry(&emulator, quick_retry());
    emulator.inject(status(503), 2);
    let list = client
        .list_autopilot_upgrade_work_flows(emulator.autopilot_cluster_id())
        .await
        .expect("the third attempt succeeds");
    assert_eq!(list.attempts(), 3);
    assert_eq!(list.status(), reqwest::StatusCode::OK);
    assert_eq!(list.workflows().len(), 1);
    let requests = emulator.requests();
    assert_eq!(requests.len(), 3);
    assert_eq!(requests[0].method, "GET");
    assert_same_valid_request(&requests);
}

#[tokio::test]
async fn a_read_honours_retry_after() {
    let emulator = start().await;
    // Retry-After is honoured as sent, above max_backoff.
    let retry = RetryConfig::default()
        .initial_backoff(Duration::from_millis(5))
        .max_backoff(Duration::from_millis(20));
    // The machine's clock: this test is about waiting for real, and signing the retry afresh.
    let client = emulator
        .client_builder()
        .retry(retry)
        .clock(std::sync::Arc::new(cce_upgrade::clock::SystemClock::new()))
        .build()
        .unwrap();
    emulator.inject(
        Fault::Status {
            status: 503,
            retry_after: Some(1),
        },
        1,
    );
    let started = Instant::now();
    let list = client
        .list_autopilot_upgrade_work_flows(emulator.autopilot_cluster_id())
        .await
        .expect("retried");
    let elapsed = started.elapsed();
    assert_eq!(list.attempts(), 2);
    assert!(elapsed >= Duration::from_secs(1), "waited only {elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "waited {elapsed:?}");
    let requests = emulator.requests();
    assert_eq!(requests.len(), 2);
    assert_same_valid_request(&requests);
    // The retry was signed afresh, at the time it was sent.
    let date = |r: &ReceivedRequest| parse_sdk_date(r.header("x-sdk-date").unwrap()).unwrap();
    let later = date(&requests[1])
        .duration_since(date(&requests[0]))
        .expect("not earlier");
    assert!(
        later >= Duration::from_secs(1),
        "the retry reused the first X-Sdk-Date"
    );
    assert_ne!(
        requests[0].header("authorization"),
        requests[1].header("authorization")
    );
}

#[tokio::test]
async fn a_429_storm_longer_than_max_attempts_is_throttled() {
    let emulator = start().await;
    let client = client_with_retry(&emulator, quick_retry().max_attempts(4));
    emulator.inject(status(429), 10);
    let started = Instant::now();
    let e = client
        .show_upgrade_cluster_task(emulator.cluster_id(), "any-task")
        .await
        .expect_err("still throttled");
    assert_eq!(e.kind(), ErrorKind::Throttled);
    assert_eq!(e.attempts(), 4);
    assert_eq!(e.status(), Some(reqwest::StatusCode::TOO_MANY_REQUESTS));
    assert_eq!(e.service_error().unwrap().error_code(), Some("APIGW.0308"));
    assert!(e.request_id().is_some());
    assert!(e.is_transient());
    assert!(e.to_string().contains("after 4 attempts"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(10), "no long waits");
    let requests = emulator.requests();
    assert_eq!(requests.len(), 4);
    assert_same_valid_request(&requests);
}

#[tokio::test]
async fn a_throttled_write_is_retried_and_acted_on_once() {
    let emulator = start().await;
    let client = client_with_retry(&emulator, quick_retry());
    emulator.inject(status(429), 1);
    let created = client
        .create_upgrade_work_flow(emulator.cluster_id(), &body())
        .await
        .expect("created");
    assert_eq!(created.attempts(), 2);
    assert_eq!(created.status(), reqwest::StatusCode::CREATED);
    assert_same_valid_request(&emulator.requests());
    assert_eq!(emulator.requests().len(), 2);
    assert_eq!(emulator.workflows(emulator.cluster_id()).len(), 1);
}

#[tokio::test]
async fn a_create_whose_answer_is_lost_is_outcome_unknown_and_not_resent() {
    let emulator = start().await;
    let client = client_with_retry(&emulator, quick_retry());
    let cluster = emulator.cluster_id();
    emulator.inject(Fault::DropAfterAction, 1);
    let e = client
        .create_upgrade_work_flow(cluster, &body())
        .await
        .expect_err("no answer");
    assert_eq!(e.kind(), ErrorKind::OutcomeUnknown);
    assert!(e.is_outcome_unknown());
    assert_eq!(e.attempts(), 1);
    assert_eq!(e.status(), None);
    assert!(
        std::error::Error::source(&e).is_some(),
        "the transport error is kept"
    );
    assert!(
        e.to_string()
            .contains("list the cluster's upgrade workflows"),
        "names the fix: {e}"
    );
    assert_eq!(
        emulator.requests().len(),
        1,
        "exactly one request reached the server"
    );
    assert_eq!(
        emulator.workflows(cluster).len(),
        1,
        "and it was acted on once"
    );
}

#[tokio::test]
async fn a_read_whose_answer_is_lost_is_retried() {
    let emulator = start().await;
    let client = client_with_retry(&emulator, quick_retry());
    emulator.inject(Fault::DropAfterAction, 1);
    let list = client
        .list_autopilot_upgrade_work_flows(emulator.autopilot_cluster_id())
        .await
        .expect("retried");
    assert_eq!(list.attempts(), 2);
    assert_eq!(emulator.requests().len(), 2);
}

#[tokio::test]
async fn a_create_refused_by_the_gateway_with_503_is_retried_and_acted_on_once() {
    let emulator = start().await;
    let client = client_with_retry(&emulator, quick_retry());
    let cluster = emulator.cluster_id();
    emulator.inject(status(503), 1); // APIGW.0201: the gateway did not pass it on
    let created = client
        .create_upgrade_work_flow(cluster, &body())
        .await
        .expect("created on the retry");
    assert_eq!(created.attempts(), 2);
    assert_eq!(created.status(), reqwest::StatusCode::CREATED);
    let requests = emulator.requests();
    assert_eq!(requests.len(), 2);
    assert_same_valid_request(&requests);
    let held = emulator.workflows(cluster);
    assert_eq!(held.len(), 1);
    assert_eq!(held[0]["metadata"]["uid"].as_str(), created.uid());
}

#[tokio::test]
async fn a_create_answered_by_an_html_502_is_not_retried() {
    let emulator = start().await;
    let client = client_with_retry(&emulator, quick_retry());
    let cluster = emulator.cluster_id();
    emulator.inject(Fault::HtmlBadGateway, 3);
    let e = client
        .create_upgrade_work_flow(cluster, &body())
        .await
        .expect_err("502");
    assert_eq!(e.kind(), ErrorKind::Service);
    assert_eq!(e.status(), Some(reqwest::StatusCode::BAD_GATEWAY));
    assert_eq!(e.attempts(), 1);
    let id = e.request_id().expect("the X-Request-Id of the 502");
    assert_eq!(id.len(), 32);
    let service = e.service_error().unwrap();
    assert_eq!(service.error_code(), None);
    let raw = String::from_utf8_lossy(service.body());
    assert!(
        raw.contains("<title>502 Bad Gateway</title>") && raw.contains("nginx"),
        "raw body kept: {raw}"
    );
    let line = e.to_string();
    assert!(
        line.contains("502") && line.contains(id) && line.contains("Bad Gateway"),
        "{line}"
    );
    assert!(!line.contains('\n'), "{line:?}");
    assert_eq!(
        emulator.requests().len(),
        1,
        "a write is not re-sent after a 502"
    );
    assert!(
        emulator.workflows(cluster).is_empty(),
        "the fault did not act"
    );
}

#[tokio::test]
async fn a_read_answered_by_an_html_502_without_retries_is_a_service_error() {
    let emulator = start().await;
    let client = client_with_retry(&emulator, RetryConfig::disabled());
    emulator.inject(Fault::HtmlBadGateway, 1);
    let e = client
        .list_autopilot_upgrade_work_flows(emulator.autopilot_cluster_id())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Service);
    assert_eq!(e.status(), Some(reqwest::StatusCode::BAD_GATEWAY));
    assert_eq!(e.request_id().map(str::len), Some(32));
    assert_eq!(e.attempts(), 1);
    assert!(e.is_transient());
    assert!(String::from_utf8_lossy(e.service_error().unwrap().body()).contains("502 Bad Gateway"));
    assert_eq!(emulator.requests().len(), 1);

    // With retries, the same fault on a read is retried away.
    let client = client_with_retry(&emulator, quick_retry());
    emulator.inject(Fault::HtmlBadGateway, 1);
    let list = client
        .list_autopilot_upgrade_work_flows(emulator.autopilot_cluster_id())
        .await
        .unwrap();
    assert_eq!(list.attempts(), 2);
}

#[tokio::test]
async fn a_silent_server_times_out_a_read() {
    let emulator = start().await;
    let client = emulator
        .client_builder()
        .request_timeout(Duration::from_millis(300))
        .retry(RetryConfig::disabled())
        .build()
        .unwrap();
    emulator.inject(Fault::Delay(Duration::from_secs(10)), 1);
    let started = Instant::now();
    let e = client
        .list_autopilot_upgrade_work_flows(emulator.autopilot_cluster_id())
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(e.kind(), ErrorKind::TimedOut);
    assert!(e.is_transient());
    assert_eq!(e.attempts(), 1);
    assert!(
        elapsed >= Duration::from_millis(300) && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
    assert!(std::error::Error::source(&e).is_some());
    assert_eq!(emulator.requests().len(), 1);
}

#[tokio::test]
async fn a_silent_server_leaves_a_write_outcome_unknown() {
    let emulator = start().await;
    let client = emulator
        .client_builder()
        .request_timeout(Duration::from_millis(300))
        .retry(quick_retry())
        .build()
        .unwrap();
    emulator.inject(Fault::Delay(Duration::from_secs(10)), 1);
    let started = Instant::now();
    let e = client
        .create_upgrade_work_flow(emulator.cluster_id(), &body())
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(e.kind(), ErrorKind::OutcomeUnknown);
    assert_eq!(
        e.attempts(),
        1,
        "a write that may have arrived is not re-sent, retries or not"
    );
    assert!(e.to_string().contains("timed out"), "{e}");
    assert!(
        elapsed >= Duration::from_millis(300) && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
    assert_eq!(emulator.requests().len(), 1);
}

#[tokio::test]
async fn a_refused_connection_is_retried_even_for_a_write() {
    let closed = closed_port().await;
    let client = Client::builder()
        .endpoint(format!("http://{closed}"))
        .credentials(Credentials::new(
            "AKAKAKAKAKAKAKAKAKAK",
            "SKSKSKSKSKSKSKSKSKSKSKSKSKSKSKSKSKSKSKSK",
        ))
        .project_id("0123456789abcdef0123456789abcdef")
        .retry(quick_retry().max_attempts(4))
        .build()
        .unwrap();
    let started = Instant::now();
    let e = client
        .create_upgrade_work_flow("cluster", &body())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Connect);
    assert_eq!(
        e.attempts(),
        4,
        "nothing was sent, so the write was tried again"
    );
    assert!(e.to_string().contains("nothing was sent"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(10), "no long waits");

    let e = client
        .list_autopilot_upgrade_work_flows("cluster")
        .await
        .unwrap_err();
    assert_eq!((e.kind(), e.attempts()), (ErrorKind::Connect, 4));
}

#[tokio::test]
async fn the_total_budget_stops_retries() {
    let emulator = start().await;
    // The server asks for 1 s; the budget is 300 ms: the client gives up at once.
    let retry = RetryConfig::default()
        .max_attempts(5)
        .initial_backoff(Duration::from_millis(5))
        .budget(Duration::from_millis(300));
    let client = client_with_retry(&emulator, retry);
    emulator.inject(
        Fault::Status {
            status: 503,
            retry_after: Some(1),
        },
        5,
    );
    let started = Instant::now();
    let e = client
        .list_autopilot_upgrade_work_flows(emulator.autopilot_cluster_id())
        .await
        .unwrap_err();
    // It did not sleep the 1 s the server asked for (attempts() says it did not retry).
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(e.kind(), ErrorKind::Service);
    assert_eq!(e.status(), Some(reqwest::StatusCode::SERVICE_UNAVAILABLE));
    assert_eq!(e.service_error().unwrap().error_code(), Some("APIGW.0201"));
    assert_eq!(e.attempts(), 1);
    assert_eq!(emulator.requests().len(), 1);

    // A Retry-After of 1 s does not fit a 250 ms budget: no retry at all, and no waiting.
    let emulator = start().await;
    let retry = RetryConfig::default()
        .max_attempts(5)
        .max_backoff(Duration::from_millis(100))
        .budget(Duration::from_millis(250));
    let client = client_with_retry(&emulator, retry);
    emulator.inject(
        Fault::Status {
            status: 503,
            retry_after: Some(1),
        },
        5,
    );
    let started = Instant::now();
    let e = client
        .list_autopilot_upgrade_work_flows(emulator.autopilot_cluster_id())
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(e.attempts(), 1, "{elapsed:?}");
    // No retry, and no waiting for the 1 s the server asked for.
    assert!(elapsed < Duration::from_secs(1), "{elapsed:?}");
    assert_eq!(emulator.requests().len() as u32, e.attempts());
    assert!(e.to_string().contains("503"), "{e}");
}

/// Records what an interceptor sees and tags every attempt with a header naming it.
#[derive(Default)]
struct Recorder {
    seen: std::sync::Mutex<Vec<String>>,
}

impl cce_upgrade::interceptor::Interceptor for Recorder {
    fn before_signing(&self, request: &mut cce_upgrade::interceptor::BeforeSigning<'_>) {
        assert!(
            !request.headers().contains_key("authorization")
                && !request.headers().contains_key("x-sdk-date"),
            "a retry is shown without its old signature"
        );
        let tag = format!("{}-{}", request.operation(), request.attempt());
        request
            .headers_mut()
            .insert("x-trace-id", http::HeaderValue::from_str(&tag).unwrap());
        self.seen.lock().unwrap().push(format!("before {tag}"));
    }

    fn after_attempt(&self, attempt: &cce_upgrade::interceptor::AfterAttempt<'_>) {
        let outcome = match (attempt.status(), attempt.error()) {
            (Some(status), None) => status.as_u16().to_string(),
            (None, Some(_)) => "error".to_owned(),
            other => panic!("a status or an error, not {other:?}"),
        };
        self.seen.lock().unwrap().push(format!(
            "after {}-{} {} {outcome} retry={}",
            attempt.operation(),
            attempt.attempt(),
            attempt.method(),
            attempt.will_retry()
        ));
    }
}

#[tokio::test]
async fn an_interceptor_adds_a_signed_header_and_sees_every_attempt() {
    let emulator = start().await;
    let recorder = std::sync::Arc::new(Recorder::default());
    struct Shared(std::sync::Arc<Recorder>);
    impl cce_upgrade::interceptor::Interceptor for Shared {
        fn before_signing(&self, request: &mut cce_upgrade::interceptor::BeforeSigning<'_>) {
            self.0.before_signing(request);
        }
        fn after_attempt(&self, attempt: &cce_upgrade::interceptor::AfterAttempt<'_>) {
            self.0.after_attempt(attempt);
        }
    }
    let client = emulator
        .client_builder()
        .retry(quick_retry())
        .interceptor(Shared(recorder.clone()))
        .build()
        .unwrap();
    emulator.inject(status(503), 1);
    let list = client
        .list_autopilot_upgrade_work_flows(emulator.autopilot_cluster_id())
        .await
        .expect("the second attempt succeeds");
    assert_eq!(list.attempts(), 2);

    let operation = "ListAutopilotUpgradeWorkFlows";
    assert_eq!(
        *recorder.seen.lock().unwrap(),
        [
            format!("before {operation}-1"),
            format!("after {operation}-1 GET 503 retry=true"),
            format!("before {operation}-2"),
            format!("after {operation}-2 GET 200 retry=false"),
        ]
    );
    // The server got the header on each attempt, signed: the signature, which covers it, was
    // accepted, and the header is among the signed ones.
    let requests = emulator.requests();
    assert_eq!(requests.len(), 2);
    for (i, request) in requests.iter().enumerate() {
        assert!(request.authenticated, "{request:?}");
        assert_eq!(
            request.header("x-trace-id"),
            Some(format!("{operation}-{}", i + 1).as_str())
        );
        let authorization = request.header("authorization").unwrap();
        assert!(
            authorization.contains("x-trace-id"),
            "x-trace-id is signed: {authorization}"
        );
    }
}

#[tokio::test]
async fn an_interceptor_sees_a_transport_error() {
    let address = closed_port().await;
    let recorder = std::sync::Arc::new(Recorder::default());
    struct Shared(std::sync::Arc<Recorder>);
    impl cce_upgrade::interceptor::Interceptor for Shared {
        fn after_attempt(&self, attempt: &cce_upgrade::interceptor::AfterAttempt<'_>) {
            self.0.after_attempt(attempt);
        }
    }
    let client = Client::builder()
        .endpoint(format!("http://{address}"))
        .credentials(Credentials::new("AK", "SK"))
        .project_id("0123456789abcdef0123456789abcdef")
        .retry(quick_retry().max_attempts(2))
        .interceptor(Shared(recorder.clone()))
        .build()
        .unwrap();
    let error = client
        .list_autopilot_upgrade_work_flows("c1")
        .await
        .unwrap_err();
    assert_eq!(error.attempts(), 2, "{error}");
    assert_eq!(
        *recorder.seen.lock().unwrap(),
        [
            "after ListAutopilotUpgradeWorkFlows-1 GET error retry=true",
            "after ListAutopilotUpgradeWorkFlows-2 GET error retry=false",
        ]
    );
}
