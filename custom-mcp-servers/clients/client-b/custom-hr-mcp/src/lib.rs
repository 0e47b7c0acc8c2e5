//! `custom-hr-mcp`: client B's HR system (credential mode `service`).
//!
//! One instance per client, with one service key: `HR_API_KEY` (a secret from the client's
//! store) and `HR_BASE_URL` (manifest `env`) are read once at start. When either is empty the
//! server still starts and the tools answer that the HR system is not configured.
//!
//! Upstream (REST, `Authorization: Bearer <HR_API_KEY>`):
//! `GET /employees?department=&limit=`, `GET /employees/{id}`,
//! `GET /time-off?employee_id=&status=&limit=`.

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

/// The client's HR service key.
pub const HR_API_KEY: CredentialSpec =
    CredentialSpec::from_env("HR_API_KEY", "Custom HR", "HR API key");

pub static SPEC: ServerSpec = ServerSpec {
    name: env!("CARGO_PKG_NAME"),
    version: env!("CARGO_PKG_VERSION"),
    title: "Custom HR",
    instructions: "Client B's HR system: list and read employees, list time-off requests \
                   (read-only).",
    credentials: &[HR_API_KEY],
};

const DEFAULT_LIMIT: u32 = 20;
const MAX_LIMIT: u32 = 100;

#[derive(Clone)]
pub struct HrServer {
    kit: Kit,
    /// `None` when `HR_BASE_URL` is empty.
    api: Option<Upstream>,
    tool_router: ToolRouter<Self>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ListEmployeesArgs {
    /// Only employees of this department, e.g. "Sales".
    pub department: Option<String>,
    /// At most this many (1-100, default 20).
    pub limit: Option<u32>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct EmployeeIdArgs {
    /// The employee id, as returned by list_employees.
    pub employee_id: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ListTimeOffArgs {
    /// Only this employee's requests.
    pub employee_id: Option<String>,
    /// Only requests with this status, e.g. "pending", "approved".
    pub status: Option<String>,
    /// At most this many (1-100, default 20).
    pub limit: Option<u32>,
}

/// Query parameters from optional filters, plus the clamped limit.
fn query(
    filters: &[(&'static str, &Option<String>)],
    limit: Option<u32>,
) -> Vec<(&'static str, String)> {
    let mut query: Vec<(&'static str, String)> = filters
        .iter()
        .filter_map(|(name, value)| {
            let value = value.as_deref()?.trim();
            (!value.is_empty()).then(|| (*name, value.to_owned()))
        })
        .collect();
    let limit = limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    query.push(("limit", limit.to_string()));
    query
}

#[tool_router]
impl HrServer {
    pub fn new(kit: Kit) -> Result<Self, String> {
        let tool_router = kit.restrict(Self::tool_router() + kit::whoami_router())?;
        let api = kit::env_var("HR_BASE_URL")
            .map(|url| Upstream::new("Custom HR", &url))
            .transpose()?;
        Ok(HrServer {
            kit,
            api,
            tool_router,
        })
    }

    #[tool(description = "List employees.", annotations(read_only_hint = true))]
    async fn list_employees(
        &self,
        caller: Caller,
        Parameters(args): Parameters<ListEmployeesArgs>,
    ) -> Result<CallToolResult, ToolError> {
        let query = query(&[("department", &args.department)], args.limit);
        let body = self.get(&caller, "/employees", &query).await?;
        Ok(kit::json_result(&json!({ "employees": body["employees"] })))
    }

    #[tool(
        description = "Get one employee's record.",
        annotations(read_only_hint = true)
    )]
    async fn get_employee(
        &self,
        caller: Caller,
        Parameters(args): Parameters<EmployeeIdArgs>,
    ) -> Result<CallToolResult, ToolError> {
        let path = format!("/employees/{}", path_segment(args.employee_id.trim()));
        let body = self.get(&caller, &path, &[]).await?;
        Ok(kit::json_result(body.get("employee").unwrap_or(&body)))
    }

    #[tool(
        description = "List time-off requests.",
        annotations(read_only_hint = true)
    )]
    async fn list_time_off(
        &self,
        caller: Caller,
        Parameters(args): Parameters<ListTimeOffArgs>,
    ) -> Result<CallToolResult, ToolError> {
        let query = query(
            &[("employee_id", &args.employee_id), ("status", &args.status)],
            args.limit,
        );
        let body = self.get(&caller, "/time-off", &query).await?;
        Ok(kit::json_result(&json!({ "time_off": body["time_off"] })))
    }
}

impl HrServer {
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
                &HR_API_KEY,
                "HR_BASE_URL",
                path,
                query,
            )
            .await
    }
}

impl HasKit for HrServer {
    fn kit(&self) -> &Kit {
        &self.kit
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for HrServer {
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

    #[test]
    fn empty_filters_are_left_out_and_limits_clamped() {
        let query = super::query(
            &[
                ("a", &Some(" x ".into())),
                ("b", &Some("  ".into())),
                ("c", &None),
            ],
            Some(1000),
        );
        assert_eq!(query, [("a", "x".to_owned()), ("limit", "100".to_owned())]);
    }
}
