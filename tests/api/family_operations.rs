//! Every operation of the spec (`cce_upgrade::operations::ALL`), called with its generated
//! `Client` method over a real
//! socket against the emulator, in the order a real upgrade drives them (FLOW.md), for CCE and
//! Autopilot clusters.
//!
//! Each call is checked on both sides:
//! - what the server received: exactly one request per call, signed, with the method, the exact
//!   path (project id filled in, ids percent-encoded), the query string and the JSON body;
//! - what the caller got: the status, the typed answer's ids, phases, versions and kinds, plain
//!   text as a `String`, no body as `()`, and the server's `X-Request-Id`, a new one per answer.
//!
//! Time is the test's: a task moves one step per read or with `Emulator::advance`, never with
//! the machine's pace. [`COVERAGE`] names, for every operation of the spec, the test that calls
//! it; the test checks that it did (a request of that operation reached the server), and
//! [`every_operation_of_the_spec_has_a_socket_test`] checks the table against the spec, so an
//! operation added to `openapi/` without a test here fails the suite.

use std::collections::BTreeSet;
use std::sync::LazyLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cce_upgrade::emulator::{
    DEMO_AUTOPILOT_CLUSTER_NAME, DEMO_AUTOPILOT_TARGET, DEMO_CLUSTER_NAME, DEMO_VERSION, Emulator,
    EmulatorConfig, NewCluster, ReceivedRequest, Scenario,
};
use cce_upgrade::types::KeystoneListProjectsQuery as ListProjects;
use cce_upgrade::types::{
    AddonCheckInfo, AddonCheckRequestBody, AddonCheckType, ApiVersionV3, ApiVersionV31,
    CheckStatusPhase, ClusterPhase, ClusterType, CreateUpgradeWorkFlowRequestBody,
    DelayUpgradePlanRequestBody, FeatureGatesKind, JobPhase, ListAddonPrecheckTasksQuery,
    ListAutopilotClustersQuery, ListClustersQuery, PointStatusPhase, PostCheckClusterRequestBody,
    PostCheckPhase, PreCheckClusterRequestBody, PreCheckItemKind, PreCheckItemLevel, PreCheckPhase,
    PreCheckTaskKind, ShowAutopilotClusterQuery, ShowClusterQuery, SnapshotSubtaskStatus,
    SnapshotSubtaskType, UpgradeAddonConfig, UpgradeClusterRequestBody, UpgradeFeatureGateValue,
    UpgradeNodePool, UpgradeStrategyType, UpgradeTask, UpgradeTaskKind, UpgradeTaskPhase,
    UpgradeTaskType, UpgradeWorkFlow, UpgradeWorkFlowListKind, UpgradeWorkFlowUpdateRequestBody,
    WorkFlowPhase, WorkFlowTaskKind,
};
use cce_upgrade::{Client, Response};
use serde_json::{Value, json};

use crate::common;
use common::{TARGET, quick_retry};

// ----------------------------------------------------------------------------- the table

/// `(operation, test's name, test)`: naming the test function itself, the table cannot name a
/// test that does not exist, nor an `async fn` that lost its `#[tokio::test]` (which is no
/// `fn()`).
macro_rules! cover {
    ($operation:literal, $test:ident) => {
        ($operation, stringify!($test), $test as fn())
    };
}

/// Every operation of the spec and the test of this file that calls it.
#[rustfmt::skip]
const COVERAGE: &[(&str, &str, fn())] = &[
    // find the cluster
    cover!("ListClusters",                            clusters_listed_filtered_and_shown),
    cover!("ShowCluster",                             clusters_listed_filtered_and_shown),
    cover!("ListAutopilotClusters",                   clusters_listed_filtered_and_shown),
    cover!("ShowAutopilotCluster",                    clusters_listed_filtered_and_shown),
    // choose a target
    cover!("ShowClusterUpgradeInfo",                  cce_choose_a_target),
    cover!("ListClusterUpgradePaths",                 cce_choose_a_target),
    cover!("ListClusterUpgradeFeatureGates",          cce_choose_a_target),
    cover!("ShowFeatureGates",                        cce_choose_a_target),
    cover!("ShowAutopilotClusterUpgradeInfo",         autopilot_choose_a_target),
    cover!("ListAutopilotClusterUpgradePaths",        autopilot_choose_a_target),
    cover!("ListAutopilotClusterUpgradeFeatureGates", autopilot_choose_a_target),
    cover!("ShowAutopilotFeatureGates",               autopilot_choose_a_target),
    // workflow
    cover!("CreateUpgradeWorkFlow",                   cce_workflow_created_shown_listed_and_cancelled),
    cover!("ListUpgradeWorkFlows",                    cce_workflow_created_shown_listed_and_cancelled),
    cover!("ShowUpgradeWorkFlow",                     cce_workflow_created_shown_listed_and_cancelled),
    cover!("UpgradeWorkFlowUpdate",                   cce_workflow_created_shown_listed_and_cancelled),
    cover!("CreateAutopilotUpgradeWorkFlow",          autopilot_workflow_listed_shown_cancelled_and_created_again),
    cover!("ListAutopilotUpgradeWorkFlows",           autopilot_workflow_listed_shown_cancelled_and_created_again),
    cover!("ShowAutopilotUpgradeWorkFlow",            autopilot_workflow_listed_shown_cancelled_and_created_again),
    cover!("UpgradeAutopilotWorkFlowUpdate",          autopilot_workflow_listed_shown_cancelled_and_created_again),
    // pre-check, backup, upgrade, post-check
    cover!("CreatePreCheck",                          cce_pre_check_backup_upgrade_and_post_check),
    cover!("ShowPreCheck",                            cce_pre_check_backup_upgrade_and_post_check),
    cover!("ListPreCheckTasks",                       cce_pre_check_backup_upgrade_and_post_check),
    cover!("CreateClusterMasterSnapshot",             cce_pre_check_backup_upgrade_and_post_check),
    cover!("ListClusterMasterSnapshotTasks",          cce_pre_check_backup_upgrade_and_post_check),
    cover!("UpgradeCluster",                          cce_pre_check_backup_upgrade_and_post_check),
    cover!("ShowUpgradeClusterTask",                  cce_pre_check_backup_upgrade_and_post_check),
    cover!("ListUpgradeClusterTasks",                 cce_pre_check_backup_upgrade_and_post_check),
    cover!("CreatePostCheck",                         cce_pre_check_backup_upgrade_and_post_check),
    cover!("PauseUpgradeClusterTask",                 cce_upgrade_paused_continued_failed_and_retried),
    cover!("ContinueUpgradeClusterTask",              cce_upgrade_paused_continued_failed_and_retried),
    cover!("RetryUpgradeClusterTask",                 cce_upgrade_paused_continued_failed_and_retried),
    cover!("BatchCreateAddonPrecheck",                cce_addon_pre_checks_created_and_listed_by_filter),
    cover!("ListAddonPrecheckTasks",                  cce_addon_pre_checks_created_and_listed_by_filter),
    cover!("CreateAutopilotPreCheck",                 autopilot_pre_check_backup_upgrade_retry_and_post_check),
    cover!("ShowAutopilotPreCheck",                   autopilot_pre_check_backup_upgrade_retry_and_post_check),
    cover!("ListAutopilotPreCheckTasks",              autopilot_pre_check_backup_upgrade_retry_and_post_check),
    cover!("CreateAutopilotClusterMasterSnapshot",    autopilot_pre_check_backup_upgrade_retry_and_post_check),
    cover!("ListAutopilotClusterMasterSnapshotTasks", autopilot_pre_check_backup_upgrade_retry_and_post_check),
    cover!("UpgradeAutopilotCluster",                 autopilot_pre_check_backup_upgrade_retry_and_post_check),
    cover!("ShowAutopilotUpgradeClusterTask",         autopilot_pre_check_backup_upgrade_retry_and_post_check),
    cover!("ListAutopilotUpgradeClusterTasks",        autopilot_pre_check_backup_upgrade_retry_and_post_check),
    cover!("RetryAutopilotUpgradeClusterTask",        autopilot_pre_check_backup_upgrade_retry_and_post_check),
    cover!("CreateAutopilotPostCheck",                autopilot_pre_check_backup_upgrade_retry_and_post_check),
    // node pools and jobs
    cover!("UpgradeNodePool",                         cce_node_pool_sync_job_and_node_syncs),
    cover!("ShowJob",                                 cce_node_pool_sync_job_and_node_syncs),
    cover!("SyncNode",                                cce_node_pool_sync_job_and_node_syncs),
    cover!("BatchSyncNodes",                          cce_node_pool_sync_job_and_node_syncs),
    cover!("ListAutopilotJobs",                       autopilot_jobs_listed_shown_and_deleted),
    cover!("GetAutopilotOneJob",                      autopilot_jobs_listed_shown_and_deleted),
    cover!("ShowAutopilotJob",                        autopilot_jobs_listed_shown_and_deleted),
    cover!("DeleteAutopilotJob",                      autopilot_jobs_listed_shown_and_deleted),
    // Autopilot plans
    cover!("ListAutopilotUpgradePlans",               autopilot_plan_listed_and_postponed),
    cover!("UpdateAutopilotUpgradePlan",              autopilot_plan_listed_and_postponed),
    // IAM
    cover!("KeystoneListProjects",                    iam_projects_listed_by_name),
];

/// An operation of the spec: id, method, path template split in segments.
struct SpecOperation {
    id: &'static str,
    method: &'static str,
    segments: Vec<&'static str>,
}

static SPEC_OPERATIONS: LazyLock<Vec<SpecOperation>> = LazyLock::new(|| {
    cce_upgrade::operations::ALL
        .iter()
        .map(|op| SpecOperation {
            id: op.id,
            method: op.method,
            segments: op.path.split('/').collect(),
        })
        .collect()
});

/// The operations of the spec whose method and path template fit a received request.
fn operations_of(request: &ReceivedRequest) -> Vec<&'static str> {
    let path = request.uri.split('?').next().unwrap_or_default();
    let segments: Vec<&str> = path.split('/').collect();
    SPEC_OPERATIONS
        .iter()
        .filter(|op| {
            op.method == request.method
                && op.segments.len() == segments.len()
                && op.segments.iter().zip(&segments).all(|(t, s)| {
                    if t.starts_with('{') && t.ends_with('}') {
                        !s.is_empty()
                    } else {
                        t == s
                    }
                })
        })
        .map(|op| op.id)
        .collect()
}

