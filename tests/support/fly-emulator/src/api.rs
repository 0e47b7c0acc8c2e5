//! Routes and their handlers. Handlers run under the state lock and return a `Reply`; the
//! cross-cutting work (auth, rate limits, faults, logging) is in `server.rs`.

use std::collections::{BTreeMap, VecDeque};

use serde_json::{Map, Value, json};

use crate::config::TokenScope;
use crate::schema::{self, Obj, Problem, ProblemKind};
use crate::state::{App, Inner, Ip, Lease, Machine, Secret, secret_digest, ulid};

/// An HTTP answer before serialisation.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub status: u16,
    /// None: empty body.
    pub body: Option<Value>,
    pub retry_after: Option<u64>,
}

impl Reply {
    pub fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            body: Some(body),
            retry_after: None,
        }
    }

    pub fn empty(status: u16) -> Reply {
        Reply {
            status,
            body: None,
            retry_after: None,
        }
    }

    /// `{"error": "..."}` (spec24 ErrorResponse).
    pub fn error(status: u16, message: impl Into<String>) -> Reply {
        Reply::json(status, json!({ "error": message.into() }))
    }

    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    ListApps,
    CreateApp,
    GetApp,
    DeleteApp,
    ListMachines,
    CreateMachine,
    GetMachine,
    UpdateMachine,
    DeleteMachine,
    StopMachine,
    StartMachine,
    RestartMachine,
    SuspendMachine,
    CordonMachine,
    UncordonMachine,
    WaitMachine,
    GetLease,
    AcquireLease,
    ReleaseLease,
    GetMetadata,
    UpdateMetadata,
    GetMetadataKey,
    SetMetadataKey,
    DeleteMetadataKey,
    ListSecrets,
    SetSecrets,
    GetSecret,
    SetSecret,
    DeleteSecret,
    ListIps,
    AssignIp,
    ReleaseIp,
}

impl Kind {
    /// The rate-limit action name (notes l.162: limits are per action).
    pub fn action(self) -> &'static str {
        match self {
            Kind::ListApps => "list_apps",
            Kind::CreateApp => "create_app",
            Kind::GetApp => "get_app",
            Kind::DeleteApp => "delete_app",
            Kind::ListMachines => "list_machines",
            Kind::CreateMachine => "create_machine",
            Kind::GetMachine => "get_machine",
            Kind::UpdateMachine => "update_machine",
            Kind::DeleteMachine => "delete_machine",
            Kind::StopMachine => "stop_machine",
            Kind::StartMachine => "start_machine",
            Kind::RestartMachine => "restart_machine",
            Kind::SuspendMachine => "suspend_machine",
            Kind::CordonMachine => "cordon_machine",
            Kind::UncordonMachine => "uncordon_machine",
            Kind::WaitMachine => "wait_machine",
            Kind::GetLease => "get_lease",
            Kind::AcquireLease => "acquire_lease",
            Kind::ReleaseLease => "release_lease",
            Kind::GetMetadata => "get_metadata",
            Kind::UpdateMetadata => "update_metadata",
            Kind::GetMetadataKey => "get_metadata_key",
            Kind::SetMetadataKey => "set_metadata_key",
            Kind::DeleteMetadataKey => "delete_metadata_key",
            Kind::ListSecrets => "list_secrets",
            Kind::SetSecrets => "set_secrets",
            Kind::GetSecret => "get_secret",
            Kind::SetSecret => "set_secret",
            Kind::DeleteSecret => "delete_secret",
            Kind::ListIps => "list_ips",
            Kind::AssignIp => "assign_ip",
            Kind::ReleaseIp => "release_ip",
        }
    }

    pub fn mutating(self) -> bool {
        !matches!(
            self,
            Kind::ListApps
                | Kind::GetApp
                | Kind::ListMachines
                | Kind::GetMachine
                | Kind::WaitMachine
                | Kind::GetLease
                | Kind::GetMetadata
                | Kind::GetMetadataKey
                | Kind::ListSecrets
                | Kind::GetSecret
                | Kind::ListIps
        )
    }

    /// Body schema; None: the body must be empty (or `{}`).
    pub fn schema(self) -> Option<&'static Obj> {
        Some(match self {
            Kind::CreateApp => &schema::CREATE_APP,
            Kind::CreateMachine => &schema::CREATE_MACHINE,
            Kind::UpdateMachine => &schema::UPDATE_MACHINE,
            Kind::StopMachine => &schema::STOP,
            Kind::AcquireLease => &schema::CREATE_LEASE,
            Kind::UpdateMetadata => &schema::UPDATE_METADATA,
            Kind::SetMetadataKey => &schema::SET_METADATA_KEY,
            Kind::SetSecrets => &schema::SET_SECRETS,
            Kind::SetSecret => &schema::SET_SECRET,
            Kind::AssignIp => &schema::ASSIGN_IP,
            _ => return None,
        })
    }

    /// Whether the body may be omitted even though there is a schema.
    pub fn body_optional(self) -> bool {
        matches!(self, Kind::StopMachine | Kind::AcquireLease)
    }

    /// Query parameters this route takes (notes §2-§5); `metadata.*` is handled separately.
    pub fn query_params(self) -> &'static [&'static str] {
        match self {
            Kind::ListApps => &["org_slug", "app_role"], // notes l.46
            Kind::CreateApp => &["wait"],                // notes l.42
            Kind::DeleteApp => &["force"],               // notes l.48-49
            Kind::ListMachines => &[
                "include_deleted",
                "region",
                "state",
                "summary",
                "include_leases",
            ], // notes l.81-83
            Kind::GetMachine => &["include_leases"],     // notes l.79
            Kind::DeleteMachine => &["force"],           // notes l.111
            Kind::RestartMachine => &["timeout", "signal"], // notes l.110
            Kind::WaitMachine => &[
                "state",
                "timeout",
                "version",
                "instance_id",
                "from_event_id",
            ], // notes l.101-104
            Kind::AcquireLease => &["ttl"],              // notes l.92-93
            Kind::ListSecrets => &["min_version", "show_secrets"], // notes l.121
            _ => &[],
        }
    }
}

/// A parsed route.
#[derive(Debug, Clone)]
pub(crate) struct Route {
    pub kind: Kind,
    pub app: Option<String>,
    pub machine: Option<String>,
    /// Metadata key, secret name or IP.
    pub key: Option<String>,
}

