//! Request pacing: token buckets per key (a platform's rate-limit scope: an action on one app,
//! the whole token, …), in scaled time so emulator suites run fast.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::backoff::{scaled, time_scale};

/// `rate` requests per `per`, bursting to `burst`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub rate: f64,
    pub per: Duration,
    pub burst: f64,
}

impl Rate {
    pub fn per_second(rate: f64, burst: f64) -> Rate {
        Rate {
            rate,
            per: Duration::from_secs(1),
            burst,
        }
    }
    pub fn per_minute(rate: f64, burst: f64) -> Rate {
        Rate {
            rate,
            per: Duration::from_secs(60),
            burst,
        }
    }
    pub fn per_hour(rate: f64, burst: f64) -> Rate {
        Rate {
            rate,
            per: Duration::from_secs(3600),
            burst,
        }
    }
    /// Tokens per (real) second, with time scaled.
    fn per_real_second(&self) -> f64 {
        self.rate / self.per.as_secs_f64() / time_scale()
    }
}

struct Bucket {
    tokens: f64,
    at: Instant,
    /// Nothing before this instant (a server's Retry-After).
    blocked_until: Option<Instant>,
}

#[derive(Default)]
pub struct Limiter {
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl Limiter {
    /// Wait until `key` may send one request at `rate`, then take a token.
    pub async fn acquire(&self, key: &str, rate: Rate) {
        loop {
            let wait = {
                let mut buckets = self.buckets.lock().expect("limiter");
                let now = Instant::now();
                let b = buckets.entry(key.to_string()).or_insert(Bucket {
                    tokens: rate.burst,
                    at: now,
                    blocked_until: None,
                });
                b.tokens = (b.tokens
                    + now.duration_since(b.at).as_secs_f64() * rate.per_real_second())
                .min(rate.burst);
                b.at = now;
                match b.blocked_until {
                    Some(t) if t > now => t - now,
                    _ if b.tokens >= 1.0 => {
                        b.tokens -= 1.0;
                        return;
                    }
                    _ => Duration::from_secs_f64((1.0 - b.tokens) / rate.per_real_second()),
                }
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// The server told how much of `key`'s budget is left (`X-RateLimit-Remaining`): the
    /// bucket never holds more than that, so a run that starts late in a used-up hour paces
    /// itself instead of finding out by 429s.
    pub fn start_budget(&self, key: &str, rate: Rate, remaining: f64) {
        let mut buckets = self.buckets.lock().expect("limiter");
        let b = buckets.entry(key.to_string()).or_insert(Bucket {
            tokens: rate.burst,
            at: Instant::now(),
            blocked_until: None,
        });
        b.tokens = b.tokens.min(remaining.max(0.0));
    }

    /// The server said to wait `after` (unscaled) before `key` sends again.
    pub fn block(&self, key: &str, after: Duration) {
        let mut buckets = self.buckets.lock().expect("limiter");
        let until = Instant::now() + scaled(after);
        let b = buckets.entry(key.to_string()).or_insert(Bucket {
            tokens: 0.0,
            at: Instant::now(),
            blocked_until: None,
        });
        b.tokens = 0.0;
        b.blocked_until = Some(b.blocked_until.map_or(until, |t| t.max(until)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bursts_then_paces() {
        let l = Limiter::default();
        let rate = Rate::per_second(20.0, 3.0);
        let start = Instant::now();
        for _ in 0..3 {
            l.acquire("k", rate).await;
        }
        l.acquire("k", rate).await;
        assert!(
            start.elapsed() >= Duration::from_millis(40),
            "the fourth waits for a token"
        );
        l.acquire("other", rate).await;
    }

    #[test]
    fn a_reported_budget_only_ever_lowers_what_the_bucket_holds() {
        let l = Limiter::default();
        let rate = Rate::per_hour(1000.0, 50.0);
        l.start_budget("k", rate, 2.0);
        let held = |l: &Limiter| l.buckets.lock().unwrap()["k"].tokens;
        assert!(held(&l) <= 2.0);
        l.start_budget("k", rate, 900.0);
        assert!(held(&l) <= 2.0, "a larger report does not refill it");
    }
}
