//! Bland custom tools (`POST /v1/tools`, with the v2 retry fields).

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::Value;

use super::{
    Draft, ImportError, Imported, ImportedTool, SetAside, parse, timeout_seconds, translate,
    translate_json, unsupported,
};
use crate::vars::Platform;

const P: Platform = Platform::Bland;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTool {
    name: String,
    #[serde(default)]
    description: String,
    speech: Option<Value>,
    url: String,
    #[serde(default = "post")]
    method: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    body: Option<Value>,
    #[serde(default)]
    query: BTreeMap<String, String>,
    input_schema: Option<Value>,
    #[serde(default)]
    response: BTreeMap<String, String>,
    timeout: Option<f64>,
    max_retries: Option<f64>,
    cooldown: Option<Value>,
    cache: Option<bool>,
    tool_id: Option<Value>,
}

fn post() -> String {
    "POST".to_owned()
}

/// Names Bland reserves for its own tools.
const RESERVED: [&str; 6] = ["input", "speak", "transfer", "wait", "finish", "switch"];

pub(super) fn import(config: Value) -> Result<Imported, ImportError> {
    let raw: RawTool = parse(P, config)?;
    let mut set_aside = Vec::new();
    if raw.speech.is_some() {
        set_aside.push(SetAside {
            field: "speech".into(),
            reason: "what the voice runtime says while the tool runs, not part of the request",
        });
    }
    let parameters = raw
        .input_schema
        .as_ref()
        .filter(|s| s.get("properties").is_some_and(Value::is_object))
        .cloned();
    if raw.input_schema.is_some() && parameters.is_none() {
        set_aside.push(SetAside {
            field: "input_schema".into(),
            reason: "an example without properties; the request reads the model's input \
                     through {{input.x}}, which imports as {{args.x}}",
        });
    }
    if raw.tool_id.is_some() {
        set_aside.push(SetAside {
            field: "tool_id".into(),
            reason: "Bland's own record of the tool, not part of the request",
        });
    }
    if RESERVED.contains(&raw.name.to_ascii_lowercase().as_str()) {
        return Err(unsupported(
            P,
            "name",
            "a name Bland reserves for its own tools",
        ));
    }
    if raw.max_retries.is_some_and(|r| r != 0.0) {
        return Err(unsupported(
            P,
            "max_retries",
            "the tool runner does not retry tool requests (the model is waiting); set 0",
        ));
    }
    if raw.cooldown.is_some() {
        set_aside.push(SetAside {
            field: "cooldown".into(),
            reason: "the delay between retries, and there are none",
        });
    }
    if raw.cache == Some(true) {
        return Err(unsupported(
            P,
            "cache",
            "caching tool answers is not supported",
        ));
    }
    let none = BTreeSet::new();
    let mut draft = Draft {
        name: raw.name,
        description: raw.description,
        method: raw.method.to_ascii_uppercase(),
        url: translate(P, "url", &raw.url, &none)?,
        ..Draft::default()
    };
    if let Some(ms) = raw.timeout {
        draft.timeout_seconds = Some(timeout_seconds(P, "timeout", ms, 1.0)?);
    }
    for (name, value) in &raw.headers {
        let field = format!("headers.{name}");
        draft
            .headers
            .insert(name.clone(), translate(P, &field, value, &none)?);
    }
    for (name, value) in &raw.query {
        let field = format!("query.{name}");
        draft
            .query
            .insert(name.clone(), translate(P, &field, value, &none)?);
    }
    match raw.body {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => {
            // Bland also takes the body as JSON text with prompt variables in it.
            let parsed: Value = serde_json::from_str(&s)
                .map_err(|e| unsupported(P, "body", format!("a text body must be JSON: {e}")))?;
            draft.body = Some(translate_json(P, "body", &parsed, &none)?);
        }
        Some(body) => draft.body = Some(translate_json(P, "body", &body, &none)?),
    }
    draft.response = raw.response;
    draft.parameters = parameters;
    let tool = draft.finish(P).map_err(|e| {
        if e.field().starts_with("config.response") {
            ImportError::new(P, "response", e.problem().clone())
        } else {
            e
        }
    })?;
    Ok(Imported {
        tool: ImportedTool::Webhook(tool),
        set_aside,
    })
}
