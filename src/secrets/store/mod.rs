//! `SecretStore`: every store file of a workspace, read on demand, decrypted lazily and cached.
//! Names are readable without an identity; a value is decrypted only when asked for.
//!
//! Lookup of a `SecretRef`, first hit wins:
//! - `Client(c)`: `SCALEWIZE_SECRET_<C>__<NAME>`, `c`'s store, then the same two for `default`
//!   (values every client inherits; the client's own value wins);
//! - `Shared`: `SCALEWIZE_SECRET_DEFAULT__<NAME>`, then `default`'s store;
//! - `User { client, user }`: `SCALEWIZE_SECRET_<C>__<USER>__<NAME>`, then `<user>/<NAME>` in
//!   the client's store.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use super::crypto::{self, Identities, IdentityOrigin};
use super::file::{self, Key, StoreFile};
use super::{FINGERPRINT_KEY, OVERRIDE_PREFIX, STORE_FILE, Secret};
use crate::error::{Error, Result};
use crate::secrets::{SecretRef, SecretScope};
use crate::workspace::{CLIENT_CONFIGS, DEFAULT_CLIENT, Workspace, naming};

mod values;
mod write;

pub use write::Staged;

/// Where a value was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A store file.
    Store,
    /// An environment variable (`SCALEWIZE_SECRET_…`), for this run only.
    Override(String),
}

/// Where a `SecretRef` resolves to (found without decrypting anything).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The store that holds it: a client id or `default`.
    pub store: String,
    pub key: Key,
    pub source: Source,
}

impl Found {
    /// True when a client's value comes from `default`.
    pub fn inherited(&self, r: &SecretRef) -> bool {
        matches!(&r.scope, SecretScope::Client(c) if c != DEFAULT_CLIENT)
            && self.store == DEFAULT_CLIENT
    }
}

type Sink = Box<dyn Fn(u8, &str) + Send + Sync>;
type WarnSink = Box<dyn Fn(&str) + Send + Sync>;

/// The secret store of one workspace. `&self` methods may be called from many threads.
pub struct SecretStore {
    root: PathBuf,
    recipients: Vec<String>,
    origin: Option<IdentityOrigin>,
    env_key: Option<Secret>,
    identities: OnceLock<std::result::Result<Arc<Identities>, Box<Error>>>,
    files: Mutex<HashMap<String, Arc<StoreFile>>>,
    values: Mutex<HashMap<(String, Key), Secret>>,
    overrides: BTreeMap<String, Secret>,
    ignored_overrides: Vec<String>,
    warn: WarnSink,
    debug: Sink,
    warned: Mutex<HashSet<String>>,
    writing: Mutex<()>,
}

