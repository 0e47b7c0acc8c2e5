//! Faults (SPEC §5): deploys of client-a against an emulator that loses create responses,
//! answers 429 and 5xx and serves lagging lists end in the very state a fault-free deploy
//! reaches, with no duplicate, and a following deploy changes nothing; a deploy killed after
//! any request of a first deploy converges when run again.

use crate::common;
use crate::railway_support;

use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use railway_emulator::{Faults, ForcedFault, InjectedFault, ListLag, StopAfter, StopMode};
use railway_support as rw;
use serde_json::Value;

const SEEDS: u64 = 50;
const THREADS: usize = 4;
/// Lists omit what is younger than up to this (emulated seconds)…
const LAG_SECS: u64 = 40;
/// …and scalewize is told lists may lag this much (`SCALEWIZE_RAILWAY_LIST_LAG_SECS`).
const LAG_BOUND: &str = "60";

/// Run `f` over `items` on a few threads; panics are collected and reported together.
fn parallel<T: Send + Sync>(items: &[T], f: impl Fn(&T) -> Result<(), String> + Sync) {
    let next = Mutex::new(0usize);
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                loop {
                    let i = {
                        let mut n = next.lock().unwrap();
                        *n += 1;
                        *n - 1
                    };
                    let Some(item) = items.get(i) else { return };
                    if let Err(e) = f(item) {
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

/// The state and layout of a fault-free first deploy of client-a.
fn reference() -> (Value, Vec<(String, Vec<String>)>, usize) {
    let emu = rw::start(0, Faults::none());
    let ws = rw::workspace();
    rw::deploy(&ws, &emu, &["client-a"]);
    rw::settle(&emu);
    (
        rw::state_without_history(&emu),
        rw::layout(&emu),
        emu.requests().len(),
    )
}

fn chaos() -> Faults {
    Faults {
        http_5xx: 0.03,
        lost_response: 0.04,
        rate_limit: 0.03,
        retry_after_secs: (1, 2),
        list_lag: Some(ListLag {
            probability: 1.0,
            max: Duration::from_secs(LAG_SECS),
        }),
        // Request 1 is the projects listing; 2 and 3 create the two projects (or, when the
        // listing had to be repeated, 3 and 5 do): they lose their responses. Then a 429 and a
        // 503 wherever they fall.
        forced: vec![
            (2, ForcedFault::ApplyThenDrop),
            (3, ForcedFault::ApplyThenDrop),
            (5, ForcedFault::ApplyThenDrop),
            (
                4,
                ForcedFault::RateLimit {
                    retry_after_secs: 1,
                },
            ),
            (6, ForcedFault::Status(503)),
        ],
        max_per_kind: Some(2),
        ..Faults::none()
    }
}

fn diff_text(a: &Value, b: &Value) -> String {
    let a = serde_json::to_string_pretty(a).unwrap();
    let b = serde_json::to_string_pretty(b).unwrap();
    similar::TextDiff::from_lines(&a, &b)
        .unified_diff()
        .header("fault-free", "this run")
        .to_string()
}

#[test]
fn fifty_seeds_of_faults_end_where_a_fault_free_deploy_does() {
    let (want, layout, _) = reference();
    let seeds: Vec<u64> = (1..=SEEDS).collect();
    let kinds = Mutex::new([0u64; 3]);
    parallel(&seeds, |&seed| {
        let emu = rw::start(seed, chaos());
        let ws = rw::workspace();
        let r = rw::run(
            &ws,
            &emu,
            &["deploy", "client-a", "--platform", "railway", "--yes"],
            &[("SCALEWIZE_RAILWAY_LIST_LAG_SECS", LAG_BOUND)],
        );
        if r.code != 0 {
            return Err(format!("seed {seed}: deploy failed: {r:?}"));
        }
        let c = emu.fault_counters();
        // Which fault lands where depends on timing (a request refused by a real 429 never
        // meets the 503 forced on its number; a list lag can end before the relist on a busy
        // machine): each kind must be exercised by the suite, and every seed loses a response.
        if c.lost_response() < 1 {
            return Err(format!("seed {seed}: no response was lost: {c:?}"));
        }
        {
            let mut seen = kinds.lock().unwrap();
            seen[0] += c.rate_limit_injected;
            seen[1] += c.http_5xx;
            seen[2] += c.list_lag;
        }
        // A create was applied and its response lost.
        let lost_create = emu.requests().into_iter().any(|q| {
            q.executed
                && q.root_fields.iter().any(|f| f.ends_with("Create"))
                && q.faults.iter().any(|f| {
                    matches!(
                        f,
                        InjectedFault::LostResponseDropped | InjectedFault::LostResponse504
                    )
                })
        });
        if !lost_create {
            return Err(format!("seed {seed}: no create lost its response"));
        }
        // Retry-After is honoured: only requests already on their way when a 429 was
        // answered (at most the concurrency, 8, around it) may arrive inside its wait.
        let log = emu.requests();
        for v in emu.retry_after_violations() {
            let near_429 = log.iter().any(|q| {
                q.status == Some(429)
                    && q.seq != v.seq
                    && q.rate_limited != Some(railway_emulator::RateLimited::RetryAfterNotElapsed)
                    && q.seq.abs_diff(v.seq) <= 8
            });
            if !near_429 {
                return Err(format!("seed {seed}: Retry-After not honoured: {v:?}"));
            }
        }
        rw::settle(&emu);
        if rw::layout(&emu) != layout {
            return Err(format!(
                "seed {seed}: duplicates or missing resources: {:?}",
                rw::layout(&emu)
            ));
        }
        let got = rw::state_without_history(&emu);
        if got != want {
            return Err(format!(
                "seed {seed}: state differs from a fault-free deploy:\n{}",
                diff_text(&want, &got)
            ));
        }
        emu.clear_faults();
        let before = emu.requests().len();
        let again = rw::run(
            &ws,
            &emu,
            &["deploy", "client-a", "--platform", "railway", "--yes"],
            &[],
        );
        let muts = rw::mutations(&rw::since(&emu, before)).len();
        if again.code != 0 || muts != 0 {
            return Err(format!(
                "seed {seed}: the following deploy made {muts} mutation(s): {again:?}"
            ));
        }
        Ok(())
    });
    let [rate_limited, http_5xx, lagged] = kinds.into_inner().unwrap();
    assert!(
        rate_limited > 0 && http_5xx > 0 && lagged > 0,
        "a fault kind was never exercised: 429 {rate_limited}, 5xx {http_5xx}, list lag {lagged}"
    );
}

/// Start a deploy in the background (to kill it).
fn spawn_deploy(
    ws: &common::TempWorkspace,
    emu: &railway_emulator::EmulatorHandle,
) -> std::process::Child {
    let mut cmd = Command::new(common::bin());
    cmd.args(["deploy", "client-a", "--platform", "railway", "--yes"])
        .current_dir(ws.path())
        .env("NO_COLOR", "1")
        .env_remove("SCALEWIZE_AGE_KEY")
        .env_remove("SCALEWIZE_AGE_KEY_FILE")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in rw::env(emu) {
        cmd.env(k, v);
    }
    cmd.spawn().expect("start scalewize")
}

#[test]
fn a_deploy_killed_after_any_request_converges_when_run_again() {
    let (want, layout, n) = reference();
    assert!(n > 20, "a first deploy makes {n} requests");
    let ks: Vec<u64> = (1..n as u64).collect();
    parallel(&ks, |&k| {
        let emu = rw::start(
            100 + k,
            Faults {
                stop_after: Some(StopAfter {
                    after: k,
                    mode: StopMode::Hang,
                }),
                ..Faults::none()
            },
        );
        let ws = rw::workspace();
        let mut child = spawn_deploy(&ws, &emu);
        // Request k+1 reaches the emulator (and is held, not applied), or the run ends first.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            if emu.request_count() > k || child.try_wait().unwrap().is_some() {
                break;
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                return Err(format!(
                    "k={k}: the deploy neither ended nor reached request {}",
                    k + 1
                ));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        let _ = child.kill();
        let _ = child.wait();
        emu.clear_faults();
        let applied = emu.requests().iter().filter(|r| r.executed).count();
        let r = rw::run(
            &ws,
            &emu,
            &["deploy", "client-a", "--platform", "railway", "--yes"],
            &[],
        );
        if r.code != 0 {
            return Err(format!(
                "k={k} ({applied} applied): the second deploy failed: {r:?}"
            ));
        }
        rw::settle(&emu);
        if rw::layout(&emu) != layout {
            return Err(format!("k={k}: {:?}", rw::layout(&emu)));
        }
        if let Some(pid) = rw::live_lock_holder(&emu) {
            return Err(format!(
                "k={k}: the platform lock is still held by pid {pid}"
            ));
        }
        let got = rw::state_without_history(&emu);
        if got != want {
            return Err(format!(
                "k={k}: state differs from an uninterrupted deploy:\n{}",
                diff_text(&want, &got)
            ));
        }
        Ok(())
    });
}

/// A diagnostic, not a check: `SEED=7 cargo test --test it railway_faults::replay -- --ignored
/// --nocapture` shows one seed's run and request log (`NOFAULTS=1`: without faults).
#[test]
#[ignore]
fn replay_one_seed() {
    let seed: u64 = std::env::var("SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let faults = if std::env::var_os("NOFAULTS").is_some() {
        Faults::none()
    } else {
        chaos()
    };
    let emu = rw::start(seed, faults);
    let ws = rw::workspace();
    let r = rw::run(
        &ws,
        &emu,
        &[
            "deploy",
            "client-a",
            "--platform",
            "railway",
            "--yes",
            "-vv",
        ],
        &[("SCALEWIZE_RAILWAY_LIST_LAG_SECS", LAG_BOUND)],
    );
    eprintln!("{}", r.stderr);
    for q in emu.requests() {
        eprintln!(
            "{} {} {:?} {:?} exec={} {:?}",
            q.seq,
            q.summary(),
            q.status,
            q.faults,
            q.executed,
            q.at_secs
        );
    }
    eprintln!("{:?}", emu.fault_counters());
}

fn change_crm_env(ws: &common::TempWorkspace) {
    ws.edit_server("client-a", "Custom CRM", |crm| {
        crm["deploy"] =
            serde_json::json!({"env": {"GHL_BASE_URL": "https://eu.leadconnectorhq.example"}});
    });
}

/// An update killed anywhere (notably between writing the variables and deploying them) is
/// finished by the next run: written-but-not-deployed configuration shows as not deployed.
#[test]
fn an_update_killed_after_any_request_is_finished_by_the_next_run() {
    // The reference: first deploy, then the update, uninterrupted.
    let emu = rw::start(200, Faults::none());
    let ws = rw::workspace();
    rw::deploy(&ws, &emu, &["client-a"]);
    let first = emu.requests().len() as u64;
    change_crm_env(&ws);
    assert_eq!(rw::run(&ws, &emu, &["render", "client-a"], &[]).code, 0);
    rw::deploy(&ws, &emu, &["client-a"]);
    rw::settle(&emu);
    let want = rw::state_without_history(&emu);
    let update = emu.requests().len() as u64 - first;
    drop(emu);

    let ks: Vec<u64> = (1..update).collect();
    parallel(&ks, |&k| {
        let emu = rw::start(200 + k, Faults::none());
        let ws = rw::workspace();
        rw::deploy(&ws, &emu, &["client-a"]);
        change_crm_env(&ws);
        assert_eq!(rw::run(&ws, &emu, &["render", "client-a"], &[]).code, 0);
        let n0 = emu.request_count();
        emu.set_faults(Faults {
            stop_after: Some(StopAfter {
                after: n0 + k,
                mode: StopMode::Hang,
            }),
            ..Faults::none()
        });
        let mut child = spawn_deploy(&ws, &emu);
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while emu.request_count() <= n0 + k && child.try_wait().unwrap().is_none() {
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                return Err(format!("k={k}: stuck"));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        let _ = child.kill();
        let _ = child.wait();
        emu.clear_faults();
        let r = rw::run(
            &ws,
            &emu,
            &["deploy", "client-a", "--platform", "railway", "--yes"],
            &[],
        );
        if r.code != 0 {
            return Err(format!("k={k}: the next deploy failed: {r:?}"));
        }
        rw::settle(&emu);
        if let Some(pid) = rw::live_lock_holder(&emu) {
            return Err(format!(
                "k={k}: the platform lock is still held by pid {pid}"
            ));
        }
        let got = rw::state_without_history(&emu);
        if got != want {
            return Err(format!(
                "k={k}: state differs from an uninterrupted update:\n{}",
                diff_text(&want, &got)
            ));
        }
        Ok(())
    });
}
