//! Field resolvers over [`State`], plugged into apollo-compiler's executor
//! ([`apollo_compiler::resolvers::Execution`]), which does selection sets, aliases, fragments,
//! `__typename`, argument coercion, null propagation and introspection.
//!
//! One generic object type ([`Obj`]) covers every GraphQL object the emulator serves; its
//! GraphQL type name comes from the schema for connections and edges, so one implementation
//! serves `ProjectServicesConnection`, `QueryProjectsConnection`, ….

use std::cell::{Cell, RefCell};

use apollo_compiler::resolvers::{FieldError, ObjectValue, ResolveInfo, ResolvedValue};
use serde_json::{Map, Value, json};

use crate::config::Plan;
use crate::state::{NOT_AUTHORIZED, Principal, R, State, opt_str, req_str};
use crate::util::Clock;

/// Per-request execution context.
pub(crate) struct Exec<'s> {
    pub st: RefCell<&'s mut State>,
    /// `Err(message)` when the request is not authenticated.
    pub principal: Result<Principal, String>,
    /// For project tokens minted through the API: their `ProjectToken` record.
    pub token_record: Option<String>,
    pub plan: Plan,
    pub now: f64,
    pub clock: &'s Clock,
    /// List lag window (emulated seconds) for this request, if the fault is drawn.
    pub lag: Option<f64>,
    pub lag_hit: Cell<bool>,
}

impl Exec<'_> {
    fn principal(&self) -> Result<&Principal, FieldError> {
        self.principal.as_ref().map_err(|m| err(m.clone()))
    }

    /// Whether an item created at `created` shows up in a lagging list read.
    fn listed(&self, created: f64) -> bool {
        match self.lag {
            Some(lag) if created > self.now - lag => {
                self.lag_hit.set(true);
                false
            }
            _ => true,
        }
    }

    fn ts(&self, t: f64) -> Value {
        json!(self.clock.rfc3339(t))
    }
}

fn err(message: impl Into<String>) -> FieldError {
    FieldError {
        message: message.into(),
    }
}

fn lift<T>(r: R<T>) -> Result<T, FieldError> {
    r.map_err(err)
}

/// A GraphQL object backed by the state.
#[derive(Clone, Debug)]
pub(crate) enum K {
    Query,
    Mutation,
    Project(String),
    Environment(String),
    Service(String),
    Instance(String, String),
    Deployment(String),
    ServiceDomain(String),
    AllDomains(Vec<String>),
    Source(Option<String>, Option<String>),
    Connection(Vec<(String, K)>, PageInfo),
    Edge(String, Box<K>),
    PageInfo(PageInfo),
    User,
    Workspace(String),
    /// `apiToken`: what the calling token can reach.
    TokenContext,
    TokenWorkspace(String),
    ProjectToken(String, String, Option<String>),
}

#[derive(Clone, Debug, Default)]
pub(crate) struct PageInfo {
    has_next: bool,
    has_prev: bool,
    start: Option<String>,
    end: Option<String>,
}

impl K {
    fn fixed_type(&self) -> Option<&'static str> {
        Some(match self {
            K::Query => "Query",
            K::Mutation => "Mutation",
            K::Project(_) => "Project",
            K::Environment(_) => "Environment",
            K::Service(_) => "Service",
            K::Instance(..) => "ServiceInstance",
            K::Deployment(_) => "Deployment",
            K::ServiceDomain(_) => "ServiceDomain",
            K::AllDomains(_) => "AllDomains",
            K::Source(..) => "ServiceSource",
            K::PageInfo(_) => "PageInfo",
            K::User => "User",
            K::Workspace(_) => "Workspace",
            K::TokenContext => "ApiTokenContext",
            K::TokenWorkspace(_) => "ApiTokenWorkspace",
            K::ProjectToken(..) => "ProjectToken",
            K::Connection(..) | K::Edge(..) => return None,
        })
    }
}

pub(crate) struct Obj<'a, 's> {
    pub ex: &'a Exec<'s>,
    pub ty: String,
    pub k: K,
}

type Res<'b> = Result<ResolvedValue<'b>, FieldError>;

fn leaf<'b>(v: Value) -> Res<'b> {
    Ok(ResolvedValue::leaf(v))
}

