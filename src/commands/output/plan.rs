//! The plan-shaped outputs: `validate`, `diff`, `deploy` and `destroy`.

use schemars::JsonSchema;
use serde::Serialize;

use super::DiagnosticRecord;
use crate::commands::tool_lock::Drift;
use crate::model::{Op, ServiceKey};
use crate::plan::Plan;

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
    pub tools: Vec<Drift>,
    /// The plan's monthly cost (absent with `--local`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<CostChange>,
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
    /// The plan's monthly cost (see `scalewize cost`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<CostChange>,
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

/// `destroy --json` (also with `--dry-run`: `removed: 0`).
#[derive(Serialize, JsonSchema)]
pub struct DestroyOutput {
    /// What is (or would be) removed: only `delete` actions.
    pub plan: Plan,
    /// Why a shared server goes too (no other deployed client uses it).
    pub notes: Vec<String>,
    /// Resources removed by this run.
    pub removed: usize,
    /// `<service>: <reason>` for each removal that failed.
    pub failures: Vec<String>,
}

/// A plan's monthly cost in US dollars, as decimal strings with two decimals: the live services
/// it covers (`before`), the desired state (`after`) and the signed difference (`"+1.94"`).
#[derive(Serialize, JsonSchema)]
pub struct CostChange {
    pub before: String,
    pub after: String,
    pub change: String,
}
