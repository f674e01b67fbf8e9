//! The driver as a reconciler, against the emulator over a real socket: killed after any
//! request and run again it finishes the same upgrade; a blocked cluster gets no write; the
//! deadline is hard; runs are spawnable; an unreachable service is said so, in bounded time.
//!
//! Time is the emulator's clock (the client sleeps on it), so no test waits for a poll.

use std::sync::Arc;
use std::time::Duration;

use cce_upgrade::emulator::{DEMO_VERSION, Emulator, EmulatorConfig, Fault, ReceivedRequest};
use cce_upgrade::upgrade::{Failure, Step, UpgradeEvent};
use cce_upgrade::{Client, ErrorKind};

async fn start() -> (Emulator, Client) {
    let emulator = Emulator::start_with(EmulatorConfig::fast())
        .await
        .expect("emulator starts");
    let client = emulator.client_builder().build().expect("client builds");
    (emulator, client)
}

fn writes(requests: &[ReceivedRequest]) -> Vec<String> {
    requests
        .iter()
        .filter(|r| r.method != "GET")
        .map(|r| format!("{} {}", r.method, r.uri))
        .collect()
}

fn count(requests: &[ReceivedRequest], method: &str, suffix: &str) -> usize {
    requests
        .iter()
        .filter(|r| r.method == method && r.uri.split('?').next().unwrap_or("").ends_with(suffix))
        .count()
}

