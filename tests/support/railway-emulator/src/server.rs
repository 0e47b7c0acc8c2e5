//! The HTTP side: an axum router on a hand-rolled hyper accept loop (so a fault can close a
//! connection without answering), the request pipeline with faults and rate limits, and the
//! public [`Emulator`] / [`EmulatorHandle`].

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use apollo_compiler::Schema;
use apollo_compiler::validation::Valid;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Extension, State as AxState};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::post;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::Notify;

use crate::config::{Config, Faults, Plan, RateLimits, StopMode, TokenConfig};
use crate::faults::{Bucket, FaultCounters, Lost, admit, block, decide};
use crate::graphql::{Auth, Ctx, process};
use crate::log::{InjectedFault, OperationKind, RateLimited, RequestRecord};
use crate::schema::{SchemaError, load_schema, schema_path};
use crate::snapshot::Snapshot;
use crate::state::{NOT_AUTHORIZED, State};
use crate::util::{Clock, Rng};

/// The path the GraphQL endpoint is served on.
pub const ENDPOINT_PATH: &str = "/graphql/v2";

/// A request that came back before the `Retry-After` it had been given elapsed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RetryAfterViolation {
    /// Token label (`workspace#1`, …), see [`RequestRecord::token`].
    pub token: String,
    pub seq: u64,
    /// How much too early, in emulated seconds.
    pub early_by_secs: f64,
}

pub(crate) struct Shared {
    schema: Arc<Valid<Schema>>,
    state: Mutex<State>,
    clock: Clock,
    seed: u64,
    faults: Mutex<Faults>,
    rate_limits: Mutex<RateLimits>,
    buckets: Mutex<HashMap<String, Bucket>>,
    log: Mutex<Vec<RequestRecord>>,
    seq: AtomicU64,
    counters: Mutex<FaultCounters>,
    violations: Mutex<Vec<RetryAfterViolation>>,
    /// Wakes requests held by `StopMode::Hang`.
    resume: Notify,
    /// Signalled whenever a request is logged.
    logged: (Mutex<()>, std::sync::Condvar),
}

/// Closes the connection a request arrived on.
#[derive(Clone)]
struct Kill(Arc<Notify>);

/// Why the emulator could not start.
#[derive(Debug)]
pub enum StartError {
    Schema(SchemaError),
    Io(std::io::Error),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Schema(e) => write!(f, "{e}"),
            StartError::Io(e) => write!(f, "cannot bind the emulator's port: {e}"),
        }
    }
}

impl std::error::Error for StartError {}

/// Entry point: `Emulator::start(Config::default())`.
pub struct Emulator;

impl Emulator {
    /// Starts an emulator on its own tokio runtime in a background thread; usable from sync
    /// tests and from async code alike. Panics if the schema cannot be loaded or the port
    /// cannot be bound (see [`Emulator::try_start`]).
    pub fn start(cfg: Config) -> EmulatorHandle {
        Self::try_start(cfg).unwrap_or_else(|e| panic!("railway-emulator: {e}"))
    }

    /// Like [`Emulator::start`], returning the error instead of panicking.
    pub fn try_start(cfg: Config) -> Result<EmulatorHandle, StartError> {
        let schema =
            load_schema(&schema_path(cfg.schema_path.as_deref())).map_err(StartError::Schema)?;
        let listener = std::net::TcpListener::bind(cfg.bind).map_err(StartError::Io)?;
        listener.set_nonblocking(true).map_err(StartError::Io)?;
        let addr = listener.local_addr().map_err(StartError::Io)?;
        let shared = Arc::new(Shared {
            schema,
            state: Mutex::new(State::new(&cfg)),
            clock: Clock::new(cfg.time_scale),
            seed: cfg.seed,
            faults: Mutex::new(cfg.faults.clone()),
            rate_limits: Mutex::new(cfg.rate_limits),
            buckets: Mutex::new(HashMap::new()),
            log: Mutex::new(Vec::new()),
            seq: AtomicU64::new(0),
            counters: Mutex::new(FaultCounters::default()),
            violations: Mutex::new(Vec::new()),
            resume: Notify::new(),
            logged: (Mutex::new(()), std::sync::Condvar::new()),
        });
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let sh = shared.clone();
        let thread = std::thread::Builder::new()
            .name(format!("railway-emulator-{}", addr.port()))
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("tokio runtime");
                rt.block_on(async move {
                    let listener =
                        tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                    tokio::select! {
                        _ = serve(listener, sh) => {}
                        _ = stop_rx => {}
                    }
                });
                rt.shutdown_background();
            })
            .map_err(StartError::Io)?;
        Ok(EmulatorHandle {
            shared,
            addr,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }
}

