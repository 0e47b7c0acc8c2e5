//! Cases generated from the example workspace's own files: every member set to `null`, to a
//! value of the wrong JSON type, or renamed with a typo.

use serde_json::{Value, json};

use super::{Case, read_json};

/// Every member of a JSON document: (JSON path as the messages write it, key, value, whether
/// its parent is a free-form map such as `env` or `headers`).
fn members(v: &Value, at: &str, out: &mut Vec<(String, String, Value, bool)>, in_map: bool) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                let here = if at.is_empty() {
                    k.clone()
                } else {
                    format!("{at}.{k}")
                };
                out.push((here.clone(), k.clone(), child.clone(), in_map));
                let is_map = matches!(k.as_str(), "env" | "headers");
                members(child, &here, out, is_map);
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                members(child, &format!("{at}[{i}]"), out, false);
            }
        }
        _ => {}
    }
}

/// Set the member at `path` (as produced by `members`) with `f`.
fn at_path<'a>(v: &'a mut Value, path: &str) -> &'a mut Value {
    let mut cur = v;
    for part in split_path(path) {
        cur = match part {
            Part::Key(k) => cur.get_mut(&k).unwrap(),
            Part::Index(i) => cur.get_mut(i).unwrap(),
        };
    }
    cur
}

enum Part {
    Key(String),
    Index(usize),
}

fn split_path(path: &str) -> Vec<Part> {
    let mut out = Vec::new();
    for seg in path.split('.') {
        let (key, rest) = match seg.find('[') {
            Some(i) => (&seg[..i], &seg[i..]),
            None => (seg, ""),
        };
        if !key.is_empty() {
            out.push(Part::Key(key.to_string()));
        }
        for idx in rest.split('[').filter(|s| !s.is_empty()) {
            out.push(Part::Index(idx.trim_end_matches(']').parse().unwrap()));
        }
    }
    out
}

/// A value of another JSON type than `v`.
fn wrong_type(v: &Value) -> Value {
    match v {
        Value::String(_) => json!(42),
        Value::Number(_) => json!("forty-two"),
        Value::Bool(_) => json!("yes"),
        Value::Array(_) => json!("not-a-list"),
        Value::Object(_) => json!(7),
        Value::Null => json!(1),
    }
}

/// The files generated cases come from, and the command that reads each.
const GENERATED_FROM: &[(&str, &[&str])] = &[
    (
        "client-configs/client-a/mcp-servers.json",
        &["validate", "client-a"],
    ),
    (
        "client-configs/client-b/mcp-servers.json",
        &["validate", "client-b"],
    ),
    (
        "client-configs/client-c/mcp-servers.json",
        &["validate", "client-c"],
    ),
    ("client-configs/default/mcp-servers.json", &["validate"]),
    (
        "custom-mcp-servers/shared/knowledge-base-mcp/scalewize.json",
        &["validate", "client-a"],
    ),
    (
        "custom-mcp-servers/clients/client-a/custom-crm-mcp/scalewize.json",
        &["validate", "client-a"],
    ),
    (
        "custom-mcp-servers/clients/client-b/custom-erp-mcp/scalewize.json",
        &["validate", "client-b"],
    ),
    (
        "custom-mcp-servers/clients/client-c/servicedesk-mcp/scalewize.json",
        &["validate", "client-c"],
    ),
    ("scalewize.json", &["validate"]),
];

pub fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    for (file, args) in GENERATED_FROM {
        let doc = read_json(file);
        let mut all = Vec::new();
        members(&doc, "", &mut all, false);
        for (path, key, value, in_map) in all {
            // null: never accepted, named with its path and line.
            out.push(
                Case::new(format!("{file}: {path} = null"), args, 1)
                    .json(file, |v| *at_path(v, &path) = Value::Null)
                    .expect(format!("{file}:"))
                    .expect(format!("{path}: `{key}` is null")),
            );
            // The wrong JSON type: the path and what it must be.
            out.push(
                Case::new(format!("{file}: {path} of the wrong type"), args, 1)
                    .json(file, |v| *at_path(v, &path) = wrong_type(&value))
                    .expect(format!("{file}:"))
                    .expect(format!("{path}: invalid type")),
            );
            // A typo in the key (not in free-form maps, where any name is a variable).
            if !in_map {
                let typo = format!("{key}x");
                let parent = path.strip_suffix(&key).unwrap_or("").trim_end_matches('.');
                let shown = if parent.is_empty() {
                    typo.clone()
                } else {
                    format!("{parent}.{typo}")
                };
                out.push(
                    Case::new(format!("{file}: {path} misspelled"), args, 1)
                        .json(file, |v| {
                            let p = if parent.is_empty() {
                                v
                            } else {
                                at_path(v, parent)
                            };
                            let m = p.as_object_mut().unwrap();
                            let val = m.remove(&key).unwrap();
                            m.insert(typo.clone(), val);
                        })
                        .expect(format!("{file}:"))
                        .expect(format!("{shown}: unknown key `{typo}`")),
                );
            }
        }
    }
    out
}
