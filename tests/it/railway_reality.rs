//! Railway as its own CLI and docs say it behaves (notes §10), beyond the happy path: deployments
//! that wait for approval, serverless services that sleep.

use railway_emulator::{Behaviour, Config, Emulator, Faults};

use crate::railway_support as rw;

fn start_with(behaviour: Behaviour) -> railway_emulator::EmulatorHandle {
    Emulator::start(
        Config::default()
            .with_time_scale(rw::TIME_SCALE)
            .with_faults(Faults::none())
            .with_behaviour(behaviour),
    )
}

fn deployment_polls(emu: &railway_emulator::EmulatorHandle) -> usize {
    emu.requests()
        .iter()
        .filter(|r| r.root_fields == ["deployment"])
        .count()
}

#[test]
fn a_deployment_waiting_for_approval_fails_at_once_with_the_approval_hint() {
    let emu = start_with(Behaviour {
        approval_required: true,
        ..Behaviour::default()
    });
    let ws = rw::workspace();
    let r = rw::run(
        &ws,
        &emu,
        &["deploy", "client-b", "--platform", "railway", "--yes"],
        &[],
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("approve it in Railway"), "{r:?}");
    assert!(
        r.stderr.contains("custom-erp-mcp"),
        "the service is named: {r:?}"
    );
    // One look at each deployment is enough to know: no polling until the deadline.
    let services = 2; // client-b's LibreChat and its ERP server
    assert!(
        deployment_polls(&emu) <= services * 2,
        "polled {} times",
        deployment_polls(&emu)
    );
}

#[test]
fn a_sleeping_serverless_service_counts_as_deployed() {
    let emu = start_with(Behaviour {
        sleep_when_idle: true,
        ..Behaviour::default()
    });
    let ws = rw::workspace();
    rw::deploy(&ws, &emu, &["client-b"]);
    let before = emu.requests().len();
    let again = rw::deploy(&ws, &emu, &["client-b"]);
    assert!(again.stdout.contains("No changes"), "{again:?}");
    assert!(rw::mutations(&rw::since(&emu, before)).is_empty());
}

#[test]
fn a_retry_after_past_the_step_deadline_fails_at_once_saying_when_the_budget_resets() {
    use railway_emulator::ForcedFault;
    // Where the first write of a step falls in a fault-free run (after the platform lock's
    // project and service; observe is the same every time).
    let probe = rw::start(5, Faults::none());
    let ws = rw::workspace();
    rw::deploy(&ws, &probe, &["client-b"]);
    let log = probe.requests();
    let first_write = rw::mutations(&log)
        .into_iter()
        .find(|r| {
            let name = &r.variables["input"]["name"];
            name != rw::LOCK_PROJECT && name != "lock"
        })
        .unwrap()
        .seq;

    // Then an hour-long Retry-After (36 s at this time scale) on that write and the next ones.
    let mut faults = Faults::none();
    for seq in first_write..first_write + 20 {
        faults = faults.with_forced(
            seq,
            ForcedFault::RateLimit {
                retry_after_secs: 3600,
            },
        );
    }
    let emu = rw::start(5, faults);
    let ws = rw::workspace();
    let r = rw::run(
        &ws,
        &emu,
        &[
            "deploy",
            "client-b",
            "--platform",
            "railway",
            "--yes",
            "--wait-timeout",
            "3",
        ],
        &[],
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("budget of this token resets in 3600 s"),
        "{r:?}"
    );
    assert!(
        emu.requests().len() < first_write as usize + 20,
        "it did not keep asking"
    );
    // The lock's release meets the same spent budget: it gives up too, and says how to free it.
    assert!(
        r.stderr
            .contains("scalewize lock release --platform railway"),
        "{r:?}"
    );
}
