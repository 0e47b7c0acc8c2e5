//! The LibreChat rules a rendered `librechat.yaml` must pass (reference notes, librechat.md §1–§3
//! and §8), checked on the rendered text so a template override cannot slip past them. Paths are
//! written like LibreChat's validator writes them (`mcpServers.crm.customUserVars.KEY.description`).

use std::collections::BTreeSet;
use std::path::Path;

use super::context::LIBRECHAT_CONFIG_VERSION;
use crate::error::{Diagnostic, Diagnostics, Location};
use crate::workspace::naming;
use crate::yaml::{self, Value};

/// `configSchema`'s top-level keys (strict at the top level).
const TOP_LEVEL: &[&str] = &[
    "version",
    "permissions",
    "cache",
    "ocr",
    "webSearch",
    "langfuse",
    "memory",
    "summarization",
    "skillSync",
    "secureImageLinks",
    "imageOutputType",
    "includedTools",
    "filteredTools",
    "mcpServers",
    "mcpSettings",
    "interface",
    "turnstile",
    "fileStrategy",
    "fileStrategies",
    "cloudfront",
    "actions",
    "registration",
    "balance",
    "transactions",
    "speech",
    "rateLimits",
    "fileConfig",
    "modelSpecs",
    "filters",
    "messageFilter",
    "endpoints",
    "openapi",
];
const COMMON: &[&str] = &[
    "type",
    "title",
    "description",
    "startup",
    "iconPath",
    "timeout",
    "initTimeout",
    "sseReadTimeout",
    "chatMenu",
    "serverInstructions",
    "requiresOAuth",
    "oauth",
    "oauth_headers",
    "apiKey",
    "customUserVars",
    "oauthRefreshWaitTimeout",
    "oauthRefreshCoordination",
    "oauthPersistenceWaitTimeout",
];
const STDIO: &[&str] = &["command", "args", "env", "stderr", "cwd"];
const WEBSOCKET: &[&str] = &["url"];
const REMOTE: &[&str] = &["url", "headers", "requestHeaders", "obo", "proxy"];
const TRANSPORTS: &[&str] = &["stdio", "websocket", "sse", "streamable-http", "http"];
/// Never expanded by LibreChat, so a reference to them is always a mistake.
pub const NEVER_EXPANDED: &[&str] = &[
    "JWT_SECRET",
    "JWT_REFRESH_SECRET",
    "CREDS_KEY",
    "CREDS_IV",
    "MEILI_MASTER_KEY",
    "MONGO_URI",
    "REDIS_URI",
    "REDIS_PASSWORD",
];
const INT_FIELDS: &[&str] = &[
    "timeout",
    "initTimeout",
    "sseReadTimeout",
    "oauthRefreshWaitTimeout",
    "oauthPersistenceWaitTimeout",
];
const PLACEHOLDER_FIELDS: &[&str] = &["url", "headers", "requestHeaders", "env", "args", "oauth"];
/// Fields of an MCP entry in which LibreChat resolves `${VAR}`.
const RESOLVED_FIELDS: &[&str] = &[
    "url",
    "headers",
    "requestHeaders",
    "env",
    "args",
    "oauth",
    "proxy",
];

fn builtin_placeholder(name: &str) -> bool {
    [
        "LIBRECHAT_USER_",
        "LIBRECHAT_BODY_",
        "LIBRECHAT_OPENID_",
        "LIBRECHAT_GRAPH_",
    ]
    .iter()
    .any(|p| {
        name.strip_prefix(p).is_some_and(|rest| {
            !rest.is_empty()
                && rest
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        })
    })
}

struct Checker<'a> {
    file: &'a Path,
    hint: &'a str,
    diags: Diagnostics,
}

impl Checker<'_> {
    fn err(&mut self, path: &str, msg: impl Into<String>) {
        self.diags.push(
            Diagnostic::error(Location::file(self.file).at(path), msg).hint(self.hint.to_string()),
        );
    }
}

fn key_str(k: &Value) -> String {
    match k {
        Value::String(s) => s.clone(),
        other => yaml::to_string(other).trim().to_string(),
    }
}

