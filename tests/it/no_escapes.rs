//! Nothing is read or written through a path that resolves outside the workspace: real symbolic
//! links (client folders, templates, generated files, secret stores, server folders) and `..`
//! in manifests' `run` paths. Each case exits 1 naming the link, and writes nothing anywhere.

use std::os::unix::fs::symlink;
use std::path::Path;

use crate::common::TempWorkspace;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), dst).unwrap();
        }
    }
}

/// Every file under `dir`, with its content (to prove nothing outside changed).
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    fn walk(d: &Path, root: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        for e in std::fs::read_dir(d).unwrap().flatten() {
            let p = e.path();
            if e.file_type().unwrap().is_dir() {
                walk(&p, root, out);
            } else {
                out.push((
                    p.strip_prefix(root).unwrap().display().to_string(),
                    std::fs::read(&p).unwrap_or_default(),
                ));
            }
        }
    }
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Move `rel` of the workspace outside it and leave a link in its place.
fn move_out(ws: &TempWorkspace, rel: &str, outside: &Path) -> std::path::PathBuf {
    let src = ws.path().join(rel);
    let dst = outside.join(rel.replace('/', "_"));
    if src.is_dir() {
        copy_dir(&src, &dst);
        std::fs::remove_dir_all(&src).unwrap();
    } else {
        std::fs::copy(&src, &dst).unwrap();
        std::fs::remove_file(&src).unwrap();
    }
    symlink(&dst, &src).unwrap();
    dst
}

fn assert_refused(ws: &TempWorkspace, outside: &Path, args: &[&str], link: &str, stdin: &[u8]) {
    let before = ws.snapshot();
    let before_out = files(outside);
    let run = ws.run_stdin(args, &[], stdin);
    assert_eq!(run.code, 1, "{args:?}: {run:?}");
    assert!(
        run.stderr.contains(&format!(
            "{link} is a symbolic link to {}",
            outside.display()
        )),
        "{args:?} names the link: {run:?}"
    );
    assert!(
        run.stderr.contains("outside the workspace")
            && run
                .stderr
                .contains("replace the link with the real folder or file"),
        "{args:?}: {run:?}"
    );
    assert_eq!(
        ws.snapshot(),
        before,
        "{args:?} wrote nothing in the workspace"
    );
    assert_eq!(files(outside), before_out, "{args:?} wrote nothing outside");
}

#[test]
fn a_client_folder_linked_outside_is_neither_read_nor_written() {
    let ws = TempWorkspace::example();
    let outside = tempfile::tempdir().unwrap();
    move_out(&ws, "client-configs/client-a", outside.path());
    // Make the render differ, so a render that followed the link would write.
    std::fs::remove_file(
        outside
            .path()
            .join("client-configs_client-a/librechat.yaml"),
    )
    .unwrap();
    let link = "client-configs/client-a";
    assert_refused(&ws, outside.path(), &["render", "client-a"], link, b"");
    assert_refused(&ws, outside.path(), &["validate", "client-a"], link, b"");
    assert_refused(
        &ws,
        outside.path(),
        &["diff", "--local", "client-a"],
        link,
        b"",
    );
    assert_refused(
        &ws,
        outside.path(),
        &["secret", "set", "client-a", "NEW_ONE"],
        link,
        b"value",
    );
    assert_refused(
        &ws,
        outside.path(),
        &["secret", "list", "client-a"],
        link,
        b"",
    );
    // Other clients still work.
    assert_eq!(ws.run(&["validate", "client-b"]).code, 0);
}

#[test]
fn templates_and_generated_files_linked_outside_are_refused() {
    let ws = TempWorkspace::example();
    let outside = tempfile::tempdir().unwrap();
    move_out(&ws, "templates/librechat.yaml.j2", outside.path());
    assert_refused(
        &ws,
        outside.path(),
        &["render", "client-a"],
        "templates/librechat.yaml.j2",
        b"",
    );

    let ws = TempWorkspace::example();
    let outside = tempfile::tempdir().unwrap();
    move_out(
        &ws,
        "client-configs/client-b/librechat.yaml",
        outside.path(),
    );
    std::fs::write(
        outside
            .path()
            .join("client-configs_client-b_librechat.yaml"),
        "stale\n",
    )
    .unwrap();
    assert_refused(
        &ws,
        outside.path(),
        &["render", "client-b"],
        "client-configs/client-b/librechat.yaml",
        b"",
    );
}

