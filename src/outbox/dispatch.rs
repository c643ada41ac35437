//! Delivery: the [`Dispatcher`] claims due jobs and sends them, with the observer hooks.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::future::{Either, select};
use futures_util::stream::{FuturesUnordered, StreamExt};

use crate::error::Result;
use crate::guard::Policy;
use crate::observe::{
    BreakerChange, BreakerState as BreakerPhase, ErrorClass, GiveUp, NoObserver, Observer, Settled,
};
use crate::outbox::error::{OutboxError, PlanError};
use crate::outbox::io::{Clock, OsRandom, Random, SystemClock};
use crate::outbox::model::{
    Attempt, AttemptId, AttemptStatus, Job, MAX_RESPONSE_BODY, PayloadState, Trigger,
};
use crate::outbox::plan::{Decision, RetryPlan};
use crate::outbox::store::{
    Backlog, BreakerEvent, ClaimRules, Claimed, Finish, Lease, Next, OrderedTargets, Store,
    TargetEvent,
};
use crate::outbox::target::{Target, TargetResolver, Unresolved, UrlCheck};
use crate::outbox::wake::{Doorbell, Ticket};
use crate::tenant::Scope;
use crate::transport::{ExchangeResult, Refusal, SendStep, Timer, Transport};

/// How much longer than the longest request timeout a lease must be (without a timer), or
/// how much longer than a third of itself (with one: the heartbeat renews it every third).
pub const LEASE_MARGIN: Duration = Duration::from_secs(5);

/// The longest request timeout honoured: a server's `timeoutSeconds` may be up to 300.
pub const MAX_REQUEST_TIMEOUT: Duration = Duration::from_secs(300);

/// Consecutive failures (timeouts, transport errors, 5xx, 408, 429) that open a target's
/// breaker, by default.
pub const DEFAULT_BREAKER_THRESHOLD: u32 = 5;

/// How long an open breaker defers its target's jobs before one probe is sent, by default.
pub const DEFAULT_BREAKER_COOL_DOWN: Duration = Duration::from_secs(30);

/// Asks [`Dispatcher::run`] to stop: it claims nothing more and returns once every claimed job
/// is finished. Clones share the signal.
#[derive(Debug, Clone, Default)]
pub struct Shutdown(Arc<AtomicBool>);

