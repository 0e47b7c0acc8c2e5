//! `doctor --json`: every check with its verdict and fix.

use schemars::JsonSchema;
use serde::Serialize;

use crate::platform::check::Check;

#[derive(Serialize, JsonSchema)]
pub struct DoctorOutput {
    /// No check is a `problem` (the exit code is 1 otherwise).
    pub ok: bool,
    pub checks: Vec<Check>,
}
