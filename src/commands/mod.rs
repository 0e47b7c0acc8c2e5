//! One file per subcommand; each orchestrates the library and reports. No business rules here.

pub mod cost;
mod deploy;
mod destroy;
mod diff;
mod doctor;
mod export;
mod lock;
mod logs;
mod new;
mod new_server;
pub mod output;
mod probes;
mod render;
mod rollout;
pub mod secret;
mod secret_input;
mod session;
pub mod shell;
mod status;
mod tool_lock;
mod validate;

use std::path::PathBuf;
use std::sync::OnceLock;

use crate::cli::{Cli, Command};
use crate::error::{Diagnostics, Result};
use crate::render::{Rendered, Renderer};
use crate::ui::Ui;
use crate::workspace::{Client, Workspace};

/// How a command ended, short of an error: exit 0 or 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// Changes are pending (`--detailed-exitcode`, `render --check`, `deploy --dry-run`).
    Changes,
}

pub struct Ctx {
    pub ui: Ui,
    pub dir: PathBuf,
    /// How long a writing command waits for the workspace lock (`--lock-timeout`).
    pub lock_timeout: std::time::Duration,
    root: OnceLock<PathBuf>,
}

impl Ctx {
    pub fn new(ui: Ui, dir: PathBuf) -> Self {
        Ctx {
            ui,
            dir,
            lock_timeout: std::time::Duration::from_secs(crate::lock::DEFAULT_TIMEOUT_SECS),
            root: OnceLock::new(),
        }
    }
    /// Take the workspace lock for a writing command (see `lock`), telling the user while it
    /// waits. `command` is written beside the lock for other runs to see: never a value.
    pub fn lock(&self, ws: &Workspace, command: &str) -> Result<crate::lock::Guard> {
        let ui = &self.ui;
        crate::lock::acquire(
            &ws.root,
            crate::lock::WORKSPACE_LOCK,
            command,
            self.lock_timeout,
            &|m| ui.note(m),
        )
    }
    pub fn workspace(&self) -> Result<Workspace> {
        let ws = Workspace::discover(&self.dir)?;
        let _ = self.root.set(ws.root.clone());
        Ok(ws)
    }
    /// The workspace root, once found (paths in messages are shown relative to it).
    pub fn root(&self) -> Option<&std::path::Path> {
        self.root.get().map(PathBuf::as_path)
    }
}

pub fn dispatch(ctx: &mut Ctx, cli: Cli) -> Result<Outcome> {
    match cli.command {
        Command::New(a) => new::run(ctx, a),
        Command::Render(a) => render::run(ctx, a),
        Command::Validate(a) => validate::run(ctx, a),
        Command::Diff(a) => diff::run(ctx, a),
        Command::Cost(a) => cost::run(ctx, a),
        Command::Secret(a) => secret::run(ctx, a),
        Command::Deploy(a) => deploy::run(ctx, a),
        Command::Status(a) => status::run(ctx, a),
        Command::Destroy(a) => destroy::run(ctx, a),
        Command::Logs(a) => logs::run(ctx, a),
        Command::Doctor(a) => doctor::run(ctx, a),
        Command::Export(a) => export::run(ctx, a),
        Command::Completions { shell } => shell::completions(shell),
        Command::Man => shell::man(),
        Command::Lock(a) => lock::run(ctx, a),
        Command::Supervise { record } => {
            let code = crate::platform::local::supervisor::supervise(&record);
            std::process::exit(code);
        }
    }
}

pub type Loaded = (String, std::result::Result<(Client, Rendered), Diagnostics>);

/// `f` over `items` on all cores, results in input order.
pub fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(items.len())
        .max(1);
    if threads == 1 {
        return items.iter().map(f).collect();
    }
    let mut out: Vec<Option<R>> = (0..items.len()).map(|_| None).collect();
    std::thread::scope(|s| {
        let f = &f;
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    items
                        .iter()
                        .enumerate()
                        .skip(t)
                        .step_by(threads)
                        .map(|(i, x)| (i, f(x)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            for (i, r) in h.join().expect("worker thread") {
                out[i] = Some(r);
            }
        }
    });
    out.into_iter()
        .map(|r| r.expect("every item mapped"))
        .collect()
}

/// Load and render clients on all cores, in the given order.
pub fn load_and_render_all(ws: &Workspace, ids: &[String]) -> Vec<Loaded> {
    let renderer = Renderer::new(ws);
    parallel_map(ids, |id| {
        (
            id.clone(),
            crate::render::load_and_render(ws, &renderer, id),
        )
    })
}

/// Load and render `ids`, or fail with every finding under `why` (nothing to act on otherwise).
pub fn load_all(
    ws: &Workspace,
    ids: &[String],
    why: &str,
) -> crate::error::Result<Vec<(Client, Rendered)>> {
    let results = load_and_render_all(ws, ids);
    let diags = collect_diagnostics(&results);
    if diags.has_errors() {
        return Err(crate::error::Error::from_diagnostics(why, diags));
    }
    Ok(results
        .into_iter()
        .map(|(_, r)| r.expect("checked above"))
        .collect())
}

/// All findings of a batch, each reported once (an error in `default` shows up for every client).
pub fn collect_diagnostics(results: &[Loaded]) -> Diagnostics {
    let mut all = Diagnostics::default();
    for (_, r) in results {
        let ds = match r {
            Err(ds) => ds.0.clone(),
            Ok(_) => Vec::new(),
        };
        for d in ds {
            if !all.0.contains(&d) {
                all.push(d);
            }
        }
    }
    all
}
