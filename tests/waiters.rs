//! Waiting for an upgrade task or workflow to end, against the emulator's state machine.

use std::future::IntoFuture;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cce_upgrade::emulator::{Emulator, EmulatorConfig, Fault};
use cce_upgrade::types::{
    CreateUpgradeWorkFlowRequestBody, UpgradeClusterRequestBody, UpgradeTask, UpgradeTaskPhase,
    UpgradeWorkFlow, WorkFlowPhase,
};
use cce_upgrade::{Client, ErrorKind, RetryConfig};

mod common;
use common::{DEMO_VERSION, TARGET, client_with_retry, quick_retry, start_with};

const FAST_POLL: (Duration, Duration) = (Duration::from_millis(1), Duration::from_millis(5));

async fn start(config: EmulatorConfig) -> Emulator {
    start_with(config).await
}

fn client(emulator: &Emulator) -> Client {
    client_with_retry(emulator, quick_retry())
}

/// Creates a workflow on the demo CCE cluster and starts its upgrade (the service runs nothing
/// by itself); returns the upgrade (Cluster) task id.
async fn create(client: &Client, emulator: &Emulator) -> String {
    client
        .create_upgrade_work_flow(
            emulator.cluster_id(),
            &CreateUpgradeWorkFlowRequestBody::new(TARGET),
        )
        .await
        .expect("created");
    let started = client
        .upgrade_cluster(
            emulator.cluster_id(),
            &UpgradeClusterRequestBody::new(TARGET),
        )
        .await
        .expect("upgrade started");
    started
        .metadata
        .as_ref()
        .and_then(|m| m.uid.clone())
        .expect("an upgrade task")
}

fn task_polls(emulator: &Emulator, task: &str) -> usize {
    emulator
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.uri.ends_with(&format!("/tasks/{task}")))
        .count()
}

