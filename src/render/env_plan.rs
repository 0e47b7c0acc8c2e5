//! What goes into a client's LibreChat environment, and where each value comes from.
//! `render` writes it with the deploy-time and secret values left empty; `deploy` fills them.

use std::collections::BTreeMap;

use super::reserved_env::{hint, is_reserved};
use crate::error::{Diagnostic, Diagnostics, Location};
use crate::secrets::{SecretRef, SecretScope, set_command, store_path};
use crate::workspace::LIBRECHAT_SECRETS;
use crate::workspace::{Client, Owner, ServerSource, naming};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum EnvValue {
    /// Known from the files in git.
    Static { value: String },
    /// The URL of a deployed MCP service, known after it is deployed.
    ServiceUrl { server: String, owner: String },
    /// The public URL of the client's LibreChat, known after it is deployed.
    LibreChatUrl,
    /// From the encrypted store.
    Secret(SecretRef),
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct EnvEntry {
    pub name: String,
    pub value: EnvValue,
    pub comment: Option<String>,
    #[serde(skip)]
    pub origin: Option<Location>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct EnvGroup {
    pub title: &'static str,
    pub entries: Vec<EnvEntry>,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct EnvPlan {
    pub groups: Vec<EnvGroup>,
}

impl EnvPlan {
    pub fn entries(&self) -> impl Iterator<Item = &EnvEntry> {
        self.groups.iter().flat_map(|g| g.entries.iter())
    }
    pub fn get(&self, name: &str) -> Option<&EnvEntry> {
        self.entries().find(|e| e.name == name)
    }
    pub fn secrets(&self) -> impl Iterator<Item = &SecretRef> {
        self.entries().filter_map(|e| match &e.value {
            EnvValue::Secret(s) => Some(s),
            _ => None,
        })
    }
}

fn stat(name: &str, value: impl Into<String>, origin: Option<Location>) -> EnvEntry {
    EnvEntry {
        name: name.to_string(),
        value: EnvValue::Static {
            value: value.into(),
        },
        comment: None,
        origin,
    }
}

fn secret(name: &str, scope: SecretScope) -> EnvEntry {
    let r = SecretRef {
        name: name.to_string(),
        scope,
    };
    let comment = match &r.scope {
        SecretScope::Shared => format!(
            "secret, shared by every client: {} ({})",
            store_path(&r.scope),
            set_command(&r)
        ),
        _ => format!("secret: {} ({})", store_path(&r.scope), set_command(&r)),
    };
    EnvEntry {
        name: name.to_string(),
        value: EnvValue::Secret(r),
        comment: Some(comment),
        origin: None,
    }
}

/// Build the plan and check it: unique names, and every static value representable in a .env file.
pub fn env_plan(client: &Client) -> (EnvPlan, Diagnostics) {
    let loc = Location::file(&client.file);
    let cscope = || SecretScope::Client(client.id.clone());
    let lc = &client.librechat;

    let mut client_group = vec![
        stat("CLIENT_ID", &client.id, Some(loc.clone().at("client_id"))),
        stat(
            "CLIENT_NAME",
            &client.name,
            Some(loc.clone().at("client_name")),
        ),
        stat(
            "APP_TITLE",
            &client.name,
            Some(loc.clone().at("client_name")),
        ),
    ];
    let mut librechat = vec![
        stat("HOST", "0.0.0.0", None),
        stat("PORT", "3080", None),
        stat("TRUST_PROXY", "1", None),
    ];
    for name in ["DOMAIN_CLIENT", "DOMAIN_SERVER"] {
        librechat.push(match &lc.domain {
            Some(d) => stat(name, d, Some(loc.clone().at("librechat.domain"))),
            None => EnvEntry {
                name: name.to_string(),
                value: EnvValue::LibreChatUrl,
                comment: Some("set at deploy: the public URL of this client's LibreChat (or set librechat.domain)".into()),
                origin: None,
            },
        });
    }
    let mut reserved = Diagnostics::default();
    let allowed = |name: &str| !is_reserved(name) || lc.env_override.contains(name);
    // librechat.env replaces generated defaults of the same name (APP_TITLE, PORT, …), but a
    // name LibreChat reads only when `env_override` says so.
    for (k, v) in &lc.env {
        let at = lc
            .env_origin
            .get(k)
            .unwrap_or(&loc)
            .clone()
            .at(format!("librechat.env.{k}"));
        if !allowed(k) {
            reserved.push(
                Diagnostic::error(
                    at.clone(),
                    format!("`{k}` is a variable LibreChat itself reads (it is in LibreChat's .env.example)"),
                )
                .hint(hint(k, "remove it from librechat.env if it was not meant for LibreChat")),
            );
        }
        let e = stat(k, v, Some(at));
        if let Some(slot) = client_group
            .iter_mut()
            .chain(librechat.iter_mut())
            .find(|x| &x.name == k)
        {
            *slot = e;
        } else {
            librechat.push(e);
        }
    }

    let mut servers = Vec::new();
    for s in client.librechat_servers() {
        let url_var = s.url_var();
        let first = servers.len();
        match &s.source {
            ServerSource::External { url, .. } => servers.push(EnvEntry {
                comment: Some(format!("{}: external server", s.name)),
                ..stat(
                    &url_var,
                    url,
                    Some(
                        s.origin
                            .clone()
                            .at(format!("{}.url", s.origin.path.as_deref().unwrap_or(""))),
                    ),
                )
            }),
            ServerSource::Deployed(d) => {
                servers.push(EnvEntry {
                    name: url_var.clone(),
                    value: EnvValue::ServiceUrl {
                        server: s.slug.clone(),
                        owner: d.owner.label().to_string(),
                    },
                    comment: Some(format!(
                        "set at deploy: the URL of {} ({}, on {})",
                        s.slug,
                        match &d.owner {
                            Owner::Shared => "shared",
                            Owner::Client(_) => "client-specific",
                        },
                        d.platform
                    )),
                    origin: None,
                });
                let scope = SecretScope::of(&d.owner, None);
                servers.push(secret(&naming::token_var(&s.slug), scope));
            }
        }
        if let Some(o) = &s.oauth {
            servers.push(secret(&naming::oauth_client_id_var(&s.slug), cscope()));
            if o.client_secret != Some(false) {
                servers.push(secret(&naming::oauth_client_secret_var(&s.slug), cscope()));
            }
        }
        for name in &s.header_secrets {
            servers.push(secret(name, cscope()));
        }
        for e in &servers[first..] {
            if allowed(&e.name) {
                continue;
            }
            let field = s.origin.path.as_deref().unwrap_or("mcp_servers");
            let (what, at, fix) = match s.header_secrets.iter().position(|h| *h == e.name) {
                Some(j) => (
                    "header secret",
                    format!("{field}.secrets[{j}]"),
                    format!(
                        "rename the secret (in \"secrets\" and in the `${{…}}` of {field}.headers)"
                    ),
                ),
                None => (
                    "variable",
                    format!("{field}.name"),
                    format!(
                        "rename the server: its variables derive from its slug (`{}`); set \"server\" to another folder name, or rename the entry",
                        s.slug
                    ),
                ),
            };
            reserved.push(
                Diagnostic::error(
                    s.origin.clone().at(at),
                    format!(
                        "server `{}` would set the {what} `{}` in LibreChat's environment, a name LibreChat itself reads (it is in LibreChat's .env.example)",
                        s.name, e.name
                    ),
                )
                .hint(hint(&e.name, &fix)),
            );
        }
    }

    let mut secrets: Vec<EnvEntry> = LIBRECHAT_SECRETS
        .iter()
        .map(|n| secret(n, cscope()))
        .collect();
    for n in &lc.secrets {
        secrets.push(secret(n, cscope()));
    }

    let plan = EnvPlan {
        groups: vec![
            EnvGroup {
                title: "Client",
                entries: client_group,
            },
            EnvGroup {
                title: "LibreChat",
                entries: librechat,
            },
            EnvGroup {
                title: "MCP servers",
                entries: servers,
            },
            EnvGroup {
                title: "Secrets (values from the encrypted store, injected at deploy)",
                entries: secrets,
            },
        ],
    };
    let mut diags = check(&plan, &loc);
    diags.0.extend(reserved.0);
    (plan, diags)
}

fn check(plan: &EnvPlan, loc: &Location) -> Diagnostics {
    let mut diags = Diagnostics::default();
    let mut seen: BTreeMap<&str, &EnvEntry> = BTreeMap::new();
    for e in plan.entries() {
        if let Some(first) = seen.insert(&e.name, e) {
            let at = e
                .origin
                .clone()
                .or_else(|| first.origin.clone())
                .unwrap_or_else(|| loc.clone());
            diags.push(
                Diagnostic::error(at, format!("variable `{}` would be defined twice in environment.env", e.name))
                    .hint("rename the server (its variables derive from its folder name) or the extra variable"),
            );
        }
        if let EnvValue::Static { value } = &e.value
            && let Err(why) = super::dotenv::quote(value)
        {
            let at = e.origin.clone().unwrap_or_else(|| loc.clone());
            diags.push(
                Diagnostic::error(
                    at,
                    format!(
                        "the value of `{}` cannot be written to environment.env: it {why}",
                        e.name
                    ),
                )
                .hint("remove the offending characters from this field"),
            );
        }
    }
    diags
}
