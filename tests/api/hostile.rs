//! Hostile servers and careless input: answers no real service gives (absurd `Retry-After`s,
//! redirects, endless or huge answers) and arguments no caller should pass (`Duration::MAX`),
//! over a real socket. Nothing may panic, leak a secret, send a write twice, or grow without
//! bound; every error keeps status and request id.

use std::time::Duration;

use cce_upgrade::ErrorKind;
use cce_upgrade::types::CreateUpgradeWorkFlowRequestBody;

use crate::common;
use common::scripted::{Reply, Scripted, answer};
use common::{client_for, start};

const CLUSTER: &str = "c0ffee00-0000-0000-0000-000000000001";

#[tokio::test]
async fn an_absurd_retry_after_ends_the_retries_instead_of_panicking() {
    // The unparsable one falls back to backoff, so all three attempts are made.
    for (retry_after, attempts) in [
        ("18446744073709551615", 2),
        ("Fri, 31 Dec 9999 23:59:59 GMT", 2),
        ("99999999999999999999999999", 3),
    ] {
        let server = Scripted::start(move |n, _| {
            let first = n == 0;
            answer(
                "429 Too Many Requests",
                &[
                    ("Retry-After", if first { "0" } else { retry_after }),
                    ("X-Request-Id", "req-429"),
                ],
                br#"{"error_code":"APIGW.0308","error_msg":"throttled"}"#,
            )
        })
        .await;
        let client = client_for(&server.url);
        let e = client
            .list_autopilot_upgrade_work_flows(CLUSTER)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Throttled, "{e}");
        assert_eq!(e.status().map(|s| s.as_u16()), Some(429));
        assert_eq!(e.request_id(), Some("req-429"));
        assert_eq!(server.count(), attempts, "{retry_after}");
    }
}

#[tokio::test]
async fn a_waiter_without_limits_does_not_overflow() {
    let emulator = start().await;
    let client = emulator.client_builder().build().unwrap();
    // An unknown task: the service answers 404 at once, so the waiter returns after one poll.
    let e = client
        .wait_for_upgrade_task(emulator.cluster_id(), "no-such-task")
        .timeout(Duration::MAX)
        .poll_interval(Duration::MAX, Duration::MAX)
        .await
        .unwrap_err();
    assert_eq!(e.status().map(|s| s.as_u16()), Some(404), "{e}");
}

#[tokio::test]
async fn redirects_are_never_followed_and_say_where_they_pointed() {
    let elsewhere = Scripted::start(|_, _| answer("200 OK", &[], b"{}")).await;
    for status in [
        "301 Moved Permanently",
        "302 Found",
        "303 See Other",
        "307 Temporary Redirect",
        "308 Permanent Redirect",
    ] {
        let target = format!(
            "{}/v3/stolen?token=QUERYSECRET#FRAGSECRET",
            elsewhere
                .url
                .replace("http://", "http://user:USERINFOSECRET@")
        );
        let server = Scripted::start(move |_, _| {
            answer(
                status,
                &[("Location", &target), ("X-Request-Id", "req-3xx")],
                b"",
            )
        })
        .await;
        let client = client_for(&server.url);
        let e = client
            .create_upgrade_work_flow(CLUSTER, &CreateUpgradeWorkFlowRequestBody::new("v1.29"))
            .await
            .unwrap_err();
        assert_eq!(server.count(), 1, "{status}: the write is sent once");
        assert_eq!(
            e.status().map(|s| s.as_u16().to_string()),
            Some(status[..3].to_owned())
        );
        assert_eq!(e.request_id(), Some("req-3xx"));
        let shown = format!("{e} {e:?}");
        let host = elsewhere.url.trim_start_matches("http://");
        assert!(shown.contains(&format!("{host}/v3/stolen")), "{shown}");
        assert!(shown.contains("redirect"), "{shown}");
        for secret in ["QUERYSECRET", "FRAGSECRET", "USERINFOSECRET"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
    }
    // The same URL again: one write, not eleven.
    let server = Scripted::start(|_, seen| {
        answer("307 Temporary Redirect", &[("Location", &seen.target)], b"")
    })
    .await;
    let client = client_for(&server.url);
    let e = client
        .create_upgrade_work_flow(CLUSTER, &CreateUpgradeWorkFlowRequestBody::new("v1.29"))
        .await
        .unwrap_err();
    assert_eq!(server.count(), 1, "{e}");
    assert_eq!(elsewhere.count(), 0, "nothing reaches a redirect's target");
}

fn small_cap_client(url: &str, limit: u64) -> cce_upgrade::Client {
    cce_upgrade::Client::builder()
        .endpoint(url)
        .credentials(cce_upgrade::Credentials::new(
            "AK-HOSTILE",
            "SK-HOSTILE-SECRET",
        ))
        .project_id("0123456789abcdef0123456789abcdef")
        .retry(common::quick_retry())
        .max_response_bytes(limit)
        .build()
        .unwrap()
}

#[tokio::test]
async fn an_answer_announcing_more_than_the_cap_is_not_read_nor_retried() {
    for status in ["200 OK", "503 Service Unavailable"] {
        // It announces 100 MiB and would send them; the client must not wait for them.
        let server = Scripted::start(move |_, _| Reply::Endless {
            head: format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nX-Request-Id: req-big\r\n\r\n",
                100 << 20
            )
            .into_bytes(),
            chunk: vec![b' '; 64 * 1024],
            limit: 100 << 20,
        })
        .await;
        let client = client_for(&server.url);
        let e = client
            .list_autopilot_upgrade_work_flows(CLUSTER)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ResponseTooLarge, "{e}");
        assert_eq!(
            e.status().map(|s| s.as_u16()),
            Some(status[..3].parse().unwrap())
        );
        assert_eq!(e.request_id(), Some("req-big"));
        assert_eq!(server.count(), 1, "not retried");
        let line = e.to_string();
        assert!(
            line.contains("104857600") && line.contains("max_response_bytes"),
            "{line}"
        );
    }
}

