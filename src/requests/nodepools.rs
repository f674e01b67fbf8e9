//! Conveniences for the types of `openapi/nodepools.yaml`.
//!
//! Synchronizing a node pool (`UpgradeNodePool`) takes an [`UpgradeNodePool`] body; its
//! constructor ([`UpgradeNodePool::new`], with [`NodeTemplate::with_ssh_key`] and
//! [`NodeTemplate::with_password`]) lives with the model, the setters for the optional parts the
//! page leaves out live here:
//!
//! ```
//! use cce_upgrade::types::{NodeTemplate, UpgradeNodePool, VolumeResetPolicy};
//!
//! let body = UpgradeNodePool::new("DefaultPool", 2)
//!     .node_ids(["node-1", "node-2", "node-3"])
//!     .skip_nodes(["node-2"])
//!     .force(true)
//!     .node_template(
//!         NodeTemplate::with_ssh_key("my-key-pair")
//!             .volume_reset_policy(VolumeResetPolicy::RetainCustomVolumes)
//!             .wait_post_install_finish(true),
//!     );
//! assert_eq!(body.spec.force, Some(true));
//! ```
//!
//! The answer's `jobid` is followed with `ShowJob`, whose [`Job`] tells its [`JobPhase`]; the
//! Autopilot v2 job API answers [`V2Job`]s.

use crate::password::NodePassword;
#[allow(unused_imports)] // named by the docs above and the tests below
use crate::types::{Job, UpgradeNodePoolResponse, V2Job};
use crate::types::{
    JobPhase, NodePoolMetadata, NodePoolUpgradeSpec, NodeTemplate, NodeTemplateLifeCycle,
    NodeTemplateLogin, NodeTemplateLoginUserPassword, NodeTemplateVolumeConfig, UpgradeNodePool,
    VolumeResetPolicy,
};

impl UpgradeNodePool {
    /// Resets a node forcibly when its pods cannot be evicted (`spec.force`).
    pub fn force(mut self, force: bool) -> Self {
        self.spec.force = Some(force);
        self
    }

    /// Leaves these nodes out of the synchronization (`spec.skippedNodes`, node IDs).
    pub fn skip_nodes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, ids: I) -> Self {
        self.spec
            .skipped_nodes
            .extend(ids.into_iter().map(Into::into));
        self
    }

    /// The number of retries (`spec.retryTimes`; the official SDK has the field, no document
    /// describes it).
    pub fn retry_times(mut self, times: i32) -> Self {
        self.spec.retry_times = Some(times);
        self
    }

    /// Names the node pool in `metadata` and sets `kind` and `apiVersion` to their fixed values
    /// (`NodePool`, `v3`), as the official SDK's full request does; page 004 sends `spec` alone.
    pub fn metadata_name(mut self, name: impl Into<String>) -> Self {
        self.kind = Some(Default::default());
        self.api_version = Some(Default::default());
        self.metadata = Some(NodePoolMetadata::new(name));
        self
    }
}

impl NodePoolMetadata {
    /// Metadata naming the node pool `name` (1 to 50 characters: lowercase letters, digits and
    /// hyphens, starting with a letter, not ending with a hyphen); the other fields are the
    /// service's.
    pub fn new(name: impl Into<String>) -> Self {
        NodePoolMetadata {
            annotations: Default::default(),
            creation_timestamp: None,
            name: name.into(),
            resource_version: None,
            uid: None,
            update_timestamp: None,
        }
    }
}

impl NodeTemplate {
    /// What happens to the data disks when a node is reset (`volumeConfig.volumeResetPolicy`);
    /// the service's default is [`VolumeResetPolicy::ResetManagedVolumes`].
    pub fn volume_reset_policy(mut self, policy: VolumeResetPolicy) -> Self {
        self.volume_config = Some(NodeTemplateVolumeConfig {
            volume_reset_policy: Some(policy),
        });
        self
    }

