//! Time scale, rate limits by plan, Retry-After and violations, and the request log.

mod common;

use std::time::Duration;

use common::*;
use railway_emulator::{
    Config, DEFAULT_WORKSPACE_ID, DeployTimings, Emulator, OperationKind, Plan, PlanLimits,
    RateLimited, RateLimits, TokenConfig,
};
use serde_json::json;

const STATUS: &str = "query($id: String!) { deployment(id: $id) { status } }";

fn deploy(emu: &railway_emulator::EmulatorHandle) -> String {
    let (project, env) = create_project(emu, "p");
    let svc = create_service(emu, &project, "web", json!({}));
    gql(emu, "mutation($id: String!, $input: ServiceConnectInput!) { serviceConnect(id: $id, input: $input) { id } }",
        json!({"id": svc, "input": {"image": "app:1"}})).ok();
    let r = gql(emu, "mutation($s: String!, $e: String!) { serviceInstanceDeployV2(serviceId: $s, environmentId: $e) }",
        json!({"s": svc, "e": env})).ok();
    r.data()["serviceInstanceDeployV2"]
        .as_str()
        .unwrap()
        .to_string()
}

fn status(emu: &railway_emulator::EmulatorHandle, id: &str) -> String {
    gql(emu, STATUS, json!({"id": id})).ok().data()["deployment"]["status"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn deployments_progress_in_scaled_time() {
    // Unscaled, a deployment takes 32 emulated (= real) seconds: still queued after 50 ms.
    let emu = Emulator::start(Config::default());
    let id = deploy(&emu);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(status(&emu, &id), "QUEUED");
    // 10 000 times faster: 32 s is 3.2 ms.
    emu.set_time_scale(0.0001);
    assert_eq!(emu.time_scale(), 0.0001);
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(status(&emu, &id), "SUCCESS");
    assert!(emu.emulated_now() > Duration::from_secs(32));
}

#[test]
fn deployment_phases_follow_the_configured_timings() {
    let mut cfg = Config::default().with_time_scale(0.01);
    cfg.deploy_timings = DeployTimings {
        queued: Duration::from_secs(10),
        building: Duration::from_secs(10),
        deploying: Duration::from_secs(10),
    };
    let emu = Emulator::start(cfg);
    let id = deploy(&emu);
    let mut seen: Vec<String> = vec![];
    for _ in 0..200 {
        let s = status(&emu, &id);
        if seen.last() != Some(&s) {
            seen.push(s.clone());
        }
        if s == "SUCCESS" {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(seen, ["QUEUED", "BUILDING", "DEPLOYING", "SUCCESS"]);
}

fn limited(limits: PlanLimits, plan: Plan, scale: f64) -> railway_emulator::EmulatorHandle {
    let mut rl = RateLimits::default();
    match plan {
        Plan::Free => rl.free = limits,
        Plan::Hobby => rl.hobby = limits,
        _ => rl.pro = limits,
    }
    let cfg = Config::default()
        .with_time_scale(scale)
        .with_rate_limits(rl)
        .with_token(TokenConfig::workspace(
            "t-limited",
            DEFAULT_WORKSPACE_ID,
            plan,
        ))
        .with_token(TokenConfig::workspace(
            "t-other",
            DEFAULT_WORKSPACE_ID,
            Plan::Enterprise,
        ));
    Emulator::start(cfg)
}

const Q: &str = "query { projects { edges { node { id } } } }";

#[test]
fn hourly_limit_answers_429_with_retry_after_and_records_early_returns() {
    let emu = limited(
        PlanLimits {
            per_hour: Some(5),
            per_second: None,
        },
        Plan::Free,
        0.0005,
    );
    for i in 0..5 {
        let r = gql_as(&emu, "t-limited", Q, json!({})).ok();
        assert_eq!(r.header("x-ratelimit-limit"), Some("5"));
        assert_eq!(
            r.header("x-ratelimit-remaining"),
            Some((4 - i).to_string().as_str())
        );
        assert!(
            r.header("x-ratelimit-reset")
                .unwrap()
                .parse::<u64>()
                .is_ok()
        );
        assert!(
            r.header("retry-after").is_none(),
            "Retry-After only once the window is used up"
        );
    }
    let r = gql_as(&emu, "t-limited", Q, json!({}));
    assert_eq!(r.status, 429);
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((3500..=3600).contains(&retry), "{retry}");
    assert_eq!(r.header("x-ratelimit-remaining"), Some("0"));
    assert!(emu.retry_after_violations().is_empty());
    // Other tokens have their own budget.
    gql_as(&emu, "t-other", Q, json!({})).ok();
    // Coming back early is a violation (and still 429).
    let r = gql_as(&emu, "t-limited", Q, json!({}));
    assert_eq!(r.status, 429);
    let v = emu.retry_after_violations();
    assert_eq!(v.len(), 1);
    assert!(v[0].early_by_secs > 0.0);
    assert_eq!(v[0].seq, 8);
    assert_eq!(
        emu.requests()[7].rate_limited,
        Some(RateLimited::RetryAfterNotElapsed)
    );
    // Waiting the announced time (scaled) is enough.
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    std::thread::sleep(Duration::from_secs_f64(retry as f64 * 0.0005) + Duration::from_millis(5));
    gql_as(&emu, "t-limited", Q, json!({})).ok();
    assert_eq!(emu.retry_after_violations().len(), 1);
}

#[test]
fn per_second_limit() {
    let emu = limited(
        PlanLimits {
            per_hour: Some(1000),
            per_second: Some(3),
        },
        Plan::Hobby,
        0.01,
    );
    let mut statuses = vec![];
    for _ in 0..4 {
        statuses.push(gql_as(&emu, "t-limited", Q, json!({})).status);
    }
    // Four requests well within one emulated second (10 ms real): the fourth is refused...
    if statuses == [200, 200, 200, 429] {
        let r = &emu.requests()[3];
        assert_eq!(r.rate_limited, Some(RateLimited::PerSecond));
        std::thread::sleep(Duration::from_millis(15));
        gql_as(&emu, "t-limited", Q, json!({})).ok();
        assert!(emu.retry_after_violations().is_empty());
    } else {
        // ...unless this machine was too slow to send them within 10 ms.
        assert!(
            statuses.iter().all(|s| *s == 200 || *s == 429),
            "{statuses:?}"
        );
    }
    assert_eq!(emu.fault_counters().rate_limit_injected, 0);
}

#[test]
fn default_limits_follow_the_notes() {
    let rl = RateLimits::default();
    assert_eq!((rl.free.per_hour, rl.free.per_second), (Some(100), None));
    assert_eq!(
        (rl.hobby.per_hour, rl.hobby.per_second),
        (Some(1000), Some(10))
    );
    assert_eq!(
        (rl.pro.per_hour, rl.pro.per_second),
        (Some(10_000), Some(50))
    );
}

#[test]
fn the_request_log_records_what_was_sent() {
    let emu = Emulator::start(Config::default());
    let (project, _) = create_project(&emu, "logged");
    let r = post(
        &emu,
        &[("Authorization", "Bearer emulator-workspace-token")],
        "query Named($id: String!) { p: project(id: $id) { id } }",
        json!({"id": project}),
    )
    .unwrap();
    assert_eq!(r.status, 200);
    gql(&emu, "query { nope }", json!(null));
    let log = emu.requests();
    assert_eq!(log.len(), 3);
    assert_eq!(log[0].seq, 1);
    assert_eq!(log[0].operation_type, Some(OperationKind::Mutation));
    assert_eq!(log[0].root_fields, ["projectCreate"]);
    assert_eq!(log[0].variables["input"]["name"], "logged");
    assert!(log[0].document.contains("projectCreate"));
    assert_eq!(log[1].operation_name.as_deref(), Some("Named"));
    assert_eq!(log[1].root_fields, ["project"], "names, not aliases");
    assert_eq!(log[1].status, Some(200));
    assert_eq!(log[1].token.as_deref(), Some("workspace#1"));
    assert!(
        log[1]
            .headers
            .iter()
            .any(|(k, v)| k == "authorization" && v == "<redacted>")
    );
    assert!(
        log[1]
            .headers
            .iter()
            .any(|(k, v)| k == "x-source" && v == "emulator-tests")
    );
    assert!(!log[1].fault_injected());
    assert_eq!(log[2].status, Some(400));
    assert_eq!(
        emu.summaries(),
        ["mutation projectCreate", "query project", "query nope"]
    );
    let golden = emu.golden_lines();
    assert_eq!(golden[1], "query project {\"id\":\"<project:1>\"}");
}
