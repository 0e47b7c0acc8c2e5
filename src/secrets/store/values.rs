//! Reading values: overrides, then the store files, decrypted with the identity (loaded once,
//! checked against the recipients and git) and cached; the fingerprint key and the redactor
//! built from every value handed out.

use std::sync::Arc;

use super::super::binding::{self, Opened};
use super::super::crypto::{self, DecryptFailure, GitExposure, Identities};
use super::super::file::Key;
use super::super::fingerprint::{self, Fingerprint};
use super::super::redact::Redactor;
use super::super::{FINGERPRINT_KEY, Secret};
use super::{SecretStore, Source, fingerprint_key_ref, override_var_for};
use crate::error::{Error, Result};
use crate::secrets::{SecretRef, set_command};
use crate::workspace::DEFAULT_CLIENT;

impl SecretStore {
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

    pub(super) fn decrypt(&self, store: &str, key: &Key) -> Result<Secret> {
        self.decrypt_checked(store, key, true)
    }

    /// Decrypt `key`'s line of `store` and check it was encrypted for that line. An unbound
    /// (old-format) value is warned about once per store unless `warn_unbound` is false
    /// (`secret reencrypt`, which is the fix).
    pub(super) fn decrypt_checked(
        &self,
        store: &str,
        key: &Key,
        warn_unbound: bool,
    ) -> Result<Secret> {
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
        let at = match f.line_of(key) {
            Some(n) => format!("{rel}:{n}"),
            None => rel.clone(),
        };
        let what = format!("cannot decrypt `{key}` in {at}");
        let set_again = format!(
            "scalewize secret set {store}{} {} < value.txt",
            key.user
                .as_deref()
                .map(|u| format!(" --user {u}"))
                .unwrap_or_default(),
            key.name
        );
        let ids = self.identities().map_err(|e| {
            Error::new(format!("{what}: {}", e.message))
                .hint(e.hint.unwrap_or_else(|| crypto::IDENTITY_HOW_TO.into()))
        })?;
        let plaintext = crypto::decrypt(&ids, ct).map_err(|f| match f {
            DecryptFailure::NotARecipient => Error::new(format!(
                "{what}: the age identity from {} is not one of the recipients it was encrypted to (a wrong key, or a key added to \"recipients\" after this value was written)",
                ids.origin.describe()
            ))
            .hint(format!(
                "if your public key was added to \"recipients\" recently, someone whose key can decrypt the store must run `scalewize secret reencrypt{}` and commit the result; otherwise use the right identity: {}",
                if store == DEFAULT_CLIENT { String::new() } else { format!(" {store}") },
                crypto::IDENTITY_HOW_TO
            )),
            DecryptFailure::Corrupt(why) => Error::new(format!(
                "{what}: the stored value is damaged ({why})"
            ))
            .hint(format!("restore {rel} from git (`git checkout -- {rel}`), or set the value again: {set_again}")),
            DecryptFailure::NotText => Error::new(format!("{what}: the value is not UTF-8 text")),
        })?;
        let value = match binding::open(store, key, plaintext) {
            Opened::Bound(v) => v,
            Opened::Legacy(v) => {
                if warn_unbound {
                    self.warn_once(format!(
                    "{rel} holds values written before secrets were bound to their names (a line moved by hand would go unnoticed): `scalewize secret reencrypt {store}` upgrades them"
                    ));
                }
                v
            }
            Opened::Misplaced { store: s, key: k } => {
                let (theirs, ours) = if s == store {
                    (format!("`{k}`"), format!("`{key}`"))
                } else {
                    (
                        format!("`{k}` of store `{s}`"),
                        format!("`{key}` of store `{store}`"),
                    )
                };
                return Err(Error::new(format!(
                    "{what}: the ciphertext on this line was encrypted for {theirs}, not for {ours}: the line was moved, swapped or copied by hand"
                ))
                .hint(format!(
                    "restore {rel} from git (`git checkout -- {rel}`), or set the value again: {set_again}"
                )));
            }
            Opened::Malformed => {
                return Err(Error::new(format!(
                    "{what}: the decrypted value is not in scalewize's format (damaged or written by another tool)"
                ))
                .hint(format!("set the value again: {set_again}")));
            }
        };
        (self.debug)(3, &format!("decrypted `{key}` from {rel}"));
        self.values
            .lock()
            .expect("values")
            .insert(cache_key, value.clone());
        Ok(value)
    }

    /// Before writing `r`: every other value of the store file it goes to must decrypt with this
    /// identity (and sit on its own line), so a write never mixes values readable by different
    /// keys into one file. The value being replaced is not checked: writing it is the fix.
    pub fn check_writable(&self, r: &SecretRef) -> Result<()> {
        let (store, own) = self.layers(r)?.remove(0);
        let f = self.file(&store)?;
        let mut failed = Vec::new();
        let mut first: Option<Error> = None;
        for k in f.keys().filter(|k| **k != own) {
            if let Err(e) = self.decrypt(&store, k) {
                failed.push(match f.line_of(k) {
                    Some(n) => format!("`{k}` (line {n})"),
                    None => format!("`{k}`"),
                });
                first.get_or_insert(e);
            }
        }
        let Some(e) = first else { return Ok(()) };
        let rel = self.rel(&self.path_of(&store));
        Err(Error::new(format!(
            "refusing to write to {rel}: {} of its values cannot be read with this identity: {}; the first: {}",
            failed.len(),
            failed.join(", "),
            e.message
        ))
        .hint(e.hint.unwrap_or_else(|| {
            format!("someone who can read the store must run `scalewize secret reencrypt {store}`")
        })))
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
            None => Some((r, super::super::generate::random_hex(32))),
        })
    }
}
