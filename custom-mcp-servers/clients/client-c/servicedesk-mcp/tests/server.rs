//! servicedesk-mcp against a local fake of Zoho's token endpoint and the ServiceDesk Plus v3 API,
//! through rmcp's own client.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use axum::{
    Form, Json, Router,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use scalewize_mcp_kit::testing::{self, ServerProcess, TEST_TOKEN, assert_no_secrets};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_servicedesk-mcp");
const CLIENT_ID: &str = "1000.CLIENTIDFORDANA00000000001234";
const CLIENT_SECRET: &str = "dana-client-secret-5f5f5f5f5f5f";
const REFRESH_TOKEN: &str = "1000.dana-refresh-token-9e9e9e9e";
const ACCEPT_V3: &str = "application/vnd.manageengine.sdp.v3+json";

#[derive(Default)]
struct FakeState {
    /// Access tokens currently accepted.
    valid: Vec<String>,
    /// Every token ever issued (to prove none leaks).
    issued: Vec<String>,
    refreshes: usize,
    requests: Vec<Value>,
}

#[derive(Clone, Default)]
struct Fake(Arc<Mutex<FakeState>>);

impl Fake {
    fn refreshes(&self) -> usize {
        self.0.lock().unwrap().refreshes
    }

    fn revoke_all(&self) {
        self.0.lock().unwrap().valid.clear();
    }

    fn issued(&self) -> Vec<String> {
        self.0.lock().unwrap().issued.clone()
    }
}

async fn token(State(fake): State<Fake>, Form(form): Form<HashMap<String, String>>) -> Response {
    let field = |name: &str| form.get(name).map(String::as_str);
    let granted = field("grant_type") == Some("refresh_token")
        && field("client_id") == Some(CLIENT_ID)
        && field("client_secret") == Some(CLIENT_SECRET)
        && field("refresh_token") == Some(REFRESH_TOKEN);
    if !granted {
        // Zoho answers a bad grant with 200 and an error field.
        return Json(json!({"error": "invalid_code"})).into_response();
    }
    let mut state = fake.0.lock().unwrap();
    state.refreshes += 1;
    let access = format!("1000.access-{}-c0ffee", state.refreshes);
    state.valid.push(access.clone());
    state.issued.push(access.clone());
    Json(json!({
        "access_token": access,
        "api_domain": "https://www.zohoapis.com",
        "token_type": "Bearer",
        "expires_in": 3600,
    }))
    .into_response()
}

fn failure(status: StatusCode, message: &str) -> Response {
    let body = json!({"response_status": {"status_code": 4000, "status": "failed",
        "messages": [{"status_code": 4001, "type": "failed", "message": message}]}});
    (status, Json(body)).into_response()
}

/// Checks the v3 headers; `Err` is the response to send.
fn authorize(fake: &Fake, headers: &HeaderMap) -> Option<Response> {
    if headers.get("accept").and_then(|v| v.to_str().ok()) != Some(ACCEPT_V3) {
        return Some(failure(
            StatusCode::BAD_REQUEST,
            "Accept header must ask for v3",
        ));
    }
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Zoho-oauthtoken "))
        .unwrap_or_default();
    if !fake
        .0
        .lock()
        .unwrap()
        .valid
        .iter()
        .any(|valid| valid == token)
    {
        return Some(failure(StatusCode::UNAUTHORIZED, "Invalid OAuth token"));
    }
    None
}

async fn list(
    State(fake): State<Fake>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Some(refusal) = authorize(&fake, &headers) {
        return refusal;
    }
    let input: Value = serde_json::from_str(query.get("input_data").map_or("{}", String::as_str))
        .unwrap_or(Value::Null);
    let list_info = &input["list_info"];
    let rows = list_info["row_count"].as_u64().unwrap_or(10) as usize;
    let status = list_info["search_criteria"]["value"].as_str();
    let state = fake.0.lock().unwrap();
    let matching: Vec<&Value> = state
        .requests
        .iter()
        .rev()
        .filter(|request| status.is_none_or(|status| request["status"]["name"] == status))
        .collect();
    Json(json!({
        "requests": matching.iter().take(rows).collect::<Vec<_>>(),
        "list_info": {"row_count": rows, "has_more_rows": matching.len() > rows,
                      "total_count": matching.len()},
        "response_status": [{"status_code": 2000, "status": "success"}],
    }))
    .into_response()
}

