//! What goes on the wire and into `-vvv` logs: `null` members stripped from variables, and every
//! variable value masked (by size) or, in an error text, replaced wherever it was echoed back.

use serde_json::{Map, Value};

pub(super) fn strip_nulls(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, strip_nulls(v)))
                .collect::<Map<_, _>>(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(strip_nulls).collect()),
        other => other,
    }
}

/// Every string value in `v` worth masking in a message.
pub(super) fn string_values(v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) if s.len() >= crate::secrets::redact::MIN_REDACTED_LEN => {
                out.push(s.clone())
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            Value::Object(m) => m.values().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    walk(v, &mut out);
    out.sort_by_key(|s| std::cmp::Reverse(s.len()));
    out
}

/// `text` with every value that was sent replaced (an error message may quote one).
pub(super) fn mask(text: &str, sent: &[String]) -> String {
    let mut out = text.to_string();
    for v in sent {
        if out.contains(v.as_str()) {
            out = out.replace(v.as_str(), "<redacted>");
        }
    }
    out
}

/// Variables for a log line: the `variables` maps of variable writes show names only.
pub(super) fn masked_vars(vars: &Value) -> String {
    fn walk(v: &Value, inside: bool) -> Value {
        match v {
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, x)| {
                        let x = if k == "variables" {
                            walk(x, true)
                        } else if inside {
                            match x {
                                Value::String(s) => Value::String(format!("<{} bytes>", s.len())),
                                other => walk(other, true),
                            }
                        } else {
                            walk(x, false)
                        };
                        (k.clone(), x)
                    })
                    .collect(),
            ),
            Value::Array(a) => Value::Array(a.iter().map(|x| walk(x, inside)).collect()),
            Value::String(s) if inside => Value::String(format!("<{} bytes>", s.len())),
            other => other.clone(),
        }
    }
    walk(vars, false).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn variable_values_never_reach_a_log_line() {
        let vars = json!({"input": {"projectId": "p", "variables": {"A": "sekrit-value", "B": "x"}, "replace": true}});
        let line = masked_vars(&vars);
        assert!(!line.contains("sekrit"), "{line}");
        assert!(line.contains("\"A\":\"<12 bytes>\""), "{line}");
        assert!(line.contains("\"projectId\":\"p\""), "{line}");
        let sent = string_values(&vars);
        assert_eq!(
            mask("bad value sekrit-value here", &sent),
            "bad value <redacted> here"
        );
    }

    #[test]
    fn nulls_are_omitted() {
        assert_eq!(
            strip_nulls(json!({"a": null, "b": {"c": null, "d": 1}})),
            json!({"b": {"d": 1}})
        );
    }
}
