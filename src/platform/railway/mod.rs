//! The `railway` platform: Railway's public GraphQL API (`shared/reference/notes/railway.md`).
//!
//! - One project per owner, `<prefix>-<client>` and `<prefix>-shared`, whose description carries
//!   scalewize's marker; a same-named project without it is an error and is never touched.
//! - One service per [`ServiceKey`], named `<service>[-<user>]`, marked by the variable
//!   `SCALEWIZE_SERVICE` from its `serviceCreate` on (see `model`).
//! - Observe: one projects listing, the instances of many projects' environments per request,
//!   the variables of many services per request (unrendered; secret values are dropped on
//!   arrival, secrets compare by the fingerprints in `SCALEWIZE_FINGERPRINTS`).
//! - Apply: create empty → settings → limits → variables (one upsert, `skipDeploys`) → public
//!   domain → connect the source (which deploys) or deploy → poll to a terminal status.
//!   Updates send only what changed, then one deploy; nothing changed, nothing sent.
//! - Lock: a service whose name is unique in the lock project (see `lock`).
//! - Faults: a mutation whose outcome is unknown fails the step as transient (the executor
//!   observes, then re-plans it); creates that lists may not show yet are looked for again
//!   after the (configurable) list-lag bound before being repeated.

mod api_error;
mod apply;
pub mod client;
mod deployment;
mod doctor;
mod domains;
pub mod fit;
pub mod limits;
pub mod lock;
pub mod model;
mod observe;
pub mod ops;
mod project;
pub mod source;
mod wire;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use self::client::{Api, ApiError};
use self::model::Live;
use super::{Applied, Connection, Platform, Step};
use crate::error::{Error, Result};
use crate::model::{Fields, Observed};
use crate::model::{ServiceKey, ServiceSpec, SpecValue};
use crate::secrets::Secret;
use crate::workspace::{PlatformName, Workspace};

pub const TOKEN_ENV: &str = "RAILWAY_API_TOKEN";
pub const PROJECT_TOKEN_ENV: &str = "RAILWAY_TOKEN";
pub const WORKSPACE_ENV: &str = "RAILWAY_WORKSPACE_ID";
/// How long (unscaled seconds) a list may lag behind a write: before repeating a create whose
/// outcome is unknown, scalewize waits this long and looks again (notes pitfall 6).
pub const LIST_LAG_ENV: &str = "SCALEWIZE_RAILWAY_LIST_LAG_SECS";
pub const DEFAULT_LIST_LAG: Duration = Duration::from_secs(10);

/// A project of ours, with the environment services live in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectRef {
    pub id: String,
    pub name: String,
    pub owner: String,
    pub environment_id: String,
    pub created_at: String,
}

/// What this run knows: from observing, and from its own successful writes.
#[derive(Default)]
struct Cache {
    projects: HashMap<String, ProjectRef>,
    /// Other marked projects of the same owner (only after faults), oldest first.
    duplicates: HashMap<String, Vec<ProjectRef>>,
    services: HashMap<ServiceKey, Live>,
    /// Every service id seen in a project (ours or not), to know when a project is empty.
    members: HashMap<String, BTreeSet<String>>,
    /// Projects and services this run created (a lagging list must not make us forget them).
    made_projects: HashSet<String>,
    made_services: HashSet<ServiceKey>,
    /// Domains this run created, by service id.
    made_domains: HashMap<String, model::Domain>,
    /// Creates whose outcome is unknown, by `project:<owner>` / `domain:<service id>`.
    pending: HashMap<String, Instant>,
}

pub struct RailwayPlatform {
    api: Api,
    prefix: String,
    root: PathBuf,
    default_region: Option<String>,
    /// `RAILWAY_WORKSPACE_ID` or `railway.workspace_id`.
    configured_workspace: Option<String>,
    workspace: tokio::sync::OnceCell<String>,
    lag: Duration,
    cache: Mutex<Cache>,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    commits: Mutex<HashMap<String, Option<String>>>,
}

