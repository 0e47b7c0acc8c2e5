//! The `fly` platform, through the Machines REST API only (notes `fly.md`; no GraphQL).
//!
//! One app per service, named `<prefix>-<owner>-<service>[-<user>]`, holding one machine named
//! after the app. The machine carries scalewize's metadata (owner, service, user, a digest of the
//! non-secret fields, the MCP path, and one fingerprint per secret): that is how scalewize finds
//! its services again (listing machines with metadata filters) and tells what changed without
//! reading a secret back. Secret values go only through the app's secrets API; the version it
//! returns is passed as `min_secrets_version` so a machine never boots with older ones.
//!
//! Every step converges from any partial state (a killed run, a lost response): the app name is
//! deterministic (`name_taken` means "already there"), secrets and IPs are compared before being
//! written, and a machine create whose outcome is unknown is followed by a look (machines by
//! metadata) before any second create; what that does not settle is reported as transient so
//! that the executor observes before running the step again.
//!
//! Environment: `FLY_API_TOKEN` (an org token), `FLY_ORG` (or `fly.org` in scalewize.json),
//! `SCALEWIZE_FLY_API_URL` (default `https://api.machines.dev`); the region comes from the
//! manifest or `fly.region`.
//!
//! Requests per service (all under `/v1`):
//! - create: `POST /apps?wait=true {name, org_slug}` → `GET /apps/{app}` (until visible) →
//!   `POST /apps/{app}/secrets {values}` → `GET /apps/{app}/ip_assignments` → `POST …
//!   {type: v6}`, `POST … {type: shared_v4}` → `POST /apps/{app}/machines {name, region, config,
//!   min_secrets_version}` → `GET …/machines/{id}/wait?state=started` → `GET …/machines/{id}`
//!   (checks passing);
//! - update: `GET /apps/{app}/machines` → `GET /apps/{app}/secrets` → `POST …/secrets` (changed
//!   ones only, if any) → `GET …/ip_assignments` → `POST …/{id}/lease` → `POST …/machines/{id}`
//!   (nonce header; full config, `current_version`, `min_secrets_version`) → `GET …/wait` →
//!   `DELETE …/{id}/lease` → `GET …/machines/{id}`;
//! - delete: `DELETE /apps/{app}?force=true`;
//! - observe (and so a no-op deploy): `GET /apps?org_slug=` and, per candidate app,
//!   `GET /apps/{app}/machines?metadata.scalewize_owner=<owner>`.

mod apps;
mod client;
mod deploy;
mod doctor;
pub mod fit;
mod limits;
mod lock;
mod machine;
mod machine_calls;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use self::client::{Client, Reply, Request};
pub use self::client::{DEFAULT_API_URL, authorization};
use self::machine::{Health, Machine, app_url, port_env};
use super::{Applied, Connection, Platform, Resolved, ResolvedSpec, Step};
use crate::error::{Error, Result};
use crate::model::substitute_own_url;
use crate::model::{Fields, Observed, Op, State};
use crate::model::{ServiceKey, ServiceSpec};
use crate::net::Http;
use crate::net::backoff::{backoff, scaled, time_scale};
use crate::net::retry::WRITE_TRIES;
use crate::workspace::{PlatformName, Workspace, naming};

pub const TOKEN_ENV: &str = "FLY_API_TOKEN";
pub const ORG_ENV: &str = "FLY_ORG";
pub const API_URL_ENV: &str = "SCALEWIZE_FLY_API_URL";

/// Lease TTL in (API) seconds: longer than an update and its wait for `started` usually take.
const LEASE_TTL: u64 = 60;
/// How long a new app may stay invisible (notes §9.1: fly-go's `WaitForApp` waits up to 1 min).
const APP_VISIBLE_WITHIN: Duration = Duration::from_secs(60);
const OBSERVE_CONCURRENCY: usize = 8;

pub struct FlyPlatform {
    client: Arc<Client>,
    prefix: String,
    region: Option<String>,
}

