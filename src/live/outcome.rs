//! What a live exchange gives the runtime: an [`Answer`], or a [`Failure`] with its stable
//! [`Reason`] and the [`Fallback`] the runtime should carry out.

use std::fmt;
use std::time::Duration;

use serde_json::{Value, json};

use crate::event::{
    AssistantRequestResponse, EndpointingResponse, EventType, KnowledgeBaseResponse,
    ToolCallResult, ToolCalls, ToolCallsResponse, TransferDestinationResponse,
};
use crate::outbox::JobId;

/// The sentence a function tool's model gets when its server failed and the tool configures no
/// `request-failed` message: short, neutral, and never what the server said.
pub const TOOL_FAILED_SENTENCE: &str = "The tool could not be completed right now.";

/// Why a live exchange failed: a stable code operators can count and runtimes can match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// No server is configured for the event (or the event is not subscribed).
    NoTarget,
    /// The guard refused the URL, a resolved address or a redirect hop; nothing left.
    Refused,
    /// No complete answer within the exchange's budget.
    Timeout,
    /// The connection could not be made or broke before an answer.
    ConnectError,
    /// The server answered with a non-2xx status.
    HttpStatus,
    /// The answer cannot be used: not the event's response shape, or a `toolCallId` the
    /// request did not contain.
    InvalidResponse,
    /// The answer was larger than the limit.
    TooLarge,
}

impl Reason {
    /// Every reason.
    pub const ALL: [Reason; 7] = [
        Reason::NoTarget,
        Reason::Refused,
        Reason::Timeout,
        Reason::ConnectError,
        Reason::HttpStatus,
        Reason::InvalidResponse,
        Reason::TooLarge,
    ];

    /// The stable code: `no_target`, `refused`, `timeout`, `connect_error`, `http_status`,
    /// `invalid_response`, `too_large`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::NoTarget => "no_target",
            Reason::Refused => "refused",
            Reason::Timeout => "timeout",
            Reason::ConnectError => "connect_error",
            Reason::HttpStatus => "http_status",
            Reason::InvalidResponse => "invalid_response",
            Reason::TooLarge => "too_large",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The typed answer to a request event.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Answer {
    /// `assistant-request`.
    Assistant(AssistantRequestResponse),
    /// `tool-calls`: one result per call, in the calls' order.
    ToolCalls(ToolCallsResponse),
    /// `transfer-destination-request`.
    TransferDestination(TransferDestinationResponse),
    /// `knowledge-base-request`.
    KnowledgeBase(KnowledgeBaseResponse),
    /// `call.endpointing.request`.
    Endpointing(EndpointingResponse),
    /// `voice-request`: the PCM went to the host chunk by chunk; this many bytes in all.
    Voice {
        /// Audio bytes handed to the host.
        bytes: u64,
    },
}

impl Answer {
    /// The answer as JSON (the response object; for voice `{"bytes": n}`).
    #[must_use]
    pub fn to_json(&self) -> Value {
        let value = match self {
            Answer::Assistant(r) => serde_json::to_value(r),
            Answer::ToolCalls(r) => serde_json::to_value(r),
            Answer::TransferDestination(r) => serde_json::to_value(r),
            Answer::KnowledgeBase(r) => serde_json::to_value(r),
            Answer::Endpointing(r) => serde_json::to_value(r),
            Answer::Voice { bytes } => Ok(json!({ "bytes": bytes })),
        };
        value.unwrap_or(Value::Null)
    }
}

/// What the runtime should do when a request event failed, per event (documented on
/// [`crate::live`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Fallback {
    /// `assistant-request`: say the server's own `error` text to the caller, then end the call.
    Speak {
        /// The text (one line, at most [`MAX_SPOKEN_ERROR`] characters).
        text: String,
    },
    /// `assistant-request`: transfer to the phone number's `fallbackDestination`.
    Transfer {
        /// The destination, as configured.
        destination: Value,
    },
    /// `assistant-request` without either: end the call.
    EndCall,
    /// `tool-calls`: answer the model with these results (each tool's `request-failed`
    /// message, or [`TOOL_FAILED_SENTENCE`]).
    ToolResults(ToolCallsResponse),
    /// `transfer-destination-request`: do not transfer; say the server's message if it sent
    /// one.
    NoTransfer {
        /// The server's message, if any.
        message: Option<String>,
    },
    /// `knowledge-base-request`: no documents.
    NoDocuments,
    /// `call.endpointing.request`: the runtime's default endpointing.
    DefaultEndpointing,
    /// `voice-request`: the fallback voice.
    FallbackVoice,
}

