//! The template engine: minijinja with delimiters changed for YAML (`[[ ]]`, `[% %]`, `[# #]`)
//! so LibreChat's `{{PLACEHOLDERS}}` pass through untouched, and an escaping formatter so every
//! printed value is a YAML scalar (in `.yaml.j2`) or a quoted .env value (in `.env.j2`).

use std::path::{Path, PathBuf};

use minijinja::syntax::SyntaxConfig;
use minijinja::value::{Value, ValueKind};
use minijinja::{AutoEscape, Environment, Error, ErrorKind, UndefinedBehavior};

use crate::error::{Diagnostic, Location};
use crate::yaml;

pub const LIBRECHAT_TEMPLATE: &str = "librechat.yaml.j2";
pub const ENV_TEMPLATE: &str = "environment.env.j2";

pub const CLIENT_FILE_TEMPLATE: &str = "mcp-servers.json.j2";

const BUILTIN: &[(&str, &str)] = &[
    (
        CLIENT_FILE_TEMPLATE,
        include_str!("templates/mcp-servers.json.j2"),
    ),
    (
        LIBRECHAT_TEMPLATE,
        include_str!("templates/librechat.yaml.j2"),
    ),
    (ENV_TEMPLATE, include_str!("templates/environment.env.j2")),
];

pub fn builtin_source(name: &str) -> Option<&'static str> {
    BUILTIN.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}

/// Where a template name resolves: the client's `templates/`, then the workspace's, then built in.
/// `workspace/<name>` skips the client's, `builtin/<name>` is always the built-in one, so an
/// override can `[% extends "builtin/librechat.yaml.j2" %]` and fill a block.
#[derive(Clone)]
pub struct TemplateDirs {
    pub workspace: PathBuf,
    pub client: Option<PathBuf>,
}

impl TemplateDirs {
    pub fn resolve(&self, name: &str) -> Option<(Option<PathBuf>, String)> {
        let (dirs, base): (Vec<&PathBuf>, &str) = if let Some(b) = name.strip_prefix("builtin/") {
            (vec![], b)
        } else if let Some(b) = name.strip_prefix("workspace/") {
            (vec![&self.workspace], b)
        } else {
            (
                self.client
                    .iter()
                    .chain(std::iter::once(&self.workspace))
                    .collect(),
                name,
            )
        };
        if base.contains("..") || base.starts_with('/') {
            return None;
        }
        for d in dirs {
            let p = d.join(base);
            if let Ok(src) = std::fs::read_to_string(&p) {
                return Some((Some(p), src));
            }
        }
        builtin_source(base).map(|s| (None, s.to_string()))
    }

    /// The file a template name resolves to, for messages (`built-in` when none).
    pub fn describe(&self, name: &str) -> String {
        match self.resolve(name) {
            Some((Some(p), _)) => p.display().to_string(),
            _ => format!("the built-in {name}"),
        }
    }
}

pub fn environment(dirs: TemplateDirs) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_syntax(
        SyntaxConfig::builder()
            .block_delimiters("[%", "%]")
            .variable_delimiters("[[", "]]")
            .comment_delimiters("[#", "#]")
            .trim_blocks(true)
            .lstrip_blocks(true)
            .keep_trailing_newline(true)
            .build()
            .expect("valid syntax config"),
    );
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".yaml.j2") || name.ends_with(".yml.j2") {
            AutoEscape::Custom("yaml".into())
        } else if name.ends_with(".json.j2") {
            AutoEscape::Custom("json".into())
        } else if name.ends_with(".env.j2") {
            AutoEscape::Custom("dotenv".into())
        } else {
            AutoEscape::None
        }
    });
    env.set_formatter(|out, state, value| {
        let text = if value.is_safe() {
            value.to_string()
        } else {
            match state.auto_escape() {
                AutoEscape::Custom(m) if m == "yaml" => yaml_repr(value)?,
                AutoEscape::Custom(m) if m == "dotenv" => dotenv_repr(value)?,
                AutoEscape::Custom(m) if m == "json" => {
                    serde_json::to_string(value).map_err(|e| invalid(e.to_string()))?
                }
                _ => value.to_string(),
            }
        };
        out.write_str(&text)
            .map_err(|e| Error::new(ErrorKind::WriteFailure, e.to_string()))
    });
    env.add_filter("comment", |v: Value| {
        Value::from_safe_string(yaml::comment_text(&v.to_string()))
    });
    env.add_filter("yaml", |v: Value| {
        yaml_repr(&v).map(Value::from_safe_string)
    });
    env.add_filter("dotenv", |v: Value| {
        dotenv_repr(&v).map(Value::from_safe_string)
    });
    env.set_loader(move |name| Ok(dirs.resolve(name).map(|(_, src)| src)));
    env
}

fn invalid(msg: String) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg)
}

/// A value as YAML: scalars quoted when needed, sequences and maps in flow style.
pub fn yaml_repr(v: &Value) -> Result<String, Error> {
    Ok(match v.kind() {
        ValueKind::None => "null".into(),
        ValueKind::Bool => if v.is_true() { "true" } else { "false" }.into(),
        ValueKind::Number => v.to_string(),
        ValueKind::String => yaml::quote_str(v.as_str().unwrap_or_default()),
        ValueKind::Seq | ValueKind::Iterable => {
            let items: Result<Vec<_>, _> = v.try_iter()?.map(|i| yaml_repr(&i)).collect();
            format!("[{}]", items?.join(", "))
        }
        ValueKind::Map => {
            let mut parts = Vec::new();
            for k in v.try_iter()? {
                let val = v.get_item(&k)?;
                parts.push(format!(
                    "{}: {}",
                    yaml::quote_str(&k.to_string()),
                    yaml_repr(&val)?
                ));
            }
            format!("{{{}}}", parts.join(", "))
        }
        k => return Err(invalid(format!("cannot write a {k} value into YAML"))),
    })
}

fn dotenv_repr(v: &Value) -> Result<String, Error> {
    match v.kind() {
        ValueKind::None | ValueKind::Undefined => Ok(String::new()),
        ValueKind::Bool | ValueKind::Number => Ok(v.to_string()),
        ValueKind::String => {
            let s = v.as_str().unwrap_or_default();
            super::dotenv::quote(s).map_err(|why| invalid(format!("a value {why}")))
        }
        k => Err(invalid(format!(
            "cannot write a {k} value into a .env file"
        ))),
    }
}

/// A template failure as a diagnostic pointing into the template file.
pub fn template_error(err: &Error, dirs: &TemplateDirs, fallback: &Path) -> Diagnostic {
    let name = err.name().unwrap_or(LIBRECHAT_TEMPLATE);
    let mut loc = match dirs.resolve(name) {
        Some((Some(p), _)) => Location::file(p),
        _ => Location::file(fallback),
    };
    if let Some(line) = err.line() {
        loc.line = Some(line);
    }
    let detail = err.detail().map(|d| format!(": {d}")).unwrap_or_default();
    Diagnostic::error(loc, format!("template error ({}){detail}", err.kind())).hint(format!(
        "fix the template ({}); the syntax is [[ value ]], [% tag %], [# comment #]",
        dirs.describe(name)
    ))
}
