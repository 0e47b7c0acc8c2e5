//! `Secret`: a value that cannot be printed. `Debug` shows a placeholder, there is no `Display`
//! and no `Serialize`, so a secret cannot reach output, logs, `--json` or an error message by
//! accident; the only way to the bytes is the explicit, greppable `expose()`.

use std::fmt;

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Box<str>);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into().into_boxed_str())
    }
    /// The value itself: only for handing it to a platform, a process or an encryptor.
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// `…abcd`: enough to tell two values apart in a conversation, never enough to use one.
    pub fn masked(&self) -> String {
        let n = self.0.chars().count();
        if n < 12 {
            return "…".to_string();
        }
        let tail: String = self.0.chars().skip(n - 4).collect();
        format!("…{tail}")
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        // Best effort: overwrite the bytes before the allocation is freed.
        // SAFETY: writing zero bytes keeps the str valid UTF-8.
        unsafe {
            for b in self.0.as_bytes_mut() {
                std::ptr::write_volatile(b, 0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let s = Secret::new("canary-5f1d9a");
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
        assert!(!format!("{:?}", Some(&s)).contains("canary"));
        assert_eq!(Secret::new("short").masked(), "…");
        assert_eq!(Secret::new("sk-0123456789abcd").masked(), "…abcd");
    }
}