impl Shutdown {
    /// A signal not yet given.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }
    /// Gives the signal.
    pub fn trigger(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    /// Whether the signal was given.
    #[must_use]
    pub fn is_triggered(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// What a dispatcher run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Tick {
    /// Jobs claimed.
    pub claimed: usize,
    /// Attempts that succeeded.
    pub succeeded: usize,
    /// Attempts that failed with a retry scheduled.
    pub retried: usize,
    /// Attempts after which the job failed.
    pub failed: usize,
    /// Jobs skipped (no target, disabled target, refused).
    pub skipped: usize,
    /// Finishers fenced out by a stale lease.
    pub fenced: usize,
    /// Jobs left to their lease because the store failed.
    pub store_errors: usize,
}

impl Tick {
    fn add(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Done(Next::Succeeded) => self.succeeded += 1,
            Outcome::Done(Next::Retry(_)) => self.retried += 1,
            Outcome::Done(Next::Failed) => self.failed += 1,
            Outcome::Done(Next::Skipped) => self.skipped += 1,
            Outcome::Fenced => self.fenced += 1,
            Outcome::StoreError => self.store_errors += 1,
        }
    }
}

#[derive(Clone, Copy)]
enum Outcome {
    Done(Next),
    Fenced,
    StoreError,
}

/// Delivers due jobs: claim -> resolve the current target -> disabled? -> guard check -> sign
/// (fresh timestamp, the job id as `webhook-id`) -> send with the server's timeout -> record
/// the attempt -> schedule the next try or finish.
///
/// Not sent, the job is **skipped** (and can be requeued): the resolver found no target, the
/// target is disabled, the guard refused its URL, or signing failed. The attempt is recorded
/// with status `refused` and the reason in `error`.
///
/// Runtime-agnostic: [`Dispatcher::run`] takes the host's sleep function; [`Dispatcher::run_once`]
/// is one claim-and-deliver round.
#[derive(Debug)]
pub struct Dispatcher {
    store: Arc<dyn Store>,
    transport: Arc<dyn Transport>,
    step: SendStep,
    timer: Option<Arc<dyn Timer>>,
    resolver: Arc<dyn TargetResolver>,
    check: Arc<dyn UrlCheck>,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
    observer: Arc<dyn Observer>,
    plan: RetryPlan,
    scope: Scope,
    lease: Duration,
    max_timeout: Option<Duration>,
    concurrency: usize,
    poll_interval: Duration,
    auto_disable_after: Option<Duration>,
    max_response_body: usize,
    rules: ClaimRules,
    breaker: Option<(u32, Duration)>,
    bell: Option<Doorbell>,
}

/// Builds a [`Dispatcher`]; settings are checked by [`DispatcherBuilder::build`].
#[derive(Debug)]
#[must_use]
pub struct DispatcherBuilder {
    d: Dispatcher,
}

impl DispatcherBuilder {
    /// The clock (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.d.clock = clock;
        self
    }
    /// The randomness for jitter and attempt ids (default: [`OsRandom`](crate::outbox::OsRandom)).
    pub fn random(mut self, random: Arc<dyn Random>) -> Self {
        self.d.random = random;
        self
    }
    /// A timer with which every send's timeout is enforced by the dispatcher itself, not only
    /// by the transport (default: none; the transport's timeout holds). See [`SendStep`].
    ///
    /// With a timer the dispatcher also renews a job's lease while its send is in flight (a
    /// heartbeat every third of the lease, [`Store::renew`]), so targets' timeouts up to
    /// [`MAX_REQUEST_TIMEOUT`] are honoured under the default 60 s lease, and a transport that
    /// ignores its timeout cannot make the job due again while this dispatcher holds it.
    pub fn timer(mut self, timer: Arc<dyn Timer>) -> Self {
        self.d.timer = Some(timer);
        self
    }
    /// The URL check run before every send (default: the guard's production [`Policy`]).
    pub fn url_check(mut self, check: Arc<dyn UrlCheck>) -> Self {
        self.d.check = check;
        self
    }
    /// Metrics and tracing hooks.
    pub fn observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.d.observer = observer;
        self
    }
    /// The retry plan of targets without their own (default: [`RetryPlan::default`]).
    pub fn plan(mut self, plan: RetryPlan) -> Self {
        self.d.plan = plan;
        self
    }
    /// Which tenants' jobs this dispatcher claims (default: all).
    pub fn scope(mut self, scope: Scope) -> Self {
        self.d.scope = scope;
        self
    }
    /// How long a claim lasts (default 60 s). Without a timer it must exceed the longest
    /// timeout plus [`LEASE_MARGIN`]; with one, a third of it plus the margin (the heartbeat
    /// renews it every third).
    pub fn lease(mut self, lease: Duration) -> Self {
        self.d.lease = lease;
        self
    }
    /// The longest request timeout; a target's own is capped to it (default
    /// [`MAX_REQUEST_TIMEOUT`] with a [timer](Self::timer), else 30 s, which the lease must
    /// outlast).
    pub fn max_timeout(mut self, timeout: Duration) -> Self {
        self.d.max_timeout = Some(timeout);
        self
    }
    /// Vapi's retry semantics: a target without its own retry plan (a server without
    /// `backoffPlan`) is tried once, never retried. The default is the durable
    /// [`RetryPlan::default`]; this is [`DispatcherBuilder::plan`] with [`RetryPlan::none`].
    pub fn vapi_retry_semantics(self) -> Self {
        self.plan(RetryPlan::none())
    }
    /// How many sends run at once (default 16).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.d.concurrency = n;
        self
    }
    /// How long [`Dispatcher::run`] waits when nothing is due (default 1 s); also the longest
    /// delay before it notices a shutdown while idle.
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.d.poll_interval = interval;
        self
    }
    /// The most sends in flight for one tenant (default [`DEFAULT_TENANT_CAP`]): a tenant at
    /// its share waits while the others go ahead.
    ///
    /// [`DEFAULT_TENANT_CAP`]: crate::outbox::DEFAULT_TENANT_CAP
    pub fn tenant_cap(mut self, n: usize) -> Self {
        self.d.rules.tenant_cap = n;
        self
    }
    /// The most sends in flight for one target of a tenant, by target reference (default
    /// [`DEFAULT_TARGET_CAP`]): a slow target holds at most this many of its tenant's share.
    ///
    /// [`DEFAULT_TARGET_CAP`]: crate::outbox::DEFAULT_TARGET_CAP
    pub fn target_cap(mut self, n: usize) -> Self {
        self.d.rules.target_cap = n;
        self
    }
    /// Delivers the jobs of these targets in enqueue order per call (the ordering key is the
    /// job's call id): a job waits while an earlier job of its call is pending or in flight,
    /// and a job that ends failed or skipped releases the next. Off by default.
    ///
    /// The cost: a call's events go one at a time (one round trip each, no overlap), a retry
    /// holds back the call's later events until it ends, and each claim checks every due job
    /// of an ordered target for an earlier one (an index lookup on SQL stores).
    pub fn ordered(mut self, targets: OrderedTargets) -> Self {
        self.d.rules.ordered = targets;
        self
    }
    /// The circuit breaker per target: after `threshold` consecutive failures (timeouts,
    /// transport errors, 5xx, 408, 429) the target's jobs are deferred for `cool_down`, then
    /// one probe decides (default [`DEFAULT_BREAKER_THRESHOLD`] and
    /// [`DEFAULT_BREAKER_COOL_DOWN`]). Deferred jobs are not sent and spend no attempt. 410
    /// Gone and auto-disable work as before, beside it.
    pub fn breaker(mut self, threshold: u32, cool_down: Duration) -> Self {
        self.d.breaker = Some((threshold, cool_down));
        self
    }
    /// No circuit breaker: a failing target is tried on every job's own schedule.
    pub fn no_breaker(mut self) -> Self {
        self.d.breaker = None;
        self
    }
    /// Disables a target after only exhausted failures for this long (Svix uses 5 days); off
    /// by default. A success in between starts the count again; a failure run with nothing
    /// for twice the period lapses.
    pub fn auto_disable_after(mut self, period: Duration) -> Self {
        self.d.auto_disable_after = Some(period);
        self
    }
    /// The most bytes of each response body an attempt keeps (default
    /// [`MAX_RESPONSE_BODY`], 20,000); longer bodies are cut and flagged
    /// ([`Attempt::response_truncated`]). 0 keeps none: a body is whatever the receiver
    /// answered, personal data and echoed credentials included.
    pub fn max_response_body(mut self, bytes: usize) -> Self {
        self.d.max_response_body = bytes;
        self
    }

    /// The dispatcher.
    ///
    /// # Errors
    /// [`PlanError::LeaseTooShort`] when the lease is not longer than the longest timeout plus
    /// [`LEASE_MARGIN`] (a slow send could be claimed twice); [`PlanError::Zero`] for a
    /// concurrency, cap or breaker threshold of 0.
    pub fn build(self) -> std::result::Result<Dispatcher, PlanError> {
        let mut d = self.d;
        let heartbeat = d.timer.is_some();
        let max_timeout = (d.max_timeout).unwrap_or(if heartbeat {
            MAX_REQUEST_TIMEOUT
        } else {
            Duration::from_secs(30)
        });
        d.max_timeout = Some(max_timeout);
        let needed = if heartbeat { d.lease / 3 } else { max_timeout };
        if d.lease <= needed + LEASE_MARGIN {
            return Err(PlanError::LeaseTooShort {
                lease: d.lease,
                timeout: needed,
                margin: LEASE_MARGIN,
            });
        }
        if d.concurrency == 0 {
            return Err(PlanError::Zero("concurrency"));
        }
        if d.rules.tenant_cap == 0 {
            return Err(PlanError::Zero("tenant_cap"));
        }
        if d.rules.target_cap == 0 {
            return Err(PlanError::Zero("target_cap"));
        }
        if d.breaker.is_some_and(|(threshold, _)| threshold == 0) {
            return Err(PlanError::Zero("breaker threshold"));
        }
        let mut step = SendStep::new(d.transport.clone())
            .with_url_check(d.check.clone())
            .with_clock(d.clock.clone());
        if let Some(timer) = &d.timer {
            step = step.with_timer(timer.clone());
        }
        d.step = step;
        Ok(d)
    }
}

