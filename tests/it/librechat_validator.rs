//! Rendered configs against LibreChat's own schema (`../shared/tools/librechat-validate`), and one
//! broken config per rule of the reference notes (librechat.md §8): LibreChat's validator fails it
//! at the expected path where the schema can tell, and `scalewize validate` reports the same path.

use crate::common;

use common::{TempWorkspace, Validator, env_with_urls};

#[test]
fn every_example_client_passes_librechats_schema() {
    let ws = TempWorkspace::example();
    assert_eq!(ws.run(&["render"]).code, 0);
    let validator = Validator::new();
    assert_eq!(
        validator.config_version(),
        scalewize::render::LIBRECHAT_CONFIG_VERSION,
        "track the pinned package's CONFIG_VERSION"
    );
    let clients = scalewize::workspace::Workspace::open(ws.path())
        .unwrap()
        .client_ids()
        .unwrap();
    assert!(clients.len() >= 2);
    for c in clients {
        let env = ws.path().join(format!("{c}.env"));
        std::fs::write(
            &env,
            env_with_urls(&ws.read(&format!("client-configs/{c}/environment.env"))),
        )
        .unwrap();
        let yaml = ws.path().join(format!("client-configs/{c}/librechat.yaml"));
        let v = validator.run(&[&yaml], &[&env], true);
        assert!(v.ok, "{c}: {}", v.output);
        // Without the deploy-time URLs LibreChat cannot start: proves the env file is what resolves them.
        if !ws
            .read(&format!("client-configs/{c}/librechat.yaml"))
            .contains("url: \"${")
        {
            continue; // no MCP server in LibreChat (client-c's are per-user instances)
        }
        let bare = ws
            .path()
            .join(format!("client-configs/{c}/environment.env"));
        assert!(
            !validator.run(&[&yaml], &[&bare], false).ok,
            "{c}: URL variables must come from the env file"
        );
    }
}

struct Fixture {
    rule: &'static str,
    body: &'static str,
    /// Where LibreChat's validator fails (`None`: its schema lets this through, which is why scalewize checks it).
    validator: Option<&'static str>,
    /// The path `scalewize validate` reports.
    scalewize: &'static str,
}

const HEAD: &str = "version: \"1.3.17\"\nmcpServers:\n  crm:\n";

