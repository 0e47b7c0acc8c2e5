//! The `--json` contract: every command that reports prints one envelope
//! `{"version": 1, "command": "<name>", ...}` whose records name services the same way
//! (`key: {owner, service, user}`) and leave optional fields out instead of writing `null`.
//! The JSON Schemas in `schemas/output/` are generated from these types (a test fails when the
//! shipped copy is stale), so the documentation cannot drift from what is printed.

mod cost;
mod doctor;
mod lock;
mod plan;
mod secrets;
mod status;

pub use cost::*;
pub use doctor::*;
pub use lock::*;
pub use plan::*;
pub use secrets::*;
pub use status::*;

use schemars::{JsonSchema, Schema};
use serde::Serialize;

use crate::error::{Diagnostic, Severity};
use crate::ui::Ui;

/// The format of every `--json` output; bumped only by an incompatible change.
pub const JSON_VERSION: u32 = 1;

/// Where the output schemas are shipped, relative to the workspace root.
pub const OUTPUT_SCHEMA_DIR: &str = "schemas/output";

/// What every `--json` output starts with; the command's own fields follow at the top level.
#[derive(Serialize, JsonSchema)]
pub struct Envelope<T> {
    /// The format version (1).
    pub version: u32,
    /// The command that printed it: `validate`, `diff`, `deploy`, `destroy`, `status`,
    /// `secret list`, `cost`, `doctor`, `lock status`.
    pub command: String,
    #[serde(flatten)]
    pub body: T,
}

/// Print `body` in the envelope of `command` (the only thing on stdout with `--json`).
pub fn emit<T: Serialize>(ui: &Ui, command: &str, body: T) {
    let envelope = Envelope {
        version: JSON_VERSION,
        command: command.to_string(),
        body,
    };
    ui.json_out(&serde_json::to_value(&envelope).unwrap_or_default());
}

/// One finding of `validate` (or of a failed `diff`), with the file relative to the workspace.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DiagnosticRecord {
    pub severity: Severity,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    /// Path inside the document, e.g. `mcp_servers[2].url`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl DiagnosticRecord {
    pub fn new(d: &Diagnostic, ws: &crate::workspace::Workspace) -> Self {
        DiagnosticRecord {
            severity: d.severity,
            file: d
                .location
                .file
                .as_deref()
                .map(|f| ws.relative(f).display().to_string()),
            line: d.location.line,
            column: d.location.column,
            path: d.location.path.clone(),
            message: d.message.clone(),
            hint: d.hint.clone(),
        }
    }
}

fn schema_of<T: JsonSchema>(command: &str) -> String {
    let schema: Schema = schemars::schema_for!(Envelope<T>);
    let mut v = serde_json::to_value(&schema).expect("schema serializes");
    // Optional fields are left out, never `null`: the schema says so too.
    no_null(&mut v);
    let file = schema_file(command);
    v["$id"] = format!("https://scalewize.dev/schemas/output/{file}").into();
    v["title"] = format!("scalewize {command} --json").into();
    // The envelope names exactly one command per schema.
    v["properties"]["command"] = serde_json::json!({ "const": command });
    v["properties"]["version"] = serde_json::json!({ "const": JSON_VERSION });
    serde_json::to_string_pretty(&v).expect("schema serializes") + "\n"
}

/// Drop `null` from every type (schemars allows it for each `Option`, which we skip instead).
fn no_null(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::Object(map) => {
            if let Some(Value::Array(types)) = map.get_mut("type") {
                types.retain(|t| t != "null");
                if types.len() == 1 {
                    let only = types.remove(0);
                    map.insert("type".into(), only);
                }
            }
            for key in ["anyOf", "oneOf"] {
                if let Some(Value::Array(alts)) = map.get_mut(key) {
                    alts.retain(|a| a.get("type").is_none_or(|t| t != "null"));
                    if alts.len() == 1 {
                        let only = alts.remove(0);
                        map.remove(key);
                        if let Value::Object(o) = only {
                            map.extend(o);
                        }
                    }
                }
            }
            map.values_mut().for_each(no_null);
        }
        Value::Array(items) => items.iter_mut().for_each(no_null),
        _ => {}
    }
}

/// The schema file of a command's output: `secret list` → `secret-list.schema.json`.
pub fn schema_file(command: &str) -> String {
    format!("{}.schema.json", command.replace(' ', "-"))
}

/// Command → schema of its `--json` output, for every command that has one.
pub fn schemas() -> Vec<(&'static str, String)> {
    vec![
        ("validate", schema_of::<ValidateOutput>("validate")),
        ("diff", schema_of::<DiffOutput>("diff")),
        ("deploy", schema_of::<DeployOutput>("deploy")),
        ("destroy", schema_of::<DestroyOutput>("destroy")),
        ("status", schema_of::<StatusOutput>("status")),
        ("secret list", schema_of::<SecretListOutput>("secret list")),
        ("cost", schema_of::<CostOutput>("cost")),
        ("doctor", schema_of::<DoctorOutput>("doctor")),
        ("lock status", schema_of::<LockStatusOutput>("lock status")),
    ]
}