enum Sent {
    Refused(OutboxError),
    Response {
        status: u16,
        retry_after: Option<Duration>,
    },
    TransportError(ErrorClass),
}

impl Sent {
    /// Why the attempt did not succeed (`None` for a 2xx).
    fn error(&self) -> Option<ErrorClass> {
        match self {
            Sent::Refused(e) => {
                Some(ErrorClass::of_refusal(e).unwrap_or(ErrorClass::InvalidRequest))
            }
            Sent::Response { status, .. } if !(200..300).contains(status) => {
                Some(ErrorClass::HttpStatus)
            }
            Sent::Response { .. } => None,
            Sent::TransportError(class) => Some(*class),
        }
    }
}

impl Dispatcher {
    /// A dispatcher over `store`, sending through `transport` to targets from `resolver`.
    pub fn builder(
        store: Arc<dyn Store>,
        transport: Arc<dyn Transport>,
        resolver: Arc<dyn TargetResolver>,
    ) -> DispatcherBuilder {
        DispatcherBuilder {
            d: Dispatcher {
                transport: transport.clone(),
                resolver,
                check: Arc::new(Policy::default()),
                clock: Arc::new(SystemClock),
                random: Arc::new(OsRandom),
                observer: Arc::new(NoObserver),
                plan: RetryPlan::default(),
                scope: Scope::AllTenants,
                lease: Duration::from_secs(60),
                max_timeout: None,
                concurrency: 16,
                poll_interval: Duration::from_secs(1),
                auto_disable_after: None,
                step: SendStep::new(transport),
                timer: None,
                max_response_body: MAX_RESPONSE_BODY,
                rules: ClaimRules::default(),
                breaker: Some((DEFAULT_BREAKER_THRESHOLD, DEFAULT_BREAKER_COOL_DOWN)),
                bell: store.doorbell(),
                store,
            },
        }
    }

