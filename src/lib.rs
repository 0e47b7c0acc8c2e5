//! scalewize: run LibreChat and its MCP servers for many client companies from one git repo.
//!
//! Data flow (SPEC §6): files ─load→ `workspace` (typed, validated) ─→ `render` (generated
//! files) ─→ `plan` (desired vs observed) ─apply→ `platform`.

// Diagnostics are the error type of loading and rendering by design; they are not on hot paths.
#![allow(clippy::result_large_err)]
// A closed stdout or stderr (`| head`) must never panic: lines go through `ui::stdout_line` /
// `ui::stderr_line`, which ignore write errors, never through `println!`/`eprintln!`.
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod apply;
pub mod cli;
pub mod commands;
pub mod cost;
pub mod error;
pub mod export;
pub mod fs;
pub mod git;
pub mod lock;
pub mod model;
pub mod net;
pub mod plan;
pub mod platform;
pub mod probe;
pub mod render;
pub mod secrets;
pub mod ui;
pub mod workspace;
pub mod yaml;

use clap::Parser;

/// Run the CLI with the process's arguments; returns the exit code (0, 1, or 2 for pending changes).
pub fn run() -> i32 {
    // reqwest uses rustls without a built-in provider: install ring's once.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = match cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            // Usage errors exit 1: exit code 2 means only "changes pending".
            let code = match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => 0,
                clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => 1,
                _ => 1,
            };
            // Under `secret`, an unexpected argument may be a value typed on the command line:
            // say so without repeating it.
            if e.kind() == clap::error::ErrorKind::UnknownArgument
                && std::env::args_os().any(|a| a == "secret")
            {
                ui::stderr_line(
                    "error: unexpected argument (not repeated here: it may be a value)\n  hint: secret values are read from stdin, never from the command line: scalewize secret set <client> NAME < value.txt; see `scalewize secret --help`",
                );
                return 1;
            }
            let _ = e.print();
            return code;
        }
    };
    let ui = ui::Ui::new(cli.color(), cli.quiet, cli.verbose);
    let dir = cli
        .dir
        .clone()
        .unwrap_or_else(|| std::path::PathBuf::from("."));
    let mut ctx = commands::Ctx::new(ui, dir);
    ctx.lock_timeout = std::time::Duration::from_secs(cli.lock_timeout);
    match commands::dispatch(&mut ctx, cli) {
        Ok(commands::Outcome::Done) => 0,
        Ok(commands::Outcome::Changes) => 2,
        Err(e) => {
            ctx.ui.error(&e, ctx.root());
            1
        }
    }
}
