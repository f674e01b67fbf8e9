//! What goes to stdout: tables a person reads, or one JSON document.

use serde_json::{Value, json};

use cce_upgrade::fleet::{FleetReport, ListedCluster, list_clusters};
use cce_upgrade::upgrade::{UpgradePlan, UpgradeReport};

use crate::{Backend, Exit, Output};

/// Prints rows under a header, columns padded to their widest cell.
fn table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out!("{}", padded.join("  ").trim_end());
    };
    line(header.iter().map(|h| h.to_string()).collect());
    for row in rows {
        line(row.clone());
    }
}

fn json_out(value: &Value) {
    out!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
    );
}

fn opt(v: &Option<String>) -> String {
    v.clone().unwrap_or_else(|| "-".into())
}

pub(crate) async fn clusters(
    backend: &Backend,
    regions: &[String],
    autopilot: bool,
    output: Output,
) -> Result<u8, Exit> {
    let mut found = Vec::new();
    for region in regions {
        let client = backend.client(region)?;
        for ListedCluster { id, name, tags, .. } in list_clusters(&client, autopilot).await? {
            let up = if autopilot {
                client.upgrade_autopilot(&id)
            } else {
                client.upgrade(&id)
            };
            let plan = up.plan().await;
            let (version, targets, phase, error) = match &plan {
                Ok(p) => (
                    p.current_version.clone(),
                    p.allowed_targets.clone(),
                    p.cluster_phase.clone(),
                    None,
                ),
                Err(e) => (None, Vec::new(), None, Some(e.to_string())),
            };
            found.push(json!({
                "region": region, "id": id, "name": name, "autopilot": autopilot,
                "version": version, "allowedTargets": targets, "phase": phase,
                "tags": tags.iter().map(|(k, v)| (k.clone(), Value::from(v.clone()))).collect::<serde_json::Map<_, _>>(),
                "error": error,
            }));
        }
    }
    match output {
        Output::Json => json_out(&json!({ "clusters": found })),
        Output::Table => {
            let s = |v: &Value| v.as_str().unwrap_or("-").to_owned();
            let rows: Vec<Vec<String>> = found
                .iter()
                .map(|c| {
                    let list = |v: &Value| {
                        v.as_array()
                            .map(|a| {
                                a.iter()
                                    .filter_map(Value::as_str)
                                    .collect::<Vec<_>>()
                                    .join(",")
                            })
                            .unwrap_or_default()
                    };
                    let tags = c["tags"]
                        .as_object()
                        .map(|m| {
                            m.iter()
                                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                                .collect::<Vec<_>>()
                                .join(",")
                        })
                        .unwrap_or_default();
                    vec![
                        s(&c["region"]),
                        s(&c["id"]),
                        s(&c["name"]),
                        s(&c["version"]),
                        list(&c["allowedTargets"]),
                        s(&c["phase"]),
                        tags,
                    ]
                })
                .collect();
            table(
                &[
                    "REGION", "ID", "NAME", "VERSION", "TARGETS", "PHASE", "TAGS",
                ],
                &rows,
            );
        }
    }
    Ok(0)
}

pub(crate) fn upgrade_plan(region: &str, plan: &UpgradePlan, output: Output) {
    let value = json!({
        "region": region, "id": plan.cluster_id, "autopilot": plan.flavour == cce_upgrade::Flavour::Autopilot,
        "phase": plan.cluster_phase, "versionBefore": plan.current_version, "target": plan.target,
        "allowedTargets": plan.allowed_targets, "alreadyAtTarget": plan.already_done,
        "blocked": plan.blocked, "next": plan.next,
        "findings": plan.findings.iter().map(|f| f.to_string()).collect::<Vec<_>>(),
    });
    match output {
        Output::Json => json_out(&value),
        Output::Table => table(
            &[
                "REGION", "ID", "PHASE", "VERSION", "TARGET", "BLOCKED", "NEXT",
            ],
            &[vec![
                region.to_owned(),
                plan.cluster_id.clone(),
                opt(&plan.cluster_phase),
                opt(&plan.current_version),
                plan.target.clone(),
                plan.blocked.to_string(),
                plan.next.clone(),
            ]],
        ),
    }
}

pub(crate) fn upgrade_report(region: &str, report: &UpgradeReport, output: Output) {
    let outcome = if report.already_done {
        "already_at_target"
    } else {
        "upgraded"
    };
    match output {
        Output::Json => json_out(&json!({
            "region": region, "id": report.cluster_id,
            "autopilot": report.flavour == cce_upgrade::Flavour::Autopilot,
            "versionBefore": report.version_before, "versionAfter": report.version_after,
            "target": report.target, "outcome": outcome, "workflowId": report.workflow_id,
            "retries": report.retries, "pauses": report.pauses,
            "steps": report.steps.iter().map(|s| json!({
                "step": s.step.to_string(), "taskId": s.task_id, "phase": s.phase,
                "resumed": s.resumed, "seconds": s.duration.as_secs_f64(),
            })).collect::<Vec<_>>(),
        })),
        Output::Table => table(
            &["REGION", "ID", "BEFORE", "AFTER", "OUTCOME"],
            &[vec![
                region.to_owned(),
                report.cluster_id.clone(),
                opt(&report.version_before),
                opt(&report.version_after),
                outcome.to_owned(),
            ]],
        ),
    }
}

pub(crate) fn upgrade_error(region: &str, id: &str, error: &str, output: Output) {
    match output {
        Output::Json => json_out(&json!({
            "region": region, "id": id, "outcome": "failed", "error": error,
        })),
        Output::Table => table(
            &["REGION", "ID", "OUTCOME", "ERROR"],
            &[vec![
                region.to_owned(),
                id.to_owned(),
                "failed".into(),
                error.to_owned(),
            ]],
        ),
    }
}

pub(crate) fn fleet(report: &FleetReport, output: Output) {
    match output {
        Output::Json => json_out(&serde_json::to_value(report).unwrap_or(Value::Null)),
        Output::Table => {
            let mut rows = Vec::new();
            for stage in &report.stages {
                for c in &stage.clusters {
                    rows.push(vec![
                        format!("{} ({})", stage.name, stage.state.as_str()),
                        c.region.clone(),
                        c.id.clone(),
                        opt(&c.name),
                        if c.autopilot { "autopilot" } else { "cce" }.into(),
                        opt(&c.version_before),
                        opt(&c.version_after),
                        opt(&c.target),
                        c.outcome.as_str().into(),
                        opt(&c.error),
                    ]);
                }
                if stage.clusters.is_empty() {
                    rows.push(vec![format!("{} ({})", stage.name, stage.state.as_str())]);
                }
                for warning in &stage.warnings {
                    eprintln!("stage {}: warning: {warning}", stage.name);
                }
            }
            table(
                &[
                    "STAGE", "REGION", "ID", "NAME", "FLAVOUR", "BEFORE", "AFTER", "TARGET",
                    "OUTCOME", "ERROR",
                ],
                &rows,
            );
            out!("outcome: {}", report.outcome.as_str());
        }
    }
}
