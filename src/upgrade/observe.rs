//! What the driver reads, turned into the views [`decide`](super::decide::decide) works on, and
//! the target resolved from the versions the service allows. Pure functions of the answers.

use std::time::SystemTime;

use crate::timestamp::{Timestamp, parse_go_time};
use crate::types::{
    CheckStatusPhase, PreCheckTask, SnapshotTaskList, UpgradeInfo, UpgradePathList, UpgradeTask,
    UpgradeTaskPhase, UpgradeTaskType, UpgradeWorkFlow, WorkFlowPhase,
};
use crate::version::Version;

use super::decide::{PreCheckView, SnapshotView, TaskView, WorkflowView};
use super::report::{Failure, Finding};

/// The targets the upgrade info lists.
pub(crate) fn info_targets(info: &UpgradeInfo) -> Vec<String> {
    info.spec
        .as_ref()
        .and_then(|s| s.version_info.as_ref())
        .map(|v| v.target_versions.clone())
        .unwrap_or_default()
}

/// The targets the upgrade paths allow from `current`.
pub(crate) fn path_targets(paths: &UpgradePathList, current: Option<&Version>) -> Vec<String> {
    let mut out = Vec::new();
    for path in &paths.upgrade_paths {
        let from = path
            .version
            .as_deref()
            .and_then(|v| v.parse::<Version>().ok());
        if let (Some(from), Some(now)) = (&from, current)
            && (from.matches(now) || now.matches(from))
        {
            out.extend(path.target_versions.iter().cloned());
        }
    }
    out
}

/// The versions higher than `current` among `allowed`, lowest first.
pub(crate) fn candidates(allowed: &[String], current: Option<&Version>) -> Vec<Version> {
    let mut c: Vec<Version> = allowed
        .iter()
        .filter_map(|v| v.parse::<Version>().ok())
        .filter(|v| current.is_none_or(|now| v > now))
        .collect();
    c.sort();
    c.dedup();
    c
}

/// The resolved target: the version to upgrade to, or the cluster's own when it runs it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Target {
    pub(crate) version: Version,
    pub(crate) already_there: bool,
}

