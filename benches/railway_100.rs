//! Benchmark (not a test): 100 clients × 4 client-specific servers (500 Railway services with
//! each client's LibreChat, in 100 projects) against the Railway emulator answering every
//! request after 50 ms, with the Pro plan's rate limits (50/s, 10 000/h).
//!
//! Reports, for `diff --all` and for a `deploy --all` with nothing to change: requests per
//! client, mutations, wall time, and the lower bound that latency, concurrency (8) and the
//! rate limit impose on those requests.
//!
//!     cargo bench --bench railway_100              # 3 runs each (median)
//!     cargo bench --bench railway_100 -- --runs 5
//!
//! Setup (not measured): the workspace is generated, rendered, and deployed once against the
//! same emulator running 1000× faster without limits; then the emulator switches to real time,
//! 50 ms latency and Pro limits, and scalewize to the Pro plan with a fresh token.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use railway_emulator::{
    Config, DEFAULT_WORKSPACE_ID, Emulator, EmulatorHandle, Faults, Latency, OperationKind, Plan,
    RateLimits, TokenConfig,
};
use serde_json::json;

const CLIENTS: usize = 100;
const SERVERS: usize = 4;
const LATENCY: Duration = Duration::from_millis(50);
const CONCURRENCY: f64 = 8.0;
const PRO_PER_SECOND: f64 = 50.0;
const SETUP_TOKEN: &str = "bench-setup-token";
const TOKEN: &str = "bench-measure-token";

fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), &dst).unwrap();
        }
    }
}

fn client_id(i: usize) -> String {
    format!("client-{i:03}")
}

/// The example's templates, default client and keys; 100 clients with 4 servers each.
fn make_workspace(dir: &Path, plan: &str) {
    let root = repo_root();
    copy_dir(&root.join("templates"), &dir.join("templates"));
    copy_dir(&root.join("schemas"), &dir.join("schemas"));
    copy_dir(
        &root.join("client-configs/default"),
        &dir.join("client-configs/default"),
    );
    std::fs::copy(
        root.join("example-only.age-identity.txt"),
        dir.join("example-only.age-identity.txt"),
    )
    .unwrap();
    set_plan(dir, plan);
    for i in 0..CLIENTS {
        let id = client_id(i);
        // The default client's external OAuth servers are not what this measures.
        let mut servers = vec![
            json!({"name": "Google Drive", "enabled": false}),
            json!({"name": "Slack", "enabled": false}),
        ];
        for s in 1..=SERVERS {
            let slug = format!("srv{s}-mcp");
            let folder = dir.join(format!("custom-mcp-servers/clients/{id}/{slug}"));
            std::fs::create_dir_all(&folder).unwrap();
            std::fs::write(
                folder.join("scalewize.json"),
                json!({
                    "image": format!("ghcr.io/example/{slug}:1.0.{s}"),
                    "credential_mode": "service",
                    "env": {"UPSTREAM": format!("https://{id}.example/api/{s}")},
                })
                .to_string(),
            )
            .unwrap();
            servers.push(
                json!({"name": format!("Srv{s}"), "type": "client-specific", "server": slug}),
            );
        }
        let cdir = dir.join("client-configs").join(&id);
        std::fs::create_dir_all(&cdir).unwrap();
        std::fs::write(
            cdir.join("mcp-servers.json"),
            json!({"client_id": id, "client_name": format!("Client {i}"), "platform": "railway", "mcp_servers": servers})
                .to_string(),
        )
        .unwrap();
    }
}

fn set_plan(dir: &Path, plan: &str) {
    let mut ws: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo_root().join("scalewize.json")).unwrap())
            .unwrap();
    ws.as_object_mut().unwrap().remove("$schema");
    ws["railway"] = json!({"plan": plan});
    std::fs::write(dir.join("scalewize.json"), ws.to_string()).unwrap();
}

/// Every secret as a one-run override (`SCALEWIZE_SECRET_<CLIENT>__<NAME>`).
fn secret_env() -> Vec<(String, String)> {
    let mut env = Vec::new();
    for i in 0..CLIENTS {
        let id = client_id(i).to_uppercase().replace('-', "_");
        let mut names: Vec<String> = [
            "MONGO_URI",
            "CREDS_KEY",
            "CREDS_IV",
            "JWT_SECRET",
            "JWT_REFRESH_SECRET",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        names.extend((1..=SERVERS).map(|s| format!("SRV{s}_MCP_TOKEN")));
        for n in names {
            let value = match n.as_str() {
                "CREDS_KEY" => "0".repeat(64),
                "CREDS_IV" => "0".repeat(32),
                "MONGO_URI" => format!("mongodb://db.example/{id}"),
                _ => format!("bench-{id}-{n}-0123456789abcdef"),
            };
            env.push((format!("SCALEWIZE_SECRET_{id}__{n}"), value));
        }
    }
    env
}

fn scalewize(
    dir: &Path,
    emu: &EmulatorHandle,
    token: &str,
    scale: f64,
    args: &[&str],
) -> (Duration, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_scalewize"));
    cmd.args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("SCALEWIZE_RAILWAY_API_URL", emu.url())
        .env("RAILWAY_API_TOKEN", token)
        .env("RAILWAY_WORKSPACE_ID", DEFAULT_WORKSPACE_ID)
        .env("SCALEWIZE_TIME_SCALE", scale.to_string())
        .env_remove("RAILWAY_TOKEN")
        .envs(secret_env());
    let start = Instant::now();
    let out = cmd.output().unwrap();
    let took = start.elapsed();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "scalewize {args:?} failed:\n{text}");
    (took, text)
}