#[tokio::test]
async fn a_chunked_answer_stops_being_read_at_the_cap() {
    let mut chunk = format!("{:x}\r\n", 16 * 1024).into_bytes();
    chunk.extend_from_slice(&[b'a'; 16 * 1024]);
    chunk.extend_from_slice(b"\r\n");
    let server = Scripted::start(move |_, _| Reply::Endless {
        head: b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Request-Id: req-chunked\r\n\r\n"
            .to_vec(),
        chunk: chunk.clone(),
        limit: 1 << 30,
    })
    .await;
    let client = small_cap_client(&server.url, 1 << 20);
    let e = client
        .list_autopilot_upgrade_work_flows(CLUSTER)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ResponseTooLarge, "{e}");
    assert_eq!(e.request_id(), Some("req-chunked"));
    assert_eq!(server.count(), 1, "not retried");
    assert!(
        server.written() < 256 << 20,
        "the client stopped reading: {} bytes sent",
        server.written()
    );
}

#[tokio::test]
async fn an_answer_at_the_cap_is_read() {
    let body = br#"{"items":[]}"#;
    let server = Scripted::start(move |_, _| answer("200 OK", &[], body)).await;
    let client = small_cap_client(&server.url, body.len() as u64);
    let list = client
        .list_autopilot_upgrade_work_flows(CLUSTER)
        .await
        .unwrap();
    assert!(list.workflows().is_empty());
}

