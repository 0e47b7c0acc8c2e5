//! Errors and diagnostics: every problem names where it is and how to fix it.

use std::fmt;
use std::path::{Path, PathBuf};

/// Where a problem is: a file, optionally a line/column and a path inside the document.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Location {
    pub file: Option<PathBuf>,
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// Path inside the document, e.g. `mcp_servers[2].url` or `mcpServers.crm.type`.
    pub path: Option<String>,
}

impl Location {
    pub fn file(file: impl Into<PathBuf>) -> Self {
        Location {
            file: Some(file.into()),
            ..Default::default()
        }
    }
    pub fn at(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }
    pub fn line_col(mut self, line: usize, column: usize) -> Self {
        self.line = Some(line);
        self.column = Some(column);
        self
    }
    /// Render the file relative to `root` when it lies inside it.
    pub fn display_relative(&self, root: Option<&Path>) -> String {
        let mut out = String::new();
        if let Some(f) = &self.file {
            let shown = root.and_then(|r| f.strip_prefix(r).ok()).unwrap_or(f);
            out.push_str(&shown.display().to_string());
            if let Some(l) = self.line {
                out.push_str(&format!(":{l}"));
                if let Some(c) = self.column {
                    out.push_str(&format!(":{c}"));
                }
            }
        }
        if let Some(p) = &self.path {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(p);
        }
        out
    }
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

/// One finding of a check: what is wrong, where, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    #[serde(flatten)]
    pub location: Location,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn error(location: Location, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            location,
            message: message.into(),
            hint: None,
        }
    }
    pub fn warning(location: Location, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(location, message)
        }
    }
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
    pub fn render(&self, root: Option<&Path>) -> String {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let loc = self.location.display_relative(root);
        let mut s = if loc.is_empty() {
            format!("{sev}: {}", self.message)
        } else {
            format!("{sev}: {loc}: {}", self.message)
        };
        if let Some(h) = &self.hint {
            s.push_str(&format!("\n  hint: {h}"));
        }
        s
    }
}

/// A collection of findings; a command that gathers them fails when any is an error.
#[derive(Debug, Clone, Default)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }
    pub fn extend(&mut self, other: Diagnostics) {
        self.0.extend(other.0);
    }
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(Diagnostic::is_error)
    }
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter().filter(|d| d.is_error())
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

/// A fatal error: what went wrong, optionally how to fix it, optionally the findings behind it.
#[derive(Debug)]
pub struct Error {
    pub message: String,
    pub hint: Option<String>,
    pub diagnostics: Diagnostics,
    /// Set when trying again later may succeed (network, 429, 5xx), with the wait the server asked for.
    pub transient: Option<Transient>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transient {
    pub retry_after: Option<std::time::Duration>,
}

impl Error {
    pub fn new(message: impl Into<String>) -> Self {
        Error {
            message: message.into(),
            hint: None,
            diagnostics: Diagnostics::default(),
            transient: None,
        }
    }
    /// An error worth retrying (after `retry_after`, when the server said).
    pub fn transient(message: impl Into<String>, retry_after: Option<std::time::Duration>) -> Self {
        Error {
            transient: Some(Transient { retry_after }),
            ..Error::new(message)
        }
    }
    pub fn is_transient(&self) -> bool {
        self.transient.is_some()
    }
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
    /// An error carrying the findings that caused it (printed one by one).
    pub fn from_diagnostics(message: impl Into<String>, diagnostics: Diagnostics) -> Self {
        Error {
            diagnostics,
            ..Error::new(message)
        }
    }
    pub fn io(action: &str, path: &Path, err: std::io::Error) -> Self {
        Error::new(format!("cannot {action} {}: {err}", path.display()))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)?;
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {h}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

impl From<Diagnostic> for Error {
    fn from(d: Diagnostic) -> Self {
        let mut ds = Diagnostics::default();
        let msg = d.message.clone();
        ds.push(d);
        Error::from_diagnostics(msg, ds)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Levenshtein distance, for did-you-mean hints.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The candidate closest to `word`, when it is close enough to be a plausible typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, c)| *d <= (c.len().max(word.len()) / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_keys_only() {
        let keys = ["enabled", "name", "oauth_required", "url"];
        assert_eq!(did_you_mean("enabld", keys), Some("enabled"));
        assert_eq!(did_you_mean("oauth_requird", keys), Some("oauth_required"));
        assert_eq!(did_you_mean("completely_else", keys), None);
    }
}
