//! The files a user edits, exactly as they are on disk. Every field scalewize adds is optional,
//! so a seed-001 `mcp-servers.json` loads verbatim; unknown keys are errors. The JSON Schemas
//! shipped in `schemas/` are generated from these types (doc comments become descriptions).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `client-configs/<client>/mcp-servers.json` (and `client-configs/default/mcp-servers.json`,
/// whose values every client inherits).
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientFile {
    /// Path or URL of the JSON Schema, for editors.
    #[serde(rename = "$schema")]
    pub schema: Option<String>,
    /// The client id: the folder's name (lowercase letters, digits and `-`, starting with a letter, at most 30 characters).
    pub client_id: Option<String>,
    /// The client's display name.
    pub client_name: Option<String>,
    /// The MCP servers this client's LibreChat uses. Entries merge with `default`'s by `name`.
    pub mcp_servers: Option<Vec<ServerEntry>>,
    /// The client's LibreChat deployment.
    pub librechat: Option<LibreChatSettings>,
    /// Where this client's services deploy unless a manifest says otherwise: `local`, `railway` or `fly`.
    pub platform: Option<PlatformName>,
    /// End users, for servers whose credential mode is `per-user-instance` (one instance each).
    pub users: Option<Vec<UserEntry>>,
}

/// One MCP server as a client uses it.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServerEntry {
    /// Display name; also the key entries merge by. "Custom CRM" derives the server `custom-crm-mcp`.
    pub name: String,
    /// `shared` (deployed once, used by many clients) or `client-specific`.
    #[serde(rename = "type")]
    pub kind: Option<ServerKind>,
    /// An external server's URL: rendered, never deployed. Without it the server's folder is deployed.
    pub url: Option<String>,
    /// `false` drops the server (and an inherited one). Default `true`.
    pub enabled: Option<bool>,
    /// The server needs OAuth; with no `oauth` block LibreChat discovers it.
    pub oauth_required: Option<bool>,
    /// The server's folder name, when it is not the one derived from `name`.
    pub server: Option<String>,
    /// Transport of an external server. Deployed servers always speak `streamable-http`.
    pub transport: Option<Transport>,
    /// Title shown in LibreChat (default: `name`, when it fits LibreChat's title pattern).
    pub title: Option<String>,
    /// Description shown in LibreChat (free text).
    pub description: Option<String>,
    /// How the server gets credentials (external servers; deployed ones take it from their manifest).
    pub credential_mode: Option<CredentialMode>,
    /// Values each end user enters in LibreChat, sent as headers (`per-user-header`).
    pub user_vars: Option<Vec<UserVar>>,
    /// Static headers LibreChat sends to an external server; values may reference `${NAME}` of a listed secret.
    pub headers: Option<BTreeMap<String, String>>,
    /// Secrets from the client's store that `headers` reference (external servers).
    pub secrets: Option<Vec<String>>,
    /// OAuth settings rendered into LibreChat's `oauth:` block; the client id and secret come from the store.
    pub oauth: Option<OAuthSettings>,
    /// LibreChat `timeout`, in milliseconds.
    pub timeout: Option<u64>,
    /// LibreChat `initTimeout`, in milliseconds.
    pub init_timeout: Option<u64>,
    /// LibreChat `startup`: connect when LibreChat starts.
    pub startup: Option<bool>,
    /// LibreChat `chatMenu`: show the server in the chat menu.
    pub chat_menu: Option<bool>,
    /// LibreChat `serverInstructions`: `true` for the server's own, or custom text.
    pub server_instructions: Option<ServerInstructions>,
    /// LibreChat `iconPath`.
    pub icon_path: Option<String>,
    /// Deploy settings of a client-specific server, over its manifest's.
    pub deploy: Option<DeployOverrides>,
    /// `per-user-instance`: the client's users who get an instance (default: all of them).
    pub users: Option<Vec<String>>,
    /// Only these tools (`allow`), or all but these (`deny`): enforced by the deployed server
    /// (`MCP_TOOLS_ALLOW` / `MCP_TOOLS_DENY`). Not for external servers: LibreChat cannot
    /// filter a server's tools (LibreChat#8783).
    pub tools: Option<ToolFilter>,
}

