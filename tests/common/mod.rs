//! What the socket tests share: an emulator, a client pointed at it, and fast retries.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use cce_upgrade::emulator::{Emulator, EmulatorConfig};
use cce_upgrade::{Client, RetryConfig};

/// The version of the emulator's demo clusters.
pub const DEMO_VERSION: &str = "v1.28.15-r0";
/// The version the tests upgrade to.
pub const TARGET: &str = "v1.29.10-r0";

/// Retries with millisecond waits, so fault tests take milliseconds.
pub fn quick_retry() -> RetryConfig {
    RetryConfig::default()
        .initial_backoff(Duration::from_millis(5))
        .max_backoff(Duration::from_millis(20))
}

/// An emulator with [`EmulatorConfig::fast`]: tasks move one step per read.
pub async fn start() -> Emulator {
    start_with(EmulatorConfig::fast()).await
}

/// An emulator with the given configuration.
pub async fn start_with(config: EmulatorConfig) -> Emulator {
    Emulator::start_with(config).await.expect("emulator starts")
}

/// A client for the emulator, with [`quick_retry`].
pub fn client(emulator: &Emulator) -> Client {
    client_with_retry(emulator, quick_retry())
}

/// A client for the emulator, with `retry`.
pub fn client_with_retry(emulator: &Emulator, retry: RetryConfig) -> Client {
    emulator
        .client_builder()
        .retry(retry)
        .build()
        .expect("client builds")
}

/// An address on loopback where nothing listens: connecting to it is refused.
pub async fn closed_port() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("a free port");
    listener.local_addr().expect("bound")
}

pub mod scripted;

/// A client for a scripted server (or any endpoint) with AK/SK, a project id and quick retries.
pub fn client_for(url: &str) -> Client {
    Client::builder()
        .endpoint(url)
        .credentials(cce_upgrade::Credentials::new(
            "AK-HOSTILE",
            "SK-HOSTILE-SECRET",
        ))
        .project_id("0123456789abcdef0123456789abcdef")
        .retry(quick_retry())
        .build()
        .expect("client builds")
}
