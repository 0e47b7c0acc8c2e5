//! How a Railway call failed, and the one place a GraphQL error answer is sorted into those
//! kinds (by `extensions.code` and message), which decides what is retried and what is reported.

use std::time::Duration;

use serde_json::Value;

use super::ops::Op;
use super::wire::mask;

/// How a call failed.
#[derive(Debug, Clone)]
pub enum ApiError {
    /// The token was refused (`Not Authorized`).
    Auth(String),
    /// The thing asked for does not exist (`… not found`).
    NotFound(String),
    /// A create refused because the name is taken (`… already exists`).
    AlreadyExists(String),
    /// HTTP 400: the document or its variables do not match the schema. A scalewize bug.
    Invalid { code: String, message: String },
    /// A mutation whose outcome is unknown (no response, 408, 5xx, internal error).
    Unknown(String),
    /// Still failing after the retries (network, 429, 5xx on a query), with the last wait the
    /// server asked for.
    Transient(String, Option<Duration>),
    /// Any other error Railway reported.
    Failed(String),
}

impl ApiError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, ApiError::NotFound(_))
    }
    pub fn message(&self) -> &str {
        match self {
            ApiError::Auth(m)
            | ApiError::NotFound(m)
            | ApiError::AlreadyExists(m)
            | ApiError::Unknown(m)
            | ApiError::Transient(m, _)
            | ApiError::Failed(m) => m,
            ApiError::Invalid { message, .. } => message,
        }
    }
}

/// Sort the errors of a 200 answer by `extensions.code` and message.
pub(super) fn classify(op: &Op, errors: &[&Value], sent: &[String]) -> ApiError {
    let first = errors[0];
    let message = first["message"].as_str().unwrap_or_default();
    let code = first["extensions"]["code"].as_str().unwrap_or_default();
    let lower = message.to_ascii_lowercase();
    let text = mask(&format!("Railway {}: {message}", op.name), sent);
    if lower.contains("rate limit") {
        return ApiError::Transient(text, None);
    }
    if code == "INTERNAL_SERVER_ERROR" {
        return ApiError::Unknown(text);
    }
    if lower.contains("not authorized")
        || lower.contains("unauthorized")
        || lower.contains("project token not found")
    {
        return ApiError::Auth(text);
    }
    if lower.contains("already exists") {
        return ApiError::AlreadyExists(text);
    }
    if lower.contains("not found") {
        return ApiError::NotFound(text);
    }
    if code == "BAD_USER_INPUT" || code == "GRAPHQL_VALIDATION_FAILED" {
        return ApiError::Invalid {
            code: code.to_string(),
            message: text,
        };
    }
    ApiError::Failed(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn errors_are_classified_by_code_and_message() {
        let op = super::super::ops::DEPLOY;
        let e = |m: &str, code: Option<&str>| {
            let v = match code {
                Some(c) => json!({"message": m, "extensions": {"code": c}}),
                None => json!({"message": m}),
            };
            classify(&op, &[&v], &[])
        };
        assert!(matches!(e("Not Authorized", None), ApiError::Auth(_)));
        assert!(matches!(
            e("Service not found", None),
            ApiError::NotFound(_)
        ));
        assert!(matches!(
            e("A service named \"x\" already exists in this project", None),
            ApiError::AlreadyExists(_)
        ));
        assert!(matches!(
            e("boom", Some("INTERNAL_SERVER_ERROR")),
            ApiError::Unknown(_)
        ));
        assert!(matches!(
            e("Rate limit exceeded", None),
            ApiError::Transient(..)
        ));
        assert!(matches!(e("nope", None), ApiError::Failed(_)));
    }
}
