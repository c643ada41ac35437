//! The JSON shapes of jobs and attempts in responses, with secrets taken out.

use std::borrow::Cow;
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use crate::guard::is_sensitive_header;
use crate::outbox::{Attempt, DataPolicy, Job, PayloadState, Timestamp};
use crate::template::MAX_JSON_DEPTH;

/// What replaces a secret in a response.
pub(crate) const REDACTED: &str = "[redacted]";

/// What a principal may see of an item beyond its metadata, and what is taken out of every
/// text shown to it.
#[derive(Debug, Clone)]
pub(crate) struct Visibility {
    pub(crate) payload: bool,
    pub(crate) response_body: bool,
    /// Whether the principal runs the runtime (it may manage the guard's allowlist) and may
    /// see the addresses refusals name; tenants see the class of refusal only.
    pub(crate) addresses: bool,
    /// The tenant's secret values, replaced wherever they appear.
    pub(crate) secrets: Arc<[String]>,
}

/// The shortest secret value replaced by value: shorter ones would blank ordinary text (and
/// are no secret worth the name).
pub(crate) const MIN_SECRET_LEN: usize = 6;

/// What replaces an IP address a tenant may not see.
const ADDRESS: &str = "[address]";

/// An outbox time as RFC 3339 with milliseconds; out of RFC 3339's range, the millisecond
/// count as a string.
fn time(t: Timestamp) -> String {
    match crate::event::Timestamp::from_unix_millis(t.as_unix_millis()) {
        Ok(ts) => ts.to_string(),
        Err(_) => t.as_unix_millis().to_string(),
    }
}

/// Capability-URL hosts (a secret in the path) and how many leading path segments are kept.
const CAPABILITY_HOSTS: &[(&str, usize)] = &[
    // Slack incoming webhooks and workflow triggers: /services/T…/B…/secret.
    ("hooks.slack.com", 1),
    // Discord webhooks: /api/webhooks/{id}/{token}.
    ("discord.com", 2),
    ("discordapp.com", 2),
    ("canary.discord.com", 2),
    ("ptb.discord.com", 2),
    // Microsoft Teams / Office 365 connectors: /webhookb2/… and /webhook/….
    ("webhook.office.com", 1),
    ("outlook.office.com", 1),
    // Zapier catch hooks: /hooks/catch/{account}/{hook}.
    ("hooks.zapier.com", 2),
    // IFTTT Webhooks: /trigger/{event}/with/key/{key}.
    ("maker.ifttt.com", 1),
    // Telegram bots: /bot{token}/method.
    ("api.telegram.org", 0),
    // Mattermost-style and generic hook hosts.
    ("hooks.mattermost.com", 1),
];

/// Whether a path segment looks like a secret: long and mixed (a token, a key), or a UUID.
fn secret_like_segment(seg: &str) -> bool {
    let len = seg.len();
    let alnum = seg
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'%'));
    if !alnum || len < 16 {
        return false;
    }
    let digits = seg.bytes().filter(u8::is_ascii_digit).count();
    let letters = seg.bytes().filter(u8::is_ascii_alphabetic).count();
    len >= 32 || (digits > 0 && letters > 0 && len >= 20) || is_uuid(seg)
}

