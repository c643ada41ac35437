//! Watching the boundary: the [`Observer`] hooks that outbox attempts, live exchanges and tool
//! calls report to, and two ready observers behind features.
//!
//! - [`Observer`]: hooks with empty default bodies; implement the ones you need (an alert on a
//!   disabled target, a custom log line). The [`Dispatcher`](crate::outbox::Dispatcher) and the
//!   [`ToolRunner`](crate::ToolRunner) take one observer; [`Fanout`] tells several.
//! - `TracingObserver` (feature `tracing`): a span per attempt, live exchange and tool call with
//!   the OpenTelemetry HTTP client attributes, and events for retries, breakers and disabled
//!   targets.
//! - `MetricsObserver` (feature `metrics`): counters, histograms and gauges on the `metrics`
//!   facade; the names and their Prometheus rendering are in `names`.
//!
//! Nothing secret reaches a hook's output: observers see URLs only through [`redact_url`]
//! (user info and query values replaced), never a header, a body or a transport's error text.
//!
//! ```
//! use std::sync::Arc;
//! use agent_webhooks::observe::{Fanout, Observer};
//! use agent_webhooks::outbox::TargetState;
//!
//! /// Pages the on-call engineer when a target is disabled.
//! #[derive(Debug)]
//! struct Pager;
//! impl Observer for Pager {
//!     fn target_disabled(&self, target: &TargetState) {
//!         eprintln!("tenant {} target disabled", target.tenant);
//!     }
//! }
//! // With features `tracing` and `metrics`:
//! // Fanout::new([Arc::new(TracingObserver::new()) as Arc<dyn Observer>, Arc::new(MetricsObserver::new()), Arc::new(Pager)])
//! let observer: Arc<dyn Observer> = Arc::new(Fanout::new([Arc::new(Pager) as Arc<dyn Observer>]));
//! # let _ = observer;
//! ```

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::outbox::{
    Attempt, AttemptId, Backlog, Job, JobId, Lease, Next, OutboxError, TargetState, Trigger,
};
use crate::tenant::TenantId;
use crate::transport::TransportErrorKind;

#[cfg(feature = "metrics")]
mod metrics;
#[cfg(feature = "tracing")]
mod tracing;

#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub use self::metrics::{MetricsObserver, describe_metrics, names};
#[cfg(feature = "tracing")]
#[cfg_attr(docsrs, doc(cfg(feature = "tracing")))]
pub use self::tracing::{TracingObserver, span_names};

/// Hooks for metrics and tracing; every method does nothing by default.
///
/// Hooks are called on the path of a delivery, a live exchange or a tool call: keep them quick
/// and never block (no IO; hand work to a channel if you must).
///
/// For an outbox attempt the order is [`attempt_started`](Observer::attempt_started), then
/// (unless the store failed first) [`attempt_finished`](Observer::attempt_finished) and
/// [`attempt_settled`](Observer::attempt_settled), then
/// [`target_disabled`](Observer::target_disabled) if the attempt disabled its target. A store
/// failure ends an attempt with [`store_failed`](Observer::store_failed) instead.
pub trait Observer: Send + Sync + fmt::Debug {
    /// An attempt starts (open a span keyed by the attempt id here).
    fn attempt_started(&self, job: &Job, attempt: &AttemptId, trigger: Trigger) {
        let _ = (job, attempt, trigger);
    }
    /// An attempt was recorded.
    fn attempt_finished(&self, attempt: &Attempt) {
        let _ = attempt;
    }
    /// A finisher was fenced out: its lease was stale.
    fn fenced_out(&self, lease: &Lease) {
        let _ = lease;
    }
    /// A target was disabled (410 Gone or auto-disable).
    fn target_disabled(&self, target: &TargetState) {
        let _ = target;
    }
    /// The store failed while claiming (`job` is `None`) or delivering a job; a claimed job's
    /// lease expires and it is claimed again.
    fn store_failed(&self, job: Option<&JobId>, error: &OutboxError) {
        let _ = (job, error);
    }
    /// An attempt ended, with its job, its error class and what it did to the job (a retry
    /// scheduled, a success, a job given up); called right after
    /// [`attempt_finished`](Observer::attempt_finished).
    fn attempt_settled(&self, settled: &Settled<'_>) {
        let _ = settled;
    }
    /// A target's circuit breaker changed state.
    fn breaker_changed(&self, change: &BreakerChange<'_>) {
        let _ = change;
    }
    /// The due jobs were counted ([`Dispatcher::sample_backlog`](crate::outbox::Dispatcher::sample_backlog)).
    fn backlog_sampled(&self, backlog: &Backlog) {
        let _ = backlog;
    }
    /// A live exchange or a tool call starts (open a span keyed by [`Exchange::id`] here).
    fn exchange_started(&self, exchange: &Exchange<'_>) {
        let _ = exchange;
    }
    /// A live exchange or a tool call ended; `exchange` is the started one with what became
    /// known since (the URL, the cascade level).
    fn exchange_finished(&self, exchange: &Exchange<'_>, end: &ExchangeEnd) {
        let _ = (exchange, end);
    }
}

