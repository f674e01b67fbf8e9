//! The driver's brain: what to do next, decided from what was read — a pure function, tested
//! row by row.
//!
//! [`decide`] takes the goal (the target), what one observation of the service found
//! ([`Observed`]), the caller's policy and the little this run remembers of its own actions
//! ([`Memory`]: counts, and an action whose effect has not been seen yet), and answers one
//! [`Next`]: done, stop (with why and what to do), wait (for what), or one action.

use std::collections::BTreeSet;

use crate::types::{JobPhase, PreCheckPhase, PreCheckTask, UpgradeTask, UpgradeTaskPhase};
use crate::version::Version;

use super::Flavour;
use super::report::{Failure, Finding, Step};

/// How many observations an action's effect may take to show before the run gives up on it.
pub(crate) const SETTLE_OBSERVATIONS: u32 = 5;

/// What the caller asked for, beyond the target.
#[derive(Clone, Debug, Default)]
pub(crate) struct Policy {
    pub(crate) snapshot: bool,
    pub(crate) skips: Vec<String>,
    pub(crate) post_check: bool,
    pub(crate) node_pools: Vec<String>,
    pub(crate) retry_failed: u32,
    pub(crate) continue_paused: bool,
}

/// One read of where the cluster stands.
#[derive(Clone, Debug, Default)]
pub(crate) struct Observed {
    pub(crate) flavour: Option<Flavour>,
    /// `status.phase` of the cluster, as the service spelt it; `None` when it said nothing.
    pub(crate) cluster_phase: Option<String>,
    /// The cluster's version, when the upgrade info says it.
    pub(crate) version: Option<Version>,
    /// Open workflows (neither `Success` nor `Cancel`).
    pub(crate) workflows: Vec<WorkflowView>,
    /// Every pre-check id the service lists.
    pub(crate) pre_check_ids: BTreeSet<String>,
    /// The newest pre-check to the target.
    pub(crate) pre_check: Option<PreCheckView>,
    /// Every snapshot task (newest last).
    pub(crate) snapshots: Vec<SnapshotView>,
    /// The newest upgrade task to the target.
    pub(crate) task: Option<TaskView>,
    /// An unfinished upgrade task to another version.
    pub(crate) other_task: Option<TaskView>,
    /// The node-pool job this run follows, when it follows one.
    pub(crate) job: Option<JobView>,
}

#[derive(Clone, Debug)]
pub(crate) struct WorkflowView {
    pub(crate) id: String,
    pub(crate) target: Option<Version>,
    pub(crate) target_text: String,
    pub(crate) phase: String,
    /// The status of its `Snapshot` point, if it has one.
    pub(crate) snapshot_point: Option<String>,
    /// The status of its `PostCheck` point, if it has one.
    pub(crate) post_check_point: Option<String>,
    /// The version it upgrades from, as the service normalised it.
    pub(crate) from: Option<String>,
}

#[derive(Clone, Debug)]
pub(crate) struct PreCheckView {
    pub(crate) id: String,
    pub(crate) phase: Option<PreCheckPhase>,
    pub(crate) expired: bool,
    /// The items it skipped, by name.
    pub(crate) skipped: Vec<String>,
    pub(crate) findings: Vec<Finding>,
    pub(crate) raw: PreCheckTask,
}

#[derive(Clone, Debug)]
pub(crate) struct SnapshotView {
    pub(crate) id: String,
    pub(crate) phase: Option<String>,
}

#[derive(Clone, Debug)]
pub(crate) struct TaskView {
    pub(crate) id: String,
    pub(crate) phase: Option<UpgradeTaskPhase>,
    /// A finite number in 0–100, or `None` (unknown).
    pub(crate) progress: Option<f64>,
    pub(crate) target_text: String,
    /// The task as read (an error's last state).
    pub(crate) raw: UpgradeTask,
}

#[derive(Clone, Debug)]
pub(crate) struct JobView {
    pub(crate) pool: String,
    pub(crate) id: String,
    pub(crate) phase: Option<JobPhase>,
    pub(crate) reason: Option<String>,
}

