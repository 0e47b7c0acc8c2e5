//! Where the engine gets secret values and their fingerprints: the encrypted store, or a test double.

use super::{Secret, SecretRef, SecretStore};
use crate::error::Result;

/// Where the engine gets secret values and their fingerprints (the encrypted store, or a test double).
pub trait SecretSource: Send + Sync {
    /// The value; an error names the secret and how to set it, never a value.
    fn value(&self, r: &SecretRef) -> Result<Secret>;
    /// The fingerprint of the current value (`hmac-sha256:…`).
    fn fingerprint(&self, r: &SecretRef) -> Result<String>;
    /// `text` with every secret value this source has handed out masked.
    fn redact(&self, text: &str) -> String {
        text.to_string()
    }
}

/// The encrypted store (with its `SCALEWIZE_SECRET_…` overrides) is the source of a real run.
impl SecretSource for super::SecretStore {
    fn value(&self, r: &SecretRef) -> Result<Secret> {
        self.require(r)
    }
    fn fingerprint(&self, r: &SecretRef) -> Result<String> {
        let v = self.require(r)?;
        Ok(SecretStore::fingerprint(self, &r.name, &v)?.to_string())
    }
    fn redact(&self, text: &str) -> String {
        self.redactor().redact(text)
    }
}
