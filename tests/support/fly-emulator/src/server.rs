//! HTTP serving and the per-request pipeline: log → stop hook → latency → route → auth →
//! rate limit → injected 429/5xx → app access (lag) → validation → lease-conflict → apply →
//! lost response / 408-but-created / app lag → answer.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::api::{self, AppAccess, Caller, Ctx, Kind, Reply, Route};
use crate::config::{BucketSpec, LostResponseMode, StopMode};
use crate::record::{FaultKind, LoggedRequest, RateLimitEvent, RateViolation, Rejection};
use crate::rng;
use crate::schema::{self, Problem};
use crate::state::{Bucket, Inner};

pub(crate) type Shared = Arc<Mutex<Inner>>;

pub(crate) fn lock(shared: &Shared) -> MutexGuard<'_, Inner> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

/// The connection is dropped without a response.
#[derive(Debug)]
pub(crate) struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("response dropped by fault injection")
    }
}

impl std::error::Error for Dropped {}

pub(crate) async fn serve(
    listener: TcpListener,
    shared: Shared,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let shared = shared.clone();
                let mut stop = shutdown.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| handle(shared.clone(), req));
                    let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
                    tokio::select! {
                        _ = conn => {}
                        _ = stop.changed() => {}
                    }
                });
            }
            _ = shutdown.changed() => break,
        }
    }
}

fn percent_decode(s: &str, plus_is_space: bool) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' if plus_is_space => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_query(q: Option<&str>) -> Vec<(String, String)> {
    q.unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k, true), percent_decode(v, true))
        })
        .collect()
}

/// notes l.16-21: `Bearer <token>` or `FlyV1 <macaroon>`; a token that itself starts with
/// `FlyV1 ` is accepted behind `Bearer` too (the docs' MCP guide does that).
fn authenticate(inner: &Inner, header: Option<&str>) -> Option<Caller> {
    let header = header?.trim();
    let (scheme, rest) = header.split_once(' ')?;
    let token = match scheme {
        "Bearer" | "FlyV1" => rest.trim(),
        _ => return None,
    };
    let token = token.strip_prefix("FlyV1 ").unwrap_or(token);
    inner
        .cfg
        .tokens
        .iter()
        .find(|t| t.token == token)
        .map(|t| Caller {
            org: t.org.clone(),
            scope: t.scope.clone(),
            owner: t.owner.clone(),
        })
}

fn bucket_spec(inner: &Inner, kind: Kind) -> BucketSpec {
    match kind {
        Kind::GetMachine => inner.cfg.rate_limits.get_machine,
        Kind::DeleteApp => inner.cfg.rate_limits.app_delete,
        _ => inner.cfg.rate_limits.per_action,
    }
}

