//! `scalewize validate`: every check render and deploy would make, writing nothing.

use super::output::{self, DiagnosticRecord, ValidateClient, ValidateOutput, ValidateSummary};
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
    // Secrets are checked by name (no identity needed) and, when an identity is configured,
    // decrypted too, quietly: validate reports problems, not the example key's warnings.
    let store = super::secret::open_store(ctx, &ws)?;
    let mut quiet = crate::secrets::SecretStore::open(&ws)?;
    quiet.on_warning(|_| {});
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
            Ok((client, rendered)) => {
                let mut ds = workspace_diags.clone();
                ds.0.extend(crate::render::missing_diagnostics(&store, client));
                ds.0.extend(crate::render::unreadable_diagnostics(&quiet, client));
                for d in crate::render::recipient_diagnostics(&store, client) {
                    if !ds.0.contains(&d) {
                        ds.push(d);
                    }
                }
                ds.0.extend(super::tool_lock::unknown_tool_names(&ws, client));
                // What deploy would refuse: committed generated files that differ from the render.
                for c in rendered.changes().into_iter().filter(|c| c.is_change()) {
                    ds.push(
                        Diagnostic::error(
                            Location::file(&c.path),
                            format!(
                                "out of date: `scalewize render` would {} it (deploy refuses until it matches)",
                                c.status().as_str()
                            ),
                        )
                        .hint(format!(
                            "run `scalewize render {id}`, review and commit the result"
                        )),
                    );
                }
                // What deploy would refuse: a service its platform cannot run.
                if let Err(unfit) = crate::plan::desired::desired(&ws, &[(client, rendered)], None)
                {
                    ds.0.extend(unfit.0);
                }
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
                if args.json {
                    ui.annotate(d, Some(&ws.root));
                } else {
                    ui.diagnostic(d, Some(&ws.root));
                }
            }
        }
        report.push(ValidateClient {
            client: id.clone(),
            valid: !ds.has_errors(),
            diagnostics: ds.0.iter().map(|d| DiagnosticRecord::new(d, &ws)).collect(),
        });
    }
    if args.json {
        let summary = ValidateSummary {
            clients: ids.len(),
            invalid,
        };
        output::emit(
            ui,
            "validate",
            ValidateOutput {
                clients: report,
                summary,
            },
        );
    }
    if ui.github {
        let mut md = format!(
            "### scalewize validate\n\n{} of {} client(s) valid.\n",
            ids.len() - invalid,
            ids.len()
        );
        for d in &seen.0 {
            md.push_str(&format!(
                "- **{}** {}\n",
                if d.is_error() { "error" } else { "warning" },
                crate::ui::github::cell(&d.render(Some(&ws.root)))
            ));
        }
        if let Err(e) = crate::ui::github::append_summary(&(md + "\n")) {
            ui.warn(format!("could not write the GitHub step summary: {e}"));
        }
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
