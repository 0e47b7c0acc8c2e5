//! The read side (notes §5): one projects listing (ours by name prefix and marker), then the
//! service instances of several projects' environments per request (settings, domains, latest
//! deployment), each followed at once by the unrendered variables of those services in one
//! request, all by aliases: at most [`MAX_PROJECTS_PER_REQUEST`] projects and
//! [`MAX_SERVICES_PER_REQUEST`] services per request (fewer requests; the chunks run
//! concurrently, so the latency is that of three requests up to 160 projects). Services this
//! run created that a lagging list does not show yet are read by id.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use super::client::ApiError;
use super::model::{self, Deployment, Domain, Live, LiveVars};
use super::{ProjectRef, RailwayPlatform, ops};
use crate::error::{Error, Result};
use crate::model::Observed;
use crate::model::ServiceKey;
use crate::workspace::PlatformName;

pub const MAX_PROJECTS_PER_REQUEST: usize = 20;
pub const MAX_SERVICES_PER_REQUEST: usize = 100;
/// Requests observe runs at once (the rate limiter paces them further).
const READ_CONCURRENCY: usize = 8;

/// A project as the listing shows it.
#[derive(Debug, Clone)]
pub(super) struct Listed {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub created_at: String,
    pub environments: Vec<(String, String)>,
}

fn s(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

fn parse_listed(node: &Value) -> Listed {
    Listed {
        id: s(&node["id"]).unwrap_or_default(),
        name: s(&node["name"]).unwrap_or_default(),
        description: s(&node["description"]),
        created_at: s(&node["createdAt"]).unwrap_or_default(),
        environments: node["environments"]["edges"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                (
                    s(&e["node"]["id"]).unwrap_or_default(),
                    s(&e["node"]["name"]).unwrap_or_default(),
                )
            })
            .collect(),
    }
}

/// A service instance before its variables are read.
pub(super) fn parse_instance(node: &Value, project: &ProjectRef) -> Live {
    Live {
        service_id: s(&node["serviceId"]).unwrap_or_default(),
        name: s(&node["serviceName"]).unwrap_or_default(),
        project_id: project.id.clone(),
        environment_id: project.environment_id.clone(),
        image: s(&node["source"]["image"]).filter(|x| !x.is_empty()),
        repo: s(&node["source"]["repo"]).filter(|x| !x.is_empty()),
        root_dir: s(&node["rootDirectory"]),
        start_command: s(&node["startCommand"]),
        health_path: s(&node["healthcheckPath"]),
        region: s(&node["region"]),
        domains: node["domains"]["serviceDomains"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|d| Domain {
                id: s(&d["id"]).unwrap_or_default(),
                domain: s(&d["domain"]).unwrap_or_default(),
                target_port: d["targetPort"].as_i64(),
            })
            .collect(),
        latest: node["latestDeployment"]["id"]
            .as_str()
            .map(|id| Deployment {
                id: id.to_string(),
                status: s(&node["latestDeployment"]["status"]).unwrap_or_default(),
            }),
        vars: LiveVars::default(),
    }
}

/// What an observation of some projects found.
pub(super) struct Found {
    /// Per project (canonical and duplicates): every instance, ours or not.
    pub instances: Vec<(ProjectRef, Vec<Live>)>,
}

