//! Server events: what the runtime tells a customer's server about a call.
//!
//! An [`Event`] is the fields every event shares (timestamp, call, customer, phone number,
//! assistant) and an [`EventBody`]: one typed payload per event type ([`StatusUpdate`],
//! [`EndOfCallReport`], [`ToolCalls`], ...), or [`OtherEvent`] for a type this crate does not
//! type, kept as it came. An [`Envelope`] wraps an event in Vapi's `{"message": {...}}` and
//! writes it for a [`Profile`]; [`Envelope::parse`] reads one back, checking each typed event's
//! required fields. The answers a server gives to the request events
//! ([`AssistantRequestResponse`], [`ToolCallsResponse`], ...) parse leniently.
//!
//! ```
//! use agent_webhooks::event::{CallStatus, Envelope, EventBody};
//!
//! let received = br#"{"message": {"type": "status-update", "status": "ended",
//!     "timestamp": 1780185600000, "call": {"id": "call_1"}, "vendorField": 7}}"#;
//! let envelope = Envelope::parse(received)?;
//! let event = envelope.event();
//! assert_eq!(event.event_type(), "status-update");
//! assert!(matches!(&event.body, EventBody::StatusUpdate(s) if s.status == CallStatus::Ended));
//! let sent: serde_json::Value = serde_json::from_slice(&envelope.to_vec())?;
//! assert_eq!(sent["message"]["vendorField"], 7); // unknown fields round-trip
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod body;
mod response;
mod time;

use std::fmt;
use std::str::FromStr;

use serde::de::DeserializeOwned;
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

pub use body::{
    AssistantRequest, AssistantSpeechStarted, CallStatus, ConversationUpdate, EndOfCallReport,
    EndpointingRequest, FunctionCall, KnowledgeBaseRequest, OtherEvent, PhoneCallControl,
    PhoneCallControlRequest, Role, SpeechStatus, SpeechUpdate, StatusUpdate, ToolCall, ToolCalls,
    Transcript, TranscriptType, TransferDestinationRequest, TransferUpdate, UserInterrupted,
    VoiceRequest,
};
pub use response::{
    AssistantDecision, AssistantRequestResponse, EndpointingResponse, KnowledgeBaseResponse,
    KnowledgeDocument, ResponseError, ToolCallResult, ToolCallsResponse,
    TransferDestinationResponse,
};
pub use time::{MAX_UNIX_MILLIS, Timestamp, TimestampError, TimestampStyle};

/// The family an event type belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Family {
    /// The call's life: assistant-request, status-update, end-of-call-report,
    /// conversation-update.
    Lifecycle,
    /// Who speaks: speech-update, transcript, assistant.speechStarted, user-interrupted.
    Speech,
    /// Requests for data: tool-calls, knowledge-base-request, voice-request,
    /// call.endpointing.request.
    Tools,
    /// Transfers and call control: transfer-update, transfer-destination-request,
    /// phone-call-control.
    Telephony,
}

/// The event types this crate types, with their wire names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum EventType {
    /// `assistant-request`: which assistant should take this call? Expects an answer.
    AssistantRequest,
    /// `status-update`: the call's status changed.
    StatusUpdate,
    /// `end-of-call-report`: the call ended; artifact and analysis.
    EndOfCallReport,
    /// `conversation-update`: the conversation so far.
    ConversationUpdate,
    /// `speech-update`: someone started or stopped speaking.
    SpeechUpdate,
    /// `transcript`: a partial or final transcript.
    Transcript,
    /// `assistant.speechStarted`: the assistant started saying a text.
    AssistantSpeechStarted,
    /// `user-interrupted`: the user cut the assistant off.
    UserInterrupted,
    /// `tool-calls`: the model calls function tools. Expects results.
    ToolCalls,
    /// `knowledge-base-request`: documents for a custom knowledge base. Expects documents.
    KnowledgeBaseRequest,
    /// `voice-request`: audio for a custom voice. Expects raw PCM.
    VoiceRequest,
    /// `call.endpointing.request`: how long to wait before the assistant speaks. Expects a
    /// timeout.
    EndpointingRequest,
    /// `transfer-update`: a transfer happened.
    TransferUpdate,
    /// `transfer-destination-request`: where should this transfer go? Expects a destination.
    TransferDestinationRequest,
    /// `phone-call-control`: the server forwards or hangs up the call itself.
    PhoneCallControl,
}

