//! From merged files to a `Client`: the rules of SPEC §2, each failure a diagnostic that says
//! where and how to fix it.

use std::collections::{BTreeMap, BTreeSet};

use super::files::{ClientFile, ServerEntry};
use super::merge::{MergedEntry, merge_client, merge_servers};
use super::model::*;
use super::naming;
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
    let librechat = resolve_librechat(&top, platform, &loc, &mut diags);

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
    check_platform_names(ws, id, &servers, &users, &loc, &mut diags);

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
        && (image.trim().is_empty() || image.chars().any(char::is_whitespace))
    {
        diags.push(
            Diagnostic::error(
                loc.clone().at("librechat.image"),
                format!("invalid image reference {image:?}"),
            )
            .hint("e.g. \"ghcr.io/danny-avila/librechat:v0.8.1\" (pin a tag or digest)"),
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
            diags.push(Diagnostic::error(
                loc.clone().at(format!("librechat.secrets[{i}]")),
                format!("invalid secret name `{s}`"),
            ));
        }
    }
    LibreChat {
        image: lc.image,
        domain: lc.domain.map(|d| d.trim_end_matches('/').to_string()),
        env,
        secrets,
        platform: lc.platform.unwrap_or(platform),
        region: lc.region,
        size: lc.size,
    }
}

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

