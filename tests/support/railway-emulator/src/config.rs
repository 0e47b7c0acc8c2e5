//! Configuration of an emulator instance: tokens, workspaces, rate limits, time scale and faults.

use std::path::PathBuf;
use std::time::Duration;

/// Id of the workspace that [`Config::default`] creates.
pub const DEFAULT_WORKSPACE_ID: &str = "6f5c2f7e-0b1a-4c39-9d0e-5a1c8b7d2e01";
/// Name of the workspace that [`Config::default`] creates.
pub const DEFAULT_WORKSPACE_NAME: &str = "Emulated Workspace";
/// A workspace token (`Authorization: Bearer`) for [`DEFAULT_WORKSPACE_ID`], plan Pro.
pub const DEFAULT_WORKSPACE_TOKEN: &str = "emulator-workspace-token";
/// An account token (`Authorization: Bearer`) that sees [`DEFAULT_WORKSPACE_ID`], plan Pro.
pub const DEFAULT_ACCOUNT_TOKEN: &str = "emulator-account-token";

/// Railway subscription plan; selects the rate limits of a token (notes §2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Plan {
    Free,
    Hobby,
    Pro,
    /// "custom" limits on Railway; here: [`RateLimits::enterprise`].
    Enterprise,
}

impl Plan {
    /// The value of the schema's `Plan` enum (Enterprise has none and reports `PRO`).
    pub fn graphql_name(self) -> &'static str {
        match self {
            Plan::Free => "FREE",
            Plan::Hobby => "HOBBY",
            Plan::Pro | Plan::Enterprise => "PRO",
        }
    }
}

/// Requests allowed per token per window. Windows are in emulated time (see
/// [`Config::time_scale`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PlanLimits {
    pub per_hour: Option<u32>,
    pub per_second: Option<u32>,
}

/// Rate limits by plan. Defaults follow the notes §2: Free 100/h, Hobby 1000/h and 10/s,
/// Pro 10000/h and 50/s; Enterprise unlimited.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimits {
    pub enabled: bool,
    pub free: PlanLimits,
    pub hobby: PlanLimits,
    pub pro: PlanLimits,
    pub enterprise: PlanLimits,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            enabled: true,
            free: PlanLimits {
                per_hour: Some(100),
                per_second: None,
            },
            hobby: PlanLimits {
                per_hour: Some(1000),
                per_second: Some(10),
            },
            pro: PlanLimits {
                per_hour: Some(10_000),
                per_second: Some(50),
            },
            enterprise: PlanLimits {
                per_hour: None,
                per_second: None,
            },
        }
    }
}

impl RateLimits {
    /// No rate limiting at all.
    pub fn disabled() -> Self {
        RateLimits {
            enabled: false,
            ..Default::default()
        }
    }

    /// The limits of `plan`.
    pub fn for_plan(&self, plan: Plan) -> PlanLimits {
        match plan {
            Plan::Free => self.free,
            Plan::Hobby => self.hobby,
            Plan::Pro => self.pro,
            Plan::Enterprise => self.enterprise,
        }
    }
}

/// What a token may see (notes §1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// Account token (`Authorization: Bearer`): every listed workspace; the only kind that may
    /// query `me`.
    Account { workspace_ids: Vec<String> },
    /// Workspace token (`Authorization: Bearer`): one workspace.
    Workspace { workspace_id: String },
    /// Project token (`Project-Access-Token`): one environment of one project.
    Project {
        project_id: String,
        environment_id: String,
    },
}

/// A token the emulator accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenConfig {
    pub token: String,
    pub kind: TokenKind,
    pub plan: Plan,
}

impl TokenConfig {
    /// An account token over `workspace_ids`.
    pub fn account(token: &str, workspace_ids: &[&str], plan: Plan) -> Self {
        TokenConfig {
            token: token.into(),
            kind: TokenKind::Account {
                workspace_ids: workspace_ids.iter().map(|s| s.to_string()).collect(),
            },
            plan,
        }
    }

    /// A workspace token for `workspace_id`.
    pub fn workspace(token: &str, workspace_id: &str, plan: Plan) -> Self {
        TokenConfig {
            token: token.into(),
            kind: TokenKind::Workspace {
                workspace_id: workspace_id.into(),
            },
            plan,
        }
    }
}

/// A workspace that exists when the emulator starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkspaceConfig {
    pub id: String,
    pub name: String,
    pub plan: Plan,
}

/// Durations (emulated) of the phases of a deployment: `QUEUED → BUILDING → DEPLOYING →
/// SUCCESS`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DeployTimings {
    pub queued: Duration,
    pub building: Duration,
    pub deploying: Duration,
}

impl Default for DeployTimings {
    fn default() -> Self {
        DeployTimings {
            queued: Duration::from_secs(2),
            building: Duration::from_secs(20),
            deploying: Duration::from_secs(10),
        }
    }
}

/// Account settings that change how deployments end (notes §10).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Behaviour {
    /// Every deployment waits for approval (`NEEDS_APPROVAL`) and never finishes by itself.
    pub approval_required: bool,
    /// A successful deployment of a serverless service reads `SLEEPING`.
    pub sleep_when_idle: bool,
}

/// Added latency: `fixed` plus a uniform `0..=jitter`, on a `probability` share of requests.
/// Emulated time: the real delay is multiplied by the time scale.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Latency {
    pub probability: f64,
    pub fixed: Duration,
    pub jitter: Duration,
}

/// List lag: on a `probability` share of requests, list reads omit items created less than
/// `u * max` ago (`u` uniform in `0..1`, drawn per request). Emulated time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ListLag {
    pub probability: f64,
    pub max: Duration,
}

