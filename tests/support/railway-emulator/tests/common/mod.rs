//! A tiny blocking HTTP/1.1 client for the emulator's tests (no extra dependencies), which
//! also reports a connection closed without a response.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use railway_emulator::{DEFAULT_WORKSPACE_TOKEN, EmulatorHandle};
use serde_json::{Value, json};

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Value,
    pub text: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first error's message, or "".
    pub fn error(&self) -> String {
        self.body["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub fn code(&self) -> String {
        self.body["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub fn data(&self) -> &Value {
        &self.body["data"]
    }

    /// Panics unless the answer is 200 without errors.
    pub fn ok(self) -> Self {
        assert!(
            self.status == 200 && self.body.get("errors").is_none(),
            "expected success, got {} {}",
            self.status,
            self.text
        );
        self
    }
}

/// `Err` when the connection closed without a complete response.
pub fn post_raw(addr: SocketAddr, headers: &[(&str, &str)], body: &str) -> Result<Resp, String> {
    let mut s = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut req = format!(
        "POST /graphql/v2 HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\nX-Source: emulator-tests\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return Err(format!("no response (got {} bytes)", buf.len()));
    };
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or("bad status line")?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Ok(Resp {
        status,
        headers,
        body: serde_json::from_str(body).unwrap_or(Value::Null),
        text: body.to_string(),
    })
}

pub fn post(
    emu: &EmulatorHandle,
    headers: &[(&str, &str)],
    query: &str,
    vars: Value,
) -> Result<Resp, String> {
    let body = json!({"query": query, "variables": vars}).to_string();
    post_raw(emu.addr(), headers, &body)
}

/// A request with `Authorization: Bearer <token>`; panics on a lost response.
pub fn gql_as(emu: &EmulatorHandle, token: &str, query: &str, vars: Value) -> Resp {
    let auth = format!("Bearer {token}");
    post(emu, &[("Authorization", &auth)], query, vars).expect("response")
}

/// A request with the default workspace token.
pub fn gql(emu: &EmulatorHandle, query: &str, vars: Value) -> Resp {
    gql_as(emu, DEFAULT_WORKSPACE_TOKEN, query, vars)
}

/// A request with `Project-Access-Token: <token>`.
pub fn gql_project(emu: &EmulatorHandle, token: &str, query: &str, vars: Value) -> Resp {
    post(emu, &[("Project-Access-Token", token)], query, vars).expect("response")
}

pub const CREATE_PROJECT: &str = "mutation($input: ProjectCreateInput!) { projectCreate(input: $input) { id name environments { edges { node { id name } } } } }";
pub const CREATE_SERVICE: &str =
    "mutation($input: ServiceCreateInput!) { serviceCreate(input: $input) { id name } }";

/// Creates a project; returns (project id, production environment id).
pub fn create_project(emu: &EmulatorHandle, name: &str) -> (String, String) {
    let r = gql(
        emu,
        CREATE_PROJECT,
        json!({"input": {"name": name, "workspaceId": railway_emulator::DEFAULT_WORKSPACE_ID}}),
    )
    .ok();
    let p = &r.data()["projectCreate"];
    (
        p["id"].as_str().unwrap().to_string(),
        p["environments"]["edges"][0]["node"]["id"]
            .as_str()
            .unwrap()
            .to_string(),
    )
}

pub fn create_service(emu: &EmulatorHandle, project: &str, name: &str, extra: Value) -> String {
    let mut input = json!({"projectId": project, "name": name});
    if let Value::Object(m) = extra {
        input.as_object_mut().unwrap().extend(m);
    }
    let r = gql(emu, CREATE_SERVICE, json!({"input": input})).ok();
    r.data()["serviceCreate"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}
