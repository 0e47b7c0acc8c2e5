//! The checks of SPEC §2 that resolving a client runs on its parts: URLs, manifests, user
//! variables, headers, name collisions and platform name lengths.

use std::collections::{BTreeMap, BTreeSet};

use super::Workspace;
use super::files::ServerEntry;
use super::model::*;
use super::naming;
use super::resolve::{ACCESS_TOKEN_HEADER, USER_ID_HEADER};
use crate::error::{Diagnostic, Diagnostics, Location};

/// A URL a config may hold: http(s), and no `${…}`/`{{…}}` (those would be resolved by LibreChat).
pub fn check_url(url: &str, allow_path: bool) -> Result<(), String> {
    if url.contains("${") || url.contains("{{") {
        return Err(format!(
            "{url:?} contains a `${{…}}` or `{{{{…}}}}` reference; write the literal URL (scalewize renders the reference itself)"
        ));
    }
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| format!("{url:?} is not an http(s) URL"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']' | '_'));
    if !host_ok {
        return Err(format!("{url:?} has no valid host"));
    }
    if url.chars().any(|c| {
        c.is_whitespace() || c.is_control() || matches!(c, '"' | '\'' | '<' | '>' | '\\' | '`')
    }) {
        return Err(format!(
            "{url:?} contains characters that are not allowed in a URL (percent-encode them)"
        ));
    }
    if !allow_path
        && rest.len() > host.len()
        && !rest[host.len()..].trim_end_matches('/').is_empty()
    {
        return Err(format!("{url:?} should be a base URL without a path"));
    }
    Ok(())
}

pub(super) fn infer_transport(url: &str) -> Transport {
    let path = url
        .split(['?', '#'])
        .next()
        .unwrap_or(url)
        .trim_end_matches('/');
    if path.ends_with("/sse") {
        Transport::Sse
    } else {
        Transport::StreamableHttp
    }
}

/// How to name a variable or secret.
pub const NAME_HINT: &str = "use letters, digits and `_`, not starting with a digit (an environment variable name, e.g. `MY_API_KEY`)";
/// How to name a header.
const HEADER_HINT: &str = "a header name is letters, digits and `-` (e.g. `X-Api-Key`)";

/// How to pin an image (a moving tag would let a redeploy change a server with no change in git).
pub const PIN_HINT: &str = "pin a version tag or a digest, e.g. \"ghcr.io/acme/server:1.4.2\" or \"ghcr.io/acme/server@sha256:…\"; `latest` (or no tag, which means `latest`) moves, so what runs could change without any change in git";

/// An image reference that is well formed and pinned: a digest, or a tag other than `latest`.
pub fn check_image(image: &str) -> Result<(), String> {
    if image.trim().is_empty() || image.chars().any(char::is_whitespace) {
        return Err(format!("invalid image reference {image:?}"));
    }
    if image.contains('@') {
        return Ok(());
    }
    let name = image.rsplit('/').next().unwrap_or(image);
    match name.rsplit_once(':') {
        Some((_, "latest")) => Err(format!(
            "image {image:?} is not pinned: `latest` is a moving tag"
        )),
        Some((_, tag)) if !tag.is_empty() => Ok(()),
        _ => Err(format!(
            "image {image:?} is not pinned: it has no tag, which means `latest`"
        )),
    }
}

/// A Cargo binary name: letters, digits, `-` and `_` (no path separators, no `..`).
fn is_bin_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

