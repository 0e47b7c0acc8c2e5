//! What the emulator records for tests: the request log, fault and rate-limit history,
//! rejected keys, counters and state snapshots.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::schema::ProblemKind;

/// A kind of injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    Latency,
    ServerError,
    LostResponse,
    TimeoutButCreated,
    /// Set on the `POST /v1/apps` that started a lag, and on every 404 the lag caused.
    AppCreateLag,
    LeaseConflict,
    TooManyRequests,
    /// Not answered because of `Faults::stop_after`.
    Stopped,
}

impl FaultKind {
    pub(crate) const ALL: [FaultKind; 7] = [
        FaultKind::Latency,
        FaultKind::ServerError,
        FaultKind::LostResponse,
        FaultKind::TimeoutButCreated,
        FaultKind::AppCreateLag,
        FaultKind::LeaseConflict,
        FaultKind::TooManyRequests,
    ];

    pub(crate) fn index(self) -> usize {
        self as usize
    }

    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::Latency => "latency",
            FaultKind::ServerError => "server_error",
            FaultKind::LostResponse => "lost_response",
            FaultKind::TimeoutButCreated => "timeout_but_created",
            FaultKind::AppCreateLag => "app_create_lag",
            FaultKind::LeaseConflict => "lease_conflict",
            FaultKind::TooManyRequests => "too_many_requests",
            FaultKind::Stopped => "stopped",
        }
    }
}

/// One request as received, with what the emulator did with it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoggedRequest {
    /// 1-based arrival number.
    pub seq: u64,
    pub method: String,
    /// Path as sent (percent-encoding kept).
    pub path: String,
    pub query: Option<String>,
    /// Lower-case names; `authorization` keeps only its scheme and `fly-machine-lease-nonce`
    /// is replaced by `<redacted>`.
    pub headers: Vec<(String, String)>,
    /// The body text exactly as sent (None when empty).
    pub body: Option<String>,
    /// The body parsed as JSON, when it parsed.
    pub json: Option<Value>,
    /// The rate-limit action name of the route (`create_machine`, `get_machine`, ...).
    pub action: Option<String>,
    /// Status sent; None when no response was sent (dropped or hung connection).
    pub status: Option<u16>,
    /// Response body text (None when empty or not sent; for a lost response, the body that
    /// would have been sent).
    pub response: Option<String>,
    /// Status the handler produced before a fault rewrote or dropped the answer (None when the
    /// request never reached a handler).
    pub applied_status: Option<u16>,
    /// Faults injected into this request.
    pub faults: Vec<FaultKind>,
    /// Virtual seconds since start at arrival.
    pub at: f64,
}

/// A key or value the strict validation refused.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rejection {
    pub seq: u64,
    pub method: String,
    pub path: String,
    /// Path inside the body (`config.services[0].auto_stop_machines`) or `?param` for a query
    /// parameter.
    pub location: String,
    pub key: Option<String>,
    pub kind: ProblemKind,
    pub message: String,
}

/// A 429, natural (bucket empty) or injected.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RateLimitEvent {
    pub seq: u64,
    pub action: String,
    pub identifier: String,
    /// Whole virtual seconds announced in `Retry-After` (None when not sent).
    pub retry_after: Option<u64>,
    pub injected: bool,
    pub at: f64,
}

/// A request that reached a bucket before the `Retry-After` the emulator announced for that
/// bucket had elapsed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RateViolation {
    pub seq: u64,
    pub action: String,
    pub identifier: String,
    /// Virtual seconds still to wait when the request arrived.
    pub early_by: f64,
    /// The 429 whose announcement was not honoured.
    pub announced_by_seq: u64,
    pub at: f64,
}

/// Counts of injected faults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FaultCounts {
    pub latency: u64,
    pub server_error: u64,
    pub lost_response: u64,
    pub timeout_but_created: u64,
    /// Apps that lagged after create.
    pub app_create_lag: u64,
    /// 404s answered because of a lag.
    pub app_lag_404: u64,
    pub lease_conflict: u64,
    pub too_many_requests: u64,
    pub stopped: u64,
}

