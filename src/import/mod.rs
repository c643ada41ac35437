//! Tool configs from the platforms users migrate from: Vapi, ElevenLabs, Retell and Bland.
//!
//! [`import`] reads one tool config as the platform's API returns it and converts it into a
//! [`WebhookTool`] (the platform calls the URL itself: Vapi `apiRequest`, ElevenLabs `webhook`,
//! Retell `custom`, Bland custom tools) or a [`FunctionTool`] (Vapi `function`: the runtime
//! sends a `tool-calls` event to the tool's server, which becomes the cascade's tool level).
//! Each platform's variable names become ours ([`Platform::map_variable`]), so escaping per
//! place and availability per agent kind are this crate's: `{{customer.number}}` becomes
//! `{{caller_phone}}`, which a chat agent does not have.
//!
//! The conversion is total or refused: a field that cannot be mapped is an [`ImportError`]
//! naming it, never dropped. The only fields left out are the platform's own bookkeeping
//! (`id`, `orgId`, `createdAt`, ...) and what the voice runtime rather than the request does
//! (words spoken while the tool runs); [`Imported::set_aside`] lists each of them with the
//! reason. The mapping tables are in the README ("Importing tools from other platforms").
//!
//! ```
//! use agent_webhooks::import::{Platform, import};
//! let vapi = serde_json::json!({
//!     "type": "apiRequest", "name": "get_order", "method": "GET",
//!     "url": "https://api.example.com/orders/{{orderNumber}}?caller={{ customer.number }}",
//!     "body": {"type": "object", "properties": {"orderNumber": {"type": "string"}},
//!              "required": ["orderNumber"]}
//! });
//! let imported = import(Platform::Vapi, vapi)?;
//! let tool = imported.webhook_tool().unwrap();
//! assert_eq!(
//!     tool.config.url,
//!     "https://api.example.com/orders/{{ args.orderNumber }}?caller={{ caller_phone }}"
//! );
//! # Ok::<(), agent_webhooks::import::ImportError>(())
//! ```

mod bland;
mod elevenlabs;
mod retell;
mod vapi;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::cascade::{CascadeError, Server};
use crate::template::{TemplateError, liquid};
use crate::tool::{ConfigError, WebhookTool};
use crate::vars::AgentKind;
pub use crate::vars::{MappedVariable, Platform, UnknownPlatform, UnmappedVariable};

/// Converts one tool config of `platform` into this crate's types.
///
/// # Errors
/// An [`ImportError`] naming the field that cannot be mapped and why.
pub fn import(platform: Platform, config: Value) -> Result<Imported, ImportError> {
    match platform {
        Platform::Vapi => vapi::import(config),
        Platform::ElevenLabs => elevenlabs::import(config),
        Platform::Retell => retell::import(config),
        Platform::Bland => bland::import(config),
    }
}

/// What an import produced.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Imported {
    /// The tool.
    pub tool: ImportedTool,
    /// Fields not carried over, each with the reason: the platform's bookkeeping and what the
    /// voice runtime does rather than the request.
    pub set_aside: Vec<SetAside>,
}

impl Imported {
    /// The webhook tool, if the import gave one.
    #[must_use]
    pub fn webhook_tool(&self) -> Option<&WebhookTool> {
        match &self.tool {
            ImportedTool::Webhook(t) => Some(t),
            ImportedTool::Function(_) => None,
        }
    }

    /// The JSON `webhookctl import` prints: the [`WebhookTool`] (what `webhookctl render
    /// --tool` reads), or for a function tool `{"type": "function", "name", "description",
    /// "parameters", "async", "server"}` whose `server` is a Vapi-shaped server config (what
    /// `webhookctl cascade --config` reads under `tool.server`).
    #[must_use]
    pub fn to_json(&self) -> Value {
        match &self.tool {
            ImportedTool::Webhook(t) => {
                serde_json::to_value(t).expect("a WebhookTool serializes to JSON")
            }
            ImportedTool::Function(f) => f.to_json(),
        }
    }
}

