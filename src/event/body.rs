//! The typed bodies of the event types, with the required fields of Vapi's `ServerMessage`
//! schema. Every struct keeps unknown fields in `extra` so they round-trip unchanged.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

macro_rules! constructor {
    ($ty:ident { $($req:ident : $rty:ty),* } $(, $opt:ident)*) => {
        impl $ty {
            /// An event with the required fields; optional ones start empty.
            #[must_use]
            pub fn new($($req: $rty),*) -> Self {
                $ty { $($req,)* $($opt: None,)* extra: Map::new() }
            }
        }
    };
}

/// `assistant-request`: the number has no assistant; the server names one. Sent only to the
/// phone-number and account levels (no assistant is chosen yet).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AssistantRequest {
    /// Every other field, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
constructor!(AssistantRequest {});

/// A call status (`status-update.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
#[allow(missing_docs)]
pub enum CallStatus {
    Scheduled,
    Queued,
    Ringing,
    InProgress,
    Forwarding,
    Ended,
    NotFound,
    DeletionFailed,
}

/// `status-update`: the call's status changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct StatusUpdate {
    /// The new status (required).
    pub status: CallStatus,
    /// Why the call ended, when `status` is `ended` (Vapi has hundreds of reasons: a string).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_reason: Option<String>,
    /// Every other field, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
constructor!(StatusUpdate { status: CallStatus }, ended_reason);

/// `end-of-call-report`: the call ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct EndOfCallReport {
    /// Why the call ended (required).
    pub ended_reason: String,
    /// Recording, transcript, messages (required).
    pub artifact: Value,
    /// Summary, structured data, success evaluation (required).
    pub analysis: Value,
    /// Every other field (`cost`, `startedAt`, ...), kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
constructor!(EndOfCallReport {
    ended_reason: String,
    artifact: Value,
    analysis: Value
});

/// `conversation-update`: the conversation so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ConversationUpdate {
    /// The messages in OpenAI format (required).
    #[serde(rename = "messagesOpenAIFormatted")]
    pub messages_openai_formatted: Vec<Value>,
    /// Every other field (`messages`), kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
constructor!(ConversationUpdate { messages_openai_formatted: Vec<Value> });

/// Who speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
#[allow(missing_docs)]
pub enum Role {
    Assistant,
    User,
}

/// `speech-update.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
#[allow(missing_docs)]
pub enum SpeechStatus {
    Started,
    Stopped,
}

/// `speech-update`: someone started or stopped speaking.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SpeechUpdate {
    /// Started or stopped (required).
    pub status: SpeechStatus,
    /// Who (required).
    pub role: Role,
    /// Every other field (`turn`), kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
constructor!(SpeechUpdate {
    status: SpeechStatus,
    role: Role
});

/// `transcript.transcriptType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
#[allow(missing_docs)]
pub enum TranscriptType {
    Partial,
    Final,
}

/// `transcript`: a partial or final transcript of one turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Transcript {
    /// Who spoke (required).
    pub role: Role,
    /// Partial or final (required).
    pub transcript_type: TranscriptType,
    /// The text (required).
    pub transcript: String,
    /// Every other field, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
constructor!(Transcript {
    role: Role,
    transcript_type: TranscriptType,
    transcript: String
});

/// `assistant.speechStarted`: the assistant started saying `text`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AssistantSpeechStarted {
    /// What it says (required).
    pub text: String,
    /// Every other field (`turn`, `source`, `timing`), kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
constructor!(AssistantSpeechStarted { text: String });

/// `user-interrupted`: the user cut the assistant off.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UserInterrupted {
    /// Every other field (`turnId`), kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
constructor!(UserInterrupted {});

/// A function call the model makes: `{id, type: "function", function: {name, arguments}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ToolCall {
    /// The id the result must echo as `toolCallId`.
    pub id: String,
    /// Always `function` today.
    #[serde(rename = "type", default = "function_type")]
    pub call_type: String,
    /// The function and its arguments.
    pub function: FunctionCall,
    /// Every other field, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn function_type() -> String {
    "function".to_owned()
}

impl ToolCall {
    /// A `function` call; `arguments` is the JSON text of the arguments object.
    #[must_use]
    pub fn new(
        id: impl Into<String>,
        name: impl Into<String>,
        arguments: impl Into<String>,
    ) -> Self {
        ToolCall {
            id: id.into(),
            call_type: function_type(),
            function: FunctionCall {
                name: name.into(),
                arguments: arguments.into(),
                extra: Map::new(),
            },
            extra: Map::new(),
        }
    }
}

/// The function part of a [`ToolCall`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FunctionCall {
    /// The tool's name.
    pub name: String,
    /// The arguments as JSON text, as the schema says. Parsing also accepts an object (some
    /// docs show one) and keeps its JSON text.
    #[serde(deserialize_with = "arguments_text")]
    pub arguments: String,
    /// Every other field, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn arguments_text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => s,
        other => other.to_string(),
    })
}

