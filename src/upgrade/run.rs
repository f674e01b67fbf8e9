//! The driver's loop: observe, decide, act (or wait), repeat — with the reads and writes that
//! it takes, bounded by the deadline, on the client's clock.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::clock::{Clock, since};
use crate::error::{Error, ErrorKind};
use crate::response::Response;
use crate::types::{
    CreateUpgradeWorkFlowRequestBody, JobPhase, PostCheckClusterRequestBody, PostCheckPhase,
    PreCheckClusterRequestBody, PreCheckPhase, UpgradeClusterRequestBody, UpgradeInfo,
    UpgradeNodePool, UpgradeTaskPhase,
};
use crate::version::Version;

use super::api::Api;
use super::decide::{
    Action, JobView, Memory, Next, Observed, Pending, Policy, SETTLE_OBSERVATIONS, Wait, decide,
    open_workflow_to, pre_check_runs, snapshot_runs,
};
use super::observe::{self, Target};
use super::report::{Event, Failure, Step, StepReport, UpgradeEvent, UpgradePlan, UpgradeReport};
use super::{Flavour, Upgrade};

pub(crate) async fn run(up: Upgrade<'_>) -> Result<UpgradeReport, Error> {
    if !up.node_pools.is_empty() && up.flavour == Some(Flavour::Autopilot) {
        return Err(not_for_autopilot());
    }
    let mut runner = Runner::new(up);
    runner.execute().await
}

pub(crate) async fn plan(up: Upgrade<'_>, fresh_pre_check: bool) -> Result<UpgradePlan, Error> {
    let mut runner = Runner::new(up);
    runner.plan(fresh_pre_check).await
}

pub(crate) async fn cancel(up: Upgrade<'_>) -> Result<Option<String>, Error> {
    let mut runner = Runner::new(up);
    runner.cancel().await
}

fn not_for_autopilot() -> Error {
    Error::upgrade_stopped(
        ErrorKind::InvalidInput,
        Step::Inspect,
        Failure::NotForFlavour,
        "Autopilot clusters have no node pools to sync; remove .sync_node_pools(..)".into(),
    )
}

/// How a write went.
enum Wrote<T> {
    /// Answered with success.
    Done(Response<T>),
    /// It may have been acted on (lost answer, unreadable answer, 5xx, timeout): the next
    /// observation settles it.
    Unknown(Error),
    /// Not sent (no connection) or refused as too many (429): may be sent again later.
    NotSent(Error),
    /// Refused by the service (4xx): not acted on.
    Refused(Error),
}

/// The step under way, for the report.
struct Open {
    step: Step,
    started: SystemTime,
    task_id: Option<String>,
    phase: Option<String>,
    resumed: bool,
    /// The request ids of the writes this step sent.
    request_ids: Vec<String>,
    /// The request id of its last read.
    last_read: Option<String>,
}

struct Runner<'a> {
    up: Upgrade<'a>,
    api: Api,
    clock: Arc<dyn Clock>,
    deadline: SystemTime,
    policy: Policy,
    memory: Memory,
    steps: Vec<StepReport>,
    open: Option<Open>,
    first_decision: bool,
    wrote: bool,
    pauses: u32,
    paused_seen: bool,
    last_progress: Option<f64>,
    interval: Duration,
    unreachable_since: Option<SystemTime>,
    job: Option<(String, String)>,
    /// The upgrade info `resolve` just read: the first observation uses it instead of reading
    /// it again.
    fresh_info: Option<Response<UpgradeInfo>>,
    /// What a write just created and its answer named (a pre-check, an upgrade task): followed
    /// by its id before the next observation.
    follow: Option<Wait>,
}

