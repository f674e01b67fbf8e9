//! The emulated service: clusters, upgrade workflows, and the tasks that really run — pre-checks,
//! snapshots, upgrades, post-checks, add-on checks and jobs.
//!
//! Nothing moves by itself. A task advances one *step* each time it is read (shown or listed;
//! with [`Scenario::SlowSteps`], every so many reads) and each time the test calls
//! [`State::advance`]. Its phases, one step apart:
//!
//! | task | phases |
//! |---|---|
//! | pre-check | `Init` → `Running` 0% → `Running` 50% → `Success` or `Failed` |
//! | snapshot | `Init` → `Queuing` → `Running` 50% → `Success` |
//! | upgrade | `Init` (its own pre-check runs first unless `isOnlyUpgrade`) → `Queuing` → `Running` 0, 20, 40, 60, 80% → `Success` (or `Failed` / `Pause` where a scenario says) |
//! | node-pool job | `Initializing` → `Running` → `Success` |
//! | post-check, add-on check | final when created |
//!
//! A workflow holds no state of its own beyond its versions and whether it was cancelled: its
//! phase and `pointStatuses` are read from the tasks created for its cluster while it was open
//! (`Init`, `Running` or `Pending`). Which API flavour (CCE or Autopilot) a request came through
//! is a parameter of the calls that differ, not a second model.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value};

use super::clock::{Clock, Micros};
use super::ids::IdGen;
use super::scenario::Scenario;
use super::versions::{self, TargetError};
use crate::generated::types as t;
use crate::model::{
    ApiVersionV3, ApiVersionV31, CheckStatusPhase, ClusterCategory, ClusterPhase, ClusterType,
    FeatureGatesKind, JobPhase, LenientBool, PointRef, PointStatusPhase, PostCheckPhase,
    PreCheckItemGroup, PreCheckItemKind, PreCheckItemLevel, PreCheckNodeStatus, PreCheckNodeType,
    PreCheckPhase, PreCheckSelectorKey, PreCheckSelectorOperator, PreCheckTaskKind,
    SnapshotSubtaskStatus, SnapshotSubtaskType, UpgradeFeatureGateValue, UpgradeStrategyType,
    UpgradeTaskKind, UpgradeTaskPhase, UpgradeTaskType, UpgradeWorkFlowListKind, WorkFlowItems,
    WorkFlowPhase, WorkFlowTaskKind,
};

/// How long a passed pre-check stays valid for an upgrade with `isOnlyUpgrade` (the PreCheck
/// point's and the task's `expireTimeStamp`), on the emulator's clock.
pub const PRECHECK_VALIDITY: Duration = Duration::from_secs(30 * 60);

/// How many tasks and workflows the state keeps at most, each; the oldest finished ones are
/// forgotten first, so no client can grow the emulator without bound.
pub const MAX_RECORDS: usize = 10_000;

/// Upgrade progress per running step, in percent.
const PROGRESS_STEP: u8 = 20;

/// The phase of a task, in the upgrade task's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Init,
    Queuing,
    Running,
    Pause,
    Success,
    Failed,
}

impl Phase {
    fn as_str(self) -> &'static str {
        match self {
            Phase::Init => "Init",
            Phase::Queuing => "Queuing",
            Phase::Running => "Running",
            Phase::Pause => "Pause",
            Phase::Success => "Success",
            Phase::Failed => "Failed",
        }
    }

    fn is_final(self) -> bool {
        matches!(self, Phase::Success | Phase::Failed)
    }

    /// Running, initialising, queued or paused: an upgrade "under way".
    fn is_active(self) -> bool {
        !self.is_final()
    }
}

/// The API flavour a request came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavour {
    Cce,
    Autopilot,
}

/// Why the service refused a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// 404: the message names what is missing.
    NotFound(String),
    /// 400: the message names the field or the rule.
    Invalid(String),
    /// 400 with the conflict code: something is under way.
    Conflict(String),
}

/// A cluster the emulator knows.
#[derive(Debug, Clone)]
pub(crate) struct Cluster {
    /// `metadata.name`.
    pub(crate) name: String,
    /// `spec.clusterTags`, in the order given.
    tags: Vec<(String, String)>,
    /// The phase a test set; `None`: `Upgrading` while an upgrade runs, else `Available`.
    phase: Option<ClusterPhase>,
    /// When it was added among the others: lists answer in this order.
    order: usize,
    pub(crate) version: String,
    pub(crate) platform_version: String,
    pub(crate) autopilot: bool,
    pub(crate) nodepools: BTreeSet<String>,
    scenarios: Vec<Scenario>,
    /// How many UpgradeCluster requests created an upgrade task.
    pub(crate) upgrades_started: usize,
    created: Micros,
    /// The Autopilot upgrade plan's `notBefore` once postponed.
    plan_not_before: Option<String>,
    plan_uid: String,
}

impl Cluster {
    fn plays(&self, scenario: &Scenario) -> bool {
        self.scenarios.contains(scenario)
    }

    fn reads_per_step(&self) -> u32 {
        self.scenarios
            .iter()
            .find_map(|s| match s {
                Scenario::SlowSteps { reads_per_step } => Some(*reads_per_step),
                _ => None,
            })
            .unwrap_or(1)
            .max(1)
    }

    fn take_progress_fault(&mut self, pause: bool) -> Option<u8> {
        let i = self.scenarios.iter().position(|s| {
            matches!(
                (s, pause),
                (Scenario::UpgradeFailsAt { .. }, false) | (Scenario::PauseAt { .. }, true)
            )
        })?;
        match self.scenarios.remove(i) {
            Scenario::UpgradeFailsAt { progress } | Scenario::PauseAt { progress } => {
                Some(progress.clamp(1, 99))
            }
            _ => None,
        }
    }
}

/// A cluster to add to the emulator with
/// [`Emulator::add_cluster_with`](super::Emulator::add_cluster_with): its id (`metadata.uid`),
/// name (`metadata.name`), version, flavour and tags (`spec.clusterTags`).
///
/// ```
/// use cce_upgrade::emulator::NewCluster;
///
/// let prod = NewCluster::cce("0c8c-prod", "v1.28.15-r0")
///     .name("prod")
///     .tag("env", "prod")
///     .tag("team", "payments");
/// # let _ = prod;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCluster {
    id: String,
    name: Option<String>,
    version: String,
    autopilot: bool,
    tags: Vec<(String, String)>,
}

impl NewCluster {
    /// A CCE cluster (served under `/api/...`, with a `DefaultPool` node pool) of this id and
    /// full version (`v1.28.15-r0`); named after its id until [`NewCluster::name`].
    pub fn cce(id: impl Into<String>, version: impl Into<String>) -> NewCluster {
        NewCluster {
            id: id.into(),
            name: None,
            version: version.into(),
            autopilot: false,
            tags: Vec::new(),
        }
    }

    /// A CCE Autopilot cluster (served under `/autopilot/...`) of this id and full version.
    pub fn autopilot(id: impl Into<String>, version: impl Into<String>) -> NewCluster {
        NewCluster {
            autopilot: true,
            ..NewCluster::cce(id, version)
        }
    }

    /// The cluster's name (`metadata.name`, also its `alias`).
    pub fn name(mut self, name: impl Into<String>) -> NewCluster {
        self.name = Some(name.into());
        self
    }

    /// Adds a tag (`spec.clusterTags`), after those already given.
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> NewCluster {
        self.tags.push((key.into(), value.into()));
        self
    }

    /// The cluster's id.
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// A cluster in its flavour's answer type.
enum RenderedCluster {
    Cce(Box<t::Cluster>),
    Autopilot(Box<t::AutopilotCluster>),
}

/// What a cluster list is filtered by (the `status`, `type` and `version` query parameters).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ClusterFilter {
    pub(crate) phase: Option<String>,
    pub(crate) kind: Option<String>,
    pub(crate) version: Option<String>,
}

/// The life of one task.
#[derive(Debug, Clone)]
struct Run {
    phase: Phase,
    progress: u8,
    created: Micros,
    started: Option<Micros>,
    ended: Option<Micros>,
    updated: Micros,
    reads: u32,
}

impl Run {
    fn new(now: Micros) -> Run {
        Run {
            phase: Phase::Init,
            progress: 0,
            created: now,
            started: None,
            ended: None,
            updated: now,
            reads: 0,
        }
    }

    fn set(&mut self, phase: Phase, progress: u8, now: Micros) {
        if phase == Phase::Running && self.started.is_none() {
            self.started = Some(now);
        }
        if phase.is_final() {
            self.started.get_or_insert(now);
            self.ended = Some(now);
        } else {
            self.ended = None;
        }
        self.phase = phase;
        self.progress = progress;
        self.updated = now;
    }
}

/// A pre-check finding.
#[derive(Debug, Clone)]
struct Finding {
    name: String,
    exception: bool,
    nodes: Vec<String>,
    skipped: bool,
}

/// What kind of task, with what only that kind has.
#[derive(Debug, Clone)]
enum Kind {
    PreCheck {
        skipped: Vec<t::SkippedCheckItem>,
        findings: Vec<Finding>,
        /// The upgrade task that runs this pre-check as its own.
        owner: Option<String>,
    },
    Snapshot,
    Upgrade {
        own_precheck: Option<String>,
        fail_at: Option<u8>,
        pause_at: Option<u8>,
        message: Option<String>,
    },
    PostCheck,
    AddonCheck {
        info: t::AddonCheckInfo,
    },
    Job {
        /// The node pool synced, or the upgrade task followed.
        resource: JobResource,
    },
}

#[derive(Debug, Clone)]
enum JobResource {
    NodePool(String),
    Upgrade(String),
}

/// One task.
#[derive(Debug, Clone)]
struct Task {
    uid: String,
    cluster: String,
    /// The workflow that was open for the cluster when the task was created.
    workflow: Option<String>,
    run: Run,
    from_version: String,
    target_version: String,
    kind: Kind,
}

impl Task {
    fn point_type(&self) -> Option<UpgradeTaskType> {
        match self.kind {
            Kind::PreCheck { .. } => Some(UpgradeTaskType::PreCheck),
            Kind::Snapshot => Some(UpgradeTaskType::Snapshot),
            Kind::Upgrade { .. } => Some(UpgradeTaskType::Cluster),
            Kind::PostCheck => Some(UpgradeTaskType::PostCheck),
            Kind::AddonCheck { .. } | Kind::Job { .. } => None,
        }
    }

