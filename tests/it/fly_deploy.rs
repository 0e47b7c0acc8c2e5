//! The real scalewize binary against the Fly emulator: per-user instances (one app per user,
//! each with only that user's secrets; removing a user removes exactly that app), no-op
//! redeploys with zero mutating requests, client-a end to end (shared server, client server,
//! LibreChat with its rendered file byte for byte), updates under a lease with
//! `min_secrets_version`, status, destroy (client, `--shared`, `--orphans`), and apps scalewize
//! does not own left alone.

use crate::common;
use crate::fly_support;

use std::collections::BTreeSet;

use base64::Engine;
use fly_emulator::EmulatorHandle;
use fly_support::*;
use serde_json::{Value, json};

const SECRETS: [&str; 4] = [
    "MCP_ACCESS_TOKEN",
    "SDP_CLIENT_ID",
    "SDP_CLIENT_SECRET",
    "SDP_REFRESH_TOKEN",
];

fn servicedesk(user: &str) -> String {
    format!("sw-client-c-servicedesk-mcp-{user}")
}

fn deploy(ws: &common::TempWorkspace, emu: &EmulatorHandle, client: &str) -> common::Run {
    let r = run(ws, emu, &["deploy", client, "--yes"]);
    assert_eq!(
        r.code,
        0,
        "{r:?}\nrequests:\n{}",
        emu.golden_lines().join("\n")
    );
    r
}

fn assert_no_mutations(emu: &EmulatorHandle, ws: &common::TempWorkspace, client: &str) {
    emu.clear_requests();
    let again = deploy(ws, emu, client);
    assert!(again.stdout.contains("No changes"), "{again:?}");
    assert_eq!(mutations(emu), Vec::<String>::new(), "a no-op deploy wrote");
}

