//! LibreChat on `local`: per client, a compose project under `.scalewize/<client>/` — the
//! resolved `librechat.yaml` (plus `mcpSettings.allowedAddresses` for the MCP servers as the
//! container reaches them, which LibreChat blocks otherwise), the resolved env (0600) and
//! `compose.yaml`. When Docker answers, deploy starts it and waits for `/health`; without Docker
//! LibreChat is `config-only`: never running, never healthy, no URL.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};

use super::compose::{self, HOST_ALIAS};
use super::docker::Project;
use crate::error::{Error, Result};
use crate::fs::write_atomic;
use crate::model::LIBRECHAT_CONFIG_PATH;
use crate::platform::{Resolved, ResolvedSpec};
use crate::render::{ENV_FILE, LIBRECHAT_FILE, dotenv};

pub const COMPOSE_FILE: &str = "compose.yaml";
/// Client LibreChat ports are chosen in this range, from a hash of the client id.
const PORT_BASE: u16 = 3100;
const PORT_SPAN: u16 = 800;

/// The compose project name of `client`'s LibreChat.
pub fn project_name(prefix: &str, client: &str) -> String {
    format!("{prefix}-{client}")
}

/// The port a client's LibreChat prefers: stable across machines and runs (FNV-1a of its id).
pub fn preferred_port(client: &str) -> u16 {
    let mut h: u32 = 0x811c_9dc5;
    for b in client.bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    PORT_BASE + (h % u32::from(PORT_SPAN)) as u16
}

/// The preferred port, or the next free one in the range (a port already recorded is kept).
pub fn choose_port(client: &str, recorded: Option<u16>) -> Result<u16> {
    if let Some(p) = recorded.filter(|p| *p != 0) {
        return Ok(p);
    }
    let first = preferred_port(client);
    (0..PORT_SPAN)
        .map(|i| PORT_BASE + (first - PORT_BASE + i) % PORT_SPAN)
        .find(|p| TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .ok_or_else(|| Error::new("no free port for LibreChat in 3100-3899"))
}

/// `http://127.0.0.1:…` and `http://localhost:…` become `http://host.docker.internal:…`: what
/// the container connects to.
fn for_container(url: &str) -> String {
    for lo in ["http://127.0.0.1:", "http://localhost:"] {
        if let Some(rest) = url.strip_prefix(lo) {
            return format!("http://{HOST_ALIAS}:{rest}");
        }
    }
    url.to_string()
}

/// LibreChat's database: a MongoDB on this machine (unreachable as such from the container)
/// becomes the same database in the project's own MongoDB; any other URI is kept.
fn mongo_uri(configured: Option<&str>) -> String {
    let db = |rest: &str| {
        rest.split_once('/')
            .map(|(_, d)| d.split('?').next().unwrap_or_default().to_string())
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| "LibreChat".to_string())
    };
    match configured {
        Some(uri) if !uri.is_empty() => {
            let rest = uri.strip_prefix("mongodb://").unwrap_or_default();
            let host = rest.split(['/', '?']).next().unwrap_or_default();
            let host = host.rsplit('@').next().unwrap_or_default();
            if host.starts_with("127.0.0.1") || host.starts_with("localhost") {
                compose::own_mongo_uri(&db(rest))
            } else {
                uri.to_string()
            }
        }
        _ => compose::own_mongo_uri("LibreChat"),
    }
}

/// What deploy wrote for a client.
pub struct Written {
    pub files: Vec<PathBuf>,
    pub url: String,
    pub project: Project,
}

