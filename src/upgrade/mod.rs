//! The upgrade driver: a whole cluster upgrade, run the way the service expects, resumable.
//!
//! ```no_run
//! # async fn run(client: cce_upgrade::Client) -> Result<(), cce_upgrade::Error> {
//! use cce_upgrade::upgrade::UpgradeEvent;
//!
//! let report = client
//!     .upgrade("my-cluster-id")
//!     .to("v1.29")
//!     .snapshot(true)
//!     .skip_check("NodeKernelCheck")
//!     .sync_node_pools(["my-pool-id"])
//!     .on_event(|e| {
//!         if let UpgradeEvent::Progress(p) = e {
//!             println!("{p:.0}%");
//!         }
//!     })
//!     .run()
//!     .await?;
//! println!("{:?} -> {:?}", report.version_before, report.version_after);
//! # Ok(()) }
//! ```
//!
//! # What it does
//! A real upgrade is a sequence of calls (the service's workflows do not run by themselves):
//! 1. **Inspect**: the cluster's version and the targets the service allows
//!    (`ShowClusterUpgradeInfo`, `ListClusterUpgradePaths`); a minor version such as `v1.29`
//!    means the latest allowed patch of that line; no target means the latest allowed one.
//!    Versions are compared as versions ([`crate::Version`]), never as strings.
//! 2. **Workflow**: an open workflow to the same target is reused, otherwise one is created.
//! 3. **Pre-check**: a passed, unexpired pre-check to the target is reused, a running one is
//!    followed, otherwise one is run, skipping the items named with
//!    [`Upgrade::skip_check`]. Findings are [events](UpgradeEvent::Finding); a failed pre-check
//!    ends the run with an error that says which items may be skipped and which must be fixed.
//! 4. **Snapshot** (optional): a master backup, followed until it succeeds.
//! 5. **Upgrade**: `UpgradeCluster` with the pre-check already done, then the task is followed
//!    with progress events. A paused task is reported at once (an event, and an error unless
//!    [`Upgrade::continue_paused`]); a failed one is retried only when
//!    [`Upgrade::retry_failed`] allows.
//! 6. **Post-check** (optional, on by default): the confirmation that the cluster works.
//! 7. **Node pools** (CCE): each pool named with [`Upgrade::sync_node_pools`] is synced, and its
//!    job followed.
//!
//! # Resumable, and never twice
//! Every run first reads the cluster's workflows and tasks and continues from where they
//! stand: an upgrade task to the same target that is running, paused or queued is followed, not
//! started again; a succeeded one goes on to the post-check; a cluster already at the target is
//! done. `UpgradeCluster` is never sent while an upgrade runs. If its answer is lost, the driver
//! finds out what happened by reading the task list, never by sending it again. Killed at any
//! moment and run again, it finishes the same upgrade.
//!
//! Polling backs off (from [`Upgrade::poll_interval`]'s first value up to its second), every
//! call follows the client's retry rules (429/503 included), and transient failures while
//! polling do not end the run before its [deadline](Upgrade::deadline).

mod api;
mod report;

use std::time::{Duration, SystemTime};

use tokio::time::Instant;

pub use api::Flavour;
pub use report::{Finding, Step, StepReport, UpgradeEvent, UpgradePlan, UpgradeReport};

use crate::Client;
use crate::error::{Error, ErrorKind};
use crate::response::Response;
use crate::timestamp::parse_go_time;
use crate::types::{
    CheckStatusPhase, CreateUpgradeWorkFlowRequestBody, JobPhase, PostCheckClusterRequestBody,
    PostCheckPhase, PreCheckClusterRequestBody, PreCheckPhase, PreCheckTask, SkippedCheckItem,
    UpgradeClusterRequestBody, UpgradeInfo, UpgradeNodePool, UpgradeTask, UpgradeTaskPhase,
    UpgradeTaskType, UpgradeWorkFlow, WorkFlowPhase,
};
use crate::version::Version;
use api::Api;

/// The default deadline of a whole upgrade.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(3 * 3600);

type Callback<'a> = Box<dyn FnMut(&UpgradeEvent) + Send + 'a>;

impl Client {
    /// An upgrade of the CCE cluster `cluster_id`: configure it, then [`Upgrade::run`] it (or
    /// [`Upgrade::plan`] it). See [the module docs](crate::upgrade).
    pub fn upgrade(&self, cluster_id: &str) -> Upgrade<'_> {
        Upgrade::new(self, cluster_id, Flavour::Cce)
    }

    /// An upgrade of the CCE Autopilot cluster `cluster_id` (no pause/continue, no node pools).
    pub fn upgrade_autopilot(&self, cluster_id: &str) -> Upgrade<'_> {
        Upgrade::new(self, cluster_id, Flavour::Autopilot)
    }
}

/// A configured upgrade of one cluster. Built with [`Client::upgrade`] or
/// [`Client::upgrade_autopilot`].
pub struct Upgrade<'a> {
    api: Api<'a>,
    target: Option<String>,
    snapshot: bool,
    skips: Vec<SkippedCheckItem>,
    post_check: bool,
    node_pools: Vec<String>,
    max_unavailable: i32,
    deadline: Duration,
    retry_failed: u32,
    continue_paused: bool,
    poll: (Duration, Duration),
    on_event: Option<Callback<'a>>,
}

impl std::fmt::Debug for Upgrade<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upgrade")
            .field("cluster_id", &self.api.cluster)
            .field("flavour", &self.api.flavour)
            .field("target", &self.target)
            .field("snapshot", &self.snapshot)
            .field("skips", &self.skips)
            .field("post_check", &self.post_check)
            .field("node_pools", &self.node_pools)
            .field("deadline", &self.deadline)
            .field("retry_failed", &self.retry_failed)
            .field("continue_paused", &self.continue_paused)
            .finish_non_exhaustive()
    }
}

