//! The emulator's bounds, over real sockets: body size, slow request heads, connection count.
//!
//! The clients here are raw TCP streams, so the tests control exactly what the server gets and
//! when. No test waits for a fixed time to pass: each one waits for what the server does (an
//! answer, an end of stream) with a generous upper bound that only fails a broken server.

use std::io::ErrorKind::WouldBlock;
use std::time::{Duration, Instant};

use cce_upgrade::emulator::{DEFAULT_MAX_BODY_BYTES, Emulator, EmulatorConfig};
use tokio::net::TcpStream;

/// The bound on anything a test waits for; a working server needs a tiny fraction of it.
const PATIENCE: Duration = Duration::from_secs(30);

use crate::common::{start, start_with};

async fn connect(emulator: &Emulator) -> TcpStream {
    TcpStream::connect(emulator.endpoint().trim_start_matches("http://"))
        .await
        .expect("connects")
}

/// Writes all of `bytes` (only tokio's `net` feature is at hand, hence `try_write`).
async fn write_all(stream: &TcpStream, mut bytes: &[u8]) -> std::io::Result<()> {
    while !bytes.is_empty() {
        stream.writable().await?;
        match stream.try_write(bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Reads until the server closes the stream (end of stream or reset); panics after
/// [`PATIENCE`]. Returns what was read.
async fn read_until_closed(stream: &TcpStream) -> Vec<u8> {
    let mut answer = Vec::new();
    let read_all = async {
        let mut buf = [0_u8; 8192];
        loop {
            if stream.readable().await.is_err() {
                return;
            }
            match stream.try_read(&mut buf) {
                Ok(0) => return,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == WouldBlock => {}
                Err(_) => return,
            }
        }
    };
    tokio::time::timeout(PATIENCE, read_all)
        .await
        .expect("the server closes the connection");
    answer
}

/// Reads one answer with a `content-length` body, leaving the connection open; or what came
/// before the server closed the connection.
async fn read_answer(stream: &TcpStream) -> String {
    let mut answer = Vec::new();
    let read = async {
        let mut buf = [0_u8; 8192];
        loop {
            if let Some(end) = find(&answer, b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&answer[..end]).to_ascii_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map_or(0, |v| v.trim().parse().unwrap());
                if answer.len() >= end + 4 + length {
                    return;
                }
            }
            if stream.readable().await.is_err() {
                return;
            }
            match stream.try_read(&mut buf) {
                Ok(0) => return,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == WouldBlock => {}
                Err(_) => return,
            }
        }
    };
    tokio::time::timeout(PATIENCE, read)
        .await
        .expect("an answer or the end of the stream");
    String::from_utf8(answer).unwrap()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn upgrade_path(emulator: &Emulator) -> String {
    format!(
        "/api/v3/projects/{}/clusters/{}/operation/upgradeworkflows",
        emulator.project_id(),
        emulator.cluster_id()
    )
}

#[tokio::test]
async fn a_body_declared_too_large_is_413_before_any_of_it_is_read() {
    let emulator = start().await;
    let stream = connect(&emulator).await;
    let path = upgrade_path(&emulator);
    // 300 MB announced; the server must answer from the header alone, so none is sent.
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
         content-length: 314572800\r\n\r\n"
    );
    write_all(&stream, head.as_bytes()).await.unwrap();
    let answer = String::from_utf8(read_until_closed(&stream).await).unwrap();
    assert!(answer.starts_with("HTTP/1.1 413 "), "{answer}");
    assert!(answer.contains("APIGW.0201"), "{answer}");
    assert!(
        answer.contains(&DEFAULT_MAX_BODY_BYTES.to_string()),
        "{answer}"
    );

    let received = emulator.requests();
    let last = received.last().expect("the refused request is recorded");
    assert_eq!(
        (last.method.as_str(), last.uri.as_str()),
        ("POST", path.as_str())
    );
    assert!(last.body.is_empty(), "kept {} bytes", last.body.len());
    assert!(!last.authenticated);
}

/// A chunked body of `size` bytes in one chunk, without the chunk's closing CRLF and the last
/// chunk: everything sent must be read for the server to see `size` bytes, so it closes the
/// connection with nothing unread (a clean end of stream, not a reset that could eat the answer).
fn chunked_post(path: &str, size: usize) -> Vec<u8> {
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n{size:x}\r\n"
    )
    .into_bytes();
    request.resize(request.len() + size, b'a');
    request
}

#[tokio::test]
async fn a_chunked_body_is_read_only_up_to_the_limit() {
    let emulator = start().await;
    let path = upgrade_path(&emulator);
    let stream = connect(&emulator).await;
    write_all(&stream, &chunked_post(&path, DEFAULT_MAX_BODY_BYTES + 1))
        .await
        .unwrap();
    let answer = String::from_utf8(read_until_closed(&stream).await).unwrap();
    assert!(answer.starts_with("HTTP/1.1 413 "), "{answer}");
    let received = emulator.requests();
    assert_eq!(received.len(), 1, "{received:?}");
    assert!(
        received[0].body.is_empty(),
        "kept {}",
        received[0].body.len()
    );
}

#[tokio::test]
async fn a_body_at_the_limit_is_served() {
    let limit = 4096;
    let emulator = start_with(EmulatorConfig::fast().max_body_bytes(limit)).await;
    let path = upgrade_path(&emulator);
    let mut request = chunked_post(&path, limit);
    request.extend_from_slice(b"\r\n0\r\n\r\n");
    let stream = connect(&emulator).await;
    write_all(&stream, &request).await.unwrap();
    // Unsigned, so the API refuses it: but it was read and judged, not cut off.
    let answer = read_answer(&stream).await;
    assert!(answer.starts_with("HTTP/1.1 401 "), "{answer}");
    assert_eq!(emulator.requests()[0].body.len(), limit);
}

#[tokio::test]
async fn a_client_that_stalls_in_its_headers_is_disconnected() {
    let timeout = Duration::from_millis(200);
    let emulator = start_with(EmulatorConfig::fast().header_read_timeout(timeout)).await;
    let stream = connect(&emulator).await;
    let started = Instant::now();
    write_all(&stream, b"GET /v3/projects HTTP/1.1\r\nhost: x\r\nx-half: ")
        .await
        .unwrap();
    // The client never closes: the end of stream comes from the server.
    let answer = read_until_closed(&stream).await;
    assert!(
        started.elapsed() >= timeout,
        "closed after {:?}, before the timeout",
        started.elapsed()
    );
    assert!(!answer.starts_with(b"HTTP/1.1 2"), "{answer:?}");
    assert!(emulator.requests().is_empty());
}

#[tokio::test]
async fn connections_beyond_the_limit_are_answered_503_and_closed() {
    let emulator = start_with(EmulatorConfig::fast().max_connections(2)).await;
    let request = b"GET /v3/projects?name=cn-north-4 HTTP/1.1\r\nhost: x\r\n\r\n";
    // Two connections, each answered once and kept alive: both slots are taken.
    let first = connect(&emulator).await;
    let second = connect(&emulator).await;
    for stream in [&first, &second] {
        write_all(stream, request).await.unwrap();
        let answer = read_answer(stream).await;
        assert!(answer.starts_with("HTTP/1.1 401 "), "{answer}");
    }

    let third = connect(&emulator).await;
    let answer = String::from_utf8(read_until_closed(&third).await).unwrap();
    assert!(answer.starts_with("HTTP/1.1 503 "), "{answer}");
    assert!(answer.ends_with("too many connections\n"), "{answer}");
    assert_eq!(
        emulator.requests().len(),
        2,
        "nothing was read from the third"
    );

    // The kept-alive connections are still served.
    write_all(&second, request).await.unwrap();
    assert!(read_answer(&second).await.starts_with("HTTP/1.1 401 "));

    // Once a client leaves, its slot is free again (as soon as the server has seen it leave).
    drop(first);
    let deadline = Instant::now() + PATIENCE;
    loop {
        let stream = connect(&emulator).await;
        // Refused, this reads the 503 or nothing (a reset); served, the 401.
        if write_all(&stream, request).await.is_ok()
            && read_answer(&stream).await.starts_with("HTTP/1.1 401 ")
        {
            break;
        }
        assert!(Instant::now() < deadline, "the slot was never given back");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
