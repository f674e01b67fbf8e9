//! Every operation against the local emulator, over a real socket: what the server received
//! (method, path with the project id filled in, headers, signature, exact body) and what the
//! caller got back (status, typed body, request id).

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use cce_upgrade::emulator::{Emulator, EmulatorConfig, ReceivedRequest};
use cce_upgrade::signing::{SignableRequest, SigningParams, parse_sdk_date, sign};
use cce_upgrade::types::{
    CreateUpgradeWorkFlowRequestBody, NodeTemplate, PostCheckClusterRequestBody, PostCheckPhase,
    PostCheckSpec, UpgradeClusterRequestBody, UpgradeNodePool, UpgradeTaskPhase, WorkFlowPhase,
};
use cce_upgrade::{Client, Credentials, Env, ErrorKind};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::common;
use common::{DEMO_VERSION, TARGET, client, quick_retry, start, start_with};

const USER_AGENT: &str = concat!("cce-upgrade-rust/", env!("CARGO_PKG_VERSION"));
/// A version a cluster at [`TARGET`] (or at [`DEMO_VERSION`]) may be upgraded to.
const NEXT: &str = "v1.30.14-r0";

fn host(emulator: &Emulator) -> String {
    emulator.endpoint().trim_start_matches("http://").to_owned()
}

fn cce_path(emulator: &Emulator, cluster_segment: &str, rest: &str) -> String {
    format!(
        "/api/v3/projects/{}/clusters/{cluster_segment}/{rest}",
        emulator.project_id()
    )
}

fn autopilot_path(emulator: &Emulator, cluster_segment: &str, rest: &str) -> String {
    format!(
        "/autopilot/v3/projects/{}/clusters/{cluster_segment}/{rest}",
        emulator.project_id()
    )
}

fn signed_headers(authorization: &str) -> Vec<String> {
    let list = authorization
        .split(", ")
        .find_map(|part| part.strip_prefix("SignedHeaders="))
        .unwrap_or_else(|| panic!("no SignedHeaders in {authorization}"));
    list.split(';').map(str::to_owned).collect()
}

/// The headers every request from the client carries, whatever the credentials.
fn assert_common_headers(req: &ReceivedRequest, emulator: &Emulator) {
    assert_common_headers_to(req, &host(emulator));
}

/// The same, for a request sent to `host` (a proxy in front of the emulator).
fn assert_common_headers_to(req: &ReceivedRequest, host: &str) {
    assert!(req.authenticated, "the emulator refused {req:?}");
    assert_eq!(req.header("user-agent"), Some(USER_AGENT), "{req:?}");
    assert_eq!(
        req.header("content-type"),
        Some("application/json"),
        "{req:?}"
    );
    assert_eq!(
        req.header("api-version"),
        None,
        "the generator's api-version header leaked: {req:?}"
    );
    assert_eq!(req.header("host"), Some(host), "{req:?}");
}

/// What an AK/SK-signed call to the CCE API must look like on the wire.
fn assert_signed_call(
    req: &ReceivedRequest,
    emulator: &Emulator,
    method: &str,
    uri: &str,
    body: Option<Value>,
) {
    assert_signed_call_to(req, emulator, &host(emulator), method, uri, body);
}

/// The same, for a request sent to `host` (a proxy in front of the emulator).
fn assert_signed_call_to(
    req: &ReceivedRequest,
    emulator: &Emulator,
    host: &str,
    method: &str,
    uri: &str,
    body: Option<Value>,
) {
    assert_eq!(req.method, method, "{req:?}");
    assert_eq!(req.uri, uri, "{req:?}");
    assert_common_headers_to(req, host);
    assert_eq!(
        req.header("x-project-id"),
        Some(emulator.project_id()),
        "{req:?}"
    );
    let authorization = req
        .header("authorization")
        .expect("an Authorization header");
    let prefix = format!(
        "SDK-HMAC-SHA256 Access={}, SignedHeaders=",
        emulator.access_key()
    );
    assert!(authorization.starts_with(&prefix), "{authorization}");
    let signed = signed_headers(authorization);
    for name in [
        "content-type",
        "host",
        "user-agent",
        "x-project-id",
        "x-sdk-date",
    ] {
        assert!(
            signed.iter().any(|h| h == name),
            "{name} not signed: {signed:?}"
        );
    }
    let date = req.header("x-sdk-date").expect("an X-Sdk-Date header");
    let signed_at = parse_sdk_date(date).unwrap_or_else(|| panic!("malformed X-Sdk-Date {date}"));
    let skew = match SystemTime::now().duration_since(signed_at) {
        Ok(d) => d,
        Err(e) => e.duration(),
    };
    assert!(
        skew < Duration::from_secs(120),
        "X-Sdk-Date {date} is {skew:?} off"
    );
    match body {
        None => assert!(
            req.body.is_empty(),
            "a GET with a body: {:?}",
            String::from_utf8_lossy(&req.body)
        ),
        Some(expected) => {
            let sent: Value = serde_json::from_slice(&req.body).expect("the body is JSON");
            assert_eq!(sent, expected);
        }
    }
    let everything = format!("{:?} {}", req.headers, String::from_utf8_lossy(&req.body));
    assert!(
        !everything.contains(emulator.secret_key()),
        "the SK went on the wire"
    );
}

fn last_request(emulator: &Emulator) -> ReceivedRequest {
    emulator
        .requests()
        .pop()
        .expect("a request reached the emulator")
}