/// An action sent whose effect the observations have not shown yet.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Pending {
    /// `CreateUpgradeWorkFlow`: settled when an open workflow to the target shows.
    Workflow,
    /// `CreatePreCheck`: settled when a pre-check not in `before` shows.
    PreCheck { before: BTreeSet<String> },
    /// `CreateClusterMasterSnapshot`: settled when a snapshot not in `before` shows.
    Snapshot { before: BTreeSet<String> },
    /// `UpgradeCluster`: settled when an upgrade task to the target shows.
    Upgrade,
    /// `RetryUpgradeClusterTask`: settled when the task is no longer `Failed`.
    Retry,
    /// `ContinueUpgradeClusterTask`: settled when the task is no longer `Pause`d.
    Continue,
}

impl Pending {
    fn step(&self) -> Step {
        match self {
            Pending::Workflow => Step::Workflow,
            Pending::PreCheck { .. } => Step::PreCheck,
            Pending::Snapshot { .. } => Step::Snapshot,
            Pending::Upgrade | Pending::Retry | Pending::Continue => Step::Upgrade,
        }
    }

    fn settled(&self, o: &Observed, target: &Version) -> bool {
        match self {
            Pending::Workflow => open_workflow_to(o, target).is_some(),
            Pending::PreCheck { before } => o.pre_check_ids.iter().any(|id| !before.contains(id)),
            Pending::Snapshot { before } => o.snapshots.iter().any(|s| !before.contains(&s.id)),
            Pending::Upgrade => o.task.is_some(),
            Pending::Retry => !matches!(
                o.task.as_ref().and_then(|t| t.phase.as_ref()),
                Some(UpgradeTaskPhase::Failed)
            ),
            Pending::Continue => !matches!(
                o.task.as_ref().and_then(|t| t.phase.as_ref()),
                Some(UpgradeTaskPhase::Pause)
            ),
        }
    }
}

/// What this run remembers of its own actions: counts, and what it sent last.
#[derive(Clone, Debug, Default)]
pub(crate) struct Memory {
    pub(crate) retries: u32,
    pub(crate) continues: u32,
    /// The last action sent, until an observation shows its effect; with how many
    /// observations have not shown it yet.
    pub(crate) pending: Option<(Pending, u32)>,
    /// Pre-checks this run created (their ids, once seen).
    pub(crate) our_pre_checks: BTreeSet<String>,
    /// Snapshots this run created.
    pub(crate) our_snapshots: BTreeSet<String>,
    /// The pre-check in force when the service refused `UpgradeCluster` (it may have expired
    /// on the service's clock): it is run again, once.
    pub(crate) refused_with_pre_check: Option<String>,
    /// The post-check ran in this run.
    pub(crate) post_checked: bool,
    /// Node pools synced by this run.
    pub(crate) pools_done: Vec<String>,
    /// Observations in a row with a succeeded task and the version not at the target.
    pub(crate) unverified: u32,
    /// Observations in a row without the cluster's version.
    pub(crate) no_version: u32,
}

impl Memory {
    /// Takes in what an observation shows of the pending action: settles it (and notes the
    /// pre-check or snapshot it created), or counts one more observation without it.
    pub(crate) fn observe(&mut self, o: &Observed, target: &Version) {
        if let Some((pending, misses)) = &mut self.pending {
            if pending.settled(o, target) {
                match pending {
                    Pending::PreCheck { before } => self.our_pre_checks.extend(
                        o.pre_check_ids
                            .iter()
                            .filter(|i| !before.contains(*i))
                            .cloned(),
                    ),
                    Pending::Snapshot { before } => self.our_snapshots.extend(
                        o.snapshots
                            .iter()
                            .filter(|s| !before.contains(&s.id))
                            .map(|s| s.id.clone()),
                    ),
                    _ => {}
                }
                self.pending = None;
            } else {
                *misses += 1;
            }
        }
        let at_target = o.version.as_ref().is_some_and(|v| target.matches(v));
        let succeeded = matches!(
            o.task.as_ref().and_then(|t| t.phase.as_ref()),
            Some(UpgradeTaskPhase::Success)
        );
        self.unverified = if succeeded && !at_target && o.version.is_some() {
            self.unverified + 1
        } else {
            0
        };
        self.no_version = if o.version.is_none() {
            self.no_version + 1
        } else {
            0
        };
    }
}