    fn is_upgrade(&self) -> bool {
        matches!(self.kind, Kind::Upgrade { .. })
    }

    fn is_precheck(&self) -> bool {
        matches!(self.kind, Kind::PreCheck { .. })
    }
}

/// An upgrade workflow.
#[derive(Debug, Clone)]
struct Workflow {
    uid: String,
    name: String,
    cluster: String,
    from_version: String,
    target_version: String,
    created: Micros,
    cancelled: Option<Micros>,
}

/// All clusters, workflows and tasks of one emulator.
#[derive(Debug)]
pub(crate) struct State {
    clock: Clock,
    advance_on_read: bool,
    default_scenarios: Vec<Scenario>,
    clusters: HashMap<String, Cluster>,
    /// In creation order.
    workflows: Vec<Workflow>,
    /// In creation order.
    tasks: Vec<Task>,
}

/// The JSON of a generated type (these never fail to serialise; `null` if one did).
fn to_json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

impl State {
    /// An empty state.
    pub(crate) fn new(clock: Clock, advance_on_read: bool, scenarios: Vec<Scenario>) -> State {
        State {
            clock,
            advance_on_read,
            default_scenarios: scenarios,
            clusters: HashMap::new(),
            workflows: Vec::new(),
            tasks: Vec::new(),
        }
    }

    fn now(&self) -> Micros {
        self.clock.now()
    }

    fn ts(&self, at: Micros) -> String {
        self.clock.timestamp(at)
    }

    /// A task's timestamp: in `+0800 CST`, as the documents' examples for tasks write them
    /// (workflows, clusters and plans are written in `+0000 UTC`).
    fn task_ts(&self, at: Micros) -> String {
        self.clock.task_timestamp(at)
    }

    /// Moves the emulator's clock forward.
    pub(crate) fn advance_clock(&mut self, by: Duration) {
        self.clock
            .advance(i64::try_from(by.as_micros()).unwrap_or(i64::MAX));
    }

    /// The emulator's clock now, in microseconds since the Unix epoch.
    pub(crate) fn now_unix_micros(&self) -> i64 {
        self.clock.unix_micros(self.clock.now())
    }

    /// The emulator's clock now, as the service writes timestamps.
    pub(crate) fn now_timestamp(&self) -> String {
        self.ts(self.now())
    }

    // ----------------------------------------------------------------------------- clusters

    /// Adds a cluster, or replaces its name, tags, version and kind (its node pools, tasks,
    /// workflows and the phase a test set stay). Every CCE cluster has a `DefaultPool` node
    /// pool, as on the service.
    pub(crate) fn add_cluster(&mut self, new: &NewCluster, ids: &IdGen) {
        let now = self.now();
        let defaults = self.default_scenarios.clone();
        let order = self.clusters.len();
        let NewCluster {
            id,
            name,
            version,
            autopilot,
            tags,
        } = new;
        let autopilot = *autopilot;
        let cluster = self
            .clusters
            .entry(id.to_string())
            .or_insert_with(|| Cluster {
                name: String::new(),
                tags: Vec::new(),
                phase: None,
                order,
                version: String::new(),
                platform_version: String::new(),
                autopilot,
                nodepools: BTreeSet::new(),
                scenarios: defaults,
                upgrades_started: 0,
                created: now,
                plan_not_before: None,
                plan_uid: ids.uuid(),
            });
        cluster.name = name.clone().unwrap_or_else(|| id.clone());
        cluster.tags = tags.clone();
        cluster.version = version.to_string();
        cluster.platform_version = versions::platform_of(version).to_string();
        cluster.autopilot = autopilot;
        if !autopilot {
            cluster.nodepools.insert("DefaultPool".to_string());
        }
    }

    /// Adds a node pool to a cluster; false when there is no such cluster.
    pub(crate) fn add_nodepool(&mut self, cluster_id: &str, nodepool_id: &str) -> bool {
        match self.clusters.get_mut(cluster_id) {
            Some(cluster) => {
                cluster.nodepools.insert(nodepool_id.to_string());
                true
            }
            None => false,
        }
    }

    /// A cluster.
    pub(crate) fn cluster(&self, id: &str) -> Option<&Cluster> {
        self.clusters.get(id)
    }

    /// Sets a scenario on a cluster (replacing one of the same kind); false when there is no
    /// such cluster.
    pub(crate) fn set_scenario(&mut self, cluster_id: &str, scenario: Scenario) -> bool {
        let Some(cluster) = self.clusters.get_mut(cluster_id) else {
            return false;
        };
        cluster.scenarios.retain(|s| !s.same_kind(&scenario));
        cluster.scenarios.push(scenario);
        true
    }

    /// Removes every scenario of a cluster; false when there is no such cluster.
    pub(crate) fn clear_scenarios(&mut self, cluster_id: &str) -> bool {
        match self.clusters.get_mut(cluster_id) {
            Some(cluster) => {
                cluster.scenarios.clear();
                true
            }
            None => false,
        }
    }

    /// Checks that the cluster exists and is served under this flavour.
    pub(crate) fn check_cluster(&self, id: &str, flavour: Flavour) -> Result<(), Refusal> {
        match self.clusters.get(id) {
            None => Err(Refusal::NotFound(format!("Cluster {id} not found"))),
            Some(c) if c.autopilot != (flavour == Flavour::Autopilot) => {
                let (kind, prefix, asked) = if c.autopilot {
                    ("an Autopilot", "/autopilot", "/api")
                } else {
                    ("a CCE", "/api", "/autopilot")
                };
                Err(Refusal::NotFound(format!(
                    "Cluster {id} not found under {asked}: it is {kind} cluster, served under \
                     {prefix}"
                )))
            }
            Some(_) => Ok(()),
        }
    }

    /// Sets the phase a cluster answers (`None`: as the tasks say); false when there is no
    /// such cluster.
    pub(crate) fn set_cluster_phase(&mut self, id: &str, phase: Option<ClusterPhase>) -> bool {
        match self.clusters.get_mut(id) {
            Some(cluster) => {
                cluster.phase = phase;
                true
            }
            None => false,
        }
    }

    /// The phase of a cluster: the one a test set, else `Upgrading` while an upgrade task is
    /// under way (initialising, queued, running or paused), else `Available`.
    pub(crate) fn cluster_phase(&self, id: &str) -> ClusterPhase {
        if let Some(phase) = self.clusters.get(id).and_then(|c| c.phase.clone()) {
            return phase;
        }
        let upgrading = self
            .tasks
            .iter()
            .any(|t| t.cluster == id && t.is_upgrade() && t.run.phase.is_active());
        if upgrading {
            ClusterPhase::Upgrading
        } else {
            ClusterPhase::Available
        }
    }

    /// ShowCluster / ShowAutopilotCluster: the cluster as the flavour's answer shows it.
    pub(crate) fn show_cluster(
        &self,
        id: &str,
        flavour: Flavour,
        detail: bool,
    ) -> Result<Value, Refusal> {
        self.check_cluster(id, flavour)?;
        let cluster = self
            .clusters
            .get(id)
            .ok_or_else(|| Refusal::NotFound(format!("Cluster {id} not found")))?;
        Ok(match self.render_cluster(id, cluster, detail) {
            RenderedCluster::Cce(c) => to_json(&c),
            RenderedCluster::Autopilot(c) => to_json(&c),
        })
    }

    /// ListClusters / ListAutopilotClusters: the clusters of the flavour that pass `filter`, in
    /// the order they were added.
    pub(crate) fn list_clusters(
        &self,
        flavour: Flavour,
        filter: &ClusterFilter,
        detail: bool,
    ) -> Value {
        let mut clusters: Vec<(&String, &Cluster)> = self
            .clusters
            .iter()
            .filter(|(_, c)| c.autopilot == (flavour == Flavour::Autopilot))
            .filter(|(id, c)| {
                filter
                    .phase
                    .as_deref()
                    .is_none_or(|p| self.cluster_phase(id).as_str() == p)
                    && filter
                        .kind
                        .as_deref()
                        .is_none_or(|k| k == ClusterType::VirtualMachine.as_str())
                    && filter
                        .version
                        .as_deref()
                        .is_none_or(|v| v == minor_of(&c.version) || v == c.version)
            })
            .collect();
        clusters.sort_by_key(|(_, c)| c.order);
        let rendered = clusters
            .into_iter()
            .map(|(id, c)| self.render_cluster(id, c, detail));
        let (kind, api_version) = (Some("Cluster".to_string()), Some("v3".to_string()));
        match flavour {
            Flavour::Cce => to_json(&t::ClusterList {
                kind,
                api_version,
                items: rendered
                    .filter_map(|r| match r {
                        RenderedCluster::Cce(c) => Some(*c),
                        RenderedCluster::Autopilot(_) => None,
                    })
                    .collect(),
            }),
            Flavour::Autopilot => to_json(&t::AutopilotClusterList {
                kind,
                api_version,
                items: rendered
                    .filter_map(|r| match r {
                        RenderedCluster::Autopilot(c) => Some(*c),
                        RenderedCluster::Cce(_) => None,
                    })
                    .collect(),
            }),
        }
    }

