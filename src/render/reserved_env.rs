//! LibreChat's own variables are reserved: a server's URL or token variable, its header secrets,
//! its OAuth variables and `librechat.env` must not silently set a name LibreChat itself reads
//! (a server named "RAG API" would set `RAG_API_URL`; `"env": {"PORT": …}` would move
//! LibreChat's port), unless `librechat.env_override` lists that name. The names are data
//! (`librechat_env_names.txt`, from LibreChat's `.env.example`), so a newer LibreChat is one
//! edit away.

use std::collections::HashSet;
use std::sync::OnceLock;

const NAMES: &str = include_str!("librechat_env_names.txt");

fn names() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| {
        NAMES
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect()
    })
}

/// Whether LibreChat itself reads `name`.
pub fn is_reserved(name: &str) -> bool {
    names().contains(name)
}

/// The fix for a reserved name produced by accident.
pub fn hint(name: &str, rename: &str) -> String {
    format!(
        "{rename}; or, if LibreChat should really read this value as `{name}`, say so: \"librechat\": {{\"env_override\": [\"{name}\"]}}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_holds_librechats_names_and_only_env_names() {
        for n in [
            "PORT",
            "RAG_API_URL",
            "MONGO_URI",
            "OPENAI_API_KEY",
            "ALLOW_REGISTRATION",
        ] {
            assert!(is_reserved(n), "{n}");
        }
        assert!(!is_reserved("CUSTOM_CRM_MCP_URL"));
        assert!(names().len() > 400, "{}", names().len());
        assert!(
            names()
                .iter()
                .all(|n| crate::workspace::naming::is_env_name(n)),
            "every line is a variable name"
        );
    }
}
