//! The workspace ignores its own state: `.scalewize/` holds plaintext secrets (0600), so every
//! command that creates it first makes sure the workspace's `.gitignore` covers it.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::STATE_DIR;
use crate::error::{Error, Result};

/// Lines of a `.gitignore` at the workspace root that ignore `.scalewize/`.
fn covers(line: &str) -> bool {
    let l = line.trim();
    let l = l.strip_prefix('/').unwrap_or(l);
    let l = l
        .strip_suffix("/*")
        .or_else(|| l.strip_suffix('/'))
        .unwrap_or(l);
    l == STATE_DIR
}

/// Append `.scalewize/` to `<root>/.gitignore` unless a line already covers it (atomic write,
/// the file's permissions kept). Returns whether the file changed.
pub fn ensure_ignored(root: &Path) -> Result<bool> {
    let path = root.join(".gitignore");
    let (text, mode) = match std::fs::read(&path) {
        Ok(bytes) => {
            let mode = std::fs::metadata(&path)
                .map(|m| m.permissions().mode() & 0o777)
                .unwrap_or(0o644);
            (String::from_utf8_lossy(&bytes).into_owned(), mode)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (String::new(), 0o644),
        Err(e) => return Err(Error::io("read", &path, e)),
    };
    if text.lines().any(covers) {
        return Ok(false);
    }
    let mut out = text;
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&format!(
        "# scalewize: local state and resolved secrets (0600); never commit\n{STATE_DIR}/\n"
    ));
    crate::fs::write_atomic(&path, out.as_bytes(), Some(mode))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_gitignore_is_created_covering_the_state_dir() {
        let dir = tempfile::tempdir().unwrap();
        assert!(ensure_ignored(dir.path()).unwrap());
        let text = std::fs::read_to_string(dir.path().join(".gitignore")).unwrap();
        assert!(text.lines().any(|l| l == ".scalewize/"), "{text}");
    }

    #[test]
    fn an_existing_gitignore_is_appended_to_once_and_keeps_its_lines_and_mode() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(".gitignore");
        std::fs::write(&p, "/target").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o664)).unwrap();
        assert!(ensure_ignored(dir.path()).unwrap());
        assert!(!ensure_ignored(dir.path()).unwrap(), "idempotent");
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "/target\n# scalewize: local state and resolved secrets (0600); never commit\n.scalewize/\n"
        );
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o664
        );
    }

    #[test]
    fn any_usual_spelling_of_the_state_dir_counts_as_covered() {
        for line in [
            ".scalewize",
            ".scalewize/",
            "/.scalewize/",
            "  .scalewize/*",
        ] {
            assert!(covers(line), "{line}");
        }
        for line in ["#.scalewize/", ".scalewize-old", "sub/.scalewize/"] {
            assert!(!covers(line), "{line}");
        }
    }
}
