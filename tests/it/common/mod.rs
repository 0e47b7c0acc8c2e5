//! Helpers shared by the integration tests: a copy of the example workspace in a temp dir,
//! running the real binary, and LibreChat's real validator from ../shared.
#![allow(dead_code)]

pub mod local;

pub mod canary;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn shared_dir() -> PathBuf {
    std::env::var_os("SCALEWIZE_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("../shared"))
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "target" || name == ".scalewize" || name == "node_modules" {
            continue;
        }
        let dst = to.join(&name);
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &dst);
        } else {
            std::fs::copy(entry.path(), &dst).unwrap();
        }
    }
}

/// A throwaway copy of the example workspace (the repo root is the example).
pub struct TempWorkspace {
    pub dir: tempfile::TempDir,
}

impl TempWorkspace {
    pub fn example() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = repo_root();
        for d in [
            "client-configs",
            "templates",
            "custom-mcp-servers",
            "schemas",
        ] {
            copy_dir(&root.join(d), &dir.path().join(d));
        }
        for f in ["scalewize.json", "example-only.age-identity.txt"] {
            if root.join(f).exists() {
                std::fs::copy(root.join(f), dir.path().join(f)).unwrap();
            }
        }
        TempWorkspace { dir }
    }

    /// An empty workspace: just `client-configs/`.
    pub fn empty() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("client-configs")).unwrap();
        TempWorkspace { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, rel: &str, content: &str) {
        let p = self.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    pub fn run(&self, args: &[&str]) -> Run {
        run_in(self.path(), args, &[])
    }

    /// Edit the entry named `name` in `client`'s mcp-servers.json, and write the file back.
    pub fn edit_server(&self, client: &str, name: &str, edit: impl FnOnce(&mut serde_json::Value)) {
        let p = format!("client-configs/{client}/mcp-servers.json");
        let mut cfg: serde_json::Value = serde_json::from_str(&self.read(&p)).unwrap();
        let entry = cfg["mcp_servers"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("{client} has no server named {name}"));
        edit(entry);
        self.write(&p, &serde_json::to_string_pretty(&cfg).unwrap());
    }

    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        run_in(self.path(), args, env)
    }

    /// Run with `stdin` piped in (e.g. a value for `secret set`).
    pub fn run_stdin(&self, args: &[&str], env: &[(&str, &str)], stdin: &[u8]) -> Run {
        run_in_with_stdin(self.path(), args, env, Some(stdin))
    }

    /// Every file under the workspace, relative, sorted (to prove a command wrote nothing).
    /// The workspace lock's file is left out: a writing command creates it (empty) before it
    /// reads anything, and keeps it, since deleting a lock file races with its next taker.
    pub fn snapshot(&self) -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        walk(self.path(), self.path(), &mut out);
        out.retain(|(p, _)| !p.starts_with(".scalewize/locks/"));
        out.sort();
        out
    }
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let p = entry.path();
        if entry.file_type().unwrap().is_dir() {
            if entry.file_name() == ".git" {
                continue;
            }
            walk(root, &p, out);
        } else if entry.file_type().unwrap().is_symlink() {
            // A link is recorded as where it points (never followed: it may lead outside).
            let to = std::fs::read_link(&p).unwrap();
            out.push((
                p.strip_prefix(root).unwrap().display().to_string(),
                format!("-> {}", to.display()).into_bytes(),
            ));
        } else {
            out.push((
                p.strip_prefix(root).unwrap().display().to_string(),
                std::fs::read(&p).unwrap(),
            ));
        }
    }
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Seconds since the Unix epoch (for lock notes planted by the tests).
pub fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_scalewize")
}

pub fn run_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    run_in_with_stdin(dir, args, env, None)
}

/// Run the binary; stdin is `input` when given, else empty (never the test runner's terminal).
pub fn run_in_with_stdin(
    dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    input: Option<&[u8]>,
) -> Run {
    use std::io::Write;
    use std::process::Stdio;
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("SCALEWIZE_AGE_KEY")
        .env_remove("SCALEWIZE_AGE_KEY_FILE");
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("SCALEWIZE_SECRET_") {
            cmd.env_remove(k);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run scalewize");
    {
        let mut stdin = child.stdin.take().expect("stdin");
        if let Some(bytes) = input {
            // The command may exit before reading (e.g. a usage error): ignore a broken pipe.
            let _ = stdin.write_all(bytes);
        }
    }
    let Output {
        status,
        stdout,
        stderr,
    } = child.wait_with_output().expect("run scalewize");
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// LibreChat's own validator (`../shared/tools/librechat-validate`); `npm ci` must have run there.
pub struct Validator {
    script: PathBuf,
}

pub struct ValidatorRun {
    pub ok: bool,
    pub output: String,
}

static NPM_CI: std::sync::Once = std::sync::Once::new();

impl Validator {
    /// The validator, installed with `npm ci` on first use when a fresh machine lacks it.
    pub fn new() -> Self {
        let dir = shared_dir().join("tools/librechat-validate");
        NPM_CI.call_once(|| {
            if !dir.join("node_modules/librechat-data-provider").is_dir() {
                let ok = Command::new("npm")
                    .args(["ci", "--no-audit", "--no-fund"])
                    .current_dir(&dir)
                    .status();
                assert!(
                    ok.is_ok_and(|s| s.success()),
                    "`npm ci` failed in {}",
                    dir.display()
                );
            }
        });
        assert!(
            dir.join("node_modules/librechat-data-provider").is_dir(),
            "LibreChat's validator is not installed: run `npm ci` in {} (.ci/run does)",
            dir.display()
        );
        Validator {
            script: dir.join("validate.mjs"),
        }
    }

    /// Validate files; `env_files` resolve `${VAR}` references (LibreChat reads them from the env).
    pub fn run(&self, files: &[&Path], env_files: &[&Path], strict: bool) -> ValidatorRun {
        let mut cmd = Command::new("node");
        cmd.arg(&self.script);
        for e in env_files {
            cmd.arg("--env-file").arg(e);
        }
        if strict {
            cmd.arg("--strict");
        }
        cmd.args(files);
        let out = cmd.output().expect("node runs");
        ValidatorRun {
            ok: out.status.success(),
            output: format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        }
    }

    /// `CONFIG_VERSION` of the pinned librechat-data-provider.
    pub fn config_version(&self) -> String {
        let dir = self.script.parent().unwrap();
        let out = Command::new("node")
            .current_dir(dir)
            .args(["-e", "import('librechat-data-provider').then(m => console.log(m.Constants.CONFIG_VERSION))"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

/// The rendered env with only the deploy-time URL lines filled in (what deploy would add).
pub fn env_with_urls(env_text: &str) -> String {
    env_text
        .lines()
        .map(|l| match l.strip_suffix('=') {
            Some(name) if name.ends_with("_URL") => format!(
                "{name}=https://{}.example.test/mcp",
                name.to_lowercase().replace('_', "-")
            ),
            Some(name) if name == "DOMAIN_CLIENT" || name == "DOMAIN_SERVER" => {
                format!("{name}=https://chat.example.test")
            }
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}