/// The identifier a bucket is scoped to (notes l.162: machine id or app id).
fn identifier(
    route: &Route,
    caller: &Caller,
    json: Option<&Value>,
    query: &[(String, String)],
) -> String {
    if route.kind == Kind::DeleteApp {
        // notes l.163: app deletions are limited as such (per org here).
        return format!("org:{}", caller.org);
    }
    if let Some(m) = &route.machine {
        return m.clone();
    }
    if let Some(a) = &route.app {
        return a.clone();
    }
    match route.kind {
        Kind::CreateApp => json
            .and_then(|b| b.get("name"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| format!("org:{}", caller.org)),
        _ => query
            .iter()
            .find(|(k, _)| k == "org_slug")
            .map(|(_, v)| format!("org:{v}"))
            .unwrap_or_else(|| format!("org:{}", caller.org)),
    }
}

impl Inner {
    /// Take a token from the (action, identifier) bucket; on failure, the whole virtual seconds
    /// to announce. Also records backoff violations.
    fn rate_limit(&mut self, seq: u64, kind: Kind, ident: &str) -> Result<(), u64> {
        if !self.cfg.rate_limits.enabled {
            return Ok(());
        }
        let spec = bucket_spec(self, kind);
        let now = self.now();
        let key = (kind.action().to_string(), ident.to_string());
        let bucket = self.buckets.entry(key).or_insert(Bucket {
            tokens: spec.burst,
            last: now,
            backoff_until: None,
        });
        if let Some((until, by)) = bucket.backoff_until {
            // A little tolerance for float rounding of virtual time.
            if now + 1e-6 < until {
                self.violations.push(RateViolation {
                    seq,
                    action: kind.action().to_string(),
                    identifier: ident.to_string(),
                    early_by: until - now,
                    announced_by_seq: by,
                    at: now,
                });
                self.counters.rate_violations += 1;
            } else {
                bucket.backoff_until = None;
            }
        }
        bucket.tokens = (bucket.tokens + (now - bucket.last) * spec.rate).min(spec.burst);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = ((1.0 - bucket.tokens) / spec.rate).ceil().max(1.0) as u64;
            Err(wait)
        }
    }

    fn announce_backoff(
        &mut self,
        seq: u64,
        kind: Kind,
        ident: &str,
        secs: u64,
        injected: bool,
    ) -> Option<u64> {
        let now = self.now();
        let announced = self.cfg.retry_after.then_some(secs);
        if let Some(secs) = announced {
            let key = (kind.action().to_string(), ident.to_string());
            let spec = bucket_spec(self, kind);
            let bucket = self.buckets.entry(key).or_insert(Bucket {
                tokens: spec.burst,
                last: now,
                backoff_until: None,
            });
            let until = now + secs as f64;
            if bucket.backoff_until.is_none_or(|(u, _)| u < until) {
                bucket.backoff_until = Some((until, seq));
            }
        }
        self.limited.push(RateLimitEvent {
            seq,
            action: kind.action().to_string(),
            identifier: ident.to_string(),
            retry_after: announced,
            injected,
            at: now,
        });
        announced
    }

    /// Whether fault `kind` wants to fire on this eligible request. `taken`: another exclusive
    /// fault already claimed it (the forced occurrence then moves to the next eligible request).
    fn wants(&mut self, kind: FaultKind, seq: u64, taken: bool) -> bool {
        let f = self.faults.get(kind);
        if !f.is_on() {
            return false;
        }
        let i = kind.index();
        let fs = &mut self.fault_state;
        fs.eligible[i] += 1;
        if fs.target[i] == Some(fs.eligible[i]) && fs.fired[i] == 0 {
            fs.pending_forced[i] = true;
        }
        let roll = rng::unit(&[self.faults.seed, seq, i as u64, 0xFA]);
        !taken && (fs.pending_forced[i] || roll < f.probability)
    }

    fn fired(&mut self, kind: FaultKind, seq: u64) {
        let i = kind.index();
        if i < self.fault_state.fired.len() {
            self.fault_state.fired[i] += 1;
            self.fault_state.pending_forced[i] = false;
        }
        self.counters.faults.bump(kind);
        if let Some(entry) = self.entry(seq) {
            entry.faults.push(kind);
        }
    }

    fn draw(&self, seq: u64, salt: u64) -> f64 {
        rng::unit(&[self.faults.seed, seq, salt, 0xD4A])
    }

    fn entry(&mut self, seq: u64) -> Option<&mut LoggedRequest> {
        self.log.iter_mut().rev().find(|e| e.seq == seq)
    }

    fn reject(&mut self, seq: u64, method: &str, path: &str, problems: &[Problem]) {
        for p in problems {
            if p.kind.is_key_rejection() {
                self.counters.rejected_keys += 1;
                if matches!(
                    p.kind,
                    schema::ProblemKind::FlyTomlName | schema::ProblemKind::LegacyForm
                ) {
                    self.counters.flytoml_or_legacy_names += 1;
                }
            }
            self.rejections.push(Rejection {
                seq,
                method: method.to_string(),
                path: path.to_string(),
                location: p.path.clone(),
                key: p.key.clone(),
                kind: p.kind,
                message: p.message.clone(),
            });
        }
    }
}

fn invalid(problems: &[Problem]) -> Reply {
    let first = problems
        .first()
        .map(|p| p.message.clone())
        .unwrap_or_default();
    Reply::json(
        400,
        json!({
            "error": format!("invalid request: {first}{}", if problems.len() > 1 { format!(" (and {} more)", problems.len() - 1) } else { String::new() }),
            "details": problems,
        }),
    )
}

enum Outcome {
    Reply(Reply),
    Drop,
    Wait(api::WaitSpec),
}

