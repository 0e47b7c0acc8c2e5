//! `new`: scaffold a client, or refuse and create nothing.

mod common;

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
