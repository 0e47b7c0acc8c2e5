//! `scalewize destroy`: remove resources scalewize owns — a client's, one shared server's (refused
//! while a client enables it), or orphans — never anything it does not own.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use super::session::{confirm, connection, require_yes_off_terminal, runtime, secrets};
use super::{Ctx, Outcome, load_all};
use crate::apply::progress::Progress;
use crate::apply::{Options, execute};
use crate::cli::DestroyArgs;
use crate::error::{Error, Result};
use crate::plan::desired::desired;
use crate::plan::prepare::observe_all;
use crate::plan::service::SHARED_OWNER;
use crate::plan::{Action, PLAN_VERSION, Plan, orphans, print_plan};
use crate::platform::{Observed, Platforms};
use crate::workspace::Owner;

pub fn run(ctx: &mut Ctx, args: DestroyArgs) -> Result<Outcome> {
    require_yes_off_terminal(args.yes, false)?;
    let ws = ctx.workspace()?;
    let mut names = Platforms::available();
    if let Some(p) = args.platform.get() {
        names = BTreeSet::from([p]);
    }
    let source: std::sync::Arc<dyn crate::plan::SecretSource> = match secrets(ctx, &ws) {
        Ok(s) => s,
        Err(_) => Arc::new(NoSecrets),
    };
    let platforms = Platforms::connect(&ws, &names, &connection(ctx, &source))?;
    let rt = runtime()?;

    let targets: Vec<Observed> = if let Some(client) = &args.client {
        crate::workspace::naming::check_client_id(client).map_err(Error::new)?;
        let owners: BTreeSet<String> = BTreeSet::from([client.clone()]);
        rt.block_on(observe_all(&platforms, Some(&owners)))?
    } else if let Some(server) = &args.shared {
        let ids = ws.client_ids()?;
        let loaded = load_all(
            &ws,
            &ids,
            "cannot tell which clients use it: fix these first",
        )?;
        let users: Vec<String> = loaded
            .iter()
            .filter(|&(c, _)| {
                c.servers.iter().any(|s| {
                    s.slug == *server && s.deployed().is_some_and(|d| d.owner == Owner::Shared)
                })
            })
            .map(|(c, _)| c.id.clone())
            .collect();
        if !users.is_empty() {
            return Err(Error::new(format!("shared server `{server}` is still enabled by {}", users.join(", ")))
                .hint(format!("disable it in those clients (\"enabled\": false), deploy them, then destroy --shared {server}")));
        }
        let owners: BTreeSet<String> = BTreeSet::from([SHARED_OWNER.to_string()]);
        rt.block_on(observe_all(&platforms, Some(&owners)))?
            .into_iter()
            .filter(|o| o.key.service == *server)
            .collect()
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
        orphans(&everything, rt.block_on(observe_all(&platforms, None))?)
    };

    let actions: Vec<Action> = targets.iter().map(|o| Action::delete(o, false)).collect();
    let mut ordered = actions;
    ordered.sort_by_key(|a| (3 - a.key.tier(), a.key.clone()));
    let plan = Plan {
        version: PLAN_VERSION,
        clients: args.client.iter().cloned().collect(),
        platform_override: None,
        actions: ordered,
        unchanged: Vec::new(),
        inputs_digest: String::new(),
        observed_digest: crate::plan::observed_digest(&targets),
    };
    print_plan(&ctx.ui, &plan);
    if plan.is_empty() {
        return Ok(Outcome::Done);
    }
    confirm(ctx, args.yes, "Destroy these resources?")?;
    let progress = Arc::new(Progress::new(ctx.ui.stderr_tty, ctx.ui.quiet));
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
    if outcome.failed() {
        return Err(Error::new(
            "some resources could not be removed; run destroy again",
        ));
    }
    ctx.ui.say(format!(
        "{} removed {} resource(s)",
        ctx.ui.green("done:"),
        plan.actions.len()
    ));
    Ok(Outcome::Done)
}

/// Deleting needs no secret values.
struct NoSecrets;

impl crate::plan::SecretSource for NoSecrets {
    fn value(&self, r: &crate::render::SecretRef) -> Result<crate::secrets::Secret> {
        Err(Error::new(format!("{} is not needed to destroy", r.name)))
    }
    fn fingerprint(&self, r: &crate::render::SecretRef) -> Result<String> {
        Err(Error::new(format!("{} is not needed to destroy", r.name)))
    }
}
