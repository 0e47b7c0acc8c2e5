//! The bad-input corpus: one table of broken workspaces, each run through the real binary.
//! Every case asserts the exit code, where the problem is (file and line, or file and JSON
//! path), that a fix is offered (`hint:`), and that the command wrote nothing. Most cases are
//! generated from the example workspace's own files (every member set to `null`, to a value of
//! the wrong type, or renamed with a typo); the rest are written by hand, the list first.
//! All failures are collected and reported together.

mod generated;
mod handwritten;

use std::path::Path;

use serde_json::Value;

use crate::common::{TempWorkspace, repo_root};

pub enum Edit {
    /// Replace (or create) a file.
    Write(String, Vec<u8>),
    /// Replace a path with a symbolic link to a fresh folder outside the workspace.
    LinkOut(String),
}

pub struct Case {
    name: String,
    edits: Vec<Edit>,
    args: Vec<&'static str>,
    stdin: Vec<u8>,
    code: i32,
    /// Substrings stderr must contain: the location (file:line or file + JSON path) and
    /// whatever names the problem.
    expect: Vec<String>,
}

impl Case {
    pub fn new(name: impl Into<String>, args: &[&'static str], code: i32) -> Case {
        Case {
            name: name.into(),
            edits: Vec::new(),
            args: args.to_vec(),
            stdin: Vec::new(),
            code,
            expect: Vec::new(),
        }
    }
    pub fn write(mut self, rel: &str, bytes: impl Into<Vec<u8>>) -> Case {
        self.edits.push(Edit::Write(rel.to_string(), bytes.into()));
        self
    }
    pub fn json(self, rel: &str, f: impl FnOnce(&mut Value)) -> Case {
        let mut v = read_json(rel);
        f(&mut v);
        self.write(rel, serde_json::to_string_pretty(&v).unwrap())
    }
    pub fn link_out(mut self, rel: &str) -> Case {
        self.edits.push(Edit::LinkOut(rel.to_string()));
        self
    }
    pub fn stdin(mut self, bytes: &[u8]) -> Case {
        self.stdin = bytes.to_vec();
        self
    }
    pub fn expect(mut self, s: impl Into<String>) -> Case {
        self.expect.push(s.into());
        self
    }
}

pub fn read(rel: &str) -> String {
    std::fs::read_to_string(repo_root().join(rel)).unwrap()
}

pub fn read_json(rel: &str) -> Value {
    serde_json::from_str(&read(rel)).unwrap()
}

/// Apply the edits, remembering what to put back.
fn apply(
    ws: &TempWorkspace,
    outside: &Path,
    edits: &[Edit],
) -> Vec<(String, Option<Vec<u8>>, bool)> {
    let mut undo = Vec::new();
    for e in edits {
        match e {
            Edit::Write(rel, bytes) => {
                let p = ws.path().join(rel);
                undo.push((rel.clone(), std::fs::read(&p).ok(), false));
                std::fs::write(&p, bytes).unwrap();
            }
            Edit::LinkOut(rel) => {
                let p = ws.path().join(rel);
                let dst = outside.join(rel.replace('/', "_"));
                std::fs::rename(&p, &dst).unwrap();
                std::os::unix::fs::symlink(&dst, &p).unwrap();
                undo.push((rel.clone(), None, true));
            }
        }
    }
    undo
}

fn restore(ws: &TempWorkspace, outside: &Path, undo: Vec<(String, Option<Vec<u8>>, bool)>) {
    for (rel, old, link) in undo.into_iter().rev() {
        let p = ws.path().join(&rel);
        if link {
            std::fs::remove_file(&p).unwrap();
            std::fs::rename(outside.join(rel.replace('/', "_")), &p).unwrap();
        } else {
            match old {
                Some(b) => std::fs::write(&p, b).unwrap(),
                None => std::fs::remove_file(&p).unwrap(),
            }
        }
    }
}

#[test]
fn every_bad_input_exits_1_naming_where_and_the_fix_and_writes_nothing() {
    let cases: Vec<Case> = handwritten::cases()
        .into_iter()
        .chain(generated::cases())
        .collect();
    assert!(cases.len() >= 150, "only {} cases", cases.len());
    let ws = TempWorkspace::example();
    let outside = tempfile::tempdir().unwrap();
    let pristine = ws.snapshot();
    let env = crate::common::local::env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut failures = Vec::new();
    let (mut refused, mut accepted) = (0, 0);
    for case in &cases {
        let undo = apply(&ws, outside.path(), &case.edits);
        let before = ws.snapshot();
        let run = ws.run_stdin(&case.args, &env, &case.stdin);
        let mut wrong = Vec::new();
        if run.code != case.code {
            wrong.push(format!("exit {} (want {})", run.code, case.code));
        }
        if case.code == 1 {
            refused += 1;
            for s in &case.expect {
                if !run.stderr.contains(s.as_str()) {
                    wrong.push(format!("no {s:?}"));
                }
            }
            if !run.stderr.contains("hint:") {
                wrong.push("no fix (hint:)".into());
            }
        } else {
            accepted += 1;
        }
        if ws.snapshot() != before {
            wrong.push("the workspace changed".into());
        }
        if !wrong.is_empty() {
            failures.push(format!(
                "{}: {}\n    {:?} → stderr: {}",
                case.name,
                wrong.join("; "),
                case.args,
                run.stderr.trim().replace('\n', "\n      ")
            ));
        }
        restore(&ws, outside.path(), undo);
    }
    assert_eq!(ws.snapshot(), pristine, "every case was undone");
    eprintln!(
        "bad-input corpus: {} cases, {refused} refused, {accepted} accepted, {} wrong",
        cases.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} cases wrong:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
