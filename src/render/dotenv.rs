//! Quoting for `.env` files, so every value reads back identically in dotenvy, Node's dotenv,
//! docker's env files and LibreChat's validator. A value no quoting can carry is refused.

/// `NAME=` value text for `value`.
pub fn quote(value: &str) -> Result<String, String> {
    if let Some(c) = value.chars().find(|c| c.is_control() && *c != '\t') {
        return Err(format!(
            "contains {}, which a .env file cannot hold",
            match c {
                '\n' | '\r' => "a line break".to_string(),
                c => format!("the control character U+{:04X}", c as u32),
            }
        ));
    }
    if value.chars().all(|c| {
        c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | ':' | '@' | '+' | ',')
    }) && !value.is_empty()
    {
        return Ok(value.to_string());
    }
    // dotenvy's line reader lets a backslash escape the closing quote even in single quotes.
    let trailing_backslashes = value.chars().rev().take_while(|c| *c == '\\').count();
    if !value.contains('\'') && trailing_backslashes % 2 == 0 {
        return Ok(format!("'{value}'"));
    }
    if !value.contains(['"', '\\', '$', '`']) {
        return Ok(format!("\"{value}\""));
    }
    if trailing_backslashes % 2 == 1 && !value.contains('\'') {
        return Err("ends with a backslash, which .env readers disagree on".to_string());
    }
    Err("contains both a single quote and one of \" \\ $ `, which no .env quoting reads back identically".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reads_back(v: &str) {
        let line = format!("K={}\n", quote(v).unwrap());
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(".env");
        std::fs::write(&p, &line).unwrap();
        let got: Vec<(String, String)> = dotenvy::from_path_iter(&p)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(got, vec![("K".to_string(), v.to_string())], "{line:?}");
    }

    #[test]
    fn values_read_back_identically() {
        for v in [
            "",
            "plain",
            "https://x.example/mcp?a=b&c=d",
            "Acme \"Quotes\": {{x}} ${Y}",
            "O'Brien & Sons",
            "a b  c",
            "#not-a-comment",
            "tab\there",
            "é🙂",
            "$HOME",
            "back\\slash",
            "two\\\\",
            "x\\y\\\\",
        ] {
            reads_back(v);
        }
    }

    #[test]
    fn unrepresentable_values_are_refused() {
        assert!(quote("line\nbreak").unwrap_err().contains("line break"));
        assert!(quote("it's $HOME").is_err());
        assert!(quote("bell\u{7}").unwrap_err().contains("U+0007"));
        assert!(quote("ends\\").unwrap_err().contains("backslash"));
    }
}
