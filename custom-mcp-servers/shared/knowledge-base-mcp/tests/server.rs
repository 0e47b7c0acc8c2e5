//! knowledge-base-mcp binary through rmcp's own client.

use scalewize_mcp_kit::testing::{self, ServerProcess, TEST_TOKEN, assert_no_secrets};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_knowledge-base-mcp");

#[tokio::test]
async fn search_and_read_articles() {
    let mut server = ServerProcess::start(BIN, &[("MCP_SERVER_NAME", "kb-shared")]);
    let client = testing::connect(
        &server.mcp_url(),
        Some(TEST_TOKEN),
        &[("X-LibreChat-User-Id", "u-1")],
    )
    .await
    .expect("initialize");
    assert_eq!(
        testing::tool_names(&client).await,
        ["get_article", "search_articles", "whoami"]
    );
    let whoami = testing::call_tool(&client, "whoami", Value::Null)
        .await
        .ok_json();
    assert_eq!(
        whoami,
        json!({"server": "kb-shared", "user": "u-1", "credentials": {}})
    );

    let found = testing::call_tool(
        &client,
        "search_articles",
        json!({"query": "connect CRM key"}),
    )
    .await
    .ok_json();
    assert_eq!(found["results"][0]["id"], "connect-your-crm");
    assert_eq!(found["results"][0]["title"], "Connect your CRM account");

    let article = testing::call_tool(&client, "get_article", json!({"id": "connect-your-crm"}))
        .await
        .ok_json();
    assert!(
        article["body"].as_str().unwrap().contains("MCP settings"),
        "{article}"
    );

    let missing = testing::call_tool(&client, "get_article", json!({"id": "nope"})).await;
    assert!(missing.is_error);
    assert!(missing.text.contains("search_articles"), "{}", missing.text);
    client.cancel().await.unwrap();

    assert!(
        testing::connect(&server.mcp_url(), None, &[])
            .await
            .is_err(),
        "no token, no session"
    );
    assert_no_secrets(&server.stop(), &[TEST_TOKEN]);
}
