//! The `--json` contract: every command that reports prints one envelope
//! `{"version": 1, "command": "<name>", ...}` whose records name services the same way
//! (`key: {owner, service, user}`) and leave optional fields out instead of writing `null`.
//! The JSON Schemas in `schemas/output/` are generated from these types (a test fails when the
//! shipped copy is stale), so the documentation cannot drift from what is printed.

use schemars::{JsonSchema, Schema};
use serde::Serialize;

use crate::error::{Diagnostic, Severity};
use crate::model::{Op, ServiceKey, State};
use crate::plan::Plan;
use crate::ui::Ui;
use crate::workspace::PlatformName;

/// The format of every `--json` output; bumped only by an incompatible change.
pub const JSON_VERSION: u32 = 1;

/// Where the output schemas are shipped, relative to the workspace root.
pub const OUTPUT_SCHEMA_DIR: &str = "schemas/output";

/// What every `--json` output starts with; the command's own fields follow at the top level.
#[derive(Serialize, JsonSchema)]
pub struct Envelope<T> {
    /// The format version (1).
    pub version: u32,
    /// The command that printed it: `validate`, `diff`, `deploy`, `status`, `secret list`.
    pub command: String,
    #[serde(flatten)]
    pub body: T,
}

/// Print `body` in the envelope of `command` (the only thing on stdout with `--json`).
pub fn emit<T: Serialize>(ui: &Ui, command: &str, body: T) {
    let envelope = Envelope {
        version: JSON_VERSION,
        command: command.to_string(),
        body,
    };
    ui.json_out(&serde_json::to_value(&envelope).unwrap_or_default());
}

/// One finding of `validate` (or of a failed `diff`), with the file relative to the workspace.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DiagnosticRecord {
    pub severity: Severity,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    /// Path inside the document, e.g. `mcp_servers[2].url`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl DiagnosticRecord {
    pub fn new(d: &Diagnostic, ws: &crate::workspace::Workspace) -> Self {
        DiagnosticRecord {
            severity: d.severity,
            file: d
                .location
                .file
                .as_deref()
                .map(|f| ws.relative(f).display().to_string()),
            line: d.location.line,
            column: d.location.column,
            path: d.location.path.clone(),
            message: d.message.clone(),
            hint: d.hint.clone(),
        }
    }
}

/// `validate --json`.
#[derive(Serialize, JsonSchema)]
pub struct ValidateOutput {
    pub clients: Vec<ValidateClient>,
    pub summary: ValidateSummary,
}

#[derive(Serialize, JsonSchema)]
pub struct ValidateClient {
    pub client: String,
    pub valid: bool,
    pub diagnostics: Vec<DiagnosticRecord>,
}

#[derive(Serialize, JsonSchema)]
pub struct ValidateSummary {
    pub clients: usize,
    pub invalid: usize,
}

/// `diff --json`.
#[derive(Serialize, JsonSchema)]
pub struct DiffOutput {
    /// `files` with `--local`, else `files+platforms`.
    pub layer: DiffLayer,
    /// The generated-files layer, per client.
    pub clients: Vec<DiffClient>,
    /// The platform layer (absent with `--local`): what `deploy` would do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<Plan>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changed_since: Option<ChangedSince>,
    /// The tools layer: running services whose tools differ from their client's tools.lock.json.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<super::tool_lock::Drift>,
    /// The plan's monthly cost: `{before, after, change}` in USD (absent with `--local`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<serde_json::Value>,
    pub summary: DiffSummary,
}

#[derive(Clone, Copy, Serialize, JsonSchema)]
pub enum DiffLayer {
    #[serde(rename = "files")]
    Files,
    #[serde(rename = "files+platforms")]
    FilesAndPlatforms,
}

#[derive(Serialize, JsonSchema)]
pub struct DiffClient {
    pub client: String,
    pub files: Vec<FileRecord>,
}

/// A generated file that would change.
#[derive(Serialize, JsonSchema)]
pub struct FileRecord {
    /// Relative to the workspace root.
    pub path: String,
    pub action: Op,
    /// A unified diff (`a/<path>` → `b/<path>`).
    pub diff: String,
}

#[derive(Serialize, JsonSchema)]
pub struct ChangedSince {
    #[serde(rename = "ref")]
    pub reference: String,
    /// The clients affected since `ref` (before any client selection).
    pub clients: Vec<String>,
    /// Clients whose folder was deleted since `ref` (their resources remain until `destroy`).
    pub deleted_clients: Vec<String>,
}

/// Counts of every layer; `create`/`update`/`delete` are the totals over files and platforms.
#[derive(Serialize, JsonSchema)]
pub struct DiffSummary {
    pub create: usize,
    pub update: usize,
    pub delete: usize,
    pub files: Counts,
    /// Absent with `--local`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<PlatformCounts>,
    /// Secret values the platform layer would set or change (compared by fingerprint).
    pub secrets: usize,
    /// Services whose served tools differ from the lock (the tools layer).
    pub tools: usize,
    /// Clients in the selection.
    pub clients: usize,
    /// Clients with a file or platform change (shared services count for the clients they serve).
    pub clients_with_changes: usize,
}