impl RailwayPlatform {
    /// Every project of the workspace (all pages).
    pub(super) async fn list_projects(&self) -> Result<Vec<Listed>> {
        let workspace = self.workspace_id().await?;
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let data = self
                .api
                .run(
                    &ops::PROJECTS,
                    json!({"workspaceId": workspace, "after": after}),
                )
                .await
                .map_err(|e| self.error(e))?;
            let page = &data["projects"];
            for e in page["edges"].as_array().into_iter().flatten() {
                out.push(parse_listed(&e["node"]));
            }
            match (
                page["pageInfo"]["hasNextPage"].as_bool(),
                page["pageInfo"]["endCursor"].as_str(),
            ) {
                (Some(true), Some(c)) if Some(c) != after.as_deref() => after = Some(c.into()),
                _ => break,
            }
        }
        Ok(out)
    }

    /// Our projects among `listed`, by owner (oldest first), for `owners` (all when `None`).
    /// A same-named project without our marker is an error when its owner is asked for.
    pub(super) fn ours(
        &self,
        listed: &[Listed],
        owners: Option<&BTreeSet<String>>,
    ) -> Result<BTreeMap<String, Vec<ProjectRef>>> {
        let head = format!("{}-", self.prefix);
        let mut out: BTreeMap<String, Vec<ProjectRef>> = BTreeMap::new();
        for p in listed {
            let Some(owner) = p.name.strip_prefix(&head) else {
                continue;
            };
            // The lock's project (`lock`) holds no service of any client: only asked for by name.
            let wanted = match owners {
                Some(o) => o.contains(owner),
                None => owner != super::lock::LOCK_OWNER,
            };
            if !wanted {
                continue;
            }
            if model::marked_owner(p.description.as_deref()) != Some(owner) {
                if owners.is_some() {
                    return Err(Error::new(format!(
                        "a Railway project named {} exists (id {}) but scalewize did not create it: its description lacks scalewize's marker",
                        p.name, p.id
                    ))
                    .hint(format!(
                        "scalewize never adopts or changes a project it does not own: rename or delete that project in Railway, or choose another \"prefix\" in scalewize.json (the marker is the description \"{}\")",
                        model::marker(owner)
                    )));
                }
                continue;
            }
            let env = p
                .environments
                .iter()
                .find(|(_, n)| n == model::ENVIRONMENT)
                .or(p.environments.first());
            let Some((env, _)) = env else {
                return Err(
                    Error::new(format!("Railway project {} has no environment", p.name))
                        .hint("create a `production` environment in it, or delete the project"),
                );
            };
            out.entry(owner.to_string()).or_default().push(ProjectRef {
                id: p.id.clone(),
                name: p.name.clone(),
                owner: owner.to_string(),
                environment_id: env.clone(),
                created_at: p.created_at.clone(),
            });
        }
        for list in out.values_mut() {
            list.sort_by(|a, b| (&a.created_at, &a.id).cmp(&(&b.created_at, &b.id)));
        }
        Ok(out)
    }

    /// The instances of each project's environment with their variables: many projects per
    /// request, and each chunk's variables read as soon as its instances are known.
    pub(super) async fn read_projects(&self, projects: &[ProjectRef]) -> Result<Found> {
        let chunks: Vec<Vec<ProjectRef>> = projects
            .chunks(MAX_PROJECTS_PER_REQUEST)
            .map(<[ProjectRef]>::to_vec)
            .collect();
        let sem = tokio::sync::Semaphore::new(READ_CONCURRENCY);
        let results = futures_join(chunks.iter().map(|chunk| {
            let sem = &sem;
            async move {
                let mut found = {
                    let _permit = sem.acquire().await;
                    self.instances_of(chunk).await?
                };
                let mut lives: Vec<&mut Live> =
                    found.iter_mut().flat_map(|(_, l)| l.iter_mut()).collect();
                // As few requests as the cap allows, evenly filled.
                let pieces = lives.len().div_ceil(MAX_SERVICES_PER_REQUEST).max(1);
                let per_request = lives.len().div_ceil(pieces);
                self.read_variables(&mut lives, sem, per_request).await?;
                Ok::<_, Error>(found)
            }
        }))
        .await;
        let mut instances = Vec::new();
        for r in results {
            instances.extend(r?);
        }
        Ok(Found { instances })
    }

    async fn instances_of(&self, chunk: &[ProjectRef]) -> Result<Vec<(ProjectRef, Vec<Live>)>> {
        let mut vars = Map::new();
        for (i, p) in chunk.iter().enumerate() {
            vars.insert(format!("p{i}"), p.id.clone().into());
            vars.insert(format!("e{i}"), p.environment_id.clone().into());
        }
        let data = match self
            .api
            .run(&ops::instances(chunk.len()), Value::Object(vars))
            .await
        {
            Ok(d) => d,
            // A project deleted since the listing fails the whole batch: read one by one.
            Err(ApiError::NotFound(_)) if chunk.len() > 1 => {
                let mut out = Vec::new();
                for p in chunk {
                    match Box::pin(self.instances_of(std::slice::from_ref(p))).await {
                        Ok(v) => out.extend(v),
                        Err(e) if e.message.contains("not found") => {}
                        Err(e) => return Err(e),
                    }
                }
                return Ok(out);
            }
            Err(ApiError::NotFound(_)) => return Ok(Vec::new()),
            Err(e) => return Err(self.error(e)),
        };
        let mut out = Vec::new();
        for (i, p) in chunk.iter().enumerate() {
            let mut conn = data[format!("e{i}")]["serviceInstances"].clone();
            let mut lives = Vec::new();
            loop {
                for e in conn["edges"].as_array().into_iter().flatten() {
                    lives.push(parse_instance(&e["node"], p));
                }
                let cursor = match (
                    conn["pageInfo"]["hasNextPage"].as_bool(),
                    conn["pageInfo"]["endCursor"].as_str(),
                ) {
                    (Some(true), Some(c)) => c.to_string(),
                    _ => break,
                };
                let more = self
                    .api
                    .run(
                        &ops::instances(1),
                        json!({"p0": p.id, "e0": p.environment_id, "a0": cursor}),
                    )
                    .await
                    .map_err(|e| self.error(e))?;
                conn = more["e0"]["serviceInstances"].clone();
            }
            out.push((p.clone(), lives));
        }
        Ok(out)
    }

    /// Fill in the variables of `lives`, up to `per_request` services per request.
    pub(super) async fn read_variables(
        &self,
        lives: &mut [&mut Live],
        sem: &tokio::sync::Semaphore,
        per_request: usize,
    ) -> Result<()> {
        let chunks: Vec<Vec<(String, String, String)>> = lives
            .chunks(per_request.max(1))
            .map(|c| {
                c.iter()
                    .map(|l| {
                        (
                            l.project_id.clone(),
                            l.environment_id.clone(),
                            l.service_id.clone(),
                        )
                    })
                    .collect()
            })
            .collect();
        let results = futures_join(chunks.iter().map(|chunk| async move {
            let _permit = sem.acquire().await;
            self.variables_of(chunk).await
        }))
        .await;
        let mut all: Vec<Option<LiveVars>> = Vec::new();
        for r in results {
            all.extend(r?);
        }
        for (l, v) in lives.iter_mut().zip(all) {
            l.vars = v.unwrap_or_default();
        }
        Ok(())
    }

    /// Variables of a chunk of services; `None` for a service deleted meanwhile.
    pub(super) async fn variables_of(
        &self,
        chunk: &[(String, String, String)],
    ) -> Result<Vec<Option<LiveVars>>> {
        let mut vars = Map::new();
        for (i, (p, e, s)) in chunk.iter().enumerate() {
            vars.insert(format!("p{i}"), p.clone().into());
            vars.insert(format!("e{i}"), e.clone().into());
            vars.insert(format!("s{i}"), s.clone().into());
        }
        let data = match self
            .api
            .run(&ops::variables(chunk.len()), Value::Object(vars))
            .await
        {
            Ok(d) => d,
            Err(ApiError::NotFound(_)) if chunk.len() > 1 => {
                let mut out = Vec::new();
                for one in chunk {
                    out.extend(Box::pin(self.variables_of(std::slice::from_ref(one))).await?);
                }
                return Ok(out);
            }
            Err(ApiError::NotFound(_)) => return Ok(vec![None]),
            Err(e) => return Err(self.error(e)),
        };
        Ok((0..chunk.len())
            .map(|i| data[format!("v{i}")].as_object().map(LiveVars::from_map))
            .collect())
    }

    /// One instance by id, with its variables (not subject to list lag).
    pub(super) async fn read_one(
        &self,
        project: &ProjectRef,
        service_id: &str,
    ) -> Result<Option<Live>> {
        let data = match self
            .api
            .run(
                &ops::instance(),
                json!({"serviceId": service_id, "environmentId": project.environment_id}),
            )
            .await
        {
            Ok(d) => d,
            Err(ApiError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(self.error(e)),
        };
        let mut live = parse_instance(&data["serviceInstance"], project);
        let mut one = [&mut live];
        self.read_variables(&mut one, &tokio::sync::Semaphore::new(1), 1)
            .await?;
        Ok(Some(live))
    }

    /// What is live for `owners` (all of ours when `None`), updating this run's knowledge.
    pub(super) async fn observe_owners(
        &self,
        owners: Option<&BTreeSet<String>>,
    ) -> Result<Vec<Observed>> {
        let listed = self.list_projects().await?;
        let mut ours = self.ours(&listed, owners)?;
        // Projects this run created that the listing does not show yet.
        {
            let cache = self.cache.lock().expect("cache");
            for owner in &cache.made_projects {
                if owners.is_some_and(|o| !o.contains(owner)) || ours.contains_key(owner) {
                    continue;
                }
                if let Some(p) = cache.projects.get(owner) {
                    ours.insert(owner.clone(), vec![p.clone()]);
                }
            }
        }
        let all: Vec<ProjectRef> = ours.values().flatten().cloned().collect();
        let mut found = self.read_projects(&all).await?.instances;

        // Services this run created that the instance lists do not show yet: read by id.
        let missing: Vec<(usize, String)> = {
            let cache = self.cache.lock().expect("cache");
            cache
                .made_services
                .iter()
                .filter_map(|k| cache.services.get(k).map(|l| (k, l)))
                .filter_map(|(_, l)| {
                    let at = found.iter().position(|(p, _)| p.id == l.project_id)?;
                    (!found[at].1.iter().any(|x| x.service_id == l.service_id))
                        .then(|| (at, l.service_id.clone()))
                })
                .collect()
        };
        for (at, sid) in missing {
            let project = found[at].0.clone();
            if let Some(l) = self.read_one(&project, &sid).await? {
                found[at].1.push(l);
            }
        }

        // Per owner: the canonical project (most services of ours, then oldest) and duplicates.
        let mut observed = Vec::new();
        let mut cache = self.cache.lock().expect("cache");
        for (owner, projects) in &ours {
            let count = |p: &ProjectRef| {
                found
                    .iter()
                    .filter(|(q, _)| q.id == p.id)
                    .flat_map(|(_, l)| l)
                    .filter(|l| l.vars.record.as_ref().is_some_and(|r| &r.owner == owner))
                    .count()
            };
            let canonical = projects
                .iter()
                .enumerate()
                .max_by_key(|(i, p)| (count(p), std::cmp::Reverse(*i)))
                .map(|(_, p)| p.clone())
                .expect("at least one");
            let dups: Vec<ProjectRef> = projects
                .iter()
                .filter(|p| p.id != canonical.id)
                .cloned()
                .collect();
            cache.projects.insert(owner.clone(), canonical.clone());
            cache.duplicates.insert(owner.clone(), dups);
            // Forget what this owner had, except services this run made (lists may lag).
            let made = cache.made_services.clone();
            cache
                .services
                .retain(|k, _| &k.owner != owner || made.contains(k));
            for (p, lives) in &found {
                cache.members.insert(
                    p.id.clone(),
                    lives.iter().map(|l| l.service_id.clone()).collect(),
                );
                if p.id != canonical.id {
                    continue;
                }
                for l in lives {
                    let Some(r) = &l.vars.record else { continue };
                    // A domain this run created that the (lagging) list does not show yet.
                    let mut l = l.clone();
                    if let Some(d) = cache.made_domains.get(&l.service_id)
                        && !l.domains.iter().any(|x| x.id == d.id)
                    {
                        l.domains.insert(0, d.clone());
                    }
                    if &r.owner != owner {
                        continue;
                    }
                    let key: ServiceKey = r.key();
                    if cache
                        .services
                        .get(&key)
                        .is_some_and(|x| x.service_id != l.service_id && !made.contains(&key))
                    {
                        continue;
                    }
                    cache.services.insert(key.clone(), l);
                }
            }
        }
        // Owners asked for whose project is gone (deleted outside this run).
        if let Some(owners) = owners {
            for owner in owners {
                if !ours.contains_key(owner) && !cache.made_projects.contains(owner) {
                    cache.projects.remove(owner);
                    cache.duplicates.remove(owner);
                    cache.services.retain(|k, _| &k.owner != owner);
                }
            }
        }
        for (key, l) in &cache.services {
            if owners.is_some_and(|o| !o.contains(&key.owner)) {
                continue;
            }
            if !ours.contains_key(&key.owner) && !cache.made_projects.contains(&key.owner) {
                continue;
            }
            let (state, detail) = l.state();
            observed.push(Observed {
                key: key.clone(),
                platform: PlatformName::Railway,
                id: l.service_id.clone(),
                url: l.url(),
                state,
                detail,
                fields: l.fields(),
            });
        }
        observed.sort_by(|a, b| a.key.cmp(&b.key));
        drop(cache);
        let (requests, mutations) = self.request_counts();
        self.api.debug(
            2,
            &format!(
                "Railway: {} service(s) in {} project(s) observed; {requests} request(s) ({mutations} mutation(s)) so far",
                observed.len(),
                ours.len()
            ),
        );
        Ok(observed)
    }
}

/// Run futures concurrently, results in order (no extra crate for `join_all`).
async fn futures_join<F, T>(futs: impl Iterator<Item = F>) -> Vec<T>
where
    F: std::future::Future<Output = T>,
{
    let futs: Vec<_> = futs.map(Box::pin).collect();
    let mut results: Vec<Option<T>> = futs.iter().map(|_| None).collect();
    let mut pending: Vec<(usize, std::pin::Pin<Box<F>>)> = futs.into_iter().enumerate().collect();
    std::future::poll_fn(|cx| {
        pending.retain_mut(|(i, f)| match f.as_mut().poll(cx) {
            std::task::Poll::Ready(v) => {
                results[*i] = Some(v);
                false
            }
            std::task::Poll::Pending => true,
        });
        if pending.is_empty() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    results
        .into_iter()
        .map(|r| r.expect("every future finished"))
        .collect()
}
