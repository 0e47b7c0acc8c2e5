mod common;

use common::*;
use serde_json::json;

#[test]
fn request_log_and_golden_lines() {
    let emu = quick();
    let c = Client::new(&emu);
    create_app(&c, "app-g");
    let m = create_machine(&c, "app-g", "web");
    let id = m["id"].as_str().unwrap().to_string();
    let r = c.post(
        &format!("/v1/apps/app-g/machines/{id}/lease"),
        &json!({"ttl": 30}),
    );
    let nonce = r.json()["data"]["nonce"].as_str().unwrap().to_string();
    c.with_nonce(
        "DELETE",
        &format!("/v1/apps/app-g/machines/{id}/lease"),
        &nonce,
        None,
    );
    c.get("/v1/apps/app-g/machines?metadata.mcp-client=acme");

    let log = emu.requests();
    assert_eq!(log.len(), 5);
    assert_eq!(log[0].method, "POST");
    assert_eq!(log[0].path, "/v1/apps");
    assert_eq!(log[0].status, Some(201));
    assert_eq!(log[0].json.as_ref().unwrap()["name"], "app-g");
    assert!(log[0].body.as_ref().unwrap().contains("\"org_slug\""));
    assert_eq!(log[1].action.as_deref(), Some("create_machine"));
    assert_eq!(log[4].query.as_deref(), Some("metadata.mcp-client=acme"));
    let nonce_header = log[3]
        .headers
        .iter()
        .find(|(k, _)| k == "fly-machine-lease-nonce")
        .unwrap();
    assert_eq!(nonce_header.1, "<redacted>");

    let lines = emu.golden_lines();
    assert_eq!(
        lines,
        vec![
            "POST /v1/apps -> 201".to_string(),
            "POST /v1/apps/app-g/machines -> 200".to_string(),
            "POST /v1/apps/app-g/machines/<machine-1>/lease -> 201".to_string(),
            "DELETE /v1/apps/app-g/machines/<machine-1>/lease -> 200".to_string(),
            "GET /v1/apps/app-g/machines?metadata.mcp-client=acme -> 200".to_string(),
        ]
    );
    let with_bodies = emu.golden_lines_with_bodies();
    assert!(
        with_bodies[2].ends_with("{\"ttl\":30}"),
        "{}",
        with_bodies[2]
    );
    assert!(emu.normalize_ids(&nonce).starts_with("<nonce-"));

    let golden = emu.snapshot_golden();
    assert!(
        golden.contains("<machine-1>") && !golden.contains(&id),
        "{golden}"
    );
    let counters = emu.counters();
    assert_eq!(counters.requests, 5);
    assert_eq!(counters.mutations, 4);
    assert_eq!(counters.by_action["create_machine"], 1);
    assert_eq!(emu.mutating_requests().len(), 4);
    emu.clear_requests();
    assert!(emu.requests().is_empty());
}

#[test]
fn works_from_async_code_and_shuts_down_on_drop() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let addr = rt.block_on(async {
        let emu = quick();
        let addr = emu.addr();
        let c = Client::new(&emu);
        // A blocking call from inside async code, as a quick smoke test.
        let r = tokio::task::spawn_blocking(move || c.get("/v1/apps?org_slug=personal").status)
            .await
            .unwrap();
        assert_eq!(r, 200);
        addr
    });
    // Dropped: the port no longer answers.
    std::thread::sleep(std::time::Duration::from_millis(50));
    let c = Client { addr, auth: None };
    assert!(c.try_send("GET", "/v1/apps", &[], None).is_err());
}
