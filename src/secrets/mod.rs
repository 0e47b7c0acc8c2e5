//! Secrets: the unprintable `Secret` type, the encrypted store (`client-configs/<client>/secrets.env`,
//! age-encrypted to the workspace's recipients), fingerprints, generated credentials, what each
//! client needs, and redaction for debug output.
//!
//! Values never reach stdout, stderr, logs, `--json`, error messages or files other than the
//! store (where they are encrypted): `Secret` has no `Display` and no `Serialize`, errors name
//! secrets but never show them, and `tests/no_secret_leaks.rs` plants canary values and greps
//! every output and every file for them.

mod binding;
mod crypto;
mod file;
mod fingerprint;
pub mod generate;
pub mod redact;
mod scope;
mod secret;
mod source;
mod store;

pub use crypto::{
    GitExposure, IDENTITY_HOW_TO, IdentityOrigin, RECIPIENTS_HOW_TO, git_exposure, keygen,
    parse_recipients,
};
pub use file::{Key, StoreFile, is_secret_name, secret_name_error};
pub use fingerprint::Fingerprint;
pub use redact::{Redactor, redact_headers};
pub use scope::{SecretRef, SecretScope, set_command, store_path};
pub use secret::Secret;
pub use source::SecretSource;
pub use store::{Found, SecretStore, Source, Staged, check_ref, fingerprint_key_ref, override_var};

/// The store file in each client folder (and in `default`, the shared store).
pub const STORE_FILE: &str = "secrets.env";
/// The workspace key fingerprints are keyed by; lives in the shared store.
pub const FINGERPRINT_KEY: &str = "SCALEWIZE_FINGERPRINT_KEY";
/// Prefix of the environment variables that override one value for one run.
pub const OVERRIDE_PREFIX: &str = "SCALEWIZE_SECRET_";
