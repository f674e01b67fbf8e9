//! Safe to embed: the client changes nothing outside itself (no process-wide TLS provider),
//! talks HTTPS with the roots it is given, and refuses careless input before anything is sent.
//!
//! One test checks that there is no process-wide rustls provider after clients were built and
//! used, and then installs one as an application would: no other test here may install one.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use cce_upgrade::emulator::{Emulator, EmulatorConfig};
use cce_upgrade::{Certificate, Client, ErrorKind};

use common::scripted::{Scripted, answer};
use common::{quick_retry, start_with};

const POLL: (Duration, Duration) = (Duration::from_millis(1), Duration::from_millis(4));

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/tls/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The emulator over HTTPS, with the test certificate for 127.0.0.1.
async fn https_emulator() -> Emulator {
    start_with(EmulatorConfig::fast().tls(fixture("server.pem"), fixture("server.key"))).await
}

fn test_ca() -> Certificate {
    Certificate::from_pem(fixture("ca.pem")).expect("the test CA reads")
}

/// A TCP relay in front of `target` that counts the connections made to it: how many times a
/// client tried, whatever happened in the TLS handshake.
async fn counting_relay(target: std::net::SocketAddr) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("a free port");
    let addr = listener.local_addr().expect("bound");
    let count = Arc::new(AtomicUsize::new(0));
    let counted = count.clone();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    (format!("https://127.0.0.1:{}", addr.port()), count)
}

fn address_of(endpoint: &str) -> std::net::SocketAddr {
    endpoint
        .trim_start_matches("https://")
        .parse()
        .expect("an address")
}

#[tokio::test]
async fn a_whole_upgrade_runs_over_https_with_the_ca_given_to_the_builder() {
    let emulator = https_emulator().await;
    assert!(emulator.endpoint().starts_with("https://127.0.0.1:"));
    let client = emulator
        .client_builder()
        .add_root_certificate(test_ca())
        .build()
        .expect("client builds");
    let cluster = emulator.cluster_id().to_owned();
    let report = client
        .upgrade(&cluster)
        .to("v1.29")
        .poll_interval(POLL.0, POLL.1)
        .run()
        .await
        .expect("the upgrade completes over HTTPS");
    assert_eq!(report.version_after.as_deref(), Some("v1.29.15-r0"));
    assert_eq!(emulator.upgrades_started(&cluster), 1);
    let requests = emulator.requests();
    assert!(requests.len() > 3, "{requests:?}");
    assert!(
        requests.iter().all(|r| r.authenticated),
        "every signature over TLS is accepted: {requests:?}"
    );
}

#[tokio::test]
async fn an_untrusted_certificate_fails_at_once_saying_so() {
    let emulator = https_emulator().await;
    let (endpoint, connections) = counting_relay(address_of(&emulator.endpoint())).await;
    // No test CA: the platform's roots do not know it.
    let client = emulator
        .client_builder()
        .endpoint(&endpoint)
        .retry(quick_retry().max_attempts(4))
        .build()
        .expect("client builds");
    let e = client
        .upgrade(emulator.cluster_id())
        .to("v1.29")
        .poll_interval(POLL.0, POLL.1)
        .run()
        .await
        .expect_err("the certificate is not trusted");
    assert_eq!(e.kind(), ErrorKind::Certificate, "{e}");
    let shown = e.to_string();
    assert!(
        shown.contains("certificate") && shown.contains("add_root_certificate"),
        "{shown}"
    );
    assert_eq!(connections.load(Ordering::SeqCst), 1, "tried once: {e}");
    assert!(
        emulator.requests().is_empty(),
        "nothing reached the service"
    );
    assert_eq!(emulator.upgrades_started(emulator.cluster_id()), 0);

    // A plain call says the same, after one attempt.
    let e = client
        .list_upgrade_work_flows(emulator.cluster_id())
        .await
        .expect_err("not trusted");
    assert_eq!((e.kind(), e.attempts()), (ErrorKind::Certificate, 1), "{e}");
    assert_eq!(connections.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn the_certificate_is_trusted_for_localhost_too() {
    let emulator = https_emulator().await;
    let port = address_of(&emulator.endpoint()).port();
    let client = emulator
        .client_builder()
        .endpoint(format!("https://localhost:{port}"))
        .add_root_certificate(test_ca())
        .build()
        .expect("client builds");
    client
        .list_upgrade_work_flows(emulator.cluster_id())
        .await
        .expect("the certificate names localhost");
}

#[test]
fn root_certificates_are_read_from_pem_and_bad_text_is_refused() {
    let ca = test_ca();
    assert_eq!(format!("{ca:?}"), "Certificate(1 certificate(s))");
    let mut bundle = fixture("ca.pem");
    bundle.extend(fixture("server.pem"));
    assert_eq!(
        format!("{:?}", Certificate::from_pem(&bundle).unwrap()),
        "Certificate(2 certificate(s))"
    );
    let e = Certificate::from_pem("not a certificate").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Configuration);
    assert!(e.to_string().contains("BEGIN CERTIFICATE"), "{e}");
    // A private key is not a certificate.
    assert!(Certificate::from_pem(fixture("server.key")).is_err());
    let e = Client::builder()
        .endpoint("https://cce.example.com")
        .credentials(cce_upgrade::Credentials::new("AK", "SK"))
        .project_id("p")
        .http_client(own_http_client())
        .add_root_certificate(ca)
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("add_root_certificate"), "{e}");
}

