//! What an upgrade tells as it goes ([`UpgradeEvent`]) and when it ends ([`UpgradeReport`],
//! [`UpgradePlan`]).

use std::fmt;
use std::time::Duration;

use crate::timestamp::Timestamp;
use crate::types::{PreCheckItemKind, PreCheckItemLevel};

/// A step of an upgrade, in the order the service runs them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Step {
    /// Reading where the cluster stands: its version, the allowed targets, its workflows and
    /// tasks.
    Inspect,
    /// The upgrade workflow (`CreateUpgradeWorkFlow`), which ties the steps together.
    Workflow,
    /// The pre-upgrade check (`CreatePreCheck`).
    PreCheck,
    /// The master snapshot, a backup (`CreateClusterMasterSnapshot`).
    Snapshot,
    /// The upgrade itself (`UpgradeCluster`).
    Upgrade,
    /// The post-upgrade check (`CreatePostCheck`).
    PostCheck,
    /// Syncing a node pool to its configuration (`UpgradeNodePool`), by pool id.
    NodePoolSync(String),
}

impl Step {
    /// The step's name as errors and events spell it.
    pub fn name(&self) -> &'static str {
        match self {
            Step::Inspect => "inspect",
            Step::Workflow => "workflow",
            Step::PreCheck => "pre-check",
            Step::Snapshot => "snapshot",
            Step::Upgrade => "upgrade",
            Step::PostCheck => "post-check",
            Step::NodePoolSync(_) => "node pool sync",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::NodePoolSync(pool) => write!(f, "node pool sync ({pool})"),
            other => f.write_str(other.name()),
        }
    }
}

/// What stopped an upgrade, typed: [`Error::upgrade_failure`](crate::Error::upgrade_failure).
/// The error's message says the same in words, with what to do.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Failure {
    /// The pre-check did not pass ([`ErrorKind::PreCheckFailed`](crate::ErrorKind::PreCheckFailed)):
    /// its findings, of which [`Finding::is_skippable`] tells which may be skipped.
    PreCheckFailed {
        /// The pre-check task.
        task_id: Option<String>,
        /// What it found.
        findings: Vec<Finding>,
    },
    /// The upgrade task failed ([`ErrorKind::UpgradeFailed`](crate::ErrorKind::UpgradeFailed)).
    UpgradeFailed {
        /// The task.
        task_id: String,
        /// Where it failed, in percent.
        progress: Option<f64>,
        /// Whether `RetryUpgradeClusterTask` may run it again ([`Upgrade::retry_failed`](crate::upgrade::Upgrade::retry_failed)).
        retryable: bool,
    },
    /// The upgrade task is paused ([`ErrorKind::UpgradePaused`](crate::ErrorKind::UpgradePaused)).
    Paused {
        /// The task.
        task_id: String,
        /// Where it paused, in percent.
        progress: Option<f64>,
    },
    /// The cluster's phase allows no upgrade now ([`ErrorKind::Blocked`](crate::ErrorKind::Blocked)):
    /// e.g. `Hibernation`, `Unavailable`.
    ClusterPhase {
        /// The phase, as the service spelt it (`unknown` when it said none).
        phase: String,
    },
    /// A workflow to another target is open ([`ErrorKind::Blocked`](crate::ErrorKind::Blocked)):
    /// finish it or cancel it ([`Upgrade::cancel`](crate::upgrade::Upgrade::cancel)).
    OpenWorkflow {
        /// The workflow.
        workflow_id: String,
        /// Its target.
        target: String,
    },
    /// An upgrade to another version is under way ([`ErrorKind::Blocked`](crate::ErrorKind::Blocked)).
    OtherUpgradeRunning {
        /// Its task.
        task_id: String,
        /// Its target.
        target: String,
    },
    /// The target is not one the cluster can be upgraded to
    /// ([`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput), field `to`).
    TargetNotAllowed {
        /// The target asked for.
        requested: String,
        /// The versions the service allows from the cluster's version.
        allowed: Vec<String>,
    },
    /// The task said `Success`, but the cluster's version, read back, is not the target
    /// ([`ErrorKind::UpgradeFailed`](crate::ErrorKind::UpgradeFailed)).
    VersionNotReached {
        /// The task.
        task_id: String,
        /// The version the cluster reports.
        found: String,
    },
    /// The service does not say the cluster's version, so the upgrade cannot be verified
    /// ([`ErrorKind::UpgradeFailed`](crate::ErrorKind::UpgradeFailed)).
    VersionUnknown,
    /// The master snapshot failed ([`ErrorKind::UpgradeFailed`](crate::ErrorKind::UpgradeFailed)).
    SnapshotFailed {
        /// The snapshot task.
        snapshot_id: String,
    },
    /// The post-upgrade check did not pass; the upgrade itself succeeded
    /// ([`ErrorKind::UpgradeFailed`](crate::ErrorKind::UpgradeFailed)).
    PostCheckFailed {
        /// Its phase, as the service spelt it.
        phase: String,
    },
    /// A node pool's sync job failed ([`ErrorKind::UpgradeFailed`](crate::ErrorKind::UpgradeFailed)).
    NodePoolSyncFailed {
        /// The pool.
        pool: String,
        /// Its job.
        job_id: String,
    },
    /// The run's deadline passed ([`ErrorKind::WaitTimedOut`](crate::ErrorKind::WaitTimedOut));
    /// nothing was sent after it. Run again to go on from where the cluster stands.
    DeadlinePassed,
    /// What this run sent did not show in the service's answers
    /// ([`ErrorKind::OutcomeUnknown`](crate::ErrorKind::OutcomeUnknown)); it was not sent again.
    OutcomeUnknown,
    /// The operation does not exist for the cluster's flavour (e.g. node pools on Autopilot)
    /// ([`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput)).
    NotForFlavour,
}

