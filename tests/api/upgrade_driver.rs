//! The upgrade driver against the emulator playing the real service: whole upgrades, the
//! scenarios a real upgrade meets (a pre-check Risk or Exception, a failed or paused upgrade),
//! resuming after the caller was killed, and never starting an upgrade twice.
//!
//! Time is the emulator's: a task moves one step each time it is read, so these tests depend on
//! the number of polls, never on the machine's pace.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use cce_upgrade::emulator::{DEMO_VERSION, Emulator, EmulatorConfig, Scenario};
use cce_upgrade::upgrade::{Event, Failure, Step, StepReport, UpgradeEvent, UpgradeReport};
use cce_upgrade::{Client, ErrorKind, Version};

const POLL: (Duration, Duration) = (Duration::from_millis(1), Duration::from_millis(4));

async fn start(config: EmulatorConfig) -> (Emulator, Client) {
    let emulator = crate::common::start_with(config).await;
    let client = emulator.client_builder().build().expect("client builds");
    (emulator, client)
}

/// Every event of a run, for assertions.
#[derive(Clone, Default)]
struct Events(Arc<Mutex<Vec<UpgradeEvent>>>);

impl Events {
    fn sink(&self) -> impl FnMut(&Event) + Send + 'static {
        let events = self.0.clone();
        move |e| events.lock().unwrap().push(e.event.clone())
    }
    fn all(&self) -> Vec<UpgradeEvent> {
        self.0.lock().unwrap().clone()
    }
    fn progress(&self) -> Vec<f64> {
        self.all()
            .into_iter()
            .filter_map(|e| match e {
                UpgradeEvent::Progress(p) => Some(p),
                _ => None,
            })
            .collect()
    }
}

/// The report of one step of a run; the test fails when the run has none.
fn step(report: &UpgradeReport, which: Step) -> &StepReport {
    report
        .steps
        .iter()
        .find(|s| s.step == which)
        .unwrap_or_else(|| panic!("no {which} step in {report:?}"))
}

fn version(s: &str) -> Version {
    s.parse().unwrap()
}

#[tokio::test]
async fn a_cce_upgrade_runs_every_step_and_upgrades_the_cluster() {
    let (emulator, client) = start(EmulatorConfig::fast()).await;
    let cluster = emulator.cluster_id().to_owned();
    let pool = emulator.nodepool_id().to_owned();
    let events = Events::default();
    let report = client
        .upgrade(&cluster)
        .to("v1.29")
        .snapshot(true)
        .sync_node_pools([pool.as_str()])
        .poll_interval(POLL.0, POLL.1)
        .on_event(events.sink())
        .run()
        .await
        .expect("the upgrade completes");

    // A minor version means its latest allowed patch.
    assert_eq!(report.target, "v1.29.15-r0");
    assert_eq!(report.version_before.as_deref(), Some(DEMO_VERSION));
    assert_eq!(report.version_after.as_deref(), Some("v1.29.15-r0"));
    assert_eq!(
        emulator.cluster_version(&cluster).as_deref(),
        Some("v1.29.15-r0")
    );
    assert!(!report.already_done);
    let steps: Vec<Step> = report.steps.iter().map(|s| s.step.clone()).collect();
    assert_eq!(
        steps,
        [
            Step::Inspect,
            Step::Workflow,
            Step::PreCheck,
            Step::Snapshot,
            Step::Upgrade,
            Step::PostCheck,
            Step::NodePoolSync(pool.clone()),
        ]
    );
    for step in &report.steps[1..] {
        assert!(step.task_id.is_some(), "{step:?} has its task id");
        // The workflow is reported as created (Init); every task as it ended.
        let phase = if step.step == Step::Workflow {
            "Init"
        } else {
            "Success"
        };
        assert_eq!(step.phase, phase, "{step:?}");
        assert!(!step.resumed, "{step:?}");
        assert!(
            !step.request_ids.is_empty(),
            "{step:?} keeps its request ids"
        );
    }
    assert_eq!(emulator.upgrades_started(&cluster), 1);
    // When the task succeeded, as the service says it.
    let ended = emulator.upgrade_tasks(&cluster)[0]["status"]["completionTime"]
        .as_str()
        .map(|t| cce_upgrade::parse_go_time(t).unwrap());
    assert!(ended.is_some());
    assert_eq!(report.completed_at, ended);
    let progress = events.progress();
    assert_eq!(progress.last().copied(), Some(100.0), "{progress:?}");
    assert!(
        progress.windows(2).all(|w| w[0] < w[1]),
        "progress only grows and is reported once per change: {progress:?}"
    );
    // The workflow followed the tasks to its end.
    let workflows = emulator.workflows(&cluster);
    assert_eq!(workflows.len(), 1);
    assert_eq!(workflows[0]["status"]["phase"], "Success");
    emulator.shutdown().await;
}

