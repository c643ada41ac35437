//! Runtime variables: what a call knows, which agent kinds know it, and tenant secrets.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::event::Timestamp;

/// The kind of agent a tool is compiled for; it decides which runtime variables exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AgentKind {
    /// A voice agent on a phone call: it has the caller's number and the phone-number id.
    #[serde(rename = "phone")]
    PhoneVoice,
    /// A voice agent in a browser or app (WebRTC): no phone number.
    #[serde(rename = "web")]
    WebVoice,
    /// A text chat agent: no phone number.
    Chat,
}

impl AgentKind {
    /// Every agent kind.
    pub const ALL: [AgentKind; 3] = [AgentKind::PhoneVoice, AgentKind::WebVoice, AgentKind::Chat];

    /// The short name used in configs and on the command line: `phone`, `web` or `chat`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            AgentKind::PhoneVoice => "phone",
            AgentKind::WebVoice => "web",
            AgentKind::Chat => "chat",
        }
    }
}

impl fmt::Display for AgentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AgentKind::PhoneVoice => "phone voice agent",
            AgentKind::WebVoice => "web voice agent",
            AgentKind::Chat => "chat agent",
        })
    }
}

/// The error of parsing an [`AgentKind`] from its short name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown agent kind `{0}`, expected phone, web or chat")]
pub struct UnknownAgentKind(String);

impl FromStr for AgentKind {
    type Err = UnknownAgentKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "phone" => Ok(AgentKind::PhoneVoice),
            "web" => Ok(AgentKind::WebVoice),
            "chat" => Ok(AgentKind::Chat),
            other => Err(UnknownAgentKind(other.to_owned())),
        }
    }
}

/// A runtime variable the runtime itself provides (as opposed to tool-call arguments under
/// `args.` and tenant secrets under `secrets.`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Builtin {
    /// `caller_phone`: the caller's number in E.164 (phone voice agents only).
    CallerPhone,
    /// `call_sid`: the telephony or session id of the call or conversation (all agents).
    CallSid,
    /// `agent_id`: the agent handling the call (all agents).
    AgentId,
    /// `tenant_id`: the tenant the agent belongs to (all agents).
    TenantId,
    /// `assistant_id`: the assistant configuration in use (all agents).
    AssistantId,
    /// `phone_number_id`: the runtime's id of the phone number called (phone voice agents only).
    PhoneNumberId,
    /// `call_id`: the runtime's own id of the call or chat (all agents).
    CallId,
    /// `phone_number`: the runtime's own phone number on the call in E.164, the number called
    /// for inbound calls and the caller id for outbound ones (phone voice agents only).
    PhoneNumber,
    /// `call_type`: what kind of call this is, as the host names it (Vapi writes
    /// `inboundPhoneCall`, `outboundPhoneCall`, `webCall`) (all agents).
    CallType,
}

impl Builtin {
    /// Every runtime variable, in a stable order.
    pub const ALL: [Builtin; 9] = [
        Builtin::CallerPhone,
        Builtin::CallSid,
        Builtin::AgentId,
        Builtin::TenantId,
        Builtin::AssistantId,
        Builtin::PhoneNumberId,
        Builtin::CallId,
        Builtin::PhoneNumber,
        Builtin::CallType,
    ];