impl FaultCounts {
    pub(crate) fn bump(&mut self, kind: FaultKind) {
        match kind {
            FaultKind::Latency => self.latency += 1,
            FaultKind::ServerError => self.server_error += 1,
            FaultKind::LostResponse => self.lost_response += 1,
            FaultKind::TimeoutButCreated => self.timeout_but_created += 1,
            FaultKind::AppCreateLag => self.app_create_lag += 1,
            FaultKind::LeaseConflict => self.lease_conflict += 1,
            FaultKind::TooManyRequests => self.too_many_requests += 1,
            FaultKind::Stopped => self.stopped += 1,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    pub requests: u64,
    pub by_status: BTreeMap<u16, u64>,
    /// Requests per action name.
    pub by_action: BTreeMap<String, u64>,
    /// Requests that changed state (2xx on a mutating route).
    pub mutations: u64,
    /// Natural 429s (bucket empty).
    pub rate_limited: u64,
    pub rate_violations: u64,
    pub unauthorized: u64,
    /// Requests refused by validation (400).
    pub invalid_requests: u64,
    /// Refused keys (unknown, fly.toml-only, legacy, misplaced), over all requests.
    pub rejected_keys: u64,
    /// Of those, fly.toml-only names and legacy forms (`auto_stop_machines`, `app_name`,
    /// boolean `autostop`, ...).
    pub flytoml_or_legacy_names: u64,
    pub faults: FaultCounts,
}

/// Normalised state, for assertions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snapshot {
    /// Sorted by name.
    pub apps: Vec<AppSnapshot>,
}

impl Snapshot {
    pub fn app(&self, name: &str) -> Option<&AppSnapshot> {
        self.apps.iter().find(|a| a.name == name)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AppSnapshot {
    pub name: String,
    pub id: String,
    pub org_slug: String,
    pub network: Option<String>,
    /// `<app>.fly.dev` (notes l.144-146).
    pub hostname: String,
    pub status: String,
    /// Current secrets version (0 before any secret was set).
    pub secrets_version: u64,
    /// Sorted by name.
    pub secrets: Vec<SecretSnapshot>,
    /// In assignment order.
    pub ips: Vec<IpSnapshot>,
    /// Live (not destroyed) machines, sorted by (name, id).
    pub machines: Vec<MachineSnapshot>,
    pub destroyed_machines: usize,
    /// Still inside an injected create lag (answers 404).
    pub lagging: bool,
}

impl AppSnapshot {
    pub fn machine(&self, name: &str) -> Option<&MachineSnapshot> {
        self.machines.iter().find(|m| m.name == name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecretSnapshot {
    pub name: String,
    pub digest: String,
    /// The app secrets version in which this secret was last set.
    pub version: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IpSnapshot {
    pub ip: String,
    /// The `type` it was assigned with (`v6`, `shared_v4`, ...).
    pub kind: String,
    pub region: String,
    pub service_name: Option<String>,
    pub shared: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MachineSnapshot {
    pub id: String,
    pub name: String,
    pub region: String,
    pub state: String,
    pub instance_id: String,
    /// How many versions the machine had (1 + updates).
    pub versions: usize,
    pub config: Value,
    pub metadata: BTreeMap<String, String>,
    /// The app secrets version the machine last booted with (None: never booted).
    pub booted_secrets_version: Option<u64>,
    /// Secret name → digest the machine last booted with.
    pub booted_secrets: BTreeMap<String, String>,
    /// The secrets the machine booted with differ from the app's current ones (notes l.131-132).
    pub stale_secrets: bool,
    pub lease: Option<LeaseSnapshot>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LeaseSnapshot {
    pub owner: String,
    pub description: String,
    /// Virtual seconds left.
    pub expires_in: f64,
}
