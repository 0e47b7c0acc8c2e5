//! What a service needs to deploy on Fly, checked before any call; and the credentials it reads.

use crate::model::ServiceSpec;
use crate::platform::Unfit;

/// Environment variables holding credentials for this platform (an org token).
pub const TOKEN_VARS: &[&str] = &[super::TOKEN_ENV];

/// Fly Machines run a pinned image; scalewize builds none.
pub fn check(spec: &ServiceSpec) -> Result<(), Unfit> {
    if spec.image.is_none() {
        return Err(Unfit {
            field: "image",
            problem: format!("{} cannot deploy to Fly: no pinned image", spec.key),
            hint: "add a pinned \"image\" (tag or digest); scalewize builds no images".into(),
        });
    }
    Ok(())
}
