//! Retell custom functions (`CustomTool`, `type: "custom"`).

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{
    Draft, ImportError, Imported, ImportedTool, SetAside, parse, schema_properties,
    timeout_seconds, translate, translate_json, unsupported,
};
use crate::vars::Platform;

const P: Platform = Platform::Retell;

const VOICE: &str = "what the voice runtime says around the call, not part of the request";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTool {
    #[serde(rename = "type")]
    kind: Option<String>,
    name: String,
    #[serde(default)]
    description: String,
    url: String,
    #[serde(default = "post")]
    method: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    query_params: BTreeMap<String, String>,
    parameters: Option<Map<String, Value>>,
    #[serde(default)]
    args_at_root: bool,
    timeout_ms: Option<f64>,
    max_retry: Option<f64>,
    #[serde(default)]
    response_variables: BTreeMap<String, String>,
    speak_during_execution: Option<Value>,
    speak_after_execution: Option<Value>,
    execution_message_description: Option<Value>,
    execution_message_type: Option<Value>,
    tool_id: Option<Value>,
}

fn post() -> String {
    "POST".to_owned()
}

pub(super) fn import(config: Value) -> Result<Imported, ImportError> {
    let raw: RawTool = parse(P, config)?;
    if raw.kind.as_deref().is_some_and(|k| k != "custom") {
        return Err(unsupported(
            P,
            "type",
            "only `custom` functions make a request; built-in functions do not import",
        ));
    }
    let mut set_aside = Vec::new();
    for (field, present) in [
        (
            "speak_during_execution",
            raw.speak_during_execution.is_some(),
        ),
        ("speak_after_execution", raw.speak_after_execution.is_some()),
        (
            "execution_message_description",
            raw.execution_message_description.is_some(),
        ),
        (
            "execution_message_type",
            raw.execution_message_type.is_some(),
        ),
    ] {
        if present {
            set_aside.push(SetAside {
                field: field.into(),
                reason: VOICE,
            });
        }
    }
    if raw.tool_id.is_some() {
        set_aside.push(SetAside {
            field: "tool_id".into(),
            reason: "Retell's own record of the tool, not part of the request",
        });
    }
    if raw.max_retry.is_some_and(|r| r != 0.0) {
        return Err(unsupported(
            P,
            "max_retry",
            "the tool runner does not retry tool requests (the model is waiting); set 0",
        ));
    }
    let method = raw.method.to_ascii_uppercase();
    let sends_body = matches!(method.as_str(), "POST" | "PUT" | "PATCH");
    let schema = raw.parameters.unwrap_or_default();
    let args = schema_properties(Some(&Value::Object(schema.clone())));
    let mut draft = Draft {
        name: raw.name,
        description: raw.description,
        method: method.clone(),
        url: translate(P, "url", &raw.url, &args)?,
        ..Draft::default()
    };
    if let Some(ms) = raw.timeout_ms {
        draft.timeout_seconds = Some(timeout_seconds(P, "timeout_ms", ms, 1.0)?);
    }
    for (name, value) in &raw.headers {
        let field = format!("headers.{name}");
        draft
            .headers
            .insert(name.clone(), translate(P, &field, value, &BTreeSet::new())?);
    }
    for (name, value) in &raw.query_params {
        let field = format!("query_params.{name}");
        draft
            .query
            .insert(name.clone(), translate(P, &field, value, &BTreeSet::new())?);
    }
    if !schema.is_empty() {
        draft.parameters = Some(Value::Object(schema.clone()));
    }
    if sends_body {
        if !raw.args_at_root {
            return Err(unsupported(
                P,
                "args_at_root",
                "without it Retell sends {name, call, args} with its own call object, which \
                 this runtime does not write: set args_at_root to true (the arguments are then \
                 the whole body)",
            ));
        }
        draft.body = Some(body(&schema, &mut draft.defaults)?);
    } else if !args.is_empty() {
        return Err(unsupported(
            P,
            "parameters",
            format!(
                "a {method} request has no body; Retell sends parameters only for POST, PUT and PATCH"
            ),
        ));
    }
    for (name, path) in raw.response_variables {
        // Retell's path is a dot path from the root (`data.user.name`, `items.0.id`).
        let ours = if path.is_empty() {
            "$".to_owned()
        } else {
            format!("$.{path}")
        };
        draft.response.insert(name, ours);
    }
    let tool = draft.finish(P).map_err(|e| {
        if e.field().starts_with("config.response") {
            ImportError::new(P, "response_variables", e.problem().clone())
        } else {
            e
        }
    })?;
    Ok(Imported {
        tool: ImportedTool::Webhook(tool),
        set_aside,
    })
}

/// The body: each property the model fills (`description`) or a constant (`const`, which may
/// hold dynamic variables).
fn body(
    schema: &Map<String, Value>,
    defaults: &mut BTreeMap<String, Value>,
) -> Result<Value, ImportError> {
    let required: BTreeSet<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut out = Map::new();
    if let Some(Value::Object(props)) = schema.get("properties") {
        for (name, prop) in props {
            let field = format!("parameters.properties.{name}.const");
            let value = match prop.get("const") {
                Some(c) => translate_json(P, &field, c, &BTreeSet::new())?,
                None => {
                    if !required.contains(name.as_str()) {
                        defaults.insert(format!("args.{name}"), Value::Null);
                    }
                    Value::String(format!("{{{{args.{name}}}}}"))
                }
            };
            out.insert(name.clone(), value);
        }
    }
    Ok(Value::Object(out))
}
