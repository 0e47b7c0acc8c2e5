//! `scalewize destroy`: remove resources scalewize owns — a client's (with the shared servers no
//! other deployed client uses any more), one shared server's (refused while a deployed client
//! uses it), everything on a platform (`--all`), or orphans — never anything it does not own.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use super::output::DestroyOutput;
use super::session::{confirm, connection, require_yes_off_terminal, runtime, secrets};
use super::{Ctx, Outcome, load_all, load_and_render_all};
use crate::apply::{Options, StepResult, execute};
use crate::cli::DestroyArgs;
use crate::error::{Error, Result};
use crate::model::Observed;
use crate::plan::desired::desired;
use crate::plan::planner::observe_all;
use crate::plan::teardown::{SharedUse, shared_uses, unused_shared, users_of};
use crate::plan::{Action, PLAN_VERSION, Plan, orphans, print_plan};
use crate::platform::Platforms;
use crate::ui::Progress;
use crate::workspace::{PlatformName, SERVERS_DIR, Workspace};

pub fn run(ctx: &mut Ctx, args: DestroyArgs) -> Result<Outcome> {
    ctx.ui.json = args.json;
    require_yes_off_terminal("destroy", args.yes, Some(args.dry_run))?;
    let ws = ctx.workspace()?;
    let what = match (&args.client, &args.shared) {
        (Some(c), _) if crate::workspace::naming::check_client_id(c).is_ok() => c.clone(),
        (_, Some(s)) if crate::workspace::naming::check_slug(s).is_ok() => format!("--shared {s}"),
        _ if args.all => "--all".to_string(),
        (None, None) => "--orphans".to_string(),
        _ => String::new(),
    };
    // A dry run writes nothing and takes no lock.
    let _lock = if args.dry_run {
        None
    } else {
        Some(ctx.lock(&ws, format!("destroy {what}").trim_end())?)
    };
    if let Some(client) = &args.client {
        crate::workspace::naming::check_client_id(client).map_err(Error::new)?;
    }
    // Removed: what is on `selected`. Observed: every reachable platform, since a client
    // deployed elsewhere may still use a shared server here.
    let selected: BTreeSet<PlatformName> = match args.platform.get() {
        Some(p) => BTreeSet::from([p]),
        None => Platforms::available(),
    };
    let mut names = Platforms::available();
    names.extend(selected.iter().copied());
    let source: Arc<dyn crate::secrets::SecretSource> = match secrets(ctx, &ws) {
        Ok(s) => s,
        Err(_) => Arc::new(NoSecrets),
    };
    let platforms = Platforms::connect(&ws, &names, &connection(ctx, &source))?;
    let rt = runtime()?;
    let live = rt.block_on(observe_all(&platforms, None))?;
    let here = |o: &&Observed| selected.contains(&o.platform);
    if let Some(server) = &args.shared {
        check_shared_name(&ws, server, &live)?;
    }

    let mut why: Vec<String> = Vec::new();
    let targets: Vec<Observed> = if let Some(client) = &args.client {
        // Observed by its owner too: a platform reports problems with the client's own
        // resources (e.g. a same-named project without scalewize's marker) only when asked.
        let owners = BTreeSet::from([client.clone()]);
        let mut t: Vec<Observed> = rt
            .block_on(observe_all(&platforms, Some(&owners)))?
            .into_iter()
            .filter(|o| selected.contains(&o.platform))
            .collect();
        match uses_of_all(&ws, Some(client)) {
            Ok(uses) => {
                let leaving = BTreeSet::from([client.clone()]);
                for o in unused_shared(&uses, &live, &leaving) {
                    let was_user = uses
                        .get(&o.key.service)
                        .is_some_and(|u| u.clients.contains(client));
                    if was_user && selected.contains(&o.platform) {
                        why.push(format!(
                            "{} goes too: no other deployed client on {} uses it",
                            o.key, o.platform
                        ));
                        t.push(o);
                    }
                }
            }
            Err(e) => ctx.ui.warn(format!(
                "shared servers are kept: {} ({})",
                e.message,
                e.hint.unwrap_or_default()
            )),
        }
        t
    } else if let Some(server) = &args.shared {
        let uses = uses_of_all(&ws, None)?;
        let instances: Vec<Observed> = live
            .iter()
            .filter(here)
            .filter(|o| o.key.is_shared() && o.key.service == *server)
            .cloned()
            .collect();
        for o in &instances {
            let users = users_of(o, &uses, &live, &BTreeSet::new());
            if !users.is_empty() {
                return Err(Error::new(format!(
                    "shared server `{server}` on {} is still used by deployed client(s): {}",
                    o.platform,
                    users.join(", ")
                ))
                .hint(format!(
                    "destroy those clients (`scalewize destroy {}` removes it with its last user), or set \"enabled\": false for it in their configs and deploy them",
                    users[0]
                )));
            }
        }
        instances
    } else if args.all {
        live.iter().filter(here).cloned().collect()
    } else {
        let ids = ws.client_ids()?;
        let loaded = load_all(
            &ws,
            &ids,
            "cannot tell what is orphaned while a config does not load",
        )?;
        let refs: Vec<_> = loaded.iter().map(|(c, r)| (c, r)).collect();
        let everything = desired(&ws, &refs, args.platform.get())
            .map_err(|ds| Error::from_diagnostics("invalid deploy settings", ds))?;
        orphans(&everything, live.iter().filter(here).cloned().collect())
    };

    let mut actions: Vec<Action> = targets.iter().map(|o| Action::delete(o, false)).collect();
    // Users before what they use: LibreChat, per-user instances, client servers, shared last.
    actions.sort_by_key(|a| (3 - a.key.tier(), a.key.clone()));
    let plan = Plan {
        version: PLAN_VERSION,
        clients: args.client.iter().cloned().collect(),
        platform_override: None,
        actions,
        unchanged: Vec::new(),
        inputs_digest: String::new(),
        observed_digest: crate::plan::observed_digest(&targets),
        waves: None,
    };
    print_plan(&ctx.ui, &plan);
    for w in &why {
        ctx.ui.say(format!("  {w}"));
    }
    let report = |plan: Plan, removed: usize, failures: Vec<String>| {
        if ctx.ui.json {
            let body = DestroyOutput {
                plan,
                notes: why.clone(),
                removed,
                failures,
            };
            super::output::emit(&ctx.ui, "destroy", body);
        }
    };
    if plan.is_empty() || args.dry_run {
        let empty = plan.is_empty();
        report(plan, 0, Vec::new());
        return Ok(if empty {
            Outcome::Done
        } else {
            Outcome::Changes
        });
    }
    confirm(ctx, args.yes, "Destroy these resources?")?;
    let progress = Arc::new(Progress::new(ctx.ui.stderr_tty, ctx.ui.quiet));
    // The platform locks (where one is kept: Fly) for the removal itself.
    let held = super::lock::take(ctx, &rt, &platforms, format!("destroy {what}").trim_end())?;
    let outcome = rt.block_on(execute(
        &plan,
        &BTreeMap::new(),
        &targets,
        &platforms,
        source,
        progress,
        &Options {
            concurrency: 8,
            fail_fast: false,
            wait_timeout: Duration::from_secs(120),
        },
    ));
    held.release(ctx, &rt);
    let failures: Vec<String> = outcome
        .results
        .iter()
        .filter_map(|(key, r)| match r {
            StepResult::Failed(why) | StepResult::Skipped(why) => Some(format!("{key}: {why}")),
            StepResult::Done { .. } => None,
        })
        .collect();
    let removed = plan.actions.len() - failures.len();
    let failed = !failures.is_empty();
    report(plan, removed, failures);
    if failed {
        return Err(Error::new(
            "some resources could not be removed; run destroy again",
        ));
    }
    ctx.ui.say(format!(
        "{} removed {removed} resource(s)",
        ctx.ui.green("done:")
    ));
    Ok(Outcome::Done)
}