struct Received {
    seq: u64,
    method: String,
    path: String,
    query: Vec<(String, String)>,
    auth: Option<String>,
    nonce: Option<String>,
    json: Option<Value>,
    body_bad_json: Option<String>,
}

async fn handle(shared: Shared, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Dropped> {
    let (parts, body) = req.into_parts();
    let bytes = body
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let method = parts.method.as_str().to_string();
    let raw_path = parts.uri.path().to_string();
    let raw_query = parts.uri.query().map(str::to_string);
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let auth = header("authorization");
    let nonce = header("fly-machine-lease-nonce");
    let mut headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(k, v)| {
            let name = k.as_str().to_ascii_lowercase();
            let value = String::from_utf8_lossy(v.as_bytes()).into_owned();
            let value = match name.as_str() {
                "authorization" => match value.split_once(' ') {
                    Some((scheme, _)) => format!("{scheme} <redacted>"),
                    None => "<redacted>".to_string(),
                },
                "fly-machine-lease-nonce" => "<redacted>".to_string(),
                _ => value,
            };
            (name, value)
        })
        .collect();
    headers.sort();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let body_empty = text.trim().is_empty();
    let (json, body_bad_json) = if body_empty {
        (None, None)
    } else {
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(v) => (Some(v), None),
            Err(e) => (None, Some(e.to_string())),
        }
    };

    // Phase 1: register, stop hook, latency.
    let (seq, stop, delay) = {
        let mut inner = lock(&shared);
        inner.seq += 1;
        let seq = inner.seq;
        let at = inner.now();
        inner.counters.requests += 1;
        inner.log.push(LoggedRequest {
            seq,
            method: method.clone(),
            path: raw_path.clone(),
            query: raw_query.clone(),
            headers,
            body: (!body_empty).then(|| text.clone()),
            json: json.clone(),
            action: None,
            status: None,
            response: None,
            applied_status: None,
            faults: Vec::new(),
            at,
        });
        let stop = match inner.faults.stop_after {
            Some(k) if seq > k => {
                inner.fired(FaultKind::Stopped, seq);
                Some(inner.faults.stop_mode)
            }
            _ => None,
        };
        let mut delay = None;
        if stop.is_none() && inner.wants(FaultKind::Latency, seq, false) {
            inner.fired(FaultKind::Latency, seq);
            let (lo, hi) = inner.faults.latency_ms;
            let (lo, hi) = (lo.min(hi) as f64, lo.max(hi) as f64);
            let ms = lo + (hi - lo) * inner.draw(seq, 1);
            delay = Some(inner.clock.wall(ms / 1000.0));
        }
        (seq, stop, delay)
    };
    match stop {
        Some(StopMode::Hang) => std::future::pending::<()>().await,
        Some(StopMode::DropConnection) => return Err(Dropped),
        None => {}
    }
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }

    let req = Received {
        seq,
        method,
        path: raw_path,
        query: parse_query(raw_query.as_deref()),
        auth,
        nonce,
        json,
        body_bad_json,
    };

    // Phase 2: everything under the lock.
    let outcome = {
        let mut inner = lock(&shared);
        process(&mut inner, &req)
    };
    let reply = match outcome {
        Outcome::Reply(r) => r,
        Outcome::Drop => {
            return Err(Dropped);
        }
        Outcome::Wait(spec) => loop {
            let (done, wall) = {
                let mut inner = lock(&shared);
                let (done, next) = api::poll_wait(&mut inner, &spec);
                let wall = inner.clock.wall((next - inner.now()).max(0.0));
                (done, wall)
            };
            if let Some(r) = done {
                break r;
            }
            tokio::time::sleep(wall.clamp(Duration::from_millis(1), Duration::from_millis(10)))
                .await;
        },
    };
    let response_text = reply.body.as_ref().map(|b| b.to_string());
    {
        let mut inner = lock(&shared);
        *inner.counters.by_status.entry(reply.status).or_insert(0) += 1;
        if let Some(e) = inner.entry(seq) {
            e.status = Some(reply.status);
            e.response = response_text.clone();
        }
    }
    Ok(build_response(&reply, response_text))
}

