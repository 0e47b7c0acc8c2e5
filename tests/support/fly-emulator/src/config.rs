//! Emulator configuration: organisations, tokens, timings, rate limits and faults.

use serde::Serialize;

/// Everything the emulator needs at start. `Config::default()` gives one org (`personal`), one
/// org token (`test-token`), real time (`time_scale` 1.0), the documented rate limits and no
/// faults.
#[derive(Debug, Clone)]
pub struct Config {
    pub orgs: Vec<Org>,
    pub tokens: Vec<Token>,
    /// App names already held by an organisation the tokens cannot see: `GET` answers 403 and
    /// `POST /v1/apps` answers 422 `name_taken` (notes l.50-52, l.232).
    pub foreign_apps: Vec<String>,
    /// Virtual seconds per wall second is `1 / time_scale` (0.01 makes everything 100× faster).
    pub time_scale: f64,
    pub timings: Timings,
    pub rate_limits: RateLimits,
    /// Send `Retry-After` (whole virtual seconds) on 429 responses.
    pub retry_after: bool,
    pub faults: Faults,
    /// Seed for ids (machine ids, versions, nonces, IPs). Same seed + same request sequence
    /// gives the same ids.
    pub id_seed: u64,
    /// Region used when a machine create omits `region`.
    pub default_region: String,
    /// TCP port to bind on 127.0.0.1 (0 = any free port).
    pub port: u16,
    pub health: Health,
}

/// How a started machine's checks report (notes §11): fly-go counts `checks[]`, which can be
/// empty right after `started`, and a check can stay critical.
#[derive(Clone, Debug, Default)]
pub struct Health {
    /// Virtual seconds after `started` before a machine's checks are listed at all.
    pub checks_after: f64,
    /// Every check of a started machine reports `critical` (a server that never answers its
    /// health path).
    pub stay_critical: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            orgs: vec![Org::new("personal", "Personal")],
            tokens: vec![Token::org("test-token", "personal")],
            foreign_apps: Vec::new(),
            time_scale: 1.0,
            timings: Timings::default(),
            rate_limits: RateLimits::default(),
            retry_after: true,
            faults: Faults::none(),
            id_seed: 0x00F1_7E11,
            default_region: "iad".to_string(),
            port: 0,
            health: Health::default(),
        }
    }
}

impl Config {
    pub fn new() -> Config {
        Config::default()
    }

    pub fn time_scale(mut self, scale: f64) -> Config {
        self.time_scale = scale;
        self
    }

    pub fn health(mut self, health: Health) -> Config {
        self.health = health;
        self
    }

    pub fn faults(mut self, faults: Faults) -> Config {
        self.faults = faults;
        self
    }

    pub fn token(mut self, token: Token) -> Config {
        self.tokens.push(token);
        self
    }

    pub fn org(mut self, slug: &str, name: &str) -> Config {
        self.orgs.push(Org::new(slug, name));
        self
    }

    pub fn foreign_app(mut self, name: &str) -> Config {
        self.foreign_apps.push(name.to_string());
        self
    }

    pub fn rate_limits(mut self, limits: RateLimits) -> Config {
        self.rate_limits = limits;
        self
    }

    pub fn port(mut self, port: u16) -> Config {
        self.port = port;
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Org {
    pub slug: String,
    pub name: String,
}

impl Org {
    pub fn new(slug: &str, name: &str) -> Org {
        Org {
            slug: slug.to_string(),
            name: name.to_string(),
        }
    }
}

/// What a token may do (notes l.22-28).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenScope {
    /// Org token: every app of its org, and app creation in it.
    Org,
    /// Deploy token: one app and its resources; cannot create apps.
    App(String),
    /// Read-only org token: `GET` only.
    ReadOnly,
}

/// A token the emulator accepts as `Authorization: Bearer <token>` or `Authorization: FlyV1
/// <token>` (notes l.16-21). A configured value starting with `FlyV1 ` is stored without it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub token: String,
    pub org: String,
    pub scope: TokenScope,
    /// Shown as a lease's `owner`.
    pub owner: String,
}

