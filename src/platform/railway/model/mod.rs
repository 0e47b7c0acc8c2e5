//! How scalewize's services map onto Railway (SPEC §3): project names and their marker, the
//! variables scalewize writes beside a service's environment, and the comparable fields of a
//! live service, which must equal `RailwayPlatform::fields` for an unchanged one.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::{ServiceKey, ServiceKind, ServiceSpec};
use crate::model::{content_digest, size_field, substitute_own_url};
use crate::platform::{Resolved, ResolvedSpec};
use crate::secrets::Secret;

mod live;
#[cfg(test)]
mod region_tests;
pub use live::*;

/// The variable that marks a service as scalewize's (written by `serviceCreate`, so a service
/// is marked from birth) and records what Railway cannot tell back: key, path, size, source
/// branch and commit, the plain variables' names, and the deployment the config followed.
pub const VAR_SERVICE: &str = "SCALEWIZE_SERVICE";
/// `{NAME: fingerprint}` of the secrets in the same variable collection (SPEC §2).
pub const VAR_FINGERPRINTS: &str = "SCALEWIZE_FINGERPRINTS";
/// LibreChat's rendered `librechat.yaml`, base64 of the exact bytes.
pub const VAR_LIBRECHAT_YAML: &str = "LIBRECHAT_YAML_B64";
pub const VAR_PORT: &str = "PORT";
/// A service's own public URL, as a Railway reference variable (notes §6).
pub const OWN_URL_REF: &str = "https://${{RAILWAY_PUBLIC_DOMAIN}}";
/// LibreChat's start command: write the config from the variable, then run the image's own
/// command (`npm run backend`).
pub const LIBRECHAT_START: &str = "sh -c 'printf %s \"$LIBRECHAT_YAML_B64\" | base64 -d > /app/librechat.yaml && exec npm run backend'";
/// What an observed variable scalewize did not write shows instead of its value.
pub const FOREIGN_VALUE: &str = "(set outside scalewize)";
pub const ENVIRONMENT: &str = "production";

const MARKER_PREFIX: &str = "managed by scalewize; owner=";
const MARKER_SUFFIX: &str = "; do not edit";

pub fn project_name(prefix: &str, owner: &str) -> String {
    format!("{prefix}-{owner}")
}

/// The description that marks a project as scalewize's.
pub fn marker(owner: &str) -> String {
    format!("{MARKER_PREFIX}{owner}{MARKER_SUFFIX}")
}

/// The owner a project's description marks it for, if it is scalewize's.
pub fn marked_owner(description: Option<&str>) -> Option<&str> {
    description?
        .strip_prefix(MARKER_PREFIX)?
        .strip_suffix(MARKER_SUFFIX)
}

/// The record in [`VAR_SERVICE`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub owner: String,
    pub service: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// `mcp` or `librechat`; absent until the service is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
    /// The region scalewize placed the service in (else Railway's default is not compared).
    /// Compared as recorded, never as read back: Railway may ignore or normalise the field
    /// (notes §10), and a comparison against it would redeploy on every run. Records written
    /// before this held `true`, read as "set, value unknown" (compared against the live field).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "recorded_region"
    )]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// Names of the plain (non-secret) variables scalewize wrote.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    /// The latest deployment when this configuration was written: while it is still the
    /// latest, the configuration has not been deployed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

impl Record {
    /// The record `serviceCreate` writes: just the key.
    pub fn birth(key: &ServiceKey) -> Record {
        Record {
            owner: key.owner.clone(),
            service: key.service.clone(),
            user: key.user.clone(),
            ..Default::default()
        }
    }
    pub fn key(&self) -> ServiceKey {
        ServiceKey {
            owner: self.owner.clone(),
            service: self.service.clone(),
            user: self.user.clone(),
        }
    }
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a record serialises")
    }
    pub fn parse(text: &str) -> Option<Record> {
        serde_json::from_str(text).ok()
    }
    pub fn configured(&self) -> bool {
        self.kind.is_some()
    }
    /// Equal but for `after` (which moves with every deployment).
    pub fn same_config(&self, other: &Record) -> bool {
        Record {
            after: None,
            ..self.clone()
        } == Record {
            after: None,
            ..other.clone()
        }
    }
}

