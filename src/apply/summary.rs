//! What a run did for each client: how many of its services changed, what failed, and the URLs
//! it now has. Commands only print this.

use std::collections::BTreeMap;

use super::{Outcome, StepResult};
use crate::model::{ServiceKey, ServiceSpec};
use crate::plan::Plan;

/// One client's result of a run.
#[derive(Debug, Clone)]
pub struct ClientResult {
    pub client: String,
    /// Actions of the plan that concern this client (its own services and shared ones it uses).
    pub changes: usize,
    /// `service: reason` for each of its steps that failed or was skipped.
    pub failures: Vec<String>,
    pub librechat: Option<String>,
    /// Its MCP services' URLs, by service.
    pub services: BTreeMap<ServiceKey, String>,
}

impl ClientResult {
    pub fn ok(&self) -> bool {
        self.failures.is_empty()
    }
}

impl Outcome {
    /// One result per client of `plan`, in the plan's order.
    pub fn per_client(
        &self,
        plan: &Plan,
        specs: &BTreeMap<ServiceKey, ServiceSpec>,
    ) -> Vec<ClientResult> {
        plan.clients
            .iter()
            .map(|client| {
                let mine: Vec<_> = plan
                    .actions
                    .iter()
                    .filter(|a| a.clients.contains(client) || a.key.owner == *client)
                    .collect();
                let failures = mine
                    .iter()
                    .filter_map(|a| match self.results.get(&a.key) {
                        Some(StepResult::Failed(m) | StepResult::Skipped(m)) => {
                            Some(format!("{}: {m}", a.key))
                        }
                        _ => None,
                    })
                    .collect();
                let services = self
                    .urls
                    .iter()
                    .filter(|(k, _)| {
                        !k.is_librechat()
                            && specs.get(*k).is_some_and(|s| s.clients.contains(client))
                    })
                    .map(|(k, u)| (k.clone(), u.clone()))
                    .collect();
                ClientResult {
                    client: client.clone(),
                    changes: mine.len(),
                    failures,
                    librechat: self.urls.get(&ServiceKey::librechat(client)).cloned(),
                    services,
                }
            })
            .collect()
    }
}