/// The kind of tool an import produced.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ImportedTool {
    /// A tool whose request the runtime makes itself.
    Webhook(WebhookTool),
    /// A function tool: the call is a `tool-calls` event to the tool's server.
    Function(FunctionTool),
}

/// A function tool (Vapi `function`): the model's function definition and, if the tool names
/// one, the server its `tool-calls` events go to (the cascade's [`Level::Tool`](crate::Level)).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FunctionTool {
    /// The function name the model calls.
    pub name: String,
    /// What it does, for the model.
    pub description: String,
    /// The JSON Schema of its arguments, as given.
    pub parameters: Value,
    /// Whether the model moves on without waiting for the answer (Vapi `async`).
    pub asynchronous: bool,
    /// The tool's server, checked by [`Server::from_value`].
    pub server: Option<Server>,
    server_json: Option<Value>,
}

impl FunctionTool {
    /// The Vapi-shaped server config, as imported (`url`, `timeoutSeconds`, `headers`,
    /// `credentialId`, `backoffPlan`).
    #[must_use]
    pub fn server_config(&self) -> Option<&Value> {
        self.server_json.as_ref()
    }

    fn to_json(&self) -> Value {
        let mut out = serde_json::json!({
            "type": "function",
            "name": self.name,
            "description": self.description,
            "parameters": self.parameters,
            "async": self.asynchronous,
        });
        if let Some(server) = &self.server_json {
            out["server"] = server.clone();
        }
        out
    }
}

/// A field left out of an import, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SetAside {
    /// The field, as a dotted path in the platform's config.
    pub field: String,
    /// Why it is not part of the tool.
    pub reason: &'static str,
}

