//! `scalewize deploy`: plan, confirm, apply, wait until healthy, print URLs and a result per client.

use std::sync::Arc;
use std::time::Duration;

use super::cost::PlanCost;
use super::output::{self, ClientResultRecord, DeployOutput, ServiceUrl};
use super::session::{
    confirm, connection, load_for_deploy, note_external, require_yes_off_terminal, runtime, secrets,
};
use super::{Ctx, Outcome};
use crate::apply::{Options, execute};
use crate::cli::DeployArgs;
use crate::error::{Error, Result};
use crate::model::Op;
use crate::plan::planner::{Prepare, plan};
use crate::plan::{Plan, print_plan};
use crate::ui::{Align, Progress, Table};
use crate::workspace::PlatformName;

pub fn run(ctx: &mut Ctx, args: DeployArgs) -> Result<Outcome> {
    ctx.ui.json = args.json;
    // Before anything touches a platform: without a terminal, --yes is required.
    require_yes_off_terminal("deploy", args.yes, Some(args.dry_run))?;
    let ws = ctx.workspace()?;
    let saved: Option<Plan> = args.plan.as_deref().map(Plan::load).transpose()?;
    let (ids, override_platform) = match &saved {
        Some(p) => (p.clients.clone(), p.platform_override),
        None => {
            if args.clients.is_empty() && !args.all && args.changed_since.is_none() {
                return Err(Error::new("deploy needs a selection")
                    .hint("name clients (`scalewize deploy client-a`), or use --all, --changed-since REF or --plan FILE"));
            }
            let mut ids = ws.select(
                &args.clients,
                args.all || args.changed_since.is_some(),
                false,
            )?;
            if let Some(r) = &args.changed_since {
                let affected = crate::git::changed_since(&ws, r)?;
                ids.retain(|id| affected.clients.contains_key(id));
                for d in &affected.deleted {
                    ctx.ui.warn(format!("{d} was deleted since {r}; its resources remain until `scalewize destroy {d}`"));
                }
                if ids.is_empty() {
                    ctx.ui
                        .result(format!("No client is affected by changes since {r}."));
                    return Ok(Outcome::Done);
                }
            }
            (ids, args.platform.get())
        }
    };
    // Held from before the plan until every action is applied: a second deploy waits and then
    // plans against what this one built. A dry run writes nothing and takes no lock.
    let _lock = if args.dry_run {
        None
    } else {
        Some(ctx.lock(&ws, &format!("deploy {}", ids.join(" ")))?)
    };
    let loaded = load_for_deploy(&ws, &ids)?;
    let refs: Vec<_> = loaded.iter().map(|(c, r)| (c, r)).collect();
    let source = secrets(ctx, &ws)?;
    let rt = runtime()?;
    let progress = Arc::new(Progress::new(
        ctx.ui.stderr_tty,
        ctx.ui.quiet || ctx.ui.json,
    ));
    let conn = connection(ctx, &source);
    let do_plan = || {
        rt.block_on(plan(
            &ws,
            &refs,
            override_platform,
            source.as_ref(),
            &progress,
            &conn,
            if args.dry_run {
                Prepare::ReadOnly
            } else {
                Prepare::Build
            },
        ))
    };
    let first = do_plan()?;
    // The platform locks (where one is kept: Fly), after the file lock and only when something
    // is to change: a deploy with nothing to do writes nothing anywhere. Once they are held the
    // plan is made again, against what another machine's run may have built meanwhile.
    let held = if args.dry_run || first.plan.is_empty() {
        super::lock::Held::default()
    } else {
        super::lock::take(
            ctx,
            &rt,
            &first.platforms,
            &format!("deploy {}", ids.join(" ")),
        )?
    };
    let result = (|| -> Result<Outcome> {
        let planned = if held.is_empty() { first } else { do_plan()? };
        if let Some(saved) = &saved {
            saved.check_still_applies(&planned.plan)?;
        }
        let clients: Vec<_> = refs.iter().map(|(c, _)| *c).collect();
        let cost = PlanCost::compute(
            &ws,
            &clients,
            &planned.specs,
            &planned.observed,
            &planned.plan,
        );
        let ui = &ctx.ui;
        if !ui.json {
            print_plan(ui, &planned.plan);
            note_external(ctx, &refs);
        }
        if planned.plan.is_empty() || args.dry_run {
            let empty = planned.plan.is_empty();
            if ui.json {
                output::emit(ui, "deploy", unchanged(planned.plan, Some(cost.record())));
            } else {
                ui.result(cost.line());
            }
            return Ok(if empty {
                Outcome::Done
            } else {
                Outcome::Changes
            });
        }
        confirm(ctx, args.yes, "Apply these changes?")?;
        let opts = Options {
            concurrency: usize::from(args.concurrency),
            fail_fast: args.fail_fast,
            wait_timeout: Duration::from_secs(args.wait_timeout),
        };
        // In waves: each applied and gated before the next (commands/rollout.rs).
        let r = &ws.settings.rollout;
        let from_settings = r.waves.clone().map(|sizes| crate::plan::SavedWaves {
            sizes,
            canary: r.canary.clone().unwrap_or_default(),
            max_failures: r.max_failures.unwrap_or(0),
        });
        // --waves, else the waves a saved plan recorded, else the workspace's rollout.
        let rollout = match &args.waves {
            Some(w) => Some(crate::plan::SavedWaves {
                sizes: vec![w.clone()],
                canary: r.canary.clone().unwrap_or_default(),
                max_failures: r.max_failures.unwrap_or(0),
            }),
            None => saved
                .as_ref()
                .and_then(|p| p.waves.clone())
                .or(from_settings),
        };
        if let Some(rollout) = rollout {
            let sizes = crate::plan::waves::parse_sizes(&rollout.sizes)?;
            let how = super::rollout::Rollout {
                sizes: &sizes,
                canary: &rollout.canary,
                max_failures: args.max_failures.unwrap_or(rollout.max_failures) as usize,
            };
            let clients: Vec<_> = refs.iter().map(|(c, _)| *c).collect();
            super::rollout::run(
                ctx, &rt, &ws, &clients, &planned, &source, &progress, &opts, &how,
            )?;
            return Ok(Outcome::Done);
        }
        let outcome = rt.block_on(execute(
            &planned.plan,
            &planned.specs,
            &planned.observed,
            &planned.platforms,
            source.clone(),
            progress.clone(),
            &opts,
        ));
        if !outcome.failed() {
            record_tools(ctx, &rt, &ws, &refs, &planned, &outcome.urls, &source)?;
        }

        // One line per client: ok, or what failed.
        let ui = &ctx.ui;
        let rows = outcome.per_client(&planned.plan, &planned.specs);
        let failed_clients = rows.iter().filter(|r| !r.ok()).count();
        if ui.json {
            let results = rows
                .iter()
                .map(|r| ClientResultRecord {
                    client: r.client.clone(),
                    ok: r.ok(),
                    changes: r.changes,
                    failures: r.failures.clone(),
                    librechat: r.librechat.clone(),
                    services: r
                        .services
                        .iter()
                        .map(|(key, url)| ServiceUrl {
                            key: key.clone(),
                            url: url.clone(),
                        })
                        .collect(),
                })
                .collect();
            let body = DeployOutput {
                plan: planned.plan.clone(),
                changed: true,
                results,
                cost: Some(cost.record()),
            };
            output::emit(ui, "deploy", body);
        } else {
            ui.result("");
            let mut table = Table::new(&[
                ("CLIENT", Align::Left),
                ("RESULT", Align::Left),
                ("CHANGES", Align::Right),
                ("DETAIL", Align::Left),
            ]);
            for r in &rows {
                let (client, n) = (r.client.clone(), r.changes.to_string());
                if r.failures.is_empty() {
                    let lc = r.librechat.clone().unwrap_or_else(|| "-".into());
                    table.row(vec![client, ui.green("ok"), n, format!("LibreChat {lc}")]);
                    // Service URLs: detail that --quiet drops.
                    if !ui.quiet {
                        for (k, u) in &r.services {
                            let cells = vec![String::new(), String::new(), String::new()];
                            table.row([cells, vec![format!("  {k}: {u}")]].concat());
                        }
                    }
                } else {
                    table.row(vec![client, ui.red("FAILED"), n, r.failures[0].clone()]);
                    for f in &r.failures[1..] {
                        table.row(vec![String::new(), String::new(), String::new(), f.clone()]);
                    }
                }
            }
            ui.table(&table);
            ui.say("");
            if let Some(dir) = local_config_dir(&ws, &planned.plan) {
                ui.say(format!(
                    "LibreChat compose projects (0600, contain secrets): {dir}/<client>/"
                ));
            }
            ui.result(cost.line());
            // Last: what a person runs to start LibreChat where Docker did not answer.
            for a in planned.plan.actions.iter().filter(|a| {
                a.key.is_librechat() && a.platform == PlatformName::Local && a.op != Op::Delete
            }) {
                if let Some(cmd) = crate::platform::local::start_command(&ws, &a.key.owner) {
                    ui.result(format!(
                        "LibreChat of {} is config-only (Docker does not answer); start it with:",
                        a.key.owner
                    ));
                    ui.result(format!("  {cmd}"));
                }
            }
        }
        if failed_clients > 0 || outcome.failed() {
            return Err(Error::new(format!(
                "{failed_clients} of {} client(s) failed",
                rows.len()
            )));
        }
        Ok(Outcome::Done)
    })();
    held.release(ctx, &rt);
    result
}

