//! The service's one public domain: found again after an unknown create, or created; extra
//! domains (a lost response's twin) removed.

use serde_json::json;

use super::client::ApiError;
use super::model::{Desired, Domain, Live};
use super::{RailwayPlatform, ops};
use crate::error::Result;
use crate::platform::Step;

impl RailwayPlatform {
    /// A public domain for the service: found again after an unknown create, or created.
    pub(super) async fn ensure_domain(
        &self,
        live: &Live,
        d: &Desired,
        step: &Step<'_>,
    ) -> Result<Domain> {
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
    pub(super) async fn remove_extra_domains(&self, live: &mut Live, step: &Step<'_>) {
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
}
