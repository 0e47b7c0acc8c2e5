//! Platform locks: a lock kept on a cloud platform itself, so that two deploys from different
//! machines (a laptop and CI) cannot interleave their changes there. Each platform creates
//! something whose name is unique in one atomic call (its own `lock` module); this module owns
//! what every platform lock shares: the holder's note, the lock's state, and waiting for it.
//!
//! The workspace file lock (`crate::lock`) still comes first: it serialises runs on one machine;
//! the platform lock serialises machines.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::Platform;
use crate::error::{Error, Result};

/// Who holds a platform lock, written by its holder where the platform lets others read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockNote {
    /// `user@host`.
    pub holder: String,
    pub pid: u32,
    /// The command, e.g. `deploy client-b` (never a value).
    pub run: String,
    /// When it was taken (UTC, RFC 3339) and the same as Unix seconds (to tell its age).
    pub since: String,
    pub since_unix: u64,
    /// Free text (`SCALEWIZE_LOCK_MESSAGE`, e.g. a CI job URL); may be empty.
    #[serde(default)]
    pub message: String,
}

impl LockNote {
    pub fn describe(&self) -> String {
        let mut s = format!(
            "{} (pid {}), running `{}` since {} ({} ago)",
            self.holder,
            self.pid,
            self.run,
            self.since,
            age_text(now_unix().saturating_sub(self.since_unix))
        );
        if !self.message.is_empty() {
            s.push_str(&format!(": {}", self.message));
        }
        s
    }
    pub fn age_secs(&self) -> u64 {
        now_unix().saturating_sub(self.since_unix)
    }
    /// The host part of `holder`.
    pub fn host(&self) -> &str {
        self.holder.rsplit('@').next().unwrap_or_default()
    }
    /// Taken by a process of this machine that is gone (killed, crashed): safe to take over,
    /// because runs on this machine are serialised by the workspace file lock first.
    pub fn is_stale(&self) -> bool {
        is_stale(self.host(), self.pid)
    }
}

/// Whether `pid` of `host` is a process of this machine that no longer runs.
pub fn is_stale(host: &str, pid: u32) -> bool {
    host == crate::lock::hostname() && !crate::lock::process_alive(pid)
}

/// A short tag of a host name, for platform names that cannot hold it whole.
pub fn host_tag(host: &str) -> String {
    use sha2::Digest;
    hex::encode(&sha2::Sha256::digest(host.as_bytes())[..4])
}

/// A platform lock as found on the platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockState {
    /// This platform keeps no lock (the workspace file lock is all there is).
    Unsupported,
    Free,
    /// Held. `note` is None when the holder's note cannot be read (taken a moment ago, or its
    /// holder died between taking the lock and writing the note).
    Held {
        resource: String,
        note: Option<LockNote>,
    },
}

impl LockState {
    pub fn describe_holder(&self) -> String {
        match self {
            LockState::Held {
                note: Some(n),
                resource,
            } if n.is_stale() => format!(
                "{} ({resource}); that process is gone from this machine",
                n.describe()
            ),
            LockState::Held {
                note: Some(n),
                resource,
            } => format!("{} ({resource})", n.describe()),
            LockState::Held {
                note: None,
                resource,
            } => {
                format!("an unknown holder that wrote no note ({resource})")
            }
            LockState::Free => "nobody".into(),
            LockState::Unsupported => "no platform lock".into(),
        }
    }
}

/// What one attempt to take a platform lock found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Taken {
    /// This run holds it now.
    Mine,
    /// Someone else does.
    Theirs(LockState),
    /// The platform keeps no lock.
    Unsupported,
}

pub fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `95` → `1m 35s`.
pub fn age_text(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m {}s", s / 60, s % 60),
        s => format!("{}h {}m", s / 3600, s % 3600 / 60),
    }
}

/// Take `p`'s lock, polling while another run holds it, up to `timeout`; `on_wait` hears once
/// per holder seen. Returns whether a platform lock is now held (false: none on this platform).
pub async fn acquire(
    p: &dyn Platform,
    note: &LockNote,
    timeout: Duration,
    on_wait: &(dyn Fn(&str) + Sync),
) -> Result<bool> {
    let start = Instant::now();
    let mut told: Option<String> = None;
    loop {
        let state = match p.acquire_lock(note).await? {
            Taken::Mine => return Ok(true),
            Taken::Unsupported => return Ok(false),
            // Released between our two calls, or not visible yet: look again at once.
            Taken::Theirs(LockState::Free) if start.elapsed() < timeout => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            Taken::Theirs(s) => s,
        };
        let who = state.describe_holder();
        let name = p.name();
        if start.elapsed() >= timeout {
            return Err(Error::new(format!(
                "the {name} lock is held by {who}; gave up after waiting {} s",
                timeout.as_secs()
            ))
            .hint(format!(
                "let that run finish and retry, or wait longer with --lock-timeout <SECONDS>; \
                 if its holder is gone (killed, CI job cancelled), free it with \
                 `scalewize lock release --platform {name}`"
            )));
        }
        if told.as_deref() != Some(who.as_str()) {
            on_wait(&format!(
                "waiting up to {} s for the {name} lock, held by {who}",
                timeout.as_secs()
            ));
            told = Some(who);
        }
        let left = timeout.saturating_sub(start.elapsed());
        tokio::time::sleep(left.min(POLL)).await;
    }
}

/// How often a waiting run looks again (each look is one create call).
const POLL: Duration = Duration::from_millis(1000);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_age_reads_in_the_largest_useful_units() {
        assert_eq!(age_text(5), "5s");
        assert_eq!(age_text(95), "1m 35s");
        assert_eq!(age_text(7322), "2h 2m");
    }
}
