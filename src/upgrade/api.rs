//! The calls the driver makes, for a CCE or an Autopilot cluster: one place that picks the
//! operation of the cluster's flavour, so the driver itself is written once.

use crate::Client;
use crate::error::Error;
use crate::response::Response;
use crate::types::{
    CreateUpgradeWorkFlowRequestBody, Job, PostCheckClusterRequestBody, PostCheckTask,
    PreCheckClusterRequestBody, PreCheckTask, PreCheckTaskList, SnapshotClusterResponse,
    SnapshotTaskList, UpgradeClusterRequestBody, UpgradeClusterResponse, UpgradeInfo,
    UpgradeNodePool, UpgradeNodePoolResponse, UpgradePathList, UpgradeTask, UpgradeTaskList,
    UpgradeWorkFlow, UpgradeWorkFlowList,
};

pub use crate::flavour::Flavour;

/// A cluster and the operations of its flavour.
#[derive(Clone)]
pub(crate) struct Api {
    pub(crate) client: Client,
    pub(crate) cluster: String,
    pub(crate) flavour: Flavour,
}

macro_rules! pick {
    ($self:ident, $cce:ident, $autopilot:ident ( $($arg:expr),* )) => {
        match $self.flavour {
            Flavour::Cce => $self.client.$cce(&$self.cluster $(, $arg)*).await,
            Flavour::Autopilot => $self.client.$autopilot(&$self.cluster $(, $arg)*).await,
        }
    };
}

impl Api {
    /// The same cluster, driven as `flavour`.
    pub(crate) fn clone_as(&self, flavour: Flavour) -> Api {
        Api {
            flavour,
            ..self.clone()
        }
    }

    /// The cluster's phase (`status.phase`), as the service spelt it.
    pub(crate) async fn cluster_phase(&self) -> Result<Response<Option<String>>, Error> {
        match self.flavour {
            Flavour::Cce => Ok(self
                .client
                .show_cluster(&self.cluster, &Default::default())
                .await?
                .map(|c| {
                    c.status
                        .and_then(|s| s.phase)
                        .map(|p| p.as_str().to_owned())
                })),
            Flavour::Autopilot => Ok(self
                .client
                .show_autopilot_cluster(&self.cluster, &Default::default())
                .await?
                .map(|c| {
                    c.status
                        .and_then(|s| s.phase)
                        .map(|p| p.as_str().to_owned())
                })),
        }
    }

    pub(crate) async fn cancel_workflow(
        &self,
        workflow_id: &str,
    ) -> Result<Response<UpgradeWorkFlow>, Error> {
        let body = crate::types::UpgradeWorkFlowUpdateRequestBody::cancel();
        match self.flavour {
            Flavour::Cce => {
                self.client
                    .upgrade_work_flow_update(&self.cluster, workflow_id, &body)
                    .await
            }
            Flavour::Autopilot => {
                self.client
                    .upgrade_autopilot_work_flow_update(&self.cluster, workflow_id, &body)
                    .await
            }
        }
    }

    pub(crate) async fn upgrade_info(&self) -> Result<Response<UpgradeInfo>, Error> {
        pick!(
            self,
            show_cluster_upgrade_info,
            show_autopilot_cluster_upgrade_info()
        )
    }

    pub(crate) async fn upgrade_paths(&self) -> Result<Response<UpgradePathList>, Error> {
        match self.flavour {
            Flavour::Cce => self.client.list_cluster_upgrade_paths().await,
            Flavour::Autopilot => self.client.list_autopilot_cluster_upgrade_paths().await,
        }
    }

    pub(crate) async fn workflows(&self) -> Result<Response<UpgradeWorkFlowList>, Error> {
        pick!(
            self,
            list_upgrade_work_flows,
            list_autopilot_upgrade_work_flows()
        )
    }

    pub(crate) async fn create_workflow(
        &self,
        body: &CreateUpgradeWorkFlowRequestBody,
    ) -> Result<Response<UpgradeWorkFlow>, Error> {
        pick!(
            self,
            create_upgrade_work_flow,
            create_autopilot_upgrade_work_flow(body)
        )
    }

    pub(crate) async fn pre_checks(&self) -> Result<Response<PreCheckTaskList>, Error> {
        pick!(self, list_pre_check_tasks, list_autopilot_pre_check_tasks())
    }

    pub(crate) async fn create_pre_check(
        &self,
        body: &PreCheckClusterRequestBody,
    ) -> Result<Response<PreCheckTask>, Error> {
        pick!(self, create_pre_check, create_autopilot_pre_check(body))
    }

    pub(crate) async fn pre_check(&self, id: &str) -> Result<Response<PreCheckTask>, Error> {
        pick!(self, show_pre_check, show_autopilot_pre_check(id))
    }

    pub(crate) async fn create_snapshot(&self) -> Result<Response<SnapshotClusterResponse>, Error> {
        pick!(
            self,
            create_cluster_master_snapshot,
            create_autopilot_cluster_master_snapshot()
        )
    }

    pub(crate) async fn snapshots(&self) -> Result<Response<SnapshotTaskList>, Error> {
        pick!(
            self,
            list_cluster_master_snapshot_tasks,
            list_autopilot_cluster_master_snapshot_tasks()
        )
    }

    pub(crate) async fn upgrade(
        &self,
        body: &UpgradeClusterRequestBody,
    ) -> Result<Response<UpgradeClusterResponse>, Error> {
        pick!(self, upgrade_cluster, upgrade_autopilot_cluster(body))
    }

    pub(crate) async fn upgrade_tasks(&self) -> Result<Response<UpgradeTaskList>, Error> {
        pick!(
            self,
            list_upgrade_cluster_tasks,
            list_autopilot_upgrade_cluster_tasks()
        )
    }

    pub(crate) async fn upgrade_task(&self, id: &str) -> Result<Response<UpgradeTask>, Error> {
        pick!(
            self,
            show_upgrade_cluster_task,
            show_autopilot_upgrade_cluster_task(id)
        )
    }

    pub(crate) async fn retry_upgrade(&self) -> Result<Response<()>, Error> {
        pick!(
            self,
            retry_upgrade_cluster_task,
            retry_autopilot_upgrade_cluster_task()
        )
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
        pick!(self, create_post_check, create_autopilot_post_check(body))
    }

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
        match self.flavour {
            Flavour::Cce => self.client.show_job(id).await,
            Flavour::Autopilot => self.client.show_autopilot_job(id).await,
        }
    }
}
