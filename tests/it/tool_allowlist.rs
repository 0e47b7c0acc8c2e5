//! A client's tool allowlist on a deployed server (`"tools": {"allow": [...]}`): the server
//! lists exactly those tools through the rendered config and refuses the others; an external
//! server cannot take one (LibreChat cannot filter tools).

use rmcp::model::CallToolRequestParams;
use serde_json::{Value, json};

use crate::common::TempWorkspace;
use crate::common::local::{Cleanup, run};
use crate::local_e2e::{librechat_request, session};

fn set_crm_tools(ws: &TempWorkspace, tools: Value) {
    ws.edit_server("client-a", "Custom CRM", |crm| {
        crm["tools"] = tools;
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allowlisted_server_lists_exactly_those_tools_and_refuses_the_others() {
    let ws = TempWorkspace::example();
    let _cleanup = Cleanup::new(&ws);
    set_crm_tools(&ws, json!({"allow": ["search_contacts"]}));
    assert_eq!(run(&ws, &["render", "client-a"]).code, 0);
    let r = tokio::task::block_in_place(|| run(&ws, &["deploy", "client-a", "--yes"]));
    assert_eq!(r.code, 0, "{r:?}");

    let (url, headers) = librechat_request(
        &ws,
        "client-a",
        "custom-crm-mcp",
        &[("GHL_API_KEY", "pit-key"), ("GHL_LOCATION_ID", "loc")],
    );
    let client = session(&url, &headers).await;
    assert_eq!(
        scalewize_mcp_kit::testing::tool_names(&client).await,
        ["search_contacts"]
    );
    let refused = client
        .call_tool(CallToolRequestParams::new("list_notes"))
        .await;
    assert!(
        refused.is_err(),
        "a tool outside the allowlist runs: {refused:?}"
    );
    let _ = client.cancel().await;
}

#[test]
fn a_tool_filter_on_an_external_server_is_an_error_that_says_why() {
    let ws = TempWorkspace::example();
    // The inherited Google Drive entry (external), given a filter in client-a's own file.
    let p = "client-configs/client-a/mcp-servers.json";
    let mut cfg: Value = serde_json::from_str(&ws.read(p)).unwrap();
    cfg["mcp_servers"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "Google Drive", "tools": {"deny": ["x"]}}));
    ws.write(p, &serde_json::to_string_pretty(&cfg).unwrap());
    let r = ws.run(&["validate", "client-a"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("LibreChat#8783") && r.stderr.contains(".tools"),
        "{r:?}"
    );
}

#[test]
fn a_tool_filter_needs_exactly_one_of_allow_and_deny() {
    let ws = TempWorkspace::example();
    set_crm_tools(&ws, json!({"allow": ["a"], "deny": ["b"]}));
    let r = ws.run(&["validate", "client-a"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("exactly one of `allow` and `deny`"),
        "{r:?}"
    );
}
