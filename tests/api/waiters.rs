//! Waiting for an upgrade task or workflow to end, against the emulator's state machine.
//!
//! Time is the emulator's: a task moves one step each time it is read (and nothing moves a
//! workflow but its tasks), so what a waiter sees depends on the reads, not on the machine's
//! pace. Every await that could hang is bounded by [`HANG`] and fails the test.

use std::future::{Future, IntoFuture};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cce_upgrade::emulator::{Emulator, EmulatorConfig, Fault};
use cce_upgrade::types::{
    CreateUpgradeWorkFlowRequestBody, PostCheckClusterRequestBody, PostCheckPhase, PostCheckSpec,
    UpgradeClusterRequestBody, UpgradeTask, UpgradeTaskPhase, UpgradeWorkFlow, WorkFlowPhase,
};
use cce_upgrade::{Client, ErrorKind, RetryConfig};
use tokio::sync::mpsc;

use crate::common;
use common::{DEMO_VERSION, TARGET, client, start, start_with};

const FAST_POLL: (Duration, Duration) = (Duration::from_millis(1), Duration::from_millis(5));

/// How long any await of these tests may take before the test fails instead of hanging. Far
/// above what any of them needs (milliseconds): a guard, not a measure.
const HANG: Duration = Duration::from_secs(60);

/// At most this many reads of a task before a test gives up on it (an upgrade ends in about
/// ten).
const MAX_READS: usize = 100;