/// A client's tool allowlist or denylist for one server (exactly one of the two).
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ToolFilter {
    /// The only tools the server lists and runs for this client.
    pub allow: Option<Vec<String>>,
    /// Tools the server hides and refuses for this client.
    pub deny: Option<Vec<String>>,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum ServerKind {
    Shared,
    ClientSpecific,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Transport {
    StreamableHttp,
    Sse,
}

impl Transport {
    pub fn as_librechat(self) -> &'static str {
        match self {
            Transport::StreamableHttp => "streamable-http",
            Transport::Sse => "sse",
        }
    }
}

/// Where a server reads its credentials, which decides where it is placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CredentialMode {
    /// No credentials.
    None,
    /// One set of secrets for the client's instance, in its environment at start.
    Service,
    /// One multi-tenant instance; each end user's key arrives as a header from LibreChat.
    PerUserHeader,
    /// The server reads credentials only at start: one instance per listed user.
    PerUserInstance,
}

impl CredentialMode {
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialMode::None => "none",
            CredentialMode::Service => "service",
            CredentialMode::PerUserHeader => "per-user-header",
            CredentialMode::PerUserInstance => "per-user-instance",
        }
    }
}

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    JsonSchema,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
#[value(rename_all = "lowercase")]
pub enum PlatformName {
    Local,
    Railway,
    Fly,
}

impl PlatformName {
    pub fn as_str(self) -> &'static str {
        match self {
            PlatformName::Local => "local",
            PlatformName::Railway => "railway",
            PlatformName::Fly => "fly",
        }
    }
    pub fn is_cloud(self) -> bool {
        self != PlatformName::Local
    }
}

impl std::fmt::Display for PlatformName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ServerInstructions {
    Flag(bool),
    Text(String),
}

/// A value each end user enters in LibreChat (`customUserVars`), sent to the server as a header.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserVar {
    /// Variable name, upper snake case (`GHL_API_KEY`); LibreChat substitutes `{{GHL_API_KEY}}`.
    pub name: String,
    /// The request header carrying it (`X-GHL-Api-Key`).
    pub header: Option<String>,
    /// Shown to the user in LibreChat's MCP settings.
    pub title: String,
    /// Help text shown to the user (LibreChat requires it).
    pub description: String,
    /// Masked in LibreChat's UI (default `true`).
    pub sensitive: Option<bool>,
    /// The server's own environment variable used when the header is absent.
    pub env_fallback: Option<String>,
}

/// OAuth for a server; rendered into LibreChat's `oauth:` block. `redirect_uri` is LibreChat's default.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OAuthSettings {
    pub authorization_url: Option<String>,
    pub token_url: Option<String>,
    pub scope: Option<String>,
    pub revocation_endpoint: Option<String>,
    /// Whether a client secret is used (stored as `<SLUG>_OAUTH_CLIENT_SECRET`). Default `true`.
    pub client_secret: Option<bool>,
    /// `default_post` or `basic_auth_header`.
    pub token_exchange_method: Option<TokenExchangeMethod>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TokenExchangeMethod {
    DefaultPost,
    BasicAuthHeader,
}

/// Deploy settings a client may set for its own (client-specific) servers.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeployOverrides {
    pub platform: Option<PlatformName>,
    pub region: Option<String>,
    pub size: Option<Size>,
    /// Static, non-secret environment over the manifest's `env`.
    pub env: Option<BTreeMap<String, String>>,
}

/// CPU and memory of one instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Size {
    pub cpus: u32,
    pub memory_mb: u32,
}

/// The client's LibreChat.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LibreChatSettings {
    /// The LibreChat image, pinned by tag or digest (required to deploy LibreChat to a cloud).
    pub image: Option<String>,
    /// Public base URL (`DOMAIN_CLIENT`/`DOMAIN_SERVER`); default: the platform's URL, known after deploy.
    pub domain: Option<String>,
    /// Extra static environment (non-secret), e.g. `ALLOW_REGISTRATION`.
    pub env: Option<BTreeMap<String, String>>,
    /// Extra secrets from the store passed to LibreChat, e.g. `OPENAI_API_KEY`.
    pub secrets: Option<Vec<String>>,
    /// Names LibreChat itself reads (its `.env.example`) that `env`, a server's URL or token
    /// variable or a header secret may set anyway, e.g. `["ALLOW_REGISTRATION"]`. Without it such
    /// a name is an error. `default`'s list and the client's add up.
    pub env_override: Option<Vec<String>>,
    pub platform: Option<PlatformName>,
    pub region: Option<String>,
    pub size: Option<Size>,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserEntry {
    /// User id: lowercase letters, digits and `-`, starting with a letter, at most 20 characters.
    pub id: String,
    pub name: Option<String>,
}

