//! Fingerprints: change detection without reading a value back. `HMAC-SHA256(key, name || 0x00
//! || value)`, keyed by the workspace key (`SCALEWIZE_FINGERPRINT_KEY` in the shared store), shown
//! as `hmac-sha256:` and the first 16 hex digits. Platforms store it beside each secret (Fly
//! metadata, a Railway variable), so it must stay the same for an unchanged value; without the
//! key a fingerprint reveals nothing about the value, not even whether two workspaces share it.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::Secret;
use crate::error::{Error, Result};

pub const PREFIX: &str = "hmac-sha256:";
/// Hex digits shown (64 bits: plenty to detect a change, too few to matter as a MAC).
pub const HEX_DIGITS: usize = 16;

/// `hmac-sha256:0123456789abcdef`. Printing it is fine: it is what `list`, `diff` and `--json`
/// show instead of values.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Debug)]
pub struct Fingerprint(String);

impl Fingerprint {
    /// Compute the fingerprint of `value` stored as `name`, with the workspace key `key`.
    pub fn compute(key: &[u8], name: &str, value: &Secret) -> Fingerprint {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key");
        mac.update(name.as_bytes());
        mac.update(&[0]);
        mac.update(value.expose().as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut hex = hex::encode(digest);
        hex.truncate(HEX_DIGITS);
        Fingerprint(format!("{PREFIX}{hex}"))
    }

    /// Read a fingerprint back (e.g. from platform metadata).
    pub fn parse(s: &str) -> Option<Fingerprint> {
        let hex = s.strip_prefix(PREFIX)?;
        (hex.len() == HEX_DIGITS && hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| Fingerprint(s.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The workspace key as HMAC key bytes: the stored value is hex (32 random bytes).
pub fn key_bytes(value: &Secret) -> Result<Vec<u8>> {
    match hex::decode(value.expose().trim()) {
        Ok(bytes) if bytes.len() >= 16 => Ok(bytes),
        _ => Err(Error::new(format!(
            "{} is not a hex key of at least 16 bytes",
            super::FINGERPRINT_KEY
        ))
        .hint(format!(
            "rotating it changes every fingerprint: `scalewize secret rotate default {}`",
            super::FINGERPRINT_KEY
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_keyed_and_name_bound() {
        let key = [7u8; 32];
        let v = Secret::new("postgres://x");
        let a = Fingerprint::compute(&key, "DB", &v);
        assert_eq!(a, Fingerprint::compute(&key, "DB", &v));
        assert!(a.as_str().starts_with("hmac-sha256:"));
        assert_eq!(a.as_str().len(), PREFIX.len() + HEX_DIGITS);
        assert_ne!(a, Fingerprint::compute(&[8u8; 32], "DB", &v));
        assert_ne!(a, Fingerprint::compute(&key, "DB2", &v));
        // name || 0x00 || value: moving bytes between name and value changes the result.
        assert_ne!(
            Fingerprint::compute(&key, "AB", &Secret::new("C")),
            Fingerprint::compute(&key, "A", &Secret::new("BC"))
        );
        assert_eq!(Fingerprint::parse(a.as_str()), Some(a.clone()));
        assert_eq!(Fingerprint::parse("hmac-sha256:xyz"), None);
        assert_eq!(serde_json::to_string(&a).unwrap(), format!("\"{a}\""));
    }

    #[test]
    fn known_vector() {
        // printf 'NAME\0value' | openssl dgst -sha256 -mac HMAC -macopt hexkey:<64 zeros>
        let f = Fingerprint::compute(&[0u8; 32], "NAME", &Secret::new("value"));
        assert_eq!(f.as_str(), "hmac-sha256:9eae19879d41e3b7");
    }
}
