//! Deploys under faults, against the Fly emulator: 50 seeds, each injecting at least one lost
//! response, one 408-but-created machine, one 429 and an app-creation lag (plus 5xx, lease
//! conflicts and latency at random), all exit 0 and end in the state of a fault-free deploy with
//! no request sent to a rate bucket before its announced backoff; and a first deploy cut off
//! after request k, for every k, converges on re-run. Each ends with a no-op redeploy that
//! makes zero mutating requests.

use crate::common;
use crate::fly_support;

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use fly_emulator::{Emulator, EmulatorHandle, Faults};
use fly_support::*;
use serde_json::Value;

const CLIENT: &str = "client-c";
const SEEDS: u64 = 50;
const WORKERS: usize = 4;

/// Run `job(i)` for every i in 0..n on a few threads, each with its own workspace; collect the
/// failures (so one bad seed does not hide the others).
fn parallel(n: usize, job: impl Fn(&common::TempWorkspace, usize) -> Result<(), String> + Sync) {
    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..WORKERS {
            s.spawn(|| {
                let ws = workspace();
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= n {
                        break;
                    }
                    if let Err(e) = job(&ws, i) {
                        failures.lock().unwrap().push(e);
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} failure(s):\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// The fault-free deploy: its normalised end state and how many requests it made.
fn reference() -> (Value, u64) {
    let emu = emulator();
    let ws = workspace();
    let r = run(&ws, &emu, &["deploy", CLIENT, "--yes"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_api_names(&emu);
    (normalized(&emu), emu.request_count())
}

fn check(cond: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if cond { Ok(()) } else { Err(what()) }
}

/// A second deploy with nothing changed writes nothing.
fn no_op(ws: &common::TempWorkspace, emu: &EmulatorHandle, label: &str) -> Result<(), String> {
    emu.clear_faults();
    emu.clear_requests();
    let r = run(ws, emu, &["deploy", CLIENT, "--yes"]);
    check(r.code == 0 && r.stdout.contains("No changes"), || {
        format!("{label}: the redeploy was not a no-op: {r:?}")
    })?;
    let writes = mutations(emu);
    check(writes.is_empty(), || {
        format!("{label}: the no-op redeploy wrote: {writes:?}")
    })
}

#[test]
fn fifty_fault_injected_deploys_end_like_a_fault_free_one() {
    let (expected, _) = reference();
    parallel(SEEDS as usize, |ws, i| {
        let seed = 1000 + i as u64;
        let label = format!("seed {seed}");
        let emu = Emulator::start(config().faults(Faults::chaos(seed, 3, 0.03)));
        let r = run(ws, &emu, &["deploy", CLIENT, "--yes"]);
        let trace = || emu.golden_lines().join("\n");
        check(r.code == 0, || {
            format!("{label}: exit {}: {r:?}\n{}", r.code, trace())
        })?;
        let f = emu.fault_counts();
        check(
            f.lost_response >= 1
                && f.timeout_but_created >= 1
                && f.too_many_requests >= 1
                && f.app_create_lag >= 1,
            || format!("{label}: not every fault was injected: {f:?}"),
        )?;
        let early = emu.rate_violations();
        check(early.is_empty(), || {
            format!("{label}: requests before their backoff: {early:?}")
        })?;
        let got = normalized(&emu);
        check(got == expected, || {
            format!(
                "{label}: end state differs from a fault-free deploy:\n{}\nvs\n{}\n{}",
                serde_json::to_string_pretty(&got).unwrap(),
                serde_json::to_string_pretty(&expected).unwrap(),
                trace()
            )
        })?;
        no_op(ws, &emu, &label)?;
        assert_api_names(&emu);
        Ok(())
    });
}

#[test]
fn a_first_deploy_cut_off_after_any_request_converges_on_rerun() {
    let (expected, n) = reference();
    assert!(n > 20, "a first deploy of {CLIENT} makes {n} requests");
    parallel(n as usize, |ws, i| {
        let k = i as u64 + 1;
        let label = format!("cut after request {k} of {n}");
        let emu = emulator();
        emu.set_stop_after(Some(k));
        let first = run(ws, &emu, &["deploy", CLIENT, "--yes"]);
        emu.set_stop_after(None);
        let again = run(ws, &emu, &["deploy", CLIENT, "--yes"]);
        check(again.code == 0, || {
            format!(
                "{label}: the re-run failed: {again:?}\n(first run: exit {})\n{}",
                first.code,
                emu.golden_lines().join("\n")
            )
        })?;
        // A run cut off while holding the platform lock leaves it behind; when the re-run had
        // nothing left to change it took no lock, so it is still there: stale (its process is
        // gone), reported so, and freed by `lock release`.
        let lock = run(ws, &emu, &["lock", "status", "--platform", "fly", "--json"]);
        let lock: Value = serde_json::from_str(&lock.stdout).unwrap_or_default();
        if lock["locks"][0]["state"] == "held" {
            check(
                lock["locks"][0]["stale"] == true || lock["locks"][0].get("run").is_none(),
                || format!("{label}: a lock left by the cut-off run is not reported stale: {lock}"),
            )?;
            let rel = run(ws, &emu, &["lock", "release", "--platform", "fly", "--yes"]);
            check(rel.code == 0, || {
                format!("{label}: lock release failed: {rel:?}")
            })?;
        }
        let got = normalized(&emu);
        check(got == expected, || {
            format!(
                "{label}: end state differs from an uninterrupted deploy:\n{}\nvs\n{}\n{}",
                serde_json::to_string_pretty(&got).unwrap(),
                serde_json::to_string_pretty(&expected).unwrap(),
                emu.golden_lines().join("\n")
            )
        })?;
        no_op(ws, &emu, &label)?;
        assert_api_names(&emu);
        Ok(())
    });
}

/// Change every per-user instance (a manifest setting) and one user's secret.
fn change(ws: &common::TempWorkspace) {
    set_json(
        ws,
        "custom-mcp-servers/clients/client-c/servicedesk-mcp/scalewize.json",
        |v| v["env"]["SDP_BASE_URL"] = serde_json::json!("https://sdp.example/app/itdesk"),
    );
    let r = ws.run(&["render", CLIENT]);
    assert_eq!(r.code, 0, "{r:?}");
}

const ROTATED: (&str, &str) = (
    "SCALEWIZE_SECRET_CLIENT_C__ALICE__SDP_CLIENT_SECRET",
    "rotated-client-secret-of-alice",
);

#[test]
fn updates_under_faults_and_lease_conflicts_end_like_fault_free_ones() {
    // The fault-free update.
    let emu = emulator();
    let ws = workspace();
    assert_eq!(run(&ws, &emu, &["deploy", CLIENT, "--yes"]).code, 0);
    change(&ws);
    let r = run_with(&ws, &emu, &["deploy", CLIENT, "--yes"], &[ROTATED]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("3 to update"), "{r:?}");
    let expected = normalized(&emu);
    drop(emu);

    parallel(12, |base, i| {
        let seed = 5000 + i as u64;
        let label = format!("update, seed {seed}");
        let emu = emulator();
        let r = run(base, &emu, &["deploy", CLIENT, "--yes"]);
        check(r.code == 0, || format!("{label}: first deploy: {r:?}"))?;
        // A copy of the workspace with the change, so the worker's own stays as it was.
        let ws = workspace();
        change(&ws);
        emu.set_faults(Faults::chaos(seed, 3, 0.03));
        emu.clear_requests();
        let r = run_with(&ws, &emu, &["deploy", CLIENT, "--yes"], &[ROTATED]);
        let trace = || emu.golden_lines().join("\n");
        check(r.code == 0, || {
            format!("{label}: exit {}: {r:?}\n{}", r.code, trace())
        })?;
        let f = emu.fault_counts();
        check(
            f.lease_conflict >= 1 && f.lost_response >= 1 && f.too_many_requests >= 1,
            || format!("{label}: not every fault was injected: {f:?}"),
        )?;
        let early = emu.rate_violations();
        check(early.is_empty(), || {
            format!("{label}: requests before their backoff: {early:?}")
        })?;
        let got = normalized(&emu);
        check(got == expected, || {
            format!(
                "{label}: end state differs from a fault-free update:\n{}\nvs\n{}\n{}",
                serde_json::to_string_pretty(&got).unwrap(),
                serde_json::to_string_pretty(&expected).unwrap(),
                trace()
            )
        })?;
        emu.clear_faults();
        emu.clear_requests();
        let again = run_with(&ws, &emu, &["deploy", CLIENT, "--yes"], &[ROTATED]);
        check(again.code == 0 && mutations(&emu).is_empty(), || {
            format!(
                "{label}: the redeploy was not a no-op: {again:?} {:?}",
                mutations(&emu)
            )
        })?;
        assert_api_names(&emu);
        Ok(())
    });
}

#[test]
fn stricter_limits_than_documented_are_honoured() {
    // An implementation with smaller buckets than Fly documents: its 429s (with Retry-After)
    // are waited out bucket by bucket, and without Retry-After a backoff applies.
    let (expected, _) = reference();
    for retry_after in [true, false] {
        let tight = fly_emulator::BucketSpec {
            rate: 1.0,
            burst: 1.0,
        };
        let mut cfg = config().rate_limits(fly_emulator::RateLimits {
            enabled: true,
            per_action: tight,
            get_machine: tight,
            app_delete: tight,
        });
        cfg.retry_after = retry_after;
        let emu = Emulator::start(cfg);
        let ws = workspace();
        let r = run(&ws, &emu, &["deploy", CLIENT, "--yes"]);
        assert_eq!(r.code, 0, "{r:?}\n{}", emu.golden_lines().join("\n"));
        assert!(
            emu.counters().rate_limited > 0,
            "the tighter buckets were hit"
        );
        assert_eq!(emu.rate_violations(), vec![]);
        assert_eq!(normalized(&emu), expected);
        no_op(&ws, &emu, "tight limits").unwrap();
        let r = run(&ws, &emu, &["destroy", CLIENT, "--yes"]);
        assert_eq!(r.code, 0, "{r:?}");
        assert!(app_names(&emu).is_empty());
        assert_eq!(emu.rate_violations(), vec![]);
    }
}

#[test]
fn an_app_whose_collections_lag_behind_it_is_waited_for() {
    // notes §9.1: machine (and secrets, IP) calls right after an app is created may 404 even
    // once the app answers. The step waits them out itself, without failing or starting over.
    let (expected, _) = reference();
    let mut faults = Faults::none();
    faults.app_create_lag = fly_emulator::Fault::always();
    faults.app_lag_secs = (3.0, 6.0);
    faults.app_lag_partial = true;
    let emu = Emulator::start(config().faults(faults));
    let ws = workspace();
    let r = run(&ws, &emu, &["deploy", CLIENT, "--yes"]);
    assert_eq!(r.code, 0, "{r:?}\n{}", emu.golden_lines().join("\n"));
    assert!(
        emu.fault_counts().app_lag_404 >= 4,
        "{:?}",
        emu.fault_counts()
    );
    assert!(
        !r.stderr.contains("attempt 2/"),
        "a step started over: {r:?}"
    );
    assert_eq!(normalized(&emu), expected);
    no_op(&ws, &emu, "partial lag").unwrap();
}
