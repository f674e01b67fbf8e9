//! A server that echoes the request in its error: the node password the request carried never
//! reaches the error, its Debug, its accessors or the library's logs. Its binary's global
//! tracing subscriber captures every log line.

use crate::common;
use common::client_for;
use common::scripted::{Scripted, answer};

const CLUSTER: &str = "c0ffee00-0000-0000-0000-000000000001";

#[tokio::test]
async fn a_node_password_echoed_by_the_server_never_shows() {
    use cce_upgrade::NodePassword;
    use cce_upgrade::types::{NodeTemplate, UpgradeNodePool};

    // The server repeats the whole request body in its error message and body.
    let server = Scripted::start(|_, seen| {
        let echoed = String::from_utf8_lossy(&seen.body).replace('"', "'");
        let body = format!(
            r#"{{"error_code":"CCE.01400001","error_msg":"bad request: {echoed}","request_id":"req-echo","echo":"{echoed}"}}"#
        );
        answer(
            "400 Bad Request",
            &[("X-Request-Id", "req-echo")],
            body.as_bytes(),
        )
    })
    .await;
    let password = NodePassword::salted("N0de-Passw0rd!").unwrap();
    let salted = password.expose_secret().to_owned();
    let body =
        UpgradeNodePool::new("pool-1", 1).node_template(NodeTemplate::with_root_password(password));

    // Capture every log line the call writes, at every level.
    let logs = crate::logs().await;
    let client = client_for(&server.url);
    let e = client
        .upgrade_node_pool(CLUSTER, "pool-1", &body)
        .await
        .expect_err("the server refused it");

    assert_eq!(server.count(), 1, "a write is sent once");
    assert!(
        String::from_utf8_lossy(&server.seen()[0].body).contains(&salted),
        "the salted password was sent"
    );
    assert_eq!(e.status().map(|s| s.as_u16()), Some(400));
    assert_eq!(e.request_id(), Some("req-echo"));
    let service = e.service_error().expect("a service error");
    let logs = logs.text();
    for (what, text) in [
        ("Display", e.to_string()),
        ("Debug", format!("{e:?}")),
        ("Debug (alternate)", format!("{e:#?}")),
        (
            "error_msg",
            service.error_msg().unwrap_or_default().to_owned(),
        ),
        ("body", String::from_utf8_lossy(service.body()).into_owned()),
        ("logs", logs.clone()),
    ] {
        assert!(
            !text.contains(&salted),
            "{what} shows the node password: {text}"
        );
        assert!(!text.contains("SK-HOSTILE-SECRET"), "{what} shows the SK");
    }
    assert!(logs.contains("failed"), "the failure was logged: {logs}");
}
