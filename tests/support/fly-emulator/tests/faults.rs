mod common;

use common::*;
use fly_emulator::{
    Config, Emulator, EmulatorHandle, Fault, FaultKind, Faults, LostResponseMode, RateLimits,
    StopMode,
};
use serde_json::{Value, json};

fn emu_with(faults: Faults, scale: f64) -> EmulatorHandle {
    Emulator::start(
        Config::default()
            .time_scale(scale)
            .rate_limits(RateLimits::disabled())
            .faults(faults),
    )
}

/// A careful client: observes before retrying an ambiguous write, honours Retry-After via
/// virtual time, and never sleeps in wall time.
struct Careful<'a> {
    c: Client,
    emu: &'a EmulatorHandle,
}

enum Got {
    Resp(Resp),
    Lost,
}

impl Careful<'_> {
    fn call(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Got {
        match self.c.try_send(method, path, headers, body) {
            Ok(r) if r.status == 429 => {
                let secs: f64 = r
                    .header("retry-after")
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(1.0);
                self.emu.advance(secs);
                Got::Resp(r)
            }
            Ok(r) => Got::Resp(r),
            Err(_) => Got::Lost,
        }
    }

    fn deploy(&self, app: &str) {
        // App: create, then observe until visible.
        for _ in 0..50 {
            match self.call(
                "POST",
                "/v1/apps",
                &[],
                Some(&json!({"name": app, "org_slug": "personal"})),
            ) {
                Got::Resp(r) if r.status == 201 || r.status == 422 => break,
                _ => continue,
            }
        }
        for _ in 0..50 {
            match self.call("GET", &format!("/v1/apps/{app}"), &[], None) {
                Got::Resp(r) if r.status == 200 => break,
                Got::Resp(r) if r.status == 404 => self.emu.advance(1.0),
                _ => continue,
            }
        }
        // Secrets: idempotent.
        for _ in 0..50 {
            if let Got::Resp(r) = self.call(
                "POST",
                &format!("/v1/apps/{app}/secrets"),
                &[],
                Some(&json!({"values": {"TOKEN": "t"}})),
            ) && r.status == 200
            {
                break;
            }
        }
        // Machine: list before every create attempt.
        let mut id = None;
        for _ in 0..50 {
            if let Got::Resp(r) = self.call(
                "GET",
                &format!("/v1/apps/{app}/machines?metadata.mcp-client=acme"),
                &[],
                None,
            ) && r.status == 200
                && let Some(m) = r.json().as_array().and_then(|a| a.first().cloned())
            {
                id = m["id"].as_str().map(str::to_string);
                break;
            }
            let body = json!({"name": "web", "region": "iad", "config": minimal_config()});
            if let Got::Resp(r) = self.call(
                "POST",
                &format!("/v1/apps/{app}/machines"),
                &[],
                Some(&body),
            ) && r.status == 200
            {
                id = r.json()["id"].as_str().map(str::to_string);
                break;
            }
        }
        let id = id.expect("machine created");
        // Lease, update with the nonce, release.
        let lease = format!("/v1/apps/{app}/machines/{id}/lease");
        let mut nonce = None;
        for _ in 0..50 {
            match self.call("POST", &lease, &[], Some(&json!({"ttl": 5}))) {
                Got::Resp(r) if r.status == 201 => {
                    nonce = r.json()["data"]["nonce"].as_str().map(str::to_string);
                    break;
                }
                Got::Resp(r) if r.status == 409 => self.emu.advance(1.0),
                _ => continue,
            }
        }
        let nonce = nonce.expect("lease acquired");
        for _ in 0..50 {
            let body = json!({"config": minimal_config()});
            if let Got::Resp(r) = self.call(
                "POST",
                &format!("/v1/apps/{app}/machines/{id}"),
                &[("fly-machine-lease-nonce", &nonce)],
                Some(&body),
            ) && r.status == 200
            {
                break;
            }
        }
        for _ in 0..50 {
            match self.call(
                "DELETE",
                &lease,
                &[("fly-machine-lease-nonce", &nonce)],
                None,
            ) {
                Got::Resp(r) if r.status == 200 || r.status == 404 => break,
                _ => continue,
            }
        }
    }
}