fn is_uuid(seg: &str) -> bool {
    seg.len() == 36
        && seg.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// A URL with its user info dropped, its fragment dropped, every query value replaced (query
/// strings carry tokens and pre-signed signatures), and the secret part of the path replaced:
/// everything after the kept prefix on a capability-URL host (Slack, Discord, Teams, Zapier,
/// IFTTT, Telegram), and any token-like segment elsewhere.
pub(crate) fn redact_url(raw: &str) -> String {
    let Ok(mut url) = url::Url::parse(raw) else {
        return REDACTED.to_owned();
    };
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_fragment(None);
    if url.query().is_some() {
        let names: Vec<String> = url.query_pairs().map(|(k, _)| k.into_owned()).collect();
        url.query_pairs_mut()
            .clear()
            .extend_pairs(names.iter().map(|k| (k.as_str(), "redacted")));
    }
    let host = url.host_str().unwrap_or("").to_ascii_lowercase();
    let keep = CAPABILITY_HOSTS.iter().find_map(|(h, keep)| {
        let under = host.len() > h.len()
            && host.ends_with(h)
            && host.as_bytes()[host.len() - h.len() - 1] == b'.';
        (host == *h || under).then_some(*keep)
    });
    if !url.cannot_be_a_base() {
        let segments: Option<Vec<String>> = url.path_segments().map(|segs| {
            segs.enumerate()
                .map(|(i, seg)| {
                    let hide = match keep {
                        Some(keep) => i >= keep && !seg.is_empty(),
                        None => secret_like_segment(seg),
                    };
                    if hide {
                        "redacted".to_owned()
                    } else {
                        seg.to_owned()
                    }
                })
                .collect()
        });
        if let Some(segments) = segments {
            url.set_path(&segments.join("/"));
        }
    }
    url.into()
}

/// The end of a URL that starts at `start` in `text`: the first byte that cannot be in a URL
/// written in prose or JSON (space, quote, angle bracket, backtick), then trailing
/// punctuation dropped.
fn url_end(text: &str, start: usize) -> usize {
    let bytes = text.as_bytes();
    let mut end = start;
    while end < bytes.len()
        && !bytes[end].is_ascii_whitespace()
        && !matches!(
            bytes[end],
            b'"' | b'\'' | b'<' | b'>' | b'`' | b'\\' | b'{' | b'}'
        )
    {
        end += 1;
    }
    while end > start
        && matches!(
            bytes[end - 1],
            b'.' | b',' | b';' | b':' | b')' | b']' | b'!'
        )
    {
        end -= 1;
    }
    end
}

/// `text` with every URL in it (`scheme://...`) passed through [`redact_url`].
fn redact_urls(text: &str) -> Cow<'_, str> {
    if !text.contains("://") {
        return Cow::Borrowed(text);
    }
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut search = 0;
    while let Some(found) = text[search..].find("://") {
        let sep = search + found;
        let mut start = sep;
        while start > copied
            && (bytes[start - 1].is_ascii_alphanumeric()
                || matches!(bytes[start - 1], b'+' | b'-' | b'.'))
        {
            start -= 1;
        }
        if start == sep {
            search = sep + 3;
            continue;
        }
        let end = url_end(text, sep + 3);
        out.push_str(&text[copied..start]);
        out.push_str(&redact_url(&text[start..end]));
        copied = end;
        search = end.max(sep + 3);
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

/// `text` with every IP address and network (`10.0.0.7`, `fd00:ec2::254`, `10.0.0.0/8`,
/// `[::1]:80`, `10.0.0.7:443`) replaced by `[address]`.
pub(crate) fn mask_addresses(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, word) in text.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let core = word.trim_matches(|c: char| {
            matches!(c, '(' | ')' | ',' | ';' | '\'' | '"' | '`' | '[' | ']') || c == '.'
        });
        let is_address = !core.is_empty()
            && (core.parse::<std::net::IpAddr>().is_ok()
                || core.parse::<ipnet::IpNet>().is_ok()
                || core.parse::<std::net::SocketAddr>().is_ok()
                || word
                    .trim_matches(|c: char| matches!(c, '(' | ')' | ',' | ';' | '`'))
                    .parse::<std::net::SocketAddr>()
                    .is_ok());
        if is_address {
            match word.find(core) {
                Some(at) => {
                    out.push_str(&word[..at]);
                    out.push_str(ADDRESS);
                    out.push_str(&word[at + core.len()..]);
                }
                None => out.push_str(ADDRESS),
            }
        } else {
            out.push_str(word);
        }
    }
    out
}

