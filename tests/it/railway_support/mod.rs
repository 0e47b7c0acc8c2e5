//! Helpers for the Railway tests: an emulator per test, the real binary pointed at it, and
//! views of the emulator's state and request log that do not depend on generated ids or on
//! the order concurrent steps happened to run in.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use railway_emulator::{
    Config, DEFAULT_WORKSPACE_ID, DEFAULT_WORKSPACE_TOKEN, Emulator, EmulatorHandle, Faults,
    OperationKind, RequestRecord,
};
use regex::Regex;
use serde_json::{Value, json};

use crate::common::{Run, TempWorkspace};

/// Emulated seconds per real second the tests run at (deployments take ~32 emulated seconds).
pub const TIME_SCALE: f64 = 0.01;

pub fn start(seed: u64, faults: Faults) -> EmulatorHandle {
    Emulator::start(
        Config::default()
            .with_time_scale(TIME_SCALE)
            .with_seed(seed)
            .with_faults(faults),
    )
}

/// The example workspace, with client-c as an owner of per-user instances.
pub fn workspace() -> TempWorkspace {
    TempWorkspace::example()
}

pub fn env(emu: &EmulatorHandle) -> Vec<(String, String)> {
    vec![
        ("SCALEWIZE_RAILWAY_API_URL".into(), emu.url()),
        ("RAILWAY_API_TOKEN".into(), DEFAULT_WORKSPACE_TOKEN.into()),
        ("RAILWAY_WORKSPACE_ID".into(), DEFAULT_WORKSPACE_ID.into()),
        ("SCALEWIZE_TIME_SCALE".into(), TIME_SCALE.to_string()),
        ("RAILWAY_TOKEN".into(), String::new()),
    ]
}

/// Run scalewize in `ws` against `emu` (`extra` added to, or overriding, the environment).
pub fn run(ws: &TempWorkspace, emu: &EmulatorHandle, args: &[&str], extra: &[(&str, &str)]) -> Run {
    let base = env(emu);
    let mut vars: Vec<(&str, &str)> = base
        .iter()
        .filter(|(k, _)| !extra.iter().any(|(e, _)| e == k))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    vars.extend_from_slice(extra);
    ws.run_env(args, &vars)
}

/// `deploy <clients> --platform railway --yes`, which must succeed.
pub fn deploy(ws: &TempWorkspace, emu: &EmulatorHandle, clients: &[&str]) -> Run {
    let mut args = vec!["deploy"];
    args.extend_from_slice(clients);
    args.extend_from_slice(&["--platform", "railway", "--yes"]);
    let r = run(ws, emu, &args, &[]);
    assert_eq!(r.code, 0, "deploy {clients:?}: {r:?}");
    r
}

pub fn mutations(records: &[RequestRecord]) -> Vec<&RequestRecord> {
    records
        .iter()
        .filter(|r| r.operation_type == Some(OperationKind::Mutation))
        .collect()
}

/// Requests from `from` (a count of earlier requests) on.
pub fn since(emu: &EmulatorHandle, from: usize) -> Vec<RequestRecord> {
    emu.requests().into_iter().skip(from).collect()
}

/// A GraphQL request with the default workspace token (for setting up foreign resources).
pub fn gql(emu: &EmulatorHandle, query: &str, vars: Value) -> Value {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        reqwest::Client::new()
            .post(emu.url())
            .bearer_auth(DEFAULT_WORKSPACE_TOKEN)
            .json(&json!({"query": query, "variables": vars}))
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    })
}