#[test]
fn every_operation_of_the_spec_has_a_socket_test() {
    let spec: BTreeSet<&str> = SPEC_OPERATIONS.iter().map(|op| op.id).collect();
    assert_eq!(spec.len(), SPEC_OPERATIONS.len(), "operationIds are unique");

    let mut tested = BTreeSet::new();
    for (op, _, _) in COVERAGE {
        assert!(tested.insert(*op), "{op} is twice in COVERAGE");
    }
    // Every operation of the family (its facts file) and the IAM lookup has a test here; an
    // operation of another family is called over a socket by `tests/operation_list.rs` and
    // its family's own tests.
    let family: Value =
        serde_json::from_str(include_str!("../data/upgrade-family.json")).expect("family facts");
    let must: BTreeSet<&str> = family
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|o| o["operation"].as_str())
        .chain(["KeystoneListProjects"])
        .collect();
    let untested: Vec<_> = must.difference(&tested).collect();
    assert!(
        untested.is_empty(),
        "operations of the family without a socket test here: {untested:?}"
    );
    let unlisted: Vec<_> = must.difference(&spec).collect();
    assert!(
        unlisted.is_empty(),
        "operations of the family missing from the spec: {unlisted:?}"
    );
    let unknown: Vec<_> = tested.difference(&spec).collect();
    assert!(
        unknown.is_empty(),
        "COVERAGE names operations the spec does not have: {unknown:?}"
    );

    // Each test named is a test of this file (`cover!` checks that when it compiles), and each
    // checks its operations at its end: a `Bench` dropped without `covers` fails its test.
}

#[test]
fn requests_are_told_apart_by_method_and_path() {
    let request = |method: &str, uri: &str| ReceivedRequest {
        method: method.to_owned(),
        uri: uri.to_owned(),
        headers: Vec::new(),
        body: Vec::new(),
        authenticated: true,
    };
    let p = "0123456789abcdef0123456789abcdef";
    assert_eq!(
        operations_of(&request(
            "GET",
            &format!("/autopilot/v2/projects/{p}/jobs/j%201")
        )),
        ["GetAutopilotOneJob"]
    );
    assert_eq!(
        operations_of(&request(
            "DELETE",
            &format!("/autopilot/v2/projects/{p}/jobs/j")
        )),
        ["DeleteAutopilotJob"]
    );
    assert_eq!(
        operations_of(&request(
            "GET",
            &format!("/api/v3/projects/{p}/clusters/c/addons/precheck/tasks?type=addonStatic")
        )),
        ["ListAddonPrecheckTasks"]
    );
    assert!(operations_of(&request("PUT", &format!("/autopilot/v2/projects/{p}/jobs"))).is_empty());
    assert!(operations_of(&request("GET", &format!("/api/v3/projects/{p}/jobs/"))).is_empty());
}

// ----------------------------------------------------------------------------- the bench

/// 2024-03-12 08:15:00 UTC: the emulator's clock starts here, so timestamps are known.
const START: &str = "2024-03-12 08:15:00 +0000 UTC";

fn start_time() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_710_231_300)
}

/// An emulator, a client for it, and what has been checked so far.
struct Bench {
    emulator: Emulator,
    client: Client,
    /// How many of the emulator's requests have been checked.
    seen: usize,
    /// The request ids answered so far: each answer has its own.
    request_ids: BTreeSet<String>,
    /// Whether [`Bench::covers`] ran: a test that drops its bench without it fails.
    covered: bool,
}

impl Drop for Bench {
    fn drop(&mut self) {
        if !self.covered && !std::thread::panicking() {
            panic!("the test ended without checking its operations with `b.covers(..)`");
        }
    }
}

impl Bench {
    async fn start() -> Bench {
        Bench::with(EmulatorConfig::fast()).await
    }

    async fn with(config: EmulatorConfig) -> Bench {
        let emulator = common::start_with(config.start_time(start_time())).await;
        let client = common::client_with_retry(&emulator, quick_retry());
        Bench {
            emulator,
            client,
            seen: 0,
            request_ids: BTreeSet::new(),
            covered: false,
        }
    }

    fn project(&self) -> &str {
        self.emulator.project_id()
    }

    /// `/api/{version}/projects/{project}/clusters/{cluster}/{rest}`.
    fn cce(&self, version: &str, cluster: &str, rest: &str) -> String {
        format!(
            "/api/{version}/projects/{}/clusters/{cluster}/{rest}",
            self.project()
        )
    }

    /// `/autopilot/{version}/projects/{project}/clusters/{cluster}/{rest}`.
    fn autopilot(&self, version: &str, cluster: &str, rest: &str) -> String {
        format!(
            "/autopilot/{version}/projects/{}/clusters/{cluster}/{rest}",
            self.project()
        )
    }

    /// The one request the last call sent: signed, with this method, request target
    /// (`path?query`) and JSON body (`None`: no body at all).
    #[track_caller]
    fn sent(&mut self, method: &str, target: &str, body: Option<Value>) -> ReceivedRequest {
        let requests = self.emulator.requests();
        assert_eq!(
            requests.len(),
            self.seen + 1,
            "one request per call, sent once: {:?}",
            &requests[self.seen.min(requests.len())..]
        );
        let request = requests[self.seen].clone();
        self.seen += 1;
        assert_eq!(
            (request.method.as_str(), request.uri.as_str()),
            (method, target)
        );
        assert!(request.authenticated, "the emulator refused {request:?}");
        let authorization = request.header("authorization").unwrap_or_default();
        assert!(
            authorization.starts_with(&format!(
                "SDK-HMAC-SHA256 Access={}, SignedHeaders=",
                self.emulator.access_key()
            )),
            "not signed with the AK: {authorization:?}"
        );
        assert_eq!(
            request.header("x-project-id"),
            Some(self.project()),
            "{request:?}"
        );
        match body {
            None => assert!(
                request.body.is_empty(),
                "{method} {target} sent a body: {:?}",
                String::from_utf8_lossy(&request.body)
            ),
            Some(expected) => {
                let got: Value = serde_json::from_slice(&request.body).unwrap_or_else(|e| {
                    panic!(
                        "{method} {target}: the body is not JSON ({e}): {:?}",
                        String::from_utf8_lossy(&request.body)
                    )
                });
                assert_eq!(got, expected, "{method} {target}: the body sent");
            }
        }
        request
    }

    /// The answer of the last call: `status`, at the first attempt, with a request id of its
    /// own.
    #[track_caller]
    fn answered<T>(&mut self, response: &Response<T>, status: u16) {
        assert_eq!(response.status().as_u16(), status);
        assert_eq!(response.attempts(), 1);
        let id = response.request_id().expect("an X-Request-Id");
        assert!(
            id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
            "request id {id:?}"
        );
        assert!(
            self.request_ids.insert(id.to_owned()),
            "request id {id} answered twice"
        );
    }

    /// Both: the request the call sent and the answer it got.
    #[track_caller]
    fn check<T>(
        &mut self,
        response: &Response<T>,
        status: u16,
        method: &str,
        target: &str,
        body: Option<Value>,
    ) {
        self.sent(method, target, body);
        self.answered(response, status);
    }

    /// Every operation [`COVERAGE`] gives to `test` reached the server in this test, and every
    /// request of the test was one operation of the spec.
    #[track_caller]
    fn covers(&mut self, test: &str) {
        self.covered = true;
        assert!(
            COVERAGE.iter().any(|(_, t, _)| *t == test),
            "COVERAGE names no operation for {test}"
        );
        // The test harness names a test's thread after the test (unless it runs them all on
        // the main thread): the name given is this test's.
        let thread = std::thread::current();
        if let Some(running) = thread.name().filter(|name| *name != "main") {
            assert!(
                running == test || running.ends_with(&format!("::{test}")),
                "{running} checks the operations of {test}"
            );
        }
        let requests = self.emulator.requests();
        assert_eq!(requests.len(), self.seen, "requests left unchecked");
        let mut called = BTreeSet::new();
        for request in &requests {
            let ops = operations_of(request);
            assert_eq!(
                ops.len(),
                1,
                "{} {} is not exactly one operation: {ops:?}",
                request.method,
                request.uri
            );
            called.insert(ops[0]);
        }
        let missing: Vec<&str> = COVERAGE
            .iter()
            .filter(|(op, t, _)| *t == test && !called.contains(op))
            .map(|(op, _, _)| *op)
            .collect();
        assert!(
            missing.is_empty(),
            "{test} did not call {missing:?} (called {called:?})"
        );
    }
}

/// The phases of a workflow's four points, in order (PreCheck, Snapshot, Cluster, PostCheck).
fn points(workflow: &UpgradeWorkFlow) -> Vec<(UpgradeTaskType, PointStatusPhase, Option<String>)> {
    workflow
        .status
        .as_ref()
        .expect("a workflow status")
        .point_statuses
        .iter()
        .map(|p| {
            (
                p.task_type.clone().expect("a taskType"),
                p.status.clone().expect("a point status"),
                p.task_id.clone(),
            )
        })
        .collect()
}

/// An upgrade task's phase and progress as sent.
fn phase_and_progress(task: &UpgradeTask) -> (UpgradeTaskPhase, String) {
    let status = task.status.as_ref().expect("a task status");
    (
        status.phase.clone().expect("a phase"),
        status.progress.clone().expect("a progress"),
    )
}

fn running(progress: &str) -> (UpgradeTaskPhase, String) {
    (UpgradeTaskPhase::Running, progress.to_owned())
}

// ----------------------------------------------------------------------------- choose a target

