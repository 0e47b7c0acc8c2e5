//! MCP probes of running services, as LibreChat would connect (its access token, and a user id
//! for per-user-header servers): shared by `status` (health), `deploy` (the tools lock after a
//! change) and `diff` (the tools layer).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::Ctx;
use crate::model::{Observed, ServiceKey, ServiceKind, ServiceSpec, SpecValue, State};
use crate::probe::{Probe, probe};
use crate::secrets::SecretSource;
use crate::workspace::{ACCESS_TOKEN_HEADER, Client, CredentialMode, USER_ID_HEADER};

/// The MCP services among `specs` that `observed` says are running, with their URLs.
pub fn running<'a>(
    specs: impl Iterator<Item = &'a ServiceSpec>,
    observed: &[Observed],
) -> Vec<(&'a ServiceSpec, String)> {
    specs
        .filter(|s| s.kind == ServiceKind::Mcp)
        .filter_map(|spec| {
            let o = observed
                .iter()
                .find(|o| o.key == spec.key && o.platform == spec.platform)?;
            match (&o.url, &o.state) {
                (Some(url), State::Running) => Some((spec, url.clone())),
                _ => None,
            }
        })
        .collect()
}

/// Probe each `(spec, url)` as LibreChat would connect.
pub fn probe_all(
    ctx: &Ctx,
    rt: &tokio::runtime::Runtime,
    targets: Vec<(&ServiceSpec, String)>,
    source: Option<&Arc<dyn SecretSource>>,
    clients: &[&Client],
) -> BTreeMap<ServiceKey, Probe> {
    let mut probes = BTreeMap::new();
    rt.block_on(async {
        let mut tasks = Vec::new();
        for (spec, url) in targets {
            let mut headers = Vec::new();
            if let (Some(src), Some(SpecValue::Secret(r))) =
                (source, spec.env.get("MCP_ACCESS_TOKEN"))
            {
                match src.value(r) {
                    Ok(t) => {
                        headers.push((ACCESS_TOKEN_HEADER.to_string(), t.expose().to_string()))
                    }
                    Err(e) => ctx.ui.debug(
                        1,
                        format!("{}: no token for the probe: {}", spec.key, e.message),
                    ),
                }
            }
            let per_user = clients.iter().any(|c| {
                c.servers.iter().any(|s| {
                    s.slug == spec.key.service && s.credential_mode == CredentialMode::PerUserHeader
                })
            });
            if per_user {
                headers.push((USER_ID_HEADER.to_string(), "scalewize-status".to_string()));
            }
            let key = spec.key.clone();
            tasks.push(tokio::spawn(async move {
                (key, probe(&url, &headers, Duration::from_secs(15)).await)
            }));
        }
        for t in tasks {
            if let Ok((k, p)) = t.await {
                probes.insert(k, p);
            }
        }
    });
    probes
}