/// One thing to do.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Action {
    CreateWorkflow,
    RunPreCheck,
    Snapshot,
    StartUpgrade,
    Retry,
    Continue,
    /// The post-check of the open workflow (the version it upgraded from).
    PostCheck {
        from: Option<String>,
    },
    SyncPool(String),
}

impl Action {
    pub(crate) fn step(&self) -> Step {
        match self {
            Action::CreateWorkflow => Step::Workflow,
            Action::RunPreCheck => Step::PreCheck,
            Action::Snapshot => Step::Snapshot,
            Action::StartUpgrade | Action::Retry | Action::Continue => Step::Upgrade,
            Action::PostCheck { .. } => Step::PostCheck,
            Action::SyncPool(pool) => Step::NodePoolSync(pool.clone()),
        }
    }
}

/// What to wait for before the next observation.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Wait {
    /// A pre-check that runs.
    PreCheck(String),
    /// A snapshot that runs.
    Snapshot(String),
    /// The upgrade task that runs.
    UpgradeTask(String),
    /// A node pool's job.
    Job { pool: String, id: String },
    /// Something to settle (an action's effect, a phase that lags): observe again later.
    Settle { step: Step, why: String },
}

impl Wait {
    pub(crate) fn step(&self) -> Step {
        match self {
            Wait::PreCheck(_) => Step::PreCheck,
            Wait::Snapshot(_) => Step::Snapshot,
            Wait::UpgradeTask(_) => Step::Upgrade,
            Wait::Job { pool, .. } => Step::NodePoolSync(pool.clone()),
            Wait::Settle { step, .. } => step.clone(),
        }
    }
}

/// The answer of [`decide`].
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Next {
    /// The cluster runs the target and everything asked for is done.
    Done,
    /// The run cannot go on: why (typed), in which step, and the message that says what to do.
    Stop {
        step: Step,
        failure: Failure,
        message: String,
    },
    Wait(Wait),
    Act(Action),
}

fn stop(step: Step, failure: Failure, message: impl Into<String>) -> Next {
    Next::Stop {
        step,
        failure,
        message: message.into(),
    }
}

/// The open workflow to `target`, newest first as listed.
pub(crate) fn open_workflow_to<'a>(o: &'a Observed, target: &Version) -> Option<&'a WorkflowView> {
    o.workflows.iter().rev().find(|w| {
        w.target
            .as_ref()
            .is_some_and(|t| target.matches(t) || t.matches(target))
    })
}

