//! A tiny HTTP/1.1 server on loopback that answers with whatever bytes a test scripts, for the
//! answers no well-behaved server (nor the emulator) gives: redirects, endless bodies, huge
//! headers, absurd `Retry-After`s. It records every request it read.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A request the server read.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub target: String,
    /// Header names lower-cased, values as sent.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What the server sends back for one request.
pub enum Reply {
    /// These bytes, then the connection is closed.
    Raw(Vec<u8>),
    /// `head`, then `chunk` again and again until the client goes away or `limit` bytes were
    /// written; then the connection is closed.
    Endless {
        head: Vec<u8>,
        chunk: Vec<u8>,
        limit: u64,
    },
}

/// A complete answer with `Connection: close`, the given status line, extra headers and body.
pub fn answer(status: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    Reply::Raw(out)
}

type Script = dyn Fn(usize, &Seen) -> Reply + Send + Sync;

/// The running server; dropped, it stops accepting.
pub struct Scripted {
    pub url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    written: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Scripted {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Scripted {
    /// Serves `script(n, request)` for the n-th request (0-based), one request a connection.
    pub async fn start(script: impl Fn(usize, &Seen) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("bound"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let written = Arc::new(AtomicU64::new(0));
        let script: Arc<Script> = Arc::new(script);
        let task = tokio::spawn({
            let (seen, written) = (seen.clone(), written.clone());
            async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let (seen, written, script) = (seen.clone(), written.clone(), script.clone());
                    tokio::spawn(async move {
                        // A connection that stalls is dropped; the test's client has its own
                        // timeouts.
                        let _ = tokio::time::timeout(
                            Duration::from_secs(30),
                            serve(stream, &seen, &written, &*script),
                        )
                        .await;
                    });
                }
            }
        });
        Scripted {
            url,
            seen,
            written,
            task,
        }
    }

    /// Every request read so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// How many requests were read so far.
    pub fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    /// How many bytes of answers were written so far.
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::SeqCst)
    }
}

async fn serve(
    mut stream: TcpStream,
    seen: &Mutex<Vec<Seen>>,
    written: &AtomicU64,
    script: &Script,
) -> std::io::Result<()> {
    let Some(request) = read_request(&mut stream).await? else {
        return Ok(());
    };
    let n = {
        let mut seen = seen.lock().unwrap();
        seen.push(request.clone());
        seen.len() - 1
    };
    match script(n, &request) {
        Reply::Raw(bytes) => {
            stream.write_all(&bytes).await?;
            written.fetch_add(bytes.len() as u64, Ordering::SeqCst);
        }
        Reply::Endless { head, chunk, limit } => {
            stream.write_all(&head).await?;
            written.fetch_add(head.len() as u64, Ordering::SeqCst);
            let mut sent = 0u64;
            while sent < limit {
                stream.write_all(&chunk).await?;
                sent += chunk.len() as u64;
                written.fetch_add(chunk.len() as u64, Ordering::SeqCst);
            }
        }
    }
    stream.shutdown().await
}

/// Reads one request: head up to 64 KiB, then a `Content-Length` body.
async fn read_request(stream: &mut TcpStream) -> std::io::Result<Option<Seen>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        if buf.len() > 64 * 1024 {
            return Ok(None);
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split(' ');
    let method = first.next().unwrap_or_default().to_owned();
    let target = first.next().unwrap_or_default().to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0)
        .min(1 << 20);
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Ok(Some(Seen {
        method,
        target,
        headers,
        body,
    }))
}