pub(super) fn check_manifest(m: &ServerManifest, loc: &Location, diags: &mut Diagnostics) {
    if let Some(run) = &m.run {
        match (&run.cargo_bin, &run.command) {
            (Some(_), Some(_)) | (None, None) => diags.push(
                Diagnostic::error(loc.clone().at("run"), "`run` needs exactly one of `cargo_bin` or `command`")
                    .hint("e.g. \"run\": {\"cargo_bin\": \"my-server\"} or \"run\": {\"command\": [\"python3\", \"server.py\"]}"),
            ),
            (None, Some(c)) if c.is_empty() => {
                diags.push(Diagnostic::error(loc.clone().at("run.command"), "`command` is empty").hint("give the program and its arguments, e.g. [\"python3\", \"server.py\"], or use \"cargo_bin\""))
            }
            (Some(bin), None) if !is_bin_name(bin) => diags.push(
                Diagnostic::error(
                    loc.clone().at("run.cargo_bin"),
                    format!("{bin:?} is not a binary name: `cargo_bin` names a binary of the root Cargo workspace, never a path"),
                )
                .hint("e.g. \"cargo_bin\": \"custom-crm-mcp\"; to run a program by path use \"command\": [\"./bin/server\"] (relative to the server folder, inside the workspace)"),
            ),
            _ => {}
        }
    }
    if let Some(image) = &m.image
        && let Err(e) = check_image(image)
    {
        diags.push(Diagnostic::error(loc.clone().at("image"), e).hint(PIN_HINT));
    }
    for (field, path) in [("path", &m.path), ("health_path", &m.health_path)] {
        if let Some(p) = path
            && (!p.starts_with('/') || p.chars().any(|c| c.is_whitespace() || c.is_control()))
        {
            diags.push(
                Diagnostic::error(
                    loc.clone().at(field),
                    format!("{p:?} must be an absolute path like \"/mcp\""),
                )
                .hint("start it with `/` and leave out spaces, e.g. \"/mcp\" or \"/health\""),
            );
        }
    }
    if m.port == Some(0) {
        diags.push(
            Diagnostic::error(loc.clone().at("port"), "port 0 is not a port")
                .hint("the port the server listens on (`PORT`), 1–65535; leave it out for 8080"),
        );
    }
    if let Some(size) = m.size
        && (size.cpus == 0 || size.memory_mb < 256 || size.memory_mb % 256 != 0)
    {
        diags.push(
            Diagnostic::error(
                loc.clone().at("size"),
                format!("size {}×{} MB is not deployable", size.cpus, size.memory_mb),
            )
            .hint("cpus ≥ 1 and memory_mb a multiple of 256"),
        );
    }
    for (i, s) in m.secrets.iter().flatten().enumerate() {
        if !naming::is_env_name(s) {
            diags.push(
                Diagnostic::error(
                    loc.clone().at(format!("secrets[{i}]")),
                    format!("invalid secret name `{s}`"),
                )
                .hint(NAME_HINT),
            );
        }
    }
    for k in m.env.iter().flat_map(|e| e.keys()) {
        if ["MCP_ACCESS_TOKEN", "PORT", "HOST", "MCP_SERVER_NAME"].contains(&k.as_str()) {
            diags.push(
                Diagnostic::error(
                    loc.clone().at(format!("env.{k}")),
                    format!("`{k}` is set by scalewize"),
                )
                .hint("remove it from the manifest"),
            );
        }
    }
}