/// Write the project's three files into `dir`.
pub fn write_project(
    dir: &Path,
    spec: &ResolvedSpec,
    project_name: &str,
    port: u16,
) -> Result<Written> {
    let url = match spec.env.get("DOMAIN_CLIENT") {
        Some(Resolved::Plain(d)) if !d.is_empty() => d.clone(),
        _ => format!("http://localhost:{port}"),
    };
    let rendered = spec
        .spec
        .files
        .get(LIBRECHAT_CONFIG_PATH)
        .ok_or_else(|| Error::new("no rendered librechat.yaml"))?;
    let mut env_values: BTreeMap<&str, String> = BTreeMap::new();
    for (name, value) in &spec.env {
        let v = match value {
            Resolved::Plain(s) => s.clone(),
            Resolved::Url(s) => for_container(s),
            Resolved::OwnUrl => url.clone(),
            Resolved::Secret { value, .. } => value.expose().to_string(),
        };
        env_values.insert(name, v);
    }
    let mongo_uri = mongo_uri(env_values.get("MONGO_URI").map(String::as_str));
    env_values.insert("MONGO_URI", mongo_uri);
    let yaml_text = with_allowed_addresses(rendered, &container_addresses(&env_values))?;
    let env = env_file(&env_values)?;
    let image = spec.spec.image.as_deref().ok_or_else(|| {
        Error::new(format!("{}: no LibreChat image", spec.spec.key))
            .hint("pin it in mcp-servers.json: \"librechat\": {\"image\": \"ghcr.io/danny-avila/librechat:v0.8.1\"}")
    })?;
    let file = compose::project(&compose::Inputs {
        project: project_name,
        librechat_image: image,
        port,
        env_file: ENV_FILE,
        config_file: LIBRECHAT_FILE,
    })?;
    let yaml_path = dir.join(LIBRECHAT_FILE);
    let env_path = dir.join(ENV_FILE);
    let compose_path = dir.join(COMPOSE_FILE);
    write_atomic(&yaml_path, yaml_text.as_bytes(), Some(0o600))?;
    write_atomic(&env_path, env.as_bytes(), Some(0o600))?;
    write_atomic(
        &compose_path,
        compose::to_yaml(&file)?.as_bytes(),
        Some(0o600),
    )?;
    Ok(Written {
        files: vec![yaml_path, env_path, compose_path.clone()],
        url,
        project: Project::new(project_name, &compose_path),
    })
}

/// The env file, each value quoted so compose's `env_file` and dotenv read it back identically;
/// a value that cannot be is an error naming the variable.
pub fn env_file(values: &BTreeMap<&str, String>) -> Result<String> {
    let mut env = String::from(
        "# Resolved by `scalewize deploy` for the local platform: contains secrets. Do not commit.\n",
    );
    for (name, v) in values {
        let quoted = dotenv::quote(v).map_err(|why| {
            Error::new(format!(
                "the value of `{name}` cannot be written to an env file: it {why}"
            ))
            .hint(format!("change `{name}`'s value"))
        })?;
        env.push_str(&format!("{name}={quoted}\n"));
    }
    Ok(env)
}

