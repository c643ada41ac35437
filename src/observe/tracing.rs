//! `TracingObserver`: the hooks as `tracing` spans and events (feature `tracing`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tracing::field::Empty;
use tracing::{Level, Span};

use super::{
    BreakerChange, BreakerState, ErrorClass, Exchange, ExchangeEnd, ExchangeId, ExchangeKind,
    Observer, Settled, redact_parsed, redact_url,
};
use crate::outbox::{
    Attempt, AttemptId, Job, JobId, Lease, Next, OutboxError, TargetState, Trigger,
};

/// The names of the spans and events [`TracingObserver`] emits, for filters and tests.
pub mod span_names {
    /// The span of one outbox attempt (an OpenTelemetry HTTP client span).
    pub const ATTEMPT: &str = "webhook.attempt";
    /// The span of one live exchange.
    pub const LIVE: &str = "webhook.live";
    /// The span of one webhook tool call.
    pub const TOOL_CALL: &str = "webhook.tool_call";
    /// Event in an attempt's span: a retry was scheduled (`webhook.retry_at_ms`,
    /// `webhook.retry_in_ms`).
    pub const RETRY_SCHEDULED: &str = "webhook.retry_scheduled";
    /// Event in an attempt's span: the job was given up (`webhook.reason`).
    pub const GAVE_UP: &str = "webhook.gave_up";
    /// Event: a target was disabled (`webhook.reason`: `gone` or `failing`).
    pub const TARGET_DISABLED: &str = "webhook.target_disabled";
    /// Event: a target's circuit breaker opened.
    pub const BREAKER_OPENED: &str = "webhook.breaker_opened";
    /// Event: a target's circuit breaker closed.
    pub const BREAKER_CLOSED: &str = "webhook.breaker_closed";
    /// Event: a target's circuit breaker let one probe through.
    pub const BREAKER_HALF_OPENED: &str = "webhook.breaker_half_opened";
    /// Event: a finisher was fenced out by a stale lease.
    pub const FENCED_OUT: &str = "webhook.fenced_out";
    /// Event: the store failed while claiming or finishing.
    pub const STORE_FAILED: &str = "webhook.store_failed";
}

/// The [`tracing`] target of every span and event (for `EnvFilter` directives).
const TARGET: &str = "agent_webhooks";

/// The observer hooks as [`tracing`] spans and events, for any subscriber (`tracing-subscriber`'s
/// fmt layer, `tracing-opentelemetry` towards an OTLP collector).
///
/// Every outbox attempt, live exchange and tool call gets an INFO span following the
/// OpenTelemetry HTTP client conventions, opened when it starts and closed when it ends:
///
/// | field | value |
/// |---|---|
/// | `otel.name`, `otel.kind`, `otel.status_code` | the method (`POST`), `client`, `ERROR` on failure |
/// | `http.request.method` | `POST` for attempts, the tool's method for tool calls |
/// | `server.address`, `server.port` | the target's host and port |
/// | `url.full` | the target URL, user info and query values redacted ([`redact_url`]) |
/// | `http.response.status_code` | when a response came |
/// | `error.type` | the status code for an HTTP failure, else the [`ErrorClass`] (`timeout`, `refused`, ...) |
/// | `tenant.id`, `webhook.event_type`, `webhook.job_id`, `webhook.attempt_id`, `webhook.attempt`, `webhook.cascade_level`, `webhook.trigger`, `webhook.call_id` | the attempt's |
/// | `webhook.kind`, `webhook.tool` | live or tool; the tool's name |
///
/// Events (names in [`span_names`]): a retry scheduled and a job given up inside the attempt's
/// span; a target disabled, a breaker opened, half-opened or closed, a fenced-out finisher and
/// a store failure on their own. No header, body, signing secret or transport error text is
/// ever a field.
///
/// ```
/// use std::sync::Arc;
/// use agent_webhooks::observe::{Observer, TracingObserver};
/// let observer: Arc<dyn Observer> = Arc::new(TracingObserver::new());
/// // Dispatcher::builder(store, transport, resolver).observer(observer.clone())
/// // ToolRunner::new(policy, transport).observer(observer)
/// # let _ = observer;
/// ```
#[derive(Debug, Default)]
pub struct TracingObserver {
    /// The spans of attempts and exchanges in progress (only while a subscriber wants them).
    open: Mutex<HashMap<Key, Open>>,
    /// How many are in `open`: with no subscriber listening it stays 0 and no hook locks.
    opened: AtomicUsize,
    /// Target URLs as spans show them, by URL: parsing and redacting once per target, not
    /// once per attempt (cleared when it reaches [`URL_CACHE`] entries).
    urls: Mutex<HashMap<String, Arc<Shown>>>,
}

/// The most target URLs whose redacted form is kept.
const URL_CACHE: usize = 1024;

