//! One line of `scalewize doctor`: what was checked, what was found, and the fix. Each platform
//! makes its own read-only checks (`Platform::doctor`); the command prints and counts them.

use schemars::JsonSchema;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Ok,
    /// Works, but not as well as it could (LibreChat config-only without Docker, say).
    Warn,
    /// What the selected platforms need is missing: doctor exits 1.
    Problem,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Check {
    /// `railway`, `fly`, `local` or `secrets`.
    pub area: String,
    /// What was checked: `token`, `workspace`, `region`, …
    pub name: String,
    pub verdict: Verdict,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    pub fn ok(area: &str, name: &str, detail: impl Into<String>) -> Check {
        Check::new(area, name, Verdict::Ok, detail, None)
    }
    pub fn warn(
        area: &str,
        name: &str,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Check {
        Check::new(area, name, Verdict::Warn, detail, Some(fix.into()))
    }
    pub fn problem(
        area: &str,
        name: &str,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Check {
        Check::new(area, name, Verdict::Problem, detail, Some(fix.into()))
    }
    /// A problem from an error: its message, and its hint as the fix.
    pub fn from_error(area: &str, name: &str, e: &crate::error::Error) -> Check {
        let fix = e.hint.clone().unwrap_or_else(|| "see the message".into());
        Check::problem(area, name, e.message.clone(), fix)
    }
    fn new(
        area: &str,
        name: &str,
        verdict: Verdict,
        detail: impl Into<String>,
        fix: Option<String>,
    ) -> Check {
        Check {
            area: area.into(),
            name: name.into(),
            verdict,
            detail: detail.into(),
            fix,
        }
    }
}
