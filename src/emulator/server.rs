//! The HTTP side: a hyper 1 HTTP/1.1 server on loopback (over TLS with
//! [`EmulatorConfig::tls`](super::EmulatorConfig::tls)), one tokio task per connection.
//!
//! Each request is read whole (up to the body limit), checked by the verifier, recorded, then
//! given to the next injected [`Fault`] (if any) and to the API. Every answer carries a fresh
//! `X-Request-Id`.
//!
//! Bounds (see [the emulator's limits](super#limits)): a semaphore caps the connections served
//! at once, and one over the cap is answered `503` and closed right after `accept`; hyper's
//! `header_read_timeout` closes a connection that is slow to send its request head (or idle that
//! long); a body over the limit is answered `413` from its `Content-Length`, or, when chunked,
//! as soon as the bytes read pass the limit.
//!
//! Shutdown: a watch channel tells the accept loop to stop and every connection to shut down
//! gracefully (idle keep-alive connections close at once, a request in flight is answered
//! first, and an injected delay is cut short). [`serve`] returns when all connections are
//! closed.

use std::error::Error;
use std::fmt;
use std::pin::pin;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;

use super::api::{self, Reply, ReplyBody};
use super::auth::{self, WireRequest};
use super::fault::{self, Fault};
use super::{ReceivedRequest, Shared, clock};

/// Accepts connections until shutdown is signalled, then waits for them to close.
pub(crate) async fn serve(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    let slots = Arc::new(Semaphore::new(shared.config.max_connections));
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => match slots.clone().try_acquire_owned() {
                    Ok(slot) => {
                        tracing::trace!(%peer, "emulator: connection accepted");
                        connections.spawn(connection(stream, tls.clone(), slot, shared.clone(), shutdown.clone()));
                    }
                    Err(_) => {
                        tracing::debug!(%peer, "emulator: too many connections, refused one");
                        refuse(stream);
                    }
                },
                Err(error) => {
                    tracing::debug!(%error, "emulator: accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            () = signalled(&mut shutdown) => break,
        }
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
    tracing::debug!("emulator: stopped");
}

/// Resolves once shutdown is signalled (or the emulator handle is gone).
async fn signalled(shutdown: &mut watch::Receiver<bool>) {
    while !*shutdown.borrow_and_update() {
        if shutdown.changed().await.is_err() {
            return;
        }
    }
}

/// The whole answer to a connection over the limit.
const TOO_MANY_CONNECTIONS: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
    content-type: text/plain\r\nconnection: close\r\ncontent-length: 45\r\n\r\n\
    the emulator is serving too many connections\n";

/// Answers `503` without waiting (a client that does not read gets nothing) and closes.
fn refuse(stream: TcpStream) {
    let _ = stream.try_write(TOO_MANY_CONNECTIONS);
    drop(stream);
}

/// Serves one connection, over TLS when the emulator has a certificate; its `slot` is given
/// back when it ends.
async fn connection(
    stream: TcpStream,
    tls: Option<tokio_rustls::TlsAcceptor>,
    slot: OwnedSemaphorePermit,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    let _slot = slot;
    let Some(tls) = tls else {
        return serve_http(TokioIo::new(stream), shared, shutdown).await;
    };
    // The handshake is bounded like a request head, and cut short by shutdown.
    let handshake = tokio::time::timeout(shared.config.header_read_timeout, tls.accept(stream));
    tokio::select! {
        done = handshake => match done {
            Ok(Ok(stream)) => serve_http(TokioIo::new(stream), shared, shutdown).await,
            Ok(Err(error)) => tracing::debug!(%error, "emulator: TLS handshake failed"),
            Err(_) => tracing::debug!("emulator: TLS handshake timed out"),
        },
        () = signalled(&mut shutdown) => {}
    }
}

/// Serves HTTP/1.1 on one connection until it ends or shutdown has been signalled.
async fn serve_http<I>(io: I, shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let header_read_timeout = shared.config.header_read_timeout;
    let request_shutdown = shutdown.clone();
    let service = service_fn(move |req| {
        let (shared, shutdown) = (shared.clone(), request_shutdown.clone());
        async move { handle(&shared, req, shutdown).await }
    });
    let mut conn = pin!(
        http1::Builder::new()
            .timer(TokioTimer::new())
            // Also closes keep-alive connections idle that long (hyper starts the timer when it
            // waits for a request head); clients' pools reconnect.
            .header_read_timeout(header_read_timeout)
            .serve_connection(io, service)
    );
    let mut shutting_down = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(error) = result {
                    tracing::trace!(%error, "emulator: connection ended");
                }
                return;
            }
            () = signalled(&mut shutdown), if !shutting_down => {
                shutting_down = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Returned by the service to make hyper close the connection without answering.
#[derive(Debug)]
struct DropConnection;

impl fmt::Display for DropConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("injected fault: connection dropped after acting on the request")
    }
}

