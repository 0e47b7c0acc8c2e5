//! The machine config scalewize sends, as typed structs holding only Machines API names (notes
//! §3: `services[].autostop`/`autostart`, never the fly.toml `auto_stop_machines`/
//! `auto_start_machines`; `guest{cpu_kind, cpus, memory_mb}`; checks with Go duration strings),
//! and the way back: the comparable fields of a live machine, read leniently from its config and
//! scalewize's metadata.

use std::collections::BTreeMap;

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::Fields;
use crate::model::{ServiceKey, ServiceKind};
use crate::model::{content_digest, size_field};
use crate::platform::{Resolved, ResolvedSpec};

/// Metadata keys (values are strings).
pub const META_OWNER: &str = "scalewize_owner";
pub const META_SERVICE: &str = "scalewize_service";
pub const META_USER: &str = "scalewize_user";
/// Digest of the non-secret fields this machine was configured with.
pub const META_SPEC: &str = "scalewize_spec";
/// The MCP endpoint path (not otherwise in a machine config).
pub const META_PATH: &str = "scalewize_path";
/// The names of the app secrets this machine was given, comma-separated (case kept).
pub const META_SECRETS: &str = "scalewize_secrets";
/// `scalewize_fp_<name lowercased>`: the fingerprint of that secret's value.
pub const META_FP_PREFIX: &str = "scalewize_fp_";
/// The name of the machine's health check.
pub const CHECK_NAME: &str = "health";

/// `POST /v1/apps/{app}/machines` (notes §3 "Create").
#[derive(Debug, Serialize)]
pub struct CreateRequest<'a> {
    pub name: &'a str,
    pub region: &'a str,
    pub config: &'a MachineConfig,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_secrets_version: Option<u64>,
}

/// `POST /v1/apps/{app}/machines/{id}`: the full config (notes §3 "Update").
#[derive(Debug, Serialize)]
pub struct UpdateRequest<'a> {
    pub config: &'a MachineConfig,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_version: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_secrets_version: Option<u64>,
    /// Update an idle machine without booting it (flyctl's `shouldSkipLaunch`, notes §11).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub skip_launch: bool,
}

