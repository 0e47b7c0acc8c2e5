//! Names: client and user ids, server slugs, variable names, and the names scalewize gives
//! resources on platforms. One place, so every command derives them the same way.

use std::sync::LazyLock;

use regex::Regex;

pub const RESERVED_CLIENT_IDS: &[&str] = &["default", "shared", "scalewize-lock"];
pub const MAX_CLIENT_ID: usize = 30;
pub const MAX_USER_ID: usize = 20;
pub const MAX_PLATFORM_NAME: usize = 63;

fn check_id(kind: &str, id: &str, max: usize) -> Result<(), String> {
    let ok_chars = id
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    let starts_with_letter = id.chars().next().is_some_and(|c| c.is_ascii_lowercase());
    if id.is_empty() || !ok_chars || !starts_with_letter {
        return Err(format!(
            "invalid {kind} id {id:?}: use lowercase letters, digits and `-`, starting with a letter (e.g. `{}`)",
            suggest_id(id, max)
        ));
    }
    if id.len() > max {
        return Err(format!(
            "invalid {kind} id {id:?}: {} characters, at most {max} allowed",
            id.len()
        ));
    }
    Ok(())
}

/// A valid id close to what the user typed, for the error message.
fn suggest_id(id: &str, max: usize) -> String {
    let mut s = slug_words(id);
    while s.starts_with(|c: char| !c.is_ascii_lowercase()) {
        s.remove(0);
    }
    if s.is_empty() {
        s = "acme".to_string();
    }
    s.truncate(max);
    s.trim_end_matches('-').to_string()
}

pub fn check_client_id(id: &str) -> Result<(), String> {
    if id == "default" {
        return Err(format!(
            "`{id}` is reserved: client-configs/{id}/ holds the values every client inherits; choose another id"
        ));
    }
    if id == "shared" {
        return Err(format!(
            "`{id}` is reserved: shared servers live under that owner name on every platform (`<prefix>-shared`); choose another id"
        ));
    }
    if id == "scalewize-lock" {
        return Err(format!(
            "`{id}` is reserved: scalewize keeps its platform locks under that name (`<prefix>-scalewize-lock`); choose another id"
        ));
    }
    check_id("client", id, MAX_CLIENT_ID)
}

pub fn check_user_id(id: &str) -> Result<(), String> {
    check_id("user", id, MAX_USER_ID)
}

/// Lowercase words joined by `-`: "Custom CRM!" → "custom-crm".
fn slug_words(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

/// The server folder derived from a display name: "Custom CRM" → `custom-crm-mcp`.
pub fn derive_slug(name: &str) -> String {
    let base = slug_words(name);
    if base.is_empty() {
        return String::new();
    }
    if base == "mcp" || base.ends_with("-mcp") {
        base
    } else {
        format!("{base}-mcp")
    }
}

/// A server folder name: `[a-z0-9-]`, starting with a letter.
pub fn check_slug(slug: &str) -> Result<(), String> {
    let ok = !slug.is_empty()
        && slug.starts_with(|c: char| c.is_ascii_lowercase())
        && slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !slug.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid server name {slug:?}: a server folder is lowercase letters, digits and `-`, starting with a letter"
        ))
    }
}

/// Upper snake case: `custom-crm-mcp` → `CUSTOM_CRM_MCP`.
pub fn upper_snake(slug: &str) -> String {
    slug.chars()
        .map(|c| {
            if c == '-' {
                '_'
            } else {
                c.to_ascii_uppercase()
            }
        })
        .collect()
}

pub fn url_var(slug: &str) -> String {
    format!("{}_URL", upper_snake(slug))
}

pub fn token_var(slug: &str) -> String {
    format!("{}_TOKEN", upper_snake(slug))
}

pub fn oauth_client_id_var(slug: &str) -> String {
    format!("{}_OAUTH_CLIENT_ID", upper_snake(slug))
}

pub fn oauth_client_secret_var(slug: &str) -> String {
    format!("{}_OAUTH_CLIENT_SECRET", upper_snake(slug))
}

static ENV_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z_][A-Za-z0-9_]*$").unwrap());
static USER_VAR_NAME: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[A-Z][A-Z0-9_]*$").unwrap());
static HEADER_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z0-9][A-Za-z0-9-]*$").unwrap());
// LibreChat's `title` pattern (librechat-data-provider src/mcp.ts).
static TITLE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[\p{L}\p{N}][\p{L}\p{N}\p{M}'’ -]*$").unwrap());

pub fn is_env_name(s: &str) -> bool {
    ENV_NAME.is_match(s)
}

pub fn is_user_var_name(s: &str) -> bool {
    USER_VAR_NAME.is_match(s)
}

pub fn is_header_name(s: &str) -> bool {
    HEADER_NAME.is_match(s)
}

pub fn fits_title_pattern(s: &str) -> bool {
    TITLE.is_match(s)
}

/// A name scalewize creates on a platform: at most 63 characters of `[a-z0-9-]`.
pub fn check_platform_name(name: &str) -> Result<(), String> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        || name.starts_with('-')
        || name.ends_with('-')
    {
        return Err(format!(
            "platform name {name:?} must be `[a-z0-9-]`, not starting or ending with `-`"
        ));
    }
    if name.len() > MAX_PLATFORM_NAME {
        return Err(format!(
            "platform name {name:?} is {} characters; platforms allow at most {MAX_PLATFORM_NAME}",
            name.len()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_and_variables() {
        assert_eq!(derive_slug("Custom CRM"), "custom-crm-mcp");
        assert_eq!(derive_slug("Google Drive"), "google-drive-mcp");
        assert_eq!(derive_slug("Slack MCP"), "slack-mcp");
        assert_eq!(derive_slug("  ERP / Finance!! "), "erp-finance-mcp");
        assert_eq!(url_var("custom-crm-mcp"), "CUSTOM_CRM_MCP_URL");
        assert_eq!(token_var("custom-crm-mcp"), "CUSTOM_CRM_MCP_TOKEN");
    }

    #[test]
    fn client_ids() {
        assert!(check_client_id("client-a").is_ok());
        assert!(check_client_id("default").unwrap_err().contains("reserved"));
        assert!(check_client_id("shared").unwrap_err().contains("reserved"));
        let e = check_client_id("Bad_Id").unwrap_err();
        assert!(e.contains("bad-id"), "{e}");
        assert!(check_client_id("../evil").is_err());
        assert!(check_client_id("9lives").is_err());
        assert!(check_client_id(&"a".repeat(31)).is_err());
        assert!(check_client_id(&"a".repeat(30)).is_ok());
    }

    #[test]
    fn titles() {
        assert!(fits_title_pattern("Custom CRM"));
        assert!(fits_title_pattern("Café d’Été"));
        assert!(!fits_title_pattern("Acme \"Quotes\""));
        assert!(!fits_title_pattern(" leading space"));
        assert!(!fits_title_pattern(""));
    }
}
