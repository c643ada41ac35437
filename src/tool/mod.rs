//! Webhook tools: the config users write, compiled once per agent kind, prepared per call.
//!
//! A [`WebhookTool`] is the JSON config (name, description, `config.url/method/headers/body`);
//! [`WebhookTool::compile`] checks it for an [`AgentKind`] into a
//! [`CompiledTool`], whose [`CompiledTool::prepare`] renders a guard-checked
//! [`PreparedRequest`] per call. The endpoint's answer becomes a [`ToolResult`] for the model;
//! [`ToolRunner`] does the whole call over any transport and never fails (a [`ToolOutcome`]
//! keeps the reason when it could not get an answer).

mod execute;
mod permits;
mod result;

pub use execute::{
    DEFAULT_CALL_CONCURRENCY, DEFAULT_RUNTIME_CONCURRENCY, FunctionTools, ToolInvocation,
    ToolOutcome, ToolRunner, Turn,
};
pub use result::{DEFAULT_RESULT_LIMIT, ToolFailure, ToolResult};

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::Result;
use crate::guard::{Origin, Policy, is_forbidden_header, is_sensitive_header};
use crate::template::{
    self, BodyTemplate, Defaults, HeaderTemplate, Part, TemplateError, UrlTemplate,
};
use crate::vars::{AgentKind, Vars};

/// The default request timeout of a tool, in seconds.
pub const DEFAULT_TIMEOUT_SECONDS: u16 = 20;
/// The longest request timeout a tool may set, in seconds.
pub const MAX_TIMEOUT_SECONDS: u16 = 300;

/// The HTTP methods a webhook tool may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
#[non_exhaustive]
pub enum Method {
    /// `GET`
    Get,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `PATCH`
    Patch,
    /// `DELETE`
    Delete,
}

impl Method {
    /// The method as `http` knows it.
    #[must_use]
    pub fn to_http(self) -> http::Method {
        match self {
            Method::Get => http::Method::GET,
            Method::Post => http::Method::POST,
            Method::Put => http::Method::PUT,
            Method::Patch => http::Method::PATCH,
            Method::Delete => http::Method::DELETE,
        }
    }

    fn from_name(name: &str) -> Option<Method> {
        Some(match name.to_ascii_uppercase().as_str() {
            "GET" => Method::Get,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "PATCH" => Method::Patch,
            "DELETE" => Method::Delete,
            _ => return None,
        })
    }
}

/// A webhook tool as users write it.
///
/// ```
/// use agent_webhooks::WebhookTool;
/// let tool = WebhookTool::from_json(r#"{
///   "name": "lookup_customer",
///   "description": "Look up customer by phone number",
///   "config": { "url": "https://api.example.com/customers/{{caller_phone}}", "method": "GET",
///               "headers": { "Authorization": "Bearer YOUR_KEY", "X-Call-ID": "{{call_sid}}" } } }"#)?;
/// assert_eq!(tool.name, "lookup_customer");
/// # Ok::<(), agent_webhooks::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct WebhookTool {
    /// The function name the model calls: 1 to 64 of `a-z A-Z 0-9 _ -`.
    pub name: String,
    /// What the tool does, for the model.
    pub description: String,
    /// The arguments' JSON Schema, as function calling declares it (`{"type": "object",
    /// "properties": {"filter": {"type": "object"}}}`), if given. The crate reads one thing
    /// from it: which arguments are objects or arrays. Only those may fill a whole-value body
    /// leaf (`"filter": "{{args.filter}}"`) with an object or array; every other
    /// model-provided value there must be a string, number, boolean or null.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    /// The request to make.
    pub config: ToolConfig,
}

