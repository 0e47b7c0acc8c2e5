//! The Machines REST client: one request at a time per rate-limit bucket, paced by Fly's
//! documented limits, retried per SPEC §5, logged at `-vvv` without secret values.
//!
//! The attempt loop is this client's own because pacing is per bucket: each attempt goes
//! through the bucket's limiter, a 429 blocks the bucket for everyone, and at most one request
//! per bucket is in flight. What an attempt's outcome allows (send again, report an unknown
//! outcome, hand back the answer) is `net::retry`'s one rule.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::Value;

use super::API_URL_ENV;
use super::limits::Action;
use crate::error::{Error, Result};
use crate::net::backoff::backoff;
use crate::net::limiter::{Limiter, Rate};
use crate::net::retry::{self, Attempt, Idempotency, MAX_RATE_LIMITED, Next, shorten};
use crate::net::{Http, retry_after};
use crate::secrets::redact;

pub const DEFAULT_API_URL: &str = "https://api.machines.dev";

/// The `Authorization` header for `token` (notes §1): a token already starting with `FlyV1 ` is
/// sent as is; a bare macaroon (every comma-separated part starts with `fm1r_`, `fm1a_` or
/// `fm2_`) is sent as `FlyV1 <token>`, as fly-go does; anything else as `Bearer <token>`.
pub fn authorization(token: &str) -> String {
    let t = token.trim();
    if t.starts_with("FlyV1 ") {
        return t.to_string();
    }
    let macaroon = !t.is_empty()
        && t.split(',').all(|p| {
            let p = p.trim();
            p.starts_with("fm1r_") || p.starts_with("fm1a_") || p.starts_with("fm2_")
        });
    if macaroon {
        format!("FlyV1 {t}")
    } else {
        format!("Bearer {t}")
    }
}

/// One call of the Machines API.
pub struct Request {
    pub action: Action,
    /// The app the call is about (or the org, for org-wide calls): what its limit is keyed by.
    pub ident: String,
    pub method: Method,
    /// Under the base URL, starting with `/v1/`.
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Option<Value>,
    /// What the debug log shows instead of the body (the secrets call: names only).
    pub log_body: Option<String>,
    pub nonce: Option<String>,
    pub timeout: Option<Duration>,
}

impl Request {
    pub fn new(action: Action, ident: &str, method: Method, path: String) -> Request {
        Request {
            action,
            ident: ident.to_string(),
            method,
            path,
            query: Vec::new(),
            body: None,
            log_body: None,
            nonce: None,
            timeout: None,
        }
    }
    pub fn get(action: Action, ident: &str, path: String) -> Request {
        Request::new(action, ident, Method::GET, path)
    }
    pub fn post(action: Action, ident: &str, path: String, body: Value) -> Request {
        Request::new(action, ident, Method::POST, path).json(body)
    }
    pub fn delete(action: Action, ident: &str, path: String) -> Request {
        Request::new(action, ident, Method::DELETE, path)
    }
    pub fn query(mut self, k: &str, v: impl Into<String>) -> Request {
        self.query.push((k.to_string(), v.into()));
        self
    }
    pub fn json(mut self, body: Value) -> Request {
        self.body = Some(body);
        self
    }
    pub fn log_body(mut self, shown: String) -> Request {
        self.log_body = Some(shown);
        self
    }
    pub fn nonce(mut self, nonce: Option<&str>) -> Request {
        self.nonce = nonce.map(str::to_string);
        self
    }
    pub fn timeout(mut self, d: Duration) -> Request {
        self.timeout = Some(d);
        self
    }
    fn what(&self) -> String {
        format!("Fly {} {}", self.action.name(), self.ident)
    }
}

/// A response read whole.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: String,
}

