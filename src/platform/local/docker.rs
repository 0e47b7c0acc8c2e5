//! Docker, as the local platform uses it: whether a daemon answers (`docker info`), and the
//! compose commands for one client's project (`up -d`, `ps --format json`, `logs`, `down -v`).
//! The `docker` on PATH is used, so a stand-in can record the calls in tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde::Deserialize;

use crate::error::{Error, Result};

/// One client's compose project.
#[derive(Debug, Clone)]
pub struct Project {
    pub name: String,
    pub file: PathBuf,
}

/// Does a Docker daemon answer here?
pub fn answers() -> bool {
    Command::new("docker")
        .arg("info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl Project {
    pub fn new(name: &str, file: &Path) -> Self {
        Project {
            name: name.to_string(),
            file: file.to_path_buf(),
        }
    }

    /// The command a person runs to start it (printed when Docker does not answer).
    pub fn up_command(&self, root: &Path) -> String {
        let rel = self.file.strip_prefix(root).unwrap_or(&self.file);
        format!("docker compose -p {} -f {} up -d", self.name, rel.display())
    }

    fn run(&self, args: &[&str]) -> Result<Output> {
        let out = Command::new("docker")
            .arg("compose")
            .arg("-p")
            .arg(&self.name)
            .arg("-f")
            .arg(&self.file)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| Error::new(format!("cannot run docker: {e}")))?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            let tail: Vec<&str> = err.lines().rev().take(10).collect();
            return Err(Error::new(format!(
                "`docker compose -p {} {}` failed: {}",
                self.name,
                args.join(" "),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            )));
        }
        Ok(out)
    }

    pub fn up(&self) -> Result<()> {
        self.run(&["up", "-d", "--remove-orphans"]).map(|_| ())
    }

    /// Stop and remove its containers, network and volumes (the client's database).
    pub fn down(&self) -> Result<()> {
        self.run(&["down", "-v", "--remove-orphans"]).map(|_| ())
    }

    pub fn logs(&self, service: &str, lines: usize) -> Result<Vec<String>> {
        let out = self.run(&["logs", "--no-color", "--tail", &lines.to_string(), service])?;
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect())
    }

    /// Its containers as `docker compose ps` reports them.
    pub fn ps(&self) -> Result<Vec<Container>> {
        let out = self.run(&["ps", "--all", "--format", "json"])?;
        parse_ps(&String::from_utf8_lossy(&out.stdout))
    }
}

/// One container of `docker compose ps --format json`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Container {
    #[serde(rename = "Service", default)]
    pub service: String,
    /// `running`, `exited`, `restarting`, …
    #[serde(rename = "State", default)]
    pub state: String,
    /// `healthy`, `unhealthy`, `starting` or empty (no health check).
    #[serde(rename = "Health", default)]
    pub health: String,
}

/// Compose v2 prints one JSON object per line; older releases print one array.
pub fn parse_ps(text: &str) -> Result<Vec<Container>> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let bad =
        |e: serde_json::Error| Error::new(format!("unexpected `docker compose ps` output: {e}"));
    if text.starts_with('[') {
        return serde_json::from_str(text).map_err(bad);
    }
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).map_err(bad))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ps_output_is_read_as_lines_or_as_an_array() {
        let line = r#"{"Service":"librechat","State":"running","Health":"healthy","Name":"x"}"#;
        let two = format!(
            "{line}\n{}\n",
            r#"{"Service":"mongodb","State":"running","Health":""}"#
        );
        assert_eq!(parse_ps(&two).unwrap().len(), 2);
        let arr = format!("[{line}]");
        assert_eq!(parse_ps(&arr).unwrap()[0].health, "healthy");
        assert!(parse_ps("").unwrap().is_empty());
        assert!(parse_ps("not json").is_err());
    }
}
