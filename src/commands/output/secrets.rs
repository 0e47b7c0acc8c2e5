//! `secret list --json`: names, owners, sources and fingerprints; never a value.

use schemars::JsonSchema;
use serde::Serialize;

/// `secret list --json`: names, owners, sources and fingerprints; never a value.
#[derive(Serialize, JsonSchema)]
pub struct SecretListOutput {
    /// The store listed: a client id, or `default`.
    pub store: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    pub secrets: Vec<SecretRecord>,
    /// Secrets the client needs that nothing provides, with the command that sets each.
    pub missing: Vec<MissingSecret>,
}

/// Whose a secret is: the shared store, a client's, or one end user's.
#[derive(Serialize, JsonSchema)]
pub struct SecretOwner {
    pub scope: SecretScopeKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SecretScopeKind {
    Shared,
    Client,
    User,
}

impl From<&crate::secrets::SecretScope> for SecretOwner {
    fn from(s: &crate::secrets::SecretScope) -> Self {
        use crate::secrets::SecretScope as S;
        match s {
            S::Shared => SecretOwner {
                scope: SecretScopeKind::Shared,
                client: None,
                user: None,
            },
            S::Client(c) => SecretOwner {
                scope: SecretScopeKind::Client,
                client: Some(c.clone()),
                user: None,
            },
            S::User { client, user } => SecretOwner {
                scope: SecretScopeKind::User,
                client: Some(client.clone()),
                user: Some(user.clone()),
            },
        }
    }
}

#[derive(Serialize, JsonSchema)]
pub struct SecretRecord {
    pub name: String,
    /// `acme`, `acme (from default)`, `default (shared)`, or a user id.
    pub owner: String,
    #[serde(flatten)]
    pub scope: SecretOwner,
    pub source: SecretSourceKind,
    /// The store file holding it, or the environment variable overriding it.
    pub from: String,
    /// `hmac-sha256:…`, keyed by the workspace key: shows a change, never the value.
    pub fingerprint: String,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SecretSourceKind {
    Store,
    Override,
}

#[derive(Serialize, JsonSchema)]
pub struct MissingSecret {
    pub name: String,
    pub owner: String,
    #[serde(flatten)]
    pub scope: SecretOwner,
    pub purpose: String,
    /// The command that sets it.
    pub command: String,
}

impl From<&crate::render::Row> for SecretRecord {
    fn from(r: &crate::render::Row) -> Self {
        SecretRecord {
            name: r.name.clone(),
            owner: r.owner.clone(),
            scope: (&r.scope).into(),
            source: if r.source == "override" {
                SecretSourceKind::Override
            } else {
                SecretSourceKind::Store
            },
            from: r.from.clone(),
            fingerprint: r.fingerprint.to_string(),
        }
    }
}

impl From<&crate::render::Missing> for MissingSecret {
    fn from(m: &crate::render::Missing) -> Self {
        MissingSecret {
            name: m.name.clone(),
            owner: m.owner.clone(),
            scope: (&m.scope).into(),
            purpose: m.purpose.clone(),
            command: m.command.clone(),
        }
    }
}