/// The request a webhook tool makes.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ToolConfig {
    /// The URL template; variables only in the path and query.
    pub url: String,
    /// The HTTP method.
    pub method: Method,
    /// Header name to value template; secrets (`{{secrets.NAME}}`) are allowed here only.
    pub headers: BTreeMap<String, String>,
    /// Query parameters appended to the URL: name to value template.
    pub query: BTreeMap<String, String>,
    /// The JSON body template, if any: string leaves are templates.
    pub body: Option<Value>,
    /// The request timeout, 1 to 300 seconds.
    pub timeout_seconds: u16,
    /// Values used when a call lacks a variable (caller number withheld): variable name to
    /// JSON value. Without a default a missing value is a [`RenderError::Missing`].
    ///
    /// [`RenderError::Missing`]: crate::RenderError::Missing
    pub defaults: BTreeMap<String, Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTool {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    parameters: Option<Value>,
    config: RawConfig,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    url: String,
    #[serde(default = "default_method")]
    method: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    query: BTreeMap<String, String>,
    #[serde(default)]
    body: Option<Value>,
    /// `timeoutSeconds` (the server config's spelling, Vapi's) is accepted too.
    #[serde(default, alias = "timeoutSeconds")]
    timeout_seconds: Option<u64>,
    #[serde(default)]
    defaults: BTreeMap<String, Value>,
}

fn default_method() -> String {
    "POST".to_owned()
}

/// A tool config that cannot be used, with the field at fault (`config.method`,
/// `config.headers.X-Id`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("tool config `{field}`: {problem}")]
pub struct ConfigError {
    field: String,
    problem: ConfigProblem,
}

impl ConfigError {
    pub(crate) fn new(field: impl Into<String>, problem: ConfigProblem) -> Self {
        ConfigError {
            field: field.into(),
            problem,
        }
    }

    /// The field at fault, as a dotted path (`config.timeout_seconds`).
    #[must_use]
    pub fn field(&self) -> &str {
        &self.field
    }

    /// What is wrong with it.
    #[must_use]
    pub fn problem(&self) -> &ConfigProblem {
        &self.problem
    }
}

/// What is wrong with a tool-config field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigProblem {
    /// Not valid JSON, a wrong type, a missing or an unknown field (the parser's message).
    #[error("{0}")]
    Invalid(String),
    /// A method other than GET, POST, PUT, PATCH and DELETE.
    #[error("unknown method `{0}`, expected GET, POST, PUT, PATCH or DELETE")]
    UnknownMethod(String),
    /// A tool name outside 1 to 64 of `a-z A-Z 0-9 _ -`.
    #[error("`{0}` is not a tool name: use 1 to 64 letters, digits, `_` or `-`")]
    Name(String),
    /// A timeout outside 1..=300 seconds.
    #[error("timeout {0} s is out of range 1..=300")]
    Timeout(u64),
    /// A header name that is not a valid HTTP token.
    #[error("`{0}` is not a valid header name")]
    HeaderName(String),
    /// A header the HTTP client owns (`Host`, `Content-Length`, hop-by-hop headers).
    #[error("header `{0}` is set by the HTTP client and may not be configured")]
    ForbiddenHeader(String),
    /// A literal header value with a byte a header may not carry.
    #[error("header value contains a control character")]
    HeaderValue,
    /// A URL that does not parse, is not http(s) or would never be sent as written.
    #[error("{0}")]
    Url(String),
    /// A template that does not compile.
    #[error(transparent)]
    Template(#[from] TemplateError),
}

impl WebhookTool {
    /// Parses and validates a tool config from JSON text.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the field: bad JSON, unknown fields, an unknown method, a bad
    /// name, header name or timeout.
    pub fn from_json(json: &str) -> Result<Self, ConfigError> {
        let de = &mut serde_json::Deserializer::from_str(json);
        let raw: RawTool = serde_path_to_error::deserialize(de).map_err(path_error)?;
        Self::from_raw(raw)
    }

