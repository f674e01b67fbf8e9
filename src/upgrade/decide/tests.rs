//! `decide`, row by row: one observation in, one next step out.

use std::collections::BTreeSet;

use super::*;
use crate::types::PreCheckItemKind;

const FROM: &str = "v1.28.15-r0";
const TO: &str = "v1.29.15-r0";

fn v(s: &str) -> Version {
    s.parse().unwrap()
}

fn target() -> Version {
    v(TO)
}

/// An Available CCE cluster at `FROM`, with nothing started.
fn fresh() -> Observed {
    Observed {
        flavour: Some(Flavour::Cce),
        cluster_phase: Some("Available".into()),
        version: Some(v(FROM)),
        ..Observed::default()
    }
}

fn workflow(to: &str) -> WorkflowView {
    WorkflowView {
        id: format!("wf-{to}"),
        target: to.parse().ok(),
        target_text: to.into(),
        phase: "Init".into(),
        snapshot_point: None,
        post_check_point: None,
        from: Some(FROM.into()),
    }
}

fn pre_check(id: &str, phase: PreCheckPhase) -> PreCheckView {
    PreCheckView {
        id: id.into(),
        phase: Some(phase),
        expired: false,
        skipped: Vec::new(),
        findings: Vec::new(),
        raw: PreCheckTask::default(),
    }
}

fn task(phase: UpgradeTaskPhase) -> TaskView {
    TaskView {
        id: "task-1".into(),
        phase: Some(phase),
        progress: Some(40.0),
        target_text: TO.into(),
        raw: UpgradeTask::default(),
    }
}

/// With a workflow and a passed pre-check: ready to upgrade.
fn ready() -> Observed {
    let mut o = fresh();
    o.workflows = vec![workflow(TO)];
    o.pre_check = Some(pre_check("pc-1", PreCheckPhase::Success));
    o.pre_check_ids = BTreeSet::from(["pc-1".to_owned()]);
    o
}

fn policy() -> Policy {
    Policy {
        post_check: true,
        ..Policy::default()
    }
}

fn next(o: &Observed) -> Next {
    decide(&target(), o, &policy(), &Memory::default())
}

fn failure(n: &Next) -> &Failure {
    match n {
        Next::Stop { failure, .. } => failure,
        other => panic!("expected a stop, got {other:?}"),
    }
}

#[test]
fn a_fresh_cluster_gets_a_workflow_then_a_pre_check_then_the_upgrade() {
    assert_eq!(next(&fresh()), Next::Act(Action::CreateWorkflow));
    let mut o = fresh();
    o.workflows = vec![workflow(TO)];
    assert_eq!(next(&o), Next::Act(Action::RunPreCheck));
    assert_eq!(next(&ready()), Next::Act(Action::StartUpgrade));
}

#[test]
fn every_phase_of_the_upgrade_task() {
    let rows = [
        (
            UpgradeTaskPhase::Init,
            Next::Wait(Wait::UpgradeTask("task-1".into())),
        ),
        (
            UpgradeTaskPhase::Queuing,
            Next::Wait(Wait::UpgradeTask("task-1".into())),
        ),
        (
            UpgradeTaskPhase::Running,
            Next::Wait(Wait::UpgradeTask("task-1".into())),
        ),
        (
            UpgradeTaskPhase::Unknown("Rolling".into()),
            Next::Wait(Wait::UpgradeTask("task-1".into())),
        ),
    ];
    for (phase, expected) in rows {
        let mut o = ready();
        o.task = Some(task(phase.clone()));
        o.cluster_phase = Some("Upgrading".into());
        assert_eq!(next(&o), expected, "{phase:?}");
    }
    // Failed: an error saying it can be retried, or a retry when allowed.
    let mut o = ready();
    o.task = Some(task(UpgradeTaskPhase::Failed));
    assert!(matches!(
        failure(&next(&o)),
        Failure::UpgradeFailed { retryable: true, progress: Some(p), .. } if *p == 40.0
    ));
    let retrying = Policy {
        retry_failed: 1,
        ..policy()
    };
    assert_eq!(
        decide(&target(), &o, &retrying, &Memory::default()),
        Next::Act(Action::Retry)
    );
    let used = Memory {
        retries: 1,
        ..Memory::default()
    };
    assert!(matches!(
        decide(&target(), &o, &retrying, &used),
        Next::Stop {
            failure: Failure::UpgradeFailed { .. },
            ..
        }
    ));
    // Pause: an error, or a continue when allowed (CCE only).
    let mut o = ready();
    o.task = Some(task(UpgradeTaskPhase::Pause));
    assert!(matches!(failure(&next(&o)), Failure::Paused { .. }));
    let continuing = Policy {
        continue_paused: true,
        ..policy()
    };
    assert_eq!(
        decide(&target(), &o, &continuing, &Memory::default()),
        Next::Act(Action::Continue)
    );
    o.flavour = Some(Flavour::Autopilot);
    assert!(matches!(
        decide(&target(), &o, &continuing, &Memory::default()),
        Next::Stop {
            failure: Failure::Paused { .. },
            ..
        }
    ));
}

