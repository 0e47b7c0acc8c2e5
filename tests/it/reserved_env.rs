//! Names LibreChat itself reads (its `.env.example`) cannot be produced by a server's URL
//! variable, a header secret or `librechat.env` unless `librechat.env_override` lists them:
//! `validate` reports the file and JSON path with the fix, and `render` writes nothing.

use serde_json::{Value, json};

use crate::common::TempWorkspace;

const CLIENT_A: &str = "client-configs/client-a/mcp-servers.json";

fn edit(ws: &TempWorkspace, f: impl FnOnce(&mut Value)) {
    let mut v: Value = serde_json::from_str(&ws.read(CLIENT_A)).unwrap();
    f(&mut v);
    ws.write(CLIENT_A, &serde_json::to_string_pretty(&v).unwrap());
}

fn add_server(ws: &TempWorkspace, server: Value) -> usize {
    let mut index = 0;
    edit(ws, |v| {
        let list = v["mcp_servers"].as_array_mut().unwrap();
        list.push(server);
        index = list.len() - 1;
    });
    index
}

fn allow(ws: &TempWorkspace, names: &[&str]) {
    edit(ws, |v| {
        v["librechat"]["env_override"] = json!(names);
    });
}

/// `validate` and `render` both refuse, at `path`, naming `var` and the override; nothing written.
fn assert_reserved(ws: &TempWorkspace, path: &str, var: &str) {
    let before = ws.snapshot();
    let v = ws.run(&["validate", "client-a"]);
    assert_eq!(v.code, 1, "{v:?}");
    assert!(
        v.stderr.contains(&format!("{CLIENT_A}: {path}")),
        "location {path}: {v:?}"
    );
    assert!(
        v.stderr.contains(&format!("`{var}`"))
            && v.stderr.contains("LibreChat itself reads")
            && v.stderr.contains(&format!("\"env_override\": [\"{var}\"]")),
        "{v:?}"
    );
    let r = ws.run(&["render", "client-a"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(ws.snapshot(), before, "nothing written");
}

#[test]
fn a_server_whose_url_variable_is_rag_api_url_is_refused_unless_overridden() {
    let ws = TempWorkspace::example();
    let i = add_server(
        &ws,
        json!({"name": "RAG API", "server": "rag-api", "type": "shared", "url": "https://rag.example.com/mcp", "enabled": true, "oauth_required": false}),
    );
    assert_reserved(&ws, &format!("mcp_servers[{i}].name"), "RAG_API_URL");
    assert!(
        ws.run(&["validate", "client-a"])
            .stderr
            .contains("rename the server: its variables derive from its slug (`rag-api`)")
    );
    allow(&ws, &["RAG_API_URL"]);
    // validate also checks the generated files are current: render the accepted config.
    assert_eq!(ws.run(&["render", "client-a"]).code, 0);
    let ok = ws.run(&["validate", "client-a"]);
    assert_eq!(ok.code, 0, "an explicit override is accepted: {ok:?}");
}

#[test]
fn librechat_env_setting_port_is_refused_at_its_json_path() {
    let ws = TempWorkspace::example();
    edit(&ws, |v| {
        v["librechat"]["env"] = json!({"PORT": "x"});
    });
    assert_reserved(&ws, "librechat.env.PORT", "PORT");
    allow(&ws, &["PORT"]);
    assert_eq!(ws.run(&["render", "client-a"]).code, 0);
    assert_eq!(ws.run(&["validate", "client-a"]).code, 0);
}

#[test]
fn a_header_secret_named_like_a_librechat_key_is_refused() {
    let ws = TempWorkspace::example();
    let i = add_server(
        &ws,
        json!({
            "name": "Search Proxy", "type": "shared", "url": "https://search.example.com/mcp",
            "enabled": true, "oauth_required": false,
            "secrets": ["OPENAI_API_KEY"],
            "headers": {"Authorization": "Bearer ${OPENAI_API_KEY}"}
        }),
    );
    assert_reserved(
        &ws,
        &format!("mcp_servers[{i}].secrets[0]"),
        "OPENAI_API_KEY",
    );
}

#[test]
fn an_inherited_reserved_name_is_reported_once_in_the_default_file() {
    let ws = TempWorkspace::example();
    let p = "client-configs/default/mcp-servers.json";
    let mut v: Value = serde_json::from_str(&ws.read(p)).unwrap();
    v["librechat"]
        .as_object_mut()
        .unwrap()
        .remove("env_override");
    ws.write(p, &serde_json::to_string_pretty(&v).unwrap());
    let run = ws.run(&["validate"]);
    assert_eq!(run.code, 1, "{run:?}");
    let line = format!("{p}: librechat.env.ALLOW_REGISTRATION");
    assert_eq!(run.stderr.matches(&line).count(), 1, "{run:?}");
    // A client's own list adds to default's instead of replacing it.
    let ws = TempWorkspace::example();
    allow(&ws, &["PORT"]);
    edit(&ws, |v| {
        v["librechat"]["env"] = json!({"PORT": "3081"});
    });
    assert_eq!(ws.run(&["render", "client-a"]).code, 0);
    let ok = ws.run(&["validate", "client-a"]);
    assert_eq!(ok.code, 0, "{ok:?}");
}
