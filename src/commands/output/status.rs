//! `status --json`.

use schemars::JsonSchema;
use serde::Serialize;

use crate::commands::tool_lock::Drift;
use crate::model::{ServiceKey, State};
use crate::workspace::PlatformName;

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
    pub tools_drift: Vec<Drift>,
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
