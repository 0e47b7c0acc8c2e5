//! `tools.lock.json` in the commands: what `deploy` records after a change, what `diff` and
//! `status` compare against what is served, and what `status --accept-tools` rewrites. The
//! surface and its file format are `model::tool_surface`'s.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde::Serialize;

use crate::error::{Diagnostic, Result, did_you_mean};
use crate::model::tool_surface::{Surface, ToolChange, ToolsLock, compare};
use crate::model::{ServiceKey, ServiceKind, ServiceSpec, SpecValue};
use crate::plan::Action;
use crate::probe::Probe;
use crate::workspace::{Client, TOOLS_ALLOW_ENV, TOOLS_DENY_ENV, ToolRule, Workspace};

/// One service whose tools differ from the client's lock.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Drift {
    pub client: String,
    pub service: String,
    pub changes: Vec<ToolChange>,
}

/// The MCP services `client` uses (its own, its users', and shared ones), with what they serve.
fn served<'a>(
    client: &str,
    specs: &'a BTreeMap<ServiceKey, ServiceSpec>,
    probes: &'a BTreeMap<ServiceKey, Probe>,
) -> impl Iterator<Item = (&'a ServiceKey, &'a Surface)> {
    let client = client.to_string();
    specs
        .values()
        .filter(move |s| s.kind == ServiceKind::Mcp && s.clients.contains(&client))
        .filter_map(|s| {
            let surface = probes.get(&s.key)?.surface.as_ref()?;
            Some((&s.key, surface))
        })
}

/// After a deploy: each client's lock gains the surface of every service this run applied, and
/// of every service it does not list yet. An untouched service keeps its locked entry: a
/// surface that changed without a change of image or config is for review, not for recording.
pub fn record_after_deploy(
    ws: &Workspace,
    clients: &[String],
    specs: &BTreeMap<ServiceKey, ServiceSpec>,
    probes: &BTreeMap<ServiceKey, Probe>,
    applied: &BTreeSet<ServiceKey>,
) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for client in clients {
        let dir = ws.client_dir(client);
        let mut lock = ToolsLock::read(&dir)?.unwrap_or_default();
        let before = lock.clone();
        for (key, surface) in served(client, specs, probes) {
            let name = key.to_string();
            if applied.contains(key) || !lock.services.contains_key(&name) {
                lock.services.insert(name, surface.clone());
            }
        }
        if lock != before || !ToolsLock::path(&dir).exists() {
            lock.write(&dir)?;
            written.push(ToolsLock::path(&dir));
        }
    }
    Ok(written)
}

/// The services of `actions` whose tools may change (`Action::may_change_tools`): what a deploy
/// records. A service updated otherwise keeps its locked entry, so a tool change that came with
/// a mere config change is drift, not a new lock.
pub fn may_change_tools(actions: &[Action]) -> BTreeSet<ServiceKey> {
    actions
        .iter()
        .filter(|a| a.may_change_tools())
        .map(|a| a.key.clone())
        .collect()
}

/// Probed services that serve other tools than their client's filter lets through: with `allow`,
/// exactly those names; with `deny`, none of them. `(service, what is wrong)`.
pub fn filter_breaches(
    specs: &BTreeMap<ServiceKey, ServiceSpec>,
    probes: &BTreeMap<ServiceKey, Probe>,
) -> Vec<(ServiceKey, String)> {
    let names = |spec: &ServiceSpec, var: &str| -> Option<BTreeSet<String>> {
        match spec.env.get(var)? {
            SpecValue::Plain { value } => Some(
                value
                    .split(',')
                    .filter(|n| !n.is_empty())
                    .map(str::to_string)
                    .collect(),
            ),
            _ => None,
        }
    };
    let mut out = Vec::new();
    for (key, probe) in probes {
        let (Some(spec), Some(surface)) = (specs.get(key), probe.surface.as_ref()) else {
            continue;
        };
        let served: BTreeSet<String> = surface.keys().cloned().collect();
        let list = |set: &BTreeSet<String>| set.iter().cloned().collect::<Vec<_>>().join(", ");
        if let Some(allow) = names(spec, TOOLS_ALLOW_ENV) {
            let extra: BTreeSet<String> = served.difference(&allow).cloned().collect();
            let missing: BTreeSet<String> = allow.difference(&served).cloned().collect();
            if !extra.is_empty() {
                out.push((
                    key.clone(),
                    format!("serves {} outside its allowlist", list(&extra)),
                ));
            } else if !missing.is_empty() {
                out.push((
                    key.clone(),
                    format!("does not serve allowed {}", list(&missing)),
                ));
            }
        }
        if let Some(deny) = names(spec, TOOLS_DENY_ENV) {
            let shown: BTreeSet<String> = served.intersection(&deny).cloned().collect();
            if !shown.is_empty() {
                out.push((key.clone(), format!("serves denied {}", list(&shown))));
            }
        }
    }
    out
}

