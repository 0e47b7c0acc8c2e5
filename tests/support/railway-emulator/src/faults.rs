//! Fault decisions (a pure function of seed, request number and fault plan), counters, and
//! the rate limiter.

use std::collections::HashMap;
use std::time::Duration;

use serde::Serialize;

use crate::config::{Faults, ForcedFault, PlanLimits};
use crate::util::Rng;

/// How many faults of each kind were injected so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FaultCounters {
    pub latency: u64,
    pub http_5xx: u64,
    pub rate_limit_injected: u64,
    pub lost_response_dropped: u64,
    pub lost_response_504: u64,
    pub list_lag: u64,
    pub dropped: u64,
    pub stopped: u64,
    /// 429s from the real rate limiter (per-hour, per-second or Retry-After not elapsed).
    pub rate_limit_real: u64,
}

impl FaultCounters {
    /// Lost responses of both flavours.
    pub fn lost_response(&self) -> u64 {
        self.lost_response_dropped + self.lost_response_504
    }
}

/// How a lost response is lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lost {
    Drop,
    Status504,
}

/// Everything the fault plan decided for one request. Every request draws the same amount of
/// randomness whatever its kind, so decisions depend on the seed and sequence number only.
#[derive(Clone, Debug, Default)]
pub(crate) struct Decision {
    pub latency: Option<Duration>,
    pub status_5xx: Option<u16>,
    pub rate_limit: Option<u64>,
    pub lost: Option<Lost>,
    pub lag: Option<f64>,
    pub drop: bool,
}

pub(crate) fn decide(f: &Faults, seed: u64, seq: u64, counters: &FaultCounters) -> Decision {
    let mut r = Rng::derive(seed, 2, seq);
    let u: [f64; 8] = std::array::from_fn(|_| r.unit());
    let status_pick = r.range(0, 2);
    let retry = r.range(
        f.retry_after_secs.0,
        f.retry_after_secs.1.max(f.retry_after_secs.0),
    );
    let cap = |n: u64| f.max_per_kind.is_none_or(|m| n < m);
    let mut d = Decision::default();

    if let Some(l) = f.latency
        && u[0] < l.probability
        && cap(counters.latency)
    {
        d.latency = Some(l.fixed + l.jitter.mul_f64(u[1]));
    }
    if u[2] < f.http_5xx && cap(counters.http_5xx) {
        d.status_5xx = Some([502, 503, 504][status_pick as usize]);
    } else if u[3] < f.rate_limit && cap(counters.rate_limit_injected) {
        d.rate_limit = Some(retry.max(1));
    }
    if u[4] < f.lost_response && cap(counters.lost_response()) {
        d.lost = Some(if u[5] < 0.5 {
            Lost::Drop
        } else {
            Lost::Status504
        });
    }
    if let Some(l) = f.list_lag
        && u[6] < l.probability
        && cap(counters.list_lag)
    {
        // At least a tenth of the bound, so a drawn lag is never vanishingly small.
        d.lag = Some(l.max.as_secs_f64() * (0.1 + 0.9 * u[7]));
    }

    if let Some((_, forced)) = f.forced.iter().find(|(s, _)| *s == seq) {
        d = Decision {
            latency: d.latency,
            lag: d.lag,
            ..Decision::default()
        };
        match *forced {
            ForcedFault::Status(s) => d.status_5xx = Some(s),
            ForcedFault::RateLimit { retry_after_secs } => d.rate_limit = Some(retry_after_secs),
            ForcedFault::ApplyThenDrop => d.lost = Some(Lost::Drop),
            ForcedFault::ApplyThen504 => d.lost = Some(Lost::Status504),
            ForcedFault::Drop => d.drop = true,
        }
    }
    d
}

/// Per-token fixed windows (emulated time), opened by the first request in them.
#[derive(Clone, Debug, Default)]
pub(crate) struct Bucket {
    hour_start: f64,
    hour_count: u32,
    sec_start: f64,
    sec_count: u32,
    /// Emulated time before which the token was told to wait (`Retry-After`).
    pub blocked_until: f64,
}

/// The outcome of counting one request.
pub(crate) struct Admission {
    /// `Some(seconds)` when the request is refused.
    pub retry_after: Option<u64>,
    pub reason: Option<crate::log::RateLimited>,
    pub limit: Option<u32>,
    pub remaining: Option<u32>,
    /// Emulated time at which the hourly window resets.
    pub reset_at: f64,
    /// For a request before an announced `Retry-After` elapsed: how early (emulated seconds).
    pub early_by: Option<f64>,
}

pub(crate) fn whole_secs(s: f64) -> u64 {
    (s.max(0.0) - 1e-9).ceil().max(1.0) as u64
}

pub(crate) fn admit(
    buckets: &mut HashMap<String, Bucket>,
    key: &str,
    limits: Option<PlanLimits>,
    now: f64,
) -> Admission {
    let b = buckets.entry(key.to_string()).or_insert_with(|| Bucket {
        hour_start: now,
        sec_start: now,
        ..Default::default()
    });
    if now >= b.hour_start + 3600.0 {
        b.hour_start = now;
        b.hour_count = 0;
    }
    if now >= b.sec_start + 1.0 {
        b.sec_start = now;
        b.sec_count = 0;
    }
    let per_hour = limits.and_then(|l| l.per_hour);
    let per_sec = limits.and_then(|l| l.per_second);
    let mut adm = Admission {
        retry_after: None,
        reason: None,
        limit: per_hour,
        remaining: None,
        reset_at: b.hour_start + 3600.0,
        early_by: None,
    };
    if b.blocked_until > now {
        adm.early_by = Some(b.blocked_until - now);
        adm.retry_after = Some(whole_secs(b.blocked_until - now));
        adm.reason = Some(crate::log::RateLimited::RetryAfterNotElapsed);
    } else if per_hour.is_some_and(|l| b.hour_count >= l) {
        b.blocked_until = b.hour_start + 3600.0;
        adm.retry_after = Some(whole_secs(b.blocked_until - now));
        adm.reason = Some(crate::log::RateLimited::PerHour);
    } else if per_sec.is_some_and(|l| b.sec_count >= l) {
        b.blocked_until = b.sec_start + 1.0;
        adm.retry_after = Some(whole_secs(b.blocked_until - now));
        adm.reason = Some(crate::log::RateLimited::PerSecond);
    } else {
        b.hour_count += 1;
        b.sec_count += 1;
    }
    if let Some(retry) = adm.retry_after {
        // Round the wait up to the whole seconds announced, so a client that waits exactly
        // `Retry-After` is never early.
        b.blocked_until = now + retry as f64;
    }
    adm.remaining = per_hour.map(|l| l.saturating_sub(b.hour_count));
    adm
}

/// Marks `key` as told to wait `secs` (an injected 429).
pub(crate) fn block(buckets: &mut HashMap<String, Bucket>, key: &str, now: f64, secs: u64) {
    let b = buckets.entry(key.to_string()).or_insert_with(|| Bucket {
        hour_start: now,
        sec_start: now,
        ..Default::default()
    });
    b.blocked_until = b.blocked_until.max(now + secs as f64);
}
