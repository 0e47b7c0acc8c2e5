//! Deploying a service and waiting for the deployment to finish, polled on a slow schedule
//! because polls count against the hourly request budget.

use std::time::{Duration, Instant};

use serde_json::json;

use super::model::{self, Deployment, Live};
use super::{RailwayPlatform, ops};
use crate::error::{Error, Result};
use crate::platform::Step;

/// Poll intervals for a deployment (unscaled seconds), the last one repeating: polls count
/// against the hourly request budget, and deployments take minutes.
pub(super) const POLL: [u64; 5] = [2, 3, 5, 8, 10];

impl RailwayPlatform {
    /// `serviceInstanceDeployV2` (deploys the current source, or `commit`): its deployment id.
    pub(super) async fn deploy(
        &self,
        live: &Live,
        commit: Option<&str>,
        step: &Step<'_>,
    ) -> Result<String> {
        Self::note(step, "deploying");
        let data = self
            .mutate(
                &ops::DEPLOY,
                json!({"serviceId": live.service_id, "environmentId": live.environment_id, "commitSha": commit}),
            )
            .await
            .map_err(|e| match (commit, e.message().contains("Commit not found")) {
                // notes §10: the SHA is checked against the connected repo.
                (Some(c), true) => Error::new(format!(
                    "{}: Railway cannot find commit {} in the connected repository",
                    step.key,
                    &c[..12.min(c.len())]
                ))
                .hint("push it to the branch Railway builds from (`git push origin <branch>`), then deploy again"),
                _ => self.error(e),
            })?;
        data["serviceInstanceDeployV2"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| Error::new("Railway serviceInstanceDeployV2 returned no deployment id"))
    }

    /// The deployment a `serviceConnect` started: the latest one, once it is not `previous`.
    pub(super) async fn new_deployment(
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
    pub(super) async fn wait_deployment(
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
            match model::phase(&status) {
                model::Phase::Deployed => {
                    if let (Some(want), Some(got)) =
                        (expect_image, data["deployment"]["meta"]["image"].as_str())
                        && want != got
                    {
                        return Err(Error::new(format!(
                            "{}: Railway deployed image {got}, not {want}",
                            step.key
                        ))
                        .hint(
                            "deploy again; if it persists, check the service's source in Railway",
                        ));
                    }
                    return Ok(status);
                }
                model::Phase::Failed => {
                    return Err(
                        Error::new(format!("{}: the deployment ended {status}", step.key)).hint(
                            format!(
                                "see `scalewize logs {} {}` or the deployment in Railway's dashboard",
                                step.key.owner, step.key.service
                            ),
                        ),
                    );
                }
                // Waiting cannot end this: say so now rather than at the deadline.
                model::Phase::NeedsApproval => {
                    return Err(Error::new(format!(
                        "{}: the deployment is {status}: it waits for approval",
                        step.key
                    ))
                    .hint(format!(
                        "approve it in Railway (the project of {}, service {}, Deployments), then run the deploy again",
                        step.key.owner, step.key.service
                    )));
                }
                model::Phase::InProgress => {}
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
}