/// The observer that observes nothing: the default of every builder that takes one.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoObserver;
impl Observer for NoObserver {}

/// Tells every hook to each of several observers, in order (e.g. tracing, metrics and your own).
#[derive(Debug, Clone, Default)]
pub struct Fanout(Vec<Arc<dyn Observer>>);

impl Fanout {
    /// The observers, told in this order.
    #[must_use]
    pub fn new(observers: impl IntoIterator<Item = Arc<dyn Observer>>) -> Self {
        Fanout(observers.into_iter().collect())
    }
}

impl Observer for Fanout {
    fn attempt_started(&self, job: &Job, attempt: &AttemptId, trigger: Trigger) {
        self.0
            .iter()
            .for_each(|o| o.attempt_started(job, attempt, trigger));
    }
    fn attempt_finished(&self, attempt: &Attempt) {
        self.0.iter().for_each(|o| o.attempt_finished(attempt));
    }
    fn fenced_out(&self, lease: &Lease) {
        self.0.iter().for_each(|o| o.fenced_out(lease));
    }
    fn target_disabled(&self, target: &TargetState) {
        self.0.iter().for_each(|o| o.target_disabled(target));
    }
    fn store_failed(&self, job: Option<&JobId>, error: &OutboxError) {
        self.0.iter().for_each(|o| o.store_failed(job, error));
    }
    fn attempt_settled(&self, settled: &Settled<'_>) {
        self.0.iter().for_each(|o| o.attempt_settled(settled));
    }
    fn breaker_changed(&self, change: &BreakerChange<'_>) {
        self.0.iter().for_each(|o| o.breaker_changed(change));
    }
    fn backlog_sampled(&self, backlog: &Backlog) {
        self.0.iter().for_each(|o| o.backlog_sampled(backlog));
    }
    fn exchange_started(&self, exchange: &Exchange<'_>) {
        self.0.iter().for_each(|o| o.exchange_started(exchange));
    }
    fn exchange_finished(&self, exchange: &Exchange<'_>, end: &ExchangeEnd) {
        self.0
            .iter()
            .for_each(|o| o.exchange_finished(exchange, end));
    }
}

/// Why a request got no successful answer, in a word operators count by
/// ([`ErrorClass::as_str`], the `error.type` of spans and metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorClass {
    /// No target: nothing to send to (`no_target`).
    NoTarget,
    /// The target is disabled (410 Gone or auto-disable) (`target_disabled`).
    TargetDisabled,
    /// The guard refused the URL, a resolved address or a redirect hop (`refused`).
    Refused,
    /// The request could not be signed (`unsigned`).
    Unsigned,
    /// The request could not be built, e.g. a URL that is no valid request URI or a template
    /// that does not render (`invalid_request`).
    InvalidRequest,
    /// No complete answer within the deadline (`timeout`).
    Timeout,
    /// The connection could not be made or broke (`connect_error`).
    ConnectError,
    /// Any other transport failure (`transport_error`).
    Transport,
    /// An answer with a non-2xx status (`http_status`).
    HttpStatus,
    /// An answer that could not be read as the expected response (`invalid_response`).
    InvalidResponse,
    /// An answer larger than allowed (`too_large`).
    TooLarge,
}

