//! The tool-surface lock on `local`: deploy records what every client's servers serve; a tool
//! whose description no longer matches makes `diff` exit 2 naming it and `status` exit 1, until
//! `status --accept-tools` records what is served now.

use serde_json::Value;

use crate::common::TempWorkspace;
use crate::common::local::{Cleanup, run};

fn lock(ws: &TempWorkspace, client: &str) -> Value {
    serde_json::from_str(&ws.read(&format!("client-configs/{client}/tools.lock.json")))
        .expect("tools.lock.json is JSON")
}

#[test]
fn deploy_locks_every_clients_tools_and_a_changed_description_is_drift_until_accepted() {
    let ws = TempWorkspace::example();
    let _cleanup = Cleanup::new(&ws);
    let r = run(&ws, &["deploy", "--all", "--yes"]);
    assert_eq!(r.code, 0, "{r:?}");
    for client in ["client-a", "client-b", "client-c"] {
        let l = lock(&ws, client);
        assert_eq!(l["version"], 1);
        assert!(
            !l["services"].as_object().unwrap().is_empty(),
            "{client}: {l}"
        );
    }
    let a = lock(&ws, "client-a");
    let crm = &a["services"]["client-a/custom-crm-mcp"];
    assert!(
        crm["search_contacts"]["description"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    assert!(
        a["services"].get("shared/knowledge-base-mcp").is_some(),
        "{a}"
    );
    // Nothing secret inside: no value of the resolved env appears in a lock.
    let env = ws.read(".scalewize/client-a/environment.env");
    let text = ws.read("client-configs/client-a/tools.lock.json");
    for line in env.lines() {
        if let Some((_, v)) = line.split_once('=') {
            let v = v.trim_matches(['"', '\'']);
            if v.len() >= 16 {
                assert!(!text.contains(v), "a resolved value is in the lock");
            }
        }
    }
    let clean = run(&ws, &["status", "client-a"]);
    assert_eq!(clean.code, 0, "{clean:?}");

    // As if the server had changed a tool's description under us.
    let mut altered = a.clone();
    altered["services"]["client-a/custom-crm-mcp"]["search_contacts"]["description"] =
        Value::String(format!("sha256:{}", "0".repeat(64)));
    ws.write(
        "client-configs/client-a/tools.lock.json",
        &serde_json::to_string_pretty(&altered).unwrap(),
    );
    let diff = run(&ws, &["diff", "client-a", "--detailed-exitcode"]);
    assert_eq!(diff.code, 2, "{diff:?}");
    assert!(
        diff.stdout
            .contains("~ tool search_contacts: description changed"),
        "{diff:?}"
    );
    let status = run(&ws, &["status", "client-a"]);
    assert_eq!(status.code, 1, "{status:?}");
    assert!(status.stdout.contains("search_contacts"), "{status:?}");
    assert!(status.stderr.contains("--accept-tools"), "{status:?}");

    let accept = run(&ws, &["status", "client-a", "--accept-tools"]);
    assert_eq!(accept.code, 0, "{accept:?}");
    assert_eq!(
        lock(&ws, "client-a"),
        a,
        "the lock is back to what is served"
    );
    assert_eq!(run(&ws, &["status", "client-a"]).code, 0);
    assert_eq!(
        run(&ws, &["diff", "client-a", "--detailed-exitcode"]).code,
        0
    );
}

#[test]
fn an_allowlisted_name_the_lock_does_not_know_is_a_validate_error_with_did_you_mean() {
    let ws = TempWorkspace::example();
    ws.write(
        "client-configs/client-a/tools.lock.json",
        &serde_json::to_string_pretty(&serde_json::json!({
            "version": 1,
            "services": {"client-a/custom-crm-mcp": {
                "search_contacts": {"description": "sha256:0", "input_schema": "sha256:0"},
                "list_notes": {"description": "sha256:0", "input_schema": "sha256:0"}
            }}
        }))
        .unwrap(),
    );
    ws.edit_server("client-a", "Custom CRM", |crm| {
        crm["tools"] = serde_json::json!({"allow": ["search_contact"]});
    });
    let r = ws.run(&["validate", "client-a"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("does not serve a tool named `search_contact`")
            && r.stderr.contains("did you mean `search_contacts`?")
            && r.stderr.contains("tools.allow[0]"),
        "{r:?}"
    );
}

/// Sets `deploy.env` of client-a's CRM: a change of config, not of code.
fn change_crm_config_only(ws: &TempWorkspace, value: &str) {
    ws.edit_server("client-a", "Custom CRM", |crm| {
        crm["deploy"] = serde_json::json!({"env": {"CRM_REGION": value}});
    });
    assert_eq!(run(ws, &["render", "client-a"]).code, 0);
}

/// Replaces one locked digest, as if the server now served another description than reviewed.
fn alter_locked_description(ws: &TempWorkspace) -> Value {
    let mut l = lock(ws, "client-a");
    l["services"]["client-a/custom-crm-mcp"]["search_contacts"]["description"] =
        Value::String(format!("sha256:{}", "0".repeat(64)));
    ws.write(
        "client-configs/client-a/tools.lock.json",
        &serde_json::to_string_pretty(&l).unwrap(),
    );
    l
}

#[test]
fn a_wave_whose_server_serves_other_tools_after_only_a_config_change_fails_its_gate() {
    let ws = TempWorkspace::example();
    let _cleanup = Cleanup::new(&ws);
    assert_eq!(run(&ws, &["deploy", "--all", "--yes"]).code, 0);
    let altered = alter_locked_description(&ws);
    change_crm_config_only(&ws, "eu");

    let r = run(&ws, &["deploy", "--all", "--waves", "1,100%", "--yes"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("rollout stopped"), "{r:?}");
    let line = r
        .stdout
        .lines()
        .find(|l| l.starts_with("client-a") && l.contains(" wave "))
        .unwrap_or_default();
    assert!(line.contains("failed"), "{r:?}");
    assert!(
        r.stdout.contains("although its code did not change"),
        "{r:?}"
    );
    assert!(r.stdout.contains("~ tool search_contacts"), "{r:?}");
    // What was reviewed stays locked: the change is not laundered into the lock.
    assert_eq!(lock(&ws, "client-a"), altered);
}

#[test]
fn a_plain_deploy_of_a_config_change_keeps_the_reviewed_tools_and_warns() {
    let ws = TempWorkspace::example();
    let _cleanup = Cleanup::new(&ws);
    assert_eq!(run(&ws, &["deploy", "client-a", "--yes"]).code, 0);
    let altered = alter_locked_description(&ws);
    change_crm_config_only(&ws, "us");
    let r = run(&ws, &["deploy", "client-a", "--yes"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stderr
            .contains("its tools changed although its code did not"),
        "{r:?}"
    );
    assert_eq!(lock(&ws, "client-a"), altered);
    assert_eq!(run(&ws, &["status", "client-a"]).code, 1);
}
