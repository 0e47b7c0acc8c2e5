//! Loads Railway's introspection result (`{"data":{"__schema":…}}`) at run time, turns it into
//! SDL and builds a validated [`apollo_compiler::Schema`] from it.
//!
//! Nothing of the reference schema is compiled into the crate: the file is read from disk (see
//! [`schema_path`]) and parsed once per path per process.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use apollo_compiler::Schema;
use apollo_compiler::validation::Valid;
use serde_json::Value;

/// Environment variable that overrides where the introspection JSON is read from.
pub const SCHEMA_ENV: &str = "SCALEWIZE_RAILWAY_SCHEMA";

/// Scalars and directives that every GraphQL schema has built in (apollo-compiler adds them).
const BUILT_IN_SCALARS: [&str; 5] = ["Int", "Float", "String", "Boolean", "ID"];
const BUILT_IN_DIRECTIVES: [&str; 4] = ["skip", "include", "deprecated", "specifiedBy"];

/// The path the schema is read from: `explicit` if given, else `$SCALEWIZE_RAILWAY_SCHEMA`, else
/// `<CARGO_MANIFEST_DIR>/../../../../shared/reference/railway/schema.json`.
pub fn schema_path(explicit: Option<&Path>) -> PathBuf {
    if let Some(p) = explicit {
        return p.to_path_buf();
    }
    if let Some(p) = std::env::var_os(SCHEMA_ENV).filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../../shared/reference/railway/schema.json")
}

/// Why the schema could not be loaded.
#[derive(Debug)]
pub struct SchemaError(pub String);

impl std::fmt::Display for SchemaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SchemaError {}

type Cache = Mutex<HashMap<PathBuf, Arc<Valid<Schema>>>>;

/// Reads, converts and validates the schema at `path`; cached per path for the process.
pub fn load_schema(path: &Path) -> Result<Arc<Valid<Schema>>, SchemaError> {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let key = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    if let Some(s) = cache.lock().unwrap().get(&key) {
        return Ok(s.clone());
    }
    let text = std::fs::read_to_string(path).map_err(|e| {
        SchemaError(format!(
            "cannot read the Railway schema at {} ({e}); set {SCHEMA_ENV} or Config::schema_path",
            path.display()
        ))
    })?;
    let json: Value = serde_json::from_str(&text)
        .map_err(|e| SchemaError(format!("{} is not JSON: {e}", path.display())))?;
    let sdl = introspection_to_sdl(&json)?;
    let schema = Schema::parse_and_validate(sdl, "railway-schema.graphql").map_err(|e| {
        SchemaError(format!(
            "the SDL converted from {} does not validate: {}",
            path.display(),
            e.errors
        ))
    })?;
    let schema = Arc::new(schema);
    cache.lock().unwrap().insert(key, schema.clone());
    Ok(schema)
}

