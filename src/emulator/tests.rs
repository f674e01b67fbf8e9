//! HTTP-level tests: a real emulator on loopback, a real client (reqwest or a raw socket), and
//! assertions on what the client got back and what the emulator received.
//!
//! Requests are signed with the crate's public signer ([`crate::signing::sign`]) on headers these
//! tests choose, so that a test can sign what a client would not (an old date, a token left
//! unsigned).

use std::time::{Duration, Instant};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_encode};
use serde_json::{Value, json};
use tokio::net::TcpStream;

use super::clock;
use super::{Emulator, EmulatorConfig, Fault, Scenario};

// ---------------------------------------------------------------------------------------------
// A tiny test-only signer and client
// ---------------------------------------------------------------------------------------------

const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// A reqwest client builder. The crate builds reqwest without a bundled crypto provider
/// (`rustls-no-provider`), so install ring first, as the crate's own client does (these tests
/// only speak plain HTTP, but building a client needs a provider).
fn http() -> reqwest::ClientBuilder {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}

/// A plain GET without credentials.
async fn bare_get(url: String) -> reqwest::Response {
    http().build().unwrap().get(url).send().await.unwrap()
}

fn enc(bytes: &[u8]) -> String {
    percent_encode(bytes, UNRESERVED).to_string()
}

/// The wire query of decoded pairs, which is also the canonical query.
fn wire_query(pairs: &[(&str, &str)]) -> String {
    let mut pairs: Vec<(&str, &str)> = pairs.to_vec();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k.as_bytes()), enc(v.as_bytes())))
        .collect::<Vec<_>>()
        .join("&")
}

/// Signs; returns the `Authorization` value. `headers` are (lower-case name, value), all signed;
/// they include `x-sdk-date`, the time signed at.
fn sign(
    method: &str,
    raw_path: &str,
    canonical_query: &str,
    headers: &[(String, String)],
    body: &[u8],
    ak: &str,
    sk: &str,
) -> String {
    use crate::signing::{SignableBody, SignableRequest, SigningParams};
    let host = &headers.iter().find(|(n, _)| n == "host").unwrap().1;
    let uri: http::Uri = format!("http://{host}{raw_path}?{canonical_query}")
        .parse()
        .expect("a path and query the tests send");
    let method = http::Method::from_bytes(method.as_bytes()).unwrap();
    let mut map = http::HeaderMap::new();
    for (name, value) in headers {
        map.append(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            http::HeaderValue::from_str(value).unwrap(),
        );
    }
    let params = SigningParams {
        access_key: ak,
        secret_key: sk,
        security_token: None,
        time: std::time::UNIX_EPOCH, // unused: the headers carry X-Sdk-Date
    };
    let request = SignableRequest::new(&method, &uri, &map, SignableBody::Bytes(body));
    let output = crate::signing::sign(&request, &params).expect("the test request signs");
    let authorization = output
        .headers()
        .find(|(name, _)| *name == http::header::AUTHORIZATION)
        .expect("an Authorization header");
    authorization.1.to_str().unwrap().to_owned()
}

#[derive(Clone)]
struct Client {
    http: reqwest::Client,
    endpoint: String,
    host: String,
    ak: String,
    sk: String,
    security_token: Option<String>,
    sign_security_token: bool,
    auth_token: Option<String>,
    skew_seconds: i64,
}

