//! Tool results, tool errors and the `whoami` tool every server gets.

use std::fmt;

use rmcp::{
    handler::server::{
        common::schema_for_empty_input,
        router::tool::{ToolRoute, ToolRouter},
    },
    model::{CallToolResult, ContentBlock, IntoContents, Tool, ToolAnnotations},
};

use crate::{Caller, Kit};

/// An error the end user reads: returned as a tool result with `isError: true` (not a JSON-RPC
/// error, which MCP clients show opaquely). Return `Result<CallToolResult, ToolError>` from a
/// `#[tool]` method and use `?`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolError(String);

impl ToolError {
    pub fn new(message: impl Into<String>) -> Self {
        ToolError(message.into())
    }

    pub fn message(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ToolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ToolError {}

impl IntoContents for ToolError {
    fn into_contents(self) -> Vec<ContentBlock> {
        vec![ContentBlock::text(self.0)]
    }
}

/// A successful tool result holding `value` as pretty-printed JSON text.
pub fn json_result(value: &serde_json::Value) -> CallToolResult {
    let text = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
    CallToolResult::success(vec![ContentBlock::text(text)])
}

/// Implemented by every server handler so the kit's tools can reach its [`Kit`].
pub trait HasKit {
    fn kit(&self) -> &Kit;
}

const WHOAMI_DESCRIPTION: &str = "Show which server answered, the LibreChat user id it saw and, \
     for each credential, where it came from (request header or server env) with only its last 4 \
     characters. Use it to check a connection; it never calls the upstream service.";

fn whoami<S: HasKit>(server: &S, caller: Caller) -> CallToolResult {
    json_result(&server.kit().whoami(&caller))
}

/// A router holding only the `whoami` tool; add it to the server's own:
/// `Self::tool_router() + kit::whoami_router()`.
pub fn whoami_router<S>() -> ToolRouter<S>
where
    S: HasKit + Send + Sync + 'static,
{
    let attr = Tool::new("whoami", WHOAMI_DESCRIPTION, schema_for_empty_input())
        .with_annotations(ToolAnnotations::with_title("Who am I").read_only(true));
    ToolRouter::new().with_route(ToolRoute::new(attr, whoami::<S>))
}