pub(super) fn check_user_vars(
    vars: &[UserVar],
    mode: CredentialMode,
    origin: &Location,
    e: &ServerEntry,
    diags: &mut Diagnostics,
) {
    let base = origin.path.clone().unwrap_or_default();
    let at = |i: usize, f: &str| origin.clone().at(format!("{base}.user_vars[{i}].{f}"));
    if mode == CredentialMode::PerUserHeader && vars.is_empty() {
        diags.push(
            Diagnostic::error(origin.clone().at(format!("{base}.user_vars")), format!("`{}` is per-user-header but declares no user_vars", e.name))
                .hint("declare each value users enter: {\"name\": \"API_KEY\", \"header\": \"X-Api-Key\", \"title\": \"…\", \"description\": \"…\"}"),
        );
    }
    if mode != CredentialMode::PerUserHeader && !vars.is_empty() {
        diags.push(Diagnostic::error(
            origin.clone().at(format!("{base}.user_vars")),
            format!(
                "user_vars need credential mode per-user-header (it is `{}`)",
                mode.as_str()
            ),
        ));
    }
    let mut names = BTreeSet::new();
    let mut headers = BTreeSet::new();
    for (i, v) in vars.iter().enumerate() {
        if !naming::is_user_var_name(&v.name) {
            diags.push(
                Diagnostic::error(
                    at(i, "name"),
                    format!("`{}` is not an upper-snake-case name", v.name),
                )
                .hint("e.g. GHL_API_KEY"),
            );
        } else if v.name.starts_with("LIBRECHAT_") {
            diags.push(Diagnostic::error(
                at(i, "name"),
                format!("`{}` collides with LibreChat's own placeholders", v.name),
            ));
        } else if !names.insert(v.name.clone()) {
            diags.push(Diagnostic::error(
                at(i, "name"),
                format!("`{}` is declared twice", v.name),
            ));
        }
        match &v.header {
            None => diags.push(Diagnostic::error(
                at(i, "header"),
                format!("`{}` needs the `header` that carries it", v.name),
            )),
            Some(h) if !naming::is_header_name(h) => diags.push(
                Diagnostic::error(at(i, "header"), format!("{h:?} is not a valid header name"))
                    .hint(HEADER_HINT),
            ),
            Some(h)
                if h.eq_ignore_ascii_case(ACCESS_TOKEN_HEADER)
                    || h.eq_ignore_ascii_case(USER_ID_HEADER) =>
            {
                diags.push(Diagnostic::error(
                    at(i, "header"),
                    format!("`{h}` is reserved by scalewize"),
                ))
            }
            Some(h) if !headers.insert(h.to_ascii_lowercase()) => diags.push(Diagnostic::error(
                at(i, "header"),
                format!("header `{h}` is used twice"),
            )),
            _ => {}
        }
        if v.title.trim().is_empty() {
            diags.push(
                Diagnostic::error(at(i, "title"), "empty title")
                    .hint("LibreChat shows it to the user"),
            );
        }
        if let Some(f) = &v.env_fallback
            && !naming::is_env_name(f)
        {
            diags.push(
                Diagnostic::error(
                    at(i, "env_fallback"),
                    format!("invalid variable name `{f}`"),
                )
                .hint(NAME_HINT),
            );
        }
    }
}

/// Static headers of an external server: valid names, and only known `${…}`/`{{…}}` references.
pub(super) fn check_headers(
    e: &ServerEntry,
    vars: &[UserVar],
    origin: &Location,
    diags: &mut Diagnostics,
) -> (BTreeMap<String, String>, Vec<String>) {
    let base = origin.path.clone().unwrap_or_default();
    let secrets = e.secrets.clone().unwrap_or_default();
    for (i, s) in secrets.iter().enumerate() {
        if !naming::is_env_name(s) {
            diags.push(
                Diagnostic::error(
                    origin.clone().at(format!("{base}.secrets[{i}]")),
                    format!("invalid secret name `{s}`"),
                )
                .hint(NAME_HINT),
            );
        }
    }
    let headers = e.headers.clone().unwrap_or_default();
    for (name, value) in &headers {
        let at = origin.clone().at(format!("{base}.headers.{name}"));
        if !naming::is_header_name(name) {
            diags.push(
                Diagnostic::error(at.clone(), format!("{name:?} is not a valid header name"))
                    .hint(HEADER_HINT),
            );
        }
        if value.chars().any(char::is_control) {
            diags.push(Diagnostic::error(
                at.clone(),
                "header value contains control characters",
            ));
        }
        for r in references(value, "${", "}") {
            if !secrets.contains(&r) {
                diags.push(
                    Diagnostic::error(at.clone(), format!("`${{{r}}}` is not a known reference"))
                        .hint(format!("list it in this server's \"secrets\" and store it: scalewize secret set <client> {r}")),
                );
            }
        }
        for r in references(value, "{{", "}}") {
            if !vars.iter().any(|v| v.name == r) && !r.starts_with("LIBRECHAT_USER_") {
                diags.push(
                    Diagnostic::error(
                        at.clone(),
                        format!(
                            "`{{{{{r}}}}}` is neither a user_var nor a LIBRECHAT_USER_* placeholder"
                        ),
                    )
                    .hint(
                        "declare it in user_vars, or remove it (LibreChat would send it literally)",
                    ),
                );
            }
        }
    }
    (headers, secrets)
}

