//! A client's cap on requests in flight (`max_concurrent_requests`), over a real socket: the
//! requests beyond it wait their turn, in order, and all are answered.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use cce_upgrade::{Client, Credentials, ErrorKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

const CLUSTER: &str = "c0ffee00-0000-0000-0000-000000000001";

/// A server that holds every request until the test lets it go, and counts the most it held at
/// once. Keep-alive: a connection serves one request after another.
async fn holding_server() -> (
    String,
    mpsc::UnboundedReceiver<oneshot::Sender<()>>,
    Arc<AtomicUsize>,
) {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("bound"));
    let (held_tx, held_rx) = mpsc::unbounded_channel();
    let most = Arc::new(AtomicUsize::new(0));
    let holding = Arc::new(AtomicUsize::new(0));
    let counted = most.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let (held_tx, most, holding) = (held_tx.clone(), counted.clone(), holding.clone());
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                loop {
                    while !buffer.windows(4).any(|w| w == b"\r\n\r\n") {
                        let mut chunk = [0u8; 1024];
                        match socket.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                        }
                    }
                    buffer.clear();
                    let now = holding.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    let (release, released) = oneshot::channel();
                    if held_tx.send(release).is_err() || released.await.is_err() {
                        return;
                    }
                    // Counted out before the answer leaves: the next request can only come after.
                    holding.fetch_sub(1, Ordering::SeqCst);
                    let answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                                   Content-Length: 2\r\n\r\n{}";
                    if socket.write_all(answer).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, held_rx, most)
}

fn client(url: &str, limit: usize) -> Result<Client, cce_upgrade::Error> {
    Client::builder()
        .endpoint(url)
        .credentials(Credentials::new("AK-CAP", "SK-CAP-SECRET"))
        .project_id("0123456789abcdef0123456789abcdef")
        .max_concurrent_requests(limit)
        .build()
}

#[tokio::test]
async fn requests_beyond_the_cap_wait_until_one_in_flight_ends() {
    const CALLS: usize = 6;
    let (url, mut held, most) = holding_server().await;
    let client = client(&url, 2).expect("client builds");
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..CALLS {
        let client = client.clone();
        calls.spawn(async move { client.show_cluster_upgrade_info(CLUSTER).await });
    }
    // Both slots taken; then each request let go lets exactly one more in.
    let mut waiting: VecDeque<oneshot::Sender<()>> = VecDeque::new();
    for _ in 0..2 {
        waiting.push_back(held.recv().await.expect("a request"));
    }
    let mut arrived = 2;
    while let Some(release) = waiting.pop_front() {
        release.send(()).expect("the server waits");
        if arrived < CALLS {
            waiting.push_back(held.recv().await.expect("the next request"));
            arrived += 1;
        }
    }
    while let Some(call) = calls.join_next().await {
        call.expect("no panic").expect("answered");
    }
    assert_eq!(most.load(Ordering::SeqCst), 2, "requests in flight at once");
}

#[test]
fn a_cap_of_zero_is_refused_when_the_client_is_built() {
    let e = client("http://127.0.0.1:1", 0).expect_err("0 sends nothing");
    assert_eq!(e.kind(), ErrorKind::Configuration);
    assert!(e.to_string().contains("max_concurrent_requests"), "{e}");
}
