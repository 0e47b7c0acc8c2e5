//! A GraphQL client for Railway's public API over the shared HTTP client (`net::Http`): auth
//! (`Authorization: Bearer $RAILWAY_API_TOKEN`), pacing by plan (`limits`), retries, error
//! classification, and `-vvv` request logs that never show a variable value.
//!
//! The attempt loop is here rather than in `Http::send` because it must pace every attempt
//! (a retry is a request too), block the whole token when one request hears `Retry-After`,
//! and log bodies with variable values masked: `Http::send` logs bodies whole.
//!
//! Retries (notes §2, SPEC §5): a query is retried on network errors, 408, 429, 5xx and
//! `INTERNAL_SERVER_ERROR`, with backoff and jitter; a mutation only on 429 (refused before it
//! was processed). A mutation whose outcome is unknown (no response, 408, 5xx, internal error)
//! comes back as [`ApiError::Unknown`]: the caller observes before doing it again.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use super::ops::{Kind, Op};
use crate::apply::backoff;
use crate::net::Http;
use crate::net::limiter::{Limiter, Rate};
use crate::secrets::Secret;
use crate::secrets::redact::format_request;

pub const DEFAULT_ENDPOINT: &str = "https://backboard.railway.com/graphql/v2";
pub const ENDPOINT_ENV: &str = "SCALEWIZE_RAILWAY_API_URL";

/// How a call failed.
#[derive(Debug, Clone)]
pub enum ApiError {
    /// The token was refused (`Not Authorized`).
    Auth(String),
    /// The thing asked for does not exist (`… not found`).
    NotFound(String),
    /// A create refused because the name is taken (`… already exists`).
    AlreadyExists(String),
    /// HTTP 400: the document or its variables do not match the schema. A scalewize bug.
    Invalid { code: String, message: String },
    /// A mutation whose outcome is unknown (no response, 408, 5xx, internal error).
    Unknown(String),
    /// Still failing after the retries (network, 429, 5xx on a query), with the last wait the
    /// server asked for.
    Transient(String, Option<Duration>),
    /// Any other error Railway reported.
    Failed(String),
}

impl ApiError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, ApiError::NotFound(_))
    }
    pub fn message(&self) -> &str {
        match self {
            ApiError::Auth(m)
            | ApiError::NotFound(m)
            | ApiError::AlreadyExists(m)
            | ApiError::Unknown(m)
            | ApiError::Transient(m, _)
            | ApiError::Failed(m) => m,
            ApiError::Invalid { message, .. } => message,
        }
    }
}

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
    /// Attempts per request (queries; mutations retry only 429s).
    pub max_attempts: u32,
}

