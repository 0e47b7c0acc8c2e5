//! The emulated Railway account: workspaces, projects, environments, services, service
//! instances, variables, domains, deployments and project tokens, plus the rules that change
//! them. Resolvers (`resolve.rs`) call into this; nothing here knows about GraphQL.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value, json};

use crate::config::{Behaviour, Config, DeployTimings, Plan, TokenKind};
use crate::util::{Rng, fnv};

pub(crate) type R<T> = Result<T, String>;

/// `(environment id, service id or None for shared variables)`.
pub(crate) type VarKey = (String, Option<String>);

pub(crate) const NOT_AUTHORIZED: &str = "Not Authorized";

/// Who is calling, resolved from the request's token.
#[derive(Clone, Debug)]
pub(crate) enum Principal {
    Account { workspaces: Vec<String> },
    Workspace { workspace: String },
    Project { project: String, env: String },
}

#[derive(Clone, Debug)]
pub(crate) struct TokenEntry {
    pub kind: TokenKind,
    pub plan: Plan,
    /// A non-secret name for logs: `account#1`, `workspace#2`, `project-token#3`, …
    pub label: String,
    /// For tokens minted by `projectTokenCreate`: the `ProjectToken` record id.
    pub record_id: Option<String>,
}

#[derive(Clone, Debug)]
pub(crate) struct Workspace {
    pub id: String,
    pub name: String,
    pub plan: Plan,
}

#[derive(Clone, Debug)]
pub(crate) struct Project {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub workspace_id: String,
    pub is_public: bool,
    pub pr_deploys: bool,
    pub created: f64,
    pub updated: f64,
}

#[derive(Clone, Debug)]
pub(crate) struct Environment {
    pub id: String,
    pub project_id: String,
    pub name: String,
    pub created: f64,
}

#[derive(Clone, Debug)]
pub(crate) struct Service {
    pub id: String,
    pub project_id: String,
    pub name: String,
    pub icon: Option<String>,
    pub created: f64,
    pub updated: f64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub(crate) struct Source {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
}

impl Source {
    pub fn is_empty(&self) -> bool {
        self.image.is_none() && self.repo.is_none()
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Instance {
    pub id: String,
    pub service_id: String,
    pub env_id: String,
    pub source: Option<Source>,
    /// `ServiceInstanceUpdateInput` fields as last set (JSON values), plus defaults.
    pub settings: Map<String, Value>,
    /// `serviceInstanceLimitsUpdate`: `{"vCPUs":…, "memoryGB":…}`.
    pub limits: Map<String, Value>,
    pub created: f64,
    pub updated: f64,
}

#[derive(Clone, Debug)]
pub(crate) struct Domain {
    pub id: String,
    pub service_id: String,
    pub env_id: String,
    pub project_id: String,
    pub domain: String,
    pub target_port: Option<i64>,
    pub created: f64,
}

#[derive(Clone, Debug)]
pub(crate) struct Deployment {
    pub id: String,
    pub seq: u64,
    pub project_id: String,
    pub service_id: String,
    pub env_id: String,
    pub created: f64,
    pub failed: bool,
    pub cancelled_at: Option<f64>,
    pub meta: Value,
    pub static_url: Option<String>,
}

#[derive(Clone, Debug)]
pub(crate) struct ProjectTokenRec {
    pub id: String,
    pub name: String,
    pub project_id: String,
    pub display: String,
    pub created: f64,
}

/// A deployment's status, as in the schema's `DeploymentStatus` enum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeploymentStatus {
    Queued,
    Building,
    Deploying,
    Success,
    Failed,
    Removed,
    Skipped,
    /// Approval-gated: stays so until someone approves it in Railway (notes §10).
    NeedsApproval,
    /// A serverless service asleep after a successful deploy (notes §10).
    Sleeping,
}

impl DeploymentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeploymentStatus::Queued => "QUEUED",
            DeploymentStatus::Building => "BUILDING",
            DeploymentStatus::Deploying => "DEPLOYING",
            DeploymentStatus::Success => "SUCCESS",
            DeploymentStatus::Failed => "FAILED",
            DeploymentStatus::Removed => "REMOVED",
            DeploymentStatus::Skipped => "SKIPPED",
            DeploymentStatus::NeedsApproval => "NEEDS_APPROVAL",
            DeploymentStatus::Sleeping => "SLEEPING",
        }
    }
}

/// Why a deployment was made (recorded in `meta.reason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reason {
    Deploy,
    Redeploy,
    Variables,
}

impl Reason {
    fn as_str(self) -> &'static str {
        match self {
            Reason::Deploy => "deploy",
            Reason::Redeploy => "redeploy",
            Reason::Variables => "variable_change",
        }
    }
}

pub(crate) struct State {
    pub workspaces: Vec<Workspace>,
    pub tokens: HashMap<String, TokenEntry>,
    pub projects: Vec<Project>,
    pub environments: Vec<Environment>,
    pub services: Vec<Service>,
    pub instances: Vec<Instance>,
    /// `(environment id, service id or None for shared)` → name → raw value.
    pub variables: BTreeMap<VarKey, BTreeMap<String, String>>,
    pub domains: Vec<Domain>,
    pub deployments: Vec<Deployment>,
    pub project_tokens: Vec<ProjectTokenRec>,
    pub timings: DeployTimings,
    pub behaviour: Behaviour,
    /// Every id and generated domain the emulator handed out, with a stable placeholder
    /// (`<project:1>`, …) used to normalise logs and snapshots.
    pub placeholders: HashMap<String, String>,
    placeholder_counts: HashMap<&'static str, u64>,
    ids: Rng,
    deploy_seq: u64,
    token_seq: u64,
}

impl State {
    pub(crate) fn new(cfg: &Config) -> Self {
        let mut st = State {
            workspaces: cfg
                .workspaces
                .iter()
                .map(|w| Workspace {
                    id: w.id.clone(),
                    name: w.name.clone(),
                    plan: w.plan,
                })
                .collect(),
            tokens: HashMap::new(),
            projects: vec![],
            environments: vec![],
            services: vec![],
            instances: vec![],
            variables: BTreeMap::new(),
            domains: vec![],
            deployments: vec![],
            project_tokens: vec![],
            timings: cfg.deploy_timings,
            behaviour: cfg.behaviour,
            placeholders: HashMap::new(),
            placeholder_counts: HashMap::new(),
            ids: Rng::derive(cfg.seed, 1, 0),
            deploy_seq: 0,
            token_seq: 0,
        };
        for w in &cfg.workspaces {
            st.register(&w.id, "workspace");
        }
        for t in &cfg.tokens {
            st.add_token(t.token.clone(), t.kind.clone(), t.plan, None);
        }
        st
    }

