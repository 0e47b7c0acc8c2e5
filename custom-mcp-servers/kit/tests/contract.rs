//! The kit's HTTP contract, in process: `/health`, the access token, header access in tools,
//! `whoami`, the not-connected error.

use rmcp::{
    ServerHandler,
    handler::server::router::tool::ToolRouter,
    model::{CallToolResult, ServerConfig},
    tool, tool_handler, tool_router,
};
use scalewize_mcp_kit::{
    self as kit, Caller, CredentialSpec, HasKit, Kit, Secret, ServerSpec, ToolError,
    testing::{self, INITIALIZE_BODY, TEST_TOKEN},
};
use serde_json::{Value, json};

const TEST_KEY: CredentialSpec =
    CredentialSpec::per_user("TEST_KEY", "X-Test-Key", "Testing Service", "test key");

static SPEC: ServerSpec = ServerSpec {
    name: "kit-test",
    version: "9.9.9",
    title: "Kit Test",
    instructions: "A server for the kit's tests.",
    credentials: &[TEST_KEY],
};

#[derive(Clone)]
struct TestServer {
    kit: Kit,
    tool_router: ToolRouter<Self>,
}

impl HasKit for TestServer {
    fn kit(&self) -> &Kit {
        &self.kit
    }
}

#[tool_router]
impl TestServer {
    fn new(kit: Kit) -> Self {
        TestServer {
            kit,
            tool_router: Self::tool_router() + kit::whoami_router(),
        }
    }

    #[tool(description = "Reports the length of the caller's test key.")]
    async fn key_length(&self, caller: Caller) -> Result<CallToolResult, ToolError> {
        let key = self.kit.credential(&caller, &TEST_KEY)?;
        Ok(kit::json_result(&json!({ "length": key.expose().len() })))
    }

    #[tool(description = "Lists the request header names the tool sees.")]
    async fn header_names(&self, caller: Caller) -> CallToolResult {
        let names: Vec<&str> = caller.headers().keys().map(|name| name.as_str()).collect();
        kit::json_result(&json!(names))
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for TestServer {
    fn get_info(&self) -> ServerConfig {
        self.kit.server_config()
    }
}

/// Serves the test server on a free loopback port; returns its base URL.
async fn start() -> String {
    let kit = Kit::new(&SPEC, "kit-test", |_| None);
    let (app, _shutdown) = kit::http::router(
        "kit-test",
        "9.9.9",
        Secret::new(TEST_TOKEN),
        TestServer::new(kit),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}")
}

#[tokio::test]
async fn health_needs_no_token() {
    let base = start().await;
    let response = testing::http_client()
        .get(format!("{base}/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({"status": "ok", "server": "kit-test", "version": "9.9.9"})
    );
}

#[tokio::test]
async fn mcp_without_or_with_a_wrong_token_is_401_json() {
    let base = start().await;
    let http = testing::http_client();
    let post = |token: Option<&'static str>| {
        let mut request = http
            .post(format!("{base}/mcp"))
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(INITIALIZE_BODY);
        if let Some(token) = token {
            request = request.header("X-MCP-Access-Token", token);
        }
        request.send()
    };

    let missing = post(None).await.unwrap();
    assert_eq!(missing.status(), 401);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["error"], "missing X-MCP-Access-Token header");

    let wrong = post(Some("wrong-token-value-31337")).await.unwrap();
    assert_eq!(wrong.status(), 401);
    let text = wrong.text().await.unwrap();
    assert!(text.contains("invalid X-MCP-Access-Token header"), "{text}");
    assert!(!text.contains("wrong-token-value-31337"), "{text}");
    assert!(!text.contains(TEST_TOKEN), "{text}");

    // A GET to /mcp is refused the same way.
    let get = http.get(format!("{base}/mcp")).send().await.unwrap();
    assert_eq!(get.status(), 401);

    // rmcp's own client without the token cannot initialize.
    assert!(
        testing::connect(&format!("{base}/mcp"), None, &[])
            .await
            .is_err()
    );
}

#[tokio::test]
async fn tools_see_their_own_request_headers_but_not_the_token() {
    let base = start().await;
    let client = testing::connect(
        &format!("{base}/mcp"),
        Some(TEST_TOKEN),
        &[
            ("X-Test-Key", "abcdefgh-1234"),
            ("X-LibreChat-User-Id", "user-42"),
        ],
    )
    .await
    .expect("initialize");

    let info = client.peer_info().expect("server info");
    assert_eq!(info.server_info.as_ref().unwrap().name, "kit-test");

    assert_eq!(
        testing::tool_names(&client).await,
        ["header_names", "key_length", "whoami"]
    );

    let whoami = testing::call_tool(&client, "whoami", Value::Null)
        .await
        .ok_json();
    assert_eq!(
        whoami,
        json!({
            "server": "kit-test",
            "user": "user-42",
            "credentials": {"TEST_KEY": {"source": "header", "masked": "…1234"}},
        })
    );

    let length = testing::call_tool(&client, "key_length", Value::Null)
        .await
        .ok_json();
    assert_eq!(length["length"], 13);

    let names = testing::call_tool(&client, "header_names", Value::Null)
        .await
        .ok_json();
    let names: Vec<&str> = names
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert!(names.contains(&"x-test-key"), "{names:?}");
    assert!(!names.contains(&"x-mcp-access-token"), "{names:?}");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn a_missing_credential_is_a_tool_error_the_user_can_act_on() {
    let base = start().await;
    let client = testing::connect(&format!("{base}/mcp"), Some(TEST_TOKEN), &[])
        .await
        .expect("initialize");
    let output = testing::call_tool(&client, "key_length", Value::Null).await;
    assert!(output.is_error);
    assert_eq!(
        output.text,
        "Testing Service is not connected: enter your test key in LibreChat \
         (MCP settings → kit-test) and reinitialize"
    );
    let whoami = testing::call_tool(&client, "whoami", Value::Null)
        .await
        .ok_json();
    assert_eq!(whoami["user"], Value::Null);
    assert_eq!(whoami["credentials"]["TEST_KEY"]["source"], "missing");
    client.cancel().await.unwrap();
}