    /// The time on the dispatcher's clock.
    pub(crate) fn clock_now(&self) -> crate::outbox::Timestamp {
        self.clock.now()
    }

    async fn claim(&self, limit: usize) -> std::result::Result<Vec<Claimed>, OutboxError> {
        let now = self.clock.now();
        self.store
            .claim_with(&self.scope, now, self.lease, limit, &self.rules)
            .await
    }

    /// Waits for the poll interval, or less when the store's doorbell rings.
    async fn idle<F: Future<Output = ()>>(&self, ticket: Option<Ticket>, sleep: F) {
        let sleep = pin!(sleep);
        match ticket {
            Some(ticket) => {
                select(ticket, sleep).await;
            }
            None => sleep.await,
        }
    }

    /// Claims up to `concurrency` due jobs and delivers them, `concurrency` at a time; returns
    /// once every claimed job is finished.
    ///
    /// # Errors
    /// [`OutboxError::Backend`] when the claim fails. A store failure while finishing one job
    /// is counted in [`Tick::store_errors`] and reported to the observer; that job's lease
    /// expires and it is claimed again.
    pub async fn run_once(&self) -> Result<Tick> {
        let claimed = self.claim(self.concurrency).await?;
        let mut tick = Tick {
            claimed: claimed.len(),
            ..Tick::default()
        };
        let mut in_flight: FuturesUnordered<_> =
            claimed.into_iter().map(|c| self.deliver(c)).collect();
        while let Some(outcome) = in_flight.next().await {
            tick.add(outcome);
        }
        Ok(tick)
    }

