//! Conveniences for the types of `openapi/versions.yaml`.

use crate::generated::types::{ClusterUpgradeFeatureGates, UpgradeInfo};
use crate::model::UpgradeFeatureGateValue;

impl UpgradeInfo {
    /// The versions the cluster can be upgraded to (`spec.versionInfo.targetVersions`), in the
    /// order sent; empty when none is sent.
    pub fn target_versions(&self) -> &[String] {
        self.spec
            .as_ref()
            .and_then(|s| s.version_info.as_ref())
            .map_or(&[], |v| v.target_versions.as_slice())
    }
}

impl ClusterUpgradeFeatureGates {
    /// The value of the feature gate `name` (e.g. `EvsSnapshot`), if the service sent it.
    pub fn gate(&self, name: &str) -> Option<&UpgradeFeatureGateValue> {
        self.upgrade_feature_gates.get(name)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn target_versions_are_read_from_the_version_info() {
        let info: UpgradeInfo = serde_json::from_value(json!({
            "spec": {"versionInfo": {
                "release": "v1.25.6", "patch": "r0", "suggestPatch": "r2",
                "targetVersions": ["v1.25.6-r2", "v1.27.3-r0"]
            }}
        }))
        .unwrap();
        assert_eq!(info.target_versions(), ["v1.25.6-r2", "v1.27.3-r0"]);
        assert!(UpgradeInfo::default().target_versions().is_empty());
    }

    #[test]
    fn feature_gates_are_looked_up_by_name() {
        let gates: ClusterUpgradeFeatureGates = serde_json::from_value(json!({
            "upgradeFeatureGates": {"EvsSnapshot": "Support", "UpgradeStrategy": "Later"}
        }))
        .unwrap();
        assert_eq!(
            gates.gate("EvsSnapshot"),
            Some(&UpgradeFeatureGateValue::Support)
        );
        assert_eq!(
            gates.gate("UpgradeStrategy"),
            Some(&UpgradeFeatureGateValue::Unknown("Later".into()))
        );
        assert_eq!(gates.gate("LabelForSkippedNode"), None);
    }
}
