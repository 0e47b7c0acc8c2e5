//! The write side. For a new service (notes §3c, pitfalls 3 and 8): `serviceCreate` (empty, so
//! nothing deploys yet; it carries the `SCALEWIZE_SERVICE` marker) → `serviceInstanceUpdate`
//! (settings) → `serviceInstanceLimitsUpdate` (size) → `variableCollectionUpsert` (every
//! variable, `replace`, `skipDeploys`) → `serviceDomainCreate` (`targetPort`) →
//! `serviceConnect` (image, or repo + branch), which deploys; a repo source then deploys the
//! folder's last commit with `serviceInstanceDeployV2(commitSha)` → poll the deployment.
//!
//! The domain is created before the deploy, not after: the deployment renders
//! `${{RAILWAY_PUBLIC_DOMAIN}}` (LibreChat's own URL) when it starts, so the domain must exist.
//!
//! An existing service gets only what differs (settings, limits, one upsert), then exactly one
//! deploy; an unchanged running one gets nothing. Every configuration change rewrites the
//! variables with `after` = the latest deployment, so a change that was written but never
//! deployed (a killed run) shows as "not deployed" on the next observe and is deployed then.

use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use super::client::ApiError;
use super::deployment::POLL;
use super::model::{self, Deployment, Desired, Live, LiveVars, Record, Source};
use super::{ProjectRef, RailwayPlatform, ops};
use crate::error::{Error, Result};
use crate::model::Op;
use crate::model::{ServiceKey, ServiceKind};
use crate::platform::{Applied, Step};

impl RailwayPlatform {
    pub(super) async fn apply_step(&self, step: Step<'_>) -> Result<Applied> {
        // Every request of the step knows its deadline (see `net::deadline`).
        crate::net::deadline::within(step.deadline, async {
            match step.op {
                Op::Delete => self.delete(&step).await,
                Op::Create | Op::Update => self.upsert(&step).await,
            }
        })
        .await
    }

    pub(super) fn note(step: &Step<'_>, msg: &str) {
        (step.progress)(msg);
    }

    /// A mutation; its data, or the error as the crate sees it (unknown outcome: transient).
    pub(super) async fn mutate(
        &self,
        op: &ops::Op,
        vars: Value,
    ) -> std::result::Result<Value, ApiError> {
        self.api.run(op, vars).await
    }

    /// Wait out the list-lag bound after a create whose outcome is unknown, so a list shows it.
    pub(super) async fn settle(&self, pending_key: &str, step: &Step<'_>) -> bool {
        let since = self
            .cache
            .lock()
            .expect("cache")
            .pending
            .get(pending_key)
            .copied();
        let Some(since) = since else {
            return false;
        };
        let until = since + Self::scaled(self.lag);
        let now = Instant::now();
        if until > now {
            Self::note(
                step,
                &format!(
                    "an earlier create may have happened: waiting {:.1}s for Railway's lists to show it",
                    (until - now).as_secs_f64()
                ),
            );
            tokio::time::sleep(until - now).await;
        }
        true
    }

    pub(super) fn clear_pending(&self, pending_key: &str) {
        self.cache
            .lock()
            .expect("cache")
            .pending
            .remove(pending_key);
    }

    pub(super) fn mark_pending(&self, pending_key: &str) {
        self.cache
            .lock()
            .expect("cache")
            .pending
            .entry(pending_key.to_string())
            .or_insert_with(Instant::now);
    }

