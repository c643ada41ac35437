//! The JSON shapes of jobs and attempts in responses, with secrets taken out.

use serde::Serialize;
use serde_json::Value;

use crate::guard::is_sensitive_header;
use crate::outbox::{Attempt, Job, Timestamp};

/// What replaces a secret in a response.
pub(crate) const REDACTED: &str = "[redacted]";

/// What a principal may see of an item beyond its metadata.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Visibility {
    pub(crate) payload: bool,
    pub(crate) response_body: bool,
}

/// An outbox time as RFC 3339 with milliseconds; out of RFC 3339's range, the millisecond
/// count as a string.
fn time(t: Timestamp) -> String {
    match crate::event::Timestamp::from_unix_millis(t.as_unix_millis()) {
        Ok(ts) => ts.to_string(),
        Err(_) => t.as_unix_millis().to_string(),
    }
}

/// A URL with its user info dropped, its fragment dropped and every query value replaced:
/// query strings often carry tokens.
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
    url.into()
}

/// A JSON value with the string (or structured) value of every key that names a credential
/// (`secret`, `apiKey`, `authorization`, ...; the guard's header heuristic) replaced by
/// `[redacted]`. Numbers, booleans and nulls are kept (`promptTokens: 12` is a count).
pub(crate) fn redact_json(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if is_sensitive_header(key)
                    && matches!(v, Value::String(_) | Value::Object(_) | Value::Array(_))
                {
                    *v = Value::String(REDACTED.to_owned());
                } else {
                    redact_json(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_json),
        _ => {}
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
    #[serde(skip_serializing_if = "Option::is_none")]
    recent_attempts: Option<Vec<AttemptView<'a>>>,
    /// The circuit breaker of the job's target, when it has counted failures (single-job view).
    #[serde(skip_serializing_if = "Option::is_none")]
    target_breaker: Option<BreakerView>,
}

/// A target's circuit breaker as the logs API shows it.
#[derive(Serialize)]
pub(crate) struct BreakerView {
    /// `open` (deferring), `half-open` (one probe at a time) or `closed` (counting failures).
    state: &'static str,
    failures: u32,
    open_until: Option<String>,
}

impl BreakerView {
    pub(crate) fn new(b: &crate::outbox::BreakerState, now: Timestamp) -> Self {
        let state = if b.is_open(now) {
            "open"
        } else if b.is_tripped() {
            "half-open"
        } else {
            "closed"
        };
        BreakerView {
            state,
            failures: b.failures,
            open_until: b.open_until.map(time),
        }
    }
}

impl<'a> JobView<'a> {
    pub(crate) fn new(job: &'a Job, visible: Visibility) -> Self {
        let payload = visible
            .payload
            .then(|| serde_json::from_slice::<Value>(&job.payload).ok())
            .flatten()
            .map(|mut v| {
                redact_json(&mut v);
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
            recent_attempts: None,
            target_breaker: None,
        }
    }

    pub(crate) fn with_attempts(mut self, attempts: Vec<AttemptView<'a>>) -> Self {
        self.recent_attempts = Some(attempts);
        self
    }

    pub(crate) fn with_breaker(mut self, breaker: Option<BreakerView>) -> Self {
        self.target_breaker = breaker;
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
    response_body: Option<&'a str>,
    response_truncated: bool,
    response_body_hidden: bool,
}

impl<'a> AttemptView<'a> {
    pub(crate) fn new(a: &'a Attempt, visible: Visibility) -> Self {
        let url = a.url.as_deref().map(redact_url);
        // Errors quote the target URL (`target `...` refused`): quote the redacted one.
        let error = a.error.as_deref().map(|e| match (&a.url, &url) {
            (Some(raw), Some(shown)) => e.replace(raw.as_str(), shown),
            _ => e.to_owned(),
        });
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
            response_body: visible.response_body.then_some(a.response_body.as_str()),
            response_truncated: a.response_truncated,
            response_body_hidden: !visible.response_body,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_credentials_query_values_and_fragments() {
        assert_eq!(
            redact_url("https://u:p@hooks.example.com/a?token=abc&x=1#frag"),
            "https://hooks.example.com/a?token=redacted&x=redacted"
        );
        assert_eq!(
            redact_url("https://hooks.example.com/a"),
            "https://hooks.example.com/a"
        );
        assert_eq!(redact_url("not a url"), REDACTED);
    }

    #[test]
    fn json_credentials_are_redacted_counts_are_kept() {
        let mut v = serde_json::json!({
            "message": {"assistant": {"server": {"url": "https://x", "secret": "s3cr3t",
              "headers": {"Authorization": "Bearer abc"}}},
              "costBreakdown": {"llmPromptTokens": 12},
              "list": [{"apiKey": "k"}, {"credentials": {"a": "b"}}]}
        });
        redact_json(&mut v);
        let text = v.to_string();
        for secret in ["s3cr3t", "Bearer abc", "\"k\"", "\"b\""] {
            assert!(!text.contains(secret), "{text}");
        }
        assert_eq!(v["message"]["costBreakdown"]["llmPromptTokens"], 12);
        assert_eq!(v["message"]["assistant"]["server"]["url"], "https://x");
    }
}
