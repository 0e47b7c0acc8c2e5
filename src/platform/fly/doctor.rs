//! `scalewize doctor` on Fly: read-only checks, in request order: `GET /v1/apps?org_slug=` (the
//! token works in the org), then without requests: the region every service needs, the request
//! budget (not reported by this API), and the platform lock (`lock.rs`).

use super::FlyPlatform;
use crate::model::ServiceSpec;
use crate::platform::check::Check;

const AREA: &str = "fly";

impl FlyPlatform {
    pub(super) async fn diagnose(&self, specs: &[&ServiceSpec]) -> Vec<Check> {
        let mut out = Vec::new();
        out.push(match self.list_apps().await {
            Ok(apps) => Check::ok(
                AREA,
                "org",
                format!("org {}: the token lists its apps ({} found)", self.org(), apps.len()),
            ),
            Err(e) => Check::problem(
                AREA,
                "org",
                format!("org {}: {}", self.org(), e.message),
                "FLY_ORG (or fly.org) must be an org this token belongs to: `fly orgs list` shows the slugs; an org token comes from `fly tokens create org -o <org>`",
            ),
        });
        let without: Vec<String> = specs
            .iter()
            .filter(|s| self.region_of(s).is_none())
            .map(|s| s.key.to_string())
            .collect();
        out.push(if without.is_empty() {
            let mut r: Vec<String> = specs.iter().filter_map(|s| self.region_of(s)).collect();
            r.sort();
            r.dedup();
            Check::ok(AREA, "region", format!("machines go to {}", if r.is_empty() { "(no services here)".to_string() } else { r.join(", ") }))
        } else {
            Check::problem(
                AREA,
                "region",
                format!("no region for {}", without.join(", ")),
                "set \"fly\": {\"region\": \"iad\"} in scalewize.json (or `region` in the manifest), close to the client's users",
            )
        });
        out.push(Check::ok(
            AREA,
            "rate limit",
            "the Machines API reports no budget; scalewize paces by Fly's documented limits",
        ));
        out.push(Check::ok(
            AREA,
            "lock",
            format!(
                "deploy and destroy hold the platform lock: the app `{}`, created atomically (app names are unique); `scalewize lock status` shows its holder",
                self.lock_app()
            ),
        ));
        out
    }
}
