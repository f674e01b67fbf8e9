//! The calls the driver makes on one cluster, through the generated `<operation>_for(flavour,
//! ..)` dispatch (from the spec's `x-cce-twin`), so the driver is written once for CCE and
//! Autopilot. What has no twin (pause/continue, node pools: CCE only) says so.

use crate::Client;
use crate::error::Error;
use crate::response::Response;
use crate::types::{
    CreateUpgradeWorkFlowRequestBody, Job, PostCheckClusterRequestBody, PostCheckTask,
    PreCheckClusterRequestBody, PreCheckTask, PreCheckTaskList, SnapshotClusterResponse,
    SnapshotTaskList, UpgradeClusterRequestBody, UpgradeClusterResponse, UpgradeInfo,
    UpgradeNodePool, UpgradeNodePoolResponse, UpgradePathList, UpgradeTask, UpgradeTaskList,
    UpgradeWorkFlow, UpgradeWorkFlowList, UpgradeWorkFlowUpdateRequestBody,
};

pub use crate::flavour::Flavour;

/// A cluster and the flavour of its API.
#[derive(Clone)]
pub(crate) struct Api {
    pub(crate) client: Client,
    pub(crate) cluster: String,
    pub(crate) flavour: Flavour,
}

impl Api {
    /// The same cluster, driven as `flavour`.
    pub(crate) fn clone_as(&self, flavour: Flavour) -> Api {
        Api {
            flavour,
            ..self.clone()
        }
    }

    /// The cluster's phase (`status.phase`), as the service spelt it. (The two flavours answer
    /// different cluster types, so they are no twins.)
    pub(crate) async fn cluster_phase(&self) -> Result<Response<Option<String>>, Error> {
        let phase = |p: Option<crate::types::ClusterPhase>| p.map(|p| p.as_str().to_owned());
        match self.flavour {
            Flavour::Cce => Ok(self
                .client
                .show_cluster(&self.cluster, &Default::default())
                .await?
                .map(|c| phase(c.status.and_then(|s| s.phase)))),
            Flavour::Autopilot => Ok(self
                .client
                .show_autopilot_cluster(&self.cluster, &Default::default())
                .await?
                .map(|c| phase(c.status.and_then(|s| s.phase)))),
        }
    }

    pub(crate) async fn cancel_workflow(
        &self,
        workflow_id: &str,
    ) -> Result<Response<UpgradeWorkFlow>, Error> {
        let body = UpgradeWorkFlowUpdateRequestBody::cancel();
        self.client
            .upgrade_work_flow_update_for(self.flavour, &self.cluster, workflow_id, &body)
            .await
    }

    pub(crate) async fn upgrade_info(&self) -> Result<Response<UpgradeInfo>, Error> {
        self.client
            .show_cluster_upgrade_info_for(self.flavour, &self.cluster)
            .await
    }

    pub(crate) async fn upgrade_paths(&self) -> Result<Response<UpgradePathList>, Error> {
        self.client
            .list_cluster_upgrade_paths_for(self.flavour)
            .await
    }

    pub(crate) async fn workflows(&self) -> Result<Response<UpgradeWorkFlowList>, Error> {
        self.client
            .list_upgrade_work_flows_for(self.flavour, &self.cluster)
            .await
    }

    pub(crate) async fn create_workflow(
        &self,
        body: &CreateUpgradeWorkFlowRequestBody,
    ) -> Result<Response<UpgradeWorkFlow>, Error> {
        self.client
            .create_upgrade_work_flow_for(self.flavour, &self.cluster, body)
            .await
    }

    pub(crate) async fn pre_checks(&self) -> Result<Response<PreCheckTaskList>, Error> {
        self.client
            .list_pre_check_tasks_for(self.flavour, &self.cluster)
            .await
    }

    pub(crate) async fn create_pre_check(
        &self,
        body: &PreCheckClusterRequestBody,
    ) -> Result<Response<PreCheckTask>, Error> {
        self.client
            .create_pre_check_for(self.flavour, &self.cluster, body)
            .await
    }

    pub(crate) async fn pre_check(&self, id: &str) -> Result<Response<PreCheckTask>, Error> {
        self.client
            .show_pre_check_for(self.flavour, &self.cluster, id)
            .await
    }

    pub(crate) async fn create_snapshot(&self) -> Result<Response<SnapshotClusterResponse>, Error> {
        self.client
            .create_cluster_master_snapshot_for(self.flavour, &self.cluster)
            .await
    }

    pub(crate) async fn snapshots(&self) -> Result<Response<SnapshotTaskList>, Error> {
        self.client
            .list_cluster_master_snapshot_tasks_for(self.flavour, &self.cluster)
            .await
    }

    pub(crate) async fn upgrade(
        &self,
        body: &UpgradeClusterRequestBody,
    ) -> Result<Response<UpgradeClusterResponse>, Error> {
        self.client
            .upgrade_cluster_for(self.flavour, &self.cluster, body)
            .await
    }

    pub(crate) async fn upgrade_tasks(&self) -> Result<Response<UpgradeTaskList>, Error> {
        self.client
            .list_upgrade_cluster_tasks_for(self.flavour, &self.cluster)
            .await
    }

    pub(crate) async fn upgrade_task(&self, id: &str) -> Result<Response<UpgradeTask>, Error> {
        self.client
            .show_upgrade_cluster_task_for(self.flavour, &self.cluster, id)
            .await
    }

    pub(crate) async fn retry_upgrade(&self) -> Result<Response<()>, Error> {
        self.client
            .retry_upgrade_cluster_task_for(self.flavour, &self.cluster)
            .await
    }

    /// Continues a paused upgrade; Autopilot has no such operation.
    pub(crate) async fn continue_upgrade(&self) -> Result<Response<()>, Error> {
        match self.flavour {
            Flavour::Cce => {
                self.client
                    .continue_upgrade_cluster_task(&self.cluster)
                    .await
            }
            Flavour::Autopilot => Err(Error::invalid_input(
                "continue_paused",
                "Autopilot clusters have no continue operation",
            )),
        }
    }

    pub(crate) async fn post_check(
        &self,
        body: &PostCheckClusterRequestBody,
    ) -> Result<Response<PostCheckTask>, Error> {
        self.client
            .create_post_check_for(self.flavour, &self.cluster, body)
            .await
    }

    /// Syncs a node pool; Autopilot clusters have none.
    pub(crate) async fn sync_node_pool(
        &self,
        pool: &str,
        body: &UpgradeNodePool,
    ) -> Result<Response<UpgradeNodePoolResponse>, Error> {
        match self.flavour {
            Flavour::Cce => {
                self.client
                    .upgrade_node_pool(&self.cluster, pool, body)
                    .await
            }
            Flavour::Autopilot => Err(Error::invalid_input(
                "sync_node_pools",
                "Autopilot clusters have no node pools to sync",
            )),
        }
    }

    pub(crate) async fn job(&self, id: &str) -> Result<Response<Job>, Error> {
        self.client.show_job_for(self.flavour, id).await
    }
}
