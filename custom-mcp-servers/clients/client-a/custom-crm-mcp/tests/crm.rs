//! custom-crm-mcp against a local fake of GoHighLevel, through rmcp's own client.

mod fake_ghl;

use fake_ghl::Account;
use scalewize_mcp_kit::testing::{
    self, INITIALIZE_BODY, McpClient, ServerProcess, TEST_TOKEN, assert_no_secrets,
};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_custom-crm-mcp");
const ALICE_KEY: &str = "pit-alice-0000-1111-2222-aaaa";
const BOB_KEY: &str = "pit-bob-3333-4444-5555-bbbb";
const REVOKED_KEY: &str = "pit-revoked-6666-7777-dead";
const ALICE_LOCATION: &str = "loc-alice-7001";
const BOB_LOCATION: &str = "loc-bob-8002";
const ALL_SECRETS: &[&str] = &[ALICE_KEY, BOB_KEY, REVOKED_KEY, TEST_TOKEN];

async fn fake() -> String {
    fake_ghl::start(vec![
        Account {
            key: ALICE_KEY,
            location: ALICE_LOCATION,
            contacts: vec![
                json!({"id": "c-alice-1", "firstName": "Ada", "lastName": "Lovelace",
                       "email": "ada@alice.example", "locationId": ALICE_LOCATION}),
                json!({"id": "c-alice-2", "firstName": "Alan", "lastName": "Turing",
                       "email": "alan@alice.example", "locationId": ALICE_LOCATION}),
            ],
        },
        Account {
            key: BOB_KEY,
            location: BOB_LOCATION,
            contacts: vec![
                json!({"id": "c-bob-1", "firstName": "Grace", "lastName": "Hopper",
                                  "email": "grace@bob.example", "locationId": BOB_LOCATION}),
            ],
        },
    ])
    .await
}

fn start(base_url: &str, env: &[(&str, &str)]) -> ServerProcess {
    let mut vars = vec![("GHL_BASE_URL", base_url)];
    vars.extend_from_slice(env);
    ServerProcess::start(BIN, &vars)
}

async fn connect_as(server: &ServerProcess, user: &str, key: &str, location: &str) -> McpClient {
    testing::connect(
        &server.mcp_url(),
        Some(TEST_TOKEN),
        &[
            ("X-LibreChat-User-Id", user),
            ("X-GHL-Api-Key", key),
            ("X-GHL-Location-Id", location),
        ],
    )
    .await
    .expect("initialize")
}

