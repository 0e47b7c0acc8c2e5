//! `scalewize diff`: what would change, grouped by client. The generated-files layer compares
//! an in-memory render with the disk.

use similar::{ChangeTag, TextDiff};

use super::cost::PlanCost;
use super::output::{
    self, ChangedSince, Counts, DiffClient, DiffLayer, DiffOutput, DiffSummary, FileRecord,
    PlatformCounts,
};
use super::session::{connection, runtime, secrets};
use super::{Ctx, Outcome, collect_diagnostics, load_and_render_all};
use crate::cli::DiffArgs;
use crate::error::{Error, Result};
use crate::model::Op;
use crate::plan::planner::{Prepare, plan};
use crate::plan::print_plan;
use crate::render::{FileChange, FileStatus};
use crate::ui::Progress;
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

    let mut files = Counts::default();
    let mut clients_json = Vec::new();
    let mut with_changes = std::collections::BTreeSet::new();
    for (id, r) in &results {
        let (_, rendered) = r.as_ref().expect("checked above");
        let changes: Vec<FileChange> = rendered
            .changes()
            .into_iter()
            .filter(FileChange::is_change)
            .collect();
        if !changes.is_empty() {
            with_changes.insert(id.clone());
        }
        let mut files_json = Vec::new();
        if !changes.is_empty() || ui.verbose > 0 {
            ui.say(ui.bold(id));
        }
        for c in &changes {
            let action = match c.status() {
                FileStatus::Create => Op::Create,
                FileStatus::Delete => Op::Delete,
                _ => Op::Update,
            };
            match action {
                Op::Create => files.create += 1,
                Op::Update => files.update += 1,
                Op::Delete => files.delete += 1,
            }
            let rel = ws.relative(&c.path).display().to_string();
            let diff = unified(c, &rel);
            print_change(ui, c, &rel);
            files_json.push(FileRecord {
                path: rel,
                action,
                diff,
            });
        }
        if changes.is_empty() && ui.verbose > 0 {
            ui.say("  no changes");
        }
        clients_json.push(DiffClient {
            client: id.clone(),
            files: files_json,
        });
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
    let mut tool_drift = Vec::new();
    let mut plan_cost: Option<PlanCost> = None;
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
            Prepare::ReadOnly,
        ))?;
        if !ui.json {
            print_plan(ui, &planned.plan);
        }
        if let Some(out) = &args.out {
            // The workspace's rollout goes with the plan: `deploy --plan` follows its waves.
            let mut saved = planned.plan.clone();
            let r = &ws.settings.rollout;
            saved.waves = r.waves.clone().map(|sizes| crate::plan::SavedWaves {
                sizes,
                canary: r.canary.clone().unwrap_or_default(),
                max_failures: r.max_failures.unwrap_or(0),
            });
            let text =
                serde_json::to_string_pretty(&saved).map_err(|e| Error::new(e.to_string()))?;
            crate::fs::write_atomic(out, text.as_bytes(), None)?;
            ui.note(format!(
                "saved the plan to {}; apply exactly it with `scalewize deploy --plan {}`",
                out.display(),
                out.display()
            ));
        }
        // The tools layer: what running services serve against each client's tools.lock.json.
        let clients: Vec<_> = refs.iter().map(|(c, _)| *c).collect();
        let targets = super::probes::running(planned.specs.values(), &planned.observed);
        let probes = super::probes::probe_all(ctx, &rt, targets, Some(&source), &clients);
        tool_drift = super::tool_lock::drift(&ws, &ids, &planned.specs, &probes)?;
        if !ui.json {
            for line in tool_drift.iter().flat_map(|d| d.lines(&ui.yellow("~"))) {
                ui.say(line);
            }
        }
        plan_cost = Some(PlanCost::compute(
            &ws,
            &clients,
            &planned.specs,
            &planned.observed,
            &planned.plan,
        ));
        platform_plan = Some(planned.plan);
    }
    if let Some(p) = &platform_plan {
        for a in &p.actions {
            with_changes.extend(a.clients.iter().filter(|c| ids.contains(c)).cloned());
            if ids.contains(&a.key.owner) {
                with_changes.insert(a.key.owner.clone());
            }
        }
    }
    let with_changes = with_changes.len();
    let pc = |op| platform_plan.as_ref().map_or(0, |p| p.count(op));
    let summary = DiffSummary {
        create: files.create + pc(Op::Create),
        update: files.update + pc(Op::Update),
        delete: files.delete + pc(Op::Delete),
        platform: platform_plan.as_ref().map(PlatformCounts::of),
        secrets: platform_plan.as_ref().map_or(0, |p| {
            p.actions
                .iter()
                .flat_map(|a| &a.changes)
                .filter(|c| c.is_secret())
                .count()
        }),
        clients: ids.len(),
        tools: tool_drift.len(),
        clients_with_changes: with_changes,
        files,
    };
    let pending =
        summary.create + summary.update + summary.delete + deleted.len() + tool_drift.len();
    if ui.github {
        let md = step_summary(&clients_json, platform_plan.as_ref(), &deleted);
        if let Err(e) = crate::ui::github::append_summary(&md) {
            ui.warn(format!("could not write the GitHub step summary: {e}"));
        }
    }
    if args.json {
        let body = DiffOutput {
            layer: if args.local {
                DiffLayer::Files
            } else {
                DiffLayer::FilesAndPlatforms
            },
            clients: clients_json,
            plan: platform_plan,
            changed_since: changed_since.map(|(reference, affected)| ChangedSince {
                reference,
                clients: affected.clients.keys().cloned().collect(),
                deleted_clients: deleted.clone(),
            }),
            tools: tool_drift,
            cost: plan_cost.as_ref().map(|c| c.record()),
            summary,
        };
        output::emit(ui, "diff", body);
    } else {
        ui.result(format!(
            "Files: {} to create, {} to update, {} to delete ({} client(s), {} with changes{}).",
            summary.files.create,
            summary.files.update,
            summary.files.delete,
            ids.len(),
            with_changes,
            if deleted.is_empty() {
                String::new()
            } else {
                format!(", {} deleted", deleted.len())
            }
        ));
        if let Some(c) = &plan_cost {
            ui.result(c.line());
        }
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

fn print_change(ui: &Ui, c: &FileChange, rel: &str) {
    let (sym, label) = match c.status() {
        FileStatus::Create => (ui.green("+"), "create"),
        FileStatus::Delete => (ui.red("-"), "delete"),
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
}

/// The plan as Markdown for GitHub's step summary: generated files (with their diffs folded),
/// then the platform plan.
fn step_summary(
    clients: &[DiffClient],
    plan: Option<&crate::plan::Plan>,
    deleted: &[String],
) -> String {
    use crate::ui::github::cell;
    let mut md = String::from("### scalewize plan\n\n");
    let files: Vec<(&str, &FileRecord)> = clients
        .iter()
        .flat_map(|c| c.files.iter().map(move |f| (c.client.as_str(), f)))
        .collect();
    if files.is_empty() {
        md.push_str("Generated files: up to date.\n\n");
    } else {
        md.push_str("| client | generated file | action |\n|---|---|---|\n");
        for (client, f) in &files {
            let action = match f.action {
                Op::Create => "create",
                Op::Update => "update",
                Op::Delete => "delete",
            };
            md.push_str(&format!(
                "| {} | `{}` | {action} |\n",
                cell(client),
                cell(&f.path)
            ));
        }
        md.push_str("\n<details><summary>diffs of the generated files</summary>\n\n```diff\n");
        for (_, f) in &files {
            // A fence inside a diff would end the block early.
            md.push_str(&f.diff.replace("```", "`\u{200b}``"));
        }
        md.push_str("```\n\n</details>\n\n");
    }
    for d in deleted {
        md.push_str(&format!(
            "- `{}` was deleted: its platform resources remain until `scalewize destroy {}`\n",
            cell(d),
            cell(d)
        ));
    }
    match plan {
        Some(p) => md.push_str(&crate::plan::plan_markdown(p)),
        None => md.push_str("Platforms were not compared (`--local`).\n"),
    }
    md.push('\n');
    md
}
