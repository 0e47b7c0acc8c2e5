//! Tokens and what each may do (notes §1), and duplicate-name rules (notes §7.1).

mod common;

use common::*;
use railway_emulator::{
    Config, DEFAULT_ACCOUNT_TOKEN, DEFAULT_WORKSPACE_ID, Emulator, Plan, TokenConfig,
};
use serde_json::{Value, json};

const ME: &str = "query { me { workspaces { id name } } }";

#[test]
fn unknown_missing_and_double_tokens_are_not_authorized() {
    let emu = Emulator::start(Config::default());
    let q = "query { projects { edges { node { id } } } }";
    for headers in [
        vec![("Authorization", "Bearer nope")],
        vec![],
        vec![("Authorization", "emulator-workspace-token")],
        vec![("Project-Access-Token", "nope")],
        vec![
            ("Authorization", "Bearer emulator-workspace-token"),
            ("Project-Access-Token", "whatever"),
        ],
        // A workspace token in the project-token header is not a project token.
        vec![("Project-Access-Token", "emulator-workspace-token")],
    ] {
        let r = post(&emu, &headers, q, json!({})).unwrap();
        assert_eq!(r.status, 200, "{headers:?}");
        assert!(
            r.error().to_lowercase().contains("not authorized"),
            "{headers:?}: {}",
            r.text
        );
        assert_eq!(r.body["data"], Value::Null);
        assert!(r.body["errors"][0]["extensions"]["traceId"].is_string());
    }
    // Tokens never reach the log.
    for rec in emu.requests() {
        for (k, v) in &rec.headers {
            if k == "authorization" || k == "project-access-token" {
                assert_eq!(v, "<redacted>");
            }
        }
    }
}

#[test]
fn only_account_tokens_may_query_me() {
    let emu = Emulator::start(Config::default());
    let r = gql_as(&emu, DEFAULT_ACCOUNT_TOKEN, ME, json!({})).ok();
    assert_eq!(r.data()["me"]["workspaces"][0]["id"], DEFAULT_WORKSPACE_ID);
    let r = gql(&emu, ME, json!({}));
    assert_eq!(r.error(), "Not Authorized");
}

#[test]
fn workspace_tokens_see_only_their_workspace() {
    let cfg = Config::default()
        .with_workspace("ws-b", "B", Plan::Hobby)
        .with_token(TokenConfig::workspace("tok-b", "ws-b", Plan::Hobby))
        .with_token(TokenConfig::account(
            "acct-2",
            &[DEFAULT_WORKSPACE_ID, "ws-b"],
            Plan::Pro,
        ));
    let emu = Emulator::start(cfg);
    let (pa, _) = create_project(&emu, "a");
    let r = gql_as(
        &emu,
        "tok-b",
        "query($id: String!) { project(id: $id) { id } }",
        json!({"id": pa}),
    );
    assert_eq!(r.error(), "Not Authorized");
    let r = gql_as(
        &emu,
        "tok-b",
        "query($w: String) { projects(workspaceId: $w) { edges { node { id } } } }",
        json!({"w": DEFAULT_WORKSPACE_ID}),
    );
    assert_eq!(r.error(), "Not Authorized");
    let r = gql_as(
        &emu,
        "tok-b",
        "query { projects { edges { node { id } } } }",
        json!({}),
    )
    .ok();
    assert_eq!(r.data()["projects"]["edges"], json!([]));
    // An account token over two workspaces must say where to create.
    let r = gql_as(
        &emu,
        "acct-2",
        CREATE_PROJECT,
        json!({"input": {"name": "x"}}),
    );
    assert!(r.error().contains("workspaceId"), "{}", r.text);
    let r = gql_as(
        &emu,
        "acct-2",
        CREATE_PROJECT,
        json!({"input": {"name": "x", "workspaceId": "ws-b"}}),
    )
    .ok();
    assert!(r.data()["projectCreate"]["id"].is_string());
    let r = gql_as(&emu, "acct-2", ME, json!({})).ok();
    assert_eq!(r.data()["me"]["workspaces"].as_array().unwrap().len(), 2);
}