/// A reqwest client of the caller's own, with its own provider (none is installed).
fn own_http_client() -> reqwest::Client {
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS versions")
    .with_root_certificates(rustls::RootCertStore::empty())
    .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .build()
        .expect("client builds")
}

#[tokio::test]
async fn building_and_using_clients_leaves_the_process_default_provider_alone() {
    assert!(rustls::crypto::CryptoProvider::get_default().is_none());
    let emulator = https_emulator().await;
    let client = emulator
        .client_builder()
        .add_root_certificate(test_ca())
        .build()
        .expect("client builds");
    Client::builder()
        .region("cn-north-4")
        .credentials(cce_upgrade::Credentials::new("AK", "SK"))
        .project_id("p")
        .build()
        .expect("a client with the platform roots only");
    client
        .list_upgrade_work_flows(emulator.cluster_id())
        .await
        .expect("a call over HTTPS");
    assert!(
        rustls::crypto::CryptoProvider::get_default().is_none(),
        "the client installed a process-wide rustls provider"
    );
    // An application can still install the provider of its choice afterwards.
    assert!(
        rustls::crypto::ring::default_provider()
            .install_default()
            .is_ok()
    );
}

const BAD_PROJECT_IDS: [&str; 5] = ["..", ".", "a/b", "p\r\nX-Evil: 1", "p\nq"];

#[tokio::test]
async fn a_project_id_that_is_not_one_path_segment_is_refused_from_the_builder() {
    let server = Scripted::start(|_, _| answer("200 OK", &[], b"{}")).await;
    for bad in BAD_PROJECT_IDS {
        let e = Client::builder()
            .endpoint(&server.url)
            .credentials(cce_upgrade::Credentials::new("AK", "SK"))
            .project_id(bad)
            .build()
            .expect_err(bad);
        assert_eq!(e.kind(), ErrorKind::Configuration, "{bad:?}: {e}");
        assert!(
            e.to_string()
                .contains("invalid project id from Client::builder().project_id(..)"),
            "{bad:?}: {e}"
        );
    }
    assert_eq!(server.count(), 0, "nothing sent");
}