    /// Parses and validates a tool config from a JSON value.
    ///
    /// # Errors
    /// As [`WebhookTool::from_json`], and [`TemplateError::TooDeep`] for a value nested
    /// deeper than [`MAX_JSON_DEPTH`](crate::template::MAX_JSON_DEPTH) (plus the config's own
    /// few levels).
    pub fn from_value(value: Value) -> Result<Self, ConfigError> {
        // Deserializing walks the value recursively: refuse host-built nesting that could
        // exhaust the stack before serde sees it (a parsed JSON text never gets this deep).
        if template::exceeds_depth(&value, template::MAX_JSON_DEPTH + 8) {
            template::drop_deep(value);
            return Err(ConfigError::new(
                "(root)",
                ConfigProblem::Template(TemplateError::TooDeep {
                    limit: template::MAX_JSON_DEPTH,
                }),
            ));
        }
        let raw: RawTool = serde_path_to_error::deserialize(value).map_err(path_error)?;
        Self::from_raw(raw)
    }

    fn from_raw(raw: RawTool) -> Result<Self, ConfigError> {
        let name_ok = (1..=64).contains(&raw.name.len())
            && raw
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !name_ok {
            return Err(ConfigError::new("name", ConfigProblem::Name(raw.name)));
        }
        let c = raw.config;
        let method = Method::from_name(&c.method).ok_or_else(|| {
            ConfigError::new(
                "config.method",
                ConfigProblem::UnknownMethod(c.method.clone()),
            )
        })?;
        let timeout = c
            .timeout_seconds
            .unwrap_or(u64::from(DEFAULT_TIMEOUT_SECONDS));
        if !(1..=u64::from(MAX_TIMEOUT_SECONDS)).contains(&timeout) {
            return Err(ConfigError::new(
                "config.timeout_seconds",
                ConfigProblem::Timeout(timeout),
            ));
        }
        for name in c.headers.keys() {
            let field = || format!("config.headers.{name}");
            if HeaderName::from_bytes(name.as_bytes()).is_err() {
                return Err(ConfigError::new(
                    field(),
                    ConfigProblem::HeaderName(name.clone()),
                ));
            }
            if is_forbidden_header(name) {
                return Err(ConfigError::new(
                    field(),
                    ConfigProblem::ForbiddenHeader(name.clone()),
                ));
            }
        }
        if let Some(p) = &raw.parameters {
            if !p.is_object() {
                return Err(ConfigError::new(
                    "parameters",
                    ConfigProblem::Invalid("a JSON Schema object is expected".into()),
                ));
            }
            if template::exceeds_depth(p, template::MAX_JSON_DEPTH) {
                return Err(ConfigError::new(
                    "parameters",
                    ConfigProblem::Template(TemplateError::TooDeep {
                        limit: template::MAX_JSON_DEPTH,
                    }),
                ));
            }
        }
        Ok(WebhookTool {
            name: raw.name,
            description: raw.description,
            parameters: raw.parameters,
            config: ToolConfig {
                url: c.url,
                method,
                headers: c.headers,
                query: c.query,
                body: c.body,
                timeout_seconds: u16::try_from(timeout).expect("checked range"),
                defaults: c.defaults,
            },
        })
    }

    /// Compiles the tool for agents of `kind`: every template is parsed, every variable checked
    /// against what the kind has, the URL's shape fixed.
    ///
    /// # Errors
    /// A [`ConfigError`] (kind [`ErrorKind::Config`](crate::ErrorKind::Config)) naming the
    /// field: a template error, a variable the kind lacks, a secret outside a header, a URL
    /// that is not http(s) or has variables in its host.
    pub fn compile(&self, kind: AgentKind) -> Result<CompiledTool> {
        Ok(self.compile_config(kind)?)
    }

