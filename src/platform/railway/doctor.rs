//! `scalewize doctor` on Railway: read-only checks, in request order: `apiToken` (the token
//! works, and which workspaces it reaches), the workspace scalewize will use, the hourly budget
//! the server reported on those answers, the region, and the platform lock (`lock.rs`).

use serde_json::json;

use super::{RailwayPlatform, ops};
use crate::model::ServiceSpec;
use crate::platform::check::Check;

const AREA: &str = "railway";

impl RailwayPlatform {
    pub(super) async fn diagnose(&self, specs: &[&ServiceSpec]) -> Vec<Check> {
        let mut out = Vec::new();
        match self.api.run(&ops::API_TOKEN, json!({})).await {
            Ok(data) => {
                let n = data["apiToken"]["workspaces"]
                    .as_array()
                    .map_or(0, Vec::len);
                out.push(Check::ok(
                    AREA,
                    "token",
                    format!("RAILWAY_API_TOKEN is an account or workspace token reaching {n} workspace(s)"),
                ));
            }
            Err(e) => {
                out.push(Check::from_error(AREA, "token", &self.error(e)));
                return out;
            }
        }
        out.push(match self.workspace_id().await {
            Ok(w) => Check::ok(AREA, "workspace", format!("projects go to workspace {w}")),
            Err(e) => Check::from_error(AREA, "workspace", &e),
        });
        out.push(match self.api.budget() {
            Some((left, limit)) => Check::ok(
                AREA,
                "rate limit",
                format!("{left} of {limit} requests left in this hour's budget"),
            ),
            None => Check::ok(
                AREA,
                "rate limit",
                "the API sent no budget headers; scalewize paces by the plan in railway.plan",
            ),
        });
        let regions: Vec<String> = specs
            .iter()
            .filter_map(|s| s.region.clone().or_else(|| self.default_region.clone()))
            .collect();
        out.push(if regions.is_empty() {
            Check::ok(
                AREA,
                "region",
                "Railway's default region (set \"railway\": {\"region\": …} in scalewize.json to choose)",
            )
        } else {
            let mut r = regions;
            r.sort();
            r.dedup();
            Check::ok(AREA, "region", format!("set as the CLI does: {}", r.join(", ")))
        });
        out.push(Check::ok(
            AREA,
            "lock",
            format!(
                "deploy and destroy hold the platform lock: the service `lock` in project `{}`, created atomically (service names are unique in a project); `scalewize lock status` shows its holder",
                super::model::project_name(&self.prefix, super::lock::LOCK_OWNER)
            ),
        ));
        out
    }
}
