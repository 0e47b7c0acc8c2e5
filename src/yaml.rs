//! The one place YAML is handled. serde_yaml is archived: a maintained fork is a one-line
//! switch in Cargo.toml (`serde_yaml = { package = "<fork>", ... }`); nothing else names it.

pub use serde_yaml::{Mapping, Value};

pub fn from_str(text: &str) -> Result<Value, String> {
    serde_yaml::from_str(text).map_err(|e| match e.location() {
        Some(l) => format!("line {}, column {}: {e}", l.line(), l.column()),
        None => e.to_string(),
    })
}

pub fn to_string(value: &Value) -> String {
    serde_yaml::to_string(value).unwrap_or_default()
}

/// Serialize typed data (generated manifests) in block style, every string written so that any
/// YAML reader reads it back as that string: serde_yaml's own writer leaves `yes`, `on`, `12:30`
/// or `1_000` plain, which YAML 1.1 readers (Kubernetes' among them) take for a bool or a number.
/// Multi-line strings become literal blocks (`|`), so an embedded file stays readable.
pub fn to_string_of<T: serde::Serialize>(value: &T) -> Result<String, String> {
    let v = serde_yaml::to_value(value).map_err(|e| e.to_string())?;
    let mut out = String::new();
    emit(&v, 0, &mut out)?;
    Ok(out)
}

fn scalar(v: &Value) -> Result<Option<String>, String> {
    Ok(Some(match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => quote_str(s),
        Value::Mapping(m) if m.is_empty() => "{}".into(),
        Value::Sequence(s) if s.is_empty() => "[]".into(),
        Value::Tagged(_) => return Err("tagged values are not written".into()),
        _ => return Ok(None),
    }))
}

/// A literal block for a multi-line string that one can carry exactly, else `None`.
fn literal_block(s: &str, indent: usize) -> Option<String> {
    let ok = s.contains('\n')
        && !s.starts_with([' ', '\n'])
        && s.chars().all(|c| {
            c == '\n'
                || (is_printable(c)
                    && !matches!(c, '\r' | '\t' | '\u{85}' | '\u{2028}' | '\u{2029}'))
        });
    if !ok {
        return None;
    }
    let chomp = match (s.ends_with('\n'), s.ends_with("\n\n")) {
        (false, _) => "|-",
        (true, false) => "|",
        (true, true) => "|+",
    };
    let pad = " ".repeat(indent);
    let mut out = format!("{chomp}\n");
    for line in s.strip_suffix('\n').unwrap_or(s).split('\n') {
        if !line.is_empty() {
            out.push_str(&pad);
            out.push_str(line);
        }
        out.push('\n');
    }
    // With `|+`, the empty lines the split wrote are the kept trailing newlines.
    Some(out)
}

fn emit(v: &Value, indent: usize, out: &mut String) -> Result<(), String> {
    let pad = " ".repeat(indent);
    match v {
        Value::Mapping(m) if !m.is_empty() => {
            for (k, val) in m {
                let key = match k {
                    Value::String(s) => quote_str(s),
                    other => scalar(other)?.ok_or("a map key must be a scalar")?,
                };
                out.push_str(&format!("{pad}{key}:"));
                value_after_key(val, indent, out)?;
            }
        }
        Value::Sequence(items) if !items.is_empty() => {
            for item in items {
                if let Some(s) = scalar(item)? {
                    out.push_str(&format!("{pad}- {s}\n"));
                    continue;
                }
                // The item's block at indent + 2, its first line's indent replaced by `- `.
                let mut inner = String::new();
                emit(item, indent + 2, &mut inner)?;
                out.push_str(&pad);
                out.push_str("- ");
                out.push_str(&inner[indent + 2..]);
            }
        }
        other => {
            let s = scalar(other)?.ok_or("unexpected value")?;
            out.push_str(&format!("{pad}{s}\n"));
        }
    }
    Ok(())
}

fn value_after_key(val: &Value, indent: usize, out: &mut String) -> Result<(), String> {
    if let Value::String(s) = val
        && let Some(block) = literal_block(s, indent + 2)
    {
        out.push(' ');
        out.push_str(&block);
        return Ok(());
    }
    match scalar(val)? {
        Some(s) => out.push_str(&format!(" {s}\n")),
        None => {
            out.push('\n');
            emit(val, indent + 2, out)?;
        }
    }
    Ok(())
}

/// Words a YAML 1.1 or 1.2 reader could take for something other than a string.
fn is_reserved_word(s: &str) -> bool {
    matches!(
        s.to_ascii_lowercase().as_str(),
        "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n" | "null" | "~" | ".nan" | ".inf"
    )
}

