//! The platform lock on Fly (`src/platform/fly/lock.rs`), driven through the real binary against
//! the Fly emulator: two checkouts (two "machines": their workspace file locks do not see each
//! other) deploying at once take turns; `lock status` names a holder; `lock release` frees it;
//! a killed holder's lock is reported as stale with its age and taken over.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{bin, now_unix};
use crate::fly_support::{ORG, TOKEN, emulator, env, run, run_with, workspace};
use fly_emulator::EmulatorHandle;

const LOCK_APP: &str = "sw-scalewize-lock";

fn is_lock_create(r: &fly_emulator::LoggedRequest) -> bool {
    r.method == "POST"
        && r.path == "/v1/apps"
        && r.json.as_ref().and_then(|b| b["name"].as_str()) == Some(LOCK_APP)
}

/// Every change to a service happened while exactly one run held the lock, and the lock was
/// taken and released in turn (never taken twice without a release between).
fn assert_never_interleaved(emu: &EmulatorHandle) -> usize {
    let mut held = false;
    let mut turns = 0;
    for r in emu.mutating_requests() {
        let status = r.status.unwrap_or(0);
        if is_lock_create(&r) {
            if status == 201 {
                assert!(!held, "the lock was taken while held (request {})", r.seq);
                held = true;
                turns += 1;
            }
        } else if r.method == "DELETE" && r.path == format!("/v1/apps/{LOCK_APP}") {
            held = false;
        } else if !r.path.starts_with(&format!("/v1/apps/{LOCK_APP}")) {
            assert!(
                held,
                "{} {} was sent while no run held the lock",
                r.method, r.path
            );
        }
    }
    assert!(!held, "the lock is still held at the end");
    turns
}

#[test]
fn two_deploys_from_two_machines_at_once_take_turns_and_never_interleave() {
    let emu = emulator();
    let (a, b) = (workspace(), workspace());
    let args = ["deploy", "client-b", "--platform", "fly", "--yes"];
    let (ra, rb) = std::thread::scope(|s| {
        let ta = s.spawn(|| run(&a, &emu, &args));
        let tb = s.spawn(|| run(&b, &emu, &args));
        (ta.join().unwrap(), tb.join().unwrap())
    });
    for r in [&ra, &rb] {
        assert_eq!(r.code, 0, "{r:?}");
    }
    let turns = assert_never_interleaved(&emu);
    assert!(turns >= 1, "the lock was taken");
    // Both wanted changes at first; whichever came second waited (or found the lock free after
    // the first was done), then planned against what the first built: nothing left to change.
    let creates = emu
        .mutating_requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/v1/apps" && !is_lock_create(r))
        .count();
    let apps: Vec<String> = emu.snapshot().apps.iter().map(|a| a.name.clone()).collect();
    assert_eq!(creates, apps.len(), "each app created once: {apps:?}");
    assert!(!apps.iter().any(|a| a == LOCK_APP), "released: {apps:?}");
}

