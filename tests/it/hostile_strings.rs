//! Hostile strings (SPEC §5): any config string either yields files LibreChat's schema accepts
//! and that read back to exactly what was configured, or a validate error naming the field.

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{TempWorkspace, Validator, env_with_urls};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use scalewize::render::Renderer;
use scalewize::workspace::Workspace;
use serde_json::json;

const TOKENS: &[&str] = &[
    "a",
    "Z",
    "7",
    " ",
    "  ",
    "\"",
    "'",
    "\\",
    "{{x}}",
    "{{LIBRECHAT_USER_ID}}",
    "${Y}",
    "${",
    "}}",
    "[[ x ]]",
    "[% if %]",
    "[#",
    "#",
    ": ",
    "- ",
    "---",
    "...",
    "!",
    "&a",
    "*a",
    "%",
    "@",
    "`",
    "|",
    ">",
    "?",
    "[",
    "]",
    ",",
    "\n",
    "\t",
    "\r",
    "\u{0}",
    "\u{7f}",
    "\u{85}",
    "\u{a0}",
    "\u{2028}",
    "\u{feff}",
    "\u{202e}",
    "é",
    "ß",
    "’",
    "e\u{301}",
    "🙂",
    "日本",
    "true",
    "null",
    "1.3",
    "0x1F",
    "~",
    "<script>",
    "\u{1b}[31m",
];

fn hostile() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::collection::vec(proptest::sample::select(TOKENS), 0..8).prop_map(|v| v.concat()),
        1 => any::<String>(),
        1 => "[a-zA-Z][a-zA-Z0-9 '-]{0,20}",
    ]
}

#[derive(Debug, Clone)]
struct Case {
    client_name: String,
    server_name: String,
    title: Option<String>,
    description: String,
    path: String,
    scope: String,
    var_title: String,
    var_description: String,
    header_value: String,
    kb_description: String,
    env_value: String,
}

/// Hostile but printable: what survives validation more often, so the schema sees many cases.
fn printable() -> impl Strategy<Value = String> {
    hostile().prop_map(|s| s.chars().filter(|c| !c.is_control()).collect())
}

fn case() -> impl Strategy<Value = Case> {
    cases(hostile().boxed())
}

fn cases(h: BoxedStrategy<String>) -> impl Strategy<Value = Case> {
    (
        (
            h.clone(),
            h.clone(),
            proptest::option::of(h.clone()),
            h.clone(),
        ),
        (h.clone(), h.clone(), h.clone(), h.clone()),
        (h.clone(), h.clone(), h),
    )
        .prop_map(
            |(
                (client_name, server_name, title, description),
                (path, scope, var_title, var_description),
                (header_value, kb_description, env_value),
            )| Case {
                client_name,
                server_name,
                title,
                description,
                path,
                scope,
                var_title,
                var_description,
                header_value,
                kb_description,
                env_value,
            },
        )
}

fn client_json(id: &str, c: &Case) -> String {
    let mut server = json!({
        "name": format!("Ext {}", c.server_name),
        "type": "shared",
        "url": format!("https://mcp.example.test/{}", c.path),
        "description": c.description,
        "user_vars": [{"name": "EXT_KEY", "header": "X-Ext-Key", "title": c.var_title, "description": c.var_description}],
        "headers": {"X-Static": c.header_value},
        "oauth": {"authorization_url": "https://auth.example.test/a", "token_url": "https://auth.example.test/t", "scope": c.scope},
    });
    if let Some(t) = &c.title {
        server["title"] = json!(t);
    }
    json!({
        "client_id": id,
        "client_name": c.client_name,
        "librechat": {"env": {"EXTRA_SETTING": c.env_value}},
        "mcp_servers": [server, {"name": "Knowledge Base", "enabled": true, "description": c.kb_description}],
    })
    .to_string()
}

/// Render one case in-process: `Ok(files)` or the diagnostics (each must name a file).
fn render_case(ws: &Workspace, id: &str) -> Result<(String, String), Vec<String>> {
    let client = ws
        .load_client(id)
        .map_err(|ds| ds.0.iter().map(|d| d.render(None)).collect::<Vec<_>>());
    let client = client?;
    let r = Renderer::new(ws)
        .render(&client)
        .map_err(|ds| ds.0.iter().map(|d| d.render(None)).collect::<Vec<_>>())?;
    Ok((
        r.librechat_yaml().to_string(),
        r.file("environment.env").unwrap().content.clone(),
    ))
}

