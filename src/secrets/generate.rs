//! Generated secrets: LibreChat's credentials (formats of `reference/notes/librechat.md` §5),
//! one access token per deployed MCP service, and the workspace's fingerprint key. Random bytes
//! from the OS, hex-encoded. Generation fills in what is missing and never changes a value;
//! only `rotate` replaces one, when asked.

use super::store::{SecretStore, fingerprint_key_ref};
use super::{FINGERPRINT_KEY, Secret};
use super::{SecretRef, SecretScope};
use crate::error::{Error, Result};
use crate::workspace::{Client, CredentialMode, Workspace};

/// LibreChat's credentials and their sizes in random bytes (hex doubles the length).
pub const LIBRECHAT_GENERATED: &[(&str, usize)] = &[
    ("CREDS_KEY", 32),
    ("CREDS_IV", 16),
    ("JWT_SECRET", 32),
    ("JWT_REFRESH_SECRET", 32),
];
/// Random bytes of an MCP service's access token and of the fingerprint key.
pub const TOKEN_BYTES: usize = 32;

/// `bytes` random bytes from the OS, as lowercase hex.
pub fn random_hex(bytes: usize) -> Secret {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).expect("the operating system's random number generator");
    let s = Secret::new(hex::encode(&buf));
    buf.iter_mut().for_each(|b| *b = 0);
    s
}

/// A secret scalewize can generate, and how many random bytes it takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generatable {
    pub r: SecretRef,
    pub bytes: usize,
    /// What it is for, for messages.
    pub purpose: String,
}

impl Generatable {
    pub fn new_value(&self) -> Secret {
        random_hex(self.bytes)
    }
}

/// Every secret scalewize generates for `client`: LibreChat's four credentials, the access token
/// of each deployed service it uses (its own in its store, per-user instances' in each user's
/// namespace, shared services' in `default`), and the workspace's fingerprint key.
pub fn generatable(client: &Client) -> Vec<Generatable> {
    let mut out: Vec<Generatable> = LIBRECHAT_GENERATED
        .iter()
        .map(|(n, bytes)| Generatable {
            r: SecretRef {
                name: n.to_string(),
                scope: SecretScope::Client(client.id.clone()),
            },
            bytes: *bytes,
            purpose: "LibreChat credential".into(),
        })
        .collect();
    for s in &client.servers {
        let (Some(d), Some(token)) = (s.deployed(), s.token_var()) else {
            continue;
        };
        let purpose = format!("access token of {}", s.slug);
        let per_user = s.credential_mode == CredentialMode::PerUserInstance;
        let scopes = SecretScope::instances(&d.owner, per_user, &s.users);
        for scope in scopes {
            out.push(Generatable {
                r: SecretRef {
                    name: token.clone(),
                    scope,
                },
                bytes: TOKEN_BYTES,
                purpose: purpose.clone(),
            });
        }
    }
    out.push(fingerprint_key());
    dedup(out)
}

fn fingerprint_key() -> Generatable {
    Generatable {
        r: fingerprint_key_ref(),
        bytes: TOKEN_BYTES,
        purpose: "the workspace's fingerprint key".into(),
    }
}

fn dedup(list: Vec<Generatable>) -> Vec<Generatable> {
    let mut out: Vec<Generatable> = Vec::new();
    for g in list {
        if !out.iter().any(|o| o.r == g.r) {
            out.push(g);
        }
    }
    out
}

/// What the shared store (`default`) generates: the fingerprint key and the access token of
/// every shared deployed service some client uses. Clients that do not load are skipped.
pub fn shared_generatable(ws: &Workspace) -> Result<Vec<Generatable>> {
    let mut out = vec![fingerprint_key()];
    for id in ws.client_ids()? {
        if let Ok(c) = ws.load_client(&id) {
            out.extend(
                generatable(&c)
                    .into_iter()
                    .filter(|g| g.r.scope == SecretScope::Shared),
            );
        }
    }
    Ok(dedup(out))
}

/// The generatable secrets of `list` that the store lacks (overrides do not count: they last
/// one run), each with a fresh value. Nothing is written.
pub fn missing(store: &SecretStore, list: &[Generatable]) -> Result<Vec<(Generatable, Secret)>> {
    let mut out = Vec::new();
    for g in list {
        if store.locate_stored(&g.r)?.is_none() {
            out.push((g.clone(), g.new_value()));
        }
    }
    Ok(out)
}

/// The generatable secret `r` names, or an error saying why it cannot be generated.
pub fn find<'a>(list: &'a [Generatable], r: &SecretRef) -> Result<&'a Generatable> {
    if let Some(g) = list.iter().find(|g| &g.r == r) {
        return Ok(g);
    }
    if let Some(g) = list.iter().find(|g| g.r.name == r.name) {
        let hint = match &g.r.scope {
            SecretScope::Shared => format!(
                "it belongs to the shared store: scalewize secret rotate default {}",
                r.name
            ),
            SecretScope::User { client, user } => format!(
                "it is per user: scalewize secret rotate {client} --user {user} {}",
                r.name
            ),
            SecretScope::Client(c) => format!("scalewize secret rotate {c} {}", r.name),
        };
        return Err(Error::new(format!("`{}` is not generated in that scope", r.name)).hint(hint));
    }
    let is_fp = r.name == FINGERPRINT_KEY;
    Err(Error::new(format!(
        "`{}` is not a secret scalewize generates{}",
        r.name,
        if is_fp { " for a client" } else { "" }
    ))
    .hint(if is_fp {
        format!("it belongs to the shared store: scalewize secret rotate default {FINGERPRINT_KEY}")
    } else {
        let names: Vec<&str> = list.iter().map(|g| g.r.name.as_str()).collect();
        format!(
            "set its value yourself: {} < value.txt (generated here: {})",
            super::set_command(r),
            names.join(", ")
        )
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_match_librechat() {
        for (name, bytes) in LIBRECHAT_GENERATED {
            let v = random_hex(*bytes);
            assert_eq!(v.expose().len(), bytes * 2, "{name}");
            assert!(
                v.expose()
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            );
        }
        assert_eq!(random_hex(32).expose().len(), 64);
        assert_ne!(random_hex(32), random_hex(32));
    }
}
