//! Helpers for the tests that drive the real scalewize binary against the Fly emulator: a copy
//! of the example workspace set up for Fly, the environment that points the binary at the
//! emulator, a normalised snapshot, and the checks every Fly test makes on the request log.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;

use fly_emulator::{Config, EmulatorHandle, LoggedRequest, Token};
use serde_json::{Value, json};

use crate::common::{Run, TempWorkspace};

pub const ORG: &str = "acme";
pub const TOKEN: &str = "test-token";
/// Virtual seconds per wall second is 1/SCALE (emulator and client alike).
pub const SCALE: f64 = 0.01;

pub fn config() -> Config {
    Config {
        orgs: vec![fly_emulator::Org::new(ORG, "Acme Agency")],
        tokens: vec![Token::org(TOKEN, ORG)],
        ..Config::default()
    }
    .time_scale(SCALE)
}

pub fn emulator() -> EmulatorHandle {
    fly_emulator::Emulator::start(config())
}

/// The example workspace with every service on Fly (region `iad`) and rendered for it.
pub fn workspace() -> TempWorkspace {
    let ws = TempWorkspace::example();
    let mut settings: Value = serde_json::from_str(&ws.read("scalewize.json")).unwrap();
    settings["fly"] = json!({"region": "iad"});
    ws.write(
        "scalewize.json",
        &serde_json::to_string_pretty(&settings).unwrap(),
    );
    set_json(&ws, "client-configs/default/mcp-servers.json", |v| {
        v["platform"] = json!("fly")
    });
    // Shared servers take their platform from their manifest only.
    set_json(
        &ws,
        "custom-mcp-servers/shared/knowledge-base-mcp/scalewize.json",
        |v| v["platform"] = json!("fly"),
    );
    let r = ws.run(&["render", "--all"]);
    assert_eq!(r.code, 0, "{r:?}");
    ws
}

pub fn set_json(ws: &TempWorkspace, rel: &str, f: impl FnOnce(&mut Value)) {
    let mut v: Value = serde_json::from_str(&ws.read(rel)).unwrap();
    f(&mut v);
    ws.write(rel, &serde_json::to_string_pretty(&v).unwrap());
}

/// The variables that point scalewize at `emu`.
pub fn env(emu: &EmulatorHandle) -> Vec<(String, String)> {
    vec![
        ("SCALEWIZE_FLY_API_URL".into(), emu.url()),
        ("FLY_API_TOKEN".into(), TOKEN.into()),
        ("FLY_ORG".into(), ORG.into()),
        ("SCALEWIZE_TIME_SCALE".into(), SCALE.to_string()),
    ]
}

pub fn run(ws: &TempWorkspace, emu: &EmulatorHandle, args: &[&str]) -> Run {
    run_with(ws, emu, args, &[])
}

pub fn run_with(
    ws: &TempWorkspace,
    emu: &EmulatorHandle,
    args: &[&str],
    extra: &[(&str, &str)],
) -> Run {
    let base = env(emu);
    let mut vars: Vec<(&str, &str)> = base.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    vars.extend_from_slice(extra);
    ws.run_env(args, &vars)
}

/// The live state without what legitimately differs between runs that reach it by different
/// paths (generated ids, version counters, timestamps): apps, their secrets by digest, their
/// kinds of IP, and each live machine's name, region, state, config and booted secrets.
pub fn normalized(emu: &EmulatorHandle) -> Value {
    let snap = emu.snapshot();
    let apps: Vec<Value> = snap
        .apps
        .iter()
        .map(|a| {
            let mut ips: Vec<&str> = a.ips.iter().map(|i| i.kind.as_str()).collect();
            ips.sort();
            let secrets: BTreeMap<&str, &str> = a
                .secrets
                .iter()
                .map(|s| (s.name.as_str(), s.digest.as_str()))
                .collect();
            let machines: Vec<Value> = a
                .machines
                .iter()
                .map(|m| {
                    json!({
                        "name": m.name,
                        "region": m.region,
                        "state": m.state,
                        "config": m.config,
                        "booted_secrets": m.booted_secrets,
                        "stale_secrets": m.stale_secrets,
                        "leased": m.lease.is_some(),
                    })
                })
                .collect();
            json!({
                "name": a.name,
                "org": a.org_slug,
                "network": a.network,
                "status": a.status,
                "ips": ips,
                "secrets": secrets,
                "machines": machines,
            })
        })
        .collect();
    json!(apps)
}