fn strings<'v>(v: &'v Value, path: String, out: &mut Vec<(String, &'v str)>) {
    match v {
        Value::String(s) => out.push((path, s)),
        Value::Sequence(items) => items
            .iter()
            .enumerate()
            .for_each(|(i, x)| strings(x, format!("{path}.{i}"), out)),
        Value::Mapping(m) => m
            .iter()
            .for_each(|(k, x)| strings(x, format!("{path}.{}", key_str(k)), out)),
        _ => {}
    }
}

/// Check a rendered file. `env_names` are the variables its environment.env defines.
pub fn check(text: &str, env_names: &BTreeSet<String>, file: &Path, hint: &str) -> Diagnostics {
    let mut c = Checker {
        file,
        hint,
        diags: Diagnostics::default(),
    };
    let doc = match yaml::from_str(text) {
        Ok(d) => d,
        Err(e) => {
            c.err("(root)", format!("not valid YAML: {e}"));
            return c.diags;
        }
    };
    let Value::Mapping(root) = &doc else {
        c.err("(root)", "expected a YAML mapping");
        return c.diags;
    };
    for k in root.keys() {
        let k = key_str(k);
        if !TOP_LEVEL.contains(&k.as_str()) {
            c.err("(root)", format!("unrecognized top-level key `{k}` (LibreChat's loader rejects unknown top-level keys)"));
        }
    }
    // Rule 1: version is a quoted string equal to the pinned schema's CONFIG_VERSION.
    match root.get("version") {
        None => c.err("version", "required"),
        Some(Value::String(v)) => {
            let quoted = text.lines().any(|l| {
                l.strip_prefix("version:")
                    .is_some_and(|r| r.trim_start().starts_with(['"', '\'']))
            });
            if !quoted {
                c.err("version", "write the version as a quoted string (an unquoted version can be read as a number)");
            }
            if v != LIBRECHAT_CONFIG_VERSION {
                c.err("version", format!("{v:?} differs from the schema's CONFIG_VERSION {LIBRECHAT_CONFIG_VERSION:?}"));
            }
        }
        Some(_) => c.err("version", "Expected string (write the version quoted)"),
    }
    // Rule 6: every ${VAR} LibreChat resolves (MCP connection fields, custom endpoints) has a line
    // in the env file, and is never a variable LibreChat does not expand. Free text is not resolved.
    let mut resolved = Vec::new();
    if let Some(Value::Mapping(servers)) = root.get("mcpServers") {
        for (name, entry) in servers {
            for f in RESOLVED_FIELDS {
                if let Some(v) = entry.get(*f) {
                    strings(
                        v,
                        format!("mcpServers.{}.{f}", key_str(name)),
                        &mut resolved,
                    );
                }
            }
        }
    }
    if let Some(e) = root.get("endpoints") {
        strings(e, "endpoints".to_string(), &mut resolved);
    }
    for (path, s) in &resolved {
        for var in crate::workspace::references(s, "${", "}") {
            if NEVER_EXPANDED.contains(&var.as_str()) {
                c.err(path, format!("`${{{var}}}` is never expanded by LibreChat; it cannot be referenced in librechat.yaml"));
            } else if !env_names.contains(&var) {
                c.err(path, format!("`${{{var}}}` has no line in environment.env (LibreChat would fail to start on an unset URL variable)"));
            }
        }
    }
    match root.get("mcpServers") {
        None => {}
        Some(Value::Mapping(servers)) => {
            for (name, entry) in servers {
                check_server(&mut c, &key_str(name), entry);
            }
        }
        Some(_) => c.err(
            "mcpServers",
            "expected a mapping of server name to settings",
        ),
    }
    if let Some(settings) = root.get("mcpSettings")
        && let Some(Value::Sequence(addrs)) = settings.get("allowedAddresses")
    {
        for (i, a) in addrs.iter().enumerate() {
            let ok = a.as_str().is_some_and(|s| {
                s.rsplit_once(':').is_some_and(|(h, p)| {
                    !h.is_empty() && !h.contains('/') && p.parse::<u16>().is_ok()
                })
            });
            if !ok {
                c.err(
                    &format!("mcpSettings.allowedAddresses.{i}"),
                    "expected `host:port`",
                );
            }
        }
    }
    c.diags
}