    /// Delivers jobs until `shutdown` is triggered, keeping up to `concurrency` sends in
    /// flight; claims more as slots free up, and waits with `sleep` when nothing is due.
    ///
    /// On shutdown it claims nothing more, finishes every claimed job and returns the totals:
    /// nothing stays claimed. If the future is dropped instead (process killed), the claimed
    /// jobs' leases expire and another dispatcher claims them.
    ///
    /// ```no_run
    /// # async fn demo(dispatcher: agent_webhooks::outbox::Dispatcher) {
    /// use agent_webhooks::outbox::Shutdown;
    /// let shutdown = Shutdown::new();
    /// // With tokio: dispatcher.run(&shutdown, tokio::time::sleep).await;
    /// # let sleep = |_d: std::time::Duration| async {};
    /// let totals = dispatcher.run(&shutdown, sleep).await;
    /// # }
    /// ```
    pub async fn run<F, S>(&self, shutdown: &Shutdown, sleep: S) -> Tick
    where
        S: Fn(Duration) -> F,
        F: Future<Output = ()>,
    {
        let mut totals = Tick::default();
        let mut in_flight = FuturesUnordered::new();
        loop {
            let mut claimed_any = false;
            // Taken before the claim: an enqueue while the store answers is not missed.
            let ticket = self.bell.as_ref().map(Doorbell::listen);
            if !shutdown.is_triggered() && in_flight.len() < self.concurrency {
                let room = self.concurrency - in_flight.len();
                let mut claim = pin!(self.claim(room));
                // Keep the sends in flight moving while the store answers.
                let result = loop {
                    match select(claim.as_mut(), in_flight.next()).await {
                        Either::Left((result, _)) => break result,
                        Either::Right((Some(outcome), _)) => totals.add(outcome),
                        Either::Right((None, _)) => break claim.await,
                    }
                };
                match result {
                    Ok(claimed) => {
                        claimed_any = !claimed.is_empty();
                        totals.claimed += claimed.len();
                        in_flight.extend(claimed.into_iter().map(|c| self.deliver(c)));
                    }
                    Err(e) => {
                        totals.store_errors += 1;
                        self.observer.store_failed(None, &e);
                    }
                }
            }
            if in_flight.is_empty() {
                if shutdown.is_triggered() {
                    return totals;
                }
                self.idle(ticket, sleep(self.poll_interval)).await;
                continue;
            }
            if claimed_any && in_flight.len() < self.concurrency {
                // Room left and work may remain: look again before waiting.
                continue;
            }
            let wait = pin!(self.idle(ticket, sleep(self.poll_interval)));
            if let Either::Left((Some(outcome), _)) = select(in_flight.next(), wait).await {
                totals.add(outcome);
            }
        }
    }

    /// Counts the jobs due in this dispatcher's scope and how long the oldest has waited
    /// ([`Store::backlog`]), and reports it to the observer
    /// ([`Observer::backlog_sampled`]; the `webhook.backlog` gauges of the metrics observer).
    ///
    /// Not part of delivery: one aggregate query, for the host to call on its own schedule
    /// (a metrics scrape, a timer every few seconds). `None` when the store does not count.
    ///
    /// # Errors
    /// [`OutboxError::Backend`] when the store fails.
    pub async fn sample_backlog(&self) -> Result<Option<Backlog>> {
        let backlog = self.store.backlog(&self.scope, self.clock.now()).await?;
        if let Some(b) = &backlog {
            self.observer.backlog_sampled(b);
        }
        Ok(backlog)
    }

    /// Sends a stored attempt's job again, now, to its *current* target, as a new manual
    /// attempt: same `webhook-id`, fresh timestamp and signature. The original attempt and the
    /// job's state are unchanged, and a failed replay is never rescheduled (requeue the job to
    /// run its retry plan again). A manual attempt does not change the target's health either:
    /// a 410 on a replay does not disable it.
    ///
    /// # Errors
    /// [`OutboxError::NotFound`] when the attempt or its job is not in `scope`;
    /// [`OutboxError::TargetDisabled`], [`OutboxError::NoTarget`] or
    /// [`OutboxError::TargetRefused`] when nothing could be sent (the refused attempt is
    /// recorded); [`OutboxError::PayloadRemoved`] when the tenant's data policy took the
    /// payload out (redacted, dropped or expired; nothing is sent or recorded).
    pub async fn replay(&self, scope: &Scope, attempt: &AttemptId) -> Result<Attempt> {
        let original = self
            .store
            .attempt(scope, attempt)
            .await?
            .ok_or_else(|| OutboxError::not_found("attempt", attempt))?;
        let job = self
            .store
            .job(scope, &original.job_id)
            .await?
            .ok_or_else(|| OutboxError::not_found("job", &original.job_id))?;
        if job.payload_state != PayloadState::Kept {
            return Err(OutboxError::PayloadRemoved {
                job: job.id,
                state: job.payload_state,
            }
            .into());
        }
        let id = AttemptId::generate(self.clock.now(), self.random.next_u64());
        self.observer.attempt_started(&job, &id, Trigger::Manual);
        let (mut record, sent, _) = self.send(&job, id, Trigger::Manual, None).await?;
        record.number = 0;
        record.next_attempt_at = None;
        self.store.append_attempt(scope, record.clone()).await?;
        self.observer.attempt_finished(&record);
        let settled = Settled::new(&job, &record);
        self.observer.attempt_settled(&match sent.error() {
            Some(class) => settled.with_error(class),
            None => settled,
        });
        match sent {
            Sent::Refused(e) => Err(e.into()),
            _ => Ok(record),
        }
    }