    /// A service of ours named `d.name` that `serviceCreate` says exists: find it (lists may lag).
    pub(super) async fn find_service(
        &self,
        project: &ProjectRef,
        d: &Desired,
        step: &Step<'_>,
    ) -> Result<Live> {
        let deadline = Instant::now() + Self::scaled(self.lag);
        let mut pause = 0;
        loop {
            let data = self
                .api
                .run(&ops::PROJECT_SERVICES, json!({"id": project.id}))
                .await
                .map_err(|e| self.error(e))?;
            let id = data["project"]["services"]["edges"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|e| e["node"]["name"].as_str() == Some(d.name.as_str()))
                .and_then(|e| e["node"]["id"].as_str())
                .map(str::to_string);
            if let Some(id) = id
                && let Some(live) = self.read_one(project, &id).await?
            {
                let mine = live.vars.record.as_ref().is_some_and(|r| r.key() == d.key);
                if !mine {
                    return Err(Error::new(format!(
                        "a service named {} already exists in Railway project {} and scalewize did not create it",
                        d.name, project.name
                    ))
                    .hint("scalewize never adopts or changes a service it does not own: rename or delete that service in Railway"));
                }
                return Ok(live);
            }
            if Instant::now() > deadline {
                return Err(Error::transient(
                    format!(
                        "Railway says a service named {} exists in {}, but it is not listed yet",
                        d.name, project.name
                    ),
                    None,
                ));
            }
            Self::note(step, "waiting for Railway to list the service");
            tokio::time::sleep(Self::scaled(Duration::from_secs(POLL[pause.min(1)]))).await;
            pause += 1;
        }
    }

