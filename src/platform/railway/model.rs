//! How scalewize's services map onto Railway (SPEC §3): project names and their marker, the
//! variables scalewize writes beside a service's environment, and the comparable fields of a
//! live service, which must equal `RailwayPlatform::fields` for an unchanged one.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use serde::{Deserialize, Serialize};

use super::Fields;
use crate::error::{Error, Result};
use crate::plan::service::{ServiceKey, ServiceKind, ServiceSpec};
use crate::platform::{Resolved, ResolvedSpec};
use crate::secrets::Secret;

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
    /// Whether scalewize sets the region (else Railway's default is not compared).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub region: bool,
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

pub fn size_label(cpus: u32, memory_mb: u32) -> String {
    format!("{cpus} cpu, {memory_mb} MB")
}

pub fn file_digest(content: &[u8]) -> String {
    format!("sha256:{}", &crate::plan::sha256_hex(content)[..16])
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
                    .get(crate::plan::desired::LIBRECHAT_CONFIG_PATH)
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
            size: Some(size_label(spec.size.cpus, spec.size.memory_mb)),
            region: region.is_some(),
            branch,
            commit,
            env: plain,
            after: None,
        };
        Ok(Desired {
            key: key.clone(),
            name: key.local_name(),
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

/// A live service's variables as observe keeps them: secret values are dropped on arrival.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveVars {
    /// Every variable's name.
    pub names: BTreeSet<String>,
    /// Values of the variables that are not secrets (per the fingerprints list).
    pub plain: BTreeMap<String, String>,
    pub fingerprints: BTreeMap<String, String>,
    pub record: Option<Record>,
}

impl LiveVars {
    /// From the unrendered variables map (which holds secret values: they are not kept).
    pub fn from_map(map: &serde_json::Map<String, serde_json::Value>) -> LiveVars {
        let fingerprints: BTreeMap<String, String> = map
            .get(VAR_FINGERPRINTS)
            .and_then(|v| v.as_str())
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or_default();
        let record = map
            .get(VAR_SERVICE)
            .and_then(|v| v.as_str())
            .and_then(Record::parse);
        let mut plain = BTreeMap::new();
        for (k, v) in map {
            if fingerprints.contains_key(k) || k == VAR_SERVICE {
                continue;
            }
            if let Some(s) = v.as_str() {
                plain.insert(k.clone(), s.to_string());
            }
        }
        LiveVars {
            names: map.keys().cloned().collect(),
            plain,
            fingerprints,
            record,
        }
    }

    /// Whether writing `d`'s variables would change nothing (secrets by fingerprint).
    pub fn matches(&self, d: &Desired) -> bool {
        let mut want: BTreeSet<String> = d.vars.keys().cloned().collect();
        want.insert(VAR_SERVICE.into());
        let have: BTreeSet<String> = self
            .names
            .iter()
            .filter(|n| want.contains(*n) || !is_provided(n))
            .cloned()
            .collect();
        if want != have {
            return false;
        }
        for (k, v) in &d.vars {
            if let Var::Plain(p) = v
                && self.plain.get(k) != Some(p)
            {
                return false;
            }
        }
        self.record
            .as_ref()
            .is_some_and(|r| r.same_config(&d.record))
    }
}

/// A service domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    pub id: String,
    pub domain: String,
    pub target_port: Option<i64>,
}

/// A deployment's id and status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    pub id: String,
    pub status: String,
}

/// One live service instance in a project's environment.
#[derive(Debug, Clone)]
pub struct Live {
    pub service_id: String,
    pub name: String,
    pub project_id: String,
    pub environment_id: String,
    pub image: Option<String>,
    pub repo: Option<String>,
    pub root_dir: Option<String>,
    pub start_command: Option<String>,
    pub health_path: Option<String>,
    pub region: Option<String>,
    pub domains: Vec<Domain>,
    pub latest: Option<Deployment>,
    pub vars: LiveVars,
}

