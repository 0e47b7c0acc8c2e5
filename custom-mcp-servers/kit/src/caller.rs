//! Who is calling: the HTTP headers of the request that carried this MCP call.
//!
//! rmcp's `StreamableHttpService` moves the body out of each HTTP request and inserts the rest,
//! an `http::request::Parts`, into the MCP request's extensions; a tool handler sees them as
//! `RequestContext::<RoleServer>::extensions`. Every POST carries its own headers, so two
//! LibreChat users on two sessions each see their own values.

use axum::http::{HeaderMap, request::Parts};
use rmcp::{
    RoleServer,
    handler::server::common::{AsRequestContext, FromContextPart},
    service::RequestContext,
};

use crate::credentials::header_value;

/// The header LibreChat fills with `{{LIBRECHAT_USER_ID}}`.
pub const USER_ID_HEADER: &str = "X-LibreChat-User-Id";

/// The caller of one tool call, extracted in a `#[tool]` method by taking a `caller: Caller`
/// argument.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    headers: HeaderMap,
}

impl Caller {
    /// A caller with these request headers (tests, or a transport without HTTP: no headers).
    pub fn from_headers(headers: HeaderMap) -> Self {
        Caller { headers }
    }

    /// The caller of the request behind `context`.
    pub fn from_context(context: &RequestContext<RoleServer>) -> Self {
        let headers = context
            .extensions
            .get::<Parts>()
            .map(|parts| parts.headers.clone())
            .unwrap_or_default();
        Caller { headers }
    }

    /// All request headers (the access token header is removed before MCP handling).
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// A header's trimmed value, when present, non-empty and not an unsubstituted `{{…}}`.
    pub fn header(&self, name: &str) -> Option<&str> {
        header_value(&self.headers, name)
    }

    /// The LibreChat user id (`X-LibreChat-User-Id`), when LibreChat sent one.
    pub fn user_id(&self) -> Option<&str> {
        self.header(USER_ID_HEADER)
    }
}

impl<C: AsRequestContext> FromContextPart<C> for Caller {
    fn from_context_part(context: &mut C) -> Result<Self, rmcp::ErrorData> {
        Ok(Caller::from_context(context.as_request_context()))
    }
}
