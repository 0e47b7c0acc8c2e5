//! What the platform-facing commands share: loading and rendering clients for a deploy, the
//! secret source, an async runtime, confirmation, and printing per-client results.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;

use super::Ctx;
use crate::error::{Error, Result};
use crate::render::Rendered;
use crate::secrets::SecretSource;
use crate::workspace::{Client, Workspace};

/// Load and render `ids`; refuse when the committed generated files differ from the render,
/// since a deploy must match what is reviewed in git.
pub fn load_for_deploy(ws: &Workspace, ids: &[String]) -> Result<Vec<(Client, Rendered)>> {
    let out = super::load_all(ws, ids, "fix these first; nothing was changed")?;
    let stale: Vec<String> = out
        .iter()
        .flat_map(|(_, rendered)| rendered.changes())
        .filter(|c| c.is_change())
        .map(|c| ws.relative(&c.path).display().to_string())
        .collect();
    if !stale.is_empty() {
        return Err(Error::new(format!(
            "the generated files differ from what the config renders: {}",
            stale.join(", ")
        ))
        .hint("run `scalewize render`, review and commit the result, then deploy"));
    }
    Ok(out)
}

pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::new(format!("cannot start the async runtime: {e}")))
}

/// Secrets for one run: the encrypted store (with its `SCALEWIZE_SECRET_…` overrides).
pub fn secrets(ctx: &Ctx, ws: &Workspace) -> Result<Arc<dyn SecretSource>> {
    Ok(Arc::new(super::secret::open_store(ctx, ws)?))
}

/// Debug lines for `-v`…`-vvv`, with every secret value the run has seen masked.
pub fn connection(ctx: &Ctx, source: &Arc<dyn SecretSource>) -> crate::platform::Connection {
    let ui = ctx.ui.clone();
    let source = source.clone();
    crate::platform::Connection {
        debug: Arc::new(move |level, line| {
            if ui.verbose >= level {
                ui.debug(level, source.redact(line));
            }
        }),
    }
}

/// Ask before changing anything: on a terminal, a typed `yes`; elsewhere `--yes` is required.
pub fn confirm(ctx: &Ctx, yes: bool, question: &str) -> Result<()> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(Error::new(
            "refusing to change anything without confirmation: not running in a terminal",
        )
        .hint("pass --yes to apply non-interactively (CI), or --dry-run to only see the plan"));
    }
    let mut out = std::io::stderr();
    let _ = write!(out, "{question} Only 'yes' is accepted: ");
    let _ = out.flush();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Error::new(format!("cannot read the answer: {e}")))?;
    if line.trim() == "yes" {
        Ok(())
    } else {
        let _ = &ctx.ui;
        Err(Error::new("cancelled; nothing was changed"))
    }
}

/// The non-interactive rule, checked before any platform call.
/// `verb` names what would be refused ("deploy", "destroy", "release the lock"); `dry_run` is
/// `None` when the command has no `--dry-run` to suggest.
pub fn require_yes_off_terminal(verb: &str, yes: bool, dry_run: Option<bool>) -> Result<()> {
    if yes || dry_run == Some(true) || std::io::stdin().is_terminal() {
        return Ok(());
    }
    let hint = match dry_run {
        Some(_) => "pass --yes to apply non-interactively (CI), or --dry-run to only see the plan",
        None => "pass --yes to do it non-interactively (CI)",
    };
    Err(Error::new(format!(
        "refusing to {verb} without confirmation: not running in a terminal, and --yes was not given"
    ))
    .hint(hint))
}

/// Nothing is skipped silently: say which servers are external (rendered, never deployed).
pub fn note_external(ctx: &Ctx, clients: &[(&Client, &Rendered)]) {
    let mut ext: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
    for (c, _) in clients {
        for s in &c.servers {
            if s.deployed().is_none() {
                ext.insert(&s.slug);
            }
        }
    }
    if !ext.is_empty() {
        ctx.ui.note(format!(
            "external servers (in librechat.yaml, not deployed by scalewize): {}",
            ext.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
}
