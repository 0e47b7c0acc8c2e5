//! One file per subcommand; each orchestrates the library and reports. No business rules here.

mod diff;
mod new;
mod render;
pub mod secret;
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
    root: OnceLock<PathBuf>,
}

impl Ctx {
    pub fn new(ui: Ui, dir: PathBuf) -> Self {
        Ctx {
            ui,
            dir,
            root: OnceLock::new(),
        }
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
        Command::Secret(a) => secret::run(ctx, a),
    }
}

pub type Loaded = (String, std::result::Result<(Client, Rendered), Diagnostics>);

/// Load and render clients, spread over the machine's cores, in the given order.
pub fn load_and_render_all(ws: &Workspace, ids: &[String]) -> Vec<Loaded> {
    let renderer = Renderer::new(ws);
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(ids.len())
        .max(1);
    let one = |id: &String| {
        (
            id.clone(),
            crate::render::load_and_render(ws, &renderer, id),
        )
    };
    if threads == 1 {
        return ids.iter().map(one).collect();
    }
    let mut out: Vec<Option<Loaded>> = (0..ids.len()).map(|_| None).collect();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let one = &one;
                s.spawn(move || {
                    ids.iter()
                        .enumerate()
                        .skip(t)
                        .step_by(threads)
                        .map(|(i, id)| (i, one(id)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            for (i, r) in h.join().expect("render thread") {
                out[i] = Some(r);
            }
        }
    });
    out.into_iter()
        .map(|r| r.expect("every client rendered"))
        .collect()
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
