//! `validate` makes the checks deploy makes (generated files out of date included), and
//! hints are commands that work when pasted.

use std::process::Command;

use crate::common;

use common::TempWorkspace;

#[test]
fn validate_fails_when_generated_files_are_out_of_date() {
    let ws = TempWorkspace::example();
    assert_eq!(ws.run(&["validate", "client-b"]).code, 0);
    let path = "client-configs/client-b/mcp-servers.json";
    ws.write(
        path,
        &ws.read(path)
            .replace("Invoices and purchase orders", "Invoices, orders"),
    );
    let before = ws.snapshot();
    let stale = ws.run(&["validate", "client-b"]);
    assert_eq!(stale.code, 1, "{stale:?}");
    assert!(
        stale
            .stderr
            .contains("client-configs/client-b/librechat.yaml: out of date"),
        "{stale:?}"
    );
    assert!(
        stale.stderr.contains("scalewize render client-b"),
        "{stale:?}"
    );
    assert_eq!(ws.snapshot(), before, "validate writes nothing");
    let json = ws.run(&["validate", "client-b", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(
        v["clients"][0]["diagnostics"][0]["file"], "client-configs/client-b/librechat.yaml",
        "{v}"
    );
    // The hint works: after it, validate passes.
    assert_eq!(ws.run(&["render", "client-b"]).code, 0);
    let fixed = ws.run(&["validate", "client-b"]);
    assert_eq!(fixed.code, 0, "{fixed:?}");
}

#[test]
fn an_unknown_remote_branch_hint_is_a_fetch_that_works_when_pasted() {
    let ws = TempWorkspace::example();
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args(["-c", "user.name=T", "-c", "user.email=t@example.test"])
            .args(args)
            .current_dir(ws.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {out:?}");
    };
    git(&["init", "-q", "-b", "main"]);
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "workspace"]);
    // A remote whose branch was never fetched.
    let remote = tempfile::tempdir().unwrap();
    let remote_path = remote.path().join("origin.git");
    git(&["clone", "-q", "--bare", ".", remote_path.to_str().unwrap()]);
    git(&["remote", "add", "origin", remote_path.to_str().unwrap()]);
    let run = ws.run(&["diff", "--local", "--changed-since", "origin/main"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("`git fetch origin main`"), "{run:?}");
    assert!(!run.stderr.contains("origin origin/main"), "{run:?}");
    // Pasting it makes the ref resolve.
    git(&["fetch", "-q", "origin", "main"]);
    let after = ws.run(&["diff", "--local", "--changed-since", "origin/main"]);
    assert_eq!(after.code, 0, "{after:?}");
}