/// The longest server `error` text an `assistant-request` fallback speaks; longer ones, or
/// ones spanning lines, are not spoken.
pub const MAX_SPOKEN_ERROR: usize = 200;

impl Fallback {
    /// The fallback as JSON: `{"action": "speak" | "transfer" | "end-call" | "tool-results" |
    /// "no-transfer" | "no-documents" | "default-endpointing" | "fallback-voice", ...}`.
    #[must_use]
    pub fn to_json(&self) -> Value {
        match self {
            Fallback::Speak { text } => json!({"action": "speak", "text": text}),
            Fallback::Transfer { destination } => {
                json!({"action": "transfer", "destination": destination})
            }
            Fallback::EndCall => json!({"action": "end-call"}),
            Fallback::ToolResults(r) => json!({
                "action": "tool-results",
                "response": serde_json::to_value(r).unwrap_or(Value::Null),
            }),
            Fallback::NoTransfer { message } => {
                json!({"action": "no-transfer", "message": message})
            }
            Fallback::NoDocuments => json!({"action": "no-documents", "documents": []}),
            Fallback::DefaultEndpointing => json!({"action": "default-endpointing"}),
            Fallback::FallbackVoice => json!({"action": "fallback-voice"}),
        }
    }

    /// The fallback of `event` after a failure. `body` is the failed response's body when
    /// one came (only an `assistant-request`'s `error` string and a transfer's `message` are
    /// read from it, never passed on whole); `fallback_destination` the phone number's.
    pub(crate) fn for_event(
        event: EventType,
        tool_calls: Option<&ToolCalls>,
        body: Option<&[u8]>,
        fallback_destination: Option<&Value>,
    ) -> Fallback {
        let field = |name: &str| -> Option<String> {
            let value: Value = serde_json::from_slice(body?).ok()?;
            let text = match value.get(name)? {
                Value::String(s) => s.clone(),
                Value::Object(m) => m.get("content")?.as_str()?.to_owned(),
                _ => return None,
            };
            let text = text.trim();
            (!text.is_empty()
                && text.chars().count() <= MAX_SPOKEN_ERROR
                && !text.contains(['\n', '\r']))
            .then(|| text.to_owned())
        };
        match event {
            EventType::AssistantRequest => {
                if let Some(text) = field("error") {
                    Fallback::Speak { text }
                } else if let Some(d) = fallback_destination.filter(|d| !d.is_null()) {
                    Fallback::Transfer {
                        destination: d.clone(),
                    }
                } else {
                    Fallback::EndCall
                }
            }
            EventType::ToolCalls => Fallback::ToolResults(failed_tool_results(tool_calls)),
            EventType::TransferDestinationRequest => Fallback::NoTransfer {
                message: field("message").or_else(|| field("error")),
            },
            EventType::KnowledgeBaseRequest => Fallback::NoDocuments,
            EventType::VoiceRequest => Fallback::FallbackVoice,
            _ => Fallback::DefaultEndpointing,
        }
    }
}

/// One result per call: the tool's `request-failed` message, or [`TOOL_FAILED_SENTENCE`].
pub(crate) fn failed_tool_results(calls: Option<&ToolCalls>) -> ToolCallsResponse {
    let Some(calls) = calls else {
        return ToolCallsResponse::new(Vec::new());
    };
    let results = calls
        .tool_call_list
        .iter()
        .map(|call| {
            let message = failure_message(calls, &call.id, &call.function.name);
            ToolCallResult::err(&call.id, &call.function.name, message)
        })
        .collect();
    ToolCallsResponse::new(results)
}

