//! Helpers for tests that deploy on the `local` platform: prebuilt server binaries and process checks.

use std::path::{Path, PathBuf};

use super::{Run, TempWorkspace};

/// The example servers' binaries, built once by cargo in the repository; deploys under test take
/// them prebuilt through `SCALEWIZE_LOCAL_BIN_DIR`.
pub fn server_bins() -> PathBuf {
    static BUILT: std::sync::Once = std::sync::Once::new();
    BUILT.call_once(|| {
        let ok = std::process::Command::new(env!("CARGO"))
            .args([
                "build",
                "--quiet",
                "-p",
                "knowledge-base-mcp",
                "-p",
                "custom-crm-mcp",
                "-p",
                "custom-erp-mcp",
                "-p",
                "custom-hr-mcp",
                "-p",
                "servicedesk-mcp",
            ])
            .current_dir(super::repo_root())
            .status()
            .unwrap();
        assert!(ok.success(), "building the example servers failed");
    });
    PathBuf::from(super::bin()).parent().unwrap().to_path_buf()
}

pub fn env() -> Vec<(String, String)> {
    vec![(
        "SCALEWIZE_LOCAL_BIN_DIR".into(),
        server_bins().display().to_string(),
    )]
}

/// Run scalewize in `ws` with the prebuilt servers (and `extra` variables).
pub fn run(ws: &TempWorkspace, args: &[&str]) -> Run {
    run_with(ws, args, &[])
}

pub fn run_with(ws: &TempWorkspace, args: &[&str], extra: &[(&str, &str)]) -> Run {
    let base = env();
    let mut vars: Vec<(&str, &str)> = base.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    vars.extend_from_slice(extra);
    ws.run_env(args, &vars)
}

/// Supervisor and server pids of every local service, from the supervisors' run files.
pub fn pids(ws: &TempWorkspace) -> Vec<(String, u32, Option<u32>)> {
    pids_in(ws.path())
}

pub fn pids_in(root: &Path) -> Vec<(String, u32, Option<u32>)> {
    let dir = root.join(".scalewize/local/services");
    let mut out = Vec::new();
    for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.to_string_lossy().ends_with(".run.json") {
            let v: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            out.push((
                p.file_name().unwrap().to_string_lossy().into_owned(),
                v["supervisor_pid"].as_u64().unwrap() as u32,
                v["child_pid"].as_u64().map(|x| x as u32),
            ));
        }
    }
    out.sort();
    out
}

pub fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
}

/// Stops whatever a test left running in its workspace (supervisors lead their process groups).
pub struct Cleanup {
    root: PathBuf,
}

impl Cleanup {
    pub fn new(ws: &TempWorkspace) -> Self {
        Cleanup {
            root: ws.path().to_path_buf(),
        }
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for (_, sup, child) in pids_in(&self.root) {
            // SAFETY: pids this test's deploys started.
            unsafe {
                libc::kill(-(sup as i32), libc::SIGKILL);
                if let Some(c) = child {
                    libc::kill(c as i32, libc::SIGKILL);
                }
            }
        }
        // Supervisors no run file names (a test that starts a twin, or one that failed early).
        let services = self.root.join(".scalewize/local/services");
        for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let args: Vec<&[u8]> = cmd.split(|&b| b == 0).collect();
            if args.windows(2).any(|w| {
                w[0] == b"__supervise"
                    && Path::new(std::str::from_utf8(w[1]).unwrap_or("")).starts_with(&services)
            }) {
                // SAFETY: a supervisor of this test's workspace; it leads its process group.
                unsafe {
                    libc::kill(-pid, libc::SIGKILL);
                }
            }
        }
    }
}
