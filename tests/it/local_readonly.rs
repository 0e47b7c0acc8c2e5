//! Read-only commands never build: `diff` and `deploy --dry-run` on a fresh copy of the example
//! workspace complete without running cargo (a stand-in `cargo` first on PATH records any call).

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::TempWorkspace;

/// A `cargo` that records its argv and fails, in `dir`; returns its path.
fn recording_cargo(dir: &Path, calls: &Path) -> PathBuf {
    let path = dir.join("cargo");
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\necho \"cargo $*\" >> '{}'\nexit 101\n",
            calls.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[test]
fn diff_and_deploy_dry_run_never_invoke_cargo() {
    let ws = TempWorkspace::example();
    let bin_dir = tempfile::tempdir().unwrap();
    let calls = bin_dir.path().join("calls.txt");
    let cargo = recording_cargo(bin_dir.path(), &calls);
    let path = format!(
        "{}:{}",
        bin_dir.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let env = [("PATH", path.as_str()), ("CARGO", cargo.to_str().unwrap())];
    let diff = ws.run_env(&["diff", "--all"], &env);
    assert_eq!(diff.code, 0, "{diff:?}");
    assert!(
        diff.stdout.contains("+ client-a/custom-crm-mcp"),
        "{diff:?}"
    );
    let dry = ws.run_env(&["deploy", "--all", "--dry-run"], &env);
    assert_eq!(dry.code, 2, "{dry:?}");
    assert!(
        !calls.exists(),
        "cargo was invoked: {}",
        std::fs::read_to_string(&calls).unwrap_or_default()
    );
    // The stand-in is really on the path a build would take: a deploy does call it.
    let deploy = ws.run_env(&["deploy", "client-a", "--yes"], &env);
    assert_eq!(deploy.code, 1, "{deploy:?}");
    assert!(calls.exists(), "{deploy:?}");
}