pub fn app_names(emu: &EmulatorHandle) -> BTreeSet<String> {
    emu.snapshot().apps.iter().map(|a| a.name.clone()).collect()
}

/// Names the Machines API ignores or never had (notes §3, §9.9): fly.toml names and legacy forms.
pub const IGNORED_NAMES: &[&str] = &[
    "auto_stop_machines",
    "auto_start_machines",
    "app_name",
    "http_service",
    "primary_region",
    "http_checks",
    "tcp_checks",
    "kill_signal",
    "kill_timeout",
    "vm",
    "memory",
    "build",
];

/// The request log holds only names the API knows: no fly.toml names, no `app_name`, no
/// boolean `autostop`; the emulator refused no key and counted no fly.toml or legacy name.
pub fn assert_api_names(emu: &EmulatorHandle) {
    let keys = emu.sent_json_keys();
    let paths = emu.sent_json_key_paths();
    for name in IGNORED_NAMES {
        // `env`/`metadata` keys are ours (upper snake or scalewize_*): never these.
        assert!(!keys.contains(*name), "sent `{name}`: {paths:?}");
    }
    for p in &paths {
        let last = p.rsplit('.').next().unwrap_or(p);
        assert!(
            !IGNORED_NAMES.contains(&last),
            "sent the ignored name `{p}`"
        );
    }
    for r in emu.requests() {
        if let Some(services) = r
            .json
            .as_ref()
            .and_then(|b| b.get("config"))
            .and_then(|c| c.get("services"))
            .and_then(Value::as_array)
        {
            for s in services {
                assert!(
                    s.get("autostop").is_none_or(Value::is_string),
                    "a boolean (legacy) autostop was sent: {s}"
                );
            }
        }
    }
    let c = emu.counters();
    assert_eq!(c.flytoml_or_legacy_names, 0, "{:?}", emu.rejections());
    assert_eq!(c.rejected_keys, 0, "{:?}", emu.rejections());
    assert_eq!(c.invalid_requests, 0, "{:?}", emu.rejections());
}

/// Requests that changed something (non-GET), as `METHOD /path` lines.
pub fn mutations(emu: &EmulatorHandle) -> Vec<String> {
    emu.mutating_requests()
        .iter()
        .map(|r| format!("{} {} -> {:?}", r.method, r.path, r.status))
        .collect()
}

/// Requests concerning `app`: its paths, and the `POST /v1/apps` that named it.
pub fn requests_for(emu: &EmulatorHandle, app: &str) -> Vec<LoggedRequest> {
    let prefix = format!("/v1/apps/{app}");
    emu.requests()
        .into_iter()
        .filter(|r| {
            r.path == prefix
                || r.path.starts_with(&format!("{prefix}/"))
                || (r.path == "/v1/apps"
                    && r.method == "POST"
                    && r.json.as_ref().and_then(|b| b["name"].as_str()) == Some(app))
        })
        .collect()
}

/// `METHOD /path` with the app and machine ids replaced, for comparing request sequences.
pub fn shape(r: &LoggedRequest, app: &str) -> String {
    let mut p = r.path.replacen(app, "{app}", 1);
    if let Some(rest) = p.strip_prefix("/v1/apps/{app}/machines/") {
        let (_, tail) = rest.split_once('/').unwrap_or((rest, ""));
        p = if tail.is_empty() {
            "/v1/apps/{app}/machines/{id}".to_string()
        } else {
            format!("/v1/apps/{{app}}/machines/{{id}}/{tail}")
        };
    }
    format!("{} {p}", r.method)
}