async fn get_one(State(fake): State<Fake>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Some(refusal) = authorize(&fake, &headers) {
        return refusal;
    }
    let state = fake.0.lock().unwrap();
    match state.requests.iter().find(|request| request["id"] == id) {
        Some(request) => Json(json!({"request": request,
            "response_status": {"status_code": 2000, "status": "success"}}))
        .into_response(),
        None => failure(StatusCode::NOT_FOUND, "Request not found"),
    }
}

async fn create(
    State(fake): State<Fake>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refusal) = authorize(&fake, &headers) {
        return refusal;
    }
    let input: Value = serde_json::from_str(form.get("input_data").map_or("{}", String::as_str))
        .unwrap_or(Value::Null);
    let mut request = input["request"].clone();
    if request["subject"].as_str().is_none_or(str::is_empty) {
        return failure(StatusCode::BAD_REQUEST, "subject is mandatory");
    }
    let mut state = fake.0.lock().unwrap();
    request["id"] = json!(format!("{}", 10001 + state.requests.len()));
    request["status"] = json!({"name": "Open"});
    state.requests.push(request.clone());
    (
        StatusCode::CREATED,
        Json(json!({"request": request,
            "response_status": {"status_code": 2000, "status": "success"}})),
    )
        .into_response()
}

/// Serves the fake; returns it and the `SDP_BASE_URL` / `SDP_TOKEN_URL` to give the server.
async fn start_fake() -> (Fake, String, String) {
    let fake = Fake::default();
    fake.0.lock().unwrap().requests.push(json!({
        "id": "10000", "subject": "Printer jammed", "status": {"name": "Resolved"},
        "requester": {"email_id": "dana@client-c.example"},
    }));
    let app = Router::new()
        .route("/oauth/v2/token", post(token))
        .route("/app/itdesk/api/v3/requests", get(list).post(create))
        .route("/app/itdesk/api/v3/requests/{id}", get(get_one))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (
        fake,
        format!("http://{address}/app/itdesk"),
        format!("http://{address}/oauth/v2/token"),
    )
}

fn start_server(base: &str, token_url: &str, refresh_token: &str) -> ServerProcess {
    ServerProcess::start(
        BIN,
        &[
            ("MCP_SERVER_NAME", "servicedesk-mcp-dana"),
            ("SDP_BASE_URL", base),
            ("SDP_TOKEN_URL", token_url),
            ("SDP_CLIENT_ID", CLIENT_ID),
            ("SDP_CLIENT_SECRET", CLIENT_SECRET),
            ("SDP_REFRESH_TOKEN", refresh_token),
        ],
    )
}

#[tokio::test]
async fn the_refresh_token_flow_serves_tool_calls() {
    let (fake, base, token_url) = start_fake().await;
    let mut server = start_server(&base, &token_url, REFRESH_TOKEN);
    let client = testing::connect(&server.mcp_url(), Some(TEST_TOKEN), &[])
        .await
        .expect("initialize");
    assert_eq!(
        testing::tool_names(&client).await,
        ["create_request", "get_request", "list_requests", "whoami"]
    );

    let whoami = testing::call_tool(&client, "whoami", Value::Null)
        .await
        .ok_json();
    assert_eq!(
        whoami,
        json!({
            "server": "servicedesk-mcp-dana",
            "user": null,
            "credentials": {
                "SDP_CLIENT_ID": {"source": "env", "masked": "…1234"},
                "SDP_CLIENT_SECRET": {"source": "env", "masked": "…5f5f"},
                "SDP_REFRESH_TOKEN": {"source": "env", "masked": "…9e9e"},
            },
        })
    );
    assert_eq!(fake.refreshes(), 0, "whoami does not call ServiceDesk Plus");

    let listed = testing::call_tool(&client, "list_requests", json!({}))
        .await
        .ok_json();
    assert_eq!(listed["requests"][0]["subject"], "Printer jammed");
    assert_eq!(fake.refreshes(), 1);

    let created = testing::call_tool(
        &client,
        "create_request",
        json!({"subject": "VPN is down", "description": "since 9am", "priority": "High"}),
    )
    .await
    .ok_json();
    assert_eq!(created["subject"], "VPN is down");
    assert_eq!(created["priority"]["name"], "High");
    let id = created["id"].as_str().unwrap().to_owned();

    let fetched = testing::call_tool(&client, "get_request", json!({"request_id": id}))
        .await
        .ok_json();
    assert_eq!(fetched["description"], "since 9am");
    let open = testing::call_tool(&client, "list_requests", json!({"status": "Open"}))
        .await
        .ok_json();
    assert_eq!(open["requests"].as_array().unwrap().len(), 1);
    assert_eq!(open["requests"][0]["subject"], "VPN is down");
    assert_eq!(fake.refreshes(), 1, "the cached access token is reused");

    // The access token is revoked upstream: the next call refreshes once and succeeds.
    fake.revoke_all();
    let listed = testing::call_tool(&client, "list_requests", json!({"limit": 1}))
        .await
        .ok_json();
    assert_eq!(listed["requests"].as_array().unwrap().len(), 1);
    assert_eq!(listed["list_info"]["has_more_rows"], true);
    assert_eq!(fake.refreshes(), 2);

    let missing = testing::call_tool(&client, "get_request", json!({"request_id": "999"})).await;
    assert!(missing.is_error);
    assert_eq!(
        missing.text,
        "ServiceDesk Plus answered HTTP 404: Request not found"
    );
    client.cancel().await.unwrap();

    let stderr = server.stop();
    let mut secrets = vec![CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, TEST_TOKEN];
    let issued = fake.issued();
    secrets.extend(issued.iter().map(String::as_str));
    assert_no_secrets(&stderr, &secrets);
}

