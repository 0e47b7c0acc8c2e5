//! Declared credentials and their per-request resolution.
//!
//! Precedence (the contract, seed 002):
//! 1. the request header, when declared, present, non-empty and not an unsubstituted LibreChat
//!    placeholder such as `{{GHL_API_KEY}}` (what LibreChat sends before the user saved a value);
//! 2. the server's own env fallback variable, when declared and non-empty (read once at start);
//! 3. otherwise a tool error the end user can act on.

use axum::http::HeaderMap;
use serde::Serialize;

use crate::{Secret, ToolError};

/// One credential a server's tools need.
///
/// - per-user (`per-user-header` servers): [`CredentialSpec::per_user`], optionally
///   [`CredentialSpec::with_env_fallback`];
/// - from the server's environment only (`service` and `per-user-instance` servers):
///   [`CredentialSpec::from_env`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CredentialSpec {
    /// The variable name (manifest `user_vars[].name` or `secrets[]`), e.g. `GHL_API_KEY`.
    pub name: &'static str,
    /// The request header carrying the user's value (manifest `user_vars[].header`).
    pub header: Option<&'static str>,
    /// The server's env variable used when no header value came (manifest `env_fallback`).
    pub env_fallback: Option<&'static str>,
    /// The upstream service, as users know it, e.g. `GoHighLevel`.
    pub service: &'static str,
    /// What the user enters, e.g. `GoHighLevel API key` (manifest `user_vars[].title`).
    pub title: &'static str,
}

impl CredentialSpec {
    /// A value each end user enters in LibreChat, sent as `header`.
    pub const fn per_user(
        name: &'static str,
        header: &'static str,
        service: &'static str,
        title: &'static str,
    ) -> Self {
        CredentialSpec {
            name,
            header: Some(header),
            env_fallback: None,
            service,
            title,
        }
    }

    /// Also accept the server's env variable `var` when a request brings no header value.
    pub const fn with_env_fallback(mut self, var: &'static str) -> Self {
        self.env_fallback = Some(var);
        self
    }

    /// A value read only from the server's environment variable `name` (a secret scalewize sets).
    pub const fn from_env(name: &'static str, service: &'static str, title: &'static str) -> Self {
        CredentialSpec {
            name,
            header: None,
            env_fallback: Some(name),
            service,
            title,
        }
    }
}

/// Where a resolved credential came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Header,
    Env,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Header => "header",
            Source::Env => "env",
        }
    }
}

/// A credential resolved for one tool call.
#[derive(Debug, Clone)]
pub struct Resolved {
    spec: &'static CredentialSpec,
    source: Source,
    value: Secret,
}

impl Resolved {
    pub fn name(&self) -> &'static str {
        self.spec.name
    }

    pub fn spec(&self) -> &'static CredentialSpec {
        self.spec
    }

    pub fn source(&self) -> Source {
        self.source
    }

    /// The raw value, to send upstream. Never log it.
    pub fn expose(&self) -> &str {
        self.value.expose()
    }

    /// `…abcd`.
    pub fn masked(&self) -> String {
        self.value.masked()
    }

    /// The message for an upstream 401/403 on a request that used this credential.
    pub fn rejected_message(&self, status: u16, server: &str) -> String {
        let CredentialSpec {
            name,
            service,
            title,
            ..
        } = *self.spec;
        let masked = self.masked();
        match (self.source, self.spec.header) {
            (Source::Header, _) => format!(
                "{service} rejected your {title} ({masked}, HTTP {status}): check it in LibreChat \
                 (MCP settings → {server}), save it again and reinitialize"
            ),
            (Source::Env, Some(_)) => format!(
                "{service} rejected the server's fallback {title} ({masked}, HTTP {status}): enter \
                 your own {title} in LibreChat (MCP settings → {server}) and reinitialize"
            ),
            (Source::Env, None) => format!(
                "{service} rejected the configured {name} ({masked}, HTTP {status}): ask your \
                 administrator to update the {name} secret of {server}"
            ),
        }
    }

    /// Replaces every occurrence of the value in `text` by its mask.
    pub fn scrub(&self, text: &str) -> String {
        let value = self.value.expose();
        if value.is_empty() {
            return text.to_owned();
        }
        text.replace(value, &self.masked())
    }
}

/// The server's declared credentials and its env fallback values (read once, at start).
#[derive(Debug)]
pub struct Credentials {
    specs: &'static [CredentialSpec],
    /// The env fallback value of each spec, in `specs` order.
    fallbacks: Vec<Option<Secret>>,
    server: String,
}

impl Credentials {
    /// Reads each declared env fallback through `lookup` now; `server` is the server's name as
    /// LibreChat users see it in MCP settings.
    pub fn new(
        specs: &'static [CredentialSpec],
        server: impl Into<String>,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Self {
        let fallbacks = specs
            .iter()
            .map(|spec| {
                spec.env_fallback
                    .and_then(&lookup)
                    .filter(|value| !value.trim().is_empty())
                    .map(|value| Secret::new(value.trim()))
            })
            .collect();
        Credentials {
            specs,
            fallbacks,
            server: server.into(),
        }
    }

    pub fn specs(&self) -> &'static [CredentialSpec] {
        self.specs
    }