/// True when `s` reads back as the same string without quotes, in any YAML reader.
fn is_safe_plain(s: &str) -> bool {
    let mut chars = s.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    (first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'))
        && !is_reserved_word(s)
}

/// YAML's printable set (YAML 1.2 §5.1); everything else must be escaped in a double-quoted scalar.
fn is_printable(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{7E}' | '\u{85}' | '\u{A0}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
        && c != '\u{FEFF}'
}

/// A YAML scalar for `s` that any YAML reader turns back into exactly `s`: plain when that is
/// unambiguous, otherwise double-quoted with every non-printable character escaped.
pub fn quote_str(s: &str) -> String {
    if is_safe_plain(s) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            // U+0085, U+2028 and U+2029 are line breaks to YAML 1.1 readers: escape them.
            c if is_printable(c) && !matches!(c, '\u{85}' | '\u{2028}' | '\u{2029}') => out.push(c),
            c if (c as u32) <= 0xFF => out.push_str(&format!("\\x{:02X}", c as u32)),
            c if (c as u32) <= 0xFFFF => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push_str(&format!("\\U{:08X}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// A YAML comment body: one line, printable, so free text cannot break out of the comment.
pub fn comment_text(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c == '\t'
                || (is_printable(c)
                    && !matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}'))
            {
                c
            } else {
                ' '
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(s: &str) {
        let doc = format!("k: {}\n", quote_str(s));
        let v = from_str(&doc).unwrap_or_else(|e| panic!("{doc:?}: {e}"));
        assert_eq!(v["k"].as_str(), Some(s), "{doc:?}");
    }

    #[test]
    fn quoting_round_trips() {
        for s in [
            "plain",
            "1.3.17",
            "1.3",
            "yes",
            "No",
            "",
            " ",
            "a: b",
            "- x",
            "#c",
            "{{X}}",
            "${Y}",
            "'",
            "\"",
            "\\",
            "\n",
            "\u{0}",
            "\u{7f}",
            "\u{85}",
            "\u{feff}",
            "\u{2028}",
            " \u{2028} ",
            "a\u{2029}b",
            "é",
            "🙂",
            "null",
            "~",
            "a #b",
            "@x",
            "`x",
            "!tag",
            "&a",
            "*a",
            "%x",
            "|",
            ">",
            "? x",
        ] {
            round_trip(s);
        }
    }

    #[test]
    fn typed_data_reads_back_identically_even_as_yaml_1_1() {
        use std::collections::BTreeMap;
        let mut m: BTreeMap<String, Value> = BTreeMap::new();
        for s in [
            "yes",
            "on",
            "12:30",
            "1_000",
            "y",
            "n",
            "=",
            "<<",
            "0o17",
            "~",
            "app.kubernetes.io/name",
        ] {
            m.insert(s.to_string(), Value::from(s));
        }
        m.insert("file".into(), Value::from("# a\nk: v\n\n  indented\n"));
        m.insert("no-newline".into(), Value::from("a\nb"));
        m.insert(
            "list".into(),
            Value::Sequence(vec![Value::from(1), Value::Mapping(Mapping::new())]),
        );
        m.insert("empty".into(), Value::Sequence(vec![]));
        let text = to_string_of(&m).unwrap();
        assert!(
            text.contains("\"yes\": \"yes\"") && text.contains("\"12:30\""),
            "{text}"
        );
        assert!(text.contains("file: |\n"), "{text}");
        let back: BTreeMap<String, Value> = serde_yaml::from_str(&text).unwrap();
        assert_eq!(back, m, "{text}");
    }

    #[test]
    fn numbers_and_versions_are_quoted() {
        assert_eq!(quote_str("1.3.17"), "\"1.3.17\"");
        assert_eq!(quote_str("custom-crm-mcp"), "custom-crm-mcp");
        assert_eq!(quote_str("true"), "\"true\"");
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_string_round_trips(s in any::<String>()) {
            let doc = format!("k: {}\n", super::quote_str(&s));
            let v = super::from_str(&doc).map_err(TestCaseError::fail)?;
            prop_assert_eq!(v["k"].as_str(), Some(s.as_str()));
        }

        #[test]
        fn any_string_in_typed_data_round_trips(s in any::<String>(), lines in proptest::collection::vec("[ -~]{0,12}", 0..5)) {
            let block = lines.join("\n");
            let m = std::collections::BTreeMap::from([("k", s.clone()), ("block", block.clone())]);
            let text = super::to_string_of(&m).map_err(TestCaseError::fail)?;
            let v = super::from_str(&text).map_err(TestCaseError::fail)?;
            prop_assert_eq!(v["k"].as_str(), Some(s.as_str()), "{}", text);
            prop_assert_eq!(v["block"].as_str(), Some(block.as_str()), "{}", text);
        }
    }
}