#[test]
fn per_user_instances_each_hold_only_their_own_secrets() {
    let emu = emulator();
    let ws = workspace();
    let first = deploy(&ws, &emu, "client-c");
    for u in ["alice", "bob", "carol"] {
        assert!(
            first
                .stdout
                .contains(&format!("+ client-c/servicedesk-mcp@{u}")),
            "{first:?}"
        );
    }
    let expected: BTreeSet<String> = ["alice", "bob", "carol"]
        .iter()
        .map(|u| servicedesk(u))
        .chain(["sw-client-c-librechat".to_string()])
        .collect();
    assert_eq!(app_names(&emu), expected);

    let snap = emu.snapshot();
    let mut digests = BTreeSet::new();
    for user in ["alice", "bob", "carol"] {
        let app = snap.app(&servicedesk(user)).unwrap();
        let names: Vec<&str> = app.secrets.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, SECRETS, "{user}: only its own secrets");
        for s in &app.secrets {
            let store_name = if s.name == "MCP_ACCESS_TOKEN" {
                "SERVICEDESK_MCP_TOKEN"
            } else {
                s.name.as_str()
            };
            let value = store_value(&ws, "client-c", Some(user), store_name);
            assert_eq!(
                s.digest,
                EmulatorHandle::secret_digest(&value),
                "{user}: {} is the user's own value",
                s.name
            );
            assert!(
                digests.insert(s.digest.clone()),
                "a value shared between users"
            );
        }
        let mut ips: Vec<&str> = app.ips.iter().map(|i| i.kind.as_str()).collect();
        ips.sort();
        assert_eq!(ips, ["shared_v4", "v6"], "{user}");
        assert_eq!(app.machines.len(), 1, "{user}: one machine");
        let m = &app.machines[0];
        assert_eq!(m.name, servicedesk(user));
        assert_eq!(m.region, "iad");
        assert_eq!(m.state, "started");
        assert!(!m.stale_secrets && m.booted_secrets.len() == 4, "{m:?}");
        assert_eq!(m.metadata["scalewize_owner"], "client-c");
        assert_eq!(m.metadata["scalewize_service"], "servicedesk-mcp");
        assert_eq!(m.metadata["scalewize_user"], user);
        let cfg = &m.config;
        assert_eq!(
            cfg["image"],
            "ghcr.io/scalewize-example/servicedesk-mcp:0.1.0"
        );
        assert_eq!(
            cfg["env"]["MCP_SERVER_NAME"],
            format!("servicedesk-mcp-{user}")
        );
        assert_eq!(cfg["services"][0]["autostop"], "stop");
        assert_eq!(cfg["services"][0]["internal_port"], 8080);
        assert_eq!(cfg["checks"]["health"]["path"], "/health");
        assert_eq!(
            cfg["guest"],
            json!({"cpu_kind": "shared", "cpus": 1, "memory_mb": 256})
        );
        // Secret values only through the secrets API, never in the config.
        for s in SECRETS {
            assert!(cfg["env"].get(s).is_none(), "{s} in env");
        }
    }

    // The request sequence of a new service.
    let app = servicedesk("alice");
    let seq: Vec<String> = requests_for(&emu, &app)
        .iter()
        .map(|r| shape(r, &app))
        .collect();
    assert_eq!(
        seq,
        [
            "POST /v1/apps",
            "GET /v1/apps/{app}",
            "POST /v1/apps/{app}/secrets",
            "GET /v1/apps/{app}/ip_assignments",
            "POST /v1/apps/{app}/ip_assignments",
            "POST /v1/apps/{app}/ip_assignments",
            "POST /v1/apps/{app}/machines",
            "GET /v1/apps/{app}/machines/{id}/wait",
            "GET /v1/apps/{app}/machines/{id}",
        ],
        "{}",
        emu.golden_lines_with_bodies().join("\n")
    );
    let reqs = requests_for(&emu, &app);
    assert_eq!(
        reqs[0].json.as_ref().unwrap(),
        &json!({"name": app, "org_slug": ORG})
    );
    assert_eq!(reqs[0].query.as_deref(), Some("wait=true"));
    // flyctl sends the org with every assignment (notes §11).
    assert_eq!(
        reqs[4].json.as_ref().unwrap(),
        &json!({"type": "v6", "org_slug": ORG})
    );
    assert_eq!(
        reqs[5].json.as_ref().unwrap(),
        &json!({"type": "shared_v4", "org_slug": ORG})
    );
    let create = reqs[6].json.as_ref().unwrap();
    let version: u64 = serde_json::from_str::<Value>(reqs[2].response.as_deref().unwrap()).unwrap()
        ["version"]
        .as_u64()
        .unwrap();
    assert_eq!(
        create["min_secrets_version"], version,
        "boots with the secrets just set"
    );
    assert_eq!(create["region"], "iad");
    assert_eq!(create["name"], app);
    assert!(reqs[7].query.as_deref().unwrap().contains("state=started"));
    assert_api_names(&emu);
    assert!(emu.rate_violations().is_empty());

    // Nothing changed: zero mutating requests.
    assert_no_mutations(&emu, &ws, "client-c");

    // Remove bob: exactly his app goes.
    set_json(&ws, "client-configs/client-c/mcp-servers.json", |v| {
        let users = v["users"].as_array_mut().unwrap();
        users.retain(|u| u["id"] != "bob");
    });
    let r = ws.run(&["render", "client-c"]);
    assert_eq!(r.code, 0, "{r:?}");
    let before = emu.snapshot();
    emu.clear_requests();
    let removed = deploy(&ws, &emu, "client-c");
    assert!(
        removed.stdout.contains("- client-c/servicedesk-mcp@bob"),
        "{removed:?}"
    );
    assert_eq!(
        mutations(&emu),
        [
            "POST /v1/apps -> Some(201)".to_string(),
            "POST /v1/apps/sw-scalewize-lock/secrets -> Some(200)".to_string(),
            format!("DELETE /v1/apps/{} -> Some(202)", servicedesk("bob")),
            "DELETE /v1/apps/sw-scalewize-lock -> Some(202)".to_string(),
        ],
        "exactly that app is destroyed, under the platform lock (taken, then released)"
    );
    let after = emu.snapshot();
    assert!(after.app(&servicedesk("bob")).is_none());
    for user in ["alice", "carol"] {
        assert_eq!(
            after.app(&servicedesk(user)),
            before.app(&servicedesk(user)),
            "{user} is untouched"
        );
    }
    assert_no_mutations(&emu, &ws, "client-c");

    // Add bob back: exactly his app is created, with his own secrets again.
    set_json(&ws, "client-configs/client-c/mcp-servers.json", |v| {
        v["users"]
            .as_array_mut()
            .unwrap()
            .push(json!({"id": "bob", "name": "Bob Dispatch"}));
    });
    assert_eq!(ws.run(&["render", "client-c"]).code, 0);
    let before = emu.snapshot();
    emu.clear_requests();
    let added = deploy(&ws, &emu, "client-c");
    assert!(
        added.stdout.contains("+ client-c/servicedesk-mcp@bob")
            && added
                .stdout
                .contains("Plan: 1 to create, 0 to update, 0 to delete"),
        "{added:?}"
    );
    let bob = servicedesk("bob");
    // The platform lock's app aside (taken and released around every changing deploy).
    for r in emu
        .mutating_requests()
        .into_iter()
        .filter(|r| !r.path.starts_with("/v1/apps/sw-scalewize-lock"))
        .filter(|r| r.json.as_ref().and_then(|b| b["name"].as_str()) != Some("sw-scalewize-lock"))
    {
        let named = r.json.as_ref().and_then(|b| b["name"].as_str()) == Some(bob.as_str());
        assert!(
            r.path.starts_with(&format!("/v1/apps/{bob}")) || named,
            "{} {} is not about bob's app",
            r.method,
            r.path
        );
    }
    let after = emu.snapshot();
    let names: Vec<&str> = after
        .app(&bob)
        .unwrap()
        .secrets
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(names, SECRETS);
    for app in [servicedesk("alice"), servicedesk("carol")] {
        assert_eq!(after.app(&app), before.app(&app), "{app} is untouched");
    }
    // LibreChat's own URL is its Fly hostname.
    let lc = &after.app("sw-client-c-librechat").unwrap().machines[0].config;
    assert_eq!(
        lc["env"]["DOMAIN_CLIENT"],
        "https://sw-client-c-librechat.fly.dev"
    );
    assert_eq!(
        lc["env"]["DOMAIN_SERVER"],
        "https://sw-client-c-librechat.fly.dev"
    );
    assert_api_names(&emu);
}