#[derive(Default, Serialize, JsonSchema)]
pub struct Counts {
    pub create: usize,
    pub update: usize,
    pub delete: usize,
}

#[derive(Serialize, JsonSchema)]
pub struct PlatformCounts {
    pub create: usize,
    pub update: usize,
    pub delete: usize,
    pub unchanged: usize,
}

impl PlatformCounts {
    pub fn of(plan: &Plan) -> Self {
        PlatformCounts {
            create: plan.count(Op::Create),
            update: plan.count(Op::Update),
            delete: plan.count(Op::Delete),
            unchanged: plan.unchanged.len(),
        }
    }
}

/// `deploy --json` (also with `--dry-run`: no results, `changed: false`).
#[derive(Serialize, JsonSchema)]
pub struct DeployOutput {
    pub plan: Plan,
    /// Whether anything was applied.
    pub changed: bool,
    pub results: Vec<ClientResultRecord>,
    /// The plan's monthly cost: `{before, after, change}` in USD (see `scalewize cost`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<serde_json::Value>,
}

/// One client's result of a deploy.
#[derive(Serialize, JsonSchema)]
pub struct ClientResultRecord {
    pub client: String,
    pub ok: bool,
    /// Actions of the plan that concern this client (its services and shared ones it uses).
    pub changes: usize,
    /// `<service>: <reason>` for each step that failed or was skipped.
    pub failures: Vec<String>,
    /// LibreChat's URL, once deployed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub librechat: Option<String>,
    pub services: Vec<ServiceUrl>,
}

#[derive(Serialize, JsonSchema)]
pub struct ServiceUrl {
    pub key: ServiceKey,
    pub url: String,
}

/// `status --json`.
#[derive(Serialize, JsonSchema)]
pub struct StatusOutput {
    pub services: Vec<ServiceStatus>,
    /// Servers with a `url`: not run by scalewize, checked over HTTP; they do not change the exit code.
    pub external: Vec<ExternalStatus>,
    /// Present with `--orphans`: owned resources no config describes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub orphans: Option<Vec<OrphanRecord>>,
    pub summary: StatusSummary,
    /// Services whose served tools differ from their client's tools.lock.json.
    pub tools_drift: Vec<super::tool_lock::Drift>,
}

#[derive(Serialize, JsonSchema)]
pub struct ServiceStatus {
    pub key: ServiceKey,
    pub platform: PlatformName,
    pub clients: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    pub state: ServiceState,
    /// A short reason when not running.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    pub healthy: bool,
    /// The MCP probe (initialize + tools/list), when the service is a running MCP server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mcp: Option<ProbeRecord>,
}

/// What the platform reports, or `missing` when nothing is deployed.
#[derive(Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ServiceState {
    Running,
    Starting,
    Down,
    Crashloop,
    /// Local LibreChat without Docker: its config is written, nothing runs.
    ConfigOnly,
    Missing,
}

impl ServiceState {
    pub fn of(state: Option<&State>) -> Self {
        match state {
            None => ServiceState::Missing,
            Some(State::Running) => ServiceState::Running,
            Some(State::Starting) => ServiceState::Starting,
            Some(State::Down) => ServiceState::Down,
            Some(State::Crashloop) => ServiceState::Crashloop,
            Some(State::ConfigOnly) => ServiceState::ConfigOnly,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceState::Running => "running",
            ServiceState::Starting => "starting",
            ServiceState::Down => "down",
            ServiceState::Crashloop => "crashloop",
            ServiceState::ConfigOnly => "config-only",
            ServiceState::Missing => "missing",
        }
    }
}

