//! The `mcp-servers.json` a new client starts from (template `mcp-servers.json.j2`, built in or
//! overridden in the workspace's `templates/`). Values are JSON-escaped by the engine.

use serde_json::json;

use super::engine::{self, CLIENT_FILE_TEMPLATE, TemplateDirs};
use crate::error::{Error, Result};
use crate::workspace::Workspace;

pub fn client_file(ws: &Workspace, id: &str, name: &str) -> Result<String> {
    let dirs = TemplateDirs {
        workspace: ws.templates_dir(),
        client: None,
    };
    let env = engine::environment(dirs.clone());
    let ctx = minijinja::Value::from(minijinja::value::Serde(
        json!({"client": {"id": id, "name": name}}),
    ));
    let out = ws.client_file(id);
    env.get_template(CLIENT_FILE_TEMPLATE)
        .and_then(|t| t.render(&ctx))
        .map_err(|e| Error::from(engine::template_error(&e, &dirs, &out)))
}