impl Visibility {
    /// `text` as this principal may read it: URLs redacted, the tenant's secret values
    /// replaced, and for tenants the IP addresses masked.
    pub(crate) fn text(&self, text: &str) -> String {
        let mut shown = redact_urls(text).into_owned();
        for secret in self.secrets.iter() {
            if shown.contains(secret.as_str()) {
                shown = shown.replace(secret.as_str(), REDACTED);
            }
        }
        if !self.addresses {
            shown = mask_addresses(&shown);
        }
        shown
    }

    /// Whether a number's text holds one of the tenant's secret values.
    fn secret_number(&self, n: &serde_json::Number) -> bool {
        if self.secrets.is_empty() {
            return false;
        }
        let text = n.to_string();
        self.secrets.iter().any(|s| text.contains(s.as_str()))
    }

    /// A JSON value as this principal may read it (see [`redact_json`]).
    pub(crate) fn json(&self, value: &mut Value) {
        redact_json(value, self, MAX_JSON_DEPTH);
    }
}

/// Whether a credential-like key is a count (`promptTokens`, `maxTokens`, `tokenCount`)
/// whose number is kept.
fn is_count_key(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    lower.contains("tokens") || lower.ends_with("count") || lower.ends_with("_ttl")
}

/// A JSON value with the value of every key that names a credential (`secret`, `apiKey`,
/// `authorization`, `password`, ...; the guard's header heuristic) replaced by `[redacted]`
/// whatever its type (only the numbers of counts such as `promptTokens` are kept); every
/// string passed through [`Visibility::text`] (URLs, the tenant's secret values, addresses
/// for tenants); numbers holding a secret value replaced. Nesting deeper than `depth` is
/// replaced whole (the crate's [`MAX_JSON_DEPTH`]).
fn redact_json(value: &mut Value, visible: &Visibility, depth: usize) {
    if depth == 0 && matches!(value, Value::Array(_) | Value::Object(_)) {
        let cut = std::mem::replace(value, Value::String(REDACTED.to_owned()));
        crate::template::drop_deep(cut);
        return;
    }
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                let credential = is_sensitive_header(key)
                    && !(v.is_number() && is_count_key(key))
                    && !v.is_null();
                if credential {
                    *v = Value::String(REDACTED.to_owned());
                } else {
                    redact_json(v, visible, depth - 1);
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                redact_json(item, visible, depth - 1);
            }
        }
        Value::String(text) => {
            let shown = visible.text(text);
            if shown != *text {
                *text = shown;
            }
        }
        Value::Number(n) => {
            if visible.secret_number(n) {
                *value = Value::String(REDACTED.to_owned());
            }
        }
        Value::Bool(_) | Value::Null => {}
    }
}

#[derive(Serialize)]
pub(crate) struct JobView<'a> {
    kind: &'static str,
    id: &'a str,
    tenant: &'a str,
    event_type: &'a str,
    call_id: Option<&'a str>,
    target: &'a str,
    status: &'static str,
    attempts: u32,
    next_attempt_at: Option<String>,
    created_at: String,
    updated_at: String,
    idempotency_key: Option<&'a str>,
    payload_bytes: usize,
    /// The payload as JSON with credentials redacted; `null` when it is not JSON or hidden.
    payload: Option<Value>,
    /// `kept`, `redacted`, `dropped` or `expired`: what the data policy did to the payload.
    payload_state: &'static str,
    /// Why the payload is gone or changed, when it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    payload_note: Option<&'static str>,
    /// The data policy that applies to the job's tenant now, when the API knows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    data_policy: Option<PolicyView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recent_attempts: Option<Vec<AttemptView<'a>>>,
}

/// A tenant's data policy as the logs show it.
#[derive(Serialize)]
pub(crate) struct PolicyView {
    privacy: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    redacted_paths: Vec<String>,
    /// Seconds a finished job is kept; `null`: forever.
    job_retention_seconds: Option<u64>,
    /// Seconds a finished job's payload is kept; `null`: as long as the job.
    payload_retention_seconds: Option<u64>,
}