/// A fault forced on one request, by its sequence number (1-based).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ForcedFault {
    /// Answer this HTTP status (502, 503 or 504 are the realistic ones) without applying.
    Status(u16),
    /// Answer 429 with `Retry-After: secs` without applying.
    RateLimit { retry_after_secs: u64 },
    /// Apply, then close the connection without a response.
    ApplyThenDrop,
    /// Apply, then answer 504.
    ApplyThen504,
    /// Close the connection without applying and without a response.
    Drop,
}

/// What happens to requests after [`StopAfter::after`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopMode {
    /// Keep the connection open without answering, until the faults are cleared or the
    /// emulator shuts down.
    Hang,
    /// Close the connection without answering.
    Drop,
}

/// Stop answering after request `after` (that one is answered normally); later requests are
/// neither applied nor answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StopAfter {
    pub after: u64,
    pub mode: StopMode,
}

/// Fault injection. Random decisions are drawn from [`Config::seed`] and the request's sequence
/// number only, so a given seed and request sequence always injects the same faults.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Faults {
    pub latency: Option<Latency>,
    /// Probability of answering 502/503/504 before applying.
    pub http_5xx: f64,
    /// Probability, for a mutation that was applied, of losing its response (half of them:
    /// connection closed without a response; the other half: 504).
    pub lost_response: f64,
    /// Probability of answering 429 with a `Retry-After` in `retry_after_secs` (inclusive).
    pub rate_limit: f64,
    pub retry_after_secs: (u64, u64),
    pub list_lag: Option<ListLag>,
    /// Faults forced on given requests: `(sequence number, fault)`.
    pub forced: Vec<(u64, ForcedFault)>,
    pub stop_after: Option<StopAfter>,
    /// At most this many injections of each random kind (`None`: unbounded).
    pub max_per_kind: Option<u64>,
}

impl Faults {
    /// No faults.
    pub fn none() -> Self {
        Faults::default()
    }

    /// Every kind of random fault at a moderate rate; for seeded chaos suites.
    pub fn chaos() -> Self {
        Faults {
            latency: Some(Latency {
                probability: 0.3,
                fixed: Duration::from_millis(20),
                jitter: Duration::from_millis(80),
            }),
            http_5xx: 0.05,
            lost_response: 0.1,
            rate_limit: 0.03,
            retry_after_secs: (1, 3),
            list_lag: Some(ListLag {
                probability: 0.3,
                max: Duration::from_secs(5),
            }),
            forced: Vec::new(),
            stop_after: None,
            max_per_kind: None,
        }
    }

    /// Force `fault` on request number `seq` (1-based).
    pub fn with_forced(mut self, seq: u64, fault: ForcedFault) -> Self {
        self.forced.push((seq, fault));
        self
    }
}

/// Everything an emulator instance is started with.
#[derive(Clone, Debug)]
pub struct Config {
    /// Introspection JSON to load; `None`: `$SCALEWIZE_RAILWAY_SCHEMA`, else the path relative
    /// to this crate (see [`crate::schema::schema_path`]).
    pub schema_path: Option<PathBuf>,
    pub workspaces: Vec<WorkspaceConfig>,
    pub tokens: Vec<TokenConfig>,
    /// Real seconds per emulated second: 0.01 makes everything 100 times faster.
    pub time_scale: f64,
    /// Seeds ids, domains and fault decisions.
    pub seed: u64,
    pub faults: Faults,
    pub rate_limits: RateLimits,
    pub deploy_timings: DeployTimings,
    pub behaviour: Behaviour,
    /// Bind address; port 0 picks a free one.
    pub bind: std::net::SocketAddr,
}

impl Default for Config {
    /// One workspace ([`DEFAULT_WORKSPACE_ID`], plan Pro), a workspace token and an account
    /// token for it, time scale 1, seed 0, no faults, the notes' rate limits.
    fn default() -> Self {
        Config {
            schema_path: None,
            workspaces: vec![WorkspaceConfig {
                id: DEFAULT_WORKSPACE_ID.into(),
                name: DEFAULT_WORKSPACE_NAME.into(),
                plan: Plan::Pro,
            }],
            tokens: vec![
                TokenConfig::workspace(DEFAULT_WORKSPACE_TOKEN, DEFAULT_WORKSPACE_ID, Plan::Pro),
                TokenConfig::account(DEFAULT_ACCOUNT_TOKEN, &[DEFAULT_WORKSPACE_ID], Plan::Pro),
            ],
            time_scale: 1.0,
            seed: 0,
            faults: Faults::none(),
            rate_limits: RateLimits::default(),
            deploy_timings: DeployTimings::default(),
            behaviour: Behaviour::default(),
            bind: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        }
    }
}

impl Config {
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    pub fn with_behaviour(mut self, behaviour: Behaviour) -> Self {
        self.behaviour = behaviour;
        self
    }

    pub fn with_time_scale(mut self, scale: f64) -> Self {
        self.time_scale = scale;
        self
    }

    pub fn with_faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }

    pub fn with_token(mut self, token: TokenConfig) -> Self {
        self.tokens.push(token);
        self
    }

    pub fn with_workspace(mut self, id: &str, name: &str, plan: Plan) -> Self {
        self.workspaces.push(WorkspaceConfig {
            id: id.into(),
            name: name.into(),
            plan,
        });
        self
    }

    pub fn with_rate_limits(mut self, limits: RateLimits) -> Self {
        self.rate_limits = limits;
        self
    }
}
