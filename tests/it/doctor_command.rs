//! `scalewize doctor` against the emulators: exit 0 when everything a platform needs is there,
//! exit 1 with the fix for each thing that is not.

use serde_json::Value;

use crate::fly_support as fly;
use crate::railway_support as rw;

fn checks(stdout: &str) -> Vec<Value> {
    let v: Value = serde_json::from_str(stdout).expect("doctor --json prints JSON");
    assert_eq!(v["command"], "doctor");
    assert_eq!(v["version"], 1);
    v["checks"].as_array().unwrap().clone()
}

fn verdict<'a>(checks: &'a [Value], area: &str, name: &str) -> &'a Value {
    checks
        .iter()
        .find(|c| c["area"] == area && c["name"] == name)
        .unwrap_or_else(|| panic!("no {area}/{name} check in {checks:#?}"))
}

#[test]
fn a_configured_railway_workspace_token_passes_every_check() {
    let emu = rw::start(1, railway_emulator::Faults::none());
    let ws = rw::workspace();
    let r = rw::run(
        &ws,
        &emu,
        &["doctor", "--platform", "railway", "--json"],
        &[("RAILWAY_WORKSPACE_ID", "")],
    );
    assert_eq!(r.code, 0, "{r:?}");
    let c = checks(&r.stdout);
    assert_eq!(verdict(&c, "railway", "token")["verdict"], "ok");
    assert_eq!(verdict(&c, "railway", "workspace")["verdict"], "ok");
    let budget = verdict(&c, "railway", "rate limit");
    assert!(
        budget["detail"].as_str().unwrap().contains("requests left"),
        "the budget the server reported: {budget}"
    );
    assert_eq!(verdict(&c, "secrets", "identity")["verdict"], "ok");
    let lock = verdict(&c, "railway", "lock");
    assert_eq!(lock["verdict"], "ok");
    assert!(
        lock["detail"]
            .as_str()
            .unwrap()
            .contains("sw-scalewize-lock"),
        "{lock}"
    );
    // Nothing was written.
    assert!(rw::mutations(&emu.requests()).is_empty());
}

#[test]
fn a_missing_railway_token_is_a_problem_with_its_fix() {
    let emu = rw::start(1, railway_emulator::Faults::none());
    let ws = rw::workspace();
    let r = rw::run(
        &ws,
        &emu,
        &["doctor", "--platform", "railway"],
        &[("RAILWAY_API_TOKEN", "")],
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.contains("problem"), "{r:?}");
    assert!(
        r.stdout.contains("fix:") && r.stdout.contains("RAILWAY_API_TOKEN"),
        "{r:?}"
    );
}

#[test]
fn a_project_token_alone_is_refused_with_the_reason() {
    let emu = rw::start(1, railway_emulator::Faults::none());
    let ws = rw::workspace();
    let r = rw::run(
        &ws,
        &emu,
        &["doctor", "--platform", "railway", "--json"],
        &[
            ("RAILWAY_API_TOKEN", ""),
            ("RAILWAY_TOKEN", "a-project-token"),
        ],
    );
    assert_eq!(r.code, 1, "{r:?}");
    let c = checks(&r.stdout);
    let cred = verdict(&c, "railway", "credentials");
    assert_eq!(cred["verdict"], "problem");
    assert!(
        cred["detail"].as_str().unwrap().contains("project token"),
        "{cred}"
    );
}

#[test]
fn fly_passes_when_configured_and_names_an_unknown_org() {
    let emu = fly::emulator();
    let ws = fly::workspace();
    let ok = fly::run(&ws, &emu, &["doctor", "--platform", "fly", "--json"]);
    assert_eq!(ok.code, 0, "{ok:?}");
    let c = checks(&ok.stdout);
    assert_eq!(verdict(&c, "fly", "org")["verdict"], "ok");
    assert_eq!(verdict(&c, "fly", "region")["verdict"], "ok");
    let lock = verdict(&c, "fly", "lock");
    assert_eq!(lock["verdict"], "ok", "Fly keeps a platform lock: {lock}");
    assert!(
        lock["detail"].as_str().unwrap().contains("-scalewize-lock"),
        "{lock}"
    );

    let r = fly::run_with(
        &ws,
        &emu,
        &["doctor", "--platform", "fly"],
        &[("FLY_ORG", "not-our-org")],
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stdout.contains("not-our-org") && r.stdout.contains("fly orgs list"),
        "{r:?}"
    );
}

#[test]
fn fly_without_a_region_is_a_problem_with_its_fix() {
    let emu = fly::emulator();
    let ws = fly::workspace();
    fly::set_json(&ws, "scalewize.json", |v| {
        v["fly"].as_object_mut().unwrap().remove("region");
    });
    let r = fly::run(&ws, &emu, &["doctor", "--platform", "fly", "--json"]);
    assert_eq!(r.code, 1, "{r:?}");
    let c = checks(&r.stdout);
    let region = verdict(&c, "fly", "region");
    assert_eq!(region["verdict"], "problem");
    assert!(
        region["fix"].as_str().unwrap().contains("\"region\""),
        "{region}"
    );
}
