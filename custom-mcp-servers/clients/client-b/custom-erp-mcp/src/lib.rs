//! `custom-erp-mcp`: client B's ERP (credential mode `service`).
//!
//! One instance per client, with one service key: `ERP_API_KEY` (a secret from the client's
//! store) and `ERP_BASE_URL` (manifest `env`) are read once at start. When either is empty the
//! server still starts (so `initialize`, `tools/list` and `whoami` work) and the tools answer
//! that the ERP is not configured.
//!
//! Upstream (REST, `Authorization: Bearer <ERP_API_KEY>`):
//! `GET /invoices?status=&limit=`, `GET /invoices/{id}`, `GET /purchase-orders?status=&limit=`.

use rmcp::{
    ServerHandler,
    handler::server::{router::tool::ToolRouter, wrapper::Parameters},
    model::{CallToolResult, ServerConfig},
    tool, tool_handler, tool_router,
};
use scalewize_mcp_kit::{
    self as kit, Caller, CredentialSpec, HasKit, Kit, ServerSpec, ToolError, Upstream, path_segment,
};
use serde::Deserialize;
use serde_json::{Value, json};

/// The client's ERP service key.
pub const ERP_API_KEY: CredentialSpec =
    CredentialSpec::from_env("ERP_API_KEY", "Custom ERP", "ERP API key");

pub static SPEC: ServerSpec = ServerSpec {
    name: env!("CARGO_PKG_NAME"),
    version: env!("CARGO_PKG_VERSION"),
    title: "Custom ERP",
    instructions: "Client B's ERP: list and read invoices, list purchase orders (read-only).",
    credentials: &[ERP_API_KEY],
};

const DEFAULT_LIMIT: u32 = 20;
const MAX_LIMIT: u32 = 100;

#[derive(Clone)]
pub struct ErpServer {
    kit: Kit,
    /// `None` when `ERP_BASE_URL` is empty.
    api: Option<Upstream>,
    tool_router: ToolRouter<Self>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ListArgs {
    /// Only documents with this status, e.g. "open", "paid", "overdue".
    pub status: Option<String>,
    /// At most this many (1-100, default 20).
    pub limit: Option<u32>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct InvoiceIdArgs {
    /// The invoice id or number, as returned by list_invoices.
    pub invoice_id: String,
}

#[tool_router]
impl ErpServer {
    pub fn new(kit: Kit) -> Result<Self, String> {
        let tool_router = kit.restrict(Self::tool_router() + kit::whoami_router())?;
        let api = kit::env_var("ERP_BASE_URL")
            .map(|url| Upstream::new("Custom ERP", &url))
            .transpose()?;
        Ok(ErpServer {
            kit,
            api,
            tool_router,
        })
    }

    #[tool(
        description = "List invoices, newest first.",
        annotations(read_only_hint = true)
    )]
    async fn list_invoices(
        &self,
        caller: Caller,
        Parameters(args): Parameters<ListArgs>,
    ) -> Result<CallToolResult, ToolError> {
        let body = self.get(&caller, "/invoices", &args.query()).await?;
        Ok(kit::json_result(&json!({ "invoices": body["invoices"] })))
    }

    #[tool(
        description = "Get one invoice with its lines.",
        annotations(read_only_hint = true)
    )]
    async fn get_invoice(
        &self,
        caller: Caller,
        Parameters(args): Parameters<InvoiceIdArgs>,
    ) -> Result<CallToolResult, ToolError> {
        let path = format!("/invoices/{}", path_segment(args.invoice_id.trim()));
        let body = self.get(&caller, &path, &[]).await?;
        Ok(kit::json_result(body.get("invoice").unwrap_or(&body)))
    }

    #[tool(
        description = "List purchase orders, newest first.",
        annotations(read_only_hint = true)
    )]
    async fn list_purchase_orders(
        &self,
        caller: Caller,
        Parameters(args): Parameters<ListArgs>,
    ) -> Result<CallToolResult, ToolError> {
        let body = self.get(&caller, "/purchase-orders", &args.query()).await?;
        Ok(kit::json_result(
            &json!({ "purchase_orders": body["purchase_orders"] }),
        ))
    }
}

impl ListArgs {
    /// `status` (when given) and `limit` as query parameters.
    fn query(&self) -> Vec<(&'static str, String)> {
        let mut query = Vec::new();
        if let Some(status) = self
            .status
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            query.push(("status", status.to_owned()));
        }
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
        query.push(("limit", limit.to_string()));
        query
    }
}

impl ErpServer {
    /// GET `path` with the service key.
    async fn get(
        &self,
        caller: &Caller,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Value, ToolError> {
        self.kit
            .bearer_get(
                caller,
                self.api.as_ref(),
                &ERP_API_KEY,
                "ERP_BASE_URL",
                path,
                query,
            )
            .await
    }
}

impl HasKit for ErpServer {
    fn kit(&self) -> &Kit {
        &self.kit
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for ErpServer {
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
