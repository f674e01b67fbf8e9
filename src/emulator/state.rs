//! The emulated CCE: clusters, node pools, upgrade workflows and their tasks.
//!
//! Nothing runs in the background. Every state is derived from the time elapsed since a
//! workflow's creation, counted in units of the configured *pace* `p`:
//!
//! | task | `Init` | `Queuing` | `Running` | then |
//! |---|---|---|---|---|
//! | PreCheck | — | — | `[0, 1)` | `Success` |
//! | Snapshot | `[0, 1)` | — | `[1, 2)` | `Success` |
//! | Cluster | `[0, 3)` | `[3, 4)` | `[4, 14)`, progress `0.00` → `100.00` | `Success` (or `Failed` at `[9, ..)` and `50.00` with `fail_cluster_task`) |
//! | PostCheck | until a post-check is posted | — | — | `Success` from the post-check on |
//!
//! The workflow's phase is `Init` in the creation response (nothing has run yet at that
//! instant), `Running` while tasks run, `Success` once the Cluster task succeeded and `Pending`
//! once it failed. When the Cluster task succeeds, the cluster's version becomes the target:
//! [`State::settle`] applies that before any read, so the effect is as if it happened on time.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Value, json};

use super::clock::{Clock, Micros};
use super::ids::IdGen;

/// How long a pre-check result stays valid (the PreCheck point's `expireTimeStamp`).
const PRECHECK_VALIDITY: Micros = 24 * 3_600 * 1_000_000;

/// Schedule, in units of the pace.
const SNAPSHOT_AT: i64 = 1;
const CLUSTER_TASK_QUEUED_AT: i64 = 3;
const CLUSTER_TASK_RUNNING_AT: i64 = 4;
const CLUSTER_TASK_DONE_AT: i64 = 14;
const CLUSTER_TASK_FAILS_AT: i64 = 9;

/// The kinds of task in a workflow, in their order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TaskType {
    PreCheck,
    Snapshot,
    Cluster,
    PostCheck,
}

impl TaskType {
    const ALL: [TaskType; 4] = [
        TaskType::PreCheck,
        TaskType::Snapshot,
        TaskType::Cluster,
        TaskType::PostCheck,
    ];

    fn as_str(self) -> &'static str {
        match self {
            TaskType::PreCheck => "PreCheck",
            TaskType::Snapshot => "Snapshot",
            TaskType::Cluster => "Cluster",
            TaskType::PostCheck => "PostCheck",
        }
    }
}

/// The status of one task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TaskStatus {
    Init,
    Queuing,
    Running,
    Success,
    Failed,
}

impl TaskStatus {
    fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Init => "Init",
            TaskStatus::Queuing => "Queuing",
            TaskStatus::Running => "Running",
            TaskStatus::Success => "Success",
            TaskStatus::Failed => "Failed",
        }
    }
}

/// One task of a workflow as seen at some instant.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Point {
    status: TaskStatus,
    start: Option<Micros>,
    end: Option<Micros>,
    /// 0 to 100.
    progress: f64,
    /// When the status last changed.
    changed: Micros,
}

/// A cluster the emulator knows.
#[derive(Debug, Clone)]
pub(crate) struct Cluster {
    pub(crate) version: String,
    pub(crate) autopilot: bool,
    pub(crate) nodepools: BTreeSet<String>,
}

/// An upgrade workflow.
#[derive(Debug, Clone)]
struct Workflow {
    uid: String,
    name: String,
    cluster_id: String,
    from_version: String,
    target_version: String,
    created: Micros,
    /// Task ids of PreCheck, Snapshot, Cluster and PostCheck.
    task_ids: [String; 4],
    postcheck_at: Option<Micros>,
    fails: bool,
    applied: bool,
}

/// Why a workflow could not be created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CreateError {
    /// Another workflow of the cluster has not finished.
    AlreadyRunning { uid: String },
    /// The target is the current version, or older.
    NotNewer { current: String },
}

/// What a post-check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PostCheck {
    pub(crate) success: bool,
    pub(crate) cluster_version: String,
    pub(crate) target_version: String,
}

/// All clusters and workflows of one emulator.
#[derive(Debug)]
pub(crate) struct State {
    clock: Clock,
    pace: Micros,
    fail_cluster_task: bool,
    clusters: HashMap<String, Cluster>,
    /// In creation order.
    workflows: Vec<Workflow>,
}

