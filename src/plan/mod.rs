//! The plan: desired services compared with what is live, as ordered create / update (with the
//! changed fields) / delete actions. Platform-agnostic: platforms only project fields.

pub mod desired;
mod display;
pub mod prepare;
pub mod service;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use display::{print_plan, summary_line};
use service::{ServiceKey, ServiceSpec, SpecValue};

use crate::platform::{Fields, Observed, Op, State};
use crate::render::SecretRef;
use crate::workspace::PlatformName;

pub const PLAN_VERSION: u32 = 1;
/// The value of a dependency URL that does not exist yet.
pub const KNOWN_AFTER_APPLY: &str = "(known after apply)";
/// Placeholder a platform replaces with its own URL scheme for the service itself.
pub const OWN_URL: &str = "(own url)";
/// The pseudo-field that brings a down or crash-looping service back.
pub const STATE_FIELD: &str = "state";

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// The platform-agnostic comparable fields of a spec: settings, plain env values, dependency URLs
/// (or "known after apply"), secret fingerprints, and a digest of each file.
pub fn base_fields(
    spec: &ServiceSpec,
    urls: &BTreeMap<ServiceKey, String>,
    fingerprints: &BTreeMap<SecretRef, String>,
) -> Fields {
    let mut f = Fields::new();
    if let Some(i) = &spec.image {
        f.insert("image".into(), i.clone());
    }
    if let Some(r) = &spec.repo {
        f.insert(
            "repo".into(),
            format!("{}@{} ({})", r.repo, r.branch, r.root_dir),
        );
    }
    if let Some(l) = &spec.local {
        let run = match (&l.run.cargo_bin, &l.run.command) {
            (Some(b), _) => format!("cargo_bin {b}"),
            (None, Some(c)) => format!("command {}", c.join(" ")),
            _ => String::new(),
        };
        f.insert("run".into(), run);
    }
    f.insert("port".into(), spec.port.to_string());
    f.insert("path".into(), spec.path.clone());
    f.insert("health_path".into(), spec.health_path.clone());
    if let Some(r) = &spec.region {
        f.insert("region".into(), r.clone());
    }
    f.insert(
        "size".into(),
        format!("{} cpu, {} MB", spec.size.cpus, spec.size.memory_mb),
    );
    for (name, value) in &spec.env {
        match value {
            SpecValue::Plain { value } => {
                f.insert(format!("env.{name}"), value.clone());
            }
            SpecValue::UrlOf { service } => {
                f.insert(
                    format!("env.{name}"),
                    urls.get(service)
                        .cloned()
                        .unwrap_or_else(|| KNOWN_AFTER_APPLY.into()),
                );
            }
            SpecValue::OwnUrl => {
                f.insert(format!("env.{name}"), OWN_URL.into());
            }
            SpecValue::Secret(r) => {
                f.insert(
                    format!("secret.{name}"),
                    fingerprints
                        .get(r)
                        .cloned()
                        .unwrap_or_else(|| "(missing)".into()),
                );
            }
        }
    }
    for (path, content) in &spec.files {
        f.insert(
            format!("file.{path}"),
            format!("sha256:{}", &sha256_hex(content.as_bytes())[..16]),
        );
    }
    f
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Action {
    pub key: ServiceKey,
    pub platform: PlatformName,
    pub op: Op,
    /// The clients this service serves (for grouping and per-client results).
    pub clients: Vec<String>,
    pub changes: Vec<FieldChange>,
}

/// A plan: what `deploy` will do, saved with `diff --out` and applied with `deploy --plan`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
            actions.push(Action {
                key: o.key.clone(),
                platform: o.platform,
                op: Op::Delete,
                clients: if o.key.is_shared() {
                    vec![]
                } else {
                    vec![o.key.owner.clone()]
                },
                changes: o
                    .fields
                    .iter()
                    .map(|(k, v)| FieldChange {
                        field: k.clone(),
                        old: Some(v.clone()),
                        new: None,
                    })
                    .collect(),
            });
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

/// Where the engine gets secret values and their fingerprints (the encrypted store, or a test double).
pub trait SecretSource: Send + Sync {
    /// The value; an error names the secret and how to set it, never a value.
    fn value(&self, r: &SecretRef) -> crate::error::Result<crate::secrets::Secret>;
    /// The fingerprint of the current value (`hmac-sha256:…`).
    fn fingerprint(&self, r: &SecretRef) -> crate::error::Result<String>;
    /// `text` with every secret value this source has handed out masked.
    fn redact(&self, text: &str) -> String {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::service::ServiceKind;
    use crate::workspace::Size;

    fn spec(owner: &str, service: &str) -> ServiceSpec {
        ServiceSpec {
            key: ServiceKey {
                owner: owner.into(),
                service: service.into(),
                user: None,
            },
            kind: if service == "librechat" {
                ServiceKind::LibreChat
            } else {
                ServiceKind::Mcp
            },
            platform: PlatformName::Local,
            clients: BTreeSet::from(["a".to_string()]),
            image: None,
            repo: None,
            local: None,
            port: 8080,
            path: "/mcp".into(),
            health_path: "/health".into(),
            region: None,
            size: Size {
                cpus: 1,
                memory_mb: 256,
            },
            env: BTreeMap::new(),
            files: BTreeMap::new(),
            depends_on: BTreeSet::new(),
        }
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
