//! Plans on the `local` platform: a saved plan applies exactly and is refused once files or live
//! state moved; deploy without a terminal needs --yes; a crash-looping server is reported.

use crate::common;

use common::TempWorkspace;
use common::local::{Cleanup, pid_alive, run, run_with};

#[test]
fn a_saved_plan_applies_exactly_and_is_refused_when_things_moved() {
    let ws = TempWorkspace::example();
    let _cleanup = Cleanup::new(&ws);
    let diff = run(&ws, &["diff", "client-b", "--out", "plan.json"]);
    assert_eq!(diff.code, 0, "{diff:?}");
    assert!(
        diff.stdout.contains("+ client-b/custom-erp-mcp"),
        "{diff:?}"
    );
    let plan: serde_json::Value = serde_json::from_str(&ws.read("plan.json")).unwrap();
    assert_eq!(plan["actions"].as_array().unwrap().len(), 3, "{plan}");

    let applied = run(&ws, &["deploy", "--plan", "plan.json", "--yes"]);
    assert_eq!(applied.code, 0, "{applied:?}");
    // Nothing left to do.
    assert!(run(&ws, &["diff", "client-b", "--detailed-exitcode"]).code == 0);

    // A config change after the plan was saved: refused.
    assert_eq!(
        run(&ws, &["diff", "client-b", "--out", "plan2.json"]).code,
        0
    );
    let p = "client-configs/client-b/mcp-servers.json";
    ws.write(
        p,
        &ws.read(p)
            .replace("\"Custom HR\",", "\"Custom HR\", \"timeout\": 5000,"),
    );
    assert_eq!(run(&ws, &["render", "client-b"]).code, 0);
    let refused = run(&ws, &["deploy", "--plan", "plan2.json", "--yes"]);
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(
        refused
            .stderr
            .contains("configuration, templates, manifests or secrets changed"),
        "{refused:?}"
    );

    // Live state moving after the plan was saved: refused too.
    assert_eq!(run(&ws, &["deploy", "client-b", "--yes"]).code, 0);
    assert_eq!(
        run(&ws, &["diff", "client-b", "--out", "plan3.json"]).code,
        0
    );
    assert_eq!(run(&ws, &["destroy", "client-b", "--yes"]).code, 0);
    let refused = run(&ws, &["deploy", "--plan", "plan3.json", "--yes"]);
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(
        refused.stderr.contains("what is live changed"),
        "{refused:?}"
    );
}

#[test]
fn without_a_terminal_deploy_needs_yes_and_touches_nothing() {
    let ws = TempWorkspace::example();
    let run_ = run(&ws, &["deploy", "client-b"]);
    assert_eq!(run_.code, 1, "{run_:?}");
    assert!(run_.stderr.contains("--yes"), "{run_:?}");
    assert!(
        !ws.path().join(".scalewize").exists(),
        "no state was created"
    );
    // --dry-run shows the plan and exits 2.
    let dry = run(&ws, &["deploy", "client-b", "--dry-run"]);
    assert_eq!(dry.code, 2, "{dry:?}");
    assert!(dry.stdout.contains("Plan: 3 to create"), "{dry:?}");
    assert!(
        !ws.path().join(".scalewize/local/services").exists(),
        "dry-run changes nothing"
    );
}

