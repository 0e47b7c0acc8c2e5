//! Files on disk: atomic writes (temp file + rename in the same folder), so a killed run or a
//! concurrent reader never sees half a file. Every module that writes goes through here. Also
//! `escape`: whether a path leaves the workspace (by `..` or through a symbolic link).

use std::io::Write;
use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};

/// Write via a temp file in the same folder and a rename, so readers never see half a file.
/// `mode` sets Unix permissions on the new file (e.g. 0o600 for resolved env files).
pub fn write_atomic(path: &Path, content: &[u8], mode: Option<u32>) -> Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| Error::new(format!("{} has no parent folder", path.display())))?;
    std::fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".scalewize-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| Error::io("create a temporary file in", dir, e))?;
    if let Some(mode) = mode {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(|e| Error::io("set permissions on", tmp.path(), e))?;
    }
    // No fsync: the rename already keeps readers from seeing half a file, and these files can
    // be regenerated; syncing each of thousands of files would dominate `render --all`.
    tmp.write_all(content)
        .map_err(|e| Error::io("write", path, e))?;
    tmp.persist(path)
        .map_err(|e| Error::io("replace", path, e.error))?;
    Ok(())
}

/// How a path leaves the workspace: through a symbolic link (`link` → `target`), or by its
/// spelling (`..` past the root, or absolute elsewhere).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Escape {
    /// The symbolic link that leads out, or the path itself when no link is involved.
    pub link: PathBuf,
    /// Where it leads.
    pub target: PathBuf,
    pub through_link: bool,
}

impl Escape {
    /// `client-configs/acme is a symbolic link to /elsewhere, outside the workspace`.
    pub fn describe(&self, root: &Path) -> String {
        let shown = self.link.strip_prefix(root).unwrap_or(&self.link);
        if self.through_link {
            format!(
                "{} is a symbolic link to {}, outside the workspace",
                shown.display(),
                self.target.display()
            )
        } else {
            format!(
                "{} resolves to {}, outside the workspace",
                shown.display(),
                self.target.display()
            )
        }
    }
}

/// The fix for any escape: scalewize reads and writes only inside the workspace.
pub const ESCAPE_HINT: &str = "scalewize reads and writes only inside the workspace (so a config in git cannot make it touch other files): replace the link with the real folder or file (copy it in), or keep the target inside the workspace";

/// Whether `path` (spelled relative to `root`, or absolute) reaches outside `root`, lexically
/// or through a symbolic link in any of its components (a dangling link is judged by where it
/// points). `None` when it stays inside.
pub fn escape(root: &Path, path: &Path) -> Option<Escape> {
    let real_root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    let full = if path.is_absolute() {
        path.to_path_buf()
    } else {
        root.join(path)
    };
    let rel = match full.strip_prefix(root) {
        Ok(r) => r.to_path_buf(),
        Err(_) => match full.strip_prefix(&real_root) {
            Ok(r) => r.to_path_buf(),
            Err(_) => {
                return Some(Escape {
                    link: full.clone(),
                    target: full,
                    through_link: false,
                });
            }
        },
    };
    let mut cur = real_root.clone();
    for comp in rel.components() {
        match comp {
            Component::Normal(c) => cur.push(c),
            Component::ParentDir => {
                cur.pop();
            }
            Component::CurDir => continue,
            Component::RootDir | Component::Prefix(_) => cur = PathBuf::from(comp.as_os_str()),
        }
        if !cur.starts_with(&real_root) {
            return Some(Escape {
                link: full.clone(),
                target: cur,
                through_link: false,
            });
        }
        let Ok(meta) = std::fs::symlink_metadata(&cur) else {
            // Nothing there yet: what follows cannot be a link either.
            return None;
        };
        if meta.file_type().is_symlink() {
            let target = cur.canonicalize().unwrap_or_else(|_| {
                let to = std::fs::read_link(&cur).unwrap_or_default();
                normalize(&cur.parent().unwrap_or(&real_root).join(to))
            });
            if !target.starts_with(&real_root) {
                return Some(Escape {
                    link: root.join(cur.strip_prefix(&real_root).unwrap_or(&cur)),
                    target,
                    through_link: true,
                });
            }
            cur = target;
        }
    }
    None
}

/// `a/b/../c` → `a/c`, without touching the disk.
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_and_dot_dots_that_leave_the_root_are_escapes() {
        let outside = tempfile::tempdir().unwrap();
        let ws = tempfile::tempdir().unwrap();
        let root = ws.path();
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("a/out")).unwrap();
        std::os::unix::fs::symlink(root.join("a/b"), root.join("a/in")).unwrap();
        std::os::unix::fs::symlink("/nonexistent/far", root.join("a/dangling")).unwrap();
        assert_eq!(escape(root, Path::new("a/b/file")), None);
        assert_eq!(escape(root, Path::new("a/in/file")), None);
        assert_eq!(escape(root, Path::new("a/not-yet/x")), None);
        let e = escape(root, Path::new("a/out/file")).unwrap();
        assert!(e.through_link);
        assert_eq!(e.link, root.join("a/out"));
        assert!(e.describe(root).starts_with("a/out is a symbolic link to "));
        assert!(
            escape(root, Path::new("a/dangling/x"))
                .unwrap()
                .through_link
        );
        let e = escape(root, Path::new("a/../../../bin/true")).unwrap();
        assert!(!e.through_link, "{e:?}");
        assert!(escape(root, Path::new("/etc/passwd")).is_some());
    }
}
