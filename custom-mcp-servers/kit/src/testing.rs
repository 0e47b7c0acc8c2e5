//! Helpers for the servers' integration tests (feature `testing`, a dev-dependency only):
//! start a server binary on a free loopback port with a controlled environment, capture its
//! stderr, and talk to it with rmcp's own streamable-HTTP client.

use std::{
    collections::HashMap,
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
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
            let _ = child.wait();
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
