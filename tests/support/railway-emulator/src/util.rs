//! Small deterministic helpers: a seeded PRNG, the scaled clock, id and timestamp formatting.

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// SplitMix64: tiny, seedable and stable across versions (unlike `rand`'s generators), so a
/// seed means the same thing forever.
#[derive(Clone, Debug)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// A generator for one purpose (`stream`) and one index, independent of any other.
    pub(crate) fn derive(seed: u64, stream: u64, index: u64) -> Self {
        let mut r = Rng(seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let base = r.next_u64();
        Rng(base ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03))
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `lo..=hi`.
    pub(crate) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            return lo;
        }
        lo + self.next_u64() % (hi - lo + 1)
    }

    /// A UUID v4-shaped id, as Railway uses.
    pub(crate) fn uuid(&mut self) -> String {
        let a = self.next_u64();
        let b = self.next_u64();
        format!(
            "{:08x}-{:04x}-4{:03x}-{:x}{:03x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            8 + (b >> 62),
            (b >> 48) & 0xfff,
            b & 0xffff_ffff_ffff
        )
    }

    /// `n` lowercase letters and digits.
    pub(crate) fn alnum(&mut self, n: usize) -> String {
        const A: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        (0..n)
            .map(|_| A[(self.next_u64() % A.len() as u64) as usize] as char)
            .collect()
    }

    /// `n` lowercase hex digits.
    pub(crate) fn hex(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from_digit((self.next_u64() % 16) as u32, 16).unwrap())
            .collect()
    }
}

/// Emulated time. `emulated = real / scale`; the scale can change while running without
/// making emulated time jump.
#[derive(Debug)]
pub(crate) struct Clock {
    inner: Mutex<ClockInner>,
    wall_start: SystemTime,
}

#[derive(Debug)]
struct ClockInner {
    base_real: Instant,
    base_emu: f64,
    scale: f64,
}

impl Clock {
    pub(crate) fn new(scale: f64) -> Self {
        Clock {
            inner: Mutex::new(ClockInner {
                base_real: Instant::now(),
                base_emu: 0.0,
                scale: sane_scale(scale),
            }),
            wall_start: SystemTime::now(),
        }
    }

    /// Emulated seconds since the emulator started.
    pub(crate) fn now(&self) -> f64 {
        let c = self.inner.lock().unwrap();
        c.base_emu + c.base_real.elapsed().as_secs_f64() / c.scale
    }

    pub(crate) fn scale(&self) -> f64 {
        self.inner.lock().unwrap().scale
    }

    pub(crate) fn set_scale(&self, scale: f64) {
        let mut c = self.inner.lock().unwrap();
        let now = c.base_emu + c.base_real.elapsed().as_secs_f64() / c.scale;
        c.base_emu = now;
        c.base_real = Instant::now();
        c.scale = sane_scale(scale);
    }

    /// The real duration of `emulated` seconds at the current scale.
    pub(crate) fn real(&self, emulated: Duration) -> Duration {
        emulated.mul_f64(self.scale())
    }

    /// Emulated Unix time (seconds) of emulated instant `t`.
    pub(crate) fn unix(&self, t: f64) -> f64 {
        self.wall_start
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64()
            + t
    }

    /// RFC 3339 timestamp (UTC, milliseconds) of emulated instant `t`.
    pub(crate) fn rfc3339(&self, t: f64) -> String {
        rfc3339(self.unix(t))
    }
}

fn sane_scale(scale: f64) -> f64 {
    if scale.is_finite() && scale > 0.0 {
        scale
    } else {
        1.0
    }
}

/// Formats Unix seconds as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub(crate) fn rfc3339(unix: f64) -> String {
    let ms_total = (unix * 1000.0).floor() as i64;
    let secs = ms_total.div_euclid(1000);
    let ms = ms_total.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        sod / 3600,
        (sod % 3600) / 60,
        sod % 60
    )
}

/// A stable 64-bit hash (FNV-1a) for deterministic derived values such as fake commit SHAs.
pub(crate) fn fnv(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain(std::iter::once(0)) {
            h ^= b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_known_values() {
        assert_eq!(rfc3339(0.0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400.5), "2000-02-29T00:00:00.500Z");
        assert_eq!(rfc3339(1_767_225_599.0), "2025-12-31T23:59:59.000Z");
    }

    #[test]
    fn uuid_shape() {
        let id = Rng::new(7).uuid();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"));
    }

    #[test]
    fn derive_is_deterministic() {
        assert_eq!(
            Rng::derive(1, 2, 3).next_u64(),
            Rng::derive(1, 2, 3).next_u64()
        );
        assert_ne!(
            Rng::derive(1, 2, 3).next_u64(),
            Rng::derive(1, 2, 4).next_u64()
        );
    }
}
