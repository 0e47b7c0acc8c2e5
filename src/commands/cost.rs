//! `scalewize cost`: the monthly estimate per service, per client and in total, from the desired
//! state (`plan::desired`) and the prices in force; and the plan's before → after line that
//! `diff` and `deploy` end with.

use std::collections::BTreeSet;

use super::output::{self, CostChange, usd};
use super::{Ctx, Outcome, load_all};
use crate::cli::CostArgs;
use crate::cost::{Amount, Estimate, Prices, Unit, estimate};
use crate::error::{Error, Result};
use crate::model::{Observed, Op, ServiceKey, ServiceSpec};
use crate::plan::Plan;
use crate::ui::Ui;
use crate::workspace::{Client, Workspace};

pub fn run(ctx: &mut Ctx, args: CostArgs) -> Result<Outcome> {
    ctx.ui.json = args.json;
    let ws = ctx.workspace()?;
    let ids = ws.select(&args.selection.clients, args.selection.all, true)?;
    let loaded = load_all(&ws, &ids, "cannot estimate the cost: fix these first")?;
    let refs: Vec<_> = loaded.iter().map(|(c, r)| (c, r)).collect();
    let specs = crate::plan::desired::desired(&ws, &refs, args.platform.get()).map_err(|ds| {
        Error::from_diagnostics("these services cannot be deployed as configured", ds)
    })?;
    let prices = prices_of(&ws);
    let clients: Vec<&Client> = loaded.iter().map(|(c, _)| c).collect();
    let mut units: Vec<Unit> = specs.values().map(Unit::of).collect();
    add_unselected_users(ctx, &ws, &ids, &mut units)?;
    let est = estimate(&units, &clients, &prices, railway_plan(&ws));
    if args.json {
        let overridden_by = prices
            .overridden_by
            .as_ref()
            .map(|p| p.display().to_string());
        output::emit(
            &ctx.ui,
            "cost",
            output::CostOutput::new(&est, &prices, overridden_by),
        );
    } else {
        print(&ctx.ui, &est, &prices);
    }
    Ok(Outcome::Done)
}

/// A shared server is split over every client that uses it, not only the selected ones: add the
/// other clients that enable it (a client that does not load is left out, with a warning).
fn add_unselected_users(
    ctx: &Ctx,
    ws: &Workspace,
    selected: &[String],
    units: &mut [Unit],
) -> Result<()> {
    for id in ws.client_ids()? {
        if selected.contains(&id) {
            continue;
        }
        let client = match ws.load_client(&id) {
            Ok(c) => c,
            Err(_) => {
                ctx.ui.warn(format!(
                    "{id} does not load (`scalewize validate {id}`); shared servers are split without it"
                ));
                continue;
            }
        };
        for s in &client.servers {
            let Some(d) = s.deployed() else { continue };
            for u in units.iter_mut() {
                if u.key.is_shared() && u.key.owner == d.owner.label() && u.key.service == s.slug {
                    u.clients.insert(id.clone());
                }
            }
        }
    }
    Ok(())
}

/// The prices in force, the override's file named relative to the workspace.
fn prices_of(ws: &Workspace) -> Prices {
    let over = ws.settings.prices.clone().map(|mut o| {
        o.file = ws.relative(&o.file).to_path_buf();
        o
    });
    Prices::resolve(over.as_ref())
}

fn railway_plan(ws: &Workspace) -> Option<&str> {
    ws.settings.railway.plan.as_deref()
}

