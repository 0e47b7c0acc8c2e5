//! One server entry of a client's merged files → a `Server`: its kind, transport, URL or
//! deployment, credentials and headers, each failure a diagnostic that says how to fix it.

use super::Workspace;
use super::checks::*;
use super::merge::MergedEntry;
use super::model::*;
use super::naming;
use crate::error::{Diagnostic, Diagnostics, Location};

/// How to write a URL in the config (references are rendered by scalewize, never written).
const URL_HINT: &str = "write the full literal URL, e.g. \"https://wiki.example.com/mcp\" (http or https; no `${…}`/`{{…}}`: scalewize writes the references into librechat.yaml itself)";

pub(super) fn resolve_server(
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
            diags.push(Diagnostic::error(at("url"), err).hint(URL_HINT));
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
        if let Some(d) =
            super::contain::check(ws, &folder).or_else(|| super::contain::check(ws, &manifest_path))
        {
            diags.push(d);
            return None;
        }
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
        check_manifest(&manifest, &mloc, diags);
        // A relative program path runs from the server folder: it must stay in the workspace.
        if let Some(cmd) = manifest.run.as_ref().and_then(|r| r.command.as_ref())
            && let Some(program) = cmd.first()
            && program.contains('/')
            && !program.starts_with('/')
            && let Some(e) = crate::fs::escape(&ws.root, &folder.join(program))
        {
            diags.push(
                Diagnostic::error(mloc.clone().at("run.command[0]"), e.describe(&ws.root))
                    .hint(crate::fs::ESCAPE_HINT),
            );
        }
        for k in env.keys() {
            if !naming::is_env_name(k) {
                diags.push(
                    Diagnostic::error(at("deploy.env"), format!("invalid variable name `{k}`"))
                        .hint(super::checks::NAME_HINT),
                );
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
            usage: manifest.usage,
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
                diags.push(Diagnostic::error(at(&format!("oauth.{field}")), err).hint(URL_HINT));
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

    let tools = check_tool_filter(&e, kind, &at, diags);

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
        tools,
    })
}