#[derive(Clone, Serialize, JsonSchema)]
pub struct ProbeRecord {
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tools: Option<usize>,
    pub latency_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl From<&crate::probe::Probe> for ProbeRecord {
    fn from(p: &crate::probe::Probe) -> Self {
        ProbeRecord {
            ok: p.ok,
            tools: p.tools,
            latency_ms: u64::try_from(p.latency_ms).unwrap_or(u64::MAX),
            error: p.error.clone(),
        }
    }
}

#[derive(Serialize, JsonSchema)]
pub struct ExternalStatus {
    /// The server's slug.
    pub server: String,
    pub clients: Vec<String>,
    pub url: String,
    pub reachable: bool,
    /// `HTTP <code>` or why it did not answer.
    pub detail: String,
}

#[derive(Serialize, JsonSchema)]
pub struct OrphanRecord {
    pub key: ServiceKey,
    pub platform: PlatformName,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    pub state: State,
}

#[derive(Clone, Copy, Serialize, JsonSchema)]
pub struct StatusSummary {
    pub services: usize,
    /// Services not healthy (the exit code is 1 when this is not 0).
    pub down: usize,
}

/// `secret list --json`: names, owners, sources and fingerprints; never a value.
#[derive(Serialize, JsonSchema)]
pub struct SecretListOutput {
    /// The store listed: a client id, or `default`.
    pub store: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    pub secrets: Vec<SecretRecord>,
    /// Secrets the client needs that nothing provides, with the command that sets each.
    pub missing: Vec<MissingSecret>,
}

/// Whose a secret is: the shared store, a client's, or one end user's.
#[derive(Serialize, JsonSchema)]
pub struct SecretOwner {
    pub scope: SecretScopeKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SecretScopeKind {
    Shared,
    Client,
    User,
}

impl From<&crate::secrets::SecretScope> for SecretOwner {
    fn from(s: &crate::secrets::SecretScope) -> Self {
        use crate::secrets::SecretScope as S;
        match s {
            S::Shared => SecretOwner {
                scope: SecretScopeKind::Shared,
                client: None,
                user: None,
            },
            S::Client(c) => SecretOwner {
                scope: SecretScopeKind::Client,
                client: Some(c.clone()),
                user: None,
            },
            S::User { client, user } => SecretOwner {
                scope: SecretScopeKind::User,
                client: Some(client.clone()),
                user: Some(user.clone()),
            },
        }
    }
}

#[derive(Serialize, JsonSchema)]
pub struct SecretRecord {
    pub name: String,
    /// `acme`, `acme (from default)`, `default (shared)`, or a user id.
    pub owner: String,
    #[serde(flatten)]
    pub scope: SecretOwner,
    pub source: SecretSourceKind,
    /// The store file holding it, or the environment variable overriding it.
    pub from: String,
    /// `hmac-sha256:…`, keyed by the workspace key: shows a change, never the value.
    pub fingerprint: String,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SecretSourceKind {
    Store,
    Override,
}

#[derive(Serialize, JsonSchema)]
pub struct MissingSecret {
    pub name: String,
    pub owner: String,
    #[serde(flatten)]
    pub scope: SecretOwner,
    pub purpose: String,
    /// The command that sets it.
    pub command: String,
}

impl From<&crate::render::Row> for SecretRecord {
    fn from(r: &crate::render::Row) -> Self {
        SecretRecord {
            name: r.name.clone(),
            owner: r.owner.clone(),
            scope: (&r.scope).into(),
            source: if r.source == "override" {
                SecretSourceKind::Override
            } else {
                SecretSourceKind::Store
            },
            from: r.from.clone(),
            fingerprint: r.fingerprint.to_string(),
        }
    }
}

impl From<&crate::render::Missing> for MissingSecret {
    fn from(m: &crate::render::Missing) -> Self {
        MissingSecret {
            name: m.name.clone(),
            owner: m.owner.clone(),
            scope: (&m.scope).into(),
            purpose: m.purpose.clone(),
            command: m.command.clone(),
        }
    }
}

fn schema_of<T: JsonSchema>(command: &str) -> String {
    let schema: Schema = schemars::schema_for!(Envelope<T>);
    let mut v = serde_json::to_value(&schema).expect("schema serializes");
    // Optional fields are left out, never `null`: the schema says so too.
    no_null(&mut v);
    let file = schema_file(command);
    v["$id"] = format!("https://scalewize.dev/schemas/output/{file}").into();
    v["title"] = format!("scalewize {command} --json").into();
    // The envelope names exactly one command per schema.
    v["properties"]["command"] = serde_json::json!({ "const": command });
    v["properties"]["version"] = serde_json::json!({ "const": JSON_VERSION });
    serde_json::to_string_pretty(&v).expect("schema serializes") + "\n"
}

/// Drop `null` from every type (schemars allows it for each `Option`, which we skip instead).
fn no_null(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::Object(map) => {
            if let Some(Value::Array(types)) = map.get_mut("type") {
                types.retain(|t| t != "null");
                if types.len() == 1 {
                    let only = types.remove(0);
                    map.insert("type".into(), only);
                }
            }
            for key in ["anyOf", "oneOf"] {
                if let Some(Value::Array(alts)) = map.get_mut(key) {
                    alts.retain(|a| a.get("type").is_none_or(|t| t != "null"));
                    if alts.len() == 1 {
                        let only = alts.remove(0);
                        map.remove(key);
                        if let Value::Object(o) = only {
                            map.extend(o);
                        }
                    }
                }
            }
            map.values_mut().for_each(no_null);
        }
        Value::Array(items) => items.iter_mut().for_each(no_null),
        _ => {}
    }
}

/// The schema file of a command's output: `secret list` → `secret-list.schema.json`.
pub fn schema_file(command: &str) -> String {
    format!("{}.schema.json", command.replace(' ', "-"))
}

/// Command → schema of its `--json` output, for every command that has one.
pub fn schemas() -> Vec<(&'static str, String)> {
    vec![
        ("validate", schema_of::<ValidateOutput>("validate")),
        ("diff", schema_of::<DiffOutput>("diff")),
        ("deploy", schema_of::<DeployOutput>("deploy")),
        ("status", schema_of::<StatusOutput>("status")),
        ("secret list", schema_of::<SecretListOutput>("secret list")),
    ]
}