pub const TERMINAL_OK: &str = "SUCCESS";
pub const TERMINAL_BAD: [&str; 4] = ["FAILED", "CRASHED", "REMOVED", "SKIPPED"];

impl Live {
    pub fn connected(&self) -> bool {
        self.image.is_some() || self.repo.is_some()
    }

    /// The domain clients use (the oldest: lists are in creation order).
    pub fn domain(&self) -> Option<&Domain> {
        self.domains.first()
    }

    pub fn url(&self) -> Option<String> {
        let d = self.domain()?;
        let path = self
            .vars
            .record
            .as_ref()
            .and_then(|r| r.path.clone())
            .unwrap_or_default();
        Some(join_url(&d.domain, &path))
    }

    /// Whether the configuration written last has not been deployed since.
    pub fn pending(&self) -> bool {
        match (&self.vars.record, &self.latest) {
            (_, None) => true,
            (Some(r), Some(l)) if r.configured() => r.after.as_deref() == Some(l.id.as_str()),
            _ => false,
        }
    }

    /// State and a reason from the latest deployment (and whether the config is deployed).
    pub fn state(&self) -> (crate::platform::State, Option<String>) {
        use crate::platform::State;
        let Some(l) = &self.latest else {
            return (State::Down, Some("never deployed".into()));
        };
        if self.pending() {
            return (
                State::Down,
                Some("its configuration changed but was not deployed".into()),
            );
        }
        match l.status.as_str() {
            TERMINAL_OK | "SLEEPING" => (State::Running, None),
            s if TERMINAL_BAD.contains(&s) || s == "REMOVING" => (
                State::Down,
                Some(format!("latest deployment {}", s.to_ascii_lowercase())),
            ),
            s => (
                State::Starting,
                Some(format!("deployment {}", s.to_ascii_lowercase())),
            ),
        }
    }

    /// The comparable fields (see `RailwayPlatform::fields`).
    pub fn fields(&self) -> Fields {
        let mut f = Fields::new();
        let record = self.vars.record.clone().unwrap_or_default();
        if let Some(i) = &self.image {
            f.insert("image".into(), i.clone());
        }
        if let Some(repo) = &self.repo {
            f.insert(
                "repo".into(),
                format!(
                    "{repo}@{} ({})",
                    record.branch.as_deref().unwrap_or("?"),
                    norm_dir(self.root_dir.as_deref().unwrap_or_default())
                ),
            );
        }
        if let Some(c) = &record.commit {
            f.insert("commit".into(), c.clone());
        }
        if let Some(p) = self.vars.plain.get(VAR_PORT) {
            // The public domain must route to that port too.
            let value = match self.domain().and_then(|d| d.target_port) {
                Some(tp) if tp.to_string() != *p => {
                    format!("{p} (its public domain routes to {tp})")
                }
                _ => p.clone(),
            };
            f.insert("port".into(), value);
        }
        if let Some(p) = &record.path {
            f.insert("path".into(), p.clone());
        }
        if let Some(h) = &self.health_path {
            f.insert("health_path".into(), h.clone());
        }
        if record.region
            && let Some(r) = &self.region
        {
            f.insert("region".into(), r.clone());
        }
        if let Some(s) = &record.size {
            f.insert("size".into(), s.clone());
        }
        let ours: BTreeSet<&str> = record.env.iter().map(String::as_str).collect();
        for name in &self.vars.names {
            if is_internal(name)
                || name == VAR_PORT
                || self.vars.fingerprints.contains_key(name)
                || (is_provided(name) && !ours.contains(name.as_str()))
            {
                continue;
            }
            let value = match (ours.contains(name.as_str()), self.vars.plain.get(name)) {
                (true, Some(v)) => v.clone(),
                _ => FOREIGN_VALUE.to_string(),
            };
            f.insert(format!("env.{name}"), value);
        }
        for (name, fp) in &self.vars.fingerprints {
            let v = if self.vars.names.contains(name) {
                fp.clone()
            } else {
                "(missing)".into()
            };
            f.insert(format!("secret.{name}"), v);
        }
        if let Some(b64) = self.vars.plain.get(VAR_LIBRECHAT_YAML) {
            let digest = match base64::engine::general_purpose::STANDARD.decode(b64) {
                Ok(bytes) => file_digest(&bytes),
                Err(_) => "(not base64)".into(),
            };
            f.insert(
                format!("file.{}", crate::plan::desired::LIBRECHAT_CONFIG_PATH),
                digest,
            );
        }
        if record.kind.as_deref() == Some(kind_label(ServiceKind::LibreChat))
            && let Some(c) = &self.start_command
        {
            f.insert("start_command".into(), c.clone());
        }
        f
    }
}