/// Sends a request signed with the emulator's AK/SK, bypassing the client (to set up state the
/// client has no operation for).
async fn raw_signed(
    emulator: &Emulator,
    method: reqwest::Method,
    path: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let body = body.map(|body| serde_json::to_vec(body).unwrap());
    let mut request = http::Request::builder()
        .method(method)
        .uri(format!("{}{path}", emulator.endpoint()))
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(body.unwrap_or_default())
        .unwrap();
    let params = SigningParams {
        access_key: emulator.access_key(),
        secret_key: emulator.secret_key(),
        security_token: None,
        time: SystemTime::now(),
    };
    sign(&SignableRequest::from_request(&request), &params)
        .unwrap()
        .apply_to(&mut request);
    let request = reqwest::Request::try_from(request).unwrap();
    let response = reqwest::Client::new().execute(request).await.unwrap();
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

/// At most this many reads of a task before a test gives up on it: every read moves a task one
/// step (an upgrade with its own pre-check ends in about ten), so a task still running after this
/// many never ends. A bound on reads, not on time: the machine's pace does not matter.
const MAX_READS: usize = 100;

/// Starts the upgrade of a CCE cluster (`UpgradeCluster`, with the pre-check the upgrade runs
/// itself); returns its task id (`metadata.uid` of the answer).
async fn start_upgrade(client: &Client, cluster: &str, target: &str) -> String {
    let started = client
        .upgrade_cluster(cluster, &UpgradeClusterRequestBody::new(target))
        .await
        .unwrap_or_else(|e| panic!("UpgradeCluster of {cluster:?}: {e}"));
    started
        .metadata
        .as_ref()
        .and_then(|m| m.uid.clone())
        .expect("the answer names the upgrade task")
}

/// The same for an Autopilot cluster (`UpgradeAutopilotCluster`).
async fn start_autopilot_upgrade(client: &Client, cluster: &str, target: &str) -> String {
    let started = client
        .upgrade_autopilot_cluster(cluster, &UpgradeClusterRequestBody::new(target))
        .await
        .unwrap_or_else(|e| panic!("UpgradeAutopilotCluster of {cluster:?}: {e}"));
    started
        .metadata
        .as_ref()
        .and_then(|m| m.uid.clone())
        .expect("the answer names the upgrade task")
}

/// Shows the task with the client until it ends (independently of the crate's waiters), at
/// most [`MAX_READS`] times.
async fn poll_task_until_done(client: &Client, cluster: &str, task: &str) -> UpgradeTaskPhase {
    let mut last = None;
    for _ in 0..MAX_READS {
        let shown = client
            .show_upgrade_cluster_task(cluster, task)
            .await
            .expect("show task");
        if let Some(phase) = shown.phase().filter(|p| p.is_terminal()) {
            return phase.clone();
        }
        last = Some(shown.into_inner());
    }
    panic!("the task did not end in {MAX_READS} reads: {last:?}");
}

/// The same for an Autopilot cluster's task.
async fn poll_autopilot_task_until_done(
    client: &Client,
    cluster: &str,
    task: &str,
) -> UpgradeTaskPhase {
    let mut last = None;
    for _ in 0..MAX_READS {
        let shown = client
            .show_autopilot_upgrade_cluster_task(cluster, task)
            .await
            .expect("show task");
        if let Some(phase) = shown.phase().filter(|p| p.is_terminal()) {
            return phase.clone();
        }
        last = Some(shown.into_inner());
    }
    panic!("the task did not end in {MAX_READS} reads: {last:?}");
}

/// Runs the demo Autopilot cluster's workflow (waiting in `Init`) to its end the way the service
/// expects: the upgrade, followed until it succeeds, then the post-check that closes the
/// workflow. The cluster is then at [`TARGET`].
async fn finish_demo_autopilot_workflow(client: &Client, emulator: &Emulator) {
    let cluster = emulator.autopilot_cluster_id();
    let workflows = emulator.workflows(cluster);
    assert_eq!(workflows.len(), 1, "{workflows:?}");
    assert_eq!(workflows[0]["status"]["phase"], "Init");
    assert_eq!(workflows[0]["spec"]["targetVersion"], TARGET);
    let task = start_autopilot_upgrade(client, cluster, TARGET).await;
    assert_eq!(
        poll_autopilot_task_until_done(client, cluster, &task).await,
        UpgradeTaskPhase::Success
    );
    let check = client
        .create_autopilot_post_check(
            cluster,
            &PostCheckClusterRequestBody::new(PostCheckSpec::default()),
        )
        .await
        .expect("post-checked");
    assert_eq!(check.phase(), Some(&PostCheckPhase::Success));
    assert_eq!(emulator.workflows(cluster)[0]["status"]["phase"], "Success");
    assert_eq!(emulator.cluster_version(cluster).as_deref(), Some(TARGET));
}

/// A TCP proxy in front of the emulator that records the `X-Request-Id` of every answer as it
/// comes over the wire. One request per connection (it asks the emulator to close after
/// answering).
async fn recording_proxy(upstream: String) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let record = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let (upstream, record) = (upstream.clone(), record.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let head_end = loop {
                    if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break at + 4;
                    }
                    match inbound.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                };
                let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
                let length: usize = head
                    .lines()
                    .find_map(|l| {
                        let l = l.to_ascii_lowercase();
                        l.strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap())
                    })
                    .unwrap_or(0);
                while buf.len() < head_end + length {
                    match inbound.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let head: String = head
                    .trim_end()
                    .split("\r\n")
                    .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
                    .map(|l| format!("{l}\r\n"))
                    .collect();
                let mut out = TcpStream::connect(upstream.trim_start_matches("http://"))
                    .await
                    .unwrap();
                out.write_all(format!("{head}connection: close\r\n\r\n").as_bytes())
                    .await
                    .unwrap();
                out.write_all(&buf[head_end..]).await.unwrap();
                let mut answer = Vec::new();
                out.read_to_end(&mut answer).await.unwrap();
                let text = String::from_utf8_lossy(&answer).into_owned();
                let id = text
                    .split("\r\n\r\n")
                    .next()
                    .unwrap_or_default()
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("x-request-id:")
                            .map(|v| v.trim().to_owned())
                    });
                record.lock().unwrap().push(id.unwrap_or_default());
                inbound.write_all(&answer).await.unwrap();
                let _ = inbound.shutdown().await;
            });
        }
    });
    (addr.to_string(), seen)
}

