//! Conveniences for the types of `openapi/precheck.yaml`.
//!
//! The pre-upgrade check (`CreatePreCheck`, `CreateAutopilotPreCheck`) takes a
//! [`PreCheckClusterRequestBody`]; a check item of kind `Risk` found by one run is skipped in the
//! next run by naming it, for the whole cluster or only for some nodes:
//!
//! ```
//! use cce_upgrade::types::PreCheckClusterRequestBody;
//!
//! let body = PreCheckClusterRequestBody::new("v1.29")
//!     .cluster_version("v1.27.3-r0")
//!     .skip_check_item("NodeKernelCheck")
//!     .skip_check_item_on_nodes("NodeDiskCheck", ["node-uid-1", "node-uid-2"]);
//! assert_eq!(body.spec.skipped_check_item_list.len(), 2);
//! ```
//!
//! The add-on check (`BatchCreateAddonPrecheck`) takes an [`AddonCheckRequestBody`] listing
//! [`AddonCheckInfo`]s.

use crate::types::{
    AddonCheckInfo, AddonCheckKind, AddonCheckRequestBody, AddonCheckSpec, AddonCheckType,
    ApiVersionV3, PreCheckClusterRequestBody, PreCheckResourceSelector, PreCheckSelectorKey,
    PreCheckSelectorOperator, PreCheckSpec, PreCheckTaskKind, SkippedCheckItem,
};

impl PreCheckClusterRequestBody {
    /// A pre-upgrade check towards `target_version` (e.g. `v1.29.1-r0`; a minor version such as
    /// `v1.29` means its latest patch), with `kind` and `apiVersion` at their fixed values and no
    /// check item skipped.
    pub fn new(target_version: impl Into<String>) -> Self {
        PreCheckClusterRequestBody {
            api_version: ApiVersionV3::default(),
            kind: PreCheckTaskKind::default(),
            spec: PreCheckSpec {
                target_version: Some(target_version.into()),
                ..PreCheckSpec::default()
            },
        }
    }

    /// The cluster's current patch version (e.g. `v1.27.3-r0`, as the console's overview page
    /// shows it).
    pub fn cluster_version(mut self, version: impl Into<String>) -> Self {
        self.spec.cluster_version = Some(version.into());
        self
    }

    /// Skips the check item `name` (an item of kind `Risk` the user has confirmed) on the whole
    /// cluster.
    pub fn skip_check_item(mut self, name: impl Into<String>) -> Self {
        self.spec
            .skipped_check_item_list
            .push(SkippedCheckItem::new(name));
        self
    }

    /// Skips the check item `name` only on the nodes with these UIDs.
    pub fn skip_check_item_on_nodes<I, S>(mut self, name: impl Into<String>, node_uids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.spec
            .skipped_check_item_list
            .push(SkippedCheckItem::on_nodes(name, node_uids));
        self
    }
}

impl SkippedCheckItem {
    /// The check item `name`, skipped on the whole cluster.
    pub fn new(name: impl Into<String>) -> Self {
        SkippedCheckItem {
            name: Some(name.into()),
            resource_selector: None,
        }
    }

    /// The check item `name`, skipped only on the nodes with these UIDs.
    pub fn on_nodes<I, S>(name: impl Into<String>, node_uids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        SkippedCheckItem {
            name: Some(name.into()),
            resource_selector: Some(PreCheckResourceSelector::node_uids(node_uids)),
        }
    }
}

impl PreCheckResourceSelector {
    /// Selects the nodes with these UIDs (`key: node.uid`, `operator: In`).
    pub fn node_uids<I, S>(uids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        PreCheckResourceSelector {
            key: PreCheckSelectorKey::NodeUid,
            operator: PreCheckSelectorOperator::In,
            values: uids.into_iter().map(Into::into).collect(),
        }
    }
}