fn check_round_trip(c: &Case, yaml: &str, env: &str) -> Result<(), TestCaseError> {
    let doc: serde_yaml::Value =
        serde_yaml::from_str(yaml).map_err(|e| TestCaseError::fail(format!("{e}\n{yaml}")))?;
    let servers = doc["mcpServers"].as_mapping().unwrap();
    let (_, ext) = servers
        .iter()
        .find(|(k, _)| k.as_str().is_some_and(|k| k.starts_with("ext")))
        .expect("the external server");
    let some = |s: &str| Some(s.to_string()).filter(|s| !s.is_empty());
    prop_assert_eq!(
        ext["description"].as_str().map(str::to_string),
        some(&c.description)
    );
    prop_assert_eq!(
        ext["oauth"]["scope"].as_str().map(str::to_string),
        some(&c.scope)
    );
    prop_assert_eq!(
        ext["customUserVars"]["EXT_KEY"]["title"].as_str(),
        Some(c.var_title.as_str())
    );
    prop_assert_eq!(
        ext["customUserVars"]["EXT_KEY"]["description"].as_str(),
        Some(c.var_description.as_str())
    );
    prop_assert_eq!(
        ext["headers"]["X-Static"].as_str(),
        Some(c.header_value.as_str())
    );
    if let Some(t) = &c.title {
        prop_assert_eq!(ext["title"].as_str(), Some(t.as_str()));
    }
    let kb = doc["mcpServers"]["knowledge-base-mcp"]["description"]
        .as_str()
        .map(str::to_string);
    prop_assert_eq!(kb, some(&c.kb_description));
    let vars: BTreeMap<String, String> = dotenvy::from_read_iter(env.as_bytes())
        .map(Result::unwrap)
        .collect();
    prop_assert_eq!(vars.get("CLIENT_NAME"), Some(&c.client_name));
    prop_assert_eq!(vars.get("EXTRA_SETTING"), Some(&c.env_value));
    Ok(())
}

#[test]
fn any_config_string_renders_faithfully_or_is_a_named_error() {
    let ws = TempWorkspace::example();
    let mut runner = TestRunner::new(Config {
        cases: 300,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&case(), |c| {
            ws.write("client-configs/h/mcp-servers.json", &client_json("h", &c));
            let workspace = Workspace::open(ws.path()).unwrap();
            match render_case(&workspace, "h") {
                Ok((yaml, env)) => check_round_trip(&c, &yaml, &env),
                Err(errors) => {
                    prop_assert!(!errors.is_empty());
                    for e in &errors {
                        prop_assert!(
                            e.contains("client-configs/h/mcp-servers.json")
                                && e.contains("mcp_servers[")
                                || e.contains("client_name")
                                || e.contains("librechat.env"),
                            "error without a field: {e}"
                        );
                    }
                    Ok(())
                }
            }
        })
        .unwrap();
}

#[test]
fn hostile_clients_that_render_pass_librechats_schema() {
    let ws = TempWorkspace::example();
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    );
    let strategy = cases(printable().boxed());
    let mut rendered = Vec::new();
    let mut refused = 0;
    for i in 0..120 {
        let mut c = strategy.new_tree(&mut runner).unwrap().current();
        // Keep the hostility where LibreChat takes free text; make the rest pass validation
        // more often (the first test covers refusals), so the schema sees many cases.
        c.path
            .retain(|ch| ch.is_ascii_alphanumeric() || "/_.~%-".contains(ch));
        if i % 3 != 0 {
            c.title = None;
        }
        if c.var_title.trim().is_empty() {
            c.var_title.insert(0, 'T');
        }
        c.scope = c.scope.replace("${", "$").replace("{{", "{");
        let id = format!("h{i}");
        ws.write(
            &format!("client-configs/{id}/mcp-servers.json"),
            &client_json(&id, &c),
        );
        let workspace = Workspace::open(ws.path()).unwrap();
        match render_case(&workspace, &id) {
            Ok((yaml, env)) => {
                let y = ws.path().join(format!("out/{id}.yaml"));
                let e = ws.path().join(format!("out/{id}.env"));
                std::fs::create_dir_all(y.parent().unwrap()).unwrap();
                std::fs::write(&y, yaml).unwrap();
                std::fs::write(&e, env_with_urls(&env)).unwrap();
                rendered.push((y, e, c));
            }
            Err(_) => refused += 1,
        }
    }
    assert!(
        rendered.len() >= 30,
        "too few hostile cases rendered ({} of 120) to mean anything",
        rendered.len()
    );
    let validator = Validator::new();
    // One run for all files: every env file is loaded (only URL variables matter to the schema).
    let files: Vec<&Path> = rendered.iter().map(|(y, _, _)| y.as_path()).collect();
    let envs: Vec<&Path> = rendered.iter().map(|(_, e, _)| e.as_path()).collect();
    let v = validator.run(&files, &envs, true);
    if !v.ok {
        let failed: Vec<_> = rendered
            .iter()
            .filter(|(y, _, _)| v.output.contains(&format!("FAIL {}", y.display())))
            .map(|(_, _, c)| c)
            .collect();
        panic!(
            "{} of {} hostile configs fail LibreChat's schema:\n{}\ninputs: {failed:#?}",
            failed.len(),
            rendered.len(),
            v.output
        );
    }
    eprintln!(
        "{} hostile configs rendered and passed; {refused} refused with named errors",
        rendered.len()
    );
}
