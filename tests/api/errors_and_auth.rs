//! Failure paths over real sockets: refused credentials, expired signatures, inputs checked
//! before sending, and service errors — what the caller gets back, and that secrets never
//! appear in it.

use std::error::Error as _;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use cce_upgrade::emulator::Emulator;
use cce_upgrade::signing::{SignableRequest, SigningParams, parse_sdk_date, sdk_date, sign};
use cce_upgrade::types::{
    CreateUpgradeWorkFlowRequestBody, NodeTemplate, NodeTemplateLifeCycle, NodeTemplateLogin,
    UpgradeNodePool,
};
use cce_upgrade::{Client, Credentials, Error, ErrorKind, RetryConfig};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::common;
use common::{DEMO_VERSION, closed_port, quick_retry, start};

fn client_with(emulator: &Emulator, credentials: Credentials) -> Client {
    emulator
        .client_builder()
        .credentials(credentials)
        .retry(quick_retry())
        .build()
        .expect("client builds")
}

fn list_path(emulator: &Emulator) -> String {
    format!(
        "/autopilot/v3/projects/{}/clusters/{}/operation/upgradeworkflows",
        emulator.project_id(),
        emulator.autopilot_cluster_id()
    )
}

/// Everything a caller could print or log about an error.
fn everything_printed(e: &Error) -> String {
    let service = e.service_error().map(|s| {
        format!(
            "{s:?} {:?} {}",
            s.error_msg(),
            String::from_utf8_lossy(s.body())
        )
    });
    let mut chain = String::new();
    let mut source = e.source();
    while let Some(cause) = source {
        chain.push_str(&format!(" <- {cause} / {cause:?}"));
        source = cause.source();
    }
    format!("{e} {e:?} {service:?}{chain}")
}

fn assert_no_secrets(e: &Error, secrets: &[&str]) {
    let printed = everything_printed(e);
    for secret in secrets {
        assert!(
            !printed.contains(secret),
            "a secret leaked into the error: {printed}"
        );
    }
}

/// The request id the server wrote into its JSON error body (independent of the header).
fn body_request_id(e: &Error) -> Option<String> {
    let body: Value = serde_json::from_slice(e.service_error()?.body()).ok()?;
    body["request_id"].as_str().map(str::to_owned)
}

fn assert_one_line(e: &Error) {
    let line = e.to_string();
    assert!(
        !line.contains('\n') && !line.contains('\r'),
        "Display is not one line: {line:?}"
    );
}

#[tokio::test]
async fn a_wrong_secret_key_is_refused_with_the_servers_canonical_request_but_not_the_key() {
    let emulator = start().await;
    let wrong_sk = "Wr0ngSecretKeyWr0ngSecretKeyWr0ngSecretK";
    let client = client_with(&emulator, Credentials::new(emulator.access_key(), wrong_sk));
    let e = client
        .list_autopilot_upgrade_work_flows(emulator.autopilot_cluster_id())
        .await
        .expect_err("refused");

    assert_eq!(e.kind(), ErrorKind::Authentication);
    assert_eq!(e.status(), Some(reqwest::StatusCode::UNAUTHORIZED));
    let service = e.service_error().expect("the gateway answered");
    assert_eq!(service.error_code(), Some("APIGW.0301"));
    assert!(e.request_id().is_some());
    assert_eq!(
        e.request_id().map(str::to_owned),
        body_request_id(&e),
        "header and body agree"
    );
    assert_eq!(e.attempts(), 1, "a 401 is not retried");
    assert_eq!(e.operation(), Some("ListAutopilotUpgradeWorkFlows"));

    // The canonical request the server computed, verbatim in error_msg and in the Display.
    let msg = service.error_msg().expect("a message");
    let canonical = format!("canonicalRequest: GET\n{}/\n\n", list_path(&emulator));
    assert!(msg.contains(&canonical), "{msg}");
    assert!(
        msg.contains(&format!("x-project-id:{}\n", emulator.project_id())),
        "{msg}"
    );
    let line = e.to_string();
    assert!(line.contains("canonicalRequest: GET"), "{line}");
    assert!(line.contains(&list_path(&emulator)), "{line}");
    assert!(
        line.contains("APIGW.0301") && line.contains("401"),
        "{line}"
    );
    assert!(line.contains(e.request_id().unwrap()), "{line}");
    assert_one_line(&e);
    // A wrong key is not a clock problem, even though the echoed request mentions x-sdk-date.
    assert!(line.contains("AK/SK"), "{line}");
    assert!(!line.contains("clock"), "misleading hint: {line}");
    assert_no_secrets(&e, &[wrong_sk, emulator.secret_key()]);

    let requests = emulator.requests();
    assert_eq!(requests.len(), 1);
    assert!(!requests[0].authenticated);
}