#[tokio::test]
async fn cce_choose_a_target() {
    let mut b = Bench::start().await;
    let cluster = b.emulator.cluster_id().to_owned();

    let info = b.client.show_cluster_upgrade_info(&cluster).await.unwrap();
    let uri = b.cce("v3", &cluster, "upgradeinfo");
    b.check(&info, 200, "GET", &uri, None);
    assert_eq!(info.kind.as_deref(), Some("UpgradeInfo"));
    let metadata = info.metadata.as_ref().expect("metadata");
    assert_eq!(metadata.uid.as_deref(), Some(cluster.as_str()));
    assert_eq!(metadata.creation_timestamp.as_deref(), Some(START));
    let spec = info.spec.as_ref().expect("spec");
    let version = spec.version_info.as_ref().expect("versionInfo");
    assert_eq!(version.release.as_deref(), Some("v1.28.15"));
    assert_eq!(version.patch.as_deref(), Some("r0"));
    assert_eq!(version.suggest_patch.as_deref(), Some("r1.sp1"));
    assert_eq!(
        info.target_versions(),
        [
            "v1.28.15-r1.sp1",
            "v1.29.10-r0",
            "v1.29.15-r0",
            "v1.30.14-r0"
        ]
    );
    assert_eq!(
        spec.upgrade_feature_gates
            .as_ref()
            .and_then(|g| g.support_upgrade_page_v4),
        Some(true)
    );
    assert!(spec.last_upgrade_info.is_none(), "never upgraded");
    assert!(info.status.is_none(), "never upgraded");

    let paths = b.client.list_cluster_upgrade_paths().await.unwrap();
    b.check(&paths, 200, "GET", "/api/v3/clusterupgradepaths", None);
    assert_eq!(paths.kind.as_deref(), Some("UpgradePath"));
    assert_eq!(paths.upgrade_paths.len(), 6);
    let ours = paths
        .upgrade_paths
        .iter()
        .find(|p| p.version.as_deref() == Some(DEMO_VERSION))
        .expect("a path from the cluster's version");
    assert_eq!(ours.platform_version.as_deref(), Some("cce.5.0.0"));
    assert_eq!(ours.target_versions, info.target_versions());

    let gates = b.client.list_cluster_upgrade_feature_gates().await.unwrap();
    b.check(
        &gates,
        200,
        "GET",
        "/api/v3/clusterupgradefeaturegates",
        None,
    );
    assert_eq!(gates.kind.as_deref(), Some("ClusterUpgradeFeatureGates"));
    assert_eq!(
        gates.gate("EvsSnapshot"),
        Some(&UpgradeFeatureGateValue::Support)
    );
    assert_eq!(
        gates.gate("LabelForSkippedNode"),
        Some(&UpgradeFeatureGateValue::Default)
    );
    assert_eq!(gates.upgrade_feature_gates.len(), 4);

    let features = b.client.show_feature_gates().await.unwrap();
    b.check(&features, 200, "GET", "/api/v3.1/feature-gates", None);
    assert_eq!(features.api_version, Some(ApiVersionV31::V31));
    assert_eq!(features.kind, Some(FeatureGatesKind::Configuration));
    assert_eq!(features.spec.get("EvsSnapshot"), Some(&json!(true)));
    assert_eq!(
        features.spec.get("UpgradeStrategy"),
        Some(&json!("inPlaceRollingUpdate"))
    );

    b.covers("cce_choose_a_target");
}

#[tokio::test]
async fn autopilot_choose_a_target() {
    let mut b = Bench::start().await;
    // An Autopilot cluster one upgrade further, with an id that must be encoded.
    let cluster = "ap 自动+1";
    let wire = "ap%20%E8%87%AA%E5%8A%A8%2B1";
    b.emulator.add_cluster(cluster, "v1.29.10-r0", true);

    let info = b
        .client
        .show_autopilot_cluster_upgrade_info(cluster)
        .await
        .unwrap();
    let uri = b.autopilot("v3", wire, "upgradeinfo");
    b.check(&info, 200, "GET", &uri, None);
    assert_eq!(info.kind.as_deref(), Some("UpgradeInfo"));
    assert_eq!(
        info.metadata.as_ref().and_then(|m| m.uid.as_deref()),
        Some(cluster)
    );
    let version = info
        .spec
        .as_ref()
        .and_then(|s| s.version_info.as_ref())
        .expect("versionInfo");
    assert_eq!(version.release.as_deref(), Some("v1.29.10"));
    assert_eq!(version.patch.as_deref(), Some("r0"));
    assert_eq!(info.target_versions(), ["v1.29.15-r0", "v1.30.14-r0"]);

    let paths = b
        .client
        .list_autopilot_cluster_upgrade_paths()
        .await
        .unwrap();
    b.check(
        &paths,
        200,
        "GET",
        "/autopilot/v3/clusterupgradepaths",
        None,
    );
    let ours = paths
        .upgrade_paths
        .iter()
        .find(|p| p.version.as_deref() == Some("v1.29.10-r0"))
        .expect("a path from the cluster's version");
    assert_eq!(ours.platform_version.as_deref(), Some("cce.6.0.0"));
    assert_eq!(ours.target_versions, info.target_versions());

    let gates = b
        .client
        .list_autopilot_cluster_upgrade_feature_gates()
        .await
        .unwrap();
    b.check(
        &gates,
        200,
        "GET",
        "/autopilot/v3/clusterupgradefeaturegates",
        None,
    );
    assert_eq!(
        gates.gate("UpgradeStrategy"),
        Some(&UpgradeFeatureGateValue::Support)
    );

    let features = b.client.show_autopilot_feature_gates().await.unwrap();
    b.check(&features, 200, "GET", "/autopilot/v3.1/feature-gates", None);
    assert_eq!(features.api_version, Some(ApiVersionV31::V31));
    assert_eq!(features.kind, Some(FeatureGatesKind::Configuration));
    assert_eq!(features.spec.get("EvsSnapshot"), Some(&json!(true)));

    b.covers("autopilot_choose_a_target");
}

// ----------------------------------------------------------------------------- workflows

#[tokio::test]
async fn cce_workflow_created_shown_listed_and_cancelled() {
    let mut b = Bench::start().await;
    let cluster = "prod cluster+1";
    let wire = "prod%20cluster%2B1";
    b.emulator.add_cluster(cluster, DEMO_VERSION, false);
    let workflows = b.cce("v3", wire, "operation/upgradeworkflows");

    // A minor version: the service answers its latest allowed patch.
    let created = b
        .client
        .create_upgrade_work_flow(cluster, &CreateUpgradeWorkFlowRequestBody::new("v1.29"))
        .await
        .unwrap();
    b.check(
        &created,
        201,
        "POST",
        &workflows,
        Some(
            json!({"apiVersion": "v3", "kind": "WorkFlowTask", "spec": {"targetVersion": "v1.29"}}),
        ),
    );
    assert_eq!(created.api_version, Some(ApiVersionV3::V3));
    assert_eq!(created.kind, Some(WorkFlowTaskKind::WorkFlowTask));
    let uid = created.uid().expect("a workflow id").to_owned();
    assert_eq!(uid.len(), 36, "{uid}");
    assert_eq!(created.phase(), Some(&WorkFlowPhase::Init));
    let spec = created.spec.as_ref().expect("spec");
    assert_eq!(spec.cluster_id.as_deref(), Some(cluster));
    assert_eq!(spec.cluster_version.as_deref(), Some(DEMO_VERSION));
    assert_eq!(spec.target_version.as_deref(), Some("v1.29.15-r0"));
    assert_eq!(
        created
            .metadata
            .as_ref()
            .and_then(|m| m.creation_timestamp.as_deref()),
        Some(START)
    );
    assert_eq!(
        points(&created),
        [
            (UpgradeTaskType::PreCheck, PointStatusPhase::Init, None),
            (UpgradeTaskType::Snapshot, PointStatusPhase::Init, None),
            (UpgradeTaskType::Cluster, PointStatusPhase::Init, None),
            (UpgradeTaskType::PostCheck, PointStatusPhase::Init, None),
        ]
    );
    let lines = &created.status.as_ref().expect("status").line_statuses;
    assert_eq!(lines.len(), 3);
    assert_eq!(
        lines[2].start_point.as_ref().and_then(|p| p.task_type()),
        Some(UpgradeTaskType::Cluster)
    );
    assert_eq!(
        lines[2].critical.as_ref().and_then(|c| c.as_bool()),
        Some(true)
    );

    let shown = b
        .client
        .show_upgrade_work_flow(cluster, &uid)
        .await
        .unwrap();
    b.check(&shown, 200, "GET", &format!("{workflows}/{uid}"), None);
    assert_eq!(shown.uid(), Some(uid.as_str()));
    assert_eq!(shown.phase(), Some(&WorkFlowPhase::Init));
    assert_eq!(
        shown
            .spec
            .as_ref()
            .and_then(|s| s.target_version.as_deref()),
        Some("v1.29.15-r0")
    );

    let listed = b.client.list_upgrade_work_flows(cluster).await.unwrap();
    b.check(&listed, 200, "GET", &workflows, None);
    assert_eq!(listed.kind, Some(UpgradeWorkFlowListKind::List));
    assert_eq!(listed.workflows().len(), 1);
    assert_eq!(listed.workflows()[0].uid(), Some(uid.as_str()));

    let cancelled = b
        .client
        .upgrade_work_flow_update(cluster, &uid, &UpgradeWorkFlowUpdateRequestBody::cancel())
        .await
        .unwrap();
    b.check(
        &cancelled,
        200,
        "PATCH",
        &format!("{workflows}/{uid}"),
        Some(json!({"status": {"phase": "Cancel"}})),
    );
    assert_eq!(cancelled.uid(), Some(uid.as_str()));
    assert_eq!(cancelled.phase(), Some(&WorkFlowPhase::Cancel));

    let shown = b
        .client
        .show_upgrade_work_flow(cluster, &uid)
        .await
        .unwrap();
    b.check(&shown, 200, "GET", &format!("{workflows}/{uid}"), None);
    assert_eq!(shown.phase(), Some(&WorkFlowPhase::Cancel));

    // A cancelled workflow no longer holds the cluster: a new one can be created.
    let again = b
        .client
        .create_upgrade_work_flow(
            cluster,
            &CreateUpgradeWorkFlowRequestBody::new(TARGET).cluster_version(DEMO_VERSION),
        )
        .await
        .unwrap();
    b.check(
        &again,
        201,
        "POST",
        &workflows,
        Some(json!({"apiVersion": "v3", "kind": "WorkFlowTask",
            "spec": {"clusterVersion": DEMO_VERSION, "targetVersion": TARGET}})),
    );
    let second = again.uid().expect("a workflow id").to_owned();
    assert_ne!(second, uid);
    assert_eq!(again.phase(), Some(&WorkFlowPhase::Init));

    let listed = b.client.list_upgrade_work_flows(cluster).await.unwrap();
    b.check(&listed, 200, "GET", &workflows, None);
    let phases: Vec<_> = listed
        .workflows()
        .iter()
        .map(|w| (w.uid().unwrap().to_owned(), w.phase().cloned()))
        .collect();
    assert_eq!(
        phases,
        [
            (second, Some(WorkFlowPhase::Init)),
            (uid, Some(WorkFlowPhase::Cancel))
        ],
        "newest first"
    );

    b.covers("cce_workflow_created_shown_listed_and_cancelled");
}