#[test]
fn a_success_task_whose_version_did_not_change_is_waited_on_then_an_error() {
    let mut o = ready();
    o.task = Some(task(UpgradeTaskPhase::Success));
    let mut memory = Memory::default();
    memory.observe(&o, &target());
    assert!(matches!(next(&o), Next::Wait(Wait::Settle { .. })));
    for _ in 0..SETTLE_OBSERVATIONS {
        memory.observe(&o, &target());
    }
    assert!(matches!(
        decide(&target(), &o, &policy(), &memory),
        Next::Stop {
            failure: Failure::VersionNotReached { .. },
            ..
        }
    ));
}

#[test]
fn an_unreadable_version_is_never_done() {
    let mut o = ready();
    o.version = None;
    let mut memory = Memory::default();
    memory.observe(&o, &target());
    assert!(matches!(
        decide(&target(), &o, &policy(), &memory),
        Next::Wait(Wait::Settle { .. })
    ));
    for _ in 0..SETTLE_OBSERVATIONS {
        memory.observe(&o, &target());
    }
    assert!(matches!(
        decide(&target(), &o, &policy(), &memory),
        Next::Stop {
            failure: Failure::VersionUnknown,
            ..
        }
    ));
}

#[test]
fn a_lagging_phase_after_a_retry_or_continue_is_waited_on_not_repeated() {
    for (phase, pending, action) in [
        (UpgradeTaskPhase::Failed, Pending::Retry, Action::Retry),
        (UpgradeTaskPhase::Pause, Pending::Continue, Action::Continue),
    ] {
        let mut o = ready();
        o.task = Some(task(phase.clone()));
        let p = Policy {
            retry_failed: 3,
            continue_paused: true,
            ..policy()
        };
        let mut memory = Memory {
            pending: Some((pending.clone(), 0)),
            ..Memory::default()
        };
        memory.observe(&o, &target());
        let n = decide(&target(), &o, &p, &memory);
        assert!(
            matches!(n, Next::Wait(Wait::Settle { .. })),
            "{phase:?}: {n:?}"
        );
        // Once the task moves, the next one may be sent.
        o.task = Some(task(UpgradeTaskPhase::Running));
        memory.observe(&o, &target());
        assert!(memory.pending.is_none());
        o.task = Some(task(phase.clone()));
        assert_eq!(decide(&target(), &o, &p, &memory), Next::Act(action));
    }
}

#[test]
fn an_action_that_never_shows_stops_as_outcome_unknown() {
    let o = fresh();
    let mut memory = Memory {
        pending: Some((Pending::Workflow, 0)),
        ..Memory::default()
    };
    for _ in 0..SETTLE_OBSERVATIONS {
        memory.observe(&o, &target());
    }
    assert!(matches!(
        decide(&target(), &o, &policy(), &memory),
        Next::Stop {
            failure: Failure::OutcomeUnknown,
            ..
        }
    ));
    // Seen: settled, and the run goes on.
    let mut o = fresh();
    o.workflows = vec![workflow(TO)];
    memory.observe(&o, &target());
    assert!(memory.pending.is_none());
    assert_eq!(
        decide(&target(), &o, &policy(), &memory),
        Next::Act(Action::RunPreCheck)
    );
}