/// Every locked service whose served tools differ (services not probed are not judged).
pub fn drift(
    ws: &Workspace,
    clients: &[String],
    specs: &BTreeMap<ServiceKey, ServiceSpec>,
    probes: &BTreeMap<ServiceKey, Probe>,
) -> Result<Vec<Drift>> {
    let mut out = Vec::new();
    for client in clients {
        let Some(lock) = ToolsLock::read(&ws.client_dir(client))? else {
            continue;
        };
        for (key, surface) in served(client, specs, probes) {
            let name = key.to_string();
            let Some(locked) = lock.services.get(&name) else {
                continue;
            };
            let changes = compare(locked, surface);
            if !changes.is_empty() {
                out.push(Drift {
                    client: client.clone(),
                    service: name,
                    changes,
                });
            }
        }
    }
    Ok(out)
}

/// `status --accept-tools`: each client's lock rewritten from what is served now.
pub fn accept(
    ws: &Workspace,
    clients: &[String],
    specs: &BTreeMap<ServiceKey, ServiceSpec>,
    probes: &BTreeMap<ServiceKey, Probe>,
) -> Result<Vec<PathBuf>> {
    let all: BTreeSet<ServiceKey> = specs.keys().cloned().collect();
    record_after_deploy(ws, clients, specs, probes, &all)
}

impl Drift {
    /// The lines that show this drift: a heading naming the service and client, then one line
    /// per tool (`+ tool x`, `- tool y`, `~ tool z: description changed`).
    pub fn lines(&self, mark: &str) -> Vec<String> {
        let mut out = vec![format!(
            "{mark} {} ({}): its tools differ from tools.lock.json",
            self.service, self.client
        )];
        out.extend(self.changes.iter().map(|c| format!("    {}", c.line())));
        out
    }
}

/// `validate`: a `tools` filter naming a tool that the client's lock says the server does not
/// serve is an error, with the closest served name. Without a lock entry nothing is known yet
/// (the server itself refuses an unknown name at start).
pub fn unknown_tool_names(ws: &Workspace, client: &Client) -> Vec<Diagnostic> {
    let Ok(Some(lock)) = ToolsLock::read(&ws.client_dir(&client.id)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for server in &client.servers {
        let Some(rule) = &server.tools else { continue };
        let prefix = format!("{}/{}", client.id, server.slug);
        let Some((_, served)) = lock
            .services
            .iter()
            .find(|(k, _)| *k == &prefix || k.starts_with(&format!("{prefix}@")))
        else {
            continue;
        };
        let field = match rule {
            ToolRule::Allow(_) => "allow",
            ToolRule::Deny(_) => "deny",
        };
        for (i, name) in rule.names().iter().enumerate() {
            if served.contains_key(name) {
                continue;
            }
            let path = format!(
                "{}.tools.{field}[{i}]",
                server.origin.path.as_deref().unwrap_or("")
            );
            let hint = match did_you_mean(name, served.keys().map(String::as_str)) {
                Some(close) => {
                    format!("did you mean `{close}`? (tools.lock.json lists what it serves)")
                }
                None => format!(
                    "it serves: {}",
                    served.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            };
            out.push(
                Diagnostic::error(
                    server.origin.clone().at(path),
                    format!("{} does not serve a tool named `{name}`", server.slug),
                )
                .hint(hint),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tool_surface::ToolDigest;

    fn serving(
        tools: &[&str],
        rule: Option<(&str, &str)>,
    ) -> (
        BTreeMap<ServiceKey, ServiceSpec>,
        BTreeMap<ServiceKey, Probe>,
    ) {
        let mut spec = ServiceSpec::for_tests("a", "crm");
        if let Some((var, names)) = rule {
            spec.env.insert(
                var.into(),
                SpecValue::Plain {
                    value: names.into(),
                },
            );
        }
        let digest = ToolDigest::of(Some("d"), &serde_json::json!({}));
        let probe = Probe {
            ok: true,
            tools: Some(tools.len()),
            surface: Some(
                tools
                    .iter()
                    .map(|t| (t.to_string(), digest.clone()))
                    .collect(),
            ),
            latency_ms: 1,
            error: None,
        };
        let key = spec.key.clone();
        (
            BTreeMap::from([(key.clone(), spec)]),
            BTreeMap::from([(key, probe)]),
        )
    }

    fn breaches(tools: &[&str], rule: Option<(&str, &str)>) -> Vec<String> {
        let (specs, probes) = serving(tools, rule);
        filter_breaches(&specs, &probes)
            .into_iter()
            .map(|(_, w)| w)
            .collect()
    }

    #[test]
    fn an_allowlist_holds_only_when_exactly_its_tools_are_served() {
        let allow = Some((TOOLS_ALLOW_ENV, "search,get"));
        assert!(breaches(&["get", "search"], allow).is_empty());
        assert_eq!(
            breaches(&["get", "search", "delete"], allow),
            ["serves delete outside its allowlist"]
        );
        assert_eq!(breaches(&["get"], allow), ["does not serve allowed search"]);
    }

    #[test]
    fn a_denylist_holds_while_none_of_its_tools_is_served() {
        let deny = Some((TOOLS_DENY_ENV, "delete"));
        assert!(breaches(&["get"], deny).is_empty());
        assert_eq!(breaches(&["get", "delete"], deny), ["serves denied delete"]);
        assert!(breaches(&["get", "delete"], None).is_empty());
    }
}