fn run_scenario(seed: u64) -> (EmulatorHandle, Vec<String>) {
    let mut faults = Faults::chaos(seed, 3, 0.05);
    faults.app_lag_secs = (1.5, 1.5);
    faults.latency_ms = (1, 3);
    let emu = emu_with(faults, 1.0);
    {
        let careful = Careful {
            c: Client::new(&emu),
            emu: &emu,
        };
        for i in 0..4 {
            careful.deploy(&format!("app-{i}"));
        }
    }
    let lines = emu.golden_lines();
    (emu, lines)
}

#[test]
fn every_seed_injects_every_kind_and_the_client_converges() {
    for seed in [1u64, 2, 3, 42, 0xDEAD_BEEF] {
        let (emu, _) = run_scenario(seed);
        let f = emu.fault_counts();
        assert!(f.lost_response >= 1, "seed {seed}: {f:?}");
        assert!(f.timeout_but_created >= 1, "seed {seed}: {f:?}");
        assert!(f.too_many_requests >= 1, "seed {seed}: {f:?}");
        assert!(f.app_create_lag >= 1, "seed {seed}: {f:?}");
        assert!(f.lease_conflict >= 1, "seed {seed}: {f:?}");
        assert!(f.server_error >= 1, "seed {seed}: {f:?}");
        assert!(f.latency >= 1, "seed {seed}: {f:?}");
        // The careful client converged without duplicates.
        let snap = emu.snapshot();
        assert_eq!(snap.apps.len(), 4, "seed {seed}");
        for app in &snap.apps {
            assert_eq!(
                app.machines.len(),
                1,
                "seed {seed}: duplicate machines in {}",
                app.name
            );
            // One update; a lost update response makes the careful client apply it again.
            assert!(app.machines[0].versions >= 2, "seed {seed}");
        }
        // Faults are visible in the log.
        let log = emu.requests();
        assert!(
            log.iter()
                .any(|e| e.faults.contains(&FaultKind::TimeoutButCreated)
                    && e.status == Some(408)
                    && e.applied_status == Some(200))
        );
        assert!(
            log.iter()
                .any(|e| e.faults.contains(&FaultKind::LostResponse))
        );
    }
}

#[test]
fn same_seed_same_request_sequence_same_faults() {
    let (_a, la) = run_scenario(7);
    let (_b, lb) = run_scenario(7);
    assert_eq!(la, lb);
    let (_c, lc) = run_scenario(8);
    assert_ne!(la, lc, "another seed gives another schedule");
    assert!(
        la.iter().any(|l| l.contains("<machine-1>")),
        "ids are normalised: {la:#?}"
    );
}

#[test]
fn lost_response_modes() {
    let mut f = Faults::none();
    f.lost_response = Fault::always();
    f.lost_response_mode = LostResponseMode::DropConnection;
    let emu = emu_with(f.clone(), 0.01);
    let c = Client::new(&emu);
    let r = c.try_send(
        "POST",
        "/v1/apps",
        &[],
        Some(&json!({"name": "lost-a", "org_slug": "personal"})),
    );
    assert!(r.is_err(), "connection dropped: {r:?}");
    emu.clear_faults();
    assert_eq!(
        c.get("/v1/apps/lost-a").status,
        200,
        "the write was applied"
    );
    let e = &emu.requests()[0];
    assert_eq!(e.status, None);
    assert_eq!(e.applied_status, Some(201));

    f.lost_response_mode = LostResponseMode::BadGateway;
    let emu = emu_with(f, 0.01);
    let c = Client::new(&emu);
    let r = c.post(
        "/v1/apps",
        &json!({"name": "lost-b", "org_slug": "personal"}),
    );
    assert_eq!(r.status, 502);
    emu.clear_faults();
    assert_eq!(c.get("/v1/apps/lost-b").status, 200);
    // Reads are never "lost".
    let mut f2 = Faults::none();
    f2.lost_response = Fault::always();
    emu.set_faults(f2);
    assert_eq!(c.get("/v1/apps/lost-b").status, 200);
    assert_eq!(emu.fault_counts().lost_response, 1);
}

