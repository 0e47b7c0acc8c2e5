//! The Railway platform lock: the service `lock` in the project `<prefix>-scalewize-lock`.
//! Service names are unique within a project (notes §7.1: a second `serviceCreate` of the same
//! name answers "already exists in this project"), so one `serviceCreate` either creates it
//! (this run holds the lock) or is refused (someone holds it). The holder's note is a variable
//! given to that same `serviceCreate` (`ServiceCreateInput.variables`), so the lock never exists
//! without its note, and a create whose answer was lost is settled by reading the note back:
//! our own note means the lock is ours. `serviceDelete` releases it.
//!
//! Request sequence of a take: `projects` (find the lock project) → `serviceCreate` → on
//! "already exists" or an unknown outcome: `project.services` → `variables` (the note).
//!
//! Project names are not unique, so the lock project is made once and kept. When two first
//! runs each create one, both wait out the list lag, both settle on the oldest marked one
//! (created_at, then id), and a run whose own project is not that one deletes it (it is empty).
//! The project never deploys anything: it costs nothing, and observe skips its owner.

use std::collections::BTreeSet;

use serde_json::json;

use super::client::ApiError;
use super::model;
use super::{ProjectRef, RailwayPlatform, ops};
use crate::error::{Error, Result};
use crate::net::backoff::backoff;
use crate::net::retry;
use crate::platform::lock::{LockNote, LockState, Taken};

/// The owner name of the lock project (`<prefix>-scalewize-lock`); no client may take it.
pub const LOCK_OWNER: &str = "scalewize-lock";
/// The lock service's name in that project.
const LOCK_SERVICE: &str = "lock";
/// The variable holding the holder's note (JSON), set by the `serviceCreate` that takes the lock.
const NOTE_VAR: &str = "SCALEWIZE_LOCK_NOTE";

impl RailwayPlatform {
    fn lock_resource(&self) -> String {
        format!(
            "Railway service `{LOCK_SERVICE}` in project `{}`",
            model::project_name(&self.prefix, LOCK_OWNER)
        )
    }

    /// The lock project, if there is one: the oldest marked one.
    async fn find_lock_project(&self) -> Result<Option<ProjectRef>> {
        let listed = self.list_projects().await?;
        let owners = BTreeSet::from([LOCK_OWNER.to_string()]);
        Ok(self
            .ours(&listed, Some(&owners))?
            .remove(LOCK_OWNER)
            .and_then(|v| v.into_iter().next()))
    }

    /// The lock project, created the first time (see the module docs for two first runs).
    async fn lock_project(&self) -> Result<ProjectRef> {
        if let Some(p) = self.find_lock_project().await? {
            return Ok(p);
        }
        let name = model::project_name(&self.prefix, LOCK_OWNER);
        let workspace = self.workspace_id().await?;
        let input = json!({"input": {
            "name": name,
            "description": model::marker(LOCK_OWNER),
            "workspaceId": workspace,
        }});
        let made = match self.mutate(&ops::PROJECT_CREATE, input).await {
            Ok(d) => d["projectCreate"]["id"].as_str().map(str::to_string),
            // Settled by the look below.
            Err(ApiError::Unknown(_)) => None,
            Err(e) => return Err(self.error(e)),
        };
        tokio::time::sleep(Self::scaled(self.lag)).await;
        let Some(oldest) = self.find_lock_project().await? else {
            return Err(Error::transient(
                format!("the new lock project {name} does not show in Railway's project list yet"),
                None,
            ));
        };
        if let Some(mine) = made.filter(|id| *id != oldest.id) {
            // Another run's project is older: ours holds nothing, so it goes.
            let _ = self.mutate(&ops::PROJECT_DELETE, json!({"id": mine})).await;
        }
        Ok(oldest)
    }

    pub(super) async fn take_lock(&self, note: &LockNote) -> Result<Taken> {
        let project = self.lock_project().await?;
        let text = serde_json::to_string(note).unwrap_or_default();
        let input = json!({"input": {
            "projectId": project.id,
            "environmentId": project.environment_id,
            "name": LOCK_SERVICE,
            "variables": {NOTE_VAR: text},
        }});
        for attempt in 1..=retry::WRITE_TRIES {
            match self.mutate(&ops::SERVICE_CREATE, input.clone()).await {
                Ok(_) => return Ok(Taken::Mine),
                Err(ApiError::AlreadyExists(_) | ApiError::Unknown(_)) => {}
                Err(e) => return Err(self.error(e)),
            }
            match self.lock_in(&project).await? {
                // Our own create, whose answer was lost.
                LockState::Held { note: Some(n), .. } if n == *note => return Ok(Taken::Mine),
                LockState::Held { note: Some(n), .. } if n.is_stale() => {
                    self.free_lock_in(&project).await?;
                }
                // Not created, or freed meanwhile, or not listed yet: create again.
                LockState::Free => tokio::time::sleep(backoff(attempt, None)).await,
                state => return Ok(Taken::Theirs(state)),
            }
        }
        Ok(Taken::Theirs(self.lock_in(&project).await?))
    }

    pub(super) async fn read_lock(&self) -> Result<LockState> {
        match self.find_lock_project().await? {
            Some(p) => self.lock_in(&p).await,
            None => Ok(LockState::Free),
        }
    }

    /// Free the lock, whoever holds it; whether it was held.
    pub(super) async fn free_lock(&self) -> Result<bool> {
        match self.find_lock_project().await? {
            Some(p) => self.free_lock_in(&p).await,
            None => Ok(false),
        }
    }

    /// The lock service's id in `project`, if it is there.
    async fn lock_service(&self, project: &ProjectRef) -> Result<Option<String>> {
        let data = match self
            .api
            .run(&ops::PROJECT_SERVICES, json!({"id": project.id}))
            .await
        {
            Ok(d) => d,
            Err(ApiError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(self.error(e)),
        };
        Ok(data["project"]["services"]["edges"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|e| e["node"]["name"] == LOCK_SERVICE)
            .and_then(|e| e["node"]["id"].as_str())
            .map(str::to_string))
    }

    async fn lock_in(&self, project: &ProjectRef) -> Result<LockState> {
        let Some(id) = self.lock_service(project).await? else {
            return Ok(LockState::Free);
        };
        let one = [(project.id.clone(), project.environment_id.clone(), id)];
        let Some(vars) = self.variables_of(&one).await?.into_iter().next().flatten() else {
            // Deleted between the two reads.
            return Ok(LockState::Free);
        };
        Ok(LockState::Held {
            resource: self.lock_resource(),
            note: vars
                .plain
                .get(NOTE_VAR)
                .and_then(|t| serde_json::from_str(t).ok()),
        })
    }

    /// Delete the lock service. Deleting is idempotent, so an unknown outcome is simply tried
    /// again after a look (a lock left behind blocks every later run).
    async fn free_lock_in(&self, project: &ProjectRef) -> Result<bool> {
        for attempt in 1..=retry::WRITE_TRIES {
            let Some(id) = self.lock_service(project).await? else {
                return Ok(attempt > 1);
            };
            // Without an environment: the service goes from every environment, name and all.
            match self.mutate(&ops::SERVICE_DELETE, json!({"id": id})).await {
                Ok(_) => return Ok(true),
                Err(ApiError::NotFound(_)) => return Ok(attempt > 1),
                Err(ApiError::Unknown(_)) => tokio::time::sleep(backoff(attempt, None)).await,
                Err(e) => return Err(self.error(e)),
            }
        }
        Err(Error::transient(
            format!("could not delete {}", self.lock_resource()),
            None,
        ))
    }
}
