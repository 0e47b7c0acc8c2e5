//! `scalewize-mcp-kit`: everything the MCP servers under `custom-mcp-servers/` share, so that a
//! server crate is only its tools.
//!
//! The contract it implements is `docs/server-contract.md`:
//!
//! - configuration from the environment ([`Config`]): `HOST`, `PORT`, `MCP_ACCESS_TOKEN`
//!   (required: exit code 2 without it), `MCP_SERVER_NAME`;
//! - `/mcp`: rmcp's `StreamableHttpService` behind the `X-MCP-Access-Token` check (constant time,
//!   401 JSON otherwise); `GET /health` without a token ([`http`]);
//! - per-user credentials resolved per request from headers, then the server's env fallback, then
//!   a not-connected tool error the end user can act on ([`Credentials`]);
//! - a `whoami` tool for every server ([`whoami_router`]);
//! - a small JSON REST client for upstream APIs that turns 401/403 into "your key was rejected"
//!   ([`Upstream`]);
//! - one stderr line per HTTP request, never a credential (at most `…abcd`), and graceful shutdown
//!   on SIGTERM/SIGINT.
//!
//! A server is a struct holding a [`Kit`] and an rmcp `ToolRouter`; its `main` is
//! `kit::run(&SPEC, MyServer::new)`. See `shared/base-mcp-template` for the smallest example.

mod caller;
mod config;
mod credentials;
pub mod http;
mod secret;
#[cfg(feature = "testing")]
pub mod testing;
mod tool_filter;
mod tools;
mod upstream;

use std::{process::ExitCode, sync::Arc};

use rmcp::{
    ServerHandler,
    model::{Implementation, ServerCapabilities, ServerConfig},
};

pub use caller::{Caller, USER_ID_HEADER};
pub use config::{Config, ConfigError};
pub use credentials::{CredentialSpec, Credentials, Resolved, Source};
pub use reqwest::RequestBuilder;
pub use secret::{Secret, constant_time_eq, mask};
pub use tool_filter::ToolFilter;
pub use tools::{HasKit, ToolError, json_result, whoami_router};
pub use upstream::{Upstream, UpstreamError, path_segment};

/// The header every `/mcp` request must carry, equal to `MCP_ACCESS_TOKEN`.
pub const ACCESS_TOKEN_HEADER: &str = "X-MCP-Access-Token";

/// What a server declares about itself, usually as a `const` next to its tools.
#[derive(Debug)]
pub struct ServerSpec {
    /// The crate name (`env!("CARGO_PKG_NAME")`): the server's name unless `MCP_SERVER_NAME` is set.
    pub name: &'static str,
    /// The crate version (`env!("CARGO_PKG_VERSION")`), reported by `/health` and `initialize`.
    pub version: &'static str,
    /// The display title (the manifest's `title`), e.g. `Custom CRM`.
    pub title: &'static str,
    /// Instructions sent to the MCP client in the `initialize` result.
    pub instructions: &'static str,
    /// The credentials the tools need, in the order `whoami` lists them.
    pub credentials: &'static [CredentialSpec],
}

/// The per-process state every tool handler can reach: the server's name, version and the
/// credential resolver. Cheap to clone (one `Arc`).
#[derive(Clone, Debug)]
pub struct Kit(Arc<KitInner>);

#[derive(Debug)]
struct KitInner {
    spec: &'static ServerSpec,
    name: String,
    credentials: Credentials,
    /// `MCP_TOOLS_ALLOW` / `MCP_TOOLS_DENY`, or the error that makes the server refuse to start.
    tools: Result<ToolFilter, String>,
}

impl Kit {
    /// A kit for `spec` named `name`, reading env fallbacks through `lookup` once, now.
    pub fn new(
        spec: &'static ServerSpec,
        name: impl Into<String>,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Self {
        let name = name.into();
        let tools = ToolFilter::from_env(&lookup);
        let credentials = Credentials::new(spec.credentials, name.clone(), lookup);
        Kit(Arc::new(KitInner {
            spec,
            name,
            credentials,
            tools,
        }))
    }

    /// A kit configured from the process environment (used by [`run`]).
    pub fn from_config(spec: &'static ServerSpec, config: &Config) -> Self {
        Self::new(spec, config.name.clone(), env_var)
    }

    /// The server's tools as this deployment may offer them: `router` with the tools that
    /// `MCP_TOOLS_ALLOW` / `MCP_TOOLS_DENY` exclude hidden and refused. Every server builds
    /// its router through this; an error makes it refuse to start (exit 2).
    pub fn restrict<S>(
        &self,
        router: rmcp::handler::server::router::tool::ToolRouter<S>,
    ) -> Result<rmcp::handler::server::router::tool::ToolRouter<S>, String>
    where
        S: Send + Sync + 'static,
    {
        match &self.0.tools {
            Ok(filter) => filter.apply(router),
            Err(e) => Err(e.clone()),
        }
    }

    /// The server's name: `MCP_SERVER_NAME`, else the crate name.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// The crate version.
    pub fn version(&self) -> &'static str {
        self.0.spec.version
    }

