//! Waiting for an upgrade task or workflow to end.
//!
//! A waiter polls with a growing interval (reset whenever the state changes), reports each
//! change to an optional callback, and returns the final state. A task that ends `Failed`, or a
//! workflow that ends `Cancel` or `Pending` (a task failed), is an
//! [`ErrorKind::UpgradeFailed`] error carrying the last state; a task that is `Pause`d does not
//! move until it is continued, so it is reported at once as [`ErrorKind::UpgradePaused`];
//! a deadline that passes first is [`ErrorKind::WaitTimedOut`].
//! Transient failures while polling (throttling, timeouts, 5xx, connection trouble) do not end
//! the wait: the next poll tries again, until the deadline.
//!
//! ```no_run
//! # async fn run(client: cce_upgrade::Client) -> Result<(), cce_upgrade::Error> {
//! use std::time::Duration;
//! let task = client
//!     .wait_for_upgrade_task("cluster-id", "task-id")
//!     .timeout(Duration::from_secs(2 * 3600))
//!     .on_progress(|t| println!("{:?} {:?}%", t.phase(), t.progress_percent()))
//!     .await?;
//! # Ok(()) }
//! ```

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::time::Duration;

use std::time::SystemTime;

use crate::client::Client;
use crate::error::{Error, ErrorKind};
use crate::types::{UpgradeTask, UpgradeTaskPhase, UpgradeWorkFlow, WorkFlowPhase};

/// The default overall deadline of a waiter.
pub const DEFAULT_WAIT_TIMEOUT: Duration = Duration::from_secs(3 * 3600);

type Callback<'a, T> = Box<dyn FnMut(&T) + Send + 'a>;

#[derive(Clone, Copy, Debug)]
struct Pacing {
    timeout: Duration,
    initial: Duration,
    max: Duration,
}

impl Pacing {
    /// When the wait ends; `None` when the timeout reaches past what the clock can represent
    /// (`Duration::MAX`): no deadline then.
    fn deadline(&self, now: SystemTime) -> Option<SystemTime> {
        now.checked_add(self.timeout)
    }

    /// The interval after `interval`: 1.5 times longer, up to `max`; saturates.
    fn next(&self, interval: Duration) -> Duration {
        interval.saturating_add(interval / 2).min(self.max)
    }
}

impl Default for Pacing {
    fn default() -> Self {
        Pacing {
            timeout: DEFAULT_WAIT_TIMEOUT,
            initial: Duration::from_secs(2),
            max: Duration::from_secs(30),
        }
    }
}

enum Step<T> {
    Continue,
    Done(T),
    Failed(Error),
}

/// Polls `fetch` until `judge` says done or failed, or the deadline passes.
async fn poll<T, F, Fut>(
    clock: &dyn crate::clock::Clock,
    pacing: Pacing,
    what: &str,
    mut fetch: F,
    judge: impl Fn(&T) -> Step<()>,
    mut on_change: Option<Callback<'_, T>>,
    attach: impl Fn(Error, Option<T>) -> Error,
) -> Result<T, Error>
where
    T: Clone + PartialEq,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    let deadline = pacing.deadline(clock.now());
    let before_deadline = |now: SystemTime| deadline.is_none_or(|d| now < d);
    let mut interval = pacing.initial;
    let mut last: Option<T> = None;
    loop {
        match fetch().await {
            Ok(state) => {
                let changed = last.as_ref() != Some(&state);
                if changed {
                    if let Some(cb) = on_change.as_mut() {
                        cb(&state);
                    }
                    interval = pacing.initial;
                }
                match judge(&state) {
                    Step::Done(()) => return Ok(state),
                    Step::Failed(e) => return Err(attach(e, Some(state))),
                    Step::Continue => {}
                }
                last = Some(state);
            }
            Err(e) if e.is_transient() && before_deadline(clock.now()) => {
                tracing::info!(error = %e, "poll failed; trying again");
            }
            Err(e) => return Err(attach(e, last)),
        }
        let now = clock.now();
        if !before_deadline(now) {
            let e = Error::wait_timed_out(format!(
                "{what} did not end within {:?}; it may still be running",
                pacing.timeout
            ));
            return Err(attach(e, last));
        }
        let left = deadline.map_or(Duration::MAX, |d| crate::clock::since(d, now));
        clock.sleep(interval.min(left)).await;
        interval = pacing.next(interval);
    }
}