#[test]
fn client_a_end_to_end() {
    let emu = emulator();
    let ws = workspace();
    let r = run(&ws, &emu, &["diff", "client-a", "--detailed-exitcode"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert_eq!(mutations(&emu), Vec::<String>::new(), "diff only reads");
    deploy(&ws, &emu, "client-a");
    check_golden("fly_first_deploy_client_a.txt", &golden_by_app(&emu));
    let kb = "sw-shared-knowledge-base-mcp";
    let crm = "sw-client-a-custom-crm-mcp";
    let lc = "sw-client-a-librechat";
    assert_eq!(
        app_names(&emu),
        [kb, crm, lc].iter().map(|s| s.to_string()).collect()
    );

    // LibreChat: the rendered librechat.yaml, byte for byte, as a machine file; the MCP URLs
    // its env points at are the services' Fly URLs; secrets only through the secrets API.
    let snap = emu.snapshot();
    let m = &snap.app(lc).unwrap().machines[0];
    let files = m.config["files"].as_array().unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0]["guest_path"], "/app/librechat.yaml");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(files[0]["raw_value"].as_str().unwrap())
        .unwrap();
    assert_eq!(
        bytes,
        std::fs::read(ws.path().join("client-configs/client-a/librechat.yaml")).unwrap()
    );
    let env = &m.config["env"];
    assert_eq!(
        env["CUSTOM_CRM_MCP_URL"],
        format!("https://{crm}.fly.dev/mcp")
    );
    assert_eq!(
        env["KNOWLEDGE_BASE_MCP_URL"],
        format!("https://{kb}.fly.dev/mcp")
    );
    assert_eq!(m.config["services"][0]["internal_port"], 3080);
    assert_eq!(m.config["services"][0]["autostop"], "off");
    assert_eq!(m.config["guest"]["memory_mb"], 1024);
    let lc_secrets: Vec<&str> = snap
        .app(lc)
        .unwrap()
        .secrets
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert!(
        lc_secrets.contains(&"CREDS_KEY") && lc_secrets.contains(&"MONGO_URI"),
        "{lc_secrets:?}"
    );
    for s in &lc_secrets {
        assert!(env.get(*s).is_none(), "{s} in env");
    }
    // The shared server carries the shared owner.
    assert_eq!(
        snap.app(kb).unwrap().machines[0].metadata["scalewize_owner"],
        "shared"
    );
    assert_no_mutations(&emu, &ws, "client-a");

    // status: every service live on Fly, with its URL (the MCP probe cannot reach *.fly.dev
    // from here, so status reports them unhealthy and exits 1).
    let status = run(&ws, &emu, &["status", "client-a", "--json"]);
    let v: Value =
        serde_json::from_str(&status.stdout).unwrap_or_else(|e| panic!("{e}: {status:?}"));
    let services = v["services"].as_array().unwrap();
    assert_eq!(services.len(), 3, "{v}");
    for s in services {
        assert_eq!(s["platform"], "fly", "{s}");
        assert_eq!(s["state"], "running", "{s}");
        // The machines are as scalewize configured them (their spec digest matches).
        assert!(s.get("detail").is_none(), "{s}");
    }
    let urls: BTreeSet<&str> = services.iter().filter_map(|s| s["url"].as_str()).collect();
    assert!(
        urls.contains(format!("https://{crm}.fly.dev/mcp").as_str()),
        "{urls:?}"
    );
    assert!(
        urls.contains(format!("https://{lc}.fly.dev").as_str()),
        "{urls:?}"
    );

    // A changed setting and a changed secret: an update under a lease, with the new secrets
    // version, and only the changed secret sent.
    set_json(&ws, "client-configs/client-a/mcp-servers.json", |v| {
        let crm = v["mcp_servers"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|s| s["name"] == "Custom CRM")
            .unwrap();
        crm["deploy"] = json!({"env": {"GHL_BASE_URL": "https://ghl.example"}});
    });
    assert_eq!(ws.run(&["render", "client-a"]).code, 0);
    let token_override = (
        "SCALEWIZE_SECRET_CLIENT_A__CUSTOM_CRM_MCP_TOKEN",
        "rotated-token-value-1234",
    );
    let diff = run_with(&ws, &emu, &["diff", "client-a"], &[token_override]);
    assert!(
        diff.stdout.contains("~ client-a/custom-crm-mcp"),
        "{diff:?}"
    );
    assert!(diff.stdout.contains("env.GHL_BASE_URL"), "{diff:?}");
    assert!(diff.stdout.contains("secret.MCP_ACCESS_TOKEN"), "{diff:?}");
    emu.clear_requests();
    let crm_before = emu.snapshot().app(crm).unwrap().machines[0].clone();
    let r = run_with(
        &ws,
        &emu,
        &["deploy", "client-a", "--yes"],
        &[token_override],
    );
    assert_eq!(r.code, 0, "{r:?}");
    check_golden("fly_update_client_a.txt", &golden_by_app(&emu));
    let reqs = requests_for(&emu, crm);
    let seq: Vec<String> = reqs.iter().map(|r| shape(r, crm)).collect();
    assert_eq!(
        seq,
        [
            // observe (with the metadata filter), again under the platform lock, then the
            // step's own look
            "GET /v1/apps/{app}/machines",
            "GET /v1/apps/{app}/machines",
            "GET /v1/apps/{app}/machines",
            "GET /v1/apps/{app}/secrets",
            "POST /v1/apps/{app}/secrets",
            "GET /v1/apps/{app}/ip_assignments",
            "POST /v1/apps/{app}/machines/{id}/lease",
            "POST /v1/apps/{app}/machines/{id}",
            "GET /v1/apps/{app}/machines/{id}/wait",
            "DELETE /v1/apps/{app}/machines/{id}/lease",
            "GET /v1/apps/{app}/machines/{id}",
        ],
        "{}",
        emu.golden_lines_with_bodies().join("\n")
    );
    assert_eq!(
        reqs[0].query.as_deref(),
        Some("metadata.scalewize_owner=client-a")
    );
    let set = reqs
        .iter()
        .find(|r| r.path.ends_with("/secrets") && r.method == "POST")
        .unwrap();
    assert_eq!(
        set.json.as_ref().unwrap()["values"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["MCP_ACCESS_TOKEN"],
        "only the changed secret"
    );
    let version =
        serde_json::from_str::<Value>(set.response.as_deref().unwrap()).unwrap()["version"]
            .as_u64()
            .unwrap();
    let lease = reqs
        .iter()
        .find(|r| r.path.ends_with("/lease") && r.method == "POST")
        .unwrap();
    assert_eq!(lease.status, Some(201));
    let update = reqs
        .iter()
        .find(|r| r.method == "POST" && r.path.ends_with(&format!("/machines/{}", crm_before.id)))
        .unwrap();
    assert!(
        update
            .headers
            .iter()
            .any(|(k, _)| k == "fly-machine-lease-nonce"),
        "the update carries the lease nonce"
    );
    let body = update.json.as_ref().unwrap();
    assert_eq!(body["min_secrets_version"], version);
    assert_eq!(body["current_version"], crm_before.instance_id);
    assert_eq!(body["config"]["env"]["GHL_BASE_URL"], "https://ghl.example");
    assert!(
        body["config"]["services"].is_array() && body["config"]["checks"].is_object(),
        "the full config"
    );
    let release = reqs
        .iter()
        .find(|r| r.path.ends_with("/lease") && r.method == "DELETE")
        .unwrap();
    assert_eq!(release.status, Some(200));
    let crm_after = emu.snapshot().app(crm).unwrap().machines[0].clone();
    assert!(crm_after.lease.is_none() && !crm_after.stale_secrets && crm_after.state == "started");
    assert_eq!(crm_after.id, crm_before.id, "updated in place");
    // The other services did not change.
    assert!(requests_for(&emu, kb).iter().all(|r| r.method == "GET"));
    assert_no_mutations_with(&emu, &ws, "client-a", &[token_override]);

    // destroy --shared is refused while a client enables the server.
    let refused = run(
        &ws,
        &emu,
        &["destroy", "--shared", "knowledge-base-mcp", "--yes"],
    );
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(refused.stderr.contains("client-a"), "{refused:?}");
    assert!(app_names(&emu).contains(kb));

    // destroy client-a: its own apps, and the Knowledge Base, whose last deployed user it was.
    emu.clear_requests();
    let r = run(&ws, &emu, &["destroy", "client-a", "--yes"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains(
            "shared/knowledge-base-mcp goes too: no other deployed client on fly uses it"
        ),
        "{r:?}"
    );
    let mut deleted = mutations(&emu);
    deleted.sort();
    assert_eq!(
        deleted,
        [
            format!("DELETE /v1/apps/{crm} -> Some(202)"),
            format!("DELETE /v1/apps/{lc} -> Some(202)"),
            // the platform lock: released, taken (sorted), its holder recorded
            "DELETE /v1/apps/sw-scalewize-lock -> Some(202)".to_string(),
            // the knowledge base goes with client-a, its last deployed user
            format!("DELETE /v1/apps/{kb} -> Some(202)"),
            "POST /v1/apps -> Some(201)".to_string(),
            "POST /v1/apps/sw-scalewize-lock/secrets -> Some(200)".to_string(),
        ]
    );
    assert!(app_names(&emu).is_empty());
    assert!(
        emu.requests()
            .iter()
            .filter(|r| r.method == "DELETE")
            .all(|r| r.query.as_deref() == Some("force=true"))
    );
    let r = run(&ws, &emu, &["destroy", "--orphans", "--yes"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_api_names(&emu);
    assert!(emu.rate_violations().is_empty());
}

fn assert_no_mutations_with(
    emu: &EmulatorHandle,
    ws: &common::TempWorkspace,
    client: &str,
    extra: &[(&str, &str)],
) {
    emu.clear_requests();
    let again = run_with(ws, emu, &["deploy", client, "--yes"], extra);
    assert_eq!(again.code, 0, "{again:?}");
    assert!(again.stdout.contains("No changes"), "{again:?}");
    assert_eq!(mutations(emu), Vec::<String>::new(), "a no-op deploy wrote");
}

/// Create an app with a machine through the API, as another tool would.
fn foreign_app(emu: &EmulatorHandle, app: &str, metadata: Value) {
    let (status, _) = api(
        emu,
        "POST",
        "/v1/apps",
        Some(json!({"name": app, "org_slug": ORG})),
    );
    assert_eq!(status, 201);
    let (status, body) = api(
        emu,
        "POST",
        &format!("/v1/apps/{app}/machines"),
        Some(
            json!({"name": "web", "region": "ams", "config": {"image": "nginx:1", "metadata": metadata}}),
        ),
    );
    assert_eq!(status, 200, "{body}");
}

#[test]
fn apps_scalewize_does_not_own_are_refused_and_left_alone() {
    // An app with our name but someone else's machine; one whose machine carries scalewize
    // metadata of another service (copied); and a name held by another organization.
    let crm = "sw-client-a-custom-crm-mcp";
    let hr = "sw-client-b-custom-hr-mcp";
    let kb = "sw-shared-knowledge-base-mcp";
    let emu = fly_emulator::Emulator::start(config().foreign_app(kb));
    let ws = workspace();
    foreign_app(&emu, crm, json!({"owner": "team-x"}));
    foreign_app(
        &emu,
        hr,
        json!({"scalewize_owner": "client-b", "scalewize_service": "custom-erp-mcp"}),
    );
    emu.advance(10.0); // their machines settle first
    let before = emu.snapshot();
    emu.clear_requests();

    let r = run(&ws, &emu, &["deploy", "client-a", "client-b", "--yes"]);
    assert_eq!(r.code, 1, "{r:?}");
    let all = r.all();
    assert!(
        all.contains(&format!("`{kb}` is taken by another organization")),
        "{r:?}"
    );
    assert!(all.contains("prefix"), "{r:?}");
    assert!(
        all.contains(&format!("`{crm}` exists but is not scalewize's")),
        "{r:?}"
    );
    assert!(
        all.contains(&format!("`{hr}` exists but is not scalewize's"))
            && all.contains("scalewize metadata of client-b/custom-erp-mcp"),
        "{r:?}"
    );
    // The rest deployed.
    assert!(app_names(&emu).contains("sw-client-b-custom-erp-mcp"));
    for app in [crm, hr] {
        assert_eq!(emu.snapshot().app(app), before.app(app), "{app} untouched");
        let writes: Vec<_> = requests_for(&emu, app)
            .into_iter()
            .filter(|r| r.method != "GET" && r.status.is_some_and(|s| s < 300))
            .map(|r| format!("{} {} -> {:?}", r.method, r.path, r.status))
            .collect();
        assert_eq!(writes, Vec::<String>::new(), "{app}");
    }
    // Observing never reports them, so nothing removes them.
    let status = run(&ws, &emu, &["status", "client-a", "--json"]);
    let v: Value = serde_json::from_str(&status.stdout).unwrap();
    assert!(
        v["services"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["state"] == "missing"),
        "{v}"
    );
    for args in [
        &["destroy", "client-a", "--yes"][..],
        &["destroy", "client-b", "--yes"],
        &["destroy", "--orphans", "--yes"],
    ] {
        let r = run(&ws, &emu, args);
        assert_eq!(r.code, 0, "{r:?}");
    }
    assert_eq!(
        app_names(&emu),
        [crm.to_string(), hr.to_string()].into(),
        "only scalewize's apps were removed"
    );
    for app in [crm, hr] {
        assert_eq!(emu.snapshot().app(app), before.app(app), "{app} untouched");
    }
    assert_api_names(&emu);
}

#[test]
fn credentials_org_and_region_are_checked_before_any_call() {
    let emu = emulator();
    let ws = workspace();
    let no_token = run_with(
        &ws,
        &emu,
        &["deploy", "client-b", "--yes"],
        &[("FLY_API_TOKEN", "")],
    );
    assert_eq!(no_token.code, 1, "{no_token:?}");
    assert!(no_token.stderr.contains("FLY_API_TOKEN"), "{no_token:?}");
    assert!(
        no_token.stderr.contains("fly tokens create org"),
        "{no_token:?}"
    );
    let no_org = run_with(&ws, &emu, &["diff", "client-b"], &[("FLY_ORG", "")]);
    assert_eq!(no_org.code, 1, "{no_org:?}");
    assert!(no_org.stderr.contains("FLY_ORG"), "{no_org:?}");
    set_json(&ws, "scalewize.json", |v| {
        v.as_object_mut().unwrap().remove("fly");
    });
    let no_region = run(&ws, &emu, &["deploy", "client-b", "--yes"]);
    assert_eq!(no_region.code, 1, "{no_region:?}");
    assert!(no_region.stderr.contains("region"), "{no_region:?}");
    assert_eq!(emu.request_count(), 0, "{:?}", emu.golden_lines());
    // The org may come from scalewize.json instead.
    set_json(&ws, "scalewize.json", |v| {
        v["fly"] = json!({"org": ORG, "region": "ams"});
    });
    let r = run_with(
        &ws,
        &emu,
        &["deploy", "client-b", "--yes"],
        &[("FLY_ORG", "")],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        emu.snapshot()
            .apps
            .iter()
            .all(|a| a.org_slug == ORG && a.machines[0].region == "ams")
    );
    // An org that does not exist.
    let r = run_with(&ws, &emu, &["diff", "client-b"], &[("FLY_ORG", "nobody")]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("`nobody` not found") && r.stderr.contains("fly orgs list"),
        "{r:?}"
    );
    // A bad token: exit 1 with how to make a good one.
    let bad = run_with(
        &ws,
        &emu,
        &["diff", "client-b"],
        &[("FLY_API_TOKEN", "nope")],
    );
    assert_eq!(bad.code, 1, "{bad:?}");
    assert!(bad.stderr.contains("fly tokens create org"), "{bad:?}");
    // Logs are not in the Machines API: say how to read them.
    let logs = run(&ws, &emu, &["logs", "client-b", "custom-erp-mcp"]);
    assert_eq!(logs.code, 1, "{logs:?}");
    assert!(
        logs.stderr
            .contains("fly logs -a sw-client-b-custom-erp-mcp"),
        "{logs:?}"
    );
}

#[test]
fn macaroon_tokens_use_the_flyv1_scheme() {
    let token = "fm2_lJPECAAAAAAAAx,fm2_second";
    let emu = fly_emulator::Emulator::start(config().token(fly_emulator::Token::org(token, ORG)));
    let ws = workspace();
    let r = run_with(
        &ws,
        &emu,
        &["diff", "client-b"],
        &[("FLY_API_TOKEN", token)],
    );
    assert_eq!(r.code, 0, "{r:?}");
    let schemes: BTreeSet<String> = emu
        .requests()
        .iter()
        .flat_map(|r| r.headers.clone())
        .filter(|(k, _)| k == "authorization")
        .map(|(_, v)| v)
        .collect();
    assert!(
        schemes.iter().all(|s| s.starts_with("FlyV1")),
        "{schemes:?}"
    );
    let prefixed = format!("FlyV1 {token}");
    let r = run_with(
        &ws,
        &emu,
        &["diff", "client-b"],
        &[("FLY_API_TOKEN", &prefixed)],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(emu.counters().unauthorized, 0);
}

/// Call the emulator as another tool (or a person with flyctl) would.
fn api(emu: &EmulatorHandle, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let c = reqwest::Client::new();
        let mut req = c
            .request(method.parse().unwrap(), format!("{}{path}", emu.url()))
            .header("authorization", format!("Bearer {TOKEN}"));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    })
}

#[test]
fn drift_and_stopped_machines_are_repaired() {
    let emu = emulator();
    let ws = workspace();
    deploy(&ws, &emu, "client-b");
    let erp = "sw-client-b-custom-erp-mcp";
    let lc = "sw-client-b-librechat";
    let snap = emu.snapshot();
    // Someone edits the ERP machine's env by hand, and stops LibreChat.
    let m = &snap.app(erp).unwrap().machines[0];
    let mut config = m.config.clone();
    config["env"]["ERP_BASE_URL"] = json!("https://elsewhere.example");
    let (status, _) = api(
        &emu,
        "POST",
        &format!("/v1/apps/{erp}/machines/{}", m.id),
        Some(json!({"config": config})),
    );
    assert_eq!(status, 200);
    let lc_id = snap.app(lc).unwrap().machines[0].id.clone();
    let (status, _) = api(
        &emu,
        "POST",
        &format!("/v1/apps/{lc}/machines/{lc_id}/stop"),
        None,
    );
    assert_eq!(status, 200);
    // An MCP server stopped by autostop is idle, not down.
    let hr = &snap.app("sw-client-b-custom-hr-mcp").unwrap().machines[0];
    let (status, _) = api(
        &emu,
        "POST",
        &format!("/v1/apps/sw-client-b-custom-hr-mcp/machines/{}/stop", hr.id),
        None,
    );
    assert_eq!(status, 200);
    emu.advance(5.0);

    let diff = run(&ws, &emu, &["diff", "client-b", "--detailed-exitcode"]);
    assert_eq!(diff.code, 2, "{diff:?}");
    assert!(
        diff.stdout.contains("~ client-b/custom-erp-mcp"),
        "{diff:?}"
    );
    assert!(diff.stdout.contains("env.ERP_BASE_URL"), "{diff:?}");
    assert!(diff.stdout.contains("~ client-b/librechat"), "{diff:?}");
    assert!(
        !diff.stdout.contains("~ client-b/custom-hr-mcp"),
        "{diff:?}"
    );
    let status = run(&ws, &emu, &["status", "client-b", "--json"]);
    let v: Value = serde_json::from_str(&status.stdout).unwrap();
    let state = |svc: &str| {
        v["services"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| {
                format!(
                    "{}/{}",
                    s["key"]["owner"].as_str().unwrap(),
                    s["key"]["service"].as_str().unwrap()
                ) == svc
            })
            .map(|s| (s["state"].clone(), s["detail"].clone()))
            .unwrap()
    };
    assert_eq!(state("client-b/librechat").0, "down", "{v}");
    let (hr_state, hr_detail) = state("client-b/custom-hr-mcp");
    assert_eq!(hr_state, "running", "{v}");
    assert!(hr_detail.as_str().unwrap().contains("idle"), "{v}");
    let (_, erp_detail) = state("client-b/custom-erp-mcp");
    assert!(
        erp_detail
            .as_str()
            .unwrap()
            .contains("changed outside scalewize"),
        "{v}"
    );

    deploy(&ws, &emu, "client-b");
    let snap = emu.snapshot();
    assert_eq!(
        snap.app(erp).unwrap().machines[0].config["env"]["ERP_BASE_URL"],
        "https://erp.client-b.example/api/v1"
    );
    assert_eq!(snap.app(lc).unwrap().machines[0].state, "started");
    assert_eq!(
        snap.app(lc).unwrap().machines[0].id,
        lc_id,
        "repaired in place"
    );
    assert_no_mutations(&emu, &ws, "client-b");

    // Someone adds a machine of their own to one of our apps: destroy leaves that app alone.
    let hr_app = "sw-client-b-custom-hr-mcp";
    let (status, _) = api(
        &emu,
        "POST",
        &format!("/v1/apps/{hr_app}/machines"),
        Some(json!({"name": "sidecar", "region": "iad", "config": {"image": "busybox:1"}})),
    );
    assert_eq!(status, 200);
    let r = run(&ws, &emu, &["destroy", "client-b", "--yes"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.all()
            .contains("not deleting the Fly app `sw-client-b-custom-hr-mcp`"),
        "{r:?}"
    );
    assert_eq!(app_names(&emu), [hr_app.to_string()].into());
    assert_eq!(emu.snapshot().app(hr_app).unwrap().machines.len(), 2);
    assert_api_names(&emu);
}
