//! `custom-crm-mcp`: client A's CRM, GoHighLevel (HighLevel / LeadConnector API v2).
//!
//! One multi-tenant instance serves every LibreChat user; each user enters their own private
//! integration token and location id in LibreChat, which forwards them as the `X-GHL-Api-Key` and
//! `X-GHL-Location-Id` headers (credential mode `per-user-header`, seed 002). The server's own
//! `GHL_API_KEY` / `GHL_LOCATION_ID` env vars, when set, serve users who entered nothing.
//!
//! Upstream calls send `Authorization: Bearer <key>` and `Version: 2021-07-28`; the location id
//! goes in the body or query as `locationId`, as GoHighLevel expects.

use rmcp::{
    ServerHandler,
    handler::server::{router::tool::ToolRouter, wrapper::Parameters},
    model::{CallToolResult, ServerConfig},
    tool, tool_handler, tool_router,
};
use scalewize_mcp_kit::{
    self as kit, Caller, CredentialSpec, HasKit, Kit, Resolved, ServerSpec, ToolError, Upstream,
    path_segment,
};
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// The user's GoHighLevel private integration token.
pub const GHL_API_KEY: CredentialSpec = CredentialSpec::per_user(
    "GHL_API_KEY",
    "X-GHL-Api-Key",
    "GoHighLevel",
    "GoHighLevel API key",
)
.with_env_fallback("GHL_API_KEY");

/// The sub-account (location) the user acts on.
pub const GHL_LOCATION_ID: CredentialSpec = CredentialSpec::per_user(
    "GHL_LOCATION_ID",
    "X-GHL-Location-Id",
    "GoHighLevel",
    "Location ID",
)
.with_env_fallback("GHL_LOCATION_ID");

pub static SPEC: ServerSpec = ServerSpec {
    name: env!("CARGO_PKG_NAME"),
    version: env!("CARGO_PKG_VERSION"),
    title: "Custom CRM",
    instructions: "Client A's CRM (GoHighLevel). Find contacts with search_contacts, read one \
                   with get_contact, create contacts and notes. Every call acts as the LibreChat \
                   user, with their own GoHighLevel key and location.",
    credentials: &[GHL_API_KEY, GHL_LOCATION_ID],
};

/// The API root; `GHL_BASE_URL` overrides it (tests point it at a local fake).
pub const DEFAULT_BASE_URL: &str = "https://services.leadconnectorhq.com";
/// The API version header GoHighLevel requires.
pub const API_VERSION: &str = "2021-07-28";
const DEFAULT_LIMIT: u32 = 20;
const MAX_LIMIT: u32 = 100;

#[derive(Clone)]
pub struct CrmServer {
    kit: Kit,
    api: Upstream,
    tool_router: ToolRouter<Self>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct SearchContactsArgs {
    /// Free text matched against name, email, phone and company.
    pub query: String,
    /// At most this many contacts (1-100, default 20).
    pub limit: Option<u32>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ContactIdArgs {
    /// The contact's id, as returned by search_contacts.
    pub contact_id: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct CreateContactArgs {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    /// Phone number, preferably in E.164 form (+15551234567).
    pub phone: Option<String>,
    pub company_name: Option<String>,
    /// Tags to attach to the contact.
    pub tags: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct AddNoteArgs {
    /// The contact's id, as returned by search_contacts.
    pub contact_id: String,
    /// The note's text.
    pub body: String,
}

#[tool_router]
impl CrmServer {
    /// Reads `GHL_BASE_URL` (default: GoHighLevel's API).
    pub fn new(kit: Kit) -> Result<Self, String> {
        let tool_router = kit.restrict(Self::tool_router() + kit::whoami_router())?;
        let base_url = kit::env_or("GHL_BASE_URL", DEFAULT_BASE_URL);
        Ok(CrmServer {
            kit,
            api: Upstream::new("GoHighLevel", &base_url)?,
            tool_router,
        })
    }

    #[tool(
        description = "Search the user's GoHighLevel contacts by name, email, phone or company.",
        annotations(read_only_hint = true)
    )]
    async fn search_contacts(
        &self,
        caller: Caller,
        Parameters(args): Parameters<SearchContactsArgs>,
    ) -> Result<CallToolResult, ToolError> {
        let key = self.kit.credential(&caller, &GHL_API_KEY)?;
        let location = self.kit.credential(&caller, &GHL_LOCATION_ID)?;
        let limit = args.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
        let request = self
            .authorized(self.api.post("/contacts/search"), &key)
            .json(&json!({
                "locationId": location.expose(),
                "query": args.query,
                "pageLimit": limit,
            }));
        let body = self.call(request, &[&key, &location]).await?;
        Ok(kit::json_result(&json!({
            "contacts": body.get("contacts").cloned().unwrap_or_else(|| json!([])),
            "total": body.get("total").cloned().unwrap_or(Value::Null),
        })))
    }

    #[tool(
        description = "Get one GoHighLevel contact with all its fields.",
        annotations(read_only_hint = true)
    )]
    async fn get_contact(
        &self,
        caller: Caller,
        Parameters(args): Parameters<ContactIdArgs>,
    ) -> Result<CallToolResult, ToolError> {
        let key = self.kit.credential(&caller, &GHL_API_KEY)?;
        let path = format!("/contacts/{}", path_segment(&args.contact_id));
        let body = self
            .call(self.authorized(self.api.get(&path), &key), &[&key])
            .await?;
        Ok(kit::json_result(body.get("contact").unwrap_or(&body)))
    }

