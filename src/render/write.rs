//! Writing generated files: atomic (temp file + rename in the same folder), and never
//! rewriting a file whose content is unchanged.

use std::path::{Path, PathBuf};

use super::RenderedFile;
use crate::error::{Error, Result};
use crate::fs::write_atomic;

/// What writing a generated file would do to the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileStatus {
    Create,
    Update,
    Delete,
    Unchanged,
}

impl FileStatus {
    /// The word used in output and `--json` (`create`, `update`, `delete`, `unchanged`).
    pub fn as_str(self) -> &'static str {
        match self {
            FileStatus::Create => "create",
            FileStatus::Update => "update",
            FileStatus::Delete => "delete",
            FileStatus::Unchanged => "unchanged",
        }
    }
}

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
    pub fn status(&self) -> FileStatus {
        match (&self.old, &self.new) {
            (None, Some(_)) => FileStatus::Create,
            (Some(_), None) => FileStatus::Delete,
            (a, b) if a == b => FileStatus::Unchanged,
            _ => FileStatus::Update,
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
