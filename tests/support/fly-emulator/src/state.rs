//! The emulated world: apps, machines, secrets, IPs, leases; plus everything the emulator
//! records. One `Inner` behind one mutex.

use std::collections::{BTreeMap, HashMap, VecDeque};

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::clock::{Clock, rfc3339};
use crate::config::{Config, Faults, Timings};
use crate::record::*;
use crate::rng::Rng;

pub(crate) struct Lease {
    pub nonce: String,
    pub owner: String,
    pub description: String,
    pub expires_at: f64,
    pub version: String,
}

pub(crate) struct Event {
    pub id: String,
    pub kind: &'static str,
    pub status: &'static str,
    pub source: &'static str,
    pub at: f64,
}

pub(crate) struct Machine {
    pub id: String,
    pub name: String,
    pub region: String,
    pub config: Value,
    pub instance_id: String,
    pub versions: Vec<String>,
    pub state: &'static str,
    /// (virtual time, state, event kind) transitions still to come.
    pub pending: VecDeque<(f64, &'static str, &'static str)>,
    pub private_ip: String,
    pub created_at: f64,
    pub updated_at: f64,
    pub events: Vec<Event>,
    pub lease: Option<Lease>,
    pub booted_secrets_version: Option<u64>,
    pub booted_secrets: BTreeMap<String, String>,
    pub cordoned: bool,
    pub order: u64,
}

impl Machine {
    pub fn destroyed(&self) -> bool {
        self.state == "destroyed"
    }

    /// Destroying or destroyed: gone for every purpose but listing with include_deleted,
    /// GET and wait.
    pub fn gone(&self) -> bool {
        self.state == "destroyed" || self.state == "destroying"
    }

    pub fn running(&self) -> bool {
        matches!(self.state, "started" | "starting" | "replacing")
    }

    pub fn active_lease(&self, now: f64) -> Option<&Lease> {
        self.lease.as_ref().filter(|l| l.expires_at > now)
    }

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

    /// Apply due transitions.
    pub fn settle(&mut self, now: f64, ids: &mut Rng) {
        while let Some(&(at, state, kind)) = self.pending.front() {
            if at > now {
                break;
            }
            self.pending.pop_front();
            self.state = state;
            self.updated_at = at;
            self.events.push(Event {
                id: ulid(ids, at),
                kind,
                status: state,
                source: "flyd",
                at,
            });
        }
    }

    /// Replace the pending schedule: `state` now, then each (delay, state, event) in turn.
    pub fn schedule(
        &mut self,
        now: f64,
        state: &'static str,
        steps: &[(f64, &'static str, &'static str)],
    ) {
        self.state = state;
        self.updated_at = now;
        self.pending.clear();
        let mut t = now;
        for &(delay, s, kind) in steps {
            t += delay;
            self.pending.push_back((t, s, kind));
        }
    }

    pub fn user_event(
        &mut self,
        ids: &mut Rng,
        now: f64,
        kind: &'static str,
        status: &'static str,
    ) {
        self.events.push(Event {
            id: ulid(ids, now),
            kind,
            status,
            source: "user",
            at: now,
        });
    }
}

pub(crate) struct Secret {
    pub digest: String,
    pub created_at: f64,
    pub updated_at: f64,
    pub version: u64,
}

pub(crate) struct Ip {
    pub ip: String,
    pub kind: String,
    pub region: String,
    pub service_name: Option<String>,
    pub shared: bool,
    pub egress: bool,
    pub created_at: f64,
}

pub(crate) struct App {
    pub id: String,
    pub name: String,
    pub org_slug: String,
    pub network: Option<String>,
    /// Until this virtual time the app answers 404 (injected create lag).
    pub visible_after: f64,
    pub machines: BTreeMap<String, Machine>,
    pub secrets: BTreeMap<String, Secret>,
    pub secrets_version: u64,
    pub ips: Vec<Ip>,
    pub org_hex: String,
}

impl App {
    pub fn live_machines(&self) -> impl Iterator<Item = &Machine> {
        self.machines.values().filter(|m| !m.destroyed())
    }

    pub fn secret_digests(&self) -> BTreeMap<String, String> {
        self.secrets
            .iter()
            .map(|(k, s)| (k.clone(), s.digest.clone()))
            .collect()
    }