    pub(crate) fn add_token(
        &mut self,
        token: String,
        kind: TokenKind,
        plan: Plan,
        record_id: Option<String>,
    ) {
        self.token_seq += 1;
        let prefix = match (&kind, &record_id) {
            (TokenKind::Account { .. }, _) => "account",
            (TokenKind::Workspace { .. }, _) => "workspace",
            (TokenKind::Project { .. }, _) => "project-token",
        };
        let label = format!("{prefix}#{}", self.token_seq);
        self.tokens.insert(
            token,
            TokenEntry {
                kind,
                plan,
                label,
                record_id,
            },
        );
    }

    fn register(&mut self, id: &str, kind: &'static str) {
        let n = self.placeholder_counts.entry(kind).or_insert(0);
        *n += 1;
        self.placeholders
            .insert(id.to_string(), format!("<{kind}:{n}>"));
    }

    fn new_id(&mut self, kind: &'static str) -> String {
        let id = self.ids.uuid();
        self.register(&id, kind);
        id
    }

    // ---------------------------------------------------------------- access control

    pub(crate) fn principal(&self, token: &TokenEntry) -> Principal {
        match &token.kind {
            TokenKind::Account { workspace_ids } => Principal::Account {
                workspaces: workspace_ids.clone(),
            },
            TokenKind::Workspace { workspace_id } => Principal::Workspace {
                workspace: workspace_id.clone(),
            },
            TokenKind::Project {
                project_id,
                environment_id,
            } => Principal::Project {
                project: project_id.clone(),
                env: environment_id.clone(),
            },
        }
    }

    pub(crate) fn sees_workspace(p: &Principal, ws: &str) -> bool {
        match p {
            Principal::Account { workspaces } => workspaces.iter().any(|w| w == ws),
            Principal::Workspace { workspace } => workspace == ws,
            Principal::Project { .. } => false,
        }
    }

    fn sees_project(&self, p: &Principal, project: &Project) -> bool {
        match p {
            Principal::Project { project: pid, .. } => *pid == project.id,
            _ => Self::sees_workspace(p, &project.workspace_id),
        }
    }

    fn sees_env(&self, p: &Principal, env: &Environment) -> bool {
        match p {
            Principal::Project { env: eid, .. } => *eid == env.id,
            _ => self
                .project(&env.project_id)
                .is_some_and(|pr| self.sees_project(p, pr)),
        }
    }

    pub(crate) fn project(&self, id: &str) -> Option<&Project> {
        self.projects.iter().find(|p| p.id == id)
    }

    pub(crate) fn env(&self, id: &str) -> Option<&Environment> {
        self.environments.iter().find(|e| e.id == id)
    }

