//! The example's flow, on the SDK's upgrade driver: configure it from the command line, run it
//! (or plan it), and summarise what it did. `tests/api/example_flows.rs` runs this same code.

use std::fmt::Write as _;
use std::time::Duration;

use cce_upgrade::upgrade::{UpgradeEvent, UpgradePlan, UpgradeReport};
use cce_upgrade::{Client, Error};

/// What to upgrade, and how.
#[derive(Clone, Debug)]
pub struct Options {
    pub cluster_id: String,
    pub target_version: Option<String>,
    pub nodepool_ids: Vec<String>,
    pub autopilot: bool,
    pub snapshot: bool,
    pub skip_checks: Vec<String>,
    pub plan: bool,
    pub retry_failed: bool,
    pub poll: (Duration, Duration),
}

/// What a run ended with.
#[derive(Debug)]
pub enum Outcome {
    Upgraded(UpgradeReport),
    Planned(UpgradePlan),
}

/// Runs the upgrade (or the plan) with the driver, reporting every event to `on_event`.
pub async fn run(
    client: &Client,
    options: &Options,
    mut on_event: impl FnMut(&UpgradeEvent) + Send,
) -> Result<Outcome, Error> {
    let mut upgrade = if options.autopilot {
        client.upgrade_autopilot(&options.cluster_id)
    } else {
        client.upgrade(&options.cluster_id)
    };
    if let Some(target) = &options.target_version {
        upgrade = upgrade.to(target.clone());
    }
    for name in &options.skip_checks {
        upgrade = upgrade.skip_check(name.clone());
    }
    upgrade = upgrade
        .snapshot(options.snapshot)
        .sync_node_pools(options.nodepool_ids.iter().cloned())
        .retry_failed(if options.retry_failed { 3 } else { 0 })
        .poll_interval(options.poll.0, options.poll.1)
        .on_event(move |e| on_event(&e.event));
    if options.plan {
        // The plan with a fresh pre-check, so its findings are today's (no workflow is created).
        upgrade.plan_with_pre_check().await.map(Outcome::Planned)
    } else {
        upgrade.run().await.map(Outcome::Upgraded)
    }
}

/// A few lines for a person: versions, each step, what to do next.
pub fn summary(outcome: &Outcome) -> String {
    let mut s = String::new();
    match outcome {
        Outcome::Upgraded(report) => {
            if report.already_done {
                let _ = writeln!(
                    s,
                    "Cluster {} already runs {}: nothing to upgrade.",
                    report.cluster_id, report.target
                );
            } else {
                let _ = writeln!(
                    s,
                    "Cluster {} upgraded: {} -> {} (target {}).",
                    report.cluster_id,
                    report.version_before.as_deref().unwrap_or("?"),
                    report.version_after.as_deref().unwrap_or("?"),
                    report.target
                );
            }
            if let Some(id) = &report.workflow_id {
                let _ = writeln!(s, "  workflow {id}");
            }
            let width = report
                .steps
                .iter()
                .map(|step| step.step.to_string().len())
                .max()
                .unwrap_or(0);
            for step in &report.steps {
                let _ = writeln!(
                    s,
                    "  {:<width$} {:<8} {:>7.1}s  {}{}",
                    step.step.to_string(),
                    step.phase,
                    step.duration.as_secs_f64(),
                    step.task_id.as_deref().unwrap_or("-"),
                    if step.resumed {
                        "  (found, continued)"
                    } else {
                        ""
                    }
                );
            }
            if report.retries > 0 || report.pauses > 0 {
                let _ = writeln!(
                    s,
                    "  {} retr{} of a failed upgrade, {} pause{}",
                    report.retries,
                    if report.retries == 1 { "y" } else { "ies" },
                    report.pauses,
                    if report.pauses == 1 { "" } else { "s" }
                );
            }
        }
        Outcome::Planned(plan) => {
            let _ = writeln!(
                s,
                "Plan for cluster {}: {} -> {}{}",
                plan.cluster_id,
                plan.current_version.as_deref().unwrap_or("?"),
                plan.target,
                if plan.already_done {
                    " (already there)"
                } else {
                    ""
                }
            );
            let _ = writeln!(s, "  allowed targets: {}", plan.allowed_targets.join(", "));
            if let Some(id) = &plan.pre_check_task_id {
                let _ = writeln!(
                    s,
                    "  pre-check {id}: {}",
                    if plan.pre_check_passed {
                        "passed"
                    } else {
                        "did not pass"
                    }
                );
            }
            for finding in &plan.findings {
                let _ = writeln!(
                    s,
                    "  - {finding}{}",
                    if finding.is_skippable() {
                        format!(" (skippable: --skip-check {})", finding.name)
                    } else {
                        " (must be fixed)".to_owned()
                    }
                );
            }
            let _ = writeln!(s, "Nothing else was started.");
        }
    }
    s
}