    pub fn status(&self) -> &'static str {
        if self.live_machines().any(|m| m.state == "started") {
            "deployed"
        } else if self.live_machines().next().is_some() {
            "suspended"
        } else {
            "pending"
        }
    }
}

pub(crate) struct Bucket {
    pub tokens: f64,
    pub last: f64,
    /// Until when the last 429's Retry-After asks clients to stay away, and which request
    /// announced it.
    pub backoff_until: Option<(f64, u64)>,
}

#[derive(Default)]
pub(crate) struct FaultState {
    pub eligible: [u64; 7],
    pub target: [Option<u64>; 7],
    pub pending_forced: [bool; 7],
    pub fired: [u64; 7],
}

pub(crate) struct Inner {
    pub clock: Clock,
    pub cfg: Config,
    pub faults: Faults,
    pub fault_state: FaultState,
    pub apps: BTreeMap<String, App>,
    pub ids: Rng,
    pub seq: u64,
    pub machine_order: u64,
    pub log: Vec<LoggedRequest>,
    pub buckets: HashMap<(String, String), Bucket>,
    pub violations: Vec<RateViolation>,
    pub limited: Vec<RateLimitEvent>,
    pub rejections: Vec<Rejection>,
    pub counters: Counters,
    /// actual id → placeholder, in creation order, for golden output.
    pub placeholders: Vec<(String, String)>,
    pub placeholder_counts: HashMap<&'static str, u64>,
    pub shared_v4: String,
}

impl Inner {
    pub fn new(cfg: Config) -> Inner {
        let mut ids = Rng::new(cfg.id_seed);
        let shared_v4 = format!("66.241.124.{}", 1 + ids.next_u64() % 250);
        let mut inner = Inner {
            clock: Clock::new(cfg.time_scale),
            faults: cfg.faults.clone(),
            fault_state: FaultState::default(),
            apps: BTreeMap::new(),
            ids,
            seq: 0,
            machine_order: 0,
            log: Vec::new(),
            buckets: HashMap::new(),
            violations: Vec::new(),
            limited: Vec::new(),
            rejections: Vec::new(),
            counters: Counters::default(),
            placeholders: Vec::new(),
            placeholder_counts: HashMap::new(),
            shared_v4,
            cfg,
        };
        inner.reset_fault_targets();
        inner
    }

    pub fn timings(&self) -> &Timings {
        &self.cfg.timings
    }

    pub fn now(&self) -> f64 {
        self.clock.now()
    }

    pub fn reset_fault_targets(&mut self) {
        self.fault_state = FaultState::default();
        for kind in FaultKind::ALL {
            let f = self.faults.get(kind);
            if let Some(n) = f.at_least_once_within {
                let k = 1 + crate::rng::hash(&[self.faults.seed, 0xA11, kind.index() as u64])
                    % u64::from(n.max(1));
                self.fault_state.target[kind.index()] = Some(k);
            }
        }
    }

    /// Register an id for golden-output normalisation.
    pub fn placeholder(&mut self, actual: &str, kind: &'static str) {
        if actual.is_empty() || self.placeholders.iter().any(|(a, _)| a == actual) {
            return;
        }
        let n = self.placeholder_counts.entry(kind).or_insert(0);
        *n += 1;
        self.placeholders
            .push((actual.to_string(), format!("<{kind}-{n}>")));
    }

    pub fn normalize(&self, text: &str) -> String {
        let mut out = text.to_string();
        // Longest first so that a nonce containing an id is replaced whole.
        let mut pairs: Vec<&(String, String)> = self.placeholders.iter().collect();
        pairs.sort_by_key(|(a, _)| std::cmp::Reverse(a.len()));
        for (actual, ph) in pairs {
            if out.contains(actual.as_str()) {
                out = out.replace(actual.as_str(), ph);
            }
        }
        out
    }

    pub fn settle_all(&mut self) {
        let now = self.now();
        let ids = &mut self.ids;
        for app in self.apps.values_mut() {
            for m in app.machines.values_mut() {
                m.settle(now, ids);
            }
        }
    }

    pub fn ts(&self, virtual_t: f64) -> String {
        rfc3339(self.clock.unix(virtual_t))
    }

