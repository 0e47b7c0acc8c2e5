//! A GraphQL client for Railway's public API over the shared HTTP client (`net::Http`): auth
//! (`Authorization: Bearer $RAILWAY_API_TOKEN`), pacing by plan (`limits`), retries, error
//! classification, and `-vvv` request logs that never show a variable value.
//!
//! The attempt loop is this client's own because it must pace every attempt (a retry is a
//! request too), block the whole token when one request hears `Retry-After`, and log bodies
//! with variable values masked; what an attempt's outcome allows is `net::retry`'s one rule.
//!
//! Retries (notes §2, SPEC §5): a query is retried on network errors, 408, 429, 5xx and
//! `INTERNAL_SERVER_ERROR`, with backoff and jitter; a mutation only on 429 (refused before it
//! was processed). A mutation whose outcome is unknown (no response, 408, 5xx, internal error)
//! comes back as [`ApiError::Unknown`]: the caller observes before doing it again.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub use super::api_error::ApiError;
use super::api_error::classify;
use super::ops::{Kind, Op};
use super::wire::{mask, masked_vars, string_values, strip_nulls};
use crate::net::Http;
use crate::net::backoff::backoff;
use crate::net::deadline;
use crate::net::limiter::{Limiter, Rate};
use crate::net::retry::shorten as truncate;
use crate::net::retry::{self, Attempt, Idempotency, Next};
use crate::secrets::Secret;
use crate::secrets::redact::format_request;

pub const DEFAULT_ENDPOINT: &str = "https://backboard.railway.com/graphql/v2";
pub const ENDPOINT_ENV: &str = "SCALEWIZE_RAILWAY_API_URL";

/// Counts of what this process sent (the benchmark and `-vv` report them).
#[derive(Default)]
pub struct Stats {
    pub requests: AtomicU64,
    pub mutations: AtomicU64,
    pub retries: AtomicU64,
}

pub struct Api {
    http: Http,
    endpoint: String,
    token: Secret,
    limiter: Limiter,
    /// No request before this instant: the server said `Retry-After` to this token.
    gate: std::sync::Mutex<Option<Instant>>,
    /// Limiter keys (one per window) and their rates: one set of buckets per token.
    buckets: Vec<(String, Rate)>,
    pub stats: Stats,
    /// The last `X-RateLimit-Remaining` and `-Limit` the server sent (for `doctor`).
    budget: std::sync::Mutex<Option<(u64, u64)>>,
}

impl Api {
    pub fn new(
        http: Http,
        endpoint: String,
        token: Secret,
        buckets: Vec<(&'static str, Rate)>,
    ) -> Api {
        // A key that tells tokens apart without holding one.
        let tag = &crate::model::sha256_hex(token.expose().as_bytes())[..12];
        Api {
            http,
            endpoint,
            token,
            limiter: Limiter::default(),
            gate: std::sync::Mutex::new(None),
            buckets: buckets
                .into_iter()
                .map(|(w, r)| (format!("railway:{tag}:{w}"), r))
                .collect(),
            stats: Stats::default(),
            budget: std::sync::Mutex::new(None),
        }
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub fn debug(&self, level: u8, line: &str) {
        self.http.debug(level, line);
    }

    /// Wait for the token's `Retry-After` to pass and for a token of every bucket.
    async fn pace(&self) {
        loop {
            let closed = |g: &std::sync::Mutex<Option<Instant>>| {
                let until = *g.lock().expect("gate");
                until.and_then(|t| t.checked_duration_since(Instant::now()))
            };
            if let Some(wait) = closed(&self.gate) {
                tokio::time::sleep(wait).await;
                continue;
            }
            for (key, rate) in &self.buckets {
                self.limiter.acquire(key, *rate).await;
            }
            // A 429 heard while waiting for the buckets closes the gate again.
            if closed(&self.gate).is_none() {
                return;
            }
        }
    }

    /// `X-RateLimit-Remaining` (notes §10) starts the hourly bucket where the server says the
    /// token's budget stands.
    fn start_budget(&self, headers: &reqwest::header::HeaderMap) {
        let number = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<f64>().ok())
        };
        let Some(remaining) = number("x-ratelimit-remaining") else {
            return;
        };
        if let Some(limit) = number("x-ratelimit-limit") {
            *self.budget.lock().expect("budget") = Some((remaining as u64, limit as u64));
        }
        for (key, rate) in &self.buckets {
            if rate.per >= Duration::from_secs(3600) {
                self.limiter.start_budget(key, *rate, remaining);
            }
        }
    }