/// `fly.MachineConfig`, only the parts scalewize sets.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MachineConfig {
    pub image: String,
    pub env: BTreeMap<String, String>,
    pub metadata: BTreeMap<String, String>,
    pub guest: Guest,
    pub restart: Restart,
    pub services: Vec<Service>,
    pub checks: BTreeMap<String, Check>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<File>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Guest {
    pub cpu_kind: CpuKind,
    pub cpus: u32,
    pub memory_mb: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CpuKind {
    Shared,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Restart {
    pub policy: RestartPolicy,
    pub max_retries: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum RestartPolicy {
    #[serde(rename = "on-failure")]
    OnFailure,
}

/// `services[]` (notes §3): `autostop` is the string enum of today's API, never the bool.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Service {
    pub protocol: Protocol,
    pub internal_port: u16,
    pub autostop: Autostop,
    pub autostart: bool,
    pub min_machines_running: u32,
    pub ports: Vec<Port>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Autostop {
    Off,
    Stop,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Handler {
    Http,
    Tls,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Port {
    pub port: u16,
    pub handlers: Vec<Handler>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub force_https: Option<bool>,
}

/// A machine check (notes §3: durations are Go duration strings such as `"15s"`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    #[serde(rename = "type")]
    pub kind: CheckKind,
    pub port: u16,
    pub path: String,
    pub interval: &'static str,
    pub timeout: &'static str,
    pub grace_period: &'static str,
    pub method: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckKind {
    Http,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct File {
    pub guest_path: String,
    /// Base64 of the exact bytes.
    pub raw_value: String,
}

/// The public URL of an app (notes §5: `<app>.fly.dev` once it has an IP and services).
pub fn app_url(app: &str) -> String {
    format!("https://{app}.fly.dev")
}

/// `env.PORT` as every Fly machine gets it (the spec's own `PORT` wins).
pub fn port_env(spec: &crate::model::ServiceSpec) -> Option<String> {
    (!spec.env.contains_key("PORT")).then(|| spec.port.to_string())
}

/// Digest of the non-secret fields (`scalewize_spec`).
pub fn spec_digest(fields: &Fields) -> String {
    let plain: Vec<(&String, &String)> = fields
        .iter()
        .filter(|(k, _)| !k.starts_with("secret.") && k.as_str() != MACHINES_FIELD)
        .collect();
    let text = serde_json::to_string(&plain).unwrap_or_default();
    content_digest(text.as_bytes())
}

/// The pseudo-field observe adds when an app holds more than one of our machines.
pub const MACHINES_FIELD: &str = "machines";

/// The metadata key of a secret's fingerprint.
pub fn fp_key(name: &str) -> String {
    format!("{META_FP_PREFIX}{}", name.to_ascii_lowercase())
}

/// The config of `spec`'s machine in app `app`: non-secret env only (secret values go through
/// the secrets API), metadata with the key, the spec digest and each secret's fingerprint.
pub fn build_config(app: &str, spec: &ResolvedSpec) -> MachineConfig {
    let s = &spec.spec;
    let mut env = BTreeMap::new();
    let mut secrets = Vec::new();
    let mut metadata = BTreeMap::from([
        (META_OWNER.to_string(), s.key.owner.clone()),
        (META_SERVICE.to_string(), s.key.service.clone()),
        (META_PATH.to_string(), s.path.clone()),
        (META_SPEC.to_string(), spec_digest(&spec.fields)),
    ]);
    if let Some(u) = &s.key.user {
        metadata.insert(META_USER.to_string(), u.clone());
    }
    for (name, value) in &spec.env {
        match value {
            Resolved::Plain(v) | Resolved::Url(v) => {
                env.insert(name.clone(), v.clone());
            }
            Resolved::OwnUrl => {
                env.insert(name.clone(), app_url(app));
            }
            Resolved::Secret { fingerprint, .. } => {
                secrets.push(name.clone());
                metadata.insert(fp_key(name), fingerprint.clone());
            }
        }
    }
    if let Some(p) = port_env(s) {
        env.insert("PORT".to_string(), p);
    }
    if !secrets.is_empty() {
        metadata.insert(META_SECRETS.to_string(), secrets.join(","));
    }
    let librechat = s.kind == ServiceKind::LibreChat;
    let services = vec![Service {
        protocol: Protocol::Tcp,
        internal_port: s.port,
        // LibreChat stays up; MCP servers stop when idle and start on the next request.
        autostop: if s.stops_when_idle() {
            Autostop::Stop
        } else {
            Autostop::Off
        },
        autostart: true,
        min_machines_running: u32::from(librechat),
        ports: vec![
            Port {
                port: 80,
                handlers: vec![Handler::Http],
                force_https: Some(true),
            },
            Port {
                port: 443,
                handlers: vec![Handler::Tls, Handler::Http],
                force_https: None,
            },
        ],
    }];
    let checks = BTreeMap::from([(
        CHECK_NAME.to_string(),
        Check {
            kind: CheckKind::Http,
            port: s.port,
            path: s.health_path.clone(),
            interval: "15s",
            timeout: "5s",
            grace_period: "10s",
            method: "GET",
        },
    )]);
    let files = s
        .files
        .iter()
        .map(|(path, content)| File {
            guest_path: path.clone(),
            raw_value: base64::engine::general_purpose::STANDARD.encode(content.as_bytes()),
        })
        .collect();
    MachineConfig {
        image: s.image.clone().unwrap_or_default(),
        env,
        metadata,
        guest: Guest {
            cpu_kind: CpuKind::Shared,
            cpus: s.size.cpus,
            memory_mb: s.size.memory_mb,
        },
        restart: Restart {
            policy: RestartPolicy::OnFailure,
            max_retries: 10,
        },
        services,
        checks,
        files,
    }
}

/// A machine as listed or returned (`Machine`, notes §3 "Get"); read leniently: an
/// implementation may add fields or fill in defaults.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Machine {
    pub id: String,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub region: String,
    #[serde(default)]
    pub instance_id: String,
    #[serde(default)]
    pub config: Value,
    #[serde(default)]
    pub checks: Option<Vec<CheckStatus>>,
}

/// What a machine's own health check says (see [`Machine::health`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    NotStarted,
    /// Not listed yet, or `warning`: give it time.
    Pending(String),
    Critical(String),
    Passing,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct CheckStatus {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub output: String,
}

impl Machine {
    pub fn metadata(&self) -> BTreeMap<String, String> {
        self.config
            .get("metadata")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The service this machine runs for scalewize, from its metadata.
    pub fn key(&self) -> Option<ServiceKey> {
        let md = self.metadata();
        Some(ServiceKey {
            owner: md.get(META_OWNER)?.clone(),
            service: md.get(META_SERVICE)?.clone(),
            user: md.get(META_USER).cloned(),
        })
    }

    /// Destroyed or on its way: not a machine any more.
    pub fn gone(&self) -> bool {
        matches!(self.state.as_str(), "destroyed" | "destroying")
    }

    pub fn is_running(&self) -> bool {
        matches!(
            self.state.as_str(),
            "started" | "starting" | "created" | "replacing" | "updating" | "launching"
        )
    }

    /// Stopped or suspended by autostop: a config change must not boot it (notes §11).
    pub fn idle(&self) -> bool {
        matches!(self.state.as_str(), "stopped" | "suspended") && self.autostops()
    }

    /// Stops when idle (services with `autostop` on): a stopped machine is then idle, not down.
    pub fn autostops(&self) -> bool {
        self.config
            .get("services")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .any(|s| match s.get("autostop") {
                Some(Value::String(v)) => v != "off",
                Some(Value::Bool(b)) => *b,
                _ => false,
            })
    }

    /// The health of the check scalewize defined ([`CHECK_NAME`]), the one place it is
    /// judged (notes §11): healthy only when that check is listed **and** passing. Right after
    /// `started` the list can be empty; fly-go's `bg_deployments_*` compatibility checks are
    /// not ours and do not count.
    pub fn health(&self) -> Health {
        if self.state != "started" {
            return Health::NotStarted;
        }
        let ours = self
            .checks
            .iter()
            .flatten()
            .filter(|c| !c.name.starts_with("bg_deployments_"))
            .find(|c| c.name == CHECK_NAME);
        match ours {
            None => Health::Pending(format!("health check {CHECK_NAME:?} not reported yet")),
            Some(c) if c.status == "passing" => Health::Passing,
            Some(c) => {
                let mut s = format!("health check {:?} {}", c.name, c.status);
                if !c.output.trim().is_empty() {
                    s.push_str(&format!(" ({})", c.output.trim()));
                }
                if c.status == "critical" {
                    Health::Critical(s)
                } else {
                    Health::Pending(s)
                }
            }
        }
    }

    /// The comparable fields of this machine, the same keys `FlyPlatform::fields` produces.
    pub fn fields(&self) -> Fields {
        let cfg = &self.config;
        let md = self.metadata();
        let mut f = Fields::new();
        if let Some(image) = cfg.get("image").and_then(Value::as_str) {
            f.insert("image".into(), image.to_string());
        }
        let service = cfg
            .get("services")
            .and_then(Value::as_array)
            .and_then(|s| s.first());
        if let Some(port) = service
            .and_then(|s| s.get("internal_port"))
            .and_then(as_u64)
        {
            f.insert("port".into(), port.to_string());
        }
        if let Some(path) = md.get(META_PATH) {
            f.insert("path".into(), path.clone());
        }
        let checks = cfg.get("checks").and_then(Value::as_object);
        let health = checks
            .and_then(|c| c.get(CHECK_NAME))
            .or_else(|| checks.and_then(|c| c.values().find(|v| v.get("path").is_some())));
        if let Some(p) = health.and_then(|c| c.get("path")).and_then(Value::as_str) {
            f.insert("health_path".into(), p.to_string());
        }
        if !self.region.is_empty() {
            f.insert("region".into(), self.region.clone());
        }
        if let Some(g) = cfg.get("guest") {
            let cpus = g.get("cpus").and_then(as_u64).unwrap_or(0);
            let mem = g.get("memory_mb").and_then(as_u64).unwrap_or(0);
            f.insert("size".into(), size_field(cpus, mem));
        }
        if let Some(env) = cfg.get("env").and_then(Value::as_object) {
            for (k, v) in env {
                if let Some(v) = v.as_str() {
                    f.insert(format!("env.{k}"), v.to_string());
                }
            }
        }
        if let Some(names) = md.get(META_SECRETS) {
            for name in names.split(',').filter(|n| !n.is_empty()) {
                let fp = md
                    .get(&fp_key(name))
                    .cloned()
                    .unwrap_or_else(|| "(unknown)".into());
                f.insert(format!("secret.{name}"), fp);
            }
        }
        for file in cfg
            .get("files")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(path) = file.get("guest_path").and_then(Value::as_str) else {
                continue;
            };
            let digest = file
                .get("raw_value")
                .and_then(Value::as_str)
                .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
                .map(|bytes| content_digest(&bytes))
                .unwrap_or_else(|| "(unreadable)".into());
            f.insert(format!("file.{path}"), digest);
        }
        f
    }
}

/// An integer that an implementation may send as a number or a numeric string.
fn as_u64(v: &Value) -> Option<u64> {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

/// A list that may come bare or wrapped in an object under `key`.
pub fn list_of(v: Value, key: &str) -> Vec<Value> {
    match v {
        Value::Array(a) => a,
        Value::Object(mut o) => match o.remove(key) {
            Some(Value::Array(a)) => a,
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests;