impl<'a> Upgrade<'a> {
    fn new(client: &'a Client, cluster_id: &str, flavour: Flavour) -> Self {
        Upgrade {
            api: Api {
                client,
                cluster: cluster_id.to_owned(),
                flavour,
            },
            target: None,
            snapshot: false,
            skips: Vec::new(),
            post_check: true,
            node_pools: Vec::new(),
            max_unavailable: 1,
            deadline: DEFAULT_DEADLINE,
            retry_failed: 0,
            continue_paused: false,
            poll: (Duration::from_secs(5), Duration::from_secs(30)),
            on_event: None,
        }
    }

    /// The target version: a full one (`v1.29.15-r0`) or a minor one (`v1.29`, its latest
    /// allowed patch). Without it, the latest version the service allows.
    pub fn to(mut self, version: impl Into<String>) -> Self {
        self.target = Some(version.into());
        self
    }

    /// Whether to back the masters up (a snapshot) before upgrading (default no).
    pub fn snapshot(mut self, yes: bool) -> Self {
        self.snapshot = yes;
        self
    }

    /// Skips the pre-check item `name` (a `Risk` finding) on the whole cluster.
    pub fn skip_check(mut self, name: impl Into<String>) -> Self {
        self.skips.push(SkippedCheckItem::new(name));
        self
    }

    /// Skips the pre-check item `name` on these nodes only (by node UID).
    pub fn skip_check_on_nodes<I, S>(mut self, name: impl Into<String>, node_uids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.skips.push(SkippedCheckItem::on_nodes(name, node_uids));
        self
    }

    /// Whether to run the post-upgrade check (default yes).
    pub fn post_check(mut self, yes: bool) -> Self {
        self.post_check = yes;
        self
    }

    /// Node pools to sync once the cluster is upgraded (CCE only), one after the other. The
    /// service keeps no record a later run could find, so they are synced on every run that
    /// reaches this step, also when the cluster already ran the target: leave them out of a run
    /// that only checks.
    pub fn sync_node_pools<I, S>(mut self, pool_ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.node_pools.extend(pool_ids.into_iter().map(Into::into));
        self
    }

    /// How many nodes of a pool may be synced at once (1–20, default 1).
    pub fn max_unavailable(mut self, nodes: i32) -> Self {
        self.max_unavailable = nodes;
        self
    }

    /// The deadline of the whole run (default 3 hours). The run ends with
    /// [`ErrorKind::WaitTimedOut`] when it passes; run again to continue.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// Retry a failed upgrade task (`RetryUpgradeClusterTask`) up to `times` times (default 0:
    /// a failed upgrade ends the run with an error saying it can be retried).
    pub fn retry_failed(mut self, times: u32) -> Self {
        self.retry_failed = times;
        self
    }

    /// Continue a paused upgrade task (`ContinueUpgradeClusterTask`, CCE only) instead of ending
    /// the run with an error that says it is paused (default no).
    pub fn continue_paused(mut self, yes: bool) -> Self {
        self.continue_paused = yes;
        self
    }

    /// How often to poll: `initial` after a change, growing up to `max` while nothing changes
    /// (default 5 s and 30 s).
    pub fn poll_interval(mut self, initial: Duration, max: Duration) -> Self {
        self.poll = (initial, max.max(initial));
        self
    }

    /// Called with every [`UpgradeEvent`], as it happens.
    pub fn on_event(mut self, callback: impl FnMut(&UpgradeEvent) + Send + 'a) -> Self {
        self.on_event = Some(Box::new(callback));
        self
    }

    /// Runs the pre-check only and reports what an upgrade would do: versions, the target, the
    /// findings. Starts nothing else (no snapshot, no upgrade).
    pub async fn plan(self) -> Result<UpgradePlan, Error> {
        let mut run = Run::new(self);
        let state = run.inspect().await?;
        let cluster_id = run.up.api.cluster.clone();
        if state.already_done {
            return Ok(UpgradePlan {
                cluster_id,
                current_version: state.current.clone(),
                allowed_targets: state.allowed.clone(),
                target: state.target.clone(),
                already_done: true,
                pre_check_task_id: None,
                pre_check_passed: true,
                findings: Vec::new(),
            });
        }
        let workflow = run.workflow(&state).await?;
        let target = workflow_target(&workflow).unwrap_or(state.target.clone());
        let outcome = run.pre_check(&state, &target).await?;
        Ok(UpgradePlan {
            cluster_id,
            current_version: state.current,
            allowed_targets: state.allowed,
            target,
            already_done: false,
            pre_check_task_id: outcome.task_id,
            pre_check_passed: outcome.passed,
            findings: outcome.findings,
        })
    }

    /// Runs the upgrade to its end (see [the module docs](crate::upgrade)) and reports it.
    pub async fn run(self) -> Result<UpgradeReport, Error> {
        if self.api.flavour == Flavour::Autopilot && !self.node_pools.is_empty() {
            return Err(Error::invalid_input(
                "sync_node_pools",
                "Autopilot clusters have no node pools to sync; remove them",
            ));
        }
        if !(1..=20).contains(&self.max_unavailable) {
            return Err(Error::invalid_input(
                "max_unavailable",
                format!(
                    "it is {}; it must be between 1 and 20 nodes",
                    self.max_unavailable
                ),
            ));
        }
        let mut run = Run::new(self);
        run.execute().await
    }
}

/// Where the cluster stands, as read at the start.
struct State {
    current: Option<String>,
    allowed: Vec<String>,
    target: String,
    already_done: bool,
}

/// The pre-check's outcome.
struct PreCheckOutcome {
    task_id: Option<String>,
    passed: bool,
    findings: Vec<Finding>,
    last: Option<PreCheckTask>,
}

/// One run of an upgrade: its configuration, its pacing and what it has done so far.
struct Run<'a> {
    up: Upgrade<'a>,
    deadline: Instant,
    steps: Vec<StepReport>,
    pauses: u32,
    retries: u32,
}

