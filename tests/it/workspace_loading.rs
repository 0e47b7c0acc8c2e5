//! Loading the workspace: seed 001 verbatim, the rules of SPEC §2, and errors that teach.

use crate::common;

use common::{TempWorkspace, Validator, shared_dir};
use scalewize::workspace::{CredentialMode, ServerSource, Transport, Workspace};

/// The `mcp-servers.json` of seed 001, taken from the seed document itself.
fn seed_001_json() -> String {
    let seed =
        std::fs::read_to_string(shared_dir().join("seeds/001_555e01ff39e28cb7.txt")).unwrap();
    let section = seed
        .split("#### 3. MCP Server List")
        .nth(1)
        .expect("seed section");
    let start = section.find("```json").unwrap() + "```json".len();
    let end = section[start..].find("```").unwrap();
    section[start..start + end].trim().to_string()
}

#[test]
fn seed_001_loads_verbatim_and_renders_valid_config() {
    let ws = TempWorkspace::empty();
    let json = seed_001_json();
    assert!(json.contains("\"client_id\": \"client-a\""));
    ws.write("client-configs/client-a/mcp-servers.json", &json);
    let workspace = Workspace::open(ws.path()).unwrap();
    let client = workspace
        .load_client("client-a")
        .unwrap_or_else(|d| panic!("{d:#?}"));
    assert_eq!(client.name, "Client A Corporation");
    let slugs: Vec<_> = client.servers.iter().map(|s| s.slug.as_str()).collect();
    assert_eq!(
        slugs,
        [
            "google-drive-mcp",
            "slack-mcp",
            "custom-crm-mcp",
            "custom-analytics-mcp"
        ]
    );
    for s in &client.servers {
        assert!(
            matches!(
                s.source,
                ServerSource::External {
                    transport: Transport::Sse,
                    ..
                }
            ),
            "{}",
            s.slug
        );
        assert_eq!(s.credential_mode, CredentialMode::None);
    }
    assert!(client.servers[0].oauth_required && !client.servers[2].oauth_required);
    assert_eq!(client.servers[2].url_var(), "CUSTOM_CRM_MCP_URL");

    let run = ws.run(&["render", "client-a"]);
    assert_eq!(run.code, 0, "{run:?}");
    let yaml = ws.read("client-configs/client-a/librechat.yaml");
    assert!(yaml.contains("url: \"${CUSTOM_CRM_MCP_URL}\""), "{yaml}");
    assert!(!yaml.contains("CLIENT_A_CRM_MCP_URL"));
    let env = ws.read("client-configs/client-a/environment.env");
    assert!(
        env.contains("CUSTOM_CRM_MCP_URL=https://client-a-crm-mcp.railway.app/sse"),
        "{env}"
    );
    let env_path = ws.path().join("filled.env");
    std::fs::write(&env_path, common::env_with_urls(&env)).unwrap();
    let v = Validator::new().run(
        &[&ws.path().join("client-configs/client-a/librechat.yaml")],
        &[&env_path],
        true,
    );
    assert!(v.ok, "{}", v.output);
}

#[test]
fn unknown_key_names_file_line_column_and_suggests_the_fix() {
    let ws = TempWorkspace::example();
    ws.write(
        "client-configs/client-b/mcp-servers.json",
        "{\n  \"client_id\": \"client-b\",\n  \"client_name\": \"B\",\n  \"mcp_servers\": [\n    {\"name\": \"Custom ERP\", \"type\": \"client-specific\", \"enabld\": true}\n  ]\n}\n",
    );
    let before = ws.snapshot();
    let run = ws.run(&["validate", "client-b"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr
            .contains("client-configs/client-b/mcp-servers.json:5:"),
        "{run:?}"
    );
    assert!(
        run.stderr
            .contains("mcp_servers[0].enabld: unknown key `enabld`"),
        "{run:?}"
    );
    assert!(run.stderr.contains("did you mean `enabled`?"), "{run:?}");
    assert_eq!(ws.run(&["render", "--all"]).code, 1);
    assert_eq!(ws.snapshot(), before, "a failed render writes nothing");
}

#[test]
fn json_syntax_error_names_file_and_line() {
    let ws = TempWorkspace::example();
    ws.write(
        "client-configs/client-a/mcp-servers.json",
        "{\n  \"client_id\": \"client-a\"\n  \"client_name\": \"A\"\n}\n",
    );
    let run = ws.run(&["render", "client-a"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("client-configs/client-a/mcp-servers.json:3:"),
        "{run:?}"
    );
    assert!(run.stderr.contains("JSON syntax error"), "{run:?}");
}

fn load(ws: &TempWorkspace, id: &str) -> Result<scalewize::workspace::Client, Vec<String>> {
    let w = Workspace::open(ws.path()).unwrap();
    w.load_client(id)
        .map_err(|ds| ds.0.iter().map(|d| d.render(Some(ws.path()))).collect())
}

#[test]
fn default_merges_under_clients_by_name() {
    let ws = TempWorkspace::example();
    let a = load(&ws, "client-a").unwrap();
    let names: Vec<_> = a.servers.iter().map(|s| s.name.as_str()).collect();
    // Knowledge Base is disabled in default and enabled by client-a; Slack is inherited.
    assert_eq!(
        names,
        ["Google Drive", "Slack", "Knowledge Base", "Custom CRM"]
    );
    let kb = a.server("knowledge-base-mcp").unwrap();
    assert_eq!(
        kb.description.as_deref(),
        Some("Search the agency's help-center articles.")
    );
    let b = load(&ws, "client-b").unwrap();
    assert!(
        b.server("slack-mcp").is_none(),
        "enabled: false drops an inherited server"
    );
    assert_eq!(
        b.librechat.image, a.librechat.image,
        "top-level settings are inherited"
    );
    assert_eq!(
        a.librechat.domain.as_deref(),
        Some("https://chat.client-a.example")
    );
}

#[test]
fn a_shared_server_takes_deploy_settings_only_from_its_manifest() {
    let ws = TempWorkspace::example();
    ws.write(
        "client-configs/client-a/mcp-servers.json",
        r#"{"client_id": "client-a", "client_name": "A", "mcp_servers": [
            {"name": "Knowledge Base", "enabled": true, "deploy": {"region": "fra"}}]}"#,
    );
    let errs = load(&ws, "client-a").unwrap_err().join("\n");
    assert!(
        errs.contains(
            "shared server `knowledge-base-mcp` takes its deploy settings only from its manifest"
        ),
        "{errs}"
    );
    assert!(
        errs.contains("custom-mcp-servers/shared/knowledge-base-mcp/scalewize.json"),
        "{errs}"
    );
}