/// A target URL's span fields.
#[derive(Debug)]
struct Shown {
    full: String,
    host: Option<String>,
    port: Option<u16>,
}

impl Shown {
    fn of(url: &url::Url) -> Self {
        Shown {
            full: redact_parsed(url),
            host: url.host_str().map(str::to_owned),
            port: url.port_or_known_default(),
        }
    }

    fn record(&self, span: &Span) {
        span.record("url.full", self.full.as_str());
        if let Some(host) = &self.host {
            span.record("server.address", host.as_str());
        }
        if let Some(port) = self.port {
            span.record("server.port", port);
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Attempt(AttemptId),
    Exchange(ExchangeId),
}

#[derive(Debug)]
struct Open {
    span: Span,
    job: Option<JobId>,
}

impl TracingObserver {
    /// An observer with no span open.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn open(&self) -> MutexGuard<'_, HashMap<Key, Open>> {
        // Every critical section is one map operation: a poisoned map is still consistent.
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn insert(&self, key: Key, open: Open) {
        self.open().insert(key, open);
        self.opened.fetch_add(1, Ordering::Relaxed);
    }

    fn take(&self, key: &Key) -> Option<Span> {
        if self.opened.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let open = self.open().remove(key)?;
        self.opened.fetch_sub(1, Ordering::Relaxed);
        Some(open.span)
    }

    /// The span fields of the target URL `url` (text as stored on the attempt).
    fn shown(&self, url: &str) -> Arc<Shown> {
        let mut urls = self.urls.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(shown) = urls.get(url) {
            return shown.clone();
        }
        let shown = Arc::new(match url::Url::parse(url) {
            Ok(parsed) => Shown::of(&parsed),
            Err(_) => Shown {
                full: "REDACTED".to_owned(),
                host: None,
                port: None,
            },
        });
        if urls.len() >= URL_CACHE {
            urls.clear();
        }
        urls.insert(url.to_owned(), shown.clone());
        shown
    }
}

/// Records `error.type` (the status code of an HTTP failure, else the class) and the status.
fn record_outcome(span: &Span, status: Option<u16>, error: Option<ErrorClass>) {
    if let Some(status) = status {
        span.record("http.response.status_code", status);
    }
    if let Some(class) = error {
        span.record("otel.status_code", "ERROR");
        match (class, status) {
            (ErrorClass::HttpStatus, Some(status)) => {
                span.record("error.type", status.to_string().as_str());
            }
            _ => {
                span.record("error.type", class.as_str());
            }
        }
    }
}

impl Observer for TracingObserver {
    fn attempt_started(&self, job: &Job, attempt: &AttemptId, trigger: Trigger) {
        let span = tracing::span!(
            target: TARGET,
            Level::INFO,
            span_names::ATTEMPT,
            otel.name = "POST",
            otel.kind = "client",
            otel.status_code = Empty,
            http.request.method = "POST",
            server.address = Empty,
            server.port = Empty,
            url.full = Empty,
            http.response.status_code = Empty,
            "error.type" = Empty,
            tenant.id = job.tenant.as_str(),
            webhook.event_type = job.event_type.as_str(),
            webhook.job_id = job.id.as_str(),
            webhook.attempt_id = attempt.as_str(),
            webhook.attempt = job.attempts,
            webhook.cascade_level = Empty,
            webhook.trigger = trigger.as_str(),
            webhook.call_id = job.call_id.as_deref(),
        );
        if span.is_disabled() {
            return;
        }
        let open = Open {
            span,
            job: Some(job.id.clone()),
        };
        self.insert(Key::Attempt(attempt.clone()), open);
    }

    fn attempt_settled(&self, settled: &Settled<'_>) {
        let Some(span) = self.take(&Key::Attempt(settled.attempt.id.clone())) else {
            return;
        };
        let attempt: &Attempt = settled.attempt;
        if let Some(url) = attempt.url.as_deref() {
            self.shown(url).record(&span);
        }
        if let Some(level) = attempt.level.as_deref() {
            span.record("webhook.cascade_level", level);
        }
        // A replay's number is 0 (it is no step of the plan).
        span.record("webhook.attempt", attempt.number);
        record_outcome(&span, attempt.status_code, settled.error);
        if let Some(Next::Retry(at)) = settled.next {
            let retry_in = at.duration_since(attempt.ended_at);
            tracing::event!(
                name: span_names::RETRY_SCHEDULED,
                target: TARGET,
                parent: &span,
                Level::INFO,
                webhook.retry_at_ms = at.as_unix_millis(),
                webhook.retry_in_ms = u64::try_from(retry_in.as_millis()).unwrap_or(u64::MAX),
                "retry scheduled"
            );
        }
        if let Some(reason) = settled.gave_up {
            tracing::event!(
                name: span_names::GAVE_UP,
                target: TARGET,
                parent: &span,
                Level::WARN,
                webhook.reason = reason.as_str(),
                "job given up"
            );
        }
    }

    fn fenced_out(&self, lease: &Lease) {
        tracing::event!(
            name: span_names::FENCED_OUT,
            target: TARGET,
            Level::WARN,
            tenant.id = lease.tenant.as_str(),
            webhook.job_id = lease.job_id.as_str(),
            webhook.fence = lease.fence,
            "finisher fenced out by a stale lease; its attempt is recorded, the job's state is not"
        );
    }

    fn target_disabled(&self, target: &TargetState) {
        let reason = target.disabled.map_or("unknown", |(r, _)| match r {
            crate::outbox::DisabledReason::Gone => "gone",
            crate::outbox::DisabledReason::Failing => "failing",
        });
        tracing::event!(
            name: span_names::TARGET_DISABLED,
            target: TARGET,
            Level::WARN,
            tenant.id = target.tenant.as_str(),
            url.full = redact_url(&target.url).as_str(),
            webhook.reason = reason,
            "target disabled"
        );
    }

    fn store_failed(&self, job: Option<&JobId>, error: &OutboxError) {
        if let Some(job) = job {
            // The attempt of that job ends here: close its span.
            let mut open = self.open();
            let keys: Vec<Key> = open
                .iter()
                .filter(|(_, o)| o.job.as_ref() == Some(job))
                .map(|(k, _)| k.clone())
                .collect();
            for key in keys {
                if let Some(o) = open.remove(&key) {
                    self.opened.fetch_sub(1, Ordering::Relaxed);
                    o.span.record("otel.status_code", "ERROR");
                    o.span.record("error.type", "store");
                }
            }
        }
        tracing::event!(
            name: span_names::STORE_FAILED,
            target: TARGET,
            Level::ERROR,
            webhook.job_id = job.map(JobId::as_str),
            error = %error,
            "store failed; a claimed job's lease expires and it is claimed again"
        );
    }

    fn breaker_changed(&self, change: &BreakerChange<'_>) {
        let url = redact_url(change.url);
        macro_rules! breaker_event {
            ($name:expr, $level:expr, $message:literal) => {
                tracing::event!(
                    name: $name,
                    target: TARGET,
                    $level,
                    tenant.id = change.tenant.as_str(),
                    url.full = url.as_str(),
                    webhook.breaker.from = change.from.as_str(),
                    webhook.breaker.to = change.to.as_str(),
                    webhook.breaker.failures = change.failures,
                    $message
                )
            };
        }
        match change.to {
            BreakerState::Open => {
                breaker_event!(span_names::BREAKER_OPENED, Level::WARN, "breaker opened");
            }
            BreakerState::HalfOpen => breaker_event!(
                span_names::BREAKER_HALF_OPENED,
                Level::INFO,
                "breaker half-open: one probe"
            ),
            BreakerState::Closed => {
                breaker_event!(span_names::BREAKER_CLOSED, Level::INFO, "breaker closed");
            }
        }
    }

    fn exchange_started(&self, exchange: &Exchange<'_>) {
        macro_rules! exchange_span {
            ($name:expr, $tool:expr, $event_type:expr) => {
                tracing::span!(
                    target: TARGET,
                    Level::INFO,
                    $name,
                    otel.name = exchange.method.as_str(),
                    otel.kind = "client",
                    otel.status_code = Empty,
                    http.request.method = exchange.method.as_str(),
                    server.address = Empty,
                    server.port = Empty,
                    url.full = Empty,
                    http.response.status_code = Empty,
                    "error.type" = Empty,
                    tenant.id = exchange.tenant.map(|t| t.as_str()),
                    webhook.kind = exchange.kind.as_str(),
                    webhook.event_type = $event_type,
                    webhook.tool = $tool,
                    webhook.cascade_level = Empty,
                    webhook.call_id = exchange.call_id,
                )
            };
        }
        let span = match exchange.kind {
            ExchangeKind::Tool => {
                exchange_span!(span_names::TOOL_CALL, Some(exchange.name), None::<&str>)
            }
            _ => exchange_span!(span_names::LIVE, None::<&str>, Some(exchange.name)),
        };
        if span.is_disabled() {
            return;
        }
        if let Some(url) = exchange.url {
            self.shown(url).record(&span);
        }
        let open = Open { span, job: None };
        self.insert(Key::Exchange(exchange.id), open);
    }

    fn exchange_finished(&self, exchange: &Exchange<'_>, end: &ExchangeEnd) {
        let Some(span) = self.take(&Key::Exchange(exchange.id)) else {
            return;
        };
        if let Some(url) = exchange.url {
            self.shown(url).record(&span);
        }
        if let Some(level) = exchange.level {
            span.record("webhook.cascade_level", level);
        }
        record_outcome(&span, end.status_code, end.error);
    }
}
