//! Rollouts in waves on `local` (and on the Railway and Fly emulators, gated on what the platform
//! tells): shared servers first, then the canary, gated, then the rest; a
//! canary that fails stops the rollout and leaves the other clients untouched.

use serde_json::{Value, json};

use crate::common::TempWorkspace;
use crate::common::local::{Cleanup, run};

fn with_canary(ws: &TempWorkspace, canary: &str) {
    let mut v: Value = serde_json::from_str(&ws.read("scalewize.json")).unwrap();
    v["rollout"] = json!({"canary": [canary]});
    ws.write("scalewize.json", &serde_json::to_string_pretty(&v).unwrap());
}

/// The shared wave failed: exit 1, and every client's row says it was not touched.
fn assert_shared_wave_stopped_everyone(r: &crate::common::Run) {
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("rollout stopped: the shared wave failed"),
        "{r:?}"
    );
    for c in ["client-a", "client-b", "client-c"] {
        assert!(
            r.stdout
                .lines()
                .any(|l| l.starts_with(c) && l.contains("not touched")),
            "{c}: {r:?}"
        );
    }
}

#[test]
fn waves_deploy_shared_servers_then_the_canary_then_everyone_else() {
    let ws = TempWorkspace::example();
    let _cleanup = Cleanup::new(&ws);
    with_canary(&ws, "client-b");
    let r = run(&ws, &["deploy", "--all", "--waves", "1,100%", "--yes"]);
    assert_eq!(r.code, 0, "{r:?}");
    let shared = r
        .stdout
        .find("shared (1/3): shared servers")
        .expect("a shared wave");
    let canary = r
        .stdout
        .find("wave 1 (2/3): client-b")
        .expect("the canary's wave");
    let rest = r
        .stdout
        .find("wave 2 (3/3): client-a, client-c")
        .expect("everyone else");
    assert!(shared < canary && canary < rest, "{r:?}");
    for c in ["client-a", "client-b", "client-c"] {
        assert!(
            r.stdout
                .lines()
                .any(|l| l.starts_with(c) && l.contains(" wave ") && l.contains("deployed")),
            "{c} deployed: {r:?}"
        );
    }
}

#[test]
fn a_canary_that_fails_its_wave_stops_the_rollout_and_touches_no_one_else() {
    let ws = TempWorkspace::example();
    let _cleanup = Cleanup::new(&ws);
    with_canary(&ws, "client-b");
    // The canary's ERP server is told to offer a tool it does not have: it refuses to start.
    ws.edit_server("client-b", "Custom ERP", |erp| {
        erp["tools"] = json!({"allow": ["no_such_tool"]});
    });
    assert_eq!(run(&ws, &["render", "client-b"]).code, 0);

    let r = run(
        &ws,
        &[
            "deploy",
            "--all",
            "--waves",
            "1,100%",
            "--yes",
            "--wait-timeout",
            "20",
        ],
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("rollout stopped"), "{r:?}");
    let line = |c: &str| {
        r.stdout
            .lines()
            .find(|l| l.starts_with(c) && l.contains(" wave "))
            .unwrap_or_default()
            .to_string()
    };
    assert!(line("client-b").contains("failed"), "{r:?}");
    for c in ["client-a", "client-c"] {
        assert!(line(c).contains("not touched"), "{c}: {r:?}");
        // Nothing of theirs was started: status finds their services missing.
        let s = run(&ws, &["status", c, "--json"]);
        let v: Value = serde_json::from_str(&s.stdout).unwrap();
        for svc in v["services"].as_array().unwrap() {
            let owned = svc["key"]["owner"] == c;
            if owned {
                assert_eq!(svc["state"], "missing", "{c}: {svc}");
            }
        }
    }
}