    #[tool(
        description = "Create a contact in the user's GoHighLevel location. Give at least a name, \
                       an email or a phone number.",
        annotations(read_only_hint = false, destructive_hint = false)
    )]
    async fn create_contact(
        &self,
        caller: Caller,
        Parameters(args): Parameters<CreateContactArgs>,
    ) -> Result<CallToolResult, ToolError> {
        let identified = [&args.first_name, &args.last_name, &args.email, &args.phone]
            .iter()
            .any(|field| field.as_deref().is_some_and(|text| !text.trim().is_empty()));
        if !identified {
            return Err(ToolError::new(
                "create_contact needs at least a first name, last name, email or phone",
            ));
        }
        let key = self.kit.credential(&caller, &GHL_API_KEY)?;
        let location = self.kit.credential(&caller, &GHL_LOCATION_ID)?;
        let mut contact = Map::new();
        contact.insert("locationId".into(), json!(location.expose()));
        let fields = [
            ("firstName", args.first_name),
            ("lastName", args.last_name),
            ("email", args.email),
            ("phone", args.phone),
            ("companyName", args.company_name),
        ];
        for (name, value) in fields {
            if let Some(value) = value.filter(|value| !value.trim().is_empty()) {
                contact.insert(name.into(), json!(value.trim()));
            }
        }
        if let Some(tags) = args.tags.filter(|tags| !tags.is_empty()) {
            contact.insert("tags".into(), json!(tags));
        }
        let request = self
            .authorized(self.api.post("/contacts/"), &key)
            .json(&contact);
        let body = self.call(request, &[&key, &location]).await?;
        Ok(kit::json_result(body.get("contact").unwrap_or(&body)))
    }

    #[tool(
        description = "Add a note to a GoHighLevel contact.",
        annotations(read_only_hint = false, destructive_hint = false)
    )]
    async fn add_note(
        &self,
        caller: Caller,
        Parameters(args): Parameters<AddNoteArgs>,
    ) -> Result<CallToolResult, ToolError> {
        if args.body.trim().is_empty() {
            return Err(ToolError::new("add_note needs a non-empty body"));
        }
        let key = self.kit.credential(&caller, &GHL_API_KEY)?;
        let path = format!("/contacts/{}/notes", path_segment(&args.contact_id));
        let request = self
            .authorized(self.api.post(&path), &key)
            .json(&json!({ "body": args.body }));
        let body = self.call(request, &[&key]).await?;
        Ok(kit::json_result(body.get("note").unwrap_or(&body)))
    }

    #[tool(
        description = "List the notes of a GoHighLevel contact.",
        annotations(read_only_hint = true)
    )]
    async fn list_notes(
        &self,
        caller: Caller,
        Parameters(args): Parameters<ContactIdArgs>,
    ) -> Result<CallToolResult, ToolError> {
        let key = self.kit.credential(&caller, &GHL_API_KEY)?;
        let path = format!("/contacts/{}/notes", path_segment(&args.contact_id));
        let body = self
            .call(self.authorized(self.api.get(&path), &key), &[&key])
            .await?;
        Ok(kit::json_result(&json!({
            "notes": body.get("notes").cloned().unwrap_or_else(|| json!([])),
        })))
    }
}

impl CrmServer {
    /// The headers every GoHighLevel call needs.
    fn authorized(&self, request: kit::RequestBuilder, key: &Resolved) -> kit::RequestBuilder {
        request
            .bearer_auth(key.expose())
            .header("Version", API_VERSION)
            .header("Accept", "application/json")
    }

    /// Sends the request; `used` are the credentials it carries (named in a 401/403 and
    /// scrubbed from upstream messages).
    async fn call(
        &self,
        request: kit::RequestBuilder,
        used: &[&Resolved],
    ) -> Result<Value, ToolError> {
        self.api
            .send_json(request)
            .await
            .map_err(|error| self.kit.upstream_error(error, used))
    }
}

impl HasKit for CrmServer {
    fn kit(&self) -> &Kit {
        &self.kit
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for CrmServer {
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
