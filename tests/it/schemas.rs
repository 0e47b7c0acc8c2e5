//! The JSON Schemas in `schemas/` are generated from the Rust types; this fails when they are
//! stale. `SCALEWIZE_BLESS=1 cargo test --test it schemas` rewrites them.

use crate::common;

use scalewize::workspace::schema;

#[test]
fn shipped_schemas_match_the_types() {
    let dir = common::repo_root().join(schema::SCHEMA_DIR);
    let bless = std::env::var_os("SCALEWIZE_BLESS").is_some();
    let mut stale = Vec::new();
    for (name, content) in schema::all() {
        let path = dir.join(name);
        if bless {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &content).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(content.as_str()) {
            stale.push(name);
        }
    }
    assert!(
        stale.is_empty(),
        "stale schemas {stale:?}: run `SCALEWIZE_BLESS=1 cargo test --test it schemas`"
    );
}

#[test]
fn example_files_point_at_the_shipped_schemas() {
    let root = common::repo_root();
    for (file, schema_name) in [
        (
            "client-configs/client-a/mcp-servers.json",
            "mcp-servers.schema.json",
        ),
        (
            "custom-mcp-servers/shared/knowledge-base-mcp/scalewize.json",
            "server-manifest.schema.json",
        ),
        ("scalewize.json", "workspace.schema.json"),
    ] {
        let path = root.join(file);
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let rel = v["$schema"].as_str().unwrap();
        let target = path.parent().unwrap().join(rel);
        assert!(
            target.ends_with(format!("schemas/{schema_name}")),
            "{file}: {rel}"
        );
        assert!(target.is_file(), "{file}: {rel} does not exist");
    }
}

#[test]
fn shipped_output_schemas_match_the_types() {
    use scalewize::commands::output;
    let dir = common::repo_root().join(output::OUTPUT_SCHEMA_DIR);
    let bless = std::env::var_os("SCALEWIZE_BLESS").is_some();
    let mut stale = Vec::new();
    for (command, content) in output::schemas() {
        let path = dir.join(output::schema_file(command));
        if bless {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &content).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(content.as_str()) {
            stale.push(command);
        }
    }
    assert!(
        stale.is_empty(),
        "stale output schemas {stale:?}: run `SCALEWIZE_BLESS=1 cargo test --test it schemas`"
    );
}
