//! The command line (clap only; the work happens in `commands/`).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

const EXAMPLES: &str = "\
Examples:
  scalewize new client-a --name \"Client A Corporation\"   scaffold client-configs/client-a/ (and generate its secrets)
  scalewize secret set client-a MONGO_URI < uri.txt       store a value, encrypted (read from stdin, never argv)
  scalewize secret list client-a                          names, owners and fingerprints, never values
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
    /// Show what would change: generated files, live platforms, secrets (by fingerprint).
    #[command(
        after_help = "Examples:\n  scalewize diff                           (everything, all clients)\n  scalewize diff client-a --out plan.json  (save the plan for `deploy --plan`)\n  scalewize diff --local --json            (generated files only, no platform calls)\n  scalewize diff --detailed-exitcode --changed-since origin/main"
    )]
    Diff(DiffArgs),
    /// Plan, confirm, apply, wait until healthy, print URLs.
    #[command(
        after_help = "Examples:\n  scalewize deploy client-a                    (asks before changing anything)\n  scalewize deploy client-a --yes              (CI: no prompt)\n  scalewize deploy --all --yes --concurrency 4\n  scalewize deploy --changed-since origin/main --yes\n  scalewize deploy --plan plan.json --yes      (exactly the plan saved by `diff --out`)\n  scalewize deploy client-a --dry-run          (the plan; exit 2 when it would change something)\n\nA deploy with nothing to change makes no changes. Without a terminal, --yes is required."
    )]
    Deploy(DeployArgs),
    /// What is live: each service's platform, URL, state and MCP health (initialize + tools/list).
    #[command(
        after_help = "Examples:\n  scalewize status\n  scalewize status client-a --json\n  scalewize status --orphans      (resources scalewize owns that no config describes)\n\nExits 1 when any service is down."
    )]
    Status(StatusArgs),
    /// Remove resources scalewize owns: a client's, a shared server's, or orphans.
    #[command(
        after_help = "Examples:\n  scalewize destroy client-a\n  scalewize destroy --shared knowledge-base-mcp   (refused while a client enables it)\n  scalewize destroy --orphans --yes"
    )]
    Destroy(DestroyArgs),
    /// Recent logs of a service (local: the supervisor's log file).
    #[command(
        after_help = "Examples:\n  scalewize logs client-a custom-crm-mcp\n  scalewize logs client-a knowledge-base-mcp --lines 200\n  scalewize logs client-c servicedesk-mcp --user alice"
    )]
    Logs(LogsArgs),
    /// Manage the encrypted secret store (client-configs/<client>/secrets.env).
    #[command(after_help = SECRET_HELP)]
    Secret(SecretArgs),
    /// Internal: supervise one local service (started by deploy).
    #[command(name = "__supervise", hide = true)]
    Supervise { record: PathBuf },
}

#[derive(Debug, Args)]
pub struct PlatformArg {
    /// Put every service this run touches (shared ones included) on this platform, for this run only.
    #[arg(long, value_name = "PLATFORM", value_parser = ["local", "railway", "fly"])]
    pub platform: Option<String>,
}

impl PlatformArg {
    pub fn get(&self) -> Option<crate::workspace::PlatformName> {
        use crate::workspace::PlatformName;
        self.platform.as_deref().map(|p| match p {
            "railway" => PlatformName::Railway,
            "fly" => PlatformName::Fly,
            _ => PlatformName::Local,
        })
    }
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// Clients to deploy.
    pub clients: Vec<String>,
    /// Every client.
    #[arg(long)]
    pub all: bool,
    /// The clients affected by changes between REF and the working tree.
    #[arg(long, value_name = "REF")]
    pub changed_since: Option<String>,
    /// Apply exactly this saved plan (from `diff --out`); refused if files or live state moved since.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["clients", "all", "changed_since"])]
    pub plan: Option<PathBuf>,
    /// Do not ask for confirmation (required without a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Show the plan and exit: 2 when it would change something, 0 when not.
    #[arg(long)]
    pub dry_run: bool,
    /// How many services to deploy at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
    /// Stop starting new work after the first failure.
    #[arg(long)]
    pub fail_fast: bool,
    /// Seconds to wait for each service to become healthy.
    #[arg(long, default_value_t = 180)]
    pub wait_timeout: u64,
    #[command(flatten)]
    pub platform: PlatformArg,
    /// Machine-readable results on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub selection: Selection,
    /// Machine-readable status.
    #[arg(long)]
    pub json: bool,
    /// List resources scalewize owns that no client config describes.
    #[arg(long)]
    pub orphans: bool,
    #[command(flatten)]
    pub platform: PlatformArg,
}

#[derive(Debug, Args)]
pub struct DestroyArgs {
    /// The client whose resources to remove.
    #[arg(required_unless_present_any = ["shared", "orphans"])]
    pub client: Option<String>,
    /// Remove a shared server (refused while any client enables it).
    #[arg(long, value_name = "SERVER", conflicts_with_all = ["client", "orphans"])]
    pub shared: Option<String>,
    /// Remove owned resources that no client config describes.
    #[arg(long, conflicts_with_all = ["client", "shared"])]
    pub orphans: bool,
    /// Do not ask for confirmation (required without a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    #[command(flatten)]
    pub platform: PlatformArg,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    pub client: String,
    pub server: String,
    /// The user, for a per-user-instance server.
    #[arg(long)]
    pub user: Option<String>,
    /// How many recent lines.
    #[arg(long, default_value_t = 100)]
    pub lines: usize,
    #[command(flatten)]
    pub platform: PlatformArg,
}