/// Awaits `future`, failing the test if it does not end within [`HANG`].
async fn bounded<F: Future>(what: &str, future: F) -> F::Output {
    tokio::time::timeout(HANG, future)
        .await
        .unwrap_or_else(|_| panic!("{what} did not end within {HANG:?}"))
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

/// The id of the demo Autopilot cluster's workflow (waiting in `Init`), as the list shows it.
async fn demo_workflow(client: &Client, emulator: &Emulator) -> String {
    let list = client
        .list_autopilot_upgrade_work_flows(emulator.autopilot_cluster_id())
        .await
        .unwrap();
    let workflow = &list.workflows()[0];
    assert_eq!(workflow.phase(), Some(&WorkFlowPhase::Init));
    workflow.uid().expect("the demo workflow").to_owned()
}

/// Starts the Autopilot cluster's upgrade (`UpgradeAutopilotCluster`) and shows its task until
/// it ends (each read moves it a step); returns how it ended.
async fn run_autopilot_upgrade(client: &Client, cluster: &str) -> UpgradeTaskPhase {
    let started = client
        .upgrade_autopilot_cluster(cluster, &UpgradeClusterRequestBody::new(TARGET))
        .await
        .expect("upgrade started");
    let task = started
        .metadata
        .as_ref()
        .and_then(|m| m.uid.clone())
        .expect("an upgrade task");
    for _ in 0..MAX_READS {
        let shown = client
            .show_autopilot_upgrade_cluster_task(cluster, &task)
            .await
            .expect("task shown");
        if let Some(phase) = shown.phase().filter(|p| p.is_terminal()) {
            return phase.clone();
        }
    }
    panic!("the upgrade task {task} did not end in {MAX_READS} reads");
}

/// The GETs of one workflow (what the workflow waiter sends).
fn workflow_polls(emulator: &Emulator, workflow: &str) -> usize {
    emulator
        .requests()
        .iter()
        .filter(|r| {
            r.method == "GET"
                && r.uri
                    .ends_with(&format!("/operation/upgradeworkflows/{workflow}"))
        })
        .count()
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
    let emulator = start().await;
    let client = client(&emulator);
    let task_id = create(&client, &emulator).await;
    let started = Instant::now();

    let task = bounded(
        "the task waiter",
        client
            .wait_for_upgrade_task(emulator.cluster_id(), &task_id)
            .poll_interval(FAST_POLL.0, FAST_POLL.1)
            .into_future(),
    )
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
    // Every read moves the task a step, so the waiter reads it exactly until it ends: its own
    // pre-check (3 steps), Queuing, Running 0…80% (5), Success, and the read that sees Success.
    assert_eq!(task_polls(&emulator, &task_id), 11);
    // The configured interval is used, not the default 2 s (which would take over 20 s for
    // these 11 polls); a bound far above the milliseconds it takes, so load cannot break it.
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert!(emulator.requests().iter().all(|r| r.authenticated));
}

#[tokio::test]
async fn progress_is_reported_once_per_change_through_every_phase() {
    // Each read answers the state before its step, so the waiter sees every phase, however
    // fast or slow it polls; nothing else moves the task.
    let emulator = start().await;
    let client = client(&emulator);
    let task_id = create(&client, &emulator).await;
    let seen: Arc<Mutex<Vec<UpgradeTask>>> = Arc::default();
    let sink = seen.clone();

    let task = bounded(
        "the task waiter",
        client
            .wait_for_upgrade_task(emulator.cluster_id(), &task_id)
            .poll_interval(FAST_POLL.0, FAST_POLL.1)
            .on_progress(move |t| sink.lock().unwrap().push(t.clone()))
            .into_future(),
    )
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
    // Init, Queuing, Running 0, 20, 40, 60, 80, Success.
    assert_eq!(seen.len(), 8, "{phases:?}");
    assert!(
        task_polls(&emulator, &task_id) > seen.len(),
        "polls that saw no change (Init while its pre-check ran) were not reported"
    );
}

#[tokio::test]
async fn a_failed_task_is_upgrade_failed_with_its_last_state() {
    let emulator = start_with(EmulatorConfig::fast().fail_cluster_task(true)).await;
    let client = client(&emulator);
    let task_id = create(&client, &emulator).await;
    let e = bounded(
        "the task waiter",
        client
            .wait_for_upgrade_task(emulator.cluster_id(), &task_id)
            .poll_interval(FAST_POLL.0, FAST_POLL.1)
            .into_future(),
    )
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
    let emulator = start_with(EmulatorConfig::fast().advance_on_read(false)).await;
    let client = client(&emulator);
    let task_id = create(&client, &emulator).await;
    // The client waits on the emulator's clock: elapsed time is the emulator's.
    let clock = emulator.clock();
    let started = clock.now();
    // A poll interval far longer than the timeout: the wait must cut its sleep short at the
    // deadline, poll once more and end, not sleep the interval.
    let e = bounded(
        "the task waiter",
        client
            .wait_for_upgrade_task(emulator.cluster_id(), &task_id)
            .poll_interval(Duration::from_secs(120), Duration::from_secs(120))
            .timeout(Duration::from_millis(100))
            .into_future(),
    )
    .await
    .expect_err("times out");
    let elapsed = clock.now().duration_since(started).unwrap();
    assert_eq!(e.kind(), ErrorKind::WaitTimedOut);
    assert_eq!(
        e.last_task().and_then(UpgradeTask::phase),
        Some(&UpgradeTaskPhase::Init)
    );
    assert!(e.to_string().contains("may still be running"), "{e}");
    // At least the timeout; far less than one poll interval.
    assert!(
        elapsed >= Duration::from_millis(100) && elapsed < Duration::from_secs(30),
        "{elapsed:?}"
    );
    assert_eq!(
        task_polls(&emulator, &task_id),
        2,
        "it polled at the start and once more at the deadline"
    );
}

#[tokio::test]
async fn transient_errors_while_polling_do_not_end_the_wait() {
    let emulator = start().await;
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
    let task = bounded(
        "the task waiter",
        client
            .wait_for_upgrade_task(emulator.cluster_id(), &task_id)
            .poll_interval(FAST_POLL.0, FAST_POLL.1)
            .into_future(),
    )
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
    let emulator = start().await;
    let client = client(&emulator);
    let started = Instant::now();
    // A long poll interval: "at once" means without sleeping one.
    let e = bounded(
        "the task waiter",
        client
            .wait_for_upgrade_task(emulator.cluster_id(), "no-such-task")
            .poll_interval(Duration::from_secs(120), Duration::from_secs(120))
            .into_future(),
    )
    .await
    .expect_err("404");
    assert_eq!(e.kind(), ErrorKind::Service);
    assert_eq!(e.status(), Some(reqwest::StatusCode::NOT_FOUND));
    assert!(e.last_task().is_none());
    assert_eq!(emulator.requests().len(), 1);
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[tokio::test]
async fn a_workflow_waiter_reaches_success_on_the_autopilot_cluster() {
    let emulator = start().await;
    let client = client(&emulator);
    let cluster = emulator.autopilot_cluster_id().to_owned();
    let uid = demo_workflow(&client, &emulator).await;
    let seen: Arc<Mutex<Vec<UpgradeWorkFlow>>> = Arc::default();
    // Each change the waiter reports is also sent here, so that the test takes each step of
    // the workflow only after the waiter has seen the one before.
    let (changes, mut changed) = mpsc::unbounded_channel();

    let waiter = tokio::spawn({
        let (client, cluster, uid, sink) =
            (client.clone(), cluster.clone(), uid.clone(), seen.clone());
        async move {
            client
                .wait_for_workflow(&cluster, &uid)
                .poll_interval(FAST_POLL.0, FAST_POLL.1)
                .on_progress(move |w| {
                    sink.lock().unwrap().push(w.clone());
                    let _ = changes.send(w.phase().cloned());
                })
                .await
        }
    });
    let mut next_phase = async || {
        bounded("a change the waiter reports", changed.recv())
            .await
            .expect("the waiter reports before it ends")
    };
    // Nothing runs by itself: the waiter sees the workflow as it is, in Init.
    assert_eq!(next_phase().await, Some(WorkFlowPhase::Init));
    // The upgrade starts a task: the workflow runs.
    let started = client
        .upgrade_autopilot_cluster(&cluster, &UpgradeClusterRequestBody::new(TARGET))
        .await
        .expect("upgrade started");
    assert_eq!(next_phase().await, Some(WorkFlowPhase::Running));
    let task = started
        .metadata
        .as_ref()
        .and_then(|m| m.uid.clone())
        .unwrap();
    for _ in 0..MAX_READS {
        let shown = client
            .show_autopilot_upgrade_cluster_task(&cluster, &task)
            .await
            .unwrap();
        if shown.phase() == Some(&UpgradeTaskPhase::Success) {
            break;
        }
    }
    assert_eq!(emulator.cluster_version(&cluster).as_deref(), Some(TARGET));
    // The workflow is still running: the post-check ends it.
    assert_eq!(
        emulator.workflows(&cluster)[0]["status"]["phase"],
        "Running"
    );
    let check = client
        .create_autopilot_post_check(
            &cluster,
            &PostCheckClusterRequestBody::new(PostCheckSpec::default()),
        )
        .await
        .unwrap();
    assert_eq!(check.phase(), Some(&PostCheckPhase::Success));
    let workflow = bounded("the workflow waiter", waiter)
        .await
        .expect("the waiter task")
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
    assert_eq!(workflow.cluster_task_id(), Some(task.as_str()));
    let seen = seen.lock().unwrap();
    assert_eq!(seen.last(), Some(&workflow));
    assert!(seen.windows(2).all(|p| p[0] != p[1]));
    let mut phases: Vec<_> = seen.iter().map(|w| w.phase().cloned()).collect();
    phases.dedup();
    assert_eq!(
        phases,
        [
            Some(WorkFlowPhase::Init),
            Some(WorkFlowPhase::Running),
            Some(WorkFlowPhase::Success)
        ]
    );
    let polls = workflow_polls(&emulator, &uid);
    assert!(
        polls >= 3,
        "the workflow was polled through Init, Running and Success: {polls}"
    );
    assert!(emulator.requests().iter().all(|r| r.authenticated));
}

#[tokio::test]
async fn a_failed_workflow_is_upgrade_failed_while_pending() {
    let emulator = start_with(EmulatorConfig::fast().fail_cluster_task(true)).await;
    let client = client(&emulator);
    let cluster = emulator.autopilot_cluster_id().to_owned();
    let uid = demo_workflow(&client, &emulator).await;
    let waiter = tokio::spawn({
        let (client, cluster, uid) = (client.clone(), cluster.clone(), uid.clone());
        async move {
            client
                .wait_for_workflow(&cluster, &uid)
                .poll_interval(FAST_POLL.0, FAST_POLL.1)
                .await
        }
    });
    // The upgrade fails at 50%: the workflow is Pending.
    assert_eq!(
        run_autopilot_upgrade(&client, &cluster).await,
        UpgradeTaskPhase::Failed
    );
    let e = bounded("the workflow waiter", waiter)
        .await
        .expect("the waiter task")
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
        emulator.cluster_version(&cluster).as_deref(),
        Some(DEMO_VERSION)
    );
}

#[tokio::test]
async fn an_unknown_workflow_id_ends_the_wait() {
    let emulator = start().await;
    let client = client(&emulator);
    let e = bounded(
        "the workflow waiter",
        client
            .wait_for_workflow(emulator.autopilot_cluster_id(), "no-such-workflow")
            .poll_interval(FAST_POLL.0, FAST_POLL.1)
            .timeout(Duration::from_secs(5))
            .into_future(),
    )
    .await
    .expect_err("not there");
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert_eq!(e.operation(), Some("ShowAutopilotUpgradeWorkFlow"));
    assert!(e.to_string().contains("no-such-workflow"), "{e}");
    // The service's answer is kept: what support asks for.
    assert_eq!(e.status(), Some(reqwest::StatusCode::NOT_FOUND));
    assert_eq!(e.request_id().map(str::len), Some(32));
    assert!(!e.is_transient());
    let requests = emulator.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].method, "GET");
    assert!(
        requests[0]
            .uri
            .ends_with("/operation/upgradeworkflows/no-such-workflow"),
        "the exact GET: {}",
        requests[0].uri
    );
}