    fn fallback(&self, spec: &CredentialSpec) -> Option<&Secret> {
        let index = self.specs.iter().position(|declared| declared == spec);
        debug_assert!(index.is_some(), "credential {} is not declared", spec.name);
        index.and_then(|index| self.fallbacks[index].as_ref())
    }

    /// Resolves `spec` for a request with these headers (see the module docs for the order).
    pub fn resolve(
        &self,
        headers: &HeaderMap,
        spec: &'static CredentialSpec,
    ) -> Result<Resolved, ToolError> {
        if let Some(value) = spec.header.and_then(|header| header_value(headers, header)) {
            return Ok(Resolved {
                spec,
                source: Source::Header,
                value: Secret::new(value),
            });
        }
        if let Some(value) = self.fallback(spec) {
            return Ok(Resolved {
                spec,
                source: Source::Env,
                value: value.clone(),
            });
        }
        Err(ToolError::new(self.missing_message(spec)))
    }

    /// The error for a credential that resolved to nothing.
    pub fn missing_message(&self, spec: &CredentialSpec) -> String {
        let CredentialSpec {
            name,
            service,
            title,
            ..
        } = *spec;
        let server = &self.server;
        match spec.header {
            Some(_) => format!(
                "{service} is not connected: enter your {title} in LibreChat \
                 (MCP settings → {server}) and reinitialize"
            ),
            None => format!(
                "{service} is not configured: {name} ({title}) is empty on this server; ask your \
                 administrator to set the {name} secret of {server} and redeploy"
            ),
        }
    }

    /// `{"<NAME>": {"source": "header"|"env", "masked": "…abcd"}}` for `whoami`; a credential that
    /// resolves to nothing shows `{"source": "missing", "masked": null}`.
    pub fn describe(&self, headers: &HeaderMap) -> serde_json::Map<String, serde_json::Value> {
        self.specs
            .iter()
            .map(|spec| {
                let entry = match self.resolve(headers, spec) {
                    Ok(resolved) => serde_json::json!({
                        "source": resolved.source().as_str(),
                        "masked": resolved.masked(),
                    }),
                    Err(_) => serde_json::json!({ "source": "missing", "masked": null }),
                };
                (spec.name.to_owned(), entry)
            })
            .collect()
    }

    /// One line per credential for the startup log: how it is resolved, masked fallbacks only.
    pub fn startup_summary(&self) -> Vec<String> {
        self.specs
            .iter()
            .zip(&self.fallbacks)
            .map(|(spec, fallback)| {
                let header = spec
                    .header
                    .map(|header| format!("header {header}"))
                    .unwrap_or_else(|| "no header".to_owned());
                let env = match (spec.env_fallback, fallback) {
                    (None, _) => "no env fallback".to_owned(),
                    (Some(var), Some(value)) => format!("env {var} set ({value})"),
                    (Some(var), None) => format!("env {var} not set"),
                };
                format!("credential {}: {header}, {env}", spec.name)
            })
            .collect()
    }
}