#[tokio::test]
async fn an_unknown_access_key_is_refused() {
    let emulator = start().await;
    let client = client_with(
        &emulator,
        Credentials::new("UNKNOWNAK00000000000", emulator.secret_key()),
    );
    let e = client
        .list_autopilot_upgrade_work_flows(emulator.autopilot_cluster_id())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Authentication);
    assert_eq!(e.status(), Some(reqwest::StatusCode::UNAUTHORIZED));
    assert_eq!(e.service_error().unwrap().error_code(), Some("APIGW.0301"));
    assert!(
        e.to_string()
            .contains("UNKNOWNAK00000000000 does not exist"),
        "{e}"
    );
    assert_eq!(e.request_id().map(str::to_owned), body_request_id(&e));
    assert_one_line(&e);
    assert_no_secrets(&e, &[emulator.secret_key()]);
    assert_eq!(emulator.requests().len(), 1);
}

#[tokio::test]
async fn a_wrong_token_is_refused_and_not_printed() {
    let emulator = start().await;
    let wrong = format!("MIIwrong{}", &emulator.auth_token()[8..]);
    let client = client_with(&emulator, Credentials::token(wrong.clone()));
    let e = client
        .create_upgrade_work_flow(
            emulator.cluster_id(),
            &CreateUpgradeWorkFlowRequestBody::new("v1.29"),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Authentication);
    assert_eq!(e.status(), Some(reqwest::StatusCode::UNAUTHORIZED));
    assert_eq!(e.service_error().unwrap().error_code(), Some("APIGW.0301"));
    assert!(e.to_string().contains("X-Auth-Token is invalid"), "{e}");
    assert!(
        !e.to_string().contains("clock"),
        "a token has no signature time: {e}"
    );
    assert!(e.request_id().is_some());
    assert_one_line(&e);
    assert_no_secrets(&e, &[&wrong, emulator.auth_token()]);
    assert!(!format!("{client:?}").contains(&wrong));
    assert!(emulator.workflows(emulator.cluster_id()).is_empty());
    let requests = emulator.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].header("x-auth-token"), Some(wrong.as_str()));
}

#[tokio::test]
async fn temporary_credentials_with_a_wrong_key_never_print_the_security_token() {
    let emulator = start().await;
    let wrong_sk = "TempWr0ngSecretKeyTempWr0ngSecretKey0000";
    let client = client_with(
        &emulator,
        Credentials::temporary(
            emulator.temporary_access_key(),
            wrong_sk,
            emulator.security_token(),
        ),
    );
    let e = client
        .list_autopilot_upgrade_work_flows(emulator.autopilot_cluster_id())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Authentication);
    // The server echoes the signed x-security-token header in its canonical request.
    let requests = emulator.requests();
    assert_eq!(
        requests[0].header("x-security-token"),
        Some(emulator.security_token())
    );
    assert!(e.to_string().contains("canonicalRequest"), "{e}");
    assert_no_secrets(
        &e,
        &[
            wrong_sk,
            emulator.security_token(),
            emulator.temporary_secret_key(),
        ],
    );
}

/// Sends `GET list` signed at `time` with reqwest alone.
async fn send_signed_at(emulator: &Emulator, time: SystemTime) -> (u16, Option<String>, Value) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut request = http::Request::get(format!("{}{}", emulator.endpoint(), list_path(emulator)))
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Vec::new())
        .unwrap();
    let params = SigningParams {
        access_key: emulator.access_key(),
        secret_key: emulator.secret_key(),
        security_token: None,
        time,
    };
    sign(&SignableRequest::from_request(&request), &params)
        .unwrap()
        .apply_to(&mut request);
    let request = reqwest::Request::try_from(request).unwrap();
    let response = reqwest::Client::new().execute(request).await.unwrap();
    let status = response.status().as_u16();
    let id = response
        .headers()
        .get("x-request-id")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, id, response.json().await.unwrap())
}

