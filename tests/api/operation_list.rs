//! The generated list of the operations ([`cce_upgrade::operations::ALL`]) against the
//! emulator, and the raw call, over a real socket.
//!
//! - Every operation of the list is routed by the emulator and sent once; it plays (answers
//!   other than `501`) every one of the upgrade family, the IAM lookup and cluster discovery,
//!   and the test lists which it plays.
//! - [`Client::call_raw`] goes through the one call path: the project id filled in, signed,
//!   the query and body sent as given, a write never sent twice, bad paths refused before
//!   anything is sent.

use cce_upgrade::emulator::{Emulator, Fault};
use cce_upgrade::operations::{ALL, find};
use cce_upgrade::{Client, ErrorKind, Flavour, Method};
use serde_json::{Value, json};

use crate::common;
use common::scripted::{Scripted, answer};
use common::{TARGET, client_with_retry, quick_retry};

async fn bench() -> (Emulator, Client) {
    let emulator = Emulator::start().await.expect("emulator starts");
    let client = client_with_retry(&emulator, quick_retry());
    (emulator, client)
}

/// The path of `op` for the emulator's clusters: the cluster of its flavour, its node pool,
/// `x` for any other id; `{project_id}` is left for the raw call to fill in.
fn path_of(emulator: &Emulator, op: &cce_upgrade::operations::Operation) -> String {
    let cluster = match op.flavour {
        Some(Flavour::Autopilot) => emulator.autopilot_cluster_id(),
        _ => emulator.cluster_id(),
    };
    let mut path = op
        .path
        .replace("{cluster_id}", cluster)
        .replace("{nodepool_id}", emulator.nodepool_id());
    while let Some(start) = path.find('{').filter(|_| path.contains('}')) {
        let end = start + path[start..].find('}').expect("closed");
        let name = &path[start + 1..end];
        let value = if name == "project_id" { "\u{0}" } else { "x" };
        path.replace_range(start..=end, value);
    }
    path.replace('\u{0}', "{project_id}")
}

#[tokio::test]
async fn the_emulator_plays_every_operation_of_the_spec() {
    let (emulator, client) = bench().await;
    let mut played = Vec::new();
    let mut not_played = Vec::new();
    for op in ALL {
        let path = path_of(&emulator, op);
        let method = Method::from_bytes(op.method.as_bytes()).expect("an HTTP method");
        let body = op.write.then(|| json!({}));
        let before = emulator.requests().len();
        let status = match client.call_raw(method, &path, &[], body.as_ref()).await {
            Ok(answer) => answer.status().as_u16(),
            Err(e) => e
                .status()
                .unwrap_or_else(|| panic!("{}: no answer: {e}", op.id))
                .as_u16(),
        };
        assert_eq!(
            emulator.requests().len(),
            before + 1,
            "{}: sent once",
            op.id
        );
        if status == 501 {
            not_played.push(op.id);
        } else {
            played.push(op.id);
        }
    }
    // It must play the upgrade family (its facts file), the IAM lookup and cluster discovery;
    // any other operation of the spec is routed and answers 501 naming it.
    let family: Value =
        serde_json::from_str(include_str!("../data/upgrade-family.json")).expect("family facts");
    let must: Vec<&str> = ALL
        .iter()
        .filter(|op| {
            op.part == "openapi/clusters.yaml"
                || op.id == "KeystoneListProjects"
                || family
                    .as_array()
                    .expect("a list")
                    .iter()
                    .any(|f| f["operation"] == op.id)
        })
        .map(|op| op.id)
        .collect();
    let missing: Vec<&&str> = must.iter().filter(|id| not_played.contains(id)).collect();
    assert!(
        missing.is_empty(),
        "operations the emulator must play but answers 501 for: {missing:?}"
    );
    eprintln!(
        "the emulator plays {} of the {} operations: {played:?}; not: {not_played:?}",
        played.len(),
        ALL.len()
    );
    assert!(must.iter().all(|id| played.contains(id)));
}

#[tokio::test]
async fn a_raw_read_fills_in_the_project_id_signs_and_sends_the_query() {
    let (emulator, client) = bench().await;
    let cluster = emulator.cluster_id().to_owned();
    let answer = client
        .call_raw(
            Method::GET,
            "/api/v3/projects/{project_id}/clusters/{cluster_id}/addons/precheck/tasks"
                .replace("{cluster_id}", &cluster)
                .as_str(),
            &[("type", "addonStatic"), ("task_id", "a b")],
            None,
        )
        .await
        .expect("listed");
    assert_eq!(answer.status().as_u16(), 200);
    assert!(answer.request_id().is_some());
    let requests = emulator.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "GET");
    assert_eq!(
        request.uri,
        format!(
            // The query as signed: sorted, spaces as `%20`.
            "/api/v3/projects/{}/clusters/{cluster}/addons/precheck/tasks?task_id=a%20b&type=addonStatic",
            emulator.project_id()
        )
    );
    assert!(request.authenticated, "the emulator checked the signature");
    assert!(request.body.is_empty());

    // The same answer the generated method reads.
    let typed = client
        .show_cluster_upgrade_info(&cluster)
        .await
        .expect("typed");
    let raw = client
        .call_raw(
            Method::GET,
            &format!("/api/v3/projects/{{project_id}}/clusters/{cluster}/upgradeinfo"),
            &[],
            None,
        )
        .await
        .expect("raw");
    assert_eq!(raw["kind"], "UpgradeInfo");
    assert_eq!(
        raw["spec"]["versionInfo"]["release"].as_str(),
        typed
            .spec
            .as_ref()
            .and_then(|s| s.version_info.as_ref())
            .and_then(|v| v.release.as_deref())
    );
}