    /// What the server last said of this token's hourly budget: (remaining, limit).
    pub fn budget(&self) -> Option<(u64, u64)> {
        *self.budget.lock().expect("budget")
    }

    /// The server said to wait `wait` (unscaled): nobody using this token sends before then.
    fn block(&self, wait: Duration) {
        let until = Instant::now() + crate::net::backoff::scaled(wait);
        let mut g = self.gate.lock().expect("gate");
        *g = Some(g.map_or(until, |t| t.max(until)));
    }

    /// Run `op` with `vars` (nulls are dropped: "omitted" means "unchanged", notes pitfall 10);
    /// the `data` object on success.
    pub async fn run(&self, op: &Op, vars: Value) -> Result<Value, ApiError> {
        let vars = strip_nulls(vars);
        let body = json!({"query": op.document, "operationName": op.name, "variables": vars});
        let body_text = body.to_string();
        let sent_values = if op.secret_request {
            string_values(&vars)
        } else {
            Vec::new()
        };
        let (mut attempt, mut limited) = (0u32, 0u32);
        loop {
            attempt += 1;
            self.pace().await;
            self.stats.requests.fetch_add(1, Ordering::Relaxed);
            if op.kind == Kind::Mutation {
                self.stats.mutations.fetch_add(1, Ordering::Relaxed);
            }
            if attempt > 1 {
                self.stats.retries.fetch_add(1, Ordering::Relaxed);
            }
            let auth = format!("Bearer {}", self.token.expose());
            let headers = [
                ("authorization", auth.as_str()),
                ("content-type", "application/json"),
            ];
            self.debug(3, &format_request("POST", &self.endpoint, &headers));
            self.debug(
                3,
                &format!(
                    "  {} {}",
                    op.name,
                    if op.secret_request {
                        masked_vars(&vars)
                    } else {
                        vars.to_string()
                    }
                ),
            );
            let started = Instant::now();
            let sent = self
                .http
                .client()
                .post(&self.endpoint)
                .header("authorization", &auth)
                .header("content-type", "application/json")
                .body(body_text.clone())
                .send()
                .await;
            let (status, headers, text) = match sent {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let headers = resp.headers().clone();
                    match resp.text().await {
                        Ok(t) => (status, headers, t),
                        Err(e) => {
                            let err = self.no_response(op, started, &e.to_string());
                            match self.retry_or(op, attempt, None, err).await {
                                Some(e) => return Err(e),
                                None => continue,
                            }
                        }
                    }
                }
                Err(e) => {
                    let what = if e.is_timeout() {
                        "timed out"
                    } else {
                        "connection failed"
                    };
                    let err = self.no_response(op, started, what);
                    match self.retry_or(op, attempt, None, err).await {
                        Some(e) => return Err(e),
                        None => continue,
                    }
                }
            };
            let shown = if op.secret_response || op.secret_request {
                format!(
                    "({} bytes, not shown: may hold variable values)",
                    text.len()
                )
            } else {
                truncate(&text, 2000)
            };
            self.debug(
                3,
                &format!(
                    "  → {status} in {} ms: {shown}",
                    started.elapsed().as_millis()
                ),
            );
            let after = crate::net::retry_after(&headers);
            self.start_budget(&headers);
            match status {
                429 => {
                    // Refused before processing: safe to repeat, after the wait, for everyone
                    // using this token; not one of the call's sends.
                    limited += 1;
                    let wait = retry::rate_limited_wait(limited, after);
                    // A wait that ends after the step's deadline (an hourly budget spent):
                    // fail now, saying when it resets, instead of sleeping past it.
                    if deadline::passed_by(crate::net::backoff::scaled(wait)) {
                        return Err(ApiError::Failed(format!(
                            "Railway {}: rate limited: the request budget of this token resets in {} s (at {}), later than this work may wait; run again then, or raise --wait-timeout (--lock-timeout while taking the platform lock)",
                            op.name,
                            wait.as_secs(),
                            deadline::wall_time_after(wait.as_secs())
                        )));
                    }
                    self.block(wait);
                    let err = ApiError::Transient(
                        format!("Railway {}: rate limited (HTTP 429)", op.name),
                        Some(wait),
                    );
                    if limited >= retry::MAX_RATE_LIMITED {
                        return Err(err);
                    }
                    self.debug(
                        2,
                        &format!(
                            "Railway {}: rate limited, waiting {:.1}s as the server asked",
                            op.name,
                            wait.as_secs_f64()
                        ),
                    );
                    attempt -= 1;
                    continue;
                }
                408 | 500..=599 => {
                    let next = retry::next(idempotency(op), Attempt::Answered(status));
                    let text = format!("Railway {}: HTTP {status}{}", op.name, next.suffix());
                    let err = match next {
                        Next::Unknown => ApiError::Unknown(text),
                        _ => ApiError::Transient(text, after),
                    };
                    match self.retry_or(op, attempt, after, err).await {
                        Some(e) => return Err(e),
                        None => continue,
                    }
                }
                _ => {}
            }
            let parsed: Value = match serde_json::from_str(&text) {
                Ok(v) => v,
                Err(_) => {
                    let err = ApiError::Failed(format!(
                        "Railway {}: unexpected answer (HTTP {status}, not JSON)",
                        op.name
                    ));
                    return Err(err);
                }
            };
            let errors: Vec<&Value> = parsed
                .get("errors")
                .and_then(Value::as_array)
                .map(|a| a.iter().collect())
                .unwrap_or_default();
            if status == 400 || (status != 200 && !errors.is_empty()) {
                let (code, message) = errors
                    .first()
                    .map(|e| {
                        (
                            e["extensions"]["code"]
                                .as_str()
                                .unwrap_or("BAD_REQUEST")
                                .to_string(),
                            e["message"].as_str().unwrap_or_default().to_string(),
                        )
                    })
                    .unwrap_or_else(|| ("BAD_REQUEST".into(), String::new()));
                return Err(ApiError::Invalid {
                    code,
                    message: mask(
                        &format!("Railway {} (HTTP {status}): {message}", op.name),
                        &sent_values,
                    ),
                });
            }
            if status != 200 {
                return Err(ApiError::Failed(format!(
                    "Railway {}: HTTP {status}",
                    op.name
                )));
            }
            if errors.is_empty() {
                return Ok(parsed.get("data").cloned().unwrap_or(Value::Null));
            }
            let err = classify(op, &errors, &sent_values);
            match err {
                ApiError::Transient(_, wait) => {
                    if let Some(w) = wait {
                        self.block(w);
                    }
                    if !retry::may_send_again(attempt) {
                        return Err(err);
                    }
                    tokio::time::sleep(backoff(attempt, wait)).await;
                    continue;
                }
                ApiError::Unknown(_) if op.kind == Kind::Query => {
                    match self.retry_or(op, attempt, None, err).await {
                        Some(e) => return Err(e),
                        None => continue,
                    }
                }
                other => return Err(other),
            }
        }
    }

    fn no_response(&self, op: &Op, started: Instant, what: &str) -> ApiError {
        self.debug(
            3,
            &format!(
                "  → no response after {} ms: {what}",
                started.elapsed().as_millis()
            ),
        );
        let next = retry::next(idempotency(op), Attempt::NoAnswer);
        let text = format!("Railway {}: {what}{}", op.name, next.suffix());
        match next {
            Next::Unknown => ApiError::Unknown(text),
            _ => ApiError::Transient(text, None),
        }
    }

    /// For a query, wait and say "again" (`None`) while attempts remain; otherwise the error.
    async fn retry_or(
        &self,
        op: &Op,
        attempt: u32,
        after: Option<Duration>,
        err: ApiError,
    ) -> Option<ApiError> {
        if idempotency(op) == Idempotency::Unsafe || !retry::may_send_again(attempt) {
            return Some(match err {
                ApiError::Transient(m, w) => ApiError::Transient(m, w.or(after)),
                other => other,
            });
        }
        let pause = backoff(attempt, after);
        self.debug(
            2,
            &format!("{} — retrying in {} ms", err.message(), pause.as_millis()),
        );
        tokio::time::sleep(pause).await;
        None
    }
}

