//! Answers to the events that expect one, parsed leniently where receivers commonly deviate.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::body::ToolCalls;

/// A response body that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResponseError {
    /// Not JSON (the parser's message).
    #[error("response body is not JSON: {0}")]
    NotJson(String),
    /// A field has the wrong type.
    #[error("response field `{path}`: {message}")]
    Invalid {
        /// Dotted path of the field (`results[0].toolCallId`).
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A required field is missing.
    #[error("response field `{0}` is required")]
    Missing(String),
    /// A tool result names a `toolCallId` the request did not contain.
    #[error("response names toolCallId `{0}`, which is not in the request's toolCallList")]
    UnknownToolCall(String),
    /// The response answers nothing (an assistant-request response with no assistant,
    /// squad, workflow, destination or error).
    #[error("{event_type} response must contain one of {expected}")]
    NoAnswer {
        /// The event type answered.
        event_type: &'static str,
        /// The fields one of which is required.
        expected: &'static str,
    },
}

fn parse_object(body: &[u8]) -> Result<Map<String, Value>, ResponseError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ResponseError::Invalid {
            path: ".".into(),
            message: "must be a JSON object".into(),
        }),
        Err(e) => Err(ResponseError::NotJson(e.to_string())),
    }
}

fn typed<T: serde::de::DeserializeOwned>(map: Map<String, Value>) -> Result<T, ResponseError> {
    serde_path_to_error::deserialize(Value::Object(map)).map_err(|e| ResponseError::Invalid {
        path: e.path().to_string(),
        message: e.inner().to_string(),
    })
}

/// The typed answer read straight from the bytes (one pass, no intermediate map); on any
/// error, the two-step parse, whose error says precisely what is wrong (not JSON, or which
/// field). Both accept and build the same values.
fn parse_typed<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ResponseError> {
    if body.trim_ascii_start().first() == Some(&b'{') {
        if let Ok(value) = serde_json::from_slice::<T>(body) {
            return Ok(value);
        }
    }
    typed(parse_object(body)?)
}

/// A string field that receivers often send as another JSON value: strings stay, `null`
/// is absent, anything else becomes its JSON text.
fn lenient_text(value: Option<Value>) -> Option<String> {
    match value? {
        Value::Null => None,
        Value::String(s) => Some(s),
        other => Some(other.to_string()),
    }
}

/// One tool result: `{"toolCallId", "name", "result" | "error"}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ToolCallResult {
    /// The `id` of the call answered.
    pub tool_call_id: String,
    /// The tool's name.
    pub name: String,
    /// The result for the model, a string.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    /// The error for the model, a string.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Every other field (`message`, `metadata`), kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ToolCallResult {
    /// A successful result.
    #[must_use]
    pub fn ok(
        tool_call_id: impl Into<String>,
        name: impl Into<String>,
        result: impl Into<String>,
    ) -> Self {
        ToolCallResult {
            tool_call_id: tool_call_id.into(),
            name: name.into(),
            result: Some(result.into()),
            error: None,
            extra: Map::new(),
        }
    }

    /// A failed call.
    #[must_use]
    pub fn err(
        tool_call_id: impl Into<String>,
        name: impl Into<String>,
        error: impl Into<String>,
    ) -> Self {
        ToolCallResult {
            tool_call_id: tool_call_id.into(),
            name: name.into(),
            result: None,
            error: Some(error.into()),
            extra: Map::new(),
        }
    }
}

