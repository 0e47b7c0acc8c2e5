//! The workspace lock: one exclusive kernel file lock (`flock`, through the `fs4` crate) on
//! `.scalewize/locks/workspace.lock`, held by every command that writes (`new`, `render`,
//! `deploy`, `destroy`, `secret set|rm|rotate|generate|reencrypt`) for its whole run.
//!
//! Why one lock for the workspace rather than one per resource: the writing commands overlap
//! (the first `secret set` of any client creates the fingerprint key in the shared store; deploy
//! reads the stores, checks the generated files and writes local platform state), a single lock
//! cannot deadlock, and the writes it serialises are short except deploy and destroy, which a
//! second run should wait for anyway. Read-only commands (`validate`, `diff`, `status`, `logs`,
//! `secret list`, `render --check`, `deploy --dry-run`) take no lock.
//!
//! A kernel lock dies with its process, so a killed holder never leaves a stale lock: the next
//! run simply gets it. Beside the lock, `workspace.holder.json` says who holds it (pid, host,
//! command, since) so a waiting run can tell its user; it is informative only, never trusted for
//! mutual exclusion. The lock file is opened close-on-exec, so the local supervisors a deploy
//! starts do not inherit it.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fs4::fs_std::FileExt;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Where locks live, relative to the workspace root (git-ignored with the rest of `.scalewize/`).
pub const LOCK_DIR: &str = ".scalewize/locks";
/// The lock every writing command takes.
pub const WORKSPACE_LOCK: &str = "workspace";
/// How long a second run waits by default (`--lock-timeout`).
pub const DEFAULT_TIMEOUT_SECS: u64 = 60;

/// Who holds a lock, as its holder wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub pid: u32,
    pub host: String,
    pub command: String,
    pub since: String,
}

impl Holder {
    /// This process, running `command`.
    pub fn me(command: &str) -> Holder {
        Holder {
            pid: std::process::id(),
            host: hostname(),
            command: command.to_string(),
            since: crate::ui::timestamp(),
        }
    }

    pub fn describe(&self) -> String {
        format!(
            "pid {} on {}, running `{}` since {}",
            self.pid, self.host, self.command, self.since
        )
    }
}

/// A held lock; released (and its holder file removed) on drop, or by the kernel if the process dies.
#[derive(Debug)]
pub struct Guard {
    file: File,
    holder_path: PathBuf,
}

impl Drop for Guard {
    fn drop(&mut self) {
        // Remove the holder note first: once unlocked, the next holder writes its own.
        let _ = std::fs::remove_file(&self.holder_path);
        let _ = FileExt::unlock(&self.file);
    }
}

/// What a waiting run is told, once per holder it sees.
pub type OnWait<'a> = &'a dyn Fn(&str);

/// Take the lock `name` of the workspace at `root`, waiting up to `timeout` for its holder.
/// `command` describes this run to whoever waits for it (no values: it is written to disk).
pub fn acquire(
    root: &Path,
    name: &str,
    command: &str,
    timeout: Duration,
    on_wait: OnWait,
) -> Result<Guard> {
    let dir = root.join(LOCK_DIR);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io("create", &dir, e))?;
    let lock_path = dir.join(format!("{name}.lock"));
    let holder_path = dir.join(format!("{name}.holder.json"));
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&lock_path)
        .map_err(|e| Error::io("open", &lock_path, e))?;
    let start = Instant::now();
    let mut told: Option<String> = None;
    loop {
        match file.try_lock_exclusive() {
            Ok(true) => break,
            Ok(false) => {}
            Err(e) => return Err(Error::io("lock", &lock_path, e)),
        }
        let out_of_time = start.elapsed() >= timeout;
        // The holder writes its note just after taking the lock: give it a moment before
        // reporting an unknown holder.
        let grace = if out_of_time || told.is_none() {
            Duration::from_millis(300)
        } else {
            Duration::ZERO
        };
        let who = live_holder(&holder_path, grace)
            .as_ref()
            .map_or_else(|| "another scalewize run".to_string(), Holder::describe);
        let rel = rel_path(root, &lock_path);
        if out_of_time {
            return Err(Error::new(format!(
                "the workspace is locked by {who} ({rel}); gave up after waiting {} s",
                timeout.as_secs()
            ))
            .hint(
                "let that run finish and retry, or wait longer with --lock-timeout <SECONDS>; \
                 the lock is a kernel lock, so it is released the moment its holder exits (even when killed)",
            ));
        }
        if told.as_deref() != Some(who.as_str()) {
            on_wait(&format!(
                "waiting up to {} s for the workspace lock ({rel}), held by {who}",
                timeout.as_secs()
            ));
            told = Some(who);
        }
        let left = timeout.saturating_sub(start.elapsed());
        std::thread::sleep(left.min(Duration::from_millis(50)));
    }
    let me = Holder::me(command);
    let json = serde_json::to_vec_pretty(&me).unwrap_or_default();
    // A killed holder's note may still be here: it is simply replaced.
    crate::fs::write_atomic(&holder_path, &json, Some(0o644))?;
    Ok(Guard { file, holder_path })
}