#[test]
fn pre_checks_running_passed_expired_failed() {
    let mut o = ready();
    // A phase this SDK does not know is waited on, never run over with a new pre-check.
    for phase in [
        PreCheckPhase::Init,
        PreCheckPhase::Running,
        PreCheckPhase::Unknown("Pending".into()),
    ] {
        o.pre_check = Some(pre_check("pc-1", phase));
        assert_eq!(next(&o), Next::Wait(Wait::PreCheck("pc-1".into())));
    }
    let mut expired = pre_check("pc-1", PreCheckPhase::Success);
    expired.expired = true;
    o.pre_check = Some(expired);
    assert_eq!(next(&o), Next::Act(Action::RunPreCheck));
    // A failed one from before this run is run again; this run's own stops it, with findings.
    let mut failed = pre_check("pc-1", PreCheckPhase::Failed);
    failed.findings = vec![Finding {
        name: "NodeKernelCheck".into(),
        kind: Some(PreCheckItemKind::Risk),
        level: None,
        message: None,
        node: None,
    }];
    o.pre_check = Some(failed);
    assert_eq!(next(&o), Next::Act(Action::RunPreCheck));
    let ours = Memory {
        our_pre_checks: BTreeSet::from(["pc-1".to_owned()]),
        ..Memory::default()
    };
    let n = decide(&target(), &o, &policy(), &ours);
    match failure(&n) {
        Failure::PreCheckFailed { findings, .. } => assert_eq!(findings[0].name, "NodeKernelCheck"),
        other => panic!("{other:?}"),
    }
    let Next::Stop { message, .. } = n else {
        unreachable!()
    };
    assert!(message.contains("skip_check"), "{message}");
    o.pre_check = Some(pre_check("pc-1", PreCheckPhase::Error));
    assert!(matches!(
        decide(&target(), &o, &policy(), &ours),
        Next::Stop {
            failure: Failure::PreCheckFailed { .. },
            ..
        }
    ));
    // Refused upgrade with this pre-check: run it again.
    o.pre_check = Some(pre_check("pc-1", PreCheckPhase::Success));
    let refused = Memory {
        refused_with_pre_check: Some("pc-1".into()),
        ..Memory::default()
    };
    assert_eq!(
        decide(&target(), &o, &policy(), &refused),
        Next::Act(Action::RunPreCheck)
    );
}

#[test]
fn a_running_snapshot_is_waited_on_never_created_again() {
    let snapshot = Policy {
        snapshot: true,
        ..policy()
    };
    let mut o = ready();
    assert_eq!(
        decide(&target(), &o, &snapshot, &Memory::default()),
        Next::Act(Action::Snapshot)
    );
    o.snapshots = vec![SnapshotView {
        id: "snap-1".into(),
        phase: Some("Running".into()),
    }];
    assert_eq!(
        decide(&target(), &o, &snapshot, &Memory::default()),
        Next::Wait(Wait::Snapshot("snap-1".into()))
    );
    // Ours succeeded: upgrade; ours failed: stop.
    let ours = Memory {
        our_snapshots: BTreeSet::from(["snap-1".to_owned()]),
        ..Memory::default()
    };
    o.snapshots[0].phase = Some("Success".into());
    assert_eq!(
        decide(&target(), &o, &snapshot, &ours),
        Next::Act(Action::StartUpgrade)
    );
    o.snapshots[0].phase = Some("Failed".into());
    assert!(matches!(
        decide(&target(), &o, &snapshot, &ours),
        Next::Stop {
            failure: Failure::SnapshotFailed { .. },
            ..
        }
    ));
    // The workflow's point says it is done.
    o.workflows[0].snapshot_point = Some("Success".into());
    assert_eq!(
        decide(&target(), &o, &snapshot, &ours),
        Next::Act(Action::StartUpgrade)
    );
}

