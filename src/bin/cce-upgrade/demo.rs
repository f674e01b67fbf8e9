//! `--emulator`: two local emulators (two regions) with tagged clusters, and a demo fleet.

use std::time::Duration;

use cce_upgrade::Client;
use cce_upgrade::emulator::{DEMO_VERSION, Emulator, EmulatorConfig, NewCluster};
use cce_upgrade::fleet::{FleetSpec, Selector, Stage};

use crate::Exit;

/// The demo's regions, one emulator each.
pub(crate) const REGIONS: [&str; 2] = ["cn-north-4", "ap-southeast-1"];

pub(crate) struct Demo {
    emulators: Vec<Emulator>,
}

impl Demo {
    /// Starts the emulators: in cn-north-4 two dev clusters and a prod one, in
    /// ap-southeast-1 a prod CCE cluster and a prod Autopilot one (besides each emulator's own
    /// demo clusters, tagged `env=demo`). Clients sleep on the emulators' clocks, so a run
    /// takes no real waiting.
    pub(crate) async fn start() -> Result<Demo, Exit> {
        let mut emulators = Vec::new();
        for _ in REGIONS {
            let emulator = Emulator::start_with(EmulatorConfig::fast())
                .await
                .map_err(|e| Exit::usage(format!("cannot start the emulator: {e}")))?;
            emulators.push(emulator);
        }
        let cluster =
            |id: &str, env: &str| NewCluster::cce(id, DEMO_VERSION).name(id).tag("env", env);
        emulators[0].add_cluster_with(cluster("dev-1", "dev"));
        emulators[0].add_cluster_with(cluster("dev-2", "dev"));
        emulators[0].add_cluster_with(cluster("prod-1", "prod"));
        emulators[1].add_cluster_with(cluster("prod-2", "prod"));
        emulators[1].add_cluster_with(
            NewCluster::autopilot("prod-ap", DEMO_VERSION)
                .name("prod-ap")
                .tag("env", "prod"),
        );
        Ok(Demo { emulators })
    }

    /// A client of the emulator that plays `region`.
    pub(crate) fn client(&self, region: &str) -> Result<Client, Exit> {
        let Some(i) = REGIONS.iter().position(|r| *r == region) else {
            return Err(Exit::usage(format!(
                "with --emulator the regions are {REGIONS:?}, not {region:?}"
            )));
        };
        Ok(self.emulators[i].client_builder().build()?)
    }

    pub(crate) async fn shutdown(self) {
        for emulator in self.emulators {
            emulator.shutdown().await;
        }
    }
}

/// The demo fleet: dev (tag env=dev, two at once, a 10-minute soak), then prod behind an
/// approval (tag env=prod in both regions, and the Autopilot cluster by id).
pub(crate) fn fleet() -> FleetSpec {
    let dev = Stage::new("dev", vec![Selector::tags(REGIONS[0], [("env", "dev")])])
        .max_concurrent(2)
        .soak(Duration::from_secs(600));
    let prod = Stage::new(
        "prod",
        vec![
            Selector::tags(REGIONS[0], [("env", "prod")]),
            Selector::tags(REGIONS[1], [("env", "prod")]),
            Selector::id(REGIONS[1], "prod-ap").autopilot(true),
        ],
    )
    .approval(true);
    FleetSpec::new("v1.29", vec![dev, prod])
}