impl Reply {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
    pub fn value(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
    pub fn json<T: serde::de::DeserializeOwned>(&self, what: &str) -> Result<T> {
        serde_json::from_str(&self.body).map_err(|e| {
            Error::new(format!(
                "{what}: unexpected response (HTTP {}): {e}",
                self.status
            ))
        })
    }
    /// The `status` field of an error body (`name_taken`).
    pub fn status_field(&self) -> Option<String> {
        self.value()
            .get("status")
            .and_then(Value::as_str)
            .map(str::to_string)
    }
    /// The error text of a body (`{"error": "..."}`), or the body itself, shortened.
    pub fn error_text(&self) -> String {
        let v = self.value();
        let text = v
            .get("error")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| self.body.trim().to_string());
        if text.is_empty() {
            "(empty body)".to_string()
        } else {
            shorten(&text, 300)
        }
    }
}

pub struct Client {
    http: Http,
    base: String,
    auth: String,
    pub org: String,
    limiter: Limiter,
    /// One request in flight per bucket, so a 429 is seen before the next request goes out.
    inflight: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Client {
    pub fn new(http: Http, base: &str, token: &str, org: &str) -> Client {
        let base = base.trim().trim_end_matches('/');
        let base = base.strip_suffix("/v1").unwrap_or(base).to_string();
        Client {
            http,
            base,
            auth: authorization(token),
            org: org.to_string(),
            limiter: Limiter::default(),
            inflight: Mutex::new(HashMap::new()),
        }
    }

    pub fn debug(&self, level: u8, line: &str) {
        self.http.debug(level, line);
    }

    fn bucket_lock(&self, bucket: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self.inflight.lock().expect("fly in-flight map");
        map.entry(bucket.to_string()).or_default().clone()
    }

    /// Send `req`. Every 429 blocks its bucket for `Retry-After` (or a backoff) and is retried;
    /// a read is retried on network errors, 408 (except `wait`, whose 408 is its answer) and
    /// 5xx. A write whose outcome is unknown (no response, 408, 5xx) returns a transient error:
    /// the caller looks before writing again. Any other status is returned to the caller.
    pub async fn call(&self, req: &Request) -> Result<Reply> {
        let what = req.what();
        let bucket = req.action.bucket(&req.ident, &self.org);
        let lane = req.action.lane(&req.ident, &self.org);
        let rate = req.action.rate();
        let lock = self.bucket_lock(&lane);
        let _in_flight = lock.lock().await;
        let read = req.action.is_read();
        let mut url = reqwest::Url::parse(&format!("{}{}", self.base, req.path))
            .map_err(|e| Error::new(format!("{what}: bad URL ({API_URL_ENV}?): {e}")))?;
        if !req.query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in &req.query {
                pairs.append_pair(k, v);
            }
        }
        let (mut attempt, mut limited) = (0u32, 0u32);
        loop {
            self.limiter.acquire(&bucket, rate).await;
            if lane != bucket {
                // Only a 429's block applies to a lane.
                self.limiter
                    .acquire(&lane, Rate::per_second(1e6, 1e6))
                    .await;
            }
            attempt += 1;
            let mut b = self
                .http
                .client()
                .request(req.method.clone(), url.clone())
                .header(reqwest::header::AUTHORIZATION, &self.auth)
                .header(reqwest::header::ACCEPT, "application/json");
            if let Some(n) = &req.nonce {
                b = b.header("fly-machine-lease-nonce", n);
            }
            if let Some(body) = &req.body {
                b = b.json(body);
            }
            if let Some(t) = req.timeout {
                b = b.timeout(t);
            }
            let built = b.build().map_err(|e| Error::new(format!("{what}: {e}")))?;
            let headers: Vec<(String, String)> = built
                .headers()
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("<binary>").to_string()))
                .collect();
            // One line group per request, so concurrent requests do not interleave.
            let mut line =
                redact::format_request(built.method().as_str(), built.url().as_str(), &headers);
            match (&req.log_body, &req.body) {
                (Some(shown), _) => line.push_str(&format!("\n  body {shown}")),
                (None, Some(body)) => line.push_str(&format!("\n  body {body}")),
                _ => {}
            }
            self.debug(3, &line);
            let call = format!("{} {}", req.method, req.path);
            let started = Instant::now();
            let outcome = self.http.client().execute(built).await;
            let idem = if read {
                Idempotency::Safe
            } else {
                Idempotency::Unsafe
            };
            let (next, pause, failure) = match outcome {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let headers = resp.headers().clone();
                    let body = resp.text().await.unwrap_or_default();
                    self.debug(
                        3,
                        &format!(
                            "  → {status} for {call} in {} ms: {}",
                            started.elapsed().as_millis(),
                            shorten(&body, 2000)
                        ),
                    );
                    // `wait`'s 408 is its answer ("not in that state yet"), not a failure.
                    if status == 408 && req.action == Action::WaitMachine {
                        return Ok(Reply { status, body });
                    }
                    let next = retry::next(idem, Attempt::Answered(status));
                    if next == Next::Return {
                        if !(200..300).contains(&status) {
                            self.debug(
                                1,
                                &format!("{what}: HTTP {status}: {}", shorten(&body, 2000)),
                            );
                        }
                        return Ok(Reply { status, body });
                    }
                    (next, retry_after(&headers), format!("HTTP {status}"))
                }
                Err(e) => {
                    self.debug(
                        3,
                        &format!(
                            "  → no response for {call} after {} ms: {e}",
                            started.elapsed().as_millis()
                        ),
                    );
                    let msg = if e.is_timeout() {
                        "timed out"
                    } else {
                        "no response"
                    };
                    (retry::next(idem, Attempt::NoAnswer), None, msg.to_string())
                }
            };
            if next == Next::RateLimited {
                limited += 1;
                let wait = retry::rate_limited_wait(limited, pause);
                // Nobody sends to this bucket before the server's wait is over.
                self.limiter.block(&bucket, wait);
                self.limiter.block(&lane, wait);
                if limited < MAX_RATE_LIMITED {
                    self.debug(
                        2,
                        &format!(
                            "{what}: rate limited (HTTP 429), waiting {} ms (unscaled)",
                            wait.as_millis()
                        ),
                    );
                    // A 429 was refused before processing: it is not one of the call's sends.
                    attempt -= 1;
                    continue;
                }
                return Err(Error::transient(
                    format!("{what}: rate limited (HTTP 429)"),
                    pause,
                ));
            }
            let err = Error::transient(format!("{what}: {failure}{}", next.suffix()), pause);
            if next == Next::Unknown || !retry::may_send_again(attempt) {
                return Err(err);
            }
            let wait = backoff(attempt, pause);
            self.debug(
                2,
                &format!("{} — retrying in {} ms", err.message, wait.as_millis()),
            );
            tokio::time::sleep(wait).await;
        }
    }
}

