//! The main example's two flows, end to end against the emulator, as `cargo run --example
//! upgrade_cluster` runs them (the flows are the example's own code, included from its folder).

#[path = "../examples/upgrade_cluster/flow.rs"]
#[allow(dead_code)]
mod flow;

use std::time::Duration;

use cce_upgrade::emulator::{Emulator, EmulatorConfig};
use cce_upgrade::types::{UpgradeTask, UpgradeWorkFlow};
use flow::{FlowError, Options, Progress};

#[derive(Default)]
struct Recorder {
    steps: Vec<String>,
    task_phases: Vec<String>,
    progress: Vec<f64>,
    workflow_phases: Vec<String>,
}

impl Progress for Recorder {
    fn step(&mut self, message: &str) {
        self.steps.push(message.to_owned());
    }
    fn task(&mut self, task: &UpgradeTask) {
        self.task_phases
            .push(task.phase().map(ToString::to_string).unwrap_or_default());
        self.progress.extend(task.progress_percent());
    }
    fn workflow(&mut self, workflow: &UpgradeWorkFlow) {
        self.workflow_phases.push(
            workflow
                .phase()
                .map(ToString::to_string)
                .unwrap_or_default(),
        );
    }
}

fn options(cluster_id: &str, autopilot: bool, nodepools: &[&str]) -> Options {
    Options {
        cluster_id: cluster_id.to_owned(),
        target_version: Some("v1.29.15-r0".into()),
        nodepool_ids: nodepools.iter().map(|s| s.to_string()).collect(),
        autopilot,
        poll: (Duration::from_millis(1), Duration::from_millis(5)),
    }
}

#[tokio::test]
async fn cce_flow_upgrades_the_cluster_and_syncs_its_node_pool() {
    let emulator = Emulator::start_with(EmulatorConfig::fast()).await.unwrap();
    let client = emulator.client_builder().build().unwrap();
    let mut recorder = Recorder::default();
    let summary = flow::run(
        &client,
        &options(emulator.cluster_id(), false, &[emulator.nodepool_id()]),
        &mut recorder,
    )
    .await
    .unwrap();

    assert_eq!(summary.from_version.as_deref(), Some("v1.28.15-r0"));
    assert_eq!(summary.to_version.as_deref(), Some("v1.29.15-r0"));
    assert_eq!(summary.task_phase.as_deref(), Some("Success"));
    assert_eq!(
        emulator.cluster_version(emulator.cluster_id()).as_deref(),
        Some("v1.29.15-r0")
    );
    assert_eq!(summary.nodepools_synced.len(), 1);
    assert!(
        summary.nodepools_synced[0].1.is_some(),
        "the emulator answers a job id"
    );
    assert_eq!(
        recorder.task_phases.first().map(String::as_str),
        Some("Init")
    );
    assert_eq!(
        recorder.task_phases.last().map(String::as_str),
        Some("Success")
    );
    assert!(
        recorder.progress.windows(2).all(|w| w[0] <= w[1]),
        "{:?}",
        recorder.progress
    );
    assert_eq!(recorder.progress.last(), Some(&100.0));

    // Every request id in the summary is one the server sent, for the calls it lists.
    let ops: Vec<&str> = summary.request_ids.iter().map(|(op, _)| *op).collect();
    assert_eq!(
        ops,
        [
            "CreateUpgradeWorkFlow",
            "ShowUpgradeClusterTask",
            "UpgradeNodePool"
        ]
    );
    assert!(
        summary.request_ids.iter().all(|(_, id)| id.len() == 32),
        "{:?}",
        summary.request_ids
    );
    let printed = summary.to_string();
    assert!(printed.contains("v1.28.15-r0 -> v1.29.15-r0"), "{printed}");

    let received = emulator.requests();
    assert_eq!(
        received
            .iter()
            .filter(|r| r.method == "POST" && r.uri.ends_with("/upgradeworkflows"))
            .count(),
        1
    );
    assert!(received.iter().all(|r| r.authenticated));
}

#[tokio::test]
async fn autopilot_flow_follows_the_newest_workflow_and_post_checks() {
    let emulator = Emulator::start_with(EmulatorConfig::fast()).await.unwrap();
    let client = emulator.client_builder().build().unwrap();
    let mut recorder = Recorder::default();
    let summary = flow::run(
        &client,
        &options(emulator.autopilot_cluster_id(), true, &[]),
        &mut recorder,
    )
    .await
    .unwrap();

    assert_eq!(summary.workflow_phase.as_deref(), Some("Success"));
    assert_eq!(summary.post_check_phase.as_deref(), Some("Success"));
    assert_eq!(
        recorder.workflow_phases.last().map(String::as_str),
        Some("Success")
    );
    let workflows = emulator.workflows(emulator.autopilot_cluster_id());
    assert_eq!(
        workflows[0]["metadata"]["uid"].as_str(),
        summary.workflow_id.as_deref()
    );
    let posted = emulator
        .requests()
        .into_iter()
        .filter(|r| r.uri.ends_with("/operation/postcheck"))
        .collect::<Vec<_>>();
    assert_eq!(posted.len(), 1);
    assert!(
        posted[0].uri.starts_with("/autopilot/v3/projects/"),
        "{}",
        posted[0].uri
    );
}

#[tokio::test]
async fn a_failed_upgrade_ends_the_flow_with_the_task_state() {
    let emulator = Emulator::start_with(EmulatorConfig::fast().fail_cluster_task(true))
        .await
        .unwrap();
    let client = emulator.client_builder().build().unwrap();
    let err = flow::run(
        &client,
        &options(emulator.cluster_id(), false, &[]),
        &mut Recorder::default(),
    )
    .await
    .unwrap_err();
    let FlowError::Sdk(err) = err else {
        panic!("expected an SDK error, got {err}")
    };
    assert_eq!(err.kind(), cce_upgrade::ErrorKind::UpgradeFailed);
    assert_eq!(
        err.last_task().and_then(|t| t.phase()).map(|p| p.as_str()),
        Some("Failed")
    );
    assert!(!err.to_string().contains('\n'));
}

#[tokio::test]
async fn autopilot_cluster_without_workflows_is_a_clear_precondition_error() {
    let emulator = Emulator::start_with(EmulatorConfig::fast()).await.unwrap();
    emulator.add_cluster("empty-autopilot", "v1.28.15-r0", true);
    let client = emulator.client_builder().build().unwrap();
    let err = flow::run(
        &client,
        &options("empty-autopilot", true, &[]),
        &mut Recorder::default(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, FlowError::Precondition(_)), "{err}");
    assert!(err.to_string().contains("no upgrade workflow"), "{err}");
}