/// Resolves what the caller asked for (`requested`, or the open workflows' targets when
/// nothing was asked) against the cluster's version and the allowed targets.
pub(crate) fn resolve_target(
    requested: Option<&Version>,
    current: &Version,
    allowed: &[String],
    open_targets: &[Version],
) -> Result<Target, (Failure, String)> {
    let candidates = candidates(allowed, Some(current));
    let there = |v: &Version| Target {
        version: v.clone(),
        already_there: true,
    };
    let go = |v: &Version| Target {
        version: v.clone(),
        already_there: false,
    };
    let not_allowed = |req: &Version, why: String| {
        (
            Failure::TargetNotAllowed {
                requested: req.to_string(),
                allowed: candidates.iter().map(ToString::to_string).collect(),
            },
            why,
        )
    };
    let list = || {
        if candidates.is_empty() {
            "none".to_owned()
        } else {
            candidates
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    match requested {
        Some(req) if req.is_minor_only() => {
            match candidates.iter().filter(|c| req.matches(c)).max() {
                Some(found) => Ok(go(found)),
                None if req.matches(current) => Ok(there(current)),
                // The service listed nothing: let it judge the target.
                None if allowed.is_empty() && req > current => Ok(go(req)),
                None => Err(not_allowed(
                    req,
                    format!(
                        "{req} is not a version the cluster can be upgraded to from {current}; \
                         allowed: {}",
                        list()
                    ),
                )),
            }
        }
        Some(req) => {
            if req == current {
                Ok(there(current))
            } else if req < current {
                Err(not_allowed(
                    req,
                    format!(
                        "the cluster runs {current}, higher than {req}: a cluster is never \
                         downgraded; allowed: {}",
                        list()
                    ),
                ))
            } else if candidates.contains(req) || allowed.is_empty() {
                Ok(go(req))
            } else {
                Err(not_allowed(
                    req,
                    format!(
                        "{req} is not a version the cluster can be upgraded to from {current}; \
                         allowed: {}",
                        list()
                    ),
                ))
            }
        }
        None => match open_targets.iter().filter(|t| *t > current).max() {
            Some(open) => match candidates.iter().filter(|c| open.matches(c)).max() {
                Some(found) => Ok(go(found)),
                None => Ok(go(open)),
            },
            None => match candidates.last() {
                Some(latest) => Ok(go(latest)),
                None => Ok(there(current)),
            },
        },
    }
}

/// The open workflows (neither `Success` nor `Cancel`), oldest first.
pub(crate) fn open_workflows(list: &[UpgradeWorkFlow]) -> Vec<WorkflowView> {
    let mut open: Vec<&UpgradeWorkFlow> = list
        .iter()
        .filter(|w| {
            !matches!(
                w.phase(),
                Some(WorkFlowPhase::Success | WorkFlowPhase::Cancel)
            )
        })
        .filter(|w| w.uid().is_some())
        .collect();
    open.sort_by_key(|w| w.created_at());
    open.into_iter()
        .map(|w| {
            let target_text = w
                .spec
                .as_ref()
                .and_then(|s| s.target_version.clone())
                .unwrap_or_default();
            let point = |t: UpgradeTaskType| {
                w.point(&t)
                    .and_then(|p| p.status.as_ref())
                    .map(|s| s.as_str().to_owned())
            };
            WorkflowView {
                id: w.uid().unwrap_or_default().to_owned(),
                target: target_text.parse().ok(),
                target_text,
                phase: w
                    .phase()
                    .map_or_else(|| "unknown".to_owned(), ToString::to_string),
                snapshot_point: point(UpgradeTaskType::Snapshot),
                post_check_point: point(UpgradeTaskType::PostCheck),
                from: w.spec.as_ref().and_then(|s| s.cluster_version.clone()),
            }
        })
        .collect()
}

fn targets(version: Option<&str>, target: &Version) -> bool {
    version
        .and_then(|v| v.parse::<Version>().ok())
        .is_some_and(|v| target.matches(&v) || v.matches(target))
}

/// The newest pre-check to `target`, judged expired on `now`.
pub(crate) fn newest_pre_check(
    items: &[PreCheckTask],
    target: &Version,
    now: SystemTime,
) -> Option<PreCheckView> {
    let created = |t: &PreCheckTask| {
        t.metadata
            .as_ref()
            .and_then(|m| m.creation_timestamp.as_deref())
            .and_then(|c| parse_go_time(c).ok())
    };
    let newest = items
        .iter()
        .filter(|t| {
            targets(
                t.spec.as_ref().and_then(|s| s.target_version.as_deref()),
                target,
            )
        })
        .filter(|t| pre_check_id(t).is_some())
        // Among equal times the one listed last.
        .fold(None::<&PreCheckTask>, |best, t| match best {
            Some(b) if created(b) > created(t) => Some(b),
            _ => Some(t),
        })?;
    Some(PreCheckView {
        id: pre_check_id(newest)?,
        phase: newest.status.as_ref().and_then(|s| s.phase.clone()),
        expired: expired(newest, now),
        skipped: newest
            .spec
            .as_ref()
            .map(|s| {
                s.skipped_check_item_list
                    .iter()
                    .filter_map(|i| i.name.clone())
                    .collect()
            })
            .unwrap_or_default(),
        findings: findings(newest),
        raw: newest.clone(),
    })
}

pub(crate) fn pre_check_id(task: &PreCheckTask) -> Option<String> {
    task.metadata.as_ref()?.uid.clone()
}

/// Whether a pre-check's result has expired at `now`, by its `expireTimeStamp` (none: not
/// expired; the service refuses an upgrade on an expired one, and the driver then checks again).
pub(crate) fn expired(task: &PreCheckTask, now: SystemTime) -> bool {
    task.status
        .as_ref()
        .and_then(|s| s.expire_time_stamp.as_deref())
        .and_then(|t| parse_go_time(t).ok())
        .is_some_and(|t| t.to_system_time() <= now)
}

/// The items of a pre-check that did not pass, from the cluster's and the nodes' checks.
pub(crate) fn findings(task: &PreCheckTask) -> Vec<Finding> {
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

/// Progress as a finite number of percent in 0–100; anything else is unknown.
pub(crate) fn progress(task: &UpgradeTask) -> Option<f64> {
    task.progress_percent()
        .filter(|p| p.is_finite() && (0.0..=100.0).contains(p))
}

pub(crate) fn task_view(task: &UpgradeTask) -> Option<TaskView> {
    Some(TaskView {
        id: task.metadata.as_ref()?.uid.clone()?,
        phase: task.phase().cloned(),
        progress: progress(task),
        target_text: task
            .spec
            .as_ref()
            .and_then(|s| s.target_version.clone())
            .unwrap_or_default(),
        raw: task.clone(),
    })
}

/// The newest upgrade task to `target`, and an unfinished one to another version.
/// When `task` succeeded, as the service reports it.
pub(crate) fn completed_at(task: Option<&TaskView>) -> Option<Timestamp> {
    task.filter(|t| t.phase == Some(UpgradeTaskPhase::Success))
        .and_then(|t| t.raw.completed_at())
}

pub(crate) fn upgrade_tasks(
    items: &[UpgradeTask],
    target: &Version,
) -> (Option<TaskView>, Option<TaskView>) {
    let newest = items
        .iter()
        .filter(|t| {
            targets(
                t.spec.as_ref().and_then(|s| s.target_version.as_deref()),
                target,
            )
        })
        .fold(None::<&UpgradeTask>, |best, t| match best {
            Some(b) if b.created_at() > t.created_at() => Some(b),
            _ => Some(t),
        })
        .and_then(task_view);
    let other = items
        .iter()
        .filter(|t| {
            !targets(
                t.spec.as_ref().and_then(|s| s.target_version.as_deref()),
                target,
            )
        })
        .filter(|t| {
            matches!(
                t.phase(),
                Some(
                    UpgradeTaskPhase::Init
                        | UpgradeTaskPhase::Queuing
                        | UpgradeTaskPhase::Running
                        | UpgradeTaskPhase::Pause
                )
            )
        })
        .find_map(task_view);
    (newest, other)
}

/// Every snapshot task, in the order listed.
pub(crate) fn snapshots(list: &SnapshotTaskList) -> Vec<SnapshotView> {
    list.items
        .iter()
        .filter_map(|t| {
            Some(SnapshotView {
                id: t.uid()?.to_owned(),
                phase: t.phase().map(str::to_owned),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }

    fn allowed() -> Vec<String> {
        ["v1.28.16-r0", "v1.29.10-r0", "v1.29.15-r0", "v1.27.3-r0"]
            .map(String::from)
            .to_vec()
    }

    fn resolve(req: Option<&str>, current: &str) -> Result<Target, Failure> {
        resolve_target(req.map(v).as_ref(), &v(current), &allowed(), &[]).map_err(|(f, _)| f)
    }

    #[test]
    fn a_minor_version_means_its_latest_allowed_patch_also_on_its_own_line() {
        let t = resolve(Some("v1.29"), "v1.28.15-r0").unwrap();
        assert_eq!(
            (t.version.as_str(), t.already_there),
            ("v1.29.15-r0", false)
        );
        let t = resolve(Some("v1.28"), "v1.28.15-r0").unwrap();
        assert_eq!(
            (t.version.as_str(), t.already_there),
            ("v1.28.16-r0", false)
        );
        let t = resolve(Some("v1.28"), "v1.28.16-r0").unwrap();
        assert!(t.already_there);
    }

    #[test]
    fn exact_targets_lower_or_not_listed_are_not_allowed() {
        assert!(
            resolve(Some("v1.29.15-r0"), "v1.29.15-r0")
                .unwrap()
                .already_there
        );
        assert!(matches!(
            resolve(Some("v1.27.3-r0"), "v1.28.15-r0"),
            Err(Failure::TargetNotAllowed { .. })
        ));
        assert!(matches!(
            resolve(Some("v1.27"), "v1.28.15-r0"),
            Err(Failure::TargetNotAllowed { .. })
        ));
        match resolve(Some("v1.30.1-r0"), "v1.28.15-r0") {
            Err(Failure::TargetNotAllowed { allowed, .. }) => {
                assert_eq!(allowed, ["v1.28.16-r0", "v1.29.10-r0", "v1.29.15-r0"]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn no_target_means_the_open_workflows_or_the_latest() {
        let t = resolve(None, "v1.28.15-r0").unwrap();
        assert_eq!(t.version.as_str(), "v1.29.15-r0");
        let t = resolve_target(None, &v("v1.28.15-r0"), &allowed(), &[v("v1.29.10-r0")]).unwrap();
        assert_eq!(t.version.as_str(), "v1.29.10-r0");
        let t = resolve_target(None, &v("v1.29.15-r0"), &allowed(), &[]).unwrap();
        assert!(t.already_there);
    }

    #[test]
    fn progress_that_is_not_a_finite_percent_is_unknown() {
        for (text, expected) in [
            ("37.5", Some(37.5)),
            ("NaN", None),
            ("inf", None),
            ("-3", None),
            ("100.01", None),
            ("100", Some(100.0)),
        ] {
            let task: UpgradeTask = serde_json::from_value(serde_json::json!({
                "status": {"phase": "Running", "progress": text}
            }))
            .unwrap();
            assert_eq!(progress(&task), expected, "{text}");
        }
    }
}