    /// The name used in templates, e.g. `caller_phone`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Builtin::CallerPhone => "caller_phone",
            Builtin::CallSid => "call_sid",
            Builtin::AgentId => "agent_id",
            Builtin::TenantId => "tenant_id",
            Builtin::AssistantId => "assistant_id",
            Builtin::PhoneNumberId => "phone_number_id",
            Builtin::CallId => "call_id",
            Builtin::PhoneNumber => "phone_number",
            Builtin::CallType => "call_type",
        }
    }

    /// The variable with this template name, if there is one.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Builtin> {
        Builtin::ALL.into_iter().find(|b| b.name() == name)
    }

    /// Whether agents of `kind` have this variable.
    #[must_use]
    pub fn is_available(self, kind: AgentKind) -> bool {
        match self {
            Builtin::CallerPhone | Builtin::PhoneNumberId | Builtin::PhoneNumber => {
                kind == AgentKind::PhoneVoice
            }
            _ => true,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A tenant secret value. Its `Debug` and `Display` never print the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    #[must_use]
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret value itself; only for placing it where it belongs (a header value).
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

/// The values of one call: runtime variables, the tool-call arguments the model produced
/// (`{{args.NAME}}` in templates, dotted paths reach into objects: `{{args.customer.id}}`) and
/// the tenant's secrets (`{{secrets.NAME}}`, header values only).
///
/// Deserializes from the shape `webhookctl render --vars` reads:
/// `{"caller_phone": "...", "call_sid": "...", "agent_id": "...", "tenant_id": "...",
/// "assistant_id": "...", "phone_number_id": "...", "call_id": "...", "phone_number": "...",
/// "call_type": "...", "now": "2026-05-31T00:00:00.000Z", "args": {...},
/// "secrets": {"NAME": "value"}}`, every field optional.
///
/// ```
/// use agent_webhooks::{Builtin, Vars};
/// let vars = Vars::new()
///     .with(Builtin::CallerPhone, "+15551234567")
///     .with_arg("order_id", 42)
///     .with_secret("crm_key", "sk_live_123");
/// assert_eq!(vars.builtin(Builtin::CallerPhone), Some("+15551234567"));
/// assert!(!format!("{vars:?}").contains("sk_live_123"));
/// ```
#[derive(Clone, Default, PartialEq)]
pub struct Vars {
    builtins: [Option<String>; Builtin::ALL.len()],
    now: Option<Timestamp>,
    args: Map<String, Value>,
    secrets: BTreeMap<String, Secret>,
}

impl Vars {
    /// No values at all.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a runtime variable.
    #[must_use]
    pub fn with(mut self, var: Builtin, value: impl Into<String>) -> Self {
        self.set(var, value);
        self
    }

    /// Sets a runtime variable in place.
    pub fn set(&mut self, var: Builtin, value: impl Into<String>) {
        self.builtins[var.index()] = Some(value.into());
    }

    /// Sets the clock reading of this call: what `{{now}}` and the `date` filter show. The core
    /// never reads the system clock; the host passes the instant in (from its
    /// [`Clock`](crate::outbox::Clock), say).
    #[must_use]
    pub fn with_now(mut self, now: Timestamp) -> Self {
        self.now = Some(now);
        self
    }

    /// The clock reading of this call, if the host set one.
    #[must_use]
    pub fn now(&self) -> Option<Timestamp> {
        self.now
    }

    /// Sets one tool-call argument.
    #[must_use]
    pub fn with_arg(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.args.insert(name.into(), value.into());
        self
    }

    /// Replaces the tool-call arguments with the object the model produced.
    #[must_use]
    pub fn with_args(mut self, args: Map<String, Value>) -> Self {
        self.args = args;
        self
    }

    /// Sets one tenant secret.
    #[must_use]
    pub fn with_secret(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.secrets.insert(name.into(), Secret::new(value));
        self
    }

    /// A runtime variable's value, if the runtime has it for this call.
    #[must_use]
    pub fn builtin(&self, var: Builtin) -> Option<&str> {
        self.builtins[var.index()].as_deref()
    }

    /// The tool-call arguments.
    #[must_use]
    pub fn args(&self) -> &Map<String, Value> {
        &self.args
    }

    /// The argument at a dotted path (`["customer", "id"]`), if present.
    #[must_use]
    pub fn arg_path(&self, path: &[String]) -> Option<&Value> {
        let (first, rest) = path.split_first()?;
        let mut value = self.args.get(first)?;
        for seg in rest {
            value = match value {
                Value::Object(map) => map.get(seg)?,
                Value::Array(items) => items.get(seg.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some(value)
    }

    /// A tenant secret, if present.
    #[must_use]
    pub fn secret(&self, name: &str) -> Option<&Secret> {
        self.secrets.get(name)
    }
}

#[allow(
    clippy::missing_fields_in_debug,
    reason = "builtins are printed by name, one field each; secret values are left out on purpose"
)]
impl fmt::Debug for Vars {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("Vars");
        for var in Builtin::ALL {
            if let Some(v) = self.builtin(var) {
                s.field(var.name(), &v);
            }
        }
        if let Some(now) = self.now {
            s.field("now", &now.to_string());
        }
        s.field("args", &self.args);
        s.field("secrets", &self.secrets.keys().collect::<Vec<_>>());
        s.finish()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VarsFile {
    caller_phone: Option<String>,
    call_sid: Option<String>,
    agent_id: Option<String>,
    tenant_id: Option<String>,
    assistant_id: Option<String>,
    phone_number_id: Option<String>,
    call_id: Option<String>,
    phone_number: Option<String>,
    call_type: Option<String>,
    now: Option<Timestamp>,
    #[serde(default)]
    args: Map<String, Value>,
    #[serde(default)]
    secrets: BTreeMap<String, Secret>,
}

impl<'de> Deserialize<'de> for Vars {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let f = VarsFile::deserialize(d)?;
        let builtins = [
            f.caller_phone,
            f.call_sid,
            f.agent_id,
            f.tenant_id,
            f.assistant_id,
            f.phone_number_id,
            f.call_id,
            f.phone_number,
            f.call_type,
        ];
        Ok(Vars {
            builtins,
            now: f.now,
            args: f.args,
            secrets: f.secrets,
        })
    }
}

/// A platform users migrate from; each names the runtime's variables its own way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Platform {
    /// Vapi: LiquidJS over `customer.number`, `call.id`, `phoneNumber.*`, `now`, ...
    Vapi,
    /// ElevenLabs Agents: `system__caller_id`, `system__conversation_id`, `secret__*`, ...
    ElevenLabs,
    /// Retell AI: `user_number`, `agent_number`, `call_id`, `current_time_*`, ...
    Retell,
    /// Bland AI: `phone_number`, `call_id`, `now_utc`, `input.*` for the model's input, ...
    Bland,
}

impl Platform {
    /// Every platform.
    pub const ALL: [Platform; 4] = [
        Platform::Vapi,
        Platform::ElevenLabs,
        Platform::Retell,
        Platform::Bland,
    ];

    /// The short name used on the command line: `vapi`, `elevenlabs`, `retell`, `bland`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Vapi => "vapi",
            Platform::ElevenLabs => "elevenlabs",
            Platform::Retell => "retell",
            Platform::Bland => "bland",
        }
    }

    /// What the platform's variable `name` is in this crate's templates.
    ///
    /// Names are taken as the platform writes them, outer spaces trimmed; Bland's are
    /// case-insensitive. Model input is not looked up here except Bland's `input.x`
    /// (Vapi and Retell name tool arguments bare; their importers know the argument names).
    /// Availability per agent kind stays ours: `customer.number` becomes `caller_phone`, which
    /// a chat agent does not have, so a chat tool using it does not compile.
    ///
    /// ```
    /// use agent_webhooks::import::{MappedVariable, Platform};
    /// assert_eq!(
    ///     Platform::Vapi.map_variable("customer.number"),
    ///     Ok(MappedVariable::Var("caller_phone".into()))
    /// );
    /// assert_eq!(
    ///     Platform::ElevenLabs.map_variable("secret__crm_key"),
    ///     Ok(MappedVariable::Var("secrets.crm_key".into()))
    /// );
    /// let err = Platform::ElevenLabs.map_variable("system__call_duration_secs").unwrap_err();
    /// assert!(err.to_string().contains("system__call_duration_secs"));
    /// ```
    ///
    /// # Errors
    /// An [`UnmappedVariable`] saying why the name has no equivalent here (a platform-only
    /// concept, a time zone, a custom variable this runtime has no value for).
    pub fn map_variable(self, name: &str) -> Result<MappedVariable, UnmappedVariable> {
        let name = name.trim();
        let found = match self {
            Platform::Vapi => vapi_variable(name),
            Platform::ElevenLabs => elevenlabs_variable(name),
            Platform::Retell => retell_variable(name),
            Platform::Bland => bland_variable(name),
        };
        found.map_err(|reason| UnmappedVariable {
            platform: self,
            name: name.to_owned(),
            reason,
        })
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Platform::Vapi => "Vapi",
            Platform::ElevenLabs => "ElevenLabs",
            Platform::Retell => "Retell",
            Platform::Bland => "Bland",
        })
    }
}