async fn serve(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    let app = Router::new()
        .route(ENDPOINT_PATH, post(graphql))
        .with_state(shared);
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let kill = Kill(Arc::new(Notify::new()));
        let app = app.clone();
        let k = kill.clone();
        let svc = tower::service_fn(move |mut req: axum::http::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(k.clone());
            let app = app.clone();
            async move {
                use tower::ServiceExt as _;
                app.oneshot(req.map(Body::new)).await
            }
        });
        tokio::spawn(async move {
            let conn = hyper::server::conn::http1::Builder::new().serve_connection(
                hyper_util::rt::TokioIo::new(stream),
                hyper_util::service::TowerToHyperService::new(svc),
            );
            // Dropping the connection future closes the socket without a response.
            tokio::select! {
                _ = conn => {}
                _ = kill.0.notified() => {}
            }
        });
    }
}

/// Token, label and plan of a request.
struct Caller {
    key: String,
    label: Option<String>,
    auth: Auth,
}

fn caller(sh: &Shared, headers: &HeaderMap) -> Caller {
    let bearer = headers
        .get("authorization")
        .map(|v| v.to_str().unwrap_or_default().trim().to_string());
    let project = headers
        .get("project-access-token")
        .map(|v| v.to_str().unwrap_or_default().trim().to_string());
    let st = sh.state.lock().unwrap();
    let unauth = |key: String, label: Option<String>, msg: &str| Caller {
        key,
        label,
        auth: Auth {
            principal: Err(msg.to_string()),
            token_record: None,
            plan: Plan::Free,
        },
    };
    let (token, via_bearer) = match (bearer, project) {
        (Some(_), Some(_)) => {
            return unauth(
                "<both-headers>".into(),
                None,
                "Not Authorized: send either Authorization or Project-Access-Token, not both",
            );
        }
        (Some(b), None) => {
            let mut parts = b.splitn(2, ' ');
            let scheme = parts.next().unwrap_or_default();
            let t = parts.next().unwrap_or_default().trim().to_string();
            if !scheme.eq_ignore_ascii_case("bearer") || t.is_empty() {
                return unauth(format!("<malformed>{b}"), None, NOT_AUTHORIZED);
            }
            (t, true)
        }
        (None, Some(p)) => (p, false),
        (None, None) => return unauth("<anonymous>".into(), None, NOT_AUTHORIZED),
    };
    match st.tokens.get(&token) {
        Some(entry) => {
            let is_project = matches!(entry.kind, crate::config::TokenKind::Project { .. });
            if is_project == via_bearer {
                return unauth(token, Some(entry.label.clone()), NOT_AUTHORIZED);
            }
            Caller {
                key: token,
                label: Some(entry.label.clone()),
                auth: Auth {
                    principal: Ok(st.principal(entry)),
                    token_record: entry.record_id.clone(),
                    plan: entry.plan,
                },
            }
        }
        None => {
            let msg = if via_bearer {
                NOT_AUTHORIZED
            } else {
                "Not Authorized: Project Token not found"
            };
            unauth(token, Some("unknown".into()), msg)
        }
    }
}

fn redacted_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| {
            let name = k.as_str().to_ascii_lowercase();
            let value = if name == "authorization" || name == "project-access-token" {
                "<redacted>".to_string()
            } else {
                String::from_utf8_lossy(v.as_bytes()).into_owned()
            };
            (name, value)
        })
        .collect()
}

