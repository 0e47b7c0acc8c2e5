//! MCP health: a real `initialize` + `tools/list` through rmcp's client, as LibreChat would do.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rmcp::ServiceExt;
use rmcp::model::ClientConfig;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde::Serialize;

use crate::model::tool_surface::{Surface, ToolDigest};

#[derive(Debug, Clone, Serialize)]
pub struct Probe {
    pub ok: bool,
    pub tools: Option<usize>,
    /// The tools as served, by digest (for `tools.lock.json`).
    #[serde(skip)]
    pub surface: Option<Surface>,
    pub latency_ms: u128,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Probe `url` with `headers` (the access token among them); gives up after `timeout`.
pub async fn probe(url: &str, headers: &[(String, String)], timeout: Duration) -> Probe {
    let started = Instant::now();
    let run = async {
        let mut custom = HashMap::new();
        for (k, v) in headers {
            let name = http::HeaderName::from_bytes(k.to_ascii_lowercase().as_bytes())
                .map_err(|e| e.to_string())?;
            let value = http::HeaderValue::from_str(v)
                .map_err(|_| format!("header {k} has an invalid value"))?;
            custom.insert(name, value);
        }
        let transport = StreamableHttpClientTransport::from_config(
            StreamableHttpClientTransportConfig::with_uri(url.to_string()).custom_headers(custom),
        );
        let client = ClientConfig::default()
            .serve(transport)
            .await
            .map_err(|e| format!("initialize failed: {e}"))?;
        let tools = client
            .list_all_tools()
            .await
            .map_err(|e| format!("tools/list failed: {e}"));
        let _ = client.cancel().await;
        tools.map(|t| {
            t.into_iter()
                .map(|tool| {
                    let schema = serde_json::Value::Object((*tool.input_schema).clone());
                    let digest = ToolDigest::of(tool.description.as_deref(), &schema);
                    (tool.name.into_owned(), digest)
                })
                .collect::<Surface>()
        })
    };
    match tokio::time::timeout(timeout, run).await {
        Ok(Ok(surface)) => Probe {
            ok: true,
            tools: Some(surface.len()),
            surface: Some(surface),
            latency_ms: started.elapsed().as_millis(),
            error: None,
        },
        Ok(Err(e)) => Probe {
            ok: false,
            tools: None,
            surface: None,
            latency_ms: started.elapsed().as_millis(),
            error: Some(e),
        },
        Err(_) => Probe {
            ok: false,
            tools: None,
            surface: None,
            latency_ms: started.elapsed().as_millis(),
            error: Some(format!("no answer within {}s", timeout.as_secs())),
        },
    }
}