/// The error of parsing a [`Platform`] from its short name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown platform `{0}`, expected vapi, elevenlabs, retell or bland")]
pub struct UnknownPlatform(String);

impl FromStr for Platform {
    type Err = UnknownPlatform;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Platform::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownPlatform(s.to_owned()))
    }
}

/// What a platform variable becomes in this crate's templates.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MappedVariable {
    /// One of this crate's variables, by template name: `caller_phone`, `args.order_id`,
    /// `secrets.crm_key`.
    Var(String),
    /// The call's clock ([`Vars::with_now`]) in UTC, formatted with this strftime pattern
    /// (written `{{ now | date: "..." }}`).
    Clock(&'static str),
}

/// A platform variable with no equivalent in this crate, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{platform} variable `{name}` cannot be mapped: {reason}")]
pub struct UnmappedVariable {
    platform: Platform,
    name: String,
    reason: &'static str,
}

impl UnmappedVariable {
    /// The variable as the platform writes it.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Why it has no equivalent.
    #[must_use]
    pub fn reason(&self) -> &'static str {
        self.reason
    }
}

const NO_CUSTOM: &str = "custom variables have no value in this runtime: make it a tool argument, a tool default (`config.defaults`) or a tenant secret";
const NO_TIME_ZONE: &str =
    "it is local time in a named time zone, and the clock here is UTC only: use a UTC variant";

