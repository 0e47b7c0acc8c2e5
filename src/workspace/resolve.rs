//! From merged files to a `Client`: the rules of SPEC §2, each failure a diagnostic that says
//! where and how to fix it.

use std::collections::BTreeSet;

use super::checks::*;
use super::files::ClientFile;
use super::merge::{merge_client, merge_servers};
use super::model::*;
use super::naming;
use super::resolve_server::resolve_server;
use super::{DEFAULT_CLIENT, Workspace};
use crate::error::{Diagnostic, Diagnostics, Location};

/// LibreChat variables that must come from the secret store, never from plain config.
pub const LIBRECHAT_SECRETS: &[&str] = &[
    "MONGO_URI",
    "CREDS_KEY",
    "CREDS_IV",
    "JWT_SECRET",
    "JWT_REFRESH_SECRET",
];
/// Headers the platform contract reserves.
pub const ACCESS_TOKEN_HEADER: &str = "X-MCP-Access-Token";
pub const USER_ID_HEADER: &str = "X-LibreChat-User-Id";

pub fn resolve_client(ws: &Workspace, id: &str) -> Result<Client, Diagnostics> {
    let path = ws.client_file(id);
    if let Err(e) = naming::check_client_id(id) {
        return Err(Diagnostics(vec![Diagnostic::error(
            Location::file(ws.client_dir(id)),
            e,
        )]));
    }
    // Before anything in the folder is read: no link may lead out of the workspace.
    let mut escapes = Vec::new();
    for dir in [
        ws.client_dir(id),
        ws.client_dir(DEFAULT_CLIENT),
        ws.templates_dir(),
    ] {
        super::contain::check_tree(ws, &dir, &mut escapes);
    }
    if !escapes.is_empty() {
        return Err(Diagnostics(escapes));
    }
    if !path.is_file() {
        return Err(Diagnostics(vec![
            Diagnostic::error(Location::file(&path), "missing mcp-servers.json").hint(format!(
                "every client folder needs one; `scalewize new {id}` scaffolds a client"
            )),
        ]));
    }
    let file: ClientFile = super::json::read(&path).map_err(|d| Diagnostics(vec![d]))?;
    resolve_parsed(ws, id, file)
}

/// Resolve a client from its parsed file (read from disk, or about to be written by `new`).
pub fn resolve_parsed(ws: &Workspace, id: &str, file: ClientFile) -> Result<Client, Diagnostics> {
    let mut diags = Diagnostics::default();
    let path = ws.client_file(id);
    let loc = Location::file(&path);
    let default = match ws.default_file() {
        Ok(d) => d,
        Err(d) => {
            diags.push(d);
            return Err(diags);
        }
    };
    let default_loc = Location::file(ws.client_file(DEFAULT_CLIENT));

    match file.client_id.as_deref() {
        None => diags.push(
            Diagnostic::error(loc.clone().at("client_id"), "missing `client_id`")
                .hint(format!("add \"client_id\": \"{id}\"")),
        ),
        Some(cid) if cid != id => diags.push(
            Diagnostic::error(
                loc.clone().at("client_id"),
                format!("`client_id` is {cid:?} but the folder is `{id}`"),
            )
            .hint(format!("set \"client_id\": \"{id}\", or rename the folder")),
        ),
        _ => {}
    }
    let name = match file.client_name.clone() {
        Some(n) if !n.trim().is_empty() => n,
        _ => {
            diags.push(
                Diagnostic::error(loc.clone().at("client_name"), "missing `client_name`")
                    .hint("add \"client_name\": \"<the company's display name>\""),
            );
            id.to_string()
        }
    };
    for (l, f) in [(&default_loc, default), (&loc, Some(&file))] {
        check_duplicate_names(f, l, &mut diags);
    }

    let top = merge_client(default, &file);
    let platform = top.platform.unwrap_or(PlatformName::Local);

    let users = resolve_users(&top, &loc, &mut diags);
    let mut librechat = resolve_librechat(&top, platform, &loc, &mut diags);
    // Arrays replace when merging; this list adds up, so a client's own entries never drop
    // the ones `default` allows.
    let own_env = file.librechat.as_ref().and_then(|l| l.env.as_ref());
    for k in librechat.env.keys() {
        let from = if own_env.is_some_and(|e| e.contains_key(k)) {
            &loc
        } else {
            &default_loc
        };
        librechat.env_origin.insert(k.clone(), from.clone());
    }
    if let Ok(Some(d)) = ws.default_file() {
        librechat.env_override.extend(
            d.librechat
                .as_ref()
                .and_then(|l| l.env_override.clone())
                .unwrap_or_default(),
        );
    }

    let merged = merge_servers(default.map(|d| (d, &default_loc)), (&file, &loc));
    let mut servers = Vec::new();
    for m in merged {
        if m.entry.enabled == Some(false) {
            continue;
        }
        if let Some(s) = resolve_server(ws, id, platform, &users, m, &mut diags) {
            servers.push(s);
        }
    }
    check_collisions(&servers, &mut diags);
    check_platform_names(ws, id, &servers, &loc, &mut diags);

    if diags.has_errors() {
        return Err(diags);
    }
    Ok(Client {
        id: id.to_string(),
        name,
        dir: ws.client_dir(id),
        file: path,
        platform,
        servers,
        librechat,
        users,
    })
}

