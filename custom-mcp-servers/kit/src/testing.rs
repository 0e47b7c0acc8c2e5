//! Helpers for the servers' integration tests (feature `testing`, a dev-dependency only):
//! start a server binary on a free loopback port with a controlled environment, capture its
//! stderr, and talk to it with rmcp's own streamable-HTTP client.

use std::{
    collections::HashMap,
    io::{BufRead, BufReader},
    process::{Child, Command, ExitStatus, Stdio},
    sync::{Arc, Mutex, mpsc},
    thread::JoinHandle,
    time::Duration,
};

use axum::http::{HeaderName, HeaderValue};
use rmcp::{
    RoleClient, ServiceExt,
    model::{CallToolRequestParams, ClientConfig},
    service::{ClientInitializeError, RunningService},
    transport::{
        StreamableHttpClientTransport, streamable_http_client::StreamableHttpClientTransportConfig,
    },
};
use serde_json::Value;

use crate::{ACCESS_TOKEN_HEADER, http::LISTENING_PREFIX};

/// The access token [`base_command`] gives the server.
pub const TEST_TOKEN: &str = "test-access-token-7f3a9c2e5b1d4680";

/// Upper bound for a server to print its listening line (a guard against hangs, not a timing
/// assertion).
const START_TIMEOUT: Duration = Duration::from_secs(30);
const STOP_TIMEOUT: Duration = Duration::from_secs(20);

/// An rmcp client session.
pub type McpClient = RunningService<RoleClient, ClientConfig>;

/// `binary` with an empty environment except `HOST=127.0.0.1`, `PORT=0` and
/// `MCP_ACCESS_TOKEN=`[`TEST_TOKEN`], so no developer env var leaks into a test.
pub fn base_command(binary: &str) -> Command {
    let mut command = Command::new(binary);
    command
        .env_clear()
        .env("HOST", "127.0.0.1")
        .env("PORT", "0")
        .env("MCP_ACCESS_TOKEN", TEST_TOKEN)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

/// A running server process. Dropping it kills the process.
pub struct ServerProcess {
    child: Option<Child>,
    address: String,
    stderr: Arc<Mutex<String>>,
    reader: Option<JoinHandle<()>>,
    exit_status: Option<ExitStatus>,
}

impl ServerProcess {
    /// Starts `binary` from [`base_command`] plus `env`, and waits for its listening line.
    pub fn start(binary: &str, env: &[(&str, &str)]) -> Self {
        let mut command = base_command(binary);
        command.envs(env.iter().copied());
        Self::spawn(command)
    }

    /// Starts `command` (stderr must be piped) and waits for its listening line.
    pub fn spawn(mut command: Command) -> Self {
        crate::install_crypto_provider();
        let mut child = command.spawn().expect("spawn the server binary");
        let stderr = child.stderr.take().expect("stderr is piped");
        let captured = Arc::new(Mutex::new(String::new()));
        let (address_tx, address_rx) = mpsc::channel();
        let reader = std::thread::spawn({
            let captured = captured.clone();
            move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    if let Some((_, rest)) = line.split_once(LISTENING_PREFIX) {
                        let address = rest.split('/').next().unwrap_or_default().to_owned();
                        let _ = address_tx.send(address);
                    }
                    let mut captured = captured.lock().unwrap();
                    captured.push_str(&line);
                    captured.push('\n');
                }
            }
        });
        let mut process = ServerProcess {
            child: Some(child),
            address: String::new(),
            stderr: captured,
            reader: Some(reader),
            exit_status: None,
        };
        match address_rx.recv_timeout(START_TIMEOUT) {
            Ok(address) => process.address = address,
            Err(_) => {
                let stderr = process.stop();
                panic!("the server did not start; its stderr:\n{stderr}");
            }
        }
        process
    }

    /// `127.0.0.1:<port>`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// The MCP endpoint.
    pub fn mcp_url(&self) -> String {
        self.url(crate::http::MCP_PATH)
    }

    /// How the process exited, once [`ServerProcess::stop`] returned.
    pub fn exit_status(&self) -> Option<ExitStatus> {
        self.exit_status
    }

    /// Stderr captured so far.
    pub fn stderr_so_far(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Sends SIGTERM, waits for the exit (killing the process if it hangs) and returns the whole
    /// stderr.
    pub fn stop(&mut self) -> String {
        if let Some(mut child) = self.child.take() {
            let terminated = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status()
                .is_ok_and(|status| status.success());
            let mut waited = Duration::ZERO;
            let step = Duration::from_millis(20);
            while terminated && waited < STOP_TIMEOUT {
                if child.try_wait().ok().flatten().is_some() {
                    break;
                }
                std::thread::sleep(step);
                waited += step;
            }
            if child.try_wait().ok().flatten().is_none() {
                let _ = child.kill();
            }
            self.exit_status = child.wait().ok();
        }
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        self.stderr_so_far()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Connects rmcp's client to `url` (runs `initialize`), sending `X-MCP-Access-Token: token` when
/// given and the extra `headers`.
pub async fn connect(
    url: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
) -> Result<McpClient, ClientInitializeError> {
    crate::install_crypto_provider();
    let mut custom = HashMap::new();
    let token_header = token.map(|token| (ACCESS_TOKEN_HEADER, token));
    for (name, value) in headers.iter().copied().chain(token_header) {
        custom.insert(
            HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()).expect("header name"),
            HeaderValue::from_str(value).expect("header value"),
        );
    }
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(url.to_owned()).custom_headers(custom),
    );
    ClientConfig::default().serve(transport).await
}

