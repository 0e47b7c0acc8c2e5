//! No secret value leaks on the Railway path: canaries planted in the store (client, shared,
//! per user) and in `SCALEWIZE_SECRET_…` overrides; deploy, diff, status, logs and destroy
//! run with `-vvv` (and `--json`) against the emulator. No canary in any stdout, stderr or
//! workspace file; in the requests Railway receives, canaries appear only as values of the
//! variables a `variableCollectionUpsert` writes, and only under names listed as secrets.

use crate::common;
use crate::railway_support;

use std::collections::BTreeMap;

use base64::Engine;
use common::canary::{Canary, Output, assert_no_canaries, canary, store_values};
use common::{Run, TempWorkspace};
use railway_emulator::Faults;
use railway_support as rw;
use serde_json::Value;

fn forms(c: &Canary) -> [String; 2] {
    [
        c.value.clone(),
        base64::engine::general_purpose::STANDARD
            .encode(&c.value)
            .trim_end_matches('=')
            .to_string(),
    ]
}

#[test]
fn no_secret_reaches_output_files_or_any_request_but_its_variable_write() {
    let emu = rw::start(9, Faults::none());
    let ws = TempWorkspace::example();
    let mut canaries: BTreeMap<String, Canary> = BTreeMap::new();
    let mut add = |c: Canary| {
        canaries.entry(c.value.clone()).or_insert(c);
    };

    // Planted in the store through the command itself.
    let planted = [
        (
            vec!["secret", "set", "client-a", "MONGO_URI"],
            canary("client"),
        ),
        (
            vec!["secret", "set", "client-a", "CUSTOM_CRM_MCP_TOKEN"],
            canary("token"),
        ),
        (
            vec![
                "secret",
                "set",
                "client-c",
                "--user",
                "alice",
                "SDP_REFRESH_TOKEN",
            ],
            canary("user"),
        ),
    ];
    for (args, value) in &planted {
        let r = ws.run_stdin(args, &[], value.as_bytes());
        assert_eq!(r.code, 0, "{args:?}: {r:?}");
    }
    assert_eq!(ws.run(&["render", "--all"]).code, 0);
    for c in store_values(ws.path()) {
        add(c);
    }
    // Overrides: this run only.
    let overrides = [
        (
            "SCALEWIZE_SECRET_CLIENT_A__JWT_SECRET",
            canary("override-client"),
        ),
        (
            "SCALEWIZE_SECRET_DEFAULT__KNOWLEDGE_BASE_MCP_TOKEN",
            canary("override-shared"),
        ),
        (
            "SCALEWIZE_SECRET_CLIENT_C__BOB__SDP_CLIENT_SECRET",
            canary("override-user"),
        ),
    ];
    for (k, v) in &overrides {
        add(Canary::new(*k, v.clone()));
    }
    let canaries: Vec<Canary> = canaries.into_values().collect();
    assert!(canaries.len() > 25, "{} canaries", canaries.len());
    let env: Vec<(&str, &str)> = overrides.iter().map(|(k, v)| (*k, v.as_str())).collect();

    let runs: std::cell::RefCell<Vec<(String, Run)>> = Default::default();
    let go = |args: &[&str], code: Option<i32>| {
        let mut full = vec!["-vvv"];
        full.extend_from_slice(args);
        let r = rw::run(&ws, &emu, &full, &env);
        if let Some(c) = code {
            assert_eq!(r.code, c, "{full:?}: {r:?}");
        }
        runs.borrow_mut().push((full.join(" "), r));
    };
    go(
        &[
            "deploy",
            "client-a",
            "client-c",
            "--platform",
            "railway",
            "--yes",
        ],
        Some(0),
    );
    go(
        &["diff", "client-a", "client-c", "--platform", "railway"],
        Some(0),
    );
    go(
        &["diff", "client-a", "--platform", "railway", "--json"],
        Some(0),
    );
    go(
        &[
            "deploy",
            "client-a",
            "--platform",
            "railway",
            "--yes",
            "--json",
        ],
        Some(0),
    );
    go(
        &["status", "client-a", "client-c", "--platform", "railway"],
        None,
    );
    go(
        &["status", "--platform", "railway", "--json", "--orphans"],
        None,
    );
    go(
        &[
            "logs",
            "client-a",
            "custom-crm-mcp",
            "--platform",
            "railway",
        ],
        None,
    );
    go(
        &[
            "logs",
            "client-c",
            "servicedesk-mcp",
            "--user",
            "alice",
            "--platform",
            "railway",
        ],
        None,
    );
    // A changed secret: the diff names it and shows fingerprints, never values.
    let rotated = canary("rotated");
    let mut rotated_env = env.clone();
    rotated_env.push(("SCALEWIZE_SECRET_CLIENT_A__MONGO_URI", rotated.as_str()));
    let r = rw::run(
        &ws,
        &emu,
        &[
            "-vvv",
            "deploy",
            "client-a",
            "--platform",
            "railway",
            "--yes",
        ],
        &rotated_env,
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout
            .contains("~ secret.MONGO_URI: changed (hmac-sha256:"),
        "{r:?}"
    );
    runs.borrow_mut()
        .push(("deploy with a rotated secret".into(), r));
    go(
        &["destroy", "client-c", "--platform", "railway", "--yes"],
        Some(0),
    );
    let mut canaries = canaries;
    canaries.push(Canary::new("rotated MONGO_URI", rotated));

    // Outputs and files.
    let runs = runs.into_inner();
    let outputs: Vec<Output> = runs
        .iter()
        .map(|(label, run)| Output {
            label: label.clone(),
            run,
        })
        .collect();
    assert_no_canaries(&canaries, &outputs, Some(ws.path()));

    // Requests: only as secret variable values of variable writes.
    let log = emu.requests();
    let mut carried = 0;
    for r in &log {
        let writes = r.root_fields == ["variableCollectionUpsert"];
        let vars = &r.variables["input"]["variables"];
        let secret_names: Vec<String> = vars["SCALEWIZE_FINGERPRINTS"]
            .as_str()
            .and_then(|s| serde_json::from_str::<BTreeMap<String, String>>(s).ok())
            .map(|m| m.into_keys().collect())
            .unwrap_or_default();
        // Everything of the request but the secret values it writes.
        let mut rest = r.variables.clone();
        if writes && let Some(map) = rest["input"]["variables"].as_object_mut() {
            for n in &secret_names {
                if map.remove(n).is_some() {
                    carried += 1;
                }
            }
        }
        let headers: String = r
            .headers
            .iter()
            .map(|(k, v)| format!("{k}: {v}\n"))
            .collect();
        let text = format!("{}\n{}\n{headers}", r.document, rest);
        for c in &canaries {
            for needle in forms(c) {
                assert!(
                    !text.contains(&needle),
                    "canary `{}` in request {} ({}) outside a secret variable it writes",
                    c.label,
                    r.seq,
                    r.summary()
                );
            }
        }
        if writes {
            for n in &secret_names {
                let v = vars[n].as_str().unwrap_or_default();
                assert!(
                    !v.is_empty(),
                    "request {}: secret {n} is listed but not written",
                    r.seq
                );
            }
        }
    }
    assert!(
        carried > 10,
        "the secrets reached Railway ({carried} writes)"
    );
    // The override and the planted values did reach Railway, in their variables.
    let crm_writes: Vec<&Value> = log
        .iter()
        .filter(|r| r.root_fields == ["variableCollectionUpsert"])
        .map(|r| &r.variables["input"]["variables"])
        .collect();
    for (label, name, value) in [
        ("override", "JWT_SECRET", &overrides[0].1),
        ("planted", "MONGO_URI", &planted[0].1),
    ] {
        assert!(
            crm_writes
                .iter()
                .any(|v| v[name].as_str() == Some(value.as_str())),
            "{label} {name} was never written"
        );
    }
}
