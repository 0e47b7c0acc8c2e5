//! Reading the JSON files users edit, with errors that name file, line, column and the fix.

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::error::{Diagnostic, Location, did_you_mean};

pub fn read<T: DeserializeOwned>(path: &Path) -> Result<T, Diagnostic> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Diagnostic::error(Location::file(path), format!("cannot read: {e}")))?;
    parse(&text, path)
}

pub fn parse<T: DeserializeOwned>(text: &str, path: &Path) -> Result<T, Diagnostic> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let at = e.path().to_string();
        let inner = e.into_inner();
        from_serde(inner, path, Some(at))
    })?;
    de.end().map_err(|e| from_serde(e, path, None))?;
    Ok(value)
}

fn from_serde(err: serde_json::Error, path: &Path, at: Option<String>) -> Diagnostic {
    let mut loc = Location::file(path).line_col(err.line(), err.column());
    if let Some(at) = at.filter(|a| a != ".") {
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
            None => Diagnostic::error(loc, text),
        },
    }
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