/// `"region": "<name>"`, or the older `"region": true` as an empty name.
fn recorded_region<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Recorded {
        Name(String),
        Flag(bool),
    }
    Ok(match Option::<Recorded>::deserialize(d)? {
        Some(Recorded::Name(n)) => Some(n),
        Some(Recorded::Flag(true)) => Some(String::new()),
        Some(Recorded::Flag(false)) | None => None,
    })
}

/// The region a service is placed in: what scalewize recorded, or for an older record (which
/// said only that one was set) what Railway reads back.
pub fn placed_region<'a>(record: &'a Record, live_region: Option<&'a str>) -> Option<&'a str> {
    match record.region.as_deref() {
        Some("") => live_region,
        other => other,
    }
}

/// `multiRegionConfig`, as the CLI and config-as-code set a region (notes §10): one replica there.
pub fn multi_region_config(region: &str) -> serde_json::Value {
    serde_json::json!({ region: { "numReplicas": 1 } })
}

pub fn norm_dir(d: &str) -> String {
    d.trim().trim_matches('/').to_string()
}

/// Where a service's code comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Image(String),
    Repo {
        repo: String,
        branch: String,
        root_dir: String,
        commit: Option<String>,
    },
}

/// A variable value to write.
#[derive(Debug, Clone)]
pub enum Var {
    Plain(String),
    Secret(Secret),
}

impl Var {
    pub fn expose(&self) -> &str {
        match self {
            Var::Plain(s) => s,
            Var::Secret(s) => s.expose(),
        }
    }
}

/// Everything a service should be on Railway.
#[derive(Debug, Clone)]
pub struct Desired {
    pub key: ServiceKey,
    pub name: String,
    pub kind: ServiceKind,
    pub source: Source,
    pub port: u16,
    pub path: String,
    pub health_path: String,
    pub region: Option<String>,
    pub start_command: Option<String>,
    pub cpus: u32,
    pub memory_mb: u32,
    /// Every variable, [`VAR_SERVICE`] included (with `after` unset).
    pub vars: BTreeMap<String, Var>,
    pub record: Record,
}

