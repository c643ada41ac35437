//! `MetricsObserver`: the hooks as counters, histograms and gauges on the `metrics` facade
//! (feature `metrics`).

use std::fmt;
use std::sync::{Arc, OnceLock};

use metrics::{
    Counter, Histogram, Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge,
    histogram,
};

use super::{
    BreakerChange, ErrorClass, Exchange, ExchangeEnd, ExchangeKind, GiveUp, Observer, Settled,
};
use crate::outbox::{
    AttemptStatus, Backlog, DisabledReason, JobId, Lease, Next, OutboxError, TargetState, Trigger,
};

/// The metric names, OpenTelemetry style; the Prometheus name each becomes with
/// `metrics-exporter-prometheus`'s recommended naming (`with_recommended_naming(true)`: dots
/// become underscores, counters end in `_total`, seconds in `_seconds`) is in its doc.
///
/// Label names are written `error.type`; Prometheus shows them as `error_type`.
pub mod names {
    /// Counter: outbox attempts, by `outcome` (`succeeded`, `failed`, `refused`), `error.type`
    /// (the [`ErrorClass`](crate::observe::ErrorClass), absent on success) and `trigger`
    /// (`scheduled`, `manual`). Prometheus: `webhook_attempts_total`.
    pub const ATTEMPTS: &str = "webhook.attempts";
    /// Histogram, seconds: the request of each attempt that was sent (send to answer or
    /// failure), by `outcome`. Prometheus: `webhook_attempt_duration_seconds`.
    pub const ATTEMPT_DURATION: &str = "webhook.attempt.duration";
    /// Histogram, seconds: end-to-end delivery delay, from enqueue to the successful
    /// attempt's answer. Prometheus: `webhook_delivery_delay_seconds`.
    pub const DELIVERY_DELAY: &str = "webhook.delivery.delay";
    /// Counter: jobs given up, by `reason` (`exhausted`, `gone`, `excluded_status`, or the
    /// class of a skip: `no_target`, `target_disabled`, `refused`, ...). Prometheus:
    /// `webhook_jobs_given_up_total`.
    pub const JOBS_GIVEN_UP: &str = "webhook.jobs.given_up";
    /// Gauge: jobs due now (pending and due, or with an expired lease), as last sampled.
    /// Prometheus: `webhook_backlog`.
    pub const BACKLOG: &str = "webhook.backlog";
    /// Gauge, seconds: how long the job due longest has waited, as last sampled. Prometheus:
    /// `webhook_backlog_oldest_age_seconds`.
    pub const BACKLOG_OLDEST_AGE: &str = "webhook.backlog.oldest_age";
    /// Counter: targets disabled, by `reason` (`gone`, `failing`). Prometheus:
    /// `webhook_targets_disabled_total`.
    pub const TARGETS_DISABLED: &str = "webhook.targets.disabled";
    /// Counter: circuit breaker changes, by `state` (`open`, `half_open`, `closed`).
    /// Prometheus: `webhook_breaker_transitions_total`.
    pub const BREAKER_TRANSITIONS: &str = "webhook.breaker.transitions";
    /// Counter: finishers fenced out by a stale lease. Prometheus:
    /// `webhook_attempts_fenced_total`.
    pub const ATTEMPTS_FENCED: &str = "webhook.attempts.fenced";
    /// Counter: store failures while claiming or finishing. Prometheus:
    /// `webhook_store_errors_total`.
    pub const STORE_ERRORS: &str = "webhook.store.errors";
    /// Counter: live exchanges, by `event_type`, `outcome` (`answered`, `failed`) and
    /// `error.type`. Prometheus: `webhook_live_exchanges_total`.
    pub const LIVE_EXCHANGES: &str = "webhook.live.exchanges";
    /// Histogram, seconds: live exchanges from start to answer or failure, by `event_type`
    /// and `outcome`. Prometheus: `webhook_live_duration_seconds`.
    pub const LIVE_DURATION: &str = "webhook.live.duration";
    /// Counter: webhook tool calls, by `outcome` (`answered`, `failed`) and `error.type`.
    /// Prometheus: `webhook_tool_calls_total`.
    pub const TOOL_CALLS: &str = "webhook.tool.calls";
    /// Histogram, seconds: tool calls from start to result, by `outcome`. Prometheus:
    /// `webhook_tool_duration_seconds`.
    pub const TOOL_DURATION: &str = "webhook.tool.duration";
}

