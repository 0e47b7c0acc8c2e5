//! The GraphQL pipeline for one request body: parse, validate, coerce variables, authorise and
//! execute. Produces the HTTP status and JSON body; knows nothing about faults.

use std::sync::Arc;

use apollo_compiler::ast;
use apollo_compiler::executable::{ExecutableDocument, Operation, OperationType};
use apollo_compiler::request::coerce_variable_values;
use apollo_compiler::resolvers::Execution;
use apollo_compiler::response::JsonMap;
use apollo_compiler::schema::ExtendedType;
use apollo_compiler::validation::Valid;
use apollo_compiler::{Node, Schema};
use serde_json::{Map, Value, json};

use crate::config::Plan;
use crate::log::OperationKind;
use crate::resolve::{Exec, K, Obj};
use crate::state::{Principal, State};
use crate::util::Clock;

pub(crate) const PARSE_FAILED: &str = "GRAPHQL_PARSE_FAILED";
pub(crate) const VALIDATION_FAILED: &str = "GRAPHQL_VALIDATION_FAILED";
pub(crate) const BAD_USER_INPUT: &str = "BAD_USER_INPUT";
pub(crate) const BAD_REQUEST: &str = "BAD_REQUEST";

/// What was learnt from the body before or without validation, for the request log.
#[derive(Default)]
pub(crate) struct Peek {
    pub document: String,
    pub variables: Value,
    pub operation_name: Option<String>,
    pub kind: Option<OperationKind>,
    pub root_fields: Vec<String>,
}

/// Best-effort reading of a body for the log; never fails.
pub(crate) fn peek(body: &[u8]) -> Peek {
    let mut p = Peek {
        variables: Value::Null,
        ..Default::default()
    };
    let Ok(Value::Object(b)) = serde_json::from_slice::<Value>(body) else {
        p.document = String::from_utf8_lossy(body).into_owned();
        return p;
    };
    p.document = b
        .get("query")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    p.variables = b.get("variables").cloned().unwrap_or(Value::Null);
    p.operation_name = b
        .get("operationName")
        .and_then(Value::as_str)
        .map(str::to_string);
    let Ok(doc) = ast::Document::parse(p.document.clone(), "request.graphql") else {
        return p;
    };
    let ops: Vec<&Node<ast::OperationDefinition>> = doc
        .definitions
        .iter()
        .filter_map(|d| match d {
            ast::Definition::OperationDefinition(o) => Some(o),
            _ => None,
        })
        .collect();
    let op = match &p.operation_name {
        Some(n) => ops.iter().find(|o| o.name.as_deref() == Some(n.as_str())),
        None if ops.len() == 1 => ops.first(),
        None => None,
    };
    if let Some(op) = op {
        if p.operation_name.is_none() {
            p.operation_name = op.name.as_ref().map(|n| n.to_string());
        }
        p.kind = Some(match op.operation_type {
            ast::OperationType::Query => OperationKind::Query,
            ast::OperationType::Mutation => OperationKind::Mutation,
            ast::OperationType::Subscription => OperationKind::Subscription,
        });
        let mut names = vec![];
        root_fields(&doc, &op.selection_set, &mut names, 0);
        p.root_fields = names;
    }
    p
}

fn root_fields(doc: &ast::Document, sel: &[ast::Selection], out: &mut Vec<String>, depth: u32) {
    if depth > 16 {
        return;
    }
    for s in sel {
        match s {
            ast::Selection::Field(f) => {
                if !out.iter().any(|n| n == f.name.as_str()) {
                    out.push(f.name.to_string());
                }
            }
            ast::Selection::InlineFragment(i) => root_fields(doc, &i.selection_set, out, depth + 1),
            ast::Selection::FragmentSpread(fs) => {
                for d in &doc.definitions {
                    if let ast::Definition::FragmentDefinition(fd) = d
                        && fd.name == fs.fragment_name
                    {
                        root_fields(doc, &fd.selection_set, out, depth + 1);
                    }
                }
            }
        }
    }
}

/// Authentication result for one request.
#[derive(Clone, Debug)]
pub(crate) struct Auth {
    pub principal: Result<Principal, String>,
    pub token_record: Option<String>,
    pub plan: Plan,
}

pub(crate) struct Outcome {
    pub status: u16,
    pub body: Value,
    /// The body as sent, when it differs from `body` in key order: executed responses keep
    /// `data` in selection order, as GraphQL requires (`serde_json::Value` may sort keys).
    pub wire: Option<Vec<u8>>,
    pub executed: bool,
    pub kind: Option<OperationKind>,
    pub lag_hit: bool,
}

