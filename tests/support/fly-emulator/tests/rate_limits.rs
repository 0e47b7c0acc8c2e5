mod common;

use std::time::{Duration, Instant};

use common::*;
use fly_emulator::{Config, Emulator, EmulatorHandle, RateLimits};
use serde_json::json;

fn emu(scale: f64) -> EmulatorHandle {
    Emulator::start(Config::default().time_scale(scale))
}

#[test]
fn per_action_bucket_burst_3_then_429_with_retry_after() {
    let emu = emu(0.5);
    let c = Client::new(&emu);
    create_app(&c, "app-rl");
    let set = |v: &str| c.post("/v1/apps/app-rl/secrets", &json!({"values": {"A": v}}));
    for i in 0..3 {
        assert_eq!(set(&i.to_string()).status, 200, "burst of 3");
    }
    let r = set("x");
    assert_eq!(r.status, 429, "{}", r.body);
    let secs: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!(secs >= 1);
    // Another action, or another identifier, has its own bucket.
    assert_eq!(c.get("/v1/apps/app-rl/secrets").status, 200);
    create_app(&c, "app-rl2");
    assert_eq!(
        c.post("/v1/apps/app-rl2/secrets", &json!({"values": {"A": "1"}}))
            .status,
        200
    );

    // Retrying before Retry-After (scaled) has elapsed is a recorded violation.
    let early = set("early");
    assert_eq!(early.status, 429);
    let v = emu.rate_violations();
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(v[0].action, "set_secrets");
    assert_eq!(v[0].identifier, "app-rl");
    assert!(v[0].early_by > 0.0);

    // Honouring it (sleep Retry-After × scale) is fine and not a violation.
    let r = loop {
        let secs: f64 = early.header("retry-after").unwrap().parse().unwrap();
        std::thread::sleep(Duration::from_secs_f64(secs * emu.time_scale()));
        let r = set("late");
        if r.status != 429 {
            break r;
        }
    };
    assert_eq!(r.status, 200);
    assert_eq!(emu.rate_violations().len(), 1);
    let history = emu.rate_limit_history();
    assert_eq!(history.len(), 2);
    assert!(
        history
            .iter()
            .all(|h| !h.injected && h.retry_after.is_some())
    );
    assert_eq!(emu.counters().rate_limited, 2);
}

#[test]
fn get_machine_bucket_is_5_per_s_burst_10() {
    // time_scale > 1 slows virtual time down, so a loaded machine cannot refill a bucket mid-test.
    let emu = emu(10.0);
    let c = Client::new(&emu);
    create_app(&c, "app-gm");
    let id = create_machine(&c, "app-gm", "w")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/v1/apps/app-gm/machines/{id}");
    for _ in 0..10 {
        assert_eq!(c.get(&path).status, 200);
    }
    let r = c.get(&path);
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("1"));
    // Listing is another action.
    assert_eq!(c.get("/v1/apps/app-gm/machines").status, 200);
}

#[test]
fn machine_actions_are_per_machine() {
    let emu = emu(10.0);
    let c = Client::new(&emu);
    create_app(&c, "app-pm");
    let a = create_machine(&c, "app-pm", "a")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let b = create_machine(&c, "app-pm", "b")["id"]
        .as_str()
        .unwrap()
        .to_string();
    for _ in 0..3 {
        assert_eq!(
            c.get(&format!("/v1/apps/app-pm/machines/{a}/metadata"))
                .status,
            200
        );
    }
    assert_eq!(
        c.get(&format!("/v1/apps/app-pm/machines/{a}/metadata"))
            .status,
        429
    );
    assert_eq!(
        c.get(&format!("/v1/apps/app-pm/machines/{b}/metadata"))
            .status,
        200
    );
    // Waiting in virtual time refills (1 token per virtual second).
    emu.advance(1.0);
    assert_eq!(
        c.get(&format!("/v1/apps/app-pm/machines/{a}/metadata"))
            .status,
        200
    );
}

#[test]
fn app_deletions_100_per_minute() {
    let emu = emu(10.0);
    let c = Client::new(&emu);
    for i in 0..101 {
        create_app(&c, &format!("del-{i}"));
    }
    for i in 0..100 {
        assert_eq!(
            c.delete(&format!("/v1/apps/del-{i}")).status,
            202,
            "delete {i}"
        );
    }
    let r = c.delete("/v1/apps/del-100");
    assert_eq!(r.status, 429);
    assert_eq!(emu.rate_limit_history()[0].action, "delete_app");
}

#[test]
fn time_scale_shrinks_buckets_transitions_and_waits() {
    let emu = emu(0.01);
    let c = Client::new(&emu);
    create_app(&c, "app-ts");
    let t = Instant::now();
    let m = create_machine(&c, "app-ts", "w");
    let id = m["id"].as_str().unwrap();
    // ~2 virtual seconds to `started` = ~20 ms.
    assert_eq!(wait_state(&c, "app-ts", id, "started", None).status, 200);
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());

    // Retry-After stays in whole (virtual) seconds; the scaled sleep is enough.
    emu.set_time_scale(0.05);
    for _ in 0..3 {
        assert_eq!(
            c.get(&format!("/v1/apps/app-ts/machines/{id}/lease"))
                .status,
            404
        );
    }
    let r = c.get(&format!("/v1/apps/app-ts/machines/{id}/lease"));
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("1"));
    std::thread::sleep(Duration::from_secs_f64(emu.time_scale()));
    assert_eq!(
        c.get(&format!("/v1/apps/app-ts/machines/{id}/lease"))
            .status,
        404
    );
    assert!(emu.rate_violations().is_empty());

    // Changing the scale at run time keeps virtual time continuous.
    let before = emu.now();
    emu.set_time_scale(1.0);
    assert!(emu.now() >= before);
    assert_eq!(emu.time_scale(), 1.0);
}

#[test]
fn rate_limits_can_be_turned_off() {
    let emu = Emulator::start(Config::default().rate_limits(RateLimits::disabled()));
    let c = Client::new(&emu);
    for _ in 0..20 {
        assert_eq!(c.get("/v1/apps?org_slug=personal").status, 200);
    }
    emu.set_rate_limits(RateLimits::default());
    for _ in 0..3 {
        assert_eq!(c.get("/v1/apps?org_slug=personal").status, 200);
    }
    assert_eq!(c.get("/v1/apps?org_slug=personal").status, 429);
}
