//! The `--json` contract: every command's output is an envelope `{version, command, ...}` that
//! passes the JSON Schema shipped for it, and summaries count every layer.

use crate::common;

use common::TempWorkspace;
use common::local::{Cleanup, run};

fn json(run: &common::Run) -> serde_json::Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {run:?}"))
}

/// Check `v` against the shipped schema of the command its envelope names.
fn conforms(v: &serde_json::Value) {
    assert_eq!(v["version"], 1, "{v}");
    let command = v["command"]
        .as_str()
        .unwrap_or_else(|| panic!("no command: {v}"));
    let path = common::repo_root()
        .join(scalewize::commands::output::OUTPUT_SCHEMA_DIR)
        .join(scalewize::commands::output::schema_file(command));
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(v)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{command}: {errors:#?}\n{v:#}");
    let text = v.to_string();
    assert!(!text.contains(":null"), "{command} prints null: {text}");
}

#[test]
fn diff_json_summary_counts_platform_changes_too() {
    let ws = TempWorkspace::example();
    let _cleanup = Cleanup::new(&ws);
    // Nothing deployed yet: the generated files are current, the platform layer has creates.
    let diff = run(&ws, &["diff", "client-b", "--json", "--detailed-exitcode"]);
    assert_eq!(diff.code, 2, "{diff:?}");
    let v = json(&diff);
    let actions = v["plan"]["actions"].as_array().unwrap();
    assert!(!actions.is_empty(), "{v}");
    let creates = actions.iter().filter(|a| a["op"] == "create").count();
    let s = &v["summary"];
    assert_eq!(s["platform"]["create"], creates, "{s}");
    assert_eq!(s["files"]["create"], 0, "{s}");
    assert_eq!(s["create"], creates, "{s}");
    let total = ["create", "update", "delete"]
        .iter()
        .map(|k| s[k].as_u64().unwrap())
        .sum::<u64>();
    assert_eq!(total as usize, actions.len(), "{s}");
    assert_eq!(s["clients_with_changes"], 1, "{s}");
    assert!(s["secrets"].as_u64().unwrap() > 0, "{s}");
}

#[test]
fn every_json_output_passes_its_schema() {
    let ws = TempWorkspace::example();
    let _cleanup = Cleanup::new(&ws);
    // validate: valid, then with a finding (file, line, column).
    conforms(&json(&run(&ws, &["validate", "--json"])));
    let path = "client-configs/client-a/mcp-servers.json";
    let good = ws.read(path);
    ws.write(path, &good.replacen("\"client_name\"", "\"client_nam\"", 1));
    let invalid = run(&ws, &["validate", "client-a", "--json"]);
    assert_eq!(invalid.code, 1, "{invalid:?}");
    let v = json(&invalid);
    conforms(&v);
    assert_eq!(v["clients"][0]["valid"], false, "{v}");
    assert!(v["clients"][0]["diagnostics"][0]["line"].is_u64(), "{v}");
    ws.write(path, &good);

    conforms(&json(&run(&ws, &["diff", "--local", "--json"])));
    conforms(&json(&run(&ws, &["diff", "client-b", "--json"])));
    conforms(&json(&run(
        &ws,
        &["deploy", "client-b", "--dry-run", "--json"],
    )));
    let deploy = run(&ws, &["deploy", "client-b", "--yes", "--json"]);
    assert_eq!(deploy.code, 0, "{deploy:?}");
    let v = json(&deploy);
    conforms(&v);
    assert_eq!(v["results"][0]["client"], "client-b", "{v}");
    assert!(
        v["results"][0]["services"][0]["key"]["owner"].is_string(),
        "{v}"
    );

    let status = run(&ws, &["status", "client-b", "--json", "--orphans"]);
    assert_eq!(status.code, 0, "{status:?}");
    let v = json(&status);
    conforms(&v);
    // Services are named the way diff and deploy name them.
    let keys: Vec<&serde_json::Value> = v["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["key"])
        .collect();
    assert!(
        keys.iter()
            .any(|k| k["owner"] == "client-b" && k["service"] == "custom-erp-mcp"),
        "{v}"
    );
    assert!(v["orphans"].is_array(), "{v}");
    let without = json(&run(&ws, &["status", "client-b", "--json"]));
    assert!(without.get("orphans").is_none(), "{without}");

    conforms(&json(&run(&ws, &["secret", "list", "client-c", "--json"])));
    conforms(&json(&run(&ws, &["secret", "list", "default", "--json"])));
    conforms(&json(&run(&ws, &["cost", "--all", "--json"])));
    let v = json(&run(
        &ws,
        &["cost", "--all", "--platform", "railway", "--json"],
    ));
    conforms(&v);
    assert!(v["services"][0]["worst_case"].is_string(), "{v}");
    // doctor exits 1 here (no Railway token); its JSON still has its shape.
    let doctor = run(&ws, &["doctor", "--json"]);
    let v = json(&doctor);
    conforms(&v);
    assert_eq!(v["ok"], doctor.code == 0, "{doctor:?}");
    let v = json(&run(
        &ws,
        &["lock", "status", "--platform", "local", "--json"],
    ));
    conforms(&v);
    assert_eq!(v["locks"][0]["state"], "free", "{v}");

    let dry = run(&ws, &["destroy", "client-b", "--dry-run", "--json"]);
    assert_eq!(dry.code, 2, "{dry:?}");
    let v = json(&dry);
    conforms(&v);
    assert_eq!(v["removed"], 0, "{v}");
    assert!(!v["plan"]["actions"].as_array().unwrap().is_empty(), "{v}");
    let destroy = run(&ws, &["destroy", "client-b", "--yes", "--json"]);
    assert_eq!(destroy.code, 0, "{destroy:?}");
    let v = json(&destroy);
    conforms(&v);
    assert_eq!(
        v["removed"].as_u64().unwrap() as usize,
        v["plan"]["actions"].as_array().unwrap().len(),
        "{v}"
    );
    assert_eq!(v["failures"], serde_json::json!([]), "{v}");
}