    async fn deliver(&self, claimed: Claimed) -> Outcome {
        let Claimed {
            job,
            lease,
            disabled_targets,
            breaker_failures,
            reclaimed,
            ..
        } = claimed;
        if reclaimed {
            self.record_unknown(&job).await;
        }
        let id = AttemptId::generate(self.clock.now(), self.random.next_u64());
        self.observer.attempt_started(&job, &id, Trigger::Scheduled);
        let disabled = disabled_targets.as_deref();
        let send = self.send(&job, id, Trigger::Scheduled, disabled);
        let (mut attempt, sent, plan) = match self.with_heartbeat(&lease, send).await {
            Ok(x) => x,
            Err(e) => {
                self.observer.store_failed(Some(&job.id), &e);
                return Outcome::StoreError;
            }
        };
        let url = attempt.url.clone().unwrap_or_default();
        let error = sent.error();
        let (next, target, gave_up) = match sent {
            Sent::Refused(_) => (
                Next::Skipped,
                None,
                Some(GiveUp::Skipped(error.unwrap_or(ErrorClass::InvalidRequest))),
            ),
            Sent::Response {
                status,
                retry_after,
            } => self.next(
                plan.as_ref(),
                &job,
                Some(status),
                retry_after,
                &attempt,
                url,
            ),
            Sent::TransportError(_) => self.next(plan.as_ref(), &job, None, None, &attempt, url),
        };
        if let Next::Retry(at) = next {
            attempt.next_attempt_at = Some(at);
        }
        let breaker = self.breaker_event(&sent, breaker_failures);
        let scope = &self.scope;
        let settled = |attempt: &Attempt, next: Option<Next>| {
            let mut settled = Settled::new(&job, attempt);
            settled.next = next;
            settled.error = error;
            settled.gave_up = next.and(gave_up);
            self.observer.attempt_settled(&settled);
        };
        let mut finish = Finish::new(attempt.clone(), next, target);
        if let Some(event) = breaker {
            finish = finish.with_breaker(event);
        }
        match self.store.finish(scope, &lease, finish).await {
            Ok(finished) => {
                self.observer.attempt_finished(&attempt);
                settled(&attempt, Some(next));
                if let Some(state) = &finished.disabled_target {
                    self.observer.target_disabled(state);
                }
                if let Some(state) = &finished.breaker {
                    let url = attempt.url.as_deref().unwrap_or(state.target.as_str());
                    // Failures already at the threshold when claimed: this was the probe of
                    // a half-open breaker, and its failure opens it again.
                    let was_half_open = self
                        .breaker
                        .is_some_and(|(threshold, _)| breaker_failures >= threshold);
                    let (from, to) = if state.is_tripped() && was_half_open {
                        (BreakerPhase::HalfOpen, BreakerPhase::Open)
                    } else if state.is_tripped() {
                        (BreakerPhase::Closed, BreakerPhase::Open)
                    } else {
                        (BreakerPhase::HalfOpen, BreakerPhase::Closed)
                    };
                    let change = BreakerChange::new(&state.tenant, url, from, to, state.failures)
                        .with_open_until(state.open_until);
                    self.observer.breaker_changed(&change);
                }
                Outcome::Done(next)
            }
            Err(OutboxError::StaleLease { .. }) => {
                // Every attempt is a row, even a fenced-out one; the job's state is not ours.
                attempt.next_attempt_at = None;
                if let Err(e) = self.store.append_attempt(scope, attempt.clone()).await {
                    self.observer.store_failed(Some(&job.id), &e);
                }
                self.observer.attempt_finished(&attempt);
                settled(&attempt, None);
                self.observer.fenced_out(&lease);
                Outcome::Fenced
            }
            Err(e) => {
                self.observer.store_failed(Some(&job.id), &e);
                Outcome::StoreError
            }
        }
    }