#[test]
fn a_cluster_that_cannot_be_upgraded_blocks_before_any_write() {
    for phase in [
        "Hibernation",
        "Unavailable",
        "Scaling",
        "Creating",
        "Frozen",
    ] {
        let mut o = fresh();
        o.cluster_phase = Some(phase.into());
        let n = next(&o);
        assert!(
            matches!(failure(&n), Failure::ClusterPhase { phase: p } if p == phase),
            "{phase}: {n:?}"
        );
        assert_eq!(failure(&n).kind(), crate::ErrorKind::Blocked);
    }
    let mut o = fresh();
    o.cluster_phase = None;
    assert!(matches!(failure(&next(&o)), Failure::ClusterPhase { .. }));
    // Upgrading with this upgrade's task running is followed.
    let mut o = ready();
    o.cluster_phase = Some("Upgrading".into());
    o.task = Some(task(UpgradeTaskPhase::Running));
    assert_eq!(next(&o), Next::Wait(Wait::UpgradeTask("task-1".into())));
}

#[test]
fn an_open_workflow_or_a_task_to_another_target_blocks() {
    let mut o = fresh();
    o.workflows = vec![workflow("v1.28.16-r0")];
    assert!(
        matches!(failure(&next(&o)), Failure::OpenWorkflow { target, .. } if target == "v1.28.16-r0")
    );
    let mut o = ready();
    let mut other = task(UpgradeTaskPhase::Running);
    other.target_text = "v1.28.16-r0".into();
    o.other_task = Some(other);
    assert!(matches!(
        failure(&next(&o)),
        Failure::OtherUpgradeRunning { .. }
    ));
}

#[test]
fn at_the_target_the_post_check_then_the_pools_then_done() {
    let mut o = ready();
    o.version = Some(v(TO));
    o.task = Some(task(UpgradeTaskPhase::Success));
    let pools = Policy {
        node_pools: vec!["pool-1".into()],
        ..policy()
    };
    assert!(matches!(
        decide(&target(), &o, &pools, &Memory::default()),
        Next::Act(Action::PostCheck { .. })
    ));
    let checked = Memory {
        post_checked: true,
        ..Memory::default()
    };
    assert_eq!(
        decide(&target(), &o, &pools, &checked),
        Next::Act(Action::SyncPool("pool-1".into()))
    );
    o.job = Some(JobView {
        pool: "pool-1".into(),
        id: "job-1".into(),
        phase: Some(JobPhase::Running),
        reason: None,
    });
    assert_eq!(
        decide(&target(), &o, &pools, &checked),
        Next::Wait(Wait::Job {
            pool: "pool-1".into(),
            id: "job-1".into()
        })
    );
    o.job.as_mut().unwrap().phase = Some(JobPhase::Failed);
    assert!(matches!(
        decide(&target(), &o, &pools, &checked),
        Next::Stop {
            failure: Failure::NodePoolSyncFailed { .. },
            ..
        }
    ));
    o.job = None;
    let all = Memory {
        post_checked: true,
        pools_done: vec!["pool-1".into()],
        ..Memory::default()
    };
    assert_eq!(decide(&target(), &o, &pools, &all), Next::Done);
    // No open workflow: no post-check to run; still Upgrading: wait.
    o.workflows.clear();
    assert_eq!(next(&o), Next::Done);
    o.cluster_phase = Some("Upgrading".into());
    assert!(matches!(next(&o), Next::Wait(Wait::Settle { .. })));
}

#[test]
fn a_hibernating_cluster_at_the_target_with_nothing_left_is_done() {
    let mut o = fresh();
    o.version = Some(v(TO));
    o.cluster_phase = Some("Hibernation".into());
    assert_eq!(next(&o), Next::Done);
}
