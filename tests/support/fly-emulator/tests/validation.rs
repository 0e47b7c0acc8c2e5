mod common;

use common::*;
use fly_emulator::ProblemKind;
use serde_json::{Value, json};

fn create_with(c: &Client, app: &str, body: Value) -> common::Resp {
    c.post(&format!("/v1/apps/{app}/machines"), &body)
}

fn with_config(patch: impl FnOnce(&mut Value)) -> Value {
    let mut cfg = minimal_config();
    patch(&mut cfg);
    json!({"name": "m", "region": "iad", "config": cfg})
}

/// A 400 whose body names `path`.
fn assert_rejected(r: &common::Resp, path: &str) {
    assert_eq!(
        r.status, 400,
        "expected 400 naming {path}, got {}: {}",
        r.status, r.body
    );
    let body = r.json();
    assert!(
        body["error"].as_str().is_some_and(|e| e.contains(path))
            || body["details"]
                .as_array()
                .unwrap()
                .iter()
                .any(|d| d["path"] == path),
        "400 body does not name {path}: {}",
        r.body
    );
}

#[test]
fn flytoml_only_names_are_rejected_loudly_and_counted() {
    let emu = quick();
    let c = Client::new(&emu);
    create_app(&c, "app-v");
    let cases: Vec<(&str, Value)> = vec![
        (
            "config.services[0].auto_stop_machines",
            with_config(|c| c["services"][0]["auto_stop_machines"] = json!("stop")),
        ),
        (
            "config.services[0].auto_start_machines",
            with_config(|c| c["services"][0]["auto_start_machines"] = json!(true)),
        ),
        (
            "config.services[0].autostop",
            with_config(|c| c["services"][0]["autostop"] = json!(true)),
        ),
        (
            "config.services[0].force_https",
            with_config(|c| c["services"][0]["force_https"] = json!(true)),
        ),
        (
            "config.internal_port",
            with_config(|c| c["internal_port"] = json!(8080)),
        ),
        (
            "config.auto_stop_machines",
            with_config(|c| c["auto_stop_machines"] = json!("stop")),
        ),
        (
            "config.min_machines_running",
            with_config(|c| c["min_machines_running"] = json!(0)),
        ),
        (
            "config.http_service",
            with_config(|c| c["http_service"] = json!({"internal_port": 8080})),
        ),
        (
            "config.vm",
            with_config(|c| c["vm"] = json!([{"size": "shared-cpu-1x"}])),
        ),
        ("config.memory", with_config(|c| c["memory"] = json!("1gb"))),
        (
            "config.guest.memory",
            with_config(|c| c["guest"]["memory"] = json!("1gb")),
        ),
        (
            "config.primary_region",
            with_config(|c| c["primary_region"] = json!("iad")),
        ),
        (
            "config.kill_signal",
            with_config(|c| c["kill_signal"] = json!("SIGINT")),
        ),
        (
            "primary_region",
            json!({"primary_region": "iad", "config": {"image": "x"}}),
        ),
        ("image", json!({"image": "x", "config": {"image": "x"}})),
    ];
    for (path, body) in &cases {
        let r = create_with(&c, "app-v", body.clone());
        assert_rejected(&r, path);
    }
    // app_name on app create (notes l.39-41)
    let r = c.post(
        "/v1/apps",
        &json!({"app_name": "x-app", "org_slug": "personal"}),
    );
    assert_rejected(&r, "app_name");

    let rejections = emu.rejections();
    for (path, _) in &cases {
        assert!(
            rejections.iter().any(|r| r.location == *path),
            "no rejection recorded at {path}"
        );
    }
    let counters = emu.counters();
    assert!(counters.flytoml_or_legacy_names >= 13, "{counters:?}");
    assert_eq!(counters.invalid_requests, cases.len() as u64 + 1);
    let auto_stop = rejections
        .iter()
        .find(|r| r.location == "config.services[0].auto_stop_machines")
        .unwrap();
    assert_eq!(auto_stop.kind, ProblemKind::FlyTomlName);
    assert!(auto_stop.message.contains("autostop"));
    let autostop_bool = rejections
        .iter()
        .find(|r| r.location == "config.services[0].autostop")
        .unwrap();
    assert_eq!(autostop_bool.kind, ProblemKind::LegacyForm);
    // And the key helper sees them (that is what client tests assert on).
    let keys = emu.sent_json_keys();
    assert!(keys.contains("auto_stop_machines") && keys.contains("app_name"));
    assert!(
        emu.sent_json_key_paths()
            .contains("config.services[].auto_stop_machines")
    );
    // Nothing was created.
    assert!(emu.snapshot().apps[0].machines.is_empty());
}