/// Match `method` + path segments (already percent-decoded). Err: (status, message).
pub(crate) fn parse_route(method: &str, segs: &[String]) -> Result<Route, (u16, String)> {
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    let route = |kind, app: Option<&str>, machine: Option<&str>, key: Option<&str>| Route {
        kind,
        app: app.map(str::to_string),
        machine: machine.map(str::to_string),
        key: key.map(str::to_string),
    };
    use Kind::*;
    let by_method = |pairs: &[(&str, Kind)]| -> Result<Kind, (u16, String)> {
        pairs
            .iter()
            .find(|(m, _)| *m == method)
            .map(|(_, k)| *k)
            .ok_or_else(|| {
                (
                    405,
                    format!(
                        "method {method} not allowed here; allowed: {}",
                        pairs.iter().map(|(m, _)| *m).collect::<Vec<_>>().join(", ")
                    ),
                )
            })
    };
    let r = match s.as_slice() {
        ["v1", "apps"] => route(
            by_method(&[("GET", ListApps), ("POST", CreateApp)])?,
            None,
            None,
            None,
        ),
        ["v1", "apps", app] => route(
            by_method(&[("GET", GetApp), ("DELETE", DeleteApp)])?,
            Some(app),
            None,
            None,
        ),
        ["v1", "apps", app, "machines"] => route(
            by_method(&[("GET", ListMachines), ("POST", CreateMachine)])?,
            Some(app),
            None,
            None,
        ),
        ["v1", "apps", app, "machines", id] => route(
            by_method(&[
                ("GET", GetMachine),
                ("POST", UpdateMachine),
                ("DELETE", DeleteMachine),
            ])?,
            Some(app),
            Some(id),
            None,
        ),
        ["v1", "apps", app, "machines", id, verb] => {
            let kind = match *verb {
                "stop" => by_method(&[("POST", StopMachine)])?,
                "start" => by_method(&[("POST", StartMachine)])?,
                "restart" => by_method(&[("POST", RestartMachine)])?,
                "suspend" => by_method(&[("POST", SuspendMachine)])?,
                "cordon" => by_method(&[("POST", CordonMachine)])?,
                "uncordon" => by_method(&[("POST", UncordonMachine)])?,
                "wait" => by_method(&[("GET", WaitMachine)])?,
                "lease" => by_method(&[
                    ("GET", GetLease),
                    ("POST", AcquireLease),
                    ("DELETE", ReleaseLease),
                ])?,
                "metadata" => by_method(&[
                    ("GET", GetMetadata),
                    ("PUT", UpdateMetadata),
                    ("PATCH", UpdateMetadata),
                ])?,
                _ => return Err((404, format!("no such endpoint: {verb}"))),
            };
            route(kind, Some(app), Some(id), None)
        }
        ["v1", "apps", app, "machines", id, "metadata", key] => route(
            by_method(&[
                ("GET", GetMetadataKey),
                ("POST", SetMetadataKey),
                ("DELETE", DeleteMetadataKey),
            ])?,
            Some(app),
            Some(id),
            Some(key),
        ),
        ["v1", "apps", app, "secrets"] => route(
            by_method(&[("GET", ListSecrets), ("POST", SetSecrets)])?,
            Some(app),
            None,
            None,
        ),
        ["v1", "apps", app, "secrets", name] => route(
            by_method(&[
                ("GET", GetSecret),
                ("POST", SetSecret),
                ("DELETE", DeleteSecret),
            ])?,
            Some(app),
            None,
            Some(name),
        ),
        ["v1", "apps", app, "ip_assignments"] => route(
            by_method(&[("GET", ListIps), ("POST", AssignIp)])?,
            Some(app),
            None,
            None,
        ),
        ["v1", "apps", app, "ip_assignments", ip] => route(
            by_method(&[("DELETE", ReleaseIp)])?,
            Some(app),
            None,
            Some(ip),
        ),
        _ => return Err((404, "no such endpoint in this emulator".to_string())),
    };
    Ok(r)
}

/// Who is calling.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub org: String,
    pub scope: TokenScope,
    pub owner: String,
}

/// Per-request context for handlers.
pub(crate) struct Ctx<'a> {
    pub caller: &'a Caller,
    pub nonce: Option<&'a str>,
    pub query: &'a [(String, String)],
    pub body: Option<&'a Value>,
}

impl Ctx<'_> {
    pub fn q(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn b(&self, name: &str) -> Option<&Value> {
        self.body.and_then(|b| b.get(name))
    }

    fn b_str(&self, name: &str) -> Option<&str> {
        self.b(name).and_then(Value::as_str)
    }

    fn b_bool(&self, name: &str) -> bool {
        self.b(name).and_then(Value::as_bool).unwrap_or(false)
    }

    fn b_u64(&self, name: &str) -> Option<u64> {
        self.b(name).and_then(Value::as_u64)
    }
}

/// Parse a boolean query value.
pub(crate) fn qbool(ctx: &Ctx, name: &str) -> Result<bool, Reply> {
    match ctx.q(name) {
        None => Ok(false),
        Some("true") | Some("1") => Ok(true),
        Some("false") | Some("0") => Ok(false),
        Some(other) => Err(Reply::error(
            400,
            format!("query parameter `{name}` must be true or false, got {other:?}"),
        )),
    }
}

/// Problems with the query string (unknown or malformed parameters).
pub(crate) fn check_query(kind: Kind, query: &[(String, String)]) -> Vec<Problem> {
    let mut out = Vec::new();
    for (k, _) in query {
        let known = kind.query_params().contains(&k.as_str())
            || (kind == Kind::ListMachines && k.starts_with("metadata.") && k.len() > 9);
        if !known {
            out.push(Problem {
                path: format!("?{k}"),
                key: Some(k.clone()),
                kind: ProblemKind::UnknownKey,
                message: format!(
                    "unknown query parameter `{k}` for {}; known: {}",
                    kind.action(),
                    kind.query_params().join(", ")
                ),
            });
        }
    }
    out
}

// -------------------------------------------------------------------------------------------
// Authorisation of the app a route names
// -------------------------------------------------------------------------------------------

pub(crate) enum AppAccess {
    Ok,
    Denied(Reply),
    /// The app is inside an injected create lag.
    Lagging,
}

