//! Where a secret lives: the one rule that decides a secret's scope (shared store, the client's
//! store, or one end user's namespace), and how to name and set it. Every caller — the env plan,
//! the desired services, generation, the needs check — asks `SecretScope::of` / `instances`.

use crate::workspace::{DEFAULT_CLIENT, Owner};

/// Whose store a secret lives in.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case", tag = "scope", content = "id")]
pub enum SecretScope {
    /// The client's store, falling back to `default`'s.
    Client(String),
    /// `client-configs/default/secrets.env`: shared servers' secrets.
    Shared,
    /// One end user's namespace in the client's store.
    User { client: String, user: String },
}

#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct SecretRef {
    pub name: String,
    #[serde(flatten)]
    pub scope: SecretScope,
}

impl SecretScope {
    /// The scope of a secret of a service owned by `owner`, for the per-user instance of `user`
    /// when there is one: shared servers' secrets are shared (one instance serves every client),
    /// a per-user instance's are that user's, anything else is the owning client's.
    pub fn of(owner: &Owner, user: Option<&str>) -> SecretScope {
        match (owner, user) {
            (Owner::Shared, _) => SecretScope::Shared,
            (Owner::Client(c), Some(u)) => SecretScope::User {
                client: c.clone(),
                user: u.to_string(),
            },
            (Owner::Client(c), None) => SecretScope::Client(c.clone()),
        }
    }

    /// The scopes of every instance of a server owned by `owner`: one per user for per-user
    /// instances (`users`), otherwise one.
    pub fn instances(owner: &Owner, per_user: bool, users: &[String]) -> Vec<SecretScope> {
        match owner {
            Owner::Client(_) if per_user => users
                .iter()
                .map(|u| SecretScope::of(owner, Some(u)))
                .collect(),
            _ => vec![SecretScope::of(owner, None)],
        }
    }
}

impl SecretRef {
    pub fn new(name: impl Into<String>, scope: SecretScope) -> SecretRef {
        SecretRef {
            name: name.into(),
            scope,
        }
    }
}

/// The store file (relative to the workspace) that holds secrets of `scope`.
pub fn store_path(scope: &SecretScope) -> String {
    match scope {
        SecretScope::Client(c) | SecretScope::User { client: c, .. } => {
            format!("client-configs/{c}/secrets.env")
        }
        SecretScope::Shared => format!("client-configs/{DEFAULT_CLIENT}/secrets.env"),
    }
}

/// The command that sets `r`, for error messages.
pub fn set_command(r: &SecretRef) -> String {
    match &r.scope {
        SecretScope::Client(c) => format!("scalewize secret set {c} {}", r.name),
        SecretScope::Shared => format!("scalewize secret set {DEFAULT_CLIENT} {}", r.name),
        SecretScope::User { client, user } => {
            format!("scalewize secret set {client} --user {user} {}", r.name)
        }
    }
}