#[derive(Debug)]
struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    text: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn error_code(&self) -> String {
        self.json()["error_code"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    fn error_msg(&self) -> String {
        self.json()["error_msg"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

impl Client {
    fn new(emu: &Emulator) -> Client {
        let endpoint = emu.endpoint();
        Client {
            http: http().build().unwrap(),
            host: endpoint.trim_start_matches("http://").to_string(),
            endpoint,
            ak: emu.access_key().to_string(),
            sk: emu.secret_key().to_string(),
            security_token: None,
            sign_security_token: true,
            auth_token: None,
            skew_seconds: 0,
        }
    }

    fn temporary(emu: &Emulator) -> Client {
        Client {
            ak: emu.temporary_access_key().to_string(),
            sk: emu.temporary_secret_key().to_string(),
            security_token: Some(emu.security_token().to_string()),
            ..Client::new(emu)
        }
    }

    fn token(emu: &Emulator, token: &str) -> Client {
        Client {
            auth_token: Some(token.to_string()),
            ..Client::new(emu)
        }
    }

    /// Headers to send for a request, signature included.
    fn headers(&self, method: &str, path: &str, query: &str, body: &[u8]) -> Vec<(String, String)> {
        if let Some(token) = &self.auth_token {
            return vec![
                ("content-type".into(), "application/json".into()),
                ("x-auth-token".into(), token.clone()),
            ];
        }
        let date = clock::sdk_date(clock::unix_seconds_now() + self.skew_seconds);
        let mut signed = vec![
            ("content-type".to_string(), "application/json".to_string()),
            ("host".to_string(), self.host.clone()),
            ("x-sdk-date".to_string(), date),
        ];
        let mut unsigned = Vec::new();
        if let Some(token) = &self.security_token {
            let header = ("x-security-token".to_string(), token.clone());
            if self.sign_security_token {
                signed.push(header);
            } else {
                unsigned.push(header);
            }
        }
        let authorization = sign(method, path, query, &signed, body, &self.ak, &self.sk);
        signed.retain(|(n, _)| n != "host"); // reqwest sends Host itself
        signed.extend(unsigned);
        signed.push(("authorization".into(), authorization));
        signed
    }

    async fn try_call(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> reqwest::Result<Answer> {
        let query = wire_query(query);
        let body = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let mut url = format!("{}{path}", self.endpoint);
        if !query.is_empty() {
            url = format!("{url}?{query}");
        }
        let mut request = self
            .http
            .request(method.parse().unwrap(), url)
            .body(body.clone());
        for (name, value) in self.headers(method, path, &query, &body) {
            request = request.header(name, value);
        }
        let response = request.send().await?;
        Ok(Answer {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            text: response.text().await?,
        })
    }

    async fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Answer {
        self.try_call(method, path, &[], body)
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    async fn get(&self, path: &str) -> Answer {
        self.call("GET", path, None).await
    }

    async fn post(&self, path: &str, body: &Value) -> Answer {
        self.call("POST", path, Some(body)).await
    }
}

fn base(emu: &Emulator, prefix: &str, cluster: &str) -> String {
    format!(
        "/{prefix}/v3/projects/{}/clusters/{cluster}",
        emu.project_id()
    )
}

fn workflows_path(emu: &Emulator) -> String {
    format!(
        "{}/operation/upgradeworkflows",
        base(emu, "api", emu.cluster_id())
    )
}

fn create_body(target: &str) -> Value {
    json!({"kind": "WorkFlowTask", "apiVersion": "v3", "spec": {"targetVersion": target}})
}

fn postcheck_body() -> Value {
    json!({"kind": "PostCheckTask", "apiVersion": "v3", "spec": {}})
}

fn precheck_body(target: &str, skipped: Value) -> Value {
    json!({"kind": "PreCheckTask", "apiVersion": "v3",
           "spec": {"targetVersion": target, "skippedCheckItemList": skipped}})
}

fn upgrade_body(target: &str, only_upgrade: bool) -> Value {
    json!({"metadata": {"kind": "UpgradeTask", "apiVersion": "v3"},
           "spec": {"clusterUpgradeAction": {
               "targetVersion": target,
               "isOnlyUpgrade": only_upgrade,
               "strategy": {"type": "inPlaceRollingUpdate",
                            "inPlaceRollingUpdate": {"userDefinedStep": 20}}}}})
}

/// The statuses of a workflow's points.
fn point_statuses(wf: &Value) -> Vec<String> {
    wf["status"]["pointStatuses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["status"].as_str().unwrap().to_string())
        .collect()
}

/// Reads a task until its phase is one of `last` (at most 50 reads, no waiting: every read moves
/// it a step); returns every phase seen.
async fn poll_phases(client: &Client, path: &str, last: &[&str]) -> Vec<String> {
    let mut seen = Vec::new();
    for _ in 0..50 {
        let answer = client.get(path).await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.text);
        let phase = answer.json()["status"]["phase"]
            .as_str()
            .unwrap()
            .to_string();
        seen.push(phase.clone());
        if last.contains(&phase.as_str()) {
            return seen;
        }
    }
    panic!("{path} never reached {last:?}: {seen:?}");
}

/// Polls `check` until it returns `Some`, for at most 5 s.
async fn eventually<T, F, Fut>(mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "condition not reached in 5 s");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// A signed request written by hand, for raw-socket tests.
fn raw_request(emu: &Emulator, method: &str, path: &str, body: &str) -> String {
    let client = Client::new(emu);
    let mut text = format!("{method} {path} HTTP/1.1\r\nhost: {}\r\n", client.host);
    for (name, value) in client.headers(method, path, "", body.as_bytes()) {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str(&format!("content-length: {}\r\n\r\n{body}", body.len()));
    text
}

/// Writes `request` on a fresh connection and reads until the server closes it.
///
/// (Only tokio's `net` feature is at hand, so this uses `try_write`/`try_read`.)
async fn raw_exchange(emu: &Emulator, request: &str) -> Vec<u8> {
    use std::io::ErrorKind::WouldBlock;
    let stream = TcpStream::connect(emu.endpoint().trim_start_matches("http://"))
        .await
        .unwrap();
    let mut rest = request.as_bytes();
    while !rest.is_empty() {
        stream.writable().await.unwrap();
        match stream.try_write(rest) {
            Ok(n) => rest = &rest[n..],
            Err(e) if e.kind() == WouldBlock => {}
            Err(e) => panic!("write: {e}"),
        }
    }
    let mut answer = Vec::new();
    let read_all = async {
        let mut buf = [0_u8; 4096];
        loop {
            stream.readable().await?;
            match stream.try_read(&mut buf) {
                Ok(0) => return Ok::<(), std::io::Error>(()),
                Ok(n) => answer.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
    };
    // A reset counts as closed too.
    let _ = tokio::time::timeout(Duration::from_secs(5), read_all)
        .await
        .expect("the server closes the connection");
    answer
}

fn assert_request_id(answer: &Answer) -> String {
    let id = answer
        .header("x-request-id")
        .expect("X-Request-Id")
        .to_string();
    assert_eq!(id.len(), 32, "{id}");
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    id
}

// ---------------------------------------------------------------------------------------------
// Authentication
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn signed_requests_are_accepted_and_recorded_as_sent() {
    let emu = Emulator::start_with(EmulatorConfig::fast()).await.unwrap();
    let answer = Client::new(&emu).get(&workflows_path(&emu)).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert_request_id(&answer);

    let requests = emu.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(r.method, "GET");
    assert_eq!(r.uri, workflows_path(&emu));
    assert!(r.authenticated);
    assert!(
        r.header("Authorization")
            .unwrap()
            .starts_with("SDK-HMAC-SHA256 Access=")
    );
    assert!(r.header("x-sdk-date").is_some());
}

#[tokio::test]
async fn a_wrong_signature_is_refused_with_the_servers_canonical_request() {
    let emu = Emulator::start_with(EmulatorConfig::fast()).await.unwrap();
    let client = Client {
        sk: "not-the-secret-key".into(),
        ..Client::new(&emu)
    };
    let answer = client
        .try_call("GET", &workflows_path(&emu), &[("limit", "1")], None)
        .await
        .unwrap();
    assert_eq!(answer.status, 401);
    assert_eq!(answer.error_code(), "APIGW.0301");
    let msg = answer.error_msg();
    let prefix =
        "Incorrect IAM authentication information: verify aksk signature fail, canonicalRequest: ";
    assert!(msg.starts_with(prefix), "{msg}");
    let canonical = &msg[prefix.len()..];
    assert!(
        canonical.starts_with(&format!(
            "GET\n{}/\nlimit=1\ncontent-type:application/json\nhost:127.0.0.1:",
            workflows_path(&emu)
        )),
        "{canonical}"
    );
    assert!(canonical.ends_with("\ncontent-type;host;x-sdk-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    assert_eq!(answer.json()["request_id"], assert_request_id(&answer));
    assert!(!emu.requests()[0].authenticated);
}

#[tokio::test]
async fn a_date_more_than_fifteen_minutes_off_is_expired() {
    let emu = Emulator::start_with(EmulatorConfig::fast()).await.unwrap();
    for skew in [-16 * 60, 16 * 60] {
        let client = Client {
            skew_seconds: skew,
            ..Client::new(&emu)
        };
        let answer = client.get(&workflows_path(&emu)).await;
        assert_eq!(answer.status, 401);
        assert_eq!(answer.error_code(), "APIGW.0301");
        assert!(
            answer.error_msg().contains("signature expired"),
            "{}",
            answer.error_msg()
        );
    }
    let close_enough = Client {
        skew_seconds: -14 * 60,
        ..Client::new(&emu)
    };
    assert_eq!(close_enough.get(&workflows_path(&emu)).await.status, 200);
}

#[tokio::test]
async fn unknown_missing_and_malformed_credentials_are_refused() {
    let emu = Emulator::start_with(EmulatorConfig::fast()).await.unwrap();
    let stranger = Client {
        ak: "HPUAUNKNOWNAK0000000".into(),
        ..Client::new(&emu)
    };
    let answer = stranger.get(&workflows_path(&emu)).await;
    assert_eq!(
        (answer.status, answer.error_code().as_str()),
        (401, "APIGW.0301")
    );
    assert!(
        answer
            .error_msg()
            .contains("HPUAUNKNOWNAK0000000 does not exist")
    );

    let http = http().build().unwrap();
    let url = format!("{}{}", emu.endpoint(), workflows_path(&emu));
    let bare = http.get(&url).send().await.unwrap();
    assert_eq!(bare.status(), 401);
    let body: Value = bare.json().await.unwrap();
    assert_eq!(body["error_code"], "APIGW.0301");
    assert!(
        body["error_msg"]
            .as_str()
            .unwrap()
            .contains("no credentials")
    );

    let malformed = http
        .get(&url)
        .header("authorization", "SDK-HMAC-SHA256 Access=x")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 401);
    let body: Value = malformed.json().await.unwrap();
    assert!(
        body["error_msg"]
            .as_str()
            .unwrap()
            .contains("malformed Authorization header")
    );
}

#[tokio::test]
async fn iam_tokens_are_accepted_and_wrong_ones_refused() {
    let emu = Emulator::start_with(EmulatorConfig::fast()).await.unwrap();
    let good = Client::token(&emu, emu.auth_token())
        .get(&workflows_path(&emu))
        .await;
    assert_eq!(good.status, 200, "{}", good.text);
    let bad = Client::token(&emu, "MIIwrong")
        .get(&workflows_path(&emu))
        .await;
    assert_eq!(bad.status, 401);
    assert_eq!(bad.error_code(), "APIGW.0301");
    assert!(bad.error_msg().contains("X-Auth-Token is invalid"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn temporary_keys_need_their_signed_security_token() {
    let emu = Emulator::start_with(EmulatorConfig::fast()).await.unwrap();
    let path = workflows_path(&emu);
    assert_eq!(Client::temporary(&emu).get(&path).await.status, 200);

    let without = Client {
        security_token: None,
        ..Client::temporary(&emu)
    };
    let answer = without.get(&path).await;
    assert_eq!(answer.status, 401);
    assert!(
        answer.error_msg().contains("is temporary"),
        "{}",
        answer.error_msg()
    );

    let unsigned = Client {
        sign_security_token: false,
        ..Client::temporary(&emu)
    };
    assert_eq!(unsigned.get(&path).await.status, 401);

    let wrong = Client {
        security_token: Some("gQwrong".into()),
        ..Client::temporary(&emu)
    };
    assert_eq!(wrong.get(&path).await.status, 401);

    // The permanent AK does not need (or mind) a token.
    assert_eq!(Client::new(&emu).get(&path).await.status, 200);
}

#[tokio::test]
async fn a_plus_in_the_query_is_a_literal_plus() {
    let emu = Emulator::start_with(EmulatorConfig::fast()).await.unwrap();
    let path = workflows_path(&emu);
    let client = Client::new(&emu);
    // Signed as "a b", sent as `a%20b` (the official clients' way): accepted.
    let answer = client
        .try_call("GET", &path, &[("q", "a b")], None)
        .await
        .unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(emu.requests()[0].uri, format!("{path}?q=a%20b"));

    // Signed as "a b" but sent form-encoded as `a+b`: the gateway reads a plus, so refused.
    let headers = client.headers("GET", &path, "q=a%20b", b"");
    let mut request = http()
        .build()
        .unwrap()
        .get(format!("{}{path}?q=a+b", emu.endpoint()));
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let refused = request.send().await.unwrap();
    assert_eq!(refused.status(), 401);
    let body: Value = refused.json().await.unwrap();
    assert!(body["error_msg"].as_str().unwrap().contains("\nq=a%2Bb\n"));
}

// ---------------------------------------------------------------------------------------------
// Routes
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_cce_upgrade_runs_from_create_to_post_check() {
    let emu = Emulator::start_with(EmulatorConfig::fast()).await.unwrap();
    let client = Client::new(&emu);
    let cluster = emu.cluster_id().to_string();
    let api = base(&emu, "api", &cluster);

    // Too early: nothing to post-check yet.
    let early = client
        .post(&format!("{api}/operation/postcheck"), &postcheck_body())
        .await;
    assert_eq!(early.status, 200);
    assert_eq!(early.json()["status"]["phase"], "Failed");

    let created = client
        .post(&workflows_path(&emu), &create_body("v1.29.10-r0"))
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let wf = created.json();
    assert_eq!(wf["kind"], "WorkFlowTask");
    assert_eq!(wf["apiVersion"], "v3");
    assert!(wf["metadata"]["uid"].as_str().unwrap().len() == 36);
    assert!(wf["metadata"]["name"].is_string());
    assert!(
        wf["metadata"]["creationTimestamp"]
            .as_str()
            .unwrap()
            .ends_with(" +0000 UTC")
    );
    assert!(wf["metadata"]["updateTimestamp"].is_string());
    assert_eq!(
        wf["spec"],
        json!({"clusterID": cluster, "clusterVersion": "v1.28.15-r0", "targetVersion": "v1.29.10-r0"})
    );
    assert_eq!(wf["status"]["phase"], "Init");
    assert_eq!(point_statuses(&wf), ["Init", "Init", "Init", "Init"]);
    let points = wf["status"]["pointStatuses"].as_array().unwrap();
    let types: Vec<&str> = points
        .iter()
        .map(|p| p["taskType"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["PreCheck", "Snapshot", "Cluster", "PostCheck"]);
    // Nothing has run: no task ids yet.
    assert!(points.iter().all(|p| p.get("taskID").is_none()));
    assert_eq!(
        wf["status"]["lineStatuses"][2],
        json!({"startPoint": {"taskType": "Cluster"}, "endPoint": {"taskType": "PostCheck"}, "critical": true})
    );
    // A workflow does not move by itself, however often it is read.
    for _ in 0..5 {
        let list = client.get(&workflows_path(&emu)).await.json();
        assert_eq!(list["items"][0]["status"]["phase"], "Init");
    }

    // The pre-check runs and passes; the workflow follows it.
    let precheck = client
        .post(
            &format!("{api}/operation/precheck"),
            &precheck_body("v1.29.10-r0", json!([])),
        )
        .await;
    assert_eq!(precheck.status, 200, "{}", precheck.text);
    let precheck = precheck.json();
    assert_eq!(precheck["kind"], "PreCheckTask");
    assert_eq!(precheck["status"]["phase"], "Init");
    let precheck_id = precheck["metadata"]["uid"].as_str().unwrap().to_string();
    let wf = &emu.workflows(&cluster)[0];
    assert_eq!(wf["status"]["phase"], "Running");
    assert_eq!(
        wf["status"]["pointStatuses"][0]["taskID"],
        precheck_id.as_str()
    );
    let phases = poll_phases(
        &client,
        &format!("{api}/operation/precheck/tasks/{precheck_id}"),
        &["Success", "Failed"],
    )
    .await;
    assert_eq!(phases, ["Init", "Running", "Running", "Success"]);
    let wf = &emu.workflows(&cluster)[0];
    assert_eq!(point_statuses(wf), ["Success", "Init", "Init", "Init"]);
    assert!(wf["status"]["pointStatuses"][0]["expireTimeStamp"].is_string());

    // A snapshot, found in the list.
    let snapshot = client
        .call(
            "POST",
            &format!(
                "/api/v3.1/projects/{}/clusters/{cluster}/operation/snapshot",
                emu.project_id()
            ),
            None,
        )
        .await;
    assert_eq!(snapshot.status, 200, "{}", snapshot.text);
    let snapshot_id = snapshot.json()["uid"].as_str().unwrap().to_string();
    let snapshots = format!(
        "/api/v3.1/projects/{}/clusters/{cluster}/operation/snapshot/tasks",
        emu.project_id()
    );
    let mut seen = Vec::new();
    for _ in 0..10 {
        let list = client.get(&snapshots).await.json();
        let item = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["metadata"]["uid"] == snapshot_id.as_str())
            .unwrap()
            .clone();
        seen.push(item["status"]["phase"].as_str().unwrap().to_string());
        if item["status"]["phase"] == "Success" {
            break;
        }
    }
    assert_eq!(seen, ["Init", "Queuing", "Running", "Success"]);

    // The upgrade, on the passed pre-check.
    let upgrade = client
        .post(
            &format!("{api}/operation/upgrade"),
            &upgrade_body("v1.29.10-r0", true),
        )
        .await;
    assert_eq!(upgrade.status, 200, "{}", upgrade.text);
    let upgrade = upgrade.json();
    let task_id = upgrade["metadata"]["uid"].as_str().unwrap().to_string();
    assert_eq!(
        upgrade["spec"]["clusterUpgradeAction"]["targetVersion"],
        "v1.29.10-r0"
    );
    assert_eq!(
        upgrade["spec"]["clusterUpgradeAction"]["targetPlatformVersion"],
        "cce.6.0.0"
    );
    assert_eq!(emu.upgrades_started(&cluster), 1);
    let task_path = format!("{api}/operation/upgrade/tasks/{task_id}");
    let phases = poll_phases(&client, &task_path, &["Success", "Failed"]).await;
    assert_eq!(
        phases,
        [
            "Init", "Queuing", "Running", "Running", "Running", "Running", "Running", "Success"
        ]
    );
    let done = client.get(&task_path).await.json();
    assert_eq!(done["kind"], "UpgradeTask");
    assert_eq!(done["metadata"]["uid"], task_id.as_str());
    assert_eq!(
        done["spec"],
        json!({"version": "v1.28.15-r0", "targetVersion": "v1.29.10-r0"})
    );
    assert_eq!(done["status"]["progress"], "100.00");
    assert!(done["status"]["completionTime"].is_string());
    assert_eq!(
        emu.cluster_version(&cluster).as_deref(),
        Some("v1.29.10-r0")
    );
    assert_eq!(
        emu.cluster_platform_version(&cluster).as_deref(),
        Some("cce.6.0.0")
    );

    // Not a Success before the post-check.
    let list = client.get(&workflows_path(&emu)).await.json();
    assert_eq!(list["kind"], "List");
    assert_eq!(list["apiVersion"], "v3");
    assert_eq!(list["items"][0]["status"]["phase"], "Running");
    assert_eq!(
        point_statuses(&list["items"][0]),
        ["Success", "Success", "Success", "Init"]
    );

    let check = client
        .post(
            &format!("{api}/operation/postcheck"),
            &json!({"kind": "PostCheckTask", "apiVersion": "v3", "spec": {"clusterID": cluster}}),
        )
        .await;
    assert_eq!(check.status, 200, "{}", check.text);
    let check = check.json();
    assert_eq!(check["kind"], "PostCheckTask");
    assert_eq!(check["status"]["phase"], "Success");
    assert_eq!(check["metadata"]["uid"].as_str().unwrap().len(), 36);
    assert_eq!(
        check["spec"],
        json!({"clusterID": cluster, "clusterVersion": "v1.28.15-r0", "targetVersion": "v1.29.10-r0"})
    );
    let wf = &emu.workflows(&cluster)[0];
    assert_eq!(wf["status"]["phase"], "Success");
    assert_eq!(
        point_statuses(wf),
        ["Success", "Success", "Success", "Success"]
    );
}

#[tokio::test]
async fn the_autopilot_demo_workflow_waits_in_init() {
    let emu = Emulator::start_with(EmulatorConfig::fast()).await.unwrap();
    let client = Client::new(&emu);
    let ap = emu.autopilot_cluster_id().to_string();
    let list = client
        .get(&format!(
            "{}/operation/upgradeworkflows",
            base(&emu, "autopilot", &ap)
        ))
        .await;
    assert_eq!(list.status, 200, "{}", list.text);
    let items = list.json()["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 1);
    let wf = &items[0];
    assert_eq!(wf["status"]["phase"], "Init");
    assert_eq!(wf["spec"]["clusterVersion"], "v1.28.15-r0");
    assert_eq!(wf["spec"]["targetVersion"], "v1.29.10-r0");
    assert_eq!(point_statuses(wf), ["Init", "Init", "Init", "Init"]);

    // Its upgrade runs under /autopilot, with its own pre-check first.
    let upgrade = client
        .post(
            &format!("{}/operation/upgrade", base(&emu, "autopilot", &ap)),
            &upgrade_body("v1.29.10-r0", false),
        )
        .await;
    assert_eq!(upgrade.status, 200, "{}", upgrade.text);
    let task = upgrade.json()["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_string();
    let phases = poll_phases(
        &client,
        &format!(
            "{}/operation/upgrade/tasks/{task}",
            base(&emu, "autopilot", &ap)
        ),
        &["Success", "Failed"],
    )
    .await;
    // Init while its own pre-check runs (3 steps), then the upgrade.
    assert_eq!(phases[..4], ["Init", "Init", "Init", "Init"]);
    assert_eq!(phases.last().map(String::as_str), Some("Success"));
    assert_eq!(emu.pre_checks(&ap).len(), 1);
    assert_eq!(emu.pre_checks(&ap)[0]["status"]["phase"], "Success");
    assert_eq!(
        point_statuses(&emu.workflows(&ap)[0]),
        ["Success", "Init", "Success", "Init"]
    );
    assert_eq!(emu.cluster_version(&ap).as_deref(), Some("v1.29.10-r0"));

    // The Autopilot cluster is not served under /api, nor the CCE one under /autopilot.
    let wrong = client
        .get(&format!(
            "{}/operation/upgradeworkflows",
            base(&emu, "api", &ap)
        ))
        .await;
    assert_eq!(
        (wrong.status, wrong.error_code().as_str()),
        (404, "CCE.01404001")
    );
    assert!(
        wrong.error_msg().contains("Autopilot"),
        "{}",
        wrong.error_msg()
    );
    let wrong = client
        .get(&format!(
            "{}/operation/upgradeworkflows",
            base(&emu, "autopilot", emu.cluster_id())
        ))
        .await;
    assert_eq!(wrong.status, 404);
}

#[tokio::test]
async fn lists_can_carry_items_as_one_object() {
    let emu = Emulator::start_with(EmulatorConfig::fast().list_items_as_object(true))
        .await
        .unwrap();
    let client = Client::new(&emu);
    let ap = emu.autopilot_cluster_id().to_string();
    let list = client
        .get(&format!(
            "{}/operation/upgradeworkflows",
            base(&emu, "autopilot", &ap)
        ))
        .await
        .json();
    assert_eq!(list["kind"], "List");
    assert!(list["items"].is_object());
    assert_eq!(list["items"]["kind"], "WorkFlowTask");

    let empty = client.get(&workflows_path(&emu)).await.json();
    assert_eq!(empty, json!({"kind": "List", "apiVersion": "v3"}));
}

#[tokio::test]
async fn node_pool_upgrades_answer_a_job_id_or_nothing() {
    let body = |pool: &str| json!({"spec": {"maxUnavailable": 1, "nodeIDs": ["aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa"], "nodePoolID": pool}});
    let emu = Emulator::start_with(EmulatorConfig::fast()).await.unwrap();
    let client = Client::new(&emu);
    let path = |pool: &str| {
        format!(
            "{}/nodepools/{pool}/operation/upgrade",
            base(&emu, "api", emu.cluster_id())
        )
    };
    let answer = client
        .post(&path(emu.nodepool_id()), &body(emu.nodepool_id()))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.json()["jobid"].as_str().unwrap().len(), 36);

    let default_pool = json!({"spec": {"maxUnavailable": 1, "nodePoolID": "DefaultPool",
        "nodeTemplate": {"lifeCycle": {"preInstall": "ZWNobyAx", "postInstall": "ZWNobyAx"},
                         "login": {"userPassword": {"password": "xxxxx", "username": "root"}}}}});
    assert_eq!(
        client
            .post(&path("DefaultPool"), &default_pool)
            .await
            .status,
        200
    );

    let quiet = Emulator::start_with(EmulatorConfig::fast().empty_nodepool_response(true))
        .await
        .unwrap();
    let answer = Client::new(&quiet)
        .post(
            &format!(
                "{}/nodepools/{}/operation/upgrade",
                base(&quiet, "api", quiet.cluster_id()),
                quiet.nodepool_id()
            ),
            &body(quiet.nodepool_id()),
        )
        .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.text, "");
    assert_eq!(answer.header("content-length"), Some("0"));
    assert_request_id(&answer);
}

#[tokio::test]
async fn the_iam_project_lookup_finds_the_region_project() {
    let emu = Emulator::start_with(EmulatorConfig::fast()).await.unwrap();
    let client = Client::new(&emu);
    let found = client
        .try_call("GET", "/v3/projects", &[("name", "cn-north-4")], None)
        .await
        .unwrap();
    assert_eq!(found.status, 200, "{}", found.text);
    let body = found.json();
    assert_eq!(body["projects"].as_array().unwrap().len(), 1);
    let project = &body["projects"][0];
    assert_eq!(project["id"], emu.project_id());
    assert_eq!(project["name"], "cn-north-4");
    assert_eq!(project["enabled"], true);
    assert_eq!(project["domain_id"].as_str().unwrap().len(), 32);
    assert!(
        body["links"]["self"]
            .as_str()
            .unwrap()
            .ends_with("/v3/projects?name=cn-north-4")
    );
    assert_request_id(&found);

    let other = client
        .try_call("GET", "/v3/projects", &[("name", "eu-west-101")], None)
        .await
        .unwrap();
    assert_eq!(other.json()["projects"], json!([]));

    let unsigned = bare_get(format!("{}/v3/projects?name=cn-north-4", emu.endpoint())).await;
    assert_eq!(unsigned.status(), 401);
}

#[tokio::test]
async fn invalid_bodies_are_400_naming_the_field() {
    let emu = Emulator::start_with(EmulatorConfig::fast()).await.unwrap();
    let client = Client::new(&emu);
    let cluster = emu.cluster_id().to_string();
    let create = workflows_path(&emu);
    let postcheck = format!("{}/operation/postcheck", base(&emu, "api", &cluster));
    let pool = format!(
        "{}/nodepools/{}/operation/upgrade",
        base(&emu, "api", &cluster),
        emu.nodepool_id()
    );
    let np = emu.nodepool_id().to_string();
    let cases: Vec<(&str, Value, &str)> = vec![
        (&create, json!([1]), "body must be a JSON object"),
        (
            &create,
            json!({"apiVersion": "v3", "spec": {"targetVersion": "v1.29"}}),
            "invalid kind: it is required",
        ),
        (
            &create,
            json!({"kind": "PostCheckTask", "apiVersion": "v3", "spec": {"targetVersion": "v1.29"}}),
            "invalid kind: it is \"PostCheckTask\" but the API only accepts `WorkFlowTask`",
        ),
        (
            &create,
            json!({"kind": "WorkFlowTask", "spec": {"targetVersion": "v1.29"}}),
            "invalid apiVersion: it is required",
        ),
        (
            &create,
            json!({"kind": "WorkFlowTask", "apiVersion": "v1", "spec": {"targetVersion": "v1.29"}}),
            "invalid apiVersion: it is \"v1\" but the API only accepts `v3`",
        ),
        (
            &create,
            json!({"kind": "WorkFlowTask", "apiVersion": "v3"}),
            "invalid spec: it is required",
        ),
        (
            &create,
            json!({"kind": "WorkFlowTask", "apiVersion": "v3", "spec": {}}),
            "invalid spec.targetVersion: it is required",
        ),
        (
            &create,
            json!({"kind": "WorkFlowTask", "apiVersion": "v3", "spec": {"targetVersion": ""}}),
            "invalid spec.targetVersion: it has 0 characters",
        ),
        (
            &create,
            create_body("v1.28.15-r0"),
            "spec.targetVersion v1.28.15-r0 is not higher than the cluster's version v1.28.15-r0",
        ),
        (
            &postcheck,
            json!({"kind": "WorkFlowTask", "apiVersion": "v3", "spec": {}}),
            "invalid kind: it is \"WorkFlowTask\" but the API only accepts `PostCheckTask`",
        ),
        (
            &postcheck,
            json!({"kind": "PostCheckTask", "apiVersion": "v3"}),
            "invalid spec: it is required",
        ),
        (&pool, json!({}), "invalid spec: it is required"),
        (
            &pool,
            json!({"spec": {"maxUnavailable": 1}}),
            "invalid spec.nodePoolID: it is required",
        ),
        (
            &pool,
            json!({"spec": {"maxUnavailable": 1, "nodePoolID": "other"}}),
            "invalid spec.nodePoolID: it is `other` but the path's nodepool_id is",
        ),
        (
            &pool,
            json!({"spec": {"nodePoolID": np}}),
            "invalid spec.maxUnavailable: it is required",
        ),
        (
            &pool,
            json!({"spec": {"nodePoolID": np, "maxUnavailable": 21}}),
            "invalid spec.maxUnavailable: it is 21; it must be between 1 and 20",
        ),
        (
            &pool,
            json!({"spec": {"nodePoolID": np, "maxUnavailable": 1, "nodeTemplate": {"lifeCycle": {"postInstall": "not base64!"}, "login": {"sshKey": "kp"}}}}),
            "invalid spec.nodeTemplate.lifeCycle.postInstall",
        ),
        (
            &pool,
            json!({"spec": {"nodePoolID": np, "maxUnavailable": 1, "nodeTemplate": {"lifeCycle": {"preInstall": "QUJD".repeat(2561)}, "login": {"sshKey": "kp"}}}}),
            "10240",
        ),
        (
            &pool,
            json!({"spec": {"nodePoolID": np, "maxUnavailable": 1, "nodeTemplate": {"lifeCycle": {}, "login": {}}}}),
            "invalid spec.nodeTemplate.login",
        ),
    ];
    for (path, body, expected) in cases {
        let answer = client.post(path, &body).await;
        assert_eq!(answer.status, 400, "{body}: {}", answer.text);
        assert_eq!(answer.error_code(), "CCE.01400001", "{body}");
        let msg = answer.error_msg();
        assert!(
            msg.starts_with("Invalid request: ") && msg.contains(expected),
            "{body}: {msg}"
        );
        assert_eq!(answer.json()["request_id"], assert_request_id(&answer));
    }

    // A body that is not JSON at all.
    let answer = client.try_call("POST", &create, &[], None).await.unwrap();
    assert_eq!(answer.status, 400);
    assert!(
        answer.error_msg().contains("not valid JSON"),
        "{}",
        answer.error_msg()
    );
    assert!(emu.workflows(&cluster).is_empty());
}

#[tokio::test]
async fn one_workflow_at_a_time() {
    let emu = Emulator::start_with(EmulatorConfig::fast()).await.unwrap();
    let client = Client::new(&emu);
    assert_eq!(
        client
            .post(&workflows_path(&emu), &create_body("v1.29.10-r0"))
            .await
            .status,
        201
    );
    let second = client
        .post(&workflows_path(&emu), &create_body("v1.30.14-r0"))
        .await;
    assert_eq!(second.status, 400);
    assert_eq!(second.error_code(), "CCE.01400013");
    assert!(
        second.error_msg().contains("an upgrade workflow (")
            && second.error_msg().contains("is already open"),
        "{}",
        second.error_msg()
    );
    assert_eq!(emu.workflows(emu.cluster_id()).len(), 1);
}

#[tokio::test]
async fn unknown_things_are_404_and_wrong_methods_405() {
    let emu = Emulator::start_with(EmulatorConfig::fast()).await.unwrap();
    let client = Client::new(&emu);
    let cluster = emu.cluster_id().to_string();

    let other_project = format!(
        "/api/v3/projects/{}/clusters/{cluster}/operation/upgradeworkflows",
        "0".repeat(32)
    );
    let answer = client.get(&other_project).await;
    assert_eq!(
        (answer.status, answer.error_code().as_str()),
        (404, "CCE.01404001")
    );
    assert!(
        answer
            .error_msg()
            .contains("Project 00000000000000000000000000000000 not found")
    );

    let answer = client
        .get(&format!(
            "{}/operation/upgradeworkflows",
            base(&emu, "api", "nope")
        ))
        .await;
    assert_eq!(
        (answer.status, answer.error_code().as_str()),
        (404, "CCE.01404001")
    );
    assert!(answer.error_msg().contains("Cluster nope not found"));

    let answer = client
        .get(&format!(
            "{}/operation/upgrade/tasks/nope",
            base(&emu, "api", &cluster)
        ))
        .await;
    assert_eq!(answer.status, 404);
    assert!(answer.error_msg().contains("Upgrade task nope not found"));

    let answer = client
        .post(
            &format!(
                "{}/nodepools/nope/operation/upgrade",
                base(&emu, "api", &cluster)
            ),
            &json!({"spec": {"nodePoolID": "nope", "maxUnavailable": 1}}),
        )
        .await;
    assert_eq!(answer.status, 404);
    assert!(answer.error_msg().contains("Node pool nope not found"));

    // Unknown routes: 404 APIGW.0101, even before authentication.
    for path in [
        "/api/v3/projects",
        "/api/v3/projects/p/clusters/c/operation/rollback",
        "/",
    ] {
        let answer = client.get(path).await;
        assert_eq!(
            (answer.status, answer.error_code().as_str()),
            (404, "APIGW.0101"),
            "{path}"
        );
    }
    let bare = bare_get(format!("{}/nothing/here", emu.endpoint())).await;
    assert_eq!(bare.status(), 404);

    let answer = client.call("DELETE", &workflows_path(&emu), None).await;
    assert_eq!(answer.status, 405);
    assert_eq!(answer.header("allow"), Some("GET, POST"));
    assert_request_id(&answer);
}

#[tokio::test]
async fn a_failing_cluster_task_stops_half_way_and_the_workflow_is_pending() {
    let emu = Emulator::start_with(EmulatorConfig::fast().fail_cluster_task(true))
        .await
        .unwrap();
    let client = Client::new(&emu);
    let api = base(&emu, "api", emu.cluster_id());
    client
        .post(&workflows_path(&emu), &create_body("v1.29.10-r0"))
        .await;
    let upgrade = client
        .post(
            &format!("{api}/operation/upgrade"),
            &upgrade_body("v1.29.10-r0", false),
        )
        .await
        .json();
    let task_id = upgrade["metadata"]["uid"].as_str().unwrap().to_string();
    let task_path = format!("{api}/operation/upgrade/tasks/{task_id}");
    poll_phases(&client, &task_path, &["Success", "Failed"]).await;
    let task = client.get(&task_path).await.json();
    assert_eq!(task["status"]["phase"], "Failed");
    assert_eq!(task["status"]["progress"], "50.00");
    let list = client.get(&workflows_path(&emu)).await.json();
    assert_eq!(list["items"][0]["status"]["phase"], "Pending");
    assert_eq!(
        emu.cluster_version(emu.cluster_id()).as_deref(),
        Some("v1.28.15-r0")
    );

    // A retry resumes it from 50 % and it completes; the workflow runs again.
    let retry = client
        .call("POST", &format!("{api}/operation/upgrade/retry"), None)
        .await;
    assert_eq!(retry.status, 200, "{}", retry.text);
    let phases = poll_phases(&client, &task_path, &["Success", "Failed"]).await;
    assert_eq!(phases, ["Running", "Running", "Running", "Success"]);
    assert_eq!(emu.upgrades_started(emu.cluster_id()), 1);
    assert_eq!(
        emu.cluster_version(emu.cluster_id()).as_deref(),
        Some("v1.29.10-r0")
    );
    let list = client.get(&workflows_path(&emu)).await.json();
    assert_eq!(list["items"][0]["status"]["phase"], "Running");
}

#[tokio::test]
async fn odd_cluster_ids_are_percent_decoded_before_lookup() {
    let emu = Emulator::start_with(EmulatorConfig::fast()).await.unwrap();
    let id = "my cluster+1%中";
    emu.add_cluster(id, "v1.27.3-r0", false);
    emu.add_nodepool(id, "pool 1");
    let encoded = enc(id.as_bytes()); // my%20cluster%2B1%25%E4%B8%AD
    let client = Client::new(&emu);
    let created = client
        .post(
            &format!("{}/operation/upgradeworkflows", base(&emu, "api", &encoded)),
            &create_body("v1.28.15-r0"),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.json()["spec"]["clusterID"], id);
    assert_eq!(emu.workflows(id).len(), 1);
    let pool = client
        .post(
            &format!(
                "{}/nodepools/pool%201/operation/upgrade",
                base(&emu, "api", &encoded)
            ),
            &json!({"spec": {"nodePoolID": "pool 1", "maxUnavailable": 2}}),
        )
        .await;
    assert_eq!(pool.status, 200, "{}", pool.text);
    // A literal `+` in a path is a plus, not a space.
    emu.add_cluster("a+b", "v1.27.3-r0", true);
    let list = client
        .get(&format!(
            "{}/operation/upgradeworkflows",
            base(&emu, "autopilot", "a+b")
        ))
        .await;
    assert_eq!(list.status, 200, "{}", list.text);
}

// ---------------------------------------------------------------------------------------------
// Faults
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn status_faults_answer_with_retry_after_then_the_service_recovers() {
    let emu = Emulator::start_with(EmulatorConfig::fast()).await.unwrap();
    let client = Client::new(&emu);
    emu.inject(
        Fault::Status {
            status: 503,
            retry_after: Some(2),
        },
        2,
    );
    emu.inject(
        Fault::Status {
            status: 429,
            retry_after: None,
        },
        1,
    );
    let path = workflows_path(&emu);
    for _ in 0..2 {
        let answer = client.post(&path, &create_body("v1.29.10-r0")).await;
        assert_eq!(answer.status, 503);
        assert_eq!(answer.header("retry-after"), Some("2"));
        assert_eq!(answer.error_code(), "APIGW.0201");
        assert_eq!(answer.json()["request_id"], assert_request_id(&answer));
    }
    let throttled = client.post(&path, &create_body("v1.29.10-r0")).await;
    assert_eq!(throttled.status, 429);
    assert_eq!(throttled.error_code(), "APIGW.0308");
    assert_eq!(throttled.header("retry-after"), None);
    assert!(
        emu.workflows(emu.cluster_id()).is_empty(),
        "faulted requests are not acted on"
    );

    let ok = client.post(&path, &create_body("v1.29.10-r0")).await;
    assert_eq!(ok.status, 201);
    assert_eq!(emu.requests().len(), 4);
    assert_eq!(emu.workflows(emu.cluster_id()).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_after_action_creates_once_and_the_client_sees_a_connection_error() {
    let emu = Emulator::start_with(EmulatorConfig::default().pace(Duration::from_secs(60)))
        .await
        .unwrap();
    let client = Client::new(&emu);
    // Warm up a keep-alive connection first: the fault must not be masked by it.
    assert_eq!(client.get(&workflows_path(&emu)).await.status, 200);
    emu.inject(Fault::DropAfterAction, 1);
    let result = client
        .try_call(
            "POST",
            &workflows_path(&emu),
            &[],
            Some(&create_body("v1.29.10-r0")),
        )
        .await;
    let error = result.expect_err("no response must arrive");
    assert!(!error.is_status() && !error.is_timeout(), "{error:?}");
    assert_eq!(
        emu.workflows(emu.cluster_id()).len(),
        1,
        "the create did happen"
    );
    assert_eq!(emu.requests().len(), 2, "and reqwest did not retry it");

    // On the wire: not a single response byte, just a close.
    emu.add_cluster("raw", "v1.27.3-r0", false);
    emu.inject(Fault::DropAfterAction, 1);
    let path = format!("{}/operation/upgradeworkflows", base(&emu, "api", "raw"));
    let answer = raw_exchange(
        &emu,
        &raw_request(&emu, "POST", &path, &create_body("v1.28.15-r0").to_string()),
    )
    .await;
    assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer));
    assert_eq!(emu.workflows("raw").len(), 1);
}

#[tokio::test]
async fn a_delay_fault_answers_late_but_normally() {
    let emu = Emulator::start_with(EmulatorConfig::fast()).await.unwrap();
    let client = Client::new(&emu);
    emu.inject(Fault::Delay(Duration::from_millis(300)), 1);
    let started = Instant::now();
    let answer = client.get(&workflows_path(&emu)).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(answer.status, 200);

    // A long delay looks like a silent server to a client with a timeout.
    emu.inject(Fault::Delay(Duration::from_secs(30)), 1);
    let impatient = Client {
        http: http().timeout(Duration::from_millis(100)).build().unwrap(),
        ..client.clone()
    };
    let error = impatient
        .try_call("GET", &workflows_path(&emu), &[], None)
        .await
        .unwrap_err();
    assert!(error.is_timeout(), "{error:?}");
    let started = Instant::now();
    emu.shutdown().await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "shutdown cuts the delay short"
    );
}

#[tokio::test]
async fn html_bad_gateway_is_an_nginx_page() {
    let emu = Emulator::start_with(EmulatorConfig::fast()).await.unwrap();
    emu.inject(Fault::HtmlBadGateway, 1);
    let client = Client::new(&emu);
    let answer = client
        .post(&workflows_path(&emu), &create_body("v1.29.10-r0"))
        .await;
    assert_eq!(answer.status, 502);
    assert_eq!(answer.header("content-type"), Some("text/html"));
    assert!(
        answer
            .text
            .contains("<center><h1>502 Bad Gateway</h1></center>")
    );
    assert!(answer.text.contains("nginx"));
    assert_request_id(&answer);
    assert!(emu.workflows(emu.cluster_id()).is_empty());
    // Faults apply to any route, even unknown ones, and to unauthenticated requests.
    emu.inject(Fault::HtmlBadGateway, 1);
    let bare = bare_get(format!("{}/nothing", emu.endpoint())).await;
    assert_eq!(bare.status(), 502);
    assert!(!emu.requests().last().unwrap().authenticated);
}

// ---------------------------------------------------------------------------------------------
// The emulator as a whole
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_emulators_run_side_by_side() {
    let (a, b) = tokio::join!(
        Emulator::start_with(EmulatorConfig::fast()),
        Emulator::start_with(EmulatorConfig::fast())
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_ne!(a.endpoint(), b.endpoint());
    assert_ne!(a.secret_key(), b.secret_key());
    assert_ne!(a.access_key(), b.access_key());
    assert_ne!(a.project_id(), b.project_id());
    assert_eq!(a.project_id().len(), 32);
    assert_eq!(a.region(), "cn-north-4");
    assert_eq!(a.secret_key().len(), 40);

    assert_eq!(
        Client::new(&a)
            .post(&workflows_path(&a), &create_body("v1.29.10-r0"))
            .await
            .status,
        201
    );
    assert_eq!(
        Client::new(&b).get(&workflows_path(&b)).await.json()["items"],
        json!([])
    );
    // A's keys mean nothing to B.
    let a_on_b = Client {
        endpoint: b.endpoint(),
        host: b.endpoint().trim_start_matches("http://").to_string(),
        ..Client::new(&a)
    };
    assert_eq!(a_on_b.get(&workflows_path(&b)).await.status, 401);
    assert_eq!(a.requests().len(), 1);
    assert_eq!(b.requests().len(), 2);
    a.shutdown().await;
    assert_eq!(Client::new(&b).get(&workflows_path(&b)).await.status, 200);
}

#[tokio::test]
async fn every_answer_has_its_own_request_id() {
    let emu = Emulator::start_with(EmulatorConfig::fast()).await.unwrap();
    let client = Client::new(&emu);
    emu.inject(
        Fault::Status {
            status: 429,
            retry_after: Some(1),
        },
        1,
    );
    let mut ids = std::collections::HashSet::new();
    let answers = [
        client.get(&workflows_path(&emu)).await, // 429
        client.get(&workflows_path(&emu)).await, // 200
        client.get("/nowhere").await,            // 404
        Client::token(&emu, "x").get(&workflows_path(&emu)).await, // 401
        client.post(&workflows_path(&emu), &json!({})).await, // 400
    ];
    let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [429, 200, 404, 401, 400]);
    for answer in &answers {
        assert!(ids.insert(assert_request_id(answer)));
    }
}

#[tokio::test]
async fn shutdown_is_graceful_and_drop_stops_the_server() {
    let emu = Emulator::start_with(EmulatorConfig::fast()).await.unwrap();
    let addr = emu.endpoint().trim_start_matches("http://").to_string();
    let client = Client::new(&emu);
    assert_eq!(client.get(&workflows_path(&emu)).await.status, 200); // leaves an idle keep-alive connection

    // A request in flight when shutdown starts is still answered.
    emu.inject(Fault::Delay(Duration::from_millis(200)), 1);
    let in_flight = tokio::spawn({
        let (client, path) = (client.clone(), workflows_path(&emu));
        async move { client.get(&path).await.status }
    });
    eventually(|| async { (emu.requests().len() == 2).then_some(()) }).await;
    let started = Instant::now();
    emu.shutdown().await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(in_flight.await.unwrap(), 200);
    assert!(
        TcpStream::connect(&addr).await.is_err(),
        "no longer listening"
    );

    let dropped = Emulator::start_with(EmulatorConfig::fast()).await.unwrap();
    let addr = dropped.endpoint().trim_start_matches("http://").to_string();
    drop(dropped);
    eventually(|| {
        let addr = addr.clone();
        async move { TcpStream::connect(&addr).await.is_err().then_some(()) }
    })
    .await;
}

#[tokio::test]
async fn debug_output_hides_the_secrets() {
    let emu = Emulator::start().await.unwrap();
    Client::temporary(&emu).get(&workflows_path(&emu)).await;
    Client::token(&emu, emu.auth_token())
        .get(&workflows_path(&emu))
        .await;
    let printed = format!("{emu:?} {:?}", emu.requests());
    for secret in [
        emu.secret_key(),
        emu.temporary_secret_key(),
        emu.security_token(),
        emu.auth_token(),
    ] {
        assert!(!printed.contains(secret), "secret leaked: {printed}");
    }
    assert!(printed.contains(emu.access_key()));
    assert!(printed.contains("** redacted **"));
    assert!(emu.auth_token().starts_with("MII"));
}

#[test]
fn a_current_thread_runtime_built_by_hand_works_too() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let emu = Emulator::start_with(EmulatorConfig::fast()).await.unwrap();
        let answer = Client::new(&emu).get(&workflows_path(&emu)).await;
        assert_eq!(answer.status, 200);
        emu.shutdown().await;
    });
}

#[test]
fn config_presets_set_the_pace() {
    // Nothing moves by itself in tests; the demo ticks.
    assert_eq!(EmulatorConfig::default().pace, None);
    assert_eq!(EmulatorConfig::fast().pace, None);
    assert!(EmulatorConfig::fast().advance_on_read);
    let demo = EmulatorConfig::demo().pace.expect("the demo ticks");
    // A whole upgrade (pre-check 3 steps, upgrade 7, with its own pre-check 3 more) in well
    // under a minute, even without a single read.
    let whole_upgrade = demo * 16;
    assert!(whole_upgrade >= Duration::from_secs(4) && whole_upgrade <= Duration::from_secs(30));
    assert_eq!(EmulatorConfig::default().pace(Duration::ZERO).pace, None);
}

#[test]
fn the_public_types_can_cross_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Emulator>();
    send_sync::<EmulatorConfig>();
    send_sync::<super::ReceivedRequest>();
    send_sync::<Fault>();
}

// ---------------------------------------------------------------------------------------------
// The service model: flows, rules and scenarios
// ---------------------------------------------------------------------------------------------

/// The paths of one cluster's operations.
struct Paths {
    api: String,
    workflows: String,
}

fn paths(emu: &Emulator, prefix: &str, cluster: &str) -> Paths {
    let api = base(emu, prefix, cluster);
    Paths {
        workflows: format!("{api}/operation/upgradeworkflows"),
        api,
    }
}

/// Runs a pre-check to its end; returns its final JSON.
async fn run_precheck(client: &Client, p: &Paths, target: &str, skipped: Value) -> Value {
    let created = client
        .post(
            &format!("{}/operation/precheck", p.api),
            &precheck_body(target, skipped),
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.text);
    let uid = created.json()["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("{}/operation/precheck/tasks/{uid}", p.api);
    poll_phases(client, &path, &["Success", "Failed"]).await;
    client.get(&path).await.json()
}

#[tokio::test]
async fn a_cancel_is_refused_while_a_task_runs_and_accepted_after() {
    let emu = Emulator::start_with(EmulatorConfig::fast()).await.unwrap();
    let client = Client::new(&emu);
    let p = paths(&emu, "api", emu.cluster_id());
    let wf = client
        .post(&p.workflows, &create_body("v1.29"))
        .await
        .json();
    // A minor version means its latest allowed patch.
    assert_eq!(wf["spec"]["targetVersion"], "v1.29.15-r0");
    let uid = wf["metadata"]["uid"].as_str().unwrap().to_string();
    let cancel = json!({"status": {"phase": "Cancel"}});
    let wf_path = format!("{}/{uid}", p.workflows);

    client
        .post(
            &format!("{}/operation/precheck", p.api),
            &precheck_body("v1.29", json!([])),
        )
        .await;
    for phase_seen in ["Init", "Running", "Running"] {
        let refused = client.call("PATCH", &wf_path, Some(&cancel)).await;
        assert_eq!(refused.status, 400, "{}", refused.text);
        assert!(
            refused.error_msg().contains(&format!("is {phase_seen}")),
            "{}",
            refused.error_msg()
        );
        emu.advance(1);
    }
    let other = client
        .call(
            "PATCH",
            &wf_path,
            Some(&json!({"status": {"phase": "Success"}})),
        )
        .await;
    assert_eq!(other.status, 400);
    assert!(other.error_msg().contains("the only update is Cancel"));
    let cancelled = client.call("PATCH", &wf_path, Some(&cancel)).await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.text);
    assert_eq!(cancelled.json()["status"]["phase"], "Cancel");
    let shown = client.get(&wf_path).await.json();
    assert_eq!(shown["status"]["phase"], "Cancel");
    // A cancelled workflow no longer blocks a new one.
    assert_eq!(
        client
            .post(&p.workflows, &create_body("v1.29"))
            .await
            .status,
        201
    );
    let missing = client.get(&format!("{}/nope", p.workflows)).await;
    assert_eq!(missing.status, 404);
    assert!(
        missing
            .error_msg()
            .contains("Upgrade workflow nope not found")
    );
}

#[tokio::test]
async fn versions_are_checked_and_reported() {
    let emu = Emulator::start_with(EmulatorConfig::fast()).await.unwrap();
    let client = Client::new(&emu);
    let p = paths(&emu, "api", emu.cluster_id());
    let info = client.get(&format!("{}/upgradeinfo", p.api)).await.json();
    assert_eq!(info["spec"]["versionInfo"]["release"], "v1.28.15");
    assert_eq!(info["spec"]["versionInfo"]["patch"], "r0");
    assert_eq!(info["spec"]["versionInfo"]["suggestPatch"], "r1.sp1");
    assert_eq!(
        info["spec"]["versionInfo"]["targetVersions"],
        json!([
            "v1.28.15-r1.sp1",
            "v1.29.10-r0",
            "v1.29.15-r0",
            "v1.30.14-r0"
        ])
    );
    let paths_list = client.get("/api/v3/clusterupgradepaths").await.json();
    let entry = paths_list["upgradePaths"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["version"] == "v1.28.15-r0")
        .unwrap()
        .clone();
    assert_eq!(entry["platformVersion"], "cce.5.0.0");
    assert_eq!(
        entry["targetVersions"],
        info["spec"]["versionInfo"]["targetVersions"]
    );
    assert_eq!(
        client.get("/autopilot/v3/clusterupgradepaths").await.json(),
        paths_list
    );

    for (target, expected) in [
        ("v1.28.15-r0", "is not higher than"),
        ("v1.27", "is not higher than"),
        (
            "v1.29.11-r0",
            "is not an allowed target for version v1.28.15-r0",
        ),
        ("v1.31", "is not an allowed target"),
        // Not a version at all: the spec's pattern refuses it, as the client does.
        ("latest", "does not match the pattern"),
    ] {
        for path in [
            format!("{}/operation/upgrade", p.api),
            format!("{}/operation/precheck", p.api),
        ] {
            let body = if path.ends_with("upgrade") {
                upgrade_body(target, false)
            } else {
                precheck_body(target, json!([]))
            };
            let refused = client.post(&path, &body).await;
            assert_eq!(refused.status, 400, "{target}");
            assert!(
                refused.error_msg().contains("targetVersion"),
                "{}",
                refused.error_msg()
            );
            assert!(
                refused.error_msg().contains(expected),
                "{}",
                refused.error_msg()
            );
        }
    }
    assert_eq!(emu.upgrades_started(emu.cluster_id()), 0);
    assert!(emu.pre_checks(emu.cluster_id()).is_empty());
}

#[tokio::test]
async fn a_second_upgrade_is_refused_while_one_is_under_way() {
    let emu =
        Emulator::start_with(EmulatorConfig::fast().scenario(Scenario::PauseAt { progress: 40 }))
            .await
            .unwrap();
    let client = Client::new(&emu);
    let p = paths(&emu, "api", emu.cluster_id());
    let first = client
        .post(
            &format!("{}/operation/upgrade", p.api),
            &upgrade_body("v1.29.10-r0", false),
        )
        .await;
    assert_eq!(first.status, 200);
    let task = first.json()["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_string();
    let task_path = format!("{}/operation/upgrade/tasks/{task}", p.api);
    let mut phases = Vec::new();
    loop {
        let second = client
            .post(
                &format!("{}/operation/upgrade", p.api),
                &upgrade_body("v1.29.10-r0", false),
            )
            .await;
        assert_eq!(second.status, 400);
        assert_eq!(second.error_code(), "CCE.01400013");
        assert!(
            second.error_msg().contains("already under way"),
            "{}",
            second.error_msg()
        );
        let shown = client.get(&task_path).await.json();
        let phase = shown["status"]["phase"].as_str().unwrap().to_string();
        phases.push(phase.clone());
        if phase == "Pause" {
            assert_eq!(shown["status"]["progress"], "40.00");
            break;
        }
        assert!(phases.len() < 30, "{phases:?}");
    }
    assert!(phases.contains(&"Init".to_string()) && phases.contains(&"Queuing".to_string()));
    // Paused: still refused, and reads do not move it.
    for _ in 0..3 {
        assert_eq!(
            client.get(&task_path).await.json()["status"]["phase"],
            "Pause"
        );
    }
    assert_eq!(
        client
            .post(
                &format!("{}/operation/upgrade", p.api),
                &upgrade_body("v1.29.10-r0", false)
            )
            .await
            .status,
        400
    );
    let retry = client
        .call("POST", &format!("{}/operation/upgrade/retry", p.api), None)
        .await;
    assert_eq!(retry.status, 400);
    assert!(
        retry.error_msg().contains("is Pause"),
        "{}",
        retry.error_msg()
    );
    let resumed = client
        .call(
            "POST",
            &format!("{}/operation/upgrade/continue", p.api),
            None,
        )
        .await;
    assert_eq!(resumed.status, 200, "{}", resumed.text);
    let phases = poll_phases(&client, &task_path, &["Success", "Failed"]).await;
    assert_eq!(phases.last().map(String::as_str), Some("Success"));
    assert_eq!(emu.upgrades_started(emu.cluster_id()), 1);
    // Pause acts only on a running task.
    let pause = client
        .call("POST", &format!("{}/operation/upgrade/pause", p.api), None)
        .await;
    assert_eq!(pause.status, 400);
    // Autopilot has no pause or continue.
    let ap = paths(&emu, "autopilot", emu.autopilot_cluster_id());
    let none = client
        .call("POST", &format!("{}/operation/upgrade/pause", ap.api), None)
        .await;
    assert_eq!(
        (none.status, none.error_code().as_str()),
        (404, "APIGW.0101")
    );
}

#[tokio::test]
async fn only_upgrade_needs_a_passed_unexpired_pre_check_for_that_target() {
    let emu = Emulator::start_with(EmulatorConfig::fast().advance_on_read(false))
        .await
        .unwrap();
    let client = Client::new(&emu);
    let cluster = emu.cluster_id().to_string();
    let p = paths(&emu, "api", &cluster);
    let upgrade = format!("{}/operation/upgrade", p.api);
    let refused = client
        .post(&upgrade, &upgrade_body("v1.29.10-r0", true))
        .await;
    assert_eq!(refused.status, 400);
    assert!(
        refused
            .error_msg()
            .contains("isOnlyUpgrade: no passed pre-upgrade check"),
        "{}",
        refused.error_msg()
    );

    // With reads not advancing, only advance() moves the pre-check.
    let created = client
        .post(
            &format!("{}/operation/precheck", p.api),
            &precheck_body("v1.29.10-r0", json!([])),
        )
        .await
        .json();
    let uid = created["metadata"]["uid"].as_str().unwrap().to_string();
    let path = format!("{}/operation/precheck/tasks/{uid}", p.api);
    for _ in 0..5 {
        assert_eq!(client.get(&path).await.json()["status"]["phase"], "Init");
    }
    // Still running: not a passed pre-check.
    emu.advance(2);
    assert_eq!(client.get(&path).await.json()["status"]["phase"], "Running");
    assert_eq!(
        client
            .post(&upgrade, &upgrade_body("v1.29.10-r0", true))
            .await
            .status,
        400
    );
    emu.advance(1);
    let done = client.get(&path).await.json();
    assert_eq!(done["status"]["phase"], "Success");
    assert!(done["status"]["expireTimeStamp"].is_string());
    // Passed for v1.29.10-r0, not for another target.
    let other = client
        .post(&upgrade, &upgrade_body("v1.30.14-r0", true))
        .await;
    assert_eq!(other.status, 400);
    assert!(other.error_msg().contains("no passed pre-upgrade check"));
    // It expires on the emulator's clock.
    emu.advance_clock(super::PRECHECK_VALIDITY + Duration::from_secs(1));
    let expired = client
        .post(&upgrade, &upgrade_body("v1.29.10-r0", true))
        .await;
    assert_eq!(expired.status, 400);
    assert!(
        expired.error_msg().contains("expired"),
        "{}",
        expired.error_msg()
    );
    assert_eq!(emu.upgrades_started(&cluster), 0);

    // A fresh one, used within its validity: the upgrade runs without a pre-check of its own.
    client
        .post(
            &format!("{}/operation/precheck", p.api),
            &precheck_body("v1.29.10-r0", json!([])),
        )
        .await;
    emu.advance(3);
    emu.advance_clock(super::PRECHECK_VALIDITY - Duration::from_secs(1));
    let started = client
        .post(&upgrade, &upgrade_body("v1.29.10-r0", true))
        .await;
    assert_eq!(started.status, 200, "{}", started.text);
    assert_eq!(emu.pre_checks(&cluster).len(), 2);
    emu.advance(7);
    assert_eq!(emu.upgrade_tasks(&cluster)[0]["status"]["phase"], "Success");
    assert_eq!(
        emu.cluster_version(&cluster).as_deref(),
        Some("v1.29.10-r0")
    );
    assert_eq!(emu.upgrades_started(&cluster), 1);
}

#[tokio::test]
async fn a_risk_passes_when_skipped_and_an_exception_never() {
    let emu = Emulator::start_with(EmulatorConfig::fast()).await.unwrap();
    let client = Client::new(&emu);
    let cluster = emu.cluster_id().to_string();
    let p = paths(&emu, "api", &cluster);
    emu.set_scenario(
        &cluster,
        Scenario::precheck_risk_on_nodes("NodeKernel", ["n1", "n2"]),
    );

    let failed = run_precheck(&client, &p, "v1.29.10-r0", json!([])).await;
    assert_eq!(failed["status"]["phase"], "Failed");
    assert!(
        failed["status"]["message"]
            .as_str()
            .unwrap()
            .contains("NodeKernel (Risk)")
    );
    let stages = failed["status"]["nodeCheckStatus"]["nodeStageStatus"]
        .as_array()
        .unwrap();
    assert_eq!(stages.len(), 2);
    assert_eq!(stages[0]["itemsStatus"][0]["name"], "NodeKernel");
    assert_eq!(stages[0]["itemsStatus"][0]["kind"], "Risk");
    assert_eq!(emu.workflows(&cluster).len(), 0);

    // Skipped on one node only: still fails; on both (or without a selector): passes.
    let one = json!([{"name": "NodeKernel", "resourceSelector": {"key": "node.uid", "operator": "In", "values": ["n1"]}}]);
    assert_eq!(
        run_precheck(&client, &p, "v1.29.10-r0", one).await["status"]["phase"],
        "Failed"
    );
    let both = json!([{"name": "NodeKernel", "resourceSelector": {"key": "node.uid", "operator": "In", "values": ["n1", "n2"]}}]);
    assert_eq!(
        run_precheck(&client, &p, "v1.29.10-r0", both).await["status"]["phase"],
        "Success"
    );
    let all = json!([{"name": "NodeKernel"}]);
    assert_eq!(
        run_precheck(&client, &p, "v1.29.10-r0", all.clone()).await["status"]["phase"],
        "Success"
    );

    // An upgrade's own pre-check skips nothing, so it fails and so does the upgrade.
    let upgrade = client
        .post(
            &format!("{}/operation/upgrade", p.api),
            &upgrade_body("v1.29.10-r0", false),
        )
        .await
        .json();
    let task = upgrade["metadata"]["uid"].as_str().unwrap().to_string();
    let phases = poll_phases(
        &client,
        &format!("{}/operation/upgrade/tasks/{task}", p.api),
        &["Success", "Failed"],
    )
    .await;
    assert_eq!(phases.last().map(String::as_str), Some("Failed"));
    assert_eq!(
        emu.cluster_version(&cluster).as_deref(),
        Some("v1.28.15-r0")
    );

    // An Exception fails even when named.
    emu.set_scenario(&cluster, Scenario::precheck_exception("EtcdHealth"));
    let named = json!([{"name": "NodeKernel"}, {"name": "EtcdHealth"}]);
    let failed = run_precheck(&client, &p, "v1.29.10-r0", named.clone()).await;
    assert_eq!(failed["status"]["phase"], "Failed");
    let items = failed["status"]["clusterCheckStatus"]["itemsStatus"]
        .as_array()
        .unwrap();
    assert_eq!(items[0]["kind"], "Exception");
    assert_eq!(items[0]["level"], "Fatal");
    // Fixed: the scenario is cleared.
    emu.clear_scenarios(&cluster);
    assert_eq!(
        run_precheck(&client, &p, "v1.29.10-r0", named).await["status"]["phase"],
        "Success"
    );
}

#[tokio::test]
async fn slow_steps_take_more_reads_and_advance_moves_one_step_per_call() {
    let emu = Emulator::start_with(EmulatorConfig::fast()).await.unwrap();
    let client = Client::new(&emu);
    let cluster = emu.cluster_id().to_string();
    let p = paths(&emu, "api", &cluster);
    emu.set_scenario(&cluster, Scenario::SlowSteps { reads_per_step: 3 });
    let created = client
        .post(
            &format!("{}/operation/precheck", p.api),
            &precheck_body("v1.29.10-r0", json!([])),
        )
        .await
        .json();
    let uid = created["metadata"]["uid"].as_str().unwrap().to_string();
    let phases = poll_phases(
        &client,
        &format!("{}/operation/precheck/tasks/{uid}", p.api),
        &["Success"],
    )
    .await;
    assert_eq!(
        phases,
        [
            "Init", "Init", "Init", "Running", "Running", "Running", "Running", "Running",
            "Running", "Success"
        ]
    );
    // advance() ignores the reads per step.
    let upgrade = client
        .post(
            &format!("{}/operation/upgrade", p.api),
            &upgrade_body("v1.29.10-r0", true),
        )
        .await;
    assert_eq!(upgrade.status, 200, "{}", upgrade.text);
    emu.advance(1);
    assert_eq!(emu.upgrade_tasks(&cluster)[0]["status"]["phase"], "Queuing");
    emu.advance(2);
    assert_eq!(
        emu.upgrade_tasks(&cluster)[0]["status"]["progress"],
        "20.00"
    );
}

#[tokio::test]
async fn node_pool_jobs_snapshots_plans_and_the_other_operations_answer() {
    let emu = Emulator::start_with(EmulatorConfig::fast()).await.unwrap();
    let client = Client::new(&emu);
    let project = emu.project_id().to_string();
    let cluster = emu.cluster_id().to_string();
    let ap = emu.autopilot_cluster_id().to_string();
    let p = paths(&emu, "api", &cluster);

    let job = client
        .post(
            &format!(
                "{}/nodepools/{}/operation/upgrade",
                p.api,
                emu.nodepool_id()
            ),
            &json!({"spec": {"nodePoolID": emu.nodepool_id(), "maxUnavailable": 1}}),
        )
        .await
        .json()["jobid"]
        .as_str()
        .unwrap()
        .to_string();
    let job_path = format!("/api/v3/projects/{project}/jobs/{job}");
    let phases: Vec<String> = {
        let mut seen = Vec::new();
        for _ in 0..5 {
            let shown = client.get(&job_path).await.json();
            seen.push(shown["status"]["phase"].as_str().unwrap().to_string());
            if seen.last().unwrap() == "Success" {
                break;
            }
        }
        seen
    };
    assert_eq!(phases, ["Initializing", "Running", "Success"]);
    // A CCE job is not an Autopilot one.
    assert_eq!(
        client
            .get(&format!("/autopilot/v3/projects/{project}/jobs/{job}"))
            .await
            .status,
        404
    );
    assert_eq!(
        client
            .get(&format!("/api/v3/projects/{project}/jobs/nope"))
            .await
            .status,
        404
    );

    // Autopilot: an upgrade has a job, listed and shown under /autopilot/v2 and v3.
    let ap_paths = paths(&emu, "autopilot", &ap);
    let started = client
        .post(
            &format!("{}/operation/upgrade", ap_paths.api),
            &upgrade_body("v1.29", false),
        )
        .await;
    assert_eq!(started.status, 200, "{}", started.text);
    assert_eq!(
        started.json()["spec"]["clusterUpgradeAction"]["targetVersion"],
        "v1.29.15-r0"
    );
    let jobs = client
        .get(&format!("/autopilot/v2/projects/{project}/jobs"))
        .await
        .json();
    let ap_job = jobs[0]["metadata"]["uid"].as_str().unwrap().to_string();
    assert_eq!(jobs[0]["status"]["status"], "Initializing");
    assert_eq!(jobs[0]["spec"]["clusteruid"], ap.as_str());
    assert_eq!(
        client
            .get(&format!("/autopilot/v3/projects/{project}/jobs/{ap_job}"))
            .await
            .json()["spec"]["type"],
        "UpgradeCluster"
    );
    assert_eq!(
        client
            .get(&format!("/autopilot/v2/projects/{project}/jobs/{ap_job}"))
            .await
            .status,
        200
    );
    assert_eq!(
        client
            .call(
                "DELETE",
                &format!("/autopilot/v2/projects/{project}/jobs/{ap_job}"),
                None
            )
            .await
            .status,
        200
    );
    assert_eq!(
        client
            .get(&format!("/autopilot/v2/projects/{project}/jobs/{ap_job}"))
            .await
            .status,
        404
    );

    // Upgrade plans (Autopilot only).
    let plans = client
        .get(&format!("{}/upgradeplans", ap_paths.api))
        .await
        .json();
    // One plan object, as the official SDK's model has `items`.
    let plan = plans["items"].clone();
    assert!(plan.is_object(), "{plans}");
    assert_eq!(plan["spec"]["clusterVersion"], "v1.28.15-r0");
    let plan_uid = plan["metadata"]["uid"].as_str().unwrap().to_string();
    let postponed = client
        .call(
            "PUT",
            &format!("{}/upgradeplans/{plan_uid}", ap_paths.api),
            Some(&json!({"notBefore": "2001-01-01T00:00:00Z"})),
        )
        .await;
    assert_eq!(postponed.status, 200, "{}", postponed.text);
    assert_eq!(
        postponed.json()["spec"]["notBefore"],
        "2001-01-01T00:00:00Z"
    );
    let late = client
        .call(
            "PUT",
            &format!("{}/upgradeplans/{plan_uid}", ap_paths.api),
            Some(&json!({"notBefore": "2999-01-01T00:00:00Z"})),
        )
        .await;
    assert_eq!(late.status, 400);
    assert!(late.error_msg().contains("notBeforeDeadline"));
    assert_eq!(
        client
            .call(
                "PUT",
                &format!("{}/upgradeplans/nope", ap_paths.api),
                Some(&json!({"notBefore": "x"}))
            )
            .await
            .status,
        404
    );
    assert_eq!(
        client
            .get(&format!(
                "{}/upgradeplans",
                p.api.replace("/api/", "/autopilot/")
            ))
            .await
            .status,
        404
    );

    // Feature gates, add-on checks, node syncs.
    assert_eq!(
        client.get("/api/v3.1/feature-gates").await.json()["kind"],
        "Configuration"
    );
    assert_eq!(
        client
            .get("/api/v3/clusterupgradefeaturegates")
            .await
            .json()["upgradeFeatureGates"]["EvsSnapshot"],
        "Support"
    );
    let addon = client
        .post(
            &format!("{}/addons/precheck", p.api),
            &json!({"kind": "AddonCheck", "apiVersion": "v3", "spec": {"clusterID": cluster,
                    "addonList": [{"addonTemplateName": "coredns", "addonInstanceID": "i-1", "type": "addonStatic"}]}}),
        )
        .await;
    assert_eq!(addon.status, 200, "{}", addon.text);
    let addon_tasks = format!("{}/addons/precheck/tasks", p.api);
    let tasks = client
        .try_call("GET", &addon_tasks, &[("type", "addonStatic")], None)
        .await
        .unwrap()
        .json();
    assert_eq!(tasks["items"][0]["metadata"]["addonInstanceID"], "i-1");
    let none = client
        .try_call("GET", &addon_tasks, &[("type", "addonUpgrade")], None)
        .await
        .unwrap()
        .json();
    assert!(none["items"].is_null(), "{none}");
    let sync = client
        .get(&format!(
            "/api/v2/projects/{project}/clusters/{cluster}/nodes/n1/sync"
        ))
        .await;
    assert_eq!(
        (sync.status, sync.text.as_str()),
        (200, "Sync node success")
    );
    assert_eq!(sync.header("content-type"), Some("text/plain"));
    let batch = client
        .call("POST", &format!("{}/nodes/sync", p.api), None)
        .await;
    assert_eq!(batch.text, "Start to batch sync nodes");
    // Unknown tasks of every kind are 404s.
    for path in [
        format!("{}/operation/precheck/tasks/nope", p.api),
        format!("{}/operation/upgrade/tasks/nope", p.api),
        format!("{}/operation/upgradeworkflows/nope", p.api),
    ] {
        assert_eq!(client.get(&path).await.status, 404, "{path}");
    }
    let fresh = "fresh";
    emu.add_cluster(fresh, "v1.28.15-r0", false);
    let retry = client
        .call(
            "POST",
            &format!("{}/operation/upgrade/retry", base(&emu, "api", fresh)),
            None,
        )
        .await;
    assert_eq!(retry.status, 404);
}
