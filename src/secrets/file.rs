//! The store file, `client-configs/<client>/secrets.env`: a comment header, then one line per
//! secret, sorted: `NAME=age:<base64 of the binary age ciphertext>`, or `<user>/NAME=age:…` in a
//! user's namespace. Names stay readable so a git diff shows which secret changed; values never
//! do. Editing keeps every other line byte for byte (age ciphertexts are randomized, so
//! re-encrypting an unchanged value would show up as a change).
//!
//! Parse errors name the file and line, never the line's text: a hand-edited file may hold a
//! plaintext value.

use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::error::{Diagnostic, Location};
use crate::workspace::naming;

/// Prefix of every stored value.
pub const VALUE_PREFIX: &str = "age:";

/// Where a value sits in one store file: a name, optionally in a user's namespace.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Key {
    pub user: Option<String>,
    pub name: String,
}

impl Key {
    pub fn new(user: Option<&str>, name: &str) -> Key {
        Key {
            user: user.map(str::to_string),
            name: name.to_string(),
        }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.user {
            Some(u) => write!(f, "{u}/{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// A secret's name: letters, digits and `_`, not starting with a digit (an environment variable).
pub fn is_secret_name(name: &str) -> bool {
    naming::is_env_name(name) && name.len() <= 128
}

/// Why a name is refused. The name itself is not repeated: a value typed where a name belongs
/// must not end up in a terminal log.
pub fn secret_name_error() -> String {
    "invalid secret name: use letters, digits and `_`, not starting with a digit, at most 128 characters (e.g. `MONGO_URI`); the name given is not repeated here in case it was a value".to_string()
}

#[derive(Clone, Debug)]
enum Line {
    /// A comment or blank line, kept as written.
    Other(String),
    Entry {
        key: Key,
        ciphertext: Vec<u8>,
        raw: String,
    },
}

/// One parsed store file.
#[derive(Clone, Debug)]
pub struct StoreFile {
    pub path: PathBuf,
    /// What the header calls the store (`acme`, `default`).
    store: String,
    lines: Vec<Line>,
}

impl StoreFile {
    /// An empty store (a file that does not exist yet).
    pub fn empty(path: &Path, store: &str) -> StoreFile {
        StoreFile {
            path: path.to_path_buf(),
            store: store.to_string(),
            lines: Vec::new(),
        }
    }

    /// Read a store; a missing file is an empty store.
    pub fn load(path: &Path, store: &str) -> Result<StoreFile, Diagnostic> {
        match std::fs::read(path) {
            Ok(bytes) => {
                let text = String::from_utf8(bytes).map_err(|_| {
                    Diagnostic::error(Location::file(path), "the secret store is not UTF-8 text")
                        .hint(repair_hint(store))
                })?;
                StoreFile::parse(&text, path, store)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(StoreFile::empty(path, store)),
            Err(e) => Err(Diagnostic::error(
                Location::file(path),
                format!("cannot read the secret store: {e}"),
            )),
        }
    }

    pub fn parse(text: &str, path: &Path, store: &str) -> Result<StoreFile, Diagnostic> {
        let mut lines = Vec::new();
        let mut seen: std::collections::HashMap<Key, usize> = Default::default();
        for (i, raw) in text.lines().enumerate() {
            let n = i + 1;
            let at = || Location::file(path).line_col(n, 1);
            let trimmed = raw.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                lines.push(Line::Other(raw.to_string()));
                continue;
            }
            let bad = |what: &str| {
                Diagnostic::error(at(), format!("{what}; expected `NAME=age:<ciphertext>` or `<user>/NAME=age:<ciphertext>` (the line's text is not shown, it may hold a value)"))
                    .hint(repair_hint(store))
            };
            let Some((k, v)) = raw.split_once('=') else {
                return Err(bad("not a store line"));
            };
            let key = match k.split_once('/') {
                Some((u, name)) => {
                    if naming::check_user_id(u).is_err() {
                        return Err(bad("invalid user id before `/`"));
                    }
                    Key::new(Some(u), name)
                }
                None => Key::new(None, k),
            };
            if !is_secret_name(&key.name) {
                return Err(bad("invalid secret name"));
            }
            let Some(b64) = v.strip_prefix(VALUE_PREFIX) else {
                return Err(bad(&format!(
                    "the value of `{key}` is not encrypted (it does not start with `{VALUE_PREFIX}`)"
                )));
            };
            let ciphertext = STANDARD
                .decode(b64.trim_end())
                .map_err(|_| bad(&format!("the value of `{key}` is not valid base64")))?;
            if let Some(first) = seen.insert(key.clone(), n) {
                return Err(Diagnostic::error(
                    at(),
                    format!("`{key}` appears twice (lines {first} and {n})"),
                )
                .hint(format!(
                    "remove one of the two lines; `scalewize secret set {store} {}` then writes a fresh value",
                    key.name
                )));
            }
            lines.push(Line::Entry {
                key,
                ciphertext,
                raw: raw.to_string(),
            });
        }
        Ok(StoreFile {
            path: path.to_path_buf(),
            store: store.to_string(),
            lines,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.keys().next().is_none()
    }

    pub fn keys(&self) -> impl Iterator<Item = &Key> {
        self.lines.iter().filter_map(|l| match l {
            Line::Entry { key, .. } => Some(key),
            Line::Other(_) => None,
        })
    }

    pub fn contains(&self, key: &Key) -> bool {
        self.keys().any(|k| k == key)
    }

    pub fn ciphertext(&self, key: &Key) -> Option<&[u8]> {
        self.lines.iter().find_map(|l| match l {
            Line::Entry {
                key: k, ciphertext, ..
            } if k == key => Some(ciphertext.as_slice()),
            _ => None,
        })
    }

    /// The 1-based line `key` is on.
    pub fn line_of(&self, key: &Key) -> Option<usize> {
        self.lines
            .iter()
            .position(|l| matches!(l, Line::Entry { key: k, .. } if k == key))
            .map(|i| i + 1)
    }

    /// Put `ciphertext` under `key`: its line is replaced in place, or a new line is inserted at
    /// its sorted position. Every other line stays as it was.
    pub fn set(&mut self, key: &Key, ciphertext: Vec<u8>) {
        let raw = format!("{key}={VALUE_PREFIX}{}", STANDARD.encode(&ciphertext));
        let entry = Line::Entry {
            key: key.clone(),
            ciphertext,
            raw,
        };
        if let Some(slot) = self
            .lines
            .iter_mut()
            .find(|l| matches!(l, Line::Entry { key: k, .. } if k == key))
        {
            *slot = entry;
            return;
        }
        if self.lines.is_empty() {
            self.lines = header(&self.store)
                .lines()
                .map(|l| Line::Other(l.to_string()))
                .collect();
        }
        let sort_key = key.to_string();
        let pos = self
            .lines
            .iter()
            .position(|l| matches!(l, Line::Entry { key: k, .. } if k.to_string() > sort_key))
            .unwrap_or_else(|| {
                // After the last entry (or the header), before trailing blank lines.
                let last_entry = self
                    .lines
                    .iter()
                    .rposition(|l| matches!(l, Line::Entry { .. }));
                match last_entry {
                    Some(i) => i + 1,
                    None => self.lines.len(),
                }
            });
        self.lines.insert(pos, entry);
    }

    /// Remove `key`'s line; false when it was not there.
    pub fn remove(&mut self, key: &Key) -> bool {
        let before = self.lines.len();
        self.lines
            .retain(|l| !matches!(l, Line::Entry { key: k, .. } if k == key));
        self.lines.len() != before
    }

    /// The file's text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for l in &self.lines {
            match l {
                Line::Other(raw) | Line::Entry { raw, .. } => out.push_str(raw),
            }
            out.push('\n');
        }
        out
    }
}

fn repair_hint(store: &str) -> String {
    format!(
        "this file is written by `scalewize secret set|rm {store} NAME`: restore it from git (`git checkout -- client-configs/{store}/secrets.env`), or remove the broken line and set that secret again (`scalewize secret set {store} NAME < value.txt`)"
    )
}

/// The comment at the top of a new store file.
pub fn header(store: &str) -> String {
    format!(
        "# scalewize secret store of `{store}`: one line per secret, NAME=age:<value encrypted with age\n\
         # to the \"recipients\" in scalewize.json>; <user>/NAME for one end user's secrets.\n\
         # Names are readable so a git diff shows which secret changed; values are not.\n\
         # Edit with `scalewize secret set|rm {store} NAME` (the value is read from stdin), never by hand.\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path() -> PathBuf {
        PathBuf::from("client-configs/acme/secrets.env")
    }

    #[test]
    fn set_inserts_sorted_and_keeps_other_lines() {
        let mut f = StoreFile::empty(&path(), "acme");
        f.set(&Key::new(None, "MONGO_URI"), b"m".to_vec());
        f.set(&Key::new(None, "CREDS_KEY"), b"c".to_vec());
        f.set(&Key::new(Some("alice"), "TOKEN"), b"t".to_vec());
        let text = f.render();
        let entries: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            entries,
            [
                "CREDS_KEY=age:Yw==",
                "MONGO_URI=age:bQ==",
                "alice/TOKEN=age:dA=="
            ]
        );
        assert!(text.starts_with("# scalewize secret store of `acme`"));

        let mut g = StoreFile::parse(&text, &path(), "acme").unwrap();
        g.set(&Key::new(None, "JWT_SECRET"), b"j".to_vec());
        let rendered = g.render();
        let changed: Vec<_> = similar::TextDiff::from_lines(&text, &rendered)
            .iter_all_changes()
            .filter(|c| c.tag() != similar::ChangeTag::Equal)
            .map(|c| c.to_string())
            .collect();
        assert_eq!(changed, ["JWT_SECRET=age:ag==\n"]);
        assert!(g.remove(&Key::new(None, "JWT_SECRET")));
        assert_eq!(g.render(), text);
        assert!(!g.remove(&Key::new(None, "JWT_SECRET")));
    }

    #[test]
    fn parse_errors_never_show_the_line() {
        for text in [
            "MONGO_URI=mongodb://user:hunter2@db\n",
            "hunter2\n",
            "bad name=age:AAAA\n",
            "Alice!/X=age:AAAA\n",
            "X=age:hunter2!!\n",
        ] {
            let d = StoreFile::parse(text, &path(), "acme").unwrap_err();
            let shown = d.render(None);
            assert!(!shown.contains("hunter2"), "{shown}");
            assert_eq!(d.location.line, Some(1), "{shown}");
        }
        let d = StoreFile::parse("X=age:AA==\nX=age:AA==\n", &path(), "acme").unwrap_err();
        assert!(
            d.message.contains("appears twice (lines 1 and 2)"),
            "{}",
            d.message
        );
    }
}
