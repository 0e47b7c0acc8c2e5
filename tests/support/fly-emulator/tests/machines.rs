mod common;

use common::*;
use serde_json::json;

#[test]
fn machine_lifecycle() {
    let emu = quick();
    let c = Client::new(&emu);
    create_app(&c, "app-m");
    let m = create_machine(&c, "app-m", "web");
    let id = m["id"].as_str().unwrap().to_string();
    let v1 = m["instance_id"].as_str().unwrap().to_string();
    assert_eq!(m["state"], "created");
    assert_eq!(m["region"], "iad");
    assert_eq!(m["config"]["image"], "flyio/mcp:latest");
    for key in [
        "id",
        "name",
        "state",
        "region",
        "instance_id",
        "private_ip",
        "config",
        "image_ref",
        "checks",
        "events",
        "host_status",
        "created_at",
        "updated_at",
    ] {
        assert!(m.get(key).is_some(), "machine lacks {key}");
    }
    assert!(m.get("nonce").is_none());

    assert_eq!(wait_state(&c, "app-m", &id, "started", None).status, 200);
    let got = c.get(&format!("/v1/apps/app-m/machines/{id}"));
    assert_eq!(got.json()["state"], "started");
    assert_eq!(c.get("/v1/apps/app-m").json()["status"], "deployed");

    // Update: full config, new version, reboot.
    let mut cfg = minimal_config();
    cfg["env"] = json!({"LOG_LEVEL": "debug"});
    let r = c.post(
        &format!("/v1/apps/app-m/machines/{id}"),
        &json!({"config": cfg, "current_version": v1}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v2 = r.json()["instance_id"].as_str().unwrap().to_string();
    assert_ne!(v1, v2);
    assert_eq!(r.json()["state"], "replacing");
    assert_eq!(
        wait_state(&c, "app-m", &id, "started", Some(&v2)).status,
        200
    );

    // Stale current_version → 412; name and region are immutable.
    let r = c.post(
        &format!("/v1/apps/app-m/machines/{id}"),
        &json!({"config": minimal_config(), "current_version": v1}),
    );
    assert_eq!(r.status, 412, "{}", r.body);
    let r = c.post(
        &format!("/v1/apps/app-m/machines/{id}"),
        &json!({"config": minimal_config(), "region": "ams"}),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    let r = c.post(
        &format!("/v1/apps/app-m/machines/{id}"),
        &json!({"config": minimal_config(), "name": "web", "region": "iad"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v3 = r.json()["instance_id"].as_str().unwrap().to_string();

    // Stop / start / restart.
    assert_eq!(
        wait_state(&c, "app-m", &id, "started", Some(&v3)).status,
        200
    );
    assert_eq!(
        c.post_empty(&format!("/v1/apps/app-m/machines/{id}/stop"))
            .status,
        200
    );
    assert_eq!(
        wait_state(&c, "app-m", &id, "stopped", Some(&v3)).status,
        200
    );
    assert_eq!(
        c.post(&format!("/v1/apps/app-m/machines/{id}/start"), &json!({}))
            .status,
        200
    );
    assert_eq!(wait_state(&c, "app-m", &id, "started", None).status, 200);
    assert_eq!(
        c.post_empty(&format!(
            "/v1/apps/app-m/machines/{id}/restart?timeout=10s&signal=SIGTERM"
        ))
        .status,
        200
    );
    assert_eq!(wait_state(&c, "app-m", &id, "started", None).status, 200);
    assert_eq!(
        c.post(
            &format!("/v1/apps/app-m/machines/{id}/stop"),
            &json!({"signal": "SIGINT", "timeout": "30s"})
        )
        .status,
        200
    );

    // Start from `stopping` is refused; wait for `stopped` first.
    assert_eq!(
        c.post_empty(&format!("/v1/apps/app-m/machines/{id}/start"))
            .status,
        412
    );
    assert_eq!(
        wait_state(&c, "app-m", &id, "stopped", Some(&v3)).status,
        200
    );

    // Delete: force needed while running.
    assert_eq!(
        c.post_empty(&format!("/v1/apps/app-m/machines/{id}/start"))
            .status,
        200
    );
    let r = c.delete(&format!("/v1/apps/app-m/machines/{id}"));
    assert_eq!(r.status, 412, "{}", r.body);
    assert_eq!(
        c.delete(&format!("/v1/apps/app-m/machines/{id}?force=true"))
            .status,
        200
    );
    assert_eq!(wait_state(&c, "app-m", &id, "destroyed", None).status, 200);
    assert_eq!(
        c.get("/v1/apps/app-m/machines")
            .json()
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let all = c.get("/v1/apps/app-m/machines?include_deleted=true").json();
    assert_eq!(all[0]["state"], "destroyed");

    let snap = emu.snapshot();
    assert_eq!(snap.apps[0].machines.len(), 0);
    assert_eq!(snap.apps[0].destroyed_machines, 1);
}

#[test]
fn skip_launch_and_duplicate_names() {
    let emu = quick();
    let c = Client::new(&emu);
    create_app(&c, "app-s");
    let r = c.post(
        "/v1/apps/app-s/machines",
        &json!({"name": "w", "config": {"image": "nginx"}, "skip_launch": true}),
    );
    assert_eq!(r.status, 200);
    let id = r.json()["id"].as_str().unwrap().to_string();
    assert_eq!(r.json()["region"], "iad", "default region");
    emu.advance(30.0);
    assert_eq!(
        c.get(&format!("/v1/apps/app-s/machines/{id}")).json()["state"],
        "created"
    );
    // notes l.240: name still in use → 422
    let r = c.post(
        "/v1/apps/app-s/machines",
        &json!({"name": "w", "config": {"image": "nginx"}}),
    );
    assert_eq!(r.status, 422, "{}", r.body);
    let r = c.post(
        "/v1/apps/app-s/machines",
        &json!({"config": {"image": "nginx"}}),
    );
    assert_eq!(r.status, 200, "a name is generated when omitted");
    assert!(r.json()["name"].as_str().is_some_and(|n| !n.is_empty()));
}

#[test]
fn list_filters() {
    let emu = quick();
    let c = Client::new(&emu);
    create_app(&c, "app-l");
    let mk = |name: &str, region: &str, client: &str, role: &str| {
        let mut cfg = minimal_config();
        cfg["metadata"] = json!({"mcp-client": client, "role": role});
        let r = c.post(
            "/v1/apps/app-l/machines",
            &json!({"name": name, "region": region, "config": cfg, "skip_launch": true}),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["id"].as_str().unwrap().to_string()
    };
    let a = mk("a", "iad", "acme", "web");
    let _b = mk("b", "ams", "acme", "worker");
    let _c = mk("c", "iad", "beta", "web");
    let ids = |q: &str| -> Vec<String> {
        let r = c.get(&format!("/v1/apps/app-l/machines{q}"));
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(""), ["a", "b", "c"]);
    assert_eq!(ids("?metadata.mcp-client=acme"), ["a", "b"]);
    assert_eq!(ids("?metadata.mcp-client=acme&metadata.role=web"), ["a"]);
    assert_eq!(ids("?metadata.mcp-client=nobody"), Vec::<String>::new());
    assert_eq!(ids("?region=iad"), ["a", "c"]);
    assert_eq!(ids("?state=created"), ["a", "b", "c"]);
    assert_eq!(ids("?state=started,stopped"), Vec::<String>::new());
    let summary = c.get("/v1/apps/app-l/machines?summary=true").json();
    assert!(summary[0].get("config").is_none());
    assert!(
        c.get("/v1/apps/app-l/machines").json()[0]
            .get("config")
            .is_some()
    );
    assert_eq!(
        c.get("/v1/apps/app-l/machines?include_deleted=maybe")
            .status,
        400
    );
    assert_eq!(c.get("/v1/apps/app-l/machines?labels=x").status, 400);
    let _ = a;
}

#[test]
fn wait_semantics() {
    let emu = quick();
    let c = Client::new(&emu);
    create_app(&c, "app-w");
    let m = create_machine(&c, "app-w", "w");
    let id = m["id"].as_str().unwrap();
    let v = m["instance_id"].as_str().unwrap();
    // stopped needs a version (notes l.103)
    assert_eq!(
        c.get(&format!("/v1/apps/app-w/machines/{id}/wait?state=stopped"))
            .status,
        400
    );
    // timeout at most 60 s, whole seconds
    assert_eq!(
        c.get(&format!("/v1/apps/app-w/machines/{id}/wait?timeout=61"))
            .status,
        400
    );
    assert_eq!(
        c.get(&format!("/v1/apps/app-w/machines/{id}/wait?timeout=5s"))
            .status,
        400
    );
    assert_eq!(
        c.get(&format!("/v1/apps/app-w/machines/{id}/wait?state=running"))
            .status,
        400
    );
    // default state is started
    assert_eq!(
        c.get(&format!("/v1/apps/app-w/machines/{id}/wait")).status,
        200
    );
    // instance_id is a deprecated alias of version
    assert_eq!(
        c.get(&format!(
            "/v1/apps/app-w/machines/{id}/wait?state=started&instance_id={v}"
        ))
        .status,
        200
    );
    // 408 on timeout (virtual 2 s = 20 ms wall here)
    let t = std::time::Instant::now();
    let r = c.get(&format!(
        "/v1/apps/app-w/machines/{id}/wait?state=stopped&version={v}&timeout=2"
    ));
    assert_eq!(r.status, 408, "{}", r.body);
    assert!(
        t.elapsed() < std::time::Duration::from_secs(2),
        "time scale applies to wait"
    );
    assert_eq!(
        c.get(&format!("/v1/apps/app-w/machines/{id}/wait?state=settled"))
            .status,
        200
    );
    assert_eq!(c.get("/v1/apps/app-w/machines/nope/wait").status, 404);
}

#[test]
fn leases() {
    let emu = quick();
    let c = Client::new(&emu);
    create_app(&c, "app-x");
    let m = create_machine(&c, "app-x", "w");
    let id = m["id"].as_str().unwrap().to_string();
    let base = format!("/v1/apps/app-x/machines/{id}");

    assert_eq!(c.get(&format!("{base}/lease")).status, 404);
    let r = c.post(
        &format!("{base}/lease?ttl=30"),
        &json!({"ttl": 30, "description": "deploy"}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let body = r.json();
    assert_eq!(body["status"], "success");
    let nonce = body["data"]["nonce"].as_str().unwrap().to_string();
    for key in ["nonce", "expires_at", "owner", "description", "version"] {
        assert!(body["data"].get(key).is_some(), "lease data lacks {key}");
    }
    assert_eq!(body["data"]["version"], m["instance_id"]);
    assert!(body["data"]["expires_at"].as_i64().is_some());

    // Held: another acquire → 409; GET shows it.
    assert_eq!(
        c.post(&format!("{base}/lease"), &json!({"ttl": 30})).status,
        409
    );
    assert_eq!(
        c.get(&format!("{base}/lease")).json()["data"]["nonce"],
        nonce
    );

    // Update without (or with a wrong) nonce fails; with it succeeds.
    let upd = json!({"config": minimal_config()});
    assert_eq!(c.post(&base, &upd).status, 409);
    assert_eq!(c.with_nonce("POST", &base, "wrong", Some(&upd)).status, 409);
    assert_eq!(c.with_nonce("POST", &base, &nonce, Some(&upd)).status, 200);
    // Stop and metadata writes need it too.
    assert_eq!(c.post_empty(&format!("{base}/stop")).status, 409);
    assert_eq!(
        c.send(
            "PATCH",
            &format!("{base}/metadata"),
            &[],
            Some(&json!({"metadata": {"k": "v"}}))
        )
        .status,
        409
    );

    // Refresh with the nonce keeps the nonce.
    let r = c.with_nonce(
        "POST",
        &format!("{base}/lease"),
        &nonce,
        Some(&json!({"ttl": 60})),
    );
    assert_eq!(r.status, 201);
    assert_eq!(r.json()["data"]["nonce"], nonce);

    // Release needs the header.
    assert_eq!(c.delete(&format!("{base}/lease")).status, 400);
    assert_eq!(
        c.with_nonce("DELETE", &format!("{base}/lease"), "wrong", None)
            .status,
        409
    );
    assert_eq!(
        c.with_nonce("DELETE", &format!("{base}/lease"), &nonce, None)
            .status,
        200
    );
    assert_eq!(c.get(&format!("{base}/lease")).status, 404);
    assert_eq!(c.post(&base, &upd).status, 200, "no lease, no nonce needed");

    // TTL expiry (virtual time): release after expiry → 404 "lease not found" (notes l.234-235).
    let r = c.post(&format!("{base}/lease"), &json!({"ttl": 5}));
    let n2 = r.json()["data"]["nonce"].as_str().unwrap().to_string();
    emu.advance(6.0);
    assert_eq!(c.get(&format!("{base}/lease")).status, 404);
    assert_eq!(
        c.with_nonce("DELETE", &format!("{base}/lease"), &n2, None)
            .status,
        404
    );

    // Create with lease_ttl returns Machine.nonce (notes l.100).
    let r = c.post(
        "/v1/apps/app-x/machines",
        &json!({"name": "leased", "config": minimal_config(), "lease_ttl": 30}),
    );
    assert_eq!(r.status, 200);
    let n3 = r.json()["nonce"].as_str().unwrap().to_string();
    let id3 = r.json()["id"].as_str().unwrap().to_string();
    assert_eq!(
        c.post_empty(&format!("/v1/apps/app-x/machines/{id3}/stop"))
            .status,
        409
    );
    assert_eq!(
        c.with_nonce(
            "POST",
            &format!("/v1/apps/app-x/machines/{id3}/stop"),
            &n3,
            None
        )
        .status,
        200
    );

    // Nonces never appear in the log headers.
    assert!(emu.requests().iter().all(|e| {
        e.headers
            .iter()
            .all(|(k, v)| k != "fly-machine-lease-nonce" || v == "<redacted>")
    }));
}

#[test]
fn metadata_endpoints() {
    let emu = quick();
    let c = Client::new(&emu);
    create_app(&c, "app-md");
    let m = create_machine(&c, "app-md", "w");
    let id = m["id"].as_str().unwrap().to_string();
    let v = m["instance_id"].as_str().unwrap().to_string();
    let base = format!("/v1/apps/app-md/machines/{id}/metadata");
    assert_eq!(c.get(&base).json(), json!({"mcp-client": "acme"}));

    let r = c.send(
        "PATCH",
        &base,
        &[],
        Some(&json!({"metadata": {"fp": "abc", "mcp-client": null}, "machine_version": v})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(c.get(&base).json(), json!({"fp": "abc"}));
    let r = c.send(
        "PUT",
        &base,
        &[],
        Some(&json!({"metadata": {"fp": "", "x": "1"}})),
    );
    assert_eq!(r.status, 200);
    assert_eq!(c.get(&base).json(), json!({"x": "1"}));
    // values must be strings
    let r = c.send("PUT", &base, &[], Some(&json!({"metadata": {"n": 1}})));
    assert_eq!(r.status, 400);
    // stale machine_version → 412 (notes l.115)
    let r = c.send(
        "PUT",
        &base,
        &[],
        Some(&json!({"metadata": {"a": "b"}, "machine_version": "01STALE"})),
    );
    assert_eq!(r.status, 412);
    // single keys
    assert_eq!(
        c.post(&format!("{base}/role"), &json!({"value": "web"}))
            .status,
        204
    );
    assert_eq!(c.get(&format!("{base}/role")).json()["value"], "web");
    assert_eq!(c.delete(&format!("{base}/role")).status, 204);
    assert_eq!(c.get(&format!("{base}/role")).status, 404);
    // metadata lives in config.metadata and is what the list filter sees
    assert_eq!(
        c.get(&format!("/v1/apps/app-md/machines/{id}")).json()["config"]["metadata"],
        json!({"x": "1"})
    );
    assert_eq!(
        c.get("/v1/apps/app-md/machines?metadata.x=1")
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // metadata-in-config must be strings too
    let r = c.post(
        "/v1/apps/app-md/machines",
        &json!({"config": {"image": "x", "metadata": {"n": 1}}}),
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        emu.snapshot().apps[0].machines[0]
            .metadata
            .get("x")
            .map(String::as_str),
        Some("1")
    );
}

#[test]
fn suspend_cordon_and_include_leases() {
    let emu = quick();
    let c = Client::new(&emu);
    create_app(&c, "app-sc");
    let m = create_machine(&c, "app-sc", "w");
    let id = m["id"].as_str().unwrap().to_string();
    let base = format!("/v1/apps/app-sc/machines/{id}");
    assert_eq!(
        c.post_empty(&format!("{base}/suspend")).status,
        412,
        "not started yet"
    );
    assert_eq!(wait_state(&c, "app-sc", &id, "started", None).status, 200);
    assert_eq!(c.post_empty(&format!("{base}/cordon")).status, 200);
    assert_eq!(c.post_empty(&format!("{base}/uncordon")).status, 200);
    assert_eq!(c.post_empty(&format!("{base}/suspend")).status, 200);
    assert_eq!(wait_state(&c, "app-sc", &id, "suspended", None).status, 200);
    assert_eq!(c.post_empty(&format!("{base}/start")).status, 200);
    assert_eq!(wait_state(&c, "app-sc", &id, "started", None).status, 200);

    let r = c.post(
        &format!("{base}/lease"),
        &json!({"ttl": 30, "description": "deploy"}),
    );
    assert_eq!(r.status, 201);
    assert!(c.get(&base).json().get("lease").is_none());
    let with = c.get(&format!("{base}?include_leases=true")).json();
    assert_eq!(with["lease"]["description"], "deploy");
    let listed = c.get("/v1/apps/app-sc/machines?include_leases=true").json();
    assert_eq!(listed[0]["lease"]["owner"], with["lease"]["owner"]);
    let snap = emu.snapshot();
    let lease = snap.apps[0].machines[0].lease.as_ref().unwrap();
    assert_eq!(lease.description, "deploy");
    assert!(lease.expires_in > 0.0);
}
