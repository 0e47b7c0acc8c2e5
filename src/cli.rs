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
  scalewize cost --all --platform fly                     monthly cost per service, per client, in total
  scalewize export --all --format kubernetes              manifests for a cluster (or --format compose)

Exit codes: 0 done / nothing to change, 1 error, 2 changes pending.
Writing commands (new, render, deploy, destroy, secret set/rm/rotate/generate/reencrypt) hold the
workspace lock (.scalewize/locks/workspace.lock); a second run waits --lock-timeout seconds
(default 60), naming the holder, then exits 1. Deploy and destroy on Fly and Railway also take a
lock kept on the platform itself (`scalewize lock status|release`), so two machines take turns.
Docs: README.md; the config format's JSON Schema is in schemas/.";

/// `0.1.0 (commit 1a2b3c4d5e6f, 2026-12-03)`: the commit and its date come from build.rs.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("SCALEWIZE_COMMIT"),
    ", ",
    env!("SCALEWIZE_COMMIT_DATE"),
    ")"
);

#[derive(Debug, Parser)]
#[command(
    name = "scalewize",
    version = VERSION,
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
    /// When to colour output: auto (on a terminal, unless NO_COLOR is set), always, never.
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Same as --color never.
    #[arg(long, global = true)]
    pub no_color: bool,
    /// Seconds a writing command waits for another run holding the workspace lock (then exits 1).
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = crate::lock::DEFAULT_TIMEOUT_SECS)]
    pub lock_timeout: u64,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

impl Cli {
    /// The colour decision: `Some(on)` when forced, `None` to decide by terminal and NO_COLOR.
    pub fn color(&self) -> Option<bool> {
        match (self.no_color, self.color) {
            (true, _) | (_, ColorChoice::Never) => Some(false),
            (_, ColorChoice::Always) => Some(true),
            (_, ColorChoice::Auto) => None,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scaffold a new client (client-configs/<client>/, rendered), or a new MCP server (--server).
    #[command(
        after_help = "Examples:\n  scalewize new acme --name \"Acme Corporation\"\n  scalewize new acme          (the display name defaults to the id)\n  scalewize new --server billing-mcp --client acme   (a server of acme's, deployed with it)\n  scalewize new --server search-mcp                  (a shared server; clients enable it by name)"
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
    /// Estimate the monthly cost per service, per client and in total, from dated prices.
    #[command(after_help = COST_HELP)]
    Cost(CostArgs),
    /// Plan, confirm, apply, wait until healthy, print URLs.
    #[command(
        after_help = "Examples:\n  scalewize deploy client-a                    (asks before changing anything)\n  scalewize deploy client-a --yes              (CI: no prompt)\n  scalewize deploy --all --yes --concurrency 4\n  scalewize deploy --changed-since origin/main --yes\n  scalewize deploy --plan plan.json --yes      (exactly the plan saved by `diff --out`)\n  scalewize deploy client-a --dry-run          (the plan; exit 2 when it would change something)\n  scalewize deploy --all --waves 1,10%,100% --yes   (canary first; each wave gated before the next)\n\nA deploy with nothing to change makes no changes. Without a terminal, --yes is required."
    )]
    Deploy(DeployArgs),
    /// What is live: each service's platform, URL, state and MCP health (initialize + tools/list).
    #[command(
        after_help = "Examples:\n  scalewize status\n  scalewize status client-a --json\n  scalewize status --orphans      (resources scalewize owns that no config describes)\n\nExits 1 when any service is down."
    )]
    Status(StatusArgs),
    /// Remove resources scalewize owns: a client's, a shared server's, or orphans.
    #[command(
        after_help = "Examples:\n  scalewize destroy client-a\n  scalewize destroy --shared knowledge-base-mcp   (refused while a deployed client uses it)\n  scalewize destroy --all --platform local --dry-run\n  scalewize destroy --orphans --yes\n  scalewize destroy client-a --dry-run --json    (the plan as JSON; exit 2 when something would go)"
    )]
    Destroy(DestroyArgs),
    /// Recent logs of a service (local: the supervisor's log file).
    #[command(
        after_help = "Examples:\n  scalewize logs client-a custom-crm-mcp\n  scalewize logs client-a knowledge-base-mcp --lines 200\n  scalewize logs client-c servicedesk-mcp --user alice\n  scalewize logs client-a custom-crm-mcp --follow     (until Ctrl-C)"
    )]
    Logs(LogsArgs),
    /// Read-only checks of what deploying needs: tokens and their kind, workspace or org, rate-limit budget, region, Docker, the secret identity.
    #[command(
        after_help = "Examples:\n  scalewize doctor                       (the platforms the workspace uses)\n  scalewize doctor --platform railway\n  scalewize doctor --json                (CI: {version, command, ok, checks: [{area, name, verdict, detail, fix}]})\n\nEach line is ok, warn or problem, with the fix. Exits 1 when anything the selected platforms need fails."
    )]
    Doctor(DoctorArgs),
    /// Write the clients' services as files another runtime applies: Docker Compose or Kubernetes.
    #[command(after_help = EXPORT_HELP)]
    Export(ExportArgs),
    /// Show or free the locks: the workspace file lock and those kept on Fly and Railway.
    #[command(
        after_help = "Examples:\n  scalewize lock status\n  scalewize lock status --platform fly --json\n  scalewize lock release --platform fly --yes    (only when its holder is gone: killed, CI job cancelled)\n\nSCALEWIZE_LOCK_MESSAGE (e.g. a CI job URL) is recorded with a platform lock deploy or destroy takes."
    )]
    Lock(LockArgs),
    /// Manage the encrypted secret store (client-configs/<client>/secrets.env).
    #[command(after_help = SECRET_HELP)]
    Secret(SecretArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(
        after_help = "Examples:\n  scalewize completions bash > ~/.local/share/bash-completion/completions/scalewize\n  scalewize completions zsh > \"${fpath[1]}/_scalewize\"\n  scalewize completions fish > ~/.config/fish/completions/scalewize.fish"
    )]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff; the repository ships it as man/scalewize.1).
    #[command(
        after_help = "Examples:\n  scalewize man | man -l -\n  scalewize man > /usr/local/share/man/man1/scalewize.1"
    )]
    Man,
    /// Internal: supervise one local service (started by deploy).
    #[command(name = "__supervise", hide = true)]
    Supervise { record: PathBuf },
}

