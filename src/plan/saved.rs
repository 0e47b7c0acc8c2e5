//! Saved plans (`diff --out plan.json`, `deploy --plan plan.json`): reading one back, and
//! refusing it once anything it was computed from has moved.

use std::path::Path;

use super::{PLAN_VERSION, Plan};
use crate::error::{Error, Result};

impl Plan {
    /// Read a plan written by `diff --out`; a file of another format is refused with how to redo it.
    pub fn load(path: &Path) -> Result<Plan> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io("read", path, e))?;
        let p: Plan = serde_json::from_str(&text).map_err(|e| {
            Error::new(format!("{} is not a scalewize plan: {e}", path.display()))
                .hint("create one with `scalewize diff --out plan.json`")
        })?;
        if p.version != PLAN_VERSION {
            return Err(Error::new(format!(
                "{} is a plan of format {}, this scalewize reads {PLAN_VERSION}",
                path.display(),
                p.version,
            ))
            .hint("run `scalewize diff --out <file>` again with this scalewize"));
        }
        Ok(p)
    }

    /// A saved plan applies only while nothing it was computed from has moved.
    pub fn check_still_applies(&self, now: &Plan) -> Result<()> {
        if self.inputs_digest != now.inputs_digest {
            return Err(Error::new("the saved plan is out of date: the configuration, templates, manifests or secrets changed since it was made")
            .hint("run `scalewize diff --out <file>` again, review it, then deploy that plan"));
        }
        if self.observed_digest != now.observed_digest {
            return Err(Error::new(
                "the saved plan is out of date: what is live changed since it was made",
            )
            .hint("run `scalewize diff --out <file>` again, review it, then deploy that plan"));
        }
        if self.actions != now.actions {
            return Err(
                Error::new("the saved plan no longer matches what deploy would do")
                    .hint("run `scalewize diff --out <file>` again"),
            );
        }
        Ok(())
    }
}