    pub fn unix(&self, virtual_t: f64) -> i64 {
        self.clock.unix(virtual_t).floor() as i64
    }

    pub fn org_name(&self, slug: &str) -> String {
        self.cfg
            .orgs
            .iter()
            .find(|o| o.slug == slug)
            .map(|o| o.name.clone())
            .unwrap_or_else(|| slug.to_string())
    }

    // ---- rendering -------------------------------------------------------------------------

    pub fn app_json(&self, app: &App) -> Value {
        json!({
            "id": app.id,
            "name": app.name,
            "organization": {"name": self.org_name(&app.org_slug), "slug": app.org_slug},
            "status": app.status(),
            "machine_count": app.live_machines().count(),
            "volume_count": 0,
            "network": app.network.clone().unwrap_or_else(|| "default".to_string()),
        })
    }

    pub fn lease_data(&self, lease: &Lease, show_nonce: bool) -> Value {
        let mut data = json!({
            "expires_at": self.unix(lease.expires_at),
            "owner": lease.owner,
            "description": lease.description,
            "version": lease.version,
        });
        if show_nonce {
            data["nonce"] = json!(lease.nonce);
        }
        data
    }

    pub fn machine_json(
        &self,
        m: &Machine,
        summary: bool,
        include_lease: bool,
        owner: &str,
    ) -> Value {
        let now = self.now();
        let mut obj = Map::new();
        obj.insert("id".into(), json!(m.id));
        obj.insert("name".into(), json!(m.name));
        obj.insert("state".into(), json!(m.state));
        obj.insert("region".into(), json!(m.region));
        obj.insert("instance_id".into(), json!(m.instance_id));
        obj.insert("private_ip".into(), json!(m.private_ip));
        if !summary {
            obj.insert("config".into(), m.config.clone());
        }
        let image = m.config.get("image").and_then(Value::as_str).unwrap_or("");
        obj.insert("image_ref".into(), image_ref(image));
        let health = &self.cfg.health;
        let listed = m.state != "started" || now - m.updated_at >= health.checks_after;
        let passing = m.state == "started" && !health.stay_critical;
        let checks: Vec<Value> = m
            .config
            .get("checks")
            .and_then(Value::as_object)
            .filter(|_| listed)
            .map(|c| {
                c.keys()
                    .map(|name| {
                        json!({
                            "name": name,
                            "status": if passing { "passing" } else { "critical" },
                            "output": if passing { "" } else { "connection refused" },
                            "updated_at": self.ts(m.updated_at),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        obj.insert("checks".into(), json!(checks));
        let events: Vec<Value> = m
            .events
            .iter()
            .rev()
            .map(|e| {
                json!({
                    "id": e.id,
                    "type": e.kind,
                    "status": e.status,
                    "source": e.source,
                    "timestamp": (self.clock.unix(e.at) * 1000.0).floor() as i64,
                })
            })
            .collect();
        obj.insert("events".into(), json!(events));
        obj.insert("host_status".into(), json!("ok"));
        obj.insert("created_at".into(), json!(self.ts(m.created_at)));
        obj.insert("updated_at".into(), json!(self.ts(m.updated_at)));
        if include_lease && let Some(l) = m.active_lease(now) {
            obj.insert("lease".into(), self.lease_data(l, l.owner == owner));
        }
        Value::Object(obj)
    }

    pub fn secret_json(&self, name: &str, s: &Secret) -> Value {
        json!({
            "name": name,
            "digest": s.digest,
            "created_at": self.ts(s.created_at),
            "updated_at": self.ts(s.updated_at),
        })
    }

    pub fn ip_json(&self, ip: &Ip) -> Value {
        json!({
            "ip": ip.ip,
            "region": ip.region,
            "service_name": ip.service_name.clone().unwrap_or_default(),
            "shared": ip.shared,
            "egress": ip.egress,
            "created_at": self.ts(ip.created_at),
        })
    }

    // ---- snapshot --------------------------------------------------------------------------

    pub fn snapshot(&mut self) -> Snapshot {
        self.settle_all();
        let now = self.now();
        let apps = self
            .apps
            .values()
            .map(|app| {
                let current = app.secret_digests();
                let mut machines: Vec<MachineSnapshot> = app
                    .live_machines()
                    .map(|m| MachineSnapshot {
                        id: m.id.clone(),
                        name: m.name.clone(),
                        region: m.region.clone(),
                        state: m.state.to_string(),
                        instance_id: m.instance_id.clone(),
                        versions: m.versions.len(),
                        config: m.config.clone(),
                        metadata: m.metadata(),
                        booted_secrets_version: m.booted_secrets_version,
                        booted_secrets: m.booted_secrets.clone(),
                        stale_secrets: m.booted_secrets_version.is_some()
                            && m.booted_secrets != current,
                        lease: m.active_lease(now).map(|l| LeaseSnapshot {
                            owner: l.owner.clone(),
                            description: l.description.clone(),
                            expires_in: l.expires_at - now,
                        }),
                    })
                    .collect();
                machines.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
                AppSnapshot {
                    name: app.name.clone(),
                    id: app.id.clone(),
                    org_slug: app.org_slug.clone(),
                    network: app.network.clone(),
                    hostname: format!("{}.fly.dev", app.name),
                    status: app.status().to_string(),
                    secrets_version: app.secrets_version,
                    secrets: app
                        .secrets
                        .iter()
                        .map(|(n, s)| SecretSnapshot {
                            name: n.clone(),
                            digest: s.digest.clone(),
                            version: s.version,
                        })
                        .collect(),
                    ips: app
                        .ips
                        .iter()
                        .map(|ip| IpSnapshot {
                            ip: ip.ip.clone(),
                            kind: ip.kind.clone(),
                            region: ip.region.clone(),
                            service_name: ip.service_name.clone(),
                            shared: ip.shared,
                        })
                        .collect(),
                    machines,
                    destroyed_machines: app.machines.values().filter(|m| m.destroyed()).count(),
                    lagging: app.visible_after > now,
                }
            })
            .collect();
        Snapshot { apps }
    }
}

/// `sha256:`-less lowercase hex of SHA-256, first 16 characters (the real digest format is not
/// in the notes; see README).
pub fn secret_digest(value: &str) -> String {
    let d = Sha256::digest(value.as_bytes());
    d.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// A 26-character Crockford base32 id that sorts by time (ULID-like), for versions and events.
pub(crate) fn ulid(ids: &mut Rng, at: f64) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let mut ms = (at * 1000.0).max(0.0) as u64 + 1_700_000_000_000;
    let mut time = [0u8; 10];
    for slot in time.iter_mut().rev() {
        *slot = ALPHABET[(ms % 32) as usize];
        ms /= 32;
    }
    let mut s: String = time.iter().map(|&c| c as char).collect();
    s.push_str(&ids.chars(16, ALPHABET));
    s
}

fn image_ref(image: &str) -> Value {
    let (name, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d.to_string())),
        None => (image, None),
    };
    let (repo_part, tag) = match name.rsplit_once(':') {
        Some((r, t)) if !t.contains('/') => (r, t),
        _ => (name, "latest"),
    };
    let (registry, repository) = match repo_part.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            (first.to_string(), rest.to_string())
        }
        _ => (
            "docker-hub-mirror.fly.io".to_string(),
            repo_part.to_string(),
        ),
    };
    let digest = digest.unwrap_or_else(|| {
        let d = Sha256::digest(image.as_bytes());
        format!(
            "sha256:{}",
            d.iter().map(|b| format!("{b:02x}")).collect::<String>()
        )
    });
    json!({
        "registry": registry,
        "repository": repository,
        "tag": tag,
        "digest": digest,
        "labels": {},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_refs() {
        let r = image_ref("registry.fly.io/my-app:deployment-01ABC");
        assert_eq!(r["registry"], "registry.fly.io");
        assert_eq!(r["repository"], "my-app");
        assert_eq!(r["tag"], "deployment-01ABC");
        let r = image_ref("flyio/mcp");
        assert_eq!(r["repository"], "flyio/mcp");
        assert_eq!(r["tag"], "latest");
    }

    #[test]
    fn ulids_are_26_chars() {
        let mut ids = Rng::new(1);
        let a = ulid(&mut ids, 1.0);
        assert_eq!(a.len(), 26);
        assert!(ulid(&mut ids, 2.0) > a);
    }
}
