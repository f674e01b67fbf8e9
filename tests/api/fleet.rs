//! Fleet upgrades against two emulators (two regions) over real sockets, on the emulators'
//! clocks: the clients sleep on them, so soak and polls cost no real time.

use std::collections::BTreeMap;
use std::time::Duration;

use cce_upgrade::emulator::{Emulator, EmulatorConfig, NewCluster, Scenario};
use cce_upgrade::fleet::{
    ClusterOutcome, Fleet, FleetOutcome, FleetReport, FleetSpec, Selector, Stage, StageState,
};
use cce_upgrade::parse_go_time;
use cce_upgrade::types::ClusterPhase;
use cce_upgrade::upgrade::UpgradeEvent;

const A: &str = "cn-north-4";
const B: &str = "ap-southeast-1";
const FROM: &str = "v1.28.15-r0";
const TARGET: &str = "v1.29.15-r0";
const SOAK: Duration = Duration::from_secs(30 * 60);

struct World {
    a: Emulator,
    b: Emulator,
}

/// Region A: three dev clusters, one prod, one test; region B: a prod CCE cluster and a prod
/// Autopilot one (selected by id). The emulators' own demo clusters are tagged `env=demo`.
async fn world() -> World {
    let a = Emulator::start_with(EmulatorConfig::fast()).await.unwrap();
    let b = Emulator::start_with(EmulatorConfig::fast()).await.unwrap();
    for (id, env) in [
        ("dev-1", "dev"),
        ("dev-2", "dev"),
        ("dev-3", "dev"),
        ("prod-a1", "prod"),
        ("test-1", "test"),
    ] {
        a.add_cluster_with(
            NewCluster::cce(id, FROM)
                .name(format!("{id}-name"))
                .tag("env", env)
                .tag("team", "x"),
        );
    }
    b.add_cluster_with(
        NewCluster::cce("prod-b1", FROM)
            .name("prod-b1-name")
            .tag("env", "prod"),
    );
    b.add_cluster_with(
        NewCluster::autopilot("prod-b2", FROM)
            .name("prod-b2-name")
            .tag("env", "prod"),
    );
    World { a, b }
}

fn spec() -> FleetSpec {
    let mut dev = Stage::new(
        "dev",
        vec![
            Selector::tags(A, [("env", "dev")]),
            Selector::name(A, "dev-1-name"),
        ],
    )
    .max_concurrent(2)
    .soak(SOAK);
    dev.clusters.push(Selector::id(A, "dev-2"));
    let prod = Stage::new(
        "prod",
        vec![
            Selector::tags(A, [("env", "prod")]),
            Selector::tags(B, [("env", "prod")]),
            Selector::id(B, "prod-b2").autopilot(true),
            // Selected again by the dev stage's tag: upgraded there only.
            Selector::id(A, "dev-3"),
        ],
    )
    .approval(true);
    FleetSpec::new("v1.29", vec![dev, prod])
}

fn fleet(w: &World, spec: FleetSpec) -> Fleet {
    Fleet::new(spec)
        .region(A, w.a.client_builder().build().unwrap())
        .region(B, w.b.client_builder().build().unwrap())
}

fn ids(report: &FleetReport, stage: usize) -> Vec<&str> {
    let mut ids: Vec<&str> = report.stages[stage]
        .clusters
        .iter()
        .map(|c| c.id.as_str())
        .collect();
    ids.sort();
    ids
}

fn outcome_of<'r>(report: &'r FleetReport, id: &str) -> &'r cce_upgrade::fleet::ClusterReport {
    report
        .stages
        .iter()
        .flat_map(|s| &s.clusters)
        .find(|c| c.id == id)
        .unwrap()
}

fn writes(e: &Emulator) -> Vec<String> {
    e.requests()
        .iter()
        .filter(|r| r.method != "GET")
        .map(|r| format!("{} {}", r.method, r.uri))
        .collect()
}

const DEV: [&str; 3] = ["dev-1", "dev-2", "dev-3"];