pub(crate) fn check_app_access(
    inner: &Inner,
    caller: &Caller,
    app: &str,
    method: &str,
) -> AppAccess {
    if caller.scope == TokenScope::ReadOnly && method != "GET" {
        return AppAccess::Denied(Reply::error(403, "read-only token"));
    }
    if let TokenScope::App(allowed) = &caller.scope
        && allowed != app
    {
        return AppAccess::Denied(Reply::error(403, "token is not allowed to access this app"));
    }
    match inner.apps.get(app) {
        // notes l.241: a 404 with an empty body means the app is missing.
        None if inner.cfg.foreign_apps.iter().any(|a| a == app) => {
            AppAccess::Denied(Reply::error(403, "app belongs to another organization"))
        }
        None => AppAccess::Denied(Reply::empty(404)),
        Some(a) if a.org_slug != caller.org => {
            AppAccess::Denied(Reply::error(403, "app belongs to another organization"))
        }
        Some(a) if a.visible_after > inner.now() => AppAccess::Lagging,
        Some(_) => AppAccess::Ok,
    }
}

// -------------------------------------------------------------------------------------------
// Handlers
// -------------------------------------------------------------------------------------------

pub(crate) fn handle(inner: &mut Inner, route: &Route, ctx: &Ctx) -> Reply {
    inner.settle_all();
    let app = route.app.as_deref().unwrap_or("");
    let id = route.machine.as_deref().unwrap_or("");
    let key = route.key.as_deref().unwrap_or("");
    let r = match route.kind {
        Kind::ListApps => list_apps(inner, ctx),
        Kind::CreateApp => create_app(inner, ctx),
        Kind::GetApp => Ok(Reply::json(200, inner.app_json(&inner.apps[app]))),
        Kind::DeleteApp => delete_app(inner, ctx, app),
        Kind::ListMachines => list_machines(inner, ctx, app),
        Kind::CreateMachine => create_machine(inner, ctx, app),
        Kind::GetMachine => get_machine(inner, ctx, app, id),
        Kind::UpdateMachine => update_machine(inner, ctx, app, id),
        Kind::DeleteMachine => delete_machine(inner, ctx, app, id),
        Kind::StopMachine => stop_machine(inner, ctx, app, id),
        Kind::StartMachine => start_machine(inner, ctx, app, id),
        Kind::RestartMachine => restart_machine(inner, ctx, app, id),
        Kind::SuspendMachine => suspend_machine(inner, ctx, app, id),
        Kind::CordonMachine | Kind::UncordonMachine => {
            cordon(inner, ctx, app, id, route.kind == Kind::CordonMachine)
        }
        Kind::WaitMachine => Err(Reply::error(500, "wait is handled by the server loop")),
        Kind::GetLease => get_lease(inner, ctx, app, id),
        Kind::AcquireLease => acquire_lease(inner, ctx, app, id),
        Kind::ReleaseLease => release_lease(inner, ctx, app, id),
        Kind::GetMetadata => get_metadata(inner, app, id),
        Kind::UpdateMetadata => update_metadata(inner, ctx, app, id),
        Kind::GetMetadataKey => get_metadata_key(inner, app, id, key),
        Kind::SetMetadataKey => set_metadata_key(inner, ctx, app, id, key),
        Kind::DeleteMetadataKey => delete_metadata_key(inner, ctx, app, id, key),
        Kind::ListSecrets => list_secrets(inner, ctx, app),
        Kind::SetSecrets => set_secrets(inner, ctx, app),
        Kind::GetSecret => get_secret(inner, app, key),
        Kind::SetSecret => set_secret(inner, ctx, app, key),
        Kind::DeleteSecret => delete_secret(inner, app, key),
        Kind::ListIps => list_ips(inner, app),
        Kind::AssignIp => assign_ip(inner, ctx, app),
        Kind::ReleaseIp => release_ip(inner, app, key),
    };
    r.unwrap_or_else(|e| e)
}

type R = Result<Reply, Reply>;

fn machine_not_found(id: &str) -> Reply {
    Reply::error(404, format!("machine {id} not found"))
}

/// A live (not destroying/destroyed) machine, or 404.
fn live<'a>(inner: &'a mut Inner, app: &str, id: &str) -> Result<&'a mut Machine, Reply> {
    match inner.apps.get_mut(app).and_then(|a| a.machines.get_mut(id)) {
        Some(m) if !m.gone() => Ok(m),
        _ => Err(machine_not_found(id)),
    }
}

/// notes l.97-98: while a lease is held, mutating calls need `fly-machine-lease-nonce`.
fn lease_guard(m: &Machine, nonce: Option<&str>, now: f64) -> Result<(), Reply> {
    match m.active_lease(now) {
        Some(l) if nonce != Some(l.nonce.as_str()) => Err(Reply::error(
            409,
            format!(
                "machine {} is leased by {} ({}); send its nonce in the fly-machine-lease-nonce header",
                m.id,
                l.owner,
                if nonce.is_some() {
                    "nonce mismatch"
                } else {
                    "no nonce sent"
                }
            ),
        )),
        _ => Ok(()),
    }
}

fn check_org(inner: &Inner, ctx: &Ctx, slug: &str) -> Result<(), Reply> {
    if !inner.cfg.orgs.iter().any(|o| o.slug == slug) {
        return Err(Reply::error(
            404,
            format!("organization {slug:?} not found"),
        ));
    }
    if ctx.caller.org != slug {
        return Err(Reply::error(
            403,
            format!("token has no access to organization {slug:?}"),
        ));
    }
    Ok(())
}

fn list_apps(inner: &mut Inner, ctx: &Ctx) -> R {
    let Some(slug) = ctx.q("org_slug") else {
        return Err(Reply::error(
            400,
            "query parameter `org_slug` is required (notes l.46)",
        ));
    };
    if let TokenScope::App(_) = ctx.caller.scope {
        return Err(Reply::error(403, "a deploy token cannot list apps"));
    }
    check_org(inner, ctx, slug)?;
    let now = inner.now();
    let apps: Vec<Value> = inner
        .apps
        .values()
        .filter(|a| a.org_slug == slug && (a.visible_after <= now || inner.faults.app_lag_partial))
        .map(|a| inner.app_json(a))
        .collect();
    Ok(Reply::json(
        200,
        json!({"total_apps": apps.len(), "apps": apps}),
    ))
}

fn valid_app_name(name: &str) -> bool {
    let b = name.as_bytes();
    (2..=63).contains(&b.len())
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && !name.ends_with('-')
}

