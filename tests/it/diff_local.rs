//! `diff --local`: the generated-files layer of the plan, and its exit codes.

use crate::common;

use common::TempWorkspace;

#[test]
fn diff_is_clean_after_render_and_shows_an_edit() {
    let ws = TempWorkspace::example();
    assert_eq!(ws.run(&["render"]).code, 0);
    let clean = ws.run(&["diff", "--local", "--detailed-exitcode"]);
    assert_eq!(clean.code, 0, "{clean:?}");
    assert!(
        clean
            .stdout
            .contains("Files: 0 to create, 0 to update, 0 to delete"),
        "{clean:?}"
    );

    let path = "client-configs/client-b/mcp-servers.json";
    ws.write(
        path,
        &ws.read(path)
            .replace("Invoices and purchase orders", "Invoices, orders"),
    );
    let before = ws.snapshot();
    let changed = ws.run(&["diff", "--local", "--detailed-exitcode"]);
    assert_eq!(changed.code, 2, "{changed:?}");
    assert!(
        changed
            .stdout
            .contains("~ client-configs/client-b/librechat.yaml (update)"),
        "{changed:?}"
    );
    assert!(
        changed
            .stdout
            .contains("+    description: \"Invoices, orders from Client B's ERP.\""),
        "{changed:?}"
    );
    assert!(
        !changed.stdout.contains("client-a"),
        "unchanged clients are not listed: {changed:?}"
    );
    assert_eq!(ws.snapshot(), before, "diff writes nothing");
    // Without --detailed-exitcode a pending change still exits 0.
    assert_eq!(ws.run(&["diff", "--local"]).code, 0);

    let json = ws.run(&["diff", "--local", "--json"]);
    let v: serde_json::Value =
        serde_json::from_str(&json.stdout).unwrap_or_else(|e| panic!("{e}: {json:?}"));
    assert_eq!(v["summary"]["update"], 1);
    assert_eq!(v["clients"][1]["client"], "client-b");
    assert_eq!(v["clients"][1]["files"][0]["action"], "update");
    assert!(
        v["clients"][1]["files"][0]["diff"]
            .as_str()
            .unwrap()
            .contains("+    description")
    );
}

#[test]
fn usage_errors_exit_1_never_2() {
    let ws = TempWorkspace::example();
    for args in [
        vec!["diff", "--local", "--detailed-exitcode", "--no-such-flag"],
        vec!["diff", "--local", "nope"],
        vec!["diff", "--local", "--changed-since"],
        vec!["frobnicate"],
    ] {
        let run = ws.run(&args);
        assert_eq!(run.code, 1, "{args:?}: {run:?}");
    }
}
