//! `scalewize export`: the desired state `deploy` uses, written as Compose projects or Kubernetes
//! manifests (`export::`); `--check` only says whether the files on disk are current.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{Ctx, Outcome, session};
use crate::cli::{ExportArgs, ExportFormat};
use crate::error::{Error, Result};
use crate::export::{self, ExportFile, Input};
use crate::fs::write_atomic;

pub fn run(ctx: &mut Ctx, args: ExportArgs) -> Result<Outcome> {
    let ws = ctx.workspace()?;
    let ids = ws.select(&args.clients, args.all, false)?;
    // The same desired state as deploy: committed generated files must match the config.
    let loaded = session::load_for_deploy(&ws, &ids)?;
    let pairs: Vec<_> = loaded.iter().map(|(c, r)| (c, r)).collect();
    let services = crate::plan::desired::desired(&ws, &pairs, None)
        .map_err(|d| Error::from_diagnostics("fix these first; nothing was exported", d))?;
    let shared_urls: BTreeMap<String, String> = args.shared_url.iter().cloned().collect();
    let source = if args.with_secrets {
        Some(session::secrets(ctx, &ws)?)
    } else {
        None
    };
    let format = args.format.as_str();
    let command = format!("scalewize export --format {format}");
    let input = Input {
        prefix: &ws.settings.prefix,
        clients: &ids,
        services: &services,
        shared_urls: &shared_urls,
        secrets: source.as_deref(),
        command: &command,
    };
    let files = match args.format {
        ExportFormat::Compose => export::compose_files(&input)?,
        ExportFormat::Kubernetes => export::kubernetes::kubernetes_files(&input)?,
    };
    let out = match &args.out {
        Some(p) if p.is_absolute() => p.clone(),
        Some(p) => ctx.dir.join(p),
        None => ws.root.join("export").join(format),
    };
    let shown = |p: &Path| -> String { ws.relative(p).display().to_string() };
    let ui = &ctx.ui;
    let mut changed = 0;
    for f in &files {
        let path = out.join(&f.path);
        let status = status(&path, f);
        let Some(verb) = status else {
            ui.debug(1, format!("unchanged {}", shown(&path)));
            continue;
        };
        changed += 1;
        if args.check {
            ui.result(format!(
                "{} {}",
                ui.yellow(&format!("would {verb}")),
                shown(&path)
            ));
        } else {
            write_atomic(&path, f.content.as_bytes(), f.private.then_some(0o600))?;
            let done = if verb == "create" {
                "created"
            } else {
                "updated"
            };
            ui.say(format!("{} {}", ui.green(done), shown(&path)));
        }
    }
    // Files an earlier export wrote that this one would not (a removed server or user): only
    // files carrying the export's header, only in the folders this export owns.
    for path in stale(&out, &files) {
        changed += 1;
        if args.check {
            ui.result(format!("{} {}", ui.red("would remove"), shown(&path)));
        } else {
            std::fs::remove_file(&path).map_err(|e| Error::io("remove", &path, e))?;
            ui.say(format!("{} {}", ui.red("removed"), shown(&path)));
        }
    }
    let total = files.len();
    let clients = ids.len();
    if args.check {
        if changed > 0 {
            ui.note(format!(
                "{changed} of {total} exported file(s) differ in {}; run `scalewize export` without --check to update them",
                shown(&out)
            ));
            return Ok(Outcome::Changes);
        }
        ui.note(format!(
            "the {format} export is current ({clients} client(s), {total} file(s))"
        ));
        return Ok(Outcome::Done);
    }
    let private: Vec<PathBuf> = files
        .iter()
        .filter(|f| f.private)
        .map(|f| out.join(&f.path))
        .collect();
    if !private.is_empty() {
        ui.warn(format!(
            "{} file(s) hold secret VALUES (mode 0600): {} — never commit them; keep them out of git (.gitignore) and delete them once applied",
            private.len(),
            private.iter().map(|p| shown(p)).collect::<Vec<_>>().join(", ")
        ));
    } else {
        ui.note(match args.format {
            ExportFormat::Compose => "secrets are referenced, not written: fill each secrets/<service>.env from its .example (mode 0600), or re-run with --with-secrets",
            ExportFormat::Kubernetes => "secrets are referenced, not written: create the Secrets the manifests name (scalewize-client, scalewize-user-<user>, scalewize-shared), or re-run with --with-secrets",
        });
    }
    ui.say(format!(
        "exported {clients} client(s) as {format} to {}: {changed} file(s) written, {} unchanged",
        shown(&out),
        total - changed
    ));
    Ok(Outcome::Done)
}

/// Files under the exported folders (each file's first folder below `out`) that start with the
/// export's header but are not part of `files`, secret files excepted.
fn stale(out: &Path, files: &[ExportFile]) -> Vec<PathBuf> {
    let wanted: std::collections::BTreeSet<PathBuf> =
        files.iter().map(|f| out.join(&f.path)).collect();
    let dirs: std::collections::BTreeSet<PathBuf> = files
        .iter()
        .filter_map(|f| {
            f.path
                .components()
                .next()
                .filter(|_| f.path.components().count() > 1)
        })
        .map(|c| out.join(c))
        .collect();
    let mut found = Vec::new();
    let mut stack: Vec<PathBuf> = dirs.into_iter().collect();
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if !wanted.contains(&p) && !holds_secrets(&p) && export::is_generated(&p) {
                found.push(p);
            }
        }
    }
    found.sort();
    found
}

/// Secret files are never removed: `--with-secrets` wrote them, or the user filled them in from
/// an `.example` (header included), and an export without `--with-secrets` must not delete them.
fn holds_secrets(p: &Path) -> bool {
    p.extension().is_some_and(|e| e == "env")
        || p.file_name()
            .is_some_and(|n| n == export::kubernetes::SECRETS_FILE)
}

/// `None` when the file on disk is current (a private file also needs its 0600 mode), else the verb.
fn status(path: &Path, f: &ExportFile) -> Option<&'static str> {
    let Ok(on_disk) = std::fs::read(path) else {
        return Some("create");
    };
    if on_disk != f.content.as_bytes() {
        return Some("update");
    }
    if f.private {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).map(|m| m.permissions().mode() & 0o777);
        if mode.ok() != Some(0o600) {
            return Some("update");
        }
    }
    None
}