fn error(message: impl Into<String>, code: Option<&str>, trace: &str, locations: Value) -> Value {
    let mut ext = Map::new();
    if let Some(c) = code {
        ext.insert("code".into(), json!(c));
    }
    ext.insert("traceId".into(), json!(trace));
    let mut e = Map::new();
    e.insert("message".into(), json!(message.into()));
    if locations.as_array().is_some_and(|a| !a.is_empty()) {
        e.insert("locations".into(), locations);
    }
    e.insert("extensions".into(), Value::Object(ext));
    Value::Object(e)
}

fn request_error(status: u16, mut errors: Vec<Value>) -> Outcome {
    let mut seen = Vec::new();
    errors.retain(|e| {
        let key = (e["message"].clone(), e["locations"].clone());
        let fresh = !seen.contains(&key);
        seen.push(key);
        fresh
    });
    Outcome {
        status,
        body: json!({ "errors": errors }),
        wire: None,
        executed: false,
        kind: None,
        lag_hit: false,
    }
}

pub(crate) struct Ctx<'a> {
    pub schema: &'a Arc<Valid<Schema>>,
    pub clock: &'a Clock,
    pub trace: String,
}

/// Runs one request body through parse → validate → coerce → execute.
pub(crate) fn process(
    cx: &Ctx<'_>,
    state: &mut State,
    body: &[u8],
    auth: &Auth,
    now: f64,
    lag: Option<f64>,
) -> Outcome {
    let trace = cx.trace.as_str();
    let bad = |m: &str| request_error(400, vec![error(m, Some(BAD_REQUEST), trace, Value::Null)]);
    let Ok(body) = serde_json::from_slice::<Value>(body) else {
        return bad("The request body is not valid JSON");
    };
    let Some(body) = body.as_object() else {
        return bad("The request body must be a JSON object");
    };
    let Some(query) = body
        .get("query")
        .and_then(Value::as_str)
        .filter(|q| !q.trim().is_empty())
    else {
        return bad("GraphQL operations must contain a non-empty `query`");
    };
    let variables: JsonMap = match body.get("variables") {
        None | Some(Value::Null) => JsonMap::new(),
        Some(Value::Object(m)) => {
            match apollo_compiler::response::JsonValue::from(Value::Object(m.clone())) {
                apollo_compiler::response::JsonValue::Object(m) => m,
                _ => JsonMap::new(),
            }
        }
        Some(_) => return bad("`variables` must be a JSON object"),
    };
    let op_name = match body.get("operationName") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(_) => return bad("`operationName` must be a string"),
    };

    // Parse: syntax errors only.
    let ast = match ast::Document::parse(query, "request.graphql") {
        Ok(d) => d,
        Err(e) => {
            let errors = e
                .errors
                .iter()
                .map(|d| {
                    let j = d.to_json();
                    error(
                        format!(
                            "Syntax Error: {}",
                            j.message.trim_start_matches("syntax error: ")
                        ),
                        Some(PARSE_FAILED),
                        trace,
                        json!(j.locations),
                    )
                })
                .collect();
            return request_error(400, errors);
        }
    };
    // Validate against the schema.
    let doc: Valid<ExecutableDocument> = match ast.to_executable_validate(cx.schema.as_ref()) {
        Ok(d) => d,
        Err(e) => {
            let errors = e
                .errors
                .iter()
                .map(|d| {
                    let j = d.to_json();
                    error(
                        j.message,
                        Some(VALIDATION_FAILED),
                        trace,
                        json!(j.locations),
                    )
                })
                .collect();
            return request_error(400, errors);
        }
    };
    let op = match doc.operations.get(op_name) {
        Ok(op) => op,
        Err(e) => {
            let msg = match op_name {
                Some(n) => format!("Unknown operation named \"{n}\"."),
                None => format!(
                    "Must provide operation name if query contains multiple operations. ({})",
                    e.message()
                ),
            };
            return request_error(
                400,
                vec![error(msg, Some(BAD_USER_INPUT), trace, Value::Null)],
            );
        }
    };
    let kind = match op.operation_type {
        OperationType::Query => OperationKind::Query,
        OperationType::Mutation => OperationKind::Mutation,
        OperationType::Subscription => OperationKind::Subscription,
    };
    // Coerce variables.
    let coerced = match coerce_variable_values(cx.schema.as_ref(), op, &variables) {
        Ok(v) => v,
        Err(e) => {
            let j = e.to_graphql_error(&doc.sources);
            return request_error(
                400,
                vec![error(
                    format!("Variable coercion failed: {}", j.message),
                    Some(BAD_USER_INPUT),
                    trace,
                    json!(j.locations),
                )],
            );
        }
    };
    if let Err(m) = check_custom_scalars(cx.schema, op, &variables) {
        return request_error(
            400,
            vec![error(m, Some(BAD_USER_INPUT), trace, Value::Null)],
        );
    }
    let mut outcome = Outcome {
        status: 200,
        body: Value::Null,
        wire: None,
        executed: false,
        kind: Some(kind),
        lag_hit: false,
    };
    if kind == OperationKind::Subscription {
        outcome.body = json!({"data": null, "errors": [error(
            "not implemented by the emulator: subscriptions (Railway serves them over WebSocket)",
            None, trace, Value::Null)]});
        return outcome;
    }

    let exec = Exec {
        st: std::cell::RefCell::new(state),
        principal: auth.principal.clone(),
        token_record: auth.token_record.clone(),
        plan: auth.plan,
        now,
        clock: cx.clock,
        lag,
        lag_hit: std::cell::Cell::new(false),
    };
    let root = Obj {
        ex: &exec,
        ty: op.object_type().to_string(),
        k: if kind == OperationKind::Mutation {
            K::Mutation
        } else {
            K::Query
        },
    };
    let result = Execution::new(cx.schema.as_ref(), &doc)
        .operation(op)
        .coerced_variable_values(&coerced)
        .enable_schema_introspection(true)
        .execute_sync(&root);
    outcome.executed = true;
    outcome.lag_hit = exec.lag_hit.get();
    match result {
        Ok(resp) => {
            #[derive(serde::Serialize)]
            struct Wire<'a> {
                data: &'a Option<JsonMap>,
                #[serde(skip_serializing_if = "Option::is_none")]
                errors: Option<&'a Value>,
            }
            let mut out = Map::new();
            if !resp.errors.is_empty() {
                let errors: Vec<Value> = resp
                    .errors
                    .iter()
                    .map(|e| {
                        let mut v = serde_json::to_value(e).unwrap_or(Value::Null);
                        if let Some(o) = v.as_object_mut() {
                            if let Some(Value::String(m)) = o.get_mut("message")
                                && let Some(rest) = m.strip_prefix("resolver error: ")
                            {
                                *m = rest.to_string();
                            }
                            let ext = o.entry("extensions").or_insert_with(|| json!({}));
                            if let Some(ext) = ext.as_object_mut() {
                                ext.insert("traceId".into(), json!(trace));
                            }
                        }
                        v
                    })
                    .collect();
                out.insert("errors".into(), Value::Array(errors));
            }
            out.insert(
                "data".into(),
                serde_json::to_value(&resp.data).unwrap_or(Value::Null),
            );
            outcome.wire = serde_json::to_vec(&Wire {
                data: &resp.data,
                errors: out.get("errors"),
            })
            .ok();
            outcome.body = Value::Object(out);
        }
        Err(e) => {
            outcome.executed = false;
            outcome.status = 400;
            let j = e.to_graphql_error(&doc.sources);
            outcome.body = json!({"errors": [error(j.message, Some(BAD_USER_INPUT), trace, json!(j.locations))]});
        }
    }
    outcome
}