/// Describes every metric (unit and help text) to the installed recorder, so exporters can add
/// unit suffixes and `# HELP` lines. [`MetricsObserver::new`] calls it; call it again after
/// installing a recorder if the observer was made before.
pub fn describe_metrics() {
    use names::*;
    describe_counter!(
        ATTEMPTS,
        Unit::Count,
        "Outbox attempts by outcome and error class."
    );
    describe_histogram!(
        ATTEMPT_DURATION,
        Unit::Seconds,
        "Outbox attempt request duration, send to answer or failure."
    );
    describe_histogram!(
        DELIVERY_DELAY,
        Unit::Seconds,
        "End-to-end delivery delay, enqueue to the successful attempt."
    );
    describe_counter!(JOBS_GIVEN_UP, Unit::Count, "Jobs given up, by reason.");
    describe_gauge!(BACKLOG, Unit::Count, "Jobs due now, as last sampled.");
    describe_gauge!(
        BACKLOG_OLDEST_AGE,
        Unit::Seconds,
        "How long the job due longest has waited, as last sampled."
    );
    describe_counter!(
        TARGETS_DISABLED,
        Unit::Count,
        "Targets disabled, by reason."
    );
    describe_counter!(
        BREAKER_TRANSITIONS,
        Unit::Count,
        "Circuit breaker changes, by new state."
    );
    describe_counter!(
        ATTEMPTS_FENCED,
        Unit::Count,
        "Finishers fenced out by a stale lease."
    );
    describe_counter!(
        STORE_ERRORS,
        Unit::Count,
        "Store failures while claiming or finishing."
    );
    describe_counter!(
        LIVE_EXCHANGES,
        Unit::Count,
        "Live exchanges by event type and outcome."
    );
    describe_histogram!(
        LIVE_DURATION,
        Unit::Seconds,
        "Live exchange duration, start to answer."
    );
    describe_counter!(TOOL_CALLS, Unit::Count, "Webhook tool calls by outcome.");
    describe_histogram!(TOOL_DURATION, Unit::Seconds, "Webhook tool call duration.");
}

/// The observer hooks as metrics on the [`metrics`] facade: whatever recorder the host
/// installed (Prometheus, OpenTelemetry, StatsD) receives them. Names and labels: [`names`].
///
/// Labels are low-cardinality on purpose: no tenant, URL or job id (those are in the spans of
/// the `tracing` feature). The backlog gauges move only when the host samples them
/// ([`Dispatcher::sample_backlog`](crate::outbox::Dispatcher::sample_backlog)), never on the
/// delivery path.
///
/// The outbox's metrics are on every attempt's path, so the observer keeps a handle per label
/// set, taken from the recorder the first time that label set is recorded: install the
/// recorder before the observer records anything (as with `describe`).
///
/// ```
/// use std::sync::Arc;
/// use agent_webhooks::observe::{MetricsObserver, Observer};
/// // Install the recorder first (e.g. metrics_exporter_prometheus::PrometheusBuilder), then:
/// let observer: Arc<dyn Observer> = Arc::new(MetricsObserver::new());
/// # let _ = observer;
/// ```
#[derive(Debug, Clone, Default)]
pub struct MetricsObserver {
    handles: Arc<Handles>,
}

impl MetricsObserver {
    /// An observer; describes the metrics to the recorder installed now ([`describe_metrics`]).
    #[must_use]
    pub fn new() -> Self {
        describe_metrics();
        MetricsObserver::default()
    }
}

/// Attempt outcomes, error classes (and none) and triggers that have a cached handle.
const OUTCOMES: usize = 4;
const CLASSES: usize = 12;
const TRIGGERS: usize = 4;
const REASONS: usize = 3 + CLASSES;

/// The handles of the outbox's per-attempt metrics, one per label set, made on first use.
struct Handles {
    attempts: [OnceLock<Counter>; OUTCOMES * CLASSES * TRIGGERS],
    duration: [OnceLock<Histogram>; OUTCOMES],
    delay: OnceLock<Histogram>,
    given_up: [OnceLock<Counter>; REASONS],
}

impl Default for Handles {
    fn default() -> Self {
        Handles {
            attempts: std::array::from_fn(|_| OnceLock::new()),
            duration: std::array::from_fn(|_| OnceLock::new()),
            delay: OnceLock::new(),
            given_up: std::array::from_fn(|_| OnceLock::new()),
        }
    }
}

impl fmt::Debug for Handles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handles").finish_non_exhaustive()
    }
}

fn outcome_index(status: AttemptStatus) -> usize {
    match status {
        AttemptStatus::Succeeded => 0,
        AttemptStatus::Failed => 1,
        AttemptStatus::Refused => 2,
        // A lease expired with the send's outcome unknown (the receiver may have seen it).
        AttemptStatus::Unknown => 3,
    }
}

fn class_index(class: Option<ErrorClass>) -> usize {
    match class {
        None => 0,
        Some(ErrorClass::NoTarget) => 1,
        Some(ErrorClass::TargetDisabled) => 2,
        Some(ErrorClass::Refused) => 3,
        Some(ErrorClass::Unsigned) => 4,
        Some(ErrorClass::InvalidRequest) => 5,
        Some(ErrorClass::Timeout) => 6,
        Some(ErrorClass::ConnectError) => 7,
        Some(ErrorClass::Transport) => 8,
        Some(ErrorClass::HttpStatus) => 9,
        Some(ErrorClass::InvalidResponse) => 10,
        Some(ErrorClass::TooLarge) => 11,
    }
}

