//! `base-mcp-template`: the smallest complete MCP server on scalewize's kit, made to be copied.
//!
//! Everything the contract asks for (`docs/server-contract.md`: env config, access token,
//! `/health`, streamable HTTP, per-user credentials, `whoami`, logs without secrets) comes from
//! `scalewize-mcp-kit`; this file holds only what is specific to the server:
//!
//! 1. the credentials its tools need ([`EXAMPLE_API_KEY`]), mirrored by `user_vars` in
//!    `scalewize.json`;
//! 2. its [`SPEC`] (name, version, title, instructions, credentials);
//! 3. its tools, as `#[tool]` methods of [`TemplateServer`].
//!
//! See README.md for how to copy, rename and extend it.

use rmcp::{
    ServerHandler,
    handler::server::{router::tool::ToolRouter, wrapper::Parameters},
    model::{CallToolResult, ServerConfig},
    tool, tool_handler, tool_router,
};
use scalewize_mcp_kit::{self as kit, Caller, CredentialSpec, HasKit, Kit, ServerSpec, ToolError};
use serde::Deserialize;
use serde_json::json;

/// Each end user's key for the example service: entered in LibreChat, sent as the
/// `X-Example-Api-Key` header; the server's own `EXAMPLE_API_KEY` env var serves users who have
/// not entered one.
pub const EXAMPLE_API_KEY: CredentialSpec = CredentialSpec::per_user(
    "EXAMPLE_API_KEY",
    "X-Example-Api-Key",
    "Example Service",
    "Example API key",
)
.with_env_fallback("EXAMPLE_API_KEY");

/// What this server says about itself.
pub static SPEC: ServerSpec = ServerSpec {
    name: env!("CARGO_PKG_NAME"),
    version: env!("CARGO_PKG_VERSION"),
    title: "Base MCP Template",
    instructions: "An example server. `echo` sends a message back using the caller's Example \
                   API key; `whoami` shows which credentials the server sees.",
    credentials: &[EXAMPLE_API_KEY],
};

/// The tool handler. rmcp clones it for every MCP session, so keep it cheap to clone: the kit
/// and any client you add are `Arc`s inside.
#[derive(Clone)]
pub struct TemplateServer {
    kit: Kit,
    tool_router: ToolRouter<Self>,
}

/// Arguments of `echo`. Doc comments become the JSON-schema descriptions the model reads.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct EchoArgs {
    /// The text to send back.
    pub message: String,
}

#[tool_router]
impl TemplateServer {
    /// Builds the server once at start; read static settings (base URLs) here and return an
    /// `Err` to refuse to start (exit code 2).
    pub fn new(kit: Kit) -> Result<Self, String> {
        let tool_router = kit.restrict(Self::tool_router() + kit::whoami_router())?;
        Ok(TemplateServer { kit, tool_router })
    }

    #[tool(
        description = "Send a message back, with the (masked) Example API key that would be used \
                       to call the example service.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn echo(
        &self,
        caller: Caller,
        Parameters(args): Parameters<EchoArgs>,
    ) -> Result<CallToolResult, ToolError> {
        // Header first, then the env fallback, else the "not connected" error for the user.
        let key = self.kit.credential(&caller, &EXAMPLE_API_KEY)?;
        // A real tool calls its upstream here with `key.expose()`; see custom-crm-mcp.
        Ok(kit::json_result(&json!({
            "echo": args.message,
            "user": caller.user_id(),
            "key": { "source": key.source(), "masked": key.masked() },
        })))
    }
}

impl HasKit for TemplateServer {
    fn kit(&self) -> &Kit {
        &self.kit
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for TemplateServer {
    fn get_info(&self) -> ServerConfig {
        self.kit.server_config()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_manifest_matches_the_spec() {
        if let Err(problems) =
            scalewize_mcp_kit::testing::check_manifest(env!("CARGO_MANIFEST_DIR"), &super::SPEC)
        {
            panic!("scalewize.json: {problems:#?}");
        }
    }
}
