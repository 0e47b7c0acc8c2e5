//! The HTTP surface: `/mcp` (rmcp streamable HTTP behind the access token), `GET /health`,
//! one log line per request, graceful shutdown.

use std::{
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{
    Json, Router,
    extract::{Request, State},
    http::StatusCode,
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
};
use rmcp::{
    ServerHandler,
    transport::streamable_http_server::{
        StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
    },
};
use serde_json::json;

use crate::{ACCESS_TOKEN_HEADER, Config, Secret, constant_time_eq};

/// The MCP endpoint (manifest `path`).
pub const MCP_PATH: &str = "/mcp";
/// The health endpoint (manifest `health_path`).
pub const HEALTH_PATH: &str = "/health";
/// How long open streams get to finish after SIGTERM/SIGINT before the process exits anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The prefix of the line a server prints once it accepts connections; tests wait for it.
pub const LISTENING_PREFIX: &str = "listening on http://";

/// Builds the whole app for `server` (cloned once per MCP session), and the handle that ends its
/// MCP sessions and streams.
pub fn router<S>(
    name: &str,
    version: &'static str,
    access_token: Secret,
    server: S,
) -> (Router, Shutdown)
where
    S: ServerHandler + Clone,
{
    let mcp_config = StreamableHttpServerConfig::default();
    let token = mcp_config.cancellation_token.clone();
    let shutdown = Shutdown(Arc::new(move || token.cancel()));
    let mcp_config = mcp_config
        // rmcp accepts only loopback `Host` headers by default (DNS-rebinding protection for
        // unauthenticated local servers). Ours are reached through platform hostnames
        // (*.fly.dev, *.up.railway.app) and every request needs the secret access token header,
        // which a rebinding web page cannot send, so any Host is accepted.
        .disable_allowed_hosts();
    let mcp = StreamableHttpService::new(
        move || Ok(server.clone()),
        Arc::new(LocalSessionManager::default()),
        mcp_config,
    );
    let mcp_routes =
        Router::new()
            .nest_service(MCP_PATH, mcp)
            .layer(middleware::from_fn_with_state(
                Arc::new(access_token),
                require_access_token,
            ));
    let health = Arc::new(json!({
        "status": "ok",
        "server": name,
        "version": version,
    }));
    let app = Router::new()
        .route(
            HEALTH_PATH,
            get(move || {
                let health = health.clone();
                async move { Json((*health).clone()) }
            }),
        )
        .merge(mcp_routes)
        .fallback(not_found)
        .layer(middleware::from_fn(log_request));
    (app, shutdown)
}

/// Ends every MCP session and stream of the app it came with (see [`router`]).
#[derive(Clone)]
pub struct Shutdown(Arc<dyn Fn() + Send + Sync>);

impl Shutdown {
    pub fn trigger(&self) {
        (self.0)()
    }
}

impl std::fmt::Debug for Shutdown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Shutdown")
    }
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({ "error": format!("not found: MCP is served at {MCP_PATH}, health at {HEALTH_PATH}") })),
    )
        .into_response()
}

/// 401 unless the request carries the access token; the header is then removed so tool code
/// never sees it.
async fn require_access_token(
    State(token): State<Arc<Secret>>,
    mut request: Request,
    next: Next,
) -> Response {
    let error = match request.headers().get(ACCESS_TOKEN_HEADER) {
        None => Some(format!("missing {ACCESS_TOKEN_HEADER} header")),
        Some(value) if constant_time_eq(value.as_bytes(), token.expose().as_bytes()) => None,
        Some(_) => Some(format!("invalid {ACCESS_TOKEN_HEADER} header")),
    };
    if let Some(error) = error {
        return (StatusCode::UNAUTHORIZED, Json(json!({ "error": error }))).into_response();
    }
    request.headers_mut().remove(ACCESS_TOKEN_HEADER);
    next.run(request).await
}

/// `METHOD /path STATUS 12ms` on stderr: no query string, no header, no body.
async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    eprintln!(
        "{method} {path} {} {}ms",
        response.status().as_u16(),
        started.elapsed().as_millis()
    );
    response
}

/// Binds `config.host:config.port`, prints the listening line, serves until SIGTERM/SIGINT.
pub async fn serve<S>(config: Config, version: &'static str, server: S) -> std::io::Result<()>
where
    S: ServerHandler + Clone,
{
    let (app, shutdown) = router(&config.name, version, config.access_token.clone(), server);
    let listener = tokio::net::TcpListener::bind(SocketAddr::new(config.host, config.port))
        .await
        .map_err(|error| {
            std::io::Error::new(
                error.kind(),
                format!("cannot listen on {}:{}: {error}", config.host, config.port),
            )
        })?;
    let address = listener.local_addr()?;
    eprintln!(
        "{} {version} {LISTENING_PREFIX}{address}{MCP_PATH} (health: {HEALTH_PATH})",
        config.name
    );

    let (signalled_tx, signalled_rx) = tokio::sync::watch::channel(false);
    let name = config.name.clone();
    let graceful = {
        let shutdown = shutdown.clone();
        async move {
            let signal = shutdown_signal().await;
            eprintln!("{name}: {signal} received, shutting down");
            let _ = signalled_tx.send(true);
            // Ends MCP sessions and their SSE streams, so open connections can close.
            shutdown.trigger();
        }
    };
    let server = axum::serve(listener, app).with_graceful_shutdown(graceful);
    let deadline = async move {
        let mut signalled_rx = signalled_rx;
        let _ = signalled_rx.wait_for(|signalled| *signalled).await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::select! {
        result = server => result,
        () = deadline => {
            eprintln!("{}: connections still open after {}s, exiting", config.name, SHUTDOWN_GRACE.as_secs());
            Ok(())
        }
    }
}

async fn shutdown_signal() -> &'static str {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
        "SIGINT"
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => tokio::select! {
                name = interrupt => name,
                _ = terminate.recv() => "SIGTERM",
            },
            Err(_) => interrupt.await,
        }
    }
    #[cfg(not(unix))]
    {
        interrupt.await
    }
}
