//! The `local` platform: each MCP server runs on this machine as a supervised background process
//! on a free port, with state under `.scalewize/local/`. Each client's LibreChat is a compose
//! project under `.scalewize/<client>/` (see `librechat`), run by Docker when a daemon answers
//! and `config-only` otherwise.

mod build;
pub mod compose;
mod docker;
mod doctor;
pub mod fit;
pub mod librechat;
mod librechat_service;
pub mod state;
pub mod supervisor;

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use self::build::Binaries;
use self::state::{
    Dirs, Record, RunFile, RunStatus, alive, all_supervisors, read_json, supervisors_of, write_json,
};
use super::{Applied, Platform, Resolved, Step};
use crate::error::{Error, Result};
use crate::model::{Fields, Observed, Op, State, substitute_own_url};
use crate::model::{ServiceKey, ServiceKind, ServiceSpec};
use crate::workspace::{PlatformName, Workspace};

pub use build::BIN_DIR_ENV;

pub struct LocalPlatform {
    workspace: PathBuf,
    prefix: String,
    dirs: Dirs,
    bins: Binaries,
    http: reqwest::Client,
    /// Whether a Docker daemon answers, asked once per run and only when LibreChat needs it.
    docker: OnceLock<bool>,
}

/// The command that starts `client`'s LibreChat when Docker did not run it at deploy (its
/// compose project is written, config-only), for deploy's last lines.
pub fn start_command(ws: &Workspace, client: &str) -> Option<String> {
    let p = LocalPlatform::new(ws).ok()?;
    let r = read_json::<Record>(&p.dirs.record(&ServiceKey::librechat(client)))?;
    if r.compose_project.is_some() {
        return None;
    }
    let file = r
        .files
        .iter()
        .find(|f| f.ends_with(librechat::COMPOSE_FILE))?;
    let project = docker::Project::new(&librechat::project_name(&p.prefix, client), file);
    Some(project.up_command(&ws.root))
}

impl LocalPlatform {
    fn check_inside(&self, path: &Path) -> Result<()> {
        match crate::fs::escape(&self.workspace, path) {
            Some(e) => Err(Error::new(e.describe(&self.workspace)).hint(crate::fs::ESCAPE_HINT)),
            None => Ok(()),
        }
    }

