//! Conveniences for the types of `openapi/snapshot.yaml`.
//!
//! A master snapshot has no request body and no per-task query: the task started by
//! `CreateClusterMasterSnapshot` is found again in `ListClusterMasterSnapshotTasks` by its id.

use crate::generated::types::{SnapshotTask, SnapshotTaskList};

impl SnapshotTaskList {
    /// The backup task whose `metadata.uid` is `uid` (the `uid` the snapshot call answered).
    pub fn task(&self, uid: &str) -> Option<&SnapshotTask> {
        self.items.iter().find(|t| t.uid() == Some(uid))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::model::{SnapshotSubtaskStatus, SnapshotSubtaskType};

    #[test]
    fn a_task_is_found_by_the_uid_the_snapshot_call_answered() {
        let list: SnapshotTaskList = serde_json::from_value(json!({
            "apiVersion": "v3.1",
            "items": [
                {"metadata": {"uid": "older"}, "status": {"phase": "Success"}},
                {
                    "metadata": {"uid": "mine"},
                    "spec": {"items": [{"id": "s", "type": "master-backup", "status": "Running"}]},
                    "status": {"phase": "Running", "progress": "40.00"}
                }
            ]
        }))
        .unwrap();
        let task = list.task("mine").expect("the task is listed");
        assert_eq!(task.phase(), Some("Running"));
        let subtask = &task.spec.as_ref().unwrap().items[0];
        assert_eq!(subtask.type_, Some(SnapshotSubtaskType::MasterBackup));
        assert_eq!(subtask.status, Some(SnapshotSubtaskStatus::Running));
        assert_eq!(
            list.task("older").and_then(SnapshotTask::phase),
            Some("Success")
        );
        assert!(list.task("other").is_none());
    }
}