#[tokio::test]
async fn a_request_signed_twenty_minutes_ago_is_expired() {
    let emulator = start().await;
    let (status, _, body) = send_signed_at(&emulator, SystemTime::now()).await;
    assert_eq!(
        status, 200,
        "the same request signed now is accepted: {body}"
    );

    let (status, id, body) =
        send_signed_at(&emulator, SystemTime::now() - Duration::from_secs(20 * 60)).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error_code"], "APIGW.0301");
    let msg = body["error_msg"].as_str().unwrap();
    assert!(msg.contains("expired"), "{msg}");
    assert_eq!(id.as_deref(), body["request_id"].as_str());
    let requests = emulator.requests();
    assert_eq!(requests.len(), 2);
    assert!(requests[0].authenticated && !requests[1].authenticated);
}

/// A TCP proxy in front of the emulator that rewrites each request's `X-Sdk-Date` to `behind`
/// earlier: the client then behaves as if its clock were that far behind. One request per
/// connection (it asks the emulator to close after answering).
async fn clock_skewing_proxy(upstream: String, behind: Duration) -> SocketAddr {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let upstream = upstream.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let head_end = loop {
                    if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break at + 4;
                    }
                    let n = inbound.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                };
                let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
                let length: usize = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap())
                    })
                    .unwrap_or(0);
                while buf.len() < head_end + length {
                    let n = inbound.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let mut rewritten = String::new();
                for line in head.trim_end().split("\r\n") {
                    let lower = line.to_ascii_lowercase();
                    if lower.starts_with("connection:") {
                        continue;
                    }
                    if let Some(date) = lower.strip_prefix("x-sdk-date:") {
                        let at = parse_sdk_date(date.trim().to_ascii_uppercase().as_str())
                            .expect("a date");
                        rewritten.push_str(&format!("x-sdk-date: {}\r\n", sdk_date(at - behind)));
                    } else {
                        rewritten.push_str(line);
                        rewritten.push_str("\r\n");
                    }
                }
                rewritten.push_str("connection: close\r\n\r\n");
                let mut out = TcpStream::connect(upstream.trim_start_matches("http://"))
                    .await
                    .unwrap();
                out.write_all(rewritten.as_bytes()).await.unwrap();
                out.write_all(&buf[head_end..]).await.unwrap();
                let mut answer = Vec::new();
                out.read_to_end(&mut answer).await.unwrap();
                inbound.write_all(&answer).await.unwrap();
                let _ = inbound.shutdown().await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn an_expired_signature_through_the_client_says_to_check_the_clock() {
    let emulator = start().await;
    let proxy = clock_skewing_proxy(emulator.endpoint(), Duration::from_secs(20 * 60)).await;
    let client = emulator
        .client_builder()
        .endpoint(format!("http://{proxy}"))
        .retry(quick_retry())
        .build()
        .unwrap();
    let e = client
        .list_autopilot_upgrade_work_flows(emulator.autopilot_cluster_id())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Authentication);
    assert_eq!(e.status(), Some(reqwest::StatusCode::UNAUTHORIZED));
    let msg = e.service_error().unwrap().error_msg().unwrap();
    assert!(msg.contains("signature expired"), "{msg}");
    let line = e.to_string();
    assert!(line.contains("clock"), "{line}");
    assert!(line.contains(e.request_id().unwrap()), "{line}");
    assert_one_line(&e);
    assert_no_secrets(&e, &[emulator.secret_key()]);

    // The proxy itself is transparent: without skew the same call goes through.
    let straight = clock_skewing_proxy(emulator.endpoint(), Duration::ZERO).await;
    let client = emulator
        .client_builder()
        .endpoint(format!("http://{straight}"))
        .build()
        .unwrap();
    let list = client
        .list_autopilot_upgrade_work_flows(emulator.autopilot_cluster_id())
        .await
        .expect("accepted");
    assert_eq!(list.workflows().len(), 1);
    let requests = emulator.requests();
    assert_eq!(requests.len(), 2);
    assert!(!requests[0].authenticated && requests[1].authenticated);
}