#[test]
fn unknown_keys_everywhere_are_rejected() {
    let emu = quick();
    let c = Client::new(&emu);
    create_app(&c, "app-u");
    let id = create_machine(&c, "app-u", "w")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mp = format!("/v1/apps/app-u/machines/{id}");
    let cases: Vec<(&str, String, &str, Value)> = vec![
        (
            "POST",
            "/v1/apps".to_string(),
            "colour",
            json!({"name": "u-2", "org_slug": "personal", "colour": "red"}),
        ),
        (
            "POST",
            "/v1/apps/app-u/machines".to_string(),
            "skip_lunch",
            json!({"config": {"image": "x"}, "skip_lunch": true}),
        ),
        (
            "POST",
            "/v1/apps/app-u/machines".to_string(),
            "config.imagee",
            json!({"config": {"image": "x", "imagee": "y"}}),
        ),
        (
            "POST",
            "/v1/apps/app-u/machines".to_string(),
            "config.guest.ram",
            json!({"config": {"image": "x", "guest": {"ram": 1}}}),
        ),
        (
            "POST",
            "/v1/apps/app-u/machines".to_string(),
            "config.services[0].ports[0].tls",
            json!({"config": {"image": "x", "services": [{"protocol": "tcp", "internal_port": 80, "ports": [{"port": 443, "tls": true}]}]}}),
        ),
        (
            "POST",
            "/v1/apps/app-u/machines".to_string(),
            "config.checks.alive.every",
            json!({"config": {"image": "x", "checks": {"alive": {"type": "http", "every": "5s"}}}}),
        ),
        (
            "POST",
            "/v1/apps/app-u/machines".to_string(),
            "config.restart.retries",
            json!({"config": {"image": "x", "restart": {"policy": "always", "retries": 1}}}),
        ),
        (
            "POST",
            mp.clone(),
            "skip_secrets",
            json!({"config": {"image": "x"}, "skip_secrets": true}),
        ),
        (
            "POST",
            format!("{mp}/lease"),
            "owner",
            json!({"ttl": 5, "owner": "me"}),
        ),
        (
            "POST",
            format!("{mp}/stop"),
            "force",
            json!({"force": true}),
        ),
        ("POST", format!("{mp}/start"), "now", json!({"now": true})),
        (
            "POST",
            "/v1/apps/app-u/secrets".to_string(),
            "value",
            json!({"values": {}, "value": "x"}),
        ),
        (
            "POST",
            "/v1/apps/app-u/secrets/API_KEY".to_string(),
            "values",
            json!({"value": "x", "values": {}}),
        ),
        (
            "POST",
            "/v1/apps/app-u/ip_assignments".to_string(),
            "kind",
            json!({"type": "v6", "kind": "v6"}),
        ),
        ("PATCH", format!("{mp}/metadata"), "fp", json!({"fp": "x"})),
    ];
    for (method, path, key, body) in &cases {
        let r = c.send(method, path, &[], Some(body));
        assert_rejected(&r, key);
    }
}