fn check_server(c: &mut Checker, name: &str, entry: &Value) {
    let p = format!("mcpServers.{name}");
    let Value::Mapping(m) = entry else {
        c.err(&p, "expected a mapping");
        return;
    };
    // Rule 2: an explicit, known type.
    let ty = match m.get("type") {
        None => {
            c.err(
                &format!("{p}.type"),
                "write an explicit `type` (inference picks sse for any http URL)",
            );
            return;
        }
        Some(Value::String(t)) if TRANSPORTS.contains(&t.as_str()) => t.clone(),
        Some(other) => {
            c.err(
                &format!("{p}.type"),
                format!(
                    "no MCP transport matched: unknown type {}",
                    yaml::to_string(other).trim()
                ),
            );
            return;
        }
    };
    let specific = match ty.as_str() {
        "stdio" => STDIO,
        "websocket" => WEBSOCKET,
        _ => REMOTE,
    };
    // Rule 5: only known keys (LibreChat drops the others silently).
    for k in m.keys() {
        let k = key_str(k);
        if !COMMON.contains(&k.as_str()) && !specific.contains(&k.as_str()) {
            c.err(
                &format!("{p}.{k}"),
                "unknown key, silently ignored by LibreChat",
            );
        }
    }
    if ty == "stdio" {
        if !matches!(m.get("command"), Some(Value::String(_))) {
            c.err(&format!("{p}.command"), "Required");
        }
        // Rule 3: stdio always has an args list.
        if !matches!(m.get("args"), Some(Value::Sequence(_))) {
            c.err(
                &format!("{p}.args"),
                "Required (write `args: []` when there are none)",
            );
        }
    } else {
        match m.get("url") {
            Some(Value::String(u)) => {
                let resolved_ok = u.starts_with("${")
                    || u.starts_with("http://")
                    || u.starts_with("https://")
                    || u.starts_with("ws");
                if !resolved_ok {
                    c.err(&format!("{p}.url"), "Invalid url");
                }
            }
            _ => c.err(&format!("{p}.url"), "Required"),
        }
    }
    if let Some(t) = m.get("title") {
        match t.as_str() {
            Some(t) if naming::fits_title_pattern(t) => {}
            _ => c.err(
                &format!("{p}.title"),
                "does not match LibreChat's title pattern",
            ),
        }
    }
    for f in INT_FIELDS {
        if let Some(v) = m.get(*f)
            && v.as_u64().is_none()
        {
            c.err(&format!("{p}.{f}"), "Expected a non-negative integer");
        }
    }
    for f in [
        "startup",
        "chatMenu",
        "requiresOAuth",
        "oauthRefreshCoordination",
    ] {
        if let Some(v) = m.get(f)
            && !v.is_bool()
        {
            c.err(&format!("{p}.{f}"), "Expected boolean");
        }
    }
    // Rule 4: every customUserVars entry has a title and a description.
    let mut defined = BTreeSet::new();
    if let Some(vars) = m.get("customUserVars") {
        match vars {
            Value::Mapping(vars) => {
                for (k, v) in vars {
                    let k = key_str(k);
                    defined.insert(k.clone());
                    for f in ["title", "description"] {
                        if !matches!(v.get(f), Some(Value::String(_))) {
                            c.err(&format!("{p}.customUserVars.{k}.{f}"), "Required");
                        }
                    }
                }
            }
            _ => c.err(&format!("{p}.customUserVars"), "expected a mapping"),
        }
    }
    if let Some(h) = m.get("headers") {
        if let Value::Mapping(h) = h {
            for (k, v) in h {
                if !v.is_string() {
                    c.err(&format!("{p}.headers.{}", key_str(k)), "Expected string");
                }
            }
        } else {
            c.err(
                &format!("{p}.headers"),
                "expected a mapping of header to value",
            );
        }
    }
    if let Some(Value::Mapping(o)) = m.get("oauth") {
        let has = |k: &str| o.get(k).is_some();
        if has("client_secret") && !has("client_id") {
            c.err(
                &format!("{p}.oauth.client_id"),
                "client_secret requires client_id",
            );
        }
        if has("client_id") && has("client_secret") {
            for k in ["authorization_url", "token_url"] {
                if !has(k) {
                    c.err(
                        &format!("{p}.oauth.{k}"),
                        "required when client_id and client_secret are set",
                    );
                }
            }
        }
    }
    // Placeholders: {{X}} must be a customUserVars key or a LIBRECHAT_* placeholder; defined keys must be used.
    let mut used = BTreeSet::new();
    for f in PLACEHOLDER_FIELDS {
        if let Some(v) = m.get(*f) {
            let mut found = Vec::new();
            strings(v, (*f).to_string(), &mut found);
            for (path, s) in found {
                for var in crate::workspace::references(s, "{{", "}}") {
                    if !builtin_placeholder(&var) && !defined.contains(&var) {
                        c.err(&format!("{p}.{path}"), format!("{{{{{var}}}}} is neither a LIBRECHAT_* placeholder nor defined in customUserVars; it would be sent literally"));
                    }
                    used.insert(var);
                }
            }
        }
    }
    for v in defined.difference(&used) {
        c.err(
            &format!("{p}.customUserVars.{v}"),
            format!("defined but not referenced as {{{{{v}}}}} in url/headers/env/args"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errs(text: &str, env: &[&str]) -> Vec<String> {
        let env = env.iter().map(|s| s.to_string()).collect();
        check(text, &env, Path::new("l.yaml"), "")
            .0
            .into_iter()
            .map(|d| format!("{}: {}", d.location.path.unwrap_or_default(), d.message))
            .collect()
    }

    #[test]
    fn a_good_file_passes() {
        let t = "version: \"1.3.17\"\nmcpServers:\n  crm:\n    type: streamable-http\n    url: \"${CRM_URL}\"\n    headers:\n      X-Key: \"{{KEY}}\"\n      X-User: \"{{LIBRECHAT_USER_ID}}\"\n    customUserVars:\n      KEY:\n        title: Key\n        description: \"\"\n    requiresOAuth: false\n";
        assert_eq!(errs(t, &["CRM_URL"]), Vec::<String>::new());
    }

    #[test]
    fn each_rule_reports_its_path() {
        assert!(errs("version: 1.3\n", &[])[0].starts_with("version: Expected string"));
        assert!(
            errs("version: 1.3.17\n", &[])[0].starts_with("version: write the version as a quoted")
        );
        let t = "version: \"1.3.17\"\nmcpServers:\n  a:\n    url: \"${A}\"\n";
        assert!(errs(t, &["A"])[0].starts_with("mcpServers.a.type"));
        let t = "version: \"1.3.17\"\nmcpServers:\n  a:\n    type: stdio\n    command: x\n";
        assert!(errs(t, &[])[0].starts_with("mcpServers.a.args"));
        let t = "version: \"1.3.17\"\nmcpServers:\n  a:\n    type: sse\n    url: \"${A}\"\n    header: {}\n";
        assert!(errs(t, &["A"])[0].starts_with("mcpServers.a.header: unknown key"));
        let t = "version: \"1.3.17\"\nmcpServers:\n  a:\n    type: sse\n    url: \"${A}\"\n";
        assert!(errs(t, &[])[0].starts_with("mcpServers.a.url: `${A}` has no line"));
        let t = "version: \"1.3.17\"\nmcpServers:\n  a:\n    type: sse\n    url: \"https://x/\"\n    headers: {K: \"{{K}}\"}\n    customUserVars: {K: {title: k}}\n";
        assert_eq!(
            errs(t, &[]),
            vec!["mcpServers.a.customUserVars.K.description: Required"]
        );
    }
}