    /// With `true`, pods are scheduled onto a node only once its post-install script has
    /// finished, not as soon as the Kubernetes node is ready (the service's default, `false`).
    pub fn wait_post_install_finish(mut self, wait: bool) -> Self {
        self.life_cycle.wait_post_install_finish = Some(wait);
        self
    }
}

impl UpgradeNodePool {
    /// A request to sync the node pool `nodepool_id`, `max_unavailable` nodes at a time (1–20).
    /// Narrow it with [`UpgradeNodePool::node_ids`] and [`UpgradeNodePool::node_template`].
    pub fn new(nodepool_id: impl Into<String>, max_unavailable: i32) -> Self {
        UpgradeNodePool {
            api_version: None,
            kind: None,
            metadata: None,
            spec: NodePoolUpgradeSpec {
                force: None,
                max_unavailable,
                node_ids: Vec::new(),
                node_pool_id: nodepool_id.into(),
                node_template: None,
                retry_times: None,
                skipped_nodes: Vec::new(),
            },
        }
    }

    /// Only these nodes of the pool.
    pub fn node_ids<I: IntoIterator<Item = S>, S: Into<String>>(mut self, ids: I) -> Self {
        self.spec.node_ids = ids.into_iter().map(Into::into).collect();
        self
    }

    /// The node template to sync with (login and lifecycle scripts).
    pub fn node_template(mut self, template: NodeTemplate) -> Self {
        self.spec.node_template = Some(template);
        self
    }
}

impl NodeTemplate {
    /// A template logging in with the key pair `ssh_key`, without lifecycle scripts.
    pub fn with_ssh_key(ssh_key: impl Into<String>) -> Self {
        NodeTemplate {
            life_cycle: NodeTemplateLifeCycle::default(),
            login: NodeTemplateLogin {
                ssh_key: Some(ssh_key.into()),
                user_password: None,
                ..NodeTemplateLogin::default()
            },
            volume_config: None,
        }
    }

    /// A template logging in as `root` with `password`, without lifecycle scripts.
    ///
    /// The API takes the password salted and encoded, never in clear: build it with
    /// [`NodePassword::salted`] from the password you will type at the node's prompt, or with
    /// [`NodePassword::presalted`] from a value that is already salted.
    pub fn with_root_password(password: NodePassword) -> Self {
        Self::with_password("root", password)
    }

    /// A template logging in as `username` (the API's default is `root`) with `password`
    /// (see [`NodeTemplate::with_root_password`] for how to make it), without lifecycle scripts.
    pub fn with_password(username: impl Into<String>, password: NodePassword) -> Self {
        NodeTemplate {
            life_cycle: NodeTemplateLifeCycle::default(),
            login: NodeTemplateLogin {
                ssh_key: None,
                user_password: Some(NodeTemplateLoginUserPassword {
                    password,
                    username: username.into(),
                }),
                ..NodeTemplateLogin::default()
            },
            volume_config: None,
        }
    }

    /// Scripts run before and after installation, already base64-encoded
    /// (`echo -n "script" | base64`); together at most 10240 characters as sent. Base64 wrapped
    /// over several lines, as `base64` prints it, is accepted: the line breaks are removed
    /// before sending (and before counting).
    pub fn scripts(mut self, pre_install: Option<String>, post_install: Option<String>) -> Self {
        self.life_cycle.pre_install = pre_install;
        self.life_cycle.post_install = post_install;
        self
    }

    /// Scripts run before and after installation, given as plain text: they are base64-encoded
    /// here. Together at most 10240 characters once encoded (about 7,680 bytes of script).
    pub fn plain_scripts(self, pre_install: Option<&str>, post_install: Option<&str>) -> Self {
        use base64::Engine as _;
        let encode = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        self.scripts(pre_install.map(encode), post_install.map(encode))
    }
}