fn local_config_dir(ws: &crate::workspace::Workspace, plan: &Plan) -> Option<String> {
    plan.actions
        .iter()
        .any(|a| a.key.is_librechat() && a.platform == PlatformName::Local && a.op != Op::Delete)
        .then(|| ws.relative(&ws.state_dir()).display().to_string())
}

/// After a successful apply: what the changed services serve now goes into each client's
/// `tools.lock.json` (see `tool_lock::record_after_deploy`), probed at the URLs the run ended
/// with (no second observe). A service that cannot be reached from here is not recorded, nor is
/// one whose code did not change (`tool_lock::may_change_tools`).
fn record_tools(
    ctx: &Ctx,
    rt: &tokio::runtime::Runtime,
    ws: &crate::workspace::Workspace,
    refs: &[(&crate::workspace::Client, &crate::render::Rendered)],
    planned: &crate::plan::planner::Planned,
    urls: &std::collections::BTreeMap<crate::model::ServiceKey, String>,
    source: &Arc<dyn crate::secrets::SecretSource>,
) -> Result<()> {
    let applied: std::collections::BTreeSet<_> = planned
        .plan
        .actions
        .iter()
        .filter(|a| a.op != Op::Delete)
        .map(|a| a.key.clone())
        .collect();
    let targets: Vec<_> = planned
        .specs
        .values()
        .filter(|s| s.kind == crate::model::ServiceKind::Mcp && applied.contains(&s.key))
        .filter_map(|s| Some((s, urls.get(&s.key)?.clone())))
        .collect();
    let clients: Vec<_> = refs.iter().map(|(c, _)| *c).collect();
    let ids: Vec<String> = clients.iter().map(|c| c.id.clone()).collect();
    let probes = super::probes::probe_all(ctx, rt, targets, Some(source), &clients);
    let recordable = super::tool_lock::may_change_tools(&planned.plan.actions);
    for p in super::tool_lock::record_after_deploy(ws, &ids, &planned.specs, &probes, &recordable)?
    {
        ctx.ui.say(format!(
            "recorded the tools served in {}",
            ws.relative(&p).display()
        ));
    }
    // Updated without a change of code, yet serving other tools: kept as drift for review.
    for (key, what) in super::tool_lock::filter_breaches(&planned.specs, &probes) {
        ctx.ui.warn(format!("{key} {what}"));
    }
    for d in super::tool_lock::drift(ws, &ids, &planned.specs, &probes)? {
        ctx.ui.warn(format!(
            "{} ({}): its tools changed although its code did not; tools.lock.json keeps what was reviewed: check `scalewize diff`, accept with `scalewize status --accept-tools`",
            d.service, d.client
        ));
    }
    Ok(())
}

/// The output of a deploy that applied nothing (nothing to do, or `--dry-run`).
fn unchanged(plan: Plan, cost: Option<output::CostChange>) -> DeployOutput {
    DeployOutput {
        plan,
        changed: false,
        results: Vec::new(),
        cost,
    }
}
