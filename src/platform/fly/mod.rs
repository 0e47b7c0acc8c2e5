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

mod client;
mod limits;
mod machine;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use self::client::{Client, Reply, Request, unexpected};
pub use self::client::{DEFAULT_API_URL, authorization};
use self::limits::Action;
use self::machine::{
    CreateRequest, MACHINES_FIELD, META_SPEC, Machine, MachineConfig, UpdateRequest, app_url,
    build_config, fp_key, list_of, port_env, spec_digest,
};
use super::{
    Applied, Connection, Fields, Observed, Op, Platform, Resolved, ResolvedSpec, State, Step,
};
use crate::apply::{backoff, scaled, time_scale};
use crate::error::{Error, Result};
use crate::net::Http;
use crate::plan::OWN_URL;
use crate::plan::service::{ServiceKey, ServiceSpec};
use crate::workspace::{PlatformName, Workspace, naming};

pub const TOKEN_ENV: &str = "FLY_API_TOKEN";
pub const ORG_ENV: &str = "FLY_ORG";
pub const API_URL_ENV: &str = "SCALEWIZE_FLY_API_URL";

/// Lease TTL in (API) seconds: longer than an update and its wait for `started` usually take.
const LEASE_TTL: u64 = 60;
/// How long a new app may stay invisible (notes §9.1: fly-go's `WaitForApp` waits up to 1 min).
const APP_VISIBLE_WITHIN: Duration = Duration::from_secs(60);
/// Tries of a write whose outcome was unknown, verified by a read in between.
const WRITE_TRIES: u32 = 4;
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

    // ---------------------------------------------------------------------------------------
    // Apps
    // ---------------------------------------------------------------------------------------

    async fn list_apps(&self) -> Result<Vec<String>> {
        let req = Request::get(Action::ListApps, self.org(), "/v1/apps".into())
            .query("org_slug", self.org());
        let r = self.client.call(&req).await?;
        if r.status == 404 {
            return Err(Error::new(format!(
                "Fly organization `{}` not found: {}",
                self.org(),
                r.error_text()
            ))
            .hint(format!(
                "check {ORG_ENV} or \"fly\": {{\"org\": …}} in scalewize.json (`fly orgs list` shows the slugs)"
            )));
        }
        if !r.ok() {
            return Err(unexpected(
                &format!("listing the apps of {}", self.org()),
                &r,
            ));
        }
        Ok(list_of(r.value(), "apps")
            .iter()
            .filter_map(|a| a.get("name").and_then(Value::as_str).map(str::to_string))
            .collect())
    }

    fn taken_elsewhere(&self, app: &str) -> Error {
        Error::new(format!(
            "the Fly app name `{app}` is taken by another organization (app names are global)"
        ))
        .hint(format!(
            "set a different `prefix` in scalewize.json (now \"{}\") so that every name scalewize creates is yours",
            self.prefix
        ))
    }

    /// `POST /v1/apps`, converging: `name_taken` means it exists (ours or not: the caller looks).
    /// Returns whether this call created it (so it is known to be empty).
    async fn ensure_app(&self, app: &str, step: &Step<'_>) -> Result<bool> {
        // notes §2: `name` (spec26/fly-go), not the docs' `app_name`.
        let body = json!({"name": app, "org_slug": self.org()});
        let mut created = false;
        for attempt in 1..=WRITE_TRIES {
            // fly-go creates with `?wait=true` (notes §2, §9.1).
            let req = Request::post(Action::CreateApp, app, "/v1/apps".into(), body.clone())
                .query("wait", "true");
            match self.client.call(&req).await {
                Ok(r) if r.ok() => {
                    created = true;
                    (step.progress)(&format!("created app {app}"));
                    break;
                }
                Ok(r) if is_name_taken(&r) => break,
                Ok(r) => return Err(unexpected(&format!("creating app {app}"), &r)),
                Err(e) if e.is_transient() && attempt < WRITE_TRIES => {
                    // Unknown outcome: creating again is safe, `name_taken` will tell.
                    tokio::time::sleep(backoff(attempt, None)).await;
                }
                Err(e) => return Err(e),
            }
        }
        self.wait_app_visible(app, step).await?;
        Ok(created)
    }

    /// `GET /v1/apps/{app}` until it answers (notes §9.1: 404 right after create).
    async fn wait_app_visible(&self, app: &str, step: &Step<'_>) -> Result<()> {
        let until = (Instant::now() + scaled(APP_VISIBLE_WITHIN)).min(step.deadline);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let req = Request::get(Action::GetApp, app, format!("/v1/apps/{app}"));
            let r = self.client.call(&req).await?;
            match r.status {
                200..=299 => {
                    let org = r.value()["organization"]["slug"]
                        .as_str()
                        .map(str::to_string);
                    if org.is_some_and(|o| o != self.org()) {
                        return Err(self.taken_elsewhere(app));
                    }
                    return Ok(());
                }
                403 => return Err(self.taken_elsewhere(app)),
                // fly-go's `WaitForApp` retries 404 and 401 on a new app (notes §9.1).
                401 | 404 if Instant::now() < until => {
                    if attempt == 1 {
                        (step.progress)(&format!("waiting for app {app} to become visible"));
                    }
                    tokio::time::sleep(backoff(attempt.min(4), None)).await;
                }
                401 | 404 => {
                    return Err(Error::transient(
                        format!("app {app} is still not visible after it was created"),
                        None,
                    ));
                }
                _ => return Err(unexpected(&format!("reading app {app}"), &r)),
            }
        }
    }

    async fn delete_app(&self, app: &str) -> Result<()> {
        for attempt in 1..=WRITE_TRIES {
            let req = Request::delete(Action::DeleteApp, app, format!("/v1/apps/{app}"))
                .query("force", "true");
            match self.client.call(&req).await {
                Ok(r) if r.ok() || r.status == 404 => return Ok(()),
                Ok(r) => return Err(unexpected(&format!("deleting app {app}"), &r)),
                Err(e) if e.is_transient() => {
                    tokio::time::sleep(backoff(attempt, None)).await;
                    let req = Request::get(Action::GetApp, app, format!("/v1/apps/{app}"));
                    if let Ok(r) = self.client.call(&req).await
                        && r.status == 404
                    {
                        return Ok(());
                    }
                    if attempt == WRITE_TRIES {
                        return Err(e);
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Err(Error::transient(
            format!("deleting app {app}: no answer"),
            None,
        ))
    }

    // ---------------------------------------------------------------------------------------
    // Machines
    // ---------------------------------------------------------------------------------------

    /// Live machines of `app` (`None`: the app does not answer, 404), optionally only those with
    /// `metadata.scalewize_owner = owner` (notes §3: metadata filters are exact matches).
    async fn list_machines(&self, app: &str, owner: Option<&str>) -> Result<Option<Vec<Machine>>> {
        let mut req = Request::get(
            Action::ListMachines,
            app,
            format!("/v1/apps/{app}/machines"),
        );
        if let Some(o) = owner {
            req = req.query(&format!("metadata.{}", machine::META_OWNER), o);
        }
        let r = self.client.call(&req).await?;
        match r.status {
            200..=299 => {
                let mut out = Vec::new();
                for v in list_of(r.value(), "machines") {
                    let m: Machine = serde_json::from_value(v).map_err(|e| {
                        Error::new(format!(
                            "listing the machines of {app}: unexpected machine: {e}"
                        ))
                    })?;
                    if !m.gone() {
                        out.push(m);
                    }
                }
                Ok(Some(out))
            }
            404 => Ok(None),
            _ => Err(unexpected(&format!("listing the machines of {app}"), &r)),
        }
    }

    async fn get_machine(&self, app: &str, id: &str) -> Result<Machine> {
        let req = Request::get(
            Action::GetMachine,
            app,
            format!("/v1/apps/{app}/machines/{id}"),
        );
        let r = self.client.call(&req).await?;
        if !r.ok() {
            return Err(unexpected(&format!("reading machine {id} of {app}"), &r));
        }
        r.json(&format!("reading machine {id} of {app}"))
    }

    async fn delete_machine(&self, app: &str, id: &str) -> Result<()> {
        let req = Request::delete(
            Action::DeleteMachine,
            app,
            format!("/v1/apps/{app}/machines/{id}"),
        )
        .query("force", "true");
        match self.client.call(&req).await {
            Ok(r) if r.ok() || r.status == 404 => Ok(()),
            Ok(r) => Err(unexpected(&format!("deleting machine {id} of {app}"), &r)),
            Err(e) => Err(e),
        }
    }

    /// Create the machine. A create whose outcome is unknown (408, lost response, 5xx) may have
    /// made it (notes §6, §9.5): look first (machines by metadata filter), create again only if
    /// there is none. When even that does not settle it, the error is transient and the
    /// executor observes before running the step again.
    async fn create_machine(
        &self,
        app: &str,
        key: &ServiceKey,
        region: &str,
        config: &MachineConfig,
        min_secrets_version: Option<u64>,
    ) -> Result<Machine> {
        let body = CreateRequest {
            name: app,
            region,
            config,
            min_secrets_version,
        };
        let body = serde_json::to_value(&body).map_err(|e| Error::new(e.to_string()))?;
        let what = format!("creating the machine of {app}");
        for attempt in 1..=WRITE_TRIES {
            let req = Request::post(
                Action::CreateMachine,
                app,
                format!("/v1/apps/{app}/machines"),
                body.clone(),
            );
            let unknown = match self.call_in_app(&req).await {
                Ok(r) if r.ok() => return r.json(&what),
                // A machine of the same name still being destroyed, or secrets not yet at
                // the version asked for: both pass.
                Ok(r) if r.status == 412 || r.status == 422 => Error::transient(
                    format!("{what}: HTTP {}: {}", r.status, r.error_text()),
                    None,
                ),
                Ok(r) => return Err(unexpected(&what, &r)),
                Err(e) if e.is_transient() => e,
                Err(e) => return Err(e),
            };
            if attempt == WRITE_TRIES {
                return Err(unknown);
            }
            tokio::time::sleep(backoff(attempt, None)).await;
            if let Some(m) = self.find_machine(app, key).await? {
                return Ok(m);
            }
        }
        Err(Error::transient(format!("{what}: no answer"), None))
    }

    /// Our machine for `key` in `app`, found by its metadata (owner and service filters).
    async fn find_machine(&self, app: &str, key: &ServiceKey) -> Result<Option<Machine>> {
        let req = Request::get(
            Action::ListMachines,
            app,
            format!("/v1/apps/{app}/machines"),
        )
        .query(&format!("metadata.{}", machine::META_OWNER), &key.owner)
        .query(&format!("metadata.{}", machine::META_SERVICE), &key.service);
        let r = self.client.call(&req).await?;
        if !r.ok() {
            return Err(unexpected(&format!("listing the machines of {app}"), &r));
        }
        Ok(list_of(r.value(), "machines")
            .into_iter()
            .filter_map(|v| serde_json::from_value::<Machine>(v).ok())
            .find(|m| !m.gone() && m.key().as_ref() == Some(key)))
    }

    /// Acquire the machine's lease (notes §3: 201 with the nonce at `data.nonce`; 409 while
    /// someone else holds it, retried with backoff for about a TTL).
    async fn acquire_lease(&self, app: &str, id: &str, step: &Step<'_>) -> Result<String> {
        let until =
            (Instant::now() + scaled(Duration::from_secs(LEASE_TTL + 30))).min(step.deadline);
        let body = json!({"ttl": LEASE_TTL, "description": "scalewize deploy"});
        let mut attempt = 0;
        loop {
            attempt += 1;
            let req = Request::post(
                Action::AcquireLease,
                app,
                format!("/v1/apps/{app}/machines/{id}/lease"),
                body.clone(),
            );
            match self.client.call(&req).await {
                Ok(r) if r.ok() => {
                    return nonce_of(&r.value()).ok_or_else(|| {
                        Error::new(format!(
                            "leasing machine {id} of {app}: the answer has no nonce"
                        ))
                    });
                }
                Ok(r) if r.status == 409 => {
                    if Instant::now() >= until {
                        return Err(Error::transient(
                            format!(
                                "machine {id} of {app} is leased by someone else: {}",
                                r.error_text()
                            ),
                            None,
                        ));
                    }
                    if attempt == 1 {
                        (step.progress)("waiting for a lease held elsewhere");
                    }
                }
                Ok(r) => return Err(unexpected(&format!("leasing machine {id} of {app}"), &r)),
                Err(e) if e.is_transient() => {
                    // We may hold it now: its nonce is ours to read.
                    let req = Request::get(
                        Action::GetLease,
                        app,
                        format!("/v1/apps/{app}/machines/{id}/lease"),
                    );
                    if let Ok(r) = self.client.call(&req).await
                        && r.ok()
                        && let Some(n) = nonce_of(&r.value())
                    {
                        return Ok(n);
                    }
                    if Instant::now() >= until {
                        return Err(e);
                    }
                }
                Err(e) => return Err(e),
            }
            tokio::time::sleep(backoff(attempt.min(5), None)).await;
        }
    }

    /// Release the lease. Releasing again with the same nonce is harmless (an already released
    /// lease answers 404 "lease not found"), so an unknown outcome is retried; a failure only
    /// means it expires by itself (notes §9.3).
    async fn release_lease(&self, app: &str, id: &str, nonce: &str) {
        for attempt in 1..=WRITE_TRIES {
            let req = Request::delete(
                Action::ReleaseLease,
                app,
                format!("/v1/apps/{app}/machines/{id}/lease"),
            )
            .nonce(Some(nonce));
            match self.client.call(&req).await {
                Ok(r) if r.ok() || r.status == 404 => return,
                Ok(r) => {
                    self.client.debug(
                        1,
                        &format!(
                            "releasing the lease of {id} ({app}): HTTP {}: {} (it expires by itself)",
                            r.status,
                            r.error_text()
                        ),
                    );
                    return;
                }
                Err(e) if e.is_transient() && attempt < WRITE_TRIES => {
                    tokio::time::sleep(backoff(attempt, None)).await;
                }
                Err(e) => {
                    self.client.debug(
                        1,
                        &format!(
                            "releasing the lease of {id} ({app}): {} (it expires by itself)",
                            e.message
                        ),
                    );
                    return;
                }
            }
        }
    }

    /// Update under a lease: the full config, `current_version`, `min_secrets_version`; wait
    /// until started; release the lease whatever happened. Returns the new version.
    async fn update_machine(
        &self,
        app: &str,
        m: &Machine,
        config: &MachineConfig,
        expected: &Fields,
        min_secrets_version: Option<u64>,
        step: &Step<'_>,
    ) -> Result<String> {
        let nonce = self.acquire_lease(app, &m.id, step).await?;
        let result = async {
            let version = self
                .post_update(app, m, config, expected, min_secrets_version, &nonce)
                .await?;
            (step.progress)("updated the machine, waiting until it is started");
            self.wait_started(app, &m.id, Some(&version), step).await?;
            Ok(version)
        }
        .await;
        self.release_lease(app, &m.id, &nonce).await;
        result
    }

    async fn post_update(
        &self,
        app: &str,
        m: &Machine,
        config: &MachineConfig,
        expected: &Fields,
        min_secrets_version: Option<u64>,
        nonce: &str,
    ) -> Result<String> {
        let id = &m.id;
        let mut current = m.instance_id.clone();
        let what = format!("updating machine {id} of {app}");
        for attempt in 1..=WRITE_TRIES {
            let body = UpdateRequest {
                config,
                current_version: (!current.is_empty()).then_some(current.as_str()),
                min_secrets_version,
            };
            let body = serde_json::to_value(&body).map_err(|e| Error::new(e.to_string()))?;
            let req = Request::post(
                Action::UpdateMachine,
                app,
                format!("/v1/apps/{app}/machines/{id}"),
                body,
            )
            .nonce(Some(nonce));
            let retry = match self.client.call(&req).await {
                Ok(r) if r.ok() => {
                    let updated: Machine = r.json(&what)?;
                    return Ok(updated.instance_id);
                }
                // Someone changed it since we looked, or the secrets are not yet at the
                // version asked for: look again, then retry.
                Ok(r) if r.status == 412 => {
                    Error::transient(format!("{what}: HTTP 412: {}", r.error_text()), None)
                }
                // Our lease expired and someone else holds it now: start the step over.
                Ok(r) if r.status == 409 => {
                    return Err(Error::transient(
                        format!("{what}: the lease was lost: {}", r.error_text()),
                        None,
                    ));
                }
                Ok(r) => return Err(unexpected(&what, &r)),
                Err(e) if e.is_transient() => e,
                Err(e) => return Err(e),
            };
            if attempt == WRITE_TRIES {
                return Err(retry);
            }
            tokio::time::sleep(backoff(attempt, None)).await;
            // Did it apply? The machine tells.
            let now = self.get_machine(app, id).await?;
            if &now.fields() == expected {
                return Ok(now.instance_id);
            }
            current = now.instance_id;
        }
        Err(Error::transient(format!("{what}: no answer"), None))
    }

    /// `GET .../wait?state=started` until it answers 200 (notes §3: at most 60 s per call, 408
    /// on timeout: loop until the step's deadline).
    async fn wait_started(
        &self,
        app: &str,
        id: &str,
        version: Option<&str>,
        step: &Step<'_>,
    ) -> Result<()> {
        let mut version = version.map(str::to_string).filter(|v| !v.is_empty());
        loop {
            let left = step.deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::new(format!(
                    "machine {id} of {app} did not reach `started` in time"
                ))
                .hint(format!(
                    "see `fly logs -a {app}`; --wait-timeout gives it longer"
                )));
            }
            let secs = ((left.as_secs_f64() / time_scale()).floor() as u64).clamp(1, 60);
            let mut req = Request::get(
                Action::WaitMachine,
                app,
                format!("/v1/apps/{app}/machines/{id}/wait"),
            )
            .query("state", "started")
            .query("timeout", secs.to_string())
            .timeout(scaled(Duration::from_secs(secs)) + Duration::from_secs(30));
            if let Some(v) = &version {
                req = req.query("version", v.clone());
            }
            let r = self.client.call(&req).await?;
            match r.status {
                200..=299 => return Ok(()),
                408 => continue,
                // An implementation without `version` (spec24 knows only `instance_id`), or a
                // version superseded meanwhile: wait for the state alone.
                400 | 412 if version.is_some() => {
                    version = None;
                }
                404 => {
                    return Err(Error::transient(
                        format!("machine {id} of {app} is gone"),
                        None,
                    ));
                }
                _ => {
                    return Err(unexpected(
                        &format!("waiting for machine {id} of {app}"),
                        &r,
                    ));
                }
            }
        }
    }

    /// After `started`: until every health check passes (or the deadline).
    async fn wait_healthy(&self, app: &str, id: &str, step: &Step<'_>) -> Result<()> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let m = self.get_machine(app, id).await?;
            let failing = m.failing_checks();
            if m.state == "started" && failing.is_empty() {
                return Ok(());
            }
            if Instant::now() >= step.deadline {
                let why = if m.state != "started" {
                    format!("it is {}", m.state)
                } else {
                    failing.join(", ")
                };
                return Err(Error::new(format!(
                    "{} on Fly did not become healthy in time: {why}",
                    step.key
                ))
                .hint(format!(
                    "see `fly logs -a {app}`; --wait-timeout gives it longer"
                )));
            }
            if attempt == 1 {
                (step.progress)("started, waiting for its health check");
            }
            tokio::time::sleep(backoff(attempt.min(3), None)).await;
        }
    }

    // ---------------------------------------------------------------------------------------
    // Secrets and IPs
    // ---------------------------------------------------------------------------------------

    async fn secret_names(&self, app: &str) -> Result<BTreeSet<String>> {
        let req = Request::get(Action::ListSecrets, app, format!("/v1/apps/{app}/secrets"));
        let r = self.call_in_app(&req).await?;
        if !r.ok() {
            return Err(unexpected(&format!("listing the secrets of {app}"), &r));
        }
        Ok(list_of(r.value(), "secrets")
            .iter()
            .filter_map(|s| s.get("name").and_then(Value::as_str).map(str::to_string))
            .collect())
    }

    /// Set the secrets that are new or changed (by fingerprint) and unset the ones no longer
    /// wanted, in one call (notes §4). Returns the secrets version to boot with, when changed.
    async fn sync_secrets(
        &self,
        app: &str,
        spec: &ResolvedSpec,
        existing: Option<&Machine>,
        fresh: bool,
        step: &Step<'_>,
    ) -> Result<Option<u64>> {
        let present = if fresh {
            BTreeSet::new()
        } else {
            self.secret_names(app).await?
        };
        let recorded = existing.map(Machine::metadata).unwrap_or_default();
        let mut values = serde_json::Map::new();
        let mut shown = serde_json::Map::new();
        let mut wanted = BTreeSet::new();
        for (name, v) in &spec.env {
            let Resolved::Secret { value, fingerprint } = v else {
                continue;
            };
            wanted.insert(name.clone());
            if present.contains(name) && recorded.get(&fp_key(name)) == Some(fingerprint) {
                continue;
            }
            values.insert(name.clone(), Value::String(value.expose().to_string()));
            shown.insert(name.clone(), Value::String("<redacted>".into()));
        }
        for name in present.difference(&wanted) {
            values.insert(name.clone(), Value::Null);
            shown.insert(name.clone(), Value::Null);
        }
        if values.is_empty() {
            return Ok(None);
        }
        (step.progress)(&format!("setting {} secret(s)", values.len()));
        let body = json!({ "values": values });
        let log = json!({ "values": shown }).to_string();
        let what = format!("setting the secrets of {app}");
        for attempt in 1..=WRITE_TRIES {
            let req = Request::post(
                Action::SetSecrets,
                app,
                format!("/v1/apps/{app}/secrets"),
                body.clone(),
            )
            .log_body(log.clone());
            match self.call_in_app(&req).await {
                Ok(r) if r.ok() => return Ok(r.value()["version"].as_u64()),
                Ok(r) => return Err(unexpected(&what, &r)),
                // Setting the same values again is harmless.
                Err(e) if e.is_transient() && attempt < WRITE_TRIES => {
                    tokio::time::sleep(backoff(attempt, None)).await;
                }
                Err(e) => return Err(e),
            }
        }
        Err(Error::transient(format!("{what}: no answer"), None))
    }

    /// A public v6 and a shared v4 address, as flyctl's first deploy assigns (notes §5), each
    /// only when the app has none of its kind.
    async fn ensure_ips(&self, app: &str, step: &Step<'_>) -> Result<()> {
        for attempt in 1..=WRITE_TRIES {
            let req = Request::get(
                Action::ListIps,
                app,
                format!("/v1/apps/{app}/ip_assignments"),
            );
            let r = self.call_in_app(&req).await?;
            if !r.ok() {
                return Err(unexpected(&format!("listing the IPs of {app}"), &r));
            }
            let (has_v6, has_v4) = ip_kinds(&list_of(r.value(), "ips"));
            let missing: Vec<&str> = [(!has_v6).then_some("v6"), (!has_v4).then_some("shared_v4")]
                .into_iter()
                .flatten()
                .collect();
            if missing.is_empty() {
                return Ok(());
            }
            let mut unknown = None;
            for kind in missing {
                (step.progress)(&format!("assigning a {kind} address"));
                let req = Request::post(
                    Action::AssignIp,
                    app,
                    format!("/v1/apps/{app}/ip_assignments"),
                    json!({"type": kind}),
                );
                match self.call_in_app(&req).await {
                    Ok(r) if r.ok() => {}
                    // Already there (a retried assignment): the listing above decides.
                    Ok(r) if r.status == 409 || r.status == 422 => {
                        unknown = Some(unexpected(
                            &format!("assigning a {kind} address to {app}"),
                            &r,
                        ));
                    }
                    Ok(r) => {
                        return Err(unexpected(
                            &format!("assigning a {kind} address to {app}"),
                            &r,
                        ));
                    }
                    Err(e) if e.is_transient() => unknown = Some(e),
                    Err(e) => return Err(e),
                }
            }
            match unknown {
                None => return Ok(()),
                Some(e) if attempt == WRITE_TRIES => return Err(e),
                Some(_) => tokio::time::sleep(backoff(attempt, None)).await,
            }
        }
        Ok(())
    }

    // ---------------------------------------------------------------------------------------
    // One service
    // ---------------------------------------------------------------------------------------

    async fn deploy(&self, app: &str, step: &Step<'_>, spec: &ResolvedSpec) -> Result<Applied> {
        let key = step.key;
        let region = self
            .region_of(&spec.spec)
            .ok_or_else(|| Self::no_region(key))?;
        let config = build_config(app, spec);
        let url = service_url(app, &spec.spec.path);

        let fresh = if step.op == Op::Update && step.observed.is_some() {
            false
        } else {
            self.ensure_app(app, step).await?
        };
        let machines = if fresh {
            Vec::new()
        } else {
            match self.list_machines(app, None).await? {
                Some(ms) => ms,
                None => {
                    self.wait_app_visible(app, step).await?;
                    self.list_machines(app, None).await?.unwrap_or_default()
                }
            }
        };
        // Never touch an app holding a machine scalewize did not make for this service.
        if let Some(other) = machines.iter().find(|m| m.key().as_ref() != Some(key)) {
            return Err(Error::new(format!(
                "the Fly app `{app}` exists but is not scalewize's {key}: its machine {} has {}",
                other.id,
                match other.key() {
                    Some(k) => format!("scalewize metadata of {k}"),
                    None => "no scalewize metadata".to_string(),
                }
            ))
            .hint(format!(
                "scalewize leaves it alone: rename or delete that app yourself, or set a different `prefix` in scalewize.json (now \"{}\")",
                self.prefix
            )));
        }
        let mut ours = machines;
        ours.sort_by_key(|m| (m.state != "started", m.id.clone()));
        // One machine per app: remove duplicates (an ambiguous create elsewhere).
        for extra in ours.iter().skip(1) {
            (step.progress)(&format!("removing duplicate machine {}", extra.id));
            self.delete_machine(app, &extra.id).await?;
        }
        let mut existing = ours.into_iter().next();
        // Region is immutable (notes §3): a machine in another region is replaced.
        if let Some(m) = &existing
            && !m.region.is_empty()
            && m.region != region
        {
            (step.progress)(&format!(
                "moving from {} to {region}: replacing the machine",
                m.region
            ));
            self.delete_machine(app, &m.id).await?;
            existing = None;
        }

        let secrets_version = self
            .sync_secrets(app, spec, existing.as_ref(), fresh, step)
            .await?;
        self.ensure_ips(app, step).await?;

        match existing {
            None => {
                (step.progress)(&format!("creating the machine in {region}"));
                let m = self
                    .create_machine(app, key, &region, &config, secrets_version)
                    .await?;
                (step.progress)("created the machine, waiting until it is started");
                self.wait_started(app, &m.id, Some(&m.instance_id), step)
                    .await?;
                self.wait_healthy(app, &m.id, step).await?;
            }
            Some(m) => {
                let unchanged = secrets_version.is_none() && m.fields() == spec.fields;
                if unchanged && m.is_running() {
                    // Already applied (a retry after an unknown outcome): just wait.
                    self.wait_started(app, &m.id, None, step).await?;
                } else {
                    (step.progress)("updating the machine");
                    self.update_machine(app, &m, &config, &spec.fields, secrets_version, step)
                        .await?;
                }
                self.wait_healthy(app, &m.id, step).await?;
            }
        }
        Ok(Applied { url: Some(url) })
    }

    fn observed(&self, app: &str, key: ServiceKey, mut machines: Vec<Machine>) -> Observed {
        machines.sort_by_key(|m| (m.state != "started", m.id.clone()));
        let n = machines.len();
        let m = &machines[0];
        let mut fields = m.fields();
        if n > 1 {
            fields.insert(MACHINES_FIELD.into(), format!("{n} (duplicates)"));
        }
        let (state, mut detail) = state_of(m);
        if m.metadata().get(META_SPEC) != Some(&spec_digest(&fields)) {
            let note = "its configuration was changed outside scalewize".to_string();
            detail = Some(match detail {
                Some(d) => format!("{d}; {note}"),
                None => note,
            });
        }
        let path = fields.get("path").cloned().unwrap_or_default();
        Observed {
            key,
            platform: PlatformName::Fly,
            id: app.to_string(),
            url: Some(service_url(app, &path)),
            state,
            detail,
            fields,
        }
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
        "started" => {
            let failing = m.failing_checks();
            if failing.is_empty() {
                (State::Running, None)
            } else {
                (
                    State::Starting,
                    Some(format!("health check {}", failing.join(", "))),
                )
            }
        }
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
        for k in ["repo", "run"] {
            base.remove(k);
        }
        if let Some(r) = self.region_of(spec) {
            base.insert("region".into(), r);
        }
        let app = spec.key.global_name(&self.prefix);
        for (k, v) in base.iter_mut() {
            if k.starts_with("env.") && v == OWN_URL {
                *v = app_url(&app);
            }
        }
        if let Some(p) = port_env(spec) {
            base.insert("env.PORT".into(), p);
        }
        base
    }

    async fn prepare(
        &self,
        specs: &[&ServiceSpec],
        _progress: &crate::apply::progress::Progress,
    ) -> Result<()> {
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
        for app in apps {
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