    /// A cluster in the answer's shape of its flavour, through the generated types.
    fn render_cluster(&self, id: &str, c: &Cluster, detail: bool) -> RenderedCluster {
        let tags: Vec<t::ResourceTag> = c
            .tags
            .iter()
            .map(|(key, value)| t::ResourceTag {
                key: Some(key.clone()),
                value: Some(value.clone()),
            })
            .collect();
        let mut annotations = std::collections::HashMap::new();
        if detail {
            let nodes = if c.autopilot { 0 } else { 3 };
            annotations.insert("totalNodesNumber".to_string(), nodes.to_string());
            annotations.insert("activeNodesNumber".to_string(), nodes.to_string());
            annotations.insert("totalNodesCPU".to_string(), (nodes * 4).to_string());
            annotations.insert("totalNodesMemory".to_string(), (nodes * 8192).to_string());
            annotations.insert(
                "installedAddonInstances".to_string(),
                r#"[{"addonTemplateName":"coredns","version":"1.30.6","status":"running"}]"#
                    .to_string(),
            );
        }
        let phase = self.cluster_phase(id);
        let (reason, message) = if phase == ClusterPhase::Available {
            (None, None)
        } else {
            (
                Some(phase.as_str().to_string()),
                Some(format!("the cluster is {}", phase.as_str())),
            )
        };
        let endpoints = vec![t::ClusterEndpoints {
            url: Some("https://192.168.0.10:5443".to_string()),
            type_: Some("Internal".to_string()),
        }];
        let created = self.ts(c.created);
        if c.autopilot {
            return RenderedCluster::Autopilot(Box::new(t::AutopilotCluster {
                kind: Some("Cluster".into()),
                api_version: Some("v3".into()),
                metadata: Some(t::AutopilotClusterMetadata {
                    name: Some(c.name.clone()),
                    uid: Some(id.to_string()),
                    alias: Some(c.name.clone()),
                    annotations,
                    creation_timestamp: Some(created.clone()),
                    update_timestamp: Some(created),
                    ..Default::default()
                }),
                spec: Some(t::AutopilotClusterSpec {
                    type_: Some(ClusterType::VirtualMachine),
                    flavor: Some("cce.autopilot.cluster".into()),
                    version: Some(minor_of(&c.version).to_string()),
                    platform_version: Some(c.platform_version.clone()),
                    cluster_tags: tags,
                    container_network: Some(t::AutopilotContainerNetwork {
                        mode: Some("eni".into()),
                    }),
                    billing_mode: Some(0),
                    kube_proxy_mode: Some("iptables".into()),
                    ..Default::default()
                }),
                status: Some(t::AutopilotClusterStatus {
                    phase: Some(phase),
                    reason,
                    message,
                    endpoints,
                    ..Default::default()
                }),
            }));
        }
        RenderedCluster::Cce(Box::new(t::Cluster {
            kind: Some("Cluster".into()),
            api_version: Some("v3".into()),
            metadata: Some(t::ClusterMetadata {
                name: Some(c.name.clone()),
                uid: Some(id.to_string()),
                alias: Some(c.name.clone()),
                annotations,
                creation_timestamp: Some(created.clone()),
                update_timestamp: Some(created),
                timezone: Some("Etc/UTC".into()),
                ..Default::default()
            }),
            spec: Some(t::ClusterSpec {
                category: Some(ClusterCategory::CCE),
                type_: Some(ClusterType::VirtualMachine),
                flavor: Some("cce.s1.small".into()),
                version: Some(minor_of(&c.version).to_string()),
                platform_version: Some(c.platform_version.clone()),
                cluster_tags: tags,
                container_network: Some(t::ContainerNetwork {
                    mode: Some("vpc-router".into()),
                    ..Default::default()
                }),
                billing_mode: Some(0),
                kube_proxy_mode: Some("iptables".into()),
                ..Default::default()
            }),
            status: Some(t::ClusterStatus {
                phase: Some(phase),
                reason,
                message,
                endpoints,
                ..Default::default()
            }),
        }))
    }

    // ----------------------------------------------------------------------------- time

    /// Moves every unfinished task `steps` steps (a pre-check an upgrade runs as its own moves
    /// with its upgrade).
    pub(crate) fn advance(&mut self, steps: u32) {
        for _ in 0..steps {
            let uids: Vec<String> = self
                .tasks
                .iter()
                .filter(|t| !t.run.phase.is_final())
                .filter(|t| !matches!(&t.kind, Kind::PreCheck { owner: Some(_), .. }))
                .map(|t| t.uid.clone())
                .collect();
            for uid in uids {
                self.step(&uid);
            }
        }
    }

    /// A read of a task: every `reads_per_step` reads, one step.
    fn read(&mut self, uid: &str) {
        if !self.advance_on_read {
            return;
        }
        let Some(task) = self.tasks.iter().find(|t| t.uid == uid) else {
            return;
        };
        let per_step = self
            .clusters
            .get(&task.cluster)
            .map_or(1, Cluster::reads_per_step);
        let Some(task) = self.tasks.iter_mut().find(|t| t.uid == uid) else {
            return;
        };
        task.run.reads = task.run.reads.saturating_add(1);
        if task.run.reads >= per_step {
            task.run.reads = 0;
            self.step(uid);
        }
    }

    /// One step of one task.
    fn step(&mut self, uid: &str) {
        let now = self.now();
        let Some(i) = self.tasks.iter().position(|t| t.uid == uid) else {
            return;
        };
        let phase = self.tasks[i].run.phase;
        let progress = self.tasks[i].run.progress;
        match &self.tasks[i].kind {
            Kind::PreCheck { findings, .. } => {
                let passes = findings.iter().all(|f| f.skipped && !f.exception);
                let run = &mut self.tasks[i].run;
                match phase {
                    Phase::Init => run.set(Phase::Running, 0, now),
                    Phase::Running if progress < 50 => run.set(Phase::Running, 50, now),
                    Phase::Running if passes => run.set(Phase::Success, 100, now),
                    Phase::Running => run.set(Phase::Failed, 100, now),
                    _ => {}
                }
            }
            Kind::Snapshot => {
                let run = &mut self.tasks[i].run;
                match phase {
                    Phase::Init => run.set(Phase::Queuing, 0, now),
                    Phase::Queuing => run.set(Phase::Running, 50, now),
                    Phase::Running => run.set(Phase::Success, 100, now),
                    _ => {}
                }
            }
            Kind::Job { resource } => {
                if let JobResource::Upgrade(_) = resource {
                    return; // follows its upgrade task
                }
                let run = &mut self.tasks[i].run;
                match phase {
                    Phase::Init | Phase::Queuing => run.set(Phase::Running, 50, now),
                    Phase::Running => run.set(Phase::Success, 100, now),
                    _ => {}
                }
            }
            Kind::PostCheck | Kind::AddonCheck { .. } => {}
            Kind::Upgrade {
                own_precheck,
                fail_at,
                pause_at,
                ..
            } => {
                let (own, fail_at, pause_at) = (own_precheck.clone(), *fail_at, *pause_at);
                match phase {
                    Phase::Init => {
                        let check = own
                            .as_deref()
                            .and_then(|p| self.tasks.iter().find(|t| t.uid == p))
                            .map(|t| t.run.phase);
                        match check {
                            Some(p) if !p.is_final() => {
                                if let Some(own) = own {
                                    self.step(&own);
                                }
                            }
                            Some(Phase::Failed) => {
                                let task = &mut self.tasks[i];
                                task.run.set(Phase::Failed, 0, now);
                                if let Kind::Upgrade { message, .. } = &mut task.kind {
                                    *message = Some(
                                        "the pre-upgrade check failed: see its items, fix \
                                         Exceptions, run a pre-check skipping the Risks, then \
                                         upgrade with isOnlyUpgrade"
                                            .to_string(),
                                    );
                                }
                            }
                            _ => self.tasks[i].run.set(Phase::Queuing, 0, now),
                        }
                    }
                    Phase::Queuing => self.tasks[i].run.set(Phase::Running, 0, now),
                    Phase::Running => {
                        let next = progress.saturating_add(PROGRESS_STEP).min(100);
                        let task = &mut self.tasks[i];
                        if let Some(f) = fail_at.filter(|f| next >= *f && progress < *f) {
                            task.run.set(Phase::Failed, f, now);
                            if let Kind::Upgrade {
                                fail_at, message, ..
                            } = &mut task.kind
                            {
                                *fail_at = None;
                                *message = Some(format!(
                                    "the upgrade failed at {f}%: retry it with \
                                     RetryUpgradeClusterTask"
                                ));
                            }
                        } else if let Some(p) = pause_at.filter(|p| next >= *p && progress < *p) {
                            task.run.set(Phase::Pause, p, now);
                            if let Kind::Upgrade { pause_at, .. } = &mut task.kind {
                                *pause_at = None;
                            }
                        } else if next >= 100 {
                            task.run.set(Phase::Success, 100, now);
                            let (cluster, target) =
                                (task.cluster.clone(), task.target_version.clone());
                            if let Some(c) = self.clusters.get_mut(&cluster)
                                && !c.plays(&Scenario::SuccessKeepsVersion)
                            {
                                c.platform_version = versions::platform_of(&target).to_string();
                                c.version = target;
                            }
                        } else {
                            task.run.set(Phase::Running, next, now);
                        }
                    }
                    Phase::Pause | Phase::Success | Phase::Failed => {}
                }
            }
        }
    }

    // ----------------------------------------------------------------------------- records

    fn push_task(&mut self, task: Task) {
        self.tasks.push(task);
        if self.tasks.len() > MAX_RECORDS {
            let drop = self
                .tasks
                .iter()
                .position(|t| t.run.phase.is_final())
                .unwrap_or(0);
            self.tasks.remove(drop);
        }
    }

    fn task(&self, uid: &str) -> Option<&Task> {
        self.tasks.iter().find(|t| t.uid == uid)
    }

    /// The cluster's open workflow (Init, Running or Pending), newest first.
    fn open_workflow(&self, cluster: &str) -> Option<&Workflow> {
        self.workflows.iter().rev().find(|w| {
            w.cluster == cluster
                && matches!(
                    self.workflow_phase(w),
                    WorkFlowPhase::Init | WorkFlowPhase::Running | WorkFlowPhase::Pending
                )
        })
    }

    fn new_task(&self, ids: &IdGen, cluster: &str, from: &str, target: &str, kind: Kind) -> Task {
        Task {
            uid: ids.uuid(),
            cluster: cluster.to_string(),
            workflow: self.open_workflow(cluster).map(|w| w.uid.clone()),
            run: Run::new(self.now()),
            from_version: from.to_string(),
            target_version: target.to_string(),
            kind,
        }
    }