    /// Create the service (empty, marked); `true` when it is new, `false` when it existed.
    pub(super) async fn create_service(
        &self,
        project: &ProjectRef,
        d: &Desired,
        step: &Step<'_>,
    ) -> Result<(Live, bool)> {
        Self::note(step, &format!("creating service {}", d.name));
        let birth = Record::birth(&d.key);
        let result = self
            .mutate(
                &ops::SERVICE_CREATE,
                json!({"input": {
                    "projectId": project.id,
                    "environmentId": project.environment_id,
                    "name": d.name,
                    "variables": {model::VAR_SERVICE: birth.to_json()},
                }}),
            )
            .await;
        let (live, fresh) = match result {
            Ok(data) => {
                let id = data["serviceCreate"]["id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let mut vars = LiveVars::default();
                vars.names.insert(model::VAR_SERVICE.into());
                vars.record = Some(birth);
                let live = Live {
                    service_id: id,
                    name: d.name.clone(),
                    project_id: project.id.clone(),
                    environment_id: project.environment_id.clone(),
                    image: None,
                    repo: None,
                    root_dir: None,
                    start_command: None,
                    health_path: None,
                    region: None,
                    domains: Vec::new(),
                    latest: None,
                    vars,
                };
                (live, true)
            }
            // Names are unique per project (notes pitfall 1): it exists, so find it.
            Err(ApiError::AlreadyExists(_)) => (self.find_service(project, d, step).await?, false),
            Err(e) => return Err(self.error(e)),
        };
        let mut cache = self.cache.lock().expect("cache");
        cache.services.insert(d.key.clone(), live.clone());
        cache.made_services.insert(d.key.clone());
        cache
            .members
            .entry(project.id.clone())
            .or_default()
            .insert(live.service_id.clone());
        Ok((live, fresh))
    }

    pub(super) fn remember(&self, key: &ServiceKey, live: &Live) {
        self.cache
            .lock()
            .expect("cache")
            .services
            .insert(key.clone(), live.clone());
    }

    /// The settings input when any setting differs (all of them: one call either way).
    pub(super) fn settings_input(
        d: &Desired,
        live: &Live,
        fresh: bool,
    ) -> Option<Map<String, Value>> {
        let configured = live.vars.record.as_ref().is_some_and(Record::configured);
        let mut differs = fresh || !configured;
        differs |= live.health_path.as_deref() != Some(d.health_path.as_str());
        if let Some(r) = &d.region {
            let record = live.vars.record.clone().unwrap_or_default();
            differs |= model::placed_region(&record, live.region.as_deref()) != Some(r.as_str());
        }
        differs |= live.start_command != d.start_command && d.kind == ServiceKind::LibreChat;
        let image_change = match &d.source {
            Source::Image(i) => live.image.as_ref().is_some_and(|x| x != i),
            Source::Repo { root_dir, .. } => {
                differs |= live.root_dir.as_deref().map(model::norm_dir) != Some(root_dir.clone());
                false
            }
        };
        if !differs && !image_change {
            return None;
        }
        let mut s = Map::new();
        s.insert("healthcheckPath".into(), d.health_path.clone().into());
        match &d.region {
            Some(r) => {
                s.insert("multiRegionConfig".into(), model::multi_region_config(r));
            }
            None => {
                s.insert("numReplicas".into(), 1.into());
            }
        }
        s.insert("restartPolicyType".into(), "ON_FAILURE".into());
        s.insert("restartPolicyMaxRetries".into(), 5.into());
        if let Some(c) = &d.start_command {
            s.insert("startCommand".into(), c.clone().into());
        }
        match &d.source {
            Source::Repo { root_dir, .. } => {
                s.insert("rootDirectory".into(), root_dir.clone().into());
                s.insert("watchPatterns".into(), json!([format!("{root_dir}/**")]));
            }
            Source::Image(i) if image_change => {
                // Sets the source without deploying; the deploy below runs it (pitfall 5).
                s.insert("source".into(), json!({"image": i}));
            }
            Source::Image(_) => {}
        }
        Some(s)
    }

    /// Whether the live source is not the desired one in a way only `serviceConnect` fixes.
    pub(super) fn needs_connect(d: &Desired, live: &Live) -> bool {
        if !live.connected() {
            return true;
        }
        match &d.source {
            Source::Image(_) => live.image.is_none(),
            Source::Repo { repo, branch, .. } => {
                live.repo.as_deref() != Some(repo.as_str())
                    || live.vars.record.as_ref().and_then(|r| r.branch.as_deref())
                        != Some(branch.as_str())
            }
        }
    }

    pub(super) async fn upsert(&self, step: &Step<'_>) -> Result<Applied> {
        let key = step.key;
        let r = step
            .spec
            .ok_or_else(|| Error::new(format!("{key}: nothing to apply")))?;
        let commit = match (&r.spec.image, &r.spec.repo) {
            (None, Some(repo)) => self.commit_of(&repo.root_dir),
            _ => None,
        };
        let d = Desired::from_spec(r, self.default_region.as_deref(), commit)?;
        let project = self.ensure_project(&key.owner, step).await?;
        self.remove_empty_duplicates(&key.owner, step).await;

        let cached = self.cache.lock().expect("cache").services.get(key).cloned();
        let (mut live, fresh) = match cached {
            Some(l) => (l, false),
            None => self.create_service(&project, &d, step).await?,
        };
        let sid = live.service_id.clone();
        let env = live.environment_id.clone();

        // 1. settings
        let settings = Self::settings_input(&d, &live, fresh);
        let limits = fresh
            || live.vars.record.as_ref().and_then(|r| r.size.clone()) != d.record.size.clone();
        let vars_differ = !live.vars.matches(&d);
        let changed = settings.is_some() || limits || vars_differ;
        if let Some(input) = settings {
            Self::note(step, "updating settings");
            self.mutate(
                &ops::INSTANCE_UPDATE,
                json!({"serviceId": sid, "environmentId": env, "input": input}),
            )
            .await
            .map_err(|e| self.error(e))?;
            live.health_path = Some(d.health_path.clone());
            if d.region.is_some() {
                live.region = d.region.clone();
            }
            if d.start_command.is_some() {
                live.start_command = d.start_command.clone();
            }
            match &d.source {
                Source::Repo { root_dir, .. } => live.root_dir = Some(root_dir.clone()),
                Source::Image(i) if live.image.is_some() => live.image = Some(i.clone()),
                Source::Image(_) => {}
            }
            self.remember(key, &live);
        }
        // 2. limits
        if limits {
            Self::note(step, "setting CPU and memory");
            self.mutate(
                &ops::LIMITS_UPDATE,
                json!({"input": {
                    "serviceId": sid,
                    "environmentId": env,
                    "vCPUs": f64::from(d.cpus),
                    "memoryGB": f64::from(d.memory_mb) / 1024.0,
                }}),
            )
            .await
            .map_err(|e| self.error(e))?;
        }
        // 3. every variable in one write, without a deploy
        if changed {
            Self::note(step, "writing variables");
            let after = live.latest.as_ref().map(|l| l.id.clone());
            let variables = d.variables(after.as_deref());
            self.mutate(
                &ops::VARIABLES_UPSERT,
                json!({"input": {
                    "projectId": live.project_id,
                    "environmentId": env,
                    "serviceId": sid,
                    "variables": variables,
                    "replace": true,
                    "skipDeploys": true,
                }}),
            )
            .await
            .map_err(|e| self.error(e))?;
            live.vars = written(&d, after);
            self.remember(key, &live);
        }
        // 4. a public domain
        if live.domains.is_empty() {
            let domain = self.ensure_domain(&live, &d, step).await?;
            live.domains.push(domain);
            self.remember(key, &live);
        } else if live.domains.len() > 1 {
            self.remove_extra_domains(&mut live, step).await;
            self.remember(key, &live);
        }
        // …routing to the service's port (notes pitfall 7).
        if let Some(domain) = live.domains.first_mut()
            && domain.target_port != Some(i64::from(d.port))
        {
            Self::note(step, &format!("routing its domain to port {}", d.port));
            self.mutate(
                &ops::DOMAIN_UPDATE,
                json!({"input": {
                    "serviceDomainId": domain.id,
                    "serviceId": sid,
                    "environmentId": env,
                    "domain": domain.domain,
                    "targetPort": d.port,
                }}),
            )
            .await
            .map_err(|e| self.error(e))?;
            domain.target_port = Some(i64::from(d.port));
            self.remember(key, &live);
        }
        // 5. deploy: connect the source (deploys), or deploy; or wait for the one under way.
        let previous = live.latest.clone();
        let commit = match &d.source {
            Source::Repo { commit, .. } => commit.clone(),
            Source::Image(_) => None,
        };
        let deployment: Option<String> = if Self::needs_connect(&d, &live) {
            let input = match &d.source {
                Source::Image(i) => json!({"image": i}),
                Source::Repo { repo, branch, .. } => json!({"repo": repo, "branch": branch}),
            };
            Self::note(step, "connecting the source (this deploys)");
            self.mutate(&ops::SERVICE_CONNECT, json!({"id": sid, "input": input}))
                .await
                .map_err(|e| self.error(e))?;
            match &d.source {
                Source::Image(i) => live.image = Some(i.clone()),
                Source::Repo { repo, .. } => live.repo = Some(repo.clone()),
            }
            self.remember(key, &live);
            // `serviceConnect` deploys the branch's tip: when that is our commit, wait for
            // its deployment rather than deploying the same commit a second time.
            let tip_is_ours = match (&d.source, commit.as_deref()) {
                (Source::Repo { branch, .. }, Some(c)) => {
                    super::source::on_remote_branch(&self.root, c, branch) == Ok(true)
                }
                _ => false,
            };
            if commit.is_some() && !tip_is_ours {
                Some(self.deploy(&live, commit.as_deref(), step).await?)
            } else {
                Some(self.new_deployment(&live, previous.as_ref(), step).await?)
            }
        } else if changed || live.state().0 == crate::model::State::Down {
            Some(self.deploy(&live, commit.as_deref(), step).await?)
        } else {
            match &live.latest {
                Some(l) if live.state().0 == crate::model::State::Starting => Some(l.id.clone()),
                _ => None,
            }
        };
        if let Some(id) = deployment {
            let expect = match &d.source {
                Source::Image(i) => Some(i.as_str()),
                Source::Repo { .. } => None,
            };
            let status = self.wait_deployment(&id, expect, step).await;
            live.latest = Some(Deployment {
                id: id.clone(),
                status: status
                    .as_ref()
                    .map_or_else(|_| "FAILED".into(), |s| s.clone()),
            });
            self.remember(key, &live);
            status?;
        }
        Ok(Applied { url: live.url() })
    }

    pub(super) async fn delete(&self, step: &Step<'_>) -> Result<Applied> {
        let key = step.key;
        let (live, project) = {
            let cache = self.cache.lock().expect("cache");
            (
                cache.services.get(key).cloned(),
                cache.projects.get(&key.owner).cloned(),
            )
        };
        let (service_id, environment_id, project_id) = match (&live, &project) {
            (Some(l), _) => (
                l.service_id.clone(),
                l.environment_id.clone(),
                l.project_id.clone(),
            ),
            (None, Some(p)) => match step.observed {
                Some(o) => (o.id.clone(), p.environment_id.clone(), p.id.clone()),
                None => return Ok(Applied::default()),
            },
            (None, None) => return Ok(Applied::default()),
        };
        Self::note(step, "deleting the service");
        self.delete_checked(
            &ops::SERVICE_DELETE,
            json!({"id": service_id, "environmentId": environment_id}),
            &ops::LATEST_DEPLOYMENT,
            json!({"serviceId": service_id, "environmentId": environment_id}),
            step.deadline,
        )
        .await?;
        {
            let mut cache = self.cache.lock().expect("cache");
            cache.services.remove(key);
            cache.made_services.remove(key);
            if let Some(m) = cache.members.get_mut(&project_id) {
                m.remove(&service_id);
            }
        }
        self.delete_project_if_empty(&key.owner, &project_id, step)
            .await?;
        Ok(Applied::default())
    }

    /// A delete; when its outcome is unknown, look (a read by id: no list to lag) and repeat
    /// it only while the thing is still there, until `deadline`. "Not found" is done.
    pub(super) async fn delete_checked(
        &self,
        delete: &ops::Op,
        vars: Value,
        look: &ops::Op,
        look_vars: Value,
        deadline: Instant,
    ) -> Result<()> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let err = match self.mutate(delete, vars.clone()).await {
                Ok(_) | Err(ApiError::NotFound(_)) => return Ok(()),
                Err(e @ (ApiError::Unknown(_) | ApiError::Transient(..))) => e,
                Err(e) => return Err(self.error(e)),
            };
            match self.api.run(look, look_vars.clone()).await {
                Err(ApiError::NotFound(_)) => return Ok(()),
                // Still there (or cannot tell yet): again, after a pause, while time remains.
                Ok(_) | Err(ApiError::Unknown(_) | ApiError::Transient(..))
                    if Instant::now() < deadline =>
                {
                    tokio::time::sleep(crate::net::backoff::backoff(attempt.min(4), None)).await;
                }
                _ => return Err(self.error(err)),
            }
        }
    }
}

/// What a service's variables are after writing `d`'s (secret values not kept).
fn written(d: &Desired, after: Option<String>) -> LiveVars {
    let mut names: std::collections::BTreeSet<String> = d.vars.keys().cloned().collect();
    names.insert(model::VAR_SERVICE.into());
    let secrets = d.secret_names();
    let plain = d
        .vars
        .iter()
        .filter(|(k, _)| !secrets.contains(k.as_str()))
        .map(|(k, v)| (k.clone(), v.expose().to_string()))
        .collect();
    let fingerprints = d
        .vars
        .get(model::VAR_FINGERPRINTS)
        .and_then(|v| serde_json::from_str(v.expose()).ok())
        .unwrap_or_default();
    LiveVars {
        names,
        plain,
        fingerprints,
        record: Some(Record {
            after,
            ..d.record.clone()
        }),
    }
}
