//! The plan: desired services compared with what is live, as ordered create / update (with the
//! changed fields) / delete actions. Platform-agnostic: platforms only project fields.

pub mod desired;
mod display;
mod markdown;
pub mod planner;
mod saved;
pub mod teardown;
pub mod waves;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::model::{
    Fields, KNOWN_AFTER_APPLY, Observed, Op, STATE_FIELD, ServiceKey, ServiceSpec, SpecValue,
    State, sha256_hex,
};
use crate::workspace::PlatformName;
pub use display::{print_plan, summary_line};
pub use markdown::plan_markdown;

pub const PLAN_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FieldChange {
    pub field: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new: Option<String>,
}

impl FieldChange {
    pub fn is_secret(&self) -> bool {
        self.field.starts_with("secret.")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Action {
    pub key: ServiceKey,
    pub platform: PlatformName,
    pub op: Op,
    /// The clients this service serves (for grouping and per-client results).
    pub clients: Vec<String>,
    pub changes: Vec<FieldChange>,
}

impl Action {
    /// Whether applying this may change the tools the service serves: it is created, or its code
    /// or its tool filter changes. Anything else that changes tools is for review (tools.lock.json).
    pub fn may_change_tools(&self) -> bool {
        use crate::workspace::{TOOLS_ALLOW_ENV, TOOLS_DENY_ENV};
        self.op == Op::Create
            || self.changes.iter().any(|c| {
                crate::model::CODE_FIELDS.contains(&c.field.as_str())
                    || c.field.strip_prefix("env.") == Some(TOOLS_ALLOW_ENV)
                    || c.field.strip_prefix("env.") == Some(TOOLS_DENY_ENV)
            })
    }

    /// Delete an observed service (`with_fields`: list what it had, for the plan's display).
    pub fn delete(o: &Observed, with_fields: bool) -> Action {
        Action {
            key: o.key.clone(),
            platform: o.platform,
            op: Op::Delete,
            clients: if o.key.is_shared() {
                vec![]
            } else {
                vec![o.key.owner.clone()]
            },
            changes: if with_fields {
                o.fields
                    .iter()
                    .map(|(k, v)| FieldChange {
                        field: k.clone(),
                        old: Some(v.clone()),
                        new: None,
                    })
                    .collect()
            } else {
                Vec::new()
            },
        }
    }
}

/// Owned services that no client config describes at all. A service described but running on
/// another platform (a `--platform` run) is not an orphan.
pub fn orphans(
    desired: &BTreeMap<ServiceKey, ServiceSpec>,
    observed: Vec<Observed>,
) -> Vec<Observed> {
    observed
        .into_iter()
        .filter(|o| !desired.contains_key(&o.key))
        .collect()
}

/// A plan: what `deploy` will do, saved with `diff --out` and applied with `deploy --plan`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Plan {
    pub version: u32,
    pub clients: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_override: Option<PlatformName>,
    pub actions: Vec<Action>,
    pub unchanged: Vec<ServiceKey>,
    /// Digest of the desired state (files, templates, manifests, secret fingerprints).
    pub inputs_digest: String,
    /// Digest of what was observed live.
    pub observed_digest: String,
    /// The waves it is to be applied in (`deploy --waves` or `rollout` when it was saved).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waves: Option<SavedWaves>,
}

/// Waves recorded in a saved plan, so that `deploy --plan` follows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SavedWaves {
    pub sizes: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub canary: Vec<String>,
    #[serde(default)]
    pub max_failures: u32,
}

impl Plan {
    pub fn count(&self, op: Op) -> usize {
        self.actions.iter().filter(|a| a.op == op).count()
    }
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }
}

fn needs_restore(o: &Observed) -> bool {
    matches!(o.state, State::Down | State::Crashloop)
}

/// Compare desired (with its projected fields) with observed. Services observed but no longer
/// desired are deleted only when their owner is in `delete_owners` (never shared ones by a client run).
pub fn compute(
    clients: Vec<String>,
    platform_override: Option<PlatformName>,
    desired: &BTreeMap<ServiceKey, (ServiceSpec, Fields)>,
    observed: &[Observed],
    delete_owners: &BTreeSet<String>,
) -> Plan {
    let mut actions = Vec::new();
    let mut unchanged = Vec::new();
    for (key, (spec, fields)) in desired {
        let live = observed
            .iter()
            .find(|o| &o.key == key && o.platform == spec.platform);
        let clients: Vec<String> = spec.clients.iter().cloned().collect();
        match live {
            None => actions.push(Action {
                key: key.clone(),
                platform: spec.platform,
                op: Op::Create,
                clients,
                changes: fields
                    .iter()
                    .map(|(k, v)| FieldChange {
                        field: k.clone(),
                        old: None,
                        new: Some(v.clone()),
                    })
                    .collect(),
            }),
            Some(o) => {
                let mut changes: Vec<FieldChange> = fields
                    .keys()
                    .chain(o.fields.keys())
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .filter(|k| fields.get(*k) != o.fields.get(*k))
                    .map(|k| FieldChange {
                        field: k.clone(),
                        old: o.fields.get(k).cloned(),
                        new: fields.get(k).cloned(),
                    })
                    .collect();
                if needs_restore(o) {
                    changes.push(FieldChange {
                        field: STATE_FIELD.into(),
                        old: Some(o.state.as_str().into()),
                        new: Some(State::Running.as_str().into()),
                    });
                }
                if changes.is_empty() {
                    unchanged.push(key.clone());
                } else {
                    actions.push(Action {
                        key: key.clone(),
                        platform: spec.platform,
                        op: Op::Update,
                        clients,
                        changes,
                    });
                }
            }
        }
    }
    for o in observed {
        let wanted = desired
            .get(&o.key)
            .is_some_and(|(s, _)| s.platform == o.platform);
        let elsewhere = desired.contains_key(&o.key);
        if !wanted && !elsewhere && delete_owners.contains(&o.key.owner) {
            actions.push(Action::delete(o, true));
        }
    }
    order(&mut actions);
    Plan {
        version: PLAN_VERSION,
        clients,
        platform_override,
        actions,
        unchanged,
        inputs_digest: inputs_digest(desired),
        observed_digest: observed_digest(observed),
        waves: None,
    }
}