#[tokio::test]
async fn a_raw_write_sends_its_body_and_an_error_is_the_service_s() {
    let (emulator, client) = bench().await;
    let cluster = emulator.cluster_id().to_owned();
    let path =
        format!("/api/v3/projects/{{project_id}}/clusters/{cluster}/operation/upgradeworkflows");
    let body =
        json!({"apiVersion": "v3", "kind": "WorkFlowTask", "spec": {"targetVersion": TARGET}});
    let created = client
        .call_raw(Method::POST, &path, &[], Some(&body))
        .await
        .expect("created");
    assert_eq!(created.status().as_u16(), 201);
    assert_eq!(created["spec"]["targetVersion"], TARGET);
    assert!(
        created["metadata"]["uid"]
            .as_str()
            .is_some_and(|u| !u.is_empty())
    );
    let requests = emulator.requests();
    let sent: Value = serde_json::from_slice(&requests[0].body).expect("JSON sent");
    assert_eq!(sent, body);
    assert_eq!(requests[0].header("content-type"), Some("application/json"));

    // The service's refusal, with its code, status and the operation named.
    let e = client
        .call_raw(Method::POST, &path, &[], Some(&json!({"spec": 1})))
        .await
        .expect_err("refused");
    assert_eq!(e.status().map(|s| s.as_u16()), Some(400));
    assert_eq!(e.operation(), Some("raw call"));
    assert!(e.to_string().contains("raw call"), "{e}");
}

#[tokio::test]
async fn a_raw_write_whose_answer_is_lost_is_not_sent_again() {
    let (emulator, client) = bench().await;
    let cluster = emulator.cluster_id().to_owned();
    emulator.inject(Fault::DropAfterAction, 1);
    let e = client
        .call_raw(
            Method::POST,
            &format!("/api/v3/projects/{{project_id}}/clusters/{cluster}/operation/upgradeworkflows"),
            &[],
            Some(&json!({"apiVersion": "v3", "kind": "WorkFlowTask", "spec": {"targetVersion": TARGET}})),
        )
        .await
        .expect_err("no answer");
    assert_eq!(e.kind(), ErrorKind::OutcomeUnknown);
    assert_eq!(emulator.requests().len(), 1, "sent once");
}

#[tokio::test]
async fn a_raw_path_is_checked_before_anything_is_sent() {
    let (emulator, client) = bench().await;
    for path in [
        "api/v3/projects/{project_id}/clusters",
        "/api/v3/projects/{project_id}/clusters?detail=true",
        "/api/v3/projects/{project_id}/clusters/{cluster_id}",
        "/api/v3/projects/{project_id}/clusters/a b",
    ] {
        let e = client
            .call_raw(Method::GET, path, &[], None)
            .await
            .expect_err(path);
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{path}: {e}");
        assert!(e.to_string().contains("path"), "{path}: {e}");
    }
    assert!(emulator.requests().is_empty());
}

#[test]
fn the_list_knows_its_operations() {
    let show = find("ShowAutopilotUpgradeClusterTask").expect("listed");
    assert_eq!(show.twin, Some("ShowUpgradeClusterTask"));
    assert_eq!(show.flavour, Some(Flavour::Autopilot));
    assert!(!show.write);
    assert_eq!(show.method_name, "show_autopilot_upgrade_cluster_task");
    let upgrade = find("UpgradeCluster").expect("listed");
    assert!(upgrade.write);
    assert_eq!(upgrade.twin, Some("UpgradeAutopilotCluster"));
    assert_eq!(upgrade.part, "openapi/upgrade.yaml");
    let iam = find("KeystoneListProjects").expect("listed");
    assert_eq!((iam.flavour, iam.path), (None, "/v3/projects"));
    assert!(find("NoSuchOperation").is_none());
}

#[tokio::test]
async fn the_project_id_is_looked_up_with_the_spec_s_iam_operation_at_the_iam_endpoint() {
    let emulator = Emulator::start().await.expect("emulator starts");
    let project = emulator.project_id().to_owned();
    let listed = json!({"projects": [{"id": project, "name": emulator.region()}], "links": {}});
    let iam = Scripted::start(move |_, _| {
        answer(
            "200 OK",
            &[
                ("Content-Type", "application/json"),
                ("X-Request-Id", "iam-1"),
            ],
            listed.to_string().as_bytes(),
        )
    })
    .await;
    let client = Client::builder()
        .region(emulator.region().to_owned())
        .endpoint(emulator.endpoint())
        .iam_endpoint(&iam.url)
        .credentials(cce_upgrade::Credentials::new(
            emulator.access_key(),
            emulator.secret_key(),
        ))
        .retry(quick_retry())
        .build()
        .expect("a client without a project id");
    let cluster = emulator.cluster_id().to_owned();
    client
        .list_upgrade_work_flows(&cluster)
        .await
        .expect("listed in the looked-up project");

    // IAM got the spec's KeystoneListProjects, signed, with the region as the name.
    let seen = iam.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "GET");
    assert_eq!(
        seen[0].target,
        format!("/v3/projects?name={}", emulator.region())
    );
    assert!(
        seen[0]
            .header("authorization")
            .is_some_and(|a| a.starts_with("SDK-HMAC-SHA256 Access=")),
        "{:?}",
        seen[0].headers
    );
    // CCE got only the call, in the project IAM named.
    let requests = emulator.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0].uri,
        format!("/api/v3/projects/{project}/clusters/{cluster}/operation/upgradeworkflows")
    );
    assert_eq!(requests[0].header("x-project-id"), Some(project.as_str()));
    assert_eq!(client.project_id().await.expect("remembered"), project);
    assert_eq!(iam.count(), 1, "looked up once");
}
