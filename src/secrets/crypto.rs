//! age: recipients (public keys, from `scalewize.json`), identities (secret keys, from the
//! environment or a key file), encryption and decryption of one value.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use age::secrecy::ExposeSecret;
use age::x25519;

use super::Secret;
use crate::error::{Error, Result};

/// How to provide an identity: the three ways, in lookup order.
pub const IDENTITY_HOW_TO: &str = "provide the age identity (secret key) that decrypts the store, in one of three ways: \
set SCALEWIZE_AGE_KEY to the key itself (the AGE-SECRET-KEY-1… line); or SCALEWIZE_AGE_KEY_FILE to a file holding it; \
or \"identity_file\" in scalewize.json (a path relative to the workspace root). Its public key must be one of \"recipients\" in scalewize.json. \
`scalewize secret keygen --out <file>` creates a key pair";

/// How to get started when no recipients are configured.
pub const RECIPIENTS_HOW_TO: &str = "create a key pair with `scalewize secret keygen --out ~/.config/scalewize/age-identity.txt` (or `age-keygen`), \
add the public key (age1…) it prints to \"recipients\" in scalewize.json at the workspace root, and point SCALEWIZE_AGE_KEY_FILE at the identity file";

/// Where the identity comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityOrigin {
    /// `SCALEWIZE_AGE_KEY` holds the key itself.
    EnvKey,
    /// `SCALEWIZE_AGE_KEY_FILE` names a file.
    EnvFile(PathBuf),
    /// `identity_file` in `scalewize.json` (resolved against the root).
    Setting(PathBuf),
}

impl IdentityOrigin {
    pub fn describe(&self) -> String {
        match self {
            IdentityOrigin::EnvKey => "SCALEWIZE_AGE_KEY".to_string(),
            IdentityOrigin::EnvFile(p) => format!("SCALEWIZE_AGE_KEY_FILE ({})", p.display()),
            IdentityOrigin::Setting(p) => {
                format!("\"identity_file\" in scalewize.json ({})", p.display())
            }
        }
    }
    pub fn file(&self) -> Option<&Path> {
        match self {
            IdentityOrigin::EnvKey => None,
            IdentityOrigin::EnvFile(p) | IdentityOrigin::Setting(p) => Some(p),
        }
    }
}

/// Loaded identities (a key file may hold several).
pub struct Identities {
    pub origin: IdentityOrigin,
    keys: Vec<x25519::Identity>,
}

impl std::fmt::Debug for Identities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identities")
            .field("origin", &self.origin)
            .field("public_keys", &self.public_keys())
            .finish()
    }
}

impl Identities {
    /// The public keys of these identities, `age1…`.
    pub fn public_keys(&self) -> Vec<String> {
        self.keys
            .iter()
            .map(|k| k.to_public().to_string())
            .collect()
    }
}

/// Parse identities from text (`age-keygen` output: comments and `AGE-SECRET-KEY-1…` lines).
/// Errors name the line number only.
pub fn parse_identities(text: &str, origin: IdentityOrigin) -> Result<Identities> {
    let mut keys = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match x25519::Identity::from_str(line) {
            Ok(k) => keys.push(k),
            Err(_) => {
                return Err(Error::new(format!(
                    "{} does not hold a valid age identity (line {} is not an AGE-SECRET-KEY-1… key; its text is not shown)",
                    origin.describe(),
                    i + 1
                ))
                .hint(IDENTITY_HOW_TO));
            }
        }
    }
    if keys.is_empty() {
        return Err(Error::new(format!(
            "{} holds no age identity (no AGE-SECRET-KEY-1… line)",
            origin.describe()
        ))
        .hint(IDENTITY_HOW_TO));
    }
    Ok(Identities { origin, keys })
}

pub fn load_identities(origin: IdentityOrigin, env_key: Option<&Secret>) -> Result<Identities> {
    match &origin {
        IdentityOrigin::EnvKey => {
            let text = env_key.map(Secret::expose).unwrap_or_default().to_string();
            parse_identities(&text, origin)
        }
        IdentityOrigin::EnvFile(p) | IdentityOrigin::Setting(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| {
                Error::new(format!(
                    "cannot read the age identity named by {}: {e}",
                    origin.describe()
                ))
                .hint(IDENTITY_HOW_TO)
            })?;
            let text = Secret::new(text);
            parse_identities(text.expose(), origin)
        }
    }
}

/// Parse the workspace's recipients; none is an error that says how to create a key.
pub fn parse_recipients(list: &[String]) -> Result<Vec<x25519::Recipient>> {
    if list.is_empty() {
        return Err(Error::new(
            "no age recipients are configured, so secrets cannot be encrypted (\"recipients\" in scalewize.json is empty or missing)",
        )
        .hint(RECIPIENTS_HOW_TO));
    }
    list.iter()
        .enumerate()
        .map(|(i, r)| {
            x25519::Recipient::from_str(r.trim()).map_err(|e| {
                Error::new(format!(
                    "scalewize.json: recipients[{i}] ({r:?}) is not an age public key: {e}"
                ))
                .hint("an age public key looks like age1… (62 characters); `scalewize secret keygen` prints one")
            })
        })
        .collect()
}