#[test]
fn timeout_but_created() {
    let mut f = Faults::none();
    f.timeout_but_created = Fault::always();
    let emu = emu_with(f, 0.01);
    let c = Client::new(&emu);
    create_app(&c, "app-408");
    let r = c.post(
        "/v1/apps/app-408/machines",
        &json!({"name": "w", "config": {"image": "x"}}),
    );
    assert_eq!(r.status, 408);
    assert_eq!(
        emu.snapshot().apps[0].machines.len(),
        1,
        "the machine exists"
    );
    // A blind retry with the same name collides (notes l.171-172, l.240).
    assert_eq!(
        c.post(
            "/v1/apps/app-408/machines",
            &json!({"name": "w", "config": {"image": "x"}})
        )
        .status,
        422
    );
    assert_eq!(emu.fault_counts().timeout_but_created, 1);
}

#[test]
fn app_create_lag() {
    let mut f = Faults::none();
    f.app_create_lag = Fault::always();
    f.app_lag_secs = (2.0, 2.0);
    let emu = emu_with(f, 1.0);
    let c = Client::new(&emu);
    create_app(&c, "lagging");
    for path in [
        "/v1/apps/lagging",
        "/v1/apps/lagging/machines",
        "/v1/apps/lagging/secrets",
        "/v1/apps/lagging/ip_assignments",
    ] {
        let r = c.get(path);
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(r.body, "");
    }
    assert_eq!(
        c.post(
            "/v1/apps/lagging/machines",
            &json!({"config": {"image": "x"}})
        )
        .status,
        404
    );
    assert_eq!(c.get("/v1/apps?org_slug=personal").json()["total_apps"], 0);
    assert!(emu.snapshot().apps[0].lagging);
    // The name is taken all the same.
    assert_eq!(
        c.post(
            "/v1/apps",
            &json!({"name": "lagging", "org_slug": "personal"})
        )
        .status,
        422
    );
    emu.advance(2.1);
    assert_eq!(c.get("/v1/apps/lagging").status, 200);
    let f = emu.fault_counts();
    assert_eq!(f.app_create_lag, 1);
    assert_eq!(f.app_lag_404, 5);
}

#[test]
fn partial_app_create_lag_shows_the_app_but_not_its_collections() {
    let mut f = Faults::none();
    f.app_create_lag = Fault::always();
    f.app_lag_secs = (2.0, 2.0);
    f.app_lag_partial = true;
    let emu = emu_with(f, 1.0);
    let c = Client::new(&emu);
    create_app(&c, "half");
    assert_eq!(c.get("/v1/apps/half").status, 200);
    assert_eq!(c.get("/v1/apps?org_slug=personal").json()["total_apps"], 1);
    for path in [
        "/v1/apps/half/machines",
        "/v1/apps/half/secrets",
        "/v1/apps/half/ip_assignments",
    ] {
        let r = c.get(path);
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(r.body, "");
    }
    emu.advance(2.1);
    assert_eq!(c.get("/v1/apps/half/machines").status, 200);
    assert_eq!(emu.fault_counts().app_lag_404, 3);
}

