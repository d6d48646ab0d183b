//! `edgefeat serve`: the feature server, with `feast serve`'s flags: HTTP (`-t http`, the
//! default), gRPC (`-t grpc`), or both from one core (`--grpc-port`).

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{ArgAction, Args};

use crate::http::server::{serve, shutdown_signal};
use crate::http::state::AppState;
use crate::http::{metrics, routes};
use crate::online;
use crate::repo::RepoConfig;
use crate::serving::{FeatureServer, watch_registry};

/// Arguments of `serve` (Feast's, including `-h` for the host).
#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct ServeArgs {
    /// Print help.
    #[arg(long, action = ArgAction::Help)]
    help: Option<bool>,
    /// The address to listen on.
    #[arg(short = 'h', long, default_value = "127.0.0.1")]
    host: String,
    /// The port to listen on (0 picks a free one; the startup line says which).
    #[arg(short, long, default_value_t = 6566)]
    port: u16,
    /// The server type: `http` (Feast's REST API) or `grpc` (Feast's `ServingService` and
    /// `GrpcFeatureServer`, with health and reflection) on --port.
    #[arg(short = 't', long = "type", default_value = "http", value_parser = ["http", "grpc"])]
    server_type: String,
    /// Also serve gRPC on this port, next to HTTP on --port, from the same core (0 picks a
    /// free one; the startup line says which).
    #[arg(long, value_name = "PORT")]
    grpc_port: Option<u16>,
    /// Do not print a line per request.
    #[arg(long)]
    no_access_log: bool,
    /// Seconds a client may take to send a request's headers, also between requests on a
    /// kept-alive connection, before it is disconnected.
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    keep_alive_timeout: u64,
    /// Re-read the registry at least this often (0: only when the file changes).
    #[arg(
        short = 'r',
        long = "registry_ttl_sec",
        alias = "registry-ttl-sec",
        default_value_t = 60,
        value_name = "SECONDS"
    )]
    registry_ttl_sec: u64,
    /// TLS private key (PEM), with --cert.
    #[arg(short = 'k', long, value_name = "PATH")]
    key: Option<PathBuf>,
    /// TLS certificate chain (PEM), with --key.
    #[arg(short = 'c', long, value_name = "PATH")]
    cert: Option<PathBuf>,
    /// Also serve /metrics on port 8000, where Feast serves its metrics.
    #[arg(short = 'm', long)]
    metrics: bool,
    /// Connections served at once; more clients wait in the listen backlog.
    #[arg(long, default_value_t = 1024, value_name = "N")]
    worker_connections: usize,
    /// Connections one client address may hold at once (0: no cap), so that one client's
    /// idle or slow connections cannot take every slot; past it a new connection is closed.
    /// Raise it when many clients reach the server through one proxy.
    #[arg(long, default_value_t = 256, value_name = "N")]
    max_connections_per_client: usize,
    /// Seconds a request body may take to arrive in full (408 past it).
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    body_timeout: u64,
    /// Seconds the server may be unable to write to a client (which reads nothing) before
    /// it closes the connection.
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    write_timeout: u64,
}

/// Feast's metrics port.
const METRICS_PORT: u16 = 8000;

