//! The template binary against the contract, through rmcp's own streamable-HTTP client.
//! Each test starts the real binary on a free loopback port with an empty environment.

use scalewize_mcp_kit::testing::{
    self, INITIALIZE_BODY, ServerProcess, TEST_TOKEN, assert_no_secrets, base_command,
};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_base-mcp-template");
const ALICE_KEY: &str = "alice-example-key-aaaa1111";
const BOB_KEY: &str = "bob-example-key-bbbb2222";
const FALLBACK_KEY: &str = "server-fallback-key-ffff9999";

fn user(id: &'static str, key: &'static str) -> [(&'static str, &'static str); 2] {
    [("X-LibreChat-User-Id", id), ("X-Example-Api-Key", key)]
}

#[test]
fn refuses_to_start_without_an_access_token() {
    let mut command = base_command(BIN);
    command.env_remove("MCP_ACCESS_TOKEN");
    let output = command.output().expect("run the binary");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("MCP_ACCESS_TOKEN is not set"), "{stderr}");
}

#[tokio::test]
async fn health_answers_without_a_token() {
    let mut server = ServerProcess::start(BIN, &[]);
    let response = testing::http_client()
        .get(server.url("/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({"status": "ok", "server": "base-mcp-template", "version": env!("CARGO_PKG_VERSION")})
    );
    server.stop();
}

#[tokio::test]
async fn initialize_list_and_whoami_with_the_users_header() {
    let mut server = ServerProcess::start(BIN, &[("MCP_SERVER_NAME", "template-dev")]);
    let client = testing::connect(
        &server.mcp_url(),
        Some(TEST_TOKEN),
        &user("u-alice", ALICE_KEY),
    )
    .await
    .expect("initialize");
    let info = client.peer_info().expect("initialize result");
    assert_eq!(info.server_info.as_ref().unwrap().name, "template-dev");

    assert_eq!(testing::tool_names(&client).await, ["echo", "whoami"]);

    let whoami = testing::call_tool(&client, "whoami", Value::Null)
        .await
        .ok_json();
    assert_eq!(
        whoami,
        json!({
            "server": "template-dev",
            "user": "u-alice",
            "credentials": {"EXAMPLE_API_KEY": {"source": "header", "masked": "…1111"}},
        })
    );
    let echo = testing::call_tool(&client, "echo", json!({"message": "hello"}))
        .await
        .ok_json();
    assert_eq!(echo["echo"], "hello");
    assert_eq!(echo["key"], json!({"source": "header", "masked": "…1111"}));
    client.cancel().await.unwrap();

    let stderr = server.stop();
    assert!(stderr.contains("POST /mcp 200"), "{stderr}");
    assert_no_secrets(&stderr, &[ALICE_KEY, TEST_TOKEN]);
}

#[tokio::test]
async fn requests_without_the_token_are_refused() {
    let mut server = ServerProcess::start(BIN, &[]);
    let response = testing::http_client()
        .post(server.mcp_url())
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("X-Example-Api-Key", ALICE_KEY)
        .body(INITIALIZE_BODY)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("X-MCP-Access-Token"),
        "{body}"
    );

    let refused = testing::connect(&server.mcp_url(), None, &user("u-alice", ALICE_KEY)).await;
    assert!(refused.is_err(), "initialize without a token must fail");
    let wrong = testing::connect(&server.mcp_url(), Some("not-the-token-000000"), &[]).await;
    assert!(wrong.is_err(), "initialize with a wrong token must fail");

    let stderr = server.stop();
    assert!(stderr.contains("POST /mcp 401"), "{stderr}");
    assert_no_secrets(&stderr, &[ALICE_KEY, TEST_TOKEN, "not-the-token-000000"]);
}