struct Reply {
    status: u16,
    body: Option<Value>,
    /// Bytes to send instead of serialising `body`.
    wire: Option<Vec<u8>>,
    text: Option<&'static str>,
    headers: Vec<(&'static str, String)>,
}

impl Reply {
    fn json(status: u16, body: Value) -> Self {
        Reply {
            status,
            body: Some(body),
            wire: None,
            text: None,
            headers: vec![],
        }
    }
}

fn rate_headers(
    limit: Option<u32>,
    remaining: Option<u32>,
    reset_unix: f64,
) -> Vec<(&'static str, String)> {
    let mut h = vec![];
    if let Some(l) = limit {
        h.push(("x-ratelimit-limit", l.to_string()));
        h.push(("x-ratelimit-remaining", remaining.unwrap_or(0).to_string()));
        h.push(("x-ratelimit-reset", format!("{}", reset_unix.ceil() as u64)));
        h.push(("ratelimit-policy", format!("{l};w=3600")));
    }
    h
}

impl Shared {
    fn push_log(&self, rec: RequestRecord) {
        self.log.lock().unwrap().push(rec);
        let _g = self.logged.0.lock().unwrap();
        self.logged.1.notify_all();
    }

    fn finish(&self, mut rec: RequestRecord, reply: Reply) -> Response {
        rec.status = Some(reply.status);
        rec.response = reply.body.clone();
        self.push_log(rec);
        let mut resp = match (&reply.body, reply.text) {
            (Some(b), _) => {
                let bytes = reply
                    .wire
                    .unwrap_or_else(|| serde_json::to_vec(b).unwrap_or_default());
                let mut r = Response::new(Body::from(bytes));
                r.headers_mut()
                    .insert("content-type", HeaderValue::from_static("application/json"));
                r
            }
            (None, Some(t)) => {
                let mut r = Response::new(Body::from(t));
                r.headers_mut().insert(
                    "content-type",
                    HeaderValue::from_static("text/plain; charset=utf-8"),
                );
                r
            }
            (None, None) => Response::new(Body::empty()),
        };
        *resp.status_mut() = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK);
        for (k, v) in reply.headers {
            if let Ok(v) = HeaderValue::from_str(&v) {
                resp.headers_mut().insert(k, v);
            }
        }
        resp
    }

    fn trace_id(&self, seq: u64) -> String {
        Rng::derive(self.seed, 3, seq).hex(32)
    }
}