    /// The normalised target for a cluster, or the 400 naming `field`.
    fn target(&self, cluster: &str, target: Option<&str>, field: &str) -> Result<String, Refusal> {
        let current = self
            .clusters
            .get(cluster)
            .map(|c| c.version.clone())
            .unwrap_or_default();
        let Some(target) = target.filter(|t| !t.trim().is_empty()) else {
            return Err(Refusal::Invalid(format!("{field} is required")));
        };
        let allowed = versions::targets_of(&current).join(", ");
        versions::normalise(&current, target).map_err(|e| {
            Refusal::Invalid(match e {
                TargetError::Malformed => {
                    format!("{field} {target:?} is not a version such as v1.29 or v1.29.15-r0")
                }
                TargetError::NotHigher => {
                    format!("{field} {target} is not higher than the cluster's version {current}")
                }
                TargetError::NotAllowed => format!(
                    "{field} {target} is not an allowed target for version {current}; allowed: \
                     [{allowed}]"
                ),
            })
        })
    }

    fn current_version(&self, cluster: &str) -> String {
        self.clusters
            .get(cluster)
            .map(|c| c.version.clone())
            .unwrap_or_default()
    }

    // ----------------------------------------------------------------------------- workflows

    /// Creates a workflow to `target`; returns it as created.
    pub(crate) fn create_workflow(
        &mut self,
        cluster: &str,
        target: Option<&str>,
        ids: &IdGen,
    ) -> Result<Value, Refusal> {
        if let Some(open) = self.open_workflow(cluster) {
            return Err(Refusal::Conflict(format!(
                "an upgrade workflow ({}, phase {}) is already open for cluster {cluster}: \
                 finish or cancel it first",
                open.uid,
                self.workflow_phase(open).as_str()
            )));
        }
        let target = self.target(cluster, target, "spec.targetVersion")?;
        let uid = ids.uuid();
        let wf = Workflow {
            name: format!("upgradeworkflow-{}", &uid[..8]),
            uid,
            cluster: cluster.to_string(),
            from_version: self.current_version(cluster),
            target_version: target,
            created: self.now(),
            cancelled: None,
        };
        let rendered = self.render_workflow(&wf);
        self.workflows.push(wf);
        if self.workflows.len() > MAX_RECORDS {
            self.workflows.remove(0);
        }
        Ok(rendered)
    }

    /// The workflows of a cluster as a list returns them, newest first.
    pub(crate) fn workflows(&self, cluster: &str) -> Vec<Value> {
        self.workflows
            .iter()
            .rev()
            .filter(|w| w.cluster == cluster)
            .map(|w| self.render_workflow(w))
            .collect()
    }

    /// The workflow list answer.
    pub(crate) fn list_workflows(&self, cluster: &str, as_object: bool) -> Value {
        let items = self.workflows(cluster);
        let mut list = t::UpgradeWorkFlowList {
            api_version: Some(ApiVersionV3::V3),
            kind: Some(UpgradeWorkFlowListKind::List),
            items: None,
        };
        if !as_object {
            let typed = items
                .iter()
                .filter_map(|v| serde_json::from_value(v.clone()).ok())
                .collect();
            list.items = Some(WorkFlowItems(typed));
            return to_json(&list);
        }
        let mut body = to_json(&list);
        if let Some(newest) = items.into_iter().next() {
            body["items"] = newest;
        }
        body
    }

    pub(crate) fn show_workflow(&self, cluster: &str, uid: &str) -> Result<Value, Refusal> {
        self.workflows
            .iter()
            .find(|w| w.cluster == cluster && w.uid == uid)
            .map(|w| self.render_workflow(w))
            .ok_or_else(|| {
                Refusal::NotFound(format!(
                    "Upgrade workflow {uid} not found in cluster {cluster}"
                ))
            })
    }

    /// Cancels a workflow (the only update the API has).
    pub(crate) fn update_workflow(
        &mut self,
        cluster: &str,
        uid: &str,
        phase: Option<&WorkFlowPhase>,
    ) -> Result<Value, Refusal> {
        let Some(i) = self
            .workflows
            .iter()
            .position(|w| w.cluster == cluster && w.uid == uid)
        else {
            return Err(Refusal::NotFound(format!(
                "Upgrade workflow {uid} not found in cluster {cluster}"
            )));
        };
        match phase {
            Some(WorkFlowPhase::Cancel) => {}
            None => return Err(Refusal::Invalid("status.phase is required".into())),
            Some(other) => {
                return Err(Refusal::Invalid(format!(
                    "status.phase {} is not allowed: the only update is Cancel",
                    other.as_str()
                )));
            }
        }
        let wf = &self.workflows[i];
        match self.workflow_phase(wf) {
            WorkFlowPhase::Cancel => return Ok(self.render_workflow(wf)),
            WorkFlowPhase::Success => {
                return Err(Refusal::Conflict(format!(
                    "upgrade workflow {uid} has succeeded; it cannot be cancelled"
                )));
            }
            _ => {}
        }
        if let Some(busy) = self
            .linked(wf)
            .into_iter()
            .flatten()
            .find(|t| t.run.phase.is_active())
        {
            return Err(Refusal::Conflict(format!(
                "upgrade workflow {uid} cannot be cancelled while its {} task {} is {}",
                busy.point_type()
                    .map_or_else(String::new, |p| p.as_str().to_owned()),
                busy.uid,
                busy.run.phase.as_str()
            )));
        }
        let now = self.now();
        self.workflows[i].cancelled = Some(now);
        Ok(self.render_workflow(&self.workflows[i]))
    }

    /// The newest task of each point type linked to a workflow, in point order.
    fn linked(&self, wf: &Workflow) -> [Option<&Task>; 4] {
        let newest = |ty: UpgradeTaskType| {
            self.tasks.iter().rev().find(|t| {
                t.workflow.as_deref() == Some(&wf.uid) && t.point_type() == Some(ty.clone())
            })
        };
        [
            newest(UpgradeTaskType::PreCheck),
            newest(UpgradeTaskType::Snapshot),
            newest(UpgradeTaskType::Cluster),
            newest(UpgradeTaskType::PostCheck),
        ]
    }

    fn workflow_phase(&self, wf: &Workflow) -> WorkFlowPhase {
        if wf.cancelled.is_some() {
            return WorkFlowPhase::Cancel;
        }
        let linked = self.linked(wf);
        if linked[3].is_some_and(|t| t.run.phase == Phase::Success) {
            return WorkFlowPhase::Success;
        }
        if linked
            .iter()
            .flatten()
            .any(|t| t.run.phase == Phase::Failed)
        {
            return WorkFlowPhase::Pending;
        }
        if linked.iter().any(Option::is_some) {
            return WorkFlowPhase::Running;
        }
        WorkFlowPhase::Init
    }

    fn render_workflow(&self, wf: &Workflow) -> Value {
        let linked = self.linked(wf);
        let types = [
            UpgradeTaskType::PreCheck,
            UpgradeTaskType::Snapshot,
            UpgradeTaskType::Cluster,
            UpgradeTaskType::PostCheck,
        ];
        let mut updated = wf.cancelled.unwrap_or(wf.created);
        let points = types
            .iter()
            .enumerate()
            .map(|(i, ty)| {
                let task = linked.get(i).copied().flatten();
                let mut point = t::PointStatus {
                    task_type: Some(ty.clone()),
                    status: Some(PointStatusPhase::Init),
                    ..Default::default()
                };
                if let Some(task) = task {
                    updated = updated.max(task.run.updated);
                    point.task_id = Some(task.uid.clone());
                    point.status = Some(PointStatusPhase::from(match task.run.phase {
                        Phase::Pause => "Running",
                        other => other.as_str(),
                    }));
                    point.start_time_stamp = task.run.started.map(|s| self.task_ts(s));
                    point.end_time_stamp = task.run.ended.map(|e| self.task_ts(e));
                    if task.is_precheck() && task.run.phase == Phase::Success {
                        point.expire_time_stamp = task.run.ended.map(|e| self.task_ts(expiry(e)));
                    }
                }
                point
            })
            .collect();
        let line = |from: UpgradeTaskType, to: UpgradeTaskType, critical: bool| t::LineStatus {
            start_point: Some(PointRef::from(from)),
            end_point: Some(PointRef::from(to)),
            critical: Some(LenientBool::Bool(critical)),
        };
        let workflow = t::UpgradeWorkFlow {
            api_version: Some(ApiVersionV3::V3),
            kind: Some(WorkFlowTaskKind::WorkFlowTask),
            metadata: Some(t::Metadata {
                uid: Some(wf.uid.clone()),
                name: Some(wf.name.clone()),
                creation_timestamp: Some(self.ts(wf.created)),
                update_timestamp: Some(self.ts(updated)),
                ..Default::default()
            }),
            spec: Some(t::WorkFlowResponseSpec {
                cluster_id: Some(wf.cluster.clone()),
                cluster_version: Some(wf.from_version.clone()),
                target_version: Some(wf.target_version.clone()),
            }),
            status: Some(t::WorkFlowStatus {
                phase: Some(self.workflow_phase(wf)),
                point_statuses: points,
                line_statuses: vec![
                    line(UpgradeTaskType::PreCheck, UpgradeTaskType::Snapshot, false),
                    line(UpgradeTaskType::Snapshot, UpgradeTaskType::Cluster, false),
                    line(UpgradeTaskType::Cluster, UpgradeTaskType::PostCheck, true),
                ],
            }),
        };
        to_json(&workflow)
    }

    // ----------------------------------------------------------------------------- pre-checks

    /// Creates a pre-check task; returns it as created.
    pub(crate) fn create_precheck(
        &mut self,
        cluster: &str,
        spec: &t::PreCheckSpec,
        ids: &IdGen,
    ) -> Result<Value, Refusal> {
        self.refuse_while_upgrading(cluster, "a pre-upgrade check")?;
        let target = self.target(
            cluster,
            spec.target_version.as_deref(),
            "spec.targetVersion",
        )?;
        let current = self.current_version(cluster);
        if let Some(v) = spec.cluster_version.as_deref().filter(|v| !v.is_empty())
            && versions::compare(v, &current) != std::cmp::Ordering::Equal
        {
            return Err(Refusal::Invalid(format!(
                "spec.clusterVersion {v} is not the cluster's version {current}"
            )));
        }
        let uid = self.precheck(
            cluster,
            &current,
            &target,
            spec.skipped_check_item_list.clone(),
            None,
            ids,
        );
        // The documented answer of CreatePreCheck has only the task's uid in its metadata.
        let mut created = self.render_precheck_typed(self.task(&uid).expect("just created"));
        if let Some(metadata) = &mut created.metadata {
            metadata.creation_timestamp = None;
            metadata.update_timestamp = None;
        }
        Ok(to_json(&created))
    }