const SECRET_HELP: &str = "\
Examples:
  scalewize secret set client-a MONGO_URI < uri.txt            value from stdin (a hidden prompt on a terminal)
  scalewize secret set client-c --user alice SDP_REFRESH_TOKEN < token.txt
  scalewize secret set default OPENAI_API_KEY < key.txt        the shared store: every client inherits it
  scalewize secret list client-a                               names, owners, fingerprints; never values
  scalewize secret generate client-a                           fill in missing generated credentials and tokens
  scalewize secret rotate client-a JWT_SECRET                  replace one generated value
  scalewize secret rm client-a MONGO_URI

Each value is encrypted with age to the \"recipients\" in scalewize.json. Decrypting needs an identity:
SCALEWIZE_AGE_KEY (the AGE-SECRET-KEY-1… text), else SCALEWIZE_AGE_KEY_FILE (a path), else
\"identity_file\" in scalewize.json. SCALEWIZE_SECRET_<CLIENT>__<NAME> (upper snake case; per user:
SCALEWIZE_SECRET_<CLIENT>__<USER>__<NAME>; the shared store: DEFAULT) overrides one value for one run.";

#[derive(Debug, Args)]
pub struct SecretArgs {
    #[command(subcommand)]
    pub command: SecretCommand,
}

#[derive(Debug, Subcommand)]
pub enum SecretCommand {
    /// Store one value, read from stdin (a hidden prompt on a terminal), never from the command line.
    #[command(
        after_help = "Examples:\n  scalewize secret set client-a MONGO_URI < uri.txt\n  printf %s \"$TOKEN\" | scalewize secret set client-a CUSTOM_CRM_MCP_TOKEN\n  scalewize secret set client-c --user alice SDP_REFRESH_TOKEN     (prompts, input hidden)\n  scalewize secret set default KNOWLEDGE_BASE_MCP_TOKEN < token.txt\n\nOne trailing newline is dropped; an empty value is refused. Only the secret's line of\nsecrets.env changes. Needs the identity when the store already holds values (it proves the\nkey can read the store, and prints the new fingerprint)."
    )]
    Set(SecretSetArgs),
    /// Remove one value from a client's (or the shared) store.
    #[command(
        after_help = "Examples:\n  scalewize secret rm client-a MONGO_URI\n  scalewize secret rm client-c --user alice SDP_REFRESH_TOKEN\n\nA client's rm never touches values it inherits from default."
    )]
    Rm(SecretNameArgs),
    /// List names, owners, sources and fingerprints (never values), and what is missing.
    #[command(
        after_help = "Examples:\n  scalewize secret list client-a\n  scalewize secret list client-c --user alice\n  scalewize secret list default\n  scalewize secret list client-a --json\n\nFingerprints (hmac-sha256:…) are keyed by the workspace key in the shared store, so listing\nneeds the identity."
    )]
    List(SecretListArgs),
    /// Fill in every missing generated secret: LibreChat's credentials and the services' access tokens.
    #[command(
        after_help = "Examples:\n  scalewize secret generate client-a\n  scalewize secret generate default     (the fingerprint key and shared services' tokens)\n\nExisting values never change; `scalewize secret rotate` replaces one."
    )]
    Generate(SecretClientArgs),
    /// Replace one generated secret with a fresh random value.
    #[command(
        after_help = "Examples:\n  scalewize secret rotate client-a JWT_SECRET\n  scalewize secret rotate client-a CUSTOM_CRM_MCP_TOKEN\n  scalewize secret rotate client-c --user alice SERVICEDESK_MCP_TOKEN\n  scalewize secret rotate default KNOWLEDGE_BASE_MCP_TOKEN\n\nOnly generated secrets rotate here; set others with `scalewize secret set`."
    )]
    Rotate(SecretNameArgs),
    /// Re-encrypt every value to the current recipients (after adding or removing one).
    #[command(
        after_help = "Examples:\n  scalewize secret reencrypt            every client and the shared store\n  scalewize secret reencrypt client-a\n\nEvery line of the stores touched changes (age ciphertexts are randomized); values do not."
    )]
    Reencrypt(SecretReencryptArgs),
    /// Create an age key pair: the identity goes to a new file (mode 0600), the public key to stdout.
    #[command(
        after_help = "Examples:\n  scalewize secret keygen --out ~/.config/scalewize/age-identity.txt\n\nThen add the printed public key to \"recipients\" in scalewize.json, export\nSCALEWIZE_AGE_KEY_FILE=<that file> (or SCALEWIZE_AGE_KEY=<its key line> in CI), and run\n`scalewize secret reencrypt` from a machine that can already decrypt."
    )]
    Keygen(KeygenArgs),
}

#[derive(Debug, Args)]
pub struct SecretClientArgs {
    /// The client id, or `default` for the shared store.
    pub client: String,
}

#[derive(Debug, Args)]
pub struct SecretNameArgs {
    /// The client id, or `default` for the shared store.
    pub client: String,
    /// One end user's namespace (per-user secrets).
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// The secret's name, e.g. MONGO_URI.
    pub name: String,
}

#[derive(Debug, Args)]
pub struct SecretSetArgs {
    #[command(flatten)]
    pub target: SecretNameArgs,
    /// Anything after NAME: refused, so a value typed on the command line is never echoed.
    #[arg(hide = true, num_args = 0.., trailing_var_arg = true, allow_hyphen_values = true)]
    pub rest: Vec<String>,
}

#[derive(Debug, Args)]
pub struct SecretListArgs {
    /// The client id, or `default` for the shared store.
    pub client: String,
    /// Only this user's namespace.
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// Machine-readable listing on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SecretReencryptArgs {
    /// Clients to re-encrypt (default: every client and the shared store).
    pub clients: Vec<String>,
}

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Where to write the identity (a new file; never overwritten).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
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
    /// Save the plan (with what was observed) for `deploy --plan`.
    #[arg(long, value_name = "FILE", conflicts_with = "local")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub platform: PlatformArg,
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
