//! Finding clusters, and the service's rules around an upgrade, over a real socket against the
//! emulator: the cluster operations (`ListClusters`, `ShowCluster` and their Autopilot twins)
//! answer from the emulator's one cluster model (name, id, minor and platform version, tags,
//! phase), and the emulator plays the service as the official SDK sees it — one upgrade at a
//! time, conflicts with their own error code, the plan list's `items` as one object, `notBefore`
//! as a date or a time, and a task's timestamps as the documents write them.
//!
//! Time is the test's: tasks move only with `Emulator::advance` (reads do not move them here).

use cce_upgrade::emulator::{
    DEMO_CLUSTER_NAME, DEMO_VERSION, Emulator, EmulatorConfig, NewCluster, Scenario,
};
use cce_upgrade::types::{
    ClusterPhase, ClusterType, CreateUpgradeWorkFlowRequestBody, DelayUpgradePlanRequestBody,
    ListAutopilotClustersQuery, ListClustersQuery, PreCheckClusterRequestBody, ShowClusterQuery,
    UpgradeClusterRequestBody, UpgradeTaskPhase, UpgradeWorkFlowUpdateRequestBody,
};
use cce_upgrade::{Client, Error, parse_go_time};
use serde_json::Value;
use std::time::{Duration, UNIX_EPOCH};

use crate::common;
use common::{TARGET, quick_retry};

/// The error code of a conflict or an expiry: something is under way, or in the wrong state.
const CONFLICT: &str = "CCE.01400013";
/// The error code of a request the schema refuses.
const INVALID: &str = "CCE.01400001";

/// An emulator whose tasks move only with `advance`, starting 2024-03-12 08:15:00 UTC, and a
/// client for it.
async fn bench() -> (Emulator, Client) {
    let config = EmulatorConfig::fast()
        .advance_on_read(false)
        .start_time(UNIX_EPOCH + Duration::from_secs(1_710_231_300));
    let emulator = common::start_with(config).await;
    let client = common::client_with_retry(&emulator, quick_retry());
    (emulator, client)
}

/// The service error of a refused call: status, code, message.
#[track_caller]
fn refused(error: Error) -> (u16, String, String) {
    let service = error
        .service_error()
        .unwrap_or_else(|| panic!("not a service error: {error}"));
    (
        service.status().as_u16(),
        service.error_code().unwrap_or_default().to_owned(),
        service.error_msg().unwrap_or_default().to_owned(),
    )
}

/// The phase ShowCluster answers for a CCE cluster.
async fn phase(client: &Client, cluster: &str) -> ClusterPhase {
    let shown = client
        .show_cluster(cluster, &ShowClusterQuery::default())
        .await
        .expect("ShowCluster");
    shown
        .status
        .as_ref()
        .and_then(|s| s.phase.clone())
        .expect("a phase")
}

/// A raw GET with the emulator's token, to see the answer as sent.
async fn raw_get(emulator: &Emulator, path: &str) -> Value {
    // reqwest is built without a crypto provider of its own: give it one for this client only.
    let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS versions")
    .with_root_certificates(rustls::RootCertStore::empty())
    .with_no_client_auth();
    let response = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .build()
        .expect("client builds")
        .get(format!("{}{path}", emulator.endpoint()))
        .header("X-Auth-Token", emulator.auth_token())
        .send()
        .await
        .expect("the emulator answers");
    assert_eq!(response.status().as_u16(), 200);
    response.json().await.expect("a JSON answer")
}

// ----------------------------------------------------------------------------- the clusters