fn var(name: &str) -> Result<MappedVariable, &'static str> {
    Ok(MappedVariable::Var(name.to_owned()))
}

/// Vapi's default variables (docs.vapi.ai, assistants/dynamic-variables).
fn vapi_variable(name: &str) -> Result<MappedVariable, &'static str> {
    match name {
        "customer.number" => var("caller_phone"),
        "phoneNumber.number" => var("phone_number"),
        "phoneNumber.id" | "call.phoneNumberId" => var("phone_number_id"),
        "call.id" => var("call_id"),
        "call.type" => var("call_type"),
        "call.orgId" => var("tenant_id"),
        "call.assistantId" | "assistant.id" => var("assistant_id"),
        "transport.callSid" => var("call_sid"),
        // Vapi's documented shapes: "Jan 1, 2024 12:00 PM", "Jan 1, 2024", "12:00 PM", ...
        "now" => Ok(MappedVariable::Clock("%b %-d, %Y %-I:%M %p")),
        "date" => Ok(MappedVariable::Clock("%b %-d, %Y")),
        "time" => Ok(MappedVariable::Clock("%-I:%M %p")),
        "month" => Ok(MappedVariable::Clock("%B")),
        "day" => Ok(MappedVariable::Clock("%-d")),
        "year" => Ok(MappedVariable::Clock("%Y")),
        "currentDateTime" => {
            Err("its text format is not documented: use {{ \"now\" | date: \"...\" }}")
        }
        n if n.starts_with("customer.")
            || n.starts_with("phoneNumber.")
            || n.starts_with("call.")
            || n.starts_with("assistant.")
            || n.starts_with("transport.") =>
        {
            Err("this field of Vapi's call objects has no equivalent runtime variable")
        }
        "messages" | "transcript" | "prompt" => {
            Err("conversation content is not a template variable here (it is user speech)")
        }
        _ => Err(NO_CUSTOM),
    }
}

