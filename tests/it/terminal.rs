//! What a person at a terminal sees: the deploy table's columns line up whether or not colour
//! codes are in the cells, piped and on a real 100-column TTY (tmux, when installed).

use std::path::Path;
use std::process::Command;

use crate::common;

use common::TempWorkspace;
use common::local::{Cleanup, run_with};

/// The column starts of the result table (CLIENT, RESULT, DETAIL; CHANGES by its right edge),
/// checked on every row: a cell starts where its header does and nothing spills into a column.
fn assert_table_lines_up(screen: &str) {
    let lines: Vec<&str> = screen.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.starts_with("CLIENT"))
        .unwrap_or_else(|| panic!("no result table:\n{screen}"));
    let header = lines[start];
    let result_at = header.find("RESULT").unwrap();
    let changes_end = header.find("CHANGES").unwrap() + "CHANGES".len();
    let detail_at = header.find("DETAIL").unwrap();
    let mut rows = 0;
    for line in &lines[start + 1..] {
        let chars: Vec<char> = line.chars().collect();
        // The table ends at the first blank line.
        if line.trim().is_empty() {
            break;
        }
        assert!(
            chars.len() > detail_at,
            "a row without DETAIL: {line:?}\n{screen}"
        );
        let text = |from: usize, to: usize| chars[from..to].iter().collect::<String>();
        if chars[0] != ' ' {
            // A client row: RESULT starts at its header, CHANGES ends at its header's end.
            assert!(
                chars[result_at - 1] == ' ' && chars[result_at] != ' ',
                "RESULT misaligned in {line:?}\n{screen}"
            );
            assert!(
                chars[changes_end - 1].is_ascii_digit() && chars[changes_end] == ' ',
                "CHANGES misaligned in {line:?}\n{screen}"
            );
            rows += 1;
        } else {
            assert_eq!(
                text(0, detail_at).trim(),
                "",
                "a detail line starts before DETAIL: {line:?}\n{screen}"
            );
        }
        assert_eq!(
            chars[detail_at - 1],
            ' ',
            "DETAIL misaligned in {line:?}\n{screen}"
        );
        assert_ne!(
            text(detail_at, chars.len()).trim(),
            "",
            "empty DETAIL in {line:?}\n{screen}"
        );
    }
    assert!(rows > 0, "no client row:\n{screen}");
}

fn strip(s: &str) -> String {
    // CSI sequences (colours): ESC [ … final byte.
    let re = regex::Regex::new("\x1b\\[[0-9;?]*[ -/]*[@-~]").unwrap();
    re.replace_all(s, "").into_owned()
}

#[test]
fn the_deploy_table_lines_up_with_and_without_colour() {
    let ws = TempWorkspace::example();
    let _cleanup = Cleanup::new(&ws);
    let coloured = run_with(
        &ws,
        &["deploy", "client-b", "--yes", "--color", "always"],
        &[],
    );
    assert_eq!(coloured.code, 0, "{coloured:?}");
    assert!(
        coloured.stdout.contains("\x1b[32mok"),
        "colour forced: {coloured:?}"
    );
    assert_table_lines_up(&strip(&coloured.stdout));
    assert_eq!(
        run_with(&ws, &["destroy", "client-b", "--yes"], &[]).code,
        0
    );

    let plain = run_with(&ws, &["deploy", "client-b", "--yes", "--no-color"], &[]);
    assert_eq!(plain.code, 0, "{plain:?}");
    assert!(
        !plain.all().contains('\x1b'),
        "no escape codes at all: {plain:?}"
    );
    assert_table_lines_up(&plain.stdout);
    assert_eq!(
        run_with(&ws, &["destroy", "client-b", "--yes"], &[]).code,
        0
    );

    // NO_COLOR is honoured, and an explicit --color always wins over it.
    let env_off = run_with(
        &ws,
        &["diff", "client-b", "--color", "auto"],
        &[("NO_COLOR", "1")],
    );
    assert!(!env_off.all().contains('\x1b'), "{env_off:?}");
    let forced = run_with(
        &ws,
        &["diff", "client-b", "--color", "always"],
        &[("NO_COLOR", "1")],
    );
    assert!(forced.stdout.contains('\x1b'), "{forced:?}");
}

