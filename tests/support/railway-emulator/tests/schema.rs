//! The schema is loaded at run time from Railway's introspection JSON and validates.

mod common;

use railway_emulator::schema::{introspection_to_sdl, load_schema, schema_path};
use railway_emulator::{Config, Emulator, StartError};
use serde_json::json;

#[test]
fn the_reference_schema_loads_and_validates() {
    let schema = load_schema(&schema_path(None)).expect("schema");
    for name in [
        "Query",
        "Mutation",
        "Subscription",
        "ServiceCreateInput",
        "DeploymentStatus",
        "EnvironmentVariables",
        "Domain",
        "Node",
    ] {
        assert!(schema.types.contains_key(name), "{name}");
    }
    let q = schema.get_object("Query").unwrap();
    assert!(q.fields.contains_key("serviceInstance"));
    // Defaults survive the conversion.
    let input = schema
        .get_input_object("VariableCollectionUpsertInput")
        .unwrap();
    assert_eq!(
        input.fields["skipDeploys"]
            .default_value
            .as_ref()
            .unwrap()
            .to_string(),
        "false"
    );
    // Interfaces and their implementations.
    let sd = schema.get_object("ServiceDomain").unwrap();
    assert!(sd.implements_interfaces.iter().any(|i| i.name == "Domain"));
}

#[test]
fn conversion_handles_every_kind() {
    let introspection = json!({"data": {"__schema": {
    "queryType": {"name": "Query"}, "mutationType": null, "subscriptionType": null,
    "directives": [{"name": "oneOf", "locations": ["INPUT_OBJECT"], "args": []}],
    "types": [
        {"kind": "OBJECT", "name": "Query", "interfaces": [], "fields": [
            {"name": "thing", "args": [{"name": "in", "type": {"kind": "INPUT_OBJECT", "name": "In"}, "defaultValue": "{a: 1}"}],
             "type": {"kind": "NON_NULL", "ofType": {"kind": "INTERFACE", "name": "Named"}}, "isDeprecated": false},
            {"name": "old", "args": [], "type": {"kind": "SCALAR", "name": "JSON"}, "isDeprecated": true, "deprecationReason": "use \"thing\""},
            {"name": "u", "args": [], "type": {"kind": "LIST", "ofType": {"kind": "UNION", "name": "U"}}}]},
        {"kind": "INTERFACE", "name": "Named", "interfaces": [], "fields": [{"name": "name", "args": [], "type": {"kind": "SCALAR", "name": "String"}}]},
        {"kind": "OBJECT", "name": "A", "description": "An \"A\"\nwith lines", "interfaces": [{"name": "Named"}], "fields": [{"name": "name", "args": [], "type": {"kind": "SCALAR", "name": "String"}}]},
        {"kind": "UNION", "name": "U", "possibleTypes": [{"name": "A"}]},
        {"kind": "ENUM", "name": "E", "enumValues": [{"name": "X", "isDeprecated": false}, {"name": "Y", "isDeprecated": true, "deprecationReason": null}]},
        {"kind": "INPUT_OBJECT", "name": "In", "inputFields": [{"name": "a", "type": {"kind": "SCALAR", "name": "Int"}, "defaultValue": "1"}, {"name": "e", "type": {"kind": "ENUM", "name": "E"}, "defaultValue": "X"}]},
        {"kind": "SCALAR", "name": "JSON"},
        {"kind": "SCALAR", "name": "String"}
    ]}}});
    let sdl = introspection_to_sdl(&introspection).unwrap();
    let schema = apollo_compiler::Schema::parse_and_validate(sdl.clone(), "t.graphql")
        .unwrap_or_else(|e| panic!("{e}\n{sdl}"));
    assert!(
        schema.get_enum("E").unwrap().values["Y"]
            .directives
            .has("deprecated")
    );
    assert!(sdl.contains("directive @oneOf on INPUT_OBJECT"));
}

#[test]
fn a_missing_schema_is_a_clear_error() {
    let cfg = Config {
        schema_path: Some("/nonexistent/schema.json".into()),
        ..Config::default()
    };
    match Emulator::try_start(cfg) {
        Err(StartError::Schema(e)) => assert!(e.to_string().contains("SCALEWIZE_RAILWAY_SCHEMA")),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "current_thread")]
async fn usable_from_async_code() {
    let emu = Emulator::start(Config::default());
    let addr = emu.addr();
    let r = tokio::task::spawn_blocking(move || {
        common::post_raw(
            addr,
            &[("Authorization", "Bearer emulator-workspace-token")],
            &json!({"query": "{ projects { edges { node { id } } } }"}).to_string(),
        )
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(r.status, 200);
    drop(emu); // dropping inside a runtime must not panic
}
