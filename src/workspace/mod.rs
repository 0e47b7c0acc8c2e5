//! Load and validate the workspace: files → typed model. Nothing here writes.

mod checks;
pub mod contain;
pub mod files;
pub mod gitignore;
pub mod json;
mod merge;
pub mod model;
pub mod naming;
pub mod prices;
mod resolve;
mod resolve_server;
pub mod schema;

pub use checks::{check_url, references};
pub use resolve::{ACCESS_TOKEN_HEADER, LIBRECHAT_SECRETS, USER_ID_HEADER};

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use crate::error::{Diagnostic, Diagnostics, Error, Location, Result};
use files::{ClientFile, WorkspaceFile};
pub use model::*;

pub const CLIENT_CONFIGS: &str = "client-configs";
pub const DEFAULT_CLIENT: &str = "default";
pub const CLIENT_FILE: &str = "mcp-servers.json";
pub const MANIFEST_FILE: &str = "scalewize.json";
pub const WORKSPACE_FILE: &str = "scalewize.json";
/// Price overrides beside `scalewize.json` (or its `prices` key).
pub const PRICES_FILE: &str = "prices.json";
pub const SERVERS_DIR: &str = "custom-mcp-servers";
pub const STATE_DIR: &str = ".scalewize";

/// A workspace on disk: the root, its settings, and caches of what was read.
pub struct Workspace {
    pub root: PathBuf,
    pub settings: Settings,
    default_file: OnceLock<Result<Option<ClientFile>, Diagnostic>>,
    manifests: Mutex<HashMap<PathBuf, Result<Arc<ServerManifest>, Diagnostic>>>,
}

impl Workspace {
    /// The nearest ancestor of `start` holding `client-configs/`.
    pub fn discover(start: &Path) -> Result<Workspace> {
        let start = start
            .canonicalize()
            .map_err(|e| Error::io("open", start, e))?;
        let root = start
            .ancestors()
            .find(|d| d.join(CLIENT_CONFIGS).is_dir())
            .ok_or_else(|| {
                Error::new(format!(
                    "no scalewize workspace here: neither {} nor any parent holds `{CLIENT_CONFIGS}/`",
                    start.display()
                ))
                .hint("run scalewize inside a workspace, or pass -C <dir>; `mkdir client-configs` starts a new one")
            })?;
        Workspace::open(root)
    }

    pub fn open(root: &Path) -> Result<Workspace> {
        contain::check_top_level(root)?;
        let settings = load_settings(root).map_err(Error::from)?;
        Ok(Workspace {
            root: root.to_path_buf(),
            settings,
            default_file: OnceLock::new(),
            manifests: Mutex::new(HashMap::new()),
        })
    }

    pub fn client_dir(&self, id: &str) -> PathBuf {
        self.root.join(CLIENT_CONFIGS).join(id)
    }

    pub fn client_file(&self, id: &str) -> PathBuf {
        self.client_dir(id).join(CLIENT_FILE)
    }

    pub fn templates_dir(&self) -> PathBuf {
        self.root.join("templates")
    }

    pub fn state_dir(&self) -> PathBuf {
        self.root.join(STATE_DIR)
    }

    /// Make sure `.gitignore` covers the state folder (before anything is written there);
    /// returns whether `.gitignore` changed.
    pub fn ensure_state_ignored(&self) -> Result<bool> {
        gitignore::ensure_ignored(&self.root)
    }