/// (created, completed) of each upgrade task of the clusters, on the emulator's clock.
fn task_times(
    e: &Emulator,
    clusters: &[&str],
) -> Vec<(std::time::SystemTime, std::time::SystemTime)> {
    let mut times = Vec::new();
    for c in clusters {
        for task in e.upgrade_tasks(c) {
            let created =
                parse_go_time(task["metadata"]["creationTimestamp"].as_str().unwrap()).unwrap();
            let ended = parse_go_time(task["status"]["completionTime"].as_str().unwrap()).unwrap();
            times.push((created.to_system_time(), ended.to_system_time()));
        }
    }
    times
}

#[tokio::test]
async fn plan_writes_nothing_and_selects_exactly_the_tagged_clusters_once() {
    let w = world().await;
    let report = fleet(&w, spec()).plan().await.unwrap();
    assert_eq!(report.outcome, FleetOutcome::Planned, "{report:#?}");
    assert_eq!(ids(&report, 0), DEV);
    assert_eq!(ids(&report, 1), ["prod-a1", "prod-b1", "prod-b2"]);
    for c in report.stages.iter().flat_map(|s| &s.clusters) {
        assert_eq!(c.outcome, ClusterOutcome::Planned, "{c:?}");
        assert_eq!(c.target.as_deref(), Some(TARGET));
        assert_eq!(c.version_before.as_deref(), Some(FROM));
        assert_eq!(c.phase.as_deref(), Some("Available"));
    }
    assert!(outcome_of(&report, "prod-b2").autopilot);
    assert_eq!(
        outcome_of(&report, "dev-1").name.as_deref(),
        Some("dev-1-name")
    );
    assert_eq!(writes(&w.a), Vec::<String>::new());
    assert_eq!(writes(&w.b), Vec::<String>::new());
    // The JSON document keeps the names.
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["outcome"], "planned");
    assert_eq!(json["stages"][0]["clusters"][0]["versionBefore"], FROM);
    assert_eq!(json["stages"][1]["state"], "planned");
}

#[tokio::test]
async fn run_stops_at_the_gate_then_finishes_with_the_approval_holding_concurrency_and_soak() {
    let w = world().await;
    let report = fleet(&w, spec()).run().await.unwrap();
    assert_eq!(
        report.outcome,
        FleetOutcome::AwaitingApproval,
        "{report:#?}"
    );
    assert_eq!(report.stages[0].state, StageState::Done);
    assert_eq!(report.stages[1].state, StageState::AwaitingApproval);
    for id in DEV {
        assert_eq!(outcome_of(&report, id).outcome, ClusterOutcome::Upgraded);
        assert_eq!(w.a.cluster_version(id).as_deref(), Some(TARGET));
    }
    for (e, id) in [(&w.a, "prod-a1"), (&w.b, "prod-b1"), (&w.b, "prod-b2")] {
        assert_eq!(e.upgrades_started(id), 0, "{id}");
        assert_eq!(outcome_of(&report, id).outcome, ClusterOutcome::NotStarted);
    }

    // Status reads only and says the same.
    let before = (w.a.requests().len(), w.b.requests().len());
    let status = fleet(&w, spec()).status().await.unwrap();
    assert_eq!(
        status.outcome,
        FleetOutcome::AwaitingApproval,
        "{status:#?}"
    );
    assert_eq!(status.stages[0].state, StageState::Done);
    let new_writes = |e: &Emulator, from: usize| {
        e.requests()[from..]
            .iter()
            .filter(|r| r.method != "GET")
            .count()
    };
    assert_eq!(
        (new_writes(&w.a, before.0), new_writes(&w.b, before.1)),
        (0, 0)
    );

    let report = fleet(&w, spec()).approve("prod").run().await.unwrap();
    assert_eq!(report.outcome, FleetOutcome::Done, "{report:#?}");
    for id in DEV.iter().chain(&["prod-a1"]) {
        assert_eq!(w.a.upgrades_started(id), 1, "{id}");
    }
    assert_eq!(w.a.upgrades_started("test-1"), 0);
    assert_eq!(w.a.upgrades_started(w.a.cluster_id()), 0);
    for id in ["prod-b1", "prod-b2"] {
        assert_eq!(w.b.upgrades_started(id), 1, "{id}");
        assert_eq!(w.b.cluster_version(id).as_deref(), Some(TARGET));
    }

    // Concurrency: never more than two dev upgrades at once at the service, and it used two.
    let dev = task_times(&w.a, &DEV);
    let most = dev
        .iter()
        .map(|(start, _)| dev.iter().filter(|(s, e)| s <= start && start < e).count())
        .max()
        .unwrap();
    assert_eq!(most, 2, "{dev:?}");
    // Soak: prod started in region A no sooner than 30 minutes after dev's last completion.
    let dev_end = dev.iter().map(|(_, e)| *e).max().unwrap();
    let prod_start = task_times(&w.a, &["prod-a1"])[0].0;
    assert!(
        prod_start >= dev_end + SOAK,
        "{prod_start:?} < {dev_end:?} + soak"
    );
}

