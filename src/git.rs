//! `--changed-since <REF>`: which clients the changes between REF and the working tree touch
//! (uncommitted and untracked files included), via git2.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use git2::{DiffOptions, Repository};

use crate::error::{Error, Result};
use crate::workspace::{
    CLIENT_CONFIGS, DEFAULT_CLIENT, Owner, SERVERS_DIR, WORKSPACE_FILE, Workspace,
};

/// The command that fetches `reference` so that it resolves: `origin/main` is branch `main` of
/// remote `origin` (`git fetch origin main`, which also updates `origin/main`), not a ref
/// named `origin/main` on it.
fn fetch_command(repo: &Repository, reference: &str) -> String {
    if let Some((remote, branch)) = reference.split_once('/')
        && !branch.is_empty()
        && repo.find_remote(remote).is_ok()
    {
        return format!("git fetch {remote} {branch}");
    }
    format!("git fetch origin {reference}")
}

/// Paths (relative to the workspace root) that differ between `reference` and the working tree.
pub fn changed_paths(root: &Path, reference: &str) -> Result<Vec<PathBuf>> {
    let repo = Repository::discover(root).map_err(|e| {
        Error::new(format!(
            "--changed-since needs a git repository: {}",
            e.message()
        ))
        .hint("run scalewize inside the workspace's git checkout")
    })?;
    let object = repo.revparse_single(reference).map_err(|_| {
        let fetch = fetch_command(&repo, reference);
        let hint = if repo.is_shallow() {
            format!("this is a shallow clone, so older commits are missing: fetch them (`git fetch --unshallow`, or `fetch-depth: 0` in GitHub Actions) or fetch the ref itself (`{fetch}`)")
        } else {
            format!("check the name with `git rev-parse {reference}`; a remote branch may need `{fetch}` first")
        };
        Error::new(format!("unknown git ref `{reference}`")).hint(hint)
    })?;
    let tree = object.peel_to_tree().map_err(|e| {
        Error::new(format!(
            "`{reference}` does not name a commit: {}",
            e.message()
        ))
    })?;
    let mut opts = DiffOptions::new();
    opts.include_untracked(true)
        .recurse_untracked_dirs(true)
        .include_typechange(true);
    let diff = repo
        .diff_tree_to_workdir_with_index(Some(&tree), Some(&mut opts))
        .map_err(|e| {
            Error::new(format!(
                "cannot compare with `{reference}`: {}",
                e.message()
            ))
        })?;
    let workdir = repo
        .workdir()
        .ok_or_else(|| Error::new("--changed-since needs a repository with a working tree"))?
        .canonicalize()
        .map_err(|e| Error::io("open", root, e))?;
    let root = root
        .canonicalize()
        .map_err(|e| Error::io("open", root, e))?;
    let mut out = BTreeSet::new();
    for delta in diff.deltas() {
        for f in [delta.old_file().path(), delta.new_file().path()]
            .into_iter()
            .flatten()
        {
            if let Ok(rel) = workdir.join(f).strip_prefix(&root) {
                out.insert(rel.to_path_buf());
            }
        }
    }
    Ok(out.into_iter().collect())
}

/// The clients a set of changed paths affects, with the reasons.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Affected {
    /// Client → the changed paths that affect it.
    pub clients: BTreeMap<String, BTreeSet<String>>,
    /// Clients whose folder existed at REF and is gone now.
    pub deleted: BTreeSet<String>,
    /// Changed paths under custom-mcp-servers/ that no client uses.
    pub unused: BTreeSet<String>,
}

fn parts(p: &Path) -> Vec<String> {
    p.components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect()
}

