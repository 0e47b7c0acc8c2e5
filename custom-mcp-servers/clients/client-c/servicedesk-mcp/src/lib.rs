//! `servicedesk-mcp`: client C's ServiceDesk Plus (Cloud API v3), credential mode
//! `per-user-instance` (seeds 003/004).
//!
//! ServiceDesk Plus authenticates with a Zoho OAuth refresh token that this server can read only
//! at start, so scalewize runs one instance per end user, each with only that user's
//! `SDP_CLIENT_ID`, `SDP_CLIENT_SECRET` and `SDP_REFRESH_TOKEN` in its environment (and its own
//! `MCP_ACCESS_TOKEN`). Request headers never select credentials here.
//!
//! - Access tokens come from the refresh-token grant at `SDP_TOKEN_URL` (default Zoho's
//!   `https://accounts.zoho.com/oauth/v2/token`), are cached until a minute before they expire,
//!   and are refreshed once more when the API answers 401.
//! - API calls go to `SDP_BASE_URL` (e.g. `https://sdpondemand.manageengine.com/app/itdesk`)
//!   `/api/v3/requests…` with `Authorization: Zoho-oauthtoken <token>` and
//!   `Accept: application/vnd.manageengine.sdp.v3+json`; parameters travel as the `input_data`
//!   JSON (query string for reads, form field for writes), as the v3 API expects.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use rmcp::{
    ServerHandler,
    handler::server::{router::tool::ToolRouter, wrapper::Parameters},
    model::{CallToolResult, ServerConfig},
    tool, tool_handler, tool_router,
};
use scalewize_mcp_kit::{
    self as kit, Caller, CredentialSpec, HasKit, Kit, RequestBuilder, Resolved, Secret, ServerSpec,
    ToolError, Upstream, UpstreamError, path_segment,
};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tokio::sync::Mutex;

const SERVICE: &str = "ServiceDesk Plus";

pub const SDP_CLIENT_ID: CredentialSpec =
    CredentialSpec::from_env("SDP_CLIENT_ID", SERVICE, "OAuth client ID");
pub const SDP_CLIENT_SECRET: CredentialSpec =
    CredentialSpec::from_env("SDP_CLIENT_SECRET", SERVICE, "OAuth client secret");
pub const SDP_REFRESH_TOKEN: CredentialSpec =
    CredentialSpec::from_env("SDP_REFRESH_TOKEN", SERVICE, "OAuth refresh token");

pub static SPEC: ServerSpec = ServerSpec {
    name: env!("CARGO_PKG_NAME"),
    version: env!("CARGO_PKG_VERSION"),
    title: "ServiceDesk",
    instructions: "The user's ServiceDesk Plus: list and read help-desk requests, open new ones. \
                   This instance acts as one user only.",
    credentials: &[SDP_CLIENT_ID, SDP_CLIENT_SECRET, SDP_REFRESH_TOKEN],
};

pub const DEFAULT_TOKEN_URL: &str = "https://accounts.zoho.com/oauth/v2/token";
const ACCEPT_V3: &str = "application/vnd.manageengine.sdp.v3+json";
/// Refresh this long before the token's announced expiry.
const EXPIRY_MARGIN: Duration = Duration::from_secs(60);
/// Zoho access tokens live an hour; used when the answer omits `expires_in`.
const DEFAULT_EXPIRES_IN: u64 = 3600;
const DEFAULT_LIMIT: u32 = 20;
const MAX_LIMIT: u32 = 100;

#[derive(Clone)]
pub struct ServiceDeskServer {
    kit: Kit,
    /// `None` when `SDP_BASE_URL` is empty.
    sdp: Option<Arc<Sdp>>,
    tool_router: ToolRouter<Self>,
}

/// The ServiceDesk Plus API and this instance's cached access token.
struct Sdp {
    api: Upstream,
    token_url: String,
    token: Mutex<Option<AccessToken>>,
}

struct AccessToken {
    value: Secret,
    refresh_at: Instant,
}

/// The three OAuth credentials, resolved (from env) for one call.
struct OAuth {
    client_id: Resolved,
    client_secret: Resolved,
    refresh_token: Resolved,
}