fn print(ui: &Ui, est: &Estimate, prices: &Prices) {
    ui.result(format!(
        "Monthly cost estimate (USD), prices of {}: {}",
        prices.date, prices.source
    ));
    let row = |name: &str, platform: &str, monthly: &str, detail: &str| {
        format!("  {name:<36} {platform:<8} {monthly:>9}  {detail}")
    };
    let owners: BTreeSet<&str> = est.services.iter().map(|s| s.key.owner.as_str()).collect();
    for owner in owners {
        ui.result("");
        ui.result(ui.bold(owner));
        for s in est.services.iter().filter(|s| s.key.owner == owner) {
            let mut detail: Vec<String> = match s.terms.as_slice() {
                [one] => vec![one.what.clone()],
                many => many
                    .iter()
                    .map(|t| format!("{} {}", t.what, t.usd.dollars()))
                    .collect(),
            };
            if let Some(w) = s.worst_case {
                detail.push(format!("at the size limit {}", w.dollars()));
            }
            if s.key.is_shared() && s.clients.len() > 1 {
                detail.push(format!(
                    "split over {} clients: {} each",
                    s.clients.len(),
                    s.monthly.ratio(1, s.clients.len() as i64).dollars()
                ));
            }
            let name = match &s.key.user {
                Some(u) => format!("{}@{u}", s.key.service),
                None => s.key.service.clone(),
            };
            ui.result(row(
                &name,
                s.platform.as_str(),
                &s.monthly.dollars(),
                &detail.join("; "),
            ));
        }
        if let Some(c) = est.clients.iter().find(|c| c.client == owner) {
            let shared = if c.shared_share == Amount::ZERO {
                String::new()
            } else {
                format!(
                    "{} own + {} share of shared servers",
                    c.own.dollars(),
                    c.shared_share.dollars()
                )
            };
            ui.result(row(
                &format!("{owner} total"),
                "",
                &c.total.dollars(),
                &shared,
            ));
        }
    }
    if !est.comparisons.is_empty() {
        ui.result("");
        ui.result(ui.bold("Per-user servers under the other credential mode"));
        for c in &est.comparisons {
            let diff = c.other_monthly - c.monthly;
            ui.result(format!(
                "  {}/{}, {} user(s): {} as {} ({} per instance); {} as {} ({}{})",
                c.client,
                c.server,
                c.users,
                c.monthly.dollars(),
                c.mode.as_str(),
                c.per_instance.dollars(),
                c.other_monthly.dollars(),
                c.other_mode.as_str(),
                if diff.0 < 0 { "saves " } else { "adds " },
                Amount(diff.0.abs()).dollars(),
            ));
        }
    }
    ui.result("");
    for m in &est.minimums {
        ui.result(format!(
            "{} {} plan: {} a month including {} of usage; usage {} → adds {}",
            m.platform.as_str(),
            m.plan,
            m.monthly.dollars(),
            m.included.dollars(),
            m.usage.dollars(),
            m.top_up.dollars(),
        ));
    }
    ui.result(format!(
        "Total: {} a month (shared servers counted once{})",
        est.total.dollars(),
        if est.minimums.is_empty() {
            ""
        } else {
            ", plan minimums included"
        }
    ));
}

/// The plan's monthly cost before (what is live now, for the services the plan covers) and
/// after (the desired state).
pub struct PlanCost {
    pub before: Amount,
    pub after: Amount,
}

impl PlanCost {
    pub fn compute(
        ws: &Workspace,
        clients: &[&Client],
        specs: &std::collections::BTreeMap<ServiceKey, ServiceSpec>,
        observed: &[Observed],
        plan: &Plan,
    ) -> PlanCost {
        let prices = prices_of(ws);
        let deleted: BTreeSet<(&ServiceKey, _)> = plan
            .actions
            .iter()
            .filter(|a| a.op == Op::Delete)
            .map(|a| (&a.key, a.platform))
            .collect();
        let live: Vec<Unit> = observed
            .iter()
            .filter(|o| {
                specs.get(&o.key).is_some_and(|s| s.platform == o.platform)
                    || deleted.contains(&(&o.key, o.platform))
            })
            .map(|o| Unit::observed(o, specs.get(&o.key)))
            .collect();
        let desired: Vec<Unit> = specs.values().map(Unit::of).collect();
        let plan_name = railway_plan(ws);
        PlanCost {
            before: estimate(&live, clients, &prices, plan_name).total,
            after: estimate(&desired, clients, &prices, plan_name).total,
        }
    }

    /// `monthly cost: $11.52 → $13.46 (+$1.94)`.
    pub fn line(&self) -> String {
        let delta = self.after - self.before;
        let sign = if delta.0 >= 0 { "+" } else { "-" };
        format!(
            "monthly cost: {} → {} ({sign}{})",
            self.before.dollars(),
            self.after.dollars(),
            Amount(delta.0.abs()).dollars()
        )
    }

    pub fn record(&self) -> CostChange {
        let sign = if self.after >= self.before { "+" } else { "-" };
        CostChange {
            before: usd(self.before),
            after: usd(self.after),
            change: format!("{sign}{}", usd(Amount((self.after - self.before).0.abs()))),
        }
    }
}
