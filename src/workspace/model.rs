//! The typed, validated workspace: what every later step (render, plan, deploy) works from.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::error::Location;

pub use super::files::{
    CredentialMode, OAuthSettings, PlatformName, RailwaySource, RunSpec, ServerInstructions,
    ServerKind, ServerManifest, Size, Transport, UserVar,
};

pub const DEFAULT_SIZE: Size = Size {
    cpus: 1,
    memory_mb: 256,
};
pub const DEFAULT_PORT: u16 = 8080;
pub const DEFAULT_PREFIX: &str = "sw";

/// Workspace-wide settings (`scalewize.json` at the root, all optional).
#[derive(Debug, Clone)]
pub struct Settings {
    pub prefix: String,
    pub recipients: Vec<String>,
    /// `identity_file` as written (relative to the root); the secret store resolves it.
    pub identity_file: Option<PathBuf>,
    pub railway: super::files::RailwaySettings,
    pub fly: super::files::FlySettings,
    pub rollout: super::files::RolloutSettings,
    /// Price overrides for `scalewize cost`, with the file they came from.
    pub prices: Option<PriceOverride>,
}

#[derive(Debug, Clone)]
pub struct PriceOverride {
    pub file: PathBuf,
    pub prices: super::prices::PriceFile,
}

/// One client, after `default` is merged under it and every rule has passed.
#[derive(Debug, Clone)]
pub struct Client {
    pub id: String,
    pub name: String,
    pub dir: PathBuf,
    /// The client's `mcp-servers.json`.
    pub file: PathBuf,
    pub platform: PlatformName,
    /// Enabled servers, in order: inherited ones first, then the client's own.
    pub servers: Vec<Server>,
    pub librechat: LibreChat,
    pub users: Vec<User>,
}

impl Client {
    pub fn server(&self, slug: &str) -> Option<&Server> {
        self.servers.iter().find(|s| s.slug == slug)
    }
    /// Servers that appear in this client's `librechat.yaml` (all but per-user instances).
    pub fn librechat_servers(&self) -> impl Iterator<Item = &Server> {
        self.servers
            .iter()
            .filter(|s| s.credential_mode != CredentialMode::PerUserInstance)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub name: Option<String>,
}

#[derive(Debug, Clone)]
pub struct LibreChat {
    pub image: Option<String>,
    pub domain: Option<String>,
    pub env: BTreeMap<String, String>,
    pub secrets: Vec<String>,
    /// Which file each `env` entry comes from (`default`'s when the client does not set it).
    pub env_origin: BTreeMap<String, crate::error::Location>,
    /// LibreChat variables the config may set on purpose (`librechat.env_override`).
    pub env_override: std::collections::BTreeSet<String>,
    pub platform: PlatformName,
    pub region: Option<String>,
    pub size: Option<Size>,
}

/// One MCP server as one client uses it.
#[derive(Debug, Clone)]
pub struct Server {
    /// Display name (the merge key).
    pub name: String,
    /// The server folder's name; also the `mcpServers` key.
    pub slug: String,
    pub kind: ServerKind,
    pub title: Option<String>,
    pub description: Option<String>,
    /// Where the entry is written (the client's file, or `default`'s for an inherited one).
    pub origin: Location,
    pub source: ServerSource,
    pub credential_mode: CredentialMode,
    pub user_vars: Vec<UserVar>,
    /// Static headers LibreChat sends (external servers).
    pub headers: BTreeMap<String, String>,
    /// Secret names LibreChat needs for this server's headers (external servers).
    pub header_secrets: Vec<String>,
    pub oauth_required: bool,
    pub oauth: Option<OAuthSettings>,
    pub render: RenderOptions,
    /// `per-user-instance`: the users who get an instance.
    pub users: Vec<String>,
    /// The client's tool filter (deployed client-specific servers only).
    pub tools: Option<ToolRule>,
}

/// The server contract's variables that carry a client's tool filter (docs/server-contract.md).
pub const TOOLS_ALLOW_ENV: &str = "MCP_TOOLS_ALLOW";
pub const TOOLS_DENY_ENV: &str = "MCP_TOOLS_DENY";

/// A checked tool filter: which names, and whether they are the only ones or the excluded ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolRule {
    Allow(Vec<String>),
    Deny(Vec<String>),
}

impl ToolRule {
    /// The variable and value of the server contract that carries this rule.
    pub fn env(&self) -> (&'static str, String) {
        match self {
            ToolRule::Allow(n) => (TOOLS_ALLOW_ENV, n.join(",")),
            ToolRule::Deny(n) => (TOOLS_DENY_ENV, n.join(",")),
        }
    }
    pub fn names(&self) -> &[String] {
        match self {
            ToolRule::Allow(n) | ToolRule::Deny(n) => n,
        }
    }
}

impl Server {
    pub fn url_var(&self) -> String {
        super::naming::url_var(&self.slug)
    }
    /// The access-token variable, for deployed servers.
    pub fn token_var(&self) -> Option<String> {
        self.deployed()
            .map(|_| super::naming::token_var(&self.slug))
    }
    pub fn deployed(&self) -> Option<&Deployed> {
        match &self.source {
            ServerSource::Deployed(d) => Some(d),
            ServerSource::External { .. } => None,
        }
    }
    pub fn transport(&self) -> Transport {
        match &self.source {
            ServerSource::External { transport, .. } => *transport,
            ServerSource::Deployed(_) => Transport::StreamableHttp,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RenderOptions {
    pub timeout: Option<u64>,
    pub init_timeout: Option<u64>,
    pub startup: Option<bool>,
    pub chat_menu: Option<bool>,
    pub server_instructions: Option<ServerInstructions>,
    pub icon_path: Option<String>,
}

#[derive(Debug, Clone)]
pub enum ServerSource {
    /// Rendered, never deployed; health is an HTTP check.
    External {
        url: String,
        transport: Transport,
    },
    Deployed(Box<Deployed>),
}

/// Who owns a deployed service: shared servers are deployed once for every client.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Owner {
    Shared,
    Client(String),
}

impl Owner {
    pub fn label(&self) -> &str {
        match self {
            Owner::Shared => "shared",
            Owner::Client(c) => c,
        }
    }
}

/// A server scalewize deploys from its folder.
#[derive(Debug, Clone)]
pub struct Deployed {
    pub folder: PathBuf,
    pub manifest_path: PathBuf,
    pub owner: Owner,
    pub platform: PlatformName,
    pub region: Option<String>,
    pub size: Size,
    pub port: u16,
    pub path: String,
    pub health_path: String,
    pub env: BTreeMap<String, String>,
    /// Secrets the server needs in its environment (from the owner's store).
    pub secrets: Vec<String>,
    pub run: Option<RunSpec>,
    pub image: Option<String>,
    pub railway: Option<RailwaySource>,
    pub usage: Option<super::prices::Usage>,
}
