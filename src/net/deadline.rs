//! The deadline of the step a request belongs to, so that the transport can refuse a wait that
//! would end after it (a `Retry-After` close to an hour, when a Railway hourly budget ran out)
//! instead of sleeping past it. Set by a platform around one step's work; absent elsewhere.

use std::future::Future;
use std::time::{Duration, Instant};

tokio::task_local! {
    static STEP_DEADLINE: Instant;
}

/// Run `work` with `deadline` as its requests' deadline.
pub async fn within<F: Future>(deadline: Instant, work: F) -> F::Output {
    STEP_DEADLINE.scope(deadline, work).await
}

/// Would waiting `wait` (real time) end after the current step's deadline?
pub fn passed_by(wait: Duration) -> bool {
    STEP_DEADLINE
        .try_with(|d| Instant::now() + wait > *d)
        .unwrap_or(false)
}

/// When a wait of `secs` seconds from now ends, as `HH:MM:SS UTC` (wall clock).
pub fn wall_time_after(secs: u64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let t = (now + secs) % 86_400;
    format!("{:02}:{:02}:{:02} UTC", t / 3600, t / 60 % 60, t % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_wait_past_the_step_deadline_is_seen_only_inside_the_step() {
        assert!(
            !passed_by(Duration::from_secs(3600)),
            "no step, no deadline"
        );
        let deadline = Instant::now() + Duration::from_secs(60);
        within(deadline, async {
            assert!(passed_by(Duration::from_secs(3600)));
            assert!(!passed_by(Duration::from_secs(1)));
        })
        .await;
    }

    #[test]
    fn wall_times_are_clock_readings() {
        let t = wall_time_after(0);
        assert_eq!(t.len(), "00:00:00 UTC".len(), "{t}");
    }
}