fn infer_transport(url: &str) -> Transport {
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

fn resolve_server(
    ws: &Workspace,
    client_id: &str,
    client_platform: PlatformName,
    users: &[User],
    m: MergedEntry,
    diags: &mut Diagnostics,
) -> Option<Server> {
    let MergedEntry { entry: e, origin } = m;
    let at = |field: &str| {
        origin
            .clone()
            .at(format!("{}.{field}", origin.path.as_deref().unwrap_or("")))
    };
    let before = diags.len();

    if e.name.trim().is_empty() {
        diags.push(Diagnostic::error(at("name"), "server `name` is empty"));
        return None;
    }
    let Some(kind) = e.kind else {
        diags.push(
            Diagnostic::error(at("type"), format!("server `{}` has no `type`", e.name))
                .hint("add \"type\": \"shared\" (deployed once for many clients) or \"type\": \"client-specific\""),
        );
        return None;
    };
    let slug = e
        .server
        .clone()
        .unwrap_or_else(|| naming::derive_slug(&e.name));
    if let Err(err) = naming::check_slug(&slug) {
        let field = if e.server.is_some() { "server" } else { "name" };
        diags.push(
            Diagnostic::error(at(field), err).hint("set \"server\": \"<folder-name>\" explicitly"),
        );
        return None;
    }

    let source;
    let credential_mode;
    let mut user_vars = e.user_vars.clone().unwrap_or_default();
    let mut manifest_title = None;
    let mut manifest_description = None;
    if let Some(url) = &e.url {
        if let Err(err) = check_url(url, true) {
            diags.push(Diagnostic::error(at("url"), err));
        }
        if e.deploy.is_some() {
            diags.push(
                Diagnostic::error(
                    at("deploy"),
                    format!(
                        "`{}` has a `url`, so it is external and never deployed",
                        e.name
                    ),
                )
                .hint("remove `deploy`, or remove `url` to deploy the server's folder"),
            );
        }
        credential_mode = e.credential_mode.unwrap_or(if !user_vars.is_empty() {
            CredentialMode::PerUserHeader
        } else if e.headers.as_ref().is_some_and(|h| !h.is_empty()) {
            CredentialMode::Service
        } else {
            CredentialMode::None
        });
        if credential_mode == CredentialMode::PerUserInstance {
            diags.push(
                Diagnostic::error(at("credential_mode"), "an external server cannot be `per-user-instance`: scalewize deploys those instances")
                    .hint("remove `url` and give the server a folder with a manifest"),
            );
        }
        source = ServerSource::External {
            transport: e.transport.unwrap_or_else(|| infer_transport(url)),
            url: url.clone(),
        };
    } else {
        let owner = match kind {
            ServerKind::Shared => Owner::Shared,
            ServerKind::ClientSpecific => Owner::Client(client_id.to_string()),
        };
        let folder = ws.server_folder(&owner, &slug);
        let manifest_path = folder.join(super::MANIFEST_FILE);
        if !folder.is_dir() {
            diags.push(
                Diagnostic::error(
                    at("name"),
                    format!("`{}` has no `url`, so its folder is deployed, but {} does not exist", e.name, ws.relative(&folder).display()),
                )
                .hint("add a `url` for an external server, set \"server\" to the folder's name, or create the server from custom-mcp-servers/shared/base-mcp-template".to_string()),
            );
            return None;
        }
        let manifest = match ws.manifest(&manifest_path) {
            Ok(m) => m,
            Err(mut d) => {
                if !manifest_path.is_file() {
                    d = Diagnostic::error(Location::file(&manifest_path), "missing server manifest")
                        .hint("copy custom-mcp-servers/shared/base-mcp-template/scalewize.json and adjust it");
                }
                diags.push(d);
                return None;
            }
        };
        let mloc = Location::file(&manifest_path);
        if e.transport == Some(Transport::Sse) {
            diags.push(
                Diagnostic::error(at("transport"), "deployed servers speak streamable HTTP; `sse` is accepted only for external `url` entries")
                    .hint("remove `transport`"),
            );
        }
        if e.user_vars.is_some()
            || e.credential_mode.is_some()
            || e.headers.is_some()
            || e.secrets.is_some()
        {
            diags.push(
                Diagnostic::error(
                    at("credential_mode"),
                    format!("credentials of deployed server `{slug}` are declared in its manifest"),
                )
                .hint(format!(
                    "edit {} (credential_mode, user_vars, secrets) and remove them here",
                    ws.relative(&manifest_path).display()
                )),
            );
        }
        if kind == ServerKind::Shared && e.deploy.is_some() {
            diags.push(
                Diagnostic::error(
                    at("deploy"),
                    format!("shared server `{slug}` takes its deploy settings only from its manifest"),
                )
                .hint(format!(
                    "a client may set only `enabled`, OAuth and rendering fields for a shared server; edit {} instead",
                    ws.relative(&manifest_path).display()
                )),
            );
        }
        if kind == ServerKind::Shared && e.users.is_some() {
            diags.push(Diagnostic::error(
                at("users"),
                "`users` applies to client-specific `per-user-instance` servers",
            ));
        }
        credential_mode = manifest.credential_mode.unwrap_or(CredentialMode::None);
        if credential_mode == CredentialMode::PerUserInstance && kind == ServerKind::Shared {
            diags.push(
                Diagnostic::error(mloc.clone().at("credential_mode"), "a shared server cannot be `per-user-instance`: per-user instances belong to a client")
                    .hint("make it a client-specific server (custom-mcp-servers/clients/<client>/<server>)"),
            );
        }
        user_vars = manifest.user_vars.clone().unwrap_or_default();
        manifest_title = manifest.title.clone();
        manifest_description = manifest.description.clone();
        let deploy = e.deploy.clone().unwrap_or_default();
        let platform = match kind {
            ServerKind::Shared => manifest.platform.unwrap_or(PlatformName::Local),
            ServerKind::ClientSpecific => {
                deploy
                    .platform
                    .unwrap_or(if client_platform != PlatformName::Local {
                        client_platform
                    } else {
                        manifest.platform.unwrap_or(PlatformName::Local)
                    })
            }
        };
        let mut env = manifest.env.clone().unwrap_or_default();
        env.extend(deploy.env.clone().unwrap_or_default());
        check_manifest(&manifest, &mloc, &slug, platform, diags);
        for k in env.keys() {
            if !naming::is_env_name(k) {
                diags.push(Diagnostic::error(
                    at("deploy.env"),
                    format!("invalid variable name `{k}`"),
                ));
            }
        }
        source = ServerSource::Deployed(Box::new(Deployed {
            folder,
            manifest_path,
            owner,
            platform,
            region: deploy.region.or_else(|| manifest.region.clone()),
            size: deploy.size.or(manifest.size).unwrap_or(DEFAULT_SIZE),
            port: manifest.port.unwrap_or(DEFAULT_PORT),
            path: manifest.path.clone().unwrap_or_else(|| "/mcp".to_string()),
            health_path: manifest
                .health_path
                .clone()
                .unwrap_or_else(|| "/health".to_string()),
            env,
            secrets: manifest.secrets.clone().unwrap_or_default(),
            run: manifest.run.clone(),
            image: manifest.image.clone(),
            railway: manifest.railway.clone(),
        }));
    }

    check_user_vars(&user_vars, credential_mode, &origin, &e, diags);
    let (headers, header_secrets) = check_headers(&e, &user_vars, &origin, diags);

    let title = match (&e.title, manifest_title) {
        (Some(t), _) => {
            if !naming::fits_title_pattern(t) {
                diags.push(
                    Diagnostic::error(at("title"), format!("title {t:?} does not fit LibreChat's title pattern"))
                        .hint("start with a letter or digit; use only letters, digits, marks, spaces, `-` and apostrophes (put other text in `description`)"),
                );
            }
            Some(t.clone())
        }
        (None, Some(t)) if naming::fits_title_pattern(&t) => Some(t),
        _ => Some(e.name.clone()).filter(|n| naming::fits_title_pattern(n)),
    };

    if let Some(oauth) = &e.oauth {
        for (field, value) in [
            ("authorization_url", &oauth.authorization_url),
            ("token_url", &oauth.token_url),
            ("revocation_endpoint", &oauth.revocation_endpoint),
        ] {
            if let Some(v) = value
                && let Err(err) = check_url(v, true)
            {
                diags.push(Diagnostic::error(at(&format!("oauth.{field}")), err));
            }
        }
        if oauth.authorization_url.is_none() || oauth.token_url.is_none() {
            diags.push(
                Diagnostic::error(at("oauth"), "an `oauth` block needs `authorization_url` and `token_url`")
                    .hint("or remove `oauth` and keep \"oauth_required\": true to let LibreChat discover the provider"),
            );
        }
        if let Some(scope) = &oauth.scope
            && (scope.contains("${") || scope.contains("{{") || scope.chars().any(char::is_control))
        {
            diags.push(
                    Diagnostic::error(at("oauth.scope"), "scope contains `${`, `{{` or control characters, which LibreChat would try to resolve")
                        .hint("write the literal scope string"),
                );
        }
    }

    let instance_users: Vec<String> = if credential_mode == CredentialMode::PerUserInstance {
        let listed = e
            .users
            .clone()
            .unwrap_or_else(|| users.iter().map(|u| u.id.clone()).collect());
        for (i, u) in listed.iter().enumerate() {
            if !users.iter().any(|k| &k.id == u) {
                diags.push(
                    Diagnostic::error(
                        at(&format!("users[{i}]")),
                        format!("`{u}` is not one of this client's users"),
                    )
                    .hint("add it to the top-level \"users\" list"),
                );
            }
        }
        if listed.is_empty() {
            diags.push(
                Diagnostic::error(
                    at("name"),
                    format!(
                        "`{}` is per-user-instance but the client lists no users",
                        e.name
                    ),
                )
                .hint("add \"users\": [{\"id\": \"alice\"}] at the top level of mcp-servers.json"),
            );
        }
        listed
    } else {
        if e.users.is_some() && kind == ServerKind::ClientSpecific {
            diags.push(Diagnostic::error(
                at("users"),
                "`users` applies only to per-user-instance servers",
            ));
        }
        Vec::new()
    };

    if diags.len() > before && diags.0[before..].iter().any(Diagnostic::is_error) {
        return None;
    }
    Some(Server {
        name: e.name.clone(),
        slug,
        kind,
        title,
        description: e
            .description
            .clone()
            .or(manifest_description)
            .filter(|d| !d.is_empty()),
        origin,
        source,
        credential_mode,
        user_vars,
        headers,
        header_secrets,
        oauth_required: e.oauth_required.unwrap_or(false) || e.oauth.is_some(),
        oauth: e.oauth.clone().map(|mut o| {
            o.scope = o.scope.filter(|s| !s.is_empty());
            o
        }),
        render: RenderOptions {
            timeout: e.timeout,
            init_timeout: e.init_timeout,
            startup: e.startup,
            chat_menu: e.chat_menu,
            server_instructions: e.server_instructions.clone(),
            icon_path: e.icon_path.clone(),
        },
        users: instance_users,
    })
}

fn check_manifest(
    m: &ServerManifest,
    loc: &Location,
    slug: &str,
    platform: PlatformName,
    diags: &mut Diagnostics,
) {
    if let Some(run) = &m.run {
        match (&run.cargo_bin, &run.command) {
            (Some(_), Some(_)) | (None, None) => diags.push(
                Diagnostic::error(loc.clone().at("run"), "`run` needs exactly one of `cargo_bin` or `command`")
                    .hint("e.g. \"run\": {\"cargo_bin\": \"my-server\"} or \"run\": {\"command\": [\"python3\", \"server.py\"]}"),
            ),
            (None, Some(c)) if c.is_empty() => {
                diags.push(Diagnostic::error(loc.clone().at("run.command"), "`command` is empty"))
            }
            _ => {}
        }
    }
    match platform {
        PlatformName::Local if m.run.is_none() => diags.push(
            Diagnostic::error(loc.clone().at("run"), format!("`{slug}` deploys on `local` but its manifest has no `run`"))
                .hint("add \"run\": {\"cargo_bin\": \"<binary>\"} (a member of the root Cargo workspace) or a `command`"),
        ),
        PlatformName::Railway if m.image.is_none() && m.railway.is_none() => diags.push(
            Diagnostic::error(loc.clone().at("image"), format!("`{slug}` deploys on Railway but its manifest has neither `image` nor `railway`"))
                .hint("add a pinned \"image\" (scalewize builds no images) or \"railway\": {\"repo\": \"owner/repo\", \"branch\": \"main\"}"),
        ),
        PlatformName::Fly if m.image.is_none() => diags.push(
            Diagnostic::error(loc.clone().at("image"), format!("`{slug}` deploys on Fly but its manifest has no `image`"))
                .hint("add a pinned \"image\" (tag or digest); scalewize builds no images"),
        ),
        _ => {}
    }
    if let Some(image) = &m.image
        && (image.trim().is_empty() || image.chars().any(char::is_whitespace))
    {
        diags.push(Diagnostic::error(
            loc.clone().at("image"),
            format!("invalid image reference {image:?}"),
        ));
    }
    for (field, path) in [("path", &m.path), ("health_path", &m.health_path)] {
        if let Some(p) = path
            && (!p.starts_with('/') || p.chars().any(|c| c.is_whitespace() || c.is_control()))
        {
            diags.push(Diagnostic::error(
                loc.clone().at(field),
                format!("{p:?} must be an absolute path like \"/mcp\""),
            ));
        }
    }
    if m.port == Some(0) {
        diags.push(Diagnostic::error(
            loc.clone().at("port"),
            "port 0 is not a port",
        ));
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
            diags.push(Diagnostic::error(
                loc.clone().at(format!("secrets[{i}]")),
                format!("invalid secret name `{s}`"),
            ));
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

fn check_user_vars(
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
            Some(h) if !naming::is_header_name(h) => diags.push(Diagnostic::error(
                at(i, "header"),
                format!("{h:?} is not a valid header name"),
            )),
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
            diags.push(Diagnostic::error(
                at(i, "env_fallback"),
                format!("invalid variable name `{f}`"),
            ));
        }
    }
}

/// Static headers of an external server: valid names, and only known `${…}`/`{{…}}` references.
fn check_headers(
    e: &ServerEntry,
    vars: &[UserVar],
    origin: &Location,
    diags: &mut Diagnostics,
) -> (BTreeMap<String, String>, Vec<String>) {
    let base = origin.path.clone().unwrap_or_default();
    let secrets = e.secrets.clone().unwrap_or_default();
    for (i, s) in secrets.iter().enumerate() {
        if !naming::is_env_name(s) {
            diags.push(Diagnostic::error(
                origin.clone().at(format!("{base}.secrets[{i}]")),
                format!("invalid secret name `{s}`"),
            ));
        }
    }
    let headers = e.headers.clone().unwrap_or_default();
    for (name, value) in &headers {
        let at = origin.clone().at(format!("{base}.headers.{name}"));
        if !naming::is_header_name(name) {
            diags.push(Diagnostic::error(
                at.clone(),
                format!("{name:?} is not a valid header name"),
            ));
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

fn check_collisions(servers: &[Server], diags: &mut Diagnostics) {
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

fn check_platform_names(
    ws: &Workspace,
    client: &str,
    servers: &[Server],
    users: &[User],
    loc: &Location,
    diags: &mut Diagnostics,
) {
    let _ = users;
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