#[tokio::test]
async fn an_autopilot_upgrade_continues_the_open_workflow() {
    let (emulator, client) = start(EmulatorConfig::fast()).await;
    let cluster = emulator.autopilot_cluster_id().to_owned();
    let open = emulator.workflows(&cluster);
    assert_eq!(
        open.len(),
        1,
        "the demo Autopilot cluster has a workflow waiting in Init"
    );
    let report = client
        .upgrade_autopilot(&cluster)
        .poll_interval(POLL.0, POLL.1)
        .run()
        .await
        .expect("the upgrade completes");
    assert_eq!(
        report.target,
        open[0]["spec"]["targetVersion"].as_str().unwrap()
    );
    assert_eq!(
        report.workflow_id.as_deref(),
        open[0]["metadata"]["uid"].as_str()
    );
    assert_eq!(report.steps[1].step, Step::Workflow);
    assert!(report.steps[1].resumed, "the open workflow is reused");
    assert_eq!(
        emulator.cluster_version(&cluster),
        Some(report.target.clone())
    );
    assert_eq!(emulator.upgrades_started(&cluster), 1);
    assert_eq!(emulator.workflows(&cluster).len(), 1, "no second workflow");
    // Node pools are a CCE thing.
    let e = client
        .upgrade_autopilot(&cluster)
        .sync_node_pools(["pool"])
        .run()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_pre_check_risk_stops_the_upgrade_until_it_is_skipped() {
    let (emulator, client) = start(EmulatorConfig::fast()).await;
    let cluster = emulator.cluster_id().to_owned();
    emulator.set_scenario(&cluster, Scenario::precheck_risk("NodeKernelCheck"));

    let events = Events::default();
    let e = client
        .upgrade(&cluster)
        .to("v1.29.15-r0")
        .poll_interval(POLL.0, POLL.1)
        .on_event(events.sink())
        .run()
        .await
        .expect_err("the pre-check finds a risk");
    assert_eq!(e.kind(), ErrorKind::PreCheckFailed);
    match e.upgrade_failure() {
        Some(Failure::PreCheckFailed { findings, .. }) => {
            assert_eq!(findings.len(), 1);
            assert_eq!(findings[0].name, "NodeKernelCheck");
            assert!(findings[0].is_skippable());
        }
        other => panic!("the findings, typed: {other:?}"),
    }
    assert_eq!(e.step(), Some(&Step::PreCheck));
    let text = e.to_string();
    assert!(text.contains("NodeKernelCheck"), "{text}");
    assert!(text.contains("skip_check"), "says how to skip it: {text}");
    assert!(e.last_pre_check().is_some());
    assert!(events.all().iter().any(|e| matches!(
        e,
        UpgradeEvent::Finding(f) if f.name == "NodeKernelCheck" && f.is_skippable()
    )));
    assert_eq!(emulator.upgrades_started(&cluster), 0, "nothing started");

    let report = client
        .upgrade(&cluster)
        .to("v1.29.15-r0")
        .skip_check("NodeKernelCheck")
        .poll_interval(POLL.0, POLL.1)
        .run()
        .await
        .expect("with the risk skipped, it completes");
    assert_eq!(report.version_after.as_deref(), Some("v1.29.15-r0"));
    assert_eq!(emulator.upgrades_started(&cluster), 1);
    assert_eq!(
        emulator.workflows(&cluster).len(),
        1,
        "the second run reused the workflow"
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_pre_check_exception_cannot_be_skipped() {
    let (emulator, client) = start(EmulatorConfig::fast()).await;
    let cluster = emulator.cluster_id().to_owned();
    emulator.set_scenario(
        &cluster,
        Scenario::PreCheckException {
            item: "MasterNodeCheck".into(),
        },
    );
    let e = client
        .upgrade(&cluster)
        .skip_check("MasterNodeCheck")
        .poll_interval(POLL.0, POLL.1)
        .run()
        .await
        .expect_err("an exception must be fixed");
    assert_eq!(e.step(), Some(&Step::PreCheck));
    assert!(e.to_string().contains("fix"), "{e}");
    assert!(e.to_string().contains("MasterNodeCheck"), "{e}");
    assert_eq!(emulator.upgrades_started(&cluster), 0);
    emulator.shutdown().await;
}

#[tokio::test]
async fn plan_reports_what_would_happen_and_starts_nothing_else() {
    let (emulator, client) = start(EmulatorConfig::fast()).await;
    let cluster = emulator.cluster_id().to_owned();
    emulator.set_scenario(&cluster, Scenario::precheck_risk("NodeKernelCheck"));
    // The plan reads only: no write at all.
    let plan = client
        .upgrade(&cluster)
        .to("v1.30")
        .poll_interval(POLL.0, POLL.1)
        .plan()
        .await
        .expect("a plan");
    assert!(
        emulator.requests().iter().all(|r| r.method == "GET"),
        "plan() sends reads only"
    );
    assert!(emulator.workflows(&cluster).is_empty());
    assert_eq!(plan.target, "v1.30.14-r0");
    assert!(!plan.blocked);
    assert_eq!(plan.next, "create the upgrade workflow");
    assert_eq!(plan.pre_check_task_id, None);
    // With a fresh pre-check: one CreatePreCheck, never a workflow.
    let plan = client
        .upgrade(&cluster)
        .to("v1.30")
        .poll_interval(POLL.0, POLL.1)
        .plan_with_pre_check()
        .await
        .expect("a plan");
    let writes: Vec<String> = emulator
        .requests()
        .iter()
        .filter(|r| r.method != "GET")
        .map(|r| format!("{} {}", r.method, r.uri))
        .collect();
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert!(writes[0].ends_with("/precheck"), "{writes:?}");
    assert!(emulator.workflows(&cluster).is_empty());
    assert_eq!(plan.current_version.as_deref(), Some(DEMO_VERSION));
    assert_eq!(plan.target, "v1.30.14-r0");
    assert!(plan.allowed_targets.contains(&"v1.30.14-r0".to_owned()));
    assert!(!plan.pre_check_passed);
    assert!(plan.pre_check_task_id.is_some());
    assert_eq!(plan.findings.len(), 1);
    assert!(plan.findings[0].is_skippable());
    assert_eq!(emulator.upgrades_started(&cluster), 0);
    assert_eq!(
        emulator.cluster_version(&cluster).as_deref(),
        Some(DEMO_VERSION)
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_failed_upgrade_is_retried_only_when_asked() {
    let (emulator, client) = start(EmulatorConfig::fast()).await;
    let cluster = emulator.cluster_id().to_owned();
    emulator.set_scenario(&cluster, Scenario::UpgradeFailsAt { progress: 40 });

    let e = client
        .upgrade(&cluster)
        .to("v1.29")
        .poll_interval(POLL.0, POLL.1)
        .run()
        .await
        .expect_err("the upgrade fails");
    assert_eq!(e.step(), Some(&Step::Upgrade));
    assert!(
        e.to_string().contains("retry_failed"),
        "says how to retry: {e}"
    );
    let task = e.last_task().expect("the task's last state");
    assert_eq!(task.progress_percent(), Some(40.0));
    assert_eq!(emulator.upgrades_started(&cluster), 1);

    let events = Events::default();
    let report = client
        .upgrade(&cluster)
        .to("v1.29")
        .retry_failed(1)
        .poll_interval(POLL.0, POLL.1)
        .on_event(events.sink())
        .run()
        .await
        .expect("retried, it completes");
    assert_eq!(report.retries, 1);
    assert!(
        events
            .all()
            .iter()
            .any(|e| matches!(e, UpgradeEvent::Retrying { attempt: 1, .. }))
    );
    let upgrade = step(&report, Step::Upgrade);
    assert!(
        upgrade.resumed,
        "the failed task was found and retried, not started again"
    );
    assert_eq!(
        emulator.upgrades_started(&cluster),
        1,
        "a retry is not a second UpgradeCluster"
    );
    assert_eq!(
        emulator.cluster_version(&cluster).as_deref(),
        Some("v1.29.15-r0")
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_paused_upgrade_is_reported_at_once_or_continued() {
    let (emulator, client) = start(EmulatorConfig::fast()).await;
    let cluster = emulator.cluster_id().to_owned();
    emulator.set_scenario(&cluster, Scenario::PauseAt { progress: 30 });

    let events = Events::default();
    let e = client
        .upgrade(&cluster)
        .to("v1.29")
        .poll_interval(POLL.0, POLL.1)
        .deadline(Duration::from_secs(24 * 3600))
        .on_event(events.sink())
        .run()
        .await
        .expect_err("a paused task ends the run, long before the deadline");
    assert_eq!(e.step(), Some(&Step::Upgrade));
    assert!(e.to_string().contains("paused"), "{e}");
    assert!(e.to_string().contains("continue_paused"), "{e}");
    assert!(
        events
            .all()
            .iter()
            .any(|e| matches!(e, UpgradeEvent::Paused { percent: Some(p) } if *p == 30.0))
    );

    let report = client
        .upgrade(&cluster)
        .to("v1.29")
        .continue_paused(true)
        .poll_interval(POLL.0, POLL.1)
        .run()
        .await
        .expect("continued, it completes");
    assert_eq!(report.pauses, 1);
    assert_eq!(emulator.upgrades_started(&cluster), 1);
    assert_eq!(
        emulator.cluster_version(&cluster).as_deref(),
        Some("v1.29.15-r0")
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn killed_mid_upgrade_and_run_again_it_finishes_the_same_upgrade() {
    let (emulator, client) = start(EmulatorConfig::fast()).await;
    let cluster = emulator.cluster_id().to_owned();

    // Kill the first run (drop its future) once the upgrade task has made progress.
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let mut tx = Some(tx);
    let first = client
        .upgrade(&cluster)
        .to("v1.29")
        .poll_interval(POLL.0, POLL.1)
        .on_event(move |e| {
            if matches!(&e.event, UpgradeEvent::Progress(p) if *p >= 20.0)
                && let Some(tx) = tx.take()
            {
                let _ = tx.send(());
            }
        })
        .run();
    tokio::select! {
        result = first => panic!("the first run should have been killed, it ended: {result:?}"),
        _ = rx => {}
    }
    assert_eq!(emulator.upgrades_started(&cluster), 1);
    assert_ne!(
        emulator.cluster_version(&cluster).as_deref(),
        Some("v1.29.15-r0"),
        "killed mid-upgrade"
    );

    let report = client
        .upgrade(&cluster)
        .to("v1.29")
        .poll_interval(POLL.0, POLL.1)
        .run()
        .await
        .expect("the second run finishes it");
    let upgrade = step(&report, Step::Upgrade);
    assert!(
        upgrade.resumed,
        "the running task was followed, not started again"
    );
    assert_eq!(
        emulator.upgrades_started(&cluster),
        1,
        "exactly one upgrade"
    );
    assert_eq!(
        emulator.cluster_version(&cluster).as_deref(),
        Some("v1.29.15-r0")
    );
    // And a third run has nothing left to do.
    let again = client
        .upgrade(&cluster)
        .to("v1.29")
        .poll_interval(POLL.0, POLL.1)
        .run()
        .await
        .unwrap();
    assert!(again.already_done);
    assert_eq!(emulator.upgrades_started(&cluster), 1);
    emulator.shutdown().await;
}

#[tokio::test]
async fn targets_are_checked_as_versions_against_what_the_service_allows() {
    let (emulator, client) = start(EmulatorConfig::fast()).await;
    let cluster = emulator.cluster_id().to_owned();
    // Not allowed: the message lists what is.
    let e = client
        .upgrade(&cluster)
        .to("v1.31")
        .poll_interval(POLL.0, POLL.1)
        .run()
        .await
        .unwrap_err();
    assert_eq!(e.step(), Some(&Step::Inspect));
    assert!(e.to_string().contains("v1.30.14-r0"), "{e}");
    // Not a version.
    let e = client
        .upgrade(&cluster)
        .to("latest")
        .run()
        .await
        .unwrap_err();
    assert_eq!((e.kind(), e.field()), (ErrorKind::InvalidInput, Some("to")));
    // Lower than the current one: not allowed (a cluster is never downgraded), nothing sent.
    for lower in ["v1.27.16-r0", "v1.27"] {
        let e = client.upgrade(&cluster).to(lower).run().await.unwrap_err();
        assert_eq!(
            (e.kind(), e.field()),
            (ErrorKind::InvalidInput, Some("to")),
            "{e}"
        );
        assert!(matches!(
            e.upgrade_failure(),
            Some(Failure::TargetNotAllowed { .. })
        ));
    }
    // The current one: nothing to do.
    let report = client
        .upgrade(&cluster)
        .to(DEMO_VERSION)
        .run()
        .await
        .unwrap();
    assert!(report.already_done);
    assert!(emulator.requests().iter().all(|r| r.method == "GET"));
    // No target: the latest allowed, as a version (v1.30.14 > v1.29.15 > v1.28.15-r1.sp1).
    let plan = client
        .upgrade(&cluster)
        .poll_interval(POLL.0, POLL.1)
        .plan()
        .await
        .unwrap();
    assert_eq!(version(&plan.target), version("v1.30.14-r0"));
    assert_eq!(emulator.upgrades_started(&cluster), 0);
    emulator.shutdown().await;
}

#[tokio::test]
async fn killed_after_the_upgrade_and_run_again_it_still_runs_the_post_check() {
    let (emulator, client) = start(EmulatorConfig::fast()).await;
    let cluster = emulator.cluster_id().to_owned();
    // A run that ends right after the upgrade, as one killed before its post-check would (killing
    // it on an event would race the post-check request already on its way).
    client
        .upgrade(&cluster)
        .to("v1.29")
        .post_check(false)
        .poll_interval(POLL.0, POLL.1)
        .run()
        .await
        .expect("upgraded");
    assert_eq!(
        emulator.cluster_version(&cluster).as_deref(),
        Some("v1.29.15-r0"),
        "upgraded"
    );
    assert_ne!(
        emulator.workflows(&cluster)[0]["status"]["phase"],
        "Success"
    );

    let report = client
        .upgrade(&cluster)
        .to("v1.29")
        .poll_interval(POLL.0, POLL.1)
        .run()
        .await
        .expect("the second run finishes the workflow");
    assert!(
        !report.already_done,
        "the open workflow still wanted its post-check"
    );
    assert_eq!(report.version_before.as_deref(), Some(DEMO_VERSION));
    assert!(!step(&report, Step::PostCheck).resumed, "this run sent it");
    assert_eq!(
        emulator.workflows(&cluster)[0]["status"]["phase"],
        "Success"
    );
    assert_eq!(emulator.upgrades_started(&cluster), 1);
    emulator.shutdown().await;
}