#[tokio::test]
async fn huge_error_bodies_and_request_ids_are_kept_as_bounded_snippets() {
    let id = "r".repeat(64 * 1024);
    let body = format!(
        r#"{{"error_code":"CCE.01400001","error_msg":"{}"}}"#,
        "m".repeat(1 << 20)
    );
    let server = Scripted::start(move |_, _| {
        answer("400 Bad Request", &[("X-Request-Id", &id)], body.as_bytes())
    })
    .await;
    let client = client_for(&server.url);
    let e = client
        .create_upgrade_work_flow(CLUSTER, &CreateUpgradeWorkFlowRequestBody::new("v1.29"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Service, "{e}");
    assert_eq!(e.status().map(|s| s.as_u16()), Some(400));
    let service = e.service_error().unwrap();
    assert!(service.request_id().unwrap().starts_with("rrrr"));
    assert!(service.request_id().unwrap().len() <= cce_upgrade::MAX_ERROR_HEADER + 3);
    assert!(service.error_msg().unwrap().len() <= cce_upgrade::MAX_ERROR_SNIPPET + 3);
    assert!(service.body().len() <= cce_upgrade::MAX_ERROR_SNIPPET + 3);
    assert!(e.to_string().len() < 3 * cce_upgrade::MAX_ERROR_SNIPPET);
}

#[tokio::test]
async fn huge_answer_headers_are_reported_as_such() {
    let server = Scripted::start(|_, _| {
        let mut raw = b"HTTP/1.1 200 OK\r\nX-Padding: ".to_vec();
        raw.extend(std::iter::repeat_n(b'p', 1 << 20));
        raw.extend_from_slice(b"\r\nContent-Length: 2\r\n\r\n{}");
        Reply::Raw(raw)
    })
    .await;
    let client = client_for(&server.url);
    let e = client
        .list_autopilot_upgrade_work_flows(CLUSTER)
        .await
        .unwrap_err();
    let line = e.to_string();
    assert!(line.contains("headers were too large"), "{line}");
    assert!(!line.contains("connection"), "{line}");
}

#[tokio::test]
async fn careless_endpoints_and_regions_are_refused_naming_the_fix() {
    let server = Scripted::start(|_, _| answer("200 OK", &[], br#"{"projects":[]}"#)).await;
    let addr = server.url.trim_start_matches("http://").to_owned();
    let builder = || {
        cce_upgrade::Client::builder().credentials(cce_upgrade::Credentials::new("AK", "SK-SECRET"))
    };
    // A region that would make the IAM host the scripted server.
    let e = builder().region(format!("x@{addr}/")).build().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Configuration);
    assert!(
        e.to_string().contains("region") && e.to_string().contains("cn-north-4"),
        "{e}"
    );
    assert_eq!(server.count(), 0);
    for (endpoint, says) in [
        ("http://cce.example.com", "allow_plain_http"),
        ("https://cce.example.com/?x=1", "?query"),
        ("https://cce.example.com/#f", "#fragment"),
        ("https://u:p@cce.example.com", "user:password@"),
    ] {
        for iam in [false, true] {
            let b = builder().region("cn-north-4").project_id("p");
            let b = if iam {
                b.endpoint("https://cce.example.com").iam_endpoint(endpoint)
            } else {
                b.endpoint(endpoint)
            };
            let e = b.build().unwrap_err().to_string();
            let field = if iam { "IAM endpoint" } else { "endpoint" };
            assert!(e.contains(says) && e.contains(field), "{e}");
        }
    }
    assert!(
        builder()
            .region("cn-north-4")
            .project_id("p")
            .endpoint("http://cce.example.com")
            .allow_plain_http(true)
            .build()
            .is_ok()
    );
}

#[tokio::test]
async fn concurrent_callers_share_one_project_id_lookup_and_its_failure() {
    let server = Scripted::start(|_, _| {
        answer(
            "503 Service Unavailable",
            &[("X-Request-Id", "iam-503")],
            br#"{"error_code":"IAM.0001","error_msg":"unavailable"}"#,
        )
    })
    .await;
    let retry = common::quick_retry();
    let client = cce_upgrade::Client::builder()
        .region("cn-north-4")
        .endpoint(&server.url)
        .iam_endpoint(&server.url)
        .credentials(cce_upgrade::Credentials::new("AK", "SK-SECRET"))
        .retry(retry.clone())
        .build()
        .unwrap();
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let client = client.clone();
        calls.spawn(async move { client.project_id().await.map(str::to_owned) });
    }
    let errors: Vec<String> = calls
        .join_all()
        .await
        .into_iter()
        .map(|r| {
            let e = r.unwrap_err();
            assert_eq!(e.status().map(|s| s.as_u16()), Some(503));
            assert_eq!(e.request_id(), Some("iam-503"));
            e.to_string()
        })
        .collect();
    assert_eq!(
        server.count(),
        retry.attempts() as usize,
        "one lookup for all 50"
    );
    assert!(errors.iter().all(|e| *e == errors[0]), "{errors:?}");
    // A later call tries again.
    assert!(client.project_id().await.is_err());
    assert_eq!(server.count(), 2 * retry.attempts() as usize);
}
