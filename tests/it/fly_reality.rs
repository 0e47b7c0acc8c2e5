//! Fly as fly-go and flyctl say it behaves (notes §11): health checks that are listed only some
//! time after `started` and can stay critical, and IP assignments that carry the org.

use fly_emulator::{Emulator, Health};

use crate::fly_support as fly;

/// The wait timeout is wall-clock seconds (not scaled): 3 s is 300 emulated seconds.
const DEPLOY_SHORT_WAIT: [&str; 7] = [
    "deploy",
    "client-b",
    "--platform",
    "fly",
    "--yes",
    "--wait-timeout",
    "3",
];

fn start_with(health: Health) -> fly_emulator::EmulatorHandle {
    Emulator::start(fly::config().health(health))
}

#[test]
fn a_machine_whose_check_stays_critical_fails_the_deploy_naming_the_app_and_check() {
    let emu = start_with(Health {
        stay_critical: true,
        ..Health::default()
    });
    let ws = fly::workspace();
    let r = fly::run(&ws, &emu, &DEPLOY_SHORT_WAIT);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("did not become healthy"), "{r:?}");
    assert!(
        r.stderr.contains("health check \"health\" critical"),
        "{r:?}"
    );
    assert!(
        r.stderr.contains("(Fly app sw-client-b-"),
        "the app is named: {r:?}"
    );
}

#[test]
fn checks_that_are_not_listed_yet_are_not_healthy() {
    // Listed an hour after `started`: far past the wait timeout.
    let emu = start_with(Health {
        checks_after: 3600.0,
        ..Health::default()
    });
    let ws = fly::workspace();
    let r = fly::run(&ws, &emu, &DEPLOY_SHORT_WAIT);
    assert_eq!(r.code, 1, "an empty checks list is not healthy: {r:?}");
    assert!(r.stderr.contains("not reported yet"), "{r:?}");
}

#[test]
fn checks_that_appear_late_are_waited_for() {
    let emu = start_with(Health {
        checks_after: 20.0,
        ..Health::default()
    });
    let ws = fly::workspace();
    let r = fly::run(
        &ws,
        &emu,
        &["deploy", "client-b", "--platform", "fly", "--yes"],
    );
    assert_eq!(r.code, 0, "{r:?}");
    let status = fly::run(
        &ws,
        &emu,
        &["status", "client-b", "--platform", "fly", "--json"],
    );
    assert!(!status.stdout.contains("not reported yet"), "{status:?}");
}

#[test]
fn every_ip_assignment_names_the_org() {
    let emu = fly::emulator();
    let ws = fly::workspace();
    let r = fly::run(
        &ws,
        &emu,
        &["deploy", "client-b", "--platform", "fly", "--yes"],
    );
    assert_eq!(r.code, 0, "{r:?}");
    let assignments: Vec<_> = emu
        .requests()
        .into_iter()
        .filter(|q| q.method == "POST" && q.path.ends_with("/ip_assignments"))
        .collect();
    assert!(!assignments.is_empty());
    for a in assignments {
        assert_eq!(
            a.json.as_ref().unwrap()["org_slug"],
            fly::ORG,
            "{:?}",
            a.body
        );
    }
}
