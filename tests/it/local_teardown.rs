//! Teardown on the `local` platform, with real processes: a shared server lives while a deployed
//! client uses it and goes with its last user; `destroy --all` leaves no supervisor, server or
//! port; `--dry-run` shows the plan and exits 2; an unknown shared server is a clear error.

use crate::common;

use std::net::TcpStream;
use std::time::Duration;

use common::TempWorkspace;
use common::local::{Cleanup, pid_alive, pids, run};

/// The port of every local MCP server record.
fn ports(ws: &TempWorkspace) -> Vec<u16> {
    let dir = ws.path().join(".scalewize/local/services");
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "json") && !p.to_string_lossy().ends_with(".run.json")
        {
            let v: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            if v["key"]["service"] == "librechat" {
                continue;
            }
            if let Some(port) = v["port"].as_u64().filter(|p| *p != 0) {
                out.push(port as u16);
            }
        }
    }
    out
}

fn answers(port: u16) -> bool {
    TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(300)).is_ok()
}

/// Every process and port of a deploy is gone.
fn assert_nothing_left(before: &[(String, u32, Option<u32>)], ports: &[u16]) {
    for (name, sup, child) in before {
        assert!(!pid_alive(*sup), "{name}: supervisor {sup} still runs");
        if let Some(c) = child {
            assert!(!pid_alive(*c), "{name}: server {c} still runs");
        }
    }
    for p in ports {
        assert!(!answers(*p), "something still answers on 127.0.0.1:{p}");
    }
}

fn enable_knowledge_base_for_client_b(ws: &TempWorkspace) {
    let p = "client-configs/client-b/mcp-servers.json";
    ws.write(
        p,
        &ws.read(p).replace(
            "\"mcp_servers\": [\n",
            "\"mcp_servers\": [\n    {\"name\": \"Knowledge Base\", \"enabled\": true},\n",
        ),
    );
    let r = run(ws, &["render", "client-b"]);
    assert_eq!(r.code, 0, "{r:?}");
}

#[test]
fn a_shared_server_lives_while_a_deployed_client_uses_it_and_goes_with_its_last_user() {
    let ws = TempWorkspace::example();
    let _cleanup = Cleanup::new(&ws);
    enable_knowledge_base_for_client_b(&ws);
    for c in ["client-a", "client-b"] {
        let d = run(&ws, &["deploy", c, "--yes"]);
        assert_eq!(d.code, 0, "{d:?}");
    }
    assert!(
        ws.read(".gitignore").lines().any(|l| l == ".scalewize/"),
        "deploy made .gitignore cover the state it wrote"
    );
    let kb_pids = |ws: &TempWorkspace| {
        pids(ws)
            .into_iter()
            .find(|(n, _, _)| n.contains("knowledge-base-mcp"))
    };
    let kb = kb_pids(&ws).expect("the knowledge base runs");

    // Both use it: it is refused, and destroying one of them keeps it.
    let refused = run(&ws, &["destroy", "--shared", "knowledge-base-mcp", "--yes"]);
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(
        refused
            .stderr
            .contains("still used by deployed client(s): client-a, client-b"),
        "{refused:?}"
    );
    let dry = run(&ws, &["destroy", "client-a", "--dry-run"]);
    assert_eq!(dry.code, 2, "{dry:?}");
    assert!(dry.stdout.contains("- client-a/custom-crm-mcp"), "{dry:?}");
    assert!(!dry.stdout.contains("knowledge-base-mcp"), "{dry:?}");
    let a_ports: Vec<u16> = ports(&ws);
    let a = run(&ws, &["destroy", "client-a", "--yes"]);
    assert_eq!(a.code, 0, "{a:?}");
    assert_eq!(
        kb_pids(&ws),
        Some(kb.clone()),
        "the knowledge base still runs"
    );
    assert!(pid_alive(kb.1));

    // client-b is its last deployed user: the plan says it goes, before anything is removed.
    let dry = run(&ws, &["destroy", "client-b", "--dry-run"]);
    assert_eq!(dry.code, 2, "{dry:?}");
    assert!(
        dry.stdout.contains("- shared/knowledge-base-mcp"),
        "{dry:?}"
    );
    assert!(
        dry.stdout.contains(
            "shared/knowledge-base-mcp goes too: no other deployed client on local uses it"
        ),
        "{dry:?}"
    );
    assert!(pid_alive(kb.1), "a dry run removes nothing");
    let before = pids(&ws);
    let b_ports = ports(&ws);
    let b = run(&ws, &["destroy", "client-b", "--yes"]);
    assert_eq!(b.code, 0, "{b:?}");
    assert_nothing_left(&before, &[a_ports, b_ports].concat());
    assert!(pids(&ws).is_empty(), "{:?}", pids(&ws));
    let again = run(&ws, &["destroy", "client-b", "--dry-run"]);
    assert_eq!(again.code, 0, "nothing left to remove: {again:?}");
}

#[test]
fn destroy_all_after_deploying_every_example_client_leaves_no_supervisor_server_or_port() {
    let ws = TempWorkspace::example();
    let _cleanup = Cleanup::new(&ws);
    let d = run(&ws, &["deploy", "--all", "--yes"]);
    assert_eq!(d.code, 0, "{d:?}");
    let before = pids(&ws);
    assert!(before.len() >= 6, "{before:?}");
    let ports = ports(&ws);
    assert!(ports.iter().all(|p| answers(*p)), "{ports:?}");

    let dry = run(
        &ws,
        &["destroy", "--all", "--platform", "local", "--dry-run"],
    );
    assert_eq!(dry.code, 2, "{dry:?}");
    assert!(
        before.iter().all(|(_, s, _)| pid_alive(*s)),
        "a dry run removes nothing"
    );
    let all = run(&ws, &["destroy", "--all", "--yes"]);
    assert_eq!(all.code, 0, "{all:?}");
    assert_nothing_left(&before, &ports);
    assert!(pids(&ws).is_empty(), "{:?}", pids(&ws));
    let supervisors = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .filter(|cmd| {
            let cmd = String::from_utf8_lossy(cmd);
            cmd.contains("__supervise") && cmd.contains(&*ws.path().to_string_lossy())
        })
        .count();
    assert_eq!(supervisors, 0, "a supervisor of this workspace still runs");
    let nothing = run(&ws, &["destroy", "--all", "--dry-run"]);
    assert_eq!(nothing.code, 0, "{nothing:?}");
}

#[test]
fn an_unknown_shared_server_exits_1_with_a_suggestion() {
    let ws = TempWorkspace::example();
    let r = run(&ws, &["destroy", "--shared", "knowledge-base", "--yes"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("no shared server named `knowledge-base`"),
        "{r:?}"
    );
    assert!(
        r.stderr.contains("did you mean `knowledge-base-mcp`?"),
        "{r:?}"
    );
    // A known one that nothing deployed uses is simply nothing to do.
    let r = run(
        &ws,
        &["destroy", "--shared", "knowledge-base-mcp", "--dry-run"],
    );
    assert_eq!(r.code, 0, "{r:?}");
}

#[test]
fn destroy_without_a_terminal_or_yes_says_destroy_and_suggests_its_own_dry_run() {
    let ws = TempWorkspace::example();
    let r = ws.run(&["destroy", "client-a"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("refusing to destroy without confirmation")
            && r.stderr.contains("--dry-run"),
        "{r:?}"
    );
    let dry = ws.run(&["destroy", "client-a", "--dry-run"]);
    assert_ne!(dry.code, 1, "the suggested flag exists: {dry:?}");
}