fn trigger_index(trigger: Trigger) -> usize {
    match trigger {
        Trigger::Scheduled => 0,
        Trigger::Manual => 1,
        Trigger::Live => 2,
        Trigger::Tool => 3,
    }
}

fn reason_index(reason: GiveUp) -> usize {
    match reason {
        GiveUp::Exhausted => 0,
        GiveUp::Gone => 1,
        GiveUp::Excluded => 2,
        GiveUp::Skipped(class) => 3 + class_index(Some(class)) - 1,
    }
}

#[allow(
    clippy::cast_precision_loss,
    reason = "a gauge is an f64; backlogs beyond 2^53 jobs do not occur"
)]
fn as_f64(n: u64) -> f64 {
    n as f64
}

impl Observer for MetricsObserver {
    fn attempt_settled(&self, settled: &Settled<'_>) {
        let h = &*self.handles;
        let attempt = settled.attempt;
        let outcome = outcome_index(attempt.status);
        let slot = (outcome * CLASSES + class_index(settled.error)) * TRIGGERS
            + trigger_index(attempt.trigger);
        h.attempts[slot]
            .get_or_init(|| {
                let (outcome, trigger) = (attempt.status.as_str(), attempt.trigger.as_str());
                match settled.error {
                    Some(class) => counter!(names::ATTEMPTS, "outcome" => outcome, "error.type" => class.as_str(), "trigger" => trigger),
                    None => counter!(names::ATTEMPTS, "outcome" => outcome, "trigger" => trigger),
                }
            })
            .increment(1);
        if attempt.status != AttemptStatus::Refused {
            // The request alone: `latency_ms` is measured around the send.
            let request = std::time::Duration::from_millis(attempt.latency_ms);
            h.duration[outcome]
                .get_or_init(
                    || histogram!(names::ATTEMPT_DURATION, "outcome" => attempt.status.as_str()),
                )
                .record(request.as_secs_f64());
        }
        if settled.next == Some(Next::Succeeded) {
            let delay = attempt.ended_at.duration_since(settled.job.created_at);
            h.delay
                .get_or_init(|| histogram!(names::DELIVERY_DELAY))
                .record(delay.as_secs_f64());
        }
        if let Some(reason) = settled.gave_up {
            h.given_up[reason_index(reason)]
                .get_or_init(|| counter!(names::JOBS_GIVEN_UP, "reason" => reason.as_str()))
                .increment(1);
        }
    }

    fn fenced_out(&self, _lease: &Lease) {
        counter!(names::ATTEMPTS_FENCED).increment(1);
    }

    fn target_disabled(&self, target: &TargetState) {
        let reason = match target.disabled {
            Some((DisabledReason::Gone, _)) => "gone",
            Some((DisabledReason::Failing, _)) => "failing",
            _ => "other",
        };
        counter!(names::TARGETS_DISABLED, "reason" => reason).increment(1);
    }

    fn store_failed(&self, _job: Option<&JobId>, _error: &OutboxError) {
        counter!(names::STORE_ERRORS).increment(1);
    }

    fn breaker_changed(&self, change: &BreakerChange<'_>) {
        counter!(names::BREAKER_TRANSITIONS, "state" => change.to.as_str()).increment(1);
    }

    fn backlog_sampled(&self, backlog: &Backlog) {
        gauge!(names::BACKLOG).set(as_f64(backlog.due));
        gauge!(names::BACKLOG_OLDEST_AGE).set(backlog.oldest_age().as_secs_f64());
    }

    fn exchange_finished(&self, exchange: &Exchange<'_>, end: &ExchangeEnd) {
        let outcome = end.outcome();
        let seconds = end.duration.as_secs_f64();
        match exchange.kind {
            ExchangeKind::Tool => {
                match end.error {
                    Some(class) => counter!(names::TOOL_CALLS, "outcome" => outcome, "error.type" => class.as_str()).increment(1),
                    None => counter!(names::TOOL_CALLS, "outcome" => outcome).increment(1),
                }
                histogram!(names::TOOL_DURATION, "outcome" => outcome).record(seconds);
            }
            _ => {
                let event_type = exchange.name.to_owned();
                match end.error {
                    Some(class) => counter!(names::LIVE_EXCHANGES, "event_type" => event_type.clone(), "outcome" => outcome, "error.type" => class.as_str()).increment(1),
                    None => counter!(names::LIVE_EXCHANGES, "event_type" => event_type.clone(), "outcome" => outcome).increment(1),
                }
                histogram!(names::LIVE_DURATION, "event_type" => event_type, "outcome" => outcome)
                    .record(seconds);
            }
        }
    }
}
