//! A small JSON REST client for the upstream API a server wraps.
//!
//! Build requests with [`Upstream::get`] / [`Upstream::post`] (plain `reqwest::RequestBuilder`s:
//! add `.bearer_auth(..)`, `.header(..)`, `.query(..)`, `.json(..)`, `.form(..)`), send them with
//! [`Upstream::send_json`], and turn an [`UpstreamError`] into the user's message with
//! [`crate::Kit::upstream_error`].

use std::{fmt, time::Duration};

use reqwest::{Client, RequestBuilder};
use serde_json::Value;

/// How long one upstream request may take before the tool gives up.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// At most this many characters of an upstream error body reach the user.
const MAX_DETAIL_CHARS: usize = 300;

/// An upstream REST API at a base URL.
#[derive(Clone, Debug)]
pub struct Upstream {
    service: String,
    base: String,
    client: Client,
}

/// Why an upstream call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamError {
    /// HTTP 401 or 403: the credential sent was refused (with the upstream's message, if any).
    Rejected { status: u16, detail: String },
    /// Any other non-success status, with the upstream's own message when it gave one.
    Status {
        service: String,
        status: u16,
        detail: String,
    },
    /// No response (connection refused, DNS, timeout).
    Unreachable { service: String, reason: String },
    /// A success status whose body is not JSON.
    BadResponse { service: String, reason: String },
}

impl fmt::Display for UpstreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UpstreamError::Rejected { status, .. } => {
                write!(
                    f,
                    "the upstream service rejected the credentials (HTTP {status})"
                )
            }
            UpstreamError::Status {
                service,
                status,
                detail,
            } if detail.is_empty() => write!(f, "{service} answered HTTP {status}"),
            UpstreamError::Status {
                service,
                status,
                detail,
            } => write!(f, "{service} answered HTTP {status}: {detail}"),
            UpstreamError::Unreachable { service, reason } => {
                write!(f, "{service} could not be reached: {reason}")
            }
            UpstreamError::BadResponse { service, reason } => {
                write!(f, "{service} sent a response that is not JSON: {reason}")
            }
        }
    }
}

impl std::error::Error for UpstreamError {}

impl Upstream {
    /// `service` names the API in error messages (e.g. `GoHighLevel`); `base_url` is its root,
    /// e.g. `https://services.leadconnectorhq.com` (a trailing `/` is ignored).
    pub fn new(service: impl Into<String>, base_url: &str) -> Result<Self, String> {
        let service = service.into();
        let base = base_url.trim().trim_end_matches('/').to_owned();
        let parsed = reqwest::Url::parse(&base)
            .map_err(|error| format!("{service} base URL {base:?} is not a URL: {error}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!(
                "{service} base URL {base:?} must start with http:// or https://"
            ));
        }
        crate::install_crypto_provider();
        let client = Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(concat!("scalewize-mcp-kit/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| format!("cannot build the HTTP client: {error}"))?;
        Ok(Upstream {
            service,
            base,
            client,
        })
    }

    pub fn service(&self) -> &str {
        &self.service
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// The absolute URL of `path` (which starts with `/`). Put user input into a path only
    /// through [`path_segment`].
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn get(&self, path: &str) -> RequestBuilder {
        self.client.get(self.url(path))
    }

    pub fn post(&self, path: &str) -> RequestBuilder {
        self.client.post(self.url(path))
    }

    /// A POST to an absolute URL (e.g. an OAuth token endpoint on another host).
    pub fn post_url(&self, url: &str) -> RequestBuilder {
        self.client.post(url)
    }

    /// Sends the request and returns its JSON body (`null` for an empty body).
    pub async fn send_json(&self, request: RequestBuilder) -> Result<Value, UpstreamError> {
        let response = request
            .send()
            .await
            .map_err(|error| UpstreamError::Unreachable {
                service: self.service.clone(),
                reason: describe(error),
            })?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|error| UpstreamError::Unreachable {
                service: self.service.clone(),
                reason: describe(error),
            })?;
        if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
            return Err(UpstreamError::Rejected {
                status: status.as_u16(),
                detail: error_detail(&body),
            });
        }
        if !status.is_success() {
            return Err(UpstreamError::Status {
                service: self.service.clone(),
                status: status.as_u16(),
                detail: error_detail(&body),
            });
        }
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&body).map_err(|error| UpstreamError::BadResponse {
            service: self.service.clone(),
            reason: error.to_string(),
        })
    }
}

/// A reqwest error without its URL (which may carry query parameters), with its causes.
fn describe(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The upstream's own error message: a JSON `message`/`error_description`/`error`/`msg` field
/// (also inside ManageEngine's `response_status.messages[0]`), else the start of the body.
fn error_detail(body: &[u8]) -> String {
    if let Ok(json) = serde_json::from_slice::<Value>(body) {
        let nested = &json["response_status"]["messages"][0]["message"];
        if let Some(text) = nested.as_str() {
            return truncate(text);
        }
        for key in ["message", "error_description", "error", "msg"] {
            match json.get(key) {
                Some(Value::String(text)) => return truncate(text),
                Some(Value::Array(items)) if !items.is_empty() => {
                    return truncate(&Value::Array(items.clone()).to_string());
                }
                _ => {}
            }
        }
    }
    truncate(String::from_utf8_lossy(body).trim())
}

fn truncate(text: &str) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(MAX_DETAIL_CHARS).collect();
    if chars.next().is_some() {
        format!("{head}…")
    } else {
        head
    }
}

/// Percent-encodes user input for use as one URL path segment (so an id cannot add `/`, `?`,
/// `..` or `#` to the path).
pub fn path_segment(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_cannot_escape() {
        assert_eq!(path_segment("abc-123_x~"), "abc-123_x~");
        assert_eq!(path_segment("../admin?x=1#y"), "%2E%2E%2Fadmin%3Fx%3D1%23y");
        assert_eq!(path_segment("a b"), "a%20b");
    }

    #[test]
    fn base_urls_are_checked_and_normalised() {
        let upstream = Upstream::new("Svc", "http://127.0.0.1:9/api/").unwrap();
        assert_eq!(upstream.url("/x"), "http://127.0.0.1:9/api/x");
        assert!(Upstream::new("Svc", "not a url").is_err());
        assert!(Upstream::new("Svc", "ftp://example.com").is_err());
    }

    #[test]
    fn error_details_prefer_the_upstream_message() {
        assert_eq!(
            error_detail(br#"{"message":"Contact not found","statusCode":404}"#),
            "Contact not found"
        );
        assert_eq!(error_detail(b"  plain failure "), "plain failure");
        assert_eq!(
            error_detail(
                br#"{"response_status":{"status_code":4000,"messages":[{"message":"Invalid input"}]}}"#
            ),
            "Invalid input"
        );
        assert!(error_detail("x".repeat(1000).as_bytes()).chars().count() <= MAX_DETAIL_CHARS + 1);
    }

    #[tokio::test]
    async fn unreachable_upstreams_are_reported_without_the_url() {
        // Port 9 (discard) on loopback: nothing listens there in the test environment.
        let upstream = Upstream::new("Svc", "http://127.0.0.1:9").unwrap();
        let error = upstream
            .send_json(upstream.get("/secret-path?token=abc"))
            .await
            .unwrap_err();
        assert!(
            matches!(error, UpstreamError::Unreachable { .. }),
            "{error:?}"
        );
        assert!(!error.to_string().contains("token=abc"), "{error}");
    }
}
