//! GitHub Actions (detected by `GITHUB_ACTIONS=true`): findings become `::error file=…,line=…,col=…::`
//! workflow commands, which GitHub shows on the pull request's diff, and reports can be appended
//! as Markdown to the job's step summary (`GITHUB_STEP_SUMMARY`).

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Diagnostic, Severity};

/// Whether this process runs as a GitHub Actions step.
pub fn detected() -> bool {
    std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true")
}

/// Escape a workflow command's message (GitHub's rules: `%`, CR, LF).
fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escape a workflow command's property value (also `:` and `,`, which delimit properties).
fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// The annotation of one finding. Files are relative to the repository (`GITHUB_WORKSPACE`),
/// else to `root`, as GitHub matches them against the pull request's paths.
pub fn annotation(d: &Diagnostic, root: Option<&Path>) -> String {
    let level = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let mut props = Vec::new();
    if let Some(file) = &d.location.file {
        let base: Option<PathBuf> = std::env::var_os("GITHUB_WORKSPACE")
            .map(PathBuf::from)
            .and_then(|w| w.canonicalize().ok())
            .filter(|w| file.starts_with(w))
            .or_else(|| root.map(Path::to_path_buf));
        let shown = base
            .as_deref()
            .and_then(|b| file.strip_prefix(b).ok())
            .unwrap_or(file);
        props.push(format!(
            "file={}",
            escape_property(&shown.display().to_string())
        ));
        if let Some(l) = d.location.line {
            props.push(format!("line={l}"));
        }
        if let Some(c) = d.location.column {
            props.push(format!("col={c}"));
        }
    }
    props.push("title=scalewize".to_string());
    let mut message = d.message.clone();
    if let Some(p) = &d.location.path {
        message = format!("{p}: {message}");
    }
    if let Some(h) = &d.hint {
        message.push_str(&format!("\nhint: {h}"));
    }
    format!("::{level} {}::{}", props.join(","), escape_data(&message))
}

/// Append Markdown to the step summary, when the job has one. A failure to write is reported
/// by the caller as a warning: the summary is a convenience, the exit code is the contract.
pub fn append_summary(markdown: &str) -> std::io::Result<bool> {
    let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) else {
        return Ok(false);
    };
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    f.write_all(markdown.as_bytes())?;
    if !markdown.ends_with('\n') {
        f.write_all(b"\n")?;
    }
    Ok(true)
}

/// Text for a Markdown table cell: no line breaks, `|` escaped.
pub fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Location;

    #[test]
    fn an_annotation_names_file_line_and_column_and_escapes_its_message() {
        let d = Diagnostic::error(
            Location::file("/ws/client-configs/a,b/mcp-servers.json")
                .line_col(3, 7)
                .at("mcp_servers[0].url"),
            "100% wrong\nsecond line",
        )
        .hint("fix: it");
        let a = annotation(&d, Some(Path::new("/ws")));
        assert_eq!(
            a,
            "::error file=client-configs/a%2Cb/mcp-servers.json,line=3,col=7,title=scalewize::mcp_servers[0].url: 100%25 wrong%0Asecond line%0Ahint: fix: it"
        );
    }
}
