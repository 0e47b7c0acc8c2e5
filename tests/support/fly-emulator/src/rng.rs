//! Deterministic pseudo-randomness: SplitMix64 and a stateless mixer so that every fault
//! decision is a pure function of (seed, request number, fault kind).

pub(crate) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Hash of several words.
pub(crate) fn hash(parts: &[u64]) -> u64 {
    parts
        .iter()
        .fold(0x5EED_F1E5_u64, |acc, p| mix(acc ^ mix(*p)))
}

/// Uniform in [0, 1).
pub(crate) fn unit(parts: &[u64]) -> f64 {
    (hash(parts) >> 11) as f64 / (1u64 << 53) as f64
}

/// A sequential generator for ids.
#[derive(Debug)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }

    pub(crate) fn hex(&mut self, len: usize) -> String {
        self.chars(len, b"0123456789abcdef")
    }

    pub(crate) fn chars(&mut self, len: usize, alphabet: &[u8]) -> String {
        (0..len)
            .map(|_| alphabet[(self.next_u64() % alphabet.len() as u64) as usize] as char)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic() {
        assert_eq!(hash(&[1, 2, 3]), hash(&[1, 2, 3]));
        assert_ne!(hash(&[1, 2, 3]), hash(&[1, 2, 4]));
        let u = unit(&[7, 8]);
        assert!((0.0..1.0).contains(&u));
        let mut a = Rng::new(5);
        let mut b = Rng::new(5);
        assert_eq!(a.hex(14), b.hex(14));
    }
}
