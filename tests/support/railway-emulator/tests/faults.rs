//! Fault injection: every kind is injected for a seed, deterministically; forced faults hit
//! exactly the chosen request; "stop after k" stops answering.

mod common;

use std::time::Duration;

use common::*;
use railway_emulator::{
    Config, Emulator, EmulatorHandle, Faults, ForcedFault, InjectedFault, ListLag, RateLimits,
    StopAfter, StopMode,
};
use serde_json::json;

const SCALE: f64 = 0.01;

/// A fixed script of reads and writes that honours Retry-After; returns per-request fault
/// kinds (latency values included, list lag excluded: whether a lagging list actually omits
/// something depends on wall-clock timing).
fn run_script(emu: &EmulatorHandle, n: usize) -> Vec<(u64, Vec<String>)> {
    // Set up without faults, so the script below is the same whatever the timing.
    let plan = emu.fault_plan();
    emu.clear_faults();
    let (project, env) = create_project(emu, "chaos");
    let svc = create_service(emu, &project, "base", json!({}));
    emu.set_faults(plan);
    for i in 0..n {
        let (q, v) = match i % 6 {
            0 => (CREATE_SERVICE.to_string(), json!({"input": {"projectId": project, "name": format!("svc-{i}")}})),
            1 => ("query($p: String!) { project(id: $p) { services { edges { node { id } } } } }".into(), json!({"p": project})),
            2 => ("mutation($input: ServiceDomainCreateInput!) { serviceDomainCreate(input: $input) { id } }".into(),
                json!({"input": {"serviceId": svc, "environmentId": env, "targetPort": 8080}})),
            3 => ("query($p: String!, $e: String!, $s: String!) { domains(projectId: $p, environmentId: $e, serviceId: $s) { serviceDomains { id } } }".into(),
                json!({"p": project, "e": env, "s": svc})),
            4 => ("mutation($input: VariableUpsertInput!) { variableUpsert(input: $input) }".into(),
                json!({"input": {"projectId": project, "environmentId": env, "serviceId": svc, "name": format!("V{i}"), "value": "x", "skipDeploys": true}})),
            _ => ("query($e: String!) { environment(id: $e) { serviceInstances { edges { node { serviceName } } } } projects { edges { node { id } } } }".into(),
                json!({"e": env})),
        };
        let r = post(emu, &auth(), &q, v);
        backoff(r.as_ref().ok());
    }
    emu.requests()
        .iter()
        .map(|r| {
            let kinds = r
                .faults
                .iter()
                .filter(|f| **f != InjectedFault::ListLag)
                .map(|f| format!("{f:?}"))
                .collect();
            (r.seq, kinds)
        })
        .collect()
}

fn auth() -> [(&'static str, &'static str); 1] {
    [("Authorization", "Bearer emulator-workspace-token")]
}

/// Honours Retry-After on 429 (scaled, as the client under test does).
fn backoff(r: Option<&Resp>) {
    if let Some(r) = r
        && r.status == 429
    {
        let secs: f64 = r.header("retry-after").unwrap().parse().unwrap();
        std::thread::sleep(Duration::from_secs_f64(secs * SCALE));
    }
}

fn chaos(seed: u64) -> EmulatorHandle {
    let faults = Faults {
        lost_response: 0.15,
        http_5xx: 0.08,
        rate_limit: 0.05,
        list_lag: Some(ListLag {
            probability: 0.5,
            max: Duration::from_secs(30),
        }),
        ..Faults::chaos()
    };
    Emulator::start(
        Config::default()
            .with_seed(seed)
            .with_time_scale(SCALE)
            .with_rate_limits(RateLimits::disabled())
            .with_faults(faults),
    )
}

#[test]
fn every_fault_kind_is_injected_for_each_seed_and_deterministically() {
    for seed in [1u64, 7, 42] {
        let emu = chaos(seed);
        let first = run_script(&emu, 150);
        let c = emu.fault_counters();
        assert!(c.latency > 0, "seed {seed}: {c:?}");
        assert!(c.http_5xx > 0, "seed {seed}: {c:?}");
        assert!(c.rate_limit_injected > 0, "seed {seed}: {c:?}");
        assert!(c.lost_response_dropped > 0, "seed {seed}: {c:?}");
        assert!(c.lost_response_504 > 0, "seed {seed}: {c:?}");
        assert!(c.list_lag > 0, "seed {seed}: {c:?}");
        assert!(
            emu.retry_after_violations().is_empty(),
            "{:?}",
            emu.retry_after_violations()
        );
        // Records say which requests were faulted.
        assert!(emu.requests().iter().any(|r| r.fault_injected()));
        drop(emu);
        let again = run_script(&chaos(seed), 150);
        assert_eq!(first, again, "seed {seed} is not deterministic");
    }
    // Different seeds differ.
    assert_ne!(run_script(&chaos(1), 60), run_script(&chaos(2), 60));
}

