//! The upgrade driver: a whole cluster upgrade, run the way the service expects — a reconciler,
//! safe to stop at any instant.
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
//!     .on_event(|e| {
//!         if let UpgradeEvent::Progress(p) = &e.event {
//!             println!("{}: {p:.0}%", e.cluster_id);
//!         }
//!     })
//!     .run()
//!     .await?;
//! println!("{:?} -> {:?}", report.version_before, report.version_after);
//! # Ok(()) }
//! ```
//!
//! `Upgrade` owns what it needs (a clone of the client), and its `run()` future is `Send`:
//! `tokio::spawn(client.upgrade(id).to("v1.29").run())` upgrades clusters side by side.
//!
//! # How it works: observe, decide, act
//! Every tick the driver **observes** where the cluster stands — its phase (`ShowCluster`),
//! its version (`ShowClusterUpgradeInfo`), its workflows, pre-checks, snapshots (when asked
//! for) and upgrade tasks — then **decides** the next step with a pure function of what it read,
//! and **acts** once (or waits), then observes again:
//! 1. **Target**: a minor version such as `v1.29` means the latest allowed patch of that line
//!    (also on a cluster already on `v1.29.x`); no target means the open workflow's, or else the
//!    latest allowed. Versions are compared as versions ([`crate::Version`]).
//! 2. **Phase**: nothing is written unless the cluster is `Available` (or `Upgrading` with this
//!    upgrade's task running); a hibernating or unavailable cluster is an
//!    [`ErrorKind::Blocked`](crate::ErrorKind::Blocked) error with nothing sent.
//! 3. **Workflow**: an open workflow to the target is used, otherwise one is created. An open
//!    workflow to another target blocks ([`Upgrade::cancel`] cancels it).
//! 4. **Pre-check**: a passed, unexpired one is used; a running one is waited for; otherwise
//!    one is run, skipping the items named with [`Upgrade::skip_check`]. A failed one stops the
//!    run ([`ErrorKind::PreCheckFailed`](crate::ErrorKind::PreCheckFailed), the findings in [`Failure::PreCheckFailed`]).
//! 5. **Snapshot** (optional): a running snapshot is waited for, never started twice.
//! 6. **Upgrade**: `UpgradeCluster` with the pre-check done, then its task is followed with
//!    progress events. A paused task stops the run unless [`Upgrade::continue_paused`]; a
//!    failed one is retried as [`Upgrade::retry_failed`] allows.
//! 7. **Verify**: the run ends well only when the cluster's version, read back, is the target.
//! 8. **Post-check** (on by default) and **node pools** (CCE, [`Upgrade::sync_node_pools`]).
//!
//! # Safe at every instant
//! The service's state is the only state. Stopped at any moment (the future dropped, the
//! process killed) and run again, the driver reads where the cluster stands and goes on: a
//! running task is followed, never started again. An action whose answer was lost (a dropped
//! connection, an unreadable answer, a timeout) is not sent again: the next observation shows
//! what it did. A retry or a continue is not repeated while its effect has not shown.
//!
//! # Time
//! Polling backs off from [`Upgrade::poll_interval`]'s first value to its second while nothing
//! changes. [`Upgrade::deadline`] is hard: nothing is sent after it, and each call is bounded by
//! the time left. Waiting uses the client's [clock](crate::clock), so tests against the
//! emulator run at the pace of the requests. When the service cannot be reached at all for
//! [`Upgrade::give_up_unreachable_after`], the run stops with the connection error; transient
//! failures are [`UpgradeEvent::Transient`] events.

mod api;
mod decide;
mod observe;
mod report;
mod run;

use std::fmt;
use std::time::Duration;

pub use crate::flavour::Flavour;
pub use report::{
    Event, Failure, Finding, Step, StepReport, UpgradeEvent, UpgradePlan, UpgradeReport,
};

use crate::Client;
use crate::error::Error;

/// The default deadline of a whole upgrade.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(3 * 3600);

/// The default of [`Upgrade::give_up_unreachable_after`].
pub const DEFAULT_UNREACHABLE_LIMIT: Duration = Duration::from_secs(120);

type Callback<'a> = Box<dyn FnMut(&Event) + Send + 'a>;

impl Client {
    /// An upgrade of the cluster `cluster_id`, CCE or Autopilot (one read finds out which):
    /// configure it, then [`Upgrade::run`] it (or [`Upgrade::plan`] it). See
    /// [the module docs](crate::upgrade).
    pub fn upgrade(&self, cluster_id: &str) -> Upgrade<'static> {
        Upgrade::new(self.clone(), cluster_id, None)
    }

    /// An upgrade of the CCE Autopilot cluster `cluster_id` (no pause/continue, no node pools),
    /// without the read that finds the flavour.
    pub fn upgrade_autopilot(&self, cluster_id: &str) -> Upgrade<'static> {
        Upgrade::new(self.clone(), cluster_id, Some(Flavour::Autopilot))
    }
}

/// A configured upgrade of one cluster. Built with [`Client::upgrade`] or
/// [`Client::upgrade_autopilot`]; owns a clone of the client, so it can be moved into a task.
/// `'a` is the lifetime of the [event callback](Upgrade::on_event): `'static` unless the
/// callback borrows.
pub struct Upgrade<'a> {
    client: Client,
    cluster: String,
    flavour: Option<Flavour>,
    target: Option<String>,
    snapshot: bool,
    skips: Vec<crate::types::SkippedCheckItem>,
    post_check: bool,
    node_pools: Vec<String>,
    max_unavailable: i32,
    deadline: Duration,
    retry_failed: u32,
    continue_paused: bool,
    poll: (Duration, Duration),
    unreachable_limit: Duration,
    on_event: Option<Callback<'a>>,
    events: Option<tokio::sync::mpsc::UnboundedSender<Event>>,
}

