//! The accept loop: hyper's HTTP/1.1 (and HTTP/2 over TLS, by ALPN) over our router, with
//! header, handshake and write-stall timeouts, a cap on concurrent connections and on each
//! client address's share of them, TCP_NODELAY, and a graceful shutdown that finishes requests
//! in flight. The gRPC front is served by the same loop, with HTTP/2 only (prior knowledge in
//! the clear, as gRPC clients speak it).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use crate::http::client_cap::ClientCap;
use crate::http::stall::StallTimeout;

/// How long shutdown waits for requests in flight before closing their connections.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
/// The most a client may send as request line and headers: well above any Feast client's,
/// small enough that a client cannot make the server buffer megabytes of headers.
const MAX_HEADER_BYTES: usize = 64 * 1024;

/// The peer of a connection, available to handlers and the access log as a request extension.
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

/// How the server treats connections.
#[derive(Clone)]
pub struct ServerOptions {
    /// How long a client may take to send a request's headers (and, over TLS, to finish its
    /// handshake), also between requests on a kept-alive connection.
    pub keep_alive: Duration,
    /// TLS, when the server has a certificate.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Connections served at once; further clients wait in the listen backlog.
    pub max_connections: usize,
    /// Connections one client address may hold at once (0: no cap); past it, a new one is
    /// closed at once.
    pub max_connections_per_client: usize,
    /// How long a write may make no progress (the client reads nothing) before the connection
    /// is closed.
    pub write_timeout: Duration,
    /// Serve HTTP/2 only (gRPC): in the clear with prior knowledge, and over TLS whatever
    /// ALPN agreed.
    pub http2_only: bool,
}

/// Serves `app` on `listener` until `shutdown` completes, then stops accepting, lets requests
/// in flight finish (for up to 30 s) and returns.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    options: ServerOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(options.max_connections.max(1)));
    let clients = ClientCap::new(options.max_connections_per_client);
    let acceptor = options.tls.clone().map(tokio_rustls::TlsAcceptor::from);
    tokio::pin!(shutdown);
    loop {
        // Take a connection slot before accepting: at the cap, new clients wait in the kernel's
        // backlog instead of costing the server memory.
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(s) => s,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before accept: keep
                    // serving the others.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(client) = clients.admit(peer.ip()) else {
            // Closing costs nothing and tells the client as clearly as a status would (an
            // HTTP/1 answer would be wrong on a TLS or gRPC port).
            refused_connection(peer);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let stream = StallTimeout::new(stream, options.write_timeout);
        let app = app.clone().layer(axum::Extension(Peer(peer)));
        let watcher = graceful.watcher();
        let options = options.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let _slots = (slot, client);
            match acceptor {
                None if options.http2_only => {
                    serve_http2(TokioIo::new(stream), app, &options, watcher, peer).await;
                }
                None => serve_http1(TokioIo::new(stream), app, &options, watcher, peer).await,
                Some(acceptor) => serve_tls(acceptor, stream, app, &options, watcher, peer).await,
            }
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(DRAIN_TIMEOUT) => {
            tracing::warn!("requests still in flight after {DRAIN_TIMEOUT:?}; closing them");
        }
    }
    Ok(())
}

async fn serve_http1<I>(
    io: I,
    app: Router,
    options: &ServerOptions,
    watcher: Watcher,
    peer: SocketAddr,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let mut builder = hyper::server::conn::http1::Builder::new();
    // A client that does not finish its headers in time (also between requests on a
    // kept-alive connection) is disconnected, so slow clients cannot hold connections.
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(options.keep_alive)
        .max_buf_size(MAX_HEADER_BYTES)
        // A client may send its request and shut its write side (`shutdown(SHUT_WR)`, as some
        // clients and proxies do) while it waits: without this, hyper reads the EOF and drops
        // the connection before the answer is written.
        .half_close(true)
        .keep_alive(true);
    let conn = builder.serve_connection(io, TowerToHyperService::new(app));
    if let Err(e) = watcher.watch(conn).await {
        tracing::debug!("connection from {peer}: {e}");
    }
}

/// Counts and (at most once a second) logs a connection refused by the per-client cap.
fn refused_connection(peer: SocketAddr) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static LAST_LOG: AtomicU64 = AtomicU64::new(0);
    metrics::counter!("edgefeat_connections_refused_total", "reason" => "per_client_cap")
        .increment(1);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    if LAST_LOG.swap(now, Ordering::Relaxed) != now {
        tracing::warn!(
            "refused a connection from {}: it already holds its share of connections \
             (--max-connections-per-client)",
            peer.ip()
        );
    }
}

async fn serve_tls(
    acceptor: tokio_rustls::TlsAcceptor,
    stream: StallTimeout<TcpStream>,
    app: Router,
    options: &ServerOptions,
    watcher: Watcher,
    peer: SocketAddr,
) {
    let tls = match tokio::time::timeout(options.keep_alive, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            tracing::debug!("TLS handshake with {peer} failed: {e}");
            return;
        }
        Err(_) => {
            tracing::debug!("TLS handshake with {peer} timed out");
            return;
        }
    };
    let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
    let io = TokioIo::new(tls);
    if h2 || options.http2_only {
        serve_http2(io, app, options, watcher, peer).await;
    } else {
        serve_http1(io, app, options, watcher, peer).await;
    }
}

async fn serve_http2<I>(
    io: I,
    app: Router,
    options: &ServerOptions,
    watcher: Watcher,
    peer: SocketAddr,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let mut builder = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
    builder
        .timer(TokioTimer::new())
        .max_header_list_size(MAX_HEADER_BYTES as u32)
        .keep_alive_interval(Some(options.keep_alive));
    let conn = builder.serve_connection(io, TowerToHyperService::new(app));
    if let Err(e) = watcher.watch(conn).await {
        tracing::debug!("HTTP/2 connection from {peer}: {e}");
    }
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