impl Token {
    pub fn org(token: &str, org: &str) -> Token {
        Token {
            token: token.strip_prefix("FlyV1 ").unwrap_or(token).to_string(),
            org: org.to_string(),
            scope: TokenScope::Org,
            owner: format!("{org}-owner@example.com"),
        }
    }

    pub fn deploy(token: &str, org: &str, app: &str) -> Token {
        Token {
            scope: TokenScope::App(app.to_string()),
            ..Token::org(token, org)
        }
    }

    pub fn read_only(token: &str, org: &str) -> Token {
        Token {
            scope: TokenScope::ReadOnly,
            ..Token::org(token, org)
        }
    }
}

/// Machine state-transition times, in virtual seconds (none of these is documented; see README).
#[derive(Debug, Clone, PartialEq)]
pub struct Timings {
    /// `created` → `starting` after a create.
    pub create: f64,
    /// `starting` → `started`.
    pub start: f64,
    /// `stopping` → `stopped` (also the first half of a restart or a reboot on update).
    pub stop: f64,
    /// `suspending` → `suspended`.
    pub suspend: f64,
    /// `destroying` → `destroyed`.
    pub destroy: f64,
    /// Lease TTL when the acquire body has no `ttl`.
    pub default_lease_ttl: u64,
    /// Default and maximum `timeout` of `/wait` (notes l.102: at most 60 s, default 60).
    pub max_wait: u64,
}

impl Default for Timings {
    fn default() -> Self {
        Timings {
            create: 0.5,
            start: 1.5,
            stop: 1.0,
            suspend: 1.0,
            destroy: 0.5,
            default_lease_ttl: 30,
            max_wait: 60,
        }
    }
}

/// A token bucket: `rate` tokens per virtual second, at most `burst` stored.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BucketSpec {
    pub rate: f64,
    pub burst: f64,
}

/// Rate limits of notes l.161-163.
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimits {
    pub enabled: bool,
    /// Every action, per identifier (machine id, else app): 1 req/s, burst 3.
    pub per_action: BucketSpec,
    /// Get Machine: 5 req/s, burst 10.
    pub get_machine: BucketSpec,
    /// App deletions: 100/min (per org here).
    pub app_delete: BucketSpec,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            enabled: true,
            per_action: BucketSpec {
                rate: 1.0,
                burst: 3.0,
            },
            get_machine: BucketSpec {
                rate: 5.0,
                burst: 10.0,
            },
            app_delete: BucketSpec {
                rate: 100.0 / 60.0,
                burst: 100.0,
            },
        }
    }
}

impl RateLimits {
    pub fn disabled() -> RateLimits {
        RateLimits {
            enabled: false,
            ..RateLimits::default()
        }
    }
}

/// How often one kind of fault fires.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Fault {
    /// Chance per eligible request, 0.0..=1.0.
    pub probability: f64,
    /// Guarantee: the fault fires on the k-th eligible request, with k drawn from the seed in
    /// 1..=n (deferred to the next eligible request if another fault took that one).
    pub at_least_once_within: Option<u32>,
}

impl Fault {
    pub const OFF: Fault = Fault {
        probability: 0.0,
        at_least_once_within: None,
    };

    pub fn probability(p: f64) -> Fault {
        Fault {
            probability: p,
            at_least_once_within: None,
        }
    }

    pub fn at_least_once_within(n: u32) -> Fault {
        Fault {
            probability: 0.0,
            at_least_once_within: Some(n.max(1)),
        }
    }

    pub fn always() -> Fault {
        Fault::probability(1.0)
    }

    pub fn and_probability(mut self, p: f64) -> Fault {
        self.probability = p;
        self
    }

    pub(crate) fn is_on(&self) -> bool {
        self.probability > 0.0 || self.at_least_once_within.is_some()
    }
}

/// What a lost response looks like to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LostResponseMode {
    /// Close the connection without writing a response.
    DropConnection,
    /// Answer 502 with a gateway-style body.
    BadGateway,
    /// Pick one of the two from the seed, per request.
    Mixed,
}