fn env_var(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

impl FlyPlatform {
    pub fn new(ws: &Workspace, conn: &Connection) -> Result<Self> {
        let token = env_var(TOKEN_ENV).ok_or_else(|| {
            Error::new(format!(
                "{TOKEN_ENV} is not set: scalewize needs a Fly.io org token to manage apps"
            ))
            .hint(format!(
                "create one with `fly tokens create org -o <org>` and export it as {TOKEN_ENV} (a deploy token cannot create apps)"
            ))
        })?;
        let org = env_var(ORG_ENV)
            .or_else(|| ws.settings.fly.org.clone())
            .ok_or_else(|| {
                Error::new("no Fly.io organization: scalewize does not know where to create apps")
                    .hint(format!(
                        "set {ORG_ENV}=<org slug>, or \"fly\": {{\"org\": \"<org slug>\"}} in scalewize.json (`fly orgs list` shows the slugs)"
                    ))
            })?;
        let base = env_var(API_URL_ENV).unwrap_or_else(|| DEFAULT_API_URL.to_string());
        let http = Http::new(conn.debug.clone())?;
        Ok(FlyPlatform {
            client: Arc::new(Client::new(http, &base, &token, &org)),
            prefix: ws.settings.prefix.clone(),
            region: ws.settings.fly.region.clone(),
        })
    }

    fn org(&self) -> &str {
        &self.client.org
    }

    /// A call on one of an app's collections (secrets, IPs, machines). Right after an app is
    /// created these can answer 404 for a while even once the app itself answers (notes §9.1:
    /// "machine create right after app create can 404 about half the time"); a 404 there
    /// applied nothing, so it is retried with backoff for as long as an app may take to appear.
    async fn call_in_app(&self, req: &Request) -> Result<Reply> {
        let until = Instant::now() + scaled(APP_VISIBLE_WITHIN);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let r = self.client.call(req).await?;
            if r.status != 404 || Instant::now() >= until {
                return Ok(r);
            }
            tokio::time::sleep(backoff(attempt.min(4), None)).await;
        }
    }

    fn app_name(&self, key: &ServiceKey) -> Result<String> {
        let app = key.global_name(&self.prefix);
        naming::check_platform_name(&app).map_err(|e| {
            Error::new(format!("{key} cannot be a Fly app: {e}")).hint(
                "shorten the client id, server folder or user id, or the workspace `prefix` in scalewize.json",
            )
        })?;
        Ok(app)
    }

    fn region_of(&self, spec: &ServiceSpec) -> Option<String> {
        spec.region.clone().or_else(|| self.region.clone())
    }

    fn no_region(key: &ServiceKey) -> Error {
        Error::new(format!("{key}: no Fly region to create its machine in")).hint(
            "choose the primary region close to your users: \"fly\": {\"region\": \"iad\"} in scalewize.json (or `region` in the manifest); without one, Fly would place machines near whoever runs the deploy",
        )
    }
}

/// The URL clients use: the MCP endpoint, or LibreChat's base URL.
fn service_url(app: &str, path: &str) -> String {
    if path.is_empty() || path == "/" {
        app_url(app)
    } else {
        format!("{}{path}", app_url(app))
    }
}

fn is_name_taken(r: &Reply) -> bool {
    r.status == 422
        && (r.status_field().as_deref() == Some("name_taken")
            || r.error_text().to_ascii_lowercase().contains("taken"))
}

/// The nonce of a lease answer: `data.nonce` (notes §3), or a bare `nonce`.
fn nonce_of(v: &Value) -> Option<String> {
    v.get("data")
        .and_then(|d| d.get("nonce"))
        .or_else(|| v.get("nonce"))
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .map(str::to_string)
}

/// Whether the app has a public v6 address and a (shared or dedicated) v4 one.
fn ip_kinds(ips: &[Value]) -> (bool, bool) {
    let (mut v6, mut v4) = (false, false);
    for ip in ips {
        let addr = ip.get("ip").and_then(Value::as_str).unwrap_or("");
        let flag = |k: &str| ip.get(k).and_then(Value::as_bool).unwrap_or(false);
        let kind = ip.get("type").and_then(Value::as_str);
        if flag("egress") {
            continue;
        }
        match kind {
            Some("v6") => v6 = true,
            Some("v4") | Some("shared_v4") => v4 = true,
            Some(_) => {}
            None if flag("shared") || addr.contains('.') => v4 = true,
            None if addr.contains(':') && !addr.starts_with("fdaa") => v6 = true,
            None => {}
        }
    }
    (v6, v4)
}

fn state_of(m: &Machine) -> (State, Option<String>) {
    match m.state.as_str() {
        "started" => match m.health() {
            Health::Passing => (State::Running, None),
            Health::Critical(why) => (State::Down, Some(why)),
            Health::Pending(why) => (State::Starting, Some(why)),
            Health::NotStarted => (State::Starting, None),
        },
        "stopped" | "stopping" | "suspended" | "suspending" if m.autostops() => (
            State::Running,
            Some("idle: stopped by autostop, starts on the next request".into()),
        ),
        "stopped" | "stopping" | "suspended" | "suspending" | "failed" => {
            (State::Down, Some(format!("machine {}", m.state)))
        }
        other => (State::Starting, Some(format!("machine {other}"))),
    }
}

#[async_trait::async_trait]
impl Platform for FlyPlatform {
    fn name(&self) -> PlatformName {
        PlatformName::Fly
    }

    fn fields(&self, spec: &ServiceSpec, mut base: Fields) -> Fields {
        if let Some(r) = self.region_of(spec) {
            base.insert("region".into(), r);
        }
        let app = spec.key.global_name(&self.prefix);
        substitute_own_url(&mut base, &app_url(&app));
        if let Some(p) = port_env(spec) {
            base.insert("env.PORT".into(), p);
        }
        base
    }

    async fn prepare(&self, specs: &[&ServiceSpec], _progress: &crate::ui::Progress) -> Result<()> {
        // Every name and region is checked before any call.
        for s in specs {
            self.app_name(&s.key)?;
            if self.region_of(s).is_none() {
                return Err(Self::no_region(&s.key));
            }
        }
        Ok(())
    }

