//! Inheritance: `client-configs/default/` merges under each client. Objects merge field by
//! field with the client winning, arrays replace, and `mcp_servers` merge by `name`.

use serde_json::Value;

use super::files::{ClientFile, ServerEntry};
use crate::error::Location;

/// A server entry after merging, with where it was written (for messages).
pub struct MergedEntry {
    pub entry: ServerEntry,
    pub origin: Location,
}

/// `over` wins; objects merge recursively; everything else (arrays included) replaces.
pub fn merge_values(under: &mut Value, over: Value) {
    match (under, over) {
        (Value::Object(u), Value::Object(o)) => {
            for (k, v) in o {
                match u.get_mut(&k) {
                    Some(slot) => merge_values(slot, v),
                    None => {
                        u.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

fn merge_typed<T: serde::Serialize + serde::de::DeserializeOwned>(under: &T, over: &T) -> T {
    let mut u = serde_json::to_value(under).expect("config types serialize");
    merge_values(
        &mut u,
        serde_json::to_value(over).expect("config types serialize"),
    );
    serde_json::from_value(u).expect("a merge of two valid values is valid")
}

/// Merge the top-level settings (not `mcp_servers`, not the client's identity).
pub fn merge_client(default: Option<&ClientFile>, client: &ClientFile) -> ClientFile {
    let Some(default) = default else {
        return client.clone();
    };
    let mut base = default.clone();
    base.mcp_servers = None;
    base.client_id = None;
    base.client_name = None;
    base.schema = None;
    let mut over = client.clone();
    over.mcp_servers = None;
    let mut merged: ClientFile = merge_typed(&base, &over);
    merged.mcp_servers = None;
    merged
}

/// Merge the server lists by `name`: inherited entries first (in `default`'s order), then the
/// client's own. The client's fields win; `enabled: false` is kept so the caller can drop it.
pub fn merge_servers(
    default: Option<(&ClientFile, &Location)>,
    client: (&ClientFile, &Location),
) -> Vec<MergedEntry> {
    let mut out: Vec<MergedEntry> = Vec::new();
    if let Some((file, loc)) = default {
        for (i, e) in file.mcp_servers.iter().flatten().enumerate() {
            out.push(MergedEntry {
                entry: e.clone(),
                origin: loc.clone().at(format!("mcp_servers[{i}]")),
            });
        }
    }
    let (file, loc) = client;
    for (i, e) in file.mcp_servers.iter().flatten().enumerate() {
        let origin = loc.clone().at(format!("mcp_servers[{i}]"));
        match out.iter_mut().find(|m| m.entry.name == e.name) {
            Some(m) => {
                m.entry = merge_typed(&m.entry, e);
                m.origin = origin;
            }
            None => out.push(MergedEntry {
                entry: e.clone(),
                origin,
            }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn file(v: Value) -> ClientFile {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn client_wins_field_by_field_and_arrays_replace() {
        let d = file(json!({"mcp_servers": [
            {"name": "Slack", "type": "shared", "url": "https://s/mcp", "timeout": 1000, "secrets": ["A", "B"]},
            {"name": "Drive", "type": "shared", "url": "https://d/mcp"}
        ], "librechat": {"image": "img:1", "env": {"X": "1", "Y": "2"}}}));
        let c = file(json!({"client_id": "c", "mcp_servers": [
            {"name": "Slack", "timeout": 2000, "secrets": ["C"]},
            {"name": "Drive", "enabled": false},
            {"name": "CRM", "type": "client-specific"}
        ], "librechat": {"env": {"Y": "3"}}}));
        let loc = Location::file("x");
        let merged = merge_servers(Some((&d, &loc)), (&c, &loc));
        let names: Vec<_> = merged.iter().map(|m| m.entry.name.as_str()).collect();
        assert_eq!(names, ["Slack", "Drive", "CRM"]);
        assert_eq!(merged[0].entry.timeout, Some(2000));
        assert_eq!(merged[0].entry.url.as_deref(), Some("https://s/mcp"));
        assert_eq!(
            merged[0].entry.secrets.as_deref(),
            Some(&["C".to_string()][..])
        );
        assert_eq!(merged[1].entry.enabled, Some(false));
        let top = merge_client(Some(&d), &c);
        let lc = top.librechat.unwrap();
        assert_eq!(lc.image.as_deref(), Some("img:1"));
        let env = lc.env.unwrap();
        assert_eq!(env["X"], "1");
        assert_eq!(env["Y"], "3");
    }
}
