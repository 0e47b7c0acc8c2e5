//! Documents that Railway's schema rejects must be rejected with HTTP 400 and the right
//! `extensions.code`; each error carries a `traceId`.

mod common;

use common::*;
use railway_emulator::{Config, Emulator};
use serde_json::{Value, json};

/// `(what, document, variables, expected code)`.
fn bad_documents() -> Vec<(&'static str, &'static str, Value, &'static str)> {
    vec![
        (
            "syntax error",
            "query { project(id: \"x\") { id ",
            json!({}),
            "GRAPHQL_PARSE_FAILED",
        ),
        (
            "unbalanced parenthesis",
            "mutation { projectDelete(id: \"x\" }",
            json!({}),
            "GRAPHQL_PARSE_FAILED",
        ),
        (
            "unknown root field",
            "query { projekt(id: \"x\") { id } }",
            json!({}),
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (
            "unknown field on object",
            "query { project(id: \"x\") { id owner } }",
            json!({}),
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (
            "Variable type has no value field",
            "query { project(id: \"x\") { environments { edges { node { variables { edges { node { name value } } } } } } } }",
            json!({}),
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (
            "wrong argument type",
            "query { project(id: 42) { id } }",
            json!({}),
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (
            "missing required argument",
            "query { project { id } }",
            json!({}),
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (
            "unknown argument",
            "query { project(id: \"x\", name: \"y\") { id } }",
            json!({}),
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (
            "missing required input field (inline)",
            "mutation { variableCollectionUpsert(input: {projectId: \"p\", environmentId: \"e\"}) }",
            json!({}),
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (
            "unknown input field (inline)",
            "mutation { serviceCreate(input: {projectId: \"p\", rootDirectory: \"x\"}) { id } }",
            json!({}),
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (
            "not in DeploymentStatusInput (docs-only successfulOnly)",
            "query { deployments(input: {status: {successfulOnly: true}}) { edges { node { id } } } }",
            json!({}),
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (
            "unknown enum value",
            "mutation { serviceInstanceUpdate(serviceId: \"s\", input: {restartPolicyType: SOMETIMES}) }",
            json!({}),
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (
            "undefined variable",
            "query { project(id: $id) { id } }",
            json!({}),
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (
            "unused variable",
            "query($id: String!, $other: String) { project(id: $id) { id } }",
            json!({"id": "x"}),
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (
            "unknown type in variable definition",
            "mutation($input: ServiceCreateInputs!) { serviceCreate(input: $input) { id } }",
            json!({"input": {}}),
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (
            "variable of the wrong type for its position",
            "query($id: Int!) { project(id: $id) { id } }",
            json!({"id": 1}),
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (
            "selection on a scalar",
            "query { project(id: \"x\") { name { first } } }",
            json!({}),
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (
            "missing selection on an object",
            "query { project(id: \"x\") }",
            json!({}),
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (
            "selection on a Boolean mutation",
            "mutation { projectDelete(id: \"x\") { ok } }",
            json!({}),
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (
            "unknown fragment type",
            "query { project(id: \"x\") { ... on Projekt { id } } }",
            json!({}),
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (
            "undefined fragment",
            "query { project(id: \"x\") { ...F } }",
            json!({}),
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (
            "missing required variable",
            "query($id: String!) { project(id: $id) { id } }",
            json!({}),
            "BAD_USER_INPUT",
        ),
        (
            "variable of the wrong JSON type",
            "query($id: String!) { project(id: $id) { id } }",
            json!({"id": 5}),
            "BAD_USER_INPUT",
        ),
        (
            "null for a non-null variable",
            "query($id: String!) { project(id: $id) { id } }",
            json!({"id": null}),
            "BAD_USER_INPUT",
        ),
        (
            "unknown input field in variables",
            "mutation($input: ServiceCreateInput!) { serviceCreate(input: $input) { id } }",
            json!({"input": {"projectId": "p", "rootDirectory": "x"}}),
            "BAD_USER_INPUT",
        ),
        (
            "missing required input field in variables",
            "mutation($input: VariableCollectionUpsertInput!) { variableCollectionUpsert(input: $input) }",
            json!({"input": {"projectId": "p", "environmentId": "e"}}),
            "BAD_USER_INPUT",
        ),
        (
            "wrong type nested in variables",
            "mutation($sid: String!, $input: ServiceInstanceUpdateInput!) { serviceInstanceUpdate(serviceId: $sid, input: $input) }",
            json!({"sid": "s", "input": {"numReplicas": "two"}}),
            "BAD_USER_INPUT",
        ),
        (
            "bad enum in variables",
            "mutation($sid: String!, $input: ServiceInstanceUpdateInput!) { serviceInstanceUpdate(serviceId: $sid, input: $input) }",
            json!({"sid": "s", "input": {"restartPolicyType": "on_failure"}}),
            "BAD_USER_INPUT",
        ),
        (
            "EnvironmentVariables with a non-string value",
            "mutation($input: VariableCollectionUpsertInput!) { variableCollectionUpsert(input: $input) }",
            json!({"input": {"projectId": "p", "environmentId": "e", "variables": {"PORT": 8080}}}),
            "BAD_USER_INPUT",
        ),
        (
            "Int out of range",
            "mutation($input: ServiceDomainCreateInput!) { serviceDomainCreate(input: $input) { id } }",
            json!({"input": {"serviceId": "s", "environmentId": "e", "targetPort": 4294967296u64}}),
            "BAD_USER_INPUT",
        ),
    ]
}

#[test]
fn known_bad_documents_are_rejected_with_400_and_the_right_code() {
    let emu = Emulator::start(Config::default());
    let cases = bad_documents();
    assert!(cases.len() >= 10);
    let mut failures = vec![];
    for (what, doc, vars, code) in &cases {
        let r = gql(&emu, doc, vars.clone());
        let errors = r.body["errors"].as_array().cloned().unwrap_or_default();
        let ok = r.status == 400
            && !errors.is_empty()
            && errors.iter().all(|e| {
                e["extensions"]["code"] == *code && e["extensions"]["traceId"].is_string()
            })
            && r.body.get("data").is_none();
        if !ok {
            failures.push(format!(
                "{what}: expected 400 {code}, got {} {}",
                r.status, r.text
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Nothing was executed.
    assert!(emu.requests().iter().all(|r| !r.executed));
    assert!(emu.snapshot().projects.is_empty());
}

#[test]
fn a_valid_document_is_executed_with_200() {
    let emu = Emulator::start(Config::default());
    let r = gql(
        &emu,
        "query { projects { edges { node { id } } pageInfo { hasNextPage } } }",
        json!(null),
    )
    .ok();
    assert_eq!(r.data()["projects"]["edges"], json!([]));
    assert_eq!(r.header("content-type"), Some("application/json"));
}

#[test]
fn malformed_http_bodies_are_400() {
    let emu = Emulator::start(Config::default());
    let auth = [("Authorization", "Bearer emulator-workspace-token")];
    for body in [
        "not json",
        "[]",
        "{\"variables\":{}}",
        "{\"query\":\"query { me { id } }\",\"variables\":[1]}",
    ] {
        let r = post_raw(emu.addr(), &auth, body).unwrap();
        assert_eq!(r.status, 400, "{body}: {}", r.text);
        assert!(r.body["errors"][0]["extensions"]["traceId"].is_string());
    }
}

#[test]
fn operation_selection_follows_operation_name() {
    let emu = Emulator::start(Config::default());
    let doc = "query A { projects { edges { node { id } } } } query B { me { id } }";
    let auth = [("Authorization", "Bearer emulator-workspace-token")];
    let both = post_raw(emu.addr(), &auth, &json!({"query": doc}).to_string()).unwrap();
    assert_eq!(both.status, 400);
    let a = post_raw(
        emu.addr(),
        &auth,
        &json!({"query": doc, "operationName": "A"}).to_string(),
    )
    .unwrap();
    assert_eq!(a.status, 200);
    let c = post_raw(
        emu.addr(),
        &auth,
        &json!({"query": doc, "operationName": "C"}).to_string(),
    )
    .unwrap();
    assert_eq!(c.status, 400);
    let rec = &emu.requests()[1];
    assert_eq!(rec.operation_name.as_deref(), Some("A"));
    assert_eq!(rec.root_fields, vec!["projects"]);
}

#[test]
fn fields_the_emulator_does_not_implement_are_200_errors() {
    let emu = Emulator::start(Config::default());
    let r = gql(&emu, "query { regions { name } }", json!({}));
    assert_eq!(r.status, 200);
    assert_eq!(r.error(), "not implemented by the emulator: regions");
    assert!(r.body["errors"][0]["extensions"]["traceId"].is_string());
    assert_eq!(r.body["data"], Value::Null);
}

#[test]
fn introspection_works() {
    let emu = Emulator::start(Config::default());
    let r = gql(
        &emu,
        "{ __type(name: \"DeploymentStatus\") { enumValues { name } } }",
        json!({}),
    )
    .ok();
    let names: Vec<&str> = r.data()["__type"]["enumValues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"SUCCESS") && names.contains(&"NEEDS_APPROVAL"));
}

#[test]
#[ignore]
fn print_error_samples() {
    let emu = Emulator::start(Config::default());
    for (what, doc, vars, _) in bad_documents() {
        let r = gql(&emu, doc, vars);
        println!("{what}: {}", r.text);
    }
}

#[test]
fn response_data_keeps_selection_order() {
    let emu = Emulator::start(Config::default());
    let r = gql(
        &emu,
        "mutation($w: String) { projectCreate(input: {name: \"o\", workspaceId: $w}) { name id environments { edges { node { name id } } } } }",
        json!({"w": railway_emulator::DEFAULT_WORKSPACE_ID}),
    )
    .ok();
    let name = r.text.find("\"name\":\"o\"").unwrap();
    let id = r.text.find("\"id\"").unwrap();
    let envs = r.text.find("\"environments\"").unwrap();
    assert!(name < id && id < envs, "{}", r.text);
}
