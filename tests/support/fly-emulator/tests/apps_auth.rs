mod common;

use common::*;
use fly_emulator::{Config, Emulator, RateLimits, Token};
use serde_json::json;

#[test]
fn app_lifecycle() {
    let emu = quick();
    let c = Client::new(&emu);
    let r = c.post("/v1/apps?wait=true", &json!({"name": "acme-crm", "org_slug": "personal", "network": "acme-net", "enable_subdomains": false}));
    assert_eq!(r.status, 201, "{}", r.body);
    let app = r.json();
    assert_eq!(app["name"], "acme-crm");
    assert_eq!(app["organization"]["slug"], "personal");

    let r = c.get("/v1/apps/acme-crm");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["status"], "pending");

    let r = c.get("/v1/apps?org_slug=personal");
    assert_eq!(r.status, 200);
    let list = r.json();
    assert_eq!(list["total_apps"], 1);
    let first = &list["apps"][0];
    for key in [
        "id",
        "name",
        "machine_count",
        "volume_count",
        "network",
        "organization",
        "status",
    ] {
        assert!(first.get(key).is_some(), "missing {key} in {first}");
    }
    assert_eq!(first["network"], "acme-net");

    let snap = emu.snapshot();
    assert_eq!(snap.apps[0].hostname, "acme-crm.fly.dev");

    let r = c.delete("/v1/apps/acme-crm");
    assert_eq!(r.status, 202);
    let r = c.get("/v1/apps/acme-crm");
    assert_eq!(r.status, 404);
    assert_eq!(
        r.body, "",
        "a missing app is a 404 with an empty body (notes l.241)"
    );
}

#[test]
fn name_taken_and_foreign_apps() {
    let emu = Emulator::start(
        Config::default()
            .time_scale(0.01)
            .rate_limits(RateLimits::disabled())
            .foreign_app("someone-elses"),
    );
    let c = Client::new(&emu);
    create_app(&c, "mine");
    for name in ["mine", "someone-elses"] {
        let r = c.post("/v1/apps", &json!({"name": name, "org_slug": "personal"}));
        assert_eq!(r.status, 422, "{}", r.body);
        assert_eq!(r.json()["status"], "name_taken");
    }
    assert_eq!(c.get("/v1/apps/someone-elses").status, 403);
    assert_eq!(c.get("/v1/apps/free-name").status, 404);
}

#[test]
fn delete_app_with_running_machines_needs_force() {
    let emu = quick();
    let c = Client::new(&emu);
    create_app(&c, "app-a");
    let m = create_machine(&c, "app-a", "web");
    let id = m["id"].as_str().unwrap();
    assert_eq!(wait_state(&c, "app-a", id, "started", None).status, 200);
    let r = c.delete("/v1/apps/app-a");
    assert_eq!(r.status, 412, "{}", r.body);
    assert_eq!(c.delete("/v1/apps/app-a?force=true").status, 202);
    assert!(emu.snapshot().apps.is_empty());
}

#[test]
fn auth_schemes_and_scopes() {
    let emu = Emulator::start(
        Config::default()
            .time_scale(0.01)
            .rate_limits(RateLimits::disabled())
            .org("other-org", "Other")
            .token(Token::org("FlyV1 fm2_macaroon,fm2_part", "personal"))
            .token(Token::deploy("deploy-tok", "personal", "app-one"))
            .token(Token::read_only("ro-tok", "personal"))
            .token(Token::org("other-tok", "other-org")),
    );
    let none = Client::with_auth(&emu, None);
    assert_eq!(none.get("/v1/apps?org_slug=personal").status, 401);
    let bad = Client::with_auth(&emu, Some("Bearer nope"));
    assert_eq!(bad.get("/v1/apps?org_slug=personal").status, 401);
    let basic = Client::with_auth(&emu, Some("Basic dGVzdA=="));
    assert_eq!(basic.get("/v1/apps?org_slug=personal").status, 401);

    // notes l.16-21: macaroons as `FlyV1 <token>`; also accepted behind Bearer.
    let flyv1 = Client::with_auth(&emu, Some("FlyV1 fm2_macaroon,fm2_part"));
    assert_eq!(flyv1.get("/v1/apps?org_slug=personal").status, 200);
    let bearer_flyv1 = Client::with_auth(&emu, Some("Bearer FlyV1 fm2_macaroon,fm2_part"));
    assert_eq!(bearer_flyv1.get("/v1/apps?org_slug=personal").status, 200);

    let c = Client::new(&emu);
    create_app(&c, "app-one");
    create_app(&c, "app-two");

    // Deploy token: its app only; cannot create apps (notes l.23-24).
    let deploy = Client::with_auth(&emu, Some("Bearer deploy-tok"));
    assert_eq!(deploy.get("/v1/apps/app-one").status, 200);
    assert_eq!(deploy.get("/v1/apps/app-two").status, 403);
    assert_eq!(
        deploy
            .post(
                "/v1/apps",
                &json!({"name": "x-new", "org_slug": "personal"})
            )
            .status,
        403
    );

    // Read-only token: GET only.
    let ro = Client::with_auth(&emu, Some("Bearer ro-tok"));
    assert_eq!(ro.get("/v1/apps/app-one").status, 200);
    assert_eq!(ro.delete("/v1/apps/app-one").status, 403);

    // Another org's token: 403 on our app (notes l.50-52), 403 on our org.
    let other = Client::with_auth(&emu, Some("Bearer other-tok"));
    assert_eq!(other.get("/v1/apps/app-one").status, 403);
    assert_eq!(other.get("/v1/apps?org_slug=personal").status, 403);
    assert_eq!(
        other
            .post(
                "/v1/apps",
                &json!({"name": "o-app", "org_slug": "personal"})
            )
            .status,
        403
    );
    assert_eq!(
        other
            .post(
                "/v1/apps",
                &json!({"name": "o-app", "org_slug": "other-org"})
            )
            .status,
        201
    );
    assert_eq!(
        c.post("/v1/apps", &json!({"name": "z-app", "org_slug": "nope"}))
            .status,
        404
    );

    // The log redacts the token but keeps the scheme.
    let log = emu.requests();
    assert!(log.iter().all(|e| {
        e.headers
            .iter()
            .filter(|(k, _)| k == "authorization")
            .all(|(_, v)| {
                v.ends_with("<redacted>") && !v.contains("test-token") && !v.contains("fm2_")
            })
    }));
}

#[test]
fn unknown_routes_and_methods() {
    let emu = quick();
    let c = Client::new(&emu);
    assert_eq!(c.get("/v1/nope").status, 404);
    assert_eq!(c.send("PUT", "/v1/apps", &[], None).status, 405);
    create_app(&c, "app-r");
    assert_eq!(c.get("/v1/apps/app-r/machines/abc/frobnicate").status, 404);
}

#[test]
fn list_apps_requires_org_slug_and_rejects_unknown_query() {
    let emu = quick();
    let c = Client::new(&emu);
    assert_eq!(c.get("/v1/apps").status, 400);
    let r = c.get("/v1/apps?org_slug=personal&orgslug=x");
    assert_eq!(r.status, 400);
    assert!(r.body.contains("orgslug"), "{}", r.body);
}
