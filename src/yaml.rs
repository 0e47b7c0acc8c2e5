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
    }
}
