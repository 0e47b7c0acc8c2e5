//! `scalewize secret …`, `new` and `validate` as a new user meets them: values from stdin, one
//! line per change in git, fingerprints instead of values, identities that are wrong or missing.

use crate::common;

use std::ffi::OsString;
use std::path::Path;

use common::TempWorkspace;
use scalewize::secrets::SecretStore;
use scalewize::secrets::{SecretRef, SecretScope};
use scalewize::workspace::Workspace;

fn stored(dir: &Path, scope: SecretScope, name: &str) -> Option<String> {
    let ws = Workspace::open(dir).unwrap();
    let store = SecretStore::open_with_env(&ws, Vec::<(OsString, OsString)>::new()).unwrap();
    store
        .get_stored(&SecretRef {
            name: name.into(),
            scope,
        })
        .unwrap()
        .map(|s| s.expose().to_string())
}

fn fingerprints(ws: &TempWorkspace, store: &str) -> Vec<(String, String, String)> {
    let run = ws.run(&["secret", "list", store, "--json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    v["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_string(),
                s["owner"].as_str().unwrap().to_string(),
                s["fingerprint"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Commit the whole temp workspace in a fresh git repository.
fn git_init(dir: &Path) -> git2::Repository {
    let repo = git2::Repository::init(dir).unwrap();
    let mut index = repo.index().unwrap();
    index
        .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
        .unwrap();
    index.write().unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let sig = git2::Signature::now("test", "test@example.invalid").unwrap();
    repo.commit(Some("HEAD"), &sig, &sig, "example", &tree, &[])
        .unwrap();
    drop(tree);
    repo
}

/// (path, added lines, removed lines) of the working tree against HEAD.
fn git_diff(repo: &git2::Repository) -> Vec<(String, Vec<String>, Vec<String>)> {
    let head = repo.head().unwrap().peel_to_tree().unwrap();
    let mut opts = git2::DiffOptions::new();
    opts.include_untracked(true).recurse_untracked_dirs(true);
    let diff = repo
        .diff_tree_to_workdir_with_index(Some(&head), Some(&mut opts))
        .unwrap();
    let mut out: Vec<(String, Vec<String>, Vec<String>)> = Vec::new();
    diff.print(git2::DiffFormat::Patch, |delta, _, line| {
        let path = delta.new_file().path().unwrap().display().to_string();
        if out.last().is_none_or(|(p, _, _)| p != &path) {
            out.push((path, Vec::new(), Vec::new()));
        }
        let text = String::from_utf8_lossy(line.content())
            .trim_end()
            .to_string();
        let entry = out.last_mut().unwrap();
        match line.origin() {
            '+' => entry.1.push(text),
            '-' => entry.2.push(text),
            _ => {}
        }
        true
    })
    .unwrap();
    out
}

#[test]
fn set_from_stdin_adds_exactly_one_line_in_git_diff() {
    let ws = TempWorkspace::example();
    let repo = git_init(ws.path());
    let value = "mongodb://admin:s3cr3t-Pa55@db.internal:27017/acme";

    let run = ws.run_stdin(
        &["secret", "set", "client-a", "ANALYTICS_DB"],
        &[],
        format!("{value}\n").as_bytes(),
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout
            .contains("set ANALYTICS_DB for client-a: hmac-sha256:"),
        "{run:?}"
    );
    assert!(
        run.stderr.contains("decrypting with example-only.age-identity.txt, which is committed to git: anyone with this repository can read these secrets; set SCALEWIZE_AGE_KEY for real secrets"),
        "{run:?}"
    );
    assert_eq!(
        run.stderr.matches("committed to git").count(),
        1,
        "once per run: {run:?}"
    );
    let diff = git_diff(&repo);
    assert_eq!(diff.len(), 1, "{diff:?}");
    let (path, added, removed) = &diff[0];
    assert_eq!(path, "client-configs/client-a/secrets.env");
    assert_eq!(added.len(), 1, "{added:?}");
    assert!(added[0].starts_with("ANALYTICS_DB=age:"), "{added:?}");
    assert!(removed.is_empty(), "{removed:?}");
    // The trailing newline from stdin is not part of the value.
    assert_eq!(
        stored(
            ws.path(),
            SecretScope::Client("client-a".into()),
            "ANALYTICS_DB"
        )
        .as_deref(),
        Some(value)
    );
    for (file, bytes) in ws.snapshot() {
        assert!(
            !String::from_utf8_lossy(&bytes).contains("s3cr3t-Pa55"),
            "plaintext in {file}"
        );
    }

    // Changing an existing value changes exactly its line; the same value changes nothing.
    let run = ws.run_stdin(
        &["secret", "set", "client-a", "MONGO_URI"],
        &[],
        b"mongodb://other/acme",
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains("updated MONGO_URI for client-a"),
        "{run:?}"
    );
    let diff = git_diff(&repo);
    let (_, added, removed) = &diff[0];
    assert_eq!((added.len(), removed.len()), (2, 1), "{diff:?}");
    assert!(removed[0].starts_with("MONGO_URI=age:"));
    let before = ws.snapshot();
    let run = ws.run_stdin(
        &["secret", "set", "client-a", "MONGO_URI"],
        &[],
        b"mongodb://other/acme\n",
    );
    assert!(
        run.stdout.contains("MONGO_URI for client-a unchanged"),
        "{run:?}"
    );
    assert_eq!(ws.snapshot(), before);

    // And rm removes exactly that line.
    let run = ws.run(&["secret", "rm", "client-a", "ANALYTICS_DB"]);
    assert_eq!(run.code, 0, "{run:?}");
    let diff = git_diff(&repo);
    assert_eq!(
        diff[0].1.len(),
        1,
        "only MONGO_URI's new line is left: {diff:?}"
    );
}

#[test]
fn new_then_list_shows_credentials_and_tokens_with_fingerprints_never_values() {
    let ws = TempWorkspace::example();
    // A workspace template whose new clients deploy a server of their own and use a shared one.
    ws.write(
        "templates/mcp-servers.json.j2",
        r#"{
  "$schema": "../../schemas/mcp-servers.schema.json",
  "client_id": [[ client.id ]],
  "client_name": [[ client.name ]],
  "mcp_servers": [
    {"name": "Knowledge Base", "enabled": true},
    {"name": "Custom CRM", "type": "client-specific"}
  ]
}
"#,
    );
    let crm = ws
        .path()
        .join("custom-mcp-servers/clients/client-a/custom-crm-mcp");
    let dst = ws
        .path()
        .join("custom-mcp-servers/clients/acme/custom-crm-mcp");
    std::fs::create_dir_all(&dst).unwrap();
    std::fs::copy(crm.join("scalewize.json"), dst.join("scalewize.json")).unwrap();

    let run = ws.run(&["new", "acme"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("generated CREDS_KEY"), "{run:?}");
    assert!(run.stdout.contains("to set MONGO_URI"), "{run:?}");
    assert!(
        run.stdout.contains("scalewize secret set acme MONGO_URI"),
        "{run:?}"
    );

    let list = ws.run(&["secret", "list", "acme"]);
    assert_eq!(list.code, 0, "{list:?}");
    let rows = fingerprints(&ws, "acme");
    let names: Vec<&str> = rows.iter().map(|(n, _, _)| n.as_str()).collect();
    for n in [
        "CREDS_KEY",
        "CREDS_IV",
        "JWT_SECRET",
        "JWT_REFRESH_SECRET",
        "CUSTOM_CRM_MCP_TOKEN",
        "KNOWLEDGE_BASE_MCP_TOKEN",
    ] {
        assert!(names.contains(&n), "{n}: {list:?}");
        assert!(list.stdout.contains(n), "{list:?}");
    }
    assert!(rows.iter().all(|(_, _, fp)| fp.starts_with("hmac-sha256:")));
    assert!(
        rows.iter()
            .any(|(n, o, _)| n == "KNOWLEDGE_BASE_MCP_TOKEN" && o == "default (shared)")
    );
    assert!(list.stdout.contains("missing MONGO_URI"), "{list:?}");

    let acme = || SecretScope::Client("acme".into());
    let get = |n: &str| stored(ws.path(), acme(), n).unwrap();
    assert!(is_hex(&get("CREDS_KEY"), 64));
    assert!(is_hex(&get("CREDS_IV"), 32));
    assert!(is_hex(&get("JWT_SECRET"), 64));
    assert!(is_hex(&get("JWT_REFRESH_SECRET"), 64));
    assert!(is_hex(&get("CUSTOM_CRM_MCP_TOKEN"), 64));
    assert_ne!(get("JWT_SECRET"), get("JWT_REFRESH_SECRET"));
    for n in [
        "CREDS_KEY",
        "CREDS_IV",
        "JWT_SECRET",
        "JWT_REFRESH_SECRET",
        "CUSTOM_CRM_MCP_TOKEN",
    ] {
        let v = get(n);
        assert!(!list.all().contains(&v), "{n}'s value is shown");
        for (file, bytes) in ws.snapshot() {
            assert!(
                !String::from_utf8_lossy(&bytes).contains(&v),
                "{n} in {file}"
            );
        }
    }
    // The rendered config sends the token as a header reference, never the value.
    let yaml = ws.read("client-configs/acme/librechat.yaml");
    assert!(
        yaml.contains("X-MCP-Access-Token: \"${CUSTOM_CRM_MCP_TOKEN}\""),
        "{yaml}"
    );
    assert!(
        yaml.contains("X-MCP-Access-Token: \"${KNOWLEDGE_BASE_MCP_TOKEN}\""),
        "{yaml}"
    );
}

#[test]
fn generate_never_changes_a_value_and_rotate_changes_exactly_one() {
    let ws = TempWorkspace::example();
    ws.write(
        "client-configs/client-c/mcp-servers.json",
        r#"{"client_id": "client-c", "client_name": "C", "users": [{"id": "alice"}, {"id": "bob"}],
            "mcp_servers": [{"name": "ServiceDesk", "type": "client-specific"}]}"#,
    );
    let run = ws.run(&["secret", "generate", "client-c"]);
    assert_eq!(run.code, 0, "{run:?}");
    for u in ["alice", "bob"] {
        let t = stored(
            ws.path(),
            SecretScope::User {
                client: "client-c".into(),
                user: u.into(),
            },
            "SERVICEDESK_MCP_TOKEN",
        );
        assert!(is_hex(&t.unwrap(), 64), "{u}");
    }

    for client in ["client-a", "client-b", "client-c", "default"] {
        let before_fp = fingerprints(&ws, client);
        let before = ws.snapshot();
        let run = ws.run(&["secret", "generate", client]);
        assert_eq!(run.code, 0, "{run:?}");
        assert!(run.stdout.contains("nothing to generate"), "{run:?}");
        assert_eq!(ws.snapshot(), before, "{client}: nothing written");
        assert_eq!(
            fingerprints(&ws, client),
            before_fp,
            "{client}: fingerprints stable"
        );
    }

    let before = fingerprints(&ws, "client-a");
    let old = stored(
        ws.path(),
        SecretScope::Client("client-a".into()),
        "JWT_SECRET",
    )
    .unwrap();
    let run = ws.run(&["secret", "rotate", "client-a", "JWT_SECRET"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout
            .contains("rotated JWT_SECRET for client-a: hmac-sha256:"),
        "{run:?}"
    );
    let after = fingerprints(&ws, "client-a");
    let changed: Vec<&str> = before
        .iter()
        .zip(&after)
        .filter(|(b, a)| b != a)
        .map(|(b, _)| b.0.as_str())
        .collect();
    assert_eq!(changed, ["JWT_SECRET"]);
    let new = stored(
        ws.path(),
        SecretScope::Client("client-a".into()),
        "JWT_SECRET",
    )
    .unwrap();
    assert!(is_hex(&new, 64));
    assert_ne!(new, old);

    // Per user, and shared.
    let run = ws.run(&[
        "secret",
        "rotate",
        "client-c",
        "--user",
        "bob",
        "SERVICEDESK_MCP_TOKEN",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    let run = ws.run(&["secret", "rotate", "default", "KNOWLEDGE_BASE_MCP_TOKEN"]);
    assert_eq!(run.code, 0, "{run:?}");

    // Not generated: refused with a hint, nothing written.
    let before = ws.snapshot();
    for (args, hint) in [
        (
            vec!["secret", "rotate", "client-a", "MONGO_URI"],
            "scalewize secret set client-a MONGO_URI",
        ),
        (
            vec!["secret", "rotate", "client-a", "KNOWLEDGE_BASE_MCP_TOKEN"],
            "scalewize secret rotate default KNOWLEDGE_BASE_MCP_TOKEN",
        ),
        (
            vec!["secret", "rotate", "client-c", "SERVICEDESK_MCP_TOKEN"],
            "--user",
        ),
    ] {
        let run = ws.run(&args);
        assert_eq!(run.code, 1, "{args:?}: {run:?}");
        assert!(run.stderr.contains(hint), "{args:?}: {run:?}");
    }
    assert_eq!(ws.snapshot(), before);
}

#[test]
fn a_wrong_or_missing_identity_exits_1_says_how_to_fix_and_writes_nothing() {
    let ws = TempWorkspace::example();
    ws.run(&["secret", "rm", "client-b", "CREDS_IV"]);
    let (other, _) = scalewize::secrets::keygen();
    let other = other.expose().to_string();
    let mut settings: serde_json::Value = serde_json::from_str(&ws.read("scalewize.json")).unwrap();
    settings.as_object_mut().unwrap().remove("identity_file");
    let no_setting = settings.to_string();
    let original = ws.read("scalewize.json");

    type Env<'a> = Vec<(&'a str, &'a str)>;
    let cases: Vec<(&str, Env, bool)> = vec![
        (
            "wrong key",
            vec![("SCALEWIZE_AGE_KEY", other.as_str())],
            false,
        ),
        (
            "garbage key",
            vec![("SCALEWIZE_AGE_KEY", "AGE-SECRET-KEY-1NOPE")],
            false,
        ),
        (
            "missing key file",
            vec![("SCALEWIZE_AGE_KEY_FILE", "/nonexistent/key.txt")],
            false,
        ),
        ("no identity at all", vec![], true),
    ];
    for (what, env, drop_setting) in cases {
        ws.write(
            "scalewize.json",
            if drop_setting { &no_setting } else { &original },
        );
        let before = ws.snapshot();
        let mut runs = vec![
            ws.run_env(&["secret", "list", "client-a"], &env),
            ws.run_env(&["secret", "list", "client-a", "--json"], &env),
            ws.run_env(&["secret", "generate", "client-b"], &env),
            ws.run_env(&["secret", "rotate", "client-a", "JWT_SECRET"], &env),
            ws.run_env(&["secret", "reencrypt"], &env),
            ws.run_env(&["new", "acme"], &env),
        ];
        runs.push(ws.run_stdin(&["secret", "set", "client-a", "X"], &env, b"value"));
        for run in &runs {
            assert_eq!(run.code, 1, "{what}: {run:?}");
            assert!(run.stderr.contains("cannot decrypt"), "{what}: {run:?}");
            for way in [
                "SCALEWIZE_AGE_KEY",
                "SCALEWIZE_AGE_KEY_FILE",
                "\"identity_file\"",
            ] {
                assert!(
                    run.stderr.contains(way),
                    "{what}: says how ({way}): {run:?}"
                );
            }
            assert!(
                !run.stderr.contains("NOPE"),
                "the key's text is not shown: {run:?}"
            );
            assert!(run.stdout.is_empty(), "no partial report: {run:?}");
        }
        assert!(
            runs[0].stderr.contains("`secret list` shows fingerprints"),
            "{:?}",
            runs[0]
        );
        if what == "wrong key" {
            assert!(
                runs[0].stderr.contains("is not one of the recipients"),
                "{:?}",
                runs[0]
            );
        }
        assert_eq!(ws.snapshot(), before, "{what}: nothing written");
        assert!(!ws.path().join("client-configs/acme").exists());
        // Names need no identity: render and validate's checks still run.
        assert_eq!(ws.run_env(&["render", "--check"], &env).code, 0, "{what}");
    }
}

#[test]
fn validate_reports_a_missing_secret_with_the_command_that_sets_it() {
    let ws = TempWorkspace::example();
    assert_eq!(ws.run(&["validate"]).code, 0, "the example is complete");
    let run = ws.run(&["secret", "rm", "client-b", "ERP_API_KEY"]);
    assert_eq!(run.code, 0, "{run:?}");
    let run = ws.run(&["secret", "rm", "default", "KNOWLEDGE_BASE_MCP_TOKEN"]);
    assert_eq!(run.code, 0, "{run:?}");
    // No identity needed to find out.
    let mut settings: serde_json::Value = serde_json::from_str(&ws.read("scalewize.json")).unwrap();
    settings.as_object_mut().unwrap().remove("identity_file");
    ws.write("scalewize.json", &settings.to_string());
    let before = ws.snapshot();
    let run = ws.run(&["validate"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains("custom-mcp-servers/clients/client-b/custom-erp-mcp/scalewize.json: secrets: secret `ERP_API_KEY` of client-b is not set"),
        "{run:?}"
    );
    assert!(
        run.stderr
            .contains("scalewize secret set client-b ERP_API_KEY"),
        "{run:?}"
    );
    assert!(
        run.stderr
            .contains("`KNOWLEDGE_BASE_MCP_TOKEN` of the shared store is not set"),
        "{run:?}"
    );
    assert!(
        run.stderr.contains("scalewize secret generate default"),
        "{run:?}"
    );
    assert_eq!(
        run.stderr
            .matches("KNOWLEDGE_BASE_MCP_TOKEN` of the shared store")
            .count(),
        1,
        "reported once"
    );
    let json = ws.run(&["validate", "--json", "client-b"]);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let diags = v["clients"][0]["diagnostics"].as_array().unwrap();
    assert!(diags.iter().any(|d| {
        d["message"].as_str().unwrap().contains("ERP_API_KEY")
            && d["hint"]
                .as_str()
                .unwrap()
                .contains("scalewize secret set client-b ERP_API_KEY")
    }));
    // An override satisfies it for the run.
    let run = ws.run_env(
        &["validate", "client-b"],
        &[("SCALEWIZE_SECRET_CLIENT_B__ERP_API_KEY", "demo")],
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(ws.snapshot(), before, "validate writes nothing");
}

#[test]
fn bad_input_changes_nothing() {
    let ws = TempWorkspace::example();
    let before = ws.snapshot();
    let cases: Vec<(Vec<&str>, &[u8], &str)> = vec![
        (
            vec!["secret", "set", "client-a", "X", "the-value"],
            b"",
            "takes no value on the command line",
        ),
        (
            vec!["secret", "set", "client-a", "X"],
            b"",
            "no value for X on stdin",
        ),
        (
            vec!["secret", "set", "client-a", "X"],
            b"\n",
            "no value for X on stdin",
        ),
        (vec!["secret", "set", "client-a", "X"], b"a\0b", "NUL"),
        (
            vec!["secret", "set", "client-a", "X"],
            &[0xff, 0xfe],
            "not UTF-8",
        ),
        (
            vec!["secret", "set", "client-a", "1BAD"],
            b"v",
            "invalid secret name",
        ),
        (
            vec!["secret", "set", "client-a", "--user", "Bad_User", "X"],
            b"v",
            "invalid user id",
        ),
        (
            vec!["secret", "set", "default", "--user", "alice", "X"],
            b"v",
            "no per-user secrets",
        ),
        (
            vec!["secret", "set", "client-z", "X"],
            b"v",
            "unknown client `client-z`",
        ),
        (
            vec!["secret", "rm", "client-a", "NOT_THERE"],
            b"",
            "not in client-configs/client-a/secrets.env",
        ),
        (
            vec!["secret", "rm", "client-a", "KNOWLEDGE_BASE_MCP_TOKEN"],
            b"",
            "scalewize secret rm default KNOWLEDGE_BASE_MCP_TOKEN",
        ),
        (
            vec!["secret", "list", "client-a", "extra"],
            b"",
            "unexpected argument (not repeated here",
        ),
        (
            vec!["secret", "keygen", "--out", "scalewize.json"],
            b"",
            "refusing to overwrite",
        ),
    ];
    for (args, stdin, expect) in cases {
        let run = ws.run_stdin(&args, &[], stdin);
        assert_eq!(run.code, 1, "{args:?}: {run:?}");
        assert!(
            run.stderr.contains(expect),
            "{args:?}: expected {expect:?} in {run:?}"
        );
        assert!(!run.all().contains("the-value"), "{run:?}");
    }
    assert_eq!(ws.snapshot(), before);

    // No recipients: writing says how to create a key.
    ws.write(
        "scalewize.json",
        r#"{"prefix": "sw", "identity_file": "example-only.age-identity.txt"}"#,
    );
    let before = ws.snapshot();
    let run = ws.run_stdin(&["secret", "set", "client-a", "X"], &[], b"v");
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains("no age recipients are configured"),
        "{run:?}"
    );
    assert!(run.stderr.contains("scalewize secret keygen"), "{run:?}");
    let run = ws.run(&["new", "acme"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("nothing was created"), "{run:?}");
    assert_eq!(ws.snapshot(), before);
}

#[test]
fn list_marks_overrides_and_inherited_values() {
    let ws = TempWorkspace::example();
    // The agency's one Slack OAuth app, shared by every client.
    let run = ws.run(&["secret", "rm", "client-a", "SLACK_MCP_OAUTH_CLIENT_ID"]);
    assert_eq!(run.code, 0, "{run:?}");
    let run = ws.run_stdin(
        &["secret", "set", "default", "SLACK_MCP_OAUTH_CLIENT_ID"],
        &[],
        b"agency-slack-app",
    );
    assert_eq!(run.code, 0, "{run:?}");
    let stored_fp = fingerprints(&ws, "client-a")
        .into_iter()
        .find(|(n, _, _)| n == "MONGO_URI")
        .unwrap()
        .2;
    let mongo = stored(
        ws.path(),
        SecretScope::Client("client-a".into()),
        "MONGO_URI",
    )
    .unwrap();
    let run = ws.run_env(
        &["secret", "list", "client-a"],
        &[
            ("SCALEWIZE_SECRET_CLIENT_A__MONGO_URI", mongo.as_str()),
            ("SCALEWIZE_SECRET_CLIENT_A__EXTRA", "only-for-this-run"),
        ],
    );
    assert_eq!(run.code, 0, "{run:?}");
    let line = |n: &str| {
        run.stdout
            .lines()
            .find(|l| l.starts_with(&format!("{n} ")))
            .unwrap_or_else(|| panic!("{n}: {run:?}"))
            .to_string()
    };
    assert!(line("MONGO_URI").contains("override (SCALEWIZE_SECRET_CLIENT_A__MONGO_URI)"));
    assert!(
        line("MONGO_URI").contains(&stored_fp),
        "same value, same fingerprint: {run:?}"
    );
    assert!(line("EXTRA").contains("override"));
    assert!(
        line("SLACK_MCP_OAUTH_CLIENT_ID").contains("client-a (from default)"),
        "{run:?}"
    );
    assert!(
        line("KNOWLEDGE_BASE_MCP_TOKEN").contains("default (shared)"),
        "{run:?}"
    );
    assert!(line("CREDS_KEY").contains(" store"));
    assert!(!run.all().contains(&mongo) && !run.all().contains("only-for-this-run"));
}
