//! `TracingObserver`: the hooks as `tracing` spans and events (feature `tracing`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use tracing::field::{Empty, Field, FieldSet, Value};
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
    /// The spans in progress and the URLs as spans show them, under one lock: settling an
    /// attempt takes it once.
    state: Mutex<State>,
    /// How many spans are open: with no subscriber listening it stays 0 and no hook locks.
    opened: AtomicUsize,
}

/// A map on foldhash: attempt and job ids are ours (time and OS randomness) and the URL
/// cache is bounded, so a fast hash with per-process seeds is enough; SipHash was a third of
/// the observer's cost per attempt.
type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

#[derive(Debug, Default)]
struct State {
    /// The spans of attempts in progress (only while a subscriber wants them).
    attempts: FastMap<AttemptId, Open>,
    /// The spans of live exchanges and tool calls in progress.
    exchanges: FastMap<ExchangeId, Span>,
    /// Target URLs as spans show them, by URL: parsing and redacting once per target, not
    /// once per attempt (cleared when it reaches [`URL_CACHE`] entries).
    urls: FastMap<Box<str>, Arc<Shown>>,
}

impl State {
    /// The span fields of the target URL `url` (text as stored on the attempt).
    fn shown(&mut self, url: &str) -> Arc<Shown> {
        if let Some(shown) = self.urls.get(url) {
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
        if self.urls.len() >= URL_CACHE {
            self.urls.clear();
        }
        self.urls.insert(url.into(), shown.clone());
        shown
    }
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

#[derive(Debug)]
struct Open {
    span: Span,
    job: JobId,
}

impl TracingObserver {
    /// An observer with no span open.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Every critical section is a few map operations: a poisoned state is still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether no span can be open (then no hook needs the lock).
    fn none_open(&self) -> bool {
        self.opened.load(Ordering::Relaxed) == 0
    }
}

/// `error.type`: the status code of an HTTP failure (`503`), else the class (`timeout`);
/// made without allocating.
enum ErrorType {
    Class(ErrorClass),
    Status([u8; 3]),
}

impl ErrorType {
    fn of(status: Option<u16>, error: ErrorClass) -> Self {
        match (error, status) {
            (ErrorClass::HttpStatus, Some(code @ 100..=999)) => {
                let digit = |n: u16| b'0' + u8::try_from(n % 10).unwrap_or(0);
                ErrorType::Status([digit(code / 100), digit(code / 10), digit(code)])
            }
            _ => ErrorType::Class(error),
        }
    }

    fn as_str(&self) -> &str {
        match self {
            ErrorType::Class(class) => class.as_str(),
            ErrorType::Status(digits) => std::str::from_utf8(digits).unwrap_or("http_status"),
        }
    }
}

/// Records `error.type` (the status code of an HTTP failure, else the class) and the status.
fn record_outcome(span: &Span, status: Option<u16>, error: Option<ErrorClass>) {
    if let Some(status) = status {
        span.record("http.response.status_code", status);
    }
    if let Some(class) = error {
        span.record("otel.status_code", "ERROR");
        span.record("error.type", ErrorType::of(status, class).as_str());
    }
}

/// The fields an attempt's span gets when the attempt ends, looked up once: by name, each
/// record scans the span's twenty fields; with these, the end is one `record_all`, which is
/// also one call into the subscriber instead of seven.
struct SettleFields {
    set: &'static FieldSet,
    url_full: Field,
    server_address: Field,
    server_port: Field,
    status_code: Field,
    error_type: Field,
    otel_status_code: Field,
    cascade_level: Field,
    attempt: Field,
}

impl SettleFields {
    /// The fields of the attempt spans' callsite, from an enabled attempt span.
    fn of(span: &Span) -> Option<&'static SettleFields> {
        static FIELDS: OnceLock<Option<SettleFields>> = OnceLock::new();
        FIELDS
            .get_or_init(|| {
                let set = span.metadata()?.fields();
                Some(SettleFields {
                    set,
                    url_full: set.field("url.full")?,
                    server_address: set.field("server.address")?,
                    server_port: set.field("server.port")?,
                    status_code: set.field("http.response.status_code")?,
                    error_type: set.field("error.type")?,
                    otel_status_code: set.field("otel.status_code")?,
                    cascade_level: set.field("webhook.cascade_level")?,
                    attempt: set.field("webhook.attempt")?,
                })
            })
            .as_ref()
    }

    fn record(
        &self,
        span: &Span,
        attempt: &Attempt,
        shown: Option<&Shown>,
        error: Option<ErrorClass>,
    ) {
        let url = shown.map(|s| s.full.as_str());
        let host = shown.and_then(|s| s.host.as_deref());
        let port = shown.and_then(|s| s.port);
        let level = attempt.level.as_deref();
        let status = attempt.status_code;
        let error_type = error.map(|class| ErrorType::of(status, class));
        let error_type = error_type.as_ref().map(ErrorType::as_str);
        let failed = error.map(|_| "ERROR");
        // A replay's number is 0 (it is no step of the plan).
        let number = attempt.number;
        let values: [(&Field, Option<&dyn Value>); 8] = [
            (&self.url_full, url.as_ref().map(|v| v as &dyn Value)),
            (&self.server_address, host.as_ref().map(|v| v as &dyn Value)),
            (&self.server_port, port.as_ref().map(|v| v as &dyn Value)),
            (&self.cascade_level, level.as_ref().map(|v| v as &dyn Value)),
            (&self.attempt, Some(&number as &dyn Value)),
            (&self.status_code, status.as_ref().map(|v| v as &dyn Value)),
            (
                &self.otel_status_code,
                failed.as_ref().map(|v| v as &dyn Value),
            ),
            (
                &self.error_type,
                error_type.as_ref().map(|v| v as &dyn Value),
            ),
        ];
        span.record_all(&self.set.value_set(&values));
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
            job: job.id.clone(),
        };
        self.state().attempts.insert(attempt.clone(), open);
        self.opened.fetch_add(1, Ordering::Relaxed);
    }