fn build_response(reply: &Reply, text: Option<String>) -> Response<Full<Bytes>> {
    let mut builder = Response::builder()
        .status(StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
    if text.is_some() {
        builder = builder.header("content-type", "application/json");
    }
    if let Some(secs) = reply.retry_after {
        builder = builder.header("retry-after", secs.to_string());
    }
    builder
        .body(Full::new(Bytes::from(text.unwrap_or_default())))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

fn process(inner: &mut Inner, req: &Received) -> Outcome {
    let seq = req.seq;
    let segs: Vec<String> = req
        .path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| percent_decode(s, false))
        .collect();
    let route = match api::parse_route(&req.method, &segs) {
        Ok(r) => r,
        Err((status, msg)) => return Outcome::Reply(Reply::error(status, msg)),
    };
    let kind = route.kind;
    if let Some(e) = inner.entry(seq) {
        e.action = Some(kind.action().to_string());
    }
    *inner
        .counters
        .by_action
        .entry(kind.action().to_string())
        .or_insert(0) += 1;

    let Some(caller) = authenticate(inner, req.auth.as_deref()) else {
        inner.counters.unauthorized += 1;
        return Outcome::Reply(Reply::error(401, "Authenticate: token validation error"));
    };

    let ident = identifier(&route, &caller, req.json.as_ref(), &req.query);
    if let Err(secs) = inner.rate_limit(seq, kind, &ident) {
        inner.counters.rate_limited += 1;
        let announced = inner.announce_backoff(seq, kind, &ident, secs, false);
        let mut r = Reply::error(429, "rate limit exceeded");
        r.retry_after = announced;
        return Outcome::Reply(r);
    }

    // 429 and 5xx answer before anything else, so nothing has claimed this request yet.
    let taken = false;
    if inner.wants(FaultKind::TooManyRequests, seq, taken) {
        inner.fired(FaultKind::TooManyRequests, seq);
        let announced = inner.announce_backoff(seq, kind, &ident, 1, true);
        let mut r = Reply::error(429, "rate limit exceeded");
        r.retry_after = announced;
        return Outcome::Reply(r);
    }
    if inner.wants(FaultKind::ServerError, seq, taken) {
        // (a 429 above returned; an unclaimed request reaches here)
        inner.fired(FaultKind::ServerError, seq);
        let status = [500, 502, 503][(inner.draw(seq, 2) * 3.0) as usize % 3];
        return Outcome::Reply(Reply::error(
            status,
            "internal error (injected by fly-emulator)",
        ));
    }

    if let Some(app) = &route.app {
        match api::check_app_access(inner, &caller, app, &req.method) {
            AppAccess::Ok => {}
            AppAccess::Denied(r) => return Outcome::Reply(r),
            // A partial lag shows the app itself (README: `app_lag_partial`).
            AppAccess::Lagging if kind == Kind::GetApp && inner.faults.app_lag_partial => {}
            AppAccess::Lagging => {
                inner.counters.faults.app_lag_404 += 1;
                if let Some(e) = inner.entry(seq) {
                    e.faults.push(FaultKind::AppCreateLag);
                }
                // notes l.228-231, l.241: the app is not visible yet: 404, empty body.
                return Outcome::Reply(Reply::empty(404));
            }
        }
    } else if caller.scope == crate::config::TokenScope::ReadOnly && req.method != "GET" {
        return Outcome::Reply(Reply::error(403, "read-only token"));
    }

    // Validation: query, then body.
    let mut problems = api::check_query(kind, &req.query);
    if let Some(err) = &req.body_bad_json {
        problems.push(Problem {
            path: String::new(),
            key: None,
            kind: schema::ProblemKind::WrongType,
            message: format!("the body is not valid JSON: {err}"),
        });
    } else {
        match (kind.schema(), &req.json) {
            (Some(obj), Some(body)) => problems.extend(schema::validate(obj, body)),
            (Some(_), None) if !kind.body_optional() => problems.push(Problem {
                path: String::new(),
                key: None,
                kind: schema::ProblemKind::Missing,
                message: "this endpoint needs a JSON body".to_string(),
            }),
            (None, Some(body)) if body.as_object().is_none_or(|o| !o.is_empty()) => {
                problems.push(Problem {
                    path: String::new(),
                    key: None,
                    kind: schema::ProblemKind::UnknownKey,
                    message: "this endpoint takes no body (send none, or `{}`)".to_string(),
                });
                if let Some(obj) = body.as_object() {
                    for k in obj.keys() {
                        problems.push(Problem {
                            path: k.clone(),
                            key: Some(k.clone()),
                            kind: schema::ProblemKind::UnknownKey,
                            message: format!("unknown key `{k}`: this endpoint takes no body"),
                        });
                    }
                }
            }
            _ => {}
        }
    }
    if !problems.is_empty() {
        inner.counters.invalid_requests += 1;
        inner.reject(seq, &req.method, &req.path, &problems);
        return Outcome::Reply(invalid(&problems));
    }

    let ctx = Ctx {
        caller: &caller,
        nonce: req.nonce.as_deref(),
        query: &req.query,
        body: req.json.as_ref(),
    };

    if kind == Kind::WaitMachine {
        return match api::prepare_wait(inner, &route, &ctx) {
            Ok(spec) => Outcome::Wait(spec),
            Err(r) => Outcome::Reply(r),
        };
    }

    // Lease conflict: another holder grabs the lease just before a new acquisition.
    if kind == Kind::AcquireLease && req.nonce.is_none() {
        let (app, id) = (
            route.app.clone().unwrap_or_default(),
            route.machine.clone().unwrap_or_default(),
        );
        let now = inner.now();
        let free = inner
            .apps
            .get(&app)
            .and_then(|a| a.machines.get(&id))
            .is_some_and(|m| !m.gone() && m.active_lease(now).is_none());
        if free && inner.wants(FaultKind::LeaseConflict, seq, taken) {
            let secs = inner.faults.lease_conflict_secs;
            if api::install_foreign_lease(inner, &app, &id, secs) {
                inner.fired(FaultKind::LeaseConflict, seq);
            }
        }
    }

    let want_408 =
        kind == Kind::CreateMachine && inner.wants(FaultKind::TimeoutButCreated, seq, taken);
    let want_lost = kind.mutating() && inner.wants(FaultKind::LostResponse, seq, taken || want_408);

    let reply = api::handle(inner, &route, &ctx);
    if let Some(e) = inner.entry(seq) {
        e.applied_status = Some(reply.status);
    }

    if reply.ok() && kind.mutating() {
        inner.counters.mutations += 1;
    }
    if reply.ok() && kind == Kind::CreateApp && inner.wants(FaultKind::AppCreateLag, seq, false) {
        let (lo, hi) = inner.faults.app_lag_secs;
        let (lo, hi) = (lo.min(hi), lo.max(hi));
        let lag = lo + (hi - lo) * inner.draw(seq, 3);
        let now = inner.now();
        if let Some(name) = req
            .json
            .as_ref()
            .and_then(|b| b.get("name"))
            .and_then(Value::as_str)
            && let Some(app) = inner.apps.get_mut(name)
        {
            app.visible_after = now + lag;
            inner.fired(FaultKind::AppCreateLag, seq);
        }
    }
    if reply.ok() && want_408 {
        inner.fired(FaultKind::TimeoutButCreated, seq);
        // notes l.170-172, l.239: the machine exists, the client sees 408.
        return Outcome::Reply(Reply::error(
            408,
            "request timed out (the machine may have been created)",
        ));
    }
    if reply.ok() && want_lost {
        inner.fired(FaultKind::LostResponse, seq);
        let drop = match inner.faults.lost_response_mode {
            LostResponseMode::DropConnection => true,
            LostResponseMode::BadGateway => false,
            LostResponseMode::Mixed => inner.draw(seq, 4) < 0.5,
        };
        if let Some(e) = inner.entry(seq) {
            e.response = reply.body.as_ref().map(|b| b.to_string());
        }
        return if drop {
            Outcome::Drop
        } else {
            Outcome::Reply(Reply::error(
                502,
                "bad gateway (response lost; the request was applied)",
            ))
        };
    }
    Outcome::Reply(reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes() {
        assert_eq!(percent_decode("2a09%3A8280%3A%3A1", false), "2a09:8280::1");
        assert_eq!(percent_decode("a+b%zz", true), "a b%zz");
        assert_eq!(percent_decode("100%", false), "100%");
        let q = parse_query(Some("metadata.mcp-client=acme&state=started,stopped&x"));
        assert_eq!(q[0], ("metadata.mcp-client".into(), "acme".into()));
        assert_eq!(q[2], ("x".into(), "".into()));
    }
}
