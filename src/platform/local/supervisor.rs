//! The supervisor: a detached `scalewize __supervise <record>` process per local service. It
//! runs the server, appends its output to the log, restarts it when it crashes — at most 5
//! times in 60 s, then marks it `crashloop` and gives up — and stops it on SIGTERM.

use std::collections::VecDeque;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::state::{Record, RunFile, RunStatus, read_json, write_json};

pub const MAX_RESTARTS: usize = 5;
pub const RESTART_WINDOW: Duration = Duration::from_secs(60);
/// The hidden subcommand; also the marker that identifies a supervisor in /proc.
pub const SUBCOMMAND: &str = "__supervise";

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

fn log_line(log: &Path, msg: &str) {
    if let Ok(mut f) = OpenOptions::new().create(true).append(true).open(log) {
        let _ = writeln!(f, "[scalewize supervisor {}] {msg}", crate::ui::timestamp());
    }
}

fn stop_child(child: &mut Child) {
    // SAFETY: plain kill(2) on our own child's pid.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Run the supervisor loop for the record at `record_path`; returns the process exit code.
pub fn supervise(record_path: &Path) -> i32 {
    let Some(record) = read_json::<Record>(record_path) else {
        crate::ui::stderr_line(&format!(
            "scalewize supervisor: cannot read {}",
            record_path.display()
        ));
        return 1;
    };
    let run_path = record_path.with_extension("run.json");
    // SAFETY: installing an async-signal-safe handler that only stores to an atomic.
    unsafe {
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
    }
    let me = std::process::id();
    let write =
        |child: Option<u32>, status: RunStatus, restarts: usize, last_exit: Option<String>| {
            let _ = write_json(
                &run_path,
                &RunFile {
                    supervisor_pid: me,
                    child_pid: child,
                    status,
                    recent_restarts: restarts,
                    last_exit,
                },
            );
        };
    let mut restarts: VecDeque<Instant> = VecDeque::new();
    let mut last_exit = None;
    loop {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&record.log);
        let (out, err) = match log.and_then(|f| Ok((f.try_clone()?, f))) {
            Ok((a, b)) => (Stdio::from(a), Stdio::from(b)),
            Err(_) => (Stdio::null(), Stdio::null()),
        };
        let spawned = Command::new(&record.program)
            .args(&record.args)
            .current_dir(&record.cwd)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn();
        let mut child = match spawned {
            Ok(c) => c,
            Err(e) => {
                log_line(
                    &record.log,
                    &format!("cannot start {}: {e}", record.program.display()),
                );
                write(
                    None,
                    RunStatus::Crashloop,
                    restarts.len(),
                    Some(format!("cannot start: {e}")),
                );
                return 1;
            }
        };
        log_line(
            &record.log,
            &format!("started {} (pid {})", record.key, child.id()),
        );
        write(
            Some(child.id()),
            RunStatus::Running,
            restarts.len(),
            last_exit.clone(),
        );
        let status = loop {
            if STOP.load(Ordering::SeqCst) {
                stop_child(&mut child);
                log_line(&record.log, "stopped");
                write(None, RunStatus::Stopped, 0, last_exit);
                return 0;
            }
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) => std::thread::sleep(Duration::from_millis(100)),
                Err(_) => break std::process::ExitStatus::default(),
            }
        };
        let now = Instant::now();
        while restarts
            .front()
            .is_some_and(|t| now.duration_since(*t) > RESTART_WINDOW)
        {
            restarts.pop_front();
        }
        last_exit = Some(status.to_string());
        if restarts.len() >= MAX_RESTARTS {
            log_line(
                &record.log,
                &format!(
                    "{} {status}; restarted {MAX_RESTARTS} times in 60 s, giving up (crashloop)",
                    record.key
                ),
            );
            write(None, RunStatus::Crashloop, restarts.len(), last_exit);
            return 0;
        }
        restarts.push_back(now);
        let backoff =
            crate::net::backoff::scaled(Duration::from_millis(200 * (1 << restarts.len().min(4))));
        log_line(
            &record.log,
            &format!(
                "{} {status}; restart {}/{MAX_RESTARTS} in {} ms",
                record.key,
                restarts.len(),
                backoff.as_millis()
            ),
        );
        write(
            None,
            RunStatus::Restarting,
            restarts.len(),
            last_exit.clone(),
        );
        let until = Instant::now() + backoff;
        while Instant::now() < until {
            if STOP.load(Ordering::SeqCst) {
                write(None, RunStatus::Stopped, 0, last_exit);
                return 0;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