impl ErrorClass {
    /// The snake_case name, as in span attributes and metric labels.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::NoTarget => "no_target",
            ErrorClass::TargetDisabled => "target_disabled",
            ErrorClass::Refused => "refused",
            ErrorClass::Unsigned => "unsigned",
            ErrorClass::InvalidRequest => "invalid_request",
            ErrorClass::Timeout => "timeout",
            ErrorClass::ConnectError => "connect_error",
            ErrorClass::Transport => "transport_error",
            ErrorClass::HttpStatus => "http_status",
            ErrorClass::InvalidResponse => "invalid_response",
            ErrorClass::TooLarge => "too_large",
        }
    }

    /// The class of a transport failure.
    #[must_use]
    pub fn of_transport(kind: TransportErrorKind) -> Self {
        match kind {
            TransportErrorKind::Timeout => ErrorClass::Timeout,
            TransportErrorKind::Connect => ErrorClass::ConnectError,
            TransportErrorKind::Refused => ErrorClass::Refused,
            _ => ErrorClass::Transport,
        }
    }

    /// The class of an outbox refusal (nothing sent), if `error` is one.
    #[must_use]
    pub fn of_refusal(error: &OutboxError) -> Option<Self> {
        Some(match error {
            OutboxError::NoTarget { .. } => ErrorClass::NoTarget,
            OutboxError::TargetDisabled { .. } => ErrorClass::TargetDisabled,
            OutboxError::TargetRefused { .. } => ErrorClass::Refused,
            OutboxError::Unsigned { .. } => ErrorClass::Unsigned,
            OutboxError::Invalid { .. } => ErrorClass::InvalidRequest,
            _ => return None,
        })
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why the outbox gave a job up ([`GiveUp::as_str`] is the `reason` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GiveUp {
    /// Its retry plan is used up (`exhausted`).
    Exhausted,
    /// The target answered 410 Gone (`gone`).
    Gone,
    /// The target answered a status the plan does not retry (`excluded_status`).
    Excluded,
    /// Not sent (the job is skipped and can be requeued); the reason is the class's name.
    Skipped(ErrorClass),
}

impl GiveUp {
    /// The snake_case reason.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            GiveUp::Exhausted => "exhausted",
            GiveUp::Gone => "gone",
            GiveUp::Excluded => "excluded_status",
            GiveUp::Skipped(class) => class.as_str(),
        }
    }
}

impl fmt::Display for GiveUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An outbox attempt that ended, with its job and what it did to it
/// ([`Observer::attempt_settled`]).
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Settled<'a> {
    /// The job as claimed (its `attempts` count this attempt), or as stored for a replay.
    pub job: &'a Job,
    /// The recorded attempt.
    pub attempt: &'a Attempt,
    /// The job's next state; `None` for a manual replay or a finisher fenced out by a stale
    /// lease (the job's state is not this attempt's to decide).
    pub next: Option<Next>,
    /// Why the attempt did not succeed, if it did not.
    pub error: Option<ErrorClass>,
    /// Why the job was given up, when this attempt ended it as failed or skipped.
    pub gave_up: Option<GiveUp>,
}

impl<'a> Settled<'a> {
    /// An attempt of `job` ended (for code outside the dispatcher that records attempts).
    #[must_use]
    pub fn new(job: &'a Job, attempt: &'a Attempt) -> Self {
        Settled {
            job,
            attempt,
            next: None,
            error: None,
            gave_up: None,
        }
    }
    /// With the job's next state.
    #[must_use]
    pub fn with_next(mut self, next: Next) -> Self {
        self.next = Some(next);
        self
    }
    /// With the attempt's error class.
    #[must_use]
    pub fn with_error(mut self, error: ErrorClass) -> Self {
        self.error = Some(error);
        self
    }
    /// With the reason the job was given up.
    #[must_use]
    pub fn with_gave_up(mut self, reason: GiveUp) -> Self {
        self.gave_up = Some(reason);
        self
    }
}

/// The state of a target's circuit breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BreakerState {
    /// Requests flow.
    Closed,
    /// Requests are held back until the cool-down ends.
    Open,
    /// One probe decides whether it closes again.
    HalfOpen,
}

impl BreakerState {
    /// `closed`, `open` or `half_open`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }
}