impl<'a> Run<'a> {
    fn new(up: Upgrade<'a>) -> Self {
        let deadline = Instant::now()
            .checked_add(up.deadline)
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(100 * 365 * 24 * 3600));
        Run {
            up,
            deadline,
            steps: Vec::new(),
            pauses: 0,
            retries: 0,
        }
    }

    fn emit(&mut self, event: UpgradeEvent) {
        tracing::debug!(?event, "upgrade");
        if let Some(callback) = &mut self.up.on_event {
            callback(&event);
        }
    }

    fn record(
        &mut self,
        step: Step,
        task_id: Option<String>,
        phase: impl Into<String>,
        started: Instant,
        resumed: bool,
        request_ids: Vec<String>,
    ) {
        let duration = started.elapsed();
        let phase = phase.into();
        if !resumed || phase == "Success" {
            self.emit(UpgradeEvent::StepFinished {
                step: step.clone(),
                task_id: task_id.clone(),
                duration,
            });
        }
        self.steps.push(StepReport {
            step,
            task_id,
            phase,
            duration,
            resumed,
            request_ids,
        });
    }

    /// Waits before the next poll: the interval starts at the first poll value after a change and
    /// doubles up to the second while nothing changes. Past the deadline, an error.
    async fn pause(&self, interval: &mut Duration, changed: bool, what: &str) -> Result<(), Error> {
        let (initial, max) = self.up.poll;
        *interval = if changed {
            initial
        } else {
            interval.saturating_mul(2).min(max).max(initial)
        };
        let now = Instant::now();
        if now >= self.deadline {
            return Err(Error::wait_timed_out(format!(
                "the upgrade's deadline passed while waiting for {what}; run it again to continue \
                 from where it stands"
            )));
        }
        tokio::time::sleep((*interval).min(self.deadline - now)).await;
        Ok(())
    }

    /// A read that may fail for a while (throttling, 5xx): tried again on the next poll.
    async fn read<T, F, Fut>(&self, what: &str, mut call: F) -> Result<Response<T>, Error>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<Response<T>, Error>>,
    {
        let mut interval = Duration::ZERO;
        loop {
            match call().await {
                Ok(r) => return Ok(r),
                Err(e) if e.is_transient() => {
                    tracing::info!(error = %e, "{what}: will try again");
                    self.pause(&mut interval, false, what).await?;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn execute(&mut self) -> Result<UpgradeReport, Error> {
        let state = self.inspect().await?;
        let cluster_id = self.up.api.cluster.clone();
        if state.already_done {
            // Upgraded, but the run that did it may have died before the post-check: an open
            // workflow to this version still wants it.
            let open = self.open_workflow_to(&state.target).await?;
            let mut workflow_id = None;
            let mut before = state.current.clone();
            if let Some(workflow) = open.filter(|_| self.up.post_check) {
                workflow_id = workflow.uid().map(str::to_owned);
                before = workflow
                    .spec
                    .as_ref()
                    .and_then(|s| s.cluster_version.clone())
                    .or(before);
                self.emit(UpgradeEvent::Resumed {
                    step: Step::Workflow,
                    task_id: workflow_id.clone(),
                    phase: phase_text(workflow.phase()),
                });
                let was = State {
                    current: before.clone(),
                    allowed: Vec::new(),
                    target: state.target.clone(),
                    already_done: false,
                };
                self.post_check(&was, &state.target, &workflow).await?;
            }
            self.sync_node_pools().await?;
            return Ok(UpgradeReport {
                cluster_id,
                already_done: workflow_id.is_none(),
                version_before: before,
                version_after: state.current,
                target: state.target,
                workflow_id,
                steps: std::mem::take(&mut self.steps),
                pauses: 0,
                retries: 0,
            });
        }
        let workflow = self.workflow(&state).await?;
        let workflow_id = workflow.uid().map(str::to_owned);
        let target = workflow_target(&workflow).unwrap_or(state.target.clone());

        // An upgrade task to this target already there decides what is left to do.
        let existing = self.find_upgrade_task(&target).await?;
        let upgraded = match existing {
            Some(task) if task.phase() == Some(&UpgradeTaskPhase::Success) => {
                let id = task_id(&task);
                self.emit(UpgradeEvent::Resumed {
                    step: Step::Upgrade,
                    task_id: id.clone(),
                    phase: "Success".into(),
                });
                self.record(
                    Step::Upgrade,
                    id,
                    "Success",
                    Instant::now(),
                    true,
                    Vec::new(),
                );
                true
            }
            Some(task) => {
                let id = task_id(&task).ok_or_else(|| {
                    Error::upgrade_step(
                        "upgrade",
                        "the service lists an upgrade task without an id".into(),
                    )
                })?;
                self.emit(UpgradeEvent::Resumed {
                    step: Step::Upgrade,
                    task_id: Some(id.clone()),
                    phase: phase_text(task.phase()),
                });
                self.follow_upgrade(&id, true, Vec::new(), Instant::now())
                    .await?;
                true
            }
            None => false,
        };
        if !upgraded {
            let outcome = self.pre_check(&state, &target).await?;
            if !outcome.passed {
                return Err(pre_check_error(&outcome));
            }
            if self.up.snapshot {
                self.snapshot(&workflow).await?;
            }
            self.start_upgrade(&state, &target).await?;
        }
        if self.up.post_check {
            self.post_check(&state, &target, &workflow).await?;
        }
        self.sync_node_pools().await?;
        let after = self
            .read("the cluster's version", || self.up.api.upgrade_info())
            .await
            .ok()
            .and_then(|info| current_version(&info));
        Ok(UpgradeReport {
            cluster_id,
            version_before: state.current,
            version_after: after,
            target,
            workflow_id,
            steps: std::mem::take(&mut self.steps),
            already_done: false,
            pauses: self.pauses,
            retries: self.retries,
        })
    }

    /// The open workflow (neither succeeded nor cancelled) to `target`, if there is one.
    async fn open_workflow_to(&self, target: &str) -> Result<Option<UpgradeWorkFlow>, Error> {
        let Ok(wanted) = target.parse::<Version>() else {
            return Ok(None);
        };
        let list = self
            .read("the workflows", || self.up.api.workflows())
            .await
            .map_err(|e| e.with_step("workflow"))?;
        Ok(list
            .workflows()
            .iter()
            .filter(|w| {
                !matches!(
                    w.phase(),
                    Some(WorkFlowPhase::Success | WorkFlowPhase::Cancel)
                )
            })
            .filter(|w| {
                workflow_target(w)
                    .and_then(|t| t.parse::<Version>().ok())
                    .is_some_and(|t| wanted.matches(&t) || t.matches(&wanted))
            })
            .max_by_key(|w| w.created_at())
            .cloned())
    }

    /// Reads the version and the allowed targets; resolves the target.
    async fn inspect(&mut self) -> Result<State, Error> {
        let started = Instant::now();
        self.emit(UpgradeEvent::StepStarted(Step::Inspect));
        let info = self
            .read("the upgrade info", || self.up.api.upgrade_info())
            .await
            .map_err(|e| e.with_step("inspect"))?;
        let current = current_version(&info);
        let mut allowed: Vec<String> = info
            .spec
            .as_ref()
            .and_then(|s| s.version_info.as_ref())
            .map(|v| v.target_versions.clone())
            .unwrap_or_default();
        if allowed.is_empty() {
            let paths = self
                .read("the upgrade paths", || self.up.api.upgrade_paths())
                .await
                .map_err(|e| e.with_step("inspect"))?;
            let now = current.as_deref().and_then(|c| c.parse::<Version>().ok());
            for path in &paths.upgrade_paths {
                let from = path
                    .version
                    .as_deref()
                    .and_then(|v| v.parse::<Version>().ok());
                if let (Some(from), Some(now)) = (&from, &now)
                    && (from.matches(now) || now.matches(from))
                {
                    allowed.extend(path.target_versions.iter().cloned());
                }
            }
        }
        let now = current.as_deref().and_then(|c| c.parse::<Version>().ok());
        let mut candidates: Vec<Version> = allowed
            .iter()
            .filter_map(|v| v.parse::<Version>().ok())
            .filter(|v| now.as_ref().is_none_or(|now| v > now))
            .collect();
        candidates.sort();
        let requested = match &self.up.target {
            Some(t) => Some(
                t.parse::<Version>()
                    .map_err(|e| Error::invalid_input("to", format!("{e}")))?,
            ),
            // No target given: an open workflow's is the upgrade under way; continue it.
            None => self
                .read("the workflows", || self.up.api.workflows())
                .await
                .map_err(|e| e.with_step("inspect"))?
                .workflows()
                .iter()
                .filter(|w| {
                    !matches!(
                        w.phase(),
                        Some(WorkFlowPhase::Success | WorkFlowPhase::Cancel)
                    )
                })
                .filter_map(|w| workflow_target(w)?.parse::<Version>().ok())
                .filter(|t| now.as_ref().is_none_or(|now| t > now))
                .max(),
        };
        let (target, already_done) = match (&requested, &now) {
            (Some(req), Some(now)) if req.matches(now) || (!req.is_minor_only() && req <= now) => {
                (now.to_string(), true)
            }
            (Some(req), _) => match candidates.iter().filter(|c| req.matches(c)).max() {
                Some(found) => (found.to_string(), false),
                // The service gave no list to check against: let it judge the target.
                None if allowed.is_empty() => (req.to_string(), false),
                None => {
                    return Err(Error::upgrade_step(
                        "inspect",
                        format!(
                            "{req} is not a version cluster {} can be upgraded to from {}; \
                             allowed: {}",
                            self.up.api.cluster,
                            current.as_deref().unwrap_or("its version"),
                            if candidates.is_empty() {
                                "none".to_owned()
                            } else {
                                candidates
                                    .iter()
                                    .map(ToString::to_string)
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            }
                        ),
                    ));
                }
            },
            (None, _) => match candidates.last() {
                Some(latest) => (latest.to_string(), false),
                None => (current.clone().unwrap_or_default(), true),
            },
        };
        let request_id = info.request_id().map(str::to_owned).into_iter().collect();
        self.record(Step::Inspect, None, "Success", started, false, request_id);
        Ok(State {
            current,
            allowed,
            target,
            already_done,
        })
    }

    /// Reuses an open workflow to the target, or creates one.
    async fn workflow(&mut self, state: &State) -> Result<UpgradeWorkFlow, Error> {
        let started = Instant::now();
        self.emit(UpgradeEvent::StepStarted(Step::Workflow));
        let target: Version = state
            .target
            .parse()
            .map_err(|e| Error::upgrade_step("workflow", format!("{e}")))?;
        let find = |list: &[UpgradeWorkFlow]| -> Result<Option<UpgradeWorkFlow>, Error> {
            let open = |w: &&UpgradeWorkFlow| {
                !matches!(
                    w.phase(),
                    Some(WorkFlowPhase::Success | WorkFlowPhase::Cancel)
                )
            };
            let mut newest: Option<&UpgradeWorkFlow> = None;
            for w in list.iter().filter(open) {
                let to = workflow_target(w).and_then(|t| t.parse::<Version>().ok());
                match to {
                    Some(to) if target.matches(&to) || to.matches(&target) => {
                        if newest.is_none_or(|n| n.created_at() < w.created_at()) {
                            newest = Some(w);
                        }
                    }
                    _ => {
                        // An open workflow to another target: the service allows one upgrade
                        // at a time.
                        return Err(Error::upgrade_step(
                            "workflow",
                            format!(
                                "workflow {} to {} is still open ({}): finish or cancel it \
                                 (UpgradeWorkFlowUpdate) before upgrading to {target}",
                                w.uid().unwrap_or("?"),
                                workflow_target(w).unwrap_or_default(),
                                phase_text(w.phase())
                            ),
                        ));
                    }
                }
            }
            Ok(newest.cloned())
        };
        let list = self
            .read("the workflows", || self.up.api.workflows())
            .await
            .map_err(|e| e.with_step("workflow"))?;
        if let Some(found) = find(list.workflows())? {
            let id = found.uid().map(str::to_owned);
            self.emit(UpgradeEvent::Resumed {
                step: Step::Workflow,
                task_id: id.clone(),
                phase: phase_text(found.phase()),
            });
            self.record(
                Step::Workflow,
                id,
                phase_text(found.phase()),
                started,
                true,
                Vec::new(),
            );
            return Ok(found);
        }
        let body = match &state.current {
            Some(current) => CreateUpgradeWorkFlowRequestBody::new(state.target.clone())
                .cluster_version(current.clone()),
            None => CreateUpgradeWorkFlowRequestBody::new(state.target.clone()),
        };
        match self.up.api.create_workflow(&body).await {
            Ok(created) => {
                let id = created.uid().map(str::to_owned);
                let request_ids = created
                    .request_id()
                    .map(str::to_owned)
                    .into_iter()
                    .collect();
                let phase = phase_text(created.phase());
                let workflow = created.into_inner();
                self.record(Step::Workflow, id, phase, started, false, request_ids);
                Ok(workflow)
            }
            Err(e) if e.kind() == ErrorKind::OutcomeUnknown => {
                // It may have been created: look, never send it again.
                let list = self
                    .read("the workflows", || self.up.api.workflows())
                    .await
                    .map_err(|e| e.with_step("workflow"))?;
                match find(list.workflows())? {
                    Some(found) => {
                        let id = found.uid().map(str::to_owned);
                        self.record(
                            Step::Workflow,
                            id,
                            phase_text(found.phase()),
                            started,
                            false,
                            Vec::new(),
                        );
                        Ok(found)
                    }
                    None => Err(e.with_step("workflow")),
                }
            }
            Err(e) => Err(e.with_step("workflow")),
        }
    }

    /// Reuses a passed, unexpired pre-check to the target, follows a running one, or runs one.
    async fn pre_check(&mut self, state: &State, target: &str) -> Result<PreCheckOutcome, Error> {
        let started = Instant::now();
        self.emit(UpgradeEvent::StepStarted(Step::PreCheck));
        let wanted: Version = target
            .parse()
            .map_err(|e| Error::upgrade_step("pre-check", format!("{e}")))?;
        let list = self
            .read("the pre-checks", || self.up.api.pre_checks())
            .await
            .map_err(|e| e.with_step("pre-check"))?;
        let newest = list
            .items
            .iter()
            .filter(|t| {
                t.spec
                    .as_ref()
                    .and_then(|s| s.target_version.as_deref())
                    .and_then(|v| v.parse::<Version>().ok())
                    .is_some_and(|v| wanted.matches(&v) || v.matches(&wanted))
            })
            .max_by_key(|t| {
                t.metadata
                    .as_ref()
                    .and_then(|m| m.creation_timestamp.as_deref())
                    .and_then(|c| parse_go_time(c).ok())
            })
            .cloned();
        let same_skips = |t: &PreCheckTask| {
            t.spec.as_ref().map(|s| &s.skipped_check_item_list) == Some(&self.up.skips)
        };
        let mut request_ids = Vec::new();
        let (task_id, resumed) = match newest {
            Some(t) if pre_check_phase(&t) == Some(&PreCheckPhase::Success) && !expired(&t) => {
                let id = pre_check_id(&t);
                self.emit(UpgradeEvent::Resumed {
                    step: Step::PreCheck,
                    task_id: id.clone(),
                    phase: "Success".into(),
                });
                self.record(
                    Step::PreCheck,
                    id.clone(),
                    "Success",
                    started,
                    true,
                    Vec::new(),
                );
                return Ok(PreCheckOutcome {
                    task_id: id,
                    passed: true,
                    findings: Vec::new(),
                    last: Some(t),
                });
            }
            Some(t)
                if matches!(
                    pre_check_phase(&t),
                    Some(PreCheckPhase::Init | PreCheckPhase::Running) | None
                ) && same_skips(&t)
                    && pre_check_id(&t).is_some() =>
            {
                let id = pre_check_id(&t).expect("checked");
                self.emit(UpgradeEvent::Resumed {
                    step: Step::PreCheck,
                    task_id: Some(id.clone()),
                    phase: phase_text(pre_check_phase(&t)),
                });
                (id, true)
            }
            _ => {
                let mut body = PreCheckClusterRequestBody::new(target.to_owned());
                if let Some(current) = &state.current {
                    body = body.cluster_version(current.clone());
                }
                body.spec.skipped_check_item_list = self.up.skips.clone();
                let created = self
                    .up
                    .api
                    .create_pre_check(&body)
                    .await
                    .map_err(|e| e.with_step("pre-check"))?;
                request_ids.extend(created.request_id().map(str::to_owned));
                let id = pre_check_id(&created).ok_or_else(|| {
                    Error::upgrade_step("pre-check", "the service gave the pre-check no id".into())
                })?;
                (id, false)
            }
        };
        // Follow it.
        let mut interval = Duration::ZERO;
        let mut last_phase = None;
        let task = loop {
            let task = self
                .read("the pre-check", || self.up.api.pre_check(&task_id))
                .await
                .map_err(|e| e.with_step("pre-check"))?;
            let phase = pre_check_phase(&task).cloned();
            if matches!(
                phase,
                Some(PreCheckPhase::Success | PreCheckPhase::Failed | PreCheckPhase::Error)
            ) {
                request_ids.extend(task.request_id().map(str::to_owned));
                break task.into_inner();
            }
            let changed = phase != last_phase;
            last_phase = phase;
            self.pause(&mut interval, changed, "the pre-check").await?;
        };
        let findings = findings(&task);
        for f in &findings {
            self.emit(UpgradeEvent::Finding(f.clone()));
        }
        let passed = pre_check_phase(&task) == Some(&PreCheckPhase::Success);
        let phase = phase_text(pre_check_phase(&task));
        if passed {
            self.record(
                Step::PreCheck,
                Some(task_id.clone()),
                phase,
                started,
                resumed,
                request_ids,
            );
        } else {
            self.steps.push(StepReport {
                step: Step::PreCheck,
                task_id: Some(task_id.clone()),
                phase,
                duration: started.elapsed(),
                resumed,
                request_ids,
            });
        }
        Ok(PreCheckOutcome {
            task_id: Some(task_id),
            passed,
            findings,
            last: Some(task),
        })
    }

    /// Backs the masters up, unless the workflow's snapshot already succeeded.
    async fn snapshot(&mut self, workflow: &UpgradeWorkFlow) -> Result<(), Error> {
        let started = Instant::now();
        self.emit(UpgradeEvent::StepStarted(Step::Snapshot));
        if let Some(point) = workflow.point(&UpgradeTaskType::Snapshot)
            && point
                .status
                .as_ref()
                .is_some_and(|s| s.as_str() == "Success")
        {
            self.emit(UpgradeEvent::Resumed {
                step: Step::Snapshot,
                task_id: point.task_id.clone(),
                phase: "Success".into(),
            });
            self.record(
                Step::Snapshot,
                point.task_id.clone(),
                "Success",
                started,
                true,
                Vec::new(),
            );
            return Ok(());
        }
        let created = self
            .up
            .api
            .create_snapshot()
            .await
            .map_err(|e| e.with_step("snapshot"))?;
        let mut request_ids: Vec<String> = created
            .request_id()
            .map(str::to_owned)
            .into_iter()
            .collect();
        let uid = created.uid.clone();
        let mut interval = Duration::ZERO;
        let mut last_phase: Option<String> = None;
        loop {
            let list = self
                .read("the snapshot tasks", || self.up.api.snapshots())
                .await
                .map_err(|e| e.with_step("snapshot"))?;
            let task = match &uid {
                Some(uid) => list.task(uid).cloned(),
                None => list.items.last().cloned(),
            };
            let phase = task.as_ref().and_then(|t| t.phase().map(str::to_owned));
            match phase.as_deref() {
                Some("Success") => {
                    request_ids.extend(list.request_id().map(str::to_owned));
                    self.record(Step::Snapshot, uid, "Success", started, false, request_ids);
                    return Ok(());
                }
                Some(p @ ("Failed" | "Error")) => {
                    return Err(Error::upgrade_step(
                        "snapshot",
                        format!(
                            "the master snapshot {} ended {p}; look at it in the console, or run \
                             without .snapshot(true)",
                            uid.as_deref().unwrap_or("?")
                        ),
                    ));
                }
                _ => {}
            }
            let changed = phase != last_phase;
            last_phase = phase;
            self.pause(&mut interval, changed, "the snapshot").await?;
        }
    }

    /// The newest upgrade task to `target`, if there is one.
    async fn find_upgrade_task(&self, target: &str) -> Result<Option<UpgradeTask>, Error> {
        let wanted: Version = target
            .parse()
            .map_err(|e| Error::upgrade_step("upgrade", format!("{e}")))?;
        let list = self
            .read("the upgrade tasks", || self.up.api.upgrade_tasks())
            .await
            .map_err(|e| e.with_step("upgrade"))?;
        Ok(list
            .items
            .iter()
            .filter(|t| {
                t.spec
                    .as_ref()
                    .and_then(|s| s.target_version.as_deref())
                    .and_then(|v| v.parse::<Version>().ok())
                    .is_some_and(|v| wanted.matches(&v) || v.matches(&wanted))
            })
            .max_by_key(|t| t.created_at())
            .cloned())
    }

    /// Sends `UpgradeCluster` once, then follows its task.
    async fn start_upgrade(&mut self, state: &State, target: &str) -> Result<(), Error> {
        let started = Instant::now();
        self.emit(UpgradeEvent::StepStarted(Step::Upgrade));
        let body = UpgradeClusterRequestBody::new(target.to_owned()).is_only_upgrade(true);
        let mut pre_checked_again = false;
        loop {
            match self.up.api.upgrade(&body).await {
                Ok(answer) => {
                    let request_ids: Vec<String> =
                        answer.request_id().map(str::to_owned).into_iter().collect();
                    let id = match answer.metadata.as_ref().and_then(|m| m.uid.clone()) {
                        Some(id) => id,
                        None => self
                            .find_upgrade_task(target)
                            .await?
                            .and_then(|t| task_id(&t))
                            .ok_or_else(|| {
                                Error::upgrade_step(
                                    "upgrade",
                                    "the service accepted the upgrade but lists no task for it"
                                        .into(),
                                )
                            })?,
                    };
                    return self.follow_upgrade(&id, false, request_ids, started).await;
                }
                Err(e) if e.kind() == ErrorKind::OutcomeUnknown => {
                    // The request may have started the upgrade: read, never send it again.
                    let mut interval = Duration::ZERO;
                    for _ in 0..5 {
                        if let Some(task) = self.find_upgrade_task(target).await?
                            && let Some(id) = task_id(&task)
                        {
                            return self.follow_upgrade(&id, false, Vec::new(), started).await;
                        }
                        self.pause(&mut interval, false, "the upgrade task").await?;
                    }
                    return Err(e.with_step("upgrade"));
                }
                Err(e)
                    if e.kind() == ErrorKind::Service
                        && e.status().is_some_and(|s| s.as_u16() == 400) =>
                {
                    // Refused, so not acted on. Someone may have started it meanwhile; or the
                    // pre-check expired: run it again once, then send again.
                    if let Some(task) = self.find_upgrade_task(target).await?
                        && let Some(id) = task_id(&task)
                        && !matches!(
                            task.phase(),
                            Some(UpgradeTaskPhase::Success | UpgradeTaskPhase::Failed)
                        )
                    {
                        return self.follow_upgrade(&id, true, Vec::new(), started).await;
                    }
                    if pre_checked_again {
                        return Err(e.with_step("upgrade"));
                    }
                    pre_checked_again = true;
                    tracing::info!(error = %e, "upgrade refused; running the pre-check again");
                    let outcome = self.pre_check(state, target).await?;
                    if !outcome.passed {
                        return Err(pre_check_error(&outcome));
                    }
                }
                Err(e) => return Err(e.with_step("upgrade")),
            }
        }
    }

    /// Follows the upgrade task to its end: progress, pauses, retries.
    async fn follow_upgrade(
        &mut self,
        id: &str,
        resumed: bool,
        mut request_ids: Vec<String>,
        started: Instant,
    ) -> Result<(), Error> {
        let mut interval = Duration::ZERO;
        let mut last: Option<(Option<UpgradeTaskPhase>, Option<f64>)> = None;
        loop {
            let task = self
                .read("the upgrade task", || self.up.api.upgrade_task(id))
                .await
                .map_err(|e| e.with_step("upgrade"))?;
            let phase = task.phase().cloned();
            let percent = task.progress_percent();
            let now = (phase.clone(), percent);
            let changed = last.as_ref() != Some(&now);
            if changed
                && let Some(p) = percent
                && last.as_ref().is_none_or(|(_, lp)| *lp != Some(p))
            {
                self.emit(UpgradeEvent::Progress(p));
            }
            let was_paused = matches!(last, Some((Some(UpgradeTaskPhase::Pause), _)));
            last = Some(now);
            match phase {
                Some(UpgradeTaskPhase::Success) => {
                    request_ids.extend(task.request_id().map(str::to_owned));
                    self.record(
                        Step::Upgrade,
                        Some(id.to_owned()),
                        "Success",
                        started,
                        resumed,
                        request_ids,
                    );
                    return Ok(());
                }
                Some(UpgradeTaskPhase::Failed) if self.retries < self.up.retry_failed => {
                    self.retries += 1;
                    self.emit(UpgradeEvent::Retrying {
                        attempt: self.retries,
                        percent,
                    });
                    let answer = self
                        .up
                        .api
                        .retry_upgrade()
                        .await
                        .map_err(|e| e.with_step("upgrade"))?;
                    request_ids.extend(answer.request_id().map(str::to_owned));
                }
                Some(UpgradeTaskPhase::Failed) => {
                    let at = percent.map_or_else(|| "?".to_owned(), |p| format!("{p:.2}"));
                    return Err(Error::upgrade_failed_task(
                        task.into_inner(),
                        format!(
                            "upgrade: task {id} failed at {at}%; it can be retried: run again with \
                             .retry_failed(1) (RetryUpgradeClusterTask)"
                        ),
                    )
                    .with_step("upgrade"));
                }
                Some(UpgradeTaskPhase::Pause) => {
                    if !was_paused {
                        self.pauses += 1;
                        self.emit(UpgradeEvent::Paused { percent });
                    }
                    if self.up.continue_paused && self.up.api.flavour == Flavour::Cce {
                        let answer = self
                            .up
                            .api
                            .continue_upgrade()
                            .await
                            .map_err(|e| e.with_step("upgrade"))?;
                        request_ids.extend(answer.request_id().map(str::to_owned));
                        self.emit(UpgradeEvent::Continued);
                    } else {
                        let at = percent.map_or_else(|| "?".to_owned(), |p| format!("{p:.2}"));
                        return Err(Error::upgrade_failed_task(
                            task.into_inner(),
                            format!(
                                "upgrade: task {id} is paused at {at}%; continue it \
                                 (ContinueUpgradeClusterTask, or run again with .continue_paused(true)) \
                                 — it does not move while paused"
                            ),
                        )
                        .with_step("upgrade"));
                    }
                }
                _ => {}
            }
            self.pause(&mut interval, changed, "the upgrade task")
                .await?;
        }
    }

    /// The post-upgrade check, unless the workflow's already succeeded.
    async fn post_check(
        &mut self,
        state: &State,
        target: &str,
        workflow: &UpgradeWorkFlow,
    ) -> Result<(), Error> {
        let started = Instant::now();
        self.emit(UpgradeEvent::StepStarted(Step::PostCheck));
        if let Some(point) = workflow.point(&UpgradeTaskType::PostCheck)
            && point
                .status
                .as_ref()
                .is_some_and(|s| s.as_str() == "Success")
        {
            self.record(
                Step::PostCheck,
                point.task_id.clone(),
                "Success",
                started,
                true,
                Vec::new(),
            );
            return Ok(());
        }
        let body = PostCheckClusterRequestBody::for_versions(
            state.current.clone().unwrap_or_default(),
            target.to_owned(),
        )
        .cluster_id(self.up.api.cluster.clone());
        let answer = self
            .up
            .api
            .post_check(&body)
            .await
            .map_err(|e| e.with_step("post-check"))?;
        let request_ids = answer.request_id().map(str::to_owned).into_iter().collect();
        let id = answer.metadata.as_ref().and_then(|m| m.uid.clone());
        match answer.phase() {
            Some(PostCheckPhase::Success) | None => {
                self.record(Step::PostCheck, id, "Success", started, false, request_ids);
                Ok(())
            }
            Some(phase) => Err(Error::upgrade_step(
                "post-check",
                format!(
                    "the post-upgrade check ended {phase}: look at the cluster's workloads; the \
                     upgrade itself succeeded"
                ),
            )),
        }
    }

    /// Syncs each node pool and follows its job.
    async fn sync_node_pools(&mut self) -> Result<(), Error> {
        for pool in self.up.node_pools.clone() {
            let step = Step::NodePoolSync(pool.clone());
            let started = Instant::now();
            self.emit(UpgradeEvent::StepStarted(step.clone()));
            let body = UpgradeNodePool::new(pool.clone(), self.up.max_unavailable);
            let answer = self
                .up
                .api
                .sync_node_pool(&pool, &body)
                .await
                .map_err(|e| e.with_step("node pool sync"))?;
            let mut request_ids: Vec<String> =
                answer.request_id().map(str::to_owned).into_iter().collect();
            let Some(job_id) = answer.jobid.clone() else {
                // The page documents no answer: nothing to follow.
                self.record(step, None, "Accepted", started, false, request_ids);
                continue;
            };
            let mut interval = Duration::ZERO;
            let mut last: Option<JobPhase> = None;
            loop {
                let job = self
                    .read("the node pool's job", || self.up.api.job(&job_id))
                    .await
                    .map_err(|e| e.with_step("node pool sync"))?;
                let phase = job.status.as_ref().and_then(|s| s.phase.clone());
                match &phase {
                    Some(JobPhase::Success) => {
                        request_ids.extend(job.request_id().map(str::to_owned));
                        self.record(
                            step,
                            Some(job_id.clone()),
                            "Success",
                            started,
                            false,
                            request_ids,
                        );
                        break;
                    }
                    Some(JobPhase::Failed) => {
                        let reason = job
                            .status
                            .as_ref()
                            .and_then(|s| s.reason.clone())
                            .unwrap_or_default();
                        return Err(Error::upgrade_step(
                            "node pool sync",
                            format!("syncing node pool {pool} failed (job {job_id}): {reason}"),
                        ));
                    }
                    _ => {}
                }
                let changed = phase != last;
                last = phase;
                self.pause(&mut interval, changed, "the node pool's job")
                    .await?;
            }
        }
        Ok(())
    }
}

/// The cluster's version as the upgrade info gives it: `release` (`v1.28.15`) and `patch`
/// (`r0`) joined (`v1.28.15-r0`), or `patch` alone when it is a whole version itself.
fn current_version(info: &UpgradeInfo) -> Option<String> {
    let v = info.spec.as_ref()?.version_info.as_ref()?;
    let release = v
        .release
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    let patch = v.patch.as_deref().map(str::trim).filter(|p| !p.is_empty());
    let whole = |s: &str| s.parse::<Version>().is_ok();
    match (release, patch) {
        (_, Some(p)) if p.starts_with(['v', 'V']) && whole(p) => Some(p.to_owned()),
        (Some(r), Some(p)) if !r.contains('-') && whole(&format!("{r}-{p}")) => {
            Some(format!("{r}-{p}"))
        }
        (Some(r), _) => Some(r.to_owned()),
        (None, p) => p.map(str::to_owned),
    }
}

fn workflow_target(w: &UpgradeWorkFlow) -> Option<String> {
    w.spec.as_ref()?.target_version.clone()
}

fn task_id(task: &UpgradeTask) -> Option<String> {
    task.metadata.as_ref()?.uid.clone()
}

fn pre_check_id(task: &PreCheckTask) -> Option<String> {
    task.metadata.as_ref()?.uid.clone()
}

fn pre_check_phase(task: &PreCheckTask) -> Option<&PreCheckPhase> {
    task.status.as_ref()?.phase.as_ref()
}

fn phase_text<T: std::fmt::Display>(phase: Option<&T>) -> String {
    phase.map_or_else(|| "unknown".to_owned(), ToString::to_string)
}

/// Whether a pre-check's result has expired, by its `expireTimeStamp` (unknown: not expired;
/// the service refuses an upgrade on an expired one, and the driver then checks again).
fn expired(task: &PreCheckTask) -> bool {
    task.status
        .as_ref()
        .and_then(|s| s.expire_time_stamp.as_deref())
        .and_then(|t| parse_go_time(t).ok())
        .is_some_and(|t| t.to_system_time() <= SystemTime::now())
}

/// The items of a pre-check that did not pass, from the cluster's and the nodes' checks.
fn findings(task: &PreCheckTask) -> Vec<Finding> {
    let Some(status) = &task.status else {
        return Vec::new();
    };
    let failed =
        |phase: &Option<CheckStatusPhase>| phase.as_ref() != Some(&CheckStatusPhase::Success);
    let mut out = Vec::new();
    if let Some(cluster) = &status.cluster_check_status {
        for item in cluster.items_status.iter().filter(|i| failed(&i.phase)) {
            out.push(Finding {
                name: item.name.clone().unwrap_or_default(),
                kind: item.kind.clone(),
                level: item.level.clone(),
                message: item.message.clone(),
                node: None,
            });
        }
    }
    if let Some(nodes) = &status.node_check_status {
        for stage in &nodes.node_stage_status {
            let node = stage.node_info.as_ref().and_then(|n| n.name.clone());
            for item in stage.items_status.iter().filter(|i| failed(&i.phase)) {
                out.push(Finding {
                    name: item.name.clone().unwrap_or_default(),
                    kind: item.kind.clone(),
                    level: item.level.clone(),
                    message: item.message.clone(),
                    node: node.clone(),
                });
            }
        }
    }
    out
}

/// The error a failed pre-check ends a run with: what was found, and what to do about it.
fn pre_check_error(outcome: &PreCheckOutcome) -> Error {
    let (skippable, blocking): (Vec<&Finding>, Vec<&Finding>) =
        outcome.findings.iter().partition(|f| f.is_skippable());
    let mut message = format!(
        "the pre-check {} did not pass",
        outcome.task_id.as_deref().unwrap_or("?")
    );
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
        let names: Vec<String> = skippable.iter().map(|f| f.name.clone()).collect();
        message.push_str(&format!(
            "; these risks may be skipped with .skip_check(\"NAME\") (or --skip-check NAME): {}",
            names.join(", ")
        ));
    }
    if outcome.findings.is_empty() {
        message.push_str("; the service listed no item: look at the pre-check in the console");
    }
    let e = Error::upgrade_step("pre-check", message);
    match &outcome.last {
        Some(task) => e.with_last_pre_check(task.clone()),
        None => e,
    }
}
