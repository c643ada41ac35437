//! Vapi tools: `apiRequest` (`CreateApiRequestToolDTO`) and `function` (`CreateFunctionToolDTO`).

use std::collections::BTreeSet;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{
    Draft, FunctionTool, ImportError, Imported, ImportedTool, SetAside, parse, schema_body,
    schema_properties, server, timeout_seconds, translate, translate_json, unsupported,
};
use crate::vars::Platform;

const P: Platform = Platform::Vapi;

const BOOKKEEPING: &str = "Vapi's own record of the tool, not part of the request";
const SPOKEN: &str = "words the voice runtime speaks while the tool runs, not part of the request";

/// Fields every Vapi tool may carry that are not part of a request.
struct Common {
    id: Option<Value>,
    org_id: Option<Value>,
    created_at: Option<Value>,
    updated_at: Option<Value>,
    messages: Option<Value>,
    rejection_plan: Option<Value>,
    variable_extraction_plan: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawApiRequest {
    method: String,
    url: String,
    name: Option<String>,
    #[serde(default)]
    description: String,
    body: Option<Value>,
    headers: Option<Value>,
    parameters: Option<Vec<RawParameter>>,
    timeout_seconds: Option<f64>,
    backoff_plan: Option<Value>,
    credential_id: Option<String>,
    encrypted_paths: Option<Vec<Value>>,
    function: Option<Value>,
    id: Option<Value>,
    org_id: Option<Value>,
    created_at: Option<Value>,
    updated_at: Option<Value>,
    messages: Option<Value>,
    rejection_plan: Option<Value>,
    variable_extraction_plan: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParameter {
    key: String,
    value: Value,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawFunction {
    function: RawFunctionDef,
    server: Option<Value>,
    #[serde(rename = "async", default)]
    asynchronous: bool,
    parameters: Option<Vec<Value>>,
    id: Option<Value>,
    org_id: Option<Value>,
    created_at: Option<Value>,
    updated_at: Option<Value>,
    messages: Option<Value>,
    rejection_plan: Option<Value>,
    variable_extraction_plan: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFunctionDef {
    name: String,
    #[serde(default)]
    description: String,
    parameters: Option<Value>,
    #[serde(default)]
    strict: bool,
}

pub(super) fn import(mut config: Value) -> Result<Imported, ImportError> {
    let kind = match config.as_object_mut().map(|m| m.remove("type")) {
        Some(Some(Value::String(t))) => t,
        Some(_) => {
            return Err(unsupported(
                P,
                "type",
                "missing: expected apiRequest or function",
            ));
        }
        None => return Err(unsupported(P, "(root)", "a tool config is a JSON object")),
    };
    match kind.as_str() {
        "apiRequest" => api_request(parse(P, config)?),
        "function" => function(parse(P, config)?),
        other => Err(unsupported(
            P,
            "type",
            format!("`{other}` tools are not webhook tools; apiRequest and function tools import"),
        )),
    }
}

/// The fields that never reach the request: set aside with the reason, or refused.
fn common(c: Common, set_aside: &mut Vec<SetAside>) -> Result<(), ImportError> {
    if c.rejection_plan.is_some() {
        return Err(unsupported(
            P,
            "rejectionPlan",
            "rejecting a tool call on conversation state is not supported: remove it",
        ));
    }
    if c.variable_extraction_plan.is_some() {
        return Err(unsupported(
            P,
            "variableExtractionPlan",
            "Liquid aliases and schema extraction are not supported: name the values with \
             `config.response` (JSONPath) after importing",
        ));
    }
    for (field, present) in [
        ("id", c.id.is_some()),
        ("orgId", c.org_id.is_some()),
        ("createdAt", c.created_at.is_some()),
        ("updatedAt", c.updated_at.is_some()),
    ] {
        if present {
            set_aside.push(SetAside {
                field: field.into(),
                reason: BOOKKEEPING,
            });
        }
    }
    if c.messages.is_some() {
        set_aside.push(SetAside {
            field: "messages".into(),
            reason: SPOKEN,
        });
    }
    Ok(())
}

fn api_request(raw: RawApiRequest) -> Result<Imported, ImportError> {
    let mut set_aside = Vec::new();
    common(
        Common {
            id: raw.id,
            org_id: raw.org_id,
            created_at: raw.created_at,
            updated_at: raw.updated_at,
            messages: raw.messages,
            rejection_plan: raw.rejection_plan,
            variable_extraction_plan: raw.variable_extraction_plan,
        },
        &mut set_aside,
    )?;
    if raw.function.is_some() {
        set_aside.push(SetAside {
            field: "function".into(),
            reason: "Vapi derives an apiRequest tool's arguments from `body`; `function` is not used",
        });
    }
    let name = raw.name.ok_or_else(|| {
        unsupported(
            P,
            "name",
            "the tool needs a name: the model calls it by name",
        )
    })?;
    if raw.credential_id.is_some() {
        return Err(unsupported(
            P,
            "credentialId",
            "credentials are resolved per tenant here: put the token in a tenant secret and \
             send it in a header such as `Authorization: Bearer {{secrets.NAME}}`",
        ));
    }
    if raw.encrypted_paths.as_ref().is_some_and(|p| !p.is_empty()) {
        return Err(unsupported(
            P,
            "encryptedPaths",
            "body encryption with a credential's key is not supported",
        ));
    }
    if let Some(plan) = &raw.backoff_plan {
        let retries = plan
            .get("maxRetries")
            .and_then(Value::as_f64)
            .unwrap_or(0.0);
        if retries != 0.0 {
            return Err(unsupported(
                P,
                "backoffPlan.maxRetries",
                "the tool runner does not retry tool requests (the model is waiting); set \
                 maxRetries to 0 or use a function tool, whose server's backoffPlan is kept",
            ));
        }
    }
    let method = raw.method.to_ascii_uppercase();
    let body_schema = match raw.body {
        Some(Value::Object(map)) => Some(map),
        Some(Value::Null) | None => None,
        Some(_) => {
            return Err(unsupported(P, "body", "expected a JSON Schema object"));
        }
    };
    let args = schema_properties(body_schema.clone().map(Value::Object).as_ref());
    let mut draft = Draft {
        name,
        description: raw.description,
        method: method.clone(),
        url: translate(P, "url", &raw.url, &args)?,
        ..Draft::default()
    };
    if let Some(t) = raw.timeout_seconds {
        draft.timeout_seconds = Some(timeout_seconds(P, "timeoutSeconds", t, 1000.0)?);
    }
    if let Some(headers) = raw.headers {
        headers_schema(&headers, &args, &mut draft)?;
    }
    let sends_body = !matches!(method.as_str(), "GET" | "DELETE");
    if let Some(schema) = &body_schema {
        draft.parameters = Some(Value::Object(schema.clone()));
        if sends_body {
            draft.body = Some(schema_body("", schema, &mut draft.defaults));
        } else {
            // A GET's arguments can only travel in the URL.
            let used: BTreeSet<&str> = args
                .iter()
                .filter(|a| draft.url.contains(&format!("args.{a}")))
                .map(String::as_str)
                .collect();
            if let Some(unused) = args.iter().find(|a| !used.contains(a.as_str())) {
                return Err(unsupported(
                    P,
                    format!("body.properties.{unused}"),
                    format!(
                        "a {method} request has no body and the URL does not use this argument"
                    ),
                ));
            }
        }
    }
    if let Some(params) = raw.parameters {
        if !params.is_empty() && !sends_body {
            return Err(unsupported(
                P,
                "parameters",
                format!("static body fields need a body; a {method} request has none"),
            ));
        }
        let body = draft.body.get_or_insert_with(|| Value::Object(Map::new()));
        for (i, p) in params.into_iter().enumerate() {
            let field = format!("parameters[{i}].value");
            // Static values are merged after the model's, so they win (Vapi's order).
            let value = translate_json(P, &field, &p.value, &BTreeSet::new())?;
            draft.defaults.remove(&format!("args.{}", p.key));
            if let Value::Object(map) = body {
                map.insert(p.key, value);
            }
        }
    }
    let tool = draft.finish(P)?;
    Ok(Imported {
        tool: ImportedTool::Webhook(tool),
        set_aside,
    })
}

/// Vapi's `headers` is a JSON Schema whose properties carry a `value` (Liquid).
fn headers_schema(
    headers: &Value,
    args: &BTreeSet<String>,
    draft: &mut Draft,
) -> Result<(), ImportError> {
    let props = match headers.get("properties") {
        Some(Value::Object(p)) => p,
        None => return Ok(()),
        Some(_) => return Err(unsupported(P, "headers.properties", "expected an object")),
    };
    for (name, prop) in props {
        let field = format!("headers.properties.{name}.value");
        let value = match prop.get("value") {
            Some(Value::String(s)) => translate(P, &field, s, args)?,
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::Bool(b)) => b.to_string(),
            _ => {
                return Err(unsupported(
                    P,
                    field,
                    "a header without a configured `value` would be the model's to fill; \
                     headers here are configured values only",
                ));
            }
        };
        draft.headers.insert(name.clone(), value);
    }
    Ok(())
}

fn function(raw: RawFunction) -> Result<Imported, ImportError> {
    let mut set_aside = Vec::new();
    common(
        Common {
            id: raw.id,
            org_id: raw.org_id,
            created_at: raw.created_at,
            updated_at: raw.updated_at,
            messages: raw.messages,
            rejection_plan: raw.rejection_plan,
            variable_extraction_plan: raw.variable_extraction_plan,
        },
        &mut set_aside,
    )?;
    if raw.parameters.as_ref().is_some_and(|p| !p.is_empty()) {
        return Err(unsupported(
            P,
            "parameters",
            "static parameters of a function tool are merged into the tool-calls arguments by \
             the runtime that sends them; not supported yet",
        ));
    }
    let def = raw.function;
    let name_ok = (1..=64).contains(&def.name.len())
        && def
            .name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !name_ok {
        return Err(unsupported(
            P,
            "function.name",
            format!(
                "`{}` is not a tool name: use 1 to 64 letters, digits, `_` or `-`",
                def.name
            ),
        ));
    }
    if def.strict {
        set_aside.push(SetAside {
            field: "function.strict".into(),
            reason: "a setting of the model provider's function calling, not of the request",
        });
    }
    let server_json = raw.server;
    let server = match &server_json {
        Some(v) => Some(server(P, "server", v)?),
        None => None,
    };
    Ok(Imported {
        tool: ImportedTool::Function(FunctionTool {
            name: def.name,
            description: def.description,
            parameters: def
                .parameters
                .unwrap_or_else(|| serde_json::json!({"type": "object", "properties": {}})),
            asynchronous: raw.asynchronous,
            server,
            server_json,
        }),
        set_aside,
    })
}