fn fixtures() -> Vec<Fixture> {
    vec![
        Fixture {
            rule: "1 version is a quoted string",
            body: "version: 1.3\nmcpServers:\n  crm:\n    type: streamable-http\n    url: \"${CRM_MCP_URL}\"\n",
            validator: Some("version: Expected string"),
            scalewize: "librechat.yaml: version",
        },
        Fixture {
            rule: "2 an explicit, known type",
            body: "    type: streamable\n    url: \"${CRM_MCP_URL}\"\n",
            validator: Some("mcpServers.crm.type: no MCP transport matched"),
            scalewize: "librechat.yaml: mcpServers.crm.type",
        },
        Fixture {
            rule: "2 an explicit type (LibreChat silently infers sse)",
            body: "    url: \"${CRM_MCP_URL}\"\n    headers:\n      X-Key: abc\n",
            validator: None,
            scalewize: "librechat.yaml: mcpServers.crm.type",
        },
        Fixture {
            rule: "3 stdio has args",
            body: "    type: stdio\n    command: npx\n",
            validator: Some("mcpServers.crm.args: Required"),
            scalewize: "librechat.yaml: mcpServers.crm.args",
        },
        Fixture {
            rule: "4 customUserVars have a description",
            body: "    type: streamable-http\n    url: \"${CRM_MCP_URL}\"\n    headers:\n      X-Key: \"{{CRM_KEY}}\"\n    customUserVars:\n      CRM_KEY:\n        title: CRM key\n",
            validator: Some("mcpServers.crm.customUserVars.CRM_KEY.description: Required"),
            scalewize: "librechat.yaml: mcpServers.crm.customUserVars.CRM_KEY.description",
        },
        Fixture {
            rule: "5 only known keys",
            body: "    type: streamable-http\n    url: \"${CRM_MCP_URL}\"\n    header:\n      X-Key: abc\n",
            validator: Some("mcpServers.crm.header: unknown key"),
            scalewize: "librechat.yaml: mcpServers.crm.header",
        },
        Fixture {
            rule: "6 every ${VAR} has an env line",
            body: "    type: streamable-http\n    url: \"${CRM_URL_TYPO}\"\n",
            validator: Some("Invalid URL (input: \"${CRM_URL_TYPO}\")"),
            scalewize: "librechat.yaml: mcpServers.crm.url",
        },
        Fixture {
            rule: "6 sensitive variables are never referenced",
            body: "    type: streamable-http\n    url: \"${CRM_MCP_URL}\"\n    headers:\n      X-Key: \"${CREDS_KEY}\"\n",
            validator: None,
            scalewize: "librechat.yaml: mcpServers.crm.headers.X-Key",
        },
        Fixture {
            rule: "7 allowedAddresses are host:port",
            body: "    type: streamable-http\n    url: \"${CRM_MCP_URL}\"\nmcpSettings:\n  allowedAddresses:\n    - http://localhost:8080/mcp\n",
            validator: Some("mcpSettings.allowedAddresses.0"),
            scalewize: "librechat.yaml: mcpSettings.allowedAddresses.0",
        },
        Fixture {
            rule: "title fits LibreChat's pattern",
            body: "    type: streamable-http\n    url: \"${CRM_MCP_URL}\"\n    title: \"CRM (beta)\"\n",
            validator: Some("mcpServers.crm.title"),
            scalewize: "librechat.yaml: mcpServers.crm.title",
        },
        Fixture {
            rule: "placeholders are defined",
            body: "    type: streamable-http\n    url: \"${CRM_MCP_URL}\"\n    headers:\n      X-Key: \"{{CRM_KEY}}\"\n",
            validator: Some("mcpServers.crm.headers.X-Key: {{CRM_KEY}} is neither"),
            scalewize: "librechat.yaml: mcpServers.crm.headers.X-Key",
        },
    ]
}

#[test]
fn each_rule_has_a_broken_fixture_that_both_validators_catch() {
    let ws = TempWorkspace::example();
    ws.write(
        "client-configs/fixture/mcp-servers.json",
        r#"{"client_id": "fixture", "client_name": "Fixture", "mcp_servers": [{"name": "CRM", "type": "client-specific", "url": "https://crm.example/mcp"}]}"#,
    );
    assert_eq!(ws.run(&["render", "fixture"]).code, 0);
    let env = ws.path().join("fixture.env");
    std::fs::write(
        &env,
        env_with_urls(&ws.read("client-configs/fixture/environment.env")),
    )
    .unwrap();
    let validator = Validator::new();
    for f in fixtures() {
        let body = if f.body.starts_with("version") {
            f.body.to_string()
        } else {
            format!("{HEAD}{}", f.body)
        };
        let file = ws.path().join("fixture.yaml");
        std::fs::write(&file, &body).unwrap();
        let v = validator.run(&[&file], &[&env], true);
        match f.validator {
            Some(path) => {
                assert!(
                    !v.ok,
                    "rule {}: LibreChat's validator accepted it:\n{body}",
                    f.rule
                );
                assert!(
                    v.output.contains(path),
                    "rule {}: expected `{path}` in:\n{}",
                    f.rule,
                    v.output
                );
            }
            None => assert!(
                v.ok,
                "rule {}: expected LibreChat's schema to let this through:\n{}",
                f.rule, v.output
            ),
        }
        // The same text, produced by a client template override, is refused by scalewize.
        ws.write("client-configs/fixture/templates/librechat.yaml.j2", &body);
        let run = ws.run(&["validate", "fixture"]);
        assert_eq!(run.code, 1, "rule {}: {run:?}", f.rule);
        assert!(
            run.stderr.contains(f.scalewize),
            "rule {}: expected `{}` in {run:?}",
            f.rule,
            f.scalewize
        );
        assert!(
            run.stderr
                .contains("client-configs/fixture/templates/librechat.yaml.j2"),
            "rule {}: names the template: {run:?}",
            f.rule
        );
    }
}