impl EventType {
    /// Every typed event type, in catalogue order (by family).
    pub const ALL: [EventType; 15] = [
        EventType::AssistantRequest,
        EventType::StatusUpdate,
        EventType::EndOfCallReport,
        EventType::ConversationUpdate,
        EventType::SpeechUpdate,
        EventType::Transcript,
        EventType::AssistantSpeechStarted,
        EventType::UserInterrupted,
        EventType::ToolCalls,
        EventType::KnowledgeBaseRequest,
        EventType::VoiceRequest,
        EventType::EndpointingRequest,
        EventType::TransferUpdate,
        EventType::TransferDestinationRequest,
        EventType::PhoneCallControl,
    ];

    /// The wire name (`"status-update"`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::AssistantRequest => "assistant-request",
            EventType::StatusUpdate => "status-update",
            EventType::EndOfCallReport => "end-of-call-report",
            EventType::ConversationUpdate => "conversation-update",
            EventType::SpeechUpdate => "speech-update",
            EventType::Transcript => "transcript",
            EventType::AssistantSpeechStarted => "assistant.speechStarted",
            EventType::UserInterrupted => "user-interrupted",
            EventType::ToolCalls => "tool-calls",
            EventType::KnowledgeBaseRequest => "knowledge-base-request",
            EventType::VoiceRequest => "voice-request",
            EventType::EndpointingRequest => "call.endpointing.request",
            EventType::TransferUpdate => "transfer-update",
            EventType::TransferDestinationRequest => "transfer-destination-request",
            EventType::PhoneCallControl => "phone-call-control",
        }
    }

    /// The type with this wire name, if this crate types it.
    #[must_use]
    pub fn from_name(name: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// Its family.
    #[must_use]
    pub fn family(self) -> Family {
        use EventType as T;
        match self {
            T::AssistantRequest | T::StatusUpdate | T::EndOfCallReport | T::ConversationUpdate => {
                Family::Lifecycle
            }
            T::SpeechUpdate | T::Transcript | T::AssistantSpeechStarted | T::UserInterrupted => {
                Family::Speech
            }
            T::ToolCalls | T::KnowledgeBaseRequest | T::VoiceRequest | T::EndpointingRequest => {
                Family::Tools
            }
            T::TransferUpdate | T::TransferDestinationRequest | T::PhoneCallControl => {
                Family::Telephony
            }
        }
    }

    /// Whether the sender waits for an answer in the response body (assistant-request,
    /// tool-calls, knowledge-base-request, voice-request, call.endpointing.request,
    /// transfer-destination-request).
    #[must_use]
    pub fn expects_response(self) -> bool {
        use EventType as T;
        matches!(
            self,
            T::AssistantRequest
                | T::ToolCalls
                | T::KnowledgeBaseRequest
                | T::VoiceRequest
                | T::EndpointingRequest
                | T::TransferDestinationRequest
        )
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which receivers an envelope is written for; see [`Envelope`] for the
/// differences.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Profile {
    /// RFC 3339 timestamps (`"2026-05-31T00:00:00.000Z"`).
    #[default]
    Default,
    /// What Vapi receivers expect: epoch-millisecond timestamps.
    Vapi,
}

impl Profile {
    /// The timestamp style this profile writes.
    #[must_use]
    pub fn timestamp_style(self) -> TimestampStyle {
        match self {
            Profile::Default => TimestampStyle::Rfc3339,
            Profile::Vapi => TimestampStyle::EpochMillis,
        }
    }

    /// The name used in configs and on the command line: `default` or `vapi`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Default => "default",
            Profile::Vapi => "vapi",
        }
    }
}

/// The error of parsing a [`Profile`] name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown profile `{0}`, expected default or vapi")]
pub struct UnknownProfile(String);

impl FromStr for Profile {
    type Err = UnknownProfile;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "default" => Ok(Profile::Default),
            "vapi" => Ok(Profile::Vapi),
            other => Err(UnknownProfile(other.to_owned())),
        }
    }
}

