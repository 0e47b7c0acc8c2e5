//! What a service needs to run on `local`, checked before anything runs; and the credentials
//! `local` needs (none).

use crate::model::{ServiceKind, ServiceSpec};
use crate::platform::Unfit;

/// Environment variables holding credentials for this platform.
pub const TOKEN_VARS: &[&str] = &[];

/// MCP servers run from their manifest's `run` (LibreChat runs from its image through compose).
pub fn check(spec: &ServiceSpec) -> Result<(), Unfit> {
    if spec.kind == ServiceKind::Mcp && spec.local.is_none() {
        return Err(Unfit {
            field: "run",
            problem: format!("{} cannot run on `local`: its manifest has no `run`", spec.key),
            hint: "add \"run\": {\"cargo_bin\": \"<binary>\"} (a member of the root Cargo workspace) or a `command`, or deploy it to another platform with --platform".into(),
        });
    }
    Ok(())
}