#[tokio::test]
async fn autopilot_workflow_listed_shown_cancelled_and_created_again() {
    let mut b = Bench::start().await;
    // The demo Autopilot cluster has a workflow, created at start.
    let cluster = b.emulator.autopilot_cluster_id().to_owned();
    let workflows = b.autopilot("v3", &cluster, "operation/upgradeworkflows");

    let listed = b
        .client
        .list_autopilot_upgrade_work_flows(&cluster)
        .await
        .unwrap();
    b.check(&listed, 200, "GET", &workflows, None);
    assert_eq!(listed.kind, Some(UpgradeWorkFlowListKind::List));
    assert_eq!(listed.workflows().len(), 1);
    let open = listed.newest().expect("the demo workflow");
    let uid = open.uid().expect("a workflow id").to_owned();
    assert_eq!(open.phase(), Some(&WorkFlowPhase::Init));
    let spec = open.spec.as_ref().expect("spec");
    assert_eq!(spec.cluster_id.as_deref(), Some(cluster.as_str()));
    assert_eq!(spec.cluster_version.as_deref(), Some(DEMO_VERSION));
    assert_eq!(spec.target_version.as_deref(), Some(DEMO_AUTOPILOT_TARGET));

    let shown = b
        .client
        .show_autopilot_upgrade_work_flow(&cluster, &uid)
        .await
        .unwrap();
    b.check(&shown, 200, "GET", &format!("{workflows}/{uid}"), None);
    assert_eq!(shown.uid(), Some(uid.as_str()));
    assert_eq!(shown.phase(), Some(&WorkFlowPhase::Init));
    assert_eq!(points(&shown).len(), 4);

    let cancelled = b
        .client
        .upgrade_autopilot_work_flow_update(
            &cluster,
            &uid,
            &UpgradeWorkFlowUpdateRequestBody::cancel(),
        )
        .await
        .unwrap();
    b.check(
        &cancelled,
        200,
        "PATCH",
        &format!("{workflows}/{uid}"),
        Some(json!({"status": {"phase": "Cancel"}})),
    );
    assert_eq!(cancelled.uid(), Some(uid.as_str()));
    assert_eq!(cancelled.phase(), Some(&WorkFlowPhase::Cancel));

    // Autopilot documents 200 for a created workflow (CCE: 201).
    let created = b
        .client
        .create_autopilot_upgrade_work_flow(
            &cluster,
            &CreateUpgradeWorkFlowRequestBody::new("v1.30.14-r0").cluster_version(DEMO_VERSION),
        )
        .await
        .unwrap();
    b.check(
        &created,
        200,
        "POST",
        &workflows,
        Some(json!({"apiVersion": "v3", "kind": "WorkFlowTask",
            "spec": {"clusterVersion": DEMO_VERSION, "targetVersion": "v1.30.14-r0"}})),
    );
    let second = created.uid().expect("a workflow id").to_owned();
    assert_ne!(second, uid);
    assert_eq!(created.phase(), Some(&WorkFlowPhase::Init));
    assert_eq!(
        created
            .spec
            .as_ref()
            .and_then(|s| s.target_version.as_deref()),
        Some("v1.30.14-r0")
    );

    let listed = b
        .client
        .list_autopilot_upgrade_work_flows(&cluster)
        .await
        .unwrap();
    b.check(&listed, 200, "GET", &workflows, None);
    let uids: Vec<_> = listed.workflows().iter().filter_map(|w| w.uid()).collect();
    assert_eq!(uids, [second.as_str(), uid.as_str()], "newest first");

    b.covers("autopilot_workflow_listed_shown_cancelled_and_created_again");
}

// ----------------------------------------------------------------------------- a CCE upgrade