impl JobPhase {
    /// Whether the job will not change any more (`Success` or `Failed`).
    pub fn is_terminal(&self) -> bool {
        matches!(self, JobPhase::Success | JobPhase::Failed)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn encode<T: serde::Serialize>(value: &T) -> serde_json::Value {
        serde_json::to_value(value).expect("encodes")
    }

    #[test]
    fn the_constructor_sends_the_page_body_alone() {
        assert_eq!(
            encode(&UpgradeNodePool::new("pool-1", 3)),
            json!({"spec": {"maxUnavailable": 3, "nodePoolID": "pool-1"}})
        );
    }

    #[test]
    fn setters_fill_the_family_fields() {
        let body = UpgradeNodePool::new("pool-1", 1)
            .node_ids(["a", "b", "c"])
            .skip_nodes(["b"])
            .skip_nodes(["c"])
            .force(true)
            .retry_times(2)
            .node_template(
                NodeTemplate::with_ssh_key("kp")
                    .volume_reset_policy(VolumeResetPolicy::RetainCustomVolumes)
                    .wait_post_install_finish(true),
            );
        assert_eq!(
            encode(&body),
            json!({"spec": {
                "maxUnavailable": 1,
                "nodePoolID": "pool-1",
                "nodeIDs": ["a", "b", "c"],
                "skippedNodes": ["b", "c"],
                "force": true,
                "retryTimes": 2,
                "nodeTemplate": {
                    "lifeCycle": {"waitPostInstallFinish": true},
                    "login": {"sshKey": "kp"},
                    "volumeConfig": {"volumeResetPolicy": "retain_custom_volumes"}
                }
            }})
        );
    }

    #[test]
    fn metadata_name_adds_the_fixed_kind_and_version() {
        assert_eq!(
            encode(&UpgradeNodePool::new("p", 1).metadata_name("pool-a")),
            json!({
                "kind": "NodePool",
                "apiVersion": "v3",
                "metadata": {"name": "pool-a"},
                "spec": {"maxUnavailable": 1, "nodePoolID": "p"}
            })
        );
    }

    #[test]
    fn scripts_keep_the_wait_flag() {
        let template = NodeTemplate::with_password("root", crate::NodePassword::presalted("pw"))
            .wait_post_install_finish(false)
            .scripts(Some("ZWNobyAx".into()), None);
        assert_eq!(
            encode(&template.life_cycle),
            json!({"preInstall": "ZWNobyAx", "waitPostInstallFinish": false})
        );
    }

    #[test]
    fn job_phases() {
        let job: Job = serde_json::from_value(json!({
            "kind": "Job", "apiVersion": "v3",
            "metadata": {"uid": "j1"},
            "spec": {"type": "SyncNodePool", "subJobs": [{"status": {"phase": "Running"}}]},
            "status": {"phase": "Success"}
        }))
        .expect("decodes");
        assert_eq!(job.phase(), Some(&JobPhase::Success));
        assert!(job.phase().is_some_and(JobPhase::is_terminal));
        let sub = &job.spec.as_ref().expect("spec").sub_jobs[0];
        assert!(!sub.phase().expect("phase").is_terminal());

        let v2: V2Job =
            serde_json::from_value(json!({"status": {"status": "Failed"}})).expect("decodes");
        assert_eq!(v2.phase(), Some(&JobPhase::Failed));
        let unknown: V2Job = serde_json::from_value(json!({"status": {"status": "Paused"}}))
            .expect("an unknown state decodes");
        assert!(!unknown.phase().expect("phase").is_terminal());
        assert_eq!(V2Job::default().phase(), None);
    }

    #[test]
    fn job_id_of_an_empty_answer_is_none() {
        assert_eq!(UpgradeNodePoolResponse::default().job_id(), None);
        let answer: UpgradeNodePoolResponse =
            serde_json::from_value(json!({"jobid": "j-1"})).expect("decodes");
        assert_eq!(answer.job_id(), Some("j-1"));
    }
}
