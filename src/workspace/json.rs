//! Reading the JSON files users edit, with errors that name file, line, column and the fix.

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::error::{Diagnostic, Location, did_you_mean};

pub fn read<T: DeserializeOwned>(path: &Path) -> Result<T, Diagnostic> {
    let bytes = std::fs::read(path)
        .map_err(|e| Diagnostic::error(Location::file(path), format!("cannot read: {e}")))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
        let start = valid.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let column = String::from_utf8_lossy(&valid[start..]).chars().count() + 1;
        Diagnostic::error(
            Location::file(path).line_col(line, column),
            "the file is not UTF-8 text: the byte at this line and column is not valid UTF-8",
        )
        .hint("save the file as UTF-8 (re-type the character there, or convert it, e.g. `iconv -f latin1 -t utf-8`)")
    })?;
    parse(&text, path)
}

pub fn parse<T: DeserializeOwned>(text: &str, path: &Path) -> Result<T, Diagnostic> {
    // A byte order mark is legal in a UTF-8 file (Windows editors write one); JSON does not
    // expect it, so it is skipped rather than reported as a syntax error.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let doc = serde_json::from_str::<serde_json::Value>(text).ok();
    if let Some(at) = doc.as_ref().and_then(|v| first_null(v, String::new())) {
        return Err(null_error(text, path, &at));
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let at = e.path().to_string();
        let inner = e.into_inner();
        // serde_json reports a number or list where a word (an enum) belongs as a *syntax*
        // error ("expected value"); the document parsed, so it is a wrong type: say which.
        if let Some(doc) = &doc
            && inner.classify() == serde_json::error::Category::Syntax
            && let Some(d) = enum_type_error::<T>(doc, &at, &inner, path)
        {
            return d;
        }
        from_serde(inner, path, Some(at))
    })?;
    de.end().map_err(|e| from_serde(e, path, None))?;
    Ok(value)
}

/// The word-valued field at `at` holds another type: find the allowed words by asking serde
/// again with a string there.
fn enum_type_error<T: DeserializeOwned>(
    doc: &serde_json::Value,
    at: &str,
    err: &serde_json::Error,
    path: &Path,
) -> Option<Diagnostic> {
    let pointer = json_pointer(at)?;
    let found = doc.pointer(&pointer)?;
    let kind = match found {
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "an object",
        _ => return None,
    };
    let mut probe = doc.clone();
    *probe.pointer_mut(&pointer)? = serde_json::Value::String("\u{1}".into());
    let expected = match serde_json::from_value::<T>(probe) {
        Err(e) => e
            .to_string()
            .split_once("expected ")
            .map(|(_, x)| x.to_string())
            .unwrap_or_else(|| "a string".into()),
        Ok(_) => "a string".into(),
    };
    let loc = Location::file(path)
        .line_col(err.line(), err.column())
        .at(at);
    Some(
        Diagnostic::error(loc, format!("invalid type: {kind}, expected {expected}"))
            .hint(format!("`{at}` must be {expected} (a quoted word); the JSON Schema in schemas/ lists the choices")),
    )
}

/// `mcp_servers[1].type` → `/mcp_servers/1/type`.
fn json_pointer(at: &str) -> Option<String> {
    if at.is_empty() || at == "." || at == "?" {
        return None;
    }
    let mut out = String::new();
    for seg in at.split('.') {
        let (key, rest) = seg.split_once('[').map_or((seg, ""), |(k, r)| (k, r));
        if !key.is_empty() {
            out.push('/');
            out.push_str(&key.replace('~', "~0").replace('/', "~1"));
        }
        for idx in rest.split('[').filter(|s| !s.is_empty()) {
            out.push('/');
            out.push_str(idx.trim_end_matches(']'));
        }
    }
    Some(out)
}

fn from_serde(err: serde_json::Error, path: &Path, at: Option<String>) -> Diagnostic {
    let mut loc = Location::file(path).line_col(err.line(), err.column());
    // serde_path_to_error writes `.` for the root and `?` when it lost track.
    if let Some(at) = at.filter(|a| a != "." && a != "?") {
        loc = loc.at(at);
    }
    let text = err.to_string();
    // serde_json appends " at line L column C"; the location already says it.
    let text = match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    };
    match err.classify() {
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
            Diagnostic::error(loc, format!("JSON syntax error: {text}"))
                .hint("fix the JSON at that line and column (a missing comma, quote or bracket is the usual cause)")
        }
        _ => match parse_unknown_field(&text) {
            Some((field, expected)) => {
                let mut d = Diagnostic::error(loc, format!("unknown key `{field}`"));
                if let Some(best) = did_you_mean(&field, expected.iter().map(String::as_str)) {
                    d = d.hint(format!("did you mean `{best}`?"));
                } else if !expected.is_empty() {
                    d = d.hint(format!("allowed keys here: {}", expected.join(", ")));
                }
                d
            }
            None => {
                let hint = type_hint(&text, loc.path.as_deref());
                Diagnostic::error(loc, text).hint(hint)
            }
        },
    }
}