    pub(crate) fn service(&self, id: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.id == id)
    }

    pub(crate) fn instance(&self, service: &str, env: &str) -> Option<&Instance> {
        self.instances
            .iter()
            .find(|i| i.service_id == service && i.env_id == env)
    }

    fn instance_mut(&mut self, service: &str, env: &str) -> Option<&mut Instance> {
        self.instances
            .iter_mut()
            .find(|i| i.service_id == service && i.env_id == env)
    }

    pub(crate) fn deployment(&self, id: &str) -> Option<&Deployment> {
        self.deployments.iter().find(|d| d.id == id)
    }

    pub(crate) fn domain(&self, id: &str) -> Option<&Domain> {
        self.domains.iter().find(|d| d.id == id)
    }

    pub(crate) fn check_project(&self, p: &Principal, id: &str) -> R<&Project> {
        match self.project(id) {
            Some(pr) if self.sees_project(p, pr) => Ok(pr),
            Some(_) => Err(NOT_AUTHORIZED.into()),
            None => Err("Project not found".into()),
        }
    }

    pub(crate) fn check_env(&self, p: &Principal, id: &str) -> R<&Environment> {
        match self.env(id) {
            Some(e) if self.sees_env(p, e) => Ok(e),
            Some(_) => Err(NOT_AUTHORIZED.into()),
            None => Err("Environment not found".into()),
        }
    }

    pub(crate) fn check_service(&self, p: &Principal, id: &str) -> R<&Service> {
        match self.service(id) {
            Some(s) => {
                self.check_project(p, &s.project_id)
                    .map_err(|_| NOT_AUTHORIZED.to_string())?;
                Ok(s)
            }
            None => Err("Service not found".into()),
        }
    }

    pub(crate) fn check_instance(&self, p: &Principal, service: &str, env: &str) -> R<&Instance> {
        self.check_service(p, service)?;
        self.check_env(p, env)?;
        self.instance(service, env)
            .ok_or_else(|| "ServiceInstance not found".into())
    }

    pub(crate) fn check_deployment(&self, p: &Principal, id: &str) -> R<&Deployment> {
        match self.deployment(id) {
            Some(d) => {
                self.check_env(p, &d.env_id)
                    .map_err(|_| NOT_AUTHORIZED.to_string())?;
                Ok(d)
            }
            None => Err("Deployment not found".into()),
        }
    }

    /// Project tokens may only touch their own environment; `env` None means "every
    /// environment", which they may not do.
    fn check_env_scope(&self, p: &Principal, project: &str, env: Option<&str>) -> R<()> {
        match (p, env) {
            (Principal::Project { .. }, None) => Err(NOT_AUTHORIZED.into()),
            (_, Some(e)) => {
                let env = self.check_env(p, e)?;
                if env.project_id != project {
                    return Err("Environment does not belong to this project".into());
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    pub(crate) fn visible_projects(&self, p: &Principal) -> Vec<&Project> {
        self.projects
            .iter()
            .filter(|pr| self.sees_project(p, pr))
            .collect()
    }

    pub(crate) fn project_envs(&self, project: &str) -> Vec<&Environment> {
        self.environments
            .iter()
            .filter(|e| e.project_id == project)
            .collect()
    }

    pub(crate) fn project_services(&self, project: &str) -> Vec<&Service> {
        self.services
            .iter()
            .filter(|s| s.project_id == project)
            .collect()
    }

    pub(crate) fn env_instances(&self, env: &str) -> Vec<&Instance> {
        self.instances.iter().filter(|i| i.env_id == env).collect()
    }

    pub(crate) fn instance_domains(&self, service: &str, env: &str) -> Vec<&Domain> {
        self.domains
            .iter()
            .filter(|d| d.service_id == service && d.env_id == env)
            .collect()
    }

    // ---------------------------------------------------------------- projects

    pub(crate) fn project_create(
        &mut self,
        p: &Principal,
        input: &Map<String, Value>,
        now: f64,
    ) -> R<String> {
        let ws = match (p, opt_str(input, "workspaceId")) {
            (Principal::Project { .. }, _) => return Err(NOT_AUTHORIZED.into()),
            (_, Some(ws)) => {
                if self.workspaces.iter().all(|w| w.id != ws) {
                    return Err("Workspace not found".into());
                }
                if !Self::sees_workspace(p, &ws) {
                    return Err(NOT_AUTHORIZED.into());
                }
                ws
            }
            // Without `workspaceId` a project goes to the personal account (notes §10), which a
            // workspace token cannot reach.
            (Principal::Workspace { .. }, None) => return Err(NOT_AUTHORIZED.into()),
            (Principal::Account { workspaces }, None) => match workspaces.as_slice() {
                [only] => only.clone(),
                [] => return Err(NOT_AUTHORIZED.into()),
                _ => {
                    return Err(
                        "workspaceId is required: this token has access to several workspaces"
                            .into(),
                    );
                }
            },
        };
        let id = self.new_id("project");
        let name =
            opt_str(input, "name").unwrap_or_else(|| format!("project-{}", self.ids.alnum(6)));
        self.projects.push(Project {
            id: id.clone(),
            name,
            description: opt_str(input, "description"),
            workspace_id: ws,
            is_public: input
                .get("isPublic")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            pr_deploys: input
                .get("prDeploys")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            created: now,
            updated: now,
        });
        let env_name =
            opt_str(input, "defaultEnvironmentName").unwrap_or_else(|| "production".into());
        self.env_create_inner(&id, env_name, now);
        Ok(id)
    }

    fn env_create_inner(&mut self, project: &str, name: String, now: f64) -> String {
        let id = self.new_id("environment");
        self.environments.push(Environment {
            id: id.clone(),
            project_id: project.to_string(),
            name,
            created: now,
        });
        let services: Vec<String> = self
            .project_services(project)
            .iter()
            .map(|s| s.id.clone())
            .collect();
        for s in services {
            self.instance_create(&s, &id, now);
        }
        id
    }

    pub(crate) fn project_update(
        &mut self,
        p: &Principal,
        id: &str,
        input: &Map<String, Value>,
        now: f64,
    ) -> R<()> {
        if matches!(p, Principal::Project { .. }) {
            return Err(NOT_AUTHORIZED.into());
        }
        self.check_project(p, id)?;
        let pr = self.projects.iter_mut().find(|pr| pr.id == id).unwrap();
        if let Some(n) = opt_str(input, "name") {
            pr.name = n;
        }
        if let Some(v) = input.get("description").filter(|v| !v.is_null()) {
            pr.description = v.as_str().map(str::to_string);
        }
        if let Some(b) = input.get("isPublic").and_then(Value::as_bool) {
            pr.is_public = b;
        }
        if let Some(b) = input.get("prDeploys").and_then(Value::as_bool) {
            pr.pr_deploys = b;
        }
        pr.updated = now;
        Ok(())
    }

    pub(crate) fn project_delete(&mut self, p: &Principal, id: &str) -> R<()> {
        if matches!(p, Principal::Project { .. }) {
            return Err(NOT_AUTHORIZED.into());
        }
        self.check_project(p, id)?;
        let services: Vec<String> = self
            .project_services(id)
            .iter()
            .map(|s| s.id.clone())
            .collect();
        for s in services {
            self.service_delete_inner(&s);
        }
        let envs: Vec<String> = self.project_envs(id).iter().map(|e| e.id.clone()).collect();
        self.environments.retain(|e| e.project_id != id);
        self.variables.retain(|(e, _), _| !envs.contains(e));
        self.projects.retain(|pr| pr.id != id);
        let dead: Vec<String> = self
            .project_tokens
            .iter()
            .filter(|t| t.project_id == id)
            .map(|t| t.id.clone())
            .collect();
        self.project_tokens.retain(|t| t.project_id != id);
        self.tokens
            .retain(|_, t| t.record_id.as_ref().is_none_or(|r| !dead.contains(r)));
        Ok(())
    }

    pub(crate) fn environment_create(
        &mut self,
        p: &Principal,
        input: &Map<String, Value>,
        now: f64,
    ) -> R<String> {
        if matches!(p, Principal::Project { .. }) {
            return Err(NOT_AUTHORIZED.into());
        }
        let project = req_str(input, "projectId")?;
        let name = req_str(input, "name")?;
        self.check_project(p, &project)?;
        if self.project_envs(&project).iter().any(|e| e.name == name) {
            return Err(format!("Environment with name \"{name}\" already exists"));
        }
        let source = opt_str(input, "sourceEnvironmentId");
        if let Some(s) = &source {
            let e = self.check_env(p, s)?;
            if e.project_id != project {
                return Err("Environment does not belong to this project".into());
            }
        }
        let id = self.env_create_inner(&project, name, now);
        if let Some(src) = source {
            // Copy settings, sources and variables from the source environment.
            let copies: Vec<(String, Option<Source>, Map<String, Value>)> = self
                .env_instances(&src)
                .iter()
                .map(|i| (i.service_id.clone(), i.source.clone(), i.settings.clone()))
                .collect();
            for (svc, source, settings) in copies {
                if let Some(i) = self.instance_mut(&svc, &id) {
                    i.source = source;
                    i.settings = settings;
                }
            }
            let vars: Vec<(VarKey, BTreeMap<String, String>)> = self
                .variables
                .iter()
                .filter(|((e, _), _)| *e == src)
                .map(|((_, s), v)| ((id.clone(), s.clone()), v.clone()))
                .collect();
            self.variables.extend(vars);
        }
        Ok(id)
    }

    pub(crate) fn environment_delete(&mut self, p: &Principal, id: &str) -> R<()> {
        if matches!(p, Principal::Project { .. }) {
            return Err(NOT_AUTHORIZED.into());
        }
        self.check_env(p, id)?;
        self.environments.retain(|e| e.id != id);
        self.instances.retain(|i| i.env_id != id);
        self.domains.retain(|d| d.env_id != id);
        self.deployments.retain(|d| d.env_id != id);
        self.variables.retain(|(e, _), _| e != id);
        Ok(())
    }

    // ---------------------------------------------------------------- services

    fn instance_create(&mut self, service: &str, env: &str, now: f64) {
        let id = self.new_id("service-instance");
        let mut settings = Map::new();
        settings.insert("builder".into(), json!("RAILPACK"));
        settings.insert("numReplicas".into(), json!(1));
        settings.insert("region".into(), json!("us-west2"));
        settings.insert("restartPolicyType".into(), json!("ON_FAILURE"));
        settings.insert("restartPolicyMaxRetries".into(), json!(10));
        settings.insert("watchPatterns".into(), json!([]));
        self.instances.push(Instance {
            id,
            service_id: service.to_string(),
            env_id: env.to_string(),
            source: None,
            settings,
            limits: Map::new(),
            created: now,
            updated: now,
        });
    }

    fn check_service_name(&self, project: &str, name: &str, except: Option<&str>) -> R<()> {
        if self
            .project_services(project)
            .iter()
            .any(|s| s.name == name && Some(s.id.as_str()) != except)
        {
            return Err(format!(
                "A service named \"{name}\" already exists in this project"
            ));
        }
        Ok(())
    }

    /// Parses a source from `{image, repo}` + branch; `Ok(None)` when a repo has no branch
    /// (Railway accepts the call and attaches nothing: "fails silently", notes §3c).
    fn parse_source(src: &Map<String, Value>, branch: Option<String>) -> R<Option<Source>> {
        let image = opt_str(src, "image").filter(|s| !s.is_empty());
        let repo = opt_str(src, "repo").filter(|s| !s.is_empty());
        match (image, repo) {
            (Some(_), Some(_)) => Err("Only one of image or repo can be set as a source".into()),
            (Some(image), None) => Ok(Some(Source {
                image: Some(image),
                repo: None,
                branch: None,
            })),
            (None, Some(repo)) => {
                let parts: Vec<&str> = repo.split('/').collect();
                if parts.len() != 2 || parts.iter().any(|p| p.is_empty()) {
                    return Err(format!("Repository \"{repo}\" not found"));
                }
                Ok(branch.filter(|b| !b.is_empty()).map(|b| Source {
                    image: None,
                    repo: Some(repo),
                    branch: Some(b),
                }))
            }
            (None, None) => Ok(None),
        }
    }

    pub(crate) fn service_create(
        &mut self,
        p: &Principal,
        input: &Map<String, Value>,
        now: f64,
    ) -> R<String> {
        let project = req_str(input, "projectId")?;
        self.check_project(p, &project)?;
        let env = opt_str(input, "environmentId");
        self.check_env_scope(p, &project, env.as_deref())?;
        let name = match opt_str(input, "name") {
            Some(n) if !n.is_empty() => n,
            _ => format!("service-{}", self.ids.alnum(6)),
        };
        self.check_service_name(&project, &name, None)?;
        let source = match input.get("source").and_then(Value::as_object) {
            Some(src) => Self::parse_source(src, opt_str(input, "branch"))?,
            None => None,
        };
        let vars = match input.get("variables") {
            Some(Value::Null) | None => None,
            Some(v) => Some(variables_map(v)?),
        };
        let id = self.new_id("service");
        self.services.push(Service {
            id: id.clone(),
            project_id: project.clone(),
            name,
            icon: opt_str(input, "icon"),
            created: now,
            updated: now,
        });
        let envs: Vec<String> = self
            .project_envs(&project)
            .iter()
            .map(|e| e.id.clone())
            .collect();
        for e in &envs {
            self.instance_create(&id, e, now);
        }
        // Variables go to the named environment, or to every environment.
        let targets: Vec<String> = match &env {
            Some(e) => vec![e.clone()],
            None => envs.clone(),
        };
        if let Some(vars) = vars {
            for e in &targets {
                self.variables
                    .entry((e.clone(), Some(id.clone())))
                    .or_default()
                    .extend(vars.clone());
            }
        }
        if let Some(src) = source {
            for e in &envs {
                self.instance_mut(&id, e).unwrap().source = Some(src.clone());
            }
            for e in &targets {
                self.deploy(&id, e, Reason::Deploy, None, None, now);
            }
        }
        Ok(id)
    }

    pub(crate) fn service_update(
        &mut self,
        p: &Principal,
        id: &str,
        input: &Map<String, Value>,
        now: f64,
    ) -> R<()> {
        let project = self.check_service(p, id)?.project_id.clone();
        if let Some(n) = opt_str(input, "name") {
            self.check_service_name(&project, &n, Some(id))?;
        }
        let s = self.services.iter_mut().find(|s| s.id == id).unwrap();
        if let Some(n) = opt_str(input, "name") {
            s.name = n;
        }
        if let Some(i) = opt_str(input, "icon") {
            s.icon = Some(i);
        }
        s.updated = now;
        Ok(())
    }

    fn service_delete_inner(&mut self, id: &str) {
        self.services.retain(|s| s.id != id);
        self.instances.retain(|i| i.service_id != id);
        self.domains.retain(|d| d.service_id != id);
        self.deployments.retain(|d| d.service_id != id);
        self.variables.retain(|(_, s), _| s.as_deref() != Some(id));
    }

    pub(crate) fn service_delete(&mut self, p: &Principal, id: &str, env: Option<&str>) -> R<()> {
        let project = self.check_service(p, id)?.project_id.clone();
        self.check_env_scope(p, &project, env)?;
        // Without forked environments, a service is deleted in every environment.
        self.service_delete_inner(id);
        Ok(())
    }

    pub(crate) fn instance_update(
        &mut self,
        p: &Principal,
        service: &str,
        env: Option<&str>,
        input: &Map<String, Value>,
        now: f64,
    ) -> R<()> {
        let project = self.check_service(p, service)?.project_id.clone();
        self.check_env_scope(p, &project, env)?;
        let source = match input.get("source").and_then(Value::as_object) {
            // The update input has no branch: a repo keeps the branch it had.
            Some(src) => {
                let branch = env
                    .and_then(|e| self.instance(service, e))
                    .and_then(|i| i.source.as_ref())
                    .and_then(|s| s.branch.clone());
                Some(Self::parse_source(src, branch.or(Some("main".into())))?)
            }
            None => None,
        };
        let envs: Vec<String> = match env {
            Some(e) => vec![e.to_string()],
            None => self
                .project_envs(&project)
                .iter()
                .map(|e| e.id.clone())
                .collect(),
        };
        for e in envs {
            let Some(inst) = self.instance_mut(service, &e) else {
                return Err("ServiceInstance not found".into());
            };
            for (k, v) in input {
                if v.is_null() || k == "source" || k == "registryCredentials" {
                    continue; // null and omitted both mean "unchanged" (notes pitfall 10)
                }
                // A plain `region` is reported ignored (notes §10): only `multiRegionConfig`
                // places a service, and `region` reads back what it was.
                if k == "region" {
                    continue;
                }
                let v = match v {
                    Value::String(s) if s.is_empty() => Value::Null,
                    other => other.clone(),
                };
                inst.settings.insert(k.clone(), v);
            }
            if let Some(src) = &source {
                inst.source = src.clone();
            }
            inst.updated = now;
        }
        Ok(())
    }

    pub(crate) fn limits_update(
        &mut self,
        p: &Principal,
        input: &Map<String, Value>,
        now: f64,
    ) -> R<()> {
        let service = req_str(input, "serviceId")?;
        let env = req_str(input, "environmentId")?;
        self.check_instance(p, &service, &env)?;
        let inst = self.instance_mut(&service, &env).unwrap();
        for k in ["vCPUs", "memoryGB"] {
            if let Some(v) = input.get(k).filter(|v| !v.is_null()) {
                inst.limits.insert(k.into(), v.clone());
            }
        }
        inst.updated = now;
        Ok(())
    }

    pub(crate) fn service_connect(
        &mut self,
        p: &Principal,
        id: &str,
        input: &Map<String, Value>,
        now: f64,
    ) -> R<()> {
        let project = self.check_service(p, id)?.project_id.clone();
        let source = Self::parse_source(input, opt_str(input, "branch"))?;
        let Some(source) = source else {
            return Ok(()); // nothing to attach (e.g. a repo without a branch): silently nothing
        };
        let envs: Vec<String> = match p {
            Principal::Project { env, .. } => vec![env.clone()],
            _ => self
                .project_envs(&project)
                .iter()
                .map(|e| e.id.clone())
                .collect(),
        };
        for e in envs {
            if let Some(i) = self.instance_mut(id, &e) {
                i.source = Some(source.clone());
                i.updated = now;
            }
            self.deploy(id, &e, Reason::Deploy, None, None, now);
        }
        Ok(())
    }

    // ---------------------------------------------------------------- variables

    pub(crate) fn variable_collection_upsert(
        &mut self,
        p: &Principal,
        input: &Map<String, Value>,
        now: f64,
    ) -> R<()> {
        let project = req_str(input, "projectId")?;
        let env = req_str(input, "environmentId")?;
        let service = opt_str(input, "serviceId");
        self.check_vars_target(p, &project, &env, service.as_deref())?;
        let vars = variables_map(input.get("variables").unwrap_or(&Value::Null))?;
        let replace = input
            .get("replace")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let skip = input
            .get("skipDeploys")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let keys: Vec<String> = vars.keys().cloned().collect();
        let slot = self
            .variables
            .entry((env.clone(), service.clone()))
            .or_default();
        if replace {
            slot.clear();
        }
        slot.extend(vars);
        if !skip {
            self.deploy_after_variable_change(&env, service.as_deref(), &keys, now);
        }
        Ok(())
    }

    pub(crate) fn variable_upsert(
        &mut self,
        p: &Principal,
        input: &Map<String, Value>,
        now: f64,
    ) -> R<()> {
        let project = req_str(input, "projectId")?;
        let env = req_str(input, "environmentId")?;
        let service = opt_str(input, "serviceId");
        self.check_vars_target(p, &project, &env, service.as_deref())?;
        let name = req_str(input, "name")?;
        let value = req_str(input, "value")?;
        let skip = input
            .get("skipDeploys")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        self.variables
            .entry((env.clone(), service.clone()))
            .or_default()
            .insert(name.clone(), value);
        if !skip {
            self.deploy_after_variable_change(&env, service.as_deref(), &[name], now);
        }
        Ok(())
    }

    pub(crate) fn variable_delete(
        &mut self,
        p: &Principal,
        input: &Map<String, Value>,
        now: f64,
    ) -> R<()> {
        let project = req_str(input, "projectId")?;
        let env = req_str(input, "environmentId")?;
        let service = opt_str(input, "serviceId");
        self.check_vars_target(p, &project, &env, service.as_deref())?;
        let name = req_str(input, "name")?;
        let removed = self
            .variables
            .get_mut(&(env.clone(), service.clone()))
            .and_then(|m| m.remove(&name));
        if removed.is_none() {
            return Err(format!("Variable \"{name}\" not found"));
        }
        self.deploy_after_variable_change(&env, service.as_deref(), &[name], now);
        Ok(())
    }

    pub(crate) fn check_vars_target(
        &self,
        p: &Principal,
        project: &str,
        env: &str,
        service: Option<&str>,
    ) -> R<()> {
        self.check_project(p, project)?;
        self.check_env_scope(p, project, Some(env))?;
        if let Some(s) = service {
            let svc = self.check_service(p, s)?;
            if svc.project_id != project {
                return Err("Service does not belong to this project".into());
            }
        }
        Ok(())
    }

    /// A changed service variable redeploys that service; a changed shared variable
    /// redeploys the services of the environment that reference it. Only instances with a
    /// source are redeployed.
    fn deploy_after_variable_change(
        &mut self,
        env: &str,
        service: Option<&str>,
        keys: &[String],
        now: f64,
    ) {
        let targets: Vec<String> = match service {
            Some(s) => vec![s.to_string()],
            None => self
                .env_instances(env)
                .iter()
                .filter(|i| {
                    self.variables
                        .get(&(env.to_string(), Some(i.service_id.clone())))
                        .is_some_and(|vars| {
                            vars.values().any(|v| {
                                references(v).iter().any(|(ns, name)| {
                                    ns.as_deref() == Some("shared") && keys.contains(name)
                                })
                            })
                        })
                })
                .map(|i| i.service_id.clone())
                .collect(),
        };
        for s in targets {
            if self
                .instance(&s, env)
                .is_some_and(|i| i.source.as_ref().is_some_and(|s| !s.is_empty()))
            {
                self.deploy(&s, env, Reason::Variables, None, None, now);
            }
        }
    }

    /// The raw (unrendered) variables of a service, or the shared ones.
    pub(crate) fn raw_variables(
        &self,
        env: &str,
        service: Option<&str>,
    ) -> BTreeMap<String, String> {
        self.variables
            .get(&(env.to_string(), service.map(str::to_string)))
            .cloned()
            .unwrap_or_default()
    }

    /// Variables Railway provides to every service (a subset; see the README).
    pub(crate) fn provided_variables(&self, service: &str, env: &str) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        let (Some(svc), Some(e)) = (self.service(service), self.env(env)) else {
            return m;
        };
        let project = self.project(&svc.project_id);
        if let Some(d) = self.instance_domains(service, env).first() {
            m.insert("RAILWAY_PUBLIC_DOMAIN".into(), d.domain.clone());
        }
        m.insert(
            "RAILWAY_PRIVATE_DOMAIN".into(),
            format!("{}.railway.internal", slug(&svc.name)),
        );
        m.insert("RAILWAY_PROJECT_ID".into(), svc.project_id.clone());
        if let Some(pr) = project {
            m.insert("RAILWAY_PROJECT_NAME".into(), pr.name.clone());
        }
        m.insert("RAILWAY_ENVIRONMENT_ID".into(), e.id.clone());
        m.insert("RAILWAY_ENVIRONMENT_NAME".into(), e.name.clone());
        m.insert("RAILWAY_ENVIRONMENT".into(), e.name.clone());
        m.insert("RAILWAY_SERVICE_ID".into(), svc.id.clone());
        m.insert("RAILWAY_SERVICE_NAME".into(), svc.name.clone());
        m
    }

    /// Rendered variables: references `${{shared.K}}`, `${{Service.K}}` and `${{K}}` resolved;
    /// for a service, Railway-provided variables added.
    pub(crate) fn rendered_variables(
        &self,
        env: &str,
        service: Option<&str>,
    ) -> BTreeMap<String, String> {
        let raw = self.raw_variables(env, service);
        let mut out = match service {
            Some(s) => self.provided_variables(s, env),
            None => BTreeMap::new(),
        };
        for (k, v) in &raw {
            out.insert(k.clone(), self.render(env, service, v, 0));
        }
        out
    }

    fn lookup(&self, env: &str, service: Option<&str>, name: &str, depth: u32) -> String {
        if let Some(v) = self.raw_variables(env, service).get(name) {
            return self.render(env, service, v, depth + 1);
        }
        match service {
            Some(s) => self
                .provided_variables(s, env)
                .get(name)
                .cloned()
                .unwrap_or_default(),
            None => String::new(),
        }
    }

    fn render(&self, env: &str, service: Option<&str>, value: &str, depth: u32) -> String {
        if depth > 8 {
            return String::new();
        }
        let mut out = String::new();
        let mut rest = value;
        while let Some(start) = rest.find("${{") {
            let Some(len) = rest[start..].find("}}") else {
                break;
            };
            out.push_str(&rest[..start]);
            let inner = rest[start + 3..start + len].trim();
            let resolved = match inner.split_once('.') {
                Some(("shared", name)) => self.lookup(env, None, name.trim(), depth),
                Some((svc_name, name)) => {
                    let project = self
                        .env(env)
                        .map(|e| e.project_id.clone())
                        .unwrap_or_default();
                    match self
                        .project_services(&project)
                        .iter()
                        .find(|s| s.name == svc_name.trim())
                    {
                        Some(s) => self.lookup(env, Some(&s.id), name.trim(), depth),
                        None => String::new(),
                    }
                }
                None => self.lookup(env, service, inner, depth),
            };
            out.push_str(&resolved);
            rest = &rest[start + len + 2..];
        }
        out.push_str(rest);
        out
    }

    // ---------------------------------------------------------------- domains

    pub(crate) fn domain_create(
        &mut self,
        p: &Principal,
        input: &Map<String, Value>,
        now: f64,
    ) -> R<String> {
        let service = req_str(input, "serviceId")?;
        let env = req_str(input, "environmentId")?;
        self.check_instance(p, &service, &env)?;
        let svc_name = self.service(&service).unwrap().name.clone();
        let project = self.service(&service).unwrap().project_id.clone();
        let id = self.new_id("domain");
        let host = format!("{}-{}.up.railway.app", slug(&svc_name), self.ids.alnum(6));
        self.register(&host, "hostname");
        self.domains.push(Domain {
            id: id.clone(),
            service_id: service,
            env_id: env,
            project_id: project,
            domain: host,
            target_port: input.get("targetPort").and_then(Value::as_i64),
            created: now,
        });
        Ok(id)
    }

    /// `serviceDomainUpdate`: sets `targetPort` (omitted or null: unchanged, notes pitfall 10).
    /// Renaming (a `domain` other than the current one) is not implemented.
    pub(crate) fn domain_update(&mut self, p: &Principal, input: &Map<String, Value>) -> R<()> {
        let id = req_str(input, "serviceDomainId")?;
        let service = req_str(input, "serviceId")?;
        let env = req_str(input, "environmentId")?;
        let name = req_str(input, "domain")?;
        let Some(d) = self.domain(&id) else {
            return Err("Domain not found".into());
        };
        if d.service_id != service || d.env_id != env {
            return Err("Domain not found".into());
        }
        if d.domain != name {
            return Err(
                "not implemented by the emulator: renaming a service domain (serviceDomainUpdate.domain)"
                    .into(),
            );
        }
        self.check_instance(p, &service, &env)?;
        let port = input.get("targetPort").and_then(Value::as_i64);
        let d = self.domains.iter_mut().find(|d| d.id == id).unwrap();
        if port.is_some() {
            d.target_port = port;
        }
        Ok(())
    }

    pub(crate) fn domain_delete(&mut self, p: &Principal, id: &str) -> R<()> {
        let Some(d) = self.domain(id) else {
            return Err("Domain not found".into());
        };
        self.check_instance(p, &d.service_id.clone(), &d.env_id.clone())?;
        self.domains.retain(|d| d.id != id);
        Ok(())
    }

    // ---------------------------------------------------------------- deployments

    fn total_secs(&self) -> f64 {
        (self.timings.queued + self.timings.building + self.timings.deploying).as_secs_f64()
    }

    /// Creates a deployment of the instance's current source (or `source_override`).
    pub(crate) fn deploy(
        &mut self,
        service: &str,
        env: &str,
        reason: Reason,
        source_override: Option<Source>,
        commit: Option<String>,
        now: f64,
    ) -> String {
        let inst = self.instance(service, env).cloned();
        let source = source_override.or_else(|| inst.as_ref().and_then(|i| i.source.clone()));
        let project = self
            .service(service)
            .map(|s| s.project_id.clone())
            .unwrap_or_default();
        let id = self.new_id("deployment");
        self.deploy_seq += 1;
        let mut meta = Map::new();
        meta.insert("reason".into(), json!(reason.as_str()));
        let failed = source.as_ref().is_none_or(Source::is_empty);
        if let Some(src) = &source {
            if let Some(i) = &src.image {
                meta.insert("image".into(), json!(i));
            }
            if let Some(r) = &src.repo {
                meta.insert("repo".into(), json!(r));
                let branch = src.branch.clone().unwrap_or_else(|| "main".into());
                let sha = commit.clone().unwrap_or_else(|| fake_sha(r, &branch));
                meta.insert("branch".into(), json!(branch));
                meta.insert("commitHash".into(), json!(sha));
            }
        }
        if let Some(i) = &inst {
            meta.insert("serviceManifest".into(), Value::Object(i.settings.clone()));
            if let Some(rd) = i.settings.get("rootDirectory").filter(|v| !v.is_null()) {
                meta.insert("rootDirectory".into(), rd.clone());
            }
        }
        let mut vars = self.rendered_variables(env, Some(service));
        vars.insert("RAILWAY_DEPLOYMENT_ID".into(), id.clone());
        meta.insert("variables".into(), json!(vars));
        let static_url = self
            .instance_domains(service, env)
            .first()
            .map(|d| d.domain.clone());
        self.deployments.push(Deployment {
            id: id.clone(),
            seq: self.deploy_seq,
            project_id: project,
            service_id: service.to_string(),
            env_id: env.to_string(),
            created: now,
            failed,
            cancelled_at: None,
            meta: Value::Object(meta),
            static_url,
        });
        id
    }

    fn natural(&self, d: &Deployment, t: f64) -> DeploymentStatus {
        if d.failed {
            return DeploymentStatus::Failed;
        }
        if self.behaviour.approval_required {
            return DeploymentStatus::NeedsApproval;
        }
        let e = t - d.created;
        let q = self.timings.queued.as_secs_f64();
        let b = q + self.timings.building.as_secs_f64();
        let dp = b + self.timings.deploying.as_secs_f64();
        if e < q {
            DeploymentStatus::Queued
        } else if e < b {
            DeploymentStatus::Building
        } else if e < dp {
            DeploymentStatus::Deploying
        } else {
            DeploymentStatus::Success
        }
    }

    fn next_of<'a>(&'a self, d: &Deployment) -> Option<&'a Deployment> {
        self.deployments
            .iter()
            .filter(|n| n.service_id == d.service_id && n.env_id == d.env_id && n.seq > d.seq)
            .min_by_key(|n| n.seq)
    }

    /// When `d` reached (or will reach) SUCCESS, if it does.
    fn success_time(&self, d: &Deployment) -> Option<f64> {
        if d.failed {
            return None;
        }
        let ts = d.created + self.total_secs();
        if d.cancelled_at.is_some_and(|c| c <= ts) {
            return None;
        }
        if self.next_of(d).is_some_and(|n| n.created < ts) {
            return None;
        }
        Some(ts)
    }

    /// The status of `d` at emulated time `now`. A deployment still in progress when a newer
    /// one of the same instance is created becomes SKIPPED; a successful one becomes REMOVED
    /// once a newer one succeeds; a cancelled one is REMOVED.
    pub(crate) fn status(&self, d: &Deployment, now: f64) -> DeploymentStatus {
        if d.cancelled_at.is_some_and(|c| c <= now) {
            return DeploymentStatus::Removed;
        }
        if let Some(n) = self.next_of(d)
            && n.created <= now
            && !d.failed
            && self.natural(d, n.created) != DeploymentStatus::Success
        {
            return DeploymentStatus::Skipped;
        }
        let natural = self.natural(d, now);
        if natural == DeploymentStatus::Success {
            let superseded = self
                .deployments
                .iter()
                .filter(|m| m.service_id == d.service_id && m.env_id == d.env_id && m.seq > d.seq)
                .any(|m| self.success_time(m).is_some_and(|t| t <= now));
            if superseded {
                return DeploymentStatus::Removed;
            }
            if self.behaviour.sleep_when_idle {
                return DeploymentStatus::Sleeping;
            }
        }
        natural
    }

    /// When `d` entered the status it has at `now`.
    pub(crate) fn status_since(&self, d: &Deployment, now: f64) -> f64 {
        let q = self.timings.queued.as_secs_f64();
        let b = q + self.timings.building.as_secs_f64();
        match self.status(d, now) {
            DeploymentStatus::Queued
            | DeploymentStatus::Failed
            | DeploymentStatus::NeedsApproval => d.created,
            DeploymentStatus::Building => d.created + q,
            DeploymentStatus::Deploying => d.created + b,
            DeploymentStatus::Success | DeploymentStatus::Sleeping => d.created + self.total_secs(),
            DeploymentStatus::Skipped => self.next_of(d).map_or(d.created, |n| n.created),
            DeploymentStatus::Removed => d.cancelled_at.unwrap_or_else(|| {
                self.deployments
                    .iter()
                    .filter(|m| {
                        m.service_id == d.service_id && m.env_id == d.env_id && m.seq > d.seq
                    })
                    .filter_map(|m| self.success_time(m))
                    .filter(|t| *t <= now)
                    .fold(now, f64::min)
            }),
        }
    }

    pub(crate) fn latest_deployment(&self, service: &str, env: &str) -> Option<&Deployment> {
        self.deployments
            .iter()
            .filter(|d| d.service_id == service && d.env_id == env)
            .max_by_key(|d| d.seq)
    }

    pub(crate) fn deploy_v2(
        &mut self,
        p: &Principal,
        service: &str,
        env: &str,
        commit: Option<String>,
        now: f64,
    ) -> R<String> {
        self.check_instance(p, service, env)?;
        Ok(self.deploy(service, env, Reason::Deploy, None, commit, now))
    }

    /// Re-runs the source of the live (latest successful) deployment (notes pitfall 5).
    pub(crate) fn redeploy(
        &mut self,
        p: &Principal,
        service: &str,
        env: &str,
        now: f64,
    ) -> R<String> {
        self.check_instance(p, service, env)?;
        let live = self
            .deployments
            .iter()
            .filter(|d| d.service_id == service && d.env_id == env)
            .filter(|d| {
                matches!(
                    self.status(d, now),
                    DeploymentStatus::Success | DeploymentStatus::Sleeping
                )
            })
            .max_by_key(|d| d.seq)
            .or_else(|| self.latest_deployment(service, env))
            .ok_or_else(|| "No deployment found for this service instance".to_string())?;
        let (src, commit) = source_of_meta(&live.meta);
        Ok(self.deploy(service, env, Reason::Redeploy, Some(src), commit, now))
    }

    pub(crate) fn deployment_redeploy(&mut self, p: &Principal, id: &str, now: f64) -> R<String> {
        let d = self.check_deployment(p, id)?.clone();
        let (src, commit) = source_of_meta(&d.meta);
        Ok(self.deploy(
            &d.service_id,
            &d.env_id,
            Reason::Redeploy,
            Some(src),
            commit,
            now,
        ))
    }

    pub(crate) fn deployment_cancel(&mut self, p: &Principal, id: &str, now: f64) -> R<()> {
        self.check_deployment(p, id)?;
        let d = self.deployment(id).unwrap().clone();
        let status = self.status(&d, now);
        if matches!(
            status,
            DeploymentStatus::Queued | DeploymentStatus::Building | DeploymentStatus::Deploying
        ) {
            self.deployments
                .iter_mut()
                .find(|x| x.id == id)
                .unwrap()
                .cancelled_at = Some(now);
        }
        Ok(())
    }

    // ---------------------------------------------------------------- project tokens

    pub(crate) fn project_token_create(
        &mut self,
        p: &Principal,
        input: &Map<String, Value>,
        plan: Plan,
        now: f64,
    ) -> R<String> {
        if matches!(p, Principal::Project { .. }) {
            return Err(NOT_AUTHORIZED.into());
        }
        let project = req_str(input, "projectId")?;
        let env = req_str(input, "environmentId")?;
        let name = req_str(input, "name")?;
        self.check_project(p, &project)?;
        self.check_env_scope(p, &project, Some(&env))?;
        let id = self.new_id("project-token-record");
        let token = self.ids.uuid();
        self.project_tokens.push(ProjectTokenRec {
            id: id.clone(),
            name,
            project_id: project.clone(),
            display: format!("{}…", &token[..8]),
            created: now,
        });
        self.add_token(
            token.clone(),
            TokenKind::Project {
                project_id: project,
                environment_id: env,
            },
            plan,
            Some(id),
        );
        Ok(token)
    }
}

