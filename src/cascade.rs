//! The server cascade: which of the configured servers receives an event.
//!
//! A [`Cascade`] holds the surfaces of one call (tool, assistant, phone number, account), read
//! from Vapi-shaped JSON with [`Cascade::from_json`]; [`Cascade::resolve`] picks the most
//! specific [`Server`] for an event type and says which [`Level`] won ([`Resolved`]). A server
//! carries its URL, timeout, headers, how it authenticates ([`ServerAuth`]) and the
//! [`RetryPlan`] its `backoffPlan` describes.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use crate::event::{Event, FINAL_TRANSCRIPT};
use crate::guard::{is_forbidden_header, is_sensitive_header};
use crate::outbox::RetryPlan;
use crate::outbox::plan::{BackoffFault, BackoffPlanJson};
use crate::vars::Secret;

/// The event types sent when an assistant sets no `serverMessages` (Vapi's default list).
/// `function-call`, `hang`, `handoff-destination-request` and `assistant.started` are not
/// typed by this crate; they pass when a runtime emits them.
pub const DEFAULT_SERVER_MESSAGES: [&str; 11] = [
    "conversation-update",
    "end-of-call-report",
    "function-call",
    "hang",
    "speech-update",
    "status-update",
    "tool-calls",
    "transfer-destination-request",
    "handoff-destination-request",
    "user-interrupted",
    "assistant.started",
];

/// Event types `serverMessages` does not filter: the call waits for their answer.
const UNFILTERED: [&str; 5] = [
    "assistant-request",
    "voice-request",
    "knowledge-base-request",
    "call.endpointing.request",
    "campaign.predial",
];

/// The names a `serverMessages` list may hold (Vapi's subscribable types).
const SUBSCRIBABLE: [&str; 27] = [
    "conversation-update",
    "end-of-call-report",
    "function-call",
    "hang",
    "speech-update",
    "status-update",
    "tool-calls",
    "transfer-destination-request",
    "handoff-destination-request",
    "user-interrupted",
    "assistant.started",
    "model-output",
    "phone-call-control",
    "transfer-update",
    "transcript",
    FINAL_TRANSCRIPT,
    "language-change-detected",
    "voice-input",
    "assistant.speechStarted",
    "chat.created",
    "chat.deleted",
    "session.created",
    "session.updated",
    "session.deleted",
    "call.deleted",
    "call.delete.failed",
    "call.artifact.upload",
];

/// The default request timeout of a server, in seconds.
pub const DEFAULT_SERVER_TIMEOUT_SECONDS: u16 = 20;
/// The longest request timeout a server may set, in seconds.
pub const MAX_SERVER_TIMEOUT_SECONDS: u16 = 300;

/// A surface of the cascade: where a server was configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Level {
    /// `tool.server`: the function tool being called (tool-calls only).
    Tool,
    /// `assistant.server`.
    AssistantServer,
    /// Legacy `assistant.serverUrl` with `serverUrlSecret`.
    AssistantServerUrl,
    /// `phoneNumber.server`.
    PhoneNumberServer,
    /// Legacy `phoneNumber.serverUrl` with `serverUrlSecret`.
    PhoneNumberServerUrl,
    /// `account.server` (Vapi's org server): the account-wide webhook endpoint.
    Account,
    /// `assistant.voice.server`: a custom voice (voice-request only).
    AssistantVoice,
    /// `assistant.knowledgeBase.server`: a custom knowledge base (knowledge-base-request only).
    AssistantKnowledgeBase,
    /// `assistant.startSpeakingPlan.smartEndpointingPlan.server` (call.endpointing.request).
    AssistantEndpointing,
}

impl Level {
    /// Every level.
    pub const ALL: [Level; 9] = [
        Level::Tool,
        Level::AssistantServer,
        Level::AssistantServerUrl,
        Level::PhoneNumberServer,
        Level::PhoneNumberServerUrl,
        Level::Account,
        Level::AssistantVoice,
        Level::AssistantKnowledgeBase,
        Level::AssistantEndpointing,
    ];

