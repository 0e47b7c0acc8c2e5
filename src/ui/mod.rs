//! Terminal output: colour as `--color` says (auto: only on a terminal and without `NO_COLOR`),
//! reports on stdout, problems and progress on stderr, nothing but JSON on stdout with `--json`.

pub mod github;
pub mod progress;
pub mod table;

pub use progress::{Progress, timestamp};
pub use table::{Align, Table};

use std::io::{IsTerminal, Write};
use std::path::Path;

use console::Style;

use crate::error::{Diagnostic, Diagnostics, Error, Severity};

/// One line on stdout. Errors are ignored on purpose: when the reader went away (`| head -3`)
/// the run must neither panic (as `println!` does on a closed pipe) nor change its exit code.
/// Every line the binary prints goes through this or `stderr_line` (clippy's `print_stdout`
/// and `print_stderr` lints, denied in lib.rs, keep it so).
pub fn stdout_line(s: &str) {
    let _ = writeln!(std::io::stdout().lock(), "{s}");
}

/// One line on stderr, ignoring errors (see `stdout_line`).
pub fn stderr_line(s: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{s}");
}

#[derive(Debug, Clone)]
pub struct Ui {
    pub color: bool,
    pub quiet: bool,
    pub verbose: u8,
    pub json: bool,
    pub stderr_tty: bool,
    /// In GitHub Actions: findings are also printed as `::error file=…` annotations.
    pub github: bool,
}

impl Ui {
    /// `color`: `Some(true)` always, `Some(false)` never, `None` auto (a terminal, and the
    /// `NO_COLOR` environment variable unset or empty).
    pub fn new(color: Option<bool>, quiet: bool, verbose: u8) -> Self {
        let stdout_tty = std::io::stdout().is_terminal();
        let stderr_tty = std::io::stderr().is_terminal();
        let no_color_env = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let resolve = |tty: bool| color.unwrap_or(tty && !no_color_env);
        // indicatif and console paint the progress lines on stderr: same decision there.
        console::set_colors_enabled(resolve(stdout_tty));
        console::set_colors_enabled_stderr(resolve(stderr_tty));
        Ui {
            color: resolve(stdout_tty),
            quiet,
            verbose,
            json: false,
            stderr_tty,
            github: github::detected(),
        }
    }

    /// Print a table's lines as report lines (kept by `--quiet`).
    pub fn table(&self, t: &Table) {
        for l in t.lines() {
            self.result(l);
        }
    }

    fn paint(&self, style: Style, s: &str) -> String {
        if self.color {
            style.force_styling(true).apply_to(s).to_string()
        } else {
            s.to_string()
        }
    }
    pub fn green(&self, s: &str) -> String {
        self.paint(Style::new().green(), s)
    }
    pub fn red(&self, s: &str) -> String {
        self.paint(Style::new().red(), s)
    }
    pub fn yellow(&self, s: &str) -> String {
        self.paint(Style::new().yellow(), s)
    }
    pub fn bold(&self, s: &str) -> String {
        self.paint(Style::new().bold(), s)
    }
    pub fn dim(&self, s: &str) -> String {
        self.paint(Style::new().dim(), s)
    }

    /// A line of the command's report (stdout). Suppressed by `--quiet` and `--json`.
    pub fn say(&self, s: impl AsRef<str>) {
        if !self.quiet && !self.json {
            stdout_line(s.as_ref());
        }
    }

    /// A report line that `--quiet` keeps (results a script may need), never with `--json`.
    pub fn result(&self, s: impl AsRef<str>) {
        if !self.json {
            stdout_line(s.as_ref());
        }
    }

    /// Machine-readable output: the only thing on stdout with `--json`.
    pub fn json_out(&self, value: &serde_json::Value) {
        stdout_line(&serde_json::to_string_pretty(value).unwrap_or_default());
    }

    /// A note on stderr (kept out of stdout so pipes stay clean). Suppressed by `--quiet`.
    pub fn note(&self, s: impl AsRef<str>) {
        if !self.quiet {
            stderr_line(s.as_ref());
        }
    }

    /// Debug detail, shown with `-v` (level 1), `-vv`, `-vvv`.
    pub fn debug(&self, level: u8, s: impl AsRef<str>) {
        if self.verbose >= level {
            stderr_line(&self.dim(&format!("debug: {}", s.as_ref())));
        }
    }

    pub fn warn(&self, s: impl AsRef<str>) {
        stderr_line(&format!("{} {}", self.yellow("warning:"), s.as_ref()));
    }

    pub fn diagnostic(&self, d: &Diagnostic, root: Option<&Path>) {
        let text = d.render(root);
        let (head, rest) = text.split_once(": ").unwrap_or((&text, ""));
        let head = match d.severity {
            Severity::Error => self.red(head),
            Severity::Warning => self.yellow(head),
        };
        stderr_line(&format!("{head}: {rest}"));
        if self.github {
            // On stderr like the finding itself (the runner reads commands from both streams),
            // so stdout stays a clean report or JSON document.
            stderr_line(&github::annotation(d, root));
        }
    }

    /// Only the annotation of a finding (in GitHub Actions), e.g. when stdout carries JSON.
    pub fn annotate(&self, d: &Diagnostic, root: Option<&Path>) {
        if self.github {
            stderr_line(&github::annotation(d, root));
        }
    }

    pub fn diagnostics(&self, ds: &Diagnostics, root: Option<&Path>) {
        for d in &ds.0 {
            self.diagnostic(d, root);
        }
    }

    pub fn error(&self, e: &Error, root: Option<&Path>) {
        if !e.diagnostics.is_empty() {
            self.diagnostics(&e.diagnostics, root);
            let errors = e.diagnostics.errors().count();
            if errors > 1
                || e.diagnostics
                    .0
                    .first()
                    .is_some_and(|d| d.message != e.message)
            {
                stderr_line(&format!("{} {}", self.red("error:"), e.message));
            }
        } else {
            stderr_line(&format!("{} {}", self.red("error:"), e.message));
        }
        if let Some(h) = &e.hint {
            stderr_line(&format!("  hint: {h}"));
        }
    }
}
