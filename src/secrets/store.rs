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

use super::crypto::{self, DecryptFailure, GitExposure, Identities, IdentityOrigin};
use super::file::{self, Key, StoreFile};
use super::fingerprint::{self, Fingerprint};
use super::redact::Redactor;
use super::{FINGERPRINT_KEY, OVERRIDE_PREFIX, STORE_FILE, Secret};
use crate::error::{Error, Result};
use crate::render::env_plan::{SecretRef, SecretScope, set_command};
use crate::workspace::{CLIENT_CONFIGS, DEFAULT_CLIENT, Workspace, naming};

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

/// A store file's new content, not yet written (see `SecretStore::stage`).
pub struct Staged {
    pub store: String,
    pub path: PathBuf,
    pub content: String,
    file: StoreFile,
    values: Vec<(Key, Option<Secret>)>,
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
            warn: Box::new(|m| eprintln!("warning: {m}")),
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

    // ---- values (identity needed for stored ones) ----

    /// The value of `r`: override, else the store (else `default` for a client's secret).
    pub fn get(&self, r: &SecretRef) -> Result<Option<Secret>> {
        let Some(found) = self.locate(r)? else {
            return Ok(None);
        };
        match &found.source {
            Source::Override(var) => {
                (self.debug)(2, &format!("{} from {var} (override)", r.name));
                Ok(self.overrides.get(var).cloned())
            }
            Source::Store => self.decrypt(&found.store, &found.key).map(Some),
        }
    }

    /// The stored value of `r`, overrides ignored (what a write would replace).
    pub fn get_stored(&self, r: &SecretRef) -> Result<Option<Secret>> {
        match self.locate_stored(r)? {
            Some(found) => self.decrypt(&found.store, &found.key).map(Some),
            None => Ok(None),
        }
    }

    /// The value of `r`, or an error that names it and says how to set it.
    pub fn require(&self, r: &SecretRef) -> Result<Secret> {
        match self.get(r)? {
            Some(v) => Ok(v),
            None => Err(self.not_set(r)),
        }
    }

    fn not_set(&self, r: &SecretRef) -> Error {
        let layers = self.layers(r).unwrap_or_default();
        let places: Vec<String> = layers
            .iter()
            .map(|(s, k)| {
                let p = self.rel(&self.path_of(s));
                match &k.user {
                    Some(u) => format!("{p} (user {u})"),
                    None => p,
                }
            })
            .collect();
        let vars: Vec<String> = layers
            .iter()
            .map(|(s, k)| override_var_for(s, k.user.as_deref(), &k.name))
            .collect();
        Error::new(format!(
            "secret `{}` is not set: not in {}, and {} {} not set",
            r.name,
            places.join(" nor "),
            vars.join(" / "),
            if vars.len() > 1 { "are" } else { "is" }
        ))
        .hint(format!("set it: {} < value.txt", set_command(r)))
    }

    /// The fingerprint of `value` stored as `name`, keyed by the workspace key.
    pub fn fingerprint(&self, name: &str, value: &Secret) -> Result<Fingerprint> {
        let key = self.fingerprint_key()?;
        Ok(Fingerprint::compute(&key, name, value))
    }

    fn fingerprint_key(&self) -> Result<Vec<u8>> {
        let r = fingerprint_key_ref();
        match self.get(&r)? {
            Some(v) => fingerprint::key_bytes(&v),
            None => Err(Error::new(format!(
                "the workspace has no fingerprint key yet ({FINGERPRINT_KEY} in {})",
                self.rel(&self.path_of(DEFAULT_CLIENT))
            ))
            .hint(
                "`scalewize secret generate default` creates it (so does the first `secret set`)",
            )),
        }
    }

    /// A redactor that knows every value this store has handed out so far (and every override).
    pub fn redactor(&self) -> Redactor {
        let mut r = Redactor::new();
        for ((_, key), v) in self.values.lock().expect("values").iter() {
            r.add(&key.name, v);
        }
        for (var, v) in &self.overrides {
            r.add(var, v);
        }
        r
    }

    fn identities(&self) -> Result<Arc<Identities>> {
        let loaded = self.identities.get_or_init(|| {
            let Some(origin) = self.origin.clone() else {
                return Err(Box::new(
                    Error::new("no age identity is configured").hint(crypto::IDENTITY_HOW_TO),
                ));
            };
            let ids = crypto::load_identities(origin, self.env_key.as_ref()).map_err(Box::new)?;
            (self.debug)(1, &format!("age identity from {}", ids.origin.describe()));
            self.check_exposure(&ids);
            Ok(Arc::new(ids))
        });
        loaded.as_ref().map(Arc::clone).map_err(|e| Error {
            message: e.message.clone(),
            hint: e.hint.clone(),
            diagnostics: Default::default(),
            transient: None,
        })
    }

