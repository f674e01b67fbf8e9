//! Scenarios: how the emulated service misbehaves for a cluster, on request.

/// A behaviour of the emulated service, for one cluster ([`Emulator::set_scenario`]) or for
/// every cluster ([`EmulatorConfig::scenario`]). A cluster may have several; setting one of the
/// same kind replaces it.
///
/// [`Emulator::set_scenario`]: super::Emulator::set_scenario
/// [`EmulatorConfig::scenario`]: super::EmulatorConfig::scenario
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scenario {
    /// Pre-checks find a `Risk` item called `item` (level `Warning`) and fail, unless the
    /// pre-check names the item in `skippedCheckItemList`. With `nodes`, the item is found on
    /// those node UIDs, and a skip limited by a `resourceSelector` must cover all of them.
    PreCheckRisk {
        /// The check item's name, e.g. `NodeKernelCheck`.
        item: String,
        /// The node UIDs the item is found on (empty: a cluster-level item).
        nodes: Vec<String>,
    },
    /// Pre-checks find an `Exception` item called `item` (level `Fatal`) and fail, skipped or
    /// not: it must be fixed (remove the scenario with [`Emulator::clear_scenarios`]).
    ///
    /// [`Emulator::clear_scenarios`]: super::Emulator::clear_scenarios
    PreCheckException {
        /// The check item's name.
        item: String,
    },
    /// The next upgrade task fails when its progress reaches `progress` percent (1 to 99), once:
    /// `RetryUpgradeClusterTask` resumes it from there and it completes.
    UpgradeFailsAt {
        /// Percent, 1 to 99.
        progress: u8,
    },
    /// The next upgrade task pauses when its progress reaches `progress` percent (1 to 99), once:
    /// `ContinueUpgradeClusterTask` resumes it.
    PauseAt {
        /// Percent, 1 to 99.
        progress: u8,
    },
    /// Every task of the cluster takes `reads_per_step` reads per step instead of one
    /// ([`Emulator::advance`] still moves one step per call).
    ///
    /// [`Emulator::advance`]: super::Emulator::advance
    SlowSteps {
        /// Reads per step, at least 1.
        reads_per_step: u32,
    },
    /// A lie: upgrade tasks end `Success`, but the cluster's version does not change.
    SuccessKeepsVersion,
    /// A lie: upgrade tasks report their progress as `"NaN"`.
    ProgressNotANumber,
    /// A service newer than the SDK: a running upgrade task's phase reads `Rolling`, a value no
    /// page documents.
    PhaseNotKnown,
}

impl Scenario {
    /// A pre-check Risk item at cluster level (see [`Scenario::PreCheckRisk`]).
    pub fn precheck_risk(item: impl Into<String>) -> Scenario {
        Scenario::PreCheckRisk {
            item: item.into(),
            nodes: Vec::new(),
        }
    }

    /// A pre-check Risk item found on these nodes (see [`Scenario::PreCheckRisk`]).
    pub fn precheck_risk_on_nodes<I, S>(item: impl Into<String>, nodes: I) -> Scenario
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Scenario::PreCheckRisk {
            item: item.into(),
            nodes: nodes.into_iter().map(Into::into).collect(),
        }
    }

    /// A pre-check Exception item (see [`Scenario::PreCheckException`]).
    pub fn precheck_exception(item: impl Into<String>) -> Scenario {
        Scenario::PreCheckException { item: item.into() }
    }

    /// Whether two scenarios are of the same kind (the later replaces the earlier).
    pub(crate) fn same_kind(&self, other: &Scenario) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
    }
}