    /// The conflict refusing `what` while an upgrade task of the cluster is under way.
    fn refuse_while_upgrading(&self, cluster: &str, what: &str) -> Result<(), Refusal> {
        match self
            .tasks
            .iter()
            .rev()
            .find(|t| t.cluster == cluster && t.is_upgrade() && t.run.phase.is_active())
        {
            Some(busy) => Err(Refusal::Conflict(format!(
                "{what} cannot start while the upgrade task {} of cluster {cluster} is {}",
                busy.uid,
                busy.run.phase.as_str()
            ))),
            None => Ok(()),
        }
    }

    /// Adds a pre-check task; returns its uid.
    fn precheck(
        &mut self,
        cluster: &str,
        current: &str,
        target: &str,
        skipped: Vec<t::SkippedCheckItem>,
        owner: Option<String>,
        ids: &IdGen,
    ) -> String {
        let scenarios = self
            .clusters
            .get(cluster)
            .map(|c| c.scenarios.clone())
            .unwrap_or_default();
        let findings = scenarios
            .iter()
            .filter_map(|s| match s {
                Scenario::PreCheckRisk { item, nodes } => Some(Finding {
                    name: item.clone(),
                    exception: false,
                    nodes: nodes.clone(),
                    skipped: is_skipped(&skipped, item, nodes),
                }),
                Scenario::PreCheckException { item } => Some(Finding {
                    name: item.clone(),
                    exception: true,
                    nodes: Vec::new(),
                    skipped: false,
                }),
                _ => None,
            })
            .collect();
        let task = self.new_task(
            ids,
            cluster,
            current,
            target,
            Kind::PreCheck {
                skipped,
                findings,
                owner,
            },
        );
        let uid = task.uid.clone();
        self.push_task(task);
        uid
    }

    pub(crate) fn show_precheck(&mut self, cluster: &str, uid: &str) -> Result<Value, Refusal> {
        let rendered = self
            .tasks
            .iter()
            .find(|t| t.cluster == cluster && t.uid == uid && t.is_precheck())
            .map(|t| self.render_precheck(t))
            .ok_or_else(|| {
                Refusal::NotFound(format!(
                    "Pre-check task {uid} not found in cluster {cluster}"
                ))
            })?;
        self.read(uid);
        Ok(rendered)
    }

    pub(crate) fn list_prechecks(&mut self, cluster: &str) -> Value {
        let (items, uids) = self.list_of(cluster, Task::is_precheck, Self::render_precheck_typed);
        let list = t::PreCheckTaskList {
            api_version: Some(ApiVersionV3::V3),
            kind: Some("List".into()),
            items,
            metadata: None,
        };
        uids.iter().for_each(|u| self.read(u));
        to_json(&list)
    }

    /// The tasks of a cluster that `keep`, newest first, rendered; and their uids.
    fn list_of<T>(
        &self,
        cluster: &str,
        keep: fn(&Task) -> bool,
        render: fn(&State, &Task) -> T,
    ) -> (Vec<T>, Vec<String>) {
        self.tasks
            .iter()
            .rev()
            .filter(|t| t.cluster == cluster && keep(t))
            .map(|t| (render(self, t), t.uid.clone()))
            .unzip()
    }

    fn render_precheck(&self, task: &Task) -> Value {
        to_json(&self.render_precheck_typed(task))
    }