#[tokio::test]
async fn cce_pre_check_backup_upgrade_and_post_check() {
    let mut b = Bench::start().await;
    let cluster = b.emulator.cluster_id().to_owned();
    // The pre-check finds a Risk on one node, which the user confirms by skipping it.
    b.emulator.set_scenario(
        &cluster,
        Scenario::precheck_risk_on_nodes("NodeKernelCheck", ["node-a"]),
    );
    let workflow = b
        .client
        .create_upgrade_work_flow(&cluster, &CreateUpgradeWorkFlowRequestBody::new(TARGET))
        .await
        .unwrap();
    let workflow_uri = b.cce(
        "v3",
        &cluster,
        &format!("operation/upgradeworkflows/{}", workflow.uid().unwrap()),
    );
    b.check(
        &workflow,
        201,
        "POST",
        &b.cce("v3", &cluster, "operation/upgradeworkflows"),
        Some(
            json!({"apiVersion": "v3", "kind": "WorkFlowTask", "spec": {"targetVersion": TARGET}}),
        ),
    );
    let workflow_id = workflow.uid().unwrap().to_owned();

    // The pre-check: created, then followed (each read answers, then moves it a step).
    let precheck = b.cce("v3", &cluster, "operation/precheck");
    let first = b
        .client
        .create_pre_check(
            &cluster,
            &PreCheckClusterRequestBody::new(TARGET).cluster_version(DEMO_VERSION),
        )
        .await
        .unwrap();
    b.check(
        &first,
        200,
        "POST",
        &precheck,
        Some(json!({"apiVersion": "v3", "kind": "PreCheckTask",
            "spec": {"clusterVersion": DEMO_VERSION, "targetVersion": TARGET}})),
    );
    assert_eq!(first.kind, Some(PreCheckTaskKind::PreCheckTask));
    let first_id = first
        .metadata
        .as_ref()
        .and_then(|m| m.uid.clone())
        .expect("a pre-check id");
    let pre_phase = |task: &cce_upgrade::types::PreCheckTask| {
        task.status.as_ref().and_then(|s| s.phase.clone())
    };
    assert_eq!(pre_phase(&first), Some(PreCheckPhase::Init));
    let spec = first.spec.as_ref().expect("spec");
    assert_eq!(spec.cluster_id.as_deref(), Some(cluster.as_str()));
    assert_eq!(spec.cluster_version.as_deref(), Some(DEMO_VERSION));
    assert_eq!(spec.target_version.as_deref(), Some(TARGET));

    let task_uri = format!("{precheck}/tasks/{first_id}");
    let mut seen = Vec::new();
    for _ in 0..2 {
        let shown = b.client.show_pre_check(&cluster, &first_id).await.unwrap();
        b.check(&shown, 200, "GET", &task_uri, None);
        assert_eq!(
            shown.metadata.as_ref().and_then(|m| m.uid.as_deref()),
            Some(first_id.as_str())
        );
        seen.push(pre_phase(&shown));
    }
    let listed = b.client.list_pre_check_tasks(&cluster).await.unwrap();
    b.check(&listed, 200, "GET", &format!("{precheck}/tasks"), None);
    assert_eq!(listed.items.len(), 1);
    seen.push(pre_phase(&listed.items[0]));
    assert_eq!(
        seen,
        [
            Some(PreCheckPhase::Init),
            Some(PreCheckPhase::Running),
            Some(PreCheckPhase::Running)
        ]
    );
    let failed = b.client.show_pre_check(&cluster, &first_id).await.unwrap();
    b.check(&failed, 200, "GET", &task_uri, None);
    let status = failed.status.as_ref().expect("status");
    assert_eq!(status.phase, Some(PreCheckPhase::Failed));
    assert_eq!(
        status.message.as_deref(),
        Some("the pre-upgrade check failed: NodeKernelCheck (Risk)")
    );
    assert!(
        status.expire_time_stamp.is_none(),
        "a failed check does not expire"
    );
    let nodes = status.node_check_status.as_ref().expect("nodeCheckStatus");
    assert_eq!(nodes.phase, Some(CheckStatusPhase::Failed));
    assert_eq!(nodes.node_stage_status.len(), 1);
    let node = &nodes.node_stage_status[0];
    assert_eq!(
        node.node_info.as_ref().and_then(|n| n.uid.as_deref()),
        Some("node-a")
    );
    let item = &node.items_status[0];
    assert_eq!(item.name.as_deref(), Some("NodeKernelCheck"));
    assert_eq!(item.kind, Some(PreCheckItemKind::Risk));
    assert_eq!(item.level, Some(PreCheckItemLevel::Warning));
    assert_eq!(item.phase, Some(CheckStatusPhase::Failed));

    // The failed check holds the workflow.
    let shown = b
        .client
        .show_upgrade_work_flow(&cluster, &workflow_id)
        .await
        .unwrap();
    b.check(&shown, 200, "GET", &workflow_uri, None);
    assert_eq!(shown.phase(), Some(&WorkFlowPhase::Pending));
    assert_eq!(
        points(&shown)[0],
        (
            UpgradeTaskType::PreCheck,
            PointStatusPhase::Failed,
            Some(first_id.clone())
        )
    );

    // Again, skipping the confirmed Risk on that node.
    let second = b
        .client
        .create_pre_check(
            &cluster,
            &PreCheckClusterRequestBody::new(TARGET)
                .skip_check_item_on_nodes("NodeKernelCheck", ["node-a"]),
        )
        .await
        .unwrap();
    b.check(
        &second,
        200,
        "POST",
        &precheck,
        Some(json!({"apiVersion": "v3", "kind": "PreCheckTask", "spec": {
            "targetVersion": TARGET,
            "skippedCheckItemList": [{
                "name": "NodeKernelCheck",
                "resourceSelector": {"key": "node.uid", "operator": "In", "values": ["node-a"]},
            }],
        }})),
    );
    let second_id = second
        .metadata
        .as_ref()
        .and_then(|m| m.uid.clone())
        .expect("a pre-check id");
    assert_ne!(second_id, first_id);
    assert_eq!(
        second
            .spec
            .as_ref()
            .map(|s| s.skipped_check_item_list.len()),
        Some(1)
    );
    b.emulator.advance(3);
    let passed = b.client.show_pre_check(&cluster, &second_id).await.unwrap();
    b.check(
        &passed,
        200,
        "GET",
        &format!("{precheck}/tasks/{second_id}"),
        None,
    );
    let status = passed.status.as_ref().expect("status");
    assert_eq!(status.phase, Some(PreCheckPhase::Success));
    assert_eq!(
        status.message.as_deref(),
        Some("the pre-upgrade check passed")
    );
    assert_eq!(
        status.expire_time_stamp.as_deref(),
        Some("2024-03-12 16:45:00 +0800 CST"),
        "valid for 30 minutes, written as the documents write a task's times"
    );
    let item = &status
        .node_check_status
        .as_ref()
        .expect("nodeCheckStatus")
        .node_stage_status[0]
        .items_status[0];
    assert_eq!(item.phase, Some(CheckStatusPhase::Success), "skipped");

    let listed = b.client.list_pre_check_tasks(&cluster).await.unwrap();
    b.check(&listed, 200, "GET", &format!("{precheck}/tasks"), None);
    assert_eq!(listed.api_version, Some(ApiVersionV3::V3));
    let checks: Vec<_> = listed
        .items
        .iter()
        .map(|t| {
            (
                t.metadata.as_ref().and_then(|m| m.uid.clone()),
                pre_phase(t),
            )
        })
        .collect();
    assert_eq!(
        checks,
        [
            (Some(second_id.clone()), Some(PreCheckPhase::Success)),
            (Some(first_id), Some(PreCheckPhase::Failed))
        ],
        "newest first"
    );

    // The backup: no body; its task is found in the list by the uid answered.
    let snapshot = b.cce("v3.1", &cluster, "operation/snapshot");
    let backup = b
        .client
        .create_cluster_master_snapshot(&cluster)
        .await
        .unwrap();
    b.check(&backup, 200, "POST", &snapshot, None);
    let backup_id = backup.uid.clone().expect("a snapshot task id");
    let metadata = backup.metadata.as_ref().expect("metadata");
    assert_eq!(metadata.api_version, Some(ApiVersionV31::V31));
    assert_eq!(metadata.kind.as_deref(), Some("Task"));
    let mut phases = Vec::new();
    for _ in 0..4 {
        let tasks = b
            .client
            .list_cluster_master_snapshot_tasks(&cluster)
            .await
            .unwrap();
        b.check(&tasks, 200, "GET", &format!("{snapshot}/tasks"), None);
        let task = tasks.task(&backup_id).expect("the backup task is listed");
        phases.push(task.phase().unwrap().to_owned());
        if task.phase() == Some("Success") {
            let status = task.status.as_ref().expect("status");
            assert_eq!(status.progress.as_deref(), Some("100"));
            assert!(status.completion_time.is_some());
            let sub = &task.spec.as_ref().expect("spec").items[0];
            assert_eq!(sub.type_, Some(SnapshotSubtaskType::MasterBackup));
            assert_eq!(sub.status, Some(SnapshotSubtaskStatus::Success));
            assert_eq!(
                tasks
                    .status
                    .as_ref()
                    .and_then(|s| s.latest_backup_time.clone()),
                status.completion_time
            );
        }
    }
    assert_eq!(phases, ["Init", "Queuing", "Running", "Success"]);

    // The upgrade, without a second pre-check (the one above passed and has not expired).
    let body = UpgradeClusterRequestBody::new(TARGET)
        .is_only_upgrade(true)
        .user_defined_step(20);
    let started = b.client.upgrade_cluster(&cluster, &body).await.unwrap();
    b.check(
        &started,
        200,
        "POST",
        &b.cce("v3", &cluster, "operation/upgrade"),
        Some(json!({
            "metadata": {"apiVersion": "v3", "kind": "UpgradeTask"},
            "spec": {"clusterUpgradeAction": {
                "isOnlyUpgrade": true,
                "strategy": {"type": "inPlaceRollingUpdate",
                    "inPlaceRollingUpdate": {"userDefinedStep": 20}},
                "targetVersion": TARGET,
            }},
        })),
    );
    let task_id = started
        .metadata
        .as_ref()
        .and_then(|m| m.uid.clone())
        .expect("an upgrade task id");
    let action = started
        .spec
        .as_ref()
        .and_then(|s| s.cluster_upgrade_action.as_ref())
        .expect("clusterUpgradeAction");
    assert_eq!(action.version.as_deref(), Some(DEMO_VERSION));
    assert_eq!(action.target_version.as_deref(), Some(TARGET));
    assert_eq!(action.target_platform_version.as_deref(), Some("cce.6.0.0"));
    assert_eq!(
        action.strategy.as_ref().map(|s| &s.type_),
        Some(&UpgradeStrategyType::InPlaceRollingUpdate)
    );
    assert_eq!(b.emulator.upgrades_started(&cluster), 1);

    let task_uri = b.cce(
        "v3",
        &cluster,
        &format!("operation/upgrade/tasks/{task_id}"),
    );
    let mut seen = Vec::new();
    for _ in 0..8 {
        let task = b
            .client
            .show_upgrade_cluster_task(&cluster, &task_id)
            .await
            .unwrap();
        b.check(&task, 200, "GET", &task_uri, None);
        assert_eq!(task.kind, Some(UpgradeTaskKind::UpgradeTask));
        assert_eq!(
            task.metadata.as_ref().and_then(|m| m.uid.as_deref()),
            Some(task_id.as_str())
        );
        let spec = task.spec.as_ref().expect("spec");
        assert_eq!(spec.version.as_deref(), Some(DEMO_VERSION));
        assert_eq!(spec.target_version.as_deref(), Some(TARGET));
        assert!(
            !spec.items.contains_key("preCheckTaskID"),
            "isOnlyUpgrade runs no pre-check of its own"
        );
        seen.push(phase_and_progress(&task));
    }
    assert_eq!(
        seen,
        [
            (UpgradeTaskPhase::Init, "0.00".to_owned()),
            (UpgradeTaskPhase::Queuing, "0.00".to_owned()),
            running("0.00"),
            running("20.00"),
            running("40.00"),
            running("60.00"),
            running("80.00"),
            (UpgradeTaskPhase::Success, "100.00".to_owned()),
        ]
    );
    assert_eq!(
        b.emulator.cluster_version(&cluster).as_deref(),
        Some(TARGET)
    );

    let tasks = b.client.list_upgrade_cluster_tasks(&cluster).await.unwrap();
    b.check(
        &tasks,
        200,
        "GET",
        &b.cce("v3", &cluster, "operation/upgrade/tasks"),
        None,
    );
    assert_eq!(tasks.items.len(), 1);
    assert_eq!(
        tasks.items[0]
            .metadata
            .as_ref()
            .and_then(|m| m.uid.as_deref()),
        Some(task_id.as_str())
    );
    assert_eq!(
        phase_and_progress(&tasks.items[0]),
        (UpgradeTaskPhase::Success, "100.00".to_owned())
    );
    assert!(tasks.items[0].completed_at().is_some());

    // The post-check confirms it, synchronously.
    let confirmed = b
        .client
        .create_post_check(
            &cluster,
            &PostCheckClusterRequestBody::for_versions(DEMO_VERSION, TARGET).cluster_id(&cluster),
        )
        .await
        .unwrap();
    b.check(
        &confirmed,
        200,
        "POST",
        &b.cce("v3", &cluster, "operation/postcheck"),
        Some(
            json!({"apiVersion": "v3", "kind": "PostCheckTask", "spec": {
                "clusterID": cluster, "clusterVersion": DEMO_VERSION, "targetVersion": TARGET,
            }}),
        ),
    );
    assert_eq!(confirmed.phase(), Some(&PostCheckPhase::Success));
    assert_eq!(confirmed.kind.as_deref(), Some("PostCheckTask"));
    let post_id = confirmed
        .metadata
        .as_ref()
        .and_then(|m| m.uid.clone())
        .expect("a post-check id");
    let spec = confirmed.spec.as_ref().expect("spec");
    assert_eq!(spec.cluster_id.as_deref(), Some(cluster.as_str()));
    assert_eq!(spec.target_version.as_deref(), Some(TARGET));

    // The workflow followed every step.
    let done = b
        .client
        .show_upgrade_work_flow(&cluster, &workflow_id)
        .await
        .unwrap();
    b.check(&done, 200, "GET", &workflow_uri, None);
    assert_eq!(done.phase(), Some(&WorkFlowPhase::Success));
    assert_eq!(
        points(&done),
        [
            (
                UpgradeTaskType::PreCheck,
                PointStatusPhase::Success,
                Some(second_id)
            ),
            (
                UpgradeTaskType::Snapshot,
                PointStatusPhase::Success,
                Some(backup_id)
            ),
            (
                UpgradeTaskType::Cluster,
                PointStatusPhase::Success,
                Some(task_id)
            ),
            (
                UpgradeTaskType::PostCheck,
                PointStatusPhase::Success,
                Some(post_id)
            ),
        ]
    );

    b.covers("cce_pre_check_backup_upgrade_and_post_check");
}

#[tokio::test]
async fn cce_upgrade_paused_continued_failed_and_retried() {
    // Only `advance` moves tasks here: reads do not.
    let mut b = Bench::with(EmulatorConfig::fast().advance_on_read(false)).await;
    let cluster = "pause+retry me";
    let wire = "pause%2Bretry%20me";
    b.emulator.add_cluster(cluster, DEMO_VERSION, false);
    b.emulator
        .set_scenario(cluster, Scenario::UpgradeFailsAt { progress: 60 });
    let upgrade = b.cce("v3", wire, "operation/upgrade");

    let started = b
        .client
        .upgrade_cluster(cluster, &UpgradeClusterRequestBody::new(TARGET))
        .await
        .unwrap();
    b.check(
        &started,
        200,
        "POST",
        &upgrade,
        Some(json!({
            "metadata": {"apiVersion": "v3", "kind": "UpgradeTask"},
            "spec": {"clusterUpgradeAction": {
                "isOnlyUpgrade": false,
                "strategy": {"type": "inPlaceRollingUpdate"},
                "targetVersion": TARGET,
            }},
        })),
    );
    let task_id = started
        .metadata
        .as_ref()
        .and_then(|m| m.uid.clone())
        .expect("an upgrade task id");
    let task_uri = format!("{upgrade}/tasks/{task_id}");

    // Its own pre-check (3 steps), Queuing, Running 0%, 20%.
    b.emulator.advance(6);
    let task = b
        .client
        .show_upgrade_cluster_task(cluster, &task_id)
        .await
        .unwrap();
    b.check(&task, 200, "GET", &task_uri, None);
    assert_eq!(phase_and_progress(&task), running("20.00"));
    assert!(
        task.spec
            .as_ref()
            .expect("spec")
            .items
            .contains_key("preCheckTaskID"),
        "without isOnlyUpgrade the upgrade ran its own pre-check"
    );

    let paused = b.client.pause_upgrade_cluster_task(cluster).await.unwrap();
    b.check(&paused, 200, "POST", &format!("{upgrade}/pause"), None);
    let () = paused.into_inner();
    b.emulator.advance(5);
    let task = b
        .client
        .show_upgrade_cluster_task(cluster, &task_id)
        .await
        .unwrap();
    b.check(&task, 200, "GET", &task_uri, None);
    assert_eq!(
        phase_and_progress(&task),
        (UpgradeTaskPhase::Pause, "20.00".to_owned()),
        "a paused upgrade does not move"
    );

    let continued = b
        .client
        .continue_upgrade_cluster_task(cluster)
        .await
        .unwrap();
    b.check(
        &continued,
        200,
        "POST",
        &format!("{upgrade}/continue"),
        None,
    );
    let () = continued.into_inner();
    b.emulator.advance(2);
    let task = b
        .client
        .show_upgrade_cluster_task(cluster, &task_id)
        .await
        .unwrap();
    b.check(&task, 200, "GET", &task_uri, None);
    assert_eq!(
        phase_and_progress(&task),
        (UpgradeTaskPhase::Failed, "60.00".to_owned())
    );
    assert!(
        task.spec
            .as_ref()
            .expect("spec")
            .items
            .get("message")
            .is_some(),
        "a failed task says why"
    );

    let retried = b.client.retry_upgrade_cluster_task(cluster).await.unwrap();
    b.check(&retried, 200, "POST", &format!("{upgrade}/retry"), None);
    let () = retried.into_inner();
    let task = b
        .client
        .show_upgrade_cluster_task(cluster, &task_id)
        .await
        .unwrap();
    b.check(&task, 200, "GET", &task_uri, None);
    assert_eq!(
        phase_and_progress(&task),
        running("60.00"),
        "resumed from where it failed"
    );
    b.emulator.advance(2);
    let task = b
        .client
        .show_upgrade_cluster_task(cluster, &task_id)
        .await
        .unwrap();
    b.check(&task, 200, "GET", &task_uri, None);
    assert_eq!(
        phase_and_progress(&task),
        (UpgradeTaskPhase::Success, "100.00".to_owned())
    );
    assert_eq!(b.emulator.cluster_version(cluster).as_deref(), Some(TARGET));
    assert_eq!(
        b.emulator.upgrades_started(cluster),
        1,
        "pause, continue and retry start no upgrade"
    );

    b.covers("cce_upgrade_paused_continued_failed_and_retried");
}

