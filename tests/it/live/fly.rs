//! Live: Fly.io (needs `SCALEWIZE_LIVE=1`, `FLY_API_TOKEN` (an org token) and `FLY_ORG`). A run
//! creates apps `<prefix>-client-b-*` with one shared-cpu-1x machine each; it costs a few cents
//! and takes about five minutes.

use serde_json::{Value, json};

use super::{Cleanup, edit, live_workspace, opted_in, throwaway_prefix};

const API: &str = "https://api.machines.dev/v1";

fn var(env: &[(String, String)], k: &str) -> String {
    env.iter()
        .find(|(n, _)| n == k)
        .map(|(_, v)| v.clone())
        .unwrap()
}

fn call(token: &str, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut req = reqwest::Client::new()
            .request(method, format!("{API}{path}"))
            .header(
                "authorization",
                scalewize::platform::fly::authorization(token),
            );
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("Fly answers");
        let status = resp.status().as_u16();
        (status, resp.json::<Value>().await.unwrap_or(Value::Null))
    })
}

/// A guard that destroys client-b on Fly when the test ends, however it ends.
fn destroy_after<'a>(
    ws: &'a crate::common::TempWorkspace,
    env: Vec<(String, String)>,
) -> Cleanup<'a> {
    Cleanup {
        ws,
        env,
        args: ["destroy", "client-b", "--platform", "fly", "--yes"]
            .map(String::from)
            .to_vec(),
    }
}

fn fly_workspace(prefix: &str) -> crate::common::TempWorkspace {
    let ws = live_workspace(prefix, "fly");
    edit(&ws, "scalewize.json", |v| {
        v["fly"] = json!({"region": "iad"})
    });
    ws
}

#[test]
#[ignore = "live: needs SCALEWIZE_LIVE=1, FLY_API_TOKEN and FLY_ORG"]
fn fly_first_deploy_status_one_change_no_op_and_destroy() {
    let env = opted_in(&["FLY_API_TOKEN", "FLY_ORG"]);
    let ws = fly_workspace(&throwaway_prefix());
    let guard = destroy_after(&ws, env);
    let deploy = guard.run(&["deploy", "client-b", "--platform", "fly", "--yes"]);
    assert_eq!(deploy.code, 0, "{deploy:?}");
    let status = guard.run(&["status", "client-b", "--platform", "fly", "--json"]);
    assert_eq!(status.code, 0, "{status:?}");
    edit(
        &ws,
        "custom-mcp-servers/clients/client-b/custom-erp-mcp/scalewize.json",
        |v| v["env"]["ERP_BASE_URL"] = "https://erp.example/v2".into(),
    );
    let r = guard.run(&["deploy", "client-b", "--platform", "fly", "--yes"]);
    assert_eq!(r.code, 0, "{r:?}");
    let noop = guard.run(&["deploy", "client-b", "--platform", "fly", "--yes", "-vvv"]);
    assert!(noop.stdout.contains("No changes"), "{noop:?}");
    for write in ["POST ", "DELETE "] {
        assert!(!noop.stderr.contains(write), "a write was sent: {noop:?}");
    }
    drop(guard);
}

/// notes §11: flyctl always sends `org_slug` with an IP assignment; whether the server needs it
/// is unknown. This asks without it on a throwaway app and reports what Fly says.
#[test]
#[ignore = "live: needs SCALEWIZE_LIVE=1, FLY_API_TOKEN and FLY_ORG"]
fn fly_ip_assignment_needs_org_slug() {
    let env = opted_in(&["FLY_API_TOKEN", "FLY_ORG"]);
    let (token, org) = (var(&env, "FLY_API_TOKEN"), var(&env, "FLY_ORG"));
    let app = format!("{}-ip", throwaway_prefix());
    let (s, body) = call(
        &token,
        reqwest::Method::POST,
        "/apps",
        Some(json!({"name": app, "org_slug": org})),
    );
    assert!((200..300).contains(&s), "app create: {s} {body}");
    let (without, wb) = call(
        &token,
        reqwest::Method::POST,
        &format!("/apps/{app}/ip_assignments"),
        Some(json!({"type": "v6"})),
    );
    let (with, b) = call(
        &token,
        reqwest::Method::POST,
        &format!("/apps/{app}/ip_assignments"),
        Some(json!({"type": "shared_v4", "org_slug": org})),
    );
    call(
        &token,
        reqwest::Method::DELETE,
        &format!("/apps/{app}?force=true"),
        None,
    );
    assert!((200..300).contains(&with), "with org_slug: {with} {b}");
    eprintln!("without org_slug Fly answered {without}: {wb}");
}

/// notes §11: right after `started`, `checks` can be empty; scalewize waits for its own check.
#[test]
#[ignore = "live: needs SCALEWIZE_LIVE=1, FLY_API_TOKEN and FLY_ORG"]
fn fly_health_check_is_listed_and_passing_after_deploy() {
    let env = opted_in(&["FLY_API_TOKEN", "FLY_ORG"]);
    let ws = fly_workspace(&throwaway_prefix());
    let guard = destroy_after(&ws, env);
    let r = guard.run(&["deploy", "client-b", "--platform", "fly", "--yes"]);
    assert_eq!(r.code, 0, "{r:?}");
    let status = guard.run(&["status", "client-b", "--platform", "fly", "--json"]);
    assert!(!status.stdout.contains("not reported yet"), "{status:?}");
}