/// Converts an introspection result (with or without the `{"data":…}` wrapper) to SDL.
pub fn introspection_to_sdl(json: &Value) -> Result<String, SchemaError> {
    let schema = json
        .pointer("/data/__schema")
        .or_else(|| json.get("__schema"))
        .ok_or_else(|| SchemaError("no `__schema` in the introspection JSON".into()))?;
    let mut out = String::new();
    let root = |k: &str| {
        schema
            .get(k)
            .and_then(|t| t.get("name"))
            .and_then(Value::as_str)
    };
    out.push_str("schema {\n");
    for (op, key) in [
        ("query", "queryType"),
        ("mutation", "mutationType"),
        ("subscription", "subscriptionType"),
    ] {
        if let Some(name) = root(key) {
            let _ = writeln!(out, "  {op}: {name}");
        }
    }
    out.push_str("}\n\n");

    for d in schema
        .get("directives")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = str_of(d, "name")?;
        if BUILT_IN_DIRECTIVES.contains(&name) {
            continue;
        }
        description(&mut out, d, "");
        let _ = write!(out, "directive @{name}");
        args(&mut out, d.get("args"))?;
        if d.get("isRepeatable").and_then(Value::as_bool) == Some(true) {
            out.push_str(" repeatable");
        }
        let locs: Vec<&str> = d
            .get("locations")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let _ = writeln!(out, " on {}\n", locs.join(" | "));
    }

    let types = schema
        .get("types")
        .and_then(Value::as_array)
        .ok_or_else(|| SchemaError("`__schema.types` is missing".into()))?;
    for t in types {
        let name = str_of(t, "name")?;
        if name.starts_with("__") || BUILT_IN_SCALARS.contains(&name) {
            continue;
        }
        description(&mut out, t, "");
        match str_of(t, "kind")? {
            "SCALAR" => {
                let _ = write!(out, "scalar {name}");
                if let Some(url) = t.get("specifiedByURL").and_then(Value::as_str) {
                    let _ = write!(out, " @specifiedBy(url: {})", quote(url));
                }
                out.push('\n');
            }
            kind @ ("OBJECT" | "INTERFACE") => {
                let kw = if kind == "OBJECT" {
                    "type"
                } else {
                    "interface"
                };
                let _ = write!(out, "{kw} {name}");
                let ifaces: Vec<&str> = t
                    .get("interfaces")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|i| i.get("name").and_then(Value::as_str))
                    .collect();
                if !ifaces.is_empty() {
                    let _ = write!(out, " implements {}", ifaces.join(" & "));
                }
                out.push_str(" {\n");
                for f in list(t, "fields") {
                    description(&mut out, f, "  ");
                    let _ = write!(out, "  {}", str_of(f, "name")?);
                    args(&mut out, f.get("args"))?;
                    let _ = write!(out, ": {}", type_ref(&f["type"])?);
                    deprecated(&mut out, f);
                    out.push('\n');
                }
                out.push_str("}\n");
            }
            "UNION" => {
                let members: Vec<&str> = list(t, "possibleTypes")
                    .filter_map(|i| i.get("name").and_then(Value::as_str))
                    .collect();
                let _ = writeln!(out, "union {name} = {}", members.join(" | "));
            }
            "ENUM" => {
                let _ = writeln!(out, "enum {name} {{");
                for v in list(t, "enumValues") {
                    description(&mut out, v, "  ");
                    let _ = write!(out, "  {}", str_of(v, "name")?);
                    deprecated(&mut out, v);
                    out.push('\n');
                }
                out.push_str("}\n");
            }
            "INPUT_OBJECT" => {
                let _ = write!(out, "input {name}");
                if t.get("isOneOf").and_then(Value::as_bool) == Some(true) {
                    out.push_str(" @oneOf");
                }
                out.push_str(" {\n");
                for f in list(t, "inputFields") {
                    description(&mut out, f, "  ");
                    out.push_str("  ");
                    input_value(&mut out, f)?;
                    out.push('\n');
                }
                out.push_str("}\n");
            }
            other => return Err(SchemaError(format!("type {name} has unknown kind {other}"))),
        }
        out.push('\n');
    }
    Ok(out)
}

fn list<'a>(v: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    v.get(key).and_then(Value::as_array).into_iter().flatten()
}

fn str_of<'a>(v: &'a Value, key: &str) -> Result<&'a str, SchemaError> {
    v.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| SchemaError(format!("introspection entry without `{key}`: {v}")))
}

/// A GraphQL string literal; JSON string escapes are a subset of GraphQL's.
fn quote(s: &str) -> String {
    serde_json::to_string(s).expect("strings serialise")
}

fn description(out: &mut String, v: &Value, indent: &str) {
    if let Some(d) = v.get("description").and_then(Value::as_str) {
        let _ = writeln!(out, "{indent}{}", quote(d));
    }
}

fn deprecated(out: &mut String, v: &Value) {
    if v.get("isDeprecated").and_then(Value::as_bool) == Some(true) {
        match v.get("deprecationReason").and_then(Value::as_str) {
            Some(r) => {
                let _ = write!(out, " @deprecated(reason: {})", quote(r));
            }
            None => out.push_str(" @deprecated"),
        }
    }
}

fn input_value(out: &mut String, a: &Value) -> Result<(), SchemaError> {
    let _ = write!(out, "{}: {}", str_of(a, "name")?, type_ref(&a["type"])?);
    // `defaultValue` is already GraphQL value syntax in introspection results.
    if let Some(d) = a.get("defaultValue").and_then(Value::as_str) {
        let _ = write!(out, " = {d}");
    }
    deprecated(out, a);
    Ok(())
}

fn args(out: &mut String, args: Option<&Value>) -> Result<(), SchemaError> {
    let Some(args) = args.and_then(Value::as_array).filter(|a| !a.is_empty()) else {
        return Ok(());
    };
    out.push('(');
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        if let Some(d) = a.get("description").and_then(Value::as_str) {
            let _ = write!(out, "{} ", quote(d));
        }
        input_value(out, a)?;
    }
    out.push(')');
    Ok(())
}

fn type_ref(t: &Value) -> Result<String, SchemaError> {
    match str_of(t, "kind")? {
        "NON_NULL" => Ok(format!("{}!", type_ref(&t["ofType"])?)),
        "LIST" => Ok(format!("[{}]", type_ref(&t["ofType"])?)),
        _ => Ok(str_of(t, "name")?.to_string()),
    }
}