impl<'a> Runner<'a> {
    fn new(up: Upgrade<'a>) -> Self {
        let clock = up.client.clock().clone();
        let now = clock.now();
        let deadline = now
            .checked_add(up.deadline)
            .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600));
        let policy = Policy {
            snapshot: up.snapshot,
            skips: up.skips.iter().filter_map(|s| s.name.clone()).collect(),
            post_check: up.post_check,
            node_pools: up.node_pools.clone(),
            retry_failed: up.retry_failed,
            continue_paused: up.continue_paused,
        };
        let api = Api {
            client: up.client.clone(),
            cluster: up.cluster.clone(),
            flavour: up.flavour.unwrap_or(Flavour::Cce),
        };
        Runner {
            up,
            api,
            clock,
            deadline,
            policy,
            memory: Memory::default(),
            steps: Vec::new(),
            open: None,
            first_decision: true,
            wrote: false,
            pauses: 0,
            paused_seen: false,
            last_progress: None,
            interval: Duration::ZERO,
            unreachable_since: None,
            job: None,
            fresh_info: None,
            follow: None,
        }
    }

    fn emit(&mut self, event: UpgradeEvent) {
        tracing::debug!(cluster_id = %self.up.cluster, ?event, "upgrade");
        let event = Event {
            cluster_id: self.up.cluster.clone(),
            event,
        };
        if let Some(tx) = &self.up.events {
            let _ = tx.send(event.clone());
        }
        if let Some(callback) = &mut self.up.on_event {
            callback(&event);
        }
    }

    // ---- time -------------------------------------------------------------------------------

    /// The time left before the deadline; `None` once it has passed.
    fn left(&self) -> Option<Duration> {
        let left = since(self.deadline, self.clock.now());
        (!left.is_zero()).then_some(left)
    }

    fn deadline_passed(&self, step: Step, waiting_for: &str) -> Error {
        Error::upgrade_stopped(
            ErrorKind::WaitTimedOut,
            step,
            Failure::DeadlinePassed,
            format!(
                "the upgrade's deadline passed while {waiting_for}; nothing more was sent. Run it \
                 again to go on from where the cluster stands"
            ),
        )
    }

    /// Waits before the next poll: `poll.0` after a change, doubling up to `poll.1` while
    /// nothing changes. Past the deadline, an error.
    async fn sleep(&mut self, step: &Step, changed: bool, waiting_for: &str) -> Result<(), Error> {
        let (initial, max) = self.up.poll;
        self.interval = if changed || self.interval.is_zero() {
            initial
        } else {
            self.interval.saturating_mul(2).min(max).max(initial)
        };
        let Some(left) = self.left() else {
            return Err(self.deadline_passed(step.clone(), waiting_for));
        };
        self.clock.sleep(self.interval.min(left)).await;
        Ok(())
    }

    // ---- calls ------------------------------------------------------------------------------

    /// A read: transient failures (and answers that cannot be read) are tried again at the
    /// next poll, until the deadline; nothing reachable for the configured time is an error.
    async fn read<T, F, Fut>(
        &mut self,
        step: Step,
        what: &str,
        call: F,
    ) -> Result<Response<T>, Error>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Response<T>, Error>>,
    {
        loop {
            let Some(left) = self.left() else {
                return Err(self.deadline_passed(step, &format!("reading {what}")));
            };
            let error = match tokio::time::timeout(left, call()).await {
                Ok(Ok(answer)) => {
                    self.unreachable_since = None;
                    return Ok(answer);
                }
                Ok(Err(e)) => e,
                Err(_) => return Err(self.deadline_passed(step, &format!("reading {what}"))),
            };
            self.transient(&step, error, what)?;
            self.sleep(&step, false, &format!("reading {what}")).await?;
        }
    }

    /// Whether `error` may pass: an event when it may, the error (with its step) when not.
    fn transient(&mut self, step: &Step, error: Error, what: &str) -> Result<(), Error> {
        let unreachable = matches!(error.kind(), ErrorKind::Connect | ErrorKind::TimedOut);
        let may_pass = error.is_transient()
            || matches!(
                error.kind(),
                ErrorKind::Decode | ErrorKind::ResponseTooLarge | ErrorKind::OutcomeUnknown
            );
        if !may_pass {
            return Err(error.with_step(step.clone()));
        }
        if unreachable {
            let now = self.clock.now();
            let since_when = *self.unreachable_since.get_or_insert(now);
            if since(now, since_when) >= self.up.unreachable_limit {
                return Err(error.with_step(step.clone()));
            }
        } else {
            self.unreachable_since = None;
        }
        tracing::info!(cluster_id = %self.up.cluster, error = %error, "{what}: will try again");
        self.emit(UpgradeEvent::Transient {
            step: step.clone(),
            error: error.to_string(),
        });
        Ok(())
    }

    /// A write, sent once: never after the deadline, bounded by the time left.
    async fn write<T, Fut>(&mut self, step: &Step, what: &str, call: Fut) -> Result<Wrote<T>, Error>
    where
        Fut: Future<Output = Result<Response<T>, Error>>,
    {
        let Some(left) = self.left() else {
            return Err(self.deadline_passed(step.clone(), &format!("about to send {what}")));
        };
        self.wrote = true;
        let answer = match tokio::time::timeout(left, call).await {
            Ok(answer) => answer,
            Err(_) => {
                return Ok(Wrote::Unknown(Error::upgrade_stopped(
                    ErrorKind::OutcomeUnknown,
                    step.clone(),
                    Failure::OutcomeUnknown,
                    format!("{what} got no answer before the deadline; it may have been acted on"),
                )));
            }
        };
        Ok(match answer {
            Ok(r) => {
                self.unreachable_since = None;
                if let Some(open) = &mut self.open {
                    open.request_ids.extend(r.request_id().map(str::to_owned));
                }
                Wrote::Done(r)
            }
            Err(e) if matches!(e.kind(), ErrorKind::Connect | ErrorKind::Throttled) => {
                Wrote::NotSent(e)
            }
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::OutcomeUnknown
                        | ErrorKind::TimedOut
                        | ErrorKind::Decode
                        | ErrorKind::ResponseTooLarge
                ) || e.status().is_some_and(|s| s.is_server_error()) =>
            {
                Wrote::Unknown(e)
            }
            Err(e) => Wrote::Refused(e),
        })
    }

    // ---- the loop -----------------------------------------------------------------------------

    /// Finds the cluster's flavour when it was not given: one read of the CCE cluster, and of
    /// the Autopilot one when CCE does not know it.
    async fn find_flavour(&mut self) -> Result<(), Error> {
        if let Some(flavour) = self.up.flavour {
            self.api.flavour = flavour;
            return Ok(());
        }
        let api = self.api.clone_as(Flavour::Cce);
        match self
            .read(Step::Inspect, "the cluster", || api.cluster_phase())
            .await
        {
            Ok(_) => self.api.flavour = Flavour::Cce,
            Err(e) if e.status().is_some_and(|s| s.as_u16() == 404) => {
                let api = self.api.clone_as(Flavour::Autopilot);
                match self
                    .read(Step::Inspect, "the cluster", || api.cluster_phase())
                    .await
                {
                    Ok(_) => self.api.flavour = Flavour::Autopilot,
                    Err(e2) if e2.status().is_some_and(|s| s.as_u16() == 404) => {
                        return Err(e
                            .into_not_found(format!(
                                "no CCE or Autopilot cluster {} in this project and region",
                                self.up.cluster
                            ))
                            .with_step(Step::Inspect));
                    }
                    Err(e2) => return Err(e2),
                }
            }
            Err(e) => return Err(e),
        }
        if !self.up.node_pools.is_empty() && self.api.flavour == Flavour::Autopilot {
            return Err(not_for_autopilot());
        }
        Ok(())
    }

    /// Reads the version and the allowed targets, and resolves the target.
    async fn resolve(&mut self) -> Result<(Target, Vec<String>), Error> {
        let requested = match &self.up.target {
            Some(t) => Some(t.parse::<Version>().map_err(|e| {
                Error::invalid_input("to", format!("{e}")).with_step(Step::Inspect)
            })?),
            None => None,
        };
        let api = self.api.clone();
        let mut misses = 0;
        let (info, current) = loop {
            let info = self
                .read(Step::Inspect, "the upgrade info", || api.upgrade_info())
                .await?;
            if let Some(v) = info
                .current_version()
                .and_then(|v| v.parse::<Version>().ok())
            {
                break (info, v);
            }
            misses += 1;
            if misses >= SETTLE_OBSERVATIONS {
                return Err(Error::upgrade_stopped(
                    ErrorKind::UpgradeFailed,
                    Step::Inspect,
                    Failure::VersionUnknown,
                    "the service does not say the cluster's version (ShowClusterUpgradeInfo); \
                     nothing was sent: look at the cluster in the console"
                        .into(),
                ));
            }
            self.sleep(&Step::Inspect, false, "the cluster's version")
                .await?;
        };
        if let Some(open) = &mut self.open {
            open.last_read = info.request_id().map(str::to_owned);
        }
        let mut allowed = observe::info_targets(&info);
        if allowed.is_empty() {
            let paths = self
                .read(Step::Inspect, "the upgrade paths", || api.upgrade_paths())
                .await?;
            allowed = observe::path_targets(&paths, Some(&current));
        }
        let open_targets: Vec<Version> = if requested.is_none() {
            let list = self
                .read(Step::Inspect, "the workflows", || api.workflows())
                .await?;
            observe::open_workflows(list.workflows())
                .into_iter()
                .filter_map(|w| w.target)
                .collect()
        } else {
            Vec::new()
        };
        let target = observe::resolve_target(requested.as_ref(), &current, &allowed, &open_targets)
            .map_err(|(failure, message)| {
                Error::upgrade_stopped(ErrorKind::InvalidInput, Step::Inspect, failure, message)
            })?;
        self.fresh_info = Some(info);
        Ok((target, allowed))
    }

    /// One observation of where the cluster stands. Unless `full`, the pre-checks are read only
    /// while they can matter: before an upgrade task to the target shows, or while a pre-check
    /// this run created has not shown yet ([`decide`] does not look at them once the task is
    /// there).
    async fn observe(&mut self, target: &Version, full: bool) -> Result<Observed, Error> {
        let api = self.api.clone();
        let mut o = Observed {
            flavour: Some(api.flavour),
            ..Observed::default()
        };
        o.cluster_phase = self
            .read(Step::Inspect, "the cluster", || api.cluster_phase())
            .await?
            .into_inner();
        let info = match self.fresh_info.take() {
            Some(info) => info,
            None => {
                self.read(Step::Inspect, "the upgrade info", || api.upgrade_info())
                    .await?
            }
        };
        o.version = info.current_version().and_then(|v| v.parse().ok());
        let workflows = self
            .read(Step::Workflow, "the workflows", || api.workflows())
            .await?;
        o.workflows = observe::open_workflows(workflows.workflows());
        let tasks = self
            .read(Step::Upgrade, "the upgrade tasks", || api.upgrade_tasks())
            .await?;
        (o.task, o.other_task) = observe::upgrade_tasks(&tasks.items, target);
        if full
            || o.task.is_none()
            || matches!(self.memory.pending, Some((Pending::PreCheck { .. }, _)))
        {
            let now = self.clock.now();
            let pre_checks = self
                .read(Step::PreCheck, "the pre-checks", || api.pre_checks())
                .await?;
            o.pre_check_ids = pre_checks
                .items
                .iter()
                .filter_map(observe::pre_check_id)
                .collect();
            o.pre_check = observe::newest_pre_check(&pre_checks.items, target, now);
        }
        if self.policy.snapshot
            || matches!(self.memory.pending, Some((Pending::Snapshot { .. }, _)))
        {
            let list = self
                .read(Step::Snapshot, "the snapshot tasks", || api.snapshots())
                .await?;
            o.snapshots = observe::snapshots(&list);
        }
        if let Some((pool, id)) = self.job.clone() {
            let job = self
                .read(
                    Step::NodePoolSync(pool.clone()),
                    "the node pool's job",
                    || api.job(&id),
                )
                .await?;
            let view = JobView {
                pool: pool.clone(),
                id: id.clone(),
                phase: job.phase().cloned(),
                reason: job.status.as_ref().and_then(|s| s.reason.clone()),
            };
            if view.phase == Some(JobPhase::Success) {
                self.pool_done(&pool, Some(id));
            } else {
                o.job = Some(view);
            }
        }
        Ok(o)
    }

    fn pool_done(&mut self, pool: &str, job_id: Option<String>) {
        self.memory.pools_done.push(pool.to_owned());
        self.job = None;
        if let Some(open) = &mut self.open
            && open.step == Step::NodePoolSync(pool.to_owned())
        {
            open.task_id = job_id.or(open.task_id.take());
        }
    }

    // ---- the report ------------------------------------------------------------------------

    fn open_step(
        &mut self,
        step: Step,
        resumed: bool,
        task_id: Option<String>,
        phase: Option<String>,
    ) {
        if resumed {
            self.emit(UpgradeEvent::Resumed {
                step: step.clone(),
                task_id: task_id.clone(),
                phase: phase.clone().unwrap_or_else(|| "unknown".into()),
            });
        } else {
            self.emit(UpgradeEvent::StepStarted(step.clone()));
        }
        self.open = Some(Open {
            step,
            started: self.clock.now(),
            task_id,
            phase,
            resumed,
            request_ids: Vec::new(),
            last_read: None,
        });
    }

    fn close_step(&mut self) {
        let Some(open) = self.open.take() else {
            return;
        };
        let duration = since(self.clock.now(), open.started);
        let phase = open.phase.unwrap_or_else(|| "Success".into());
        if !open.resumed || phase == "Success" {
            self.emit(UpgradeEvent::StepFinished {
                step: open.step.clone(),
                task_id: open.task_id.clone(),
                duration,
            });
        }
        self.steps.push(StepReport {
            step: open.step,
            task_id: open.task_id,
            phase,
            duration,
            resumed: open.resumed,
            request_ids: open.request_ids.into_iter().chain(open.last_read).collect(),
        });
    }

    /// A step found done by the first observation.
    fn found_done(&mut self, step: Step, task_id: Option<String>, phase: &str) {
        self.open_step(step, true, task_id, Some(phase.to_owned()));
        self.close_step();
    }

    /// Keeps the report and the events in step with what was decided.
    fn track(&mut self, next: &Next, o: &Observed, target: &Version) {
        let step = match next {
            Next::Done => None,
            Next::Stop { step, .. } => Some(step.clone()),
            Next::Wait(w) => Some(w.step()),
            Next::Act(a) => Some(a.step()),
        };
        // The pause of the task, once per pause.
        let paused = matches!(
            o.task.as_ref().and_then(|t| t.phase.as_ref()),
            Some(UpgradeTaskPhase::Pause)
        );
        if paused && !self.paused_seen {
            self.pauses += 1;
            let percent = o.task.as_ref().and_then(|t| t.progress);
            self.emit(UpgradeEvent::Paused { percent });
        }
        self.paused_seen = paused;

        let first = std::mem::replace(&mut self.first_decision, false);
        if first {
            self.close_step();
            let rank = step.as_ref().map_or(usize::MAX, rank);
            let workflow = open_workflow_to(o, target);
            if rank > 1
                && let Some(w) = workflow
            {
                self.found_done(Step::Workflow, Some(w.id.clone()), &w.phase.clone());
            }
            if rank > 2
                && let Some(pc) = &o.pre_check
                && pc.phase == Some(PreCheckPhase::Success)
                && o.task.is_none()
            {
                self.found_done(Step::PreCheck, Some(pc.id.clone()), "Success");
            }
            if rank > 4
                && let Some(t) = &o.task
                && t.phase == Some(UpgradeTaskPhase::Success)
            {
                self.found_done(Step::Upgrade, Some(t.id.clone()), "Success");
            }
        }
        let Some(step) = step else {
            self.close_step();
            return;
        };
        if self.open.as_ref().is_some_and(|open| open.step == step) {
            return;
        }
        self.close_step();
        // Found under way by this run's first look: a task or check that runs, or a failed or
        // paused upgrade task to retry or continue.
        let resumed =
            first && (matches!(next, Next::Wait(_)) || (step == Step::Upgrade && o.task.is_some()));
        let (task_id, phase) = match next {
            Next::Wait(Wait::UpgradeTask(id)) => (
                Some(id.clone()),
                o.task
                    .as_ref()
                    .and_then(|t| t.phase.as_ref())
                    .map(ToString::to_string),
            ),
            Next::Wait(Wait::PreCheck(id)) => (
                Some(id.clone()),
                o.pre_check
                    .as_ref()
                    .and_then(|p| p.phase.as_ref())
                    .map(ToString::to_string),
            ),
            Next::Wait(Wait::Snapshot(id)) => (Some(id.clone()), None),
            Next::Act(Action::Retry | Action::Continue) => (
                o.task.as_ref().map(|t| t.id.clone()),
                o.task
                    .as_ref()
                    .and_then(|t| t.phase.as_ref())
                    .map(ToString::to_string),
            ),
            _ => (None, None),
        };
        self.open_step(step, resumed, task_id, if resumed { phase } else { None });
        if let Some(open) = &mut self.open {
            // A resumed step is reported as it ends, not as it was found.
            open.phase = None;
        }
    }

    async fn execute(&mut self) -> Result<UpgradeReport, Error> {
        self.open_step(Step::Inspect, false, None, None);
        self.find_flavour().await?;
        let (target, _allowed) = self.resolve().await?;
        let resolved = target.version.clone();
        let mut version_before: Option<String> = None;
        let mut workflow_id: Option<String> = None;
        loop {
            let o = self.observe(&resolved, false).await?;
            if version_before.is_none() {
                version_before = match open_workflow_to(&o, &resolved) {
                    Some(w) if target.already_there => w.from.clone(),
                    _ => None,
                }
                .or_else(|| o.version.as_ref().map(ToString::to_string));
            }
            if let Some(w) = open_workflow_to(&o, &resolved) {
                workflow_id = Some(w.id.clone());
            }
            self.memory.observe(&o, &resolved);
            let next = decide(&resolved, &o, &self.policy, &self.memory);
            tracing::debug!(cluster_id = %self.up.cluster, ?next, "decided");
            self.track(&next, &o, &resolved);
            match next {
                Next::Done => {
                    let after = o.version.as_ref().map(ToString::to_string);
                    return Ok(UpgradeReport {
                        cluster_id: self.up.cluster.clone(),
                        flavour: self.api.flavour,
                        version_before,
                        version_after: after,
                        target: resolved.to_string(),
                        workflow_id,
                        steps: std::mem::take(&mut self.steps),
                        already_done: target.already_there && !self.wrote,
                        pauses: self.pauses,
                        retries: self.memory.retries,
                        completed_at: observe::completed_at(o.task.as_ref()),
                    });
                }
                Next::Stop {
                    step,
                    failure,
                    message,
                } => {
                    let kind = failure.kind();
                    let mut e = Error::upgrade_stopped(kind, step, failure, message);
                    if let Some(task) = &o.task
                        && matches!(kind, ErrorKind::UpgradeFailed | ErrorKind::UpgradePaused)
                    {
                        e = e.with_last_task_state(task.raw.clone());
                    }
                    if kind == ErrorKind::PreCheckFailed
                        && let Some(pc) = &o.pre_check
                    {
                        e = e.with_last_pre_check(pc.raw.clone());
                    }
                    return Err(e);
                }
                Next::Act(action) => {
                    self.act(action, &o, &resolved).await?;
                    // What the write created is followed by its id; the next observation
                    // (which settles the write) comes when it has run.
                    if let Some(wait) = self.follow.take() {
                        self.wait(wait).await?;
                    }
                }
                Next::Wait(wait) => self.wait(wait).await?,
            }
        }
    }

    // ---- acting ------------------------------------------------------------------------------

    async fn act(&mut self, action: Action, o: &Observed, target: &Version) -> Result<(), Error> {
        let step = action.step();
        let api = self.api.clone();
        let current = o.version.as_ref().map(ToString::to_string);
        match action {
            Action::CreateWorkflow => {
                let mut body = CreateUpgradeWorkFlowRequestBody::new(target.to_string());
                if let Some(current) = current {
                    body = body.cluster_version(current);
                }
                let wrote = self
                    .write(&step, "CreateUpgradeWorkFlow", api.create_workflow(&body))
                    .await?;
                self.settle(&step, wrote, Pending::Workflow, |me, created| {
                    if let Some(open) = &mut me.open {
                        open.task_id = created.uid().map(str::to_owned);
                        open.phase = created.phase().map(ToString::to_string);
                    }
                })
            }
            Action::RunPreCheck => {
                if let Some(previous) = &o.pre_check
                    && !previous.findings.is_empty()
                {
                    for skip in &self.policy.skips.clone() {
                        if !previous.findings.iter().any(|f| &f.name == skip) {
                            self.emit(UpgradeEvent::Warning(format!(
                                "skip_check({skip:?}) names an item the last pre-check ({}) did \
                                 not report",
                                previous.id
                            )));
                        }
                    }
                }
                let mut body = PreCheckClusterRequestBody::new(target.to_string());
                if let Some(current) = current {
                    body = body.cluster_version(current);
                }
                body.spec.skipped_check_item_list = self.up.skips.clone();
                let before = o.pre_check_ids.clone();
                let wrote = self
                    .write(&step, "CreatePreCheck", api.create_pre_check(&body))
                    .await?;
                self.settle(&step, wrote, Pending::PreCheck { before }, |me, created| {
                    if let Some(id) = observe::pre_check_id(created) {
                        me.memory.our_pre_checks.insert(id.clone());
                        me.follow = Some(Wait::PreCheck(id.clone()));
                        if let Some(open) = &mut me.open {
                            open.task_id = Some(id);
                        }
                    }
                })
            }
            Action::Snapshot => {
                let before = o.snapshots.iter().map(|s| s.id.clone()).collect();
                let wrote = self
                    .write(&step, "CreateClusterMasterSnapshot", api.create_snapshot())
                    .await?;
                self.settle(&step, wrote, Pending::Snapshot { before }, |me, created| {
                    if let Some(uid) = created.uid.clone() {
                        me.memory.our_snapshots.insert(uid.clone());
                        if let Some(open) = &mut me.open {
                            open.task_id = Some(uid);
                        }
                    }
                })
            }
            Action::StartUpgrade => {
                let body = UpgradeClusterRequestBody::new(target.to_string()).is_only_upgrade(true);
                let wrote = self
                    .write(&step, "UpgradeCluster", api.upgrade(&body))
                    .await?;
                if let Wrote::Refused(e) = &wrote
                    && e.status().is_some_and(|s| s.is_client_error())
                    && self.memory.refused_with_pre_check.is_none()
                    && let Some(pc) = &o.pre_check
                {
                    // Refused, so not acted on: the pre-check may have expired on the
                    // service's clock. Run it again, once.
                    self.emit(UpgradeEvent::Warning(format!(
                        "the service refused the upgrade ({e}); running the pre-check again"
                    )));
                    self.memory.refused_with_pre_check = Some(pc.id.clone());
                    return Ok(());
                }
                self.settle(&step, wrote, Pending::Upgrade, |me, created| {
                    let task_id = created.metadata.as_ref().and_then(|m| m.uid.clone());
                    me.follow = task_id.clone().map(Wait::UpgradeTask);
                    if let Some(open) = &mut me.open {
                        open.task_id = task_id;
                    }
                })
            }
            Action::Retry => {
                self.memory.retries += 1;
                let percent = o.task.as_ref().and_then(|t| t.progress);
                self.emit(UpgradeEvent::Retrying {
                    attempt: self.memory.retries,
                    percent,
                });
                let wrote = self
                    .write(&step, "RetryUpgradeClusterTask", api.retry_upgrade())
                    .await?;
                self.settle(&step, wrote, Pending::Retry, |_, _| {})
            }
            Action::Continue => {
                self.memory.continues += 1;
                let wrote = self
                    .write(&step, "ContinueUpgradeClusterTask", api.continue_upgrade())
                    .await?;
                let continued = matches!(wrote, Wrote::Done(_) | Wrote::Unknown(_));
                self.settle(&step, wrote, Pending::Continue, |_, _| {})?;
                if continued {
                    self.emit(UpgradeEvent::Continued);
                }
                Ok(())
            }
            Action::PostCheck { from } => {
                let body = PostCheckClusterRequestBody::for_versions(
                    from.or(current).unwrap_or_default(),
                    target.to_string(),
                )
                .cluster_id(self.up.cluster.clone());
                match self
                    .write(&step, "CreatePostCheck", api.post_check(&body))
                    .await?
                {
                    Wrote::Done(answer) => {
                        if let Some(open) = &mut self.open {
                            open.task_id = answer.metadata.as_ref().and_then(|m| m.uid.clone());
                        }
                        match answer.phase() {
                            Some(PostCheckPhase::Success) | None => {
                                self.memory.post_checked = true;
                                Ok(())
                            }
                            Some(phase) => Err(Error::upgrade_stopped(
                                ErrorKind::UpgradeFailed,
                                step,
                                Failure::PostCheckFailed {
                                    phase: phase.to_string(),
                                },
                                format!(
                                    "the post-upgrade check ended {phase}: look at the cluster's \
                                     workloads; the upgrade itself succeeded"
                                ),
                            )),
                        }
                    }
                    Wrote::NotSent(e) => self.transient(&step, e, "CreatePostCheck"),
                    Wrote::Unknown(e) => Err(unknown(step, &e, "CreatePostCheck")),
                    Wrote::Refused(e) => Err(e.with_step(step)),
                }
            }
            Action::SyncPool(pool) => {
                let body = UpgradeNodePool::new(pool.clone(), self.up.max_unavailable);
                match self
                    .write(&step, "UpgradeNodePool", api.sync_node_pool(&pool, &body))
                    .await?
                {
                    Wrote::Done(answer) => {
                        match answer.jobid.clone() {
                            Some(job) => {
                                if let Some(open) = &mut self.open {
                                    open.task_id = Some(job.clone());
                                }
                                self.job = Some((pool, job));
                            }
                            // The page documents no answer: nothing to follow.
                            None => {
                                if let Some(open) = &mut self.open {
                                    open.phase = Some("Accepted".into());
                                }
                                self.pool_done(&pool, None);
                            }
                        }
                        Ok(())
                    }
                    Wrote::NotSent(e) => self.transient(&step, e, "UpgradeNodePool"),
                    Wrote::Unknown(e) => Err(unknown(step, &e, "UpgradeNodePool")),
                    Wrote::Refused(e) => Err(e.with_step(step)),
                }
            }
        }
    }

    /// Takes in how a write went: its effect is awaited from the next observations (also when
    /// it succeeded: the service may show it late); a write that was not sent is tried again
    /// after a pause; a refused one ends the run.
    fn settle<T>(
        &mut self,
        step: &Step,
        wrote: Wrote<T>,
        pending: Pending,
        on_done: impl FnOnce(&mut Self, &T),
    ) -> Result<(), Error> {
        match wrote {
            Wrote::Done(answer) => {
                on_done(self, &answer);
                self.memory.pending = Some((pending, 0));
                Ok(())
            }
            Wrote::Unknown(e) => {
                self.emit(UpgradeEvent::Transient {
                    step: step.clone(),
                    error: format!("{e}; reading what happened instead of sending it again"),
                });
                self.memory.pending = Some((pending, 0));
                Ok(())
            }
            Wrote::NotSent(e) => self.transient(step, e, "a write"),
            Wrote::Refused(e) => Err(e.with_step(step.clone())),
        }
    }

    // ---- waiting -----------------------------------------------------------------------------

    async fn wait(&mut self, wait: Wait) -> Result<(), Error> {
        let step = wait.step();
        let api = self.api.clone();
        match wait {
            Wait::Settle { why, .. } => self.sleep(&step, false, &why).await,
            Wait::UpgradeTask(id) => {
                // The pace backs off from the first poll to the last: progress is reported as
                // it moves, but only the end of the task (or a pause, a failure) is a change
                // to observe.
                let mut first = true;
                loop {
                    self.sleep(&step, first, "the upgrade task").await?;
                    first = false;
                    let task = self
                        .read(step.clone(), "the upgrade task", || api.upgrade_task(&id))
                        .await?;
                    if let Some(p) = observe::progress(&task)
                        && self.last_progress != Some(p)
                    {
                        self.last_progress = Some(p);
                        self.emit(UpgradeEvent::Progress(p));
                    }
                    if let Some(open) = &mut self.open {
                        open.last_read = task.request_id().map(str::to_owned);
                    }
                    // A phase this SDK does not know yet (or none) is waited on like a
                    // running one, at the same growing pace.
                    let ended = matches!(
                        task.phase(),
                        Some(
                            UpgradeTaskPhase::Success
                                | UpgradeTaskPhase::Failed
                                | UpgradeTaskPhase::Pause
                        )
                    );
                    if ended {
                        return Ok(());
                    }
                }
            }
            Wait::PreCheck(id) => {
                let mut first = true;
                loop {
                    self.sleep(&step, first, "the pre-check").await?;
                    first = false;
                    let task = self
                        .read(step.clone(), "the pre-check", || api.pre_check(&id))
                        .await?;
                    let phase = task.status.as_ref().and_then(|s| s.phase.as_ref());
                    if !pre_check_runs(phase) {
                        if let Some(open) = &mut self.open {
                            open.last_read = task.request_id().map(str::to_owned);
                        }
                        for finding in observe::findings(&task) {
                            self.emit(UpgradeEvent::Finding(finding));
                        }
                        return Ok(());
                    }
                }
            }
            Wait::Snapshot(id) => {
                let mut first = true;
                loop {
                    self.sleep(&step, first, "the snapshot").await?;
                    first = false;
                    let list = self
                        .read(step.clone(), "the snapshot tasks", || api.snapshots())
                        .await?;
                    let Some(task) = list.task(&id) else {
                        // Not listed (any more): the next observation says why.
                        return Ok(());
                    };
                    if !snapshot_runs(task.phase()) {
                        if let Some(open) = &mut self.open {
                            open.task_id = Some(id.clone());
                            open.last_read = list.request_id().map(str::to_owned);
                        }
                        return Ok(());
                    }
                }
            }
            Wait::Job { pool, id } => {
                let mut first = true;
                loop {
                    self.sleep(&step, first, "the node pool's job").await?;
                    first = false;
                    let job = self
                        .read(step.clone(), "the node pool's job", || api.job(&id))
                        .await?;
                    match job.phase() {
                        Some(JobPhase::Success) => {
                            if let Some(open) = &mut self.open {
                                open.last_read = job.request_id().map(str::to_owned);
                            }
                            self.pool_done(&pool, Some(id.clone()));
                            return Ok(());
                        }
                        Some(JobPhase::Failed) => return Ok(()),
                        _ => {}
                    }
                }
            }
        }
    }

    // ---- plan and cancel ------------------------------------------------------------------------

    async fn plan(&mut self, fresh_pre_check: bool) -> Result<UpgradePlan, Error> {
        self.find_flavour().await?;
        let (target, allowed) = self.resolve().await?;
        let resolved = target.version.clone();
        let mut o = self.observe(&resolved, true).await?;
        if fresh_pre_check && !target.already_there {
            if o.cluster_phase.as_deref() != Some("Available") {
                return Err(Error::upgrade_stopped(
                    ErrorKind::Blocked,
                    Step::PreCheck,
                    Failure::ClusterPhase {
                        phase: o.cluster_phase.clone().unwrap_or_else(|| "unknown".into()),
                    },
                    "the cluster is not Available: no pre-check was run".into(),
                ));
            }
            self.open_step(Step::PreCheck, false, None, None);
            self.act(Action::RunPreCheck, &o, &resolved).await?;
            if let Some(wait) = self.follow.take() {
                self.wait(wait).await?;
            }
            loop {
                o = self.observe(&resolved, true).await?;
                self.memory.observe(&o, &resolved);
                match &o.pre_check {
                    Some(pc)
                        if self.memory.our_pre_checks.contains(&pc.id)
                            || self.memory.pending.is_none() =>
                    {
                        if pre_check_runs(pc.phase.as_ref()) {
                            self.wait(Wait::PreCheck(pc.id.clone())).await?;
                        } else {
                            break;
                        }
                    }
                    _ if self
                        .memory
                        .pending
                        .as_ref()
                        .is_some_and(|(_, m)| *m >= SETTLE_OBSERVATIONS) =>
                    {
                        return Err(Error::upgrade_stopped(
                            ErrorKind::OutcomeUnknown,
                            Step::PreCheck,
                            Failure::OutcomeUnknown,
                            "the pre-check this plan started has not shown in the service's \
                             list; it was not sent again: run the plan again"
                                .into(),
                        ));
                    }
                    _ => self.sleep(&Step::PreCheck, false, "the pre-check").await?,
                }
            }
            self.memory.pending = None;
        }
        self.memory.observe(&o, &resolved);
        let next = decide(&resolved, &o, &self.policy, &self.memory);
        let (next_text, blocked) = describe(&next);
        let pre_check = o.pre_check.as_ref();
        Ok(UpgradePlan {
            cluster_id: self.up.cluster.clone(),
            flavour: self.api.flavour,
            cluster_phase: o.cluster_phase.clone(),
            current_version: o.version.as_ref().map(ToString::to_string),
            allowed_targets: allowed,
            target: resolved.to_string(),
            already_done: target.already_there,
            open_workflows: o
                .workflows
                .iter()
                .map(|w| (w.id.clone(), w.target_text.clone(), w.phase.clone()))
                .collect(),
            upgrade_task: o.task.as_ref().map(|t| {
                (
                    t.id.clone(),
                    t.phase
                        .as_ref()
                        .map_or_else(|| "unknown".into(), ToString::to_string),
                )
            }),
            completed_at: observe::completed_at(o.task.as_ref()),
            pre_check_task_id: pre_check.map(|p| p.id.clone()),
            pre_check_passed: pre_check
                .is_some_and(|p| p.phase == Some(PreCheckPhase::Success) && !p.expired),
            findings: pre_check.map(|p| p.findings.clone()).unwrap_or_default(),
            next: next_text,
            blocked,
        })
    }

    async fn cancel(&mut self) -> Result<Option<String>, Error> {
        self.find_flavour().await?;
        let api = self.api.clone();
        let list = self
            .read(Step::Workflow, "the workflows", || api.workflows())
            .await?;
        let Some(open) = observe::open_workflows(list.workflows()).pop() else {
            return Ok(None);
        };
        let step = Step::Workflow;
        match self
            .write(
                &step,
                "UpgradeWorkFlowUpdate",
                api.cancel_workflow(&open.id),
            )
            .await?
        {
            Wrote::Done(_) => Ok(Some(open.id)),
            Wrote::Refused(e) if e.status().is_some_and(|s| s.is_client_error()) => {
                Err(Error::upgrade_stopped(
                    ErrorKind::Blocked,
                    step,
                    Failure::OpenWorkflow {
                        workflow_id: open.id.clone(),
                        target: open.target_text.clone(),
                    },
                    format!(
                        "the service refused to cancel workflow {} to {} ({e}): it refuses while \
                         a task of the workflow runs, is paused or queued; let the task end \
                         first",
                        open.id, open.target_text
                    ),
                ))
            }
            Wrote::Refused(e) | Wrote::NotSent(e) => Err(e.with_step(step)),
            Wrote::Unknown(e) => Err(unknown(step, &e, "UpgradeWorkFlowUpdate")),
        }
    }
}