fn args(info: &ResolveInfo<'_>) -> Map<String, Value> {
    match serde_json::to_value(info.arguments()) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

fn input(a: &Map<String, Value>) -> Map<String, Value> {
    a.get("input")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

/// Relay pagination over `items` (already in order) with `first/after/last/before`.
fn paginate(items: Vec<(String, K)>, a: &Map<String, Value>) -> R<(Vec<(String, K)>, PageInfo)> {
    let mut lo = 0usize;
    let mut hi = items.len();
    let pos = |c: &str| items.iter().position(|(id, _)| id == c);
    let mut info = PageInfo::default();
    if let Some(after) = a.get("after").and_then(Value::as_str) {
        lo = pos(after).ok_or("Invalid cursor")? + 1;
        info.has_prev = lo > 0;
    }
    if let Some(before) = a.get("before").and_then(Value::as_str) {
        hi = pos(before).ok_or("Invalid cursor")?;
        info.has_next = hi < items.len();
    }
    let hi = hi.max(lo);
    let mut window: Vec<(String, K)> = items[lo..hi].to_vec();
    if let Some(first) = a.get("first").and_then(Value::as_i64) {
        if first < 0 {
            return Err("first must be a non-negative integer".into());
        }
        if window.len() > first as usize {
            window.truncate(first as usize);
            info.has_next = true;
        }
    }
    if let Some(last) = a.get("last").and_then(Value::as_i64) {
        if last < 0 {
            return Err("last must be a non-negative integer".into());
        }
        if window.len() > last as usize {
            window.drain(..window.len() - last as usize);
            info.has_prev = true;
        }
    }
    info.start = window.first().map(|(c, _)| c.clone());
    info.end = window.last().map(|(c, _)| c.clone());
    Ok((window, info))
}

impl<'a, 's> Obj<'a, 's> {
    fn obj<'b>(&self, info: &ResolveInfo<'_>, k: K) -> Res<'b>
    where
        'a: 'b,
    {
        let ty = k
            .fixed_type()
            .map(str::to_string)
            .unwrap_or_else(|| info.field_definition().ty.inner_named_type().to_string());
        Ok(ResolvedValue::object(Obj { ex: self.ex, ty, k }))
    }

    fn objs<'b>(&self, info: &ResolveInfo<'_>, ks: Vec<K>) -> Res<'b>
    where
        'a: 'b,
    {
        let ty = info.field_definition().ty.inner_named_type().to_string();
        let ex = self.ex;
        Ok(ResolvedValue::list(ks.into_iter().map(move |k| {
            let ty = k
                .fixed_type()
                .map(str::to_string)
                .unwrap_or_else(|| ty.clone());
            ResolvedValue::object(Obj { ex, ty, k })
        })))
    }

    fn connection<'b>(&self, info: &ResolveInfo<'_>, items: Vec<(String, K)>) -> Res<'b>
    where
        'a: 'b,
    {
        let (window, page) = lift(paginate(items, &args(info)))?;
        self.obj(info, K::Connection(window, page))
    }

    fn not_implemented(&self, info: &ResolveInfo<'_>) -> FieldError {
        match self.k {
            K::Query | K::Mutation => err(format!(
                "not implemented by the emulator: {}",
                info.field_name()
            )),
            _ => err(format!(
                "not implemented by the emulator: {}.{}",
                self.ty,
                info.field_name()
            )),
        }
    }
}

impl<'a, 's> ObjectValue for Obj<'a, 's> {
    fn type_name(&self) -> &str {
        &self.ty
    }

    fn resolve_field<'b>(&'b self, info: &'b ResolveInfo<'b>) -> Res<'b> {
        match &self.k {
            K::Query => self.query(info),
            K::Mutation => self.mutation(info),
            K::Project(id) => self.project(info, id),
            K::Environment(id) => self.environment(info, id),
            K::Service(id) => self.service(info, id),
            K::Instance(s, e) => self.instance(info, s, e),
            K::Deployment(id) => self.deployment(info, id),
            K::ServiceDomain(id) => self.service_domain(info, id),
            K::AllDomains(ids) => match info.field_name() {
                "serviceDomains" => self.objs(
                    info,
                    ids.iter().map(|i| K::ServiceDomain(i.clone())).collect(),
                ),
                "customDomains" => Ok(ResolvedValue::list(Vec::new())),
                _ => Err(self.not_implemented(info)),
            },
            K::Source(image, repo) => match info.field_name() {
                "image" => leaf(json!(image)),
                "repo" => leaf(json!(repo)),
                _ => Err(self.not_implemented(info)),
            },
            K::Connection(edges, page) => match info.field_name() {
                "edges" => self.objs(
                    info,
                    edges
                        .iter()
                        .map(|(c, k)| K::Edge(c.clone(), Box::new(k.clone())))
                        .collect(),
                ),
                "pageInfo" => self.obj(info, K::PageInfo(page.clone())),
                _ => Err(self.not_implemented(info)),
            },
            K::Edge(cursor, node) => match info.field_name() {
                "cursor" => leaf(json!(cursor)),
                "node" => self.obj(info, (**node).clone()),
                _ => Err(self.not_implemented(info)),
            },
            K::PageInfo(p) => match info.field_name() {
                "hasNextPage" => leaf(json!(p.has_next)),
                "hasPreviousPage" => leaf(json!(p.has_prev)),
                "startCursor" => leaf(json!(p.start)),
                "endCursor" => leaf(json!(p.end)),
                _ => Err(self.not_implemented(info)),
            },
            K::User => self.user(info),
            K::Workspace(id) => self.workspace(info, id),
            K::TokenContext => self.token_context(info),
            K::TokenWorkspace(id) => self.token_workspace(info, id),
            K::ProjectToken(p, e, rec) => self.project_token(info, p, e, rec.as_deref()),
        }
    }
}