    async fn observe(&self, owners: Option<&BTreeSet<String>>) -> Result<Vec<Observed>> {
        let apps = self.list_apps().await?;
        let mut jobs: Vec<(String, Option<String>)> = Vec::new();
        let lock_app = self.lock_app();
        // The lock app holds no service.
        for app in apps.into_iter().filter(|a| *a != lock_app) {
            match owners {
                Some(os) => {
                    for o in os {
                        if app.starts_with(&format!("{}-{o}-", self.prefix)) {
                            jobs.push((app.clone(), Some(o.clone())));
                        }
                    }
                }
                None if app.starts_with(&format!("{}-", self.prefix)) => jobs.push((app, None)),
                None => {}
            }
        }
        let sem = Arc::new(Semaphore::new(OBSERVE_CONCURRENCY));
        let mut set = JoinSet::new();
        for (app, owner) in jobs {
            let sem = sem.clone();
            let this = FlyPlatform {
                client: self.client.clone(),
                prefix: self.prefix.clone(),
                region: self.region.clone(),
            };
            set.spawn(async move {
                let _permit = sem.acquire_owned().await;
                let found = this.list_machines(&app, owner.as_deref()).await;
                (app, found)
            });
        }
        let mut found: BTreeMap<(String, ServiceKey), Vec<Machine>> = BTreeMap::new();
        let mut seen = BTreeSet::new();
        while let Some(joined) = set.join_next().await {
            let (app, machines) = joined.map_err(|e| Error::new(format!("internal error: {e}")))?;
            let Some(machines) = machines? else {
                continue;
            };
            for m in machines {
                let Some(key) = m.key() else { continue };
                // Ours, for this app (metadata copied into another app does not count).
                if key.global_name(&self.prefix) != app
                    || owners.is_some_and(|o| !o.contains(&key.owner))
                    || !seen.insert((app.clone(), m.id.clone()))
                {
                    continue;
                }
                found.entry((app.clone(), key)).or_default().push(m);
            }
        }
        Ok(found
            .into_iter()
            .map(|((app, key), ms)| self.observed(&app, key, ms))
            .collect())
    }

    async fn apply(&self, step: Step<'_>) -> Result<Applied> {
        let app = self.app_name(step.key)?;
        match step.op {
            Op::Delete => {
                // Still only ours? (The plan may be older than what is live now.)
                let Some(machines) = self.list_machines(&app, None).await? else {
                    return Ok(Applied::default()); // already gone
                };
                if let Some(other) = machines.iter().find(|m| m.key().as_ref() != Some(step.key)) {
                    return Err(Error::new(format!(
                        "not deleting the Fly app `{app}`: it now also holds machine {}, which scalewize did not make for {}",
                        other.id, step.key
                    ))
                    .hint("remove that machine, or delete the app yourself"));
                }
                (step.progress)(&format!("deleting app {app}"));
                self.delete_app(&app).await?;
                Ok(Applied::default())
            }
            Op::Create | Op::Update => {
                let spec = step
                    .spec
                    .ok_or_else(|| Error::new(format!("{}: nothing to apply", step.key)))?;
                self.deploy(&app, &step, spec).await
            }
        }
    }

    async fn doctor(&self, specs: &[&ServiceSpec]) -> Vec<crate::platform::check::Check> {
        self.diagnose(specs).await
    }

    async fn acquire_lock(
        &self,
        note: &crate::platform::lock::LockNote,
    ) -> Result<crate::platform::lock::Taken> {
        self.take_lock(note).await
    }

    async fn lock_status(&self) -> Result<crate::platform::lock::LockState> {
        self.read_lock().await
    }

    async fn release_lock(&self) -> Result<bool> {
        self.free_lock().await
    }

    async fn logs(&self, key: &ServiceKey, lines: usize) -> Result<Vec<String>> {
        let _ = lines;
        let app = key.global_name(&self.prefix);
        Err(Error::new(format!(
            "logs of {key} are not available through Fly's Machines API"
        ))
        .hint(format!("read them with flyctl: `fly logs -a {app}`")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ip_kinds_from_listings() {
        let v6 = json!({"ip": "2a09:8280:1::1:2", "shared": false, "egress": false});
        let v4 = json!({"ip": "66.241.124.1", "shared": true});
        let private = json!({"ip": "fdaa:0:1::3"});
        assert_eq!(ip_kinds(&[v6.clone(), v4.clone()]), (true, true));
        assert_eq!(ip_kinds(&[v6]), (true, false));
        assert_eq!(ip_kinds(&[private]), (false, false));
        assert_eq!(ip_kinds(&[json!({"ip": "x", "type": "v6"})]), (true, false));
    }

    #[test]
    fn lease_nonce_is_wrapped() {
        assert_eq!(
            nonce_of(&json!({"status": "success", "data": {"nonce": "abc"}})),
            Some("abc".into())
        );
        assert_eq!(nonce_of(&json!({"nonce": "x"})), Some("x".into()));
        assert_eq!(nonce_of(&json!({"status": "success"})), None);
    }

    #[test]
    fn urls() {
        assert_eq!(service_url("a", "/mcp"), "https://a.fly.dev/mcp");
        assert_eq!(service_url("a", "/"), "https://a.fly.dev");
    }
}
