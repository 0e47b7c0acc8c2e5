//! The local platform's state under `.scalewize/local/`: a record per service (written by the
//! CLI) and a run file per service (written by its supervisor), so neither overwrites the other.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::Fields;
use crate::model::{ServiceKey, ServiceKind};

pub struct Dirs {
    pub root: PathBuf,
}

impl Dirs {
    pub fn services(&self) -> PathBuf {
        self.root.join("services")
    }
    pub fn logs(&self) -> PathBuf {
        self.root.join("logs")
    }
    pub fn stem(key: &ServiceKey) -> String {
        match &key.user {
            Some(u) => format!("{}.{}.{u}", key.owner, key.service),
            None => format!("{}.{}", key.owner, key.service),
        }
    }
    pub fn record(&self, key: &ServiceKey) -> PathBuf {
        self.services().join(format!("{}.json", Self::stem(key)))
    }
    pub fn run_file(&self, key: &ServiceKey) -> PathBuf {
        self.services()
            .join(format!("{}.run.json", Self::stem(key)))
    }
    pub fn log(&self, key: &ServiceKey) -> PathBuf {
        self.logs().join(format!("{}.log", Self::stem(key)))
    }
}

/// What the CLI decided for a service: how to run it and what it applied.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub key: ServiceKey,
    pub kind: ServiceKind,
    pub url: String,
    /// MCP servers: the loopback port and how to start the process.
    #[serde(default)]
    pub port: u16,
    #[serde(default)]
    pub health_path: String,
    #[serde(default)]
    pub program: PathBuf,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub cwd: PathBuf,
    #[serde(default)]
    pub log: PathBuf,
    /// LibreChat: the resolved files written for it.
    #[serde(default)]
    pub files: Vec<PathBuf>,
    /// LibreChat: its compose project, when Docker ran it (none: config-only).
    #[serde(default)]
    pub compose_project: Option<String>,
    pub fields: Fields,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunStatus {
    Starting,
    Running,
    Restarting,
    Crashloop,
    Stopped,
}

/// What the supervisor reports.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunFile {
    pub supervisor_pid: u32,
    pub child_pid: Option<u32>,
    pub status: RunStatus,
    /// Restarts within the last minute.
    pub recent_restarts: usize,
    #[serde(default)]
    pub last_exit: Option<String>,
}

pub fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Option<T> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Error::new(e.to_string()))?;
    crate::fs::write_atomic(path, text.as_bytes(), Some(0o600))
}

/// Every live supervisor of the record at `record_path` (`scalewize __supervise <record>`),
/// recorded or not: a supervisor whose run file was overwritten (a crash between start and
/// record, or two deploys before the workspace lock existed) still owns its port and server.
pub fn supervisors_of(record_path: &Path, subcommand: &str) -> Vec<u32> {
    all_supervisors(subcommand)
        .remove(record_path)
        .unwrap_or_default()
}

/// Every live supervisor on this machine, by the record it supervises (one pass over /proc).
pub fn all_supervisors(subcommand: &str) -> std::collections::HashMap<PathBuf, Vec<u32>> {
    let mut out: std::collections::HashMap<PathBuf, Vec<u32>> = Default::default();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return out;
    };
    for pid in entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
    {
        let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let args: Vec<&[u8]> = cmd.split(|&b| b == 0).collect();
        if let Some(w) = args.windows(2).find(|w| w[0] == subcommand.as_bytes())
            && alive(pid, subcommand)
        {
            let record =
                PathBuf::from(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(w[1]));
            out.entry(record).or_default().push(pid);
        }
    }
    out
}

/// Is `pid` a live process whose command line contains `marker`? (Guards against pid reuse.)
pub fn alive(pid: u32, marker: &str) -> bool {
    match std::fs::read(format!("/proc/{pid}/cmdline")) {
        Ok(cmd) => {
            let cmd = String::from_utf8_lossy(&cmd);
            let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .map(|s| {
                    s.rsplit(')')
                        .next()
                        .is_some_and(|rest| rest.trim_start().starts_with('Z'))
                })
                .unwrap_or(false);
            !zombie && cmd.contains(marker)
        }
        Err(_) => false,
    }
}