/// The call an event is about: the fields this crate reads, the rest kept in `extra`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Call {
    /// The call's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The organization (tenant) the call belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_id: Option<String>,
    /// `inboundPhoneCall`, `outboundPhoneCall`, `webCall`, ...
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub call_type: Option<String>,
    /// The assistant handling the call, when one is chosen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assistant_id: Option<String>,
    /// The phone number called or calling from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number_id: Option<String>,
    /// Every other field, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Call {
    /// A call with this id.
    #[must_use]
    pub fn new(id: impl Into<String>) -> Self {
        Call {
            id: Some(id.into()),
            ..Call::default()
        }
    }
}

/// The other party of the call.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Customer {
    /// Their number in E.164.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    /// Their name, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Every other field, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Customer {
    /// A customer with this number.
    #[must_use]
    pub fn new(number: impl Into<String>) -> Self {
        Customer {
            number: Some(number.into()),
            ..Customer::default()
        }
    }
}

/// The typed part of an event: one variant per event type, [`EventBody::Other`] for the rest.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type")]
#[non_exhaustive]
#[allow(missing_docs)] // each variant is documented on its struct
pub enum EventBody {
    #[serde(rename = "assistant-request")]
    AssistantRequest(AssistantRequest),
    #[serde(rename = "status-update")]
    StatusUpdate(StatusUpdate),
    #[serde(rename = "end-of-call-report")]
    EndOfCallReport(EndOfCallReport),
    #[serde(rename = "conversation-update")]
    ConversationUpdate(ConversationUpdate),
    #[serde(rename = "speech-update")]
    SpeechUpdate(SpeechUpdate),
    #[serde(rename = "transcript")]
    Transcript(Transcript),
    #[serde(rename = "assistant.speechStarted")]
    AssistantSpeechStarted(AssistantSpeechStarted),
    #[serde(rename = "user-interrupted")]
    UserInterrupted(UserInterrupted),
    #[serde(rename = "tool-calls")]
    ToolCalls(ToolCalls),
    #[serde(rename = "knowledge-base-request")]
    KnowledgeBaseRequest(KnowledgeBaseRequest),
    #[serde(rename = "voice-request")]
    VoiceRequest(VoiceRequest),
    #[serde(rename = "call.endpointing.request")]
    EndpointingRequest(EndpointingRequest),
    #[serde(rename = "transfer-update")]
    TransferUpdate(TransferUpdate),
    #[serde(rename = "transfer-destination-request")]
    TransferDestinationRequest(TransferDestinationRequest),
    #[serde(rename = "phone-call-control")]
    PhoneCallControl(PhoneCallControl),
    /// A type this crate does not type, kept as sent.
    #[serde(untagged)]
    Other(OtherEvent),
}

impl EventBody {
    /// The wire name of the type.
    #[must_use]
    pub fn event_type(&self) -> &str {
        match (self, self.known_type()) {
            (EventBody::Other(o), _) => &o.event_type,
            (_, Some(t)) => t.as_str(),
            (_, None) => "",
        }
    }

    /// The typed event type; `None` for [`EventBody::Other`].
    #[must_use]
    pub fn known_type(&self) -> Option<EventType> {
        use EventType as T;
        Some(match self {
            EventBody::AssistantRequest(_) => T::AssistantRequest,
            EventBody::StatusUpdate(_) => T::StatusUpdate,
            EventBody::EndOfCallReport(_) => T::EndOfCallReport,
            EventBody::ConversationUpdate(_) => T::ConversationUpdate,
            EventBody::SpeechUpdate(_) => T::SpeechUpdate,
            EventBody::Transcript(_) => T::Transcript,
            EventBody::AssistantSpeechStarted(_) => T::AssistantSpeechStarted,
            EventBody::UserInterrupted(_) => T::UserInterrupted,
            EventBody::ToolCalls(_) => T::ToolCalls,
            EventBody::KnowledgeBaseRequest(_) => T::KnowledgeBaseRequest,
            EventBody::VoiceRequest(_) => T::VoiceRequest,
            EventBody::EndpointingRequest(_) => T::EndpointingRequest,
            EventBody::TransferUpdate(_) => T::TransferUpdate,
            EventBody::TransferDestinationRequest(_) => T::TransferDestinationRequest,
            EventBody::PhoneCallControl(_) => T::PhoneCallControl,
            EventBody::Other(_) => return None,
        })
    }
}