#[tokio::test]
async fn create_workflow_is_201_with_a_typed_body_and_the_servers_request_id() {
    let emulator = start().await;
    // Through a proxy that reads the request id off the wire.
    let (proxy, wire_ids) = recording_proxy(emulator.endpoint()).await;
    let client = emulator
        .client_builder()
        .endpoint(format!("http://{proxy}"))
        .retry(quick_retry())
        .build()
        .unwrap();
    let cluster = emulator.cluster_id();
    assert_eq!(
        emulator.cluster_version(cluster).as_deref(),
        Some(DEMO_VERSION)
    );

    let created = client
        .create_upgrade_work_flow(cluster, &CreateUpgradeWorkFlowRequestBody::new(TARGET))
        .await
        .expect("created");

    assert_eq!(created.status(), reqwest::StatusCode::CREATED);
    assert_eq!(created.attempts(), 1);
    let wire_ids = wire_ids.lock().unwrap().clone();
    assert_eq!(wire_ids.len(), 1, "{wire_ids:?}");
    assert_eq!(wire_ids[0].len(), 32, "{wire_ids:?}");
    assert_eq!(created.request_id(), Some(wire_ids[0].as_str()));

    // Typed body, matching what the emulator holds.
    let held = emulator.workflows(cluster);
    assert_eq!(held.len(), 1);
    assert_eq!(created.uid(), held[0]["metadata"]["uid"].as_str());
    assert_eq!(created.phase(), Some(&WorkFlowPhase::Init));
    let spec = created.spec.as_ref().expect("spec");
    assert_eq!(spec.target_version.as_deref(), Some(TARGET));
    assert_eq!(spec.cluster_version.as_deref(), Some(DEMO_VERSION));
    assert_eq!(spec.cluster_id.as_deref(), Some(cluster));
    assert_eq!(
        created
            .status
            .as_ref()
            .expect("status")
            .point_statuses
            .len(),
        4
    );
    // Nothing runs yet: the Cluster point has no task until `UpgradeCluster` starts one.
    assert_eq!(created.cluster_task_id(), None);
    assert_eq!(
        created.cluster_task_id(),
        held[0]["status"]["pointStatuses"][2]["taskID"].as_str()
    );
    assert!(
        created.created_at().is_some(),
        "Go-style creationTimestamp parses"
    );

    let requests = emulator.requests();
    assert_eq!(
        requests.len(),
        1,
        "no project lookup, no retry: {requests:?}"
    );
    assert_signed_call_to(
        &requests[0],
        &emulator,
        &proxy,
        "POST",
        &cce_path(&emulator, cluster, "operation/upgradeworkflows"),
        Some(
            json!({"apiVersion": "v3", "kind": "WorkFlowTask", "spec": {"targetVersion": TARGET}}),
        ),
    );
}

#[tokio::test]
async fn show_task_follows_the_upgrade_and_the_cluster_really_upgrades() {
    let emulator = start().await;
    let client = client(&emulator);
    let cluster = emulator.cluster_id();
    let created = client
        .create_upgrade_work_flow(cluster, &CreateUpgradeWorkFlowRequestBody::new(TARGET))
        .await
        .unwrap();
    let workflow_id = created.uid().expect("a workflow id").to_owned();
    assert_eq!(created.cluster_task_id(), None, "nothing runs by itself");

    // The upgrade is what starts a task; its answer names it.
    let upgrade_body = UpgradeClusterRequestBody::new(TARGET);
    let started = client
        .upgrade_cluster(cluster, &upgrade_body)
        .await
        .expect("upgrade started");
    let task_id = started
        .metadata
        .as_ref()
        .and_then(|m| m.uid.clone())
        .expect("an upgrade task id");
    assert_signed_call(
        &last_request(&emulator),
        &emulator,
        "POST",
        &cce_path(&emulator, cluster, "operation/upgrade"),
        Some(serde_json::to_value(&upgrade_body).unwrap()),
    );
    assert_eq!(emulator.upgrades_started(cluster), 1);
    // The workflow's Cluster point now holds that task.
    let workflow = client
        .show_upgrade_work_flow(cluster, &workflow_id)
        .await
        .expect("workflow shown");
    assert_eq!(workflow.cluster_task_id(), Some(task_id.as_str()));
    assert_eq!(workflow.phase(), Some(&WorkFlowPhase::Running));

    let task = client
        .show_upgrade_cluster_task(cluster, &task_id)
        .await
        .expect("task shown");
    assert_eq!(task.status(), reqwest::StatusCode::OK);
    assert_eq!(
        task.metadata.as_ref().and_then(|m| m.uid.as_deref()),
        Some(task_id.as_str())
    );
    let spec = task.spec.as_ref().expect("spec");
    assert_eq!(spec.target_version.as_deref(), Some(TARGET));
    assert_eq!(spec.version.as_deref(), Some(DEMO_VERSION));
    assert!(task.phase().is_some());
    let progress = task.progress_percent().expect("progress is a number");
    assert!((0.0..=100.0).contains(&progress), "{progress}");
    assert_eq!(task.request_id().map(str::len), Some(32));
    assert_ne!(
        task.request_id(),
        created.request_id(),
        "every answer has its own id"
    );
    assert_ne!(task.request_id(), started.request_id());
    assert_signed_call(
        &last_request(&emulator),
        &emulator,
        "GET",
        &cce_path(
            &emulator,
            cluster,
            &format!("operation/upgrade/tasks/{task_id}"),
        ),
        None,
    );

    assert_eq!(
        poll_task_until_done(&client, cluster, &task_id).await,
        UpgradeTaskPhase::Success
    );
    assert_eq!(emulator.cluster_version(cluster).as_deref(), Some(TARGET));
    let done = client
        .show_upgrade_cluster_task(cluster, &task_id)
        .await
        .unwrap();
    assert_eq!(done.progress_percent(), Some(100.0));
    assert!(done.completed_at().is_some());

    // The post-check confirms it and closes the workflow.
    let check = client
        .create_post_check(
            cluster,
            &PostCheckClusterRequestBody::new(PostCheckSpec::default()),
        )
        .await
        .expect("post-checked");
    assert_eq!(check.phase(), Some(&PostCheckPhase::Success));
    assert_eq!(emulator.workflows(cluster)[0]["status"]["phase"], "Success");
}