    fn compile_config(&self, kind: AgentKind) -> Result<CompiledTool, ConfigError> {
        let c = &self.config;
        let defaults: &Defaults = &c.defaults;
        for name in defaults.keys() {
            let var = template::resolve_name(name, kind)
                .map_err(|e| ConfigError::new(format!("config.defaults.{name}"), e.into()))?;
            if matches!(var, template::VarRef::Secret(_)) {
                return Err(ConfigError::new(
                    format!("config.defaults.{name}"),
                    ConfigProblem::Invalid("secrets cannot have defaults".into()),
                ));
            }
        }
        let mut query = Vec::with_capacity(c.query.len());
        for (key, value) in &c.query {
            let parts = template::parse(value, kind, defaults)
                .map_err(|e| ConfigError::new(format!("config.query.{key}"), e.into()))?;
            query.push((key.clone(), parts));
        }
        let url = UrlTemplate::compile_with(&c.url, kind, defaults, &query)
            .map_err(|e| ConfigError::new("config.url", e.into()))?;
        let sample = url.sample();
        check_url_shape(&sample).map_err(|p| ConfigError::new("config.url", p))?;
        if url.has_dot_segment(&sample) {
            return Err(ConfigError::new(
                "config.url",
                ConfigProblem::Url("`.` or `..` path segment".into()),
            ));
        }

        let mut headers = Vec::with_capacity(c.headers.len());
        let mut dropped = Vec::new();
        let mut has_content_type = false;
        for (name, value) in &c.headers {
            let field = || format!("config.headers.{name}");
            let header = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| ConfigError::new(field(), ConfigProblem::HeaderName(name.clone())))?;
            has_content_type |= header == CONTENT_TYPE;
            let parts = template::parse(value, kind, defaults)
                .map_err(|e| ConfigError::new(field(), e.into()))?;
            // A sensitive name makes the value sensitive whatever its source: a credential
            // written literally (`Authorization: Bearer sk_...`) is as secret as a
            // `{{secrets.*}}` one, and is hidden from Debug, `to_json` and redirects alike.
            let sensitive_name = is_sensitive_header(name);
            let value = match parts.as_slice() {
                [] => HeaderSource::Static(HeaderValue::from_static("")),
                [Part::Lit(lit)] => {
                    let mut value = HeaderValue::from_str(lit)
                        .map_err(|_| ConfigError::new(field(), ConfigProblem::HeaderValue))?;
                    value.set_sensitive(sensitive_name);
                    HeaderSource::Static(value)
                }
                _ => {
                    let model = parts
                        .iter()
                        .any(|p| matches!(p, Part::Slot(s) if s.is_model_provided()));
                    if model && sensitive_name {
                        dropped.push(header);
                        continue;
                    }
                    let secret = sensitive_name
                        || parts
                            .iter()
                            .any(|p| matches!(p, Part::Slot(s) if s.is_secret()));
                    HeaderSource::Template {
                        template: HeaderTemplate::new(parts),
                        secret,
                    }
                }
            };
            headers.push((header, value));
        }
        let body = match &c.body {
            Some(body) => Some(
                BodyTemplate::compile_with(body, kind, defaults, &self.structured_args())
                    .map_err(|e| ConfigError::new("config.body", e.into()))?,
            ),
            None => None,
        };
        Ok(CompiledTool {
            name: self.name.clone(),
            kind,
            method: c.method.to_http(),
            url,
            headers,
            content_type: body.is_some() && !has_content_type,
            body,
            timeout: Duration::from_secs(u64::from(c.timeout_seconds)),
            dropped,
        })
    }
}

