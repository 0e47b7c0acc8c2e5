//! A tiny blocking HTTP/1.1 client for the tests (one connection per request), so that a
//! dropped connection is observable as such.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use fly_emulator::{Config, Emulator, EmulatorHandle, RateLimits};
use serde_json::Value;

pub const TOKEN: &str = "test-token";

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?} (status {})", self.body, self.status))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub struct Client {
    pub addr: std::net::SocketAddr,
    pub auth: Option<String>,
}

impl Client {
    pub fn new(emu: &EmulatorHandle) -> Client {
        Client {
            addr: emu.addr(),
            auth: Some(format!("Bearer {TOKEN}")),
        }
    }

    pub fn with_auth(emu: &EmulatorHandle, auth: Option<&str>) -> Client {
        Client {
            addr: emu.addr(),
            auth: auth.map(str::to_string),
        }
    }

    /// Err when the connection closed without a response.
    pub fn try_send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Resp, String> {
        let mut stream = TcpStream::connect(self.addr).map_err(|e| e.to_string())?;
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .map_err(|e| e.to_string())?;
        let body_text = body.map(|b| b.to_string()).unwrap_or_default();
        let mut req =
            format!("{method} {path} HTTP/1.1\r\nHost: emulator\r\nConnection: close\r\n");
        if let Some(a) = &self.auth {
            req.push_str(&format!("Authorization: {a}\r\n"));
        }
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        if body.is_some() {
            req.push_str("Content-Type: application/json\r\n");
        }
        req.push_str(&format!(
            "Content-Length: {}\r\n\r\n{body_text}",
            body_text.len()
        ));
        stream
            .write_all(req.as_bytes())
            .map_err(|e| e.to_string())?;
        let mut raw = Vec::new();
        let _ = stream.read_to_end(&mut raw);
        if raw.is_empty() {
            return Err("connection closed without a response".to_string());
        }
        let text = String::from_utf8_lossy(&raw).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let mut lines = head.lines();
        let status_line = lines.next().unwrap_or("");
        let status: u16 = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        Ok(Resp {
            status,
            headers,
            body: body.to_string(),
        })
    }

    pub fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Resp {
        self.try_send(method, path, headers, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    pub fn get(&self, path: &str) -> Resp {
        self.send("GET", path, &[], None)
    }

    pub fn post(&self, path: &str, body: &Value) -> Resp {
        self.send("POST", path, &[], Some(body))
    }

    pub fn post_empty(&self, path: &str) -> Resp {
        self.send("POST", path, &[], None)
    }

    pub fn delete(&self, path: &str) -> Resp {
        self.send("DELETE", path, &[], None)
    }

    pub fn with_nonce(&self, method: &str, path: &str, nonce: &str, body: Option<&Value>) -> Resp {
        self.send(method, path, &[("fly-machine-lease-nonce", nonce)], body)
    }
}

/// Fast time, no rate limits: for functional tests.
pub fn quick() -> EmulatorHandle {
    Emulator::start(
        Config::default()
            .time_scale(0.01)
            .rate_limits(RateLimits::disabled()),
    )
}

pub fn create_app(c: &Client, name: &str) {
    let r = c.post(
        "/v1/apps",
        &serde_json::json!({"name": name, "org_slug": "personal"}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
}

pub fn minimal_config() -> Value {
    serde_json::json!({
        "image": "flyio/mcp:latest",
        "guest": {"cpu_kind": "shared", "cpus": 1, "memory_mb": 1024},
        "services": [{
            "protocol": "tcp", "internal_port": 8080, "autostop": "stop", "autostart": true,
            "ports": [{"port": 80, "handlers": ["http"], "force_https": true},
                      {"port": 443, "handlers": ["tls", "http"]}]
        }],
        "metadata": {"mcp-client": "acme"}
    })
}

/// Create a machine and return its JSON.
pub fn create_machine(c: &Client, app: &str, name: &str) -> Value {
    let r = c.post(
        &format!("/v1/apps/{app}/machines"),
        &serde_json::json!({"name": name, "region": "iad", "config": minimal_config()}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

/// Wait (through the API) until the machine reaches `state`.
pub fn wait_state(c: &Client, app: &str, id: &str, state: &str, version: Option<&str>) -> Resp {
    let mut path = format!("/v1/apps/{app}/machines/{id}/wait?state={state}&timeout=60");
    if let Some(v) = version {
        path.push_str(&format!("&version={v}"));
    }
    c.get(&path)
}