/// The answer to `tool-calls`: `{"results": [...]}` (or a top-level `error`).
///
/// ```
/// use agent_webhooks::event::{ToolCall, ToolCalls, ToolCallsResponse};
/// let request = ToolCalls::new([ToolCall::new("call_1", "lookup", "{}")]);
/// // A common deviation: an object result and no name.
/// let r = ToolCallsResponse::parse(br#"{"results":[{"toolCallId":"call_1","result":{"ok":true}}]}"#, &request)?;
/// assert_eq!(r.results[0].name, "lookup");
/// assert_eq!(r.results[0].result.as_deref(), Some(r#"{"ok":true}"#));
/// # Ok::<(), agent_webhooks::event::ResponseError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ToolCallsResponse {
    /// One result per call answered.
    pub results: Vec<ToolCallResult>,
    /// An error for the whole batch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Every other field, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ToolCallsResponse {
    /// A response with these results.
    #[must_use]
    pub fn new(results: Vec<ToolCallResult>) -> Self {
        ToolCallsResponse {
            results,
            ..Self::default()
        }
    }

    /// Parses the server's answer to `request`, leniently: a `result` or `error` that is not
    /// a string becomes its JSON text, and a missing `name` is taken from the call with that
    /// `toolCallId`.
    ///
    /// # Errors
    /// [`ResponseError::NotJson`]; [`ResponseError::Missing`] without `results` (and without
    /// a top-level `error`) or without a `toolCallId`; [`ResponseError::UnknownToolCall`] for a
    /// `toolCallId` the request does not contain; [`ResponseError::Invalid`] for a wrong type.
    pub fn parse(body: &[u8], request: &ToolCalls) -> Result<Self, ResponseError> {
        let mut map = parse_object(body)?;
        let error = lenient_text(map.remove("error"));
        let raw = match map.remove("results") {
            None | Some(Value::Null) if error.is_some() => Vec::new(),
            None | Some(Value::Null) => return Err(ResponseError::Missing("results".into())),
            Some(Value::Array(items)) => items,
            Some(_) => {
                return Err(ResponseError::Invalid {
                    path: "results".into(),
                    message: "must be an array".into(),
                });
            }
        };
        let mut results = Vec::with_capacity(raw.len());
        for (i, item) in raw.into_iter().enumerate() {
            let Value::Object(mut item) = item else {
                return Err(ResponseError::Invalid {
                    path: format!("results[{i}]"),
                    message: "must be an object".into(),
                });
            };
            let id = match item.remove("toolCallId") {
                Some(Value::String(id)) => id,
                Some(_) => {
                    return Err(ResponseError::Invalid {
                        path: format!("results[{i}].toolCallId"),
                        message: "must be a string".into(),
                    });
                }
                None => return Err(ResponseError::Missing(format!("results[{i}].toolCallId"))),
            };
            let call = request
                .tool_call_list
                .iter()
                .find(|c| c.id == id)
                .ok_or_else(|| ResponseError::UnknownToolCall(id.clone()))?;
            let name = match item.remove("name") {
                Some(Value::String(name)) => name,
                None | Some(Value::Null) => call.function.name.clone(),
                Some(_) => {
                    return Err(ResponseError::Invalid {
                        path: format!("results[{i}].name"),
                        message: "must be a string".into(),
                    });
                }
            };
            results.push(ToolCallResult {
                tool_call_id: id,
                name,
                result: lenient_text(item.remove("result")),
                error: lenient_text(item.remove("error")),
                extra: item,
            });
        }
        Ok(ToolCallsResponse {
            results,
            error,
            extra: map,
        })
    }
}