#[test]
fn a_crashing_server_is_marked_crashloop() {
    let ws = TempWorkspace::example();
    ws.write(
        "custom-mcp-servers/clients/client-b/flaky-mcp/scalewize.json",
        r#"{"run": {"command": ["sh", "-c", "echo starting; exit 3"]}, "credential_mode": "none"}"#,
    );
    let p = "client-configs/client-b/mcp-servers.json";
    ws.write(
        p,
        &ws.read(p).replace(
            "\"mcp_servers\": [",
            "\"mcp_servers\": [\n    {\"name\": \"Flaky\", \"type\": \"client-specific\"},",
        ),
    );
    assert_eq!(run(&ws, &["render", "client-b"]).code, 0);
    // A new deployed server needs its access token: generate it (and nothing else).
    assert_eq!(run(&ws, &["secret", "generate", "client-b"]).code, 0);
    let _cleanup = Cleanup::new(&ws);
    let env = [("SCALEWIZE_TIME_SCALE", "0.05")];
    let deploy = run_with(&ws, &["deploy", "client-b", "--yes"], &env);
    assert_eq!(deploy.code, 1, "{deploy:?}");
    assert!(deploy.all().contains("crashloop"), "{deploy:?}");
    assert!(
        deploy.stdout.contains("client-b") && deploy.stdout.contains("FAILED"),
        "per-client result: {deploy:?}"
    );
    let status = run_with(&ws, &["status", "client-b"], &env);
    assert_eq!(status.code, 1);
    assert!(status.stdout.contains("crashloop"), "{status:?}");
    let logs = run_with(&ws, &["logs", "client-b", "flaky-mcp"], &env);
    assert!(
        logs.stdout.contains("starting") && logs.stdout.contains("giving up"),
        "{logs:?}"
    );
    assert_eq!(
        run_with(&ws, &["destroy", "client-a", "--yes"], &env).code,
        0
    );
    assert_eq!(
        run_with(&ws, &["destroy", "client-c", "--yes"], &env).code,
        0
    );
    let pids: Vec<u32> = std::fs::read_dir(ws.path().join(".scalewize/local/services"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".run.json"))
        .filter_map(|e| {
            serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(e.path()).ok()?).ok()
        })
        .filter_map(|v| v["supervisor_pid"].as_u64().map(|p| p as u32))
        .collect();
    assert_eq!(
        run_with(&ws, &["destroy", "client-b", "--yes"], &env).code,
        0
    );
    for p in pids {
        assert!(!pid_alive(p), "supervisor {p} still runs");
    }
}

#[test]
fn removing_a_user_removes_exactly_their_instance() {
    let ws = TempWorkspace::example();
    let _cleanup = Cleanup::new(&ws);
    assert_eq!(run(&ws, &["deploy", "client-c", "--yes"]).code, 0);
    let before = common::local::pids(&ws);
    assert_eq!(
        before
            .iter()
            .filter(|(n, _, _)| n.contains("servicedesk-mcp"))
            .count(),
        3,
        "{before:?}"
    );
    let p = "client-configs/client-c/mcp-servers.json";
    let mut cfg: serde_json::Value = serde_json::from_str(&ws.read(p)).unwrap();
    cfg["users"]
        .as_array_mut()
        .unwrap()
        .retain(|u| u["id"] != "bob");
    ws.write(p, &serde_json::to_string_pretty(&cfg).unwrap());
    assert_eq!(run(&ws, &["render", "client-c"]).code, 0);
    assert!(
        !ws.path().join("client-configs/client-c/users/bob").exists(),
        "render removes bob's client configs"
    );
    let deploy = run(&ws, &["deploy", "client-c", "--yes"]);
    assert_eq!(deploy.code, 0, "{deploy:?}");
    assert!(
        deploy.stdout.contains("- client-c/servicedesk-mcp@bob"),
        "{deploy:?}"
    );
    assert!(
        deploy
            .stdout
            .contains("Plan: 0 to create, 0 to update, 1 to delete"),
        "exactly that instance: {deploy:?}"
    );
    let after = common::local::pids(&ws);
    let bob = before.iter().find(|(n, _, _)| n.contains(".bob.")).unwrap();
    assert!(!pid_alive(bob.1), "bob's supervisor is gone");
    let others: Vec<_> = before
        .iter()
        .filter(|(n, _, _)| !n.contains(".bob."))
        .cloned()
        .collect();
    assert_eq!(after, others, "alice and carol were not restarted");
}

#[test]
fn orphans_are_listed_and_destroyed() {
    let ws = TempWorkspace::example();
    let _cleanup = Cleanup::new(&ws);
    assert_eq!(run(&ws, &["deploy", "client-b", "--yes"]).code, 0);
    let pids = common::local::pids(&ws);
    assert_eq!(run(&ws, &["status", "--orphans", "client-b"]).code, 0);
    // client-b's config disappears: its resources are now orphans.
    std::fs::remove_dir_all(ws.path().join("client-configs/client-b")).unwrap();
    let status = run(&ws, &["status", "--orphans", "client-a"]);
    assert!(status.stdout.contains("Orphans (3)"), "{status:?}");
    assert!(
        status.stdout.contains("client-b/custom-erp-mcp on local"),
        "{status:?}"
    );
    let destroy = run(&ws, &["destroy", "--orphans", "--yes"]);
    assert_eq!(destroy.code, 0, "{destroy:?}");
    assert!(
        destroy.stdout.contains("- client-b/custom-hr-mcp"),
        "{destroy:?}"
    );
    for (_, sup, _) in pids {
        assert!(!pid_alive(sup));
    }
    let again = run(&ws, &["status", "--orphans", "client-a"]);
    assert!(again.stdout.contains("No orphans"), "{again:?}");
}