/// Who may use each shared server, from every client's config; `leaving` (the client being
/// destroyed) may fail to load. Any other config that does not load is an error: then nobody
/// can tell whether it uses a shared server.
fn uses_of_all(ws: &Workspace, leaving: Option<&String>) -> Result<BTreeMap<String, SharedUse>> {
    let ids = ws.client_ids()?;
    let mut ok = Vec::new();
    for (id, r) in load_and_render_all(ws, &ids) {
        match r {
            Ok(pair) => ok.push(pair),
            Err(_) if leaving == Some(&id) => {}
            Err(ds) => {
                return Err(Error::from_diagnostics(
                    format!(
                        "cannot tell which shared servers `{id}` uses: its config does not load"
                    ),
                    ds,
                ));
            }
        }
    }
    let refs: Vec<_> = ok.iter().map(|(c, r)| (c, r)).collect();
    let specs = desired(ws, &refs, None)
        .map_err(|ds| Error::from_diagnostics("cannot tell who uses which shared server", ds))?;
    Ok(shared_uses(&specs))
}

/// A shared server's name must exist: a folder under `custom-mcp-servers/shared/`, or a live
/// shared server (one whose folder is gone).
fn check_shared_name(ws: &Workspace, server: &str, live: &[Observed]) -> Result<()> {
    let dir = ws.root.join(SERVERS_DIR).join("shared");
    let mut known: Vec<String> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.path().is_dir())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    known.extend(
        live.iter()
            .filter(|o| o.key.is_shared())
            .map(|o| o.key.service.clone()),
    );
    known.sort();
    known.dedup();
    if known.iter().any(|k| k == server) {
        return Ok(());
    }
    let err = Error::new(format!(
        "no shared server named `{server}` (in {})",
        ws.relative(&dir).display()
    ));
    Err(
        match crate::error::did_you_mean(server, known.iter().map(String::as_str)) {
            Some(best) => err.hint(format!("did you mean `{best}`?")),
            None => err.hint(format!("shared servers: {}", known.join(", "))),
        },
    )
}

/// Deleting needs no secret values.
struct NoSecrets;

impl crate::secrets::SecretSource for NoSecrets {
    fn value(&self, r: &crate::secrets::SecretRef) -> Result<crate::secrets::Secret> {
        Err(Error::new(format!("{} is not needed to destroy", r.name)))
    }
    fn fingerprint(&self, r: &crate::secrets::SecretRef) -> Result<String> {
        Err(Error::new(format!("{} is not needed to destroy", r.name)))
    }
}
