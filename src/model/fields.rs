//! Comparable fields: how a service's settings are spelled for comparison (plan) and recorded on
//! a platform (its marker). Each encoding is written here once: if two platforms spelled a size
//! or a file digest differently, every deploy would show a diff forever.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use super::service::{ServiceKey, ServiceSpec, SpecValue};
use crate::secrets::SecretRef;

/// Comparable settings of a service: `field → value`. Fields named `secret.<NAME>` hold
/// fingerprints, never values.
pub type Fields = BTreeMap<String, String>;

/// The value of a dependency URL that does not exist yet.
pub const KNOWN_AFTER_APPLY: &str = "(known after apply)";
/// Placeholder a platform replaces with its own URL scheme for the service itself.
pub const OWN_URL: &str = "(own url)";
/// The pseudo-field that brings a down or crash-looping service back.
pub const STATE_FIELD: &str = "state";

/// Fields that carry a service's code (image, build source, binary, start command): a change to
/// one of them may change the tools it serves; any other change (env, size, a restart) must not.
pub const CODE_FIELDS: &[&str] = &["image", "binary", "run", "repo", "commit"];

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// A size as compared and recorded: `1 cpu, 256 MB`.
pub fn size_field(cpus: impl std::fmt::Display, memory_mb: impl std::fmt::Display) -> String {
    format!("{cpus} cpu, {memory_mb} MB")
}

/// A file's content as compared and recorded: `sha256:` and the first 16 hex digits.
pub fn content_digest(content: &[u8]) -> String {
    format!("sha256:{}", &sha256_hex(content)[..16])
}

/// Replace the own-URL placeholder in `env.*` fields with the platform's URL for the service.
pub fn substitute_own_url(fields: &mut Fields, own_url: &str) {
    for (k, v) in fields.iter_mut() {
        if k.starts_with("env.") && v == OWN_URL {
            *v = own_url.to_string();
        }
    }
}

/// The platform-agnostic comparable fields of a spec: settings, plain env values, dependency URLs
/// (or "known after apply"), secret fingerprints, and a digest of each file. Platforms then drop
/// what they do not have and add what they record (`Platform::fields`).
pub fn base_fields(
    spec: &ServiceSpec,
    urls: &BTreeMap<ServiceKey, String>,
    fingerprints: &BTreeMap<SecretRef, String>,
) -> Fields {
    let mut f = Fields::new();
    if let Some(i) = &spec.image {
        f.insert("image".into(), i.clone());
    }
    f.insert("port".into(), spec.port.to_string());
    f.insert("path".into(), spec.path.clone());
    f.insert("health_path".into(), spec.health_path.clone());
    if let Some(r) = &spec.region {
        f.insert("region".into(), r.clone());
    }
    f.insert(
        "size".into(),
        size_field(spec.size.cpus, spec.size.memory_mb),
    );
    for (name, value) in &spec.env {
        let (field, value) = match value {
            SpecValue::Plain { value } => (format!("env.{name}"), value.clone()),
            SpecValue::UrlOf { service } => (
                format!("env.{name}"),
                urls.get(service)
                    .cloned()
                    .unwrap_or_else(|| KNOWN_AFTER_APPLY.into()),
            ),
            SpecValue::OwnUrl => (format!("env.{name}"), OWN_URL.into()),
            SpecValue::Secret(r) => (
                format!("secret.{name}"),
                fingerprints
                    .get(r)
                    .cloned()
                    .unwrap_or_else(|| "(missing)".into()),
            ),
        };
        f.insert(field, value);
    }
    for (path, content) in &spec.files {
        f.insert(format!("file.{path}"), content_digest(content.as_bytes()));
    }
    f
}