/// Each invalid input: (what, the call, the field it must name).
#[tokio::test]
async fn invalid_input_is_refused_before_anything_is_sent() {
    let emulator = start().await;
    let client = client_with(
        &emulator,
        Credentials::new(emulator.access_key(), emulator.secret_key()),
    );
    let (cluster, pool) = (emulator.cluster_id(), emulator.nodepool_id());
    let with_template = |t: NodeTemplate| UpgradeNodePool::new(pool, 1).node_template(t);
    let half = "QUFB".repeat(1281); // 5124 base64 characters
    let no_login = NodeTemplate {
        life_cycle: NodeTemplateLifeCycle::default(),
        login: NodeTemplateLogin::default(),
        volume_config: None,
    };

    let pool_cases: Vec<(&str, UpgradeNodePool, &str)> = vec![
        (
            "maxUnavailable 0",
            UpgradeNodePool::new(pool, 0),
            "spec.maxUnavailable",
        ),
        (
            "maxUnavailable 21",
            UpgradeNodePool::new(pool, 21),
            "spec.maxUnavailable",
        ),
        (
            "non-base64 preInstall",
            with_template(NodeTemplate::with_ssh_key("key").scripts(Some("echo hi".into()), None)),
            "spec.nodeTemplate.lifeCycle.preInstall",
        ),
        (
            "non-base64 postInstall",
            with_template(
                NodeTemplate::with_ssh_key("key").scripts(None, Some("ZWNobyBo=aQ".into())),
            ),
            "spec.nodeTemplate.lifeCycle.postInstall",
        ),
        (
            "scripts over 10240 together",
            with_template(
                NodeTemplate::with_ssh_key("key").scripts(Some(half.clone()), Some(half.clone())),
            ),
            "spec.nodeTemplate.lifeCycle",
        ),
        (
            "login with neither sshKey nor password",
            with_template(no_login),
            "spec.nodeTemplate.login",
        ),
        (
            "empty nodePoolID",
            UpgradeNodePool::new("", 1),
            "spec.nodePoolID",
        ),
        (
            "nodePoolID of another pool than the path's",
            UpgradeNodePool::new("another-pool", 1),
            "spec.nodePoolID",
        ),
        (
            "login with both sshKey and password",
            with_template({
                let mut t = NodeTemplate::with_root_password(
                    cce_upgrade::NodePassword::salted("N0de-Passw0rd!").unwrap(),
                );
                t.login.ssh_key = Some("key".into());
                t
            }),
            "spec.nodeTemplate.login",
        ),
    ];
    for (what, body, field) in pool_cases {
        let e = client
            .upgrade_node_pool(cluster, pool, &body)
            .await
            .expect_err(what);
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{what}: {e}");
        assert_eq!(e.field(), Some(field), "{what}: {e}");
        assert_eq!(e.attempts(), 0, "{what}");
        assert_eq!(e.status(), None, "{what}");
        assert_eq!(e.operation(), Some("UpgradeNodePool"));
        assert!(e.to_string().contains(field), "{what}: {e}");
        assert_one_line(&e);
    }
    // Just inside the limits is accepted by the client (and the emulator).
    let limit = "QUFB".repeat(1280); // 5120 + 5120 = 10240
    let ok =
        with_template(NodeTemplate::with_ssh_key("key").scripts(Some(limit.clone()), Some(limit)));
    assert!(
        emulator.requests().is_empty(),
        "nothing was sent for invalid input"
    );
    client
        .upgrade_node_pool(cluster, pool, &ok)
        .await
        .expect("10240 characters are allowed");
    assert_eq!(emulator.requests().len(), 1);

    // Base64 wrapped at 76 characters, as `base64` prints it, is sent unwrapped and counted so.
    let script = "echo 'a script longer than fifty-seven bytes, so base64 wraps it'";
    let encoded = "ZWNobyAnYSBzY3JpcHQgbG9uZ2VyIHRoYW4gZmlmdHktc2V2ZW4gYnl0ZXMsIHNvIGJhc2U2NCB3\ncmFwcyBpdCc=\n";
    let wrapped =
        with_template(NodeTemplate::with_ssh_key("key").scripts(Some(encoded.to_owned()), None));
    client
        .upgrade_node_pool(cluster, pool, &wrapped)
        .await
        .expect("wrapped base64 is accepted");
    let sent: serde_json::Value =
        serde_json::from_slice(&emulator.requests().last().unwrap().body).unwrap();
    let sent_script = sent["spec"]["nodeTemplate"]["lifeCycle"]["preInstall"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!sent_script.contains('\n'), "{sent_script}");
    use base64::Engine as _;
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(&sent_script)
            .unwrap(),
        script.as_bytes()
    );
    // The plain-text constructor encodes it the same way.
    let plain = with_template(NodeTemplate::with_ssh_key("key").plain_scripts(Some(script), None));
    client
        .upgrade_node_pool(cluster, pool, &plain)
        .await
        .expect("plain scripts are encoded");
    let sent: serde_json::Value =
        serde_json::from_slice(&emulator.requests().last().unwrap().body).unwrap();
    assert_eq!(
        sent["spec"]["nodeTemplate"]["lifeCycle"]["preInstall"],
        sent_script.as_str()
    );
    assert_eq!(emulator.requests().len(), 3);

    let before = emulator.requests().len();
    let e = client
        .create_upgrade_work_flow("", &CreateUpgradeWorkFlowRequestBody::new("v1.29"))
        .await
        .unwrap_err();
    assert_eq!(
        (e.kind(), e.field()),
        (ErrorKind::InvalidInput, Some("cluster_id"))
    );
    let e = client
        .create_upgrade_work_flow("  ", &CreateUpgradeWorkFlowRequestBody::new("v1.29"))
        .await
        .unwrap_err();
    assert_eq!(
        (e.kind(), e.field()),
        (ErrorKind::InvalidInput, Some("cluster_id"))
    );
    let e = client
        .create_upgrade_work_flow(cluster, &CreateUpgradeWorkFlowRequestBody::new(""))
        .await
        .unwrap_err();
    assert_eq!(
        (e.kind(), e.field()),
        (ErrorKind::InvalidInput, Some("spec.targetVersion"))
    );
    assert_eq!(e.operation(), Some("CreateUpgradeWorkFlow"));
    let e = client
        .show_upgrade_cluster_task(cluster, "")
        .await
        .unwrap_err();
    assert_eq!(
        (e.kind(), e.field()),
        (ErrorKind::InvalidInput, Some("task_id"))
    );
    let e = client
        .upgrade_node_pool(cluster, "", &UpgradeNodePool::new(pool, 1))
        .await
        .unwrap_err();
    assert_eq!(
        (e.kind(), e.field()),
        (ErrorKind::InvalidInput, Some("nodepool_id"))
    );
    let e = client
        .list_autopilot_upgrade_work_flows("")
        .await
        .unwrap_err();
    assert_eq!(
        (e.kind(), e.field()),
        (ErrorKind::InvalidInput, Some("cluster_id"))
    );
    assert_eq!(emulator.requests().len(), before, "nothing more was sent");
    assert!(emulator.workflows(cluster).is_empty());
}