/// Map changed paths to clients. `uses` says which deployed server folders each client uses.
pub fn affected(
    paths: &[PathBuf],
    existing: &[String],
    uses: &BTreeMap<String, BTreeSet<(Owner, String)>>,
) -> Affected {
    let mut a = Affected::default();
    let add = |a: &mut Affected, client: &str, why: &str| {
        a.clients
            .entry(client.to_string())
            .or_default()
            .insert(why.to_string());
    };
    for p in paths {
        let why = p.display().to_string();
        let ps = parts(p);
        let ps: Vec<&str> = ps.iter().map(String::as_str).collect();
        match ps.as_slice() {
            [CLIENT_CONFIGS, DEFAULT_CLIENT, ..] | ["templates", ..] | [WORKSPACE_FILE] => {
                for c in existing {
                    add(&mut a, c, &why);
                }
            }
            [CLIENT_CONFIGS, client, _, ..] => {
                if existing.iter().any(|c| c == client) {
                    add(&mut a, client, &why);
                } else {
                    a.deleted.insert(client.to_string());
                }
            }
            [SERVERS_DIR, "shared", server, _, ..] | [SERVERS_DIR, "clients", _, server, _, ..] => {
                let owner = match ps[1] {
                    "shared" => Owner::Shared,
                    _ => Owner::Client(ps[2].to_string()),
                };
                let key = (owner, server.to_string());
                let mut used = false;
                for (client, servers) in uses {
                    if servers.contains(&key) {
                        add(&mut a, client, &why);
                        used = true;
                    }
                }
                if !used {
                    a.unused.insert(why);
                }
            }
            _ => {}
        }
    }
    // A client deleted since REF cannot also be affected.
    for d in &a.deleted {
        a.clients.remove(d);
    }
    a
}

/// Everything `--changed-since` needs, from the workspace.
pub fn changed_since(ws: &Workspace, reference: &str) -> Result<Affected> {
    let paths = changed_paths(&ws.root, reference)?;
    let existing = ws.client_ids()?;
    let mut uses = BTreeMap::new();
    let mut unloadable = Vec::new();
    for id in &existing {
        match ws.load_client(id) {
            Ok(c) => {
                let set: BTreeSet<(Owner, String)> = c
                    .servers
                    .iter()
                    .filter_map(|s| s.deployed().map(|d| (d.owner.clone(), s.slug.clone())))
                    .collect();
                uses.insert(id.clone(), set);
            }
            Err(_) => unloadable.push(id.clone()),
        }
    }
    let mut a = affected(&paths, &existing, &uses);
    // A client that does not load may use any changed server: include it, and let the
    // command report why it does not load.
    if !a.unused.is_empty()
        || a.clients
            .values()
            .flatten()
            .any(|p| p.starts_with(SERVERS_DIR))
    {
        for id in unloadable {
            a.clients
                .entry(id)
                .or_default()
                .insert("(does not load, so it may use a changed server)".into());
        }
    }
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_paths_to_clients() {
        let existing: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let mut uses = BTreeMap::new();
        let kb = (Owner::Shared, "kb-mcp".to_string());
        uses.insert("a".to_string(), BTreeSet::from([kb.clone()]));
        uses.insert(
            "b".to_string(),
            BTreeSet::from([kb.clone(), (Owner::Client("b".into()), "erp-mcp".into())]),
        );
        uses.insert("c".to_string(), BTreeSet::new());
        let p = |s: &str| vec![PathBuf::from(s)];
        let names = |a: &Affected| a.clients.keys().cloned().collect::<Vec<_>>();
        assert_eq!(
            names(&affected(
                &p("client-configs/a/mcp-servers.json"),
                &existing,
                &uses
            )),
            ["a"]
        );
        assert_eq!(
            names(&affected(
                &p("templates/librechat.yaml.j2"),
                &existing,
                &uses
            )),
            ["a", "b", "c"]
        );
        assert_eq!(
            names(&affected(
                &p("client-configs/default/mcp-servers.json"),
                &existing,
                &uses
            )),
            ["a", "b", "c"]
        );
        assert_eq!(
            names(&affected(
                &p("custom-mcp-servers/shared/kb-mcp/src/main.rs"),
                &existing,
                &uses
            )),
            ["a", "b"]
        );
        assert_eq!(
            names(&affected(
                &p("custom-mcp-servers/clients/b/erp-mcp/scalewize.json"),
                &existing,
                &uses
            )),
            ["b"]
        );
        let base = affected(
            &p("custom-mcp-servers/shared/base-mcp-template/src/main.rs"),
            &existing,
            &uses,
        );
        assert!(base.clients.is_empty());
        assert_eq!(base.unused.len(), 1);
        let gone = affected(&p("client-configs/zed/mcp-servers.json"), &existing, &uses);
        assert_eq!(gone.deleted, BTreeSet::from(["zed".to_string()]));
        assert!(
            affected(&p("README.md"), &existing, &uses)
                .clients
                .is_empty()
        );
    }
}