    pub fn new(ws: &Workspace) -> Result<Self> {
        // Records, logs and resolved files live here: refuse a link that leads out.
        if let Some(e) = crate::fs::escape(&ws.root, &ws.state_dir().join("local")) {
            return Err(Error::new(e.describe(&ws.root)).hint(crate::fs::ESCAPE_HINT));
        }
        Ok(LocalPlatform {
            workspace: ws.root.clone(),
            prefix: ws.settings.prefix.clone(),
            docker: OnceLock::new(),
            dirs: Dirs {
                root: ws.state_dir().join("local"),
            },
            bins: Binaries::new(&ws.root),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(2))
                .build()
                .map_err(|e| Error::new(format!("HTTP client: {e}")))?,
        })
    }

    fn records(&self) -> Vec<(PathBuf, Record)> {
        let Ok(entries) = std::fs::read_dir(self.dirs.services()) else {
            return Vec::new();
        };
        let mut out: Vec<(PathBuf, Record)> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.extension().is_some_and(|x| x == "json")
                    && !p.to_string_lossy().ends_with(".run.json")
            })
            .filter_map(|p| read_json::<Record>(&p).map(|r| (p, r)))
            .collect();
        out.sort_by(|a, b| a.1.key.cmp(&b.1.key));
        out
    }

    fn docker(&self) -> bool {
        *self.docker.get_or_init(docker::answers)
    }

    /// Where MCP servers listen. LibreChat in a container reaches the host through Docker's
    /// bridge, not loopback; every deployed server checks its access token, so listening there
    /// is no open door. A field, so Docker coming or going restarts them on the next deploy.
    fn listen_host(&self) -> &'static str {
        if self.docker() {
            "0.0.0.0"
        } else {
            "127.0.0.1"
        }
    }

    /// LibreChat's port for `client`: the one recorded, else its preferred one.
    fn librechat_port(&self, client: &str) -> u16 {
        read_json::<Record>(&self.dirs.record(&ServiceKey::librechat(client)))
            .map(|r| r.port)
            .filter(|p| *p != 0)
            .unwrap_or_else(|| librechat::preferred_port(client))
    }

    fn supervisor(&self, record_path: &Path) -> Option<RunFile> {
        read_json::<RunFile>(&record_path.with_extension("run.json"))
    }

    /// Stop a service's supervisor and server (their process group); wait until both are gone.
    /// Supervisors of the same record that no run file names are stopped too.
    fn stop(&self, record_path: &Path) {
        let recorded = self.supervisor(record_path).map(|r| r.supervisor_pid);
        let untracked: Vec<u32> = supervisors_of(record_path, supervisor::SUBCOMMAND)
            .into_iter()
            .filter(|p| Some(*p) != recorded)
            .collect();
        if !untracked.is_empty() {
            stop_groups(&untracked, &record_path.display().to_string());
        }
        let Some(run) = self.supervisor(record_path) else {
            return;
        };
        let marker = record_path.display().to_string();
        let program = read_json::<Record>(record_path).map(|r| r.program.display().to_string());
        let child_alive = |pid: Option<u32>| match (pid, &program) {
            (Some(c), Some(p)) => alive(c, p),
            _ => false,
        };
        if alive(run.supervisor_pid, &marker) {
            // SAFETY: signalling the process group the supervisor leads (it called setsid);
            // its server is in the same group.
            unsafe {
                libc::kill(-(run.supervisor_pid as libc::pid_t), libc::SIGTERM);
            }
        } else if child_alive(run.child_pid) {
            // The supervisor was killed but its server still runs.
            // SAFETY: a pid we verified (via /proc cmdline) is our server.
            unsafe {
                libc::kill(
                    run.child_pid.unwrap_or_default() as libc::pid_t,
                    libc::SIGTERM,
                );
            }
        } else {
            return;
        }
        let deadline = Instant::now() + Duration::from_secs(8);
        while Instant::now() < deadline
            && (alive(run.supervisor_pid, &marker) || child_alive(run.child_pid))
        {
            std::thread::sleep(Duration::from_millis(50));
        }
        if alive(run.supervisor_pid, &marker) {
            // SAFETY: as above.
            unsafe {
                libc::kill(-(run.supervisor_pid as libc::pid_t), libc::SIGKILL);
            }
        }
        if child_alive(run.child_pid) {
            // SAFETY: as above.
            unsafe {
                libc::kill(
                    run.child_pid.unwrap_or_default() as libc::pid_t,
                    libc::SIGKILL,
                );
            }
        }
    }

    fn free_port(preferred: u16) -> Result<u16> {
        if preferred != 0 && TcpListener::bind(("127.0.0.1", preferred)).is_ok() {
            return Ok(preferred);
        }
        let l = TcpListener::bind(("127.0.0.1", 0))
            .map_err(|e| Error::new(format!("no free loopback port: {e}")))?;
        Ok(l.local_addr()
            .map_err(|e| Error::new(e.to_string()))?
            .port())
    }

    async fn healthy(&self, url: &str) -> bool {
        matches!(self.http.get(url).send().await, Ok(r) if r.status().is_success())
    }

    async fn start_mcp(&self, step: &Step<'_>, spec: &super::ResolvedSpec) -> Result<Applied> {
        let key = step.key;
        let record_path = self.dirs.record(key);
        let previous = read_json::<Record>(&record_path);
        self.stop(&record_path);
        let local = spec
            .spec
            .local
            .as_ref()
            .ok_or_else(|| Error::new(format!("{key} has no `run` for the local platform")))?;
        let (program, args, cwd) = match (&local.run.cargo_bin, &local.run.command) {
            (Some(bin), _) => (self.bins.path(bin)?, Vec::new(), local.folder.clone()),
            (None, Some(cmd)) => (
                PathBuf::from(&cmd[0]),
                cmd[1..].to_vec(),
                local.folder.clone(),
            ),
            (None, None) => return Err(Error::new(format!("{key}: `run` is empty"))),
        };
        let port = Self::free_port(previous.as_ref().map_or(0, |r| r.port))?;
        let url = format!("http://127.0.0.1:{port}{}", spec.spec.path);
        let log = self.dirs.log(key);
        std::fs::create_dir_all(self.dirs.logs())
            .map_err(|e| Error::io("create", &self.dirs.logs(), e))?;
        let record = Record {
            key: key.clone(),
            kind: ServiceKind::Mcp,
            url: url.clone(),
            port,
            health_path: spec.spec.health_path.clone(),
            program,
            args,
            cwd,
            log: log.clone(),
            files: Vec::new(),
            compose_project: None,
            fields: spec.fields.clone(),
        };
        write_json(&record_path, &record)?;
        let _ = std::fs::remove_file(record_path.with_extension("run.json"));

        let exe = std::env::current_exe()
            .map_err(|e| Error::new(format!("cannot find the scalewize binary: {e}")))?;
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .map_err(|e| Error::io("open", &log, e))?;
        let mut cmd = Command::new(exe);
        cmd.arg(supervisor::SUBCOMMAND)
            .arg(&record_path)
            .env_clear()
            .stdin(Stdio::null())
            .stdout(
                log_file
                    .try_clone()
                    .map_err(|e| Error::io("open", &log, e))?,
            )
            .stderr(log_file);
        for var in ["PATH", "HOME", "LANG", "RUST_LOG", "RUST_BACKTRACE"] {
            if let Some(v) = std::env::var_os(var) {
                cmd.env(var, v);
            }
        }
        for (k, v) in &spec.env {
            match v {
                Resolved::Plain(s) | Resolved::Url(s) => cmd.env(k, s),
                Resolved::Secret { value, .. } => cmd.env(k, value.expose()),
                Resolved::OwnUrl => cmd.env(k, &url),
            };
        }
        cmd.env("HOST", self.listen_host())
            .env("PORT", port.to_string());
        // SAFETY: setsid in the child before exec, so the supervisor leads its own process group
        // and outlives this command.
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                Ok(())
            });
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| Error::new(format!("cannot start the supervisor of {key}: {e}")))?;
        // Reap it in the background if it exits while we are still running.
        std::thread::spawn(move || child.wait());
        (step.progress)(&format!(
            "started on 127.0.0.1:{port}, waiting for {}",
            spec.spec.health_path
        ));

        let health = format!("http://127.0.0.1:{port}{}", spec.spec.health_path);
        loop {
            if self.healthy(&health).await {
                return Ok(Applied { url: Some(url) });
            }
            if let Some(run) = self.supervisor(&record_path)
                && run.status == RunStatus::Crashloop
            {
                return Err(Error::new(format!(
                    "{key} crashed {} times within a minute (last: {}); it is marked crashloop",
                    run.recent_restarts + 1,
                    run.last_exit.unwrap_or_default()
                ))
                .hint(format!(
                    "see `scalewize logs {} {}`",
                    key.owner, key.service
                )));
            }
            if Instant::now() > step.deadline {
                return Err(Error::new(format!(
                    "{key} did not become healthy at {health} in time"
                ))
                .hint(format!(
                    "see `scalewize logs {} {}`; --wait-timeout gives it longer",
                    key.owner, key.service
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// SIGTERM the process groups these supervisors lead (each called setsid, its server is in its
/// group), wait up to 8 s, then SIGKILL what is left.
fn stop_groups(pids: &[u32], marker: &str) {
    for &p in pids {
        // SAFETY: pids verified (via /proc cmdline) to be supervisors of this workspace's record.
        unsafe {
            libc::kill(-(p as libc::pid_t), libc::SIGTERM);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(8);
    while Instant::now() < deadline && pids.iter().any(|&p| alive(p, marker)) {
        std::thread::sleep(Duration::from_millis(50));
    }
    for &p in pids {
        if alive(p, marker) {
            // SAFETY: as above.
            unsafe {
                libc::kill(-(p as libc::pid_t), libc::SIGKILL);
            }
        }
    }
}

#[async_trait::async_trait]
impl Platform for LocalPlatform {
    fn name(&self) -> PlatformName {
        PlatformName::Local
    }

    fn fields(&self, spec: &ServiceSpec, mut base: Fields) -> Fields {
        // Regions and sizes mean nothing here; the binary does, and LibreChat's image.
        for k in ["region", "size"] {
            base.remove(k);
        }
        if spec.kind == ServiceKind::Mcp {
            base.remove("image");
            base.insert("listen".into(), self.listen_host().into());
        }
        if let Some(l) = &spec.local {
            let run = match (&l.run.cargo_bin, &l.run.command) {
                (Some(b), _) => format!("cargo_bin {b}"),
                (None, Some(c)) => format!("command {}", c.join(" ")),
                _ => String::new(),
            };
            base.insert("run".into(), run);
        }
        if let Some(local) = &spec.local
            && let Some(bin) = &local.run.cargo_bin
        {
            base.insert(
                "binary".into(),
                format!("{bin} ({})", self.bins.version(bin)),
            );
        }
        let own = format!("http://localhost:{}", self.librechat_port(&spec.key.owner));
        substitute_own_url(&mut base, &own);
        base
    }

    async fn prepare(&self, specs: &[&ServiceSpec], progress: &crate::ui::Progress) -> Result<()> {
        let bins: BTreeSet<String> = specs
            .iter()
            .filter_map(|s| s.local.as_ref().and_then(|l| l.run.cargo_bin.clone()))
            .collect();
        let bins_ref = &self.bins;
        tokio::task::block_in_place(|| {
            bins_ref.build(&bins, &|m: &str| progress.note(&format!("local: {m}")))
        })
    }

    async fn observe(&self, owners: Option<&BTreeSet<String>>) -> Result<Vec<Observed>> {
        let mut out = Vec::new();
        let mut supervisors = all_supervisors(supervisor::SUBCOMMAND);
        for (path, record) in self.records() {
            if owners.is_some_and(|o| !o.contains(&record.key.owner)) {
                continue;
            }
            let mut has_url = true;
            let (state, detail) = match record.kind {
                ServiceKind::LibreChat => {
                    let (state, detail, url) = self.observe_librechat(&record).await;
                    has_url = url;
                    (state, detail)
                }
                ServiceKind::Mcp => match self.supervisor(&path) {
                    None => (State::Down, Some("never started".into())),
                    Some(run) => {
                        let sup = alive(run.supervisor_pid, &path.display().to_string());
                        let child = run
                            .child_pid
                            .is_some_and(|c| alive(c, &record.program.display().to_string()));
                        match (run.status, sup, child) {
                            (RunStatus::Crashloop, _, _) => (
                                State::Crashloop,
                                Some(format!(
                                    "restarted 5 times in 60 s (last: {})",
                                    run.last_exit.unwrap_or_default()
                                )),
                            ),
                            (_, false, _) => (State::Down, Some("supervisor not running".into())),
                            (RunStatus::Running, true, true) => {
                                let health = format!(
                                    "http://127.0.0.1:{}{}",
                                    record.port, record.health_path
                                );
                                if self.healthy(&health).await {
                                    (State::Running, None)
                                } else {
                                    (
                                        State::Starting,
                                        Some("health check not answering yet".into()),
                                    )
                                }
                            }
                            (_, true, _) => (State::Starting, Some("(re)starting".into())),
                        }
                    }
                },
            };
            // A supervisor of this service that no run file names still holds a port and a
            // server: say so (redeploy and destroy stop it).
            let recorded = self.supervisor(&path).map(|r| r.supervisor_pid);
            let untracked = supervisors
                .remove(&path)
                .unwrap_or_default()
                .into_iter()
                .filter(|p| Some(*p) != recorded)
                .count();
            let detail = match (untracked, detail) {
                (0, d) => d,
                (n, d) => Some(format!(
                    "{}{n} untracked supervisor(s) also running (redeploy or destroy stops them)",
                    d.map(|d| format!("{d}; ")).unwrap_or_default()
                )),
            };
            out.push(Observed {
                key: record.key.clone(),
                platform: PlatformName::Local,
                id: path.display().to_string(),
                url: has_url.then(|| record.url.clone()),
                state,
                detail,
                fields: record.fields.clone(),
            });
        }
        Ok(out)
    }

    async fn apply(&self, step: Step<'_>) -> Result<Applied> {
        let key = step.key;
        let record_path = self.dirs.record(key);
        match step.op {
            Op::Delete => {
                let record = read_json::<Record>(&record_path);
                if let Some(r) = record.as_ref().filter(|r| r.kind == ServiceKind::LibreChat) {
                    tokio::task::block_in_place(|| self.remove_librechat(&record_path, r))?;
                    return Ok(Applied::default());
                }
                tokio::task::block_in_place(|| self.stop(&record_path));
                if let Some(r) = &record {
                    for f in &r.files {
                        let _ = std::fs::remove_file(f);
                    }
                    let _ = std::fs::remove_file(&r.log);
                }
                let _ = std::fs::remove_file(record_path.with_extension("run.json"));
                let _ = std::fs::remove_file(&record_path);
                Ok(Applied::default())
            }
            Op::Create | Op::Update => {
                // What follows writes state and resolved secrets: never into git.
                crate::workspace::gitignore::ensure_ignored(&self.workspace)?;
                let spec = step
                    .spec
                    .ok_or_else(|| Error::new(format!("{key}: nothing to apply")))?;
                match spec.spec.kind {
                    ServiceKind::Mcp => self.start_mcp(&step, spec).await,
                    ServiceKind::LibreChat => self.start_librechat(&step, spec).await,
                }
            }
        }
    }

    async fn doctor(&self, specs: &[&ServiceSpec]) -> Vec<crate::platform::check::Check> {
        doctor::diagnose(specs)
    }

    async fn logs(&self, key: &ServiceKey, lines: usize) -> Result<Vec<String>> {
        if let Some(r) =
            read_json::<Record>(&self.dirs.record(key)).filter(|r| r.kind == ServiceKind::LibreChat)
        {
            return tokio::task::block_in_place(|| self.librechat_logs(&r, lines));
        }
        let log = self.dirs.log(key);
        let text = std::fs::read_to_string(&log).map_err(|_| {
            Error::new(format!("no logs for {key} on local"))
                .hint("is it deployed? `scalewize status` lists what runs")
        })?;
        let all: Vec<String> = text.lines().map(str::to_string).collect();
        Ok(all[all.len().saturating_sub(lines)..].to_vec())
    }
}
