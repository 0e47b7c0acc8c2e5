//! No secret value leaks on the Fly path: canaries planted in the store (client, shared and
//! per-user scopes), in `SCALEWIZE_SECRET_…` overrides and as the Fly token itself; deploy,
//! diff, status and destroy run against the emulator with `-vvv` and `--json`, on success and
//! failure paths. No canary appears in any output or workspace file, and in the emulator's
//! request log canaries appear only in `POST /v1/apps/{app}/secrets` bodies.

use crate::common;
use crate::fly_support;

use std::collections::BTreeMap;

use base64::Engine;
use common::canary::{Canary, Output, assert_no_canaries, canary, store_values};
use common::{Run, TempWorkspace};
use fly_emulator::{EmulatorHandle, LoggedRequest};
use fly_support::*;

struct Harness {
    ws: TempWorkspace,
    env: Vec<(String, String)>,
    runs: Vec<(String, Run)>,
}

impl Harness {
    fn run(&mut self, code: i32, args: &[&str]) -> &Run {
        self.run_with(code, args, &[])
    }

    fn run_with(&mut self, code: i32, args: &[&str], extra: &[(&str, &str)]) -> &Run {
        let mut full = vec!["-vvv"];
        full.extend_from_slice(args);
        let mut env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        env.extend_from_slice(extra);
        let run = self.ws.run_env(&full, &env);
        assert_eq!(run.code, code, "{full:?}: {run:?}");
        self.runs.push((full.join(" "), run));
        &self.runs.last().unwrap().1
    }

    fn outputs(&self) -> Vec<Output<'_>> {
        self.runs
            .iter()
            .map(|(label, run)| Output {
                label: label.clone(),
                run,
            })
            .collect()
    }
}

fn needles(c: &Canary) -> [String; 2] {
    let b64 = base64::engine::general_purpose::STANDARD.encode(&c.value);
    [c.value.clone(), b64.trim_end_matches('=').to_string()]
}

fn is_secrets_post(r: &LoggedRequest) -> bool {
    let parts: Vec<&str> = r.path.split('/').collect();
    r.method == "POST" && matches!(parts.as_slice(), ["", "v1", "apps", _, "secrets"])
}

/// Where each canary appears in the request log (never in anything but a secrets POST body).
fn check_request_log(emu: &EmulatorHandle, canaries: &[Canary]) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for r in emu.requests() {
        let places = [
            ("path", Some(r.path.clone())),
            ("query", r.query.clone()),
            ("body", r.body.clone()),
            ("response", r.response.clone()),
            (
                "headers",
                Some(
                    r.headers
                        .iter()
                        .map(|(k, v)| format!("{k}: {v}"))
                        .collect::<Vec<_>>()
                        .join("\n"),
                ),
            ),
        ];
        for c in canaries {
            for n in needles(c) {
                for (place, text) in &places {
                    let Some(text) = text else { continue };
                    if !text.contains(&n) {
                        continue;
                    }
                    assert!(
                        *place == "body" && is_secrets_post(&r),
                        "canary `{}` in the {place} of {} {}",
                        c.label,
                        r.method,
                        r.path
                    );
                    *seen.entry(c.label.clone()).or_default() += 1;
                }
            }
        }
    }
    seen
}