/// `host:port` of each MCP URL the container connects to on this machine.
fn container_addresses(env: &BTreeMap<&str, String>) -> Vec<String> {
    let prefix = format!("http://{HOST_ALIAS}:");
    let mut out: Vec<String> = env
        .values()
        .filter_map(|u| u.strip_prefix(&prefix))
        .filter_map(|rest| rest.split('/').next())
        .map(|port| format!("{HOST_ALIAS}:{port}"))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The rendered file, plus `mcpSettings.allowedAddresses` for `addresses`.
pub fn with_allowed_addresses(rendered: &str, addresses: &[String]) -> Result<String> {
    crate::render::allowed_addresses::with_allowed_addresses(
        rendered,
        addresses,
        "Added by scalewize deploy (local): LibreChat blocks loopback MCP servers unless listed.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What python-dotenv reads from `path`, without interpolation. It stands in for compose's
    /// `env_file` parser (compose-go's dotenv) for quoting and comments only, since neither the
    /// compose plugin nor a Go toolchain is on this machine. Its interpolation differs from
    /// compose's (it expands `${X}` even in single quotes, compose does not), so interpolation
    /// is checked by rule below: every value with a `$` is single-quoted, where compose expands
    /// nothing.
    fn python_dotenv(path: &Path) -> BTreeMap<String, String> {
        let out = std::process::Command::new("python3")
            .args([
                "-c",
                "import sys, json\nfrom dotenv import dotenv_values\nprint(json.dumps(dotenv_values(sys.argv[1], interpolate=False)))",
            ])
            .arg(path)
            .output()
            .expect("python3 with python-dotenv");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    #[test]
    fn the_env_file_reads_back_identically_in_dotenvy_and_a_compose_style_parser() {
        let hostile = [
            "plain",
            "",
            "with spaces  inside ",
            "#starts-with-hash",
            "value # not a comment",
            "$HOME and ${PATH} and $$",
            "\"double\" quotes",
            "O'Brien",
            "'single' and \"double\"",
            "back\\slash and \\n",
            "tab\there",
            "é🙂 unicode",
            "=equals=",
            "`backtick`",
        ];
        let names: Vec<String> = (0..hostile.len()).map(|i| format!("V{i}")).collect();
        let values: BTreeMap<&str, String> = names
            .iter()
            .zip(hostile)
            .filter(|(_, v)| dotenv::quote(v).is_ok())
            .map(|(n, v)| (n.as_str(), v.to_string()))
            .collect();
        // Most hostile values are representable; the rest must be refused by name (below).
        assert!(values.len() >= hostile.len() - 2, "{values:?}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("environment.env");
        let text = env_file(&values).unwrap();
        std::fs::write(&path, &text).unwrap();
        for line in text.lines().filter(|l| l.contains('$')) {
            let (_, v) = line.split_once('=').unwrap();
            assert!(v.starts_with('\'') && v.ends_with('\''), "{line}");
        }
        let want: BTreeMap<String, String> = values
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        let dotenvy: BTreeMap<String, String> = dotenvy::from_path_iter(&path)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(dotenvy, want);
        assert_eq!(python_dotenv(&path), want);
    }

    #[test]
    fn a_value_no_env_file_can_carry_is_refused_naming_its_variable() {
        for bad in ["two\nlines", "it's $HOME", "ends with \\"] {
            let values = BTreeMap::from([("OK", "fine".to_string()), ("BAD_ONE", bad.to_string())]);
            let e = env_file(&values).unwrap_err();
            assert!(e.message.contains("`BAD_ONE`"), "{}", e.message);
        }
    }

    #[test]
    fn a_mongodb_on_this_machine_becomes_the_projects_own_with_the_same_database() {
        assert_eq!(
            mongo_uri(Some("mongodb://127.0.0.1:27017/client-a")),
            "mongodb://mongodb:27017/client-a"
        );
        assert_eq!(mongo_uri(None), "mongodb://mongodb:27017/LibreChat");
        let atlas = "mongodb+srv://u:p@cluster0.example.net/lc";
        assert_eq!(mongo_uri(Some(atlas)), atlas);
    }

    #[test]
    fn each_client_prefers_its_own_stable_port() {
        assert_eq!(preferred_port("client-a"), preferred_port("client-a"));
        assert_ne!(preferred_port("client-a"), preferred_port("client-b"));
        assert!((PORT_BASE..PORT_BASE + PORT_SPAN).contains(&preferred_port("x")));
        assert_eq!(choose_port("client-a", Some(4000)).unwrap(), 4000);
    }

    #[test]
    fn loopback_urls_become_the_host_alias_and_are_allowed() {
        assert_eq!(
            for_container("http://127.0.0.1:4242/mcp"),
            "http://host.docker.internal:4242/mcp"
        );
        assert_eq!(
            for_container("https://x.example/mcp"),
            "https://x.example/mcp"
        );
        let env = BTreeMap::from([
            ("A_URL", "http://host.docker.internal:4242/mcp".to_string()),
            ("B_URL", "https://x.example/mcp".to_string()),
        ]);
        assert_eq!(container_addresses(&env), vec!["host.docker.internal:4242"]);
    }
}
