//! One service's step sequence (create or update, see the request list in `mod.rs`), and how
//! the machines found for a service read as its observed state.

use super::machine::*;
use super::*;
use crate::error::{Error, Result};

impl FlyPlatform {
    pub(super) async fn deploy(
        &self,
        app: &str,
        step: &Step<'_>,
        spec: &ResolvedSpec,
    ) -> Result<Applied> {
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
                if unchanged && m.idle() {
                    // Already applied to an idle machine: it starts on its next request.
                } else if unchanged && m.is_running() {
                    // Already applied (a retry after an unknown outcome): just wait.
                    self.wait_started(app, &m.id, None, step).await?;
                } else {
                    (step.progress)("updating the machine");
                    self.update_machine(app, &m, &config, &spec.fields, secrets_version, step)
                        .await?;
                }
                // An idle machine stays stopped until a request wakes it: nothing to wait for.
                if !m.idle() {
                    self.wait_healthy(app, &m.id, step).await?;
                }
            }
        }
        Ok(Applied { url: Some(url) })
    }

    pub(super) fn observed(
        &self,
        app: &str,
        key: ServiceKey,
        mut machines: Vec<Machine>,
    ) -> Observed {
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
