//! `scalewize render`: write the generated files, or with `--check` only say whether they are current.

use super::{Ctx, Outcome, collect_diagnostics, load_and_render_all, parallel_map};
use crate::cli::RenderArgs;
use crate::error::{Error, Result};
use crate::render::{FileChange, FileStatus};

pub fn run(ctx: &mut Ctx, args: RenderArgs) -> Result<Outcome> {
    let ws = ctx.workspace()?;
    let ids = ws.select(&args.selection.clients, args.selection.all, true)?;
    // `--check` writes nothing, so it needs no lock.
    let _lock = if args.check {
        None
    } else {
        Some(ctx.lock(&ws, &format!("render {}", ids.join(" ")))?)
    };
    let results = load_and_render_all(&ws, &ids);
    let diags = collect_diagnostics(&results);
    let ui = &ctx.ui;
    if diags.has_errors() {
        let failed = results.iter().filter(|(_, r)| r.is_err()).count();
        return Err(Error::from_diagnostics(
            format!(
                "{failed} of {} client(s) have errors; nothing was written",
                ids.len()
            ),
            diags,
        ));
    }
    ui.diagnostics(&diags, Some(&ws.root));
    // Compare with the disk and write on all cores; report in order afterwards.
    let changes: Vec<Vec<FileChange>> = parallel_map(&results, |(_, r)| {
        let (_, rendered) = r.as_ref().expect("checked above");
        rendered.changes()
    });
    if !args.check {
        let pending: Vec<&FileChange> =
            changes.iter().flatten().filter(|c| c.is_change()).collect();
        for r in parallel_map(&pending, |c| c.apply()) {
            r?;
        }
    }
    let mut changed = 0;
    let mut unchanged = 0;
    for ((_, r), client_changes) in results.iter().zip(&changes) {
        let (_, rendered) = r.as_ref().expect("checked above");
        let mut client_changed = false;
        for change in client_changes {
            let rel = ws.relative(&change.path).display().to_string();
            if !change.is_change() {
                unchanged += 1;
                ui.debug(1, format!("unchanged {rel}"));
                continue;
            }
            changed += 1;
            client_changed = true;
            if args.check {
                ui.result(format!(
                    "{} {rel}",
                    ui.yellow(&format!("would {}", change.status().as_str()))
                ));
            } else {
                let verb = match change.status() {
                    FileStatus::Create => ui.green("created"),
                    FileStatus::Delete => ui.red("removed"),
                    _ => ui.yellow("updated"),
                };
                ui.say(format!("{verb} {rel}"));
            }
        }
        if client_changed && !args.check {
            for n in &rendered.notes {
                ui.note(n);
            }
        }
    }
    let clients = ids.len();
    if args.check {
        if changed > 0 {
            ui.note(format!("{changed} generated file(s) out of date in {clients} client(s); run `scalewize render` to update them"));
            return Ok(Outcome::Changes);
        }
        ui.note(format!(
            "all generated files are current ({clients} client(s), {unchanged} file(s))"
        ));
        return Ok(Outcome::Done);
    }
    ui.say(format!(
        "rendered {clients} client(s): {changed} file(s) written, {unchanged} unchanged"
    ));
    Ok(Outcome::Done)
}
