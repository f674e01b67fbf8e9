//! Hostile servers and careless input: answers no real service gives (absurd `Retry-After`s,
//! redirects, endless or huge answers) and arguments no caller should pass (`Duration::MAX`),
//! over a real socket. Nothing may panic, leak a secret, send a write twice, or grow without
//! bound; every error keeps status and request id.

use std::time::Duration;

use cce_upgrade::ErrorKind;
use cce_upgrade::emulator::EmulatorConfig;
use cce_upgrade::types::CreateUpgradeWorkFlowRequestBody;

mod common;
use common::scripted::{Scripted, answer};
use common::{client_for, start_with};

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
    let emulator = start_with(EmulatorConfig::fast()).await;
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
