//! `scalewize status`: what is live — each service's platform, URL, state and MCP health (a real
//! initialize + tools/list with the token LibreChat would send). Exits 1 when any service is down.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::output::{
    self, ExternalStatus, OrphanRecord, ProbeRecord, ServiceState, ServiceStatus, StatusOutput,
    StatusSummary,
};
use super::session::{connection, runtime, secrets};
use super::{Ctx, Outcome, load_all};
use crate::cli::StatusArgs;
use crate::error::{Error, Result};
use crate::model::State;
use crate::model::{SHARED_OWNER, ServiceKind};
use crate::plan::desired::desired;
use crate::plan::planner::observe_all;
use crate::platform::Platforms;
use crate::ui::{Align, Table};

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
    let clients: Vec<&crate::workspace::Client> = selected_refs.iter().map(|(c, _)| *c).collect();
    let targets = super::probes::running(specs.values(), &observed);
    let probes = super::probes::probe_all(ctx, &rt, targets, source.as_ref(), &clients);

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
    let external_rows: Vec<ExternalStatus> = externals
        .iter()
        .map(|(url, (slug, clients))| {
            let (reachable, detail) = match checks.get(url) {
                Some(Ok(code)) => (*code < 500, format!("HTTP {code}")),
                Some(Err(e)) => (false, e.clone()),
                None => (false, "not checked".to_string()),
            };
            ExternalStatus {
                server: slug.clone(),
                clients: clients.iter().cloned().collect(),
                url: url.clone(),
                reachable,
                detail,
            }
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
        let state = ServiceState::of(o.map(|o| &o.state));
        let detail = match o {
            None => Some("not deployed".to_string()),
            Some(o) => o.detail.clone(),
        };
        let healthy = match (o, p) {
            (Some(o), _) if o.state != State::Running => false,
            (Some(_), Some(p)) => p.ok,
            (Some(_), None) => spec.kind == ServiceKind::LibreChat,
            (None, _) => false,
        };
        // Config-only (local LibreChat without Docker) is never healthy, but it is what deploy
        // did on purpose, not something down: its detail names the command that starts it.
        if !healthy && o.is_none_or(|o| o.state != State::ConfigOnly) {
            down += 1;
        }
        rows.push(ServiceStatus {
            key: spec.key.clone(),
            platform: spec.platform,
            clients: spec.clients.iter().cloned().collect(),
            url: o.and_then(|o| o.url.clone()),
            state,
            detail,
            healthy,
            mcp: p.map(ProbeRecord::from),
        });
    }
    // The tools served against each client's lock: drift fails status until reviewed.
    let drift = if args.accept_tools {
        for p in super::tool_lock::accept(&ws, &ids, &specs, &probes)? {
            ui.say(format!(
                "accepted the tools served now into {}",
                ws.relative(&p).display()
            ));
        }
        Vec::new()
    } else {
        super::tool_lock::drift(&ws, &ids, &specs, &probes)?
    };
    let mut orphans = Vec::new();
    if args.orphans {
        let everything = desired(&ws, &all_refs, args.platform.get())
            .map_err(|ds| Error::from_diagnostics("invalid deploy settings", ds))?;
        let all_live = rt.block_on(observe_all(&platforms, None))?;
        for o in crate::plan::orphans(&everything, all_live) {
            orphans.push(OrphanRecord {
                key: o.key,
                platform: o.platform,
                url: o.url,
                state: o.state,
            });
        }
    }
    let summary = StatusSummary {
        services: rows.len(),
        down,
    };
    if ui.json {
        let body = StatusOutput {
            services: rows,
            external: external_rows,
            orphans: args.orphans.then_some(orphans),
            summary,
            tools_drift: drift.clone(),
        };
        output::emit(ui, "status", body);
    } else {
        print_status(
            ui,
            &rows,
            &external_rows,
            args.orphans.then_some(&orphans[..]),
        );
        for line in drift.iter().flat_map(|d| d.lines(&ui.red("drift"))) {
            ui.result(line);
        }
    }
    if !drift.is_empty() {
        return Err(Error::new(format!(
            "{} service(s) serve tools that differ from tools.lock.json (a tool whose description changes while its image and config did not is how a compromised server hides new instructions)",
            drift.len()
        ))
        .hint("review the changes above; if they are expected, `scalewize status --accept-tools` records them (then commit tools.lock.json)"));
    }
    if down > 0 {
        return Err(Error::new(format!("{down} of {} service(s) are not healthy", summary.services))
            .hint("`scalewize deploy <client>` restores what is down; `scalewize logs <client> <server>` shows why it stopped"));
    }
    Ok(Outcome::Done)
}

/// The status table (stdout), then external servers and orphans.
fn print_status(
    ui: &crate::ui::Ui,
    rows: &[ServiceStatus],
    externals: &[ExternalStatus],
    orphans: Option<&[OrphanRecord]>,
) {
    let mut table = Table::new(&[
        ("SERVICE", Align::Left),
        ("PLATFORM", Align::Left),
        ("STATE", Align::Left),
        ("MCP", Align::Left),
        ("URL", Align::Left),
    ]);
    for r in rows {
        let state = r.state.as_str();
        let state_col = if r.healthy {
            ui.green(state)
        } else {
            ui.red(state)
        };
        let mcp = match &r.mcp {
            Some(m) if m.ok => format!("{} tools, {} ms", m.tools.unwrap_or(0), m.latency_ms),
            Some(_) => "unhealthy".to_string(),
            None if r.key.is_librechat() => "-".to_string(),
            None => "not probed".to_string(),
        };
        table.row(vec![
            r.key.to_string(),
            r.platform.to_string(),
            state_col,
            mcp,
            r.url.clone().unwrap_or_else(|| "-".into()),
        ]);
        if !r.healthy {
            let why = r
                .mcp
                .as_ref()
                .and_then(|m| m.error.clone())
                .or_else(|| r.detail.clone());
            if let Some(why) = why {
                // Under URL: the last column may grow without moving the others.
                let mut cells = vec![String::new(); 4];
                cells.push(ui.dim(&format!("↳ {why}")));
                table.row(cells);
            }
        }
    }
    for e in externals {
        let state = if e.reachable {
            "reachable"
        } else {
            "unreachable"
        };
        table.row(vec![
            format!("external/{}", e.server),
            "-".into(),
            if e.reachable {
                ui.green(state)
            } else {
                ui.yellow(state)
            },
            e.detail.clone(),
            e.url.clone(),
        ]);
    }
    ui.table(&table);
    if !externals.is_empty() {
        ui.say(ui.dim("(external servers are not run by scalewize: their state does not change the exit code)"));
    }
    if let Some(orphans) = orphans {
        if orphans.is_empty() {
            ui.result("No orphans: every resource scalewize owns is described by a config.");
        } else {
            ui.result(format!(
                "Orphans ({}), remove with `scalewize destroy --orphans`:",
                orphans.len()
            ));
            for o in orphans {
                ui.result(format!("  {} on {}", o.key, o.platform));
            }
        }
    }
}
