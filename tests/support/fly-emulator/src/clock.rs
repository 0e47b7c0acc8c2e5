//! Virtual time. Every timing inside the emulator (token buckets, machine state transitions,
//! lease TTLs, wait timeouts, app-create lag, injected latency) is expressed in *virtual*
//! seconds, which run `1 / time_scale` times faster than wall time.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(Debug)]
pub(crate) struct Clock {
    base_wall: Instant,
    base_virtual: f64,
    scale: f64,
    /// Real unix time (seconds) at emulator start; virtual unix time = this + virtual now.
    epoch_unix: f64,
}

impl Clock {
    pub(crate) fn new(scale: f64) -> Clock {
        let epoch_unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        Clock {
            base_wall: Instant::now(),
            base_virtual: 0.0,
            scale: sanitize(scale),
            epoch_unix,
        }
    }

    /// Virtual seconds since the emulator started.
    pub(crate) fn now(&self) -> f64 {
        self.base_virtual + self.base_wall.elapsed().as_secs_f64() / self.scale
    }

    /// Virtual unix time in seconds.
    pub(crate) fn unix(&self, virtual_t: f64) -> f64 {
        self.epoch_unix + virtual_t
    }

    pub(crate) fn scale(&self) -> f64 {
        self.scale
    }

    pub(crate) fn set_scale(&mut self, scale: f64) {
        let now = self.now();
        self.base_virtual = now;
        self.base_wall = Instant::now();
        self.scale = sanitize(scale);
    }

    /// Jump virtual time forward (tests use it to expire leases or lag without sleeping).
    pub(crate) fn advance(&mut self, virtual_secs: f64) {
        if virtual_secs > 0.0 {
            self.base_virtual += virtual_secs;
        }
    }

    /// Wall-clock duration of `virtual_secs` at the current scale.
    pub(crate) fn wall(&self, virtual_secs: f64) -> Duration {
        Duration::from_secs_f64((virtual_secs * self.scale).max(0.0))
    }
}

fn sanitize(scale: f64) -> f64 {
    if scale.is_finite() && scale > 0.0 {
        scale
    } else {
        1.0
    }
}

/// RFC 3339 UTC timestamp (second precision) for a unix time.
pub(crate) fn rfc3339(unix: f64) -> String {
    let secs = unix.floor() as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc3339() {
        assert_eq!(rfc3339(0.0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000.0), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(951_782_400.0), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn scale_speeds_up_virtual_time() {
        let mut c = Clock::new(0.001);
        std::thread::sleep(Duration::from_millis(20));
        assert!(c.now() >= 20.0, "{}", c.now());
        c.set_scale(1.0);
        let before = c.now();
        c.advance(100.0);
        assert!(c.now() >= before + 100.0);
        assert_eq!(c.wall(2.0), Duration::from_secs(2));
    }
}
