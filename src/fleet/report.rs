//! What a fleet run, plan or status says: a report per stage and per cluster (serialised as the
//! JSON document the `cce-upgrade` command prints), and the events of a run.

use serde::Serialize;

/// How a fleet run (or plan, or status) ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FleetOutcome {
    /// Every selected cluster runs the target.
    Done,
    /// A cluster failed (or could not be reached).
    Failed,
    /// Pre-flight found a cluster that cannot be upgraded; nothing was started.
    Blocked,
    /// The run stopped at a stage that needs an approval; nothing failed.
    AwaitingApproval,
    /// A plan: nothing was written.
    Planned,
    /// A status read while upgrades are under way (or not all started).
    InProgress,
}

impl FleetOutcome {
    /// The name as the JSON report spells it.
    pub fn as_str(&self) -> &'static str {
        match self {
            FleetOutcome::Done => "done",
            FleetOutcome::Failed => "failed",
            FleetOutcome::Blocked => "blocked",
            FleetOutcome::AwaitingApproval => "awaiting_approval",
            FleetOutcome::Planned => "planned",
            FleetOutcome::InProgress => "in_progress",
        }
    }
}

/// Where a stage stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum StageState {
    /// Every cluster runs the target.
    Done,
    /// Upgrades of it are under way.
    Running,
    /// A cluster of it failed.
    Failed,
    /// A cluster of it is blocked.
    Blocked,
    /// It waits for an approval.
    AwaitingApproval,
    /// Nothing of it has started.
    NotStarted,
    /// A plan: it would run.
    Planned,
}

impl StageState {
    /// The name as the JSON report spells it.
    pub fn as_str(&self) -> &'static str {
        match self {
            StageState::Done => "done",
            StageState::Running => "running",
            StageState::Failed => "failed",
            StageState::Blocked => "blocked",
            StageState::AwaitingApproval => "awaiting_approval",
            StageState::NotStarted => "not_started",
            StageState::Planned => "planned",
        }
    }
}

/// Where a cluster stands, or how its upgrade ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ClusterOutcome {
    /// Upgraded to the target (by this run, or by an earlier one whose task the service shows).
    Upgraded,
    /// It already ran the target; nothing was started.
    AlreadyAtTarget,
    /// Its upgrade failed, or it could not be reached.
    Failed,
    /// It cannot be upgraded now (its phase, an open workflow to another target, a target not
    /// allowed, not found); see `error`.
    Blocked,
    /// Not started (an earlier stage failed, or an approval is missing).
    NotStarted,
    /// A plan: it would be upgraded.
    Planned,
    /// Its upgrade is under way at the service.
    Running,
}

impl ClusterOutcome {
    /// The name as the JSON report spells it.
    pub fn as_str(&self) -> &'static str {
        match self {
            ClusterOutcome::Upgraded => "upgraded",
            ClusterOutcome::AlreadyAtTarget => "already_at_target",
            ClusterOutcome::Failed => "failed",
            ClusterOutcome::Blocked => "blocked",
            ClusterOutcome::NotStarted => "not_started",
            ClusterOutcome::Planned => "planned",
            ClusterOutcome::Running => "running",
        }
    }

    /// Whether the cluster runs the target.
    pub fn is_done(&self) -> bool {
        matches!(
            self,
            ClusterOutcome::Upgraded | ClusterOutcome::AlreadyAtTarget
        )
    }
}

/// A fleet run, plan or status.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct FleetReport {
    /// How it ended.
    pub outcome: FleetOutcome,
    /// Each stage, in order.
    pub stages: Vec<StageReport>,
}

/// One stage of a fleet report.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct StageReport {
    /// The stage's name.
    pub name: String,
    /// Where it stands.
    pub state: StageState,
    /// Its clusters (a cluster selected by an earlier stage is reported there only).
    pub clusters: Vec<ClusterReport>,
    /// Selectors that matched no cluster, and other things worth knowing.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// One cluster of a fleet report.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ClusterReport {
    /// Its region.
    pub region: String,
    /// Its id (`metadata.uid`); empty when a selector by name found none.
    pub id: String,
    /// Its name (`metadata.name`).
    pub name: Option<String>,
    /// Whether it is a CCE Autopilot cluster.
    pub autopilot: bool,
    /// Its phase when read.
    pub phase: Option<String>,
    /// Its version when the run started (or now, for a plan or status).
    pub version_before: Option<String>,
    /// Its version at the end of the run.
    pub version_after: Option<String>,
    /// The target it gets (a minor version resolved to its latest allowed patch).
    pub target: Option<String>,
    /// Where it stands.
    pub outcome: ClusterOutcome,
    /// Why it failed or is blocked.
    pub error: Option<String>,
    /// When its newest upgrade task to the target completed, as the service reports it.
    pub completed_at: Option<String>,
}

/// What a fleet run tells as it goes ([`super::Fleet::events`]).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum FleetEvent {
    /// Pre-flight read every selected cluster.
    PreFlight {
        /// How many clusters are selected.
        clusters: usize,
        /// How many are blocked.
        blocked: usize,
    },
    /// A stage starts.
    StageStarted(String),
    /// A stage ended.
    StageFinished {
        /// The stage.
        stage: String,
        /// How.
        state: StageState,
    },
    /// Waiting after a stage before the next starts.
    Soaking {
        /// The stage.
        stage: String,
        /// How long is left.
        left: std::time::Duration,
    },
    /// The run stops before this stage: it needs an approval.
    AwaitingApproval(String),
    /// A cluster's upgrade starts (or is followed, when found running).
    ClusterStarted {
        /// Its stage.
        stage: String,
        /// Its region.
        region: String,
        /// Its id.
        id: String,
        /// Whether it was found running at the service.
        resumed: bool,
    },
    /// An event of a cluster's upgrade.
    Upgrade {
        /// Its region.
        region: String,
        /// The event.
        event: crate::upgrade::Event,
    },
    /// A cluster's upgrade ended.
    ClusterFinished(ClusterReport),
}