/// `scalewize.json` in a server folder: how to run and deploy that MCP server.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServerManifest {
    #[serde(rename = "$schema")]
    pub schema: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    /// How to run it on the `local` platform.
    pub run: Option<RunSpec>,
    /// The image deployed to clouds, pinned by tag or digest. scalewize builds no images.
    pub image: Option<String>,
    /// Railway only: deploy from this repository; the root directory is the server folder.
    pub railway: Option<RailwaySource>,
    /// Port the server listens on (`PORT`). Default 8080.
    pub port: Option<u16>,
    /// MCP endpoint path. Default `/mcp`.
    pub path: Option<String>,
    /// Health check path. Default `/health`.
    pub health_path: Option<String>,
    pub credential_mode: Option<CredentialMode>,
    pub user_vars: Option<Vec<UserVar>>,
    /// Secrets (from the store) the server needs in its environment.
    pub secrets: Option<Vec<String>>,
    /// Static, non-secret environment.
    pub env: Option<BTreeMap<String, String>>,
    pub size: Option<Size>,
    pub region: Option<String>,
    /// Where a shared server deploys (clients' platforms do not apply to it).
    pub platform: Option<PlatformName>,
    /// Expected usage, for `scalewize cost` (e.g. `{"cpu": 0.01, "memory_mb": 150, "active_fraction": 0.2}`).
    pub usage: Option<super::prices::Usage>,
}

/// Exactly one of `cargo_bin` (a binary of the root Cargo workspace) or `command`.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunSpec {
    pub cargo_bin: Option<String>,
    /// Program and arguments, run in the server folder.
    pub command: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RailwaySource {
    /// `owner/repo` on GitHub.
    pub repo: String,
    pub branch: String,
}

/// `scalewize.json` at the workspace root: settings for the whole workspace.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceFile {
    #[serde(rename = "$schema")]
    pub schema: Option<String>,
    /// Prefix of every name scalewize creates on a platform (default `sw`).
    pub prefix: Option<String>,
    /// age public keys (`age1…`) the secret store encrypts every value to: one per person or CI
    /// system that may read the secrets (`scalewize secret keygen` makes a key pair).
    pub recipients: Option<Vec<String>>,
    /// A file holding the age identity (secret key) that decrypts the store, relative to the
    /// workspace root; used when neither `SCALEWIZE_AGE_KEY` nor `SCALEWIZE_AGE_KEY_FILE` is set.
    /// Keep real keys out of git: scalewize warns when this file is committed.
    pub identity_file: Option<String>,
    pub railway: Option<RailwaySettings>,
    pub fly: Option<FlySettings>,
    /// Price overrides for `scalewize cost` (negotiated prices, a region's markup): only the
    /// figures stated replace the built-in ones. Or put them in `prices.json` beside this file.
    pub prices: Option<super::prices::PriceFile>,
    /// How `deploy` rolls a change out to many clients (see `deploy --waves`).
    pub rollout: Option<RolloutSettings>,
}

/// Rollouts in waves: the `canary` clients always form the first wave; `waves` are cumulative
/// sizes (`"1"`, `"10%"`, `"100%"`); each wave must pass its gate before the next starts.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RolloutSettings {
    /// Clients deployed (and gated) first, in this order.
    pub canary: Option<Vec<String>>,
    /// Default waves for `deploy` when `--waves` is not given, e.g. `["1", "10%", "100%"]`.
    pub waves: Option<Vec<String>>,
    /// Clients per wave allowed to fail their gate before the rollout stops (default 0).
    pub max_failures: Option<u32>,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RailwaySettings {
    /// Workspace to create projects in (or `RAILWAY_WORKSPACE_ID`).
    pub workspace_id: Option<String>,
    /// `free`, `hobby`, `pro` or `enterprise`: sets the request rate limits.
    pub plan: Option<String>,
    pub requests_per_second: Option<u32>,
    pub requests_per_hour: Option<u32>,
    pub region: Option<String>,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FlySettings {
    /// Organization slug (or `FLY_ORG`).
    pub org: Option<String>,
    /// Default region, e.g. `iad`.
    pub region: Option<String>,
}
