//! Binaries of the root Cargo workspace for `run.cargo_bin` servers: built with cargo (which
//! rebuilds only what is stale), or taken prebuilt from `SCALEWIZE_LOCAL_BIN_DIR`.
//!
//! Read-only commands (`diff`, `deploy --dry-run`) never run cargo: they compare the binary that
//! is on disk now, by content digest, so a relink that produced the same bytes restarts nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use crate::error::{Error, Result};

pub const BIN_DIR_ENV: &str = "SCALEWIZE_LOCAL_BIN_DIR";

pub struct Binaries {
    root: PathBuf,
    dir: Mutex<Option<PathBuf>>,
}

impl Binaries {
    pub fn new(root: &Path) -> Self {
        Binaries {
            root: root.to_path_buf(),
            dir: Mutex::new(std::env::var_os(BIN_DIR_ENV).map(PathBuf::from)),
        }
    }

    /// Build `bins` (one cargo invocation) unless a prebuilt directory is configured.
    pub fn build(&self, bins: &BTreeSet<String>, progress: &dyn Fn(&str)) -> Result<()> {
        if bins.is_empty() {
            return Ok(());
        }
        let mut dir = self.dir.lock().expect("binaries");
        if let Some(d) = dir.as_ref() {
            for b in bins {
                if !d.join(b).is_file() {
                    return Err(
                        Error::new(format!("{} has no binary `{b}`", d.display())).hint(format!(
                            "build it, or unset {BIN_DIR_ENV} to let scalewize build it with cargo"
                        )),
                    );
                }
            }
            return Ok(());
        }
        let meta = self.metadata()?;
        let mut packages = BTreeSet::new();
        for b in bins {
            let pkg = meta.bins.get(b).ok_or_else(|| {
                Error::new(format!("no package of the Cargo workspace at {} has a binary `{b}`", self.root.display()))
                    .hint("make the server a member of the root Cargo.toml's [workspace], or give its manifest a `run.command`")
            })?;
            packages.insert(pkg.clone());
        }
        progress(&format!(
            "building {} (cargo, only what is stale)",
            bins.iter().cloned().collect::<Vec<_>>().join(", ")
        ));
        let mut cmd = Command::new(cargo());
        cmd.arg("build").arg("--quiet").current_dir(&self.root);
        for p in &packages {
            cmd.arg("-p").arg(p);
        }
        let out = cmd.output().map_err(|e| {
            Error::new(format!("cannot run cargo: {e}"))
                .hint("install Rust (https://rustup.rs) or set SCALEWIZE_LOCAL_BIN_DIR")
        })?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let tail: Vec<&str> = stderr
                .lines()
                .rev()
                .take(15)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            return Err(Error::new(format!(
                "building {} failed:\n{}",
                packages.into_iter().collect::<Vec<_>>().join(", "),
                tail.join("\n")
            )));
        }
        *dir = Some(meta.target_dir.join("debug"));
        Ok(())
    }

    pub fn path(&self, bin: &str) -> Result<PathBuf> {
        let dir = self.dir.lock().expect("binaries");
        let d = dir
            .as_ref()
            .ok_or_else(|| Error::new(format!("`{bin}` was not built")))?;
        Ok(d.join(bin))
    }

    /// The content digest of the binary as it is on disk now (built or prebuilt), without
    /// building it: changes only when its bytes do.
    pub fn version(&self, bin: &str) -> String {
        let path = self
            .path(bin)
            .unwrap_or_else(|_| self.predicted_dir().join(bin));
        match std::fs::read(&path) {
            Ok(bytes) => crate::model::content_digest(&bytes),
            Err(_) => "(not built)".into(),
        }
    }

    /// Where cargo puts the binaries when nothing was built in this run (no `cargo metadata`:
    /// that would run cargo too).
    fn predicted_dir(&self) -> PathBuf {
        std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .map(|d| {
                if d.is_relative() {
                    self.root.join(d)
                } else {
                    d
                }
            })
            .unwrap_or_else(|| self.root.join("target"))
            .join("debug")
    }

    fn metadata(&self) -> Result<Metadata> {
        let out = Command::new(cargo())
            .args(["metadata", "--no-deps", "--format-version", "1"])
            .current_dir(&self.root)
            .output()
            .map_err(|e| Error::new(format!("cannot run cargo: {e}")))?;
        if !out.status.success() {
            return Err(Error::new(format!(
                "the workspace at {} is not a Cargo workspace, so `cargo_bin` servers cannot be built",
                self.root.display()
            ))
            .hint(format!("set {BIN_DIR_ENV} to a directory of prebuilt server binaries")));
        }
        let v: serde_json::Value =
            serde_json::from_slice(&out.stdout).map_err(|e| Error::new(e.to_string()))?;
        let mut bins = BTreeMap::new();
        for p in v["packages"].as_array().into_iter().flatten() {
            for t in p["targets"].as_array().into_iter().flatten() {
                if t["kind"]
                    .as_array()
                    .is_some_and(|k| k.iter().any(|x| x == "bin"))
                {
                    bins.insert(
                        t["name"].as_str().unwrap_or_default().to_string(),
                        p["name"].as_str().unwrap_or_default().to_string(),
                    );
                }
            }
        }
        Ok(Metadata {
            bins,
            target_dir: PathBuf::from(v["target_directory"].as_str().unwrap_or("target")),
        })
    }
}

struct Metadata {
    bins: BTreeMap<String, String>,
    target_dir: PathBuf,
}

fn cargo() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}
