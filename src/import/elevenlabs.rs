//! ElevenLabs Agents webhook tools (`WebhookToolConfig` with its `api_schema`).

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{
    Draft, ImportError, Imported, ImportedTool, SetAside, expression, parse, timeout_seconds,
    unsupported,
};
use crate::vars::Platform;

const P: Platform = Platform::ElevenLabs;

const VOICE: &str =
    "how the voice runtime speaks or waits around the call, not part of the request";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTool {
    #[serde(rename = "type")]
    kind: Option<String>,
    name: String,
    #[serde(default)]
    description: String,
    api_schema: RawApiSchema,
    response_timeout_secs: Option<f64>,
    dynamic_variables: Option<Value>,
    assignments: Option<Vec<Value>>,
    execution_mode: Option<Value>,
    pre_tool_speech: Option<Value>,
    force_pre_tool_speech: Option<Value>,
    disable_interruptions: Option<Value>,
    interruption_mode: Option<Value>,
    tool_call_sound: Option<Value>,
    tool_call_sound_behavior: Option<Value>,
    tool_error_handling_mode: Option<Value>,
    follow_redirects: Option<bool>,
    follow_redirects_allowed_domains: Option<Value>,
    id: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApiSchema {
    url: String,
    #[serde(default = "get")]
    method: String,
    #[serde(default)]
    path_params_schema: BTreeMap<String, Value>,
    query_params_schema: Option<RawQuery>,
    request_body_schema: Option<Map<String, Value>>,
    #[serde(default)]
    request_headers: BTreeMap<String, Value>,
    content_type: Option<String>,
    auth_connection: Option<Value>,
    response_filter: Option<Value>,
    #[serde(default)]
    auth_resolved_params: Vec<Value>,
    response_body_schema: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQuery {
    properties: BTreeMap<String, Value>,
    #[serde(default)]
    required: Vec<String>,
}

fn get() -> String {
    "GET".to_owned()
}

pub(super) fn import(config: Value) -> Result<Imported, ImportError> {
    let raw: RawTool = parse(P, config)?;
    if raw.kind.as_deref().is_some_and(|k| k != "webhook") {
        return Err(unsupported(
            P,
            "type",
            "only `webhook` tools make a request; client and system tools do not import",
        ));
    }
    let mut set_aside = Vec::new();
    if raw.assignments.as_ref().is_some_and(|a| !a.is_empty()) {
        return Err(unsupported(
            P,
            "assignments",
            "assigning response values to dynamic variables is not supported: name the values \
             with `config.response` (JSONPath) after importing",
        ));
    }
    if raw.follow_redirects == Some(true) {
        return Err(unsupported(
            P,
            "follow_redirects",
            "the guarded transport decides redirects (every hop checked); a tool cannot turn them on",
        ));
    }
    if raw.tool_error_handling_mode.is_some() {
        return Err(unsupported(
            P,
            "tool_error_handling_mode",
            "what the model sees of a failure is fixed here (a short sentence, never the body)",
        ));
    }
    for (field, present) in [
        ("execution_mode", raw.execution_mode.is_some()),
        ("pre_tool_speech", raw.pre_tool_speech.is_some()),
        ("force_pre_tool_speech", raw.force_pre_tool_speech.is_some()),
        ("disable_interruptions", raw.disable_interruptions.is_some()),
        ("interruption_mode", raw.interruption_mode.is_some()),
        ("tool_call_sound", raw.tool_call_sound.is_some()),
        (
            "tool_call_sound_behavior",
            raw.tool_call_sound_behavior.is_some(),
        ),
    ] {
        if present {
            set_aside.push(SetAside {
                field: field.into(),
                reason: VOICE,
            });
        }
    }
    if raw.follow_redirects_allowed_domains.is_some() {
        set_aside.push(SetAside {
            field: "follow_redirects_allowed_domains".into(),
            reason: "redirects are off for this tool, so the list has no use",
        });
    }
    if raw.dynamic_variables.is_some() {
        set_aside.push(SetAside {
            field: "dynamic_variables".into(),
            reason: "placeholder values for testing in ElevenLabs' dashboard, not used on calls",
        });
    }
    if raw.id.is_some() {
        set_aside.push(SetAside {
            field: "id".into(),
            reason: "ElevenLabs' own record of the tool, not part of the request",
        });
    }
    let a = raw.api_schema;
    if a.auth_connection.is_some() {
        return Err(unsupported(
            P,
            "api_schema.auth_connection",
            "auth connections are resolved per tenant here: put the token in a tenant secret \
             and a header",
        ));
    }
    if !a.auth_resolved_params.is_empty() {
        return Err(unsupported(
            P,
            "api_schema.auth_resolved_params",
            "URL values from an auth connection are not supported",
        ));
    }
    if let Some(filter) = &a.response_filter {
        if filter.get("mode").and_then(Value::as_str).unwrap_or("all") != "all" {
            return Err(unsupported(
                P,
                "api_schema.response_filter",
                "use `config.response` (JSONPath) to name what the model sees",
            ));
        }
    }
    if a.content_type
        .as_deref()
        .is_some_and(|c| c != "application/json")
    {
        return Err(unsupported(
            P,
            "api_schema.content_type",
            "only JSON bodies are supported",
        ));
    }
    if a.response_body_schema.is_some() {
        set_aside.push(SetAside {
            field: "api_schema.response_body_schema".into(),
            reason: "documentation only (ElevenLabs does not show it to the model)",
        });
    }
    let mut draft = Draft {
        name: raw.name,
        description: raw.description,
        method: a.method.to_ascii_uppercase(),
        ..Draft::default()
    };
    if let Some(t) = raw.response_timeout_secs {
        draft.timeout_seconds = Some(timeout_seconds(P, "response_timeout_secs", t, 1000.0)?);
    }
    // URL: `{name}` path placeholders, each bound by `path_params_schema`.
    let mut url = String::new();
    let mut rest = a.url.as_str();
    let mut used = BTreeSet::new();
    while let Some(open) = rest.find('{') {
        let close = rest[open..]
            .find('}')
            .map(|c| open + c)
            .ok_or_else(|| unsupported(P, "api_schema.url", "`{` without `}`"))?;
        let name = &rest[open + 1..close];
        url.push_str(&rest[..open]);
        let field = format!("api_schema.path_params_schema.{name}");
        let prop = a.path_params_schema.get(name).ok_or_else(|| {
            unsupported(
                P,
                "api_schema.url",
                format!("placeholder `{{{name}}}` has no entry in path_params_schema"),
            )
        })?;
        match literal(&field, name, prop, &mut draft.defaults, true)? {
            Some(Value::String(t)) => url.push_str(&t),
            Some(other) => url.push_str(&other.to_string()),
            None => {
                return Err(unsupported(P, field, "a path parameter cannot be omitted"));
            }
        }
        used.insert(name.to_owned());
        rest = &rest[close + 1..];
    }
    url.push_str(rest);
    if let Some(unused) = a.path_params_schema.keys().find(|k| !used.contains(*k)) {
        return Err(unsupported(
            P,
            format!("api_schema.path_params_schema.{unused}"),
            "the URL has no `{name}` placeholder for it",
        ));
    }
    draft.url = url;
    if let Some(q) = a.query_params_schema {
        for (name, prop) in &q.properties {
            let field = format!("api_schema.query_params_schema.properties.{name}");
            let required = q.required.contains(name);
            match literal(&field, name, prop, &mut draft.defaults, required)? {
                Some(Value::String(t)) => {
                    if !required {
                        // An optional query value the model leaves out is sent empty.
                        draft
                            .defaults
                            .insert(format!("args.{name}"), Value::String(String::new()));
                    }
                    draft.query.insert(name.clone(), t);
                }
                Some(other) => {
                    draft.query.insert(name.clone(), other.to_string());
                }
                None => {}
            }
        }
    }
    if let Some(body) = &a.request_body_schema {
        draft.parameters = Some(Value::Object(body.clone()));
        draft.body = Some(object(
            "api_schema.request_body_schema",
            "",
            body,
            &mut draft.defaults,
        )?);
    }
    for (name, value) in &a.request_headers {
        let field = format!("api_schema.request_headers.{name}");
        let template = match value {
            Value::String(s) => s.clone(),
            Value::Object(o) if o.len() == 1 => {
                if let Some(Value::String(id)) = o.get("secret_id") {
                    format!("{{{{secrets.{id}}}}}")
                } else if let Some(Value::String(var)) = o.get("variable_name") {
                    format!("{{{{ {} }}}}", variable(&field, var)?)
                } else if let Some(Value::String(label)) = o.get("env_var_label") {
                    // An environment's value for the label: the tenant's secret of that name.
                    format!("{{{{secrets.{label}}}}}")
                } else {
                    return Err(unsupported(
                        P,
                        field,
                        "expected a string, {secret_id}, {variable_name} or {env_var_label}",
                    ));
                }
            }
            _ => {
                return Err(unsupported(
                    P,
                    field,
                    "expected a string, {secret_id}, {variable_name} or {env_var_label}",
                ));
            }
        };
        draft.headers.insert(name.clone(), template);
    }
    let tool = draft.finish(P)?;
    Ok(Imported {
        tool: ImportedTool::Webhook(tool),
        set_aside,
    })
}

/// Our expression for an ElevenLabs dynamic variable name.
fn variable(field: &str, name: &str) -> Result<String, ImportError> {
    P.map_variable(name)
        .map(expression)
        .map_err(|e| ImportError::new(P, field, e.into()))
}

/// The template of a literal property: exactly one value source. `None` when omitted.
fn literal(
    field: &str,
    path: &str,
    prop: &Value,
    defaults: &mut BTreeMap<String, Value>,
    required: bool,
) -> Result<Option<Value>, ImportError> {
    let get = |k: &str| prop.get(k).filter(|v| !is_unset(v));
    if get("allowed_values").is_some() || get("allowed_values_dynamic_variable").is_some() {
        return Err(unsupported(
            P,
            format!("{field}.allowed_values"),
            "a server-side set of allowed model values is not supported",
        ));
    }
    if prop.get("is_system_provided") == Some(&Value::Bool(true)) {
        return Err(unsupported(
            P,
            format!("{field}.is_system_provided"),
            "values ElevenLabs' integrations fill are not known here",
        ));
    }
    if prop.get("is_omitted") == Some(&Value::Bool(true)) {
        return Ok(None);
    }
    if let Some(var) = get("dynamic_variable").and_then(Value::as_str) {
        return Ok(Some(Value::String(format!(
            "{{{{ {} }}}}",
            variable(&format!("{field}.dynamic_variable"), var)?
        ))));
    }
    if let Some(c) = prop
        .get("constant_value")
        .filter(|v| !v.is_null() && *v != &Value::String(String::new()))
    {
        return Ok(Some(c.clone()));
    }
    // The model fills it from `description`.
    if !required {
        defaults.insert(format!("args.{path}"), Value::Null);
    }
    Ok(Some(Value::String(format!("{{{{args.{path}}}}}"))))
}

fn is_unset(v: &Value) -> bool {
    v.is_null() || v == &Value::String(String::new())
}

/// The body template of an object schema property.
fn object(
    field: &str,
    prefix: &str,
    schema: &Map<String, Value>,
    defaults: &mut BTreeMap<String, Value>,
) -> Result<Value, ImportError> {
    let required: BTreeSet<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut out = Map::new();
    let Some(Value::Object(props)) = schema.get("properties") else {
        return Ok(Value::Object(out));
    };
    for (name, prop) in props {
        let field = format!("{field}.properties.{name}");
        let path = format!("{prefix}{name}");
        let kind = prop.get("type").and_then(Value::as_str).unwrap_or("string");
        let value = match (kind, prop.as_object()) {
            ("object", Some(inner)) if inner.contains_key("properties") => {
                Some(object(&field, &format!("{path}."), inner, defaults)?)
            }
            _ => literal(
                &field,
                &path,
                prop,
                defaults,
                required.contains(name.as_str()),
            )?,
        };
        if let Some(v) = value {
            out.insert(name.clone(), v);
        }
    }
    Ok(Value::Object(out))
}