/// Names for the emulator's placeholders (`<service:3>` → `<service sw-client-a/librechat>`),
/// from a snapshot: what a thing is rather than when it was created.
pub fn placeholder_names(snap: &Value) -> BTreeMap<String, String> {
    let mut names = BTreeMap::new();
    for p in snap["projects"].as_array().into_iter().flatten() {
        let pname = p["name"].as_str().unwrap_or_default();
        names.insert(str_of(&p["id"]), format!("<project {pname}>"));
        for s in p["services"].as_array().into_iter().flatten() {
            names.insert(
                str_of(&s["id"]),
                format!("<service {pname}/{}>", str_of(&s["name"])),
            );
        }
        for e in p["environments"].as_array().into_iter().flatten() {
            names.insert(
                str_of(&e["id"]),
                format!("<environment {pname}/{}>", str_of(&e["name"])),
            );
            for i in e["instances"].as_array().into_iter().flatten() {
                let sname = str_of(&i["service_name"]);
                for (n, d) in i["domains"].as_array().into_iter().flatten().enumerate() {
                    names.insert(str_of(&d["id"]), format!("<domain {pname}/{sname}#{n}>"));
                    names.insert(
                        str_of(&d["domain"]),
                        format!("<hostname {pname}/{sname}#{n}>"),
                    );
                }
            }
        }
    }
    names
}

/// [`placeholder_names`] of the current state, plus what the request log says was created
/// (so deleted projects and services keep their names).
pub fn names(emu: &EmulatorHandle) -> BTreeMap<String, String> {
    let snap = serde_json::to_value(emu.snapshot()).unwrap();
    let mut names = placeholder_names(&snap);
    let mut projects: BTreeMap<String, String> = BTreeMap::new();
    for r in emu.requests() {
        let Some(resp) = &r.response else { continue };
        let resp = emu.normalise(resp);
        let vars = emu.normalise(&r.variables);
        let p = &resp["data"]["projectCreate"];
        if p.is_object() {
            let pname = str_of(&p["name"]);
            projects.insert(str_of(&p["id"]), pname.clone());
            names
                .entry(str_of(&p["id"]))
                .or_insert(format!("<project {pname}>"));
            for e in p["environments"]["edges"].as_array().into_iter().flatten() {
                names.entry(str_of(&e["node"]["id"])).or_insert(format!(
                    "<environment {pname}/{}>",
                    str_of(&e["node"]["name"])
                ));
            }
        }
        let s = &resp["data"]["serviceCreate"];
        if s.is_object() {
            let pname = projects
                .get(&str_of(&vars["input"]["projectId"]))
                .cloned()
                .unwrap_or_default();
            names
                .entry(str_of(&s["id"]))
                .or_insert(format!("<service {pname}/{}>", str_of(&s["name"])));
        }
    }
    names
}

