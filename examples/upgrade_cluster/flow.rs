//! The two upgrade flows of the `upgrade_cluster` example, apart from its command line so that
//! `cargo test` runs them end to end (tests/example_flows.rs includes this file).

use std::fmt;
use std::time::{Duration, Instant};

use cce_upgrade::types::{
    CreateUpgradeWorkFlowRequestBody, PostCheckClusterRequestBody, PostCheckSpec, UpgradeNodePool,
    UpgradeTask, UpgradeTaskType, UpgradeWorkFlow,
};
use cce_upgrade::{Client, Error};

/// What to upgrade.
#[derive(Clone, Debug)]
pub struct Options {
    pub cluster_id: String,
    pub target_version: Option<String>,
    pub nodepool_ids: Vec<String>,
    pub autopilot: bool,
    /// The first and the largest interval between two polls.
    pub poll: (Duration, Duration),
}

/// Where the flows report what they are doing (a progress bar in the example).
pub trait Progress: Send {
    /// A step starts.
    fn step(&mut self, message: &str);
    /// The upgrade task changed.
    fn task(&mut self, task: &UpgradeTask);
    /// The workflow changed.
    fn workflow(&mut self, workflow: &UpgradeWorkFlow);
}

/// What happened, for the summary.
#[derive(Debug, Default)]
pub struct Summary {
    pub cluster_id: String,
    pub autopilot: bool,
    pub from_version: Option<String>,
    pub to_version: Option<String>,
    pub workflow_id: Option<String>,
    pub workflow_phase: Option<String>,
    pub task_id: Option<String>,
    pub task_phase: Option<String>,
    pub task_duration: Option<Duration>,
    pub nodepools_synced: Vec<(String, Option<String>)>,
    pub post_check_phase: Option<String>,
    /// (operation, request id) of every call made.
    pub request_ids: Vec<(&'static str, String)>,
    pub elapsed: Duration,
}

impl Summary {
    fn note(&mut self, operation: &'static str, request_id: Option<&str>) {
        self.request_ids
            .push((operation, request_id.unwrap_or("-").to_owned()));
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let or_dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
        let kind = if self.autopilot {
            "Autopilot cluster"
        } else {
            "CCE cluster"
        };
        writeln!(f, "Summary")?;
        writeln!(f, "  {kind:<18} {}", self.cluster_id)?;
        writeln!(
            f,
            "  {:<18} {} -> {}",
            "version",
            or_dash(&self.from_version),
            or_dash(&self.to_version)
        )?;
        writeln!(
            f,
            "  {:<18} {} ({})",
            "workflow",
            or_dash(&self.workflow_id),
            or_dash(&self.workflow_phase)
        )?;
        if self.task_id.is_some() {
            let took = self
                .task_duration
                .map_or_else(|| "-".into(), |d| format!("{:.1} s", d.as_secs_f64()));
            writeln!(
                f,
                "  {:<18} {} ({}, took {took})",
                "upgrade task",
                or_dash(&self.task_id),
                or_dash(&self.task_phase)
            )?;
        }
        for (pool, job) in &self.nodepools_synced {
            writeln!(
                f,
                "  {:<18} {pool} (job {})",
                "node pool synced",
                job.as_deref().unwrap_or("-")
            )?;
        }
        if self.post_check_phase.is_some() {
            writeln!(
                f,
                "  {:<18} {}",
                "post-check",
                or_dash(&self.post_check_phase)
            )?;
        }
        writeln!(f, "  {:<18} {:.1} s", "elapsed", self.elapsed.as_secs_f64())?;
        writeln!(f, "  request ids")?;
        for (op, id) in &self.request_ids {
            writeln!(f, "    {op:<30} {id}")?;
        }
        Ok(())
    }
}

/// Runs the flow the options ask for.
pub async fn run(
    client: &Client,
    options: &Options,
    progress: &mut dyn Progress,
) -> Result<Summary, FlowError> {
    let started = Instant::now();
    let mut summary = Summary {
        cluster_id: options.cluster_id.clone(),
        autopilot: options.autopilot,
        ..Summary::default()
    };
    if options.autopilot {
        autopilot(client, options, progress, &mut summary).await?;
    } else {
        cce(client, options, progress, &mut summary).await?;
    }
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// CCE cluster: create the workflow, follow its Cluster task, sync the node pools.
async fn cce(
    client: &Client,
    options: &Options,
    progress: &mut dyn Progress,
    summary: &mut Summary,
) -> Result<(), FlowError> {
    let cluster = options.cluster_id.as_str();
    let target = options.target_version.clone().unwrap_or_default();
    progress.step(&format!(
        "creating the upgrade workflow of {cluster} to {target}"
    ));
    let created = client
        .create_upgrade_work_flow(cluster, &CreateUpgradeWorkFlowRequestBody::new(target))
        .await?;
    summary.note("CreateUpgradeWorkFlow", created.request_id());
    summary.workflow_id = created.uid().map(str::to_owned);
    if let Some(spec) = &created.spec {
        summary.from_version = spec.cluster_version.clone();
        summary.to_version = spec.target_version.clone();
    }
    // There is no documented read of a CCE cluster's workflow: report the phase it was created in.
    summary.workflow_phase = created.phase().map(|p| format!("{p} when created"));
    let Some(task_id) = created.cluster_task_id().map(str::to_owned) else {
        return Err(missing(
            "the new workflow has no Cluster task id yet; start the upgrade from the console, then rerun",
        ));
    };
    summary.task_id = Some(task_id.clone());

    progress.step(&format!("following upgrade task {task_id}"));
    let task = client
        .wait_for_upgrade_task(cluster, &task_id)
        .poll_interval(options.poll.0, options.poll.1)
        .on_progress(|t| progress.task(t))
        .await?;
    let shown = client.show_upgrade_cluster_task(cluster, &task_id).await?;
    summary.note("ShowUpgradeClusterTask", shown.request_id());
    summary.task_phase = task.phase().map(ToString::to_string);
    summary.task_duration = match (task.created_at(), task.completed_at()) {
        (Some(start), Some(end)) => end.duration_since(&start),
        _ => None,
    };
    if let Some(spec) = &task.spec {
        summary.to_version = spec.target_version.clone().or(summary.to_version.take());
    }

    for pool in &options.nodepool_ids {
        progress.step(&format!("syncing node pool {pool}"));
        let synced = client
            .upgrade_node_pool(cluster, pool, &UpgradeNodePool::new(pool.clone(), 1))
            .await?;
        summary.note("UpgradeNodePool", synced.request_id());
        summary
            .nodepools_synced
            .push((pool.clone(), synced.jobid.clone()));
    }
    Ok(())
}

/// Autopilot cluster: follow the newest workflow to its end, then run the post-check.
async fn autopilot(
    client: &Client,
    options: &Options,
    progress: &mut dyn Progress,
    summary: &mut Summary,
) -> Result<(), FlowError> {
    let cluster = options.cluster_id.as_str();
    progress.step(&format!("listing the upgrade workflows of {cluster}"));
    let list = client.list_autopilot_upgrade_work_flows(cluster).await?;
    summary.note("ListAutopilotUpgradeWorkFlows", list.request_id());
    let Some(newest) = list.newest() else {
        return Err(missing(
            "the cluster has no upgrade workflow: start one from the console, then rerun",
        ));
    };
    let Some(workflow_id) = newest.uid().map(str::to_owned) else {
        return Err(missing("the newest workflow has no metadata.uid"));
    };
    summary.workflow_id = Some(workflow_id.clone());
    summary.task_id = newest.cluster_task_id().map(str::to_owned);

    progress.step(&format!("following upgrade workflow {workflow_id}"));
    let done = client
        .wait_for_workflow(cluster, &workflow_id)
        .poll_interval(options.poll.0, options.poll.1)
        .on_progress(|w| progress.workflow(w))
        .await?;
    summary.workflow_phase = done.phase().map(ToString::to_string);
    summary.task_phase = done
        .point(&UpgradeTaskType::Cluster)
        .and_then(|p| p.status.as_ref())
        .map(ToString::to_string);
    summary.task_duration = done
        .point(&UpgradeTaskType::Cluster)
        .and_then(|p| p.ended_at()?.duration_since(&p.started_at()?));
    let spec = done.spec.clone().unwrap_or_default();
    summary.from_version = spec.cluster_version.clone();
    summary.to_version = spec.target_version.clone();

    progress.step("running the post-upgrade check");
    let check = client
        .create_autopilot_post_check(
            cluster,
            &PostCheckClusterRequestBody::new(PostCheckSpec {
                cluster_id: Some(cluster.to_owned()),
                cluster_version: spec.cluster_version,
                target_version: spec.target_version,
            }),
        )
        .await?;
    summary.note("CreateAutopilotPostCheck", check.request_id());
    summary.post_check_phase = check.phase().map(ToString::to_string);
    Ok(())
}

/// Why a flow stopped: the SDK's error, or the cluster not being in a state the flow can follow.
#[derive(Debug)]
pub enum FlowError {
    /// A call failed.
    Sdk(Error),
    /// Nothing to follow.
    Precondition(String),
}

impl From<Error> for FlowError {
    fn from(e: Error) -> Self {
        FlowError::Sdk(e)
    }
}

impl fmt::Display for FlowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlowError::Sdk(e) => fmt::Display::fmt(e, f),
            FlowError::Precondition(what) => f.write_str(what),
        }
    }
}

fn missing(what: &str) -> FlowError {
    FlowError::Precondition(what.to_owned())
}
