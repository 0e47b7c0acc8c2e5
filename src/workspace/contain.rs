//! No escapes: nothing scalewize reads or writes may resolve outside the workspace, so a config
//! in git (or a link left in a checkout) cannot make a command read `/etc/…` into a diff or
//! write a generated file somewhere else. Checked where paths come in: the top-level folders
//! when the workspace opens, every entry of a client's folder (and `default`'s, and
//! `templates/`) when a client loads, server folders, manifests and `run` paths when a server
//! resolves. The finding names the link and where it leads.

use std::path::Path;

use super::Workspace;
use crate::error::{Diagnostic, Error, Location, Result};
use crate::fs::{ESCAPE_HINT, escape};

/// How deep a client folder is searched for links (`templates/`, `users/<u>/` are two levels).
const MAX_DEPTH: usize = 4;

/// The finding for `path` if it leaves the workspace.
pub fn check(ws: &Workspace, path: &Path) -> Option<Diagnostic> {
    let e = escape(&ws.root, path)?;
    Some(Diagnostic::error(Location::file(&e.link), e.describe(&ws.root)).hint(ESCAPE_HINT))
}

/// The top-level folders and files, checked once when the workspace opens.
pub fn check_top_level(root: &Path) -> Result<()> {
    for name in [
        super::CLIENT_CONFIGS,
        super::SERVERS_DIR,
        "templates",
        super::STATE_DIR,
        super::WORKSPACE_FILE,
    ] {
        if let Some(e) = escape(root, Path::new(name)) {
            return Err(Error::new(e.describe(root)).hint(ESCAPE_HINT));
        }
    }
    Ok(())
}

/// `dir` itself and every link under it (links are not followed: each is judged by its target).
pub fn check_tree(ws: &Workspace, dir: &Path, out: &mut Vec<Diagnostic>) {
    if let Some(d) = check(ws, dir) {
        out.push(d);
        return;
    }
    walk(ws, dir, 0, out);
}

fn walk(ws: &Workspace, dir: &Path, depth: usize, out: &mut Vec<Diagnostic>) {
    if depth >= MAX_DEPTH {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let Ok(t) = entry.file_type() else { continue };
        let p = entry.path();
        if t.is_symlink() {
            if let Some(d) = check(ws, &p) {
                out.push(d);
            }
        } else if t.is_dir() {
            walk(ws, &p, depth + 1, out);
        }
    }
}