/// `https://<domain><path>`; LibreChat's base URL has no trailing slash.
pub fn join_url(domain: &str, path: &str) -> String {
    if path.is_empty() || path == "/" {
        format!("https://{domain}")
    } else {
        format!("https://{domain}{path}")
    }
}

/// The Railway projection of a spec's fields (see `RailwayPlatform::fields`).
pub fn project_fields(
    spec: &ServiceSpec,
    mut base: Fields,
    default_region: Option<&str>,
    commit: Option<&str>,
) -> Fields {
    base.remove("run");
    base.remove("env.PORT");
    for (k, v) in base.iter_mut() {
        if k.starts_with("env.") && v == crate::plan::OWN_URL {
            *v = OWN_URL_REF.to_string();
        }
    }
    if spec.region.is_none()
        && let Some(r) = default_region
    {
        base.insert("region".into(), r.to_string());
    }
    if let Some(repo) = &spec.repo {
        base.insert(
            "repo".into(),
            format!(
                "{}@{} ({})",
                repo.repo,
                repo.branch,
                norm_dir(&repo.root_dir)
            ),
        );
        base.insert("commit".into(), commit.unwrap_or("(unknown)").to_string());
    }
    if spec.kind == ServiceKind::LibreChat {
        base.insert("start_command".into(), LIBRECHAT_START.into());
    }
    base
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn live(vars: serde_json::Value) -> Live {
        Live {
            service_id: "s".into(),
            name: "x-mcp".into(),
            project_id: "p".into(),
            environment_id: "e".into(),
            image: Some("img:1".into()),
            repo: None,
            root_dir: None,
            start_command: None,
            health_path: Some("/health".into()),
            region: Some("us-west2".into()),
            domains: vec![Domain {
                id: "d".into(),
                domain: "x.up.railway.app".into(),
                target_port: Some(8080),
            }],
            latest: Some(Deployment {
                id: "dep1".into(),
                status: "SUCCESS".into(),
            }),
            vars: LiveVars::from_map(vars.as_object().unwrap()),
        }
    }

    #[test]
    fn secret_values_are_dropped_and_foreign_values_hidden() {
        let record = json!({"owner": "a", "service": "x-mcp", "kind": "mcp", "path": "/mcp", "size": "1 cpu, 256 MB", "env": ["PLAIN"]}).to_string();
        let l = live(json!({
            "SCALEWIZE_SERVICE": record,
            "SCALEWIZE_FINGERPRINTS": "{\"TOKEN\":\"hmac-sha256:abc\"}",
            "TOKEN": "the-secret-value",
            "PLAIN": "p",
            "MANUAL": "someone's-value",
            "RAILWAY_PUBLIC_DOMAIN": "x.up.railway.app",
            "PORT": "8080",
        }));
        assert!(!format!("{l:?}").contains("the-secret-value"));
        let f = l.fields();
        assert_eq!(f["secret.TOKEN"], "hmac-sha256:abc");
        assert_eq!(f["env.PLAIN"], "p");
        assert_eq!(f["env.MANUAL"], FOREIGN_VALUE);
        assert!(!f.contains_key("env.RAILWAY_PUBLIC_DOMAIN"));
        assert_eq!(f["port"], "8080");
        assert_eq!(l.url().as_deref(), Some("https://x.up.railway.app/mcp"));
        assert_eq!(l.state().0, crate::platform::State::Running);
    }
}
