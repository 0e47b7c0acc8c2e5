//! Waiting between attempts: backoff with full jitter, and the time scale that lets tests against
//! emulators run at a fraction of real time. Every sleep in scalewize goes through `scaled`.

use std::time::Duration;

/// Multiplies every sleep: tests against emulators run at a fraction of real time.
pub fn time_scale() -> f64 {
    std::env::var("SCALEWIZE_TIME_SCALE")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|v| *v > 0.0)
        .unwrap_or(1.0)
}

pub fn scaled(d: Duration) -> Duration {
    d.mul_f64(time_scale())
}

/// Backoff with full jitter: a random wait up to `base · 2^attempt` (capped), or what the server asked.
pub fn backoff(attempt: u32, retry_after: Option<Duration>) -> Duration {
    if let Some(d) = retry_after {
        return scaled(d);
    }
    let cap = Duration::from_millis((250u64 << attempt.min(6)).min(8_000));
    let mut b = [0u8; 8];
    let _ = getrandom::fill(&mut b);
    let frac = (u64::from_le_bytes(b) % 1000) as f64 / 1000.0;
    scaled(cap.mul_f64(0.5 + frac / 2.0))
}