impl fmt::Display for SetAside {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` set aside: {}", self.field, self.reason)
    }
}

/// A tool config that cannot be imported, with the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{platform} tool `{field}`: {problem}")]
pub struct ImportError {
    platform: Platform,
    field: String,
    #[source]
    problem: ImportProblem,
}

impl ImportError {
    pub(crate) fn new(
        platform: Platform,
        field: impl Into<String>,
        problem: ImportProblem,
    ) -> Self {
        ImportError {
            platform,
            field: field.into(),
            problem,
        }
    }

    /// The platform the config came from.
    #[must_use]
    pub fn platform(&self) -> Platform {
        self.platform
    }

    /// The field at fault, as a dotted path in the platform's config (`api_schema.url`).
    #[must_use]
    pub fn field(&self) -> &str {
        &self.field
    }

    /// What is wrong with it.
    #[must_use]
    pub fn problem(&self) -> &ImportProblem {
        &self.problem
    }
}

/// Why a field cannot be imported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ImportProblem {
    /// Not the platform's shape: a wrong type, a missing field, a field the importer does not
    /// know (the parser's message).
    #[error("{0}")]
    Invalid(String),
    /// A setting this crate has no equivalent for; the text says what to do instead.
    #[error("cannot be mapped: {0}")]
    Unsupported(String),
    /// A variable with no equivalent here.
    #[error(transparent)]
    Variable(#[from] UnmappedVariable),
    /// A template that does not parse or uses a filter or tag outside the subset.
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// The converted tool is not a valid [`WebhookTool`].
    #[error(transparent)]
    Tool(#[from] ConfigError),
    /// The tool's server is not a valid cascade server.
    #[error(transparent)]
    Server(#[from] CascadeError),
}

// ---------------------------------------------------------------------------------------------
// Shared pieces of the importers

/// Reads `value` as `T`, naming the field of a parse error.
fn parse<T: DeserializeOwned>(platform: Platform, value: Value) -> Result<T, ImportError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." {
            "(root)".to_owned()
        } else {
            path
        };
        ImportError::new(
            platform,
            field,
            ImportProblem::Invalid(e.into_inner().to_string()),
        )
    })
}

fn unsupported(
    platform: Platform,
    field: impl Into<String>,
    what: impl Into<String>,
) -> ImportError {
    ImportError::new(platform, field, ImportProblem::Unsupported(what.into()))
}

/// Our expression for a mapped platform variable.
fn expression(mapped: MappedVariable) -> String {
    match mapped {
        MappedVariable::Var(name) => name,
        MappedVariable::Clock(fmt) => format!("now | date: \"{fmt}\""),
    }
}

/// Rewrites the `{{ ... }}` outputs of a platform template into ours: names in `args` become
/// tool arguments, the rest go through the platform's variable table. Filters are kept and
/// checked when the tool compiles.
fn translate(
    platform: Platform,
    field: &str,
    src: &str,
    args: &BTreeSet<String>,
) -> Result<String, ImportError> {
    if !src.contains("{{") && !src.contains("{%") {
        return Ok(src.to_owned());
    }
    liquid::rewrite(
        src,
        |name| {
            let name = name.trim();
            if args.contains(name) || name.split('.').next().is_some_and(|h| args.contains(h)) {
                return Ok(format!("args.{name}"));
            }
            platform
                .map_variable(name)
                .map(expression)
                .map_err(|e| ImportError::new(platform, field, e.into()))
        },
        |e| ImportError::new(platform, field, e.into()),
    )
}

/// Translates every string leaf of a JSON value.
fn translate_json(
    platform: Platform,
    field: &str,
    value: &Value,
    args: &BTreeSet<String>,
) -> Result<Value, ImportError> {
    Ok(match value {
        Value::String(s) => Value::String(translate(platform, field, s, args)?),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| translate_json(platform, &format!("{field}[{i}]"), v, args))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                out.insert(
                    k.clone(),
                    translate_json(platform, &format!("{field}.{k}"), v, args)?,
                );
            }
            Value::Object(out)
        }
        other => other.clone(),
    })
}

/// The pieces of our tool config an importer fills.
#[derive(Debug, Default)]
struct Draft {
    name: String,
    description: String,
    url: String,
    method: String,
    headers: BTreeMap<String, String>,
    query: BTreeMap<String, String>,
    body: Option<Value>,
    timeout_seconds: Option<u64>,
    defaults: BTreeMap<String, Value>,
    response: BTreeMap<String, String>,
    /// The arguments' JSON Schema, so object and array arguments may fill whole body leaves.
    parameters: Option<Value>,
}

impl Draft {
    /// Builds and checks the [`WebhookTool`]: it must parse and compile (for a phone voice
    /// agent, which has every runtime variable; compiling for a chat or web agent still
    /// refuses phone-only variables).
    fn finish(self, platform: Platform) -> Result<WebhookTool, ImportError> {
        let mut config = serde_json::json!({
            "url": self.url,
            "method": self.method,
        });
        if !self.headers.is_empty() {
            config["headers"] = serde_json::to_value(&self.headers).expect("strings serialize");
        }
        if !self.query.is_empty() {
            config["query"] = serde_json::to_value(&self.query).expect("strings serialize");
        }
        if let Some(body) = self.body {
            config["body"] = body;
        }
        if let Some(t) = self.timeout_seconds {
            config["timeout_seconds"] = t.into();
        }
        if !self.defaults.is_empty() {
            config["defaults"] = serde_json::to_value(&self.defaults).expect("values serialize");
        }
        if !self.response.is_empty() {
            config["response"] = serde_json::to_value(&self.response).expect("strings serialize");
        }
        let mut json = serde_json::json!({
            "name": self.name,
            "description": self.description,
            "config": config,
        });
        if let Some(p) = self.parameters {
            json["parameters"] = p;
        }
        let tool = WebhookTool::from_value(json)
            .map_err(|e| ImportError::new(platform, e.field().to_owned(), e.into()))?;
        if let Err(e) = tool.compile(AgentKind::PhoneVoice) {
            let field = e
                .as_config()
                .map_or_else(|| "(tool)".to_owned(), |c| c.field().to_owned());
            let problem = match e.as_config() {
                Some(c) => ImportProblem::Tool(c.clone()),
                None => ImportProblem::Unsupported(e.to_string()),
            };
            return Err(ImportError::new(platform, field, problem));
        }
        Ok(tool)
    }
}

/// The body template and defaults for a JSON Schema object whose properties the model fills:
/// each property becomes `{{args.NAME}}` (nested objects with `properties` recurse), an
/// optional one defaults to `null`.
fn schema_body(
    prefix: &str,
    schema: &Map<String, Value>,
    defaults: &mut BTreeMap<String, Value>,
) -> Value {
    let required: BTreeSet<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut body = Map::new();
    if let Some(Value::Object(props)) = schema.get("properties") {
        for (name, _) in props {
            let path = format!("{prefix}{name}");
            if !required.contains(name.as_str()) {
                defaults.insert(format!("args.{path}"), Value::Null);
            }
            body.insert(name.clone(), Value::String(format!("{{{{args.{path}}}}}")));
        }
    }
    Value::Object(body)
}

/// The property names of a JSON Schema object.
fn schema_properties(schema: Option<&Value>) -> BTreeSet<String> {
    schema
        .and_then(|s| s.get("properties"))
        .and_then(Value::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

/// A timeout in seconds within 1..=300, from a number of `unit_ms` milliseconds per unit.
fn timeout_seconds(
    platform: Platform,
    field: &str,
    value: f64,
    unit_ms: f64,
) -> Result<u64, ImportError> {
    let ms = value * unit_ms;
    let secs = ms / 1000.0;
    if secs.fract() != 0.0 || !(1.0..=300.0).contains(&secs) {
        return Err(unsupported(
            platform,
            field,
            format!("a timeout of {secs} s: this runtime takes whole seconds from 1 to 300"),
        ));
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok(secs as u64)
}

/// Checks a Vapi-shaped server object for fields [`Server::from_value`] would not carry, then
/// reads it.
fn server(platform: Platform, field: &str, value: &Value) -> Result<Server, ImportError> {
    if let Value::Object(map) = value {
        for (key, v) in map {
            let ok = match key.as_str() {
                "url" | "timeoutSeconds" | "headers" | "credentialId" | "backoffPlan"
                | "secret" => true,
                "staticIpAddressesEnabled" => v == &Value::Bool(false),
                "encryptedPaths" => v.as_array().is_some_and(Vec::is_empty),
                _ => false,
            };
            if !ok {
                return Err(unsupported(
                    platform,
                    format!("{field}.{key}"),
                    match key.as_str() {
                        "staticIpAddressesEnabled" => {
                            "static egress addresses are the host's network setting, not a server's"
                                .to_owned()
                        }
                        "encryptedPaths" => {
                            "body encryption with a credential's key is not supported".to_owned()
                        }
                        _ => "not a server setting this runtime knows".to_owned(),
                    },
                ));
            }
        }
    }
    Server::from_value(value.clone()).map_err(|e| {
        let inner = e.field().to_owned();
        ImportError::new(platform, format!("{field}.{inner}"), e.into())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translate_maps_names_and_arguments() {
        let args: BTreeSet<String> = ["order".to_owned()].into();
        let out = translate(
            Platform::Vapi,
            "url",
            "/o/{{order}}/{{ customer.number | default: 'x' }}/{{year}}",
            &args,
        )
        .unwrap();
        assert_eq!(
            out,
            "/o/{{ args.order }}/{{ caller_phone | default: 'x' }}/{{ now | date: \"%Y\" }}"
        );
        let err = translate(Platform::Vapi, "url", "{{ nope }}", &args).unwrap_err();
        assert_eq!(err.field(), "url");
        assert!(matches!(err.problem(), ImportProblem::Variable(_)));
    }
}
