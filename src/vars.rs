//! Runtime variables: what a call knows, which agent kinds know it, and tenant secrets.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::Deserialize;
use serde_json::{Map, Value};

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
}

impl Builtin {
    /// Every runtime variable, in a stable order.
    pub const ALL: [Builtin; 7] = [
        Builtin::CallerPhone,
        Builtin::CallSid,
        Builtin::AgentId,
        Builtin::TenantId,
        Builtin::AssistantId,
        Builtin::PhoneNumberId,
        Builtin::CallId,
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
            Builtin::CallerPhone | Builtin::PhoneNumberId => kind == AgentKind::PhoneVoice,
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
/// "assistant_id": "...", "phone_number_id": "...", "call_id": "...", "args": {...},
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
        ];
        Ok(Vars {
            builtins,
            args: f.args,
            secrets: f.secrets,
        })
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
                "assistant_id":"5","phone_number_id":"6","call_id":"7"}"#,
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