/// The answer to `assistant-request`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct AssistantRequestResponse {
    /// A saved assistant to use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assistant_id: Option<String>,
    /// A transient assistant to use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assistant: Option<Value>,
    /// A saved squad to use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub squad_id: Option<String>,
    /// A transient squad to use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub squad: Option<Value>,
    /// A saved workflow to use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_id: Option<String>,
    /// A transient workflow to use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow: Option<Value>,
    /// Transfer the call there at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<Value>,
    /// Say this to the caller and end the call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Every other field (`assistantOverrides`, ...), kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// What an [`AssistantRequestResponse`] decides, in Vapi's precedence.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum AssistantDecision<'a> {
    /// `error`: say it and end the call (wins over everything).
    Reject(&'a str),
    /// `destination`: transfer at once (wins over an assistant).
    Transfer(&'a Value),
    /// `assistantId`.
    AssistantId(&'a str),
    /// `assistant`.
    Assistant(&'a Value),
    /// `squadId`.
    SquadId(&'a str),
    /// `squad`.
    Squad(&'a Value),
    /// `workflowId`.
    WorkflowId(&'a str),
    /// `workflow`.
    Workflow(&'a Value),
}

fn present(o: Option<&Value>) -> Option<&Value> {
    o.filter(|v| !v.is_null())
}

impl AssistantRequestResponse {
    /// Parses the answer.
    ///
    /// # Errors
    /// [`ResponseError::NotJson`], [`ResponseError::Invalid`], or
    /// [`ResponseError::NoAnswer`] when it names nothing to do.
    pub fn parse(body: &[u8]) -> Result<Self, ResponseError> {
        let r: Self = parse_typed(body)?;
        r.decision().ok_or(ResponseError::NoAnswer {
            event_type: "assistant-request",
            expected: "assistantId, assistant, squadId, squad, workflowId, workflow, destination, error",
        })?;
        Ok(r)
    }

    /// What to do: `error` first, then `destination`, then the assistant, squad or workflow.
    #[must_use]
    pub fn decision(&self) -> Option<AssistantDecision<'_>> {
        use AssistantDecision as D;
        if let Some(e) = &self.error {
            return Some(D::Reject(e));
        }
        if let Some(d) = present(self.destination.as_ref()) {
            return Some(D::Transfer(d));
        }
        self.assistant_id
            .as_deref()
            .map(D::AssistantId)
            .or_else(|| present(self.assistant.as_ref()).map(D::Assistant))
            .or_else(|| self.squad_id.as_deref().map(D::SquadId))
            .or_else(|| present(self.squad.as_ref()).map(D::Squad))
            .or_else(|| self.workflow_id.as_deref().map(D::WorkflowId))
            .or_else(|| present(self.workflow.as_ref()).map(D::Workflow))
    }
}

/// The answer to `transfer-destination-request`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TransferDestinationResponse {
    /// Where to transfer (a number, SIP URI or assistant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<Value>,
    /// What to say first, `{"type": "request-start", "content": ...}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Value>,
    /// Why the transfer cannot happen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Every other field, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl TransferDestinationResponse {
    /// Parses the answer, leniently: `message.message` (as one docs page spells it) is read as
    /// the schema's `message.content`.
    ///
    /// # Errors
    /// [`ResponseError::NotJson`], [`ResponseError::Invalid`], or
    /// [`ResponseError::NoAnswer`] with neither `destination` nor `error`.
    pub fn parse(body: &[u8]) -> Result<Self, ResponseError> {
        let mut r: Self = parse_typed(body)?;
        if let Some(Value::Object(m)) = &mut r.message {
            if !m.contains_key("content") {
                if let Some(text) = m.remove("message") {
                    m.insert("content".into(), text);
                }
            }
        }
        if r.destination.as_ref().is_none_or(Value::is_null) && r.error.is_none() {
            return Err(ResponseError::NoAnswer {
                event_type: "transfer-destination-request",
                expected: "destination, error",
            });
        }
        Ok(r)
    }
}

/// A document a custom knowledge base returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct KnowledgeDocument {
    /// The text.
    pub content: String,
    /// How close it is to the question, 0 to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub similarity: Option<f64>,
    /// Its id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    /// Every other field, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The answer to `knowledge-base-request`: documents, or a message to use as is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct KnowledgeBaseResponse {
    /// The documents found (may be empty).
    #[serde(default)]
    pub documents: Vec<KnowledgeDocument>,
    /// A message to use instead of generating one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Value>,
    /// Every other field, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl KnowledgeBaseResponse {
    /// Parses the answer.
    ///
    /// # Errors
    /// [`ResponseError::NotJson`], [`ResponseError::Invalid`], or
    /// [`ResponseError::NoAnswer`] with neither `documents` nor `message`.
    pub fn parse(body: &[u8]) -> Result<Self, ResponseError> {
        let map = parse_object(body)?;
        if !map.contains_key("documents") && !map.contains_key("message") {
            return Err(ResponseError::NoAnswer {
                event_type: "knowledge-base-request",
                expected: "documents, message",
            });
        }
        typed(map)
    }
}

/// The answer to `call.endpointing.request`: how long to wait, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct EndpointingResponse {
    /// Seconds to wait before the assistant speaks; finite and not negative.
    pub timeout_seconds: f64,
}

impl EndpointingResponse {
    /// Parses the answer, leniently: a numeric string (`"1.5"`) is read as its number.
    ///
    /// # Errors
    /// [`ResponseError::NotJson`], [`ResponseError::Missing`] without `timeoutSeconds`,
    /// [`ResponseError::Invalid`] when it is not a finite number of seconds `>= 0`.
    pub fn parse(body: &[u8]) -> Result<Self, ResponseError> {
        let mut map = parse_object(body)?;
        let seconds = match map.remove("timeoutSeconds") {
            None | Some(Value::Null) => {
                return Err(ResponseError::Missing("timeoutSeconds".into()));
            }
            Some(Value::Number(n)) => n.as_f64(),
            Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
            Some(_) => None,
        };
        match seconds {
            Some(s) if s.is_finite() && s >= 0.0 => Ok(EndpointingResponse { timeout_seconds: s }),
            _ => Err(ResponseError::Invalid {
                path: "timeoutSeconds".into(),
                message: "must be a finite number of seconds >= 0".into(),
            }),
        }
    }
}
