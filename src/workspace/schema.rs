//! The JSON Schemas shipped in `schemas/`, generated from the Rust types so they never drift
//! (a test fails when the shipped copy is stale; `SCALEWIZE_BLESS=1 cargo test` rewrites it).

use schemars::JsonSchema;

use super::files::{ClientFile, ServerManifest, WorkspaceFile};
use super::prices::PriceFile;

pub const SCHEMA_DIR: &str = "schemas";

fn one<T: JsonSchema>(id: &str) -> String {
    let mut schema = schemars::schema_for!(T);
    schema.insert(
        "$id".into(),
        format!("https://scalewize.dev/schemas/{id}").into(),
    );
    serde_json::to_string_pretty(&schema).expect("schema serializes") + "\n"
}

/// File name → content of every shipped schema.
pub fn all() -> Vec<(&'static str, String)> {
    vec![
        (
            "mcp-servers.schema.json",
            one::<ClientFile>("mcp-servers.schema.json"),
        ),
        (
            "server-manifest.schema.json",
            one::<ServerManifest>("server-manifest.schema.json"),
        ),
        (
            "workspace.schema.json",
            one::<WorkspaceFile>("workspace.schema.json"),
        ),
        ("prices.schema.json", one::<PriceFile>("prices.schema.json")),
    ]
}
