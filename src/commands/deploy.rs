//! `scalewize deploy`: plan, confirm, apply, wait until healthy, print URLs and a result per client.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::session::{
    confirm, connection, load_for_deploy, note_external, require_yes_off_terminal, runtime, secrets,
};
use super::{Ctx, Outcome};
use crate::apply::progress::Progress;
use crate::apply::{Options, StepResult, execute};
use crate::cli::DeployArgs;
use crate::error::{Error, Result};
use crate::plan::prepare::plan;
use crate::plan::{Plan, print_plan};
use crate::platform::Op;

pub fn run(ctx: &mut Ctx, args: DeployArgs) -> Result<Outcome> {
    ctx.ui.json = args.json;
    // Before anything touches a platform: without a terminal, --yes is required.
    require_yes_off_terminal(args.yes, args.dry_run)?;
    let ws = ctx.workspace()?;
    let saved: Option<Plan> = match &args.plan {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| Error::io("read", path, e))?;
            let p: Plan = serde_json::from_str(&text).map_err(|e| {
                Error::new(format!("{} is not a scalewize plan: {e}", path.display()))
                    .hint("create one with `scalewize diff --out plan.json`")
            })?;
            if p.version != crate::plan::PLAN_VERSION {
                return Err(Error::new(format!(
                    "{} is a plan of format {}, this scalewize reads {}",
                    path.display(),
                    p.version,
                    crate::plan::PLAN_VERSION
                )));
            }
            Some(p)
        }
        None => None,
    };
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
    let loaded = load_for_deploy(&ws, &ids)?;
    let refs: Vec<_> = loaded.iter().map(|(c, r)| (c, r)).collect();
    let source = secrets(ctx, &ws)?;
    let rt = runtime()?;
    let progress = Arc::new(Progress::new(
        ctx.ui.stderr_tty,
        ctx.ui.quiet || ctx.ui.json,
    ));
    let conn = connection(ctx, &source);
    let planned = rt.block_on(plan(
        &ws,
        &refs,
        override_platform,
        source.as_ref(),
        &progress,
        &conn,
    ))?;
    if let Some(saved) = &saved {
        check_saved(saved, &planned.plan)?;
    }
    let ui = &ctx.ui;
    if !ui.json {
        print_plan(ui, &planned.plan);
        note_external(ctx, &refs);
    }
    if planned.plan.is_empty() {
        if ui.json {
            ui.json_out(&json!({"plan": planned.plan, "results": [], "changed": false}));
        }
        return Ok(Outcome::Done);
    }
    if args.dry_run {
        if ui.json {
            ui.json_out(&json!({"plan": planned.plan, "results": [], "changed": false}));
        }
        return Ok(Outcome::Changes);
    }
    confirm(ctx, args.yes, "Apply these changes?")?;
    let opts = Options {
        concurrency: usize::from(args.concurrency),
        fail_fast: args.fail_fast,
        wait_timeout: Duration::from_secs(args.wait_timeout),
    };
    let outcome = rt.block_on(execute(
        &planned.plan,
        &planned.specs,
        &planned.observed,
        &planned.platforms,
        source,
        progress,
        &opts,
    ));

    // One line per client: ok, or what failed.
    let ui = &ctx.ui;
    let mut rows = Vec::new();
    let mut failed_clients = 0;
    for client in &planned.plan.clients {
        let mine: Vec<_> = planned
            .plan
            .actions
            .iter()
            .filter(|a| a.clients.contains(client) || a.key.owner == *client)
            .collect();
        let failures: Vec<String> = mine
            .iter()
            .filter_map(|a| match outcome.results.get(&a.key) {
                Some(StepResult::Failed(m)) => Some(format!("{}: {m}", a.key)),
                Some(StepResult::Skipped(m)) => Some(format!("{}: {m}", a.key)),
                _ => None,
            })
            .collect();
        if !failures.is_empty() {
            failed_clients += 1;
        }
        let librechat = outcome
            .urls
            .get(&crate::plan::service::ServiceKey::librechat(client))
            .cloned();
        let services: BTreeMap<String, String> = outcome
            .urls
            .iter()
            .filter(|(k, _)| {
                planned
                    .specs
                    .get(*k)
                    .is_some_and(|s| s.clients.contains(client))
                    && !k.is_librechat()
            })
            .map(|(k, u)| (k.to_string(), u.clone()))
            .collect();
        rows.push((client.clone(), mine.len(), failures, librechat, services));
    }
    if ui.json {
        let results: Vec<_> = rows
            .iter()
            .map(|(c, n, f, lc, s)| json!({"client": c, "ok": f.is_empty(), "changes": n, "failures": f, "librechat": lc, "services": s}))
            .collect();
        ui.json_out(&json!({"plan": planned.plan, "results": results, "changed": true}));
    } else {
        ui.result("");
        ui.result(format!(
            "{:<24} {:<7} {:>8}  {}",
            "CLIENT", "RESULT", "CHANGES", "DETAIL"
        ));
        for (client, n, failures, librechat, services) in &rows {
            if failures.is_empty() {
                let lc = librechat.clone().unwrap_or_else(|| "-".into());
                ui.result(format!(
                    "{client:<24} {:<7} {n:>8}  LibreChat {lc}",
                    ui.green("ok")
                ));
                for (k, u) in services {
                    ui.say(format!("{:<24} {:<7} {:>8}    {k}: {u}", "", "", ""));
                }
            } else {
                ui.result(format!(
                    "{client:<24} {:<7} {n:>8}  {}",
                    ui.red("FAILED"),
                    failures[0]
                ));
                for f in &failures[1..] {
                    ui.result(format!("{:<24} {:<7} {:>8}  {f}", "", "", ""));
                }
            }
        }
        if let Some(dir) = local_config_dir(&ws, &planned.plan) {
            ui.say(format!(
                "Resolved LibreChat configs (0600, contain secrets): {dir}/<client>/"
            ));
        }
    }
    if failed_clients > 0 || outcome.failed() {
        return Err(Error::new(format!(
            "{failed_clients} of {} client(s) failed",
            rows.len()
        )));
    }
    Ok(Outcome::Done)
}

fn local_config_dir(ws: &crate::workspace::Workspace, plan: &Plan) -> Option<String> {
    plan.actions
        .iter()
        .any(|a| {
            a.key.is_librechat()
                && a.platform == crate::workspace::PlatformName::Local
                && a.op != Op::Delete
        })
        .then(|| ws.relative(&ws.state_dir()).display().to_string())
}

/// A saved plan applies only while nothing it was computed from has moved.
fn check_saved(saved: &Plan, now: &Plan) -> Result<()> {
    if saved.inputs_digest != now.inputs_digest {
        return Err(Error::new("the saved plan is out of date: the configuration, templates, manifests or secrets changed since it was made")
            .hint("run `scalewize diff --out <file>` again, review it, then deploy that plan"));
    }
    if saved.observed_digest != now.observed_digest {
        return Err(Error::new(
            "the saved plan is out of date: what is live changed since it was made",
        )
        .hint("run `scalewize diff --out <file>` again, review it, then deploy that plan"));
    }
    if saved.actions != now.actions {
        return Err(
            Error::new("the saved plan no longer matches what deploy would do")
                .hint("run `scalewize diff --out <file>` again"),
        );
    }
    Ok(())
}
