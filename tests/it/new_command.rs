//! `new`: scaffold a client, or refuse and create nothing.

use crate::common;

use common::{TempWorkspace, Validator};

#[test]
fn new_client_with_a_hostile_name_renders_valid_files() {
    let ws = TempWorkspace::example();
    let name = r#"Acme "Quotes": {{x}} ${Y}"#;
    let run = ws.run(&["new", "acme", "--name", name]);
    assert_eq!(run.code, 0, "{run:?}");
    let file: serde_json::Value =
        serde_json::from_str(&ws.read("client-configs/acme/mcp-servers.json")).unwrap();
    assert_eq!(file["client_name"], name);
    assert_eq!(file["client_id"], "acme");
    assert_eq!(file["$schema"], "../../schemas/mcp-servers.schema.json");
    let env = ws.read("client-configs/acme/environment.env");
    let parsed: Vec<(String, String)> = dotenvy::from_read_iter(env.as_bytes())
        .map(Result::unwrap)
        .collect();
    assert!(
        parsed.contains(&("CLIENT_NAME".to_string(), name.to_string())),
        "{env}"
    );
    let filled = ws.path().join("acme.env");
    std::fs::write(&filled, common::env_with_urls(&env)).unwrap();
    let v = Validator::new().run(
        &[&ws.path().join("client-configs/acme/librechat.yaml")],
        &[&filled],
        true,
    );
    assert!(v.ok, "{}", v.output);
    // The new client inherits default's servers.
    assert!(
        ws.read("client-configs/acme/librechat.yaml")
            .contains("google-drive-mcp:")
    );
    assert_eq!(
        ws.run(&["render", "--check", "acme"]).code,
        0,
        "new leaves the client rendered"
    );
}

#[test]
fn invalid_reserved_and_existing_ids_exit_1_and_create_nothing() {
    let ws = TempWorkspace::example();
    let before = ws.snapshot();
    for (id, expect) in [
        ("../evil", "invalid client id"),
        ("default", "reserved"),
        ("Bad_Id", "e.g. `bad-id`"),
        ("9lives", "starting with a letter"),
        ("client-a", "already exists"),
    ] {
        let run = ws.run(&["new", id]);
        assert_eq!(run.code, 1, "{id}: {run:?}");
        assert!(run.stderr.contains(expect), "{id}: {run:?}");
    }
    assert_eq!(ws.snapshot(), before, "nothing was created");
    assert!(!ws.path().join("evil").exists());
}

