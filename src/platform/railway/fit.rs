//! What a service needs to deploy on Railway, checked before any call; and the credentials it reads.

use crate::model::ServiceSpec;
use crate::platform::Unfit;

/// Environment variables holding credentials for this platform: an account or workspace token,
/// or (refused with an explanation) a project token.
pub const TOKEN_VARS: &[&str] = &[super::TOKEN_ENV, super::PROJECT_TOKEN_ENV];

/// Railway deploys a pinned image or a repository folder (it builds that itself).
pub fn check(spec: &ServiceSpec) -> Result<(), Unfit> {
    if spec.image.is_none() && spec.repo.is_none() {
        return Err(Unfit {
            field: "image",
            problem: format!(
                "{} cannot deploy to Railway: no pinned image or repository",
                spec.key
            ),
            hint: "add a pinned \"image\" (scalewize builds no images) or \"railway\": {\"repo\": \"owner/repo\", \"branch\": \"main\"}".into(),
        });
    }
    Ok(())
}
