//! `scalewize diff`: what would change, grouped by client. The generated-files layer compares
//! an in-memory render with the disk.

use serde_json::json;
use similar::{ChangeTag, TextDiff};

use super::session::{connection, runtime, secrets};
use super::{Ctx, Outcome, collect_diagnostics, load_and_render_all};
use crate::apply::progress::Progress;
use crate::cli::DiffArgs;
use crate::error::{Error, Result};
use crate::plan::prepare::plan;
use crate::plan::print_plan;
use crate::render::FileChange;
use crate::ui::Ui;

pub fn run(ctx: &mut Ctx, args: DiffArgs) -> Result<Outcome> {
    ctx.ui.json = args.json;
    let ws = ctx.workspace()?;
    let mut ids = ws.select(&args.selection.clients, args.selection.all, true)?;
    let mut changed_since = None;
    if let Some(reference) = &args.changed_since {
        let affected = crate::git::changed_since(&ws, reference)?;
        ids.retain(|id| affected.clients.contains_key(id));
        changed_since = Some((reference.clone(), affected));
    }
    let results = load_and_render_all(&ws, &ids);
    let diags = collect_diagnostics(&results);
    if diags.has_errors() {
        return Err(Error::from_diagnostics(
            "cannot compute the plan: fix these first",
            diags,
        ));
    }
    let ui = &ctx.ui;
    ui.diagnostics(&diags, Some(&ws.root));

    let (mut create, mut update, mut delete) = (0, 0, 0);
    let mut clients_json = Vec::new();
    let mut with_changes = 0;
    for (id, r) in &results {
        let (_, rendered) = r.as_ref().expect("checked above");
        let changes: Vec<FileChange> = rendered
            .changes()
            .into_iter()
            .filter(FileChange::is_change)
            .collect();
        if !changes.is_empty() {
            with_changes += 1;
        }
        let mut files_json = Vec::new();
        if !changes.is_empty() || ui.verbose > 0 {
            ui.say(ui.bold(id));
        }
        for c in &changes {
            match c.status() {
                "create" => create += 1,
                "delete" => delete += 1,
                _ => update += 1,
            }
            let rel = ws.relative(&c.path).display().to_string();
            let diff = unified(c, &rel);
            print_change(ui, c, &rel, &diff);
            files_json.push(json!({"path": rel, "action": c.status(), "diff": diff}));
        }
        if changes.is_empty() && ui.verbose > 0 {
            ui.say("  no changes");
        }
        clients_json.push(json!({"client": id, "files": files_json}));
    }
    let mut deleted = Vec::new();
    if let Some((reference, affected)) = &changed_since {
        for d in &affected.deleted {
            ui.say(format!(
                "{} {d}: deleted since {reference}; its platform resources remain until `scalewize destroy {d}`",
                ui.red("-")
            ));
            deleted.push(d.clone());
        }
        for (c, why) in &affected.clients {
            ui.debug(
                1,
                format!(
                    "{c} is affected by: {}",
                    why.iter().cloned().collect::<Vec<_>>().join(", ")
                ),
            );
        }
    }
    // The platform layer: live state against the desired state, secrets by fingerprint.
    let mut platform_plan = None;
    if !args.local {
        let refs: Vec<_> = results
            .iter()
            .map(|(_, r)| {
                let (c, rendered) = r.as_ref().expect("checked above");
                (c, rendered)
            })
            .collect();
        let source = secrets(ctx, &ws)?;
        let rt = runtime()?;
        let progress = Progress::new(ui.stderr_tty, ui.quiet || ui.json);
        let conn = connection(ctx, &source);
        let planned = rt.block_on(plan(
            &ws,
            &refs,
            args.platform.get(),
            source.as_ref(),
            &progress,
            &conn,
        ))?;
        if !ui.json {
            print_plan(ui, &planned.plan);
        }
        if let Some(out) = &args.out {
            let text = serde_json::to_string_pretty(&planned.plan)
                .map_err(|e| Error::new(e.to_string()))?;
            crate::render::write_atomic(out, text.as_bytes(), None)?;
            ui.note(format!(
                "saved the plan to {}; apply exactly it with `scalewize deploy --plan {}`",
                out.display(),
                out.display()
            ));
        }
        platform_plan = Some(planned.plan);
    }
    let pending = create
        + update
        + delete
        + deleted.len()
        + platform_plan.as_ref().map_or(0, |p| p.actions.len());
    if args.json {
        let mut out = json!({
            "version": 1,
            "layer": if args.local { "files" } else { "files+platforms" },
            "clients": clients_json,
            "summary": {"create": create, "update": update, "delete": delete, "clients": ids.len(), "clients_with_changes": with_changes},
        });
        if let Some(p) = &platform_plan {
            out["plan"] = serde_json::to_value(p).unwrap_or_default();
        }
        if let Some((reference, affected)) = &changed_since {
            out["changed_since"] = json!({
                "ref": reference,
                "clients": affected.clients.keys().collect::<Vec<_>>(),
                "deleted_clients": deleted,
            });
        }
        ui.json_out(&out);
    } else {
        ui.result(format!(
            "Files: {} to create, {} to update, {} to delete ({} client(s), {} with changes{}).",
            create,
            update,
            delete,
            ids.len(),
            with_changes,
            if deleted.is_empty() {
                String::new()
            } else {
                format!(", {} deleted", deleted.len())
            }
        ));
    }
    Ok(if args.detailed_exitcode && pending > 0 {
        Outcome::Changes
    } else {
        Outcome::Done
    })
}

fn unified(c: &FileChange, rel: &str) -> String {
    let old = c.old.as_deref().unwrap_or("");
    let new = c.new.as_deref().unwrap_or("");
    TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{rel}"), &format!("b/{rel}"))
        .to_string()
}

fn print_change(ui: &Ui, c: &FileChange, rel: &str, diff: &str) {
    let (sym, label) = match c.status() {
        "create" => (ui.green("+"), "create"),
        "delete" => (ui.red("-"), "delete"),
        _ => (ui.yellow("~"), "update"),
    };
    ui.say(format!("  {sym} {rel} ({label})"));
    let old = c.old.as_deref().unwrap_or("");
    let new = c.new.as_deref().unwrap_or("");
    for hunk in TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .iter_hunks()
    {
        ui.say(format!("    {}", ui.dim(&hunk.header().to_string())));
        for change in hunk.iter_changes() {
            let line = change.value().trim_end_matches('\n');
            let text = match change.tag() {
                ChangeTag::Insert => ui.green(&format!("+{line}")),
                ChangeTag::Delete => ui.red(&format!("-{line}")),
                ChangeTag::Equal => format!(" {line}"),
            };
            ui.say(format!("    {text}"));
        }
    }
    let _ = diff;
}