impl WebhookTool {
    /// The argument paths (`args.filter`, `args.order.items`) the `parameters` schema
    /// declares as objects or arrays (`"type": "object"`, `"array"`, or a list holding one),
    /// following nested `properties`. Bounded by [`template::MAX_JSON_DEPTH`] (checked when
    /// the tool was read).
    fn structured_args(&self) -> template::Structured {
        fn is_structured(schema: &Value) -> bool {
            let structured = |t: &Value| matches!(t.as_str(), Some("object" | "array"));
            match schema.get("type") {
                Some(Value::Array(types)) => types.iter().any(structured),
                Some(t) => structured(t),
                None => false,
            }
        }
        let mut out = template::Structured::new();
        let mut stack: Vec<(String, &Value)> = Vec::new();
        if let Some(params) = &self.parameters {
            stack.push(("args".to_owned(), params));
        }
        while let Some((prefix, schema)) = stack.pop() {
            let Some(props) = schema.get("properties").and_then(Value::as_object) else {
                continue;
            };
            for (name, prop) in props {
                let path = format!("{prefix}.{name}");
                if is_structured(prop) {
                    out.insert(path.clone());
                }
                stack.push((path, prop));
            }
        }
        out
    }
}

fn path_error(e: serde_path_to_error::Error<serde_json::Error>) -> ConfigError {
    let path = e.path().to_string();
    let field = if path == "." {
        "(root)".to_owned()
    } else {
        path
    };
    ConfigError::new(field, ConfigProblem::Invalid(e.into_inner().to_string()))
}

/// Checks what a URL template renders to with every slot filled: it parses, it is http(s),
/// it has no credentials and no dot segments.
fn check_url_shape(sample: &str) -> Result<(), ConfigProblem> {
    let url = url::Url::parse(sample).map_err(|e| ConfigProblem::Url(format!("not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ConfigProblem::Url(format!(
            "scheme `{}` is not http or https",
            url.scheme()
        )));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ConfigProblem::Url("credentials in the URL".into()));
    }
    Ok(())
}

impl<'de> Deserialize<'de> for WebhookTool {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = RawTool::deserialize(d)?;
        WebhookTool::from_raw(raw).map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone)]
enum HeaderSource {
    Static(HeaderValue),
    Template {
        template: HeaderTemplate,
        secret: bool,
    },
}

/// A tool compiled for one agent kind: ready to prepare a request per call.
#[derive(Debug, Clone)]
pub struct CompiledTool {
    name: String,
    kind: AgentKind,
    method: http::Method,
    url: UrlTemplate,
    headers: Vec<(HeaderName, HeaderSource)>,
    body: Option<BodyTemplate>,
    content_type: bool,
    timeout: Duration,
    dropped: Vec<HeaderName>,
}

impl CompiledTool {
    /// The tool's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The agent kind this was compiled for.
    #[must_use]
    pub fn kind(&self) -> AgentKind {
        self.kind
    }

    /// The request timeout.
    #[must_use]
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The headers that every prepared request leaves out: sensitive names whose value a
    /// model-provided argument would set.
    #[must_use]
    pub fn dropped_headers(&self) -> &[HeaderName] {
        &self.dropped
    }

    /// The URL template.
    #[must_use]
    pub fn url_template(&self) -> &UrlTemplate {
        &self.url
    }

    /// The names of every variable the tool uses, in order of appearance.
    pub fn variables(&self) -> impl Iterator<Item = &str> {
        let headers = self.headers.iter().flat_map(|(_, h)| match h {
            HeaderSource::Template { template, .. } => template.parts(),
            HeaderSource::Static(_) => &[],
        });
        self.url
            .slots()
            .map(|s| &*s.name)
            .chain(headers.filter_map(|p| match p {
                Part::Slot(s) => Some(&*s.name),
                Part::Lit(_) => None,
            }))
            .chain(self.body.iter().flat_map(|b| b.slots().map(|s| &*s.name)))
    }