/// What the server does once `stop_after` requests were answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopMode {
    /// Close each later connection without a response.
    DropConnection,
    /// Never answer (until the emulator shuts down).
    Hang,
}

/// Injected faults. Every decision is a pure function of `seed`, the request's sequence number
/// and per-kind counters of eligible requests, so a seed and a request sequence replay exactly.
#[derive(Debug, Clone, PartialEq)]
pub struct Faults {
    pub seed: u64,
    /// Extra delay before handling (any request).
    pub latency: Fault,
    /// Virtual milliseconds, uniform in [min, max].
    pub latency_ms: (u64, u64),
    /// 500/502/503 before anything is applied (any routed request).
    pub server_error: Fault,
    /// Apply, then lose the response (mutating requests that succeeded).
    pub lost_response: Fault,
    pub lost_response_mode: LostResponseMode,
    /// Machine create applied, but answered 408 (notes l.170-172, l.239).
    pub timeout_but_created: Fault,
    /// After a successful `POST /v1/apps`, the app answers 404 for a while (notes l.228-231).
    pub app_create_lag: Fault,
    /// Virtual seconds, uniform in [min, max].
    pub app_lag_secs: (f64, f64),
    /// During an app-create lag, the app itself already answers (`GET /v1/apps/{app}`, the app
    /// list) while its machines, secrets and IPs still answer 404 (notes l.228-231: "machine
    /// create right after app create can 404"). Off: the whole app answers 404.
    pub app_lag_partial: bool,
    /// Another holder takes the lease just before a new lease acquire → 409 (notes l.96, l.234).
    pub lease_conflict: Fault,
    /// How long the other holder keeps it, in virtual seconds.
    pub lease_conflict_secs: f64,
    /// Injected 429 with `Retry-After: 1` (any routed request).
    pub too_many_requests: Fault,
    /// Answer the first k requests, then stop answering (kill-after-k tests).
    pub stop_after: Option<u64>,
    pub stop_mode: StopMode,
}

impl Faults {
    /// No faults.
    pub fn none() -> Faults {
        Faults {
            seed: 0,
            latency: Fault::OFF,
            latency_ms: (5, 50),
            server_error: Fault::OFF,
            lost_response: Fault::OFF,
            lost_response_mode: LostResponseMode::Mixed,
            timeout_but_created: Fault::OFF,
            app_create_lag: Fault::OFF,
            app_lag_secs: (1.0, 5.0),
            app_lag_partial: false,
            lease_conflict: Fault::OFF,
            lease_conflict_secs: 3.0,
            too_many_requests: Fault::OFF,
            stop_after: None,
            stop_mode: StopMode::DropConnection,
        }
    }

    /// Every kind at least once within its first `within` eligible requests, plus `p` chance
    /// on each later eligible request (latency: 4p).
    pub fn chaos(seed: u64, within: u32, p: f64) -> Faults {
        let f = Fault::at_least_once_within(within).and_probability(p);
        Faults {
            seed,
            latency: Fault::at_least_once_within(within).and_probability((4.0 * p).min(1.0)),
            server_error: f,
            lost_response: f,
            timeout_but_created: f,
            app_create_lag: f,
            lease_conflict: f,
            too_many_requests: f,
            ..Faults::none()
        }
    }

    pub fn seed(mut self, seed: u64) -> Faults {
        self.seed = seed;
        self
    }

    pub(crate) fn get(&self, kind: crate::FaultKind) -> Fault {
        use crate::FaultKind as K;
        match kind {
            K::Latency => self.latency,
            K::ServerError => self.server_error,
            K::LostResponse => self.lost_response,
            K::TimeoutButCreated => self.timeout_but_created,
            K::AppCreateLag => self.app_create_lag,
            K::LeaseConflict => self.lease_conflict,
            K::TooManyRequests => self.too_many_requests,
            K::Stopped => Fault::OFF,
        }
    }
}

impl Default for Faults {
    fn default() -> Self {
        Faults::none()
    }
}