#[tokio::test]
async fn cce_addon_pre_checks_created_and_listed_by_filter() {
    let mut b = Bench::start().await;
    let cluster = b.emulator.cluster_id().to_owned();
    let addons = b.cce("v3", &cluster, "addons/precheck");

    let body = AddonCheckRequestBody::new(
        &cluster,
        [
            AddonCheckInfo::upgrade("coredns", "coredns-1", "1.30.4"),
            AddonCheckInfo::running("everest", "inst 1+x"),
        ],
    );
    let checked = b
        .client
        .batch_create_addon_precheck(&cluster, &body)
        .await
        .unwrap();
    b.check(
        &checked,
        200,
        "POST",
        &addons,
        Some(json!({"apiVersion": "v3", "kind": "AddonCheck", "spec": {
            "clusterID": cluster,
            "addonList": [
                {"addonTemplateName": "coredns", "addonInstanceID": "coredns-1",
                    "targetVersion": "1.30.4", "type": "addonUpgrade"},
                {"addonTemplateName": "everest", "addonInstanceID": "inst 1+x",
                    "type": "addonStatic"},
            ],
        }})),
    );
    assert_eq!(checked.kind.as_deref(), Some("AddonCheck"));
    let spec = checked.spec.as_ref().expect("spec");
    assert_eq!(spec.cluster_id, cluster);
    assert_eq!(spec.addon_list.len(), 2);
    assert_eq!(
        checked.status.as_ref().and_then(|s| s.phase.clone()),
        Some(CheckStatusPhase::Success)
    );

    let tasks = format!("{addons}/tasks");
    let all = b
        .client
        .list_addon_precheck_tasks(&cluster, &ListAddonPrecheckTasksQuery::default())
        .await
        .unwrap();
    b.check(&all, 200, "GET", &tasks, None);
    assert_eq!(all.kind.as_deref(), Some("List"));
    assert_eq!(
        all.page_info.as_ref().and_then(|p| p.current_count),
        Some(2)
    );
    let listed: Vec<_> = all
        .items
        .iter()
        .map(|t| {
            let m = t.metadata.as_ref().expect("metadata");
            (m.addon_instance_id.clone(), m.type_.clone())
        })
        .collect();
    assert_eq!(
        listed,
        [
            (
                Some("inst 1+x".to_owned()),
                Some(AddonCheckType::AddonStatic)
            ),
            (
                Some("coredns-1".to_owned()),
                Some(AddonCheckType::AddonUpgrade)
            ),
        ],
        "newest first"
    );

    let upgrades = b
        .client
        .list_addon_precheck_tasks(
            &cluster,
            &ListAddonPrecheckTasksQuery::default().type_("addonUpgrade"),
        )
        .await
        .unwrap();
    b.check(
        &upgrades,
        200,
        "GET",
        &format!("{tasks}?type=addonUpgrade"),
        None,
    );
    assert_eq!(upgrades.items.len(), 1);
    let task = &upgrades.items[0];
    let task_id = task
        .metadata
        .as_ref()
        .and_then(|m| m.task_id.clone())
        .expect("a task id");
    assert_eq!(
        task.spec
            .as_ref()
            .and_then(|s| s.addon_target_version.as_deref()),
        Some("1.30.4")
    );
    assert_eq!(
        task.status.as_ref().and_then(|s| s.status.clone()),
        Some(cce_upgrade::types::AddonCheckPhase::Success)
    );

    let one = b
        .client
        .list_addon_precheck_tasks(
            &cluster,
            &ListAddonPrecheckTasksQuery::default()
                .task_id(&task_id)
                .addon_instance_id("coredns-1"),
        )
        .await
        .unwrap();
    b.check(
        &one,
        200,
        "GET",
        // Sorted by name, as the signature's canonical query string has them.
        &format!("{tasks}?addon_instance_id=coredns-1&task_id={task_id}"),
        None,
    );
    assert_eq!(one.items.len(), 1);
    assert_eq!(
        one.items[0]
            .metadata
            .as_ref()
            .and_then(|m| m.task_id.as_deref()),
        Some(task_id.as_str())
    );

    // A value that must be encoded in the query.
    let odd = b
        .client
        .list_addon_precheck_tasks(
            &cluster,
            &ListAddonPrecheckTasksQuery::default().addon_instance_id("inst 1+x"),
        )
        .await
        .unwrap();
    b.check(
        &odd,
        200,
        "GET",
        &format!("{tasks}?addon_instance_id=inst%201%2Bx"),
        None,
    );
    assert_eq!(odd.items.len(), 1, "the server read the value sent");
    assert_eq!(
        odd.items[0]
            .metadata
            .as_ref()
            .and_then(|m| m.addon_template_name.as_deref()),
        Some("everest")
    );

    b.covers("cce_addon_pre_checks_created_and_listed_by_filter");
}

// ----------------------------------------------------------------------------- the Autopilot upgrade