#[tokio::test]
async fn clusters_are_found_by_name_tags_version_and_phase() {
    let (emulator, client) = bench().await;
    emulator.add_cluster_with(
        NewCluster::cce("id-prod", "v1.29.10-r0")
            .name("prod")
            .tag("env", "prod")
            .tag("team", "payments"),
    );
    emulator.add_cluster_with(NewCluster::autopilot("id-ap", "v1.29.10-r0").name("ap"));

    let all = client
        .list_clusters(&ListClustersQuery::default())
        .await
        .unwrap();
    let by_name: Vec<(&str, &str, &str, &str)> = all
        .items
        .iter()
        .map(|c| {
            let m = c.metadata.as_ref().expect("metadata");
            let s = c.spec.as_ref().expect("spec");
            (
                m.name.as_deref().unwrap_or(""),
                m.uid.as_deref().unwrap_or(""),
                s.version.as_deref().unwrap_or(""),
                s.platform_version.as_deref().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        by_name,
        [
            (
                DEMO_CLUSTER_NAME,
                emulator.cluster_id(),
                "v1.28",
                "cce.5.0.0"
            ),
            ("prod", "id-prod", "v1.29", "cce.6.0.0"),
        ],
        "the CCE clusters only, in the order they were added"
    );
    let prod = &all.items[1];
    let tags: Vec<(&str, &str)> = prod
        .spec
        .as_ref()
        .expect("spec")
        .cluster_tags
        .iter()
        .map(|t| {
            (
                t.key.as_deref().unwrap_or(""),
                t.value.as_deref().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(tags, [("env", "prod"), ("team", "payments")]);

    // The filters: version (minor or full), type, phase.
    let names = |list: &cce_upgrade::types::ClusterList| -> Vec<String> {
        list.items
            .iter()
            .filter_map(|c| c.metadata.as_ref()?.name.clone())
            .collect()
    };
    let v129 = client
        .list_clusters(&ListClustersQuery::default().version("v1.29"))
        .await
        .unwrap();
    assert_eq!(names(&v129), ["prod"]);
    let full = client
        .list_clusters(&ListClustersQuery::default().version(DEMO_VERSION))
        .await
        .unwrap();
    assert_eq!(names(&full), [DEMO_CLUSTER_NAME]);
    let arm = client
        .list_clusters(&ListClustersQuery::default().type_(ClusterType::ARM64.as_str()))
        .await
        .unwrap();
    assert!(arm.items.is_empty(), "no Kunpeng cluster");
    emulator.set_cluster_phase("id-prod", "Unavailable");
    let unavailable = client
        .list_clusters(&ListClustersQuery::default().status("Unavailable"))
        .await
        .unwrap();
    assert_eq!(names(&unavailable), ["prod"]);
    let available = client
        .list_clusters(&ListClustersQuery::default().status("Available"))
        .await
        .unwrap();
    assert_eq!(names(&available), [DEMO_CLUSTER_NAME]);
    let status = prod_status(&client).await;
    assert_eq!(status.0, Some(ClusterPhase::Unavailable));
    assert!(status.1.is_some(), "a reason when not Available");

    // The Autopilot twins list the Autopilot clusters only; a cluster under the other prefix
    // is not found, and says where it is.
    let autopilot = client
        .list_autopilot_clusters(&ListAutopilotClustersQuery::default().version("v1.29"))
        .await
        .unwrap();
    let names: Vec<_> = autopilot
        .items
        .iter()
        .filter_map(|c| c.metadata.as_ref()?.name.as_deref())
        .collect();
    assert_eq!(names, ["ap"]);
    let wrong = client
        .show_cluster("id-ap", &ShowClusterQuery::default())
        .await
        .unwrap_err();
    let (status, code, msg) = refused(wrong);
    assert_eq!((status, code.as_str()), (404, "CCE.01404001"));
    assert!(msg.contains("/autopilot"), "{msg}");
}

/// The phase and reason ShowCluster answers for `id-prod`.
async fn prod_status(client: &Client) -> (Option<ClusterPhase>, Option<String>) {
    let shown = client
        .show_cluster("id-prod", &ShowClusterQuery::default())
        .await
        .unwrap();
    let status = shown.status.as_ref().expect("status");
    (status.phase.clone(), status.reason.clone())
}

#[tokio::test]
async fn a_cluster_is_upgrading_while_its_upgrade_runs_then_available_at_the_new_version() {
    let (emulator, client) = bench().await;
    let cluster = emulator.cluster_id().to_owned();
    assert_eq!(phase(&client, &cluster).await, ClusterPhase::Available);

    client
        .upgrade_cluster(&cluster, &UpgradeClusterRequestBody::new(TARGET))
        .await
        .unwrap();
    assert_eq!(phase(&client, &cluster).await, ClusterPhase::Upgrading);
    assert_eq!(
        emulator.cluster_phase(&cluster),
        Some(ClusterPhase::Upgrading)
    );

    emulator.advance(20);
    assert_eq!(phase(&client, &cluster).await, ClusterPhase::Available);
    let shown = client
        .show_cluster(&cluster, &ShowClusterQuery::default())
        .await
        .unwrap();
    let spec = shown.spec.as_ref().expect("spec");
    assert_eq!(spec.version.as_deref(), Some("v1.29"));
    assert_eq!(spec.platform_version.as_deref(), Some("cce.6.0.0"));
}

#[tokio::test]
async fn a_cluster_in_another_phase_cannot_be_upgraded() {
    let (emulator, client) = bench().await;
    let cluster = emulator.cluster_id().to_owned();
    emulator.set_cluster_phase(&cluster, ClusterPhase::Hibernation);
    assert_eq!(phase(&client, &cluster).await, ClusterPhase::Hibernation);

    let error = client
        .upgrade_cluster(&cluster, &UpgradeClusterRequestBody::new(TARGET))
        .await
        .unwrap_err();
    let (status, code, msg) = refused(error);
    assert_eq!((status, code.as_str()), (400, CONFLICT));
    assert!(
        msg.contains("Hibernation"),
        "the message names the phase: {msg}"
    );
    assert_eq!(emulator.upgrades_started(&cluster), 0);
    assert!(emulator.upgrade_tasks(&cluster).is_empty());

    // Awake again, it can.
    emulator.set_cluster_phase(&cluster, ClusterPhase::Available);
    client
        .upgrade_cluster(&cluster, &UpgradeClusterRequestBody::new(TARGET))
        .await
        .unwrap();
    assert_eq!(emulator.upgrades_started(&cluster), 1);
}

// ----------------------------------------------------------------------------- one at a time

#[tokio::test]
async fn a_failed_upgrade_blocks_a_new_one_until_it_is_retried() {
    let (emulator, client) = bench().await;
    let cluster = emulator.cluster_id().to_owned();
    emulator.set_scenario(&cluster, Scenario::UpgradeFailsAt { progress: 40 });
    let started = client
        .upgrade_cluster(&cluster, &UpgradeClusterRequestBody::new(TARGET))
        .await
        .unwrap();
    let task = started
        .metadata
        .as_ref()
        .and_then(|m| m.uid.clone())
        .expect("a task id");

    // While it runs: no second upgrade, no pre-check, no snapshot.
    let error = client
        .upgrade_cluster(&cluster, &UpgradeClusterRequestBody::new(TARGET))
        .await
        .unwrap_err();
    assert_eq!(refused(error).1, CONFLICT);
    let error = client
        .create_pre_check(&cluster, &PreCheckClusterRequestBody::new(TARGET))
        .await
        .unwrap_err();
    let (status, code, msg) = refused(error);
    assert_eq!((status, code.as_str()), (400, CONFLICT));
    assert!(msg.contains(&task), "names the running upgrade: {msg}");
    let error = client
        .create_cluster_master_snapshot(&cluster)
        .await
        .unwrap_err();
    assert_eq!(refused(error).1, CONFLICT);
    assert_eq!(
        emulator.pre_checks(&cluster).len(),
        1,
        "only the upgrade's own"
    );

    // Failed: still no new upgrade; the failed one waits for its retry.
    emulator.advance(20);
    let shown = client
        .show_upgrade_cluster_task(&cluster, &task)
        .await
        .unwrap();
    assert_eq!(
        shown.status.as_ref().and_then(|s| s.phase.clone()),
        Some(UpgradeTaskPhase::Failed)
    );
    assert_eq!(phase(&client, &cluster).await, ClusterPhase::Available);
    let error = client
        .upgrade_cluster(&cluster, &UpgradeClusterRequestBody::new("v1.29.15-r0"))
        .await
        .unwrap_err();
    let (status, code, msg) = refused(error);
    assert_eq!((status, code.as_str()), (400, CONFLICT));
    assert!(
        msg.contains(&task) && msg.contains("RetryUpgradeClusterTask"),
        "{msg}"
    );
    assert_eq!(emulator.upgrades_started(&cluster), 1);
    // A pre-check and a snapshot may run now (nothing runs).
    client
        .create_cluster_master_snapshot(&cluster)
        .await
        .unwrap();

    // The retry is still possible, and completes the upgrade.
    client.retry_upgrade_cluster_task(&cluster).await.unwrap();
    emulator.advance(20);
    let shown = client
        .show_upgrade_cluster_task(&cluster, &task)
        .await
        .unwrap();
    assert_eq!(
        shown.status.as_ref().and_then(|s| s.phase.clone()),
        Some(UpgradeTaskPhase::Success)
    );
    assert_eq!(emulator.cluster_version(&cluster).as_deref(), Some(TARGET));
}

#[tokio::test]
async fn a_failed_upgrade_no_longer_blocks_once_its_workflow_is_cancelled() {
    let (emulator, client) = bench().await;
    let cluster = emulator.cluster_id().to_owned();
    let workflow = client
        .create_upgrade_work_flow(&cluster, &CreateUpgradeWorkFlowRequestBody::new(TARGET))
        .await
        .unwrap();
    let workflow = workflow
        .metadata
        .as_ref()
        .and_then(|m| m.uid.clone())
        .expect("a workflow id");
    emulator.set_scenario(&cluster, Scenario::UpgradeFailsAt { progress: 40 });
    client
        .upgrade_cluster(&cluster, &UpgradeClusterRequestBody::new(TARGET))
        .await
        .unwrap();

    // Cancelling while the upgrade runs is a conflict.
    let error = client
        .upgrade_work_flow_update(
            &cluster,
            &workflow,
            &UpgradeWorkFlowUpdateRequestBody::cancel(),
        )
        .await
        .unwrap_err();
    assert_eq!(refused(error).1, CONFLICT);

    emulator.advance(20);
    let error = client
        .upgrade_cluster(&cluster, &UpgradeClusterRequestBody::new(TARGET))
        .await
        .unwrap_err();
    let msg = refused(error).2;
    assert!(
        msg.contains(&workflow),
        "says which workflow to cancel: {msg}"
    );

    client
        .upgrade_work_flow_update(
            &cluster,
            &workflow,
            &UpgradeWorkFlowUpdateRequestBody::cancel(),
        )
        .await
        .unwrap();
    client
        .upgrade_cluster(&cluster, &UpgradeClusterRequestBody::new(TARGET))
        .await
        .unwrap();
    assert_eq!(emulator.upgrades_started(&cluster), 2);
}

// ----------------------------------------------------------------------------- error codes

#[tokio::test]
async fn conflicts_and_expiries_have_their_own_code() {
    let (emulator, client) = bench().await;
    let cluster = emulator.cluster_id().to_owned();

    // Pause with nothing running, retry with nothing failed.
    let error = client
        .create_upgrade_work_flow(&cluster, &CreateUpgradeWorkFlowRequestBody::new(TARGET))
        .await
        .map(|_| ());
    assert!(error.is_ok());
    client
        .upgrade_cluster(&cluster, &UpgradeClusterRequestBody::new(TARGET))
        .await
        .unwrap();
    let error = client
        .retry_upgrade_cluster_task(&cluster)
        .await
        .unwrap_err();
    assert_eq!(refused(error).1, CONFLICT, "retry of a running task");
    emulator.advance(20);
    let error = client
        .pause_upgrade_cluster_task(&cluster)
        .await
        .unwrap_err();
    assert_eq!(refused(error).1, CONFLICT, "pause of a finished task");
    let error = client
        .continue_upgrade_cluster_task(&cluster)
        .await
        .unwrap_err();
    assert_eq!(refused(error).1, CONFLICT, "continue of a finished task");

    // isOnlyUpgrade without a passed pre-check, then with one that expired.
    let next = "v1.29.15-r0";
    let only = UpgradeClusterRequestBody::new(next).is_only_upgrade(true);
    let error = client.upgrade_cluster(&cluster, &only).await.unwrap_err();
    let (status, code, msg) = refused(error);
    assert_eq!((status, code.as_str()), (400, CONFLICT));
    assert!(msg.contains("isOnlyUpgrade"), "{msg}");
    client
        .create_pre_check(&cluster, &PreCheckClusterRequestBody::new(next))
        .await
        .unwrap();
    emulator.advance(5);
    emulator.advance_clock(Duration::from_secs(31 * 60));
    let error = client.upgrade_cluster(&cluster, &only).await.unwrap_err();
    let (_, code, msg) = refused(error);
    assert_eq!(code, CONFLICT);
    assert!(msg.contains("expired"), "{msg}");

    // A value the service's schema refuses keeps the schema code.
    let error = client
        .upgrade_cluster(&cluster, &UpgradeClusterRequestBody::new("v9.99"))
        .await
        .unwrap_err();
    assert_eq!(refused(error).1, INVALID);
}

// ----------------------------------------------------------------------------- shapes

#[tokio::test]
async fn a_created_pre_check_answers_the_documented_shape_and_tasks_use_cst() {
    let (emulator, client) = bench().await;
    let cluster = emulator.cluster_id().to_owned();
    let created = client
        .create_pre_check(&cluster, &PreCheckClusterRequestBody::new(TARGET))
        .await
        .unwrap();
    let metadata = created.metadata.as_ref().expect("metadata");
    let uid = metadata.uid.clone().expect("the task id");
    assert_eq!(
        metadata.creation_timestamp, None,
        "not in the documented answer"
    );
    assert_eq!(
        metadata.update_timestamp, None,
        "not in the documented answer"
    );

    // Shown, a task has its times, written as the documents' examples write a task's.
    let shown = client.show_pre_check(&cluster, &uid).await.unwrap();
    let created_at = shown
        .metadata
        .as_ref()
        .and_then(|m| m.creation_timestamp.clone())
        .expect("a creation time");
    assert_eq!(created_at, "2024-03-12 16:15:00 +0800 CST");
    // A workflow's are in UTC; the client reads both, as the same instant.
    let workflow = client
        .create_upgrade_work_flow(&cluster, &CreateUpgradeWorkFlowRequestBody::new(TARGET))
        .await
        .unwrap();
    let workflow_at = workflow
        .metadata
        .as_ref()
        .and_then(|m| m.creation_timestamp.clone())
        .expect("a creation time");
    assert_eq!(workflow_at, "2024-03-12 08:15:00 +0000 UTC");
    let (task, wf) = (
        parse_go_time(&created_at).unwrap(),
        parse_go_time(&workflow_at).unwrap(),
    );
    assert_eq!(task.unix_seconds(), wf.unix_seconds());
    assert_eq!(task.offset_seconds(), 8 * 3600);
}

#[tokio::test]
async fn the_plan_list_answers_one_plan_object_and_the_client_reads_either_shape() {
    for as_array in [false, true] {
        let config = EmulatorConfig::fast().plan_items_as_array(as_array);
        let emulator = common::start_with(config).await;
        let client = common::client_with_retry(&emulator, quick_retry());
        let cluster = emulator.autopilot_cluster_id().to_owned();
        let path = format!(
            "/autopilot/v3/projects/{}/clusters/{cluster}/upgradeplans",
            emulator.project_id()
        );
        let sent = raw_get(&emulator, &path).await;
        assert_eq!(sent["items"].is_array(), as_array, "{sent}");
        assert_eq!(sent["items"].is_object(), !as_array, "{sent}");

        let listed = client.list_autopilot_upgrade_plans(&cluster).await.unwrap();
        assert_eq!(listed.plans().len(), 1);
        assert!(listed.plans()[0].uid().is_some(), "the plan's id is read");
        emulator.shutdown().await;
    }
}

#[tokio::test]
async fn a_plan_is_postponed_to_a_date_or_a_time() {
    let (emulator, client) = bench().await;
    let cluster = emulator.autopilot_cluster_id().to_owned();
    let listed = client.list_autopilot_upgrade_plans(&cluster).await.unwrap();
    let uid = listed.plans()[0].uid().expect("a plan id").to_owned();

    // A date, as the official SDK sends it: its midnight, UTC.
    let postponed = client
        .update_autopilot_upgrade_plan(
            &cluster,
            &uid,
            &DelayUpgradePlanRequestBody::new("2024-03-20"),
        )
        .await
        .unwrap();
    let not_before = |p: &cce_upgrade::types::DelayedUpgradePlan| {
        p.spec.as_ref().and_then(|s| s.not_before.clone())
    };
    assert_eq!(
        not_before(&postponed).as_deref(),
        Some("2024-03-20 00:00:00 +0000 UTC")
    );
    // A time, in either of the forms the client reads.
    let later = "2024-03-21 10:00:00 +0800 CST";
    let postponed = client
        .update_autopilot_upgrade_plan(&cluster, &uid, &DelayUpgradePlanRequestBody::new(later))
        .await
        .unwrap();
    assert_eq!(not_before(&postponed).as_deref(), Some(later));

    // Neither: the schema code, naming the field and both forms.
    let error = client
        .update_autopilot_upgrade_plan(&cluster, &uid, &DelayUpgradePlanRequestBody::new("soon"))
        .await
        .unwrap_err();
    let (status, code, msg) = refused(error);
    assert_eq!((status, code.as_str()), (400, INVALID));
    assert!(msg.contains("notBefore") && msg.contains("date"), "{msg}");
    // Past the deadline (two weeks after the cluster was created): refused, by date too.
    let error = client
        .update_autopilot_upgrade_plan(
            &cluster,
            &uid,
            &DelayUpgradePlanRequestBody::new("2024-03-27"),
        )
        .await
        .unwrap_err();
    assert_eq!(refused(error).1, INVALID);
}
