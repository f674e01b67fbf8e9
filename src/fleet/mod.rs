//! Fleet upgrades: many clusters, across regions, in stages — the way platform teams roll a
//! version out (dev before prod, a soak time between, an approval before production).
//!
//! ```no_run
//! # async fn run(spec: cce_upgrade::fleet::FleetSpec) -> Result<(), cce_upgrade::Error> {
//! use cce_upgrade::Client;
//! use cce_upgrade::fleet::{Fleet, FleetOutcome};
//!
//! let mut fleet = Fleet::new(spec);
//! for region in fleet.spec().regions() {
//!     let client = Client::builder().region(region.clone()).build()?;
//!     fleet = fleet.region(region, client);
//! }
//! let report = fleet.approve("prod").run().await?;
//! assert_eq!(report.outcome, FleetOutcome::Done);
//! # Ok(()) }
//! ```
//!
//! # How a run goes
//! 1. **Select**: each region's clusters are listed once (CCE and Autopilot as the selectors
//!    ask); a stage's selectors pick them by id, name or tags. A cluster selected twice (by tag
//!    and by id, or by two stages) is upgraded once, in the first stage that selects it.
//! 2. **Pre-flight**: every selected cluster of every stage is read
//!    ([`Upgrade::plan`](crate::upgrade::Upgrade::plan), which writes nothing): it exists, its
//!    phase allows an upgrade, the target is allowed or already reached, no workflow to another
//!    target is open. One blocked cluster stops the run before anything starts
//!    ([`FleetOutcome::Blocked`], each blocked cluster with its reason).
//! 3. **Stages**, in order. A stage behind an approval that was not given
//!    ([`Fleet::approve`]) stops the run there ([`FleetOutcome::AwaitingApproval`]): nothing of
//!    it starts, nothing is lost (upgrades of it found running at the service, which an earlier
//!    run started with the approval, are followed to their end first). Otherwise its clusters are upgraded, each by one spawned
//!    [driver](crate::upgrade) run, at most `maxConcurrent` at once — counting the upgrades
//!    found running at the service, which are followed, never started again.
//! 4. After more than `maxFailures` failed clusters no new cluster starts; those running
//!    finish. A stage that ends with a failure beyond that stops the fleet.
//! 5. **Soak**: before the next stage, the run waits until the stage's `soak` has passed since
//!    the completion time the service reports for the stage's last upgrade.
//!
//! # No state of its own
//! The service's tasks are the state: a run started again — here or on another machine —
//! reads where every cluster stands, follows what runs, counts the soak from the service's
//! completion times, and never sends a second `UpgradeCluster` for a cluster. So a fleet can
//! be a Kubernetes Job or CronJob with no scheduler of ours.
//!
//! [`Fleet::plan`] and [`Fleet::status`] read only.

mod report;
mod run;
mod spec;

use std::collections::{BTreeMap, BTreeSet};

pub use report::{
    ClusterOutcome, ClusterReport, FleetEvent, FleetOutcome, FleetReport, StageReport, StageState,
};
pub use spec::{FleetDuration, FleetSpec, Poll, Selector, Stage};

/// The JSON Schema (draft 2020-12) of fleet files, as `cce-upgrade fleet schema` prints it.
///
/// Shipped in the crate as `src/fleet/fleet.schema.json`, so editors can validate fleet files as
/// they are written: save it beside them and start a file with
/// `# yaml-language-server: $schema=fleet.schema.json`. A test keeps it equal to the schema
/// generated from [`FleetSpec`] (feature `schemars`); after changing the fleet types, write it
/// again with `cargo run --features cli -- fleet schema > src/fleet/fleet.schema.json`.
pub const FLEET_SCHEMA: &str = include_str!("fleet.schema.json");

use crate::Client;
use crate::error::Error;
use crate::types::{ListAutopilotClustersQuery, ListClustersQuery, ResourceTag};

/// A cluster as a region's list shows it: what a [`Selector`] matches on.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ListedCluster {
    /// `metadata.uid`.
    pub id: String,
    /// `metadata.name`.
    pub name: Option<String>,
    /// `spec.clusterTags`, as key/value pairs (a tag without a value has `""`).
    pub tags: Vec<(String, String)>,
}