impl<'a, 's> Obj<'a, 's> {
    // ------------------------------------------------------------------ Query

    fn query<'b>(&'b self, info: &'b ResolveInfo<'b>) -> Res<'b> {
        let ex = self.ex;
        let p = ex.principal()?;
        let a = args(info);
        let s = |k: &str| opt_str(&a, k);
        let st = ex.st.borrow();
        match info.field_name() {
            "projects" => {
                if matches!(p, Principal::Project { .. }) {
                    return Err(err(NOT_AUTHORIZED));
                }
                let ws = s("workspaceId");
                if let Some(ws) = &ws
                    && !State::sees_workspace(p, ws)
                {
                    return Err(err(NOT_AUTHORIZED));
                }
                // Without `workspaceId`, `projects` lists the personal account (notes §10),
                // which a workspace token has none of.
                if ws.is_none() && matches!(p, Principal::Workspace { .. }) {
                    drop(st);
                    return self.connection(info, Vec::new());
                }
                let items = st
                    .visible_projects(p)
                    .into_iter()
                    .filter(|pr| ws.as_ref().is_none_or(|w| *w == pr.workspace_id))
                    .filter(|pr| ex.listed(pr.created))
                    .map(|pr| (pr.id.clone(), K::Project(pr.id.clone())))
                    .collect();
                drop(st);
                self.connection(info, items)
            }
            "project" => {
                let id = lift(st.check_project(p, &s("id").unwrap_or_default()))?
                    .id
                    .clone();
                self.obj(info, K::Project(id))
            }
            "environment" => {
                let env = lift(st.check_env(p, &s("id").unwrap_or_default()))?;
                if s("projectId").is_some_and(|pid| pid != env.project_id) {
                    return Err(err("Environment not found"));
                }
                let id = env.id.clone();
                self.obj(info, K::Environment(id))
            }
            "environments" => {
                let pid = s("projectId").unwrap_or_default();
                lift(st.check_project(p, &pid))?;
                let ephemeral = a.get("isEphemeral").and_then(Value::as_bool);
                let items = st
                    .project_envs(&pid)
                    .into_iter()
                    .filter(|_| ephemeral != Some(true))
                    .filter(|e| match p {
                        Principal::Project { env, .. } => *env == e.id,
                        _ => true,
                    })
                    .map(|e| (e.id.clone(), K::Environment(e.id.clone())))
                    .collect();
                drop(st);
                self.connection(info, items)
            }
            "serviceInstance" => {
                let (sid, eid) = (
                    s("serviceId").unwrap_or_default(),
                    s("environmentId").unwrap_or_default(),
                );
                lift(st.check_instance(p, &sid, &eid))?;
                self.obj(info, K::Instance(sid, eid))
            }
            "service" => {
                let id = lift(st.check_service(p, &s("id").unwrap_or_default()))?
                    .id
                    .clone();
                self.obj(info, K::Service(id))
            }
            "variables" => {
                let (pid, eid, sid) = (
                    s("projectId").unwrap_or_default(),
                    s("environmentId").unwrap_or_default(),
                    s("serviceId"),
                );
                lift(st.check_vars_target(p, &pid, &eid, sid.as_deref()))?;
                let unrendered = a
                    .get("unrendered")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                let vars = if unrendered {
                    st.raw_variables(&eid, sid.as_deref())
                } else {
                    st.rendered_variables(&eid, sid.as_deref())
                };
                leaf(json!(vars))
            }
            "deployment" => {
                let id = lift(st.check_deployment(p, &s("id").unwrap_or_default()))?
                    .id
                    .clone();
                self.obj(info, K::Deployment(id))
            }
            "deployments" => {
                let inp = input(&a);
                let f = |k: &str| opt_str(&inp, k);
                let (pid, sid, eid) = (f("projectId"), f("serviceId"), f("environmentId"));
                if let Some(pid) = &pid {
                    lift(st.check_project(p, pid))?;
                }
                if let Some(sid) = &sid {
                    lift(st.check_service(p, sid))?;
                }
                if let Some(eid) = &eid {
                    lift(st.check_env(p, eid))?;
                }
                let status = inp.get("status").and_then(Value::as_object);
                let set = |k: &str| -> Option<Vec<String>> {
                    status
                        .and_then(|s| s.get(k))
                        .and_then(Value::as_array)
                        .map(|v| {
                            v.iter()
                                .filter_map(Value::as_str)
                                .map(str::to_string)
                                .collect()
                        })
                };
                let (inn, not_in) = (set("in"), set("notIn"));
                let mut ds: Vec<_> = st
                    .deployments
                    .iter()
                    .filter(|d| pid.as_ref().is_none_or(|x| *x == d.project_id))
                    .filter(|d| sid.as_ref().is_none_or(|x| *x == d.service_id))
                    .filter(|d| eid.as_ref().is_none_or(|x| *x == d.env_id))
                    .filter(|d| st.check_deployment(p, &d.id).is_ok())
                    .filter(|d| {
                        let s = st.status(d, ex.now).as_str().to_string();
                        inn.as_ref().is_none_or(|v| v.contains(&s))
                            && not_in.as_ref().is_none_or(|v| !v.contains(&s))
                    })
                    .collect();
                ds.sort_by_key(|d| std::cmp::Reverse(d.seq));
                let items = ds
                    .iter()
                    .map(|d| (d.id.clone(), K::Deployment(d.id.clone())))
                    .collect();
                drop(st);
                self.connection(info, items)
            }
            "domains" => {
                let (pid, eid, sid) = (
                    s("projectId").unwrap_or_default(),
                    s("environmentId").unwrap_or_default(),
                    s("serviceId").unwrap_or_default(),
                );
                lift(st.check_vars_target(p, &pid, &eid, Some(&sid)))?;
                let ids = st
                    .instance_domains(&sid, &eid)
                    .into_iter()
                    .filter(|d| ex.listed(d.created))
                    .map(|d| d.id.clone())
                    .collect();
                self.obj(info, K::AllDomains(ids))
            }
            "projectToken" => match (p, &ex.token_record) {
                (Principal::Project { project, env }, rec) => self.obj(
                    info,
                    K::ProjectToken(project.clone(), env.clone(), rec.clone()),
                ),
                _ => Err(err("Project Token not found")),
            },
            // notes §10: "cannot be used with a workspace or project token".
            "me" => match p {
                Principal::Account { .. } => self.obj(info, K::User),
                _ => Err(err(NOT_AUTHORIZED)),
            },
            // Account and workspace tokens alike (notes §10).
            "apiToken" => match p {
                Principal::Project { .. } => Err(err(NOT_AUTHORIZED)),
                _ => self.obj(info, K::TokenContext),
            },
            _ => Err(self.not_implemented(info)),
        }
    }

    // ------------------------------------------------------------------ Mutation

    fn mutation<'b>(&'b self, info: &'b ResolveInfo<'b>) -> Res<'b> {
        let ex = self.ex;
        let p = ex.principal()?.clone();
        let a = args(info);
        let s = |k: &str| opt_str(&a, k);
        let id = || req_str(&a, "id").map_err(err);
        let now = ex.now;
        let mut st = ex.st.borrow_mut();
        match info.field_name() {
            "projectCreate" => {
                let id = lift(st.project_create(&p, &input(&a), now))?;
                drop(st);
                self.obj(info, K::Project(id))
            }
            "projectUpdate" => {
                let id = id()?;
                lift(st.project_update(&p, &id, &input(&a), now))?;
                drop(st);
                self.obj(info, K::Project(id))
            }
            "projectDelete" => {
                lift(st.project_delete(&p, &id()?))?;
                leaf(json!(true))
            }
            "environmentCreate" => {
                let id = lift(st.environment_create(&p, &input(&a), now))?;
                drop(st);
                self.obj(info, K::Environment(id))
            }
            "environmentDelete" => {
                lift(st.environment_delete(&p, &id()?))?;
                leaf(json!(true))
            }
            "serviceCreate" => {
                let id = lift(st.service_create(&p, &input(&a), now))?;
                drop(st);
                self.obj(info, K::Service(id))
            }
            "serviceUpdate" => {
                let id = id()?;
                lift(st.service_update(&p, &id, &input(&a), now))?;
                drop(st);
                self.obj(info, K::Service(id))
            }
            "serviceDelete" => {
                lift(st.service_delete(&p, &id()?, s("environmentId").as_deref()))?;
                leaf(json!(true))
            }
            "serviceInstanceUpdate" => {
                let sid = s("serviceId").unwrap_or_default();
                lift(st.instance_update(&p, &sid, s("environmentId").as_deref(), &input(&a), now))?;
                leaf(json!(true))
            }
            "serviceInstanceLimitsUpdate" => {
                lift(st.limits_update(&p, &input(&a), now))?;
                leaf(json!(true))
            }
            "serviceConnect" => {
                let id = id()?;
                lift(st.service_connect(&p, &id, &input(&a), now))?;
                drop(st);
                self.obj(info, K::Service(id))
            }
            "variableCollectionUpsert" => {
                lift(st.variable_collection_upsert(&p, &input(&a), now))?;
                leaf(json!(true))
            }
            "variableUpsert" => {
                lift(st.variable_upsert(&p, &input(&a), now))?;
                leaf(json!(true))
            }
            "variableDelete" => {
                lift(st.variable_delete(&p, &input(&a), now))?;
                leaf(json!(true))
            }
            "serviceDomainCreate" => {
                let id = lift(st.domain_create(&p, &input(&a), now))?;
                drop(st);
                self.obj(info, K::ServiceDomain(id))
            }
            "serviceDomainDelete" => {
                lift(st.domain_delete(&p, &id()?))?;
                leaf(json!(true))
            }
            "serviceDomainUpdate" => {
                lift(st.domain_update(&p, &input(&a)))?;
                leaf(json!(true))
            }
            "serviceInstanceDeployV2" => {
                let (sid, eid) = (
                    s("serviceId").unwrap_or_default(),
                    s("environmentId").unwrap_or_default(),
                );
                let id = lift(st.deploy_v2(&p, &sid, &eid, s("commitSha"), now))?;
                leaf(json!(id))
            }
            "serviceInstanceDeploy" => {
                let (sid, eid) = (
                    s("serviceId").unwrap_or_default(),
                    s("environmentId").unwrap_or_default(),
                );
                lift(st.deploy_v2(&p, &sid, &eid, s("commitSha"), now))?;
                leaf(json!(true))
            }
            "serviceInstanceRedeploy" => {
                let (sid, eid) = (
                    s("serviceId").unwrap_or_default(),
                    s("environmentId").unwrap_or_default(),
                );
                lift(st.redeploy(&p, &sid, &eid, now))?;
                leaf(json!(true))
            }
            "deploymentRedeploy" => {
                let id = lift(st.deployment_redeploy(&p, &id()?, now))?;
                drop(st);
                self.obj(info, K::Deployment(id))
            }
            "deploymentCancel" => {
                lift(st.deployment_cancel(&p, &id()?, now))?;
                leaf(json!(true))
            }
            "projectTokenCreate" => {
                let token = lift(st.project_token_create(&p, &input(&a), ex.plan, now))?;
                leaf(json!(token))
            }
            _ => Err(self.not_implemented(info)),
        }
    }

    // ------------------------------------------------------------------ objects

    fn project<'b>(&'b self, info: &'b ResolveInfo<'b>, id: &str) -> Res<'b> {
        let ex = self.ex;
        let st = ex.st.borrow();
        let Some(pr) = st.project(id) else {
            return Err(err("Project not found"));
        };
        match info.field_name() {
            "id" => leaf(json!(pr.id)),
            "name" => leaf(json!(pr.name)),
            "description" => leaf(json!(pr.description)),
            "createdAt" => leaf(ex.ts(pr.created)),
            "updatedAt" => leaf(ex.ts(pr.updated)),
            "deletedAt" | "expiredAt" | "baseEnvironmentId" | "baseEnvironment" => {
                leaf(Value::Null)
            }
            "workspaceId" => leaf(json!(pr.workspace_id)),
            "workspace" => {
                let ws = pr.workspace_id.clone();
                drop(st);
                self.obj(info, K::Workspace(ws))
            }
            "isPublic" => leaf(json!(pr.is_public)),
            "prDeploys" => leaf(json!(pr.pr_deploys)),
            "isTempProject" | "botPrEnvironments" | "focusedPrEnvironments" => leaf(json!(false)),
            "primaryEnvironmentId" => {
                leaf(json!(st.project_envs(id).first().map(|e| e.id.clone())))
            }
            "subscriptionType" => {
                let plan = st
                    .workspaces
                    .iter()
                    .find(|w| w.id == pr.workspace_id)
                    .map(|w| w.plan.graphql_name())
                    .unwrap_or("FREE");
                leaf(json!(plan.to_ascii_lowercase()))
            }
            "services" => {
                let items = st
                    .project_services(id)
                    .into_iter()
                    .filter(|s| ex.listed(s.created))
                    .map(|s| (s.id.clone(), K::Service(s.id.clone())))
                    .collect();
                drop(st);
                self.connection(info, items)
            }
            "environments" => {
                let ephemeral = args(info).get("isEphemeral").and_then(Value::as_bool);
                let scope = ex.principal.as_ref().ok().and_then(|p| match p {
                    Principal::Project { env, .. } => Some(env.clone()),
                    _ => None,
                });
                let items = st
                    .project_envs(id)
                    .into_iter()
                    .filter(|_| ephemeral != Some(true))
                    .filter(|e| scope.as_ref().is_none_or(|s| *s == e.id))
                    .map(|e| (e.id.clone(), K::Environment(e.id.clone())))
                    .collect();
                drop(st);
                self.connection(info, items)
            }
            _ => Err(self.not_implemented(info)),
        }
    }

    fn environment<'b>(&'b self, info: &'b ResolveInfo<'b>, id: &str) -> Res<'b> {
        let ex = self.ex;
        let st = ex.st.borrow();
        let Some(e) = st.env(id) else {
            return Err(err("Environment not found"));
        };
        match info.field_name() {
            "id" => leaf(json!(e.id)),
            "name" => leaf(json!(e.name)),
            "projectId" => leaf(json!(e.project_id)),
            "createdAt" | "updatedAt" => leaf(ex.ts(e.created)),
            "deletedAt" | "sourceEnvironment" | "meta" => leaf(Value::Null),
            "isEphemeral" => leaf(json!(false)),
            "canAccess" => leaf(json!(true)),
            "unmergedChangesCount" => leaf(json!(0)),
            "serviceInstances" => {
                let items = st
                    .env_instances(id)
                    .into_iter()
                    .filter(|i| ex.listed(i.created))
                    .map(|i| {
                        (
                            i.id.clone(),
                            K::Instance(i.service_id.clone(), i.env_id.clone()),
                        )
                    })
                    .collect();
                drop(st);
                self.connection(info, items)
            }
            "deployments" => {
                let mut ds: Vec<_> = st.deployments.iter().filter(|d| d.env_id == id).collect();
                ds.sort_by_key(|d| std::cmp::Reverse(d.seq));
                let items = ds
                    .iter()
                    .map(|d| (d.id.clone(), K::Deployment(d.id.clone())))
                    .collect();
                drop(st);
                self.connection(info, items)
            }
            _ => Err(self.not_implemented(info)),
        }
    }

    fn service<'b>(&'b self, info: &'b ResolveInfo<'b>, id: &str) -> Res<'b> {
        let ex = self.ex;
        let st = ex.st.borrow();
        let Some(s) = st.service(id) else {
            return Err(err("Service not found"));
        };
        match info.field_name() {
            "id" => leaf(json!(s.id)),
            "name" => leaf(json!(s.name)),
            "icon" => leaf(json!(s.icon)),
            "projectId" => leaf(json!(s.project_id)),
            "createdAt" => leaf(ex.ts(s.created)),
            "updatedAt" => leaf(ex.ts(s.updated)),
            "deletedAt" | "templateId" | "templateServiceId" | "templateThreadSlug" | "groupId" => {
                leaf(Value::Null)
            }
            "isRestricted" | "hasHiddenRegistryCredentialsFromTemplate" => leaf(json!(false)),
            "project" => {
                let pid = s.project_id.clone();
                drop(st);
                self.obj(info, K::Project(pid))
            }
            "serviceInstances" => {
                let scope = ex.principal.as_ref().ok().and_then(|p| match p {
                    Principal::Project { env, .. } => Some(env.clone()),
                    _ => None,
                });
                let items = st
                    .instances
                    .iter()
                    .filter(|i| i.service_id == id)
                    .filter(|i| scope.as_ref().is_none_or(|e| *e == i.env_id))
                    .map(|i| {
                        (
                            i.id.clone(),
                            K::Instance(i.service_id.clone(), i.env_id.clone()),
                        )
                    })
                    .collect();
                drop(st);
                self.connection(info, items)
            }
            _ => Err(self.not_implemented(info)),
        }
    }

    fn instance<'b>(&'b self, info: &'b ResolveInfo<'b>, sid: &str, eid: &str) -> Res<'b> {
        let ex = self.ex;
        let st = ex.st.borrow();
        let Some(i) = st.instance(sid, eid) else {
            return Err(err("ServiceInstance not found"));
        };
        let field = info.field_name();
        match field {
            "id" => leaf(json!(i.id)),
            "serviceId" => leaf(json!(i.service_id)),
            "environmentId" => leaf(json!(i.env_id)),
            "serviceName" => leaf(json!(st.service(sid).map(|s| s.name.clone()))),
            "createdAt" => leaf(ex.ts(i.created)),
            "updatedAt" => leaf(ex.ts(i.updated)),
            "deletedAt" | "upstreamUrl" | "nextCronRunAt" | "edgeConfig" | "railpackInfo" => {
                leaf(Value::Null)
            }
            "isUpdatable" => leaf(json!(true)),
            "service" => {
                drop(st);
                self.obj(info, K::Service(sid.to_string()))
            }
            "source" => match &i.source {
                Some(src) => {
                    let k = K::Source(src.image.clone(), src.repo.clone());
                    drop(st);
                    self.obj(info, k)
                }
                None => leaf(Value::Null),
            },
            "domains" => {
                let ids = st
                    .instance_domains(sid, eid)
                    .into_iter()
                    .filter(|d| ex.listed(d.created))
                    .map(|d| d.id.clone())
                    .collect();
                drop(st);
                self.obj(info, K::AllDomains(ids))
            }
            "latestDeployment" => match st.latest_deployment(sid, eid) {
                Some(d) => {
                    let id = d.id.clone();
                    drop(st);
                    self.obj(info, K::Deployment(id))
                }
                None => leaf(Value::Null),
            },
            "activeDeployments" => {
                let ks = st
                    .deployments
                    .iter()
                    .filter(|d| d.service_id == sid && d.env_id == eid)
                    .filter(|d| st.status(d, ex.now) == crate::state::DeploymentStatus::Success)
                    .map(|d| K::Deployment(d.id.clone()))
                    .collect();
                drop(st);
                self.objs(info, ks)
            }
            "buildCommand"
            | "builder"
            | "cronSchedule"
            | "dockerfilePath"
            | "drainingSeconds"
            | "healthcheckPath"
            | "healthcheckTimeout"
            | "ipv6EgressEnabled"
            | "nixpacksPlan"
            | "numReplicas"
            | "overlapSeconds"
            | "preDeployCommand"
            | "railwayConfigFile"
            | "region"
            | "restartPolicyMaxRetries"
            | "restartPolicyType"
            | "rootDirectory"
            | "sleepApplication"
            | "startCommand"
            | "watchPatterns" => leaf(i.settings.get(field).cloned().unwrap_or(Value::Null)),
            _ => Err(self.not_implemented(info)),
        }
    }

    fn deployment<'b>(&'b self, info: &'b ResolveInfo<'b>, id: &str) -> Res<'b> {
        let ex = self.ex;
        let st = ex.st.borrow();
        let Some(d) = st.deployment(id) else {
            return Err(err("Deployment not found"));
        };
        match info.field_name() {
            "id" => leaf(json!(d.id)),
            "status" => leaf(json!(st.status(d, ex.now).as_str())),
            "meta" => leaf(d.meta.clone()),
            "staticUrl" => leaf(json!(d.static_url)),
            "url" => leaf(json!(d.static_url.as_ref().map(|u| format!("https://{u}")))),
            "createdAt" => leaf(ex.ts(d.created)),
            "updatedAt" | "statusUpdatedAt" => leaf(ex.ts(st.status_since(d, ex.now))),
            "projectId" => leaf(json!(d.project_id)),
            "serviceId" => leaf(json!(d.service_id)),
            "environmentId" => leaf(json!(d.env_id)),
            "snapshotId" | "diagnosis" | "creator" => leaf(Value::Null),
            "canRedeploy" => leaf(json!(true)),
            "canRollback" | "deploymentStopped" => leaf(json!(false)),
            "suggestAddServiceDomain" => leaf(json!(
                st.instance_domains(&d.service_id, &d.env_id).is_empty()
            )),
            "service" => {
                let s = d.service_id.clone();
                drop(st);
                self.obj(info, K::Service(s))
            }
            "environment" => {
                let e = d.env_id.clone();
                drop(st);
                self.obj(info, K::Environment(e))
            }
            _ => Err(self.not_implemented(info)),
        }
    }

    fn service_domain<'b>(&'b self, info: &'b ResolveInfo<'b>, id: &str) -> Res<'b> {
        let ex = self.ex;
        let st = ex.st.borrow();
        let Some(d) = st.domain(id) else {
            return Err(err("Domain not found"));
        };
        match info.field_name() {
            "id" => leaf(json!(d.id)),
            "domain" => leaf(json!(d.domain)),
            "suffix" => leaf(json!("up.railway.app")),
            "targetPort" => leaf(json!(d.target_port)),
            "serviceId" => leaf(json!(d.service_id)),
            "environmentId" => leaf(json!(d.env_id)),
            "projectId" => leaf(json!(d.project_id)),
            "syncStatus" => leaf(json!("ACTIVE")),
            "createdAt" | "updatedAt" => leaf(ex.ts(d.created)),
            "deletedAt" | "cdnMode" | "edgeId" | "newDomainName" | "newHostLabel" => {
                leaf(Value::Null)
            }
            _ => Err(self.not_implemented(info)),
        }
    }

    fn user<'b>(&'b self, info: &'b ResolveInfo<'b>) -> Res<'b> {
        let ex = self.ex;
        let p = ex.principal()?;
        match info.field_name() {
            "id" => leaf(json!("emulated-user")),
            "name" => leaf(json!("Emulated User")),
            "username" => leaf(json!("emulated-user")),
            "email" => leaf(json!("emulated-user@example.com")),
            "workspaces" => {
                let st = ex.st.borrow();
                let ks = st
                    .workspaces
                    .iter()
                    .filter(|w| State::sees_workspace(p, &w.id))
                    .map(|w| K::Workspace(w.id.clone()))
                    .collect();
                drop(st);
                self.objs(info, ks)
            }
            _ => Err(self.not_implemented(info)),
        }
    }

    fn token_context<'b>(&'b self, info: &'b ResolveInfo<'b>) -> Res<'b> {
        let ex = self.ex;
        let p = ex.principal()?;
        match info.field_name() {
            "workspaces" => {
                let st = ex.st.borrow();
                let ks = st
                    .workspaces
                    .iter()
                    .filter(|w| State::sees_workspace(p, &w.id))
                    .map(|w| K::TokenWorkspace(w.id.clone()))
                    .collect();
                drop(st);
                self.objs(info, ks)
            }
            _ => Err(self.not_implemented(info)),
        }
    }

    fn token_workspace<'b>(&'b self, info: &'b ResolveInfo<'b>, id: &str) -> Res<'b> {
        let st = self.ex.st.borrow();
        let Some(w) = st.workspaces.iter().find(|w| w.id == id) else {
            return Err(err("Workspace not found"));
        };
        match info.field_name() {
            "id" => leaf(json!(w.id)),
            "name" => leaf(json!(w.name)),
            _ => Err(self.not_implemented(info)),
        }
    }

    fn workspace<'b>(&'b self, info: &'b ResolveInfo<'b>, id: &str) -> Res<'b> {
        let ex = self.ex;
        let st = ex.st.borrow();
        let Some(w) = st.workspaces.iter().find(|w| w.id == id) else {
            return Err(err("Workspace not found"));
        };
        match info.field_name() {
            "id" => leaf(json!(w.id)),
            "name" => leaf(json!(w.name)),
            "plan" => leaf(json!(w.plan.graphql_name())),
            "projects" => {
                let p = ex.principal()?;
                let items = st
                    .visible_projects(p)
                    .into_iter()
                    .filter(|pr| pr.workspace_id == id)
                    .map(|pr| (pr.id.clone(), K::Project(pr.id.clone())))
                    .collect();
                drop(st);
                self.connection(info, items)
            }
            _ => Err(self.not_implemented(info)),
        }
    }

    fn project_token<'b>(
        &'b self,
        info: &'b ResolveInfo<'b>,
        project: &str,
        env: &str,
        record: Option<&str>,
    ) -> Res<'b> {
        let ex = self.ex;
        let st = ex.st.borrow();
        let rec = record.and_then(|r| st.project_tokens.iter().find(|t| t.id == r));
        match info.field_name() {
            "projectId" => leaf(json!(project)),
            "environmentId" => leaf(json!(env)),
            "id" => leaf(json!(
                rec.map(|r| r.id.clone())
                    .unwrap_or_else(|| format!("token-{project}"))
            )),
            "name" => leaf(json!(
                rec.map(|r| r.name.clone())
                    .unwrap_or_else(|| "configured".into())
            )),
            "displayToken" => leaf(json!(rec.map(|r| r.display.clone()).unwrap_or_default())),
            "createdAt" => leaf(ex.ts(rec.map(|r| r.created).unwrap_or(0.0))),
            "project" => {
                drop(st);
                self.obj(info, K::Project(project.to_string()))
            }
            "environment" => {
                drop(st);
                self.obj(info, K::Environment(env.to_string()))
            }
            _ => Err(self.not_implemented(info)),
        }
    }
}
