//! The platform lock on Railway (`src/platform/railway/lock.rs`), through the real binary against
//! the Railway emulator: a service whose name is unique in the lock project. Two checkouts (two
//! "machines") deploying at once take turns; a lock held elsewhere makes deploy wait, then fail
//! naming its holder and the fix; `lock status`/`lock release` show and free it; a lock left by a
//! killed process of this machine is taken over.

use std::time::{Duration, Instant};

use railway_emulator::{EmulatorHandle, Faults, RequestRecord};
use serde_json::{Value, json};

use crate::common::now_unix;
use crate::railway_support as rw;

/// Whether `r` is a `serviceCreate` of the lock service that created it.
fn took_lock(r: &RequestRecord) -> bool {
    r.root_fields == ["serviceCreate"]
        && r.variables["input"]["name"] == "lock"
        && r.response
            .as_ref()
            .is_some_and(|v| v["data"]["serviceCreate"].is_object())
}

/// Every change to a client's or shared service happened while exactly one run held the lock,
/// taken and released in turn. Returns how many times it was taken.
fn assert_never_interleaved(emu: &EmulatorHandle) -> usize {
    let log = emu.requests();
    let names = rw::names(emu);
    let lock_service = format!("<service {}/lock>", rw::LOCK_PROJECT);
    let mut held = false;
    let mut turns = 0;
    for r in rw::mutations(&log) {
        let subject = rw::subject(r, &names, emu);
        if took_lock(r) {
            assert!(!held, "the lock was taken while held (request {})", r.seq);
            held = true;
            turns += 1;
        } else if r.root_fields == ["serviceDelete"] && subject == lock_service {
            held = false;
        } else if !subject.contains(rw::LOCK_PROJECT) {
            assert!(
                held,
                "{subject} changed while no run held the lock (request {})",
                r.seq
            );
        }
    }
    assert!(!held, "the lock is still held at the end");
    turns
}

/// Take the lock as another run would: the lock project (marked) and the lock service with
/// `note`, straight through the API.
fn plant(emu: &EmulatorHandle, note: &Value) {
    let made = rw::gql(
        emu,
        "mutation($input: ProjectCreateInput!) { projectCreate(input: $input) { id environments { edges { node { id } } } } }",
        json!({"input": {"name": rw::LOCK_PROJECT, "workspaceId": railway_emulator::DEFAULT_WORKSPACE_ID,
            "description": "managed by scalewize; owner=scalewize-lock; do not edit"}}),
    );
    let project = &made["data"]["projectCreate"];
    let env = &project["environments"]["edges"][0]["node"]["id"];
    let svc = rw::gql(
        emu,
        "mutation($input: ServiceCreateInput!) { serviceCreate(input: $input) { id } }",
        json!({"input": {"projectId": project["id"], "environmentId": env, "name": "lock",
            "variables": {"SCALEWIZE_LOCK_NOTE": note.to_string()}}}),
    );
    assert!(svc["data"]["serviceCreate"]["id"].is_string(), "{svc}");
}

#[test]
fn two_deploys_from_two_machines_at_once_take_turns_and_never_interleave() {
    let emu = rw::start(11, Faults::none());
    let (a, b) = (rw::workspace(), rw::workspace());
    let args = ["deploy", "client-b", "--platform", "railway", "--yes"];
    let (ra, rb) = std::thread::scope(|s| {
        let ta = s.spawn(|| rw::run(&a, &emu, &args, &[]));
        let tb = s.spawn(|| rw::run(&b, &emu, &args, &[]));
        (ta.join().unwrap(), tb.join().unwrap())
    });
    assert_eq!(ra.code, 0, "{ra:?}");
    assert_eq!(rb.code, 0, "{rb:?}");
    let turns = assert_never_interleaved(&emu);
    assert!(turns >= 1, "the lock was taken");
    // One lock project, even though both runs may have looked for it at once.
    let lock_projects = emu
        .snapshot()
        .projects
        .iter()
        .filter(|p| p.name == rw::LOCK_PROJECT)
        .count();
    assert_eq!(lock_projects, 1);
    assert_eq!(rw::live_lock_holder(&emu), None);
}

#[test]
fn a_lock_held_elsewhere_makes_deploy_wait_then_fail_naming_holder_and_the_fix() {
    let emu = rw::start(12, Faults::none());
    let ws = rw::workspace();
    let note = json!({"holder": "ci@runner-7", "pid": 4242, "run": "deploy client-a",
        "since": "2026-12-03T07:00:00Z", "since_unix": now_unix() - 125, "message": "job 991"});
    plant(&emu, &note);

    let status = rw::run(&ws, &emu, &["lock", "status", "--platform", "railway"], &[]);
    assert_eq!(status.code, 0, "{status:?}");
    for want in [
        "railway: held by ci@runner-7 (pid 4242)",
        "`deploy client-a`",
        "sw-scalewize-lock",
    ] {
        assert!(status.stdout.contains(want), "{want}: {status:?}");
    }
    let json_status = rw::run(
        &ws,
        &emu,
        &["lock", "status", "--platform", "railway", "--json"],
        &[],
    );
    let v: Value = serde_json::from_str(&json_status.stdout).expect("json");
    assert_eq!(v["locks"][0]["state"], "held", "{v}");
    assert_eq!(v["locks"][0]["message"], "job 991", "{v}");

    let before = emu.request_count();
    let start = Instant::now();
    let r = rw::run(
        &ws,
        &emu,
        &[
            "deploy",
            "client-b",
            "--platform",
            "railway",
            "--yes",
            "--lock-timeout",
            "1",
        ],
        &[],
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(start.elapsed() >= Duration::from_secs(1), "it waited");
    for want in [
        "waiting up to 1 s for the railway lock",
        "ci@runner-7 (pid 4242)",
        "since 2026-12-03T07:00:00Z",
        "scalewize lock release --platform railway",
    ] {
        assert!(r.stderr.contains(want), "{want}: {r:?}");
    }
    let sent = rw::since(&emu, before as usize);
    assert!(
        rw::mutations(&sent)
            .iter()
            .all(|q| q.root_fields == ["serviceCreate"] && q.variables["input"]["name"] == "lock"),
        "nothing but lock attempts was sent"
    );

    let rel = rw::run(
        &ws,
        &emu,
        &["lock", "release", "--platform", "railway", "--yes"],
        &[],
    );
    assert_eq!(rel.code, 0, "{rel:?}");
    let after = rw::run(&ws, &emu, &["lock", "status", "--platform", "railway"], &[]);
    assert!(after.stdout.contains("railway: free"), "{after:?}");
    rw::deploy(&ws, &emu, &["client-b"]);
}

#[test]
fn a_lock_left_by_a_gone_process_of_this_machine_is_taken_over() {
    let emu = rw::start(13, Faults::none());
    let ws = rw::workspace();
    // A pid that cannot be running: above the kernel's pid limit.
    let host = scalewize::lock::hostname();
    let note = json!({"holder": format!("ci@{host}"), "pid": 4_194_305u32, "run": "deploy client-b",
        "since": "2026-12-03T07:00:00Z", "since_unix": now_unix() - 60, "message": ""});
    plant(&emu, &note);
    let status = rw::run(&ws, &emu, &["lock", "status", "--platform", "railway"], &[]);
    assert!(status.stdout.contains("that process is gone"), "{status:?}");
    let r = rw::deploy(&ws, &emu, &["client-b"]);
    assert!(
        !r.stderr.contains("waiting up to"),
        "taken over at once: {r:?}"
    );
    assert_eq!(rw::live_lock_holder(&emu), None);
}