impl Failure {
    /// The [`ErrorKind`](crate::ErrorKind) an error with this failure has.
    pub fn kind(&self) -> crate::ErrorKind {
        use crate::ErrorKind as K;
        match self {
            Failure::PreCheckFailed { .. } => K::PreCheckFailed,
            Failure::Paused { .. } => K::UpgradePaused,
            Failure::ClusterPhase { .. }
            | Failure::OpenWorkflow { .. }
            | Failure::OtherUpgradeRunning { .. } => K::Blocked,
            Failure::TargetNotAllowed { .. } | Failure::NotForFlavour => K::InvalidInput,
            Failure::DeadlinePassed => K::WaitTimedOut,
            Failure::OutcomeUnknown => K::OutcomeUnknown,
            Failure::UpgradeFailed { .. }
            | Failure::VersionNotReached { .. }
            | Failure::VersionUnknown
            | Failure::SnapshotFailed { .. }
            | Failure::PostCheckFailed { .. }
            | Failure::NodePoolSyncFailed { .. } => K::UpgradeFailed,
        }
    }
}

/// One finding of a pre-check: an item that did not pass.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Finding {
    /// The check item's name, e.g. `NodeKernelCheck`: what to pass to
    /// [`Upgrade::skip_check`](crate::upgrade::Upgrade::skip_check) when it may be skipped.
    pub name: String,
    /// `Risk` (may be skipped) or `Exception` (must be fixed).
    pub kind: Option<PreCheckItemKind>,
    /// `Info`, `Warning` or `Fatal`.
    pub level: Option<PreCheckItemLevel>,
    /// What the service said.
    pub message: Option<String>,
    /// The node it concerns, for node items.
    pub node: Option<String>,
}

impl Finding {
    /// Whether the upgrade may go on by skipping this item: a `Risk`. An `Exception` must be
    /// fixed first.
    pub fn is_skippable(&self) -> bool {
        self.kind == Some(PreCheckItemKind::Risk)
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = self.kind.as_ref().map_or("finding", |k| k.as_str());
        write!(f, "{kind} `{}`", self.name)?;
        if let Some(node) = &self.node {
            write!(f, " on node {node}")?;
        }
        if let Some(message) = &self.message {
            write!(f, ": {message}")?;
        }
        Ok(())
    }
}

/// An [`UpgradeEvent`] of one cluster: what [`Upgrade::on_event`](crate::upgrade::Upgrade::on_event)
/// and [`Upgrade::events`](crate::upgrade::Upgrade::events) deliver. It dereferences to the
/// event, so `match &*event { UpgradeEvent::Progress(p) => .., _ => .. }` reads it.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Event {
    /// The cluster it happened to.
    pub cluster_id: String,
    /// What happened.
    pub event: UpgradeEvent,
}

impl std::ops::Deref for Event {
    type Target = UpgradeEvent;

    fn deref(&self) -> &UpgradeEvent {
        &self.event
    }
}