/// A header's value when it is usable: valid text, non-empty after trimming, and not a LibreChat
/// placeholder left unsubstituted (`{{VAR}}`).
pub(crate) fn header_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let value = headers.get(name)?.to_str().ok()?.trim();
    let placeholder = value.starts_with("{{") && value.ends_with("}}");
    (!value.is_empty() && !placeholder).then_some(value)
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderName, HeaderValue};

    use super::*;

    const API_KEY: CredentialSpec = CredentialSpec::per_user(
        "GHL_API_KEY",
        "X-GHL-Api-Key",
        "GoHighLevel",
        "GoHighLevel API key",
    )
    .with_env_fallback("GHL_API_KEY");
    const NO_FALLBACK: CredentialSpec =
        CredentialSpec::per_user("OTHER_KEY", "X-Other-Key", "Other", "Other key");
    const SERVICE_KEY: CredentialSpec =
        CredentialSpec::from_env("ERP_API_KEY", "Custom ERP", "ERP API key");
    static SPECS: [CredentialSpec; 3] = [API_KEY, NO_FALLBACK, SERVICE_KEY];

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| {
                (
                    HeaderName::from_bytes(name.as_bytes()).unwrap(),
                    HeaderValue::from_str(value).unwrap(),
                )
            })
            .collect()
    }

    fn credentials(env: &'static [(&'static str, &'static str)]) -> Credentials {
        Credentials::new(&SPECS, "custom-crm-mcp", move |name| {
            env.iter()
                .find(|(var, _)| *var == name)
                .map(|(_, value)| value.to_string())
        })
    }

    #[test]
    fn the_header_wins_over_the_env_fallback() {
        let creds = credentials(&[("GHL_API_KEY", "env-key-0000000001")]);
        let resolved = creds
            .resolve(
                &headers(&[("x-ghl-api-key", "header-key-abcd1234")]),
                &SPECS[0],
            )
            .unwrap();
        assert_eq!(resolved.source(), Source::Header);
        assert_eq!(resolved.expose(), "header-key-abcd1234");
        assert_eq!(resolved.masked(), "…1234");
    }

    #[test]
    fn header_names_match_case_insensitively_and_values_are_trimmed() {
        let creds = credentials(&[]);
        let resolved = creds
            .resolve(
                &headers(&[("X-GHL-API-KEY", "  spaced-key-99990000  ")]),
                &SPECS[0],
            )
            .unwrap();
        assert_eq!(resolved.expose(), "spaced-key-99990000");
    }

    #[test]
    fn the_env_fallback_serves_when_the_header_is_absent_empty_or_a_placeholder() {
        let creds = credentials(&[("GHL_API_KEY", "env-key-0000000001")]);
        for request in [
            headers(&[]),
            headers(&[("x-ghl-api-key", "")]),
            headers(&[("x-ghl-api-key", "   ")]),
            headers(&[("x-ghl-api-key", "{{GHL_API_KEY}}")]),
        ] {
            let resolved = creds.resolve(&request, &SPECS[0]).unwrap();
            assert_eq!(resolved.source(), Source::Env);
            assert_eq!(resolved.expose(), "env-key-0000000001");
        }
    }

    #[test]
    fn nothing_resolves_to_the_not_connected_message() {
        let creds = credentials(&[("GHL_API_KEY", "  ")]);
        let error = creds.resolve(&headers(&[]), &SPECS[0]).unwrap_err();
        assert_eq!(
            error.message(),
            "GoHighLevel is not connected: enter your GoHighLevel API key in LibreChat \
             (MCP settings → custom-crm-mcp) and reinitialize"
        );
    }

    #[test]
    fn a_credential_without_fallback_ignores_the_env() {
        // OTHER_KEY declares no env fallback, so an env var of that name is not read.
        let creds = credentials(&[("OTHER_KEY", "env-value-123456789")]);
        assert!(creds.resolve(&headers(&[]), &SPECS[1]).is_err());
    }

    #[test]
    fn env_only_credentials_ignore_headers_and_say_not_configured() {
        let creds = credentials(&[]);
        let error = creds
            .resolve(
                &headers(&[("erp_api_key", "sneaky-header-value")]),
                &SPECS[2],
            )
            .unwrap_err();
        assert!(
            error.message().starts_with("Custom ERP is not configured"),
            "{}",
            error.message()
        );
        let creds = credentials(&[("ERP_API_KEY", "erp-service-key-5555")]);
        let resolved = creds.resolve(&headers(&[]), &SPECS[2]).unwrap();
        assert_eq!(resolved.source(), Source::Env);
    }

    #[test]
    fn describe_reports_source_and_mask_only() {
        let creds = credentials(&[("ERP_API_KEY", "erp-service-key-5555")]);
        let described = creds.describe(&headers(&[("x-ghl-api-key", "header-key-abcd1234")]));
        let json = serde_json::Value::Object(described);
        assert_eq!(json["GHL_API_KEY"]["source"], "header");
        assert_eq!(json["GHL_API_KEY"]["masked"], "…1234");
        assert_eq!(json["OTHER_KEY"]["source"], "missing");
        assert_eq!(json["ERP_API_KEY"]["source"], "env");
        assert_eq!(json["ERP_API_KEY"]["masked"], "…5555");
        let text = json.to_string();
        assert!(!text.contains("header-key-abcd1234"));
        assert!(!text.contains("erp-service-key-5555"));
    }

    #[test]
    fn startup_summary_masks_fallbacks() {
        let creds = credentials(&[("GHL_API_KEY", "env-key-0000000001")]);
        let summary = creds.startup_summary().join("\n");
        assert!(summary.contains("env GHL_API_KEY set (…0001)"), "{summary}");
        assert!(!summary.contains("env-key-0000000001"));
    }

    #[test]
    fn rejected_messages_depend_on_the_source() {
        let creds = credentials(&[("GHL_API_KEY", "env-key-0000000001")]);
        let from_header = creds
            .resolve(
                &headers(&[("x-ghl-api-key", "header-key-abcd1234")]),
                &SPECS[0],
            )
            .unwrap();
        let message = from_header.rejected_message(401, "custom-crm-mcp");
        assert!(
            message.starts_with("GoHighLevel rejected your GoHighLevel API key"),
            "{message}"
        );
        assert!(!message.contains("header-key-abcd1234"));
        let from_env = creds.resolve(&headers(&[]), &SPECS[0]).unwrap();
        assert!(from_env.rejected_message(403, "x").contains("fallback"));
        assert_eq!(
            from_env.scrub("bad key env-key-0000000001!"),
            "bad key …0001!"
        );
    }
}