/// `tool-calls`: the model calls function tools; the server answers with results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ToolCalls {
    /// The calls (`toolCallList`, required).
    pub tool_call_list: Vec<ToolCall>,
    /// Each call with the called tool's config (`toolWithToolCallList`, required): the tool
    /// as Vapi describes it with its call under `toolCall`. Kept as sent (read leniently);
    /// [`ToolCalls::with_tools`] builds it and [`ToolCalls::tool_of`] reads it.
    pub tool_with_tool_call_list: Vec<Value>,
    /// Every other field, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ToolCalls {
    /// A `tool-calls` message of these calls, without the called tools' configs
    /// (`toolWithToolCallList` empty).
    ///
    /// ```
    /// use agent_webhooks::event::{ToolCall, ToolCalls};
    /// let calls = ToolCalls::new([ToolCall::new("call_1", "lookup", r#"{"id":7}"#)]);
    /// assert_eq!(calls.tool_call_list[0].function.name, "lookup");
    /// assert!(calls.tool_with_tool_call_list.is_empty());
    /// ```
    #[must_use]
    pub fn new(calls: impl IntoIterator<Item = ToolCall>) -> Self {
        ToolCalls {
            tool_call_list: calls.into_iter().collect(),
            tool_with_tool_call_list: Vec::new(),
            extra: Map::new(),
        }
    }

    /// A `tool-calls` message of these calls, each with the config of the tool it calls as
    /// Vapi describes a tool (`{"type": "function", "function": {...}, "server": {...},
    /// "messages": [...]}`). `toolCallList` lists the calls; each `toolWithToolCallList`
    /// entry is the tool's config with `toolCall` set to its call (a config that is not a
    /// JSON object is kept as it is).
    ///
    /// ```
    /// use agent_webhooks::event::{ToolCall, ToolCalls};
    /// use serde_json::json;
    /// let call = ToolCall::new("call_1", "lookup", "{}");
    /// let tool = json!({"type": "function", "function": {"name": "lookup"},
    ///                   "server": {"url": "https://tools.example.com/lookup"}});
    /// let calls = ToolCalls::with_tools([(call, tool)]);
    /// assert_eq!(calls.tool_with_tool_call_list[0]["toolCall"]["id"], "call_1");
    /// assert_eq!(calls.tool_of("call_1").unwrap()["server"]["url"], "https://tools.example.com/lookup");
    /// ```
    #[must_use]
    pub fn with_tools(calls: impl IntoIterator<Item = (ToolCall, Value)>) -> Self {
        let mut list = Vec::new();
        let mut tools = Vec::new();
        for (call, mut tool) in calls {
            if let Value::Object(config) = &mut tool {
                // A ToolCall is plain data: serializing it cannot fail.
                let value = serde_json::to_value(&call).unwrap_or(Value::Null);
                config.insert("toolCall".to_owned(), value);
            }
            list.push(call);
            tools.push(tool);
        }
        ToolCalls {
            tool_call_list: list,
            tool_with_tool_call_list: tools,
            extra: Map::new(),
        }
    }

    /// The config of the tool a call calls: the `toolWithToolCallList` entry whose
    /// `toolCall.id` is `call_id`, else the first entry whose `function.name` is that call's
    /// name (entries as some runtimes send them, without `toolCall`).
    #[must_use]
    pub fn tool_of(&self, call_id: &str) -> Option<&Value> {
        let by_id = self
            .tool_with_tool_call_list
            .iter()
            .find(|t| t.pointer("/toolCall/id").and_then(Value::as_str) == Some(call_id));
        by_id.or_else(|| {
            let name = &self
                .tool_call_list
                .iter()
                .find(|c| c.id == call_id)?
                .function
                .name;
            self.tool_with_tool_call_list.iter().find(|t| {
                t.pointer("/function/name").and_then(Value::as_str) == Some(name.as_str())
            })
        })
    }
}

/// `knowledge-base-request`: a custom knowledge base is asked for documents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct KnowledgeBaseRequest {
    /// The conversation in OpenAI format (required).
    #[serde(rename = "messagesOpenAIFormatted")]
    pub messages_openai_formatted: Vec<Value>,
    /// Every other field, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
constructor!(KnowledgeBaseRequest { messages_openai_formatted: Vec<Value> });

/// `voice-request`: a custom voice is asked to speak `text`; it answers with raw PCM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct VoiceRequest {
    /// The text to speak (required).
    pub text: String,
    /// The sample rate of the audio to return, in Hz (required).
    pub sample_rate: u32,
    /// Every other field, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
constructor!(VoiceRequest {
    text: String,
    sample_rate: u32
});

/// `call.endpointing.request`: how long should the assistant wait before speaking?
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EndpointingRequest {
    /// The conversation in OpenAI format (required).
    #[serde(rename = "messagesOpenAIFormatted")]
    pub messages_openai_formatted: Vec<Value>,
    /// Every other field, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
constructor!(EndpointingRequest { messages_openai_formatted: Vec<Value> });

/// `transfer-update`: a transfer happened.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TransferUpdate {
    /// Where the call went, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<Value>,
    /// Every other field (`toAssistant`, `fromAssistant`), kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
constructor!(TransferUpdate {}, destination);

/// `transfer-destination-request`: a transfer tool has no destination; the server names one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TransferDestinationRequest {
    /// Every other field, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
constructor!(TransferDestinationRequest {});

/// `phone-call-control.request`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
#[allow(missing_docs)]
pub enum PhoneCallControlRequest {
    Forward,
    HangUp,
}

/// `phone-call-control`: the server forwards or hangs up the call itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PhoneCallControl {
    /// Forward or hang up (required).
    pub request: PhoneCallControlRequest,
    /// Where to forward to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<Value>,
    /// Every other field, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
constructor!(
    PhoneCallControl {
        request: PhoneCallControlRequest
    },
    destination
);

/// An event of a type this crate does not type (`hang`, `model-output`, a newer one): its
/// type and every field except the common ones, kept as sent.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct OtherEvent {
    /// The wire name of the type.
    #[serde(rename = "type")]
    pub event_type: String,
    /// Its fields.
    #[serde(flatten)]
    pub fields: Map<String, Value>,
}

impl OtherEvent {
    /// An event of type `event_type` with these fields.
    #[must_use]
    pub fn new(event_type: impl Into<String>, fields: Map<String, Value>) -> Self {
        OtherEvent {
            event_type: event_type.into(),
            fields,
        }
    }
}
