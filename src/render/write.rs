//! Writing generated files: atomic (temp file + rename in the same folder), and never
//! rewriting a file whose content is unchanged.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::RenderedFile;
use crate::error::{Error, Result};

/// How a generated file compares with the disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    pub path: PathBuf,
    pub old: Option<String>,
    pub new: Option<String>,
}

impl FileChange {
    pub fn against_disk(file: &RenderedFile) -> Self {
        FileChange {
            path: file.path.clone(),
            old: std::fs::read_to_string(&file.path).ok(),
            new: Some(file.content.clone()),
        }
    }
    pub fn removal(path: &Path) -> Self {
        FileChange {
            path: path.to_path_buf(),
            old: std::fs::read_to_string(path).ok(),
            new: None,
        }
    }
    pub fn is_change(&self) -> bool {
        self.old != self.new
    }
    pub fn status(&self) -> &'static str {
        match (&self.old, &self.new) {
            (None, Some(_)) => "create",
            (Some(_), None) => "delete",
            (a, b) if a == b => "unchanged",
            _ => "update",
        }
    }
    /// Apply this change to disk.
    pub fn apply(&self) -> Result<()> {
        match &self.new {
            Some(content) => write_atomic(&self.path, content.as_bytes(), None),
            None => {
                std::fs::remove_file(&self.path).map_err(|e| Error::io("remove", &self.path, e))?;
                if let Some(dir) = self.path.parent() {
                    let _ = std::fs::remove_dir(dir); // only succeeds when empty
                }
                Ok(())
            }
        }
    }
}

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
