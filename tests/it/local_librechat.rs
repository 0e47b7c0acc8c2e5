//! LibreChat on `local`: without Docker it is config-only (never running, never healthy) and
//! deploy ends with the command that starts it; with a stand-in `docker` on PATH (recording its
//! argv, playing a LibreChat that answers /health) deploy, status, logs and destroy issue the
//! expected compose commands; every example client's compose project validates against the
//! Compose Specification schema and names pinned images only.

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::local::{Cleanup, run_with};
use common::{TempWorkspace, repo_root};
use serde_json::Value;

/// PATH without any directory that holds a `docker`.
fn path_without_docker() -> String {
    std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .filter(|d| !Path::new(d).join("docker").exists())
        .collect::<Vec<_>>()
        .join(":")
}

fn status_json(ws: &TempWorkspace, client: &str, env: &[(&str, &str)]) -> Value {
    let s = run_with(ws, &["status", client, "--json"], env);
    serde_json::from_str(&s.stdout).unwrap_or_else(|e| panic!("{e}: {s:?}"))
}

fn librechat_row(status: &Value, client: &str) -> Value {
    status["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"]["owner"] == client && s["key"]["service"] == "librechat")
        .unwrap_or_else(|| panic!("no LibreChat row: {status}"))
        .clone()
}

fn yaml(ws: &TempWorkspace, rel: &str) -> serde_yaml::Value {
    serde_yaml::from_str(&ws.read(rel)).unwrap()
}

