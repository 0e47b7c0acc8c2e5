//! The service model, at the bottom of the engine: what a service is (`ServiceSpec`, fully decided
//! by `plan::desired`), what is live (`Observed`), and how both are spelled as comparable fields.
//! Platforms and exporters only translate these; they decide nothing of their own.

pub mod fields;
pub mod observed;
pub mod service;
pub mod tool_surface;

pub use fields::{
    CODE_FIELDS, Fields, KNOWN_AFTER_APPLY, OWN_URL, STATE_FIELD, base_fields, content_digest,
    sha256_hex, size_field, substitute_own_url,
};
pub use observed::{Observed, Op, State};
pub use service::{
    LIBRECHAT, LIBRECHAT_CONFIG_PATH, LocalRun, RepoSource, SHARED_OWNER, ServiceKey, ServiceKind,
    ServiceSpec, SpecValue,
};