/// Every value of every store, decrypted with the example identity: `(label, value)`.
pub fn store_value(ws: &TempWorkspace, client: &str, user: Option<&str>, name: &str) -> String {
    use scalewize::secrets::{SecretRef, SecretScope};
    let w = scalewize::workspace::Workspace::open(ws.path()).unwrap();
    let env = vec![(
        OsString::from("SCALEWIZE_AGE_KEY_FILE"),
        ws.path()
            .join("example-only.age-identity.txt")
            .into_os_string(),
    )];
    let store = scalewize::secrets::SecretStore::open_with_env(&w, env).unwrap();
    let scope = match user {
        Some(u) => SecretScope::User {
            client: client.into(),
            user: u.into(),
        },
        None if client == "default" => SecretScope::Shared,
        None => SecretScope::Client(client.into()),
    };
    store
        .get_stored(&SecretRef {
            name: name.into(),
            scope,
        })
        .unwrap()
        .unwrap_or_else(|| panic!("{client}/{user:?}/{name} is not in the store"))
        .expose()
        .to_string()
}

/// The request log grouped by app (apps sorted, each app's requests in arrival order), with
/// the emulator's ids renumbered within each app so that concurrent apps do not reorder them:
/// the byte-for-byte record of what scalewize sent.
pub fn golden_by_app(emu: &EmulatorHandle) -> String {
    let mut out = String::new();
    for app in app_names(emu) {
        out.push_str(&format!("# {app}\n"));
        let mut seen: Vec<(String, String)> = Vec::new();
        for r in requests_for(emu, &app) {
            let mut line = shape(&r, &app);
            if let Some(q) = &r.query {
                line.push('?');
                line.push_str(q);
            }
            if let Some(b) = &r.json {
                // Secret values (test fixtures, still) stay out of committed files.
                let mut b = b.clone();
                if let Some(values) = b.get_mut("values").and_then(Value::as_object_mut) {
                    for v in values.values_mut() {
                        *v = Value::String("<secret>".into());
                    }
                }
                line.push(' ');
                line.push_str(&b.to_string());
            }
            let line = emu.normalize_ids(&line);
            out.push_str(&renumber_placeholders(&line, &mut seen));
            out.push('\n');
        }
    }
    out
}

/// `<kind-N>` placeholders numbered by first appearance in this group instead of globally.
fn renumber_placeholders(line: &str, seen: &mut Vec<(String, String)>) -> String {
    let re = regex::Regex::new(r"<([a-z_]+)-(\d+)>").unwrap();
    re.replace_all(line, |c: &regex::Captures| {
        let global = c[0].to_string();
        if let Some((_, local)) = seen.iter().find(|(g, _)| *g == global) {
            return local.clone();
        }
        let kind = c[1].to_string();
        let n = seen
            .iter()
            .filter(|(_, l)| l.starts_with(&format!("<{kind}#")))
            .count()
            + 1;
        let local = format!("<{kind}#{n}>");
        seen.push((global, local.clone()));
        local
    })
    .into_owned()
}

/// Compare with (or, with `SCALEWIZE_BLESS=1`, write) a golden file under `tests/golden/`.
pub fn check_golden(name: &str, actual: &str) {
    let path = crate::common::repo_root().join("tests/golden").join(name);
    if std::env::var_os("SCALEWIZE_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "{} is missing: bless with SCALEWIZE_BLESS=1",
            path.display()
        )
    });
    if expected != actual {
        let diff = similar::TextDiff::from_lines(&expected, actual)
            .unified_diff()
            .header("expected", "actual")
            .to_string();
        panic!("{name} differs (bless with SCALEWIZE_BLESS=1 if intended):\n{diff}");
    }
}