#[test]
fn without_docker_librechat_is_config_only_and_its_compose_projects_are_valid() {
    let ws = TempWorkspace::example();
    let _cleanup = Cleanup::new(&ws);
    let path = path_without_docker();
    let env = [("PATH", path.as_str())];
    let d = run_with(&ws, &["deploy", "--all", "--yes"], &env);
    assert_eq!(d.code, 0, "{d:?}");
    let last: Vec<&str> = d.stdout.lines().rev().take(6).collect();
    assert!(
        last.iter().any(|l| l.trim()
            == "docker compose -p sw-client-a -f .scalewize/client-a/compose.yaml up -d"),
        "deploy's last lines name the command: {d:?}"
    );

    let status = status_json(&ws, "client-a", &env);
    let lc = librechat_row(&status, "client-a");
    assert_ne!(lc["state"], "running", "{lc}");
    assert_eq!(lc["state"], "config-only", "{lc}");
    assert_ne!(lc["healthy"], true, "{lc}");
    assert!(lc["url"].is_null(), "no URL for what does not run: {lc}");

    let schema = repo_root().join("tests/fixtures/compose-spec.json");
    let mut ports = Vec::new();
    for client in ["client-a", "client-b", "client-c"] {
        let dir = format!(".scalewize/{client}");
        let file = ws.path().join(&dir).join("compose.yaml");
        // The Compose Specification's own schema, checked by python's jsonschema.
        let check = std::process::Command::new("python3")
            .args([
                "-c",
                "import sys, json, yaml, jsonschema\n\
                 jsonschema.validate(yaml.safe_load(open(sys.argv[1])), json.load(open(sys.argv[2])))",
            ])
            .arg(&file)
            .arg(&schema)
            .output()
            .expect("python3 with jsonschema and yaml");
        assert!(
            check.status.success(),
            "{client}: {}",
            String::from_utf8_lossy(&check.stderr)
        );
        let compose = yaml(&ws, &format!("{dir}/compose.yaml"));
        for (name, svc) in compose["services"].as_mapping().unwrap() {
            let image = svc["image"].as_str().unwrap();
            let tag = image
                .rsplit('/')
                .next()
                .unwrap()
                .split_once(':')
                .map(|t| t.1);
            assert!(
                image.contains("@sha256:") || tag.is_some_and(|t| !t.is_empty() && t != "latest"),
                "{client}/{name:?}: {image} is not pinned"
            );
        }
        let lc = &compose["services"]["librechat"];
        assert_eq!(
            lc["volumes"][0].as_str(),
            Some("./librechat.yaml:/app/librechat.yaml:ro")
        );
        assert_eq!(
            lc["extra_hosts"][0].as_str(),
            Some("host.docker.internal:host-gateway")
        );
        assert_eq!(lc["env_file"][0].as_str(), Some("environment.env"));
        ports.push(lc["ports"][0].as_str().unwrap().to_string());

        // allowedAddresses are exactly the MCP servers LibreChat will connect to on this machine.
        let env_text = ws.read(&format!("{dir}/environment.env"));
        let mut wanted: Vec<String> = dotenvy::from_read_iter(env_text.as_bytes())
            .map(Result::unwrap)
            .filter_map(|(_, v)| {
                v.strip_prefix("http://host.docker.internal:")
                    .map(|rest| format!("host.docker.internal:{}", rest.split('/').next().unwrap()))
            })
            .collect();
        wanted.sort();
        wanted.dedup();
        if client != "client-c" {
            // client-c's only deployed server serves per-user MCP clients, not LibreChat.
            assert!(!wanted.is_empty(), "{client}: {env_text}");
        }
        assert!(!env_text.contains("127.0.0.1"), "{client}: {env_text}");
        let config = yaml(&ws, &format!("{dir}/librechat.yaml"));
        let mut allowed: Vec<String> = config["mcpSettings"]["allowedAddresses"]
            .as_sequence()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        allowed.sort();
        assert_eq!(allowed, wanted, "{client}");

        // docker compose's own check, where the plugin exists.
        let compose_ok = std::process::Command::new("docker")
            .args(["compose", "version"])
            .output()
            .is_ok_and(|o| o.status.success());
        if compose_ok {
            let out = std::process::Command::new("docker")
                .args(["compose", "-f"])
                .arg(&file)
                .args(["config", "-q"])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    ports.sort();
    ports.dedup();
    assert_eq!(
        ports.len(),
        3,
        "each client has its own LibreChat port: {ports:?}"
    );
}

/// A `docker` that records its argv (one JSON array per line) and plays a compose project
/// whose LibreChat answers /health on the published port.
const STAND_IN_DOCKER: &str = r#"#!/usr/bin/env python3
import json, os, re, signal, subprocess, sys
state = os.environ["STAND_IN_DOCKER_DIR"]
args = sys.argv[1:]
with open(os.path.join(state, "calls.jsonl"), "a") as f:
    f.write(json.dumps(args) + "\n")
if args[:1] == ["info"]:
    sys.exit(0)
if args[:1] != ["compose"]:
    sys.exit(1)
project = args[args.index("-p") + 1]
compose_file = args[args.index("-f") + 1]
rest = args[args.index("-f") + 2:]
pidfile = os.path.join(state, project + ".pid")
SERVER = """
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == '/health' else 404)
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()
"""
if rest[0] == "up":
    port = int(re.search(r"127\.0\.0\.1:(\d+):3080", open(compose_file).read()).group(1))
    p = subprocess.Popen([sys.executable, "-c", SERVER, str(port)], start_new_session=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    open(pidfile, "w").write(str(p.pid))
elif rest[0] == "ps":
    if os.path.exists(pidfile):
        print(json.dumps({"Service": "librechat", "State": "running", "Health": ""}))
        print(json.dumps({"Service": "mongodb", "State": "running", "Health": ""}))
elif rest[0] == "down":
    if os.path.exists(pidfile):
        os.kill(int(open(pidfile).read()), signal.SIGTERM)
        os.remove(pidfile)
elif rest[0] == "logs":
    print("librechat  | stand-in LibreChat log line")
"#;

/// Kills the stand-in LibreChat if the test stops before `down`.
struct StandIn(PathBuf);

impl Drop for StandIn {
    fn drop(&mut self) {
        for e in std::fs::read_dir(&self.0).into_iter().flatten().flatten() {
            if e.path().extension().is_some_and(|x| x == "pid")
                && let Ok(pid) = std::fs::read_to_string(e.path())
                    .unwrap_or_default()
                    .parse::<i32>()
            {
                // SAFETY: a pid the stand-in docker started for this test.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
            }
        }
    }
}

fn calls(dir: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(dir.join("calls.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn with_docker_deploy_status_logs_and_destroy_issue_the_compose_commands() {
    let ws = TempWorkspace::example();
    let _cleanup = Cleanup::new(&ws);
    let bin = tempfile::tempdir().unwrap();
    let _stand_in = StandIn(bin.path().to_path_buf());
    let docker = bin.path().join("docker");
    std::fs::write(&docker, STAND_IN_DOCKER).unwrap();
    std::fs::set_permissions(&docker, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.path().display(), path_without_docker());
    let dir = bin.path().display().to_string();
    let env = [
        ("PATH", path.as_str()),
        ("STAND_IN_DOCKER_DIR", dir.as_str()),
    ];
    let file = ws
        .path()
        .join(".scalewize/client-b/compose.yaml")
        .display()
        .to_string();
    let compose = |tail: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = ["compose", "-p", "sw-client-b", "-f", file.as_str()]
            .iter()
            .map(|s| s.to_string())
            .collect();
        v.extend(tail.iter().map(|s| s.to_string()));
        v
    };

    let d = run_with(&ws, &["deploy", "client-b", "--yes"], &env);
    assert_eq!(d.code, 0, "{d:?}");
    let seen = calls(bin.path());
    assert!(seen.contains(&vec!["info".to_string()]), "{seen:?}");
    assert!(
        seen.contains(&compose(&["up", "-d", "--remove-orphans"])),
        "{seen:?}"
    );
    let port = yaml(&ws, ".scalewize/client-b/compose.yaml")["services"]["librechat"]["ports"][0]
        .as_str()
        .unwrap()
        .split(':')
        .nth(1)
        .unwrap()
        .to_string();
    assert!(
        d.stdout
            .contains(&format!("LibreChat http://localhost:{port}")),
        "{d:?}"
    );
    assert!(!d.stdout.contains("config-only"), "{d:?}");

    let status = status_json(&ws, "client-b", &env);
    let lc = librechat_row(&status, "client-b");
    assert_eq!(lc["state"], "running", "{lc}");
    assert_eq!(lc["healthy"], true, "{lc}");
    assert!(
        calls(bin.path()).contains(&compose(&["ps", "--all", "--format", "json"])),
        "status asks compose"
    );

    let logs = run_with(&ws, &["logs", "client-b", "librechat"], &env);
    assert_eq!(logs.code, 0, "{logs:?}");
    assert!(
        logs.stdout.contains("stand-in LibreChat log line"),
        "{logs:?}"
    );
    assert!(
        calls(bin.path())
            .iter()
            .any(|c| c.starts_with(&compose(&["logs"])))
    );

    let gone = run_with(&ws, &["destroy", "client-b", "--yes"], &env);
    assert_eq!(gone.code, 0, "{gone:?}");
    assert!(
        calls(bin.path()).contains(&compose(&["down", "-v", "--remove-orphans"])),
        "{:?}",
        calls(bin.path())
    );
    let port: u16 = port.parse().unwrap();
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "LibreChat still answers on {port}"
    );
    assert!(!ws.path().join(".scalewize/client-b/compose.yaml").exists());
}

#[test]
fn a_value_the_env_file_cannot_carry_fails_the_deploy_naming_its_variable() {
    let ws = TempWorkspace::example();
    let _cleanup = Cleanup::new(&ws);
    let path = path_without_docker();
    let canary = "canary-7f3a\nsecond-line";
    let d = run_with(
        &ws,
        &["deploy", "client-b", "--yes"],
        &[
            ("PATH", path.as_str()),
            ("SCALEWIZE_SECRET_CLIENT_B__JWT_SECRET", canary),
        ],
    );
    assert_eq!(d.code, 1, "{d:?}");
    assert!(
        d.all()
            .contains("the value of `JWT_SECRET` cannot be written to an env file"),
        "{d:?}"
    );
    assert!(!d.all().contains("canary-7f3a"), "the value leaked: {d:?}");
    assert!(
        !ws.path()
            .join(".scalewize/client-b/environment.env")
            .exists(),
        "no env file is half-written"
    );
}
