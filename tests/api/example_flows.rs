//! The main example's flow, end to end against the emulator, as `cargo run --example
//! upgrade_cluster` runs it (the flow is the example's own code, included from its folder).
//! Tasks move one step per read, so nothing here depends on the machine's pace.

#[path = "../../examples/upgrade_cluster/flow.rs"]
#[allow(dead_code)]
mod flow;

use std::time::Duration;

use cce_upgrade::emulator::{DEMO_VERSION, Scenario};
use cce_upgrade::upgrade::UpgradeEvent;
use flow::{Options, Outcome};

fn options(cluster_id: &str) -> Options {
    Options {
        cluster_id: cluster_id.to_owned(),
        target_version: None,
        nodepool_ids: Vec::new(),
        autopilot: false,
        snapshot: false,
        skip_checks: Vec::new(),
        plan: false,
        retry_failed: false,
        poll: (Duration::from_millis(1), Duration::from_millis(4)),
    }
}

use crate::common::start;

#[tokio::test]
async fn the_cce_flow_upgrades_to_the_latest_allowed_version_and_syncs_the_pool() {
    let emulator = start().await;
    let client = emulator.client_builder().build().unwrap();
    let mut o = options(emulator.cluster_id());
    o.nodepool_ids.push(emulator.nodepool_id().to_owned());
    o.snapshot = true;
    let mut steps = Vec::new();
    let outcome = flow::run(&client, &o, |e| {
        if let UpgradeEvent::StepStarted(step) = e {
            steps.push(step.to_string());
        }
    })
    .await
    .expect("the flow completes");
    let Outcome::Upgraded(report) = &outcome else {
        panic!("an upgrade, not a plan")
    };
    assert_eq!(report.target, "v1.30.14-r0", "the latest allowed");
    assert_eq!(
        emulator.cluster_version(emulator.cluster_id()).as_deref(),
        Some("v1.30.14-r0")
    );
    assert_eq!(
        steps,
        [
            "inspect",
            "workflow",
            "pre-check",
            "snapshot",
            "upgrade",
            "post-check",
            &format!("node pool sync ({})", emulator.nodepool_id()),
        ]
    );
    let summary = flow::summary(&outcome);
    assert!(
        summary.contains(&format!("{DEMO_VERSION} -> v1.30.14-r0")),
        "{summary}"
    );
    assert_eq!(emulator.upgrades_started(emulator.cluster_id()), 1);
    emulator.shutdown().await;
}

#[tokio::test]
async fn the_autopilot_flow_finishes_the_open_workflow() {
    let emulator = start().await;
    let client = emulator.client_builder().build().unwrap();
    let cluster = emulator.autopilot_cluster_id().to_owned();
    let mut o = options(&cluster);
    o.autopilot = true;
    let outcome = flow::run(&client, &o, |_| {}).await.expect("completes");
    let Outcome::Upgraded(report) = outcome else {
        panic!("an upgrade")
    };
    assert_eq!(emulator.cluster_version(&cluster), report.version_after);
    assert_ne!(report.version_after.as_deref(), Some(DEMO_VERSION));
    assert_eq!(emulator.upgrades_started(&cluster), 1);
    emulator.shutdown().await;
}

#[tokio::test]
async fn plan_then_skip_check_then_retry_failed() {
    let emulator = start().await;
    let client = emulator.client_builder().build().unwrap();
    let cluster = emulator.cluster_id().to_owned();
    emulator.set_scenario(&cluster, Scenario::precheck_risk("NodeKernelCheck"));
    emulator.set_scenario(&cluster, Scenario::UpgradeFailsAt { progress: 60 });

    // --plan: the finding and how to skip it; nothing started.
    let mut o = options(&cluster);
    o.target_version = Some("v1.29".into());
    o.plan = true;
    let plan = flow::run(&client, &o, |_| {}).await.expect("a plan");
    let summary = flow::summary(&plan);
    assert!(
        summary.contains("--skip-check NodeKernelCheck"),
        "{summary}"
    );
    assert!(summary.contains("Nothing else was started"), "{summary}");
    assert_eq!(emulator.upgrades_started(&cluster), 0);

    // --skip-check: the upgrade starts, then fails at 60%.
    o.plan = false;
    o.skip_checks.push("NodeKernelCheck".into());
    let e = flow::run(&client, &o, |_| {})
        .await
        .expect_err("fails at 60%");
    assert_eq!(e.step(), Some(&cce_upgrade::upgrade::Step::Upgrade));
    assert_eq!(emulator.upgrades_started(&cluster), 1);

    // --retry-failed: it completes, with the same one upgrade.
    o.retry_failed = true;
    let outcome = flow::run(&client, &o, |_| {}).await.expect("completes");
    let summary = flow::summary(&outcome);
    assert!(summary.contains("1 retry"), "{summary}");
    assert_eq!(
        emulator.cluster_version(&cluster).as_deref(),
        Some("v1.29.15-r0")
    );
    assert_eq!(emulator.upgrades_started(&cluster), 1);
    emulator.shutdown().await;
}