#[tokio::test]
async fn a_refused_refresh_token_is_explained_without_secrets() {
    let (fake, base, token_url) = start_fake().await;
    let revoked = "1000.revoked-refresh-token-0bad";
    let mut server = start_server(&base, &token_url, revoked);
    let client = testing::connect(&server.mcp_url(), Some(TEST_TOKEN), &[])
        .await
        .expect("initialize");
    let listed = testing::call_tool(&client, "list_requests", json!({})).await;
    assert!(listed.is_error);
    assert!(
        listed
            .text
            .starts_with("ServiceDesk Plus refused to refresh the access token (invalid_code)"),
        "{}",
        listed.text
    );
    assert!(
        listed.text.contains("SDP_REFRESH_TOKEN (…0bad)"),
        "{}",
        listed.text
    );
    assert!(listed.text.contains("administrator"), "{}", listed.text);
    assert_no_secrets(&listed.text, &[revoked, CLIENT_ID, CLIENT_SECRET]);
    assert_eq!(fake.refreshes(), 0);
    client.cancel().await.unwrap();
    assert_no_secrets(
        &server.stop(),
        &[revoked, CLIENT_ID, CLIENT_SECRET, TEST_TOKEN],
    );
}

#[tokio::test]
async fn without_its_secrets_the_instance_starts_and_says_not_configured() {
    let mut server = ServerProcess::start(
        BIN,
        &[(
            "SDP_BASE_URL",
            "https://sdpondemand.manageengine.com/app/itdesk",
        )],
    );
    let client = testing::connect(&server.mcp_url(), Some(TEST_TOKEN), &[])
        .await
        .expect("initialize works without secrets");
    let listed = testing::call_tool(&client, "list_requests", json!({})).await;
    assert!(listed.is_error);
    assert!(
        listed
            .text
            .starts_with("ServiceDesk Plus is not configured: SDP_CLIENT_ID"),
        "{}",
        listed.text
    );
    let whoami = testing::call_tool(&client, "whoami", Value::Null)
        .await
        .ok_json();
    assert_eq!(
        whoami["credentials"]["SDP_REFRESH_TOKEN"]["source"],
        "missing"
    );
    client.cancel().await.unwrap();
    server.stop();
}

#[tokio::test]
async fn headers_cannot_replace_the_instances_credentials() {
    let (fake, base, token_url) = start_fake().await;
    let mut server = start_server(&base, &token_url, REFRESH_TOKEN);
    let client = testing::connect(
        &server.mcp_url(),
        Some(TEST_TOKEN),
        &[
            ("X-SDP-Client-ID", "attacker-client-id-0000"),
            ("SDP_REFRESH_TOKEN", "attacker-refresh-0000"),
        ],
    )
    .await
    .expect("initialize");
    let whoami = testing::call_tool(&client, "whoami", Value::Null)
        .await
        .ok_json();
    assert_eq!(whoami["credentials"]["SDP_CLIENT_ID"]["masked"], "…1234");
    assert_eq!(whoami["credentials"]["SDP_REFRESH_TOKEN"]["source"], "env");
    testing::call_tool(&client, "list_requests", json!({}))
        .await
        .ok_json();
    assert_eq!(fake.refreshes(), 1);
    client.cancel().await.unwrap();
    server.stop();
}