#[tokio::test]
async fn a_task_waiter_reaches_success_and_the_cluster_is_upgraded() {
    let emulator = start(EmulatorConfig::fast()).await;
    let client = client(&emulator);
    let task_id = create(&client, &emulator).await;
    let started = Instant::now();

    let task = client
        .wait_for_upgrade_task(emulator.cluster_id(), &task_id)
        .poll_interval(FAST_POLL.0, FAST_POLL.1)
        .await
        .expect("succeeds");

    assert_eq!(task.phase(), Some(&UpgradeTaskPhase::Success));
    assert_eq!(task.progress_percent(), Some(100.0));
    assert_eq!(
        task.metadata.as_ref().and_then(|m| m.uid.as_deref()),
        Some(task_id.as_str())
    );
    assert_eq!(
        emulator.cluster_version(emulator.cluster_id()).as_deref(),
        Some(TARGET)
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(task_polls(&emulator, &task_id) >= 1);
    assert!(emulator.requests().iter().all(|r| r.authenticated));
}

#[tokio::test]
async fn progress_is_reported_once_per_change_through_every_phase() {
    // A pace slow enough for 1–5 ms polls to see the one-step Queuing phase.
    let emulator = start(EmulatorConfig::default().pace(Duration::from_millis(50))).await;
    let client = client(&emulator);
    let task_id = create(&client, &emulator).await;
    let seen: Arc<Mutex<Vec<UpgradeTask>>> = Arc::default();
    let sink = seen.clone();

    let task = client
        .wait_for_upgrade_task(emulator.cluster_id(), &task_id)
        .poll_interval(FAST_POLL.0, FAST_POLL.1)
        .on_progress(move |t| sink.lock().unwrap().push(t.clone()))
        .await
        .expect("succeeds");

    let seen = seen.lock().unwrap();
    assert_eq!(seen.last(), Some(&task), "the final state was reported");
    for pair in seen.windows(2) {
        assert_ne!(pair[0], pair[1], "an unchanged state was reported twice");
    }
    let phases: Vec<UpgradeTaskPhase> = seen
        .iter()
        .map(|t| t.phase().cloned().expect("a phase"))
        .collect();
    let mut distinct = phases.clone();
    distinct.dedup();
    assert_eq!(
        distinct,
        [
            UpgradeTaskPhase::Init,
            UpgradeTaskPhase::Queuing,
            UpgradeTaskPhase::Running,
            UpgradeTaskPhase::Success
        ],
        "{phases:?}"
    );
    for once in [
        UpgradeTaskPhase::Init,
        UpgradeTaskPhase::Queuing,
        UpgradeTaskPhase::Success,
    ] {
        assert_eq!(
            phases.iter().filter(|p| **p == once).count(),
            1,
            "{once:?} reported once: {phases:?}"
        );
    }
    let progress: Vec<f64> = seen
        .iter()
        .map(|t| t.progress_percent().expect("progress"))
        .collect();
    assert_eq!(progress.first(), Some(&0.0));
    assert_eq!(progress.last(), Some(&100.0));
    assert!(
        progress.windows(2).all(|p| p[0] <= p[1]),
        "progress went back: {progress:?}"
    );
    assert!(
        task_polls(&emulator, &task_id) > seen.len(),
        "polls that saw no change were not reported"
    );
}

#[tokio::test]
async fn a_failed_task_is_upgrade_failed_with_its_last_state() {
    let emulator = start(EmulatorConfig::fast().fail_cluster_task(true)).await;
    let client = client(&emulator);
    let task_id = create(&client, &emulator).await;
    let e = client
        .wait_for_upgrade_task(emulator.cluster_id(), &task_id)
        .poll_interval(FAST_POLL.0, FAST_POLL.1)
        .await
        .expect_err("the task fails");
    assert_eq!(e.kind(), ErrorKind::UpgradeFailed);
    let last = e.last_task().expect("the last state is kept");
    assert_eq!(last.phase(), Some(&UpgradeTaskPhase::Failed));
    assert_eq!(last.progress_percent(), Some(50.0));
    assert!(e.last_workflow().is_none());
    assert!(
        e.to_string().contains(&task_id) && e.to_string().contains("50.00"),
        "{e}"
    );
    assert!(!e.is_transient());
    assert_eq!(
        emulator.cluster_version(emulator.cluster_id()).as_deref(),
        Some(DEMO_VERSION)
    );
}

#[tokio::test]
async fn a_short_timeout_is_wait_timed_out_with_the_last_state() {
    // Reads do not move tasks and nothing else does: the task stays in Init.
    let emulator = start(EmulatorConfig::fast().advance_on_read(false)).await;
    let client = client(&emulator);
    let task_id = create(&client, &emulator).await;
    let started = Instant::now();
    let e = client
        .wait_for_upgrade_task(emulator.cluster_id(), &task_id)
        .poll_interval(Duration::from_millis(5), Duration::from_millis(20))
        .timeout(Duration::from_millis(100))
        .await
        .expect_err("times out");
    let elapsed = started.elapsed();
    assert_eq!(e.kind(), ErrorKind::WaitTimedOut);
    assert_eq!(
        e.last_task().and_then(UpgradeTask::phase),
        Some(&UpgradeTaskPhase::Init)
    );
    assert!(e.to_string().contains("may still be running"), "{e}");
    assert!(
        elapsed >= Duration::from_millis(100) && elapsed < Duration::from_millis(800),
        "{elapsed:?}"
    );
    assert!(
        task_polls(&emulator, &task_id) >= 2,
        "it polled more than once"
    );
}

#[tokio::test]
async fn transient_errors_while_polling_do_not_end_the_wait() {
    let emulator = start(EmulatorConfig::fast()).await;
    // No retries in the client: the waiter itself must ride out the 503s and the 429.
    let client = emulator
        .client_builder()
        .retry(RetryConfig::disabled())
        .build()
        .unwrap();
    let task_id = create(&client, &emulator).await;
    emulator.inject(
        Fault::Status {
            status: 503,
            retry_after: None,
        },
        3,
    );
    emulator.inject(Fault::HtmlBadGateway, 1);
    emulator.inject(
        Fault::Status {
            status: 429,
            retry_after: None,
        },
        1,
    );
    let task = client
        .wait_for_upgrade_task(emulator.cluster_id(), &task_id)
        .poll_interval(FAST_POLL.0, FAST_POLL.1)
        .await
        .expect("the wait goes on after transient errors");
    assert_eq!(task.phase(), Some(&UpgradeTaskPhase::Success));
    assert!(
        task_polls(&emulator, &task_id) >= 6,
        "five failed polls, then at least one answer"
    );
}

#[tokio::test]
async fn a_non_transient_error_ends_the_wait_at_once() {
    let emulator = start(EmulatorConfig::fast()).await;
    let client = client(&emulator);
    let started = Instant::now();
    let e = client
        .wait_for_upgrade_task(emulator.cluster_id(), "no-such-task")
        .poll_interval(FAST_POLL.0, FAST_POLL.1)
        .await
        .expect_err("404");
    assert_eq!(e.kind(), ErrorKind::Service);
    assert_eq!(e.status(), Some(reqwest::StatusCode::NOT_FOUND));
    assert!(e.last_task().is_none());
    assert_eq!(emulator.requests().len(), 1);
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
async fn a_workflow_waiter_reaches_success_on_the_autopilot_cluster() {
    let emulator = start(EmulatorConfig::fast()).await;
    let client = client(&emulator);
    let cluster = emulator.autopilot_cluster_id();
    let list = client
        .list_autopilot_upgrade_work_flows(cluster)
        .await
        .unwrap();
    let uid = list.workflows()[0]
        .uid()
        .expect("the demo workflow")
        .to_owned();
    let seen: Arc<Mutex<Vec<UpgradeWorkFlow>>> = Arc::default();
    let sink = seen.clone();

    let workflow = client
        .wait_for_workflow(cluster, &uid)
        .poll_interval(FAST_POLL.0, FAST_POLL.1)
        .on_progress(move |w| sink.lock().unwrap().push(w.clone()))
        .await
        .expect("succeeds");

    assert_eq!(workflow.uid(), Some(uid.as_str()));
    assert_eq!(workflow.phase(), Some(&WorkFlowPhase::Success));
    assert_eq!(
        workflow
            .spec
            .as_ref()
            .and_then(|s| s.target_version.as_deref()),
        Some(TARGET)
    );
    assert_eq!(emulator.cluster_version(cluster).as_deref(), Some(TARGET));
    let seen = seen.lock().unwrap();
    assert_eq!(seen.last(), Some(&workflow));
    assert!(seen.windows(2).all(|p| p[0] != p[1]));
    let polls = emulator
        .requests()
        .iter()
        .filter(|r| r.uri.ends_with("/operation/upgradeworkflows"))
        .count();
    assert!(polls >= 2, "the list was polled (and listed once before)");
}

#[tokio::test]
async fn a_failed_workflow_is_upgrade_failed_while_pending() {
    let emulator = start(EmulatorConfig::fast().fail_cluster_task(true)).await;
    let client = client(&emulator);
    let cluster = emulator.autopilot_cluster_id();
    let list = client
        .list_autopilot_upgrade_work_flows(cluster)
        .await
        .unwrap();
    let uid = list.workflows()[0].uid().unwrap().to_owned();
    let e = client
        .wait_for_workflow(cluster, &uid)
        .poll_interval(FAST_POLL.0, FAST_POLL.1)
        .await
        .expect_err("fails");
    assert_eq!(e.kind(), ErrorKind::UpgradeFailed);
    let last = e.last_workflow().expect("the last state is kept");
    assert_eq!(last.phase(), Some(&WorkFlowPhase::Pending));
    assert_eq!(last.uid(), Some(uid.as_str()));
    assert!(e.last_task().is_none());
    assert!(
        e.to_string().contains(&uid) && e.to_string().contains("Pending"),
        "{e}"
    );
    assert_eq!(
        emulator.cluster_version(cluster).as_deref(),
        Some(DEMO_VERSION)
    );
}

#[tokio::test]
async fn an_unknown_workflow_id_ends_the_wait() {
    let emulator = start(EmulatorConfig::fast()).await;
    let client = client(&emulator);
    let e = client
        .wait_for_workflow(emulator.autopilot_cluster_id(), "no-such-workflow")
        .poll_interval(FAST_POLL.0, FAST_POLL.1)
        .timeout(Duration::from_secs(5))
        .await
        .expect_err("not there");
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert_eq!(e.operation(), Some("ListAutopilotUpgradeWorkFlows"));
    assert!(e.to_string().contains("no-such-workflow"), "{e}");
    assert_eq!(emulator.requests().len(), 1);
}

#[tokio::test]
async fn waiters_are_into_future_and_can_be_spawned() {
    fn is_into_future<F: IntoFuture>(f: F) -> F::IntoFuture {
        f.into_future()
    }
    let emulator = start(EmulatorConfig::fast()).await;
    let client = client(&emulator);
    let task_id = create(&client, &emulator).await;
    let future = is_into_future(
        client
            .wait_for_upgrade_task(emulator.cluster_id(), &task_id)
            .poll_interval(FAST_POLL.0, FAST_POLL.1),
    );
    // The boxed future is Send: it runs on another task of a multi-thread runtime too.
    fn is_send<T: Send>(t: T) -> T {
        t
    }
    let task = is_send(future).await.expect("succeeds");
    assert_eq!(task.phase(), Some(&UpgradeTaskPhase::Success));

    let client2 = client.clone();
    let (cluster, uid) = {
        let list = client
            .list_autopilot_upgrade_work_flows(emulator.autopilot_cluster_id())
            .await
            .unwrap();
        (
            emulator.autopilot_cluster_id().to_owned(),
            list.workflows()[0].uid().unwrap().to_owned(),
        )
    };
    let handle = tokio::spawn(async move {
        client2
            .wait_for_workflow(&cluster, &uid)
            .poll_interval(FAST_POLL.0, FAST_POLL.1)
            .wait()
            .await
    });
    let workflow = handle.await.unwrap().expect("succeeds");
    assert_eq!(workflow.phase(), Some(&WorkFlowPhase::Success));
}
