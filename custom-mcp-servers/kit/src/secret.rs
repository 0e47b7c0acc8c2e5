//! Values that must never be printed, and the two helpers that handle them.

use std::fmt;

/// A credential or token. `Debug` and `Display` show only [`mask`]ed text; the value is reachable
/// only through [`Secret::expose`], which makes every use greppable.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The raw value, for the one place that must send it (an upstream request header).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `…abcd` (see [`mask`]).
    pub fn masked(&self) -> String {
        mask(&self.0)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({})", self.masked())
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

/// Shortest value whose last 4 characters may be shown: below it, 4 characters would give away
/// too much of the value, so only `…` is shown.
const MIN_LEN_TO_SHOW_TAIL: usize = 8;

/// Masks a secret for logs and `whoami`: `…` followed by its last 4 characters, or only `…` when
/// the value is shorter than 8 characters.
pub fn mask(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    if chars.len() < MIN_LEN_TO_SHOW_TAIL {
        return "…".to_owned();
    }
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("…{tail}")
}

/// Compares two byte strings in time that depends only on their lengths, not on where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let len = a.len().max(b.len());
    // Differing lengths already make the result false, but still walk the longer input.
    let mut diff = (a.len() ^ b.len()) as u64;
    for i in 0..len {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= u64::from(x ^ y);
    }
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_shows_only_the_last_four_characters() {
        assert_eq!(mask("pit-1234567890abcd"), "…abcd");
        assert_eq!(mask("12345678"), "…5678");
    }

    #[test]
    fn mask_hides_short_values_entirely() {
        assert_eq!(mask(""), "…");
        assert_eq!(mask("abc"), "…");
        assert_eq!(mask("1234567"), "…");
    }

    #[test]
    fn mask_counts_characters_not_bytes() {
        assert_eq!(mask("ééééééé€€€€"), "…€€€€");
    }

    #[test]
    fn secret_never_prints_its_value() {
        let secret = Secret::new("super-secret-value-9876");
        assert_eq!(format!("{secret}"), "…9876");
        assert_eq!(format!("{secret:?}"), "Secret(…9876)");
        assert_eq!(secret.expose(), "super-secret-value-9876");
    }

    #[test]
    fn constant_time_eq_compares_whole_values() {
        assert!(constant_time_eq(b"token-abc", b"token-abc"));
        assert!(!constant_time_eq(b"token-abc", b"token-abd"));
        assert!(!constant_time_eq(b"token-abc", b"token-ab"));
        assert!(!constant_time_eq(b"token-ab", b"token-abc"));
        assert!(!constant_time_eq(b"", b"x"));
        assert!(constant_time_eq(b"", b""));
    }
}