/// Runs an upgrade with a snapshot and stops it (drops its future) once `after` requests have
/// been answered: request `after + 1` is held by the emulator, unacted, until the run is gone.
/// Returns whether the run ended by itself first.
async fn run_and_kill(emulator: &Emulator, client: &Client, cluster: &str, after: usize) -> bool {
    emulator.inject(Fault::Delay(Duration::ZERO), after);
    emulator.inject(Fault::Delay(Duration::from_secs(3600)), 1);
    let run = client.upgrade(cluster).to("v1.29").snapshot(true).run();
    let held = async {
        while emulator.requests().len() <= after {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    };
    tokio::select! {
        result = run => {
            result.expect("a run that is not killed completes");
            true
        }
        _ = held => false,
    }
}

#[tokio::test]
async fn killed_after_any_of_its_first_requests_a_second_run_finishes_the_same_upgrade() {
    for after in 1..=24 {
        let (emulator, client) = start().await;
        let cluster = emulator.cluster_id().to_owned();
        if run_and_kill(&emulator, &client, &cluster, after).await {
            // The whole upgrade took fewer requests: every kill point was tried.
            assert!(
                after > 18,
                "an upgrade with a snapshot takes more than 18 requests"
            );
            break;
        }
        // A fresh client (another process).
        let client = emulator.client_builder().build().unwrap();
        let report = client
            .upgrade(&cluster)
            .to("v1.29")
            .snapshot(true)
            .run()
            .await
            .unwrap_or_else(|e| panic!("killed after request {after}: the second run: {e}"));
        assert_eq!(report.version_after.as_deref(), Some("v1.29.15-r0"));
        // Every request but the one held (and never acted on) when the first run was killed.
        let mut requests = emulator.requests();
        requests.remove(after);
        assert_eq!(
            count(&requests, "POST", "/operation/upgrade"),
            1,
            "killed after request {after}: {:?}",
            writes(&requests)
        );
        assert!(
            count(&requests, "POST", "/operation/snapshot") <= 1,
            "after {after}: {:?}",
            writes(&requests)
        );
        assert!(
            count(&requests, "POST", "/operation/upgradeworkflows") <= 1,
            "after {after}: {:?}",
            writes(&requests)
        );
        assert_eq!(emulator.upgrades_started(&cluster), 1);
        assert_eq!(emulator.workflows(&cluster).len(), 1, "after {after}");
        emulator.shutdown().await;
    }
}

#[tokio::test]
async fn a_hibernating_cluster_gets_no_write_and_an_error_naming_its_phase() {
    let (emulator, client) = start().await;
    let cluster = emulator.cluster_id().to_owned();
    emulator.set_cluster_phase(&cluster, "Hibernation");
    let e = client
        .upgrade(&cluster)
        .to("v1.29")
        .run()
        .await
        .expect_err("blocked");
    assert_eq!(e.kind(), ErrorKind::Blocked);
    assert_eq!(e.step(), Some(&Step::Inspect));
    assert!(
        matches!(e.upgrade_failure(), Some(Failure::ClusterPhase { phase }) if phase == "Hibernation")
    );
    assert!(e.to_string().contains("Hibernation"), "{e}");
    assert_eq!(writes(&emulator.requests()), Vec::<String>::new());
    // The plan says so too, and writes nothing either.
    let plan = client.upgrade(&cluster).to("v1.29").plan().await.unwrap();
    assert!(plan.blocked, "{plan:?}");
    assert_eq!(plan.cluster_phase.as_deref(), Some("Hibernation"));
    assert_eq!(writes(&emulator.requests()), Vec::<String>::new());
    emulator.shutdown().await;
}

#[tokio::test]
async fn plan_then_run_to_another_target() {
    let (emulator, client) = start().await;
    let cluster = emulator.cluster_id().to_owned();
    let plan = client.upgrade(&cluster).to("v1.28").plan().await.unwrap();
    assert_eq!(plan.current_version.as_deref(), Some(DEMO_VERSION));
    assert!(!plan.already_done);
    assert_ne!(
        plan.target, DEMO_VERSION,
        "v1.28 means its latest allowed patch"
    );
    assert!(writes(&emulator.requests()).is_empty());
    let report = client.upgrade(&cluster).to("v1.29").run().await.unwrap();
    assert_eq!(report.version_after.as_deref(), Some("v1.29.15-r0"));
    emulator.shutdown().await;
}

#[tokio::test]
async fn upgrades_of_three_clusters_run_side_by_side_in_spawned_tasks() {
    let (emulator, client) = start().await;
    let ids = ["c-one", "c-two", "c-three"];
    for id in ids {
        emulator.add_cluster(id, DEMO_VERSION, false);
    }
    let mut handles = Vec::new();
    for id in ids {
        let mut upgrade = client.upgrade(id).to("v1.29");
        let mut events = upgrade.events();
        handles.push((
            tokio::spawn(upgrade.run()),
            tokio::spawn(async move {
                let mut seen = Vec::new();
                while let Some(e) = events.recv().await {
                    seen.push(e);
                }
                seen
            }),
        ));
    }
    for ((run, events), id) in handles.into_iter().zip(ids) {
        let report = run.await.unwrap().expect("upgraded");
        assert_eq!(report.cluster_id, id);
        assert_eq!(report.version_after.as_deref(), Some("v1.29.15-r0"));
        let events = events.await.unwrap();
        assert!(!events.is_empty());
        assert!(
            events.iter().all(|e| e.cluster_id == id),
            "events carry their cluster"
        );
        assert!(
            events
                .iter()
                .any(|e| matches!(&e.event, UpgradeEvent::Progress(p) if *p == 100.0))
        );
        assert_eq!(emulator.upgrades_started(id), 1);
    }
    emulator.shutdown().await;
}

#[tokio::test]
async fn with_default_poll_intervals_a_whole_upgrade_takes_no_real_waiting() {
    // A naive user test: default settings, the emulator's client builder. The client sleeps on
    // the emulator's clock, so the 5-30 s polls cost nothing; the virtual time they took shows
    // on the emulator's clock.
    let (emulator, client) = start().await;
    let before = emulator.now();
    let report = client
        .upgrade(emulator.cluster_id())
        .to("v1.29")
        .snapshot(true)
        .run()
        .await
        .expect("upgraded");
    assert_eq!(report.version_after.as_deref(), Some("v1.29.15-r0"));
    assert_ne!(
        emulator.now(),
        before,
        "the polls moved the emulator's clock"
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn slow_answers_and_a_short_deadline_send_no_write_after_it() {
    let (emulator, _) = start().await;
    let cluster = emulator.cluster_id().to_owned();
    // The machine's clock: the answers are slow in real time.
    let client = emulator
        .client_builder()
        .clock(Arc::new(cce_upgrade::clock::SystemClock::new()))
        .build()
        .unwrap();
    emulator.inject(Fault::Delay(Duration::from_millis(1500)), 50);
    let e = client
        .upgrade(&cluster)
        .to("v1.29")
        .deadline(Duration::from_secs(1))
        .run()
        .await
        .expect_err("the deadline passes");
    assert_eq!(e.kind(), ErrorKind::WaitTimedOut);
    assert!(matches!(e.upgrade_failure(), Some(Failure::DeadlinePassed)));
    assert!(e.step().is_some());
    assert_eq!(writes(&emulator.requests()), Vec::<String>::new());
    emulator.shutdown().await;
}

#[tokio::test]
async fn an_unreachable_service_stops_the_run_with_the_connect_error() {
    let (emulator, _) = start().await;
    // A port nothing listens on; the emulator only lends its clock.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let client = Client::builder()
        .endpoint(format!("http://{closed}"))
        .credentials(cce_upgrade::Credentials::new("AK", "SK"))
        .project_id("p")
        .clock(emulator.clock())
        .build()
        .unwrap();
    let mut upgrade = client.upgrade("c1").to("v1.29");
    let mut events = upgrade.events();
    let e = upgrade.run().await.expect_err("nothing answers");
    assert_eq!(e.kind(), ErrorKind::Connect, "{e}");
    assert_eq!(e.step(), Some(&Step::Inspect));
    let mut transient = 0;
    while let Ok(event) = events.try_recv() {
        if matches!(event.event, UpgradeEvent::Transient { .. }) {
            transient += 1;
        }
    }
    assert!(transient > 0, "the failures were told as they happened");
    emulator.shutdown().await;
}

#[tokio::test]
async fn cancel_cancels_the_open_workflow_so_another_target_can_run() {
    let (emulator, client) = start().await;
    let cluster = emulator.autopilot_cluster_id().to_owned();
    // The demo Autopilot cluster has a workflow to v1.29.10-r0 open: another target is blocked.
    let e = client
        .upgrade(&cluster)
        .to("v1.29.15-r0")
        .run()
        .await
        .expect_err("blocked by the open workflow");
    assert_eq!(e.kind(), ErrorKind::Blocked);
    assert!(
        matches!(e.upgrade_failure(), Some(Failure::OpenWorkflow { .. })),
        "{e}"
    );
    let cancelled = client.upgrade(&cluster).cancel().await.unwrap();
    assert!(cancelled.is_some());
    assert_eq!(client.upgrade(&cluster).cancel().await.unwrap(), None);
    let report = client
        .upgrade(&cluster)
        .to("v1.29.15-r0")
        .run()
        .await
        .unwrap();
    assert_eq!(report.version_after.as_deref(), Some("v1.29.15-r0"));
    assert_eq!(
        report.flavour,
        cce_upgrade::Flavour::Autopilot,
        "found by one read"
    );
    emulator.shutdown().await;
}

/// The emulator's clock, as a point in time.
fn emulator_time(emulator: &Emulator) -> std::time::SystemTime {
    emulator.clock().now()
}

#[tokio::test]
async fn progress_that_is_not_a_number_raises_no_event_and_progress_never_sets_the_pace() {
    use cce_upgrade::emulator::Scenario;
    let mut runs = Vec::new();
    for lie in [false, true] {
        let (emulator, client) = start().await;
        let cluster = emulator.cluster_id().to_owned();
        if lie {
            emulator.set_scenario(&cluster, Scenario::ProgressNotANumber);
        }
        let mut upgrade = client
            .upgrade(&cluster)
            .to("v1.29")
            .poll_interval(Duration::from_secs(1), Duration::from_secs(64));
        let mut events = upgrade.events();
        let started = emulator_time(&emulator);
        upgrade.run().await.expect("upgraded");
        let took = emulator_time(&emulator).duration_since(started).unwrap();
        let task_reads = emulator
            .requests()
            .iter()
            .filter(|r| r.method == "GET" && r.uri.contains("/operation/upgrade/tasks/"))
            .count();
        let mut progress = 0;
        while let Ok(e) = events.try_recv() {
            if matches!(e.event, UpgradeEvent::Progress(_)) {
                progress += 1;
            }
        }
        if lie {
            assert_eq!(progress, 0, "NaN is not progress");
        } else {
            assert!(progress > 1, "{progress} progress events");
        }
        assert!(task_reads > 2, "the task was followed: {task_reads} reads");
        runs.push((took, task_reads));
        emulator.shutdown().await;
    }
    // Progress, a number or not, is reported but does not reset the back-off: both runs poll
    // the running task at the same, growing pace.
    assert_eq!(
        runs[0], runs[1],
        "(time, task reads) with progress and with NaN"
    );
}

#[tokio::test]
async fn a_success_that_never_changes_the_version_is_an_error() {
    use cce_upgrade::emulator::Scenario;
    let (emulator, client) = start().await;
    let cluster = emulator.cluster_id().to_owned();
    emulator.set_scenario(&cluster, Scenario::SuccessKeepsVersion);
    let e = client
        .upgrade(&cluster)
        .to("v1.29")
        .post_check(false)
        .run()
        .await
        .expect_err("the version never reached the target");
    assert_eq!(e.kind(), ErrorKind::UpgradeFailed);
    assert!(
        matches!(e.upgrade_failure(), Some(Failure::VersionNotReached { found, .. }) if found == DEMO_VERSION),
        "{e}"
    );
    assert_eq!(emulator.upgrades_started(&cluster), 1);
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_lost_or_empty_answer_to_the_upgrade_is_settled_by_reading_not_by_sending_again() {
    // The service acts on UpgradeCluster; its answer is lost, or an empty 200.
    for fault in [Fault::DropAfterAction, Fault::EmptyOkAfterAction] {
        let (emulator, client) = start().await;
        let cluster = emulator.cluster_id().to_owned();
        let emulator = Arc::new(emulator);
        let faults = emulator.clone();
        let injected = fault.clone();
        let report = client
            .upgrade(&cluster)
            .to("v1.29")
            .on_event(move |e| {
                // The next request is UpgradeCluster.
                if matches!(&e.event, UpgradeEvent::StepStarted(Step::Upgrade)) {
                    faults.inject(injected.clone(), 1);
                }
            })
            .run()
            .await
            .unwrap_or_else(|e| panic!("{fault:?}: the upgrade it started is followed: {e}"));
        assert_eq!(report.version_after.as_deref(), Some("v1.29.15-r0"));
        assert_eq!(
            count(&emulator.requests(), "POST", "/operation/upgrade"),
            1,
            "{fault:?}: UpgradeCluster was sent once"
        );
        assert_eq!(emulator.upgrades_started(&cluster), 1);
    }
}

#[tokio::test]
async fn a_paused_task_ends_a_wait_at_once() {
    use cce_upgrade::emulator::Scenario;
    let (emulator, client) = start().await;
    let cluster = emulator.cluster_id().to_owned();
    emulator.set_scenario(&cluster, Scenario::PauseAt { progress: 30 });
    let e = client
        .upgrade(&cluster)
        .to("v1.29")
        .run()
        .await
        .expect_err("paused");
    assert_eq!(e.kind(), ErrorKind::UpgradePaused);
    let Some(Failure::Paused { task_id, .. }) = e.upgrade_failure() else {
        panic!("{e}")
    };
    let e = client
        .wait_for_upgrade_task(&cluster, task_id)
        .await
        .expect_err("a paused task does not end by itself");
    assert_eq!(e.kind(), ErrorKind::UpgradePaused);
    assert!(e.last_task().is_some());
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_skip_that_names_no_finding_is_a_warning() {
    use cce_upgrade::emulator::Scenario;
    let (emulator, client) = start().await;
    let cluster = emulator.cluster_id().to_owned();
    emulator.set_scenario(&cluster, Scenario::precheck_risk("NodeKernelCheck"));
    let e = client
        .upgrade(&cluster)
        .to("v1.29")
        .run()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PreCheckFailed);
    let mut upgrade = client
        .upgrade(&cluster)
        .to("v1.29")
        .skip_check("NodeKernelCheck")
        .skip_check("NoSuchCheck");
    let mut events = upgrade.events();
    upgrade.run().await.expect("the risk skipped, it upgrades");
    let mut warnings = Vec::new();
    while let Ok(e) = events.try_recv() {
        if let UpgradeEvent::Warning(w) = e.event {
            warnings.push(w);
        }
    }
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("NoSuchCheck"), "{warnings:?}");
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_certificate_the_client_does_not_trust_stops_the_run_at_once() {
    let fixture = |name: &str| {
        std::fs::read_to_string(format!(
            "{}/tests/data/tls/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .expect("test certificate")
    };
    let emulator = Emulator::start_with(
        EmulatorConfig::fast().tls(fixture("server.pem"), fixture("server.key")),
    )
    .await
    .expect("emulator starts");
    // The test CA is not given to the client: the certificate is not trusted.
    let client = emulator.client_builder().build().unwrap();
    let e = client
        .upgrade(emulator.cluster_id())
        .to("v1.29")
        .run()
        .await
        .expect_err("not trusted");
    assert_eq!(e.kind(), ErrorKind::Certificate, "{e}");
    assert_eq!(e.step(), Some(&Step::Inspect));
    assert!(
        emulator.requests().is_empty(),
        "nothing reached the service"
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn while_its_task_runs_the_upgrade_reads_that_task_alone_then_observes_once() {
    use cce_upgrade::emulator::Scenario;
    // Also when the service says a phase this SDK does not know: it is waited on as running.
    for newer in [false, true] {
        let (emulator, client) = start().await;
        let cluster = emulator.cluster_id().to_owned();
        if newer {
            emulator.set_scenario(&cluster, Scenario::PhaseNotKnown);
        }
        let mut upgrade = client.upgrade(&cluster).to("v1.29").post_check(false);
        let mut events = upgrade.events();
        let run = tokio::spawn(upgrade.run());
        // While it runs, the service answers the phase the scenario says (read from the
        // emulator's state: no request).
        while let Some(e) = events.recv().await {
            if matches!(e.event, UpgradeEvent::Progress(p) if p > 0.0) {
                let phase = emulator.upgrade_tasks(&cluster)[0]["status"]["phase"].clone();
                assert_eq!(phase, if newer { "Rolling" } else { "Running" });
                break;
            }
        }
        run.await.expect("no panic").expect("upgraded");
        let requests = emulator.requests();
        let path = |r: &ReceivedRequest| r.uri.split('?').next().unwrap_or_default().to_owned();
        let started = requests
            .iter()
            .position(|r| r.method == "POST" && path(r).ends_with("/operation/upgrade"))
            .expect("UpgradeCluster was sent");
        let after = &requests[started + 1..];
        let following = after
            .iter()
            .take_while(|r| r.method == "GET" && path(r).contains("/operation/upgrade/tasks/"))
            .count();
        assert!(following >= 2, "the running task was followed by its id");
        // Once it ended: one observation (cluster, version, workflows, tasks; no pre-checks any
        // more) shows the target, and the run is done.
        let rest: Vec<String> = after[following..].iter().map(path).collect();
        assert_eq!(rest.len(), 4, "newer service: {newer}: {rest:#?}");
        assert!(rest.iter().all(|p| !p.contains("precheck")), "{rest:#?}");
        assert!(after.iter().all(|r| r.method == "GET"));
        emulator.shutdown().await;
    }
}