fn create_app(inner: &mut Inner, ctx: &Ctx) -> R {
    if ctx.caller.scope != TokenScope::Org {
        return Err(Reply::error(
            403,
            "only an org token can create apps (notes l.23-26)",
        ));
    }
    let name = ctx.b_str("name").unwrap_or_default().to_string();
    let org = ctx.b_str("org_slug").unwrap_or_default().to_string();
    if !valid_app_name(&name) {
        return Err(Reply::error(
            400,
            format!(
                "invalid app name {name:?}: use 2-63 lowercase letters, digits and dashes, starting with a letter"
            ),
        ));
    }
    check_org(inner, ctx, &org)?;
    if inner.apps.contains_key(&name) || inner.cfg.foreign_apps.contains(&name) {
        // notes l.43, l.232
        return Err(Reply::json(
            422,
            json!({"error": format!("app name {name:?} is already taken"), "status": "name_taken"}),
        ));
    }
    let now = inner.now();
    let id = inner.ids.chars(14, b"0123456789abcdefghijklmnopqrstuvwxyz");
    let org_hex = inner.ids.hex(4);
    inner.placeholder(&id, "app-id");
    let app = App {
        id,
        name: name.clone(),
        org_slug: org,
        network: ctx.b_str("network").map(str::to_string),
        visible_after: now,
        machines: BTreeMap::new(),
        secrets: BTreeMap::new(),
        secrets_version: 0,
        ips: Vec::new(),
        org_hex,
    };
    let body = inner.app_json(&app);
    inner.apps.insert(name, app);
    Ok(Reply::json(201, body))
}

fn delete_app(inner: &mut Inner, ctx: &Ctx, app: &str) -> R {
    let force = qbool(ctx, "force")?;
    let a = &inner.apps[app];
    if !force
        && a.live_machines()
            .any(|m| m.running() || m.state == "stopping")
    {
        return Err(Reply::error(
            412,
            "app has running machines: stop them first or pass force=true (notes l.48-49)",
        ));
    }
    inner.apps.remove(app);
    Ok(Reply::empty(202))
}

fn list_machines(inner: &mut Inner, ctx: &Ctx, app: &str) -> R {
    let include_deleted = qbool(ctx, "include_deleted")?;
    let summary = qbool(ctx, "summary")?;
    let include_leases = qbool(ctx, "include_leases")?;
    let region = ctx.q("region");
    let states: Option<Vec<&str>> = ctx
        .q("state")
        .map(|s| s.split(',').map(str::trim).collect());
    let meta: Vec<(&str, &str)> = ctx
        .query
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("metadata.").map(|k| (k, v.as_str())))
        .collect();
    let a = &inner.apps[app];
    let mut machines: Vec<&Machine> = a
        .machines
        .values()
        .filter(|m| include_deleted || !m.destroyed())
        .filter(|m| region.is_none_or(|r| m.region == r))
        .filter(|m| states.as_ref().is_none_or(|s| s.contains(&m.state)))
        .filter(|m| {
            let md = m.metadata();
            meta.iter()
                .all(|(k, v)| md.get(*k).map(String::as_str) == Some(*v))
        })
        .collect();
    machines.sort_by_key(|m| m.order);
    let out: Vec<Value> = machines
        .iter()
        .map(|m| inner.machine_json(m, summary, include_leases, &ctx.caller.owner))
        .collect();
    Ok(Reply::json(200, Value::Array(out)))
}

fn get_machine(inner: &mut Inner, ctx: &Ctx, app: &str, id: &str) -> R {
    let include_leases = qbool(ctx, "include_leases")?;
    match inner.apps[app].machines.get(id) {
        Some(m) => Ok(Reply::json(
            200,
            inner.machine_json(m, false, include_leases, &ctx.caller.owner),
        )),
        None => Err(machine_not_found(id)),
    }
}

/// notes l.56, l.87, l.128-130: a machine must not boot with secrets older than requested.
fn check_min_secrets(app: &App, ctx: &Ctx) -> Result<(), Reply> {
    if let Some(min) = ctx.b_u64("min_secrets_version")
        && min > app.secrets_version
    {
        return Err(Reply::error(
            412,
            format!(
                "min_secrets_version {min} is newer than the app's secrets version {}",
                app.secrets_version
            ),
        ));
    }
    Ok(())
}

fn new_lease(inner: &mut Inner, owner: &str, ttl: u64, description: &str, version: &str) -> Lease {
    let nonce = inner.ids.hex(12);
    inner.placeholder(&nonce, "nonce");
    Lease {
        nonce,
        owner: owner.to_string(),
        description: description.to_string(),
        expires_at: inner.now() + ttl as f64,
        version: version.to_string(),
    }
}

/// Record what a machine boots with.
fn boot_secrets(app_version: u64, digests: &BTreeMap<String, String>, m: &mut Machine, skip: bool) {
    m.booted_secrets_version = Some(app_version);
    m.booted_secrets = if skip {
        BTreeMap::new()
    } else {
        digests.clone()
    };
}

fn create_machine(inner: &mut Inner, ctx: &Ctx, app: &str) -> R {
    let now = inner.now();
    let t = inner.timings().clone();
    let a = &inner.apps[app];
    check_min_secrets(a, ctx)?;
    let name = match ctx.b_str("name") {
        Some(n) => n.to_string(),
        None => {
            let suffix = inner.ids.hex(6);
            format!("machine-{suffix}")
        }
    };
    let a = &inner.apps[app];
    // notes l.240: creating a machine whose name is still in use (even while the old one is
    // being destroyed) fails with 422.
    if let Some(other) = a
        .machines
        .values()
        .find(|m| m.name == name && !m.destroyed())
    {
        return Err(Reply::error(
            422,
            format!(
                "a machine named {name:?} already exists in this app ({})",
                other.id
            ),
        ));
    }
    let (secrets_version, digests, org_hex) =
        (a.secrets_version, a.secret_digests(), a.org_hex.clone());
    let region = ctx
        .b_str("region")
        .map(str::to_string)
        .unwrap_or_else(|| inner.cfg.default_region.clone());
    let id = inner.ids.hex(14);
    let version = ulid(&mut inner.ids, now);
    let private_ip = format!(
        "fdaa:0:{org_hex}:a7b:{}:{}:{}:2",
        inner.ids.hex(3),
        inner.ids.hex(4),
        inner.ids.hex(4)
    );
    inner.placeholder(&id, "machine");
    inner.placeholder(&version, "version");
    inner.placeholder(&private_ip, "private-ip");
    inner.machine_order += 1;
    let mut m = Machine {
        id: id.clone(),
        name,
        region,
        config: ctx.b("config").cloned().unwrap_or(Value::Null),
        instance_id: version.clone(),
        versions: vec![version.clone()],
        state: "created",
        pending: VecDeque::new(),
        private_ip,
        created_at: now,
        updated_at: now,
        events: Vec::new(),
        lease: None,
        booted_secrets_version: None,
        booted_secrets: BTreeMap::new(),
        cordoned: false,
        order: inner.machine_order,
    };
    m.user_event(&mut inner.ids, now, "launch", "created");
    if !ctx.b_bool("skip_launch") {
        m.schedule(
            now,
            "created",
            &[
                (t.create, "starting", "start"),
                (t.start, "started", "start"),
            ],
        );
        boot_secrets(
            secrets_version,
            &digests,
            &mut m,
            ctx.b_bool("skip_secrets"),
        );
    }
    if let Some(ttl) = ctx.b_u64("lease_ttl") {
        let lease = new_lease(inner, &ctx.caller.owner.clone(), ttl, "", &version);
        m.lease = Some(lease);
    }
    let mut body = inner.machine_json(&m, false, false, &ctx.caller.owner);
    if let Some(l) = &m.lease {
        // notes l.100: create with lease_ttl returns the nonce in Machine.nonce.
        body["nonce"] = json!(l.nonce);
    }
    inner
        .apps
        .get_mut(app)
        .expect("app checked")
        .machines
        .insert(id, m);
    Ok(Reply::json(200, body))
}