    fn attempt_settled(&self, settled: &Settled<'_>) {
        if self.none_open() {
            return;
        }
        let attempt: &Attempt = settled.attempt;
        let (span, shown) = {
            let mut state = self.state();
            let Some(open) = state.attempts.remove(&attempt.id) else {
                return;
            };
            self.opened.fetch_sub(1, Ordering::Relaxed);
            (
                open.span,
                attempt.url.as_deref().map(|url| state.shown(url)),
            )
        };
        if let Some(fields) = SettleFields::of(&span) {
            fields.record(&span, attempt, shown.as_deref(), settled.error);
        }
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
        if let Some(job) = job.filter(|_| !self.none_open()) {
            // The attempt of that job ends here: close its span.
            let mut ended = Vec::new();
            self.state().attempts.retain(|_, o| {
                let keep = o.job != *job;
                if !keep {
                    ended.push(o.span.clone());
                }
                keep
            });
            self.opened.fetch_sub(ended.len(), Ordering::Relaxed);
            for span in ended {
                span.record("otel.status_code", "ERROR");
                span.record("error.type", "store");
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
        let shown = {
            let mut state = self.state();
            let shown = exchange.url.map(|url| state.shown(url));
            state.exchanges.insert(exchange.id, span.clone());
            shown
        };
        self.opened.fetch_add(1, Ordering::Relaxed);
        if let Some(shown) = shown {
            shown.record(&span);
        }
    }

    fn exchange_finished(&self, exchange: &Exchange<'_>, end: &ExchangeEnd) {
        if self.none_open() {
            return;
        }
        let (span, shown) = {
            let mut state = self.state();
            let Some(span) = state.exchanges.remove(&exchange.id) else {
                return;
            };
            self.opened.fetch_sub(1, Ordering::Relaxed);
            (span, exchange.url.map(|url| state.shown(url)))
        };
        if let Some(shown) = shown {
            shown.record(&span);
        }
        if let Some(level) = exchange.level {
            span.record("webhook.cascade_level", level);
        }
        record_outcome(&span, end.status_code, end.error);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::outbox::{JobStatus, PayloadState, TargetRef, Timestamp};
    use crate::tenant::TenantId;

    fn job(n: u64) -> Job {
        let at = Timestamp::from_unix_millis(1_767_225_600_000);
        Job {
            id: JobId::generate(at, n),
            tenant: TenantId::new("acme").unwrap(),
            event_type: "status-update".into(),
            call_id: None,
            payload: Arc::from(&b"{}"[..]),
            target: TargetRef::new("assistant:a1").unwrap(),
            status: JobStatus::InFlight,
            attempts: 1,
            step: 0,
            next_attempt_at: None,
            created_at: at,
            updated_at: at,
            idempotency_key: None,
            payload_state: PayloadState::Kept,
        }
    }

    #[test]
    fn a_store_failure_ends_the_spans_of_that_jobs_attempts_only() {
        let observer = TracingObserver::new();
        let (a, b) = (job(1), job(2));
        let (ia, ib) = (
            AttemptId::generate(a.created_at, 1),
            AttemptId::generate(a.created_at, 2),
        );
        tracing::subscriber::with_default(tracing_subscriber::registry(), || {
            observer.attempt_started(&a, &ia, Trigger::Scheduled);
            observer.attempt_started(&b, &ib, Trigger::Scheduled);
            assert_eq!(observer.opened.load(Ordering::Relaxed), 2);
            let error = OutboxError::NotFound {
                what: "job",
                id: a.id.as_str().to_owned(),
            };
            observer.store_failed(Some(&a.id), &error);
            assert_eq!(observer.opened.load(Ordering::Relaxed), 1);
            let state = observer.state();
            assert!(state.attempts.contains_key(&ib));
            assert!(!state.attempts.contains_key(&ia));
        });
    }

    #[test]
    fn error_type_is_the_status_of_an_http_failure_else_the_class() {
        let of = |status, class| ErrorType::of(status, class).as_str().to_owned();
        assert_eq!(of(Some(503), ErrorClass::HttpStatus), "503");
        assert_eq!(of(Some(100), ErrorClass::HttpStatus), "100");
        assert_eq!(of(Some(42), ErrorClass::HttpStatus), "http_status");
        assert_eq!(of(None, ErrorClass::HttpStatus), "http_status");
        assert_eq!(of(Some(504), ErrorClass::Timeout), "timeout");
    }
}