impl OAuth {
    fn all(&self) -> [&Resolved; 3] {
        [&self.refresh_token, &self.client_id, &self.client_secret]
    }
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ListRequestsArgs {
    /// Only requests with this status, e.g. "Open", "On Hold", "Resolved".
    pub status: Option<String>,
    /// At most this many requests (1-100, default 20), newest first.
    pub limit: Option<u32>,
    /// 1-based position of the first request, for paging (default 1).
    pub start_index: Option<u32>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct RequestIdArgs {
    /// The request id, as returned by list_requests.
    pub request_id: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct CreateRequestArgs {
    /// One-line summary.
    pub subject: String,
    /// Details of the problem (plain text or HTML).
    pub description: Option<String>,
    /// Priority name as configured in ServiceDesk Plus, e.g. "High".
    pub priority: Option<String>,
    /// Requester's email; defaults to the user this instance acts as.
    pub requester_email: Option<String>,
}

#[tool_router]
impl ServiceDeskServer {
    /// Reads `SDP_BASE_URL` and `SDP_TOKEN_URL` once (the OAuth secrets are read by the kit).
    pub fn new(kit: Kit) -> Result<Self, String> {
        let tool_router = kit.restrict(Self::tool_router() + kit::whoami_router())?;
        let token_url = kit::env_or("SDP_TOKEN_URL", DEFAULT_TOKEN_URL);
        let sdp = match kit::env_var("SDP_BASE_URL") {
            Some(base_url) => {
                // Validates the token URL the same way as the base URL.
                Upstream::new(SERVICE, &token_url)?;
                Some(Arc::new(Sdp {
                    api: Upstream::new(SERVICE, &base_url)?,
                    token_url,
                    token: Mutex::new(None),
                }))
            }
            None => None,
        };
        Ok(ServiceDeskServer {
            kit,
            sdp,
            tool_router,
        })
    }

    #[tool(
        description = "List ServiceDesk Plus requests, newest first.",
        annotations(read_only_hint = true)
    )]
    async fn list_requests(
        &self,
        caller: Caller,
        Parameters(args): Parameters<ListRequestsArgs>,
    ) -> Result<CallToolResult, ToolError> {
        let mut list_info = json!({
            "row_count": args.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT),
            "start_index": args.start_index.unwrap_or(1).max(1),
            "sort_field": "created_time",
            "sort_order": "desc",
            "get_total_count": true,
        });
        if let Some(status) = args
            .status
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            list_info["search_criteria"] =
                json!({ "field": "status.name", "condition": "is", "value": status });
        }
        let input_data = json!({ "list_info": list_info }).to_string();
        let body = self
            .call(&caller, |api| {
                api.get("/api/v3/requests")
                    .query(&[("input_data", input_data.as_str())])
            })
            .await?;
        Ok(kit::json_result(&json!({
            "requests": body.get("requests").cloned().unwrap_or_else(|| json!([])),
            "list_info": body.get("list_info").cloned().unwrap_or(Value::Null),
        })))
    }

    #[tool(
        description = "Get one ServiceDesk Plus request with all its fields.",
        annotations(read_only_hint = true)
    )]
    async fn get_request(
        &self,
        caller: Caller,
        Parameters(args): Parameters<RequestIdArgs>,
    ) -> Result<CallToolResult, ToolError> {
        let path = format!("/api/v3/requests/{}", path_segment(args.request_id.trim()));
        let body = self.call(&caller, |api| api.get(&path)).await?;
        Ok(kit::json_result(body.get("request").unwrap_or(&body)))
    }

    #[tool(
        description = "Open a new ServiceDesk Plus request.",
        annotations(read_only_hint = false, destructive_hint = false)
    )]
    async fn create_request(
        &self,
        caller: Caller,
        Parameters(args): Parameters<CreateRequestArgs>,
    ) -> Result<CallToolResult, ToolError> {
        let subject = args.subject.trim();
        if subject.is_empty() {
            return Err(ToolError::new("create_request needs a subject"));
        }
        let mut request = Map::new();
        request.insert("subject".into(), json!(subject));
        if let Some(description) = args.description.filter(|d| !d.trim().is_empty()) {
            request.insert("description".into(), json!(description));
        }
        if let Some(priority) = args.priority.filter(|p| !p.trim().is_empty()) {
            request.insert("priority".into(), json!({ "name": priority.trim() }));
        }
        if let Some(email) = args.requester_email.filter(|e| !e.trim().is_empty()) {
            request.insert("requester".into(), json!({ "email_id": email.trim() }));
        }
        let input_data = json!({ "request": request }).to_string();
        let body = self
            .call(&caller, |api| {
                api.post("/api/v3/requests")
                    .form(&[("input_data", input_data.as_str())])
            })
            .await?;
        Ok(kit::json_result(body.get("request").unwrap_or(&body)))
    }
}

impl ServiceDeskServer {
    fn sdp(&self) -> Result<&Sdp, ToolError> {
        self.sdp.as_deref().ok_or_else(|| {
            ToolError::new(format!(
                "{SERVICE} is not configured: SDP_BASE_URL is empty on this server; ask your \
                 administrator to set it in the manifest env of {} and redeploy",
                self.kit.name()
            ))
        })
    }

    fn oauth(&self, caller: &Caller) -> Result<OAuth, ToolError> {
        Ok(OAuth {
            client_id: self.kit.credential(caller, &SDP_CLIENT_ID)?,
            client_secret: self.kit.credential(caller, &SDP_CLIENT_SECRET)?,
            refresh_token: self.kit.credential(caller, &SDP_REFRESH_TOKEN)?,
        })
    }