/// Run `args` in a detached tmux pane of 100 columns and return the screen as a person sees it.
fn on_a_tty(ws: &Path, socket: &str, args: &str) -> String {
    let bin_dir = common::local::server_bins();
    let script = format!(
        "cd '{}' && env -u NO_COLOR TERM=xterm-256color SCALEWIZE_LOCAL_BIN_DIR='{}' '{}' {args}; tmux -L {socket} wait-for -S done; sleep 60",
        ws.display(),
        bin_dir.display(),
        common::bin()
    );
    let tmux = |a: &[&str]| {
        Command::new("tmux")
            .arg("-L")
            .arg(socket)
            .args(a)
            .output()
            .unwrap()
    };
    let started = tmux(&[
        "new-session",
        "-d",
        "-x",
        "100",
        "-y",
        "50",
        "-s",
        "t",
        &script,
    ]);
    assert!(started.status.success(), "{started:?}");
    let waited = Command::new("timeout")
        .args(["120", "tmux", "-L", socket, "wait-for", "done"])
        .status()
        .unwrap();
    // -J joins lines the terminal wrapped; -S - from the start of the history.
    let screen = tmux(&["capture-pane", "-p", "-J", "-S", "-", "-t", "t"]);
    let _ = tmux(&["kill-server"]);
    assert!(waited.success(), "the command did not finish in tmux");
    String::from_utf8_lossy(&screen.stdout).into_owned()
}

#[test]
fn on_a_100_column_terminal_the_deploy_table_lines_up() {
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("SKIPPED: tmux is not installed");
        return;
    }
    let ws = TempWorkspace::example();
    let _cleanup = Cleanup::new(&ws);
    let socket = format!("scalewize-test-{}", std::process::id());
    let auto = on_a_tty(ws.path(), &socket, "deploy client-b --yes");
    assert_table_lines_up(&auto);
    assert_eq!(
        run_with(&ws, &["destroy", "client-b", "--yes"], &[]).code,
        0
    );
    let never = on_a_tty(ws.path(), &socket, "deploy client-b --yes --color never");
    assert_table_lines_up(&never);
}

#[test]
fn logs_follow_prints_lines_as_they_arrive() {
    use std::io::BufRead;
    let ws = TempWorkspace::example();
    let _cleanup = Cleanup::new(&ws);
    assert_eq!(run_with(&ws, &["deploy", "client-b", "--yes"], &[]).code, 0);
    let log = ws
        .path()
        .join(".scalewize/local/logs/client-b.custom-erp-mcp.log");
    assert!(log.is_file(), "{}", log.display());
    let mut child = Command::new(common::bin())
        .args(["logs", "client-b", "custom-erp-mcp", "--follow"])
        .current_dir(ws.path())
        .env("NO_COLOR", "1")
        .envs(common::local::env())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            if tx.send(line.unwrap_or_default()).is_err() {
                break;
            }
        }
    });
    // Each marker is appended after the follower is running; it must show up.
    for marker in ["scalewize-follow-marker-1", "scalewize-follow-marker-2"] {
        let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
        use std::io::Write;
        writeln!(f, "{marker}").unwrap();
        drop(f);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let mut got = false;
        while std::time::Instant::now() < deadline {
            match rx.recv_timeout(std::time::Duration::from_secs(1)) {
                Ok(l) if l == marker => {
                    got = true;
                    break;
                }
                _ => {}
            }
        }
        assert!(got, "{marker} was not followed");
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Without a terminal every finished step's line carries the run's overall count.
#[test]
fn plain_progress_lines_count_finished_steps_up_to_the_total() {
    let ws = crate::common::TempWorkspace::example();
    let _cleanup = crate::common::local::Cleanup::new(&ws);
    let r = crate::common::local::run(&ws, &["deploy", "client-a", "--yes"]);
    assert_eq!(r.code, 0, "{r:?}");
    let counts: Vec<(usize, usize)> = r
        .stderr
        .lines()
        .filter_map(|l| {
            let (_, rest) = l.split_once(" [")?;
            let (n, rest) = rest.split_once('/')?;
            let (total, _) = rest.split_once("] ")?;
            Some((n.parse().ok()?, total.parse().ok()?))
        })
        .collect();
    assert!(!counts.is_empty(), "{r:?}");
    let total = counts[0].1;
    assert_eq!(counts.len(), total, "one counted line per step: {r:?}");
    assert_eq!(counts.last(), Some(&(total, total)), "{r:?}");
}