    fn render_precheck_typed(&self, task: &Task) -> t::PreCheckTask {
        let Kind::PreCheck {
            skipped, findings, ..
        } = &task.kind
        else {
            return t::PreCheckTask::default();
        };
        let done = task.run.phase.is_final();
        let phase = PreCheckPhase::from(task.run.phase.as_str());
        let check_phase = |ok: bool| {
            if !done {
                CheckStatusPhase::from(task.run.phase.as_str())
            } else if ok {
                CheckStatusPhase::Success
            } else {
                CheckStatusPhase::Failed
            }
        };
        let item = |f: &Finding| t::PreCheckItemStatus {
            name: Some(f.name.clone()),
            kind: Some(if f.exception {
                PreCheckItemKind::Exception
            } else {
                PreCheckItemKind::Risk
            }),
            level: Some(if f.exception {
                PreCheckItemLevel::Fatal
            } else {
                PreCheckItemLevel::Warning
            }),
            group: Some(if f.nodes.is_empty() {
                PreCheckItemGroup::MasterCheck
            } else {
                PreCheckItemGroup::NodeCheck
            }),
            phase: Some(if f.skipped && !f.exception {
                CheckStatusPhase::Success
            } else {
                CheckStatusPhase::Failed
            }),
            message: Some(if f.exception {
                format!(
                    "{}: an exception that must be fixed before the upgrade",
                    f.name
                )
            } else if f.skipped {
                format!("{}: a risk, skipped as asked", f.name)
            } else {
                format!(
                    "{}: a risk; confirm it by naming it in skippedCheckItemList",
                    f.name
                )
            }),
            error_codes: Vec::new(),
            risk_source: (!f.nodes.is_empty()).then(|| t::RiskSource {
                node_risks: f
                    .nodes
                    .iter()
                    .map(|n| t::NodeRisk {
                        node_id: Some(n.clone()),
                    })
                    .collect(),
                ..Default::default()
            }),
        };
        let (cluster_items, node_findings): (Vec<&Finding>, Vec<&Finding>) =
            findings.iter().partition(|f| f.nodes.is_empty());
        let cluster_ok = cluster_items.iter().all(|f| f.skipped && !f.exception);
        let nodes: BTreeSet<&String> = node_findings.iter().flat_map(|f| &f.nodes).collect();
        let node_ok = node_findings.iter().all(|f| f.skipped);
        let message = if !done {
            None
        } else if task.run.phase == Phase::Success {
            Some("the pre-upgrade check passed".to_string())
        } else {
            Some(format!(
                "the pre-upgrade check failed: {}",
                findings
                    .iter()
                    .filter(|f| !f.skipped || f.exception)
                    .map(|f| format!(
                        "{} ({})",
                        f.name,
                        if f.exception { "Exception" } else { "Risk" }
                    ))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        };
        let status = t::PreCheckStatus {
            phase: Some(phase),
            message,
            expire_time_stamp: (task.run.phase == Phase::Success)
                .then(|| task.run.ended.map(|e| self.task_ts(expiry(e))))
                .flatten(),
            cluster_check_status: done.then(|| t::ClusterCheckStatus {
                phase: Some(check_phase(cluster_ok)),
                items_status: if done {
                    cluster_items.iter().map(|f| item(f)).collect()
                } else {
                    Vec::new()
                },
            }),
            node_check_status: done.then(|| t::NodeCheckStatus {
                phase: Some(check_phase(node_ok)),
                node_stage_status: nodes
                    .iter()
                    .map(|n| t::NodeStageStatus {
                        node_info: Some(t::PreCheckNodeInfo {
                            uid: Some((*n).clone()),
                            name: Some(format!("node-{}", n.chars().take(8).collect::<String>())),
                            node_type: Some(PreCheckNodeType::Node),
                            status: Some(PreCheckNodeStatus::Active),
                        }),
                        items_status: node_findings
                            .iter()
                            .filter(|f| f.nodes.contains(n))
                            .map(|f| item(f))
                            .collect(),
                    })
                    .collect(),
            }),
            addon_check_status: done.then(|| t::AddonCheckStatus {
                phase: Some(CheckStatusPhase::Success),
                items_status: Vec::new(),
            }),
        };
        t::PreCheckTask {
            api_version: Some(ApiVersionV3::V3),
            kind: Some(PreCheckTaskKind::PreCheckTask),
            metadata: Some(t::PreCheckTaskMetadata {
                uid: Some(task.uid.clone()),
                creation_timestamp: Some(self.task_ts(task.run.created)),
                update_timestamp: Some(self.task_ts(task.run.updated)),
            }),
            spec: Some(t::PreCheckSpec {
                cluster_id: Some(task.cluster.clone()),
                cluster_version: Some(task.from_version.clone()),
                target_version: Some(task.target_version.clone()),
                skipped_check_item_list: skipped.clone(),
            }),
            status: Some(status),
        }
    }

    // ----------------------------------------------------------------------------- snapshots

    pub(crate) fn create_snapshot(&mut self, cluster: &str, ids: &IdGen) -> Result<Value, Refusal> {
        self.refuse_while_upgrading(cluster, "a master snapshot")?;
        let current = self.current_version(cluster);
        let task = self.new_task(ids, cluster, &current, &current, Kind::Snapshot);
        let uid = task.uid.clone();
        self.push_task(task);
        Ok(to_json(&t::SnapshotClusterResponse {
            metadata: Some(t::SnapshotClusterResponseMetadata {
                api_version: Some(ApiVersionV31::V31),
                kind: Some("Task".into()),
            }),
            uid: Some(uid),
        }))
    }

    pub(crate) fn list_snapshots(&mut self, cluster: &str) -> Value {
        let (items, uids) = self.list_of(
            cluster,
            |t| matches!(t.kind, Kind::Snapshot),
            Self::render_snapshot,
        );
        let latest_backup = self
            .tasks
            .iter()
            .rev()
            .find(|t| {
                t.cluster == cluster
                    && matches!(t.kind, Kind::Snapshot)
                    && t.run.phase == Phase::Success
            })
            .and_then(|t| t.run.ended)
            .map(|e| self.task_ts(e));
        let list = t::SnapshotTaskList {
            api_version: Some(ApiVersionV31::V31),
            kind: Some("List".into()),
            items,
            metadata: None,
            status: Some(t::SnapshotTaskStatus {
                latest_backup_time: latest_backup,
            }),
        };
        uids.iter().for_each(|u| self.read(u));
        to_json(&list)
    }

    fn render_snapshot(&self, task: &Task) -> t::SnapshotTask {
        let sub = t::SnapshotSpecItem {
            id: Some(format!("{}-backup", &task.uid[..8.min(task.uid.len())])),
            type_: Some(SnapshotSubtaskType::MasterBackup),
            status: Some(SnapshotSubtaskStatus::from(task.run.phase.as_str())),
            creation_timestamp: Some(self.task_ts(task.run.created)),
            update_timestamp: Some(self.task_ts(task.run.updated)),
            message: None,
        };
        t::SnapshotTask {
            api_version: Some("v3.1".into()),
            kind: Some("Task".into()),
            metadata: Some(t::SnapshotTaskMetadata {
                uid: Some(task.uid.clone()),
                creation_timestamp: Some(self.task_ts(task.run.created)),
                update_timestamp: Some(self.task_ts(task.run.updated)),
            }),
            spec: Some(t::SnapshotSpec { items: vec![sub] }),
            status: Some(t::SnapshotStatus {
                phase: Some(task.run.phase.as_str().into()),
                progress: Some(format!("{}", task.run.progress)),
                completion_time: task.run.ended.map(|e| self.task_ts(e)),
            }),
        }
    }

    // ----------------------------------------------------------------------------- upgrades

    /// Starts an upgrade (UpgradeCluster); returns the answer.
    pub(crate) fn upgrade(
        &mut self,
        cluster: &str,
        action: &t::ClusterUpgradeAction,
        ids: &IdGen,
    ) -> Result<Value, Refusal> {
        if let Some(phase) = self.clusters.get(cluster).and_then(|c| c.phase.clone())
            && phase != ClusterPhase::Available
        {
            return Err(Refusal::Conflict(format!(
                "cluster {cluster} is {}: only an Available cluster can be upgraded",
                phase.as_str()
            )));
        }
        if let Some(busy) = self
            .tasks
            .iter()
            .rev()
            .find(|t| t.cluster == cluster && t.is_upgrade() && t.run.phase.is_active())
        {
            return Err(Refusal::Conflict(format!(
                "an upgrade of cluster {cluster} is already under way (task {}, phase {}): \
                 follow it instead of starting another",
                busy.uid,
                busy.run.phase.as_str()
            )));
        }
        if let Some(failed) = self
            .newest_upgrade(cluster)
            .map(|i| &self.tasks[i])
            .filter(|t| t.run.phase == Phase::Failed)
        {
            let cancelled = failed.workflow.as_deref().is_some_and(|uid| {
                self.workflows
                    .iter()
                    .any(|w| w.uid == uid && w.cancelled.is_some())
            });
            if !cancelled {
                return Err(Refusal::Conflict(format!(
                    "the upgrade task {} of cluster {cluster} failed and awaits a retry: retry \
                     it (RetryUpgradeClusterTask){} before starting another upgrade",
                    failed.uid,
                    failed
                        .workflow
                        .as_deref()
                        .map_or_else(String::new, |uid| format!(
                            " or cancel its upgrade workflow {uid}"
                        ))
                )));
            }
        }
        let target = self.target(
            cluster,
            Some(&action.target_version),
            "spec.clusterUpgradeAction.targetVersion",
        )?;
        let current = self.current_version(cluster);
        let now = self.now();
        let own_precheck = if action.is_only_upgrade {
            let passed = self.tasks.iter().rev().find(|t| {
                t.cluster == cluster
                    && t.is_precheck()
                    && t.from_version == current
                    && t.target_version == target
                    && t.run.phase == Phase::Success
            });
            match passed.and_then(|t| t.run.ended) {
                Some(ended) if now <= expiry(ended) => None,
                Some(ended) => {
                    return Err(Refusal::Conflict(format!(
                        "spec.clusterUpgradeAction.isOnlyUpgrade: the pre-upgrade check for \
                         {target} expired at {}; run it again",
                        self.task_ts(expiry(ended))
                    )));
                }
                None => {
                    return Err(Refusal::Conflict(format!(
                        "spec.clusterUpgradeAction.isOnlyUpgrade: no passed pre-upgrade check \
                         of cluster {cluster} for {current} -> {target}; run one first (or \
                         upgrade with isOnlyUpgrade false)"
                    )));
                }
            }
        } else {
            Some(())
        };
        let (fail_at, pause_at) = match self.clusters.get_mut(cluster) {
            Some(c) => {
                c.upgrades_started += 1;
                (c.take_progress_fault(false), c.take_progress_fault(true))
            }
            None => (None, None),
        };
        let mut task = self.new_task(
            ids,
            cluster,
            &current,
            &target,
            Kind::Upgrade {
                own_precheck: None,
                fail_at,
                pause_at,
                message: None,
            },
        );
        let uid = task.uid.clone();
        if own_precheck.is_some() {
            let check = self.precheck(
                cluster,
                &current,
                &target,
                Vec::new(),
                Some(uid.clone()),
                ids,
            );
            if let Kind::Upgrade { own_precheck, .. } = &mut task.kind {
                *own_precheck = Some(check);
            }
        }
        self.push_task(task);
        let job = self.new_task(
            ids,
            cluster,
            &current,
            &target,
            Kind::Job {
                resource: JobResource::Upgrade(uid.clone()),
            },
        );
        self.push_task(Task {
            workflow: None,
            ..job
        });
        Ok(to_json(&t::UpgradeClusterResponse {
            metadata: Some(t::UpgradeClusterResponseMetadata { uid: Some(uid) }),
            spec: Some(t::UpgradeClusterResponseSpec {
                cluster_upgrade_action: Some(t::ClusterUpgradeResponseAction {
                    version: Some(current),
                    target_version: Some(target.clone()),
                    target_platform_version: Some(versions::platform_of(&target).to_string()),
                    strategy: Some(action.strategy.clone()),
                    config: Map::new(),
                }),
            }),
        }))
    }

    /// The newest upgrade task of a cluster.
    fn newest_upgrade(&self, cluster: &str) -> Option<usize> {
        self.tasks
            .iter()
            .rposition(|t| t.cluster == cluster && t.is_upgrade())
    }

    /// Retry, Pause or Continue on the cluster's newest upgrade task.
    pub(crate) fn act_on_upgrade(
        &mut self,
        cluster: &str,
        action: UpgradeAction,
    ) -> Result<(), Refusal> {
        let now = self.now();
        let Some(i) = self.newest_upgrade(cluster) else {
            return Err(Refusal::NotFound(format!(
                "cluster {cluster} has no upgrade task to {}",
                action.verb()
            )));
        };
        let task = &mut self.tasks[i];
        let (from, to) = match action {
            UpgradeAction::Retry => (Phase::Failed, Phase::Running),
            UpgradeAction::Pause => (Phase::Running, Phase::Pause),
            UpgradeAction::Continue => (Phase::Pause, Phase::Running),
        };
        if task.run.phase != from {
            return Err(Refusal::Conflict(format!(
                "the upgrade task {} is {}; only a {} task can be {}",
                task.uid,
                task.run.phase.as_str(),
                from.as_str(),
                action.done()
            )));
        }
        let progress = task.run.progress;
        // A failed own pre-check is run again by a retry.
        if let (
            UpgradeAction::Retry,
            Kind::Upgrade {
                own_precheck: Some(own),
                message,
                ..
            },
        ) = (action, &mut task.kind)
        {
            *message = None;
            let own = own.clone();
            if let Some(check) = self.tasks.iter_mut().find(|t| t.uid == own)
                && check.run.phase == Phase::Failed
            {
                check.run = Run::new(now);
                self.tasks[i].run.set(Phase::Init, 0, now);
                return Ok(());
            }
        }
        let task = &mut self.tasks[i];
        if let Kind::Upgrade { message, .. } = &mut task.kind {
            *message = None;
        }
        task.run.set(to, progress, now);
        task.run.ended = None;
        Ok(())
    }

    pub(crate) fn show_upgrade(&mut self, cluster: &str, uid: &str) -> Result<Value, Refusal> {
        let rendered = self
            .tasks
            .iter()
            .find(|t| t.cluster == cluster && t.uid == uid && t.is_upgrade())
            .map(|t| to_json(&self.render_upgrade(t)))
            .ok_or_else(|| {
                Refusal::NotFound(format!("Upgrade task {uid} not found in cluster {cluster}"))
            })?;
        self.read(uid);
        Ok(rendered)
    }

    pub(crate) fn list_upgrades(&mut self, cluster: &str) -> Value {
        let (items, uids) = self.list_of(cluster, Task::is_upgrade, Self::render_upgrade);
        let list = t::UpgradeTaskList {
            api_version: Some(ApiVersionV3::V3),
            kind: Some("List".into()),
            items,
            metadata: None,
        };
        uids.iter().for_each(|u| self.read(u));
        to_json(&list)
    }

    fn render_upgrade(&self, task: &Task) -> t::UpgradeTask {
        let mut items = Map::new();
        if let Kind::Upgrade {
            own_precheck,
            message,
            ..
        } = &task.kind
        {
            if let Some(own) = own_precheck {
                items.insert("preCheckTaskID".into(), Value::String(own.clone()));
            }
            if let Some(message) = message {
                items.insert("message".into(), Value::String(message.clone()));
            }
        }
        t::UpgradeTask {
            api_version: Some(ApiVersionV3::V3),
            kind: Some(UpgradeTaskKind::UpgradeTask),
            metadata: Some(t::UpgradeTaskMetadata {
                uid: Some(task.uid.clone()),
                creation_timestamp: Some(self.task_ts(task.run.created)),
                update_timestamp: Some(self.task_ts(task.run.updated)),
            }),
            spec: Some(t::UpgradeTaskSpec {
                version: Some(task.from_version.clone()),
                target_version: Some(task.target_version.clone()),
                items,
            }),
            status: Some(t::UpgradeTaskStatus {
                phase: Some(UpgradeTaskPhase::from(
                    self.phase_text(&task.cluster, task.run.phase),
                )),
                progress: Some(self.progress_text(&task.cluster, task.run.progress)),
                completion_time: task.run.ended.map(|e| self.task_ts(e)),
            }),
        }
    }

    /// An upgrade task's phase as answered: `Rolling` for a running task of a cluster that plays
    /// [`Scenario::PhaseNotKnown`].
    fn phase_text(&self, cluster: &str, phase: Phase) -> &'static str {
        let newer = self
            .clusters
            .get(cluster)
            .is_some_and(|c| c.plays(&Scenario::PhaseNotKnown));
        if newer && phase == Phase::Running {
            "Rolling"
        } else {
            phase.as_str()
        }
    }

    // ----------------------------------------------------------------------------- post-checks

    /// Runs a post-check (synchronous): a success when the cluster's newest upgrade succeeded
    /// (to the spec's target, when it names one).
    pub(crate) fn post_check(
        &mut self,
        cluster: &str,
        spec: &t::PostCheckSpec,
        ids: &IdGen,
    ) -> Value {
        let upgrade = self.newest_upgrade(cluster).map(|i| self.tasks[i].clone());
        let current = self.current_version(cluster);
        let (from, target) = upgrade
            .as_ref()
            .map_or((current.clone(), current.clone()), |u| {
                (u.from_version.clone(), u.target_version.clone())
            });
        let target_matches = spec.target_version.as_deref().is_none_or(|t| {
            t.is_empty() || versions::compare(t, &target) == std::cmp::Ordering::Equal
        });
        let success = upgrade.is_some_and(|u| u.run.phase == Phase::Success) && target_matches;
        let mut task = self.new_task(ids, cluster, &from, &target, Kind::PostCheck);
        let now = self.now();
        task.run.set(
            if success {
                Phase::Success
            } else {
                Phase::Failed
            },
            100,
            now,
        );
        let uid = task.uid.clone();
        self.push_task(task);
        let echo = |given: &Option<String>, fallback: &str| {
            Some(
                given
                    .clone()
                    .filter(|v| !v.is_empty())
                    .unwrap_or_else(|| fallback.to_string()),
            )
        };
        to_json(&t::PostCheckTask {
            api_version: Some("v3".into()),
            kind: Some("PostCheckTask".into()),
            metadata: Some(t::PostCheckClusterResponseMetadata { uid: Some(uid) }),
            spec: Some(t::PostCheckSpec {
                cluster_id: echo(&spec.cluster_id, cluster),
                cluster_version: echo(&spec.cluster_version, &from),
                target_version: echo(&spec.target_version, &target),
            }),
            status: Some(t::PostCheckClusterResponseStatus {
                phase: Some(if success {
                    PostCheckPhase::Success
                } else {
                    PostCheckPhase::Failed
                }),
            }),
        })
    }

    // ----------------------------------------------------------------------------- add-on checks

    pub(crate) fn addon_check(
        &mut self,
        cluster: &str,
        body: &t::AddonCheckRequestBody,
        ids: &IdGen,
    ) -> Value {
        let current = self.current_version(cluster);
        let now = self.now();
        for info in &body.spec.addon_list {
            let mut task = self.new_task(
                ids,
                cluster,
                &current,
                info.target_version.as_deref().unwrap_or(""),
                Kind::AddonCheck { info: info.clone() },
            );
            task.workflow = None;
            task.run.set(Phase::Success, 100, now);
            self.push_task(task);
        }
        to_json(&t::AddonCheck {
            api_version: Some("v3".into()),
            kind: Some("AddonCheck".into()),
            spec: Some(body.spec.clone()),
            status: Some(t::AddonCheckStatus {
                phase: Some(CheckStatusPhase::Success),
                items_status: Vec::new(),
            }),
        })
    }

    pub(crate) fn list_addon_checks(
        &self,
        cluster: &str,
        type_: Option<&str>,
        task_id: Option<&str>,
        instance: Option<&str>,
    ) -> Value {
        let items: Vec<t::AddonCheckTask> = self
            .tasks
            .iter()
            .rev()
            .filter(|t| t.cluster == cluster)
            .filter_map(|task| {
                let Kind::AddonCheck { info } = &task.kind else {
                    return None;
                };
                let keep = type_.is_none_or(|ty| ty == info.type_.as_str())
                    && task_id.is_none_or(|id| id == task.uid)
                    && instance.is_none_or(|id| id == info.addon_instance_id);
                keep.then(|| t::AddonCheckTask {
                    metadata: Some(t::AddonCheckTaskMetadata {
                        task_id: Some(task.uid.clone()),
                        addon_instance_id: Some(info.addon_instance_id.clone()),
                        addon_instance_name: Some(info.addon_template_name.clone()),
                        addon_template_name: Some(info.addon_template_name.clone()),
                        create_time_stamp: Some(self.task_ts(task.run.created)),
                        expire_time_stamp: task.run.ended.map(|e| self.task_ts(expiry(e))),
                        type_: Some(info.type_.clone()),
                    }),
                    spec: Some(t::AddonCheckTaskSpec {
                        addon_target_version: info.target_version.clone(),
                    }),
                    status: Some(t::AddonCheckTaskStatus {
                        status: Some(crate::model::AddonCheckPhase::Success),
                        message: Some("the add-on check passed".into()),
                        risk_list: Vec::new(),
                    }),
                })
            })
            .collect();
        let count = i64::try_from(items.len()).unwrap_or(i64::MAX);
        to_json(&t::AddonCheckTaskList {
            api_version: Some("v3".into()),
            kind: Some("List".into()),
            items,
            page_info: Some(t::AddonCheckPageInfo {
                current_count: Some(count),
            }),
        })
    }

    // ----------------------------------------------------------------------------- node pools, jobs

    /// Starts a node-pool sync; returns the job id.
    pub(crate) fn sync_nodepool(&mut self, cluster: &str, pool: &str, ids: &IdGen) -> String {
        let current = self.current_version(cluster);
        let mut task = self.new_task(
            ids,
            cluster,
            &current,
            &current,
            Kind::Job {
                resource: JobResource::NodePool(pool.to_string()),
            },
        );
        task.workflow = None;
        let uid = task.uid.clone();
        self.push_task(task);
        uid
    }

    /// The phase of a job (an upgrade job follows its upgrade task).
    fn job_phase(&self, task: &Task) -> Phase {
        self.job_run(task).map_or(Phase::Failed, |run| run.phase)
    }

    /// The run a job reports: its own, or that of the upgrade task it follows (`None` when that
    /// task is gone).
    fn job_run<'a>(&'a self, task: &'a Task) -> Option<&'a Run> {
        match &task.kind {
            Kind::Job {
                resource: JobResource::Upgrade(u),
            } => self.task(u).map(|u| &u.run),
            _ => Some(&task.run),
        }
    }

    /// A job, if it exists and its cluster is of this flavour.
    fn job(&self, uid: &str, flavour: Flavour) -> Result<&Task, Refusal> {
        self.tasks
            .iter()
            .find(|t| {
                t.uid == uid
                    && matches!(t.kind, Kind::Job { .. })
                    && self
                        .clusters
                        .get(&t.cluster)
                        .is_some_and(|c| c.autopilot == (flavour == Flavour::Autopilot))
            })
            .ok_or_else(|| Refusal::NotFound(format!("Job {uid} not found")))
    }

    pub(crate) fn show_job(&mut self, uid: &str, flavour: Flavour) -> Result<Value, Refusal> {
        let rendered = to_json(&self.render_job(self.job(uid, flavour)?));
        self.read(uid);
        Ok(rendered)
    }

    fn render_job(&self, task: &Task) -> t::Job {
        let phase = self.job_phase(task);
        let (ty, resource) = match &task.kind {
            Kind::Job {
                resource: JobResource::NodePool(p),
            } => ("UpgradeNodePool", p.clone()),
            Kind::Job {
                resource: JobResource::Upgrade(u),
            } => ("UpgradeCluster", u.clone()),
            _ => ("", String::new()),
        };
        t::Job {
            api_version: Some("v3".into()),
            kind: Some("Job".into()),
            metadata: Some(t::JobMetadata {
                uid: Some(task.uid.clone()),
                creation_timestamp: Some(self.ts(task.run.created)),
                update_timestamp: Some(self.ts(task.run.updated)),
            }),
            spec: Some(t::JobSpec {
                type_: Some(ty.into()),
                cluster_uid: Some(task.cluster.clone()),
                resource_id: Some(resource.clone()),
                resource_name: Some(resource),
                ..Default::default()
            }),
            status: Some(t::JobStatus {
                phase: Some(job_phase_of(phase)),
                reason: (phase == Phase::Failed).then(|| "the task failed".to_string()),
            }),
        }
    }

    fn render_v2_job(&self, task: &Task) -> t::V2Job {
        let job = self.render_job(task);
        let spec = job.spec.unwrap_or_default();
        let status = job.status.unwrap_or_default();
        t::V2Job {
            api_version: job.api_version,
            kind: job.kind,
            metadata: job.metadata.map(|m| t::V2JobMetadata {
                uid: m.uid,
                creation_timestamp: m.creation_timestamp,
                update_timestamp: m.update_timestamp,
            }),
            spec: Some(t::V2JobSpec {
                clusteruid: spec.cluster_uid,
                resourceid: spec.resource_id,
                resourcename: spec.resource_name,
                type_: spec.type_,
                ..Default::default()
            }),
            status: Some(t::V2JobStatus {
                status: status.phase,
                reason: status.reason,
                completion_time: self
                    .job_run(task)
                    .and_then(|run| run.ended)
                    .map(|e| self.ts(e)),
            }),
        }
    }

    pub(crate) fn get_v2_job(&mut self, uid: &str) -> Result<Value, Refusal> {
        let rendered = to_json(&self.render_v2_job(self.job(uid, Flavour::Autopilot)?));
        self.read(uid);
        Ok(rendered)
    }

    pub(crate) fn list_v2_jobs(&self) -> Value {
        let jobs: Vec<t::V2Job> = self
            .tasks
            .iter()
            .rev()
            .filter(|t| {
                matches!(t.kind, Kind::Job { .. })
                    && self.clusters.get(&t.cluster).is_some_and(|c| c.autopilot)
            })
            .map(|t| self.render_v2_job(t))
            .collect();
        to_json(&jobs)
    }

    pub(crate) fn delete_v2_job(&mut self, uid: &str) -> Result<(), Refusal> {
        self.job(uid, Flavour::Autopilot)?;
        self.tasks.retain(|t| t.uid != uid);
        Ok(())
    }

    // ----------------------------------------------------------------------------- versions

    /// An upgrade task's progress as answered: `"37.00"`, or `"NaN"` for a lying cluster.
    fn progress_text(&self, cluster: &str, progress: u8) -> String {
        if self
            .clusters
            .get(cluster)
            .is_some_and(|c| c.plays(&Scenario::ProgressNotANumber))
        {
            "NaN".to_owned()
        } else {
            format!("{progress}.00")
        }
    }

    pub(crate) fn upgrade_info(&self, cluster: &str) -> Value {
        let current = self.current_version(cluster);
        let (release, patch) = versions::release_and_patch(&current);
        let targets: Vec<String> = versions::targets_of(&current)
            .into_iter()
            .map(str::to_string)
            .collect();
        let suggest = targets
            .iter()
            .filter(|t| versions::release_and_patch(t).0 == release)
            .max_by(|a, b| versions::compare(a, b))
            .map(|t| versions::release_and_patch(t).1);
        let last = self.newest_upgrade(cluster).map(|i| {
            let task = &self.tasks[i];
            t::UpgradeInfoStatus {
                phase: Some(UpgradeTaskPhase::from(task.run.phase.as_str())),
                progress: Some(self.progress_text(&task.cluster, task.run.progress)),
                completion_time: task.run.ended.map(|e| self.task_ts(e)),
            }
        });
        let created = self.clusters.get(cluster).map_or(0, |c| c.created);
        to_json(&t::UpgradeInfo {
            api_version: Some("v3".into()),
            kind: Some("UpgradeInfo".into()),
            metadata: Some(t::Metadata {
                uid: Some(cluster.to_string()),
                creation_timestamp: Some(self.ts(created)),
                ..Default::default()
            }),
            spec: Some(t::UpgradeInfoSpec {
                last_upgrade_info: last.clone(),
                version_info: Some(t::UpgradeVersionInfo {
                    release: Some(release),
                    patch: Some(patch),
                    suggest_patch: suggest,
                    target_versions: targets,
                }),
                upgrade_feature_gates: Some(t::UpgradeInfoFeatureGates {
                    support_upgrade_page_v4: Some(true),
                }),
            }),
            status: last,
        })
    }

    pub(crate) fn upgrade_paths() -> Value {
        to_json(&t::UpgradePathList {
            api_version: Some("v3".into()),
            kind: Some("UpgradePath".into()),
            metadata: None,
            upgrade_paths: versions::CATALOGUE
                .iter()
                .map(|(v, p, targets)| t::UpgradePath {
                    version: Some((*v).to_string()),
                    platform_version: Some((*p).to_string()),
                    target_versions: targets.iter().map(|t| (*t).to_string()).collect(),
                })
                .collect(),
        })
    }

    pub(crate) fn upgrade_feature_gates() -> Value {
        let gates = [
            ("DisplayPreCheckDetail", UpgradeFeatureGateValue::Support),
            ("EvsSnapshot", UpgradeFeatureGateValue::Support),
            ("LabelForSkippedNode", UpgradeFeatureGateValue::Default),
            ("UpgradeStrategy", UpgradeFeatureGateValue::Support),
        ];
        to_json(&t::ClusterUpgradeFeatureGates {
            api_version: Some("v3".into()),
            kind: Some("ClusterUpgradeFeatureGates".into()),
            metadata: None,
            upgrade_feature_gates: gates.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        })
    }

    pub(crate) fn feature_gates() -> Value {
        let mut spec = Map::new();
        spec.insert("EvsSnapshot".into(), Value::Bool(true));
        spec.insert(
            "UpgradeStrategy".into(),
            Value::String(UpgradeStrategyType::InPlaceRollingUpdate.as_str().into()),
        );
        to_json(&t::FeatureGates {
            api_version: Some(ApiVersionV31::V31),
            kind: Some(FeatureGatesKind::Configuration),
            spec,
        })
    }

    // ----------------------------------------------------------------------------- plans

    fn plan(&self, cluster: &str) -> Option<t::UpgradePlan> {
        let c = self.clusters.get(cluster)?;
        let (release, _) = versions::release_and_patch(&c.version);
        let targets = versions::targets_of(&c.version);
        let target = targets
            .iter()
            .filter(|t| versions::release_and_patch(t).0 == release)
            .max_by(|a, b| versions::compare(a, b))
            .or(targets.first())?;
        const WEEK: Micros = 7 * 24 * 3_600 * 1_000_000;
        let not_before = c
            .plan_not_before
            .clone()
            .unwrap_or_else(|| self.ts(c.created.saturating_add(WEEK)));
        Some(t::UpgradePlan {
            api_version: Some("v3".into()),
            kind: Some("UpgradePlan".into()),
            metadata: Some(t::Metadata {
                uid: Some(c.plan_uid.clone()),
                creation_timestamp: Some(self.ts(c.created)),
                ..Default::default()
            }),
            spec: Some(t::UpgradePlanSpec {
                cluster_id: Some(cluster.to_string()),
                cluster_version: Some(c.version.clone()),
                target_version: Some((*target).to_string()),
                not_before: Some(not_before),
                not_after: None,
                not_before_deadline: Some(self.ts(c.created.saturating_add(2 * WEEK))),
            }),
            status: Some(t::UpgradePlanStatus {
                phase: Some("Pending".into()),
            }),
        })
    }

    pub(crate) fn list_plans(&self, cluster: &str, as_object: bool) -> Value {
        let plans: Vec<t::UpgradePlan> = self.plan(cluster).into_iter().collect();
        to_json(&t::UpgradePlanList {
            api_version: Some("v3".into()),
            kind: Some("List".into()),
            items: Some(if as_object && plans.len() == 1 {
                t::UpgradePlanItems::UpgradePlan(plans.into_iter().next().unwrap_or_default())
            } else {
                t::UpgradePlanItems::Array(plans)
            }),
        })
    }

    pub(crate) fn postpone_plan(
        &mut self,
        cluster: &str,
        uid: &str,
        not_before: &str,
    ) -> Result<Value, Refusal> {
        let plan = self
            .plan(cluster)
            .filter(|p| p.metadata.as_ref().and_then(|m| m.uid.as_deref()) == Some(uid))
            .ok_or_else(|| {
                Refusal::NotFound(format!("Upgrade plan {uid} not found in cluster {cluster}"))
            })?;
        // The official SDK sends a date (`2026-12-14`: its midnight, UTC), others a timestamp.
        let when = crate::timestamp::parse_go_time(not_before)
            .ok()
            .map(|t| (t.unix_seconds(), not_before.to_string()))
            .or_else(|| {
                let date = jiff::civil::Date::strptime("%Y-%m-%d", not_before.trim()).ok()?;
                let seconds = jiff::tz::TimeZone::UTC
                    .to_timestamp(date.to_datetime(jiff::civil::Time::midnight()))
                    .ok()?
                    .as_second();
                Some((
                    seconds,
                    super::clock::go_timestamp(seconds.saturating_mul(1_000_000)),
                ))
            })
            .ok_or_else(|| {
                Refusal::Invalid(format!(
                    "notBefore {not_before:?} is neither a date (2026-12-14) nor a time \
                     (2026-12-14 02:00:00 +0800 CST)"
                ))
            })?;
        let (when, not_before) = (when.0, when.1);
        let deadline = plan
            .spec
            .as_ref()
            .and_then(|s| s.not_before_deadline.as_deref())
            .and_then(|d| crate::timestamp::parse_go_time(d).ok());
        if let Some(deadline) = deadline
            && when >= deadline.unix_seconds()
        {
            return Err(Refusal::Invalid(format!(
                "notBefore {not_before} must be earlier than the plan's notBeforeDeadline"
            )));
        }
        if let Some(c) = self.clusters.get_mut(cluster) {
            c.plan_not_before = Some(not_before);
        }
        let plan = self.plan(cluster).unwrap_or_default();
        Ok(to_json(&t::DelayedUpgradePlan {
            api_version: plan.api_version,
            kind: plan.kind,
            metadata: plan.metadata,
            spec: plan.spec,
            status: plan.status,
        }))
    }

    // ----------------------------------------------------------------------------- observing

    /// The pre-check tasks of a cluster as the list shows them, newest first (no read counted).
    pub(crate) fn prechecks_of(&self, cluster: &str) -> Vec<Value> {
        self.list_of(cluster, Task::is_precheck, Self::render_precheck_typed)
            .0
            .iter()
            .map(to_json)
            .collect()
    }

    /// The upgrade tasks of a cluster, newest first (no read counted).
    pub(crate) fn upgrades_of(&self, cluster: &str) -> Vec<Value> {
        self.list_of(cluster, Task::is_upgrade, Self::render_upgrade)
            .0
            .iter()
            .map(to_json)
            .collect()
    }
}

/// Retry, Pause or Continue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UpgradeAction {
    Retry,
    Pause,
    Continue,
}