impl fmt::Debug for Upgrade<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upgrade")
            .field("cluster_id", &self.cluster)
            .field("flavour", &self.flavour)
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

impl Upgrade<'static> {
    fn new(client: Client, cluster_id: &str, flavour: Option<Flavour>) -> Self {
        Upgrade {
            client,
            cluster: cluster_id.to_owned(),
            flavour,
            target: None,
            snapshot: false,
            skips: Vec::new(),
            post_check: true,
            node_pools: Vec::new(),
            max_unavailable: 1,
            deadline: DEFAULT_DEADLINE,
            retry_failed: 0,
            continue_paused: false,
            poll: (Duration::from_secs(5), Duration::from_secs(60)),
            unreachable_limit: DEFAULT_UNREACHABLE_LIMIT,
            on_event: None,
            events: None,
        }
    }
}

impl<'a> Upgrade<'a> {
    /// The target version: a full one (`v1.29.15-r0`) or a minor one (`v1.29`, its latest
    /// allowed patch). Without it, the open workflow's target, or the latest allowed version.
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
        self.skips.push(crate::types::SkippedCheckItem::new(name));
        self
    }

    /// Skips the pre-check item `name` on these nodes only (by node UID).
    pub fn skip_check_on_nodes<I, S>(mut self, name: impl Into<String>, node_uids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.skips
            .push(crate::types::SkippedCheckItem::on_nodes(name, node_uids));
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

    /// How many nodes of a pool may be synced at once (the spec's `maxUnavailable`, 1–20,
    /// default 1; checked when the sync is sent).
    pub fn max_unavailable(mut self, nodes: i32) -> Self {
        self.max_unavailable = nodes;
        self
    }

    /// The deadline of the whole run (default 3 hours). Nothing is sent after it; the run ends
    /// with [`ErrorKind::WaitTimedOut`](crate::ErrorKind::WaitTimedOut) ([`Failure::DeadlinePassed`]) within it plus at most one
    /// request timeout. Run again to go on.
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

    /// Continue a paused upgrade task (`ContinueUpgradeClusterTask`, CCE only, at most three
    /// times a run) instead of ending the run with an error that says it is paused (default
    /// no).
    pub fn continue_paused(mut self, yes: bool) -> Self {
        self.continue_paused = yes;
        self
    }

    /// How often to poll: `initial` after a change, growing up to `max` while nothing changes
    /// (default 5 s and 60 s). An upgrade task's progress is reported as it moves but is not a
    /// change: while the task runs, the interval keeps growing to `max`.
    pub fn poll_interval(mut self, initial: Duration, max: Duration) -> Self {
        self.poll = (initial, max.max(initial));
        self
    }

    /// How long the service may be unreachable (every call failing to connect or timing out)
    /// before the run stops with the connection error (default two minutes). A certificate
    /// the client does not trust stops it at once.
    pub fn give_up_unreachable_after(mut self, limit: Duration) -> Self {
        self.unreachable_limit = limit;
        self
    }

    /// Called with every [`Event`], as it happens (from the task that runs the upgrade). A
    /// callback that borrows makes the upgrade borrow too; one that owns what it uses keeps
    /// it `'static` (spawnable).
    pub fn on_event<'b>(self, callback: impl FnMut(&Event) + Send + 'b) -> Upgrade<'b>
    where
        'a: 'b,
    {
        Upgrade {
            on_event: Some(Box::new(callback)),
            ..self
        }
    }

    /// The events of this upgrade as a channel, to read from another task; the channel ends
    /// when the run ends.
    pub fn events(&mut self) -> tokio::sync::mpsc::UnboundedReceiver<Event> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        self.events = Some(tx);
        rx
    }

    /// Reads where the cluster stands and reports what [`Upgrade::run`] would do — sending no
    /// write at all (no workflow, no pre-check). The newest pre-check to the target, if there
    /// is one, gives the findings.
    pub async fn plan(self) -> Result<UpgradePlan, Error> {
        run::plan(self, false).await
    }

    /// [`Upgrade::plan`], with a fresh pre-check run first (`CreatePreCheck`, never a
    /// workflow) and waited for, so the findings are today's. The cluster must be `Available`.
    pub async fn plan_with_pre_check(self) -> Result<UpgradePlan, Error> {
        run::plan(self, true).await
    }

    /// Runs the upgrade to its end (see [the module docs](crate::upgrade)) and reports it.
    pub async fn run(self) -> Result<UpgradeReport, Error> {
        run::run(self).await
    }

    /// Cancels the cluster's open upgrade workflow (`UpgradeWorkFlowUpdate`, phase `Cancel`),
    /// e.g. to upgrade to another target. Returns the id of the workflow cancelled, or `None`
    /// when none is open. The service refuses while a task of the workflow runs, is paused or
    /// queued: that is an [`ErrorKind::Blocked`](crate::ErrorKind::Blocked) error saying so.
    pub async fn cancel(self) -> Result<Option<String>, Error> {
        run::cancel(self).await
    }
}