#[test]
fn lost_responses_are_applied_and_5xx_are_not() {
    let faults = Faults::none()
        .with_forced(2, ForcedFault::Status(503))
        .with_forced(3, ForcedFault::ApplyThenDrop)
        .with_forced(4, ForcedFault::ApplyThen504)
        .with_forced(
            5,
            ForcedFault::RateLimit {
                retry_after_secs: 2,
            },
        )
        .with_forced(6, ForcedFault::Drop)
        .with_forced(8, ForcedFault::Status(502));
    let emu = Emulator::start(Config::default().with_time_scale(0.001).with_faults(faults));
    let (project, _) = create_project(&emu, "p"); // 1
    let svc = |name: &str| {
        post(
            &emu,
            &auth(),
            CREATE_SERVICE,
            json!({"input": {"projectId": project, "name": name}}),
        )
    };
    let names = || -> Vec<String> {
        emu.snapshot().projects[0]
            .services
            .iter()
            .map(|s| s.name.clone())
            .collect()
    };

    let r = svc("a").unwrap(); // 2
    assert_eq!(r.status, 503);
    assert!(names().is_empty(), "503 must not apply");
    assert!(svc("a").is_err(), "3: connection closed without a response");
    assert_eq!(names(), ["a"], "but applied");
    let r = svc("b").unwrap(); // 4
    assert_eq!(r.status, 504);
    assert_eq!(names(), ["a", "b"], "504 after applying");
    let r = svc("c").unwrap(); // 5
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("2"));
    assert!(r.header("x-ratelimit-limit").is_some());
    assert!(r.header("x-ratelimit-remaining").is_some());
    assert!(r.header("x-ratelimit-reset").is_some());
    std::thread::sleep(Duration::from_millis(3)); // 2 emulated seconds at 0.001
    assert!(svc("c").is_err(), "6: dropped");
    assert_eq!(names(), ["a", "b"], "a dropped request is not applied");
    svc("c").unwrap().ok(); // 7
    assert_eq!(svc("d").unwrap().status, 502); // 8
    let recs = emu.requests();
    assert_eq!(recs[2].status, None);
    assert_eq!(recs[2].faults, vec![InjectedFault::LostResponseDropped]);
    assert!(recs[2].executed);
    assert_eq!(recs[5].faults, vec![InjectedFault::Dropped]);
    assert!(!recs[5].executed);
    let c = emu.fault_counters();
    assert_eq!(
        (
            c.http_5xx,
            c.lost_response_dropped,
            c.lost_response_504,
            c.rate_limit_injected,
            c.dropped
        ),
        (2, 1, 1, 1, 1)
    );
    assert!(emu.retry_after_violations().is_empty());
}

#[test]
fn stop_after_k_drops_or_hangs_later_requests() {
    let faults = Faults {
        stop_after: Some(StopAfter {
            after: 2,
            mode: StopMode::Drop,
        }),
        ..Faults::none()
    };
    let emu = Emulator::start(Config::default().with_faults(faults));
    let (project, _) = create_project(&emu, "p"); // 1
    create_service(&emu, &project, "a", json!({})); // 2
    let r = post(
        &emu,
        &auth(),
        CREATE_SERVICE,
        json!({"input": {"projectId": project, "name": "b"}}),
    );
    assert!(r.is_err());
    assert_eq!(emu.snapshot().projects[0].services.len(), 1, "not applied");
    assert_eq!(emu.fault_counters().stopped, 1);

    emu.set_faults(Faults {
        stop_after: Some(StopAfter {
            after: 4,
            mode: StopMode::Hang,
        }),
        ..Faults::none()
    });
    create_service(&emu, &project, "c", json!({})); // 4
    let addr = emu.addr();
    let body = json!({"query": CREATE_SERVICE, "variables": {"input": {"projectId": project, "name": "d"}}}).to_string();
    let t = std::thread::spawn(move || post_raw(addr, &auth(), &body));
    assert!(emu.wait_for_requests(5, Duration::from_secs(5)));
    std::thread::sleep(Duration::from_millis(50));
    assert!(!t.is_finished(), "held");
    emu.clear_faults();
    assert!(
        t.join().unwrap().is_err(),
        "released by closing the connection"
    );
    assert_eq!(emu.snapshot().projects[0].services.len(), 2);
    // Back to normal.
    create_service(&emu, &project, "e", json!({}));
}

#[test]
fn list_lag_hides_new_items_from_lists_only_for_a_bounded_time() {
    let faults = Faults {
        list_lag: Some(ListLag {
            probability: 1.0,
            max: Duration::from_secs(600),
        }),
        ..Faults::none()
    };
    let emu = Emulator::start(Config::default().with_faults(faults));
    let (project, env) = create_project(&emu, "lagging");
    let svc = create_service(&emu, &project, "web", json!({}));
    let list = "query($p: String!) { project(id: $p) { services { edges { node { id } } } } }";
    let r = gql(&emu, list, json!({"p": project})).ok();
    assert_eq!(r.data()["project"]["services"]["edges"], json!([]));
    let r = gql(
        &emu,
        "query($w: String) { projects(workspaceId: $w) { edges { node { id } } } }",
        json!({"w": railway_emulator::DEFAULT_WORKSPACE_ID}),
    )
    .ok();
    assert_eq!(r.data()["projects"]["edges"], json!([]));
    let r = gql(
        &emu,
        "query($e: String!) { environment(id: $e) { serviceInstances { edges { node { id } } } } }",
        json!({"e": env}),
    )
    .ok();
    assert_eq!(
        r.data()["environment"]["serviceInstances"]["edges"],
        json!([])
    );
    // Reads by id are not affected.
    gql(
        &emu,
        "query($id: String!) { service(id: $id) { name } }",
        json!({"id": svc}),
    )
    .ok();
    assert!(emu.fault_counters().list_lag >= 3);
    assert!(
        emu.requests()
            .iter()
            .any(|r| r.faults.contains(&InjectedFault::ListLag))
    );
    // After the bound (600 emulated seconds), everything shows.
    emu.set_time_scale(0.0001); // 600 s = 60 ms
    std::thread::sleep(Duration::from_millis(80));
    let r = gql(&emu, list, json!({"p": project})).ok();
    assert_eq!(
        r.data()["project"]["services"]["edges"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}
