//! The data a template sees. Documented in README.md ("Templates"); keep the two in step.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value as Json;

use super::env_plan::{EnvPlan, EnvValue};
use crate::workspace::{
    ACCESS_TOKEN_HEADER, Client, CredentialMode, ServerInstructions, ServerSource, USER_ID_HEADER,
    naming,
};

/// The LibreChat config version of the pinned `librechat-data-provider` (see the validator tool).
pub const LIBRECHAT_CONFIG_VERSION: &str = "1.3.17";

#[derive(Serialize)]
pub struct Context<'a> {
    pub client: ClientCtx<'a>,
    pub librechat: LibreChatCtx<'a>,
    pub servers: Vec<ServerCtx>,
    pub env_groups: Vec<EnvGroupCtx>,
}

#[derive(Serialize)]
pub struct ClientCtx<'a> {
    pub id: &'a str,
    pub name: &'a str,
}

#[derive(Serialize)]
pub struct LibreChatCtx<'a> {
    pub version: &'static str,
    pub image: Option<&'a str>,
    pub domain: Option<&'a str>,
}

/// One `mcpServers` entry, in LibreChat's field names where they are LibreChat's.
#[derive(Serialize)]
pub struct ServerCtx {
    pub key: String,
    pub name: String,
    pub slug: String,
    pub kind: &'static str,
    pub credential_mode: &'static str,
    pub deployed: bool,
    #[serde(rename = "type")]
    pub transport: &'static str,
    pub url: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub headers: BTreeMap<String, String>,
    pub custom_user_vars: BTreeMap<String, UserVarCtx>,
    pub oauth: BTreeMap<&'static str, String>,
    pub requires_oauth: bool,
    /// Optional LibreChat fields that were set: `timeout`, `initTimeout`, `startup`, `chatMenu`, …
    pub options: BTreeMap<&'static str, Json>,
}

#[derive(Serialize)]
pub struct UserVarCtx {
    pub title: String,
    pub description: String,
    pub sensitive: Option<bool>,
}

#[derive(Serialize)]
pub struct EnvGroupCtx {
    pub title: &'static str,
    pub entries: Vec<EnvEntryCtx>,
}

#[derive(Serialize)]
pub struct EnvEntryCtx {
    pub name: String,
    /// `none` when filled in at deploy time.
    pub value: Option<String>,
    pub comment: Option<String>,
}

pub fn build<'a>(client: &'a Client, env: &EnvPlan) -> Context<'a> {
    Context {
        client: ClientCtx {
            id: &client.id,
            name: &client.name,
        },
        librechat: LibreChatCtx {
            version: LIBRECHAT_CONFIG_VERSION,
            image: client.librechat.image.as_deref(),
            domain: client.librechat.domain.as_deref(),
        },
        servers: client.librechat_servers().map(server_ctx).collect(),
        env_groups: env
            .groups
            .iter()
            .map(|g| EnvGroupCtx {
                title: g.title,
                entries: g
                    .entries
                    .iter()
                    .map(|e| EnvEntryCtx {
                        name: e.name.clone(),
                        value: match &e.value {
                            EnvValue::Static { value } => Some(value.clone()),
                            _ => None,
                        },
                        comment: e.comment.clone(),
                    })
                    .collect(),
            })
            .collect(),
    }
}

fn server_ctx(s: &crate::workspace::Server) -> ServerCtx {
    let mut headers = BTreeMap::new();
    let deployed = matches!(s.source, ServerSource::Deployed(_));
    if deployed {
        headers.insert(
            ACCESS_TOKEN_HEADER.to_string(),
            format!("${{{}}}", naming::token_var(&s.slug)),
        );
    }
    for v in &s.user_vars {
        if let Some(h) = &v.header {
            headers.insert(h.clone(), format!("{{{{{}}}}}", v.name));
        }
    }
    if deployed && s.credential_mode == CredentialMode::PerUserHeader {
        headers.insert(
            USER_ID_HEADER.to_string(),
            "{{LIBRECHAT_USER_ID}}".to_string(),
        );
    }
    for (k, v) in &s.headers {
        headers.insert(k.clone(), v.clone());
    }
    let custom_user_vars = s
        .user_vars
        .iter()
        .map(|v| {
            (
                v.name.clone(),
                UserVarCtx {
                    title: v.title.clone(),
                    description: v.description.clone(),
                    sensitive: v.sensitive,
                },
            )
        })
        .collect();
    let mut oauth = BTreeMap::new();
    if let Some(o) = &s.oauth {
        let mut put = |k: &'static str, v: &Option<String>| {
            if let Some(v) = v {
                oauth.insert(k, v.clone());
            }
        };
        put("authorization_url", &o.authorization_url);
        put("token_url", &o.token_url);
        put("scope", &o.scope);
        put("revocation_endpoint", &o.revocation_endpoint);
        oauth.insert(
            "client_id",
            format!("${{{}}}", naming::oauth_client_id_var(&s.slug)),
        );
        if o.client_secret != Some(false) {
            oauth.insert(
                "client_secret",
                format!("${{{}}}", naming::oauth_client_secret_var(&s.slug)),
            );
        }
        if let Some(m) = o.token_exchange_method {
            let m = serde_json::to_value(m)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string));
            oauth.insert("token_exchange_method", m.unwrap_or_default());
        }
    }
    let r = &s.render;
    let mut options = BTreeMap::new();
    let mut opt = |k: &'static str, v: Option<Json>| {
        if let Some(v) = v {
            options.insert(k, v);
        }
    };
    opt("timeout", r.timeout.map(Json::from));
    opt("initTimeout", r.init_timeout.map(Json::from));
    opt("startup", r.startup.map(Json::from));
    opt("chatMenu", r.chat_menu.map(Json::from));
    opt(
        "serverInstructions",
        r.server_instructions.as_ref().map(|i| match i {
            ServerInstructions::Flag(b) => Json::from(*b),
            ServerInstructions::Text(t) => Json::from(t.clone()),
        }),
    );
    opt("iconPath", r.icon_path.clone().map(Json::from));
    ServerCtx {
        key: s.slug.clone(),
        name: s.name.clone(),
        slug: s.slug.clone(),
        kind: match s.kind {
            crate::workspace::ServerKind::Shared => "shared",
            crate::workspace::ServerKind::ClientSpecific => "client-specific",
        },
        credential_mode: s.credential_mode.as_str(),
        deployed,
        transport: s.transport().as_librechat(),
        url: format!("${{{}}}", s.url_var()),
        title: s.title.clone(),
        description: s.description.clone(),
        headers,
        custom_user_vars,
        oauth,
        requires_oauth: s.oauth_required,
        options,
    }
}
