//! A reader that goes away (`scalewize … | head -1`) must not panic the run: exit codes stay
//! 0, 1 or 2, never 101. Real pipes, closed before the first byte is written (every write
//! fails with EPIPE) and a real `head` through a shell.

use std::process::{Command, Stdio};

use crate::common::local::{Cleanup, env as local_env, pids, run_with};
use crate::common::{TempWorkspace, bin};

/// Run with stdout and stderr both on a pipe whose reading end is already closed.
fn run_into_closed_pipe(ws: &TempWorkspace, args: &[&str]) -> i32 {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .current_dir(ws.path())
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(writer.try_clone().unwrap())
        .stderr(writer);
    for (k, v) in local_env() {
        cmd.env(k, v);
    }
    let status = cmd.status().unwrap();
    status
        .code()
        .unwrap_or_else(|| panic!("{args:?} died of a signal: {status:?}"))
}

#[test]
fn commands_writing_into_a_closed_pipe_exit_normally_and_still_do_their_work() {
    let ws = TempWorkspace::example();
    let _cleanup = Cleanup::new(&ws);
    assert_eq!(
        run_into_closed_pipe(&ws, &["deploy", "client-a", "--yes"]),
        0
    );
    // The deploy went on without anyone reading: its services run and are healthy.
    assert_eq!(pids(&ws).len(), 2, "the knowledge base and the CRM run");
    let status = run_with(&ws, &["status", "client-a"], &[]);
    assert_eq!(status.code, 0, "{status:?}");
    let cases: &[(&[&str], i32)] = &[
        (&["status", "client-a"], 0),
        (&["validate"], 0),
        (&["render", "--check"], 0),
        (&["render"], 0),
        (&["diff", "--local"], 0),
        (&["secret", "list", "client-a"], 0),
        (&["--help"], 0),
        (&["deploy", "client-a", "--dry-run"], 0),
        (&["deploy", "no-such-client", "--yes"], 1),
        (&["validate", "no-such-client"], 1),
        (&["nonsense-command"], 1),
        (&["destroy", "client-a", "--yes"], 0),
    ];
    for (args, want) in cases {
        let code = run_into_closed_pipe(&ws, args);
        assert_eq!(code, *want, "{args:?} exited {code} into a closed pipe");
    }
    // client-a was the shared server's last deployed user: destroy removed both.
    assert_eq!(
        pids(&ws).len(),
        0,
        "destroy removed the CRM and the shared server it alone used"
    );
}

#[test]
fn deploy_and_status_through_head_exit_zero_or_one_never_101() {
    let ws = TempWorkspace::example();
    let _cleanup = Cleanup::new(&ws);
    for (pipeline, args) in [
        ("2>&1 | head -1", "deploy client-a --yes"),
        ("| head -3", "status"),
        ("2>&1 | head -1", "destroy client-a --yes"),
    ] {
        let script = format!("\"$0\" {args} {pipeline} >/dev/null; exit ${{PIPESTATUS[0]}}");
        let mut cmd = Command::new("bash");
        cmd.arg("-c")
            .arg(&script)
            .arg(bin())
            .current_dir(ws.path())
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        for (k, v) in local_env() {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        let code = out.status.code().unwrap();
        assert!(
            code == 0 || code == 1,
            "`scalewize {args} {pipeline}` exited {code}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