/// Waits for an upgrade task ([`TaskWaiter`]) or an Autopilot workflow ([`WorkflowWaiter`]) to
/// end; made by [`Client::wait_for_upgrade_task`] and [`Client::wait_for_workflow`]. Configure
/// it, then `.await` it (or call `wait`).
#[must_use = "a waiter does nothing until awaited"]
pub struct Waiter<'a, T> {
    client: &'a Client,
    cluster_id: String,
    id: String,
    pacing: Pacing,
    on_progress: Option<Callback<'a, T>>,
}

/// Waits for a cluster upgrade task to end.
pub type TaskWaiter<'a> = Waiter<'a, UpgradeTask>;

/// Waits for an upgrade workflow of an Autopilot cluster to end.
pub type WorkflowWaiter<'a> = Waiter<'a, UpgradeWorkFlow>;

impl<'a, T> Waiter<'a, T> {
    fn new(client: &'a Client, cluster_id: &str, id: &str) -> Self {
        Waiter {
            client,
            cluster_id: cluster_id.to_owned(),
            id: id.to_owned(),
            pacing: Pacing::default(),
            on_progress: None,
        }
    }

    /// The overall deadline (default 3 hours); `Duration::MAX` waits without one.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.pacing.timeout = timeout;
        self
    }

    /// The first interval between polls and the largest it grows to (default 2 s and 30 s).
    pub fn poll_interval(mut self, initial: Duration, max: Duration) -> Self {
        self.pacing.initial = initial;
        self.pacing.max = max.max(initial);
        self
    }

    /// Called with the task or workflow each time its state changes (phase, progress, ...).
    pub fn on_progress(mut self, callback: impl FnMut(&T) + Send + 'a) -> Self {
        self.on_progress = Some(Box::new(callback));
        self
    }
}

impl Waiter<'_, UpgradeTask> {
    /// Polls until the task is `Success` (returned), `Failed` (an error), or the deadline passes.
    pub async fn wait(self) -> Result<UpgradeTask, Error> {
        let Waiter {
            client,
            cluster_id,
            id: task_id,
            pacing,
            on_progress,
        } = self;
        let what = format!("upgrade task {task_id}");
        poll(
            client.clock().as_ref(),
            pacing,
            &what,
            || async {
                client
                    .show_upgrade_cluster_task(&cluster_id, &task_id)
                    .await
                    .map(|r| r.into_inner())
            },
            |task: &UpgradeTask| match task.phase() {
                Some(UpgradeTaskPhase::Success) => Step::Done(()),
                Some(UpgradeTaskPhase::Failed) => Step::Failed(Error::upgrade_failed_task(
                    task.clone(),
                    format!(
                        "upgrade task {task_id} failed at {}% progress",
                        task.progress_percent()
                            .map_or_else(|| "?".to_owned(), |p| format!("{p:.2}"))
                    ),
                )),
                Some(UpgradeTaskPhase::Pause) => Step::Failed(Error::upgrade_paused_task(
                    task.clone(),
                    format!(
                        "upgrade task {task_id} is paused at {}% progress; it does not move until \
                         it is continued (ContinueUpgradeClusterTask)",
                        task.progress_percent()
                            .map_or_else(|| "?".to_owned(), |p| format!("{p:.2}"))
                    ),
                )),
                _ => Step::Continue,
            },
            on_progress,
            |e, last| {
                if matches!(
                    e.kind(),
                    ErrorKind::UpgradeFailed | ErrorKind::UpgradePaused
                ) {
                    e
                } else {
                    e.with_last_task(last)
                }
            },
        )
        .await
    }
}