/// An error for a status the caller did not expect, naming the call and Fly's message.
pub fn unexpected(what: &str, reply: &Reply) -> Error {
    let e = Error::new(format!(
        "{what}: HTTP {}: {}",
        reply.status,
        reply.error_text()
    ));
    match reply.status {
        401 => e.hint(
            "Fly refused FLY_API_TOKEN: create an org token with `fly tokens create org -o <org>` and export it",
        ),
        403 => e.hint(
            "the token may not do this: deploying needs an org token (`fly tokens create org -o <org>`), not a deploy or read-only token",
        ),
        // A 404 with an empty body means the app is missing or not visible yet (notes §9.6):
        // worth observing again rather than failing for good.
        404 => Error {
            transient: Some(crate::error::Transient { retry_after: None }),
            ..e
        },
        _ => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorization_schemes() {
        assert_eq!(authorization("FlyV1 fm2_abc"), "FlyV1 fm2_abc");
        assert_eq!(authorization("fm2_abc,fm1r_def"), "FlyV1 fm2_abc,fm1r_def");
        assert_eq!(authorization("fm1a_x\n"), "FlyV1 fm1a_x");
        assert_eq!(authorization("abc123"), "Bearer abc123");
        assert_eq!(authorization("fm2_abc,plain"), "Bearer fm2_abc,plain");
    }
}