fn update_machine(inner: &mut Inner, ctx: &Ctx, app: &str, id: &str) -> R {
    let now = inner.now();
    let t = inner.timings().clone();
    let a = &inner.apps[app];
    let (secrets_version, digests) = (a.secrets_version, a.secret_digests());
    check_min_secrets(a, ctx)?;
    let m = live(inner, app, id)?;
    lease_guard(m, ctx.nonce, now)?;
    if let Some(cv) = ctx.b_str("current_version")
        && cv != m.instance_id
    {
        return Err(Reply::error(
            412,
            format!(
                "current_version {cv} does not match the machine's version {} (notes l.90)",
                m.instance_id
            ),
        ));
    }
    for (field, current) in [("name", m.name.clone()), ("region", m.region.clone())] {
        if let Some(v) = ctx.b_str(field)
            && v != current
        {
            return Err(Reply::error(
                400,
                format!(
                    "`{field}` is immutable (notes l.88): machine has {current:?}, request has {v:?}"
                ),
            ));
        }
    }
    let was_running = m.running();
    let version = ulid(&mut inner.ids, now);
    inner.placeholder(&version, "version");
    let lease = match (
        ctx.b_u64("lease_ttl"),
        live(inner, app, id)?.active_lease(now).is_some(),
    ) {
        (Some(ttl), false) => Some(new_lease(
            inner,
            &ctx.caller.owner.clone(),
            ttl,
            "",
            &version,
        )),
        _ => None,
    };
    let ids = &mut inner.ids;
    let m = inner
        .apps
        .get_mut(app)
        .and_then(|a| a.machines.get_mut(id))
        .expect("machine checked");
    m.config = ctx.b("config").cloned().unwrap_or(Value::Null);
    m.instance_id = version.clone();
    m.versions.push(version);
    m.user_event(ids, now, "update", "replacing");
    if ctx.b_bool("skip_launch") {
        if was_running {
            m.schedule(now, "stopping", &[(t.stop, "stopped", "exit")]);
        } else {
            m.updated_at = now;
        }
    } else {
        if was_running {
            // notes l.89: a running machine reboots on update.
            m.schedule(
                now,
                "replacing",
                &[(t.stop, "starting", "start"), (t.start, "started", "start")],
            );
        } else {
            m.schedule(now, "starting", &[(t.start, "started", "start")]);
        }
        boot_secrets(secrets_version, &digests, m, false);
    }
    let nonce = lease.as_ref().map(|l| l.nonce.clone());
    if lease.is_some() {
        m.lease = lease;
    }
    let m = &inner.apps[app].machines[id];
    let mut body = inner.machine_json(m, false, false, &ctx.caller.owner);
    if let Some(n) = nonce {
        body["nonce"] = json!(n);
    }
    Ok(Reply::json(200, body))
}

fn delete_machine(inner: &mut Inner, ctx: &Ctx, app: &str, id: &str) -> R {
    let now = inner.now();
    let destroy = inner.timings().destroy;
    let force = qbool(ctx, "force")?;
    let m = live(inner, app, id)?;
    lease_guard(m, ctx.nonce, now)?;
    if !force && (m.running() || m.state == "stopping" || m.state == "suspending") {
        return Err(Reply::error(
            412,
            format!(
                "machine {id} is {}: stop it first or pass force=true (notes l.111)",
                m.state
            ),
        ));
    }
    m.lease = None;
    m.schedule(now, "destroying", &[(destroy, "destroyed", "destroy")]);
    let ids = &mut inner.ids;
    let m = inner
        .apps
        .get_mut(app)
        .and_then(|a| a.machines.get_mut(id))
        .expect("checked");
    m.user_event(ids, now, "destroy", "destroying");
    Ok(Reply::empty(200))
}

fn stop_machine(inner: &mut Inner, ctx: &Ctx, app: &str, id: &str) -> R {
    let now = inner.now();
    let stop = inner.timings().stop;
    let ids_m = live(inner, app, id)?;
    lease_guard(ids_m, ctx.nonce, now)?;
    if ids_m.running() {
        ids_m.schedule(now, "stopping", &[(stop, "stopped", "exit")]);
        let ids = &mut inner.ids;
        let m = inner
            .apps
            .get_mut(app)
            .and_then(|a| a.machines.get_mut(id))
            .expect("checked");
        m.user_event(ids, now, "stop", "stopping");
    }
    Ok(Reply::empty(200))
}

fn start_machine(inner: &mut Inner, ctx: &Ctx, app: &str, id: &str) -> R {
    let now = inner.now();
    let start = inner.timings().start;
    let a = &inner.apps[app];
    let (secrets_version, digests) = (a.secrets_version, a.secret_digests());
    let m = live(inner, app, id)?;
    lease_guard(m, ctx.nonce, now)?;
    match m.state {
        "stopped" | "created" | "suspended" => {
            m.schedule(now, "starting", &[(start, "started", "start")]);
            boot_secrets(secrets_version, &digests, m, false);
            let ids = &mut inner.ids;
            let m = inner
                .apps
                .get_mut(app)
                .and_then(|a| a.machines.get_mut(id))
                .expect("checked");
            m.user_event(ids, now, "start", "starting");
            Ok(Reply::empty(200))
        }
        "started" | "starting" | "replacing" => Ok(Reply::empty(200)),
        other => Err(Reply::error(
            412,
            format!("machine {id} cannot be started from state {other:?}"),
        )),
    }
}