#[tokio::test]
async fn list_reads_items_as_an_array() {
    let emulator = start().await;
    let client = client(&emulator);
    let cluster = emulator.autopilot_cluster_id();
    // A second workflow, so that the array form has more than the object form can hold: the
    // demo workflow is run to its end first (only one may be open), then the cluster, now at
    // TARGET, gets one to the next version.
    finish_demo_autopilot_workflow(&client, &emulator).await;
    // An upgrade takes minutes: the second workflow is created later than the first (the
    // emulator's clock moves only when told; timestamps have whole seconds).
    emulator.advance_clock(Duration::from_secs(15 * 60));
    let body = json!({"apiVersion": "v3", "kind": "WorkFlowTask", "spec": {"targetVersion": NEXT}});
    let (status, second) = raw_signed(
        &emulator,
        reqwest::Method::POST,
        &autopilot_path(&emulator, cluster, "operation/upgradeworkflows"),
        Some(&body),
    )
    .await;
    // CreateAutopilotUpgradeWorkFlow answers 200 (its CCE twin 201).
    assert_eq!(status, 200, "{second}");

    let list = client
        .list_autopilot_upgrade_work_flows(cluster)
        .await
        .expect("listed");
    assert_eq!(list.status(), reqwest::StatusCode::OK);
    let uids: Vec<_> = list.workflows().iter().map(|w| w.uid()).collect();
    let held: Vec<_> = emulator
        .workflows(cluster)
        .iter()
        .map(|w| w["metadata"]["uid"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(uids.len(), 2);
    assert_eq!(uids, held.iter().map(Option::as_deref).collect::<Vec<_>>());
    assert_eq!(
        list.newest().and_then(|w| w.uid()),
        second["metadata"]["uid"].as_str()
    );
    let first = &list.workflows()[1];
    assert_eq!(first.phase(), Some(&WorkFlowPhase::Success));
    assert_eq!(
        first
            .spec
            .as_ref()
            .and_then(|s| s.target_version.as_deref()),
        Some(TARGET)
    );

    assert_signed_call(
        &last_request(&emulator),
        &emulator,
        "GET",
        &autopilot_path(&emulator, cluster, "operation/upgradeworkflows"),
        None,
    );
}

#[tokio::test]
async fn list_reads_items_as_one_object() {
    let emulator = start_with(EmulatorConfig::fast().list_items_as_object(true)).await;
    let client = client(&emulator);
    let cluster = emulator.autopilot_cluster_id();
    finish_demo_autopilot_workflow(&client, &emulator).await;
    // An upgrade takes minutes: the second workflow is created later than the first (the
    // emulator's clock moves only when told; timestamps have whole seconds).
    emulator.advance_clock(Duration::from_secs(15 * 60));
    let body = json!({"apiVersion": "v3", "kind": "WorkFlowTask", "spec": {"targetVersion": NEXT}});
    let (status, second) = raw_signed(
        &emulator,
        reqwest::Method::POST,
        &autopilot_path(&emulator, cluster, "operation/upgradeworkflows"),
        Some(&body),
    )
    .await;
    // CreateAutopilotUpgradeWorkFlow answers 200 (its CCE twin 201).
    assert_eq!(status, 200, "{second}");
    let (_, raw) = raw_signed(
        &emulator,
        reqwest::Method::GET,
        &autopilot_path(&emulator, cluster, "operation/upgradeworkflows"),
        None,
    )
    .await;
    assert!(
        raw["items"].is_object(),
        "the emulator sends one object here: {raw}"
    );

    let list = client
        .list_autopilot_upgrade_work_flows(cluster)
        .await
        .expect("listed");
    assert_eq!(list.workflows().len(), 1);
    assert_eq!(
        list.workflows()[0].uid(),
        second["metadata"]["uid"].as_str()
    );
    assert_eq!(
        list.newest().and_then(|w| w.uid()),
        second["metadata"]["uid"].as_str()
    );
    assert_signed_call(
        &last_request(&emulator),
        &emulator,
        "GET",
        &autopilot_path(&emulator, cluster, "operation/upgradeworkflows"),
        None,
    );

    // A cluster without workflows: `items` is left out, the list is empty.
    emulator.add_cluster("ap-empty", DEMO_VERSION, true);
    let empty = client
        .list_autopilot_upgrade_work_flows("ap-empty")
        .await
        .unwrap();
    assert!(empty.workflows().is_empty());
    assert!(empty.newest().is_none());
}

#[tokio::test]
async fn post_check_fails_before_the_upgrade_finished_and_succeeds_after() {
    let emulator = start().await;
    let client = client(&emulator);
    let cluster = emulator.autopilot_cluster_id();
    // The demo workflow waits in Init; its upgrade is started, and not read yet: it has not
    // moved when the first check runs.
    let task = start_autopilot_upgrade(&client, cluster, TARGET).await;
    let spec = PostCheckSpec {
        cluster_id: Some(cluster.to_owned()),
        cluster_version: Some(DEMO_VERSION.to_owned()),
        target_version: Some(TARGET.to_owned()),
    };
    let body = PostCheckClusterRequestBody::new(spec);
    let expected = json!({
        "apiVersion": "v3",
        "kind": "PostCheckTask",
        "spec": {"clusterID": cluster, "clusterVersion": DEMO_VERSION, "targetVersion": TARGET},
    });

    let early = client
        .create_autopilot_post_check(cluster, &body)
        .await
        .expect("checked");
    assert_eq!(early.status(), reqwest::StatusCode::OK);
    assert_eq!(early.phase(), Some(&PostCheckPhase::Failed));
    assert_ne!(emulator.workflows(cluster)[0]["status"]["phase"], "Success");
    assert_eq!(
        emulator.cluster_version(cluster).as_deref(),
        Some(DEMO_VERSION)
    );
    assert_signed_call(
        &last_request(&emulator),
        &emulator,
        "POST",
        &autopilot_path(&emulator, cluster, "operation/postcheck"),
        Some(expected.clone()),
    );

    assert_eq!(
        poll_autopilot_task_until_done(&client, cluster, &task).await,
        UpgradeTaskPhase::Success
    );
    assert_eq!(emulator.cluster_version(cluster).as_deref(), Some(TARGET));
    let late = client
        .create_autopilot_post_check(cluster, &body)
        .await
        .expect("checked");
    assert_eq!(late.phase(), Some(&PostCheckPhase::Success));
    let echoed = late.spec.as_ref().expect("spec");
    assert_eq!(echoed.cluster_id.as_deref(), Some(cluster));
    assert_eq!(echoed.target_version.as_deref(), Some(TARGET));
    assert!(
        late.metadata
            .as_ref()
            .and_then(|m| m.uid.as_deref())
            .is_some()
    );
    assert_signed_call(
        &last_request(&emulator),
        &emulator,
        "POST",
        &autopilot_path(&emulator, cluster, "operation/postcheck"),
        Some(expected),
    );
    // The post-check is recorded on the workflow's PostCheck point, and closes the workflow.
    assert_eq!(
        emulator.workflows(cluster)[0]["status"]["pointStatuses"][3]["status"],
        "Success"
    );
    assert_eq!(emulator.workflows(cluster)[0]["status"]["phase"], "Success");

    // An empty spec is sent as `{}`.
    let minimal = client
        .create_autopilot_post_check(
            cluster,
            &PostCheckClusterRequestBody::new(PostCheckSpec::default()),
        )
        .await
        .unwrap();
    assert_eq!(minimal.phase(), Some(&PostCheckPhase::Success));
    let sent: Value = serde_json::from_slice(&last_request(&emulator).body).unwrap();
    assert_eq!(
        sent,
        json!({"apiVersion": "v3", "kind": "PostCheckTask", "spec": {}})
    );
}

/// CreateAutopilotPostCheck is an Autopilot operation (`/autopilot/v3/...`): for a CCE cluster
/// the service answers 404, and says where the cluster is served.
#[tokio::test]
async fn post_check_of_a_cce_cluster_is_a_404_naming_the_api_prefix() {
    let emulator = start().await;
    let client = client(&emulator);
    let cluster = emulator.cluster_id();
    client
        .create_upgrade_work_flow(cluster, &CreateUpgradeWorkFlowRequestBody::new(TARGET))
        .await
        .unwrap();
    let task = start_upgrade(&client, cluster, TARGET).await;
    assert_eq!(
        poll_task_until_done(&client, cluster, &task).await,
        UpgradeTaskPhase::Success
    );

    let body = PostCheckClusterRequestBody::new(PostCheckSpec::default());
    let e = client
        .create_autopilot_post_check(cluster, &body)
        .await
        .expect_err("not an Autopilot cluster");
    assert_eq!(e.kind(), ErrorKind::Service);
    assert_eq!(e.status(), Some(reqwest::StatusCode::NOT_FOUND));
    let service = e.service_error().unwrap();
    assert_eq!(service.error_code(), Some("CCE.01404001"));
    assert!(
        service
            .error_msg()
            .unwrap()
            .contains("a CCE cluster, served under /api"),
        "{e}"
    );
    assert!(e.request_id().is_some());
    assert_eq!(e.operation(), Some("CreateAutopilotPostCheck"));
    assert_signed_call(
        &last_request(&emulator),
        &emulator,
        "POST",
        &autopilot_path(&emulator, cluster, "operation/postcheck"),
        Some(json!({"apiVersion": "v3", "kind": "PostCheckTask", "spec": {}})),
    );
}

#[tokio::test]
async fn node_pool_sync_answers_a_job_id() {
    let emulator = start().await;
    let client = client(&emulator);
    let (cluster, pool) = (emulator.cluster_id(), emulator.nodepool_id());
    let script = "ZWNobyBoZWxsbw==".to_owned(); // echo hello
    let body = UpgradeNodePool::new(pool, 3)
        .node_ids(["node-1", "node-2"])
        .node_template(
            NodeTemplate::with_password(
                "root",
                cce_upgrade::NodePassword::presalted("N0de-Passw0rd!"),
            )
            .scripts(Some(script.clone()), None),
        );

    let synced = client
        .upgrade_node_pool(cluster, pool, &body)
        .await
        .expect("synced");
    assert_eq!(synced.status(), reqwest::StatusCode::OK);
    let job = synced.jobid.as_deref().expect("a job id");
    assert_eq!(job.len(), 36, "{job}");
    assert!(synced.request_id().is_some());
    assert_signed_call(
        &last_request(&emulator),
        &emulator,
        "POST",
        &cce_path(
            &emulator,
            cluster,
            &format!("nodepools/{pool}/operation/upgrade"),
        ),
        Some(json!({"spec": {
            "maxUnavailable": 3,
            "nodeIDs": ["node-1", "node-2"],
            "nodePoolID": pool,
            "nodeTemplate": {
                "lifeCycle": {"preInstall": script},
                "login": {"userPassword": {"username": "root", "password": "N0de-Passw0rd!"}},
            },
        }})),
    );

    // The minimal body, on the DefaultPool every CCE cluster has.
    let synced = client
        .upgrade_node_pool(
            cluster,
            "DefaultPool",
            &UpgradeNodePool::new("DefaultPool", 1),
        )
        .await
        .expect("synced");
    assert!(synced.jobid.is_some());
    assert_signed_call(
        &last_request(&emulator),
        &emulator,
        "POST",
        &cce_path(
            &emulator,
            cluster,
            "nodepools/DefaultPool/operation/upgrade",
        ),
        Some(json!({"spec": {"maxUnavailable": 1, "nodePoolID": "DefaultPool"}})),
    );
}

#[tokio::test]
async fn node_pool_sync_with_an_empty_answer_is_ok_without_a_job_id() {
    let emulator = start_with(EmulatorConfig::fast().empty_nodepool_response(true)).await;
    let client = client(&emulator);
    let (cluster, pool) = (emulator.cluster_id(), emulator.nodepool_id());
    let body =
        UpgradeNodePool::new(pool, 20).node_template(NodeTemplate::with_ssh_key("my-keypair"));
    let synced = client
        .upgrade_node_pool(cluster, pool, &body)
        .await
        .expect("an empty 200 is a success");
    assert_eq!(synced.status(), reqwest::StatusCode::OK);
    assert_eq!(synced.jobid, None);
    assert!(synced.request_id().is_some());
    assert_signed_call(
        &last_request(&emulator),
        &emulator,
        "POST",
        &cce_path(
            &emulator,
            cluster,
            &format!("nodepools/{pool}/operation/upgrade"),
        ),
        Some(json!({"spec": {
            "maxUnavailable": 20,
            "nodePoolID": pool,
            "nodeTemplate": {"lifeCycle": {}, "login": {"sshKey": "my-keypair"}},
        }})),
    );
}

#[tokio::test]
async fn odd_cluster_ids_work_end_to_end() {
    let emulator = start().await;
    let client = client(&emulator);
    // (the id, how it must look in the request path): everything but the unreserved characters
    // is encoded, as the official SDKs do, so an id never becomes another path.
    let ids = [
        ("集群 a+b%", "%E9%9B%86%E7%BE%A4%20a%2Bb%25"),
        ("with space", "with%20space"),
        ("a+b", "a%2Bb"),
        ("back\\slash", "back%5Cslash"),
        ("..dots..", "..dots.."),
        ("100%", "100%25"),
        ("what?#frag", "what%3F%23frag"),
        ("ünïcødé", "%C3%BCn%C3%AFc%C3%B8d%C3%A9"),
    ];
    for (id, wire) in ids {
        emulator.add_cluster(id, DEMO_VERSION, false);
        let created = client
            .create_upgrade_work_flow(id, &CreateUpgradeWorkFlowRequestBody::new(TARGET))
            .await
            .unwrap_or_else(|e| panic!("{id:?}: {e}"));
        let req = last_request(&emulator);
        assert_signed_call(
            &req,
            &emulator,
            "POST",
            &cce_path(&emulator, wire, "operation/upgradeworkflows"),
            Some(
                json!({"apiVersion": "v3", "kind": "WorkFlowTask", "spec": {"targetVersion": TARGET}}),
            ),
        );
        assert_eq!(
            created.spec.as_ref().and_then(|s| s.cluster_id.as_deref()),
            Some(id),
            "the right cluster"
        );
        assert_eq!(emulator.workflows(id).len(), 1, "{id:?}");

        let task = start_upgrade(&client, id, TARGET).await;
        let req = last_request(&emulator);
        assert_signed_call(
            &req,
            &emulator,
            "POST",
            &cce_path(&emulator, wire, "operation/upgrade"),
            Some(serde_json::to_value(UpgradeClusterRequestBody::new(TARGET)).unwrap()),
        );
        assert_eq!(emulator.upgrades_started(id), 1, "{id:?}");
        client
            .show_upgrade_cluster_task(id, &task)
            .await
            .unwrap_or_else(|e| panic!("{id:?}: {e}"));
        assert_signed_call(
            &last_request(&emulator),
            &emulator,
            "GET",
            &cce_path(&emulator, wire, &format!("operation/upgrade/tasks/{task}")),
            None,
        );
        emulator.add_nodepool(id, "pool 池+%");
        client
            .upgrade_node_pool(id, "pool 池+%", &UpgradeNodePool::new("pool 池+%", 1))
            .await
            .unwrap_or_else(|e| panic!("{id:?}: {e}"));
        assert_eq!(
            last_request(&emulator).uri,
            cce_path(
                &emulator,
                wire,
                "nodepools/pool%20%E6%B1%A0%2B%25/operation/upgrade"
            )
        );
        assert_eq!(
            poll_task_until_done(&client, id, &task).await,
            UpgradeTaskPhase::Success
        );
        assert_eq!(
            emulator.cluster_version(id).as_deref(),
            Some(TARGET),
            "{id:?}"
        );
    }
    // None of it landed on the demo cluster.
    assert!(emulator.workflows(emulator.cluster_id()).is_empty());
    assert_eq!(
        emulator.cluster_version(emulator.cluster_id()).as_deref(),
        Some(DEMO_VERSION)
    );

    // The Autopilot operations too.
    let ap = "自动 a+b% c";
    emulator.add_cluster(ap, DEMO_VERSION, true);
    let list = client
        .list_autopilot_upgrade_work_flows(ap)
        .await
        .expect("listed");
    assert!(list.workflows().is_empty());
    let check = client
        .create_autopilot_post_check(
            ap,
            &PostCheckClusterRequestBody::new(PostCheckSpec::default()),
        )
        .await
        .expect("checked");
    assert_eq!(
        check.phase(),
        Some(&PostCheckPhase::Failed),
        "no upgrade ran on it"
    );
    assert_eq!(
        check.spec.as_ref().and_then(|s| s.cluster_id.as_deref()),
        Some(ap)
    );
    assert!(emulator.requests().iter().all(|r| r.authenticated));
}

#[tokio::test]
async fn temporary_credentials_send_a_signed_security_token() {
    let emulator = start().await;
    let client = emulator
        .client_builder()
        .credentials(Credentials::temporary(
            emulator.temporary_access_key(),
            emulator.temporary_secret_key(),
            emulator.security_token(),
        ))
        .build()
        .unwrap();
    let cluster = emulator.autopilot_cluster_id();
    let list = client
        .list_autopilot_upgrade_work_flows(cluster)
        .await
        .expect("accepted");
    assert_eq!(list.workflows().len(), 1);

    let req = last_request(&emulator);
    assert_common_headers(&req, &emulator);
    assert_eq!(
        req.uri,
        autopilot_path(&emulator, cluster, "operation/upgradeworkflows")
    );
    assert_eq!(
        req.header("x-security-token"),
        Some(emulator.security_token())
    );
    let authorization = req.header("authorization").unwrap();
    assert!(
        authorization.starts_with(&format!(
            "SDK-HMAC-SHA256 Access={}, ",
            emulator.temporary_access_key()
        )),
        "{authorization}"
    );
    assert!(
        signed_headers(authorization)
            .iter()
            .any(|h| h == "x-security-token")
    );
    assert!(req.header("x-auth-token").is_none());
    assert!(!format!("{client:?}").contains(emulator.security_token()));
    assert!(!format!("{client:?}").contains(emulator.temporary_secret_key()));
}

#[tokio::test]
async fn token_credentials_send_x_auth_token_and_no_signature() {
    let emulator = start().await;
    let client = emulator
        .client_builder()
        .credentials(Credentials::token(emulator.auth_token()))
        .build()
        .unwrap();
    let cluster = emulator.cluster_id();
    let created = client
        .create_upgrade_work_flow(cluster, &CreateUpgradeWorkFlowRequestBody::new(TARGET))
        .await
        .expect("accepted");
    assert_eq!(created.status(), reqwest::StatusCode::CREATED);

    let req = last_request(&emulator);
    assert_common_headers(&req, &emulator);
    assert_eq!(req.method, "POST");
    assert_eq!(
        req.uri,
        cce_path(&emulator, cluster, "operation/upgradeworkflows")
    );
    assert_eq!(req.header("x-project-id"), Some(emulator.project_id()));
    assert_eq!(req.header("x-auth-token"), Some(emulator.auth_token()));
    assert_eq!(req.header("authorization"), None);
    assert_eq!(req.header("x-security-token"), None);
    assert!(!format!("{client:?}").contains(emulator.auth_token()));
}

fn builder_without_project_id(emulator: &Emulator, region: &str) -> cce_upgrade::ClientBuilder {
    Client::builder()
        .region(region.to_owned())
        .endpoint(emulator.endpoint())
        .iam_endpoint(emulator.endpoint())
        .credentials(Credentials::new(
            emulator.access_key(),
            emulator.secret_key(),
        ))
        .env(Env::from_vars(Vec::<(String, String)>::new()))
        .retry(quick_retry())
}

#[tokio::test]
async fn the_project_id_is_looked_up_once_with_a_signed_request() {
    let emulator = start().await;
    let client = builder_without_project_id(&emulator, emulator.region())
        .build()
        .expect("builds");
    let (cluster, ap) = (emulator.cluster_id(), emulator.autopilot_cluster_id());

    // Concurrent first calls still make one lookup.
    let (a, b) = tokio::join!(
        client.list_autopilot_upgrade_work_flows(ap),
        client.list_autopilot_upgrade_work_flows(ap)
    );
    a.unwrap();
    b.unwrap();
    client
        .create_upgrade_work_flow(cluster, &CreateUpgradeWorkFlowRequestBody::new(TARGET))
        .await
        .unwrap();
    let task = start_upgrade(&client, cluster, TARGET).await;
    client
        .show_upgrade_cluster_task(cluster, &task)
        .await
        .unwrap();
    assert_eq!(client.project_id().await.unwrap(), emulator.project_id());

    let requests = emulator.requests();
    let lookups: Vec<_> = requests
        .iter()
        .filter(|r| r.uri.starts_with("/v3/projects"))
        .collect();
    assert_eq!(lookups.len(), 1, "{requests:?}");
    let lookup = lookups[0];
    assert_eq!(requests[0].uri, lookup.uri, "the lookup comes first");
    assert_eq!(lookup.method, "GET");
    assert_eq!(lookup.uri, "/v3/projects?name=cn-north-4");
    assert_common_headers(lookup, &emulator);
    let authorization = lookup
        .header("authorization")
        .expect("the lookup is signed");
    assert!(authorization.starts_with(&format!(
        "SDK-HMAC-SHA256 Access={}, ",
        emulator.access_key()
    )));
    assert!(lookup.header("x-sdk-date").is_some());
    assert_eq!(lookup.header("x-project-id"), None, "not known yet");

    // The lookup, two lists, the workflow, the upgrade and the task.
    assert_eq!(requests.len(), 6, "{requests:?}");
    for req in &requests[1..] {
        assert!(
            req.uri
                .contains(&format!("/projects/{}/clusters/", emulator.project_id())),
            "{req:?}"
        );
        assert_eq!(req.header("x-project-id"), Some(emulator.project_id()));
        assert!(req.authenticated);
    }
}

#[tokio::test]
async fn a_region_iam_does_not_know_is_a_configuration_error_naming_it() {
    let emulator = start().await;
    let client = builder_without_project_id(&emulator, "ap-southeast-9")
        .build()
        .expect("builds");
    let e = client
        .list_autopilot_upgrade_work_flows(emulator.autopilot_cluster_id())
        .await
        .expect_err("no such project");
    assert_eq!(e.kind(), ErrorKind::Configuration);
    assert!(e.to_string().contains("ap-southeast-9"), "{e}");
    assert!(e.to_string().contains("project_id"), "names the fix: {e}");
    let requests = emulator.requests();
    assert_eq!(requests.len(), 1, "only the lookup was sent: {requests:?}");
    assert_eq!(requests[0].uri, "/v3/projects?name=ap-southeast-9");
    assert!(requests[0].authenticated);
}

#[tokio::test]
async fn two_emulators_and_two_clients_do_not_mix() {
    let (one, two) = (start().await, start().await);
    assert_ne!(one.endpoint(), two.endpoint());
    assert_ne!(one.secret_key(), two.secret_key());
    assert_ne!(one.project_id(), two.project_id());
    assert_ne!(one.cluster_id(), two.cluster_id());
    let (c1, c2) = (client(&one), client(&two));

    let (b1, b2) = (
        CreateUpgradeWorkFlowRequestBody::new(TARGET),
        CreateUpgradeWorkFlowRequestBody::new(NEXT),
    );
    let (w1, w2) = tokio::join!(
        c1.create_upgrade_work_flow(one.cluster_id(), &b1),
        c2.create_upgrade_work_flow(two.cluster_id(), &b2),
    );
    let (w1, w2) = (w1.unwrap(), w2.unwrap());
    assert_eq!(
        one.workflows(one.cluster_id())[0]["metadata"]["uid"].as_str(),
        w1.uid()
    );
    assert_eq!(
        two.workflows(two.cluster_id())[0]["metadata"]["uid"].as_str(),
        w2.uid()
    );
    assert_eq!(
        one.workflows(one.cluster_id())[0]["spec"]["targetVersion"],
        TARGET
    );
    assert_eq!(
        two.workflows(two.cluster_id())[0]["spec"]["targetVersion"],
        NEXT
    );

    let (t1, t2) = tokio::join!(
        start_upgrade(&c1, one.cluster_id(), TARGET),
        start_upgrade(&c2, two.cluster_id(), NEXT),
    );
    assert_eq!(one.upgrades_started(one.cluster_id()), 1);
    assert_eq!(two.upgrades_started(two.cluster_id()), 1);
    assert_eq!(
        poll_task_until_done(&c1, one.cluster_id(), &t1).await,
        UpgradeTaskPhase::Success
    );
    assert_eq!(
        poll_task_until_done(&c2, two.cluster_id(), &t2).await,
        UpgradeTaskPhase::Success
    );
    assert_eq!(
        one.cluster_version(one.cluster_id()).as_deref(),
        Some(TARGET)
    );
    assert_eq!(two.cluster_version(two.cluster_id()).as_deref(), Some(NEXT));

    for (emulator, other) in [(&one, &two), (&two, &one)] {
        let requests = emulator.requests();
        assert!(!requests.is_empty());
        for req in &requests {
            assert!(req.authenticated);
            assert!(req.uri.contains(emulator.project_id()), "{req:?}");
            assert!(!req.uri.contains(other.project_id()), "{req:?}");
            assert!(!req.uri.contains(other.cluster_id()), "{req:?}");
            assert_eq!(req.header("host"), Some(host(emulator).as_str()));
        }
    }

    // The other emulator's cluster is unknown here.
    let e = c1
        .show_upgrade_cluster_task(two.cluster_id(), &t2)
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(reqwest::StatusCode::NOT_FOUND));
}
