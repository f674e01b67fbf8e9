//! The HTTP side: a hyper 1 HTTP/1.1 server on loopback, one tokio task per connection.
//!
//! Each request is read whole, checked by the verifier, recorded, then given to the next
//! injected [`Fault`] (if any) and to the API. Every answer carries a fresh `X-Request-Id`.
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
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::api::{self, Reply, ReplyBody};
use super::auth::{self, WireRequest};
use super::fault::{self, Fault};
use super::{ReceivedRequest, Shared, clock};

/// Accepts connections until shutdown is signalled, then waits for them to close.
pub(crate) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    tracing::trace!(%peer, "emulator: connection accepted");
                    connections.spawn(connection(stream, shared.clone(), shutdown.clone()));
                }
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

async fn connection(
    stream: tokio::net::TcpStream,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    let request_shutdown = shutdown.clone();
    let service = service_fn(move |req| {
        let (shared, shutdown) = (shared.clone(), request_shutdown.clone());
        async move { handle(&shared, req, shutdown).await }
    });
    let mut conn = pin!(
        http1::Builder::new()
            .timer(TokioTimer::new())
            // Idle keep-alive connections stay open until the client or shutdown closes them:
            // a server-side idle close racing a client's next request would make tests flaky.
            .header_read_timeout(None)
            .serve_connection(TokioIo::new(stream), service)
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
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) => {
            tracing::debug!(%error, "emulator: reading the request body failed");
            return Err(DropConnection);
        }
    };
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_string();
    let method = parts.method.as_str();
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
    shared.record(ReceivedRequest {
        method: method.to_string(),
        uri: path_and_query.clone(),
        headers: parts
            .headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_string(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: body.to_vec(),
        authenticated: verdict.is_ok(),
    });

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
        Some(Fault::DropAfterAction) | None => api::handle(
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
    Ok(into_response(reply, &request_id))
}

fn into_response(reply: Reply, request_id: &str) -> Response<Full<Bytes>> {
    let (content_type, body) = match reply.body {
        ReplyBody::Json(value) => (Some("application/json"), Bytes::from(value.to_string())),
        ReplyBody::Html(html) => (Some("text/html"), Bytes::from_static(html.as_bytes())),
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