impl Error for DropConnection {}

async fn handle(
    shared: &Shared,
    req: Request<Incoming>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<Response<Full<Bytes>>, DropConnection> {
    let request_id = shared.ids.hex(32);
    let (parts, body) = req.into_parts();
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_string();
    let method = parts.method.as_str();
    let limit = shared.config.max_body_bytes;
    let declared = parts
        .headers
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    let body = if declared.is_some_and(|length| length > limit as u64) {
        None
    } else {
        match Limited::new(body, limit).collect().await {
            Ok(collected) => Some(collected.to_bytes()),
            Err(error) if error.is::<LengthLimitError>() => None,
            Err(error) => {
                tracing::debug!(%error, "emulator: reading the request body failed");
                return Err(DropConnection);
            }
        }
    };
    let Some(body) = body else {
        shared.record(received(
            method,
            &path_and_query,
            &parts.headers,
            &[],
            false,
        ));
        tracing::debug!(method, limit, request_id = %request_id, "emulator: body too large");
        let msg = format!(
            "Request entity too large: the emulator accepts bodies of at most {limit} bytes"
        );
        let mut reply = Reply::error(413, "APIGW.0201", &msg, &request_id);
        reply.headers.push(("connection", "close".to_string()));
        return Ok(into_response(reply, &request_id));
    };
    let verdict = auth::verify(
        &shared.keys,
        &WireRequest {
            method,
            path_and_query: &path_and_query,
            headers: &parts.headers,
            body: &body,
        },
        clock::unix_seconds_now(),
    );
    shared.record(received(
        method,
        &path_and_query,
        &parts.headers,
        &body,
        verdict.is_ok(),
    ));

    let injected = shared.take_fault();
    let reply = match &injected {
        Some(Fault::Status {
            status,
            retry_after,
        }) => {
            let (code, msg) = Fault::gateway_error(*status);
            let mut reply = Reply::error(*status, code, &msg, &request_id);
            if let Some(seconds) = retry_after {
                reply.headers.push(("retry-after", seconds.to_string()));
            }
            reply
        }
        Some(Fault::HtmlBadGateway) => Reply {
            status: 502,
            body: ReplyBody::Html(fault::BAD_GATEWAY_HTML),
            headers: Vec::new(),
        },
        Some(Fault::Delay(delay)) => {
            tokio::select! {
                () = tokio::time::sleep(*delay) => {}
                () = signalled(&mut shutdown) => {}
            }
            api::handle(
                shared,
                method,
                &path_and_query,
                &body,
                &verdict,
                &request_id,
            )
        }
        Some(Fault::DropAfterAction | Fault::EmptyOkAfterAction) | None => api::handle(
            shared,
            method,
            &path_and_query,
            &body,
            &verdict,
            &request_id,
        ),
    };
    tracing::debug!(
        method,
        path = %path_and_query.split('?').next().unwrap_or("/"),
        status = reply.status,
        request_id = %request_id,
        fault = ?injected,
        "emulator: answered"
    );
    if injected == Some(Fault::DropAfterAction) {
        return Err(DropConnection);
    }
    if injected == Some(Fault::EmptyOkAfterAction) {
        return Ok(into_response(
            Reply {
                status: 200,
                body: ReplyBody::Empty,
                headers: Vec::new(),
            },
            &request_id,
        ));
    }
    Ok(into_response(reply, &request_id))
}

/// What the request log keeps of a request.
fn received(
    method: &str,
    path_and_query: &str,
    headers: &hyper::HeaderMap,
    body: &[u8],
    authenticated: bool,
) -> ReceivedRequest {
    ReceivedRequest {
        method: method.to_string(),
        uri: path_and_query.to_string(),
        headers: headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_string(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: body.to_vec(),
        authenticated,
    }
}

fn into_response(reply: Reply, request_id: &str) -> Response<Full<Bytes>> {
    let (content_type, body) = match reply.body {
        ReplyBody::Json(value) => (Some("application/json"), Bytes::from(value.to_string())),
        ReplyBody::Html(html) => (Some("text/html"), Bytes::from_static(html.as_bytes())),
        ReplyBody::Text(text) => (Some("text/plain"), Bytes::from_static(text.as_bytes())),
        ReplyBody::Empty => (None, Bytes::new()),
    };
    let mut builder = Response::builder()
        .status(reply.status)
        .header("x-request-id", request_id);
    if let Some(content_type) = content_type {
        builder = builder.header("content-type", content_type);
    }
    for (name, value) in reply.headers {
        builder = builder.header(name, value);
    }
    builder.body(Full::new(body)).unwrap_or_else(|error| {
        tracing::warn!(%error, "emulator: could not build a response");
        let mut response = Response::new(Full::new(Bytes::new()));
        *response.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
        response
    })
}