    /// Records the send of an earlier claim whose lease expired: the receiver may have seen
    /// it, nobody knows the answer. The claim counted it against the plan (`step`); this row
    /// makes the attempt log account for it.
    async fn record_unknown(&self, job: &Job) {
        let now = self.clock.now();
        let unknown = Attempt {
            id: AttemptId::generate(now, self.random.next_u64()),
            job_id: job.id.clone(),
            tenant: job.tenant.clone(),
            trigger: Trigger::Scheduled,
            url: None,
            level: None,
            status: AttemptStatus::Unknown,
            status_code: None,
            error: Some("unknown (lease expired)".into()),
            latency_ms: 0,
            event_type: job.event_type.clone(),
            number: job.attempts.saturating_sub(1),
            next_attempt_at: None,
            response_body: String::new(),
            response_truncated: false,
            started_at: job.updated_at,
            ended_at: now,
        };
        let own = Scope::tenant(job.tenant.clone());
        match self.store.append_attempt(&own, unknown.clone()).await {
            Ok(()) => self.observer.attempt_finished(&unknown),
            Err(e) => self.observer.store_failed(Some(&job.id), &e),
        }
    }

    /// Runs `send`, renewing `lease` every third of the lease while it is in flight (when a
    /// timer is set); a renewal refused as stale stops the heartbeat (the finish is then
    /// fenced out), a store failure is reported and the heartbeat goes on.
    async fn with_heartbeat<T>(&self, lease: &Lease, send: impl Future<Output = T>) -> T {
        let Some(timer) = &self.timer else {
            return send.await;
        };
        let mut send = pin!(send);
        let mut lease = lease.clone();
        loop {
            let beat = timer.sleep(self.lease / 3);
            match select(send.as_mut(), beat).await {
                Either::Left((done, _)) => return done,
                Either::Right(((), _)) => {
                    let until = self.clock.now().saturating_add(self.lease);
                    match self.store.renew(&self.scope, &lease, until).await {
                        Ok(renewed) => lease = renewed,
                        Err(OutboxError::StaleLease { .. }) => return send.await,
                        Err(e) => self.observer.store_failed(Some(&lease.job_id), &e),
                    }
                }
            }
        }
    }

    /// What an attempt tells its target's breaker: a timeout, transport error, 5xx, 408 or
    /// 429 counts as a failure; any other answer closes a breaker that counted failures.
    fn breaker_event(&self, sent: &Sent, failures: u32) -> Option<BreakerEvent> {
        let (threshold, cool_down) = self.breaker?;
        let failed = match sent {
            Sent::Refused(_) => return None,
            Sent::TransportError(_) => true,
            Sent::Response { status, .. } => matches!(status, 408 | 429 | 500..=599),
        };
        if failed {
            Some(BreakerEvent::Failed {
                threshold,
                cool_down,
            })
        } else {
            (failures > 0).then_some(BreakerEvent::Closed)
        }
    }

    fn next(
        &self,
        plan: Option<&RetryPlan>,
        job: &Job,
        status: Option<u16>,
        retry_after: Option<Duration>,
        attempt: &Attempt,
        url: String,
    ) -> (Next, Option<TargetEvent>, Option<GiveUp>) {
        let plan = plan.unwrap_or(&self.plan);
        match plan.decide(job.step, status, retry_after, self.random.next_unit()) {
            Decision::Succeeded => (Next::Succeeded, Some(TargetEvent::Delivered { url }), None),
            Decision::Retry { after } => (
                Next::Retry(attempt.ended_at.saturating_add(after)),
                None,
                None,
            ),
            Decision::Gone => (
                Next::Failed,
                Some(TargetEvent::Gone { url }),
                Some(GiveUp::Gone),
            ),
            Decision::Exhausted => (
                Next::Failed,
                self.auto_disable_after
                    .map(|disable_after| TargetEvent::Exhausted { url, disable_after }),
                Some(GiveUp::Exhausted),
            ),
            // Decision is non-exhaustive for users; `Excluded` and anything new stop here.
            _ => (Next::Failed, None, Some(GiveUp::Excluded)),
        }
    }