/// Creates and updates in dependency tiers (shared → client → per-user → LibreChat), deletes last in reverse.
fn order(actions: &mut [Action]) {
    actions.sort_by(|a, b| {
        let rank = |x: &Action| match x.op {
            Op::Delete => (1, 3 - x.key.tier()),
            _ => (0, x.key.tier()),
        };
        rank(a).cmp(&rank(b)).then_with(|| a.key.cmp(&b.key))
    });
}

fn digest<T: Serialize>(value: &T) -> String {
    format!(
        "sha256:{}",
        sha256_hex(serde_json::to_string(value).unwrap_or_default().as_bytes())
    )
}

/// Digest of what the plan was computed from on our side: specs and their fields, without the
/// dependency URLs (those come from the live state, which `observed_digest` covers).
fn inputs_digest(desired: &BTreeMap<ServiceKey, (ServiceSpec, Fields)>) -> String {
    let view: Vec<_> = desired
        .iter()
        .map(|(k, (s, f))| {
            let own: Fields = f
                .iter()
                .filter(|(name, _)| {
                    !name
                        .strip_prefix("env.")
                        .is_some_and(|n| matches!(s.env.get(n), Some(SpecValue::UrlOf { .. })))
                })
                .map(|(a, b)| (a.clone(), b.clone()))
                .collect();
            (k, s, own)
        })
        .collect();
    digest(&view)
}

/// Digest of the live state a plan was computed against (state only as far as it changes the plan).
pub fn observed_digest(observed: &[Observed]) -> String {
    let mut view: Vec<_> = observed
        .iter()
        .map(|o| (&o.key, o.platform, &o.url, &o.fields, needs_restore(o)))
        .collect();
    view.sort_by(|a, b| a.0.cmp(b.0).then(a.1.cmp(&b.1)));
    digest(&view)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::base_fields;

    fn spec(owner: &str, service: &str) -> ServiceSpec {
        ServiceSpec::for_tests(owner, service)
    }

    fn observed(s: &ServiceSpec, fields: &Fields, state: State) -> Observed {
        Observed {
            key: s.key.clone(),
            platform: PlatformName::Local,
            id: "x".into(),
            url: None,
            state,
            detail: None,
            fields: fields.clone(),
        }
    }

    #[test]
    fn creates_updates_deletes_in_dependency_order() {
        let lc = spec("a", "librechat");
        let shared = spec("shared", "kb-mcp");
        let own = spec("a", "crm-mcp");
        let gone = spec("a", "old-mcp");
        let f = |s: &ServiceSpec| base_fields(s, &BTreeMap::new(), &BTreeMap::new());
        let mut changed = f(&own);
        changed.insert("env.X".into(), "2".into());
        let mut desired = BTreeMap::new();
        for s in [&lc, &shared, &own] {
            desired.insert(s.key.clone(), (s.clone(), f(s)));
        }
        desired.get_mut(&own.key).unwrap().1 = changed;
        let live = vec![
            observed(&own, &f(&own), State::Running),
            observed(&gone, &f(&gone), State::Running),
            observed(&lc, &f(&lc), State::Down),
        ];
        let plan = compute(
            vec!["a".into()],
            None,
            &desired,
            &live,
            &BTreeSet::from(["a".to_string()]),
        );
        let ops: Vec<_> = plan
            .actions
            .iter()
            .map(|a| (a.op, a.key.to_string()))
            .collect();
        assert_eq!(
            ops,
            vec![
                (Op::Create, "shared/kb-mcp".to_string()),
                (Op::Update, "a/crm-mcp".to_string()),
                (Op::Update, "a/librechat".to_string()),
                (Op::Delete, "a/old-mcp".to_string()),
            ]
        );
        assert_eq!(
            plan.actions[1].changes,
            vec![FieldChange {
                field: "env.X".into(),
                old: None,
                new: Some("2".into())
            }]
        );
        assert_eq!(
            plan.actions[2].changes[0].field, STATE_FIELD,
            "a down service is restored"
        );
        // Nothing changed → nothing to do.
        let live: Vec<_> = desired
            .values()
            .map(|(s, f)| observed(s, f, State::Running))
            .collect();
        let plan = compute(vec!["a".into()], None, &desired, &live, &BTreeSet::new());
        assert!(plan.is_empty());
        assert_eq!(plan.unchanged.len(), 3);
    }
}