    /// Warn (once) when the identity file is in git, or is not among the recipients.
    fn check_exposure(&self, ids: &Identities) {
        if let Some(path) = ids.origin.file() {
            let shown = self.rel(path);
            match crypto::git_exposure(path) {
                Some(GitExposure::Tracked) => self.warn_once(format!(
                    "decrypting with {shown}, which is committed to git: anyone with this repository can read these secrets; set SCALEWIZE_AGE_KEY for real secrets"
                )),
                Some(GitExposure::NotIgnored) => self.warn_once(format!(
                    "decrypting with {shown}, which git does not ignore: add it to .gitignore (or keep it outside the repository) so it is never committed"
                )),
                None => {}
            }
        }
        let keys = ids.public_keys();
        if !self.recipients.is_empty()
            && !keys
                .iter()
                .any(|k| self.recipients.iter().any(|r| r.trim() == k))
        {
            self.warn_once(format!(
                "the age identity from {} is not one of \"recipients\" in scalewize.json: values written from now on cannot be decrypted with it",
                ids.origin.describe()
            ));
        }
    }

    fn decrypt(&self, store: &str, key: &Key) -> Result<Secret> {
        let cache_key = (store.to_string(), key.clone());
        if let Some(v) = self.values.lock().expect("values").get(&cache_key) {
            return Ok(v.clone());
        }
        let path = self.path_of(store);
        let rel = self.rel(&path);
        let f = self.file(store)?;
        let Some(ct) = f.ciphertext(key) else {
            return Err(Error::new(format!("`{key}` is not in {rel}")));
        };
        let what = format!("cannot decrypt `{key}` in {rel}");
        let ids = self.identities().map_err(|e| {
            Error::new(format!("{what}: {}", e.message))
                .hint(e.hint.unwrap_or_else(|| crypto::IDENTITY_HOW_TO.into()))
        })?;
        let value = crypto::decrypt(&ids, ct).map_err(|f| match f {
            DecryptFailure::NotARecipient => Error::new(format!(
                "{what}: the age identity from {} is not one of the recipients it was encrypted to (a wrong key?)",
                ids.origin.describe()
            ))
            .hint(crypto::IDENTITY_HOW_TO),
            DecryptFailure::Corrupt(why) => Error::new(format!(
                "{what}: the stored value is damaged ({why})"
            ))
            .hint(format!(
                "restore {rel} from git, or set the value again with `scalewize secret set {store}{} {}`",
                key.user.as_deref().map(|u| format!(" --user {u}")).unwrap_or_default(),
                key.name
            )),
            DecryptFailure::NotText => Error::new(format!("{what}: the value is not UTF-8 text")),
        })?;
        (self.debug)(3, &format!("decrypted `{key}` from {rel}"));
        self.values
            .lock()
            .expect("values")
            .insert(cache_key, value.clone());
        Ok(value)
    }

    /// Prove the identity can read the store before writing to it: decrypt the workspace key
    /// (or, before it exists, any one stored value). A store with nothing in it needs no identity.
    pub fn check_identity(&self) -> Result<()> {
        let fp = fingerprint_key_ref();
        if let Some(found) = self.locate_stored(&fp)? {
            return self.decrypt(&found.store, &found.key).map(|_| ());
        }
        let f = self.file(DEFAULT_CLIENT)?;
        if let Some(k) = f.keys().next() {
            return self.decrypt(DEFAULT_CLIENT, k).map(|_| ());
        }
        Ok(())
    }

    /// The workspace key to create alongside a first write, when the store has none.
    pub fn fingerprint_key_to_create(&self) -> Result<Option<(SecretRef, Secret)>> {
        let r = fingerprint_key_ref();
        Ok(match self.locate_stored(&r)? {
            Some(_) => None,
            None => Some((r, super::generate::random_hex(32))),
        })
    }

    // ---- writes ----