    /// Renders the request for one call and checks its URL with the guard.
    ///
    /// A webhook tool's scheme, host and port are fixed in its config (variables may fill only
    /// the path and query), so the URL is checked as operator-configured
    /// ([`Origin::Operator`]): scheme, credentials, special-purpose addresses, local names,
    /// ports. The transport still checks what the name resolves to before it connects.
    ///
    /// # Errors
    /// A [`RenderError`](crate::RenderError) (kind [`ErrorKind::Render`](crate::ErrorKind::Render))
    /// when a value is missing, does not fit its place, or a header value would carry CR, LF
    /// or another control byte; a [`Rejection`](crate::Rejection) (kind
    /// [`ErrorKind::Guard`](crate::ErrorKind::Guard)) when the policy refuses the URL.
    pub fn prepare(&self, vars: &Vars, policy: &Policy) -> Result<PreparedRequest> {
        let url = self.url.render_url(vars)?;
        policy.check_url(&url, Origin::Operator)?;
        let uri = http::Uri::try_from(url.as_str()).map_err(|e| template::RenderError::Url {
            message: e.to_string(),
        })?;
        let body = match &self.body {
            Some(b) => b.render(vars)?,
            None => Vec::new(),
        };
        let mut request = http::Request::new(body);
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = uri;
        let headers = request.headers_mut();
        headers.reserve(self.headers.len() + 1);
        for (name, source) in &self.headers {
            let value = match source {
                HeaderSource::Static(v) => v.clone(),
                HeaderSource::Template { template, secret } => {
                    let text = template.render(name.as_str(), vars)?;
                    let mut value = HeaderValue::try_from(text).map_err(|_| {
                        template::RenderError::HeaderValue {
                            header: name.to_string(),
                            byte: 0x7f,
                        }
                    })?;
                    value.set_sensitive(*secret);
                    value
                }
            };
            headers.append(name.clone(), value);
        }
        if self.content_type {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        Ok(PreparedRequest {
            request,
            url,
            timeout: self.timeout,
            dropped_headers: self.dropped.clone(),
        })
    }
}

/// A request ready to send: the `http::Request`, its URL parsed once, the timeout and the
/// headers left out for safety. A header value is marked sensitive when it carries a tenant
/// secret or its name is sensitive ([`is_sensitive_header`]), whatever its source (a literal
/// `Authorization: Bearer sk_...` too); `Debug` prints such values as `Sensitive`, and
/// [`PreparedRequest::to_json`] as `[redacted]`.
#[derive(Debug)]
pub struct PreparedRequest {
    request: http::Request<Vec<u8>>,
    url: url::Url,
    timeout: Duration,
    dropped_headers: Vec<HeaderName>,
}

impl PreparedRequest {
    /// The request.
    #[must_use]
    pub fn request(&self) -> &http::Request<Vec<u8>> {
        &self.request
    }

    /// Takes the request out.
    #[must_use]
    pub fn into_request(self) -> http::Request<Vec<u8>> {
        self.request
    }

    /// The URL, parsed once by the `url` crate.
    #[must_use]
    pub fn url(&self) -> &url::Url {
        &self.url
    }

    /// The request timeout.
    #[must_use]
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Headers of the config that were left out because a model-provided value would have set
    /// a sensitive header.
    #[must_use]
    pub fn dropped_headers(&self) -> &[HeaderName] {
        &self.dropped_headers
    }

    /// A JSON view for logs and the CLI: `method`, `url`, `headers` (sensitive values shown as
    /// `[redacted]`), `body` (JSON or null) and `dropped_headers`.
    #[must_use]
    pub fn to_json(&self) -> Value {
        let mut headers = serde_json::Map::new();
        for (name, value) in self.request.headers() {
            let shown = if value.is_sensitive() {
                "[redacted]".to_owned()
            } else {
                String::from_utf8_lossy(value.as_bytes()).into_owned()
            };
            headers.insert(name.to_string(), Value::String(shown));
        }
        let body = if self.request.body().is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(self.request.body()).unwrap_or(Value::Null)
        };
        serde_json::json!({
            "method": self.request.method().as_str(),
            "url": self.url.as_str(),
            "headers": headers,
            "body": body,
            "dropped_headers": self.dropped_headers.iter().map(HeaderName::as_str).collect::<Vec<_>>(),
        })
    }
}

impl fmt::Display for PreparedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.request.method(), self.url)
    }
}
