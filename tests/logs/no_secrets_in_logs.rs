//! Runs both example flows, a node-pool sync with a password, token authentication and failing
//! calls with every log at the most verbose level captured, then fails if a secret key, security
//! token, IAM token or node password appears anywhere in the output or in any `Debug`.

#[path = "../../examples/upgrade_cluster/flow.rs"]
#[allow(dead_code)]
mod flow;

use std::time::Duration;

use cce_upgrade::emulator::{Emulator, EmulatorConfig, Fault};
use cce_upgrade::types::{NodeTemplate, UpgradeNodePool};
use cce_upgrade::{Credentials, RetryConfig};

/// Logs every event of the upgrades at TRACE, as an application might.
fn quiet(event: &cce_upgrade::upgrade::UpgradeEvent) {
    tracing::trace!(?event, "upgrade event");
}

const NODE_PASSWORD: &str = "NodePassw0rd!LeakCheck";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_the_logs_or_debug_output() {
    let logs = crate::logs().await;

    let emulator = Emulator::start_with(EmulatorConfig::fast()).await.unwrap();
    let mut debug = String::new();
    let options = |cluster: &str, autopilot: bool, pools: Vec<String>| flow::Options {
        cluster_id: cluster.to_owned(),
        target_version: None,
        nodepool_ids: pools,
        autopilot,
        snapshot: true,
        skip_checks: Vec::new(),
        plan: false,
        retry_failed: false,
        poll: (Duration::from_millis(1), Duration::from_millis(5)),
    };

    // Temporary credentials: SK and security token on every request.
    let temporary = Credentials::temporary(
        emulator.temporary_access_key(),
        emulator.temporary_secret_key(),
        emulator.security_token(),
    );
    let builder = emulator.client_builder().credentials(temporary);
    debug.push_str(&format!("{builder:?}\n"));
    let client = builder.build().unwrap();
    debug.push_str(&format!("{client:?}\n"));
    let cce = flow::run(
        &client,
        &options(
            emulator.cluster_id(),
            false,
            vec![emulator.nodepool_id().into()],
        ),
        quiet,
    )
    .await
    .unwrap();
    let autopilot = flow::run(
        &client,
        &options(emulator.autopilot_cluster_id(), true, vec![]),
        quiet,
    )
    .await
    .unwrap();
    debug.push_str(&format!("{cce:?}\n{autopilot:?}\n"));

    // A node password in a request body, and its Debug.
    let sync = UpgradeNodePool::new(emulator.nodepool_id(), 1).node_template(
        NodeTemplate::with_password("root", cce_upgrade::NodePassword::presalted(NODE_PASSWORD)),
    );
    debug.push_str(&format!("{sync:?}\n"));
    let answer = client
        .upgrade_node_pool(emulator.cluster_id(), emulator.nodepool_id(), &sync)
        .await
        .unwrap();
    debug.push_str(&format!("{answer:?}\n"));
    assert!(
        emulator
            .requests()
            .iter()
            .any(|r| String::from_utf8_lossy(&r.body).contains(NODE_PASSWORD)),
        "the password is sent to the server: this test must look at a run that used it"
    );

    // The IAM token.
    let token_client = emulator
        .client_builder()
        .credentials(Credentials::token(emulator.auth_token()))
        .build()
        .unwrap();
    debug.push_str(&format!("{token_client:?}\n"));
    let task = token_client
        .list_autopilot_upgrade_work_flows(emulator.autopilot_cluster_id())
        .await
        .unwrap();
    debug.push_str(&format!("{task:?}\n"));

    // Failures: a wrong secret key (the gateway echoes its canonical request, with the signed
    // security token), retries after 503s, a dropped connection.
    let wrong = emulator
        .client_builder()
        .credentials(Credentials::temporary(
            emulator.temporary_access_key(),
            "wrong-secret-key-0123456789",
            emulator.security_token(),
        ))
        .build()
        .unwrap();
    let err = wrong
        .show_upgrade_cluster_task(emulator.cluster_id(), "nope")
        .await
        .unwrap_err();
    debug.push_str(&format!("{err}\n{err:?}\n"));
    let quick = emulator
        .client_builder()
        .credentials(Credentials::temporary(
            emulator.temporary_access_key(),
            emulator.temporary_secret_key(),
            emulator.security_token(),
        ))
        .retry(
            RetryConfig::default()
                .initial_backoff(Duration::from_millis(1))
                .max_backoff(Duration::from_millis(2)),
        )
        .build()
        .unwrap();
    emulator.inject(
        Fault::Status {
            status: 503,
            retry_after: None,
        },
        2,
    );
    quick
        .list_autopilot_upgrade_work_flows(emulator.autopilot_cluster_id())
        .await
        .unwrap();
    emulator.inject(Fault::DropAfterAction, 1);
    let err = quick
        .upgrade_node_pool(emulator.cluster_id(), emulator.nodepool_id(), &sync)
        .await
        .unwrap_err();
    debug.push_str(&format!("{err}\n{err:?}\n"));

    let logs = logs.text();
    // The run was really logged at the most verbose level: operations, retries, answers.
    for expected in [
        "CreateUpgradeWorkFlow",
        "ShowUpgradeClusterTask",
        "UpgradeNodePool",
        "retrying",
        "TRACE",
        "DEBUG",
    ] {
        assert!(
            logs.contains(expected),
            "expected `{expected}` in the captured logs"
        );
    }
    let everything = format!("{logs}\n{debug}");
    for (what, secret) in [
        ("secret key", emulator.secret_key()),
        ("temporary secret key", emulator.temporary_secret_key()),
        ("security token", emulator.security_token()),
        ("IAM token", emulator.auth_token()),
        ("node password", NODE_PASSWORD),
        ("wrong secret key", "wrong-secret-key-0123456789"),
    ] {
        if let Some(at) = everything.find(secret) {
            let start = everything[..at].rfind('\n').map_or(0, |i| i + 1);
            panic!(
                "the {what} was exposed: {}",
                &everything[start..(at + 80).min(everything.len())]
            );
        }
    }
}
