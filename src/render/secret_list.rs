//! What `secret list` shows: each name a client (or the shared store) has, who it belongs to,
//! where its value comes from and its fingerprint. Never a value.

use serde::Serialize;

use super::secret_needs::needs;
use crate::error::Result;
use crate::secrets::{
    Fingerprint, SecretRef, SecretScope, SecretStore, Source, set_command, store_path,
};
use crate::workspace::{Client, DEFAULT_CLIENT};

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub name: String,
    /// `acme`, `acme (from default)`, `default (shared)`, or a user id.
    pub owner: String,
    #[serde(flatten)]
    pub scope: SecretScope,
    /// `store` or `override`.
    pub source: &'static str,
    /// The store file holding it, or the environment variable overriding it.
    #[serde(rename = "from")]
    pub from: String,
    pub fingerprint: Fingerprint,
}

/// A secret the client needs that nothing provides.
#[derive(Debug, Clone, Serialize)]
pub struct Missing {
    pub name: String,
    pub owner: String,
    #[serde(flatten)]
    pub scope: SecretScope,
    pub purpose: String,
    pub command: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Listing {
    pub secrets: Vec<Row>,
    pub missing: Vec<Missing>,
}

/// List `store_id` (a client id or `default`), optionally one user's namespace only.
/// `client` is the loaded client, when it loads: it adds inherited and shared values the client
/// uses, and what it needs but lacks. Decrypts each value to fingerprint it.
pub fn list(
    store: &SecretStore,
    store_id: &str,
    user: Option<&str>,
    client: Option<&Client>,
) -> Result<Listing> {
    let mut refs: Vec<SecretRef> = Vec::new();
    let mut add = |r: SecretRef| {
        if !refs.contains(&r) {
            refs.push(r);
        }
    };
    let is_default = store_id == DEFAULT_CLIENT;
    let scope_of = |u: Option<&str>| match (is_default, u) {
        (true, _) => SecretScope::Shared,
        (false, None) => SecretScope::Client(store_id.to_string()),
        (false, Some(u)) => SecretScope::User {
            client: store_id.to_string(),
            user: u.to_string(),
        },
    };
    let file = store.file(store_id)?;
    for k in file.keys() {
        if user.is_none() || k.user.as_deref() == user {
            add(SecretRef {
                name: k.name.clone(),
                scope: scope_of(k.user.as_deref()),
            });
        }
    }
    let mut users: Vec<String> = file.keys().filter_map(|k| k.user.clone()).collect();
    if let Some(c) = client {
        users.extend(c.users.iter().map(|u| u.id.clone()));
    }
    users.sort();
    users.dedup();
    if user.is_none() {
        for n in store.override_names(store_id, None) {
            add(SecretRef {
                name: n,
                scope: scope_of(None),
            });
        }
    }
    if !is_default {
        for u in users
            .iter()
            .filter(|u| user.is_none_or(|f| f == u.as_str()))
        {
            for n in store.override_names(store_id, Some(u)) {
                add(SecretRef {
                    name: n,
                    scope: scope_of(Some(u)),
                });
            }
        }
    }
    let mut missing = Vec::new();
    if let Some(c) = client.filter(|_| !is_default) {
        for n in needs(c) {
            let in_filter = match (&n.r.scope, user) {
                (_, None) => true,
                (SecretScope::User { user: u, .. }, Some(f)) => u == f,
                _ => false,
            };
            if !in_filter {
                continue;
            }
            if store.contains(&n.r)? {
                add(n.r.clone());
            } else {
                missing.push(Missing {
                    name: n.r.name.clone(),
                    owner: owner(&n.r, false, store_id),
                    scope: n.r.scope.clone(),
                    purpose: n.purpose.clone(),
                    command: set_command(&n.r),
                });
            }
        }
    }

    let mut rows = Vec::new();
    for r in refs {
        let Some(found) = store.locate(&r)? else {
            continue;
        };
        let value = store.require(&r)?;
        let fingerprint = store.fingerprint(&r.name, &value)?;
        let (source, from) = match &found.source {
            Source::Store => ("store", store_path(&found_scope(&found.store))),
            Source::Override(var) => ("override", var.clone()),
        };
        rows.push(Row {
            owner: owner(&r, found.inherited(&r), store_id),
            name: r.name.clone(),
            scope: r.scope.clone(),
            source,
            from,
            fingerprint,
        });
    }
    let group = |s: &SecretScope| match s {
        SecretScope::Client(_) => 0,
        SecretScope::Shared => 1,
        SecretScope::User { .. } => 2,
    };
    let user_of = |s: &SecretScope| match s {
        SecretScope::User { user, .. } => user.clone(),
        _ => String::new(),
    };
    rows.sort_by(|a, b| {
        (group(&a.scope), user_of(&a.scope), &a.name).cmp(&(
            group(&b.scope),
            user_of(&b.scope),
            &b.name,
        ))
    });
    Ok(Listing {
        secrets: rows,
        missing,
    })
}

fn found_scope(store: &str) -> SecretScope {
    if store == DEFAULT_CLIENT {
        SecretScope::Shared
    } else {
        SecretScope::Client(store.to_string())
    }
}

fn owner(r: &SecretRef, inherited: bool, listed: &str) -> String {
    match &r.scope {
        SecretScope::Client(c) if inherited => format!("{c} (from default)"),
        SecretScope::Client(c) => c.clone(),
        SecretScope::Shared if listed == DEFAULT_CLIENT => DEFAULT_CLIENT.to_string(),
        SecretScope::Shared => "default (shared)".to_string(),
        SecretScope::User { user, .. } => user.clone(),
    }
}
