//! Terminal conventions: shell completions, the man page, `--version` with the commit.

use crate::common;

use common::TempWorkspace;

#[test]
fn bash_completion_completes_subcommands_and_flags() {
    let ws = TempWorkspace::empty();
    let script = ws.run(&["completions", "bash"]);
    assert_eq!(script.code, 0, "{script:?}");
    ws.write("scalewize.bash", &script.stdout);
    // Load the script in a real bash and ask it what it completes.
    let complete = |line: &str| {
        let words: Vec<&str> = line.split(' ').collect();
        let program = format!(
            "source scalewize.bash; COMP_WORDS=({}); COMP_CWORD={}; COMP_LINE='{line}'; COMP_POINT=${{#COMP_LINE}}; _scalewize scalewize '{}' '{}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            words
                .iter()
                .map(|w| format!("'{w}'"))
                .collect::<Vec<_>>()
                .join(" "),
            words.len() - 1,
            words[words.len() - 1],
            words[words.len() - 2],
        );
        let out = std::process::Command::new("bash")
            .args(["-c", &program])
            .current_dir(ws.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let subcommands = complete("scalewize de");
    assert!(subcommands.lines().any(|l| l == "deploy"), "{subcommands}");
    assert!(subcommands.lines().any(|l| l == "destroy"), "{subcommands}");
    let flags = complete("scalewize diff --det");
    assert!(flags.lines().any(|l| l == "--detailed-exitcode"), "{flags}");
}

#[test]
fn zsh_and_fish_completions_are_printed() {
    let ws = TempWorkspace::empty();
    let zsh = ws.run(&["completions", "zsh"]);
    assert_eq!(zsh.code, 0, "{zsh:?}");
    assert!(zsh.stdout.starts_with("#compdef scalewize"), "{zsh:?}");
    assert!(zsh.stdout.contains("--changed-since"), "{zsh:?}");
    let fish = ws.run(&["completions", "fish"]);
    assert_eq!(fish.code, 0, "{fish:?}");
    assert!(
        fish.stdout.contains("complete -c scalewize") && fish.stdout.contains("deploy"),
        "{fish:?}"
    );
    let unknown = ws.run(&["completions", "tcsh"]);
    assert_eq!(unknown.code, 1, "{unknown:?}");
}

/// The shipped man page is what `scalewize man` prints; `SCALEWIZE_BLESS=1` rewrites it.
#[test]
fn the_shipped_man_page_is_current() {
    let ws = TempWorkspace::empty();
    let man = ws.run(&["man"]);
    assert_eq!(man.code, 0, "{man:?}");
    assert!(
        man.stdout.starts_with(".ie \\n(.g .ds Aq"),
        "not roff: {man:?}"
    );
    assert!(
        man.stdout.contains("SCALEWIZE DEPLOY"),
        "subcommands are documented"
    );
    let path = common::repo_root().join("man/scalewize.1");
    if std::env::var_os("SCALEWIZE_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &man.stdout).unwrap();
    }
    assert_eq!(
        std::fs::read_to_string(&path).unwrap_or_default(),
        man.stdout,
        "man/scalewize.1 is stale: run `SCALEWIZE_BLESS=1 cargo test --test it conventions`"
    );
}

#[test]
fn version_names_the_commit_it_was_built_from() {
    let ws = TempWorkspace::empty();
    let v = ws.run(&["--version"]);
    assert_eq!(v.code, 0, "{v:?}");
    let head = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(common::repo_root())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    let expected = head.unwrap_or_else(|| "unknown".into());
    assert!(
        v.stdout.starts_with(&format!(
            "scalewize {} (commit {expected}, ",
            env!("CARGO_PKG_VERSION")
        )),
        "{v:?}"
    );
}
