//! `scalewize doctor`: read-only checks of what the selected platforms need — credentials, the
//! workspace or org they resolve to, rate-limit budget, region, Docker for local LibreChat — and
//! whether this identity can decrypt every secret store. Each finding is one line with ok / warn
//! / problem and the fix; any problem exits 1. Nothing is written and nothing is deployed.

use std::collections::{BTreeMap, BTreeSet};

use super::{Ctx, Outcome, load_and_render_all, session};
use crate::cli::DoctorArgs;
use crate::error::{Error, Result};
use crate::model::ServiceSpec;
use crate::platform::Platforms;
use crate::platform::check::{Check, Verdict};
use crate::workspace::{DEFAULT_CLIENT, PlatformName, Workspace};

pub fn run(ctx: &mut Ctx, args: DoctorArgs) -> Result<Outcome> {
    ctx.ui.json = args.json;
    let ws = ctx.workspace()?;
    let mut checks = Vec::new();
    let specs = desired_specs(&ws, args.platform.get(), &mut checks);
    let selected: BTreeSet<PlatformName> = match args.platform.get() {
        Some(p) => [p].into(),
        None => specs.values().map(|s| s.platform).collect(),
    };
    checks.extend(secret_checks(ctx, &ws));
    let source = session::secrets(ctx, &ws)?;
    let conn = session::connection(ctx, &source);
    let rt = session::runtime()?;
    for name in &selected {
        let here: Vec<&ServiceSpec> = specs.values().filter(|s| s.platform == *name).collect();
        match Platforms::connect(&ws, &[*name].into(), &conn) {
            Ok(ps) => checks.extend(rt.block_on(ps.get(*name).doctor(&here))),
            Err(e) => checks.push(Check::from_error(&name.to_string(), "credentials", &e)),
        }
    }
    report(ctx, &checks);
    let problems = checks
        .iter()
        .filter(|c| c.verdict == Verdict::Problem)
        .count();
    if problems > 0 {
        return Err(Error::new(format!(
            "doctor found {problems} problem(s); each line above says how to fix it"
        )));
    }
    Ok(Outcome::Done)
}

/// Every client's desired services (on `platform` when given); a config that does not load
/// is itself a finding.
fn desired_specs(
    ws: &Workspace,
    platform: Option<PlatformName>,
    checks: &mut Vec<Check>,
) -> BTreeMap<crate::model::ServiceKey, ServiceSpec> {
    let ids = ws.client_ids().unwrap_or_default();
    let mut loaded = Vec::new();
    let mut broken = 0;
    for (_, r) in load_and_render_all(ws, &ids) {
        match r {
            Ok(x) => loaded.push(x),
            Err(_) => broken += 1,
        }
    }
    let refs: Vec<_> = loaded.iter().map(|(c, r)| (c, r)).collect();
    let specs = match crate::plan::desired::desired(ws, &refs, platform) {
        Ok(s) => s,
        Err(ds) => {
            broken += ds.0.len();
            BTreeMap::new()
        }
    };
    checks.push(if broken == 0 {
        Check::ok(
            "workspace",
            "config",
            format!("{} client(s), {} service(s)", loaded.len(), specs.len()),
        )
    } else {
        Check::problem(
            "workspace",
            "config",
            format!("{broken} configuration error(s)"),
            "run `scalewize validate` to see each with its file, line and fix",
        )
    });
    specs
}

/// The identity can read every store (decrypting each value, writing nothing).
fn secret_checks(ctx: &Ctx, ws: &Workspace) -> Vec<Check> {
    let store = match super::secret::open_store(ctx, ws) {
        Ok(s) => s,
        Err(e) => return vec![Check::from_error("secrets", "identity", &e)],
    };
    let mut ids = vec![DEFAULT_CLIENT.to_string()];
    ids.extend(ws.client_ids().unwrap_or_default());
    let mut out = Vec::new();
    for id in &ids {
        if let Err(e) = store.stage_reencrypt(id) {
            out.push(Check::from_error("secrets", id, &e));
        }
    }
    if out.is_empty() {
        out.push(Check::ok(
            "secrets",
            "identity",
            format!(
                "this identity decrypts every value of {} store(s)",
                ids.len()
            ),
        ));
    }
    out
}

fn report(ctx: &Ctx, checks: &[Check]) {
    let ui = &ctx.ui;
    if ui.json {
        let ok = !checks.iter().any(|c| c.verdict == Verdict::Problem);
        let checks = checks.to_vec();
        super::output::emit(ui, "doctor", super::output::DoctorOutput { ok, checks });
        return;
    }
    for c in checks {
        let mark = match c.verdict {
            Verdict::Ok => ui.green("ok     "),
            Verdict::Warn => ui.yellow("warn   "),
            Verdict::Problem => ui.red("problem"),
        };
        ui.say(format!("{mark} {:<9} {:<12} {}", c.area, c.name, c.detail));
        if let (Some(fix), true) = (&c.fix, c.verdict != Verdict::Ok) {
            ui.say(format!("{:<30}fix: {fix}", ""));
        }
    }
}