/// The `request-failed` message a called tool configures (`messages[]` of its entry in
/// `toolWithToolCallList`), or [`TOOL_FAILED_SENTENCE`].
pub(crate) fn failure_message(calls: &ToolCalls, id: &str, name: &str) -> String {
    let entry = calls
        .tool_with_tool_call_list
        .iter()
        .find(|t| t.pointer("/toolCall/id").and_then(Value::as_str) == Some(id));
    let entry = entry.or_else(|| {
        calls
            .tool_with_tool_call_list
            .iter()
            .find(|t| t.pointer("/function/name").and_then(Value::as_str) == Some(name))
    });
    entry
        .and_then(|t| t.get("messages")?.as_array())
        .and_then(|messages| {
            messages.iter().find_map(|m| {
                (m.get("type")?.as_str()? == "request-failed")
                    .then(|| m.get("content")?.as_str().map(str::to_owned))
                    .flatten()
            })
        })
        .filter(|m| !m.trim().is_empty())
        .unwrap_or_else(|| TOOL_FAILED_SENTENCE.to_owned())
}

/// A failed exchange: the reason, a detail for operators (never the response body), and what
/// the runtime should do.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Failure {
    /// The stable reason.
    pub reason: Reason,
    /// For logs and operators: the guard's rejection, the status, the parse error. Never the
    /// response body (that is recorded for admins only).
    pub detail: String,
    /// What the runtime should do now.
    pub fallback: Fallback,
}

/// The result of one live exchange (every try of it).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Outcome {
    /// The event type.
    pub event_type: EventType,
    /// The `webhook-id` sent on every try; also the recorded job's id.
    pub webhook_id: JobId,
    /// The cascade level the target came from, once resolved.
    pub level: Option<String>,
    /// The target URL, once resolved.
    pub url: Option<String>,
    /// The last HTTP status received.
    pub status: Option<u16>,
    /// From the call asking to the answer (every try and wait included).
    pub latency: Duration,
    /// Tries sent (0 when nothing was sent).
    pub tries: u32,
    /// The answer, or the failure.
    pub result: Result<Answer, Failure>,
}

impl Outcome {
    /// Whether the server answered usably.
    #[must_use]
    pub fn is_answered(&self) -> bool {
        self.result.is_ok()
    }

    /// The answer, if any.
    #[must_use]
    pub fn answer(&self) -> Option<&Answer> {
        self.result.as_ref().ok()
    }

    /// The failure, if any.
    #[must_use]
    pub fn failure(&self) -> Option<&Failure> {
        self.result.as_ref().err()
    }

    /// The failure's reason, if any.
    #[must_use]
    pub fn reason(&self) -> Option<Reason> {
        self.failure().map(|f| f.reason)
    }

    /// The failure's fallback, if any.
    #[must_use]
    pub fn fallback(&self) -> Option<&Fallback> {
        self.failure().map(|f| &f.fallback)
    }

    /// The one-line report of `webhookctl request`, its keys in this order: `level`, `url`,
    /// `status`, `latency_ms`, `outcome` (`answered` | `failed`), `reason`, `response`,
    /// `fallback`.
    #[must_use]
    pub fn to_json_line(&self) -> String {
        let json = self.to_json();
        let keys = [
            "level",
            "url",
            "status",
            "latency_ms",
            "outcome",
            "reason",
            "response",
            "fallback",
        ];
        let fields: Vec<String> = keys
            .iter()
            .map(|k| format!("{}:{}", Value::from(*k), json[*k]))
            .collect();
        format!("{{{}}}", fields.join(","))
    }

    /// The report of [`Outcome::to_json_line`] as a JSON value.
    #[must_use]
    pub fn to_json(&self) -> Value {
        json!({
            "level": self.level,
            "url": self.url,
            "status": self.status,
            "latency_ms": u64::try_from(self.latency.as_millis()).unwrap_or(u64::MAX),
            "outcome": if self.is_answered() { "answered" } else { "failed" },
            "reason": self.reason().map(Reason::as_str),
            "response": self.answer().map(Answer::to_json),
            "fallback": self.fallback().map(Fallback::to_json),
        })
    }
}