/// What happens during an upgrade, as it happens.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum UpgradeEvent {
    /// A step starts (or is found under way, see [`UpgradeEvent::Resumed`]).
    StepStarted(Step),
    /// A step ended well.
    StepFinished {
        /// The step.
        step: Step,
        /// The id of its task or job, if it has one.
        task_id: Option<String>,
        /// How long this run spent on it.
        duration: Duration,
    },
    /// A step was already done, or under way, when this run found it: it is continued, not
    /// started again.
    Resumed {
        /// The step.
        step: Step,
        /// The task or workflow found.
        task_id: Option<String>,
        /// Its phase when found.
        phase: String,
    },
    /// The pre-check found something.
    Finding(Finding),
    /// The upgrade task's progress changed, in percent.
    Progress(f64),
    /// The upgrade task is paused; it does not move until continued.
    Paused {
        /// Its progress when paused.
        percent: Option<f64>,
    },
    /// The paused upgrade task was continued (`ContinueUpgradeClusterTask`).
    Continued,
    /// The failed upgrade task is run again (`RetryUpgradeClusterTask`).
    Retrying {
        /// Which retry this is (1 for the first).
        attempt: u32,
        /// Where it had failed.
        percent: Option<f64>,
    },
    /// A call failed in a way that may pass (a lost connection, throttling, a 5xx, an answer
    /// that could not be read); the run tries again at its next poll.
    Transient {
        /// The step it happened in.
        step: Step,
        /// What failed.
        error: String,
    },
    /// Something the caller should know, that does not stop the run (e.g. a skipped pre-check
    /// item that no finding names).
    Warning(String),
}

/// One step of an upgrade as it ended.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct StepReport {
    /// The step.
    pub step: Step,
    /// Its task, workflow or job id.
    pub task_id: Option<String>,
    /// Its last phase, as the service spelt it.
    pub phase: String,
    /// The time this run spent on it.
    pub duration: Duration,
    /// Whether this run found it done or under way rather than starting it.
    pub resumed: bool,
    /// The request ids of the writes this step sent, and of its last read.
    pub request_ids: Vec<String>,
}

/// What [`Upgrade::run`](crate::upgrade::Upgrade::run) did.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct UpgradeReport {
    /// The cluster.
    pub cluster_id: String,
    /// Its flavour (CCE or Autopilot).
    pub flavour: super::Flavour,
    /// The version before, as the service reported it at the start.
    pub version_before: Option<String>,
    /// The version after, as the service reports it at the end.
    pub version_after: Option<String>,
    /// The target, as the service normalised it (`v1.29` → `v1.29.15-r0`).
    pub target: String,
    /// The upgrade workflow's id.
    pub workflow_id: Option<String>,
    /// Each step, in order.
    pub steps: Vec<StepReport>,
    /// True when the cluster already ran the target: nothing was started.
    pub already_done: bool,
    /// How many times the upgrade task paused.
    pub pauses: u32,
    /// How many times a failed upgrade task was retried.
    pub retries: u32,
    /// When the upgrade task to the target succeeded, as the service reports it (none when
    /// there is no such task, or the service did not say).
    pub completed_at: Option<Timestamp>,
}

/// What an upgrade would do ([`Upgrade::plan`](crate::upgrade::Upgrade::plan)), read without
/// changing anything (unless [`Upgrade::plan_with_pre_check`](crate::upgrade::Upgrade::plan_with_pre_check)
/// asked for a fresh pre-check).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct UpgradePlan {
    /// The cluster.
    pub cluster_id: String,
    /// Its flavour.
    pub flavour: super::Flavour,
    /// Its phase (`status.phase` of `ShowCluster`), e.g. `Available`.
    pub cluster_phase: Option<String>,
    /// Its version now.
    pub current_version: Option<String>,
    /// The versions the service allows it to be upgraded to.
    pub allowed_targets: Vec<String>,
    /// The target the upgrade would go to (a minor version resolved to its latest allowed
    /// patch), as the service normalised it.
    pub target: String,
    /// True when the cluster already runs the target.
    pub already_done: bool,
    /// The open workflows: `(id, target, phase)`.
    pub open_workflows: Vec<(String, String, String)>,
    /// The newest upgrade task to the target: `(id, phase)`.
    pub upgrade_task: Option<(String, String)>,
    /// When that task succeeded, as the service reports it.
    pub completed_at: Option<Timestamp>,
    /// The newest pre-check to the target, when there is one: its task id.
    pub pre_check_task_id: Option<String>,
    /// Whether that pre-check passed and has not expired.
    pub pre_check_passed: bool,
    /// What it found: [`Finding::is_skippable`] tells which may be skipped.
    pub findings: Vec<Finding>,
    /// What [`Upgrade::run`](crate::upgrade::Upgrade::run) would do next, in words (e.g.
    /// "create the upgrade workflow", "blocked: the cluster is Hibernation ...").
    pub next: String,
    /// Whether `run()` would stop before doing anything: the reason is in `next`.
    pub blocked: bool,
}