fn env_set(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Why a project token cannot do this job (notes §1), checked before any request.
pub fn token_from_env() -> Result<Secret> {
    match (env_set(TOKEN_ENV), env_set(PROJECT_TOKEN_ENV)) {
        (Some(t), _) => Ok(Secret::new(t.trim())),
        (None, Some(_)) => Err(Error::new(
            "RAILWAY_TOKEN is set, but it is a Railway project token: it is bound to one environment of one project, so it cannot create or list the client projects scalewize manages",
        )
        .hint("create an account or workspace token (railway.com → Account Settings → Tokens, or the workspace's settings → Tokens) and export it as RAILWAY_API_TOKEN")),
        (None, None) => Err(Error::new(
            "deploying to Railway needs an account or workspace token in RAILWAY_API_TOKEN (RAILWAY_TOKEN, a project token, is not enough)",
        )
        .hint("create one at railway.com → Account Settings → Tokens (or the workspace's Tokens page) and export RAILWAY_API_TOKEN=…; RAILWAY_WORKSPACE_ID picks the workspace")),
    }
}

/// "Set RAILWAY_WORKSPACE_ID to one of …", listing what the token reaches.
fn workspace_choice(list: &[Value]) -> String {
    let names: Vec<String> = list
        .iter()
        .map(|w| {
            format!(
                "{} ({})",
                w["id"].as_str().unwrap_or_default(),
                w["name"].as_str().unwrap_or_default()
            )
        })
        .collect();
    if names.is_empty() {
        return "the token reaches no workspace: create a token in the workspace's settings → Tokens".into();
    }
    format!(
        "set {WORKSPACE_ENV} (or \"railway\": {{\"workspace_id\": …}} in scalewize.json) to one of: {}",
        names.join(", ")
    )
}

/// A crate error for an API error: auth says which token and workspace to use; a document
/// Railway rejects is our bug (never retried); an unknown outcome is transient (the executor
/// observes before trying again).
pub fn error_for(e: ApiError, workspace: Option<&str>) -> Error {
    match e {
        ApiError::Auth(m) => Error::new(format!("{m}: Railway refused the token in {TOKEN_ENV}"))
            .hint(match workspace {
                Some(w) => format!("use an account or workspace token with access to workspace {w} (RAILWAY_WORKSPACE_ID); a project token cannot manage projects"),
                None => "use an account or workspace token of the workspace that holds the client projects, and set RAILWAY_WORKSPACE_ID to it; a project token cannot manage projects".to_string(),
            }),
        ApiError::Invalid { code, message } => Error::new(format!(
            "{message} [{code}]: Railway rejected the request as not matching its schema"
        ))
        .hint("this is a bug in scalewize (or Railway changed its API): please report it with the output of -vvv"),
        ApiError::Unknown(m) => Error::transient(m, None),
        ApiError::Transient(m, wait) => Error::transient(m, wait),
        ApiError::NotFound(m) | ApiError::AlreadyExists(m) | ApiError::Failed(m) => Error::new(m),
    }
}

impl RailwayPlatform {
    pub fn new(ws: &Workspace, conn: &Connection) -> Result<Self> {
        let token = token_from_env()?;
        let settings = &ws.settings.railway;
        let buckets = limits::buckets(limits::limits(settings)?);
        let endpoint =
            env_set(client::ENDPOINT_ENV).unwrap_or_else(|| client::DEFAULT_ENDPOINT.to_string());
        let lag = match env_set(LIST_LAG_ENV) {
            Some(v) => v
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s >= 0.0)
                .map(Duration::from_secs_f64)
                .ok_or_else(|| {
                    Error::new(format!(
                        "{LIST_LAG_ENV} must be a number of seconds, not {v:?}"
                    ))
                })?,
            None => DEFAULT_LIST_LAG,
        };
        let http = crate::net::Http::new(conn.debug.clone())?;
        Ok(RailwayPlatform {
            api: Api::new(http, endpoint, token, buckets),
            prefix: ws.settings.prefix.clone(),
            root: ws.root.clone(),
            default_region: settings.region.clone(),
            configured_workspace: env_set(WORKSPACE_ENV)
                .map(|s| s.trim().to_string())
                .or_else(|| settings.workspace_id.clone()),
            workspace: tokio::sync::OnceCell::new(),
            lag,
            cache: Mutex::new(Cache::default()),
            locks: Mutex::new(HashMap::new()),
            commits: Mutex::new(HashMap::new()),
        })
    }

    /// Requests and mutations this process sent so far.
    pub fn request_counts(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering;
        (
            self.api.stats.requests.load(Ordering::Relaxed),
            self.api.stats.mutations.load(Ordering::Relaxed),
        )
    }

    fn lock(&self, name: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.locks
            .lock()
            .expect("locks")
            .entry(name.to_string())
            .or_default()
            .clone()
    }

    /// The workspace to list and create projects in: configured, or the only one the token
    /// reaches. Always known: `projects` and `projectCreate` without `workspaceId` address the
    /// personal account, which a workspace token cannot see (notes §10).
    async fn workspace_id(&self) -> Result<String> {
        self.workspace
            .get_or_try_init(|| async {
                // Configured: trusted without a request (a wrong id fails the first call, with
                // `error_for`'s hint naming it).
                if let Some(w) = &self.configured_workspace {
                    return Ok(w.clone());
                }
                let data = self
                    .api
                    .run(&ops::API_TOKEN, json!({}))
                    .await
                    .map_err(|e| self.error(e))?;
                let list = data["apiToken"]["workspaces"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                let ids: Vec<&str> = list.iter().filter_map(|w| w["id"].as_str()).collect();
                match ids.as_slice() {
                    [only] => Ok(only.to_string()),
                    [] => Err(Error::new("this Railway token reaches no workspace").hint(
                        "use an account or workspace token of the workspace the client projects belong in",
                    )),
                    many => Err(Error::new(format!(
                        "this Railway token reaches {} workspaces; scalewize needs to know which one holds the client projects",
                        many.len()
                    ))
                    .hint(workspace_choice(&list))),
                }
            })
            .await
            .cloned()
    }

    /// A crate error for an API error, with what to do about it.
    fn error(&self, e: ApiError) -> Error {
        error_for(e, self.configured_workspace.as_deref())
    }

    /// The deployed commit of a repo source (cached per folder).
    fn commit_of(&self, root_dir: &str) -> Option<String> {
        let mut commits = self.commits.lock().expect("commits");
        commits
            .entry(root_dir.to_string())
            .or_insert_with(|| source::last_commit_touching(&self.root, root_dir))
            .clone()
    }

    fn scaled(d: Duration) -> Duration {
        crate::net::backoff::scaled(d)
    }
}

#[async_trait::async_trait]
impl Platform for RailwayPlatform {
    fn name(&self) -> PlatformName {
        PlatformName::Railway
    }

    fn fields(&self, spec: &ServiceSpec, base: Fields) -> Fields {
        let commit = match (&spec.image, &spec.repo) {
            (None, Some(r)) => self.commit_of(&r.root_dir),
            _ => None,
        };
        model::project_fields(
            spec,
            base,
            self.default_region.as_deref(),
            commit.as_deref(),
        )
    }

    async fn prepare(&self, specs: &[&ServiceSpec], _progress: &crate::ui::Progress) -> Result<()> {
        for spec in specs {
            for (name, v) in &spec.env {
                if let SpecValue::Plain { value } = v
                    && value.contains("${{")
                {
                    return Err(Error::new(format!(
                        "{}: the value of {name} contains `${{{{`, which Railway would read as a reference to another variable",
                        spec.key
                    ))
                    .hint("remove the `${{` from that value"));
                }
            }
            if let (None, Some(r)) = (&spec.image, &spec.repo)
                && self.commit_of(&r.root_dir).is_none()
            {
                return Err(Error::new(format!(
                    "{}: deploys {} from {}, but no commit in this repository touches that folder",
                    spec.key, r.root_dir, r.repo
                ))
                .hint("commit (and push) the server's folder: Railway deploys the last commit that changed it"));
            }
            if let (None, Some(r)) = (&spec.image, &spec.repo)
                && let Some(commit) = self.commit_of(&r.root_dir)
                && let Err(why) = source::on_remote_branch(&self.root, &commit, &r.branch)
            {
                return Err(Error::new(format!(
                    "{}: deploys commit {} of {} from branch {}, but {why}",
                    spec.key,
                    &commit[..12.min(commit.len())],
                    r.repo,
                    r.branch
                ))
                .hint(format!(
                    "push it first: `git push origin {}` (and `git fetch` so scalewize sees the remote branch)",
                    r.branch
                )));
            }
        }
        Ok(())
    }

    async fn observe(&self, owners: Option<&BTreeSet<String>>) -> Result<Vec<Observed>> {
        self.observe_owners(owners).await
    }

    async fn apply(&self, step: Step<'_>) -> Result<Applied> {
        self.apply_step(step).await
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
        let owners = BTreeSet::from([key.owner.clone()]);
        let observed = self.observe_owners(Some(&owners)).await?;
        if !observed.iter().any(|o| &o.key == key) {
            return Err(Error::new(format!("{key} is not deployed on Railway"))
                .hint("`scalewize status` lists what runs"));
        }
        let latest = {
            let cache = self.cache.lock().expect("cache");
            cache.services.get(key).and_then(|l| l.latest.clone())
        };
        let Some(latest) = latest else {
            return Err(Error::new(format!("{key} has no deployment yet")));
        };
        let data = self
            .api
            .run(
                &ops::DEPLOYMENT_LOGS,
                json!({"deploymentId": latest.id, "limit": lines.clamp(1, 5000)}),
            )
            .await
            .map_err(|e| self.error(e))?;
        let mut out: Vec<String> = data["deploymentLogs"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|l| {
                format!(
                    "{} {} {}",
                    l["timestamp"].as_str().unwrap_or_default(),
                    l["severity"].as_str().unwrap_or("info"),
                    l["message"].as_str().unwrap_or_default()
                )
            })
            .collect();
        let n = out.len();
        Ok(out.split_off(n.saturating_sub(lines)))
    }
}
