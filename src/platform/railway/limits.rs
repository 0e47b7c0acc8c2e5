//! Railway's API rate limits by plan (notes §2: per hour 100 Free / 1 000 Hobby / 10 000 Pro;
//! per second 10 Hobby / 50 Pro; Enterprise custom), from `scalewize.json`:
//! `railway.plan` (default `hobby`), `railway.requests_per_second`, `railway.requests_per_hour`.
//!
//! The limits are turned into token buckets that can never exceed them in any window of their
//! length, even a fixed window that opens with a request (how the server counts): a bucket of
//! capacity `b` refilling at `r` sends at most `b + r·w` requests in a window `w`, so
//! `b + r·w` is kept at 90% (per second) or 95% (per hour) of the limit, leaving room for
//! requests that arrive bunched after network jitter.

use crate::error::{Error, Result};
use crate::net::limiter::Rate;
use crate::workspace::files::RailwaySettings;

/// Requests per window a plan allows (`None`: no limit of that kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub per_second: Option<u32>,
    pub per_hour: Option<u32>,
}

pub const DEFAULT_PLAN: &str = "hobby";

/// The limits of a plan by name.
pub fn plan_limits(plan: &str) -> Option<Limits> {
    Some(match plan {
        "free" | "trial" => Limits {
            per_second: None,
            per_hour: Some(100),
        },
        "hobby" => Limits {
            per_second: Some(10),
            per_hour: Some(1_000),
        },
        "pro" => Limits {
            per_second: Some(50),
            per_hour: Some(10_000),
        },
        // Custom: only what `requests_per_second` / `requests_per_hour` say.
        "enterprise" => Limits {
            per_second: None,
            per_hour: None,
        },
        _ => return None,
    })
}

/// The limits this workspace runs under: the plan's, overridden field by field.
pub fn limits(settings: &RailwaySettings) -> Result<Limits> {
    let plan = settings
        .plan
        .as_deref()
        .unwrap_or(DEFAULT_PLAN)
        .to_ascii_lowercase();
    let base = plan_limits(&plan).ok_or_else(|| {
        Error::new(format!("scalewize.json: unknown railway.plan {plan:?}"))
            .hint("use one of free, hobby, pro, enterprise (it sets the API request rate limits)")
    })?;
    let check = |v: Option<u32>, what: &str| -> Result<Option<u32>> {
        match v {
            Some(0) => Err(Error::new(format!(
                "scalewize.json: railway.{what} must be at least 1"
            ))),
            other => Ok(other),
        }
    };
    Ok(Limits {
        per_second: check(settings.requests_per_second, "requests_per_second")?.or(base.per_second),
        per_hour: check(settings.requests_per_hour, "requests_per_hour")?.or(base.per_hour),
    })
}

/// Token buckets for `limits`, each with the name of the window it paces.
pub fn buckets(limits: Limits) -> Vec<(&'static str, Rate)> {
    let mut out = Vec::new();
    if let Some(h) = limits.per_hour {
        let h = f64::from(h);
        // Capacity half the limit, refill 45% of it per hour: at most 95% in any hour.
        out.push(("hour", Rate::per_hour(h * 0.45, (h * 0.5).floor().max(1.0))));
    }
    if let Some(s) = limits.per_second {
        let s = f64::from(s);
        // Half of the allowance as a burst (short runs: a diff, one client), the rest as a
        // steady rate: at most `burst + rate` ≤ 90% of the limit in any second.
        let burst = (s * 0.45).floor().max(1.0);
        let rate = (s * 0.9 - burst).max(0.5);
        out.push(("second", Rate::per_second(rate, burst)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(plan: Option<&str>, rps: Option<u32>, rph: Option<u32>) -> RailwaySettings {
        RailwaySettings {
            plan: plan.map(str::to_string),
            requests_per_second: rps,
            requests_per_hour: rph,
            ..Default::default()
        }
    }

    #[test]
    fn plans_and_overrides() {
        assert_eq!(
            limits(&settings(None, None, None)).unwrap(),
            Limits {
                per_second: Some(10),
                per_hour: Some(1000)
            }
        );
        assert_eq!(
            limits(&settings(Some("Free"), None, None)).unwrap(),
            Limits {
                per_second: None,
                per_hour: Some(100)
            }
        );
        assert_eq!(
            limits(&settings(Some("pro"), Some(20), None)).unwrap(),
            Limits {
                per_second: Some(20),
                per_hour: Some(10_000)
            }
        );
        assert_eq!(
            limits(&settings(Some("enterprise"), None, Some(50_000))).unwrap(),
            Limits {
                per_second: None,
                per_hour: Some(50_000)
            }
        );
        assert!(limits(&settings(Some("gold"), None, None)).is_err());
        assert!(limits(&settings(None, Some(0), None)).is_err());
    }

    #[test]
    fn buckets_stay_under_the_limit_in_any_window() {
        for (s, h) in [(10, 1000), (50, 10_000), (1, 100), (3, 7)] {
            for (what, r) in buckets(Limits {
                per_second: Some(s),
                per_hour: Some(h),
            }) {
                let window = r.per.as_secs_f64();
                let most = r.burst + r.rate / r.per.as_secs_f64() * window;
                let limit = f64::from(if what == "second" { s } else { h });
                assert!(most <= limit.max(1.5), "{what}: {most} > {limit} ({r:?})");
                assert!(r.rate > 0.0 && r.burst >= 1.0);
            }
        }
        assert!(
            buckets(Limits {
                per_second: None,
                per_hour: None
            })
            .is_empty()
        );
    }
}