    /// Every client folder (sorted), `default` excluded.
    pub fn client_ids(&self) -> Result<Vec<String>> {
        let dir = self.root.join(CLIENT_CONFIGS);
        let mut ids = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(|e| Error::io("read", &dir, e))? {
            let entry = entry.map_err(|e| Error::io("read", &dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.path().is_dir() && name != DEFAULT_CLIENT && !name.starts_with('.') {
                ids.push(name);
            }
        }
        ids.sort();
        Ok(ids)
    }

    /// `client-configs/default/mcp-servers.json`, parsed once.
    pub fn default_file(&self) -> Result<Option<&ClientFile>, Diagnostic> {
        self.default_file
            .get_or_init(|| {
                let path = self.client_file(DEFAULT_CLIENT);
                if path.is_file() {
                    json::read::<ClientFile>(&path).map(Some)
                } else {
                    Ok(None)
                }
            })
            .as_ref()
            .map(Option::as_ref)
            .map_err(Clone::clone)
    }

    /// A server manifest, parsed once per path.
    pub fn manifest(&self, path: &Path) -> Result<Arc<ServerManifest>, Diagnostic> {
        let mut cache = self.manifests.lock().expect("manifest cache");
        cache
            .entry(path.to_path_buf())
            .or_insert_with(|| json::read::<ServerManifest>(path).map(Arc::new))
            .clone()
    }

    /// The folder of a deployed server.
    pub fn server_folder(&self, owner: &Owner, slug: &str) -> PathBuf {
        match owner {
            Owner::Shared => self.root.join(SERVERS_DIR).join("shared").join(slug),
            Owner::Client(c) => self
                .root
                .join(SERVERS_DIR)
                .join("clients")
                .join(c)
                .join(slug),
        }
    }

    /// Load one client: merge `default` under it, resolve every server, check every rule.
    pub fn load_client(&self, id: &str) -> Result<Client, Diagnostics> {
        resolve::resolve_client(self, id)
    }

    /// Load a client from the text of its `mcp-servers.json` (not yet on disk).
    pub fn load_client_from_text(&self, id: &str, text: &str) -> Result<Client, Diagnostics> {
        let file = json::parse::<ClientFile>(text, &self.client_file(id))
            .map_err(|d| Diagnostics(vec![d]))?;
        resolve::resolve_parsed(self, id, file)
    }

    /// Resolve the client names a command was given (none = all, when `all_by_default`).
    pub fn select(&self, names: &[String], all: bool, all_by_default: bool) -> Result<Vec<String>> {
        if all || (names.is_empty() && all_by_default) {
            return self.client_ids();
        }
        let known = self.client_ids()?;
        for n in names {
            if !known.contains(n) {
                let mut err = Error::new(format!(
                    "unknown client `{n}`: {} does not exist",
                    self.client_file(n)
                        .strip_prefix(&self.root)
                        .unwrap_or(&self.client_file(n))
                        .display()
                ));
                err = match crate::error::did_you_mean(n, known.iter().map(String::as_str)) {
                    Some(best) => err.hint(format!(
                        "did you mean `{best}`? (scalewize new {n} creates it)"
                    )),
                    None => err.hint(format!("scalewize new {n} creates it")),
                };
                return Err(err);
            }
        }
        Ok(names.to_vec())
    }

    pub fn relative<'a>(&self, path: &'a Path) -> &'a Path {
        path.strip_prefix(&self.root).unwrap_or(path)
    }
}

fn load_settings(root: &Path) -> Result<Settings, Diagnostic> {
    let path = root.join(WORKSPACE_FILE);
    let file: WorkspaceFile = if path.is_file() {
        json::read(&path)?
    } else {
        WorkspaceFile::default()
    };
    let prefix = file
        .prefix
        .clone()
        .unwrap_or_else(|| DEFAULT_PREFIX.to_string());
    let prefix_ok = !prefix.is_empty()
        && prefix.len() <= 20
        && prefix.starts_with(|c: char| c.is_ascii_lowercase())
        && prefix
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !prefix.ends_with('-');
    if !prefix_ok {
        return Err(Diagnostic::error(
            Location::file(&path).at("prefix"),
            format!("invalid prefix {prefix:?}"),
        )
        .hint(
            "use 1 to 20 lowercase letters, digits and `-`, starting with a letter (e.g. \"acme\")",
        ));
    }
    let prices = load_prices(root, &path, file.prices.clone())?;
    Ok(Settings {
        prices,
        prefix,
        recipients: file.recipients.unwrap_or_default(),
        identity_file: file.identity_file.map(PathBuf::from),
        railway: file.railway.unwrap_or_default(),
        fly: file.fly.unwrap_or_default(),
        rollout: file.rollout.unwrap_or_default(),
    })
}

/// The workspace's price overrides, from `scalewize.json`'s `prices` or `prices.json` (not both).
fn load_prices(
    root: &Path,
    settings_path: &Path,
    inline: Option<prices::PriceFile>,
) -> Result<Option<PriceOverride>, Diagnostic> {
    let path = root.join(PRICES_FILE);
    match (inline, path.is_file()) {
        (Some(_), true) => Err(Diagnostic::error(
            Location::file(settings_path).at("prices"),
            format!("prices are overridden both here and in {PRICES_FILE}"),
        )
        .hint(format!(
            "keep one: move the `prices` object into {PRICES_FILE}, or delete {PRICES_FILE}"
        ))),
        (Some(p), false) => Ok(Some(PriceOverride {
            file: settings_path.to_path_buf(),
            prices: p,
        })),
        (None, true) => Ok(Some(PriceOverride {
            prices: json::read(&path)?,
            file: path,
        })),
        (None, false) => Ok(None),
    }
}