impl PolicyView {
    pub(crate) fn new(p: &DataPolicy) -> Self {
        PolicyView {
            privacy: p.privacy.as_str(),
            redacted_paths: p.privacy.paths().iter().map(ToString::to_string).collect(),
            job_retention_seconds: p.retention.jobs.map(|d| d.as_secs()),
            payload_retention_seconds: p.retention.payloads.map(|d| d.as_secs()),
        }
    }
}

/// Why a payload is not what was enqueued.
fn payload_note(state: PayloadState) -> Option<&'static str> {
    match state {
        PayloadState::Redacted => Some(
            "redacted once the job was final: the tenant's privacy mode `redact` replaced its \
             listed paths; replay and retry are refused",
        ),
        PayloadState::Dropped => Some(
            "dropped once the job was final: the tenant's privacy mode is `metadata-only`; \
             replay and retry are refused",
        ),
        PayloadState::Expired => Some(
            "expired: the tenant's payload retention passed; the job and its attempts stay \
             listed without bodies; replay and retry are refused",
        ),
        _ => None,
    }
}

impl<'a> JobView<'a> {
    pub(crate) fn new(job: &'a Job, visible: &Visibility) -> Self {
        let payload = visible
            .payload
            .then(|| serde_json::from_slice::<Value>(&job.payload).ok())
            .flatten()
            .map(|mut v| {
                visible.json(&mut v);
                v
            });
        JobView {
            kind: "job",
            id: job.id.as_str(),
            tenant: job.tenant.as_str(),
            event_type: &job.event_type,
            call_id: job.call_id.as_deref(),
            target: job.target.as_str(),
            status: job.status.as_str(),
            attempts: job.attempts,
            next_attempt_at: job.next_attempt_at.map(time),
            created_at: time(job.created_at),
            updated_at: time(job.updated_at),
            idempotency_key: job.idempotency_key.as_deref(),
            payload_bytes: job.payload.len(),
            payload,
            payload_state: job.payload_state.as_str(),
            payload_note: payload_note(job.payload_state),
            data_policy: None,
            recent_attempts: None,
        }
    }

    pub(crate) fn with_policy(mut self, policy: Option<&DataPolicy>) -> Self {
        self.data_policy = policy.map(PolicyView::new);
        self
    }

    pub(crate) fn with_attempts(mut self, attempts: Vec<AttemptView<'a>>) -> Self {
        self.recent_attempts = Some(attempts);
        self
    }
}

#[derive(Serialize)]
pub(crate) struct AttemptView<'a> {
    kind: &'static str,
    id: &'a str,
    job_id: &'a str,
    tenant: &'a str,
    trigger: &'static str,
    url: Option<String>,
    level: Option<&'a str>,
    status: &'static str,
    status_code: Option<u16>,
    error: Option<String>,
    latency_ms: u64,
    event_type: &'a str,
    number: u32,
    next_attempt_at: Option<String>,
    started_at: String,
    ended_at: String,
    /// `null` when hidden from this principal (see `response_body_hidden`).
    response_body: Option<String>,
    response_truncated: bool,
    response_body_hidden: bool,
}

