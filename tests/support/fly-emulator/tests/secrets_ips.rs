mod common;

use common::*;
use fly_emulator::EmulatorHandle;
use serde_json::json;

#[test]
fn secrets_versions_digests_and_min_secrets_version() {
    let emu = quick();
    let c = Client::new(&emu);
    create_app(&c, "app-sec");
    let r = c.get("/v1/apps/app-sec/secrets");
    assert_eq!(r.json(), json!({"secrets": []}));

    let r = c.post(
        "/v1/apps/app-sec/secrets",
        &json!({"values": {"API_TOKEN": "s3cret", "OTHER": "x"}}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let body = r.json();
    assert_eq!(body["version"], 1);
    assert_eq!(body["secrets"].as_array().unwrap().len(), 2);
    assert!(!r.body.contains("s3cret"), "values are never returned");
    let listed = c.get("/v1/apps/app-sec/secrets").json();
    let tok = listed["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "API_TOKEN")
        .unwrap()
        .clone();
    for k in ["name", "digest", "created_at", "updated_at"] {
        assert!(tok.get(k).is_some(), "secret lacks {k}");
    }
    assert!(tok.get("value").is_none());
    assert_eq!(tok["digest"], EmulatorHandle::secret_digest("s3cret"));

    // Machine created at version 1.
    let r = c.post(
        "/v1/apps/app-sec/machines",
        &json!({"name": "w", "config": minimal_config(), "min_secrets_version": 1}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let id = r.json()["id"].as_str().unwrap().to_string();
    // Asking for a version that does not exist yet fails (notes l.128-130).
    let r = c.post(
        "/v1/apps/app-sec/machines",
        &json!({"name": "w2", "config": minimal_config(), "min_secrets_version": 2}),
    );
    assert_eq!(r.status, 412, "{}", r.body);

    // Unset one, set another: version 2; the machine is now stale.
    let r = c.post(
        "/v1/apps/app-sec/secrets",
        &json!({"values": {"OTHER": null, "API_TOKEN": "rotated"}}),
    );
    assert_eq!(r.json()["version"], 2);
    let snap = emu.snapshot();
    let app = snap.app("app-sec").unwrap();
    assert_eq!(app.secrets_version, 2);
    assert_eq!(app.secrets.len(), 1);
    assert_eq!(
        app.secrets[0].digest,
        EmulatorHandle::secret_digest("rotated")
    );
    assert_eq!(app.secrets[0].version, 2);
    let m = app.machine("w").unwrap();
    assert_eq!(m.booted_secrets_version, Some(1));
    assert!(m.stale_secrets);

    // Update with min_secrets_version 2 → boots with the new secrets.
    let r = c.post(
        &format!("/v1/apps/app-sec/machines/{id}"),
        &json!({"config": minimal_config(), "min_secrets_version": 2}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = c.post(
        &format!("/v1/apps/app-sec/machines/{id}"),
        &json!({"config": minimal_config(), "min_secrets_version": 3}),
    );
    assert_eq!(r.status, 412);
    let snap = emu.snapshot();
    let m = snap.app("app-sec").unwrap().machine("w").unwrap();
    assert_eq!(m.booted_secrets_version, Some(2));
    assert!(!m.stale_secrets);

    // Single-secret endpoints (notes l.125-126).
    let r = c.post("/v1/apps/app-sec/secrets/NEW_ONE", &json!({"value": "v"}));
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json()["version"], 3);
    assert_eq!(r.json()["name"], "NEW_ONE");
    assert_eq!(
        c.get("/v1/apps/app-sec/secrets/NEW_ONE").json()["digest"],
        EmulatorHandle::secret_digest("v")
    );
    let r = c.delete("/v1/apps/app-sec/secrets/NEW_ONE");
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({"version": 4}));
    assert_eq!(c.delete("/v1/apps/app-sec/secrets/NEW_ONE").status, 404);
    assert_eq!(c.get("/v1/apps/app-sec/secrets/NEW_ONE").status, 404);
    // A restart picks up current secrets.
    assert_eq!(wait_state(&c, "app-sec", &id, "started", None).status, 200);
    assert_eq!(
        c.post_empty(&format!("/v1/apps/app-sec/machines/{id}/restart"))
            .status,
        200
    );
    assert_eq!(
        emu.snapshot()
            .app("app-sec")
            .unwrap()
            .machine("w")
            .unwrap()
            .booted_secrets_version,
        Some(4)
    );

    // Bad input.
    assert_eq!(
        c.post("/v1/apps/app-sec/secrets", &json!({"values": {"N": 5}}))
            .status,
        400
    );
    assert_eq!(
        c.post(
            "/v1/apps/app-sec/secrets",
            &json!({"values": {"bad-name": "x"}})
        )
        .status,
        400
    );
    assert_eq!(
        c.get("/v1/apps/app-sec/secrets?show_secrets=true").status,
        400
    );
    assert_eq!(c.get("/v1/apps/app-sec/secrets?min_version=99").status, 412);
    assert_eq!(c.get("/v1/apps/app-sec/secrets?min_version=4").status, 200);
}

#[test]
fn ip_assignments() {
    let emu = quick();
    let c = Client::new(&emu);
    create_app(&c, "app-ip");
    assert_eq!(
        c.get("/v1/apps/app-ip/ip_assignments").json(),
        json!({"ips": []})
    );
    let r = c.post("/v1/apps/app-ip/ip_assignments", &json!({"type": "v6"}));
    assert_eq!(r.status, 200, "{}", r.body);
    let v6 = r.json()["ip"].as_str().unwrap().to_string();
    assert!(v6.contains(':'));
    let r = c.post(
        "/v1/apps/app-ip/ip_assignments",
        &json!({"type": "shared_v4", "region": "", "org_slug": "personal", "service_name": ""}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["shared"], true);
    assert_eq!(
        c.post(
            "/v1/apps/app-ip/ip_assignments",
            &json!({"type": "shared_v4"})
        )
        .status,
        422
    );
    assert_eq!(
        c.post("/v1/apps/app-ip/ip_assignments", &json!({"type": "v5"}))
            .status,
        400
    );
    assert_eq!(
        c.post(
            "/v1/apps/app-ip/ip_assignments",
            &json!({"type": "v6", "org_slug": "elsewhere"})
        )
        .status,
        400
    );

    let list = c.get("/v1/apps/app-ip/ip_assignments").json();
    let ips = list["ips"].as_array().unwrap();
    assert_eq!(ips.len(), 2);
    for k in ["ip", "region", "service_name", "shared", "created_at"] {
        assert!(ips[0].get(k).is_some(), "ip lacks {k}");
    }
    let snap = emu.snapshot();
    let kinds: Vec<&str> = snap.apps[0].ips.iter().map(|i| i.kind.as_str()).collect();
    assert_eq!(kinds, ["v6", "shared_v4"]);

    // Delete, percent-encoded IPv6 in the path.
    let encoded = v6.replace(':', "%3A");
    assert_eq!(
        c.delete(&format!("/v1/apps/app-ip/ip_assignments/{encoded}"))
            .status,
        200
    );
    assert_eq!(
        c.delete(&format!("/v1/apps/app-ip/ip_assignments/{v6}"))
            .status,
        404
    );
    assert_eq!(emu.snapshot().apps[0].ips.len(), 1);
}