/// Queries may be sent again after any failure; a mutation only after 429.
fn idempotency(op: &Op) -> Idempotency {
    match op.kind {
        Kind::Query => Idempotency::Safe,
        Kind::Mutation => Idempotency::Unsafe,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Documents Railway's schema rejects come back as HTTP 400: through this client each is
    /// a clear error with its `extensions.code`, never retried, never showing a variable value.
    /// (The emulator's own suite checks 30 more: tests/support/railway-emulator/tests/validation.rs.)
    #[test]
    fn ten_known_bad_documents_are_clear_non_transient_errors() {
        use railway_emulator::{Config, DEFAULT_WORKSPACE_TOKEN, Emulator};
        let _ = rustls::crypto::ring::default_provider().install_default();
        let emu = Emulator::start(Config::default().with_time_scale(0.001));
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let sink = lines.clone();
        let http = Http::new(std::sync::Arc::new(move |_, l: &str| {
            sink.lock().unwrap().push(l.to_string())
        }))
        .unwrap();
        let api = Api::new(
            http,
            emu.url(),
            Secret::new(DEFAULT_WORKSPACE_TOKEN),
            Vec::new(),
        );
        let q = |doc: &'static str| Op {
            name: "ScalewizeBad",
            document: doc.into(),
            kind: Kind::Query,
            secret_request: false,
            secret_response: false,
        };
        let upsert = Op {
            name: "ScalewizeBad",
            ..super::super::ops::VARIABLES_UPSERT
        };
        let cases: Vec<(Op, Value, &str)> = vec![
            (
                q("query ScalewizeBad { project(id: \"x\") { id "),
                json!({}),
                "GRAPHQL_PARSE_FAILED",
            ),
            (
                q("query ScalewizeBad { project(id: \"x\") { id owner } }"),
                json!({}),
                "GRAPHQL_VALIDATION_FAILED",
            ),
            (
                q(
                    "query ScalewizeBad { variables(projectId: \"p\", environmentId: \"e\") { name } }",
                ),
                json!({}),
                "GRAPHQL_VALIDATION_FAILED",
            ),
            (
                q("query ScalewizeBad { project(id: 42) { id } }"),
                json!({}),
                "GRAPHQL_VALIDATION_FAILED",
            ),
            (
                q("query ScalewizeBad { project { id } }"),
                json!({}),
                "GRAPHQL_VALIDATION_FAILED",
            ),
            (
                q(
                    "query ScalewizeBad { deployments(input: {status: {successfulOnly: true}}) { edges { node { id } } } }",
                ),
                json!({}),
                "GRAPHQL_VALIDATION_FAILED",
            ),
            (
                q("query ScalewizeBad { project(id: $id) { id } }"),
                json!({}),
                "GRAPHQL_VALIDATION_FAILED",
            ),
            (
                q("query ScalewizeBad($id: String!) { project(id: $id) { id } }"),
                json!({}),
                "BAD_USER_INPUT",
            ),
            (
                Op {
                    kind: Kind::Mutation,
                    ..q(
                        "mutation ScalewizeBad($input: ServiceInstanceUpdateInput!) { serviceInstanceUpdate(serviceId: \"s\", input: $input) }",
                    )
                },
                json!({"input": {"restartPolicyType": "SOMETIMES"}}),
                "BAD_USER_INPUT",
            ),
            (
                upsert,
                json!({"input": {"projectId": "p", "environmentId": "e", "variables": {"A": 1, "B": "hush-do-not-print-me"}}}),
                "BAD_USER_INPUT",
            ),
        ];
        assert_eq!(cases.len(), 10);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let before = emu.request_count();
        for (op, vars, code) in cases {
            let doc = op.document.clone();
            let err = rt.block_on(api.run(&op, vars)).unwrap_err();
            match &err {
                ApiError::Invalid { code: got, message } => {
                    assert_eq!(got, code, "{doc}: {message}");
                    assert!(!message.contains("hush-do-not-print-me"), "{message}");
                }
                other => panic!("{doc}: {other:?}"),
            }
            let e = super::super::error_for(err, None);
            assert!(!e.is_transient(), "{doc}");
            assert!(e.message.contains(code), "{}", e.message);
            assert!(
                e.hint
                    .as_deref()
                    .unwrap_or_default()
                    .contains("bug in scalewize")
            );
        }
        assert_eq!(emu.request_count() - before, 10, "none was retried");
        let logged = lines.lock().unwrap().join("\n");
        assert!(!logged.contains("hush-do-not-print-me"), "{logged}");
        assert!(!logged.contains(DEFAULT_WORKSPACE_TOKEN), "{logged}");
        for r in emu.requests() {
            assert_eq!(r.status, Some(400), "{}", r.document);
        }
    }
}
