//! End to end on the `local` platform: deploy client-a, talk MCP to every server with the
//! headers the rendered librechat.yaml says LibreChat sends, prove per-user isolation, redeploy
//! as a no-op, survive a killed server and supervisor, and leave no process behind.

use crate::common;

#[path = "../../custom-mcp-servers/clients/client-a/custom-crm-mcp/tests/fake_ghl/mod.rs"]
mod fake_ghl;

use std::collections::BTreeMap;

use common::TempWorkspace;
use common::local::{Cleanup, pid_alive, pids, run};
use scalewize_mcp_kit::testing::{call_tool, connect};
use serde_json::{Value, json};

const ALICE_KEY: &str = "pit-alice-0000-1111-aaaa";
const BOB_KEY: &str = "pit-bob-2222-3333-bbbb";

fn resolved_env(ws: &TempWorkspace, client: &str) -> BTreeMap<String, String> {
    // LibreChat's container reaches the servers as host.docker.internal; this test plays
    // LibreChat from the host itself.
    let text = ws.read(&format!(".scalewize/{client}/environment.env"));
    dotenvy::from_read_iter(text.as_bytes())
        .map(Result::unwrap)
        .map(|(k, v)| (k, v.replace("host.docker.internal", "127.0.0.1")))
        .collect()
}

/// What LibreChat would send to `server`: URL and headers from the rendered librechat.yaml,
/// `${VAR}` from the resolved env, `{{VAR}}` from the user's own values.
pub(crate) fn librechat_request(
    ws: &TempWorkspace,
    client: &str,
    server: &str,
    user_vars: &[(&str, &str)],
) -> (String, Vec<(String, String)>) {
    let yaml: serde_yaml::Value =
        serde_yaml::from_str(&ws.read(&format!("client-configs/{client}/librechat.yaml"))).unwrap();
    let env = resolved_env(ws, client);
    let subst = |s: &str| {
        let mut out = s.to_string();
        for (k, v) in &env {
            out = out.replace(&format!("${{{k}}}"), v);
        }
        for (k, v) in user_vars {
            out = out.replace(&format!("{{{{{k}}}}}"), v);
        }
        out.replace("{{LIBRECHAT_USER_ID}}", "user-under-test")
    };
    let entry = &yaml["mcpServers"][server];
    let url = subst(entry["url"].as_str().unwrap());
    let headers = entry["headers"]
        .as_mapping()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.as_str().unwrap().to_string(), subst(v.as_str().unwrap())))
                .collect()
        })
        .unwrap_or_default();
    (url, headers)
}

pub(crate) async fn session(
    url: &str,
    headers: &[(String, String)],
) -> scalewize_mcp_kit::testing::McpClient {
    let hs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    connect(url, None, &hs)
        .await
        .unwrap_or_else(|e| panic!("connect {url}: {e}"))
}