/// Decides the next step toward `target` from one observation.
pub(crate) fn decide(target: &Version, o: &Observed, policy: &Policy, memory: &Memory) -> Next {
    // An action sent and not seen yet: wait for it to show (a bounded number of times).
    if let Some((pending, misses)) = &memory.pending {
        if *misses >= SETTLE_OBSERVATIONS {
            return stop(
                pending.step(),
                Failure::OutcomeUnknown,
                format!(
                    "what this run sent in this step has not shown in {misses} reads of the \
                     service; run the upgrade again: it reads what happened and goes on from there"
                ),
            );
        }
        return Next::Wait(Wait::Settle {
            step: pending.step(),
            why: "waiting for the service to show what was sent".into(),
        });
    }

    let Some(version) = &o.version else {
        return if memory.no_version >= SETTLE_OBSERVATIONS {
            stop(
                Step::Inspect,
                Failure::VersionUnknown,
                "the service did not say the cluster's version (ShowClusterUpgradeInfo); the \
                 upgrade cannot be verified: look at the cluster in the console",
            )
        } else {
            Next::Wait(Wait::Settle {
                step: Step::Inspect,
                why: "the service did not say the cluster's version".into(),
            })
        };
    };
    let at_target = target.matches(version);
    let phase = o.cluster_phase.as_deref();
    let workflow = open_workflow_to(o, target);

    if at_target {
        // Upgraded (now or before): the post-check and the node pools, if asked.
        if phase == Some("Upgrading") {
            return Next::Wait(Wait::Settle {
                step: Step::Upgrade,
                why: "the cluster runs the target but is still Upgrading".into(),
            });
        }
        if let Some(blocked) = phase_blocks(o, false) {
            // Writes are left; nothing is left to do without them.
            if policy.post_check && needs_post_check(workflow, memory)
                || pools_left(policy, memory).is_some()
            {
                return blocked;
            }
            return Next::Done;
        }
        if policy.post_check
            && needs_post_check(workflow, memory)
            && let Some(w) = workflow
        {
            return Next::Act(Action::PostCheck {
                from: w.from.clone(),
            });
        }
        if let Some(job) = &o.job
            && !memory.pools_done.contains(&job.pool)
        {
            return match &job.phase {
                Some(JobPhase::Success) => Next::Wait(Wait::Settle {
                    step: Step::NodePoolSync(job.pool.clone()),
                    why: "recording the node pool's job".into(),
                }),
                Some(JobPhase::Failed) => stop(
                    Step::NodePoolSync(job.pool.clone()),
                    Failure::NodePoolSyncFailed {
                        pool: job.pool.clone(),
                        job_id: job.id.clone(),
                    },
                    format!(
                        "syncing node pool {} failed (job {}): {}",
                        job.pool,
                        job.id,
                        job.reason
                            .as_deref()
                            .unwrap_or("the service gave no reason")
                    ),
                ),
                _ => Next::Wait(Wait::Job {
                    pool: job.pool.clone(),
                    id: job.id.clone(),
                }),
            };
        }
        if let Some(pool) = pools_left(policy, memory) {
            return Next::Act(Action::SyncPool(pool));
        }
        return Next::Done;
    }

    // Not at the target yet.
    if version > target && !target.is_minor_only() {
        return stop(
            Step::Inspect,
            Failure::TargetNotAllowed {
                requested: target.to_string(),
                allowed: Vec::new(),
            },
            format!(
                "the cluster runs {version}, higher than {target}: a cluster is never downgraded"
            ),
        );
    }
    if let Some(other) = &o.other_task {
        return stop(
            Step::Upgrade,
            Failure::OtherUpgradeRunning {
                task_id: other.id.clone(),
                target: other.target_text.clone(),
            },
            format!(
                "an upgrade to {} (task {}) is under way; let it finish, then run this upgrade",
                other.target_text, other.id
            ),
        );
    }
    if let Some(w) = o.workflows.iter().find(|w| {
        !w.target
            .as_ref()
            .is_some_and(|t| target.matches(t) || t.matches(target))
    }) {
        return stop(
            Step::Workflow,
            Failure::OpenWorkflow {
                workflow_id: w.id.clone(),
                target: w.target_text.clone(),
            },
            format!(
                "workflow {} to {} is still open ({}): finish it, or cancel it \
                 (client.upgrade(id).cancel()), before upgrading to {target}",
                w.id, w.target_text, w.phase
            ),
        );
    }

    // The upgrade task to the target, when there is one, decides.
    if let Some(task) = &o.task {
        let running_ok = matches!(phase, Some("Available" | "Upgrading"));
        match &task.phase {
            Some(UpgradeTaskPhase::Success) => {
                return if memory.unverified >= SETTLE_OBSERVATIONS {
                    stop(
                        Step::Upgrade,
                        Failure::VersionNotReached {
                            task_id: task.id.clone(),
                            found: version.to_string(),
                        },
                        format!(
                            "upgrade task {} says Success, but the cluster still runs {version}, \
                             not {target}: look at the cluster in the console before going on",
                            task.id
                        ),
                    )
                } else {
                    Next::Wait(Wait::Settle {
                        step: Step::Upgrade,
                        why: "the task succeeded; waiting for the cluster's version to show it"
                            .into(),
                    })
                };
            }
            Some(UpgradeTaskPhase::Failed) => {
                let at = progress_text(task.progress);
                return if memory.retries < policy.retry_failed {
                    if !running_ok && let Some(blocked) = phase_blocks(o, true) {
                        return blocked;
                    }
                    Next::Act(Action::Retry)
                } else {
                    stop(
                        Step::Upgrade,
                        Failure::UpgradeFailed {
                            task_id: task.id.clone(),
                            progress: task.progress,
                            retryable: true,
                        },
                        format!(
                            "upgrade task {} failed at {at}%; it can be retried: run again with \
                             .retry_failed(1) (RetryUpgradeClusterTask)",
                            task.id
                        ),
                    )
                };
            }
            Some(UpgradeTaskPhase::Pause) => {
                let at = progress_text(task.progress);
                return if policy.continue_paused
                    && o.flavour != Some(Flavour::Autopilot)
                    && memory.continues < MAX_CONTINUES
                {
                    Next::Act(Action::Continue)
                } else {
                    stop(
                        Step::Upgrade,
                        Failure::Paused {
                            task_id: task.id.clone(),
                            progress: task.progress,
                        },
                        format!(
                            "upgrade task {} is paused at {at}%; it does not move until \
                             continued: run again with .continue_paused(true) \
                             (ContinueUpgradeClusterTask)",
                            task.id
                        ),
                    )
                };
            }
            _ => return Next::Wait(Wait::UpgradeTask(task.id.clone())),
        }
    }

    // Nothing started yet: every write from here needs an Available cluster.
    if let Some(blocked) = phase_blocks(o, false) {
        return blocked;
    }
    if workflow.is_none() {
        return Next::Act(Action::CreateWorkflow);
    }

    // The pre-check.
    let skips_match = |pc: &PreCheckView| {
        policy
            .skips
            .iter()
            .all(|s| pc.skipped.iter().any(|k| k == s))
    };
    match &o.pre_check {
        Some(pc) if pre_check_runs(pc.phase.as_ref()) => {
            return Next::Wait(Wait::PreCheck(pc.id.clone()));
        }
        Some(pc)
            if pc.phase == Some(PreCheckPhase::Success)
                && !pc.expired
                && memory.refused_with_pre_check.as_deref() != Some(pc.id.as_str()) => {}
        Some(pc)
            if matches!(pc.phase, Some(PreCheckPhase::Failed | PreCheckPhase::Error))
                && memory.our_pre_checks.contains(&pc.id)
                && skips_match(pc) =>
        {
            return stop(
                Step::PreCheck,
                Failure::PreCheckFailed {
                    task_id: Some(pc.id.clone()),
                    findings: pc.findings.clone(),
                },
                pre_check_message(&pc.id, &pc.findings),
            );
        }
        _ => return Next::Act(Action::RunPreCheck),
    }

    // The snapshot.
    if policy.snapshot {
        let done = workflow
            .and_then(|w| w.snapshot_point.as_deref())
            .is_some_and(|s| s == "Success");
        if !done {
            if let Some(s) = o
                .snapshots
                .iter()
                .rev()
                .find(|s| snapshot_runs(s.phase.as_deref()))
            {
                return Next::Wait(Wait::Snapshot(s.id.clone()));
            }
            let ours = o
                .snapshots
                .iter()
                .rev()
                .find(|s| memory.our_snapshots.contains(&s.id));
            match ours.map(|s| s.phase.as_deref()) {
                Some(Some("Success")) => {}
                Some(Some(p)) => {
                    let id = ours.map(|s| s.id.clone()).unwrap_or_default();
                    return stop(
                        Step::Snapshot,
                        Failure::SnapshotFailed {
                            snapshot_id: id.clone(),
                        },
                        format!(
                            "the master snapshot {id} ended {p}; look at it in the console, or run \
                             without .snapshot(true)"
                        ),
                    );
                }
                _ => return Next::Act(Action::Snapshot),
            }
        }
    }
    Next::Act(Action::StartUpgrade)
}