#[test]
fn values_and_types_are_checked() {
    let emu = quick();
    let c = Client::new(&emu);
    create_app(&c, "app-t");
    let cases: Vec<(&str, Value)> = vec![
        (
            "config.services[0].autostop",
            with_config(|c| c["services"][0]["autostop"] = json!("sometimes")),
        ),
        (
            "config.guest.memory_mb",
            with_config(|c| c["guest"]["memory_mb"] = json!(1000)),
        ),
        (
            "config.guest.memory_mb",
            with_config(|c| c["guest"]["memory_mb"] = json!("1024")),
        ),
        (
            "config.guest.cpu_kind",
            with_config(|c| c["guest"]["cpu_kind"] = json!("dedicated")),
        ),
        (
            "config.size",
            with_config(|c| c["size"] = json!("shared-cpu-1x")),
        ),
        (
            "config.services[0].protocol",
            with_config(|c| c["services"][0]["protocol"] = json!("http")),
        ),
        (
            "config.services[0].ports[0].handlers[0]",
            with_config(|c| c["services"][0]["ports"][0]["handlers"] = json!(["https"])),
        ),
        (
            "config.services[0].ports[0].port",
            with_config(|c| c["services"][0]["ports"][0]["port"] = json!(70000)),
        ),
        (
            "config.services[0].internal_port",
            with_config(|c| {
                c["services"][0]
                    .as_object_mut()
                    .unwrap()
                    .remove("internal_port")
                    .map(|_| ())
                    .unwrap()
            }),
        ),
        (
            "config.services[0].concurrency.type",
            with_config(|c| c["services"][0]["concurrency"] = json!({"type": "sessions"})),
        ),
        (
            "config.restart.policy",
            with_config(|c| c["restart"] = json!({"policy": "unless-stopped"})),
        ),
        (
            "config.checks.alive.interval",
            with_config(|c| {
                c["checks"] =
                    json!({"alive": {"type": "http", "port": 8080, "interval": 15000000000u64}})
            }),
        ),
        (
            "config.checks.alive.timeout",
            with_config(|c| {
                c["checks"] =
                    json!({"alive": {"type": "tcp", "port": 8080, "timeout": "5 seconds"}})
            }),
        ),
        (
            "config.checks.alive.type",
            with_config(|c| c["checks"] = json!({"alive": {"type": "grpc"}})),
        ),
        (
            "config.env.PORT",
            with_config(|c| c["env"] = json!({"PORT": 8080})),
        ),
        (
            "config.metadata.n",
            with_config(|c| c["metadata"] = json!({"n": true})),
        ),
        ("config.image", json!({"config": {"guest": {"cpus": 1}}})),
        ("config", json!({"region": "iad"})),
        (
            "lease_ttl",
            json!({"config": {"image": "x"}, "lease_ttl": "30"}),
        ),
        (
            "min_secrets_version",
            json!({"config": {"image": "x"}, "min_secrets_version": -1}),
        ),
    ];
    for (path, body) in &cases {
        let r = create_with(&c, "app-t", body.clone());
        assert_rejected(&r, path);
    }
    // Valid variations pass.
    let ok: Vec<Value> = vec![
        with_config(|c| {
            c.as_object_mut().unwrap().remove("guest");
            c["size"] = json!("shared-cpu-1x");
        }),
        with_config(
            |c| c["checks"] = json!({"alive": {"type": "http", "port": 8080, "interval": "15s", "timeout": "2s", "grace_period": "1m30s", "method": "GET", "path": "/health", "protocol": "http", "headers": [{"name": "X", "values": ["1"]}]}}),
        ),
        with_config(|c| c["restart"] = json!({"policy": "on-failure", "max_retries": 3})),
        with_config(|c| c["services"][0]["autostop"] = json!("suspend")),
        with_config(|c| {
            c["services"][0]["concurrency"] =
                json!({"type": "requests", "soft_limit": 20, "hard_limit": 25})
        }),
        with_config(|c| {
            c["files"] = json!([{"guest_path": "/app/librechat.yaml", "raw_value": "YQ=="}])
        }),
        with_config(|c| c["stop_config"] = json!({"signal": "SIGTERM", "timeout": "30s"})),
    ];
    for (i, body) in ok.into_iter().enumerate() {
        let mut body = body;
        body["name"] = json!(format!("ok-{i}"));
        let r = create_with(&c, "app-t", body);
        assert_eq!(r.status, 200, "variation {i}: {}", r.body);
    }
    // A file needs exactly one of raw_value / secret_name.
    let r = create_with(
        &c,
        "app-t",
        with_config(|c| c["files"] = json!([{"guest_path": "/a"}])),
    );
    assert_eq!(r.status, 400);
    // Malformed JSON.
    let r = c.send(
        "POST",
        "/v1/apps/app-t/machines",
        &[("Content-Type", "application/json")],
        None,
    );
    assert_eq!(r.status, 400, "a create needs a body");
}

#[test]
fn sent_keys_helper_sees_every_key() {
    let emu = quick();
    let c = Client::new(&emu);
    create_app(&c, "app-k");
    create_machine(&c, "app-k", "w");
    let keys = emu.sent_json_keys();
    for k in [
        "name",
        "org_slug",
        "config",
        "image",
        "services",
        "autostop",
        "autostart",
        "internal_port",
        "handlers",
        "mcp-client",
    ] {
        assert!(keys.contains(k), "missing {k} in {keys:?}");
    }
    assert!(!keys.contains("auto_stop_machines"));
    let paths = emu.sent_json_key_paths();
    assert!(
        paths.contains("config.services[].ports[].force_https"),
        "{paths:?}"
    );
}