/// Custom scalars whose shape the emulator checks in variables (apollo-compiler accepts any
/// JSON for custom scalars): `EnvironmentVariables` must be an object of strings.
fn check_custom_scalars(
    schema: &Valid<Schema>,
    op: &Operation,
    values: &JsonMap,
) -> Result<(), String> {
    for def in &op.variables {
        if let Some(v) = values.get(def.name.as_str()) {
            let v = serde_json::to_value(v).unwrap_or(Value::Null);
            check_value(schema, &def.ty, &v, &format!("${}", def.name))?;
        }
    }
    Ok(())
}

fn check_value(schema: &Schema, ty: &ast::Type, v: &Value, path: &str) -> Result<(), String> {
    if v.is_null() {
        return Ok(());
    }
    match ty {
        ast::Type::List(inner) | ast::Type::NonNullList(inner) => match v.as_array() {
            Some(items) => items
                .iter()
                .enumerate()
                .try_for_each(|(i, x)| check_value(schema, inner, x, &format!("{path}[{i}]"))),
            None => check_value(schema, inner, v, path),
        },
        ast::Type::Named(n) | ast::Type::NonNullNamed(n) => match schema.types.get(n) {
            Some(ExtendedType::Scalar(_)) if n.as_str() == "EnvironmentVariables" => {
                let ok = v
                    .as_object()
                    .is_some_and(|o| o.values().all(Value::is_string));
                if ok {
                    Ok(())
                } else {
                    Err(format!(
                        "Variable coercion failed: invalid value at {path}: expected type \
                         EnvironmentVariables (an object of string values), got {v}"
                    ))
                }
            }
            Some(ExtendedType::InputObject(def)) => {
                let Some(o) = v.as_object() else {
                    return Ok(());
                };
                for (k, x) in o {
                    if let Some(f) = def.fields.get(k.as_str()) {
                        check_value(schema, &f.ty, x, &format!("{path}.{k}"))?;
                    }
                }
                Ok(())
            }
            _ => Ok(()),
        },
    }
}
