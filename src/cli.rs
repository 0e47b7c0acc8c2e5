//! The command line (clap only; the work happens in `commands/`).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

const EXAMPLES: &str = "\
Examples:
  scalewize new client-a --name \"Client A Corporation\"   scaffold client-configs/client-a/
  scalewize render --all                                  write every client's librechat.yaml + environment.env
  scalewize validate                                      check everything, write nothing
  scalewize diff --local --detailed-exitcode              what render would change (exit 2 if anything)
  scalewize diff --local --changed-since origin/main      only clients touched since that ref

Exit codes: 0 done / nothing to change, 1 error, 2 changes pending.
Docs: README.md; the config format's JSON Schema is in schemas/.";

#[derive(Debug, Parser)]
#[command(
    name = "scalewize",
    version,
    about = "Run LibreChat and its MCP servers for many client companies from one git repo.",
    after_help = EXAMPLES
)]
pub struct Cli {
    /// Run as if started in DIR (the workspace is the nearest ancestor holding client-configs/).
    #[arg(short = 'C', global = true, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// More detail on stderr (-v, -vv, -vvv).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Only errors and results.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// No colours (also: the NO_COLOR environment variable).
    #[arg(long, global = true)]
    pub no_color: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scaffold a new client: client-configs/<client>/ from the mcp-servers.json template, rendered.
    #[command(
        after_help = "Examples:\n  scalewize new acme --name \"Acme Corporation\"\n  scalewize new acme          (the display name defaults to the id)"
    )]
    New(NewArgs),
    /// Write each client's librechat.yaml and environment.env from its mcp-servers.json and the templates.
    #[command(
        after_help = "Examples:\n  scalewize render client-a\n  scalewize render --all\n  scalewize render --check     (CI: exit 2 when a generated file is out of date, write nothing)"
    )]
    Render(RenderArgs),
    /// Run every check render and deploy would make, writing nothing.
    #[command(
        after_help = "Examples:\n  scalewize validate\n  scalewize validate client-a client-b"
    )]
    Validate(ValidateArgs),
    /// Show what would change: generated files (and, later, live platforms and secrets).
    #[command(
        after_help = "Examples:\n  scalewize diff --local\n  scalewize diff --local --json\n  scalewize diff --local --detailed-exitcode --changed-since origin/main"
    )]
    Diff(DiffArgs),
}

#[derive(Debug, Args)]
pub struct NewArgs {
    /// The client id: lowercase letters, digits and `-`, starting with a letter, at most 30 characters.
    pub client: String,
    /// Display name (default: the id).
    #[arg(long)]
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct Selection {
    /// Clients to act on (default: all).
    pub clients: Vec<String>,
    /// Every client.
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    #[command(flatten)]
    pub selection: Selection,
    /// Write nothing; exit 2 when a file would change, 0 when all are current.
    #[arg(long)]
    pub check: bool,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub selection: Selection,
    /// Machine-readable findings.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    #[command(flatten)]
    pub selection: Selection,
    /// Only the generated-files layer (no platform calls).
    #[arg(long)]
    pub local: bool,
    /// Only clients affected by changes between REF and the working tree (uncommitted and untracked included).
    #[arg(long, value_name = "REF")]
    pub changed_since: Option<String>,
    /// Machine-readable plan on stdout.
    #[arg(long)]
    pub json: bool,
    /// Exit 2 when there are changes, 0 when there are none.
    #[arg(long)]
    pub detailed_exitcode: bool,
}
