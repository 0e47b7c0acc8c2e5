//! Secrets: the unprintable `Secret` type, the encrypted store, fingerprints and generation.

mod secret;

pub use secret::Secret;
