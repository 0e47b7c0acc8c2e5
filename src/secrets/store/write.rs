//! Writing: encrypt and remove in memory (`stage`), then one atomic write per store file
//! (`commit`); re-encryption to the current recipients.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use super::super::Secret;
use super::super::file::{Key, StoreFile};
use super::super::{binding, crypto};
use super::SecretStore;
use crate::error::{Error, Result};
use crate::secrets::SecretRef;

/// A store file's new content, not yet written (see `SecretStore::stage`).
pub struct Staged {
    pub store: String,
    pub path: PathBuf,
    pub content: String,
    file: StoreFile,
    values: Vec<(Key, Option<Secret>)>,
}

impl SecretStore {
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
                        let sealed = binding::seal(&store, &key, v);
                        f.set(&key, crypto::encrypt(&recipients, &sealed)?);
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
        for s in &staged {
            self.check_inside(&s.path)?;
        }
        for s in staged {
            crate::fs::write_atomic(&s.path, s.content.as_bytes(), None)?;
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
            let v = self.decrypt_checked(store_id, &k, false)?;
            // Old unbound values come out bound: this is how a store is upgraded.
            let sealed = binding::seal(store_id, &k, &v);
            next.set(&k, crypto::encrypt(&recipients, &sealed)?);
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