impl UpgradeAction {
    fn verb(self) -> &'static str {
        match self {
            UpgradeAction::Retry => "retry",
            UpgradeAction::Pause => "pause",
            UpgradeAction::Continue => "continue",
        }
    }

    fn done(self) -> &'static str {
        match self {
            UpgradeAction::Retry => "retried",
            UpgradeAction::Pause => "paused",
            UpgradeAction::Continue => "continued",
        }
    }
}

fn job_phase_of(phase: Phase) -> JobPhase {
    match phase {
        Phase::Init | Phase::Queuing => JobPhase::Initializing,
        Phase::Running | Phase::Pause => JobPhase::Running,
        Phase::Success => JobPhase::Success,
        Phase::Failed => JobPhase::Failed,
    }
}

/// When a pre-check that ended at `ended` expires.
/// The minor version of a version: `v1.28` of `v1.28.15-r0`.
fn minor_of(version: &str) -> &str {
    match version.match_indices('.').nth(1) {
        Some((i, _)) => &version[..i],
        None => version,
    }
}

fn expiry(ended: Micros) -> Micros {
    ended.saturating_add(i64::try_from(PRECHECK_VALIDITY.as_micros()).unwrap_or(i64::MAX))
}

/// Whether `skipped` skips `item` on all of `nodes` (every node when the skip has no selector).
fn is_skipped(skipped: &[t::SkippedCheckItem], item: &str, nodes: &[String]) -> bool {
    skipped
        .iter()
        .filter(|s| s.name.as_deref() == Some(item))
        .any(|s| match &s.resource_selector {
            None => true,
            Some(sel) => {
                sel.key == PreCheckSelectorKey::NodeUid
                    && sel.operator == PreCheckSelectorOperator::In
                    && !nodes.is_empty()
                    && nodes.iter().all(|n| sel.values.contains(n))
            }
        })
}