#[tokio::test]
async fn a_project_id_from_the_environment_or_the_profile_file_is_checked_naming_it() {
    let dir = std::env::temp_dir().join(format!("cce-embedding-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (i, bad) in BAD_PROJECT_IDS.into_iter().enumerate() {
        let env = cce_upgrade::Env::from_vars([
            ("HUAWEICLOUD_SDK_AK", "AK"),
            ("HUAWEICLOUD_SDK_SK", "SK"),
            ("HUAWEICLOUD_SDK_PROJECT_ID", bad),
        ]);
        let e = Client::builder()
            .region("cn-north-4")
            .env(env)
            .build()
            .expect_err(bad);
        assert!(
            e.to_string()
                .contains("invalid project id from HUAWEICLOUD_SDK_PROJECT_ID"),
            "{bad:?}: {e}"
        );
        // The profile file keeps one line a key: a line break cannot be written there.
        if bad.contains('\n') {
            continue;
        }
        let file = dir.join(format!("credentials-{i}"));
        std::fs::write(
            &file,
            format!("[basic]\nak = AK\nsk = SK\nproject_id = {bad}\n"),
        )
        .unwrap();
        let env = cce_upgrade::Env::from_vars([(
            "HUAWEICLOUD_SDK_CREDENTIALS_FILE",
            file.display().to_string(),
        )]);
        let e = Client::builder()
            .region("cn-north-4")
            .env(env)
            .build()
            .expect_err(bad);
        assert!(
            e.to_string().contains(&format!(
                "invalid project id from the credentials file {}",
                file.display()
            )),
            "{bad:?}: {e}"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn a_project_id_from_the_iam_answer_is_checked_and_nothing_else_is_sent() {
    for bad in BAD_PROJECT_IDS {
        let body = serde_json::json!({"projects": [{"id": bad, "name": "cn-north-4"}]}).to_string();
        let server = Scripted::start(move |_, _| {
            answer(
                "200 OK",
                &[("Content-Type", "application/json")],
                body.as_bytes(),
            )
        })
        .await;
        let client = Client::builder()
            .region("cn-north-4")
            .endpoint(&server.url)
            .iam_endpoint(&server.url)
            .credentials(cce_upgrade::Credentials::new("AK", "SK"))
            .retry(quick_retry())
            .build()
            .expect("client builds");
        let e = client.list_upgrade_work_flows("c1").await.expect_err(bad);
        assert_eq!(e.kind(), ErrorKind::Configuration, "{bad:?}: {e}");
        assert!(
            e.to_string()
                .contains("invalid project id from the IAM answer for cn-north-4"),
            "{bad:?}: {e}"
        );
        let seen = server.seen();
        assert_eq!(seen.len(), 1, "only the IAM lookup: {seen:?}");
        assert!(seen[0].target.starts_with("/v3/projects?"), "{seen:?}");
    }
}

fn gateway(status: u16) -> cce_upgrade::emulator::Fault {
    cce_upgrade::emulator::Fault::Status {
        status,
        retry_after: None,
    }
}

/// The `UpgradeCluster` requests the emulator received.
fn upgrade_requests(emulator: &Emulator) -> usize {
    emulator
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.uri.ends_with("/operation/upgrade"))
        .count()
}

#[tokio::test]
async fn a_gateway_timeout_after_upgrade_cluster_is_outcome_unknown_and_sent_once() {
    let emulator = start_with(EmulatorConfig::fast()).await;
    let client = common::client_with_retry(&emulator, quick_retry().max_attempts(5));
    let cluster = emulator.cluster_id().to_owned();
    emulator.inject(gateway(504), 3);
    let e = client
        .upgrade_cluster(
            &cluster,
            &cce_upgrade::types::UpgradeClusterRequestBody::new(common::TARGET),
        )
        .await
        .expect_err("the gateway timed out");
    assert_eq!(e.kind(), ErrorKind::OutcomeUnknown, "{e}");
    assert!(e.is_outcome_unknown());
    assert_eq!(e.attempts(), 1, "{e}");
    assert_eq!(e.status().map(|s| s.as_u16()), Some(504));
    assert!(e.to_string().contains("may have acted"), "{e}");
    assert_eq!(upgrade_requests(&emulator), 1, "sent once");

    // A read after a gateway timeout is retried (the next two answers are 504s too).
    let list = client
        .list_upgrade_work_flows(&cluster)
        .await
        .expect("retried until answered");
    assert_eq!(list.attempts(), 3);
}

#[tokio::test]
async fn a_write_is_retried_only_when_the_gateway_says_it_did_not_pass_it_on() {
    let emulator = start_with(EmulatorConfig::fast()).await;
    let client = common::client_with_retry(&emulator, quick_retry().max_attempts(5));
    let cluster = emulator.cluster_id().to_owned();
    let body = cce_upgrade::types::UpgradeClusterRequestBody::new(common::TARGET);
    // Throttled (APIGW.0308), then backend unavailable (502 APIGW.0202): neither reached the
    // service.
    emulator.inject(gateway(429), 1);
    emulator.inject(gateway(502), 1);
    let started = client
        .upgrade_cluster(&cluster, &body)
        .await
        .expect("acted on at the third attempt");
    assert_eq!(started.attempts(), 3);
    assert_eq!(upgrade_requests(&emulator), 3);
    assert_eq!(emulator.upgrades_started(&cluster), 1);

    // A 500 from the gateway (APIGW.0103) is no proof it was not passed on: sent once.
    let other = emulator.autopilot_cluster_id().to_owned();
    emulator.inject(gateway(500), 1);
    let e = client
        .upgrade_autopilot_cluster(
            &other,
            &cce_upgrade::types::UpgradeClusterRequestBody::new(common::TARGET),
        )
        .await
        .expect_err("500");
    assert_eq!((e.kind(), e.attempts()), (ErrorKind::Service, 1), "{e}");
}

/// Sends a request signed with the emulator's AK/SK, past the client's checks; the status and
/// the answer's `error_msg`.
async fn raw_signed(
    emulator: &Emulator,
    method: reqwest::Method,
    path_and_query: &str,
    body: Option<serde_json::Value>,
) -> (u16, String) {
    let body = body.map(|body| serde_json::to_vec(&body).unwrap());
    let mut request = http::Request::builder()
        .method(method)
        .uri(format!("{}{path_and_query}", emulator.endpoint()))
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(body.unwrap_or_default())
        .unwrap();
    let params = cce_upgrade::signing::SigningParams {
        access_key: emulator.access_key(),
        secret_key: emulator.secret_key(),
        security_token: None,
        time: std::time::SystemTime::now(),
    };
    cce_upgrade::signing::sign(
        &cce_upgrade::signing::SignableRequest::from_request(&request),
        &params,
    )
    .unwrap()
    .apply_to(&mut request);
    let request = reqwest::Request::try_from(request).unwrap();
    let response = own_http_client().execute(request).await.unwrap();
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    (status, body["error_msg"].as_str().unwrap_or("").to_owned())
}

#[tokio::test]
async fn the_emulator_refuses_what_the_client_refuses_from_the_same_rules() {
    let emulator = start_with(EmulatorConfig::fast()).await;
    let client = common::client_with_retry(&emulator, quick_retry());
    let cluster = emulator.cluster_id().to_owned();
    let base = format!(
        "/api/v3/projects/{}/clusters/{cluster}",
        emulator.project_id()
    );

    // A target version with a trailing line break.
    let e = client
        .create_upgrade_work_flow(
            &cluster,
            &cce_upgrade::types::CreateUpgradeWorkFlowRequestBody::new("v1.29.10-r0\n"),
        )
        .await
        .expect_err("refused before sending");
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert_eq!(e.field(), Some("spec.targetVersion"), "{e}");
    assert!(emulator.requests().is_empty());
    let body = serde_json::json!({
        "kind": "WorkFlowTask", "apiVersion": "v3", "spec": {"targetVersion": "v1.29.10-r0\n"}
    });
    let (status, msg) = raw_signed(
        &emulator,
        reqwest::Method::POST,
        &format!("{base}/operation/upgradeworkflows"),
        Some(body.clone()),
    )
    .await;
    assert_eq!(status, 400, "{msg}");
    assert!(msg.contains("spec.targetVersion"), "{msg}");
    assert!(emulator.workflows(&cluster).is_empty(), "nothing created");
    // The same body without the line break is created: the check is not what refused it.
    let mut fine = body;
    fine["spec"]["targetVersion"] = "v1.29.10-r0".into();
    let (status, msg) = raw_signed(
        &emulator,
        reqwest::Method::POST,
        &format!("{base}/operation/upgradeworkflows"),
        Some(fine),
    )
    .await;
    assert_eq!(status, 201, "{msg}");

    // A query value outside the parameter's enum.
    let sent = emulator.requests().len();
    let e = client
        .list_addon_precheck_tasks(
            &cluster,
            &cce_upgrade::types::ListAddonPrecheckTasksQuery::default().type_("addonEverything"),
        )
        .await
        .expect_err("refused before sending");
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert!(
        e.to_string().contains("`addonStatic`, `addonUpgrade`"),
        "{e}"
    );
    assert_eq!(emulator.requests().len(), sent, "nothing sent");
    let (status, msg) = raw_signed(
        &emulator,
        reqwest::Method::GET,
        &format!("{base}/addons/precheck/tasks?type=addonEverything"),
        None,
    )
    .await;
    assert_eq!(status, 400, "{msg}");
    assert!(msg.contains("type"), "{msg}");
    let (status, msg) = raw_signed(
        &emulator,
        reqwest::Method::GET,
        &format!("{base}/addons/precheck/tasks?type=addonUpgrade"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{msg}");
}