/// One server event: its typed body plus the fields every event may carry.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Event {
    /// The type and its fields.
    #[serde(flatten)]
    pub body: EventBody,
    /// When the event happened; written in the envelope's [`Profile`] style.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<Timestamp>,
    /// The call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call: Option<Call>,
    /// The other party.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer: Option<Customer>,
    /// The phone number involved, as the runtime describes it.
    #[serde(rename = "phoneNumber", skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<Value>,
    /// The active assistant, as the runtime describes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assistant: Option<Value>,
}

/// The `serverMessages` name of a final transcript (Vapi's spelling).
pub const FINAL_TRANSCRIPT: &str = "transcript[transcriptType=\"final\"]";

const COMMON_FIELDS: [&str; 5] = ["timestamp", "call", "customer", "phoneNumber", "assistant"];

impl Event {
    /// An event with this body and no common fields.
    #[must_use]
    pub fn new(body: EventBody) -> Self {
        Event {
            body,
            timestamp: None,
            call: None,
            customer: None,
            phone_number: None,
            assistant: None,
        }
    }

    /// With this timestamp.
    #[must_use]
    pub fn with_timestamp(mut self, timestamp: Timestamp) -> Self {
        self.timestamp = Some(timestamp);
        self
    }

    /// With this call.
    #[must_use]
    pub fn with_call(mut self, call: Call) -> Self {
        self.call = Some(call);
        self
    }

    /// With this customer.
    #[must_use]
    pub fn with_customer(mut self, customer: Customer) -> Self {
        self.customer = Some(customer);
        self
    }

    /// The wire name of its type (`"tool-calls"`), typed or not.
    #[must_use]
    pub fn event_type(&self) -> &str {
        self.body.event_type()
    }

    /// The typed event type; `None` for a type this crate does not type.
    #[must_use]
    pub fn known_type(&self) -> Option<EventType> {
        self.body.known_type()
    }

    /// The name `serverMessages` lists use for this event: the type, except
    /// `transcript[transcriptType="final"]` for a final transcript.
    #[must_use]
    pub fn subscription_name(&self) -> &str {
        match &self.body {
            EventBody::Transcript(t) if t.transcript_type == TranscriptType::Final => {
                FINAL_TRANSCRIPT
            }
            _ => self.event_type(),
        }
    }

    /// Parses the `message` object of an envelope.
    ///
    /// # Errors
    /// As [`Envelope::parse`].
    pub fn from_value(message: Value) -> Result<Self, EventError> {
        // Typed fields are read by deserializing, which recurses: refuse host-built nesting
        // that would exhaust the stack.
        if crate::template::exceeds_depth(&message, crate::template::MAX_JSON_DEPTH) {
            crate::template::drop_deep(message);
            return Err(EventError::TooDeep {
                limit: crate::template::MAX_JSON_DEPTH,
            });
        }
        let Value::Object(mut fields) = message else {
            return Err(EventError::NotEnvelope);
        };
        let event_type = match fields.remove("type") {
            Some(Value::String(t)) => t,
            Some(_) => {
                return Err(EventError::Field {
                    event_type: String::new(),
                    path: "type".into(),
                    message: "must be a string".into(),
                });
            }
            None => return Err(EventError::MissingType),
        };
        let timestamp = take(&event_type, &mut fields, "timestamp")?;
        let call = take(&event_type, &mut fields, "call")?;
        let customer = take(&event_type, &mut fields, "customer")?;
        let phone_number = take(&event_type, &mut fields, "phoneNumber")?;
        let assistant = take(&event_type, &mut fields, "assistant")?;
        debug_assert!(COMMON_FIELDS.iter().all(|f| !fields.contains_key(*f)));
        let body = match EventType::from_name(&event_type) {
            None => EventBody::Other(OtherEvent { event_type, fields }),
            Some(t) => {
                use EventType as T;
                let value = Value::Object(fields);
                match t {
                    T::AssistantRequest => EventBody::AssistantRequest(typed(t, value)?),
                    T::StatusUpdate => EventBody::StatusUpdate(typed(t, value)?),
                    T::EndOfCallReport => EventBody::EndOfCallReport(typed(t, value)?),
                    T::ConversationUpdate => EventBody::ConversationUpdate(typed(t, value)?),
                    T::SpeechUpdate => EventBody::SpeechUpdate(typed(t, value)?),
                    T::Transcript => EventBody::Transcript(typed(t, value)?),
                    T::AssistantSpeechStarted => {
                        EventBody::AssistantSpeechStarted(typed(t, value)?)
                    }
                    T::UserInterrupted => EventBody::UserInterrupted(typed(t, value)?),
                    T::ToolCalls => EventBody::ToolCalls(typed(t, value)?),
                    T::KnowledgeBaseRequest => EventBody::KnowledgeBaseRequest(typed(t, value)?),
                    T::VoiceRequest => EventBody::VoiceRequest(typed(t, value)?),
                    T::EndpointingRequest => EventBody::EndpointingRequest(typed(t, value)?),
                    T::TransferUpdate => EventBody::TransferUpdate(typed(t, value)?),
                    T::TransferDestinationRequest => {
                        EventBody::TransferDestinationRequest(typed(t, value)?)
                    }
                    T::PhoneCallControl => EventBody::PhoneCallControl(typed(t, value)?),
                }
            }
        };
        Ok(Event {
            body,
            timestamp,
            call,
            customer,
            phone_number,
            assistant,
        })
    }
}

