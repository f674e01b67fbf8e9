//! Conveniences for the types of `openapi/upgrade.yaml`: the body of `UpgradeCluster` and
//! `UpgradeAutopilotCluster`.

use std::collections::HashMap;

use crate::types::{
    ApiVersionV3, ClusterUpgradeAction, InPlaceRollingUpdate, UpgradeAddonConfig,
    UpgradeAddonOperation, UpgradeClusterRequestBody, UpgradeClusterRequestMetadata, UpgradeSpec,
    UpgradeStrategy, UpgradeStrategyType, UpgradeTaskKind,
};

impl UpgradeClusterRequestBody {
    /// A request to upgrade the cluster to `target_version` (e.g. `v1.29`, or the exact
    /// version the workflow answered), with `apiVersion` and `kind` at their fixed values and
    /// the one supported strategy, the in-place rolling update. The upgrade runs its own
    /// pre-upgrade check unless [`is_only_upgrade`](Self::is_only_upgrade) says otherwise.
    pub fn new(target_version: impl Into<String>) -> Self {
        UpgradeClusterRequestBody {
            metadata: UpgradeClusterRequestMetadata {
                api_version: ApiVersionV3::default(),
                kind: UpgradeTaskKind::default(),
            },
            spec: UpgradeSpec {
                cluster_upgrade_action: Some(ClusterUpgradeAction::new(target_version)),
            },
        }
    }

    /// `true` skips the pre-upgrade check the upgrade would run first (use it after a
    /// pre-upgrade check of your own, `CreatePreCheck`); `false`, the default, runs it.
    pub fn is_only_upgrade(mut self, skip_pre_check: bool) -> Self {
        self.action().is_only_upgrade = skip_pre_check;
        self
    }

    /// At most `max_nodes` nodes upgraded per batch (1–120): batches grow 1, 2, 4, … up to
    /// this number. The batch scope, if set, is kept.
    pub fn user_defined_step(mut self, max_nodes: i32) -> Self {
        let strategy = &mut self.action().strategy;
        let scope = strategy
            .in_place_rolling_update
            .take()
            .and_then(|rolling| rolling.scope);
        strategy.in_place_rolling_update = Some(InPlaceRollingUpdate {
            scope,
            user_defined_step: max_nodes,
        });
        self
    }

    /// The add-ons to upgrade along with the cluster, e.g.
    /// `[UpgradeAddonConfig::patch("coredns", "1.30.4")]`.
    pub fn addons(mut self, addons: impl IntoIterator<Item = UpgradeAddonConfig>) -> Self {
        self.action().addons = addons.into_iter().collect();
        self
    }

    /// `spec.clusterUpgradeAction`, which [`new`](Self::new) fills; a body built by hand
    /// without it gets one with an empty target version, which the service refuses.
    fn action(&mut self) -> &mut ClusterUpgradeAction {
        self.spec
            .cluster_upgrade_action
            .get_or_insert_with(|| ClusterUpgradeAction::new(String::new()))
    }
}

impl ClusterUpgradeAction {
    /// An upgrade to `target_version` with the in-place rolling update strategy and nothing
    /// else set.
    pub fn new(target_version: impl Into<String>) -> Self {
        ClusterUpgradeAction {
            addons: Vec::new(),
            agency_name: None,
            is_only_upgrade: false,
            node_order: HashMap::new(),
            node_pool_order: HashMap::new(),
            strategy: UpgradeStrategy {
                in_place_rolling_update: None,
                type_: UpgradeStrategyType::default(),
            },
            target_version: target_version.into(),
        }
    }
}

impl UpgradeAddonConfig {
    /// Upgrade the installed add-on `addon_template_name` to `version` (the only documented
    /// operation, `patch`); the version must match the target cluster version.
    pub fn patch(addon_template_name: impl Into<String>, version: impl Into<String>) -> Self {
        UpgradeAddonConfig {
            addon_template_name: addon_template_name.into(),
            operation: UpgradeAddonOperation::Patch,
            values: serde_json::Map::new(),
            version: version.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::types::InPlaceRollingUpdateScope;

    #[test]
    fn new_fills_the_fixed_values_and_the_one_strategy() {
        let body = UpgradeClusterRequestBody::new("v1.29");
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            json!({
                "metadata": {"apiVersion": "v3", "kind": "UpgradeTask"},
                "spec": {"clusterUpgradeAction": {
                    "isOnlyUpgrade": false,
                    "strategy": {"type": "inPlaceRollingUpdate"},
                    "targetVersion": "v1.29"
                }}
            })
        );
    }

    #[test]
    fn setters_fill_the_optional_parts() {
        let body = UpgradeClusterRequestBody::new("v1.29.15-r50")
            .is_only_upgrade(true)
            .user_defined_step(20)
            .addons([UpgradeAddonConfig::patch("coredns", "1.30.4")]);
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            json!({
                "metadata": {"apiVersion": "v3", "kind": "UpgradeTask"},
                "spec": {"clusterUpgradeAction": {
                    "addons": [{
                        "addonTemplateName": "coredns",
                        "operation": "patch",
                        "version": "1.30.4"
                    }],
                    "isOnlyUpgrade": true,
                    "strategy": {
                        "type": "inPlaceRollingUpdate",
                        "inPlaceRollingUpdate": {"userDefinedStep": 20}
                    },
                    "targetVersion": "v1.29.15-r50"
                }}
            })
        );
    }

    #[test]
    fn user_defined_step_keeps_the_scope() {
        let mut body = UpgradeClusterRequestBody::new("v1.29").user_defined_step(5);
        body.action()
            .strategy
            .in_place_rolling_update
            .as_mut()
            .unwrap()
            .scope = Some(InPlaceRollingUpdateScope::NodePool);
        let body = body.user_defined_step(10);
        assert_eq!(
            serde_json::to_value(&body).unwrap()["spec"]["clusterUpgradeAction"]["strategy"],
            json!({
                "type": "inPlaceRollingUpdate",
                "inPlaceRollingUpdate": {"userDefinedStep": 10, "scope": "NodePool"}
            })
        );
    }

    #[test]
    fn setters_on_a_body_without_an_action_add_one() {
        let mut body = UpgradeClusterRequestBody::new("v1.29");
        body.spec.cluster_upgrade_action = None;
        let body = body.is_only_upgrade(true);
        let action = &serde_json::to_value(&body).unwrap()["spec"]["clusterUpgradeAction"];
        assert_eq!(action["isOnlyUpgrade"], json!(true));
        assert_eq!(action["targetVersion"], json!(""));
    }
}