#[tokio::test]
async fn autopilot_pre_check_backup_upgrade_retry_and_post_check() {
    let mut b = Bench::start().await;
    // The demo Autopilot cluster and its open workflow to DEMO_AUTOPILOT_TARGET.
    let cluster = b.emulator.autopilot_cluster_id().to_owned();
    b.emulator
        .set_scenario(&cluster, Scenario::UpgradeFailsAt { progress: 40 });
    let workflow_id = b.emulator.workflows(&cluster)[0]["metadata"]["uid"]
        .as_str()
        .expect("the demo workflow")
        .to_owned();
    let workflow_uri = b.autopilot(
        "v3",
        &cluster,
        &format!("operation/upgradeworkflows/{workflow_id}"),
    );

    let precheck = b.autopilot("v3", &cluster, "operation/precheck");
    let created = b
        .client
        .create_autopilot_pre_check(
            &cluster,
            &PreCheckClusterRequestBody::new(DEMO_AUTOPILOT_TARGET)
                .skip_check_item("NodeKernelCheck"),
        )
        .await
        .unwrap();
    b.check(
        &created,
        200,
        "POST",
        &precheck,
        Some(json!({"apiVersion": "v3", "kind": "PreCheckTask", "spec": {
            "targetVersion": DEMO_AUTOPILOT_TARGET,
            "skippedCheckItemList": [{"name": "NodeKernelCheck"}],
        }})),
    );
    let check_id = created
        .metadata
        .as_ref()
        .and_then(|m| m.uid.clone())
        .expect("a pre-check id");
    let phase_of =
        |t: &cce_upgrade::types::PreCheckTask| t.status.as_ref().and_then(|s| s.phase.clone());
    assert_eq!(phase_of(&created), Some(PreCheckPhase::Init));
    assert_eq!(
        created
            .spec
            .as_ref()
            .and_then(|s| s.cluster_version.as_deref()),
        Some(DEMO_VERSION)
    );

    let check_uri = format!("{precheck}/tasks/{check_id}");
    let shown = b
        .client
        .show_autopilot_pre_check(&cluster, &check_id)
        .await
        .unwrap();
    b.check(&shown, 200, "GET", &check_uri, None);
    assert_eq!(phase_of(&shown), Some(PreCheckPhase::Init));
    b.emulator.advance(2);
    let shown = b
        .client
        .show_autopilot_pre_check(&cluster, &check_id)
        .await
        .unwrap();
    b.check(&shown, 200, "GET", &check_uri, None);
    assert_eq!(phase_of(&shown), Some(PreCheckPhase::Success));
    let listed = b
        .client
        .list_autopilot_pre_check_tasks(&cluster)
        .await
        .unwrap();
    b.check(&listed, 200, "GET", &format!("{precheck}/tasks"), None);
    assert_eq!(listed.items.len(), 1);
    assert_eq!(
        listed.items[0]
            .metadata
            .as_ref()
            .and_then(|m| m.uid.as_deref()),
        Some(check_id.as_str())
    );
    assert_eq!(phase_of(&listed.items[0]), Some(PreCheckPhase::Success));

    let snapshot = b.autopilot("v3.1", &cluster, "operation/snapshot");
    let backup = b
        .client
        .create_autopilot_cluster_master_snapshot(&cluster)
        .await
        .unwrap();
    b.check(&backup, 200, "POST", &snapshot, None);
    let backup_id = backup.uid.clone().expect("a snapshot task id");
    b.emulator.advance(3);
    let tasks = b
        .client
        .list_autopilot_cluster_master_snapshot_tasks(&cluster)
        .await
        .unwrap();
    b.check(&tasks, 200, "GET", &format!("{snapshot}/tasks"), None);
    assert_eq!(tasks.items.len(), 1);
    let task = tasks.task(&backup_id).expect("the backup task");
    assert_eq!(task.phase(), Some("Success"));
    assert!(
        tasks
            .status
            .as_ref()
            .and_then(|s| s.latest_backup_time.as_ref())
            .is_some()
    );

    let upgrade = b.autopilot("v3", &cluster, "operation/upgrade");
    let body = UpgradeClusterRequestBody::new(DEMO_AUTOPILOT_TARGET)
        .is_only_upgrade(true)
        .addons([UpgradeAddonConfig::patch("coredns", "1.30.4")]);
    let started = b
        .client
        .upgrade_autopilot_cluster(&cluster, &body)
        .await
        .unwrap();
    b.check(
        &started,
        200,
        "POST",
        &upgrade,
        Some(json!({
            "metadata": {"apiVersion": "v3", "kind": "UpgradeTask"},
            "spec": {"clusterUpgradeAction": {
                "addons": [{"addonTemplateName": "coredns", "operation": "patch", "version": "1.30.4"}],
                "isOnlyUpgrade": true,
                "strategy": {"type": "inPlaceRollingUpdate"},
                "targetVersion": DEMO_AUTOPILOT_TARGET,
            }},
        })),
    );
    let task_id = started
        .metadata
        .as_ref()
        .and_then(|m| m.uid.clone())
        .expect("an upgrade task id");
    let action = started
        .spec
        .as_ref()
        .and_then(|s| s.cluster_upgrade_action.as_ref())
        .expect("clusterUpgradeAction");
    assert_eq!(action.version.as_deref(), Some(DEMO_VERSION));
    assert_eq!(
        action.target_version.as_deref(),
        Some(DEMO_AUTOPILOT_TARGET)
    );
    assert_eq!(action.target_platform_version.as_deref(), Some("cce.6.0.0"));

    // Queuing, Running 0%, 20%; the read answers 20% and moves it to its failure at 40%.
    let task_uri = format!("{upgrade}/tasks/{task_id}");
    b.emulator.advance(3);
    let task = b
        .client
        .show_autopilot_upgrade_cluster_task(&cluster, &task_id)
        .await
        .unwrap();
    b.check(&task, 200, "GET", &task_uri, None);
    assert_eq!(phase_and_progress(&task), running("20.00"));
    let tasks = b
        .client
        .list_autopilot_upgrade_cluster_tasks(&cluster)
        .await
        .unwrap();
    b.check(&tasks, 200, "GET", &format!("{upgrade}/tasks"), None);
    assert_eq!(tasks.items.len(), 1);
    assert_eq!(
        tasks.items[0]
            .metadata
            .as_ref()
            .and_then(|m| m.uid.as_deref()),
        Some(task_id.as_str())
    );
    assert_eq!(
        phase_and_progress(&tasks.items[0]),
        (UpgradeTaskPhase::Failed, "40.00".to_owned())
    );

    let pending = b
        .client
        .show_autopilot_upgrade_work_flow(&cluster, &workflow_id)
        .await
        .unwrap();
    b.check(&pending, 200, "GET", &workflow_uri, None);
    assert_eq!(pending.phase(), Some(&WorkFlowPhase::Pending));
    assert_eq!(
        points(&pending)[2],
        (
            UpgradeTaskType::Cluster,
            PointStatusPhase::Failed,
            Some(task_id.clone())
        )
    );

    let retried = b
        .client
        .retry_autopilot_upgrade_cluster_task(&cluster)
        .await
        .unwrap();
    b.check(&retried, 200, "POST", &format!("{upgrade}/retry"), None);
    let () = retried.into_inner();
    b.emulator.advance(3);
    let task = b
        .client
        .show_autopilot_upgrade_cluster_task(&cluster, &task_id)
        .await
        .unwrap();
    b.check(&task, 200, "GET", &task_uri, None);
    assert_eq!(
        phase_and_progress(&task),
        (UpgradeTaskPhase::Success, "100.00".to_owned())
    );
    assert_eq!(
        b.emulator.cluster_version(&cluster).as_deref(),
        Some(DEMO_AUTOPILOT_TARGET)
    );
    assert_eq!(b.emulator.upgrades_started(&cluster), 1);

    let confirmed = b
        .client
        .create_autopilot_post_check(
            &cluster,
            &PostCheckClusterRequestBody::for_versions(DEMO_VERSION, DEMO_AUTOPILOT_TARGET),
        )
        .await
        .unwrap();
    b.check(
        &confirmed,
        200,
        "POST",
        &b.autopilot("v3", &cluster, "operation/postcheck"),
        Some(
            json!({"apiVersion": "v3", "kind": "PostCheckTask", "spec": {
                "clusterVersion": DEMO_VERSION, "targetVersion": DEMO_AUTOPILOT_TARGET,
            }}),
        ),
    );
    assert_eq!(confirmed.phase(), Some(&PostCheckPhase::Success));
    assert_eq!(
        confirmed
            .spec
            .as_ref()
            .and_then(|s| s.cluster_id.as_deref()),
        Some(cluster.as_str())
    );

    let done = b
        .client
        .show_autopilot_upgrade_work_flow(&cluster, &workflow_id)
        .await
        .unwrap();
    b.check(&done, 200, "GET", &workflow_uri, None);
    assert_eq!(done.phase(), Some(&WorkFlowPhase::Success));
    let phases: Vec<_> = points(&done)
        .into_iter()
        .map(|(_, phase, _)| phase)
        .collect();
    assert_eq!(phases, vec![PointStatusPhase::Success; 4]);

    b.covers("autopilot_pre_check_backup_upgrade_retry_and_post_check");
}

// ----------------------------------------------------------------------------- node pools and jobs

#[tokio::test]
async fn cce_node_pool_sync_job_and_node_syncs() {
    let mut b = Bench::start().await;
    let cluster = "cce 2+2";
    let wire = "cce%202%2B2";
    b.emulator.add_cluster(cluster, DEMO_VERSION, false);
    b.emulator.add_nodepool(cluster, "pool 1");

    let body = UpgradeNodePool::new("pool 1", 2)
        .node_ids(["node-1", "node-2"])
        .force(true)
        .retry_times(3);
    let synced = b
        .client
        .upgrade_node_pool(cluster, "pool 1", &body)
        .await
        .unwrap();
    b.check(
        &synced,
        200,
        "POST",
        &b.cce("v3", wire, "nodepools/pool%201/operation/upgrade"),
        Some(json!({"spec": {
            "force": true,
            "maxUnavailable": 2,
            "nodeIDs": ["node-1", "node-2"],
            "nodePoolID": "pool 1",
            "retryTimes": 3,
        }})),
    );
    let job = synced.job_id().expect("a job id").to_owned();
    assert_eq!(job.len(), 36, "{job}");

    // The job, shown: each read answers, then moves it a step.
    let job_uri = format!("/api/v3/projects/{}/jobs/{job}", b.project());
    let mut phases = Vec::new();
    for _ in 0..3 {
        let shown = b.client.show_job(&job).await.unwrap();
        b.check(&shown, 200, "GET", &job_uri, None);
        assert_eq!(shown.kind.as_deref(), Some("Job"));
        assert_eq!(
            shown.metadata.as_ref().and_then(|m| m.uid.as_deref()),
            Some(job.as_str())
        );
        let spec = shown.spec.as_ref().expect("spec");
        assert_eq!(spec.type_.as_deref(), Some("UpgradeNodePool"));
        assert_eq!(spec.cluster_uid.as_deref(), Some(cluster));
        assert_eq!(spec.resource_id.as_deref(), Some("pool 1"));
        phases.push(shown.phase().cloned());
    }
    assert_eq!(
        phases,
        [
            Some(JobPhase::Initializing),
            Some(JobPhase::Running),
            Some(JobPhase::Success)
        ]
    );

    let node = b.client.sync_node(cluster, "node 1+α").await.unwrap();
    b.check(
        &node,
        200,
        "GET",
        &format!(
            "/api/v2/projects/{}/clusters/{wire}/nodes/node%201%2B%CE%B1/sync",
            b.project()
        ),
        None,
    );
    assert_eq!(node.as_str(), "Sync node success");

    let batch = b.client.batch_sync_nodes(cluster).await.unwrap();
    b.check(&batch, 200, "POST", &b.cce("v3", wire, "nodes/sync"), None);
    assert_eq!(batch.into_inner(), "Start to batch sync nodes");

    b.covers("cce_node_pool_sync_job_and_node_syncs");
}

#[tokio::test]
async fn autopilot_jobs_listed_shown_and_deleted() {
    let mut b = Bench::start().await;
    let cluster = b.emulator.autopilot_cluster_id().to_owned();
    // An upgrade is the job an Autopilot cluster has.
    let started = b
        .client
        .upgrade_autopilot_cluster(
            &cluster,
            &UpgradeClusterRequestBody::new(DEMO_AUTOPILOT_TARGET),
        )
        .await
        .unwrap();
    b.sent(
        "POST",
        &b.autopilot("v3", &cluster, "operation/upgrade"),
        Some(json!({
            "metadata": {"apiVersion": "v3", "kind": "UpgradeTask"},
            "spec": {"clusterUpgradeAction": {
                "isOnlyUpgrade": false,
                "strategy": {"type": "inPlaceRollingUpdate"},
                "targetVersion": DEMO_AUTOPILOT_TARGET,
            }},
        })),
    );
    b.answered(&started, 200);
    let task_id = started
        .metadata
        .as_ref()
        .and_then(|m| m.uid.clone())
        .expect("an upgrade task id");

    let jobs_uri = format!("/autopilot/v2/projects/{}/jobs", b.project());
    let jobs = b.client.list_autopilot_jobs().await.unwrap();
    b.check(&jobs, 200, "GET", &jobs_uri, None);
    assert_eq!(jobs.len(), 1);
    let job = jobs[0]
        .metadata
        .as_ref()
        .and_then(|m| m.uid.clone())
        .expect("a job id");
    let spec = jobs[0].spec.as_ref().expect("spec");
    assert_eq!(spec.type_.as_deref(), Some("UpgradeCluster"));
    assert_eq!(spec.clusteruid.as_deref(), Some(cluster.as_str()));
    assert_eq!(spec.resourceid.as_deref(), Some(task_id.as_str()));
    assert_eq!(jobs[0].phase(), Some(&JobPhase::Initializing));

    let one = b.client.get_autopilot_one_job(&job).await.unwrap();
    b.check(&one, 200, "GET", &format!("{jobs_uri}/{job}"), None);
    assert_eq!(
        one.metadata.as_ref().and_then(|m| m.uid.as_deref()),
        Some(job.as_str())
    );
    assert_eq!(one.kind.as_deref(), Some("Job"));
    assert_eq!(one.phase(), Some(&JobPhase::Initializing));

    // The job follows its upgrade.
    b.emulator.advance(20);
    assert_eq!(
        b.emulator.cluster_version(&cluster).as_deref(),
        Some(DEMO_AUTOPILOT_TARGET)
    );
    let shown = b.client.show_autopilot_job(&job).await.unwrap();
    b.check(
        &shown,
        200,
        "GET",
        &format!("/autopilot/v3/projects/{}/jobs/{job}", b.project()),
        None,
    );
    assert_eq!(
        shown.metadata.as_ref().and_then(|m| m.uid.as_deref()),
        Some(job.as_str())
    );
    let spec = shown.spec.as_ref().expect("spec");
    assert_eq!(spec.type_.as_deref(), Some("UpgradeCluster"));
    assert_eq!(spec.cluster_uid.as_deref(), Some(cluster.as_str()));
    assert_eq!(spec.resource_id.as_deref(), Some(task_id.as_str()));
    assert_eq!(shown.phase(), Some(&JobPhase::Success));
    let done = b.client.get_autopilot_one_job(&job).await.unwrap();
    b.check(&done, 200, "GET", &format!("{jobs_uri}/{job}"), None);
    let status = done.status.as_ref().expect("status");
    assert_eq!(status.status, Some(JobPhase::Success));
    assert!(
        status.completion_time.is_some(),
        "a finished job has its completionTime: {status:?}"
    );

    let deleted = b.client.delete_autopilot_job(&job).await.unwrap();
    b.check(&deleted, 200, "DELETE", &format!("{jobs_uri}/{job}"), None);
    let () = deleted.into_inner();

    let gone = b
        .client
        .get_autopilot_one_job(&job)
        .await
        .expect_err("a deleted job is gone");
    b.sent("GET", &format!("{jobs_uri}/{job}"), None);
    assert_eq!(gone.status().map(|s| s.as_u16()), Some(404));
    assert_eq!(
        gone.service_error().and_then(|e| e.error_code()),
        Some("CCE.01404001")
    );
    let jobs = b.client.list_autopilot_jobs().await.unwrap();
    b.check(&jobs, 200, "GET", &jobs_uri, None);
    assert!(jobs.is_empty(), "{jobs:?}");

    b.covers("autopilot_jobs_listed_shown_and_deleted");
}