fn init_logging(level: &str) {
    let level = match level.to_ascii_lowercase().as_str() {
        "error" | "critical" => tracing::Level::ERROR,
        "info" => tracing::Level::INFO,
        "debug" => tracing::Level::DEBUG,
        // "warning": clap admits only the levels above.
        _ => tracing::Level::WARN,
    };
    let _ = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

pub(super) fn run(config: RepoConfig, args: &ServeArgs, log_level: &str) -> Result<()> {
    init_logging(log_level);
    if let Ok(Some(shift)) = crate::types::clock::check_clock_shift() {
        tracing::warn!(
            "feature time is shifted by {shift:?} ({}): for running tests as of another day",
            crate::types::clock::CLOCK_SHIFT_ENV
        );
    }
    let tls = match (&args.key, &args.cert) {
        // Absolute, so the reload watcher finds them whatever happens to the cwd.
        (Some(key), Some(cert)) => Some(crate::http::tls::configure(
            &std::path::absolute(cert)?,
            &std::path::absolute(key)?,
        )?),
        (None, None) => None,
        _ => bail!("--key and --cert go together: give both for TLS, or neither"),
    };
    metrics::install();
    crate::heap::start_trimming();
    let store: Arc<dyn online::OnlineStore> = Arc::from(online::open(&config)?);
    let project = config.project.clone();
    let core = Arc::new(FeatureServer::new(config, store)?);
    // Plugins load before the port opens, so the first request finds them.
    core.start_plugins();
    core.warm_up_vectors();
    core.remove_offline_leftovers();
    if let Some(problem) = core.empty_offline_source() {
        tracing::error!("{problem}; /health answers 503 until it is restored");
    }
    let _plugin_watcher = core
        .plugins
        .as_ref()
        .map(|h| crate::plugins::watch_plugins(h, core.config.plugins.poll));
    // A store adapter hot-reloads like a transform: a failed load keeps the old one serving.
    let _store_watcher = core.store.plugin_file().map(|file| {
        let store = Arc::clone(&core.store);
        crate::watch::watch_files(&[file.to_path_buf()], core.config.plugins.poll, move || {
            match store.reload() {
                Ok(true) => tracing::info!("store adapter reloaded"),
                Ok(false) => {}
                Err(e) => tracing::warn!(
                    "store adapter not reloaded (the previous version keeps serving): {e:#}"
                ),
            }
            true
        })
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port))
            .await
            .with_context(|| format!("cannot listen on {}:{}", args.host, args.port))?;
        let addr = listener.local_addr()?;
        // Fetched before the first request rather than by it. A failure is not fatal: the
        // identity provider may come up later, and every request retries (rate-limited)
        // until it does; until then tokens are refused.
        if let Some(auth) = &core.authenticator {
            match auth.load_keys().await {
                Ok(n) => tracing::info!("oidc: {n} signing key(s) loaded"),
                Err(e) => tracing::error!(
                    "oidc: cannot load the signing keys yet, tokens are refused until they load: {e:#}"
                ),
            }
        }
        // Polled at the shorter of the flag and the registry's `cache_ttl_seconds` (Feast
        // re-reads a cached registry that old), on top of the change events; 0 turns either off.
        let ttl = [args.registry_ttl_sec, core.config.registry_cache_ttl_seconds]
            .into_iter()
            .filter(|s| *s > 0)
            .min()
            .map(Duration::from_secs);
        let _watcher = watch_registry(core.clone(), ttl);
        let options = crate::http::server::ServerOptions {
            keep_alive: Duration::from_secs(args.keep_alive_timeout),
            tls: tls.as_ref().map(|t| t.config.clone()),
            max_connections: args.worker_connections,
            max_connections_per_client: args.max_connections_per_client,
            write_timeout: Duration::from_secs(args.write_timeout.max(1)),
            http2_only: false,
        };
        if args.metrics {
            let metrics_listener =
                tokio::net::TcpListener::bind((args.host.as_str(), METRICS_PORT))
                    .await
                    .with_context(|| {
                        format!(
                            "cannot listen on {}:{METRICS_PORT} for --metrics",
                            args.host
                        )
                    })?;
            tokio::spawn(serve(
                metrics_listener,
                routes::metrics_router(),
                options.clone(),
                std::future::pending(),
            ));
        }
        let grpc_options = crate::http::server::ServerOptions {
            http2_only: true,
            ..options.clone()
        };
        // One signal stops every front; each drains its own requests.
        let (stop, stopped) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            shutdown_signal().await;
            let _ = stop.send(true);
        });
        let shutdown = move || {
            let mut stopped = stopped.clone();
            async move {
                let _ = stopped.wait_for(|s| *s).await;
            }
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        let grpc_listener = match args.grpc_port {
            Some(port) => Some(
                tokio::net::TcpListener::bind((args.host.as_str(), port))
                    .await
                    .with_context(|| format!("cannot listen on {}:{port} for gRPC", args.host))?,
            ),
            None => None,
        };
        if args.server_type == "grpc" {
            if grpc_listener.is_some() {
                bail!("--grpc-port serves gRPC next to HTTP: with -t grpc, --port is the gRPC port");
            }
            let app = crate::grpc::router(core.clone())?;
            println!(
                "edgefeat is serving project {project} over gRPC on {scheme}://{addr} (Ctrl-C to stop)"
            );
            let _ = std::io::stdout().flush();
            serve(listener, app, grpc_options, shutdown()).await?;
        } else {
            let mut state = AppState::new(core.clone());
            state.body.timeout = Duration::from_secs(args.body_timeout.max(1));
            let mut app = routes::router(Arc::new(state));
            if !args.no_access_log {
                app = routes::with_access_log(app);
            }
            println!(
                "edgefeat is serving project {project} on {scheme}://{addr} (Ctrl-C to stop)"
            );
            let grpc = match grpc_listener {
                Some(grpc_listener) => {
                    let grpc_addr = grpc_listener.local_addr()?;
                    let grpc_app = crate::grpc::router(core.clone())?;
                    println!(
                        "edgefeat is serving project {project} over gRPC on {scheme}://{grpc_addr}"
                    );
                    Some(tokio::spawn(serve(
                        grpc_listener,
                        grpc_app,
                        grpc_options,
                        shutdown(),
                    )))
                }
                None => None,
            };
            let _ = std::io::stdout().flush();
            serve(listener, app, options, shutdown()).await?;
            if let Some(grpc) = grpc {
                grpc.await.context("the gRPC front failed")??;
            }
        }
        // stdout may be gone by now (a closed pipe): never fail on the way out.
        let _ = writeln!(std::io::stdout(), "edgefeat stopped");
        Ok(())
    })
}