impl AddonCheckRequestBody {
    /// A batch of add-on checks in the cluster `cluster_id`, one per entry of `addons`, with
    /// `kind` and `apiVersion` at their fixed values.
    pub fn new(
        cluster_id: impl Into<String>,
        addons: impl IntoIterator<Item = AddonCheckInfo>,
    ) -> Self {
        AddonCheckRequestBody {
            api_version: ApiVersionV3::default(),
            kind: AddonCheckKind::default(),
            spec: AddonCheckSpec {
                cluster_id: cluster_id.into(),
                addon_list: addons.into_iter().collect(),
            },
        }
    }
}

impl AddonCheckInfo {
    /// An inspection of the running add-on instance `instance_id` of the template
    /// `template_name` (`type: addonStatic`).
    pub fn running(template_name: impl Into<String>, instance_id: impl Into<String>) -> Self {
        AddonCheckInfo {
            addon_instance_id: instance_id.into(),
            addon_template_name: template_name.into(),
            target_version: None,
            type_: AddonCheckType::AddonStatic,
            values: Default::default(),
        }
    }

    /// A check before upgrading the add-on instance `instance_id` of the template
    /// `template_name` to `target_version` (`type: addonUpgrade`, where the target version is
    /// mandatory).
    pub fn upgrade(
        template_name: impl Into<String>,
        instance_id: impl Into<String>,
        target_version: impl Into<String>,
    ) -> Self {
        AddonCheckInfo {
            target_version: Some(target_version.into()),
            type_: AddonCheckType::AddonUpgrade,
            ..AddonCheckInfo::running(template_name, instance_id)
        }
    }

    /// The add-on template's parameters for the edit or upgrade (they differ per add-on).
    pub fn values(mut self, values: serde_json::Map<String, serde_json::Value>) -> Self {
        self.values = values;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pre_check_names_the_target_and_the_fixed_values() {
        let body = PreCheckClusterRequestBody::new("v1.29");
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            json!({
                "apiVersion": "v3",
                "kind": "PreCheckTask",
                "spec": {"targetVersion": "v1.29"}
            })
        );
    }

    #[test]
    fn pre_check_skips_items_on_the_cluster_or_on_some_nodes() {
        let body = PreCheckClusterRequestBody::new("v1.29.1-r0")
            .cluster_version("v1.27.3-r0")
            .skip_check_item("NodeKernelCheck")
            .skip_check_item_on_nodes("NodeDiskCheck", ["uid-1", "uid-2"]);
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            json!({
                "apiVersion": "v3",
                "kind": "PreCheckTask",
                "spec": {
                    "clusterVersion": "v1.27.3-r0",
                    "targetVersion": "v1.29.1-r0",
                    "skippedCheckItemList": [
                        {"name": "NodeKernelCheck"},
                        {
                            "name": "NodeDiskCheck",
                            "resourceSelector": {
                                "key": "node.uid",
                                "operator": "In",
                                "values": ["uid-1", "uid-2"]
                            }
                        }
                    ]
                }
            })
        );
    }

    #[test]
    fn addon_check_lists_a_running_and_an_upgrade_check() {
        let mut values = serde_json::Map::new();
        values.insert("flavor".into(), json!({"replicas": 2}));
        let body = AddonCheckRequestBody::new(
            "cluster-1",
            [
                AddonCheckInfo::running("coredns", "inst-1"),
                AddonCheckInfo::upgrade("everest", "inst-2", "2.4.5").values(values),
            ],
        );
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            json!({
                "kind": "AddonCheck",
                "apiVersion": "v3",
                "spec": {
                    "clusterID": "cluster-1",
                    "addonList": [
                        {
                            "addonTemplateName": "coredns",
                            "addonInstanceID": "inst-1",
                            "type": "addonStatic"
                        },
                        {
                            "addonTemplateName": "everest",
                            "addonInstanceID": "inst-2",
                            "targetVersion": "2.4.5",
                            "type": "addonUpgrade",
                            "values": {"flavor": {"replicas": 2}}
                        }
                    ]
                }
            })
        );
    }
}
