//! Two runs of the real binary at the same time, as two terminals (or two CI jobs on one
//! checkout) would start them: the workspace lock must serialise them, so no write is lost and
//! no service is started twice; a run that gives up says who holds the lock and exits 1.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::common::local::{Cleanup, pid_alive, run_with};
use crate::common::{Run, TempWorkspace};

/// Run two commands at once (each on its own thread, each a real process).
fn both<A: FnOnce() -> Run + Send, B: FnOnce() -> Run + Send>(a: A, b: B) -> (Run, Run) {
    std::thread::scope(|s| {
        let a = s.spawn(a);
        let b = s.spawn(b);
        (a.join().unwrap(), b.join().unwrap())
    })
}

fn names_in_store(ws: &TempWorkspace, client: &str) -> Vec<String> {
    ws.read(&format!("client-configs/{client}/secrets.env"))
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.to_string()))
        .collect()
}

#[test]
fn thirty_pairs_of_concurrent_secret_sets_on_different_names_keep_all_sixty() {
    let ws = TempWorkspace::example();
    let before = names_in_store(&ws, "client-a");
    let started = std::time::Instant::now();
    for i in 0..30 {
        let (a, b) = (format!("RACE_{i}_A"), format!("RACE_{i}_B"));
        let (ra, rb) = both(
            || ws.run_stdin(&["secret", "set", "client-a", &a], &[], b"value-a"),
            || ws.run_stdin(&["secret", "set", "client-a", &b], &[], b"value-b"),
        );
        assert_eq!(ra.code, 0, "{a}: {ra:?}");
        assert_eq!(rb.code, 0, "{b}: {rb:?}");
    }
    eprintln!(
        "30 pairs of concurrent `secret set`: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let after = names_in_store(&ws, "client-a");
    for i in 0..30 {
        for s in ["A", "B"] {
            let n = format!("RACE_{i}_{s}");
            assert!(after.contains(&n), "{n} was lost; store has {after:?}");
        }
    }
    assert_eq!(after.len(), before.len() + 60, "{after:?}");
    // Every value still decrypts to what was written to it.
    let listed = ws.run(&["secret", "list", "client-a", "--json"]);
    assert_eq!(listed.code, 0, "{listed:?}");
}

/// Processes of this workspace: supervisors (by the record path on their command line) and
/// servers (children of a supervisor, or anything else running from inside the workspace).
/// (pid, service record) of each supervisor; (pid, cwd) of every other process.
type Processes = (Vec<(u32, String)>, Vec<(u32, PathBuf)>);

fn processes_of(root: &Path) -> Processes {
    let root = root.canonicalize().unwrap();
    let mut supervisors = Vec::new();
    let mut others = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if pid == std::process::id() || !pid_alive(pid) {
            continue;
        }
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let args: Vec<String> = cmdline
            .split(|&b| b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        if let Some(i) = args.iter().position(|a| a == "__supervise") {
            let record = args.get(i + 1).cloned().unwrap_or_default();
            let p = PathBuf::from(&record);
            if p.canonicalize().unwrap_or(p).starts_with(&root) {
                let service = Path::new(&record)
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                supervisors.push((pid, service));
            }
            continue;
        }
        if let Ok(cwd) = std::fs::read_link(format!("/proc/{pid}/cwd"))
            && cwd.starts_with(&root)
        {
            others.push((pid, cwd));
        }
    }
    (supervisors, others)
}

#[test]
fn twenty_runs_of_two_concurrent_deploys_leave_one_supervisor_and_one_server_per_service() {
    let ws = TempWorkspace::example();
    let _cleanup = Cleanup::new(&ws);
    let started = std::time::Instant::now();
    let mut lock_refusals = 0;
    for i in 0..20 {
        // Odd runs: the second deploy gives up at once when the first holds the lock.
        let timeout = if i % 2 == 1 { "0" } else { "60" };
        let (a, b) = both(
            || run_with(&ws, &["deploy", "client-a", "--yes"], &[]),
            || {
                run_with(
                    &ws,
                    &["deploy", "client-a", "--yes", "--lock-timeout", timeout],
                    &[],
                )
            },
        );
        for r in [&a, &b] {
            assert!(r.code == 0 || r.code == 1, "run {i}: {r:?}");
            if r.code == 1 {
                assert!(
                    r.stderr.contains("the workspace is locked by pid")
                        && r.stderr.contains("running `deploy client-a`"),
                    "run {i}: a failed deploy must be the lock's refusal: {r:?}"
                );
                lock_refusals += 1;
            }
        }
        assert!(a.code == 0 || b.code == 0, "run {i}: one deploy succeeds");
        let (supervisors, servers) = processes_of(ws.path());
        let mut per_service: BTreeMap<&str, usize> = BTreeMap::new();
        for (_, s) in &supervisors {
            *per_service.entry(s.as_str()).or_default() += 1;
        }
        assert_eq!(
            per_service.len(),
            2,
            "run {i}: the knowledge base and the CRM are supervised: {supervisors:?}"
        );
        assert!(
            per_service.values().all(|&n| n == 1),
            "run {i}: one supervisor per service: {supervisors:?}"
        );
        assert_eq!(
            servers.len(),
            2,
            "run {i}: one server per service: {servers:?}"
        );
        let status = run_with(&ws, &["status", "client-a"], &[]);
        assert_eq!(status.code, 0, "run {i}: healthy: {status:?}");
        // Start the next run from nothing deployed for the client (the shared server stays).
        let destroyed = run_with(&ws, &["destroy", "client-a", "--yes"], &[]);
        assert_eq!(destroyed.code, 0, "run {i}: {destroyed:?}");
    }
    eprintln!(
        "20 runs of two concurrent deploys: {:.1} s, {lock_refusals} gave up on the lock",
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn a_run_that_cannot_get_the_lock_names_its_holder_and_writes_nothing() {
    let ws = TempWorkspace::example();
    // Hold the lock from this test process, as a long deploy would.
    let _held = scalewize::lock::acquire(
        ws.path(),
        scalewize::lock::WORKSPACE_LOCK,
        "deploy client-a",
        std::time::Duration::ZERO,
        &|_| {},
    )
    .unwrap();
    let before = ws.snapshot();
    let r = ws.run_stdin(
        &[
            "secret",
            "set",
            "client-a",
            "NEW_ONE",
            "--lock-timeout",
            "1",
        ],
        &[],
        b"v",
    );
    assert_eq!(r.code, 1, "{r:?}");
    let me = std::process::id();
    assert!(
        r.stderr
            .contains("waiting up to 1 s for the workspace lock"),
        "{r:?}"
    );
    assert!(
        r.stderr.contains(&format!("locked by pid {me} on ")),
        "{r:?}"
    );
    assert!(
        r.stderr.contains("running `deploy client-a` since 20"),
        "{r:?}"
    );
    assert!(r.stderr.contains("--lock-timeout"), "{r:?}");
    // `lock status` names the same holder, as text and as JSON.
    let status = ws.run(&["lock", "status", "--platform", "local"]);
    assert_eq!(status.code, 0, "{status:?}");
    assert!(
        status.stdout.contains("local: held by ")
            && status
                .stdout
                .contains(&format!("(pid {me}), running `deploy client-a`")),
        "{status:?}"
    );
    let v: serde_json::Value = serde_json::from_str(
        &ws.run(&["lock", "status", "--platform", "local", "--json"])
            .stdout,
    )
    .unwrap();
    assert_eq!(v["command"], "lock status", "{v}");
    assert_eq!(v["locks"][0]["state"], "held", "{v}");
    assert_eq!(v["locks"][0]["pid"], me, "{v}");
    assert_eq!(ws.snapshot(), before, "nothing written");
    // Read-only commands take no lock.
    assert_eq!(ws.run(&["validate"]).code, 0);
    assert_eq!(ws.run(&["render", "--check"]).code, 0);
}

#[test]
fn a_killed_holder_leaves_no_lock_behind() {
    let ws = TempWorkspace::example();
    // A writing command stopped while it holds the lock: `secret set` waits on its stdin.
    let mut child = std::process::Command::new(crate::common::bin())
        .args(["secret", "set", "client-a", "HELD"])
        .current_dir(ws.path())
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let holder = ws.path().join(".scalewize/locks/workspace.holder.json");
    let t = std::time::Instant::now();
    while !holder.exists() {
        assert!(t.elapsed().as_secs() < 30, "the holder never took the lock");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // Its holder note is left behind, but the kernel released the lock with the process,
    // and `lock status` goes by the kernel, not by the note.
    assert!(holder.exists());
    let status = ws.run(&["lock", "status", "--platform", "local"]);
    assert_eq!(status.stdout.trim(), "local: free", "{status:?}");
    let r = ws.run_stdin(
        &["secret", "set", "client-a", "AFTER", "--lock-timeout", "0"],
        &[],
        b"v",
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(names_in_store(&ws, "client-a").contains(&"AFTER".to_string()));
}

#[test]
fn destroy_stops_a_supervisor_no_run_file_names() {
    let ws = TempWorkspace::example();
    let _cleanup = Cleanup::new(&ws);
    let first = run_with(&ws, &["deploy", "client-a", "--yes"], &[]);
    assert_eq!(first.code, 0, "{first:?}");
    // A twin of the CRM's supervisor, as a crash between start and record (or a race before
    // the lock) leaves one: same record, its own process group, and it rewrites the run file.
    let record = ws
        .path()
        .join(".scalewize/local/services/client-a.custom-crm-mcp.json");
    assert!(record.is_file());
    use std::os::unix::process::CommandExt;
    let mut twin = std::process::Command::new(crate::common::bin())
        .arg("__supervise")
        .arg(&record)
        .current_dir(ws.path())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    let crm = |p: &(u32, String)| p.1.contains("custom-crm-mcp");
    let t = std::time::Instant::now();
    while processes_of(ws.path()).0.iter().filter(|p| crm(p)).count() < 2 {
        assert!(t.elapsed().as_secs() < 20, "the twin never started");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let status = run_with(&ws, &["status", "client-a"], &[]);
    assert!(
        status
            .stdout
            .contains("1 untracked supervisor(s) also running"),
        "status shows the twin: {status:?}"
    );
    let destroyed = run_with(&ws, &["destroy", "client-a", "--yes"], &[]);
    assert_eq!(destroyed.code, 0, "{destroyed:?}");
    let _ = twin.wait();
    let (supervisors, servers) = processes_of(ws.path());
    assert!(
        !supervisors.iter().any(crm),
        "every CRM supervisor, recorded or not, is gone: {supervisors:?}"
    );
    // client-a was the knowledge base's last deployed user: it goes too.
    assert_eq!(
        supervisors.len(),
        0,
        "nothing of client-a's is left: {supervisors:?}"
    );
    assert!(servers.is_empty(), "no server runs: {servers:?}");
}