    /// The level's name for logs: the config path it comes from (`assistant.serverUrl`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Tool => "tool",
            Level::AssistantServer => "assistant.server",
            Level::AssistantServerUrl => "assistant.serverUrl",
            Level::PhoneNumberServer => "phoneNumber.server",
            Level::PhoneNumberServerUrl => "phoneNumber.serverUrl",
            Level::Account => "account",
            Level::AssistantVoice => "assistant.voice.server",
            Level::AssistantKnowledgeBase => "assistant.knowledgeBase.server",
            Level::AssistantEndpointing => {
                "assistant.startSpeakingPlan.smartEndpointingPlan.server"
            }
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a server authenticates our requests, besides the Standard Webhooks signature.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerAuth {
    /// Nothing more.
    None,
    /// A stored credential, by id (`credentialId`); the host resolves it.
    Credential(String),
    /// A legacy shared secret (`secret`, `serverUrlSecret`), sent as `X-Vapi-Secret` for
    /// older receivers ([`crate::sign::legacy_secret_header`]).
    LegacySecret(Secret),
}

/// A server events are sent to: Vapi's `Server` object.
#[derive(Debug, Clone)]
pub struct Server {
    url: Url,
    timeout_seconds: u16,
    headers: HeaderMap,
    auth: ServerAuth,
    retry_plan: Option<RetryPlan>,
}

impl Server {
    /// A server at `url` with the defaults: 20 s timeout, no headers, no retries.
    ///
    /// # Errors
    /// [`CascadeProblem::Url`] unless it is an absolute http(s) URL with a host and no
    /// credentials.
    pub fn new(url: &str) -> Result<Self, CascadeError> {
        Ok(Server {
            url: check_url(url).map_err(|p| CascadeError::new("url", p))?,
            timeout_seconds: DEFAULT_SERVER_TIMEOUT_SECONDS,
            headers: HeaderMap::new(),
            auth: ServerAuth::None,
            retry_plan: None,
        })
    }

    /// Reads a Vapi-shaped `Server` object: `url`, `timeoutSeconds` (1 to 300, default 20),
    /// `headers`, `credentialId` or legacy `secret`, `backoffPlan`. Other Vapi fields
    /// (`staticIpAddressesEnabled`, `encryptedPaths`) are not supported and ignored.
    ///
    /// # Errors
    /// A [`CascadeError`] naming the field.
    pub fn from_value(value: Value) -> Result<Self, CascadeError> {
        let raw: RawServer = serde_path_to_error::deserialize(value).map_err(path_error)?;
        Self::from_raw(raw, "")
    }

    fn from_raw(raw: RawServer, at: &str) -> Result<Self, CascadeError> {
        let field = |name: &str| format!("{at}{name}");
        let url = raw
            .url
            .ok_or_else(|| CascadeError::new(field("url"), CascadeProblem::MissingUrl))?;
        let mut server =
            Server::new(&url).map_err(|e| CascadeError::new(field("url"), e.problem))?;
        if let Some(t) = raw.timeout_seconds {
            server.timeout_seconds = check_timeout(t).ok_or_else(|| {
                CascadeError::new(
                    field("timeoutSeconds"),
                    CascadeProblem::Timeout(t.to_string()),
                )
            })?;
        }
        for (name, value) in raw.headers {
            let at = field(&format!("headers.{name}"));
            let header = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| CascadeError::new(&at, CascadeProblem::HeaderName(name.clone())))?;
            if is_forbidden_header(&name) {
                return Err(CascadeError::new(
                    &at,
                    CascadeProblem::ForbiddenHeader(name),
                ));
            }
            let mut value = HeaderValue::from_str(&value)
                .map_err(|_| CascadeError::new(&at, CascadeProblem::HeaderValue))?;
            value.set_sensitive(is_sensitive_header(&name));
            server.headers.append(header, value);
        }
        server.auth = match (raw.credential_id, raw.secret) {
            (Some(_), Some(_)) => {
                return Err(CascadeError::new(
                    field("secret"),
                    CascadeProblem::CredentialAndSecret,
                ));
            }
            (Some(id), None) => ServerAuth::Credential(id),
            (None, Some(secret)) => legacy_secret(secret, &field("secret"))?,
            (None, None) => ServerAuth::None,
        };
        if let Some(plan) = raw.backoff_plan {
            server.retry_plan = Some(plan.check().map_err(|fault| {
                let at = field(&format!("backoffPlan.{}", fault.field()));
                CascadeError::new(at, backoff_problem(fault))
            })?);
        }
        Ok(server)
    }

