//! Conveniences for the types of `openapi/workflows.yaml`.
//!
//! `CreateUpgradeWorkFlowRequestBody::new` (the target version, with `kind` and `apiVersion` at
//! their fixed values), the setters for its optional parts and the cancel body of
//! `UpgradeWorkFlowUpdate` / `UpgradeAutopilotWorkFlowUpdate`.

use crate::types::{
    ApiVersionV3, CreateUpgradeWorkFlowRequestBody, UpgradeWorkFlowUpdateRequestBody,
    UpgradeWorkFlowUpdateStatus, WorkFlowPhase, WorkFlowSpec, WorkFlowTaskKind,
};

impl CreateUpgradeWorkFlowRequestBody {
    /// A request to start the upgrade workflow towards `target_version` (e.g. `v1.29`), with
    /// `kind` and `apiVersion` at their fixed values.
    pub fn new(target_version: impl Into<String>) -> Self {
        CreateUpgradeWorkFlowRequestBody {
            api_version: ApiVersionV3::default(),
            kind: WorkFlowTaskKind::default(),
            spec: WorkFlowSpec {
                cluster_id: None,
                cluster_version: None,
                target_version: target_version.into(),
            },
        }
    }

    /// States the cluster's current version (`spec.clusterVersion`), the version this upgrade
    /// starts from. Optional (the reference's example leaves it out); the answer's
    /// `spec.clusterVersion` carries the version as the service normalised it.
    pub fn cluster_version(mut self, version: impl Into<String>) -> Self {
        self.spec.cluster_version = Some(version.into());
        self
    }
}

impl UpgradeWorkFlowUpdateRequestBody {
    /// The body that cancels an upgrade workflow: `{"status": {"phase": "Cancel"}}`, the only
    /// update the API supports. The service refuses it while the workflow is Running, Success or
    /// already Cancel, or while one of its tasks is running, initialising, paused or queued.
    pub fn cancel() -> Self {
        Self {
            status: Some(UpgradeWorkFlowUpdateStatus {
                phase: Some(WorkFlowPhase::Cancel),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn cancel_sends_the_cancel_phase() {
        assert_eq!(
            serde_json::to_value(UpgradeWorkFlowUpdateRequestBody::cancel()).unwrap(),
            json!({"status": {"phase": "Cancel"}})
        );
    }

    #[test]
    fn create_with_the_current_version() {
        let body = CreateUpgradeWorkFlowRequestBody::new("v1.29").cluster_version("v1.28.15-r0");
        assert_eq!(
            serde_json::to_value(body).unwrap(),
            json!({
                "kind": "WorkFlowTask",
                "apiVersion": "v3",
                "spec": {"clusterVersion": "v1.28.15-r0", "targetVersion": "v1.29"}
            })
        );
    }
}