struct Measured {
    wall: Vec<Duration>,
    requests: u64,
    mutations: u64,
    /// Requests that had to wait for an earlier one (listing pages → instances → variables).
    rounds: u64,
}

fn measure(dir: &Path, emu: &EmulatorHandle, args: &[&str], runs: usize) -> Measured {
    let mut wall = Vec::new();
    let mut requests = 0;
    let mut mutations = 0;
    let mut rounds = 0;
    for _ in 0..runs {
        // Each run is a new process with its own buckets: start each in a fresh
        // one-second window of the server's, as separate CI jobs would.
        std::thread::sleep(Duration::from_millis(1100));
        let before = emu.requests().len();
        let (took, _) = scalewize(dir, emu, TOKEN, 1.0, args);
        wall.push(took);
        let log: Vec<_> = emu.requests().into_iter().skip(before).collect();
        requests = log.len() as u64;
        mutations = log
            .iter()
            .filter(|r| r.operation_type == Some(OperationKind::Mutation))
            .count() as u64;
        let listing = log.iter().filter(|r| r.root_fields == ["projects"]).count() as u64;
        let instances = log
            .iter()
            .filter(|r| r.operation_name.as_deref() == Some("ScalewizeInstances"))
            .count() as u64;
        let variables = log
            .iter()
            .filter(|r| r.operation_name.as_deref() == Some("ScalewizeVariables"))
            .count() as u64;
        rounds = listing
            + instances.div_ceil(CONCURRENCY as u64)
            + variables.div_ceil(CONCURRENCY as u64);
        let limited = log.iter().filter(|r| r.status == Some(429)).count();
        assert_eq!(limited, 0, "scalewize exceeded the rate limit");
    }
    wall.sort();
    Measured {
        wall,
        requests,
        mutations,
        rounds,
    }
}

fn report(what: &str, m: &Measured, local: Duration) {
    let median = m.wall[m.wall.len() / 2];
    let r = m.requests as f64;
    let lat = LATENCY.as_secs_f64();
    let by_concurrency = r * lat / CONCURRENCY;
    let by_path = m.rounds as f64 * lat;
    let by_rate = ((r - PRO_PER_SECOND).max(0.0)) / PRO_PER_SECOND;
    let bound = by_concurrency.max(by_path).max(by_rate);
    println!("{what}");
    println!(
        "  requests: {} ({:.2} per client), mutations: {}",
        m.requests,
        r / CLIENTS as f64,
        m.mutations
    );
    println!(
        "  wall: median {:.2}s (runs: {})",
        median.as_secs_f64(),
        m.wall
            .iter()
            .map(|d| format!("{:.2}s", d.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "  lower bound for these requests: {bound:.2}s = max(latency×requests/concurrency {by_concurrency:.2}s, \
         dependent rounds {} × 50 ms = {by_path:.2}s, Pro rate limit {by_rate:.2}s)",
        m.rounds
    );
    println!(
        "  + local work (load, render, plan; `diff --all --local`): {:.2}s → {:.2}s",
        local.as_secs_f64(),
        bound + local.as_secs_f64()
    );
}

fn main() {
    let runs = std::env::args()
        .skip_while(|a| a != "--runs")
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(3usize);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    make_workspace(dir, "enterprise");
    let emu = Emulator::start(
        Config::default()
            .with_time_scale(0.001)
            .with_rate_limits(RateLimits::disabled())
            .with_token(TokenConfig::workspace(
                SETUP_TOKEN,
                DEFAULT_WORKSPACE_ID,
                Plan::Enterprise,
            )),
    );

    println!(
        "railway_100: {CLIENTS} clients × {SERVERS} servers (+ LibreChat each) = {} services in {CLIENTS} projects",
        CLIENTS * (SERVERS + 1)
    );
    let (t, _) = scalewize(dir, &emu, SETUP_TOKEN, 0.001, &["render", "--all"]);
    println!("setup: render --all {:.2}s", t.as_secs_f64());
    let (t, _) = scalewize(
        dir,
        &emu,
        SETUP_TOKEN,
        0.001,
        &["deploy", "--all", "--yes", "--concurrency", "32"],
    );
    let snap = emu.snapshot();
    let services: usize = snap.projects.iter().map(|p| p.services.len()).sum();
    println!(
        "setup: first deploy {:.1}s, {} requests, {} projects, {services} services (emulator 1000× faster, no limits)",
        t.as_secs_f64(),
        emu.requests().len(),
        snap.projects.len()
    );
    assert_eq!(services, CLIENTS * (SERVERS + 1));

    // Measurement: real time, 50 ms per request, Pro limits, a fresh token.
    set_plan(dir, "pro");
    emu.add_token(TokenConfig::workspace(
        TOKEN,
        DEFAULT_WORKSPACE_ID,
        Plan::Pro,
    ));
    emu.set_time_scale(1.0);
    emu.set_rate_limits(RateLimits::default());
    emu.set_faults(Faults {
        latency: Some(Latency {
            probability: 1.0,
            fixed: LATENCY,
            jitter: Duration::ZERO,
        }),
        ..Faults::none()
    });
    let mut local = Vec::new();
    for _ in 0..runs {
        local.push(scalewize(dir, &emu, TOKEN, 1.0, &["diff", "--all", "--local"]).0);
    }
    local.sort();
    let local = local[local.len() / 2];
    let diff = measure(dir, &emu, &["diff", "--all"], runs);
    let deploy = measure(dir, &emu, &["deploy", "--all", "--yes"], runs);
    assert_eq!(
        deploy.mutations, 0,
        "a deploy with nothing to change mutates nothing"
    );
    println!();
    report("diff --all", &diff, local);
    report("deploy --all (nothing to change)", &deploy, local);
}
