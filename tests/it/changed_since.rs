//! `--changed-since <REF>`: a table of changes and the clients they select, on real git repos.

use crate::common;

use common::TempWorkspace;

/// The example workspace plus a third client; Knowledge Base (shared) is used by client-a and client-b.
fn repo() -> TempWorkspace {
    let ws = TempWorkspace::example();
    ws.write(
        "client-configs/client-b/mcp-servers.json",
        &ws.read("client-configs/client-b/mcp-servers.json")
            .replacen(
                "\"mcp_servers\": [",
                "\"mcp_servers\": [\n    {\"name\": \"Knowledge Base\", \"enabled\": true},",
                1,
            ),
    );
    ws.write(
        "client-configs/client-c/mcp-servers.json",
        r#"{"client_id": "client-c", "client_name": "Client C"}"#,
    );
    assert_eq!(ws.run(&["render"]).code, 0);
    let repo = git2::Repository::init(ws.path()).unwrap();
    commit_all(&repo, "initial");
    ws
}

fn commit_all(repo: &git2::Repository, msg: &str) {
    let mut index = repo.index().unwrap();
    index
        .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
        .unwrap();
    index.write().unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let sig = git2::Signature::now("test", "test@example.com").unwrap();
    let parents: Vec<git2::Commit> = repo
        .head()
        .ok()
        .and_then(|h| h.peel_to_commit().ok())
        .into_iter()
        .collect();
    let parents: Vec<&git2::Commit> = parents.iter().collect();
    repo.commit(Some("HEAD"), &sig, &sig, msg, &tree, &parents)
        .unwrap();
}

fn selected(ws: &TempWorkspace, reference: &str) -> (Vec<String>, Vec<String>) {
    let run = ws.run(&["diff", "--local", "--json", "--changed-since", reference]);
    assert_eq!(run.code, 0, "{run:?}");
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let list = |k: &str| -> Vec<String> {
        v["changed_since"][k]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap().to_string())
            .collect()
    };
    (list("clients"), list("deleted_clients"))
}

#[test]
fn changes_select_the_clients_they_affect() {
    type Change = fn(&TempWorkspace);
    let cases: Vec<(&str, Change, &[&str], &[&str])> = vec![
        (
            "an edited client file",
            |ws| {
                let p = "client-configs/client-b/mcp-servers.json";
                ws.write(
                    p,
                    &ws.read(p)
                        .replace("Custom HR\"", "Custom HR\", \"timeout\": 5000"),
                );
            },
            &["client-b"],
            &[],
        ),
        (
            "a template",
            |ws| {
                let p = "templates/librechat.yaml.j2";
                ws.write(
                    p,
                    &ws.read(p).replace("openNewTab: true", "openNewTab: false"),
                );
            },
            &["client-a", "client-b", "client-c"],
            &[],
        ),
        (
            "default",
            |ws| {
                let p = "client-configs/default/mcp-servers.json";
                ws.write(
                    p,
                    &ws.read(p)
                        .replace("\"SEARCH\": \"false\"", "\"SEARCH\": \"true\""),
                );
            },
            &["client-a", "client-b", "client-c"],
            &[],
        ),
        (
            "a shared server used by 2 of 3 clients",
            |ws| {
                ws.write(
                    "custom-mcp-servers/shared/knowledge-base-mcp/articles/new.md",
                    "# New\n",
                );
            },
            &["client-a", "client-b"],
            &[],
        ),
        (
            "the base template (no client uses it)",
            |ws| {
                ws.write(
                    "custom-mcp-servers/shared/base-mcp-template/src/main.rs",
                    "fn main() { /* changed */ }\n",
                );
            },
            &[],
            &[],
        ),
        (
            "an untracked file",
            |ws| {
                ws.write(
                    "client-configs/client-c/templates/environment.env.j2",
                    "[% extends \"builtin/environment.env.j2\" %]\n",
                );
            },
            &["client-c"],
            &[],
        ),
        (
            "an uncommitted, staged change",
            |ws| {
                let p = "client-configs/client-a/mcp-servers.json";
                ws.write(
                    p,
                    &ws.read(p)
                        .replace("\"timeout\": 60000", "\"timeout\": 30000"),
                );
                let repo = git2::Repository::open(ws.path()).unwrap();
                let mut index = repo.index().unwrap();
                index.add_path(std::path::Path::new(p)).unwrap();
                index.write().unwrap();
            },
            &["client-a"],
            &[],
        ),
        (
            "a deleted client",
            |ws| {
                std::fs::remove_dir_all(ws.path().join("client-configs/client-c")).unwrap();
            },
            &[],
            &["client-c"],
        ),
        (
            "a README (nothing)",
            |ws| {
                ws.write("README.md", "changed\n");
            },
            &[],
            &[],
        ),
    ];
    for (what, change, clients, deleted) in cases {
        let ws = repo();
        change(&ws);
        let (got, gone) = selected(&ws, "HEAD");
        assert_eq!(got, clients, "{what}");
        assert_eq!(gone, deleted, "{what}");
    }
}

#[test]
fn committed_changes_count_from_an_older_ref() {
    let ws = repo();
    let p = "client-configs/client-b/mcp-servers.json";
    ws.write(
        p,
        &ws.read(p)
            .replace("Custom HR\"", "Custom HR\", \"timeout\": 5000"),
    );
    commit_all(&git2::Repository::open(ws.path()).unwrap(), "edit b");
    assert_eq!(selected(&ws, "HEAD~1").0, ["client-b"]);
    assert!(selected(&ws, "HEAD").0.is_empty());
}

#[test]
fn a_deleted_client_is_pending_work_and_an_unknown_ref_is_an_error() {
    let ws = repo();
    std::fs::remove_dir_all(ws.path().join("client-configs/client-c")).unwrap();
    let run = ws.run(&[
        "diff",
        "--local",
        "--detailed-exitcode",
        "--changed-since",
        "HEAD",
    ]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stdout.contains("client-c: deleted since HEAD"),
        "{run:?}"
    );
    assert!(run.stdout.contains("scalewize destroy client-c"), "{run:?}");

    let run = ws.run(&["diff", "--local", "--changed-since", "no-such-branch"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains("unknown git ref `no-such-branch`"),
        "{run:?}"
    );
    assert!(run.stderr.contains("hint:"), "{run:?}");
}