fn take<T: DeserializeOwned>(
    event_type: &str,
    fields: &mut Map<String, Value>,
    name: &str,
) -> Result<Option<T>, EventError> {
    match fields.remove(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => serde_path_to_error::deserialize(v)
            .map(Some)
            .map_err(|e| field_error(event_type, Some(name), &e)),
    }
}

fn typed<T: DeserializeOwned>(t: EventType, value: Value) -> Result<T, EventError> {
    serde_path_to_error::deserialize(value).map_err(|e| field_error(t.as_str(), None, &e))
}

fn field_error(
    event_type: &str,
    prefix: Option<&str>,
    e: &serde_path_to_error::Error<serde_json::Error>,
) -> EventError {
    let mut inner = e.path().to_string();
    let message = e.inner().to_string();
    // serde reports a missing field at its parent; name the field itself.
    if let Some(field) = message
        .strip_prefix("missing field `")
        .and_then(|m| m.split('`').next())
    {
        inner = if inner == "." {
            field.to_owned()
        } else {
            format!("{inner}.{field}")
        };
    }
    let path = match (prefix, inner.as_str()) {
        (Some(p), ".") => p.to_owned(),
        (Some(p), rest) => format!("{p}.{rest}"),
        (None, rest) => rest.to_owned(),
    };
    EventError::Field {
        event_type: event_type.to_owned(),
        path,
        message,
    }
}

/// An incoming body that is not a valid event envelope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EventError {
    /// Not JSON at all (the parser's message).
    #[error("event body is not JSON: {0}")]
    NotJson(String),
    /// JSON, but not `{"message": {...}}`.
    #[error("event body must be a JSON object {{\"message\": {{...}}}}")]
    NotEnvelope,
    /// The message has no `type`.
    #[error("event message has no `type`")]
    MissingType,
    /// A field is missing or has the wrong type or value for its event type.
    #[error("`{event_type}` event, field `{path}`: {message}")]
    Field {
        /// The event type (empty when `type` itself is bad).
        event_type: String,
        /// The field's dotted path inside `message` (`toolCallList[0].function.name`).
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A host-built message nests arrays and objects deeper than
    /// [`MAX_JSON_DEPTH`](crate::template::MAX_JSON_DEPTH) (JSON text never gets this deep:
    /// the parser has the same limit).
    #[error("event message nests deeper than {limit} levels of arrays and objects")]
    TooDeep {
        /// The limit.
        limit: usize,
    },
}