impl<'a> AttemptView<'a> {
    pub(crate) fn new(a: &'a Attempt, visible: &Visibility) -> Self {
        let url = a.url.as_deref().map(|u| visible.text(&redact_url(u)));
        // Errors quote the target URL (`target `...` refused`) and refused addresses.
        let error = a.error.as_deref().map(|e| visible.text(e));
        AttemptView {
            kind: "attempt",
            id: a.id.as_str(),
            job_id: a.job_id.as_str(),
            tenant: a.tenant.as_str(),
            trigger: a.trigger.as_str(),
            url,
            level: a.level.as_deref(),
            status: a.status.as_str(),
            status_code: a.status_code,
            error,
            latency_ms: a.latency_ms,
            event_type: &a.event_type,
            number: a.number,
            next_attempt_at: a.next_attempt_at.map(time),
            started_at: time(a.started_at),
            ended_at: time(a.ended_at),
            response_body: visible
                .response_body
                .then(|| visible.text(&a.response_body)),
            response_truncated: a.response_truncated,
            response_body_hidden: !visible.response_body,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(secrets: &[&str]) -> Visibility {
        Visibility {
            payload: true,
            response_body: true,
            addresses: false,
            secrets: secrets.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn urls_lose_credentials_query_values_fragments_and_capabilities() {
        assert_eq!(
            redact_url("https://u:p@hooks.example.com/a?token=abc&x=1#frag"),
            "https://hooks.example.com/a?token=redacted&x=redacted"
        );
        assert_eq!(
            redact_url("https://hooks.example.com/a"),
            "https://hooks.example.com/a"
        );
        assert_eq!(redact_url("not a url"), REDACTED);
        assert_eq!(
            redact_url("https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX"),
            "https://hooks.slack.com/services/redacted/redacted/redacted"
        );
        assert_eq!(
            redact_url("https://discord.com/api/webhooks/123/abcDEF"),
            "https://discord.com/api/webhooks/redacted/redacted"
        );
        assert_eq!(
            redact_url("https://acme.webhook.office.com/webhookb2/x@y/IncomingWebhook/z"),
            "https://acme.webhook.office.com/webhookb2/redacted/redacted/redacted"
        );
        assert_eq!(
            redact_url("https://api.example.com/hooks/4f9d2c7e8a1b4c3d9e0f1a2b3c4d5e6f/run"),
            "https://api.example.com/hooks/redacted/run"
        );
        assert_eq!(
            redact_url("https://api.example.com/customers/cus_123"),
            "https://api.example.com/customers/cus_123"
        );
    }

    #[test]
    fn text_redacts_urls_secrets_and_addresses() {
        let v = tenant(&["sk_live_abcdef"]);
        let shown = v.text(
            "see https://u:pw@x.example.com/p?sig=AbC123. then key sk_live_abcdef; \
             address 10.20.30.40 is in 10.0.0.0/8 (Private-Use), [fd00:ec2::254]:80",
        );
        for leak in [
            "pw",
            "AbC123",
            "sk_live_abcdef",
            "10.20.30.40",
            "10.0.0.0/8",
            "fd00:ec2",
        ] {
            assert!(!shown.contains(leak), "{leak}: {shown}");
        }
        assert!(
            shown.contains("https://x.example.com/p?sig=redacted."),
            "{shown}"
        );
        let operator = Visibility {
            addresses: true,
            ..tenant(&[])
        };
        assert!(operator.text("address 10.20.30.40").contains("10.20.30.40"));
    }

    #[test]
    fn json_credentials_are_redacted_whatever_their_type_counts_are_kept() {
        let mut v = serde_json::json!({
            "message": {"assistant": {"server": {"url": "https://x.example.com/?token=t0k", "secret": "s3cr3t",
              "headers": {"Authorization": "Bearer abc"}}},
              "costBreakdown": {"llmPromptTokens": 12},
              "password": 987654321,
              "pin": 55443322,
              "note": "call https://hooks.slack.com/services/T1/B2/xyz now",
              "list": [{"apiKey": "k"}, {"credentials": {"a": "b"}}]}
        });
        tenant(&["55443322"]).json(&mut v);
        let text = v.to_string();
        for secret in [
            "s3cr3t",
            "Bearer abc",
            "\"k\"",
            "\"b\"",
            "t0k",
            "987654321",
            "55443322",
            "xyz",
        ] {
            assert!(!text.contains(secret), "{secret}: {text}");
        }
        assert_eq!(v["message"]["costBreakdown"]["llmPromptTokens"], 12);
    }

    #[test]
    fn deep_json_is_cut_not_recursed() {
        let mut deep = Value::Null;
        for _ in 0..10_000 {
            deep = Value::Array(vec![deep]);
        }
        let mut v = deep;
        tenant(&[]).json(&mut v);
        let mut depth = 0;
        let mut at = &v;
        while let Value::Array(items) = at {
            depth += 1;
            at = &items[0];
        }
        assert_eq!(depth, MAX_JSON_DEPTH);
        assert_eq!(at, &Value::String(REDACTED.into()));
        crate::template::drop_deep(v);
    }
}