    /// Where requests go.
    #[must_use]
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The request timeout, 1 to 300 s.
    #[must_use]
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(u64::from(self.timeout_seconds))
    }

    /// The request timeout in seconds.
    #[must_use]
    pub fn timeout_seconds(&self) -> u16 {
        self.timeout_seconds
    }

    /// The configured headers, sent as they are (credential-like ones marked sensitive).
    #[must_use]
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// How the server authenticates our requests.
    #[must_use]
    pub fn auth(&self) -> &ServerAuth {
        &self.auth
    }

    /// The retry plan read from `backoffPlan`; `None` means no retries (Vapi's default).
    #[must_use]
    pub fn retry_plan(&self) -> Option<&RetryPlan> {
        self.retry_plan.as_ref()
    }

    /// With a request timeout.
    ///
    /// # Errors
    /// [`CascadeProblem::Timeout`] outside 1..=300.
    pub fn with_timeout_seconds(mut self, seconds: u16) -> Result<Self, CascadeError> {
        self.timeout_seconds = check_timeout(f64::from(seconds)).ok_or_else(|| {
            CascadeError::new(
                "timeoutSeconds",
                CascadeProblem::Timeout(seconds.to_string()),
            )
        })?;
        Ok(self)
    }

    /// With this authentication.
    #[must_use]
    pub fn with_auth(mut self, auth: ServerAuth) -> Self {
        self.auth = auth;
        self
    }

    /// With a retry plan (what `backoffPlan` sets in JSON).
    #[must_use]
    pub fn with_retry_plan(mut self, plan: RetryPlan) -> Self {
        self.retry_plan = Some(plan);
        self
    }
}

