//! Which secrets a client needs: every secret its environment plan references (LibreChat's
//! required ones, OAuth client ids and secrets, header secrets, service tokens, shared ones
//! included), every secret a deployed server's manifest lists, and the access token of each
//! per-user instance. `validate` checks them by name, without an identity.

use super::env_plan::env_plan;
use crate::error::{Diagnostic, Location};
use crate::secrets::{SecretRef, SecretScope, SecretStore, override_var, set_command, store_path};
use crate::workspace::{Client, CredentialMode, LIBRECHAT_SECRETS, naming};

/// One secret a client needs, where the need comes from, and what it is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    pub r: SecretRef,
    /// The file (and field) that makes it needed.
    pub origin: Location,
    pub purpose: String,
}

/// Every secret `client` needs (see `needs` for where each need comes from).
pub fn needed(client: &Client) -> Vec<SecretRef> {
    needs(client).into_iter().map(|n| n.r).collect()
}

/// Every secret `client` needs, in a stable order, each once.
pub fn needs(client: &Client) -> Vec<Need> {
    let (plan, _) = env_plan(client);
    let file = Location::file(&client.file);
    let mut out: Vec<Need> = Vec::new();
    let mut push = |n: Need| {
        if !out.iter().any(|o| o.r == n.r) {
            out.push(n);
        }
    };
    for r in plan.secrets() {
        let (origin, purpose) = plan_origin(client, &r.name, &file);
        push(Need {
            r: r.clone(),
            origin,
            purpose,
        });
    }
    for s in &client.servers {
        let Some(d) = s.deployed() else { continue };
        let per_user = s.credential_mode == CredentialMode::PerUserInstance;
        let scopes = SecretScope::instances(&d.owner, per_user, &s.users);
        let manifest = Location::file(&d.manifest_path).at("secrets");
        for scope in &scopes {
            if per_user {
                push(Need {
                    r: SecretRef {
                        name: naming::token_var(&s.slug),
                        scope: scope.clone(),
                    },
                    origin: s.origin.clone(),
                    purpose: format!("access token of {}", s.slug),
                });
            }
            for name in &d.secrets {
                push(Need {
                    r: SecretRef {
                        name: name.clone(),
                        scope: scope.clone(),
                    },
                    origin: manifest.clone(),
                    purpose: format!("needed by {}, per its manifest", s.slug),
                });
            }
        }
    }
    out
}

fn plan_origin(client: &Client, name: &str, file: &Location) -> (Location, String) {
    if LIBRECHAT_SECRETS.contains(&name) {
        return (file.clone(), "required by LibreChat".into());
    }
    if client.librechat.secrets.iter().any(|n| n == name) {
        return (
            file.clone().at("librechat.secrets"),
            "listed in librechat.secrets".into(),
        );
    }
    for s in client.librechat_servers() {
        let what = if s.token_var().as_deref() == Some(name) {
            Some(format!("access token of {}", s.slug))
        } else if naming::oauth_client_id_var(&s.slug) == name {
            Some(format!("OAuth client id of {}", s.slug))
        } else if naming::oauth_client_secret_var(&s.slug) == name {
            Some(format!("OAuth client secret of {}", s.slug))
        } else if s.header_secrets.iter().any(|h| h == name) {
            Some(format!("a header of {}", s.slug))
        } else {
            None
        };
        if let Some(w) = what {
            return (s.origin.clone(), w);
        }
    }
    (file.clone(), "referenced by the environment".into())
}

/// With an identity configured: one error per needed stored value that does not decrypt, or
/// does not belong on its line (what deploy would stop on). Without one, nothing: names were
/// checked by `missing_diagnostics`, and validate must work without the key (CI on forks).
pub fn unreadable_diagnostics(store: &SecretStore, client: &Client) -> Vec<Diagnostic> {
    if store.identity_origin().is_none() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for n in needs(client) {
        if let Ok(Some(found)) = store.locate(&n.r)
            && found.source == crate::secrets::Source::Store
            && let Err(e) = store.get(&n.r)
        {
            let mut d = Diagnostic::error(crate::error::Location::default(), e.message);
            if let Some(h) = e.hint {
                d = d.hint(h);
            }
            if !out.contains(&d) {
                out.push(d);
            }
        }
    }
    out
}

/// The client's store and the shared one, when their values are encrypted to another number of
/// recipients than `scalewize.json` lists (no identity needed).
pub fn recipient_diagnostics(store: &SecretStore, client: &Client) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for s in [client.id.as_str(), crate::workspace::DEFAULT_CLIENT] {
        match store.recipient_drift(s) {
            Ok(Some(d)) => out.push(d),
            Ok(None) => {}
            // A store that does not parse: its own finding (file, line, repair hint).
            Err(e) if !e.diagnostics.is_empty() => out.extend(e.diagnostics.0),
            Err(e) => out.push(Diagnostic::error(
                crate::error::Location::default(),
                e.message,
            )),
        }
    }
    out
}

/// One error per needed secret the store lacks (names only: no identity needed).
pub fn missing_diagnostics(store: &SecretStore, client: &Client) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for n in needs(client) {
        match store.contains(&n.r) {
            Ok(true) => {}
            Ok(false) => {
                let whose = match &n.r.scope {
                    SecretScope::Client(c) => format!("of {c}"),
                    SecretScope::Shared => "of the shared store".into(),
                    SecretScope::User { client, user } => format!("of {client}'s user {user}"),
                };
                let generated = crate::secrets::generate::generatable(client)
                    .iter()
                    .any(|g| g.r == n.r);
                let set = format!("{} < value.txt", set_command(&n.r));
                let hint = if generated {
                    let store = match &n.r.scope {
                        SecretScope::Shared => "default",
                        SecretScope::Client(c) | SecretScope::User { client: c, .. } => c,
                    };
                    format!(
                        "generate it: scalewize secret generate {store} (or set your own: {set})"
                    )
                } else {
                    format!("set it: {set} (or {} for one run)", override_var(&n.r))
                };
                out.push(
                    Diagnostic::error(
                        n.origin.clone(),
                        format!(
                            "secret `{}` {whose} is not set ({}; the store is {})",
                            n.r.name,
                            n.purpose,
                            store_path(&n.r.scope)
                        ),
                    )
                    .hint(hint),
                );
            }
            Err(e) => {
                // A broken store file: its own diagnostic names file and line.
                if e.diagnostics.is_empty() {
                    out.push(Diagnostic::error(n.origin.clone(), e.message.clone()));
                } else {
                    out.extend(e.diagnostics.0);
                }
                break;
            }
        }
    }
    out
}
