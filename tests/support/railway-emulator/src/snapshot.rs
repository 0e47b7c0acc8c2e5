//! A normalised view of the whole state for comparisons: ids and generated hostnames replaced
//! by placeholders (`<project:1>`, `<hostname:2>`, numbered in creation order), timestamps
//! left out, everything sorted.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::log::{normalise, normalise_str};
use crate::state::State;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Snapshot {
    pub projects: Vec<ProjectSnapshot>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProjectSnapshot {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub workspace_id: String,
    /// Service names, sorted.
    pub services: Vec<ServiceSnapshot>,
    pub environments: Vec<EnvironmentSnapshot>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ServiceSnapshot {
    pub id: String,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EnvironmentSnapshot {
    pub id: String,
    pub name: String,
    pub shared_variables: BTreeMap<String, String>,
    /// One per service, sorted by service name.
    pub instances: Vec<InstanceSnapshot>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InstanceSnapshot {
    pub service_id: String,
    pub service_name: String,
    /// `{"image":…}` or `{"repo":…, "branch":…}`; `None` without a source.
    pub source: Option<Value>,
    /// Settings from `serviceInstanceUpdate` (with the emulator's defaults).
    pub settings: BTreeMap<String, Value>,
    /// From `serviceInstanceLimitsUpdate`.
    pub limits: BTreeMap<String, Value>,
    /// Raw (unrendered) service variables.
    pub variables: BTreeMap<String, String>,
    pub domains: Vec<DomainSnapshot>,
    /// Oldest first.
    pub deployments: Vec<DeploymentSnapshot>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DomainSnapshot {
    pub id: String,
    pub domain: String,
    pub target_port: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DeploymentSnapshot {
    pub id: String,
    /// The status at the time of the snapshot (`SUCCESS`, `SKIPPED`, …).
    pub status: String,
    /// `meta` as served by the API, normalised (includes the emulator-only `variables` key).
    pub meta: Value,
}

impl Snapshot {
    /// The snapshot as pretty JSON (for golden files and failure messages).
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).expect("snapshot serialises")
    }

    /// Every deployment of every instance, in creation order within an instance.
    pub fn deployments(&self) -> impl Iterator<Item = &DeploymentSnapshot> {
        self.projects
            .iter()
            .flat_map(|p| &p.environments)
            .flat_map(|e| &e.instances)
            .flat_map(|i| &i.deployments)
    }
}

pub(crate) fn take(st: &State, now: f64) -> Snapshot {
    let ph = &st.placeholders;
    let n = |s: &str| normalise_str(s, ph);
    let nmap = |m: BTreeMap<String, String>| -> BTreeMap<String, String> {
        m.into_iter().map(|(k, v)| (k, n(&v))).collect()
    };
    let mut projects: Vec<ProjectSnapshot> = st
        .projects
        .iter()
        .map(|p| {
            let mut services: Vec<ServiceSnapshot> = st
                .project_services(&p.id)
                .iter()
                .map(|s| ServiceSnapshot {
                    id: n(&s.id),
                    name: s.name.clone(),
                })
                .collect();
            services.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
            let mut environments: Vec<EnvironmentSnapshot> = st
                .project_envs(&p.id)
                .iter()
                .map(|e| {
                    let mut instances: Vec<InstanceSnapshot> = st
                        .env_instances(&e.id)
                        .iter()
                        .map(|i| {
                            let mut deps: Vec<_> = st
                                .deployments
                                .iter()
                                .filter(|d| d.service_id == i.service_id && d.env_id == e.id)
                                .collect();
                            deps.sort_by_key(|d| d.seq);
                            InstanceSnapshot {
                                service_id: n(&i.service_id),
                                service_name: st
                                    .service(&i.service_id)
                                    .map(|s| s.name.clone())
                                    .unwrap_or_default(),
                                source: i
                                    .source
                                    .as_ref()
                                    .map(|s| serde_json::to_value(s).unwrap_or(Value::Null)),
                                settings: i
                                    .settings
                                    .iter()
                                    .map(|(k, v)| (k.clone(), normalise(v, ph)))
                                    .collect(),
                                limits: i
                                    .limits
                                    .iter()
                                    .map(|(k, v)| (k.clone(), v.clone()))
                                    .collect(),
                                variables: nmap(st.raw_variables(&e.id, Some(&i.service_id))),
                                domains: st
                                    .instance_domains(&i.service_id, &e.id)
                                    .iter()
                                    .map(|d| DomainSnapshot {
                                        id: n(&d.id),
                                        domain: n(&d.domain),
                                        target_port: d.target_port,
                                    })
                                    .collect(),
                                deployments: deps
                                    .iter()
                                    .map(|d| DeploymentSnapshot {
                                        id: n(&d.id),
                                        status: st.status(d, now).as_str().to_string(),
                                        meta: normalise(&d.meta, ph),
                                    })
                                    .collect(),
                            }
                        })
                        .collect();
                    instances.sort_by(|a, b| {
                        (&a.service_name, &a.service_id).cmp(&(&b.service_name, &b.service_id))
                    });
                    EnvironmentSnapshot {
                        id: n(&e.id),
                        name: e.name.clone(),
                        shared_variables: nmap(st.raw_variables(&e.id, None)),
                        instances,
                    }
                })
                .collect();
            environments.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
            ProjectSnapshot {
                id: n(&p.id),
                name: p.name.clone(),
                description: p.description.clone(),
                workspace_id: n(&p.workspace_id),
                services,
                environments,
            }
        })
        .collect();
    projects.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
    Snapshot { projects }
}