impl Waiter<'_, UpgradeWorkFlow> {
    /// Polls the workflow ([`Client::show_autopilot_upgrade_work_flow`]) until it is `Success`
    /// (returned), `Cancel` or `Pending` (an error), or the deadline passes. A workflow the
    /// service does not know (`404`) is [`ErrorKind::NotFound`].
    pub async fn wait(self) -> Result<UpgradeWorkFlow, Error> {
        let Waiter {
            client,
            cluster_id,
            id: workflow_id,
            pacing,
            on_progress,
        } = self;
        let what = format!("upgrade workflow {workflow_id}");
        let fetch = || async {
            match client
                .show_autopilot_upgrade_work_flow(&cluster_id, &workflow_id)
                .await
            {
                Ok(workflow) => Ok(workflow.into_inner()),
                Err(e) if e.status() == Some(reqwest::StatusCode::NOT_FOUND) => Err(e
                    .into_not_found(format!(
                        "cluster {cluster_id} has no upgrade workflow {workflow_id}; \
                         list the workflows to find its id"
                    ))),
                Err(e) => Err(e),
            }
        };
        poll(
            client.clock().as_ref(),
            pacing,
            &what,
            fetch,
            |w: &UpgradeWorkFlow| match w.phase() {
                Some(WorkFlowPhase::Success) => Step::Done(()),
                Some(phase @ (WorkFlowPhase::Cancel | WorkFlowPhase::Pending)) => {
                    Step::Failed(Error::upgrade_failed_workflow(
                        w.clone(),
                        format!("upgrade workflow {workflow_id} ended {phase}"),
                    ))
                }
                _ => Step::Continue,
            },
            on_progress,
            |e, last| {
                if e.kind() == ErrorKind::UpgradeFailed {
                    e
                } else {
                    e.with_last_workflow(last)
                }
            },
        )
        .await
    }
}

impl<'a> IntoFuture for TaskWaiter<'a> {
    type Output = Result<UpgradeTask, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 'a>>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.wait())
    }
}

impl<'a> IntoFuture for WorkflowWaiter<'a> {
    type Output = Result<UpgradeWorkFlow, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 'a>>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.wait())
    }
}

impl Client {
    /// A waiter for the upgrade task `task_id` (e.g. the Cluster task of a workflow,
    /// [`UpgradeWorkFlow::cluster_task_id`]); `.await` it, after configuring it if needed.
    pub fn wait_for_upgrade_task(&self, cluster_id: &str, task_id: &str) -> TaskWaiter<'_> {
        Waiter::new(self, cluster_id, task_id)
    }

    /// A waiter for the upgrade workflow `workflow_id` (its `metadata.uid`) of an Autopilot
    /// cluster, followed through [`Client::show_autopilot_upgrade_work_flow`].
    ///
    /// A workflow does not run by itself: its phase follows the tasks started for its cluster
    /// (the upgrade, then the post-check that ends it). Wait for it while those run, e.g. with
    /// [`Client::upgrade_autopilot`] in another task.
    pub fn wait_for_workflow(&self, cluster_id: &str, workflow_id: &str) -> WorkflowWaiter<'_> {
        Waiter::new(self, cluster_id, workflow_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pacing_saturates_instead_of_overflowing() {
        let pacing = Pacing {
            timeout: Duration::MAX,
            initial: Duration::MAX,
            max: Duration::MAX,
        };
        assert_eq!(pacing.deadline(SystemTime::now()), None);
        assert_eq!(pacing.next(Duration::MAX), Duration::MAX);
        let pacing = Pacing::default();
        assert_eq!(pacing.next(Duration::from_secs(2)), Duration::from_secs(3));
        assert_eq!(
            pacing.next(Duration::from_secs(25)),
            Duration::from_secs(30)
        );
        let now = SystemTime::now();
        assert_eq!(pacing.deadline(now), Some(now + DEFAULT_WAIT_TIMEOUT));
    }
}
