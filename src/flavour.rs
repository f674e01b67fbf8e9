//! The two flavours of cluster the API serves: CCE and CCE Autopilot.

/// Which API a cluster is driven through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Flavour {
    /// A CCE cluster (`/api/v3/...`).
    Cce,
    /// A CCE Autopilot cluster (`/autopilot/v3/...`): no pause/continue, no node pools.
    Autopilot,
}
