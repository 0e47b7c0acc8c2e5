//! Terminal output: colour only on a TTY (never with `--no-color` or `NO_COLOR`), reports on
//! stdout, problems and progress on stderr, nothing but JSON on stdout with `--json`.

use std::io::{IsTerminal, Write};
use std::path::Path;

use console::Style;

use crate::error::{Diagnostic, Diagnostics, Error, Severity};

#[derive(Debug, Clone)]
pub struct Ui {
    pub color: bool,
    pub quiet: bool,
    pub verbose: u8,
    pub json: bool,
    pub stderr_tty: bool,
}

impl Ui {
    pub fn new(no_color: bool, quiet: bool, verbose: u8) -> Self {
        let no_color = no_color || std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Ui {
            color: !no_color && std::io::stdout().is_terminal(),
            quiet,
            verbose,
            json: false,
            stderr_tty: std::io::stderr().is_terminal(),
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
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{}", s.as_ref());
        }
    }

    /// A report line that `--quiet` keeps (results a script may need), never with `--json`.
    pub fn result(&self, s: impl AsRef<str>) {
        if !self.json {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{}", s.as_ref());
        }
    }

    /// Machine-readable output: the only thing on stdout with `--json`.
    pub fn json_out(&self, value: &serde_json::Value) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(value).unwrap_or_default()
        );
    }

    /// A note on stderr (kept out of stdout so pipes stay clean). Suppressed by `--quiet`.
    pub fn note(&self, s: impl AsRef<str>) {
        if !self.quiet {
            eprintln!("{}", s.as_ref());
        }
    }

    /// Debug detail, shown with `-v` (level 1), `-vv`, `-vvv`.
    pub fn debug(&self, level: u8, s: impl AsRef<str>) {
        if self.verbose >= level {
            eprintln!("{}", self.dim(&format!("debug: {}", s.as_ref())));
        }
    }

    pub fn warn(&self, s: impl AsRef<str>) {
        eprintln!("{} {}", self.yellow("warning:"), s.as_ref());
    }

    pub fn diagnostic(&self, d: &Diagnostic, root: Option<&Path>) {
        let text = d.render(root);
        let (head, rest) = text.split_once(": ").unwrap_or((&text, ""));
        let head = match d.severity {
            Severity::Error => self.red(head),
            Severity::Warning => self.yellow(head),
        };
        eprintln!("{head}: {rest}");
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
                eprintln!("{} {}", self.red("error:"), e.message);
            }
        } else {
            eprintln!("{} {}", self.red("error:"), e.message);
        }
        if let Some(h) = &e.hint {
            eprintln!("  hint: {h}");
        }
    }
}