/// The order of the steps, for what the first observation found done.
fn rank(step: &Step) -> usize {
    match step {
        Step::Inspect => 0,
        Step::Workflow => 1,
        Step::PreCheck => 2,
        Step::Snapshot => 3,
        Step::Upgrade => 4,
        Step::PostCheck => 5,
        Step::NodePoolSync(_) => 6,
    }
}

fn unknown(step: Step, e: &Error, what: &str) -> Error {
    Error::upgrade_stopped(
        ErrorKind::OutcomeUnknown,
        step,
        Failure::OutcomeUnknown,
        format!(
            "{what} may or may not have been acted on ({e}); it was not sent again: look at the \
             cluster, then run the upgrade again"
        ),
    )
}

/// What `run()` would do next, in words, and whether it would stop.
fn describe(next: &Next) -> (String, bool) {
    match next {
        Next::Done => ("nothing: the cluster runs the target".into(), false),
        Next::Stop { message, step, .. } => (format!("stop at {step}: {message}"), true),
        Next::Wait(Wait::UpgradeTask(id)) => (format!("follow the upgrade task {id}"), false),
        Next::Wait(Wait::PreCheck(id)) => (format!("wait for the pre-check {id}"), false),
        Next::Wait(Wait::Snapshot(id)) => (format!("wait for the snapshot {id}"), false),
        Next::Wait(Wait::Job { pool, id }) => {
            (format!("wait for node pool {pool}'s job {id}"), false)
        }
        Next::Wait(Wait::Settle { why, .. }) => (format!("wait: {why}"), false),
        Next::Act(a) => (
            match a {
                Action::CreateWorkflow => "create the upgrade workflow".into(),
                Action::RunPreCheck => "run the pre-check".into(),
                Action::Snapshot => "back the masters up (snapshot)".into(),
                Action::StartUpgrade => "start the upgrade (UpgradeCluster)".into(),
                Action::Retry => "retry the failed upgrade task".into(),
                Action::Continue => "continue the paused upgrade task".into(),
                Action::PostCheck { .. } => "run the post-upgrade check".into(),
                Action::SyncPool(pool) => format!("sync node pool {pool}"),
            },
            false,
        ),
    }
}