fn str_of(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// Replace every placeholder inside every string of `v` by its name; deployments (whose
/// number depends on retries) all become `<deployment>`.
pub fn rename(v: &Value, names: &BTreeMap<String, String>) -> Value {
    static RE: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
    let re = RE.get_or_init(|| Regex::new(r"<[a-z-]+:\d+>").unwrap());
    match v {
        Value::String(s) => Value::String(
            re.replace_all(s, |c: &regex::Captures| {
                let p = &c[0];
                if p.starts_with("<deployment:") {
                    "<deployment>".to_string()
                } else {
                    names.get(p).cloned().unwrap_or_else(|| p.to_string())
                }
            })
            .into_owned(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(|x| rename(x, names)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| (k.clone(), rename(x, names)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The state that matters, comparable across runs: every project, service, setting, limit,
/// variable and domain, and of the deployments only the latest (its status and what it ran),
/// all ids named after what they are.
pub fn state(emu: &EmulatorHandle) -> Value {
    let snap = serde_json::to_value(emu.snapshot()).unwrap();
    let names = names(emu);
    let mut snap = rename(&snap, &names);
    for p in snap["projects"].as_array_mut().unwrap() {
        for e in p["environments"].as_array_mut().unwrap() {
            for i in e["instances"].as_array_mut().unwrap() {
                let deps = i["deployments"].as_array().cloned().unwrap_or_default();
                let latest = deps.last().cloned().map(|mut d| {
                    if let Some(m) = d["meta"].as_object_mut() {
                        m.remove("reason");
                    }
                    d
                });
                i["deployments"] = json!(deps.len());
                i["latest_deployment"] = latest.unwrap_or(Value::Null);
            }
        }
    }
    snap
}

/// The platform lock's project (`src/platform/railway/lock.rs`): scalewize's own, kept between
/// runs; the lock tests check it, the others leave it out of layouts and states.
pub const LOCK_PROJECT: &str = "sw-scalewize-lock";

/// The pid in the note of a lock still held by a live process, if any: after a run ends (even
/// killed), its lock is free or stale, never held by someone alive.
pub fn live_lock_holder(emu: &EmulatorHandle) -> Option<u64> {
    let snap = serde_json::to_value(emu.snapshot()).unwrap();
    let project = snap["projects"]
        .as_array()?
        .iter()
        .find(|p| p["name"] == LOCK_PROJECT)?;
    project["environments"]
        .as_array()?
        .iter()
        .flat_map(|e| e["instances"].as_array().cloned().unwrap_or_default())
        .filter_map(|i| {
            let note: Value =
                serde_json::from_str(i["variables"]["SCALEWIZE_LOCK_NOTE"].as_str()?).ok()?;
            note["pid"].as_u64()
        })
        .find(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists())
}

/// Deployment counts differ with retries: the state without them (nor the lock's project).
pub fn state_without_history(emu: &EmulatorHandle) -> Value {
    let mut s = state(emu);
    s["projects"]
        .as_array_mut()
        .unwrap()
        .retain(|p| p["name"] != LOCK_PROJECT);
    for p in s["projects"].as_array_mut().unwrap() {
        for e in p["environments"].as_array_mut().unwrap() {
            for i in e["instances"].as_array_mut().unwrap() {
                i.as_object_mut().unwrap().remove("deployments");
            }
        }
    }
    s
}

/// Wait until no deployment is in progress (a killed run may leave one going).
pub fn settle(emu: &EmulatorHandle) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let busy = emu.snapshot().deployments().any(|d| {
            !["SUCCESS", "FAILED", "CRASHED", "REMOVED", "SKIPPED"].contains(&d.status.as_str())
        });
        if !busy {
            return;
        }
        assert!(Instant::now() < deadline, "deployments never finished");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Which service (or project) a mutation acts on, for grouping a concurrent log.
pub fn subject(
    r: &RequestRecord,
    names: &BTreeMap<String, String>,
    emu: &EmulatorHandle,
) -> String {
    let v = rename(&emu.normalise(&r.variables), names);
    let input = &v["input"];
    let field = r
        .root_fields
        .first()
        .map(String::as_str)
        .unwrap_or_default();
    let named = match field {
        "projectCreate" => Some(format!("<project {}>", str_of(&input["name"]))),
        "projectDelete" => v["id"].as_str().map(str::to_string),
        "serviceCreate" => {
            let project = str_of(&input["projectId"]);
            let pname = project
                .strip_prefix("<project ")
                .and_then(|p| p.strip_suffix('>'))
                .unwrap_or(&project)
                .to_string();
            Some(format!("<service {pname}/{}>", str_of(&input["name"])))
        }
        "serviceDomainDelete" => v["id"].as_str().map(str::to_string),
        _ => None,
    };
    named
        .or_else(|| input["serviceId"].as_str().map(str::to_string))
        .or_else(|| v["serviceId"].as_str().map(str::to_string))
        .or_else(|| v["id"].as_str().map(str::to_string))
        .unwrap_or_else(|| "<unknown>".into())
}

/// One line per mutation: root field and variables, ids named, secret values replaced.
pub fn golden_line(
    r: &RequestRecord,
    names: &BTreeMap<String, String>,
    emu: &EmulatorHandle,
) -> String {
    let mut v = rename(&emu.normalise(&r.variables), names);
    if let Some(vars) = v
        .get_mut("input")
        .and_then(|i| i.get_mut("variables"))
        .and_then(Value::as_object_mut)
    {
        let secret: Vec<String> = vars
            .get("SCALEWIZE_FINGERPRINTS")
            .and_then(Value::as_str)
            .and_then(|s| serde_json::from_str::<BTreeMap<String, String>>(s).ok())
            .map(|m| m.into_keys().collect())
            .unwrap_or_default();
        for name in secret {
            if vars.contains_key(&name) {
                vars.insert(name, json!("<secret>"));
            }
        }
        // The lock's note names this run (pid, time): its keys, not its values.
        if let Some(note) = vars.get("SCALEWIZE_LOCK_NOTE").and_then(Value::as_str) {
            let note: Value = serde_json::from_str(note).unwrap();
            let keys: Vec<&String> = note.as_object().unwrap().keys().collect();
            vars.insert(
                "SCALEWIZE_LOCK_NOTE".into(),
                json!(format!("<note {keys:?}>")),
            );
        }
        if let Some(b64) = vars.get("LIBRECHAT_YAML_B64").and_then(Value::as_str) {
            use base64::Engine;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap();
            let digest = scalewize::model::sha256_hex(&bytes);
            vars.insert(
                "LIBRECHAT_YAML_B64".into(),
                json!(format!(
                    "<base64 of {} bytes, sha256 {}>",
                    bytes.len(),
                    &digest[..16]
                )),
            );
        }
    }
    let mut line = format!("{} {}", r.summary(), "");
    railway_emulator::canonical(&v, &mut line);
    line
}

/// Mutations grouped by what they act on, each group in request order.
pub fn golden(emu: &EmulatorHandle, records: &[RequestRecord]) -> String {
    let names = names(emu);
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in mutations(records) {
        groups
            .entry(subject(r, &names, emu))
            .or_default()
            .push(golden_line(r, &names, emu));
    }
    let mut out = String::new();
    for (subject, lines) in groups {
        out.push_str(&format!("# {subject}\n"));
        for l in lines {
            out.push_str(&l);
            out.push('\n');
        }
    }
    out
}

/// The root fields of the mutations on each subject, in order.
pub fn mutation_fields(
    emu: &EmulatorHandle,
    records: &[RequestRecord],
) -> BTreeMap<String, Vec<String>> {
    let mut groups = mutation_fields_with_lock(emu, records);
    groups.retain(|subject, _| !subject.contains(LOCK_PROJECT));
    groups
}

/// [`mutation_fields`], the platform lock's project and service included.
pub fn mutation_fields_with_lock(
    emu: &EmulatorHandle,
    records: &[RequestRecord],
) -> BTreeMap<String, Vec<String>> {
    let names = names(emu);
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in mutations(records) {
        groups
            .entry(subject(r, &names, emu))
            .or_default()
            .push(r.root_fields.join(","));
    }
    groups
}

/// Compare with (or, with `SCALEWIZE_BLESS=1`, write) a golden file under `tests/golden/`.
pub fn check_golden(name: &str, actual: &str) {
    let path = crate::common::repo_root().join("tests/golden").join(name);
    if std::env::var_os("SCALEWIZE_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "{} is missing: run `SCALEWIZE_BLESS=1 cargo test --test it railway_deploy`",
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

/// The unrendered variables of a service in the emulator's state.
pub fn variables(emu: &EmulatorHandle, project: &str, service: &str) -> BTreeMap<String, String> {
    let snap = emu.snapshot();
    let p = snap
        .projects
        .iter()
        .find(|p| p.name == project)
        .unwrap_or_else(|| panic!("no project {project}"));
    let i = p.environments[0]
        .instances
        .iter()
        .find(|i| i.service_name == service)
        .unwrap_or_else(|| panic!("no service {service} in {project}"));
    i.variables.clone()
}

/// `(project name, sorted service names)` for every project.
pub fn layout(emu: &EmulatorHandle) -> Vec<(String, Vec<String>)> {
    emu.snapshot()
        .projects
        .iter()
        .filter(|p| p.name != LOCK_PROJECT)
        .map(|p| {
            let mut s: Vec<String> = p.services.iter().map(|s| s.name.clone()).collect();
            s.sort();
            (p.name.clone(), s)
        })
        .collect()
}
