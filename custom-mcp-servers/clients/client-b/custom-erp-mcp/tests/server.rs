//! custom-erp-mcp against a local fake ERP, through rmcp's own client.

use std::collections::HashMap;

use axum::{
    Json, Router,
    extract::{Path, Query},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
};
use scalewize_mcp_kit::testing::{self, ServerProcess, TEST_TOKEN, assert_no_secrets};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_custom-erp-mcp");
const ERP_KEY: &str = "erp-service-key-client-b-4242";

fn authorized(headers: &HeaderMap) -> bool {
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {ERP_KEY}"))
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({"error": "invalid api key"})),
    )
        .into_response()
}

async fn invoices(headers: HeaderMap, Query(query): Query<HashMap<String, String>>) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    let all = [
        json!({"id": "INV-1", "status": "open", "total": 120.0}),
        json!({"id": "INV-2", "status": "paid", "total": 80.5}),
    ];
    let invoices: Vec<&Value> = all
        .iter()
        .filter(|invoice| {
            query
                .get("status")
                .is_none_or(|status| invoice["status"] == **status)
        })
        .collect();
    Json(json!({"invoices": invoices, "limit": query.get("limit")})).into_response()
}

async fn invoice(headers: HeaderMap, Path(id): Path<String>) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    if id != "INV-1" {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"message": "no such invoice"})),
        )
            .into_response();
    }
    Json(json!({"invoice": {"id": "INV-1", "status": "open", "lines": [{"sku": "A", "qty": 2}]}}))
        .into_response()
}

async fn purchase_orders(headers: HeaderMap) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    Json(json!({"purchase_orders": [{"id": "PO-7", "supplier": "Acme", "status": "open"}]}))
        .into_response()
}

async fn fake_erp() -> String {
    let app = Router::new()
        .route("/api/v1/invoices", get(invoices))
        .route("/api/v1/invoices/{id}", get(invoice))
        .route("/api/v1/purchase-orders", get(purchase_orders));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}/api/v1")
}

#[tokio::test]
async fn tools_use_the_clients_service_key() {
    let base = fake_erp().await;
    let mut server =
        ServerProcess::start(BIN, &[("ERP_BASE_URL", &base), ("ERP_API_KEY", ERP_KEY)]);
    let client = testing::connect(
        &server.mcp_url(),
        Some(TEST_TOKEN),
        &[("X-LibreChat-User-Id", "u-7")],
    )
    .await
    .expect("initialize");
    assert_eq!(
        testing::tool_names(&client).await,
        [
            "get_invoice",
            "list_invoices",
            "list_purchase_orders",
            "whoami"
        ]
    );
    let whoami = testing::call_tool(&client, "whoami", Value::Null)
        .await
        .ok_json();
    assert_eq!(
        whoami,
        json!({"server": "custom-erp-mcp", "user": "u-7",
               "credentials": {"ERP_API_KEY": {"source": "env", "masked": "…4242"}}})
    );
    let open = testing::call_tool(
        &client,
        "list_invoices",
        json!({"status": "open", "limit": 5}),
    )
    .await
    .ok_json();
    assert_eq!(
        open["invoices"],
        json!([{"id": "INV-1", "status": "open", "total": 120.0}])
    );
    let invoice = testing::call_tool(&client, "get_invoice", json!({"invoice_id": "INV-1"}))
        .await
        .ok_json();
    assert_eq!(invoice["lines"][0]["sku"], "A");
    let missing = testing::call_tool(&client, "get_invoice", json!({"invoice_id": "INV-9"})).await;
    assert!(missing.is_error);
    assert_eq!(
        missing.text,
        "Custom ERP answered HTTP 404: no such invoice"
    );
    let orders = testing::call_tool(&client, "list_purchase_orders", json!({}))
        .await
        .ok_json();
    assert_eq!(orders["purchase_orders"][0]["id"], "PO-7");
    client.cancel().await.unwrap();
    assert_no_secrets(&server.stop(), &[ERP_KEY, TEST_TOKEN]);
}

#[tokio::test]
async fn without_a_key_the_server_starts_and_tools_say_not_configured() {
    let base = fake_erp().await;
    let mut server = ServerProcess::start(BIN, &[("ERP_BASE_URL", &base), ("ERP_API_KEY", "")]);
    let client = testing::connect(&server.mcp_url(), Some(TEST_TOKEN), &[])
        .await
        .expect("initialize works without the key");
    assert_eq!(testing::tool_names(&client).await.len(), 4);
    let invoices = testing::call_tool(&client, "list_invoices", json!({})).await;
    assert!(invoices.is_error);
    assert!(
        invoices
            .text
            .starts_with("Custom ERP is not configured: ERP_API_KEY"),
        "{}",
        invoices.text
    );
    let whoami = testing::call_tool(&client, "whoami", Value::Null)
        .await
        .ok_json();
    assert_eq!(whoami["credentials"]["ERP_API_KEY"]["source"], "missing");
    client.cancel().await.unwrap();
    server.stop();
}

#[tokio::test]
async fn a_rejected_service_key_points_to_the_administrator() {
    let base = fake_erp().await;
    let wrong = "erp-old-rotated-key-0000";
    let mut server = ServerProcess::start(BIN, &[("ERP_BASE_URL", &base), ("ERP_API_KEY", wrong)]);
    let client = testing::connect(&server.mcp_url(), Some(TEST_TOKEN), &[])
        .await
        .expect("initialize");
    let invoices = testing::call_tool(&client, "list_invoices", json!({})).await;
    assert!(invoices.is_error);
    assert!(
        invoices
            .text
            .starts_with("Custom ERP rejected the configured ERP_API_KEY (…0000, HTTP 401)"),
        "{}",
        invoices.text
    );
    assert!(invoices.text.contains("administrator"), "{}", invoices.text);
    client.cancel().await.unwrap();
    assert_no_secrets(&server.stop(), &[wrong, TEST_TOKEN]);
}