// ----------------------------------------------------------------------------- Autopilot plans

#[tokio::test]
async fn autopilot_plan_listed_and_postponed() {
    let mut b = Bench::start().await;
    let cluster = b.emulator.autopilot_cluster_id().to_owned();
    let plans = b.autopilot("v3", &cluster, "upgradeplans");

    let listed = b
        .client
        .list_autopilot_upgrade_plans(&cluster)
        .await
        .unwrap();
    b.check(&listed, 200, "GET", &plans, None);
    assert_eq!(listed.kind.as_deref(), Some("List"));
    assert_eq!(listed.plans().len(), 1);
    let plan = &listed.plans()[0];
    let uid = plan.uid().expect("a plan id").to_owned();
    assert_eq!(plan.kind.as_deref(), Some("UpgradePlan"));
    let spec = plan.spec.as_ref().expect("spec");
    assert_eq!(spec.cluster_id.as_deref(), Some(cluster.as_str()));
    assert_eq!(spec.cluster_version.as_deref(), Some(DEMO_VERSION));
    assert_eq!(spec.target_version.as_deref(), Some("v1.28.15-r1.sp1"));
    assert_eq!(
        spec.not_before.as_deref(),
        Some("2024-03-19 08:15:00 +0000 UTC"),
        "a week ahead"
    );
    assert_eq!(
        spec.not_before_deadline.as_deref(),
        Some("2024-03-26 08:15:00 +0000 UTC")
    );
    assert_eq!(
        plan.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Pending")
    );

    let later = "2024-03-24 02:00:00 +0000 UTC";
    let postponed = b
        .client
        .update_autopilot_upgrade_plan(&cluster, &uid, &DelayUpgradePlanRequestBody::new(later))
        .await
        .unwrap();
    b.check(
        &postponed,
        200,
        "PUT",
        &format!("{plans}/{uid}"),
        Some(json!({"notBefore": later})),
    );
    assert_eq!(
        postponed.metadata.as_ref().and_then(|m| m.uid.as_deref()),
        Some(uid.as_str())
    );
    let spec = postponed.spec.as_ref().expect("spec");
    assert_eq!(spec.not_before.as_deref(), Some(later));
    assert_eq!(
        spec.not_before_deadline.as_deref(),
        Some("2024-03-26 08:15:00 +0000 UTC")
    );

    let listed = b
        .client
        .list_autopilot_upgrade_plans(&cluster)
        .await
        .unwrap();
    b.check(&listed, 200, "GET", &plans, None);
    assert_eq!(listed.plans()[0].uid(), Some(uid.as_str()));
    assert_eq!(
        listed.plans()[0]
            .spec
            .as_ref()
            .and_then(|s| s.not_before.as_deref()),
        Some(later),
        "the plan keeps the new time"
    );

    b.covers("autopilot_plan_listed_and_postponed");
}

// ----------------------------------------------------------------------------- find the cluster

#[tokio::test]
async fn clusters_listed_filtered_and_shown() {
    let mut b = Bench::start().await;
    let cce = b.emulator.cluster_id().to_owned();
    let autopilot = b.emulator.autopilot_cluster_id().to_owned();
    b.emulator.add_cluster_with(
        NewCluster::cce("c-29", "v1.29.10-r0")
            .name("prod")
            .tag("env", "prod"),
    );
    let clusters = format!("/api/v3/projects/{}/clusters", b.project());
    let autopilot_clusters = format!("/autopilot/v3/projects/{}/clusters", b.project());

    // Every CCE cluster, in the order they were added, and no Autopilot one.
    let all = b
        .client
        .list_clusters(&ListClustersQuery::default())
        .await
        .unwrap();
    b.check(&all, 200, "GET", &clusters, None);
    let found: Vec<(Option<&str>, Option<&str>)> = all
        .items
        .iter()
        .map(|c| {
            let m = c.metadata.as_ref().expect("metadata");
            (m.name.as_deref(), m.uid.as_deref())
        })
        .collect();
    assert_eq!(
        found,
        [
            (Some(DEMO_CLUSTER_NAME), Some(cce.as_str())),
            (Some("prod"), Some("c-29"))
        ]
    );
    let spec = all.items[1].spec.as_ref().expect("spec");
    assert_eq!(spec.version.as_deref(), Some("v1.29"), "the minor version");
    assert_eq!(spec.platform_version.as_deref(), Some("cce.6.0.0"));
    assert_eq!(spec.type_, Some(ClusterType::VirtualMachine));
    let tags: Vec<_> = spec
        .cluster_tags
        .iter()
        .map(|t| (t.key.as_deref(), t.value.as_deref()))
        .collect();
    assert_eq!(tags, [(Some("env"), Some("prod"))]);

    // Filtered by version, and by phase.
    let query = ListClustersQuery::default().version("v1.28");
    let v128 = b.client.list_clusters(&query).await.unwrap();
    b.check(
        &v128,
        200,
        "GET",
        &format!("{clusters}?version=v1.28"),
        None,
    );
    assert_eq!(v128.items.len(), 1);
    assert_eq!(
        v128.items[0]
            .metadata
            .as_ref()
            .and_then(|m| m.uid.as_deref()),
        Some(cce.as_str())
    );
    b.emulator
        .set_cluster_phase("c-29", ClusterPhase::Hibernation);
    let query = ListClustersQuery::default()
        .status(ClusterPhase::Hibernation.as_str())
        .type_("VirtualMachine");
    let asleep = b.client.list_clusters(&query).await.unwrap();
    b.check(
        &asleep,
        200,
        "GET",
        &format!("{clusters}?status=Hibernation&type=VirtualMachine"),
        None,
    );
    assert_eq!(asleep.items.len(), 1);
    assert_eq!(
        asleep.items[0]
            .status
            .as_ref()
            .and_then(|s| s.phase.clone()),
        Some(ClusterPhase::Hibernation)
    );

    // One cluster, with its details.
    let query = ShowClusterQuery::default().detail("true");
    let shown = b.client.show_cluster(&cce, &query).await.unwrap();
    b.check(
        &shown,
        200,
        "GET",
        &format!("{clusters}/{cce}?detail=true"),
        None,
    );
    let metadata = shown.metadata.as_ref().expect("metadata");
    assert_eq!(metadata.uid.as_deref(), Some(cce.as_str()));
    assert_eq!(metadata.creation_timestamp.as_deref(), Some(START));
    assert!(metadata.annotations.contains_key("totalNodesNumber"));
    assert_eq!(
        shown.spec.as_ref().and_then(|s| s.version.as_deref()),
        Some("v1.28")
    );
    assert_eq!(
        shown.status.as_ref().and_then(|s| s.phase.clone()),
        Some(ClusterPhase::Available)
    );

    // The Autopilot twins.
    let listed = b
        .client
        .list_autopilot_clusters(&ListAutopilotClustersQuery::default())
        .await
        .unwrap();
    b.check(&listed, 200, "GET", &autopilot_clusters, None);
    let names: Vec<_> = listed
        .items
        .iter()
        .map(|c| c.metadata.as_ref().and_then(|m| m.name.as_deref()))
        .collect();
    assert_eq!(names, [Some(DEMO_AUTOPILOT_CLUSTER_NAME)]);
    let shown = b
        .client
        .show_autopilot_cluster(&autopilot, &ShowAutopilotClusterQuery::default())
        .await
        .unwrap();
    b.check(
        &shown,
        200,
        "GET",
        &format!("{autopilot_clusters}/{autopilot}"),
        None,
    );
    let spec = shown.spec.as_ref().expect("spec");
    assert_eq!(spec.flavor.as_deref(), Some("cce.autopilot.cluster"));
    assert_eq!(spec.version.as_deref(), Some("v1.28"));
    assert_eq!(
        shown.status.as_ref().and_then(|s| s.phase.clone()),
        Some(ClusterPhase::Available)
    );

    b.covers("clusters_listed_filtered_and_shown");
}

#[tokio::test]
async fn iam_projects_listed_by_name() {
    let mut b = Bench::start().await;
    let region = b.emulator.region().to_owned();
    let query = ListProjects::default().name(region.as_str());
    let listed = b.client.keystone_list_projects(&query).await.unwrap();
    b.check(
        &listed,
        200,
        "GET",
        &format!("/v3/projects?name={region}"),
        None,
    );
    assert_eq!(listed.projects.len(), 1);
    let project = &listed.projects[0];
    assert_eq!(project.id.as_deref(), Some(b.project()));
    assert_eq!(project.name.as_deref(), Some(region.as_str()));

    let none = b
        .client
        .keystone_list_projects(&ListProjects::default().name("xx-nowhere-1"))
        .await
        .unwrap();
    b.check(&none, 200, "GET", "/v3/projects?name=xx-nowhere-1", None);
    assert!(none.projects.is_empty());
    b.covers("iam_projects_listed_by_name");
}
