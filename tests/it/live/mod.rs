//! The live acceptance suite: the real request sequences against the real Railway and Fly APIs,
//! with the user's own tokens. Opt in with `SCALEWIZE_LIVE=1` plus the platform's token:
//!
//! ```text
//! SCALEWIZE_LIVE=1 RAILWAY_API_TOKEN=… cargo test --test it live::railway -- --ignored --test-threads 1
//! SCALEWIZE_LIVE=1 FLY_API_TOKEN=… FLY_ORG=… cargo test --test it live::fly -- --ignored --test-threads 1
//! ```
//!
//! Without opt-in every test here is reported as ignored (skipped), never as passed; run with
//! `--ignored` but without the variables, each fails saying what is missing. Every run works
//! under a throwaway prefix with a random suffix and removes what it created, even when a step
//! fails (a guard destroys on drop). Each assumption the code relies on that the notes mark as
//! unverified has its own test, named after it.

mod fly;
mod railway;

use crate::common::{Run, TempWorkspace};

/// The variables a live test needs, or a panic naming what is missing (only reached with
/// `--ignored`: without it the tests are skipped).
pub fn opted_in(tokens: &[&str]) -> Vec<(String, String)> {
    let mut missing: Vec<&str> = Vec::new();
    if std::env::var("SCALEWIZE_LIVE").as_deref() != Ok("1") {
        missing.push("SCALEWIZE_LIVE=1");
    }
    let mut env = Vec::new();
    for t in tokens {
        match std::env::var(t) {
            Ok(v) if !v.trim().is_empty() => env.push((t.to_string(), v)),
            _ => missing.push(t),
        }
    }
    assert!(
        missing.is_empty(),
        "live test not run: set {} (see tests/it/live/mod.rs)",
        missing.join(", ")
    );
    env
}

/// A throwaway prefix: `swlive` and six random hex digits.
pub fn throwaway_prefix() -> String {
    let mut b = [0u8; 3];
    getrandom::fill(&mut b).unwrap();
    format!("swlive{}", hex::encode(b))
}

/// A copy of the example workspace for a live run: `prefix`, and client-b's ERP server on a
/// small public image that answers any path with 200 (so its health path too).
pub fn live_workspace(prefix: &str, platform: &str) -> TempWorkspace {
    let ws = TempWorkspace::example();
    edit(&ws, "scalewize.json", |v| v["prefix"] = prefix.into());
    edit(
        &ws,
        "custom-mcp-servers/clients/client-b/custom-erp-mcp/scalewize.json",
        |v| {
            v["image"] = "traefik/whoami:v1.10.3".into();
            v["env"]["WHOAMI_PORT_NUMBER"] = "8080".into();
        },
    );
    edit(&ws, "client-configs/client-b/mcp-servers.json", |v| {
        v["platform"] = platform.into()
    });
    let r = ws.run(&["render", "client-b"]);
    assert_eq!(r.code, 0, "{r:?}");
    ws
}

pub fn edit(ws: &TempWorkspace, rel: &str, f: impl FnOnce(&mut serde_json::Value)) {
    let mut v: serde_json::Value = serde_json::from_str(&ws.read(rel)).unwrap();
    f(&mut v);
    ws.write(rel, &serde_json::to_string_pretty(&v).unwrap());
}

/// Runs `destroy` for what a live test deployed when dropped, whether the test passed or not.
pub struct Cleanup<'a> {
    pub ws: &'a TempWorkspace,
    pub env: Vec<(String, String)>,
    pub args: Vec<String>,
}

impl Cleanup<'_> {
    pub fn run(&self, args: &[&str]) -> Run {
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        self.ws.run_env(args, &env)
    }
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        let r = self.run(&args);
        if r.code != 0 {
            eprintln!("live cleanup `{}` failed: {r:?}", args.join(" "));
        }
    }
}

/// The live runs' workspace is checked offline on every run, so that a live run does not
/// find out first that its own setup is broken.
#[test]
fn the_live_workspace_validates_offline_for_each_platform() {
    for platform in ["railway", "fly"] {
        let ws = live_workspace(&throwaway_prefix(), platform);
        let r = ws.run(&["validate", "client-b"]);
        assert_eq!(r.code, 0, "{platform}: {r:?}");
    }
}

#[test]
fn a_live_test_run_without_its_variables_fails_rather_than_passes() {
    let missing = std::panic::catch_unwind(|| opted_in(&["SCALEWIZE_SURELY_UNSET_TOKEN"]));
    let err = missing.expect_err("must not pass without opt-in");
    let text = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(text.contains("SCALEWIZE_SURELY_UNSET_TOKEN"), "{text}");
}