fn restart_machine(inner: &mut Inner, ctx: &Ctx, app: &str, id: &str) -> R {
    let now = inner.now();
    let t = inner.timings().clone();
    if let Some(timeout) = ctx.q("timeout")
        && schema::parse_go_duration(timeout).is_none()
        && timeout.parse::<u64>().is_err()
    {
        return Err(Reply::error(
            400,
            format!("`timeout` must be a Go duration or seconds, got {timeout:?}"),
        ));
    }
    if let Some(sig) = ctx.q("signal")
        && !schema::SIGNALS.contains(&sig)
    {
        return Err(Reply::error(400, format!("unknown signal {sig:?}")));
    }
    let a = &inner.apps[app];
    let (secrets_version, digests) = (a.secrets_version, a.secret_digests());
    let m = live(inner, app, id)?;
    lease_guard(m, ctx.nonce, now)?;
    if !m.running() {
        return Err(Reply::error(
            412,
            format!("machine {id} is {}, not running", m.state),
        ));
    }
    m.schedule(
        now,
        "stopping",
        &[
            (t.stop, "starting", "restart"),
            (t.start, "started", "start"),
        ],
    );
    // notes l.131-132: restarted machines see the current secrets.
    boot_secrets(secrets_version, &digests, m, false);
    Ok(Reply::empty(200))
}

fn suspend_machine(inner: &mut Inner, ctx: &Ctx, app: &str, id: &str) -> R {
    let now = inner.now();
    let suspend = inner.timings().suspend;
    let m = live(inner, app, id)?;
    lease_guard(m, ctx.nonce, now)?;
    if m.state != "started" {
        return Err(Reply::error(
            412,
            format!("machine {id} is {}, not started", m.state),
        ));
    }
    m.schedule(now, "suspending", &[(suspend, "suspended", "suspend")]);
    Ok(Reply::empty(200))
}

fn cordon(inner: &mut Inner, ctx: &Ctx, app: &str, id: &str, on: bool) -> R {
    let now = inner.now();
    let m = live(inner, app, id)?;
    lease_guard(m, ctx.nonce, now)?;
    m.cordoned = on;
    Ok(Reply::empty(200))
}

fn wrap_lease(data: Value) -> Value {
    // notes l.94-95: `{"status":"success","data":{...}}`.
    json!({"status": "success", "data": data})
}

fn get_lease(inner: &mut Inner, ctx: &Ctx, app: &str, id: &str) -> R {
    let now = inner.now();
    let m = match inner.apps.get(app).and_then(|a| a.machines.get(id)) {
        Some(m) if !m.gone() => m,
        _ => return Err(machine_not_found(id)),
    };
    match m.active_lease(now) {
        Some(l) => {
            let show = l.owner == ctx.caller.owner;
            Ok(Reply::json(200, wrap_lease(inner.lease_data(l, show))))
        }
        // notes l.100
        None => Err(Reply::error(404, "lease not found")),
    }
}

/// Install a lease held by someone else (the `lease_conflict` fault).
pub(crate) fn install_foreign_lease(inner: &mut Inner, app: &str, id: &str, secs: f64) -> bool {
    let now = inner.now();
    let nonce = inner.ids.hex(12);
    let Some(m) = inner.apps.get_mut(app).and_then(|a| a.machines.get_mut(id)) else {
        return false;
    };
    if m.gone() || m.active_lease(now).is_some() {
        return false;
    }
    m.lease = Some(Lease {
        nonce,
        owner: "someone-else@example.com".to_string(),
        description: "held by another deployer (injected)".to_string(),
        expires_at: now + secs,
        version: m.instance_id.clone(),
    });
    true
}

fn acquire_lease(inner: &mut Inner, ctx: &Ctx, app: &str, id: &str) -> R {
    let now = inner.now();
    let default_ttl = inner.timings().default_lease_ttl;
    let query_ttl = match ctx.q("ttl") {
        Some(v) => Some(v.parse::<u64>().ok().filter(|t| *t > 0).ok_or_else(|| {
            Reply::error(
                400,
                format!("query parameter `ttl` must be a positive integer, got {v:?}"),
            )
        })?),
        None => None,
    };
    let ttl = ctx.b_u64("ttl").or(query_ttl).unwrap_or(default_ttl);
    let description = ctx.b_str("description").unwrap_or_default().to_string();
    let owner = ctx.caller.owner.clone();
    let m = live(inner, app, id)?;
    let version = m.instance_id.clone();
    match (m.active_lease(now), ctx.nonce) {
        (Some(l), Some(n)) if l.nonce == n => {
            // notes l.99: refresh by posting again with the nonce.
            let l = m.lease.as_mut().expect("active");
            l.expires_at = now + ttl as f64;
            if !description.is_empty() {
                l.description = description;
            }
        }
        (Some(l), _) => {
            // notes l.96
            let msg = format!(
                "lease currently held by {} for another {:.0}s",
                l.owner,
                (l.expires_at - now).ceil()
            );
            return Err(Reply::error(409, msg));
        }
        (None, _) => {
            let lease = new_lease(inner, &owner, ttl, &description, &version);
            live(inner, app, id)?.lease = Some(lease);
        }
    }
    let m = &inner.apps[app].machines[id];
    let l = m.lease.as_ref().expect("just set");
    Ok(Reply::json(201, wrap_lease(inner.lease_data(l, true))))
}

fn release_lease(inner: &mut Inner, ctx: &Ctx, app: &str, id: &str) -> R {
    let now = inner.now();
    let Some(nonce) = ctx.nonce else {
        return Err(Reply::error(
            400,
            "releasing a lease needs the fly-machine-lease-nonce header (notes l.99)",
        ));
    };
    let m = live(inner, app, id)?;
    match m.active_lease(now) {
        // notes l.234-235: an expired lease gives "lease not found" on release.
        None => Err(Reply::error(404, "lease not found")),
        Some(l) if l.nonce != nonce => Err(Reply::error(409, "lease nonce mismatch")),
        Some(_) => {
            m.lease = None;
            Ok(Reply::empty(200))
        }
    }
}

fn get_metadata(inner: &mut Inner, app: &str, id: &str) -> R {
    let m = live(inner, app, id)?;
    Ok(Reply::json(200, json!(m.metadata())))
}