#[test]
fn no_secret_value_leaks_through_the_fly_path() {
    let token = canary("fly-token");
    let emu = fly_emulator::Emulator::start(config().token(fly_emulator::Token::org(&token, ORG)));
    let mut env = env(&emu);
    env.retain(|(k, _)| k != "FLY_API_TOKEN");
    env.push(("FLY_API_TOKEN".into(), token.clone()));
    let overrides = [
        (
            "SCALEWIZE_SECRET_CLIENT_A__JWT_SECRET".to_string(),
            canary("override-client"),
        ),
        (
            "SCALEWIZE_SECRET_CLIENT_C__BOB__SDP_CLIENT_SECRET".to_string(),
            canary("override-user"),
        ),
        (
            "SCALEWIZE_SECRET_DEFAULT__KNOWLEDGE_BASE_MCP_TOKEN".to_string(),
            canary("override-shared"),
        ),
    ];
    env.extend(overrides.iter().cloned());
    let mut h = Harness {
        ws: workspace(),
        env,
        runs: Vec::new(),
    };
    // Canaries in the store, set through the command (value on stdin).
    let planted = [
        (vec!["client-a", "MONGO_URI"], canary("client")),
        (
            vec!["client-c", "--user", "alice", "SDP_REFRESH_TOKEN"],
            canary("user"),
        ),
        (vec!["client-a", "CUSTOM_CRM_MCP_TOKEN"], canary("token")),
    ];
    for (args, value) in &planted {
        let mut full = vec!["secret", "set"];
        full.extend(args.iter().copied());
        let r = h.ws.run_stdin(&full, &[], format!("{value}\n").as_bytes());
        assert_eq!(r.code, 0, "{r:?}");
    }

    // Success paths.
    h.run(2, &["diff", "client-a", "client-c", "--detailed-exitcode"]);
    h.run(
        0,
        &[
            "diff",
            "client-a",
            "client-c",
            "--json",
            "--out",
            "plan.json",
        ],
    );
    h.run(0, &["deploy", "--plan", "plan.json", "--yes"]);
    h.run(0, &["deploy", "client-a", "client-c", "--yes", "--json"]);
    h.run(1, &["status", "--json"]); // the MCP probes cannot reach *.fly.dev from here
    h.run(1, &["status", "client-c", "--orphans"]);
    // A rotated value: an update (secrets, lease, machine update).
    let rotated = canary("rotated");
    h.run_with(
        0,
        &["deploy", "client-c", "--yes"],
        &[("SCALEWIZE_SECRET_CLIENT_C__CAROL__SDP_CLIENT_ID", &rotated)],
    );
    // Failure paths: a refused token, an app that is not ours.
    h.run_with(
        1,
        &["deploy", "client-b", "--yes"],
        &[("FLY_API_TOKEN", "wrong")],
    );
    h.run_with(
        1,
        &["diff", "client-b", "--json"],
        &[("SCALEWIZE_FLY_API_URL", "http://127.0.0.1:9")],
    );
    h.run(
        1,
        &["logs", "client-c", "servicedesk-mcp", "--user", "alice"],
    );
    h.run(0, &["destroy", "client-c", "--yes"]);
    h.run(0, &["destroy", "client-a", "--yes"]);
    h.run(0, &["destroy", "--orphans", "--yes"]);

    let mut canaries: Vec<Canary> = store_values(h.ws.path());
    canaries.extend(
        overrides
            .iter()
            .map(|(k, v)| Canary::new(k.clone(), v.clone())),
    );
    canaries.push(Canary::new("FLY_API_TOKEN", token.clone()));
    canaries.push(Canary::new("rotated", rotated.clone()));
    for (args, v) in &planted {
        canaries.push(Canary::new(args.join(" "), v.clone()));
    }
    assert_no_canaries(&canaries, &h.outputs(), Some(h.ws.path()));

    let seen = check_request_log(&emu, &canaries);
    // Not vacuous: the values did reach Fly, through the secrets API.
    for label in [
        "client-a MONGO_URI",
        "client-c --user alice SDP_REFRESH_TOKEN",
        "SCALEWIZE_SECRET_CLIENT_C__BOB__SDP_CLIENT_SECRET",
        "SCALEWIZE_SECRET_DEFAULT__KNOWLEDGE_BASE_MCP_TOKEN",
        "rotated",
    ] {
        assert!(
            seen.contains_key(label),
            "{label} never reached Fly: {seen:?}"
        );
    }
    assert!(!seen.contains_key("FLY_API_TOKEN"));
    // The -vvv logs did show the requests (with the bodies masked).
    let deploy_log = &h.runs[2].1.stderr;
    assert!(deploy_log.contains("POST http://127.0.0.1"), "{deploy_log}");
    assert!(deploy_log.contains("/secrets"), "{deploy_log}");
    assert!(deploy_log.contains("<redacted>"), "{deploy_log}");
    assert_api_names(&emu);
}
