//! Calls on one app's machine: list, find by metadata, create, lease, update, wait for
//! `started` and for passing checks, delete. Each write whose outcome is unknown is followed by a
//! look before any second write.

use std::time::{Duration, Instant};

use serde_json::json;

use super::client::{Request, unexpected};
use super::limits::Action;
use super::machine::*;
use super::*;
use crate::error::{Error, Result};
use crate::net::backoff::{backoff, scaled};
use crate::net::retry;

impl FlyPlatform {
    /// Live machines of `app` (`None`: the app does not answer, 404), optionally only those with
    /// `metadata.scalewize_owner = owner` (notes §3: metadata filters are exact matches).
    pub(super) async fn list_machines(
        &self,
        app: &str,
        owner: Option<&str>,
    ) -> Result<Option<Vec<Machine>>> {
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

    pub(super) async fn get_machine(&self, app: &str, id: &str) -> Result<Machine> {
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

    pub(super) async fn delete_machine(&self, app: &str, id: &str) -> Result<()> {
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
    pub(super) async fn create_machine(
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
        retry::converge(
            || async {
                let req = Request::post(
                    Action::CreateMachine,
                    app,
                    format!("/v1/apps/{app}/machines"),
                    body.clone(),
                );
                let r = self.call_in_app(&req).await?;
                match r.status {
                    200..=299 => r.json(&what),
                    // A machine of the same name still being destroyed, or secrets not yet at
                    // the version asked for: both pass.
                    412 | 422 => Err(Error::transient(
                        format!("{what}: HTTP {}: {}", r.status, r.error_text()),
                        None,
                    )),
                    _ => Err(unexpected(&what, &r)),
                }
            },
            // Never a second machine: look for the first one before creating again.
            || self.find_machine(app, key),
        )
        .await
    }

    /// Our machine for `key` in `app`, found by its metadata (owner and service filters).
    pub(super) async fn find_machine(
        &self,
        app: &str,
        key: &ServiceKey,
    ) -> Result<Option<Machine>> {
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
    pub(super) async fn acquire_lease(
        &self,
        app: &str,
        id: &str,
        step: &Step<'_>,
    ) -> Result<String> {
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
    pub(super) async fn release_lease(&self, app: &str, id: &str, nonce: &str) {
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
    pub(super) async fn update_machine(
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
            if m.idle() {
                // Updated in place with `skip_launch`: it starts on its next request.
                (step.progress)("updated the idle machine without starting it");
                return Ok(version);
            }
            (step.progress)("updated the machine, waiting until it is started");
            self.wait_started(app, &m.id, Some(&version), step).await?;
            Ok(version)
        }
        .await;
        self.release_lease(app, &m.id, &nonce).await;
        result
    }

    pub(super) async fn post_update(
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
                skip_launch: m.idle(),
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
    pub(super) async fn wait_started(
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
    pub(super) async fn wait_healthy(&self, app: &str, id: &str, step: &Step<'_>) -> Result<()> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let m = self.get_machine(app, id).await?;
            let why = match m.health() {
                Health::Passing => return Ok(()),
                Health::NotStarted => format!("its machine is {}", m.state),
                Health::Pending(why) | Health::Critical(why) => why,
            };
            if Instant::now() >= step.deadline {
                return Err(Error::new(format!(
                    "{} (Fly app {app}) did not become healthy in time: {why}",
                    step.key
                ))
                .hint(format!(
                    "see `fly logs -a {app}` for why its health path does not answer; --wait-timeout gives it longer"
                )));
            }
            if attempt == 1 {
                (step.progress)("started, waiting for its health check");
            }
            tokio::time::sleep(backoff(attempt.min(3), None)).await;
        }
    }
}
