//! Relay connections: first/after/last/before and pageInfo; projectUpdate.

mod common;

use common::*;
use railway_emulator::{Config, Emulator};
use serde_json::json;

const PAGE: &str = "query($p: String!, $first: Int, $after: String, $last: Int, $before: String) {
  project(id: $p) { services(first: $first, after: $after, last: $last, before: $before) {
    edges { cursor node { name } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } }";

fn names(r: &Resp) -> Vec<String> {
    r.data()["project"]["services"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn connections_paginate() {
    let emu = Emulator::start(Config::default());
    let (project, _) = create_project(&emu, "paged");
    for n in ["a", "b", "c", "d", "e"] {
        create_service(&emu, &project, n, json!({}));
    }
    let r = gql(&emu, PAGE, json!({"p": project, "first": 2})).ok();
    assert_eq!(names(&r), ["a", "b"]);
    let info = r.data()["project"]["services"]["pageInfo"].clone();
    assert_eq!(info["hasNextPage"], true);
    let r = gql(
        &emu,
        PAGE,
        json!({"p": project, "first": 2, "after": info["endCursor"]}),
    )
    .ok();
    assert_eq!(names(&r), ["c", "d"]);
    let end = r.data()["project"]["services"]["pageInfo"]["endCursor"].clone();
    let r = gql(&emu, PAGE, json!({"p": project, "first": 2, "after": end})).ok();
    assert_eq!(names(&r), ["e"]);
    assert_eq!(
        r.data()["project"]["services"]["pageInfo"]["hasNextPage"],
        false
    );
    let r = gql(&emu, PAGE, json!({"p": project, "last": 2})).ok();
    assert_eq!(names(&r), ["d", "e"]);
    assert_eq!(
        r.data()["project"]["services"]["pageInfo"]["hasPreviousPage"],
        true
    );
    let start = r.data()["project"]["services"]["pageInfo"]["startCursor"].clone();
    let r = gql(
        &emu,
        PAGE,
        json!({"p": project, "last": 1, "before": start}),
    )
    .ok();
    assert_eq!(names(&r), ["c"]);
    let r = gql(&emu, PAGE, json!({"p": project, "first": -1}));
    assert_eq!(r.status, 200);
    assert!(r.body["errors"].is_array());
}

#[test]
fn project_update_changes_name_and_description() {
    let emu = Emulator::start(Config::default());
    let (project, _) = create_project(&emu, "old");
    let r = gql(
        &emu,
        "mutation($id: String!, $input: ProjectUpdateInput!) { projectUpdate(id: $id, input: $input) { name description } }",
        json!({"id": project, "input": {"name": "new", "description": "scalewize:client-a"}}),
    )
    .ok();
    assert_eq!(
        r.data()["projectUpdate"],
        json!({"name": "new", "description": "scalewize:client-a"})
    );
}
