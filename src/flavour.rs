//! Which API a cluster is driven through: CCE or CCE Autopilot.
//!
//! Most operations come in twins, one under `/api/...` for CCE clusters and one under
//! `/autopilot/...` for Autopilot clusters, with the same parameters and answers. The spec says
//! which are twins (`x-cce-twin` on the Autopilot operation, see `openapi/README.md`), and the
//! list of the operations ([`crate::operations::ALL`]) gives each one's flavour and twin.

/// Which API a cluster is driven through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Flavour {
    /// A CCE cluster (`/api/v3/...`).
    Cce,
    /// A CCE Autopilot cluster (`/autopilot/v3/...`): no pause/continue, no node pools.
    Autopilot,
}
