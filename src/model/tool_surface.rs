//! The tool surface of an MCP server as served (`tools/list`): each tool's name and SHA-256
//! digests of its description and of its input schema in a canonical JSON form (keys sorted, no
//! whitespace), and `tools.lock.json`, which records it per deployed service of a client.
//!
//! A tool whose description changes while the server's image and config did not is how a
//! compromised or swapped server hides new instructions for the model: the lock makes that a
//! reviewed change (`diff` shows it, `status` fails on it, `status --accept-tools` accepts it).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::fields::sha256_hex;
use crate::error::{Error, Result};

pub const LOCK_FILE: &str = "tools.lock.json";
const LOCK_VERSION: u32 = 1;

/// One tool as served, by digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolDigest {
    pub description: String,
    pub input_schema: String,
}

impl ToolDigest {
    pub fn of(description: Option<&str>, input_schema: &Value) -> ToolDigest {
        ToolDigest {
            description: format!(
                "sha256:{}",
                sha256_hex(description.unwrap_or("").as_bytes())
            ),
            input_schema: format!("sha256:{}", sha256_hex(canonical(input_schema).as_bytes())),
        }
    }
}

/// A server's tools by name.
pub type Surface = BTreeMap<String, ToolDigest>;

/// JSON with object keys sorted at every level and no insignificant whitespace.
pub fn canonical(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", Value::String(k.clone()), canonical(&m[k])))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(canonical).collect::<Vec<_>>().join(",")
        ),
        other => other.to_string(),
    }
}

/// What changed in one server's surface, tool by tool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "change", rename_all = "lowercase")]
pub enum ToolChange {
    Added {
        tool: String,
    },
    Removed {
        tool: String,
    },
    /// `what`: "description", "input schema", or both.
    Changed {
        tool: String,
        what: String,
    },
}

impl ToolChange {
    pub fn line(&self) -> String {
        match self {
            ToolChange::Added { tool } => format!("+ tool {tool}"),
            ToolChange::Removed { tool } => format!("- tool {tool}"),
            ToolChange::Changed { tool, what } => format!("~ tool {tool}: {what} changed"),
        }
    }
}

pub fn compare(locked: &Surface, live: &Surface) -> Vec<ToolChange> {
    let mut out = Vec::new();
    for (name, l) in locked {
        match live.get(name) {
            None => out.push(ToolChange::Removed { tool: name.clone() }),
            Some(now) if now != l => {
                let what = match (
                    now.description != l.description,
                    now.input_schema != l.input_schema,
                ) {
                    (true, true) => "description and input schema",
                    (true, false) => "description",
                    _ => "input schema",
                };
                out.push(ToolChange::Changed {
                    tool: name.clone(),
                    what: what.into(),
                });
            }
            Some(_) => {}
        }
    }
    for name in live.keys().filter(|n| !locked.contains_key(*n)) {
        out.push(ToolChange::Added { tool: name.clone() });
    }
    out
}

/// `client-configs/<client>/tools.lock.json`: the surface of each deployed service the client
/// uses, keyed by the service (`owner/service[@user]`). Committed; never holds a secret.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolsLock {
    pub version: u32,
    pub services: BTreeMap<String, Surface>,
}

impl ToolsLock {
    pub fn path(client_dir: &Path) -> PathBuf {
        client_dir.join(LOCK_FILE)
    }

    /// The lock in `client_dir`, or `None` when there is none yet.
    pub fn read(client_dir: &Path) -> Result<Option<ToolsLock>> {
        let path = Self::path(client_dir);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::new(format!("{}: {e}", path.display()))),
        };
        serde_json::from_str(&text).map(Some).map_err(|e| {
            Error::new(format!(
                "{}:{}:{}: not a tools lock: {e}",
                path.display(),
                e.line(),
                e.column()
            ))
            .hint("it is written by `scalewize deploy` and `status --accept-tools`; restore it from git or delete it to lock what is served now")
        })
    }

    pub fn write(&self, client_dir: &Path) -> Result<()> {
        let mut text = serde_json::to_string_pretty(&ToolsLock {
            version: LOCK_VERSION,
            services: self.services.clone(),
        })
        .map_err(|e| Error::new(e.to_string()))?;
        text.push('\n');
        crate::fs::write_atomic(&Self::path(client_dir), text.as_bytes(), None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_schema_digests_the_same_whatever_its_key_order() {
        let a = ToolDigest::of(
            Some("d"),
            &json!({"type": "object", "properties": {"b": 1, "a": 2}}),
        );
        let b = ToolDigest::of(
            Some("d"),
            &json!({"properties": {"a": 2, "b": 1}, "type": "object"}),
        );
        assert_eq!(a, b);
        assert_ne!(a, ToolDigest::of(Some("d2"), &json!({"type": "object"})));
    }

    #[test]
    fn changes_name_the_tool_and_what_changed() {
        let t = |d: &str| ToolDigest::of(Some(d), &json!({}));
        let locked = Surface::from([("a".into(), t("x")), ("b".into(), t("y"))]);
        let live = Surface::from([("a".into(), t("x2")), ("c".into(), t("z"))]);
        let lines: Vec<String> = compare(&locked, &live)
            .iter()
            .map(ToolChange::line)
            .collect();
        assert_eq!(
            lines,
            ["~ tool a: description changed", "- tool b", "+ tool c"]
        );
        assert!(compare(&locked, &locked).is_empty());
    }
}