#[tokio::test]
async fn waiters_are_into_future_and_can_be_spawned() {
    fn is_into_future<F: IntoFuture>(f: F) -> F::IntoFuture {
        f.into_future()
    }
    let emulator = start().await;
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
    let task = bounded("the task waiter", is_send(future))
        .await
        .expect("succeeds");
    assert_eq!(task.phase(), Some(&UpgradeTaskPhase::Success));

    let client2 = client.clone();
    let cluster = emulator.autopilot_cluster_id().to_owned();
    let uid = demo_workflow(&client, &emulator).await;
    let handle = tokio::spawn({
        let (cluster, uid) = (cluster.clone(), uid.clone());
        async move {
            client2
                .wait_for_workflow(&cluster, &uid)
                .poll_interval(FAST_POLL.0, FAST_POLL.1)
                .wait()
                .await
        }
    });
    // Meanwhile the upgrade driver runs the workflow to its end (upgrade, then post-check).
    let report = bounded(
        "the upgrade driver",
        client
            .upgrade_autopilot(&cluster)
            .to(TARGET)
            .poll_interval(FAST_POLL.0, FAST_POLL.1)
            .run(),
    )
    .await
    .expect("the upgrade completes");
    assert_eq!(report.workflow_id.as_deref(), Some(uid.as_str()));
    let workflow = bounded("the spawned workflow waiter", handle)
        .await
        .unwrap()
        .expect("succeeds");
    assert_eq!(workflow.phase(), Some(&WorkFlowPhase::Success));
    assert_eq!(workflow.uid(), Some(uid.as_str()));
}