/// Lists the region's CCE clusters (or its Autopilot ones): id, name and tags, as a fleet
/// selects from them. An item without an id is left out.
///
/// # Errors
/// As `ListClusters` / `ListAutopilotClusters`.
pub async fn list_clusters(client: &Client, autopilot: bool) -> Result<Vec<ListedCluster>, Error> {
    fn listed(
        metadata: Option<(Option<String>, Option<String>)>,
        tags: Option<Vec<ResourceTag>>,
    ) -> Option<ListedCluster> {
        let (id, name) = metadata?;
        Some(ListedCluster {
            id: id?,
            name,
            tags: tags
                .unwrap_or_default()
                .into_iter()
                .filter_map(|t| Some((t.key?, t.value.unwrap_or_default())))
                .collect(),
        })
    }
    Ok(if autopilot {
        let list = client
            .list_autopilot_clusters(&ListAutopilotClustersQuery::default())
            .await?
            .into_inner();
        let items = list.items.into_iter();
        items
            .filter_map(|c| {
                let metadata = c.metadata.map(|m| (m.uid, m.name));
                listed(metadata, c.spec.map(|s| s.cluster_tags))
            })
            .collect()
    } else {
        let list = client
            .list_clusters(&ListClustersQuery::default())
            .await?
            .into_inner();
        let items = list.items.into_iter();
        items
            .filter_map(|c| {
                let metadata = c.metadata.map(|m| (m.uid, m.name));
                listed(metadata, c.spec.map(|s| s.cluster_tags))
            })
            .collect()
    })
}

/// How many clusters pre-flight (and status, and plan) read at once.
pub const DEFAULT_READ_CONCURRENCY: usize = 32;

/// A fleet to upgrade: its [`FleetSpec`], a client per region, the approvals given.
pub struct Fleet {
    spec: FleetSpec,
    clients: BTreeMap<String, Client>,
    approvals: BTreeSet<String>,
    events: Option<tokio::sync::mpsc::UnboundedSender<FleetEvent>>,
    read_concurrency: usize,
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet")
            .field("spec", &self.spec)
            .field("regions", &self.clients.keys().collect::<Vec<_>>())
            .field("approvals", &self.approvals)
            .finish_non_exhaustive()
    }
}

impl Fleet {
    /// A fleet of this spec; give each of its regions a client with [`Fleet::region`].
    pub fn new(spec: FleetSpec) -> Fleet {
        Fleet {
            spec,
            clients: BTreeMap::new(),
            approvals: BTreeSet::new(),
            events: None,
            read_concurrency: DEFAULT_READ_CONCURRENCY,
        }
    }

    /// The spec.
    pub fn spec(&self) -> &FleetSpec {
        &self.spec
    }

    /// The client for `region` (its endpoint, credentials and project).
    pub fn region(mut self, region: impl Into<String>, client: Client) -> Fleet {
        self.clients.insert(region.into(), client);
        self
    }

    /// Approves the stage `name`: a stage with `approval: true` runs only when approved.
    pub fn approve(mut self, name: impl Into<String>) -> Fleet {
        self.approvals.insert(name.into());
        self
    }

    /// How many clusters are read at once while selecting and pre-flighting (default
    /// [`DEFAULT_READ_CONCURRENCY`], at least 1).
    pub fn read_concurrency(mut self, n: usize) -> Fleet {
        self.read_concurrency = n.max(1);
        self
    }

    /// The events of the run as a channel; it ends when the run ends.
    pub fn events(&mut self) -> tokio::sync::mpsc::UnboundedReceiver<FleetEvent> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        self.events = Some(tx);
        rx
    }

    /// Everything pre-flight reads, per cluster — region, id, name, flavour, version, the
    /// target it would get, phase, blocked or not and why — writing nothing.
    pub async fn plan(&self) -> Result<FleetReport, Error> {
        run::plan(self).await
    }

    /// Where each stage and cluster stands, read from the service; writes nothing.
    pub async fn status(&self) -> Result<FleetReport, Error> {
        run::status(self).await
    }

    /// Runs the fleet (see [the module docs](self)). An `Err` is a configuration error found
    /// before anything is read (an invalid spec, a region without a client, an approval of a
    /// stage that does not exist); what happens to clusters is in the report.
    pub async fn run(&self) -> Result<FleetReport, Error> {
        run::run(self).await
    }

    fn check(&self) -> Result<(), Error> {
        self.spec.validate()?;
        for region in self.spec.regions() {
            if !self.clients.contains_key(&region) {
                return Err(Error::configuration(format!(
                    "the fleet names region {region:?} but has no client for it: add \
                     .region({region:?}, client)"
                )));
            }
        }
        for name in &self.approvals {
            if !self.spec.stages.iter().any(|s| &s.name == name) {
                let names: Vec<&str> = self.spec.stages.iter().map(|s| s.name.as_str()).collect();
                return Err(Error::invalid_input(
                    "approve",
                    format!("no stage is named {name:?}; the stages are {names:?}"),
                ));
            }
        }
        Ok(())
    }

    fn emit(&self, event: FleetEvent) {
        if let Some(tx) = &self.events {
            let _ = tx.send(event);
        }
    }
}