    /// Resolves, checks, signs and sends one attempt; the attempt record is complete but for
    /// `next_attempt_at`. `disabled`: the tenant's disabled target URLs as the claim reported
    /// them (`None`: ask the store). `Err` only when the store fails.
    async fn send(
        &self,
        job: &Job,
        id: AttemptId,
        trigger: Trigger,
        disabled: Option<&[String]>,
    ) -> std::result::Result<(Attempt, Sent, Option<RetryPlan>), OutboxError> {
        let started = self.clock.now();
        let mut attempt = Attempt {
            id,
            job_id: job.id.clone(),
            tenant: job.tenant.clone(),
            trigger,
            url: None,
            level: None,
            status: AttemptStatus::Refused,
            status_code: None,
            error: None,
            latency_ms: 0,
            event_type: job.event_type.clone(),
            number: job.attempts,
            next_attempt_at: None,
            response_body: String::new(),
            response_truncated: false,
            started_at: started,
            ended_at: started,
        };
        let refuse = |mut attempt: Attempt, e: OutboxError, plan| {
            attempt.error = Some(e.to_string());
            attempt.ended_at = self.clock.now();
            Ok((attempt, Sent::Refused(e), plan))
        };
        let target = match self.resolver.resolve(job).await {
            Ok(t) => t,
            Err(Unresolved(reason)) => {
                let e = OutboxError::NoTarget {
                    job: job.id.clone(),
                    reason,
                };
                return refuse(attempt, e, None);
            }
        };
        let url = target.url.as_str().to_owned();
        attempt.url = Some(url.clone());
        attempt.level = Some(target.level.clone());
        let plan = target.plan.clone();
        let is_disabled = if let Some(urls) = disabled {
            urls.contains(&url)
        } else {
            let own = Scope::tenant(job.tenant.clone());
            let state = self.store.target(&own, &job.tenant, &url).await?;
            state.is_some_and(|s| s.is_disabled())
        };
        if is_disabled {
            return refuse(attempt, OutboxError::TargetDisabled { url }, plan);
        }
        let exchange = self
            .step
            .send(
                &target,
                job.id.as_str(),
                &job.payload,
                timeout_of(&target, self.max_timeout.unwrap_or(MAX_REQUEST_TIMEOUT)),
            )
            .await;
        let (ended, latency) = (exchange.ended_at, exchange.latency);
        let retry_after = exchange.retry_after();
        let (body, cut) = exchange.stored_body_up_to(self.max_response_body);
        let sent = match exchange.result {
            ExchangeResult::Refused(refusal) => {
                let e = match refusal {
                    Refusal::Guard { url, rejection } => {
                        OutboxError::TargetRefused { url, rejection }
                    }
                    Refusal::Unsigned(error) => OutboxError::Unsigned {
                        job: job.id.clone(),
                        error,
                    },
                    Refusal::InvalidUrl { problem } => OutboxError::Invalid {
                        what: "target URL",
                        problem,
                    },
                };
                return refuse(attempt, e, plan);
            }
            ExchangeResult::Response(response) => {
                let status = response.status();
                attempt.status_code = Some(status.as_u16());
                attempt.status = if status.is_success() {
                    AttemptStatus::Succeeded
                } else {
                    AttemptStatus::Failed
                };
                attempt.response_body = body;
                attempt.response_truncated = cut;
                Sent::Response {
                    status: status.as_u16(),
                    retry_after,
                }
            }
            ExchangeResult::Failed(e) => {
                attempt.status = AttemptStatus::Failed;
                attempt.error = Some(e.to_string());
                Sent::TransportError(ErrorClass::of_transport(e.kind()))
            }
        };
        attempt.ended_at = ended;
        attempt.latency_ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
        Ok((attempt, sent, plan))
    }
}

/// A target's own timeout, capped by the dispatcher's longest.
fn timeout_of(target: &Target, max: Duration) -> Duration {
    target.timeout.min(max)
}
