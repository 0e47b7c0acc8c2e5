//! The machine config scalewize sends, as typed structs holding only Machines API names (notes
//! §3: `services[].autostop`/`autostart`, never the fly.toml `auto_stop_machines`/
//! `auto_start_machines`; `guest{cpu_kind, cpus, memory_mb}`; checks with Go duration strings),
//! and the way back: the comparable fields of a live machine, read leniently from its config and
//! scalewize's metadata.

use std::collections::BTreeMap;

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::plan::service::{ServiceKey, ServiceKind};
use crate::plan::sha256_hex;
use crate::platform::{Fields, Resolved, ResolvedSpec};

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
pub fn port_env(spec: &crate::plan::service::ServiceSpec) -> Option<String> {
    (!spec.env.contains_key("PORT")).then(|| spec.port.to_string())
}

/// Digest of the non-secret fields (`scalewize_spec`).
pub fn spec_digest(fields: &Fields) -> String {
    let plain: Vec<(&String, &String)> = fields
        .iter()
        .filter(|(k, _)| !k.starts_with("secret.") && k.as_str() != MACHINES_FIELD)
        .collect();
    let text = serde_json::to_string(&plain).unwrap_or_default();
    format!("sha256:{}", &sha256_hex(text.as_bytes())[..16])
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
        autostop: if librechat {
            Autostop::Off
        } else {
            Autostop::Stop
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

    /// Checks that are not passing: `name: status`.
    pub fn failing_checks(&self) -> Vec<String> {
        self.checks
            .iter()
            .flatten()
            .filter(|c| c.status != "passing")
            .map(|c| {
                let mut s = format!("{}: {}", c.name, c.status);
                if !c.output.is_empty() {
                    s.push_str(&format!(" ({})", c.output.trim()));
                }
                s
            })
            .collect()
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
            f.insert("size".into(), format!("{cpus} cpu, {mem} MB"));
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
                .map(|bytes| format!("sha256:{}", &sha256_hex(&bytes)[..16]))
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
mod tests {
    use super::*;
    use crate::plan::service::ServiceSpec;
    use crate::secrets::Secret;
    use crate::workspace::{PlatformName, Size};
    use std::collections::BTreeSet;

    fn spec(kind: ServiceKind) -> ResolvedSpec {
        let s = ServiceSpec {
            key: ServiceKey {
                owner: "client-c".into(),
                service: "servicedesk-mcp".into(),
                user: Some("alice".into()),
            },
            kind,
            platform: PlatformName::Fly,
            clients: BTreeSet::new(),
            image: Some("ghcr.io/x/y:1".into()),
            repo: None,
            local: None,
            port: 8080,
            path: "/mcp".into(),
            health_path: "/health".into(),
            region: Some("iad".into()),
            size: Size {
                cpus: 1,
                memory_mb: 256,
            },
            env: BTreeMap::new(),
            files: BTreeMap::from([("/app/librechat.yaml".into(), "a: 1\n".into())]),
            depends_on: BTreeSet::new(),
        };
        ResolvedSpec {
            spec: s,
            env: BTreeMap::from([
                ("A".to_string(), Resolved::Plain("1".into())),
                ("DOMAIN".to_string(), Resolved::OwnUrl),
                (
                    "Tok".to_string(),
                    Resolved::Secret {
                        value: Secret::new("very-secret-value".to_string()),
                        fingerprint: "hmac-sha256:abc".into(),
                    },
                ),
            ]),
            fields: Fields::new(),
        }
    }

    #[test]
    fn config_uses_api_names_and_no_secret_values() {
        let cfg = build_config("sw-app", &spec(ServiceKind::Mcp));
        let json = serde_json::to_value(&cfg).unwrap();
        let text = json.to_string();
        assert!(!text.contains("very-secret-value"));
        assert!(!text.contains("auto_stop_machines") && !text.contains("auto_start_machines"));
        assert_eq!(json["services"][0]["autostop"], "stop");
        assert_eq!(json["services"][0]["autostart"], true);
        assert_eq!(json["services"][0]["ports"][1]["handlers"][0], "tls");
        assert_eq!(json["checks"]["health"]["type"], "http");
        assert_eq!(json["checks"]["health"]["interval"], "15s");
        assert_eq!(json["guest"]["cpu_kind"], "shared");
        assert_eq!(json["restart"]["policy"], "on-failure");
        assert_eq!(json["env"]["DOMAIN"], "https://sw-app.fly.dev");
        assert_eq!(json["env"]["PORT"], "8080");
        assert_eq!(json["metadata"]["scalewize_fp_tok"], "hmac-sha256:abc");
        assert_eq!(json["metadata"]["scalewize_secrets"], "Tok");
        assert_eq!(json["metadata"]["scalewize_user"], "alice");
        let lc = serde_json::to_value(build_config("x", &spec(ServiceKind::LibreChat))).unwrap();
        assert_eq!(lc["services"][0]["autostop"], "off");
        assert_eq!(lc["services"][0]["min_machines_running"], 1);
    }

    #[test]
    fn fields_read_back_from_a_machine() {
        let cfg = build_config("sw-app", &spec(ServiceKind::Mcp));
        let m = Machine {
            id: "m1".into(),
            state: "started".into(),
            region: "iad".into(),
            config: serde_json::to_value(&cfg).unwrap(),
            ..Machine::default()
        };
        let f = m.fields();
        assert_eq!(f["image"], "ghcr.io/x/y:1");
        assert_eq!(f["port"], "8080");
        assert_eq!(f["path"], "/mcp");
        assert_eq!(f["health_path"], "/health");
        assert_eq!(f["size"], "1 cpu, 256 MB");
        assert_eq!(f["env.A"], "1");
        assert_eq!(f["secret.Tok"], "hmac-sha256:abc");
        assert_eq!(
            f["file./app/librechat.yaml"],
            format!("sha256:{}", &sha256_hex(b"a: 1\n")[..16])
        );
        assert_eq!(
            m.key().unwrap().global_name("sw"),
            "sw-client-c-servicedesk-mcp-alice"
        );
        assert!(m.autostops());
    }
}
