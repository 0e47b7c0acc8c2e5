//! `deploy --waves`: the plan applied wave by wave (see `plan::waves`), each wave followed by a
//! gate on every MCP service it changed — it answers `initialize` + `tools/list` with its token
//! (after the platform's own health wait), lists exactly what its client's tool filter allows,
//! and, unless its code changed, serves what tools.lock.json says — before the next wave starts.
//! A wave with more failed clients than `--max-failures` (a failed shared wave: any) stops the
//! rollout; the report says
//! which clients are deployed and healthy, which failed and why, and which were not touched.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::Serialize;
use serde_json::json;

use super::Ctx;
use crate::apply::{Options, execute};
use crate::error::{Error, Result};
use crate::model::{Fields, Observed, ServiceKind, State};
use crate::plan::planner::Planned;
use crate::plan::waves::{Wave, WaveSize, waves};
use crate::secrets::SecretSource;
use crate::ui::Progress;
use crate::workspace::{Client, Workspace};

/// How a rollout goes: where to cut, who goes first, how many failures a wave may have.
pub struct Rollout<'a> {
    pub sizes: &'a [WaveSize],
    pub canary: &'a [String],
    pub max_failures: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub client: String,
    pub wave: String,
    /// `deployed`, `failed` or `not touched`.
    pub result: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
}

/// Apply `planned` in waves. `Ok(())` when every wave passed its gate.
#[allow(clippy::too_many_arguments)]
pub fn run(
    ctx: &Ctx,
    rt: &tokio::runtime::Runtime,
    ws: &Workspace,
    clients: &[&Client],
    planned: &Planned,
    source: &Arc<dyn SecretSource>,
    progress: &Arc<Progress>,
    opts: &Options,
    how: &Rollout,
) -> Result<()> {
    let ui = &ctx.ui;
    let plan_waves = waves(&planned.plan, how.canary, how.sizes);
    let mut seen: Vec<Observed> = planned.observed.clone();
    let mut rows: Vec<Row> = Vec::new();
    let mut stopped: Option<String> = None;
    // Probes and recordable services of every wave so far: a client's lock also takes the
    // shared servers that the shared wave changed before it.
    let mut all_probes = BTreeMap::new();
    let mut recordable = BTreeSet::new();
    let everyone: Vec<String> = clients.iter().map(|c| c.id.clone()).collect();
    let n = plan_waves.len();
    for (i, wave) in plan_waves.iter().enumerate() {
        if stopped.is_some() {
            rows.extend(untouched(wave));
            continue;
        }
        let who = if wave.clients.is_empty() {
            "shared servers".to_string()
        } else {
            wave.clients.join(", ")
        };
        ui.say(format!("{} ({}/{n}): {who}", ui.bold(&wave.name), i + 1));
        let sub = crate::plan::Plan {
            actions: wave.actions.clone(),
            clients: wave.clients.clone(),
            ..planned.plan.clone()
        };
        let outcome = rt.block_on(execute(
            &sub,
            &planned.specs,
            &seen,
            &planned.platforms,
            source.clone(),
            progress.clone(),
            opts,
        ));
        remember_urls(&mut seen, &outcome.urls, planned);
        // Failed steps, by client (a shared wave's failure is everyone's).
        let mut failed: BTreeMap<String, String> = BTreeMap::new();
        for (key, r) in &outcome.results {
            if let crate::apply::StepResult::Failed(m) | crate::apply::StepResult::Skipped(m) = r {
                for c in owners_of(wave, key, planned) {
                    failed.entry(c).or_insert_with(|| format!("{key}: {m}"));
                }
            }
        }
        // The gate: every MCP service the wave changed answers as LibreChat would call it.
        let changed: BTreeSet<_> = wave.actions.iter().map(|a| a.key.clone()).collect();
        let targets: Vec<_> = planned
            .specs
            .values()
            .filter(|s| s.kind == ServiceKind::Mcp && changed.contains(&s.key))
            .filter(|s| outcome.results.get(&s.key).is_some_and(|r| r.is_ok()))
            .filter_map(|s| Some((s, outcome.urls.get(&s.key)?.clone())))
            .collect();
        let platform_of: BTreeMap<_, _> = targets
            .iter()
            .map(|(s, u)| (s.key.clone(), (s.platform, u.clone())))
            .collect();
        let probes = super::probes::probe_all(ctx, rt, targets, Some(source), clients);
        for (key, p) in &probes {
            // A cloud service this machine cannot reach at all is gated on what its platform
            // told the deploy (deployment status, health checks); on local there is no excuse.
            let (platform, url) = &platform_of[key];
            if !p.ok && *platform != crate::workspace::PlatformName::Local && unreachable(rt, url) {
                ui.say(format!(
                    "  {key}: MCP not reachable from here; gated on {platform}'s health"
                ));
                continue;
            }
            if !p.ok {
                let why = format!(
                    "{key}: gate: {}",
                    p.error.clone().unwrap_or_else(|| "MCP probe failed".into())
                );
                for c in owners_of(wave, key, planned) {
                    failed.entry(c).or_insert_with(|| why.clone());
                }
            }
        }
        // The tools: each client's filter holds, and a service whose code did not change serves
        // what its client's lock says (a config change is no reason for new tools).
        let expected = super::tool_lock::may_change_tools(&wave.actions);
        let mut breaches = super::tool_lock::filter_breaches(&planned.specs, &probes);
        for d in super::tool_lock::drift(ws, &everyone, &planned.specs, &probes)? {
            let key = probes.keys().find(|k| k.to_string() == d.service);
            if let Some(key) = key.filter(|k| !expected.contains(*k)) {
                let tools: Vec<String> = d.changes.iter().map(|c| c.line()).collect();
                breaches.push((
                    key.clone(),
                    format!(
                        "its tools differ from {}'s tools.lock.json although its code did not change ({}); review, then `scalewize status --accept-tools`",
                        d.client,
                        tools.join("; ")
                    ),
                ));
            }
        }
        for (key, what) in breaches {
            let why = format!("{key}: gate: {what}");
            for c in owners_of(wave, &key, planned) {
                failed.entry(c).or_insert_with(|| why.clone());
            }
        }
        recordable.extend(expected);
        all_probes.extend(probes);
        let passed: Vec<String> = wave
            .clients
            .iter()
            .filter(|c| !failed.contains_key(*c))
            .cloned()
            .collect();
        super::tool_lock::record_after_deploy(
            ws,
            &passed,
            &planned.specs,
            &all_probes,
            &recordable,
        )?;
        if wave.clients.is_empty() {
            if let Some(why) = failed.values().next() {
                stopped = Some(format!("the shared wave failed its gate: {why}"));
            }
            continue;
        }
        for c in &wave.clients {
            rows.push(Row {
                client: c.clone(),
                wave: wave.name.clone(),
                result: if failed.contains_key(c) {
                    "failed"
                } else {
                    "deployed"
                },
                why: failed.get(c).cloned(),
            });
        }
        let failures = wave
            .clients
            .iter()
            .filter(|c| failed.contains_key(*c))
            .count();
        if failures > how.max_failures {
            stopped = Some(format!(
                "{} failed its gate ({failures} client(s), --max-failures {})",
                wave.name, how.max_failures
            ));
        }
    }
    report(ctx, &rows, stopped.as_deref());
    let failed = rows.iter().filter(|r| r.result == "failed").count();
    match stopped {
        Some(why) => Err(Error::new(format!("rollout stopped: {why}"))
            .hint("fix what failed (the table says why), then deploy again: clients already deployed make no changes")),
        None if failed > 0 => Err(Error::new(format!(
            "{failed} client(s) failed within --max-failures"
        ))),
        None => Ok(()),
    }
}

