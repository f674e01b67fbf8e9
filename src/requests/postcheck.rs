//! Conveniences for the types of `openapi/postcheck.yaml`: the body of `CreatePostCheck` and
//! `CreateAutopilotPostCheck`. [`PostCheckClusterRequestBody::new`] (generated: `x-new` in the
//! spec) takes the spec; these build the spec.

use crate::types::{PostCheckClusterRequestBody, PostCheckSpec};

impl PostCheckSpec {
    /// The versions of the upgrade being confirmed: the cluster's version before the upgrade
    /// and its version now (the workflow's `clusterVersion` and `targetVersion`).
    pub fn new(cluster_version: impl Into<String>, target_version: impl Into<String>) -> Self {
        PostCheckSpec {
            cluster_id: None,
            cluster_version: Some(cluster_version.into()),
            target_version: Some(target_version.into()),
        }
    }

    /// The ID of the cluster checked.
    pub fn cluster_id(mut self, cluster_id: impl Into<String>) -> Self {
        self.cluster_id = Some(cluster_id.into());
        self
    }
}

impl PostCheckClusterRequestBody {
    /// A post-upgrade check of the upgrade from `cluster_version` to `target_version`, with
    /// `kind` and `apiVersion` at their fixed values; add the cluster ID with
    /// [`cluster_id`](Self::cluster_id).
    pub fn for_versions(
        cluster_version: impl Into<String>,
        target_version: impl Into<String>,
    ) -> Self {
        Self::new(PostCheckSpec::new(cluster_version, target_version))
    }

    /// The ID of the cluster checked (`spec.clusterID`).
    pub fn cluster_id(mut self, cluster_id: impl Into<String>) -> Self {
        self.spec.cluster_id = Some(cluster_id.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn for_versions_builds_the_page_example() {
        let body = PostCheckClusterRequestBody::for_versions("v1.15.11-r1", "v1.19.16-r80")
            .cluster_id("8978deaa-1743-11ee-8e46-0255ac10004c");
        // The request example of page 003.
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            json!({
                "kind": "PostCheckTask",
                "apiVersion": "v3",
                "spec": {
                    "clusterID": "8978deaa-1743-11ee-8e46-0255ac10004c",
                    "clusterVersion": "v1.15.11-r1",
                    "targetVersion": "v1.19.16-r80"
                }
            })
        );
    }

    #[test]
    fn spec_new_leaves_the_cluster_id_out() {
        let spec = PostCheckSpec::new("v1.28.15-r90", "v1.29.15-r50");
        assert_eq!(
            serde_json::to_value(&spec).unwrap(),
            json!({"clusterVersion": "v1.28.15-r90", "targetVersion": "v1.29.15-r50"})
        );
        assert_eq!(
            spec.cluster_id("c1").cluster_id.as_deref(),
            Some("c1"),
            "cluster_id sets spec.clusterID"
        );
    }
}