/// Plant a lock as a run on another machine would hold it (the test talks to the emulator).
fn plant(emu: &EmulatorHandle, note: &Value, network: &str) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let c = reqwest::Client::new();
        let auth = scalewize::platform::fly::authorization(TOKEN);
        let r = c
            .post(format!("{}/v1/apps", emu.url()))
            .header("authorization", &auth)
            .json(&json!({"name": LOCK_APP, "org_slug": ORG, "network": network}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let name = format!(
            "SCALEWIZE_LOCK_{}",
            hex::encode_upper(serde_json::to_vec(note).unwrap())
        );
        let r = c
            .post(format!("{}/v1/apps/{LOCK_APP}/secrets", emu.url()))
            .header("authorization", &auth)
            .json(&json!({"values": {name: "held"}}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{r:?}");
    });
}

#[test]
fn a_lock_held_elsewhere_makes_deploy_wait_then_fail_naming_holder_run_since_and_the_fix() {
    let emu = emulator();
    let ws = workspace();
    let note = json!({"holder": "ci@runner-7", "pid": 4242, "run": "deploy client-a",
        "since": "2026-12-03T07:00:00Z", "since_unix": now_unix() - 125, "message": "job 991"});
    plant(&emu, &note, "scalewize-lock-00000000-4242");

    let status = run(&ws, &emu, &["lock", "status", "--platform", "fly"]);
    assert_eq!(status.code, 0, "{status:?}");
    for want in [
        "fly: held by ci@runner-7 (pid 4242)",
        "`deploy client-a`",
        "since 2026-12-03T07:00:00Z",
        "2m ",
        LOCK_APP,
    ] {
        assert!(status.stdout.contains(want), "{want}: {status:?}");
    }
    let json_status = run(
        &ws,
        &emu,
        &["lock", "status", "--platform", "fly", "--json"],
    );
    let v: Value = serde_json::from_str(&json_status.stdout).expect("json");
    assert_eq!(v["locks"][0]["state"], "held", "{v}");
    assert_eq!(v["locks"][0]["message"], "job 991", "{v}");
    assert!(v["locks"][0]["age_secs"].as_u64().unwrap() >= 125, "{v}");

    let start = Instant::now();
    let r = run(
        &ws,
        &emu,
        &[
            "deploy",
            "client-b",
            "--platform",
            "fly",
            "--yes",
            "--lock-timeout",
            "1",
        ],
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(start.elapsed() >= Duration::from_secs(1), "it waited");
    for want in [
        "waiting up to 1 s for the fly lock",
        "ci@runner-7 (pid 4242)",
        "`deploy client-a`",
        "since 2026-12-03T07:00:00Z",
        "scalewize lock release --platform fly",
    ] {
        assert!(r.stderr.contains(want), "{want}: {r:?}");
    }
    assert!(
        emu.mutating_requests()
            .iter()
            .all(|q| q.path.starts_with("/v1/apps")
                && (is_lock_create(q) || q.path.contains(LOCK_APP))),
        "nothing but lock attempts was sent"
    );

    let rel = run(
        &ws,
        &emu,
        &["lock", "release", "--platform", "fly", "--yes"],
    );
    assert_eq!(rel.code, 0, "{rel:?}");
    assert!(rel.stdout.contains("fly: released"), "{rel:?}");
    let after = run(&ws, &emu, &["lock", "status", "--platform", "fly"]);
    assert!(after.stdout.contains("fly: free"), "{after:?}");
    let again = run(
        &ws,
        &emu,
        &["lock", "release", "--platform", "fly", "--yes"],
    );
    assert!(
        again.stdout.contains("free, nothing to release"),
        "{again:?}"
    );
    let r = run(
        &ws,
        &emu,
        &["deploy", "client-b", "--platform", "fly", "--yes"],
    );
    assert_eq!(r.code, 0, "{r:?}");
}

/// Start a deploy that takes the lock, then stall the emulator and kill the deploy: the lock
/// stays behind as a killed holder leaves it.
fn killed_holder(ws: &crate::common::TempWorkspace, emu: &EmulatorHandle) -> u32 {
    // Observe (1), create the lock (2), record the holder (3); then nothing answers.
    emu.stop_answering_after(3);
    let mut cmd = Command::new(bin());
    cmd.args(["deploy", "client-b", "--platform", "fly", "--yes"])
        .current_dir(ws.path())
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in env(emu) {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let noted = || {
        emu.snapshot()
            .app(LOCK_APP)
            .is_some_and(|a| !a.secrets.is_empty())
    };
    while !noted() {
        assert!(Instant::now() < deadline, "the deploy never took the lock");
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = child.id();
    child.kill().unwrap();
    child.wait().unwrap();
    emu.set_stop_after(None);
    pid
}

#[test]
fn a_killed_holders_stale_lock_is_reported_with_its_age_and_released_by_lock_release() {
    let emu = emulator();
    let ws = workspace();
    let pid = killed_holder(&ws, &emu);
    let status = run(&ws, &emu, &["lock", "status", "--platform", "fly"]);
    assert_eq!(status.code, 0, "{status:?}");
    for want in [
        format!("(pid {pid})"),
        "`deploy client-b`".to_string(),
        " ago)".to_string(),
        "that process is gone from this machine".to_string(),
    ] {
        assert!(status.stdout.contains(&want), "{want}: {status:?}");
    }
    let rel = run(
        &ws,
        &emu,
        &["lock", "release", "--platform", "fly", "--yes"],
    );
    assert_eq!(rel.code, 0, "{rel:?}");
    assert!(emu.snapshot().app(LOCK_APP).is_none(), "released");
}

#[test]
fn a_killed_holders_stale_lock_is_taken_over_by_the_next_deploy_on_that_machine() {
    let emu = emulator();
    let ws = workspace();
    killed_holder(&ws, &emu);
    let r = run_with(
        &ws,
        &emu,
        &["deploy", "client-b", "--platform", "fly", "--yes"],
        &[("SCALEWIZE_LOCK_MESSAGE", "retry after a crash")],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        emu.snapshot().app(LOCK_APP).is_none(),
        "released at the end"
    );
}
