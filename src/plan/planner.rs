//! From rendered clients to a plan: desired services, the platforms they live on (connected,
//! prepared, observed), fields projected by each platform, and the comparison.

use std::collections::{BTreeMap, BTreeSet};

use super::{Plan, compute};
use crate::error::{Diagnostic, Diagnostics, Error, Location, Result};
use crate::model::{Fields, Observed};
use crate::model::{SHARED_OWNER, ServiceKey, ServiceSpec, base_fields};
use crate::platform::{Connection, Platforms};
use crate::render::Rendered;
use crate::secrets::SecretSource;
use crate::secrets::set_command;
use crate::ui::Progress;
use crate::workspace::{Client, PlatformName, Workspace};

pub struct Planned {
    pub specs: BTreeMap<ServiceKey, ServiceSpec>,
    pub observed: Vec<Observed>,
    pub plan: Plan,
    pub platforms: Platforms,
}

/// Observe `owners` on every platform in `platforms`, concurrently.
pub async fn observe_all(
    platforms: &Platforms,
    owners: Option<&BTreeSet<String>>,
) -> Result<Vec<Observed>> {
    let mut tasks = Vec::new();
    for (_, p) in platforms.iter() {
        let p = p.clone();
        let owners = owners.cloned();
        tasks.push(tokio::spawn(
            async move { p.observe(owners.as_ref()).await },
        ));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.extend(
            t.await
                .map_err(|e| Error::new(format!("internal error: {e}")))??,
        );
    }
    Ok(out)
}

/// Whether planning may prepare platforms first (the local platform builds binaries): only a
/// deploy that applies does; `diff` and `deploy --dry-run` compare what is on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prepare {
    Build,
    ReadOnly,
}

pub async fn plan(
    ws: &Workspace,
    clients: &[(&Client, &Rendered)],
    platform_override: Option<PlatformName>,
    secrets: &dyn SecretSource,
    progress: &Progress,
    conn: &Connection,
    prepare: Prepare,
) -> Result<Planned> {
    let specs = super::desired::desired(ws, clients, platform_override).map_err(|ds| {
        Error::from_diagnostics("these services cannot be deployed as configured", ds)
    })?;
    let names: BTreeSet<PlatformName> = specs.values().map(|s| s.platform).collect();
    let platforms = Platforms::connect(ws, &names, conn)?;
    if prepare == Prepare::Build {
        for (name, p) in platforms.iter() {
            let here: Vec<&ServiceSpec> = specs.values().filter(|s| s.platform == *name).collect();
            p.prepare(&here, progress).await?;
        }
    }
    let mut owners: BTreeSet<String> = clients.iter().map(|(c, _)| c.id.clone()).collect();
    owners.insert(SHARED_OWNER.to_string());
    let observed = observe_all(&platforms, Some(&owners)).await?;
    let urls: BTreeMap<ServiceKey, String> = observed
        .iter()
        .filter(|o| specs.get(&o.key).is_some_and(|s| s.platform == o.platform))
        .filter_map(|o| o.url.clone().map(|u| (o.key.clone(), u)))
        .collect();

    // Every secret's fingerprint; a missing secret stops here, before any change.
    let mut fingerprints = BTreeMap::new();
    let mut missing = Diagnostics::default();
    for spec in specs.values() {
        for (_, r) in spec.secrets() {
            if fingerprints.contains_key(r) {
                continue;
            }
            match secrets.fingerprint(r) {
                Ok(f) => {
                    fingerprints.insert(r.clone(), f);
                }
                // A store file that does not parse: its own finding (file, line, repair
                // hint), once, not once per secret read from it.
                Err(e) if !e.diagnostics.is_empty() => {
                    for d in e.diagnostics.0 {
                        if !missing.0.contains(&d) {
                            missing.push(d);
                        }
                    }
                }
                Err(e) => {
                    let d = Diagnostic::error(
                        Location::default(),
                        format!("{}: {}", spec.key, e.message),
                    )
                    .hint(e.hint.unwrap_or_else(|| set_command(r)));
                    if !missing.0.contains(&d) {
                        missing.push(d);
                    }
                }
            }
        }
    }
    if missing.has_errors() {
        return Err(Error::from_diagnostics(
            "secrets are missing or unreadable; nothing was changed",
            missing,
        ));
    }
    let desired: BTreeMap<ServiceKey, (ServiceSpec, Fields)> = specs
        .iter()
        .map(|(k, s)| {
            let f = platforms
                .get(s.platform)
                .fields(s, base_fields(s, &urls, &fingerprints));
            (k.clone(), (s.clone(), f))
        })
        .collect();
    let client_ids: Vec<String> = clients.iter().map(|(c, _)| c.id.clone()).collect();
    let delete_owners: BTreeSet<String> = client_ids.iter().cloned().collect();
    let plan = compute(
        client_ids,
        platform_override,
        &desired,
        &observed,
        &delete_owners,
    );
    Ok(Planned {
        specs,
        observed,
        plan,
        platforms,
    })
}