/// `(namespace, name)` of every `${{…}}` reference in `value`.
pub(crate) fn references(value: &str) -> Vec<(Option<String>, String)> {
    let mut out = vec![];
    let mut rest = value;
    while let Some(start) = rest.find("${{") {
        let Some(len) = rest[start..].find("}}") else {
            break;
        };
        let inner = rest[start + 3..start + len].trim();
        out.push(match inner.split_once('.') {
            Some((ns, n)) => (Some(ns.trim().to_string()), n.trim().to_string()),
            None => (None, inner.to_string()),
        });
        rest = &rest[start + len + 2..];
    }
    out
}

fn source_of_meta(meta: &Value) -> (Source, Option<String>) {
    let s = |k: &str| meta.get(k).and_then(Value::as_str).map(str::to_string);
    (
        Source {
            image: s("image"),
            repo: s("repo"),
            branch: s("branch"),
        },
        s("commitHash"),
    )
}

/// A deterministic 40-hex "latest commit" of a branch.
fn fake_sha(repo: &str, branch: &str) -> String {
    let mut r = Rng::new(fnv(&[repo, branch]));
    r.hex(40)
}

/// Lowercase letters, digits and dashes.
pub(crate) fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let t = out.trim_matches('-').to_string();
    if t.is_empty() { "service".into() } else { t }
}

pub(crate) fn opt_str(m: &Map<String, Value>, k: &str) -> Option<String> {
    m.get(k).and_then(Value::as_str).map(str::to_string)
}

pub(crate) fn req_str(m: &Map<String, Value>, k: &str) -> R<String> {
    opt_str(m, k).ok_or_else(|| format!("{k} is required"))
}

/// An `EnvironmentVariables` value: a JSON object of strings.
pub(crate) fn variables_map(v: &Value) -> R<BTreeMap<String, String>> {
    let Some(obj) = v.as_object() else {
        return Err("variables must be an object of string values".into());
    };
    obj.iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k.clone(), s.clone())),
            _ => Err(format!("variable \"{k}\" must be a string")),
        })
        .collect()
}