/// Everything under client-configs/ but the tools lock, which deploy records by design.
fn snapshot_configs(ws: &TempWorkspace) -> Vec<(String, Vec<u8>)> {
    ws.snapshot()
        .into_iter()
        .filter(|(p, _)| p.starts_with("client-configs/") && !p.ends_with("/tools.lock.json"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deploy_talk_redeploy_recover_destroy() {
    let ws = TempWorkspace::example();
    let _cleanup = Cleanup::new(&ws);
    let upstream = fake_ghl::start(vec![
        fake_ghl::Account { key: ALICE_KEY, location: "loc-alice", contacts: vec![json!({"id": "c-a", "firstName": "Ada", "lastName": "Lovelace", "email": "ada@a.example", "locationId": "loc-alice"})] },
        fake_ghl::Account { key: BOB_KEY, location: "loc-bob", contacts: vec![json!({"id": "c-b", "firstName": "Grace", "lastName": "Hopper", "email": "grace@b.example", "locationId": "loc-bob"})] },
    ])
    .await;
    ws.edit_server("client-a", "Custom CRM", |crm| {
        crm["deploy"] = json!({"env": {"GHL_BASE_URL": upstream}});
    });
    assert_eq!(run(&ws, &["render", "client-a"]).code, 0);
    let before = snapshot_configs(&ws);

    // Deploy.
    let first = tokio::task::block_in_place(|| run(&ws, &["deploy", "client-a", "--yes"]));
    assert_eq!(first.code, 0, "{first:?}");
    assert!(
        first.stdout.contains("+ shared/knowledge-base-mcp"),
        "{first:?}"
    );
    assert!(
        first.stdout.contains("+ client-a/custom-crm-mcp"),
        "{first:?}"
    );
    assert!(first.stdout.contains("+ client-a/librechat"), "{first:?}");
    assert!(
        first.stdout.contains(".scalewize/<client>/"),
        "prints where the resolved files are: {first:?}"
    );
    assert_eq!(
        snapshot_configs(&ws),
        before,
        "nothing in client-configs/ changes"
    );
    for f in ["librechat.yaml", "environment.env"] {
        let meta = std::fs::metadata(ws.path().join(".scalewize/client-a").join(f)).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{f}");
    }
    let resolved_yaml = ws.read(".scalewize/client-a/librechat.yaml");
    assert!(
        resolved_yaml.contains("allowedAddresses:"),
        "{resolved_yaml}"
    );
    assert!(
        resolved_yaml.contains("\"host.docker.internal:"),
        "{resolved_yaml}"
    );

    // Every deployed server answers initialize + tools/list with what LibreChat sends.
    for server in ["knowledge-base-mcp", "custom-crm-mcp"] {
        let (url, headers) = librechat_request(
            &ws,
            "client-a",
            server,
            &[("GHL_API_KEY", ALICE_KEY), ("GHL_LOCATION_ID", "loc-alice")],
        );
        let client = session(&url, &headers).await;
        let tools = client.list_all_tools().await.unwrap();
        assert!(tools.len() >= 2, "{server}: {} tools", tools.len());
        client.cancel().await.unwrap();
        // The same without the access token is refused.
        let without: Vec<(String, String)> = headers
            .iter()
            .filter(|(k, _)| k != "X-MCP-Access-Token")
            .cloned()
            .collect();
        let hs: Vec<(&str, &str)> = without
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert!(
            connect(&url, None, &hs).await.is_err(),
            "{server} must refuse a request without its token"
        );
    }

    // Two users at once: each sees their own identity and their own upstream data.
    let (url_a, h_a) = librechat_request(
        &ws,
        "client-a",
        "custom-crm-mcp",
        &[("GHL_API_KEY", ALICE_KEY), ("GHL_LOCATION_ID", "loc-alice")],
    );
    let (url_b, h_b) = librechat_request(
        &ws,
        "client-a",
        "custom-crm-mcp",
        &[("GHL_API_KEY", BOB_KEY), ("GHL_LOCATION_ID", "loc-bob")],
    );
    let (alice, bob) = tokio::join!(session(&url_a, &h_a), session(&url_b, &h_b));
    let (wa, wb, sa, sb) = tokio::join!(
        call_tool(&alice, "whoami", Value::Null),
        call_tool(&bob, "whoami", Value::Null),
        call_tool(&alice, "search_contacts", json!({"query": ""})),
        call_tool(&bob, "search_contacts", json!({"query": ""})),
    );
    assert!(
        wa.text.contains("…aaaa") && !wa.text.contains("…bbbb"),
        "{}",
        wa.text
    );
    assert!(
        wb.text.contains("…bbbb") && !wb.text.contains("…aaaa"),
        "{}",
        wb.text
    );
    assert!(
        sa.text.contains("Ada") && !sa.text.contains("Grace"),
        "{}",
        sa.text
    );
    assert!(
        sb.text.contains("Grace") && !sb.text.contains("Ada"),
        "{}",
        sb.text
    );
    let _ = tokio::join!(alice.cancel(), bob.cancel());

    // A second deploy changes nothing and restarts nothing.
    let running = pids(&ws);
    assert_eq!(running.len(), 2, "{running:?}");
    let second = tokio::task::block_in_place(|| run(&ws, &["deploy", "client-a", "--yes"]));
    assert_eq!(second.code, 0, "{second:?}");
    assert!(second.stdout.contains("No changes"), "{second:?}");
    assert_eq!(pids(&ws), running, "nothing restarted");
    let status = tokio::task::block_in_place(|| run(&ws, &["status", "client-a"]));
    assert_eq!(status.code, 0, "{status:?}");
    assert!(status.stdout.contains("tools,"), "{status:?}");

    // Kill a server and its supervisor: status shows it down, deploy restores it.
    let (_, sup, child) = running
        .iter()
        .find(|(n, _, _)| n.contains("custom-crm-mcp"))
        .unwrap()
        .clone();
    unsafe {
        libc::kill(sup as i32, libc::SIGKILL);
        libc::kill(child.unwrap() as i32, libc::SIGKILL);
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while (pid_alive(sup) || pid_alive(child.unwrap())) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let down = tokio::task::block_in_place(|| run(&ws, &["status", "client-a"]));
    assert_eq!(down.code, 1, "{down:?}");
    assert!(
        down.stdout.contains("client-a/custom-crm-mcp") && down.stdout.contains("down"),
        "{down:?}"
    );
    let restore = tokio::task::block_in_place(|| run(&ws, &["deploy", "client-a", "--yes"]));
    assert_eq!(restore.code, 0, "{restore:?}");
    assert!(
        restore.stdout.contains("~ client-a/custom-crm-mcp") && restore.stdout.contains("state"),
        "{restore:?}"
    );
    let up = tokio::task::block_in_place(|| run(&ws, &["status", "client-a"]));
    assert_eq!(up.code, 0, "{up:?}");

    // A changed server restarts only that server.
    let before = pids(&ws);
    ws.edit_server("client-a", "Custom CRM", |crm| {
        crm["deploy"]["env"]["GHL_TIMEOUT_SECS"] = json!("20");
    });
    assert_eq!(run(&ws, &["render", "client-a"]).code, 0);
    let changed = tokio::task::block_in_place(|| run(&ws, &["deploy", "client-a", "--yes"]));
    assert_eq!(changed.code, 0, "{changed:?}");
    assert!(
        changed
            .stdout
            .contains("Plan: 0 to create, 1 to update, 0 to delete, 2 unchanged."),
        "{changed:?}"
    );
    let after = pids(&ws);
    let kb = |v: &Vec<(String, u32, Option<u32>)>| {
        v.iter()
            .find(|(n, _, _)| n.contains("knowledge-base"))
            .cloned()
    };
    let crm_pid = |v: &Vec<(String, u32, Option<u32>)>| {
        v.iter().find(|(n, _, _)| n.contains("custom-crm")).cloned()
    };
    assert_eq!(
        kb(&before),
        kb(&after),
        "the knowledge base was not restarted"
    );
    assert_ne!(crm_pid(&before), crm_pid(&after), "the CRM was restarted");

    // Destroy: client-a is the Knowledge Base's last deployed user, so it goes too.
    let all = pids(&ws);
    let gone = tokio::task::block_in_place(|| run(&ws, &["destroy", "client-a", "--yes"]));
    assert_eq!(gone.code, 0, "{gone:?}");
    assert!(
        gone.stdout.contains("- shared/knowledge-base-mcp"),
        "{gone:?}"
    );
    for (name, sup, child) in all {
        assert!(!pid_alive(sup), "{name}: supervisor {sup} still runs");
        if let Some(c) = child {
            assert!(!pid_alive(c), "{name}: server {c} still runs");
        }
    }
    assert!(pids(&ws).is_empty());
}