async fn graphql(
    AxState(sh): AxState<Arc<Shared>>,
    Extension(kill): Extension<Kill>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let seq = sh.seq.fetch_add(1, Ordering::SeqCst) + 1;
    let arrival = sh.clock.now();
    let peek = crate::graphql::peek(&body);
    let who = caller(&sh, &headers);
    let mut rec = RequestRecord {
        seq,
        at_secs: arrival,
        operation_type: peek.kind,
        root_fields: peek.root_fields,
        operation_name: peek.operation_name,
        document: peek.document,
        variables: peek.variables,
        status: None,
        faults: vec![],
        rate_limited: None,
        executed: false,
        token: who.label.clone(),
        headers: redacted_headers(&headers),
        response: None,
    };
    let faults = sh.faults.lock().unwrap().clone();

    if let Some(stop) = faults.stop_after
        && seq > stop.after
    {
        sh.counters.lock().unwrap().stopped += 1;
        rec.faults.push(InjectedFault::Stopped);
        // Register for the wake-up before the request becomes visible in the log.
        let resumed = sh.resume.notified();
        tokio::pin!(resumed);
        resumed.as_mut().enable();
        sh.push_log(rec);
        if stop.mode == StopMode::Hang {
            resumed.await;
        }
        kill.0.notify_one();
        return std::future::pending().await;
    }

    let decision = {
        let c = sh.counters.lock().unwrap();
        decide(&faults, sh.seed, seq, &c)
    };
    if let Some(l) = decision.latency {
        sh.counters.lock().unwrap().latency += 1;
        rec.faults.push(InjectedFault::Latency {
            emulated_ms: l.as_millis() as u64,
        });
        tokio::time::sleep(sh.clock.real(l)).await;
    }
    let now = sh.clock.now();

    // The rate limiter: per token, by plan.
    let limits = {
        let rl = sh.rate_limits.lock().unwrap();
        rl.enabled.then(|| rl.for_plan(who.auth.plan))
    };
    let adm = admit(&mut sh.buckets.lock().unwrap(), &who.key, limits, now);
    let mut rl_headers = rate_headers(adm.limit, adm.remaining, sh.clock.unix(adm.reset_at));
    if let Some(retry) = adm.retry_after {
        if adm.reason == Some(RateLimited::RetryAfterNotElapsed) {
            sh.violations.lock().unwrap().push(RetryAfterViolation {
                token: who.label.clone().unwrap_or_else(|| "anonymous".into()),
                seq,
                early_by_secs: adm.early_by.unwrap_or(0.0),
            });
        }
        sh.counters.lock().unwrap().rate_limit_real += 1;
        rec.rate_limited = adm.reason;
        rl_headers.push(("retry-after", retry.to_string()));
        let trace = sh.trace_id(seq);
        return sh.finish(
            rec,
            Reply {
                headers: rl_headers,
                ..Reply::json(429, rate_limited_body(&trace))
            },
        );
    }

    if decision.drop {
        sh.counters.lock().unwrap().dropped += 1;
        rec.faults.push(InjectedFault::Dropped);
        sh.push_log(rec);
        kill.0.notify_one();
        return std::future::pending().await;
    }
    if let Some(status) = decision.status_5xx {
        sh.counters.lock().unwrap().http_5xx += 1;
        rec.faults.push(InjectedFault::Status { status });
        let text = match status {
            502 => "502 Bad Gateway",
            503 => "503 Service Unavailable",
            504 => "504 Gateway Timeout",
            _ => "Server Error",
        };
        return sh.finish(
            rec,
            Reply {
                status,
                body: None,
                wire: None,
                text: Some(text),
                headers: rl_headers,
            },
        );
    }
    if let Some(retry) = decision.rate_limit {
        sh.counters.lock().unwrap().rate_limit_injected += 1;
        block(&mut sh.buckets.lock().unwrap(), &who.key, now, retry);
        rec.faults.push(InjectedFault::RateLimit {
            retry_after_secs: retry,
        });
        rl_headers.push(("retry-after", retry.to_string()));
        let trace = sh.trace_id(seq);
        return sh.finish(
            rec,
            Reply {
                headers: rl_headers,
                ..Reply::json(429, rate_limited_body(&trace))
            },
        );
    }

    let outcome = {
        let mut st = sh.state.lock().unwrap();
        let cx = Ctx {
            schema: &sh.schema,
            clock: &sh.clock,
            trace: sh.trace_id(seq),
        };
        process(&cx, &mut st, &body, &who.auth, now, decision.lag)
    };
    rec.executed = outcome.executed;
    if outcome.lag_hit {
        sh.counters.lock().unwrap().list_lag += 1;
        rec.faults.push(InjectedFault::ListLag);
    }
    if outcome.executed && outcome.kind == Some(OperationKind::Mutation) {
        match decision.lost {
            Some(Lost::Drop) => {
                sh.counters.lock().unwrap().lost_response_dropped += 1;
                rec.faults.push(InjectedFault::LostResponseDropped);
                rec.response = Some(outcome.body);
                sh.push_log(rec);
                kill.0.notify_one();
                return std::future::pending().await;
            }
            Some(Lost::Status504) => {
                sh.counters.lock().unwrap().lost_response_504 += 1;
                rec.faults.push(InjectedFault::LostResponse504);
                return sh.finish(
                    rec,
                    Reply {
                        status: 504,
                        body: None,
                        wire: None,
                        text: Some("504 Gateway Timeout"),
                        headers: rl_headers,
                    },
                );
            }
            None => {}
        }
    }
    sh.finish(
        rec,
        Reply {
            headers: rl_headers,
            wire: outcome.wire,
            ..Reply::json(outcome.status, outcome.body)
        },
    )
}

fn rate_limited_body(trace: &str) -> Value {
    serde_json::json!({"errors": [{
        "message": "Rate limit exceeded. Please wait before making more requests.",
        "extensions": {"traceId": trace}
    }]})
}