#[test]
fn a_secret_store_linked_outside_is_refused() {
    let ws = TempWorkspace::example();
    let outside = tempfile::tempdir().unwrap();
    move_out(&ws, "client-configs/default/secrets.env", outside.path());
    assert_refused(
        &ws,
        outside.path(),
        &["secret", "set", "default", "SHARED_ONE"],
        "client-configs/default/secrets.env",
        b"v",
    );
}

#[test]
fn a_server_folder_linked_outside_fails_validate() {
    let ws = TempWorkspace::example();
    let outside = tempfile::tempdir().unwrap();
    move_out(
        &ws,
        "custom-mcp-servers/clients/client-a/custom-crm-mcp",
        outside.path(),
    );
    assert_refused(
        &ws,
        outside.path(),
        &["validate", "client-a"],
        "custom-mcp-servers/clients/client-a/custom-crm-mcp",
        b"",
    );
}

#[test]
fn the_client_configs_folder_itself_linked_outside_stops_every_command() {
    let ws = TempWorkspace::example();
    let outside = tempfile::tempdir().unwrap();
    move_out(&ws, "client-configs", outside.path());
    assert_refused(&ws, outside.path(), &["validate"], "client-configs", b"");
    assert_refused(&ws, outside.path(), &["render"], "client-configs", b"");
}

#[test]
fn links_that_stay_inside_the_workspace_are_fine() {
    let ws = TempWorkspace::example();
    // client-b's templates are a link to the workspace's own templates folder.
    symlink(
        "../../templates",
        ws.path().join("client-configs/client-b/templates"),
    )
    .unwrap();
    let run = ws.run(&["validate", "client-b"]);
    assert_eq!(run.code, 0, "{run:?}");
}

fn set_run(ws: &TempWorkspace, run: serde_json::Value) {
    let p = "custom-mcp-servers/clients/client-a/custom-crm-mcp/scalewize.json";
    let mut m: serde_json::Value = serde_json::from_str(&ws.read(p)).unwrap();
    m["run"] = run;
    ws.write(p, &serde_json::to_string_pretty(&m).unwrap());
}

#[test]
fn run_paths_that_climb_out_of_the_workspace_fail_validate() {
    let ws = TempWorkspace::example();
    set_run(&ws, serde_json::json!({"cargo_bin": "../../../bin/true"}));
    let run = ws.run(&["validate", "client-a"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr
            .contains("custom-crm-mcp/scalewize.json: run.cargo_bin")
            && run.stderr.contains("is not a binary name")
            && run.stderr.contains("\"command\": [\"./bin/server\"]"),
        "{run:?}"
    );

    set_run(
        &ws,
        serde_json::json!({"command": ["../../../../../bin/true"]}),
    );
    let run = ws.run(&["validate", "client-a"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains("run.command[0]") && run.stderr.contains("outside the workspace"),
        "{run:?}"
    );

    // Inside the server folder, or a program found on PATH, is fine.
    for ok in [
        serde_json::json!({"command": ["./run.sh"]}),
        serde_json::json!({"command": ["python3", "server.py"]}),
    ] {
        set_run(&ws, ok.clone());
        let run = ws.run(&["validate", "client-a"]);
        assert_eq!(run.code, 0, "{ok}: {run:?}");
    }
}

#[test]
fn local_state_linked_outside_is_not_written_by_deploy() {
    for rel in [".scalewize/client-a", ".scalewize/local"] {
        let ws = TempWorkspace::example();
        let _cleanup = crate::common::local::Cleanup::new(&ws);
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(ws.path().join(".scalewize")).unwrap();
        symlink(outside.path(), ws.path().join(rel)).unwrap();
        let run = crate::common::local::run(&ws, &["deploy", "client-a", "--yes"]);
        assert_eq!(run.code, 1, "{rel}: {run:?}");
        assert!(
            run.all().contains(&format!(
                "{rel} is a symbolic link to {}",
                outside.path().display()
            )),
            "{rel}: {run:?}"
        );
        assert!(
            files(outside.path()).is_empty(),
            "{rel}: nothing (no resolved secrets) written outside"
        );
    }
}