/// ElevenLabs' system and secret variables (elevenlabs.io docs, dynamic-variables).
fn elevenlabs_variable(name: &str) -> Result<MappedVariable, &'static str> {
    if let Some(secret) = name.strip_prefix("secret__") {
        return if secret.is_empty() {
            Err("a secret needs a name after `secret__`")
        } else {
            var(&format!("secrets.{secret}"))
        };
    }
    match name {
        "system__caller_id" => var("caller_phone"),
        "system__called_number" => var("phone_number"),
        "system__call_sid" => var("call_sid"),
        // Ours is the agent handling the call now; before any transfer both are the same.
        "system__agent_id" | "system__current_agent_id" => var("agent_id"),
        "system__conversation_id" => var("call_id"),
        "system__time_utc" => Ok(MappedVariable::Clock("%Y-%m-%dT%H:%M:%S.%LZ")),
        "system__time" | "system__timezone" => Err(NO_TIME_ZONE),
        "system__call_duration_secs" => Err("the call's duration is not a runtime variable here"),
        "system__agent_turns"
        | "system__current_agent_turns"
        | "system__current_subagent_turns"
        | "system__is_text_only"
        | "system__conversation_history" => {
            Err("conversation state is not a template variable here")
        }
        n if n.starts_with("system__") => Err("unknown ElevenLabs system variable"),
        _ => Err(NO_CUSTOM),
    }
}

/// Retell's system variables (docs.retellai.com, build/dynamic-variables).
fn retell_variable(name: &str) -> Result<MappedVariable, &'static str> {
    match name {
        "user_number" => var("caller_phone"),
        "agent_number" => var("phone_number"),
        "call_id" => var("call_id"),
        "current_time_UTC" | "current_time_Etc/UTC" => {
            Ok(MappedVariable::Clock("%A, %B %-d, %Y at %-I:%M:%S %p UTC"))
        }
        "current_time" | "current_calendar" => Err(NO_TIME_ZONE),
        n if n.starts_with("current_time_") || n.starts_with("current_calendar_") => {
            Err(NO_TIME_ZONE)
        }
        "current_agent_state" | "previous_agent_state" => {
            Err("agent states are not a template variable here")
        }
        _ => Err(NO_CUSTOM),
    }
}

/// Bland's built-in variables (docs.bland.ai, tutorials/dynamic-data); case-insensitive.
fn bland_variable(name: &str) -> Result<MappedVariable, &'static str> {
    if let Some(path) = name
        .strip_prefix("input.")
        .or_else(|| name.strip_prefix("INPUT."))
    {
        return if path.is_empty() || path.split('.').any(str::is_empty) {
            Err("`input.` needs a property name")
        } else {
            var(&format!("args.{path}"))
        };
    }
    match name.to_ascii_lowercase().as_str() {
        "phone_number" => var("caller_phone"),
        "call_id" => var("call_id"),
        "now_utc" => Ok(MappedVariable::Clock("%Y-%m-%dT%H:%M:%S.%LZ")),
        "input" => Err("the whole model input is not one value here: name a property, `input.x`"),
        "from" | "to" | "short_from" | "short_to" => Err(
            "whose number it is depends on the call's direction: use `phone_number` (the other party)",
        ),
        "now" => Err(NO_TIME_ZONE),
        "country" | "state" | "city" | "zip" => {
            Err("caller location is not a runtime variable here")
        }
        _ => Err(NO_CUSTOM),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_names_round_trip_and_index_matches_order() {
        for (i, b) in Builtin::ALL.into_iter().enumerate() {
            assert_eq!(Builtin::from_name(b.name()), Some(b));
            assert_eq!(b.index(), i);
        }
        assert_eq!(Builtin::from_name("nope"), None);
    }

    #[test]
    fn vars_file_fields_land_in_their_builtin() {
        let v: Vars = serde_json::from_str(
            r#"{"caller_phone":"1","call_sid":"2","agent_id":"3","tenant_id":"4",
                "assistant_id":"5","phone_number_id":"6","call_id":"7",
                "phone_number":"8","call_type":"9"}"#,
        )
        .unwrap();
        for (i, b) in Builtin::ALL.into_iter().enumerate() {
            assert_eq!(v.builtin(b), Some((i + 1).to_string().as_str()));
        }
    }

    #[test]
    fn arg_paths_walk_objects_and_arrays() {
        let v = Vars::new().with_arg("c", serde_json::json!({"ids": [10, 20]}));
        let path = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            v.arg_path(&path(&["c", "ids", "1"])),
            Some(&Value::from(20))
        );
        assert_eq!(v.arg_path(&path(&["c", "ids", "x"])), None);
        assert_eq!(v.arg_path(&path(&["missing"])), None);
    }
}
