//! Apps, their secrets and their IP addresses: created once (a taken name means "already
//! there"), compared before written, so a re-run sends nothing that is already true.

use std::collections::BTreeSet;
use std::time::Instant;

use serde_json::{Value, json};

use super::client::{Request, unexpected};
use super::limits::Action;
use super::machine::*;
use super::*;
use crate::error::{Error, Result};
use crate::net::backoff::{backoff, scaled};
use crate::net::retry;

impl FlyPlatform {
    pub(super) async fn list_apps(&self) -> Result<Vec<String>> {
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

    pub(super) fn taken_elsewhere(&self, app: &str) -> Error {
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
    pub(super) async fn ensure_app(&self, app: &str, step: &Step<'_>) -> Result<bool> {
        // notes §2: `name` (spec26/fly-go), not the docs' `app_name`.
        let body = json!({"name": app, "org_slug": self.org()});
        // An unknown outcome needs no look: creating again is safe, `name_taken` will tell.
        let created = retry::converge(
            || async {
                // fly-go creates with `?wait=true` (notes §2, §9.1).
                let req = Request::post(Action::CreateApp, app, "/v1/apps".into(), body.clone())
                    .query("wait", "true");
                let r = self.client.call(&req).await?;
                if r.ok() {
                    (step.progress)(&format!("created app {app}"));
                    Ok(true)
                } else if is_name_taken(&r) {
                    Ok(false)
                } else {
                    Err(unexpected(&format!("creating app {app}"), &r))
                }
            },
            retry::no_look,
        )
        .await?;
        self.wait_app_visible(app, step).await?;
        Ok(created)
    }

    /// `GET /v1/apps/{app}` until it answers (notes §9.1: 404 right after create).
    pub(super) async fn wait_app_visible(&self, app: &str, step: &Step<'_>) -> Result<()> {
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

    pub(super) async fn delete_app(&self, app: &str) -> Result<()> {
        retry::converge(
            || async {
                let req = Request::delete(Action::DeleteApp, app, format!("/v1/apps/{app}"))
                    .query("force", "true");
                let r = self.client.call(&req).await?;
                if r.ok() || r.status == 404 {
                    Ok(())
                } else {
                    Err(unexpected(&format!("deleting app {app}"), &r))
                }
            },
            // Gone is what the delete was for, whoever's answer got lost.
            || async {
                let req = Request::get(Action::GetApp, app, format!("/v1/apps/{app}"));
                let gone = matches!(self.client.call(&req).await, Ok(r) if r.status == 404);
                Ok(gone.then_some(()))
            },
        )
        .await
    }

    pub(super) async fn secret_names(&self, app: &str) -> Result<BTreeSet<String>> {
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
    pub(super) async fn sync_secrets(
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
        // Setting the same values again is harmless: no look needed.
        retry::converge(
            || async {
                let req = Request::post(
                    Action::SetSecrets,
                    app,
                    format!("/v1/apps/{app}/secrets"),
                    body.clone(),
                )
                .log_body(log.clone());
                let r = self.call_in_app(&req).await?;
                if r.ok() {
                    Ok(r.value()["version"].as_u64())
                } else {
                    Err(unexpected(&what, &r))
                }
            },
            retry::no_look,
        )
        .await
    }

    /// A public v6 and a shared v4 address, as flyctl's first deploy assigns (notes §5), each
    /// only when the app has none of its kind.
    pub(super) async fn ensure_ips(&self, app: &str, step: &Step<'_>) -> Result<()> {
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
                    json!({"type": kind, "org_slug": self.org()}),
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
}