fn check_duplicate_names(file: Option<&ClientFile>, loc: &Location, diags: &mut Diagnostics) {
    let mut seen = BTreeSet::new();
    for (i, e) in file
        .and_then(|f| f.mcp_servers.as_ref())
        .into_iter()
        .flatten()
        .enumerate()
    {
        if !seen.insert(e.name.as_str()) {
            diags.push(
                Diagnostic::error(
                    loc.clone().at(format!("mcp_servers[{i}].name")),
                    format!("server `{}` is listed twice", e.name),
                )
                .hint("entries merge by name: keep one entry per server"),
            );
        }
    }
}

fn resolve_users(top: &ClientFile, loc: &Location, diags: &mut Diagnostics) -> Vec<User> {
    let mut seen = BTreeSet::new();
    let mut users = Vec::new();
    for (i, u) in top.users.iter().flatten().enumerate() {
        let at = loc.clone().at(format!("users[{i}].id"));
        if let Err(e) = naming::check_user_id(&u.id) {
            diags.push(Diagnostic::error(at, e));
        } else if !seen.insert(u.id.clone()) {
            diags.push(Diagnostic::error(
                at,
                format!("user `{}` is listed twice", u.id),
            ));
        } else {
            users.push(User {
                id: u.id.clone(),
                name: u.name.clone(),
            });
        }
    }
    users
}

fn resolve_librechat(
    top: &ClientFile,
    platform: PlatformName,
    loc: &Location,
    diags: &mut Diagnostics,
) -> LibreChat {
    let lc = top.librechat.clone().unwrap_or_default();
    if let Some(domain) = &lc.domain
        && let Err(e) = check_url(domain, false)
    {
        diags.push(
            Diagnostic::error(loc.clone().at("librechat.domain"), e).hint(
                "the public base URL of this client's LibreChat, e.g. \"https://chat.acme.com\"",
            ),
        );
    }
    if let Some(image) = &lc.image
        && let Err(e) = super::checks::check_image(image)
    {
        diags.push(
            Diagnostic::error(loc.clone().at("librechat.image"), e)
                .hint("e.g. \"ghcr.io/danny-avila/librechat:v0.8.1\": pin a version tag or a digest; `latest` (or no tag) moves, so LibreChat could change without any change in git"),
        );
    }
    let env = lc.env.clone().unwrap_or_default();
    for k in env.keys() {
        let at = loc.clone().at(format!("librechat.env.{k}"));
        if !naming::is_env_name(k) {
            diags.push(
                Diagnostic::error(at, format!("invalid variable name `{k}`"))
                    .hint("use letters, digits and `_`"),
            );
        } else if LIBRECHAT_SECRETS.contains(&k.as_str()) {
            diags.push(
                Diagnostic::error(
                    at,
                    format!("`{k}` is a secret and cannot be set in plain config"),
                )
                .hint(format!(
                    "store it encrypted: scalewize secret set <client> {k}"
                )),
            );
        }
    }
    let secrets = lc.secrets.clone().unwrap_or_default();
    for (i, s) in secrets.iter().enumerate() {
        if !naming::is_env_name(s) {
            diags.push(
                Diagnostic::error(
                    loc.clone().at(format!("librechat.secrets[{i}]")),
                    format!("invalid secret name `{s}`"),
                )
                .hint(super::checks::NAME_HINT),
            );
        }
    }
    let env_override = lc.env_override.clone().unwrap_or_default();
    for (i, s) in env_override.iter().enumerate() {
        if !naming::is_env_name(s) {
            diags.push(
                Diagnostic::error(
                    loc.clone().at(format!("librechat.env_override[{i}]")),
                    format!("invalid variable name `{s}`"),
                )
                .hint(super::checks::NAME_HINT),
            );
        }
    }
    LibreChat {
        image: lc.image,
        domain: lc.domain.map(|d| d.trim_end_matches('/').to_string()),
        env,
        secrets,
        env_override: env_override.into_iter().collect(),
        env_origin: Default::default(),
        platform: lc.platform.unwrap_or(platform),
        region: lc.region,
        size: lc.size,
    }
}