    /// Sends the request built by `build` with a valid access token; on a 401 refreshes the
    /// token once and retries.
    async fn call(
        &self,
        caller: &Caller,
        build: impl Fn(&Upstream) -> RequestBuilder,
    ) -> Result<Value, ToolError> {
        let oauth = self.oauth(caller)?;
        let sdp = self.sdp()?;
        let mut retried = false;
        loop {
            let token = self.access_token(sdp, &oauth).await?;
            let request = build(&sdp.api)
                .header(
                    "Authorization",
                    format!("Zoho-oauthtoken {}", token.expose()),
                )
                .header("Accept", ACCEPT_V3);
            match sdp.api.send_json(request).await {
                Err(UpstreamError::Rejected { status: 401, .. }) if !retried => {
                    // Revoked or expired early: forget it and refresh once.
                    retried = true;
                    let mut cached = sdp.token.lock().await;
                    if cached.as_ref().is_some_and(|cached| cached.value == token) {
                        *cached = None;
                    }
                }
                Err(UpstreamError::Rejected {
                    status: 403,
                    detail,
                }) => {
                    // Authenticated, but this user may not do that.
                    let message = format!(
                        "{SERVICE} refused this action for your account (HTTP 403): {detail}"
                    );
                    return Err(self.scrubbed(message, &oauth, &token));
                }
                result => {
                    return result.map_err(|error| {
                        let error = self.kit.upstream_error(error, &oauth.all());
                        self.scrubbed(error.message().to_owned(), &oauth, &token)
                    });
                }
            }
        }
    }

    /// The cached access token, or a fresh one from the refresh-token grant.
    async fn access_token(&self, sdp: &Sdp, oauth: &OAuth) -> Result<Secret, ToolError> {
        // Holding the lock while refreshing makes concurrent calls share one refresh.
        let mut cached = sdp.token.lock().await;
        if let Some(token) = cached.as_ref()
            && Instant::now() < token.refresh_at
        {
            return Ok(token.value.clone());
        }
        let request = sdp.api.post_url(&sdp.token_url).form(&[
            ("refresh_token", oauth.refresh_token.expose()),
            ("client_id", oauth.client_id.expose()),
            ("client_secret", oauth.client_secret.expose()),
            ("grant_type", "refresh_token"),
        ]);
        let answer = sdp
            .api
            .send_json(request)
            .await
            .map_err(|error| self.refresh_error(error, oauth))?;
        let Some(value) = answer["access_token"].as_str().filter(|t| !t.is_empty()) else {
            // Zoho answers a bad grant with HTTP 200 and `{"error": "invalid_code"}`.
            let reason = answer["error"]
                .as_str()
                .unwrap_or("no access_token in the answer");
            return Err(self.refresh_refused(reason, oauth));
        };
        let expires_in = answer["expires_in"].as_u64().unwrap_or(DEFAULT_EXPIRES_IN);
        let lifetime = Duration::from_secs(expires_in).saturating_sub(EXPIRY_MARGIN);
        let token = AccessToken {
            value: Secret::new(value),
            refresh_at: Instant::now() + lifetime,
        };
        let value = token.value.clone();
        *cached = Some(token);
        Ok(value)
    }

    /// `message` without any credential or the access token in it.
    fn scrubbed(&self, message: String, oauth: &OAuth, token: &Secret) -> ToolError {
        let message = oauth
            .all()
            .iter()
            .fold(message, |text, credential| credential.scrub(&text));
        ToolError::new(message.replace(token.expose(), &token.masked()))
    }

    fn refresh_refused(&self, reason: &str, oauth: &OAuth) -> ToolError {
        let message = format!(
            "{SERVICE} refused to refresh the access token ({reason}): this instance's \
             SDP_REFRESH_TOKEN ({}), SDP_CLIENT_ID ({}) or SDP_CLIENT_SECRET is wrong or revoked; \
             ask your administrator to update them for {} and redeploy",
            oauth.refresh_token.masked(),
            oauth.client_id.masked(),
            self.kit.name(),
        );
        let scrubbed = oauth
            .all()
            .iter()
            .fold(message, |text, credential| credential.scrub(&text));
        ToolError::new(scrubbed)
    }

    fn refresh_error(&self, error: UpstreamError, oauth: &OAuth) -> ToolError {
        match error {
            UpstreamError::Rejected { detail, .. } | UpstreamError::Status { detail, .. } => {
                self.refresh_refused(&detail, oauth)
            }
            other => self.kit.upstream_error(other, &oauth.all()),
        }
    }
}

impl HasKit for ServiceDeskServer {
    fn kit(&self) -> &Kit {
        &self.kit
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for ServiceDeskServer {
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