/// On Fly (here: the emulator, whose URLs this machine cannot reach) a wave is gated on what
/// the platform says — the machine's own health check — and a failing one stops the rollout.
#[test]
fn on_fly_waves_are_gated_on_the_platforms_health_and_a_critical_check_stops_them() {
    use crate::fly_support as fly;
    let emu = fly::emulator();
    let ws = fly::workspace();
    with_canary(&ws, "client-b");
    assert_eq!(ws.run(&["render", "--all"]).code, 0);
    let r = fly::run(
        &ws,
        &emu,
        &[
            "deploy",
            "--all",
            "--platform",
            "fly",
            "--waves",
            "1,100%",
            "--yes",
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("wave 1 (2/3): client-b"), "{r:?}");
    assert!(r.stdout.contains("gated on fly's health"), "{r:?}");

    let sick = fly_emulator::Emulator::start(fly::config().health(fly_emulator::Health {
        stay_critical: true,
        ..fly_emulator::Health::default()
    }));
    let ws = fly::workspace();
    with_canary(&ws, "client-b");
    let r = fly::run(
        &ws,
        &sick,
        &[
            "deploy",
            "--all",
            "--platform",
            "fly",
            "--waves",
            "1,100%",
            "--yes",
            "--wait-timeout",
            "3",
        ],
    );
    assert_shared_wave_stopped_everyone(&r);
    // No app of any client was created (the platform lock's app is scalewize's own).
    let apps: Vec<String> = sick
        .requests()
        .into_iter()
        .filter(|q| q.method == "POST" && q.path == "/v1/apps")
        .filter_map(|q| q.json.and_then(|j| j["name"].as_str().map(str::to_string)))
        .collect();
    assert!(
        apps.iter()
            .all(|a| a.contains("-shared-") || a.ends_with("-scalewize-lock")),
        "{apps:?}"
    );
    assert!(apps.iter().any(|a| a.contains("-shared-")), "{apps:?}");
}

#[test]
fn a_saved_plan_records_the_waves_and_deploy_plan_follows_them() {
    let ws = TempWorkspace::example();
    let _cleanup = Cleanup::new(&ws);
    let mut v: Value = serde_json::from_str(&ws.read("scalewize.json")).unwrap();
    v["rollout"] = json!({"canary": ["client-c"], "waves": ["1", "100%"]});
    ws.write("scalewize.json", &serde_json::to_string_pretty(&v).unwrap());
    let d = run(&ws, &["diff", "--out", "plan.json"]);
    assert_eq!(d.code, 0, "{d:?}");
    let saved: Value = serde_json::from_str(&ws.read("plan.json")).unwrap();
    assert_eq!(saved["waves"]["sizes"], json!(["1", "100%"]), "{saved}");
    assert_eq!(saved["waves"]["canary"], json!(["client-c"]));
    let r = run(&ws, &["deploy", "--plan", "plan.json", "--yes"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("wave 1 (2/3): client-c"), "{r:?}");
}

/// On Railway (the emulator) a wave is gated on the deployments' status; a deployment that waits
/// for approval fails the shared wave, and no client's project is created.
#[test]
fn on_railway_waves_are_gated_on_deployment_status_and_a_failed_wave_stops_them() {
    use crate::railway_support as rw;
    let emu = rw::start(1, railway_emulator::Faults::none());
    let ws = rw::workspace();
    with_canary(&ws, "client-b");
    let waves = [
        "deploy",
        "--all",
        "--platform",
        "railway",
        "--waves",
        "1,100%",
        "--yes",
    ];
    let r = rw::run(&ws, &emu, &waves, &[]);
    assert_eq!(r.code, 0, "{r:?}");
    let canary = r
        .stdout
        .find("wave 1 (2/3): client-b")
        .expect("canary wave");
    let rest = r
        .stdout
        .find("wave 2 (3/3): client-a, client-c")
        .expect("the rest");
    assert!(canary < rest, "{r:?}");
    assert!(r.stdout.contains("gated on railway's health"), "{r:?}");

    let waiting = railway_emulator::Emulator::start(
        railway_emulator::Config::default()
            .with_time_scale(rw::TIME_SCALE)
            .with_faults(railway_emulator::Faults::none())
            .with_behaviour(railway_emulator::Behaviour {
                approval_required: true,
                ..railway_emulator::Behaviour::default()
            }),
    );
    let ws = rw::workspace();
    with_canary(&ws, "client-b");
    let r = rw::run(&ws, &waiting, &waves, &[]);
    assert_shared_wave_stopped_everyone(&r);
    let projects: Vec<String> = waiting
        .requests()
        .into_iter()
        .filter(|q| q.root_fields == ["projectCreate"])
        .filter_map(|q| q.variables["input"]["name"].as_str().map(str::to_string))
        .collect();
    assert!(!projects.is_empty(), "the shared wave ran");
    assert!(
        projects.iter().all(|p| !p.contains("client-")),
        "{projects:?}"
    );
}
