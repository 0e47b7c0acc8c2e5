//! `scalewize validate`: every check render and deploy would make, writing nothing.

use serde_json::json;

use super::{Ctx, Outcome, load_and_render_all};
use crate::cli::ValidateArgs;
use crate::error::{Diagnostic, Diagnostics, Error, Location, Result};
use crate::secrets;
use crate::workspace::WORKSPACE_FILE;

pub fn run(ctx: &mut Ctx, args: ValidateArgs) -> Result<Outcome> {
    ctx.ui.json = args.json;
    let ws = ctx.workspace()?;
    let ids = ws.select(&args.selection.clients, args.selection.all, true)?;
    let results = load_and_render_all(&ws, &ids);
    // Secrets are checked by name: no identity needed.
    let store = super::secret::open_store(ctx, &ws)?;
    let mut workspace_diags = Diagnostics::default();
    if !ws.settings.recipients.is_empty()
        && let Err(e) = secrets::parse_recipients(&ws.settings.recipients)
    {
        workspace_diags.push(
            Diagnostic::error(
                Location::file(ws.root.join(WORKSPACE_FILE)).at("recipients"),
                e.message,
            )
            .hint(e.hint.unwrap_or_default()),
        );
    }
    let ui = &ctx.ui;
    let mut seen = Diagnostics::default();
    let mut report = Vec::new();
    let mut invalid = 0;
    for (id, r) in &results {
        let ds = match r {
            Ok((client, _)) => {
                let mut ds = workspace_diags.clone();
                ds.0.extend(secrets::missing_diagnostics(&store, &ws, client));
                ds
            }
            Err(ds) => ds.clone(),
        };
        if ds.has_errors() {
            invalid += 1;
        }
        for d in &ds.0 {
            if !seen.0.contains(d) {
                seen.push(d.clone());
                if !args.json {
                    ui.diagnostic(d, Some(&ws.root));
                }
            }
        }
        let rel = |d: &crate::error::Diagnostic| {
            let mut v = serde_json::to_value(d).unwrap_or_default();
            if let Some(f) = d.location.file.as_deref() {
                v["file"] = json!(ws.relative(f).display().to_string());
            }
            v
        };
        report.push(json!({"client": id, "valid": !ds.has_errors(), "diagnostics": ds.0.iter().map(rel).collect::<Vec<_>>()}));
    }
    if args.json {
        ui.json_out(
            &json!({"clients": report, "summary": {"clients": ids.len(), "invalid": invalid}}),
        );
    }
    if invalid > 0 {
        return Err(Error::new(format!(
            "{invalid} of {} client(s) are invalid",
            ids.len()
        )));
    }
    ui.say(format!("{} {} client(s) valid", ui.green("ok:"), ids.len()));
    Ok(Outcome::Done)
}