#[tokio::test]
async fn validation_comes_before_the_project_id_lookup() {
    let emulator = start().await;
    let client = Client::builder()
        .region(emulator.region().to_owned())
        .endpoint(emulator.endpoint())
        .iam_endpoint(emulator.endpoint())
        .credentials(Credentials::new(
            emulator.access_key(),
            emulator.secret_key(),
        ))
        .env(cce_upgrade::Env::from_vars(Vec::<(String, String)>::new()))
        .build()
        .unwrap();
    let e = client
        .upgrade_node_pool(
            emulator.cluster_id(),
            emulator.nodepool_id(),
            &UpgradeNodePool::new(emulator.nodepool_id(), 0),
        )
        .await
        .unwrap_err();
    assert_eq!(e.field(), Some("spec.maxUnavailable"));
    assert!(
        emulator.requests().is_empty(),
        "not even the IAM lookup: {:?}",
        emulator.requests()
    );
}

#[tokio::test]
async fn an_unknown_cluster_is_a_404_service_error() {
    let emulator = start().await;
    let client = client_with(
        &emulator,
        Credentials::new(emulator.access_key(), emulator.secret_key()),
    );
    let e = client
        .show_upgrade_cluster_task("no-such-cluster", "no-such-task")
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Service);
    assert_eq!(e.status(), Some(reqwest::StatusCode::NOT_FOUND));
    let service = e.service_error().unwrap();
    assert_eq!(service.error_code(), Some("CCE.01404001"));
    assert_eq!(
        service.error_msg(),
        Some("Cluster no-such-cluster not found")
    );
    let id = e.request_id().expect("a request id").to_owned();
    assert_eq!(Some(id.clone()), body_request_id(&e));
    assert_eq!(e.attempts(), 1, "a 404 is not retried");
    assert!(!e.is_transient());

    let line = e.to_string();
    assert_one_line(&e);
    for part in [
        "404",
        "CCE.01404001",
        "Cluster no-such-cluster not found",
        id.as_str(),
        "ShowUpgradeClusterTask",
    ] {
        assert!(line.contains(part), "{part} missing from {line}");
    }
    assert_no_secrets(&e, &[emulator.secret_key()]);
    assert!(
        e.source().is_none(),
        "a service answer has no underlying cause"
    );

    let requests = emulator.requests();
    assert_eq!(requests.len(), 1);
    assert!(requests[0].authenticated);
    assert_eq!(
        requests[0].uri,
        format!(
            "/api/v3/projects/{}/clusters/no-such-cluster/operation/upgrade/tasks/no-such-task",
            emulator.project_id()
        )
    );
}