#[derive(Debug, Args)]
pub struct PlatformArg {
    /// Put every service this run touches (shared ones included) on this platform, for this run only.
    #[arg(long, value_name = "PLATFORM", value_enum)]
    pub platform: Option<crate::workspace::PlatformName>,
}

impl PlatformArg {
    pub fn get(&self) -> Option<crate::workspace::PlatformName> {
        self.platform
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
    /// Roll out in waves of cumulative sizes, each gated before the next (e.g. 1,10%,100%); the
    /// `rollout.canary` clients go first. Default: `rollout.waves` in scalewize.json, if any.
    #[arg(long, value_name = "SIZES")]
    pub waves: Option<String>,
    /// Clients per wave that may fail their gate before the rollout stops (default:
    /// `rollout.max_failures`, else 0).
    #[arg(long, value_name = "N")]
    pub max_failures: Option<u32>,
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
    /// Accept the tools served now: rewrite each selected client's tools.lock.json (after review).
    #[arg(long)]
    pub accept_tools: bool,
}

#[derive(Debug, Args)]
pub struct DestroyArgs {
    /// The client whose resources to remove (and shared servers no other deployed client uses).
    #[arg(required_unless_present_any = ["shared", "orphans", "all"])]
    pub client: Option<String>,
    /// Remove a shared server (refused while a deployed client uses it).
    #[arg(long, value_name = "SERVER", conflicts_with_all = ["client", "orphans", "all"])]
    pub shared: Option<String>,
    /// Remove owned resources that no client config describes.
    #[arg(long, conflicts_with_all = ["client", "shared", "all"])]
    pub orphans: bool,
    /// Remove everything scalewize owns (on --platform P only, when given).
    #[arg(long, conflicts_with_all = ["client", "shared", "orphans"])]
    pub all: bool,
    /// Show the plan and change nothing (exit 2 when something would be removed).
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation (required without a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    #[command(flatten)]
    pub platform: PlatformArg,
    /// Print the plan and the result as JSON (schemas/output/destroy.schema.json).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub platform: PlatformArg,
    /// Machine-readable results on stdout.
    #[arg(long)]
    pub json: bool,
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
    /// Keep printing new lines as they arrive (checked every second) until interrupted.
    #[arg(long, short = 'f')]
    pub follow: bool,
    #[command(flatten)]
    pub platform: PlatformArg,
}

const EXPORT_HELP: &str = "\
Examples:
  scalewize export --all --format compose                  export/compose/<client>/compose.yaml, then: docker compose up -d
  scalewize export client-a --format kubernetes            export/kubernetes/, then: kubectl apply -k export/kubernetes
  scalewize export --all --format kubernetes --check       CI: exit 2 when the files on disk differ, write nothing
  scalewize export client-a --format compose --shared-url knowledge-base-mcp=https://kb.example.com/mcp
  scalewize export --all --format kubernetes --with-secrets    also secrets.yaml (0600; never commit it)

The same services `deploy` would run, from the same config. Secret values are never written into the
manifests: they are referenced (Kubernetes Secrets, Compose env files) and filled only with --with-secrets.";

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

/// What `export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// A Docker Compose project per client.
    Compose,
    /// Kubernetes manifests: a namespace per client and one for shared servers (a kustomization).
    Kubernetes,
}

impl ExportFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            ExportFormat::Compose => "compose",
            ExportFormat::Kubernetes => "kubernetes",
        }
    }
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Clients to export.
    #[arg(required_unless_present = "all")]
    pub clients: Vec<String>,
    /// Every client.
    #[arg(long, conflicts_with = "clients")]
    pub all: bool,
    /// What to write: a Compose project per client, or Kubernetes manifests.
    #[arg(long, value_enum)]
    pub format: ExportFormat,
    /// Where to write (default: export/<format>/ in the workspace).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Write nothing; exit 2 when a file on disk differs from the export, 0 when all are current.
    #[arg(long)]
    pub check: bool,
    /// Also write the secret values, to separate files of mode 0600 (never commit them).
    #[arg(long)]
    pub with_secrets: bool,
    /// A shared server that runs elsewhere: clients use this URL instead of a copy (repeatable).
    #[arg(long, value_name = "NAME=URL", value_parser = parse_shared_url)]
    pub shared_url: Vec<(String, String)>,
}