#[tokio::test]
async fn a_failing_dev_cluster_stops_the_fleet_before_prod() {
    let w = world().await;
    w.a.set_scenario("dev-2", Scenario::UpgradeFailsAt { progress: 40 });
    let report = fleet(&w, spec()).approve("prod").run().await.unwrap();
    assert_eq!(report.outcome, FleetOutcome::Failed, "{report:#?}");
    assert_eq!(report.stages[0].state, StageState::Failed);
    let failed = outcome_of(&report, "dev-2");
    assert_eq!(failed.outcome, ClusterOutcome::Failed);
    assert!(
        failed.error.as_deref().unwrap_or("").contains("fail"),
        "{failed:?}"
    );
    assert_eq!(report.stages[1].state, StageState::NotStarted);
    assert_eq!(w.a.upgrades_started("prod-a1"), 0);
    assert_eq!(writes(&w.b), Vec::<String>::new());
}

#[tokio::test]
async fn a_hibernating_prod_cluster_blocks_the_fleet_before_anything_starts() {
    let w = world().await;
    w.b.set_cluster_phase("prod-b1", ClusterPhase::Hibernation);
    let report = fleet(&w, spec()).approve("prod").run().await.unwrap();
    assert_eq!(report.outcome, FleetOutcome::Blocked, "{report:#?}");
    let blocked = outcome_of(&report, "prod-b1");
    assert_eq!(blocked.outcome, ClusterOutcome::Blocked);
    assert!(
        blocked
            .error
            .as_deref()
            .unwrap_or("")
            .contains("Hibernation"),
        "{blocked:?}"
    );
    assert_eq!(report.stages[1].state, StageState::Blocked);
    assert_eq!(writes(&w.a), Vec::<String>::new());
    assert_eq!(writes(&w.b), Vec::<String>::new());
}

#[tokio::test]
async fn killed_mid_fleet_and_run_again_it_finishes_with_one_upgrade_per_cluster() {
    let w = world().await;
    {
        let fleet = fleet(&w, spec()).approve("prod");
        let run = fleet.run();
        let mid_dev = async {
            while w.a.upgrades_started("dev-1") + w.a.upgrades_started("dev-2") == 0 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        };
        tokio::select! {
            result = run => panic!("the run ended before it was killed: {result:?}"),
            () = mid_dev => {}
        }
    }
    // Another "machine" picks the run up: it follows the running upgrade, starts none twice.
    let report = fleet(&w, spec()).approve("prod").run().await.unwrap();
    assert_eq!(report.outcome, FleetOutcome::Done, "{report:#?}");
    let mut started = BTreeMap::new();
    for id in ["dev-1", "dev-2", "dev-3", "prod-a1"] {
        started.insert(id, w.a.upgrades_started(id));
    }
    for id in ["prod-b1", "prod-b2"] {
        started.insert(id, w.b.upgrades_started(id));
    }
    assert!(started.values().all(|&n| n == 1), "{started:?}");
    // And a third run finds it all done, writing nothing.
    let before = (writes(&w.a).len(), writes(&w.b).len());
    let report = fleet(&w, spec()).approve("prod").run().await.unwrap();
    assert_eq!(report.outcome, FleetOutcome::Done);
    assert_eq!((writes(&w.a).len(), writes(&w.b).len()), before);
}