fn metadata_map(m: &mut Machine) -> &mut Map<String, Value> {
    if !m.config.is_object() {
        m.config = json!({});
    }
    let cfg = m.config.as_object_mut().expect("object");
    if !cfg.get("metadata").is_some_and(Value::is_object) {
        cfg.insert("metadata".into(), json!({}));
    }
    cfg.get_mut("metadata")
        .and_then(Value::as_object_mut)
        .expect("object")
}

fn update_metadata(inner: &mut Inner, ctx: &Ctx, app: &str, id: &str) -> R {
    let now = inner.now();
    let updates = ctx
        .b("metadata")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for (k, v) in &updates {
        if k.is_empty() {
            return Err(Reply::error(400, "metadata keys must not be empty"));
        }
        if !(v.is_string() || v.is_null()) {
            return Err(Reply::error(
                400,
                format!("metadata value for {k:?} must be a string (or null to remove it)"),
            ));
        }
    }
    let m = live(inner, app, id)?;
    lease_guard(m, ctx.nonce, now)?;
    if let Some(v) = ctx.b_str("machine_version")
        && v != m.instance_id
    {
        // notes l.115, l.237
        return Err(Reply::error(
            412,
            format!("machine_version {v} is stale (current {})", m.instance_id),
        ));
    }
    let map = metadata_map(m);
    for (k, v) in updates {
        match v.as_str() {
            Some(s) if !s.is_empty() => {
                map.insert(k, json!(s));
            }
            _ => {
                map.remove(&k);
            }
        }
    }
    m.updated_at = now;
    Ok(Reply::json(200, json!(m.metadata())))
}

fn get_metadata_key(inner: &mut Inner, app: &str, id: &str, key: &str) -> R {
    let m = live(inner, app, id)?;
    match m.metadata().get(key) {
        Some(v) => Ok(Reply::json(200, json!({"value": v}))),
        None => Err(Reply::error(404, format!("metadata key {key:?} not found"))),
    }
}

fn set_metadata_key(inner: &mut Inner, ctx: &Ctx, app: &str, id: &str, key: &str) -> R {
    let now = inner.now();
    let value = ctx.b_str("value").unwrap_or_default().to_string();
    let m = live(inner, app, id)?;
    lease_guard(m, ctx.nonce, now)?;
    let map = metadata_map(m);
    if value.is_empty() {
        map.remove(key);
    } else {
        map.insert(key.to_string(), json!(value));
    }
    m.updated_at = now;
    Ok(Reply::empty(204))
}

fn delete_metadata_key(inner: &mut Inner, ctx: &Ctx, app: &str, id: &str, key: &str) -> R {
    let now = inner.now();
    let m = live(inner, app, id)?;
    lease_guard(m, ctx.nonce, now)?;
    metadata_map(m).remove(key);
    m.updated_at = now;
    Ok(Reply::empty(204))
}

fn valid_secret_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && (b[0].is_ascii_alphabetic() || b[0] == b'_')
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

fn secrets_list(inner: &Inner, app: &App) -> Vec<Value> {
    app.secrets
        .iter()
        .map(|(n, s)| inner.secret_json(n, s))
        .collect()
}

fn list_secrets(inner: &mut Inner, ctx: &Ctx, app: &str) -> R {
    if qbool(ctx, "show_secrets")? {
        return Err(Reply::error(
            400,
            "this emulator never returns secret values (notes l.133-136: treat secrets as write-only)",
        ));
    }
    let a = &inner.apps[app];
    if let Some(min) = ctx.q("min_version") {
        let min: u64 = min.parse().map_err(|_| {
            Reply::error(
                400,
                format!("`min_version` must be an integer, got {min:?}"),
            )
        })?;
        if min > a.secrets_version {
            return Err(Reply::error(
                412,
                format!(
                    "secrets version {min} not reached (current {})",
                    a.secrets_version
                ),
            ));
        }
    }
    Ok(Reply::json(200, json!({"secrets": secrets_list(inner, a)})))
}

fn put_secret(a: &mut App, name: &str, value: &str, now: f64, version: u64) {
    let digest = secret_digest(value);
    match a.secrets.get_mut(name) {
        Some(s) => {
            s.digest = digest;
            s.updated_at = now;
            s.version = version;
        }
        None => {
            a.secrets.insert(
                name.to_string(),
                Secret {
                    digest,
                    created_at: now,
                    updated_at: now,
                    version,
                },
            );
        }
    }
}

fn set_secrets(inner: &mut Inner, ctx: &Ctx, app: &str) -> R {
    let now = inner.now();
    let values = ctx
        .b("values")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for (k, v) in &values {
        if !valid_secret_name(k) {
            return Err(Reply::error(400, format!("invalid secret name {k:?}")));
        }
        if !(v.is_string() || v.is_null()) {
            return Err(Reply::error(
                400,
                format!("`values.{k}` must be a string, or null to unset it (notes l.123-124)"),
            ));
        }
    }
    let a = inner.apps.get_mut(app).expect("checked");
    a.secrets_version += 1;
    let version = a.secrets_version;
    for (k, v) in values {
        match v.as_str() {
            Some(s) => put_secret(a, &k, s, now, version),
            None => {
                a.secrets.remove(&k);
            }
        }
    }
    let a = &inner.apps[app];
    Ok(Reply::json(
        200,
        json!({"secrets": secrets_list(inner, a), "version": version}),
    ))
}

fn get_secret(inner: &mut Inner, app: &str, name: &str) -> R {
    let a = &inner.apps[app];
    match a.secrets.get(name) {
        Some(s) => Ok(Reply::json(200, inner.secret_json(name, s))),
        None => Err(Reply::error(404, format!("secret {name:?} not found"))),
    }
}

fn set_secret(inner: &mut Inner, ctx: &Ctx, app: &str, name: &str) -> R {
    if !valid_secret_name(name) {
        return Err(Reply::error(400, format!("invalid secret name {name:?}")));
    }
    let now = inner.now();
    let value = ctx.b_str("value").unwrap_or_default().to_string();
    let a = inner.apps.get_mut(app).expect("checked");
    a.secrets_version += 1;
    let version = a.secrets_version;
    put_secret(a, name, &value, now, version);
    let a = &inner.apps[app];
    let mut body = inner.secret_json(name, &a.secrets[name]);
    body["version"] = json!(version);
    // notes l.125-126
    Ok(Reply::json(201, body))
}

fn delete_secret(inner: &mut Inner, app: &str, name: &str) -> R {
    let a = inner.apps.get_mut(app).expect("checked");
    if a.secrets.remove(name).is_none() {
        return Err(Reply::error(404, format!("secret {name:?} not found")));
    }
    a.secrets_version += 1;
    Ok(Reply::json(200, json!({"version": a.secrets_version})))
}