#[test]
fn lease_conflict() {
    let mut f = Faults::none();
    f.lease_conflict = Fault::always();
    f.lease_conflict_secs = 3.0;
    let emu = emu_with(f, 1.0);
    let c = Client::new(&emu);
    create_app(&c, "app-lc");
    let id = create_machine(&c, "app-lc", "w")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let lease = format!("/v1/apps/app-lc/machines/{id}/lease");
    let r = c.post(&lease, &json!({"ttl": 10}));
    assert_eq!(r.status, 409, "{}", r.body);
    let held = c.get(&lease).json();
    assert_eq!(held["data"]["owner"], "someone-else@example.com");
    assert!(
        held["data"].get("nonce").is_none(),
        "another holder's nonce is not shown"
    );
    // An update without a lease is refused while the other holder has it.
    assert_eq!(
        c.post(
            &format!("/v1/apps/app-lc/machines/{id}"),
            &json!({"config": {"image": "x"}})
        )
        .status,
        409
    );
    emu.clear_faults();
    emu.advance(3.1);
    assert_eq!(c.post(&lease, &json!({"ttl": 10})).status, 201);
    assert_eq!(emu.fault_counts().lease_conflict, 1);
}

#[test]
fn injected_429_and_5xx() {
    let mut f = Faults::none();
    f.too_many_requests = Fault::always();
    let emu = emu_with(f, 0.01);
    let c = Client::new(&emu);
    let r = c.post(
        "/v1/apps",
        &json!({"name": "x-429", "org_slug": "personal"}),
    );
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("1"));
    assert!(emu.snapshot().apps.is_empty(), "nothing applied");
    let h = emu.rate_limit_history();
    assert!(h[0].injected);

    let mut f = Faults::none();
    f.server_error = Fault::always();
    emu.set_faults(f);
    let r = c.post(
        "/v1/apps",
        &json!({"name": "x-5xx", "org_slug": "personal"}),
    );
    assert!([500, 502, 503].contains(&r.status), "{}", r.status);
    assert!(emu.snapshot().apps.is_empty(), "5xx is before applying");
    assert_eq!(emu.fault_counts().server_error, 1);
}

#[test]
fn latency_is_scaled() {
    let mut f = Faults::none();
    f.latency = Fault::always();
    f.latency_ms = (2000, 2000);
    let emu = emu_with(f, 0.01);
    let c = Client::new(&emu);
    let t = std::time::Instant::now();
    assert_eq!(c.get("/v1/apps?org_slug=personal").status, 200);
    let e = t.elapsed();
    assert!(e >= std::time::Duration::from_millis(20), "{e:?}");
    assert!(e < std::time::Duration::from_millis(1500), "{e:?}");
    assert_eq!(emu.fault_counts().latency, 1);
}

#[test]
fn stop_after_k() {
    let emu = emu_with(Faults::none(), 0.01);
    let c = Client::new(&emu);
    create_app(&c, "app-k");
    emu.stop_answering_after(2);
    assert_eq!(c.get("/v1/apps/app-k").status, 200);
    assert_eq!(
        c.post("/v1/apps/app-k/secrets", &json!({"values": {"A": "1"}}))
            .status,
        200
    );
    assert!(
        c.try_send(
            "POST",
            "/v1/apps/app-k/secrets",
            &[],
            Some(&json!({"values": {"B": "2"}}))
        )
        .is_err()
    );
    assert!(c.try_send("GET", "/v1/apps/app-k", &[], None).is_err());
    assert_eq!(
        emu.snapshot().apps[0].secrets.len(),
        1,
        "requests after k are not applied"
    );
    assert_eq!(emu.fault_counts().stopped, 2);
    emu.set_stop_after(None);
    assert_eq!(c.get("/v1/apps/app-k").status, 200);

    // Hang mode: the request never gets an answer (the test client times out quickly).
    let mut f = Faults::none();
    f.stop_after = Some(emu.request_count());
    f.stop_mode = StopMode::Hang;
    emu.set_faults(f);
    let mut s = std::net::TcpStream::connect(emu.addr()).unwrap();
    use std::io::{Read, Write};
    s.set_read_timeout(Some(std::time::Duration::from_millis(100)))
        .unwrap();
    s.write_all(
        b"GET /v1/apps/app-k HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer test-token\r\n\r\n",
    )
    .unwrap();
    let mut buf = [0u8; 64];
    assert!(s.read(&mut buf).is_err(), "no answer while hanging");
}