#[test]
fn a_new_client_that_would_not_render_creates_nothing() {
    let ws = TempWorkspace::example();
    // A default that references a server folder that does not exist breaks every new client.
    ws.write(
        "client-configs/default/mcp-servers.json",
        r#"{"mcp_servers": [{"name": "Ghost", "type": "shared"}]}"#,
    );
    let before = ws.snapshot();
    let run = ws.run(&["new", "acme"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("nothing was created"), "{run:?}");
    assert_eq!(ws.snapshot(), before);
}

#[test]
fn a_new_server_for_a_client_is_scaffolded_and_planned_for_the_next_deploy() {
    let ws = TempWorkspace::example();
    ws.write("Cargo.toml", &servers_workspace());
    let run = ws.run(&["new", "--server", "billing-mcp", "--client", "client-b"]);
    assert_eq!(run.code, 0, "{run:?}");
    let dir = "custom-mcp-servers/clients/client-b/billing-mcp";
    // The crate and manifest are renamed, and their relative paths resolve from the new folder.
    let cargo = ws.read(&format!("{dir}/Cargo.toml"));
    assert!(cargo.contains("name = \"billing-mcp\""), "{cargo}");
    assert!(cargo.contains("path = \"../../../kit\""), "{cargo}");
    assert!(
        ws.path()
            .join(dir)
            .join("../../../kit/Cargo.toml")
            .is_file()
    );
    let manifest: serde_json::Value =
        serde_json::from_str(&ws.read(&format!("{dir}/scalewize.json"))).unwrap();
    assert_eq!(manifest["run"]["cargo_bin"], "billing-mcp");
    assert_eq!(manifest["title"], "Billing");
    let schema = ws
        .path()
        .join(dir)
        .join(manifest["$schema"].as_str().unwrap());
    assert!(schema.is_file(), "{}", schema.display());
    let lib = ws.read(&format!("{dir}/src/lib.rs"));
    assert!(
        !lib.contains("TemplateServer") && lib.contains("BillingMcpServer"),
        "renamed"
    );
    assert!(
        ws.read(&format!("{dir}/src/main.rs"))
            .contains("billing_mcp::SPEC")
    );
    // A member of the Cargo workspace, enabled for the client, its token generated, rendered.
    assert!(ws.read("Cargo.toml").contains(&format!("\"{dir}\",")));
    let secrets = ws.run(&["secret", "list", "client-b", "--json"]);
    assert!(
        secrets.stdout.contains("\"BILLING_MCP_TOKEN\""),
        "{secrets:?}"
    );
    assert_eq!(ws.run(&["validate", "client-b"]).code, 0);
    assert_eq!(ws.run(&["render", "--check", "client-b"]).code, 0);
    assert!(
        ws.read("client-configs/client-b/librechat.yaml")
            .contains("billing-mcp:")
    );
    // Prebuilt binaries, the new one stood in for by another server's: the plan needs no
    // build (a deploy would build the new crate with cargo; too slow for this test).
    let bins = tempfile::tempdir().unwrap();
    let prebuilt = common::local::server_bins();
    for b in ["custom-erp-mcp", "custom-hr-mcp", "knowledge-base-mcp"] {
        std::os::unix::fs::symlink(prebuilt.join(b), bins.path().join(b)).unwrap();
    }
    std::os::unix::fs::symlink(
        prebuilt.join("custom-erp-mcp"),
        bins.path().join("billing-mcp"),
    )
    .unwrap();
    let bin_dir = bins.path().display().to_string();
    let plan = ws.run_env(
        &["diff", "client-b"],
        &[("SCALEWIZE_LOCAL_BIN_DIR", bin_dir.as_str())],
    );
    assert!(plan.stdout.contains("+ client-b/billing-mcp"), "{plan:?}");

    // Again: refused, nothing written.
    let before = ws.snapshot();
    let again = ws.run(&["new", "--server", "billing-mcp", "--client", "client-b"]);
    assert_eq!(again.code, 1, "{again:?}");
    assert_eq!(ws.snapshot(), before);
}

#[test]
fn a_new_shared_server_gets_its_folder_member_and_token() {
    let ws = TempWorkspace::example();
    ws.write("Cargo.toml", "[workspace]\nmembers = [\".\"]\n");
    let run = ws.run(&["new", "--server", "search-mcp"]);
    assert_eq!(run.code, 0, "{run:?}");
    let dir = "custom-mcp-servers/shared/search-mcp";
    assert!(
        ws.read(&format!("{dir}/Cargo.toml"))
            .contains("path = \"../../kit\"")
    );
    assert!(ws.read("Cargo.toml").contains(&format!("\"{dir}\"")));
    let secrets = ws.run(&["secret", "list", "default", "--json"]);
    assert!(
        secrets.stdout.contains("\"SEARCH_MCP_TOKEN\""),
        "{secrets:?}"
    );
    // Bad names and a missing client are refused before anything is written.
    let before = ws.snapshot();
    for args in [
        vec!["new", "--server", "Bad_Name"],
        vec!["new", "--server", "x-mcp", "--client", "nosuch"],
        vec!["new", "--client", "client-a"],
    ] {
        let r = ws.run(&args);
        assert_eq!(r.code, 1, "{args:?}: {r:?}");
    }
    assert_eq!(ws.snapshot(), before);
}

/// A root Cargo.toml for the example workspace copy: the repository's server members and
/// workspace dependencies (what `cargo metadata` needs to list the servers' binaries).
fn servers_workspace() -> String {
    let root = std::fs::read_to_string(common::repo_root().join("Cargo.toml")).unwrap();
    let members: Vec<&str> = root
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("\"custom-mcp-servers/"))
        .collect();
    let deps_at = root.find("[workspace.dependencies]").unwrap();
    let deps_end = root[deps_at + 1..]
        .find("\n[")
        .map_or(root.len(), |i| deps_at + 1 + i);
    format!(
        "[workspace]\nmembers = [\n    {}\n]\nresolver = \"3\"\n\n{}\n",
        members.join("\n    "),
        &root[deps_at..deps_end]
    )
}

#[test]
fn new_makes_the_gitignore_cover_the_state_folder_once() {
    let ws = TempWorkspace::example();
    ws.write(".gitignore", "/target");
    let first = ws.run(&["new", "acme"]);
    assert_eq!(first.code, 0, "{first:?}");
    assert!(
        first.stdout.contains(".gitignore now ignores .scalewize/"),
        "{first:?}"
    );
    let second = ws.run(&["new", "acme-two"]);
    assert_eq!(second.code, 0, "{second:?}");
    assert!(!second.stdout.contains(".gitignore"), "{second:?}");
    let text = ws.read(".gitignore");
    assert_eq!(
        text.lines().filter(|l| l.contains(".scalewize")).count(),
        1,
        "{text}"
    );
    // git itself agrees, where git is installed.
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(ws.path())
            .output()
    };
    if git(&["init", "-q"]).is_ok_and(|o| o.status.success()) {
        let out = git(&["check-ignore", "-q", ".scalewize/acme/environment.env"]).unwrap();
        assert!(out.status.success(), "git does not ignore .scalewize/");
    }
}
