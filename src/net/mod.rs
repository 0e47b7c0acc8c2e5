//! HTTP for the cloud platforms: one client, request pacing (rate limits), retries with backoff
//! and jitter that honour `Retry-After`, and `-vvv` request logs with every secret masked.

pub mod limiter;

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::apply::{backoff, scaled};
use crate::error::{Error, Result};
use crate::secrets::redact;

/// Where debug lines go: `(level, line)`; level 3 is `-vvv`. The sink masks every known secret
/// value (the command wires it to the secret store's redactor).
pub type DebugSink = Arc<dyn Fn(u8, &str) + Send + Sync>;

/// Is repeating this request harmless if the first one was applied?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// Reads: retried on network errors, 408, 429 and 5xx.
    Safe,
    /// Writes: retried only on 429 (refused before processing). A lost response, 408 or 5xx
    /// leaves the outcome unknown: the error is transient, and the executor observes before retrying.
    Unsafe,
}

#[derive(Clone)]
pub struct Http {
    client: reqwest::Client,
    debug: DebugSink,
    pub max_attempts: u32,
}

/// A response read whole.
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_str(&self.body)
            .map_err(|e| Error::new(format!("unexpected response (HTTP {}): {e}", self.status)))
    }
}

/// `Retry-After` as seconds or an HTTP date.
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let v = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = v.parse::<f64>() {
        return Some(Duration::from_secs_f64(secs.max(0.0)));
    }
    let when = httpdate_parse(v)?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or_default(),
    )
}

fn httpdate_parse(v: &str) -> Option<std::time::SystemTime> {
    // "Sun, 06 Nov 1994 08:49:37 GMT"
    let parts: Vec<&str> = v.split_whitespace().collect();
    if parts.len() != 6 {
        return None;
    }
    let day: i64 = parts[1].parse().ok()?;
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| *m == parts[2])? as i64
        + 1;
    let year: i64 = parts[3].parse().ok()?;
    let hms: Vec<i64> = parts[4].split(':').filter_map(|x| x.parse().ok()).collect();
    if hms.len() != 3 {
        return None;
    }
    let (y, m) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hms[0] * 3600 + hms[1] * 60 + hms[2];
    Some(std::time::UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).ok()?))
}

impl Http {
    pub fn new(debug: DebugSink) -> Result<Http> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .connect_timeout(Duration::from_secs(15))
            .user_agent(concat!("scalewize/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::new(format!("cannot create the HTTP client: {e}")))?;
        Ok(Http {
            client,
            debug,
            max_attempts: 6,
        })
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    pub fn debug(&self, level: u8, line: &str) {
        (self.debug)(level, line);
    }

    /// Send a request built by `build` (called once per attempt), retrying per `idem`.
    /// `what` names the call in messages ("Railway serviceCreate").
    pub async fn send(
        &self,
        what: &str,
        idem: Idempotency,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<Reply> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let req = build(&self.client)
                .build()
                .map_err(|e| Error::new(format!("{what}: {e}")))?;
            let headers: Vec<(String, String)> = req
                .headers()
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("<binary>").to_string()))
                .collect();
            self.debug(
                3,
                &redact::format_request(req.method().as_str(), req.url().as_str(), &headers),
            );
            if let Some(body) = req.body().and_then(|b| b.as_bytes()) {
                self.debug(3, &format!("  body {}", String::from_utf8_lossy(body)));
            }
            let started = Instant::now();
            let outcome = self.client.execute(req).await;
            let (retryable, wait, err) = match outcome {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let headers = resp.headers().clone();
                    let body = resp.text().await.unwrap_or_default();
                    self.debug(
                        3,
                        &format!(
                            "  → {status} in {} ms: {}",
                            started.elapsed().as_millis(),
                            truncate(&body, 2000)
                        ),
                    );
                    let after = retry_after(&headers);
                    match status {
                        429 => (
                            true,
                            after,
                            Error::transient(format!("{what}: rate limited (HTTP 429)"), after),
                        ),
                        408 | 500..=599 => (
                            idem == Idempotency::Safe,
                            after,
                            Error::transient(
                                format!(
                                    "{what}: HTTP {status}{}",
                                    if idem == Idempotency::Unsafe {
                                        " (the outcome is unknown)"
                                    } else {
                                        ""
                                    }
                                ),
                                after,
                            ),
                        ),
                        _ => {
                            return Ok(Reply {
                                status,
                                headers,
                                body,
                            });
                        }
                    }
                }
                Err(e) => {
                    self.debug(
                        3,
                        &format!(
                            "  → no response after {} ms: {e}",
                            started.elapsed().as_millis()
                        ),
                    );
                    let msg = if e.is_timeout() {
                        "timed out"
                    } else {
                        "connection failed"
                    };
                    (
                        idem == Idempotency::Safe,
                        None,
                        Error::transient(format!("{what}: {msg} (the outcome is unknown)"), None),
                    )
                }
            };
            if !retryable || attempt >= self.max_attempts {
                return Err(err);
            }
            let pause = backoff(attempt, wait);
            self.debug(
                2,
                &format!("{} — retrying in {} ms", err.message, pause.as_millis()),
            );
            tokio::time::sleep(pause.max(scaled(Duration::from_millis(0)))).await;
        }
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.len() <= n {
        s.to_string()
    } else {
        let mut end = n;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}… ({} bytes)", &s[..end], s.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("retry-after", "3".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        h.insert(
            "retry-after",
            "Sun, 06 Nov 1994 08:49:37 GMT".parse().unwrap(),
        );
        assert_eq!(
            retry_after(&h),
            Some(Duration::ZERO),
            "a date in the past means now"
        );
        let t = httpdate_parse("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(
            t.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs(),
            784_111_777
        );
    }
}