/// A tool call's outcome: its `isError` flag and its text content.
#[derive(Debug, Clone)]
pub struct ToolOutput {
    pub is_error: bool,
    pub text: String,
}

impl ToolOutput {
    /// The text parsed as JSON (panics with the text when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|error| panic!("tool output is not JSON ({error}): {}", self.text))
    }

    /// Panics unless the call succeeded; returns the JSON.
    pub fn ok_json(&self) -> Value {
        assert!(!self.is_error, "tool call failed: {}", self.text);
        self.json()
    }
}

/// Calls `name` with `arguments` (a JSON object, or `null` for none).
pub async fn call_tool(client: &McpClient, name: &str, arguments: Value) -> ToolOutput {
    let mut params = CallToolRequestParams::new(name.to_owned());
    if let Value::Object(arguments) = arguments {
        params = params.with_arguments(arguments);
    }
    let result = client
        .call_tool(params)
        .await
        .unwrap_or_else(|error| panic!("tools/call {name} failed at the protocol level: {error}"));
    let text = result
        .content
        .iter()
        .filter_map(|block| block.as_text().map(|text| text.text.as_str()))
        .collect::<Vec<_>>()
        .join("\n");
    ToolOutput {
        is_error: result.is_error == Some(true),
        text,
    }
}

/// The names of the tools the server lists.
pub async fn tool_names(client: &McpClient) -> Vec<String> {
    let mut names: Vec<String> = client
        .list_all_tools()
        .await
        .expect("tools/list")
        .into_iter()
        .map(|tool| tool.name.into_owned())
        .collect();
    names.sort();
    names
}

/// A plain HTTP client for raw checks (`/health`, the 401).
pub fn http_client() -> reqwest::Client {
    crate::install_crypto_provider();
    reqwest::Client::new()
}

/// A JSON-RPC `initialize` body for raw POSTs to `/mcp`.
pub const INITIALIZE_BODY: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw-test","version":"0"}}}"#;

/// Panics if any of `secrets` occurs in `text` (e.g. a server's stderr).
pub fn assert_no_secrets(text: &str, secrets: &[&str]) {
    for secret in secrets {
        assert!(
            !text.contains(secret),
            "a secret ending in {} leaked into:\n{text}",
            crate::mask(secret)
        );
    }
}

/// Top-level keys a `scalewize.json` server manifest may have.
const MANIFEST_KEYS: &[&str] = &[
    "$schema",
    "title",
    "description",
    "run",
    "image",
    "port",
    "path",
    "health_path",
    "credential_mode",
    "user_vars",
    "secrets",
    "env",
    "size",
];
const USER_VAR_KEYS: &[&str] = &[
    "name",
    "header",
    "title",
    "description",
    "sensitive",
    "env_fallback",
];
/// Set by scalewize itself, never by a manifest.
const RESERVED_ENV: &[&str] = &["MCP_ACCESS_TOKEN", "PORT", "HOST", "MCP_SERVER_NAME"];