/// Whether a pre-check in `phase` has not ended: `Init`, `Running`, no phase, or one this SDK
/// does not know yet (waited on, never run again over).
pub(crate) fn pre_check_runs(phase: Option<&PreCheckPhase>) -> bool {
    !matches!(
        phase,
        Some(PreCheckPhase::Success | PreCheckPhase::Failed | PreCheckPhase::Error)
    )
}

/// Whether a snapshot task in `phase` has not ended (as [`pre_check_runs`]: an unknown phase or
/// none is waited on).
pub(crate) fn snapshot_runs(phase: Option<&str>) -> bool {
    !matches!(phase, Some("Success" | "Failed" | "Error"))
}

/// How many times one run continues a paused task.
pub(crate) const MAX_CONTINUES: u32 = 3;

fn needs_post_check(workflow: Option<&WorkflowView>, memory: &Memory) -> bool {
    !memory.post_checked
        && workflow.is_some_and(|w| w.post_check_point.as_deref() != Some("Success"))
}

fn pools_left(policy: &Policy, memory: &Memory) -> Option<String> {
    policy
        .node_pools
        .iter()
        .find(|p| !memory.pools_done.contains(p))
        .cloned()
}

/// A stop when the cluster's phase does not allow a write: `Available`, or `Upgrading` when
/// `upgrading_ok` (this upgrade's task runs).
fn phase_blocks(o: &Observed, upgrading_ok: bool) -> Option<Next> {
    match o.cluster_phase.as_deref() {
        Some("Available") => None,
        Some("Upgrading") if upgrading_ok => None,
        Some(p) => Some(stop(
            Step::Inspect,
            Failure::ClusterPhase {
                phase: p.to_owned(),
            },
            format!(
                "the cluster is {p}, not Available: {}; nothing was sent",
                phase_advice(p)
            ),
        )),
        None => Some(stop(
            Step::Inspect,
            Failure::ClusterPhase {
                phase: "unknown".into(),
            },
            "the service did not say the cluster's phase (ShowCluster); nothing was sent: look \
             at the cluster in the console",
        )),
    }
}

