//! What an upgrade tells as it goes ([`UpgradeEvent`]) and when it ends ([`UpgradeReport`],
//! [`UpgradePlan`]).

use std::fmt;
use std::time::Duration;

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

/// One finding of a pre-check: an item that did not pass.
#[derive(Clone, Debug, PartialEq)]
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
}

/// One step of an upgrade as it ended.
#[derive(Clone, Debug, PartialEq)]
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
pub struct UpgradeReport {
    /// The cluster.
    pub cluster_id: String,
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
}

/// What an upgrade would do ([`Upgrade::plan`](crate::upgrade::Upgrade::plan)): the versions and
/// the pre-check's findings. Nothing but the workflow and the pre-check was started.
#[derive(Clone, Debug, PartialEq)]
pub struct UpgradePlan {
    /// The cluster.
    pub cluster_id: String,
    /// Its version now.
    pub current_version: Option<String>,
    /// The versions the service allows it to be upgraded to.
    pub allowed_targets: Vec<String>,
    /// The target the upgrade would go to, as the service normalised it.
    pub target: String,
    /// True when the cluster already runs the target.
    pub already_done: bool,
    /// The pre-check's task id, when one ran.
    pub pre_check_task_id: Option<String>,
    /// Whether the pre-check passed (with the items asked to be skipped).
    pub pre_check_passed: bool,
    /// What it found: [`Finding::is_skippable`] tells which may be skipped.
    pub findings: Vec<Finding>,
}
