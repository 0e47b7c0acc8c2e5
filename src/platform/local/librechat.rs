//! LibreChat on `local`: the resolved `librechat.yaml` (plus `mcpSettings.allowedAddresses` for
//! the loopback MCP ports, which LibreChat blocks otherwise) and the resolved env, both 0600.

use std::path::{Path, PathBuf};

use super::{LOCAL_LIBRECHAT_URL, loopback_addresses};
use crate::error::{Error, Result};
use crate::plan::desired::LIBRECHAT_CONFIG_PATH;
use crate::platform::{Resolved, ResolvedSpec};
use crate::render::{ENV_FILE, LIBRECHAT_FILE, dotenv, write_atomic};
use crate::yaml;

/// Write both files; returns them and LibreChat's URL.
pub fn write_resolved(dir: &Path, spec: &ResolvedSpec) -> Result<(Vec<PathBuf>, String)> {
    let url = match spec.env.get("DOMAIN_CLIENT") {
        Some(Resolved::Plain(d)) => d.clone(),
        _ => LOCAL_LIBRECHAT_URL.to_string(),
    };
    let rendered = spec
        .spec
        .files
        .get(LIBRECHAT_CONFIG_PATH)
        .ok_or_else(|| Error::new("no rendered librechat.yaml"))?;
    let yaml_text = with_allowed_addresses(rendered, &loopback_addresses(&spec.env))?;
    let mut env = String::from(
        "# Resolved by `scalewize deploy` for the local platform: contains secrets. Do not commit.\n",
    );
    for (name, value) in &spec.env {
        let v = match value {
            Resolved::Plain(s) | Resolved::Url(s) => s.clone(),
            Resolved::OwnUrl => url.clone(),
            Resolved::Secret { value, .. } => value.expose().to_string(),
        };
        let quoted = dotenv::quote(&v).map_err(|why| {
            Error::new(format!(
                "the value of `{name}` cannot be written to an env file: it {why}"
            ))
        })?;
        env.push_str(&format!("{name}={quoted}\n"));
    }
    let yaml_path = dir.join(LIBRECHAT_FILE);
    let env_path = dir.join(ENV_FILE);
    write_atomic(&yaml_path, yaml_text.as_bytes(), Some(0o600))?;
    write_atomic(&env_path, env.as_bytes(), Some(0o600))?;
    Ok((vec![yaml_path, env_path], url))
}

/// The rendered file, plus `mcpSettings.allowedAddresses` for `addresses`.
pub fn with_allowed_addresses(rendered: &str, addresses: &[String]) -> Result<String> {
    if addresses.is_empty() {
        return Ok(rendered.to_string());
    }
    let doc = yaml::from_str(rendered)
        .map_err(|e| Error::new(format!("rendered librechat.yaml: {e}")))?;
    if doc.get("mcpSettings").is_none() {
        // Append, so the rendered file stays byte for byte above it.
        let mut out = rendered.to_string();
        out.push_str("# Added by scalewize deploy (local): LibreChat blocks loopback MCP servers unless listed.\nmcpSettings:\n  allowedAddresses:\n");
        for a in addresses {
            out.push_str(&format!("    - {}\n", yaml::quote_str(a)));
        }
        return Ok(out);
    }
    let mut doc = doc;
    let settings = doc
        .get_mut("mcpSettings")
        .and_then(yaml::Value::as_mapping_mut)
        .ok_or_else(|| Error::new("mcpSettings is not a mapping"))?;
    let list = settings
        .entry(yaml::Value::from("allowedAddresses"))
        .or_insert_with(|| yaml::Value::Sequence(Vec::new()));
    let seq = list
        .as_sequence_mut()
        .ok_or_else(|| Error::new("mcpSettings.allowedAddresses is not a list"))?;
    for a in addresses {
        let v = yaml::Value::from(a.as_str());
        if !seq.contains(&v) {
            seq.push(v);
        }
    }
    Ok(yaml::to_string(&doc))
}
