//! `mcpSettings.allowedAddresses` added to a rendered `librechat.yaml`: LibreChat blocks MCP
//! servers on private, loopback or cluster-internal addresses unless listed as `host:port`.
//! Every runtime that puts MCP servers on such addresses (local, compose, Kubernetes) adds them
//! here, so the rendered file stays byte for byte above what is added.

use crate::error::{Error, Result};
use crate::yaml;

/// The rendered file, plus `mcpSettings.allowedAddresses` for `addresses`; `note` is the comment
/// line that says who added them (used when the rendered file has no `mcpSettings` yet).
pub fn with_allowed_addresses(rendered: &str, addresses: &[String], note: &str) -> Result<String> {
    if addresses.is_empty() {
        return Ok(rendered.to_string());
    }
    let doc = yaml::from_str(rendered)
        .map_err(|e| Error::new(format!("rendered librechat.yaml: {e}")))?;
    if doc.get("mcpSettings").is_none() {
        // Append, so the rendered file stays byte for byte above it.
        let mut out = rendered.to_string();
        out.push_str(&format!(
            "# {}\nmcpSettings:\n  allowedAddresses:\n",
            yaml::comment_text(note)
        ));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_appended_below_the_rendered_file_unchanged() {
        let rendered = "version: \"1.3.17\"\nmcpServers: {}\n";
        let out = with_allowed_addresses(rendered, &["kb:8080".into()], "added by a test").unwrap();
        assert!(out.starts_with(rendered), "{out}");
        let doc = yaml::from_str(&out).unwrap();
        assert_eq!(
            doc["mcpSettings"]["allowedAddresses"][0].as_str(),
            Some("kb:8080")
        );
    }

    #[test]
    fn existing_allowed_addresses_are_kept_and_not_repeated() {
        let rendered = "mcpSettings:\n  allowedAddresses:\n    - a:1\n";
        let out =
            with_allowed_addresses(rendered, &["a:1".into(), "b:2".into()], "unused").unwrap();
        let doc = yaml::from_str(&out).unwrap();
        let list = doc["mcpSettings"]["allowedAddresses"]
            .as_sequence()
            .unwrap();
        assert_eq!(list.len(), 2, "{out}");
    }
}
