//! Binding a value to its place: what is encrypted is not the bare value but
//! `\0scalewize-secret-v1\0<store>\0<user>\0<name>\0<value>`, so a ciphertext moved to another
//! line, another user's namespace or another client's store decrypts to a place that does not
//! match the line it sits on, and is refused instead of handing one secret out under another
//! name. (age authenticates the ciphertext but knows nothing of the line it is stored on.)
//!
//! A value can never contain NUL (`secret set` refuses it: no environment variable can hold one),
//! so a plaintext starting with NUL is unambiguously bound; anything else is a value written
//! before binding existed. Those still decrypt (stores keep working) and `secret reencrypt`
//! rewrites them bound.

use super::Secret;
use super::file::Key;

const MAGIC: &str = "\0scalewize-secret-v1\0";

/// The plaintext to encrypt for `value` stored under `key` in `store` (a client id or `default`).
pub fn seal(store: &str, key: &Key, value: &Secret) -> Secret {
    Secret::new(format!(
        "{MAGIC}{store}\0{}\0{}\0{}",
        key.user.as_deref().unwrap_or(""),
        key.name,
        value.expose()
    ))
}

/// A decrypted plaintext, checked against the place it was read from.
#[derive(Debug, PartialEq, Eq)]
pub enum Opened {
    /// Bound to this place: the value.
    Bound(Secret),
    /// Written before values were bound to their names: the value, unchecked.
    Legacy(Secret),
    /// Bound to another place: where it was encrypted for (never the value).
    Misplaced { store: String, key: Key },
    /// Starts like a bound value but is not one.
    Malformed,
}

/// Check `plaintext` (as decrypted from `key`'s line in `store`) and take the value out.
pub fn open(store: &str, key: &Key, plaintext: Secret) -> Opened {
    let Some(rest) = plaintext.expose().strip_prefix(MAGIC) else {
        return Opened::Legacy(plaintext);
    };
    let mut parts = rest.splitn(4, '\0');
    let (Some(s), Some(u), Some(n), Some(v)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Opened::Malformed;
    };
    let user = (!u.is_empty()).then_some(u);
    if s != store || user != key.user.as_deref() || n != key.name {
        return Opened::Misplaced {
            store: s.to_string(),
            key: Key::new(user, n),
        };
    }
    Opened::Bound(Secret::new(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_only_in_its_own_place() {
        let key = Key::new(None, "MONGO_URI");
        let v = Secret::new("mongodb://u:p@h/db");
        let sealed = seal("acme", &key, &v);
        assert_eq!(open("acme", &key, sealed.clone()), Opened::Bound(v.clone()));
        assert_eq!(
            open("acme", &Key::new(None, "JWT_SECRET"), sealed.clone()),
            Opened::Misplaced {
                store: "acme".into(),
                key: key.clone()
            }
        );
        assert!(matches!(
            open("other", &key, sealed.clone()),
            Opened::Misplaced { .. }
        ));
        assert!(matches!(
            open("acme", &Key::new(Some("alice"), "MONGO_URI"), sealed),
            Opened::Misplaced { .. }
        ));
        let alice = Key::new(Some("alice"), "TOKEN");
        let s = seal("acme", &alice, &Secret::new("t=a\0b"));
        assert!(matches!(open("acme", &alice, s), Opened::Bound(_)));
        assert_eq!(
            open("acme", &key, Secret::new("plain old value")),
            Opened::Legacy(Secret::new("plain old value"))
        );
        assert_eq!(
            open("acme", &key, Secret::new(format!("{MAGIC}acme"))),
            Opened::Malformed
        );
    }
}
