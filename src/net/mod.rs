//! HTTP for the cloud platforms: one reqwest client (timeouts, user agent), the debug sink that
//! masks every secret, `Retry-After`, pacing (`limiter`), backoff, and the one rule for sending a
//! request again (`retry`). Each platform's client runs its own attempt loop over these, because
//! pacing is per platform (a 429 blocks a Fly bucket, a Railway token), but every loop asks
//! `retry::next` what an attempt's outcome allows.

pub mod backoff;
pub mod deadline;
pub mod limiter;
pub mod retry;

use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result};

/// Where debug lines go: `(level, line)`; level 3 is `-vvv`. The sink masks every known secret
/// value (the command wires it to the secret store's redactor).
pub type DebugSink = Arc<dyn Fn(u8, &str) + Send + Sync>;

#[derive(Clone)]
pub struct Http {
    client: reqwest::Client,
    debug: DebugSink,
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
        Ok(Http { client, debug })
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    pub fn debug(&self, level: u8, line: &str) {
        (self.debug)(level, line);
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
