//! Build metadata for `scalewize --version`: the commit and its date, read with the `git` CLI.
//! Outside a git checkout (a source tarball) both are "unknown", unless the packager sets
//! SCALEWIZE_BUILD_COMMIT / SCALEWIZE_BUILD_DATE.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !text.is_empty()).then_some(text)
}

fn main() {
    println!("cargo:rerun-if-env-changed=SCALEWIZE_BUILD_COMMIT");
    println!("cargo:rerun-if-env-changed=SCALEWIZE_BUILD_DATE");
    // Rebuild when HEAD moves: HEAD itself, the branch it points at, packed refs.
    if let Some(dir) = git(&["rev-parse", "--git-dir"]) {
        println!("cargo:rerun-if-changed={dir}/HEAD");
    }
    if let (Some(common), Some(head)) = (
        git(&["rev-parse", "--git-common-dir"]),
        git(&["rev-parse", "--symbolic-full-name", "HEAD"]),
    ) {
        if head.starts_with("refs/") {
            println!("cargo:rerun-if-changed={common}/{head}");
        }
        println!("cargo:rerun-if-changed={common}/packed-refs");
    }
    let commit = std::env::var("SCALEWIZE_BUILD_COMMIT")
        .ok()
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".into());
    let date = std::env::var("SCALEWIZE_BUILD_DATE")
        .ok()
        .or_else(|| git(&["log", "-1", "--format=%cs", "HEAD"]))
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=SCALEWIZE_COMMIT={commit}");
    println!("cargo:rustc-env=SCALEWIZE_COMMIT_DATE={date}");
}