fn phase_advice(phase: &str) -> &'static str {
    match phase {
        "Hibernation" | "Hibernating" => "wake it up (AwakeCluster), then run the upgrade again",
        "Upgrading" => "another upgrade is under way; let it finish",
        "Creating" | "Resizing" | "Scaling" | "Awaking" | "Deleting" | "Upgrading Failed" => {
            "wait until the operation under way has ended, then run the upgrade again"
        }
        "Unavailable" | "Error" | "Abnormal" => {
            "repair it first (look at it in the console), then run the upgrade again"
        }
        _ => "wait until it is Available, then run the upgrade again",
    }
}

fn progress_text(p: Option<f64>) -> String {
    p.map_or_else(|| "?".to_owned(), |p| format!("{p:.2}"))
}

/// The message of a failed pre-check: what was found, and what to do about it.
pub(crate) fn pre_check_message(id: &str, findings: &[Finding]) -> String {
    let (skippable, blocking): (Vec<&Finding>, Vec<&Finding>) =
        findings.iter().partition(|f| f.is_skippable());
    let mut message = format!("the pre-check {id} did not pass");
    if !blocking.is_empty() {
        message.push_str(&format!(
            "; fix these first (exceptions cannot be skipped): {}",
            blocking
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    if !skippable.is_empty() {
        let names: Vec<&str> = skippable.iter().map(|f| f.name.as_str()).collect();
        message.push_str(&format!(
            "; these risks may be skipped with Upgrade::skip_check(NAME): {}",
            names.join(", ")
        ));
    }
    if findings.is_empty() {
        message.push_str("; the service listed no item: look at the pre-check in the console");
    }
    message
}

#[cfg(test)]
mod tests;
