//! The `cce-upgrade` command, run as a built binary: against the embedded demo (`--emulator`),
//! and against an emulator configured the way a user configures the SDK (environment
//! variables, the IAM project lookup), over real sockets.
#![cfg(feature = "cli")]

use std::path::PathBuf;
use std::process::{Command, Output};

use cce_upgrade::emulator::{Emulator, EmulatorConfig, NewCluster};
use cce_upgrade::types::ClusterPhase;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_cce-upgrade");
const FROM: &str = "v1.28.15-r0";

/// Runs the command with no HUAWEICLOUD_* variable but `env`, off the async runtime.
async fn cce_upgrade(args: &[&str], env: &[(String, String)]) -> Output {
    let mut command = Command::new(BIN);
    command.args(args);
    for (key, _) in std::env::vars() {
        if key.starts_with("HUAWEICLOUD_") {
            command.env_remove(key);
        }
    }
    command.envs(env.iter().map(|(k, v)| (k, v)));
    tokio::task::spawn_blocking(move || command.output().expect("the binary runs"))
        .await
        .unwrap()
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON document ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

fn code(output: &Output) -> i32 {
    output.status.code().expect("exited")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newcomer_runs_the_demo_fleet_with_no_account() {
    let out = cce_upgrade(&["fleet", "run", "--emulator", "--output", "json"], &[]).await;
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["outcome"], "awaiting_approval");
    assert_eq!(report["stages"][0]["state"], "done");
    assert_eq!(report["stages"][1]["state"], "awaiting_approval");
    assert!(stderr(&out).contains("--approve prod"), "{}", stderr(&out));

    let out = cce_upgrade(
        &[
            "fleet",
            "run",
            "--emulator",
            "--approve",
            "prod",
            "--output",
            "json",
        ],
        &[],
    )
    .await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["outcome"], "done");
    let clusters: Vec<&Value> = report["stages"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["clusters"].as_array().unwrap())
        .collect();
    assert_eq!(clusters.len(), 5);
    assert!(
        clusters.iter().all(|c| c["outcome"] == "upgraded"),
        "{clusters:?}"
    );
    assert!(clusters.iter().any(|c| c["autopilot"] == true));
    // stderr is not a terminal here: progress is plain lines, per step and per 10%.
    let progress = stderr(&out);
    assert!(
        progress.contains("cn-north-4/dev-1: upgrade 40%"),
        "{progress}"
    );
    assert!(progress.contains("stage prod: started"), "{progress}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_by_default_and_the_schema_of_fleet_files() {
    let out = cce_upgrade(&["--emulator", "clusters"], &[]).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.starts_with("REGION"), "{table}");
    assert!(
        table.contains("env=dev") && table.contains("v1.29.15-r0"),
        "{table}"
    );

    let out = cce_upgrade(&["fleet", "schema"], &[]).await;
    assert_eq!(code(&out), 0);
    let schema = json(&out);
    assert_eq!(schema["title"], "FleetSpec");
    assert!(schema["properties"]["stages"].is_object(), "{schema}");
    assert_eq!(schema["additionalProperties"], false);
    // The schema shipped in the crate is the one the types give.
    let shipped: serde_json::Value =
        serde_json::from_str(cce_upgrade::fleet::FLEET_SCHEMA).expect("the shipped schema is JSON");
    assert!(
        shipped == schema,
        "src/fleet/fleet.schema.json is stale: write it again with \
         `cargo run --features cli -- fleet schema > src/fleet/fleet.schema.json`"
    );
}