    /// The server's declaration.
    pub fn spec(&self) -> &'static ServerSpec {
        self.0.spec
    }

    /// The credential resolver.
    pub fn credentials(&self) -> &Credentials {
        &self.0.credentials
    }

    /// Resolves one credential for this call: request header, then env fallback, else the
    /// not-connected (or not-configured) tool error.
    pub fn credential(
        &self,
        caller: &Caller,
        spec: &'static CredentialSpec,
    ) -> Result<Resolved, ToolError> {
        self.0.credentials.resolve(caller.headers(), spec)
    }

    /// The `whoami` payload for this caller (see the contract).
    pub fn whoami(&self, caller: &Caller) -> serde_json::Value {
        serde_json::json!({
            "server": self.name(),
            "user": caller.user_id(),
            "credentials": self.0.credentials.describe(caller.headers()),
        })
    }

    /// Turns an upstream failure into the tool error the user sees. `used` are the credentials
    /// sent with the request: a 401/403 names the first one, and their values are scrubbed from
    /// any upstream message that echoes them.
    pub fn upstream_error(&self, error: UpstreamError, used: &[&Resolved]) -> ToolError {
        let message = match &error {
            UpstreamError::Rejected { status, detail } => match used.first() {
                Some(credential) if detail.is_empty() => {
                    credential.rejected_message(*status, self.name())
                }
                Some(credential) => format!(
                    "{} (it said: {detail})",
                    credential.rejected_message(*status, self.name())
                ),
                None => error.to_string(),
            },
            _ => error.to_string(),
        };
        ToolError::new(
            used.iter()
                .fold(message, |message, credential| credential.scrub(&message)),
        )
    }

    /// GET `path` (with `query`) from a service-mode upstream, sending the server's own `key`
    /// credential as a bearer token. `api` is `None` when the base URL setting `base_url_var` is
    /// empty: the call then fails with an error that tells the administrator what to set.
    pub async fn bearer_get(
        &self,
        caller: &Caller,
        api: Option<&Upstream>,
        key: &'static CredentialSpec,
        base_url_var: &str,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<serde_json::Value, ToolError> {
        let key = self.credential(caller, key)?;
        let api = api.ok_or_else(|| {
            ToolError::new(format!(
                "{} is not configured: {base_url_var} is empty on this server; ask your \
                 administrator to set it in the manifest env of {} and redeploy",
                self.0.spec.title,
                self.name()
            ))
        })?;
        let request = api
            .get(path)
            .bearer_auth(key.expose())
            .header("Accept", "application/json")
            .query(query);
        api.send_json(request)
            .await
            .map_err(|error| self.upstream_error(error, &[&key]))
    }

    /// The `initialize` result: tools enabled, name and version, the spec's instructions.
    pub fn server_config(&self) -> ServerConfig {
        let mut implementation = Implementation::new(self.name(), self.version());
        implementation.title = Some(self.0.spec.title.to_owned());
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(implementation)
            .with_instructions(self.0.spec.instructions)
    }
}

/// Reads a non-empty environment variable.
pub fn env_var(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
}

/// Reads a non-empty environment variable or returns `default`.
pub fn env_or(name: &str, default: &str) -> String {
    env_var(name).unwrap_or_else(|| default.to_owned())
}

/// Installs ring as rustls' process-wide crypto provider (reqwest is built with
/// `rustls-no-provider`). Idempotent.
pub fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Another thread may have won the race; either way a provider is installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// The whole `main` of a server: read the config (exit 2 with a clear message when
/// `MCP_ACCESS_TOKEN` is missing or a setting is invalid), build the handler with `make`, serve
/// until SIGTERM/SIGINT.
///
/// `make` gets the [`Kit`] and may read its own static settings (e.g. a base URL) from the env;
/// an `Err` from it also exits with code 2.
pub fn run<S, F>(spec: &'static ServerSpec, make: F) -> ExitCode
where
    S: ServerHandler + Clone,
    F: FnOnce(Kit) -> Result<S, String>,
{
    let config = match Config::from_env(spec.name, env_var) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("{}: {error}", spec.name);
            return ExitCode::from(2);
        }
    };
    install_crypto_provider();
    let kit = Kit::from_config(spec, &config);
    for line in kit.credentials().startup_summary() {
        eprintln!("{}: {line}", config.name);
    }
    let server = match make(kit) {
        Ok(server) => server,
        Err(error) => {
            eprintln!("{}: {error}", config.name);
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("{}: cannot start the async runtime: {error}", config.name);
            return ExitCode::FAILURE;
        }
    };
    let name = config.name.clone();
    match runtime.block_on(http::serve(config, spec.version, server)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{name}: {error}");
            ExitCode::FAILURE
        }
    }
}