#[test]
fn a_deployed_server_needs_its_folder() {
    let ws = TempWorkspace::example();
    ws.write(
        "client-configs/client-a/mcp-servers.json",
        r#"{"client_id": "client-a", "client_name": "A", "mcp_servers": [{"name": "Billing", "type": "client-specific"}]}"#,
    );
    let errs = load(&ws, "client-a").unwrap_err().join("\n");
    assert!(
        errs.contains("custom-mcp-servers/clients/client-a/billing-mcp does not exist"),
        "{errs}"
    );
    assert!(errs.contains("hint: add a `url`"), "{errs}");
}

#[test]
fn colliding_names_and_mismatched_ids_are_errors() {
    let ws = TempWorkspace::example();
    ws.write(
        "client-configs/client-a/mcp-servers.json",
        r#"{"client_id": "client-x", "client_name": "A", "mcp_servers": [
            {"name": "Wiki", "type": "shared", "url": "https://a.example/mcp"},
            {"name": "wiki!", "type": "shared", "url": "https://b.example/mcp"}]}"#,
    );
    let errs = load(&ws, "client-a").unwrap_err().join("\n");
    assert!(
        errs.contains("`client_id` is \"client-x\" but the folder is `client-a`"),
        "{errs}"
    );
    assert!(
        errs.contains("both resolve to server `wiki-mcp` (variable WIKI_MCP_URL)"),
        "{errs}"
    );
}

#[test]
fn url_references_and_sse_for_deployed_servers_are_refused() {
    let ws = TempWorkspace::example();
    ws.write(
        "client-configs/client-a/mcp-servers.json",
        r#"{"client_id": "client-a", "client_name": "A", "mcp_servers": [
            {"name": "Wiki", "type": "shared", "url": "https://${HOST}/mcp"},
            {"name": "Custom CRM", "type": "client-specific", "transport": "sse"}]}"#,
    );
    let errs = load(&ws, "client-a").unwrap_err().join("\n");
    assert!(
        errs.contains("mcp_servers[0].url: \"https://${HOST}/mcp\" contains a `${…}`"),
        "{errs}"
    );
    assert!(
        errs.contains("`sse` is accepted only for external `url` entries"),
        "{errs}"
    );
}

#[test]
fn platform_names_are_checked_against_the_63_character_limit() {
    let ws = TempWorkspace::example();
    let long = "a".repeat(30);
    std::fs::rename(
        ws.path().join("custom-mcp-servers/clients/client-a"),
        ws.path().join(format!("custom-mcp-servers/clients/{long}")),
    )
    .unwrap();
    std::fs::rename(
        ws.path()
            .join(format!("custom-mcp-servers/clients/{long}/custom-crm-mcp")),
        ws.path().join(format!(
            "custom-mcp-servers/clients/{long}/custom-crm-with-a-very-long-name-mcp"
        )),
    )
    .unwrap();
    ws.write(
        &format!("client-configs/{long}/mcp-servers.json"),
        &format!(r#"{{"client_id": "{long}", "client_name": "Long", "mcp_servers": [{{"name": "Custom CRM with a very long name", "type": "client-specific"}}]}}"#),
    );
    let run = ws.run(&["validate", &long]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("platforms allow at most 63"), "{run:?}");
}