impl std::fmt::Debug for SecretStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretStore")
            .field("root", &self.root)
            .field("identity", &self.origin)
            .field("overrides", &self.overrides.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

const AGE_KEY_VAR: &str = "SCALEWIZE_AGE_KEY";
const AGE_KEY_FILE_VAR: &str = "SCALEWIZE_AGE_KEY_FILE";

impl SecretStore {
    /// Open the workspace's store with this process's environment. Reads nothing secret yet.
    pub fn open(ws: &Workspace) -> Result<SecretStore> {
        SecretStore::open_with_env(ws, std::env::vars_os())
    }

    /// Open with an explicit environment (only `SCALEWIZE_AGE_KEY`, `SCALEWIZE_AGE_KEY_FILE`
    /// and `SCALEWIZE_SECRET_*` are read from it).
    pub fn open_with_env(
        ws: &Workspace,
        env: impl IntoIterator<Item = (OsString, OsString)>,
    ) -> Result<SecretStore> {
        let mut env_key = None;
        let mut env_file = None;
        let mut overrides = BTreeMap::new();
        let mut ignored_overrides = Vec::new();
        for (k, v) in env {
            let Some(k) = k.to_str() else { continue };
            if k == AGE_KEY_VAR {
                env_key = v
                    .into_string()
                    .ok()
                    .filter(|v| !v.trim().is_empty())
                    .map(Secret::new);
            } else if k == AGE_KEY_FILE_VAR {
                env_file = Some(PathBuf::from(v)).filter(|p| !p.as_os_str().is_empty());
            } else if k.starts_with(OVERRIDE_PREFIX) {
                match v.into_string() {
                    Ok(v) if !v.is_empty() => {
                        overrides.insert(k.to_string(), Secret::new(v));
                    }
                    _ => ignored_overrides.push(k.to_string()),
                }
            }
        }
        let origin = if env_key.is_some() {
            Some(IdentityOrigin::EnvKey)
        } else if let Some(p) = env_file {
            Some(IdentityOrigin::EnvFile(p))
        } else {
            ws.settings
                .identity_file
                .as_ref()
                .map(|p| IdentityOrigin::Setting(ws.root.join(p)))
        };
        Ok(SecretStore {
            root: ws.root.clone(),
            recipients: ws.settings.recipients.clone(),
            origin,
            env_key,
            identities: OnceLock::new(),
            files: Mutex::new(HashMap::new()),
            values: Mutex::new(HashMap::new()),
            overrides,
            ignored_overrides,
            // Ignoring write errors: a closed stderr must not panic the run.
            warn: Box::new(|m| {
                use std::io::Write;
                let _ = writeln!(std::io::stderr().lock(), "warning: {m}");
            }),
            debug: Box::new(|_, _| {}),
            warned: Mutex::new(HashSet::new()),
            writing: Mutex::new(()),
        })
    }

    /// Where warnings go (default: stderr). Each distinct warning is reported once.
    pub fn on_warning(&mut self, f: impl Fn(&str) + Send + Sync + 'static) {
        self.warn = Box::new(f);
    }

    /// Where debug lines go (level 1–3, as `-v`…`-vvv`). They name secrets, never values.
    pub fn on_debug(&mut self, f: impl Fn(u8, &str) + Send + Sync + 'static) {
        self.debug = Box::new(f);
    }

    fn warn_once(&self, msg: String) {
        if self.warned.lock().expect("warned").insert(msg.clone()) {
            (self.warn)(&msg);
        }
    }

    /// Report overrides that were ignored (empty or not UTF-8). Commands call this once.
    pub fn report_ignored_overrides(&self) {
        for k in &self.ignored_overrides {
            self.warn_once(format!(
                "ignoring {k}: it is empty (or not UTF-8); an override must hold the value itself"
            ));
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the identity would come from, if any is configured.
    pub fn identity_origin(&self) -> Option<&IdentityOrigin> {
        self.origin.as_ref()
    }

    // ---- names (no identity needed) ----

    /// The store file of `store` (a client id or `default`).
    pub fn path_of(&self, store: &str) -> PathBuf {
        self.root.join(CLIENT_CONFIGS).join(store).join(STORE_FILE)
    }

    fn rel(&self, p: &Path) -> String {
        p.strip_prefix(&self.root)
            .unwrap_or(p)
            .display()
            .to_string()
    }

    /// A store file, parsed once.
    pub fn file(&self, store: &str) -> Result<Arc<StoreFile>> {
        if let Some(f) = self.files.lock().expect("files").get(store) {
            return Ok(f.clone());
        }
        let path = self.path_of(store);
        self.check_inside(&path)?;
        let f = Arc::new(StoreFile::load(&path, store).map_err(Error::from)?);
        (self.debug)(2, &format!("read {}", self.rel(&path)));
        Ok(self
            .files
            .lock()
            .expect("files")
            .entry(store.to_string())
            .or_insert(f)
            .clone())
    }

    /// A store path must not lead out of the workspace through a link (read or written).
    fn check_inside(&self, path: &Path) -> Result<()> {
        match crate::fs::escape(&self.root, path) {
            Some(e) => Err(Error::new(e.describe(&self.root)).hint(crate::fs::ESCAPE_HINT)),
            None => Ok(()),
        }
    }

    /// Values of `store` encrypted to another number of recipients than `scalewize.json` lists:
    /// a recipient was added (who cannot read them) or removed (who still can) without
    /// `secret reencrypt`. Read from the age headers, so no identity is needed.
    pub fn recipient_drift(&self, store: &str) -> Result<Option<crate::error::Diagnostic>> {
        let want = self.recipients.len();
        if want == 0 {
            return Ok(None);
        }
        let f = self.file(store)?;
        let stale: Vec<(&Key, usize)> = f
            .keys()
            .filter_map(|k| {
                let n = crypto::x25519_recipients(f.ciphertext(k)?)?;
                (n != want).then_some((k, n))
            })
            .collect();
        let Some((first, n)) = stale.first() else {
            return Ok(None);
        };
        let path = self.path_of(store);
        let line = f.line_of(first).unwrap_or(1);
        Ok(Some(
            crate::error::Diagnostic::error(
                crate::error::Location::file(&path).line_col(line, 1),
                format!(
                    "{} value(s) of this store, first `{first}`, are encrypted to {n} recipient(s) but scalewize.json lists {want}: a recipient was added or removed without re-encrypting",
                    stale.len()
                ),
            )
            .hint(format!(
                "someone whose key can read the store runs `scalewize secret reencrypt{}` and commits the result",
                if store == DEFAULT_CLIENT { String::new() } else { format!(" {store}") }
            )),
        ))
    }

    /// The store and the layers a reference is looked up in, in order.
    fn layers(&self, r: &SecretRef) -> Result<Vec<(String, Key)>> {
        check_ref(r)?;
        Ok(match &r.scope {
            SecretScope::Client(c) if c == DEFAULT_CLIENT => {
                vec![(DEFAULT_CLIENT.to_string(), Key::new(None, &r.name))]
            }
            SecretScope::Shared => vec![(DEFAULT_CLIENT.to_string(), Key::new(None, &r.name))],
            SecretScope::Client(c) => {
                let mut v = vec![(c.clone(), Key::new(None, &r.name))];
                if r.name != FINGERPRINT_KEY {
                    v.push((DEFAULT_CLIENT.to_string(), Key::new(None, &r.name)));
                }
                v
            }
            SecretScope::User { client, user } => {
                vec![(client.clone(), Key::new(Some(user), &r.name))]
            }
        })
    }

    /// Where `r` resolves to, without decrypting: an override, the store, or nothing.
    pub fn locate(&self, r: &SecretRef) -> Result<Option<Found>> {
        for (store, key) in self.layers(r)? {
            let var = override_var_for(&store, key.user.as_deref(), &key.name);
            if self.overrides.contains_key(&var) {
                return Ok(Some(Found {
                    store,
                    key,
                    source: Source::Override(var),
                }));
            }
            if self.file(&store)?.contains(&key) {
                return Ok(Some(Found {
                    store,
                    key,
                    source: Source::Store,
                }));
            }
        }
        Ok(None)
    }

    /// Where `r` is stored (overrides ignored): what `generate` and `validate` look at.
    pub fn locate_stored(&self, r: &SecretRef) -> Result<Option<Found>> {
        for (store, key) in self.layers(r)? {
            if self.file(&store)?.contains(&key) {
                return Ok(Some(Found {
                    store,
                    key,
                    source: Source::Store,
                }));
            }
        }
        Ok(None)
    }

    /// Whether `r` has a value (stored or overridden), without decrypting it.
    pub fn contains(&self, r: &SecretRef) -> Result<bool> {
        Ok(self.locate(r)?.is_some())
    }

    /// The names that resolve in `scope` (stored, inherited from `default`, or overridden).
    /// No identity needed.
    pub fn names(&self, scope: &SecretScope) -> Result<Vec<String>> {
        let probe = SecretRef {
            name: "X".into(),
            scope: scope.clone(),
        };
        let mut out = BTreeSet::new();
        for (store, key) in self.layers(&probe)? {
            let inherited = store == DEFAULT_CLIENT
                && matches!(scope, SecretScope::Client(c) if c != DEFAULT_CLIENT);
            let f = self.file(&store)?;
            for k in f.keys().filter(|k| k.user == key.user) {
                if !(inherited && k.name == FINGERPRINT_KEY) {
                    out.insert(k.name.clone());
                }
            }
            for n in self.override_names(&store, key.user.as_deref()) {
                if !(inherited && n == FINGERPRINT_KEY) {
                    out.insert(n);
                }
            }
        }
        Ok(out.into_iter().collect())
    }

    /// Names overridden for one store (and user namespace) in this run's environment. A name
    /// containing `__` is found only when asked for by name (it reads like a user namespace).
    pub fn override_names(&self, store: &str, user: Option<&str>) -> Vec<String> {
        let prefix = override_prefix(store, user);
        self.overrides
            .keys()
            .filter_map(|k| k.strip_prefix(&prefix))
            .filter(|n| file::is_secret_name(n) && !n.contains("__"))
            .map(str::to_string)
            .collect()
    }
}

/// The reference of the workspace key.
pub fn fingerprint_key_ref() -> SecretRef {
    SecretRef {
        name: FINGERPRINT_KEY.to_string(),
        scope: SecretScope::Shared,
    }
}

fn override_prefix(store: &str, user: Option<&str>) -> String {
    let mut s = format!("{OVERRIDE_PREFIX}{}__", naming::upper_snake(store));
    if let Some(u) = user {
        s.push_str(&naming::upper_snake(u));
        s.push_str("__");
    }
    s
}

fn override_var_for(store: &str, user: Option<&str>, name: &str) -> String {
    format!("{}{name}", override_prefix(store, user))
}

/// The environment variable that overrides `r` for one run:
/// `SCALEWIZE_SECRET_<CLIENT>__<NAME>`, `SCALEWIZE_SECRET_<CLIENT>__<USER>__<NAME>`, or
/// `SCALEWIZE_SECRET_DEFAULT__<NAME>` for the shared store.
pub fn override_var(r: &SecretRef) -> String {
    match &r.scope {
        SecretScope::Client(c) => override_var_for(c, None, &r.name),
        SecretScope::Shared => override_var_for(DEFAULT_CLIENT, None, &r.name),
        SecretScope::User { client, user } => override_var_for(client, Some(user), &r.name),
    }
}

/// Names, client and user ids of a reference: refused before any path is built from them.
pub fn check_ref(r: &SecretRef) -> Result<()> {
    if !file::is_secret_name(&r.name) {
        return Err(Error::new(file::secret_name_error()));
    }
    let client = match &r.scope {
        SecretScope::Shared => return Ok(()),
        SecretScope::Client(c) => c,
        SecretScope::User { client, user } => {
            if client == DEFAULT_CLIENT {
                return Err(Error::new(
                    "the shared store (`default`) has no per-user secrets",
                )
                .hint("per-user secrets belong to a client: scalewize secret set <client> --user <user> NAME"));
            }
            naming::check_user_id(user).map_err(Error::new)?;
            client
        }
    };
    if client != DEFAULT_CLIENT {
        naming::check_client_id(client).map_err(Error::new)?;
    }
    Ok(())
}