/// An event ready to send, `{"message": {...}}`.
///
/// Serialization is the hot path of every delivery: [`Envelope::to_vec`] and
/// [`Envelope::write_to`] write typed structs straight into a presized buffer, with no
/// `serde_json::Value` in between.
///
/// Every event travels in an [`Envelope`], `{"message": {"type": ..., ...}}`, the shape Vapi
/// receivers already read. [`EventBody`] types the event types by [`Family`]; an event type
/// this crate does not know is kept as [`EventBody::Other`] and unknown fields of any event are
/// kept in `extra` maps, so `parse` then `to_vec` gives back equal JSON (newer producers and
/// older receivers keep working). What parsing normalizes, so it does not come back
/// byte-for-byte: RFC 3339 text is rewritten with milliseconds and `Z`; a `null` in a known
/// optional field (`"call": null`) reads as absent; object `arguments` of a tool call become
/// their JSON text (the schema's string).
///
/// # Profiles
/// | | [`Profile::Default`] | [`Profile::Vapi`] |
/// |---|---|---|
/// | `message.timestamp` | RFC 3339 UTC with milliseconds, `"2026-05-31T00:00:00.000Z"` | epoch milliseconds, `1780185600000` |
/// | everything else | Vapi's field names and shapes | the same |
///
/// Parsing accepts both spellings and remembers the one it saw. Vapi's schema types
/// `timestamp` as a number, so a strict Vapi receiver rejects the default profile's string:
/// use [`Profile::Vapi`] for receivers migrated from Vapi.
///
/// ```
/// use agent_webhooks::{CallStatus, Envelope, Event, EventBody, Profile, StatusUpdate, Timestamp};
///
/// let event = Event::new(EventBody::StatusUpdate(StatusUpdate::new(CallStatus::Ringing)))
///     .with_timestamp(Timestamp::from_unix_millis(1_780_185_600_000)?);
/// let body = Envelope::new(event.clone(), Profile::Default).to_vec();
/// assert_eq!(body, br#"{"message":{"type":"status-update","status":"ringing","timestamp":"2026-05-31T00:00:00.000Z"}}"#);
/// let vapi = Envelope::new(event, Profile::Vapi).to_vec();
/// assert_eq!(vapi, br#"{"message":{"type":"status-update","status":"ringing","timestamp":1780185600000}}"#);
/// assert_eq!(Envelope::parse(&vapi)?.to_vec(), vapi);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    message: Event,
    extra: Map<String, Value>,
}

/// The buffer size [`Envelope::to_vec`] starts with; most events fit.
const INITIAL_CAPACITY: usize = 2048;

impl Envelope {
    /// Wraps `event` for receivers of `profile`; its timestamp takes the profile's style.
    #[must_use]
    pub fn new(mut event: Event, profile: Profile) -> Self {
        if let Some(t) = &mut event.timestamp {
            *t = t.with_style(profile.timestamp_style());
        }
        Envelope {
            message: event,
            extra: Map::new(),
        }
    }

    /// Parses an envelope as received: both timestamp styles, unknown types and fields kept.
    ///
    /// # Errors
    /// [`EventError::NotJson`], [`EventError::NotEnvelope`] when there is no `message` object,
    /// [`EventError::MissingType`], or [`EventError::Field`] naming a required field that is
    /// missing or a field with a wrong type or value for the event type (Vapi's
    /// `ServerMessage` schema).
    pub fn parse(body: &[u8]) -> Result<Self, EventError> {
        let root: Value =
            serde_json::from_slice(body).map_err(|e| EventError::NotJson(e.to_string()))?;
        let Value::Object(mut root) = root else {
            return Err(EventError::NotEnvelope);
        };
        let message = root.remove("message").ok_or(EventError::NotEnvelope)?;
        Ok(Envelope {
            message: Event::from_value(message)?,
            extra: root,
        })
    }

    /// The event.
    #[must_use]
    pub fn event(&self) -> &Event {
        &self.message
    }

    /// The event, to change it before sending.
    #[must_use]
    pub fn event_mut(&mut self) -> &mut Event {
        &mut self.message
    }

    /// The event, unwrapped.
    #[must_use]
    pub fn into_event(self) -> Event {
        self.message
    }

    /// The serialized envelope, the exact bytes to sign and send.
    #[must_use]
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(INITIAL_CAPACITY);
        self.write_to(&mut out);
        out
    }

    /// Appends the serialized envelope to `out` (reuse one buffer across events).
    ///
    /// # Panics
    /// Never: every map key is a string, a `Value` holds no NaN and a `Timestamp` is in range by
    /// construction, so serializing into a `Vec` cannot fail.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        serde_json::to_writer(out, self).expect("an Envelope always serializes");
    }
}

impl Serialize for Envelope {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1 + self.extra.len()))?;
        map.serialize_entry("message", &self.message)?;
        for (k, v) in &self.extra {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}
