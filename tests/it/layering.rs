//! The engine's layering, as data: which top-level module of `src/` may name which other
//! (`crate::<module>`). Data flows down (SPEC §6): workspace → render → plan → apply → platform,
//! with the service model, secrets and utilities below them and the commands on top. A module
//! that imports upward fails here, and the table itself must stay free of cycles.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::common::repo_root;

/// What every engine layer above the model may use: utilities, the workspace model, secrets,
/// rendered files and the service model.
const FOUNDATION: &[&str] = &[
    "error",
    "yaml",
    "fs",
    "ui",
    "lock",
    "workspace",
    "git",
    "secrets",
    "render",
    "model",
];

/// Each module and the modules it may import, bottom to top; `FOUNDATION` stands for its list.
const ALLOWED: &[(&str, &[&str])] = &[
    ("error", &[]),
    ("yaml", &["error"]),
    ("fs", &["error"]),
    ("ui", &["error"]),
    ("lock", &["error", "fs", "ui"]),
    ("workspace", &["error", "yaml", "fs"]),
    ("git", &["error", "workspace"]),
    ("secrets", &["error", "fs", "workspace"]),
    ("render", &["error", "yaml", "fs", "workspace", "secrets"]),
    ("model", &["error", "fs", "workspace", "secrets"]),
    ("net", &["error", "ui", "secrets"]),
    // Cost estimates: pure arithmetic over the service model and the workspace's prices.
    ("cost", &["error", "workspace", "model"]),
    // Translates decided services into files; just above the foundation so that the local
    // platform can reuse its compose writer.
    ("export", &["FOUNDATION"]),
    // `lock` for the host name and liveness of a platform lock's holder (lock imports only
    // error, fs, ui).
    ("platform", &["FOUNDATION", "net", "lock", "export"]),
    ("plan", &["FOUNDATION", "platform"]),
    ("apply", &["FOUNDATION", "net", "platform", "plan"]),
    ("probe", &["error", "net", "secrets", "model"]),
    ("cli", &["error", "workspace", "lock"]),
    (
        "commands",
        &[
            "FOUNDATION",
            "net",
            "platform",
            "plan",
            "apply",
            "probe",
            "cli",
            "cost",
            "export",
        ],
    ),
    // The crate root wires the CLI to the commands.
    ("lib", &["cli", "commands", "cost", "error", "ui"]),
    ("main", &[]),
];

fn allowed() -> BTreeMap<&'static str, BTreeSet<&'static str>> {
    ALLOWED
        .iter()
        .map(|(m, deps)| {
            let expanded = deps.iter().flat_map(|d| match *d {
                "FOUNDATION" => FOUNDATION.to_vec(),
                d => vec![d],
            });
            (*m, expanded.collect())
        })
        .collect()
}

/// The top-level module a file of `src/` belongs to: its folder, or its stem.
fn module_of(rel: &Path) -> String {
    let mut parts = rel.components();
    let first = parts
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy()
        .to_string();
    match parts.next() {
        Some(_) => first,
        None => first.trim_end_matches(".rs").to_string(),
    }
}

/// Every `crate::<module>` a source text names, outside comments, including grouped
/// imports (`use crate::{a::X, b}`).
fn imports(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            let after = &rest[i + "crate::".len()..];
            if let Some(group) = after.strip_prefix('{') {
                let end = group.find('}').unwrap_or(group.len());
                for item in group[..end].split(',') {
                    let name = ident(item.trim());
                    if !name.is_empty() {
                        out.insert(name);
                    }
                }
            } else {
                let name = ident(after);
                if !name.is_empty() {
                    out.insert(name);
                }
            }
            rest = after;
        }
    }
    out
}

/// The `(from, to)` edges of `files` (path relative to `src/`, text) that the table forbids.
fn violations(files: &[(String, String)]) -> Vec<String> {
    let table = allowed();
    let mut out = Vec::new();
    for (rel, text) in files {
        let from = module_of(Path::new(rel));
        let Some(ok) = table.get(from.as_str()) else {
            out.push(format!(
                "{rel}: module `{from}` is not in the layering table"
            ));
            continue;
        };
        for to in imports(text) {
            if to != from && !ok.contains(to.as_str()) {
                out.push(format!(
                    "{rel}: `{from}` imports `crate::{to}` (upward or unlisted)"
                ));
            }
        }
    }
    out
}

fn source_files() -> Vec<(String, String)> {
    let src = repo_root().join("src");
    let mut out = Vec::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let rel = p.strip_prefix(&src).unwrap().to_string_lossy().to_string();
                out.push((rel, std::fs::read_to_string(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn every_module_imports_only_the_layers_below_it() {
    let files = source_files();
    assert!(
        files.len() > 50,
        "found only {} files under src/",
        files.len()
    );
    let bad = violations(&files);
    assert!(
        bad.is_empty(),
        "imports against the layering:\n{}",
        bad.join("\n")
    );
}

#[test]
fn the_layering_table_has_no_cycle() {
    // Kahn's algorithm: every module must come out once its dependencies have.
    let table = allowed();
    let mut done: BTreeSet<&str> = BTreeSet::new();
    while done.len() < table.len() {
        let ready: Vec<&str> = table
            .iter()
            .filter(|(m, deps)| !done.contains(*m) && deps.iter().all(|d| done.contains(d)))
            .map(|(m, _)| *m)
            .collect();
        assert!(
            !ready.is_empty(),
            "cycle among {:?}",
            table
                .keys()
                .filter(|m| !done.contains(*m))
                .collect::<Vec<_>>()
        );
        done.extend(ready);
    }
}

#[test]
fn an_upward_import_is_reported() {
    let files = vec![
        (
            "platform/x.rs".to_string(),
            "use crate::plan::Plan; // upward\nuse crate::model::Fields;".to_string(),
        ),
        (
            "model/y.rs".to_string(),
            "use crate::{secrets::SecretRef, platform::Platform};".to_string(),
        ),
        (
            "net/z.rs".to_string(),
            "// use crate::apply::backoff; (a comment is not an import)".to_string(),
        ),
    ];
    let bad = violations(&files);
    assert_eq!(bad.len(), 2, "{bad:?}");
    assert!(
        bad[0].contains("`platform` imports `crate::plan`"),
        "{bad:?}"
    );
    assert!(
        bad[1].contains("`model` imports `crate::platform`"),
        "{bad:?}"
    );
}

/// Small modules that each own one idea: no source file of the product (the CLI and the MCP
/// servers) is over 600 lines. Emulators and tests are not counted.
#[test]
fn no_source_file_is_over_600_lines() {
    fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let p = entry.path();
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            if p.is_dir() {
                if name != "target" && name != "tests" && !name.starts_with('.') {
                    walk(&p, out);
                }
            } else if name.ends_with(".rs") {
                out.push(p);
            }
        }
    }
    let root = repo_root();
    let mut files = Vec::new();
    walk(&root.join("src"), &mut files);
    walk(&root.join("custom-mcp-servers"), &mut files);
    assert!(files.len() > 50, "found only {} files", files.len());
    let long: Vec<String> = files
        .iter()
        .filter_map(|p| {
            let n = std::fs::read_to_string(p).unwrap().lines().count();
            (n > 600).then(|| format!("{} ({n} lines)", p.strip_prefix(&root).unwrap().display()))
        })
        .collect();
    assert!(long.is_empty(), "split these by idea: {long:?}");
}
