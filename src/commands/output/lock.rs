//! `lock status --json`: the workspace lock and each platform lock, and who holds them.

use schemars::JsonSchema;
use serde::Serialize;

use crate::lock::{FileLock, Holder};
use crate::platform::lock::LockState;
use crate::workspace::PlatformName;

#[derive(Serialize, JsonSchema)]
pub struct LockStatusOutput {
    /// One per platform asked about (`local` is the workspace file lock).
    pub locks: Vec<LockRecord>,
}

/// Whether a lock is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LockStateName {
    Held,
    Free,
    /// The platform keeps no lock of its own.
    None,
}

/// One lock; the holder's fields are there when its holder left a note.
#[derive(Serialize, JsonSchema)]
pub struct LockRecord {
    pub platform: PlatformName,
    pub state: LockStateName,
    /// What the lock is: a file, a Fly app, a Railway service.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// `user@host` (platform locks) or the host (the workspace lock).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub holder: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// The holder's command, e.g. `deploy client-b`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    /// When it was taken (UTC, RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age_secs: Option<u64>,
    /// `SCALEWIZE_LOCK_MESSAGE` of the holder; left out when empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The holder was a process of this machine that is gone: safe to release.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stale: Option<bool>,
}

impl LockRecord {
    fn bare(platform: PlatformName, state: LockStateName) -> Self {
        LockRecord {
            platform,
            state,
            resource: None,
            holder: None,
            pid: None,
            run: None,
            since: None,
            age_secs: None,
            message: None,
            stale: None,
        }
    }

    /// A platform's own lock, as found on the platform.
    pub fn of_platform(platform: PlatformName, state: &LockState) -> Self {
        match state {
            LockState::Unsupported => Self::bare(platform, LockStateName::None),
            LockState::Free => Self::bare(platform, LockStateName::Free),
            LockState::Held { resource, note } => {
                let mut r = Self::bare(platform, LockStateName::Held);
                r.resource = Some(resource.clone());
                if let Some(n) = note {
                    r.holder = Some(n.holder.clone());
                    r.pid = Some(n.pid);
                    r.run = Some(n.run.clone());
                    r.since = Some(n.since.clone());
                    r.age_secs = Some(n.age_secs());
                    r.message = Some(n.message.clone()).filter(|m| !m.is_empty());
                    r.stale = Some(n.is_stale());
                }
                r
            }
        }
    }

    /// The workspace file lock (the `local` platform's lock), at `resource`.
    pub fn of_workspace(state: FileLock, resource: String) -> Self {
        match state {
            FileLock::Free => Self::bare(PlatformName::Local, LockStateName::Free),
            FileLock::Held(holder) => {
                let mut r = Self::bare(PlatformName::Local, LockStateName::Held);
                r.resource = Some(resource);
                if let Some(Holder {
                    pid,
                    host,
                    command,
                    since,
                }) = holder
                {
                    r.holder = Some(host);
                    r.pid = Some(pid);
                    r.run = Some(command);
                    r.since = Some(since);
                }
                r
            }
        }
    }
}
