//! A live service as observe reads it back (variables with secret values dropped on arrival,
//! domains, the latest deployment) and the comparable fields it yields, which must equal
//! `RailwayPlatform::fields` for an unchanged service.

use std::collections::{BTreeMap, BTreeSet};

use super::*;
use crate::model::Fields;

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

/// What a `DeploymentStatus` means for a deploy that waits on it: the one place each status
/// is sorted (notes §3g, §10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// `SUCCESS`, or `SLEEPING` (a serverless service asleep after deploying).
    Deployed,
    /// `FAILED`, `CRASHED`, `REMOVED`, `SKIPPED`, `REMOVING`.
    Failed,
    /// `WAITING`, `NEEDS_APPROVAL`: someone must approve it in Railway; waiting does nothing.
    NeedsApproval,
    /// Anything else (`QUEUED`, `INITIALIZING`, `BUILDING`, `DEPLOYING`, or a new status).
    InProgress,
}

pub fn phase(status: &str) -> Phase {
    match status {
        "SUCCESS" | "SLEEPING" => Phase::Deployed,
        "FAILED" | "CRASHED" | "REMOVED" | "SKIPPED" | "REMOVING" => Phase::Failed,
        "WAITING" | "NEEDS_APPROVAL" => Phase::NeedsApproval,
        _ => Phase::InProgress,
    }
}

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
    pub fn state(&self) -> (crate::model::State, Option<String>) {
        use crate::model::State;
        let Some(l) = &self.latest else {
            return (State::Down, Some("never deployed".into()));
        };
        if self.pending() {
            return (
                State::Down,
                Some("its configuration changed but was not deployed".into()),
            );
        }
        let s = l.status.to_ascii_lowercase();
        match phase(&l.status) {
            Phase::Deployed => (State::Running, None),
            Phase::Failed => (State::Down, Some(format!("latest deployment {s}"))),
            Phase::NeedsApproval => (
                State::Down,
                Some(format!("deployment {s}: approve it in Railway")),
            ),
            Phase::InProgress => (State::Starting, Some(format!("deployment {s}"))),
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
        if let Some(r) = placed_region(&record, self.region.as_deref()) {
            f.insert("region".into(), r.to_string());
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
                Ok(bytes) => content_digest(&bytes),
                Err(_) => "(not base64)".into(),
            };
            f.insert(
                format!("file.{}", crate::model::LIBRECHAT_CONFIG_PATH),
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
    base.remove("env.PORT");
    substitute_own_url(&mut base, OWN_URL_REF);
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
        assert_eq!(l.state().0, crate::model::State::Running);
    }
}