/// Whether a file lock is held, as the kernel says (a killed holder's note is left behind, so
/// the note alone cannot tell).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileLock {
    Free,
    /// Held; by whom when its holder's note names a live process.
    Held(Option<Holder>),
}

/// The state of the lock `name` of the workspace at `root`, without waiting for it. A shared
/// lock taken and dropped at once: an exclusive taker meanwhile just tries again (it polls).
pub fn probe(root: &Path, name: &str) -> Result<FileLock> {
    let dir = root.join(LOCK_DIR);
    let lock_path = dir.join(format!("{name}.lock"));
    let file = match File::open(&lock_path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(FileLock::Free),
        Err(e) => return Err(Error::io("open", &lock_path, e)),
    };
    match FileExt::try_lock_shared(&file) {
        Ok(true) => {
            let _ = FileExt::unlock(&file);
            Ok(FileLock::Free)
        }
        Ok(false) => Ok(FileLock::Held(live_holder(
            &dir.join(format!("{name}.holder.json")),
            Duration::from_millis(300),
        ))),
        Err(e) => Err(Error::io("lock", &lock_path, e)),
    }
}

/// The holder note, if it names a live process (a killed holder's note is left behind);
/// waits up to `grace` for one to appear.
fn live_holder(path: &Path, grace: Duration) -> Option<Holder> {
    let start = Instant::now();
    loop {
        if let Some(h) = read_holder(path)
            && (h.host != hostname() || process_alive(h.pid))
        {
            return Some(h);
        }
        if start.elapsed() >= grace {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether process `pid` exists on this machine.
pub fn process_alive(pid: u32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    let rc = unsafe { libc::kill(pid as libc::pid_t, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

fn read_holder(path: &Path) -> Option<Holder> {
    let text = std::fs::read(path).ok()?;
    serde_json::from_slice(&text).ok()
}

fn rel_path(root: &Path, p: &Path) -> String {
    p.strip_prefix(root).unwrap_or(p).display().to_string()
}

/// This machine's name (for lock holder notes).
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates within it on success.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "unknown host".to_string();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn a_second_taker_waits_then_fails_naming_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let first = acquire(dir.path(), "t", "deploy client-a", Duration::ZERO, &|_| {}).unwrap();
        let told = Mutex::new(Vec::new());
        let err = acquire(
            dir.path(),
            "t",
            "secret set client-a X",
            Duration::from_millis(120),
            &|m| told.lock().unwrap().push(m.to_string()),
        )
        .unwrap_err();
        let me = std::process::id().to_string();
        assert!(err.message.contains(&format!("pid {me}")), "{err}");
        assert!(err.message.contains("`deploy client-a`"), "{err}");
        assert!(err.hint.unwrap().contains("--lock-timeout"));
        assert_eq!(told.lock().unwrap().len(), 1, "told once per holder");
        drop(first);
        assert_eq!(probe(dir.path(), "t").unwrap(), FileLock::Free);
        assert!(!dir.path().join(LOCK_DIR).join("t.holder.json").exists());
        let again = acquire(dir.path(), "t", "render", Duration::ZERO, &|_| {}).unwrap();
        match probe(dir.path(), "t").unwrap() {
            FileLock::Held(Some(h)) => assert_eq!(h.command, "render"),
            other => panic!("{other:?}"),
        }
        drop(again);
    }
}