/// A circuit breaker's change of state ([`Observer::breaker_changed`]).
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct BreakerChange<'a> {
    /// The target's tenant.
    pub tenant: &'a TenantId,
    /// The target URL (observers show it through [`redact_url`]).
    pub url: &'a str,
    /// The state before.
    pub from: BreakerState,
    /// The state now.
    pub to: BreakerState,
    /// Consecutive failures counted when it changed.
    pub failures: u32,
    /// Until when an open breaker defers its target's jobs (`None` once closed).
    pub open_until: Option<crate::outbox::Timestamp>,
}

impl<'a> BreakerChange<'a> {
    /// The breaker of `tenant`'s target `url` went `from` -> `to` after `failures` consecutive
    /// failures.
    #[must_use]
    pub fn new(
        tenant: &'a TenantId,
        url: &'a str,
        from: BreakerState,
        to: BreakerState,
        failures: u32,
    ) -> Self {
        BreakerChange {
            tenant,
            url,
            from,
            to,
            failures,
            open_until: None,
        }
    }

    /// Until when the breaker defers its target's jobs.
    #[must_use]
    pub fn with_open_until(mut self, until: Option<crate::outbox::Timestamp>) -> Self {
        self.open_until = until;
        self
    }
}

/// Names one live exchange or tool call from its start to its end (unique in the process).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExchangeId(u64);

impl ExchangeId {
    /// A new id, never handed out before in this process.
    #[must_use]
    pub fn next() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        ExchangeId(NEXT.fetch_add(1, Ordering::Relaxed))
    }

    /// The number.
    #[must_use]
    pub fn get(self) -> u64 {
        self.0
    }
}

/// What kind of request an [`Exchange`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ExchangeKind {
    /// A live request event: the caller waits for the answer (`live`).
    Live,
    /// A webhook tool call (`tool`).
    Tool,
}

impl ExchangeKind {
    /// `live` or `tool`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ExchangeKind::Live => "live",
            ExchangeKind::Tool => "tool",
        }
    }
}

/// A live exchange or a tool call, as observers see it.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Exchange<'a> {
    /// Keys the start to the end.
    pub id: ExchangeId,
    /// Live exchange or tool call.
    pub kind: ExchangeKind,
    /// For a live exchange the event type (`assistant-request`), for a tool call the tool's
    /// name.
    pub name: &'a str,
    /// The HTTP method.
    pub method: &'a http::Method,
    /// The tenant, when the caller knows it.
    pub tenant: Option<&'a TenantId>,
    /// The call's id, when known.
    pub call_id: Option<&'a str>,
    /// The request URL, once known (observers show it through [`redact_url`]).
    pub url: Option<&'a str>,
    /// The cascade level the target came from, once known.
    pub level: Option<&'a str>,
}

impl<'a> Exchange<'a> {
    /// A live exchange of `event_type` (a new id).
    #[must_use]
    pub fn live(event_type: &'a str, method: &'a http::Method) -> Self {
        Exchange::new(ExchangeKind::Live, event_type, method)
    }
    /// A call of the tool `name` (a new id).
    #[must_use]
    pub fn tool(name: &'a str, method: &'a http::Method) -> Self {
        Exchange::new(ExchangeKind::Tool, name, method)
    }
    fn new(kind: ExchangeKind, name: &'a str, method: &'a http::Method) -> Self {
        Exchange {
            id: ExchangeId::next(),
            kind,
            name,
            method,
            tenant: None,
            call_id: None,
            url: None,
            level: None,
        }
    }
    /// With the tenant.
    #[must_use]
    pub fn with_tenant(mut self, tenant: &'a TenantId) -> Self {
        self.tenant = Some(tenant);
        self
    }
    /// With the call's id.
    #[must_use]
    pub fn with_call_id(mut self, call_id: &'a str) -> Self {
        self.call_id = Some(call_id);
        self
    }
    /// With the request URL.
    #[must_use]
    pub fn with_url(mut self, url: &'a str) -> Self {
        self.url = Some(url);
        self
    }
    /// With the cascade level.
    #[must_use]
    pub fn with_level(mut self, level: &'a str) -> Self {
        self.level = Some(level);
        self
    }
}

