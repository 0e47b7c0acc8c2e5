//! `scalewize doctor` on this machine: cargo (builds the workspace's servers) and Docker (runs
//! LibreChat; without it LibreChat's config is written but not started).

use std::process::{Command, Stdio};

use crate::model::ServiceSpec;
use crate::platform::check::Check;

const AREA: &str = "local";

/// Does `program args…` run and exit 0 (output discarded)?
fn answers(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

pub fn diagnose(specs: &[&ServiceSpec]) -> Vec<Check> {
    let builds = specs.iter().any(|s| s.local.is_some());
    let cargo = if answers("cargo", &["--version"]) {
        Check::ok(AREA, "cargo", "cargo builds the workspace's servers")
    } else if builds {
        Check::problem(
            AREA,
            "cargo",
            "cargo is not on PATH, and local servers are built with it",
            "install Rust with rustup (https://rustup.rs), then open a new shell",
        )
    } else {
        Check::ok(AREA, "cargo", "not needed: no local server is built here")
    };
    let docker = if answers("docker", &["info"]) {
        Check::ok(
            AREA,
            "docker",
            "a Docker daemon answers: LibreChat can run here",
        )
    } else {
        Check::warn(
            AREA,
            "docker",
            "no Docker daemon answers: LibreChat's config is written but LibreChat is not started",
            "install Docker (with the compose plugin) and start its daemon to run LibreChat locally",
        )
    };
    vec![cargo, docker]
}