fn list_ips(inner: &mut Inner, app: &str) -> R {
    let a = &inner.apps[app];
    let ips: Vec<Value> = a.ips.iter().map(|ip| inner.ip_json(ip)).collect();
    Ok(Reply::json(200, json!({"ips": ips})))
}

fn assign_ip(inner: &mut Inner, ctx: &Ctx, app: &str) -> R {
    let now = inner.now();
    let kind = ctx.b_str("type").unwrap_or_default().to_string();
    let a = &inner.apps[app];
    if let Some(org) = ctx.b_str("org_slug")
        && org != a.org_slug
    {
        return Err(Reply::error(
            400,
            format!(
                "org_slug {org:?} is not the app's organization {:?}",
                a.org_slug
            ),
        ));
    }
    if kind == "shared_v4" && a.ips.iter().any(|ip| ip.kind == "shared_v4") {
        return Err(Reply::error(422, "app already has a shared_v4 address"));
    }
    let org_hex = a.org_hex.clone();
    let ids = &mut inner.ids;
    let (ip, shared, egress) = match kind.as_str() {
        "v6" => (
            format!("2a09:8280:1::{}:{}", ids.hex(2), ids.hex(4)),
            false,
            false,
        ),
        "shared_v4" => (inner.shared_v4.clone(), true, false),
        "v4" => (
            format!(
                "137.66.{}.{}",
                1 + ids.next_u64() % 254,
                1 + ids.next_u64() % 254
            ),
            false,
            false,
        ),
        "private_v6" => (
            format!("fdaa:0:{org_hex}:0:1::{}", ids.hex(2)),
            false,
            false,
        ),
        "egress_v4" => (
            format!(
                "209.71.{}.{}",
                1 + ids.next_u64() % 254,
                1 + ids.next_u64() % 254
            ),
            false,
            true,
        ),
        _ => (
            format!("2605:4c40:{}::{}", ids.hex(4), ids.hex(4)),
            false,
            true,
        ),
    };
    inner.placeholder(&ip, "ip");
    let record = Ip {
        ip,
        kind,
        region: ctx
            .b_str("region")
            .filter(|r| !r.is_empty())
            .unwrap_or("global")
            .to_string(),
        service_name: ctx
            .b_str("service_name")
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        shared,
        egress,
        created_at: now,
    };
    let body = inner.ip_json(&record);
    inner.apps.get_mut(app).expect("checked").ips.push(record);
    Ok(Reply::json(200, body))
}

fn release_ip(inner: &mut Inner, app: &str, ip: &str) -> R {
    let a = inner.apps.get_mut(app).expect("checked");
    let before = a.ips.len();
    a.ips.retain(|x| x.ip != ip);
    if a.ips.len() == before {
        return Err(Reply::error(
            404,
            format!("ip {ip} is not assigned to this app"),
        ));
    }
    Ok(Reply::empty(200))
}

// -------------------------------------------------------------------------------------------
// Wait
// -------------------------------------------------------------------------------------------

pub(crate) struct WaitSpec {
    pub app: String,
    pub id: String,
    pub state: String,
    pub version: Option<String>,
    pub deadline: f64,
    pub timeout: u64,
}

/// notes l.101-106.
pub(crate) fn prepare_wait(inner: &mut Inner, route: &Route, ctx: &Ctx) -> Result<WaitSpec, Reply> {
    let app = route.app.clone().unwrap_or_default();
    let id = route.machine.clone().unwrap_or_default();
    let max = inner.timings().max_wait;
    let state = ctx.q("state").unwrap_or("started").to_string();
    const STATES: &[&str] = &[
        "started",
        "stopped",
        "suspended",
        "destroyed",
        "failed",
        "settled",
    ];
    if !STATES.contains(&state.as_str()) {
        return Err(Reply::error(
            400,
            format!("`state` must be one of {}, got {state:?}", STATES.join("|")),
        ));
    }
    let timeout = match ctx.q("timeout") {
        None => max,
        Some(v) => match v.parse::<u64>() {
            Ok(t) if (1..=max).contains(&t) => t,
            _ => {
                return Err(Reply::error(
                    400,
                    format!(
                        "`timeout` must be whole seconds between 1 and {max} (notes l.102), got {v:?}"
                    ),
                ));
            }
        },
    };
    let version = ctx
        .q("version")
        .or(ctx.q("instance_id"))
        .map(str::to_string);
    if state == "stopped" && version.is_none() {
        return Err(Reply::error(
            400,
            "waiting for `stopped` needs `version` (notes l.103)",
        ));
    }
    inner.settle_all();
    let Some(m) = inner.apps.get(&app).and_then(|a| a.machines.get(&id)) else {
        return Err(machine_not_found(&id));
    };
    if let Some(v) = &version
        && v != &m.instance_id
    {
        return Err(Reply::error(
            412,
            format!(
                "version {v} is not the machine's current version {}",
                m.instance_id
            ),
        ));
    }
    Ok(WaitSpec {
        app,
        id,
        state,
        version,
        deadline: inner.now() + timeout as f64,
        timeout,
    })
}

/// Some(reply) once the wait is over; None to keep waiting. Also returns the next virtual time
/// worth waking up at.
pub(crate) fn poll_wait(inner: &mut Inner, w: &WaitSpec) -> (Option<Reply>, f64) {
    inner.settle_all();
    let now = inner.now();
    let Some(m) = inner.apps.get(&w.app).and_then(|a| a.machines.get(&w.id)) else {
        return (Some(machine_not_found(&w.id)), now);
    };
    let reached = match w.state.as_str() {
        "settled" => m.pending.is_empty(),
        s => m.state == s && w.version.as_ref().is_none_or(|v| v == &m.instance_id),
    };
    if reached {
        return (Some(Reply::json(200, json!({"ok": true}))), now);
    }
    if m.destroyed() && w.state != "destroyed" {
        return (
            Some(Reply::error(400, format!("machine {} was destroyed", w.id))),
            now,
        );
    }
    if now >= w.deadline {
        // The docs list 408 for a timeout (notes l.102).
        return (
            Some(Reply::error(
                408,
                format!(
                    "deadline_exceeded: machine did not reach {} within {}s",
                    w.state, w.timeout
                ),
            )),
            now,
        );
    }
    let next = m
        .pending
        .front()
        .map(|p| p.0)
        .unwrap_or(w.deadline)
        .min(w.deadline);
    (None, next)
}