/// How a live exchange or tool call ended ([`Observer::exchange_finished`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExchangeEnd {
    /// The response status, if a response came.
    pub status_code: Option<u16>,
    /// Why it did not succeed, if it did not.
    pub error: Option<ErrorClass>,
    /// From start to end, as the caller's clock saw it.
    pub duration: Duration,
}

impl ExchangeEnd {
    /// Answered with a 2xx `status` after `duration`.
    #[must_use]
    pub fn answered(status: u16, duration: Duration) -> Self {
        ExchangeEnd {
            status_code: Some(status),
            error: None,
            duration,
        }
    }
    /// Failed for `error` after `duration` (`status` when a response came).
    #[must_use]
    pub fn failed(error: ErrorClass, status: Option<u16>, duration: Duration) -> Self {
        ExchangeEnd {
            status_code: status,
            error: Some(error),
            duration,
        }
    }
    /// `answered` or `failed`: the `outcome` label.
    #[must_use]
    pub fn outcome(&self) -> &'static str {
        if self.error.is_none() {
            "answered"
        } else {
            "failed"
        }
    }
}

/// A URL as observers show it: user info becomes `REDACTED:REDACTED`, every query value
/// `REDACTED` (the names stay), the fragment goes. The path stays: put secrets in headers, not
/// paths. Text that is no absolute URL becomes `REDACTED` whole.
///
/// ```
/// use agent_webhooks::observe::redact_url;
/// assert_eq!(
///     redact_url("https://bob:hunter2@hooks.example.com:8443/vapi?token=s3cret&v=2#top"),
///     "https://REDACTED:REDACTED@hooks.example.com:8443/vapi?token=REDACTED&v=REDACTED"
/// );
/// assert_eq!(redact_url("not a url?token=s3cret"), "REDACTED");
/// ```
#[must_use]
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(parsed) => redact_parsed(&parsed),
        Err(_) => "REDACTED".to_owned(),
    }
}

/// [`redact_url`] of a parsed URL.
pub(crate) fn redact_parsed(url: &url::Url) -> String {
    let clean = url.username().is_empty()
        && url.password().is_none()
        && url.query().is_none()
        && url.fragment().is_none();
    if clean {
        return url.as_str().to_owned();
    }
    let mut url = url.clone();
    url.set_fragment(None);
    if !url.username().is_empty() || url.password().is_some() {
        // Only fails for URLs that cannot have user info, which then have none.
        let _ = url.set_username("REDACTED");
        let _ = url.set_password(Some("REDACTED"));
    }
    if url.query().is_some() {
        let names: Vec<String> = url.query_pairs().map(|(k, _)| k.into_owned()).collect();
        if names.is_empty() {
            url.set_query(None);
        } else {
            let mut pairs = url.query_pairs_mut();
            pairs.clear();
            for name in &names {
                pairs.append_pair(name, "REDACTED");
            }
        }
    }
    url.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_keeps_no_credential_or_query_value() {
        for (raw, want) in [
            ("https://hooks.example.com/a", "https://hooks.example.com/a"),
            (
                "https://u@hooks.example.com/a?x",
                "https://REDACTED:REDACTED@hooks.example.com/a?x=REDACTED",
            ),
            (
                "https://hooks.example.com/a?token=abc&token=def",
                "https://hooks.example.com/a?token=REDACTED&token=REDACTED",
            ),
            (
                "https://hooks.example.com/a?",
                "https://hooks.example.com/a",
            ),
            (
                "https://hooks.example.com/a#frag",
                "https://hooks.example.com/a",
            ),
            ("/relative?token=abc", "REDACTED"),
        ] {
            assert_eq!(redact_url(raw), want, "{raw}");
        }
    }

    #[test]
    fn classes_have_distinct_names() {
        let all = [
            ErrorClass::NoTarget,
            ErrorClass::TargetDisabled,
            ErrorClass::Refused,
            ErrorClass::Unsigned,
            ErrorClass::InvalidRequest,
            ErrorClass::Timeout,
            ErrorClass::ConnectError,
            ErrorClass::Transport,
            ErrorClass::HttpStatus,
            ErrorClass::InvalidResponse,
            ErrorClass::TooLarge,
        ];
        let names: std::collections::BTreeSet<_> = all.iter().map(|c| c.as_str()).collect();
        assert_eq!(names.len(), all.len());
    }
}
