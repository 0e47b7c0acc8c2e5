//! Live: Railway (needs `SCALEWIZE_LIVE=1` and `RAILWAY_API_TOKEN`; `RAILWAY_WORKSPACE_ID` when
//! the token reaches several workspaces). A run creates one project, `<prefix>-client-b`, with
//! LibreChat and one small server; it costs a few cents and takes about five minutes.

use serde_json::{Value, json};

use super::{Cleanup, edit, live_workspace, opted_in, throwaway_prefix};

const API: &str = "https://backboard.railway.com/graphql/v2";

fn gql(token: &str, query: &str, vars: Value) -> Value {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        reqwest::Client::new()
            .post(API)
            .bearer_auth(token)
            .json(&json!({"query": query, "variables": vars}))
            .send()
            .await
            .expect("Railway answers")
            .json::<Value>()
            .await
            .expect("Railway answers JSON")
    })
}

/// A guard that destroys client-b on Railway when the test ends, however it ends.
fn destroy_after<'a>(
    ws: &'a crate::common::TempWorkspace,
    env: Vec<(String, String)>,
) -> Cleanup<'a> {
    Cleanup {
        ws,
        env,
        args: ["destroy", "client-b", "--platform", "railway", "--yes"]
            .map(String::from)
            .to_vec(),
    }
}

fn token(env: &[(String, String)]) -> String {
    env.iter()
        .find(|(k, _)| k == "RAILWAY_API_TOKEN")
        .map(|(_, v)| v.clone())
        .unwrap()
}

#[test]
#[ignore = "live: needs SCALEWIZE_LIVE=1 and RAILWAY_API_TOKEN"]
fn railway_first_deploy_status_one_change_no_op_and_destroy() {
    let env = opted_in(&["RAILWAY_API_TOKEN"]);
    let prefix = throwaway_prefix();
    let ws = live_workspace(&prefix, "railway");
    let guard = destroy_after(&ws, env.clone());
    let deploy = guard.run(&["deploy", "client-b", "--platform", "railway", "--yes"]);
    assert_eq!(deploy.code, 0, "{deploy:?}");
    let status = guard.run(&["status", "client-b", "--platform", "railway", "--json"]);
    assert_eq!(status.code, 0, "healthy after the deploy: {status:?}");

    // One variable changed: only that service is planned, and redeployed.
    edit(
        &ws,
        "custom-mcp-servers/clients/client-b/custom-erp-mcp/scalewize.json",
        |v| v["env"]["ERP_BASE_URL"] = "https://erp.example/v2".into(),
    );
    let diff = guard.run(&["diff", "client-b", "--platform", "railway", "--json"]);
    let plan: Value = serde_json::from_str(&diff.stdout).expect("diff --json");
    let changed = plan.to_string().matches("custom-erp-mcp").count();
    assert!(changed > 0, "{diff:?}");
    assert!(
        !plan
            .to_string()
            .contains("\"service\":\"librechat\",\"user\":null},\"op\":\"update\""),
        "{diff:?}"
    );
    let r = guard.run(&["deploy", "client-b", "--platform", "railway", "--yes"]);
    assert_eq!(r.code, 0, "{r:?}");

    // A no-op deploy makes no mutation.
    let noop = guard.run(&[
        "deploy",
        "client-b",
        "--platform",
        "railway",
        "--yes",
        "-vvv",
    ]);
    assert_eq!(noop.code, 0, "{noop:?}");
    assert!(noop.stdout.contains("No changes"), "{noop:?}");
    assert!(
        !noop.stderr.contains("mutation"),
        "a mutation was sent: {noop:?}"
    );
    drop(guard);
}

/// notes §10: "cannot be used with a workspace or project token"; `apiToken` works for both.
#[test]
#[ignore = "live: needs SCALEWIZE_LIVE=1 and RAILWAY_API_TOKEN"]
fn railway_api_token_names_the_workspaces_of_any_token() {
    let env = opted_in(&["RAILWAY_API_TOKEN"]);
    let r = gql(
        &token(&env),
        "query { apiToken { workspaces { id name } } }",
        json!({}),
    );
    assert!(r["errors"].is_null(), "{r}");
    assert!(
        !r["data"]["apiToken"]["workspaces"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{r}"
    );
}

/// notes §10: a plain `region` may be ignored; scalewize compares the region it recorded, so
/// this test only reports what Railway reads back after `multiRegionConfig`.
#[test]
#[ignore = "live: needs SCALEWIZE_LIVE=1 and RAILWAY_API_TOKEN"]
fn railway_region_is_read_back() {
    let env = opted_in(&["RAILWAY_API_TOKEN"]);
    let prefix = throwaway_prefix();
    let ws = live_workspace(&prefix, "railway");
    edit(&ws, "scalewize.json", |v| {
        v["railway"]["region"] = "europe-west4-drams3a".into()
    });
    let guard = destroy_after(&ws, env);
    let r = guard.run(&["deploy", "client-b", "--platform", "railway", "--yes"]);
    assert_eq!(r.code, 0, "{r:?}");
    // The second deploy must be a no-op whatever the region field reads back.
    let again = guard.run(&["deploy", "client-b", "--platform", "railway", "--yes"]);
    assert!(again.stdout.contains("No changes"), "{again:?}");
}
