use super::*;
use crate::model::ServiceSpec;
use crate::secrets::Secret;
use crate::workspace::{PlatformName, Size};
use serde_json::json;
use std::collections::BTreeSet;

fn spec(kind: ServiceKind) -> ResolvedSpec {
    let s = ServiceSpec {
        key: ServiceKey {
            owner: "client-c".into(),
            service: "servicedesk-mcp".into(),
            user: Some("alice".into()),
        },
        kind,
        platform: PlatformName::Fly,
        clients: BTreeSet::new(),
        image: Some("ghcr.io/x/y:1".into()),
        repo: None,
        local: None,
        port: 8080,
        path: "/mcp".into(),
        health_path: "/health".into(),
        region: Some("iad".into()),
        size: Size {
            cpus: 1,
            memory_mb: 256,
        },
        env: BTreeMap::new(),
        files: BTreeMap::from([("/app/librechat.yaml".into(), "a: 1\n".into())]),
        depends_on: BTreeSet::new(),
        usage: None,
    };
    ResolvedSpec {
        spec: s,
        env: BTreeMap::from([
            ("A".to_string(), Resolved::Plain("1".into())),
            ("DOMAIN".to_string(), Resolved::OwnUrl),
            (
                "Tok".to_string(),
                Resolved::Secret {
                    value: Secret::new("very-secret-value".to_string()),
                    fingerprint: "hmac-sha256:abc".into(),
                },
            ),
        ]),
        fields: Fields::new(),
    }
}

#[test]
fn config_uses_api_names_and_no_secret_values() {
    let cfg = build_config("sw-app", &spec(ServiceKind::Mcp));
    let json = serde_json::to_value(&cfg).unwrap();
    let text = json.to_string();
    assert!(!text.contains("very-secret-value"));
    assert!(!text.contains("auto_stop_machines") && !text.contains("auto_start_machines"));
    assert_eq!(json["services"][0]["autostop"], "stop");
    assert_eq!(json["services"][0]["autostart"], true);
    assert_eq!(json["services"][0]["ports"][1]["handlers"][0], "tls");
    assert_eq!(json["checks"]["health"]["type"], "http");
    assert_eq!(json["checks"]["health"]["interval"], "15s");
    assert_eq!(json["guest"]["cpu_kind"], "shared");
    assert_eq!(json["restart"]["policy"], "on-failure");
    assert_eq!(json["env"]["DOMAIN"], "https://sw-app.fly.dev");
    assert_eq!(json["env"]["PORT"], "8080");
    assert_eq!(json["metadata"]["scalewize_fp_tok"], "hmac-sha256:abc");
    assert_eq!(json["metadata"]["scalewize_secrets"], "Tok");
    assert_eq!(json["metadata"]["scalewize_user"], "alice");
    let lc = serde_json::to_value(build_config("x", &spec(ServiceKind::LibreChat))).unwrap();
    assert_eq!(lc["services"][0]["autostop"], "off");
    assert_eq!(lc["services"][0]["min_machines_running"], 1);
}

#[test]
fn fields_read_back_from_a_machine() {
    let cfg = build_config("sw-app", &spec(ServiceKind::Mcp));
    let m = Machine {
        id: "m1".into(),
        state: "started".into(),
        region: "iad".into(),
        config: serde_json::to_value(&cfg).unwrap(),
        ..Machine::default()
    };
    let f = m.fields();
    assert_eq!(f["image"], "ghcr.io/x/y:1");
    assert_eq!(f["port"], "8080");
    assert_eq!(f["path"], "/mcp");
    assert_eq!(f["health_path"], "/health");
    assert_eq!(f["size"], "1 cpu, 256 MB");
    assert_eq!(f["env.A"], "1");
    assert_eq!(f["secret.Tok"], "hmac-sha256:abc");
    assert_eq!(f["file./app/librechat.yaml"], content_digest(b"a: 1\n"));
    assert_eq!(
        m.key().unwrap().global_name("sw"),
        "sw-client-c-servicedesk-mcp-alice"
    );
    assert!(m.autostops());
}

#[test]
fn an_idle_autostop_machine_is_updated_without_being_started() {
    let m: Machine = serde_json::from_value(json!({
        "id": "m1",
        "state": "stopped",
        "config": {"services": [{"autostop": "stop"}]}
    }))
    .unwrap();
    assert!(m.idle());
    let cfg = build_config("sw-a-x", &spec(ServiceKind::Mcp));
    let body = serde_json::to_value(UpdateRequest {
        config: &cfg,
        current_version: None,
        min_secrets_version: None,
        skip_launch: m.idle(),
    })
    .unwrap();
    assert_eq!(body["skip_launch"], true);
    let running: Machine =
        serde_json::from_value(json!({"id": "m2", "state": "started", "config": {}})).unwrap();
    assert!(!running.idle());
}

#[test]
fn only_our_own_passing_check_is_healthy() {
    let m = |checks: serde_json::Value| -> Machine {
        serde_json::from_value(json!({"id": "m", "state": "started", "checks": checks})).unwrap()
    };
    assert!(matches!(m(json!([])).health(), Health::Pending(_)));
    assert!(matches!(
        m(json!([{"name": "bg_deployments_http", "status": "passing"}])).health(),
        Health::Pending(_)
    ));
    assert_eq!(
        m(json!([{"name": "health", "status": "passing"}])).health(),
        Health::Passing
    );
    assert!(matches!(
        m(json!([{"name": "health", "status": "critical", "output": "refused"}])).health(),
        Health::Critical(w) if w.contains("refused")
    ));
}