#[tokio::test]
async fn a_body_the_client_cannot_pre_check_is_a_400_from_the_service() {
    let emulator = start().await;
    let client = client_with(
        &emulator,
        Credentials::new(emulator.access_key(), emulator.secret_key()),
    );
    let cluster = emulator.cluster_id();
    let e = client
        .create_upgrade_work_flow(
            cluster,
            &CreateUpgradeWorkFlowRequestBody::new(DEMO_VERSION),
        )
        .await
        .expect_err("not newer than the current version");
    assert_eq!(e.kind(), ErrorKind::Service);
    assert_eq!(e.status(), Some(reqwest::StatusCode::BAD_REQUEST));
    let service = e.service_error().unwrap();
    assert_eq!(service.error_code(), Some("CCE.01400001"));
    let msg = service.error_msg().unwrap();
    assert!(
        msg.contains("is not higher than the cluster's version"),
        "{msg}"
    );
    assert_eq!(e.request_id().map(str::to_owned), body_request_id(&e));
    assert_eq!(e.attempts(), 1, "a 400 on a write is not retried");
    let line = e.to_string();
    assert_one_line(&e);
    for part in ["400", "CCE.01400001", msg, e.request_id().unwrap()] {
        assert!(line.contains(part), "{part} missing from {line}");
    }
    assert_eq!(emulator.requests().len(), 1);
    assert!(emulator.workflows(cluster).is_empty());

    // The node pool must belong to the cluster: only the service knows.
    let e = client
        .upgrade_node_pool(
            cluster,
            "not-a-pool",
            &UpgradeNodePool::new("not-a-pool", 1),
        )
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(reqwest::StatusCode::NOT_FOUND));
    assert!(
        e.to_string().contains("Node pool not-a-pool not found"),
        "{e}"
    );
}

#[tokio::test]
async fn transport_errors_chain_their_cause() {
    let closed = closed_port().await;
    let client = Client::builder()
        .endpoint(format!("http://{closed}"))
        .credentials(Credentials::new(
            "AKAKAKAKAKAKAKAKAKAK",
            "a-secret-key-that-must-not-leak",
        ))
        .project_id("0123456789abcdef0123456789abcdef")
        .retry(RetryConfig::disabled())
        .build()
        .unwrap();
    let e = client
        .list_autopilot_upgrade_work_flows("cluster")
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Connect);
    assert_eq!(e.status(), None);
    assert_eq!(e.request_id(), None);
    assert!(e.is_transient());
    assert!(e.to_string().contains(&closed.to_string()), "{e}");
    assert_one_line(&e);
    let source = e.source().expect("the cause is kept");
    assert!(
        source
            .downcast_ref::<reqwest::Error>()
            .is_some_and(reqwest::Error::is_connect),
        "{source:?}"
    );
    let mut refused = false;
    let mut cause = Some(source);
    while let Some(c) = cause {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            refused |= io.kind() == std::io::ErrorKind::ConnectionRefused;
        }
        cause = c.source();
    }
    assert!(
        refused,
        "the chain reaches the refused connection: {}",
        everything_printed(&e)
    );
    assert_no_secrets(&e, &["a-secret-key-that-must-not-leak"]);
}

#[tokio::test]
async fn an_unreachable_iam_endpoint_is_named_in_the_error() {
    let emulator = start().await;
    let closed = closed_port().await;
    let iam = format!("http://{closed}");
    let client = Client::builder()
        .region(emulator.region().to_owned())
        .endpoint(emulator.endpoint())
        .iam_endpoint(&iam)
        .credentials(Credentials::new(
            emulator.access_key(),
            emulator.secret_key(),
        ))
        .retry(RetryConfig::disabled())
        .build()
        .unwrap();
    let e = client
        .list_autopilot_upgrade_work_flows(emulator.autopilot_cluster_id())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Connect);
    assert_eq!(e.operation(), Some("KeystoneListProjects"));
    assert!(e.to_string().contains(&iam), "{e}");
    assert!(
        emulator.requests().is_empty(),
        "no CCE call without a project id"
    );
}