/// A running emulator. Dropping it shuts the server down.
pub struct EmulatorHandle {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl EmulatorHandle {
    /// The full endpoint URL, `http://127.0.0.1:<port>/graphql/v2`.
    pub fn url(&self) -> String {
        format!("http://{}{ENDPOINT_PATH}", self.addr)
    }

    /// The socket address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request so far, in order of arrival.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.log.lock().unwrap().clone()
    }

    /// Number of requests received so far.
    pub fn request_count(&self) -> u64 {
        self.shared.seq.load(Ordering::SeqCst)
    }

    /// Blocks until at least `n` requests are logged or `timeout` (real time) passes.
    pub fn wait_for_requests(&self, n: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let (m, cv) = &self.shared.logged;
        let mut g = m.lock().unwrap();
        loop {
            if self.shared.log.lock().unwrap().len() >= n {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            g = cv
                .wait_timeout(g, left.min(Duration::from_millis(20)))
                .unwrap()
                .0;
        }
    }

    /// One summary line per request (`mutation serviceCreate`, `query project,environment`).
    pub fn summaries(&self) -> Vec<String> {
        self.requests().iter().map(RequestRecord::summary).collect()
    }

    /// One golden-friendly line per request: summary plus variables, ids normalised.
    pub fn golden_lines(&self) -> Vec<String> {
        let ph = self.shared.state.lock().unwrap().placeholders.clone();
        self.requests().iter().map(|r| r.golden_line(&ph)).collect()
    }

    /// Replaces emulator-generated ids and hostnames in `v` with their placeholders.
    pub fn normalise(&self, v: &Value) -> Value {
        crate::log::normalise(v, &self.shared.state.lock().unwrap().placeholders)
    }

    /// The whole state, normalised, with deployment statuses as of now.
    pub fn snapshot(&self) -> Snapshot {
        let now = self.shared.clock.now();
        crate::snapshot::take(&self.shared.state.lock().unwrap(), now)
    }

    /// Replaces the fault plan (releases requests held by a previous `StopMode::Hang`).
    pub fn set_faults(&self, faults: Faults) {
        *self.shared.faults.lock().unwrap() = faults;
        self.shared.resume.notify_waiters();
    }

    /// The current fault plan.
    pub fn fault_plan(&self) -> Faults {
        self.shared.faults.lock().unwrap().clone()
    }

    /// No faults from now on (held requests are released by closing their connections).
    pub fn clear_faults(&self) {
        self.set_faults(Faults::none());
    }

    /// Faults injected so far, by kind.
    pub fn fault_counters(&self) -> FaultCounters {
        *self.shared.counters.lock().unwrap()
    }

    /// Requests that came before an announced `Retry-After` elapsed.
    pub fn retry_after_violations(&self) -> Vec<RetryAfterViolation> {
        self.shared.violations.lock().unwrap().clone()
    }

    /// Changes the time scale (real seconds per emulated second) from now on.
    pub fn set_time_scale(&self, scale: f64) {
        self.shared.clock.set_scale(scale);
    }

    pub fn time_scale(&self) -> f64 {
        self.shared.clock.scale()
    }

    /// Emulated time since start.
    pub fn emulated_now(&self) -> Duration {
        Duration::from_secs_f64(self.shared.clock.now())
    }

    /// Replaces the rate limits.
    pub fn set_rate_limits(&self, limits: RateLimits) {
        *self.shared.rate_limits.lock().unwrap() = limits;
    }

    /// Accepts another token from now on.
    pub fn add_token(&self, token: TokenConfig) {
        self.shared
            .state
            .lock()
            .unwrap()
            .add_token(token.token, token.kind, token.plan, None);
    }

    /// Stops the server and waits for its thread.
    pub fn shutdown(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        self.shared.resume.notify_waiters();
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for EmulatorHandle {
    fn drop(&mut self) {
        self.stop_now();
    }
}

impl std::fmt::Debug for EmulatorHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmulatorHandle")
            .field("url", &self.url())
            .finish()
    }
}