#[tokio::test]
async fn concurrent_users_each_see_their_own_credentials() {
    let mut server = ServerProcess::start(BIN, &[("EXAMPLE_API_KEY", FALLBACK_KEY)]);
    let url = server.mcp_url();
    let (alice_headers, bob_headers) = (user("u-alice", ALICE_KEY), user("u-bob", BOB_KEY));
    let (alice, bob) = tokio::join!(
        testing::connect(&url, Some(TEST_TOKEN), &alice_headers),
        testing::connect(&url, Some(TEST_TOKEN), &bob_headers),
    );
    let (alice, bob) = (alice.expect("alice"), bob.expect("bob"));

    for round in 0..5 {
        let message_a = format!("from alice {round}");
        let message_b = format!("from bob {round}");
        let (who_a, who_b, echo_a, echo_b) = tokio::join!(
            testing::call_tool(&alice, "whoami", Value::Null),
            testing::call_tool(&bob, "whoami", Value::Null),
            testing::call_tool(&alice, "echo", json!({ "message": message_a })),
            testing::call_tool(&bob, "echo", json!({ "message": message_b })),
        );
        let (who_a, who_b) = (who_a.ok_json(), who_b.ok_json());
        assert_eq!(who_a["user"], "u-alice");
        assert_eq!(who_a["credentials"]["EXAMPLE_API_KEY"]["masked"], "…1111");
        assert_eq!(who_b["user"], "u-bob");
        assert_eq!(who_b["credentials"]["EXAMPLE_API_KEY"]["masked"], "…2222");
        let (echo_a, echo_b) = (echo_a.ok_json(), echo_b.ok_json());
        assert_eq!(echo_a["echo"], message_a.as_str());
        assert_eq!(echo_a["user"], "u-alice");
        assert_eq!(echo_a["key"]["masked"], "…1111");
        assert_eq!(echo_b["user"], "u-bob");
        assert_eq!(echo_b["key"]["masked"], "…2222");
    }
    alice.cancel().await.unwrap();
    bob.cancel().await.unwrap();
    let stderr = server.stop();
    assert_no_secrets(&stderr, &[ALICE_KEY, BOB_KEY, FALLBACK_KEY, TEST_TOKEN]);
}

#[tokio::test]
async fn without_header_or_env_fallback_tools_say_not_connected() {
    let mut server = ServerProcess::start(BIN, &[]);
    let client = testing::connect(&server.mcp_url(), Some(TEST_TOKEN), &[])
        .await
        .expect("initialize");
    let echo = testing::call_tool(&client, "echo", json!({"message": "hi"})).await;
    assert!(echo.is_error);
    assert_eq!(
        echo.text,
        "Example Service is not connected: enter your Example API key in LibreChat \
         (MCP settings → base-mcp-template) and reinitialize"
    );
    let whoami = testing::call_tool(&client, "whoami", Value::Null)
        .await
        .ok_json();
    assert_eq!(whoami["user"], Value::Null);
    assert_eq!(
        whoami["credentials"]["EXAMPLE_API_KEY"],
        json!({"source": "missing", "masked": null})
    );
    client.cancel().await.unwrap();
    server.stop();
}

#[tokio::test]
async fn the_env_fallback_serves_users_without_a_header() {
    let mut server = ServerProcess::start(BIN, &[("EXAMPLE_API_KEY", FALLBACK_KEY)]);
    let client = testing::connect(
        &server.mcp_url(),
        Some(TEST_TOKEN),
        // LibreChat sends the placeholder itself when the user saved no value.
        &[
            ("X-LibreChat-User-Id", "u-carol"),
            ("X-Example-Api-Key", "{{EXAMPLE_API_KEY}}"),
        ],
    )
    .await
    .expect("initialize");
    let whoami = testing::call_tool(&client, "whoami", Value::Null)
        .await
        .ok_json();
    assert_eq!(
        whoami["credentials"]["EXAMPLE_API_KEY"],
        json!({"source": "env", "masked": "…9999"})
    );
    let echo = testing::call_tool(&client, "echo", json!({"message": "x"}))
        .await
        .ok_json();
    assert_eq!(echo["key"]["source"], "env");
    client.cancel().await.unwrap();

    let stderr = server.stop();
    // The startup log names the fallback, masked.
    assert!(
        stderr.contains("env EXAMPLE_API_KEY set (…9999)"),
        "{stderr}"
    );
    assert_no_secrets(&stderr, &[FALLBACK_KEY, TEST_TOKEN]);
}

#[tokio::test]
async fn sigterm_ends_open_sessions_and_exits_cleanly() {
    let mut server = ServerProcess::start(BIN, &[]);
    // A session stays open (its client is neither cancelled nor dropped) while the server stops.
    let client = testing::connect(
        &server.mcp_url(),
        Some(TEST_TOKEN),
        &user("u-alice", ALICE_KEY),
    )
    .await
    .expect("initialize");
    testing::call_tool(&client, "whoami", Value::Null)
        .await
        .ok_json();
    let stderr = server.stop();
    assert!(
        stderr.contains("SIGTERM received, shutting down"),
        "{stderr}"
    );
    assert!(!stderr.contains("connections still open"), "{stderr}");
    assert_eq!(
        server.exit_status().and_then(|status| status.code()),
        Some(0)
    );
    drop(client);
}