fn emails(search: &Value) -> Vec<String> {
    search["contacts"]
        .as_array()
        .expect("contacts")
        .iter()
        .map(|contact| contact["email"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn initialize_list_and_whoami() {
    let base = fake().await;
    let mut server = start(&base, &[]);
    let client = connect_as(&server, "u-alice", ALICE_KEY, ALICE_LOCATION).await;
    assert_eq!(
        testing::tool_names(&client).await,
        [
            "add_note",
            "create_contact",
            "get_contact",
            "list_notes",
            "search_contacts",
            "whoami"
        ]
    );
    let whoami = testing::call_tool(&client, "whoami", Value::Null)
        .await
        .ok_json();
    assert_eq!(
        whoami,
        json!({
            "server": "custom-crm-mcp",
            "user": "u-alice",
            "credentials": {
                "GHL_API_KEY": {"source": "header", "masked": "…aaaa"},
                "GHL_LOCATION_ID": {"source": "header", "masked": "…7001"},
            },
        })
    );
    client.cancel().await.unwrap();
    assert_no_secrets(&server.stop(), ALL_SECRETS);
}

#[tokio::test]
async fn requests_without_the_token_are_refused() {
    let base = fake().await;
    let mut server = start(&base, &[]);
    let response = testing::http_client()
        .post(server.mcp_url())
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("X-GHL-Api-Key", ALICE_KEY)
        .body(INITIALIZE_BODY)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("X-MCP-Access-Token"),
        "{body}"
    );
    let refused = testing::connect(
        &server.mcp_url(),
        None,
        &[
            ("X-GHL-Api-Key", ALICE_KEY),
            ("X-GHL-Location-Id", ALICE_LOCATION),
        ],
    )
    .await;
    assert!(refused.is_err());
    assert_no_secrets(&server.stop(), ALL_SECRETS);
}

#[tokio::test]
async fn concurrent_users_see_their_own_identity_and_data() {
    let base = fake().await;
    let mut server = start(&base, &[]);
    let (alice, bob) = tokio::join!(
        connect_as(&server, "u-alice", ALICE_KEY, ALICE_LOCATION),
        connect_as(&server, "u-bob", BOB_KEY, BOB_LOCATION),
    );

    for _ in 0..3 {
        let (who_a, who_b, search_a, search_b) = tokio::join!(
            testing::call_tool(&alice, "whoami", Value::Null),
            testing::call_tool(&bob, "whoami", Value::Null),
            testing::call_tool(&alice, "search_contacts", json!({"query": "example"})),
            testing::call_tool(&bob, "search_contacts", json!({"query": "example"})),
        );
        let (who_a, who_b) = (who_a.ok_json(), who_b.ok_json());
        assert_eq!(who_a["user"], "u-alice");
        assert_eq!(who_a["credentials"]["GHL_API_KEY"]["masked"], "…aaaa");
        assert_eq!(who_b["user"], "u-bob");
        assert_eq!(who_b["credentials"]["GHL_API_KEY"]["masked"], "…bbbb");
        assert_eq!(
            emails(&search_a.ok_json()),
            ["ada@alice.example", "alan@alice.example"]
        );
        assert_eq!(emails(&search_b.ok_json()), ["grace@bob.example"]);
    }

    // Each user writes into their own account only.
    let (created_a, created_b) = tokio::join!(
        testing::call_tool(
            &alice,
            "create_contact",
            json!({"first_name": "Katherine", "email": "kj@alice.example"})
        ),
        testing::call_tool(
            &bob,
            "create_contact",
            json!({"first_name": "Dorothy", "email": "dv@bob.example", "tags": ["vip"]})
        ),
    );
    let (created_a, created_b) = (created_a.ok_json(), created_b.ok_json());
    assert_eq!(created_a["locationId"], ALICE_LOCATION);
    assert_eq!(created_b["locationId"], BOB_LOCATION);
    assert_eq!(created_b["tags"], json!(["vip"]));

    let search_b = testing::call_tool(&bob, "search_contacts", json!({"query": "", "limit": 10}))
        .await
        .ok_json();
    assert_eq!(emails(&search_b), ["grace@bob.example", "dv@bob.example"]);
    assert_eq!(search_b["total"], 2);

    let (note_a, note_b) = tokio::join!(
        testing::call_tool(
            &alice,
            "add_note",
            json!({"contact_id": "c-alice-1", "body": "alice's note"})
        ),
        testing::call_tool(
            &bob,
            "add_note",
            json!({"contact_id": "c-bob-1", "body": "bob's note"})
        ),
    );
    assert_eq!(note_a.ok_json()["body"], "alice's note");
    assert_eq!(note_b.ok_json()["body"], "bob's note");
    let notes_a = testing::call_tool(&alice, "list_notes", json!({"contact_id": "c-alice-1"}))
        .await
        .ok_json();
    assert_eq!(notes_a["notes"].as_array().unwrap().len(), 1);
    assert_eq!(notes_a["notes"][0]["body"], "alice's note");

    // Alice cannot read Bob's contact: the upstream sees only her key.
    let contact = testing::call_tool(&alice, "get_contact", json!({"contact_id": "c-alice-2"}))
        .await
        .ok_json();
    assert_eq!(contact["lastName"], "Turing");
    let foreign = testing::call_tool(&alice, "get_contact", json!({"contact_id": "c-bob-1"})).await;
    assert!(foreign.is_error);
    assert_eq!(
        foreign.text,
        "GoHighLevel answered HTTP 404: Contact not found"
    );

    alice.cancel().await.unwrap();
    bob.cancel().await.unwrap();
    let stderr = server.stop();
    assert!(stderr.contains("POST /mcp 200"), "{stderr}");
    assert_no_secrets(&stderr, ALL_SECRETS);
}

#[tokio::test]
async fn without_header_or_env_fallback_tools_say_not_connected() {
    let base = fake().await;
    let mut server = start(&base, &[]);
    let client = testing::connect(
        &server.mcp_url(),
        Some(TEST_TOKEN),
        &[("X-LibreChat-User-Id", "u-new")],
    )
    .await
    .expect("initialize");
    let search = testing::call_tool(&client, "search_contacts", json!({"query": "a"})).await;
    assert!(search.is_error);
    assert_eq!(
        search.text,
        "GoHighLevel is not connected: enter your GoHighLevel API key in LibreChat \
         (MCP settings → custom-crm-mcp) and reinitialize"
    );
    let whoami = testing::call_tool(&client, "whoami", Value::Null)
        .await
        .ok_json();
    assert_eq!(whoami["user"], "u-new");
    assert_eq!(whoami["credentials"]["GHL_API_KEY"]["source"], "missing");
    client.cancel().await.unwrap();

    // A key but no location: the message names the missing location.
    let client = testing::connect(
        &server.mcp_url(),
        Some(TEST_TOKEN),
        &[("X-GHL-Api-Key", ALICE_KEY)],
    )
    .await
    .expect("initialize");
    let search = testing::call_tool(&client, "search_contacts", json!({"query": "a"})).await;
    assert!(search.is_error);
    assert!(
        search.text.contains("enter your Location ID in LibreChat"),
        "{}",
        search.text
    );
    client.cancel().await.unwrap();
    assert_no_secrets(&server.stop(), ALL_SECRETS);
}

#[tokio::test]
async fn the_env_fallback_serves_users_without_headers() {
    let base = fake().await;
    let mut server = start(
        &base,
        &[
            ("GHL_API_KEY", ALICE_KEY),
            ("GHL_LOCATION_ID", ALICE_LOCATION),
        ],
    );
    let client = testing::connect(
        &server.mcp_url(),
        Some(TEST_TOKEN),
        &[("X-LibreChat-User-Id", "u-shared")],
    )
    .await
    .expect("initialize");
    let whoami = testing::call_tool(&client, "whoami", Value::Null)
        .await
        .ok_json();
    assert_eq!(
        whoami["credentials"],
        json!({
            "GHL_API_KEY": {"source": "env", "masked": "…aaaa"},
            "GHL_LOCATION_ID": {"source": "env", "masked": "…7001"},
        })
    );
    let search = testing::call_tool(&client, "search_contacts", json!({"query": "ada"}))
        .await
        .ok_json();
    assert_eq!(emails(&search), ["ada@alice.example"]);
    client.cancel().await.unwrap();

    // A user with their own headers still gets their own account, not the fallback.
    let bob = connect_as(&server, "u-bob", BOB_KEY, BOB_LOCATION).await;
    let search = testing::call_tool(&bob, "search_contacts", json!({"query": ""}))
        .await
        .ok_json();
    assert_eq!(emails(&search), ["grace@bob.example"]);
    bob.cancel().await.unwrap();
    assert_no_secrets(&server.stop(), ALL_SECRETS);
}

#[tokio::test]
async fn a_rejected_key_tells_the_user_to_fix_it() {
    let base = fake().await;
    let mut server = start(&base, &[]);
    let client = connect_as(&server, "u-old", REVOKED_KEY, ALICE_LOCATION).await;
    let search = testing::call_tool(&client, "search_contacts", json!({"query": "a"})).await;
    assert!(search.is_error);
    assert!(
        search
            .text
            .starts_with("GoHighLevel rejected your GoHighLevel API key (…dead, HTTP 401)"),
        "{}",
        search.text
    );
    assert!(search.text.contains("MCP settings → custom-crm-mcp"));

    // A valid key on someone else's location is refused upstream with 403.
    let client = connect_as(&server, "u-alice", ALICE_KEY, BOB_LOCATION).await;
    let search = testing::call_tool(&client, "search_contacts", json!({"query": "a"})).await;
    assert!(search.is_error);
    assert!(search.text.contains("HTTP 403"), "{}", search.text);
    assert!(
        search
            .text
            .contains("The token does not have access to this location"),
        "{}",
        search.text
    );
    assert_no_secrets(&search.text, ALL_SECRETS);
    assert_no_secrets(&server.stop(), ALL_SECRETS);
}

#[tokio::test]
async fn invalid_arguments_are_explained() {
    let base = fake().await;
    let mut server = start(&base, &[]);
    let client = connect_as(&server, "u-alice", ALICE_KEY, ALICE_LOCATION).await;
    let created = testing::call_tool(&client, "create_contact", json!({"tags": ["x"]})).await;
    assert!(created.is_error);
    assert!(created.text.contains("at least"), "{}", created.text);
    let note = testing::call_tool(
        &client,
        "add_note",
        json!({"contact_id": "c-alice-1", "body": "  "}),
    )
    .await;
    assert!(note.is_error);
    // Ids cannot reach other upstream paths.
    let contact = testing::call_tool(
        &client,
        "get_contact",
        json!({"contact_id": "../contacts/search"}),
    )
    .await;
    assert!(contact.is_error);
    assert!(contact.text.contains("404"), "{}", contact.text);
    client.cancel().await.unwrap();
    server.stop();
}