/// Checks the `scalewize.json` in `crate_dir` (the server's `CARGO_MANIFEST_DIR`) against the
/// server's [`crate::ServerSpec`]: allowed keys, `$schema` path, title pattern, `run.cargo_bin`,
/// credential mode, `user_vars` and `secrets` matching the declared credentials, no reserved env.
/// Returns every problem found.
pub fn check_manifest(crate_dir: &str, spec: &crate::ServerSpec) -> Result<Value, Vec<String>> {
    let path = std::path::Path::new(crate_dir).join("scalewize.json");
    let text = std::fs::read_to_string(&path)
        .map_err(|error| vec![format!("cannot read {}: {error}", path.display())])?;
    let manifest: Value = serde_json::from_str(&text)
        .map_err(|error| vec![format!("{} is not JSON: {error}", path.display())])?;
    let mut problems = Vec::new();
    let Some(object) = manifest.as_object() else {
        return Err(vec!["the manifest is not a JSON object".to_owned()]);
    };
    for key in object.keys() {
        if !MANIFEST_KEYS.contains(&key.as_str()) {
            problems.push(format!("unknown key {key:?}"));
        }
    }

    // `$schema` points at <workspace>/schemas/server-manifest.schema.json.
    let components: Vec<_> = std::path::Path::new(crate_dir).components().collect();
    match components
        .iter()
        .rposition(|part| part.as_os_str() == "custom-mcp-servers")
    {
        Some(index) => {
            let depth = components.len() - index;
            let expected = format!("{}schemas/server-manifest.schema.json", "../".repeat(depth));
            if manifest["$schema"] != expected.as_str() {
                problems.push(format!("$schema should be {expected:?}"));
            }
        }
        None => problems.push("the crate is not under custom-mcp-servers/".to_owned()),
    }

    let title = manifest["title"].as_str().unwrap_or_default();
    if title != spec.title {
        problems.push(format!(
            "title {title:?} differs from the spec's {:?}",
            spec.title
        ));
    }
    let mut chars = title.chars();
    let title_ok = chars.next().is_some_and(char::is_alphanumeric)
        && chars.all(|c| c.is_alphanumeric() || matches!(c, '\'' | '’' | ' ' | '-'));
    if !title_ok {
        problems.push(format!(
            "title {title:?} does not fit LibreChat's title pattern"
        ));
    }
    if manifest["description"]
        .as_str()
        .is_none_or(|text| text.trim().is_empty())
    {
        problems.push("description is missing".to_owned());
    }
    if manifest["run"]["cargo_bin"] != spec.name {
        problems.push(format!("run.cargo_bin should be {:?}", spec.name));
    }
    if manifest["path"] != crate::http::MCP_PATH {
        problems.push(format!("path should be {:?}", crate::http::MCP_PATH));
    }
    if manifest["health_path"] != crate::http::HEALTH_PATH {
        problems.push(format!(
            "health_path should be {:?}",
            crate::http::HEALTH_PATH
        ));
    }

    let mode = manifest["credential_mode"].as_str().unwrap_or("none");
    if !["none", "service", "per-user-header", "per-user-instance"].contains(&mode) {
        problems.push(format!("unknown credential_mode {mode:?}"));
    }
    let user_vars = manifest["user_vars"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let secrets: Vec<&str> = manifest["secrets"]
        .as_array()
        .map(|items| items.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let per_user: Vec<_> = spec
        .credentials
        .iter()
        .filter(|c| c.header.is_some())
        .collect();
    let from_env: Vec<_> = spec
        .credentials
        .iter()
        .filter(|c| c.header.is_none())
        .collect();
    match mode {
        "per-user-header" if per_user.is_empty() => {
            problems.push("per-user-header but the spec declares no header credential".to_owned())
        }
        "none" | "service" | "per-user-instance" if !per_user.is_empty() => problems.push(format!(
            "credential_mode {mode} but the spec declares header credentials"
        )),
        "none" if !spec.credentials.is_empty() || !secrets.is_empty() => {
            problems.push("credential_mode none but credentials or secrets are declared".to_owned())
        }
        _ => {}
    }
    if user_vars.len() != per_user.len() {
        problems.push(format!(
            "{} user_vars for {} header credentials",
            user_vars.len(),
            per_user.len()
        ));
    }
    for credential in &per_user {
        let Some(var) = user_vars.iter().find(|var| var["name"] == credential.name) else {
            problems.push(format!("user_vars lacks {}", credential.name));
            continue;
        };
        for key in var.as_object().into_iter().flat_map(|object| object.keys()) {
            if !USER_VAR_KEYS.contains(&key.as_str()) {
                problems.push(format!(
                    "user_vars {}: unknown key {key:?}",
                    credential.name
                ));
            }
        }
        if var["header"] != credential.header.unwrap_or_default() {
            problems.push(format!("user_vars {}: header differs", credential.name));
        }
        if var["env_fallback"].as_str() != credential.env_fallback {
            problems.push(format!(
                "user_vars {}: env_fallback differs",
                credential.name
            ));
        }
        if var["title"] != credential.title {
            problems.push(format!(
                "user_vars {}: title should be the spec's {:?} (the not-connected message names it)",
                credential.name, credential.title
            ));
        }
    }
    for credential in &from_env {
        if !secrets.contains(&credential.name) {
            problems.push(format!("secrets lacks {}", credential.name));
        }
    }
    let env_keys: Vec<&str> = manifest["env"]
        .as_object()
        .map(|object| object.keys().map(String::as_str).collect())
        .unwrap_or_default();
    for reserved in RESERVED_ENV {
        if env_keys.contains(reserved) || secrets.contains(reserved) {
            problems.push(format!(
                "{reserved} is set by scalewize, not by the manifest"
            ));
        }
    }
    if problems.is_empty() {
        Ok(manifest)
    } else {
        Err(problems)
    }
}