    /// Encrypt `sets` and remove `removes`, in memory: the new content of each store file
    /// touched. Only the lines named change. Nothing is written until `commit`.
    pub fn stage(
        &self,
        sets: &[(SecretRef, Secret)],
        removes: &[SecretRef],
    ) -> Result<Vec<Staged>> {
        let mut by_store: BTreeMap<String, Vec<(Key, Option<&Secret>)>> = BTreeMap::new();
        for (r, v) in sets {
            check_value(&r.name, v)?;
            let (store, key) = self.layers(r)?.remove(0);
            by_store.entry(store).or_default().push((key, Some(v)));
        }
        for r in removes {
            let (store, key) = self.layers(r)?.remove(0);
            by_store.entry(store).or_default().push((key, None));
        }
        let recipients = if sets.is_empty() {
            Vec::new()
        } else {
            crypto::parse_recipients(&self.recipients)?
        };
        let mut out = Vec::new();
        for (store, changes) in by_store {
            let mut f = (*self.file(&store)?).clone();
            let mut values = Vec::new();
            for (key, v) in changes {
                match v {
                    Some(v) => {
                        f.set(&key, crypto::encrypt(&recipients, v)?);
                        values.push((key, Some(v.clone())));
                    }
                    None => {
                        f.remove(&key);
                        values.push((key, None));
                    }
                }
            }
            out.push(Staged {
                path: self.path_of(&store),
                content: f.render(),
                store,
                file: f,
                values,
            });
        }
        Ok(out)
    }

    /// Write staged files (each atomically) and remember what they now hold.
    pub fn commit(&self, staged: Vec<Staged>) -> Result<Vec<PathBuf>> {
        let _guard = self.writing.lock().expect("writing");
        let mut written = Vec::new();
        for s in staged {
            crate::render::write_atomic(&s.path, s.content.as_bytes(), None)?;
            (self.debug)(2, &format!("wrote {}", self.rel(&s.path)));
            self.remember(s.store, s.file, s.values);
            written.push(s.path);
        }
        Ok(written)
    }

    /// Take staged content as written elsewhere (e.g. a folder renamed into place later).
    pub fn remember_staged(&self, s: Staged) {
        self.remember(s.store, s.file, s.values);
    }

    fn remember(&self, store: String, file: StoreFile, values: Vec<(Key, Option<Secret>)>) {
        let mut cache = self.values.lock().expect("values");
        for (k, v) in values {
            match v {
                Some(v) => cache.insert((store.clone(), k), v),
                None => cache.remove(&(store.clone(), k)),
            };
        }
        self.files
            .lock()
            .expect("files")
            .insert(store, Arc::new(file));
    }

    /// Store one value (encrypted to every recipient); only its line changes.
    pub fn set(&self, r: &SecretRef, value: &Secret) -> Result<()> {
        self.set_all(&[(r.clone(), value.clone())]).map(|_| ())
    }

    /// Store several values, one atomic write per store file.
    pub fn set_all(&self, items: &[(SecretRef, Secret)]) -> Result<Vec<PathBuf>> {
        let staged = self.stage(items, &[])?;
        self.commit(staged)
    }

    /// Remove a value from its own store (never from `default` through a client); false when
    /// it was not there.
    pub fn remove(&self, r: &SecretRef) -> Result<bool> {
        let (store, key) = self.layers(r)?.remove(0);
        if !self.file(&store)?.contains(&key) {
            return Ok(false);
        }
        let staged = self.stage(&[], std::slice::from_ref(r))?;
        self.commit(staged)?;
        Ok(true)
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

fn check_value(name: &str, v: &Secret) -> Result<()> {
    if v.is_empty() {
        return Err(Error::new(format!("refusing an empty value for `{name}`"))
            .hint(format!("to delete it: scalewize secret rm <client> {name}")));
    }
    if v.expose().contains('\0') {
        return Err(Error::new(format!(
            "the value for `{name}` contains a NUL byte, which no environment variable can hold"
        )));
    }
    Ok(())
}

impl SecretStore {
    /// Decrypt every value of one store and encrypt it again to the current recipients, in
    /// memory. Nothing is written until `commit`, so a value that cannot be decrypted leaves
    /// every file as it was.
    pub fn stage_reencrypt(&self, store_id: &str) -> Result<Option<Staged>> {
        let f = self.file(store_id)?;
        let keys: Vec<Key> = f.keys().cloned().collect();
        if keys.is_empty() {
            return Ok(None);
        }
        let recipients = crypto::parse_recipients(&self.recipients)?;
        let mut next = (*f).clone();
        let mut values = Vec::new();
        for k in keys {
            let v = self.decrypt(store_id, &k)?;
            next.set(&k, crypto::encrypt(&recipients, &v)?);
            values.push((k, Some(v)));
        }
        Ok(Some(Staged {
            store: store_id.to_string(),
            path: self.path_of(store_id),
            content: next.render(),
            file: next,
            values,
        }))
    }
}