fn parse_shared_url(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((name, url)) if !name.is_empty() && !url.is_empty() => {
            Ok((name.to_string(), url.to_string()))
        }
        _ => Err("expected NAME=URL, e.g. knowledge-base-mcp=https://kb.example.com/mcp".into()),
    }
}

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
    #[arg(required_unless_present = "server")]
    pub client: Option<String>,
    /// Display name (default: the id).
    #[arg(long, conflicts_with = "server")]
    pub name: Option<String>,
    /// Scaffold an MCP server instead, from custom-mcp-servers/shared/base-mcp-template: its folder name.
    #[arg(long, value_name = "SLUG", conflicts_with = "client")]
    pub server: Option<String>,
    /// With --server: the client it belongs to (enabled in its mcp-servers.json); without, a shared server.
    #[arg(long = "client", value_name = "CLIENT", requires = "server")]
    pub for_client: Option<String>,
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

const COST_HELP: &str = "\
Examples:
  scalewize cost                        every client, each service on its configured platform
  scalewize cost client-c               one client, with its share of the shared servers
  scalewize cost --all --platform fly   what everything would cost on Fly
  scalewize cost --all --json           the stable JSON shape documented in README.md

Prices ship with scalewize (dated and sourced); override figures in scalewize.json's `prices`
or in prices.json beside it. Expected usage comes from a server manifest's `usage`.";

#[derive(Debug, Args)]
pub struct CostArgs {
    #[command(flatten)]
    pub selection: Selection,
    #[command(flatten)]
    pub platform: PlatformArg,
    /// Machine-readable estimate on stdout.
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

#[derive(Debug, Args)]
pub struct LockArgs {
    #[command(subcommand)]
    pub command: LockCommand,
}

#[derive(Debug, Subcommand)]
pub enum LockCommand {
    /// Who holds each lock: holder, pid, command, since and age.
    Status(LockStatusArgs),
    /// Free a platform lock whose holder is gone (asks first; --yes without a terminal).
    Release(LockReleaseArgs),
}

#[derive(Debug, Args)]
pub struct LockStatusArgs {
    /// Only this platform (default: every platform this machine can reach).
    #[command(flatten)]
    pub platform: PlatformArg,
    /// Machine-readable: the envelope with {"locks": [{platform, state, resource?, holder?, pid?, run?, since?, age_secs?, message?, stale?}]}.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct LockReleaseArgs {
    #[command(flatten)]
    pub platform: PlatformArg,
    /// Do not ask for confirmation (required without a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
}