impl Api {
    pub fn new(
        http: Http,
        endpoint: String,
        token: Secret,
        buckets: Vec<(&'static str, Rate)>,
    ) -> Api {
        // A key that tells tokens apart without holding one.
        let tag = &crate::plan::sha256_hex(token.expose().as_bytes())[..12];
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
            max_attempts: 6,
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

    /// The server said to wait `wait` (unscaled): nobody using this token sends before then.
    fn block(&self, wait: Duration) {
        let until = Instant::now() + crate::apply::scaled(wait);
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
        let mut attempt = 0;
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
            match status {
                429 => {
                    // Refused before processing: safe to repeat, after the wait, for everyone
                    // using this token.
                    let wait = after.unwrap_or(Duration::from_secs(1));
                    self.block(wait);
                    let err = ApiError::Transient(
                        format!("Railway {}: rate limited (HTTP 429)", op.name),
                        Some(wait),
                    );
                    if attempt >= self.max_attempts {
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
                    continue;
                }
                408 | 500..=599 => {
                    let err = match op.kind {
                        Kind::Query => ApiError::Transient(
                            format!("Railway {}: HTTP {status}", op.name),
                            after,
                        ),
                        Kind::Mutation => ApiError::Unknown(format!(
                            "Railway {}: HTTP {status}; the outcome is unknown",
                            op.name
                        )),
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
                    if attempt >= self.max_attempts {
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
        match op.kind {
            Kind::Query => ApiError::Transient(format!("Railway {}: {what}", op.name), None),
            Kind::Mutation => ApiError::Unknown(format!(
                "Railway {}: {what}; the outcome is unknown",
                op.name
            )),
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
        if op.kind == Kind::Mutation || attempt >= self.max_attempts {
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

/// Sort the errors of a 200 answer by `extensions.code` and message.
fn classify(op: &Op, errors: &[&Value], sent: &[String]) -> ApiError {
    let first = errors[0];
    let message = first["message"].as_str().unwrap_or_default();
    let code = first["extensions"]["code"].as_str().unwrap_or_default();
    let lower = message.to_ascii_lowercase();
    let text = mask(&format!("Railway {}: {message}", op.name), sent);
    if lower.contains("rate limit") {
        return ApiError::Transient(text, None);
    }
    if code == "INTERNAL_SERVER_ERROR" {
        return ApiError::Unknown(text);
    }
    if lower.contains("not authorized")
        || lower.contains("unauthorized")
        || lower.contains("project token not found")
    {
        return ApiError::Auth(text);
    }
    if lower.contains("already exists") {
        return ApiError::AlreadyExists(text);
    }
    if lower.contains("not found") {
        return ApiError::NotFound(text);
    }
    if code == "BAD_USER_INPUT" || code == "GRAPHQL_VALIDATION_FAILED" {
        return ApiError::Invalid {
            code: code.to_string(),
            message: text,
        };
    }
    ApiError::Failed(text)
}

/// Drop object members that are `null`, recursively.
fn strip_nulls(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, strip_nulls(v)))
                .collect::<Map<_, _>>(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(strip_nulls).collect()),
        other => other,
    }
}

/// Every string value in `v` worth masking in a message.
fn string_values(v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) if s.len() >= crate::secrets::redact::MIN_REDACTED_LEN => {
                out.push(s.clone())
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            Value::Object(m) => m.values().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    walk(v, &mut out);
    out.sort_by_key(|s| std::cmp::Reverse(s.len()));
    out
}

/// `text` with every value that was sent replaced (an error message may quote one).
fn mask(text: &str, sent: &[String]) -> String {
    let mut out = text.to_string();
    for v in sent {
        if out.contains(v.as_str()) {
            out = out.replace(v.as_str(), "<redacted>");
        }
    }
    out
}

/// Variables for a log line: the `variables` maps of variable writes show names only.
fn masked_vars(vars: &Value) -> String {
    fn walk(v: &Value, inside: bool) -> Value {
        match v {
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, x)| {
                        let x = if k == "variables" {
                            walk(x, true)
                        } else if inside {
                            match x {
                                Value::String(s) => Value::String(format!("<{} bytes>", s.len())),
                                other => walk(other, true),
                            }
                        } else {
                            walk(x, false)
                        };
                        (k.clone(), x)
                    })
                    .collect(),
            ),
            Value::Array(a) => Value::Array(a.iter().map(|x| walk(x, inside)).collect()),
            Value::String(s) if inside => Value::String(format!("<{} bytes>", s.len())),
            other => other.clone(),
        }
    }
    walk(vars, false).to_string()
}

fn truncate(s: &str, n: usize) -> String {
    if s.len() <= n {
        return s.to_string();
    }
    let mut end = n;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &s[..end], s.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variable_values_never_reach_a_log_line() {
        let vars = json!({"input": {"projectId": "p", "variables": {"A": "sekrit-value", "B": "x"}, "replace": true}});
        let line = masked_vars(&vars);
        assert!(!line.contains("sekrit"), "{line}");
        assert!(line.contains("\"A\":\"<12 bytes>\""), "{line}");
        assert!(line.contains("\"projectId\":\"p\""), "{line}");
        let sent = string_values(&vars);
        assert_eq!(
            mask("bad value sekrit-value here", &sent),
            "bad value <redacted> here"
        );
    }

    #[test]
    fn nulls_are_omitted() {
        assert_eq!(
            strip_nulls(json!({"a": null, "b": {"c": null, "d": 1}})),
            json!({"b": {"d": 1}})
        );
    }

    #[test]
    fn errors_are_classified_by_code_and_message() {
        let op = super::super::ops::DEPLOY;
        let e = |m: &str, code: Option<&str>| {
            let v = match code {
                Some(c) => json!({"message": m, "extensions": {"code": c}}),
                None => json!({"message": m}),
            };
            classify(&op, &[&v], &[])
        };
        assert!(matches!(e("Not Authorized", None), ApiError::Auth(_)));
        assert!(matches!(
            e("Service not found", None),
            ApiError::NotFound(_)
        ));
        assert!(matches!(
            e("A service named \"x\" already exists in this project", None),
            ApiError::AlreadyExists(_)
        ));
        assert!(matches!(
            e("boom", Some("INTERNAL_SERVER_ERROR")),
            ApiError::Unknown(_)
        ));
        assert!(matches!(
            e("Rate limit exceeded", None),
            ApiError::Transient(..)
        ));
        assert!(matches!(e("nope", None), ApiError::Failed(_)));
    }

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
