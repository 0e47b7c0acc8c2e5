//! custom-hr-mcp against a local fake HR API, through rmcp's own client.

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

const BIN: &str = env!("CARGO_BIN_EXE_custom-hr-mcp");
const HR_KEY: &str = "hr-service-key-client-b-5150";

fn authorized(headers: &HeaderMap) -> bool {
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {HR_KEY}"))
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({"error": "invalid api key"})),
    )
        .into_response()
}

fn employees_data() -> Vec<Value> {
    vec![
        json!({"id": "E1", "name": "Ana Silva", "department": "Sales"}),
        json!({"id": "E2", "name": "Bo Chen", "department": "Finance"}),
    ]
}

async fn employees(headers: HeaderMap, Query(query): Query<HashMap<String, String>>) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    let employees: Vec<Value> = employees_data()
        .into_iter()
        .filter(|e| {
            query
                .get("department")
                .is_none_or(|d| e["department"] == **d)
        })
        .collect();
    Json(json!({"employees": employees})).into_response()
}

async fn employee(headers: HeaderMap, Path(id): Path<String>) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    match employees_data().into_iter().find(|e| e["id"] == id) {
        Some(employee) => Json(json!({"employee": employee})).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"message": "employee not found"})),
        )
            .into_response(),
    }
}

async fn time_off(headers: HeaderMap, Query(query): Query<HashMap<String, String>>) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    let all = [
        json!({"employee_id": "E1", "status": "approved", "days": 3}),
        json!({"employee_id": "E2", "status": "pending", "days": 1}),
    ];
    let time_off: Vec<&Value> = all
        .iter()
        .filter(|r| {
            query
                .get("employee_id")
                .is_none_or(|id| r["employee_id"] == **id)
        })
        .filter(|r| query.get("status").is_none_or(|s| r["status"] == **s))
        .collect();
    Json(json!({"time_off": time_off})).into_response()
}

async fn fake_hr() -> String {
    let app = Router::new()
        .route("/employees", get(employees))
        .route("/employees/{id}", get(employee))
        .route("/time-off", get(time_off));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}")
}

#[tokio::test]
async fn tools_use_the_clients_service_key() {
    let base = fake_hr().await;
    let mut server = ServerProcess::start(BIN, &[("HR_BASE_URL", &base), ("HR_API_KEY", HR_KEY)]);
    let client = testing::connect(&server.mcp_url(), Some(TEST_TOKEN), &[])
        .await
        .expect("initialize");
    assert_eq!(
        testing::tool_names(&client).await,
        ["get_employee", "list_employees", "list_time_off", "whoami"]
    );
    let whoami = testing::call_tool(&client, "whoami", Value::Null)
        .await
        .ok_json();
    assert_eq!(
        whoami["credentials"],
        json!({"HR_API_KEY": {"source": "env", "masked": "…5150"}})
    );
    let sales = testing::call_tool(&client, "list_employees", json!({"department": "Sales"}))
        .await
        .ok_json();
    assert_eq!(
        sales["employees"],
        json!([{"id": "E1", "name": "Ana Silva", "department": "Sales"}])
    );
    let bo = testing::call_tool(&client, "get_employee", json!({"employee_id": "E2"}))
        .await
        .ok_json();
    assert_eq!(bo["name"], "Bo Chen");
    let pending = testing::call_tool(&client, "list_time_off", json!({"status": "pending"}))
        .await
        .ok_json();
    assert_eq!(
        pending["time_off"],
        json!([{"employee_id": "E2", "status": "pending", "days": 1}])
    );
    client.cancel().await.unwrap();
    assert_no_secrets(&server.stop(), &[HR_KEY, TEST_TOKEN]);
}

#[tokio::test]
async fn without_a_key_the_server_starts_and_tools_say_not_configured() {
    let base = fake_hr().await;
    let mut server = ServerProcess::start(BIN, &[("HR_BASE_URL", &base)]);
    let client = testing::connect(&server.mcp_url(), Some(TEST_TOKEN), &[])
        .await
        .expect("initialize works without the key");
    let employees = testing::call_tool(&client, "list_employees", json!({})).await;
    assert!(employees.is_error);
    assert!(
        employees
            .text
            .starts_with("Custom HR is not configured: HR_API_KEY"),
        "{}",
        employees.text
    );
    client.cancel().await.unwrap();
    server.stop();
}

#[tokio::test]
async fn without_a_base_url_tools_say_not_configured() {
    let mut server = ServerProcess::start(BIN, &[("HR_API_KEY", HR_KEY)]);
    let client = testing::connect(&server.mcp_url(), Some(TEST_TOKEN), &[])
        .await
        .expect("initialize");
    let employees = testing::call_tool(&client, "list_employees", json!({})).await;
    assert!(employees.is_error);
    assert!(
        employees.text.contains("HR_BASE_URL is empty"),
        "{}",
        employees.text
    );
    client.cancel().await.unwrap();
    assert_no_secrets(&server.stop(), &[HR_KEY, TEST_TOKEN]);
}