impl Desired {
    pub fn from_spec(
        r: &ResolvedSpec,
        default_region: Option<&str>,
        commit: Option<String>,
    ) -> Result<Desired> {
        let spec = &r.spec;
        let key = &spec.key;
        let source = match (&spec.image, &spec.repo) {
            (Some(i), _) => Source::Image(i.clone()),
            (None, Some(repo)) => Source::Repo {
                repo: repo.repo.clone(),
                branch: repo.branch.clone(),
                root_dir: norm_dir(&repo.root_dir),
                commit,
            },
            (None, None) => {
                return Err(Error::new(format!(
                    "{key} cannot deploy to Railway: no pinned image or repository"
                )));
            }
        };
        let mut vars = BTreeMap::new();
        let mut fingerprints = BTreeMap::new();
        let mut plain = Vec::new();
        for (name, value) in &r.env {
            if is_internal(name) {
                return Err(Error::new(format!(
                    "{key}: the variable name {name} is reserved for scalewize on Railway"
                ))
                .hint("rename the variable"));
            }
            if name == VAR_PORT {
                let same = match value {
                    Resolved::Plain(v) => v == &spec.port.to_string(),
                    _ => false,
                };
                if !same {
                    return Err(Error::new(format!(
                        "{key}: PORT is set to something other than the service's port {}",
                        spec.port
                    ))
                    .hint("set `port` in the server manifest instead of a PORT variable"));
                }
                continue;
            }
            let v = match value {
                Resolved::Plain(s) | Resolved::Url(s) => Var::Plain(s.clone()),
                Resolved::OwnUrl => Var::Plain(OWN_URL_REF.to_string()),
                Resolved::Secret { value, fingerprint } => {
                    fingerprints.insert(name.clone(), fingerprint.clone());
                    Var::Secret(value.clone())
                }
            };
            if !matches!(value, Resolved::OwnUrl) && v.expose().contains("${{") {
                return Err(Error::new(format!(
                    "{key}: the value of {name} contains `${{{{`, which Railway would read as a reference to another variable"
                ))
                .hint("remove the `${{` from that value (scalewize writes no reference variables but its own)"));
            }
            if matches!(v, Var::Plain(_)) {
                plain.push(name.clone());
            }
            vars.insert(name.clone(), v);
        }
        vars.insert(VAR_PORT.into(), Var::Plain(spec.port.to_string()));
        vars.insert(
            VAR_FINGERPRINTS.into(),
            Var::Plain(serde_json::to_string(&fingerprints).expect("a map serialises")),
        );
        let start_command = match spec.kind {
            ServiceKind::LibreChat => {
                let yaml = spec
                    .files
                    .get(crate::model::LIBRECHAT_CONFIG_PATH)
                    .ok_or_else(|| Error::new(format!("{key}: no rendered librechat.yaml")))?;
                vars.insert(
                    VAR_LIBRECHAT_YAML.into(),
                    Var::Plain(base64::engine::general_purpose::STANDARD.encode(yaml.as_bytes())),
                );
                Some(LIBRECHAT_START.to_string())
            }
            ServiceKind::Mcp => None,
        };
        let region = spec
            .region
            .clone()
            .or_else(|| default_region.map(str::to_string));
        let (branch, commit) = match &source {
            Source::Repo { branch, commit, .. } => (Some(branch.clone()), commit.clone()),
            Source::Image(_) => (None, None),
        };
        let record = Record {
            owner: key.owner.clone(),
            service: key.service.clone(),
            user: key.user.clone(),
            kind: Some(kind_label(spec.kind).to_string()),
            path: Some(spec.path.clone()),
            size: Some(size_field(spec.size.cpus, spec.size.memory_mb)),
            region: region.clone(),
            branch,
            commit,
            env: plain,
            after: None,
        };
        Ok(Desired {
            key: key.clone(),
            name: key.name_in_project(),
            kind: spec.kind,
            source,
            port: spec.port,
            path: spec.path.clone(),
            health_path: spec.health_path.clone(),
            region,
            start_command,
            cpus: spec.size.cpus,
            memory_mb: spec.size.memory_mb,
            vars,
            record,
        })
    }

    /// The variables to write, with `after` recorded.
    pub fn variables(&self, after: Option<&str>) -> serde_json::Map<String, serde_json::Value> {
        let record = Record {
            after: after.map(str::to_string),
            ..self.record.clone()
        };
        let mut out: serde_json::Map<String, serde_json::Value> = self
            .vars
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.expose().to_string())))
            .collect();
        out.insert(VAR_SERVICE.into(), record.to_json().into());
        out
    }

    pub fn secret_names(&self) -> BTreeSet<&str> {
        self.vars
            .iter()
            .filter(|(_, v)| matches!(v, Var::Secret(_)))
            .map(|(k, _)| k.as_str())
            .collect()
    }
}

pub fn kind_label(kind: ServiceKind) -> &'static str {
    match kind {
        ServiceKind::Mcp => "mcp",
        ServiceKind::LibreChat => "librechat",
    }
}

pub fn is_internal(name: &str) -> bool {
    name == VAR_SERVICE || name == VAR_FINGERPRINTS || name == VAR_LIBRECHAT_YAML
}

/// A name in Railway's own namespace (`RAILWAY_PUBLIC_DOMAIN`, …, notes §6): if a variables
/// read includes one that scalewize did not write, it is Railway's, not a foreign setting.
pub fn is_provided(name: &str) -> bool {
    name.starts_with("RAILWAY_")
}