/// No connection at all to `url` (DNS, refused, timeout), as opposed to a server that answers.
fn unreachable(rt: &tokio::runtime::Runtime, url: &str) -> bool {
    rt.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(5))
            .build();
        match client {
            Ok(c) => c
                .get(url)
                .send()
                .await
                .is_err_and(|e| e.is_connect() || e.is_timeout() || e.is_request()),
            Err(_) => true,
        }
    })
}

fn untouched(wave: &Wave) -> Vec<Row> {
    wave.clients
        .iter()
        .map(|c| Row {
            client: c.clone(),
            wave: wave.name.clone(),
            result: "not touched",
            why: None,
        })
        .collect()
}

/// The clients a service's failure counts against, within `wave`.
fn owners_of(wave: &Wave, key: &crate::model::ServiceKey, planned: &Planned) -> Vec<String> {
    if wave.clients.is_empty() {
        return vec!["(shared)".into()];
    }
    let users: BTreeSet<String> = planned
        .specs
        .get(key)
        .map(|s| s.clients.iter().cloned().collect())
        .unwrap_or_else(|| [key.owner.clone()].into());
    wave.clients
        .iter()
        .filter(|c| users.contains(*c) || key.owner == **c)
        .cloned()
        .collect()
}

/// URLs a wave produced, as later waves will need them (a shared server's, say).
fn remember_urls(
    seen: &mut Vec<Observed>,
    urls: &BTreeMap<crate::model::ServiceKey, String>,
    planned: &Planned,
) {
    for (key, url) in urls {
        match seen.iter_mut().find(|o| &o.key == key) {
            Some(o) => o.url = Some(url.clone()),
            None => {
                if let Some(spec) = planned.specs.get(key) {
                    seen.push(Observed {
                        key: key.clone(),
                        platform: spec.platform,
                        id: String::new(),
                        url: Some(url.clone()),
                        state: State::Running,
                        detail: None,
                        fields: Fields::new(),
                    });
                }
            }
        }
    }
}

fn report(ctx: &Ctx, rows: &[Row], stopped: Option<&str>) {
    let ui = &ctx.ui;
    if ui.json {
        ui.json_out(&json!({"rollout": rows, "stopped": stopped}));
        return;
    }
    ui.result("");
    ui.result(format!(
        "{:<24} {:<8} {:<12} {}",
        "CLIENT", "WAVE", "RESULT", "DETAIL"
    ));
    for r in rows {
        let result = match r.result {
            "deployed" => ui.green("deployed"),
            "failed" => ui.red("failed"),
            other => ui.yellow(other),
        };
        let pad = 12usize.saturating_sub(r.result.len());
        ui.result(format!(
            "{:<24} {:<8} {result}{} {}",
            r.client,
            r.wave,
            " ".repeat(pad),
            r.why.as_deref().unwrap_or("")
        ));
    }
    if let Some(why) = stopped {
        ui.result(format!("Rollout stopped: {why}."));
    }
}
