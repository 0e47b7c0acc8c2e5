//! `scalewize status`: what is live — each service's platform, URL, state and MCP health (a real
//! initialize + tools/list with the token LibreChat would send). Exits 1 when any service is down.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::json;

use super::session::{connection, runtime, secrets};
use super::{Ctx, Outcome, load_all};
use crate::cli::StatusArgs;
use crate::error::{Error, Result};
use crate::plan::desired::desired;
use crate::plan::prepare::observe_all;
use crate::plan::service::{SHARED_OWNER, ServiceKey, ServiceKind, SpecValue};
use crate::platform::{Platforms, State};
use crate::probe::{Probe, probe};
use crate::workspace::{CredentialMode, USER_ID_HEADER};

pub fn run(ctx: &mut Ctx, args: StatusArgs) -> Result<Outcome> {
    ctx.ui.json = args.json;
    let ws = ctx.workspace()?;
    let ids = ws.select(&args.selection.clients, args.selection.all, true)?;
    // --orphans needs every client's config to know what is described.
    let all_ids = if args.orphans {
        ws.client_ids()?
    } else {
        ids.clone()
    };
    let loaded = load_all(
        &ws,
        &all_ids,
        "cannot tell what should be live: fix these first",
    )?;
    let all_refs: Vec<_> = loaded.iter().map(|(c, r)| (c, r)).collect();
    let selected_refs: Vec<_> = all_refs
        .iter()
        .filter(|(c, _)| ids.contains(&c.id))
        .cloned()
        .collect();
    let specs = desired(&ws, &selected_refs, args.platform.get())
        .map_err(|ds| Error::from_diagnostics("invalid deploy settings", ds))?;
    let mut names: BTreeSet<_> = specs.values().map(|s| s.platform).collect();
    if args.orphans {
        names.extend(Platforms::available());
    }
    let source = secrets(ctx, &ws).ok();
    let conn = match &source {
        Some(s) => connection(ctx, s),
        None => crate::platform::Connection::quiet(),
    };
    let platforms = Platforms::connect(&ws, &names, &conn)?;
    let rt = runtime()?;
    let mut owners: BTreeSet<String> = ids.iter().cloned().collect();
    owners.insert(SHARED_OWNER.to_string());
    let observed = rt.block_on(observe_all(&platforms, Some(&owners)))?;

    // Probe every running MCP service with the headers LibreChat sends.
    let mut probes: BTreeMap<ServiceKey, Probe> = BTreeMap::new();
    rt.block_on(async {
        let mut tasks = Vec::new();
        for spec in specs.values().filter(|s| s.kind == ServiceKind::Mcp) {
            let Some(o) = observed
                .iter()
                .find(|o| o.key == spec.key && o.platform == spec.platform)
            else {
                continue;
            };
            let (Some(url), State::Running) = (o.url.clone(), &o.state) else {
                continue;
            };
            let mut headers = Vec::new();
            if let (Some(src), Some(SpecValue::Secret(r))) =
                (&source, spec.env.get("MCP_ACCESS_TOKEN"))
            {
                match src.value(r) {
                    Ok(t) => headers.push((
                        crate::workspace::ACCESS_TOKEN_HEADER.to_string(),
                        t.expose().to_string(),
                    )),
                    Err(e) => ctx.ui.debug(
                        1,
                        format!("{}: no token for the health probe: {}", spec.key, e.message),
                    ),
                }
            }
            let per_user = selected_refs.iter().any(|(c, _)| {
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

    // External servers (a `url`): scalewize does not run them; an HTTP check says whether they answer.
    let mut externals: BTreeMap<String, (String, BTreeSet<String>)> = BTreeMap::new();
    for (c, _) in &selected_refs {
        for s in &c.servers {
            if let crate::workspace::ServerSource::External { url, .. } = &s.source {
                externals
                    .entry(url.clone())
                    .or_insert_with(|| (s.slug.clone(), BTreeSet::new()))
                    .1
                    .insert(c.id.clone());
            }
        }
    }
    let checks: BTreeMap<String, Result<u16, String>> = rt.block_on(async {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .ok();
        let mut tasks = Vec::new();
        for url in externals.keys() {
            let (url, http) = (url.clone(), http.clone());
            tasks.push(tokio::spawn(async move {
                let r = match http {
                    Some(h) => h
                        .get(&url)
                        .send()
                        .await
                        .map(|r| r.status().as_u16())
                        .map_err(|e| {
                            if e.is_timeout() {
                                "no answer within 5 s".to_string()
                            } else {
                                "connection failed".to_string()
                            }
                        }),
                    None => Err("no HTTP client".to_string()),
                };
                (url, r)
            }));
        }
        let mut out = BTreeMap::new();
        for t in tasks {
            if let Ok((u, r)) = t.await {
                out.insert(u, r);
            }
        }
        out
    });
    let external_rows: Vec<serde_json::Value> = externals
        .iter()
        .map(|(url, (slug, clients))| {
            let (reachable, detail) = match checks.get(url) {
                Some(Ok(code)) => (*code < 500, format!("HTTP {code}")),
                Some(Err(e)) => (false, e.clone()),
                None => (false, "not checked".to_string()),
            };
            json!({"server": slug, "clients": clients, "url": url, "reachable": reachable, "detail": detail})
        })
        .collect();

    let ui = &ctx.ui;
    let mut down = 0;
    let mut rows = Vec::new();
    for spec in specs.values() {
        let o = observed
            .iter()
            .find(|o| o.key == spec.key && o.platform == spec.platform);
        let p = probes.get(&spec.key);
        let (state, detail) = match o {
            None => ("missing".to_string(), Some("not deployed".to_string())),
            Some(o) => (o.state.as_str().to_string(), o.detail.clone()),
        };
        let healthy = match (o, p) {
            (Some(o), _) if o.state != State::Running => false,
            (Some(_), Some(p)) => p.ok,
            (Some(_), None) => spec.kind == ServiceKind::LibreChat,
            (None, _) => false,
        };
        if !healthy {
            down += 1;
        }
        rows.push(json!({
            "service": spec.key.to_string(),
            "platform": spec.platform.as_str(),
            "clients": spec.clients,
            "url": o.and_then(|o| o.url.clone()),
            "state": state,
            "detail": detail,
            "healthy": healthy,
            "mcp": p,
        }));
    }
    let mut orphans = Vec::new();
    if args.orphans {
        let everything = desired(&ws, &all_refs, args.platform.get())
            .map_err(|ds| Error::from_diagnostics("invalid deploy settings", ds))?;
        let all_live = rt.block_on(observe_all(&platforms, None))?;
        for o in crate::plan::orphans(&everything, all_live) {
            orphans.push(json!({"service": o.key.to_string(), "platform": o.platform.as_str(), "url": o.url, "state": o.state.as_str()}));
        }
    }
    if ui.json {
        ui.json_out(&json!({"services": rows, "external": external_rows, "orphans": if args.orphans { Some(&orphans) } else { None }, "summary": {"services": rows.len(), "down": down}}));
    } else {
        ui.result(format!(
            "{:<38} {:<8} {:<10} {:<18} {}",
            "SERVICE", "PLATFORM", "STATE", "MCP", "URL"
        ));
        for r in &rows {
            let state = r["state"].as_str().unwrap_or_default();
            let state_col = if r["healthy"].as_bool() == Some(true) {
                ui.green(state)
            } else {
                ui.red(state)
            };
            let mcp = match r["mcp"].as_object() {
                Some(m) if m["ok"].as_bool() == Some(true) => {
                    format!("{} tools, {} ms", m["tools"], m["latency_ms"])
                }
                Some(_) => "unhealthy".to_string(),
                None if r["service"]
                    .as_str()
                    .is_some_and(|s| s.ends_with("/librechat")) =>
                {
                    "-".to_string()
                }
                None => "not probed".to_string(),
            };
            ui.result(format!(
                "{:<38} {:<8} {:<10} {:<18} {}",
                r["service"].as_str().unwrap_or_default(),
                r["platform"].as_str().unwrap_or_default(),
                pad(&state_col, state, 10),
                mcp,
                r["url"].as_str().unwrap_or("-")
            ));
            if r["healthy"].as_bool() != Some(true) {
                let why = r["mcp"]["error"]
                    .as_str()
                    .map(str::to_string)
                    .or_else(|| r["detail"].as_str().map(str::to_string));
                if let Some(why) = why {
                    ui.result(format!("{:<38} {}", "", ui.dim(&format!("↳ {why}"))));
                }
            }
        }
        for e in &external_rows {
            let ok = e["reachable"].as_bool() == Some(true);
            let state = if ok { "reachable" } else { "unreachable" };
            ui.result(format!(
                "{:<38} {:<8} {} {:<18} {}",
                format!("external/{}", e["server"].as_str().unwrap_or_default()),
                "-",
                pad(
                    &if ok {
                        ui.green(state)
                    } else {
                        ui.yellow(state)
                    },
                    state,
                    10
                ),
                e["detail"].as_str().unwrap_or_default(),
                e["url"].as_str().unwrap_or_default()
            ));
        }
        if !external_rows.is_empty() {
            ui.say(ui.dim("(external servers are not run by scalewize: their state does not change the exit code)"));
        }
        if args.orphans {
            if orphans.is_empty() {
                ui.result("No orphans: every resource scalewize owns is described by a config.");
            } else {
                ui.result(format!(
                    "Orphans ({}), remove with `scalewize destroy --orphans`:",
                    orphans.len()
                ));
                for o in &orphans {
                    ui.result(format!(
                        "  {} on {}",
                        o["service"].as_str().unwrap_or_default(),
                        o["platform"].as_str().unwrap_or_default()
                    ));
                }
            }
        }
    }
    if down > 0 {
        return Err(Error::new(format!("{down} of {} service(s) are not healthy", rows.len()))
            .hint("`scalewize deploy <client>` restores what is down; `scalewize logs <client> <server>` shows why it stopped"));
    }
    Ok(Outcome::Done)
}

/// Pad by the visible width (colour codes take none).
fn pad(painted: &str, plain: &str, width: usize) -> String {
    format!(
        "{painted}{}",
        " ".repeat(width.saturating_sub(plain.chars().count()))
    )
}