impl State {
    /// An empty state whose schedule advances one step every `pace`.
    pub(crate) fn new(clock: Clock, pace: std::time::Duration, fail_cluster_task: bool) -> State {
        State {
            clock,
            pace: i64::try_from(pace.as_micros()).unwrap_or(i64::MAX).max(1),
            fail_cluster_task,
            clusters: HashMap::new(),
            workflows: Vec::new(),
        }
    }

    /// One pace step.
    pub(crate) fn pace(&self) -> Micros {
        self.pace
    }

    /// Adds a cluster, or replaces its version and kind (its node pools and workflows stay).
    /// Every CCE cluster has a `DefaultPool` node pool, as on the service.
    pub(crate) fn add_cluster(&mut self, id: &str, version: &str, autopilot: bool) {
        let cluster = self
            .clusters
            .entry(id.to_string())
            .or_insert_with(|| Cluster {
                version: String::new(),
                autopilot,
                nodepools: BTreeSet::new(),
            });
        cluster.version = version.to_string();
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

    /// A cluster, after applying finished upgrades up to `now`.
    pub(crate) fn cluster(&mut self, id: &str, now: Micros) -> Option<&Cluster> {
        self.settle(now);
        self.clusters.get(id)
    }

    /// Applies the effect of every Cluster task that has succeeded by `now`.
    pub(crate) fn settle(&mut self, now: Micros) {
        for i in 0..self.workflows.len() {
            let wf = &self.workflows[i];
            if wf.applied
                || self.point(wf, TaskType::Cluster, Some(now)).status != TaskStatus::Success
            {
                continue;
            }
            let (cluster_id, target) = (wf.cluster_id.clone(), wf.target_version.clone());
            self.workflows[i].applied = true;
            if let Some(cluster) = self.clusters.get_mut(&cluster_id) {
                cluster.version = target;
            }
        }
    }

    /// Creates a workflow upgrading `cluster_id` (which must exist) to `target`, created at
    /// `created` (which may lie before `now`, for fixtures); returns it as created.
    pub(crate) fn create_workflow(
        &mut self,
        cluster_id: &str,
        target: &str,
        ids: &IdGen,
        created: Micros,
        now: Micros,
    ) -> Result<Value, CreateError> {
        self.settle(now);
        if let Some(wf) = self.newest(cluster_id)
            && !self.finished(wf, now)
        {
            return Err(CreateError::AlreadyRunning {
                uid: wf.uid.clone(),
            });
        }
        let current = self
            .clusters
            .get(cluster_id)
            .map(|c| c.version.clone())
            .unwrap_or_default();
        if target == current || version_is_older(target, &current) {
            return Err(CreateError::NotNewer { current });
        }
        let uid = ids.uuid();
        let wf = Workflow {
            name: format!("upgradeworkflow-{}", &uid[..8]),
            uid,
            cluster_id: cluster_id.to_string(),
            from_version: current,
            target_version: target.to_string(),
            created,
            task_ids: [ids.uuid(), ids.uuid(), ids.uuid(), ids.uuid()],
            postcheck_at: None,
            fails: self.fail_cluster_task,
            applied: false,
        };
        let rendered = self.render(&wf, None);
        self.workflows.push(wf);
        Ok(rendered)
    }

    /// The workflows of a cluster as a list returns them, newest first.
    pub(crate) fn list(&mut self, cluster_id: &str, now: Micros) -> Vec<Value> {
        self.settle(now);
        self.workflows
            .iter()
            .rev()
            .filter(|wf| wf.cluster_id == cluster_id)
            .map(|wf| self.render(wf, Some(now)))
            .collect()
    }

    /// An UpgradeTask (any task id of any workflow of the cluster), or `None`.
    pub(crate) fn task(&mut self, cluster_id: &str, task_id: &str, now: Micros) -> Option<Value> {
        self.settle(now);
        let (wf, kind) = self.workflows.iter().rev().find_map(|wf| {
            let i = wf.task_ids.iter().position(|id| id == task_id)?;
            (wf.cluster_id == cluster_id).then_some((wf, TaskType::ALL[i]))
        })?;
        let p = self.point(wf, kind, Some(now));
        let mut status = json!({
            "phase": p.status.as_str(),
            "progress": format!("{:.2}", p.progress),
        });
        if let Some(end) = p.end {
            status["completionTime"] = json!(self.clock.timestamp(end));
        }
        let updated = if p.status == TaskStatus::Running {
            now
        } else {
            p.changed
        };
        Some(json!({
            "kind": "UpgradeTask",
            "apiVersion": "v3",
            "metadata": {
                "uid": task_id,
                "creationTimestamp": self.clock.timestamp(wf.created),
                "updateTimestamp": self.clock.timestamp(updated),
            },
            "spec": {
                "version": wf.from_version,
                "targetVersion": wf.target_version,
                "items": {},
            },
            "status": status,
        }))
    }

    /// Runs a post-check on the cluster's newest workflow: a success when its Cluster task has
    /// succeeded, which also marks the PostCheck point `Success`.
    pub(crate) fn post_check(&mut self, cluster_id: &str, now: Micros) -> PostCheck {
        self.settle(now);
        let current = self
            .clusters
            .get(cluster_id)
            .map(|c| c.version.clone())
            .unwrap_or_default();
        let Some(i) = self
            .workflows
            .iter()
            .rposition(|wf| wf.cluster_id == cluster_id)
        else {
            return PostCheck {
                success: false,
                cluster_version: current.clone(),
                target_version: current,
            };
        };
        let wf = &self.workflows[i];
        let success = self.point(wf, TaskType::Cluster, Some(now)).status == TaskStatus::Success;
        let outcome = PostCheck {
            success,
            cluster_version: wf.from_version.clone(),
            target_version: wf.target_version.clone(),
        };
        if success && wf.postcheck_at.is_none() {
            self.workflows[i].postcheck_at = Some(now);
        }
        outcome
    }

    fn newest(&self, cluster_id: &str) -> Option<&Workflow> {
        self.workflows
            .iter()
            .rev()
            .find(|wf| wf.cluster_id == cluster_id)
    }

    /// Whether a workflow has ended (its Cluster task succeeded or failed).
    fn finished(&self, wf: &Workflow, now: Micros) -> bool {
        matches!(
            self.point(wf, TaskType::Cluster, Some(now)).status,
            TaskStatus::Success | TaskStatus::Failed
        )
    }

    /// One task of a workflow at `now`; `None` means "as created", before anything ran.
    fn point(&self, wf: &Workflow, kind: TaskType, now: Option<Micros>) -> Point {
        let at = |units: i64| wf.created.saturating_add(units.saturating_mul(self.pace));
        let init = Point {
            status: TaskStatus::Init,
            start: None,
            end: None,
            progress: 0.0,
            changed: wf.created,
        };
        let Some(now) = now else { return init };
        let window = |start: Micros, end: Micros| {
            if now < start {
                init
            } else if now < end {
                Point {
                    status: TaskStatus::Running,
                    start: Some(start),
                    end: None,
                    progress: percent(now - start, end - start),
                    changed: start,
                }
            } else {
                Point {
                    status: TaskStatus::Success,
                    start: Some(start),
                    end: Some(end),
                    progress: 100.0,
                    changed: end,
                }
            }
        };
        match kind {
            TaskType::PreCheck => window(at(0), at(SNAPSHOT_AT)),
            TaskType::Snapshot => window(at(SNAPSHOT_AT), at(SNAPSHOT_AT + 1)),
            TaskType::Cluster => {
                let (queued, running) = (at(CLUSTER_TASK_QUEUED_AT), at(CLUSTER_TASK_RUNNING_AT));
                let (done, fails_at) = (at(CLUSTER_TASK_DONE_AT), at(CLUSTER_TASK_FAILS_AT));
                if now < queued {
                    init
                } else if now < running {
                    Point {
                        status: TaskStatus::Queuing,
                        changed: queued,
                        ..init
                    }
                } else if wf.fails && now >= fails_at {
                    Point {
                        status: TaskStatus::Failed,
                        start: Some(running),
                        end: Some(fails_at),
                        progress: percent(fails_at - running, done - running),
                        changed: fails_at,
                    }
                } else {
                    window(running, done)
                }
            }
            TaskType::PostCheck => match wf.postcheck_at {
                Some(t) if t <= now => Point {
                    status: TaskStatus::Success,
                    start: Some(t),
                    end: Some(t),
                    progress: 100.0,
                    changed: t,
                },
                _ => init,
            },
        }
    }

    /// A workflow as the API shows it; `now = None` renders it as created.
    fn render(&self, wf: &Workflow, now: Option<Micros>) -> Value {
        let points: Vec<(TaskType, Point)> = TaskType::ALL
            .iter()
            .map(|&kind| (kind, self.point(wf, kind, now)))
            .collect();
        let status_of = |kind: TaskType| {
            points
                .iter()
                .find(|(k, _)| *k == kind)
                .map_or(TaskStatus::Init, |(_, p)| p.status)
        };
        let phase = match status_of(TaskType::Cluster) {
            TaskStatus::Success => "Success",
            TaskStatus::Failed => "Pending",
            _ if points.iter().any(|(_, p)| p.status != TaskStatus::Init) => "Running",
            _ => "Init",
        };
        let updated = points
            .iter()
            .map(|(_, p)| p.changed)
            .fold(wf.created, Micros::max);
        let point_statuses: Vec<Value> = points
            .iter()
            .zip(&wf.task_ids)
            .map(|((kind, p), task_id)| {
                let mut v = json!({
                    "taskType": kind.as_str(),
                    "taskID": task_id,
                    "status": p.status.as_str(),
                });
                if let Some(start) = p.start {
                    v["startTimeStamp"] = json!(self.clock.timestamp(start));
                }
                if let Some(end) = p.end {
                    v["endTimeStamp"] = json!(self.clock.timestamp(end));
                }
                if *kind == TaskType::PreCheck {
                    v["expireTimeStamp"] = json!(
                        self.clock
                            .timestamp(wf.created.saturating_add(PRECHECK_VALIDITY))
                    );
                }
                v
            })
            .collect();
        json!({
            "kind": "WorkFlowTask",
            "apiVersion": "v3",
            "metadata": {
                "uid": wf.uid,
                "name": wf.name,
                "creationTimestamp": self.clock.timestamp(wf.created),
                "updateTimestamp": self.clock.timestamp(updated),
            },
            "spec": {
                "clusterID": wf.cluster_id,
                "clusterVersion": wf.from_version,
                "targetVersion": wf.target_version,
            },
            "status": {
                "phase": phase,
                "pointStatuses": point_statuses,
                "lineStatuses": [
                    {
                        "startPoint": {"taskType": "PreCheck"},
                        "endPoint": {"taskType": "Cluster"},
                        "critical": true,
                    },
                    {
                        "startPoint": {"taskType": "Cluster"},
                        "endPoint": {"taskType": "PostCheck"},
                    },
                ],
            },
        })
    }
}

fn percent(part: Micros, whole: Micros) -> f64 {
    (part as f64 / whole.max(1) as f64 * 100.0).clamp(0.0, 100.0)
}

/// The numbers of a version such as `v1.28.15-r0` → `[1, 28, 15, 0]`.
fn version_numbers(version: &str) -> Vec<u64> {
    version
        .split(|c: char| !c.is_ascii_digit())
        .filter(|part| !part.is_empty())
        .filter_map(|part| part.parse().ok())
        .collect()
}

/// Whether `target` is clearly older than `current` (compared over their common components).
fn version_is_older(target: &str, current: &str) -> bool {
    let (t, c) = (version_numbers(target), version_numbers(current));
    let n = t.len().min(c.len());
    n > 0 && t[..n] < c[..n]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const P: Micros = 1_000_000; // one-second pace

    fn state(fail: bool) -> (State, IdGen) {
        let clock = Clock::at_unix_micros(1_710_231_300 * 1_000_000);
        let mut s = State::new(clock, Duration::from_secs(1), fail);
        s.add_cluster("c1", "v1.28.15-r0", false);
        (s, IdGen::new())
    }

    fn statuses(wf: &Value) -> Vec<String> {
        wf["status"]["pointStatuses"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["status"].as_str().unwrap().to_string())
            .collect()
    }

    fn cluster_task_id(wf: &Value) -> String {
        wf["status"]["pointStatuses"][2]["taskID"]
            .as_str()
            .unwrap()
            .to_string()
    }

    #[test]
    fn the_creation_response_shows_nothing_run_yet() {
        let (mut s, ids) = state(false);
        let wf = s.create_workflow("c1", "v1.29.10-r0", &ids, 0, 0).unwrap();
        assert_eq!(wf["status"]["phase"], "Init");
        assert_eq!(statuses(&wf), ["Init"; 4]);
        assert_eq!(
            wf["metadata"]["creationTimestamp"],
            "2024-03-12 08:15:00 +0000 UTC"
        );
        assert_eq!(wf["spec"]["clusterVersion"], "v1.28.15-r0");
        assert_eq!(wf["spec"]["targetVersion"], "v1.29.10-r0");
        assert_eq!(
            wf["status"]["pointStatuses"][0]["expireTimeStamp"],
            "2024-03-13 08:15:00 +0000 UTC"
        );
        assert!(
            wf["status"]["pointStatuses"][0]
                .get("startTimeStamp")
                .is_none()
        );
        assert_eq!(wf["status"]["lineStatuses"][0]["critical"], true);
    }

    #[test]
    fn tasks_follow_the_schedule() {
        let (mut s, ids) = state(false);
        let created = s.create_workflow("c1", "v1.29.10-r0", &ids, 0, 0).unwrap();
        let task = cluster_task_id(&created);
        let cases: [(Micros, &str, [&str; 4]); 9] = [
            (0, "Running", ["Running", "Init", "Init", "Init"]),
            (P / 2, "Running", ["Running", "Init", "Init", "Init"]),
            (P, "Running", ["Success", "Running", "Init", "Init"]),
            (2 * P, "Running", ["Success", "Success", "Init", "Init"]),
            (3 * P, "Running", ["Success", "Success", "Queuing", "Init"]),
            (4 * P, "Running", ["Success", "Success", "Running", "Init"]),
            (9 * P, "Running", ["Success", "Success", "Running", "Init"]),
            (
                14 * P - 1,
                "Running",
                ["Success", "Success", "Running", "Init"],
            ),
            (14 * P, "Success", ["Success", "Success", "Success", "Init"]),
        ];
        for (now, phase, expected) in cases {
            let wf = s.list("c1", now).remove(0);
            assert_eq!(wf["status"]["phase"], phase, "at {now}");
            assert_eq!(statuses(&wf), expected, "at {now}");
        }
        let mut progress = |now| s.task("c1", &task, now).unwrap()["status"]["progress"].clone();
        assert_eq!(progress(3 * P), "0.00");
        assert_eq!(progress(4 * P), "0.00");
        assert_eq!(progress(4 * P + P / 4), "2.50");
        assert_eq!(progress(9 * P), "50.00");
        assert_eq!(progress(13 * P), "90.00");
        assert_eq!(progress(14 * P), "100.00");
    }

    #[test]
    fn a_finished_upgrade_changes_the_cluster_version_and_stamps_times() {
        let (mut s, ids) = state(false);
        let created = s.create_workflow("c1", "v1.29.10-r0", &ids, 0, 0).unwrap();
        assert_eq!(s.cluster("c1", 14 * P - 1).unwrap().version, "v1.28.15-r0");
        let task = s.task("c1", &cluster_task_id(&created), 20 * P).unwrap();
        assert_eq!(task["status"]["phase"], "Success");
        assert_eq!(
            task["status"]["completionTime"],
            "2024-03-12 08:15:14 +0000 UTC"
        );
        assert_eq!(
            task["metadata"]["updateTimestamp"],
            "2024-03-12 08:15:14 +0000 UTC"
        );
        assert_eq!(task["spec"]["version"], "v1.28.15-r0");
        assert_eq!(task["spec"]["items"], json!({}));
        assert_eq!(s.cluster("c1", 20 * P).unwrap().version, "v1.29.10-r0");
        let wf = s.list("c1", 20 * P).remove(0);
        let cluster_point = &wf["status"]["pointStatuses"][2];
        assert_eq!(
            cluster_point["startTimeStamp"],
            "2024-03-12 08:15:04 +0000 UTC"
        );
        assert_eq!(
            cluster_point["endTimeStamp"],
            "2024-03-12 08:15:14 +0000 UTC"
        );
        assert_eq!(
            wf["metadata"]["updateTimestamp"],
            "2024-03-12 08:15:14 +0000 UTC"
        );
    }

    #[test]
    fn a_failing_cluster_task_stops_at_half_way() {
        let (mut s, ids) = state(true);
        let created = s.create_workflow("c1", "v1.29.10-r0", &ids, 0, 0).unwrap();
        let task = s.task("c1", &cluster_task_id(&created), 9 * P).unwrap();
        assert_eq!(task["status"]["phase"], "Failed");
        assert_eq!(task["status"]["progress"], "50.00");
        assert!(task["status"]["completionTime"].is_string());
        let wf = s.list("c1", 30 * P).remove(0);
        assert_eq!(wf["status"]["phase"], "Pending");
        assert_eq!(s.cluster("c1", 30 * P).unwrap().version, "v1.28.15-r0");
        assert!(!s.post_check("c1", 30 * P).success);
    }

    #[test]
    fn one_workflow_at_a_time_and_only_upwards() {
        let (mut s, ids) = state(false);
        assert_eq!(
            s.create_workflow("c1", "v1.28.15-r0", &ids, 0, 0),
            Err(CreateError::NotNewer {
                current: "v1.28.15-r0".into()
            })
        );
        assert!(matches!(
            s.create_workflow("c1", "v1.27.3-r0", &ids, 0, 0),
            Err(CreateError::NotNewer { .. })
        ));
        let first = s.create_workflow("c1", "v1.29.10-r0", &ids, 0, 0).unwrap();
        assert_eq!(
            s.create_workflow("c1", "v1.30.1-r0", &ids, P, P),
            Err(CreateError::AlreadyRunning {
                uid: first["metadata"]["uid"].as_str().unwrap().into()
            })
        );
        let second = s
            .create_workflow("c1", "v1.30.1-r0", &ids, 14 * P, 14 * P)
            .unwrap();
        assert_eq!(second["spec"]["clusterVersion"], "v1.29.10-r0");
        let list = s.list("c1", 15 * P);
        assert_eq!(list.len(), 2);
        assert_eq!(list[0]["metadata"]["uid"], second["metadata"]["uid"]);
    }

    #[test]
    fn post_check_succeeds_only_after_the_cluster_task() {
        let (mut s, ids) = state(false);
        assert!(!s.post_check("c1", 0).success);
        let created = s.create_workflow("c1", "v1.29.10-r0", &ids, 0, 0).unwrap();
        assert!(!s.post_check("c1", 5 * P).success);
        assert_eq!(statuses(&s.list("c1", 5 * P)[0])[3], "Init");
        let check = s.post_check("c1", 15 * P);
        assert!(check.success);
        assert_eq!(check.cluster_version, "v1.28.15-r0");
        assert_eq!(check.target_version, "v1.29.10-r0");
        let wf = s.list("c1", 16 * P).remove(0);
        assert_eq!(statuses(&wf)[3], "Success");
        assert_eq!(
            wf["status"]["pointStatuses"][3]["endTimeStamp"],
            "2024-03-12 08:15:15 +0000 UTC"
        );
        let postcheck_task = wf["status"]["pointStatuses"][3]["taskID"].as_str().unwrap();
        assert_eq!(
            s.task("c1", postcheck_task, 16 * P).unwrap()["status"]["phase"],
            "Success"
        );
        let _ = created;
    }

    #[test]
    fn precheck_and_snapshot_tasks_can_be_shown_and_other_clusters_cannot_see_them() {
        let (mut s, ids) = state(false);
        s.add_cluster("c2", "v1.28.15-r0", false);
        let created = s.create_workflow("c1", "v1.29.10-r0", &ids, 0, 0).unwrap();
        let precheck = created["status"]["pointStatuses"][0]["taskID"]
            .as_str()
            .unwrap();
        let snapshot = created["status"]["pointStatuses"][1]["taskID"]
            .as_str()
            .unwrap();
        let t = s.task("c1", precheck, P / 2).unwrap();
        assert_eq!(t["status"]["phase"], "Running");
        assert_eq!(t["status"]["progress"], "50.00");
        assert_eq!(
            s.task("c1", snapshot, P / 2).unwrap()["status"]["phase"],
            "Init"
        );
        assert_eq!(
            s.task("c1", snapshot, 3 * P).unwrap()["status"]["phase"],
            "Success"
        );
        assert!(s.task("c2", precheck, P).is_none());
        assert!(s.task("c1", "no-such-task", P).is_none());
    }

    #[test]
    fn back_dated_workflows_are_already_progressing() {
        let (mut s, ids) = state(false);
        s.create_workflow("c1", "v1.29.10-r0", &ids, -2 * P, 0)
            .unwrap();
        assert_eq!(
            statuses(&s.list("c1", 0)[0]),
            ["Success", "Success", "Init", "Init"]
        );
    }

    #[test]
    fn versions_compare_by_their_numbers() {
        assert!(version_is_older("v1.27.3-r0", "v1.28.15-r0"));
        assert!(version_is_older("v1.28.15-r0", "v1.28.15-r1"));
        assert!(!version_is_older("v1.29", "v1.28.15-r0"));
        assert!(!version_is_older("v1.28", "v1.28.15-r0"));
        assert!(!version_is_older("latest", "v1.28.15-r0"));
    }
}