/// The names inside `open…close` references in `s`.
pub fn references(s: &str, open: &str, close: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find(open) {
        rest = &rest[i + open.len()..];
        match rest.find(close) {
            Some(j) => {
                out.push(rest[..j].to_string());
                rest = &rest[j + close.len()..];
            }
            None => {
                out.push(rest.to_string());
                break;
            }
        }
    }
    out
}

pub(super) fn check_collisions(servers: &[Server], diags: &mut Diagnostics) {
    let mut by_slug: BTreeMap<&str, &Server> = BTreeMap::new();
    for s in servers {
        if let Some(first) = by_slug.insert(&s.slug, s) {
            diags.push(
                Diagnostic::error(
                    s.origin.clone(),
                    format!(
                        "`{}` and `{}` both resolve to server `{}` (variable {})",
                        first.name,
                        s.name,
                        s.slug,
                        s.url_var()
                    ),
                )
                .hint("rename one, or set \"server\" to tell them apart"),
            );
        }
    }
}

pub(super) fn check_platform_names(
    ws: &Workspace,
    client: &str,
    servers: &[Server],
    loc: &Location,
    diags: &mut Diagnostics,
) {
    let prefix = &ws.settings.prefix;
    let mut names = vec![
        format!("{prefix}-{client}"),
        format!("{prefix}-{client}-librechat"),
    ];
    for s in servers {
        let Some(d) = s.deployed() else { continue };
        let owner = d.owner.label();
        if s.users.is_empty() {
            names.push(format!("{prefix}-{owner}-{}", s.slug));
        }
        for u in &s.users {
            names.push(format!("{prefix}-{owner}-{}-{u}", s.slug));
        }
    }
    for n in names {
        if let Err(e) = naming::check_platform_name(&n) {
            diags.push(
                Diagnostic::error(loc.clone(), e)
                    .hint("shorten the client id, server folder or user id, or the workspace `prefix` in scalewize.json"),
            );
        }
    }
}

/// A client's `tools` filter for one server: one of `allow` / `deny`, non-empty, plain tool
/// names; only on a deployed client-specific server, which can enforce it.
pub(super) fn check_tool_filter(
    e: &ServerEntry,
    kind: ServerKind,
    at: &dyn Fn(&str) -> Location,
    diags: &mut Diagnostics,
) -> Option<ToolRule> {
    let f = e.tools.as_ref()?;
    if e.url.is_some() {
        diags.push(
            Diagnostic::error(at("tools"), "`tools` cannot apply to an external server: scalewize does not run it, and LibreChat cannot filter a server's tools (LibreChat#8783)")
                .hint("remove `tools`, or filter in the server itself; deployed servers enforce `tools` through MCP_TOOLS_ALLOW / MCP_TOOLS_DENY"),
        );
        return None;
    }
    if kind == ServerKind::Shared {
        diags.push(
            Diagnostic::error(
                at("tools"),
                "`tools` cannot apply to a shared server: one instance serves every client alike",
            )
            .hint("make the server client-specific for this client, or drop `tools`"),
        );
        return None;
    }
    let (rule, field, names) = match (&f.allow, &f.deny) {
        (Some(a), None) => (ToolRule::Allow(a.clone()), "tools.allow", a),
        (None, Some(d)) => (ToolRule::Deny(d.clone()), "tools.deny", d),
        _ => {
            diags.push(
                Diagnostic::error(at("tools"), "`tools` needs exactly one of `allow` and `deny`")
                    .hint("write {\"allow\": [\"tool_name\"]} for only those tools, or {\"deny\": [\"tool_name\"]} for all but those"),
            );
            return None;
        }
    };
    if names.is_empty() {
        diags.push(
            Diagnostic::error(at(field), "the list is empty")
                .hint("name at least one tool, or remove `tools`"),
        );
        return None;
    }
    for (i, n) in names.iter().enumerate() {
        let plain = !n.is_empty()
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if !plain {
            diags.push(
                Diagnostic::error(
                    at(&format!("{field}[{i}]")),
                    format!("{n:?} is not a tool name"),
                )
                .hint(
                    "tool names use letters, digits, `_`, `-` and `.` (as `tools/list` shows them)",
                ),
            );
            return None;
        }
    }
    Some(rule)
}
