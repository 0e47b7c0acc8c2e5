//! The request log: one [`RequestRecord`] per HTTP request, and golden-friendly renderings.

use std::collections::HashMap;
use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;

/// GraphQL operation type of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OperationKind {
    Query,
    Mutation,
    Subscription,
}

impl OperationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OperationKind::Query => "query",
            OperationKind::Mutation => "mutation",
            OperationKind::Subscription => "subscription",
        }
    }
}

/// A fault the emulator injected into (or an anomaly it saw in) a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum InjectedFault {
    /// Added latency, in emulated milliseconds.
    Latency { emulated_ms: u64 },
    /// 502/503/504 answered before applying anything.
    Status { status: u16 },
    /// 429 injected by the fault plan (not by the real rate limiter).
    RateLimit { retry_after_secs: u64 },
    /// The mutation was applied, then the connection was closed without a response.
    LostResponseDropped,
    /// The mutation was applied, then 504 was answered.
    LostResponse504,
    /// A list read omitted recently created items.
    ListLag,
    /// Closed without applying and without a response (forced).
    Dropped,
    /// Not answered: the request came after `stop_after`.
    Stopped,
}

/// Why the real rate limiter (not the fault plan) answered 429.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RateLimited {
    PerHour,
    PerSecond,
    /// The token came back before an announced `Retry-After` elapsed.
    RetryAfterNotElapsed,
}

/// One HTTP request as the emulator saw it.
#[derive(Clone, Debug, Serialize)]
pub struct RequestRecord {
    /// 1-based, in order of arrival.
    pub seq: u64,
    /// Emulated seconds since the emulator started, at arrival.
    pub at_secs: f64,
    pub operation_type: Option<OperationKind>,
    /// Names (not aliases) of the selected operation's root fields, fragments expanded.
    pub root_fields: Vec<String>,
    /// `operationName` as sent, else the name of the document's only operation.
    pub operation_name: Option<String>,
    pub document: String,
    /// The variables as sent (`null` when absent).
    pub variables: Value,
    /// HTTP status answered; `None` when no response was sent.
    pub status: Option<u16>,
    pub faults: Vec<InjectedFault>,
    pub rate_limited: Option<RateLimited>,
    /// Whether the operation was executed against the state (mutations: applied).
    pub executed: bool,
    /// A non-secret label of the token used (`workspace#1`, `project-token#3`, `unknown`).
    pub token: Option<String>,
    /// Request headers, lowercase names; `authorization` and `project-access-token` values
    /// are `<redacted>`.
    pub headers: Vec<(String, String)>,
    /// The JSON body answered, if any.
    pub response: Option<Value>,
}

impl RequestRecord {
    /// Whether any fault was injected into this request.
    pub fn fault_injected(&self) -> bool {
        !self.faults.is_empty()
    }

    /// `mutation serviceCreate`, `query project,environment`, or `invalid` when the document
    /// could not be parsed.
    pub fn summary(&self) -> String {
        match self.operation_type {
            Some(k) => format!("{} {}", k.as_str(), self.root_fields.join(",")),
            None => "invalid".to_string(),
        }
    }

    /// `summary` plus the variables (keys sorted) with every emulator-generated id and hostname
    /// replaced by a stable placeholder such as `<project:1>`.
    pub fn golden_line(&self, placeholders: &HashMap<String, String>) -> String {
        let mut line = self.summary();
        if !self.variables.is_null() {
            line.push(' ');
            canonical(&normalise(&self.variables, placeholders), &mut line);
        }
        line
    }
}

/// Replaces emulator-generated ids and hostnames inside every string of `v`.
pub fn normalise(v: &Value, placeholders: &HashMap<String, String>) -> Value {
    match v {
        Value::String(s) => Value::String(normalise_str(s, placeholders)),
        Value::Array(a) => Value::Array(a.iter().map(|x| normalise(x, placeholders)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| (k.clone(), normalise(x, placeholders)))
                .collect(),
        ),
        other => other.clone(),
    }
}

pub(crate) fn normalise_str(s: &str, placeholders: &HashMap<String, String>) -> String {
    if let Some(p) = placeholders.get(s) {
        return p.clone();
    }
    let mut out = s.to_string();
    if out.len() >= 8 {
        for (k, p) in placeholders {
            if out.contains(k.as_str()) {
                out = out.replace(k.as_str(), p);
            }
        }
    }
    out
}

/// JSON with object keys sorted, whatever `serde_json`'s map order is.
pub fn canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(o) => {
            out.push('{');
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(out, "{}:", Value::String(k.clone()));
                canonical(&o[k], out);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(x, out);
            }
            out.push(']');
        }
        other => {
            let _ = write!(out, "{other}");
        }
    }
}