#[test]
fn project_tokens_are_scoped_to_one_environment_of_one_project() {
    let emu = Emulator::start(Config::default());
    let (project, env) = create_project(&emu, "scoped");
    let (other, _) = create_project(&emu, "other");
    let staging = gql(&emu, "mutation($input: EnvironmentCreateInput!) { environmentCreate(input: $input) { id name } }",
        json!({"input": {"projectId": project, "name": "staging"}})).ok();
    let staging = staging.data()["environmentCreate"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = gql(
        &emu,
        "mutation($input: ProjectTokenCreateInput!) { projectTokenCreate(input: $input) }",
        json!({"input": {"projectId": project, "environmentId": env, "name": "ci"}}),
    )
    .ok();
    let token = r.data()["projectTokenCreate"].as_str().unwrap().to_string();

    // Introspect the token.
    let r = gql_project(
        &emu,
        &token,
        "query { projectToken { projectId environmentId } }",
        json!({}),
    )
    .ok();
    assert_eq!(
        r.data()["projectToken"],
        json!({"projectId": project, "environmentId": env})
    );
    // Bearer tokens are not project tokens.
    let r = gql(&emu, "query { projectToken { projectId } }", json!({}));
    assert!(r.error().to_lowercase().contains("project token not found"));

    // Allowed: its project, its environment, services in it.
    gql_project(
        &emu,
        &token,
        "query($id: String!) { project(id: $id) { name } }",
        json!({"id": project}),
    )
    .ok();
    gql_project(
        &emu,
        &token,
        "query($id: String!) { environment(id: $id) { name } }",
        json!({"id": env}),
    )
    .ok();
    let r = gql_project(
        &emu,
        &token,
        CREATE_SERVICE,
        json!({"input": {"projectId": project, "environmentId": env, "name": "svc"}}),
    )
    .ok();
    let svc = r.data()["serviceCreate"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    gql_project(&emu, &token, "mutation($input: VariableCollectionUpsertInput!) { variableCollectionUpsert(input: $input) }",
        json!({"input": {"projectId": project, "environmentId": env, "serviceId": svc, "variables": {"A": "1"}}})).ok();

    // Refused: creating projects, other projects, other environments, me, projects.
    let refused = [
        (CREATE_PROJECT, json!({"input": {"name": "nope"}})),
        (
            "query($id: String!) { project(id: $id) { name } }",
            json!({"id": other}),
        ),
        (
            "query($id: String!) { environment(id: $id) { name } }",
            json!({"id": staging}),
        ),
        (
            "mutation($input: VariableCollectionUpsertInput!) { variableCollectionUpsert(input: $input) }",
            json!({"input": {"projectId": project, "environmentId": staging, "serviceId": svc, "variables": {"A": "1"}}}),
        ),
        (
            "mutation($id: String!) { projectDelete(id: $id) }",
            json!({"id": project}),
        ),
        ("query { projects { edges { node { id } } } }", json!({})),
        (ME, json!({})),
        (
            "mutation($input: ProjectTokenCreateInput!) { projectTokenCreate(input: $input) }",
            json!({"input": {"projectId": project, "environmentId": env, "name": "x"}}),
        ),
    ];
    for (q, v) in refused {
        let r = gql_project(&emu, &token, q, v);
        assert_eq!(r.status, 200);
        assert_eq!(r.error(), "Not Authorized", "{q}: {}", r.text);
    }
    // It sees only its environment in lists.
    let r = gql_project(
        &emu,
        &token,
        "query($id: String!) { project(id: $id) { environments { edges { node { id } } } } }",
        json!({"id": project}),
    )
    .ok();
    assert_eq!(
        r.data()["project"]["environments"]["edges"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Deleting the project revokes its tokens.
    gql(
        &emu,
        "mutation($id: String!) { projectDelete(id: $id) }",
        json!({"id": project}),
    )
    .ok();
    let r = gql_project(
        &emu,
        &token,
        "query { projectToken { projectId } }",
        json!({}),
    );
    assert!(r.error().contains("Not Authorized"));
}

#[test]
fn duplicate_service_names_are_refused_and_duplicate_project_names_allowed() {
    let emu = Emulator::start(Config::default());
    let (p1, _) = create_project(&emu, "same");
    let (p2, _) = create_project(&emu, "same");
    assert_ne!(p1, p2);
    let r = gql(
        &emu,
        "query($w: String) { projects(workspaceId: $w) { edges { node { name } } } }",
        json!({"w": DEFAULT_WORKSPACE_ID}),
    )
    .ok();
    assert_eq!(r.data()["projects"]["edges"].as_array().unwrap().len(), 2);

    create_service(&emu, &p1, "docs", json!({}));
    let r = gql(
        &emu,
        CREATE_SERVICE,
        json!({"input": {"projectId": p1, "name": "docs"}}),
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        r.error(),
        "A service named \"docs\" already exists in this project"
    );
    assert_eq!(r.body["data"], Value::Null);
    // The same name in another project is fine.
    create_service(&emu, &p2, "docs", json!({}));
    // Renaming onto an existing name is refused too.
    let other = create_service(&emu, &p1, "other", json!({}));
    let r = gql(
        &emu,
        "mutation($id: String!, $input: ServiceUpdateInput!) { serviceUpdate(id: $id, input: $input) { name } }",
        json!({"id": other, "input": {"name": "docs"}}),
    );
    assert_eq!(
        r.error(),
        "A service named \"docs\" already exists in this project"
    );
    let snap = emu.snapshot();
    let names: Vec<_> = snap.projects.iter().map(|p| p.services.len()).collect();
    assert_eq!(names.iter().sum::<usize>(), 3);
}

#[test]
fn services_are_created_in_every_environment() {
    let emu = Emulator::start(Config::default());
    let (project, env) = create_project(&emu, "multi");
    gql(
        &emu,
        "mutation($input: EnvironmentCreateInput!) { environmentCreate(input: $input) { id } }",
        json!({"input": {"projectId": project, "name": "staging"}}),
    )
    .ok();
    let svc = create_service(
        &emu,
        &project,
        "web",
        json!({"environmentId": env, "variables": {"X": "1"}}),
    );
    let snap = emu.snapshot();
    let envs = &snap.projects[0].environments;
    assert_eq!(envs.len(), 2);
    for e in envs {
        assert_eq!(e.instances.len(), 1, "{}", e.name);
    }
    let prod = envs.iter().find(|e| e.name == "production").unwrap();
    let staging = envs.iter().find(|e| e.name == "staging").unwrap();
    assert_eq!(
        prod.instances[0].variables.get("X").map(String::as_str),
        Some("1")
    );
    assert!(staging.instances[0].variables.is_empty());
    let _ = svc;
}

/// notes §10: `me` refuses workspace tokens; `apiToken` answers both kinds; without
/// `workspaceId`, `projects` and `projectCreate` address the personal account, which a
/// workspace token cannot reach.
#[test]
fn a_workspace_token_names_its_workspace_through_api_token_only() {
    let emu = Emulator::start(Config::default());
    let q = "query { apiToken { workspaces { id name } } }";
    for token in [
        railway_emulator::DEFAULT_WORKSPACE_TOKEN,
        railway_emulator::DEFAULT_ACCOUNT_TOKEN,
    ] {
        let r = gql_as(&emu, token, q, json!({})).ok();
        assert_eq!(
            r.data()["apiToken"]["workspaces"][0]["id"],
            DEFAULT_WORKSPACE_ID
        );
    }
    let r = gql(&emu, ME, json!({}));
    assert_eq!(r.error(), "Not Authorized");
    let r = gql(&emu, CREATE_PROJECT, json!({"input": {"name": "p"}}));
    assert_eq!(r.error(), "Not Authorized", "{}", r.text);
    create_project(&emu, "p");
    let personal = gql(
        &emu,
        "query { projects { edges { node { id } } } }",
        json!({}),
    )
    .ok();
    assert_eq!(personal.data()["projects"]["edges"], json!([]));
}