fn check_url(text: &str) -> Result<Url, CascadeProblem> {
    let url = Url::parse(text).map_err(|e| CascadeProblem::Url(format!("`{text}`: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(CascadeProblem::Url(format!(
            "`{}`: only http and https",
            url.scheme()
        )));
    }
    if url.host().is_none() {
        return Err(CascadeProblem::Url("the URL has no host".into()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(CascadeProblem::Url(
            "credentials in the URL are refused; use headers or a credential".into(),
        ));
    }
    Ok(url)
}

fn check_timeout(seconds: f64) -> Option<u16> {
    let ok =
        seconds.fract() == 0.0 && (1.0..=f64::from(MAX_SERVER_TIMEOUT_SECONDS)).contains(&seconds);
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    ok.then_some(seconds as u16)
}

/// A `backoffPlan` field out of range, in this config's words.
fn backoff_problem(fault: BackoffFault) -> CascadeProblem {
    match fault {
        BackoffFault::MaxRetries(got) => CascadeProblem::MaxRetries(got.to_string()),
        BackoffFault::BaseDelay(got) => CascadeProblem::BaseDelay(got.to_string()),
        BackoffFault::Status { code, .. } => CascadeProblem::StatusCode(code.to_string()),
    }
}

fn legacy_secret(secret: String, field: &str) -> Result<ServerAuth, CascadeError> {
    if secret.is_empty() || HeaderValue::from_str(&secret).is_err() {
        return Err(CascadeError::new(field, CascadeProblem::HeaderValue));
    }
    Ok(ServerAuth::LegacySecret(Secret::new(secret)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawServer {
    url: Option<String>,
    timeout_seconds: Option<f64>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    credential_id: Option<String>,
    secret: Option<String>,
    backoff_plan: Option<BackoffPlanJson>,
}

/// A cascade config that cannot be used, with the field at fault
/// (`assistant.server.timeoutSeconds`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("server config `{field}`: {problem}")]
pub struct CascadeError {
    field: String,
    problem: CascadeProblem,
}

impl CascadeError {
    fn new(field: impl Into<String>, problem: CascadeProblem) -> Self {
        CascadeError {
            field: field.into(),
            problem,
        }
    }

    /// The field at fault, as a dotted path.
    #[must_use]
    pub fn field(&self) -> &str {
        &self.field
    }

    /// What is wrong with it.
    #[must_use]
    pub fn problem(&self) -> &CascadeProblem {
        &self.problem
    }
}

/// What is wrong with a server-config field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CascadeProblem {
    /// Not valid JSON or a wrong type (the parser's message).
    #[error("{0}")]
    Invalid(String),
    /// A `server` object without `url`.
    #[error("`url` is required")]
    MissingUrl,
    /// A URL that does not parse, is not http(s), has no host or carries credentials.
    #[error("{0}")]
    Url(String),
    /// A timeout outside 1..=300 whole seconds.
    #[error("timeout {0} s is out of range 1..=300 (whole seconds)")]
    Timeout(String),
    /// A header name that is not a valid HTTP token.
    #[error("`{0}` is not a valid header name")]
    HeaderName(String),
    /// A header the HTTP client owns (`Host`, `Content-Length`, hop-by-hop headers).
    #[error("header `{0}` is set by the HTTP client and may not be configured")]
    ForbiddenHeader(String),
    /// A header value (or legacy secret) that is empty or has a byte a header may not carry.
    #[error("value is empty or contains a control character")]
    HeaderValue,
    /// Both `credentialId` and a legacy `secret`.
    #[error("set either `credentialId` or the legacy `secret`, not both")]
    CredentialAndSecret,
    /// `backoffPlan.maxRetries` outside 0..=10.
    #[error("maxRetries {0} is out of range 0..=10")]
    MaxRetries(String),
    /// `backoffPlan.baseDelaySeconds` outside 0..=10.
    #[error("baseDelaySeconds {0} is out of range 0..=10")]
    BaseDelay(String),
    /// An excluded status code outside 100..=599.
    #[error("{0} is not an HTTP status code")]
    StatusCode(String),
    /// A `serverMessages` entry that is not a subscribable event type.
    #[error("`{0}` is not an event type serverMessages can list")]
    UnknownServerMessage(String),
}

fn path_error(e: serde_path_to_error::Error<serde_json::Error>) -> CascadeError {
    let path = e.path().to_string();
    CascadeError::new(
        if path == "." { String::new() } else { path },
        CascadeProblem::Invalid(e.into_inner().to_string()),
    )
}

/// The server that takes an event and the level it was configured at (for logs).
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Resolved<'a> {
    /// Where to send.
    pub server: &'a Server,
    /// Which surface won.
    pub level: Level,
}

/// Why an event goes nowhere.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoTarget {
    /// The assistant's `serverMessages` does not list it (or the default list lacks it).
    #[error("`{event_type}` is not in the assistant's serverMessages")]
    NotSubscribed {
        /// The event type.
        event_type: String,
    },
    /// No level this event may go to has a server.
    #[error("no server for `{event_type}`: none configured at {}", levels(tried))]
    NoServer {
        /// The event type.
        event_type: String,
        /// The levels tried, most specific first.
        tried: &'static [Level],
    },
}

fn levels(tried: &[Level]) -> String {
    tried
        .iter()
        .map(|l| l.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The configured surfaces of one call, and the rules that pick a server per event.
///
/// Build one per call (the tool level belongs to the tool being called) from Vapi-shaped
/// JSON ([`Cascade::from_json`]) or with [`Cascade::with_server`]. Resolution is pure.
///
/// An event goes to exactly one server: the most specific one configured for it. The
/// surfaces, most specific first, and the level names [`Level::as_str`] gives for logs:
///
/// | level | where it is configured (Vapi-shaped JSON) |
/// |---|---|
/// | `tool` | `tool.server` (the function tool being called) |
/// | `assistant.server` | `assistant.server` |
/// | `assistant.serverUrl` | legacy `assistant.serverUrl` (+ `serverUrlSecret`) |
/// | `phoneNumber.server` | `phoneNumber.server` |
/// | `phoneNumber.serverUrl` | legacy `phoneNumber.serverUrl` (+ `serverUrlSecret`) |
/// | `account` | `account.server` (Vapi's `org.server`; `org` is read too) |
/// | `assistant.voice.server` | custom voice: `assistant.voice.server` |
/// | `assistant.knowledgeBase.server` | custom knowledge base: `assistant.knowledgeBase.server` |
/// | `assistant.startSpeakingPlan.smartEndpointingPlan.server` | custom endpointing |
///
/// # Rules per event type ([`Cascade::levels_for`])
/// | event type | levels tried, in order |
/// |---|---|
/// | `tool-calls` | tool > assistant.server > assistant.serverUrl > phoneNumber.server > phoneNumber.serverUrl > account |
/// | `assistant-request` | phoneNumber.server > phoneNumber.serverUrl > account (no assistant is chosen yet) |
/// | `voice-request` | assistant.voice.server only (Vapi: the answer is raw audio, a generic webhook cannot give it) |
/// | `knowledge-base-request` | assistant.knowledgeBase.server only (Vapi) |
/// | `call.endpointing.request` | assistant.startSpeakingPlan.smartEndpointingPlan.server > assistant.server > assistant.serverUrl > account (Vapi skips the phone number) |
/// | any other type | assistant.server > assistant.serverUrl > phoneNumber.server > phoneNumber.serverUrl > account |
///
/// # `serverMessages`
/// An assistant's `serverMessages` list (Vapi) says which event types are sent at all; an
/// event not in it resolves to [`NoTarget::NotSubscribed`] whatever level would take it.
/// Without a list, [`DEFAULT_SERVER_MESSAGES`] applies (Vapi's default). The request events
/// whose answer the call needs (`assistant-request`, `voice-request`,
/// `knowledge-base-request`, `call.endpointing.request`, `campaign.predial`) are never
/// filtered. A list entry `transcript` takes every transcript; the entry
/// `transcript[transcriptType="final"]` only final ones ([`Cascade::resolve_event`]).
///
/// ```
/// use agent_webhooks::{Cascade, Level};
/// let cascade = Cascade::from_json(r#"{
///   "assistant": {"server": {"url": "https://hooks.example.com/assistant", "timeoutSeconds": 10}},
///   "phoneNumber": {"serverUrl": "https://hooks.example.com/legacy", "serverUrlSecret": "s3cret"},
///   "account": {"server": {"url": "https://hooks.example.com/account"}}
/// }"#)?;
/// let to = cascade.resolve("status-update")?;
/// assert_eq!((to.level, to.server.url().as_str()), (Level::AssistantServer, "https://hooks.example.com/assistant"));
/// let to = cascade.resolve("assistant-request")?;
/// assert_eq!(to.level, Level::PhoneNumberServerUrl);
/// assert!(cascade.resolve("transcript").is_err()); // not in the default serverMessages
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Cascade {
    servers: [Option<Server>; 9],
    server_messages: Option<Vec<String>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawCascade {
    tool: Option<RawSurface>,
    assistant: Option<RawAssistant>,
    phone_number: Option<RawSurface>,
    #[serde(alias = "org")]
    account: Option<RawSurface>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawSurface {
    server: Option<RawServer>,
    server_url: Option<String>,
    server_url_secret: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawAssistant {
    server: Option<RawServer>,
    server_url: Option<String>,
    server_url_secret: Option<String>,
    server_messages: Option<Vec<String>>,
    voice: Option<RawNested>,
    knowledge_base: Option<RawNested>,
    start_speaking_plan: Option<RawSpeakingPlan>,
}

#[derive(Deserialize, Default)]
struct RawNested {
    server: Option<RawServer>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawSpeakingPlan {
    smart_endpointing_plan: Option<RawNested>,
}

const TOOL_CALLS: &[Level] = &[
    Level::Tool,
    Level::AssistantServer,
    Level::AssistantServerUrl,
    Level::PhoneNumberServer,
    Level::PhoneNumberServerUrl,
    Level::Account,
];
const ASSISTANT_REQUEST: &[Level] = &[
    Level::PhoneNumberServer,
    Level::PhoneNumberServerUrl,
    Level::Account,
];
const VOICE: &[Level] = &[Level::AssistantVoice];
const KNOWLEDGE_BASE: &[Level] = &[Level::AssistantKnowledgeBase];
const ENDPOINTING: &[Level] = &[
    Level::AssistantEndpointing,
    Level::AssistantServer,
    Level::AssistantServerUrl,
    Level::Account,
];
const GENERAL: &[Level] = &[
    Level::AssistantServer,
    Level::AssistantServerUrl,
    Level::PhoneNumberServer,
    Level::PhoneNumberServerUrl,
    Level::Account,
];

impl Cascade {
    /// An empty cascade: every event resolves to [`NoTarget`].
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads the surfaces from Vapi-shaped JSON: `tool`, `assistant`, `phoneNumber` and
    /// `account` (or `org`) objects, each with a `server`, and for assistant and phone number
    /// the legacy `serverUrl` + `serverUrlSecret`; the assistant's `serverMessages`, `voice`,
    /// `knowledgeBase` and `startSpeakingPlan.smartEndpointingPlan` servers. Other fields of
    /// those objects are ignored, so whole Vapi assistant or phone-number objects load. An
    /// empty `url` or `serverUrl` (what dashboards save when cleared) means "not configured".
    ///
    /// # Errors
    /// A [`CascadeError`] naming the field.
    pub fn from_json(json: &str) -> Result<Self, CascadeError> {
        let de = &mut serde_json::Deserializer::from_str(json);
        let raw: RawCascade = serde_path_to_error::deserialize(de).map_err(path_error)?;
        Self::from_raw(raw)
    }

    /// As [`Cascade::from_json`], from a JSON value.
    ///
    /// # Errors
    /// As [`Cascade::from_json`].
    pub fn from_value(value: Value) -> Result<Self, CascadeError> {
        let raw: RawCascade = serde_path_to_error::deserialize(value).map_err(path_error)?;
        Self::from_raw(raw)
    }

    fn from_raw(raw: RawCascade) -> Result<Self, CascadeError> {
        let mut c = Cascade::new();
        let RawCascade {
            tool,
            assistant,
            phone_number,
            account,
        } = raw;
        let tool = tool.unwrap_or_default();
        c.set(Level::Tool, tool.server, "tool.server.")?;
        let assistant = assistant.unwrap_or_default();
        c.set(
            Level::AssistantServer,
            assistant.server,
            "assistant.server.",
        )?;
        c.set_legacy(
            Level::AssistantServerUrl,
            assistant.server_url,
            assistant.server_url_secret,
            "assistant.",
        )?;
        c.set(
            Level::AssistantVoice,
            assistant.voice.and_then(|v| v.server),
            "assistant.voice.server.",
        )?;
        c.set(
            Level::AssistantKnowledgeBase,
            assistant.knowledge_base.and_then(|v| v.server),
            "assistant.knowledgeBase.server.",
        )?;
        c.set(
            Level::AssistantEndpointing,
            assistant
                .start_speaking_plan
                .and_then(|p| p.smart_endpointing_plan)
                .and_then(|p| p.server),
            "assistant.startSpeakingPlan.smartEndpointingPlan.server.",
        )?;
        if let Some(list) = assistant.server_messages {
            c = c.with_server_messages(list)?;
        }
        let phone = phone_number.unwrap_or_default();
        c.set(
            Level::PhoneNumberServer,
            phone.server,
            "phoneNumber.server.",
        )?;
        c.set_legacy(
            Level::PhoneNumberServerUrl,
            phone.server_url,
            phone.server_url_secret,
            "phoneNumber.",
        )?;
        let account = account.unwrap_or_default();
        c.set(Level::Account, account.server, "account.server.")?;
        Ok(c)
    }

    fn set(&mut self, level: Level, raw: Option<RawServer>, at: &str) -> Result<(), CascadeError> {
        if let Some(raw) = raw.filter(|r| r.url.as_deref() != Some("")) {
            self.servers[level as usize] = Some(Server::from_raw(raw, at)?);
        }
        Ok(())
    }

    fn set_legacy(
        &mut self,
        level: Level,
        url: Option<String>,
        secret: Option<String>,
        at: &str,
    ) -> Result<(), CascadeError> {
        let Some(url) = url.filter(|u| !u.is_empty()) else {
            return Ok(());
        };
        let mut server = Server::new(&url)
            .map_err(|e| CascadeError::new(format!("{at}serverUrl"), e.problem))?;
        if let Some(secret) = secret.filter(|s| !s.is_empty()) {
            server.auth = legacy_secret(secret, &format!("{at}serverUrlSecret"))?;
        }
        self.servers[level as usize] = Some(server);
        Ok(())
    }

    /// With `server` at `level` (replacing what was there).
    #[must_use]
    pub fn with_server(mut self, level: Level, server: Server) -> Self {
        self.servers[level as usize] = Some(server);
        self
    }

    /// With the assistant's `serverMessages` list.
    ///
    /// # Errors
    /// [`CascadeProblem::UnknownServerMessage`] for an entry that is not a subscribable event
    /// type (a typo would silently drop events).
    pub fn with_server_messages<I, S>(mut self, list: I) -> Result<Self, CascadeError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut names = Vec::new();
        for (i, name) in list.into_iter().enumerate() {
            let name = name.into();
            if !SUBSCRIBABLE.contains(&name.as_str()) {
                return Err(CascadeError::new(
                    format!("assistant.serverMessages[{i}]"),
                    CascadeProblem::UnknownServerMessage(name),
                ));
            }
            names.push(name);
        }
        self.server_messages = Some(names);
        Ok(self)
    }

    /// The server configured at `level`, if any.
    #[must_use]
    pub fn server(&self, level: Level) -> Option<&Server> {
        self.servers[level as usize].as_ref()
    }

    /// The levels an event type may go to, most specific first (the table in the
    /// [`Cascade`] docs).
    #[must_use]
    pub fn levels_for(event_type: &str) -> &'static [Level] {
        match event_type {
            "tool-calls" => TOOL_CALLS,
            "assistant-request" => ASSISTANT_REQUEST,
            "voice-request" => VOICE,
            "knowledge-base-request" => KNOWLEDGE_BASE,
            "call.endpointing.request" => ENDPOINTING,
            _ => GENERAL,
        }
    }

    /// Whether `serverMessages` (or the default list) lets an event through; `name` is its
    /// [`Event::subscription_name`].
    #[must_use]
    pub fn is_subscribed(&self, event_type: &str, name: &str) -> bool {
        if UNFILTERED.contains(&event_type) {
            return true;
        }
        let listed = |n: &str| match &self.server_messages {
            Some(list) => list.iter().any(|m| m == n),
            None => DEFAULT_SERVER_MESSAGES.contains(&n),
        };
        listed(name) || (name == FINAL_TRANSCRIPT && listed("transcript"))
    }

    /// The server that takes events of `event_type` and the level it won at.
    ///
    /// A final transcript is listed as `transcript[transcriptType="final"]`; use
    /// [`Cascade::resolve_event`] for events so that name is honoured.
    ///
    /// # Errors
    /// [`NoTarget::NotSubscribed`] when `serverMessages` filters it out,
    /// [`NoTarget::NoServer`] when none of its levels has a server.
    pub fn resolve(&self, event_type: &str) -> Result<Resolved<'_>, NoTarget> {
        self.route(event_type, event_type)
    }

    /// As [`Cascade::resolve`], for an event (honours the final-transcript name).
    ///
    /// # Errors
    /// As [`Cascade::resolve`].
    pub fn resolve_event(&self, event: &Event) -> Result<Resolved<'_>, NoTarget> {
        self.route(event.event_type(), event.subscription_name())
    }

    fn route(&self, event_type: &str, name: &str) -> Result<Resolved<'_>, NoTarget> {
        if !self.is_subscribed(event_type, name) {
            return Err(NoTarget::NotSubscribed {
                event_type: name.to_owned(),
            });
        }
        let tried = Self::levels_for(event_type);
        tried
            .iter()
            .find_map(|&level| self.server(level).map(|server| Resolved { server, level }))
            .ok_or_else(|| NoTarget::NoServer {
                event_type: event_type.to_owned(),
                tried,
            })
    }
}