fn write_fleet(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cce-upgrade-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_fleet_file_is_exit_2_naming_the_line_and_the_key() {
    let path = write_fleet(
        "bad.yaml",
        "target: v1.29\nstages:\n  - name: dev\n    maxConcurent: 2\n    clusters: []\n",
    );
    let out = cce_upgrade(&["fleet", "plan", path.to_str().unwrap()], &[]).await;
    assert_eq!(code(&out), 2);
    let e = stderr(&out);
    assert!(e.contains("maxConcurent") && e.contains("line 4"), "{e}");
    let out = cce_upgrade(&["fleet", "plan"], &[]).await;
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let out = cce_upgrade(&["fleet", "frobnicate"], &[]).await;
    assert_eq!(code(&out), 2);
}

const FLEET: &str = "\
target: v1.29
skipChecks: []
poll: {initial: 10ms, max: 50ms}
stages:
  - name: dev
    maxConcurrent: 2
    soak: 100ms
    clusters:
      - {region: cn-north-4, tags: {env: dev}}
  - name: prod
    approval: true
    clusters:
      - {region: cn-north-4, tags: {env: prod}}
";

/// One emulator, configured the way a user configures the SDK: keys in the environment, the
/// endpoint override of the region, the project id looked up in IAM.
async fn configured() -> (Emulator, Vec<(String, String)>) {
    let emulator = Emulator::start_with(EmulatorConfig::fast()).await.unwrap();
    for (id, env) in [
        ("dev-1", "dev"),
        ("dev-2", "dev"),
        ("dev-3", "dev"),
        ("prod-1", "prod"),
    ] {
        emulator.add_cluster_with(NewCluster::cce(id, FROM).name(id).tag("env", env));
    }
    let env = vec![
        ("HUAWEICLOUD_SDK_AK".into(), emulator.access_key().into()),
        ("HUAWEICLOUD_SDK_SK".into(), emulator.secret_key().into()),
        (
            "HUAWEICLOUD_SDK_REGION_CCE_CN_NORTH_4".into(),
            emulator.endpoint(),
        ),
        ("HUAWEICLOUD_SDK_IAM_ENDPOINT".into(), emulator.endpoint()),
        (
            "HUAWEICLOUD_SDK_CREDENTIALS_FILE".into(),
            "/nonexistent/cce-upgrade-cli".into(),
        ),
    ];
    (emulator, env)
}

fn upgrades(emulator: &Emulator) -> Vec<usize> {
    ["dev-1", "dev-2", "dev-3", "prod-1"]
        .iter()
        .map(|id| emulator.upgrades_started(id))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_run_gate_status_and_approval_against_a_configured_service() {
    let (emulator, env) = configured().await;
    let path = write_fleet("fleet.yaml", FLEET);
    let file = path.to_str().unwrap();

    let out = cce_upgrade(&["fleet", "plan", file, "--output", "json"], &env).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let plan = json(&out);
    assert_eq!(plan["outcome"], "planned");
    let ids = |stage: &Value| -> Vec<String> {
        stage["clusters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids(&plan["stages"][0]), ["dev-1", "dev-2", "dev-3"]);
    assert_eq!(ids(&plan["stages"][1]), ["prod-1"]);
    assert!(
        emulator
            .requests()
            .iter()
            .all(|r| r.method == "GET" && r.authenticated)
    );

    let out = cce_upgrade(&["fleet", "run", file, "--output", "json"], &env).await;
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert_eq!(upgrades(&emulator), [1, 1, 1, 0]);

    let writes = emulator
        .requests()
        .iter()
        .filter(|r| r.method != "GET")
        .count();
    let out = cce_upgrade(&["fleet", "status", file, "--output", "json"], &env).await;
    assert_eq!(json(&out)["stages"][0]["state"], "done", "{}", stderr(&out));
    assert_eq!(json(&out)["stages"][1]["state"], "awaiting_approval");
    assert_eq!(
        emulator
            .requests()
            .iter()
            .filter(|r| r.method != "GET")
            .count(),
        writes
    );

    let out = cce_upgrade(&["fleet", "run", file, "--approve", "prod"], &env).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("outcome: done"));
    assert_eq!(upgrades(&emulator), [1, 1, 1, 1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hibernating_prod_cluster_is_exit_1_before_anything_starts() {
    let (emulator, env) = configured().await;
    emulator.set_cluster_phase("prod-1", ClusterPhase::Hibernation);
    let path = write_fleet("hibernating.yaml", FLEET);
    let out = cce_upgrade(
        &[
            "fleet",
            "run",
            path.to_str().unwrap(),
            "--approve",
            "prod",
            "--output",
            "json",
        ],
        &env,
    )
    .await;
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["outcome"], "blocked");
    assert_eq!(report["stages"][1]["clusters"][0]["outcome"], "blocked");
    assert_eq!(upgrades(&emulator), [0, 0, 0, 0]);
    assert!(emulator.requests().iter().all(|r| r.method == "GET"));
}
