//! Every operation of the spec, as data: [`ALL`] lists them (id, method, path, read or write,
//! flavour and twin, summary, the spec file that defines them), generated at build time from
//! `openapi/`. Tests, the emulator and these docs count and iterate from it.
//!
//! # The operations
//!
#![doc = include_str!(concat!(env!("OUT_DIR"), "/operations.md"))]

use crate::Flavour;

pub use crate::generated::ALL;

/// One operation of the spec.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Operation {
    /// The spec's `operationId`, e.g. `ShowClusterUpgradeInfo`.
    pub id: &'static str,
    /// The name of its method on [`Client`](crate::Client), e.g. `show_cluster_upgrade_info`.
    pub method_name: &'static str,
    /// Its twin of the other flavour, if it has one: for an Autopilot operation the CCE
    /// operation its spec names (`x-cce-twin`), for a CCE operation the Autopilot one naming it.
    pub twin: Option<&'static str>,
    /// The flavour of cluster it is for (by its path: `/api/...` or `/autopilot/...`); `None`
    /// for an operation of another service (IAM).
    pub flavour: Option<Flavour>,
    /// Whether it is a write (POST, PUT, PATCH, DELETE: never sent twice) or a read (retried).
    pub write: bool,
    /// The HTTP method, e.g. `GET`.
    pub method: &'static str,
    /// The path template, e.g. `/api/v3/projects/{project_id}/clusters/{cluster_id}/upgradeinfo`.
    pub path: &'static str,
    /// The spec's one-line summary.
    pub summary: &'static str,
    /// The spec file that defines it, e.g. `openapi/versions.yaml`.
    pub part: &'static str,
}

/// The operation with this `operationId`, if the spec has it.
pub fn find(id: &str) -> Option<&'static Operation> {
    ALL.iter().find(|op| op.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twins_point_at_each_other_across_flavours() {
        let mut pairs = 0;
        for op in ALL {
            let Some(twin) = op.twin else { continue };
            let other = find(twin).expect("a twin is an operation of the spec");
            assert_eq!(other.twin, Some(op.id), "{} and {twin}", op.id);
            assert_ne!(other.flavour, op.flavour, "{} and {twin}", op.id);
            assert_eq!(other.method, op.method, "{} and {twin}", op.id);
            pairs += 1;
        }
        assert!(pairs > 0 && pairs % 2 == 0);
        let ids: std::collections::BTreeSet<_> = ALL.iter().map(|op| op.id).collect();
        assert_eq!(ids.len(), ALL.len(), "operationIds are unique");
        assert_eq!(crate::generated::CALLS.len(), ALL.len());
        for (call, op) in crate::generated::CALLS.iter().zip(ALL) {
            assert_eq!(
                (call.id, call.path, call.method.as_str()),
                (op.id, op.path, op.method)
            );
        }
    }

    /// The generated `<cce>_for` picks the operation of the flavour: the CCE path for a CCE
    /// cluster, the Autopilot twin's for an Autopilot cluster, with the same arguments.
    #[cfg(feature = "emulator")]
    #[tokio::test]
    async fn a_twin_dispatch_calls_the_operation_of_the_flavour() {
        let emulator = crate::emulator::Emulator::start().await.expect("starts");
        let client = emulator.client_builder().build().expect("builds");
        let cce = emulator.cluster_id().to_owned();
        let autopilot = emulator.autopilot_cluster_id().to_owned();
        let project = emulator.project_id().to_owned();
        client
            .show_cluster_upgrade_info_for(Flavour::Cce, &cce)
            .await
            .expect("CCE");
        client
            .show_cluster_upgrade_info_for(Flavour::Autopilot, &autopilot)
            .await
            .expect("Autopilot");
        client
            .list_cluster_upgrade_paths_for(Flavour::Autopilot)
            .await
            .expect("global Autopilot");
        let uris: Vec<String> = emulator.requests().into_iter().map(|r| r.uri).collect();
        assert_eq!(
            uris,
            [
                format!("/api/v3/projects/{project}/clusters/{cce}/upgradeinfo"),
                format!("/autopilot/v3/projects/{project}/clusters/{autopilot}/upgradeinfo"),
                "/autopilot/v3/clusterupgradepaths".to_owned(),
            ]
        );
    }
}
