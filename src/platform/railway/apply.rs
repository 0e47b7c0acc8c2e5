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
use super::model::{self, Deployment, Desired, Domain, Live, LiveVars, Record, Source};
use super::{ProjectRef, RailwayPlatform, ops};
use crate::error::{Error, Result};
use crate::plan::service::{ServiceKey, ServiceKind};
use crate::platform::{Applied, Op, Step};

/// Poll intervals for a deployment (unscaled seconds), the last one repeating: polls count
/// against the hourly request budget, and deployments take minutes.
const POLL: [u64; 5] = [2, 3, 5, 8, 10];

impl RailwayPlatform {
    pub(super) async fn apply_step(&self, step: Step<'_>) -> Result<Applied> {
        match step.op {
            Op::Delete => self.delete(&step).await,
            Op::Create | Op::Update => self.upsert(&step).await,
        }
    }

    fn note(step: &Step<'_>, msg: &str) {
        (step.progress)(msg);
    }

    /// A mutation; its data, or the error as the crate sees it (unknown outcome: transient).
    async fn mutate(&self, op: &ops::Op, vars: Value) -> std::result::Result<Value, ApiError> {
        self.api.run(op, vars).await
    }

    /// Wait out the list-lag bound after a create whose outcome is unknown, so a list shows it.
    async fn settle(&self, pending_key: &str, step: &Step<'_>) -> bool {
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

    fn clear_pending(&self, pending_key: &str) {
        self.cache
            .lock()
            .expect("cache")
            .pending
            .remove(pending_key);
    }

    fn mark_pending(&self, pending_key: &str) {
        self.cache
            .lock()
            .expect("cache")
            .pending
            .entry(pending_key.to_string())
            .or_insert_with(Instant::now);
    }

    /// The owner's project: known, found again after an unknown create, or created.
    async fn ensure_project(&self, owner: &str, step: &Step<'_>) -> Result<ProjectRef> {
        let lock = self.lock(&format!("project:{owner}"));
        let _held = lock.lock().await;
        if let Some(p) = self.cache.lock().expect("cache").projects.get(owner) {
            return Ok(p.clone());
        }
        let pending_key = format!("project:{owner}");
        if self.settle(&pending_key, step).await {
            let listed = self.list_projects().await?;
            let owners = std::collections::BTreeSet::from([owner.to_string()]);
            if let Some(p) = self
                .ours(&listed, Some(&owners))?
                .remove(owner)
                .and_then(|v| v.into_iter().next())
            {
                self.clear_pending(&pending_key);
                let mut cache = self.cache.lock().expect("cache");
                cache.projects.insert(owner.to_string(), p.clone());
                cache.made_projects.insert(owner.to_string());
                return Ok(p);
            }
        }
        let name = model::project_name(&self.prefix, owner);
        Self::note(step, &format!("creating project {name}"));
        let workspace = self.workspace_id().await?;
        let data = match self
            .mutate(
                &ops::PROJECT_CREATE,
                json!({"input": {
                    "name": name,
                    "description": model::marker(owner),
                    "workspaceId": workspace,
                }}),
            )
            .await
        {
            Ok(d) => d,
            Err(e @ ApiError::Unknown(_)) => {
                self.mark_pending(&pending_key);
                return Err(self.error(e));
            }
            Err(e) => return Err(self.error(e)),
        };
        self.clear_pending(&pending_key);
        let p = &data["projectCreate"];
        let envs: Vec<(String, String)> = p["environments"]["edges"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                (
                    e["node"]["id"].as_str().unwrap_or_default().to_string(),
                    e["node"]["name"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        let env = envs
            .iter()
            .find(|(_, n)| n == model::ENVIRONMENT)
            .or(envs.first())
            .map(|(id, _)| id.clone())
            .ok_or_else(|| {
                Error::new(format!(
                    "Railway created project {name} without an environment"
                ))
            })?;
        let project = ProjectRef {
            id: p["id"].as_str().unwrap_or_default().to_string(),
            name,
            owner: owner.to_string(),
            environment_id: env,
            created_at: p["createdAt"].as_str().unwrap_or_default().to_string(),
        };
        let mut cache = self.cache.lock().expect("cache");
        cache.projects.insert(owner.to_string(), project.clone());
        cache.made_projects.insert(owner.to_string());
        cache.members.entry(project.id.clone()).or_default();
        Ok(project)
    }

    /// Delete the owner's duplicate projects that hold nothing (only ever after faults).
    async fn remove_empty_duplicates(&self, owner: &str, step: &Step<'_>) {
        let dups = {
            let cache = self.cache.lock().expect("cache");
            cache.duplicates.get(owner).cloned().unwrap_or_default()
        };
        for d in dups {
            let empty = self
                .cache
                .lock()
                .expect("cache")
                .members
                .get(&d.id)
                .is_some_and(|m| m.is_empty());
            if !empty {
                Self::note(
                    step,
                    &format!(
                        "another project {} ({}) holds services: left alone",
                        d.name, d.id
                    ),
                );
                continue;
            }
            Self::note(
                step,
                &format!("deleting the empty duplicate project {}", d.id),
            );
            match self.mutate(&ops::PROJECT_DELETE, json!({"id": d.id})).await {
                Ok(_) | Err(ApiError::NotFound(_)) => {
                    let mut cache = self.cache.lock().expect("cache");
                    if let Some(list) = cache.duplicates.get_mut(owner) {
                        list.retain(|x| x.id != d.id);
                    }
                }
                Err(e) => Self::note(step, &format!("could not delete it: {}", e.message())),
            }
        }
    }

    /// A service of ours named `d.name` that `serviceCreate` says exists: find it (lists may lag).
    async fn find_service(
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
    async fn create_service(
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

    fn remember(&self, key: &ServiceKey, live: &Live) {
        self.cache
            .lock()
            .expect("cache")
            .services
            .insert(key.clone(), live.clone());
    }

    /// The settings input when any setting differs (all of them: one call either way).
    fn settings_input(d: &Desired, live: &Live, fresh: bool) -> Option<Map<String, Value>> {
        let configured = live.vars.record.as_ref().is_some_and(Record::configured);
        let mut differs = fresh || !configured;
        differs |= live.health_path.as_deref() != Some(d.health_path.as_str());
        if let Some(r) = &d.region {
            differs |= live.region.as_deref() != Some(r.as_str());
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
        s.insert("numReplicas".into(), 1.into());
        s.insert("restartPolicyType".into(), "ON_FAILURE".into());
        s.insert("restartPolicyMaxRetries".into(), 5.into());
        if let Some(r) = &d.region {
            s.insert("region".into(), r.clone().into());
        }
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
    fn needs_connect(d: &Desired, live: &Live) -> bool {
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

    async fn upsert(&self, step: &Step<'_>) -> Result<Applied> {
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
            if commit.is_some() {
                Some(self.deploy(&live, commit.as_deref(), step).await?)
            } else {
                Some(self.new_deployment(&live, previous.as_ref(), step).await?)
            }
        } else if changed || live.state().0 == crate::platform::State::Down {
            Some(self.deploy(&live, commit.as_deref(), step).await?)
        } else {
            match &live.latest {
                Some(l) if live.state().0 == crate::platform::State::Starting => Some(l.id.clone()),
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

    /// `serviceInstanceDeployV2` (deploys the current source, or `commit`): its deployment id.
    async fn deploy(&self, live: &Live, commit: Option<&str>, step: &Step<'_>) -> Result<String> {
        Self::note(step, "deploying");
        let data = self
            .mutate(
                &ops::DEPLOY,
                json!({"serviceId": live.service_id, "environmentId": live.environment_id, "commitSha": commit}),
            )
            .await
            .map_err(|e| self.error(e))?;
        data["serviceInstanceDeployV2"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| Error::new("Railway serviceInstanceDeployV2 returned no deployment id"))
    }

    /// The deployment a `serviceConnect` started: the latest one, once it is not `previous`.
    async fn new_deployment(
        &self,
        live: &Live,
        previous: Option<&Deployment>,
        step: &Step<'_>,
    ) -> Result<String> {
        let mut i = 0;
        loop {
            let data = self
                .api
                .run(
                    &ops::LATEST_DEPLOYMENT,
                    json!({"serviceId": live.service_id, "environmentId": live.environment_id}),
                )
                .await
                .map_err(|e| self.error(e))?;
            if let Some(id) = data["serviceInstance"]["latestDeployment"]["id"].as_str()
                && previous.is_none_or(|p| p.id != id)
            {
                return Ok(id.to_string());
            }
            if Instant::now() > step.deadline {
                return Err(Error::new(format!(
                    "{}: no deployment started after connecting its source",
                    step.key
                ))
                .hint("see the service's deployments in Railway's dashboard"));
            }
            tokio::time::sleep(Self::scaled(Duration::from_secs(
                POLL[i.min(POLL.len() - 1)],
            )))
            .await;
            i += 1;
        }
    }

    /// Poll a deployment to a terminal status (notes §3g); its final status, or why it failed.
    async fn wait_deployment(
        &self,
        id: &str,
        expect_image: Option<&str>,
        step: &Step<'_>,
    ) -> Result<String> {
        let mut i = 0;
        let mut last = String::new();
        loop {
            let data = self
                .api
                .run(&ops::DEPLOYMENT, json!({"id": id}))
                .await
                .map_err(|e| self.error(e))?;
            let status = data["deployment"]["status"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            if status != last {
                Self::note(step, &format!("deployment {}", status.to_ascii_lowercase()));
                last = status.clone();
            }
            if status == model::TERMINAL_OK {
                if let (Some(want), Some(got)) =
                    (expect_image, data["deployment"]["meta"]["image"].as_str())
                    && want != got
                {
                    return Err(Error::new(format!(
                        "{}: Railway deployed image {got}, not {want}",
                        step.key
                    ))
                    .hint("deploy again; if it persists, check the service's source in Railway"));
                }
                return Ok(status);
            }
            if model::TERMINAL_BAD.contains(&status.as_str()) {
                return Err(
                    Error::new(format!("{}: the deployment ended {status}", step.key)).hint(
                        format!(
                            "see `scalewize logs {} {}` or the deployment in Railway's dashboard",
                            step.key.owner, step.key.service
                        ),
                    ),
                );
            }
            if Instant::now() > step.deadline {
                return Err(Error::new(format!(
                    "{}: the deployment is still {} at the deadline",
                    step.key,
                    status.to_ascii_lowercase()
                ))
                .hint("--wait-timeout gives it longer; `scalewize status` shows how it ends"));
            }
            tokio::time::sleep(Self::scaled(Duration::from_secs(
                POLL[i.min(POLL.len() - 1)],
            )))
            .await;
            i += 1;
        }
    }

    /// A public domain for the service: found again after an unknown create, or created.
    async fn ensure_domain(&self, live: &Live, d: &Desired, step: &Step<'_>) -> Result<Domain> {
        let pending_key = format!("domain:{}", live.service_id);
        if self.settle(&pending_key, step).await {
            let data = self
                .api
                .run(
                    &ops::DOMAINS,
                    json!({"projectId": live.project_id, "environmentId": live.environment_id, "serviceId": live.service_id}),
                )
                .await
                .map_err(|e| self.error(e))?;
            if let Some(x) = data["domains"]["serviceDomains"]
                .as_array()
                .and_then(|a| a.first())
            {
                self.clear_pending(&pending_key);
                return Ok(Domain {
                    id: x["id"].as_str().unwrap_or_default().to_string(),
                    domain: x["domain"].as_str().unwrap_or_default().to_string(),
                    target_port: x["targetPort"].as_i64(),
                });
            }
        }
        Self::note(step, "creating its public domain");
        let data = match self
            .mutate(
                &ops::DOMAIN_CREATE,
                json!({"input": {
                    "serviceId": live.service_id,
                    "environmentId": live.environment_id,
                    "targetPort": d.port,
                }}),
            )
            .await
        {
            Ok(data) => data,
            Err(e @ ApiError::Unknown(_)) => {
                self.mark_pending(&pending_key);
                return Err(self.error(e));
            }
            Err(e) => return Err(self.error(e)),
        };
        self.clear_pending(&pending_key);
        let x = &data["serviceDomainCreate"];
        let domain = Domain {
            id: x["id"].as_str().unwrap_or_default().to_string(),
            domain: x["domain"].as_str().unwrap_or_default().to_string(),
            target_port: x["targetPort"].as_i64(),
        };
        self.cache
            .lock()
            .expect("cache")
            .made_domains
            .insert(live.service_id.clone(), domain.clone());
        Ok(domain)
    }

    /// Keep the oldest domain (clients use it), delete the others (only ever after faults).
    async fn remove_extra_domains(&self, live: &mut Live, step: &Step<'_>) {
        let extra: Vec<Domain> = live.domains.iter().skip(1).cloned().collect();
        for x in extra {
            Self::note(step, &format!("deleting the duplicate domain {}", x.domain));
            match self.mutate(&ops::DOMAIN_DELETE, json!({"id": x.id})).await {
                Ok(_) | Err(ApiError::NotFound(_)) => {
                    live.domains.retain(|y| y.id != x.id);
                    let mut cache = self.cache.lock().expect("cache");
                    if cache
                        .made_domains
                        .get(&live.service_id)
                        .is_some_and(|d| d.id == x.id)
                    {
                        cache.made_domains.remove(&live.service_id);
                    }
                }
                Err(e) => Self::note(step, &format!("could not delete it: {}", e.message())),
            }
        }
    }

    async fn delete(&self, step: &Step<'_>) -> Result<Applied> {
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
    async fn delete_checked(
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
                    tokio::time::sleep(crate::apply::backoff(attempt.min(4), None)).await;
                }
                _ => return Err(self.error(err)),
            }
        }
    }

    /// After a delete: remove the owner's project once nothing is left in it (ours or not).
    async fn delete_project_if_empty(
        &self,
        owner: &str,
        project_id: &str,
        step: &Step<'_>,
    ) -> Result<()> {
        let lock = self.lock(&format!("project:{owner}"));
        let _held = lock.lock().await;
        let known_empty = self
            .cache
            .lock()
            .expect("cache")
            .members
            .get(project_id)
            .is_some_and(|m| m.is_empty());
        if !known_empty {
            return Ok(());
        }
        // The service is gone already: keep at it until the deadline rather than fail the
        // step (a retried step would find its service gone and never come back here).
        let mut attempt = 0;
        let data = loop {
            attempt += 1;
            match self
                .api
                .run(&ops::PROJECT_SERVICES, json!({"id": project_id}))
                .await
            {
                Ok(d) => break d,
                Err(ApiError::NotFound(_)) => return Ok(()),
                Err(ApiError::Transient(..) | ApiError::Unknown(_))
                    if Instant::now() < step.deadline =>
                {
                    tokio::time::sleep(crate::apply::backoff(attempt.min(4), None)).await;
                }
                Err(e) => return Err(self.error(e)),
            }
        };
        let left = data["project"]["services"]["edges"]
            .as_array()
            .map_or(0, Vec::len);
        if left > 0 {
            return Ok(());
        }
        Self::note(step, "deleting the now empty project");
        self.delete_checked(
            &ops::PROJECT_DELETE,
            json!({"id": project_id}),
            &ops::PROJECT_SERVICES,
            json!({"id": project_id}),
            step.deadline,
        )
        .await?;
        let mut cache = self.cache.lock().expect("cache");
        if cache
            .projects
            .get(owner)
            .is_some_and(|p| p.id == project_id)
        {
            cache.projects.remove(owner);
        }
        cache.made_projects.remove(owner);
        cache.members.remove(project_id);
        Ok(())
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