#[tokio::test]
async fn a_gated_stage_follows_upgrades_already_running_but_starts_none_without_approval() {
    let w = world().await;
    // An earlier run, approved, started prod-a1's upgrade and was killed while it ran.
    let mut earlier =
        w.a.client_builder()
            .build()
            .unwrap()
            .upgrade("prod-a1")
            .to("v1.29");
    let mut events = earlier.events();
    let earlier = tokio::spawn(earlier.run());
    while let Some(e) = events.recv().await {
        if matches!(e.event, UpgradeEvent::Progress(_)) {
            break;
        }
    }
    earlier.abort();
    let _ = earlier.await;
    assert_eq!(w.a.upgrades_started("prod-a1"), 1);
    assert_ne!(w.a.cluster_version("prod-a1").as_deref(), Some(TARGET));

    let report = fleet(&w, spec()).run().await.unwrap();
    assert_eq!(
        report.outcome,
        FleetOutcome::AwaitingApproval,
        "{report:#?}"
    );
    assert_eq!(report.stages[1].state, StageState::AwaitingApproval);
    assert_eq!(
        outcome_of(&report, "prod-a1").outcome,
        ClusterOutcome::Upgraded
    );
    assert_eq!(
        w.a.upgrades_started("prod-a1"),
        1,
        "followed, not started again"
    );
    assert_eq!(w.a.cluster_version("prod-a1").as_deref(), Some(TARGET));
    for id in ["prod-b1", "prod-b2"] {
        assert_eq!(w.b.upgrades_started(id), 0, "{id}: no approval, no start");
        assert_eq!(outcome_of(&report, id).outcome, ClusterOutcome::NotStarted);
    }
}

#[tokio::test]
async fn an_unreachable_region_fails_its_clusters_fast_and_counts_as_a_failure() {
    let w = world().await;
    let dead = cce_upgrade::Client::builder()
        .endpoint("http://127.0.0.1:9")
        .allow_plain_http(true)
        .credentials(cce_upgrade::Credentials::new("AK", "SK"))
        .project_id("0b7e0d7c5f8a4a2d9e3c1b2a4d5e6f70")
        .clock(w.b.clock())
        .build()
        .unwrap();
    let fleet = Fleet::new(spec())
        .region(A, w.a.client_builder().build().unwrap())
        .region(B, dead)
        .approve("prod");
    let report = fleet.run().await.unwrap();
    assert_eq!(report.outcome, FleetOutcome::Failed, "{report:#?}");
    let unreachable: Vec<_> = report.stages[1]
        .clusters
        .iter()
        .filter(|c| c.region == B)
        .collect();
    assert!(!unreachable.is_empty());
    for c in unreachable {
        assert_eq!(c.outcome, ClusterOutcome::Failed);
        assert!(c.error.as_deref().unwrap_or("").contains(B), "{c:?}");
    }
    // maxFailures 0: nothing started anywhere.
    assert_eq!(writes(&w.a), Vec::<String>::new());
}

#[tokio::test]
async fn configuration_errors_name_the_fix() {
    let w = world().await;
    let e = Fleet::new(spec())
        .region(A, w.a.client_builder().build().unwrap())
        .plan()
        .await
        .unwrap_err();
    assert!(e.to_string().contains(B), "{e}");
    let e = fleet(&w, spec()).approve("prdo").run().await.unwrap_err();
    assert!(
        e.to_string().contains("prdo") && e.to_string().contains("prod"),
        "{e}"
    );
}
