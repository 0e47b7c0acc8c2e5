//! A small in-test fake of the GoHighLevel API v2 endpoints the server uses. Each API key is its
//! own account with its own location, contacts and notes, so tests can prove isolation.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use axum::{
    Json, Router,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde_json::{Value, json};

pub struct Account {
    pub key: &'static str,
    pub location: &'static str,
    pub contacts: Vec<Value>,
}

#[derive(Default)]
struct Data {
    /// Contacts by location.
    contacts: HashMap<String, Vec<Value>>,
    /// Notes by contact id.
    notes: HashMap<String, Vec<Value>>,
    next_id: u64,
}

#[derive(Clone)]
struct Fake {
    /// API key → location.
    keys: Arc<HashMap<&'static str, &'static str>>,
    data: Arc<Mutex<Data>>,
}

/// Serves the fake on a free loopback port; returns its base URL.
pub async fn start(accounts: Vec<Account>) -> String {
    let mut data = Data::default();
    let mut keys = HashMap::new();
    for account in accounts {
        keys.insert(account.key, account.location);
        data.contacts
            .insert(account.location.to_owned(), account.contacts);
    }
    let fake = Fake {
        keys: Arc::new(keys),
        data: Arc::new(Mutex::new(data)),
    };
    let app = Router::new()
        .route("/contacts/search", post(search))
        .route("/contacts/", post(create))
        .route("/contacts/{id}", get(get_contact))
        .route("/contacts/{id}/notes", get(list_notes).post(add_note))
        .with_state(fake);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}")
}

/// A GoHighLevel-style error body.
struct Refusal(StatusCode, &'static str);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let Refusal(status, message) = self;
        let body = json!({ "statusCode": status.as_u16(), "message": message });
        (status, Json(body)).into_response()
    }
}

fn error(status: StatusCode, message: &'static str) -> Response {
    Refusal(status, message).into_response()
}

/// The caller's location, or the error GoHighLevel would give.
fn authenticate(fake: &Fake, headers: &HeaderMap) -> Result<&'static str, Refusal> {
    if headers.get("version").and_then(|v| v.to_str().ok()) != Some("2021-07-28") {
        return Err(Refusal(
            StatusCode::BAD_REQUEST,
            "Version header is missing or invalid",
        ));
    }
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    fake.keys
        .get(token)
        .copied()
        .ok_or(Refusal(StatusCode::UNAUTHORIZED, "Invalid JWT"))
}

fn check_location(location: &str, body: &Value) -> Result<(), Refusal> {
    if body["locationId"] != location {
        return Err(Refusal(
            StatusCode::FORBIDDEN,
            "The token does not have access to this location",
        ));
    }
    Ok(())
}

fn find_contact<'a>(data: &'a Data, location: &str, id: &str) -> Option<&'a Value> {
    data.contacts
        .get(location)?
        .iter()
        .find(|contact| contact["id"] == id)
}

async fn search(State(fake): State<Fake>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    let location = match authenticate(&fake, &headers) {
        Ok(location) => location,
        Err(refusal) => return refusal.into_response(),
    };
    if let Err(refusal) = check_location(location, &body) {
        return refusal.into_response();
    }
    let query = body["query"].as_str().unwrap_or_default().to_lowercase();
    let limit = body["pageLimit"].as_u64().unwrap_or(20) as usize;
    let data = fake.data.lock().unwrap();
    let matches: Vec<Value> = data.contacts[location]
        .iter()
        .filter(|contact| contact.to_string().to_lowercase().contains(&query))
        .cloned()
        .collect();
    let total = matches.len();
    let contacts: Vec<Value> = matches.into_iter().take(limit).collect();
    Json(json!({ "contacts": contacts, "total": total })).into_response()
}

async fn get_contact(
    State(fake): State<Fake>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let location = match authenticate(&fake, &headers) {
        Ok(location) => location,
        Err(refusal) => return refusal.into_response(),
    };
    let data = fake.data.lock().unwrap();
    match find_contact(&data, location, &id) {
        Some(contact) => Json(json!({ "contact": contact })).into_response(),
        None => error(StatusCode::NOT_FOUND, "Contact not found"),
    }
}

async fn create(State(fake): State<Fake>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    let location = match authenticate(&fake, &headers) {
        Ok(location) => location,
        Err(refusal) => return refusal.into_response(),
    };
    if let Err(refusal) = check_location(location, &body) {
        return refusal.into_response();
    }
    let mut data = fake.data.lock().unwrap();
    data.next_id += 1;
    let mut contact = body.clone();
    contact["id"] = json!(format!("c-{location}-new-{}", data.next_id));
    data.contacts
        .get_mut(location)
        .unwrap()
        .push(contact.clone());
    (StatusCode::CREATED, Json(json!({ "contact": contact }))).into_response()
}

async fn add_note(
    State(fake): State<Fake>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    let location = match authenticate(&fake, &headers) {
        Ok(location) => location,
        Err(refusal) => return refusal.into_response(),
    };
    let mut data = fake.data.lock().unwrap();
    if find_contact(&data, location, &id).is_none() {
        return error(StatusCode::NOT_FOUND, "Contact not found");
    }
    data.next_id += 1;
    let note = json!({
        "id": format!("n-{}", data.next_id),
        "contactId": id,
        "body": body["body"],
    });
    data.notes.entry(id).or_default().push(note.clone());
    (StatusCode::CREATED, Json(json!({ "note": note }))).into_response()
}

async fn list_notes(
    State(fake): State<Fake>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let location = match authenticate(&fake, &headers) {
        Ok(location) => location,
        Err(refusal) => return refusal.into_response(),
    };
    let data = fake.data.lock().unwrap();
    if find_contact(&data, location, &id).is_none() {
        return error(StatusCode::NOT_FOUND, "Contact not found");
    }
    let notes = data.notes.get(&id).cloned().unwrap_or_default();
    Json(json!({ "notes": notes })).into_response()
}
