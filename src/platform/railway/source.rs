//! Repo sources (SPEC §2): a server deployed from a GitHub repo + root directory deploys the
//! last commit that touched its folder, found with git2 in the workspace's repository.

use std::path::{Path, PathBuf};

use git2::{Oid, Repository};

/// The last commit (full hex id) on HEAD's history that changed `folder` (relative to the
/// workspace root), or `None` when there is no repository, no commit, or none touched it.
pub fn last_commit_touching(root: &Path, folder: &str) -> Option<String> {
    let repo = Repository::discover(root).ok()?;
    let workdir = repo.workdir()?.canonicalize().ok()?;
    let root = root.canonicalize().ok()?;
    let rel: PathBuf = root
        .strip_prefix(&workdir)
        .ok()?
        .join(folder.trim_matches('/'));
    let entry = |oid: Oid| -> Option<Oid> {
        let commit = repo.find_commit(oid).ok()?;
        let tree = commit.tree().ok()?;
        tree.get_path(&rel).ok().map(|e| e.id())
    };
    let mut walk = repo.revwalk().ok()?;
    walk.push_head().ok()?;
    walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::TIME)
        .ok()?;
    for oid in walk.flatten() {
        let here = entry(oid);
        if here.is_none() {
            continue;
        }
        let commit = repo.find_commit(oid).ok()?;
        // Changed here unless some parent has the very same folder.
        let unchanged = commit
            .parent_ids()
            .any(|p| entry(p).is_some_and(|id| Some(id) == here));
        if !unchanged {
            return Some(oid.to_string());
        }
    }
    None
}

/// Where `commit` stands on the remote branch Railway builds from (`refs/remotes/<remote>/
/// <branch>`, `origin` first): `Ok(true)` when it is the branch's tip (so `serviceConnect`,
/// which deploys the tip, already deploys it), `Ok(false)` when the tip contains it, and the
/// reason when Railway could not find it ("Commit not found", notes §10).
pub fn on_remote_branch(root: &Path, commit: &str, branch: &str) -> Result<bool, String> {
    let repo = Repository::discover(root).map_err(|e| format!("no git repository: {e}"))?;
    let oid = Oid::from_str(commit).map_err(|e| format!("bad commit id {commit}: {e}"))?;
    let mut remotes: Vec<String> = repo
        .remotes()
        .map(|r| r.iter().flatten().flatten().map(str::to_string).collect())
        .unwrap_or_default();
    remotes.sort_by_key(|r| r != "origin");
    let tip = remotes.iter().find_map(|r| {
        let name = format!("refs/remotes/{r}/{branch}");
        let target = repo.find_reference(&name).ok()?.peel_to_commit().ok()?.id();
        Some((name, target))
    });
    let Some((name, tip)) = tip else {
        return Err(format!(
            "no remote-tracking branch for {branch} (looked for refs/remotes/<remote>/{branch}); Railway builds from the remote"
        ));
    };
    if tip == oid {
        return Ok(true);
    }
    match repo.graph_descendant_of(tip, oid) {
        Ok(true) => Ok(false),
        _ => Err(format!(
            "commit {} is not on {name}: Railway builds from the remote branch and would answer \"Commit not found\"",
            &commit[..commit.len().min(12)]
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit_all(repo: &Repository, msg: &str) -> Oid {
        let mut index = repo.index().unwrap();
        index
            .add_all(["*"].iter(), git2::IndexAddOption::DEFAULT, None)
            .unwrap();
        index.write().unwrap();
        let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
        let sig = git2::Signature::now("t", "t@example.test").unwrap();
        let parents: Vec<git2::Commit> = repo
            .head()
            .ok()
            .and_then(|h| h.peel_to_commit().ok())
            .into_iter()
            .collect();
        let refs: Vec<&git2::Commit> = parents.iter().collect();
        repo.commit(Some("HEAD"), &sig, &sig, msg, &tree, &refs)
            .unwrap()
    }

    #[test]
    fn finds_the_last_commit_that_changed_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path()).unwrap();
        std::fs::create_dir_all(dir.path().join("servers/a")).unwrap();
        std::fs::create_dir_all(dir.path().join("servers/b")).unwrap();
        std::fs::write(dir.path().join("servers/a/x"), "1").unwrap();
        std::fs::write(dir.path().join("servers/b/x"), "1").unwrap();
        let first = commit_all(&repo, "both");
        std::fs::write(dir.path().join("servers/b/x"), "2").unwrap();
        let second = commit_all(&repo, "b only");
        assert_eq!(
            last_commit_touching(dir.path(), "servers/a").as_deref(),
            Some(first.to_string().as_str())
        );
        assert_eq!(
            last_commit_touching(dir.path(), "/servers/b/").as_deref(),
            Some(second.to_string().as_str())
        );
        assert_eq!(last_commit_touching(dir.path(), "servers/c"), None);
        let plain = tempfile::tempdir().unwrap();
        assert_eq!(last_commit_touching(plain.path(), "servers/a"), None);
    }

    #[test]
    fn a_commit_must_be_on_the_remote_branch_railway_builds_from() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path()).unwrap();
        std::fs::write(dir.path().join("x"), "1").unwrap();
        let first = commit_all(&repo, "one").to_string();
        let err = on_remote_branch(dir.path(), &first, "main").unwrap_err();
        assert!(err.contains("no remote-tracking branch"), "{err}");
        repo.remote("origin", "https://github.com/example/x")
            .unwrap();
        repo.reference(
            "refs/remotes/origin/main",
            Oid::from_str(&first).unwrap(),
            true,
            "t",
        )
        .unwrap();
        assert_eq!(on_remote_branch(dir.path(), &first, "main"), Ok(true));
        std::fs::write(dir.path().join("x"), "2").unwrap();
        let unpushed = commit_all(&repo, "two").to_string();
        let err = on_remote_branch(dir.path(), &unpushed, "main").unwrap_err();
        assert!(err.contains("not on refs/remotes/origin/main"), "{err}");
        repo.reference(
            "refs/remotes/origin/main",
            Oid::from_str(&unpushed).unwrap(),
            true,
            "t",
        )
        .unwrap();
        assert_eq!(on_remote_branch(dir.path(), &first, "main"), Ok(false));
    }
}
