//! The owner's project: found or created once (an unknown create is settled by a look),
//! duplicates left by lost responses removed, and deleted once nothing is left in it.

use std::time::Instant;

use serde_json::json;

use super::client::ApiError;
use super::model::{self};
use super::{ProjectRef, RailwayPlatform, ops};
use crate::error::{Error, Result};
use crate::platform::Step;

impl RailwayPlatform {
    /// The owner's project: known, found again after an unknown create, or created.
    pub(super) async fn ensure_project(&self, owner: &str, step: &Step<'_>) -> Result<ProjectRef> {
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
    pub(super) async fn remove_empty_duplicates(&self, owner: &str, step: &Step<'_>) {
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

    /// After a delete: remove the owner's project once nothing is left in it (ours or not).
    pub(super) async fn delete_project_if_empty(
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
                    tokio::time::sleep(crate::net::backoff::backoff(attempt.min(4), None)).await;
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