/// Encrypt one value to every recipient: the binary age format.
pub fn encrypt(recipients: &[x25519::Recipient], value: &Secret) -> Result<Vec<u8>> {
    let encryptor =
        age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
            .map_err(|e| Error::new(format!("cannot encrypt: {e}")))?;
    let mut out = Vec::with_capacity(value.expose().len() + 128 * recipients.len());
    let mut w = encryptor
        .wrap_output(&mut out)
        .map_err(|e| Error::new(format!("cannot encrypt: {e}")))?;
    w.write_all(value.expose().as_bytes())
        .and_then(|_| w.finish().map(|_| ()))
        .map_err(|e| Error::new(format!("cannot encrypt: {e}")))?;
    Ok(out)
}

/// How many X25519 recipients a ciphertext was encrypted to, read from its header (no key
/// needed; age's randomised "grease" stanzas are not counted). `None` when it is not age.
pub fn x25519_recipients(ciphertext: &[u8]) -> Option<usize> {
    let rest = ciphertext.strip_prefix(b"age-encryption.org/v1\n")?;
    let end = rest.windows(4).position(|w| w == b"\n---")?;
    Some(
        rest[..end]
            .split(|&b| b == b'\n')
            .filter(|l| l.starts_with(b"-> X25519 "))
            .count(),
    )
}

/// Why a value could not be decrypted (never anything about the value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecryptFailure {
    /// The identity is not one of the recipients the value was encrypted to.
    NotARecipient,
    /// The stored ciphertext is damaged.
    Corrupt(String),
    /// The plaintext is not UTF-8.
    NotText,
}

pub fn decrypt(ids: &Identities, ciphertext: &[u8]) -> std::result::Result<Secret, DecryptFailure> {
    let d = age::Decryptor::new_buffered(ciphertext)
        .map_err(|e| DecryptFailure::Corrupt(e.to_string()))?;
    let mut r = d
        .decrypt(ids.keys.iter().map(|k| k as &dyn age::Identity))
        .map_err(|e| match e {
            age::DecryptError::NoMatchingKeys => DecryptFailure::NotARecipient,
            other => DecryptFailure::Corrupt(other.to_string()),
        })?;
    let mut buf = Vec::new();
    r.read_to_end(&mut buf)
        .map_err(|e| DecryptFailure::Corrupt(e.to_string()))?;
    let text = String::from_utf8(buf).map_err(|e| {
        let mut bytes = e.into_bytes();
        bytes.iter_mut().for_each(|b| *b = 0);
        DecryptFailure::NotText
    })?;
    Ok(Secret::new(text))
}

/// A new key pair: the identity file's text (with comments) and the public key.
pub fn keygen() -> (Secret, String) {
    let id = x25519::Identity::generate();
    let public = id.to_public().to_string();
    let text = format!(
        "# age identity created by `scalewize secret keygen`\n# public key: {public}\n{}\n",
        id.to_string().expose_secret()
    );
    (Secret::new(text), public)
}

/// Whether git would publish a file: committed (in the index), or not ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GitExposure {
    Tracked,
    NotIgnored,
}

/// How git sees `path`: `None` outside a repository or when the file is ignored.
pub fn git_exposure(path: &Path) -> Option<GitExposure> {
    let path = path.canonicalize().ok()?;
    let repo = git2::Repository::discover(path.parent()?).ok()?;
    let workdir = repo.workdir()?.canonicalize().ok()?;
    let rel = path.strip_prefix(&workdir).ok()?;
    let index = repo.index().ok()?;
    if index.get_path(rel, 0).is_some() {
        return Some(GitExposure::Tracked);
    }
    match repo.status_should_ignore(rel) {
        Ok(true) => None,
        Ok(false) => Some(GitExposure::NotIgnored),
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_wrong_identity() {
        let (id_text, public) = keygen();
        let ids = parse_identities(id_text.expose(), IdentityOrigin::EnvKey).unwrap();
        assert_eq!(ids.public_keys(), std::slice::from_ref(&public));
        let recipients = parse_recipients(&[public]).unwrap();
        let value = Secret::new("mongodb://u:p@h/db");
        let a = encrypt(&recipients, &value).unwrap();
        let b = encrypt(&recipients, &value).unwrap();
        assert_ne!(a, b, "age ciphertexts are randomized");
        assert_eq!(decrypt(&ids, &a).unwrap(), value);

        let (other, _) = keygen();
        let other = parse_identities(other.expose(), IdentityOrigin::EnvKey).unwrap();
        assert_eq!(decrypt(&other, &a), Err(DecryptFailure::NotARecipient));
        assert!(matches!(
            decrypt(&ids, b"garbage"),
            Err(DecryptFailure::Corrupt(_))
        ));
    }

    #[test]
    fn bad_identities_and_recipients_say_how_to_fix() {
        let e = parse_identities("AGE-SECRET-KEY-1NOTAKEY\n", IdentityOrigin::EnvKey).unwrap_err();
        assert!(e.message.contains("line 1"), "{e}");
        assert!(!e.message.contains("NOTAKEY"), "{e}");
        assert!(e.hint.unwrap().contains("SCALEWIZE_AGE_KEY_FILE"));
        let e = parse_identities("# only a comment\n", IdentityOrigin::EnvKey).unwrap_err();
        assert!(e.message.contains("holds no age identity"), "{e}");
        let e = parse_recipients(&[]).unwrap_err();
        assert!(e.hint.unwrap().contains("secret keygen"));
        assert!(parse_recipients(&["age1nope".into()]).is_err());
    }
}