/// The fix for a wrong type or value, or a missing field, from serde's wording
/// ("invalid type: string \"yes\", expected a boolean", "missing field `name`").
fn type_hint(msg: &str, at: Option<&str>) -> String {
    let here = at.map_or("this value".to_string(), |a| format!("`{a}`"));
    if let Some(rest) = msg.strip_prefix("missing field `") {
        let field = rest.split('`').next().unwrap_or(rest);
        return format!(
            "add \"{field}\" to {here} (it is required); the JSON Schema in schemas/ lists every field"
        );
    }
    match msg.rsplit_once(", expected ") {
        Some((_, expected)) => format!(
            "{here} must be {expected}; the JSON Schema in schemas/ (through \"$schema\", editors check it as you type) says what each field takes"
        ),
        None => "the JSON Schema in schemas/ (through \"$schema\", editors check it as you type) says what each field takes".to_string(),
    }
}

/// The JSON path of the first `null` member, if any. `null` is never meaningful in these files
/// and reads like "empty" while it means "absent" (`"mcp_servers": null` would drop a client's
/// own servers and keep only inherited ones), so it is refused with the key named.
fn first_null(v: &serde_json::Value, at: String) -> Option<String> {
    match v {
        serde_json::Value::Object(m) => m.iter().find_map(|(k, v)| {
            let here = if at.is_empty() {
                k.clone()
            } else {
                format!("{at}.{k}")
            };
            if v.is_null() {
                Some(here)
            } else {
                first_null(v, here)
            }
        }),
        serde_json::Value::Array(a) => a
            .iter()
            .enumerate()
            .find_map(|(i, v)| first_null(v, format!("{at}[{i}]"))),
        _ => None,
    }
}

fn null_error(text: &str, path: &Path, at: &str) -> Diagnostic {
    let key = at.rsplit(['.', ']']).next().unwrap_or(at);
    let needle = format!("\"{key}\"");
    // The line of `"key": null` (the first such member; good enough to point an editor at).
    let line = text.lines().position(|l| {
        l.find(&needle).is_some_and(|i| {
            l[i + needle.len()..]
                .trim_start()
                .trim_start_matches(':')
                .trim_start()
                .starts_with("null")
        })
    });
    let mut loc = Location::file(path).at(at);
    if let Some(n) = line {
        loc = loc.line_col(n + 1, 1);
    }
    Diagnostic::error(loc, format!("`{key}` is null"))
        .hint("remove the key to leave it unset, or give it a value (for a list, `[]`); `null` is not accepted anywhere in this file")
}

/// serde's wording: "unknown field `x`, expected one of `a`, `b`" / "expected `a` or `b`" / "there are no fields".
fn parse_unknown_field(msg: &str) -> Option<(String, Vec<String>)> {
    let rest = msg.strip_prefix("unknown field `")?;
    let end = rest.find('`')?;
    let field = rest[..end].to_string();
    let expected = rest[end + 1..]
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect();
    Some((field, expected))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workspace::files::ClientFile;

    #[test]
    fn unknown_key_gets_a_did_you_mean_with_location() {
        let text = "{\n  \"client_id\": \"a\",\n  \"mcp_servers\": [ { \"name\": \"x\", \"enabld\": true } ]\n}";
        let d = parse::<ClientFile>(text, Path::new("f.json")).unwrap_err();
        assert_eq!(d.message, "unknown key `enabld`");
        assert_eq!(d.hint.as_deref(), Some("did you mean `enabled`?"));
        assert_eq!(d.location.line, Some(3));
        assert_eq!(d.location.path.as_deref(), Some("mcp_servers[0].enabld"));
    }

    #[test]
    fn syntax_error_names_line_and_column() {
        let text = "{\n  \"client_id\": \"a\"\n  \"client_name\": \"b\"\n}";
        let d = parse::<ClientFile>(text, Path::new("f.json")).unwrap_err();
        assert!(d.message.starts_with("JSON syntax error"), "{}", d.message);
        assert_eq!(d.location.line, Some(3));
        assert!(d.location.column.is_some());
    }

    #[test]
    fn wrong_type_names_the_path() {
        let text = "{\"mcp_servers\": [{\"name\": \"x\", \"enabled\": \"yes\"}]}";
        let d = parse::<ClientFile>(text, Path::new("f.json")).unwrap_err();
        assert_eq!(d.location.path.as_deref(), Some("mcp_servers[0].enabled"));
        assert!(d.message.contains("expected a boolean"), "{}", d.message);
    }
}
